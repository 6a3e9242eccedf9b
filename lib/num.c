#include "num.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>

int num_parse_ll(const char *s, long long min, long long max, long long *out)
{
    char *end;
    long long v;

    /* strtoll skips leading blanks and takes a '+': a number here does not */
    if (!s || !(isdigit((unsigned char)s[0]) || (s[0] == '-' && isdigit((unsigned char)s[1]))))
        return -EINVAL;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (*end != '\0')
        return -EINVAL;
    if (errno == ERANGE || v < min || v > max)
        return -ERANGE;
    *out = v;
    return 0;
}
