/* gateway_int: the core's state, shared by the core's own files: gateway.c
 * (samples, tick, start and stop), alarms.c (events, ack, maintenance),
 * restore.c (state that outlives a restart), reload.c (a new config),
 * confchange.c and core.c (the queries of front ends). Front ends include
 * core.h, never this. */
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
#define COMMIT_INTERVAL_MS 1000 /* the tick: readings are committed at least this often */

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
    uint64_t pulses; /* a GPIO counter's total, kept in the store */
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
    struct loop_timer tm_timer; /* the telemetry batch's delay */
    bool tm_armed;
    struct bus *buses;
    struct field field; /* the drivers' view of cfg, for this generation's buses and gpio */
    struct actions *actions;
    struct telemetry *telemetry;
    struct ctl *ctl;
    struct gpio *gpio;     /* the inputs of gpio buses, read by this loop */
    struct health *health; /* status LEDs and the watchdog */
    struct sensor_rt *rt;
    char alarm_topic[256];
    char reply_topic[256]; /* lifeline/v1/{site}/{id}/reply/ */
    char telemetry_topic[256];
    uint64_t dropped_seen;
    bool actions_due; /* alarm levels changed: evaluate the actions after the batch */
    bool trimming;    /* the readings are over their bounds */
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
    bool reload_due;    /* cmd/set changed the file: reload before sleeping */
    int64_t started_ms; /* monotonic */
};

/* ---- alarms.c ---- */

/* Keeps a sensor's state from before its first event of the transaction. */
void core_remember(struct gateway *g, unsigned idx, const struct sensor_rt *before);
/* One alarm transition: alarms row, event row and outbox row, in the tick's
 * transaction; by: who acknowledged (acked events), else NULL. */
void core_emit_event_by(struct gateway *g, unsigned idx, int64_t ts_ms, enum quality q, const struct rule_event *ev,
                        const char *by);
/* Commits the tick (or, with force, whatever is open); a failed commit
 * puts the sensors' alarm state back. */
void core_commit(struct gateway *g, bool force);
int core_alloc_shadow(struct gateway *g, unsigned n);
/* Puts a sensor in maintenance until the monotonic time until_ms (0: ends
 * it), in the store too, so that it outlives a restart. */
void core_set_maintenance(struct gateway *g, unsigned idx, int64_t until_ms);
/* The sensors in maintenance, for the status (uplink_identity). */
unsigned core_maintenance_list(void *ctx, const char **names, unsigned max);
/* An unacknowledged red alarm is told again every `remind`. */
void core_remind(struct gateway *g, unsigned idx);
/* The status LEDs: online, and the alarms (unacknowledged or not). */
void core_show_health(struct gateway *g);

/* ---- gateway.c: the sample queue ---- */

/* Its size for a config. */
unsigned core_queue_cap(const struct config *cfg);
/* A reload to a config of another size: the queue is empty (its workers
 * are stopped and drained). */
int core_resize_queue(struct gateway *g, unsigned cap);
/* Takes everything the workers queued. */
void core_drain_samples(struct gateway *g);

/* ---- restore.c ---- */

/* Alarms, delay timers, maintenance and counters as the store kept them. */
int core_restore(struct gateway *g);
/* Saves (or drops) a sensor's running delay with the tick. */
void core_save_timer(struct gateway *g, unsigned idx);

/* ---- reload.c ---- */

/* Runtime state for cfg's sensors; a sensor also in old keeps its state. */
struct sensor_rt *core_runtime_for(struct gateway *g, const struct config *cfg, const struct config *old,
                                   const struct sensor_rt *old_rt);
int core_buses_start(struct gateway *g);
void core_buses_stop(struct gateway *g);
int core_open_uplink(struct gateway *g);
int core_open_telemetry(struct gateway *g);
int core_open_actions(struct gateway *g);
/* Reads the config file again and applies it (SIGHUP, cmd/set). */
void core_reload(struct gateway *g);

#endif
