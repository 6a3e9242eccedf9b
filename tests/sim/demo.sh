#!/usr/bin/env bash
# make demo: a private mosquitto broker, the simulated field devices
# (lifeline-sim) and lifelined with config/demo.conf, all on free loopback
# ports; the monitoring-center side (lifeline-center watch) prints each alarm
# as it arrives. Runs until Ctrl-C, or DEMO_SECONDS (default: until Ctrl-C).
# DEMO_SPEED makes the simulated site's time run faster (default 1).
# SCENARIO=city: eight gateways instead, one per lifeline (config/city/*.conf),
# against one simulator (scenario city) and one broker.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${LIFELINE_BUILD:-$ROOT/build}
SECONDS_TO_RUN=${DEMO_SECONDS:-0}
SPEED=${DEMO_SPEED:-1}
SCENARIO=${SCENARIO:-demo}
case "$SCENARIO" in demo|city) ;; *) echo "demo: SCENARIO is demo or city" >&2; exit 64 ;; esac
DIR=$(mktemp -d -t lifeline-demo.XXXXXX)
pids=()

port() { /usr/bin/python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "demo: nothing listens on port $1 ($2)" >&2; return 1
}
cleanup() {
  trap - EXIT INT TERM
  # lifelined first, so its clean "offline" status reaches the watcher
  for ((i=${#pids[@]}-1; i>=0; i--)); do kill "${pids[$i]}" 2>/dev/null || true; sleep 0.3; done
  wait 2>/dev/null || true
  echo "demo: stopped; logs and database kept in $DIR"
}
trap cleanup EXIT
trap 'exit 0' INT TERM

BPORT=$(port); SPORT=$(port)
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$BPORT" > "$DIR/mosquitto.conf"
/usr/sbin/mosquitto -c "$DIR/mosquitto.conf" > "$DIR/mosquitto.log" 2>&1 & pids+=($!)
wait_port "$BPORT" mosquitto
"$BUILD/lifeline-sim" --port "$SPORT" --scenario "$SCENARIO" --speed "$SPEED" > "$DIR/sim.log" 2>&1 & pids+=($!)
wait_port "$SPORT" lifeline-sim

# a config of ROOT/config with this run's ports and paths
localize() { # SRC DEST
  sed -e "/^\[mqtt\]/,/^\[/ s/^port = .*/port = $BPORT/" \
      -e "/^\[bus /,/^\[/ s/^port = .*/port = $SPORT/" \
      -e "s|^path = .*|path = $DIR/$(basename "$2" .conf).db|" \
      -e "s|^profiles = .*|profiles = $ROOT/drivers/profiles|" "$1" > "$2"
  printf '\n[console]\nsocket = %s/%s.sock\n' "$DIR" "$(basename "$2" .conf)" >> "$2"
}

if [ "$SCENARIO" = city ]; then
  confs=()
  for c in "$ROOT"/config/city/*.conf; do
    localize "$c" "$DIR/city-$(basename "$c")"
    confs+=("$DIR/city-$(basename "$c")")
  done
  cat <<MSG
Lifeline city demo: broker 127.0.0.1:$BPORT, one simulated city 127.0.0.1:$SPORT (scenario city, speed $SPEED)
eight gateways, one per lifeline (config/city/*.conf), logs in $DIR/city-*.log
Every 120 s (scenario time): a bridge pier tilts, gas leaks, a cable joint overheats, a
heat pipe leaks, a telecom cabinet opens and floods, a sump fills, a main bursts, a
passenger is trapped: watch each line name its lifeline at the monitoring center.
Ctrl-C stops everything.

MSG
  "$BUILD/lifeline-center" watch --port "$BPORT" 2> "$DIR/center.log" & pids+=($!)
  for c in "${confs[@]}"; do
    "$BUILD/lifelined" -c "$c" > "${c%.conf}.log" 2>&1 & pids+=($!)
  done
else
  localize "$ROOT/config/demo.conf" "$DIR/demo.conf"
  cat <<MSG
Lifeline demo: broker 127.0.0.1:$BPORT, simulated site 127.0.0.1:$SPORT (scenario demo, speed $SPEED)
gateway hefei-north/demo-gw with $DIR/demo.conf; its log is $DIR/lifelined.log
The technician's console, from another terminal: $BUILD/lifelinectl -s $DIR/demo.sock
Gas rises to 60 %LEL and falls back, the water level floods and drains, the
supply main loses pressure, a passenger is trapped in the elevator: watch the
alarms reach the monitoring center.
Ctrl-C stops everything.

MSG
  "$BUILD/lifeline-center" watch --port "$BPORT" 2> "$DIR/center.log" & pids+=($!)
  "$BUILD/lifelined" -c "$DIR/demo.conf" > "$DIR/lifelined.log" 2>&1 & pids+=($!)
fi
if [ "$SECONDS_TO_RUN" -gt 0 ]; then
  sleep "$SECONDS_TO_RUN"
else
  wait
fi
