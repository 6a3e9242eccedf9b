/* store_int: what the files of the store share, private to gateway/store*.c
 * (callers use store.h). store.c owns the connection, the transaction of
 * the tick and the meta counters; store_readings.c, store_alarms.c,
 * store_outbox.c and store_state.c each keep their tables' statements,
 * which store_open prepares, and store_close finalizes, all at once. */
#ifndef LIFELINE_STORE_INT_H
#define LIFELINE_STORE_INT_H

#include <limits.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "store.h"

/* Every prepared statement, by the file that uses it. */
enum stmt_id {
    /* store.c */
    S_BEGIN,
    S_COMMIT,
    S_ROLLBACK,
    S_META_GET,
    S_META_SET,
    S_PAGES,
    /* store_readings.c */
    S_SENSOR_GET,
    S_SENSOR_ADD,
    S_READING_ADD,
    S_OLDEST_TS,
    S_TRIM_AGE,
    S_TRIM_OLDEST,
    S_HISTORY,
    /* store_alarms.c */
    S_ALARM_ADD,
    S_ALARM_UPDATE,
    S_ALARM_ACK,
    S_ALARM_ACTIVE,
    S_ALARMS_RECENT,
    S_EVENT_ADD,
    S_EVENTS,
    /* store_outbox.c */
    S_OUTBOX_ADD,
    S_OUTBOX_NEXT,
    S_OUTBOX_DEL,
    S_OUTBOX_EVICT,
    S_OUTBOX_SIZES,
    /* store_state.c */
    S_TIMER_PUT,
    S_TIMER_DEL,
    S_TIMER_ALL,
    S_MAINT_PUT,
    S_MAINT_DEL,
    S_MAINT_ALL,
    S_COUNTER_PUT,
    S_COUNTER_ALL,
    S_COUNT
};

/* A file's statements: a table of these, ended by {S_COUNT, NULL}. */
struct store_sql {
    enum stmt_id id;
    const char *text;
};

struct store {
    sqlite3 *db;
    sqlite3_stmt *stmt[S_COUNT];
    bool in_txn, urgent;
    bool failed;  /* a statement of the open transaction failed: it must not commit */
    bool failing; /* commits fail (a full disk): log the first and the recovery only */
    int64_t txn_since_ms;
    /* counters handed out in memory and persisted with the transaction, so
     * a rolled-back transaction gives its numbers back, never to be reused
     * for something the center has seen */
    int64_t next_seq, next_alarm_id;
    bool counters_dirty;
    uint32_t boot_count;
    /* the outbox: what it holds (from the table, kept up to date), its
     * bounds, and how many messages were dropped to keep within them */
    struct outbox_stats ob;
    int64_t ob_max, ob_max_bytes, ob_alarm_max;
    char moved_to[PATH_MAX + 48]; /* where a corrupt database went; empty when none */
};

/* store.c: logs what failed with SQLite's text (once while commits fail);
 * returns -EIO. */
int db_error(struct store *st, const char *what);
/* Runs a prepared statement that returns no rows; resets it for reuse. A
 * failure inside a transaction dooms it: it is rolled back at the flush. */
int db_run(struct store *st, enum stmt_id id);
/* Opens the tick's transaction if none is (urgent: commit before publishing). */
int db_touch(struct store *st, bool urgent);
/* A meta value: 0, -ENOENT when the key is not there, or -EIO. */
int db_meta_get(struct store *st, const char *key, int64_t *value);
int db_meta_set(struct store *st, const char *key, int64_t value);

/* store_schema.c: creates the schema or migrates it to
 * STORE_SCHEMA_VERSION, one version per transaction; -EPROTO when the
 * database is newer than this gateway, -EIO on other errors. */
int db_schema_create(struct store *st);

/* The statements of each file, prepared by store_open (store.c has its own). */
extern const struct store_sql db_readings_sql[];
extern const struct store_sql db_alarms_sql[];
extern const struct store_sql db_outbox_sql[];
extern const struct store_sql db_state_sql[];

/* store_outbox.c: the outbox's sizes and drop counters read from the
 * database (at open, after a rollback), and the drop counters written
 * (with the other counters of the transaction). */
int db_outbox_load(struct store *st);
int db_outbox_save_dropped(struct store *st);

#endif
