"""The console PIN against guessing: the lockout after wrong PINs is the
guessing user's own (another technician's session still enables), and
wrong PINs in a row reach the center as an event, at most one a minute."""
import json
import os
import time

from conftest import wait_for
from test_console import CTL, ctl, daemon, sockdir  # noqa: F401 (fixtures)

PIN = "271828"


def as_user(sockdir, user, *args, stdin=None):
    """lifelinectl as USER (not root), in the socket's group."""
    import subprocess
    argv = ["/usr/bin/setpriv", "--reuid=%s" % user, "--regid=nogroup", "--clear-groups",
            CTL, "-s", os.path.join(sockdir, "ctl.sock")] + list(args)
    p = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=20, env=dict(os.environ, HOME=sockdir))
    return p.returncode, p.stdout, p.stderr


def set_pin(daemon, sockdir):
    assert os.geteuid() == 0, "needs root: two users"
    rc, out, err = ctl(sockdir, "passwd", PIN)
    assert rc == 0, err
    wait_for(lambda: "console PIN set" in daemon.output() and "reloaded" in daemon.output().split(
        "console PIN set")[-1], 10, "the reload with the PIN")


def test_lockout_is_per_user(daemon, sockdir):
    set_pin(daemon, sockdir)
    rc, out, err = as_user(sockdir, "nobody", "enable", "000000")
    assert rc == 1 and err == "error: wrong PIN\n", err
    rc, out, err = as_user(sockdir, "nobody", "enable", PIN)
    assert rc == 1 and err.startswith("error: locked after wrong PINs"), err
    # another user, at once: not held up by nobody's wrong PIN
    rc, out, err = as_user(sockdir, "daemon", stdin="enable %s\nmodbus read tcp-1 1 holding 0 2\n" % PIN)
    assert rc == 0, err
    assert "cdab 12.5 " in out, out
    # and nobody is still locked, then enables once the lock is over
    rc, out, err = as_user(sockdir, "nobody", "enable", PIN)
    assert rc == 1 and err.startswith("error: locked after wrong PINs"), err
    time.sleep(1.1)
    rc, out, err = as_user(sockdir, "nobody", stdin="enable %s\nmodbus scan tcp-1 1-2\n" % PIN)
    assert rc == 0 and "2 units answer on bus tcp-1" in out, (out, err)


def test_wrong_pins_in_a_row_reach_the_center_once_a_minute(daemon, sockdir, subscriber):
    sub = subscriber()
    set_pin(daemon, sockdir)
    # five wrong PINs in a row from each of two users, each waiting out its
    # lock (1, 2, 4, 8 s): 15 s
    for i in range(5):
        for user in ("nobody", "daemon"):
            rc, out, err = as_user(sockdir, user, "enable", "%06d" % i)
            assert rc == 1 and err == "error: wrong PIN\n", (user, i, err)
        if i < 4:
            time.sleep(2 ** i + 0.2)

    def pin_events():
        return [e for e in (json.loads(p) for _, p, _ in sub.of("event")) if e["type"] == "console_pin"]

    events = wait_for(pin_events, 10, "the wrong-PIN event")
    e = events[0]
    assert e["by"] == "console:nobody" and e["uid"] == 65534 and e["failures"] == 5, e
    assert e["locked_s"] == 16 and e["held_back"] == 0 and e["ts"] > 1.7e12, e
    # the other user's, in the same minute, is held back: logged, not sent
    wait_for(lambda: "5 wrong PINs in a row from daemon: event held back (one a minute)" in daemon.output(), 10,
             "the held-back log line")
    time.sleep(1)
    assert len(pin_events()) == 1, pin_events()
    assert "000000" not in daemon.output() and "000004" not in daemon.output()
