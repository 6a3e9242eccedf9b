"""The broker ACL the product ships (board/common/mosquitto/): each gateway
logs in as SITE/ID and may speak only for itself and hear only its own
commands; only the center commands. Run against mosquitto with the shipped
files, unchanged but for the paths."""
import json
import os
import shutil
import subprocess
import tempfile
import time

import paho.mqtt.client as mqtt
import pytest

from conftest import ROOT, Broker, Subscriber, wait_for
from util import render

SHIPPED = os.path.join(ROOT, "board", "common", "mosquitto")
USERS = {"test/g1": "g1-Secret", "test/g2": "g2-Secret", "center": "c-Secret", "center-desk": "d-Secret"}


@pytest.fixture
def acl_broker(tmp_path):
    d = tempfile.mkdtemp(prefix="lifeline-acl-")  # mosquitto drops to its own user: not under 0700 tmp_path
    os.chmod(d, 0o755)
    pw = os.path.join(d, "lifeline.passwd")
    for i, (user, secret) in enumerate(USERS.items()):
        subprocess.run(["/usr/bin/mosquitto_passwd", "-b"] + (["-c"] if i == 0 else []) + [pw, user, secret],
                       check=True, capture_output=True)
    shutil.copy(os.path.join(SHIPPED, "lifeline.acl"), os.path.join(d, "lifeline.acl"))
    for f in os.listdir(d):
        os.chmod(os.path.join(d, f), 0o644)
    conf = open(os.path.join(SHIPPED, "lifeline.conf")).read().replace("/etc/mosquitto/", d + "/")
    b = Broker(str(tmp_path), extra=conf)
    yield b
    b.remove()
    shutil.rmtree(d, ignore_errors=True)


def gateway(tmp_path, gateways, port, gid):
    user = "test/" + gid
    conf = render("sim_gw", tmp_path, ID=gid, SITE="test", BROKER=port, DB=str(tmp_path / (gid + ".db")),
                  MQTT_MORE="username = %s\npassword = %s\nallow_plaintext = yes" % (user, USERS[user]))
    conf += "\n[sensor s1]\nclass = gas\nbus = sim\nsim = const\nsim_min = 60\nsim_max = 60\npoll = 1s\n"
    return gateways(conf, name=gid).start()


def client(port, user):
    c = mqtt.Client(client_id="")
    c.username_pw_set(user, USERS[user])
    c.connect("127.0.0.1", port)
    c.loop_start()
    return c


def test_gateway_speaks_only_for_itself_and_only_the_center_commands(tmp_path, acl_broker, gateways):
    port = acl_broker.port
    center = Subscriber(port, auth=("center", USERS["center"]))
    try:
        gw = gateway(tmp_path, gateways, port, "g1")
        root = "lifeline/v1/test/g1/"
        wait_for(lambda: any(t == root + "status" and json.loads(p)["state"] == "online" for t, p, _ in center.msgs),
                 20, "g1 online, heard by the center")
        alarm = wait_for(lambda: [json.loads(p) for t, p, _ in center.msgs if t == root + "alarm"], 20, "g1's alarm")[0]
        assert alarm["event"] == "raised"

        # another gateway's credentials (g2) used to speak for g1, to command
        # g1, and to command itself
        forger = client(port, "test/g2")
        fake = {"seq": 10**12, "ts": 1, "alarm_id": 1, "sensor": "forged", "event": "cleared", "level": "none",
                "state": "offline", "id": "forged"}
        for topic in ("lifeline/v1/test/g1/alarm", "lifeline/v1/test/g1/status", "lifeline/v1/test/g1/cmd/status",
                      "lifeline/v1/test/g1/cmd/reboot", "lifeline/v1/test/g2/cmd/status"):
            forger.publish(topic, json.dumps(fake), qos=1).wait_for_publish(5)
        # the center's own command goes through, and is the only one answered
        cmd = client(port, "center-desk")
        cmd.publish(root + "cmd/status", json.dumps({"id": "c1"}), qos=1).wait_for_publish(5)
        wait_for(lambda: [p for t, p, _ in center.msgs if t == root + "reply/status"], 15, "the center's reply")
        time.sleep(2)
        assert not [p for _, p, _ in center.msgs if b"forged" in p], "a forgery reached the center"
        replies = [json.loads(p) for t, p, _ in center.msgs if "/reply/" in t]
        assert [r["id"] for r in replies] == ["c1"], replies
        assert gw.proc.alive() and "restarting" not in gw.output()

        # anonymous clients and a gateway's wrong password are refused
        anon = mqtt.Client(client_id="")
        with pytest.raises(Exception):
            anon.connect("127.0.0.1", port)
            anon.loop_start()
            wait_for(lambda: anon.is_connected(), 3, "an anonymous connection")
        anon.loop_stop()

        # the last will (status, offline) is g1's own topic: allowed
        gw.stop(9)
        wait_for(lambda: any(t == root + "status" and json.loads(p)["state"] == "offline" for t, p, _ in center.msgs),
                 60, "g1's last will")
        forger.loop_stop()
        cmd.loop_stop()
    finally:
        center.close()
