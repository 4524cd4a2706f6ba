# stalled-source: media URLs whose server accepts the connection and then sends nothing (silent.mp4), or sends the
# header and part of a real clip and then holds the connection (stall.mp4). Submit must return, the clips must fail
# with `timeout` within the job deadline, and the batch must complete. Then SIGTERM while the workers hold such a
# job: they must exit within the grace + 5 s with the jobs back in the queue, and restarted workers end them.

JOB_TIMEOUT=8 PROBE_TIMEOUT=3 SHORT_GRACE=3

setup() {
  local silent_port=$((ER_AMQP_PORT + 101)) stall_port=$((ER_AMQP_PORT + 102))
  REAL="$(find "$CLIPS" -name '*.mp4' | sort | head -n 1)"
  python3 "$FAULTS/stall_server.py" "$silent_port" >"$CASE_LOG_PREFIX.silent-server.log" 2>&1 &
  HELPERS+=($!)
  python3 "$FAULTS/stall_server.py" "$stall_port" "$REAL" 0.4 >"$CASE_LOG_PREFIX.stall-server.log" 2>&1 &
  HELPERS+=($!)
  wait_for "the silent server" 10 grep -q ready "$CASE_LOG_PREFIX.silent-server.log" || true
  wait_for "the stalling server" 10 grep -q ready "$CASE_LOG_PREFIX.stall-server.log" || true
  SILENT_URL="http://127.0.0.1:$silent_port" STALL_URL="http://127.0.0.1:$stall_port"
  WORKER_ARGS=(--allow-protocol file --allow-protocol http --job-timeout "$JOB_TIMEOUT")
  start audio audio
  start video video
  start fusion fusion
}

fault() {
  local t0 name pid rc
  printf '%s\n' "$SILENT_URL/silent.mp4" "$STALL_URL/stall.mp4" "$REAL" >"$STATE/stalled.txt"
  t0=$(now)
  coordinator submit "$STATE/stalled.txt" --batch "$BATCH" --probe-timeout "$PROBE_TIMEOUT" >"$CASE_LOG_PREFIX.submit.log" 2>&1 ||
    fail "submit failed: $(tail -n 3 "$CASE_LOG_PREFIX.submit.log")"
  SUBMIT_TOOK=$(elapsed "$t0" "$(now)")
  say "stalled-source: submit returned in $SUBMIT_TOOK s (probe timeout $PROBE_TIMEOUT s)"
  wait_batch "$BATCH"
  : >"$STATE/bad-media-outcomes.txt"
  expect "$BATCH" silent.mp4 failed 'timeout'
  expect "$BATCH" stall.mp4 failed 'timeout'
  expect "$BATCH" "$(basename "$REAL")" done 'both'

  # SIGTERM while the workers hold a stalled job, with a long job deadline and a short grace.
  for name in audio video; do
    kill -TERM "${PID[$name]}"
    timeout_wait "${PID[$name]}" 30 || fail "$name worker did not stop"
    wait "${PID[$name]}" 2>/dev/null || true
    KILLED[${PID[$name]}]=1
    unset "PID[$name]"
  done
  GRACE=$SHORT_GRACE
  WORKER_ARGS=(--allow-protocol file --allow-protocol http --job-timeout 600)
  start audio audio
  start video video
  coordinator submit "$STALL_URL/stop/stall.mp4" --batch "$BATCH" --probe-timeout "$PROBE_TIMEOUT" >>"$CASE_LOG_PREFIX.submit.log" 2>&1
  wait_for "both workers to take the stalled job" 30 jobs_taken || true
  sleep 1
  t0=$(now)
  for name in audio video; do kill -TERM "${PID[$name]}"; done
  declare -gA EXIT_CODE=() EXIT_TOOK=()
  for name in audio video; do
    pid=${PID[$name]}
    rc=0
    timeout_wait "$pid" $((SHORT_GRACE + 25)) || fail "$name worker still running $((SHORT_GRACE + 25)) s after SIGTERM"
    wait "$pid" 2>/dev/null || rc=$?
    EXIT_CODE[$name]=$rc EXIT_TOOK[$name]=$(elapsed "$t0" "$(now)")
    say "stalled-source: $name worker exited $rc, ${EXIT_TOOK[$name]} s after SIGTERM (grace $SHORT_GRACE s)"
    KILLED[$pid]=1
    unset "PID[$name]"
  done
  QUEUED_AFTER_STOP=$(amqp depth er.jobs.audio er.jobs.video)
  GRACE=20
  WORKER_ARGS=(--allow-protocol file --allow-protocol http --job-timeout "$JOB_TIMEOUT")
  start audio audio
  start video video
  FAULT="media URLs that never answer or stall mid-transfer; SIGTERM while the workers hold such a job"
}

expectations() {
  local took name
  check "submit returned within the probe timeout + 10 s ($SUBMIT_TOOK s)" \
    awk -v t="$SUBMIT_TOOK" -v l=$((PROBE_TIMEOUT + 10)) 'BEGIN { exit !(t < l) }'
  took=$(sql -c "SELECT round(extract(epoch FROM finished_at - submitted_at)::numeric, 1) FROM clips c
    JOIN batches b ON b.id = c.batch_id WHERE b.name = '$BATCH' AND c.source LIKE '%/stall.mp4' AND c.source NOT LIKE '%/stop/%'")
  say "stalled-source: the stalled clip failed $took s after submission (job deadline $JOB_TIMEOUT s)"
  check "the stalled clip failed within the deadline + 15 s ($took s)" awk -v t="${took:-999}" -v l=$((JOB_TIMEOUT + 15)) 'BEGIN { exit !(t < l) }'
  for name in audio video; do
    check "$name worker exited within the grace + 5 s (${EXIT_TOOK[$name]} s)" \
      awk -v t="${EXIT_TOOK[$name]}" -v l=$((SHORT_GRACE + 5)) 'BEGIN { exit !(t < l) }'
    check "$name worker exited 0 after SIGTERM (exit ${EXIT_CODE[$name]})" test "${EXIT_CODE[$name]}" -eq 0
  done
  check "the stalled jobs were back in their queues ($QUEUED_AFTER_STOP)" test "$QUEUED_AFTER_STOP" = "1 1"
  wait_batch "$BATCH"
  expect "$BATCH" stop/stall.mp4 failed 'timeout'
  sed 's/^/  /' "$STATE/bad-media-outcomes.txt"
}

teardown() { WORKER_ARGS=(--allow-protocol file); }

# jobs_taken: both job queues empty, their jobs held by the workers.
jobs_taken() { [[ "$(amqp depth er.jobs.audio er.jobs.video)" == "0 0" ]]; }
