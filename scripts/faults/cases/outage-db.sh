# outage-db: PostgreSQL away for FAULTS_DB_OUTAGE seconds (70) mid-batch: stopped with pg_ctl, started again with
# scripts/stack up. Longer than two heartbeat intervals (30 s): Fusion must keep its broker connection through it,
# holding results unacknowledged until the database is back.

setup() {
  OUTAGE=${FAULTS_DB_OUTAGE:-70}
  start audio audio
  start video video
  start fusion fusion
  coordinator submit "$CLIPS" --batch "$BATCH" >/dev/null
  wait_through "$((TIMEOUT + OUTAGE))"
  wait_for "3 finished clips" 60 finished_at_least "$BATCH" 3
}

fault() {
  local t_fault base pg_bin
  pg_bin=$(ls -d /usr/lib/postgresql/*/bin | tail -n 1)
  t_fault=$(now)
  (cd / && runuser -u postgres -- "$pg_bin/pg_ctl" stop -D "$STATE/pg/data" -m fast -w -s) || fail "pg_ctl stop failed"
  sleep "$OUTAGE"
  scripts/stack up >/dev/null || fail "scripts/stack up failed"
  base=$(finished "$BATCH")
  recover_after "$t_fault" "$BATCH" "$base"
  FAULT="PostgreSQL down for ${OUTAGE}s mid-batch"
}

expectations() {
  waited_through
  wait_batch "$BATCH"
  check "all clips fused" test "$(done_clips "$BATCH")" -eq "$(real_clips)"
  check "Fusion kept its broker connection through the ${OUTAGE}s outage" no_log_line "broker connection lost" \
    "$CASE_LOG_PREFIX".fusion.*.log
}
