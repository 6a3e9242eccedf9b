"""board/common/console: installed into an image root, systemd-sysusers
makes the `tech` user with lifelinectl as its shell, in the control
socket's group, and the serial-getty drop-in logs it in on the console UART.
With the daemon's own sysusers and tmpfiles files: tech is in the socket's
group only, never in the daemon's, and the config is the daemon's alone."""
import os
import subprocess

from conftest import ROOT

CONSOLE = os.path.join(ROOT, "board", "common", "console")
SYSTEMD = os.path.join(ROOT, "board", "common", "systemd")


def test_install_into_an_image_root(tmp_path):
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    for f in ("passwd", "group", "shadow", "gshadow"):
        (root / "etc" / f).write_text("root:x:0:0:root:/root:/bin/sh\n" if f == "passwd" else
                                      "root:x:0:\n" if f == "group" else "")
    (root / "etc" / "shells").write_text("/bin/sh\n")
    r = subprocess.run(["/bin/sh", os.path.join(CONSOLE, "install.sh"), "ttyAMA0", str(root)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    dropin = root / "etc/systemd/system/serial-getty@ttyAMA0.service.d/lifeline.conf"
    assert "--autologin tech" in dropin.read_text()
    assert "/usr/bin/lifelinectl" in (root / "etc" / "shells").read_text().split()
    r = subprocess.run(["/usr/bin/systemd-sysusers", "--root", str(root)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    passwd = {l.split(":")[0]: l.split(":") for l in (root / "etc" / "passwd").read_text().splitlines()}
    assert passwd["tech"][6] == "/usr/bin/lifelinectl"
    group = {l.split(":")[0]: l.split(":") for l in (root / "etc" / "group").read_text().splitlines()}
    assert group["lifeline-console"][3].split(",") == ["tech"]
    assert "lifeline" not in group  # the daemon's group: not the technician's
    # twice is harmless
    r = subprocess.run(["/bin/sh", os.path.join(CONSOLE, "install.sh"), "ttyAMA0", str(root)],
                       capture_output=True, text=True)
    assert r.returncode == 0 and (root / "etc" / "shells").read_text().count("lifelinectl") == 1


def test_tech_cannot_read_the_daemons_secrets(tmp_path):
    root = tmp_path / "rootfs"
    (root / "etc" / "lifeline" / "tls").mkdir(parents=True)
    for f in ("passwd", "group", "shadow", "gshadow"):
        (root / "etc" / f).write_text("root:x:0:0:root:/root:/bin/sh\n" if f == "passwd" else
                                      "root:x:0:\n" if f == "group" else "")
    (root / "etc" / "shells").write_text("/bin/sh\n")
    sysusers = root / "usr" / "lib" / "sysusers.d"
    sysusers.mkdir(parents=True)
    (sysusers / "lifelined.conf").write_text(open(os.path.join(SYSTEMD, "lifelined.sysusers.conf")).read())
    r = subprocess.run(["/bin/sh", os.path.join(CONSOLE, "install.sh"), "ttyS0", str(root)], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr
    r = subprocess.run(["/usr/bin/systemd-sysusers", "--root", str(root)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    group = {l.split(":")[0]: l.split(":") for l in (root / "etc" / "group").read_text().splitlines()}
    members = {g: set(filter(None, v[3].split(","))) for g, v in group.items()}
    assert members["lifeline-console"] == {"lifeline", "tech"}  # the daemon gives the socket to it
    assert "tech" not in members["lifeline"] and not any("tech" in m for g, m in members.items()
                                                          if g != "lifeline-console")
    passwd = {l.split(":")[0]: l.split(":") for l in (root / "etc" / "passwd").read_text().splitlines()}
    lifeline_uid, lifeline_gid = int(passwd["lifeline"][2]), int(group["lifeline"][2])
    # the shipped config, and a TLS key, the daemon's (postinst; docs/install.md)
    # but readable by all: after tmpfiles, readable by the daemon's user alone
    conf = root / "etc" / "lifeline" / "lifeline.conf"
    conf.write_text(open(os.path.join(ROOT, "firmware", "lifeline.conf")).read())
    key = root / "etc" / "lifeline" / "tls" / "gw.key"
    key.write_text("-----BEGIN PRIVATE KEY-----\n")
    for path in (conf, key.parent, key):
        os.chown(path, lifeline_uid, lifeline_gid)
        path.chmod(0o755 if path.is_dir() else 0o644)
    tmpfiles = root / "usr" / "lib" / "tmpfiles.d"
    tmpfiles.mkdir(parents=True)
    (tmpfiles / "lifelined.conf").write_text(open(os.path.join(SYSTEMD, "lifelined.tmpfiles.conf")).read())
    r = subprocess.run(["/usr/bin/systemd-tmpfiles", "--create", "--root", str(root), "lifelined.conf"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    for path, mode in ((root / "etc" / "lifeline", 0o750), (conf, 0o600), (key.parent, 0o700), (key, 0o600)):
        st = os.stat(path)
        assert (st.st_mode & 0o7777, st.st_uid, st.st_gid) == (mode, lifeline_uid, lifeline_gid), path
    assert "\ngroup = lifeline-console\n" in conf.read_text()
