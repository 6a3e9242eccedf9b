/* gateway_int: the core's state, shared by gateway.c (samples, rules,
 * events, reload) and commands.c (the center's commands). Private to them. */
#ifndef LIFELINE_GATEWAY_INT_H
#define LIFELINE_GATEWAY_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "actions.h"
#include "bus.h"
#include "config.h"
#include "loop.h"
#include "rules.h"
#include "store.h"
#include "telemetry.h"
#include "uplink.h"

#define GATEWAY_SAMPLE_BATCH 256

struct sensor_rt {
    int64_t store_id;
    struct sensor_state st;
    int64_t alarm_id[COND_COUNT]; /* the active alarm of each condition, 0 when none */
    bool acked[COND_COUNT];       /* acknowledged since it was raised or last escalated */
    int64_t told_ms[COND_COUNT];  /* monotonic: last raised/escalated/reminder, for reminders */
    int64_t maint_until;          /* monotonic ms; 0: not in maintenance */
    bool timer_saved;             /* its rule state is in the store's timers table */
    double value;
    enum quality quality;
    int64_t ts_ms;
    uint64_t pulses;              /* a GPIO counter's total, kept in the store */
};

struct gateway {
    struct loop loop;
    struct config cfg;
    uint32_t gen;
    struct store *store;
    struct uplink *uplink;
    struct sampleq q;
    struct loop_fd q_fd;
    struct loop_fd sig_fd;
    struct loop_timer tick;
    struct loop_timer tm_timer;  /* the telemetry batch's delay */
    bool tm_armed;
    struct bus *buses;
    struct field field;     /* the drivers' view of cfg, for this generation's buses and gpio */
    struct actions *actions;
    struct telemetry *telemetry;
    struct ctl *ctl;
    struct gpio *gpio;      /* the inputs of gpio buses, read by this loop */
    struct health *health;  /* status LEDs and the watchdog */
    struct sensor_rt *rt;
    char alarm_topic[256];
    char reply_topic[256];  /* lifeline/v1/{site}/{id}/reply/ */
    char telemetry_topic[256];
    uint64_t dropped_seen;
    bool actions_due;       /* alarm levels changed: evaluate the actions after the batch */
    bool trimming;          /* the readings are over their bounds */
    /* The sensors whose alarm state changed in the open transaction, with
     * their state before it: a transaction that fails to commit takes its
     * events with it, and the state goes back so they are made again. */
    struct sensor_rt *shadow;
    unsigned *dirty;
    unsigned n_dirty;
    struct sample batch[GATEWAY_SAMPLE_BATCH];
    /* cmd/reboot: stop after the reply had time to leave, then exec again */
    struct loop_timer reboot_timer;
    bool reboot;
    bool reload_due;        /* cmd/set changed the file: reload before sleeping */
    int64_t started_ms;     /* monotonic */
};

/* Keeps a sensor's state from before its first event of the transaction. */
void core_remember(struct gateway *g, unsigned idx, const struct sensor_rt *before);
/* One alarm transition: alarms row, event row and outbox row, in the tick's
 * transaction; by: who acknowledged (acked events), else NULL. */
void core_emit_event_by(struct gateway *g, unsigned idx, int64_t ts_ms, enum quality q,
                        const struct rule_event *ev, const char *by);
/* Puts a sensor in maintenance until the monotonic time until_ms (0: ends
 * it), in the store too, so that it outlives a restart. */
void core_set_maintenance(struct gateway *g, unsigned idx, int64_t until_ms);
/* confchange.c: a change of sensor keys in the config file, from the
 * center or the console. value NULL removes the sensor's own value. */
#define CONFCHANGE_MAX 32
struct sensor_edit {
    const char *sensor, *key, *value;
};
/* Whether a key may be changed that way. */
bool core_settable(const char *key);
/* Edits, checks the whole config, writes it atomically (previous kept as
 * FILE.prev) and reloads before the loop sleeps. 0, or -1 with err. */
int core_config_change(struct gateway *g, const struct sensor_edit *e, unsigned n, const char *who, char *err,
                       size_t errlen);
/* Puts FILE.prev back (checked first; the current becomes FILE.prev). */
int core_config_rollback(struct gateway *g, const char *who, char *err, size_t errlen);
/* Writes [console] pin = HASH (lifelinectl passwd). */
int core_config_console_pin(struct gateway *g, const char *hash, const char *who, char *err, size_t errlen);
/* The index of a sensor of the running config by name, or -1. */
int core_sensor_index(const struct gateway *g, const char *name);
/* Reads the config file again and applies it (SIGHUP, cmd/set). */
void core_reload(struct gateway *g);

/* commands.c: a command from the center (uplink_cmd_fn) */
void commands_on_message(void *ctx, const char *name, const char *payload, size_t len);
/* The reboot timer's callback: stops the loop for a restart. */
void commands_on_reboot(struct loop *l, struct loop_timer *t);
/* The sensors in maintenance, for the status. */
unsigned commands_maintenance_list(void *ctx, const char **names, unsigned max);

#endif
