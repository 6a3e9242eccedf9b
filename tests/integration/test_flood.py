"""The gateway cannot be flooded from the broker (issue 18, part 3): a
retained command is not carried out, commands are rate limited, a replay
cannot crowd out alarms, and large messages never reach the daemon."""
import json
import os
import signal
import time

from conftest import wait_for
from test_commands import ROOT, Center, statuses
from util import render


def conf(tmp_path, broker, mqtt_more=""):
    """The gateway of test_commands.py, with the default rate limits."""
    return render("sim_gw", tmp_path, ID="cmd-gw", BROKER=broker.port, DB=os.path.join(str(tmp_path), "cmd.db"),
                  MQTT_MORE=mqtt_more) + render("sim_flap", tmp_path, STEADY="s1", VALUE=5, FLAP="s2", PERIOD="400ms")


def start(tmp_path, broker, gateways, subscriber):
    sub = subscriber()
    gw = gateways(conf(tmp_path, broker)).start()
    wait_for(lambda: any(s["state"] == "online" for s in statuses(sub)), 15, "online")
    c = Center(sub)
    c.gw = gw
    return c


def test_retained_command_is_ignored(tmp_path, broker, gateways, subscriber):
    sub = subscriber()
    # a retained reboot waits on the broker before the gateway connects
    sub.c.publish(ROOT + "cmd/reboot", json.dumps({"id": "evil"}), qos=1, retain=True).wait_for_publish(5)
    c = start(tmp_path, broker, gateways, subscriber)
    time.sleep(3)  # a reboot would come 1 s after its reply
    assert [s["boot"] for s in statuses(c.sub)] == [1] * len(statuses(c.sub))
    assert all(s["state"] == "online" for s in statuses(c.sub))
    assert "restarting" not in c.gw.output()
    assert "retained command on cmd/reboot ignored" in c.gw.output()
    assert not [t for t, _, _ in c.sub.msgs if "/reply/" in t], "a retained command is not answered"
    assert c.gw.output().count("retained command") == 1, "logged once"
    # a normal command still works
    r = c.send("status")
    assert r["ok"] and r["status"]["boot"] == 1
    sub.c.publish(ROOT + "cmd/reboot", b"", qos=1, retain=True).wait_for_publish(5)


def vm_kb(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise AssertionError(key)


def test_large_messages_never_reach_the_daemon(tmp_path, broker, gateways, subscriber):
    c = start(tmp_path, broker, gateways, subscriber)  # MQTT 5, the default
    assert c.send("status")["ok"]
    before = vm_kb(c.gw.proc.pid, "VmHWM")
    # a command over 4096 bytes but within the packet size is answered with the error
    r = c.send_raw("get", b'{"id":"x","pad":"' + b"x" * 8000 + b'"}')
    assert r["ok"] is False and r["error"].startswith("payload too large"), r
    for size in (1 << 20, 64 << 20):
        c.sub.c.publish(ROOT + "cmd/get", b"{" + b" " * (size - 2) + b"}", qos=1).wait_for_publish(60)
    # the broker drops them for this client; the daemon still answers
    c.sub.c.publish(ROOT + "cmd/status", b'{"id":"after"}', qos=1)
    r = wait_for(lambda: [r for t, r in c.replies() if t.endswith("/reply/status") and r["id"] == "after"], 60,
                 "the status after the large messages")[0]
    assert r["ok"] and r["status"]["boot"] == 1
    after = vm_kb(c.gw.proc.pid, "VmHWM")
    print("VmHWM %d kB -> %d kB" % (before, after))
    assert after - before < 4096, "peak RSS grew from %d kB to %d kB" % (before, after)
    assert len([t for t, _, _ in c.sub.msgs if t.endswith("/reply/get")]) == 1, "no reply to the large ones"


def test_replay_goes_after_new_alarms(tmp_path, broker, gateways, subscriber):
    """A replay waits behind alarm events raised while it is queued; its
    reply still comes after its own events; one replay at a time."""
    sub = subscriber()
    gw = gateways(conf(tmp_path, broker, "max_inflight = 1")).start()
    c = Center(sub)
    sub.wait_unique_alarms(12)
    n = 10
    # the gateway takes both commands at once, then its link stalls: the
    # replay waits in the outbox while s2 keeps raising and clearing
    gw.proc.send(signal.SIGSTOP)
    sub.c.publish(ROOT + "cmd/replay", json.dumps({"id": "r1", "from": 1, "to": n}), qos=1)
    sub.c.publish(ROOT + "cmd/replay", json.dumps({"id": "r2", "from": 1, "to": n}), qos=1)
    time.sleep(0.5)  # into the stopped gateway's socket
    broker.proc.send(signal.SIGSTOP)
    seen = max(a["seq"] for a in sub.alarms())
    mark = len(sub.msgs)
    gw.proc.send(signal.SIGCONT)
    wait_for(lambda: "replay of seq 1..%d" % n in gw.output(), 10, "the replay taken")
    time.sleep(1.5)  # s2 changes every 200 ms
    broker.proc.send(signal.SIGCONT)
    wait_for(lambda: len([1 for t, _ in c.replies() if t.endswith("/reply/replay")]) == 2, 20, "both replies")
    after = [(t, json.loads(p)) for t, p, _ in sub.msgs[mark:]]
    replies = [r for t, r in after if t.endswith("/reply/replay")]
    kinds = [m["id"] if t.endswith("/reply/replay") else "replayed" if m["seq"] <= n else "new" if m["seq"] > seen
             else "old" for t, m in after if t.endswith("/alarm") or t.endswith("/reply/replay")]
    last_replayed = max(i for i, k in enumerate(kinds) if k == "replayed")
    assert kinds.count("replayed") >= n
    assert "new" in kinds[:last_replayed], "new alarm events go before the rest of the replay: %s" % kinds
    assert kinds.index("r1") > last_replayed, "the replay's reply comes after its events: %s" % kinds
    assert {r["id"]: r.get("error") for r in replies} == {"r1": None, "r2": "a replay is in progress"}
    assert gw.proc.alive()


def test_command_flood_is_rate_limited(tmp_path, broker, gateways, subscriber):
    c = start(tmp_path, broker, gateways, subscriber)
    c.sub.wait_unique_alarms(2)
    pid = c.gw.proc.pid
    rss = vm_kb(pid, "VmRSS")
    t0 = time.monotonic()
    for i in range(200):
        c.sub.c.publish(ROOT + "cmd/get", json.dumps({"id": "f%d" % i}), qos=1)
    alarms = len(c.sub.alarms())
    # alarms still flow
    wait_for(lambda: len(c.sub.alarms()) > alarms + 2, 10, "alarm events after the flood")
    time.sleep(1.5)
    took = time.monotonic() - t0
    got = [r for t, r in c.replies() if str(r.get("id", "")).startswith("f")]
    ok = [r for r in got if r["ok"]]
    limited = [r for r in got if r.get("error") == "rate limited"]
    print("flood: %d ok, %d rate limited, %d unanswered in %.1fs; VmRSS %d kB -> %d kB"
          % (len(ok), len(limited), 200 - len(got), took, rss, vm_kb(pid, "VmRSS")))
    assert len(ok) + len(limited) == len(got)
    assert 20 <= len(ok) <= 20 + 5 * took + 1, "burst 20, then 5 a second: %d ok in %.1fs" % (len(ok), took)
    assert 1 <= len(limited) <= took + 1, "at most one 'rate limited' reply a second: %d" % len(limited)
    assert len(got) < 100, "most refused commands are dropped unanswered"
    # (an ASan build keeps freed memory in quarantine: ~6 MB here)
    assert vm_kb(pid, "VmRSS") - rss < 8192, "RSS %d kB -> %d kB" % (rss, vm_kb(pid, "VmRSS"))
    assert 1 <= c.gw.output().count("rate limited: ") <= took / 10 + 1, "the log line is rate limited"
    # a later command works
    time.sleep(1)
    assert c.send("status")["ok"]


def test_set_has_its_own_slower_limit(tmp_path, broker, gateways, subscriber):
    c = start(tmp_path, broker, gateways, subscriber)
    for i in range(5):
        c.sub.c.publish(ROOT + "cmd/set", json.dumps({"id": "s%d" % i, "sensor": "s1", "set": {"on_delay": "%ds" % i}}),
                        qos=1)
    wait_for(lambda: len(c.replies()) >= 4, 10, "4 replies")
    time.sleep(1)
    got = sorted((r["id"], r.get("error")) for t, r in c.replies())
    assert got == [("s0", None), ("s1", None), ("s2", None), ("s3", "rate limited")], got
    # other commands are not held back by it
    assert c.send("status")["ok"]
