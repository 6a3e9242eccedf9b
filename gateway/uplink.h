/* uplink: the MQTT session to the monitoring center, on libmosquitto driven
 * from the core loop (mosquitto_socket in epoll, loop_read/write on events,
 * loop_misc once a second; never loop_start). Messages are published from the
 * store's outbox in priority order, at most max_inflight at a time, and a
 * message leaves the outbox only when the broker acknowledges it (PUBACK).
 * Reconnects back off exponentially with jitter. */
#ifndef LIFELINE_UPLINK_H
#define LIFELINE_UPLINK_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "loop.h"
#include "store.h"

struct uplink;

struct uplink_identity {
    uint32_t boot;
    unsigned sensors;
    /* fills names with the sensors in maintenance (at most max); returns how many */
    unsigned (*maintenance)(void *ctx, const char **names, unsigned max);
    void *ctx;
};

/* A command from the center on cmd/NAME: the payload as it came (not
 * NUL-terminated), oversize ones included, for the core to answer. */
typedef void (*uplink_cmd_fn)(void *ctx, const char *name, const char *payload, size_t len);

int uplink_open(struct uplink **out, struct loop *l, const struct config *cfg, struct store *st,
                const struct uplink_identity *id, uplink_cmd_fn on_cmd, void *ctx);
/* Publishes what the outbox holds, up to the in-flight window. Call after
 * the store's commit, once per loop iteration. */
/* Telemetry while the link is up and the outbox is empty: published at
 * once from memory, without a row in the outbox (no SQLite insert, select,
 * delete, and no bytes written for it). Kept in memory until its PUBACK;
 * if the link drops first it goes into the outbox like the rest. false:
 * not sent (down, window full, or the outbox has rows: it must not overtake
 * them); the caller puts it in the outbox. */
bool uplink_send_direct(struct uplink *u, const char *topic, const char *payload, size_t len, int qos);
void uplink_pump(struct uplink *u);
/* Publishes the retained "offline" status, waits (bounded) for its PUBACK
 * and disconnects cleanly. Blocks up to timeout_ms: for shutdown only. */
void uplink_shutdown(struct uplink *u, int timeout_ms);
void uplink_close(struct uplink *u);
/* Publishes the retained status again (something in it changed). */
void uplink_status_changed(struct uplink *u);
struct status_msg;
/* The status document's fields as of now; names: room for max sensor
 * names in maintenance. */
void uplink_status_fill(struct uplink *u, const char *state, struct status_msg *m, const char **names, unsigned max);
bool uplink_is_connected(const struct uplink *u);
struct uplink_info {
    const char *state;    /* disconnected, connecting, connected */
    bool failing;         /* connecting fails (since the last success) */
    int64_t since_ms;     /* wall clock: in this state since (0: never changed) */
    int64_t backoff_ms;   /* the next reconnect waits up to this */
    int inflight;         /* QoS 1 messages not yet acknowledged */
    char last_error[256]; /* why the last connection failed or ended; empty: none */
};
void uplink_info(const struct uplink *u, struct uplink_info *out);
/* Drops the connection (if any) and connects again at once, back-off reset. */
void uplink_reconnect(struct uplink *u);
/* The topic for a message kind under lifeline/v1/{site}/{gateway}/. */
int uplink_topic(const struct config *cfg, const char *kind, char *buf, size_t len);

#endif
