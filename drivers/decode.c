#include "decode.h"

#include <errno.h>
#include <math.h>
#include <modbus.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

unsigned decode_width(enum reg_type type)
{
    switch (type) {
    case TYPE_INT32:
    case TYPE_UINT32:
    case TYPE_FLOAT32:
        return 2;
    default:
        return 1;
    }
}

/* 32-bit integers in the four orders, by the same byte naming libmodbus uses
 * for floats: ABCD is big-endian words and bytes, CDAB word-swapped. */
static uint32_t get_u32(const uint16_t *r, enum word_order o)
{
    uint32_t a = r[0] >> 8, b = r[0] & 0xff, c = r[1] >> 8, d = r[1] & 0xff;

    switch (o) {
    case ORDER_CDAB:
        return c << 24 | d << 16 | a << 8 | b;
    case ORDER_BADC:
        return b << 24 | a << 16 | d << 8 | c;
    case ORDER_DCBA:
        return d << 24 | c << 16 | b << 8 | a;
    case ORDER_ABCD:
    default:
        return a << 24 | b << 16 | c << 8 | d;
    }
}

static float get_f32(const uint16_t *r, enum word_order o)
{
    switch (o) {
    case ORDER_CDAB:
        return modbus_get_float_cdab(r);
    case ORDER_BADC:
        return modbus_get_float_badc(r);
    case ORDER_DCBA:
        return modbus_get_float_dcba(r);
    case ORDER_ABCD:
    default:
        return modbus_get_float_abcd(r);
    }
}

/* A float32 holds ~7 significant digits; widening it to double would show
 * 28.573802947998047 for a detector's 28.5738. */
static double round_f32(float f)
{
    char buf[32];

    if (!isfinite(f))
        return f;
    snprintf(buf, sizeof(buf), "%.7g", (double)f);
    return strtod(buf, NULL);
}

int decode_value(const struct reg_format *f, const uint16_t *regs, double *out)
{
    double raw;

    switch (f->type) {
    case TYPE_INT16:
        raw = (int16_t)regs[0];
        break;
    case TYPE_UINT16:
        raw = regs[0];
        break;
    case TYPE_INT32:
        raw = (int32_t)get_u32(regs, f->order);
        break;
    case TYPE_UINT32:
        raw = get_u32(regs, f->order);
        break;
    case TYPE_FLOAT32:
        raw = round_f32(get_f32(regs, f->order));
        if (!isfinite(raw))
            return -EDOM;
        break;
    case TYPE_BOOL:
    default:
        raw = regs[0] ? 1.0 : 0.0;
        break;
    }
    *out = raw * f->scale + f->offset;
    return 0;
}

const char *const reg_kind_names[] = {"holding", "input", "coil", "discrete", NULL};
const char *const reg_type_names[] = {"int16", "uint16", "int32", "uint32", "float32", "bool", NULL};
const char *const word_order_names[] = {"abcd", "cdab", "badc", "dcba", NULL};
