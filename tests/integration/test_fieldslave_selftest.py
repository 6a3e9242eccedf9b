"""The fieldslave fixture itself: values in every type and byte order, each
fault on demand, the request log, over TCP and over an RTU pty pair. If one of
these fails, a gateway test built on fieldslave would lie."""
import os
import select
import socket
import struct
import time

import pytest
import serial
from pymodbus.client import ModbusSerialClient, ModbusTcpClient
from pymodbus.exceptions import ModbusIOException
from pymodbus.pdu import ExceptionResponse
from pymodbus.utilities import computeCRC

from fieldbus import FORMATS, ORDERS, PtyPair, fieldslaves, value_of, words  # noqa: F401 (fixture)

TIMEOUT = 0.3  # client response timeout for the fault tests

# Decoding here is written independently of fieldbus.words(): byte positions
# per order (every one of these permutations is its own inverse).
PERM = {
    2: {"abcd": (0, 1), "cdab": (0, 1), "badc": (1, 0), "dcba": (1, 0)},
    4: {"abcd": (0, 1, 2, 3), "cdab": (2, 3, 0, 1), "badc": (1, 0, 3, 2), "dcba": (3, 2, 1, 0)},
    8: {"abcd": tuple(range(8)), "cdab": (6, 7, 4, 5, 2, 3, 0, 1),
        "badc": (1, 0, 3, 2, 5, 4, 7, 6), "dcba": tuple(range(7, -1, -1))},
}
SAMPLES = {"int16": -12345, "uint16": 54321, "int32": -123456789, "uint32": 3123456789,
           "float32": 123456.0, "int64": -1234567890123456789, "uint64": 12345678901234567890,
           "float64": -2.718281828459045}


def decode(typ, regs, order):
    raw = b"".join(struct.pack(">H", r) for r in regs)
    return struct.unpack(FORMATS[typ], bytes(raw[i] for i in PERM[len(raw)][order]))[0]


def tcp_client(port, timeout=TIMEOUT):
    c = ModbusTcpClient("127.0.0.1", port=port)
    c.params.timeout = timeout  # pymodbus 3.0.0rc1 int()s the constructor's timeout
    assert c.connect()
    return c


def rtu_client(device, baud, parity, stopbits=1, timeout=TIMEOUT):
    # strict=False: pymodbus would set pyserial's inter-byte timeout after opening,
    # and that second tcsetattr fails with EINVAL on a pty when parity is E/O.
    # reset_socket=False: do not close (and reopen, same failure) after a timeout.
    c = ModbusSerialClient(device, baudrate=baud, parity=parity, stopbits=stopbits,
                           strict=False, reset_socket=False)
    c.params.timeout = timeout
    assert c.connect()
    return c


def timed(fn, *args, **kwargs):
    t = time.monotonic()
    rr = fn(*args, **kwargs)
    return rr, time.monotonic() - t


def assert_timed_out(rr, elapsed):
    assert isinstance(rr, ModbusIOException), rr
    assert elapsed >= TIMEOUT * 0.9, elapsed


def assert_regs(rr, expected):
    assert not rr.isError(), rr
    assert rr.registers == expected


def test_word_orders_match_libmodbus_names():
    # libmodbus's test value 123456.0f is 0x47F12000
    assert words("float32", 123456.0, "abcd") == [0x47F1, 0x2000]
    assert words("float32", 123456.0, "cdab") == [0x2000, 0x47F1]
    assert words("float32", 123456.0, "badc") == [0xF147, 0x0020]
    assert words("float32", 123456.0, "dcba") == [0x0020, 0xF147]
    assert words("uint64", 0x0102030405060708, "cdab") == [0x0708, 0x0506, 0x0304, 0x0102]
    assert words("uint64", 0x0102030405060708, "badc") == [0x0201, 0x0403, 0x0605, 0x0807]
    assert words("uint64", 0x0102030405060708, "dcba") == [0x0807, 0x0605, 0x0403, 0x0201]
    assert words("int16", -2, "abcd") == [0xFFFE]
    with pytest.raises(ValueError):
        words("int32", 1.5)
    for typ, value in SAMPLES.items():
        for order in ORDERS:
            assert value_of(typ, words(typ, value, order), order) == value
            assert decode(typ, words(typ, value, order), order) == value


def test_tcp_values_in_every_type_and_order(fieldslaves):
    s = fieldslaves(units=(1, 2, 7))
    c = tcp_client(s.port)
    for unit in (1, 2, 7):
        addr = 0
        for typ, sample in SAMPLES.items():
            value = sample if unit == 1 else -sample if typ[0] in "if" else sample // unit
            for order in ORDERS:
                regs = s.set_value(unit, addr, typ, value, order)
                rr = c.read_holding_registers(addr, len(regs), slave=unit)
                assert not rr.isError(), rr
                assert decode(typ, rr.registers, order) == pytest.approx(value, rel=1e-7), \
                    (unit, typ, order)
                addr += len(regs)
    # read-only tables through the control file
    s.set_value(2, 500, "float32", 21.5, "cdab", kind="input")
    s.set_value(2, 998, "int16", -1, kind="input")
    s.set_bits(7, "discrete", 10, [1, 0, 1, 1])
    s.set_bits(7, "coil", 20, [0, 1, 1])
    rr = c.read_input_registers(500, 2, slave=2)
    assert decode("float32", rr.registers, "cdab") == 21.5
    assert_regs(c.read_input_registers(998, 2, slave=2), [0xFFFF, 0])
    assert c.read_discrete_inputs(10, 4, slave=7).bits[:4] == [True, False, True, True]
    assert c.read_coils(20, 3, slave=7).bits[:3] == [False, True, True]
    # 1000 registers per table, zero-based: 999 is the last
    assert c.read_holding_registers(999, 1, slave=1).registers == [0]
    rr = c.read_holding_registers(999, 2, slave=1)
    assert isinstance(rr, ExceptionResponse) and rr.exception_code == 2
    # SIGTERM with a client still connected: exit 0, promptly
    t = time.monotonic()
    assert s.stop() == 0
    assert time.monotonic() - t < 1
    c.close()


def test_tcp_dead_unit_times_out_then_answers_again(fieldslaves):
    s = fieldslaves(units=(1, 2))
    s.set_value(1, 0, "uint16", 11)
    s.set_value(2, 0, "uint16", 22)
    c = tcp_client(s.port)
    s.command("dead 2")
    assert_timed_out(*timed(c.read_holding_registers, 0, 1, slave=2))
    assert_regs(c.read_holding_registers(0, 1, slave=1), [11])
    s.command("alive 2")
    assert_regs(c.read_holding_registers(0, 1, slave=2), [22])
    # the swallowed request was logged like the others
    assert [r.unit for r in s.requests()] == [2, 1, 2]


def test_tcp_exception(fieldslaves):
    s = fieldslaves(units=(3,))
    c = tcp_client(s.port)
    s.command("exception 3 2")
    for rr in (c.read_holding_registers(0, 1, slave=3), c.write_register(0, 5, slave=3)):
        assert isinstance(rr, ExceptionResponse) and rr.exception_code == 2, rr
    s.command("exception 3 11")
    assert c.read_input_registers(0, 1, slave=3).exception_code == 11
    s.command("exception 3 0")
    assert_regs(c.read_holding_registers(0, 1, slave=3), [0])
    # a unit that is not served: a TCP gateway's "target failed to respond"
    rr = c.read_holding_registers(0, 1, slave=9)
    assert isinstance(rr, ExceptionResponse) and rr.exception_code == 0x0B
    assert [r.unit for r in s.requests()] == [3, 3, 3, 3, 9]


def mbap(tid, unit, addr, count):
    return struct.pack(">HHHBBHH", tid, 0, 6, unit, 3, addr, count)


def recv_adu(sock, timeout):
    """One Modbus TCP reply (tid, unit, pdu) or None on timeout."""
    buf, deadline = b"", time.monotonic() + timeout
    while len(buf) < 6 or len(buf) < 6 + struct.unpack(">H", buf[4:6])[0]:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([sock], [], [], left)[0]:
            return None
        want = 6 - len(buf) if len(buf) < 6 else 6 + struct.unpack(">H", buf[4:6])[0] - len(buf)
        chunk = sock.recv(want)  # never past this ADU: the next may already be queued
        assert chunk, "connection closed"
        buf += chunk
    tid, _, _, unit = struct.unpack(">HHHB", buf[:7])
    return tid, unit, buf[7:]


def test_tcp_delay_reply_arrives_late_then_next_reply(fieldslaves):
    s = fieldslaves(units=(1, 2))
    s.set_value(2, 4, "uint16", 0x2222)
    s.set_value(1, 4, "uint16", 0x1111)
    s.command("delay 2 300")
    with socket.create_connection(("127.0.0.1", s.port)) as sock:
        t0 = time.monotonic()
        sock.sendall(mbap(1, 2, 4, 1))
        assert recv_adu(sock, 0.15) is None  # the master's timeout expires
        sock.sendall(mbap(2, 1, 4, 1))  # its next transaction
        late = recv_adu(sock, 1)
        assert late == (1, 2, b"\x03\x02\x22\x22")
        assert time.monotonic() - t0 >= 0.29
        assert recv_adu(sock, 1) == (2, 1, b"\x03\x02\x11\x11")
    # with a patient master the delay is just latency
    c = tcp_client(s.port, timeout=1.0)
    rr, elapsed = timed(c.read_holding_registers, 4, 1, slave=2)
    assert_regs(rr, [0x2222])
    assert 0.29 <= elapsed < 0.9
    s.command("delay 2 0")
    rr, elapsed = timed(c.read_holding_registers, 4, 1, slave=2)
    assert elapsed < 0.1


def test_tcp_hang_accepts_but_never_answers(fieldslaves):
    s = fieldslaves(units=(1, 2))
    c = tcp_client(s.port)
    assert_regs(c.read_holding_registers(0, 1, slave=1), [0])
    s.command("hang")
    assert_timed_out(*timed(c.read_holding_registers, 0, 1, slave=1))
    c2 = tcp_client(s.port)  # new connections are still accepted
    assert_timed_out(*timed(c2.read_holding_registers, 0, 1, slave=2))
    # the side door is not hung: tests can still set values
    s.set_value(2, 0, "uint16", 7)
    s.command("unhang")
    assert_regs(c2.read_holding_registers(0, 1, slave=2), [7])
    assert len(s.requests()) == 4


def test_tcp_request_split_across_segments(fieldslaves):
    s = fieldslaves(units=(1,))
    s.set_value(1, 3, "uint16", 42)
    with socket.create_connection(("127.0.0.1", s.port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        adu = mbap(9, 1, 3, 1)
        for part in (adu[:3], adu[3:9], adu[9:]):
            sock.sendall(part)
            time.sleep(0.02)  # force separate segments (this test is about exactly that)
        assert recv_adu(sock, 1) == (9, 1, b"\x03\x02\x00\x2a")


def test_request_log_counts_per_unit(fieldslaves):
    s = fieldslaves(units=(1, 2, 3))
    c = tcp_client(s.port)
    t0 = time.monotonic()
    c.read_holding_registers(100, 20, slave=1)
    for _ in range(3):
        c.read_input_registers(7, 2, slave=2)
    c.write_registers(5, [1, 2, 3], slave=3)
    c.write_coils(0, [True] * 10, slave=3)
    c.write_register(9, 1, slave=3)
    reqs = s.wait_requests(6, since=t0)
    assert [(r.unit, r.fc, r.addr, r.count) for r in reqs] == [
        (1, 3, 100, 20), (2, 4, 7, 2), (2, 4, 7, 2), (2, 4, 7, 2),
        (3, 16, 5, 3), (3, 15, 0, 10), (3, 6, 9, 1)]
    assert len(s.requests(unit=2)) == 3
    assert all(t0 <= r.t <= time.monotonic() for r in reqs)
    assert reqs == sorted(reqs, key=lambda r: r.t)
    t1 = time.monotonic()
    c.read_holding_registers(0, 1, slave=2)
    assert [r.unit for r in s.requests(since=t1)] == [2]
    # writes went through the main server: visible on the side door too
    assert_regs(s.side.read_holding_registers(5, 3, slave=3), [1, 2, 3])


def test_control_file_bad_lines_are_reported_and_ignored(fieldslaves):
    s = fieldslaves(units=(1,))
    c = tcp_client(s.port)
    for line in ("frobnicate", "set 1 holding", "set 9 holding 0 1", "set 1 input 999 1 2",
                 "set 1 coil 0 2", "exception 1 12", "delay 1 soon", "dead"):
        s.command(line)
    s.command("set 1 holding 0 65535 1")
    assert_regs(c.read_holding_registers(0, 2, slave=1), [65535, 1])
    out = s.output()
    assert out.count("fieldslave: ctl: ignored") == 8, out
    assert "'frobnicate'" in out and "'exception 1 12'" in out


def test_pty_pair_is_a_raw_8bit_line(tmp_path):
    pty = PtyPair(str(tmp_path))
    try:
        data = bytes(range(256))
        with serial.Serial(pty.a, 9600, timeout=1) as a, serial.Serial(pty.b, 9600, timeout=1) as b:
            a.write(data)
            assert b.read(256) == data
            b.write(b"\x11\x13\r\n\x03\x04")
            assert a.read(6) == b"\x11\x13\r\n\x03\x04"
        # reopening after a close works (socat stays up), also after reset_termios
        pty.reset_termios()
        with serial.Serial(pty.b, 19200, parity="E", timeout=1) as b:
            b.write(b"x")
    finally:
        assert pty.stop() is not None
    assert not os.path.lexists(pty.a) and not os.path.lexists(pty.b)


@pytest.mark.parametrize("baud,parity", [(9600, "N"), (19200, "E")])
def test_rtu_values_and_dead_unit(fieldslaves, baud, parity):
    s = fieldslaves(units=(1, 2, 3), rtu=True, baud=baud, parity=parity)
    s.set_value(1, 10, "float32", -3.5, "cdab")
    s.set_value(3, 20, "int32", -70000, "dcba", kind="input")
    s.set_value(3, 0, "uint16", 33)
    s.set_bits(2, "coil", 5, [1, 1, 0, 1])
    c = rtu_client(s.device, baud, parity)
    assert decode("float32", c.read_holding_registers(10, 2, slave=1).registers, "cdab") == -3.5
    assert decode("int32", c.read_input_registers(20, 2, slave=3).registers, "dcba") == -70000
    assert c.read_coils(5, 4, slave=2).bits[:4] == [True, True, False, True]
    s.command("dead 2")
    assert_timed_out(*timed(c.read_holding_registers, 0, 1, slave=2))
    rr, elapsed = timed(c.read_holding_registers, 0, 1, slave=3)
    assert_regs(rr, [33])
    assert elapsed < 0.2
    s.command("alive 2")
    assert not c.read_coils(5, 4, slave=2).isError()
    # a unit nobody serves stays silent, as on a real line, and is logged
    assert_timed_out(*timed(c.read_holding_registers, 0, 1, slave=9))
    assert [r.unit for r in s.requests()] == [1, 3, 2, 2, 3, 2, 9]
    c.close()
    assert s.stop() == 0


def rtu_read(port, unit, addr, count):
    req = struct.pack(">BBHH", unit, 3, addr, count)
    port.write(req + struct.pack(">H", computeCRC(req)))
    return port.read(5 + 2 * count)


def test_rtu_char_timing_and_delay(fieldslaves):
    s = fieldslaves(units=(1,), rtu=True, baud=9600, char_timing=True)
    with serial.Serial(s.device, 9600, timeout=1) as port:
        t = time.monotonic()
        for _ in range(5):
            assert len(rtu_read(port, 1, 0, 2)) == 9
        per = (time.monotonic() - t) / 5
        # (8 + 9) chars * 1.146 ms + t3.5 4.0 ms + 5 ms turnaround = 28.5 ms
        assert 0.027 <= per < 0.06, per
        s.command("delay 1 100")
        t = time.monotonic()
        assert len(rtu_read(port, 1, 0, 2)) == 9
        assert 0.125 <= time.monotonic() - t < 0.2


def test_rtu_stale_partial_frame_is_dropped_after_silence(fieldslaves):
    s = fieldslaves(units=(1,), rtu=True, baud=19200)
    s.set_value(1, 0, "uint16", 5)
    with serial.Serial(s.device, 19200, timeout=1) as port:
        port.write(b"\x01\x03\x00")  # a master that gave up mid-frame
        time.sleep(0.05)  # line silence, the thing under test
        assert rtu_read(port, 1, 0, 1)[3:5] == b"\x00\x05"
