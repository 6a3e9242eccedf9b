"""The ARM build, end to end (make check-cross ARCH=...): lifelined and
lifelinectl cross-built for ARCH, run under qemu-user with the sysroot
(LIFELINE_WRAP), poll this machine's pymodbus slave over Modbus TCP and
publish an alarm to this machine's mosquitto; lifeline-center (ARM too)
acknowledges it through the broker."""
import importlib.util
import os
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
IT = os.path.join(HERE, "..", "integration")
_spec = importlib.util.spec_from_file_location("itconf", os.path.join(IT, "conftest.py"))
it = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(it)
_spec = importlib.util.spec_from_file_location("itutil", os.path.join(IT, "util.py"))
util = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(util)

WRAP = os.environ.get("LIFELINE_WRAP", "").split()


def vm_hwm_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def test_arm_gateway_polls_and_alarms(tmp_path):
    assert WRAP, "LIFELINE_WRAP (qemu-user and its -L sysroot) is not set: run make check-cross ARCH=..."
    broker = it.Broker(str(tmp_path))
    slave = it.ModbusSlave(str(tmp_path))
    gw = None
    sub = it.Subscriber(broker.port)
    try:
        slave.set(1, 0, "float32", 5.0, "cdab")
        slave.set(2, 10, "int16", 350)
        gw = it.Gateway(str(tmp_path), util.render("gas_tcp", tmp_path, BROKER=broker.port, SLAVE=slave.port)).start()
        it.wait_for(lambda: any(st and st["state"] == "online" for st, _ in sub.statuses()), 60,
                    lambda: "online status from the ARM gateway:\n" + gw.output())
        slave.set(1, 0, "float32", 55.0, "cdab")
        alarms = sub.wait_alarms(1, timeout=60)
        assert alarms[0]["sensor"] == "gas-01" and alarms[0]["level"] == "red", alarms
        assert alarms[0]["value"] == 55.0
        # the console of the ARM build, through the control socket
        sock = os.path.join(gw.sockdir, "ctl.sock")
        r = subprocess.run(WRAP + [os.path.join(it.BUILD, "lifelinectl"), "-s", sock, "show", "alarms"],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0 and "gas-01" in r.stdout, r.stdout + r.stderr
        # the center's ack, from the ARM build of lifeline-center
        r = subprocess.run(WRAP + [os.path.join(it.BUILD, "lifeline-center"), "ack", "--port", str(broker.port),
                                   "--by", "arm", "test-site/it-gw", str(alarms[0]["alarm_id"])],
                           capture_output=True, text=True, timeout=90)
        assert r.returncode == 0 and '"ok":true' in r.stdout, r.stdout + r.stderr
        it.wait_for(lambda: any(a["event"] == "acked" for a in sub.alarms()), 30, "the acked event")
        print("\n%s: lifelined under %s, peak RSS of the qemu process %d kB" % (
            os.path.basename(it.BUILD), WRAP[0], vm_hwm_kb(gw.proc.pid)))
        assert gw.stop() == 0
    finally:
        if gw:
            gw.remove()
        sub.close()
        slave.stop()
        broker.remove()
