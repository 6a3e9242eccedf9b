"""The update bundle's tooling (firmware/bundle.sh, RAUC): a bundle made
from a root filesystem image is signed and verifies against its keyring;
against another CA, or with one byte of it changed, it does not, so a
gateway would refuse it. (The A/B installation itself needs the board's
bootloader: docs/install.md says what is and is not tested.)"""
import os
import shutil
import subprocess

import pytest

from conftest import ROOT


def run(*argv, **kw):
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=120, **kw)


def test_no_key_no_bundle(tmp_path):
    """A forgotten signing key is an error, not a bundle signed with a
    development key lying on the build machine."""
    img = tmp_path / "rootfs.img"
    with open(img, "wb") as f:
        f.truncate(1 << 20)
    env = {k: v for k, v in os.environ.items() if not k.startswith("BUNDLE_")}
    r = run(os.path.join(ROOT, "firmware", "bundle.sh"), "qemu-arm64", tmp_path, env=env)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "bundle: no signing key: set BUNDLE_KEY and BUNDLE_CERT" in r.stderr
    assert "BUNDLE_DEV=1" in r.stderr
    assert not list(tmp_path.glob("*.raucb"))


def test_bundle_signed_verified_and_tamper_refused(tmp_path):
    if not shutil.which("rauc") or not shutil.which("mksquashfs"):
        pytest.fail("rauc and squashfs-tools are missing: make deps")
    img = tmp_path / "rootfs.img"
    with open(img, "wb") as f:
        f.truncate(32 << 20)
    assert run("mkfs.ext4", "-q", "-L", "lifeline-root", img).returncode == 0
    keys = tmp_path / "keys"
    keys.mkdir()
    for ca in ("ca", "rogue"):
        assert run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=" + ca,
                   "-keyout", keys / (ca + ".key"), "-out", keys / (ca + ".pem")).returncode == 0
    assert run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=signer",
               "-keyout", keys / "signer.key", "-out", keys / "signer.csr").returncode == 0
    (keys / "ext").write_text("basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n")
    assert run("openssl", "x509", "-req", "-in", keys / "signer.csr", "-CA", keys / "ca.pem", "-CAkey",
               keys / "ca.key", "-CAcreateserial", "-days", "2", "-extfile", keys / "ext",
               "-out", keys / "signer.pem").returncode == 0
    env = dict(os.environ, BUNDLE_KEY=str(keys / "signer.key"), BUNDLE_CERT=str(keys / "signer.pem"),
               BUNDLE_KEYRING=str(keys / "ca.pem"))
    r = run(os.path.join(ROOT, "firmware", "bundle.sh"), "qemu-arm64", tmp_path, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    version = open(os.path.join(ROOT, "VERSION")).read().strip()
    bundle = tmp_path / ("lifeline-qemu-arm64-%s.raucb" % version)
    assert bundle.exists(), r.stdout
    info = (tmp_path / "bundle.info").read_text()
    assert "Compatible: \t'lifeline-qemu-arm64'" in info and "Bundle Format: \tverity" in info, info
    assert "Verified inline signature by 'CN = signer'" in info
    # another CA: refused
    r = run("rauc", "info", "--keyring", keys / "rogue.pem", bundle)
    assert r.returncode != 0 and "signature verification failed" in r.stderr, r.stderr
    # what a gateway installs is the image, checked against the signed verity hash
    r = run("rauc", "extract", "--keyring", keys / "ca.pem", bundle, tmp_path / "out")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "out" / "rootfs.ext4").read_bytes() == img.read_bytes()
    # one byte of the payload changed: the signature still verifies (it
    # covers the manifest and the verity root hash) but the payload does not
    bad = tmp_path / "tampered.raucb"
    data = bytearray(bundle.read_bytes())
    data[4096] ^= 0x01
    bad.write_bytes(data)
    r = run("rauc", "extract", "--keyring", keys / "ca.pem", bad, tmp_path / "bad")
    assert r.returncode != 0 and "payload is corrupted" in r.stderr, r.stderr
