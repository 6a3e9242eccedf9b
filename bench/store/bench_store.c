/* bench_store: the store path's figures.
 *   bench_store insert DIR N BATCH   readings/s through store_add_reading,
 *                                    committed every BATCH, against a raw
 *                                    SQLite loop on the same schema and
 *                                    pragmas; bytes written per reading
 *   bench_store fill DB ALARMS MSGS PER QOS   an outbox of ALARMS alarm events and
 *                                    MSGS telemetry messages of PER readings,
 *                                    for run.sh to drain through lifelined
 * Prints "key value" lines for run.sh. */
#include <stdint.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "payload.h"
#include "store.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* bytes this process passed to write(2) (rchar/wchar: whatever the file
 * system; write_bytes: what reached the block layer) */
static void io_bytes(long long *wchar, long long *write_bytes)
{
    FILE *f = fopen("/proc/self/io", "r");
    char key[64];
    long long v;

    *wchar = *write_bytes = 0;
    while (f && fscanf(f, "%63[^:]: %lld\n", key, &v) == 2) {
        if (strcmp(key, "wchar") == 0)
            *wchar = v;
        else if (strcmp(key, "write_bytes") == 0)
            *write_bytes = v;
    }
    if (f)
        fclose(f);
}

static void count_row(void *ctx, int64_t ts_ms, double value, bool has, enum quality q)
{
    (void)ctx, (void)ts_ms, (void)value, (void)has, (void)q;
}

static int insert_ours(const char *path, long n, long batch)
{
    struct store *st;
    int64_t ids[100];
    long long w0, b0, w1, b1;

    if (store_open(path, &st) < 0)
        return 1;
    for (int i = 0; i < 100; i++) {
        char name[16];
        snprintf(name, sizeof(name), "s%03d", i);
        store_sensor_id(st, name, &ids[i]);
    }
    store_commit(st);
    io_bytes(&w0, &b0);
    double t0 = now_s();
    for (long i = 0; i < n; i++) {
        store_add_reading(st, ids[i % 100], 1764000000000LL + i * 10, 20.0 + (double)(i % 1000) / 100, Q_GOOD);
        if ((i + 1) % batch == 0 && store_commit(st) < 0)
            return 1;
    }
    store_commit(st);
    double t = now_s() - t0;
    io_bytes(&w1, &b1);
    /* a page of history (501 readings) of one of the 100 sensors, from the
     * middle of the table: the time index is scanned for its rows */
    int rows = 0;
    double h0 = now_s();
    for (int k = 0; k < 10; k++)
        rows += store_history(st, ids[7], 1764000000000LL + n * 5, INT64_MAX, 501, count_row, NULL);
    printf("history_page_ms %.2f\nhistory_rows %d\n", (now_s() - h0) * 100, rows / 10);
    store_close(st);
    printf("ours_per_s %.0f\nours_wchar_per_reading %.1f\nours_disk_per_reading %.1f\n", n / t, (double)(w1 - w0) / n,
           (double)(b1 - b0) / n);
    return 0;
}

/* The same rows with plain SQLite: the schema of store_schema.c and the pragmas of store.c, one
 * prepared INSERT, a transaction per batch. */
static int insert_raw(const char *path, long n, long batch)
{
    sqlite3 *db;
    sqlite3_stmt *s;
    long long w0, b0, w1, b1;

    if (sqlite3_open(path, &db) != SQLITE_OK ||
        sqlite3_exec(db,
                     "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA cache_size=-8192;"
                     "CREATE TABLE readings(id INTEGER PRIMARY KEY, sensor INTEGER NOT NULL, ts INTEGER NOT NULL,"
                     " value REAL, quality INTEGER NOT NULL);"
                     "CREATE INDEX readings_ts ON readings(ts);",
                     NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "INSERT INTO readings(sensor, ts, value, quality) VALUES(?1, ?2, ?3, ?4)", -1, &s,
                           NULL) != SQLITE_OK) {
        fprintf(stderr, "raw: %s\n", sqlite3_errmsg(db));
        return 1;
    }
    io_bytes(&w0, &b0);
    double t0 = now_s();
    sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
    for (long i = 0; i < n; i++) {
        sqlite3_bind_int64(s, 1, i % 100 + 1);
        sqlite3_bind_int64(s, 2, 1764000000000LL + i * 10);
        sqlite3_bind_double(s, 3, 20.0 + (double)(i % 1000) / 100);
        sqlite3_bind_int(s, 4, 0);
        sqlite3_step(s);
        sqlite3_reset(s);
        if ((i + 1) % batch == 0) {
            sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
            sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
        }
    }
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    double t = now_s() - t0;
    io_bytes(&w1, &b1);
    sqlite3_finalize(s);
    sqlite3_close(db);
    printf("raw_per_s %.0f\nraw_wchar_per_reading %.1f\nraw_disk_per_reading %.1f\n", n / t, (double)(w1 - w0) / n,
           (double)(b1 - b0) / n);
    return 0;
}

static int fill(const char *path, long alarms, long msgs, int per, int qos)
{
    struct store *st;
    struct telemetry_reading *r = calloc((size_t)per, sizeof(*r));
    size_t cap = (size_t)per * 320 + 64;
    char *buf = malloc(cap), topic[128];
    long bytes = 0, tbytes = 0;

    if (!r || !buf || store_open(path, &st) < 0)
        return 1;
    for (long i = 0; i < alarms; i++) {
        struct alarm_msg m = {.seq = i + 1,
                              .ts_ms = 1764000000000LL + i,
                              .alarm_id = i / 2 + 1,
                              .sensor = "gas-01",
                              .cls = "gas",
                              .lifeline = "gas",
                              .condition = "threshold",
                              .event = i % 2 ? "cleared" : "raised",
                              .level = i % 2 ? "none" : "red",
                              .prev_level = i % 2 ? "red" : "none",
                              .unit = "%LEL",
                              .quality = "good",
                              .value = 52.3,
                              .has_value = true,
                              .threshold = 50,
                              .has_threshold = true};
        int len = payload_alarm(&m, buf, cap);
        store_outbox_add(st, PRIO_ALARM, m.seq, "lifeline/v1/bench/store/alarm", buf, (size_t)len, 1);
        bytes += len;
    }
    snprintf(topic, sizeof(topic), "lifeline/v1/bench/store/telemetry");
    for (long i = 0; i < msgs; i++) {
        for (int k = 0; k < per; k++) {
            static char names[100][16];
            snprintf(names[k % 100], sizeof(names[0]), "level-%02d", k % 100);
            r[k] = (struct telemetry_reading){.sensor = names[k % 100],
                                              .lifeline = "drainage",
                                              .unit = "m",
                                              .quality = "good",
                                              .ts_ms = 1764000000000LL + i * 1000 + k,
                                              .value = 0.123 + k / 1000.0,
                                              .has_value = true};
        }
        int len = payload_telemetry(1764000000000LL + i * 1000, r, (unsigned)per, buf, cap);
        store_outbox_add(st, PRIO_TELEMETRY, 0, topic, buf, (size_t)len, qos);
        bytes += len;
        tbytes += len;
        if (i % 1000 == 999)
            store_commit(st);
    }
    store_commit(st);
    store_close(st);
    printf("fill_messages %ld\nfill_bytes %ld\ntelemetry_message_bytes %.0f\n", alarms + msgs, bytes,
           msgs ? (double)tbytes / (double)msgs : 0.0);
    free(r);
    free(buf);
    return 0;
}

int main(int argc, char **argv)
{
    log_open(LOG_TARGET_STDERR, LOG_WARNING);
    if (argc == 5 && strcmp(argv[1], "insert") == 0) {
        char a[512], b[512];
        snprintf(a, sizeof(a), "%s/ours.db", argv[2]);
        snprintf(b, sizeof(b), "%s/raw.db", argv[2]);
        return insert_raw(b, atol(argv[3]), atol(argv[4])) || insert_ours(a, atol(argv[3]), atol(argv[4]));
    }
    if (argc == 7 && strcmp(argv[1], "fill") == 0)
        return fill(argv[2], atol(argv[3]), atol(argv[4]), atoi(argv[5]), atoi(argv[6]));
    fprintf(stderr, "usage: bench_store insert DIR N BATCH | fill DB ALARMS MSGS PER QOS\n");
    return 2;
}
