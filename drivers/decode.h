/* decode: Modbus register formats to engineering values. Pure; never logs.
 * 32-bit floats go through libmodbus's own modbus_get_float_{abcd,badc,cdab,dcba};
 * integers and 64-bit values follow the same byte naming (A = most significant):
 * abcd big-endian, cdab word-swapped, badc byte-swapped, dcba little-endian. */
#ifndef LIFELINE_DECODE_H
#define LIFELINE_DECODE_H

#include <stdbool.h>
#include <stdint.h>

enum reg_kind {
    REG_HOLDING,
    REG_INPUT,
    REG_COIL,
    REG_DISCRETE
};
enum reg_type {
    TYPE_INT16,
    TYPE_UINT16,
    TYPE_INT32,
    TYPE_UINT32,
    TYPE_FLOAT32,
    TYPE_BOOL,
    TYPE_INT64,
    TYPE_UINT64,
    TYPE_FLOAT64,
};
enum word_order {
    ORDER_ABCD,
    ORDER_CDAB,
    ORDER_BADC,
    ORDER_DCBA
};

struct reg_format {
    enum reg_kind kind;
    uint16_t addr;
    enum reg_type type;
    enum word_order order;
    bool has_bit; /* the value is one bit of a 16-bit word ... */
    int bit;      /* ... this one, 0..15 */
    double scale; /* engineering = raw * scale + offset ... */
    double offset;
    bool map; /* ... or, with map, the line through (raw_min, min) and (raw_max, max) */
    double raw_min, raw_max, min, max;
    bool valid; /* engineering values outside [valid_min, valid_max] are out_of_range */
    double valid_min, valid_max;
};

/* Registers (or bits, for coil/discrete kinds) one value occupies. */
unsigned decode_width(enum reg_type type);

/* Decodes one value from regs[0..width-1] (bits as 0/1 words) into *out.
 * Returns 0; -EDOM when the raw value, or the value scaled, is not a
 * finite number (NaN/Inf);
 * -ERANGE when the value lies outside the valid range (*out is still set).
 * Both mean the sample is out_of_range: an open 4-20 mA loop is never a value. */
int decode_value(const struct reg_format *f, const uint16_t *regs, double *out);

/* Names as the config spells them, indexed by the enums, NULL-terminated. */
extern const char *const reg_kind_names[];
extern const char *const reg_type_names[];
extern const char *const word_order_names[];

#endif
