/*
 * The center's database (SQLite): every alarm event once, the alarms'
 * state built from them, each gateway's status, liveness and sequence
 * bookkeeping, and the commands serve sent and their answers.
 * docs/center.md describes the tables.
 *
 * Sequence bookkeeping per gateway: `contiguous` is the seq up to which
 * every event is stored (or known lost); `max_seq` the highest stored;
 * `last_seq` the highest the gateway says it handed out (cmd/status). A gap
 * is contiguous < max(max_seq, last_seq). A gateway whose database was
 * reset starts its seq at 1 again: a new `epoch` of it, seen by a seq
 * stored with other bytes or an online status with a lower boot.
 *
 * Not thread-safe: the caller serialises (serve holds one mutex).
 */
#ifndef LIFELINE_CENTER_DB_H
#define LIFELINE_CENTER_DB_H

#include <stdbool.h>
#include <stddef.h>

#include "center.h"

#define GW_MAX 160 /* "site/gateway" */

struct cdb;

/* Opens (and makes) the database; busy_timeout lets several serve
 * processes on one host share it. 0, or -1 (said on stderr). */
int cdb_open(const char *path, bool readonly, struct cdb **out);
void cdb_close(struct cdb *db);
int cdb_begin(struct cdb *db);
int cdb_commit(struct cdb *db);
void cdb_rollback(struct cdb *db);

enum ev_result {
    EV_ERROR = -1,
    EV_NEW,
    EV_DUP,
    EV_NEW_EPOCH
};

/* An alarm event from gateway gw (site/id): stored unless it is a
 * duplicate (same seq, same bytes); a same seq with other bytes means the
 * gateway's seq started again (its database was reset): a new epoch. */
enum ev_result cdb_alarm_event(struct cdb *db, const char *gw, const struct alarm_ev *a, const char *payload,
                               size_t len, long long now_ms);

struct gw_status {
    char state[16], version[32], config[24];
    long long boot, sensors, ts, outbox, dropped[3];
    bool has_boot;
};
/* A status message; true in *came_online when the gateway is now online
 * and was not (or is new). An online status with a boot number lower than
 * the last one means a new database: a new epoch. */
int cdb_status(struct cdb *db, const char *gw, const struct gw_status *s, const char *payload, size_t len,
               long long now_ms, bool *came_online);
/* An `event` message (action, console, store_reset). */
int cdb_gateway_event(struct cdb *db, const char *gw, const char *type, long long ts, const char *payload, size_t len,
                      long long now_ms);
/* The gateway's last handed-out seq (cmd/status, whose status has boot;
 * -1 unknown). Only raises what is known: the answer may be older than
 * events that overtook it. An answer of another boot is ignored. */
int cdb_last_seq(struct cdb *db, const char *gw, long long last_seq, long long boot, long long now_ms);

/* ---- commands serve sends (requests) ---- */

/* A gap that wants a replay now: the first missing range of a gateway
 * whose gap is older than wait_ms, with no request in flight for it
 * (answered, or sent more than retry_ms ago). 1 found, 0 none, -1 error. */
int cdb_next_gap(struct cdb *db, long long now_ms, long long wait_ms, long long retry_ms, char *gw, long long *from,
                 long long *to);
int cdb_request_add(struct cdb *db, const char *id, const char *gw, const char *kind, long long from, long long to,
                    long long now_ms);
/* A reply to one of ours: 1 it was ours (and is now answered), 0 not ours. */
int cdb_request_done(struct cdb *db, const char *id, bool ok, long long count, const char *error, long long now_ms);
/* Replays answered more than grace_ms ago with fewer events than asked:
 * the seqs of their range still missing are gone from the gateway; they are
 * recorded as lost so the gap closes. Returns how many were marked. */
long long cdb_settle_lost(struct cdb *db, long long now_ms, long long grace_ms);

/* The gateways last known online (malloc'd array in *out). */
int cdb_online(struct cdb *db, char (**out)[GW_MAX], size_t *n);

/* ---- queries ---- */

int cdb_print_alarms(struct cdb *db, FILE *out, bool json, bool color, bool all, long long now_ms);
int cdb_print_gateways(struct cdb *db, FILE *out, bool json, long long now_ms);

#endif
