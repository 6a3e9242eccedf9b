"""board/common/console: installed into an image root, systemd-sysusers
makes the `tech` user with lifelinectl as its shell, in the control
socket's group, and the serial-getty drop-in logs it in on the console UART."""
import os
import subprocess

from conftest import ROOT

CONSOLE = os.path.join(ROOT, "board", "common", "console")


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
    assert "tech" in group["lifeline"][3].split(",")
    # twice is harmless
    r = subprocess.run(["/bin/sh", os.path.join(CONSOLE, "install.sh"), "ttyAMA0", str(root)],
                       capture_output=True, text=True)
    assert r.returncode == 0 and (root / "etc" / "shells").read_text().count("lifelinectl") == 1
