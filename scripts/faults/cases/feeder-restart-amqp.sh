# feeder-restart-amqp: RabbitMQ stopped and restarted while the feeder tops the queues up: the feeder connects again
# and goes on; every clip is fused once.

setup() {
  start audio audio
  start video video
  start fusion fusion
  feed_many
}

fault() {
  local t_fault base out
  t_fault=$(now)
  out=$(scripts/stack restart-amqp 2>&1) || fail "scripts/stack restart-amqp failed: $out"
  base=$(finished "$BATCH")
  recover_after "$t_fault" "$BATCH" "$base"
  FAULT="RabbitMQ restarted while the feeder fed (bound $FEED_MAX)"
}

expectations() {
  wait_batch "$BATCH"
  check "all $TOTAL clips fused" test "$(done_clips "$BATCH")" -eq "$TOTAL"
  check "the feeder connected again" grep -q 'top-up failed; connecting again' "$CASE_LOG_PREFIX".feeder.*.log
}
