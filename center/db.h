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
 * reset starts its seq at 1 again: a new `epoch` of it, started only when
 * the gateway's own cmd/status answer shows it (a lower boot).
 *
 * Nothing a gateway says is taken beyond what it confirms: an event far
 * beyond the stored and the confirmed seq is held aside (and cmd/status
 * asked), a known seq with other bytes is a conflict, replays are asked
 * only up to the confirmed last seq, lost seqs are bounded.
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

/* What one gateway may make the center do (serve's options, docs/center.md). */
struct cdb_limits {
    long long seq_ahead; /* an event further beyond contiguous and the confirmed last seq is held */
    long long lost_max;  /* lost seqs per gateway and epoch, at most */
    long long held_max;  /* held and conflicting events kept per gateway, each */
    long long keep_ms;   /* status_log, gateway_events, held, conflicts: kept this long */
    long long keep_rows; /* ... and at most this many rows each */
};
void cdb_set_limits(struct cdb *db, const struct cdb_limits *lim);

enum ev_result {
    EV_ERROR = -1,
    EV_NEW,
    EV_DUP,
    EV_HELD,    /* beyond what is confirmed: kept aside, not applied; ask cmd/status */
    EV_CONFLICT /* a stored seq with other bytes: kept aside, not applied; ask cmd/status */
};

/* An alarm event from gateway gw (site/id): stored and applied to its
 * alarm unless it is a duplicate (same seq, same bytes), a conflict (same
 * seq, other bytes) or held (seq too far ahead). */
enum ev_result cdb_alarm_event(struct cdb *db, const char *gw, const struct alarm_ev *a, const char *payload,
                               size_t len, long long now_ms);

struct gw_status {
    char state[16], version[32], config[24];
    long long boot, sensors, ts, outbox, dropped[3];
    bool has_boot;
};
/* A status message; true in *came_online when the gateway is now online
 * and was not (or is new). Its boot is shown, not believed: no epoch. */
int cdb_status(struct cdb *db, const char *gw, const struct gw_status *s, const char *payload, size_t len,
               long long now_ms, bool *came_online);
/* An `event` message (action, console, store_reset). */
int cdb_gateway_event(struct cdb *db, const char *gw, const char *type, long long ts, const char *payload, size_t len,
                      long long now_ms);
/* The gateway's own answer to our cmd/status (sent at sent_ms): its boot
 * (-1 unknown) and last handed-out seq. A lower boot than the last
 * confirmed one (or another boot with a last seq below what is stored)
 * starts a new epoch (1 returned); otherwise it only raises last_seq (the
 * answer may be older than events that overtook it). An answer to a
 * request older than the one last confirmed is ignored. */
int cdb_confirm(struct cdb *db, const char *gw, long long last_seq, long long boot, long long sent_ms,
                long long now_ms);
/* A gateway that wants a cmd/status now: events of it beyond its
 * confirmed last seq (stored or held) older than wait_ms, and no status
 * asked of it for wait_ms. 1 found (in gw), 0 none, -1 error. */
int cdb_next_unconfirmed(struct cdb *db, long long now_ms, long long wait_ms, char *gw);
/* No cmd/status sent to gw within the last interval_ms? 1 yes, 0 no, -1 error. */
int cdb_status_due(struct cdb *db, const char *gw, long long now_ms, long long interval_ms);
/* n messages of gw dropped over serve's caps (counted in gateways.refused). */
int cdb_refused(struct cdb *db, const char *gw, long long n);
/* Trims status_log, gateway_events, held and conflicts by age and size, a
 * bounded batch per call. Rows deleted, or -1. */
long long cdb_trim(struct cdb *db, long long now_ms);

/* ---- commands serve sends (requests) ---- */

/* A gap that wants a replay now: the first missing range, up to the
 * confirmed last seq, of a gateway whose gap is older than wait_ms, with no request in flight for it
 * (answered, or sent more than retry_ms ago). 1 found, 0 none, -1 error. */
int cdb_next_gap(struct cdb *db, long long now_ms, long long wait_ms, long long retry_ms, char *gw, long long *from,
                 long long *to);
int cdb_request_add(struct cdb *db, const char *id, const char *gw, const char *kind, long long from, long long to,
                    long long now_ms);
/* A reply from gw to one of ours (sent to gw): 1 it was (and is now
 * answered; *sent_ms when it was sent), 0 not ours. */
int cdb_request_done(struct cdb *db, const char *id, const char *gw, bool ok, long long count, const char *error,
                     long long now_ms, long long *sent_ms);
/* Replays answered more than grace_ms ago with fewer events than asked:
 * the seqs of their range still missing are gone from the gateway; they are
 * recorded as lost so the gap closes, up to lost_max per gateway and epoch
 * (past it no replay is asked). Returns how many were marked. */
long long cdb_settle_lost(struct cdb *db, long long now_ms, long long grace_ms);

/* The gateways last known online (malloc'd array in *out). */
int cdb_online(struct cdb *db, char (**out)[GW_MAX], size_t *n);

/* ---- queries ---- */

int cdb_print_alarms(struct cdb *db, FILE *out, bool json, bool color, bool all, long long now_ms);
int cdb_print_gateways(struct cdb *db, FILE *out, bool json, long long now_ms);

#endif
