#include "payload.h"
#include "text.h"

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
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

/* "ok", and "error" when there is one: the end of an action or console event. */
static cJSON *add_outcome(cJSON *o, const char *error)
{
    if (o && !cJSON_AddBoolToObject(o, "ok", error == NULL))
        o = (cJSON_Delete(o), NULL);
    return error ? add_str(o, "error", error) : o;
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

cJSON *payload_status_object(const struct status_msg *m)
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
    return o;
}

int payload_status(const struct status_msg *m, char *buf, size_t len)
{
    return print(payload_status_object(m), buf, len);
}

/* Telemetry is the hot path of the JSON (every reading of every sensor):
 * keys are constants and strings references (cJSON copies neither), and the
 * millisecond timestamps go in as integers ("%lld"), not through cJSON's
 * print-a-double-and-read-it-back. */
static cJSON *put(cJSON *o, const char *constant_key, cJSON *item)
{
    if (o && item && cJSON_AddItemToObjectCS(o, constant_key, item))
        return o;
    cJSON_Delete(item);
    cJSON_Delete(o);
    return NULL;
}

static cJSON *int64_item(int64_t v)
{
    char b[24];
    snprintf(b, sizeof(b), "%lld", (long long)v);
    return cJSON_CreateRaw(b);
}

int payload_telemetry(int64_t ts_ms, const struct telemetry_reading *r, unsigned n, char *buf, size_t len)
{
    cJSON *o = put(cJSON_CreateObject(), "ts", int64_item(ts_ms));
    cJSON *list = cJSON_CreateArray();

    if (!put(o, "readings", list))
        return -1; /* (put freed both) */
    for (unsigned i = 0; i < n; i++) {
        cJSON *e = cJSON_CreateObject();
        e = put(e, "sensor", cJSON_CreateStringReference(r[i].sensor));
        e = put(e, "lifeline", cJSON_CreateStringReference(r[i].lifeline));
        e = put(e, "ts", int64_item(r[i].ts_ms));
        e = put(e, "value", r[i].has_value ? cJSON_CreateNumber(r[i].value) : cJSON_CreateNull());
        e = put(e, "unit", cJSON_CreateStringReference(r[i].unit));
        e = put(e, "quality", cJSON_CreateStringReference(r[i].quality));
        if (r[i].has_stats) {
            e = put(e, "min", r[i].n > 0 ? cJSON_CreateNumber(r[i].min) : cJSON_CreateNull());
            e = put(e, "max", r[i].n > 0 ? cJSON_CreateNumber(r[i].max) : cJSON_CreateNull());
            e = put(e, "avg", r[i].n > 0 ? cJSON_CreateNumber(r[i].avg) : cJSON_CreateNull());
            e = put(e, "n", cJSON_CreateNumber(r[i].n));
        }
        if (r[i].has_total)
            e = put(e, "total", cJSON_CreateNumber(r[i].total));
        if (!e || !cJSON_AddItemToArray(list, e)) {
            cJSON_Delete(e);
            cJSON_Delete(o);
            return -1;
        }
    }
    return print(o, buf, len);
}

int payload_action(int64_t ts_ms, const char *action, const char *output, int value, const char *error, char *buf,
                   size_t len)
{
    cJSON *o = cJSON_CreateObject();

    o = add_str(o, "type", "action");
    o = add_num(o, "ts", (double)ts_ms);
    o = add_str(o, "action", action);
    o = add_str(o, "output", output);
    o = add_num(o, "value", value);
    return print(add_outcome(o, error), buf, len);
}

int payload_store_reset(int64_t ts_ms, const char *moved_to, char *buf, size_t len)
{
    cJSON *o = cJSON_CreateObject();

    o = add_str(o, "type", "store_reset");
    o = add_num(o, "ts", (double)ts_ms);
    o = add_str(o, "moved_to", moved_to);
    return print(o, buf, len);
}

int payload_console(int64_t ts_ms, const char *by, const char *command, const char *error, char *buf, size_t len)
{
    cJSON *o = cJSON_CreateObject();

    o = add_str(o, "type", "console");
    o = add_num(o, "ts", (double)ts_ms);
    o = add_str(o, "by", by);
    o = add_str(o, "command", command);
    return print(add_outcome(o, error), buf, len);
}

int payload_console_pin(int64_t ts_ms, const char *by, long long uid, unsigned failures, int64_t locked_s,
                        unsigned held, char *buf, size_t len)
{
    cJSON *o = cJSON_CreateObject();

    o = add_str(o, "type", "console_pin");
    o = add_num(o, "ts", (double)ts_ms);
    o = add_str(o, "by", by);
    o = add_num(o, "uid", (double)uid);
    o = add_num(o, "failures", failures);
    o = add_num(o, "locked_s", (double)locked_s);
    o = add_num(o, "held_back", held);
    return print(o, buf, len);
}

static cJSON *reply_object(const struct cmd *c, const char *error)
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
    return o;
}

int payload_reply(const struct cmd *c, const char *error, char *buf, size_t len)
{
    return print(reply_object(c, error), buf, len);
}

char *payload_reply_alloc(const struct cmd *c, const char *error, cJSON *fields, size_t *len)
{
    cJSON *o = reply_object(c, error);
    char *text = NULL;

    while (o && fields && fields->child) {
        cJSON *f = cJSON_DetachItemViaPointer(fields, fields->child);
        if (!cJSON_AddItemToObject(o, f->string, f)) {
            cJSON_Delete(f);
            o = (cJSON_Delete(o), NULL);
        }
    }
    cJSON_Delete(fields);
    if (o)
        text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (text)
        *len = strlen(text);
    return text;
}

static bool whole(const cJSON *f, double min, double max)
{
    return cJSON_IsNumber(f) && f->valuedouble >= min && f->valuedouble <= max &&
           f->valuedouble == (double)(int64_t)f->valuedouble;
}

/* from, to, limit: whole numbers (ms since the epoch, or seq) */
static int parse_ranges(const cJSON *o, struct cmd *c, char *err, size_t errlen)
{
    static const struct {
        const char *key;
        size_t val, has;
        double max;
    } nums[] = {
        {"from", offsetof(struct cmd, from), offsetof(struct cmd, has_from), 9007199254740991.0},
        {"to", offsetof(struct cmd, to), offsetof(struct cmd, has_to), 9007199254740991.0},
        {"limit", offsetof(struct cmd, limit), offsetof(struct cmd, has_limit), 1000},
    };
    for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(o, nums[i].key);
        if (!f)
            continue;
        if (!whole(f, nums[i].max == 1000 ? 1 : 0, nums[i].max)) {
            snprintf(err, errlen, "\"%s\" must be a whole number from %d to %.0f", nums[i].key,
                     nums[i].max == 1000 ? 1 : 0, nums[i].max);
            return -1;
        }
        *(int64_t *)((char *)c + nums[i].val) = (int64_t)f->valuedouble;
        *(bool *)((char *)c + nums[i].has) = true;
    }
    return 0;
}

/* sensors: ["gas-01", ...] */
static int parse_sensors(const cJSON *o, struct cmd *c, char *err, size_t errlen)
{
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(o, "sensors"), *e;

    if (!f)
        return 0;
    if (!cJSON_IsArray(f) || cJSON_GetArraySize(f) > CMD_MAX_SENSORS) {
        snprintf(err, errlen, "\"sensors\" must be an array of at most %d names", CMD_MAX_SENSORS);
        return -1;
    }
    cJSON_ArrayForEach(e, f)
    {
        if (!cJSON_IsString(e) || !e->valuestring[0] || strlen(e->valuestring) >= sizeof(c->sensors[0]) ||
            !text_printable(e->valuestring)) {
            snprintf(err, errlen, "\"sensors\" must hold names of 1 to %zu characters", sizeof(c->sensors[0]) - 1);
            return -1;
        }
        snprintf(c->sensors[c->n_sensors++], sizeof(c->sensors[0]), "%s", e->valuestring);
    }
    c->has_sensors = true;
    return 0;
}

/* A number as the config file writes it: the shortest text that reads back
 * the same double. */
static void number_text(double v, char *buf, size_t len)
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, len, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

/* set: {"red":40,"on_delay":"5s","blue":null} */
static int parse_set(const cJSON *o, struct cmd *c, char *err, size_t errlen)
{
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(o, "set"), *e;

    if (!f)
        return 0;
    if (!cJSON_IsObject(f) || !f->child || cJSON_GetArraySize(f) > CMD_MAX_SET) {
        snprintf(err, errlen, "\"set\" must be an object of 1 to %d keys", CMD_MAX_SET);
        return -1;
    }
    cJSON_ArrayForEach(e, f)
    {
        struct cmd_set *k = &c->set[c->n_set];
        if (strlen(e->string) >= sizeof(k->key)) {
            snprintf(err, errlen, "\"set\": key too long");
            return -1;
        }
        if (!text_printable(e->string)) {
            snprintf(err, errlen, "\"set\": keys must be printable names");
            return -1;
        }
        for (unsigned i = 0; i < c->n_set; i++) {
            if (strcmp(c->set[i].key, e->string) == 0) {
                snprintf(err, errlen, "\"set\": \"%s\" given twice", e->string);
                return -1;
            }
        }
        snprintf(k->key, sizeof(k->key), "%s", e->string);
        if (cJSON_IsNull(e)) {
            k->remove = true;
        } else if (cJSON_IsNumber(e)) {
            number_text(e->valuedouble, k->value, sizeof(k->value));
        } else if (cJSON_IsString(e) && e->valuestring[0] && strlen(e->valuestring) < sizeof(k->value) &&
                   text_printable(e->valuestring)) {
            snprintf(k->value, sizeof(k->value), "%s", e->valuestring);
        } else {
            snprintf(err, errlen,
                     "\"set\": \"%.31s\" must be a number, a string of 1 to %zu characters, "
                     "or null",
                     e->string, sizeof(k->value) - 1);
            return -1;
        }
        c->n_set++;
    }
    c->has_set = true;
    return 0;
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
    if (!text_utf8_valid(json, len)) {
        snprintf(err, errlen, "payload is not a JSON object"); /* (not UTF-8: docs/mqtt.md) */
        return -1;
    }
    o = cJSON_ParseWithLength(json, len);
    if (!o || !cJSON_IsObject(o)) {
        snprintf(err, errlen, "payload is not a JSON object");
        goto out;
    }
    f = cJSON_GetObjectItemCaseSensitive(o, "id");
    if (f) {
        if (!cJSON_IsString(f) || strlen(f->valuestring) >= sizeof(c->id) || !text_printable(f->valuestring)) {
            snprintf(err, errlen, "\"id\" must be printable text of at most %zu characters", sizeof(c->id) - 1);
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
    static const struct {
        const char *key;
        size_t off;
    } names[] = {
        {"sensor", offsetof(struct cmd, sensor)},
        {"bus", offsetof(struct cmd, bus)},
        {"action", offsetof(struct cmd, action)},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        f = cJSON_GetObjectItemCaseSensitive(o, names[i].key);
        if (!f)
            continue;
        if (!cJSON_IsString(f) || !f->valuestring[0] || strlen(f->valuestring) >= sizeof(c->sensor) ||
            !text_printable(f->valuestring)) {
            snprintf(err, errlen, "\"%s\" must be a name of 1 to %zu characters", names[i].key, sizeof(c->sensor) - 1);
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
    if (parse_ranges(o, c, err, errlen) < 0 || parse_sensors(o, c, err, errlen) < 0 || parse_set(o, c, err, errlen) < 0)
        goto out;
    f = cJSON_GetObjectItemCaseSensitive(o, "by");
    if (f) {
        if (!cJSON_IsString(f) || !f->valuestring[0] || strlen(f->valuestring) >= sizeof(c->by) ||
            !text_printable(f->valuestring)) {
            snprintf(err, errlen, "\"by\" must be printable text of 1 to %zu characters", sizeof(c->by) - 1);
            goto out;
        }
        snprintf(c->by, sizeof(c->by), "%s", f->valuestring);
    }
    r = 0;
out:
    cJSON_Delete(o);
    return r;
}
