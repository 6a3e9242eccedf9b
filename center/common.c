/*
 * lifeline-center: the helpers every subcommand shares (center.h): text
 * safe for a terminal, clocks, signals, the typed reading of payload fields
 * and the pieces of a displayed line.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "center.h"
#include "num.h"

void line_add(struct line *l, const char *fmt, ...)
{
    size_t room = sizeof l->buf - l->len;
    va_list ap;
    int n;

    if (l->truncated)
        return;
    va_start(ap, fmt);
    n = vsnprintf(l->buf + l->len, room, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= room) {
        l->truncated = true;
        l->len = sizeof l->buf - 1;
        return;
    }
    l->len += (size_t)n;
}

/* Pads a column whose text took `shown` columns to `width` (at least one space). */
void line_pad(struct line *l, size_t shown, size_t width)
{
    line_add(l, "%*s", shown < width ? (int)(width - shown) : 1, "");
}

/* Length of the well-formed UTF-8 character at s, or 0: bad bytes, overlongs,
 * surrogates and the C1 controls (U+0080-U+009F) all count as invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned char lo = 0x80, hi = 0xbf;
    size_t len;

    if (s[0] < 0xc2 || s[0] > 0xf4)
        return 0;
    len = s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : 4;
    if (s[0] == 0xc2 || s[0] == 0xe0)
        lo = 0xa0;
    else if (s[0] == 0xf0)
        lo = 0x90;
    else if (s[0] == 0xed)
        hi = 0x9f;
    else if (s[0] == 0xf4)
        hi = 0x8f;
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return len;
}

/*
 * Copies untrusted text for a terminal: controls, DEL and anything that is
 * not well-formed UTF-8 become '?', so a hostile sensor name cannot move the
 * cursor or retitle the window; capped at size-1 bytes, never mid-character.
 */
void sanitize(char *out, size_t size, const char *in, size_t len)
{
    const unsigned char *s = (const unsigned char *)in;
    size_t o = 0, i = 0;

    while (i < len && o + 1 < size) {
        size_t n = s[i] < 0x80 ? 1 : utf8_len(s + i, len - i);

        if (n > 1 && o + n >= size)
            break;
        if (n > 1)
            memcpy(out + o, s + i, n);
        else
            out[o] = (n == 1 && s[i] >= 0x20 && s[i] != 0x7f) ? (char)s[i] : '?';
        o += n > 1 ? n : 1;
        i += n > 1 ? n : 1;
    }
    out[o] = '\0';
}

/* Echo of a bad payload for a warning: sanitised, capped, marked when cut. */
void echo_payload(char *out, size_t size, const char *payload, size_t len)
{
    char tmp[ECHO_MAX + 1];

    sanitize(tmp, sizeof tmp, payload, len < ECHO_MAX ? len : ECHO_MAX);
    if (snprintf(out, size, "'%s'%s", tmp, len > ECHO_MAX ? "..." : "") >= (int)size)
        out[size - 1] = '\0';
}

void upcase(char *out, size_t size, const char *in)
{
    size_t i;

    for (i = 0; in[i] && i + 1 < size; i++)
        out[i] = (in[i] >= 'a' && in[i] <= 'z') ? (char)(in[i] - 'a' + 'A') : in[i];
    out[i] = '\0';
}

/* lib/num.c's strict parse, at the width of long. */
int parse_long(const char *s, long min, long max, long *out)
{
    long long v;

    if (num_parse_ll(s, min, max, &v) < 0)
        return -EINVAL;
    *out = (long)v;
    return 0;
}

long long monotonic_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long long realtime_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits up to timeout_ms for fd to become readable; 1 readable, 0 timed out, <0 error. */
int wait_readable(int fd, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    long long deadline = monotonic_ms() + timeout_ms;

    for (;;) {
        long long left = deadline - monotonic_ms();
        int n = poll(&p, 1, left > 0 ? (int)left : 0);

        if (n >= 0)
            return n;
        if (errno != EINTR)
            return -errno;
    }
}

int eventfd_signal(int fd)
{
    uint64_t one = 1;

    return write(fd, &one, sizeof one) == (ssize_t)sizeof one ? 0 : -errno;
}

/*
 * SIGINT/SIGTERM are blocked here, before paho starts its threads (which
 * inherit the mask), so they are only ever seen through the returned fd.
 */
int signals_take(void)
{
    sigset_t set;
    int fd;

    /* A reader that went away (| head) must show up as EPIPE, not kill us. */
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
        return -errno;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    if ((errno = pthread_sigmask(SIG_BLOCK, &set, NULL)) != 0)
        return -errno;
    fd = signalfd(-1, &set, SFD_CLOEXEC);
    return fd >= 0 ? fd : -errno;
}

/* ------------------------------------------------------------------------ */
/* Payload fields: every one optional to the parser, type-checked, sanitised */

void note(struct line *prob, const char *key, const char *what)
{
    line_add(prob, "%s\"%s\" %s", prob->len ? ", " : "", key, what);
}

/* JSON null counts as absent. Returns true when *out was filled. */
bool get_str(const cJSON *o, const char *key, bool required, char *out, size_t size, struct line *prob)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);

    out[0] = '\0';
    if (!it || cJSON_IsNull(it)) {
        if (required)
            note(prob, key, "missing");
        return false;
    }
    if (!cJSON_IsString(it) || !it->valuestring) {
        note(prob, key, "is not a string");
        return false;
    }
    sanitize(out, size, it->valuestring, strlen(it->valuestring));
    return true;
}

bool get_num(const cJSON *o, const char *key, bool required, double *out, struct line *prob)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);

    if (!it || cJSON_IsNull(it)) {
        if (required)
            note(prob, key, "missing");
        return false;
    }
    if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble)) {
        note(prob, key, "is not a number");
        return false;
    }
    *out = it->valuedouble;
    return true;
}

/* A whole number in [0, max]; JSON numbers are doubles, so max <= 2^53. */
bool get_uint(const cJSON *o, const char *key, bool required, double max, long long *out, struct line *prob)
{
    double v;

    if (!get_num(o, key, required, &v, prob))
        return false;
    if (v < 0 || v > max || v != floor(v)) {
        note(prob, key, "is not a whole number in range");
        return false;
    }
    *out = (long long)v;
    return true;
}

/* ---- display ---- */

const char *level_color(const char *level)
{
    if (!strcmp(level, "red"))
        return "31";
    if (!strcmp(level, "orange"))
        return "38;5;208";
    if (!strcmp(level, "yellow"))
        return "33";
    if (!strcmp(level, "blue"))
        return "34";
    return NULL;
}

void line_time(struct line *l, long long ts_ms)
{
    time_t s = (time_t)(ts_ms / 1000);
    struct tm tm;
    char buf[32];

    if (!localtime_r(&s, &tm) || strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm) == 0)
        snprintf(buf, sizeof buf, "(bad time)");
    line_add(l, "%s.%03lld  ", buf, ts_ms % 1000);
}

/* The level (or "STATUS") column: upper case, coloured only on a terminal. */
void line_tag(struct line *l, const char *word, const char *color, bool colored)
{
    char up[16];

    upcase(up, sizeof up, word);
    if (colored && color)
        line_add(l, "\033[%sm%s\033[0m", color, up);
    else
        line_add(l, "%s", up);
    line_pad(l, strlen(up), 8);
}

/* "site/gateway" from ".../site/gateway/kind", however deep the root is. */
void topic_origin(char *out, size_t size, const char *topic)
{
    const char *end = strrchr(topic, '/');
    const char *start = end;
    int levels = 0;

    if (!end) {
        sanitize(out, size, topic, strlen(topic));
        return;
    }
    while (start > topic && levels < 2) {
        start--;
        if (*start == '/')
            levels++;
    }
    if (*start == '/')
        start++;
    sanitize(out, size, start, (size_t)(end - start));
}

void line_value(struct line *l, double v)
{
    /* %.2f of 1e300 is 300 digits; large magnitudes read better as %g anyway. */
    if (fabs(v) < 1e9)
        line_add(l, "%.2f", v);
    else
        line_add(l, "%g", v);
}

bool topic_split(const char *topic, int root_levels, char *site, char *gw, char *kind, size_t size)
{
    const char *p = topic;

    for (int i = 0; i < root_levels; i++) {
        p = strchr(p, '/');
        if (!p)
            return false;
        p++;
    }
    const char *s_end = strchr(p, '/');
    const char *g_end = s_end ? strchr(s_end + 1, '/') : NULL;
    if (!s_end || !g_end || s_end == p || g_end == s_end + 1 || !g_end[1])
        return false;
    if ((size_t)(s_end - p) >= size || (size_t)(g_end - s_end - 1) >= size || strlen(g_end + 1) >= size)
        return false;
    memcpy(site, p, (size_t)(s_end - p));
    site[s_end - p] = '\0';
    memcpy(gw, s_end + 1, (size_t)(g_end - s_end - 1));
    gw[g_end - s_end - 1] = '\0';
    strcpy(kind, g_end + 1);
    return true;
}

bool use_color(bool no_color)
{
    /* NO_COLOR (no-color.org) is honoured like --no-color. */
    return !no_color && isatty(STDOUT_FILENO) && !(getenv("NO_COLOR") && *getenv("NO_COLOR"));
}

cJSON *parse_object(const char *payload, size_t len, struct line *prob)
{
    const char *end = NULL;
    cJSON *o = cJSON_ParseWithLengthOpts(payload, len, &end, false);

    if (o && cJSON_IsObject(o))
        return o;
    if (o)
        line_add(prob, "not a JSON object");
    else if (end && end >= payload && end <= payload + len)
        line_add(prob, "not valid JSON (error at byte %zu)", (size_t)(end - payload));
    else
        line_add(prob, "not valid JSON");
    cJSON_Delete(o);
    return NULL;
}

bool alarm_parse(const cJSON *o, struct alarm_ev *a, struct line *prob)
{
    bool ok = true;

    ok &= get_uint(o, "seq", true, SEQ_MAX, &a->seq, prob);
    ok &= get_uint(o, "ts", true, TS_MAX, &a->ts, prob);
    ok &= get_str(o, "sensor", true, a->sensor, sizeof a->sensor, prob);
    ok &= get_str(o, "event", true, a->event, sizeof a->event, prob);
    ok &= get_str(o, "level", true, a->level, sizeof a->level, prob);
    /* The rest only decorate the line: a bad one is reported and left out. */
    if (!get_str(o, "lifeline", false, a->lifeline, sizeof a->lifeline, prob))
        get_str(o, "class", false, a->lifeline, sizeof a->lifeline, prob);
    get_str(o, "prev_level", false, a->prev_level, sizeof a->prev_level, prob);
    get_str(o, "unit", false, a->unit, sizeof a->unit, prob);
    get_str(o, "quality", false, a->quality, sizeof a->quality, prob);
    a->has_value = get_num(o, "value", false, &a->value, prob);
    a->has_threshold = get_num(o, "threshold", false, &a->threshold, prob);
    a->has_alarm_id = get_uint(o, "alarm_id", false, SEQ_MAX, &a->alarm_id, prob);
    get_str(o, "class", false, a->cls, sizeof a->cls, prob);
    get_str(o, "condition", false, a->condition, sizeof a->condition, prob);
    get_str(o, "by", false, a->by, sizeof a->by, prob);
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, "maintenance");
    a->maintenance = cJSON_IsTrue(m);
    return ok;
}
