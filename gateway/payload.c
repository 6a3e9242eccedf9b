#include "payload.h"

#include <cjson/cJSON.h>
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
    return print(o, buf, len);
}
