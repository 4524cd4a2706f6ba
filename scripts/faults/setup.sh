# Set-up of scripts/fault-suite, sourced once before the cases: the suite's own RabbitMQ and PostgreSQL (scripts/stack
# with the FAULTS_* ports), the release executables, a Python venv with pika for the helpers, the database roles and
# the URL files the services read, and the test media (made once, kept in the state folder).

say "run $RUN: clips from $CLIPS, state in $STATE"
scripts/bootstrap >/dev/null
scripts/stack up
eval "$(scripts/stack env)"
ADMIN_URL="$ER_DATABASE_URL"
ADMIN_AMQP="$ER_AMQP_URL"
unset ER_DATABASE_URL ER_AMQP_URL

if [[ -z "$BIN" ]]; then
  say "building release executables (.build-faults)"
  if ! swift build -c release --scratch-path .build-faults >"$LOGS/build.log" 2>&1; then
    tail -n 40 "$LOGS/build.log" >&2
    die "the release build failed"
  fi
  tail -n 1 "$LOGS/build.log"
  BIN="$ROOT/.build-faults/release"
fi
for exe in er-coordinator er-audio-worker er-video-worker er-fusion; do
  [[ -x "$BIN/$exe" ]] || die "$BIN/$exe is missing"
done

# pika in a venv of its own (python3-venv on Debian), to publish duplicates and hostile messages.
apt_install() {
  ((EUID == 0)) || die "missing $*: install it (apt-get install $*)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1 ||
    { apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null; }
}
if ! "$VENV/bin/python" -c 'import pika' 2>/dev/null; then
  say "making a Python venv with pika in $VENV"
  command -v python3 >/dev/null || apt_install python3 python3-venv
  rm -rf "$VENV"
  if ! python3 -m venv "$VENV" >/dev/null 2>&1; then
    rm -rf "$VENV"
    apt_install python3-venv
    python3 -m venv "$VENV"
  fi
  "$VENV/bin/pip" install -q --disable-pip-version-check 'pika>=1.3,<2'
fi

export FAULTS_AMQP_URL="$ADMIN_AMQP"

# Secrets: the services read their URLs from files (ER_AMQP_URL_FILE, ER_DATABASE_URL_FILE) that the service
# user's group may read; the database login is one that only inherits er_writer.
make_secrets() {
  mkdir -p "$SECRETS"
  chmod 750 "$SECRETS"
  echo "$ADMIN_AMQP" >"$SECRETS/amqp-url"
  echo "postgresql://er_faults_svc:$SVC_PASSWORD@127.0.0.1:$ER_PG_PORT/emotions" >"$SECRETS/database-url"
  chmod 640 "$SECRETS"/*
  if getent group nogroup >/dev/null; then chgrp -R nogroup "$SECRETS"; fi
}

# The owner applies the migrations (roles er_writer and er_reader included); then a service login and a reader
# login inherit them.
"$BIN/er-coordinator" status --database-url "$ADMIN_URL" >/dev/null
sql -v svc="$SVC_PASSWORD" -v rd="$READER_PASSWORD" <<'SQL'
SELECT NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'er_faults_svc') AS need_svc \gset
\if :need_svc
CREATE ROLE er_faults_svc LOGIN IN ROLE er_writer;
\endif
ALTER ROLE er_faults_svc PASSWORD :'svc';
SELECT NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'er_faults_reader') AS need_rd \gset
\if :need_rd
CREATE ROLE er_faults_reader LOGIN IN ROLE er_reader;
\endif
ALTER ROLE er_faults_reader PASSWORD :'rd';
SQL
make_secrets

# ------------------------------------------------------------------ media

# Bad media, made once (kept in the state dir). Real clips are copied where a case needs names or folders of
# its own.
make_media() {
  local real f
  real="$(find "$CLIPS" -name '*.mp4' | sort | head -n 1)"
  [[ -s "$MEDIA/.complete" ]] && return 0
  say "making test media in $MEDIA (about 10 s)"
  rm -rf "$MEDIA"
  mkdir -p "$MEDIA/bad" "$MEDIA/names" "$MEDIA/audio-heavy" "$MEDIA/hostile"
  local ff=(ffmpeg -nostdin -v error -y)
  : >"$MEDIA/bad/zero-bytes.mp4"
  head -c 300000 /dev/urandom >"$MEDIA/bad/random-bytes.mp4"
  head -c "$(($(stat -c %s "$real") * 2 / 5))" "$real" >"$MEDIA/bad/truncated.mp4"
  "${ff[@]}" -i "$real" -vn -c:a copy "$MEDIA/bad/audio-only.mp4"
  "${ff[@]}" -i "$real" -an -c:v copy "$MEDIA/bad/video-only.mp4"
  # No face, but the real clip's speech (a tone would be no_speech, and the clip would have no answer at all).
  "${ff[@]}" -f lavfi -i testsrc2=size=640x360:rate=25:duration=3 -i "$real" -map 0:v -map 1:a \
    -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac -shortest "$MEDIA/bad/no-face.mp4"
  "${ff[@]}" -f lavfi -i testsrc2=size=7680x4320:rate=5:duration=1 -f lavfi -i sine=frequency=300:sample_rate=16000:duration=1 \
    -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac -shortest "$MEDIA/bad/frame-8k-7680x4320.mp4"
  "${ff[@]}" -f lavfi -i color=c=gray:size=160x120:rate=5:duration=600 -f lavfi -i sine=frequency=220:sample_rate=16000:duration=600 \
    -c:v libx264 -preset ultrafast -c:a aac -b:a 24k -shortest "$MEDIA/bad/long-10-minutes.mp4"
  cp "$real" "$MEDIA/bad/unreadable.mp4"
  chmod 000 "$MEDIA/bad/unreadable.mp4"
  # Names with spaces, quotes, unicode and shell metacharacters (a real clip each).
  for f in "with spaces.mp4" "it's a \"quoted\" name.mp4" "émotion 日本語 😀.mp4" '$(touch PWNED) `touch PWNED`; rm -rf x | & > <.mp4' \
    "-leading-dash.mp4" "glob *?[a].mp4" "back\\slash %s %n.mp4" $'tab\tand\nnewline.mp4'; do
    cp "$real" "$MEDIA/names/$f"
  done
  # Long audio tracks and no video: 2 x 120 windows keep the audio worker busy for seconds.
  # (The real clip's speech, looped: a tone would be no_speech in every window, and the clip would fail.)
  "${ff[@]}" -stream_loop -1 -i "$real" -vn -t 600 -c:a aac -b:a 24k "$MEDIA/audio-heavy/000-long-audio-1.mp4"
  cp "$MEDIA/audio-heavy/000-long-audio-1.mp4" "$MEDIA/audio-heavy/000-long-audio-2.mp4"
  find "$CLIPS" -name '*.mp4' -exec cp {} "$MEDIA/audio-heavy/" \;
  # 55 s (one job: under the 60 s split threshold) of textured 720p at 25 fps: about 5 s of one core.
  mkdir -p "$MEDIA/poison"
  "${ff[@]}" -f lavfi -i testsrc2=size=1280x720:rate=25:duration=55 -f lavfi -i sine=frequency=220:sample_rate=16000:duration=55 \
    -c:v libx264 -preset ultrafast -crf 38 -pix_fmt yuv420p -c:a aac -b:a 24k -shortest "$MEDIA/poison/slow-textured-55s.mp4"
  # Inside a media root, pointing outside it.
  ln -s /etc/passwd "$MEDIA/hostile/symlink-to-etc-passwd.mp4"
  chmod -R a+rX "$MEDIA"
  chmod 000 "$MEDIA/bad/unreadable.mp4"
  date >"$MEDIA/.complete"
}
make_media
# 300 short clips (links to one second of a real clip, face and speech), for the feeder cases: a batch that
# outgrows the queues' bound yet takes the workers only seconds.
if [[ ! -s "$MEDIA/many/.complete" ]]; then
  mkdir -p "$MEDIA/many"
  ffmpeg -nostdin -v error -y -ss 1 -t 1 -i "$(find "$CLIPS" -name '01-*.mp4' | sort | head -n 1)" -c:v libx264 -preset ultrafast \
    -pix_fmt yuv420p -c:a aac "$MEDIA/many/one-second.mp4"
  for i in $(seq -w 1 300); do ln -sf one-second.mp4 "$MEDIA/many/clip-$i.mp4"; done
  chmod -R a+rX "$MEDIA/many"
  date >"$MEDIA/many/.complete"
fi
# A real clip outside the media roots, reachable from the services' working folder by a relative name, and a
# folder inside a root whose name has a '#' (a URL fragment to Foundation, a plain character to FFmpeg).
cp "$(find "$CLIPS" -name '*.mp4' | sort | head -n 1)" "$STATE/cwd/%zz/outside-the-roots.mp4"
cp "$STATE/cwd/%zz/outside-the-roots.mp4" "$STATE/cwd/outside-the-roots.mp4"
chmod -R a+rX "$STATE/cwd"
mkdir -p "$MEDIA/hostile/Take #1"

probe_unprivileged || say "note: services run as root (setpriv/nobody unavailable or cannot read the build); the unreadable-file sub-case is skipped"
say "services run as user $RUN_AS"

amqp purge er.jobs.audio er.jobs.video er.results er.dead

