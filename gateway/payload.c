#include "payload.h"

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

static int print(cJSON *o, char *buf, size_t len)
{
    int ok = o && len <= 0x7fffffff && cJSON_PrintPreallocated(o, buf, (int)len, false);

    cJSON_Delete(o);
    return ok ? (int)strlen(buf) : -1;
}

/* cJSON_Add* return NULL on allocation failure; the first failure makes the
 * whole document fail in print() through a NULL check on the object. */
static cJSON *add_num(cJSON *o, const char *k, double v)
{
    return o && cJSON_AddNumberToObject(o, k, v) ? o : (cJSON_Delete(o), NULL);
}

static cJSON *add_str(cJSON *o, const char *k, const char *v)
{
    return o && cJSON_AddStringToObject(o, k, v ? v : "") ? o : (cJSON_Delete(o), NULL);
}

static cJSON *add_opt(cJSON *o, const char *k, bool has, double v)
{
    if (!o)
        return NULL;
    if (has)
        return add_num(o, k, v);
    return cJSON_AddNullToObject(o, k) ? o : (cJSON_Delete(o), NULL);
}

int payload_alarm(const struct alarm_msg *m, char *buf, size_t len)
{
    cJSON *o = cJSON_CreateObject();

    o = add_num(o, "seq", (double)m->seq);
    o = add_num(o, "ts", (double)m->ts_ms);
    o = add_num(o, "alarm_id", (double)m->alarm_id);
    o = add_str(o, "sensor", m->sensor);
    o = add_str(o, "class", m->cls);
    o = add_str(o, "lifeline", m->lifeline);
    o = add_str(o, "condition", m->condition);
    o = add_str(o, "event", m->event);
    o = add_str(o, "level", m->level);
    o = add_str(o, "prev_level", m->prev_level);
    o = add_opt(o, "value", m->has_value, m->value);
    o = add_str(o, "unit", m->unit);
    o = add_opt(o, "threshold", m->has_threshold, m->threshold);
    o = add_str(o, "quality", m->quality);
    if (m->by)
        o = add_str(o, "by", m->by);
    if (o && m->maintenance && !cJSON_AddTrueToObject(o, "maintenance"))
        o = (cJSON_Delete(o), NULL);
    return print(o, buf, len);
}

int payload_status(const struct status_msg *m, char *buf, size_t len)
{
    cJSON *o = cJSON_CreateObject();

    o = add_str(o, "state", m->state);
    o = add_str(o, "version", m->version);
    o = add_num(o, "boot", m->boot);
    o = add_num(o, "sensors", m->sensors);
    o = add_num(o, "ts", (double)m->ts_ms);
    o = add_str(o, "config", m->config);
    o = add_num(o, "outbox", (double)m->outbox);
    cJSON *d = o ? cJSON_AddObjectToObject(o, "dropped") : NULL;
    if (!d || !cJSON_AddNumberToObject(d, "alarm", (double)m->dropped[0]) ||
        !cJSON_AddNumberToObject(d, "status", (double)m->dropped[1]) ||
        !cJSON_AddNumberToObject(d, "telemetry", (double)m->dropped[2]))
        o = (cJSON_Delete(o), NULL);
    cJSON *list = o ? cJSON_AddArrayToObject(o, "maintenance") : NULL;
    for (unsigned i = 0; list && i < m->n_maintenance; i++) {
        cJSON *n = cJSON_CreateString(m->maintenance[i]);
        if (!n || !cJSON_AddItemToArray(list, n)) {
            cJSON_Delete(n);
            list = NULL;
        }
    }
    if (!list)
        o = (cJSON_Delete(o), NULL);
    return print(o, buf, len);
}

int payload_telemetry(int64_t ts_ms, const struct telemetry_reading *r, unsigned n, char *buf, size_t len)
{
    cJSON *o = cJSON_CreateObject();

    o = add_num(o, "ts", (double)ts_ms);
    cJSON *list = o ? cJSON_AddArrayToObject(o, "readings") : NULL;
    for (unsigned i = 0; list && i < n; i++) {
        cJSON *e = cJSON_CreateObject();
        e = add_str(e, "sensor", r[i].sensor);
        e = add_num(e, "ts", (double)r[i].ts_ms);
        e = add_opt(e, "value", r[i].has_value, r[i].value);
        e = add_str(e, "unit", r[i].unit);
        e = add_str(e, "quality", r[i].quality);
        if (r[i].has_stats) {
            e = add_opt(e, "min", r[i].n > 0, r[i].min);
            e = add_opt(e, "max", r[i].n > 0, r[i].max);
            e = add_opt(e, "avg", r[i].n > 0, r[i].avg);
            e = add_num(e, "n", r[i].n);
        }
        if (!e || !cJSON_AddItemToArray(list, e)) {
            cJSON_Delete(e);
            list = NULL;
        }
    }
    if (!list)
        o = (cJSON_Delete(o), NULL);
    return print(o, buf, len);
}

int payload_action(int64_t ts_ms, const char *action, const char *output, int value, const char *error,
                   char *buf, size_t len)
{
    cJSON *o = cJSON_CreateObject();

    o = add_str(o, "type", "action");
    o = add_num(o, "ts", (double)ts_ms);
    o = add_str(o, "action", action);
    o = add_str(o, "output", output);
    o = add_num(o, "value", value);
    if (o && !cJSON_AddBoolToObject(o, "ok", error == NULL))
        o = (cJSON_Delete(o), NULL);
    if (error)
        o = add_str(o, "error", error);
    return print(o, buf, len);
}

int payload_store_reset(int64_t ts_ms, const char *moved_to, char *buf, size_t len)
{
    cJSON *o = cJSON_CreateObject();

    o = add_str(o, "type", "store_reset");
    o = add_num(o, "ts", (double)ts_ms);
    o = add_str(o, "moved_to", moved_to);
    return print(o, buf, len);
}

int payload_reply(const struct cmd *c, const char *error, char *buf, size_t len)
{
    cJSON *o = cJSON_CreateObject();

    if (o && c->has_id)
        o = add_str(o, "id", c->id);
    else if (o && !cJSON_AddNullToObject(o, "id"))
        o = (cJSON_Delete(o), NULL);
    if (o && !cJSON_AddBoolToObject(o, "ok", error == NULL))
        o = (cJSON_Delete(o), NULL);
    if (error)
        o = add_str(o, "error", error);
    return print(o, buf, len);
}

/* Every field is optional and type-checked: a hostile payload gets an
 * error reply, never a crash or a partial change. */
int payload_parse_cmd(const char *json, size_t len, struct cmd *c, char *err, size_t errlen)
{
    cJSON *o, *f;
    int r = -1;

    memset(c, 0, sizeof(*c));
    if (len > CMD_MAX_PAYLOAD) {
        snprintf(err, errlen, "payload too large (%zu bytes, at most %d)", len, CMD_MAX_PAYLOAD);
        return -1;
    }
    o = cJSON_ParseWithLength(json, len);
    if (!o || !cJSON_IsObject(o)) {
        snprintf(err, errlen, "payload is not a JSON object");
        goto out;
    }
    f = cJSON_GetObjectItemCaseSensitive(o, "id");
    if (f) {
        if (!cJSON_IsString(f) || strlen(f->valuestring) >= sizeof(c->id)) {
            snprintf(err, errlen, "\"id\" must be a string of at most %zu characters", sizeof(c->id) - 1);
            goto out;
        }
        snprintf(c->id, sizeof(c->id), "%s", f->valuestring);
        c->has_id = true;
    }
    f = cJSON_GetObjectItemCaseSensitive(o, "alarm_id");
    if (f) {
        if (!cJSON_IsNumber(f) || f->valuedouble < 1 || f->valuedouble > 9007199254740991.0 ||
            f->valuedouble != (double)(int64_t)f->valuedouble) {
            snprintf(err, errlen, "\"alarm_id\" must be a positive whole number");
            goto out;
        }
        c->alarm_id = (int64_t)f->valuedouble;
        c->has_alarm_id = true;
    }
    static const struct { const char *key; size_t off; } names[] = {
        {"sensor", offsetof(struct cmd, sensor)}, {"bus", offsetof(struct cmd, bus)},
        {"action", offsetof(struct cmd, action)},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        f = cJSON_GetObjectItemCaseSensitive(o, names[i].key);
        if (!f)
            continue;
        if (!cJSON_IsString(f) || !f->valuestring[0] || strlen(f->valuestring) >= sizeof(c->sensor)) {
            snprintf(err, errlen, "\"%s\" must be a name of 1 to %zu characters", names[i].key,
                     sizeof(c->sensor) - 1);
            goto out;
        }
        snprintf((char *)c + names[i].off, sizeof(c->sensor), "%s", f->valuestring);
    }
    f = cJSON_GetObjectItemCaseSensitive(o, "duration");
    if (f) {
        if (!cJSON_IsNumber(f) || f->valuedouble < 0 || f->valuedouble > 7 * 86400.0 ||
            f->valuedouble != (double)(int64_t)f->valuedouble) {
            snprintf(err, errlen, "\"duration\" must be whole seconds from 0 to 604800");
            goto out;
        }
        c->duration_s = (int64_t)f->valuedouble;
        c->has_duration = true;
    }
    f = cJSON_GetObjectItemCaseSensitive(o, "by");
    if (f) {
        if (!cJSON_IsString(f) || !f->valuestring[0] || strlen(f->valuestring) >= sizeof(c->by)) {
            snprintf(err, errlen, "\"by\" must be a string of 1 to %zu characters", sizeof(c->by) - 1);
            goto out;
        }
        snprintf(c->by, sizeof(c->by), "%s", f->valuestring);
    }
    r = 0;
out:
    cJSON_Delete(o);
    return r;
}
