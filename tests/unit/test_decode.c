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

static double dec(enum reg_type t, enum word_order o, uint16_t r0, uint16_t r1, double scale, double offset)
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
    assert_int_equal(decode_width(TYPE_INT64), 4);
    assert_int_equal(decode_width(TYPE_UINT64), 4);
    assert_int_equal(decode_width(TYPE_FLOAT64), 4);
}

static int dec4(enum reg_type t, enum word_order o, const uint16_t *regs, double *v)
{
    struct reg_format f = {.type = t, .order = o, .scale = 1};
    return decode_value(&f, regs, v);
}

static void ints_64_all_orders(void **state)
{
    /* 0x0001000200030004 = 281483566841860, exact in a double */
    static const uint16_t abcd[4] = {0x0001, 0x0002, 0x0003, 0x0004};
    static const uint16_t cdab[4] = {0x0004, 0x0003, 0x0002, 0x0001};
    static const uint16_t badc[4] = {0x0100, 0x0200, 0x0300, 0x0400};
    static const uint16_t dcba[4] = {0x0400, 0x0300, 0x0200, 0x0100};
    static const uint16_t neg[4] = {0xFFFF, 0xFFFF, 0xFFFF, 0xFFFE};
    double v;
    (void)state;
    assert_int_equal(dec4(TYPE_UINT64, ORDER_ABCD, abcd, &v), 0);
    assert_true(v == 281483566841860.0);
    assert_int_equal(dec4(TYPE_UINT64, ORDER_CDAB, cdab, &v), 0);
    assert_true(v == 281483566841860.0);
    assert_int_equal(dec4(TYPE_UINT64, ORDER_BADC, badc, &v), 0);
    assert_true(v == 281483566841860.0);
    assert_int_equal(dec4(TYPE_UINT64, ORDER_DCBA, dcba, &v), 0);
    assert_true(v == 281483566841860.0);
    assert_int_equal(dec4(TYPE_INT64, ORDER_ABCD, neg, &v), 0);
    assert_true(v == -2.0);
}

static void floats_64(void **state)
{
    /* 1234.5678 = 0x40934A456D5CFAAD */
    static const uint16_t abcd[4] = {0x4093, 0x4A45, 0x6D5C, 0xFAAD};
    static const uint16_t cdab[4] = {0xFAAD, 0x6D5C, 0x4A45, 0x4093};
    static const uint16_t dcba[4] = {0xADFA, 0x5C6D, 0x454A, 0x9340};
    static const uint16_t nan[4] = {0x7FF8, 0, 0, 0};
    double v;
    (void)state;
    assert_int_equal(dec4(TYPE_FLOAT64, ORDER_ABCD, abcd, &v), 0);
    assert_true(v == 1234.5678);
    assert_int_equal(dec4(TYPE_FLOAT64, ORDER_CDAB, cdab, &v), 0);
    assert_true(v == 1234.5678);
    assert_int_equal(dec4(TYPE_FLOAT64, ORDER_DCBA, dcba, &v), 0);
    assert_true(v == 1234.5678);
    assert_int_equal(dec4(TYPE_FLOAT64, ORDER_ABCD, nan, &v), -EDOM);
}

/* Found by tests/fuzz/fuzz_decode: a float64 garbage word near the type's
 * limit (-1.5e306), times a scale the config allows, was -inf and "good". */
static void scaled_past_double(void **state)
{
    static const uint16_t huge[4] = {0xFF2B, 0xFFFF, 0xFFFF, 0xFFFF};
    struct reg_format f = {.kind = REG_HOLDING, .type = TYPE_FLOAT64, .order = ORDER_ABCD, .scale = 7.5e9};
    double v = 0;
    (void)state;
    assert_int_equal(decode_value(&f, huge, &v), -EDOM);
    f.scale = 1;
    assert_int_equal(decode_value(&f, huge, &v), 0); /* finite: a number, if an odd one */
    f.map = true, f.raw_min = 0, f.raw_max = 1e-300, f.min = 0, f.max = 1e15;
    assert_int_equal(decode_value(&f, huge, &v), -EDOM);
}

static void status_bits(void **state)
{
    /* elevator status word: bit0 running, bit2 trapped, bit3 out of door zone */
    uint16_t w = 0x000D;
    struct reg_format f = {.type = TYPE_UINT16, .scale = 1, .has_bit = true};
    double v;
    (void)state;
    static const int expect[16] = {1, 0, 1, 1};
    for (int b = 0; b < 16; b++) {
        f.bit = b;
        assert_int_equal(decode_value(&f, &w, &v), 0);
        assert_true(v == expect[b]);
    }
    w = 0x8000;
    f.bit = 15;
    assert_int_equal(decode_value(&f, &w, &v), 0);
    assert_true(v == 1.0);
}

/* A 4-20 mA module reading uA: 4000..20000 -> 0..1.6 MPa, valid 3.8..20.5 mA. */
static void mapping_and_range(void **state)
{
    struct reg_format f = {.type = TYPE_UINT16,
                           .map = true,
                           .raw_min = 4000,
                           .raw_max = 20000,
                           .min = 0,
                           .max = 1.6,
                           .valid = true,
                           .valid_min = -0.02,
                           .valid_max = 1.65};
    uint16_t raw;
    double v;
    (void)state;
    raw = 4000;
    assert_int_equal(decode_value(&f, &raw, &v), 0);
    assert_true(fabs(v) < 1e-12);
    raw = 12000;
    assert_int_equal(decode_value(&f, &raw, &v), 0);
    assert_true(fabs(v - 0.8) < 1e-12);
    raw = 20000;
    assert_int_equal(decode_value(&f, &raw, &v), 0);
    assert_true(fabs(v - 1.6) < 1e-12);
    raw = 3800; /* 3.8 mA: still a measurement */
    assert_int_equal(decode_value(&f, &raw, &v), 0);
    raw = 0; /* open loop */
    assert_int_equal(decode_value(&f, &raw, &v), -ERANGE);
    assert_true(fabs(v - -0.4) < 1e-12);
    raw = 21000; /* over-range */
    assert_int_equal(decode_value(&f, &raw, &v), -ERANGE);
    /* scale/offset with a physical range: a %LEL detector */
    struct reg_format g = {.type = TYPE_INT16, .scale = 0.1, .valid = true, .valid_min = -5, .valid_max = 110};
    raw = 523;
    assert_int_equal(decode_value(&g, &raw, &v), 0);
    assert_true(fabs(v - 52.3) < 1e-9);
    raw = (uint16_t)-100;
    assert_int_equal(decode_value(&g, &raw, &v), -ERANGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(floats_all_orders), cmocka_unit_test(float_not_finite),
        cmocka_unit_test(ints_16),           cmocka_unit_test(ints_32_all_orders),
        cmocka_unit_test(bools_and_widths),  cmocka_unit_test(ints_64_all_orders),
        cmocka_unit_test(floats_64),         cmocka_unit_test(scaled_past_double),
        cmocka_unit_test(status_bits),       cmocka_unit_test(mapping_and_range),
    };
    return cmocka_run_group_tests_name("decode", tests, NULL, NULL);
}
