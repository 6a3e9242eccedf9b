# In the VM (tests/vm/run.sh ... smoke.sh): the kernel's GPIO chip is there
# and answers, and the gateway's binaries run on this kernel. Exit 0: pass.
set -u
NAME=SMOKE
. ./lib.sh
gpioinfo lifeline-sim0 | grep -q '"in0"' || fail "no line in0 on lifeline-sim0"
gpioinfo lifeline-sim0 | grep -q '"out7"' || fail "no line out7"
pull 0 up
[ "$(gpioget lifeline-sim0 0)" = 1 ] || fail "in0 pulled up does not read 1"
pull 0 down
[ "$(gpioget lifeline-sim0 0)" = 0 ] || fail "in0 pulled down does not read 0"
start_gateway <<CONF
[bus sim]
type = sim
[sensor s1]
class = gas
bus = sim
CONF
ctl show status | grep -q "vm/vm-gw" || fail "lifelinectl show status"
kill $GW
echo "SMOKE OK"
exit 0
