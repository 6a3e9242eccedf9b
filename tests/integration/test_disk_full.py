"""A full disk: the commit of an alarm event fails, the transaction is rolled
back, and once there is room again the alarm is made again and reaches the
center: nothing is lost, and nothing the center saw is taken back."""
import os
import signal
import subprocess
import tempfile

import pytest

from conftest import wait_for
from util import render


@pytest.fixture
def small_fs():
    d = tempfile.mkdtemp(prefix="lifeline-fullfs-")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", d], capture_output=True, text=True)
    if r.returncode != 0:
        os.rmdir(d)
        pytest.skip("cannot mount a small tmpfs here (%s): the full-disk test needs root"
                    % (r.stderr.strip() or r.returncode))
    yield d
    subprocess.run(["umount", "-l", d], check=False)
    os.rmdir(d)


def test_alarm_made_again_after_a_full_disk(tmp_path, small_fs, broker, slave, gateways, subscriber):
    sub = subscriber()
    slave.set(1, 0, "float32", 5.0, "cdab")
    slave.set(2, 10, "int16", 350)
    db = os.path.join(small_fs, "lifeline.db")
    gw = gateways(render("gas_tcp", tmp_path, BROKER=broker.port, SLAVE=slave.port, DB=db)).start()
    wait_for(lambda: sub.statuses(), 15, "online status")
    # fill the disk to the last byte
    filler = os.path.join(small_fs, "filler")
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    for chunk in (65536, 4096, 512, 1):
        try:
            while True:
                os.write(fd, b"\0" * chunk)
        except OSError:
            pass
    os.close(fd)
    slave.set(1, 0, "float32", 55.0, "cdab")

    # made, its commit fails, made again with the same numbers, ...
    wait_for(lambda: gw.output().count("threshold raised red at 55 %LEL (threshold 50, was none), seq 1") >= 2,
             20, "the alarm made again after its commit failed")
    assert "transaction rolled back" in gw.output()
    assert sub.alarms() == []  # nothing was published that was not on disk
    os.unlink(filler)
    alarms = sub.wait_unique_alarms(1, timeout=20)
    assert "store: commits work again" in gw.output()
    assert (alarms[0]["event"], alarms[0]["level"], alarms[0]["sensor"]) == ("raised", "red", "gas-01")
    assert alarms[0]["seq"] == 1 and alarms[0]["alarm_id"] == 1  # the rolled-back numbers, reused
    slave.set(1, 0, "float32", 5.0, "cdab")
    alarms = sub.wait_unique_alarms(2)
    assert (alarms[1]["event"], alarms[1]["alarm_id"], alarms[1]["seq"]) == ("cleared", 1, 2)
    assert gw.stop(signal.SIGTERM) == 0
