"""Fixtures that start the real things on free loopback ports: a mosquitto
broker, a pymodbus slave, lifelined itself, and an MQTT subscriber. Every
process is stopped by PID; readiness is waited for, never slept for."""
import json
import os
import signal
import socket
import struct
import shutil
import subprocess
import tempfile
import threading
import time

import paho.mqtt.client as mqtt
import pytest
from pymodbus.client import ModbusTcpClient

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
BUILD = os.environ.get("LIFELINE_BUILD", os.path.join(ROOT, "build"))
PY = "/usr/bin/python3"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.02)
    raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what() if callable(what) else what))


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


class Proc:
    """A child process we own; stop() always reaps it."""

    def __init__(self, argv, log_path, env=None):
        self.argv, self.log_path = argv, log_path
        self.log = open(log_path, "ab")
        self.p = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, env=env)

    @property
    def pid(self):
        return self.p.pid

    def alive(self):
        return self.p.poll() is None

    def send(self, sig):
        if self.alive():
            os.kill(self.p.pid, sig)

    def wait(self, timeout):
        return self.p.wait(timeout=timeout)

    def stop(self, sig=signal.SIGTERM, timeout=10):
        if self.alive():
            os.kill(self.p.pid, sig)
            try:
                self.p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.p.pid, signal.SIGKILL)
                self.p.wait()
        self.log.close()
        return self.p.returncode

    def output(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")


class Broker:
    """mosquitto on a free port. With persistent=True it keeps sessions and
    queued QoS 1 messages across its own restarts, so a subscriber with a
    persistent session misses nothing published while it reconnects."""

    def __init__(self, tmp, persistent=False, extra=""):
        self.port = free_port()
        self.store = None
        self.conf = os.path.join(tmp, "mosquitto.conf")
        with open(self.conf, "w") as f:
            # extra: more listeners and their options (TLS, passwords), after the plain one
            f.write("listener %d 127.0.0.1\n%s\n" % (self.port, extra or "allow_anonymous true"))
            if persistent:
                # started as root, mosquitto drops to its own user: give it a place to write
                # (pytest's tmp_path is 0700, so the store goes under /tmp)
                store = self.store = tempfile.mkdtemp(prefix="lifeline-mosq-")
                os.chmod(store, 0o777)
                f.write("persistence true\npersistence_location %s/\n" % store)
                # queue everything for a persistent subscriber that is away (default 1000)
                f.write("max_queued_messages 0\n")
            else:
                f.write("persistence false\n")
        self.tmp = tmp
        self.proc = None
        self.start()

    def remove(self):
        self.stop()
        if self.store:
            shutil.rmtree(self.store, ignore_errors=True)

    def start(self):
        self.proc = Proc(["/usr/sbin/mosquitto", "-c", self.conf], os.path.join(self.tmp, "mosquitto.log"))
        wait_for(lambda: port_open(self.port), 10, "mosquitto on port %d" % self.port)

    def stop(self):
        if self.proc:
            self.proc.stop()
            self.proc = None


class ModbusSlave:
    def __init__(self, tmp, units=5):
        self.port = free_port()
        self.proc = Proc([PY, os.path.join(HERE, "modbus_slave.py"), "--port", str(self.port),
                          "--units", str(units)], os.path.join(tmp, "slave.log"))
        wait_for(lambda: port_open(self.port), 20, "pymodbus slave on port %d" % self.port)
        self.client = ModbusTcpClient("127.0.0.1", port=self.port)
        assert self.client.connect()

    @staticmethod
    def words(typ, order, value):
        if typ == "int16":
            return [struct.unpack(">H", struct.pack(">h", int(round(value))))[0]]
        if typ == "uint16":
            return [int(round(value)) & 0xFFFF]
        fmt = {"float32": ">f", "int32": ">i", "uint32": ">I"}[typ]
        b = struct.pack(fmt, float(value) if typ == "float32" else int(value))
        idx = {"abcd": (0, 1, 2, 3), "cdab": (2, 3, 0, 1), "badc": (1, 0, 3, 2), "dcba": (3, 2, 1, 0)}[order]
        r = bytes(b[i] for i in idx)
        return [r[0] << 8 | r[1], r[2] << 8 | r[3]]

    def set(self, unit, addr, typ, value, order="abcd"):
        rr = self.client.write_registers(addr, self.words(typ, order, value), slave=unit)
        assert not rr.isError(), rr

    def stop(self):
        self.client.close()
        self.proc.stop()


class Subscriber:
    """Collects messages under lifeline/#, in arrival order."""

    def __init__(self, port, topic="lifeline/#", client_id=None, auth=None):
        self.msgs = []
        self.lock = threading.Lock()
        self.connected = threading.Event()
        # a fixed client id means a persistent session (clean_session False)
        self.c = mqtt.Client(client_id=client_id or "pytest-%d-%d" % (os.getpid(), free_port()),
                             clean_session=client_id is None)
        self.c.reconnect_delay_set(0.2, 1)
        if auth:
            self.c.username_pw_set(*auth)
        self.c.on_connect = lambda c, u, f, rc: (c.subscribe(topic, qos=1), self.connected.set())
        self.c.on_message = self._on_message
        self.c.connect("127.0.0.1", port, keepalive=60)
        self.c.loop_start()
        assert self.connected.wait(10), "subscriber could not connect"

    def _on_message(self, c, u, m):
        with self.lock:
            self.msgs.append((m.topic, m.payload, m.retain))

    def of(self, kind):
        with self.lock:
            return [(t, p, r) for t, p, r in self.msgs if t.endswith("/" + kind)]

    def alarms(self):
        return [json.loads(p) for _, p, _ in self.of("alarm")]

    def statuses(self):
        return [(json.loads(p) if p else None, r) for _, p, r in self.of("status")]

    def unique_alarms(self):
        """Alarm events deduplicated by seq, as the center does (delivery is
        at least once: a message resent after a crash carries the same seq)."""
        seen, out = set(), []
        for a in self.alarms():
            if a["seq"] not in seen:
                seen.add(a["seq"])
                out.append(a)
        return out

    def wait_unique_alarms(self, n, timeout=30):
        return wait_for(lambda: len(self.unique_alarms()) >= n and self.unique_alarms(), timeout,
                        lambda: "%d distinct alarm events (have %d)" % (n, len(self.unique_alarms())))

    def wait_alarms(self, n, timeout=30):
        return wait_for(lambda: len(self.alarms()) >= n and self.alarms(), timeout,
                        lambda: "%d alarm messages (have %d)" % (n, len(self.alarms())))

    def close(self):
        self.c.loop_stop()
        self.c.disconnect()


class Gateway:
    def __init__(self, tmp, conf_text, name="gw"):
        self.tmp = tmp
        self.conf = os.path.join(tmp, name + ".conf")
        self.sockdir = None
        if "[console]" not in conf_text:
            # the control socket in a short private place, not /run/lifeline
            self.sockdir = tempfile.mkdtemp(prefix="ll-")
            conf_text += "\n[console]\nsocket = %s/ctl.sock\n" % self.sockdir
        with open(self.conf, "w") as f:
            f.write(conf_text)
        self.log = os.path.join(tmp, name + ".log")
        self.proc = None

    def start(self):
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "abort_on_error=0:detect_leaks=1")
        # LIFELINE_WRAP: a runner in front (qemu-user for the ARM builds, tests/cross)
        wrap = os.environ.get("LIFELINE_WRAP", "").split()
        self.proc = Proc(wrap + [os.path.join(BUILD, "lifelined"), "-c", self.conf, "-v"], self.log, env=env)
        return self

    def output(self):
        with open(self.log, "rb") as f:
            return f.read().decode(errors="replace")

    def stop(self, sig=signal.SIGTERM):
        return self.proc.stop(sig) if self.proc else None

    def remove(self):
        if self.proc and self.proc.alive():
            self.stop(signal.SIGKILL)
        if self.sockdir:
            shutil.rmtree(self.sockdir, ignore_errors=True)


@pytest.fixture
def broker(tmp_path, request):
    b = Broker(str(tmp_path), persistent=getattr(request, "param", False))
    yield b
    b.remove()


@pytest.fixture
def slave(tmp_path):
    s = ModbusSlave(str(tmp_path))
    yield s
    s.stop()


@pytest.fixture
def gateways(tmp_path):
    made = []

    def make(conf_text, name="gw"):
        g = Gateway(str(tmp_path), conf_text, name)
        made.append(g)
        return g

    yield make
    for g in made:
        g.remove()


@pytest.fixture
def subscriber(broker):
    subs = []

    def make(topic="lifeline/#", client_id=None):
        s = Subscriber(broker.port, topic, client_id)
        subs.append(s)
        return s

    yield make
    for s in subs:
        s.close()
