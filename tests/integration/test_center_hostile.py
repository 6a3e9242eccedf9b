"""A hostile gateway against lifeline-center serve: a real broker, serve,
a fake gateway that answers cmd/status and cmd/replay from its own memory
(as lifelined does), and a forger that publishes on that gateway's topics.
Each forgery must leave the center's database right: the events, alarms,
lost seqs and epochs are the gateway's own (docs/center.md, "What a
gateway cannot make the center do")."""
import json
import sqlite3
import time

import paho.mqtt.client as mqtt

from conftest import free_port, wait_for
from test_center import center, serve  # noqa: F401 (serve: the fixture)

ROOT = "lifeline/v1/test/"


def alarm(seq, alarm_id=77, event="raised", level="red", value=52.0, ts=None):
    return json.dumps({"seq": seq, "ts": ts or 1764000000000 + seq, "alarm_id": alarm_id, "sensor": "gas-01",
                       "class": "gas", "lifeline": "gas", "condition": "threshold", "event": event, "level": level,
                       "prev_level": "none", "value": value, "unit": "%LEL", "threshold": 50, "quality": "good"},
                      separators=(",", ":"))


class FakeGateway:
    """A gateway's protocol side: seq, boot, and answers from its events."""

    def __init__(self, port, gid="gw", boot=7):
        self.root = ROOT + gid + "/"
        self.boot = boot
        self.events = {}
        self.asked = []
        self.c = mqtt.Client(client_id="pytest-fakegw-%d" % free_port())
        self.c.on_message = self.on_message
        self.c.on_connect = lambda c, u, f, rc: c.subscribe(self.root + "cmd/+", qos=1)
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()
        wait_for(lambda: self.c.is_connected(), 10, "fake gateway connected")
        time.sleep(0.3)

    def on_message(self, c, u, m):
        body = json.loads(m.payload)
        name = m.topic.rsplit("/", 1)[1]
        self.asked.append((name, body))
        last = max(self.events) if self.events else 0
        if name == "status":
            reply = {"id": body["id"], "ok": True,
                     "status": {"state": "online", "boot": self.boot, "last_seq": last}}
        elif name == "replay":
            found = [s for s in sorted(self.events) if body["from"] <= s <= body["to"]]
            for s in found:
                c.publish(self.root + "alarm", self.events[s], qos=1)
            reply = {"id": body["id"], "ok": True, "count": len(found), "last_seq": last}
        else:
            return
        c.publish(self.root + "reply/" + name, json.dumps(reply), qos=1)

    def online(self):
        self.c.publish(self.root + "status", json.dumps({"state": "online", "boot": self.boot}),
                       qos=1).wait_for_publish()

    def event(self, **kw):
        seq = (max(self.events) if self.events else 0) + 1
        self.events[seq] = alarm(seq, **kw)
        self.c.publish(self.root + "alarm", self.events[seq], qos=1).wait_for_publish()
        return seq

    def asked_for(self, name):
        return [b for n, b in self.asked if n == name]

    def close(self):
        self.c.loop_stop()
        self.c.disconnect()


class Forger:
    def __init__(self, port):
        self.c = mqtt.Client(client_id="pytest-forger-%d" % free_port())
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()

    def pub(self, topic, payload):
        self.c.publish(ROOT + topic, payload, qos=1).wait_for_publish()

    def close(self):
        self.c.loop_stop()
        self.c.disconnect()


def start(broker, serve, *extra, gid="gw"):
    s = serve("center-test", *extra)
    g = FakeGateway(broker.port, gid)
    g.online()
    return s, g, Forger(broker.port)


def confirmed(s, gw, n):
    """serve had the gateway's own answer with last_seq >= n"""
    wait_for(lambda: (s.gateway(gw) or {}).get("want", 0) >= n and s.gateway(gw)["contiguous"] >= n, 20,
             lambda: "%s confirmed up to %d: %r\n%s" % (gw, n, s.gateway(gw), s.output()))


def test_forged_seq_jump_asks_nothing_and_loses_nothing(broker, serve):
    s, g, f = start(broker, serve)
    for _ in range(3):
        g.event()
    confirmed(s, "test/gw", 3)
    f.pub("gw/alarm", alarm(10 ** 12, event="cleared"))
    # serve asks the gateway itself, which says 3: nothing to replay, nothing lost
    time.sleep(6)  # gap-wait 1 s + the 3 s settle grace, more than the old code needed
    assert s.rows("SELECT count(*) FROM lost")[0][0] == 0
    assert g.asked_for("replay") == []
    assert len(g.asked_for("status")) >= 2
    assert s.gateway("test/gw")["lost"] == 0 and s.gateway("test/gw")["contiguous"] == 3
    assert s.seqs("test/gw") == [1, 2, 3]
    assert s.rows("SELECT seq FROM held WHERE gateway = 'test/gw'") == [(10 ** 12,)]
    assert "held 1" in center("gateways", "--db", s.db).stdout
    assert s.rows("SELECT cleared_ts FROM alarms WHERE gateway = 'test/gw'") == [(None,)]
    # the real gateway goes on as before
    g.event()
    confirmed(s, "test/gw", 4)
    assert s.seqs("test/gw") == [1, 2, 3, 4]
    f.close()
    g.close()


def test_lost_is_bounded_by_what_the_gateway_confirms(broker, serve):
    """A gateway that confirms seq 40 but has only 39 and 40: serve records
    at most --lost-max of the missing ones and then asks no more."""
    s, g, f = start(broker, serve, "--lost-max", "5")
    g.events = {39: alarm(39), 40: alarm(40)}
    g.online()
    wait_for(lambda: (s.gateway("test/gw") or {}).get("lost") == 5, 20,
             lambda: "%r %r\n%s" % (s.gateway("test/gw"), g.asked, s.output()))
    time.sleep(5)
    assert s.gateway("test/gw")["lost"] == 5
    assert s.rows("SELECT count(*) FROM lost")[0][0] == 5
    assert len(g.asked_for("replay")) == 1
    assert "--lost-max" in s.output()
    f.close()
    g.close()


def test_forged_status_and_conflict_start_no_epoch(broker, serve):
    s, g, f = start(broker, serve)
    for _ in range(2):
        g.event()
    confirmed(s, "test/gw", 2)
    # a lower boot, and a known seq with other bytes: claims, not evidence
    f.pub("gw/status", json.dumps({"state": "offline", "boot": 1}))
    f.pub("gw/status", json.dumps({"state": "online", "boot": 1}))
    f.pub("gw/alarm", alarm(1, value=99.0))
    wait_for(lambda: "seq 1 stored with other bytes" in s.output() or s.gateway("test/gw")["epoch"] > 1, 10,
             lambda: s.output())
    time.sleep(2)  # the gateway's answer to the status asked
    assert s.gateway("test/gw")["epoch"] == 1
    assert s.rows("SELECT epoch, seq, value FROM events WHERE gateway = 'test/gw' ORDER BY epoch, seq") == \
        [(1, 1, 52.0), (1, 2, 52.0)]
    assert s.rows("SELECT epoch, seq, payload FROM conflicts") == [(1, 1, alarm(1, value=99.0))]
    # the real thing: the gateway's database is new (boot 1, seq from 1);
    # its answer to cmd/status says so, and only that starts an epoch
    g.boot, g.events = 1, {}
    g.event(value=61.0)
    wait_for(lambda: s.gateway("test/gw")["epoch"] == 2, 20, lambda: "%r\n%s" % (g.asked, s.output()))
    confirmed(s, "test/gw", 1)
    assert s.rows("SELECT epoch, seq, value FROM events WHERE gateway = 'test/gw' ORDER BY epoch, seq") == \
        [(1, 1, 52.0), (1, 2, 52.0), (2, 1, 61.0)]
    g.event(value=62.0, event="escalated")
    confirmed(s, "test/gw", 2)
    assert s.gateway("test/gw")["epoch"] == 2
    f.close()
    g.close()


def test_forged_cleared_and_acked_change_no_alarm(broker, serve):
    s, g, f = start(broker, serve)
    g.event()
    g.event(event="escalated", value=60.0)
    confirmed(s, "test/gw", 2)
    # a known seq with other bytes, and seqs far beyond what the gateway has
    f.pub("gw/alarm", alarm(2, event="cleared", level="none"))
    f.pub("gw/alarm", alarm(10 ** 9, event="acked", level="red"))
    f.pub("gw/alarm", alarm(10 ** 9 + 1, event="cleared", level="none"))
    time.sleep(3)
    assert s.rows("SELECT level, cleared_ts, acked_seq FROM alarms WHERE gateway = 'test/gw'") == [("red", None, 0)]
    assert s.seqs("test/gw") == [1, 2]
    assert s.rows("SELECT seq FROM held ORDER BY seq") == [(10 ** 9,), (10 ** 9 + 1,)]
    assert s.rows("SELECT seq FROM conflicts") == [(2,)]
    # a seq just ahead (within --seq-ahead): stored, but an alarm changes only
    # in sequence; the gateway's answer (last seq 2) shows it is not its own
    f.pub("gw/alarm", alarm(5, event="cleared", level="none"))
    wait_for(lambda: s.rows("SELECT seq FROM conflicts ORDER BY seq") == [(2,), (5,)], 15,
             lambda: "%r\n%s" % (g.asked, s.output()))
    assert s.rows("SELECT level, cleared_ts, acked_seq FROM alarms WHERE gateway = 'test/gw'") == [("red", None, 0)]
    assert s.seqs("test/gw") == [1, 2]
    # the gateway's own events go on, and its own clearing does clear it
    g.event(event="escalated", value=70.0)
    g.event(event="escalated", value=80.0)
    assert g.event(event="cleared", level="none") == 5
    wait_for(lambda: s.rows("SELECT cleared_ts IS NOT NULL FROM alarms WHERE gateway = 'test/gw'") == [(1,)], 10,
             lambda: s.output())
    assert s.seqs("test/gw") == [1, 2, 3, 4, 5]
    assert s.rows("SELECT value FROM events WHERE gateway = 'test/gw' AND seq = 4") == [(80.0,)]
    f.close()
    g.close()


def test_floods_are_capped_and_logs_kept_bounded(broker, serve):
    """Status and event floods beyond the per-gateway caps are dropped and
    counted; an oversized message is dropped; status_log and gateway_events
    are trimmed to --keep-rows and by age."""
    s, g, f = start(broker, serve, "--status-rate", "100", "--event-rate", "1000", "--keep-rows", "50",
                    "--max-bytes", "4096")
    g.event()
    confirmed(s, "test/gw", 1)
    for i in range(300):
        f.c.publish(ROOT + "gw/status", json.dumps({"state": "offline", "boot": i}), qos=1)
        f.c.publish(ROOT + "gw/event", json.dumps({"type": "action", "ts": i}), qos=1)
    f.pub("gw/event", json.dumps({"type": "action", "pad": "x" * 5000}))
    f.pub("gw/alarm", alarm(2, value=1.0) + " " * 5000)
    wait_for(lambda: "over its caps" in s.output(), 20, lambda: s.output())
    # all 600 handled: the dropped ones counted, the rest kept, then trimmed
    wait_for(lambda: s.rows("SELECT count(*) FROM status_log")[0][0] <= 50 and
             s.rows("SELECT count(*) FROM gateway_events")[0][0] <= 50 and
             s.rows("SELECT max(ts) FROM gateway_events")[0][0] == 299, 20,
             lambda: "%r\n%s" % (s.rows("SELECT count(*), max(ts) FROM gateway_events"), s.output()))
    stored = s.rows("SELECT max(boot) FROM status_log")[0][0]
    assert stored is not None and stored < 150, stored  # at most a minute's worth: 100 (+1 a second)
    wait_for(lambda: s.rows("SELECT refused FROM gateways WHERE gateway = 'test/gw'")[0][0] >= 150, 30,
             lambda: s.rows("SELECT refused FROM gateways"))
    assert s.seqs("test/gw") == [1]
    assert s.rows("SELECT count(*) FROM gateway_events WHERE payload LIKE '%xxxx%'")[0][0] == 0
    mine = [x for x in json.loads(center("gateways", "--db", s.db, "--json").stdout) if x["gateway"] == "test/gw"]
    assert mine[0]["refused"] >= 150, mine
    # by age: a row older than --keep-days (30) goes at the next tick
    c = sqlite3.connect(s.db, timeout=10)
    c.execute("INSERT INTO status_log(gateway, received_ms, state) VALUES('test/old', 1000, 'online')")
    c.commit()
    c.close()
    wait_for(lambda: s.rows("SELECT count(*) FROM status_log WHERE gateway = 'test/old'")[0][0] == 0, 10,
             "the old row trimmed")
    f.close()
    g.close()
