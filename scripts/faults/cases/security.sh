# security: roles, credentials from files, TLS and masking. The reader login may read the views and nothing else;
# the writer login may not change the schema; migrations find the cluster-wide roles in a second database; a URL
# file that cannot be read is a clear error; wrong passwords are never echoed; PostgreSQL (verify-full) and AMQP
# (amqps) connect over TLS with the right CA and refuse another; a batch runs with the writer login and URL files,
# and no password appears in any log.

setup() {
  READER="postgresql://er_faults_reader:$READER_PASSWORD@127.0.0.1:$ER_PG_PORT/emotions"
}

# Each misuse is refused at once, so the fault checks its own outcome.
fault() {
  local out stmt
  check "the reader can query clip_emotions and segment_emotions" psql -X -A -t -q -v ON_ERROR_STOP=1 "$READER" \
    -c "SELECT count(*) FROM clip_emotions" -c "SELECT count(*) FROM segment_emotions" >/dev/null
  for stmt in "INSERT INTO batches (name) VALUES ('x')" "UPDATE clips SET status = 'failed'" "DELETE FROM fused_results" \
    "CREATE TABLE t (x int)" "TRUNCATE stream_results"; do
    out=$(psql -X -A -t -q -v ON_ERROR_STOP=1 "$READER" -c "$stmt" 2>&1) && fail "the reader could run: $stmt"
    [[ "$out" == *"permission denied"* ]] || fail "the reader's '$stmt' failed otherwise: $out"
  done
  out=$(psql -X -A -t -q -v ON_ERROR_STOP=1 "$(cat "$SECRETS/database-url")" -c "CREATE TABLE t (x int)" 2>&1) &&
    fail "the writer could create a table"
  [[ "$out" == *"permission denied"* ]] || fail "the writer's CREATE TABLE failed otherwise: $out"
  check "the reader can run er-coordinator status" "$BIN/er-coordinator" status --database-url "$READER" >/dev/null
  # Roles are cluster-wide: migrating a second database of the cluster finds them in place.
  PGOPTIONS='-c client_min_messages=warning' psql -X -q -h "$STATE/pg/run" -p "$ER_PG_PORT" -U postgres -d postgres \
    -c "DROP DATABASE IF EXISTS faults_second" -c "CREATE DATABASE faults_second OWNER er" >/dev/null
  check "migrations run in a second database of the cluster (roles already there)" \
    "$BIN/er-coordinator" status --database-url "postgresql://er:$ER_DB_PASSWORD@127.0.0.1:$ER_PG_PORT/faults_second" >/dev/null
  check "the same migrations applied there" test "$(psql -X -A -t -q "postgresql://er:$ER_DB_PASSWORD@127.0.0.1:$ER_PG_PORT/faults_second" \
    -c "SELECT count(*) FROM schema_migrations")" -eq "$(sql -c "SELECT count(*) FROM schema_migrations")"
  psql -X -q -h "$STATE/pg/run" -p "$ER_PG_PORT" -U postgres -d postgres -c "DROP DATABASE faults_second" >/dev/null
  # A URL file that cannot be read: a clear error naming the file, no fallback to another server.
  echo > "$STATE/empty-url"
  out=$(env ER_DATABASE_URL_FILE="$STATE/empty-url" "$BIN/er-coordinator" status 2>&1) && fail "status ran with an empty URL file"
  [[ "$out" == *"ER_DATABASE_URL_FILE"* ]] || fail "an empty ER_DATABASE_URL_FILE gave: $out"
  out=$(env ER_AMQP_URL_FILE="$STATE/no-such-file" "$BIN/er-coordinator" status --queues 2>&1) && fail "status ran without its URL file"
  [[ "$out" == *"ER_AMQP_URL_FILE"* ]] || fail "a missing ER_AMQP_URL_FILE gave: $out"
  # Wrong passwords: the errors must not echo them.
  out=$("$BIN/er-coordinator" status --database-url "postgresql://er:wrong-$SVC_PASSWORD@127.0.0.1:$ER_PG_PORT/emotions" 2>&1) || true
  [[ "$out" != *"$SVC_PASSWORD"* ]] || fail "a database error shows the password: $out"
  out=$("$BIN/er-coordinator" status --queues --amqp-url "amqp://er:wrong-$SVC_PASSWORD@127.0.0.1:$ER_AMQP_PORT/%2f" 2>&1) || true
  [[ "$out" != *"$SVC_PASSWORD"* ]] || fail "a broker error shows the password: $out"
  echo "$out" >"$CASE_LOG_PREFIX.wrong-password.log"
  check_tls
  FAULT="roles, credentials from files, TLS, no password in logs or errors"
}

expectations() {
  # One small batch through the services running with the writer login and URL files, as everywhere here.
  start audio audio
  start video video
  start fusion fusion
  coordinator submit "$(find "$CLIPS" -name '*.mp4' | sort | head -n 1)" --batch "$BATCH" >/dev/null
  wait_batch "$BATCH"
  check "the services logged in as er_faults_svc" grep -q 'er_faults_svc:\*\*\*@' "$CASE_LOG_PREFIX".fusion*.log
}


# TLS: PostgreSQL with sslmode=verify-full (the server switched to TLS for the check), AMQP over amqps through a
# TLS-terminating socat in front of the broker (when socat is installed). A certificate from another CA must fail.
check_tls() {
  local tls="$STATE/tls" out pgdata="$STATE/pg/data" port=$((ER_AMQP_PORT + 1)) relay
  command -v openssl >/dev/null || {
    say "TLS checks skipped: openssl is not installed"
    return 0
  }
  rm -rf "$tls"
  mkdir -p "$tls"
  (
    cd "$tls"
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=fault-suite CA" -keyout ca.key -out ca.pem
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=another CA" -keyout other.key -out other.pem
    openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout server.key -out server.csr
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >ext.cnf
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile ext.cnf -out server.pem
    cat server.pem server.key >server-bundle.pem
  ) >"$CASE_LOG_PREFIX.openssl.log" 2>&1 || {
    fail "could not make test certificates"
    return 0
  }
  chmod 644 "$tls"/*.pem
  install -o postgres -g postgres -m 600 "$tls/server.key" "$pgdata/faults-server.key"
  install -o postgres -g postgres -m 644 "$tls/server.pem" "$pgdata/faults-server.pem"
  local su=(psql -X -q -A -t -h "$STATE/pg/run" -p "$ER_PG_PORT" -U postgres -d postgres)
  "${su[@]}" -c "ALTER SYSTEM SET ssl_cert_file = 'faults-server.pem'" -c "ALTER SYSTEM SET ssl_key_file = 'faults-server.key'" \
    -c "ALTER SYSTEM SET ssl = on" -c "SELECT pg_reload_conf()" >/dev/null
  sleep 0.3
  local url="postgresql://er_faults_reader:$READER_PASSWORD@localhost:$ER_PG_PORT/emotions?sslmode=verify-full"
  out=$("$BIN/er-coordinator" status --database-url "$url&sslrootcert=$tls/ca.pem" 2>&1) || fail "PostgreSQL over TLS (verify-full) failed: $out"
  check "the session is encrypted" test "$(psql -X -A -t -q "$url&sslrootcert=$tls/ca.pem" \
    -c "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")" = t
  out=$("$BIN/er-coordinator" status --database-url "$url&sslrootcert=$tls/other.pem" 2>&1) &&
    fail "PostgreSQL over TLS accepted a certificate from another CA"
  [[ "$out" == *"certificate verify failed"* ]] || fail "PostgreSQL TLS with another CA failed otherwise: $out"
  "${su[@]}" -c "ALTER SYSTEM RESET ssl" -c "ALTER SYSTEM RESET ssl_cert_file" -c "ALTER SYSTEM RESET ssl_key_file" \
    -c "SELECT pg_reload_conf()" >/dev/null
  if ! command -v socat >/dev/null; then
    say "AMQP TLS check skipped: socat is not installed (it stands in for a TLS listener of RabbitMQ)"
    return 0
  fi
  socat "OPENSSL-LISTEN:$port,bind=127.0.0.1,reuseaddr,fork,cert=$tls/server-bundle.pem,verify=0" "TCP:127.0.0.1:$ER_AMQP_PORT" \
    2>>"$CASE_LOG_PREFIX.socat.log" &
  relay=$!
  sleep 0.3
  url="amqps://er:$ER_AMQP_PASSWORD@localhost:$port/%2f"
  out=$(ER_AMQP_CACERT="$tls/ca.pem" "$BIN/er-coordinator" status --queues --amqp-url "$url" 2>&1) ||
    fail "AMQP over TLS (amqps, ER_AMQP_CACERT) failed: $out"
  out=$(ER_AMQP_CACERT="$tls/other.pem" "$BIN/er-coordinator" status --queues --amqp-url "$url" 2>&1) &&
    fail "amqps accepted a certificate from another CA"
  [[ "$out" == *"verification failed"* ]] || fail "amqps with another CA failed otherwise: $out"
  kill "$relay" 2>/dev/null || true
  wait "$relay" 2>/dev/null || true
  say "TLS: PostgreSQL (sslmode=verify-full) and AMQP (amqps) connect with the right CA and refuse another"
}
