# restart-amqp, restart-db: RabbitMQ or PostgreSQL (CASE_ARG) stopped and started again mid-batch with
# scripts/stack restart-amqp / restart-db, while the Coordinator's wait runs through the fault.

setup() {
  start audio audio
  start video video
  start fusion fusion
  coordinator submit "$CLIPS" --batch "$BATCH" >/dev/null
  wait_through "$TIMEOUT"
  wait_for "3 finished clips" 60 finished_at_least "$BATCH" 3
}

fault() {
  local t_fault base out name=RabbitMQ
  [[ $CASE_ARG == db ]] && name=PostgreSQL
  t_fault=$(now)
  out=$(scripts/stack "restart-$CASE_ARG" 2>&1) || fail "scripts/stack restart-$CASE_ARG failed: $out"
  say "restart-$CASE_ARG: stopped and started in $(elapsed "$t_fault" "$(now)") s"
  base=$(finished "$BATCH")
  recover_after "$t_fault" "$BATCH" "$base"
  FAULT="$name stopped and restarted mid-batch"
}

expectations() {
  waited_through
  wait_batch "$BATCH"
  check "all clips fused" test "$(done_clips "$BATCH")" -eq "$(real_clips)"
}
