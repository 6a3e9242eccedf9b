/*
 * The center database's insides, shared by db.c (events, alarms, requests)
 * and db_guard.c (what a gateway may not do: held and conflicting events,
 * confirmed epochs, bounded lost, retention). Not for other modules.
 */
#ifndef LIFELINE_CENTER_DB_INT_H
#define LIFELINE_CENTER_DB_INT_H

#include <sqlite3.h>

#include "db.h"

/* db_guard.c's statements; G_TRIM.. are by age and by size, per table */
enum {
    G_HELD_PUT,
    G_HELD_COUNT,
    G_CONFLICT_PUT,
    G_CONFLICT_COUNT,
    G_CONFIRM,
    G_STATUS_RECENT,
    G_ASK_STATUS,
    G_REFUSED,
    G_DISPROVED_KEEP,
    G_DISPROVED_DROP,
    G_MAX_SEQ,
    G_TRIM,
    G_COUNT = G_TRIM + 8
};

#define CDB_STMT_MAX 40

struct cdb {
    sqlite3 *db;
    sqlite3_stmt *st[CDB_STMT_MAX]; /* db.c's statements */
    sqlite3_stmt *gst[G_COUNT];     /* db_guard.c's */
    struct cdb_limits lim;
};

struct gw_row {
    long long epoch, contiguous, max_seq, last_seq, boot, confirmed_boot, confirmed_ms, lost;
    char state[16];
    bool known;
};

int cdb_fail(struct cdb *db, const char *what);
/* Resets and clears a statement for its next use. */
sqlite3_stmt *cdb_use(struct cdb *db, int i);
sqlite3_stmt *cdb_guse(struct cdb *db, int i);
void cdb_bind_text(sqlite3_stmt *s, int i, const char *v);
int cdb_run(struct cdb *db, sqlite3_stmt *s);
/* The gateway's row (made when new). */
int cdb_gw_get(struct cdb *db, const char *gw, long long now_ms, struct gw_row *g);
/* Moves contiguous over every stored (or lost) seq that follows it. */
int cdb_advance(struct cdb *db, const char *gw, struct gw_row *g);
int cdb_seq_put(struct cdb *db, const char *gw, const struct gw_row *g, long long seq, long long now_ms);
int cdb_new_epoch(struct cdb *db, const char *gw, struct gw_row *g);

/* db_guard.c: its tables and columns on a database of any age, and its
 * statements. 0 or -1 (said). */
int cdb_guard_open(struct cdb *db, bool readonly);
void cdb_guard_close(struct cdb *db);
/* An event a gateway may not have sent (beyond what is confirmed), or a
 * known seq with other bytes: kept aside, counted, never applied. */
int cdb_hold(struct cdb *db, const char *gw, const struct gw_row *g, long long seq, const char *payload, size_t len,
             long long now_ms);
int cdb_conflict(struct cdb *db, const char *gw, const struct gw_row *g, long long seq, const char *payload, size_t len,
                 long long now_ms);

#endif
