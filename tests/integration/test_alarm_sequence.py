"""A gas reading stepped across yellow, red and back produces exactly the
expected alarm messages on the broker, with the fields of docs/mqtt.md."""
import signal

from util import render

EXPECTED_KEYS = {"seq", "ts", "alarm_id", "sensor", "class", "lifeline", "condition", "event", "level",
                 "prev_level", "value", "unit", "threshold", "quality"}


def test_steps_produce_exact_alarm_sequence(tmp_path, broker, slave, gateways, subscriber):
    sub = subscriber()
    slave.set(1, 0, "float32", 5.0, "cdab")
    slave.set(2, 10, "int16", 350)
    gw = gateways(render("gas_tcp", tmp_path, BROKER=broker.port, SLAVE=slave.port)).start()

    steps = [(25.0, "raised", "yellow", "none", 20),
             (55.5, "escalated", "red", "yellow", 50),
             (25.0, "deescalated", "yellow", "red", 20),
             (5.0, "cleared", "none", "yellow", 20)]
    for i, (value, *_rest) in enumerate(steps):
        slave.set(1, 0, "float32", value, "cdab")
        sub.wait_alarms(i + 1, timeout=20)

    alarms = sub.alarms()
    assert len(alarms) == len(steps), alarms
    for a, (value, event, level, prev, threshold) in zip(alarms, steps):
        assert set(a) == EXPECTED_KEYS
        assert (a["event"], a["level"], a["prev_level"]) == (event, level, prev)
        assert a["value"] == value
        assert a["threshold"] == threshold
        assert (a["sensor"], a["class"], a["lifeline"], a["condition"], a["unit"], a["quality"]) == \
            ("gas-01", "gas", "gas", "threshold", "%LEL", "good")
        assert a["ts"] > 1.7e12
    seqs = [a["seq"] for a in alarms]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs) and seqs[0] >= 1
    assert len({a["alarm_id"] for a in alarms}) == 1  # one alarm's lifecycle
    topics = {t for t, _, _ in sub.of("alarm")}
    assert topics == {"lifeline/v1/test-site/it-gw/alarm"}
    assert gw.stop(signal.SIGTERM) == 0


def test_low_pressure_alarm_and_independent_sensors(tmp_path, broker, slave, gateways, subscriber):
    sub = subscriber()
    slave.set(1, 0, "float32", 5.0, "cdab")
    slave.set(2, 10, "int16", 350)
    gw = gateways(render("gas_tcp", tmp_path, BROKER=broker.port, SLAVE=slave.port)).start()
    slave.set(2, 10, "int16", 120)  # 0.120 MPa: below the 0.14 low limit
    a = sub.wait_alarms(1)[0]
    assert (a["sensor"], a["event"], a["level"], a["lifeline"]) == \
        ("pressure-01", "raised", "red", "water_supply")
    assert abs(a["value"] - 0.12) < 1e-9 and a["unit"] == "MPa"
    assert gw.stop() == 0
