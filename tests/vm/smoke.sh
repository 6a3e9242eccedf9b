# In the VM (tests/vm/run.sh ... smoke.sh): the kernel's GPIO chip is there
# and answers, and the gateway's binaries run on this kernel. Exit 0: pass.
set -u
fail() { echo "SMOKE FAIL: $*"; exit 1; }
gpioinfo lifeline-sim0 | grep -q '"in0"' || fail "no line in0 on lifeline-sim0"
gpioinfo lifeline-sim0 | grep -q '"out7"' || fail "no line out7"
echo pull-up > "$SIM_SYSFS/sim_gpio0/pull"
[ "$(gpioget lifeline-sim0 0)" = 1 ] || fail "in0 pulled up does not read 1"
echo pull-down > "$SIM_SYSFS/sim_gpio0/pull"
[ "$(gpioget lifeline-sim0 0)" = 0 ] || fail "in0 pulled down does not read 0"
cat > /tmp/gw.conf <<CONF
[gateway]
id = vm-gw
site = vm
[mqtt]
port = 1
[store]
path = /tmp/gw.db
[console]
socket = /run/lifeline/ctl.sock
[bus sim]
type = sim
[sensor s1]
class = gas
bus = sim
CONF
lifelined -c /tmp/gw.conf > /tmp/gw.log 2>&1 &
for i in 1 2 3 4 5 6 7 8 9 10; do [ -S /run/lifeline/ctl.sock ] && break; sleep 0.5; done
lifelinectl show status | grep -q "vm/vm-gw" || { cat /tmp/gw.log; fail "lifelinectl show status"; }
kill %1
echo "SMOKE OK"
exit 0
