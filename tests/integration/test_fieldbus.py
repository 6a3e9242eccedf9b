"""The field bus against pymodbus slaves (fieldslave.py): Modbus TCP with
several unit ids and Modbus RTU over a socat pty pair. Values are read back
from the gateway's own SQLite database, as the gateway stored them."""
import sqlite3
import time

import pytest

from conftest import wait_for
from fieldbus import fieldslaves  # noqa: F401  (a fixture)
from util import render

# type, order, value: every format round-trips to the exact engineering value
FORMATS = [
    ("int16", None, -1234), ("uint16", None, 54321),
    ("int32", "abcd", -123456789), ("int32", "cdab", -123456789),
    ("int32", "badc", 123456789), ("int32", "dcba", -7),
    ("uint32", "abcd", 4000000000), ("uint32", "cdab", 305419896),
    ("uint32", "badc", 305419896), ("uint32", "dcba", 305419896),
    ("float32", "abcd", 52.3), ("float32", "cdab", -0.125), ("float32", "badc", 1234.5),
    ("float32", "dcba", 3.14159),
    ("int64", "abcd", -1234567890123), ("int64", "cdab", 9007199254740991),
    ("uint64", "badc", 281483566841860), ("uint64", "dcba", 1),
    ("float64", "abcd", 1234.5678), ("float64", "cdab", -0.001), ("float64", "badc", 6.02e23),
    ("float64", "dcba", 2.5),
]
WIDTH = {"int16": 1, "uint16": 1, "int32": 2, "uint32": 2, "float32": 2, "int64": 4, "uint64": 4,
         "float64": 4}

def conf(tmp_path, broker, body):
    return render("field_gw", tmp_path, ID="fb", BROKER=broker.port, DB=tmp_path / "lifeline.db") + body


def db_rows(tmp_path, sensor, since_ms=0):
    """(ts, value, quality) of a sensor's readings, oldest first; quality 0 is good."""
    if not (tmp_path / "lifeline.db").exists():
        return []
    try:
        c = sqlite3.connect("file:%s?mode=ro" % (tmp_path / "lifeline.db"), uri=True, timeout=5)
    except sqlite3.OperationalError:
        return []
    with c:
        if not c.execute("SELECT 1 FROM sqlite_master WHERE name = 'readings'").fetchone():
            return []  # the daemon is still creating its schema
        return c.execute("SELECT r.ts, r.value, r.quality FROM readings r JOIN sensors s "
                         "ON s.id = r.sensor WHERE s.name = ? AND r.ts >= ? ORDER BY r.id",
                         (sensor, since_ms)).fetchall()


def last_good(tmp_path, sensor):
    rows = [r for r in db_rows(tmp_path, sensor) if r[2] == 0]
    return rows[-1][1] if rows else None


def good_ts(tmp_path, sensor, since_ms=0):
    """Timestamps (ms, the daemon's) of a sensor's good readings since since_ms."""
    return [r[0] for r in db_rows(tmp_path, sensor, since_ms) if r[2] == 0]


def per_slot(times_ms, period_ms):
    """For each gap between consecutive times: how many poll periods it
    spans (0: two polls in one slot; 2: a slot skipped)."""
    assert len(times_ms) >= 2, times_ms
    return [round((b - a) / period_ms) for a, b in zip(times_ms, times_ms[1:])]


def now_ms():
    return int(time.time() * 1000)


def test_every_type_and_order_over_tcp_several_units(tmp_path, broker, fieldslaves, gateways):
    s = fieldslaves(units=(1, 2, 3))
    body = "[bus tcp-1]\ntype = tcp\nhost = 127.0.0.1\nport = %d\n" % s.port
    expect = {}
    addr = 0
    for i, (typ, order, value) in enumerate(FORMATS):
        unit = 1 + i % 3
        name = "f%d-%s-%s" % (i, typ, order or "")
        s.set_value(unit, addr, typ, value, order or "abcd")
        body += "[sensor %s]\nclass = gas\nbus = tcp-1\nunit_id = %d\nregister = holding:%d\ntype = %s\n" \
                "poll = 200ms\n" % (name, unit, addr, typ)
        if order:
            body += "order = %s\n" % order
        expect[name] = value
        addr += WIDTH[typ] + 10  # apart: separate requests, one sensor each
    # a status bit, a 4-20 mA mapping, a scaled int16, a coil and a discrete input
    s.set_value(1, 500, "uint16", 0b0000000000100100)
    s.set_value(2, 501, "uint16", 12000)
    s.set_value(3, 502, "int16", -15)
    s.set_bits(1, "coil", 7, [1])
    s.set_bits(2, "discrete", 3, [1])
    body += """[sensor bit5]
class = elevator
bus = tcp-1
unit_id = 1
register = holding:500
bit = 5
[sensor bit4]
class = elevator
bus = tcp-1
unit_id = 1
register = holding:500
bit = 4
[sensor ma]
class = water_pressure
bus = tcp-1
unit_id = 2
register = holding:501
raw_min = 4000
raw_max = 20000
min = 0
max = 1.6
[sensor tilt]
class = bridge_tilt
design = 0.5
bus = tcp-1
unit_id = 3
register = holding:502
type = int16
scale = 0.01
[sensor coil7]
class = digital
bus = tcp-1
unit_id = 1
register = coil:7
[sensor di3]
class = digital
bus = tcp-1
unit_id = 2
register = discrete:3
"""
    expect.update({"bit5": 1, "bit4": 0, "ma": 0.8, "tilt": -0.15, "coil7": 1, "di3": 1})
    gw = gateways(conf(tmp_path, broker, body)).start()
    wait_for(lambda: all(last_good(tmp_path, n) is not None for n in expect), 20,
             "a good reading of every sensor")
    for name, value in expect.items():
        got = last_good(tmp_path, name)
        if "float32" in name:
            assert got == pytest.approx(value, rel=1e-6), name
        elif "float64" in name or name in ("ma", "tilt"):
            assert got == pytest.approx(value, rel=1e-12, abs=1e-12), name
        else:
            assert got == value, name
    assert gw.stop() == 0


def test_rtu_over_pty_formats_and_parity(tmp_path, broker, fieldslaves, gateways):
    s = fieldslaves(units=(1, 7), rtu=True, baud=19200, parity="E")
    s.set_value(1, 0, "float32", 52.3, "cdab")
    s.set_value(7, 10, "int16", 350)
    s.set_value(7, 11, "uint32", 123456789, "cdab")
    body = """[bus rs485-1]
type = rtu
device = %s
baud = 19200
parity = E
timeout = 300ms
[sensor gas-01]
profile = gas-detector
channel = gas
bus = rs485-1
unit_id = 1
poll = 200ms
[sensor pressure-01]
profile = pressure-transmitter
bus = rs485-1
unit_id = 7
register = holding:10
poll = 200ms
[sensor energy]
class = water_flow
bus = rs485-1
unit_id = 7
register = holding:11
type = uint32
order = cdab
poll = 200ms
""" % s.device
    gw = gateways(conf(tmp_path, broker, body)).start()
    wait_for(lambda: all(last_good(tmp_path, n) is not None for n in ("gas-01", "pressure-01", "energy")),
             20, "good readings over RTU")
    assert last_good(tmp_path, "gas-01") == pytest.approx(52.3, rel=1e-6)
    assert last_good(tmp_path, "pressure-01") == pytest.approx(0.35)
    assert last_good(tmp_path, "energy") == 123456789
    # pressure (holding 10) and energy (holding 11-12) of unit 7: one request
    t0 = time.monotonic()
    reqs = s.wait_requests(10, unit=7, since=t0)
    assert all((r.addr, r.count) == (10, 3) for r in reqs)
    # a pty has no kernel RS-485 mode: a warning, not a failure
    assert "has no kernel RS-485 mode" in gw.output()
    assert gw.stop() == 0


def test_exception_reply_is_comm_fault_with_its_code(tmp_path, broker, fieldslaves, gateways):
    s = fieldslaves(units=(1, 2))
    s.set_value(1, 0, "uint16", 7)
    s.command("exception 2 2")
    body = "[bus tcp-1]\ntype = tcp\nhost = 127.0.0.1\nport = %d\n" % s.port
    body += "[sensor ok]\nclass = gas\nbus = tcp-1\nunit_id = 1\nregister = holding:0\npoll = 200ms\n"
    body += "[sensor bad]\nclass = gas\nbus = tcp-1\nunit_id = 2\nregister = holding:0\npoll = 200ms\nred = 1\n"
    gw = gateways(conf(tmp_path, broker, body)).start()
    wait_for(lambda: any(r[2] == 2 for r in db_rows(tmp_path, "bad")), 15, "a comm_fault reading")
    assert "sensor 'bad': quality good -> comm_fault (Illegal data address)" in gw.output()
    assert all(r[2] == 2 for r in db_rows(tmp_path, "bad"))  # 2: comm_fault, never a value
    assert last_good(tmp_path, "ok") == 7
    s.command("exception 2 0")
    s.set_value(2, 0, "uint16", 0)
    wait_for(lambda: last_good(tmp_path, "bad") == 0, 15, "good again")
    assert gw.stop() == 0


def test_dead_rtu_slave_backed_off_others_keep_their_rate(tmp_path, broker, fieldslaves, gateways):
    s = fieldslaves(units=(1, 2, 3), rtu=True, baud=115200)
    for u in (1, 2, 3):
        s.set_value(u, 0, "uint16", 100 + u)
    period, timeout = 200, 150
    body = """[bus rs485-1]
type = rtu
device = %s
baud = 115200
timeout = %dms
backoff_after = 3
backoff_max = 2s
""" % (s.device, timeout)
    for u in (1, 2, 3):
        body += "[sensor u%d]\nclass = gas\nbus = rs485-1\nunit_id = %d\nregister = holding:0\npoll = %dms\n" \
                % (u, u, period)
    gw = gateways(conf(tmp_path, broker, body)).start()
    wait_for(lambda: last_good(tmp_path, "u3") == 103, 15, "unit 3 read")
    s.command("dead 3")
    t_dead, t0 = now_ms(), time.monotonic()
    time.sleep(4)
    # unit 3: a few timeouts, then probes at 1 s, 2 s: far fewer than the 20 polls it was due
    dead_reqs = s.requests(unit=3, since=t0)
    assert 3 <= len(dead_reqs) <= 8, dead_reqs
    assert "bus 'rs485-1': unit 3 not answering" in gw.output()
    # units 1 and 2: a fresh good sample at least every period + the dead slave's
    # timeout budget (libmodbus waits one more timeout before flushing) + slack
    budget = period + 2 * timeout + 100
    for name in ("u1", "u2"):
        ts = [r[0] for r in db_rows(tmp_path, name, t_dead + 200) if r[2] == 0]
        assert len(ts) >= 15, name
        gaps = [b - a for a, b in zip(ts, ts[1:])]
        assert max(gaps) <= budget, (name, max(gaps), budget)
    # unplugged and plugged back: it comes back on its own
    s.command("alive 3")
    wait_for(lambda: "unit 3 answers again" in gw.output(), 10, "recovery")
    t1 = now_ms()
    wait_for(lambda: len([r for r in db_rows(tmp_path, "u3", t1) if r[2] == 0]) >= 5, 10,
             "unit 3 polled at its rate again")
    assert gw.stop() == 0


def test_late_reply_never_answers_the_next_request(tmp_path, broker, fieldslaves, gateways):
    for rtu in (False, True):
        s = fieldslaves(units=(1, 2), rtu=rtu, baud=115200)
        s.set_value(1, 0, "uint16", 111)
        s.set_value(2, 0, "uint16", 222)
        s.command("delay 2 300")  # later than the 200 ms timeout
        bus = ("type = rtu\ndevice = %s\nbaud = 115200\n" % s.device) if rtu else \
              ("type = tcp\nhost = 127.0.0.1\nport = %d\n" % s.port)
        body = "[bus b]\n%stimeout = 200ms\n" % bus
        for u, poll in ((1, 100), (2, 500)):
            body += "[sensor u%d]\nclass = gas\nbus = b\nunit_id = %d\nregister = holding:0\npoll = %dms\n" \
                    % (u, u, poll)
        name = "late-%s" % ("rtu" if rtu else "tcp")
        db = tmp_path / name
        db.mkdir()
        text = conf(db, broker, body)
        gw = gateways(text, name=name).start()
        # unit 2 answers after the timeout every time: wait for several of
        # its polls, and for unit 1's, rather than for a fixed time
        wait_for(lambda: len([r for r in db_rows(db, "u1") if r[2] == 0]) >= 5 and len(db_rows(db, "u2")) >= 3,
                 15, lambda: "%s: 5 readings of u1 and 3 polls of u2" % name)
        assert gw.stop() == 0
        u1 = [r for r in db_rows(db, "u1") if r[2] == 0]
        u2 = db_rows(db, "u2")
        assert len(u1) >= 5 and u2, (name, u1, u2)
        assert {r[1] for r in u1} == {111}, "a late reply of unit 2 was taken for unit 1"
        assert all(r[2] == 2 for r in u2), u2  # every poll of unit 2 timed out
        s.stop()


def test_hung_tcp_endpoint_does_not_slow_another_bus(tmp_path, broker, fieldslaves, gateways):
    a = fieldslaves(units=(1,))
    b = fieldslaves(units=(1,))
    body = ""
    for name, s in (("a", a), ("b", b)):
        body += "[bus %s]\ntype = tcp\nhost = 127.0.0.1\nport = %d\ntimeout = 1s\n" % (name, s.port)
        body += "[sensor %s1]\nclass = gas\nbus = %s\nregister = holding:0\npoll = 100ms\n" % (name, name)
    gw = gateways(conf(tmp_path, broker, body)).start()
    b.wait_requests(5, unit=1)
    a.command("hang")
    t_hang, t0 = now_ms(), time.monotonic()
    # bus b's polls as the daemon stamped them, from the hang on
    ts = wait_for(lambda: len(good_ts(tmp_path, "b1", t_hang)) >= 40 and good_ts(tmp_path, "b1", t_hang), 20,
                  lambda: "40 readings of b1 (have %d)" % len(good_ts(tmp_path, "b1", t_hang)))
    elapsed = time.monotonic() - t0
    slots = per_slot(ts, 100)
    # each 100 ms slot polled at most once; and while bus a waits out 1 s
    # timeouts, bus b misses (almost) none: slots skipped under load are
    # allowed, a bus held up by the other would miss nine in ten
    assert min(slots) >= 1, ("a slot polled twice", ts)
    assert len(ts) - 1 >= 0.8 * sum(slots), ("slots missed", len(ts) - 1, sum(slots))
    # and bus a is really hung: one request per timeout at most
    assert len(a.requests(unit=1, since=t0)) <= elapsed / 1.0 + 2
    assert gw.stop() == 0


def test_twenty_contiguous_registers_one_request_per_period(tmp_path, broker, fieldslaves, gateways):
    s = fieldslaves(units=(4,))
    body = "[bus tcp-1]\ntype = tcp\nhost = 127.0.0.1\nport = %d\n" % s.port
    for i in range(20):
        s.set_value(4, 100 + i, "uint16", i)
        body += "[sensor r%02d]\nclass = gas\nbus = tcp-1\nunit_id = 4\nregister = holding:%d\npoll = 250ms\n" \
                % (i, 100 + i)
    gw = gateways(conf(tmp_path, broker, body)).start()
    s.wait_requests(2, unit=4)
    t0 = time.monotonic()
    reqs = s.wait_requests(12, unit=4, since=t0)
    # one request per 250 ms slot for all 20: never two in a slot
    slots = per_slot([r.t * 1000 for r in reqs], 250)
    assert min(slots) >= 1, ("two requests in one slot", [r.t for r in reqs])
    assert len(reqs) - 1 >= 0.8 * sum(slots), ("slots missed", len(reqs) - 1, sum(slots))
    assert {(r.addr, r.count) for r in reqs} == {(100, 20)}
    wait_for(lambda: last_good(tmp_path, "r19") == 19, 5, "the last register's value")
    assert gw.stop() == 0


def test_garbled_and_short_rtu_replies_are_comm_faults(tmp_path, broker, fieldslaves, gateways):
    s = fieldslaves(units=(1, 2), rtu=True, baud=115200)
    s.set_value(1, 0, "uint16", 11)
    s.set_value(2, 0, "uint16", 22)
    body = "[bus rs485-1]\ntype = rtu\ndevice = %s\nbaud = 115200\ntimeout = 200ms\n" % s.device
    for u in (1, 2):
        body += "[sensor u%d]\nclass = gas\nbus = rs485-1\nunit_id = %d\nregister = holding:0\npoll = 200ms\n" % (u, u)
    gw = gateways(conf(tmp_path, broker, body)).start()
    wait_for(lambda: last_good(tmp_path, "u1") == 11 and last_good(tmp_path, "u2") == 22, 15, "both read")
    s.command("garble 1")
    s.command("short 2")
    wait_for(lambda: "sensor 'u1': quality good -> comm_fault (Invalid CRC)" in gw.output(), 10, "CRC error")
    wait_for(lambda: "sensor 'u2': quality good -> comm_fault (Connection timed out)" in gw.output(), 10,
             "a short reply times out")
    t = now_ms()
    s.command("clean 1")
    s.command("clean 2")
    wait_for(lambda: len([r for r in db_rows(tmp_path, "u1", t) if r[2] == 0]) >= 3 and
             len([r for r in db_rows(tmp_path, "u2", t) if r[2] == 0]) >= 3, 15, "clean replies again")
    assert {r[1] for r in db_rows(tmp_path, "u1") if r[2] == 0} == {11}
    assert {r[1] for r in db_rows(tmp_path, "u2") if r[2] == 0} == {22}
    assert gw.stop() == 0
