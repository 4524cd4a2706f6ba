# duplicates: every job delivered twice, then every result delivered twice, to two Fusion processes at once
# (8 results per clip): each clip must be fused once.

setup() {
  N=$(real_clips)
  coordinator submit "$CLIPS" --batch "$BATCH" >/dev/null
}

fault() {
  local jobs results
  jobs=$(($(amqp duplicate er.jobs.audio 2) + $(amqp duplicate er.jobs.video 2)))
  check "jobs duplicated ($jobs of $((2 * N)))" test "$jobs" -eq $((2 * N))
  start audio audio
  start video video
  wait_for "all $((4 * N)) results of the duplicated jobs" "$TIMEOUT" results_at_least $((4 * N))
  results=$(amqp duplicate er.results 2)
  check "results duplicated ($results of $((4 * N)))" test "$results" -eq $((4 * N))
  start fusion fusion
  start fusion2 fusion
  FAULT="each job twice, each result twice (8 results per clip), 2 Fusions"
}

expectations() {
  wait_batch "$BATCH"
  check "all clips fused" test "$(done_clips "$BATCH")" -eq "$N"
}

results_at_least() { (($(amqp depth er.results) >= $1)) && [[ "$(amqp depth er.jobs.audio er.jobs.video)" == "0 0" ]]; }
