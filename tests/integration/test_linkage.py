"""Local linkage: methane rising in a pipe-gallery section raises yellow,
orange, red, and switches the accident-ventilation fan (a Modbus coil) on at
orange within one poll period, whether the uplink is up or down; the fan
stops when the gas is gone."""
import json
import time

import pytest

from conftest import wait_for
from fieldbus import fieldslaves  # noqa: F401  (a fixture)
from util import render

BODY = """[bus field]
type = tcp
host = 127.0.0.1
port = {slave}
[sensor gas-01]
profile = gas-detector
channel = gas
bus = field
unit_id = 1
poll = 1s
on_delay = 0
[sensor gas-02]
profile = gas-detector
channel = gas
bus = field
unit_id = 2
poll = 1s
on_delay = 0
[action ventilation]
sensors = gas-01, gas-02
level = orange
output = modbus:field:9:coil:0
"""


def conf(tmp_path, broker, slave):
    return render("field_gw", tmp_path, ID="pg-s03", BROKER=broker.port, DB=tmp_path / "lifeline.db",
                  MQTT_MORE="reconnect_min = 200ms\nreconnect_max = 1s") + BODY.format(slave=slave.port)


def fan(slave):
    rr = slave.side.read_coils(0, 1, slave=9)
    assert not rr.isError(), rr
    return rr.bits[0]


@pytest.mark.parametrize("broker", [True], indirect=True, ids=["persistent-broker"])
@pytest.mark.parametrize("uplink", ["up", "down"])
def test_methane_rise_starts_the_fan_at_orange(uplink, tmp_path, broker, fieldslaves, gateways, subscriber):
    s = fieldslaves(units=(1, 2, 9))
    s.set_value(1, 0, "float32", 2.0, "cdab")
    s.set_value(2, 0, "float32", 1.0, "cdab")
    sub = subscriber(client_id="center-linkage") if uplink == "down" else subscriber()
    gw = gateways(conf(tmp_path, broker, s)).start()
    wait_for(lambda: sub.statuses(), 15, "online status")
    if uplink == "down":
        broker.stop()
    for value, level in ((15.0, "blue"), (22.0, "yellow")):
        s.set_value(1, 0, "float32", value, "cdab")
        wait_for(lambda lv=level: "threshold %s %s" % ("raised" if lv == "blue" else "escalated", lv)
                 in gw.output(), 10, level)
    assert fan(s) is False
    s.set_value(1, 0, "float32", 30.0, "cdab")
    t0 = time.monotonic()
    wait_for(lambda: fan(s), 5, "the fan on")
    assert time.monotonic() - t0 <= 1.0 + 0.5  # one poll period (+ scheduling slack)
    wait_for(lambda: "action 'ventilation': output written and read back" in gw.output(), 5,
             "the write confirmed")
    s.set_value(1, 0, "float32", 55.0, "cdab")
    wait_for(lambda: "threshold escalated red" in gw.output(), 10, "red")
    # the second detector alone keeps it on; both gone, it stops
    s.set_value(2, 0, "float32", 30.0, "cdab")
    wait_for(lambda: "sensor 'gas-02' threshold raised orange" in gw.output(), 10, "gas-02 orange")
    s.set_value(1, 0, "float32", 1.0, "cdab")
    time.sleep(2.5)
    assert fan(s) is True
    s.set_value(2, 0, "float32", 1.0, "cdab")
    wait_for(lambda: not fan(s), 5, "the fan off")
    if uplink == "down":
        broker.start()
    alarms = sub.wait_unique_alarms(7, timeout=30)
    g1 = [(a["event"], a["level"]) for a in alarms if a["sensor"] == "gas-01"]
    assert g1 == [("raised", "blue"), ("escalated", "yellow"), ("escalated", "orange"),
                  ("escalated", "red"), ("cleared", "none")]
    # every execution reaches the center on .../event
    events = wait_for(lambda: len(sub.of("event")) >= 2 and [json.loads(p) for _, p, _ in sub.of("event")],
                      20, "the action events")
    assert [(e["type"], e["action"], e["value"], e["ok"]) for e in events] == \
        [("action", "ventilation", 1, True), ("action", "ventilation", 0, True)]
    assert events[0]["output"] == "modbus:field:9:coil:0"
    assert gw.stop() == 0


def test_latched_action_holds_until_reset_by_the_center(tmp_path, broker, fieldslaves, gateways, subscriber):
    s = fieldslaves(units=(1, 2, 9))
    s.set_value(1, 0, "float32", 2.0, "cdab")
    s.set_value(2, 0, "float32", 1.0, "cdab")
    sub = subscriber()
    gw = gateways(conf(tmp_path, broker, s) + "latch = yes\n").start()
    wait_for(lambda: sub.statuses(), 15, "online")
    s.set_value(1, 0, "float32", 30.0, "cdab")
    wait_for(lambda: fan(s), 5, "the fan on")
    s.set_value(1, 0, "float32", 1.0, "cdab")
    wait_for(lambda: "latched, output kept until a reset" in gw.output(), 10, "condition over")
    assert fan(s) is True
    cmd = "lifeline/v1/test/pg-s03/cmd/reset"
    sub.c.publish(cmd, '{"id":"r1","action":"ventilation"}', qos=1)
    wait_for(lambda: not fan(s), 5, "the fan off after the reset")
    sub.c.publish(cmd, '{"id":"r2","action":"ventilation"}', qos=1)
    sub.c.publish(cmd, '{"id":"r3","action":"nope"}', qos=1)
    got = wait_for(lambda: len([1 for t, _, _ in sub.msgs if t.endswith("/reply/reset")]) >= 3 and
                   [json.loads(p) for t, p, _ in sub.msgs if t.endswith("/reply/reset")], 10, "replies")
    assert got == [{"id": "r1", "ok": True},
                   {"id": "r2", "ok": False, "error": "action 'ventilation' is not latched"},
                   {"id": "r3", "ok": False, "error": "no action 'nope'"}]
    assert gw.stop() == 0
