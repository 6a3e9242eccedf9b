# In the VM (tests/vm/run.sh): GPIO edge -> broker latency. mosquitto on
# 127.0.0.1:1883, mosquitto_sub stamping each telemetry message (%U, ns), a
# contact on in4 with no debounce whose every change is sent at once
# (deadband, telemetry_delay = 0). Each reading's ts is the kernel's
# timestamp of its edge (ms), so latency = arrival - ts, to 1 ms (an upper
# bound: ts is truncated to the millisecond). Prints "EDGE-LATENCY ..." lines.
set -u
NAME=GPIO-LAT
. ./lib.sh
N=${EDGES:-200}
printf 'listener 1883 127.0.0.1\nallow_anonymous true\npersistence false\nuser root\n' > /tmp/mosq.conf
mosquitto -c /tmp/mosq.conf > /tmp/mosq.log 2>&1 &
sleep 0.5
mosquitto_sub -h 127.0.0.1 -p 1883 -q 1 -t 'lifeline/v1/vm/vm-gw/telemetry' -F '%U %p' > /tmp/arrivals 2>/tmp/sub.err &
SUB=$!
pull 4 down
MQTT_PORT=1883 MQTT_KEYS='telemetry_qos = 1
telemetry_delay = 0
' start_gateway <<CONF
[bus gpio]
type = gpio
[sensor contact]
class = digital
bus = gpio
input = in4
debounce = 0
telemetry = 1h
deadband = 0.5
CONF
sleep 2
i=0
while [ $i -lt "$N" ]; do
  pull 4 up; usleep 30000
  pull 4 down; usleep 30000
  i=$((i + 1))
done
sleep 2
kill $GW; wait $GW
kill $SUB
# each arrival: its time and the ts of every reading of contact in it
awk '{ t = $1; p = $0
       while (match(p, /"sensor":"contact","lifeline":"[a-z_]+","ts":[0-9]+/)) {
         s = substr(p, RSTART, RLENGTH); sub(/.*"ts":/, "", s)
         if (seen++) printf "%.3f\n", (t - s / 1000) * 1000   # (the first: the state at start)
         p = substr(p, RSTART + RLENGTH) } }' /tmp/arrivals | sort -n > /tmp/lat
n=$(wc -l < /tmp/lat)
pct() { awk -v p="$1" -v n="$n" 'NR == int((p / 100) * n + 0.999) || (NR == 1 && int((p / 100) * n + 0.999) == 0) { print; exit }' /tmp/lat; }
echo "EDGE-LATENCY edges=$((2 * N)) samples=$n p50_ms=$(pct 50) p90_ms=$(pct 90) p99_ms=$(pct 99) max_ms=$(tail -n 1 /tmp/lat)"
[ "$n" -ge $((2 * N - 1)) ] || { echo "EDGE-LATENCY: only $n readings for $((2 * N)) edges"; cat /tmp/gw.log | tail -n 5; exit 1; }
exit 0
