"""Commands from the center on cmd/NAME, answered on reply/NAME: each
command's happy path, and hostile payloads that get the documented error
and change nothing."""
import json
import os
import signal

import pytest

from conftest import wait_for
from util import render


ROOT = "lifeline/v1/test/cmd-gw/"
# these tests send commands faster than a center would (test_flood.py: the limits)
FAST = "cmd_burst = 1000\nset_interval = 0"


def statuses(sub):
    return [json.loads(p) for t, p, _ in sub.msgs if t == ROOT + "status" and p]


class Center:
    """Publishes commands and waits for their replies, one at a time."""

    def __init__(self, sub):
        self.sub = sub
        self.n = 0

    def replies(self):
        return [(t, json.loads(p)) for t, p, _ in self.sub.msgs if "/reply/" in t]

    def send_raw(self, name, payload, timeout=15):
        before = len(self.replies())
        self.sub.c.publish(ROOT + "cmd/" + name, payload, qos=1)
        wait_for(lambda: len(self.replies()) > before, timeout, "a reply to cmd/%s %r" % (name, payload[:60]))
        topic, reply = self.replies()[before]
        assert topic == ROOT + "reply/" + name
        return reply

    def send(self, name, body=None, **kw):
        self.n += 1
        body = dict(body or {}, id="c%d" % self.n)
        reply = self.send_raw(name, json.dumps(body), **kw)
        assert reply["id"] == body["id"]
        return reply


@pytest.fixture
def center(tmp_path, broker, gateways, subscriber):
    sub = subscriber()
    conf = render("sim_gw", tmp_path, ID="cmd-gw", BROKER=broker.port, DB=os.path.join(str(tmp_path), "cmd.db"),
                  MQTT_MORE=FAST) + render("sim_flap", tmp_path, STEADY="s1", VALUE=5, FLAP="s2", PERIOD="400ms")
    gw = gateways(conf).start()
    wait_for(lambda: any(s["state"] == "online" for s in statuses(sub)), 15, "online")
    c = Center(sub)
    c.gw = gw
    yield c
    assert gw.proc.alive(), "the gateway died:\n" + gw.output()[-3000:]


def test_get(center):
    wait_for(lambda: center.sub.alarms(), 10, "an alarm of s2")
    r = center.send("get")
    assert r["ok"] is True and [s["sensor"] for s in r["sensors"]] == ["s1", "s2"]
    s1 = r["sensors"][0]
    assert s1["value"] == 5 and s1["unit"] == "%LEL" and s1["quality"] == "good" and s1["class"] == "gas"
    assert s1["alarms"] == [] and s1["maintenance"] is None
    r = center.send("get", {"sensors": ["s2"]})
    assert [s["sensor"] for s in r["sensors"]] == ["s2"]
    r = center.send("get", {"sensors": ["s2", "nope"]})
    assert r == {"id": r["id"], "ok": False, "error": "no sensor 'nope'"}


def test_set_applies_live_persists_and_refuses_bad(center, tmp_path):
    conf_path = center.gw.conf
    original = open(conf_path).read()
    first_hash = center.send("status")["status"]["config"]
    # red below the class's blue (10): the whole config is checked, nothing written
    r = center.send("set", {"sensor": "s1", "set": {"red": 4}})
    assert r["ok"] is False
    assert r["error"] == ("the config would not be valid: [sensor s1] red: 4 must be above orange (25) "
                          "for a high sensor: limits run blue, yellow, orange, red in the alarm direction"), r
    assert open(conf_path).read() == original
    assert not os.path.exists(conf_path + ".new") and not os.path.exists(conf_path + ".prev")
    assert not [a for a in center.sub.alarms() if a["sensor"] == "s1"]

    # blue 2: s1 (at 5) is in alarm at once; the class's other limits are kept
    r = center.send("set", {"sensor": "s1", "set": {"blue": 2, "on_delay": "1s"}})
    assert r == {"id": r["id"], "ok": True, "sensor": "s1"}
    a = wait_for(lambda: [a for a in center.sub.alarms() if a["sensor"] == "s1"], 10, "s1 raised after set")[0]
    assert (a["event"], a["level"], a["threshold"]) == ("raised", "blue", 2)
    text = open(conf_path).read()
    assert open(conf_path + ".prev").read() == original
    section = text[text.index("[sensor s1]"):text.index("[sensor s2]")]
    for line in ("blue = 2\n", "on_delay = 1s\n", "yellow = 20\n", "orange = 25\n", "red = 50\n"):
        assert line in section, section
    assert "on_delay = 0\n" not in section
    assert text.replace(section, "") == original.replace(original[original.index("[sensor s1]"):
                                                                  original.index("[sensor s2]")], "")
    # the status tells the new config
    assert center.send("status")["status"]["config"] != first_hash

    # the change survives a restart: the alarm continues, no second raised
    center.gw.stop()
    center.gw.start()
    wait_for(lambda: [s for s in statuses(center.sub) if s["boot"] == 2 and s["state"] == "online"], 15,
             "online again")
    r = wait_for(lambda: (lambda r: r["ok"] and r["sensors"][0]["alarms"] and r)(
        center.send("get", {"sensors": ["s1"]})), 15, "s1 in alarm after restart")
    assert r["sensors"][0]["alarms"][0]["level"] == "blue"
    assert len([a for a in center.sub.alarms() if a["sensor"] == "s1" and a["event"] == "raised"]) == 1

    # null takes a key back to the class's default
    r = center.send("set", {"sensor": "s1", "set": {"on_delay": None}})
    assert r["ok"] is True
    assert "on_delay" not in open(conf_path).read().split("[sensor s1]")[1].split("[sensor s2]")[0]


def test_history_pages(center):
    wait_for(lambda: center.send("history", {"sensor": "s1", "limit": 12})["next"] is not None, 15,
             "more than 12 readings of s1")
    p1 = center.send("history", {"sensor": "s1", "limit": 5})
    assert p1["ok"] and p1["sensor"] == "s1" and p1["unit"] == "%LEL" and len(p1["readings"]) == 5
    ts = [r[0] for r in p1["readings"]]
    assert ts == sorted(ts) and all(r[1] == 5 and r[2] == "good" for r in p1["readings"])
    p2 = center.send("history", {"sensor": "s1", "limit": 5, "from": p1["next"]})
    assert p2["readings"][0][0] == p1["next"] and p2["readings"][0][0] > ts[-1]
    # a window: from <= ts < to
    w = center.send("history", {"sensor": "s1", "from": ts[1], "to": ts[3]})
    assert [r[0] for r in w["readings"]] == ts[1:3] and w["next"] is None


def test_replay(center):
    center.sub.wait_unique_alarms(4)
    before = len(center.sub.alarms())
    r = center.send("replay", {"from": 1, "to": 3})
    assert r["ok"] and r["count"] == 3 and r["last_seq"] >= 3
    again = wait_for(lambda: center.sub.alarms()[before:] if len(
        [a for a in center.sub.alarms()[before:] if a["seq"] <= 3]) >= 3 else None, 10, "the replayed events")
    replayed = [a for a in again if a["seq"] <= 3]
    first = {a["seq"]: a for a in center.sub.alarms()[:before]}
    assert [a["seq"] for a in replayed] == [1, 2, 3]
    assert all(a == first[a["seq"]] for a in replayed), "a replay sends the events as they were"


def test_status(center):
    r = center.send("status")
    st = r["status"]
    assert r["ok"] and st["state"] == "online" and st["sensors"] == 2 and len(st["config"]) == 16
    assert st["uptime_s"] >= 0 and st["store_bytes"] > 0 and "telemetry" in st["dropped"]
    assert 0 < st["rss_kb"] <= st["rss_peak_kb"] and 0 < st["mem_available_kb"] <= st["mem_total_kb"]
    assert st["outbox"] >= 0 and st["last_seq"] >= 0 and st["active_alarms"] >= 0


def test_reboot(center):
    pid = center.gw.proc.pid
    boot = center.send("status")["status"]["boot"]
    r = center.send("reboot")
    assert r["ok"] is True
    wait_for(lambda: any(s["state"] == "offline" for s in statuses(center.sub)), 10, "offline on the way down")
    wait_for(lambda: [s for s in statuses(center.sub) if s["state"] == "online" and s["boot"] == boot + 1], 20,
             "online again, next boot")
    assert center.gw.proc.pid == pid and center.gw.proc.alive()
    assert "restarting, as the center asked" in center.gw.output()


HOSTILE = [
    ("ack", b"", "payload is not a JSON object"),
    ("ack", b"not json", "payload is not a JSON object"),
    ("ack", b"[1,2]", "payload is not a JSON object"),
    ("ack", b'"ack"', "payload is not a JSON object"),
    ("ack", b"\xff\xfe{\x00", "payload is not a JSON object"),
    ("ack", b"[" * 5000, "payload too large (5000 bytes, at most 4096)"),
    ("ack", b"[" * 2000, "payload is not a JSON object"),
    ("ack", b'{"id":5}', '"id" must be printable text of at most 63 characters'),
    ("ack", b'{"id":"' + b"x" * 64 + b'"}', '"id" must be printable text of at most 63 characters'),
    # control characters that would clear a terminal or forge a log line
    ("ack", b'{"id":"h\\u001b[2J","alarm_id":1}', '"id" must be printable text of at most 63 characters'),
    ("ack", b'{"id":"h","alarm_id":1,"by":"desk\\n2026-12-07 core: forged"}',
     '"by" must be printable text of 1 to 63 characters'),
    ("ack", b'{"id":"h","alarm_id":1,"by":"desk\\u009b2J"}', '"by" must be printable text of 1 to 63 characters'),
    ("ack", b'{"id":"h","alarm_id":1,"by":"\xed\xa0\x80"}', "payload is not a JSON object"),
    ("ack", b'{"id":"h","alarm_id":"7"}', '"alarm_id" must be a positive whole number'),
    ("ack", b'{"id":"h","alarm_id":-1}', '"alarm_id" must be a positive whole number'),
    ("ack", b'{"id":"h","alarm_id":1.5}', '"alarm_id" must be a positive whole number'),
    ("ack", b'{"id":"h","alarm_id":1e300}', '"alarm_id" must be a positive whole number'),
    ("ack", b'{"id":"h"}', '"alarm_id" is missing'),
    ("ack", b'{"id":"h","alarm_id":999999}', "no active alarm 999999"),
    ("frobnicate", b'{"id":"h"}', "unknown command (this gateway knows: ack, get, set, maintenance, "
                                  "history, replay, reset, status, reboot)"),
    ("set", b'{"id":"h","sensor":"s1","set":{"bus":"x"}}', None),
    ("set", b'{"id":"h","sensor":"s1","set":{"red":"5O"}}',
     "the config would not be valid: [sensor s1] red: '5O' is not a number or a percentage"),
    ("set", b'{"id":"h","sensor":"s1","set":{"red":"4\\n[gateway]"}}', None),
    ("set", b'{"id":"h","sensor":"s1","set":[]}', '"set" must be an object of 1 to 16 keys'),
    ("set", b'{"id":"h","sensor":"s1","set":{}}', '"set" must be an object of 1 to 16 keys'),
    ("set", b'{"id":"h","sensor":"s1","set":{"red":true}}', None),
    ("set", b'{"id":"h","sensor":"s1","set":{"red":1,"red":2}}', '"set": "red" given twice'),
    ("set", b'{"id":"h","sensor":"nope","set":{"red":1}}', "no sensor 'nope'"),
    ("set", b'{"id":"h","set":{"red":1}}', '"sensor" is missing'),
    ("set", b'{"id":"h","sensor":"s1","set":{"poll":"-1s"}}',
     "the config would not be valid: [sensor s1] poll: -1s must not be negative"),
    ("history", b'{"id":"h","sensor":"s1","limit":0}', '"limit" must be a whole number from 1 to 1000'),
    ("history", b'{"id":"h","sensor":"s1","from":10,"to":5}', '"to" must be after "from"'),
    ("history", b'{"id":"h","sensor":"s1","from":"yesterday"}', None),
    ("replay", b'{"id":"h","from":5}', '"from" and "to" (seq) are required'),
    ("replay", b'{"id":"h","from":1,"to":20000}', "at most 10000 events per replay"),
    ("maintenance", b'{"id":"h","sensor":"s1","duration":-5}', '"duration" must be whole seconds from 0 to 604800'),
    ("get", b'{"id":"h","sensors":"s1"}', '"sensors" must be an array of at most 64 names'),
    ("get", b'{"id":"h","sensors":[1]}', '"sensors" must hold names of 1 to 63 characters'),
    ("get", b'{"id":"h","sensors":["s1\\u0007"]}', '"sensors" must hold names of 1 to 63 characters'),
    ("set", b'{"id":"h","sensor":"s1","set":{"re\\u001b[2Jd":1}}', '"set": keys must be printable names'),
    ("maintenance", b'{"id":"h","sensor":"s1\\r","duration":5}', '"sensor" must be a name of 1 to 63 characters'),
]


def test_hostile_payloads_change_nothing(center):
    conf = open(center.gw.conf).read()
    alarms_before = len(center.sub.unique_alarms())
    for name, payload, error in HOSTILE:
        r = center.send_raw(name, payload)
        assert r["ok"] is False, (name, payload, r)
        assert r["id"] in (None, "h"), r
        if error:
            assert r["error"] == error, (name, payload, r)
        else:
            assert r["error"], (name, payload, r)
    assert len(HOSTILE) >= 15
    assert open(center.gw.conf).read() == conf
    assert not os.path.exists(center.gw.conf + ".new") and not os.path.exists(center.gw.conf + ".prev")
    assert center.gw.output().count("refused:") >= len(HOSTILE) - 1
    # still answering, nothing acknowledged, polling on
    assert center.send("status")["ok"] is True
    assert not [a for a in center.sub.alarms() if a["event"] == "acked"]
    wait_for(lambda: len(center.sub.unique_alarms()) > alarms_before, 10, "alarms still flowing")
