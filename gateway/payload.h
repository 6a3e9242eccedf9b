/* payload: the JSON documents the gateway publishes (docs/mqtt.md), built
 * with cJSON into caller-owned buffers. Pure; never logs. */
#ifndef LIFELINE_PAYLOAD_H
#define LIFELINE_PAYLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct alarm_msg {
    int64_t seq, ts_ms, alarm_id;
    const char *sensor, *cls, *lifeline, *condition, *event, *level, *prev_level, *unit, *quality;
    double value, threshold;
    bool has_value, has_threshold;
    const char *by;   /* acked events: who acknowledged, else NULL (left out) */
    bool maintenance; /* the sensor is in maintenance (added only when true) */
};

#define CMD_MAX_SENSORS 64
#define CMD_MAX_SET 16

/* One key of a cmd/set: its value as the config file will hold it. */
struct cmd_set {
    char key[32];
    char value[160];
    bool remove; /* null: back to the class/profile default */
};

/* A command from the center, as far as this version reads them. */
struct cmd {
    char id[64]; /* echoed in the reply; empty when missing */
    bool has_id;
    int64_t alarm_id; /* ack */
    bool has_alarm_id;
    char by[64];        /* ack: who acknowledges (operator, desk) */
    char sensor[64];    /* maintenance: a sensor ... */
    char bus[64];       /* ... or a bus */
    char action[64];    /* reset: a latched action */
    int64_t duration_s; /* maintenance: how long; 0 ends it */
    bool has_duration;
    char sensors[CMD_MAX_SENSORS][64]; /* get: which; all when has_sensors is false */
    unsigned n_sensors;
    bool has_sensors;
    int64_t from, to; /* history: ms since the epoch, [from, to); replay: seq, [from, to] */
    bool has_from, has_to;
    int64_t limit; /* history: readings per page */
    bool has_limit;
    struct cmd_set set[CMD_MAX_SET];
    unsigned n_set;
    bool has_set;
};

#define CMD_MAX_PAYLOAD 4096

struct status_msg {
    const char *state; /* online | offline */
    const char *version;
    uint32_t boot;
    unsigned sensors;
    int64_t ts_ms;
    const char *config;             /* the config file's hash */
    int64_t outbox;                 /* messages waiting to be sent */
    int64_t dropped[3];             /* dropped from the outbox: alarm, status, telemetry */
    const char *const *maintenance; /* sensors in maintenance */
    unsigned n_maintenance;
};

/* One reading in a telemetry message. */
struct telemetry_reading {
    const char *sensor, *lifeline, *unit, *quality;
    int64_t ts_ms;
    double value;
    bool has_value; /* false: null (no good reading) */
    bool has_stats; /* min/max/avg/n of the good samples since the last one sent */
    double min, max, avg;
    unsigned n;
    bool has_total; /* a GPIO counter: its total (pulses x per_pulse) */
    double total;
};

/* Return the length written (without the NUL), or -1 if buf is too small. */
int payload_alarm(const struct alarm_msg *m, char *buf, size_t len);
int payload_status(const struct status_msg *m, char *buf, size_t len);
/* An action's execution: {"type":"action","ts":...,"action":"fan","output":"modbus:...",
 * "value":1,"ok":true} (with "error" when not ok). */
int payload_action(int64_t ts_ms, const char *action, const char *output, int value, const char *error, char *buf,
                   size_t len);
/* {"type":"store_reset","ts":...,"moved_to":"..."}: the database was corrupt. */
int payload_store_reset(int64_t ts_ms, const char *moved_to, char *buf, size_t len);
/* {"type":"console","ts":...,"by":"console:tech","command":"maintenance gas-01 30m","ok":true}:
 * a privileged console command (with "error" when refused). */
int payload_console(int64_t ts_ms, const char *by, const char *command, const char *error, char *buf, size_t len);
/* {"type":"console_pin","ts":...,"by":"console:tech","uid":1001,"failures":5,"locked_s":16,"held_back":0}:
 * wrong console PINs in a row from one user (held_back: such events not
 * sent since the last one, by the rate limit). */
int payload_console_pin(int64_t ts_ms, const char *by, long long uid, unsigned failures, int64_t locked_s,
                        unsigned held, char *buf, size_t len);
/* {"ts":...,"readings":[{"sensor":...,"ts":...,"value":...,"unit":...,"quality":...}, ...]} */
int payload_telemetry(int64_t ts_ms, const struct telemetry_reading *r, unsigned n, char *buf, size_t len);
struct cJSON;
/* The status document as a cJSON object (for the status command's reply). */
struct cJSON *payload_status_object(const struct status_msg *m);
/* A reply with more fields: those of the object fields (taken over; NULL
 * for none) after "id" and "ok". Returns malloc'd text (length in *len),
 * or NULL when out of memory. */
char *payload_reply_alloc(const struct cmd *c, const char *error, struct cJSON *fields, size_t *len);
/* {"id":...,"ok":true} or {"id":...,"ok":false,"error":"..."}; id null when unknown. */
int payload_reply(const struct cmd *c, const char *error, char *buf, size_t len);
/* Parses a command payload: 0, or -1 with why in err (the reply's error text). */
int payload_parse_cmd(const char *json, size_t len, struct cmd *c, char *err, size_t errlen);

#endif
