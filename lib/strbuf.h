/* strbuf: a growing text buffer (always NUL-terminated once anything is in
 * it). A failed allocation marks it failed and later appends do nothing, so
 * callers check once at the end. */
#ifndef LIFELINE_STRBUF_H
#define LIFELINE_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

struct strbuf {
    char *p;
    size_t len, cap;
    bool failed;
};

void strbuf_put(struct strbuf *b, const char *s, size_t n);
void strbuf_printf(struct strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Hands the text over (an empty string when nothing was put), or NULL when
 * an append failed; the buffer is empty after. */
char *strbuf_take(struct strbuf *b);
void strbuf_free(struct strbuf *b);

#endif
