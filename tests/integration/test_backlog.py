"""A long outage: with the broker down, at least 1 000 alarm events and an
hour's worth of telemetry at 10 sensors a second (36 000 readings) pile up
in the outbox. When the broker is back, the center gets every alarm event
exactly once after dedupe by seq, none missing, in seq order, all of them
before the first telemetry message; then every reading."""
import json
import os
import signal
import sqlite3

import pytest

from conftest import wait_for
from util import render

ALARM_SENSORS = 10
TELEMETRY_SENSORS = 20
READINGS = 36000  # one hour at 10 sensors/s
EVENTS = 1000


def conf(broker_port, db, quiet):
    head = render("sim_gw", os.path.dirname(db), ID="backlog", BROKER=broker_port, DB=db,
                  MQTT_MORE="telemetry_qos = 1\ntelemetry_batch = 100")
    out = [head]
    # square waves across red: a raised and a cleared every 200 ms each
    for i in range(ALARM_SENSORS):
        out.append("[sensor alarm%02d]\nclass = gas\nbus = sim\nsim = %s\nsim_min = 0\nsim_max = 60\n"
                   "sim_period = 200ms\npoll = 20ms\nblue = 50\nred = 55\nhysteresis = 1\non_delay = 0\n"
                   "telemetry = off\n" % (i, "const" if quiet else "square"))
    # every sample of these is telemetry
    for i in range(TELEMETRY_SENSORS):
        out.append("[sensor level%02d]\nclass = water_level\nbus = sim\nsim = triangle\nsim_min = 0\n"
                   "sim_max = 0.1\nsim_period = 10s\npoll = 10ms\ntelemetry = %s\n" % (i, "off" if quiet else "0"))
    return "".join(out)


def db_counts(db):
    if not os.path.exists(db):
        return 0, 0, 0
    c = sqlite3.connect(db, timeout=5)
    try:
        if not c.execute("SELECT 1 FROM sqlite_master WHERE name = 'alarm_events'").fetchone():
            return 0, 0, 0
        events = c.execute("SELECT count(*), coalesce(max(seq), 0) FROM alarm_events").fetchone()
        readings = c.execute("SELECT coalesce(sum(json_array_length(CAST(payload AS TEXT), '$.readings')), 0) "
                             "FROM outbox WHERE prio = 3").fetchone()[0]
        return events[0], events[1], readings
    finally:
        c.close()


@pytest.mark.parametrize("broker", [True], indirect=True, ids=["persistent-broker"])
def test_outage_backlog(tmp_path, broker, gateways, subscriber):
    db = os.path.join(str(tmp_path), "backlog.db")
    sub = subscriber(client_id="center-backlog")
    broker.stop()

    gw = gateways(conf(broker.port, db, quiet=False)).start()
    wait_for(lambda: (lambda n: n[0] >= EVENTS and n[2] >= READINGS)(db_counts(db)), 180,
             lambda: "%d alarm events and %d readings in the store (have %r)" % (EVENTS, READINGS, db_counts(db)))
    assert gw.stop() == 0
    n_events, max_seq, n_readings = db_counts(db)
    assert n_events == max_seq  # seq 1..max, no hole
    assert sub.alarms() == []

    # the broker comes back; the center is connected before the gateway is
    sub.connected.clear()
    broker.start()
    assert sub.connected.wait(15)
    gw = gateways(conf(broker.port, db, quiet=True), name="gw2").start()

    wait_for(lambda: len(sub.of("telemetry")) and
             sum(len(json.loads(p)["readings"]) for _, p, _ in sub.of("telemetry")) >= n_readings,
             240, lambda: "%d readings (have %d)" % (
                 n_readings, sum(len(json.loads(p)["readings"]) for _, p, _ in sub.of("telemetry"))))
    final = db_counts(db)[1]  # the quiet config cleared the alarms left active: more events
    alarms = sub.wait_unique_alarms(final, timeout=60)
    seqs = [a["seq"] for a in alarms]
    assert sorted(seqs) == list(range(1, final + 1))
    assert seqs == sorted(seqs), "alarm events out of seq order"

    # every alarm event from the outage arrived before the first telemetry message
    with sub.lock:
        kinds = [t.rsplit("/", 1)[1] for t, _, _ in sub.msgs]
        payloads = [p for _, p, _ in sub.msgs]
    first_telemetry = kinds.index("telemetry")
    last_outage_alarm = max(i for i, k in enumerate(kinds)
                            if k == "alarm" and json.loads(payloads[i])["seq"] <= max_seq)
    assert last_outage_alarm < first_telemetry
    got = sum(len(json.loads(p)["readings"]) for _, p, _ in sub.of("telemetry"))
    assert got == n_readings, "readings lost or duplicated: %d of %d" % (got, n_readings)
    assert gw.stop(signal.SIGTERM) == 0
    print("backlog: %d alarm events, %d readings in %d telemetry messages" %
          (final, n_readings, len(sub.of("telemetry"))))
