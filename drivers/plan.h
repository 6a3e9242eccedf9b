/* plan: a bus's polling plan. Sensors of one slave, register kind and poll
 * period whose registers are contiguous (or nearly: up to max_gap unused
 * registers between them) share one request, up to the protocol's limit
 * (125 registers, 2000 bits). Each group runs on a fixed grid from t0, so the
 * schedule never drifts; the most overdue group goes first. Pure: time is
 * passed in, so tests drive it with an injected clock. */
#ifndef LIFELINE_PLAN_H
#define LIFELINE_PLAN_H

#include <stdbool.h>
#include <stdint.h>

#include "decode.h"
#include "field.h"

#define PLAN_MAX_REGS 125
#define PLAN_MAX_BITS 2000

struct plan_group {
    uint8_t unit;
    enum reg_kind kind;
    uint16_t addr, count; /* registers (or bits) read in one request */
    int64_t period_ms;
    int64_t next_due;  /* monotonic ms */
    unsigned first, n; /* its sensors: plan->members[first .. first + n) */
    unsigned slave;    /* index of its unit among the bus's slaves */
};

struct plan {
    struct plan_group *groups;
    unsigned n_groups;
    unsigned *members; /* point (sensor) indexes into field->points */
    unsigned n_members;
    uint8_t *units; /* the distinct unit ids, by slave index */
    unsigned n_slaves;
    /* the groups as a binary min-heap by (next_due, index): the next one is
     * at the top, and moving one on costs log(groups), not a scan of all */
    unsigned *heap;
    unsigned *pos; /* each group's place in heap */
};

/* Plans the points of f->buses[bus]. With coalesce false every point is a
 * group of its own (buses without registers). 0 or -ENOMEM. */
int plan_build(struct plan *p, const struct field *f, unsigned bus, bool coalesce, int max_gap, int max_regs,
               int64_t t0);
void plan_free(struct plan *p);

/* The group due first (the lowest index among those due at once); the plan
 * has groups. */
unsigned plan_next(const struct plan *p);
/* Moves group i to its next slot on the grid after now; slots the bus could
 * not serve are skipped, not bunched up. */
void plan_advance(struct plan *p, unsigned i, int64_t now);
/* After next_due was set by hand (tests): puts the heap in order again. */
void plan_reorder(struct plan *p);

#endif
