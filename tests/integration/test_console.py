"""lifelinectl against a running daemon, through a real pseudo-terminal
(pexpect) for the interactive parts: tab completion, live values, the PIN,
changing a limit live with config commit (it survives a restart) and
config rollback; and the control socket under abuse: garbage, 1 MB lines,
a client that never reads, unknown commands."""
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pexpect
import pytest

from conftest import BUILD, wait_for
from util import render

CTL = os.path.join(BUILD, "lifelinectl")


@pytest.fixture
def sockdir():
    # a directory an unprivileged console user can reach (tmp_path is 0700)
    d = tempfile.mkdtemp(prefix="lifeline-ctl-")
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def as_tech(argv):
    """The technician is not root: as root, run as nobody (in the socket's group)."""
    if os.geteuid() == 0:
        return ["/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"] + argv
    return argv


def conf(tmp_path, broker, slave, sockdir, extra=""):
    group = "nogroup" if os.geteuid() == 0 else ""
    return render("gas_tcp", tmp_path, BROKER=broker.port, SLAVE=slave.port) + \
        "\n[console]\nsocket = %s/ctl.sock\n%s%s" % (sockdir, "group = %s\n" % group if group else "", extra)


def ctl(sockdir, *args, user=False, stdin=None):
    argv = [CTL, "-s", os.path.join(sockdir, "ctl.sock")] + list(args)
    p = subprocess.run(as_tech(argv) if user else argv, input=stdin, capture_output=True, text=True, timeout=20,
                       env=dict(os.environ, HOME=sockdir))
    return p.returncode, p.stdout, p.stderr


def spawn(sockdir):
    argv = as_tech([CTL, "-s", os.path.join(sockdir, "ctl.sock")])
    child = pexpect.spawn(argv[0], argv[1:], encoding="utf-8", timeout=15,
                          env=dict(os.environ, HOME=sockdir, TERM="vt100"), dimensions=(40, 160))
    child.expect("it-gw.*> ")
    return child


@pytest.fixture
def daemon(tmp_path, broker, slave, gateways, sockdir):
    slave.set(1, 0, "float32", 12.5, "cdab")
    slave.set(2, 10, "int16", 350)
    gw = gateways(conf(tmp_path, broker, slave, sockdir)).start()
    wait_for(lambda: os.path.exists(os.path.join(sockdir, "ctl.sock")), 15, "the control socket")
    wait_for(lambda: "12.5" in ctl(sockdir, "show", "sensors")[1], 15, "a first reading")
    yield gw
    assert gw.proc.alive(), gw.output()[-3000:]


def test_show_sensors_live_and_tab_completion(daemon, slave, sockdir):
    child = spawn(sockdir)
    child.send("show sensor ga\t")
    child.expect("s-01 ")  # the line editor completes the name (and redraws the line)
    child.sendline("")
    child.expect("sensor +gas-01 \\(class gas")
    child.expect("limits +high: blue 10 yellow 20 orange 35 red 50")
    child.expect("it-gw.*> ")
    slave.set(1, 0, "float32", 27.25, "cdab")
    wait_for(lambda: "yellow!" in ctl(sockdir, "show", "sensors")[1], 10, "the yellow alarm")
    child.sendline("show sensors")
    child.expect("gas-01 +gas +27.25 %LEL +good +yellow!")
    child.expect("pressure-01 +water_pressure +0.35 MPa +good")
    child.expect("it-gw \\(1 alarm\\)> ")
    child.sendline("quit")
    child.expect(pexpect.EOF)


def test_pin_refused_then_enabled_and_ack(daemon, sockdir, slave):
    rc, out, err = ctl(sockdir, "passwd", "47112")  # too short: its hash falls offline in seconds
    assert rc == 1 and err == "error: a PIN of 6 to 64 characters\n", err
    rc, out, err = ctl(sockdir, "passwd", "471108")  # root, or the daemon's own user
    assert rc == 0, err
    wait_for(lambda: "console PIN set" in daemon.output() and "reloaded" in daemon.output().split(
        "console PIN set")[-1], 10, "the reload with the PIN")
    assert "471108" not in open(daemon.conf).read()
    slave.set(1, 0, "float32", 55.0, "cdab")
    alarm = wait_for(lambda: ctl(sockdir, "list", "alarms")[1].split(), 10, "an alarm")[0]

    child = spawn(sockdir)
    child.sendline("ack %s" % alarm)
    child.expect("error: needs privileged mode: enable first")
    child.sendline("enable")
    child.expect("PIN: ")
    child.sendline("1234")
    child.expect("error: wrong PIN")
    child.sendline("enable")
    child.expect("PIN: ")
    child.sendline("471108")
    child.expect("error: locked after wrong PINs: try again in 1s")
    time.sleep(1.2)
    child.sendline("enable")
    child.expect("PIN: ")
    child.sendline("471108")
    child.expect("it-gw.*> ")
    child.sendline("ack %s" % alarm)
    child.expect("alarm %s \\(gas-01 red\\) acknowledged" % alarm)
    child.sendline("show alarms")
    child.expect("%s +gas-01 +threshold +red +yes" % alarm)
    child.sendline("disable")
    child.sendline("set sensor gas-01 red 45")
    child.expect("error: needs privileged mode: enable first")
    child.sendline("quit")
    out = daemon.output()
    assert "wrong PIN from nobody" in out or "wrong PIN from" in out
    assert "1234" not in out and "471108" not in out


def test_set_commit_live_restart_and_rollback(daemon, sockdir, slave):
    original = open(daemon.conf).read()
    slave.set(1, 0, "float32", 42.0, "cdab")  # orange (35), under red (50)
    wait_for(lambda: "orange" in ctl(sockdir, "show", "sensors")[1], 10, "orange")
    # a change the validator refuses: nothing written
    script = "set sensor gas-01 red 30\nconfig diff\nconfig commit\n"
    rc, out, err = ctl(sockdir, stdin=script)
    assert rc == 1
    assert "[sensor gas-01] red = 30" in out
    assert "the config would not be valid: [sensor gas-01] red: 30 must be above orange (35)" in err
    assert open(daemon.conf).read() == original
    # red 40: gas-01 at 42 escalates at once
    rc, out, err = ctl(sockdir, stdin="set sensor gas-01 red 40\nconfig commit\n")
    assert rc == 0, err
    wait_for(lambda: "red!" in ctl(sockdir, "show", "sensors")[1], 10, "red after the commit")
    assert "red = 40" in open(daemon.conf).read()
    assert open(daemon.conf + ".prev").read() == original
    daemon.stop()
    daemon.start()
    wait_for(lambda: "red 40" in ctl(sockdir, "show", "sensor", "gas-01")[1], 15, "red 40 after a restart")
    # rollback: back to red 50, and gas-01 (42) is orange again
    rc, out, err = ctl(sockdir, "config", "rollback")
    assert rc == 0, err
    wait_for(lambda: "red 50" in ctl(sockdir, "show", "sensor", "gas-01")[1], 10, "red 50 after the rollback")
    wait_for(lambda: "orange" in ctl(sockdir, "show", "sensors")[1], 10, "orange again")
    assert open(daemon.conf).read() == original


def test_one_shot_and_json(daemon, sockdir):
    rc, out, err = ctl(sockdir, "--json", "show", "sensors")
    assert rc == 0 and '"sensor":"gas-01"' in out and '"value":12.5' in out
    rc, out, err = ctl(sockdir, "show", "nothing")
    assert rc == 1 and "unknown command" in err or "usage" in err
    rc, out, err = ctl(sockdir, "frobnicate")
    assert rc == 1 and err.startswith("error: unknown command 'frobnicate' (help lists them)")
    rc, out, err = ctl(sockdir, "show", "sensor", "nope")
    assert rc == 1 and "no sensor 'nope' (show sensors lists them)" in err
    rc, out, err = subprocess.run([CTL, "-s", os.path.join(sockdir, "missing.sock"), "show", "status"],
                                  capture_output=True, text=True).returncode, "", ""
    assert rc == 2


def raw(sockdir):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(os.path.join(sockdir, "ctl.sock"))
    s.settimeout(10)
    return s


def read_answer(s):
    buf = b""
    while not any(l.startswith(b"%ok") or l.startswith(b"%error") for l in buf.split(b"\n")):
        chunk = s.recv(65536)
        assert chunk, "closed"
        buf += chunk
    return buf.decode(errors="replace")


def test_socket_abuse(daemon, sockdir):
    # garbage, a NUL, a 1 MB line, then a good command on the same connection
    s = raw(sockdir)
    s.sendall(b"\xff\xfe garbage \x01\x02\n")
    assert "%error control characters are not allowed" in read_answer(s)
    s.sendall(b"abc\x00def\n")
    assert "%error a NUL byte in the command" in read_answer(s)
    s.sendall(b"x" * (1 << 20) + b"\n")
    assert "%error line too long (at most 4096 bytes)" in read_answer(s)
    s.sendall(b"show status\n")
    assert "gateway      test-site/it-gw" in read_answer(s)
    # a client that asks and never reads: the daemon goes on
    lazy = raw(sockdir)
    try:
        lazy.sendall(b"show config\n" * 20000)
    except (BrokenPipeError, ConnectionResetError):
        pass  # dropped while still sending: the answers piled up
    rc, out, err = ctl(sockdir, "show", "status")
    assert rc == 0 and "gateway" in out
    assert re.search(r"^memory       lifelined \d+ kB \(peak \d+ kB\); the system \d+ of \d+ MB available$", out, re.M), out
    wait_for(lambda: "too far behind reading its answers; disconnected" in daemon.output(), 10, "the drop")
    lazy.close()
    s.close()
    # many clients at once
    procs = [subprocess.Popen([CTL, "-s", os.path.join(sockdir, "ctl.sock"), "show", "sensors"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(50)]
    outs = [p.communicate(timeout=30) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1] for o in outs if o[1]][:3]
    assert all(b"gas-01" in o[0] for o in outs)
    assert daemon.proc.alive()


def test_modbus_diagnostics(daemon, sockdir, slave):
    # a read or a scan is privileged too: some devices act on a read
    rc, out, err = ctl(sockdir, "modbus", "read", "tcp-1", "1", "holding", "0", "2", user=True)
    assert rc == 1 and err == "error: needs privileged mode: enable first\n", err
    rc, out, err = ctl(sockdir, "modbus", "scan", "tcp-1", "1-8", user=True)
    assert rc == 1 and err == "error: needs privileged mode: enable first\n", err
    # the value in all four orders: the technician picks the one the display shows
    rc, out, err = ctl(sockdir, "modbus", "read", "tcp-1", "1", "holding", "0", "2")
    assert rc == 0, err
    assert "holding 0 " in out and "holding 1 " in out
    assert "cdab 12.5 " in out, out
    rc, out, err = ctl(sockdir, "--json", "modbus", "read", "tcp-1", "1", "holding", "0", "2")
    import json
    d = json.loads(out)
    assert d["decoded"]["float32"]["cdab"] == 12.5 and len(d["registers"]) == 2
    rc, out, err = ctl(sockdir, "modbus", "read", "tcp-1", "2", "holding", "10", "1", "int16")
    assert rc == 0 and "int16     350" in out, out
    # exactly the unit ids the pymodbus server serves (1..5)
    rc, out, err = ctl(sockdir, "--json", "modbus", "scan", "tcp-1", "1-8")
    assert rc == 0, err
    assert json.loads(out)["units"] == [1, 2, 3, 4, 5]
    rc, out, err = ctl(sockdir, "modbus", "scan", "tcp-1", "4-7")
    assert "2 units answer on bus tcp-1" in out, out
    # a write is privileged, and read back
    rc, out, err = ctl(sockdir, "modbus", "write", "tcp-1", "3", "holding", "100", "1234", user=True)
    assert rc == 1 and "needs privileged mode" in err
    rc, out, err = ctl(sockdir, "modbus", "write", "tcp-1", "3", "holding", "100", "1234")
    assert rc == 0 and "written and read back" in out, err
    assert slave.client.read_holding_registers(100, 1, slave=3).registers == [1234]
    rc, out, err = ctl(sockdir, "modbus", "read", "tcp-1", "1", "holding", "70000")
    assert rc == 1 and "ADDR" in err
    assert daemon.proc.alive()


def test_polling_rate_unchanged_under_console_load(tmp_path, broker, gateways, sockdir):
    """50 one-shot clients at once, again and again, while a bus polls 20
    sensors every 20 ms (1000 requests/s scheduled): the bus keeps its rate
    (the console is served by the core thread, never by the bus worker)."""
    import json
    sim_port = __import__("conftest").free_port()
    from conftest import Proc, port_open
    sim = Proc([os.path.join(BUILD, "lifeline-sim"), "--port", str(sim_port), "--scenario", "steady"],
               os.path.join(str(tmp_path), "sim.log"))
    try:
        wait_for(lambda: port_open(sim_port), 10, "lifeline-sim")
        sensors = "".join("[sensor s%02d]\nclass = water_pressure\nbus = tcp-1\nunit_id = 2\nregister = holding:%d\n"
                          "type = int16\nscale = 0.001\npoll = 20ms\n" % (i, i) for i in range(20))
        conf = ("[gateway]\nid = load\nsite = test\n[mqtt]\nport = %d\n[store]\npath = %s/load.db\n"
                "[console]\nsocket = %s/ctl.sock\n[bus tcp-1]\ntype = tcp\nhost = 127.0.0.1\nport = %d\n"
                "max_registers = 1\n%s" % (broker.port, tmp_path, sockdir, sim_port, sensors))
        gw = gateways(conf).start()
        wait_for(lambda: os.path.exists(os.path.join(sockdir, "ctl.sock")), 15, "the control socket")

        def requests():
            rc, out, _ = ctl(sockdir, "--json", "show", "buses")
            return json.loads(out)["buses"][0]["requests"] if rc == 0 else 0

        def rate(seconds):
            t0, r0 = time.monotonic(), requests()
            time.sleep(seconds)
            return (requests() - r0) / (time.monotonic() - t0)

        time.sleep(1)
        quiet = rate(3)
        # 50 clients at once, each connecting, asking, reading the answer and
        # closing, over and over for 4 s (one Python thread drives them all,
        # so the load is the daemon's work, not 50 process start-ups)
        import selectors
        sel = selectors.DefaultSelector()
        path = os.path.join(sockdir, "ctl.sock")
        answered = 0

        def open_one():
            c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            c.connect(path)
            c.sendall(b"show sensors\n")
            c.setblocking(False)
            sel.register(c, selectors.EVENT_READ, bytearray())

        t0, r0 = time.monotonic(), requests()
        for _ in range(50):
            open_one()
        while time.monotonic() - t0 < 4:
            for key, _ in sel.select(timeout=0.5):
                data = key.fileobj.recv(65536)
                key.data.extend(data)
                if not data or b"%ok\n" in key.data:
                    # every one answered: none refused as "too many" (the
                    # daemon reaps hung-up clients before it would refuse)
                    assert b"%ok\n" in key.data, bytes(key.data[-200:])
                    sel.unregister(key.fileobj)
                    key.fileobj.close()
                    answered += 1
                    open_one()
        loaded = (requests() - r0) / (time.monotonic() - t0)
        for key in list(sel.get_map().values()):
            key.fileobj.close()
        assert answered > 200, answered
        print("polling: %.0f requests/s quiet, %.0f with 50 console clients at once (%d answers)" %
              (quiet, loaded, answered))
        assert quiet > 800
        assert loaded >= 0.95 * quiet, "%.0f requests/s under console load, %.0f without" % (loaded, quiet)
        assert gw.proc.alive()
    finally:
        sim.stop()


def test_watch_and_bus_maintenance(daemon, sockdir, subscriber):
    sub = subscriber()
    child = spawn(sockdir)
    child.sendline("watch sensors")
    child.expect("gas-01 +gas +12.5")
    child.expect("\\(every second; a key stops\\)")
    child.expect("gas-01 +gas +12.5")  # again, a second later
    child.send("q")
    child.expect("it-gw.*> ")
    child.sendline("quit")
    child.expect(pexpect.EOF)
    # a whole bus into maintenance (root is privileged), and out again
    rc, out, err = ctl(sockdir, "maintenance", "bus", "tcp-1", "30m")
    assert rc == 0 and "bus tcp-1 in maintenance for 30m (2 sensors)" in out, (out, err)
    rc, out, err = ctl(sockdir, "show", "sensors")
    assert out.count(" maintenance") == 2, out
    rc, out, err = ctl(sockdir, "maintenance", "bus", "tcp-1", "off")
    assert rc == 0 and "(2 sensors)" in out
    assert " maintenance" not in ctl(sockdir, "show", "sensors")[1]
    rc, out, err = ctl(sockdir, "maintenance", "bus", "nope", "1h")
    assert rc == 1 and "no bus 'nope'" in err
    # every privileged command reaches the center as a console event, with who gave it
    import json
    events = wait_for(lambda: [e for e in (json.loads(p) for _, p, _ in sub.of("event")) if e["type"] == "console"
                               and len(e) and e["command"].startswith("maintenance bus")], 10, "console events")
    wait_for(lambda: len([e for e in (json.loads(p) for _, p, _ in sub.of("event"))
                          if e["type"] == "console"]) >= 3, 10, "three console events")
    events = [json.loads(p) for _, p, _ in sub.of("event") if json.loads(p)["type"] == "console"]
    assert events[0]["command"] == "maintenance bus tcp-1 30m" and events[0]["ok"] is True
    assert events[0]["by"].startswith("console:")
    assert events[2]["ok"] is False and events[2]["error"].startswith("no bus 'nope'")
