/* The GPIO debounce, counter and rate with injected edges and clock (ns):
 * a bounce inside the debounce time is one change; a spike shorter than it
 * is none; a counter counts settled rises, however late the edges are read. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "gpio.h"

#define MS 1000000LL
#define DEB (20 * MS)

static void bounce_is_one_change(void **state)
{
    struct edge_filter f;
    (void)state;

    edge_init(&f, 0, 0);
    /* 10 edges within 5 ms, ending high */
    for (int i = 0; i < 10; i++)
        assert_false(edge_event(&f, i % 2 == 0, 1000 * MS + i * MS / 2, DEB));
    /* the last edge was a falling one at 1004.5 ms: it ends low, as it was */
    assert_false(edge_settle(&f, 1100 * MS, DEB));
    assert_int_equal(f.level, 0);
    assert_false(edge_pending(&f));
    assert_int_equal(f.stable, 0);

    /* 11 edges: ends high, one change, timed from its last edge */
    edge_init(&f, 0, 0);
    for (int i = 0; i < 11; i++)
        edge_event(&f, i % 2 == 0, 1000 * MS + i * MS / 2, DEB);
    assert_false(edge_settle(&f, 1010 * MS, DEB));
    assert_true(edge_settle(&f, 1025 * MS, DEB));
    assert_int_equal(f.stable, 1);
    assert_int_equal(f.stable_ns, 1005 * MS);
    assert_int_equal(f.rises, 1);
    assert_false(edge_settle(&f, 2000 * MS, DEB)); /* nothing pending */
}

static void spike_is_nothing(void **state)
{
    struct edge_filter f;
    (void)state;

    edge_init(&f, 0, 0);
    edge_event(&f, 1, 100 * MS, DEB); /* up for 3 ms ... */
    edge_event(&f, 0, 103 * MS, DEB); /* ... and back */
    assert_false(edge_settle(&f, 200 * MS, DEB));
    assert_int_equal(f.stable, 0);
    assert_int_equal(f.rises, 0);
}

static void edges_read_late_are_judged_by_their_times(void **state)
{
    struct edge_filter f;
    int changes = 0;
    (void)state;

    /* three clean pulses (30 ms high, 30 ms low), all read at once later */
    edge_init(&f, 0, 0);
    for (int p = 0; p < 3; p++) {
        changes += edge_event(&f, 1, (100 + 60 * p) * MS, DEB);
        changes += edge_event(&f, 0, (130 + 60 * p) * MS, DEB);
    }
    changes += edge_settle(&f, 10000 * MS, DEB);
    assert_int_equal(changes, 6);
    assert_int_equal(f.rises, 3);
}

static void counter_with_bounce(void **state)
{
    struct edge_filter f;
    (void)state;

    /* 1 000 pulses of a reed switch: each closing bounces 3 times within
     * 1 ms, stays closed 50 ms, and opening bounces too */
    edge_init(&f, 0, 0);
    int64_t t = 10 * MS;
    for (int p = 0; p < 1000; p++) {
        for (int b = 0; b < 3; b++) {
            edge_event(&f, 1, t, 5 * MS);
            edge_event(&f, 0, t + MS / 10, 5 * MS);
            t += MS / 5;
        }
        edge_event(&f, 1, t, 5 * MS);
        t += 50 * MS;
        edge_event(&f, 0, t, 5 * MS);
        edge_event(&f, 1, t + MS / 10, 5 * MS);
        edge_event(&f, 0, t + MS / 5, 5 * MS);
        t += 50 * MS;
    }
    edge_settle(&f, t + 100 * MS, 5 * MS);
    assert_int_equal(f.rises, 1000);
    /* with no debounce every rise counts */
    edge_init(&f, 0, 0);
    for (int p = 0; p < 1000; p++) {
        edge_event(&f, 1, (2 * p + 1) * 1000LL, 0);
        edge_event(&f, 0, (2 * p + 2) * 1000LL, 0);
    }
    edge_settle(&f, 1 * MS * 1000, 0);
    assert_int_equal(f.rises, 1000);
}

static void lost_edges_are_synced(void **state)
{
    struct edge_filter f;
    (void)state;

    edge_init(&f, 0, 0);
    assert_false(edge_sync(&f, 0, 1000 * MS));
    assert_true(edge_sync(&f, 1, 2000 * MS)); /* a rise the queue lost */
    assert_int_equal(f.rises, 1);
    assert_int_equal(f.stable, 1);
    /* not while an edge is pending: the debounce decides that one */
    edge_event(&f, 0, 3000 * MS, DEB);
    assert_false(edge_sync(&f, 1, 3001 * MS));
    assert_int_equal(f.stable, 1);
}

static void rate_over_a_window(void **state)
{
    struct pulse_rate r;
    (void)state;

    /* a tipping bucket, 0.2 mm a tip, mm/h over 60 s */
    assert_int_equal(pulse_rate_init(&r, 60), 0);
    assert_int_equal(pulse_rate_push(&r, 1), 1);
    /* the window counts whole from the start: one tip reads 12 mm/h, not 720 */
    assert_float_equal(pulse_rate_value(&r, 0.2, 3600), 12.0, 1e-9);
    for (int s = 1; s < 60; s++)
        pulse_rate_push(&r, s % 2); /* 30 more tips in the minute */
    assert_int_equal(r.sum, 31);
    assert_float_equal(pulse_rate_value(&r, 0.2, 3600), 372.0, 1e-9);
    /* the first second leaves the window */
    assert_int_equal(pulse_rate_push(&r, 0), 30);
    for (int s = 0; s < 60; s++)
        pulse_rate_push(&r, 0);
    assert_float_equal(pulse_rate_value(&r, 0.2, 3600), 0.0, 1e-9);
    /* litres per pulse as L/min over 10 s: 20 pulses of 2.5 L = 300 L/min */
    pulse_rate_free(&r);
    assert_int_equal(pulse_rate_init(&r, 10), 0);
    for (int s = 0; s < 10; s++)
        pulse_rate_push(&r, 2);
    assert_float_equal(pulse_rate_value(&r, 2.5, 60), 300.0, 1e-9);
    pulse_rate_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bounce_is_one_change),
        cmocka_unit_test(spike_is_nothing),
        cmocka_unit_test(edges_read_late_are_judged_by_their_times),
        cmocka_unit_test(counter_with_bounce),
        cmocka_unit_test(lost_edges_are_synced),
        cmocka_unit_test(rate_over_a_window),
    };
    return cmocka_run_group_tests_name("gpio", tests, NULL, NULL);
}
