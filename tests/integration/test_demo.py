"""make demo's path end to end: lifeline-sim, lifelined with config/demo.conf,
and lifeline-center watch, sped up; the center side shows alarms raised,
escalated and cleared, and everything stops when the demo ends."""
import os
import subprocess

from conftest import BUILD, ROOT


def test_demo_shows_alarm_lifecycle(tmp_path):
    # (the demo keeps its logs for whoever ran it: here in pytest's directory)
    env = dict(os.environ, DEMO_SECONDS="20", DEMO_SPEED="6", LIFELINE_BUILD=BUILD, TMPDIR=str(tmp_path))
    r = subprocess.run([os.path.join(ROOT, "tests", "sim", "demo.sh")], capture_output=True,
                       text=True, timeout=90, env=env, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    for word in ("STATUS  hefei-north/demo-gw online", " raised ", " escalated ", " cleared "):
        assert word in out, out
    assert "gas-01 [gas]" in out and "level-01 [drainage]" in out
    assert "lift-1.trapped [elevator]" in out
    assert "STATUS  hefei-north/demo-gw offline" in out
    assert "demo: stopped" in out
    assert "kept in " + str(tmp_path) in out
