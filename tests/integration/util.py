import os

HERE = os.path.dirname(os.path.abspath(__file__))


def render(name, tmp, **values):
    """Reads tests/integration/NAME.conf.in and fills @KEY@ placeholders."""
    with open(os.path.join(HERE, name + ".conf.in")) as f:
        text = f.read()
    values.setdefault("DB", os.path.join(str(tmp), "lifeline.db"))
    values.setdefault("KEEPALIVE", 30)
    # sim_gw.conf.in, field_gw.conf.in
    values.setdefault("PROFILES", os.path.join(os.path.dirname(os.path.dirname(HERE)), "drivers", "profiles"))
    for k, v in (("SITE", "test"), ("RECONNECT_MIN", "200ms"), ("RECONNECT_MAX", "1s"), ("MQTT_MORE", ""), ("STORE_MORE", "")):
        values.setdefault(k, v)
    for k, v in values.items():
        text = text.replace("@%s@" % k, str(v))
    assert "@" not in text.replace("%LEL", ""), "unfilled placeholder in " + name
    return text
