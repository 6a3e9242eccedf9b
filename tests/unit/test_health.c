/* The status LED patterns a technician reads at the cabinet. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "health.h"

static void patterns(void **state)
{
    (void)state;
    assert_int_equal(led_run_pattern(true), LED_ON);
    assert_int_equal(led_run_pattern(false), LED_SLOW);
    assert_int_equal(led_alarm_pattern(0, 0), LED_OFF);
    assert_int_equal(led_alarm_pattern(2, 0), LED_ON);   /* all acknowledged */
    assert_int_equal(led_alarm_pattern(2, 1), LED_FAST); /* one is not */
}

/* Samples a pattern every 125 ms for ms: how long on (samples), how many changes. */
static void sample(enum led_pattern p, int64_t ms, int *on, int *changes)
{
    int last = -1;

    *on = *changes = 0;
    for (int64_t t = 0; t < ms; t += 125) {
        int v = led_level(p, t);
        *on += v;
        *changes += last >= 0 && v != last;
        last = v;
    }
}

static void blinking(void **state)
{
    int on, changes;
    (void)state;

    sample(LED_SLOW, 10000, &on, &changes); /* 1 Hz, half the time on */
    assert_int_equal(on, 40);
    assert_int_equal(changes, 19);
    sample(LED_FAST, 1000, &on, &changes); /* 4 Hz */
    assert_int_equal(on, 4);
    assert_int_equal(changes, 7);
    assert_int_equal(led_level(LED_ON, 12345), 1);
    assert_int_equal(led_level(LED_OFF, 12345), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(patterns),
        cmocka_unit_test(blinking),
    };
    return cmocka_run_group_tests_name("health", tests, NULL, NULL);
}
