/* fuzz_decode: register decoding (drivers/decode.c). The input is a
 * register format (kind, type, word order, bit, scale/offset or a map,
 * a valid range) followed by the registers; formats the config would refuse
 * (config_keys.c: numbers finite and within their key's bounds, a map's
 * raw_min and raw_max apart) are skipped. What must hold for any registers:
 * no crash, and a value that decodes (0) is a finite number inside its
 * valid range: garbage from a sensor becomes a quality flag, never a value. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The next double of the input (0 past its end); false when the config
 * would not take it for a key bounded by lim. */
static bool take_double(const uint8_t **p, const uint8_t *end, double lim, double *d)
{
    *d = 0;
    if (end - *p >= (long)sizeof(*d)) {
        memcpy(d, *p, sizeof(*d));
        *p += sizeof(*d);
    }
    return isfinite(*d) && *d >= -lim && *d <= lim;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *p = data, *end = data + size;
    struct reg_format f = {0};
    uint16_t regs[4] = {0};
    double v;

    if (size < 4 + sizeof(regs))
        return -1;
    f.kind = (enum reg_kind)(p[0] % 4);
    f.type = (enum reg_type)(p[1] % 9);
    f.order = (enum word_order)(p[2] % 4);
    f.has_bit = p[3] & 0x10;
    f.bit = p[3] & 0x0f;
    f.map = p[3] & 0x20;
    f.valid = p[3] & 0x40;
    p += 4;
    memcpy(regs, p, sizeof(regs));
    p += sizeof(regs);
    if (!take_double(&p, end, 1e12, &f.scale) || !take_double(&p, end, 1e12, &f.offset) ||
        !take_double(&p, end, 1e15, &f.raw_min) || !take_double(&p, end, 1e15, &f.raw_max) ||
        !take_double(&p, end, 1e15, &f.min) || !take_double(&p, end, 1e15, &f.max) ||
        !take_double(&p, end, 1e15, &f.valid_min) || !take_double(&p, end, 1e15, &f.valid_max) ||
        (f.map && f.raw_min == f.raw_max))
        return -1;
    if (decode_width(f.type) < 1 || decode_width(f.type) > 4)
        abort();
    int r = decode_value(&f, regs, &v);
    if (r == 0 && !isfinite(v))
        abort(); /* a NaN or an infinity passed as a value */
    if (r == 0 && f.valid && (v < f.valid_min || v > f.valid_max))
        abort(); /* outside the valid range but called good */
    if (r != 0 && r != -EDOM && r != -ERANGE)
        abort();
    return 0;
}
