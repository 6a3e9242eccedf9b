/* store_alarms: the alarms' lifecycle rows (open, update, acknowledge),
 * their events by sequence number with the JSON that was sent (for
 * cmd/replay), the active alarms after a restart and the recent ones. */
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "store.h"
#include "store_int.h"

const struct store_sql db_alarms_sql[] = {
    {S_ALARM_ADD, "INSERT INTO alarms(id, sensor, condition, level, state, raised_ts, updated_ts, active) "
                  "VALUES(?5, ?1, ?2, ?3, 'raised', ?4, ?4, 1)"},
    /* an escalated alarm needs a new acknowledgement */
    {S_ALARM_UPDATE, "UPDATE alarms SET level = ?2, state = ?3, updated_ts = ?4, active = ?5, "
                     "cleared_ts = CASE WHEN ?5 THEN NULL ELSE ?4 END, "
                     "acked_by = CASE WHEN ?3 = 'escalated' THEN NULL ELSE acked_by END, "
                     "acked_ts = CASE WHEN ?3 = 'escalated' THEN NULL ELSE acked_ts END "
                     "WHERE id = ?1 AND active = 1"},
    {S_ALARM_ACK, "UPDATE alarms SET state = 'acked', acked_by = ?2, acked_ts = ?3, updated_ts = ?3 "
                  "WHERE id = ?1 AND active = 1 AND acked_by IS NULL"},
    {S_ALARM_ACTIVE, "SELECT id, sensor, level, condition, acked_by FROM alarms WHERE active = 1 ORDER BY id"},
    {S_ALARMS_RECENT, "SELECT id, sensor, condition, level, state, raised_ts, updated_ts, cleared_ts, acked_by, "
                      "acked_ts, active FROM alarms ORDER BY id DESC LIMIT ?1"},
    {S_EVENT_ADD, "INSERT INTO alarm_events(seq, alarm_id, ts, event, payload) VALUES(?1, ?2, ?3, ?4, ?5)"},
    {S_EVENTS, "SELECT seq, payload FROM alarm_events WHERE seq BETWEEN ?1 AND ?2 ORDER BY seq"},
    {S_COUNT, NULL},
};

int store_alarm_open(struct store *st, const char *sensor, const char *condition, enum level level, int64_t ts_ms,
                     int64_t *alarm_id)
{
    sqlite3_stmt *s = st->stmt[S_ALARM_ADD];

    if (db_touch(st, true) < 0)
        return -EIO;
    sqlite3_bind_text(s, 1, sensor, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, condition, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 3, (int)level);
    sqlite3_bind_int64(s, 4, ts_ms);
    sqlite3_bind_int64(s, 5, st->next_alarm_id);
    if (db_run(st, S_ALARM_ADD) < 0)
        return -EIO;
    *alarm_id = st->next_alarm_id++;
    st->counters_dirty = true;
    return 0;
}

int store_alarm_update(struct store *st, int64_t alarm_id, enum level level, const char *state, int64_t ts_ms,
                       bool active)
{
    sqlite3_stmt *s = st->stmt[S_ALARM_UPDATE];

    if (db_touch(st, true) < 0)
        return -EIO;
    sqlite3_bind_int64(s, 1, alarm_id);
    sqlite3_bind_int(s, 2, (int)level);
    sqlite3_bind_text(s, 3, state, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, ts_ms);
    sqlite3_bind_int(s, 5, active);
    if (db_run(st, S_ALARM_UPDATE) < 0)
        return -EIO;
    if (sqlite3_changes(st->db) != 1) {
        st->failed = true; /* our state and the table disagree: do not commit either */
        log_err("store: alarm %lld is not an open alarm", (long long)alarm_id);
        return -ENOENT;
    }
    return 0;
}

int store_alarm_ack(struct store *st, int64_t alarm_id, const char *by, int64_t ts_ms)
{
    sqlite3_stmt *s = st->stmt[S_ALARM_ACK];

    if (db_touch(st, true) < 0)
        return -EIO;
    sqlite3_bind_int64(s, 1, alarm_id);
    sqlite3_bind_text(s, 2, by, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, ts_ms);
    if (db_run(st, S_ALARM_ACK) < 0)
        return -EIO;
    return sqlite3_changes(st->db) == 1 ? 0 : -ENOENT;
}

int store_active_alarms(struct store *st, store_alarm_fn fn, void *ctx)
{
    sqlite3_stmt *s = st->stmt[S_ALARM_ACTIVE];
    struct alarm_row row;
    int rc;

    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        memset(&row, 0, sizeof(row));
        row.id = sqlite3_column_int64(s, 0);
        snprintf(row.sensor, sizeof(row.sensor), "%s", (const char *)sqlite3_column_text(s, 1));
        row.level = (enum level)sqlite3_column_int(s, 2);
        snprintf(row.condition, sizeof(row.condition), "%s", (const char *)sqlite3_column_text(s, 3));
        row.acked = sqlite3_column_type(s, 4) != SQLITE_NULL;
        fn(ctx, &row);
    }
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? 0 : db_error(st, "read active alarms");
}

int store_recent_alarms(struct store *st, int limit, store_alarm_hist_fn fn, void *ctx)
{
    sqlite3_stmt *s = st->stmt[S_ALARMS_RECENT];
    struct alarm_hist h;
    int rc, n = 0;

    sqlite3_bind_int(s, 1, limit);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        memset(&h, 0, sizeof(h));
        h.id = sqlite3_column_int64(s, 0);
        snprintf(h.sensor, sizeof(h.sensor), "%s", (const char *)sqlite3_column_text(s, 1));
        snprintf(h.condition, sizeof(h.condition), "%s", (const char *)sqlite3_column_text(s, 2));
        h.level = (enum level)sqlite3_column_int(s, 3);
        snprintf(h.state, sizeof(h.state), "%s", (const char *)sqlite3_column_text(s, 4));
        h.raised_ms = sqlite3_column_int64(s, 5);
        h.updated_ms = sqlite3_column_int64(s, 6);
        h.cleared_ms = sqlite3_column_type(s, 7) == SQLITE_NULL ? 0 : sqlite3_column_int64(s, 7);
        if (sqlite3_column_type(s, 8) != SQLITE_NULL)
            snprintf(h.acked_by, sizeof(h.acked_by), "%s", (const char *)sqlite3_column_text(s, 8));
        h.acked_ms = sqlite3_column_type(s, 9) == SQLITE_NULL ? 0 : sqlite3_column_int64(s, 9);
        h.active = sqlite3_column_int(s, 10) != 0;
        fn(ctx, &h);
        n++;
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc == SQLITE_DONE ? n : db_error(st, "read recent alarms");
}

int store_add_event(struct store *st, int64_t seq, int64_t alarm_id, int64_t ts_ms, const char *event,
                    const char *payload)
{
    sqlite3_stmt *s = st->stmt[S_EVENT_ADD];

    if (db_touch(st, true) < 0)
        return -EIO;
    sqlite3_bind_int64(s, 1, seq);
    sqlite3_bind_int64(s, 2, alarm_id);
    sqlite3_bind_int64(s, 3, ts_ms);
    sqlite3_bind_text(s, 4, event, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, payload, -1, SQLITE_STATIC);
    return db_run(st, S_EVENT_ADD);
}

int store_events(struct store *st, int64_t from_seq, int64_t to_seq, store_event_fn fn, void *ctx)
{
    sqlite3_stmt *s = st->stmt[S_EVENTS];
    int rc, n = 0;

    sqlite3_bind_int64(s, 1, from_seq);
    sqlite3_bind_int64(s, 2, to_seq);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (fn(ctx, sqlite3_column_int64(s, 0), (const char *)sqlite3_column_text(s, 1)) < 0) {
            rc = SQLITE_DONE;
            n = -EIO;
            break;
        }
        n++;
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc == SQLITE_DONE ? n : db_error(st, "read alarm events");
}
