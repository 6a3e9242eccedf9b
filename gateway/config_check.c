/* config_check: the checks made once a config is built: across keys (a
 * mapping needs all four of its keys, limits in order, ...) and across
 * sections (a sensor's bus exists, an action's output is on a real bus).
 * Each error points at the line the offending value came from. */
#include <string.h>

#include "config_int.h"

/* ---- checks across keys and sections ---- */

static const char *sensor_key(int k)
{
    return cfg_keys(SECT_SENSOR)[k].name;
}

/* device = NAME: a [port NAME] of the board file, whose device it becomes;
 * its rs485 and rts are the bus's unless the bus sets its own. */
static int board_port(struct build *b, struct cfg_bus *bus, const struct sect *sc)
{
    const struct cfg_board *bd = &b->cfg->board;
    const struct pair *p = cfg_find_pair(sc, "device");

    cfg_at(b, b->site.path, p ? p->line : sc->line, "device");
    for (unsigned i = 0; i < bd->n_ports; i++) {
        const struct cfg_board_port *pt = &bd->ports[i];
        if (strcmp(pt->name, bus->p.device) != 0)
            continue;
        snprintf(bus->p.device, sizeof(bus->p.device), "%s", pt->device);
        if (!cfg_find_pair(sc, "rs485"))
            bus->p.rs485 = pt->rs485;
        if (!cfg_find_pair(sc, "rts"))
            bus->p.rts = pt->rts;
        return 1;
    }
    if (!bd->path[0])
        return cfg_fail(&b->err, "'%s' is not a path (/dev/...), and there is no board file to name a port",
                        bus->p.device);
    return cfg_fail(&b->err, "no [port %s] in the board file %s (a path starts with /dev/)", bus->p.device, bd->path);
}

static int check_bus(struct build *b, struct cfg_bus *bus, const struct sect *sc)
{
    const char *file = b->site.path;
    static const char *const rtu_only[] = {"device", "baud", "parity", "data_bits", "stop_bits", "rs485", "rts", NULL};
    static const char *const tcp_only[] = {"host", "port", NULL};

    snprintf(b->label, sizeof(b->label), "[bus %s]", bus->p.name);
    cfg_at(b, file, sc->line, "type");
    if (!cfg_find_pair(sc, "type"))
        return cfg_fail(&b->err, "missing (required: tcp, rtu or sim)");
    const char *const *foreign = bus->p.type == BUS_RTU ? tcp_only : bus->p.type == BUS_TCP ? rtu_only : NULL;
    for (int i = 0; foreign && foreign[i]; i++) {
        const struct pair *p = cfg_find_pair(sc, foreign[i]);
        if (p) {
            cfg_at(b, file, p->line, p->key);
            return cfg_fail(&b->err, "does not apply to a %s bus", bus->p.type == BUS_RTU ? "rtu" : "tcp");
        }
    }
    cfg_at(b, file, sc->line, NULL);
    if (bus->p.type == BUS_TCP && !bus->p.host[0])
        return cfg_fail(&b->err, "host: missing (required for a tcp bus)");
    if (bus->p.type == BUS_RTU && !bus->p.device[0])
        return cfg_fail(&b->err, "device: missing (required for an rtu bus, e.g. /dev/ttyS1)");
    if (bus->p.type == BUS_RTU && bus->p.device[0] != '/' && !board_port(b, bus, sc))
        return 0;
    /* Modbus RTU framing: 11 bits a character; frames apart by 3.5 characters,
     * fixed at 1.75 ms above 19200 baud. Rounded up to whole ms. */
    int64_t t35_us = bus->p.baud > 19200 ? 1750 : (int64_t)(3.5 * 11 * 1e6 / bus->p.baud + 0.5);
    if (bus->p.frame_delay_ms < 0)
        bus->p.frame_delay_ms = bus->p.type == BUS_RTU ? (t35_us + 999) / 1000 : 0;
    if (!bus->p.byte_timeout_ms)
        bus->p.byte_timeout_ms = bus->p.type == BUS_RTU ? 20 : 500;
    return 1;
}

/* The rate and fault conditions: the same state machine as the levels, fed
 * with the change over the window and with the run of bad samples. */
static int build_rate_and_fault(struct build *b, struct cfg_sensor *s, const struct origin *o)
{
    struct sensor_rules *r = &s->rules;

    cfg_at(b, o->sect_file, o->sect_line, NULL);
    if (s->rate_level == LEVEL_NONE || s->fault_level == LEVEL_NONE) {
        int k = s->rate_level == LEVEL_NONE ? K_RATE_LEVEL : K_FAULT_LEVEL;
        cfg_at(b, o->file[k], o->line[k], sensor_key(k));
        return cfg_fail(&b->err, "must be blue, yellow, orange or red");
    }
    r->has_rate = o->line[K_RATE] != 0;
    for (int k = K_RATE_WINDOW; k <= K_RATE_HYSTERESIS && !r->has_rate; k++)
        if (o->line[k]) {
            cfg_at(b, o->file[k], o->line[k], sensor_key(k));
            return cfg_fail(&b->err, "needs rate = (the change that raises the alarm)");
        }
    r->rate_window_ms = s->rate_window_ms;
    r->rate = (struct rule_cfg){.dir = s->rate_falling ? DIR_LOW : DIR_HIGH,
                                .hysteresis = s->rate_hysteresis,
                                .on_delay_ms = s->rules.level.on_delay_ms,
                                .off_delay_ms = s->rules.level.off_delay_ms};
    r->rate.limit[s->rate_level] = s->rate_falling ? -s->rate : s->rate;
    r->rate.has[s->rate_level] = r->has_rate;
    rules_prepare(&r->rate, false);
    r->fault = (struct rule_cfg){.dir = DIR_HIGH};
    r->fault.limit[s->fault_level] = s->fault_after;
    r->fault.has[s->fault_level] = true;
    rules_prepare(&r->fault, false);
    /* silent for three polls (and at least 5 s): the bus itself is stuck */
    r->stale_ms = o->line[K_STALE_AFTER] ? s->stale_ms : (3 * s->io.poll_ms > 5000 ? 3 * s->io.poll_ms : 5000);
    return 1;
}

static int check_sensor(struct build *b, unsigned idx)
{
    struct cfg_sensor *s = &b->cfg->sensors[idx];
    const struct origin *o = &b->orig[idx];
    struct reg_format *r = &s->io.reg;
    enum level lo, hi;

#define AT(k) cfg_at(b, o->file[k] ? o->file[k] : o->sect_file, o->file[k] ? o->line[k] : o->sect_line, sensor_key(k))
    snprintf(b->label, sizeof(b->label), "[sensor %s]", s->name);
    if (!o->line[K_CLASS])
        return AT(K_CLASS), cfg_fail(&b->err, "missing (required)");
    if (!o->line[K_BUS])
        return AT(K_BUS), cfg_fail(&b->err, "missing (required)");
    unsigned bi;
    for (bi = 0; bi < b->cfg->n_buses; bi++)
        if (strcmp(b->cfg->buses[bi].p.name, s->bus_name) == 0)
            break;
    if (bi == b->cfg->n_buses)
        return AT(K_BUS), cfg_fail(&b->err, "no [bus %s] in this file", s->bus_name);
    s->io.bus = bi;
    const struct cfg_bus *bus = &b->cfg->buses[bi];

    if (bus->p.type != BUS_GPIO && o->line[K_INPUT])
        return AT(K_INPUT), cfg_fail(&b->err, "needs a bus of type gpio, and [bus %s] is not", bus->p.name);
    if (bus->p.type != BUS_GPIO && s->io.mode == INPUT_COUNTER)
        return AT(K_MODE), cfg_fail(&b->err, "counter needs a bus of type gpio, and [bus %s] is not", bus->p.name);
    if (bus->p.type == BUS_GPIO) {
        if (!o->line[K_INPUT])
            return AT(K_INPUT), cfg_fail(&b->err, "missing (required on a gpio bus: a line name, or CHIP:OFFSET)");
        if (o->line[K_REGISTER])
            return AT(K_REGISTER), cfg_fail(&b->err, "does not apply to a gpio input");
        if (s->io.mode == INPUT_LEVEL)
            r->type = TYPE_BOOL; /* a contact: 0 or 1 */
    } else if (bus->p.type == BUS_SIM) {
        if (s->io.sim.min > s->io.sim.max)
            return AT(K_SIM_MIN), cfg_fail(&b->err, "%g is above sim_max %g", s->io.sim.min, s->io.sim.max);
    } else {
        for (int k = K_SIM; k <= K_SIM_PERIOD; k++)
            if (o->line[k])
                return AT(k), cfg_fail(&b->err, "needs a bus of type sim, and [bus %s] is not", bus->p.name);
        if (!o->line[K_REGISTER])
            return AT(K_REGISTER), cfg_fail(&b->err, "missing (required on a Modbus bus)");
        if (bus->p.type == BUS_RTU && (s->io.unit_id < 1 || s->io.unit_id > 247))
            return AT(K_UNIT_ID),
                   cfg_fail(&b->err, "%u is not a slave address on an RTU line (1 to 247)", s->io.unit_id);
    }
    bool bits = r->kind == REG_COIL || r->kind == REG_DISCRETE;
    if (!o->line[K_TYPE] && bits)
        r->type = TYPE_BOOL;
    if (bits && r->type != TYPE_BOOL)
        return AT(K_TYPE), cfg_fail(&b->err, "a %s register holds one bit: type must be bool", reg_kind_names[r->kind]);
    unsigned width = decode_width(r->type);
    if (o->line[K_ORDER] && width < 2)
        return AT(K_ORDER),
               cfg_fail(&b->err, "word order applies to 32- and 64-bit types, not %s", reg_type_names[r->type]);
    r->has_bit = o->line[K_BIT] != 0;
    if (r->has_bit && r->type != TYPE_INT16 && r->type != TYPE_UINT16)
        return AT(K_BIT), cfg_fail(&b->err, "a bit is taken from a 16-bit word: type must be int16 or uint16");
    if ((unsigned)r->addr + width - 1 > 65535)
        return AT(K_REGISTER),
               cfg_fail(&b->err, "a %s at %u runs past the last address 65535", reg_type_names[r->type], r->addr);
    if (r->scale == 0)
        return AT(K_SCALE), cfg_fail(&b->err, "must not be 0");
    int nmap = !!o->line[K_RAW_MIN] + !!o->line[K_RAW_MAX] + !!o->line[K_MIN] + !!o->line[K_MAX];
    r->map = nmap > 0;
    if (nmap && nmap < 4)
        return AT(o->line[K_RAW_MIN]   ? K_RAW_MIN
                  : o->line[K_RAW_MAX] ? K_RAW_MAX
                  : o->line[K_MIN]     ? K_MIN
                                       : K_MAX),
               cfg_fail(&b->err, "a linear mapping needs raw_min, raw_max, min and max together");
    if (r->map && r->raw_min == r->raw_max)
        return AT(K_RAW_MAX), cfg_fail(&b->err, "must differ from raw_min");
    if (r->map && (o->line[K_SCALE] || o->line[K_OFFSET]))
        return AT(o->line[K_SCALE] ? K_SCALE : K_OFFSET),
               cfg_fail(&b->err, "use either scale/offset or raw_min/raw_max/min/max");
    r->valid = o->line[K_VALID_MIN] || o->line[K_VALID_MAX];
    if (r->valid) {
        if (!o->line[K_VALID_MIN])
            r->valid_min = -1e308;
        if (!o->line[K_VALID_MAX])
            r->valid_max = 1e308;
    } else if (r->map) {
        /* A mapped input (4-20 mA) is valid from 3.8 to 20.5 mA (NAMUR NE 43):
         * 1.25 % of the span below min, 3.125 % above max. An open loop reads
         * far below and is out_of_range, never a low value. */
        double a = r->min - 0.0125 * (r->max - r->min);
        double z = r->max + 0.03125 * (r->max - r->min);
        r->valid = true;
        r->valid_min = a < z ? a : z;
        r->valid_max = a < z ? z : a;
    }
    if (r->valid && r->valid_min >= r->valid_max)
        return AT(K_VALID_MAX), cfg_fail(&b->err, "%g must be above valid_min %g", r->valid_max, r->valid_min);
    /* N% limits are of the sensor's design value; N% hysteresis of each limit */
    static const int key_of[] = {0, K_BLUE, K_YELLOW, K_ORANGE, K_RED};
    for (int l = LEVEL_BLUE; l < LEVEL_COUNT; l++) {
        if (!s->rules.level.has[l] || !s->limit_pct[l])
            continue;
        if (!o->line[K_DESIGN]) {
            cfg_at(b, o->sect_file, o->sect_line, "design");
            return cfg_fail(&b->err,
                            "missing: the %s limit is %g%% of the sensor's design value "
                            "(from %s:%d)",
                            level_names[l], s->rules.level.limit[l], o->file[key_of[l]], o->line[key_of[l]]);
        }
        s->rules.level.limit[l] = s->rules.level.limit[l] * s->design / 100.0;
        s->limit_pct[l] = false;
    }
    rules_prepare(&s->rules.level, s->hyst_pct);
    if (!build_rate_and_fault(b, s, o))
        return 0;
    if (rules_check_order(&s->rules.level, &lo, &hi) < 0) {
        return AT(key_of[hi]), cfg_fail(&b->err,
                                        "%g must be %s %s (%g) for a %s sensor: limits run blue, yellow, "
                                        "orange, red in the alarm direction",
                                        s->rules.level.limit[hi], s->rules.level.dir == DIR_HIGH ? "above" : "below",
                                        level_names[lo], s->rules.level.limit[lo], direction_names[s->rules.level.dir]);
    }
#undef AT
    return 1;
}

/* The line of a key of a section, or of the section when it is not there. */
static int line_of(const struct sect *sc, const char *key)
{
    const struct pair *p = cfg_find_pair(sc, key);
    return p ? p->line : sc->line;
}

static int check_action(struct build *b, struct cfg_action *a, const struct sect *sc)
{
    struct config *c = b->cfg;
    const char *file = b->site.path;
    static const char *const required[] = {"sensors", "level", "output", NULL};

    snprintf(b->label, sizeof(b->label), "[action %s]", a->name);
    for (int i = 0; required[i]; i++) {
        if (!cfg_find_pair(sc, required[i])) {
            cfg_at(b, file, sc->line, required[i]);
            return cfg_fail(&b->err, "missing (required)");
        }
    }
    cfg_at(b, file, line_of(sc, "level"), "level");
    if (a->level == LEVEL_NONE)
        return cfg_fail(&b->err, "must be blue, yellow, orange or red");
    cfg_at(b, file, line_of(sc, "output"), "output");
    if (a->out.gpio) {
        if (a->value > 1 || a->out.restore > 1) {
            cfg_at(b, file, line_of(sc, "value"), "value");
            return cfg_fail(&b->err, "a GPIO output is 0 or 1");
        }
        goto sensors;
    }
    for (a->bus = 0; a->bus < c->n_buses; a->bus++)
        if (strcmp(c->buses[a->bus].p.name, a->bus_name) == 0)
            break;
    if (a->bus == c->n_buses)
        return cfg_fail(&b->err, "names no [bus %s] of this file", a->bus_name);
    if (c->buses[a->bus].p.type == BUS_SIM || c->buses[a->bus].p.type == BUS_GPIO)
        return cfg_fail(&b->err, "[bus %s] is a %s bus: it has no Modbus outputs", a->bus_name,
                        c->buses[a->bus].p.type == BUS_SIM ? "sim" : "gpio");
    if (a->kind == REG_COIL && (a->value > 1 || a->out.restore > 1)) {
        cfg_at(b, file, line_of(sc, "value"), "value");
        return cfg_fail(&b->err, "a coil is 0 or 1");
    }
sensors:
    cfg_at(b, file, line_of(sc, "sensors"), "sensors");
    char list[sizeof(a->sensor_list)], *save = NULL;
    snprintf(list, sizeof(list), "%s", a->sensor_list);
    for (char *name = strtok_r(list, ", ", &save); name; name = strtok_r(NULL, ", ", &save)) {
        unsigned i;
        for (i = 0; i < c->n_sensors; i++)
            if (strcmp(c->sensors[i].name, name) == 0)
                break;
        if (i == c->n_sensors)
            return cfg_fail(&b->err, "no sensor '%s' in this file", name);
        if (a->n_sensors == CFG_ACTION_SENSORS)
            return cfg_fail(&b->err, "at most %d sensors", CFG_ACTION_SENSORS);
        a->sensors[a->n_sensors++] = i;
    }
    if (!a->n_sensors)
        return cfg_fail(&b->err, "names no sensor");
    return 1;
}

int cfg_check_all(struct build *b)
{
    struct config *c = b->cfg;
    const struct sect *gw = NULL, *mq = NULL;

    for (unsigned i = 0; i < b->site.n_sects; i++) {
        const struct sect *sc = &b->site.sects[i];
        if (sc->kind == SECT_GATEWAY)
            gw = sc;
        if (sc->kind == SECT_MQTT)
            mq = sc;
    }
    b->label[0] = '\0';
    cfg_at(b, b->site.path, 0, NULL);
    if (!gw)
        return cfg_fail(&b->err, "[gateway] section missing (it names the gateway: id, site)");
    snprintf(b->label, sizeof(b->label), "[gateway]");
    cfg_at(b, b->site.path, gw->line, "id");
    if (!c->gateway.id[0])
        return cfg_fail(&b->err, "missing (required)");
    cfg_at(b, b->site.path, gw->line, "site");
    if (!c->gateway.site[0])
        return cfg_fail(&b->err, "missing (required)");
    snprintf(b->label, sizeof(b->label), "[mqtt]");
    cfg_at(b, b->site.path, mq ? mq->line : 0, "reconnect_min");
    if (c->mqtt.reconnect_min_ms > c->mqtt.reconnect_max_ms)
        return cfg_fail(&b->err, "is above reconnect_max");
    cfg_at(b, b->site.path, mq ? mq->line : 0, "tls_cert");
    if (!c->mqtt.tls_cert[0] != !c->mqtt.tls_key[0])
        return cfg_fail(&b->err, "tls_cert and tls_key go together (a client certificate and its key)");
    if (c->mqtt.tls_cert[0] && !c->mqtt.tls_ca[0])
        return cfg_fail(&b->err, "needs tls_ca (the CA that signed the broker's certificate)");
    cfg_at(b, b->site.path, mq ? mq->line : 0, "password");
    if (c->mqtt.password[0] && !c->mqtt.username[0])
        return cfg_fail(&b->err, "needs a username");
    if (c->mqtt.password[0] && !c->mqtt.tls_ca[0] && !c->mqtt.allow_plaintext)
        return cfg_fail(&b->err, "would be sent in clear text: set tls_ca (TLS), or allow_plaintext = yes "
                                 "on a network nobody else can read");
    for (unsigned i = 0, bi = 0; i < b->site.n_sects; i++)
        if (b->site.sects[i].kind == SECT_BUS && !check_bus(b, &c->buses[bi++], &b->site.sects[i]))
            return 0;
    for (unsigned i = 0; i < c->n_sensors; i++)
        if (!check_sensor(b, i))
            return 0;
    for (unsigned i = 0, ai = 0; i < b->site.n_sects; i++)
        if (b->site.sects[i].kind == SECT_ACTION && !check_action(b, &c->actions[ai++], &b->site.sects[i]))
            return 0;
    return 1;
}
