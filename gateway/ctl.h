/* ctl: the control socket lifelinectl talks to (docs/console.md), served
 * from the core loop without ever blocking it: non-blocking sockets, a
 * bounded input line and a bounded output buffer per client; a client that
 * sends a line too long gets an error, one that stops reading is dropped.
 *
 * Protocol: the client sends one command per line ("show sensors",
 * "--json show sensors"); the answer is zero or more lines of text (or one
 * line of JSON) followed by a line "%ok" or "%error MESSAGE". A body line
 * that would start with '%' is sent with another '%' in front. */
#ifndef LIFELINE_CTL_H
#define LIFELINE_CTL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "gateway_int.h"
#include "strbuf.h"

#define CTL_LINE_MAX 4096
#define CTL_MAX_ARGS 16
#define CTL_OUT_MAX (4 << 20) /* a client more than this behind is dropped */

struct ctl;

/* Binds [console] socket (mode 0660, group [console] group). */
int ctl_open(struct ctl **out, struct gateway *g);
void ctl_close(struct ctl *c);

/* ---- for the commands (ctl_cmds.c) ---- */

struct ctl_session {
    uid_t uid;
    pid_t pid;
    char user[33];
    bool privileged;
    int64_t active_ms;                /* monotonic: the last command */
    struct ctl_pending {
        char sensor[64], key[32], value[160];
        bool remove;
    } pending[CONFCHANGE_MAX];        /* set sensor ... waiting for config commit */
    unsigned n_pending;
};

/* A bus request the console waits for (modbus read/scan/write): the
 * session answers nothing else until it is done. */
#define CTL_PENDING ((const char *)1) /* a command's "answer comes later" */
struct ctl_req;
struct ctl_op {
    uint64_t id;           /* of the bus request waited for; 0: none */
    unsigned bus;
    bool json;
    int argc;
    char args[CTL_MAX_ARGS][64];
    /* called with the result: NULL (answer), an error, or CTL_PENDING (the
     * next request was sent) */
    const char *(*finish)(struct ctl_req *r, struct ctl_op *op, int err);
    int next, last;        /* scan: the next unit to try, the last */
    struct strbuf acc;     /* text gathered over several requests */
    unsigned found;
};

struct cJSON;
struct ctl_req {
    struct gateway *g;
    struct ctl *ctl;
    struct ctl_session *s;
    int argc;
    char *argv[CTL_MAX_ARGS];
    bool json;
    struct cJSON *j;       /* --json: the answer's object, filled by the command */
    struct strbuf out;     /* text: the answer's body */
    bool oom;              /* a JSON part could not be made */
    struct ctl_op *op;     /* the session's: a command that waits for the bus fills it */
    char err[CFG_ERR_MAX + 64];
};

/* Queues a console read (or write) on a bus for op; 0 or -errno. */
int ctl_bus_request(struct ctl_req *r, struct ctl_op *op, struct bus_write *w);
/* A SAMPLE_WRITE_DONE from a bus: true when it was the console's. */
bool ctl_write_done(struct ctl *c, unsigned bus, uint64_t id, int err);
/* The buses are being restarted: requests in flight will not come back. */
void ctl_buses_gone(struct ctl *c);

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

#endif
