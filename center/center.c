/*
 * lifeline-center: the reference monitoring-center receiver.
 *
 * Subscribes to the gateways' uplink topics (docs/mqtt.md) with paho-mqtt-c's
 * async client and turns what arrives into something a person can read.
 * Today there is one subcommand, `watch`, which prints one line per alarm
 * event and gateway status change. Every MQTT-speaking subcommand opens its
 * broker connection through conn_open()/conn_close().
 *
 * Threads: paho runs its own send and receive threads and calls us back on
 * them; the main thread only waits (poll on a signalfd and an eventfd) and
 * tears down. Anything a callback shares with the main thread is atomic or
 * an fd.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include <MQTTAsync.h>
#include <cjson/cJSON.h>

#ifndef LIFELINE_VERSION
#define LIFELINE_VERSION "dev"
#endif

#define PROG "lifeline-center"
#define EXIT_USAGE 64 /* EX_USAGE from sysexits.h */

/* How much of a payload a warning echoes: enough to recognise it, never a flood. */
#define ECHO_MAX 120
#define TOPIC_MAX 512

/* ------------------------------------------------------------------------ */
/* Small text helpers                                                        */

/* A line built piecewise with snprintf; once truncated it stays truncated. */
struct line {
    char buf[1024];
    size_t len;
    bool truncated;
};

__attribute__((format(printf, 2, 3))) static void line_add(struct line *l, const char *fmt, ...)
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
static void line_pad(struct line *l, size_t shown, size_t width)
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
static void sanitize(char *out, size_t size, const char *in, size_t len)
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
static void echo_payload(char *out, size_t size, const char *payload, size_t len)
{
    char tmp[ECHO_MAX + 1];

    sanitize(tmp, sizeof tmp, payload, len < ECHO_MAX ? len : ECHO_MAX);
    if (snprintf(out, size, "'%s'%s", tmp, len > ECHO_MAX ? "..." : "") >= (int)size)
        out[size - 1] = '\0';
}

static void upcase(char *out, size_t size, const char *in)
{
    size_t i;

    for (i = 0; in[i] && i + 1 < size; i++)
        out[i] = (in[i] >= 'a' && in[i] <= 'z') ? (char)(in[i] - 'a' + 'A') : in[i];
    out[i] = '\0';
}

/* strtol with every check atoi skips: empty, trailing junk, range. */
static int parse_long(const char *s, long min, long max, long *out)
{
    char *end;
    long v;

    if (!isdigit((unsigned char)s[0]) && s[0] != '-')
        return -EINVAL;
    errno = 0;
    v = strtol(s, &end, 10);
    if (end == s || *end != '\0' || errno == ERANGE || v < min || v > max)
        return -EINVAL;
    *out = v;
    return 0;
}

static long long monotonic_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long long realtime_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits up to timeout_ms for fd to become readable; 1 readable, 0 timed out, <0 error. */
static int wait_readable(int fd, int timeout_ms)
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

static int eventfd_signal(int fd)
{
    uint64_t one = 1;

    return write(fd, &one, sizeof one) == (ssize_t)sizeof one ? 0 : -errno;
}

/*
 * SIGINT/SIGTERM are blocked here, before paho starts its threads (which
 * inherit the mask), so they are only ever seen through the returned fd.
 */
static int signals_take(void)
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
/* MQTT connection, shared by every subcommand that talks to the broker      */

typedef void conn_message_fn(void *ctx, const char *topic, const char *payload, size_t len);

struct conn_opts {
    const char *host;
    int port;
    const char *client_id;
    char *const *topics; /* subscribed at QoS 1 on every (re)connect */
    int ntopics;
    conn_message_fn *on_message; /* runs on paho's receive thread */
    void *ctx;
};

#define CONN_NO_FAILURE INT_MIN
#define CONN_TOPICS_MAX 8

struct conn {
    const struct conn_opts *o; /* borrowed; outlives the conn */
    MQTTAsync client;
    bool created;
    char uri[300];
    int done_fd;          /* eventfd: our disconnect request completed */
    atomic_int last_fail; /* failure code last logged, so a retry loop logs once */
};

/* paho's text, or MQTT 3.1.1 CONNACK refusals, which arrive as positive codes. */
static const char *mqtt_err(int code, const char *msg)
{
    static const char *const connack[] = {
        NULL,
        "broker refused: unacceptable protocol version",
        "broker refused: client id rejected",
        "broker refused: server unavailable",
        "broker refused: bad user name or password",
        "broker refused: not authorized",
    };
    const char *s;

    if (msg && *msg)
        return msg;
    if (code > 0 && code < (int)(sizeof connack / sizeof connack[0]))
        return connack[code];
    s = MQTTAsync_strerror(code);
    return s ? s : "unknown error";
}

static void conn_on_subscribed(void *ctx, MQTTAsync_successData *r)
{
    struct conn *c = ctx;
    struct line l = {.len = 0};

    if (!r)
        return;
    for (int i = 0; i < c->o->ntopics; i++) {
        int granted = c->o->ntopics == 1 ? r->alt.qos : r->alt.qosList ? r->alt.qosList[i] : 1;

        if (granted == 0x80)
            fprintf(stderr, PROG ": mqtt: broker refused subscription to '%s'\n",
                    c->o->topics[i]);
        else
            line_add(&l, "%s%s", l.len ? ", " : "", c->o->topics[i]);
    }
    if (l.len)
        fprintf(stderr, PROG ": mqtt: subscribed to %s on %s\n", l.buf, c->uri);
}

static void conn_on_subscribe_failed(void *ctx, MQTTAsync_failureData *r)
{
    struct conn *c = ctx;

    fprintf(stderr, PROG ": mqtt: subscribe on %s failed: %s, retrying on next reconnect\n",
            c->uri, mqtt_err(r ? r->code : MQTTASYNC_FAILURE, r ? r->message : NULL));
}

/* Called after the first connect and every automatic reconnect: clean
 * sessions forget subscriptions, so they are made again each time. */
static void conn_on_connected(void *ctx, char *cause)
{
    struct conn *c = ctx;
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    int qos[CONN_TOPICS_MAX];
    int rc;

    (void)cause;
    atomic_store(&c->last_fail, CONN_NO_FAILURE);
    for (int i = 0; i < c->o->ntopics; i++)
        qos[i] = 1;
    ro.onSuccess = conn_on_subscribed;
    ro.onFailure = conn_on_subscribe_failed;
    ro.context = c;
    rc = MQTTAsync_subscribeMany(c->client, c->o->ntopics, c->o->topics, qos, &ro);
    if (rc != MQTTASYNC_SUCCESS)
        fprintf(stderr, PROG ": mqtt: subscribe on %s failed: %s, retrying on next reconnect\n",
                c->uri, mqtt_err(rc, NULL));
}

static void conn_on_connect_failed(void *ctx, MQTTAsync_failureData *r)
{
    struct conn *c = ctx;
    int code = r ? r->code : MQTTASYNC_FAILURE;

    /* paho retries by itself; say so once per distinct reason, not every attempt. */
    if (atomic_exchange(&c->last_fail, code) != code)
        fprintf(stderr, PROG ": mqtt: connect to %s failed: %s, retrying every 1-30 s\n", c->uri,
                mqtt_err(code, r ? r->message : NULL));
}

static void conn_on_lost(void *ctx, char *cause)
{
    struct conn *c = ctx;

    fprintf(stderr, PROG ": mqtt: connection to %s lost%s%s, reconnecting\n", c->uri,
            cause ? ": " : "", cause ? cause : "");
}

static int conn_on_message(void *ctx, char *topic, int topic_len, MQTTAsync_message *m)
{
    struct conn *c = ctx;
    char t[TOPIC_MAX];
    size_t tl = topic_len > 0 ? (size_t)topic_len : strlen(topic);

    if (tl >= sizeof t || memchr(topic, '\0', tl)) {
        fprintf(stderr, PROG ": mqtt: ignoring message on an over-long or binary topic\n");
    } else {
        memcpy(t, topic, tl);
        t[tl] = '\0';
        c->o->on_message(c->o->ctx, t, m->payload,
                         m->payloadlen > 0 ? (size_t)m->payloadlen : 0);
    }
    MQTTAsync_freeMessage(&m);
    MQTTAsync_free(topic);
    return 1; /* consumed: paho must not redeliver it */
}

static void conn_on_disconnected(void *ctx, MQTTAsync_successData *r)
{
    struct conn *c = ctx;

    (void)r;
    if (eventfd_signal(c->done_fd) < 0)
        fprintf(stderr, PROG ": mqtt: cannot signal disconnect: %s\n", strerror(errno));
}

static void conn_on_disconnect_failed(void *ctx, MQTTAsync_failureData *r)
{
    struct conn *c = ctx;

    fprintf(stderr, PROG ": mqtt: disconnect from %s failed: %s, closing anyway\n", c->uri,
            mqtt_err(r ? r->code : MQTTASYNC_FAILURE, r ? r->message : NULL));
    if (eventfd_signal(c->done_fd) < 0)
        fprintf(stderr, PROG ": mqtt: cannot signal disconnect: %s\n", strerror(errno));
}

static int conn_create(struct conn *c)
{
    int rc;

    rc = MQTTAsync_create(&c->client, c->uri, c->o->client_id, MQTTCLIENT_PERSISTENCE_NONE, NULL);
    if (rc != MQTTASYNC_SUCCESS) {
        fprintf(stderr, PROG ": mqtt: cannot create client for %s: %s\n", c->uri,
                mqtt_err(rc, NULL));
        return -1;
    }
    c->created = true;
    rc = MQTTAsync_setCallbacks(c->client, c, conn_on_lost, conn_on_message, NULL);
    if (rc == MQTTASYNC_SUCCESS)
        rc = MQTTAsync_setConnected(c->client, c, conn_on_connected);
    if (rc != MQTTASYNC_SUCCESS) {
        fprintf(stderr, PROG ": mqtt: cannot set callbacks: %s\n", mqtt_err(rc, NULL));
        return -1;
    }
    return 0;
}

/*
 * Starts connecting and returns at once; the first connect and every loss
 * are retried by paho (1 s doubling to 30 s) and each success re-subscribes.
 * On failure the conn still needs conn_close().
 */
static int conn_open(struct conn *c, const struct conn_opts *o)
{
    MQTTAsync_connectOptions co = MQTTAsync_connectOptions_initializer;
    bool v6 = strchr(o->host, ':') && o->host[0] != '[';
    int rc;

    *c = (struct conn){.o = o, .done_fd = -1};
    atomic_init(&c->last_fail, CONN_NO_FAILURE);
    if (o->ntopics < 1 || o->ntopics > CONN_TOPICS_MAX) {
        fprintf(stderr, PROG ": mqtt: %d topics, expected 1-%d\n", o->ntopics, CONN_TOPICS_MAX);
        return -1;
    }
    rc = snprintf(c->uri, sizeof c->uri, v6 ? "tcp://[%s]:%d" : "tcp://%s:%d", o->host, o->port);
    if (rc < 0 || (size_t)rc >= sizeof c->uri) {
        fprintf(stderr, PROG ": mqtt: host name too long\n");
        return -1;
    }
    c->done_fd = eventfd(0, EFD_CLOEXEC);
    if (c->done_fd < 0) {
        fprintf(stderr, PROG ": mqtt: eventfd: %s\n", strerror(errno));
        return -1;
    }
    if (conn_create(c) < 0)
        return -1;

    co.cleansession = 1;
    co.keepAliveInterval = 30;
    co.connectTimeout = 10;
    /* 3.1.1 only: the default would retry as 3.1, which rejects ids over 23 bytes. */
    co.MQTTVersion = MQTTVERSION_3_1_1;
    co.automaticReconnect = 1;
    co.minRetryInterval = 1;
    co.maxRetryInterval = 30;
    co.onFailure = conn_on_connect_failed;
    co.context = c;
    rc = MQTTAsync_connect(c->client, &co);
    if (rc != MQTTASYNC_SUCCESS) {
        fprintf(stderr, PROG ": mqtt: cannot start connecting to %s: %s\n", c->uri,
                mqtt_err(rc, NULL));
        return -1;
    }
    return 0;
}

/*
 * Disconnects (waiting up to ~3 s for the broker) and frees; safe on a conn
 * that conn_open() left half-made. paho runs callbacks without its lock, so
 * one already under way may finish after this returns: keep the callbacks'
 * context alive until exit (cmd_watch's is static).
 */
static void conn_close(struct conn *c)
{
    MQTTAsync_disconnectOptions d = MQTTAsync_disconnectOptions_initializer;
    int rc;

    if (c->created) {
        d.timeout = 2000;
        d.onSuccess = conn_on_disconnected;
        d.onFailure = conn_on_disconnect_failed;
        d.context = c;
        rc = MQTTAsync_disconnect(c->client, &d);
        if (rc == MQTTASYNC_SUCCESS) {
            if (wait_readable(c->done_fd, 3000) == 0)
                fprintf(stderr, PROG ": mqtt: disconnect from %s timed out, closing anyway\n",
                        c->uri);
        } else if (rc != MQTTASYNC_DISCONNECTED) {
            fprintf(stderr, PROG ": mqtt: disconnect from %s failed: %s, closing anyway\n",
                    c->uri, mqtt_err(rc, NULL));
        }
        MQTTAsync_destroy(&c->client);
        c->created = false;
    }
    if (c->done_fd >= 0)
        close(c->done_fd);
    c->done_fd = -1;
}

/* ------------------------------------------------------------------------ */
/* Payload fields: every one optional to the parser, type-checked, sanitised */

static void note(struct line *prob, const char *key, const char *what)
{
    line_add(prob, "%s\"%s\" %s", prob->len ? ", " : "", key, what);
}

/* JSON null counts as absent. Returns true when *out was filled. */
static bool get_str(const cJSON *o, const char *key, bool required, char *out, size_t size,
                    struct line *prob)
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

static bool get_num(const cJSON *o, const char *key, bool required, double *out,
                    struct line *prob)
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
static bool get_uint(const cJSON *o, const char *key, bool required, double max,
                     long long *out, struct line *prob)
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

/* ------------------------------------------------------------------------ */
/* watch                                                                     */

struct watch {
    struct conn conn;
    struct conn_opts copts;
    char topic_alarm[256];
    char topic_status[256];
    char *topics[2];
    char client_id[128];
    long count;   /* alarm lines before exiting 0; 0: no limit */
    long timeout; /* seconds before exiting 1; 0: none */
    bool color;
    atomic_long printed;
    atomic_int status; /* exit status a paho thread asks for; -1: keep going */
    int wake_fd;       /* eventfd: status was set */
};

struct alarm_ev {
    long long seq, ts;
    char sensor[64], lifeline[32], event[24], level[16], prev_level[16], unit[16], quality[24];
    double value, threshold;
    bool has_value, has_threshold;
};

#define TS_MAX 253402300799999.0 /* 9999-12-31T23:59:59.999Z in ms */
#define SEQ_MAX 9007199254740992.0 /* 2^53: the last integer a JSON double holds exactly */

/* First caller wins; the main thread sees it through wake_fd. */
static void watch_stop(struct watch *w, int status)
{
    int keep_going = -1;

    if (atomic_compare_exchange_strong(&w->status, &keep_going, status) &&
        eventfd_signal(w->wake_fd) < 0)
        fprintf(stderr, PROG ": watch: cannot wake main thread: %s\n", strerror(errno));
}

static const char *level_color(const char *level)
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

static void line_time(struct line *l, long long ts_ms)
{
    time_t s = (time_t)(ts_ms / 1000);
    struct tm tm;
    char buf[32];

    if (!localtime_r(&s, &tm) || strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm) == 0)
        snprintf(buf, sizeof buf, "(bad time)");
    line_add(l, "%s.%03lld  ", buf, ts_ms % 1000);
}

/* The level (or "STATUS") column: upper case, coloured only on a terminal. */
static void line_tag(struct line *l, const char *word, const char *color, bool use_color)
{
    char up[16];

    upcase(up, sizeof up, word);
    if (use_color && color)
        line_add(l, "\033[%sm%s\033[0m", color, up);
    else
        line_add(l, "%s", up);
    line_pad(l, strlen(up), 8);
}

/* "site/gateway" from ".../site/gateway/kind", however deep the root is. */
static void topic_origin(char *out, size_t size, const char *topic)
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

static void line_value(struct line *l, double v)
{
    /* %.2f of 1e300 is 300 digits; large magnitudes read better as %g anyway. */
    if (fabs(v) < 1e9)
        line_add(l, "%.2f", v);
    else
        line_add(l, "%g", v);
}

static void alarm_format(struct line *l, const struct alarm_ev *a, const char *origin,
                         bool color)
{
    size_t at;

    line_time(l, a->ts);
    line_tag(l, a->level, level_color(a->level), color);
    at = l->len;
    line_add(l, "%s", a->event);
    line_pad(l, l->len - at, 13);
    line_add(l, "%s  %s", origin, a->sensor);
    if (a->lifeline[0])
        line_add(l, " [%s]", a->lifeline);
    line_add(l, "  ");
    if (a->has_value)
        line_value(l, a->value);
    else
        line_add(l, "no value");
    if (a->unit[0] && a->has_value)
        line_add(l, " %s", a->unit);
    if (a->has_threshold || a->prev_level[0]) {
        line_add(l, "  (");
        if (a->has_threshold)
            line_add(l, "threshold %g%s", a->threshold, a->prev_level[0] ? ", " : "");
        if (a->prev_level[0])
            line_add(l, "was %s", a->prev_level);
        line_add(l, ")");
    }
    if (a->quality[0] && strcmp(a->quality, "good") != 0)
        line_add(l, "  quality %s", a->quality);
    line_add(l, "  seq %lld", a->seq);
}

/* Fills *a; returns false (with the reasons in prob) when a line cannot be made. */
static bool alarm_parse(const cJSON *o, struct alarm_ev *a, struct line *prob)
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
    return ok;
}

static void status_format(struct line *l, const cJSON *o, const char *origin, bool color,
                          struct line *prob)
{
    char state[24], version[32];
    long long ts = 0, boot = 0, sensors = 0;
    bool has_boot, has_sensors, has_version;
    size_t open;

    if (!get_uint(o, "ts", false, TS_MAX, &ts, prob))
        ts = realtime_ms();
    if (get_str(o, "state", true, state, sizeof state, prob) && !state[0])
        note(prob, "state", "is empty");
    has_version = get_str(o, "version", false, version, sizeof version, prob);
    has_boot = get_uint(o, "boot", false, SEQ_MAX, &boot, prob);
    has_sensors = get_uint(o, "sensors", false, SEQ_MAX, &sensors, prob);
    if (!state[0])
        return;

    line_time(l, ts);
    line_tag(l, "status", NULL, color);
    line_add(l, "%s %s", origin, state);
    if (strcmp(state, "online") != 0 || !(has_version || has_boot || has_sensors))
        return;
    open = l->len;
    line_add(l, " (");
    if (has_version)
        line_add(l, "version %s", version);
    if (has_boot)
        line_add(l, "%sboot %lld", l->len - open > 2 ? ", " : "", boot);
    if (has_sensors)
        line_add(l, "%s%lld sensor%s", l->len - open > 2 ? ", " : "", sensors,
                 sensors == 1 ? "" : "s");
    line_add(l, ")");
}

static void watch_print(struct watch *w, const struct line *l)
{
    if (fputs(l->buf, stdout) == EOF || fputc('\n', stdout) == EOF || fflush(stdout) == EOF) {
        /* Whoever read our output is gone (| head): a quiet end, not an error. */
        if (errno == EPIPE) {
            watch_stop(w, 0);
        } else {
            fprintf(stderr, PROG ": watch: cannot write to stdout: %s\n", strerror(errno));
            watch_stop(w, 1);
        }
    }
}

/* Returns whether a line was printed. */
static bool watch_alarm(struct watch *w, const char *topic, const cJSON *o, struct line *prob)
{
    struct alarm_ev a = {.seq = 0};
    struct line l = {.len = 0};
    char origin[96];
    long n;

    if (!alarm_parse(o, &a, prob))
        return false;
    topic_origin(origin, sizeof origin, topic);
    alarm_format(&l, &a, origin, w->color);
    watch_print(w, &l);
    n = atomic_fetch_add(&w->printed, 1) + 1;
    if (w->count > 0 && n >= w->count)
        watch_stop(w, 0);
    return true;
}

static bool watch_status(struct watch *w, const char *topic, const cJSON *o, struct line *prob)
{
    struct line l = {.len = 0};
    char origin[96];

    topic_origin(origin, sizeof origin, topic);
    status_format(&l, o, origin, w->color, prob);
    if (!l.len)
        return false;
    watch_print(w, &l);
    return true;
}

static void watch_warn(const char *topic, const char *what, const char *payload, size_t len)
{
    char t[TOPIC_MAX], echo[ECHO_MAX + 8];

    sanitize(t, sizeof t, topic, strlen(topic));
    if (len == 0) {
        fprintf(stderr, PROG ": watch: %s: %s\n", t, what);
        return;
    }
    echo_payload(echo, sizeof echo, payload, len);
    fprintf(stderr, PROG ": watch: %s: %s; payload %s\n", t, what, echo);
}

static void watch_message(void *ctx, const char *topic, const char *payload, size_t len)
{
    struct watch *w = ctx;
    const char *kind = strrchr(topic, '/');
    bool is_alarm = kind && !strcmp(kind, "/alarm");
    struct line prob = {.len = 0};
    const char *end = NULL;
    bool shown;
    cJSON *o;

    if (atomic_load(&w->status) != -1)
        return; /* already finishing: --count is exact */
    if (!is_alarm && !(kind && !strcmp(kind, "/status"))) {
        watch_warn(topic, "not an alarm or status topic, skipped", payload, len);
        return;
    }
    /* An empty retained status is how a gateway's status gets cleared. */
    if (len == 0) {
        if (is_alarm)
            watch_warn(topic, "empty payload, skipped", payload, len);
        return;
    }
    o = cJSON_ParseWithLengthOpts(payload, len, &end, false);
    if (!o || !cJSON_IsObject(o)) {
        if (o)
            line_add(&prob, "not a JSON object, skipped");
        else if (end && end >= payload && end <= payload + len)
            line_add(&prob, "not valid JSON (error at byte %zu), skipped",
                     (size_t)(end - payload));
        else
            line_add(&prob, "not valid JSON, skipped");
        watch_warn(topic, prob.buf, payload, len);
        cJSON_Delete(o);
        return;
    }
    shown = is_alarm ? watch_alarm(w, topic, o, &prob) : watch_status(w, topic, o, &prob);
    if (prob.len) {
        line_add(&prob, shown ? ", left out of the line" : ", skipped");
        watch_warn(topic, prob.buf, payload, len);
    }
    cJSON_Delete(o);
}

static void watch_timed_out(const struct watch *w)
{
    long n = atomic_load(&w->printed);

    if (w->count)
        fprintf(stderr, PROG ": watch: timed out after %ld s with %ld of %ld alarm lines\n",
                w->timeout, n, w->count);
    else
        fprintf(stderr, PROG ": watch: timed out after %ld s with %ld alarm lines\n", w->timeout,
                n);
}

/* Blocks until a signal, --count, --timeout or a fatal error; returns the exit status. */
static int watch_wait(struct watch *w, int sig_fd)
{
    long long deadline = monotonic_ms() + (long long)w->timeout * 1000;
    struct signalfd_siginfo si;

    for (;;) {
        struct pollfd p[2] = {{.fd = sig_fd, .events = POLLIN},
                              {.fd = w->wake_fd, .events = POLLIN}};
        long long left = deadline - monotonic_ms();
        int n;

        if (w->timeout && left <= 0) {
            watch_timed_out(w);
            return 1;
        }
        n = poll(p, 2, w->timeout ? (int)left : -1);
        if (n < 0 && errno != EINTR) {
            fprintf(stderr, PROG ": watch: poll: %s\n", strerror(errno));
            return 1;
        }
        if (n > 0 && (p[0].revents & POLLIN)) {
            if (read(sig_fd, &si, sizeof si) != (ssize_t)sizeof si)
                return 1;
            return 0;
        }
        if (n > 0 && (p[1].revents & POLLIN))
            return atomic_load(&w->status);
    }
}

static void watch_usage(FILE *f)
{
    fprintf(f,
            "usage: " PROG " watch [--host H] [--port P] [--topic-root ROOT] [--client-id ID]\n"
            "                            [--count N] [--timeout SECONDS] [--no-color]\n"
            "Print one line per alarm event and gateway status change.\n"
            "  --host H           broker address (default 127.0.0.1)\n"
            "  --port P           broker port (default 1883)\n"
            "  --topic-root ROOT  subscribe to ROOT/alarm and ROOT/status\n"
            "                     (default lifeline/v1/+/+)\n"
            "  --client-id ID     MQTT client id (default lifeline-center-watch-PID)\n"
            "  --count N          exit 0 after N alarm lines\n"
            "  --timeout SECONDS  exit 1 if that much time passes first\n"
            "  --no-color         never colour the level (colour is used only on a terminal)\n");
}

/* A topic root is a filter prefix: no '#', and '+' only as a whole level. */
static bool topic_root_ok(const char *r)
{
    size_t n = strlen(r);

    if (n == 0 || n > 200 || r[n - 1] == '/' || strchr(r, '#'))
        return false;
    for (const char *p = strchr(r, '+'); p; p = strchr(p + 1, '+'))
        if ((p > r && p[-1] != '/') || (p[1] != '\0' && p[1] != '/'))
            return false;
    return true;
}

static int watch_bad(const char *what, const char *arg)
{
    fprintf(stderr, PROG " watch: %s '%s'\n", what, arg);
    watch_usage(stderr);
    return EXIT_USAGE;
}

static const struct option watch_longopts[] = {
    {"host", required_argument, NULL, 'H'},
    {"port", required_argument, NULL, 'p'},
    {"topic-root", required_argument, NULL, 'r'},
    {"client-id", required_argument, NULL, 'i'},
    {"count", required_argument, NULL, 'n'},
    {"timeout", required_argument, NULL, 't'},
    {"no-color", no_argument, NULL, 'C'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* Returns -1 to go on, else the exit status. */
static int watch_options(struct watch *w, int argc, char **argv)
{
    const char *root = "lifeline/v1/+/+", *id = NULL;
    bool no_color = false;
    long port = 1883;
    int ch, rc;

    w->copts.host = "127.0.0.1";
    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":h", watch_longopts, NULL)) != -1) {
        switch (ch) {
        case 'H':
            if (!optarg[0] || strpbrk(optarg, "/ \t"))
                return watch_bad("bad --host", optarg);
            w->copts.host = optarg;
            break;
        case 'p':
            if (parse_long(optarg, 1, 65535, &port) < 0)
                return watch_bad("bad --port (1-65535)", optarg);
            break;
        case 'r':
            if (!topic_root_ok(optarg))
                return watch_bad("bad --topic-root (a topic filter without '#' or trailing '/')",
                                 optarg);
            root = optarg;
            break;
        case 'i':
            if (!optarg[0] || strlen(optarg) >= sizeof w->client_id)
                return watch_bad("bad --client-id (1-127 bytes)", optarg);
            id = optarg;
            break;
        case 'n':
            if (parse_long(optarg, 1, LONG_MAX, &w->count) < 0)
                return watch_bad("bad --count (a whole number >= 1)", optarg);
            break;
        case 't':
            if (parse_long(optarg, 1, INT_MAX / 1000, &w->timeout) < 0)
                return watch_bad("bad --timeout (whole seconds >= 1)", optarg);
            break;
        case 'C':
            no_color = true;
            break;
        case 'h':
            watch_usage(stdout);
            return 0;
        case ':':
            return watch_bad("option needs a value:", argv[optind - 1]);
        default:
            return watch_bad("unknown option", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return watch_bad("unexpected argument", argv[optind]);

    w->copts.port = (int)port;
    rc = id ? snprintf(w->client_id, sizeof w->client_id, "%s", id)
            : snprintf(w->client_id, sizeof w->client_id, "lifeline-center-watch-%ld",
                       (long)getpid());
    if (rc < 0 || (size_t)rc >= sizeof w->client_id)
        return watch_bad("bad --client-id", id ? id : "");
    rc = snprintf(w->topic_alarm, sizeof w->topic_alarm, "%s/alarm", root);
    if (rc < 0 || (size_t)rc >= sizeof w->topic_alarm)
        return watch_bad("bad --topic-root", root);
    rc = snprintf(w->topic_status, sizeof w->topic_status, "%s/status", root);
    if (rc < 0 || (size_t)rc >= sizeof w->topic_status)
        return watch_bad("bad --topic-root", root);
    /* NO_COLOR (no-color.org) is honoured like --no-color. */
    w->color = !no_color && isatty(STDOUT_FILENO) && !(getenv("NO_COLOR") && *getenv("NO_COLOR"));
    return -1;
}

static int cmd_watch(int argc, char **argv)
{
    static struct watch w; /* static: paho may still hold a pointer while exit() runs */
    int sig_fd, status;

    w.wake_fd = -1;
    atomic_init(&w.status, -1);
    atomic_init(&w.printed, 0);
    status = watch_options(&w, argc, argv);
    if (status >= 0)
        return status;

    w.topics[0] = w.topic_alarm;
    w.topics[1] = w.topic_status;
    w.copts.client_id = w.client_id;
    w.copts.topics = w.topics;
    w.copts.ntopics = 2;
    w.copts.on_message = watch_message;
    w.copts.ctx = &w;

    sig_fd = signals_take();
    if (sig_fd < 0) {
        fprintf(stderr, PROG ": watch: cannot set up signals: %s\n", strerror(-sig_fd));
        return 1;
    }
    w.wake_fd = eventfd(0, EFD_CLOEXEC);
    if (w.wake_fd < 0) {
        fprintf(stderr, PROG ": watch: eventfd: %s\n", strerror(errno));
        status = 1;
    } else if (conn_open(&w.conn, &w.copts) < 0) {
        status = 1;
    } else {
        status = watch_wait(&w, sig_fd);
    }
    conn_close(&w.conn);
    if (w.wake_fd >= 0)
        close(w.wake_fd);
    close(sig_fd);
    return status;
}

/* ------------------------------------------------------------------------ */

struct command {
    const char *name;
    int (*fn)(int argc, char **argv); /* argv[0] is the command name */
    const char *help;
};

static const struct command commands[] = {
    {"watch", cmd_watch, "print alarms and gateway status as they arrive"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: " PROG " COMMAND [OPTIONS]   (" PROG " COMMAND --help for its options)\n"
               "commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf(PROG " " LIFELINE_VERSION "\n");
        return 0;
    }
    /* Timestamps are printed in local time from paho's thread: load TZ once, here. */
    tzset();
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, PROG ": unknown command '%s'\n", argv[1]);
    usage(stderr);
    return EXIT_USAGE;
}
