#include "decode.h"

#include <errno.h>
#include <math.h>
#include <modbus.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const reg_kind_names[] = {"holding", "input", "coil", "discrete", NULL};
const char *const reg_type_names[] = {"int16", "uint16", "int32",  "uint32",  "float32",
                                      "bool",  "int64",  "uint64", "float64", NULL};
const char *const word_order_names[] = {"abcd", "cdab", "badc", "dcba", NULL};

unsigned decode_width(enum reg_type type)
{
    switch (type) {
    case TYPE_INT32:
    case TYPE_UINT32:
    case TYPE_FLOAT32:
        return 2;
    case TYPE_INT64:
    case TYPE_UINT64:
    case TYPE_FLOAT64:
        return 4;
    default:
        return 1;
    }
}

/* n words (2 or 4) in the given order, assembled most significant first. */
static uint64_t get_bits(const uint16_t *r, unsigned n, enum word_order o)
{
    bool word_swap = o == ORDER_CDAB || o == ORDER_DCBA;
    bool byte_swap = o == ORDER_BADC || o == ORDER_DCBA;
    uint64_t acc = 0;

    for (unsigned i = 0; i < n; i++) {
        uint16_t w = r[word_swap ? n - 1 - i : i];
        if (byte_swap)
            w = (uint16_t)(w << 8 | w >> 8);
        acc = acc << 16 | w;
    }
    return acc;
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

static double raw_value(const struct reg_format *f, const uint16_t *regs)
{
    uint64_t u;
    double d;

    if (f->has_bit)
        return (regs[0] >> f->bit) & 1;
    switch (f->type) {
    case TYPE_INT16:
        return (int16_t)regs[0];
    case TYPE_UINT16:
        return regs[0];
    case TYPE_INT32:
        return (int32_t)(uint32_t)get_bits(regs, 2, f->order);
    case TYPE_UINT32:
        return (double)get_bits(regs, 2, f->order);
    case TYPE_FLOAT32:
        return round_f32(get_f32(regs, f->order));
    case TYPE_INT64:
        return (double)(int64_t)get_bits(regs, 4, f->order);
    case TYPE_UINT64:
        return (double)get_bits(regs, 4, f->order);
    case TYPE_FLOAT64:
        u = get_bits(regs, 4, f->order);
        memcpy(&d, &u, sizeof(d));
        return d;
    case TYPE_BOOL:
    default:
        return regs[0] ? 1.0 : 0.0;
    }
}

int decode_value(const struct reg_format *f, const uint16_t *regs, double *out)
{
    double raw = raw_value(f, regs), v;

    if (!isfinite(raw))
        return -EDOM;
    if (f->map)
        v = f->min + (raw - f->raw_min) * (f->max - f->min) / (f->raw_max - f->raw_min);
    else
        v = raw * f->scale + f->offset;
    if (!isfinite(v))
        return -EDOM; /* a float64 near its limit, scaled past it */
    *out = v;
    if (f->valid && (v < f->valid_min || v > f->valid_max))
        return -ERANGE;
    return 0;
}
