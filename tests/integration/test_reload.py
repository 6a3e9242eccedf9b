"""SIGHUP reloads the config file live: a changed threshold changes the
alarm behaviour without a restart; a broken file is refused and the running
config kept."""
import signal

from conftest import wait_for
from util import render


def test_sighup_applies_new_threshold_and_refuses_bad_file(tmp_path, broker, slave, gateways, subscriber):
    sub = subscriber()
    slave.set(1, 0, "float32", 30.0, "cdab")  # yellow (20) with the first config
    slave.set(2, 10, "int16", 350)
    conf = render("gas_tcp", tmp_path, BROKER=broker.port, SLAVE=slave.port)
    gw = gateways(conf).start()
    a = sub.wait_alarms(1)[0]
    assert (a["event"], a["level"]) == ("raised", "yellow")

    # red lowered to 25: the same reading is now red, and the alarm escalates
    with open(gw.conf, "w") as f:
        f.write(conf.replace("red = 50", "red = 25").replace("orange = 35", "orange = 22"))
    gw.proc.send(signal.SIGHUP)
    alarms = sub.wait_alarms(2)
    assert (alarms[1]["event"], alarms[1]["level"], alarms[1]["threshold"]) == ("escalated", "red", 25)
    assert alarms[1]["alarm_id"] == a["alarm_id"]
    wait_for(lambda: "config: reloaded" in gw.output(), 5, "reload log line")

    # a broken file: refused with file and line, the daemon keeps running
    with open(gw.conf, "a") as f:
        f.write("\n[sensor gas-01]\nclass = gas\n")
    gw.proc.send(signal.SIGHUP)
    wait_for(lambda: "reload refused" in gw.output(), 5, "refusal")
    assert "duplicate sensor 'gas-01'" in gw.output()
    assert gw.proc.alive()
    slave.set(1, 0, "float32", 5.0, "cdab")
    alarms = sub.wait_alarms(3)
    assert alarms[2]["event"] == "cleared"
    assert gw.stop() == 0
