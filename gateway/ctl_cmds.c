/* ctl_cmds: the console's commands (docs/console.md), text for a person at
 * 115200 baud, or JSON with --json. Read-only unless marked privileged. */
#include <cjson/cJSON.h>
#include <crypt.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conffile.h"
#include <modbus.h>
#include "ctl.h"
#include "health.h"
#include "log.h"
#include "payload.h"

struct ctl_cmd {
    const char *words;   /* "show sensors" */
    const char *args;    /* "NAME", for help */
    const char *help;
    const char *(*fn)(struct ctl_req *r, int argi);
    int min_args, max_args; /* after the words */
    bool privileged;
};

/* cJSON building: a failed add marks the request out of memory. */
static cJSON *jadd(struct ctl_req *r, cJSON *to, const char *key, cJSON *item)
{
    if (!to || !item || !(cJSON_IsArray(to) ? cJSON_AddItemToArray(to, item) : cJSON_AddItemToObject(to, key, item))) {
        cJSON_Delete(item);
        r->oom = true;
        return NULL;
    }
    return item;
}

static cJSON *jnum(bool has, double v)
{
    return has ? cJSON_CreateNumber(v) : cJSON_CreateNull();
}

static int bus_index(const struct gateway *g, const char *name);
static void record(struct ctl_req *r, const char *error);

static const char *no_such(struct ctl_req *r, const char *what, const char *name, const char *list)
{
    snprintf(r->err, sizeof(r->err), "no %s '%s' (%s lists them)", what, name, list);
    return r->err;
}

/* "12s", "3m", "2h", "4d" */
static void age_text(int64_t ms, char *buf, size_t len)
{
    int64_t s = ms / 1000;
    if (s < 120)
        snprintf(buf, len, "%llds", (long long)s);
    else if (s < 7200)
        snprintf(buf, len, "%lldm", (long long)(s / 60));
    else if (s < 172800)
        snprintf(buf, len, "%lldh", (long long)(s / 3600));
    else
        snprintf(buf, len, "%lldd", (long long)(s / 86400));
}

static void time_text(int64_t wall_ms, char *buf, size_t len)
{
    time_t t = (time_t)(wall_ms / 1000);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
}

/* The most severe active level of a sensor, and whether an alarm of it is
 * unacknowledged. */
static enum level sensor_level(const struct sensor_rt *rt, bool *unacked)
{
    enum level lv = LEVEL_NONE;
    *unacked = false;
    for (int c = 0; c < COND_COUNT; c++) {
        if (!rt->alarm_id[c])
            continue;
        if (rt->st.cond[c].level > lv)
            lv = rt->st.cond[c].level;
        *unacked |= !rt->acked[c];
    }
    return lv;
}

static unsigned active_alarms(const struct gateway *g)
{
    unsigned n = 0;
    for (unsigned i = 0; i < g->cfg.n_sensors; i++)
        for (int c = 0; c < COND_COUNT; c++)
            n += g->rt[i].alarm_id[c] != 0;
    return n;
}

/* ---- show ---- */

static const char *show_status(struct ctl_req *r, int argi)
{
    struct gateway *g = r->g;
    struct outbox_stats ob;
    struct uplink_info ui = {.state = "restarting"};
    int64_t up = (g->loop.now_ms - g->started_ms) / 1000;
    int64_t depth, size = store_used_bytes(g->store);
    char ago[24];
    struct health_mem mem;

    (void)argi;
    health_memory(&mem);
    store_outbox_stats(g->store, &ob);
    depth = ob.rows[PRIO_ALARM] + ob.rows[PRIO_STATUS] + ob.rows[PRIO_TELEMETRY];
    if (g->uplink)
        uplink_info(g->uplink, &ui);
    /* the clock: a gateway without NTP stamps alarms wrongly */
    FILE *f = fopen("/run/systemd/timesync/synchronized", "r");
    const char *sync = f ? "synchronized (systemd-timesyncd)" : "unknown (no timesyncd state)";
    if (f)
        fclose(f);
    if (r->json) {
        cJSON *o = r->j;
        jadd(r, o, "gateway", cJSON_CreateString(g->cfg.gateway.id));
        jadd(r, o, "site", cJSON_CreateString(g->cfg.gateway.site));
        jadd(r, o, "version", cJSON_CreateString(LIFELINE_VERSION));
        jadd(r, o, "uptime_s", cJSON_CreateNumber((double)up));
        jadd(r, o, "boot", cJSON_CreateNumber(store_boot_count(g->store)));
        jadd(r, o, "config", cJSON_CreateString(g->cfg.hash));
        jadd(r, o, "sensors", cJSON_CreateNumber(g->cfg.n_sensors));
        jadd(r, o, "active_alarms", cJSON_CreateNumber(active_alarms(g)));
        jadd(r, o, "uplink", cJSON_CreateString(ui.state));
        jadd(r, o, "uplink_error", cJSON_CreateString(ui.last_error));
        jadd(r, o, "outbox", cJSON_CreateNumber((double)depth));
        cJSON *d = jadd(r, o, "dropped", cJSON_CreateObject());
        jadd(r, d, "alarm", cJSON_CreateNumber((double)ob.dropped[PRIO_ALARM]));
        jadd(r, d, "status", cJSON_CreateNumber((double)ob.dropped[PRIO_STATUS]));
        jadd(r, d, "telemetry", cJSON_CreateNumber((double)ob.dropped[PRIO_TELEMETRY]));
        jadd(r, o, "store_bytes", cJSON_CreateNumber((double)size));
        jadd(r, o, "last_seq", cJSON_CreateNumber((double)store_last_seq(g->store)));
        jadd(r, o, "time", cJSON_CreateString(sync));
        jadd(r, o, "rss_kb", cJSON_CreateNumber((double)mem.rss_kb));
        jadd(r, o, "rss_peak_kb", cJSON_CreateNumber((double)mem.peak_kb));
        jadd(r, o, "mem_total_kb", cJSON_CreateNumber((double)mem.total_kb));
        jadd(r, o, "mem_available_kb", cJSON_CreateNumber((double)mem.available_kb));
        return NULL;
    }
    age_text(up * 1000, ago, sizeof(ago));
    ctl_printf(r, "gateway      %s/%s, lifelined %s, boot %u, up %s\n", g->cfg.gateway.site, g->cfg.gateway.id,
               LIFELINE_VERSION, store_boot_count(g->store), ago);
    ctl_printf(r, "config       %s (%u buses, %u sensors, %u actions), hash %s\n", g->cfg.path, g->cfg.n_buses,
               g->cfg.n_sensors, g->cfg.n_actions, g->cfg.hash);
    ctl_printf(r, "alarms       %u active\n", active_alarms(g));
    ctl_printf(r, "uplink       %s to %s:%u%s%s\n", ui.state, g->cfg.mqtt.host, g->cfg.mqtt.port,
               ui.last_error[0] && strcmp(ui.state, "connected") ? ", last error: " : "",
               strcmp(ui.state, "connected") ? ui.last_error : "");
    ctl_printf(r, "outbox       %lld waiting (%lld alarm, %lld status, %lld telemetry); dropped %lld alarm, "
               "%lld status, %lld telemetry\n", (long long)depth, (long long)ob.rows[PRIO_ALARM],
               (long long)ob.rows[PRIO_STATUS], (long long)ob.rows[PRIO_TELEMETRY],
               (long long)ob.dropped[PRIO_ALARM], (long long)ob.dropped[PRIO_STATUS],
               (long long)ob.dropped[PRIO_TELEMETRY]);
    ctl_printf(r, "store        %s, %.1f MB in use (max_size %.0f MB), last seq %lld\n", g->cfg.store.path,
               size / 1048576.0, g->cfg.store.max_bytes / 1048576.0, (long long)store_last_seq(g->store));
    ctl_printf(r, "time         %s\n", sync);
    ctl_printf(r, "memory       lifelined %lld kB (peak %lld kB); the system %lld of %lld MB available\n",
               mem.rss_kb, mem.peak_kb, mem.available_kb / 1024, mem.total_kb / 1024);
    return NULL;
}

static const char *show_sensors(struct ctl_req *r, int argi)
{
    struct gateway *g = r->g;
    cJSON *list = r->json ? jadd(r, r->j, "sensors", cJSON_CreateArray()) : NULL;

    (void)argi;
    if (!r->json)
        ctl_printf(r, "%-20s %-16s %12s %-7s %-12s %-8s %s\n", "SENSOR", "CLASS", "VALUE", "UNIT", "QUALITY",
                   "LEVEL", "AGE");
    for (unsigned i = 0; i < g->cfg.n_sensors; i++) {
        const struct cfg_sensor *s = &g->cfg.sensors[i];
        const struct sensor_rt *rt = &g->rt[i];
        bool read = rt->ts_ms != 0, unacked;
        bool has_value = read && (rt->quality == Q_GOOD || rt->quality == Q_OUT_OF_RANGE);
        enum level lv = sensor_level(rt, &unacked);
        int64_t age = read ? loop_wallclock_ms() - rt->ts_ms : 0;
        if (r->json) {
            cJSON *e = jadd(r, list, NULL, cJSON_CreateObject());
            jadd(r, e, "sensor", cJSON_CreateString(s->name));
            jadd(r, e, "class", cJSON_CreateString(s->cls));
            jadd(r, e, "value", jnum(has_value, rt->value));
            jadd(r, e, "unit", cJSON_CreateString(s->unit));
            jadd(r, e, "quality", read ? cJSON_CreateString(quality_name(rt->quality)) : cJSON_CreateNull());
            jadd(r, e, "level", cJSON_CreateString(level_name(lv)));
            jadd(r, e, "age_ms", jnum(read, (double)age));
            jadd(r, e, "maintenance", cJSON_CreateBool(rt->maint_until != 0));
            continue;
        }
        char value[32], ago[24], level[16];
        if (has_value)
            snprintf(value, sizeof(value), "%.6g", rt->value);
        else
            snprintf(value, sizeof(value), "-");
        if (read)
            age_text(age, ago, sizeof(ago));
        else
            snprintf(ago, sizeof(ago), "never");
        snprintf(level, sizeof(level), "%s%s", lv ? level_name(lv) : "-", lv && unacked ? "!" : "");
        ctl_printf(r, "%-20s %-16s %12s %-7s %-12s %-8s %s%s\n", s->name, s->cls, value, s->unit,
                   read ? quality_name(rt->quality) : "-", level, ago, rt->maint_until ? " maintenance" : "");
    }
    return NULL;
}

static void sample_row(void *ctx, int64_t ts_ms, double value, bool has, enum quality q)
{
    struct ctl_req *r = ctx;
    char when[32];
    time_text(ts_ms, when, sizeof(when));
    if (has)
        ctl_printf(r, "  %s.%03d  %.6g %s\n", when, (int)(ts_ms % 1000), value, quality_name(q));
    else
        ctl_printf(r, "  %s.%03d  - %s\n", when, (int)(ts_ms % 1000), quality_name(q));
}

static const char *show_sensor(struct ctl_req *r, int argi)
{
    struct gateway *g = r->g;
    int i = core_sensor_index(g, r->argv[argi]);

    if (i < 0)
        return no_such(r, "sensor", r->argv[argi], "show sensors");
    const struct cfg_sensor *s = &g->cfg.sensors[i];
    const struct sensor_rt *rt = &g->rt[i];
    const struct rule_cfg *lv = &s->rules.level;
    if (r->json) {
        cJSON *o = r->j;
        jadd(r, o, "sensor", cJSON_CreateString(s->name));
        jadd(r, o, "class", cJSON_CreateString(s->cls));
        jadd(r, o, "lifeline", cJSON_CreateString(lifeline_names[s->lifeline]));
        jadd(r, o, "bus", cJSON_CreateString(s->bus_name));
        jadd(r, o, "unit_id", cJSON_CreateNumber(s->io.unit_id));
        jadd(r, o, "register", cJSON_CreateString(reg_kind_names[s->io.reg.kind]));
        jadd(r, o, "address", cJSON_CreateNumber(s->io.reg.addr));
        jadd(r, o, "type", cJSON_CreateString(reg_type_names[s->io.reg.type]));
        jadd(r, o, "poll_ms", cJSON_CreateNumber((double)s->io.poll_ms));
        jadd(r, o, "direction", cJSON_CreateString(direction_names[lv->dir]));
        cJSON *lim = jadd(r, o, "limits", cJSON_CreateObject());
        for (int l = LEVEL_BLUE; l <= LEVEL_RED; l++)
            jadd(r, lim, level_name((enum level)l), jnum(lv->has[l], lv->limit[l]));
        jadd(r, o, "value", jnum(rt->ts_ms && rt->quality == Q_GOOD, rt->value));
        jadd(r, o, "quality", rt->ts_ms ? cJSON_CreateString(quality_name(rt->quality)) : cJSON_CreateNull());
        if (g->cfg.buses[s->io.bus].p.type == BUS_GPIO) {
            jadd(r, o, "input", cJSON_CreateString(s->io.input));
            jadd(r, o, "mode", cJSON_CreateString(s->io.mode == INPUT_COUNTER ? "counter" : "level"));
        }
        if (s->io.mode == INPUT_COUNTER) {
            jadd(r, o, "pulses", cJSON_CreateNumber((double)rt->pulses));
            jadd(r, o, "total", cJSON_CreateNumber((double)rt->pulses * s->io.per_pulse));
        }
        cJSON *al = jadd(r, o, "alarms", cJSON_CreateArray());
        for (int c = 0; c < COND_COUNT; c++) {
            if (!rt->alarm_id[c])
                continue;
            cJSON *a = jadd(r, al, NULL, cJSON_CreateObject());
            jadd(r, a, "alarm_id", cJSON_CreateNumber((double)rt->alarm_id[c]));
            jadd(r, a, "condition", cJSON_CreateString(condition_name((enum condition)c)));
            jadd(r, a, "level", cJSON_CreateString(level_name(rt->st.cond[c].level)));
            jadd(r, a, "acked", cJSON_CreateBool(rt->acked[c]));
        }
        return NULL;
    }
    ctl_printf(r, "sensor       %s (class %s, lifeline %s)\n", s->name, s->cls, lifeline_names[s->lifeline]);
    static const char *const per[] = {"s", "min", "h"};
    if (g->cfg.buses[s->io.bus].p.type == BUS_SIM)
        ctl_printf(r, "source       bus %s (simulated), every %lldms\n", s->bus_name, (long long)s->io.poll_ms);
    else if (g->cfg.buses[s->io.bus].p.type == BUS_GPIO && s->io.mode == INPUT_COUNTER)
        ctl_printf(r, "source       bus %s, input %s%s, counter: %g a pulse, rate per %s over %llds, debounce %lldms\n",
                   s->bus_name, s->io.input, s->io.active_low ? " (active low)" : "", s->io.per_pulse, per[s->io.rate_per],
                   (long long)(s->io.count_window_ms / 1000), (long long)s->io.debounce_ms);
    else if (g->cfg.buses[s->io.bus].p.type == BUS_GPIO)
        ctl_printf(r, "source       bus %s, input %s%s, debounce %lldms\n", s->bus_name, s->io.input,
                   s->io.active_low ? " (active low)" : "", (long long)s->io.debounce_ms);
    else
        ctl_printf(r, "source       bus %s, unit %u, %s %u, %s %s, every %lldms\n", s->bus_name, s->io.unit_id,
                   reg_kind_names[s->io.reg.kind], s->io.reg.addr, reg_type_names[s->io.reg.type],
                   word_order_names[s->io.reg.order], (long long)s->io.poll_ms);
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
    if (rt->ts_ms)
        ctl_printf(r, "now          %.6g %s, %s\n", rt->value, s->unit, quality_name(rt->quality));
    else
        ctl_printf(r, "now          no reading yet\n");
    if (s->io.mode == INPUT_COUNTER)
        ctl_printf(r, "total        %.6g (%llu pulses)\n", (double)rt->pulses * s->io.per_pulse,
                   (unsigned long long)rt->pulses);
    for (int c = 0; c < COND_COUNT; c++)
        if (rt->alarm_id[c])
            ctl_printf(r, "alarm        %lld: %s %s%s\n", (long long)rt->alarm_id[c],
                       condition_name((enum condition)c), level_name(rt->st.cond[c].level),
                       rt->acked[c] ? ", acknowledged" : ", NOT acknowledged");
    if (rules_timer_running(&s->rules, &rt->st))
        ctl_printf(r, "delay        running (a level change waits for its delay)\n");
    if (rt->maint_until)
        ctl_printf(r, "maintenance  %llds left\n", (long long)((rt->maint_until - g->loop.now_ms) / 1000));
    ctl_printf(r, "last samples\n");
    /* the newest ten: a window back from now */
    int64_t now = loop_wallclock_ms();
    store_history(g->store, rt->store_id, now - 10 * (s->io.poll_ms > 1000 ? s->io.poll_ms : 1000) - 1000,
                  now + 1000, 10, sample_row, r);
    return NULL;
}

static const char *show_alarms(struct ctl_req *r, int argi)
{
    struct gateway *g = r->g;
    cJSON *list = r->json ? jadd(r, r->j, "alarms", cJSON_CreateArray()) : NULL;
    unsigned n = 0;

    (void)argi;
    if (!r->json)
        ctl_printf(r, "%-6s %-20s %-10s %-7s %s\n", "ALARM", "SENSOR", "CONDITION", "LEVEL", "ACKNOWLEDGED");
    for (unsigned i = 0; i < g->cfg.n_sensors; i++) {
        for (int c = 0; c < COND_COUNT; c++) {
            const struct sensor_rt *rt = &g->rt[i];
            if (!rt->alarm_id[c])
                continue;
            n++;
            if (r->json) {
                cJSON *a = jadd(r, list, NULL, cJSON_CreateObject());
                jadd(r, a, "alarm_id", cJSON_CreateNumber((double)rt->alarm_id[c]));
                jadd(r, a, "sensor", cJSON_CreateString(g->cfg.sensors[i].name));
                jadd(r, a, "condition", cJSON_CreateString(condition_name((enum condition)c)));
                jadd(r, a, "level", cJSON_CreateString(level_name(rt->st.cond[c].level)));
                jadd(r, a, "acked", cJSON_CreateBool(rt->acked[c]));
                jadd(r, a, "maintenance", cJSON_CreateBool(rt->maint_until != 0));
            } else {
                ctl_printf(r, "%-6lld %-20s %-10s %-7s %s%s\n", (long long)rt->alarm_id[c], g->cfg.sensors[i].name,
                           condition_name((enum condition)c), level_name(rt->st.cond[c].level),
                           rt->acked[c] ? "yes" : "no", rt->maint_until ? " (maintenance)" : "");
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
        cJSON *a = jadd(r, cJSON_GetObjectItem(r->j, "alarms"), NULL, cJSON_CreateObject());
        jadd(r, a, "alarm_id", cJSON_CreateNumber((double)h->id));
        jadd(r, a, "sensor", cJSON_CreateString(h->sensor));
        jadd(r, a, "condition", cJSON_CreateString(h->condition));
        jadd(r, a, "state", cJSON_CreateString(h->state));
        jadd(r, a, "active", cJSON_CreateBool(h->active));
        jadd(r, a, "raised", cJSON_CreateNumber((double)h->raised_ms));
        jadd(r, a, "cleared", jnum(h->cleared_ms != 0, (double)h->cleared_ms));
        jadd(r, a, "acked_by", h->acked_by[0] ? cJSON_CreateString(h->acked_by) : cJSON_CreateNull());
        return;
    }
    time_text(h->raised_ms, raised, sizeof(raised));
    if (h->cleared_ms)
        time_text(h->cleared_ms, cleared, sizeof(cleared));
    else
        snprintf(cleared, sizeof(cleared), "%s", h->active ? "active" : "-");
    ctl_printf(r, "%-6lld %-20s %-10s %-12s %s  %-19s %s\n", (long long)h->id, h->sensor, h->condition, h->state,
               raised, cleared, h->acked_by);
}

static const char *show_alarms_history(struct ctl_req *r, int argi)
{
    int n = argi < r->argc ? atoi(r->argv[argi]) : 50;

    if (n < 1 || n > 1000)
        return "how many: 1 to 1000";
    if (r->json)
        jadd(r, r->j, "alarms", cJSON_CreateArray());
    else
        ctl_printf(r, "%-6s %-20s %-10s %-12s %-19s  %-19s %s\n", "ALARM", "SENSOR", "CONDITION", "LAST EVENT",
                   "RAISED", "CLEARED", "ACKNOWLEDGED BY");
    if (store_recent_alarms(r->g->store, n, hist_row, r) < 0)
        return "the alarms could not be read";
    return NULL;
}

static void bus_line(struct ctl_req *r, const struct gateway *g, unsigned b, cJSON *list)
{
    struct bus_counts t;
    struct bus *bus = &g->buses[b];
    const struct cfg_bus *bc = &g->cfg.buses[b];
    double up_s = (double)(g->loop.now_ms - g->started_ms) / 1000.0;

    bus_stats(bus, &t, NULL, 0);
    uint64_t errors = 0;
    for (int k = 0; k < BERR_KINDS; k++)
        errors += t.errors[k];
    double util = up_s > 0 ? (double)t.busy_us / 1e6 / up_s * 100 : 0;
    double avg = t.lat_n ? (double)t.lat_sum_us / t.lat_n / 1000.0 : 0;
    double p99 = (double)bus_latency_percentile(&t, 99) / 1000.0;
    static const char *const types[] = {"tcp", "rtu", "sim", "gpio"};
    if (r->json) {
        cJSON *e = jadd(r, list, NULL, cJSON_CreateObject());
        jadd(r, e, "bus", cJSON_CreateString(bc->p.name));
        jadd(r, e, "type", cJSON_CreateString(types[bc->p.type]));
        jadd(r, e, "requests", cJSON_CreateNumber((double)t.requests));
        jadd(r, e, "ok", cJSON_CreateNumber((double)t.ok));
        cJSON *er = jadd(r, e, "errors", cJSON_CreateObject());
        static const char *const kinds[] = {"timeout", "crc", "exception", "bad_reply", "connection"};
        for (int k = 0; k < BERR_KINDS; k++)
            jadd(r, er, kinds[k], cJSON_CreateNumber((double)t.errors[k]));
        jadd(r, e, "skipped", cJSON_CreateNumber((double)t.skipped));
        jadd(r, e, "latency_avg_ms", cJSON_CreateNumber(avg));
        jadd(r, e, "latency_p99_ms", cJSON_CreateNumber(p99));
        jadd(r, e, "utilisation_pct", cJSON_CreateNumber(util));
        jadd(r, e, "reconnects", cJSON_CreateNumber((double)bus->reconnects));
        return;
    }
    ctl_printf(r, "%-12s %-4s %10llu %10llu %8llu %6llu %6llu %6llu %6llu %6llu %7.1f %7.1f %5.1f%%\n", bc->p.name,
               types[bc->p.type], (unsigned long long)t.requests, (unsigned long long)t.ok,
               (unsigned long long)errors, (unsigned long long)t.errors[BERR_TIMEOUT],
               (unsigned long long)t.errors[BERR_CRC], (unsigned long long)t.errors[BERR_EXCEPTION],
               (unsigned long long)t.errors[BERR_BAD_REPLY], (unsigned long long)t.errors[BERR_CONNECTION], avg,
               p99, util);
}

static void bus_header(struct ctl_req *r)
{
    ctl_printf(r, "%-12s %-4s %10s %10s %8s %6s %6s %6s %6s %6s %7s %7s %6s\n", "BUS", "TYPE", "REQUESTS", "OK",
               "ERRORS", "TMOUT", "CRC", "EXCEP", "BADRPL", "CONN", "AVG ms", "P99 ms", "BUSY");
}

static const char *show_buses(struct ctl_req *r, int argi)
{
    cJSON *list = r->json ? jadd(r, r->j, "buses", cJSON_CreateArray()) : NULL;

    (void)argi;
    if (!r->g->buses)
        return "the buses are being restarted";
    if (!r->json)
        bus_header(r);
    for (unsigned b = 0; b < r->g->cfg.n_buses; b++)
        bus_line(r, r->g, b, list);
    return NULL;
}

static const char *show_bus(struct ctl_req *r, int argi)
{
    struct gateway *g = r->g;
    struct slave_state sl[64];
    struct bus_counts t;
    int b = -1;

    for (unsigned k = 0; k < g->cfg.n_buses && b < 0; k++)
        if (strcmp(g->cfg.buses[k].p.name, r->argv[argi]) == 0)
            b = (int)k;
    if (b < 0)
        return no_such(r, "bus", r->argv[argi], "show buses");
    if (!g->buses)
        return "the buses are being restarted";
    cJSON *list = r->json ? jadd(r, r->j, "buses", cJSON_CreateArray()) : NULL;
    if (!r->json)
        bus_header(r);
    bus_line(r, g, (unsigned)b, list);
    unsigned n = bus_stats(&g->buses[b], &t, sl, 64);
    cJSON *slaves = r->json ? jadd(r, r->j, "slaves", cJSON_CreateArray()) : NULL;
    if (!r->json)
        ctl_printf(r, "\n%-5s %10s %10s %8s %9s  %s\n", "UNIT", "REQUESTS", "OK", "ERRORS", "BACKOFF", "LAST ERROR");
    for (unsigned k = 0; k < n; k++) {
        uint64_t errors = 0;
        for (int e = 0; e < BERR_KINDS; e++)
            errors += sl[k].counts.errors[e];
        if (r->json) {
            cJSON *e = jadd(r, slaves, NULL, cJSON_CreateObject());
            jadd(r, e, "unit", cJSON_CreateNumber(sl[k].unit));
            jadd(r, e, "requests", cJSON_CreateNumber((double)sl[k].counts.requests));
            jadd(r, e, "ok", cJSON_CreateNumber((double)sl[k].counts.ok));
            jadd(r, e, "errors", cJSON_CreateNumber((double)errors));
            jadd(r, e, "backoff_ms", cJSON_CreateNumber((double)sl[k].backoff_ms));
            jadd(r, e, "last_error", sl[k].last_err ? cJSON_CreateString(sample_err_text(sl[k].last_err))
                                                     : cJSON_CreateNull());
        } else {
            char bo[24];
            if (sl[k].backoff_ms)
                snprintf(bo, sizeof(bo), "%llds", (long long)(sl[k].backoff_ms / 1000));
            else
                snprintf(bo, sizeof(bo), "-");
            ctl_printf(r, "%-5u %10llu %10llu %8llu %9s  %s\n", sl[k].unit, (unsigned long long)sl[k].counts.requests,
                       (unsigned long long)sl[k].counts.ok, (unsigned long long)errors, bo,
                       sl[k].last_err ? sample_err_text(sl[k].last_err) : "-");
        }
    }
    return NULL;
}

static const char *show_outputs(struct ctl_req *r, int argi)
{
    struct gateway *g = r->g;
    cJSON *list = r->json ? jadd(r, r->j, "outputs", cJSON_CreateArray()) : NULL;

    (void)argi;
    if (!g->actions)
        return "the actions are being restarted";
    if (!r->json)
        ctl_printf(r, "%-16s %-32s %-8s %-6s %s\n", "OUTPUT", "WRITES TO", "MODE", "VALUE", "STATE");
    for (unsigned i = 0; i < g->cfg.n_actions; i++) {
        const struct cfg_action *a = &g->cfg.actions[i];
        struct action_info in;
        char to[128], value[16];
        actions_info(g->actions, i, &in);
        if (a->out.gpio)
            snprintf(to, sizeof(to), "gpio:%s", a->out.gpio_line);
        else
            snprintf(to, sizeof(to), "modbus:%s:%u:%s:%u", a->bus_name, a->unit_id,
                     a->kind == REG_COIL ? "coil" : "holding", a->addr);
        const char *mode = in.overridden >= 0 ? "manual" : "auto";
        if (r->json) {
            cJSON *e = jadd(r, list, NULL, cJSON_CreateObject());
            jadd(r, e, "output", cJSON_CreateString(a->name));
            jadd(r, e, "writes_to", cJSON_CreateString(to));
            jadd(r, e, "mode", cJSON_CreateString(mode));
            jadd(r, e, "value", jnum(in.value >= 0, in.value));
            jadd(r, e, "active", cJSON_CreateBool(in.active));
            jadd(r, e, "latched", cJSON_CreateBool(in.latched));
            jadd(r, e, "error", in.done && in.err ? cJSON_CreateString(sample_err_text(in.err)) : cJSON_CreateNull());
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
    if (!r->json && !g->cfg.n_actions)
        ctl_printf(r, "(no [action] in the config)\n");
    return NULL;
}

/* The running config file, secrets masked. */
static const char *show_config(struct ctl_req *r, int argi)
{
    char *text = NULL, why[256];

    (void)argi;
    if (conffile_read(r->g->cfg.path, &text, why, sizeof(why)) < 0) {
        snprintf(r->err, sizeof(r->err), "%s", why);
        return r->err;
    }
    cJSON *lines = r->json ? jadd(r, r->j, "lines", cJSON_CreateArray()) : NULL;
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
            jadd(r, lines, NULL, cJSON_CreateString(secret ? masked : l));
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
        jadd(r, cJSON_GetObjectItem(r->j, "lines"), NULL, cJSON_CreateString(line));
    else
        ctl_printf(r, "%s\n", line);
}

static const char *show_log(struct ctl_req *r, int argi)
{
    int n = argi < r->argc ? atoi(r->argv[argi]) : 30;

    if (n < 1 || n > 200)
        return "how many lines: 1 to 200";
    if (r->json)
        jadd(r, r->j, "lines", cJSON_CreateArray());
    log_recent((unsigned)n, log_line, r);
    return NULL;
}

/* ---- names, for completion ---- */

static const char *list_names(struct ctl_req *r, int argi)
{
    struct gateway *g = r->g;
    const char *what = r->argv[argi];
    cJSON *list = r->json ? jadd(r, r->j, "names", cJSON_CreateArray()) : NULL;
    char id[24];

#define NAME(n)                                              \
    do {                                                     \
        if (r->json)                                         \
            jadd(r, list, NULL, cJSON_CreateString(n));      \
        else                                                 \
            ctl_printf(r, "%s\n", n);                        \
    } while (0)
    if (strcmp(what, "sensors") == 0) {
        for (unsigned i = 0; i < g->cfg.n_sensors; i++)
            NAME(g->cfg.sensors[i].name);
    } else if (strcmp(what, "buses") == 0) {
        for (unsigned i = 0; i < g->cfg.n_buses; i++)
            NAME(g->cfg.buses[i].p.name);
    } else if (strcmp(what, "outputs") == 0) {
        for (unsigned i = 0; i < g->cfg.n_actions; i++)
            NAME(g->cfg.actions[i].name);
    } else if (strcmp(what, "alarms") == 0) {
        for (unsigned i = 0; i < g->cfg.n_sensors; i++)
            for (int c = 0; c < COND_COUNT; c++)
                if (g->rt[i].alarm_id[c]) {
                    snprintf(id, sizeof(id), "%lld", (long long)g->rt[i].alarm_id[c]);
                    NAME(id);
                }
    } else if (strcmp(what, "keys") == 0) {
        static const char *const keys[] = {"blue", "yellow", "orange", "red", "hysteresis", "on_delay",
                                           "off_delay", "on_count", "off_count", "poll", "remind", "rate",
                                           "rate_window", "rate_hysteresis", "fault_after", "stale_after",
                                           "telemetry", "deadband", NULL};
        for (int k = 0; keys[k]; k++)
            NAME(keys[k]);
    } else {
        return "list what: sensors, buses, outputs, alarms or keys";
    }
#undef NAME
    return NULL;
}

/* ---- changes ---- */

static const char *do_enable(struct ctl_req *r, int argi)
{
    return ctl_enable(r, argi < r->argc ? r->argv[argi] : NULL);
}

static const char *do_disable(struct ctl_req *r, int argi)
{
    (void)argi;
    if (r->s->uid == 0)
        return "root is always privileged";
    r->s->privileged = false;
    return NULL;
}

static const char *do_ack(struct ctl_req *r, int argi)
{
    struct gateway *g = r->g;
    char *end;
    long long id = strtoll(r->argv[argi], &end, 10);

    if (*end || id < 1)
        return "ack ALARM: the alarm's number (show alarms)";
    for (unsigned i = 0; i < g->cfg.n_sensors; i++) {
        for (int k = 0; k < COND_COUNT; k++) {
            if (g->rt[i].alarm_id[k] != id)
                continue;
            if (g->rt[i].acked[k]) {
                snprintf(r->err, sizeof(r->err), "alarm %lld is already acknowledged", id);
                return r->err;
            }
            enum level lv = g->rt[i].st.cond[k].level;
            struct rule_event ev = {.cond = (enum condition)k, .value = g->rt[i].value,
                                    .r = {.event = EV_ACKED, .level = lv, .prev_level = lv}};
            core_remember(g, i, &g->rt[i]);
            core_emit_event_by(g, i, loop_wallclock_ms(), g->rt[i].quality, &ev, ctl_who(r));
            if (!g->rt[i].acked[k])
                return "the acknowledgement could not be stored";
            if (!r->json)
                ctl_printf(r, "alarm %lld (%s %s) acknowledged\n", id, g->cfg.sensors[i].name, level_name(lv));
            return NULL;
        }
    }
    snprintf(r->err, sizeof(r->err), "no active alarm %lld (show alarms lists them)", id);
    return r->err;
}

/* maintenance SENSOR DURATION|off, or maintenance bus NAME DURATION|off */
static const char *do_maintenance(struct ctl_req *r, int argi)
{
    struct gateway *g = r->g;
    bool bus = r->argc - argi == 3;
    const char *name = r->argv[argi + bus], *dur = r->argv[argi + 1 + bus];
    int64_t ms = 0;
    unsigned n = 0;

    if (bus && strcmp(r->argv[argi], "bus") != 0)
        return "maintenance SENSOR DURATION, or maintenance bus NAME DURATION";
    if (bus ? bus_index(g, name) < 0 : core_sensor_index(g, name) < 0)
        return no_such(r, bus ? "bus" : "sensor", name, bus ? "show buses" : "show sensors");
    if (strcmp(dur, "off") != 0 && (config_parse_duration(dur, &ms) < 0 || ms <= 0 || ms > 7 * 86400000LL))
        return "DURATION: up to 7d (30m, 2h), or off";
    for (unsigned i = 0; i < g->cfg.n_sensors; i++) {
        if (strcmp(bus ? g->cfg.sensors[i].bus_name : g->cfg.sensors[i].name, name) != 0)
            continue;
        core_set_maintenance(g, i, ms ? g->loop.now_ms + ms : 0);
        n++;
    }
    log_info("core: %s '%s': %s by %s (%u sensor%s)", bus ? "bus" : "sensor", name,
             ms ? "in maintenance" : "maintenance ended", ctl_who(r), n, n == 1 ? "" : "s");
    uplink_status_changed(g->uplink);
    actions_update(g->actions);
    if (!r->json)
        ctl_printf(r, ms ? "%s %s in maintenance for %s (%u sensor%s): its alarms start no action\n"
                         : "%s %s out of maintenance%.0s (%u sensor%s)\n",
                   bus ? "bus" : "sensor", name, ms ? dur : "", n, n == 1 ? "" : "s");
    return NULL;
}

static const char *do_reset(struct ctl_req *r, int argi)
{
    int rc = actions_reset(r->g->actions, r->argv[argi]);
    if (rc == -ENOENT)
        return no_such(r, "output", r->argv[argi], "show outputs");
    if (rc == -EALREADY) {
        snprintf(r->err, sizeof(r->err), "output '%s' is not latched", r->argv[argi]);
        return r->err;
    }
    return NULL;
}

static const char *do_set_output(struct ctl_req *r, int argi)
{
    const char *m = r->argv[argi + 1];
    int mode = !strcmp(m, "on") ? 1 : !strcmp(m, "off") ? 0 : !strcmp(m, "auto") ? -1 : -2;

    if (mode == -2)
        return "set output NAME on|off|auto";
    int rc = actions_override(r->g->actions, r->argv[argi], mode, ctl_who(r));
    if (rc == -ENOENT)
        return no_such(r, "output", r->argv[argi], "show outputs");
    if (rc == -EALREADY)
        return "it is automatic already";
    if (!r->json)
        ctl_printf(r, mode < 0 ? "output %s: automatic again\n" : "output %s: held %s until `set output %s auto`\n",
                   r->argv[argi], m, r->argv[argi]);
    return NULL;
}

static const char *do_set_sensor(struct ctl_req *r, int argi)
{
    struct ctl_session *s = r->s;
    const char *name = r->argv[argi], *key = r->argv[argi + 1], *value = r->argv[argi + 2];

    if (core_sensor_index(r->g, name) < 0)
        return no_such(r, "sensor", name, "show sensors");
    if (!core_settable(key)) {
        snprintf(r->err, sizeof(r->err), "'%s' cannot be set here (list keys shows those that can)", key);
        return r->err;
    }
    unsigned k;
    for (k = 0; k < s->n_pending; k++)
        if (!strcmp(s->pending[k].sensor, name) && !strcmp(s->pending[k].key, key))
            break;
    if (k == s->n_pending && s->n_pending == CONFCHANGE_MAX)
        return "too many changes waiting: config commit or config discard first";
    if (strlen(value) >= sizeof(s->pending[0].value))
        return "value too long";
    snprintf(s->pending[k].sensor, sizeof(s->pending[k].sensor), "%s", name);
    snprintf(s->pending[k].key, sizeof(s->pending[k].key), "%s", key);
    snprintf(s->pending[k].value, sizeof(s->pending[k].value), "%s", value);
    s->pending[k].remove = strcmp(value, "default") == 0;
    if (k == s->n_pending)
        s->n_pending++;
    if (!r->json)
        ctl_printf(r, "%s %s = %s: waiting (config diff shows, config commit applies)\n", name, key, value);
    return NULL;
}

static const char *config_diff(struct ctl_req *r, int argi)
{
    struct ctl_session *s = r->s;
    cJSON *list = r->json ? jadd(r, r->j, "changes", cJSON_CreateArray()) : NULL;

    (void)argi;
    for (unsigned k = 0; k < s->n_pending; k++) {
        if (r->json) {
            cJSON *e = jadd(r, list, NULL, cJSON_CreateObject());
            jadd(r, e, "sensor", cJSON_CreateString(s->pending[k].sensor));
            jadd(r, e, "key", cJSON_CreateString(s->pending[k].key));
            jadd(r, e, "value", s->pending[k].remove ? cJSON_CreateNull() : cJSON_CreateString(s->pending[k].value));
        } else {
            ctl_printf(r, "[sensor %s] %s = %s\n", s->pending[k].sensor, s->pending[k].key,
                       s->pending[k].remove ? "(the class's or profile's)" : s->pending[k].value);
        }
    }
    if (!r->json && !s->n_pending)
        ctl_printf(r, "(no change waiting)\n");
    return NULL;
}

static const char *config_commit(struct ctl_req *r, int argi)
{
    struct ctl_session *s = r->s;
    struct sensor_edit e[CONFCHANGE_MAX];

    (void)argi;
    if (!s->n_pending)
        return "no change waiting (set sensor NAME KEY VALUE first)";
    for (unsigned k = 0; k < s->n_pending; k++)
        e[k] = (struct sensor_edit){s->pending[k].sensor, s->pending[k].key,
                                    s->pending[k].remove ? NULL : s->pending[k].value};
    if (core_config_change(r->g, e, s->n_pending, ctl_who(r), r->err, sizeof(r->err)) < 0)
        return r->err;
    if (!r->json)
        ctl_printf(r, "%u change%s written to %s (previous kept as %s.prev) and applied\n", s->n_pending,
                   s->n_pending == 1 ? "" : "s", r->g->cfg.path, r->g->cfg.path);
    s->n_pending = 0;
    return NULL;
}

static const char *config_discard(struct ctl_req *r, int argi)
{
    (void)argi;
    if (!r->json)
        ctl_printf(r, "%u change%s discarded\n", r->s->n_pending, r->s->n_pending == 1 ? "" : "s");
    r->s->n_pending = 0;
    return NULL;
}

static const char *config_rollback(struct ctl_req *r, int argi)
{
    (void)argi;
    if (core_config_rollback(r->g, ctl_who(r), r->err, sizeof(r->err)) < 0)
        return r->err;
    if (!r->json)
        ctl_printf(r, "the previous config is back in %s and applied\n", r->g->cfg.path);
    return NULL;
}

static const char *mqtt_status(struct ctl_req *r, int argi)
{
    struct uplink_info ui;
    char since[32] = "-";

    (void)argi;
    if (!r->g->uplink)
        return "the uplink is being restarted";
    uplink_info(r->g->uplink, &ui);
    if (ui.since_ms)
        time_text(ui.since_ms, since, sizeof(since));
    if (r->json) {
        jadd(r, r->j, "state", cJSON_CreateString(ui.state));
        jadd(r, r->j, "broker", cJSON_CreateString(r->g->cfg.mqtt.host));
        jadd(r, r->j, "port", cJSON_CreateNumber(r->g->cfg.mqtt.port));
        jadd(r, r->j, "tls", cJSON_CreateBool(r->g->cfg.mqtt.tls_ca[0] != 0));
        jadd(r, r->j, "inflight", cJSON_CreateNumber(ui.inflight));
        jadd(r, r->j, "last_error", cJSON_CreateString(ui.last_error));
        return NULL;
    }
    ctl_printf(r, "state        %s since %s\n", ui.state, since);
    ctl_printf(r, "broker       %s:%u (%s, MQTT %s)\n", r->g->cfg.mqtt.host, r->g->cfg.mqtt.port,
               r->g->cfg.mqtt.tls_ca[0] ? "TLS" : "plain TCP", r->g->cfg.mqtt.protocol == MQTT_5 ? "5" : "3.1.1");
    ctl_printf(r, "in flight    %d of %d\n", ui.inflight, r->g->cfg.mqtt.max_inflight);
    ctl_printf(r, "last error   %s\n", ui.last_error[0] ? ui.last_error : "-");
    return NULL;
}

static const char *mqtt_reconnect(struct ctl_req *r, int argi)
{
    (void)argi;
    if (!r->g->uplink)
        return "the uplink is being restarted";
    uplink_reconnect(r->g->uplink);
    return NULL;
}

static const char *do_passwd(struct ctl_req *r, int argi)
{
    static struct crypt_data cd;
    const char *pin = r->argv[argi];
    char salt[CRYPT_GENSALT_OUTPUT_SIZE];

    if (r->s->uid != 0)
        return "only root sets the console PIN";
    size_t n = strlen(pin);
    if (n < 4 || n > 64)
        return "a PIN of 4 to 64 characters";
    if (!crypt_gensalt_rn("$6$", 0, NULL, 0, salt, sizeof(salt)))
        return "no random salt (crypt_gensalt)";
    const char *hash = crypt_rn(pin, salt, &cd, sizeof(cd));
    if (!hash || hash[0] != '$')
        return "crypt failed";
    if (core_config_console_pin(r->g, hash, ctl_who(r), r->err, sizeof(r->err)) < 0)
        return r->err;
    record(r, NULL);
    if (!r->json)
        ctl_printf(r, "console PIN set ([console] pin in %s)\n", r->g->cfg.path);
    return NULL;
}

/* ---- Modbus diagnostics: through the bus worker, between its polls ---- */

static int bus_index(const struct gateway *g, const char *name)
{
    for (unsigned k = 0; k < g->cfg.n_buses; k++)
        if (strcmp(g->cfg.buses[k].p.name, name) == 0)
            return (int)k;
    return -1;
}

static int lookup_name(const char *const *names, const char *v)
{
    for (int i = 0; names[i]; i++)
        if (strcmp(names[i], v) == 0)
            return i;
    return -1;
}

static bool parse_uint(const char *v, long max, long *out)
{
    char *end;
    long n = strtol(v, &end, 10);
    if (*end || end == v || n < 0 || n > max)
        return false;
    *out = n;
    return true;
}

/* BUS UNIT KIND ADDR into op and w; an error text or NULL. */
static const char *modbus_target(struct ctl_req *r, int argi, struct ctl_op *op, struct bus_write *w)
{
    long unit, addr;
    int b = bus_index(r->g, r->argv[argi]), kind;

    if (b < 0)
        return no_such(r, "bus", r->argv[argi], "show buses");
    if (r->g->cfg.buses[b].p.type == BUS_SIM || r->g->cfg.buses[b].p.type == BUS_GPIO)
        return "a sim or gpio bus has no Modbus devices";
    if (!parse_uint(r->argv[argi + 1], 255, &unit))
        return "UNIT: a unit id 0 to 255";
    if ((kind = lookup_name(reg_kind_names, r->argv[argi + 2])) < 0)
        return "KIND: holding, input, coil or discrete";
    if (!parse_uint(r->argv[argi + 3], 65535, &addr))
        return "ADDR: a register address 0 to 65535 (zero-based: a manual's 40001 is holding 0)";
    *op = (struct ctl_op){.bus = (unsigned)b, .argc = r->argc - argi};
    for (int i = 0; i < op->argc && i < CTL_MAX_ARGS; i++)
        snprintf(op->args[i], sizeof(op->args[i]), "%s", r->argv[argi + i]);
    *w = (struct bus_write){.unit = (uint8_t)unit, .kind = (enum reg_kind)kind, .addr = (uint16_t)addr,
                            .count = 1, .read = true};
    return NULL;
}

static const char *send_request(struct ctl_req *r, struct ctl_op *op, struct bus_write *w)
{
    int rc = ctl_bus_request(r, op, w);
    if (rc == -ENOTSUP)
        return "this bus cannot do that";
    if (rc == -EAGAIN)
        return "the bus is busy or restarting; try again";
    if (rc < 0) {
        snprintf(r->err, sizeof(r->err), "cannot queue the request: %s", strerror(-rc));
        return r->err;
    }
    return CTL_PENDING;
}

/* Every 32-bit reading of the first two registers, so the technician sees
 * which order gives the value on the device's display. */
static void decodings(struct ctl_req *r, const uint16_t *regs, unsigned n, int only_type, int only_order)
{
    static const enum reg_type types[] = {TYPE_FLOAT32, TYPE_INT32, TYPE_UINT32, TYPE_INT16, TYPE_UINT16,
                                          TYPE_FLOAT64, TYPE_INT64, TYPE_UINT64};
    cJSON *dec = r->json ? jadd(r, r->j, "decoded", cJSON_CreateObject()) : NULL;

    for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
        enum reg_type ty = types[t];
        if ((only_type >= 0 && (int)ty != only_type) || decode_width(ty) > n)
            continue;
        if (only_type < 0 && decode_width(ty) != 2 && decode_width(ty) != 1)
            continue; /* 64-bit only when asked for */
        cJSON *per = r->json ? jadd(r, dec, reg_type_names[ty], cJSON_CreateObject()) : NULL;
        if (!r->json)
            ctl_printf(r, "%-8s", reg_type_names[ty]);
        for (int o = ORDER_ABCD; o <= ORDER_DCBA; o++) {
            if ((only_order >= 0 && o != only_order) || (decode_width(ty) == 1 && o != ORDER_ABCD))
                continue;
            struct reg_format f = {.kind = REG_HOLDING, .type = ty, .order = (enum word_order)o, .scale = 1};
            double v;
            int rc = decode_value(&f, regs, &v);
            if (r->json)
                jadd(r, per, word_order_names[o], rc == -EDOM ? cJSON_CreateNull() : cJSON_CreateNumber(v));
            else if (decode_width(ty) == 1)
                ctl_printf(r, "  %.10g", v);
            else
                ctl_printf(r, "  %s %-14.8g", word_order_names[o], rc == -EDOM ? NAN : v);
        }
        if (!r->json)
            ctl_printf(r, "\n");
    }
}

static const char *read_done(struct ctl_req *r, struct ctl_op *op, int err)
{
    uint16_t regs[BUS_WRITE_MAX];
    long addr = atol(op->args[3]);
    int type = op->argc > 5 ? lookup_name(reg_type_names, op->args[5]) : -1;
    int order = op->argc > 6 ? lookup_name(word_order_names, op->args[6]) : -1;

    if (err == -ECANCELED)
        return "the buses were restarted (a config reload): try again";
    if (err) {
        snprintf(r->err, sizeof(r->err), "unit %s on bus %s: %s", op->args[1], op->args[0], sample_err_text(err));
        return r->err;
    }
    unsigned n = bus_diag_result(&r->g->buses[op->bus], regs, BUS_WRITE_MAX);
    bool bits = !strcmp(op->args[2], "coil") || !strcmp(op->args[2], "discrete");
    cJSON *raw = r->json ? jadd(r, r->j, "registers", cJSON_CreateArray()) : NULL;
    for (unsigned i = 0; i < n; i++) {
        if (r->json)
            jadd(r, raw, NULL, cJSON_CreateNumber(regs[i]));
        else if (bits)
            ctl_printf(r, "%s %-6ld %u\n", op->args[2], addr + (long)i, regs[i]);
        else
            ctl_printf(r, "%s %-6ld 0x%04x %6u %6d\n", op->args[2], addr + (long)i, regs[i], regs[i],
                       (int16_t)regs[i]);
    }
    if (!bits) {
        if (!r->json)
            ctl_printf(r, "decoded from %s %ld:\n", op->args[2], addr);
        decodings(r, regs, n, type, order);
    }
    return NULL;
}

/* modbus read BUS UNIT KIND ADDR [COUNT] [TYPE [ORDER]] */
static const char *modbus_read(struct ctl_req *r, int argi)
{
    struct bus_write w;
    long count = 2;
    const char *e = modbus_target(r, argi, r->op, &w);

    if (e)
        return e;
    if (r->argc > argi + 4 && !parse_uint(r->argv[argi + 4], BUS_WRITE_MAX, &count))
        return "COUNT: 1 to 123 registers";
    if (count < 1)
        return "COUNT: 1 to 123 registers";
    if (r->argc > argi + 5 && lookup_name(reg_type_names, r->argv[argi + 5]) < 0)
        return "TYPE: int16, uint16, int32, uint32, float32, int64, uint64 or float64";
    if (r->argc > argi + 6 && lookup_name(word_order_names, r->argv[argi + 6]) < 0)
        return "ORDER: abcd, cdab, badc or dcba";
    if (r->argc > argi + 5 && (long)decode_width((enum reg_type)lookup_name(reg_type_names, r->argv[argi + 5])) > count)
        count = decode_width((enum reg_type)lookup_name(reg_type_names, r->argv[argi + 5]));
    w.count = (uint16_t)count;
    r->op->finish = read_done;
    return send_request(r, r->op, &w);
}

static const char *scan_step(struct ctl_req *r, struct ctl_op *op, int err);

static const char *scan_send(struct ctl_req *r, struct ctl_op *op)
{
    struct bus_write w = {.unit = (uint8_t)op->next, .kind = REG_HOLDING, .addr = 0, .count = 1, .read = true};
    op->finish = scan_step;
    return send_request(r, op, &w);
}

/* One unit answered or not: an answer, even an exception, means a device
 * with that id is on the bus (a TCP gateway's "target failed" does not). */
static const char *scan_step(struct ctl_req *r, struct ctl_op *op, int err)
{
    char line[160];
    int n = 0;

    if (err == -ECANCELED)
        return "the buses were restarted (a config reload): scan stopped";
    enum bus_err k = err ? bus_classify(err) : BERR_KINDS;
    bool gateway_says_no = err && k == BERR_EXCEPTION && (err == -(MODBUS_ENOBASE + 10) || err == -(MODBUS_ENOBASE + 11));
    if (!err || (k == BERR_EXCEPTION && !gateway_says_no))
        n = snprintf(line, sizeof(line), "unit %-3d answers%s%s\n", op->next, err ? " (" : "",
                     err ? sample_err_text(err) : "");
    else if (k == BERR_CRC || k == BERR_BAD_REPLY)
        n = snprintf(line, sizeof(line), "unit %-3d garbled reply (%s): wrong baud rate or parity, or noise?\n",
                     op->next, sample_err_text(err));
    if (n > 0) {
        strbuf_put(&op->acc, line, (size_t)n);
        op->found += !err || (k == BERR_EXCEPTION && !gateway_says_no);
    }
    if (op->acc.failed)
        return "out of memory";
    if (op->next < op->last) {
        op->next++;
        return scan_send(r, op);
    }
    if (r->json) {
        cJSON *list = jadd(r, r->j, "units", cJSON_CreateArray());
        for (char *l = op->acc.p; l && *l;) {
            if (strstr(l, " answers") && strstr(l, " answers") < strchr(l, '\n'))
                jadd(r, list, NULL, cJSON_CreateNumber(atoi(l + 5)));
            l = strchr(l, '\n');
            l = l ? l + 1 : NULL;
        }
    } else {
        ctl_printf(r, "%s", op->acc.p ? op->acc.p : "");
        ctl_printf(r, "%u unit%s answer%s on bus %s\n", op->found, op->found == 1 ? "" : "s", op->found == 1 ? "s" : "",
                   op->args[0]);
    }
    return NULL;
}

/* modbus scan BUS [FROM-TO]: one request at a time, each after a poll */
static const char *modbus_scan(struct ctl_req *r, int argi)
{
    int b = bus_index(r->g, r->argv[argi]);
    int from = 1, to = 247;

    if (b < 0)
        return no_such(r, "bus", r->argv[argi], "show buses");
    if (r->g->cfg.buses[b].p.type == BUS_SIM || r->g->cfg.buses[b].p.type == BUS_GPIO)
        return "a sim or gpio bus has no Modbus devices";
    if (argi + 1 < r->argc && (sscanf(r->argv[argi + 1], "%d-%d", &from, &to) != 2 || from < 0 || to > 255 ||
                               from > to))
        return "FROM-TO: unit ids, e.g. 1-20";
    *r->op = (struct ctl_op){.bus = (unsigned)b, .next = from, .last = to, .argc = 1};
    snprintf(r->op->args[0], sizeof(r->op->args[0]), "%s", r->argv[argi]);
    return scan_send(r, r->op);
}

static const char *write_done(struct ctl_req *r, struct ctl_op *op, int err)
{
    if (err == -ECANCELED)
        return "the buses were restarted (a config reload): the write may not have happened";
    if (err) {
        snprintf(r->err, sizeof(r->err), "write to unit %s %s %s failed: %s", op->args[1], op->args[2], op->args[3],
                 err == -EIO ? "the read-back differs" : sample_err_text(err));
        return r->err;
    }
    if (!r->json)
        ctl_printf(r, "written and read back: unit %s %s %s = %s\n", op->args[1], op->args[2], op->args[3],
                   op->args[4]);
    return NULL;
}

/* modbus write BUS UNIT coil|holding ADDR VALUE */
static const char *modbus_write(struct ctl_req *r, int argi)
{
    struct bus_write w;
    long value;
    const char *e = modbus_target(r, argi, r->op, &w);

    if (e)
        return e;
    if (w.kind != REG_COIL && w.kind != REG_HOLDING)
        return "only a coil or a holding register can be written";
    if (!parse_uint(r->argv[argi + 4], w.kind == REG_COIL ? 1 : 65535, &value))
        return w.kind == REG_COIL ? "VALUE: 0 or 1" : "VALUE: 0 to 65535";
    w.read = false;
    w.verify = true;
    w.values[0] = (uint16_t)value;
    log_info("console: %s: modbus write bus %s unit %u %s %u = %ld", r->s->user, r->argv[argi], w.unit,
             reg_kind_names[w.kind], w.addr, value);
    r->op->finish = write_done;
    return send_request(r, r->op, &w);
}

/* ---- GPIO: the lines of gpio sensors and of actions' gpio outputs ---- */

static const char *gpio_get(struct ctl_req *r, int argi)
{
    struct gateway *g = r->g;
    const char *name = r->argv[argi];
    int i = core_sensor_index(g, name), a = actions_find(g->actions, name);

    if (i >= 0 && g->cfg.buses[g->cfg.sensors[i].io.bus].p.type == BUS_GPIO) {
        const struct sensor_rt *rt = &g->rt[i];
        if (!rt->ts_ms || rt->quality != Q_GOOD) {
            snprintf(r->err, sizeof(r->err), "input %s (line %s): %s", name, g->cfg.sensors[i].io.input,
                     rt->ts_ms ? quality_name(rt->quality) : "not read yet");
            return r->err;
        }
        if (r->json)
            jadd(r, r->j, "value", cJSON_CreateNumber(rt->value));
        else
            ctl_printf(r, "input %s (line %s) = %g\n", name, g->cfg.sensors[i].io.input, rt->value);
        return NULL;
    }
    if (a >= 0 && g->cfg.actions[a].out.gpio) {
        struct action_info in;
        actions_info(g->actions, (unsigned)a, &in);
        if (r->json)
            jadd(r, r->j, "value", jnum(in.value >= 0, in.value));
        else
            ctl_printf(r, "output %s (line %s) = %d (%s)\n", name, g->cfg.actions[a].out.gpio_line,
                       in.value >= 0 ? in.value : g->cfg.actions[a].out.restore,
                       in.overridden >= 0 ? "manual" : "auto");
        return NULL;
    }
    return no_such(r, "GPIO input or output", name, "list sensors, list outputs");
}

static int gpio_output(struct ctl_req *r, const char *name)
{
    int a = actions_find(r->g->actions, name);
    return a >= 0 && r->g->cfg.actions[a].out.gpio ? a : -1;
}

/* gpio set OUTPUT 0|1: held until `set output OUTPUT auto` */
static const char *gpio_set(struct ctl_req *r, int argi)
{
    const char *v = r->argv[argi + 1];

    if (gpio_output(r, r->argv[argi]) < 0)
        return no_such(r, "GPIO output", r->argv[argi], "show outputs");
    if (strcmp(v, "0") && strcmp(v, "1"))
        return "gpio set OUTPUT 0|1";
    actions_override(r->g->actions, r->argv[argi], v[0] == '1', ctl_who(r));
    if (!r->json)
        ctl_printf(r, "output %s held at %s until `set output %s auto`\n", r->argv[argi], v, r->argv[argi]);
    return NULL;
}

/* gpio pulse OUTPUT MS: on for MS, then back to the rules */
static const char *gpio_pulse(struct ctl_req *r, int argi)
{
    int64_t ms;

    if (gpio_output(r, r->argv[argi]) < 0)
        return no_such(r, "GPIO output", r->argv[argi], "show outputs");
    if (config_parse_duration(r->argv[argi + 1], &ms) < 0 || ms < 10 || ms > 60000)
        return "gpio pulse OUTPUT DURATION: 10ms to 60s (e.g. 500ms)";
    int rc = actions_pulse(r->g->actions, r->argv[argi], ms, ctl_who(r));
    if (rc < 0) {
        snprintf(r->err, sizeof(r->err), "cannot pulse %s: %s", r->argv[argi], strerror(-rc));
        return r->err;
    }
    if (!r->json)
        ctl_printf(r, "output %s on for %s, then back to automatic\n", r->argv[argi], r->argv[argi + 1]);
    return NULL;
}

static const char *do_help(struct ctl_req *r, int argi);

static const struct ctl_cmd cmds[] = {
    {"show status", "", "uptime, uplink, outbox, drops, store, clock", show_status, 0, 0, false},
    {"show sensors", "", "every sensor: value, quality, level (! unacknowledged), age", show_sensors, 0, 0, false},
    {"show sensor", "NAME", "one sensor: where it is read, its limits, state and last samples", show_sensor, 1, 1, false},
    {"show alarms history", "[N]", "the last N alarms (50), active or not", show_alarms_history, 0, 1, false},
    {"show alarms", "", "the active alarms", show_alarms, 0, 0, false},
    {"show buses", "", "field bus statistics: requests, errors by kind, latency, busy time", show_buses, 0, 0, false},
    {"show bus", "NAME", "one bus, and each of its slaves", show_bus, 1, 1, false},
    {"show outputs", "", "the actions' outputs: mode, last value, state", show_outputs, 0, 0, false},
    {"show config", "", "the running config file (secrets masked)", show_config, 0, 0, false},
    {"show log", "[N]", "the last N log lines (30)", show_log, 0, 1, false},
    {"list", "sensors|buses|outputs|alarms|keys", "names, one a line", list_names, 1, 1, false},
    {"modbus read", "BUS UNIT KIND ADDR [COUNT] [TYPE [ORDER]]",
     "read registers now; 32-bit values decoded in every order", modbus_read, 4, 7, false},
    {"modbus scan", "BUS [FROM-TO]", "which unit ids answer (1-247), one request between polls", modbus_scan, 1, 2,
     false},
    {"modbus write", "BUS UNIT coil|holding ADDR VALUE", "write and read back", modbus_write, 5, 5, true},
    {"gpio get", "NAME", "the level of a gpio input (sensor) or output (action)", gpio_get, 1, 1, false},
    {"gpio set", "OUTPUT 0|1", "hold a GPIO output (until set output OUTPUT auto)", gpio_set, 2, 2, true},
    {"gpio pulse", "OUTPUT DURATION", "an output on for a while (a siren test), then automatic", gpio_pulse, 2, 2, true},
    {"mqtt status", "", "the uplink to the monitoring center", mqtt_status, 0, 0, false},
    {"mqtt reconnect", "", "drop the connection and connect again now", mqtt_reconnect, 0, 0, true},
    {"enable", "[PIN]", "enter privileged mode (lifelinectl asks for the PIN)", do_enable, 0, 1, false},
    {"disable", "", "leave privileged mode", do_disable, 0, 0, false},
    {"ack", "ALARM", "acknowledge an alarm", do_ack, 1, 1, true},
    {"maintenance", "SENSOR|bus NAME DURATION|off", "alarms recorded but start no action, for a time (a sensor, or every sensor of a bus)",
     do_maintenance, 2, 3, true},
    {"reset", "OUTPUT", "release a latched output", do_reset, 1, 1, true},
    {"set output", "NAME on|off|auto", "hold an output on or off (a test), or give it back to the rules",
     do_set_output, 2, 2, true},
    {"set sensor", "NAME KEY VALUE|default", "change a limit, delay or poll period (then config commit)",
     do_set_sensor, 3, 3, true},
    {"config diff", "", "the changes waiting", config_diff, 0, 0, false},
    {"config commit", "", "check, write (previous version kept) and apply the changes", config_commit, 0, 0, true},
    {"config discard", "", "forget the changes waiting", config_discard, 0, 0, false},
    {"config rollback", "", "back to the previous config version", config_rollback, 0, 0, true},
    {"passwd", "PIN", "set the console PIN (root only)", do_passwd, 1, 1, false},
    {"help", "[COMMAND]", "this list, or one command's", do_help, 0, 3, false},
};

#define N_CMDS (sizeof(cmds) / sizeof(cmds[0]))

/* How many of argv match the words of cmd (all of them, or 0). */
static int match(const struct ctl_req *r, int from, const char *words)
{
    int n = 0;
    const char *w = words;

    while (*w) {
        size_t len = strcspn(w, " ");
        if (from + n >= r->argc || strlen(r->argv[from + n]) != len || strncmp(r->argv[from + n], w, len) != 0)
            return 0;
        n++;
        w += len;
        while (*w == ' ')
            w++;
    }
    return n;
}

static const char *do_help(struct ctl_req *r, int argi)
{
    cJSON *list = r->json ? jadd(r, r->j, "commands", cJSON_CreateArray()) : NULL;
    bool any = false;

    for (size_t i = 0; i < N_CMDS; i++) {
        if (argi < r->argc && !(match(r, argi, cmds[i].words) || strncmp(cmds[i].words, r->argv[argi],
                                                                          strlen(r->argv[argi])) == 0))
            continue;
        any = true;
        if (r->json) {
            cJSON *e = jadd(r, list, NULL, cJSON_CreateObject());
            jadd(r, e, "command", cJSON_CreateString(cmds[i].words));
            jadd(r, e, "args", cJSON_CreateString(cmds[i].args));
            jadd(r, e, "help", cJSON_CreateString(cmds[i].help));
            jadd(r, e, "privileged", cJSON_CreateBool(cmds[i].privileged));
        } else {
            char usage[64];
            snprintf(usage, sizeof(usage), "%s%s%s", cmds[i].words, cmds[i].args[0] ? " " : "", cmds[i].args);
            ctl_printf(r, "%-38s %s%s\n", usage, cmds[i].help, cmds[i].privileged ? " [enable]" : "");
        }
    }
    if (!any)
        return no_such(r, "command", r->argv[argi], "help");
    if (!r->json && argi >= r->argc)
        ctl_printf(r, "[enable]: needs privileged mode (enable, then the console PIN)\n");
    return NULL;
}

/* A privileged command is logged, and sent to the center as an event
 * (through the outbox, like everything else), with who gave it. */
static void record(struct ctl_req *r, const char *error)
{
    char line[CTL_LINE_MAX], topic[320], payload[CTL_LINE_MAX + 512];
    size_t n = 0;

    line[0] = '\0';
    for (int i = 0; i < r->argc && n < sizeof(line); i++)
        n += (size_t)snprintf(line + n, sizeof(line) - n, "%s%s", i ? " " : "",
                              /* the PIN of passwd is not a thing to keep */
                              i == 1 && strcmp(r->argv[0], "passwd") == 0 ? "****" : r->argv[i]);
    log_info("console: %s: %s%s%s", r->s->user, line, error ? ": refused: " : "", error ? error : "");
    int len = payload_console(loop_wallclock_ms(), ctl_who(r), line, error, payload, sizeof(payload));
    if (len > 0 && uplink_topic(&r->g->cfg, "event", topic, sizeof(topic)) == 0)
        store_outbox_add(r->g->store, PRIO_STATUS, 0, topic, payload, (size_t)len, 1);
}

const char *ctl_dispatch(struct ctl_req *r)
{
    const struct ctl_cmd *best = NULL;
    int best_n = 0;

    for (size_t i = 0; i < N_CMDS; i++) {
        int n = match(r, 0, cmds[i].words);
        if (n > best_n) {
            best = &cmds[i];
            best_n = n;
        }
    }
    if (!best) {
        snprintf(r->err, sizeof(r->err), "unknown command '%.40s' (help lists them)", r->argv[0]);
        return r->err;
    }
    int args = r->argc - best_n;
    if (args < best->min_args || args > best->max_args) {
        snprintf(r->err, sizeof(r->err), "usage: %s%s%s (help %s)", best->words, best->args[0] ? " " : "",
                 best->args, best->words);
        return r->err;
    }
    if (best->privileged && !r->s->privileged)
        return "needs privileged mode: enable first";
    const char *error = best->fn(r, best_n);
    bool refused = error && error != CTL_PENDING;
    if (best->privileged)
        record(r, refused ? error : NULL);
    return error;
}
