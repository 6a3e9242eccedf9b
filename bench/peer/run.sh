#!/usr/bin/env bash
# bench/peer/run.sh (make bench-peer): figures, never pass/fail.
# collectd (Debian's collectd-core, modbus + mqtt plugins: the established C
# daemon for "poll Modbus, publish MQTT") and lifelined do the same job, one
# after the other in this run: the same pymodbus slave (sim_slave.py) with
# SLAVES units of REGS float32 values and a latency probe (uint32 at holding
# 900-901) on each of PROBES units, polled every INTERVAL, every reading
# published QoS 1 to a fresh mosquitto on 127.0.0.1. For each: readings/s
# counted at the broker, its CPU time per reading (/proc/PID/stat, all
# threads, over the window after a 2 s warm-up), its peak RSS (VmHWM), and
# the latency from the slave serving the probe read to the broker delivering
# the reading to a subscriber (latency_report.py, nearest-rank percentiles).
# lifelined does more with each reading: decode, rules, a row in SQLite
# (WAL, synchronous = FULL), the outbox, JSON.
#
# The harness (sim_slave.py, probe_sub.py, latency_report.py,
# collectd.conf.in) is ../shared/bench/peers/ copied here; its README is the
# method. Variables: BENCH_PEER_SECONDS (30), BENCH_PEER_INTERVAL (0.2),
# BENCH_PEER_SLAVES (10), BENCH_PEER_REGS (10), BENCH_PEER_PROBES (10),
# BENCH_KEEP=1 keeps the temporary directory; for experiments,
# BENCH_PEER_ONLY=lifelined skips collectd and BENCH_PEER_WRAP prefixes the
# lifelined command (e.g. "taskset -c 1").
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE=$ROOT/bench/peer
BUILD=${LIFELINE_BUILD:-$ROOT/build}
SECS=${BENCH_PEER_SECONDS:-30}
INTERVAL=${BENCH_PEER_INTERVAL:-0.2}
SLAVES=${BENCH_PEER_SLAVES:-10}
REGS=${BENCH_PEER_REGS:-10}
PROBES=${BENCH_PEER_PROBES:-10}
PY=/usr/bin/python3
PROG=bench-peer
PROBE_ADDR=900

. "$ROOT/bench/lib.sh"
[ -x "$BUILD/lifelined" ] || die "$BUILD/lifelined is missing: run make"
[ -x /usr/sbin/collectd ] || die "collectd is missing: make bench-deps (apt-get install collectd-core)"
[ -x /usr/sbin/mosquitto ] || die "/usr/sbin/mosquitto is missing: run make deps"
[ "$PROBES" -le "$SLAVES" ] || die "BENCH_PEER_PROBES must be <= BENCH_PEER_SLAVES"

bench_setup lifeline-peer.XXXXXX
port() { bench_port; }
stop_pid() { bench_stop_pid "$1"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
tck=$(getconf CLK_TCK)

# One run: $1 = collectd | lifelined. Starts broker, slave, subscribers and
# the daemon; prints "NAME readings_per_s cpu_us_per_reading rss_kb p50 p90 p99 max samples lost".
run() {
  local who=$1 d="$DIR/$1"
  mkdir -p "$d"
  local bport sport
  bport=$(port); sport=$(port)
  printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 100000\n' "$bport" > "$d/mosq.conf"
  /usr/sbin/mosquitto -c "$d/mosq.conf" > "$d/mosq.log" 2>&1 & pids+=($!)
  : > "$d/ctl"
  local probe_args=()
  [ "$PROBES" -gt 0 ] && probe_args=(--probe-units "$(seq -s, 1 "$PROBES")" --probe-addr "$PROBE_ADDR" --probe-log "$d/served.log")
  $PY "$HERE/sim_slave.py" --port "$sport" --units "$(seq -s, 1 "$SLAVES")" --ctl "$d/ctl" "${probe_args[@]}" > "$d/slave.log" 2>&1 & pids+=($!)
  for u in $(seq 1 "$SLAVES"); do for r in $(seq 0 $((REGS - 1))); do
    echo "$u holding $((r * 2)) float32 abcd $u.$r" >> "$d/ctl"; done; done
  sleep 1.5
  local topic filter value_re
  if [ "$who" = collectd ]; then
    topic='collectd/#'
    filter='collectd/+/+/gauge-probe'
    value_re='(?:^|:)\s*(-?[0-9][0-9.eE+-]*)\s*$'
    local data="" slaves=""
    for r in $(seq 0 $((REGS - 1))); do
      data+="  <Data \"r$r\">\n    RegisterBase $((r * 2))\n    RegisterType Float\n    RegisterCmd ReadHolding\n    Type gauge\n    Instance \"r$r\"\n  </Data>\n"
    done
    [ "$PROBES" -gt 0 ] && data+="  <Data \"probe\">\n    RegisterBase $PROBE_ADDR\n    RegisterType Uint32\n    RegisterCmd ReadHolding\n    Type gauge\n    Instance \"probe\"\n  </Data>\n"
    for u in $(seq 1 "$SLAVES"); do
      slaves+="    <Slave $u>\n      Instance \"s$u\"\n"
      for r in $(seq 0 $((REGS - 1))); do slaves+="      Collect \"r$r\"\n"; done
      [ "$u" -le "$PROBES" ] && slaves+="      Collect \"probe\"\n"
      slaves+="    </Slave>\n"
    done
    sed -e "s|@INTERVAL@|$INTERVAL|; s|@DIR@|$d|g; s|@SPORT@|$sport|; s|@BPORT@|$bport|" \
        -e "s|@DATA@|$(printf "$data" | sed ':a;N;$!ba;s/\n/\\n/g')|" \
        -e "s|@SLAVES@|$(printf "$slaves" | sed ':a;N;$!ba;s/\n/\\n/g')|" \
        "$HERE/collectd.conf.in" > "$d/collectd.conf"
  else
    topic='lifeline/v1/bench/peer-gw/telemetry'
    filter=$topic
    # the probe readings of a telemetry message (it carries other readings too)
    value_re='"sensor":"p[0-9]+","lifeline":"[a-z_]+","ts":[0-9]+,"value":([0-9]+)'
    local ms
    ms=$(awk -v i="$INTERVAL" 'BEGIN { printf "%d", i * 1000 }')
    {
      printf '[gateway]\nid = peer-gw\nsite = bench\nlog_level = warning\n'
      printf '[mqtt]\nport = %s\ntelemetry_qos = %s\ntelemetry_delay = 0\n' "$bport" "${BENCH_PEER_QOS:-1}"
      printf '[store]\npath = %s/gw.db\n[console]\nsocket = %s/ctl.sock\n' "$d" "$d"
      printf '[bus slave]\ntype = tcp\nhost = 127.0.0.1\nport = %s\n' "$sport"
      for u in $(seq 1 "$SLAVES"); do
        for r in $(seq 0 $((REGS - 1))); do
          printf '[sensor u%s.r%s]\nclass = water_flow\nbus = slave\nunit_id = %s\nregister = holding:%s\ntype = float32\npoll = %sms\ntelemetry = 0\n' \
            "$u" "$r" "$u" $((r * 2)) "$ms"
        done
        [ "$u" -le "$PROBES" ] &&
          printf '[sensor p%s]\nclass = water_flow\nbus = slave\nunit_id = %s\nregister = holding:%s\ntype = uint32\npoll = %sms\ntelemetry = 0\n' \
            "$u" "$u" "$PROBE_ADDR" "$ms"
      done
    } > "$d/gw.conf"
  fi
  /usr/bin/mosquitto_sub -p "$bport" -h 127.0.0.1 -t "$topic" -q 1 > "$d/sub.out" 2> "$d/sub.err" & pids+=($!)
  local psub="" csub=""
  if [ "$PROBES" -gt 0 ]; then
    # the same arrivals seen by a C subscriber (mosquitto_sub), which spends
    # far less per message than the Python one: a message of many readings
    # (lifelined's) costs the measuring client more than collectd's one-value
    # messages, and that is not the gateway's latency
    /usr/bin/mosquitto_sub -p "$bport" -h 127.0.0.1 -t "$filter" -q 1 -F '%U %p' > "$d/c_arrivals.txt" 2> "$d/csub.err" &
    csub=$!; pids+=($csub)
    $PY "$HERE/probe_sub.py" --port "$bport" --topic "$filter" --out "$d/arrivals.jsonl" --max-seconds $((SECS + 60)) \
      > "$d/probe_sub.log" 2>&1 & psub=$!; pids+=($psub)
  fi
  sleep 0.5
  local pid
  if [ "$who" = collectd ]; then
    /usr/sbin/collectd -f -C "$d/collectd.conf" > "$d/daemon.log" 2>&1 & pid=$!
  else
    ${BENCH_PEER_WRAP:-} "$BUILD/lifelined" -c "$d/gw.conf" > "$d/daemon.log" 2>&1 & pid=$!
  fi
  pids+=($pid)
  sleep 2
  kill -0 "$pid" 2>/dev/null || die "$who did not start: $(tail -n 3 "$d/daemon.log")"
  local c0 c1 n0 n1 t0 t1
  c0=$(cpu_ticks "$pid")
  n0=$(readings "$who" "$d/sub.out")
  t0=$(date +%s.%N)
  sleep "$SECS"
  t1=$(date +%s.%N)
  c1=$(cpu_ticks "$pid")
  n1=$(readings "$who" "$d/sub.out")
  local hwm
  hwm=$(awk '/VmHWM/ { print $2 }' "/proc/$pid/status")
  { cat "/proc/$pid/status" "/proc/$pid/smaps_rollup"
    echo "== Rss kB by mapping"
    awk '/^[0-9a-f]+-[0-9a-f]+ / { name = NF >= 6 ? $6 : "[anon]" } /^Rss:/ { r[name] += $2 }
         END { for (n in r) if (r[n]) print r[n], n }' "/proc/$pid/smaps" | sort -rn; } > "$d/memory.txt" 2>/dev/null || true
  local n=$((n1 - n0))
  local cpu_us=$(( (c1 - c0) * 1000000 / tck ))
  local lat="NA NA NA NA 0 0" clat="NA NA NA NA 0 0"
  if [ -n "$psub" ]; then
    sleep "$(awk -v i="$INTERVAL" 'BEGIN { print (2 * i > 2) ? 2 * i : 2 }')"
    stop_pid "$psub"
    stop_pid "$csub"
    $PY "$HERE/latency_report.py" --served "$d/served.log" --arrivals "$d/arrivals.jsonl" --from "$t0" --to "$t1" \
      --value-re "$value_re" --label "$who" > "$d/latency.txt" 2>&1 || true
    lat=$(lat_fields "$d/latency.txt")
    # mosquitto_sub's "SECONDS.NANOSECONDS PAYLOAD" lines as the report's arrivals
    # (no monotonic clock there: its clock cross-checks do not apply)
    $PY -c 'import json, sys
for l in open(sys.argv[1], errors="replace"):
    w, _, p = l.rstrip("\n").partition(" ")
    try:
        print(json.dumps({"w": float(w), "m": float(w), "t": "", "p": p}))
    except ValueError:
        pass' "$d/c_arrivals.txt" > "$d/c_arrivals.jsonl"
    $PY "$HERE/latency_report.py" --served "$d/served.log" --arrivals "$d/c_arrivals.jsonl" --from "$t0" --to "$t1" \
      --value-re "$value_re" --label "$who" > "$d/c_latency.txt" 2>&1 || true
    clat=$(lat_fields "$d/c_latency.txt")
  fi
  echo "$who $(awk -v n="$n" -v s="$SECS" 'BEGIN { printf "%.0f", n / s }') $(awk -v c="$cpu_us" -v n="$n" 'BEGIN { printf "%.1f", n ? c / n : 0 }') $hwm $lat $clat"
  bench_stop_all # everything of this run stops before the next starts
}

# p50 p90 p99 max samples lost+dup from a latency_report.py output
lat_fields() {
  local f
  f=$(awk '/^latency:/ && /p50_ms/ {
      for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
      print v["p50_ms"], v["p90_ms"], v["p99_ms"], v["max_ms"], v["samples"], v["lost"] + v["dup"] }' "$1")
  echo "${f:-NA NA NA NA 0 0}"
}

# Readings that reached the broker so far: collectd sends one per message,
# lifelined batches them (each reading has one "sensor" key).
readings() {
  if [ "$1" = collectd ]; then wc -l < "$2"; else grep -o '"sensor":' "$2" | wc -l; fi
}

echo "== bench-peer: $(date -u +%FT%TZ) $(uname -m), $(nproc) CPU, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
echo "   collectd $(/usr/sbin/collectd -h 2>&1 | sed -n 's/^collectd \([0-9.]*\).*/\1/p' | head -n 1), lifelined $("$BUILD/lifelined" -V 2>/dev/null | head -n 1 || echo ?) ($(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')),"\
  "$SLAVES slaves x $REGS float32 + $PROBES probes every ${INTERVAL}s, ${SECS}s windows"
C="collectd NA NA NA NA NA NA NA 0 0 NA NA NA NA 0 0"
if [ "${BENCH_PEER_ONLY:-}" != lifelined ]; then
  run collectd > "$DIR/collectd.line"
  C=$(cat "$DIR/collectd.line")
fi
echo "   $C"
run lifelined > "$DIR/lifelined.line"
L=$(cat "$DIR/lifelined.line")
echo "   $L"
read -r _ c_rate c_cpu c_rss c_p50 c_p90 c_p99 c_max c_n c_bad c_cp50 c_cp90 c_cp99 c_cmax c_cn c_cbad <<< "$C"
read -r _ l_rate l_cpu l_rss l_p50 l_p90 l_p99 l_max l_n l_bad l_cp50 l_cp90 l_cp99 l_cmax l_cn l_cbad <<< "$L"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "NA" || b == "NA" || b == 0) print "NA"; else printf "%.2f", a / b }'; }
printf '%-34s %12s %12s %7s  %s\n' figure lifelined collectd ratio goal
printf '%-34s %12s %12s %7s  %s\n' "readings/s at the broker" "$l_rate" "$c_rate" "$(ratio "$l_rate" "$c_rate")" "same job"
printf '%-34s %12s %12s %7s  %s\n' "CPU us per reading" "$l_cpu" "$c_cpu" "$(ratio "$l_cpu" "$c_cpu")" "<= 0.5"
printf '%-34s %12s %12s %7s  %s\n' "peak RSS kB" "$l_rss" "$c_rss" "$(ratio "$l_rss" "$c_rss")" "<= 1"
printf '%-34s %12s %12s %7s  %s\n' "latency p50 ms, Python subscriber" "$l_p50" "$c_p50" "$(ratio "$l_p50" "$c_p50")" ""
printf '%-34s %12s %12s %7s  %s\n' "latency p90 ms" "$l_p90" "$c_p90" "$(ratio "$l_p90" "$c_p90")" ""
printf '%-34s %12s %12s %7s  %s\n' "latency p99 ms" "$l_p99" "$c_p99" "$(ratio "$l_p99" "$c_p99")" ""
printf '%-34s %12s %12s %7s  %s\n' "latency max ms" "$l_max" "$c_max" "" ""
printf '%-34s %12s %12s %7s  %s\n' "probe samples (lost+dup)" "$l_n ($l_bad)" "$c_n ($c_bad)" "" ""
printf '%-34s %12s %12s %7s  %s\n' "latency p50 ms, C subscriber" "$l_cp50" "$c_cp50" "$(ratio "$l_cp50" "$c_cp50")" ""
printf '%-34s %12s %12s %7s  %s\n' "latency p90 ms, C subscriber" "$l_cp90" "$c_cp90" "$(ratio "$l_cp90" "$c_cp90")" ""
printf '%-34s %12s %12s %7s  %s\n' "latency p99 ms, C subscriber" "$l_cp99" "$c_cp99" "$(ratio "$l_cp99" "$c_cp99")" "<= 1"
printf '%-34s %12s %12s %7s  %s\n' "latency max ms, C subscriber" "$l_cmax" "$c_cmax" "" ""
printf '%-34s %12s %12s %7s  %s\n' "probe samples, C sub (lost+dup)" "$l_cn ($l_cbad)" "$c_cn ($c_cbad)" "" ""

# for make bench's table
if [ -n "${BENCH_TABLE:-}" ]; then
  {
    echo "vs collectd: CPU us per reading|$l_cpu|$c_cpu collectd|$(ratio "$l_cpu" "$c_cpu")|<= 0.5"
    echo "vs collectd: peak RSS kB|$l_rss|$c_rss collectd|$(ratio "$l_rss" "$c_rss")|<= 1"
    echo "vs collectd: latency p50 ms (C subscriber)|$l_cp50|$c_cp50 collectd|$(ratio "$l_cp50" "$c_cp50")|-"
    echo "vs collectd: latency p99 ms (C subscriber)|$l_cp99|$c_cp99 collectd|$(ratio "$l_cp99" "$c_cp99")|<= 1"
  } >> "$BENCH_TABLE"
fi
