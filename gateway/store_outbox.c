/* store_outbox: the messages waiting for the uplink, in send order
 * (priority, then age), within their bounds: what is dropped to stay
 * there is counted, and the counts kept in meta. */
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "store.h"
#include "store_int.h"

const struct store_sql db_outbox_sql[] = {
    {S_OUTBOX_ADD, "INSERT INTO outbox(prio, seq, topic, payload, qos) VALUES(?1, ?2, ?3, ?4, ?5)"},
    {S_OUTBOX_NEXT, "SELECT id, seq, topic, payload, qos, prio FROM outbox ORDER BY prio, id LIMIT ?1"},
    {S_OUTBOX_DEL, "DELETE FROM outbox WHERE id = ?1 RETURNING prio, length(payload)"},
    {S_OUTBOX_EVICT, "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE prio = ?1 ORDER BY id LIMIT ?2) "
                     "RETURNING length(payload)"},
    {S_OUTBOX_SIZES, "SELECT prio, count(*), coalesce(sum(length(payload)), 0) FROM outbox GROUP BY prio"},
    {S_COUNT, NULL},
};

static const char *const dropped_key[PRIO_COUNT] = {"dropped_alarm", "dropped_replay", "dropped_status",
                                                    "dropped_telemetry"};

int db_outbox_load(struct store *st)
{
    sqlite3_stmt *s = st->stmt[S_OUTBOX_SIZES];
    int rc;

    for (int p = 0; p < PRIO_COUNT; p++) {
        st->ob.rows[p] = st->ob.bytes[p] = 0;
        st->ob.dropped[p] = 0;
        db_meta_get(st, dropped_key[p], &st->ob.dropped[p]);
    }
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        int p = sqlite3_column_int(s, 0);
        if (p >= 0 && p < PRIO_COUNT) {
            st->ob.rows[p] = sqlite3_column_int64(s, 1);
            st->ob.bytes[p] = sqlite3_column_int64(s, 2);
        }
    }
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? 0 : db_error(st, "read outbox sizes");
}

int db_outbox_save_dropped(struct store *st)
{
    for (int p = 0; p < PRIO_COUNT; p++)
        if (db_meta_set(st, dropped_key[p], st->ob.dropped[p]) < 0)
            return -EIO;
    return 0;
}

void store_outbox_limits(struct store *st, int64_t max_rows, int64_t max_bytes, int64_t alarm_max)
{
    st->ob_max = max_rows;
    st->ob_max_bytes = max_bytes;
    st->ob_alarm_max = alarm_max;
}

static int64_t ob_total(const int64_t *v)
{
    return v[PRIO_ALARM] + v[PRIO_REPLAY] + v[PRIO_STATUS] + v[PRIO_TELEMETRY];
}

/* Drops up to n of the oldest messages of prio; returns how many. */
static int evict(struct store *st, enum outbox_prio prio, int n)
{
    sqlite3_stmt *s = st->stmt[S_OUTBOX_EVICT];
    int rc, got = 0;

    sqlite3_bind_int(s, 1, (int)prio);
    sqlite3_bind_int(s, 2, n);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        st->ob.rows[prio]--;
        st->ob.bytes[prio] -= sqlite3_column_int64(s, 0);
        st->ob.dropped[prio]++;
        got++;
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (rc != SQLITE_DONE) {
        st->failed = true;
        return db_error(st, "evict from the outbox");
    }
    if (got)
        st->counters_dirty = true;
    return got;
}

/* Keeps the outbox within its bounds: telemetry goes first, then replayed
 * events (copies of alarm_events rows: a replay can be asked again), then
 * status and replies; alarm events never for room, only past their own
 * cap, which replayed events do not count: a replay cannot evict one. */
static int outbox_bound(struct store *st)
{
    static const enum outbox_prio order[] = {PRIO_TELEMETRY, PRIO_REPLAY, PRIO_STATUS};
    int64_t before[PRIO_COUNT];
    int r;

    memcpy(before, st->ob.dropped, sizeof(before));
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
        while ((ob_total(st->ob.rows) > st->ob_max || ob_total(st->ob.bytes) > st->ob_max_bytes) &&
               st->ob.rows[order[i]] > 0) {
            int64_t over = ob_total(st->ob.rows) - st->ob_max;
            if ((r = evict(st, order[i], over > 1 ? (int)(over < 256 ? over : 256) : 1)) <= 0)
                return r;
        }
    }
    if (st->ob.rows[PRIO_ALARM] > st->ob_alarm_max) {
        int64_t over = st->ob.rows[PRIO_ALARM] - st->ob_alarm_max;
        if ((r = evict(st, PRIO_ALARM, (int)(over < 256 ? over : 256))) < 0)
            return r;
    }
    for (int p = 0; p < PRIO_COUNT; p++)
        if (st->ob.dropped[p] != before[p] && (before[p] == 0 || st->ob.dropped[p] / 1000 != before[p] / 1000))
            log_warn("store: outbox full: %lld %s messages dropped so far (outbox_max %lld, "
                     "outbox_max_bytes %lld, outbox_alarm_max %lld)",
                     (long long)st->ob.dropped[p],
                     p == PRIO_ALARM    ? "ALARM"
                     : p == PRIO_REPLAY ? "replayed alarm"
                     : p == PRIO_STATUS ? "status/reply/event"
                                        : "telemetry",
                     (long long)st->ob_max, (long long)st->ob_max_bytes, (long long)st->ob_alarm_max);
    return 0;
}

int store_outbox_add(struct store *st, enum outbox_prio prio, int64_t seq, const char *topic, const char *payload,
                     size_t len, int qos)
{
    sqlite3_stmt *s = st->stmt[S_OUTBOX_ADD];

    /* telemetry rides with the readings' commit; the rest is committed
     * (and on disk) before the loop sleeps */
    if (db_touch(st, prio != PRIO_TELEMETRY) < 0)
        return -EIO;
    sqlite3_bind_int(s, 1, (int)prio);
    sqlite3_bind_int64(s, 2, seq);
    sqlite3_bind_text(s, 3, topic, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 4, payload, (int)len, SQLITE_STATIC);
    sqlite3_bind_int(s, 5, qos);
    if (db_run(st, S_OUTBOX_ADD) < 0)
        return -EIO;
    st->ob.rows[prio]++;
    st->ob.bytes[prio] += (int64_t)len;
    return st->ob_max ? outbox_bound(st) : 0;
}

void store_outbox_stats(const struct store *st, struct outbox_stats *out)
{
    *out = st->ob;
}

int store_outbox_each(struct store *st, int limit, store_outbox_fn fn, void *ctx)
{
    sqlite3_stmt *s = st->stmt[S_OUTBOX_NEXT];
    struct outbox_msg m;
    int rc;

    sqlite3_bind_int(s, 1, limit);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        m.id = sqlite3_column_int64(s, 0);
        m.seq = sqlite3_column_int64(s, 1);
        snprintf(m.topic, sizeof(m.topic), "%s", (const char *)sqlite3_column_text(s, 2));
        m.payload = (char *)sqlite3_column_blob(s, 3);
        m.len = (size_t)sqlite3_column_bytes(s, 3);
        m.qos = sqlite3_column_int(s, 4);
        m.prio = (enum outbox_prio)sqlite3_column_int(s, 5);
        if (!fn(ctx, &m)) {
            rc = SQLITE_DONE;
            break;
        }
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc == SQLITE_DONE ? 0 : db_error(st, "read outbox");
}

int store_outbox_delete(struct store *st, int64_t id)
{
    sqlite3_stmt *s = st->stmt[S_OUTBOX_DEL];
    int rc;

    if (db_touch(st, false) < 0)
        return -EIO;
    sqlite3_bind_int64(s, 1, id);
    /* (gone already when it was evicted while in flight) */
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        int p = sqlite3_column_int(s, 0);
        if (p >= 0 && p < PRIO_COUNT) {
            st->ob.rows[p]--;
            st->ob.bytes[p] -= sqlite3_column_int64(s, 1);
        }
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (rc != SQLITE_DONE) {
        st->failed = true;
        return db_error(st, sqlite3_sql(s));
    }
    return 0;
}
