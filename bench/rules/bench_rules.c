/* bench/rules: the work of rule evaluation per sample, for a sensor with one
 * rule (one level limit) and with eight (four levels with hysteresis and
 * delays, a rate of change, the fault run, on/off counts). Run under
 * callgrind twice, with N samples and with none; the difference over N is
 * the instructions per sample, repeatable whatever the machine is doing.
 *   bench_rules one|eight N */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules.h"

static struct sensor_rules one_rule(void)
{
    struct sensor_rules r = {0};
    r.level.dir = DIR_HIGH;
    r.level.limit[LEVEL_RED] = 50;
    r.level.has[LEVEL_RED] = true;
    rules_prepare(&r.level, false);
    r.fault.dir = DIR_HIGH;
    r.fault.limit[LEVEL_YELLOW] = 3;
    r.fault.has[LEVEL_YELLOW] = true;
    rules_prepare(&r.fault, false);
    return r;
}

static struct sensor_rules eight_rules(void)
{
    struct sensor_rules r = one_rule();
    static const double lim[LEVEL_COUNT] = {0, 10, 20, 35, 50};
    for (int l = LEVEL_BLUE; l < LEVEL_COUNT; l++) {
        r.level.limit[l] = lim[l];
        r.level.has[l] = true;
    }
    r.level.hysteresis = 2;
    r.level.on_delay_ms = 2000;
    r.level.off_delay_ms = 1000;
    r.level.on_count = 2;
    rules_prepare(&r.level, false);
    r.has_rate = true;
    r.rate_window_ms = 600000;
    r.rate.dir = DIR_HIGH;
    r.rate.limit[LEVEL_YELLOW] = 5;
    r.rate.has[LEVEL_YELLOW] = true;
    rules_prepare(&r.rate, false);
    return r;
}

int main(int argc, char **argv)
{
    if (argc != 3 || (strcmp(argv[1], "one") && strcmp(argv[1], "eight"))) {
        fprintf(stderr, "usage: bench_rules one|eight N\n");
        return 64;
    }
    struct sensor_rules r = strcmp(argv[1], "one") == 0 ? one_rule() : eight_rules();
    struct sensor_state st;
    struct rule_event ev[COND_COUNT];
    long n = strtol(argv[2], NULL, 10);
    unsigned events = 0;
    uint32_t x = 12345;

    rules_sensor_init(&st, 0);
    /* a gas reading wandering 0..60 %LEL, one sample a second, some bad ones */
    double v = 5;
    for (long i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        v += (double)(x % 2001) / 1000.0 - 1.0;
        if (v < 0)
            v = 0;
        if (v > 60)
            v = 60;
        enum quality q = x % 97 == 0 ? Q_COMM_FAULT : Q_GOOD;
        events += rules_sample(&r, &st, v, q, i * 1000, ev);
    }
    printf("%s: %ld samples, %u events\n", argv[1], n, events);
    return 0;
}
