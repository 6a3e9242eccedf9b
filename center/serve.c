/*
 * lifeline-center serve: the receiver. Stores every alarm event once (by
 * gateway, epoch and seq), every status and event message, keeps the
 * alarms' state and each gateway's liveness, and fills gaps in a gateway's
 * seq with cmd/replay (docs/center.md).
 *
 * Delivery: a persistent MQTT session (clean session off, a stable client
 * id), so the broker keeps QoS 1 messages while serve is away. paho
 * acknowledges a message when it arrives, after writing it to its own store
 * (DB.mqtt/, file persistence); it is taken out of that store only when the
 * callback returns 1, after the event's transaction committed
 * (synchronous=FULL), and a message left there is handed over again at the
 * next start. What the broker did not keep (serve away longer than its
 * queue, a new client id), cmd/status and cmd/replay fetch from the
 * gateways: serve asks every gateway that comes online (and every
 * --check-every) for its last seq.
 *
 * Threads: paho's receive thread stores messages; the main thread runs the
 * timer (replays, lost events, checks). One mutex serialises the database.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "center.h"
#include "db.h"
#include "limit.h"

#define TICK_MS 500
#define SETTLE_GRACE_MS 3000 /* after a replay's answer, for its events still in flight */
#define LOG_EVERY_MS 10000   /* a gateway's refused messages: one log line this often */
#define HELD_MAX 100         /* held and conflicting events kept per gateway, each */

struct serve {
    struct broker_args broker;
    struct conn_opts copts;
    struct conn conn;
    const char *db_path;
    char store_dir[PATH_MAX]; /* paho's store of received messages not yet taken */
    const char *root;         /* topic root before site/gateway */
    int root_levels;
    char client_id[128];
    char share[64];
    char topics[4][300];
    char *topic_ptrs[4];
    long gap_wait_ms, retry_ms, check_ms;
    struct cdb_limits lim;
    struct limit_opts caps;
    struct limiter *limiter; /* used by paho's thread only, under mu */
    struct cdb *db;
    long long aside_log_ms; /* held and conflicting events: one log line per LOG_EVERY_MS */
    long aside_quiet;
    pthread_mutex_t mu;
    unsigned long long next_id;
    char id_prefix[96];
    atomic_long stored, dups;
};

static void serve_warn(const char *topic, const char *what, const char *payload, size_t len)
{
    char t[TOPIC_MAX], echo[ECHO_MAX + 8];

    sanitize(t, sizeof t, topic, strlen(topic));
    echo_payload(echo, sizeof echo, payload, len);
    fprintf(stderr, PROG ": serve: %s: %s; payload %s\n", t, what, echo);
}

/* Publishes cmd/NAME to gateway gw (site/id) with a fresh id of ours;
 * records it as a request when kind is given. Called with mu held. */
static int send_cmd(struct serve *s, const char *gw, const char *name, long long from, long long to, long long now)
{
    char topic[TOPIC_MAX], payload[160], id[128];
    int n;

    snprintf(id, sizeof(id), "%s-%llu", s->id_prefix, ++s->next_id);
    if (!strcmp(name, "replay"))
        n = snprintf(payload, sizeof(payload), "{\"id\":\"%s\",\"from\":%lld,\"to\":%lld}", id, from, to);
    else
        n = snprintf(payload, sizeof(payload), "{\"id\":\"%s\"}", id);
    snprintf(topic, sizeof(topic), "%s/%s/cmd/%s", s->root, gw, name);
    if (cdb_begin(s->db) < 0 || cdb_request_add(s->db, id, gw, name, from, to, now) < 0 || cdb_commit(s->db) < 0) {
        cdb_rollback(s->db);
        return -1;
    }
    if (!strcmp(name, "replay"))
        fprintf(stderr, PROG ": serve: %s: seq %lld-%lld missing: asked for a replay (%s)\n", gw, from, to, id);
    return conn_publish(&s->conn, topic, payload, (size_t)n);
}

/* An event held (too far ahead) or in conflict (a stored seq, other
 * bytes): logged a line per LOG_EVERY_MS, and the gateway asked what its
 * seq is, at most once per gap-wait. Called with mu held. */
static void set_aside(struct serve *s, const char *gw, enum ev_result r, long long seq, long long now)
{
    long long every = s->gap_wait_ms > 1000 ? s->gap_wait_ms : 1000;

    if (now - s->aside_log_ms >= LOG_EVERY_MS) {
        fprintf(stderr,
                PROG ": serve: %s: seq %lld %s: not applied, asking the gateway (%ld more since the last line)\n", gw,
                seq, r == EV_HELD ? "beyond what it confirmed" : "stored with other bytes", s->aside_quiet);
        s->aside_log_ms = now;
        s->aside_quiet = 0;
    } else {
        s->aside_quiet++;
    }
    if (cdb_status_due(s->db, gw, now, every) > 0)
        send_cmd(s, gw, "status", 0, 0, now);
}

static int on_alarm(struct serve *s, const char *gw, const char *topic, const char *payload, size_t len, long long now)
{
    struct line prob = {.len = 0};
    struct alarm_ev a = {.seq = 0};
    cJSON *o = parse_object(payload, len, &prob);

    if (!o || !alarm_parse(o, &a, &prob)) {
        line_add(&prob, "; not stored");
        serve_warn(topic, prob.buf, payload, len);
        cJSON_Delete(o);
        return 1; /* it will never be valid: keeping it would block the rest */
    }
    cJSON_Delete(o);
    if (cdb_begin(s->db) < 0)
        return 0;
    enum ev_result r = cdb_alarm_event(s->db, gw, &a, payload, len, now);
    if (r == EV_ERROR || cdb_commit(s->db) < 0) {
        cdb_rollback(s->db);
        return 0;
    }
    if (r == EV_DUP)
        atomic_fetch_add(&s->dups, 1);
    else if (r == EV_NEW)
        atomic_fetch_add(&s->stored, 1);
    else
        set_aside(s, gw, r, a.seq, now);
    return 1;
}

static int on_status(struct serve *s, const char *gw, const char *topic, const char *payload, size_t len, long long now)
{
    struct line prob = {.len = 0};
    struct gw_status st = {.boot = 0};
    bool online = false;
    cJSON *o;

    if (len == 0)
        return 1; /* a retained status cleared */
    if (!(o = parse_object(payload, len, &prob))) {
        line_add(&prob, "; not stored");
        serve_warn(topic, prob.buf, payload, len);
        return 1;
    }
    get_str(o, "state", true, st.state, sizeof(st.state), &prob);
    get_str(o, "version", false, st.version, sizeof(st.version), &prob);
    get_str(o, "config", false, st.config, sizeof(st.config), &prob);
    st.has_boot = get_uint(o, "boot", false, SEQ_MAX, &st.boot, &prob);
    get_uint(o, "sensors", false, SEQ_MAX, &st.sensors, &prob);
    get_uint(o, "ts", false, TS_MAX, &st.ts, &prob);
    get_uint(o, "outbox", false, SEQ_MAX, &st.outbox, &prob);
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(o, "dropped");
    get_uint(d, "alarm", false, SEQ_MAX, &st.dropped[0], &prob);
    get_uint(d, "status", false, SEQ_MAX, &st.dropped[1], &prob);
    get_uint(d, "telemetry", false, SEQ_MAX, &st.dropped[2], &prob);
    cJSON_Delete(o);
    if (!st.state[0]) {
        line_add(&prob, "; not stored");
        serve_warn(topic, prob.buf, payload, len);
        return 1;
    }
    if (cdb_begin(s->db) < 0)
        return 0;
    if (cdb_status(s->db, gw, &st, payload, len, now, &online) < 0 || cdb_commit(s->db) < 0) {
        cdb_rollback(s->db);
        return 0;
    }
    if (online)
        fprintf(stderr, PROG ": serve: %s online (boot %lld)\n", gw, st.boot);
    else if (strcmp(st.state, "online") != 0)
        fprintf(stderr, PROG ": serve: %s %s\n", gw, st.state);
    /* online (now, or retained from before we subscribed): what is its last seq? */
    if (!strcmp(st.state, "online"))
        send_cmd(s, gw, "status", 0, 0, now);
    return 1;
}

static int on_event(struct serve *s, const char *gw, const char *topic, const char *payload, size_t len, long long now)
{
    struct line prob = {.len = 0};
    char type[32] = "";
    long long ts = 0;
    cJSON *o = parse_object(payload, len, &prob);

    if (o) {
        get_str(o, "type", true, type, sizeof(type), &prob);
        get_uint(o, "ts", false, TS_MAX, &ts, &prob);
        cJSON_Delete(o);
    }
    if (!type[0]) {
        line_add(&prob, "; not stored");
        serve_warn(topic, prob.buf, payload, len);
        return 1;
    }
    if (cdb_begin(s->db) < 0)
        return 0;
    if (cdb_gateway_event(s->db, gw, type, ts, payload, len, now) < 0 || cdb_commit(s->db) < 0) {
        cdb_rollback(s->db);
        return 0;
    }
    /* a claim like any other: the gateway's answer decides the epoch */
    if (!strcmp(type, "store_reset")) {
        fprintf(stderr, PROG ": serve: %s: says its database was reset (store_reset): asking it\n", gw);
        if (cdb_status_due(s->db, gw, now, 1000) > 0)
            send_cmd(s, gw, "status", 0, 0, now);
    }
    return 1;
}

/* A reply to a command: the requests of the database (this instance's, or
 * another's of a shared group) are recorded; others' are not ours to keep. */
static int on_reply(struct serve *s, const char *gw, const char *kind, const char *payload, size_t len, long long now)
{
    struct line prob = {.len = 0};
    char id[128], error[256] = "";
    long long count = 0, last_seq = -1, boot = -1, sent = 0;
    cJSON *o = parse_object(payload, len, &prob);
    int r;

    if (!o)
        return 1;
    /* ours, or another instance's of a shared group: any request in the database */
    if (!get_str(o, "id", false, id, sizeof(id), &prob) || strncmp(id, "center-", 7) != 0) {
        cJSON_Delete(o);
        return 1;
    }
    bool ok = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "ok"));
    get_str(o, "error", false, error, sizeof(error), &prob);
    get_uint(o, "count", false, SEQ_MAX, &count, &prob);
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(o, "status");
    if (st) {
        get_uint(st, "last_seq", false, SEQ_MAX, &last_seq, &prob);
        get_uint(st, "boot", false, SEQ_MAX, &boot, &prob);
    }
    cJSON_Delete(o);
    if (!ok)
        fprintf(stderr, PROG ": serve: %s: %s refused: %s\n", gw, kind + 6, error);
    if (cdb_begin(s->db) < 0)
        return 0;
    r = cdb_request_done(s->db, id, gw, ok, count, error, now, &sent);
    /* the gateway's own word on its seq: only in its answer to our status */
    int fresh = r > 0 && ok && last_seq >= 0 && !strcmp(kind, "reply/status")
                    ? cdb_confirm(s->db, gw, last_seq, boot, sent, now)
                    : 0;
    if (r < 0 || fresh < 0 || cdb_commit(s->db) < 0) {
        cdb_rollback(s->db);
        return 0;
    }
    if (fresh)
        fprintf(stderr, PROG ": serve: %s: its seq started again (boot %lld, last seq %lld): a new epoch\n", gw, boot,
                last_seq);
    return 1;
}

/* Over a gateway's caps: dropped (acknowledged, not stored), counted, and
 * said once per LOG_EVERY_MS with the count. Called with mu held. */
static bool serve_capped(struct serve *s, const char *gw, const char *kind, size_t len, long long now)
{
    enum limit_kind k = !strcmp(kind, "status") ? LIMIT_STATUS : !strcmp(kind, "alarm") ? LIMIT_ALARM : LIMIT_EVENT;
    bool big;

    if (strcmp(kind, "status") && strcmp(kind, "alarm") && strcmp(kind, "event")) {
        if (len <= s->caps.max_bytes)
            return false; /* replies: answers to our own questions, only the size is capped */
        big = true;
    } else if (limit_take(s->limiter, gw, k, len, now, &big)) {
        return false;
    }
    long n = limit_report(s->limiter, gw, now, LOG_EVERY_MS);
    if (n > 0)
        fprintf(stderr, PROG ": serve: %s: over its caps: %s message %s, dropped; counted every %ds\n", gw, kind,
                big ? "larger than --max-bytes" : "over its --*-rate", LOG_EVERY_MS / 1000);
    if (n > 0 && (cdb_begin(s->db) < 0 || cdb_refused(s->db, gw, n) < 0 || cdb_commit(s->db) < 0))
        cdb_rollback(s->db);
    return true;
}

/* The drops over the caps since a gateway's last line, once per
 * LOG_EVERY_MS each. Called with mu held. */
static void serve_report_caps(struct serve *s, long long now)
{
    char gw[GW_MAX];
    long n;

    for (int i = 0; i < 64 && (n = limit_due(s->limiter, now, LOG_EVERY_MS, gw)) > 0; i++) {
        fprintf(stderr, PROG ": serve: %s: %ld more messages over its caps dropped\n", gw, n);
        if (cdb_begin(s->db) < 0 || cdb_refused(s->db, gw, n) < 0 || cdb_commit(s->db) < 0)
            cdb_rollback(s->db);
    }
}

static int serve_message(void *ctx, const char *topic, const char *payload, size_t len)
{
    struct serve *s = ctx;
    char site[80], id[80], kind[80], gw[GW_MAX];
    long long now = realtime_ms();
    int done;

    if (!topic_split(topic, s->root_levels, site, id, kind, sizeof(site))) {
        serve_warn(topic, "not a gateway topic, skipped", payload, len);
        return 1;
    }
    snprintf(gw, sizeof(gw), "%s/%s", site, id);
    pthread_mutex_lock(&s->mu);
    if (!s->db)
        done = 0; /* closing: the broker keeps it for the next run */
    else if (serve_capped(s, gw, kind, len, now))
        done = 1;
    else if (!strcmp(kind, "alarm"))
        done = on_alarm(s, gw, topic, payload, len, now);
    else if (!strcmp(kind, "status"))
        done = on_status(s, gw, topic, payload, len, now);
    else if (!strcmp(kind, "event"))
        done = on_event(s, gw, topic, payload, len, now);
    else if (!strncmp(kind, "reply/", 6))
        done = on_reply(s, gw, kind, payload, len, now);
    else
        done = 1; /* telemetry, our own commands: not ours to store */
    pthread_mutex_unlock(&s->mu);
    if (!done) {
        /* not stored: not acknowledged; paho hands it over again */
        struct timespec ts = {0, 200 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return done;
}

/* The timer: replays answered short become lost events, gaps old enough
 * get a replay, and every --check-every each online gateway is asked for
 * its last seq. */
static void serve_tick(struct serve *s, long long *next_check)
{
    long long now = realtime_ms(), from, to;
    char gw[GW_MAX];

    if (!atomic_load(&s->conn.up))
        return;
    pthread_mutex_lock(&s->mu);
    if (!s->db) {
        pthread_mutex_unlock(&s->mu);
        return;
    }
    if (cdb_begin(s->db) < 0 || cdb_settle_lost(s->db, now, SETTLE_GRACE_MS) < 0 || cdb_commit(s->db) < 0)
        cdb_rollback(s->db);
    if (cdb_begin(s->db) < 0 || cdb_trim(s->db, now) < 0 || cdb_commit(s->db) < 0)
        cdb_rollback(s->db);
    serve_report_caps(s, now);
    /* events beyond what a gateway confirmed: ask it before any replay */
    for (int i = 0; i < 64 && cdb_next_unconfirmed(s->db, now, s->gap_wait_ms > 1000 ? s->gap_wait_ms : 1000, gw) > 0;
         i++)
        if (send_cmd(s, gw, "status", 0, 0, now) < 0)
            break;
    for (int i = 0; i < 64 && cdb_next_gap(s->db, now, s->gap_wait_ms, s->retry_ms, gw, &from, &to) > 0; i++)
        if (send_cmd(s, gw, "replay", from, to, now) < 0)
            break;
    pthread_mutex_unlock(&s->mu);
    if (s->check_ms && monotonic_ms() >= *next_check) {
        *next_check = monotonic_ms() + s->check_ms;
        /* the same question a gateway's online status brings */
        char(*gws)[GW_MAX] = NULL;
        size_t n = 0;
        pthread_mutex_lock(&s->mu);
        if (cdb_online(s->db, &gws, &n) == 0)
            for (size_t i = 0; i < n; i++)
                send_cmd(s, gws[i], "status", 0, 0, now);
        pthread_mutex_unlock(&s->mu);
        free(gws);
    }
}

static int serve_wait(struct serve *s, int sig_fd)
{
    long long next_check = monotonic_ms() + s->check_ms;
    struct signalfd_siginfo si;

    for (;;) {
        struct pollfd p = {.fd = sig_fd, .events = POLLIN};
        int n = poll(&p, 1, TICK_MS);
        if (n < 0 && errno != EINTR) {
            fprintf(stderr, PROG ": serve: poll: %s\n", strerror(errno));
            return 1;
        }
        if (n > 0 && (p.revents & POLLIN)) {
            if (read(sig_fd, &si, sizeof si) != (ssize_t)sizeof si)
                return 1;
            fprintf(stderr, PROG ": serve: stopping (%ld events stored, %ld duplicates dropped)\n",
                    atomic_load(&s->stored), atomic_load(&s->dups));
            return 0;
        }
        serve_tick(s, &next_check);
    }
}

static void serve_usage(FILE *f)
{
    fprintf(f,
            "usage: " PROG " serve [BROKER OPTIONS] [--db FILE] [--client-id ID] [--share GROUP]\n"
            "                            [--topic-root ROOT] [--gap-wait SECONDS] [--check-every SECONDS]\n"
            "                            [--seq-ahead N] [--lost-max N] [--keep-days D] [--keep-rows N]\n"
            "Store every alarm event, status and event of the gateways; fill gaps with cmd/replay.\n" BROKER_OPTS_HELP
            "  --db FILE          the center's database (default lifeline-center.db)\n"
            "  --client-id ID     MQTT client id of the persistent session (default\n"
            "                     lifeline-center-serve; one per instance)\n"
            "  --share GROUP      a shared subscription ($share/GROUP/...): instances of the\n"
            "                     group split the messages (give them one database)\n"
            "  --topic-root ROOT  the gateways' root before site/gateway (default lifeline/v1)\n"
            "  --gap-wait S       how long a gap in a gateway's seq may wait for events still\n"
            "                     on their way before a replay is asked (default 5)\n"
            "  --check-every S    ask each online gateway for its last seq this often (300; 0 never)\n"
            "  --seq-ahead N      an event more than N beyond a gateway's stored seq and the last\n"
            "                     seq it confirmed is held until it confirms it (default 1000)\n"
            "  --lost-max N       seqs recorded lost per gateway, at most (default 100000)\n"
            "  --keep-days D      status_log, gateway_events, held, conflicts: days kept (30)\n"
            "  --keep-rows N      ... and rows kept, per table (default 100000)\n"
            "  --status-rate N    status messages a minute per gateway, at most (60)\n"
            "  --event-rate N     event messages a minute per gateway, at most (600)\n"
            "  --alarm-rate N     alarm messages a minute per gateway, at most (60000)\n"
            "  --max-bytes N      a larger message from a gateway is dropped (16384)\n");
}

static int serve_bad(const char *what, const char *arg)
{
    fprintf(stderr, PROG " serve: %s '%s'\n", what, arg);
    serve_usage(stderr);
    return EXIT_USAGE;
}

static const struct option serve_longopts[] = {
    BROKER_LONGOPTS,
    {"db", required_argument, NULL, 'd'},
    {"client-id", required_argument, NULL, 'i'},
    {"share", required_argument, NULL, 's'},
    {"topic-root", required_argument, NULL, 'r'},
    {"gap-wait", required_argument, NULL, 'g'},
    {"check-every", required_argument, NULL, 'c'},
    {"seq-ahead", required_argument, NULL, 'A'},
    {"lost-max", required_argument, NULL, 'L'},
    {"keep-days", required_argument, NULL, 'K'},
    {"keep-rows", required_argument, NULL, 'R'},
    {"status-rate", required_argument, NULL, 'S'},
    {"event-rate", required_argument, NULL, 'E'},
    {"alarm-rate", required_argument, NULL, 'M'},
    {"max-bytes", required_argument, NULL, 'B'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static int serve_options(struct serve *s, int argc, char **argv)
{
    const char *id = "lifeline-center-serve";
    long gap = 5, check = 300, ahead = 1000, lost_max = 100000, keep_days = 30, keep_rows = 100000, max_bytes = 16384;
    long rate[LIMIT_KINDS] = {[LIMIT_STATUS] = 60, [LIMIT_EVENT] = 600, [LIMIT_ALARM] = 60000};
    int ch, rc;

    broker_args_init(&s->broker);
    s->db_path = "lifeline-center.db";
    s->root = "lifeline/v1";
    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":h", serve_longopts, NULL)) != -1) {
        if ((rc = broker_option(&s->broker, ch, optarg, "serve")) <= 0) {
            if (rc < 0) {
                serve_usage(stderr);
                return EXIT_USAGE;
            }
            continue;
        }
        switch (ch) {
        case 'd':
            s->db_path = optarg;
            break;
        case 'i':
            if (!optarg[0] || strlen(optarg) >= sizeof(s->client_id))
                return serve_bad("bad --client-id (1-127 bytes)", optarg);
            id = optarg;
            break;
        case 's':
            if (!optarg[0] || strlen(optarg) >= sizeof(s->share) || strpbrk(optarg, "/+#"))
                return serve_bad("bad --share (a group name without / + #)", optarg);
            snprintf(s->share, sizeof(s->share), "%s", optarg);
            break;
        case 'r':
            if (!optarg[0] || strlen(optarg) > 200 || strpbrk(optarg, "+#") || optarg[strlen(optarg) - 1] == '/')
                return serve_bad("bad --topic-root (levels without + # or a trailing /)", optarg);
            s->root = optarg;
            break;
        case 'g':
            if (parse_long(optarg, 0, 86400, &gap) < 0)
                return serve_bad("bad --gap-wait (0-86400 seconds)", optarg);
            break;
        case 'c':
            if (parse_long(optarg, 0, 86400 * 7, &check) < 0)
                return serve_bad("bad --check-every (0-604800 seconds)", optarg);
            break;
        case 'A':
            if (parse_long(optarg, 1, 10000000, &ahead) < 0)
                return serve_bad("bad --seq-ahead (1-10000000)", optarg);
            break;
        case 'L':
            if (parse_long(optarg, 0, 1000000000, &lost_max) < 0)
                return serve_bad("bad --lost-max (0-1000000000)", optarg);
            break;
        case 'K':
            if (parse_long(optarg, 1, 36500, &keep_days) < 0)
                return serve_bad("bad --keep-days (1-36500)", optarg);
            break;
        case 'R':
            if (parse_long(optarg, 1, 1000000000, &keep_rows) < 0)
                return serve_bad("bad --keep-rows (1-1000000000)", optarg);
            break;
        case 'S':
        case 'E':
        case 'M':
            if (parse_long(optarg, 1, 100000000,
                           &rate[ch == 'S'   ? LIMIT_STATUS
                                 : ch == 'E' ? LIMIT_EVENT
                                             : LIMIT_ALARM]) < 0)
                return serve_bad("bad --status-rate, --event-rate or --alarm-rate (1-100000000 a minute)", optarg);
            break;
        case 'B':
            if (parse_long(optarg, 256, 268435456, &max_bytes) < 0)
                return serve_bad("bad --max-bytes (256-268435456)", optarg);
            break;
        case 'h':
            serve_usage(stdout);
            return 0;
        case ':':
            return serve_bad("option needs a value:", argv[optind - 1]);
        default:
            return serve_bad("unknown option", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return serve_bad("unexpected argument", argv[optind]);
    if (broker_args_done(&s->broker, "serve") < 0)
        return EXIT_USAGE;
    snprintf(s->client_id, sizeof(s->client_id), "%s", id);
    s->gap_wait_ms = gap * 1000;
    s->retry_ms = 60000;
    s->check_ms = check * 1000;
    s->lim = (struct cdb_limits){.seq_ahead = ahead,
                                 .lost_max = lost_max,
                                 .held_max = HELD_MAX,
                                 .keep_ms = keep_days * 86400000LL,
                                 .keep_rows = keep_rows};
    s->caps.max_bytes = (size_t)max_bytes;
    for (int k = 0; k < LIMIT_KINDS; k++)
        s->caps.per_min[k] = rate[k];
    s->root_levels = 1;
    for (const char *p = s->root; *p; p++)
        s->root_levels += *p == '/';
    static const char *const kinds[4] = {"alarm", "status", "event", "reply/+"};
    for (int i = 0; i < 4; i++) {
        int n = s->share[0]
                    ? snprintf(s->topics[i], sizeof(s->topics[i]), "$share/%s/%s/+/+/%s", s->share, s->root, kinds[i])
                    : snprintf(s->topics[i], sizeof(s->topics[i]), "%s/+/+/%s", s->root, kinds[i]);
        if (n < 0 || (size_t)n >= sizeof(s->topics[i]))
            return serve_bad("bad --topic-root", s->root);
        s->topic_ptrs[i] = s->topics[i];
    }
    char host[64] = "";
    gethostname(host, sizeof(host) - 1);
    /* unique across runs too (a container's pid repeats): the start time */
    snprintf(s->id_prefix, sizeof(s->id_prefix), "center-%.40s-%ld-%lld", host, (long)getpid(), realtime_ms());
    return -1;
}

int cmd_serve(int argc, char **argv)
{
    static struct serve s; /* static: paho may still hold a pointer while exit() runs */
    int sig_fd, status;

    status = serve_options(&s, argc, argv);
    if (status >= 0)
        return status;
    pthread_mutex_init(&s.mu, NULL);
    atomic_init(&s.stored, 0);
    atomic_init(&s.dups, 0);
    if (!(s.limiter = limit_new(&s.caps))) {
        fprintf(stderr, PROG ": serve: out of memory\n");
        return 1;
    }
    if (cdb_open(s.db_path, false, &s.db) < 0) {
        limit_free(s.limiter);
        return 1;
    }
    cdb_set_limits(s.db, &s.lim);
    snprintf(s.store_dir, sizeof(s.store_dir), "%s.mqtt", s.db_path);
    s.copts = (struct conn_opts){.broker = &s.broker,
                                 .client_id = s.client_id,
                                 .persistent = true,
                                 .store_dir = s.store_dir,
                                 .topics = s.topic_ptrs,
                                 .ntopics = 4,
                                 .on_message = serve_message,
                                 .ctx = &s};
    sig_fd = signals_take();
    if (sig_fd < 0) {
        fprintf(stderr, PROG ": serve: cannot set up signals: %s\n", strerror(-sig_fd));
        cdb_close(s.db);
        limit_free(s.limiter);
        return 1;
    }
    fprintf(stderr, PROG ": serve: database %s, client id %s%s%s\n", s.db_path, s.client_id,
            s.share[0] ? ", shared subscription group " : "", s.share);
    status = conn_open(&s.conn, &s.copts) < 0 ? 1 : serve_wait(&s, sig_fd);
    /* the database first: a callback still running then stores nothing and
     * sends nothing (its message stays in paho's store for the next run) */
    pthread_mutex_lock(&s.mu);
    cdb_close(s.db);
    s.db = NULL;
    pthread_mutex_unlock(&s.mu);
    conn_close(&s.conn);
    limit_free(s.limiter);
    close(sig_fd);
    return status;
}
