/* store_state: what outlives a restart besides the alarms, one row per
 * sensor: a running delay timer's rule state, maintenance, and a GPIO
 * counter's total. */
#include <errno.h>
#include <sqlite3.h>

#include "store.h"
#include "store_int.h"

const struct store_sql db_state_sql[] = {
    {S_TIMER_PUT, "INSERT INTO timers(sensor, saved_ms, state) VALUES(?1, ?2, ?3) "
                  "ON CONFLICT(sensor) DO UPDATE SET saved_ms = excluded.saved_ms, state = excluded.state"},
    {S_TIMER_DEL, "DELETE FROM timers WHERE sensor = ?1"},
    {S_TIMER_ALL, "SELECT sensor, saved_ms, state FROM timers"},
    {S_MAINT_PUT, "INSERT INTO maintenance(sensor, until_ms) VALUES(?1, ?2) "
                  "ON CONFLICT(sensor) DO UPDATE SET until_ms = excluded.until_ms"},
    {S_MAINT_DEL, "DELETE FROM maintenance WHERE sensor = ?1"},
    {S_MAINT_ALL, "SELECT sensor, until_ms FROM maintenance"},
    {S_COUNTER_PUT, "INSERT INTO counters(sensor, pulses) VALUES(?1, ?2) "
                    "ON CONFLICT(sensor) DO UPDATE SET pulses = excluded.pulses"},
    {S_COUNTER_ALL, "SELECT sensor, pulses FROM counters"},
    {S_COUNT, NULL},
};

/* Upserts or deletes a (sensor, number, blob) row of timers or maintenance. */
static int keyed_put(struct store *st, enum stmt_id id, const char *sensor, int64_t num, const void *blob, size_t len)
{
    sqlite3_stmt *s = st->stmt[id];

    if (db_touch(st, false) < 0)
        return -EIO;
    sqlite3_bind_text(s, 1, sensor, -1, SQLITE_STATIC);
    if (id == S_TIMER_PUT || id == S_MAINT_PUT || id == S_COUNTER_PUT)
        sqlite3_bind_int64(s, 2, num);
    if (blob)
        sqlite3_bind_blob(s, 3, blob, (int)len, SQLITE_STATIC);
    return db_run(st, id);
}

int store_timer_put(struct store *st, const char *sensor, int64_t saved_ms, const void *state, size_t len)
{
    return keyed_put(st, S_TIMER_PUT, sensor, saved_ms, state, len);
}

int store_timer_del(struct store *st, const char *sensor)
{
    return keyed_put(st, S_TIMER_DEL, sensor, 0, NULL, 0);
}

int store_timers(struct store *st, store_timer_fn fn, void *ctx)
{
    sqlite3_stmt *s = st->stmt[S_TIMER_ALL];
    int rc;

    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        fn(ctx, (const char *)sqlite3_column_text(s, 0), sqlite3_column_int64(s, 1), sqlite3_column_blob(s, 2),
           (size_t)sqlite3_column_bytes(s, 2));
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? 0 : db_error(st, "read timers");
}

/* The (sensor, number) rows of maintenance or counters, each to fn. */
static int each_sensor_number(struct store *st, enum stmt_id id, void (*fn)(void *, const char *, int64_t), void *ctx,
                              const char *what)
{
    sqlite3_stmt *s = st->stmt[id];
    int rc;

    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        fn(ctx, (const char *)sqlite3_column_text(s, 0), sqlite3_column_int64(s, 1));
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? 0 : db_error(st, what);
}

int store_maintenance_put(struct store *st, const char *sensor, int64_t until_wall_ms)
{
    /* urgent: a technician's maintenance must survive a power cut at once */
    int r = until_wall_ms ? keyed_put(st, S_MAINT_PUT, sensor, until_wall_ms, NULL, 0)
                          : keyed_put(st, S_MAINT_DEL, sensor, 0, NULL, 0);
    if (r == 0)
        st->urgent = true;
    return r;
}

int store_maintenance(struct store *st, store_maint_fn fn, void *ctx)
{
    return each_sensor_number(st, S_MAINT_ALL, fn, ctx, "read maintenance");
}

int store_counter_put(struct store *st, const char *sensor, int64_t pulses)
{
    return keyed_put(st, S_COUNTER_PUT, sensor, pulses, NULL, 0);
}

int store_counters(struct store *st, store_counter_fn fn, void *ctx)
{
    return each_sensor_number(st, S_COUNTER_ALL, fn, ctx, "read counters");
}
