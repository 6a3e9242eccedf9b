/* ctl_change: the console's commands that act: privilege (enable,
 * disable), acknowledge, maintenance, outputs (reset, hold), and a new
 * connection to the center. Each is the core's (core.h) one action; this
 * parses the words and says what happened. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_int.h"
#include "num.h"

const char *ctl_enable_cmd(struct ctl_req *r, int argi)
{
    return ctl_enable(r, argi < r->argc ? r->argv[argi] : NULL);
}

const char *ctl_disable(struct ctl_req *r, int argi)
{
    (void)argi;
    if (r->s->uid == 0)
        return "root is always privileged";
    r->s->privileged = false;
    return NULL;
}

const char *ctl_ack(struct ctl_req *r, int argi)
{
    long long id;
    unsigned sensor;
    enum level lv;

    if (num_parse_ll(r->argv[argi], 1, INT64_MAX, &id))
        return "ack ALARM: the alarm's number (show alarms)";
    int rc = core_ack(r->g, id, ctl_who(r), &sensor, &lv);
    if (rc == -EALREADY) {
        snprintf(r->err, sizeof(r->err), "alarm %lld is already acknowledged", id);
        return r->err;
    }
    if (rc == -ENOENT) {
        snprintf(r->err, sizeof(r->err), "no active alarm %lld (show alarms lists them)", id);
        return r->err;
    }
    if (rc < 0)
        return "the acknowledgement could not be stored";
    if (!r->json)
        ctl_printf(r, "alarm %lld (%s %s) acknowledged\n", id, core_config(r->g)->sensors[sensor].name, level_name(lv));
    return NULL;
}

/* maintenance SENSOR DURATION|off, or maintenance bus NAME DURATION|off */
const char *ctl_maintenance(struct ctl_req *r, int argi)
{
    bool bus = r->argc - argi == 3;
    const char *name = r->argv[argi + bus], *dur = r->argv[argi + 1 + bus];
    int64_t ms = 0;

    if (bus && strcmp(r->argv[argi], "bus") != 0)
        return "maintenance SENSOR DURATION, or maintenance bus NAME DURATION";
    if (bus ? core_bus_index(r->g, name) < 0 : core_sensor_index(r->g, name) < 0)
        return ctl_no_such(r, bus ? "bus" : "sensor", name, bus ? "show buses" : "show sensors");
    if (strcmp(dur, "off") != 0 && (config_parse_duration(dur, &ms) < 0 || ms <= 0 || ms > 7 * 86400000LL))
        return "DURATION: up to 7d (30m, 2h), or off";
    int n = core_maintenance(r->g, bus ? NULL : name, bus ? name : NULL, ms, ctl_who(r));
    if (n < 0)
        return ctl_no_such(r, bus ? "bus" : "sensor", name, bus ? "show buses" : "show sensors");
    if (!r->json)
        ctl_printf(r,
                   ms ? "%s %s in maintenance for %s (%d sensor%s): its alarms start no action\n"
                      : "%s %s out of maintenance%.0s (%d sensor%s)\n",
                   bus ? "bus" : "sensor", name, ms ? dur : "", n, n == 1 ? "" : "s");
    return NULL;
}

const char *ctl_reset(struct ctl_req *r, int argi)
{
    int rc = core_output_reset(r->g, r->argv[argi]);

    if (rc == -ENOENT)
        return ctl_no_such(r, "output", r->argv[argi], "show outputs");
    if (rc == -EALREADY) {
        snprintf(r->err, sizeof(r->err), "output '%s' is not latched", r->argv[argi]);
        return r->err;
    }
    if (rc < 0)
        return "the actions are being restarted";
    return NULL;
}

const char *ctl_set_output(struct ctl_req *r, int argi)
{
    const char *m = r->argv[argi + 1];
    int mode = !strcmp(m, "on") ? 1 : !strcmp(m, "off") ? 0 : !strcmp(m, "auto") ? -1 : -2;

    if (mode == -2)
        return "set output NAME on|off|auto";
    int rc = core_output_hold(r->g, r->argv[argi], mode, ctl_who(r));
    if (rc == -ENOENT)
        return ctl_no_such(r, "output", r->argv[argi], "show outputs");
    if (rc == -EALREADY)
        return "it is automatic already";
    if (rc < 0)
        return "the actions are being restarted";
    if (!r->json)
        ctl_printf(r, mode < 0 ? "output %s: automatic again\n" : "output %s: held %s until `set output %s auto`\n",
                   r->argv[argi], m, r->argv[argi]);
    return NULL;
}

const char *ctl_mqtt_reconnect(struct ctl_req *r, int argi)
{
    (void)argi;
    return core_uplink_reconnect(r->g) < 0 ? "the uplink is being restarted" : NULL;
}
