/* The GPIO debounce with an injected clock: a bounce inside the debounce
 * time is one change; a change back before it settles is none. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "gpio.h"

static void bounce_is_one_change(void **state)
{
    struct debounce d = {.reported = 0, .last_edge = -1};
    (void)state;

    /* 10 edges within 5 ms, the line ends at 1 */
    for (int t = 0; t < 10; t++)
        debounce_edge(&d, 1000 + t / 2);
    assert_false(debounce_due(&d, 1010, 20)); /* still inside 20 ms of the last edge */
    assert_true(debounce_due(&d, 1024, 20));
    assert_true(debounce_report(&d, 1));      /* one change */
    assert_false(debounce_due(&d, 2000, 20)); /* nothing pending */
}

static void back_before_settling_is_nothing(void **state)
{
    struct debounce d = {.reported = 0, .last_edge = -1};
    (void)state;

    debounce_edge(&d, 0);   /* a spike up ... */
    debounce_edge(&d, 3);   /* ... and back */
    assert_true(debounce_due(&d, 23, 20));
    assert_false(debounce_report(&d, 0)); /* the settled level is the old one */
    assert_int_equal(d.reported, 0);
    assert_int_equal(d.last_edge, -1);
}

static void zero_debounce_reports_at_once(void **state)
{
    struct debounce d = {.reported = -1, .last_edge = -1};
    (void)state;

    debounce_edge(&d, 500);
    assert_true(debounce_due(&d, 500, 0));
    assert_true(debounce_report(&d, 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bounce_is_one_change),
        cmocka_unit_test(back_before_settling_is_nothing),
        cmocka_unit_test(zero_debounce_reports_at_once),
    };
    return cmocka_run_group_tests_name("gpio", tests, NULL, NULL);
}
