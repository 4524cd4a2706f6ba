# hostile: hostile or broken messages straight onto the queues (invalid JSON, schema 2 and 99, 1.5 MiB, a job on the
# wrong queue, a result without a prediction: 10 must end in er.dead), a job naming an unknown clip, and sources
# outside the media roots or with protocols that are not allowed (each clip fails forbidden_source, nothing is
# opened), beside a real clip that is fused.

setup() {
  HOSTILE="$STATE/hostile"
  mkdir -p "$HOSTILE"
  REAL="$(find "$CLIPS" -name '*.mp4' | sort | head -n 1)"
  # Registered through the Coordinator: a manifest naming files outside the roots.
  printf '%s\n' /etc/passwd "$MEDIA/bad/../../../../../../../../../../etc/hostname" "$MEDIA/hostile/symlink-to-etc-passwd.mp4" \
    "$REAL" >"$HOSTILE/outside.txt"
  start audio audio
  start video video
  start fusion fusion
}

fault() {
  local dir=$HOSTILE id clip source stream
  coordinator submit "$dir/outside.txt" --batch "$BATCH" >/dev/null
  id=$(batch_id "$BATCH")
  # Forged jobs for clips of the batch whose sources use protocols that are not allowed (the clips are
  # registered directly, as a Coordinator cannot register these sources).
  for source in 'ftp://127.0.0.1/x.mp4' 'file:///etc/passwd' 'http://169.254.169.254/latest/meta-data/' \
    'concat:/etc/passwd|/etc/hostname' 'file://%zz/etc/passwd' 'file:%zz/outside-the-roots.mp4' \
    "file://$MEDIA/hostile/Take #1/../../../cwd/outside-the-roots.mp4"; do
    clip=$(sql -v b="$id" -v s="$source" <<<"INSERT INTO clips (batch_id, source) VALUES (:b, :'s') RETURNING id;")
    for stream in audio video; do
      python3 -c 'import json, sys, uuid; print(json.dumps({"schema": 1, "job_id": str(uuid.uuid4()), "clip_id": int(sys.argv[1]),
        "batch_id": int(sys.argv[2]), "source": sys.argv[3], "stream": sys.argv[4], "attempt": 1}))' \
        "$clip" "$id" "$source" "$stream" >"$dir/job.json"
      amqp publish "er.jobs.$stream" "$dir/job.json"
    done
  done
  # A valid job for a clip that does not exist: processed, then dropped by Fusion (no row appears).
  python3 -c 'import json, sys, uuid; print(json.dumps({"schema": 1, "job_id": str(uuid.uuid4()), "clip_id": 987654321,
    "batch_id": 1, "source": sys.argv[1], "stream": "audio", "attempt": 1}))' "$REAL" >"$dir/ghost.json"
  amqp publish er.jobs.audio "$dir/ghost.json"
  # Poison: each must end in er.dead (10 messages).
  printf 'this is not JSON' >"$dir/p1"
  amqp publish er.jobs.audio "$dir/p1"
  printf '{"schema": 1, "job_id": "' >"$dir/p2"
  amqp publish er.jobs.video "$dir/p2"
  head -c 512 /dev/urandom >"$dir/p3"
  amqp publish er.results "$dir/p3"
  python3 -c 'import json, uuid; print(json.dumps({"schema": 2, "job_id": str(uuid.uuid4()), "clip_id": 1, "batch_id": 1,
    "source": "/x.mp4", "stream": "video", "attempt": 1}))' >"$dir/p4"
  amqp publish er.jobs.video "$dir/p4"
  python3 -c 'import json, uuid; print(json.dumps({"schema": 99, "job_id": str(uuid.uuid4()), "clip_id": 1}))' >"$dir/p5"
  amqp publish er.results "$dir/p5"
  python3 -c 'import json, uuid; print(json.dumps({"schema": 1, "job_id": str(uuid.uuid4()), "clip_id": 1, "batch_id": 1,
    "source": "/" + "a" * (3 << 19), "stream": "audio", "attempt": 1}))' >"$dir/p6"
  amqp publish er.jobs.audio "$dir/p6"
  python3 -c 'print("{\"schema\": 1, \"pad\": \"" + "x" * (3 << 19) + "\"}")' >"$dir/p7"
  amqp publish er.results "$dir/p7"
  python3 -c 'import json, uuid; print(json.dumps({"schema": 1, "job_id": str(uuid.uuid4()), "clip_id": 1, "batch_id": 1,
    "source": "/x.mp4", "stream": "audio", "attempt": 1}))' >"$dir/p8"
  amqp publish er.jobs.video "$dir/p8" # an audio job on the video queue
  python3 -c 'import json, uuid; print(json.dumps({"schema": 1, "job_id": str(uuid.uuid4()), "clip_id": 1, "batch_id": 1,
    "source": "/x.mp4", "stream": "audio", "attempt": 1, "outcome": "ok", "timings": {}, "worker": "forged:1",
    "model": {"name": "m", "sha256": "0", "fusion_weight": 1}}))' >"$dir/p9"
  amqp publish er.results "$dir/p9" # ok without labels, logits and probabilities
  printf '[]' >"$dir/p10"
  amqp publish er.jobs.audio "$dir/p10"
  FAULT="hostile messages (invalid JSON, schema 2/99, 1.5 MiB, wrong queue, bad result) and sources outside roots/protocols"
  DEAD=10
}

expectations() {
  local id forbidden analysed
  wait_batch "$BATCH"
  wait_for "the poison messages to reach er.dead" 30 dead_at_least $((DEAD_BEFORE + 10)) || true
  id=$(batch_id "$BATCH")
  forbidden=$(sql -c "SELECT count(*) FROM clips WHERE batch_id = $id AND status = 'failed' AND error LIKE '%forbidden_source%'")
  check "at least 8 clips outside the roots or protocols failed with forbidden_source ($forbidden)" test "$forbidden" -ge 8
  analysed=$(sql -c "SELECT count(*) FROM stream_results s JOIN clips c ON c.id = s.clip_id
    WHERE c.batch_id = $id AND c.source <> '$REAL' AND s.outcome <> 'failed'")
  check "no hostile source was opened and analysed ($analysed stream results not failed)" test "$analysed" -eq 0
  check "the real clip in the same batch is fused" test "$(sql -c "SELECT count(*) FROM clips WHERE batch_id = $id AND status = 'done'")" -eq 1
  check "no row for a job naming an unknown clip" test "$(sql -c "SELECT count(*) FROM stream_results WHERE clip_id = 987654321")" -eq 0
  check "workers and Fusion logged the dead-lettering" grep -qF 'dead-lettering' "$CASE_LOG_PREFIX".*.log
  sql -F ' | ' -c "SELECT source, error FROM clips WHERE batch_id = $id ORDER BY id" | cut -c1-150 | sed 's/^/  /'
  amqp dead | sed 's/^/  er.dead: /'
}

dead_at_least() { (($(amqp depth er.dead) >= $1)); }
