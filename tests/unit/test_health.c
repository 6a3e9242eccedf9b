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

static void blinking(void **state)
{
    int on = 0, changes = 0, last = -1;
    (void)state;

    /* slow: 1 Hz, half the time on */
    for (int64_t t = 0; t < 10000; t += 125) {
        int v = led_level(LED_SLOW, t);
        on += v;
        changes += last >= 0 && v != last;
        last = v;
    }
    assert_int_equal(on, 40);
    assert_int_equal(changes, 19);
    /* fast: 4 Hz */
    on = changes = 0, last = -1;
    for (int64_t t = 0; t < 1000; t += 125) {
        int v = led_level(LED_FAST, t);
        on += v;
        changes += last >= 0 && v != last;
        last = v;
    }
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
