"""The shipped tunnel-section config (config/pipe-gallery.conf), over TCP
against lifeline-sim's tunnel scenario: a power-cable temperature alarm, a
heat-pipe pressure-drop (rate) alarm and a telecom cover-open alarm, each
with its lifeline and level, the gas and sump linkage switching their
outputs; telemetry records carry the lifeline too."""
import json
import os
import re

from conftest import BUILD, ROOT, Proc, free_port, port_open, wait_for

SPEED = 4  # the 120 s scenario cycle in 30 s


def tunnel_conf(broker_port, sim_port, db):
    text = open(os.path.join(ROOT, "config", "pipe-gallery.conf")).read()
    # the RS-485 line becomes the simulator's TCP port
    text = re.sub(r"\[bus rs485-1\]\n(?:[^\[\n][^\n]*\n)*",
                  "[bus rs485-1]\ntype = tcp\nhost = 127.0.0.1\nport = %d\ntimeout = 500ms\n\n" % sim_port, text)
    text = text.replace("port = 1883", "port = %d" % broker_port)
    text = text.replace("/var/lib/lifeline/lifeline.db", db)
    text = text.replace("profiles = ../drivers/profiles", "profiles = %s/drivers/profiles" % ROOT)
    # the scenario runs 4 times faster than the site: poll faster, and the
    # cable joint's 10 s on-delay would outlast its 7 s (scenario) over 80 degC
    text = re.sub(r"poll = (5s|10s|2s)", "poll = 500ms", text)
    text = text.replace("t4.class = cable_temperature\n", "t4.class = cable_temperature\nt2.on_delay = 0\n")
    text = text.replace("unit_id = 3\n", "unit_id = 3\non_delay = 1s\n")  # the sump's 5 s on-delay, likewise
    return text


def test_tunnel_section_lifelines_and_linkage(tmp_path, broker, gateways, subscriber):
    sim_port = free_port()
    sim = Proc([os.path.join(BUILD, "lifeline-sim"), "--port", str(sim_port), "--scenario", "tunnel",
                "--speed", str(SPEED)], os.path.join(str(tmp_path), "sim.log"))
    try:
        wait_for(lambda: port_open(sim_port), 10, "lifeline-sim")
        sub = subscriber()
        conf = tunnel_conf(broker.port, sim_port, os.path.join(str(tmp_path), "pg.db"))
        conf = conf.replace("[mqtt]\nhost = 127.0.0.1\n", "[mqtt]\nhost = 127.0.0.1\ntelemetry_batch = 20\n")
        gw = gateways(conf).start()

        def alarms_of(sensor):
            return [a for a in sub.unique_alarms() if a["sensor"] == sensor]

        # power: the cable joint t2 overheats to 86 degC (red at 80)
        cable = wait_for(lambda: [a for a in alarms_of("temps.t2") if a["level"] == "red"], 60,
                         "the cable joint's red alarm")[0]
        assert cable["lifeline"] == "power" and cable["class"] == "cable_temperature" and cable["unit"] == "degC"
        # heating: the supply pipe's pressure falls 0.3 MPa: the rate alarm, orange
        leak = wait_for(lambda: [a for a in alarms_of("heat-pressure-01") if a["condition"] == "rate"], 60,
                        "the heat pipe's pressure-drop alarm")[0]
        assert (leak["lifeline"], leak["level"], leak["event"]) == ("heating", "orange", "raised")
        assert leak["value"] <= -0.1 and leak["threshold"] == -0.1
        # telecom: the cabinet's door opens (yellow), then water gets in (orange)
        door = wait_for(lambda: alarms_of("cabinet.door"), 60, "the cover-open alarm")[0]
        assert (door["lifeline"], door["level"], door["value"]) == ("telecom", "yellow", 1)
        water = wait_for(lambda: alarms_of("cabinet.water"), 60, "the water-ingress alarm")[0]
        assert (water["lifeline"], water["level"]) == ("telecom", "orange")
        # gas and drainage with their linkage
        gas = wait_for(lambda: [a for a in alarms_of("gas-01") if a["level"] == "yellow"], 60, "gas at yellow")[0]
        assert gas["lifeline"] == "gas"
        sump = wait_for(lambda: [a for a in alarms_of("sump-01") if a["level"] in ("yellow", "orange")], 60,
                        "the sump's alarm")[0]
        assert sump["lifeline"] == "drainage"

        def actions(name, value):
            return [e for e in (json.loads(p) for _, p, _ in sub.of("event"))
                    if e.get("type") == "action" and e["action"] == name and e["value"] == value and e["ok"]]
        wait_for(lambda: actions("ventilation", 1), 30, "the fan switched on (and read back)")
        wait_for(lambda: actions("sump-pump", 1), 30, "the sump pump switched on")
        wait_for(lambda: actions("ventilation", 0), 60, "the fan switched off when the gas is gone")
        # telemetry carries the lifeline of each reading
        readings = wait_for(lambda: [r for _, p, _ in sub.of("telemetry") for r in json.loads(p)["readings"]],
                            30, "telemetry")
        by_sensor = {r["sensor"]: r["lifeline"] for r in readings}
        assert by_sensor.get("gas-01", "gas") == "gas"
        assert all(r["lifeline"] in ("gas", "power", "telecom", "heating", "drainage") for r in readings)
        assert gw.stop() == 0
    finally:
        sim.stop()
