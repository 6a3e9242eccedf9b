/*
 * The center's database (db.h). Every write is in the caller's
 * transaction; statements are prepared once.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "db_int.h"

#define SCHEMA_VERSION 1

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS gateways("
    " gateway TEXT PRIMARY KEY, state TEXT, version TEXT, boot INTEGER, sensors INTEGER, config TEXT,"
    " outbox INTEGER, dropped_alarm INTEGER, dropped_status INTEGER, dropped_telemetry INTEGER,"
    " status_ts INTEGER, seen_ms INTEGER, changed_ms INTEGER,"
    " epoch INTEGER NOT NULL DEFAULT 1, contiguous INTEGER NOT NULL DEFAULT 0,"
    " max_seq INTEGER NOT NULL DEFAULT 0, last_seq INTEGER NOT NULL DEFAULT 0,"
    " gap_since INTEGER, dups INTEGER NOT NULL DEFAULT 0, lost INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS events("
    " gateway TEXT NOT NULL, epoch INTEGER NOT NULL, seq INTEGER NOT NULL, ts INTEGER, alarm_id INTEGER,"
    " sensor TEXT, class TEXT, lifeline TEXT, condition TEXT, event TEXT, level TEXT, prev_level TEXT,"
    " value REAL, unit TEXT, threshold REAL, quality TEXT, by TEXT, maintenance INTEGER,"
    " received_ms INTEGER, payload TEXT, PRIMARY KEY(gateway, epoch, seq)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS lost(gateway TEXT NOT NULL, epoch INTEGER NOT NULL, seq INTEGER NOT NULL,"
    " noted_ms INTEGER, PRIMARY KEY(gateway, epoch, seq)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS alarms("
    " gateway TEXT NOT NULL, epoch INTEGER NOT NULL, alarm_id INTEGER NOT NULL, sensor TEXT, class TEXT,"
    " lifeline TEXT, condition TEXT, level TEXT, value REAL, unit TEXT, quality TEXT, raised_ts INTEGER,"
    " last_ts INTEGER, last_seq INTEGER, reset_seq INTEGER NOT NULL DEFAULT 0,"
    " acked_seq INTEGER NOT NULL DEFAULT 0, acked_by TEXT, cleared_ts INTEGER, maintenance INTEGER,"
    " PRIMARY KEY(gateway, epoch, alarm_id)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS alarms_active ON alarms(cleared_ts) WHERE cleared_ts IS NULL;"
    "CREATE TABLE IF NOT EXISTS status_log(gateway TEXT, received_ms INTEGER, ts INTEGER, state TEXT,"
    " boot INTEGER, payload TEXT);"
    "CREATE TABLE IF NOT EXISTS gateway_events(gateway TEXT, received_ms INTEGER, ts INTEGER, type TEXT,"
    " payload TEXT);"
    "CREATE TABLE IF NOT EXISTS requests(id TEXT PRIMARY KEY, gateway TEXT, epoch INTEGER, kind TEXT,"
    " from_seq INTEGER, to_seq INTEGER, sent_ms INTEGER, replied_ms INTEGER, ok INTEGER, count INTEGER, error TEXT,"
    " settled INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;";

enum {
    S_BEGIN,
    S_COMMIT,
    S_ROLLBACK,
    S_GW_GET,
    S_GW_ENSURE,
    S_EV_INSERT,
    S_EV_PAYLOAD,
    S_GW_SEQ,
    S_NEXT_ROWS,
    S_AL_GET,
    S_AL_PUT,
    S_DUP,
    S_NEW_EPOCH,
    S_ST_PUT,
    S_ST_LOG,
    S_GE_PUT,
    S_GAPS,
    S_FIRST_ABOVE,
    S_REQ_ADD,
    S_REQ_DONE,
    S_REQ_SHORT,
    S_REQ_SETTLED,
    S_MISSING_IN,
    S_LOST_PUT,
    S_GAP_SINCE,
    S_EV_RANGE,
    S_COUNT
};

static const char *const sql[S_COUNT] = {
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_GW_GET] = "SELECT epoch, contiguous, max_seq, last_seq, state, boot, confirmed_boot, confirmed_ms, lost"
                 " FROM gateways WHERE gateway = ?1",
    [S_GW_ENSURE] = "INSERT OR IGNORE INTO gateways(gateway, seen_ms) VALUES(?1, ?2)",
    [S_EV_INSERT] = "INSERT OR IGNORE INTO events(gateway, epoch, seq, ts, alarm_id, sensor, class, lifeline,"
                    " condition, event, level, prev_level, value, unit, threshold, quality, by, maintenance,"
                    " received_ms, payload) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,"
                    "?18,?19,?20)",
    [S_EV_PAYLOAD] = "SELECT payload FROM events WHERE gateway = ?1 AND epoch = ?2 AND seq = ?3",
    [S_GW_SEQ] = "UPDATE gateways SET contiguous = ?2, max_seq = max(max_seq, ?3), seen_ms = ?4,"
                 " gap_since = CASE WHEN ?2 >= max(max_seq, ?3, last_seq) THEN NULL"
                 " ELSE coalesce(gap_since, ?4) END WHERE gateway = ?1",
    [S_NEXT_ROWS] = "SELECT seq FROM events WHERE gateway = ?1 AND epoch = ?2 AND seq > ?3 UNION"
                    " SELECT seq FROM lost WHERE gateway = ?1 AND epoch = ?2 AND seq > ?3 ORDER BY 1",
    [S_AL_GET] = "SELECT last_seq, reset_seq, acked_seq FROM alarms WHERE gateway = ?1 AND epoch = ?2"
                 " AND alarm_id = ?3",
    [S_AL_PUT] = "INSERT INTO alarms(gateway, epoch, alarm_id, sensor, class, lifeline, condition, level, value,"
                 " unit, quality, raised_ts, last_ts, last_seq, reset_seq, acked_seq, acked_by, cleared_ts,"
                 " maintenance) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19)"
                 " ON CONFLICT(gateway, epoch, alarm_id) DO UPDATE SET"
                 " level = CASE WHEN excluded.last_seq > last_seq THEN excluded.level ELSE level END,"
                 " value = CASE WHEN excluded.last_seq > last_seq THEN excluded.value ELSE value END,"
                 " quality = CASE WHEN excluded.last_seq > last_seq THEN excluded.quality ELSE quality END,"
                 " maintenance = CASE WHEN excluded.last_seq > last_seq THEN excluded.maintenance"
                 " ELSE maintenance END,"
                 " last_ts = max(last_ts, excluded.last_ts), last_seq = max(last_seq, excluded.last_seq),"
                 " raised_ts = coalesce(excluded.raised_ts, raised_ts),"
                 " reset_seq = max(reset_seq, excluded.reset_seq),"
                 " acked_by = CASE WHEN excluded.acked_seq > acked_seq THEN excluded.acked_by ELSE acked_by END,"
                 " acked_seq = max(acked_seq, excluded.acked_seq),"
                 " cleared_ts = coalesce(cleared_ts, excluded.cleared_ts)",
    [S_DUP] = "UPDATE gateways SET dups = dups + 1, seen_ms = ?2 WHERE gateway = ?1",
    [S_NEW_EPOCH] = "UPDATE gateways SET epoch = epoch + 1, contiguous = 0, max_seq = 0, last_seq = 0,"
                    " gap_since = NULL, boot = NULL WHERE gateway = ?1",
    [S_ST_PUT] = "UPDATE gateways SET state = ?2, version = ?3, boot = ?4, sensors = ?5, config = ?6,"
                 " outbox = ?7, dropped_alarm = ?8, dropped_status = ?9, dropped_telemetry = ?10,"
                 " status_ts = ?11, seen_ms = ?12,"
                 " changed_ms = CASE WHEN state IS ?2 THEN changed_ms ELSE ?12 END WHERE gateway = ?1",
    [S_ST_LOG] = "INSERT INTO status_log(gateway, received_ms, ts, state, boot, payload) VALUES(?1,?2,?3,?4,?5,?6)",
    [S_GE_PUT] = "INSERT INTO gateway_events(gateway, received_ms, ts, type, payload) VALUES(?1,?2,?3,?4,?5)",
    [S_GAPS] = "SELECT gateway, epoch, contiguous, last_seq FROM gateways"
               " WHERE gap_since IS NOT NULL AND gap_since <= ?1 AND (state = 'online' OR state IS NULL)"
               " AND contiguous < last_seq AND lost < ?3"
               " AND NOT EXISTS (SELECT 1 FROM requests r WHERE r.gateway = gateways.gateway AND r.kind = 'replay'"
               " AND (r.replied_ms IS NULL AND r.sent_ms > ?2 OR r.replied_ms IS NOT NULL AND r.settled = 0))"
               " ORDER BY gap_since LIMIT 1",
    [S_FIRST_ABOVE] = "SELECT min(seq) FROM events WHERE gateway = ?1 AND epoch = ?2 AND seq > ?3",
    [S_REQ_ADD] = "INSERT OR REPLACE INTO requests(id, gateway, kind, from_seq, to_seq, sent_ms, epoch)"
                  " VALUES(?1,?2,?3,?4,?5,?6,(SELECT epoch FROM gateways WHERE gateway = ?2))",
    [S_REQ_DONE] = "UPDATE requests SET replied_ms = ?2, ok = ?3, count = ?4, error = ?5,"
                   " settled = CASE WHEN kind = 'replay' THEN 0 ELSE 1 END"
                   " WHERE id = ?1 AND gateway = ?6 AND replied_ms IS NULL RETURNING sent_ms",
    [S_REQ_SHORT] = "SELECT r.id, r.gateway, g.epoch, r.from_seq, r.to_seq, r.ok, r.count, r.epoch IS g.epoch"
                    " FROM requests r"
                    " JOIN gateways g ON g.gateway = r.gateway WHERE r.kind = 'replay'"
                    " AND r.replied_ms IS NOT NULL AND r.settled = 0 AND r.replied_ms <= ?1",
    [S_REQ_SETTLED] = "UPDATE requests SET settled = 1 WHERE id = ?1",
    [S_MISSING_IN] = "SELECT count(*) FROM events WHERE gateway = ?1 AND epoch = ?2 AND seq BETWEEN ?3 AND ?4",
    [S_LOST_PUT] = "INSERT OR IGNORE INTO lost(gateway, epoch, seq, noted_ms) SELECT ?1, ?2, ?3, ?4"
                   " WHERE NOT EXISTS (SELECT 1 FROM events WHERE gateway = ?1 AND epoch = ?2 AND seq = ?3)",
    [S_EV_RANGE] = "SELECT seq, ts, alarm_id, sensor, class, lifeline, condition, event, level, value, unit, quality,"
                   " by, maintenance FROM events WHERE gateway = ?1 AND epoch = ?2 AND seq > ?3 AND seq <= ?4"
                   " AND alarm_id IS NOT NULL ORDER BY seq",
    [S_GAP_SINCE] = "UPDATE gateways SET lost = lost + ?2, gap_since = CASE WHEN gap_since IS NULL THEN NULL"
                    " ELSE ?3 END WHERE gateway = ?1",
};

_Static_assert(S_COUNT <= CDB_STMT_MAX, "struct cdb holds the statements");

int cdb_fail(struct cdb *db, const char *what)
{
    fprintf(stderr, PROG ": database: %s: %s\n", what, sqlite3_errmsg(db->db));
    return -1;
}

/* Resets and clears a statement for its next use. */
sqlite3_stmt *cdb_use(struct cdb *db, int i)
{
    sqlite3_stmt *s = db->st[i];
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return s;
}

void cdb_bind_text(sqlite3_stmt *s, int i, const char *v)
{
    if (v && v[0])
        sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(s, i);
}

int cdb_run(struct cdb *db, sqlite3_stmt *s)
{
    int rc = sqlite3_step(s);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : cdb_fail(db, sqlite3_sql(s));
}

int cdb_open(const char *path, bool readonly, struct cdb **out)
{
    struct cdb *db = calloc(1, sizeof(*db));
    char *err = NULL;

    *out = NULL;
    if (!db)
        return -1;
    int flags = readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    if (sqlite3_open_v2(path, &db->db, flags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        fprintf(stderr, PROG ": cannot open the database %s: %s\n", path,
                db->db ? sqlite3_errmsg(db->db) : "out of memory");
        sqlite3_close(db->db);
        free(db);
        return -1;
    }
    sqlite3_busy_timeout(db->db, 5000);
    if (!readonly) {
        /* every event committed to disk before its PUBACK */
        if (sqlite3_exec(db->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", NULL, NULL, &err) != SQLITE_OK ||
            sqlite3_exec(db->db, schema, NULL, NULL, &err) != SQLITE_OK) {
            fprintf(stderr, PROG ": database %s: %s\n", path, err ? err : "error");
            sqlite3_free(err);
            cdb_close(db);
            return -1;
        }
        char v[96];
        snprintf(v, sizeof(v), "INSERT OR IGNORE INTO meta VALUES('schema', %d)", SCHEMA_VERSION);
        sqlite3_exec(db->db, v, NULL, NULL, NULL);
    }
    if (cdb_guard_open(db, readonly) < 0) {
        cdb_close(db);
        return -1;
    }
    for (int i = 0; i < S_COUNT; i++) {
        if (sqlite3_prepare_v3(db->db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &db->st[i], NULL) != SQLITE_OK) {
            if (readonly && sqlite3_errcode(db->db) == SQLITE_ERROR) {
                fprintf(stderr, PROG ": %s is not a lifeline-center database (no tables: serve makes them)\n", path);
            } else {
                cdb_fail(db, sql[i]);
            }
            cdb_close(db);
            return -1;
        }
    }
    *out = db;
    return 0;
}

void cdb_close(struct cdb *db)
{
    if (!db)
        return;
    for (int i = 0; i < S_COUNT; i++)
        sqlite3_finalize(db->st[i]);
    cdb_guard_close(db);
    sqlite3_close(db->db);
    free(db);
}

int cdb_begin(struct cdb *db)
{
    return cdb_run(db, cdb_use(db, S_BEGIN));
}

int cdb_commit(struct cdb *db)
{
    return cdb_run(db, cdb_use(db, S_COMMIT));
}

void cdb_rollback(struct cdb *db)
{
    if (!sqlite3_get_autocommit(db->db))
        sqlite3_step(cdb_use(db, S_ROLLBACK));
}

int cdb_gw_get(struct cdb *db, const char *gw, long long now_ms, struct gw_row *g)
{
    sqlite3_stmt *s = cdb_use(db, S_GW_ENSURE);
    sqlite3_bind_text(s, 1, gw, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, now_ms);
    if (cdb_run(db, s) < 0)
        return -1;
    g->known = sqlite3_changes(db->db) == 0;
    s = cdb_use(db, S_GW_GET);
    sqlite3_bind_text(s, 1, gw, -1, SQLITE_STATIC);
    if (sqlite3_step(s) != SQLITE_ROW)
        return cdb_fail(db, "gateway row");
    g->epoch = sqlite3_column_int64(s, 0);
    g->contiguous = sqlite3_column_int64(s, 1);
    g->max_seq = sqlite3_column_int64(s, 2);
    g->last_seq = sqlite3_column_int64(s, 3);
    snprintf(g->state, sizeof(g->state), "%s",
             sqlite3_column_text(s, 4) ? (const char *)sqlite3_column_text(s, 4) : "");
    g->boot = sqlite3_column_type(s, 5) == SQLITE_NULL ? -1 : sqlite3_column_int64(s, 5);
    g->confirmed_boot = sqlite3_column_type(s, 6) == SQLITE_NULL ? -1 : sqlite3_column_int64(s, 6);
    g->confirmed_ms = sqlite3_column_int64(s, 7);
    g->lost = sqlite3_column_int64(s, 8);
    sqlite3_reset(s);
    return 0;
}

/* Moves contiguous over every stored (or lost) seq that follows it. */
int cdb_advance(struct cdb *db, const char *gw, struct gw_row *g)
{
    sqlite3_stmt *s = cdb_use(db, S_NEXT_ROWS);
    int rc;

    sqlite3_bind_text(s, 1, gw, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, g->epoch);
    sqlite3_bind_int64(s, 3, g->contiguous);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW && sqlite3_column_int64(s, 0) == g->contiguous + 1)
        g->contiguous++;
    rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : cdb_fail(db, "contiguous");
    sqlite3_reset(s);
    return rc;
}

int cdb_seq_put(struct cdb *db, const char *gw, const struct gw_row *g, long long seq, long long now_ms)
{
    sqlite3_stmt *s = cdb_use(db, S_GW_SEQ);
    sqlite3_bind_text(s, 1, gw, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, g->contiguous);
    sqlite3_bind_int64(s, 3, seq);
    sqlite3_bind_int64(s, 4, now_ms);
    return cdb_run(db, s);
}

int cdb_new_epoch(struct cdb *db, const char *gw, struct gw_row *g)
{
    sqlite3_stmt *s = cdb_use(db, S_NEW_EPOCH);
    sqlite3_bind_text(s, 1, gw, -1, SQLITE_STATIC);
    if (cdb_run(db, s) < 0)
        return -1;
    fprintf(stderr, PROG ": serve: %s: its seq started again (a new gateway database): epoch %lld\n", gw, g->epoch + 1);
    g->epoch++;
    g->contiguous = g->max_seq = g->last_seq = 0;
    return 0;
}

static int alarm_put(struct cdb *db, const char *gw, long long epoch, const struct alarm_ev *a)
{
    bool reset = !strcmp(a->event, "raised") || !strcmp(a->event, "escalated");
    bool acked = !strcmp(a->event, "acked");
    sqlite3_stmt *s = cdb_use(db, S_AL_PUT);

    sqlite3_bind_text(s, 1, gw, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, epoch);
    sqlite3_bind_int64(s, 3, a->alarm_id);
    cdb_bind_text(s, 4, a->sensor);
    cdb_bind_text(s, 5, a->cls);
    cdb_bind_text(s, 6, a->lifeline);
    cdb_bind_text(s, 7, a->condition);
    cdb_bind_text(s, 8, a->level);
    if (a->has_value)
        sqlite3_bind_double(s, 9, a->value);
    cdb_bind_text(s, 10, a->unit);
    cdb_bind_text(s, 11, a->quality);
    if (!strcmp(a->event, "raised"))
        sqlite3_bind_int64(s, 12, a->ts);
    sqlite3_bind_int64(s, 13, a->ts);
    sqlite3_bind_int64(s, 14, a->seq);
    sqlite3_bind_int64(s, 15, reset ? a->seq : 0);
    sqlite3_bind_int64(s, 16, acked ? a->seq : 0);
    cdb_bind_text(s, 17, acked ? a->by : NULL);
    if (!strcmp(a->event, "cleared"))
        sqlite3_bind_int64(s, 18, a->ts);
    sqlite3_bind_int(s, 19, a->maintenance);
    return cdb_run(db, s);
}

static void col_copy(sqlite3_stmt *s, int i, char *out, size_t size)
{
    const unsigned char *t = sqlite3_column_text(s, i);
    snprintf(out, size, "%s", t ? (const char *)t : "");
}

/* Moves contiguous on, and applies to their alarms the stored events it
 * passed: an alarm changes only from events in sequence (docs/center.md). */
static int advance_apply(struct cdb *db, const char *gw, struct gw_row *g)
{
    long long from = g->contiguous;
    sqlite3_stmt *s;
    int rc;

    if (cdb_advance(db, gw, g) < 0)
        return -1;
    if (g->contiguous == from)
        return 0;
    s = cdb_use(db, S_EV_RANGE);
    sqlite3_bind_text(s, 1, gw, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, g->epoch);
    sqlite3_bind_int64(s, 3, from);
    sqlite3_bind_int64(s, 4, g->contiguous);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct alarm_ev a = {.seq = sqlite3_column_int64(s, 0), .has_alarm_id = true};
        a.ts = sqlite3_column_int64(s, 1);
        a.alarm_id = sqlite3_column_int64(s, 2);
        col_copy(s, 3, a.sensor, sizeof(a.sensor));
        col_copy(s, 4, a.cls, sizeof(a.cls));
        col_copy(s, 5, a.lifeline, sizeof(a.lifeline));
        col_copy(s, 6, a.condition, sizeof(a.condition));
        col_copy(s, 7, a.event, sizeof(a.event));
        col_copy(s, 8, a.level, sizeof(a.level));
        a.has_value = sqlite3_column_type(s, 9) != SQLITE_NULL;
        a.value = sqlite3_column_double(s, 9);
        col_copy(s, 10, a.unit, sizeof(a.unit));
        col_copy(s, 11, a.quality, sizeof(a.quality));
        col_copy(s, 12, a.by, sizeof(a.by));
        a.maintenance = sqlite3_column_int(s, 13);
        if (alarm_put(db, gw, g->epoch, &a) < 0) {
            sqlite3_reset(s);
            return -1;
        }
    }
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? 0 : cdb_fail(db, "events to apply");
}

static int ev_insert(struct cdb *db, const char *gw, long long epoch, const struct alarm_ev *a, const char *payload,
                     size_t len, long long now_ms)
{
    sqlite3_stmt *s = cdb_use(db, S_EV_INSERT);

    sqlite3_bind_text(s, 1, gw, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, epoch);
    sqlite3_bind_int64(s, 3, a->seq);
    sqlite3_bind_int64(s, 4, a->ts);
    if (a->has_alarm_id)
        sqlite3_bind_int64(s, 5, a->alarm_id);
    cdb_bind_text(s, 6, a->sensor);
    cdb_bind_text(s, 7, a->cls);
    cdb_bind_text(s, 8, a->lifeline);
    cdb_bind_text(s, 9, a->condition);
    cdb_bind_text(s, 10, a->event);
    cdb_bind_text(s, 11, a->level);
    cdb_bind_text(s, 12, a->prev_level);
    if (a->has_value)
        sqlite3_bind_double(s, 13, a->value);
    cdb_bind_text(s, 14, a->unit);
    if (a->has_threshold)
        sqlite3_bind_double(s, 15, a->threshold);
    cdb_bind_text(s, 16, a->quality);
    cdb_bind_text(s, 17, a->by);
    sqlite3_bind_int(s, 18, a->maintenance);
    sqlite3_bind_int64(s, 19, now_ms);
    sqlite3_bind_text(s, 20, payload, (int)len, SQLITE_STATIC);
    if (cdb_run(db, s) < 0)
        return -1;
    return sqlite3_changes(db->db);
}

/* The stored bytes of (gw, epoch, seq) equal payload? */
static int same_payload(struct cdb *db, const char *gw, long long epoch, long long seq, const char *payload, size_t len)
{
    sqlite3_stmt *s = cdb_use(db, S_EV_PAYLOAD);
    sqlite3_bind_text(s, 1, gw, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, epoch);
    sqlite3_bind_int64(s, 3, seq);
    if (sqlite3_step(s) != SQLITE_ROW)
        return cdb_fail(db, "stored payload");
    int same = (size_t)sqlite3_column_bytes(s, 0) == len && memcmp(sqlite3_column_blob(s, 0), payload, len) == 0;
    sqlite3_reset(s);
    return same;
}

enum ev_result cdb_alarm_event(struct cdb *db, const char *gw, const struct alarm_ev *a, const char *payload,
                               size_t len, long long now_ms)
{
    struct gw_row g;
    int n;

    if (cdb_gw_get(db, gw, now_ms, &g) < 0)
        return EV_ERROR;
    /* further ahead than events can overtake each other, and than the
     * gateway said it has: not believed until it says so */
    if (a->seq > g.contiguous + db->lim.seq_ahead && a->seq > g.last_seq)
        return cdb_hold(db, gw, &g, a->seq, payload, len, now_ms) < 0 ? EV_ERROR : EV_HELD;
    if ((n = ev_insert(db, gw, g.epoch, a, payload, len, now_ms)) < 0)
        return EV_ERROR;
    if (n == 0) {
        int same = same_payload(db, gw, g.epoch, a->seq, payload, len);
        if (same < 0)
            return EV_ERROR;
        if (same) {
            sqlite3_stmt *s = cdb_use(db, S_DUP);
            sqlite3_bind_text(s, 1, gw, -1, SQLITE_STATIC);
            sqlite3_bind_int64(s, 2, now_ms);
            return cdb_run(db, s) < 0 ? EV_ERROR : EV_DUP;
        }
        /* a new database of the gateway, or a forgery: its cmd/status tells */
        return cdb_conflict(db, gw, &g, a->seq, payload, len, now_ms) < 0 ? EV_ERROR : EV_CONFLICT;
    }
    /* in sequence: it and the stored events it joins change their alarms */
    if (a->seq == g.contiguous + 1 && advance_apply(db, gw, &g) < 0)
        return EV_ERROR;
    if (cdb_seq_put(db, gw, &g, a->seq, now_ms) < 0)
        return EV_ERROR;
    return EV_NEW;
}

int cdb_status(struct cdb *db, const char *gw, const struct gw_status *st, const char *payload, size_t len,
               long long now_ms, bool *came_online)
{
    struct gw_row g;
    sqlite3_stmt *s;

    if (cdb_gw_get(db, gw, now_ms, &g) < 0)
        return -1;
    *came_online = !strcmp(st->state, "online") && (strcmp(g.state, "online") != 0 || !g.known);
    s = cdb_use(db, S_ST_PUT);
    sqlite3_bind_text(s, 1, gw, -1, SQLITE_STATIC);
    cdb_bind_text(s, 2, st->state);
    cdb_bind_text(s, 3, st->version);
    if (st->has_boot)
        sqlite3_bind_int64(s, 4, st->boot);
    sqlite3_bind_int64(s, 5, st->sensors);
    cdb_bind_text(s, 6, st->config);
    sqlite3_bind_int64(s, 7, st->outbox);
    for (int i = 0; i < 3; i++)
        sqlite3_bind_int64(s, 8 + i, st->dropped[i]);
    sqlite3_bind_int64(s, 11, st->ts);
    sqlite3_bind_int64(s, 12, now_ms);
    if (cdb_run(db, s) < 0)
        return -1;
    s = cdb_use(db, S_ST_LOG);
    sqlite3_bind_text(s, 1, gw, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, now_ms);
    sqlite3_bind_int64(s, 3, st->ts);
    cdb_bind_text(s, 4, st->state);
    if (st->has_boot)
        sqlite3_bind_int64(s, 5, st->boot);
    sqlite3_bind_text(s, 6, payload, (int)len, SQLITE_STATIC);
    return cdb_run(db, s);
}

int cdb_gateway_event(struct cdb *db, const char *gw, const char *type, long long ts, const char *payload, size_t len,
                      long long now_ms)
{
    struct gw_row g;
    sqlite3_stmt *s;

    if (cdb_gw_get(db, gw, now_ms, &g) < 0)
        return -1;
    s = cdb_use(db, S_GE_PUT);
    sqlite3_bind_text(s, 1, gw, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, now_ms);
    sqlite3_bind_int64(s, 3, ts);
    cdb_bind_text(s, 4, type);
    sqlite3_bind_text(s, 5, payload, (int)len, SQLITE_STATIC);
    return cdb_run(db, s);
}

int cdb_next_gap(struct cdb *db, long long now_ms, long long wait_ms, long long retry_ms, char *gw, long long *from,
                 long long *to)
{
    sqlite3_stmt *s = cdb_use(db, S_GAPS);
    long long epoch, want;

    sqlite3_bind_int64(s, 1, now_ms - wait_ms);
    sqlite3_bind_int64(s, 2, now_ms - retry_ms);
    sqlite3_bind_int64(s, 3, db->lim.lost_max);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_DONE)
        return 0;
    if (rc != SQLITE_ROW)
        return cdb_fail(db, "gaps");
    snprintf(gw, GW_MAX, "%s", (const char *)sqlite3_column_text(s, 0));
    epoch = sqlite3_column_int64(s, 1);
    *from = sqlite3_column_int64(s, 2) + 1;
    want = sqlite3_column_int64(s, 3);
    sqlite3_reset(s);
    s = cdb_use(db, S_FIRST_ABOVE);
    sqlite3_bind_text(s, 1, gw, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 2, epoch);
    sqlite3_bind_int64(s, 3, *from);
    if (sqlite3_step(s) != SQLITE_ROW)
        return cdb_fail(db, "gap end");
    *to = sqlite3_column_type(s, 0) == SQLITE_NULL || sqlite3_column_int64(s, 0) > want
              ? want
              : sqlite3_column_int64(s, 0) - 1;
    sqlite3_reset(s);
    if (*to - *from >= 10000) /* the gateway's limit per replay */
        *to = *from + 9999;
    return *to >= *from;
}

int cdb_request_add(struct cdb *db, const char *id, const char *gw, const char *kind, long long from, long long to,
                    long long now_ms)
{
    sqlite3_stmt *s = cdb_use(db, S_REQ_ADD);
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, gw, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, kind, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, from);
    sqlite3_bind_int64(s, 5, to);
    sqlite3_bind_int64(s, 6, now_ms);
    return cdb_run(db, s);
}

int cdb_request_done(struct cdb *db, const char *id, const char *gw, bool ok, long long count, const char *error,
                     long long now_ms, long long *sent_ms)
{
    sqlite3_stmt *s = cdb_use(db, S_REQ_DONE);
    int rc;

    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, now_ms);
    sqlite3_bind_int(s, 3, ok);
    sqlite3_bind_int64(s, 4, count);
    cdb_bind_text(s, 5, error);
    sqlite3_bind_text(s, 6, gw, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *sent_ms = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return cdb_fail(db, "request answered");
    return rc == SQLITE_ROW;
}

long long cdb_settle_lost(struct cdb *db, long long now_ms, long long grace_ms)
{
    sqlite3_stmt *s = cdb_use(db, S_REQ_SHORT);
    struct short_req {
        char id[80], gw[GW_MAX];
        long long epoch, from, to, count;
        bool ok, same_epoch;
    } r[16];
    unsigned n = 0;
    long long marked = 0;

    sqlite3_bind_int64(s, 1, now_ms - grace_ms);
    while (n < 16 && sqlite3_step(s) == SQLITE_ROW) {
        snprintf(r[n].id, sizeof(r[n].id), "%s", (const char *)sqlite3_column_text(s, 0));
        snprintf(r[n].gw, sizeof(r[n].gw), "%s", (const char *)sqlite3_column_text(s, 1));
        r[n].epoch = sqlite3_column_int64(s, 2);
        r[n].from = sqlite3_column_int64(s, 3);
        r[n].to = sqlite3_column_int64(s, 4);
        r[n].ok = sqlite3_column_int(s, 5);
        r[n].count = sqlite3_column_int64(s, 6);
        r[n].same_epoch = sqlite3_column_int(s, 7);
        n++;
    }
    sqlite3_reset(s);
    for (unsigned i = 0; i < n; i++) {
        long long lost = 0, room = 0;
        struct gw_row g;
        if (cdb_gw_get(db, r[i].gw, now_ms, &g) < 0)
            return -1;
        room = db->lim.lost_max - g.lost;
        /* all there or asked for again: nothing is lost; fewer found than
         * asked and still missing after the grace: gone from the gateway */
        if (r[i].ok && r[i].same_epoch && r[i].count < r[i].to - r[i].from + 1) {
            for (long long q = r[i].from; q <= r[i].to && lost < room; q++) {
                s = cdb_use(db, S_LOST_PUT);
                sqlite3_bind_text(s, 1, r[i].gw, -1, SQLITE_STATIC);
                sqlite3_bind_int64(s, 2, r[i].epoch);
                sqlite3_bind_int64(s, 3, q);
                sqlite3_bind_int64(s, 4, now_ms);
                if (cdb_run(db, s) < 0)
                    return -1;
                lost += sqlite3_changes(db->db);
            }
        }
        if (lost) {
            fprintf(stderr, PROG ": serve: %s: %lld events of seq %lld-%lld are no longer on the gateway: lost\n",
                    r[i].gw, lost, r[i].from, r[i].to);
            if (lost >= room)
                fprintf(stderr, PROG ": serve: %s: %lld seqs lost in all (--lost-max): no more replays asked\n",
                        r[i].gw, db->lim.lost_max);
            if (advance_apply(db, r[i].gw, &g) < 0 || cdb_seq_put(db, r[i].gw, &g, 0, now_ms) < 0)
                return -1;
            s = cdb_use(db, S_GAP_SINCE);
            sqlite3_bind_text(s, 1, r[i].gw, -1, SQLITE_STATIC);
            sqlite3_bind_int64(s, 2, lost);
            sqlite3_bind_int64(s, 3, now_ms);
            if (cdb_run(db, s) < 0)
                return -1;
        }
        s = cdb_use(db, S_REQ_SETTLED);
        sqlite3_bind_text(s, 1, r[i].id, -1, SQLITE_STATIC);
        if (cdb_run(db, s) < 0)
            return -1;
        marked += lost;
    }
    return marked;
}

int cdb_online(struct cdb *db, char (**out)[GW_MAX], size_t *n)
{
    sqlite3_stmt *s;
    size_t cap = 0;
    int rc;

    *out = NULL;
    *n = 0;
    if (sqlite3_prepare_v2(db->db, "SELECT gateway FROM gateways WHERE state = 'online' OR state IS NULL", -1, &s,
                           NULL) != SQLITE_OK)
        return cdb_fail(db, "online gateways");
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            char(*g)[GW_MAX] = realloc(*out, cap * sizeof(**out));
            if (!g)
                break;
            *out = g;
        }
        snprintf((*out)[(*n)++], GW_MAX, "%s", (const char *)sqlite3_column_text(s, 0));
    }
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? 0 : -1;
}
