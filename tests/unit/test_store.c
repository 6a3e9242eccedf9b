/* The outbox of the store, on a real SQLite file: send order (alarm, then
 * replayed alarm events, status, telemetry; oldest first within each), the
 * bounds (telemetry evicted first, replayed events, status next, alarm
 * events only past their own cap), the
 * drop counters, and what survives a close and reopen. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "log.h"
#include "store.h"

struct fixture {
    char dir[64];
    char path[96];
    struct store *st;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/lifeline-test-store-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/t.db", f->dir);
    assert_int_equal(store_open(f->path, &f->st), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[160];

    store_close(f->st);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        return -1;
    free(f);
    return 0;
}

/* Adds a message whose payload names it ("a1", "t7", ...). */
static void add(struct store *st, enum outbox_prio prio, const char *name)
{
    int64_t seq = prio == PRIO_ALARM ? atoi(name + 1) : 0;
    assert_int_equal(store_outbox_add(st, prio, seq, "t", name, strlen(name), 1), 0);
}

struct seen {
    char names[64][8];
    int64_t ids[64];
    int n;
};

static bool collect(void *ctx, const struct outbox_msg *m)
{
    struct seen *s = ctx;
    snprintf(s->names[s->n], sizeof(s->names[0]), "%.*s", (int)m->len, m->payload);
    s->ids[s->n++] = m->id;
    return s->n < 64;
}

static void order_of(struct store *st, char *out, size_t len)
{
    struct seen s = {0};
    size_t used = 0;

    assert_int_equal(store_outbox_each(st, 64, collect, &s), 0);
    out[0] = '\0';
    for (int i = 0; i < s.n; i++)
        used += (size_t)snprintf(out + used, len - used, "%s%s", i ? " " : "", s.names[i]);
}

static void send_order(void **state)
{
    struct fixture *f = *state;
    char got[256];

    add(f->st, PRIO_TELEMETRY, "t1");
    add(f->st, PRIO_STATUS, "s1");
    add(f->st, PRIO_ALARM, "a1");
    add(f->st, PRIO_TELEMETRY, "t2");
    add(f->st, PRIO_ALARM, "a2");
    add(f->st, PRIO_STATUS, "s2");
    assert_int_equal(store_commit(f->st), 0);
    order_of(f->st, got, sizeof(got));
    assert_string_equal(got, "a1 a2 s1 s2 t1 t2");
}

static void telemetry_evicted_first(void **state)
{
    struct fixture *f = *state;
    struct outbox_stats ob;
    char got[256], name[16];

    store_outbox_limits(f->st, 6, 1 << 20, 100);
    for (int i = 1; i <= 4; i++) {
        snprintf(name, sizeof(name), "t%d", i);
        add(f->st, PRIO_TELEMETRY, name);
    }
    add(f->st, PRIO_STATUS, "s1");
    for (int i = 1; i <= 4; i++) {
        snprintf(name, sizeof(name), "a%d", i);
        add(f->st, PRIO_ALARM, name);
    }
    assert_int_equal(store_commit(f->st), 0);
    /* 9 messages for 6 places: the three oldest telemetry go */
    order_of(f->st, got, sizeof(got));
    assert_string_equal(got, "a1 a2 a3 a4 s1 t4");
    add(f->st, PRIO_ALARM, "a5");
    add(f->st, PRIO_ALARM, "a6");
    /* no telemetry left for one of them: the status goes next */
    order_of(f->st, got, sizeof(got));
    assert_string_equal(got, "a1 a2 a3 a4 a5 a6");
    /* and past the bound, alarm events stay (their cap is 100) */
    add(f->st, PRIO_ALARM, "a7");
    order_of(f->st, got, sizeof(got));
    assert_string_equal(got, "a1 a2 a3 a4 a5 a6 a7");
    store_outbox_stats(f->st, &ob);
    assert_int_equal(ob.dropped[PRIO_TELEMETRY], 4);
    assert_int_equal(ob.dropped[PRIO_STATUS], 1);
    assert_int_equal(ob.dropped[PRIO_ALARM], 0);
    assert_int_equal(ob.rows[PRIO_ALARM], 7);
    assert_int_equal(ob.rows[PRIO_TELEMETRY] + ob.rows[PRIO_STATUS], 0);
    assert_int_equal(ob.bytes[PRIO_ALARM], 14);
}

/* Replayed events (cmd/replay) go after new alarm events, and are evicted
 * before status messages; they never evict an alarm event nor count
 * toward the alarm cap. */
static void replay_below_alarms_evicted_first(void **state)
{
    struct fixture *f = *state;
    struct outbox_stats ob;
    char got[256], name[16];

    store_outbox_limits(f->st, 6, 1 << 20, 3);
    add(f->st, PRIO_TELEMETRY, "t1");
    add(f->st, PRIO_REPLAY, "r1");
    add(f->st, PRIO_STATUS, "s1");
    add(f->st, PRIO_ALARM, "a1");
    add(f->st, PRIO_REPLAY, "r2");
    add(f->st, PRIO_ALARM, "a2");
    assert_int_equal(store_commit(f->st), 0);
    order_of(f->st, got, sizeof(got));
    assert_string_equal(got, "a1 a2 r1 r2 s1 t1");
    /* full: the telemetry goes first, then the oldest replayed events */
    add(f->st, PRIO_ALARM, "a3");
    order_of(f->st, got, sizeof(got));
    assert_string_equal(got, "a1 a2 a3 r1 r2 s1");
    for (int i = 3; i <= 6; i++) {
        snprintf(name, sizeof(name), "r%d", i);
        add(f->st, PRIO_REPLAY, name);
    }
    order_of(f->st, got, sizeof(got));
    assert_string_equal(got, "a1 a2 a3 r5 r6 s1");
    store_outbox_stats(f->st, &ob);
    assert_int_equal(ob.dropped[PRIO_ALARM], 0);
    assert_int_equal(ob.dropped[PRIO_REPLAY], 4);
    assert_int_equal(ob.dropped[PRIO_STATUS], 0);
    assert_int_equal(ob.dropped[PRIO_TELEMETRY], 1);
    assert_int_equal(ob.rows[PRIO_ALARM], 3);
    assert_int_equal(ob.rows[PRIO_REPLAY], 2);
}

static void alarm_cap_drops_oldest(void **state)
{
    struct fixture *f = *state;
    struct outbox_stats ob;
    char got[256], name[16];

    store_outbox_limits(f->st, 1000, 1 << 20, 5);
    add(f->st, PRIO_TELEMETRY, "t1");
    for (int i = 1; i <= 8; i++) {
        snprintf(name, sizeof(name), "a%d", i);
        add(f->st, PRIO_ALARM, name);
    }
    order_of(f->st, got, sizeof(got));
    assert_string_equal(got, "a4 a5 a6 a7 a8 t1");
    store_outbox_stats(f->st, &ob);
    assert_int_equal(ob.dropped[PRIO_ALARM], 3);
    assert_int_equal(ob.dropped[PRIO_TELEMETRY], 0);
}

static void byte_bound(void **state)
{
    struct fixture *f = *state;
    struct outbox_stats ob;
    char big[1000];

    /* three 1000-byte telemetry messages in 2500 bytes: one goes */
    memset(big, 'x', sizeof(big));
    store_outbox_limits(f->st, 1000, 2500, 100);
    for (int i = 0; i < 3; i++)
        assert_int_equal(store_outbox_add(f->st, PRIO_TELEMETRY, 0, "t", big, sizeof(big), 0), 0);
    store_outbox_stats(f->st, &ob);
    assert_int_equal(ob.rows[PRIO_TELEMETRY], 2);
    assert_int_equal(ob.bytes[PRIO_TELEMETRY], 2000);
    assert_int_equal(ob.dropped[PRIO_TELEMETRY], 1);
}

/* A database of schema 4 (priorities alarm 0, status 1, telemetry 2)
 * keeps its waiting messages in their places after the migration. */
static void migration_renumbers_priorities(void **state)
{
    struct fixture *f = *state;
    struct outbox_stats ob;
    sqlite3 *db;
    char got[256];

    add(f->st, PRIO_TELEMETRY, "t1");
    add(f->st, PRIO_STATUS, "s1");
    add(f->st, PRIO_ALARM, "a1");
    assert_int_equal(store_commit(f->st), 0);
    store_close(f->st);
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "UPDATE outbox SET prio = prio - 1 WHERE prio >= 2; PRAGMA user_version = 4;",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(store_open(f->path, &f->st), 0);
    store_outbox_stats(f->st, &ob);
    assert_int_equal(ob.rows[PRIO_ALARM], 1);
    assert_int_equal(ob.rows[PRIO_REPLAY], 0);
    assert_int_equal(ob.rows[PRIO_STATUS], 1);
    assert_int_equal(ob.rows[PRIO_TELEMETRY], 1);
    order_of(f->st, got, sizeof(got));
    assert_string_equal(got, "a1 s1 t1");
}

static void delete_and_reopen(void **state)
{
    struct fixture *f = *state;
    struct outbox_stats ob;
    struct seen s = {0};
    char got[256];

    store_outbox_limits(f->st, 2, 1 << 20, 100);
    add(f->st, PRIO_ALARM, "a1");
    add(f->st, PRIO_TELEMETRY, "t1");
    add(f->st, PRIO_TELEMETRY, "t2"); /* drops t1 */
    assert_int_equal(store_outbox_each(f->st, 64, collect, &s), 0);
    assert_int_equal(s.n, 2);
    /* a PUBACK for a message evicted while in flight changes nothing */
    assert_int_equal(store_outbox_delete(f->st, s.ids[0]), 0);
    assert_int_equal(store_outbox_delete(f->st, s.ids[0]), 0);
    assert_int_equal(store_commit(f->st), 0);
    store_close(f->st);
    assert_int_equal(store_open(f->path, &f->st), 0);
    store_outbox_stats(f->st, &ob);
    assert_int_equal(ob.rows[PRIO_ALARM], 0);
    assert_int_equal(ob.rows[PRIO_TELEMETRY], 1);
    assert_int_equal(ob.bytes[PRIO_TELEMETRY], 2);
    assert_int_equal(ob.dropped[PRIO_TELEMETRY], 1); /* kept in the database */
    order_of(f->st, got, sizeof(got));
    assert_string_equal(got, "t2");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(send_order, setup, teardown),
        cmocka_unit_test_setup_teardown(telemetry_evicted_first, setup, teardown),
        cmocka_unit_test_setup_teardown(replay_below_alarms_evicted_first, setup, teardown),
        cmocka_unit_test_setup_teardown(alarm_cap_drops_oldest, setup, teardown),
        cmocka_unit_test_setup_teardown(byte_bound, setup, teardown),
        cmocka_unit_test_setup_teardown(delete_and_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(migration_renumbers_priorities, setup, teardown),
    };
    log_open(LOG_TARGET_STDERR, LOG_ERR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
