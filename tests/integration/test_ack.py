"""The center acknowledges an alarm with cmd/ack: the acked event follows on
the alarm topic, the reply comes on reply/ack with the same id; an
escalation needs a new acknowledgement; bad commands get an error reply and
change nothing."""
import json
import time

from conftest import wait_for
from util import render


def replies(sub, name):
    return [json.loads(p) for t, p, _ in sub.msgs if t.endswith("/reply/" + name)]


def online(tmp_path, broker, slave, gateways, subscriber, extra=""):
    """A gateway on gas_tcp.conf.in (gas 5 %LEL, pressure normal), online, and
    a subscriber; extra is added to [sensor gas-01]."""
    sub = subscriber()
    slave.set(1, 0, "float32", 5.0, "cdab")
    slave.set(2, 10, "int16", 350)
    conf = render("gas_tcp", tmp_path, BROKER=broker.port, SLAVE=slave.port)
    gw = gateways(conf.replace("hysteresis = 2\n", "hysteresis = 2\n" + extra, 1)).start()
    wait_for(lambda: sub.statuses(), 15, "online")
    return sub, gw


def test_ack_from_the_center(tmp_path, broker, slave, gateways, subscriber):
    sub, gw = online(tmp_path, broker, slave, gateways, subscriber)
    slave.set(1, 0, "float32", 25.0, "cdab")
    raised = sub.wait_unique_alarms(1)[0]
    assert (raised["event"], raised["level"]) == ("raised", "yellow")
    cmd = "lifeline/v1/test-site/it-gw/cmd/"

    def send(name, payload):
        sub.c.publish(cmd + name, payload if isinstance(payload, (str, bytes)) else json.dumps(payload), qos=1)

    send("ack", {"id": "a1", "alarm_id": raised["alarm_id"], "by": "desk-3"})
    acked = sub.wait_unique_alarms(2)[1]
    assert (acked["event"], acked["level"], acked["prev_level"], acked["alarm_id"], acked["by"]) == \
        ("acked", "yellow", "yellow", raised["alarm_id"], "center:desk-3")
    assert acked["seq"] > raised["seq"]
    wait_for(lambda: replies(sub, "ack"), 10, "the reply")
    assert replies(sub, "ack")[0] == {"id": "a1", "ok": True}

    # twice: refused, nothing new on the alarm topic
    send("ack", {"id": "a2", "alarm_id": raised["alarm_id"]})
    wait_for(lambda: len(replies(sub, "ack")) >= 2, 10, "second reply")
    assert replies(sub, "ack")[1] == {"id": "a2", "ok": False,
                                      "error": "alarm %d is already acknowledged" % raised["alarm_id"]}

    # escalation: a new acknowledgement is needed, and accepted
    slave.set(1, 0, "float32", 55.0, "cdab")
    esc = sub.wait_unique_alarms(3)[2]
    assert (esc["event"], esc["level"]) == ("escalated", "red")
    send("ack", {"id": "a3", "alarm_id": raised["alarm_id"]})
    wait_for(lambda: len(replies(sub, "ack")) >= 3, 10, "third reply")
    assert replies(sub, "ack")[2] == {"id": "a3", "ok": True}
    assert sub.wait_unique_alarms(4)[3]["by"] == "center:unnamed"

    # hostile and malformed: an error reply each, no alarm event, the daemon unaffected
    bad = [
        ("ack", "not json", None, "payload is not a JSON object"),
        ("ack", "[1,2]", None, "payload is not a JSON object"),
        ("ack", {"id": "b1"}, "b1", "\"alarm_id\" is missing"),
        ("ack", {"id": "b2", "alarm_id": "77"}, "b2", "\"alarm_id\" must be a positive whole number"),
        ("ack", {"id": "b3", "alarm_id": -1}, "b3", "\"alarm_id\" must be a positive whole number"),
        ("ack", {"id": "b4", "alarm_id": 1.5}, "b4", "\"alarm_id\" must be a positive whole number"),
        ("ack", {"id": "b5", "alarm_id": 99999}, "b5", "no active alarm 99999"),
        ("ack", {"id": 7, "alarm_id": 1}, None, "\"id\" must be printable text of at most 63 characters"),
        ("ack", {"id": "x" * 100, "alarm_id": 1}, None, "\"id\" must be printable text of at most 63 characters"),
        ("ack", {"id": "b6", "alarm_id": 1, "by": ""}, "b6", "\"by\" must be printable text of 1 to 63 characters"),
        ("ack", "{" * 5000, None, "payload too large (5000 bytes, at most 4096)"),
        ("reboot-now", {"id": "b7"}, "b7", "unknown command (this gateway knows: ack, get, set, maintenance, "
                                           "history, replay, reset, status, reboot)"),
    ]
    for name, payload, rid, error in bad:
        n = len(replies(sub, name))
        send(name, payload)
        wait_for(lambda nm=name, k=n: len(replies(sub, nm)) > k, 10, "reply to %r" % (payload,))
        assert replies(sub, name)[n] == {"id": rid, "ok": False, "error": error}, payload
    assert len(sub.unique_alarms()) == 4
    assert gw.proc.alive()
    slave.set(1, 0, "float32", 5.0, "cdab")
    assert sub.wait_unique_alarms(5)[4]["event"] == "cleared"
    assert gw.stop() == 0


def test_unacknowledged_red_alarm_is_reminded_until_acked(tmp_path, broker, slave, gateways, subscriber):
    sub, gw = online(tmp_path, broker, slave, gateways, subscriber, extra="remind = 2s\n")
    slave.set(1, 0, "float32", 25.0, "cdab")  # yellow: never reminded
    sub.wait_unique_alarms(1)
    slave.set(1, 0, "float32", 55.0, "cdab")  # red
    alarms = sub.wait_unique_alarms(4, timeout=15)
    assert [a["event"] for a in alarms] == ["raised", "escalated", "reminder", "reminder"]
    assert all(a["level"] == "red" and a["threshold"] is None for a in alarms[2:])
    assert alarms[3]["ts"] - alarms[2]["ts"] >= 1900
    sub.c.publish("lifeline/v1/test-site/it-gw/cmd/ack", '{"alarm_id": %d}' % alarms[0]["alarm_id"], qos=1)
    wait_for(lambda: any(a["event"] == "acked" for a in sub.unique_alarms()), 10, "acked")
    n = len(sub.unique_alarms())
    time.sleep(4.5)
    assert len(sub.unique_alarms()) == n  # acknowledged: no more reminders
    assert gw.stop() == 0


def test_maintenance_flags_alarms_stops_actions_and_ends_by_itself(tmp_path, broker, slave, gateways, subscriber):
    sub, gw = online(tmp_path, broker, slave, gateways, subscriber)
    cmd = "lifeline/v1/test-site/it-gw/cmd/maintenance"
    sub.c.publish(cmd, json.dumps({"id": "m1", "sensor": "gas-01", "duration": 3, "by": "tech"}), qos=1)
    wait_for(lambda: replies(sub, "maintenance"), 10, "reply")
    assert replies(sub, "maintenance")[0] == {"id": "m1", "ok": True}
    # the retained status lists it
    wait_for(lambda: (sub.statuses()[-1][0] or {}).get("maintenance") == ["gas-01"], 10, "status")
    slave.set(1, 0, "float32", 25.0, "cdab")  # a technician's calibration gas
    a = sub.wait_unique_alarms(1)[0]
    assert (a["event"], a["maintenance"]) == ("raised", True)
    # by itself after 3 s: the status no longer lists it, alarms are no longer flagged
    wait_for(lambda: (sub.statuses()[-1][0] or {}).get("maintenance") == [], 10, "maintenance over")
    slave.set(1, 0, "float32", 55.0, "cdab")
    b = sub.wait_unique_alarms(2)[1]
    assert b["event"] == "escalated" and "maintenance" not in b
    for payload, error in (({"id": "m2", "duration": 5}, 'give one of "sensor" or "bus"'),
                           ({"id": "m3", "sensor": "gas-01", "bus": "tcp-1", "duration": 5},
                            'give one of "sensor" or "bus"'),
                           ({"id": "m4", "sensor": "gas-01"}, '"duration" is missing'),
                           ({"id": "m5", "sensor": "nope", "duration": 5}, "no sensor 'nope'"),
                           ({"id": "m6", "sensor": "gas-01", "duration": -1},
                            '"duration" must be whole seconds from 0 to 604800')):
        n = len(replies(sub, "maintenance"))
        sub.c.publish(cmd, json.dumps(payload), qos=1)
        wait_for(lambda k=n: len(replies(sub, "maintenance")) > k, 10, "reply")
        assert replies(sub, "maintenance")[n] == {"id": payload["id"], "ok": False, "error": error}
    # a whole bus
    sub.c.publish(cmd, json.dumps({"id": "m7", "bus": "tcp-1", "duration": 60}), qos=1)
    wait_for(lambda: (sub.statuses()[-1][0] or {}).get("maintenance") == ["gas-01", "pressure-01"], 10,
             "bus in maintenance")
    sub.c.publish(cmd, json.dumps({"id": "m8", "bus": "tcp-1", "duration": 0}), qos=1)
    wait_for(lambda: (sub.statuses()[-1][0] or {}).get("maintenance") == [], 10, "ended by command")
    assert gw.stop() == 0
