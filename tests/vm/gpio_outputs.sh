# In the VM: an action drives a GPIO output line of the kernel's chip: at its
# safe state from the start, on when the sensor's level is reached, off when
# it clears; the console holds it on until released; a clean stop lets the
# line go. The test reads the line's value back from sysfs.
set -u
NAME=GPIO-OUT
. ./lib.sh
out0() { cat "$SIM_SYSFS/sim_gpio8/value"; } # line 8 is out0
wait_out() { for i in $(seq 1 30); do [ "$(out0)" = "$1" ] && return 0; sleep 0.1; done; return 1; }
pull 0 down
start_gateway <<CONF
[bus gpio]
type = gpio
[sensor float-1]
class = digital
lifeline = drainage
bus = gpio
input = in0
red = 1
on_delay = 0
[action pump]
sensors = float-1
level = red
output = gpio:out0
CONF
[ "$(out0)" = 0 ] || fail "out0 is not at its safe state (0) at start"
pull 0 up
wait_out 1 || fail "float-1 red: out0 did not go to 1"
grep -q "action 'pump': GPIO out0 = 1" /tmp/gw.log || fail "no log line for the write"
pull 0 down
wait_out 0 || fail "float-1 cleared: out0 did not go back to 0"
# the console's manual override wins until released
ctl set output pump on || fail "set output pump on"
wait_out 1 || fail "held on: out0 is not 1"
ctl show outputs | grep -Eq '^pump +gpio:out0 +manual +1' || fail "show outputs: $(ctl show outputs)"
ctl set output pump auto || fail "set output pump auto"
wait_out 0 || fail "back to auto with the float down: out0 is not 0"
# the gpio commands: read a line, pulse an output
ctl gpio get float-1 | grep -q "input float-1 (line in0) = 0" || fail "gpio get float-1: $(ctl gpio get float-1)"
ctl gpio pulse pump 800ms || fail "gpio pulse"
wait_out 1 || fail "pulse: out0 did not go to 1"
ctl gpio get pump | grep -q "output pump (line out0) = 1 (manual)" || fail "gpio get pump: $(ctl gpio get pump)"
wait_out 0 || fail "pulse: out0 did not come back to 0"
ctl gpio get pump | grep -q "= 0 (auto)" || fail "after the pulse: $(ctl gpio get pump)"
ctl gpio set pump 1 || fail "gpio set pump 1"
wait_out 1 || fail "held on again"
# a clean stop releases the line at its safe state (gpio-sim returns a
# released line to its pull, so this shows the release, and the unit of the
# board must make a released line safe: docs/config.md)
kill $GW
wait $GW
[ "$(out0)" = 0 ] || fail "after a clean stop out0 is $(out0)"
gpioset lifeline-sim0 8=1 || fail "out0 is still held after the daemon stopped"
echo "GPIO OUTPUTS OK"
exit 0
