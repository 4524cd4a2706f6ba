# The harness of scripts/fault-suite (sourced): the services as supervised processes, assertions, the invariants
# every case ends with, the shared helpers of the cases, the case runner and the report.
#
# A case is a file in scripts/faults/cases/ that defines three functions, which run_case runs in order:
#   setup         start what the case needs (services, helpers, a batch) and bring it to the moment of the fault;
#   fault         do the harm, and measure the recovery (RECOVER, seconds);
#   expectations  wait for the batch and assert what must hold (check, fail, expect);
# and, where it changes something outside the services, teardown (run after the invariants, or when the suite is
# cut short). It sets FAULT (the table's description of the fault) and, when messages must end in er.dead, DEAD (how
# many). Its batch is $BATCH. A setup that cannot run here (it needs root) sets SKIP_REASON and starts nothing: the
# case shows as SKIP in the table, with the reason.
# After expectations, end_case stops every service and checks the invariants: no clip lost, no duplicate row,
# every done clip fused once, every failed clip with a reason, the dead-letter count, no password in any log.
# A file NAME.sh runs as case NAME; a file KIND.sh also runs as KIND-ARG, with CASE_ARG=ARG (kill.sh runs as
# kill-video, kill-audio and kill-fusion).

# ------------------------------------------------------------------ processes

declare -A PID=()      # service name -> pid
declare -A STARTS=()   # service name -> times started in this case
declare -A KILLED=()   # pid -> 1 when the suite killed it on purpose
CASE_LOG_PREFIX="$LOGS/setup"
SEQ=0

alive() {
  local st
  kill -0 "$1" 2>/dev/null || return 1
  st="$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null)" || return 1
  [[ -n "$st" && "$st" != Z && "$st" != X ]]
}

cleanup() {
  local rc=$? name
  trap - EXIT INT TERM
  for name in "${!PID[@]}"; do
    if alive "${PID[$name]}"; then kill -TERM "${PID[$name]}" 2>/dev/null || true; fi
  done
  sleep 0.5
  for name in "${!PID[@]}"; do
    if alive "${PID[$name]}"; then kill -KILL "${PID[$name]}" 2>/dev/null || true; fi
  done
  for name in "${HELPERS[@]}"; do kill -KILL "$name" 2>/dev/null || true; done
  # A case cut short still undoes what it changed outside the services (a namespace, a mounted volume).
  if declare -F teardown >/dev/null; then teardown >/dev/null 2>&1 || true; fi
  if ((KEEP_STACK == 0)); then scripts/stack down >/dev/null 2>&1 || true; fi
  if ((rc == 0 && KEEP_LOGS == 0)); then rm -rf "$LOGS"; fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Workers and Fusion run as an unprivileged user when possible (then a file without read permission is really
# unreadable), with the broker and database URLs in files only that user's group can read.
AS_USER=()
RUN_AS=root
probe_unprivileged() {
  command -v setpriv >/dev/null && id nobody >/dev/null 2>&1 && getent group nogroup >/dev/null || return 1
  local probe=(setpriv --reuid=nobody --regid=nogroup --clear-groups --)
  "${probe[@]}" test -x "$BIN/er-video-worker" -a -r "$ER_MODELS_DIR/fer.onnx" -a -r "$ER_MODELS_DIR/ser.onnx" \
    -a -r "$(find "$CLIPS" -name '*.mp4' | head -n 1)" -a -r "$MEDIA/bad/no-face.mp4" 2>/dev/null || return 1
  AS_USER=("${probe[@]}")
  RUN_AS=nobody
}

# Worker flags a case may change: the shutdown grace (seconds) and extra arguments (protocols, job timeout).
GRACE=20
WORKER_ARGS=(--allow-protocol file)
FEED_MAX=20       # the feeders' bound on each job queue
FEED_INTERVAL=0.2 # seconds between a feeder's top-ups
# Helper servers of a case (stalling media sources), killed when the case or the suite ends.
HELPERS=()

# start NAME KIND [WRAPPER...]: starts a service (audio, video, fusion) in the background; WRAPPER (e.g.
# prlimit --cpu=2) runs it.
start() {
  local name=$1 kind=$2 log cmd
  local wrapper=("${@:3}")
  SEQ=$((SEQ + 1))
  log="$CASE_LOG_PREFIX.$name.$SEQ.log"
  case "$kind" in
    audio | video)
      # Debug level: each published result is logged, so a lost job can be traced to the worker or the broker.
      cmd=("$BIN/er-$kind-worker" run --media-root "$MEDIA" --media-root "$CLIPS" --shutdown-grace "$GRACE" --log-level debug "${WORKER_ARGS[@]}")
      ;;
    fusion) cmd=("$BIN/er-fusion" run --log-level debug) ;;
    feeder) cmd=("$BIN/er-coordinator" feed --max-queued "$FEED_MAX" --interval "$FEED_INTERVAL" --log-level debug) ;;
  esac
  # In a folder outside the media roots (relative sources resolve there).
  (cd "$STATE/cwd" && exec env ER_AMQP_URL_FILE="$SECRETS/amqp-url" ER_DATABASE_URL_FILE="$SECRETS/database-url" \
    "${wrapper[@]}" "${AS_USER[@]}" "${cmd[@]}" </dev/null >"$log" 2>&1) &
  PID[$name]=$!
  STARTS[$name]=$((${STARTS[$name]:-0} + 1))
}

# kill9 NAME: SIGKILL, as an OOM killer or a lost machine would.
kill9() {
  local pid=${PID[$1]}
  KILLED[$pid]=1
  kill -KILL "$pid"
  wait "$pid" 2>/dev/null || true
}

# stop_all: SIGTERM every service; records unexpected deaths and unclean exits as failures.
stop_all() {
  local name pid rc
  for name in "${!PID[@]}"; do
    pid=${PID[$name]}
    if ! alive "$pid"; then
      rc=0
      wait "$pid" 2>/dev/null || rc=$?
      [[ -n "${KILLED[$pid]:-}" ]] || fail "$name (pid $pid) died during the case (exit $rc)"
      continue
    fi
    kill -TERM "$pid" 2>/dev/null || true
  done
  for name in "${!PID[@]}"; do
    pid=${PID[$name]}
    [[ -n "${KILLED[$pid]:-}" ]] && continue
    rc=0
    timeout_wait "$pid" 30 || {
      fail "$name (pid $pid) did not stop within 30 s of SIGTERM"
      kill -KILL "$pid" 2>/dev/null || true
    }
    wait "$pid" 2>/dev/null || rc=$?
    ((rc == 0)) || fail "$name (pid $pid) exited with status $rc after SIGTERM"
    KILLED[$pid]=1
  done
  PID=()
}

timeout_wait() { # pid seconds
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    alive "$1" || return 0
    sleep 0.1
  done
  return 1
}

# ------------------------------------------------------------------ checks

CASE=""
CASE_FAILURES=()
ALL_FAILURES=0
fail() {
  CASE_FAILURES+=("$*")
  say "ASSERTION FAILED [$CASE]: $*"
}
check() { # description command...
  local what=$1
  shift
  "$@" || fail "$what"
}

ADMIN_URL="" # the owner (er): migrations, checks
sql() { psql -X -A -t -q -v ON_ERROR_STOP=1 "$ADMIN_URL" "$@"; }
now() { echo "$EPOCHREALTIME"; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

amqp() { "$VENV/bin/python" "$FAULTS/amqp_tool.py" "$@"; }

batch_id() { sql -c "SELECT id FROM batches WHERE name = '$1'"; }
# finished BATCH: clips done or failed
finished() { sql -c "SELECT count(*) FROM clips c JOIN batches b ON b.id = c.batch_id WHERE b.name = '$1' AND c.status <> 'queued'"; }

# wait_for DESCRIPTION SECONDS COMMAND...: polls every 0.1 s until COMMAND succeeds.
wait_for() {
  local what=$1 limit=$2 t0=$SECONDS
  shift 2
  until "$@"; do
    if ((SECONDS - t0 > limit)); then
      fail "timed out after ${limit}s waiting for $what"
      return 1
    fi
    sleep 0.1
  done
}

finished_at_least() { (($(finished "$1") >= $2)); }
queues_empty() { [[ "$(amqp depth er.jobs.audio er.jobs.video er.results)" == "0 0 0" ]]; }

# wait_batch BATCH: er-coordinator wait, bounded (exit 1 = some clips failed, fine here; 2 = timeout).
wait_batch() {
  local rc=0
  coordinator wait "$1" --timeout "$TIMEOUT" --interval 0.2 >>"$CASE_LOG_PREFIX.wait.log" 2>&1 || rc=$?
  ((rc <= 1)) || fail "batch $1 did not complete within ${TIMEOUT}s (er-coordinator wait exit $rc)"
}

# The Coordinator runs as the writer login, with its URLs from files.
coordinator() {
  env ER_AMQP_URL_FILE="$SECRETS/amqp-url" ER_DATABASE_URL_FILE="$SECRETS/database-url" "$BIN/er-coordinator" "$@"
}

# Figures of a case, in the row of the table.
declare -a TABLE=()
DEAD_BEFORE=0
CASE_T0=0
RECOVER="-"

begin_case() {
  CASE=$1
  CASE_FAILURES=()
  CASE_LOG_PREFIX="$LOGS/$CASE"
  RECOVER="-"
  KILLED=()
  STARTS=()
  DEAD_BEFORE=$(amqp depth er.dead)
  CASE_T0=$(now)
  say "---- case $CASE"
}

# end_case BATCH FAULT EXPECTED_DEAD: stops the services and checks the invariants; adds the table row.
end_case() {
  local batch=$1 fault=$2 want_dead=$3 id figures submitted ndone failed queued fused dup_fused dup_stream
  local done_no_row failed_row failed_no_reason dead redelivered ids jobs status t_end
  wait_for "the job and result queues to drain" 30 queues_empty || true
  t_end=$(now)
  stop_all
  check "queues hold no message after the services stopped" queues_empty
  id=$(batch_id "$batch")
  figures=$(sql -F ' ' -c "
    SELECT count(*),
           count(*) FILTER (WHERE c.status = 'done'),
           count(*) FILTER (WHERE c.status = 'failed'),
           count(*) FILTER (WHERE c.status = 'queued'),
           (SELECT count(*) FROM fused_results f JOIN clips x ON x.id = f.clip_id WHERE x.batch_id = $id),
           (SELECT count(*) - count(DISTINCT f.clip_id) FROM fused_results f JOIN clips x ON x.id = f.clip_id WHERE x.batch_id = $id),
           (SELECT count(*) - count(DISTINCT (s.clip_id, s.stream)) FROM stream_results s JOIN clips x ON x.id = s.clip_id WHERE x.batch_id = $id)
           + (SELECT count(*) - count(DISTINCT (s.clip_id, s.segment_index, s.stream)) FROM segment_results s JOIN clips x ON x.id = s.clip_id WHERE x.batch_id = $id)
           + (SELECT count(*) - count(DISTINCT (s.clip_id, s.segment_index)) FROM segment_fused s JOIN clips x ON x.id = s.clip_id WHERE x.batch_id = $id),
           count(*) FILTER (WHERE c.status = 'done' AND NOT EXISTS (SELECT 1 FROM fused_results f WHERE f.clip_id = c.id)),
           count(*) FILTER (WHERE c.status = 'failed' AND EXISTS (SELECT 1 FROM fused_results f WHERE f.clip_id = c.id)),
           count(*) FILTER (WHERE c.status = 'failed' AND coalesce(c.error, '') = '')
    FROM clips c WHERE c.batch_id = $id")
  read -r submitted ndone failed queued fused dup_fused dup_stream done_no_row failed_row failed_no_reason <<<"$figures"
  dead=$(($(amqp depth er.dead) - DEAD_BEFORE))
  # Result deliveries Fusion stored beyond one per clip and stream (redeliveries and duplicates it absorbed).
  ids=$(sql -c "SELECT id FROM clips WHERE batch_id = $id")
  # Jobs published: none for a clip that failed its probe at submission.
  jobs=$(sql -c "SELECT coalesce(sum(greatest(segment_count, 1)), 0) FROM clips c WHERE batch_id = $id
    AND (EXISTS (SELECT 1 FROM stream_results s WHERE s.clip_id = c.id) OR EXISTS (SELECT 1 FROM segment_results s WHERE s.clip_id = c.id))")
  redelivered=$(cat "$CASE_LOG_PREFIX".fusion*.log 2>/dev/null | grep 'stored result' | grep -o 'clip_id=[0-9]*' | cut -d= -f2 |
    awk -v ids="$ids" 'BEGIN { n = split(ids, a, "\n"); for (i = 1; i <= n; i++) want[a[i]] = 1 } ($1 in want) { c++ } END { print c + 0 }')
  redelivered=$((redelivered - 2 * jobs))
  check "no clip lost ($queued still queued)" test "$queued" -eq 0
  check "no duplicate fused rows ($dup_fused)" test "$dup_fused" -eq 0
  check "no duplicate stream rows ($dup_stream)" test "$dup_stream" -eq 0
  check "every done clip has its fused row ($done_no_row without)" test "$done_no_row" -eq 0
  check "no failed clip has a fused row ($failed_row with)" test "$failed_row" -eq 0
  check "every failed clip has a reason ($failed_no_reason without)" test "$failed_no_reason" -eq 0
  check "fused rows ($fused) = done clips ($ndone)" test "$fused" -eq "$ndone"
  check "dead-lettered $dead message(s), expected $want_dead" test "$dead" -eq "$want_dead"
  check_secrets
  say "$CASE: peak RSS (MB) $(grep -ho 'er-[a-z-]*: peak_rss_mb=[0-9.]*' "$CASE_LOG_PREFIX".*.log 2>/dev/null |
    sed 's/: peak_rss_mb=/ /' | sort -k1,1 -k2,2nr | awk '!seen[$1]++ { printf "%s %s  ", $1, $2 }')"
  status=PASS
  ((${#CASE_FAILURES[@]} == 0)) || status=FAIL
  ((${#CASE_FAILURES[@]} == 0)) || ALL_FAILURES=$((ALL_FAILURES + 1))
  TABLE+=("$CASE|$fault|$submitted|$fused|$failed|$((submitted - ndone - failed))|$((dup_fused + dup_stream))|$dead|$redelivered|$RECOVER|$(elapsed "$CASE_T0" "$t_end")|$status")
  say "$CASE: $submitted clips, $fused fused, $failed failed, $((submitted - ndone - failed)) lost, $((dup_fused + dup_stream)) duplicates," \
    "$dead dead-lettered, $redelivered redelivered, recovery ${RECOVER}s: $status"
}

# No password may appear in any log.
check_secrets() {
  local s
  for s in "$ER_AMQP_PASSWORD" "$ER_DB_PASSWORD" "$SVC_PASSWORD" "$READER_PASSWORD"; do
    if grep -rqF -- "$s" "$LOGS"; then fail "a password appears in the logs: $(grep -rlF -- "$s" "$LOGS" | head -n 3 | tr '\n' ' ')"; fi
  done
}

# first_result_from BATCH PID [SINCE]: epoch of the first stream (or window) result from worker PID stored for BATCH
# (at or after the epoch SINCE); empty when there is none.
first_result_from() {
  sql -c "SELECT extract(epoch FROM min(s.received_at)) FROM (SELECT clip_id, worker, received_at FROM stream_results
          UNION ALL SELECT clip_id, worker, received_at FROM segment_results) s JOIN clips c ON c.id = s.clip_id
          JOIN batches b ON b.id = c.batch_id WHERE b.name = '$1' AND s.worker LIKE '%:$2'
          AND s.received_at >= to_timestamp(${3:-0})"
}
has_result_from() { [[ -n "$(first_result_from "$@")" ]]; }

# no_log_line LINE FILE...: true when no file holds LINE.
no_log_line() { local line=$1; shift; ! grep -qF "$line" "$@"; }

# recover_after T_FAULT BATCH BASELINE: waits for the batch's finished count to exceed BASELINE; sets RECOVER.
recover_after() {
  local t_fault=$1 batch=$2 base=$3 t0=$SECONDS
  until (($(finished "$batch") > base)); do
    if ((SECONDS - t0 > TIMEOUT)); then
      fail "no progress within ${TIMEOUT}s after the fault"
      return
    fi
    sleep 0.1
  done
  RECOVER=$(elapsed "$t_fault" "$(now)")
}

# ------------------------------------------------------------------ shared helpers of the cases

real_clips() { find "$CLIPS" -name '*.mp4' | wc -l; }
# many_clips: the clips of $MEDIA/many (the short clip and its 300 links).
many_clips() { find "$MEDIA/many" -name '*.mp4' | wc -l; }
# done_clips BATCH: clips of the batch that ended done.
done_clips() { sql -c "SELECT count(*) FROM clips c JOIN batches b ON b.id = c.batch_id WHERE b.name = '$1' AND c.status = 'done'"; }

# published_per_job BATCH LOG...: from the feeders' debug lines, how many of the batch's (clip, stream) jobs were
# published once, twice...: "1x526 2x6 3x17" (times x jobs), by times.
published_per_job() {
  local batch=$1 ids
  shift
  ids=$(sql -c "SELECT c.id FROM clips c JOIN batches b ON b.id = c.batch_id WHERE b.name = '$batch'")
  cat "$@" 2>/dev/null | grep ' published$' | sed -n 's/.*clip=\([0-9]*\).*stream=\([a-z]*\).*/\1 \2/p' |
    awk -v ids="$ids" 'BEGIN { n = split(ids, a, "\n"); for (i = 1; i <= n; i++) want[a[i]] = 1 } ($1 in want) { c[$1 " " $2]++ }
      END { for (k in c) t[c[k]]++; for (k = 1; k <= 100; k++) if (k in t) printf "%sx%s ", k, t[k] }'
}

# expect BATCH FILE STATUS CODE_PATTERN: the clip whose source ends with FILE has STATUS and, when failed, an
# error matching CODE_PATTERN (for done: the basis).
expect() {
  local batch=$1 file=$2 want=$3 pattern=$4 row
  row=$(sql -F '|' -v b="$batch" -v f="$file" <<<"SELECT status, coalesce(fused_basis, ''), coalesce(error, '')
    FROM clip_emotions WHERE batch = :'b' AND right(path, length(:'f') + 1) = '/' || :'f';")
  local shown=${file//$'\n'/\\n}
  printf '  %-34s %s\n' "${shown//$'\t'/\\t}" "${row:-<no row>}" >>"$STATE/bad-media-outcomes.txt"
  [[ "${row%%|*}" =~ ^($want)$ && "$row" =~ $pattern ]] || fail "$file: expected $want ~ /$pattern/, got '${row:-no row}'"
}

# result_json CLIP BATCH STREAM KIND: a result message on stdout. KIND: ok (happy), absent (no face), commas (ok,
# model labels with commas, quotes and braces), inconsistent (ok, 8 labels for 7 logits, as a broken worker's).
result_json() {
  python3 - "$@" <<'PY'
import json, sys, uuid
clip, batch, stream, kind = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
labels = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
message = {"schema": 1, "job_id": str(uuid.uuid4()), "clip_id": clip, "batch_id": batch, "source": "/forged/%d.mp4" % clip,
           "stream": stream, "attempt": 1, "outcome": "ok", "timings": {}, "worker": "forged:%s" % stream,
           "model": {"name": "forged", "sha256": "0", "fusion_weight": 0.5}}
if kind == "absent":
    message.update(outcome="absent", error={"code": "no_face", "reason": "no face found in 9 sampled frames"})
else:
    message.update(labels=labels, logits=[0, 0, 0, 4, 0, 0, 0], probabilities=[0.02, 0.02, 0.02, 0.88, 0.02, 0.02, 0.02])
    if kind == "commas":
        message["labels"] = ["angry, loud", "disgust", 'fear "real"', "happy", "sad", "surprise", "neutral {calm}"]
    if kind == "inconsistent":
        message["labels"] = labels + ["extra, label"]
print(json.dumps(message))
PY
}

# new_clip BATCH_ID SOURCE: registers a clip straight in the database (no jobs); prints its id.
new_clip() { sql -v b="$1" -v s="$2" <<<"INSERT INTO clips (batch_id, source) VALUES (:b, :'s') RETURNING id;"; }

# start_proxy NAME LISTEN_PORT TARGET_PORT LATENCY_MS [LISTEN_HOST]: starts the TCP fault proxy (fault_proxy.py) as a
# helper of the case; PROXY holds its pid, PROXY_LOG its log (each fault it made, with the connections it hit).
start_proxy() {
  PROXY_LOG="$CASE_LOG_PREFIX.$1.log"
  "$VENV/bin/python" "$FAULTS/fault_proxy.py" "${@:2}" >"$PROXY_LOG" 2>&1 &
  PROXY=$!
  HELPERS+=("$PROXY")
  wait_for "the fault proxy" 10 grep -q ready "$PROXY_LOG"
}
# proxy_cuts: "CONNECTIONS CUTS": the connections the proxy cut so far, in how many cuts.
proxy_cuts() { awk '$1 == "cut" { s += $2; n++ } END { print s + 0, n + 0 }' "$PROXY_LOG"; }

# url_file_via NAME PORT PROXY_PORT [HOST]: a copy of the secret URL file NAME in which 127.0.0.1:PORT becomes
# HOST:PROXY_PORT (HOST defaults to 127.0.0.1); prints its path.
url_file_via() {
  local from="$SECRETS/$1" to="$SECRETS/$1-via-$3"
  sed "s/127.0.0.1:$2/${4:-127.0.0.1}:$3/" "$from" >"$to"
  chmod --reference="$from" "$to"
  chown --reference="$from" "$to"
  echo "$to"
}

# feed_many: the batch of the 301 short clips: submit publishes 5 jobs per stream, a feeder the rest; returns after
# 20 clips are finished. TOTAL holds the number of clips.
feed_many() {
  TOTAL=$(many_clips)
  coordinator submit "$MEDIA/many" --batch "$BATCH" --max-queued 5 >/dev/null
  start feeder feeder
  wait_for "20 finished clips" 60 finished_at_least "$BATCH" 20
}

# cut_and_stall CUTS: the fault proxy cuts every connection through it CUTS times, 3 s apart, then holds all its
# traffic for 8 s (a short partition: nothing is closed, bytes wait); sets RECOVER.
cut_and_stall() {
  local t_fault base i
  t_fault=$(now)
  for ((i = 0; i < $1; i++)); do
    kill -USR1 "$PROXY"
    sleep 3
  done
  kill -USR2 "$PROXY"
  sleep 8
  kill -USR2 "$PROXY"
  base=$(finished "$BATCH")
  recover_after "$t_fault" "$BATCH" "$base"
}

# wait_through SECONDS: er-coordinator wait on the batch in the background, across the fault to come;
# waited_through checks that it ended without a timeout.
wait_through() {
  coordinator wait "$BATCH" --timeout "$1" --interval 0.2 >"$CASE_LOG_PREFIX.wait-through.log" 2>&1 &
  WAITER=$!
}
waited_through() {
  local rc=0
  wait "$WAITER" || rc=$?
  ((rc <= 1)) || fail "er-coordinator wait across the fault exited $rc"
}

# ------------------------------------------------------------------ running a case

# run_case NAME: sources the case's file, runs setup, fault and expectations, checks the invariants (end_case), runs
# teardown and stops the case's helpers.
run_case() {
  local name=$1 file="$FAULTS/cases/$1.sh" pid
  CASE_ARG=""
  if [[ ! -f "$file" ]]; then
    CASE_ARG=${name##*-}
    file="$FAULTS/cases/${name%-*}.sh"
  fi
  unset -f setup fault expectations teardown
  # shellcheck source=/dev/null
  source "$file"
  BATCH="$RUN-$name" FAULT="" DEAD=0 SKIP_REASON=""
  begin_case "$name"
  setup
  if [[ -n "$SKIP_REASON" ]]; then
    say "$name: SKIPPED: $SKIP_REASON"
    TABLE+=("$name|skipped: $SKIP_REASON|-|-|-|-|-|-|-|-|-|SKIP")
    unset -f teardown
    return
  fi
  fault
  expectations
  end_case "$BATCH" "$FAULT" "$DEAD"
  if declare -F teardown >/dev/null; then teardown; fi
  unset -f teardown
  for pid in "${HELPERS[@]}"; do
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  HELPERS=()
}

# ------------------------------------------------------------------ report

# report: the table of every case's figures; exits 1 when a case failed.
report() {
  echo
  echo "Fault suite $RUN: services as $RUN_AS, $(nproc) cores, $(elapsed "$SUITE_T0" "$(now)") s for the cases"
  {
    echo "case|fault|clips|fused rows|failed rows|lost|duplicates|dead-lettered|redelivered|recover (s)|case time (s)|result"
    printf '%s\n' "${TABLE[@]}"
  } | awk -F'|' '
    { for (i = 1; i <= NF; i++) { cell[NR, i] = $i; if (length($i) > w[i]) w[i] = length($i) } ; n = NF; rows = NR }
    END {
      for (r = 1; r <= rows; r++) {
        line = ""
        for (i = 1; i <= n; i++) line = line sprintf("%-" w[i] "s", cell[r, i]) (i < n ? "  " : "")
        print line
        if (r == 1) { line = ""; for (i = 1; i <= n; i++) line = line sprintf("%s", substr("--------------------------------------------------------------------------------------------------------------------------------------------", 1, w[i])) (i < n ? "  " : ""); print line }
      }
    }'
  echo "lost = clips submitted - (done + failed); duplicates = fused rows beyond one per clip + stream rows beyond one per"
  echo "(clip, stream) (both are primary keys, so always 0); redelivered = result deliveries Fusion stored beyond two per clip;"
  echo "recover = seconds from the fault to the first result from the restarted worker (kills of workers) or to the"
  echo "batch's next finished clip once the component is back (Fusion, RabbitMQ, PostgreSQL)."
  if ((ALL_FAILURES > 0)); then
    say "$ALL_FAILURES case(s) failed; logs kept in $LOGS"
    exit 1
  fi
  say "all cases passed"
}
