/*
 * lifeline-center: what the subcommands share (common.c, conn.c): text
 * helpers, clocks and signals, the broker connection and its options, and
 * the typed, sanitised reading of payload fields.
 */
#ifndef LIFELINE_CENTER_H
#define LIFELINE_CENTER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

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

#define TS_MAX 253402300799999.0   /* 9999-12-31T23:59:59.999Z in ms */
#define SEQ_MAX 9007199254740992.0 /* 2^53: the last integer a JSON double holds exactly */

/* ---- text (common.c) ---- */

/* A line built piecewise with snprintf; once truncated it stays truncated. */
struct line {
    char buf[1024];
    size_t len;
    bool truncated;
};

__attribute__((format(printf, 2, 3))) void line_add(struct line *l, const char *fmt, ...);
/* Pads a column whose text took `shown` columns to `width` (at least one space). */
void line_pad(struct line *l, size_t shown, size_t width);
/* Safe for a terminal: control characters and malformed UTF-8 become '?'. */
void sanitize(char *out, size_t size, const char *in, size_t len);
/* Echo of a bad payload for a warning: sanitised, capped, marked when cut. */
void echo_payload(char *out, size_t size, const char *payload, size_t len);
void upcase(char *out, size_t size, const char *in);
int parse_long(const char *s, long min, long max, long *out);
long long monotonic_ms(void);
long long realtime_ms(void);
/* Waits up to timeout_ms for fd to become readable; 1 readable, 0 timed out, <0 error. */
int wait_readable(int fd, int timeout_ms);
int eventfd_signal(int fd);
/* Blocks SIGINT/SIGTERM (before paho's threads start) and returns a signalfd for them. */
int signals_take(void);

/* Display pieces shared by watch and the queries. */
const char *level_color(const char *level);
void line_time(struct line *l, long long ts_ms);
void line_tag(struct line *l, const char *word, const char *color, bool use_color);
void line_value(struct line *l, double v);
/* "site/gateway" from ".../site/gateway/kind", however deep the root is. */
void topic_origin(char *out, size_t size, const char *topic);
/* The site, gateway and kind (the levels after them, e.g. "reply/ack") of
 * ROOT/site/gateway/kind, where ROOT has root_levels levels; false if the
 * topic has not that shape or a level is too long. */
bool topic_split(const char *topic, int root_levels, char *site, char *gw, char *kind, size_t size);
/* Whether the terminal gets colour: not with --no-color or NO_COLOR, only on a tty. */
bool use_color(bool no_color);

/* ---- payload fields (common.c): every one optional to the parser ---- */

void note(struct line *prob, const char *key, const char *what);
/* JSON null counts as absent. Each returns true when *out was filled. */
bool get_str(const cJSON *o, const char *key, bool required, char *out, size_t size, struct line *prob);
bool get_num(const cJSON *o, const char *key, bool required, double *out, struct line *prob);
/* A whole number in [0, max]; JSON numbers are doubles, so max <= 2^53. */
bool get_uint(const cJSON *o, const char *key, bool required, double max, long long *out, struct line *prob);
/* cJSON object from a payload, or NULL with the reason in prob. */
cJSON *parse_object(const char *payload, size_t len, struct line *prob);

/* An alarm event (docs/mqtt.md, alarm). */
struct alarm_ev {
    long long seq, ts, alarm_id;
    char sensor[64], cls[32], lifeline[32], condition[16], event[24], level[16], prev_level[16], unit[16], quality[24],
        by[80];
    double value, threshold;
    bool has_value, has_threshold, has_alarm_id, maintenance;
};
/* Fills *a; false (with the reasons in prob) when seq, ts, sensor, event or
 * level is missing or wrong. A wrong optional field is noted and left out. */
bool alarm_parse(const cJSON *o, struct alarm_ev *a, struct line *prob);

/* ---- the broker (conn.c) ---- */

/* 1: done with it (paho acknowledges it); 0: not now, paho hands it over again. */
typedef int conn_message_fn(void *ctx, const char *topic, const char *payload, size_t len);

/* Where and as whom: the options every MQTT subcommand takes (broker_option). */
struct broker_args {
    const char *host;
    int port;
    const char *client_id;
    const char *tls_ca, *tls_cert, *tls_key;
    const char *username;
    char password[256];
    bool has_password;
};

#define BROKER_OPTS_HELP                                                                                               \
    "  --host H           broker address (default 127.0.0.1)\n"                                                        \
    "  --port P           broker port (default 1883; 8883 with --tls-ca)\n"                                            \
    "  --tls-ca FILE      TLS: the CA that signed the broker's certificate\n"                                          \
    "  --tls-cert FILE    TLS: a client certificate (with --tls-key)\n"                                                \
    "  --tls-key FILE     TLS: its private key\n"                                                                      \
    "  --username U       MQTT user name\n"                                                                            \
    "  --password-file F  its password: the file's first line (or LIFELINE_CENTER_PASSWORD)\n"

/* getopt_long entries for the options above, values 0x100 and up. */
/* clang-format off */
#define BROKER_LONGOPTS \
    {"host", required_argument, NULL, 0x100}, {"port", required_argument, NULL, 0x101}, \
    {"tls-ca", required_argument, NULL, 0x102}, {"tls-cert", required_argument, NULL, 0x103}, \
    {"tls-key", required_argument, NULL, 0x104}, {"username", required_argument, NULL, 0x105}, \
    {"password-file", required_argument, NULL, 0x106}
/* clang-format on */

void broker_args_init(struct broker_args *b);
/* One of BROKER_LONGOPTS: 0 taken, 1 not one of them, -1 bad (said on stderr). */
int broker_option(struct broker_args *b, int ch, const char *arg, const char *cmd);
/* After the options: the password from the environment, the TLS pairing,
 * the port's default. 0, or -1 (said on stderr). */
int broker_args_done(struct broker_args *b, const char *cmd);

struct conn_opts {
    const struct broker_args *broker;
    const char *client_id;
    bool persistent;       /* a session the broker keeps (clean session off) */
    const char *store_dir; /* paho's file persistence of messages in flight; NULL: memory */
    char *const *topics;   /* subscribed at QoS 1 on every (re)connect */
    int ntopics;
    conn_message_fn *on_message;     /* runs on paho's receive thread */
    void (*on_connected)(void *ctx); /* after each (re)connect's subscription, paho's thread */
    void *ctx;
};

#define CONN_NO_FAILURE (-2147483647 - 1)
#define CONN_TOPICS_MAX 8

struct conn {
    const struct conn_opts *o; /* borrowed; outlives the conn */
    MQTTAsync client;
    bool created;
    char uri[300];
    int done_fd;          /* eventfd: our disconnect request completed */
    atomic_int last_fail; /* failure code last logged, so a retry loop logs once */
    atomic_bool up;
};

/* Starts connecting and returns at once; paho retries (1 s doubling to 30 s)
 * and each success subscribes again. On failure the conn still needs conn_close(). */
int conn_open(struct conn *c, const struct conn_opts *o);
/* Disconnects (waiting up to ~3 s for the broker) and frees. */
void conn_close(struct conn *c);
/* Queues a message (QoS 1, not retained); 0 or -1 (said on stderr). */
int conn_publish(struct conn *c, const char *topic, const char *payload, size_t len);
const char *mqtt_err(int code, const char *msg);

/* ---- subcommands ---- */

int cmd_watch(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_alarms(int argc, char **argv);
int cmd_gateways(int argc, char **argv);
int cmd_ack(int argc, char **argv);
int cmd_send(int argc, char **argv);

#endif
