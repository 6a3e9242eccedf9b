# In the VM: GPIO inputs on the kernel's gpio-sim chip become samples and
# alarms; a line bouncing 10 times is one change; a line that does not
# exist is a comm_fault, not a crash. Exit 0: pass.
set -u
NAME=GPIO
. ./lib.sh
pull 0 down
pull 1 down
gpiomon lifeline-sim0 3 >/dev/null 2>&1 &
MON=$!
sleep 0.3
start_gateway <<CONF
[bus gpio]
type = gpio
; a float switch by line name
[sensor float-1]
class = digital
lifeline = drainage
bus = gpio
input = in0
red = 1
on_delay = 0
debounce = 20ms
; a cover contact by chip label and offset
[sensor cover-1]
class = door
bus = gpio
input = lifeline-sim0:1
on_delay = 0
debounce = 100ms
; a line nobody has
[sensor ghost]
class = digital
bus = gpio
input = no-such-line
; a chip nobody has, a line past the chip's end, a line another program holds
[sensor nochip]
class = digital
bus = gpio
input = no-chip:1
[sensor far]
class = digital
bus = gpio
input = lifeline-sim0:99
[sensor held]
class = digital
bus = gpio
input = in3
CONF
sleep 0.5
ctl show sensors | grep -Eq '^float-1 +digital +0 ' || fail "float-1 does not read 0 at start"
grep -q "sensor 'ghost': input no-such-line: no GPIO line named 'no-such-line'; it reports comm_fault" /tmp/gw.log ||
  fail "no clear error for the missing line"
grep -q "sensor 'nochip': input no-chip:1: no GPIO chip 'no-chip'" /tmp/gw.log || fail "no clear error for the missing chip"
grep -q "sensor 'far': input lifeline-sim0:99: line 99 is out of range: chip 'lifeline-sim0' (gpiochip0) has lines 0 to 15" \
  /tmp/gw.log || fail "no clear error for the line out of range"
grep -q "sensor 'held': input in3: line in3 is in use by 'gpiomon'" /tmp/gw.log || fail "no clear error for the busy line"
kill $MON

# an edge becomes an alarm, at once (no polling)
pull 0 up
for i in $(seq 1 20); do ctl show alarms | grep -q 'float-1 .*red' && break; sleep 0.1; done
ctl show alarms | grep -Eq 'float-1 +threshold +red' || fail "float-1 pulled up: no red alarm"
ctl show sensors | grep -Eq '^float-1 +digital +1 ' || fail "float-1 does not read 1"
pull 0 down
for i in $(seq 1 20); do ctl show alarms | grep -q 'float-1' || break; sleep 0.1; done
ctl show alarms | grep -q 'float-1' && fail "float-1 pulled down: the alarm did not clear"

# a bouncing contact: 10 toggles, ending closed, well within the 100 ms debounce
for i in 1 2 3 4 5; do pull 1 up; pull 1 down; done
pull 1 up
sleep 1
n=$(grep -c "alarm: sensor 'cover-1'" /tmp/gw.log)
[ "$n" = 1 ] || fail "cover-1 bounced 11 times: $n alarm events, expected one"
grep -q "alarm: sensor 'cover-1' threshold raised yellow" /tmp/gw.log || fail "cover-1: no yellow raised"

# the missing line is a fault alarm after fault_after bad samples, and the daemon lives
for i in $(seq 1 50); do ctl show alarms | grep -q 'ghost .*fault' && break; sleep 0.2; done
ctl show alarms | grep -q 'ghost .*fault' || fail "ghost: no fault alarm"
kill -0 $GW || fail "lifelined died"
kill $GW
wait $GW
echo "GPIO INPUTS OK"
exit 0
