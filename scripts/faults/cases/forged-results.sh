# forged-results: results as a broken or odd worker could send them: model labels holding commas and quotes (they
# once split on read and trapped Fusion on every delivery), and labels that outnumber the logits. Fusion must store
# the first, fail the second's stream (invalid_result, the message dead-lettered) and keep running.

setup() {
  local id
  FORGED="$STATE/forged"
  mkdir -p "$FORGED"
  start fusion fusion
  id=$(sql -v n="$BATCH" <<<"INSERT INTO batches (name) VALUES (:'n') RETURNING id;")
  COMMAS=$(new_clip "$id" /forged/commas.mp4)
  BROKEN=$(new_clip "$id" /forged/inconsistent.mp4)
  result_json "$COMMAS" "$id" audio commas >"$FORGED/commas-audio.json"
  result_json "$COMMAS" "$id" video absent >"$FORGED/commas-video.json"
  result_json "$BROKEN" "$id" audio inconsistent >"$FORGED/broken-audio.json"
  result_json "$BROKEN" "$id" video absent >"$FORGED/broken-video.json"
}

fault() {
  local f
  for f in commas-audio commas-video broken-audio broken-video; do amqp publish er.results "$FORGED/$f.json"; done
  FAULT="forged results: model labels with commas and quotes; 8 labels for 7 logits"
  DEAD=1
}

expectations() {
  local label
  wait_batch "$BATCH"
  : >"$STATE/bad-media-outcomes.txt"
  expect "$BATCH" commas.mp4 done 'audio_only'
  expect "$BATCH" inconsistent.mp4 failed 'invalid_result'
  sed 's/^/  /' "$STATE/bad-media-outcomes.txt"
  label=$(sql -c "SELECT model_labels->>0 FROM stream_results WHERE clip_id = $COMMAS AND stream = 'audio'")
  check "a model label with a comma reads back whole ('$label')" test "$label" = "angry, loud"
  check "Fusion ran once, without a restart" test "${STARTS[fusion]}" -eq 1
  check "Fusion is still running" alive "${PID[fusion]}"
}
