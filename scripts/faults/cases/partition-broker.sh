# partition-broker: the only audio worker and one of two video workers live in a network namespace of their own and
# reach RabbitMQ over a veth link (through a plain relay on the host's end of it, where a load balancer would stand).
# Mid-batch, iptables in the namespace drops every packet to and from the host for PARTITION seconds (100): nothing
# is closed or refused, packets vanish. With the 30 s heartbeat a worker gives its connection up after 60 s of
# silence, RabbitMQ after 60 to 90 s (it checks every 30 s); TCP rides out anything shorter (with 40 s, both sides
# kept their connections and the batch went on when the link came back). The broker must notice the silence and take
# back the jobs the cut-off workers held: the cut-off video worker's go to the video worker outside; the audio jobs
# wait. Once the partition heals, the cut-off workers must connect again and the audio worker work off the backlog.
# Every clip fused once: whatever a cut-off worker publishes late is absorbed by Fusion.

PARTITION=${FAULTS_PARTITION:-100}

setup() {
  local relay_port=$((ER_AMQP_PORT + 103)) via
  if ((EUID != 0)) || ! command -v iptables >/dev/null || ! command -v ip >/dev/null; then
    SKIP_REASON="needs root, ip and iptables (a network namespace)"
    return
  fi
  NS="er-faults-$ER_AMQP_PORT" HOST_END="erfh$ER_AMQP_PORT" NS_END="erfn$ER_AMQP_PORT"
  HOST_ADDR=10.213.0.1 NS_ADDR=10.213.0.2
  ip netns del "$NS" 2>/dev/null || true
  ip netns add "$NS"
  ip link add "$HOST_END" type veth peer name "$NS_END"
  ip link set "$NS_END" netns "$NS"
  ip addr add "$HOST_ADDR/30" dev "$HOST_END"
  ip link set "$HOST_END" up
  ip -n "$NS" addr add "$NS_ADDR/30" dev "$NS_END"
  ip -n "$NS" link set "$NS_END" up
  ip -n "$NS" link set lo up
  start_proxy relay "$relay_port" "$ER_AMQP_PORT" 0 "$HOST_ADDR"
  via=$(url_file_via amqp-url "$ER_AMQP_PORT" "$relay_port" "$HOST_ADDR")
  start audio-cut audio ip netns exec "$NS" env ER_AMQP_URL_FILE="$via"
  start video-cut video ip netns exec "$NS" env ER_AMQP_URL_FILE="$via"
  start video video
  start fusion fusion
  feed_many
  wait_for "results from both cut-off workers" 30 cut_off_workers_working
}

fault() {
  T_CUT=$(now)
  ip netns exec "$NS" iptables -A INPUT -s "$HOST_ADDR" -j DROP
  ip netns exec "$NS" iptables -A OUTPUT -d "$HOST_ADDR" -j DROP
  say "partition-broker: the namespace's link drops every packet for ${PARTITION}s"
  sleep "$PARTITION"
  ip netns exec "$NS" iptables -F
  HEALED_AT=$(now)
  FAULT="the audio worker and 1 of 2 video workers cut off from RabbitMQ for ${PARTITION}s mid-batch (iptables in a netns: packets dropped)"
}

expectations() {
  local taken_back first_taken_back redelivered_to_cut lost back
  # The audio backlog of the partition is worked off after the heal: a minute more than other batches.
  local TIMEOUT=$((TIMEOUT + 60))
  wait_batch "$BATCH"
  # The first result of the cut-off audio worker after the heal (received_at is the database's clock: this machine's).
  back=$(first_result_from "$BATCH" "${PID[audio-cut]}" "$HEALED_AT")
  [[ -z "$back" ]] || RECOVER=$(elapsed "$T_CUT" "$back")
  # Jobs the broker took back from the cut-off video worker, as the video worker outside received them.
  taken_back=$(grep -h 'received job' "$CASE_LOG_PREFIX".video.*.log | grep -c 'redelivered=true' || true)
  first_taken_back=$(grep -h 'received job' "$CASE_LOG_PREFIX".video.*.log | grep 'redelivered=true' | cut -d' ' -f1 | sort | head -n 1 || true)
  # Audio jobs the broker took back and gave to the audio worker again once it was back.
  redelivered_to_cut=$(grep -h 'received job' "$CASE_LOG_PREFIX".audio-cut.*.log | grep -c 'redelivered=true' || true)
  lost=$(cat "$CASE_LOG_PREFIX".audio-cut.*.log "$CASE_LOG_PREFIX".video-cut.*.log | grep -c 'broker connection lost' || true)
  check "the broker gave the cut-off video worker's jobs to the other one ($taken_back redelivered)" test "$taken_back" -ge 1
  check "the audio worker got its held jobs again after the heal ($redelivered_to_cut redelivered)" test "$redelivered_to_cut" -ge 1
  check "both cut-off workers noticed the lost connection and connected again ($lost times)" test "$lost" -ge 2
  check "the cut-off audio worker stored results after the heal" test -n "$back"
  check "all $TOTAL clips fused" test "$(done_clips "$BATCH")" -eq "$TOTAL"
  say "partition-broker: first video job taken back ${first_taken_back:+$(($(date -d "$first_taken_back" +%s) - ${T_CUT%.*})) s into the partition }($taken_back" \
    "in all); $redelivered_to_cut audio jobs given back to the audio worker; the cut-off workers lost their connection $lost times;" \
    "audio results again ${RECOVER} s after the cut (${PARTITION} s of partition)"
}

teardown() { ip netns del "$NS" 2>/dev/null || true; }

# cut_off_workers_working: both cut-off workers have stored a result for the batch.
cut_off_workers_working() { has_result_from "$BATCH" "${PID[audio-cut]}" && has_result_from "$BATCH" "${PID[video-cut]}"; }
