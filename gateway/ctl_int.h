/* ctl_int: the console's commands, shared by the socket (ctl.c), the
 * command table (ctl_cmds.c) and the rooms of commands: ctl_show.c (what
 * is running), ctl_bus.c (field buses, Modbus and GPIO diagnostics),
 * ctl_change.c (alarms, maintenance, outputs, privilege, the uplink) and
 * ctl_config.c (config changes and the PIN). A command parses its words,
 * calls the core (core.h) and formats the answer: text for a person at
 * 115200 baud, or JSON with --json. */
#ifndef LIFELINE_CTL_INT_H
#define LIFELINE_CTL_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "core.h"
#include "strbuf.h"

struct ctl;

#define CTL_LINE_MAX 4096
#define CTL_MAX_ARGS 16
#define CTL_OUT_MAX (4 << 20) /* a client more than this behind is dropped */

struct ctl_session {
    uid_t uid;
    pid_t pid;
    char user[33];
    bool privileged;
    int64_t active_ms; /* monotonic: the last command */
    struct ctl_pending {
        char sensor[64], key[32], value[160];
        bool remove;
    } pending[CONFCHANGE_MAX]; /* set sensor ... waiting for config commit */
    unsigned n_pending;
};

/* A bus request the console waits for (modbus read/scan/write): the
 * session answers nothing else until it is done. */
#define CTL_PENDING ((const char *)1) /* a command's "answer comes later" */
struct ctl_req;
struct ctl_op {
    uint64_t id; /* of the bus request waited for; 0: none */
    unsigned bus;
    bool json;
    int argc;
    char args[CTL_MAX_ARGS][64];
    /* called with the result: NULL (answer), an error, or CTL_PENDING (the
     * next request was sent) */
    const char *(*finish)(struct ctl_req *r, struct ctl_op *op, int err);
    int next, last;    /* scan: the next unit to try, the last */
    struct strbuf acc; /* text gathered over several requests */
    unsigned found;
    uint8_t units[256]; /* scan: the unit ids that answered */
};

struct cJSON;
struct ctl_req {
    struct gateway *g;
    struct ctl *ctl;
    struct ctl_session *s;
    int argc;
    char *argv[CTL_MAX_ARGS];
    bool json;
    struct cJSON *j;   /* --json: the answer's object, filled by the command */
    struct strbuf out; /* text: the answer's body */
    bool oom;          /* a JSON part could not be made */
    struct ctl_op *op; /* the session's: a command that waits for the bus fills it */
    char err[CFG_ERR_MAX + 64];
};

/* Queues a console read (or write) on a bus for op; 0 or -errno. */
int ctl_bus_request(struct ctl_req *r, struct ctl_op *op, struct bus_write *w);

/* Appends to the text answer. */
void ctl_printf(struct ctl_req *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "console:USER" for events and logs. */
const char *ctl_who(const struct ctl_req *r);
/* Splits one command line into r->argv (in place; --json sets r->json and
 * r->j) and carries it out: NULL, an error text or CTL_PENDING. r->g, ctl,
 * s and op are the caller's. */
const char *ctl_run(struct ctl_req *r, char *line);
/* Carries out r->argv; NULL, or the error text. */
const char *ctl_dispatch(struct ctl_req *r);
/* enable: checks the PIN against [console] pin, with a lockout after wrong ones. */
const char *ctl_enable(struct ctl_req *r, const char *pin);

/* ---- helpers of the commands (ctl_cmds.c) ---- */

struct cJSON;
/* cJSON building: adds item to an object (key) or an array (key NULL);
 * a failed add marks the request out of memory. Returns item or NULL. */
struct cJSON *ctl_jadd(struct ctl_req *r, struct cJSON *to, const char *key, struct cJSON *item);
/* A number, or null without one. */
struct cJSON *ctl_jnum(bool has, double v);
/* "no sensor 'x' (show sensors lists them)" in r->err. */
const char *ctl_no_such(struct ctl_req *r, const char *what, const char *name, const char *list);
/* "12s", "3m", "2h", "4d" */
void ctl_age_text(int64_t ms, char *buf, size_t len);
/* Local time, "2026-12-07 09:15:02". */
void ctl_time_text(int64_t wall_ms, char *buf, size_t len);
/* Logs a privileged command and sends it to the center as an event. */
void ctl_record(struct ctl_req *r, const char *error);

/* ---- the commands: fn(r, argi), argi the first word after the command's ---- */

/* ctl_show.c */
const char *ctl_show_status(struct ctl_req *r, int argi);
const char *ctl_show_sensors(struct ctl_req *r, int argi);
const char *ctl_show_sensor(struct ctl_req *r, int argi);
const char *ctl_show_alarms(struct ctl_req *r, int argi);
const char *ctl_show_alarms_history(struct ctl_req *r, int argi);
const char *ctl_show_outputs(struct ctl_req *r, int argi);
const char *ctl_show_config(struct ctl_req *r, int argi);
const char *ctl_show_log(struct ctl_req *r, int argi);
const char *ctl_list_names(struct ctl_req *r, int argi);
const char *ctl_mqtt_status(struct ctl_req *r, int argi);
/* ctl_bus.c */
const char *ctl_show_buses(struct ctl_req *r, int argi);
const char *ctl_show_bus(struct ctl_req *r, int argi);
const char *ctl_modbus_read(struct ctl_req *r, int argi);
const char *ctl_modbus_scan(struct ctl_req *r, int argi);
const char *ctl_modbus_write(struct ctl_req *r, int argi);
const char *ctl_gpio_get(struct ctl_req *r, int argi);
const char *ctl_gpio_set(struct ctl_req *r, int argi);
const char *ctl_gpio_pulse(struct ctl_req *r, int argi);
/* ctl_change.c */
const char *ctl_enable_cmd(struct ctl_req *r, int argi);
const char *ctl_disable(struct ctl_req *r, int argi);
const char *ctl_ack(struct ctl_req *r, int argi);
const char *ctl_maintenance(struct ctl_req *r, int argi);
const char *ctl_reset(struct ctl_req *r, int argi);
const char *ctl_set_output(struct ctl_req *r, int argi);
const char *ctl_mqtt_reconnect(struct ctl_req *r, int argi);
/* ctl_config.c */
const char *ctl_set_sensor(struct ctl_req *r, int argi);
const char *ctl_config_diff(struct ctl_req *r, int argi);
const char *ctl_config_commit(struct ctl_req *r, int argi);
const char *ctl_config_discard(struct ctl_req *r, int argi);
const char *ctl_config_rollback(struct ctl_req *r, int argi);
const char *ctl_passwd(struct ctl_req *r, int argi);

#endif
