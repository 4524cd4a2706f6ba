# network-db: Fusion reaches PostgreSQL only through the TCP fault proxy, +2 ms each way (a LAN: a result takes about
# ten round trips, and with 20 ms one Fusion stored about 3 results/s). Mid-batch the proxy cuts Fusion's connection
# 3 times, 3 s apart (transactions in progress die with it), then stalls the traffic for 8 s (statements wait in the
# middle of a transaction). Every clip must be fused once: a result whose transaction died is not acknowledged,
# comes again and is stored then.

setup() {
  local proxy_port=$((ER_PG_PORT + 100)) via
  start_proxy proxy "$proxy_port" "$ER_PG_PORT" 2
  via=$(url_file_via database-url "$ER_PG_PORT" "$proxy_port")
  start audio audio
  start video video
  start fusion fusion env ER_DATABASE_URL_FILE="$via"
  feed_many
}

fault() {
  cut_and_stall 3
  FAULT="Fusion reaches PostgreSQL through a proxy (+2 ms each way): its connection cut 3 times mid-transaction, traffic stalled 8 s"
}

expectations() {
  local hit cuts lost_db
  wait_batch "$BATCH"
  read -r hit cuts <<<"$(proxy_cuts)"
  lost_db=$(cat "$CASE_LOG_PREFIX".fusion.*.log | grep -c 'connection_lost' || true)
  check "the proxy cut Fusion's connection ($hit over $cuts cuts)" test "$hit" -ge 3
  check "all $TOTAL clips fused" test "$(done_clips "$BATCH")" -eq "$TOTAL"
  check "Fusion saw its connection lost and connected again ($lost_db times)" test "$lost_db" -ge 3
  say "network-db: $hit Fusion connections cut in $cuts cuts, then 8 s stalled; Fusion lost its connection $lost_db times"
}
