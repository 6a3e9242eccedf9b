"""Broker outage: alarms raised while the broker is down wait in the outbox
on disk, and arrive, in seq order with none missing, once it is back
(reconnect with back-off); each leaves the outbox only when acknowledged."""
import json
import sqlite3

import pytest

from conftest import wait_for
from util import render


def outbox_alarms(db):
    """(seq, event, level) of the alarm events in the gateway's outbox on disk,
    in send order; None while the database cannot be read."""
    try:
        c = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=5)
    except sqlite3.OperationalError:
        return None
    with c:
        rows = c.execute("SELECT seq, payload FROM outbox WHERE prio = 0 ORDER BY id").fetchall()
    c.close()
    out = []
    for seq, payload in rows:
        a = json.loads(payload)
        assert a["seq"] == seq
        out.append((seq, a["event"], a["level"]))
    return out


@pytest.mark.parametrize("broker", [True], indirect=True, ids=["persistent-broker"])
def test_alarms_during_outage_delivered_after_reconnect(tmp_path, broker, slave, gateways, subscriber):
    db = tmp_path / "lifeline.db"
    slave.set(1, 0, "float32", 5.0, "cdab")
    slave.set(2, 10, "int16", 350)
    # a persistent session: the broker queues what arrives while it reconnects
    sub = subscriber(client_id="center-outage")
    gw = gateways(render("gas_tcp", tmp_path, BROKER=broker.port, SLAVE=slave.port)).start()
    wait_for(lambda: sub.statuses(), 15, "online status")
    assert sub.alarms() == [] and outbox_alarms(db) == []  # a quiet start: the seqs below are all

    broker.stop()
    wait_for(lambda: "disconnected" in gw.output(), 10, "disconnect noticed")
    steps = (25.0, 55.0, 5.0)
    for i, value in enumerate(steps):
        slave.set(1, 0, "float32", value, "cdab")
        wait_for(lambda: gw.output().count("alarm: sensor 'gas-01'") >= i + 1, 10,
                 "alarm logged for %g" % value)
    # kept on disk while nobody can acknowledge them: not sent, not lost
    held = wait_for(lambda: len(outbox_alarms(db) or []) >= 3 and outbox_alarms(db), 10,
                    lambda: "3 alarm events in the outbox (have %s)" % outbox_alarms(db))
    assert [(e, lv) for _, e, lv in held] == [("raised", "yellow"), ("escalated", "red"), ("cleared", "none")]
    first = held[0][0]
    assert [s for s, _, _ in held] == list(range(first, first + 3)), held

    broker.start()
    alarms = sub.wait_unique_alarms(3, timeout=30)
    # the same events, in seq order, none missing, none extra
    assert [(a["seq"], a["event"], a["level"]) for a in alarms] == held
    # and each left the outbox on its PUBACK
    wait_for(lambda: outbox_alarms(db) == [], 10, lambda: "an empty outbox (have %s)" % outbox_alarms(db))
    assert len(sub.unique_alarms()) == 3
    assert gw.stop() == 0
