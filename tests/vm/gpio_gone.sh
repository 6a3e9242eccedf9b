# In the VM: the GPIO chip disappears while the daemon reads it (gpio-sim's
# `live` set to 0): its sensors become comm_fault and raise their fault
# alarm; the daemon goes on. Exit 0: pass.
set -u
NAME=GPIO-GONE
. ./lib.sh
start_gateway <<CONF
[bus gpio]
type = gpio
[sensor float-1]
class = digital
bus = gpio
input = in0
red = 1
CONF
sleep 1
ctl show sensors | grep -Eq '^float-1 +digital +0 +good' || fail "float-1 is not read before"
echo 0 > /sys/kernel/config/gpio-sim/sim0/live || fail "cannot take the chip away"
for i in $(seq 1 50); do ctl show alarms | grep -Eq 'float-1 +fault +yellow' && break; sleep 0.2; done
ctl show alarms | grep -Eq 'float-1 +fault +yellow' || fail "no fault alarm once the chip is gone"
ctl show sensors | grep -Eq '^float-1 .*comm_fault' || fail "float-1 is not comm_fault"
grep -q "quality good -> comm_fault (No such device)" /tmp/gw.log || fail "no log line saying why"
kill -0 $GW || fail "lifelined died"
kill $GW
wait $GW
echo "GPIO GONE OK"
exit 0
