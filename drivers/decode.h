/* decode: Modbus register formats to engineering values. Pure; never logs.
 * 32-bit floats go through libmodbus's own modbus_get_float_{abcd,badc,cdab,dcba}. */
#ifndef LIFELINE_DECODE_H
#define LIFELINE_DECODE_H

#include <stdint.h>

enum reg_kind { REG_HOLDING, REG_INPUT, REG_COIL, REG_DISCRETE };
enum reg_type { TYPE_INT16, TYPE_UINT16, TYPE_INT32, TYPE_UINT32, TYPE_FLOAT32, TYPE_BOOL };
enum word_order { ORDER_ABCD, ORDER_CDAB, ORDER_BADC, ORDER_DCBA };

struct reg_format {
    enum reg_kind kind;
    uint16_t addr;
    enum reg_type type;
    enum word_order order;
    double scale;  /* engineering = raw * scale + offset */
    double offset;
};

/* Registers (or bits, for coil/discrete kinds) one value occupies. */
unsigned decode_width(enum reg_type type);

/* Decode one value from regs[0..width-1]. Returns 0, or -EDOM when the raw
 * value is not a finite number (NaN/Inf float): the sample is out_of_range. */
int decode_value(const struct reg_format *f, const uint16_t *regs, double *out);

/* Names as the config spells them, indexed by the enums, NULL-terminated. */
extern const char *const reg_kind_names[];
extern const char *const reg_type_names[];
extern const char *const word_order_names[];

#endif
