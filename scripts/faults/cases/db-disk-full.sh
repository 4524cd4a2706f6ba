# db-disk-full: the volume holding the database's tables fills up mid-batch and stays full for DISK_FULL seconds
# (20). The database is moved onto a small tmpfs of its own for the case (a tablespace; the write-ahead log stays on
# the main volume, so the server keeps running and refuses what needs new space with SQLSTATE 53100, disk_full),
# then a ballast file fills it. Fusion must hold its results unacknowledged and retry, not dead-letter them; once
# the ballast is removed it resumes, and every clip is fused once.

DISK_FULL=${FAULTS_DISK_FULL:-20}
DISK_FULL_STATE=53100 # SQLSTATE disk_full

setup() {
  local size_mb
  if ((EUID != 0)); then
    SKIP_REASON="needs root (a tmpfs volume for the database)"
    return
  fi
  VOLUME="$STATE/small-volume"
  SUPERUSER=(psql -X -q -A -t -v ON_ERROR_STOP=1 -h "$STATE/pg/run" -p "$ER_PG_PORT" -U postgres -d postgres)
  # Room for the database as it is, and 64 MiB more.
  size_mb=$(($(sql -c "SELECT pg_database_size('emotions')") / 1048576 + 64))
  mkdir -p "$VOLUME"
  mount -t tmpfs -o "size=${size_mb}m,mode=700,uid=$(id -u postgres),gid=$(id -g postgres)" er-faults-small "$VOLUME"
  "${SUPERUSER[@]}" -c "CREATE TABLESPACE er_faults_small LOCATION '$VOLUME'" \
    -c "ALTER DATABASE emotions SET TABLESPACE er_faults_small" >/dev/null
  say "db-disk-full: the database is on a ${size_mb} MiB volume of its own"
  start audio audio
  start video video
  start fusion fusion
  feed_many
}

fault() {
  local t_fault base
  t_fault=$(now)
  dd if=/dev/zero of="$VOLUME/ballast" bs=1M status=none 2>/dev/null || true
  say "db-disk-full: the volume is full ($(df -h --output=avail "$VOLUME" | tail -n 1 | tr -d ' ') left)"
  wait_for "Fusion to meet the full disk" 60 grep -q "SQLSTATE $DISK_FULL_STATE" "$CASE_LOG_PREFIX".fusion.*.log || true
  FINISHED_WHEN_FULL=$(finished "$BATCH")
  sleep "$DISK_FULL"
  FINISHED_BEFORE_FREED=$(finished "$BATCH")
  rm -f "$VOLUME/ballast"
  base=$(finished "$BATCH")
  recover_after "$t_fault" "$BATCH" "$base"
  FAULT="the database's volume full for ${DISK_FULL}s mid-batch (tables on a full tmpfs; SQLSTATE 53100)"
}

expectations() {
  local refused
  wait_batch "$BATCH"
  refused=$(grep -h 'database unavailable' "$CASE_LOG_PREFIX".fusion.*.log | grep -c "SQLSTATE $DISK_FULL_STATE" || true)
  check "Fusion met the full disk and retried ($refused times)" test "$refused" -ge 1
  check "Fusion refused no result for good" no_log_line "dead-lettering a result the database refuses" "$CASE_LOG_PREFIX".fusion.*.log
  check "all $TOTAL clips fused" test "$(done_clips "$BATCH")" -eq "$TOTAL"
  say "db-disk-full: Fusion retried $refused times on disk_full; clips finished while full: $((FINISHED_BEFORE_FREED - FINISHED_WHEN_FULL))" \
    "(results that fit pages with room); recovery ${RECOVER} s after the volume filled"
}

# Back onto the main volume (after the services stopped: the move needs the database to itself).
teardown() {
  mountpoint -q "$VOLUME" || return 0
  rm -f "$VOLUME/ballast"
  "${SUPERUSER[@]}" -c "ALTER DATABASE emotions SET TABLESPACE pg_default" -c "DROP TABLESPACE er_faults_small" >/dev/null ||
    fail "could not move the database back to its own volume"
  umount "$VOLUME" || fail "could not unmount $VOLUME"
}

