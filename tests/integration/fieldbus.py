"""Field bus helpers for the integration tests: a socat pty pair standing in
for an RS-485 line, and FieldSlave, which runs fieldslave.py (a Modbus slave
with faults on demand) over TCP or over such a line.

    pty = PtyPair(tmp)                     # pty.a, pty.b; pty.stop()
    s = FieldSlave(tmp, units=(1, 2))      # TCP on a free port: s.port
    s = FieldSlave(tmp, units=(1,), rtu=True, baud=9600)   # s.device for the gateway
    s.set_value(1, 100, "float32", 21.5, order="cdab")
    s.command("dead 2"); s.requests(unit=1, since=t0); s.stop()

Processes are stopped by PID; readiness is waited for, never slept for.
Waiting is conftest's wait_for."""
import collections
import os
import re
import signal
import struct
import subprocess
import termios
import time

import pytest

from conftest import wait_for
from pymodbus.client import ModbusTcpClient

HERE = os.path.dirname(os.path.abspath(__file__))
PY = "/usr/bin/python3"
FIELDSLAVE = os.path.join(HERE, "fieldslave.py")

FORMATS = {"int16": ">h", "uint16": ">H", "int32": ">i", "uint32": ">I", "float32": ">f",
           "int64": ">q", "uint64": ">Q", "float64": ">d"}
ORDERS = ("abcd", "cdab", "badc", "dcba")
KINDS = ("holding", "input", "coil", "discrete")

Request = collections.namedtuple("Request", "t unit fc addr count")


def _stop(p, timeout=5):
    """SIGTERM the child by PID, SIGKILL if it lingers; returns the exit status."""
    if p.poll() is None:
        os.kill(p.pid, signal.SIGTERM)
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.kill(p.pid, signal.SIGKILL)
            p.wait()
    return p.returncode


def words(typ, value, order="abcd"):
    """Registers for VALUE as TYP in ORDER, the gateway's naming: A is the most
    significant byte; cdab reverses the word order, badc swaps the bytes in
    each word, dcba does both (for 16-bit types only the byte swap applies)."""
    if order not in ORDERS:
        raise ValueError("order must be one of %s" % (ORDERS,))
    fmt = FORMATS[typ]
    if not typ.startswith("float"):
        if value != int(value):
            raise ValueError("%s takes an integer, not %r" % (typ, value))
        value = int(value)
    b = struct.pack(fmt, value)
    regs = [b[i:i + 2] for i in range(0, len(b), 2)]
    if order in ("cdab", "dcba"):
        regs.reverse()
    if order in ("badc", "dcba"):
        regs = [r[::-1] for r in regs]
    return [int.from_bytes(r, "big") for r in regs]


def value_of(typ, regs, order="abcd"):
    """The inverse of words()."""
    regs = list(regs)
    if order in ("badc", "dcba"):
        regs = [((r & 0xFF) << 8) | (r >> 8) for r in regs]
    if order in ("cdab", "dcba"):
        regs.reverse()
    return struct.unpack(FORMATS[typ], b"".join(r.to_bytes(2, "big") for r in regs))[0]


class PtyPair:
    """Two linked ptys from socat, standing in for a serial line: whatever is
    written to one end is read from the other. `rawer` (socat's replacement for
    the obsolete `raw`) gives a raw 8-bit path with echo off; the links are
    removed by socat when it exits. A pty ignores baud rate and parity."""

    def __init__(self, directory, name="tty"):
        self.a = os.path.join(directory, name + "A")
        self.b = os.path.join(directory, name + "B")
        if re.search(r"[,:!\s]", self.a):
            raise ValueError("socat cannot take a link path with , : ! or space: " + self.a)
        self.log_path = os.path.join(directory, name + "-socat.log")
        self.log = open(self.log_path, "ab")
        self.p = subprocess.Popen(["socat", "-d", "-d", "pty,rawer,link=" + self.a,
                                   "pty,rawer,link=" + self.b],
                                  stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            wait_for(lambda: self._ready(), 5, "socat pty links %s and %s" % (self.a, self.b))
        except AssertionError:
            self.stop()
            raise

    def _ready(self):
        if self.p.poll() is not None:
            raise AssertionError("socat exited with %s: %s" % (self.p.returncode, self.output()))
        # the transfer loop starts after both links exist; bytes written before are buffered
        return os.path.exists(self.a) and os.path.exists(self.b)

    @property
    def pid(self):
        return self.p.pid

    def output(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def reset_termios(self, end=None):
        """Put END (default: both) back to neutral settings. On this kernel a pty
        drops PARENB, and a tcsetattr whose only change is PARENB fails with
        EINVAL: after a process that opened an end with parity E/O died without
        restoring termios (SIGKILL; libmodbus restores them in modbus_close),
        the next open with the same settings fails. Call this before restarting it."""
        for path in ([end] if end else [self.a, self.b]):
            fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
            try:
                attr = termios.tcgetattr(fd)
                attr[2] = (attr[2] & ~(termios.CBAUD | termios.CSTOPB)) | termios.B50
                attr[4] = attr[5] = termios.B50
                termios.tcsetattr(fd, termios.TCSANOW, attr)
            finally:
                os.close(fd)

    def stop(self):
        rc = _stop(self.p)
        self.log.close()
        return rc


class FieldSlave:
    """fieldslave.py as a child process, stopped by PID.

    TCP (default): .port on 127.0.0.1, a free port unless PORT is given (pass
    the old .port to restart a slave in place). RTU (rtu=True): a PtyPair of its
    own; fieldslave opens one end, .device is the other, for the gateway.
    Either way .side is a connected ModbusTcpClient on the side door, which
    shares the datastore and never misbehaves."""

    count = 0

    def __init__(self, directory, units=(1,), rtu=False, baud=9600, parity="N", stopbits=1,
                 char_timing=False, port=None, side_port=None, name=None):
        FieldSlave.count += 1
        self.name = name or "fieldslave%d" % FieldSlave.count
        base = os.path.join(directory, self.name)
        self.ctl, self.log, self.out_path = base + ".ctl", base + ".requests", base + ".out"
        self.units = tuple(units)
        for path in (self.ctl, self.log):
            open(path, "w").close()
        argv = [PY, FIELDSLAVE, "--units", ",".join(str(u) for u in self.units),
                "--ctl", self.ctl, "--log", self.log, "--side-port", str(side_port or 0)]
        self.pty = self.device = self.port = None
        if rtu:
            self.pty = PtyPair(directory, self.name + "-tty")
            self.device = self.pty.b
            argv += ["--rtu", self.pty.a, "--baud", str(baud), "--parity", parity,
                     "--stopbits", str(stopbits)] + (["--char-timing"] if char_timing else [])
        else:
            argv += ["--tcp", str(port or 0)]
        self.out = open(self.out_path, "ab")
        self.p = subprocess.Popen(argv, stdout=self.out, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL)
        self.side = None
        try:
            wait_for(self._ready, 15, "%s ready" % self.name)
            m = re.search(r"^fieldslave: listening main=(?:tcp:(\d+)|rtu:\S+) side=tcp:(\d+)$",
                          self.output(), re.M)
            if m.group(1):
                self.port = int(m.group(1))
            self.side_port = int(m.group(2))
            self.side = ModbusTcpClient("127.0.0.1", port=self.side_port)
            self.side.params.timeout = 2.0  # the constructor int()s its timeout
            assert self.side.connect(), "side door on port %d refused" % self.side_port
        except BaseException:
            self.stop()
            raise

    def _ready(self):
        if self.p.poll() is not None:
            raise AssertionError("%s exited with %s:\n%s" % (self.name, self.p.returncode,
                                                             self.output()))
        return "\nfieldslave: ready\n" in "\n" + self.output()

    @property
    def pid(self):
        return self.p.pid

    def alive(self):
        return self.p.poll() is None

    def output(self):
        """What fieldslave printed: the ready lines, ignored control lines, errors."""
        with open(self.out_path, "rb") as f:
            return f.read().decode(errors="replace")

    def command(self, line):
        """Append one control line. It is in force for every request that
        reaches the slave after this returns (fieldslave re-reads the file
        before handling each request)."""
        if "\n" in line:
            raise ValueError("one command per call")
        with open(self.ctl, "a") as f:
            f.write(line + "\n")

    def set_value(self, unit, addr, typ, value, order="abcd", kind="holding"):
        """Store VALUE as TYP (int16 .. float64) in ORDER at ADDR of UNIT.
        Holding registers go through the side door, input registers through
        the control file (they are read-only to Modbus)."""
        regs = words(typ, value, order)
        if kind == "holding":
            rr = self.side.write_registers(addr, regs, slave=unit)
            assert not rr.isError(), "side door write to unit %d failed: %s" % (unit, rr)
        elif kind == "input":
            self.command("set %d input %d %s" % (unit, addr, " ".join(map(str, regs))))
        else:
            raise ValueError("kind must be holding or input")
        return regs

    def set_bits(self, unit, kind, addr, bits):
        """Coils through the side door, discrete inputs through the control file."""
        bits = [1 if b else 0 for b in bits]
        if kind == "coil":
            rr = self.side.write_coils(addr, [bool(b) for b in bits], slave=unit)
            assert not rr.isError(), "side door write to unit %d failed: %s" % (unit, rr)
        elif kind == "discrete":
            self.command("set %d discrete %d %s" % (unit, addr, " ".join(map(str, bits))))
        else:
            raise ValueError("kind must be coil or discrete")

    def requests(self, unit=None, since=None):
        """Requests the main server received (answered or not), oldest first,
        as Request(t, unit, fc, addr, count); t is CLOCK_MONOTONIC seconds, the
        clock of time.monotonic(), so `since=time.monotonic()` works."""
        out = []
        with open(self.log) as f:
            for line in f:
                if not line.endswith("\n"):
                    break  # a line still being written
                t, u, fc, addr, count = line.split()
                r = Request(float(t), int(u), int(fc), int(addr), int(count))
                if (unit is None or r.unit == unit) and (since is None or r.t >= since):
                    out.append(r)
        return out

    def wait_requests(self, n, unit=None, since=None, timeout=10):
        """Wait until at least N requests matching (unit, since) have arrived."""
        return wait_for(lambda: len(self.requests(unit, since)) >= n and self.requests(unit, since),
                     timeout, "%d requests to %s (have %d)"
                     % (n, "unit %s" % unit if unit is not None else "any unit",
                        len(self.requests(unit, since))))

    def stop(self):
        """Stop fieldslave (SIGTERM, by PID) and its pty pair; returns its exit status."""
        if self.side:
            self.side.close()
            self.side = None
        rc = _stop(self.p)
        self.out.close()
        if self.pty:
            self.pty.stop()
            self.pty = None
        return rc


@pytest.fixture
def fieldslaves(tmp_path):
    """Factory fixture: fieldslaves(units=(1, 2), rtu=True, ...) -> FieldSlave,
    all stopped at teardown. Import it into a test module to use it."""
    made = []

    def make(**kwargs):
        s = FieldSlave(str(tmp_path), **kwargs)
        made.append(s)
        return s

    yield make
    for s in made:
        s.stop()
