/* Register decoding: every type and word order, scale and offset, and the
 * values that must never pass as real ones (NaN, Inf). Float vectors are
 * libmodbus's own (tests/unit-test.h: UT_REAL 123456.0 in four orders). */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "decode.h"

static double dec(enum reg_type t, enum word_order o, uint16_t r0, uint16_t r1, double scale,
                  double offset)
{
    struct reg_format f = {.kind = REG_HOLDING, .type = t, .order = o, .scale = scale, .offset = offset};
    uint16_t regs[2] = {r0, r1};
    double v = -12345;
    assert_int_equal(decode_value(&f, regs, &v), 0);
    return v;
}

static void floats_all_orders(void **state)
{
    (void)state;
    assert_true(dec(TYPE_FLOAT32, ORDER_ABCD, 0x47F1, 0x2000, 1, 0) == 123456.0);
    assert_true(dec(TYPE_FLOAT32, ORDER_CDAB, 0x2000, 0x47F1, 1, 0) == 123456.0);
    assert_true(dec(TYPE_FLOAT32, ORDER_BADC, 0xF147, 0x0020, 1, 0) == 123456.0);
    assert_true(dec(TYPE_FLOAT32, ORDER_DCBA, 0x0020, 0xF147, 1, 0) == 123456.0);
    /* 52.3f = 0x42513333: a float32 reads back as the number the device meant */
    assert_true(dec(TYPE_FLOAT32, ORDER_CDAB, 0x3333, 0x4251, 1, 0) == 52.3);
    assert_true(dec(TYPE_FLOAT32, ORDER_ABCD, 0xC251, 0x3333, 1, 0) == -52.3);
}

static void float_not_finite(void **state)
{
    struct reg_format f = {.type = TYPE_FLOAT32, .order = ORDER_ABCD, .scale = 1};
    uint16_t nan[2] = {0x7FC0, 0x0000}, inf[2] = {0x7F80, 0x0000}, ninf[2] = {0xFF80, 0};
    double v;
    (void)state;
    assert_int_equal(decode_value(&f, nan, &v), -EDOM);
    assert_int_equal(decode_value(&f, inf, &v), -EDOM);
    assert_int_equal(decode_value(&f, ninf, &v), -EDOM);
}

static void ints_16(void **state)
{
    (void)state;
    assert_true(dec(TYPE_INT16, ORDER_ABCD, 0xFFFF, 0, 1, 0) == -1.0);
    assert_true(dec(TYPE_INT16, ORDER_ABCD, 0x8000, 0, 1, 0) == -32768.0);
    assert_true(dec(TYPE_UINT16, ORDER_ABCD, 0xFFFF, 0, 1, 0) == 65535.0);
    /* water pressure: 350 x 0.001 MPa; tilt: -15 x 0.01 deg */
    assert_true(fabs(dec(TYPE_INT16, ORDER_ABCD, 350, 0, 0.001, 0) - 0.35) < 1e-12);
    assert_true(fabs(dec(TYPE_INT16, ORDER_ABCD, (uint16_t)-15, 0, 0.01, 0) - -0.15) < 1e-12);
    /* offset: 4-20 mA style raw counts shifted */
    assert_true(dec(TYPE_UINT16, ORDER_ABCD, 4000, 0, 0.001, -4) == 0.0);
}

static void ints_32_all_orders(void **state)
{
    (void)state;
    /* 0x12345678 = 305419896 */
    assert_true(dec(TYPE_UINT32, ORDER_ABCD, 0x1234, 0x5678, 1, 0) == 305419896.0);
    assert_true(dec(TYPE_UINT32, ORDER_CDAB, 0x5678, 0x1234, 1, 0) == 305419896.0);
    assert_true(dec(TYPE_UINT32, ORDER_BADC, 0x3412, 0x7856, 1, 0) == 305419896.0);
    assert_true(dec(TYPE_UINT32, ORDER_DCBA, 0x7856, 0x3412, 1, 0) == 305419896.0);
    assert_true(dec(TYPE_UINT32, ORDER_ABCD, 0xFFFF, 0xFFFF, 1, 0) == 4294967295.0);
    assert_true(dec(TYPE_INT32, ORDER_ABCD, 0xFFFF, 0xFFFE, 1, 0) == -2.0);
    assert_true(dec(TYPE_INT32, ORDER_CDAB, 0xFFFE, 0xFFFF, 1, 0) == -2.0);
    assert_true(dec(TYPE_INT32, ORDER_ABCD, 0x8000, 0x0000, 1, 0) == -2147483648.0);
}

static void bools_and_widths(void **state)
{
    (void)state;
    assert_true(dec(TYPE_BOOL, ORDER_ABCD, 1, 0, 1, 0) == 1.0);
    assert_true(dec(TYPE_BOOL, ORDER_ABCD, 0, 0, 1, 0) == 0.0);
    assert_true(dec(TYPE_BOOL, ORDER_ABCD, 0x0100, 0, 1, 0) == 1.0);
    assert_int_equal(decode_width(TYPE_INT16), 1);
    assert_int_equal(decode_width(TYPE_UINT16), 1);
    assert_int_equal(decode_width(TYPE_BOOL), 1);
    assert_int_equal(decode_width(TYPE_INT32), 2);
    assert_int_equal(decode_width(TYPE_UINT32), 2);
    assert_int_equal(decode_width(TYPE_FLOAT32), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(floats_all_orders), cmocka_unit_test(float_not_finite),
        cmocka_unit_test(ints_16),           cmocka_unit_test(ints_32_all_orders),
        cmocka_unit_test(bools_and_widths),
    };
    return cmocka_run_group_tests_name("decode", tests, NULL, NULL);
}
