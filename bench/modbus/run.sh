#!/usr/bin/env bash
# bench/modbus/run.sh (make bench-modbus): figures, never pass/fail.
#   1. polling rate: lifelined vs a raw libmodbus loop (raw_loop), one after
#      the other against the same lifeline-sim, each for BENCH_SECONDS;
#   2. requests saved by coalescing: 20 sensors on contiguous registers, one
#      request per period vs one per sensor (max_registers = 1), counted by
#      the simulator (-v logs one line per request);
#   3. the theoretical RTU line limits, from the frame arithmetic of the
#      domain notes, checked against their table.
# Everything runs on 127.0.0.1 in a temporary directory that is removed at
# the end (BENCH_KEEP=1 keeps it, with the logs and databases).
#
# The simulator and the client under test (raw_loop, lifelined with all its
# threads) are pinned to one CPU, BENCH_CPU (default: the last one this
# shell may use; BENCH_CPU=none: no pinning). A request is a ping-pong
# between two processes; left to the scheduler they sometimes share a CPU
# and sometimes not, and a cross-CPU wake-up costs tens of microseconds on a
# VM, so the same raw loop measured anywhere from 15 000 to 45 000 req/s.
# On one CPU the rate is the reciprocal of the CPU spent per request by
# both sides, which is what a comparison of per-request overhead needs.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${LIFELINE_BUILD:-$ROOT/build}
SECS=${BENCH_SECONDS:-10}
KEEP=${BENCH_KEEP:-0}
WARMUP=2                       # s of polling before a gateway window opens
PY=/usr/bin/python3
PROG=bench-modbus

die() { echo "$PROG: $*" >&2; exit 1; }

[[ $SECS =~ ^[0-9]+$ ]] && (( SECS >= 1 )) || die "BENCH_SECONDS must be a whole number of seconds >= 1"
CO_SECS=$(( SECS / 2 > 2 ? SECS / 2 : 2 ))   # window of each coalescing run
for b in lifelined lifeline-sim bench/raw_loop; do
  [ -x "$BUILD/$b" ] || die "$BUILD/$b is missing: run make first (make bench-modbus builds it)"
done
[ -x /usr/sbin/mosquitto ] || die "/usr/sbin/mosquitto is missing: run make deps"
command -v sqlite3 >/dev/null || die "the sqlite3 shell is missing: run make deps"
[ -x "$PY" ] || die "$PY is missing (used to pick a free port)"

CPU=${BENCH_CPU:-$(sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' /proc/self/status | tr ',' '\n' | tail -n 1 | sed 's/.*-//')}
PIN=()
if [ "$CPU" != none ]; then
  command -v taskset >/dev/null || die "taskset (util-linux) is missing: install it or set BENCH_CPU=none"
  [[ $CPU =~ ^[0-9]+$ ]] || die "BENCH_CPU must be a CPU number or none"
  PIN=(taskset -c "$CPU")
fi

DIR=$(mktemp -d -t lifeline-bench.XXXXXX)
pids=()

# Stops one process we started: TERM, then KILL after 5 s.
stop_pid() {
  local pid=$1
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  forget "$pid"
}
forget() {
  local keep=() p
  for p in "${pids[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
  pids=("${keep[@]}")
}
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do stop_pid "${pids[$i]}"; done
  if [ "$KEEP" = 1 ]; then
    echo "$PROG: logs, configs and databases kept in $DIR" >&2
  else
    rm -rf "$DIR"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# run_bg CMD...: runs CMD in the background and waits for it, so that a
# signal to this script is handled at once, not when CMD ends.
run_bg() {
  "$@" &
  local p=$! rc=0
  pids+=("$p")
  wait "$p" || rc=$?
  forget "$p"
  return "$rc"
}
nap() { run_bg sleep "$1"; }

free_port() { "$PY" -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
now_ms() { date +%s%3N; }

# wait_for PID FILE REGEX WHAT: until FILE has a line matching REGEX (10 s).
wait_for() {
  local pid=$1 file=$2 re=$3 what=$4
  for _ in $(seq 1 500); do
    grep -Eq "$re" "$file" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || { cat "$file" >&2; die "$what exited before it was ready"; }
    sleep 0.02
  done
  cat "$file" >&2
  die "$what not ready after 10 s"
}
wait_port() {
  local pid=$1 port=$2 what=$3
  for _ in $(seq 1 500); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || die "$what exited before listening on port $port"
    sleep 0.02
  done
  die "nothing listens on port $port ($what) after 10 s"
}

# CPU time (utime + stime) in microseconds of PID (all its threads) or of
# PID/task/TID (one thread).
cpu_us() {
  local stat
  [ -r "/proc/$1/stat" ] || die "process ${1%%/*} is gone (its log is in $DIR; BENCH_KEEP=1 keeps it)"
  stat=$(<"/proc/$1/stat")
  stat=${stat##*) }   # after the command name, field 3 is the first
  awk -v hz="$(getconf CLK_TCK)" '{ printf "%d\n", ($12 + $13) * 1e6 / hz }' <<<"$stat"
}

# start_sim NAME [ARGS...]: lifeline-sim on a kernel-chosen port; sets SIM_PID, SIM_PORT.
start_sim() {
  local name=$1; shift
  "${PIN[@]}" "$BUILD/lifeline-sim" --port 0 --scenario steady "$@" 2>"$DIR/$name.log" &
  SIM_PID=$!; pids+=("$SIM_PID")
  wait_for "$SIM_PID" "$DIR/$name.log" 'listening on' lifeline-sim
  SIM_PORT=$(sed -n 's/.*listening on [0-9.]*:\([0-9]*\).*/\1/p' "$DIR/$name.log" | head -n 1)
}

# gateway_conf NAME SIM_PORT: the common head of a config, on stdout.
gateway_conf() {
  cat <<EOF
; generated by bench/modbus/run.sh
[gateway]
id = bench-gw
site = bench
log_level = info

[mqtt]
host = 127.0.0.1
port = $BROKER_PORT

[store]
path = $DIR/$1.db

[bus sim]
type = tcp
host = 127.0.0.1
port = $2
timeout = 500ms
EOF
}

# sensor NAME UNIT REGISTER TYPE POLL: one [sensor] section on bus 'sim'.
sensor() {
  printf '\n[sensor %s]\nclass = digital\nbus = sim\nunit_id = %s\nregister = %s\ntype = %s\npoll = %s\n' \
    "$1" "$2" "$3" "$4" "$5"
}

# start_gateway NAME: lifelined -c DIR/NAME.conf; sets GW_PID once it has started.
start_gateway() {
  "${PIN[@]}" "$BUILD/lifelined" -c "$DIR/$1.conf" 2>"$DIR/$1.log" &
  GW_PID=$!; pids+=("$GW_PID")
  wait_for "$GW_PID" "$DIR/$1.log" 'core: lifelined .* started' lifelined
}

sql() { sqlite3 -cmd '.timeout 5000' "$@"; }

# Waits until the store holds a reading newer than T (ms): readings are
# committed at most once a second, in order, so all up to T are then on disk.
wait_committed() {
  local db=$1 t=$2
  for _ in $(seq 1 250); do
    [ "$(sql "$db" "SELECT count(*) > 0 FROM readings WHERE ts > $t" 2>/dev/null)" = 1 ] && return 0
    sleep 0.02
  done
  die "no reading after the window was committed to $db within 5 s"
}

cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
libmodbus=$(pkg-config --modversion libmodbus 2>/dev/null || echo '?')
rev=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')
git -C "$ROOT" diff --quiet HEAD -- gateway drivers 2>/dev/null || rev="$rev+changes"
pinned=$([ "$CPU" = none ] && echo "not pinned" || echo "pinned to CPU $CPU")
echo "== bench/modbus: $(date -u '+%Y-%m-%d %H:%M:%SZ') | $(uname -m) | ${cpu_model:-unknown cpu}" \
     "($(nproc) cpus, $pinned) | libmodbus $libmodbus | lifelined $(cat "$ROOT/VERSION") $rev"

BROKER_PORT=$(free_port)
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$BROKER_PORT" >"$DIR/mosquitto.conf"
/usr/sbin/mosquitto -c "$DIR/mosquitto.conf" >"$DIR/mosquitto.log" 2>&1 &
pids+=($!)
wait_port "$!" "$BROKER_PORT" mosquitto

# ---- 1. polling rate ------------------------------------------------------
echo
echo "-- 1. polling rate against lifeline-sim (steady), ${SECS} s each, 2 registers per request, $pinned"
start_sim sim-rate
RATE_SIM=$SIM_PID

rs0=$(cpu_us "$RATE_SIM")
run_bg "${PIN[@]}" "$BUILD/bench/raw_loop" 127.0.0.1 "$SIM_PORT" "$SECS" 1 0 2 >"$DIR/raw.out" 2>&1 ||
  die "raw_loop failed: $(cat "$DIR/raw.out")"
raw=$(<"$DIR/raw.out")
rs1=$(cpu_us "$RATE_SIM")
raw_n=$(sed -n 's/.*requests=\([0-9]*\).*/\1/p' <<<"$raw")
raw_rate=$(sed -n 's/.*rate=\([0-9.]*\).*/\1/p' <<<"$raw")
raw_cpu=$(sed -n 's/.*cpu_us_per_req=\([0-9.]*\).*/\1/p' <<<"$raw")
raw_err=$(sed -n 's/.*errors=\([0-9]*\).*/\1/p' <<<"$raw")
raw_sim=$(awk -v a="$rs0" -v b="$rs1" -v n="$raw_n" 'BEGIN { printf "%.2f", (n ? (b - a) / n : 0) }')

# Enough distinct requests to saturate the bus: one uint32 sensor (2
# registers, as raw_loop reads) every 3 holding registers of units 1..5 is
# 165 requests that cannot merge (max_gap = 0); more layers of the same
# registers at poll periods of 11, 12, ... ms are requests of their own (a
# request has one period). Four layers ask for 58 000 req/s; a machine whose
# raw loop comes near that gets more. The config stays the same otherwise,
# because choosing the next request costs time in proportion to their number.
read -r layers demand < <(awk -v raw="$raw_rate" 'BEGIN {
  d = 0; for (k = 0; k < 40 && (k < 4 || d < 1.25 * raw); k++) d += 165 * 1000 / (10 + k)
  printf "%d %.0f\n", k, d }')
{
  gateway_conf rate "$SIM_PORT"
  echo "max_gap = 0"
  for ((k = 0; k < layers; k++)); do
    for u in 1 2 3 4 5; do
      for ((a = 0; a + 1 < 100; a += 3)); do
        sensor "r$k-u$u-h$a" "$u" "holding:$a" uint32 "$((10 + k))ms"
      done
    done
  done
} >"$DIR/rate.conf"
groups=$((layers * 165))

start_gateway rate
nap "$WARMUP"   # connect, fill the schedule, reach steady state
# The main thread is the core loop; the others are the bus worker(s).
tids=$(ls "/proc/$GW_PID/task")
thread_cpu() {  # core_us workers_us
  local t core=0 work=0
  for t in $tids; do
    if [ "$t" = "$GW_PID" ]; then core=$(cpu_us "$GW_PID/task/$t")
    else work=$((work + $(cpu_us "$GW_PID/task/$t"))); fi
  done
  echo "$core $work"
}
t0=$(now_ms); c0=$(cpu_us "$GW_PID"); s0=$(cpu_us "$RATE_SIM"); read -r k0 w0 < <(thread_cpu)
nap "$SECS"
t1=$(now_ms); c1=$(cpu_us "$GW_PID"); s1=$(cpu_us "$RATE_SIM"); read -r k1 w1 < <(thread_cpu)
wait_committed "$DIR/rate.db" "$t1"
read -r gw_n gw_bad < <(sql -separator ' ' "$DIR/rate.db" \
  "SELECT count(*), count(*) - count(CASE quality WHEN 0 THEN 1 END) FROM readings WHERE ts >= $t0 AND ts < $t1")
stop_pid "$GW_PID"
stop_pid "$RATE_SIM"

read -r gw_rate gw_cpu gw_core gw_work gw_sim ratio_rate ratio_cpu < <(awk -v n="$gw_n" \
  -v t0="$t0" -v t1="$t1" -v c="$((c1 - c0))" -v k="$((k1 - k0))" -v w="$((w1 - w0))" \
  -v s="$((s1 - s0))" -v rr="$raw_rate" -v rc="$raw_cpu" 'BEGIN {
  dt = (t1 - t0) / 1000; rate = n / dt; if (!n) n = 1
  printf "%.1f %.2f %.2f %.2f %.2f %.3f %.2f\n", rate, c / n, k / n, w / n, s / n,
         rate / rr, (rc > 0 ? c / n / rc : 0) }')
printf '  %-10s %9s %16s %18s\n' "" "req/s" "client us CPU/req" "server us CPU/req"
printf '  %-10s %9.0f %16.2f %18.2f   (%s errors)\n' raw_loop "$raw_rate" "$raw_cpu" "$raw_sim" "$raw_err"
printf '  %-10s %9.0f %16.2f %18.2f   (bus thread %.2f + core thread %.2f; %s readings, %s not good)\n' \
  lifelined "$gw_rate" "$gw_cpu" "$gw_sim" "$gw_work" "$gw_core" "$gw_n" "$gw_bad"
printf '  gateway asked for %s req/s: %d single-sensor requests on a 10..%d ms grid\n' \
  "$demand" "$groups" "$((9 + layers))"
printf '  ratio gateway/raw: rate %.3f (goal >= 0.9), client CPU per request %.2fx\n' "$ratio_rate" "$ratio_cpu"

# ---- 2. coalescing ---------------------------------------------------------
echo
echo "-- 2. coalescing: 20 uint16 sensors on holding 0..19 of unit 1, poll 100ms, ${CO_SECS} s each"
start_sim sim-count -v
COUNT_SIM=$SIM_PID
requests() { grep -c 'request: unit' "$DIR/sim-count.log" || true; }

# co_run NAME EXTRA_BUS_KEY: sets RUN_REQ (requests/s) and RUN_RD (readings/s).
co_run() {
  {
    gateway_conf "$1" "$SIM_PORT"
    [ -z "$2" ] || echo "$2"
    for a in $(seq 0 19); do sensor "c-h$a" 1 "holding:$a" uint16 100ms; done
  } >"$DIR/$1.conf"
  start_gateway "$1"
  nap 1
  local t0 t1 q0 q1 n
  t0=$(now_ms); q0=$(requests)
  nap "$CO_SECS"
  t1=$(now_ms); q1=$(requests)
  wait_committed "$DIR/$1.db" "$t1"
  n=$(sql "$DIR/$1.db" "SELECT count(*) FROM readings WHERE ts >= $t0 AND ts < $t1")
  stop_pid "$GW_PID"
  read -r RUN_REQ RUN_RD < <(awk -v q="$((q1 - q0))" -v n="$n" -v dt="$((t1 - t0))" \
    'BEGIN { printf "%.1f %.1f\n", q * 1000 / dt, n * 1000 / dt }')
}
co_run coalesced ""; co_req=$RUN_REQ; co_rd=$RUN_RD
co_run single "max_registers = 1"; un_req=$RUN_REQ; un_rd=$RUN_RD
stop_pid "$COUNT_SIM"
reduction=$(awk -v a="$un_req" -v b="$co_req" 'BEGIN { printf "%.1f", (b > 0 ? a / b : 0) }')
printf '  coalesced (default plan)     %7.1f req/s  %7.1f readings/s\n' "$co_req" "$co_rd"
printf '  one request per sensor       %7.1f req/s  %7.1f readings/s  (max_registers = 1)\n' "$un_req" "$un_rd"
printf '  reduction %sx (expected 20x)\n' "$reduction"

# ---- 3. RTU line limits ----------------------------------------------------
echo
echo "-- 3. Modbus RTU line limits (11-bit characters, request 8 bytes, reply 5+2N, 2 x t3.5"
echo "      per transaction, t3.5 fixed 1.75 ms above 19200 baud), polls/s"
# The domain notes' table (../shared/domain/README.md, "Modbus RTU timing"):
# baud N time_ms max/s with_5ms/s, checked against the arithmetic below.
rtu=$(awk 'BEGIN {
  split("9600 19200 38400 115200", bauds, " "); split("2 10 50", ns, " ")
  ref = "9600 2 27.5 36 31;9600 10 45.8 22 20;9600 50 137.5 7 7;" \
        "19200 2 13.7 73 53;19200 10 22.9 44 36;19200 50 68.8 15 14;" \
        "38400 2 8.4 119 75;38400 10 13.0 77 56;38400 50 35.9 28 24;" \
        "115200 2 5.1 195 99;115200 10 6.7 150 86;115200 50 14.3 70 52"
  nr = split(ref, rows, ";")
  for (i = 1; i <= nr; i++) { split(rows[i], f, " "); want[f[1] " " f[2]] = f[3] " " f[4] " " f[5] }
  printf "  %-7s %-7s %-8s | %-22s | %-22s | %-22s\n", "baud", "char ms", "t3.5 ms",
         "N=2: ms  /s  /s+5ms", "N=10", "N=50"
  ok = 0; bad = 0
  for (b = 1; b <= 4; b++) {
    baud = bauds[b]; ch = 11 * 1000 / baud; t35 = baud > 19200 ? 1.75 : 3.5 * ch
    line = sprintf("  %-7d %-7.3f %-8.2f", baud, ch, t35)
    for (j = 1; j <= 3; j++) {
      n = ns[j]; t = (13 + 2 * n) * ch + 2 * t35
      got = sprintf("%.1f %.0f %.0f", t, 1000 / t, 1000 / (t + 5))
      mark = got == want[baud " " n] ? " " : "*"
      if (mark == " ") ok++; else { bad++; diff = diff sprintf("    %d baud N=%d: ours %s, domain table %s\n", baud, n, got, want[baud " " n]) }
      split(got, g, " ")
      if (baud == 9600 && n == 2) { r1 = g[2]; r2 = g[3] }
      line = line sprintf(" | %6.1f %4d %4d%s      ", g[1], g[2], g[3], mark)
    }
    print line
  }
  printf "  domain table check: %d of %d figures agree%s\n", ok, ok + bad, bad ? "; * differs:" : ""
  printf "%s", diff
  printf "RESULT %d %d %s %s\n", ok, ok + bad, r1, r2
}')
grep -v '^RESULT' <<<"$rtu"
read -r _ rtu_ok rtu_all rtu_9600 rtu_9600t < <(grep '^RESULT' <<<"$rtu")

# ---- summary ---------------------------------------------------------------
echo
echo "== summary ($(date -u '+%Y-%m-%d %H:%M:%SZ'), $(uname -m), ${cpu_model:-unknown cpu}, libmodbus $libmodbus)"
{
  echo "figure|ours|baseline|ratio|goal"
  printf 'polling rate, req/s (loopback TCP)|%.0f lifelined|%.0f raw libmodbus|%.3f|>= 0.9\n' "$gw_rate" "$raw_rate" "$ratio_rate"
  printf 'client CPU per request, us|%.2f lifelined|%.2f raw libmodbus|%.2fx|-\n' "$gw_cpu" "$raw_cpu" "$ratio_cpu"
  printf 'requests/s, 20 sensors @ 100ms|%.1f coalesced|%.1f one per sensor|%sx fewer|~20x\n' "$co_req" "$un_req" "$reduction"
  printf 'RTU 9600 baud N=2, polls/s|%s (%s with 5 ms)|36 (31) domain table|%s/%s agree|all\n' \
    "$rtu_9600" "$rtu_9600t" "$rtu_ok" "$rtu_all"
} | awk -F'|' -v t="${BENCH_TABLE:-}" '{ printf "  %-34s %-26s %-26s %-12s %s\n", $1, $2, $3, $4, $5 }
    NR > 1 && t != "" { print >> t }'
