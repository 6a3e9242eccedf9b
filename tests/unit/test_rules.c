/* The threshold state machine, driven with an injected clock (no sleeps). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "rules.h"

/* Gas-like: high, blue 10 / yellow 20 / orange 35 / red 50, hysteresis 2. */
static struct rule_cfg gas(int64_t on_delay, int64_t off_delay)
{
    struct rule_cfg c = {.dir = DIR_HIGH, .hysteresis = 2, .on_delay_ms = on_delay, .off_delay_ms = off_delay};
    c.limit[LEVEL_BLUE] = 10;
    c.limit[LEVEL_YELLOW] = 20;
    c.limit[LEVEL_ORANGE] = 35;
    c.limit[LEVEL_RED] = 50;
    for (int l = LEVEL_BLUE; l < LEVEL_COUNT; l++)
        c.has[l] = true;
    return c;
}

struct run {
    struct rule_cfg cfg;
    struct rule_state st;
    int64_t now;
    int events;
    struct rule_result last;
};

/* Feeds v at now, then advances the clock by step ms; returns the event. */
static enum alarm_event feed(struct run *r, double v, int64_t step)
{
    struct rule_result res;
    enum alarm_event e = EV_NONE;
    if (rules_eval(&r->cfg, &r->st, v, Q_GOOD, r->now, &res)) {
        r->events++;
        r->last = res;
        e = res.event;
    }
    r->now += step;
    return e;
}

static void steps_up_and_down(void **state)
{
    struct run r = {.cfg = gas(0, 0)};
    (void)state;
    rules_prepare(&r.cfg, false);
    rules_init(&r.st, LEVEL_NONE);

    assert_int_equal(feed(&r, 5, 1000), EV_NONE);
    assert_int_equal(feed(&r, 21, 1000), EV_RAISED);
    assert_int_equal(r.last.level, LEVEL_YELLOW);
    assert_int_equal(r.last.prev_level, LEVEL_NONE);
    assert_true(r.last.threshold == 20);
    assert_int_equal(feed(&r, 52, 1000), EV_ESCALATED);
    assert_int_equal(r.last.level, LEVEL_RED);
    assert_int_equal(r.last.prev_level, LEVEL_YELLOW);
    assert_true(r.last.threshold == 50);
    assert_int_equal(feed(&r, 49, 1000), EV_NONE); /* inside red's band */
    assert_int_equal(feed(&r, 40, 1000), EV_DEESCALATED);
    assert_int_equal(r.last.level, LEVEL_ORANGE);
    assert_true(r.last.threshold == 35);
    assert_int_equal(feed(&r, 34, 1000), EV_NONE);        /* orange's band: 33 < v */
    assert_int_equal(feed(&r, 19, 1000), EV_DEESCALATED); /* below 33, inside yellow's band */
    assert_int_equal(r.last.level, LEVEL_YELLOW);
    assert_int_equal(feed(&r, 5, 1000), EV_CLEARED);
    assert_int_equal(r.last.level, LEVEL_NONE);
    assert_int_equal(r.last.prev_level, LEVEL_YELLOW);
    assert_true(r.last.threshold == 20);
}

/* A random walk that stays inside red's hysteresis band never flaps. */
static void noise_inside_band(void **state)
{
    struct run r = {.cfg = gas(0, 0)};
    double v = 51;
    (void)state;
    rules_prepare(&r.cfg, false);
    rules_init(&r.st, LEVEL_NONE);
    srand(7);
    assert_int_equal(feed(&r, v, 100), EV_RAISED);
    int before = r.events;
    for (int i = 0; i < 100000; i++) {
        v += ((double)rand() / RAND_MAX - 0.5) * 0.5;
        if (v <= 48.01)
            v = 48.2; /* band: (48, 50+) */
        if (v > 60)
            v = 59;
        feed(&r, v, 100);
    }
    assert_int_equal(r.events, before);
    assert_int_equal(r.st.level, LEVEL_RED);
}

static void on_delay_honoured(void **state)
{
    struct run r = {.cfg = gas(5000, 0)};
    (void)state;
    rules_prepare(&r.cfg, false);
    rules_init(&r.st, LEVEL_NONE);

    /* 5 samples (4 s) above yellow, then a dip below every limit: the delay restarts */
    for (int i = 0; i < 5; i++)
        assert_int_equal(feed(&r, 25, 1000), EV_NONE);
    assert_int_equal(feed(&r, 5, 1000), EV_NONE);
    for (int i = 0; i < 5; i++)
        assert_int_equal(feed(&r, 25, 1000), EV_NONE);
    assert_int_equal(feed(&r, 25, 1000), EV_RAISED); /* 5 s after the first of the run */
    assert_int_equal(r.last.level, LEVEL_YELLOW);
}

static void on_delay_per_level(void **state)
{
    struct run r = {.cfg = gas(5000, 0)};
    (void)state;
    rules_prepare(&r.cfg, false);
    rules_init(&r.st, LEVEL_NONE);

    /* yellow from t=0, red from t=3 s: yellow is confirmed at 5 s, red at 8 s */
    for (int i = 0; i < 3; i++)
        feed(&r, 25, 1000);
    for (int i = 0; i < 2; i++)
        assert_int_equal(feed(&r, 55, 1000), EV_NONE);
    assert_int_equal(feed(&r, 55, 1000), EV_RAISED);
    assert_int_equal(r.last.level, LEVEL_YELLOW);
    assert_int_equal(feed(&r, 55, 1000), EV_NONE);
    assert_int_equal(feed(&r, 55, 1000), EV_NONE);
    assert_int_equal(feed(&r, 55, 1000), EV_ESCALATED);
    assert_int_equal(r.last.level, LEVEL_RED);
}

static void off_delay_honoured(void **state)
{
    struct run r = {.cfg = gas(0, 3000)};
    (void)state;
    rules_prepare(&r.cfg, false);
    rules_init(&r.st, LEVEL_NONE);

    assert_int_equal(feed(&r, 25, 1000), EV_RAISED);
    for (int i = 0; i < 3; i++)
        assert_int_equal(feed(&r, 0, 1000), EV_NONE);
    assert_int_equal(feed(&r, 0, 1000), EV_CLEARED);
}

static void low_direction(void **state)
{
    struct run r = {.cfg = {.dir = DIR_LOW, .hysteresis = 0.5}};
    (void)state;
    r.cfg.limit[LEVEL_YELLOW] = 19.5;
    r.cfg.has[LEVEL_YELLOW] = true;
    r.cfg.limit[LEVEL_RED] = 18;
    r.cfg.has[LEVEL_RED] = true;
    rules_prepare(&r.cfg, false);
    rules_init(&r.st, LEVEL_NONE);

    assert_int_equal(feed(&r, 20.9, 1000), EV_NONE);
    assert_int_equal(feed(&r, 19.5, 1000), EV_RAISED); /* low: value <= limit */
    assert_int_equal(r.last.level, LEVEL_YELLOW);
    assert_int_equal(feed(&r, 17, 1000), EV_ESCALATED);
    assert_int_equal(feed(&r, 18.4, 1000), EV_NONE); /* band up to 18.5 */
    assert_int_equal(feed(&r, 18.6, 1000), EV_DEESCALATED);
    assert_int_equal(feed(&r, 19.9, 1000), EV_NONE);
    assert_int_equal(feed(&r, 20.0, 1000), EV_NONE); /* on the band's edge: not past it */
    assert_int_equal(feed(&r, 20.1, 1000), EV_CLEARED);
}

static void bad_quality_holds(void **state)
{
    struct run r = {.cfg = gas(2000, 0)};
    struct rule_result res;
    (void)state;
    rules_prepare(&r.cfg, false);
    rules_init(&r.st, LEVEL_NONE);

    feed(&r, 60, 1000);
    feed(&r, 60, 1000);
    assert_int_equal(feed(&r, 60, 1000), EV_RAISED);
    /* comm faults neither clear the red alarm nor count toward delays */
    for (int i = 0; i < 10; i++) {
        assert_false(rules_eval(&r.cfg, &r.st, 0, Q_COMM_FAULT, r.now, &res));
        assert_false(rules_eval(&r.cfg, &r.st, 0, Q_OUT_OF_RANGE, r.now, &res));
        r.now += 1000;
    }
    assert_int_equal(r.st.level, LEVEL_RED);
}

static void subset_of_levels(void **state)
{
    struct run r = {.cfg = {.dir = DIR_HIGH}};
    (void)state;
    r.cfg.limit[LEVEL_RED] = 1;
    r.cfg.has[LEVEL_RED] = true; /* a float switch: 0/1 -> red */
    rules_prepare(&r.cfg, false);
    rules_init(&r.st, LEVEL_NONE);
    assert_int_equal(feed(&r, 0, 1000), EV_NONE);
    assert_int_equal(feed(&r, 1, 1000), EV_RAISED);
    assert_int_equal(r.last.level, LEVEL_RED);
    /* a bit resting at 1 (the limit itself, no hysteresis) stays red: this
     * flapped raised/cleared every poll in the first demo with a status bit */
    for (int i = 0; i < 20; i++)
        assert_int_equal(feed(&r, 1, 1000), EV_NONE);
    assert_int_equal(feed(&r, 0, 1000), EV_CLEARED);
}

static void delays_by_count(void **state)
{
    struct run r = {.cfg = gas(0, 0)};
    (void)state;
    r.cfg.on_count = 3;
    r.cfg.off_count = 2;
    rules_prepare(&r.cfg, false);
    rules_init(&r.st, LEVEL_NONE);
    /* three consecutive samples above yellow, whatever the time between them */
    assert_int_equal(feed(&r, 25, 10), EV_NONE);
    assert_int_equal(feed(&r, 25, 10), EV_NONE);
    assert_int_equal(feed(&r, 5, 10), EV_NONE); /* the run is broken: start again */
    assert_int_equal(feed(&r, 25, 10), EV_NONE);
    assert_int_equal(feed(&r, 25, 10), EV_NONE);
    assert_int_equal(feed(&r, 25, 10), EV_RAISED);
    assert_int_equal(feed(&r, 5, 10), EV_NONE);
    assert_int_equal(feed(&r, 5, 10), EV_CLEARED);
    /* count and delay together: both must be met */
    r.cfg.on_delay_ms = 1000;
    assert_int_equal(feed(&r, 25, 10), EV_NONE);
    assert_int_equal(feed(&r, 25, 10), EV_NONE);
    assert_int_equal(feed(&r, 25, 2000), EV_NONE); /* 3 samples, only 20 ms */
    assert_int_equal(feed(&r, 25, 10), EV_RAISED);
}

static void hysteresis_in_percent(void **state)
{
    struct run r = {.cfg = gas(0, 0)};
    (void)state;
    r.cfg.hysteresis = 10; /* % of each limit: red 50 -> band 5, yellow 20 -> band 2 */
    rules_prepare(&r.cfg, true);
    assert_true(r.cfg.band[LEVEL_RED] == 5 && r.cfg.band[LEVEL_YELLOW] == 2);
    rules_init(&r.st, LEVEL_NONE);
    assert_int_equal(feed(&r, 51, 10), EV_RAISED);
    assert_int_equal(feed(&r, 45.5, 10), EV_NONE);
    assert_int_equal(feed(&r, 44.9, 10), EV_DEESCALATED);
}

/* A sensor's three conditions, built like the config does. */
static struct sensor_rules sensor_rules(double rate, bool falling, int64_t window_ms, int fault_after, int64_t stale_ms)
{
    struct sensor_rules r = {
        .level = gas(0, 0), .has_rate = rate != 0, .rate_window_ms = window_ms, .stale_ms = stale_ms};
    rules_prepare(&r.level, false);
    r.rate.dir = falling ? DIR_LOW : DIR_HIGH;
    r.rate.limit[LEVEL_YELLOW] = falling ? -rate : rate;
    r.rate.has[LEVEL_YELLOW] = r.has_rate;
    rules_prepare(&r.rate, false);
    r.fault.dir = DIR_HIGH;
    r.fault.limit[LEVEL_YELLOW] = fault_after;
    r.fault.has[LEVEL_YELLOW] = true;
    rules_prepare(&r.fault, false);
    return r;
}

/* Water rising 0.25 m in 8 minutes is a yellow rate alarm (0.2 m per 10 min)
 * long before any level limit; when the water stops rising it clears. */
static void rate_rising(void **state)
{
    struct sensor_rules r = sensor_rules(0.2, false, 600000, 3, 0);
    struct sensor_state st;
    struct rule_event ev[COND_COUNT];
    int64_t now = 0;
    unsigned n, raised_at = 0, cleared_at = 0;
    (void)state;
    r.level.limit[LEVEL_BLUE] = 100; /* far away */
    rules_sensor_init(&st, 0);
    for (unsigned i = 0; i < 200; i++, now += 10000) {
        double level = i < 48 ? 0.05 + 0.25 * i / 48.0 : 0.30; /* rises for 8 min, then stays */
        n = rules_sample(&r, &st, level, Q_GOOD, now, ev);
        for (unsigned k = 0; k < n; k++) {
            assert_int_equal(ev[k].cond, COND_RATE);
            if (ev[k].r.event == EV_RAISED)
                raised_at = i;
            if (ev[k].r.event == EV_CLEARED)
                cleared_at = i;
        }
    }
    /* 0.2 m takes 38.4 samples at 0.25/48 per sample */
    assert_in_range(raised_at, 38, 40);
    assert_int_equal(st.cond[COND_THRESHOLD].level, LEVEL_NONE);
    /* it clears once the rise within the last 10 minutes drops below 0.2 m */
    assert_in_range(cleared_at, 48 + 9, 48 + 60);
    assert_int_equal(st.cond[COND_RATE].level, LEVEL_NONE);
}

static void rate_falling(void **state)
{
    struct sensor_rules r = sensor_rules(0.05, true, 60000, 3, 0);
    struct sensor_state st;
    struct rule_event ev[COND_COUNT];
    unsigned n = 0;
    (void)state;
    r.level.limit[LEVEL_BLUE] = 100;
    rules_sensor_init(&st, 0);
    /* a burst main: 0.35 MPa losing 0.01 MPa a second */
    for (int i = 0; i < 10 && !n; i++)
        n = rules_sample(&r, &st, 0.35 - 0.01 * i, Q_GOOD, i * 1000, ev);
    assert_int_equal(n, 1);
    assert_int_equal(ev[0].cond, COND_RATE);
    assert_int_equal(ev[0].r.event, EV_RAISED);
    assert_true(ev[0].value <= -0.05 + 1e-12);
    assert_true(ev[0].r.threshold == -0.05);
}

/* Three bad samples in a row are a fault alarm; the level alarm holds. */
static void fault_after_bad_samples(void **state)
{
    struct sensor_rules r = sensor_rules(0, false, 60000, 3, 0);
    struct sensor_state st;
    struct rule_event ev[COND_COUNT];
    (void)state;
    rules_sensor_init(&st, 0);
    assert_int_equal(rules_sample(&r, &st, 60, Q_GOOD, 0, ev), 1); /* red */
    assert_int_equal(rules_sample(&r, &st, 0, Q_COMM_FAULT, 1000, ev), 0);
    assert_int_equal(rules_sample(&r, &st, 0, Q_COMM_FAULT, 2000, ev), 0);
    assert_int_equal(rules_sample(&r, &st, 999, Q_OUT_OF_RANGE, 3000, ev), 1);
    assert_int_equal(ev[0].cond, COND_FAULT);
    assert_int_equal(ev[0].r.event, EV_RAISED);
    assert_int_equal(ev[0].r.level, LEVEL_YELLOW);
    assert_true(ev[0].value == 3);
    /* an out_of_range 999 %LEL is never a red gas alarm, and a fault never clears red */
    assert_int_equal(st.cond[COND_THRESHOLD].level, LEVEL_RED);
    assert_int_equal(rules_sample(&r, &st, 0, Q_COMM_FAULT, 4000, ev), 0);
    /* the first good sample ends the fault */
    assert_int_equal(rules_sample(&r, &st, 60, Q_GOOD, 5000, ev), 1);
    assert_int_equal(ev[0].cond, COND_FAULT);
    assert_int_equal(ev[0].r.event, EV_CLEARED);
    assert_int_equal(st.cond[COND_THRESHOLD].level, LEVEL_RED);
}

static void stale_sensor(void **state)
{
    struct sensor_rules r = sensor_rules(0, false, 60000, 3, 5000);
    struct sensor_state st;
    struct rule_event ev[COND_COUNT];
    (void)state;
    rules_sensor_init(&st, 0);
    assert_int_equal(rules_sample(&r, &st, 5, Q_GOOD, 1000, ev), 0);
    assert_int_equal(rules_stale(&r, &st, 5999, ev), 0);
    assert_int_equal(rules_stale(&r, &st, 6000, ev), 1);
    assert_int_equal(ev[0].cond, COND_FAULT);
    assert_int_equal(ev[0].r.event, EV_RAISED);
    assert_int_equal(rules_stale(&r, &st, 7000, ev), 0); /* once */
    assert_int_equal(rules_sample(&r, &st, 5, Q_GOOD, 8000, ev), 1);
    assert_int_equal(ev[0].r.event, EV_CLEARED);
}

/* A reload that removes the limit of the current level must not leave the
 * sensor stuck there (it was, until a review found it). */
static void level_removed_by_reload(void **state)
{
    struct run r = {.cfg = gas(0, 0)};
    (void)state;
    rules_prepare(&r.cfg, false);
    rules_init(&r.st, LEVEL_NONE);
    assert_int_equal(feed(&r, 60, 1000), EV_RAISED);
    r.cfg.has[LEVEL_RED] = false; /* the new config has no red */
    assert_int_equal(feed(&r, 60, 1000), EV_DEESCALATED);
    assert_int_equal(r.last.level, LEVEL_ORANGE);
    assert_int_equal(feed(&r, 0, 1000), EV_CLEARED);
}

static void order_check(void **state)
{
    struct rule_cfg c = gas(0, 0);
    enum level a, b;
    (void)state;
    assert_int_equal(rules_check_order(&c, &a, &b), 0);
    c.limit[LEVEL_RED] = 15;
    assert_int_equal(rules_check_order(&c, &a, &b), -1);
    assert_int_equal(a, LEVEL_ORANGE);
    assert_int_equal(b, LEVEL_RED);
    c.has[LEVEL_ORANGE] = false;
    assert_int_equal(rules_check_order(&c, &a, &b), -1);
    assert_int_equal(a, LEVEL_YELLOW);
    c.dir = DIR_LOW;
    c.limit[LEVEL_BLUE] = 30;
    assert_int_equal(rules_check_order(&c, &a, &b), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(steps_up_and_down),
        cmocka_unit_test(noise_inside_band),
        cmocka_unit_test(on_delay_honoured),
        cmocka_unit_test(on_delay_per_level),
        cmocka_unit_test(off_delay_honoured),
        cmocka_unit_test(low_direction),
        cmocka_unit_test(bad_quality_holds),
        cmocka_unit_test(subset_of_levels),
        cmocka_unit_test(delays_by_count),
        cmocka_unit_test(hysteresis_in_percent),
        cmocka_unit_test(rate_rising),
        cmocka_unit_test(rate_falling),
        cmocka_unit_test(fault_after_bad_samples),
        cmocka_unit_test(stale_sensor),
        cmocka_unit_test(level_removed_by_reload),
        cmocka_unit_test(order_check),
    };
    return cmocka_run_group_tests_name("rules", tests, NULL, NULL);
}
