/* Which readings become telemetry, with an injected clock: the interval,
 * the deadband, quality changes, min/max/avg, and batching. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "telemetry.h"

static char msgs[8][4096];
static int n_msgs;

static void out(void *ctx, const char *payload, size_t len)
{
    (void)ctx;
    assert_true(n_msgs < 8);
    snprintf(msgs[n_msgs++], sizeof(msgs[0]), "%.*s", (int)len, payload);
}

static struct cfg_sensor sensors[2];
static struct config cfg = {.sensors = sensors, .n_sensors = 2};

static struct telemetry *make(int batch, int64_t interval_ms, double deadband, int stats)
{
    struct telemetry *t;

    memset(sensors, 0, sizeof(sensors));
    snprintf(sensors[0].name, sizeof(sensors[0].name), "gas-01");
    snprintf(sensors[0].unit, sizeof(sensors[0].unit), "%%LEL");
    snprintf(sensors[1].name, sizeof(sensors[1].name), "off-01");
    sensors[0].telemetry_ms = interval_ms;
    sensors[0].deadband = deadband;
    sensors[0].telemetry_stats = stats;
    sensors[1].telemetry_ms = -1;
    cfg.mqtt.telemetry_batch = batch;
    n_msgs = 0;
    assert_int_equal(telemetry_open(&t, &cfg, out, NULL), 0);
    return t;
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static void interval_only(void **state)
{
    struct telemetry *t = make(100, 60000, -1, 0);
    (void)state;

    /* the first sample goes; then one a minute, whatever the value does */
    for (int64_t now = 0; now <= 180000; now += 1000)
        telemetry_sample(t, 0, 1764000000000 + now, (double)(now % 7000), Q_GOOD, NAN, now);
    telemetry_sample(t, 1, 1764000000000, 5, Q_GOOD, NAN, 0); /* telemetry = off */
    telemetry_flush(t, 1764000200000);
    assert_int_equal(n_msgs, 1);
    assert_int_equal(count(msgs[0], "\"sensor\":\"gas-01\""), 4); /* 0, 60, 120, 180 s */
    assert_int_equal(count(msgs[0], "off-01"), 0);
    assert_non_null(strstr(msgs[0], "{\"ts\":1764000200000,\"readings\":[{\"sensor\":\"gas-01\",\"lifeline\":\"gas\","
                                    "\"ts\":1764000000000,\"value\":0,\"unit\":\"%LEL\",\"quality\":\"good\"}"));
    telemetry_close(t);
}

static void deadband_and_quality(void **state)
{
    struct telemetry *t = make(100, 3600000, 0.5, 0);
    const double v[] = {10, 10.2, 10.4, 10.6, 10.7, 9.9, 10.3};
    (void)state;

    for (int i = 0; i < 7; i++)
        telemetry_sample(t, 0, 1000 + i, v[i], Q_GOOD, NAN, i * 1000);
    /* sent: 10 (first), 10.6 (> 0.5 from 10), 9.9 (> 0.5 from 10.6) */
    telemetry_sample(t, 0, 2000, 0, Q_COMM_FAULT, NAN, 8000); /* quality changed: sent, value null */
    telemetry_sample(t, 0, 2001, 0, Q_COMM_FAULT, NAN, 9000); /* not again */
    telemetry_sample(t, 0, 2002, 10.0, Q_GOOD, NAN, 10000);   /* back: sent */
    telemetry_flush(t, 5000);
    assert_int_equal(n_msgs, 1);
    assert_int_equal(count(msgs[0], "\"sensor\""), 5);
    assert_non_null(strstr(msgs[0], "\"value\":10.6"));
    assert_non_null(strstr(msgs[0], "\"value\":9.9"));
    assert_null(strstr(msgs[0], "\"value\":10.2"));
    assert_non_null(strstr(msgs[0], "\"ts\":2000,\"value\":null,\"unit\":\"%LEL\",\"quality\":\"comm_fault\""));
    assert_int_equal(count(msgs[0], "comm_fault"), 1);
    telemetry_close(t);
}

static void stats_over_the_interval(void **state)
{
    struct telemetry *t = make(100, 10000, -1, 1);
    (void)state;

    telemetry_sample(t, 0, 0, 5, Q_GOOD, NAN, 0); /* first: stats of itself */
    for (int i = 1; i <= 10; i++)
        telemetry_sample(t, 0, i * 1000, i, Q_GOOD, NAN, i * 1000);
    telemetry_flush(t, 20000);
    assert_non_null(
        strstr(msgs[0], "\"value\":5,\"unit\":\"%LEL\",\"quality\":\"good\",\"min\":5,\"max\":5,\"avg\":5,\"n\":1"));
    /* at 10 s: samples 1..10 */
    assert_non_null(strstr(
        msgs[0], "\"value\":10,\"unit\":\"%LEL\",\"quality\":\"good\",\"min\":1,\"max\":10,\"avg\":5.5,\"n\":10"));
    telemetry_close(t);
}

static void batches(void **state)
{
    struct telemetry *t = make(3, 0, -1, 0); /* every sample */
    (void)state;

    for (int i = 0; i < 7; i++)
        telemetry_sample(t, 0, i, i, Q_GOOD, NAN, i);
    assert_int_equal(n_msgs, 2); /* full batches go at once */
    telemetry_flush(t, 100);
    telemetry_flush(t, 101); /* nothing left: no empty message */
    assert_int_equal(n_msgs, 3);
    assert_int_equal(count(msgs[0], "\"sensor\""), 3);
    assert_int_equal(count(msgs[2], "\"sensor\""), 1);
    telemetry_close(t);
}

/* A batch waits at most telemetry_delay from its first reading. */
static void delay(void **state)
{
    struct telemetry *t = make(50, 0, -1, 0);
    (void)state;

    cfg.mqtt.telemetry_delay_ms = 500;
    assert_int_equal(telemetry_wait(t, 0), -1); /* nothing waits */
    telemetry_sample(t, 0, 1, 1, Q_GOOD, NAN, 1000);
    telemetry_sample(t, 0, 2, 2, Q_GOOD, NAN, 1200);
    assert_int_equal(telemetry_wait(t, 1200), 300); /* from the first one */
    assert_int_equal(telemetry_wait(t, 1500), 0);
    telemetry_flush(t, 1500);
    assert_int_equal(telemetry_wait(t, 1500), -1);
    /* a counter's total goes with its reading */
    telemetry_sample(t, 0, 3, 12.5, Q_GOOD, 240.2, 2000);
    cfg.mqtt.telemetry_delay_ms = 0;
    assert_int_equal(telemetry_wait(t, 2000), 0);
    telemetry_flush(t, 2000);
    assert_int_equal(n_msgs, 2);
    assert_non_null(strstr(msgs[1], "\"value\":12.5,\"unit\":\"%LEL\",\"quality\":\"good\",\"total\":240.2"));
    telemetry_close(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(interval_only),
        cmocka_unit_test(deadband_and_quality),
        cmocka_unit_test(stats_over_the_interval),
        cmocka_unit_test(batches),
        cmocka_unit_test(delay),
    };
    return cmocka_run_group_tests_name("telemetry", tests, NULL, NULL);
}
