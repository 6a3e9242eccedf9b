#!/usr/bin/env bash
# bench/footprint/run.sh (make bench-footprint): figures, never pass/fail.
# The stripped size of the binaries, and lifelined's memory with 10 and 500
# sensors (a sim bus, polled every second, telemetry every 60 s, a local
# mosquitto): VmHWM, and RssAnon/RssFile, after BENCH_FOOT_SECONDS (30) of
# running, and again at the end to show whether it still grows.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${LIFELINE_BUILD:-$ROOT/build}
SECS=${BENCH_FOOT_SECONDS:-30}
PROG=bench-footprint
. "$ROOT/bench/lib.sh"
for b in lifelined lifelinectl; do [ -x "$BUILD/$b" ] || die "$BUILD/$b is missing: run make"; done
[ -x /usr/sbin/mosquitto ] || die "/usr/sbin/mosquitto is missing: run make deps"
bench_setup lifeline-foot.XXXXXX
mem() { awk '/^(VmHWM|RssAnon|RssFile):/ { v[$1] = $2 } END { printf "%s %s %s", v["VmHWM:"], v["RssAnon:"], v["RssFile:"] }' "/proc/$1/status"; }

echo "== bench-footprint: $(date -u +%FT%TZ) $(uname -m), lifelined $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
for b in lifelined lifelinectl; do
  strip -o "$DIR/$b" "$BUILD/$b"
  size=$(stat -c %s "$DIR/$b")
  printf '  %-40s %10s bytes\n' "$b, stripped" "$size"
  [ -z "${BENCH_TABLE:-}" ] || echo "$b stripped, bytes|$size|-|-|-" >> "$BENCH_TABLE"
done
BPORT=$(bench_port)
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$BPORT" > "$DIR/mosq.conf"
/usr/sbin/mosquitto -c "$DIR/mosq.conf" > "$DIR/mosq.log" 2>&1 & pids+=($!)
for n in 10 500; do
  conf="$DIR/gw$n.conf"
  {
    printf '[gateway]\nid = foot%s\nsite = bench\nlog_level = warning\n[mqtt]\nport = %s\n' "$n" "$BPORT"
    printf '[store]\npath = %s/gw%s.db\n[console]\nsocket = %s/ctl%s.sock\n[bus sim]\ntype = sim\n' "$DIR" "$n" "$DIR" "$n"
    for i in $(seq 1 "$n"); do
      printf '[sensor s%s]\nclass = water_flow\nbus = sim\npoll = 1s\nsim = sine\nsim_max = 10\nsim_period = %ss\n' "$i" $((30 + i % 50))
    done
  } > "$conf"
  "$BUILD/lifelined" -c "$conf" > "$DIR/gw$n.log" 2>&1 & pid=$!; pids+=($pid)
  sleep "$SECS"
  read -r hwm anon file <<< "$(mem "$pid")"
  sleep 10
  read -r hwm2 _ _ <<< "$(mem "$pid")"
  printf '  %-40s %10s kB VmHWM (anon %s, file %s); %s kB 10 s later\n' "lifelined, $n sensors, after ${SECS}s" "$hwm" "$anon" "$file" "$hwm2"
  [ -z "${BENCH_TABLE:-}" ] || echo "lifelined peak RSS kB, $n sensors|$hwm|-|-|-" >> "$BENCH_TABLE"
  kill "$pid"; wait "$pid" 2>/dev/null || true
done
