/* ctl_show: the console's read-only views of what is running: the
 * gateway's status, the sensors and their alarms, the alarm history, the
 * outputs, the config file, the log, the uplink; and names for completion. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conffile.h"
#include "ctl_int.h"
#include "log.h"
#include "num.h"

const char *ctl_show_status(struct ctl_req *r, int argi)
{
    const struct config *cfg = core_config(r->g);
    struct core_status st;
    char ago[24];

    (void)argi;
    core_status(r->g, &st);
    const struct outbox_stats *ob = &st.outbox;
    int64_t depth = ob->rows[PRIO_ALARM] + ob->rows[PRIO_REPLAY] + ob->rows[PRIO_STATUS] + ob->rows[PRIO_TELEMETRY];
    const struct uplink_info *ui = &st.uplink;
    /* the clock: a gateway without NTP stamps alarms wrongly */
    FILE *f = fopen("/run/systemd/timesync/synchronized", "r");
    const char *sync = f ? "synchronized (systemd-timesyncd)" : "unknown (no timesyncd state)";
    if (f)
        fclose(f);
    if (r->json) {
        cJSON *o = r->j;
        ctl_jadd(r, o, "gateway", cJSON_CreateString(cfg->gateway.id));
        ctl_jadd(r, o, "site", cJSON_CreateString(cfg->gateway.site));
        ctl_jadd(r, o, "version", cJSON_CreateString(LIFELINE_VERSION));
        ctl_jadd(r, o, "uptime_s", cJSON_CreateNumber((double)st.uptime_s));
        ctl_jadd(r, o, "boot", cJSON_CreateNumber(st.boot));
        ctl_jadd(r, o, "config", cJSON_CreateString(cfg->hash));
        ctl_jadd(r, o, "sensors", cJSON_CreateNumber(cfg->n_sensors));
        ctl_jadd(r, o, "active_alarms", cJSON_CreateNumber(st.active_alarms));
        ctl_jadd(r, o, "uplink", cJSON_CreateString(ui->state));
        ctl_jadd(r, o, "uplink_error", cJSON_CreateString(ui->last_error));
        ctl_jadd(r, o, "outbox", cJSON_CreateNumber((double)depth));
        cJSON *d = ctl_jadd(r, o, "dropped", cJSON_CreateObject());
        ctl_jadd(r, d, "alarm", cJSON_CreateNumber((double)ob->dropped[PRIO_ALARM]));
        ctl_jadd(r, d, "status", cJSON_CreateNumber((double)ob->dropped[PRIO_STATUS]));
        ctl_jadd(r, d, "telemetry", cJSON_CreateNumber((double)ob->dropped[PRIO_TELEMETRY]));
        ctl_jadd(r, o, "store_bytes", cJSON_CreateNumber((double)st.store_bytes));
        ctl_jadd(r, o, "last_seq", cJSON_CreateNumber((double)st.last_seq));
        ctl_jadd(r, o, "time", cJSON_CreateString(sync));
        ctl_jadd(r, o, "rss_kb", cJSON_CreateNumber((double)st.mem.rss_kb));
        ctl_jadd(r, o, "rss_peak_kb", cJSON_CreateNumber((double)st.mem.peak_kb));
        ctl_jadd(r, o, "mem_total_kb", cJSON_CreateNumber((double)st.mem.total_kb));
        ctl_jadd(r, o, "mem_available_kb", cJSON_CreateNumber((double)st.mem.available_kb));
        return NULL;
    }
    ctl_age_text(st.uptime_s * 1000, ago, sizeof(ago));
    ctl_printf(r, "gateway      %s/%s, lifelined %s, boot %u, up %s\n", cfg->gateway.site, cfg->gateway.id,
               LIFELINE_VERSION, st.boot, ago);
    ctl_printf(r, "config       %s (%u buses, %u sensors, %u actions), hash %s\n", cfg->path, cfg->n_buses,
               cfg->n_sensors, cfg->n_actions, cfg->hash);
    ctl_printf(r, "alarms       %u active\n", st.active_alarms);
    bool up = strcmp(ui->state, "connected") == 0;
    ctl_printf(r, "uplink       %s to %s:%u%s%s\n", ui->state, cfg->mqtt.host, cfg->mqtt.port,
               ui->last_error[0] && !up ? ", last error: " : "", up ? "" : ui->last_error);
    ctl_printf(r,
               "outbox       %lld waiting (%lld alarm, %lld status, %lld telemetry); dropped %lld alarm, "
               "%lld status, %lld telemetry\n",
               (long long)depth, (long long)ob->rows[PRIO_ALARM], (long long)ob->rows[PRIO_STATUS],
               (long long)ob->rows[PRIO_TELEMETRY], (long long)ob->dropped[PRIO_ALARM],
               (long long)ob->dropped[PRIO_STATUS], (long long)ob->dropped[PRIO_TELEMETRY]);
    ctl_printf(r, "store        %s, %.1f MB in use (max_size %.0f MB), last seq %lld\n", cfg->store.path,
               (double)st.store_bytes / 1048576.0, (double)cfg->store.max_bytes / 1048576.0, (long long)st.last_seq);
    ctl_printf(r, "time         %s\n", sync);
    ctl_printf(r, "memory       lifelined %lld kB (peak %lld kB); the system %lld of %lld MB available\n",
               st.mem.rss_kb, st.mem.peak_kb, st.mem.available_kb / 1024, st.mem.total_kb / 1024);
    return NULL;
}

const char *ctl_show_sensors(struct ctl_req *r, int argi)
{
    const struct config *cfg = core_config(r->g);
    cJSON *list = r->json ? ctl_jadd(r, r->j, "sensors", cJSON_CreateArray()) : NULL;

    (void)argi;
    if (!r->json)
        ctl_printf(r, "%-20s %-16s %12s %-7s %-12s %-8s %s\n", "SENSOR", "CLASS", "VALUE", "UNIT", "QUALITY", "LEVEL",
                   "AGE");
    for (unsigned i = 0; i < cfg->n_sensors; i++) {
        const struct cfg_sensor *s = &cfg->sensors[i];
        struct core_sensor st;
        core_sensor(r->g, i, &st);
        bool has_value = st.read && (st.quality == Q_GOOD || st.quality == Q_OUT_OF_RANGE);
        int64_t age = st.read ? loop_wallclock_ms() - st.ts_ms : 0;
        if (r->json) {
            cJSON *e = ctl_jadd(r, list, NULL, cJSON_CreateObject());
            ctl_jadd(r, e, "sensor", cJSON_CreateString(s->name));
            ctl_jadd(r, e, "class", cJSON_CreateString(s->cls));
            ctl_jadd(r, e, "value", ctl_jnum(has_value, st.value));
            ctl_jadd(r, e, "unit", cJSON_CreateString(s->unit));
            ctl_jadd(r, e, "quality", st.read ? cJSON_CreateString(quality_name(st.quality)) : cJSON_CreateNull());
            ctl_jadd(r, e, "level", cJSON_CreateString(level_name(st.level)));
            ctl_jadd(r, e, "age_ms", ctl_jnum(st.read, (double)age));
            ctl_jadd(r, e, "maintenance", cJSON_CreateBool(st.maintenance));
            continue;
        }
        char value[32], ago[24], level[16];
        if (has_value)
            snprintf(value, sizeof(value), "%.6g", st.value);
        else
            snprintf(value, sizeof(value), "-");
        if (st.read)
            ctl_age_text(age, ago, sizeof(ago));
        else
            snprintf(ago, sizeof(ago), "never");
        snprintf(level, sizeof(level), "%s%s", st.level ? level_name(st.level) : "-",
                 st.level && st.unacked ? "!" : "");
        ctl_printf(r, "%-20s %-16s %12s %-7s %-12s %-8s %s%s\n", s->name, s->cls, value, s->unit,
                   st.read ? quality_name(st.quality) : "-", level, ago, st.maintenance ? " maintenance" : "");
    }
    return NULL;
}

static void sample_row(void *ctx, int64_t ts_ms, double value, bool has, enum quality q)
{
    struct ctl_req *r = ctx;
    char when[32];
    ctl_time_text(ts_ms, when, sizeof(when));
    if (has)
        ctl_printf(r, "  %s.%03d  %.6g %s\n", when, (int)(ts_ms % 1000), value, quality_name(q));
    else
        ctl_printf(r, "  %s.%03d  - %s\n", when, (int)(ts_ms % 1000), quality_name(q));
}

static void sensor_json(struct ctl_req *r, const struct config *cfg, const struct cfg_sensor *s,
                        const struct core_sensor *st)
{
    const struct rule_cfg *lv = &s->rules.level;
    cJSON *o = r->j;

    ctl_jadd(r, o, "sensor", cJSON_CreateString(s->name));
    ctl_jadd(r, o, "class", cJSON_CreateString(s->cls));
    ctl_jadd(r, o, "lifeline", cJSON_CreateString(lifeline_names[s->lifeline]));
    ctl_jadd(r, o, "bus", cJSON_CreateString(s->bus_name));
    ctl_jadd(r, o, "unit_id", cJSON_CreateNumber(s->io.unit_id));
    ctl_jadd(r, o, "register", cJSON_CreateString(reg_kind_names[s->io.reg.kind]));
    ctl_jadd(r, o, "address", cJSON_CreateNumber(s->io.reg.addr));
    ctl_jadd(r, o, "type", cJSON_CreateString(reg_type_names[s->io.reg.type]));
    ctl_jadd(r, o, "poll_ms", cJSON_CreateNumber((double)s->io.poll_ms));
    ctl_jadd(r, o, "direction", cJSON_CreateString(direction_names[lv->dir]));
    cJSON *lim = ctl_jadd(r, o, "limits", cJSON_CreateObject());
    for (int l = LEVEL_BLUE; l <= LEVEL_RED; l++)
        ctl_jadd(r, lim, level_name((enum level)l), ctl_jnum(lv->has[l], lv->limit[l]));
    ctl_jadd(r, o, "value", ctl_jnum(st->read && st->quality == Q_GOOD, st->value));
    ctl_jadd(r, o, "quality", st->read ? cJSON_CreateString(quality_name(st->quality)) : cJSON_CreateNull());
    if (cfg->buses[s->io.bus].p.type == BUS_GPIO) {
        ctl_jadd(r, o, "input", cJSON_CreateString(s->io.input));
        ctl_jadd(r, o, "mode", cJSON_CreateString(s->io.mode == INPUT_COUNTER ? "counter" : "level"));
    }
    if (s->io.mode == INPUT_COUNTER) {
        ctl_jadd(r, o, "pulses", cJSON_CreateNumber((double)st->pulses));
        ctl_jadd(r, o, "total", cJSON_CreateNumber((double)st->pulses * s->io.per_pulse));
    }
    cJSON *al = ctl_jadd(r, o, "alarms", cJSON_CreateArray());
    for (unsigned k = 0; k < st->n_alarms; k++) {
        cJSON *a = ctl_jadd(r, al, NULL, cJSON_CreateObject());
        ctl_jadd(r, a, "alarm_id", cJSON_CreateNumber((double)st->alarms[k].id));
        ctl_jadd(r, a, "condition", cJSON_CreateString(condition_name(st->alarms[k].cond)));
        ctl_jadd(r, a, "level", cJSON_CreateString(level_name(st->alarms[k].level)));
        ctl_jadd(r, a, "acked", cJSON_CreateBool(st->alarms[k].acked));
    }
}

/* Where the sensor is read: a bus, its register or line, how often. */
static void sensor_source(struct ctl_req *r, const struct config *cfg, const struct cfg_sensor *s)
{
    static const char *const per[] = {"s", "min", "h"};
    enum bus_type type = cfg->buses[s->io.bus].p.type;

    if (type == BUS_SIM)
        ctl_printf(r, "source       bus %s (simulated), every %lldms\n", s->bus_name, (long long)s->io.poll_ms);
    else if (type == BUS_GPIO && s->io.mode == INPUT_COUNTER)
        ctl_printf(r, "source       bus %s, input %s%s, counter: %g a pulse, rate per %s over %llds, debounce %lldms\n",
                   s->bus_name, s->io.input, s->io.active_low ? " (active low)" : "", s->io.per_pulse,
                   per[s->io.rate_per], (long long)(s->io.count_window_ms / 1000), (long long)s->io.debounce_ms);
    else if (type == BUS_GPIO)
        ctl_printf(r, "source       bus %s, input %s%s, debounce %lldms\n", s->bus_name, s->io.input,
                   s->io.active_low ? " (active low)" : "", (long long)s->io.debounce_ms);
    else
        ctl_printf(r, "source       bus %s, unit %u, %s %u, %s %s, every %lldms\n", s->bus_name, s->io.unit_id,
                   reg_kind_names[s->io.reg.kind], s->io.reg.addr, reg_type_names[s->io.reg.type],
                   word_order_names[s->io.reg.order], (long long)s->io.poll_ms);
}

const char *ctl_show_sensor(struct ctl_req *r, int argi)
{
    const struct config *cfg = core_config(r->g);
    int i = core_sensor_index(r->g, r->argv[argi]);
    struct core_sensor st;

    if (i < 0)
        return ctl_no_such(r, "sensor", r->argv[argi], "show sensors");
    const struct cfg_sensor *s = &cfg->sensors[i];
    const struct rule_cfg *lv = &s->rules.level;
    core_sensor(r->g, (unsigned)i, &st);
    if (r->json) {
        sensor_json(r, cfg, s, &st);
        return NULL;
    }
    ctl_printf(r, "sensor       %s (class %s, lifeline %s)\n", s->name, s->cls, lifeline_names[s->lifeline]);
    sensor_source(r, cfg, s);
    ctl_printf(r, "limits       %s:", direction_names[lv->dir]);
    for (int l = LEVEL_BLUE; l <= LEVEL_RED; l++)
        if (lv->has[l])
            ctl_printf(r, " %s %g", level_name((enum level)l), lv->limit[l]);
    ctl_printf(r, " %s; hysteresis %g, on_delay %llds, off_delay %llds\n", s->unit, lv->hysteresis,
               (long long)(lv->on_delay_ms / 1000), (long long)(lv->off_delay_ms / 1000));
    if (s->rules.has_rate)
        ctl_printf(r, "rate         %s by %g within %llds: %s\n", s->rate_falling ? "falling" : "rising", s->rate,
                   (long long)(s->rate_window_ms / 1000), level_name(s->rate_level));
    ctl_printf(r, "fault        after %d bad samples or %llds silent: %s\n", s->fault_after,
               (long long)(s->rules.stale_ms / 1000), level_name(s->fault_level));
    if (st.read)
        ctl_printf(r, "now          %.6g %s, %s\n", st.value, s->unit, quality_name(st.quality));
    else
        ctl_printf(r, "now          no reading yet\n");
    if (s->io.mode == INPUT_COUNTER)
        ctl_printf(r, "total        %.6g (%llu pulses)\n", (double)st.pulses * s->io.per_pulse,
                   (unsigned long long)st.pulses);
    for (unsigned k = 0; k < st.n_alarms; k++)
        ctl_printf(r, "alarm        %lld: %s %s%s\n", (long long)st.alarms[k].id, condition_name(st.alarms[k].cond),
                   level_name(st.alarms[k].level), st.alarms[k].acked ? ", acknowledged" : ", NOT acknowledged");
    if (st.delay_running)
        ctl_printf(r, "delay        running (a level change waits for its delay)\n");
    if (st.maintenance)
        ctl_printf(r, "maintenance  %llds left\n", (long long)(st.maint_left_ms / 1000));
    ctl_printf(r, "last samples\n");
    /* the newest ten: a window back from now */
    int64_t now = loop_wallclock_ms();
    core_history(r->g, (unsigned)i, now - 10 * (s->io.poll_ms > 1000 ? s->io.poll_ms : 1000) - 1000, now + 1000, 10,
                 sample_row, r);
    return NULL;
}

const char *ctl_show_alarms(struct ctl_req *r, int argi)
{
    const struct config *cfg = core_config(r->g);
    cJSON *list = r->json ? ctl_jadd(r, r->j, "alarms", cJSON_CreateArray()) : NULL;
    unsigned n = 0;

    (void)argi;
    if (!r->json)
        ctl_printf(r, "%-6s %-20s %-10s %-7s %s\n", "ALARM", "SENSOR", "CONDITION", "LEVEL", "ACKNOWLEDGED");
    for (unsigned i = 0; i < cfg->n_sensors; i++) {
        struct core_sensor st;
        core_sensor(r->g, i, &st);
        for (unsigned k = 0; k < st.n_alarms; k++) {
            const struct core_alarm *a = &st.alarms[k];
            n++;
            if (r->json) {
                cJSON *e = ctl_jadd(r, list, NULL, cJSON_CreateObject());
                ctl_jadd(r, e, "alarm_id", cJSON_CreateNumber((double)a->id));
                ctl_jadd(r, e, "sensor", cJSON_CreateString(cfg->sensors[i].name));
                ctl_jadd(r, e, "condition", cJSON_CreateString(condition_name(a->cond)));
                ctl_jadd(r, e, "level", cJSON_CreateString(level_name(a->level)));
                ctl_jadd(r, e, "acked", cJSON_CreateBool(a->acked));
                ctl_jadd(r, e, "maintenance", cJSON_CreateBool(st.maintenance));
            } else {
                ctl_printf(r, "%-6lld %-20s %-10s %-7s %s%s\n", (long long)a->id, cfg->sensors[i].name,
                           condition_name(a->cond), level_name(a->level), a->acked ? "yes" : "no",
                           st.maintenance ? " (maintenance)" : "");
            }
        }
    }
    if (!r->json && !n)
        ctl_printf(r, "(no active alarm)\n");
    return NULL;
}

static void hist_row(void *ctx, const struct alarm_hist *h)
{
    struct ctl_req *r = ctx;
    char raised[32], cleared[32];

    if (r->json) {
        cJSON *a = ctl_jadd(r, cJSON_GetObjectItem(r->j, "alarms"), NULL, cJSON_CreateObject());
        ctl_jadd(r, a, "alarm_id", cJSON_CreateNumber((double)h->id));
        ctl_jadd(r, a, "sensor", cJSON_CreateString(h->sensor));
        ctl_jadd(r, a, "condition", cJSON_CreateString(h->condition));
        ctl_jadd(r, a, "state", cJSON_CreateString(h->state));
        ctl_jadd(r, a, "active", cJSON_CreateBool(h->active));
        ctl_jadd(r, a, "raised", cJSON_CreateNumber((double)h->raised_ms));
        ctl_jadd(r, a, "cleared", ctl_jnum(h->cleared_ms != 0, (double)h->cleared_ms));
        ctl_jadd(r, a, "acked_by", h->acked_by[0] ? cJSON_CreateString(h->acked_by) : cJSON_CreateNull());
        return;
    }
    ctl_time_text(h->raised_ms, raised, sizeof(raised));
    if (h->cleared_ms)
        ctl_time_text(h->cleared_ms, cleared, sizeof(cleared));
    else
        snprintf(cleared, sizeof(cleared), "%s", h->active ? "active" : "-");
    ctl_printf(r, "%-6lld %-20s %-10s %-12s %s  %-19s %s\n", (long long)h->id, h->sensor, h->condition, h->state,
               raised, cleared, h->acked_by);
}

const char *ctl_show_alarms_history(struct ctl_req *r, int argi)
{
    long long n = 50;

    if (argi < r->argc && num_parse_ll(r->argv[argi], 1, 1000, &n))
        return "how many: 1 to 1000";
    if (r->json)
        ctl_jadd(r, r->j, "alarms", cJSON_CreateArray());
    else
        ctl_printf(r, "%-6s %-20s %-10s %-12s %-19s  %-19s %s\n", "ALARM", "SENSOR", "CONDITION", "LAST EVENT",
                   "RAISED", "CLEARED", "ACKNOWLEDGED BY");
    if (core_alarm_history(r->g, (int)n, hist_row, r) < 0)
        return "the alarms could not be read";
    return NULL;
}

const char *ctl_show_outputs(struct ctl_req *r, int argi)
{
    const struct config *cfg = core_config(r->g);
    cJSON *list = r->json ? ctl_jadd(r, r->j, "outputs", cJSON_CreateArray()) : NULL;

    (void)argi;
    if (!r->json)
        ctl_printf(r, "%-16s %-32s %-8s %-6s %s\n", "OUTPUT", "WRITES TO", "MODE", "VALUE", "STATE");
    for (unsigned i = 0; i < cfg->n_actions; i++) {
        const struct cfg_action *a = &cfg->actions[i];
        struct action_info in;
        char to[128], value[16];
        if (core_output_info(r->g, i, &in) < 0)
            return "the actions are being restarted";
        if (a->out.gpio)
            snprintf(to, sizeof(to), "gpio:%s", a->out.gpio_line);
        else
            snprintf(to, sizeof(to), "modbus:%s:%u:%s:%u", a->bus_name, a->unit_id,
                     a->kind == REG_COIL ? "coil" : "holding", a->addr);
        const char *mode = in.overridden >= 0 ? "manual" : "auto";
        if (r->json) {
            cJSON *e = ctl_jadd(r, list, NULL, cJSON_CreateObject());
            ctl_jadd(r, e, "output", cJSON_CreateString(a->name));
            ctl_jadd(r, e, "writes_to", cJSON_CreateString(to));
            ctl_jadd(r, e, "mode", cJSON_CreateString(mode));
            ctl_jadd(r, e, "value", ctl_jnum(in.value >= 0, in.value));
            ctl_jadd(r, e, "active", cJSON_CreateBool(in.active));
            ctl_jadd(r, e, "latched", cJSON_CreateBool(in.latched));
            ctl_jadd(r, e, "error",
                     in.done && in.err ? cJSON_CreateString(sample_err_text(in.err)) : cJSON_CreateNull());
            continue;
        }
        if (in.value >= 0)
            snprintf(value, sizeof(value), "%d", in.value);
        else
            snprintf(value, sizeof(value), "-");
        ctl_printf(r, "%-16s %-32s %-8s %-6s %s%s%s%s\n", a->name, to, mode, value,
                   in.active ? "level reached" : "idle", in.latched ? ", latched" : "", in.pulsing ? ", pulsing" : "",
                   in.done && in.err ? ", LAST WRITE FAILED" : (!in.done && in.value >= 0 ? ", writing" : ""));
    }
    if (!r->json && !cfg->n_actions)
        ctl_printf(r, "(no [action] in the config)\n");
    return NULL;
}

/* The running config file, secrets masked. */
const char *ctl_show_config(struct ctl_req *r, int argi)
{
    char *text = NULL, why[256];

    (void)argi;
    if (conffile_read(core_config(r->g)->path, &text, why, sizeof(why)) < 0) {
        snprintf(r->err, sizeof(r->err), "%s", why);
        return r->err;
    }
    cJSON *lines = r->json ? ctl_jadd(r, r->j, "lines", cJSON_CreateArray()) : NULL;
    for (char *l = text, *nl; l && *l; l = nl ? nl + 1 : NULL) {
        nl = strchr(l, '\n');
        if (nl)
            *nl = '\0';
        char key[32] = "";
        sscanf(l, " %31[a-z_] =", key);
        bool secret = !strcmp(key, "password") || !strcmp(key, "pin");
        char masked[64];
        snprintf(masked, sizeof(masked), "%s = ********", key);
        if (r->json)
            ctl_jadd(r, lines, NULL, cJSON_CreateString(secret ? masked : l));
        else
            ctl_printf(r, "%s\n", secret ? masked : l);
    }
    free(text);
    return NULL;
}

static void log_line(void *ctx, const char *line)
{
    struct ctl_req *r = ctx;
    if (r->json)
        ctl_jadd(r, cJSON_GetObjectItem(r->j, "lines"), NULL, cJSON_CreateString(line));
    else
        ctl_printf(r, "%s\n", line);
}

const char *ctl_show_log(struct ctl_req *r, int argi)
{
    long long n = 30;

    if (argi < r->argc && num_parse_ll(r->argv[argi], 1, 200, &n))
        return "how many lines: 1 to 200";
    if (r->json)
        ctl_jadd(r, r->j, "lines", cJSON_CreateArray());
    log_recent((unsigned)n, log_line, r);
    return NULL;
}

static void put_name(struct ctl_req *r, cJSON *list, const char *name)
{
    if (r->json)
        ctl_jadd(r, list, NULL, cJSON_CreateString(name));
    else
        ctl_printf(r, "%s\n", name);
}

/* Names, one a line, for the completion of lifelinectl. */
const char *ctl_list_names(struct ctl_req *r, int argi)
{
    const struct config *cfg = core_config(r->g);
    const char *what = r->argv[argi];
    cJSON *list = r->json ? ctl_jadd(r, r->j, "names", cJSON_CreateArray()) : NULL;
    char id[24];

    if (strcmp(what, "sensors") == 0) {
        for (unsigned i = 0; i < cfg->n_sensors; i++)
            put_name(r, list, cfg->sensors[i].name);
    } else if (strcmp(what, "buses") == 0) {
        for (unsigned i = 0; i < cfg->n_buses; i++)
            put_name(r, list, cfg->buses[i].p.name);
    } else if (strcmp(what, "outputs") == 0) {
        for (unsigned i = 0; i < cfg->n_actions; i++)
            put_name(r, list, cfg->actions[i].name);
    } else if (strcmp(what, "alarms") == 0) {
        for (unsigned i = 0; i < cfg->n_sensors; i++) {
            struct core_sensor st;
            core_sensor(r->g, i, &st);
            for (unsigned k = 0; k < st.n_alarms; k++) {
                snprintf(id, sizeof(id), "%lld", (long long)st.alarms[k].id);
                put_name(r, list, id);
            }
        }
    } else if (strcmp(what, "keys") == 0) {
        for (const char *const *k = core_settable_keys(); *k; k++)
            put_name(r, list, *k);
    } else {
        return "list what: sensors, buses, outputs, alarms or keys";
    }
    return NULL;
}

const char *ctl_mqtt_status(struct ctl_req *r, int argi)
{
    const struct config *cfg = core_config(r->g);
    struct core_status st;
    char since[32] = "-";

    (void)argi;
    core_status(r->g, &st);
    if (!st.uplink_up)
        return "the uplink is being restarted";
    const struct uplink_info *ui = &st.uplink;
    if (ui->since_ms)
        ctl_time_text(ui->since_ms, since, sizeof(since));
    if (r->json) {
        ctl_jadd(r, r->j, "state", cJSON_CreateString(ui->state));
        ctl_jadd(r, r->j, "broker", cJSON_CreateString(cfg->mqtt.host));
        ctl_jadd(r, r->j, "port", cJSON_CreateNumber(cfg->mqtt.port));
        ctl_jadd(r, r->j, "tls", cJSON_CreateBool(cfg->mqtt.tls_ca[0] != 0));
        ctl_jadd(r, r->j, "inflight", cJSON_CreateNumber(ui->inflight));
        ctl_jadd(r, r->j, "last_error", cJSON_CreateString(ui->last_error));
        return NULL;
    }
    ctl_printf(r, "state        %s since %s\n", ui->state, since);
    ctl_printf(r, "broker       %s:%u (%s, MQTT %s)\n", cfg->mqtt.host, cfg->mqtt.port,
               cfg->mqtt.tls_ca[0] ? "TLS" : "plain TCP", cfg->mqtt.protocol == MQTT_5 ? "5" : "3.1.1");
    ctl_printf(r, "in flight    %d of %d\n", ui->inflight, cfg->mqtt.max_inflight);
    ctl_printf(r, "last error   %s\n", ui->last_error[0] ? ui->last_error : "-");
    return NULL;
}
