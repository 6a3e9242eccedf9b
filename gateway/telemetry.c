#include "telemetry.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "log.h"
#include "payload.h"

#define READING_JSON_MAX 352 /* one reading with stats and a total, names at their longest */

struct tm_sensor {
    int64_t sent_ms; /* monotonic, when the last reading went; -1: never */
    double sent_value;
    enum quality sent_quality;
    double min, max, sum; /* good samples since the last one sent */
    unsigned n;
};

struct telemetry {
    const struct config *cfg;
    telemetry_out_fn out;
    void *ctx;
    struct tm_sensor *s;
    struct telemetry_reading *batch;
    unsigned n, cap;
    int64_t first_ms; /* monotonic: when the first reading of the batch joined it */
    char *buf;
    size_t buf_len;
};

int telemetry_open(struct telemetry **out, const struct config *cfg, telemetry_out_fn fn, void *ctx)
{
    struct telemetry *t = calloc(1, sizeof(*t));

    if (!t)
        return -ENOMEM;
    t->cfg = cfg;
    t->out = fn;
    t->ctx = ctx;
    t->cap = (unsigned)cfg->mqtt.telemetry_batch;
    t->s = calloc(cfg->n_sensors ? cfg->n_sensors : 1, sizeof(*t->s));
    t->batch = calloc(t->cap, sizeof(*t->batch));
    t->buf_len = (size_t)t->cap * READING_JSON_MAX + 64;
    t->buf = malloc(t->buf_len);
    if (!t->s || !t->batch || !t->buf) {
        telemetry_close(t);
        return -ENOMEM;
    }
    for (unsigned i = 0; i < cfg->n_sensors; i++)
        t->s[i].sent_ms = -1;
    *out = t;
    return 0;
}

void telemetry_close(struct telemetry *t)
{
    if (!t)
        return;
    free(t->s);
    free(t->batch);
    free(t->buf);
    free(t);
}

void telemetry_flush(struct telemetry *t, int64_t wall_ms)
{
    if (!t || !t->n)
        return;
    int len = payload_telemetry(wall_ms, t->batch, t->n, t->buf, t->buf_len);
    if (len < 0)
        log_err("telemetry: %u readings do not fit %zu bytes; dropped", t->n, t->buf_len);
    else
        t->out(t->ctx, t->buf, (size_t)len);
    t->n = 0;
}

int64_t telemetry_wait(const struct telemetry *t, int64_t now_ms)
{
    if (!t || !t->n)
        return -1;
    int64_t left = t->first_ms + t->cfg->mqtt.telemetry_delay_ms - now_ms;
    return left > 0 ? left : 0;
}

static bool due(const struct cfg_sensor *c, const struct tm_sensor *s, double value, enum quality q, int64_t now_ms)
{
    if (s->sent_ms < 0 || q != s->sent_quality || now_ms - s->sent_ms >= c->telemetry_ms)
        return true;
    return c->deadband >= 0 && q == Q_GOOD && fabs(value - s->sent_value) > c->deadband;
}

void telemetry_sample(struct telemetry *t, unsigned i, int64_t ts_ms, double value, enum quality q, double total,
                      int64_t now_ms)
{
    const struct cfg_sensor *c = &t->cfg->sensors[i];
    struct tm_sensor *s = &t->s[i];

    if (c->telemetry_ms < 0)
        return;
    if (q == Q_GOOD) {
        s->min = s->n && s->min < value ? s->min : value;
        s->max = s->n && s->max > value ? s->max : value;
        s->sum += value;
        s->n++;
    }
    if (!due(c, s, value, q, now_ms))
        return;
    if (t->n == 0)
        t->first_ms = now_ms;
    t->batch[t->n++] = (struct telemetry_reading){
        .sensor = c->name,
        .lifeline = lifeline_names[c->lifeline],
        .unit = c->unit,
        .quality = quality_name(q),
        .ts_ms = ts_ms,
        .value = value,
        .has_value = q == Q_GOOD || q == Q_OUT_OF_RANGE,
        .has_stats = c->telemetry_stats,
        .min = s->min,
        .max = s->max,
        .avg = s->n ? s->sum / s->n : 0,
        .n = s->n,
        .has_total = !isnan(total),
        .total = total,
    };
    s->sent_ms = now_ms;
    s->sent_value = value;
    s->sent_quality = q;
    s->n = 0;
    s->sum = 0;
    if (t->n == t->cap)
        telemetry_flush(t, ts_ms);
}
