# Sourced by the benchmarks: the temporary directory, the processes they
# start, and their end. Set PROG first; then
#   bench_setup TEMPLATE   makes $DIR (mktemp -d -t TEMPLATE) and the trap
#   pids+=($!)             after starting a process: stopped at the end,
#                          last started first (bench_stop_all does it early)
#   bench_port             a free TCP port on 127.0.0.1
# BENCH_KEEP=1 keeps $DIR (and says where).
die() { echo "$PROG: $*" >&2; exit 1; }
bench_port() { /usr/bin/python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
bench_stop_pid() {
  kill -TERM "$1" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.05; done
  kill -KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}
bench_stop_all() {
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do bench_stop_pid "${pids[$i]}"; done
  pids=()
}
bench_end() {
  local rc=$?
  trap - EXIT INT TERM
  bench_stop_all
  if [ "${BENCH_KEEP:-0}" = 1 ]; then echo "$PROG: files kept in $DIR" >&2; else rm -rf "$DIR"; fi
  exit "$rc"
}
bench_setup() {
  DIR=$(mktemp -d -t "$1")
  pids=()
  trap bench_end EXIT INT TERM
}
