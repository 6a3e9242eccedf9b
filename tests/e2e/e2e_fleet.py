"""The end-to-end fault suite's pieces: one real mosquitto (persistent, as a
center's broker is), three gateways (two polling pymodbus slaves over
Modbus TCP, one on the sim bus), lifeline-center serve, and a driver that
moves the slaves' registers through the alarm levels in bursts. Every
process is started here and stopped by PID. The integration tests'
helpers (Proc, Broker, ModbusSlave, Gateway) are reused, not copied."""
import importlib.util
import logging
import os
import signal
import sqlite3
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("itconf", os.path.join(HERE, "..", "integration", "conftest.py"))
it = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(it)

BUILD, Proc, Broker, ModbusSlave, Gateway = it.BUILD, it.Proc, it.Broker, it.ModbusSlave, it.Gateway
wait_for, free_port, port_open = it.wait_for, it.free_port, it.port_open

logging.getLogger("pymodbus").setLevel(logging.CRITICAL)  # a slave down on purpose is not news

SENSORS = 4  # per Modbus gateway: float32 at holding 0, 2, 4, 6 of unit 1
LEVELS = (5.0, 25.0, 40.0, 55.0)  # gas class: none, yellow, orange, red

MODBUS_GW = """[gateway]
id = {id}
site = e2e
[mqtt]
host = {host}
port = {port}
keepalive = 5
reconnect_min = 200ms
reconnect_max = 1s
[store]
path = {db}
[bus field]
type = tcp
host = 127.0.0.1
port = {slave}
timeout = 200ms
backoff_max = 1s
"""
MODBUS_SENSOR = """[sensor gas-{n}]
class = gas
bus = field
unit_id = 1
register = holding:{addr}
type = float32
order = cdab
poll = 100ms
on_delay = 0
hysteresis = 1
"""
SIM_GW = """[gateway]
id = {id}
site = e2e
[mqtt]
host = {host}
port = {port}
keepalive = 5
reconnect_min = 200ms
reconnect_max = 1s
[store]
path = {db}
[bus sim]
type = sim
[sensor flap]
class = gas
bus = sim
sim = square
sim_min = 0
sim_max = 60
sim_period = 700ms
poll = 50ms
red = 50
hysteresis = 1
on_delay = 0
[sensor steady]
class = gas
bus = sim
sim_min = 30
sim_max = 30
poll = 200ms
on_delay = 0
"""


class Serve:
    """lifeline-center serve with a persistent session."""

    def __init__(self, tmp, port, client_id="e2e-center"):
        self.db = os.path.join(tmp, "center.db")
        self.argv = [os.path.join(BUILD, "lifeline-center"), "serve", "--port", str(port), "--db", self.db,
                     "--client-id", client_id, "--gap-wait", "1"]
        self.log = os.path.join(tmp, "serve.log")
        self.proc = None

    def output(self):
        return open(self.log, errors="replace").read() if os.path.exists(self.log) else ""

    def start(self, wait=True):
        n = self.output().count("subscribed to")
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "abort_on_error=0:detect_leaks=1")
        self.proc = Proc(self.argv, self.log, env=env)
        if wait:
            wait_for(lambda: self.output().count("subscribed to") > n, 20, lambda: "serve subscribed:\n" + self.output())
        return self

    def stop(self, sig=signal.SIGTERM):
        return self.proc.stop(sig) if self.proc else None

    def rows(self, sql, *args):
        c = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True, timeout=10)
        try:
            return c.execute(sql, args).fetchall()
        finally:
            c.close()


def gw_rows(gw, sql, *args):
    path = gw.db
    if not os.path.exists(path):
        return []
    c = sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=10)
    try:
        return c.execute(sql, args).fetchall()
    except sqlite3.OperationalError:  # not made yet
        return []
    finally:
        c.close()


def gw_max_seq(gw):
    r = gw_rows(gw, "SELECT max(seq) FROM alarm_events")
    return (r[0][0] or 0) if r else 0


class Driver(threading.Thread):
    """Moves every Modbus sensor through none -> yellow -> orange -> red ->
    none, each a step out of phase with the next, one step every 120 ms: a
    burst of about 30 alarm events a second per gateway. Writes that fail
    (a slave that is gone) are skipped."""

    def __init__(self, slaves):
        super().__init__(daemon=True)
        self.slaves = slaves
        self.stop_ev = threading.Event()
        self.steps = 0

    def run(self):
        while not self.stop_ev.is_set():
            for s in list(self.slaves):
                if not s.proc.alive():
                    continue  # the slave is down: its sensors fault
                for n in range(SENSORS):
                    try:
                        s.set(1, 2 * n, "float32", LEVELS[(self.steps + n) % len(LEVELS)], "cdab")
                    except Exception:  # it went down just now
                        break
            self.steps += 1
            self.stop_ev.wait(0.12)

    def stop(self):
        self.stop_ev.set()
        self.join(10)


class Fleet:
    def __init__(self, tmp, broker_extra="", sim_host="127.0.0.1", sim_port=None, sim_wrap=None):
        self.tmp = tmp
        self.broker = Broker(tmp, persistent=True, extra="allow_anonymous true\n" + broker_extra)
        self.slaves = []
        for name in ("a", "b"):
            d = os.path.join(tmp, "slave-" + name)
            os.makedirs(d, exist_ok=True)
            self.slaves.append(ModbusSlave(d))
        for s in self.slaves:
            for n in range(SENSORS):
                s.set(1, 2 * n, "float32", LEVELS[0], "cdab")
        self.gws = []
        for name, slave in zip(("gw-a", "gw-b"), self.slaves):
            conf = MODBUS_GW.format(id=name, host="127.0.0.1", port=self.broker.port,
                                    db=os.path.join(tmp, name + ".db"), slave=slave.port)
            conf += "".join(MODBUS_SENSOR.format(n=n, addr=2 * n) for n in range(SENSORS))
            self.gws.append(self._gateway(conf, name))
        self.gws.append(self._gateway(SIM_GW.format(id="gw-c", host=sim_host, port=sim_port or self.broker.port,
                                                    db=os.path.join(tmp, "gw-c.db")), "gw-c", sim_wrap))
        self.center = Serve(tmp, self.broker.port)
        self.driver = Driver(self.slaves)

    def _gateway(self, conf, name, wrap=None):
        g = Gateway(self.tmp, conf, name)
        g.db = os.path.join(self.tmp, name + ".db")
        g.name = "e2e/" + name
        g.wrap = wrap or []
        return g

    def start_gateway(self, g):
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "abort_on_error=0:detect_leaks=1")
        g.proc = Proc(g.wrap + [os.path.join(BUILD, "lifelined"), "-c", g.conf, "-v"], g.log, env=env)

    def start(self):
        self.center.start()
        for g in self.gws:
            self.start_gateway(g)
        for g in self.gws:
            wait_for(lambda: self.center.rows("SELECT state FROM gateways WHERE gateway = ?", g.name) == [("online",)],
                     20, lambda: "%s online at the center:\n%s\n%s" % (g.name, self.center.output(), g.output()))
        self.driver.start()
        return self

    def check(self, timeout=90, least=None):
        """The center holds exactly the gateways' alarm events: up to each
        gateway's last seq at this moment, every seq once, byte for byte,
        none lost, none from a wrong epoch."""
        self.driver.stop()
        total = 0
        for g in self.gws:
            last = gw_max_seq(g)
            assert last > 0, "%s made no alarm events" % g.name
            if least:
                assert last >= least, "%s made only %d alarm events" % (g.name, last)
            wait_for(lambda: (self.center.rows("SELECT contiguous FROM gateways WHERE gateway = ?", g.name)
                              or [(0,)])[0][0] >= last, timeout,
                     lambda: "the center has %s up to seq %d: %r\n%s" % (
                         g.name, last, self.center.rows("SELECT contiguous, max_seq, last_seq, lost FROM gateways"
                                                        " WHERE gateway = ?", g.name), self.center.output()[-3000:]))
            theirs = {s: (p.decode() if isinstance(p, bytes) else p)
                      for s, p in gw_rows(g, "SELECT seq, payload FROM alarm_events WHERE seq <= ?", last)}
            ours = dict(self.center.rows("SELECT seq, payload FROM events WHERE gateway = ? AND epoch = 1"
                                         " AND seq <= ?", g.name, last))
            assert sorted(theirs) == list(range(1, last + 1)), "%s's own seq has a hole" % g.name
            missing = sorted(set(theirs) - set(ours))
            extra = sorted(set(ours) - set(theirs))
            assert not missing and not extra, "%s: missing %r, extra %r" % (g.name, missing[:20], extra[:20])
            differ = [s for s in theirs if theirs[s] != ours[s]]
            assert not differ, "%s: payloads differ at %r" % (g.name, differ[:10])
            assert self.center.rows("SELECT epoch, lost FROM gateways WHERE gateway = ?", g.name) == [(1, 0)]
            beyond = self.center.rows("SELECT max(seq) FROM events WHERE gateway = ?", g.name)[0][0]
            assert beyond <= gw_max_seq(g), "%s: the center has a seq the gateway never made" % g.name
            total += last
        return total

    def stop(self):
        self.driver.stop()
        for g in self.gws:
            g.remove()
        # a clean stop (under SAN=1: no leak, no error at exit)
        rc = self.center.stop()
        for s in self.slaves:
            s.stop()
        self.broker.remove()
        assert rc in (0, None), "serve exited %r:\n%s" % (rc, self.center.output()[-3000:])
