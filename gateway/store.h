/* store: the gateway's SQLite database (WAL), owned by the core thread.
 * Writes of one tick share one transaction. A transaction holding an alarm
 * event or outbox row is "urgent": store_flush() commits it before anything
 * is published, so an alarm is on disk before it leaves. Readings alone are
 * committed at most once per commit interval to spare the flash.
 * Functions return 0 or a negative error and log the SQLite text once.
 * Each section below names the file of gateway/store*.c that keeps it. */
#ifndef LIFELINE_STORE_H
#define LIFELINE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rules.h"
#include "sample.h"

#define STORE_SCHEMA_VERSION 5

struct store;

/* --- the database and its transaction (store.c) ------------------------ */

/* Opens the database and checks it (PRAGMA integrity_check): a corrupt
 * one is moved aside (store_reset_path says where) and a new one made. */
int store_open(const char *path, struct store **out);
/* SQLite's page cache of this connection, at most bytes (1 MiB at open). */
void store_cache(struct store *st, int64_t bytes);
/* Where a corrupt database was moved at open, or NULL. */
const char *store_reset_path(const struct store *st);
void store_close(struct store *st);
/* Bytes of the database in use (pages not on the free list), or -1. */
int64_t store_used_bytes(struct store *st);

/* Commits the open transaction if it is urgent or older than interval_ms. */
int store_flush(struct store *st, int64_t now_ms, int64_t interval_ms);
/* Commits whatever is open, now. */
int store_commit(struct store *st);
/* A transaction is open (store_flush found it not due yet). After a flush
 * that returned an error, the transaction was rolled back. */
bool store_in_txn(const struct store *st);

uint32_t store_boot_count(const struct store *st);
/* Takes the next gateway-wide sequence number (persisted with the tick). */
int store_next_seq(struct store *st, int64_t *seq);
/* The last sequence number handed out (0: none yet). */
int64_t store_last_seq(const struct store *st);

/* --- readings (store_readings.c) --------------------------------------- */

int store_sensor_id(struct store *st, const char *name, int64_t *id);
int store_add_reading(struct store *st, int64_t sensor_id, int64_t ts_ms, double value, enum quality q);
/* Readings of a sensor with from_ms <= ts < to_ms, oldest first, at most
 * limit: fn for each (has false: no value, a bad reading). Returns how many. */
typedef void (*store_reading_fn)(void *ctx, int64_t ts_ms, double value, bool has, enum quality q);
int store_history(struct store *st, int64_t sensor_id, int64_t from_ms, int64_t to_ms, int limit, store_reading_fn fn,
                  void *ctx);
/* Deletes at most batch readings: older than retention, then the oldest
 * while the database holds more than max_bytes. Returns how many, or < 0. */
int store_trim(struct store *st, int64_t now_wall_ms, int64_t retention_ms, int64_t max_bytes, int batch);

/* --- alarms and their events (store_alarms.c) -------------------------- */

struct alarm_row {
    int64_t id;
    char sensor[64];
    char condition[16];
    enum level level;
    bool acked;
};

int store_alarm_open(struct store *st, const char *sensor, const char *condition, enum level level, int64_t ts_ms,
                     int64_t *alarm_id);
int store_alarm_update(struct store *st, int64_t alarm_id, enum level level, const char *state, int64_t ts_ms,
                       bool active);
/* Acknowledges an active, not yet acknowledged alarm: 0, or -ENOENT. */
int store_alarm_ack(struct store *st, int64_t alarm_id, const char *by, int64_t ts_ms);
int store_add_event(struct store *st, int64_t seq, int64_t alarm_id, int64_t ts_ms, const char *event,
                    const char *payload);
/* Active alarms, for continuing them after a restart. */
typedef void (*store_alarm_fn)(void *ctx, const struct alarm_row *row);
int store_active_alarms(struct store *st, store_alarm_fn fn, void *ctx);
/* Alarm events with from <= seq <= to, in seq order, as they were sent;
 * fn returns < 0 to stop (an error). Returns how many. */
typedef int (*store_event_fn)(void *ctx, int64_t seq, const char *payload);
int store_events(struct store *st, int64_t from_seq, int64_t to_seq, store_event_fn fn, void *ctx);

/* The last alarms (active or not), newest first. */
struct alarm_hist {
    int64_t id;
    char sensor[64], condition[16], state[16], acked_by[80];
    enum level level;                                    /* the last level (for a cleared one: none) */
    int64_t raised_ms, updated_ms, cleared_ms, acked_ms; /* wall clock; 0: not */
    bool active;
};
typedef void (*store_alarm_hist_fn)(void *ctx, const struct alarm_hist *h);
int store_recent_alarms(struct store *st, int limit, store_alarm_hist_fn fn, void *ctx);

/* --- the outbox (store_outbox.c) --------------------------------------- */

enum outbox_prio {
    PRIO_ALARM = 0,
    PRIO_REPLAY = 1, /* alarm events sent again (cmd/replay): after new ones */
    PRIO_STATUS = 2,
    PRIO_TELEMETRY = 3,
    PRIO_COUNT
};

/* What the outbox holds, per priority, and what was dropped from it to keep
 * within its bounds (since the database was made). */
struct outbox_stats {
    int64_t rows[PRIO_COUNT];
    int64_t bytes[PRIO_COUNT];
    int64_t dropped[PRIO_COUNT];
};

struct outbox_msg {
    int64_t id;
    int64_t seq; /* 0 when the message carries none */
    int qos;
    enum outbox_prio prio;
    char topic[256];
    char *payload; /* owned by the store's buffer; valid until the next store call */
    size_t len;
};

/* Bounds the outbox: past max_rows messages or max_bytes of payload, the
 * oldest telemetry is dropped, then the oldest replayed events, then the
 * oldest status/reply/event messages; new alarm events are dropped only
 * past alarm_max of them (replayed ones do not count), oldest first.
 * Every drop is counted (store_outbox_stats). 0 rows: no bounds. */
void store_outbox_limits(struct store *st, int64_t max_rows, int64_t max_bytes, int64_t alarm_max);
/* Adds a message (a telemetry one commits with the readings, the others
 * make the transaction urgent) and applies the bounds. */
int store_outbox_add(struct store *st, enum outbox_prio prio, int64_t seq, const char *topic, const char *payload,
                     size_t len, int qos);
void store_outbox_stats(const struct store *st, struct outbox_stats *out);
/* Calls fn for up to limit committed messages in send order (priority, then
 * age); fn returns false to stop early. */
typedef bool (*store_outbox_fn)(void *ctx, const struct outbox_msg *m);
int store_outbox_each(struct store *st, int limit, store_outbox_fn fn, void *ctx);
int store_outbox_delete(struct store *st, int64_t id);

/* --- state that outlives a restart (store_state.c) --------------------- */

/* A sensor's rule state while a delay timer runs (opaque bytes; saved_ms:
 * the monotonic clock when saved), so a restart continues the timer. */
int store_timer_put(struct store *st, const char *sensor, int64_t saved_ms, const void *state, size_t len);
int store_timer_del(struct store *st, const char *sensor);
typedef void (*store_timer_fn)(void *ctx, const char *sensor, int64_t saved_ms, const void *state, size_t len);
int store_timers(struct store *st, store_timer_fn fn, void *ctx);
/* A sensor in maintenance until a wall-clock time (0: no longer); the
 * transaction becomes urgent. */
int store_maintenance_put(struct store *st, const char *sensor, int64_t until_wall_ms);
typedef void (*store_maint_fn)(void *ctx, const char *sensor, int64_t until_wall_ms);
int store_maintenance(struct store *st, store_maint_fn fn, void *ctx);
/* A GPIO counter's total pulses, in the open transaction. */
int store_counter_put(struct store *st, const char *sensor, int64_t pulses);
typedef void (*store_counter_fn)(void *ctx, const char *sensor, int64_t pulses);
int store_counters(struct store *st, store_counter_fn fn, void *ctx);

#endif
