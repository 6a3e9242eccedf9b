# In the VM, with the board file board/qemu-x86_64/board.conf: a config
# names lines by the board's names (DI1, RELAY1); a board entry that cannot
# be had is an error naming the board file's line; the status LEDs show
# offline (slow blink), an unacknowledged alarm (fast blink), acknowledged
# (on), none (off); the watchdog is fed by the core loop, fires when the
# loop is stopped (SIGSTOP) and is disarmed by a clean stop. Exit 0: pass.
set -u
NAME=GPIO-BOARD
. ./lib.sh
line() { cat "$SIM_SYSFS/sim_gpio$1/value"; }
# toggles of a line seen in about 2 s of sampling
toggles() {
  n=0; last=$(line "$1")
  for i in $(seq 1 50); do
    v=$(line "$1"); [ "$v" != "$last" ] && n=$((n + 1)); last=$v; usleep 40000
  done
  echo $n
}
triggered() { dmesg | grep -c 'softdog: Triggered'; }
cp /test/board.conf /tmp/board.conf
echo "DI9 = lifeline-sim0:40" >> /tmp/board.conf
DI9_LINE=$(grep -n '^DI9' /tmp/board.conf | cut -d: -f1)
BOARD=/tmp/board.conf
pull 0 down
# a board entry the chip does not have
start_gateway <<CONF
[bus gpio]
type = gpio
[sensor far]
class = digital
bus = gpio
input = DI9
CONF
grep -q "sensor 'far': input DI9: line 40 is out of range: chip 'lifeline-sim0' (gpiochip0) has lines 0 to 15 (board /tmp/board.conf:$DI9_LINE: DI9 = lifeline-sim0:40)" /tmp/gw.log ||
  fail "the error does not name the board file's entry"
kill $GW
wait $GW

start_gateway <<CONF
[bus gpio]
type = gpio
[sensor float-1]
class = digital
lifeline = drainage
bus = gpio
input = DI1
red = 1
on_delay = 0
[action pump]
sensors = float-1
level = red
output = gpio:RELAY1
CONF
sleep 1
grep -q "gpio: sensor 'float-1' on line DI1 (gpiochip0 0)" /tmp/gw.log || fail "DI1 is not line 0 of the chip"
grep -q "watchdog: /dev/watchdog armed, 5s timeout" /tmp/gw.log || fail "watchdog not armed"
# every line is requested as "lifelined"
for l in in0 out0 out6 out7; do
  gpioinfo lifeline-sim0 | grep "\"$l\"" | grep -q '"lifelined"' || fail "line $l: $(gpioinfo lifeline-sim0 | grep "\"$l\"")"
done

# no broker: the run LED blinks slowly; no alarm: the alarm LED is off
t=$(toggles 14)
echo "run LED offline: $t toggles in 2 s"
[ "$t" -ge 2 ] && [ "$t" -le 7 ] || fail "run LED offline: $t toggles, expected a 1 Hz blink"
[ "$(toggles 15)" = 0 ] && [ "$(line 15)" = 0 ] || fail "alarm LED is not off with no alarm"

# an alarm: the relay closes, the alarm LED blinks fast until acknowledged
pull 0 up
for i in $(seq 1 20); do [ "$(line 8)" = 1 ] && break; sleep 0.1; done
[ "$(line 8)" = 1 ] || fail "RELAY1 did not close"
t=$(toggles 15)
echo "alarm LED unacknowledged: $t toggles in 2 s"
[ "$t" -ge 8 ] || fail "alarm LED: $t toggles, expected a 4 Hz blink"
id=$(ctl show alarms | awk '/float-1/ { print $1 }')
ctl ack "$id" || fail "ack $id: $(ctl ack "$id")"
sleep 1.5
[ "$(toggles 15)" = 0 ] && [ "$(line 15)" = 1 ] || fail "alarm LED is not steady on after the ack"
pull 0 down
sleep 1.5
[ "$(line 15)" = 0 ] || fail "alarm LED is not off after the alarm cleared"

# the watchdog: fed while the loop runs; not when it is stopped
sleep 6
[ "$(triggered)" = 0 ] || fail "the watchdog fired while the loop was running"
kill -STOP $GW
sleep 7
[ "$(triggered)" = 1 ] || fail "the watchdog did not fire with the loop stopped: $(dmesg | tail -n 5)"
kill -CONT $GW
sleep 1
# a clean stop disarms it, and lets the LEDs go dark
kill $GW
wait $GW
grep -q "watchdog: /dev/watchdog disarmed (clean stop)" /tmp/gw.log || fail "not disarmed"
sleep 7
[ "$(triggered)" = 1 ] || fail "the watchdog fired after a clean stop"
[ "$(line 14)" = 0 ] && [ "$(line 15)" = 0 ] || fail "LEDs not dark after the stop"
echo "GPIO BOARD OK"
exit 0
