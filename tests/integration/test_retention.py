"""Readings history stays within [store] max_size and retention: the oldest
readings give way, the newest are kept, no alarm event is touched, and the
daemon keeps running."""
import sqlite3
import time

from conftest import wait_for
from util import render

def conf(tmp_path, broker, retention):
    return render("sim_gw", tmp_path, ID="ret", BROKER=broker.port, DB=tmp_path / "lifeline.db",
                  STORE_MORE="max_size = 512K\nretention = %s" % retention)


def sensors(n):
    return "".join("[sensor s%02d]\nclass = gas\nbus = sim\nsim = triangle\nsim_min = 0\nsim_max = 60\n"
                   "sim_period = 2s\npoll = 10ms\nred = 50\nhysteresis = 5\non_delay = 0\n" % i
                   for i in range(n))


def q(db, sql):
    with sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=5) as c:
        return c.execute(sql).fetchone()


def test_max_size_keeps_newest_and_every_alarm(tmp_path, broker, gateways):
    db = tmp_path / "lifeline.db"
    # 20 sensors at 100 samples/s each: 2000 readings a second
    gw = gateways(conf(tmp_path, broker, "30d") + sensors(20)).start()
    wait_for(lambda: "deleting the oldest readings" in gw.output(), 60, "the size bound reached")
    time.sleep(5)
    assert gw.proc.alive()
    page_count, free, page_size = (q(db, "PRAGMA page_count")[0], q(db, "PRAGMA freelist_count")[0],
                                   q(db, "PRAGMA page_size")[0])
    assert (page_count - free) * page_size <= 512 * 1024 * 1.25  # the bound, plus one second's batch
    newest = q(db, "SELECT max(ts) FROM readings")[0]
    assert time.time() * 1000 - newest < 3000  # the newest are kept
    events = q(db, "SELECT count(*), min(seq), max(seq) FROM alarm_events")
    assert events[0] > 0 and events[2] - events[1] + 1 == events[0]  # every alarm event kept
    assert gw.stop() == 0


def test_retention_by_age(tmp_path, broker, gateways):
    db = tmp_path / "lifeline.db"
    gw = gateways(conf(tmp_path, broker, "60s") + sensors(1)).start()
    wait_for(lambda: q(db, "SELECT count(*) FROM readings")[0] > 100 if db.exists() and
             q(db, "SELECT count(*) FROM sqlite_master WHERE name='readings'")[0] else False, 20, "readings")
    gw.stop()
    # readings from two minutes ago (a gateway that was off) are gone after a start
    with sqlite3.connect(db) as c:
        c.execute("UPDATE readings SET ts = ts - 120000")
    n_old = q(db, "SELECT count(*) FROM readings")[0]
    gw2 = gateways(conf(tmp_path, broker, "60s") + sensors(1), name="gw2").start()
    wait_for(lambda: q(db, "SELECT count(*) FROM readings WHERE ts < %d" % (time.time() * 1000 - 60000))[0] == 0,
             20, "old readings deleted")
    assert n_old > 100
    assert gw2.stop() == 0
