#!/usr/bin/env bash
# bench/rtu/run.sh (make bench-rtu): figures, never pass/fail.
# The gateway's use of an RS-485 line against its physical limit: 10 slaves
# on one RTU line (a socat pty pair) served by tests/integration/fieldslave.py
# with --char-timing, which holds each reply until its last byte would have
# arrived on a real line (request wire time + t3.5 + 5 ms turnaround + reply
# wire time, 11-bit characters). lifelined polls one uint32 (N = 2 registers)
# on each slave far faster than the line allows, so the line is never idle;
# the requests the slave received in a window of BENCH_RTU_SECONDS (10) are
# counted from its log and set against the frame arithmetic of
# ../shared/domain/README.md: 1 / ((13 + 2N) characters + 2 t3.5 + 5 ms).
# At 9600 and 115200 baud.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${LIFELINE_BUILD:-$ROOT/build}
SECS=${BENCH_RTU_SECONDS:-10}
PY=/usr/bin/python3
PROG=bench-rtu
. "$ROOT/bench/lib.sh"
[ -x "$BUILD/lifelined" ] || die "$BUILD/lifelined is missing: run make"
command -v socat >/dev/null || die "socat is missing: run make deps"
bench_setup lifeline-rtu.XXXXXX

echo "== bench-rtu: $(date -u +%FT%TZ) $(uname -m), lifelined $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?'), 10 slaves, N=2, ${SECS}s windows"
for baud in ${BENCH_RTU_BAUDS:-9600 115200}; do
  d="$DIR/$baud"; mkdir -p "$d"
  socat pty,raw,echo=0,link="$d/slave" pty,raw,echo=0,link="$d/gw" 2> "$d/socat.log" & pids+=($!)
  for _ in $(seq 1 100); do [ -e "$d/slave" ] && [ -e "$d/gw" ] && break; sleep 0.05; done
  : > "$d/ctl"; : > "$d/req.log"
  $PY "$ROOT/tests/integration/fieldslave.py" --rtu "$d/slave" --baud "$baud" --char-timing --units 1,2,3,4,5,6,7,8,9,10 \
    --side-port 0 --ctl "$d/ctl" --log "$d/req.log" > "$d/slave.out" 2>&1 & pids+=($!)
  for _ in $(seq 1 100); do grep -q '^fieldslave: ready' "$d/slave.out" 2>/dev/null && break; sleep 0.1; done
  grep -q '^fieldslave: ready' "$d/slave.out" || die "fieldslave did not start: $(tail -n 3 "$d/slave.out")"
  {
    printf '[gateway]\nid = rtu\nsite = bench\nlog_level = warning\n[mqtt]\nport = 1\n'
    printf '[store]\npath = %s/gw.db\n[console]\nsocket = %s/ctl.sock\n' "$d" "$d"
    printf '[bus line]\ntype = rtu\ndevice = %s/gw\nbaud = %s\ntimeout = 500ms\n' "$d" "$baud"
    for u in $(seq 1 10); do
      printf '[sensor s%s]\nclass = water_flow\nbus = line\nunit_id = %s\nregister = holding:0\ntype = uint32\npoll = 10ms\ntelemetry = off\n' "$u" "$u"
    done
  } > "$d/gw.conf"
  "$BUILD/lifelined" -c "$d/gw.conf" > "$d/gw.log" 2>&1 & gw=$!; pids+=($gw)
  sleep 2
  t0=$($PY -c 'import time; print(time.monotonic())')
  sleep "$SECS"
  t1=$($PY -c 'import time; print(time.monotonic())')
  got=$(awk -v a="$t0" -v b="$t1" '$1 >= a && $1 < b { n++ } END { print n + 0 }' "$d/req.log")
  rate=$(awk -v n="$got" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", n / (b - a) }')
  # the domain notes' arithmetic: 11-bit characters, t3.5 fixed at 1.75 ms above 19200 baud
  limit=$(awk -v baud="$baud" 'BEGIN { c = 11000 / baud; t35 = baud > 19200 ? 1.75 : 3.5 * c;
    printf "%.1f", 1000 / ((13 + 2 * 2) * c + 2 * t35 + 5) }')
  util=$(awk -v r="$rate" -v l="$limit" 'BEGIN { printf "%.3f", r / l }')
  printf '  %6s baud: %7s transactions/s achieved, limit %6s: utilisation %s (goal >= 0.9)\n' "$baud" "$rate" "$limit" "$util"
  [ -z "${BENCH_TABLE:-}" ] || echo "RTU line, $baud baud, 10 slaves: transactions/s|$rate|$limit frame arithmetic|$util|>= 0.9" >> "$BENCH_TABLE"
  bench_stop_all
done
