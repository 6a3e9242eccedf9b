#!/usr/bin/env bash
# bench/soak/run.sh (make bench-soak): one gateway with SOAK_SENSORS (500)
# sensors on the sim bus, each read every second, for SOAK_SECONDS (1800),
# against a local mosquitto and a subscriber taking everything. Every
# SOAK_EVERY (60) seconds one line: RSS, CPU % over the interval, outbox
# depth, readings stored per second, database size. At the end: RSS at the
# first line and the last (goal: flat), CPU %, the deepest outbox.
# 450 sensors follow slow sine waves inside their limits; 50 flap across the
# red limit every 2 minutes (alarm events all along). Telemetry every 10 s
# per sensor. Figures, never pass/fail; the store is on disk (/var/tmp).
set -euo pipefail
PROG=bench-soak
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=${LIFELINE_BUILD:-$ROOT/build}
. "$ROOT/bench/lib.sh"
SECS=${SOAK_SECONDS:-1800}
N=${SOAK_SENSORS:-500}
EVERY=${SOAK_EVERY:-60}
[ -x "$B/lifelined" ] || die "$B/lifelined is missing: run make"
command -v sqlite3 >/dev/null || die "the sqlite3 shell is missing: run make deps"

TMPDIR=/var/tmp bench_setup lifeline-soak.XXXXXX
BROKER=$(bench_port)
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$BROKER" >"$DIR/mosq.conf"
/usr/sbin/mosquitto -c "$DIR/mosq.conf" >"$DIR/mosq.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do (echo >"/dev/tcp/127.0.0.1/$BROKER") 2>/dev/null && break; sleep 0.05; done
mosquitto_sub -h 127.0.0.1 -p "$BROKER" -q 1 -t 'lifeline/#' >/dev/null 2>&1 &
pids+=($!)
{
  printf '[gateway]\nid = soak\nsite = bench\n[mqtt]\nhost = 127.0.0.1\nport = %s\n' "$BROKER"
  printf '[store]\npath = %s/soak.db\n[bus sim]\ntype = sim\n' "$DIR"
  for i in $(seq 1 "$N"); do
    if [ $((i % 10)) = 0 ]; then
      printf '[sensor s%d]\nclass = gas\nbus = sim\nsim = square\nsim_min = 5\nsim_max = 60\nsim_period = 120s\n' "$i"
    else
      printf '[sensor s%d]\nclass = gas\nbus = sim\nsim = sine\nsim_min = 1\nsim_max = 8\nsim_period = %ds\n' "$i" $((300 + i))
    fi
    printf 'poll = 1s\non_delay = 0\ntelemetry = 10s\n'
  done
} >"$DIR/soak.conf"
"$B/lifelined" -c "$DIR/soak.conf" >"$DIR/gw.log" 2>&1 &
gw=$!
pids+=($gw)

hz=$(getconf CLK_TCK)
cpu() { awk '{ print $14 + $15 }' "/proc/$gw/stat"; }
rss() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$gw/status"; }
q() { sqlite3 "$DIR/soak.db" "PRAGMA busy_timeout=5000; $1" 2>/dev/null | tail -n 1; }

echo "== bench-soak: $(date -u '+%Y-%m-%d %H:%M:%SZ') $(uname -m) $(nproc) CPU, lifelined $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)," \
     "$N sensors at 1 s for $SECS s"
printf '  %8s %10s %8s %8s %12s %10s\n' "t, s" "RSS kB" "CPU %" "outbox" "readings/s" "db MB"
t0=$(date +%s); c0=$(cpu); n0=0; first_rss=; last_rss=; max_ob=0; t_prev=$t0; c_prev=$c0
while :; do
  sleep "$EVERY"
  kill -0 "$gw" 2>/dev/null || die "lifelined died: $(tail -n 5 "$DIR/gw.log")"
  t=$(date +%s); c=$(cpu); r=$(rss)
  n=$(q 'SELECT count(*) FROM readings'); ob=$(q 'SELECT count(*) FROM outbox')
  pct=$(echo "100 * ($c - $c_prev) / $hz / ($t - $t_prev)" | bc -l)
  rate=$(echo "($n - $n0) / ($t - $t_prev)" | bc -l)
  printf '  %8d %10d %8.2f %8d %12.0f %10.1f\n' $((t - t0)) "$r" "$pct" "$ob" "$rate" \
    "$(echo "$(stat -c %s "$DIR/soak.db") / 1048576" | bc -l)"
  [ -n "$first_rss" ] || first_rss=$r
  last_rss=$r
  [ "$ob" -le "$max_ob" ] || max_ob=$ob
  t_prev=$t; c_prev=$c; n0=$n
  [ $((t - t0)) -lt "$SECS" ] || break
done
total_pct=$(echo "100 * ($(cpu) - $c0) / $hz / ($(date +%s) - $t0)" | bc -l)
hwm=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$gw/status")
events=$(q 'SELECT count(*) FROM alarm_events')
printf '  RSS %d kB after %d s, %d kB at the end (%+d kB), peak %d kB; CPU %.2f %% of one core; deepest outbox %d; %d alarm events\n' \
  "$first_rss" "$EVERY" "$last_rss" $((last_rss - first_rss)) "$hwm" "$total_pct" "$max_ob" "$events"
if [ -n "${BENCH_TABLE:-}" ]; then
  {
    printf 'soak, %s sensors x %s s: RSS kB first / last|%s / %s|-|%.3f|flat\n' "$N" "$SECS" "$first_rss" "$last_rss" \
      "$(echo "$last_rss / $first_rss" | bc -l)"
    printf 'soak: CPU %% of one core / deepest outbox|%.2f / %s|-|-|-\n' "$total_pct" "$max_ob"
  } >>"$BENCH_TABLE"
fi
