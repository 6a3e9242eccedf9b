/*
 * lifeline-center send, ack: one command to one gateway (docs/mqtt.md,
 * Commands), and its answer. Subscribes to the gateway's reply topic first,
 * publishes cmd/NAME once the subscription holds, prints the reply with the
 * same id as it came (one JSON line) and exits 0 if it says ok, 1 if the
 * gateway refused, 3 if no answer came in time.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "center.h"

#define EXIT_NO_ANSWER 3

struct sender {
    struct broker_args broker;
    struct conn_opts copts;
    struct conn conn;
    char client_id[96], id[96];
    char cmd_topic[TOPIC_MAX], reply_topic[TOPIC_MAX];
    char *topics[1];
    char *payload;
    long timeout;
    atomic_bool sent;
    atomic_int status; /* -1 waiting */
    int wake_fd;
};

static void sender_connected(void *ctx)
{
    struct sender *s = ctx;
    bool no = false;

    /* once: a reconnect must not give the command twice */
    if (atomic_compare_exchange_strong(&s->sent, &no, true) &&
        conn_publish(&s->conn, s->cmd_topic, s->payload, strlen(s->payload)) < 0) {
        atomic_store(&s->status, 1);
        eventfd_signal(s->wake_fd);
    }
}

static int sender_message(void *ctx, const char *topic, const char *payload, size_t len)
{
    struct sender *s = ctx;
    struct line prob = {.len = 0};
    char id[96];
    cJSON *o = parse_object(payload, len, &prob);

    (void)topic;
    if (!o)
        return 1;
    if (get_str(o, "id", false, id, sizeof(id), &prob) && !strcmp(id, s->id) && atomic_load(&s->status) < 0) {
        bool ok = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "ok"));
        char *text = cJSON_PrintUnformatted(o);
        printf("%s\n", text ? text : "");
        fflush(stdout);
        free(text);
        atomic_store(&s->status, ok ? 0 : 1);
        eventfd_signal(s->wake_fd);
    }
    cJSON_Delete(o);
    return 1;
}

static void send_usage(FILE *f, bool ack)
{
    if (ack)
        fprintf(f, "usage: " PROG
                   " ack [BROKER OPTIONS] [--by WHO] [--timeout S] [--topic-root ROOT] SITE/GATEWAY ALARM_ID\n"
                   "Acknowledge an alarm on its gateway (cmd/ack) and print the answer.\n");
    else
        fprintf(f,
                "usage: " PROG " send [BROKER OPTIONS] [--timeout S] [--topic-root ROOT] SITE/GATEWAY COMMAND [JSON]\n"
                "Give a gateway a command (docs/mqtt.md: ack, get, set, maintenance, history, replay,\n"
                "reset, status, reboot) with JSON as its fields ({} when left out) and print the answer.\n");
    fprintf(f,
            BROKER_OPTS_HELP "  --timeout S        how long to wait for the answer (default 30)\n"
                             "  --topic-root ROOT  the gateways' root (default lifeline/v1)\n"
                             "%s"
                             "Exit status: 0 the gateway carried it out, 1 it refused (the answer says why),\n"
                             "3 no answer in time (a gateway offline does not keep commands).\n",
            ack ? "  --by WHO           who acknowledges (sent as center:WHO)\n" : "");
}

static const struct option send_longopts[] = {
    BROKER_LONGOPTS,
    {"timeout", required_argument, NULL, 't'},
    {"topic-root", required_argument, NULL, 'r'},
    {"by", required_argument, NULL, 'b'},
    {"client-id", required_argument, NULL, 'i'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static bool name_ok(const char *n, size_t max)
{
    size_t len = strlen(n);
    return len > 0 && len <= max &&
           strspn(n, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") == len;
}

static int run(int argc, char **argv, bool ack)
{
    static struct sender s; /* static: paho may still hold a pointer while exit() runs */
    const char *cmd = ack ? "ack" : "send", *root = "lifeline/v1", *by = NULL, *cid = NULL;
    cJSON *body = NULL;
    int ch, rc, sig_fd, status;

#define BAD(...)                                                                                                       \
    do {                                                                                                               \
        fprintf(stderr, PROG " %s: ", cmd);                                                                            \
        fprintf(stderr, __VA_ARGS__);                                                                                  \
        fputc('\n', stderr);                                                                                           \
        send_usage(stderr, ack);                                                                                       \
        cJSON_Delete(body);                                                                                            \
        return EXIT_USAGE;                                                                                             \
    } while (0)

    broker_args_init(&s.broker);
    s.timeout = 30;
    s.wake_fd = -1;
    atomic_init(&s.sent, false);
    atomic_init(&s.status, -1);
    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":h", send_longopts, NULL)) != -1) {
        if ((rc = broker_option(&s.broker, ch, optarg, cmd)) <= 0) {
            if (rc < 0) {
                send_usage(stderr, ack);
                return EXIT_USAGE;
            }
            continue;
        }
        switch (ch) {
        case 't':
            if (parse_long(optarg, 1, 3600, &s.timeout) < 0)
                BAD("bad --timeout (1-3600 seconds) '%s'", optarg);
            break;
        case 'r':
            if (!optarg[0] || strlen(optarg) > 200 || strpbrk(optarg, "+#"))
                BAD("bad --topic-root '%s'", optarg);
            root = optarg;
            break;
        case 'b':
            if (!ack || !optarg[0] || strlen(optarg) > 63)
                BAD("bad --by (1-63 characters) '%s'", optarg);
            by = optarg;
            break;
        case 'i':
            if (!optarg[0] || strlen(optarg) >= sizeof(s.client_id))
                BAD("bad --client-id '%s'", optarg);
            cid = optarg;
            break;
        case 'h':
            send_usage(stdout, ack);
            return 0;
        case ':':
            BAD("option needs a value: %s", argv[optind - 1]);
        default:
            BAD("unknown option %s", argv[optind - 1]);
        }
    }
    int left = argc - optind;
    if (left < 2 || left > (ack ? 2 : 3))
        BAD("%s", ack ? "expected SITE/GATEWAY ALARM_ID" : "expected SITE/GATEWAY COMMAND [JSON]");
    const char *gw = argv[optind], *slash = strchr(gw, '/');
    if (!slash || strchr(slash + 1, '/') || slash == gw || !slash[1] || strpbrk(gw, "+# ") || strlen(gw) > 150)
        BAD("'%s' is not SITE/GATEWAY", gw);
    const char *name = ack ? "ack" : argv[optind + 1];
    if (!name_ok(name, 32))
        BAD("'%s' is not a command name", name);
    if (ack) {
        long alarm;
        if (parse_long(argv[optind + 1], 1, 2147483647L, &alarm) < 0)
            BAD("'%s' is not an alarm id (a whole number from 1)", argv[optind + 1]);
        body = cJSON_CreateObject();
        cJSON_AddNumberToObject(body, "alarm_id", (double)alarm);
        if (by)
            cJSON_AddStringToObject(body, "by", by);
    } else {
        const char *json = left == 3 ? argv[optind + 2] : "{}";
        body = cJSON_Parse(json);
        if (!body || !cJSON_IsObject(body))
            BAD("'%s' is not a JSON object", json);
    }
    if (broker_args_done(&s.broker, cmd) < 0) {
        cJSON_Delete(body);
        return EXIT_USAGE;
    }
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(body, "id");
    if (id && (!cJSON_IsString(id) || !id->valuestring[0] || strlen(id->valuestring) >= sizeof(s.id)))
        BAD("\"id\" must be a string of 1 to 63 characters");
    if (id) {
        snprintf(s.id, sizeof(s.id), "%s", id->valuestring);
    } else {
        snprintf(s.id, sizeof(s.id), "center-%s-%ld", cmd, (long)getpid());
        cJSON_AddStringToObject(body, "id", s.id);
    }
    s.payload = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    body = NULL;
    snprintf(s.cmd_topic, sizeof(s.cmd_topic), "%s/%s/cmd/%s", root, gw, name);
    snprintf(s.reply_topic, sizeof(s.reply_topic), "%s/%s/reply/%s", root, gw, name);
    if (cid)
        snprintf(s.client_id, sizeof(s.client_id), "%s", cid);
    else
        snprintf(s.client_id, sizeof(s.client_id), "lifeline-center-%s-%ld", cmd, (long)getpid());
    s.topics[0] = s.reply_topic;
    s.copts = (struct conn_opts){.broker = &s.broker,
                                 .client_id = s.client_id,
                                 .topics = s.topics,
                                 .ntopics = 1,
                                 .on_message = sender_message,
                                 .on_connected = sender_connected,
                                 .ctx = &s};
    if (!s.payload || (sig_fd = signals_take()) < 0) {
        fprintf(stderr, PROG " %s: cannot start\n", cmd);
        free(s.payload);
        return 1;
    }
    s.wake_fd = eventfd(0, EFD_CLOEXEC);
    if (s.wake_fd < 0 || conn_open(&s.conn, &s.copts) < 0) {
        status = 1;
    } else {
        struct pollfd p[2] = {{.fd = sig_fd, .events = POLLIN}, {.fd = s.wake_fd, .events = POLLIN}};
        long long deadline = monotonic_ms() + s.timeout * 1000;
        status = -1;
        while (status < 0) {
            long long wait = deadline - monotonic_ms();
            if (wait <= 0) {
                fprintf(stderr, PROG " %s: no answer from %s in %ld s%s\n", cmd, gw, s.timeout,
                        atomic_load(&s.sent) ? " (is it online? a gateway offline does not keep commands)"
                                             : " (the broker was not reached)");
                status = EXIT_NO_ANSWER;
            } else if (poll(p, 2, (int)wait) > 0) {
                status = (p[0].revents & POLLIN) ? 1 : atomic_load(&s.status);
            }
        }
    }
    conn_close(&s.conn);
    if (s.wake_fd >= 0)
        close(s.wake_fd);
    close(sig_fd);
    free(s.payload);
    return status;
#undef BAD
}

int cmd_send(int argc, char **argv)
{
    return run(argc, argv, false);
}

int cmd_ack(int argc, char **argv)
{
    return run(argc, argv, true);
}
