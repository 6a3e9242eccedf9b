/* store_schema: the tables, as version 1 and the migrations after it;
 * a new version is a new migration here and STORE_SCHEMA_VERSION + 1. */
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>

#include "log.h"
#include "store.h"
#include "store_int.h"

/* Version 1. Later versions are migrations after it; none is ever edited. */
static const char schema_v1[] =
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE sensors(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);"
    "CREATE TABLE readings(id INTEGER PRIMARY KEY, sensor INTEGER NOT NULL, ts INTEGER NOT NULL,"
    " value REAL, quality INTEGER NOT NULL);"
    "CREATE INDEX readings_sensor_ts ON readings(sensor, ts);"
    "CREATE TABLE alarms(id INTEGER PRIMARY KEY, sensor TEXT NOT NULL, condition TEXT NOT NULL,"
    " level INTEGER NOT NULL, state TEXT NOT NULL, raised_ts INTEGER NOT NULL,"
    " updated_ts INTEGER NOT NULL, cleared_ts INTEGER, active INTEGER NOT NULL);"
    "CREATE INDEX alarms_active ON alarms(active) WHERE active = 1;"
    "CREATE TABLE alarm_events(seq INTEGER PRIMARY KEY, alarm_id INTEGER NOT NULL,"
    " ts INTEGER NOT NULL, event TEXT NOT NULL, payload TEXT NOT NULL);"
    "CREATE TABLE outbox(id INTEGER PRIMARY KEY, prio INTEGER NOT NULL, seq INTEGER NOT NULL,"
    " topic TEXT NOT NULL, payload BLOB NOT NULL, qos INTEGER NOT NULL);"
    "CREATE INDEX outbox_order ON outbox(prio, id);"
    "INSERT INTO meta VALUES('next_seq', 1), ('boot_count', 0);";

/* Version 2: acknowledgements. */
static const char schema_v2[] = "ALTER TABLE alarms ADD COLUMN acked_by TEXT;"
                                "ALTER TABLE alarms ADD COLUMN acked_ts INTEGER;";

/* Version 3: readings indexed by time only. An index on (sensor, ts) has
 * its insertion points spread over one leaf page per sensor, so every
 * commit rewrote a page per sensor: 4.9 KB written per reading with 100
 * sensors and a commit a second (bench/store). By time, inserts append to
 * one page. History (a rare command) scans the time range for its sensor. */
static const char schema_v3[] =
    "DROP INDEX readings_sensor_ts;"
    "CREATE INDEX readings_ts ON readings(ts);"
    /* and what must outlive a restart besides the alarms: running delay
     * timers (a sensor's rule state, while one runs) and maintenance */
    "CREATE TABLE timers(sensor TEXT PRIMARY KEY, saved_ms INTEGER NOT NULL, state BLOB NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE maintenance(sensor TEXT PRIMARY KEY, until_ms INTEGER NOT NULL) WITHOUT ROWID;";

/* Version 4: the totals of GPIO pulse counters. */
static const char schema_v4[] =
    "CREATE TABLE counters(sensor TEXT PRIMARY KEY, pulses INTEGER NOT NULL) WITHOUT ROWID;";

/* Version 5: replayed alarm events get their own priority (1), after new
 * alarm events and before status, replies and events (now 2) and
 * telemetry (now 3). */
static const char schema_v5[] = "UPDATE outbox SET prio = prio + 1 WHERE prio >= 1;";

static const char *const migrations[] = {schema_v1, schema_v2, schema_v3, schema_v4, schema_v5};

static int version_cb(void *ctx, int n, char **vals, char **names)
{
    (void)names;
    if (n == 1 && vals[0])
        *(long *)ctx = strtol(vals[0], NULL, 10);
    return 0;
}

/* The schema version is SQLite's user_version, set in the transaction that
 * creates or migrates the schema. */
int db_schema_create(struct store *st)
{
    char *msg = NULL;
    long version = -1;

    if (sqlite3_exec(st->db, "PRAGMA user_version", version_cb, &version, &msg) != SQLITE_OK)
        goto fail;
    if (version > STORE_SCHEMA_VERSION) {
        log_err("store: database schema %ld is newer than this gateway's %d", version, STORE_SCHEMA_VERSION);
        return -EPROTO;
    }
    /* forward, one version per transaction */
    for (long v = version < 0 ? 0 : version; v < STORE_SCHEMA_VERSION; v++) {
        char bump[64];
        snprintf(bump, sizeof(bump), "PRAGMA user_version = %ld", v + 1);
        if (sqlite3_exec(st->db, "BEGIN", NULL, NULL, &msg) != SQLITE_OK ||
            sqlite3_exec(st->db, migrations[v], NULL, NULL, &msg) != SQLITE_OK ||
            sqlite3_exec(st->db, bump, NULL, NULL, &msg) != SQLITE_OK ||
            sqlite3_exec(st->db, "COMMIT", NULL, NULL, &msg) != SQLITE_OK)
            goto fail;
        if (version > 0)
            log_info("store: database schema migrated to version %ld", v + 1);
    }
    return 0;
fail:
    log_err("store: schema: %s", msg ? msg : sqlite3_errmsg(st->db));
    sqlite3_free(msg);
    sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    return -EIO;
}
