/*
 * Per-gateway caps of serve: how many status, event and alarm messages a
 * gateway may send a minute (token buckets, a minute's worth of burst) and
 * how big one may be. Over a cap a message is dropped and counted; the
 * caller logs the count now and then (limit_report).
 *
 * Memory is fixed: a table of LIMIT_SLOTS gateways by hash of the name; a
 * gateway that takes the slot of another starts that slot afresh (a full
 * bucket), so a crowd of names can only make the caps looser, never make
 * one gateway's messages dropped for another's.
 */
#ifndef LIFELINE_CENTER_LIMIT_H
#define LIFELINE_CENTER_LIMIT_H

#include <stdbool.h>
#include <stddef.h>

enum limit_kind {
    LIMIT_STATUS,
    LIMIT_EVENT,
    LIMIT_ALARM,
    LIMIT_KINDS
};

struct limit_opts {
    long per_min[LIMIT_KINDS]; /* messages a minute, each kind */
    size_t max_bytes;          /* a larger message is dropped */
};

struct limiter;

/* NULL when out of memory. limit_free(NULL) is fine. */
struct limiter *limit_new(const struct limit_opts *o);
void limit_free(struct limiter *l);
/* May gw's message of this kind and size be taken now? false: dropped and
 * counted (*too_big says which cap). */
bool limit_take(struct limiter *l, const char *gw, enum limit_kind kind, size_t len, long long now_ms, bool *too_big);
/* gw's drops since the last report, if any and the last report is at least
 * every_ms old: their count (reset), 0 otherwise. */
long limit_report(struct limiter *l, const char *gw, long long now_ms, long long every_ms);

/* Any gateway with drops not yet reported whose report is due: its name in
 * gw (GW_MAX bytes) and the count (reset); 0 when none. */
long limit_due(struct limiter *l, long long now_ms, long long every_ms, char *gw);

#endif
