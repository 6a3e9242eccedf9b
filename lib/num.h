/* num: strict number parsing for text from a person or a file: the whole
 * string must be the number (no sign games, no trailing junk, no empty
 * string), and within the caller's bounds. Never logs. */
#ifndef LIFELINE_NUM_H
#define LIFELINE_NUM_H

/* A whole decimal number min..max into *out: 0, -EINVAL (not a whole
 * number) or -ERANGE (out of bounds; *out untouched). */
int num_parse_ll(const char *s, long long min, long long max, long long *out);

#endif
