"""A corrupt database (a truncated file, or garbage) is moved aside and kept,
a new one is made, the center hears of it on .../event, and the gateway
runs on: never a crash loop."""
import json
import os
import sqlite3

import pytest

from conftest import wait_for
from util import render


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_corrupt_database_moved_aside(damage, tmp_path, broker, slave, gateways, subscriber):
    db = tmp_path / "lifeline.db"
    slave.set(1, 0, "float32", 5.0, "cdab")
    slave.set(2, 10, "int16", 350)
    if damage == "garbage":
        db.write_bytes(b"this is not a database, it is a field technician's shopping list\n" * 100)
    else:
        # a real database with rows, cut short mid-file
        with sqlite3.connect(db) as c:
            c.execute("CREATE TABLE t(x)")
            c.executemany("INSERT INTO t VALUES(?)", [("x" * 500,)] * 2000)
        data = db.read_bytes()
        db.write_bytes(data[: len(data) // 3])
    sub = subscriber()
    gw = gateways(render("gas_tcp", tmp_path, BROKER=broker.port, SLAVE=slave.port)).start()
    events = wait_for(lambda: [json.loads(p) for _, p, _ in sub.of("event")], 20, "the store_reset event")
    assert events[0]["type"] == "store_reset"
    moved = events[0]["moved_to"]
    assert moved.startswith(str(db) + ".corrupt-") and os.path.exists(moved)
    assert "DATABASE RESET" in gw.output()
    # and it works: an alarm goes through the new database
    slave.set(1, 0, "float32", 25.0, "cdab")
    assert sub.wait_unique_alarms(1)[0]["event"] == "raised"
    with sqlite3.connect(db) as c:
        assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert gw.stop() == 0
