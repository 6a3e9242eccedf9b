"""The faults of the field, each in its own test, each followed by the
check that the center's database holds exactly the gateways' alarm events:
none missing, none doubled, each gateway's seq contiguous (Fleet.check)."""
import os
import shutil
import signal
import subprocess
import time

import pytest

from e2e_fleet import Proc, it, port_open, wait_for

PY = "/usr/bin/python3"


def burst(seconds):
    time.sleep(seconds)  # the driver and the sim gateway make events meanwhile


def test_broker_restarted_10_times(fleet):
    f = fleet()
    for _ in range(10):
        burst(0.8)
        f.broker.stop()
        burst(0.4)
        f.broker.start()
    burst(1)
    total = f.check(least=20)
    print("broker restarts: %d alarm events, all there once" % total)


def test_broker_frozen_past_keepalive(fleet):
    f = fleet()
    burst(1)
    f.broker.proc.send(signal.SIGSTOP)
    burst(9)  # keepalive 5 s: the gateways give the link up after 7.5 s at most
    f.broker.proc.send(signal.SIGCONT)
    burst(2)
    total = f.check(least=20)
    for g in f.gws:
        assert "disconnected" in g.output() or "lost" in g.output(), g.output()[-2000:]
    # after the freeze every gateway is online again at the center (a last
    # will that came late must not leave one marked offline)
    for g in f.gws:
        wait_for(lambda: f.center.rows("SELECT state FROM gateways WHERE gateway = ?", g.name) == [("online",)],
                 20, "%s online again" % g.name)
    print("broker frozen: %d alarm events, all there once" % total)


def test_gateway_killed_10_times(fleet):
    f = fleet()
    for i in range(10):
        burst(0.7)
        g = f.gws[i % len(f.gws)]
        g.proc.stop(signal.SIGKILL)
        f.start_gateway(g)
    burst(1.5)
    total = f.check(least=20)
    print("gateways killed: %d alarm events, all there once" % total)


def test_center_killed_and_restarted(fleet):
    f = fleet()
    for i in range(4):
        burst(1)
        f.center.stop(signal.SIGKILL)
        burst(1.5)  # events meanwhile: the broker keeps them for the session
        f.center.start()
    # the last time, away long enough for a gateway to restart unseen and
    # its events to be only on the gateway: caught up by status and replay
    f.center.stop(signal.SIGKILL)
    burst(1)
    f.center.start()
    burst(1)
    total = f.check(least=20)
    print("center killed: %d alarm events, all there once" % total)


def test_field_slave_disappears_and_returns(fleet):
    f = fleet()
    burst(1)
    a = f.slaves[0]
    port = a.port
    a.proc.stop(signal.SIGKILL)
    gw = f.gws[0]

    def faults(event):
        return f.center.rows("SELECT DISTINCT sensor FROM events WHERE gateway = ? AND condition = 'fault'"
                             " AND event = ?", gw.name, event)

    wait_for(lambda: len(faults("raised")) == 4, 20, lambda: "4 fault alarms at the center: %r" % faults("raised"))
    # the same slave back on its port
    a.proc = Proc([PY, os.path.join(it.HERE, "modbus_slave.py"), "--port", str(port), "--units", "5"],
                  os.path.join(f.tmp, "slave-a", "slave-again.log"))
    wait_for(lambda: port_open(port), 20, "the slave back")
    a.client.close()
    assert a.client.connect()
    wait_for(lambda: len(faults("cleared")) == 4, 30, lambda: "4 fault alarms cleared: %r" % faults("cleared"))
    burst(1)
    total = f.check(least=20)
    print("slave gone and back: %d alarm events, all there once" % total)


def _ip(*args, ns=None):
    argv = (["ip", "netns", "exec", ns] if ns else []) + ["ip"] + list(args)
    return subprocess.run(argv, capture_output=True, text=True)


def test_network_cut_between_gateway_and_broker(tmp_path, fleet):
    """gw-c in its own network namespace, joined to the host by a veth pair
    (169.254.77.0/30, link-local: it never leaves this machine); the link
    is cut for longer than the keepalive, then restored."""
    if os.geteuid() != 0 or not shutil.which("ip"):
        pytest.skip("needs root and iproute2 to make a network namespace and a veth pair")
    ns, host_if, gw_if = "lle2e%d" % os.getpid(), "lle2e%da" % os.getpid(), "lle2e%db" % os.getpid()
    r = _ip("netns", "add", ns)
    if r.returncode != 0:
        pytest.skip("cannot make a network namespace here: " + r.stderr.strip())
    try:
        for argv in (("link", "add", host_if, "type", "veth", "peer", "name", gw_if),
                     ("link", "set", gw_if, "netns", ns),
                     ("addr", "add", "169.254.77.1/30", "dev", host_if),
                     ("link", "set", host_if, "up")):
            r = _ip(*argv)
            if r.returncode != 0:
                pytest.skip("cannot make the veth pair here (%s): %s" % (" ".join(argv), r.stderr.strip()))
        for argv in (("addr", "add", "169.254.77.2/30", "dev", gw_if), ("link", "set", gw_if, "up"),
                     ("link", "set", "lo", "up")):
            assert _ip(*argv, ns=ns).returncode == 0
        port = it.free_port()
        f = fleet(broker_extra="listener %d 169.254.77.1\n" % port, sim_host="169.254.77.1", sim_port=port,
                  sim_wrap=["ip", "netns", "exec", ns])
        gw = f.gws[2]
        burst(1)
        assert _ip("link", "set", host_if, "down").returncode == 0
        burst(10)  # past 1.5 x keepalive: the broker sends gw-c's last will
        wait_for(lambda: f.center.rows("SELECT state FROM gateways WHERE gateway = ?", gw.name) == [("offline",)],
                 15, "gw-c offline at the center (its last will)")
        assert _ip("link", "set", host_if, "up").returncode == 0
        wait_for(lambda: f.center.rows("SELECT state FROM gateways WHERE gateway = ?", gw.name) == [("online",)],
                 30, "gw-c online again")
        burst(1)
        total = f.check(least=20)
        print("network cut: %d alarm events, all there once" % total)
    finally:
        _ip("link", "del", host_if)
        _ip("netns", "del", ns)
