# racing-fusions: two Fusions; each round a clip whose audio job was dead-lettered while its real result was on its
# way: the copy on er.dead and the real result race, in either order, through different Fusion processes. The real
# result must win every round.

setup() {
  local i clip dir="$STATE/racing"
  ROUNDS=${FAULTS_RACE_ROUNDS:-60}
  rm -rf "$dir"
  mkdir -p "$dir"
  BATCH_ID=$(sql -v n="$BATCH" <<<"INSERT INTO batches (name) VALUES (:'n') RETURNING id;")
  PUBLISHES="$dir/publishes"
  : >"$PUBLISHES"
  for ((i = 0; i < ROUNDS; i++)); do
    clip=$(new_clip "$BATCH_ID" "/forged/race-$i.mp4")
    result_json "$clip" "$BATCH_ID" audio ok >"$dir/$i-audio.json"
    result_json "$clip" "$BATCH_ID" video ok >"$dir/$i-video.json"
    python3 -c 'import json, sys, uuid; print(json.dumps({"schema": 1, "job_id": str(uuid.uuid4()), "clip_id": int(sys.argv[1]),
      "batch_id": int(sys.argv[2]), "source": "/forged/race.mp4", "stream": "audio", "attempt": 1}))' "$clip" "$BATCH_ID" >"$dir/$i-dead.json"
    # Alternate the order: the dead letter before the real result, then after it.
    if ((i % 2 == 0)); then
      printf 'er.dead\ter.jobs.audio\t%s\n\ter.results\t%s\n' "$dir/$i-dead.json" "$dir/$i-audio.json" >>"$PUBLISHES"
    else
      printf '\ter.results\t%s\ner.dead\ter.jobs.audio\t%s\n' "$dir/$i-audio.json" "$dir/$i-dead.json" >>"$PUBLISHES"
    fi
    printf '\ter.results\t%s\n' "$dir/$i-video.json" >>"$PUBLISHES"
  done
  start fusion fusion
  start fusion2 fusion
}

fault() {
  amqp publish-many "$PUBLISHES"
  FAULT="two Fusions; $ROUNDS rounds of a dead-lettered job racing its real result"
  DEAD=$ROUNDS
}

expectations() {
  local lost_to_dead
  wait_batch "$BATCH"
  lost_to_dead=$(sql -c "SELECT count(*) FROM stream_results s JOIN clips c ON c.id = s.clip_id
    WHERE c.batch_id = $BATCH_ID AND (s.error_code = 'dead_lettered' OR s.worker = 'dead-letter')")
  check "the real result won all $ROUNDS rounds ($lost_to_dead lost to the dead letter)" test "$lost_to_dead" -eq 0
  check "all $ROUNDS clips fused from both streams" test "$(sql -c "SELECT count(*) FROM clip_emotions
    WHERE batch = '$BATCH' AND status = 'done' AND fused_basis = 'both'")" -eq "$ROUNDS"
  say "racing-fusions: $ROUNDS rounds, $(grep -h 'dead-lettered job' "$CASE_LOG_PREFIX".fusion*.log | grep -c 'already has a result') dead letters found the real result stored, $(grep -h 'dead-lettered job' "$CASE_LOG_PREFIX".fusion*.log | grep -c 'failed its stream') came first and were overwritten"
}
