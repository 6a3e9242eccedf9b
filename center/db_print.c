/*
 * The center's listings (db.h): `lifeline-center alarms` and `gateways`,
 * read from the database as text or JSON.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <sqlite3.h>

#include "db_int.h"

static const char *col(sqlite3_stmt *s, int i)
{
    const unsigned char *t = sqlite3_column_text(s, i);
    return t ? (const char *)t : "";
}

static void line_age(struct line *l, long long ms)
{
    long long s = ms / 1000;
    if (s < 0)
        s = 0;
    if (s < 120)
        line_add(l, "%llds", s);
    else if (s < 7200)
        line_add(l, "%lldm", s / 60);
    else if (s < 172800)
        line_add(l, "%lldh%02lldm", s / 3600, s / 60 % 60);
    else
        line_add(l, "%lldd", s / 86400);
}

/* The end of a listing: the JSON array (when arr), or the text for none. */
static int query_end(struct cdb *db, sqlite3_stmt *s, int rc, FILE *out, cJSON *arr, const char *none)
{
    const char *what = sqlite3_sql(s);

    if (rc != SQLITE_DONE) {
        cdb_fail(db, what);
        sqlite3_finalize(s);
        cJSON_Delete(arr);
        return -1;
    }
    sqlite3_finalize(s);
    if (arr) {
        char *t = cJSON_PrintUnformatted(arr);
        fprintf(out, "%s\n", t ? t : "[]");
        free(t);
        cJSON_Delete(arr);
    } else if (none) {
        fprintf(out, "%s\n", none);
    }
    return 0;
}

int cdb_print_alarms(struct cdb *db, FILE *out, bool json, bool color, bool all, long long now_ms)
{
    static const char q[] =
        "SELECT gateway, alarm_id, sensor, lifeline, condition, level, value, unit, quality, raised_ts,"
        " last_ts, acked_seq > reset_seq, acked_by, maintenance, cleared_ts FROM alarms WHERE ?1 OR cleared_ts IS NULL"
        " ORDER BY cleared_ts IS NOT NULL, CASE level WHEN 'red' THEN 0 WHEN 'orange' THEN 1 WHEN 'yellow' THEN 2"
        " WHEN 'blue' THEN 3 ELSE 4 END, raised_ts, gateway, alarm_id";
    sqlite3_stmt *s;
    cJSON *arr = json ? cJSON_CreateArray() : NULL;
    int rc, n = 0;

    if (sqlite3_prepare_v2(db->db, q, -1, &s, NULL) != SQLITE_OK)
        return cdb_fail(db, "alarms");
    sqlite3_bind_int(s, 1, all);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        bool has_value = sqlite3_column_type(s, 6) != SQLITE_NULL, acked = sqlite3_column_int(s, 11);
        long long raised =
            sqlite3_column_type(s, 9) == SQLITE_NULL ? sqlite3_column_int64(s, 10) : sqlite3_column_int64(s, 9);
        n++;
        if (json) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "gateway", col(s, 0));
            cJSON_AddNumberToObject(o, "alarm_id", (double)sqlite3_column_int64(s, 1));
            cJSON_AddStringToObject(o, "sensor", col(s, 2));
            cJSON_AddStringToObject(o, "lifeline", col(s, 3));
            cJSON_AddStringToObject(o, "condition", col(s, 4));
            cJSON_AddStringToObject(o, "level", col(s, 5));
            if (has_value)
                cJSON_AddNumberToObject(o, "value", sqlite3_column_double(s, 6));
            else
                cJSON_AddNullToObject(o, "value");
            cJSON_AddStringToObject(o, "unit", col(s, 7));
            cJSON_AddStringToObject(o, "quality", col(s, 8));
            cJSON_AddNumberToObject(o, "raised_ts", (double)raised);
            cJSON_AddNumberToObject(o, "last_ts", (double)sqlite3_column_int64(s, 10));
            cJSON_AddBoolToObject(o, "acked", acked);
            if (acked)
                cJSON_AddStringToObject(o, "acked_by", col(s, 12));
            cJSON_AddBoolToObject(o, "maintenance", sqlite3_column_int(s, 13));
            if (sqlite3_column_type(s, 14) != SQLITE_NULL)
                cJSON_AddNumberToObject(o, "cleared_ts", (double)sqlite3_column_int64(s, 14));
            cJSON_AddItemToArray(arr, o);
            continue;
        }
        struct line l = {.len = 0};
        char gw[GW_MAX], sensor[96];
        line_tag(&l, col(s, 5), level_color(col(s, 5)), color);
        size_t at = l.len;
        line_age(&l, now_ms - raised);
        line_pad(&l, l.len - at, 7);
        sanitize(gw, sizeof(gw), col(s, 0), strlen(col(s, 0)));
        sanitize(sensor, sizeof(sensor), col(s, 2), strlen(col(s, 2)));
        at = l.len;
        line_add(&l, "%s  %s", gw, sensor);
        if (*col(s, 3))
            line_add(&l, " [%s]", col(s, 3));
        line_pad(&l, l.len - at, 40);
        at = l.len;
        line_add(&l, "%s", col(s, 4));
        line_pad(&l, l.len - at, 10);
        at = l.len;
        if (has_value) {
            line_value(&l, sqlite3_column_double(s, 6));
            if (*col(s, 7))
                line_add(&l, " %s", col(s, 7));
        } else {
            line_add(&l, "no value");
        }
        line_pad(&l, l.len - at, 14);
        line_add(&l, "alarm %lld", sqlite3_column_int64(s, 1));
        if (acked)
            line_add(&l, "  acked%s%s", *col(s, 12) ? " by " : "", col(s, 12));
        if (sqlite3_column_int(s, 13))
            line_add(&l, "  maintenance");
        if (sqlite3_column_type(s, 14) != SQLITE_NULL)
            line_add(&l, "  cleared");
        fprintf(out, "%s\n", l.buf);
    }
    return query_end(db, s, rc, out, arr, n ? NULL : all ? "no alarms" : "no active alarms");
}

int cdb_print_gateways(struct cdb *db, FILE *out, bool json, long long now_ms)
{
    static const char q[] =
        "SELECT gateway, state, version, boot, sensors, outbox, dropped_alarm, dropped_status, dropped_telemetry,"
        " seen_ms, changed_ms, epoch, contiguous, max(max_seq, last_seq), dups, lost,"
        " (SELECT count(*) FROM alarms a WHERE a.gateway = g.gateway AND a.epoch = g.epoch AND cleared_ts IS NULL),"
        " held, conflicts, refused FROM gateways g ORDER BY state = 'online', gateway";
    sqlite3_stmt *s;
    cJSON *arr = json ? cJSON_CreateArray() : NULL;
    int rc, n = 0;

    if (sqlite3_prepare_v2(db->db, q, -1, &s, NULL) != SQLITE_OK)
        return cdb_fail(db, "gateways");
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        long long contiguous = sqlite3_column_int64(s, 12), want = sqlite3_column_int64(s, 13);
        n++;
        if (json) {
            cJSON *o = cJSON_CreateObject(), *d = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "gateway", col(s, 0));
            cJSON_AddStringToObject(o, "state", *col(s, 1) ? col(s, 1) : "unknown");
            cJSON_AddStringToObject(o, "version", col(s, 2));
            cJSON_AddNumberToObject(o, "boot", (double)sqlite3_column_int64(s, 3));
            cJSON_AddNumberToObject(o, "sensors", (double)sqlite3_column_int64(s, 4));
            cJSON_AddNumberToObject(o, "outbox", (double)sqlite3_column_int64(s, 5));
            cJSON_AddNumberToObject(d, "alarm", (double)sqlite3_column_int64(s, 6));
            cJSON_AddNumberToObject(d, "status", (double)sqlite3_column_int64(s, 7));
            cJSON_AddNumberToObject(d, "telemetry", (double)sqlite3_column_int64(s, 8));
            cJSON_AddItemToObject(o, "dropped", d);
            cJSON_AddNumberToObject(o, "seen_ms", (double)sqlite3_column_int64(s, 9));
            cJSON_AddNumberToObject(o, "state_since_ms", (double)sqlite3_column_int64(s, 10));
            cJSON_AddNumberToObject(o, "epoch", (double)sqlite3_column_int64(s, 11));
            cJSON_AddNumberToObject(o, "contiguous_seq", (double)contiguous);
            cJSON_AddNumberToObject(o, "last_seq", (double)want);
            cJSON_AddNumberToObject(o, "missing", (double)(want > contiguous ? want - contiguous : 0));
            cJSON_AddNumberToObject(o, "duplicates", (double)sqlite3_column_int64(s, 14));
            cJSON_AddNumberToObject(o, "lost", (double)sqlite3_column_int64(s, 15));
            cJSON_AddNumberToObject(o, "active_alarms", (double)sqlite3_column_int64(s, 16));
            for (int i = 0; i < 3; i++) /* what serve did not believe or take */
                cJSON_AddNumberToObject(o, (const char *[]){"held", "conflicts", "refused"}[i],
                                        (double)sqlite3_column_int64(s, 17 + i));
            cJSON_AddItemToArray(arr, o);
            continue;
        }
        struct line l = {.len = 0};
        char gw[GW_MAX];
        sanitize(gw, sizeof(gw), col(s, 0), strlen(col(s, 0)));
        size_t at = l.len;
        line_add(&l, "%s", gw);
        line_pad(&l, l.len - at, 28);
        at = l.len;
        line_add(&l, "%s", *col(s, 1) ? col(s, 1) : "unknown");
        line_pad(&l, l.len - at, 9);
        at = l.len;
        line_add(&l, "seen ");
        line_age(&l, now_ms - sqlite3_column_int64(s, 9));
        line_add(&l, " ago");
        line_pad(&l, l.len - at, 16);
        line_add(&l, "v%s boot %lld  alarms %lld  outbox %lld  dropped %lld/%lld/%lld  seq %lld", col(s, 2),
                 sqlite3_column_int64(s, 3), sqlite3_column_int64(s, 16), sqlite3_column_int64(s, 5),
                 sqlite3_column_int64(s, 6), sqlite3_column_int64(s, 7), sqlite3_column_int64(s, 8), contiguous);
        if (want > contiguous)
            line_add(&l, " (%lld missing)", want - contiguous);
        if (sqlite3_column_int64(s, 15))
            line_add(&l, "  lost %lld", sqlite3_column_int64(s, 15));
        for (int i = 0; i < 3; i++)
            if (sqlite3_column_int64(s, 17 + i))
                line_add(&l, "  %s %lld", (const char *[]){"held", "conflicts", "refused"}[i],
                         sqlite3_column_int64(s, 17 + i));
        fprintf(out, "%s\n", l.buf);
    }
    return query_end(db, s, rc, out, arr, n ? NULL : "no gateways yet");
}
