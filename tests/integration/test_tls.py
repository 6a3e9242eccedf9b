"""The uplink's TLS, credentials and MQTT 5, against a real mosquitto with
certificates made here by openssl: the gateway connects with the right CA
and client certificate, and refuses a broker whose certificate its CA did
not sign or that is not for the host it connects to; a broker that wants a
client certificate refuses a gateway without one. Wrong passwords are
refused and never written to the log."""
import os
import shutil
import subprocess
import tempfile
import time

import pytest

from conftest import Broker, free_port, port_open, wait_for
from util import render

OPENSSL = "/usr/bin/openssl"


def run(*argv):
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class Pki:
    """Two CAs, a broker certificate for 127.0.0.1 from each, one for another
    address, and a client certificate, in a directory mosquitto (which drops
    root for its own user) can read."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="lifeline-pki-")
        os.chmod(self.dir, 0o755)
        for ca in ("ca", "rogue-ca"):
            run(OPENSSL, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                "-subj", "/CN=%s" % ca, "-keyout", self.p(ca + ".key"), "-out", self.p(ca + ".crt"))
        self.cert("server", "ca", "IP:127.0.0.1")
        self.cert("rogue-server", "rogue-ca", "IP:127.0.0.1")
        self.cert("other-host", "ca", "IP:127.0.0.2,DNS:elsewhere.example")
        self.cert("client", "ca", None)
        for f in os.listdir(self.dir):
            os.chmod(self.p(f), 0o644)

    def p(self, name):
        return os.path.join(self.dir, name)

    def cert(self, name, ca, san):
        run(OPENSSL, "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=%s" % name,
            "-keyout", self.p(name + ".key"), "-out", self.p(name + ".csr"))
        ext = self.p(name + ".ext")
        with open(ext, "w") as f:
            f.write("subjectAltName=%s\n" % san if san else "extendedKeyUsage=clientAuth\n")
        run(OPENSSL, "x509", "-req", "-in", self.p(name + ".csr"), "-CA", self.p(ca + ".crt"),
            "-CAkey", self.p(ca + ".key"), "-CAcreateserial", "-days", "2", "-extfile", ext,
            "-out", self.p(name + ".crt"))

    def remove(self):
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def pki():
    k = Pki()
    yield k
    k.remove()


def tls_broker(tmp, pki, server="server", require_cert=True):
    """A plain listener for the test's subscriber, and a TLS one for the gateway."""
    tls_port = free_port()
    extra = ("allow_anonymous true\nlistener %d 127.0.0.1\ncafile %s\ncertfile %s\nkeyfile %s\n"
             "require_certificate %s\ntls_version tlsv1.2\n"
             % (tls_port, pki.p("ca.crt"), pki.p(server + ".crt"), pki.p(server + ".key"),
                "true" if require_cert else "false"))
    b = Broker(tmp, extra=extra)
    wait_for(lambda: port_open(tls_port), 10, "TLS listener")
    b.tls_port = tls_port
    return b


def gateway_conf(tmp, port, mqtt_extra):
    return render("sim_gw", tmp, ID="tls-gw", SITE="test-site", BROKER=port, DB=os.path.join(tmp, "tls.db"),
                  MQTT_MORE=mqtt_extra) + \
        "[sensor s1]\nclass = gas\nbus = sim\nsim = const\nsim_min = 1\nsim_max = 1\n"


def online(sub):
    return any(st and st["state"] == "online" for st, _ in sub.statuses())


@pytest.fixture
def tls_setup(tmp_path, pki, request):
    made = []

    def make(**kw):
        b = tls_broker(str(tmp_path), pki, **kw)
        made.append(b)
        return b

    yield make
    for b in made:
        b.remove()


def test_mutual_tls_connects_and_delivers(tmp_path, pki, tls_setup, gateways):
    from conftest import Subscriber
    b = tls_setup()
    sub = Subscriber(b.port)
    gw = gateways(gateway_conf(str(tmp_path), b.tls_port, "tls_ca = %s\ntls_cert = %s\ntls_key = %s\n"
                               % (pki.p("ca.crt"), pki.p("client.crt"), pki.p("client.key")))).start()
    wait_for(lambda: online(sub), 20, "online status over mutual TLS")
    assert gw.stop() == 0
    wait_for(lambda: sub.statuses()[-1][0]["state"] == "offline", 5, "offline status over TLS")
    sub.close()


def test_ca_directory_works_too(tmp_path, pki, tls_setup, gateways):
    from conftest import Subscriber
    cadir = tmp_path / "cas"
    cadir.mkdir()
    shutil.copy(pki.p("ca.crt"), cadir / "ca.pem")
    run(OPENSSL, "rehash", str(cadir))
    b = tls_setup(require_cert=False)
    sub = Subscriber(b.port)
    gateways(gateway_conf(str(tmp_path), b.tls_port, "tls_ca = %s\n" % cadir)).start()
    wait_for(lambda: online(sub), 20, "online status with a CA directory")
    sub.close()


@pytest.mark.parametrize("case", ["unknown_ca", "wrong_host", "no_client_cert"])
def test_refused(tmp_path, pki, tls_setup, gateways, case):
    from conftest import Subscriber
    server = {"unknown_ca": "rogue-server", "wrong_host": "other-host"}.get(case, "server")
    b = tls_setup(server=server)
    sub = Subscriber(b.port)
    creds = "" if case == "no_client_cert" else "tls_cert = %s\ntls_key = %s\n" % (
        pki.p("client.crt"), pki.p("client.key"))
    gw = gateways(gateway_conf(str(tmp_path), b.tls_port, "tls_ca = %s\n%s" % (pki.p("ca.crt"), creds))).start()
    wait_for(lambda: "cannot connect" in gw.output() or "disconnected" in gw.output(), 20,
             "the connection failure in the log")
    time.sleep(2)  # several retries (reconnect_max 1s): none may get through
    assert not online(sub)
    assert gw.proc.alive(), "a refused connection must not stop the gateway"
    out = gw.output()
    if case in ("unknown_ca", "wrong_host"):
        assert "certificate verify failed" in out, out
    # said once, not on every retry
    assert out.count("cannot connect") <= 1, out
    sub.close()


def test_password(tmp_path, gateways):
    from conftest import Subscriber
    pwdir = tempfile.mkdtemp(prefix="lifeline-pw-")
    os.chmod(pwdir, 0o755)
    pwfile = os.path.join(pwdir, "passwd")
    try:
        run("/usr/bin/mosquitto_passwd", "-b", "-c", pwfile, "gw", "s3cret-Pw")
        os.chmod(pwfile, 0o644)
        b = Broker(str(tmp_path), extra="allow_anonymous false\npassword_file %s" % pwfile)
        try:
            sub = Subscriber(b.port, auth=("gw", "s3cret-Pw"))
            bad = gateways(gateway_conf(str(tmp_path), b.port, "username = gw\npassword = wrong-Pw9\nallow_plaintext = yes\n"),
                           name="bad").start()
            wait_for(lambda: "refused" in bad.output(), 20, "the refusal in the log")
            assert "wrong-Pw9" not in bad.output()
            bad.stop()
            good = gateways(gateway_conf(str(tmp_path), b.port, "username = gw\npassword = s3cret-Pw\nallow_plaintext = yes\n"),
                            name="good").start()
            wait_for(lambda: online(sub), 20, "online with the right password")
            assert "s3cret-Pw" not in good.output()
            sub.close()
        finally:
            b.remove()
    finally:
        shutil.rmtree(pwdir, ignore_errors=True)


@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
def test_mqtt5(tmp_path, broker, gateways, subscriber, protocol):
    """MQTT 5 (the default) and 3.1.1 both work."""
    sub = subscriber()
    gateways(gateway_conf(str(tmp_path), broker.port, "protocol = %s\n" % protocol)).start()
    wait_for(lambda: online(sub), 20, "online over MQTT " + protocol)
    sub.c.publish("lifeline/v1/test-site/tls-gw/cmd/ack", '{"id":"q5","alarm_id":99}', qos=1)
    reply = wait_for(lambda: sub.of("reply/ack"), 10, "reply over MQTT " + protocol)
    assert b'"id":"q5"' in reply[0][1] and b'"ok":false' in reply[0][1]


def center(*args):
    from conftest import BUILD
    return subprocess.run([os.path.join(BUILD, "lifeline-center")] + [str(a) for a in args], capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL)


def test_center_over_mutual_tls(tmp_path, pki, tls_setup, gateways):
    """lifeline-center speaks TLS as the gateway does: the right CA and a
    client certificate get an answer; a broker its CA did not sign, none."""
    from conftest import Subscriber
    b = tls_setup()
    sub = Subscriber(b.port)
    gateways(gateway_conf(str(tmp_path), b.tls_port, "tls_ca = %s\ntls_cert = %s\ntls_key = %s\n"
                          % (pki.p("ca.crt"), pki.p("client.crt"), pki.p("client.key")))).start()
    wait_for(lambda: online(sub), 20, "the gateway online over TLS")
    tls = ["--port", b.tls_port, "--tls-ca", pki.p("ca.crt"), "--tls-cert", pki.p("client.crt"),
           "--tls-key", pki.p("client.key")]
    r = center("send", *tls, "test-site/tls-gw", "status")
    assert r.returncode == 0, r.stderr
    assert '"ok":true' in r.stdout
    # without a client certificate this broker refuses us
    r = center("send", "--port", b.tls_port, "--tls-ca", pki.p("ca.crt"), "--timeout", "3", "test-site/tls-gw",
               "status")
    assert r.returncode == 3 and "the broker was not reached" in r.stderr, r.stderr
    r = center("send", "--tls-cert", pki.p("client.crt"), "test-site/tls-gw", "status")
    assert r.returncode == 64 and "go together" in r.stderr
    sub.close()
    rogue = tls_setup(server="rogue-server")
    r = center("send", "--port", rogue.tls_port, *tls[2:], "--timeout", "3", "test-site/tls-gw", "status")
    assert r.returncode == 3 and "the broker was not reached" in r.stderr, r.stderr


def test_center_password(tmp_path, gateways):
    pwdir = tempfile.mkdtemp(prefix="lifeline-pw-")
    os.chmod(pwdir, 0o755)
    pwfile = os.path.join(pwdir, "passwd")
    try:
        run("/usr/bin/mosquitto_passwd", "-b", "-c", pwfile, "gw", "s3cret-Pw")
        os.chmod(pwfile, 0o644)
        b = Broker(str(tmp_path), extra="allow_anonymous false\npassword_file %s" % pwfile)
        try:
            gateways(gateway_conf(str(tmp_path), b.port, "username = gw\npassword = s3cret-Pw\nallow_plaintext = yes\n")).start()
            secret = tmp_path / "center.pw"
            secret.write_text("s3cret-Pw\n")
            wrong = tmp_path / "wrong.pw"
            wrong.write_text("nope-Pw1\n")
            ok = lambda: center("send", "--port", b.port, "--username", "gw", "--password-file", secret,
                                "--timeout", "5", "test-site/tls-gw", "status")
            r = wait_for(lambda: (lambda x: x if x.returncode == 0 else None)(ok()), 30, "an answer with the password")
            assert '"ok":true' in r.stdout
            r = center("send", "--port", b.port, "--username", "gw", "--password-file", wrong, "--timeout", "3",
                       "test-site/tls-gw", "status")
            assert r.returncode == 3 and "broker refused: not authorized" in r.stderr, r.stderr
            assert "nope-Pw1" not in r.stderr
            r = center("send", "--password-file", secret, "test-site/tls-gw", "status")
            assert r.returncode == 64 and "needs --username" in r.stderr
        finally:
            b.remove()
    finally:
        shutil.rmtree(pwdir, ignore_errors=True)
