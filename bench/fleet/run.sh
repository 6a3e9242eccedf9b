#!/usr/bin/env bash
# bench/fleet/run.sh (make bench-fleet): N gateways (sim buses) against one
# mosquitto and one lifeline-center serve, for each N in FLEET_SIZES
# ("1 5 10 20"). Each gateway has FLEET_FLAPS (10) sensors flapping across
# the red limit every FLEET_PERIOD (4s): about 5 alarm events a second.
#   live:     FLEET_SECONDS (30) of that: alarm events/s the center stored,
#             latency from the sample (the event's ts, the gateway's clock)
#             to the row in the center's database (received_ms, the
#             center's; one machine, one clock) p50/p99, serve's CPU and RSS;
#   capacity: serve stopped for FLEET_AWAY (10) s while the broker keeps its
#             session's messages, the gateways then paused (SIGSTOP: no new
#             events), serve started again: the backlog stored per second.
# Figures, never pass/fail; everything on 127.0.0.1, stores under /var/tmp.
set -euo pipefail
PROG=bench-fleet
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=${LIFELINE_BUILD:-$ROOT/build}
. "$ROOT/bench/lib.sh"
SIZES=${FLEET_SIZES:-1 5 10 20}
SECS=${FLEET_SECONDS:-30}
AWAY=${FLEET_AWAY:-10}
FLAPS=${FLEET_FLAPS:-10}
PERIOD=${FLEET_PERIOD:-4s}
for b in lifelined lifeline-center; do [ -x "$B/$b" ] || die "$B/$b is missing: run make"; done
command -v sqlite3 >/dev/null || die "the sqlite3 shell is missing: run make deps"
TMPDIR=/var/tmp bench_setup lifeline-fleet.XXXXXX
hz=$(getconf CLK_TCK)
now_ms() { date +%s%3N; }
cq() { sqlite3 "$DIR/center.db" "PRAGMA busy_timeout=5000; $1" 2>/dev/null | tail -n 1; }
cpu_of() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

echo "== bench-fleet: $(date -u '+%Y-%m-%d %H:%M:%SZ') $(uname -m) $(nproc) CPU, lifelined $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)," \
     "$FLAPS sensors flapping every $PERIOD per gateway"
printf '  %4s %14s %14s %10s %10s %10s %9s %16s\n' "N" "offered ev/s" "stored ev/s" "p50 ms" "p99 ms" "serve CPU%" "RSS kB" "backlog ev/s"
for n in $SIZES; do
  bench_stop_all
  rm -rf "$DIR/run" && mkdir -p "$DIR/run"
  broker=$(bench_port)
  printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 0\n' "$broker" >"$DIR/run/mosq.conf"
  /usr/sbin/mosquitto -c "$DIR/run/mosq.conf" >"$DIR/run/mosq.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 100); do (echo >"/dev/tcp/127.0.0.1/$broker") 2>/dev/null && break; sleep 0.05; done
  rm -rf "$DIR/center.db"*
  serve_args=(serve --port "$broker" --db "$DIR/center.db" --client-id bench-fleet --check-every 0)
  "$B/lifeline-center" "${serve_args[@]}" >"$DIR/run/serve.log" 2>&1 &
  serve=$!
  pids+=($serve)
  for _ in $(seq 1 100); do grep -q 'subscribed to' "$DIR/run/serve.log" && break; sleep 0.05; done
  gws=()
  for i in $(seq 1 "$n"); do
    {
      printf '[gateway]\nid = gw%d\nsite = fleet\n[mqtt]\nhost = 127.0.0.1\nport = %s\n' "$i" "$broker"
      printf '[store]\npath = %s/run/gw%d.db\n[bus sim]\ntype = sim\n' "$DIR" "$i"
      for k in $(seq 1 "$FLAPS"); do
        printf '[sensor f%d]\nclass = gas\nbus = sim\nsim = square\nsim_min = 5\nsim_max = 60\nsim_period = %s\n' "$k" "$PERIOD"
        printf 'poll = 100ms\non_delay = 0\ntelemetry = off\n'
      done
    } >"$DIR/run/gw$i.conf"
    "$B/lifelined" -c "$DIR/run/gw$i.conf" >"$DIR/run/gw$i.log" 2>&1 &
    pids+=($!)
    gws+=($!)
  done
  sleep 3 # every gateway connected and flapping
  t0=$(now_ms); c0=$(cpu_of "$serve")
  sleep "$SECS"
  t1=$(now_ms); c1=$(cpu_of "$serve")
  rss=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$serve/status")
  stored=$(cq "SELECT count(*) FROM events WHERE received_ms BETWEEN $t0 AND $t1")
  made=0
  for i in $(seq 1 "$n"); do
    made=$((made + $(sqlite3 "$DIR/run/gw$i.db" "PRAGMA busy_timeout=5000; SELECT count(*) FROM alarm_events WHERE ts BETWEEN $t0 AND $t1" | tail -n 1)))
  done
  lat() { # the p-th percentile of received_ms - ts over the window
    cq "SELECT received_ms - ts FROM events WHERE received_ms BETWEEN $t0 AND $t1 ORDER BY 1
        LIMIT 1 OFFSET (SELECT max(0, CAST(count(*) * $1 AS INTEGER) - 1) FROM events WHERE received_ms BETWEEN $t0 AND $t1)"
  }
  p50=$(lat 0.5); p99=$(lat 0.99)
  # capacity: serve away, the broker keeps its session's messages
  bench_stop_pid "$serve"
  sleep "$AWAY"
  for p in "${gws[@]}"; do kill -STOP "$p"; done
  sleep 1
  before=$(cq 'SELECT count(*) FROM events')
  "$B/lifeline-center" "${serve_args[@]}" >>"$DIR/run/serve.log" 2>&1 &
  serve=$!
  pids+=($serve)
  t2=$(now_ms)
  total=0
  for i in $(seq 1 "$n"); do
    total=$((total + $(sqlite3 "$DIR/run/gw$i.db" "PRAGMA busy_timeout=5000; SELECT count(*) FROM alarm_events" | tail -n 1)))
  done
  last=$before
  for _ in $(seq 1 1200); do
    last=$(cq 'SELECT count(*) FROM events')
    [ "$last" -lt "$total" ] || break
    sleep 0.05
  done
  t3=$(now_ms)
  backlog=$((last - before))
  for p in "${gws[@]}"; do kill -CONT "$p"; done
  printf '  %4d %14.1f %14.1f %10s %10s %10.1f %9s %16s\n' "$n" "$(echo "$made * 1000 / ($t1 - $t0)" | bc -l)" \
    "$(echo "$stored * 1000 / ($t1 - $t0)" | bc -l)" "$p50" "$p99" \
    "$(echo "100 * ($c1 - $c0) / $hz * 1000 / ($t1 - $t0)" | bc -l)" "$rss" \
    "$(printf '%.0f (%d in %.1f s)' "$(echo "$backlog * 1000 / ($t3 - $t2)" | bc -l)" "$backlog" "$(echo "($t3 - $t2) / 1000" | bc -l)")"
  if [ -n "${BENCH_TABLE:-}" ]; then
    printf 'fleet %s gateways: center stored ev/s, latency p50 / p99 ms|%.1f, %s / %s|%.1f offered|-|-\n' "$n" \
      "$(echo "$stored * 1000 / ($t1 - $t0)" | bc -l)" "$p50" "$p99" "$(echo "$made * 1000 / ($t1 - $t0)" | bc -l)" >>"$BENCH_TABLE"
    printf 'fleet %s gateways: center backlog ev/s|%.0f|-|-|-\n' "$n" "$(echo "$backlog * 1000 / ($t3 - $t2)" | bc -l)" >>"$BENCH_TABLE"
  fi
done
