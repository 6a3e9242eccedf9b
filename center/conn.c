/*
 * lifeline-center: the broker connection every MQTT subcommand shares
 * (paho-mqtt-c's async client) and the options that say where and as whom.
 *
 * Threads: paho runs its own send and receive threads and calls back on
 * them; the main thread only starts, waits and tears down. Anything a
 * callback shares with the main thread is atomic or an fd.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "center.h"

void broker_args_init(struct broker_args *b)
{
    *b = (struct broker_args){.host = "127.0.0.1"};
}

int broker_option(struct broker_args *b, int ch, const char *arg, const char *cmd)
{
    long port;

    switch (ch) {
    case 0x100:
        if (!arg[0] || strpbrk(arg, "/ \t")) {
            fprintf(stderr, PROG " %s: bad --host '%s'\n", cmd, arg);
            return -1;
        }
        b->host = arg;
        return 0;
    case 0x101:
        if (parse_long(arg, 1, 65535, &port) < 0) {
            fprintf(stderr, PROG " %s: bad --port (1-65535) '%s'\n", cmd, arg);
            return -1;
        }
        b->port = (int)port;
        return 0;
    case 0x102:
    case 0x103:
    case 0x104: {
        const char **f = ch == 0x102 ? &b->tls_ca : ch == 0x103 ? &b->tls_cert : &b->tls_key;
        if (access(arg, R_OK) != 0) {
            fprintf(stderr, PROG " %s: cannot read '%s': %s\n", cmd, arg, strerror(errno));
            return -1;
        }
        *f = arg;
        return 0;
    }
    case 0x105:
        if (!arg[0] || strlen(arg) > 255) {
            fprintf(stderr, PROG " %s: bad --username (1-255 bytes)\n", cmd);
            return -1;
        }
        b->username = arg;
        return 0;
    case 0x106: {
        FILE *f = fopen(arg, "r");
        if (!f || !fgets(b->password, sizeof b->password, f)) {
            fprintf(stderr, PROG " %s: cannot read a password from '%s': %s\n", cmd, arg,
                    f ? "the file is empty" : strerror(errno));
            if (f)
                fclose(f);
            return -1;
        }
        fclose(f);
        b->password[strcspn(b->password, "\r\n")] = '\0';
        b->has_password = true;
        return 0;
    }
    default:
        return 1;
    }
}

int broker_args_done(struct broker_args *b, const char *cmd)
{
    const char *env = getenv("LIFELINE_CENTER_PASSWORD");

    if (!b->has_password && env && *env) {
        if (strlen(env) >= sizeof b->password) {
            fprintf(stderr, PROG " %s: LIFELINE_CENTER_PASSWORD is too long\n", cmd);
            return -1;
        }
        strcpy(b->password, env);
        b->has_password = true;
    }
    if (b->has_password && !b->username) {
        fprintf(stderr, PROG " %s: a password needs --username\n", cmd);
        return -1;
    }
    if (!b->tls_cert != !b->tls_key) {
        fprintf(stderr, PROG " %s: --tls-cert and --tls-key go together\n", cmd);
        return -1;
    }
    if (b->tls_cert && !b->tls_ca) {
        fprintf(stderr, PROG " %s: a client certificate needs --tls-ca\n", cmd);
        return -1;
    }
    if (!b->port)
        b->port = b->tls_ca ? 8883 : 1883;
    return 0;
}

/* paho's text, or MQTT 3.1.1 CONNACK refusals, which arrive as positive codes. */
const char *mqtt_err(int code, const char *msg)
{
    static const char *const connack[] = {
        NULL,
        "broker refused: unacceptable protocol version",
        "broker refused: client id rejected",
        "broker refused: server unavailable",
        "broker refused: bad user name or password",
        "broker refused: not authorized",
    };
    const char *s;

    /* a refusal's code says more than paho's "CONNACK return code" */
    if (code > 0 && code < (int)(sizeof connack / sizeof connack[0]))
        return connack[code];
    if (msg && *msg)
        return msg;
    s = MQTTAsync_strerror(code);
    return s ? s : "unknown error";
}

static void conn_on_subscribed(void *ctx, MQTTAsync_successData *r)
{
    struct conn *c = ctx;
    struct line l = {.len = 0};

    if (!r)
        return;
    for (int i = 0; i < c->o->ntopics; i++) {
        int granted = c->o->ntopics == 1 ? r->alt.qos : r->alt.qosList ? r->alt.qosList[i] : 1;

        if (granted == 0x80)
            fprintf(stderr, PROG ": mqtt: broker refused subscription to '%s'\n", c->o->topics[i]);
        else
            line_add(&l, "%s%s", l.len ? ", " : "", c->o->topics[i]);
    }
    if (l.len)
        fprintf(stderr, PROG ": mqtt: subscribed to %s on %s\n", l.buf, c->uri);
    if (c->o->on_connected)
        c->o->on_connected(c->o->ctx);
}

static void conn_on_subscribe_failed(void *ctx, MQTTAsync_failureData *r)
{
    struct conn *c = ctx;

    fprintf(stderr, PROG ": mqtt: subscribe on %s failed: %s, retrying on next reconnect\n", c->uri,
            mqtt_err(r ? r->code : MQTTASYNC_FAILURE, r ? r->message : NULL));
}

/* Called after the first connect and every automatic reconnect: clean
 * sessions forget subscriptions, so they are made again each time. */
static void conn_on_connected(void *ctx, char *cause)
{
    struct conn *c = ctx;
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    int qos[CONN_TOPICS_MAX];
    int rc;

    (void)cause;
    atomic_store(&c->last_fail, CONN_NO_FAILURE);
    atomic_store(&c->up, true);
    if (c->o->ntopics == 0) {
        if (c->o->on_connected)
            c->o->on_connected(c->o->ctx);
        return;
    }
    for (int i = 0; i < c->o->ntopics; i++)
        qos[i] = 1;
    ro.onSuccess = conn_on_subscribed;
    ro.onFailure = conn_on_subscribe_failed;
    ro.context = c;
    rc = MQTTAsync_subscribeMany(c->client, c->o->ntopics, c->o->topics, qos, &ro);
    if (rc != MQTTASYNC_SUCCESS)
        fprintf(stderr, PROG ": mqtt: subscribe on %s failed: %s, retrying on next reconnect\n", c->uri,
                mqtt_err(rc, NULL));
}

static void conn_on_connect_failed(void *ctx, MQTTAsync_failureData *r)
{
    struct conn *c = ctx;
    int code = r ? r->code : MQTTASYNC_FAILURE;

    /* paho retries by itself; say so once per distinct reason, not every attempt. */
    if (atomic_exchange(&c->last_fail, code) != code)
        fprintf(stderr, PROG ": mqtt: connect to %s failed: %s, retrying every 1-30 s\n", c->uri,
                mqtt_err(code, r ? r->message : NULL));
}

static void conn_on_lost(void *ctx, char *cause)
{
    struct conn *c = ctx;

    atomic_store(&c->up, false);
    fprintf(stderr, PROG ": mqtt: connection to %s lost%s%s, reconnecting\n", c->uri, cause ? ": " : "",
            cause ? cause : "");
}

static int conn_on_message(void *ctx, char *topic, int topic_len, MQTTAsync_message *m)
{
    struct conn *c = ctx;
    char t[TOPIC_MAX];
    size_t tl = topic_len > 0 ? (size_t)topic_len : strlen(topic);

    if (tl >= sizeof t || memchr(topic, '\0', tl)) {
        fprintf(stderr, PROG ": mqtt: ignoring message on an over-long or binary topic\n");
    } else {
        memcpy(t, topic, tl);
        t[tl] = '\0';
        if (!c->o->on_message(c->o->ctx, t, m->payload, m->payloadlen > 0 ? (size_t)m->payloadlen : 0))
            return 0; /* not taken: paho hands it over again (and acknowledges nothing yet) */
    }
    MQTTAsync_freeMessage(&m);
    MQTTAsync_free(topic);
    return 1; /* consumed: paho acknowledges it and must not redeliver it */
}

static void conn_on_disconnected(void *ctx, MQTTAsync_successData *r)
{
    struct conn *c = ctx;

    (void)r;
    if (eventfd_signal(c->done_fd) < 0)
        fprintf(stderr, PROG ": mqtt: cannot signal disconnect: %s\n", strerror(errno));
}

static void conn_on_disconnect_failed(void *ctx, MQTTAsync_failureData *r)
{
    struct conn *c = ctx;

    fprintf(stderr, PROG ": mqtt: disconnect from %s failed: %s, closing anyway\n", c->uri,
            mqtt_err(r ? r->code : MQTTASYNC_FAILURE, r ? r->message : NULL));
    if (eventfd_signal(c->done_fd) < 0)
        fprintf(stderr, PROG ": mqtt: cannot signal disconnect: %s\n", strerror(errno));
}

static int conn_create(struct conn *c)
{
    int rc;

    /* with a store_dir, a QoS 1 message paho has acknowledged is on disk until
     * on_message took it (and is handed over again after a restart) */
    rc = MQTTAsync_create(&c->client, c->uri, c->o->client_id,
                          c->o->store_dir ? MQTTCLIENT_PERSISTENCE_DEFAULT : MQTTCLIENT_PERSISTENCE_NONE,
                          (void *)c->o->store_dir);
    if (rc != MQTTASYNC_SUCCESS) {
        fprintf(stderr, PROG ": mqtt: cannot create client for %s: %s\n", c->uri, mqtt_err(rc, NULL));
        return -1;
    }
    c->created = true;
    rc = MQTTAsync_setCallbacks(c->client, c, conn_on_lost, conn_on_message, NULL);
    if (rc == MQTTASYNC_SUCCESS)
        rc = MQTTAsync_setConnected(c->client, c, conn_on_connected);
    if (rc != MQTTASYNC_SUCCESS) {
        fprintf(stderr, PROG ": mqtt: cannot set callbacks: %s\n", mqtt_err(rc, NULL));
        return -1;
    }
    return 0;
}

/*
 * Starts connecting and returns at once; the first connect and every loss
 * are retried by paho (1 s doubling to 30 s) and each success re-subscribes.
 * On failure the conn still needs conn_close().
 */
int conn_open(struct conn *c, const struct conn_opts *o)
{
    MQTTAsync_connectOptions co = MQTTAsync_connectOptions_initializer;
    MQTTAsync_SSLOptions ssl = MQTTAsync_SSLOptions_initializer;
    const struct broker_args *b = o->broker;
    bool v6 = strchr(b->host, ':') && b->host[0] != '[';
    int rc;

    *c = (struct conn){.o = o, .done_fd = -1};
    atomic_init(&c->last_fail, CONN_NO_FAILURE);
    atomic_init(&c->up, false);
    if (o->ntopics < 0 || o->ntopics > CONN_TOPICS_MAX) {
        fprintf(stderr, PROG ": mqtt: %d topics, expected 0-%d\n", o->ntopics, CONN_TOPICS_MAX);
        return -1;
    }
    rc = snprintf(c->uri, sizeof c->uri, v6 ? "%s://[%s]:%d" : "%s://%s:%d", b->tls_ca ? "ssl" : "tcp", b->host,
                  b->port);
    if (rc < 0 || (size_t)rc >= sizeof c->uri) {
        fprintf(stderr, PROG ": mqtt: host name too long\n");
        return -1;
    }
    c->done_fd = eventfd(0, EFD_CLOEXEC);
    if (c->done_fd < 0) {
        fprintf(stderr, PROG ": mqtt: eventfd: %s\n", strerror(errno));
        return -1;
    }
    if (conn_create(c) < 0)
        return -1;

    /* persistent: the broker keeps our subscriptions and queues QoS 1
     * messages while we are away, and paho acknowledges one only after
     * on_message took it */
    co.cleansession = !o->persistent;
    co.keepAliveInterval = 30;
    co.connectTimeout = 10;
    /* 3.1.1 only: the default would retry as 3.1, which rejects ids over 23 bytes. */
    co.MQTTVersion = MQTTVERSION_3_1_1;
    co.automaticReconnect = 1;
    co.minRetryInterval = 1;
    co.maxRetryInterval = 30;
    co.onFailure = conn_on_connect_failed;
    co.context = c;
    if (b->username)
        co.username = b->username;
    if (b->has_password)
        co.password = b->password;
    if (b->tls_ca) {
        /* as the gateway: the broker's certificate signed by this CA and
         * naming the address we dialled; TLS 1.2 or later */
        ssl.trustStore = b->tls_ca;
        ssl.keyStore = b->tls_cert;
        ssl.privateKey = b->tls_key;
        ssl.enableServerCertAuth = 1;
        ssl.verify = 1;
        ssl.sslVersion = MQTT_SSL_VERSION_TLS_1_2;
        co.ssl = &ssl;
    }
    rc = MQTTAsync_connect(c->client, &co);
    if (rc != MQTTASYNC_SUCCESS) {
        fprintf(stderr, PROG ": mqtt: cannot start connecting to %s: %s\n", c->uri, mqtt_err(rc, NULL));
        return -1;
    }
    return 0;
}

/*
 * Disconnects (waiting up to ~3 s for the broker) and frees; safe on a conn
 * that conn_open() left half-made. paho runs callbacks without its lock, so
 * one already under way may finish after this returns: keep the callbacks'
 * context alive until exit (cmd_watch's is static).
 */
void conn_close(struct conn *c)
{
    MQTTAsync_disconnectOptions d = MQTTAsync_disconnectOptions_initializer;
    int rc;

    if (c->created) {
        d.timeout = 2000;
        d.onSuccess = conn_on_disconnected;
        d.onFailure = conn_on_disconnect_failed;
        d.context = c;
        rc = MQTTAsync_disconnect(c->client, &d);
        if (rc == MQTTASYNC_SUCCESS) {
            if (wait_readable(c->done_fd, 3000) == 0)
                fprintf(stderr, PROG ": mqtt: disconnect from %s timed out, closing anyway\n", c->uri);
        } else if (rc != MQTTASYNC_DISCONNECTED) {
            fprintf(stderr, PROG ": mqtt: disconnect from %s failed: %s, closing anyway\n", c->uri, mqtt_err(rc, NULL));
        }
        MQTTAsync_destroy(&c->client);
        c->created = false;
    }
    if (c->done_fd >= 0)
        close(c->done_fd);
    c->done_fd = -1;
}

int conn_publish(struct conn *c, const char *topic, const char *payload, size_t len)
{
    MQTTAsync_message m = MQTTAsync_message_initializer;
    int rc;

    m.payload = (void *)payload;
    m.payloadlen = (int)len;
    m.qos = 1;
    rc = MQTTAsync_sendMessage(c->client, topic, &m, NULL);
    if (rc != MQTTASYNC_SUCCESS) {
        fprintf(stderr, PROG ": mqtt: cannot publish to %s: %s\n", topic, mqtt_err(rc, NULL));
        return -1;
    }
    return 0;
}
