#include "uplink.h"

#include <errno.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "log.h"
#include "payload.h"

enum conn_state {
    UP_IDLE,
    UP_CONNECTING,
    UP_CONNECTED
};

struct inflight {
    int mid;
    int64_t outbox_id; /* 0: sent directly (uplink_send_direct): copy holds it */
    enum outbox_prio prio;
    char *copy; /* topic, NUL, payload */
    size_t len;
    int qos;
};

struct uplink {
    struct loop *loop;
    const struct config *cfg;
    struct store *store;
    struct uplink_identity ident;
    struct mosquitto *mosq;
    enum conn_state state;
    struct loop_fd sock;
    struct loop_timer retry;
    struct loop_timer misc;
    int64_t backoff_ms;
    int64_t connect_started_ms;
    uint32_t rng;
    char status_topic[256];
    char cmd_filter[256];
    size_t cmd_prefix_len; /* of lifeline/v1/{site}/{id}/cmd/ */
    uplink_cmd_fn on_cmd;
    void *cmd_ctx;
    struct inflight *inflight;
    int n_inflight;
    int pumped; /* published in this uplink_pump */
    int shutdown_mid;
    bool shutdown_acked;
    bool used;            /* the client has connected before: reset it before the next try */
    bool failing;         /* connecting fails: said once, until it works again */
    bool closing;         /* uplink_shutdown: no reconnect, no log line for the disconnect */
    bool tls_waited;      /* a TLS failure came without its reason once already */
    int64_t dropped_told; /* drops counted in the last status built */
    int64_t status_ms;    /* when the last online status was published */
    char lib_err[200];    /* libmosquitto's last error line (the TLS reason, say) */
    char last_error[256]; /* why the last connection failed or ended */
    int64_t state_ms;     /* wall clock: since when in this state */
    int64_t retained_ms;  /* when a retained command was last logged */
    int64_t retained_n;   /* retained commands dropped, ever */
    char client_id[CFG_NAME_MAX * 2 + 2];
};

int uplink_topic(const struct config *cfg, const char *kind, char *buf, size_t len)
{
    int n = snprintf(buf, len, "lifeline/v1/%s/%s/%s", cfg->gateway.site, cfg->gateway.id, kind);
    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static const char *mosq_error(int rc)
{
    return rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc);
}

#define STATUS_MAX 4096
/* MQTT 5: the largest packet the broker may send us, announced in CONNECT.
 * libmosquitto allocates a whole packet before any check of ours, so a
 * 64 MiB command took 64 MiB; the broker drops what is larger than this
 * instead. The largest legitimate packet is a command: 4096 bytes of
 * payload, a topic of at most ~300 and the header (docs/mqtt.md). */
#define PACKET_MAX (64 * 1024)
#define PUMP_MAX 64 /* messages published per loop iteration, at most */
#define STATUS_MAINT_MAX 64

void uplink_status_fill(struct uplink *u, const char *state, struct status_msg *m, const char **names, unsigned max)
{
    struct outbox_stats ob;

    *m = (struct status_msg){.state = state,
                             .version = LIFELINE_VERSION,
                             .boot = u->ident.boot,
                             .sensors = u->ident.sensors,
                             .ts_ms = loop_wallclock_ms(),
                             .maintenance = names,
                             .config = u->cfg->hash};
    store_outbox_stats(u->store, &ob);
    m->outbox = ob.rows[PRIO_ALARM] + ob.rows[PRIO_REPLAY] + ob.rows[PRIO_STATUS] + ob.rows[PRIO_TELEMETRY];
    /* a replayed event dropped is not news: it can be asked for again */
    m->dropped[0] = ob.dropped[PRIO_ALARM];
    m->dropped[1] = ob.dropped[PRIO_STATUS];
    m->dropped[2] = ob.dropped[PRIO_TELEMETRY];
    if (u->ident.maintenance)
        m->n_maintenance = u->ident.maintenance(u->ident.ctx, names, max);
}

bool uplink_is_connected(const struct uplink *u)
{
    return u && u->state == UP_CONNECTED;
}

static int status_payload(struct uplink *u, const char *state, char *buf, size_t len)
{
    const char *names[STATUS_MAINT_MAX];
    struct status_msg m;

    uplink_status_fill(u, state, &m, names, STATUS_MAINT_MAX);
    u->dropped_told = m.dropped[0] + m.dropped[1] + m.dropped[2];
    return payload_status(&m, buf, len);
}

static void publish_status(struct uplink *u, const char *state)
{
    char buf[STATUS_MAX];
    int len = status_payload(u, state, buf, sizeof(buf)), rc;

    if (len <= 0)
        return;
    u->status_ms = loop_clock_ms();
    rc = mosquitto_publish(u->mosq, NULL, u->status_topic, len, buf, 1, true);
    if (rc != MOSQ_ERR_SUCCESS)
        log_warn("uplink: publish status: %s", mosq_error(rc));
}

void uplink_status_changed(struct uplink *u)
{
    if (u && u->state == UP_CONNECTED)
        publish_status(u, "online");
}

static void update_events(struct uplink *u)
{
    if (!u->sock.registered)
        return;
    loop_fd_set_events(u->loop, &u->sock, EPOLLIN | (mosquitto_want_write(u->mosq) ? EPOLLOUT : 0));
}

static void schedule_retry(struct uplink *u)
{
    int64_t d = u->backoff_ms;

    /* Full jitter in [d/2, d]: a thousand gateways losing one broker must
     * not come back in lock step. */
    u->rng ^= u->rng << 13;
    u->rng ^= u->rng >> 17;
    u->rng ^= u->rng << 5;
    d = d / 2 + (int64_t)(u->rng % (uint32_t)(d / 2 + 1));
    if (loop_timer_set(&u->retry, d, 0) < 0)
        log_err("uplink: cannot arm the reconnect timer: the uplink stays down");
    u->backoff_ms *= 2;
    if (u->backoff_ms > u->cfg->mqtt.reconnect_max_ms)
        u->backoff_ms = u->cfg->mqtt.reconnect_max_ms;
}

/* Messages sent directly and not acknowledged go to the outbox, to be sent
 * again after the reconnect like the rest. */
static void requeue_direct(struct uplink *u)
{
    for (int i = 0; i < u->n_inflight; i++) {
        struct inflight *f = &u->inflight[i];
        if (!f->copy)
            continue;
        size_t tlen = strlen(f->copy);
        store_outbox_add(u->store, f->prio, 0, f->copy, f->copy + tlen + 1, f->len, f->qos);
        free(f->copy);
        f->copy = NULL;
    }
}

static void drop_socket(struct uplink *u)
{
    loop_fd_del(u->loop, &u->sock);
    requeue_direct(u);
    u->n_inflight = 0; /* the outbox still has them: resent after reconnect */
}

static void on_connect(struct mosquitto *m, void *ctx, int rc)
{
    struct uplink *u = ctx;

    if (rc != 0) {
        if (!u->failing)
            log_warn("uplink: broker refused the connection: %s",
                     u->cfg->mqtt.protocol == MQTT_5 ? mosquitto_reason_string(rc) : mosquitto_connack_string(rc));
        snprintf(u->last_error, sizeof(u->last_error), "broker refused: %s",
                 u->cfg->mqtt.protocol == MQTT_5 ? mosquitto_reason_string(rc) : mosquitto_connack_string(rc));
        u->failing = true;
        mosquitto_disconnect(m);
        return;
    }
    u->state = UP_CONNECTED;
    u->state_ms = loop_wallclock_ms();
    u->failing = u->tls_waited = false;
    u->backoff_ms = u->cfg->mqtt.reconnect_min_ms;
    log_info("uplink: connected to %s:%u", u->cfg->mqtt.host, u->cfg->mqtt.port);
    publish_status(u, "online");
    /* clean session: the subscription is made again on every connect */
    rc = mosquitto_subscribe(m, NULL, u->cmd_filter, 1);
    if (rc != MOSQ_ERR_SUCCESS)
        log_warn("uplink: subscribe %s: %s", u->cmd_filter, mosq_error(rc));
}

static void on_message(struct mosquitto *m, void *ctx, const struct mosquitto_message *msg)
{
    struct uplink *u = ctx;

    (void)m;
    if (!msg->topic || strlen(msg->topic) <= u->cmd_prefix_len || !u->on_cmd)
        return;
    /* A command is never kept (docs/mqtt.md): a retained one would be
     * carried out again on every connect (a retained reboot, a reboot
     * loop). Dropped unanswered; logged at most once a minute. */
    if (msg->retain) {
        u->retained_n++;
        if (!u->retained_ms || loop_clock_ms() - u->retained_ms >= 60000) {
            u->retained_ms = loop_clock_ms();
            log_warn("uplink: retained command on cmd/%.40s ignored (%lld so far): clear it on the broker",
                     msg->topic + u->cmd_prefix_len, (long long)u->retained_n);
        }
        return;
    }
    u->on_cmd(u->cmd_ctx, msg->topic + u->cmd_prefix_len, msg->payload ? msg->payload : "",
              msg->payloadlen > 0 ? (size_t)msg->payloadlen : 0);
}

static void conn_lost(struct uplink *u, int rc)
{
    if (u->closing)
        return;
    /* a TLS failure's reason sometimes reaches the log callback after the
     * failure itself: the first one without it waits for the next try */
    bool reasonless = rc == MOSQ_ERR_TLS && !u->lib_err[0] && !u->tls_waited;
    if (u->state == UP_CONNECTED)
        log_warn("uplink: disconnected: %s, reconnecting", rc ? mosq_error(rc) : "by request");
    else if (!u->failing && !reasonless)
        log_warn("uplink: cannot connect to %s:%u: %s%s%s%s; retrying", u->cfg->mqtt.host, u->cfg->mqtt.port,
                 mosq_error(rc), u->lib_err[0] ? " (" : "", u->lib_err, u->lib_err[0] ? ")" : "");
    if (reasonless)
        u->tls_waited = true;
    else if (u->state != UP_CONNECTED)
        u->failing = true;
    snprintf(u->last_error, sizeof(u->last_error), "%s%s%s%s", rc ? mosq_error(rc) : "disconnected by request",
             u->lib_err[0] ? " (" : "", u->lib_err, u->lib_err[0] ? ")" : "");
    u->state_ms = loop_wallclock_ms();
    u->state = UP_IDLE;
    drop_socket(u);
    schedule_retry(u);
}

static void on_disconnect(struct mosquitto *m, void *ctx, int rc)
{
    (void)m;
    conn_lost(ctx, rc);
}

static void on_publish(struct mosquitto *m, void *ctx, int mid)
{
    struct uplink *u = ctx;

    (void)m;
    if (mid == u->shutdown_mid)
        u->shutdown_acked = true;
    for (int i = 0; i < u->n_inflight; i++) {
        if (u->inflight[i].mid != mid)
            continue;
        if (u->inflight[i].outbox_id)
            store_outbox_delete(u->store, u->inflight[i].outbox_id);
        free(u->inflight[i].copy);
        u->inflight[i] = u->inflight[--u->n_inflight];
        return;
    }
}

static void on_socket(struct loop *l, struct loop_fd *f, uint32_t events)
{
    struct uplink *u = container_of(f, struct uplink, sock);
    int rc = MOSQ_ERR_SUCCESS;

    (void)l;
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
        rc = mosquitto_loop_read(u->mosq, 16);
    /* A failed read closed the socket and ran on_disconnect already. */
    if (rc == MOSQ_ERR_SUCCESS && (events & EPOLLOUT) && u->sock.registered)
        rc = mosquitto_loop_write(u->mosq, 16);
    if (rc == MOSQ_ERR_SUCCESS)
        update_events(u);
    else if (u->state != UP_IDLE)
        conn_lost(u, rc); /* a failed TLS handshake closes the socket without on_disconnect */
}

/* libmosquitto's own error lines say why a TLS handshake failed. */
static void on_log(struct mosquitto *m, void *ctx, int level, const char *str)
{
    struct uplink *u = ctx;

    (void)m;
    if (level & (MOSQ_LOG_ERR | MOSQ_LOG_WARNING))
        snprintf(u->lib_err, sizeof(u->lib_err), "%s", str);
}

/* The CONNECT properties (MQTT 5): the maximum packet size. libmosquitto
 * 2.0 has no asynchronous connect that takes properties; its
 * mosquitto_connect_bind_v5 keeps them in the client for every later
 * (re)connect, then connects, blocking. Without a host it stops after
 * keeping them (MOSQ_ERR_INVAL), and mosquitto_connect_async sends them. */
static int connect_properties(struct uplink *u)
{
    mosquitto_property *props = NULL;
    int rc = mosquitto_property_add_int32(&props, MQTT_PROP_MAXIMUM_PACKET_SIZE, PACKET_MAX);

    if (rc == MOSQ_ERR_SUCCESS) {
        rc = mosquitto_connect_bind_v5(u->mosq, NULL, u->cfg->mqtt.port, u->cfg->mqtt.keepalive_s, NULL, props);
        if (rc == MOSQ_ERR_INVAL)
            rc = MOSQ_ERR_SUCCESS;
    }
    mosquitto_property_free_all(&props);
    if (rc != MOSQ_ERR_SUCCESS) {
        log_err("uplink: MQTT 5 connect properties: %s", mosq_error(rc));
        return -EINVAL;
    }
    return 0;
}

/* Protocol, credentials and TLS, on a new or reset client. The broker's
 * certificate must be signed by tls_ca and name the host we connect to
 * (libmosquitto checks the subject alternative names, IP addresses too). */
static int client_setup(struct uplink *u)
{
    const struct cfg_mqtt *mc = &u->cfg->mqtt;
    int rc;

    mosquitto_int_option(u->mosq, MOSQ_OPT_PROTOCOL_VERSION,
                         mc->protocol == MQTT_5 ? MQTT_PROTOCOL_V5 : MQTT_PROTOCOL_V311);
    mosquitto_max_inflight_messages_set(u->mosq, (unsigned)mc->max_inflight);
    /* an alarm goes out when it is made, not when the previous segment's
     * ACK comes back (Nagle) */
    mosquitto_int_option(u->mosq, MOSQ_OPT_TCP_NODELAY, 1);
    mosquitto_connect_callback_set(u->mosq, on_connect);
    mosquitto_disconnect_callback_set(u->mosq, on_disconnect);
    mosquitto_publish_callback_set(u->mosq, on_publish);
    mosquitto_message_callback_set(u->mosq, on_message);
    mosquitto_log_callback_set(u->mosq, on_log);
    if (mc->protocol == MQTT_5 && connect_properties(u) < 0)
        return -EINVAL;
    if (mc->username[0]) {
        rc = mosquitto_username_pw_set(u->mosq, mc->username, mc->password[0] ? mc->password : NULL);
        if (rc != MOSQ_ERR_SUCCESS) {
            log_err("uplink: username: %s", mosq_error(rc));
            return -EINVAL;
        }
    }
    if (!mc->tls_ca[0])
        return 0;
    rc = mosquitto_tls_set(u->mosq, mc->tls_ca_is_dir ? NULL : mc->tls_ca, mc->tls_ca_is_dir ? mc->tls_ca : NULL,
                           mc->tls_cert[0] ? mc->tls_cert : NULL, mc->tls_key[0] ? mc->tls_key : NULL, NULL);
    if (rc == MOSQ_ERR_SUCCESS)
        rc = mosquitto_tls_opts_set(u->mosq, 1 /* SSL_VERIFY_PEER */, mc->tls_min == TLS_MIN_13 ? "tlsv1.3" : "tlsv1.2",
                                    NULL);
    if (rc == MOSQ_ERR_SUCCESS)
        rc = mosquitto_tls_insecure_set(u->mosq, false);
    if (rc != MOSQ_ERR_SUCCESS) {
        log_err("uplink: TLS setup (tls_ca %s, tls_cert %s): %s", mc->tls_ca, mc->tls_cert[0] ? mc->tls_cert : "none",
                mosq_error(rc));
        return -EINVAL;
    }
    return 0;
}

static void connect_now(struct uplink *u)
{
    const struct cfg_mqtt *mc = &u->cfg->mqtt;
    char will[STATUS_MAX];
    int len = status_payload(u, "offline", will, sizeof(will)), rc;

    /* libmosquitto would resend its own queue of unacknowledged messages
     * after a reconnect, and so would we from the outbox: start from a
     * fresh client so the outbox alone decides what is sent. */
    if (u->used) {
        rc = mosquitto_reinitialise(u->mosq, u->client_id, true, u);
        if (rc != MOSQ_ERR_SUCCESS) {
            log_err("uplink: reset client: %s", mosq_error(rc));
            schedule_retry(u);
            return;
        }
        if (client_setup(u) < 0) {
            schedule_retry(u);
            return;
        }
    }
    u->used = true;
    u->lib_err[0] = '\0'; /* this try's reason, not an old one */
    rc = mosquitto_will_set(u->mosq, u->status_topic, len > 0 ? len : 0, will, 1, true);
    if (rc == MOSQ_ERR_SUCCESS)
        rc = mosquitto_connect_async(u->mosq, mc->host, mc->port, mc->keepalive_s);
    if (rc != MOSQ_ERR_SUCCESS) {
        if (!u->failing)
            log_warn("uplink: cannot connect to %s:%u: %s%s%s%s; retrying", mc->host, mc->port, mosq_error(rc),
                     u->lib_err[0] ? " (" : "", u->lib_err, u->lib_err[0] ? ")" : "");
        u->failing = true;
        schedule_retry(u);
        return;
    }
    u->state = UP_CONNECTING;
    u->connect_started_ms = loop_clock_ms();
    u->sock = (struct loop_fd){.fd = mosquitto_socket(u->mosq), .events = EPOLLIN | EPOLLOUT, .cb = on_socket};
    if (loop_fd_add(u->loop, &u->sock) < 0) {
        u->state = UP_IDLE;
        schedule_retry(u);
    }
}

static void on_retry(struct loop *l, struct loop_timer *t)
{
    (void)l;
    connect_now(container_of(t, struct uplink, retry));
}

static void on_misc(struct loop *l, struct loop_timer *t)
{
    struct uplink *u = container_of(t, struct uplink, misc);

    (void)l;
    /* libmosquitto has no timeout for a TCP connect that is never answered. */
    if (u->state == UP_CONNECTING &&
        loop_clock_ms() - u->connect_started_ms > (int64_t)u->cfg->mqtt.keepalive_s * 1000) {
        log_debug("uplink: connect to %s:%u timed out", u->cfg->mqtt.host, u->cfg->mqtt.port);
        /* the next attempt's mosquitto_reinitialise closes the socket */
        drop_socket(u);
        u->state = UP_IDLE;
        schedule_retry(u);
        return;
    }
    /* drops are news for the center: told within a minute */
    if (u->state == UP_CONNECTED && loop_clock_ms() - u->status_ms >= 60000) {
        struct outbox_stats ob;
        store_outbox_stats(u->store, &ob);
        if (ob.dropped[PRIO_ALARM] + ob.dropped[PRIO_STATUS] + ob.dropped[PRIO_TELEMETRY] != u->dropped_told)
            publish_status(u, "online");
    }
    if (u->state != UP_IDLE) {
        mosquitto_loop_misc(u->mosq); /* keepalive; may disconnect */
        update_events(u);
    }
}

static bool is_inflight(const struct uplink *u, int64_t id)
{
    for (int i = 0; i < u->n_inflight; i++)
        if (u->inflight[i].outbox_id == id)
            return true;
    return false;
}

/* Whether a message of a more urgent priority is still unacknowledged. */
static bool more_urgent_inflight(const struct uplink *u, enum outbox_prio prio)
{
    for (int i = 0; i < u->n_inflight; i++)
        if (u->inflight[i].prio < prio)
            return true;
    return false;
}

static bool publish_one(void *ctx, const struct outbox_msg *m)
{
    struct uplink *u = ctx;
    int mid, rc;

    /* QoS 1: at most the window; QoS 0: while the socket takes them (what
     * waits in libmosquitto's queue is lost with the connection) */
    if (u->n_inflight >= u->cfg->mqtt.max_inflight || u->pumped >= PUMP_MAX || mosquitto_want_write(u->mosq))
        return false;
    if (is_inflight(u, m->id))
        return true;
    /* no telemetry while an alarm event is unacknowledged: if it has to be
     * sent again, it still goes before the telemetry */
    if (more_urgent_inflight(u, m->prio))
        return false;
    u->pumped++;
    rc = mosquitto_publish(u->mosq, &mid, m->topic, (int)m->len, m->payload, m->qos, false);
    if (rc != MOSQ_ERR_SUCCESS) {
        log_warn("uplink: publish seq %lld: %s", (long long)m->seq, mosq_error(rc));
        return false;
    }
    /* QoS 0 has no PUBACK (and on_publish may already have run inside
     * mosquitto_publish): handed over is as delivered as it gets. */
    if (m->qos == 0) {
        store_outbox_delete(u->store, m->id);
        return true;
    }
    u->inflight[u->n_inflight++] = (struct inflight){.mid = mid, .outbox_id = m->id, .prio = m->prio, .qos = m->qos};
    return true;
}

bool uplink_send_direct(struct uplink *u, const char *topic, const char *payload, size_t len, int qos)
{
    struct outbox_stats ob;
    int mid;

    if (!u || u->state != UP_CONNECTED || u->n_inflight >= u->cfg->mqtt.max_inflight || mosquitto_want_write(u->mosq) ||
        more_urgent_inflight(u, PRIO_TELEMETRY))
        return false;
    /* nothing overtakes the outbox: with any row in it, this goes there too */
    store_outbox_stats(u->store, &ob);
    if (ob.rows[PRIO_ALARM] || ob.rows[PRIO_REPLAY] || ob.rows[PRIO_STATUS] || ob.rows[PRIO_TELEMETRY])
        return false;
    size_t tlen = strlen(topic);
    char *copy = qos ? malloc(tlen + 1 + len) : NULL;
    if (qos && !copy)
        return false;
    if (mosquitto_publish(u->mosq, &mid, topic, (int)len, payload, qos, false) != MOSQ_ERR_SUCCESS) {
        free(copy);
        return false;
    }
    if (!qos)
        return true;
    memcpy(copy, topic, tlen + 1);
    memcpy(copy + tlen + 1, payload, len);
    u->inflight[u->n_inflight++] =
        (struct inflight){.mid = mid, .prio = PRIO_TELEMETRY, .copy = copy, .len = len, .qos = qos};
    update_events(u);
    return true;
}

void uplink_pump(struct uplink *u)
{
    if (!u)
        return;
    if (u->state == UP_CONNECTED && u->n_inflight < u->cfg->mqtt.max_inflight) {
        u->pumped = 0;
        store_outbox_each(u->store, u->n_inflight + PUMP_MAX, publish_one, u);
        /* a full batch: there may be more, and nothing else would wake us
         * for QoS 0 messages (a PUBACK or EPOLLOUT does for the rest) */
        if (u->pumped == PUMP_MAX)
            loop_again(u->loop);
    }
    update_events(u);
}

int uplink_open(struct uplink **out, struct loop *l, const struct config *cfg, struct store *st,
                const struct uplink_identity *id, uplink_cmd_fn on_cmd, void *ctx)
{
    struct uplink *u = calloc(1, sizeof(*u));
    if (!u)
        return -ENOMEM;
    u->loop = l;
    u->cfg = cfg;
    u->store = st;
    u->ident = *id;
    u->sock.fd = -1;
    u->retry.f.fd = u->misc.f.fd = -1;
    u->shutdown_mid = -1;
    u->backoff_ms = cfg->mqtt.reconnect_min_ms;
    u->rng = (uint32_t)loop_wallclock_ms() ^ ((uint32_t)getpid() << 16) ^ 0x9e3779b9u;
    u->inflight = calloc((size_t)cfg->mqtt.max_inflight, sizeof(*u->inflight));
    /* "/" is in neither name: no two gateways share a client id (with "."
     * as the separator, site "a.b" and id "c" met site "a" and id "b.c") */
    snprintf(u->client_id, sizeof(u->client_id), "%s/%s", cfg->gateway.site, cfg->gateway.id);
    u->on_cmd = on_cmd;
    u->cmd_ctx = ctx;
    if (!u->inflight || uplink_topic(cfg, "status", u->status_topic, sizeof(u->status_topic)) < 0 ||
        uplink_topic(cfg, "cmd/+", u->cmd_filter, sizeof(u->cmd_filter)) < 0)
        goto fail;
    u->cmd_prefix_len = strlen(u->cmd_filter) - 1;
    u->mosq = mosquitto_new(u->client_id, true, u);
    if (!u->mosq) {
        log_err("uplink: mosquitto_new: %s", strerror(errno));
        goto fail;
    }
    if (client_setup(u) < 0)
        goto fail;
    if (loop_timer_add(l, &u->retry, on_retry) < 0 || loop_timer_add(l, &u->misc, on_misc) < 0 ||
        loop_timer_set(&u->misc, 1000, 1000) < 0)
        goto fail;
    connect_now(u);
    *out = u;
    return 0;
fail:
    uplink_close(u);
    return -ENOMEM;
}

void uplink_shutdown(struct uplink *u, int timeout_ms)
{
    char buf[STATUS_MAX];
    int len, rc;

    if (u->state != UP_CONNECTED)
        return;
    len = status_payload(u, "offline", buf, sizeof(buf));
    rc = mosquitto_publish(u->mosq, &u->shutdown_mid, u->status_topic, len > 0 ? len : 0, buf, 1, true);
    if (rc != MOSQ_ERR_SUCCESS) {
        log_warn("uplink: publish offline status: %s", mosq_error(rc));
        return;
    }
    /* Bounded wait for the PUBACK, outside the event loop: we are stopping. */
    int64_t deadline = loop_clock_ms() + timeout_ms;
    while (!u->shutdown_acked && u->state == UP_CONNECTED) {
        int64_t left = deadline - loop_clock_ms();
        if (left <= 0)
            break;
        struct pollfd p = {.fd = mosquitto_socket(u->mosq),
                           .events = POLLIN | (mosquitto_want_write(u->mosq) ? POLLOUT : 0)};
        if (poll(&p, 1, (int)left) <= 0)
            continue;
        if (p.revents & POLLOUT)
            mosquitto_loop_write(u->mosq, 1);
        if (p.revents & (POLLIN | POLLERR | POLLHUP))
            mosquitto_loop_read(u->mosq, 1);
    }
    if (!u->shutdown_acked && timeout_ms > 0)
        log_warn("uplink: no PUBACK for the offline status within %dms", timeout_ms);
    u->state = UP_IDLE;
    u->closing = true; /* on_disconnect must not schedule a reconnect */
    mosquitto_disconnect(u->mosq);
}

void uplink_close(struct uplink *u)
{
    if (!u)
        return;
    /* what was sent directly and is not acknowledged is sent at the next start */
    bool direct = false;
    for (int i = 0; i < u->n_inflight; i++)
        direct |= u->inflight[i].copy != NULL;
    if (direct) {
        requeue_direct(u);
        store_commit(u->store);
    }
    loop_timer_del(u->loop, &u->retry);
    loop_timer_del(u->loop, &u->misc);
    loop_fd_del(u->loop, &u->sock);
    if (u->mosq)
        mosquitto_destroy(u->mosq);
    free(u->inflight);
    free(u);
}

void uplink_info(const struct uplink *u, struct uplink_info *out)
{
    static const char *const names[] = {"disconnected", "connecting", "connected"};
    *out = (struct uplink_info){.state = names[u->state],
                                .failing = u->failing,
                                .since_ms = u->state_ms,
                                .backoff_ms = u->backoff_ms,
                                .inflight = u->n_inflight};
    snprintf(out->last_error, sizeof(out->last_error), "%s", u->last_error);
}

void uplink_reconnect(struct uplink *u)
{
    u->backoff_ms = u->cfg->mqtt.reconnect_min_ms;
    u->failing = false;
    log_info("uplink: reconnecting now, as the console asked");
    if (u->state == UP_CONNECTED) {
        mosquitto_disconnect(u->mosq); /* on_disconnect schedules the reconnect */
        return;
    }
    if (u->state == UP_CONNECTING) {
        drop_socket(u);
        u->state = UP_IDLE;
    }
    loop_timer_set(&u->retry, 1, 0);
}
