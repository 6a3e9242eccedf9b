#!/usr/bin/env bash
# bench/hotpath/run.sh [BUILD_DIR] (make bench-hotpath): figures, never
# pass/fail. Instructions per reading of the whole daemon (all threads,
# callgrind: repeatable whatever the machine does) on the job of bench-peer
# without the network slave: 110 sensors on a sim bus every 200 ms, every
# reading sent at once (telemetry = 0, telemetry_delay = 0, QoS 1) to a local
# mosquitto, for BENCH_HOT_SECONDS (20) and twice that of wall time. Readings are counted in
# the store afterwards; the top functions go to BENCH_KEEP's directory.
# Give another build directory (e.g. a worktree of an older commit) to
# compare before and after a change (BENCH_HOT_DELAY=none for builds that
# predate [mqtt] telemetry_delay, and BENCH_HOT_DELAY=1s for this one to
# compare like with like).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-${LIFELINE_BUILD:-$ROOT/build}}
SECS=${BENCH_HOT_SECONDS:-20}
PROG=bench-hotpath
. "$ROOT/bench/lib.sh"
command -v valgrind >/dev/null || die "valgrind is not installed"
[ -x "$BUILD/lifelined" ] || die "$BUILD/lifelined is missing"
bench_setup lifeline-hot.XXXXXX
BPORT=$(bench_port)
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$BPORT" > "$DIR/mosq.conf"
/usr/sbin/mosquitto -c "$DIR/mosq.conf" > "$DIR/mosq.log" 2>&1 & pids+=($!)
{
  printf '[gateway]\nid = hot\nsite = bench\nlog_level = warning\n'
  printf '[mqtt]\nport = %s\ntelemetry_qos = 1\n' "$BPORT"
  # BENCH_HOT_DELAY: telemetry_delay (0); "none" leaves the key out (builds before it: a batch a second)
  [ "${BENCH_HOT_DELAY:-0}" = none ] || printf 'telemetry_delay = %s\n' "${BENCH_HOT_DELAY:-0}"
  printf '[store]\npath = %s/gw.db\n[console]\nsocket = %s/ctl.sock\n[bus sim]\ntype = sim\n' "$DIR" "$DIR"
  for i in $(seq 1 110); do
    printf '[sensor s%s]\nclass = water_flow\nbus = sim\npoll = 200ms\nsim = sine\nsim_max = 10\nsim_period = %ss\ntelemetry = 0\n' "$i" $((20 + i % 30))
  done
} > "$DIR/gw.conf"
# Two runs, SECS and 2 x SECS: the difference is the readings' own cost
# (start-up, the integrity check and the stop cancel out).
run() {
  rm -f "$DIR"/gw.db*
  valgrind --tool=callgrind --callgrind-out-file="$DIR/cg$1.out" "$BUILD/lifelined" -c "$DIR/gw.conf" > "$DIR/gw$1.log" 2>&1 &
  vg=$!; pids+=($vg)
  sleep "$1"
  kill -0 "$vg" 2>/dev/null || die "lifelined stopped: $(grep -v '^==' "$DIR/gw$1.log" | tail -n 3)"
  kill -TERM "$vg"; wait "$vg" 2>/dev/null || true
  echo "$(awk '/^summary:/ { print $2 }' "$DIR/cg$1.out") $(sqlite3 "$DIR/gw.db" 'SELECT count(*) FROM readings')"
}
read -r ir1 n1 <<< "$(run "$SECS")"
read -r ir2 n2 <<< "$(run $((2 * SECS)))"
callgrind_annotate "$DIR/cg$((2 * SECS)).out" 2>/dev/null | sed -n '/^Ir/,$p' | head -n 30 > "$DIR/top.txt" || true
per=$(( n2 > n1 ? (ir2 - ir1) / (n2 - n1) : 0 ))
echo "== bench-hotpath: $(git -C "$BUILD/.." rev-parse --short HEAD 2>/dev/null || echo '?') ($BUILD): $n1 readings in ${SECS}s ($ir1 instructions), $n2 in $((2 * SECS))s ($ir2): $per instructions per reading"
[ -z "${BENCH_TABLE:-}" ] || echo "instructions per reading, whole daemon (callgrind)|$per|-|-|-" >> "$BENCH_TABLE"
