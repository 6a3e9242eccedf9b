/* store_readings: the sensors' small ids and the readings history: rows
 * in time order, read back per sensor and time range, and trimmed in
 * bounded batches by age and by the size of the database. */
#include <errno.h>
#include <sqlite3.h>

#include "store.h"
#include "store_int.h"

const struct store_sql db_readings_sql[] = {
    {S_SENSOR_GET, "SELECT id FROM sensors WHERE name = ?1"},
    {S_SENSOR_ADD, "INSERT INTO sensors(name) VALUES(?1)"},
    {S_READING_ADD, "INSERT INTO readings(sensor, ts, value, quality) VALUES(?1, ?2, ?3, ?4)"},
    /* bounded batches: a trim never holds the loop for long (rows go in
     * in time order: only the first ?2 by id are looked at, never the
     * whole table) */
    {S_TRIM_AGE, "DELETE FROM readings WHERE id IN (SELECT id FROM readings ORDER BY id LIMIT ?2) AND ts < ?1"},
    {S_TRIM_OLDEST, "DELETE FROM readings WHERE id IN (SELECT id FROM readings ORDER BY id LIMIT ?1)"},
    {S_OLDEST_TS, "SELECT ts FROM readings ORDER BY id LIMIT 1"},
    {S_HISTORY, "SELECT ts, value, quality FROM readings WHERE sensor = ?1 AND ts >= ?2 AND ts < ?3 "
                "ORDER BY ts, id LIMIT ?4"},
    {S_COUNT, NULL},
};

int store_sensor_id(struct store *st, const char *name, int64_t *id)
{
    sqlite3_stmt *s = st->stmt[S_SENSOR_GET];
    int rc;

    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *id = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (rc == SQLITE_ROW)
        return 0;
    if (rc != SQLITE_DONE)
        return db_error(st, "look up sensor");
    sqlite3_bind_text(st->stmt[S_SENSOR_ADD], 1, name, -1, SQLITE_STATIC);
    if (db_run(st, S_SENSOR_ADD) < 0)
        return -EIO;
    *id = sqlite3_last_insert_rowid(st->db);
    return 0;
}

int store_add_reading(struct store *st, int64_t sensor_id, int64_t ts_ms, double value, enum quality q)
{
    sqlite3_stmt *s = st->stmt[S_READING_ADD];

    if (db_touch(st, false) < 0)
        return -EIO;
    sqlite3_bind_int64(s, 1, sensor_id);
    sqlite3_bind_int64(s, 2, ts_ms);
    if (q == Q_GOOD || q == Q_OUT_OF_RANGE)
        sqlite3_bind_double(s, 3, value);
    sqlite3_bind_int(s, 4, (int)q);
    return db_run(st, S_READING_ADD);
}

int store_history(struct store *st, int64_t sensor_id, int64_t from_ms, int64_t to_ms, int limit, store_reading_fn fn,
                  void *ctx)
{
    sqlite3_stmt *s = st->stmt[S_HISTORY];
    int rc, n = 0;

    sqlite3_bind_int64(s, 1, sensor_id);
    sqlite3_bind_int64(s, 2, from_ms);
    sqlite3_bind_int64(s, 3, to_ms);
    sqlite3_bind_int(s, 4, limit);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        bool has = sqlite3_column_type(s, 1) != SQLITE_NULL;
        fn(ctx, sqlite3_column_int64(s, 0), has ? sqlite3_column_double(s, 1) : 0, has,
           (enum quality)sqlite3_column_int(s, 2));
        n++;
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc == SQLITE_DONE ? n : db_error(st, "read history");
}

int store_trim(struct store *st, int64_t now_wall_ms, int64_t retention_ms, int64_t max_bytes, int batch)
{
    int deleted = 0;

    if (db_touch(st, false) < 0)
        return -EIO;
    /* the oldest reading first: most seconds nothing is old enough, and the
     * delete would still look at a batch of rows to find that out */
    sqlite3_stmt *o = st->stmt[S_OLDEST_TS];
    bool old = sqlite3_step(o) == SQLITE_ROW && sqlite3_column_int64(o, 0) < now_wall_ms - retention_ms;
    sqlite3_reset(o);
    if (old) {
        sqlite3_bind_int64(st->stmt[S_TRIM_AGE], 1, now_wall_ms - retention_ms);
        sqlite3_bind_int(st->stmt[S_TRIM_AGE], 2, batch);
        if (db_run(st, S_TRIM_AGE) < 0)
            return -EIO;
        deleted += sqlite3_changes(st->db);
    }
    /* Pages freed by a delete are reused, so the file stops growing; the
     * readings give way, never the alarms or the outbox. */
    int64_t used = store_used_bytes(st);
    if (deleted < batch && used > max_bytes) {
        sqlite3_bind_int(st->stmt[S_TRIM_OLDEST], 1, batch - deleted);
        if (db_run(st, S_TRIM_OLDEST) < 0)
            return -EIO;
        deleted += sqlite3_changes(st->db);
    }
    return deleted;
}
