"""lifeline-center against a real broker and real gateways: serve stores
every alarm event once, fills gaps with cmd/replay (also for events sent
before it first ran), starts a new epoch when a gateway's seq starts again,
records what a gateway no longer has as lost; alarms, gateways, ack and
send as an operator uses them."""
import json
import os
import sqlite3
import subprocess

import paho.mqtt.client as mqtt
import pytest

from conftest import BUILD, Proc, free_port, wait_for
from util import render

CENTER = os.path.join(BUILD, "lifeline-center")


class Serve:
    def __init__(self, tmp, port, db, client_id="center-test", *extra):
        self.db = db
        self.argv = [CENTER, "serve", "--port", str(port), "--db", db, "--client-id", client_id,
                     "--gap-wait", "1"] + list(extra)
        self.log = os.path.join(tmp, "serve-%s.log" % client_id)
        self.proc = None

    def start(self):
        n = self.output().count("subscribed to")
        self.proc = Proc(self.argv, self.log)
        wait_for(lambda: self.output().count("subscribed to") > n, 15, lambda: "serve subscribed: " + self.output())
        return self

    def output(self):
        return open(self.log, errors="replace").read() if os.path.exists(self.log) else ""

    def stop(self, sig=15):
        return self.proc.stop(sig) if self.proc else None

    def rows(self, sql, *args):
        c = sqlite3.connect(self.db, timeout=10)
        try:
            return c.execute(sql, args).fetchall()
        finally:
            c.close()

    def seqs(self, gw):
        return [r[0] for r in self.rows("SELECT seq FROM events WHERE gateway = ? ORDER BY epoch, seq", gw)]

    def gateway(self, gw):
        r = self.rows("SELECT contiguous, max(max_seq, last_seq), dups, lost, epoch, state FROM gateways"
                      " WHERE gateway = ?", gw)
        return dict(zip(("contiguous", "want", "dups", "lost", "epoch", "state"), r[0])) if r else None


def center(*args, timeout=60):
    return subprocess.run([CENTER] + [str(a) for a in args], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


@pytest.fixture
def serve(tmp_path, broker):
    made = []

    def make(client_id="center-test", *extra):
        s = Serve(str(tmp_path), broker.port, str(tmp_path / "center.db"), client_id, *extra)
        made.append(s)
        return s.start()

    yield make
    for s in made:
        s.stop()


def gw_conf(tmp_path, broker, gid="gw1", period="400ms"):
    return render("sim_gw", tmp_path, ID=gid, BROKER=broker.port, DB=tmp_path / (gid + ".db")) + \
        render("sim_flap", tmp_path, STEADY="steady", VALUE=30, FLAP="flap", PERIOD=period)


def last_seq(tmp_path, gid):
    path = tmp_path / (gid + ".db")
    if not path.exists():
        return 0
    c = sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=10)
    try:
        return c.execute("SELECT max(seq) FROM alarm_events").fetchone()[0] or 0
    except sqlite3.OperationalError:  # not made yet
        return 0
    finally:
        c.close()


def contiguous_to(s, gw, n, timeout=30):
    return wait_for(lambda: (s.gateway(gw) or {}).get("contiguous", 0) >= n, timeout,
                    lambda: "%s stored without a gap up to %d: %r\n%s" % (gw, n, s.gateway(gw), s.output()))


def test_serve_stores_each_event_once_and_catches_up(tmp_path, broker, gateways, serve):
    # events made before the center ever ran: the broker kept none for it
    g = gateways(gw_conf(tmp_path, broker)).start()
    wait_for(lambda: last_seq(tmp_path, "gw1") >= 10, 30, "10 events on the gateway")
    s = serve()
    # the retained online status -> cmd/status -> last_seq -> replay of 1..N
    n = last_seq(tmp_path, "gw1")
    contiguous_to(s, "test/gw1", n)
    assert "asked for a replay" in s.output()
    g.stop()
    final = last_seq(tmp_path, "gw1")
    contiguous_to(s, "test/gw1", final)
    seqs = s.seqs("test/gw1")
    assert seqs == list(range(1, final + 1))
    # the stored payload is the gateway's, byte for byte
    c = sqlite3.connect(str(tmp_path / "gw1.db"))
    theirs = dict(c.execute("SELECT seq, payload FROM alarm_events").fetchall())
    c.close()
    for seq, payload in s.rows("SELECT seq, payload FROM events WHERE gateway = 'test/gw1'"):
        assert payload == (theirs[seq].decode() if isinstance(theirs[seq], bytes) else theirs[seq])
    wait_for(lambda: s.gateway("test/gw1")["state"] == "offline", 10, "offline stored")


def test_duplicates_dropped_and_new_epoch(tmp_path, broker, serve):
    s = serve()
    pub = mqtt.Client(client_id="pytest-pub-%d" % free_port())
    pub.connect("127.0.0.1", broker.port)
    pub.loop_start()
    topic = "lifeline/v1/test/fake/alarm"

    def alarm(seq, value, event="raised"):
        return json.dumps({"seq": seq, "ts": 1764000000000 + seq, "alarm_id": 1, "sensor": "gas-01",
                           "class": "gas", "lifeline": "gas", "condition": "threshold", "event": event,
                           "level": "red", "prev_level": "none", "value": value, "unit": "%LEL",
                           "threshold": 50, "quality": "good"}, separators=(",", ":"))

    pub.publish("lifeline/v1/test/fake/status", json.dumps({"state": "online", "boot": 7}), qos=1).wait_for_publish()
    first = [alarm(1, 52.0), alarm(2, 55.0, "escalated")]
    for p in first + first + [first[0]]:
        pub.publish(topic, p, qos=1).wait_for_publish()
    wait_for(lambda: (s.gateway("test/fake") or {}).get("dups") == 3, 10, lambda: s.gateway("test/fake"))
    assert s.seqs("test/fake") == [1, 2]
    # seq 1 again with other bytes: the gateway's database was new
    pub.publish(topic, alarm(1, 61.0), qos=1).wait_for_publish()
    wait_for(lambda: s.gateway("test/fake")["epoch"] == 2, 10, lambda: s.gateway("test/fake"))
    assert s.rows("SELECT epoch, seq, value FROM events WHERE gateway = 'test/fake' ORDER BY epoch, seq") == \
        [(1, 1, 52.0), (1, 2, 55.0), (2, 1, 61.0)]
    # ... and the online status of that new database (boot 1, after a boot 7
    # was seen) that arrives after its first events is no third epoch
    status = "lifeline/v1/test/fake/status"
    pub.publish(status, json.dumps({"state": "online", "boot": 1}), qos=1).wait_for_publish()
    wait_for(lambda: s.rows("SELECT boot FROM gateways WHERE gateway = 'test/fake'") == [(1,)], 10, "boot 1 stored")
    assert s.gateway("test/fake")["epoch"] == 2
    # a lower boot with nothing of a new database yet does start one
    pub.publish(status, json.dumps({"state": "offline", "boot": 1}), qos=1).wait_for_publish()
    pub.publish(status, json.dumps({"state": "online", "boot": 9}), qos=1).wait_for_publish()
    pub.publish(topic, alarm(2, 62.0, "escalated"), qos=1).wait_for_publish()
    wait_for(lambda: s.rows("SELECT count(*) FROM events WHERE gateway = 'test/fake' AND epoch = 2")[0][0] == 2,
             10, "seq 2 of epoch 2")
    pub.publish(status, json.dumps({"state": "online", "boot": 2}), qos=1).wait_for_publish()
    wait_for(lambda: s.gateway("test/fake")["epoch"] == 3, 10, lambda: s.gateway("test/fake"))
    pub.publish(status, b"", qos=1, retain=True).wait_for_publish()
    # garbage is refused with a warning, and nothing else changes
    pub.publish(topic, b"\xff not json", qos=1).wait_for_publish()
    pub.publish(topic, json.dumps({"seq": 9}), qos=1).wait_for_publish()
    wait_for(lambda: s.output().count("not stored") >= 2, 10, lambda: s.output())
    assert len(s.seqs("test/fake")) == 4
    pub.loop_stop()
    pub.disconnect()


def test_events_a_gateway_no_longer_has_are_lost(tmp_path, broker, serve):
    """A gateway (played by this test) with seq 5 and 6 but not 1-4: the
    replay finds nothing, and the center records 1-4 as lost."""
    s = serve()
    gw = mqtt.Client(client_id="pytest-fakegw-%d" % free_port())
    root = "lifeline/v1/test/old/"
    asked = []

    def on_message(c, u, m):
        body = json.loads(m.payload)
        name = m.topic.rsplit("/", 1)[1]
        asked.append((name, body))
        if name == "status":
            reply = {"id": body["id"], "ok": True, "status": {"state": "online", "last_seq": 6}}
        else:
            reply = {"id": body["id"], "ok": True, "count": 0, "last_seq": 6}
        c.publish(root + "reply/" + name, json.dumps(reply), qos=1)

    subscribed = []
    gw.on_message = on_message
    gw.on_connect = lambda c, u, f, rc: c.subscribe(root + "cmd/+", qos=1)
    gw.on_subscribe = lambda c, u, mid, granted: subscribed.append(mid)
    gw.connect("127.0.0.1", broker.port)
    gw.loop_start()
    # its cmd/+ subscription in place (SUBACK) before the center can ask
    wait_for(lambda: subscribed, 10, "fake gateway subscribed")
    for seq in (5, 6):
        gw.publish(root + "alarm", json.dumps({"seq": seq, "ts": 1764000000000, "alarm_id": seq, "sensor": "s",
                                               "event": "raised", "level": "blue"}), qos=1).wait_for_publish()
    gw.publish(root + "status", json.dumps({"state": "online", "boot": 7, "sensors": 1, "ts": 1764000000000}),
               qos=1, retain=True).wait_for_publish()
    wait_for(lambda: (s.gateway("test/old") or {}).get("lost") == 4, 20,
             lambda: "%r %r\n%s" % (s.gateway("test/old"), asked, s.output()))
    assert ("replay", {"id": asked[-1][1]["id"], "from": 1, "to": 4}) in asked
    assert s.gateway("test/old")["contiguous"] == 6
    assert s.rows("SELECT seq FROM lost WHERE gateway = 'test/old' ORDER BY seq") == [(1,), (2,), (3,), (4,)]
    out = center("gateways", "--db", s.db).stdout
    assert "test/old" in out and "lost 4" in out, out
    gw.publish(root + "status", b"", qos=1, retain=True).wait_for_publish()
    gw.loop_stop()
    gw.disconnect()


def test_alarms_gateways_ack_send(tmp_path, broker, gateways, serve):
    s = serve()
    g = gateways(gw_conf(tmp_path, broker, "gw2", period="60s")).start()
    # steady stays at 30 %LEL: an alarm that stays active
    wait_for(lambda: s.rows("SELECT count(*) FROM alarms WHERE gateway = 'test/gw2' AND sensor = 'steady'"
                            " AND cleared_ts IS NULL")[0][0] == 1, 20, lambda: s.output())
    r = center("alarms", "--db", s.db, "--json")
    assert r.returncode == 0, r.stderr
    active = json.loads(r.stdout)
    steady = [a for a in active if a["sensor"] == "steady"][0]
    assert steady["gateway"] == "test/gw2" and not steady["acked"] and steady["lifeline"] == "gas"
    text = center("alarms", "--db", s.db, "--no-color").stdout
    assert "test/gw2  steady [gas]" in text and "alarm %d" % steady["alarm_id"] in text
    # most severe first
    ranks = {"red": 0, "orange": 1, "yellow": 2, "blue": 3}
    assert [ranks[a["level"]] for a in active] == sorted(ranks[a["level"]] for a in active)

    r = center("ack", "--port", broker.port, "--by", "desk 3", "test/gw2", steady["alarm_id"])
    assert r.returncode == 0, r.stdout + r.stderr
    assert json.loads(r.stdout)["ok"] is True
    wait_for(lambda: s.rows("SELECT acked_seq > reset_seq, acked_by FROM alarms WHERE gateway = 'test/gw2'"
                            " AND alarm_id = ?", steady["alarm_id"]) == [(1, "center:desk 3")], 10,
             "the acked event stored")
    acked = [a for a in json.loads(center("alarms", "--db", s.db, "--json").stdout) if a["sensor"] == "steady"]
    assert acked[0]["acked"] and acked[0]["acked_by"] == "center:desk 3"
    again = center("ack", "--port", broker.port, "test/gw2", steady["alarm_id"])
    assert again.returncode == 1 and "already acknowledged" in again.stdout

    r = center("send", "--port", broker.port, "test/gw2", "get", '{"sensors":["steady"]}')
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert got["ok"] and got["sensors"][0]["value"] == 30
    r = center("send", "--port", broker.port, "test/gw2", "get", '{"sensors":["nope"]}')
    assert r.returncode == 1 and "no sensor 'nope'" in r.stdout
    r = center("send", "--port", broker.port, "--timeout", "2", "test/nobody", "status")
    assert r.returncode == 3 and "no answer from test/nobody" in r.stderr
    r = center("send", "--port", broker.port, "test/gw2", "get", "[1,2]")
    assert r.returncode == 64 and "not a JSON object" in r.stderr
    r = center("ack", "test/gw2", "x")
    assert r.returncode == 64

    gw = json.loads(center("gateways", "--db", s.db, "--json").stdout)
    mine = [x for x in gw if x["gateway"] == "test/gw2"][0]
    assert mine["state"] == "online" and mine["missing"] == 0 and mine["active_alarms"] >= 1
    g.stop()
    wait_for(lambda: s.gateway("test/gw2")["state"] == "offline", 10, "offline")
    assert "test/gw2" in center("gateways", "--db", s.db).stdout
    r = center("alarms", "--db", str(tmp_path / "nothing.db"))
    assert r.returncode == 1 and "cannot open" in r.stderr
    # a clean stop (under SAN=1: no leak, no error at exit)
    assert s.stop() == 0, s.output()[-3000:]
    assert "stopping (" in s.output()
