/* store: the database itself: open, check and move aside when corrupt,
 * the statements prepared once, the tick's transaction, and the counters
 * kept in meta (seq, alarm ids, boot count). The schema is in
 * store_schema.c; each table's code in store_readings.c, store_alarms.c,
 * store_outbox.c and store_state.c (store_int.h: what they share). */
#include "store.h"

#include <errno.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "loop.h"
#include "store_int.h"

static const struct store_sql core_sql[] = {
    {S_BEGIN, "BEGIN IMMEDIATE"},
    {S_COMMIT, "COMMIT"},
    {S_ROLLBACK, "ROLLBACK"},
    {S_META_GET, "SELECT value FROM meta WHERE key = ?1"},
    {S_META_SET, "INSERT INTO meta(key, value) VALUES(?1, ?2) "
                 "ON CONFLICT(key) DO UPDATE SET value = excluded.value"},
    {S_PAGES,
     "SELECT (SELECT page_count FROM pragma_page_count()) - (SELECT freelist_count FROM pragma_freelist_count()), "
     "(SELECT page_size FROM pragma_page_size())"},
    {S_COUNT, NULL},
};

int db_error(struct store *st, const char *what)
{
    if (!st->failing)
        log_err("store: %s: %s", what, sqlite3_errmsg(st->db));
    return -EIO;
}

int db_run(struct store *st, enum stmt_id id)
{
    sqlite3_stmt *s = st->stmt[id];
    int rc = sqlite3_step(s);

    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        if (st->in_txn)
            st->failed = true;
        return db_error(st, sqlite3_sql(s));
    }
    return 0;
}

int db_meta_get(struct store *st, const char *key, int64_t *value)
{
    sqlite3_stmt *s = st->stmt[S_META_GET];
    int rc;

    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *value = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_error(st, "read meta");
    return rc == SQLITE_ROW ? 0 : -ENOENT;
}

int db_meta_set(struct store *st, const char *key, int64_t value)
{
    sqlite3_bind_text(st->stmt[S_META_SET], 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st->stmt[S_META_SET], 2, value);
    return db_run(st, S_META_SET);
}

static int begin(struct store *st, int64_t now_ms)
{
    if (st->in_txn)
        return 0;
    if (db_run(st, S_BEGIN) < 0)
        return -EIO;
    st->in_txn = true;
    st->txn_since_ms = now_ms;
    return 0;
}

int db_touch(struct store *st, bool urgent)
{
    int r = begin(st, loop_clock_ms());
    if (r == 0 && urgent)
        st->urgent = true;
    return r;
}

static void reload_counters(struct store *st)
{
    db_meta_get(st, "next_seq", &st->next_seq);
    db_meta_get(st, "next_alarm_id", &st->next_alarm_id);
    db_outbox_load(st);
    st->counters_dirty = false;
}

int store_flush(struct store *st, int64_t now_ms, int64_t interval_ms)
{
    if (!st->in_txn)
        return 0;
    if (!st->urgent && !st->failed && now_ms - st->txn_since_ms < interval_ms)
        return 0;
    if (st->failed)
        goto fail;
    if (st->counters_dirty &&
        (db_meta_set(st, "next_seq", st->next_seq) < 0 || db_meta_set(st, "next_alarm_id", st->next_alarm_id) < 0 ||
         db_outbox_save_dropped(st) < 0))
        goto fail;
    if (db_run(st, S_COMMIT) < 0)
        goto fail;
    st->in_txn = st->urgent = st->counters_dirty = false;
    if (st->failing)
        log_info("store: commits work again");
    st->failing = false;
    return 0;
fail:
    /* Nothing of this tick was published (publishing waits for the commit),
     * so rolling back loses readings but never an alarm the center saw; the
     * caller puts its alarm state back so the transitions are found again.
     * SQLite may have rolled back by itself already (a full disk). */
    if (!sqlite3_get_autocommit(st->db))
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    st->in_txn = st->urgent = st->failed = false;
    reload_counters(st);
    if (!st->failing)
        log_warn("store: transaction rolled back: its alarm events will be made again once "
                 "commits work; retrying every commit");
    st->failing = true;
    return -EIO;
}

int store_commit(struct store *st)
{
    st->urgent = st->in_txn;
    return store_flush(st, 0, 0);
}

bool store_in_txn(const struct store *st)
{
    return st->in_txn;
}

uint32_t store_boot_count(const struct store *st)
{
    return st->boot_count;
}

int store_next_seq(struct store *st, int64_t *seq)
{
    if (db_touch(st, true) < 0)
        return -EIO;
    *seq = st->next_seq++;
    st->counters_dirty = true;
    return 0;
}

int64_t store_last_seq(const struct store *st)
{
    return st->next_seq - 1;
}

/* Alarm ids are handed out like sequence numbers; a database from before
 * next_alarm_id existed starts after its highest alarm. */
static int init_alarm_ids(struct store *st)
{
    sqlite3_stmt *q;
    int r = db_meta_get(st, "next_alarm_id", &st->next_alarm_id);

    if (r != -ENOENT)
        return r;
    if (sqlite3_prepare_v2(st->db, "SELECT coalesce(max(id), 0) + 1 FROM alarms", -1, &q, NULL) != SQLITE_OK)
        return db_error(st, "read alarm ids");
    st->next_alarm_id = sqlite3_step(q) == SQLITE_ROW ? sqlite3_column_int64(q, 0) : 1;
    sqlite3_finalize(q);
    return db_meta_set(st, "next_alarm_id", st->next_alarm_id);
}

/* Each file's statements, all prepared at open and kept until close. */
static const struct store_sql *const statements[] = {core_sql, db_readings_sql, db_alarms_sql, db_outbox_sql,
                                                     db_state_sql};

static int prepare_all(struct store *st)
{
    for (size_t f = 0; f < sizeof(statements) / sizeof(statements[0]); f++) {
        for (const struct store_sql *q = statements[f]; q->text; q++) {
            if (st->stmt[q->id]) {
                log_err("store: statement %d is listed twice", (int)q->id);
                return -EIO;
            }
            if (sqlite3_prepare_v3(st->db, q->text, -1, SQLITE_PREPARE_PERSISTENT, &st->stmt[q->id], NULL) != SQLITE_OK)
                return db_error(st, q->text);
        }
    }
    for (int i = 0; i < S_COUNT; i++) {
        if (!st->stmt[i]) {
            log_err("store: statement %d has no SQL", i);
            return -EIO;
        }
    }
    return 0;
}

static int check_cb(void *ctx, int n, char **vals, char **names)
{
    (void)names;
    if (n >= 1 && vals[0] && strcmp(vals[0], "ok") != 0)
        *(bool *)ctx = true;
    return 0;
}

/* Opens and checks the database; -EBADMSG when it is corrupt or not a
 * database (for store_open to move it aside), other errors as they are. */
static int open_checked(struct store *st, const char *path)
{
    char *msg = NULL;
    int64_t boots = 0;
    bool bad = false;

    if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
        log_err("store: cannot open '%s': %s", path, st->db ? sqlite3_errmsg(st->db) : "out of memory");
        return -EIO;
    }
    sqlite3_busy_timeout(st->db, 2000);
    /* WAL with synchronous=FULL: every commit is on disk before we publish
     * what it holds, so a power cut cannot take back an event the center saw.
     * The page cache is [store] cache (store_cache): readings and their
     * time index append, so a second's commit touches a few pages. */
    int rc = sqlite3_exec(st->db,
                          "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                          " PRAGMA foreign_keys=OFF; PRAGMA cache_size=-1024;",
                          NULL, NULL, &msg);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(st->db, "PRAGMA integrity_check(1)", check_cb, &bad, &msg);
    if (rc != SQLITE_OK || bad) {
        int ext = sqlite3_extended_errcode(st->db);
        log_err("store: '%s' fails its integrity check: %s", path,
                msg   ? msg
                : bad ? "integrity_check not ok"
                      : sqlite3_errmsg(st->db));
        sqlite3_free(msg);
        return bad || (ext & 0xff) == SQLITE_CORRUPT || (ext & 0xff) == SQLITE_NOTADB ? -EBADMSG : -EIO;
    }
    if (db_schema_create(st) < 0 || prepare_all(st) < 0 || db_meta_get(st, "next_seq", &st->next_seq) < 0 ||
        db_meta_get(st, "boot_count", &boots) < 0 || init_alarm_ids(st) < 0 || db_outbox_load(st) < 0)
        return ((sqlite3_extended_errcode(st->db) & 0xff) == SQLITE_CORRUPT ||
                (sqlite3_extended_errcode(st->db) & 0xff) == SQLITE_NOTADB)
                   ? -EBADMSG
                   : -EIO;
    st->boot_count = (uint32_t)boots + 1;
    return db_meta_set(st, "boot_count", st->boot_count);
}

static void close_db(struct store *st)
{
    for (int i = 0; i < S_COUNT; i++) {
        sqlite3_finalize(st->stmt[i]);
        st->stmt[i] = NULL;
    }
    sqlite3_close(st->db);
    st->db = NULL;
}

/* A corrupt database is kept for forensics under a new name, and a new one
 * takes its place: the gateway goes on watching instead of crash-looping. */
static int move_aside(const char *path, char *moved, size_t len)
{
    static const char *const ext[] = {"", "-wal", "-shm"};
    time_t now = time(NULL);
    struct tm tm;
    char stamp[32], from[PATH_MAX + 8], to[PATH_MAX + 64];

    gmtime_r(&now, &tm);
    strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
    snprintf(moved, len, "%s.corrupt-%s", path, stamp);
    for (size_t i = 0; i < sizeof(ext) / sizeof(ext[0]); i++) {
        snprintf(from, sizeof(from), "%s%s", path, ext[i]);
        snprintf(to, sizeof(to), "%s%s", moved, ext[i]);
        if (rename(from, to) < 0 && errno != ENOENT) {
            log_err("store: cannot move '%s' aside: %s", from, strerror(errno));
            return -errno;
        }
    }
    return 0;
}

int store_open(const char *path, struct store **out)
{
    struct store *st = calloc(1, sizeof(*st));
    int r;

    if (!st)
        return -ENOMEM;
    r = open_checked(st, path);
    if (r == -EBADMSG) {
        close_db(st);
        if (move_aside(path, st->moved_to, sizeof(st->moved_to)) == 0) {
            log_err("store: DATABASE RESET: '%s' was corrupt and is kept as '%s'; a new one is "
                    "created (history and unsent messages of the old one are not in it)",
                    path, st->moved_to);
            memset(st->stmt, 0, sizeof(st->stmt));
            r = open_checked(st, path);
        }
    }
    if (r < 0) {
        store_close(st);
        return -EIO;
    }
    *out = st;
    return 0;
}

void store_close(struct store *st)
{
    if (!st)
        return;
    store_commit(st);
    for (int i = 0; i < S_COUNT; i++)
        sqlite3_finalize(st->stmt[i]);
    if (st->db && sqlite3_close(st->db) != SQLITE_OK)
        log_err("store: close: %s", sqlite3_errmsg(st->db));
    free(st);
}

const char *store_reset_path(const struct store *st)
{
    return st->moved_to[0] ? st->moved_to : NULL;
}

void store_cache(struct store *st, int64_t bytes)
{
    char pragma[64];

    snprintf(pragma, sizeof(pragma), "PRAGMA cache_size=-%lld", (long long)(bytes / 1024));
    if (sqlite3_exec(st->db, pragma, NULL, NULL, NULL) != SQLITE_OK)
        log_warn("store: cache_size: %s", sqlite3_errmsg(st->db));
}

int64_t store_used_bytes(struct store *st)
{
    sqlite3_stmt *s = st->stmt[S_PAGES];
    int64_t used = -1;

    if (sqlite3_step(s) == SQLITE_ROW)
        used = sqlite3_column_int64(s, 0) * sqlite3_column_int64(s, 1);
    sqlite3_reset(s);
    return used;
}
