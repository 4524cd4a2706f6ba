# poison-job: a clip whose job kills the video worker every time (it runs under a CPU-time limit that the clip's 25 s
# of face search exceeds, as an OOM kill would), beside three real clips; the suite restarts the worker like a
# supervisor. The broker dead-letters the job after its delivery limit; the clip must still end failed with a
# reason, and the real clips fused.

setup() {
  printf '%s\n' "$MEDIA/poison/slow-textured-55s.mp4" "$(find "$CLIPS" -name '*.mp4' | sort | head -n 3)" >"$STATE/poison.txt"
  LIMIT=(prlimit --cpu=3:3) # seconds of CPU: the poison clip needs about 5, the model and 3 clips about 1.3
  start audio audio
  start fusion fusion
  start video video "${LIMIT[@]}"
}

fault() {
  local t0=$SECONDS
  DEATHS=0
  coordinator submit "$STATE/poison.txt" --batch "$BATCH" >/dev/null
  # (bash reports each death on stderr: into the case's log)
  until [[ "$(sql -c "SELECT count(*) FILTER (WHERE c.status = 'queued') FROM clips c JOIN batches b ON b.id = c.batch_id
    WHERE b.name = '$BATCH'")" == 0 ]] 2>>"$CASE_LOG_PREFIX.supervisor.log"; do
    if ! alive "${PID[video]}"; then
      DEATHS=$((DEATHS + 1))
      KILLED[${PID[video]}]=1
      wait "${PID[video]}" 2>/dev/null || true
      sleep "$RESTART_DELAY"
      start video video "${LIMIT[@]}"
    fi
    if ((SECONDS - t0 > 90)); then
      fail "the batch did not complete within 90 s ($DEATHS worker deaths)"
      break
    fi
    sleep 0.2
  done 2>>"$CASE_LOG_PREFIX.supervisor.log"
  say "poison-job: the video worker died $DEATHS time(s)"
  FAULT="a job that kills the video worker every time (CPU limit): died $DEATHS times"
}

expectations() {
  local id collateral
  check "the worker died at most $((5 + 1)) times ($DEATHS)" test "$DEATHS" -le 6
  id=$(batch_id "$BATCH")
  check "the three real clips are fused" test "$(sql -c "SELECT count(*) FROM clips WHERE batch_id = $id AND status = 'done'
    AND source NOT LIKE '%slow-textured%'")" -eq 3
  check "the poison clip's video stream failed as dead_lettered" test "$(sql -c "SELECT count(*) FROM stream_results s
    JOIN clips c ON c.id = s.clip_id WHERE c.batch_id = $id AND c.source LIKE '%slow-textured%' AND s.stream = 'video'
    AND s.error_code = 'dead_lettered'")" -eq 1
  collateral=$(sql -c "SELECT count(*) FROM stream_results s JOIN clips c ON c.id = s.clip_id WHERE c.batch_id = $id
    AND c.source NOT LIKE '%slow-textured%' AND s.error_code = 'dead_lettered'")
  say "poison-job: $collateral innocent job(s) prefetched beside the poison one were dead-lettered with it"
  sql -F ' | ' -c "SELECT c.status, coalesce(f.basis, '-'), s.stream, s.outcome, coalesce(s.error_code, '') || ' ' || coalesce(s.error, ''),
    regexp_replace(c.source, '.*/', '') FROM clips c LEFT JOIN fused_results f ON f.clip_id = c.id
    JOIN stream_results s ON s.clip_id = c.id WHERE c.batch_id = $id ORDER BY c.id, s.stream" | cut -c1-200 | sed 's/^/  /'
  RECOVER="-"
  DEAD=$((1 + collateral))
}
