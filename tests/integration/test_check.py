"""lifelined --check: every shipped config is valid; a broken one exits 78
(EX_CONFIG) before touching anything, naming file, line and reason."""
import glob
import os
import subprocess

import pytest

from conftest import BUILD, ROOT

BAD = sorted(glob.glob(os.path.join(ROOT, "tests", "unit", "configs", "bad-*.conf")))


def lifelined(*args):
    return subprocess.run([os.path.join(BUILD, "lifelined")] + list(args), capture_output=True,
                          text=True, timeout=30)


@pytest.mark.parametrize("conf", sorted(glob.glob(os.path.join(ROOT, "config", "**", "*.conf"), recursive=True)),
                         ids=lambda p: os.path.relpath(p, os.path.join(ROOT, "config")))
def test_shipped_configs_pass_check(conf):
    r = lifelined("-c", conf, "--check")
    assert r.returncode == 0, r.stderr
    assert "ok" in r.stdout


@pytest.mark.parametrize("board", sorted(glob.glob(os.path.join(ROOT, "board", "*", "board.conf"))),
                         ids=lambda p: os.path.basename(os.path.dirname(p)))
def test_board_files_load(board, tmp_path):
    """Each board file loads, and an rtu bus on each of its RS-485 ports gets
    the port's device."""
    import re
    ports = re.findall(r"^\[port ([^\]]+)\]\n(?:[^\[]*?)^device = (\S+)", open(board).read(), re.M)
    expected = {"imx6ull-gateway": 2, "raspberrypi-cm4": 1}.get(os.path.basename(os.path.dirname(board)), 0)
    assert len(ports) == expected, ports
    conf = tmp_path / "gw.conf"
    text = "[gateway]\nid = g\nsite = s\nboard = %s\n" % board
    for i, (name, _) in enumerate(ports):
        text += "[bus field-%d]\ntype = rtu\ndevice = %s\n" % (i, name)
    conf.write_text(text)
    r = lifelined("-c", str(conf), "--check")
    assert r.returncode == 0, r.stderr
    assert "%d buses" % len(ports) in r.stdout


@pytest.mark.parametrize("conf", BAD, ids=os.path.basename)
def test_bad_config_exits_78_with_file_and_line(conf, tmp_path):
    r = lifelined("-c", conf, "--check")
    assert r.returncode == 78
    assert r.stderr.startswith("lifelined: config error: " + conf)
    # and without --check it refuses to start the same way
    r2 = lifelined("-c", conf)
    assert r2.returncode == 78 and r2.stderr == r.stderr


def test_missing_file_and_usage():
    r = lifelined("-c", "/nonexistent/lifeline.conf", "--check")
    assert r.returncode == 78 and "cannot open: No such file or directory" in r.stderr
    r = lifelined()
    assert r.returncode == 64 and "usage" in r.stderr
