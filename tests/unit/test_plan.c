/* The polling plan: which sensors share a request, and a schedule that does
 * not drift, driven by an injected clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "plan.h"

#define MAXS 400
static struct point points[MAXS];
static const struct point *by_index[MAXS];
static struct field cfg;

static void reset(void)
{
    memset(points, 0, sizeof(points));
    memset(&cfg, 0, sizeof(cfg));
    for (unsigned i = 0; i < MAXS; i++)
        by_index[i] = &points[i];
    cfg.points = by_index;
}

static void add(uint8_t unit, enum reg_kind kind, uint16_t addr, enum reg_type type, int64_t poll)
{
    struct point *s = &points[cfg.n_points++];
    s->unit_id = unit;
    s->reg.kind = kind;
    s->reg.addr = addr;
    s->reg.type = type;
    s->poll_ms = poll;
}

static void twenty_contiguous_registers_one_request(void **state)
{
    struct plan p;
    (void)state;
    reset();
    for (uint16_t i = 0; i < 20; i++)
        add(1, REG_HOLDING, (uint16_t)(100 + i), TYPE_UINT16, 1000);
    assert_int_equal(plan_build(&p, &cfg, 0, true, 8, 125, 0), 0);
    assert_int_equal(p.n_groups, 1);
    assert_int_equal(p.groups[0].addr, 100);
    assert_int_equal(p.groups[0].count, 20);
    assert_int_equal(p.groups[0].n, 20);
    assert_int_equal(p.n_slaves, 1);
    plan_free(&p);
    /* without coalescing (a sim bus) each sensor is its own group */
    assert_int_equal(plan_build(&p, &cfg, 0, false, 8, 125, 0), 0);
    assert_int_equal(p.n_groups, 20);
    plan_free(&p);
}

static void gaps_units_kinds_periods(void **state)
{
    struct plan p;
    (void)state;
    reset();
    add(1, REG_HOLDING, 0, TYPE_FLOAT32, 1000); /* 0-1 */
    add(1, REG_HOLDING, 10, TYPE_UINT16, 1000); /* gap of 8: joins (max_gap 8) */
    add(1, REG_HOLDING, 20, TYPE_UINT16, 1000); /* gap of 9: a new request */
    add(2, REG_HOLDING, 1, TYPE_UINT16, 1000);  /* another slave */
    add(1, REG_INPUT, 2, TYPE_UINT16, 1000);    /* another kind */
    add(1, REG_HOLDING, 3, TYPE_UINT16, 5000);  /* another period */
    add(1, REG_HOLDING, 10, TYPE_UINT16, 1000); /* the same register twice (two status bits) */
    assert_int_equal(plan_build(&p, &cfg, 0, true, 8, 125, 0), 0);
    assert_int_equal(p.n_groups, 5);
    assert_int_equal(p.n_slaves, 2);
    unsigned found = 0;
    for (unsigned i = 0; i < p.n_groups; i++) {
        const struct plan_group *g = &p.groups[i];
        if (g->unit == 1 && g->kind == REG_HOLDING && g->period_ms == 1000 && g->addr == 0) {
            assert_int_equal(g->count, 11);
            assert_int_equal(g->n, 3);
            found++;
        }
        if (g->unit == 1 && g->kind == REG_HOLDING && g->addr == 20)
            found++;
    }
    assert_int_equal(found, 2);
    plan_free(&p);
}

static void protocol_limits(void **state)
{
    struct plan p;
    (void)state;
    reset();
    for (uint16_t i = 0; i < 130; i++)
        add(1, REG_INPUT, i, TYPE_UINT16, 1000);
    for (uint16_t i = 0; i < 2100; i += 10)
        add(1, REG_COIL, i, TYPE_BOOL, 1000);
    assert_int_equal(plan_build(&p, &cfg, 0, true, 9, 125, 0), 0);
    for (unsigned i = 0; i < p.n_groups; i++) {
        if (p.groups[i].kind == REG_INPUT)
            assert_true(p.groups[i].count <= 125);
        else
            assert_true(p.groups[i].count <= 2000);
    }
    assert_int_equal(p.n_groups, 2 + 2);
    plan_free(&p);
    /* a device that takes at most 16 registers a request */
    assert_int_equal(plan_build(&p, &cfg, 0, true, 9, 16, 0), 0);
    for (unsigned i = 0; i < p.n_groups; i++)
        assert_true(p.groups[i].count <= (p.groups[i].kind == REG_INPUT ? 16 : 256));
    plan_free(&p);
}

/* Runs the plan like the worker does, each request taking service_ms. */
static void run(struct plan *p, int64_t until, int64_t service_ms, unsigned *polls)
{
    int64_t now = 0;
    while (now < until) {
        unsigned i = plan_next(p);
        struct plan_group *g = &p->groups[i];
        if (g->next_due > now)
            now = g->next_due;
        if (now >= until)
            break;
        now += service_ms;
        polls[i]++;
        plan_advance(p, i, now);
    }
}

static void no_drift_over_an_hour(void **state)
{
    struct plan p;
    unsigned polls[16] = {0};
    (void)state;
    reset();
    add(1, REG_HOLDING, 0, TYPE_UINT16, 1000);
    add(2, REG_HOLDING, 0, TYPE_UINT16, 1000);
    add(3, REG_HOLDING, 0, TYPE_UINT16, 2000);
    assert_int_equal(plan_build(&p, &cfg, 0, true, 8, 125, 0), 0);
    run(&p, 3600 * 1000, 37, polls); /* 37 ms a request: the bus has time */
    for (unsigned i = 0; i < p.n_groups; i++) {
        unsigned want = p.groups[i].period_ms == 1000 ? 3600 : 1800;
        assert_in_range(polls[i], want - 1, want + 1);
    }
    plan_free(&p);
}

static void overload_skips_not_bunches(void **state)
{
    struct plan p;
    unsigned polls[16] = {0};
    (void)state;
    reset();
    for (uint8_t u = 1; u <= 4; u++)
        add(u, REG_HOLDING, 0, TYPE_UINT16, 100);
    assert_int_equal(plan_build(&p, &cfg, 0, true, 8, 125, 0), 0);
    /* 4 slaves x 50 ms > 100 ms: the line is saturated; everyone gets a fair share */
    run(&p, 60 * 1000, 50, polls);
    unsigned total = 0;
    for (unsigned i = 0; i < 4; i++) {
        total += polls[i];
        assert_in_range(polls[i], 250, 350);
    }
    assert_in_range(total, 1199, 1201);
    for (unsigned i = 0; i < 4; i++)
        assert_true(p.groups[i].next_due % 100 == 0); /* still on its grid */
    plan_free(&p);
}

static void most_overdue_first(void **state)
{
    struct plan p;
    (void)state;
    reset();
    add(1, REG_HOLDING, 0, TYPE_UINT16, 1000);
    add(2, REG_HOLDING, 0, TYPE_UINT16, 1000);
    add(3, REG_HOLDING, 0, TYPE_UINT16, 1000);
    assert_int_equal(plan_build(&p, &cfg, 0, true, 8, 125, 0), 0);
    p.groups[0].next_due = 500;
    p.groups[1].next_due = 100;
    p.groups[2].next_due = 300;
    plan_reorder(&p);
    assert_int_equal(plan_next(&p), 1);
    plan_advance(&p, 1, 150);
    assert_int_equal(p.groups[1].next_due, 1100);
    assert_int_equal(plan_next(&p), 2);
    /* due at once: the lowest index first, as the groups were planned */
    p.groups[0].next_due = p.groups[2].next_due = 300;
    plan_reorder(&p);
    assert_int_equal(plan_next(&p), 0);
    plan_advance(&p, 0, 300);
    assert_int_equal(plan_next(&p), 2);
    plan_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(twenty_contiguous_registers_one_request),
        cmocka_unit_test(gaps_units_kinds_periods),
        cmocka_unit_test(protocol_limits),
        cmocka_unit_test(no_drift_over_an_hour),
        cmocka_unit_test(overload_skips_not_bunches),
        cmocka_unit_test(most_overdue_first),
    };
    return cmocka_run_group_tests_name("plan", tests, NULL, NULL);
}
