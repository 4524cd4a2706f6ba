# bad-media: zero bytes, random bytes, truncated, audio or video only, no face, an 8K frame, 10 minutes, a missing
# and an unreadable file, and names with spaces, quotes, unicode and shell metacharacters, beside a real clip: each
# bad file ends failed with the right reason (or done from what it has), the batch goes on.

setup() {
  printf '%s\n' "$MEDIA/bad/does-not-exist.mp4" >"$MEDIA/missing.txt"
  start audio audio
  start video video
  start fusion fusion
}

fault() {
  coordinator submit "$MEDIA/bad" "$MEDIA/names" "$MEDIA/missing.txt" "$(find "$CLIPS" -name '*.mp4' | sort | head -n 1)" \
    --batch "$BATCH" >/dev/null
  FAULT="bad media (zero bytes, random, truncated, audio/video only, no face, 8K, 10 min, missing, unreadable, odd names)"
}

expectations() {
  local f
  wait_batch "$BATCH"
  : >"$STATE/bad-media-outcomes.txt"
  expect "$BATCH" zero-bytes.mp4 failed 'not_media_file|truncated|unreadable'
  expect "$BATCH" random-bytes.mp4 failed 'not_media_file'
  expect "$BATCH" truncated.mp4 '(done|failed)' '.'
  expect "$BATCH" audio-only.mp4 "done" 'audio_only'
  expect "$BATCH" video-only.mp4 "done" 'video_only'
  expect "$BATCH" no-face.mp4 "done" 'audio_only'
  expect "$BATCH" frame-8k-7680x4320.mp4 '(done|failed)' '.'
  expect "$BATCH" long-10-minutes.mp4 '(done|failed)' '.'
  expect "$BATCH" does-not-exist.mp4 failed 'missing_file'
  if [[ $RUN_AS == root ]]; then
    say "unreadable.mp4: skipped (the workers run as root, who can read a file without read permission)"
    echo "  unreadable.mp4                     skipped: workers run as root" >>"$STATE/bad-media-outcomes.txt"
  else
    expect "$BATCH" unreadable.mp4 failed 'unreadable'
  fi
  while IFS= read -r -d '' f; do
    expect "$BATCH" "$(basename "$f")" "done" 'both'
  done < <(find "$MEDIA/names" -type f -print0)
  check "no file created by a shell metacharacter" test -z "$(find "$ROOT" "$MEDIA" /tmp -maxdepth 2 -name PWNED 2>/dev/null)"
  sed 's/^/  /' "$STATE/bad-media-outcomes.txt" | head -n 40
}
