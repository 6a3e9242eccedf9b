/* core: what a front end may ask of the core. The console (ctl_*.c) and the
 * center's commands (commands.c) are adapters: they parse, call one of
 * these, and format the answer; they never see the core's state. Every
 * action that changes something (acknowledge, maintenance, reset, hold an
 * output) exists once, here. All of it runs on the core thread.
 *
 * Errors are negative errno values; which ones a function returns is said
 * above it. The running config is read-only to front ends. */
#ifndef LIFELINE_CORE_H
#define LIFELINE_CORE_H

#include <stdbool.h>
#include <stdint.h>

#include "actions.h"
#include "bus.h"
#include "config.h"
#include "health.h"
#include "rules.h"
#include "store.h"
#include "uplink.h"

struct gateway;
struct loop;

/* ---- what is running ---- */

const struct config *core_config(const struct gateway *g);
struct loop *core_loop(struct gateway *g);
int64_t core_uptime_ms(const struct gateway *g);
/* The index of a sensor or bus of the running config by name, or -1. */
int core_sensor_index(const struct gateway *g, const char *name);
int core_bus_index(const struct gateway *g, const char *name);

/* ---- sensors and alarms ---- */

struct core_alarm {
    int64_t id;
    enum condition cond;
    enum level level;
    bool acked;
};

/* A sensor's state as a person or the center sees it. */
struct core_sensor {
    bool read; /* a sample has come since the start */
    double value;
    enum quality quality;
    int64_t ts_ms;                        /* the last sample's, wall clock */
    enum level level;                     /* the most severe of its active alarms */
    bool unacked;                         /* one of them is not acknowledged */
    struct core_alarm alarms[COND_COUNT]; /* its active alarms */
    unsigned n_alarms;
    bool maintenance;
    int64_t maint_left_ms; /* in maintenance: how long still */
    uint64_t pulses;       /* a counter's total pulses */
    bool delay_running;    /* a level change waits for its delay */
};

/* The state of sensor idx (< core_config(g)->n_sensors). */
void core_sensor(const struct gateway *g, unsigned idx, struct core_sensor *out);
unsigned core_active_alarms(const struct gateway *g);

/* Acknowledges the active alarm alarm_id for by ("center:desk 3",
 * "console:tom"): the acked event is stored and sent. 0, with the alarm's
 * sensor and level in *sensor and *level; -ENOENT: no active alarm of that
 * id; -EALREADY: acknowledged already; -EIO: it could not be stored. */
int core_ack(struct gateway *g, int64_t alarm_id, const char *by, unsigned *sensor, enum level *level);

/* Puts a sensor, or every sensor of a bus, in maintenance for ms (0: ends
 * it). Its alarms are still recorded and sent, flagged; they start no
 * action and are not reminded. Outlives a restart. The number of sensors
 * concerned, or -ENOENT when there is no such sensor or bus. */
int core_maintenance(struct gateway *g, const char *sensor, const char *bus, int64_t ms, const char *by);

/* ---- history, through the store ---- */

int core_history(struct gateway *g, unsigned sensor, int64_t from_ms, int64_t to_ms, int limit, store_reading_fn fn,
                 void *ctx);
int core_alarm_history(struct gateway *g, int limit, store_alarm_hist_fn fn, void *ctx);
/* Queues the stored alarm events from_seq..to_seq again, as they were
 * (cmd/replay), after new alarm events: how many, or a negative error;
 * -EBUSY while the events of an earlier replay are still waiting. */
int core_replay(struct gateway *g, int64_t from_seq, int64_t to_seq);

/* ---- the gateway as a whole ---- */

struct core_status {
    int64_t uptime_s;
    unsigned boot;
    unsigned active_alarms;
    int64_t last_seq;
    int64_t store_bytes;
    struct outbox_stats outbox;
    bool uplink_up; /* false while the uplink is being restarted */
    struct uplink_info uplink;
    struct health_mem mem;
};
void core_status(struct gateway *g, struct core_status *out);
/* The retained status message's fields (cmd/status); -EAGAIN while the
 * uplink is being restarted. */
int core_status_msg(struct gateway *g, struct status_msg *m, const char **names, unsigned max);

/* Queues a message to the center on lifeline/v1/{site}/{id}/{kind} (an
 * "event", a "reply/NAME"), behind the alarms, through the outbox. */
int core_send(struct gateway *g, const char *kind, const char *payload, size_t len);

/* Stops the daemon cleanly a second from now and starts it again in place. */
int core_reboot(struct gateway *g);

/* -EAGAIN while the uplink is being restarted. */
int core_uplink_reconnect(struct gateway *g);

/* ---- outputs (the actions') ---- */

/* The index of an action by name, or -1; -EAGAIN while they restart. */
int core_output_index(const struct gateway *g, const char *name);
int core_output_info(const struct gateway *g, unsigned idx, struct action_info *out);
/* Releases a latched output: -ENOENT, -EALREADY (not latched). */
int core_output_reset(struct gateway *g, const char *name);
/* Holds an output on (1) or off (0), or gives it back to the rules (-1):
 * -ENOENT, -EALREADY (automatic already). */
int core_output_hold(struct gateway *g, const char *name, int mode, const char *who);
/* An output on for ms, then back to the rules. */
int core_output_pulse(struct gateway *g, const char *name, int64_t ms, const char *who);

/* ---- field buses ---- */

/* A copy of bus b's totals and of up to max slaves' (returns how many);
 * -EAGAIN while the buses restart. */
int core_bus_stats(struct gateway *g, unsigned b, struct bus_counts *total, uint64_t *reconnects,
                   struct slave_state *slaves, unsigned max);
/* Queues a diagnostic read or a write on bus b, between its polls; its
 * SAMPLE_WRITE_DONE comes back to ctl_write_done. 0, -EAGAIN, or -errno. */
int core_bus_request(struct gateway *g, unsigned b, const struct bus_write *w);
/* The registers of bus b's last diagnostic read: how many. */
unsigned core_bus_diag_result(struct gateway *g, unsigned b, uint16_t *regs, unsigned max);

/* ---- config changes (confchange.c) ---- */

#define CONFCHANGE_MAX 32
/* A change of a sensor's key; value NULL removes the sensor's own value. */
struct sensor_edit {
    const char *sensor, *key, *value;
};
/* Whether a key may be changed that way; the keys that may, NULL-ended. */
bool core_settable(const char *key);
const char *const *core_settable_keys(void);
/* Edits, checks the whole config, writes it atomically (previous kept as
 * FILE.prev) and reloads before the loop sleeps. 0, or -1 with err. */
int core_config_change(struct gateway *g, const struct sensor_edit *e, unsigned n, const char *who, char *err,
                       size_t errlen);
/* Puts FILE.prev back (checked first; the current becomes FILE.prev). */
int core_config_rollback(struct gateway *g, const char *who, char *err, size_t errlen);
/* Writes [console] pin = HASH (lifelinectl passwd). */
int core_config_console_pin(struct gateway *g, const char *hash, const char *who, char *err, size_t errlen);

#endif
