# Sourced by the VM tests (tests/vm/run.sh copies it next to them).
# The gateway they start logs to /tmp/gw.log and answers on /run/ctl.sock.
fail() { echo "$NAME FAIL: $*"; echo "--- log"; cat /tmp/gw.log 2>/dev/null; exit 1; }
pull() { echo "pull-$2" > "$SIM_SYSFS/sim_gpio$1/pull"; }   # drive input line N up or down
ctl() { lifelinectl -s /run/ctl.sock "$@"; }
# A config: the fixed head (no broker unless MQTT_PORT, more [mqtt] lines in
# MQTT_KEYS, a store in /tmp, the console, the board file $BOARD if set) and the sections given on stdin; then starts
# lifelined and waits for it.
start_gateway() {
  { printf '[gateway]\nid = vm-gw\nsite = vm\n'
    [ -n "${BOARD:-}" ] && printf 'board = %s\n' "$BOARD"
    printf '[mqtt]\nport = %s\n%s[store]\npath = /tmp/%s.db\n' "${MQTT_PORT:-1}" "${MQTT_KEYS:-}" "$NAME"
    printf '[console]\nsocket = /run/ctl.sock\n'
    cat; } > /tmp/gw.conf
  rm -f /run/ctl.sock
  lifelined -c /tmp/gw.conf > /tmp/gw.log 2>&1 &
  GW=$!
  for i in $(seq 1 40); do [ -S /run/ctl.sock ] && return 0; sleep 0.25; done
  fail "no control socket"
}
