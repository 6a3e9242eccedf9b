#!/usr/bin/env bash
# bench/store/run.sh (make bench-store): figures, never pass/fail.
#   1. readings inserted per second through the store path (store_add_reading,
#      a commit every BATCH readings as the 1 s commit makes them), against a
#      plain SQLite loop with the same schema and pragmas, measured one after
#      the other in this run; bytes written per reading (wchar: bytes handed
#      to write(2), which is what SQLite writes to the WAL and the database;
#      write_bytes: what reached the block device in the run, 0 on tmpfs);
#   2. outbox drain: an outbox of alarm events and telemetry messages
#      (BENCH_PER readings each) is made with the store API, then lifelined
#      is started on it against a local mosquitto; a subscriber
#      (mosquitto_sub) stamps each message as it arrives: alarm events/s,
#      messages/s and readings/s from the first message to the last;
#   3. a 24 h outage at 100 readings/s, drained for real the same way
#      (BENCH_DAY=0 skips it).
# Runs in a temporary directory under /var/tmp (a disk, not tmpfs), removed
# at the end unless BENCH_KEEP=1.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=${B:-$ROOT/build}
KEEP=${BENCH_KEEP:-0}
N=${BENCH_READINGS:-200000}
BATCH=${BENCH_BATCH:-100}
ALARMS=${BENCH_ALARMS:-10000}
MSGS=${BENCH_MESSAGES:-10000}
PER=${BENCH_PER:-50}
TQOS=${BENCH_TELEMETRY_QOS:-1}
PY=/usr/bin/python3
PROG=bench-store

die() { echo "$PROG: $*" >&2; exit 1; }
for b in lifelined bench/bench_store; do
  [ -x "$B/$b" ] || die "$B/$b is missing: run make bench-store"
done
[ -x /usr/sbin/mosquitto ] || die "/usr/sbin/mosquitto is missing: run make deps"
command -v sqlite3 >/dev/null || die "the sqlite3 shell is missing: run make deps"

DIR=$(mktemp -d /var/tmp/lifeline-bench-store.XXXXXX)
chmod 755 "$DIR"
pids=()
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  for p in "${pids[@]}"; do
    kill -TERM "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  if [ "$KEEP" = 1 ]; then echo "$PROG: kept $DIR" >&2; else rm -rf "$DIR"; fi
  exit "$rc"
}
trap cleanup EXIT INT TERM
free_port() { "$PY" -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
now_ms() { date +%s%3N; }
val() { sed -n "s/^$1 //p" "$2"; }

cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
rev=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')
echo "== bench/store: $(date -u '+%Y-%m-%d %H:%M:%SZ') | $(uname -m) | ${cpu_model:-unknown cpu} ($(nproc) cpus)" \
     "| sqlite $(sqlite3 --version | cut -d' ' -f1) | lifelined $(cat "$ROOT/VERSION") $rev | $(df -T "$DIR" | awk 'NR==2{print $2}')"

# 1. inserts
"$B/bench/bench_store" insert "$DIR" "$N" "$BATCH" >"$DIR/insert.out"
ours=$(val ours_per_s "$DIR/insert.out"); raw=$(val raw_per_s "$DIR/insert.out")
printf '%-44s %10s readings/s\n' "store path (store_add_reading), commit/$BATCH" "$ours"
printf '%-44s %10s readings/s   (ratio %.2f)\n' "plain SQLite, same schema and pragmas" "$raw" \
  "$(echo "$ours / $raw" | bc -l)"
printf '%-44s %10s ms for a page of 501 readings of 1 sensor of 100 (%s readings stored)\n' "history" \
  "$(val history_page_ms "$DIR/insert.out")" "$N"
printf '%-44s %10s bytes/reading written (%s reached the disk)\n' "store path" \
  "$(val ours_wchar_per_reading "$DIR/insert.out")" "$(val ours_disk_per_reading "$DIR/insert.out")"
printf '%-44s %10s bytes/reading written (%s reached the disk)\n' "plain SQLite" \
  "$(val raw_wchar_per_reading "$DIR/insert.out")" "$(val raw_disk_per_reading "$DIR/insert.out")"

# 2. and 3.: drain(NAME ALARMS MSGS PER MAX_BYTES) makes an outbox with the
# store API, starts lifelined on it against a fresh mosquitto and a
# subscriber that stamps every message; sets first, last_alarm, last (s),
# msg_bytes, db_mb and gw_rss (peak kB), and dies unless every message came.
drain() {
  local name=$1 alarms=$2 msgs=$3 per=$4 maxb=$5
  local db="$DIR/$name.db" total=$(( $2 + $3 )) broker sub gw got empty_since=0
  "$B/bench/bench_store" fill "$db" "$alarms" "$msgs" "$per" "$TQOS" >"$DIR/$name.fill"
  msg_bytes=$(val telemetry_message_bytes "$DIR/$name.fill")
  db_mb=$(( $(stat -c %s "$db") / 1048576 ))
  broker=$(free_port)
  # no queue limit: the subscriber must see every message, even QoS 0 ones
  printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 0\n' "$broker" \
    >"$DIR/$name.mosq.conf"
  /usr/sbin/mosquitto -c "$DIR/$name.mosq.conf" >"$DIR/$name.mosq.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 200); do (echo >"/dev/tcp/127.0.0.1/$broker") 2>/dev/null && break; sleep 0.05; done
  cat >"$DIR/$name.conf" <<CONF
[gateway]
id = store
site = bench
[mqtt]
host = 127.0.0.1
port = $broker
max_inflight = ${BENCH_INFLIGHT:-20}
[store]
path = $db
outbox_max_bytes = $maxb
[bus sim]
type = sim
[sensor quiet]
class = gas
bus = sim
telemetry = off
CONF
  # a subscriber takes every message with its arrival time (ns)
  mosquitto_sub -h 127.0.0.1 -p "$broker" -q 1 -t 'lifeline/v1/bench/store/alarm' \
    -t 'lifeline/v1/bench/store/telemetry' -C "$total" -F '%U %t' -d >"$DIR/$name.sub" 2>&1 &
  sub=$!
  pids+=($sub)
  for _ in $(seq 1 200); do grep -q SUBACK "$DIR/$name.sub" 2>/dev/null && break; sleep 0.05; done
  "$B/lifelined" -c "$DIR/$name.conf" >"$DIR/$name.log" 2>&1 &
  gw=$!
  pids+=($gw)
  for _ in $(seq 1 6000); do
    kill -0 "$sub" 2>/dev/null || break
    if [ "$(sqlite3 "$db" 'PRAGMA busy_timeout=2000; SELECT count(*) FROM outbox' 2>/dev/null | tail -n 1)" = 0 ]; then
      empty_since=$(( empty_since + 1 ))
      [ $empty_since -lt 50 ] || break  # sent 5 s ago and still not all there
    fi
    sleep 0.1
  done
  gw_rss=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$gw/status" 2>/dev/null || echo '?')
  got=$(grep -cE '^[0-9.]+ lifeline/' "$DIR/$name.sub" || true)
  [ "$got" = "$total" ] || die "$name: the subscriber got $got of $total messages"
  read -r first last_alarm last < <(awk '$2 ~ /^lifeline/ { t = $1; if (!f) f = t; if ($2 ~ /alarm$/) a = t; l = t }
    END { printf "%s %s %s\n", f, a, l }' "$DIR/$name.sub")
  [ "$(awk '$2 ~ /telemetry$/ { print NR; exit }' "$DIR/$name.sub")" -gt \
    "$(awk '$2 ~ /alarm$/ { n = NR } END { print n }' "$DIR/$name.sub")" ] \
    || echo "$PROG: WARNING: $name: telemetry arrived before the last alarm event" >&2
  kill -TERM "$gw" 2>/dev/null || true
  wait "$gw" 2>/dev/null || true
  [ "$KEEP" = 1 ] || rm -f "$db" "$db-wal" "$db-shm" "$DIR/$name.sub"
}

# 2. drain
drain drain "$ALARMS" "$MSGS" "$PER" 64M
total=$(( ALARMS + MSGS ))
secs=$(echo "$last - $first" | bc -l)
rate=$(echo "$total / $secs" | bc -l)
alarm_rate=$(echo "$ALARMS / ($last_alarm - $first)" | bc -l)
drain_alarm_s=$(echo "$last_alarm - $first" | bc -l)
drain_last_s=$secs
printf '%-44s %10.0f alarm events/s (%d, all before the first telemetry)\n' "outbox drain: alarms first" \
  "$alarm_rate" "$ALARMS"
printf '%-44s %10.0f messages/s (%d messages in %.2f s, first to last)\n' "outbox drain to local mosquitto" "$rate" "$total" "$secs"
printf '%-44s %10.0f readings/s (%d per telemetry message, %s bytes each, QoS %s)\n' "telemetry drained" \
  "$(echo "$MSGS * $PER / ($last - $last_alarm)" | bc -l)" "$PER" "$msg_bytes" "$TQOS"

# 3. a day offline at 100 readings/s, for real: one telemetry message a
# second of 100 readings (what telemetry_delay = 1s makes of 100 sensors
# at 1 s), DAY_ALARMS alarm events, an outbox large enough to keep it all
if [ "${BENCH_DAY:-1}" = 1 ]; then
  DAY_ALARMS=${BENCH_DAY_ALARMS:-2000}
  DAY_MSGS=${BENCH_DAY_MESSAGES:-86400}
  drain day "$DAY_ALARMS" "$DAY_MSGS" 100 2G
  day_alarm_s=$(echo "$last_alarm - $first" | bc -l)
  day_s=$(echo "$last - $first" | bc -l)
  printf '%-44s %10.1f s to the last of %d alarm events, %.1f s to the last of %d telemetry messages\n' \
    "24 h outage at 100 readings/s, drained" "$day_alarm_s" "$DAY_ALARMS" "$day_s" "$DAY_MSGS"
  printf '%-44s %10s MB database, %s bytes per message, lifelined peak RSS %s kB\n' "" "$db_mb" "$msg_bytes" "$gw_rss"
  kept=$(echo "64 * 1048576 / $msg_bytes * 100" | bc)
  printf '%-44s %10s readings fit the default outbox_max_bytes (64M): the newest %.1f h; older telemetry is dropped and counted\n' \
    "" "$kept" "$(echo "$kept / 100 / 3600" | bc -l)"
fi

# for make bench's table
if [ -n "${BENCH_TABLE:-}" ]; then
  {
    printf 'store insert, readings/s (commit/%s)|%s|%s plain SQLite|%.2f|>= 0.8\n' "$BATCH" "$ours" "$raw" \
      "$(echo "$ours / $raw" | bc -l)"
    printf 'bytes written per reading|%s|%s plain SQLite|-|-\n' "$(val ours_wchar_per_reading "$DIR/insert.out")" \
      "$(val raw_wchar_per_reading "$DIR/insert.out")"
    printf 'outbox drain, alarm events/s|%.0f|-|-|-\n' "$alarm_rate"
    printf 'outbox drain: last of %s alarms / of %s telemetry msgs, s|%.2f / %.2f|-|-|alarms first\n' "$ALARMS" "$MSGS" \
      "$drain_alarm_s" "$drain_last_s"
    [ "${BENCH_DAY:-1}" != 1 ] || printf '24 h outage at 100 readings/s (%s alarms, %s msgs of 100): last alarm / last telemetry, s|%.1f / %.1f|-|-|alarms first\n' \
      "$DAY_ALARMS" "$DAY_MSGS" "$day_alarm_s" "$day_s"
  } >> "$BENCH_TABLE"
fi
