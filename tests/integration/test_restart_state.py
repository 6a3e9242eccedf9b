"""What outlives a kill -9 besides the alarms: a running on-delay continues
where it was (it is not started over), and maintenance set by the center
still holds, with the time it had left."""
import json
import os
import signal
import time

from conftest import wait_for
from util import render

SENSORS = """[sensor slow]
class = gas
bus = sim
sim_min = 30
sim_max = 30
poll = 200ms
red = 25
on_delay = 10s
[sensor calib]
class = gas
bus = sim
sim_min = 5
sim_max = 5
poll = 200ms
"""


def conf(tmp_path, broker):
    return render("sim_gw", tmp_path, ID="rs-gw", BROKER=broker.port, DB=os.path.join(str(tmp_path), "rs.db")) + SENSORS


def statuses(sub):
    return [json.loads(p) for t, p, _ in sub.msgs if t == "lifeline/v1/test/rs-gw/status" and p]


def test_on_delay_continues_after_kill_9(tmp_path, broker, gateways, subscriber):
    sub = subscriber()
    gw = gateways(conf(tmp_path, broker))
    gw.start()
    wait_for(lambda: "started" in gw.output(), 10, "start")
    time.sleep(7)  # 7 of the 10 s on-delay
    assert not sub.alarms()
    gw.proc.send(signal.SIGKILL)
    gw.proc.wait(10)
    restarted = time.monotonic()
    gw.start()
    a = sub.wait_alarms(1, timeout=15)[0]
    took = time.monotonic() - restarted
    assert (a["sensor"], a["event"], a["level"]) == ("slow", "raised", "red")
    # about 3 s left; a delay started over would need 10
    assert took < 8, "raised %.1f s after the restart: the on-delay started over" % took
    assert "its delay timers continue" in gw.output()
    assert gw.stop() == 0


def test_maintenance_survives_kill_9(tmp_path, broker, gateways, subscriber):
    sub = subscriber()
    gw = gateways(conf(tmp_path, broker))
    gw.start()
    wait_for(lambda: [s for s in statuses(sub) if s["state"] == "online"], 15, "online")
    sub.c.publish("lifeline/v1/test/rs-gw/cmd/maintenance", json.dumps(
        {"id": "m1", "sensor": "calib", "duration": 3600}), qos=1)
    wait_for(lambda: [s for s in statuses(sub) if s["maintenance"] == ["calib"]], 10, "calib in maintenance")
    gw.proc.send(signal.SIGKILL)
    gw.proc.wait(10)
    gw.start()
    st = wait_for(lambda: [s for s in statuses(sub) if s["state"] == "online" and s["boot"] == 2], 15,
                  "online after the restart")[-1]
    assert st["maintenance"] == ["calib"]
    assert "sensor 'calib': in maintenance for 35" in gw.output()
    # ended from the center: stays ended after a restart
    sub.c.publish("lifeline/v1/test/rs-gw/cmd/maintenance", json.dumps(
        {"id": "m2", "sensor": "calib", "duration": 0}), qos=1)
    wait_for(lambda: statuses(sub)[-1]["maintenance"] == [], 10, "maintenance ended")
    assert gw.stop() == 0
    gw.start()
    st = wait_for(lambda: [s for s in statuses(sub) if s["state"] == "online" and s["boot"] == 3], 15,
                  "online again")[-1]
    assert st["maintenance"] == []
    assert gw.stop() == 0
