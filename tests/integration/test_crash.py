"""kill -9 at random moments during a steady stream of alarm events, 20
times: each time the database opens and passes integrity_check, and in the
end every event the database holds as committed reaches the center (seq 1
to the last, none missing)."""
import os
import random
import signal
import sqlite3
import time

from conftest import wait_for
from util import render

KILLS = 20


def conf(port, db, quiet):
    out = [render("sim_gw", os.path.dirname(db), ID="crash", BROKER=port, DB=db, RECONNECT_MIN="100ms",
                  RECONNECT_MAX="500ms")]
    for i in range(4):
        out.append("[sensor s%d]\nclass = gas\nbus = sim\nsim = %s\nsim_min = 0\nsim_max = 60\n"
                   "sim_period = %dms\npoll = 20ms\nred = 50\nhysteresis = 1\non_delay = 0\ntelemetry = 0\n"
                   % (i, "const" if quiet else "square", 200 + 40 * i))
    return "".join(out)


def check(db):
    c = sqlite3.connect(db, timeout=10)
    try:
        assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        seqs = [r[0] for r in c.execute("SELECT seq FROM alarm_events ORDER BY seq")]
        waiting = c.execute("SELECT count(*) FROM outbox WHERE prio = 0").fetchone()[0]
        return seqs, waiting
    finally:
        c.close()


def seqs_now(db):
    """The committed seqs while the daemon runs; none while it is still
    making the database and its schema (that raises, and is not a failure)."""
    if not os.path.exists(db):
        return []
    try:
        return check(db)[0]
    except sqlite3.OperationalError:
        return []


def test_kill_9_twenty_times(tmp_path, broker, gateways, subscriber):
    db = os.path.join(str(tmp_path), "crash.db")
    sub = subscriber()
    seed = int(os.environ.get("CRASH_SEED", time.time()))
    rng = random.Random(seed)
    print("crash test seed %d (CRASH_SEED=%d to repeat)" % (seed, seed))
    gw = gateways(conf(broker.port, db, quiet=False))
    committed = 0
    for i in range(KILLS):
        gw.start()
        # at least one event made this round, then a random moment
        wait_for(lambda: len(seqs_now(db)) > committed, 20, "events in round %d" % i)
        time.sleep(rng.uniform(0.05, 1.0))
        gw.proc.send(signal.SIGKILL)
        gw.proc.wait(10)
        seqs, _ = check(db)  # opens, passes integrity_check
        assert seqs == list(range(1, len(seqs) + 1)), "a hole in the committed seqs after kill %d" % i
        committed = len(seqs)

    # a last run that only clears what is active, until the outbox is empty
    quiet = gateways(conf(broker.port, db, quiet=True), name="quiet").start()
    wait_for(lambda: check(db)[1] == 0 and len(sub.unique_alarms()) >= len(check(db)[0]), 60,
             lambda: "every committed event delivered (db %d, center %d)" % (
                 len(check(db)[0]), len(sub.unique_alarms())))
    assert quiet.stop() == 0
    seqs, waiting = check(db)
    got = {a["seq"] for a in sub.alarms()}
    assert waiting == 0
    assert set(seqs) <= got, "committed but never delivered: %s" % sorted(set(seqs) - got)[:20]
    assert got <= set(seqs), "delivered but not in the database: %s" % sorted(got - set(seqs))[:20]
    print("crash test: %d kills, %d events committed and delivered, %d messages with duplicates" %
          (KILLS, len(seqs), len(sub.alarms())))
