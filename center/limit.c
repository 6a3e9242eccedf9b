/*
 * Per-gateway message caps (limit.h).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "limit.h"

#define LIMIT_SLOTS 4096

struct slot {
    char gw[GW_MAX];
    double tokens[LIMIT_KINDS];
    long long last_ms, report_ms;
    long dropped;
};

struct limiter {
    struct limit_opts o;
    struct slot slots[LIMIT_SLOTS];
};

struct limiter *limit_new(const struct limit_opts *o)
{
    struct limiter *l = calloc(1, sizeof(*l));
    if (l)
        l->o = *o;
    return l;
}

void limit_free(struct limiter *l)
{
    free(l);
}

static struct slot *slot_of(struct limiter *l, const char *gw, long long now_ms)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const char *p = gw; *p; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    struct slot *s = &l->slots[h % LIMIT_SLOTS];
    if (strcmp(s->gw, gw) != 0) {
        memset(s, 0, sizeof(*s));
        snprintf(s->gw, sizeof(s->gw), "%s", gw);
        for (int k = 0; k < LIMIT_KINDS; k++)
            s->tokens[k] = (double)l->o.per_min[k];
        s->last_ms = now_ms; /* report_ms 0: the first drop is said at once */
    }
    return s;
}

bool limit_take(struct limiter *l, const char *gw, enum limit_kind kind, size_t len, long long now_ms, bool *too_big)
{
    struct slot *s = slot_of(l, gw, now_ms);
    long long dt = now_ms - s->last_ms;

    if (dt > 0) {
        for (int k = 0; k < LIMIT_KINDS; k++) {
            s->tokens[k] += (double)l->o.per_min[k] * (double)dt / 60000.0;
            if (s->tokens[k] > (double)l->o.per_min[k])
                s->tokens[k] = (double)l->o.per_min[k];
        }
        s->last_ms = now_ms;
    }
    *too_big = len > l->o.max_bytes;
    if (!*too_big && s->tokens[kind] >= 1.0) {
        s->tokens[kind] -= 1.0;
        return true;
    }
    s->dropped++;
    return false;
}

long limit_report(struct limiter *l, const char *gw, long long now_ms, long long every_ms)
{
    struct slot *s = slot_of(l, gw, now_ms);
    long n = s->dropped;

    if (!n || (s->report_ms && now_ms - s->report_ms < every_ms))
        return 0;
    s->dropped = 0;
    s->report_ms = now_ms;
    return n;
}

long limit_due(struct limiter *l, long long now_ms, long long every_ms, char *gw)
{
    for (size_t i = 0; i < LIMIT_SLOTS; i++) {
        struct slot *s = &l->slots[i];
        if (s->dropped && (!s->report_ms || now_ms - s->report_ms >= every_ms)) {
            snprintf(gw, GW_MAX, "%s", s->gw);
            return limit_report(l, s->gw, now_ms, every_ms);
        }
    }
    return 0;
}
