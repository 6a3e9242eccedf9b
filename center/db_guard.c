/*
 * What one gateway may make the center do (db.h): events held aside or in
 * conflict, epochs and last seqs only from the gateway's own cmd/status
 * answer, and the logs kept by age and size. Small statements, one job
 * each, so a store other than SQLite can say the same.
 */
#include <stdio.h>
#include <string.h>

#include "db_int.h"

static const char guard_schema[] =
    "CREATE TABLE IF NOT EXISTS held(gateway TEXT NOT NULL, epoch INTEGER, seq INTEGER, received_ms INTEGER,"
    " payload TEXT);"
    "CREATE INDEX IF NOT EXISTS held_gateway ON held(gateway, epoch, seq);"
    "CREATE TABLE IF NOT EXISTS conflicts(gateway TEXT NOT NULL, epoch INTEGER, seq INTEGER, received_ms INTEGER,"
    " payload TEXT);"
    "CREATE INDEX IF NOT EXISTS conflicts_gateway ON conflicts(gateway, epoch, seq);"
    "CREATE INDEX IF NOT EXISTS requests_gateway ON requests(gateway, kind, sent_ms);";

/* Columns later than the first schema; "duplicate column" once added. */
static const char *const guard_columns[] = {
    "ALTER TABLE gateways ADD COLUMN confirmed_boot INTEGER",
    "ALTER TABLE gateways ADD COLUMN confirmed_ms INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE gateways ADD COLUMN held INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE gateways ADD COLUMN conflicts INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE gateways ADD COLUMN refused INTEGER NOT NULL DEFAULT 0",
};

#define TRIM_BATCH "500"
/* per table: by age among the oldest batch, then by size (rowids grow) */
#define TRIM(t)                                                                                                        \
    "DELETE FROM " t " WHERE rowid IN (SELECT rowid FROM " t " ORDER BY rowid LIMIT " TRIM_BATCH                       \
    ") AND received_ms < ?1",                                                                                          \
        "DELETE FROM " t " WHERE rowid IN (SELECT rowid FROM " t " ORDER BY rowid LIMIT max(0, min(" TRIM_BATCH        \
        ", (SELECT coalesce(max(rowid) - min(rowid) + 1, 0) FROM " t ") - ?1)))"

static const char *const gsql[G_COUNT] = {
    [G_HELD_PUT] = "INSERT INTO held(gateway, epoch, seq, received_ms, payload) SELECT ?1, ?2, ?3, ?4, ?5"
                   " WHERE (SELECT count(*) FROM held WHERE gateway = ?1) < ?6",
    [G_HELD_COUNT] = "UPDATE gateways SET held = held + 1, seen_ms = ?2 WHERE gateway = ?1",
    [G_CONFLICT_PUT] = "INSERT INTO conflicts(gateway, epoch, seq, received_ms, payload) SELECT ?1, ?2, ?3, ?4, ?5"
                       " WHERE (SELECT count(*) FROM conflicts WHERE gateway = ?1) < ?6",
    [G_CONFLICT_COUNT] = "UPDATE gateways SET conflicts = conflicts + 1, seen_ms = ?2 WHERE gateway = ?1",
    [G_CONFIRM] = "UPDATE gateways SET last_seq = max(last_seq, ?2), confirmed_boot = coalesce(?3, confirmed_boot),"
                  " confirmed_ms = ?4, seen_ms = ?5,"
                  " gap_since = CASE WHEN contiguous >= max(max_seq, last_seq, ?2) THEN NULL"
                  " ELSE coalesce(gap_since, ?5) END WHERE gateway = ?1",
    [G_STATUS_RECENT] = "SELECT count(*) FROM requests WHERE gateway = ?1 AND kind = 'status' AND sent_ms > ?2",
    [G_ASK_STATUS] = "SELECT gateway FROM gateways g WHERE (state = 'online' OR state IS NULL) AND ("
                     " gap_since IS NOT NULL AND gap_since <= ?1 AND contiguous < max_seq AND max_seq > last_seq"
                     " OR EXISTS (SELECT 1 FROM held h WHERE h.gateway = g.gateway AND h.epoch = g.epoch"
                     " AND h.seq > g.last_seq AND h.received_ms BETWEEN ?3 AND ?1))"
                     " AND NOT EXISTS (SELECT 1 FROM requests r WHERE r.gateway = g.gateway AND r.kind = 'status'"
                     " AND r.sent_ms > ?2) LIMIT 1",
    [G_REFUSED] = "UPDATE gateways SET refused = refused + ?2 WHERE gateway = ?1",
    /* events above contiguous (so not applied) and above what the gateway
     * said it had handed out, received before we asked: not its own */
    [G_DISPROVED_KEEP] = "INSERT INTO conflicts(gateway, epoch, seq, received_ms, payload)"
                         " SELECT gateway, epoch, seq, received_ms, payload FROM events"
                         " WHERE gateway = ?1 AND epoch = ?2 AND seq > ?3 AND received_ms < ?4",
    [G_DISPROVED_DROP] = "DELETE FROM events WHERE gateway = ?1 AND epoch = ?2 AND seq > ?3 AND received_ms < ?4",
    [G_MAX_SEQ] = "UPDATE gateways SET conflicts = conflicts + ?3,"
                  " max_seq = (SELECT coalesce(max(seq), 0) FROM events WHERE gateway = ?1 AND epoch = ?2)"
                  " WHERE gateway = ?1",
    [G_TRIM] = TRIM("status_log"),
    TRIM("gateway_events"),
    TRIM("held"),
    TRIM("conflicts"),
};

sqlite3_stmt *cdb_guse(struct cdb *db, int i)
{
    sqlite3_stmt *s = db->gst[i];
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return s;
}

int cdb_guard_open(struct cdb *db, bool readonly)
{
    char *err = NULL;

    if (!readonly) {
        if (sqlite3_exec(db->db, guard_schema, NULL, NULL, &err) != SQLITE_OK) {
            fprintf(stderr, PROG ": database: %s\n", err ? err : "error");
            sqlite3_free(err);
            return -1;
        }
        for (size_t i = 0; i < sizeof(guard_columns) / sizeof(guard_columns[0]); i++)
            if (sqlite3_exec(db->db, guard_columns[i], NULL, NULL, NULL) != SQLITE_OK &&
                !strstr(sqlite3_errmsg(db->db), "duplicate column"))
                return cdb_fail(db, guard_columns[i]);
    }
    for (int i = 0; i < G_COUNT; i++)
        if (sqlite3_prepare_v3(db->db, gsql[i], -1, SQLITE_PREPARE_PERSISTENT, &db->gst[i], NULL) != SQLITE_OK)
            return cdb_fail(db, gsql[i]);
    return 0;
}

void cdb_guard_close(struct cdb *db)
{
    for (int i = 0; i < G_COUNT; i++)
        sqlite3_finalize(db->gst[i]);
}

void cdb_set_limits(struct cdb *db, const struct cdb_limits *lim)
{
    db->lim = *lim;
}

static int aside(struct cdb *db, int put, int count, const char *gw, const struct gw_row *g, long long seq,
                 const char *payload, size_t len, long long now_ms)
{
    sqlite3_stmt *s = cdb_guse(db, put);
    sqlite3_bind_text(s, 1, gw, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, g->epoch);
    sqlite3_bind_int64(s, 3, seq);
    sqlite3_bind_int64(s, 4, now_ms);
    sqlite3_bind_text(s, 5, payload, (int)len, SQLITE_STATIC);
    sqlite3_bind_int64(s, 6, db->lim.held_max);
    if (cdb_run(db, s) < 0)
        return -1;
    s = cdb_guse(db, count);
    sqlite3_bind_text(s, 1, gw, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, now_ms);
    return cdb_run(db, s);
}

int cdb_hold(struct cdb *db, const char *gw, const struct gw_row *g, long long seq, const char *payload, size_t len,
             long long now_ms)
{
    return aside(db, G_HELD_PUT, G_HELD_COUNT, gw, g, seq, payload, len, now_ms);
}

int cdb_conflict(struct cdb *db, const char *gw, const struct gw_row *g, long long seq, const char *payload, size_t len,
                 long long now_ms)
{
    return aside(db, G_CONFLICT_PUT, G_CONFLICT_COUNT, gw, g, seq, payload, len, now_ms);
}

/* The gateway's answer (to a question sent at sent_ms) says it handed out
 * up to last_seq: stored events beyond it and beyond contiguous that came
 * before the question are not its own. Moved to conflicts; how many. */
static long long disprove(struct cdb *db, const char *gw, const struct gw_row *g, long long last_seq, long long sent_ms)
{
    long long above = last_seq > g->contiguous ? last_seq : g->contiguous, n;
    sqlite3_stmt *s;

    if (g->max_seq <= above)
        return 0;
    for (int i = G_DISPROVED_KEEP; i <= G_DISPROVED_DROP; i++) {
        s = cdb_guse(db, i);
        sqlite3_bind_text(s, 1, gw, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 2, g->epoch);
        sqlite3_bind_int64(s, 3, above);
        sqlite3_bind_int64(s, 4, sent_ms);
        if (cdb_run(db, s) < 0)
            return -1;
    }
    if ((n = sqlite3_changes(db->db)) == 0)
        return 0;
    s = cdb_guse(db, G_MAX_SEQ);
    sqlite3_bind_text(s, 1, gw, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, g->epoch);
    sqlite3_bind_int64(s, 3, n);
    if (cdb_run(db, s) < 0)
        return -1;
    fprintf(stderr, PROG ": serve: %s: %lld events above seq %lld are not the gateway's (it says so): conflicts\n", gw,
            n, above);
    return n;
}

int cdb_confirm(struct cdb *db, const char *gw, long long last_seq, long long boot, long long sent_ms, long long now_ms)
{
    struct gw_row g;
    int fresh = 0;

    if (cdb_gw_get(db, gw, now_ms, &g) < 0)
        return -1;
    if (sent_ms < g.confirmed_ms)
        return 0; /* a later question was answered already */
    /* the gateway itself says its sequence started again: a lower boot
     * (a new database counts from 1), another boot that has handed out
     * less than is stored, or far less than is stored (events newer than
     * the answer can overtake it, but not seq_ahead of them) */
    if ((g.contiguous > 0 || g.max_seq > 0) && ((boot >= 0 && g.confirmed_boot >= 0 && boot < g.confirmed_boot) ||
                                                (boot >= 0 && boot != g.confirmed_boot && last_seq < g.contiguous) ||
                                                last_seq + db->lim.seq_ahead < g.contiguous)) {
        if (cdb_new_epoch(db, gw, &g) < 0)
            return -1;
        fresh = 1;
    } else if (disprove(db, gw, &g, last_seq, sent_ms) < 0) {
        return -1;
    }
    sqlite3_stmt *s = cdb_guse(db, G_CONFIRM);
    sqlite3_bind_text(s, 1, gw, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, last_seq);
    if (boot >= 0)
        sqlite3_bind_int64(s, 3, boot);
    sqlite3_bind_int64(s, 4, sent_ms);
    sqlite3_bind_int64(s, 5, now_ms);
    return cdb_run(db, s) < 0 ? -1 : fresh;
}

int cdb_next_unconfirmed(struct cdb *db, long long now_ms, long long wait_ms, char *gw)
{
    sqlite3_stmt *s = cdb_guse(db, G_ASK_STATUS);
    int rc;

    sqlite3_bind_int64(s, 1, now_ms - wait_ms);
    sqlite3_bind_int64(s, 2, now_ms - wait_ms);
    sqlite3_bind_int64(s, 3, now_ms - 60000); /* a held event is asked about for a minute */
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        snprintf(gw, GW_MAX, "%s", (const char *)sqlite3_column_text(s, 0));
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return cdb_fail(db, "unconfirmed gateways");
    return rc == SQLITE_ROW;
}

int cdb_status_due(struct cdb *db, const char *gw, long long now_ms, long long interval_ms)
{
    sqlite3_stmt *s = cdb_guse(db, G_STATUS_RECENT);
    int rc;

    sqlite3_bind_text(s, 1, gw, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, now_ms - interval_ms);
    rc = sqlite3_step(s);
    int due = rc == SQLITE_ROW && sqlite3_column_int64(s, 0) == 0;
    sqlite3_reset(s);
    return rc == SQLITE_ROW ? due : cdb_fail(db, "status asked");
}

int cdb_refused(struct cdb *db, const char *gw, long long n)
{
    sqlite3_stmt *s = cdb_guse(db, G_REFUSED);
    sqlite3_bind_text(s, 1, gw, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, n);
    return cdb_run(db, s);
}

long long cdb_trim(struct cdb *db, long long now_ms)
{
    long long n = 0;

    for (int i = G_TRIM; i < G_COUNT; i++) {
        sqlite3_stmt *s = cdb_guse(db, i);
        sqlite3_bind_int64(s, 1, (i - G_TRIM) % 2 ? db->lim.keep_rows : now_ms - db->lim.keep_ms);
        if (cdb_run(db, s) < 0)
            return -1;
        n += sqlite3_changes(db->db);
    }
    return n;
}
