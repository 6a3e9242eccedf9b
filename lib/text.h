/* text: bytes from outside (the broker, a field device, the console, a
 * file) made safe to show: UTF-8 checked, control characters escaped, so
 * nothing that reaches a log, a terminal or a page can move its cursor,
 * clear it, or forge a line of its own. Never logs. */
#ifndef LIFELINE_TEXT_H
#define LIFELINE_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/* Whether s[0..n) is well-formed UTF-8 (no overlong forms, no surrogates,
 * nothing above U+10FFFF). */
bool text_utf8_valid(const char *s, size_t n);

/* Whether s is well-formed UTF-8 with no control character (C0, DEL, C1):
 * a name, an id or a person's words as text from outside may hold. */
bool text_printable(const char *s);

/* Copies in to out (outlen > 0), NUL-terminated: printable ASCII and valid
 * UTF-8 as they are; control characters (tab, newline and ESC included),
 * DEL, C1 controls and every byte of invalid UTF-8 as \xHH. Stops on a
 * whole character when out is full. Returns the bytes written. */
size_t text_escape(const char *in, char *out, size_t outlen);

#endif
