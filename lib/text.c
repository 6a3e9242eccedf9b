#include "text.h"

#include <stdint.h>
#include <stdio.h>

/* The length of the well-formed UTF-8 sequence at s (of at most n bytes),
 * or 0 when there is none (RFC 3629, table 3-7 of Unicode). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    unsigned char lo = 0x80, hi = 0xbf;

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2;
    else if (c >= 0xe0 && c <= 0xef)
        len = 3;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4;
    else
        return 0;
    if (n < len)
        return 0;
    if (c == 0xe0)
        lo = 0xa0; /* overlong */
    else if (c == 0xed)
        hi = 0x9f; /* surrogates */
    else if (c == 0xf0)
        lo = 0x90; /* overlong */
    else if (c == 0xf4)
        hi = 0x8f; /* above U+10FFFF */
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return len;
}

bool text_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;

    for (size_t i = 0; i < n;) {
        size_t k = utf8_len(p + i, n - i);
        if (!k)
            return false;
        i += k;
    }
    return true;
}

bool text_printable(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = 0;

    while (p[n])
        n++;
    for (size_t i = 0; i < n;) {
        size_t k = utf8_len(p + i, n - i);
        if (!k || (k == 1 && (p[i] < 0x20 || p[i] == 0x7f)) || (k == 2 && p[i] == 0xc2 && p[i + 1] < 0xa0))
            return false;
        i += k;
    }
    return true;
}

size_t text_escape(const char *in, char *out, size_t outlen)
{
    const unsigned char *p = (const unsigned char *)in;
    size_t o = 0, n = 0;

    while (p[n])
        n++;
    for (size_t i = 0; i < n;) {
        size_t k = utf8_len(p + i, n - i);
        /* C1 controls (U+0080..U+009F) move terminals as ESC does */
        bool c1 = k == 2 && p[i] == 0xc2 && p[i + 1] < 0xa0;
        if (k == 1 && p[i] >= 0x20 && p[i] != 0x7f) {
            if (o + 1 >= outlen)
                break;
            out[o++] = (char)p[i];
        } else if (k > 1 && !c1) {
            if (o + k >= outlen)
                break;
            for (size_t j = 0; j < k; j++)
                out[o++] = (char)p[i + j];
        } else {
            k = c1 ? 2 : 1;
            if (o + 4 * k >= outlen)
                break;
            for (size_t j = 0; j < k; j++)
                o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", p[i + j]);
        }
        i += k;
    }
    out[o] = '\0';
    return o;
}
