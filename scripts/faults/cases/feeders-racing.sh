# feeders-racing: two feeders at once, bound 5 jobs per stream, topping up every 50 ms while the workers drain the
# queues: the queues never hold more than the bound, and no job is published twice.

setup() {
  TOTAL=$(many_clips)
  FEED_MAX=5 FEED_INTERVAL=0.05
  start audio audio
  start video video
  start fusion fusion
  coordinator submit "$MEDIA/many" --batch "$BATCH" --max-queued 5 >/dev/null
}

fault() {
  local d t0=$SECONDS
  DEEPEST=0
  start feeder-1 feeder
  start feeder-2 feeder
  while (($(finished "$BATCH") < TOTAL)); do
    for d in $(amqp depth er.jobs.audio er.jobs.video); do ((d > DEEPEST)) && DEEPEST=$d; done
    ((SECONDS - t0 < TIMEOUT)) || break
    sleep 0.2
  done
  FAULT="two feeders at once (bound 5, top-ups every 50 ms); deepest queue $DEEPEST"
}

expectations() {
  local once
  wait_batch "$BATCH"
  check "the job queues never held more than 5 ready jobs (deepest $DEEPEST)" test "$DEEPEST" -le 5
  once=$(published_per_job "$BATCH" "$CASE_LOG_PREFIX".feeder-*.log)
  # Every job but the 2 x 5 submit published itself, each once.
  check "every job published exactly once by the two feeders (times x jobs: $once)" test "$once" = "1x$((2 * TOTAL - 10)) "
  check "all $TOTAL clips fused" test "$(done_clips "$BATCH")" -eq "$TOTAL"
  say "feeders-racing: deepest queue $DEEPEST; jobs published by the feeders (times x jobs) $once"
}

teardown() { FEED_MAX=20 FEED_INTERVAL=0.2; }
