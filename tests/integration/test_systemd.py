"""Under systemd (Type=notify): READY=1 once the core runs, WATCHDOG=1 from
the core loop at half of WatchdogSec (and none while the process is
stopped), STOPPING=1 on a clean stop; the socket played by this test, as
systemd would hold it ($NOTIFY_SOCKET, $WATCHDOG_USEC, $WATCHDOG_PID)."""
import os
import re
import signal
import socket
import time

from conftest import BUILD, Proc, wait_for
from util import render


def gw_conf(tmp_path, broker):
    return render("sim_gw", tmp_path, ID="sd-gw", BROKER=broker.port, DB=tmp_path / "sd.db") + \
        SENSOR.format(sock=tmp_path / "ctl.sock")


SENSOR = """[console]
socket = {sock}
[sensor s1]
class = gas
bus = sim
"""


def test_notify_ready_watchdog_stopping(tmp_path, broker):
    path = str(tmp_path / "notify")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    srv.bind(path)
    srv.settimeout(0.2)
    got = []

    def drain():
        while True:
            try:
                got.append((time.monotonic(), srv.recv(4096).decode()))
            except socket.timeout:
                return

    conf = tmp_path / "sd.conf"
    conf.write_text(gw_conf(tmp_path, broker))
    env = dict(os.environ, NOTIFY_SOCKET=path, WATCHDOG_USEC="1000000")
    p = Proc([os.path.join(BUILD, "lifelined"), "-c", str(conf)], str(tmp_path / "gw.log"), env=env)
    try:
        def ready():
            drain()
            return [m for _, m in got if m.startswith("READY=1")]
        r = wait_for(ready, 15, lambda: "READY=1: %r\n%s" % (got, p.output()))
        assert "STATUS=gateway test/sd-gw, 1 sensors" in r[0] and "MAINPID=%d" % p.pid in r[0], r
        got.clear()
        time.sleep(2.1)
        drain()
        feeds = [t for t, m in got if m == "WATCHDOG=1"]
        assert 3 <= len(feeds) <= 6, got  # every 500 ms
        # a stalled daemon sends nothing: systemd would kill and restart it
        p.send(signal.SIGSTOP)
        got.clear()
        time.sleep(1.2)
        drain()
        assert not got, got
        p.send(signal.SIGCONT)
        assert p.stop() == 0
        drain()
        assert "STOPPING=1" in [m for _, m in got], got
        assert "systemd: watchdog 1000ms, kept alive every 500ms" in p.output()
    finally:
        p.stop(signal.SIGKILL)
        srv.close()


def test_watchdog_of_another_pid_is_not_fed(tmp_path, broker):
    path = "\0lifeline-test-%d" % os.getpid()  # an abstract socket, as systemd may give
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    srv.bind(path)
    srv.settimeout(5)
    conf = tmp_path / "sd.conf"
    conf.write_text(gw_conf(tmp_path, broker))
    env = dict(os.environ, NOTIFY_SOCKET="@" + path[1:], WATCHDOG_USEC="1000000", WATCHDOG_PID="1")
    p = Proc([os.path.join(BUILD, "lifelined"), "-c", str(conf)], str(tmp_path / "gw.log"), env=env)
    try:
        assert srv.recv(4096).decode().startswith("READY=1")
        srv.settimeout(1.5)
        try:
            extra = srv.recv(4096).decode()
        except socket.timeout:
            extra = None
        assert extra is None, extra
        assert p.stop() == 0
    finally:
        p.stop(signal.SIGKILL)
        srv.close()


def test_unit_file_verifies(tmp_path):
    """board/common/systemd/lifelined.service as systemd reads it: no
    unknown key, no bad value (systemd-analyze verify, offline)."""
    import shutil
    import subprocess
    from conftest import ROOT
    if not shutil.which("systemd-analyze"):
        import pytest
        pytest.skip("systemd-analyze is not installed")
    unit = open(os.path.join(ROOT, "board", "common", "systemd", "lifelined.service")).read()
    assert "Type=notify" in unit and "WatchdogSec=" in unit and "CapabilityBoundingSet=\n" in unit
    path = tmp_path / "lifelined.service"
    path.write_text(unit.replace("/usr/sbin/lifelined", os.path.join(BUILD, "lifelined")))
    r = subprocess.run(["systemd-analyze", "verify", str(path)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "" and r.stderr.strip() == "", r.stdout + r.stderr
    # its exposure as systemd rates it: no worse than the 1.7 of DevicePolicy,
    # ProtectProc, MemoryMax and the rest (2.1 without them)
    r = subprocess.run(["systemd-analyze", "security", "--offline=yes", "--no-pager", str(path)],
                       capture_output=True, text=True, timeout=60)
    m = re.search(r"Overall exposure level for \S+: ([0-9.]+)", r.stdout)
    assert m and float(m.group(1)) <= 1.7, r.stdout[-3000:] + r.stderr
    for key in ("DevicePolicy=closed", "ProtectProc=invisible", "MemoryMax=", "TasksMax="):
        assert key in unit, key
