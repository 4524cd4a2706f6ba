# feeder-killed: the feeder killed (SIGKILL) five times just after it started a large top-up (its bound far above
# what submit published), restarted each time, then left to finish the batch: what a killed feeder had published
# but not committed is published again, so every clip is fused exactly once and none is lost.

setup() {
  TOTAL=$(many_clips)
  FEED_MAX=150
  start audio audio
  start video video
  start fusion fusion
  coordinator submit "$MEDIA/many" --batch "$BATCH" --max-queued 5 >/dev/null
}

fault() {
  local i log
  MID=0
  for i in 1 2 3 4 5; do
    start feeder feeder
    log="$CASE_LOG_PREFIX.feeder.$SEQ.log"
    sleep 0.3
    kill9 feeder
    # Killed mid top-up: its log ends with publishes that no "topped up" line (written after the commit) follows.
    if tail -n 1 "$log" | grep -q ' published$'; then MID=$((MID + 1)); fi
  done
  start feeder feeder
  FAULT="feeder killed (SIGKILL) 5 times mid top-up ($MID of 5 with publishes not committed), restarted"
}

expectations() {
  wait_batch "$BATCH"
  check "at least one kill landed mid top-up ($MID of 5)" test "$MID" -ge 1
  check "all $TOTAL clips fused" test "$(done_clips "$BATCH")" -eq "$TOTAL"
  say "feeder-killed: $MID of 5 kills mid top-up; jobs published by the feeders (times x jobs) $(published_per_job "$BATCH" "$CASE_LOG_PREFIX".feeder.*.log)"
}

teardown() { FEED_MAX=20; }
