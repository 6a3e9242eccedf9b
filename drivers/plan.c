#include "plan.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* qsort has no context argument: the sort key is copied into each entry. */
struct entry {
    unsigned sensor;
    uint8_t unit;
    enum reg_kind kind;
    int64_t period;
    unsigned addr, end; /* inclusive */
};

static int cmp_entry(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;

    if (x->unit != y->unit)
        return x->unit < y->unit ? -1 : 1;
    if (x->kind != y->kind)
        return x->kind < y->kind ? -1 : 1;
    if (x->period != y->period)
        return x->period < y->period ? -1 : 1;
    if (x->addr != y->addr)
        return x->addr < y->addr ? -1 : 1;
    return x->sensor < y->sensor ? -1 : x->sensor > y->sensor;
}

static unsigned slave_of(struct plan *p, uint8_t unit)
{
    for (unsigned i = 0; i < p->n_slaves; i++)
        if (p->units[i] == unit)
            return i;
    p->units[p->n_slaves] = unit;
    return p->n_slaves++;
}

int plan_build(struct plan *p, const struct field *f, unsigned bus, bool coalesce, int max_gap, int max_regs,
               int64_t t0)
{
    struct entry *e;
    unsigned n = 0;

    memset(p, 0, sizeof(*p));
    for (unsigned i = 0; i < f->n_points; i++)
        n += f->points[i]->bus == bus;
    if (!n)
        return 0;
    e = calloc(n, sizeof(*e));
    p->members = calloc(n, sizeof(*p->members));
    p->groups = calloc(n, sizeof(*p->groups));
    p->units = calloc(n, sizeof(*p->units));
    if (!e || !p->members || !p->groups || !p->units) {
        free(e);
        plan_free(p);
        return -ENOMEM;
    }
    for (unsigned i = 0, k = 0; i < f->n_points; i++) {
        const struct point *s = f->points[i];
        if (s->bus != bus)
            continue;
        e[k++] = (struct entry){.sensor = i,
                                .unit = s->unit_id,
                                .kind = s->reg.kind,
                                .period = s->poll_ms,
                                .addr = s->reg.addr,
                                .end = s->reg.addr + decode_width(s->reg.type) - 1};
    }
    if (coalesce)
        qsort(e, n, sizeof(*e), cmp_entry);
    struct plan_group *g = NULL;
    for (unsigned k = 0; k < n; k++) {
        bool bits = e[k].kind == REG_COIL || e[k].kind == REG_DISCRETE;
        unsigned limit = bits ? (unsigned)max_regs * 16 : (unsigned)max_regs;
        if (limit > (bits ? PLAN_MAX_BITS : PLAN_MAX_REGS))
            limit = bits ? PLAN_MAX_BITS : PLAN_MAX_REGS;
        unsigned end = g ? g->addr + g->count - 1u : 0;
        if (end < e[k].end)
            end = e[k].end;
        bool joins = coalesce && g && g->unit == e[k].unit && g->kind == e[k].kind && g->period_ms == e[k].period &&
                     e[k].addr <= (unsigned)g->addr + g->count + (unsigned)max_gap && end - g->addr + 1 <= limit;
        if (joins) {
            g->count = (uint16_t)(end - g->addr + 1);
            g->n++;
        } else {
            g = &p->groups[p->n_groups++];
            *g = (struct plan_group){.unit = e[k].unit,
                                     .kind = e[k].kind,
                                     .addr = (uint16_t)e[k].addr,
                                     .count = (uint16_t)(e[k].end - e[k].addr + 1),
                                     .period_ms = e[k].period,
                                     .next_due = t0,
                                     .first = k,
                                     .n = 1,
                                     .slave = slave_of(p, e[k].unit)};
        }
        p->members[k] = e[k].sensor;
    }
    p->n_members = n;
    free(e);
    p->heap = calloc(p->n_groups ? p->n_groups : 1, sizeof(*p->heap));
    p->pos = calloc(p->n_groups ? p->n_groups : 1, sizeof(*p->pos));
    if (!p->heap || !p->pos) {
        plan_free(p);
        return -ENOMEM;
    }
    plan_reorder(p);
    return 0;
}

void plan_free(struct plan *p)
{
    free(p->groups);
    free(p->members);
    free(p->units);
    free(p->heap);
    free(p->pos);
    memset(p, 0, sizeof(*p));
}

/* Whether group a goes before group b. */
static bool before(const struct plan *p, unsigned a, unsigned b)
{
    int64_t da = p->groups[a].next_due, db = p->groups[b].next_due;
    return da < db || (da == db && a < b);
}

static void swap(struct plan *p, unsigned x, unsigned y)
{
    unsigned t = p->heap[x];
    p->heap[x] = p->heap[y];
    p->heap[y] = t;
    p->pos[p->heap[x]] = x;
    p->pos[p->heap[y]] = y;
}

static void sift_down(struct plan *p, unsigned x)
{
    for (;;) {
        unsigned l = 2 * x + 1, r = l + 1, m = x;
        if (l < p->n_groups && before(p, p->heap[l], p->heap[m]))
            m = l;
        if (r < p->n_groups && before(p, p->heap[r], p->heap[m]))
            m = r;
        if (m == x)
            return;
        swap(p, x, m);
        x = m;
    }
}

void plan_reorder(struct plan *p)
{
    for (unsigned i = 0; i < p->n_groups; i++) {
        p->heap[i] = i;
        p->pos[i] = i;
    }
    for (unsigned x = p->n_groups / 2; x-- > 0;)
        sift_down(p, x);
}

unsigned plan_next(const struct plan *p)
{
    return p->heap[0];
}

void plan_advance(struct plan *p, unsigned i, int64_t now)
{
    struct plan_group *g = &p->groups[i];

    g->next_due += g->period_ms;
    if (g->next_due <= now)
        g->next_due += ((now - g->next_due) / g->period_ms + 1) * g->period_ms;
    sift_down(p, p->pos[i]); /* (it only moves later) */
}
