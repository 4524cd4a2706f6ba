# metrics: the workers and Fusion serve /metrics, /healthz and /readyz; after a batch their counters agree with the
# database; /readyz answers 503 while RabbitMQ is away and 200 once it is back; a metrics port already in use stops a
# service at start with a clear error.

AUDIO_METRICS=127.0.0.1:19101 VIDEO_METRICS=127.0.0.1:19102 FUSION_METRICS=127.0.0.1:19103

setup() {
  local addr
  start audio audio env ER_METRICS_ADDRESS=$AUDIO_METRICS
  start video video env ER_METRICS_ADDRESS=$VIDEO_METRICS
  start fusion fusion env ER_METRICS_ADDRESS=$FUSION_METRICS
  for addr in $AUDIO_METRICS $VIDEO_METRICS $FUSION_METRICS; do
    wait_for "$addr/readyz to answer 200" 30 ready_at "$addr"
    check "$addr/healthz answers 200" test "$(http_get "http://$addr/healthz" | cut -d' ' -f1)" = 200
  done
  coordinator submit "$CLIPS" --batch "$BATCH" >/dev/null
  wait_batch "$BATCH"
  wait_for "the result queue to drain" 30 queues_empty
}

# RabbitMQ restarted while a poller reads the audio worker's /readyz; then a second worker asks for a port in use.
fault() {
  local poller out
  ( for _ in $(seq 1 150); do http_get "http://$AUDIO_METRICS/readyz" | cut -d' ' -f1; sleep 0.1; done ) >"$CASE_LOG_PREFIX.readyz.log" &
  poller=$!
  out=$(scripts/stack restart-amqp 2>&1) || fail "scripts/stack restart-amqp failed: $out"
  wait_for "the audio worker to be ready again" 60 ready_at "$AUDIO_METRICS"
  kill "$poller" 2>/dev/null || true
  wait "$poller" 2>/dev/null || true
  PORT_IN_USE_EXIT=0
  PORT_IN_USE_OUTPUT=$(ER_AMQP_URL_FILE="$SECRETS/amqp-url" timeout 30 "$BIN/er-audio-worker" run --metrics-address "$AUDIO_METRICS" 2>&1) ||
    PORT_IN_USE_EXIT=$?
  FAULT="metrics scraped after the batch; RabbitMQ restarted (readiness); a port in use"
}

expectations() {
  local id rows stream addr seen
  id=$(batch_id "$BATCH")
  for stream in audio video; do
    rows=$(sql -c "SELECT count(*) FROM stream_results s JOIN clips c ON c.id = s.clip_id WHERE c.batch_id = $id AND s.stream = '$stream'")
    addr=$AUDIO_METRICS
    [[ $stream == video ]] && addr=$VIDEO_METRICS
    check "er_jobs_total of the $stream worker = its stream rows ($rows)" \
      test "$(metric_sum "http://$addr/metrics" er_jobs_total "stream=\"$stream\"")" -eq "$rows"
  done
  check "er_results_total of Fusion = the batch's stream rows" \
    test "$(metric_sum "http://$FUSION_METRICS/metrics" er_results_total 'outcome=')" -eq "$(sql -c "SELECT count(*) FROM stream_results s JOIN clips c ON c.id = s.clip_id WHERE c.batch_id = $id")"
  check "er_fused_total of Fusion = the batch's fused rows" \
    test "$(metric_sum "http://$FUSION_METRICS/metrics" er_fused_total 'basis=')" -eq "$(sql -c "SELECT count(*) FROM fused_results f JOIN clips c ON c.id = f.clip_id WHERE c.batch_id = $id")"
  check "the video stages are timed" grep -q 'er_job_stage_seconds_count{stream="video",stage="face_detection"}' <(http_get "http://$VIDEO_METRICS/metrics")
  seen=$(sort -u "$CASE_LOG_PREFIX.readyz.log" | tr '\n' ' ')
  check "/readyz answered 503 while RabbitMQ was away (answers seen: $seen)" grep -qx 503 "$CASE_LOG_PREFIX.readyz.log"
  check "a metrics port in use stops the service with an error (exit $PORT_IN_USE_EXIT)" \
    test "$PORT_IN_USE_EXIT" -ne 0 -a "$PORT_IN_USE_EXIT" -ne 124
  check "the error says the port is in use" grep -q "in use" <<<"$PORT_IN_USE_OUTPUT"
  say "metrics: counters agree with the database; readiness answers seen during the restart: $seen"
}

# http_get URL: prints the status code, a space and the body (000 when nothing answers).
http_get() {
  "$VENV/bin/python" - "$1" <<'PY'
import sys, urllib.request, urllib.error
try:
    with urllib.request.urlopen(sys.argv[1], timeout=5) as r:
        print(r.status, r.read().decode())
except urllib.error.HTTPError as e:
    print(e.code, e.read().decode())
except Exception as e:
    print("000", e)
PY
}
ready_at() { [[ "$(http_get "http://$1/readyz" | cut -d' ' -f1)" == 200 ]]; }

# metric_sum URL NAME FILTER: the sum of a metric's samples whose labels contain FILTER (e.g. stream="audio").
metric_sum() {
  http_get "$1" | awk -v name="$2" -v filter="$3" 'index($0, name "{") == 1 && index($0, filter) { s += $NF } END { print s + 0 }'
}
