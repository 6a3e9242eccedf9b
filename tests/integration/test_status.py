"""The retained status: online after start, offline through the last will
after kill -9, and offline published cleanly on SIGTERM."""
import json
import signal
import time

from conftest import Subscriber, wait_for
from util import render


def last_status(sub):
    st = sub.statuses()
    return st[-1] if st else (None, None)


def test_online_retained_then_offline_on_sigterm(tmp_path, broker, slave, gateways, subscriber):
    gw = gateways(render("gas_tcp", tmp_path, BROKER=broker.port, SLAVE=slave.port)).start()
    first = subscriber()
    wait_for(lambda: (last_status(first)[0] or {}).get("state") == "online", 15, "online status")
    # a subscriber arriving later still gets it: it is retained
    late = subscriber()
    st, retained = wait_for(lambda: late.statuses() and late.statuses()[-1], 10, "retained status")
    assert retained and st["state"] == "online"
    assert st["sensors"] == 2 and st["boot"] >= 1 and st["version"]
    t0 = time.monotonic()
    assert gw.stop(signal.SIGTERM) == 0
    wait_for(lambda: (last_status(late)[0] or {}).get("state") == "offline", 5, "offline status")
    assert time.monotonic() - t0 < 5
    assert "disconnected" not in gw.output()
    # and it stays: a new subscriber sees offline retained
    again = subscriber()
    st, retained = wait_for(lambda: again.statuses() and again.statuses()[-1], 10, "retained offline")
    assert retained and st["state"] == "offline"


def test_last_will_after_kill_9(tmp_path, broker, slave, gateways, subscriber):
    gw = gateways(render("gas_tcp", tmp_path, BROKER=broker.port, SLAVE=slave.port,
                         KEEPALIVE=5)).start()
    sub = subscriber()
    wait_for(lambda: (last_status(sub)[0] or {}).get("state") == "online", 15, "online status")
    gw.stop(signal.SIGKILL)
    # the broker publishes the will after 1.5 x keepalive without traffic
    wait_for(lambda: (last_status(sub)[0] or {}).get("state") == "offline", 20, "last will")
    st, _ = last_status(sub)
    assert st["boot"] >= 1


def test_boot_count_and_seq_survive_restart(tmp_path, broker, slave, gateways, subscriber):
    sub = subscriber()
    slave.set(1, 0, "float32", 5.0, "cdab")
    slave.set(2, 10, "int16", 350)
    conf = render("gas_tcp", tmp_path, BROKER=broker.port, SLAVE=slave.port)
    gw = gateways(conf).start()
    wait_for(lambda: (last_status(sub)[0] or {}).get("state") == "online", 15, "online")
    boot1 = last_status(sub)[0]["boot"]
    slave.set(1, 0, "float32", 25.0, "cdab")
    sub.wait_alarms(1)
    gw.stop(signal.SIGKILL)
    # while it is down the reading drops; after restart the alarm it had
    # continues (no second "raised") and clears normally
    slave.set(1, 0, "float32", 5.0, "cdab")
    gw2 = gateways(conf, name="gw").start()
    alarms = sub.wait_unique_alarms(2)
    assert [a["event"] for a in alarms] == ["raised", "cleared"]
    assert alarms[1]["seq"] > alarms[0]["seq"]
    assert alarms[1]["alarm_id"] == alarms[0]["alarm_id"]
    wait_for(lambda: (last_status(sub)[0] or {}).get("boot", 0) > boot1, 10, "second boot")
    assert gw2.stop() == 0


def test_client_ids_of_dotted_names_do_not_collide(tmp_path, broker, gateways, subscriber):
    """Site "a.b" with id "c", and site "a" with id "b.c": with "." between
    site and id both were client "a.b.c", and the broker threw each off
    for the other, over and over. With "/" (in no name) both stay."""
    sub = subscriber()
    sensor = "\n[sensor s1]\nclass = gas\nbus = sim\nsim_min = 1\nsim_max = 2\npoll = 1s\n"
    for site, gid, name in (("a.b", "c", "one"), ("a", "b.c", "two")):
        conf = render("sim_gw", tmp_path, BROKER=broker.port, SITE=site, ID=gid,
                      DB=str(tmp_path / (name + ".db"))) + sensor
        gateways(conf, name=name).start()

    def states():
        return {t: json.loads(p).get("state") for t, p, _ in sub.msgs if t.endswith("/status") and p}

    want = {"lifeline/v1/a.b/c/status": "online", "lifeline/v1/a/b.c/status": "online"}
    wait_for(lambda: states() == want, 15, lambda: "both online (have %r)" % states())
    time.sleep(3)  # a takeover would show within a reconnect (200 ms to 1 s)
    assert states() == want
    for g in ("one", "two"):
        out = open(str(tmp_path / (g + ".log"))).read()
        assert "disconnected" not in out, out[-2000:]
