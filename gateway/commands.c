/* commands: what the center asks of the gateway on cmd/NAME, answered on
 * reply/NAME through the outbox (docs/mqtt.md "Commands"). A command is
 * checked whole before anything changes: an error reply changes nothing. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway_int.h"
#include "health.h"
#include "log.h"
#include "payload.h"

#define REPLY_MAX (256 * 1024)
#define REPLAY_MAX 10000
#define HISTORY_LIMIT 500
#define REBOOT_DELAY_MS 1000

/* ---- commands from the center ---- */

/* The reply goes through the outbox like everything else: it survives an
 * outage and a restart. */
static void reply(struct gateway *g, const char *name, const struct cmd *c, const char *error, cJSON *fields)
{
    char topic[320];
    size_t len = 0;
    char *payload = payload_reply_alloc(c, error, fields, &len);

    if (payload && len > REPLY_MAX) {
        free(payload);
        payload = payload_reply_alloc(c, "the answer is too large: ask for less", NULL, &len);
    }
    if (payload && snprintf(topic, sizeof(topic), "%s%s", g->reply_topic, name) < (int)sizeof(topic))
        store_outbox_add(g->store, PRIO_STATUS, 0, topic, payload, len, 1);
    else
        log_err("core: command '%.40s': no reply (out of memory or name too long)", name);
    free(payload);
}

/* cJSON_Add* fail only when out of memory; one check at the end does. */
static bool oom;

static cJSON *add(cJSON *to, const char *key, cJSON *item)
{
    if (!item || !cJSON_AddItemToObject(to, key, item)) {
        cJSON_Delete(item);
        oom = true;
    }
    return item;
}

static cJSON *num_or_null(bool has, double v)
{
    return has ? cJSON_CreateNumber(v) : cJSON_CreateNull();
}

/* ack: {"id":"...","alarm_id":77,"by":"desk 3"} acknowledges an active alarm. */
static const char *cmd_ack(struct gateway *g, const struct cmd *c, cJSON *out, char *err, size_t errlen)
{
    (void)out;
    if (!c->has_alarm_id)
        return "\"alarm_id\" is missing";
    for (unsigned i = 0; i < g->cfg.n_sensors; i++) {
        for (int k = 0; k < COND_COUNT; k++) {
            if (g->rt[i].alarm_id[k] != c->alarm_id)
                continue;
            if (g->rt[i].acked[k]) {
                snprintf(err, errlen, "alarm %lld is already acknowledged", (long long)c->alarm_id);
                return err;
            }
            char by[80];
            snprintf(by, sizeof(by), "center:%s", c->by[0] ? c->by : "unnamed");
            enum level lv = g->rt[i].st.cond[k].level;
            struct rule_event ev = {.cond = (enum condition)k, .value = g->rt[i].value,
                                    .r = {.event = EV_ACKED, .level = lv, .prev_level = lv}};
            core_remember(g, i, &g->rt[i]);
            core_emit_event_by(g, i, loop_wallclock_ms(), g->rt[i].quality, &ev, by);
            return g->rt[i].acked[k] ? NULL : "the acknowledgement could not be stored";
        }
    }
    snprintf(err, errlen, "no active alarm %lld", (long long)c->alarm_id);
    return err;
}

/* maintenance: {"id":"m1","sensor":"gas-01","duration":3600} (or "bus":
 * a whole bus; duration 0 ends it). Its alarms are still recorded and sent,
 * flagged "maintenance"; they start no action and are not reminded. */
static const char *cmd_maintenance(struct gateway *g, const struct cmd *c, cJSON *out, char *err,
                                   size_t errlen)
{
    unsigned n = 0;

    (void)out;
    if (!c->sensor[0] == !c->bus[0])
        return "give one of \"sensor\" or \"bus\"";
    if (!c->has_duration)
        return "\"duration\" is missing";
    for (unsigned i = 0; i < g->cfg.n_sensors; i++) {
        const struct cfg_sensor *s = &g->cfg.sensors[i];
        if (c->sensor[0] ? strcmp(s->name, c->sensor) != 0 : strcmp(s->bus_name, c->bus) != 0)
            continue;
        core_set_maintenance(g, i, c->duration_s ? g->loop.now_ms + c->duration_s * 1000 : 0);
        n++;
    }
    if (!n) {
        snprintf(err, errlen, "no %s '%s'", c->sensor[0] ? "sensor" : "bus with sensors",
                 c->sensor[0] ? c->sensor : c->bus);
        return err;
    }
    if (c->duration_s)
        log_info("core: %s '%s': in maintenance for %llds (by the center%s%s)",
                 c->sensor[0] ? "sensor" : "bus", c->sensor[0] ? c->sensor : c->bus,
                 (long long)c->duration_s, c->by[0] ? ": " : "", c->by);
    else
        log_info("core: %s '%s': maintenance ended (by the center%s%s)", c->sensor[0] ? "sensor" : "bus",
                 c->sensor[0] ? c->sensor : c->bus, c->by[0] ? ": " : "", c->by);
    uplink_status_changed(g->uplink);
    actions_update(g->actions);
    return NULL;
}

/* reset: {"id":"r1","action":"siren"} releases a latched action. */
static const char *cmd_reset(struct gateway *g, const struct cmd *c, cJSON *out, char *err, size_t errlen)
{
    (void)out;
    if (!c->action[0])
        return "\"action\" is missing";
    int r = actions_reset(g->actions, c->action);
    if (r == -ENOENT)
        snprintf(err, errlen, "no action '%s'", c->action);
    else if (r == -EALREADY)
        snprintf(err, errlen, "action '%s' is not latched", c->action);
    return r ? err : NULL;
}

unsigned commands_maintenance_list(void *ctx, const char **names, unsigned max)
{
    struct gateway *g = ctx;
    unsigned n = 0;

    for (unsigned i = 0; i < g->cfg.n_sensors && n < max; i++)
        if (g->rt[i].maint_until)
            names[n++] = g->cfg.sensors[i].name;
    return n;
}

/* get: {"id":"g1","sensors":["gas-01"]} (all sensors without "sensors"):
 * each one's latest reading, quality, active alarms and maintenance. */
static const char *cmd_get(struct gateway *g, const struct cmd *c, cJSON *out, char *err, size_t errlen)
{
    int idx[CMD_MAX_SENSORS];
    unsigned n = c->has_sensors ? c->n_sensors : g->cfg.n_sensors;

    for (unsigned k = 0; c->has_sensors && k < c->n_sensors; k++) {
        if ((idx[k] = core_sensor_index(g, c->sensors[k])) < 0) {
            snprintf(err, errlen, "no sensor '%s'", c->sensors[k]);
            return err;
        }
    }
    oom = false;
    add(out, "ts", cJSON_CreateNumber((double)loop_wallclock_ms()));
    cJSON *list = add(out, "sensors", cJSON_CreateArray());
    for (unsigned k = 0; list && k < n; k++) {
        unsigned i = c->has_sensors ? (unsigned)idx[k] : k;
        const struct cfg_sensor *s = &g->cfg.sensors[i];
        const struct sensor_rt *rt = &g->rt[i];
        bool read = rt->ts_ms != 0;
        cJSON *e = cJSON_CreateObject();
        if (!e || !cJSON_AddItemToArray(list, e)) {
            cJSON_Delete(e);
            oom = true;
            break;
        }
        add(e, "sensor", cJSON_CreateString(s->name));
        add(e, "class", cJSON_CreateString(s->cls));
        add(e, "lifeline", cJSON_CreateString(lifeline_names[s->lifeline]));
        add(e, "value", num_or_null(read && (rt->quality == Q_GOOD || rt->quality == Q_OUT_OF_RANGE), rt->value));
        add(e, "unit", cJSON_CreateString(s->unit));
        add(e, "quality", read ? cJSON_CreateString(quality_name(rt->quality)) : cJSON_CreateNull());
        add(e, "ts", num_or_null(read, (double)rt->ts_ms));
        cJSON *alarms = add(e, "alarms", cJSON_CreateArray());
        for (int k2 = 0; alarms && k2 < COND_COUNT; k2++) {
            if (!rt->alarm_id[k2])
                continue;
            cJSON *a = cJSON_CreateObject();
            if (!a || !cJSON_AddItemToArray(alarms, a)) {
                cJSON_Delete(a);
                oom = true;
                break;
            }
            add(a, "alarm_id", cJSON_CreateNumber((double)rt->alarm_id[k2]));
            add(a, "condition", cJSON_CreateString(condition_name((enum condition)k2)));
            add(a, "level", cJSON_CreateString(level_name(rt->st.cond[k2].level)));
            add(a, "acked", cJSON_CreateBool(rt->acked[k2]));
        }
        add(e, "maintenance", num_or_null(rt->maint_until != 0,
                                          (double)((rt->maint_until - g->loop.now_ms + 999) / 1000)));
    }
    return oom ? "out of memory" : NULL;
}

/* ---- set ---- */

/* set: {"id":"s1","sensor":"gas-01","set":{"red":40,"on_delay":"5s"}}:
 * validated as a whole config, written atomically (the previous version
 * kept as FILE.prev), then applied as by SIGHUP (confchange.c). */
static const char *cmd_set(struct gateway *g, const struct cmd *c, cJSON *out, char *err, size_t errlen)
{
    struct sensor_edit e[CMD_MAX_SET];

    if (!c->sensor[0])
        return "\"sensor\" is missing";
    if (!c->has_set)
        return "\"set\" is missing";
    for (unsigned k = 0; k < c->n_set; k++)
        e[k] = (struct sensor_edit){c->sensor, c->set[k].key, c->set[k].remove ? NULL : c->set[k].value};
    if (core_config_change(g, e, c->n_set, "the center", err, errlen) < 0)
        return err;
    oom = false;
    add(out, "sensor", cJSON_CreateString(c->sensor));
    return oom ? "changed, but out of memory for the reply" : NULL;
}

/* ---- history ---- */

struct history_ctx {
    cJSON *list;
    int n, limit;
    int64_t next;
    bool has_next;
};

static void history_row(void *ctx, int64_t ts_ms, double value, bool has, enum quality q)
{
    struct history_ctx *h = ctx;
    cJSON *row;

    if (h->n++ == h->limit) { /* the one past the page: where the next begins */
        h->next = ts_ms;
        h->has_next = true;
        return;
    }
    row = cJSON_CreateArray();
    if (!row || !cJSON_AddItemToArray(h->list, row)) {
        cJSON_Delete(row);
        oom = true;
        return;
    }
    cJSON *a = cJSON_CreateNumber((double)ts_ms), *b = num_or_null(has, value),
          *c = cJSON_CreateString(quality_name(q));
    if (!cJSON_AddItemToArray(row, a) || !cJSON_AddItemToArray(row, b) || !cJSON_AddItemToArray(row, c))
        oom = true;
}

/* history: {"id":"h1","sensor":"gas-01","from":1764000000000,"to":1764003600000,"limit":500}:
 * readings from <= ts < to, oldest first; "next" is the "from" of the next page. */
static const char *cmd_history(struct gateway *g, const struct cmd *c, cJSON *out, char *err, size_t errlen)
{
    int64_t sensor_id;

    if (!c->sensor[0])
        return "\"sensor\" is missing";
    int i = core_sensor_index(g, c->sensor);
    if (i < 0) {
        snprintf(err, errlen, "no sensor '%s'", c->sensor);
        return err;
    }
    int64_t from = c->has_from ? c->from : 0, to = c->has_to ? c->to : INT64_MAX;
    if (to <= from)
        return "\"to\" must be after \"from\"";
    sensor_id = g->rt[i].store_id;
    oom = false;
    add(out, "sensor", cJSON_CreateString(c->sensor));
    add(out, "unit", cJSON_CreateString(g->cfg.sensors[i].unit));
    struct history_ctx h = {.list = add(out, "readings", cJSON_CreateArray()),
                            .limit = c->has_limit ? (int)c->limit : HISTORY_LIMIT};
    if (!h.list)
        return "out of memory";
    if (store_history(g->store, sensor_id, from, to, h.limit + 1, history_row, &h) < 0)
        return "the history could not be read";
    add(out, "next", num_or_null(h.has_next, (double)h.next));
    return oom ? "out of memory" : NULL;
}

/* ---- replay ---- */

static int replay_one(void *ctx, int64_t seq, const char *payload)
{
    struct gateway *g = ctx;
    return store_outbox_add(g->store, PRIO_ALARM, seq, g->alarm_topic, payload, strlen(payload), 1);
}

/* replay: {"id":"r1","from":120,"to":180}: the alarm events with those seq
 * are sent again on .../alarm, as they were (the center dedupes by seq). */
static const char *cmd_replay(struct gateway *g, const struct cmd *c, cJSON *out, char *err, size_t errlen)
{
    if (!c->has_from || !c->has_to)
        return "\"from\" and \"to\" (seq) are required";
    if (c->to < c->from)
        return "\"to\" must not be below \"from\"";
    if (c->to - c->from >= REPLAY_MAX) {
        snprintf(err, errlen, "at most %d events per replay", REPLAY_MAX);
        return err;
    }
    int n = store_events(g->store, c->from, c->to, replay_one, g);
    if (n < 0)
        return "the alarm events could not be read";
    log_info("core: replay of seq %lld..%lld asked by the center: %d events", (long long)c->from,
             (long long)c->to, n);
    oom = false;
    add(out, "count", cJSON_CreateNumber(n));
    add(out, "last_seq", cJSON_CreateNumber((double)store_last_seq(g->store)));
    return oom ? "out of memory" : NULL;
}

/* ---- status, reboot ---- */

static const char *cmd_status(struct gateway *g, const struct cmd *c, cJSON *out, char *err, size_t errlen)
{
    const char *names[CMD_MAX_SENSORS];
    struct status_msg m;
    unsigned active = 0;

    (void)c, (void)err, (void)errlen;
    if (!g->uplink)
        return "the uplink is being restarted";
    uplink_status_fill(g->uplink, "online", &m, names, CMD_MAX_SENSORS);
    for (unsigned i = 0; i < g->cfg.n_sensors; i++)
        for (int k = 0; k < COND_COUNT; k++)
            active += g->rt[i].alarm_id[k] != 0;
    oom = false;
    cJSON *st = add(out, "status", payload_status_object(&m));
    if (st) {
        add(st, "uptime_s", cJSON_CreateNumber((double)((g->loop.now_ms - g->started_ms) / 1000)));
        add(st, "active_alarms", cJSON_CreateNumber(active));
        add(st, "last_seq", cJSON_CreateNumber((double)store_last_seq(g->store)));
        add(st, "store_bytes", cJSON_CreateNumber((double)store_used_bytes(g->store)));
        struct health_mem mem;
        health_memory(&mem);
        add(st, "rss_kb", cJSON_CreateNumber((double)mem.rss_kb));
        add(st, "rss_peak_kb", cJSON_CreateNumber((double)mem.peak_kb));
        add(st, "mem_total_kb", cJSON_CreateNumber((double)mem.total_kb));
        add(st, "mem_available_kb", cJSON_CreateNumber((double)mem.available_kb));
    }
    return oom ? "out of memory" : NULL;
}

void commands_on_reboot(struct loop *l, struct loop_timer *t)
{
    struct gateway *g = container_of(t, struct gateway, reboot_timer);

    log_info("core: restarting, as the center asked");
    g->reboot = true;
    loop_stop(l);
}

/* reboot: {"id":"b1"}: the daemon stops cleanly (offline status, outbox and
 * database closed) a second after the reply, and starts again in place. */
static const char *cmd_reboot(struct gateway *g, const struct cmd *c, cJSON *out, char *err, size_t errlen)
{
    (void)c, (void)out;
    if (loop_timer_set(&g->reboot_timer, REBOOT_DELAY_MS, 0) < 0) {
        snprintf(err, errlen, "cannot arm the restart timer");
        return err;
    }
    return NULL;
}

void commands_on_message(void *ctx, const char *name, const char *payload, size_t len)
{
    static const struct {
        const char *name;
        const char *(*fn)(struct gateway *, const struct cmd *, cJSON *, char *, size_t);
    } cmds[] = {
        {"ack", cmd_ack},         {"get", cmd_get},         {"set", cmd_set},
        {"maintenance", cmd_maintenance}, {"history", cmd_history}, {"replay", cmd_replay},
        {"reset", cmd_reset},     {"status", cmd_status},   {"reboot", cmd_reboot},
    };
    struct gateway *g = ctx;
    struct cmd *c = calloc(1, sizeof(*c));
    cJSON *fields = cJSON_CreateObject();
    char err[CFG_ERR_MAX + 32];
    const char *error = NULL;

    if (!c || !fields) {
        log_err("core: command '%.40s': out of memory", name);
        free(c);
        cJSON_Delete(fields);
        return;
    }
    if (payload_parse_cmd(payload, len, c, err, sizeof(err)) < 0) {
        error = err;
    } else {
        error = "unknown command (this gateway knows: ack, get, set, maintenance, history, replay, "
                "reset, status, reboot)";
        for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
            if (strcmp(name, cmds[i].name) == 0)
                error = cmds[i].fn(g, c, fields, err, sizeof(err));
    }
    if (error) {
        log_warn("core: command '%.40s' refused: %s", name, error);
        cJSON_Delete(fields);
        fields = NULL; /* an error reply carries nothing else */
    } else {
        log_info("core: command '%.40s' done%s%s", name, c->has_id ? ", id " : "", c->has_id ? c->id : "");
    }
    reply(g, name, c, error, fields);
    free(c);
}
