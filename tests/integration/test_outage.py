"""Broker outage: alarms raised while the broker is down wait in the outbox
on disk and arrive, in seq order, once it is back (reconnect with back-off)."""
import pytest

from conftest import wait_for
from util import render


@pytest.mark.parametrize("broker", [True], indirect=True, ids=["persistent-broker"])
def test_alarms_during_outage_delivered_after_reconnect(tmp_path, broker, slave, gateways, subscriber):
    slave.set(1, 0, "float32", 5.0, "cdab")
    slave.set(2, 10, "int16", 350)
    # a persistent session: the broker queues what arrives while it reconnects
    sub = subscriber(client_id="center-outage")
    gw = gateways(render("gas_tcp", tmp_path, BROKER=broker.port, SLAVE=slave.port)).start()
    wait_for(lambda: sub.statuses(), 15, "online status")

    broker.stop()
    steps = (25.0, 55.0, 5.0)
    for i, value in enumerate(steps):
        slave.set(1, 0, "float32", value, "cdab")
        wait_for(lambda: gw.output().count("alarm: sensor 'gas-01'") >= i + 1, 10,
                 "alarm logged for %g" % value)
    assert sub.alarms() == []
    wait_for(lambda: "disconnected" in gw.output(), 10, "disconnect noticed")

    broker.start()
    alarms = sub.wait_unique_alarms(3, timeout=30)
    assert [(a["event"], a["level"]) for a in alarms] == \
        [("raised", "yellow"), ("escalated", "red"), ("cleared", "none")]
    assert [a["seq"] for a in alarms] == sorted(a["seq"] for a in alarms)
    assert gw.stop() == 0
