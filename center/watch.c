/*
 * lifeline-center watch: one readable line per alarm event and gateway
 * status change, as they arrive (center/README.md).
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "center.h"

struct watch {
    struct conn conn;
    struct broker_args broker;
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

/* First caller wins; the main thread sees it through wake_fd. */
static void watch_stop(struct watch *w, int status)
{
    int keep_going = -1;

    if (atomic_compare_exchange_strong(&w->status, &keep_going, status) && eventfd_signal(w->wake_fd) < 0)
        fprintf(stderr, PROG ": watch: cannot wake main thread: %s\n", strerror(errno));
}

static void alarm_format(struct line *l, const struct alarm_ev *a, const char *origin, bool color)
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

static void status_format(struct line *l, const cJSON *o, const char *origin, bool color, struct line *prob)
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
        line_add(l, "%s%lld sensor%s", l->len - open > 2 ? ", " : "", sensors, sensors == 1 ? "" : "s");
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

static int watch_message(void *ctx, const char *topic, const char *payload, size_t len)
{
    struct watch *w = ctx;
    const char *kind = strrchr(topic, '/');
    bool is_alarm = kind && !strcmp(kind, "/alarm");
    struct line prob = {.len = 0};
    bool shown;
    cJSON *o;

    if (atomic_load(&w->status) != -1)
        return 1; /* already finishing: --count is exact */
    if (!is_alarm && !(kind && !strcmp(kind, "/status"))) {
        watch_warn(topic, "not an alarm or status topic, skipped", payload, len);
        return 1;
    }
    /* An empty retained status is how a gateway's status gets cleared. */
    if (len == 0) {
        if (is_alarm)
            watch_warn(topic, "empty payload, skipped", payload, len);
        return 1;
    }
    o = parse_object(payload, len, &prob);
    if (!o) {
        line_add(&prob, ", skipped");
        watch_warn(topic, prob.buf, payload, len);
        return 1;
    }
    shown = is_alarm ? watch_alarm(w, topic, o, &prob) : watch_status(w, topic, o, &prob);
    if (prob.len) {
        line_add(&prob, shown ? ", left out of the line" : ", skipped");
        watch_warn(topic, prob.buf, payload, len);
    }
    cJSON_Delete(o);
    return 1;
}

static void watch_timed_out(const struct watch *w)
{
    long n = atomic_load(&w->printed);

    if (w->count)
        fprintf(stderr, PROG ": watch: timed out after %ld s with %ld of %ld alarm lines\n", w->timeout, n, w->count);
    else
        fprintf(stderr, PROG ": watch: timed out after %ld s with %ld alarm lines\n", w->timeout, n);
}

/* Blocks until a signal, --count, --timeout or a fatal error; returns the exit status. */
static int watch_wait(struct watch *w, int sig_fd)
{
    long long deadline = monotonic_ms() + (long long)w->timeout * 1000;
    struct signalfd_siginfo si;

    for (;;) {
        struct pollfd p[2] = {{.fd = sig_fd, .events = POLLIN}, {.fd = w->wake_fd, .events = POLLIN}};
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
    fprintf(f, "usage: " PROG " watch [BROKER OPTIONS] [--topic-root ROOT] [--client-id ID]\n"
               "                            [--count N] [--timeout SECONDS] [--no-color]\n"
               "Print one line per alarm event and gateway status change.\n" BROKER_OPTS_HELP
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
    BROKER_LONGOPTS,
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
    int ch, rc;

    broker_args_init(&w->broker);
    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":h", watch_longopts, NULL)) != -1) {
        if ((rc = broker_option(&w->broker, ch, optarg, "watch")) <= 0) {
            if (rc < 0) {
                watch_usage(stderr);
                return EXIT_USAGE;
            }
            continue;
        }
        switch (ch) {
        case 'r':
            if (!topic_root_ok(optarg))
                return watch_bad("bad --topic-root (a topic filter without '#' or trailing '/')", optarg);
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

    if (broker_args_done(&w->broker, "watch") < 0)
        return EXIT_USAGE;
    w->copts.broker = &w->broker;
    rc = id ? snprintf(w->client_id, sizeof w->client_id, "%s", id)
            : snprintf(w->client_id, sizeof w->client_id, "lifeline-center-watch-%ld", (long)getpid());
    if (rc < 0 || (size_t)rc >= sizeof w->client_id)
        return watch_bad("bad --client-id", id ? id : "");
    rc = snprintf(w->topic_alarm, sizeof w->topic_alarm, "%s/alarm", root);
    if (rc < 0 || (size_t)rc >= sizeof w->topic_alarm)
        return watch_bad("bad --topic-root", root);
    rc = snprintf(w->topic_status, sizeof w->topic_status, "%s/status", root);
    if (rc < 0 || (size_t)rc >= sizeof w->topic_status)
        return watch_bad("bad --topic-root", root);
    w->color = use_color(no_color);
    return -1;
}

int cmd_watch(int argc, char **argv)
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
