"""make image-test: the firmware image (make image BOARD=qemu-arm64) booted
in qemu-system-aarch64 (-M virt, TCG): systemd starts lifelined, which polls
a pymodbus slave on this machine through qemu's user networking and sends an
alarm to this machine's mosquitto; lifeline-center asks it for its status
(memory) through the broker. Prints the boot time and the memory figures.
The image is opened with snapshot=on: the test changes nothing in it."""
import importlib.util
import json
import os
import re
import subprocess
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
IT = os.path.join(HERE, "..", "integration")
_spec = importlib.util.spec_from_file_location("itconf", os.path.join(IT, "conftest.py"))
it = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(it)

IMAGE = os.environ.get("LIFELINE_IMAGE", os.path.join(it.ROOT, "build", "image", "qemu-arm64"))


def test_image_boots_polls_and_alarms(tmp_path):
    for f in ("rootfs.img", "vmlinuz", "initrd.img"):
        if not os.path.exists(os.path.join(IMAGE, f)):
            pytest.fail("%s/%s is missing: make image BOARD=qemu-arm64" % (IMAGE, f))
    broker = it.Broker(str(tmp_path))
    slave = it.ModbusSlave(str(tmp_path))
    sub = it.Subscriber(broker.port)
    qemu = None
    try:
        slave.set(1, 0, "float32", 5.0, "cdab")
        net = "user,id=n0,guestfwd=tcp:10.0.2.100:1883-tcp:127.0.0.1:%d,guestfwd=tcp:10.0.2.100:502-tcp:127.0.0.1:%d" % (
            broker.port, slave.port)
        argv = ["qemu-system-aarch64", "-M", "virt", "-cpu", "cortex-a57", "-smp", "2", "-m", "512",
                "-nographic", "-no-reboot",
                "-kernel", os.path.join(IMAGE, "vmlinuz"), "-initrd", os.path.join(IMAGE, "initrd.img"),
                "-append", "root=LABEL=lifeline-root rw console=ttyAMA0 panic=-1",
                "-drive", "if=none,file=%s,format=raw,id=hd,snapshot=on" % os.path.join(IMAGE, "rootfs.img"),
                "-device", "virtio-blk-device,drive=hd", "-netdev", net, "-device", "virtio-net-device,netdev=n0"]
        t0 = time.monotonic()
        qemu = it.Proc(argv, str(tmp_path / "console.log"))

        def online():
            return any(st and st["state"] == "online" for st, _ in sub.statuses())
        it.wait_for(online, 600, lambda: "the image's gateway online:\n" + qemu.output()[-3000:])
        boot_s = time.monotonic() - t0
        # an alarm, end to end
        slave.set(1, 0, "float32", 55.0, "cdab")
        alarms = sub.wait_alarms(1, timeout=120)
        assert alarms[0]["sensor"] == "gas-01" and alarms[0]["level"] == "red", alarms
        # the center asks for its status: memory on the board
        r = subprocess.run([os.path.join(it.BUILD, "lifeline-center"), "send", "--port", str(broker.port),
                            "--timeout", "60", "lab/qemu-gw", "status"], capture_output=True, text=True, timeout=90)
        assert r.returncode == 0, r.stdout + r.stderr
        st = json.loads(r.stdout)["status"]
        assert st["rss_kb"] > 0
        # Type=notify: systemd says Started only once lifelined sent READY=1
        out = qemu.output()
        assert re.search(r"Started .{0,16}lifelined\.service", out), out[-3000:]
        print("\nimage: online %.1f s after qemu started (TCG); lifelined RSS %d kB (peak %d kB); "
              "the guest %d of %d MB available" % (boot_s, st["rss_kb"], st["rss_peak_kb"],
                                                  st["mem_available_kb"] // 1024, st["mem_total_kb"] // 1024))
    finally:
        if qemu:
            qemu.stop()
        sub.close()
        slave.stop()
        broker.remove()
