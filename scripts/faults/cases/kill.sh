# kill-video, kill-audio, kill-fusion: a process of that kind (CASE_ARG) killed with SIGKILL in the middle of a batch
# of the real clips, as an OOM killer or a lost machine would, and restarted by the suite acting as a supervisor
# after RESTART_DELAY seconds. The audio worker gets long audio tracks, so that it is killed mid-batch.

setup() {
  INPUT="$CLIPS"
  [[ $CASE_ARG == audio ]] && INPUT="$MEDIA/audio-heavy"
  start audio audio
  start video video
  start fusion fusion
  coordinator submit "$INPUT" --batch "$BATCH" >/dev/null
  if [[ $CASE_ARG == audio ]]; then
    wait_for "the first audio results" 60 audio_mid_batch "$BATCH"
  else
    wait_for "3 finished clips" 60 finished_at_least "$BATCH" 3
  fi
}

fault() {
  local base t_fault new
  base=$(finished "$BATCH")
  t_fault=$(now)
  kill9 "$CASE_ARG"
  sleep "$RESTART_DELAY"
  start "$CASE_ARG" "$CASE_ARG"
  new=${PID[$CASE_ARG]}
  if [[ $CASE_ARG == fusion ]]; then
    recover_after "$t_fault" "$BATCH" "$base"
  elif wait_for "a result from the restarted $CASE_ARG worker" "$TIMEOUT" has_result_from "$BATCH" "$new"; then
    RECOVER=$(elapsed "$t_fault" "$(first_result_from "$BATCH" "$new")")
  fi
  local who="$CASE_ARG worker"
  [[ $CASE_ARG == fusion ]] && who=Fusion
  FAULT="$who killed (SIGKILL) mid-batch, restarted after ${RESTART_DELAY}s"
}

expectations() {
  wait_batch "$BATCH"
  check "all real clips fused" test "$(done_clips "$BATCH")" -eq "$(find "$INPUT" -name '*.mp4' | wc -l)"
}

# audio_mid_batch BATCH: some of the batch's audio jobs (whole clips or windows) have results, not all.
audio_mid_batch() {
  local counts have total
  counts=$(sql -F ' ' -c "SELECT (SELECT count(*) FROM (SELECT clip_id, stream FROM stream_results UNION ALL
      SELECT clip_id, stream FROM segment_results) s JOIN clips c ON c.id = s.clip_id WHERE c.batch_id = b.id AND s.stream = 'audio'),
    (SELECT sum(greatest(segment_count, 1)) FROM clips c WHERE c.batch_id = b.id) FROM batches b WHERE b.name = '$1'")
  read -r have total <<<"$counts"
  ((have >= 20 && have < total - 20))
}
