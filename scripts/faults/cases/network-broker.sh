# network-broker: the workers reach RabbitMQ only through the TCP fault proxy, +20 ms each way. Mid-batch it cuts
# every worker connection 4 times, 3 s apart, then stalls all their traffic for 8 s (a short partition: nothing is
# closed, bytes wait). Fusion and the feeder connect directly. Every clip must be fused once: jobs held by a cut
# connection come again and Fusion absorbs repeats.

setup() {
  local proxy_port=$((ER_AMQP_PORT + 100)) via
  start_proxy proxy "$proxy_port" "$ER_AMQP_PORT" 20
  via=$(url_file_via amqp-url "$ER_AMQP_PORT" "$proxy_port")
  start audio audio env ER_AMQP_URL_FILE="$via"
  start video video env ER_AMQP_URL_FILE="$via"
  start fusion fusion
  feed_many
}

fault() {
  cut_and_stall 4
  FAULT="workers reach RabbitMQ through a proxy (+20 ms each way): connections cut 4 times, traffic stalled 8 s"
}

expectations() {
  local hit cuts reconnects
  wait_batch "$BATCH"
  read -r hit cuts <<<"$(proxy_cuts)"
  reconnects=$(cat "$CASE_LOG_PREFIX".audio.*.log "$CASE_LOG_PREFIX".video.*.log | grep -c 'broker connection lost' || true)
  check "the proxy cut connections ($hit over $cuts cuts)" test "$hit" -ge 4
  check "the workers connected again after the cuts ($reconnects times)" test "$reconnects" -ge 4
  check "all $TOTAL clips fused" test "$(done_clips "$BATCH")" -eq "$TOTAL"
  say "network-broker: $hit worker connections cut in $cuts cuts, then 8 s stalled; the workers connected again $reconnects times"
}
