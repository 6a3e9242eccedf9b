/* num_parse_ll: the strict parser for numbers a person or a file gives. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "num.h"

static void whole_numbers_within_bounds(void **state)
{
    long long v = 0;
    (void)state;
    assert_int_equal(num_parse_ll("0", 0, 10, &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(num_parse_ll("247", 1, 247, &v), 0);
    assert_int_equal(v, 247);
    assert_int_equal(num_parse_ll("-5", -10, 10, &v), 0);
    assert_int_equal(v, -5);
    assert_int_equal(num_parse_ll("9223372036854775807", 0, INT64_MAX, &v), 0);
    assert_true(v == INT64_MAX);
}

/* what atoi and a bare strtol take and a number here is not */
static void junk_is_refused(void **state)
{
    static const char *const bad[] = {"", " 5", "5 ", "+5", "5x", "0x10", "1e3", "1.5", "-", "--5", "- 5", "٣"};
    long long v = 42;
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(num_parse_ll(bad[i], -100, 100, &v), -EINVAL);
        assert_int_equal(v, 42);
    }
    assert_int_equal(num_parse_ll(NULL, 0, 1, &v), -EINVAL);
}

static void out_of_bounds_is_refused(void **state)
{
    long long v = 42;
    (void)state;
    assert_int_equal(num_parse_ll("0", 1, 1000, &v), -ERANGE);
    assert_int_equal(num_parse_ll("1001", 1, 1000, &v), -ERANGE);
    assert_int_equal(num_parse_ll("99999999999999999999", 0, INT64_MAX, &v), -ERANGE);
    assert_int_equal(num_parse_ll("-99999999999999999999", INT64_MIN, 0, &v), -ERANGE);
    assert_int_equal(v, 42);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(whole_numbers_within_bounds),
        cmocka_unit_test(junk_is_refused),
        cmocka_unit_test(out_of_bounds_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
