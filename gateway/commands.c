/* commands: what the center asks of the gateway on cmd/NAME, answered on
 * reply/NAME through the outbox (docs/mqtt.md "Commands"). A command is
 * checked whole before anything changes: an error reply changes nothing.
 * An adapter: it parses the payload, calls the core (core.h) and formats
 * the reply; the console does the same for its commands. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "core.h"
#include "log.h"
#include "payload.h"

#define REPLY_MAX (256 * 1024)
#define REPLAY_MAX 10000
#define HISTORY_LIMIT 500
#define SET_BURST 3
#define REFUSED_REPLY_MS 1000 /* at most one "rate limited" reply a second */
#define REFUSED_LOG_MS 10000

/* ---- the rate limit ---- */

/* A token bucket in thousandths of a token: n tokens per period_ms, at
 * most burst of them. The first call finds it full. */
struct bucket {
    int64_t milli;
    int64_t last_ms;
    bool started;
};

static bool bucket_take(struct bucket *b, int64_t now_ms, int64_t n, int64_t period_ms, int64_t burst)
{
    int64_t cap = burst * 1000, dt = now_ms - b->last_ms;

    if (!b->started || period_ms <= 0) {
        b->milli = cap;
        b->started = true;
    } else if (dt > 0) {
        /* a long pause refills it whole (and keeps the product in range) */
        b->milli = dt >= period_ms * burst ? cap : b->milli + dt * n * 1000 / period_ms;
        if (b->milli > cap)
            b->milli = cap;
    }
    b->last_ms = now_ms;
    if (b->milli < 1000)
        return false;
    b->milli -= 1000;
    return true;
}

/* The daemon's one gateway: what the center may ask and how fast. It
 * outlives a reload and a reboot in place, as the broker's view does. */
static struct {
    struct bucket all, set;
    int64_t refused, reply_ms, log_ms;
} limit;

/* Whether a command may go on: every command takes a token of the
 * bucket of all (before its payload is read), a set that reads well one
 * of its own too (before the config is touched). Counts and logs one
 * that may not, and says whether it still gets its "rate limited" reply
 * (at most one a second: a flood costs no room in the outbox either). */
static bool rate_ok(struct gateway *g, bool set, bool *answer)
{
    const struct cfg_mqtt *mc = &core_config(g)->mqtt;
    int64_t now = loop_clock_ms();

    if (set ? !mc->set_interval_ms || bucket_take(&limit.set, now, 1, mc->set_interval_ms, SET_BURST)
            : !mc->cmd_rate || bucket_take(&limit.all, now, mc->cmd_rate, 1000, mc->cmd_burst))
        return true;
    limit.refused++;
    if (limit.refused == 1 || now - limit.log_ms >= REFUSED_LOG_MS) {
        limit.log_ms = now;
        log_warn("core: commands from the center rate limited: %lld refused so far (cmd_rate %d/s, cmd_burst %d, "
                 "set_interval %lldms)",
                 (long long)limit.refused, mc->cmd_rate, mc->cmd_burst, (long long)mc->set_interval_ms);
    }
    *answer = limit.refused == 1 || now - limit.reply_ms >= REFUSED_REPLY_MS;
    if (*answer)
        limit.reply_ms = now;
    return false;
}

/* ---- commands from the center ---- */

/* The reply goes through the outbox like everything else: it survives an
 * outage and a restart. */
static void reply(struct gateway *g, const char *name, const struct cmd *c, const char *error, cJSON *fields)
{
    char kind[80];
    size_t len = 0;
    char *payload = payload_reply_alloc(c, error, fields, &len);

    if (payload && len > REPLY_MAX) {
        free(payload);
        payload = payload_reply_alloc(c, "the answer is too large: ask for less", NULL, &len);
    }
    if (!payload || snprintf(kind, sizeof(kind), "reply/%s", name) >= (int)sizeof(kind) ||
        core_send(g, kind, payload, len) < 0)
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
    char by[80];

    (void)out;
    if (!c->has_alarm_id)
        return "\"alarm_id\" is missing";
    snprintf(by, sizeof(by), "center:%s", c->by[0] ? c->by : "unnamed");
    int r = core_ack(g, c->alarm_id, by, NULL, NULL);
    if (r == -EALREADY)
        snprintf(err, errlen, "alarm %lld is already acknowledged", (long long)c->alarm_id);
    else if (r == -ENOENT)
        snprintf(err, errlen, "no active alarm %lld", (long long)c->alarm_id);
    else if (r < 0)
        return "the acknowledgement could not be stored";
    return r < 0 ? err : NULL;
}

/* maintenance: {"id":"m1","sensor":"gas-01","duration":3600} (or "bus":
 * a whole bus; duration 0 ends it). Its alarms are still recorded and sent,
 * flagged "maintenance"; they start no action and are not reminded. */
static const char *cmd_maintenance(struct gateway *g, const struct cmd *c, cJSON *out, char *err, size_t errlen)
{
    char by[80];

    (void)out;
    if (!c->sensor[0] == !c->bus[0])
        return "give one of \"sensor\" or \"bus\"";
    if (!c->has_duration)
        return "\"duration\" is missing";
    snprintf(by, sizeof(by), "center%s%s", c->by[0] ? ":" : "", c->by);
    if (core_maintenance(g, c->sensor[0] ? c->sensor : NULL, c->bus[0] ? c->bus : NULL, c->duration_s * 1000, by) <=
        0) {
        snprintf(err, errlen, "no %s '%s'", c->sensor[0] ? "sensor" : "bus with sensors",
                 c->sensor[0] ? c->sensor : c->bus);
        return err;
    }
    return NULL;
}

/* reset: {"id":"r1","action":"siren"} releases a latched action. */
static const char *cmd_reset(struct gateway *g, const struct cmd *c, cJSON *out, char *err, size_t errlen)
{
    (void)out;
    if (!c->action[0])
        return "\"action\" is missing";
    int r = core_output_reset(g, c->action);
    if (r == -ENOENT)
        snprintf(err, errlen, "no action '%s'", c->action);
    else if (r == -EALREADY)
        snprintf(err, errlen, "action '%s' is not latched", c->action);
    else if (r < 0)
        snprintf(err, errlen, "action '%s' cannot be reset now: %s", c->action, strerror(-r));
    return r ? err : NULL;
}

/* get: {"id":"g1","sensors":["gas-01"]} (all sensors without "sensors"):
 * each one's latest reading, quality, active alarms and maintenance. */
static const char *cmd_get(struct gateway *g, const struct cmd *c, cJSON *out, char *err, size_t errlen)
{
    int idx[CMD_MAX_SENSORS];
    const struct config *cfg = core_config(g);
    unsigned n = c->has_sensors ? c->n_sensors : cfg->n_sensors;

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
        const struct cfg_sensor *s = &cfg->sensors[i];
        struct core_sensor st;
        core_sensor(g, i, &st);
        cJSON *e = cJSON_CreateObject();
        if (!e || !cJSON_AddItemToArray(list, e)) {
            cJSON_Delete(e);
            oom = true;
            break;
        }
        add(e, "sensor", cJSON_CreateString(s->name));
        add(e, "class", cJSON_CreateString(s->cls));
        add(e, "lifeline", cJSON_CreateString(lifeline_names[s->lifeline]));
        add(e, "value", num_or_null(st.read && (st.quality == Q_GOOD || st.quality == Q_OUT_OF_RANGE), st.value));
        add(e, "unit", cJSON_CreateString(s->unit));
        add(e, "quality", st.read ? cJSON_CreateString(quality_name(st.quality)) : cJSON_CreateNull());
        add(e, "ts", num_or_null(st.read, (double)st.ts_ms));
        cJSON *alarms = add(e, "alarms", cJSON_CreateArray());
        for (unsigned k2 = 0; alarms && k2 < st.n_alarms; k2++) {
            const struct core_alarm *al = &st.alarms[k2];
            cJSON *a = cJSON_CreateObject();
            if (!a || !cJSON_AddItemToArray(alarms, a)) {
                cJSON_Delete(a);
                oom = true;
                break;
            }
            add(a, "alarm_id", cJSON_CreateNumber((double)al->id));
            add(a, "condition", cJSON_CreateString(condition_name(al->cond)));
            add(a, "level", cJSON_CreateString(level_name(al->level)));
            add(a, "acked", cJSON_CreateBool(al->acked));
        }
        add(e, "maintenance", num_or_null(st.maintenance, (double)((st.maint_left_ms + 999) / 1000)));
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
    oom = false;
    add(out, "sensor", cJSON_CreateString(c->sensor));
    add(out, "unit", cJSON_CreateString(core_config(g)->sensors[i].unit));
    struct history_ctx h = {.list = add(out, "readings", cJSON_CreateArray()),
                            .limit = c->has_limit ? (int)c->limit : HISTORY_LIMIT};
    if (!h.list)
        return "out of memory";
    if (core_history(g, (unsigned)i, from, to, h.limit + 1, history_row, &h) < 0)
        return "the history could not be read";
    add(out, "next", num_or_null(h.has_next, (double)h.next));
    return oom ? "out of memory" : NULL;
}

/* ---- replay ---- */

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
    int n = core_replay(g, c->from, c->to);
    if (n == -EBUSY)
        return "a replay is in progress";
    if (n < 0)
        return "the alarm events could not be read";
    log_info("core: replay of seq %lld..%lld asked by the center: %d events", (long long)c->from, (long long)c->to, n);
    oom = false;
    add(out, "count", cJSON_CreateNumber(n));
    struct core_status st;
    core_status(g, &st);
    add(out, "last_seq", cJSON_CreateNumber((double)st.last_seq));
    return oom ? "out of memory" : NULL;
}

/* ---- status, reboot ---- */

static const char *cmd_status(struct gateway *g, const struct cmd *c, cJSON *out, char *err, size_t errlen)
{
    const char *names[CMD_MAX_SENSORS];
    struct status_msg m;
    struct core_status cs;

    (void)c, (void)err, (void)errlen;
    if (core_status_msg(g, &m, names, CMD_MAX_SENSORS) < 0)
        return "the uplink is being restarted";
    core_status(g, &cs);
    oom = false;
    cJSON *st = add(out, "status", payload_status_object(&m));
    if (st) {
        add(st, "uptime_s", cJSON_CreateNumber((double)cs.uptime_s));
        add(st, "active_alarms", cJSON_CreateNumber(cs.active_alarms));
        add(st, "last_seq", cJSON_CreateNumber((double)cs.last_seq));
        add(st, "store_bytes", cJSON_CreateNumber((double)cs.store_bytes));
        add(st, "rss_kb", cJSON_CreateNumber((double)cs.mem.rss_kb));
        add(st, "rss_peak_kb", cJSON_CreateNumber((double)cs.mem.peak_kb));
        add(st, "mem_total_kb", cJSON_CreateNumber((double)cs.mem.total_kb));
        add(st, "mem_available_kb", cJSON_CreateNumber((double)cs.mem.available_kb));
    }
    return oom ? "out of memory" : NULL;
}

/* reboot: {"id":"b1"}: the daemon stops cleanly (offline status, outbox and
 * database closed) a second after the reply, and starts again in place. */
static const char *cmd_reboot(struct gateway *g, const struct cmd *c, cJSON *out, char *err, size_t errlen)
{
    (void)c, (void)out;
    if (core_reboot(g) < 0) {
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
        {"ack", cmd_ack},         {"get", cmd_get},       {"set", cmd_set},     {"maintenance", cmd_maintenance},
        {"history", cmd_history}, {"replay", cmd_replay}, {"reset", cmd_reset}, {"status", cmd_status},
        {"reboot", cmd_reboot},
    };
    struct gateway *g = ctx;
    bool answer = false;

    if (!rate_ok(g, false, &answer)) {
        struct cmd *rc = answer ? calloc(1, sizeof(*rc)) : NULL;
        char e[CFG_ERR_MAX + 32];
        if (rc) {
            /* only its id is wanted: an unreadable payload is answered with null */
            (void)payload_parse_cmd(payload, len, rc, e, sizeof(e));
            reply(g, name, rc, "rate limited", NULL);
        }
        free(rc);
        return;
    }
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
    } else if (strcmp(name, "set") == 0 && !rate_ok(g, true, &answer)) {
        if (answer)
            reply(g, name, c, "rate limited", NULL);
        free(c);
        cJSON_Delete(fields);
        return;
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
