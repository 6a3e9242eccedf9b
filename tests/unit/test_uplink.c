/* The uplink's outbox pump on a real SQLite store, with libmosquitto cut at
 * the link (-Wl,--wrap, see LDFLAGS_test_uplink in the Makefile): the test
 * plays the broker. It sees every PUBLISH (topic, payload, QoS) and decides
 * when the PUBACK comes, by calling the publish callback the uplink gave
 * libmosquitto. What is asserted is what a broker would see and what stays
 * on disk: at most max_inflight unacknowledged messages, a PUBACK lets the
 * next one go, alarms before status before telemetry (oldest first within
 * each), and a message leaves the outbox only on its PUBACK, so a dropped
 * link sends it again. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <mosquitto.h>
#include <sys/eventfd.h>

#include "config.h"
#include "loop.h"
#include "store.h"
#include "uplink.h"

/* --- the broker side: what the wrapped libmosquitto calls record -------- */

#define MAX_PUBS 128

struct pub {
    char topic[128];
    char payload[16];
    int mid; /* 0: sent without a mid (the retained status) */
    int qos;
    bool acked;
};

static struct {
    struct mosquitto *mosq;
    void (*on_connect)(struct mosquitto *, void *, int);
    void (*on_disconnect)(struct mosquitto *, void *, int);
    void (*on_publish)(struct mosquitto *, void *, int);
    int sock;     /* the "socket": an eventfd nobody writes */
    int connects; /* mosquitto_connect_async calls */
    int next_mid;
    struct pub pubs[MAX_PUBS];
    int n_pubs;
} net;

int __wrap_mosquitto_connect_async(struct mosquitto *mosq, const char *host, int port, int keepalive);
int __wrap_mosquitto_socket(struct mosquitto *mosq);
int __wrap_mosquitto_publish(struct mosquitto *mosq, int *mid, const char *topic, int payloadlen, const void *payload,
                             int qos, bool retain);
bool __wrap_mosquitto_want_write(struct mosquitto *mosq);
int __wrap_mosquitto_subscribe(struct mosquitto *mosq, int *mid, const char *sub, int qos);
void __real_mosquitto_connect_callback_set(struct mosquitto *mosq, void (*cb)(struct mosquitto *, void *, int));
void __wrap_mosquitto_connect_callback_set(struct mosquitto *mosq, void (*cb)(struct mosquitto *, void *, int));
void __real_mosquitto_disconnect_callback_set(struct mosquitto *mosq, void (*cb)(struct mosquitto *, void *, int));
void __wrap_mosquitto_disconnect_callback_set(struct mosquitto *mosq, void (*cb)(struct mosquitto *, void *, int));
void __real_mosquitto_publish_callback_set(struct mosquitto *mosq, void (*cb)(struct mosquitto *, void *, int));
void __wrap_mosquitto_publish_callback_set(struct mosquitto *mosq, void (*cb)(struct mosquitto *, void *, int));

/* QoS 1 messages of the outbox sent and not acknowledged (the retained
 * status goes without a mid: not in the window). */
static int unacked(void)
{
    int n = 0;
    for (int i = 0; i < net.n_pubs; i++)
        n += net.pubs[i].mid && !net.pubs[i].acked;
    return n;
}

static int window; /* the max_inflight the uplink was opened with */

int __wrap_mosquitto_connect_async(struct mosquitto *mosq, const char *host, int port, int keepalive)
{
    (void)host;
    (void)port;
    (void)keepalive;
    net.mosq = mosq;
    net.connects++;
    return MOSQ_ERR_SUCCESS;
}

int __wrap_mosquitto_socket(struct mosquitto *mosq)
{
    (void)mosq;
    return net.sock;
}

int __wrap_mosquitto_publish(struct mosquitto *mosq, int *mid, const char *topic, int payloadlen, const void *payload,
                             int qos, bool retain)
{
    (void)mosq;
    (void)retain;
    assert_true(net.n_pubs < MAX_PUBS);
    /* the broker's view of the window: never one more than max_inflight */
    if (mid && unacked() >= window)
        fail_msg("PUBLISH '%.*s' with %d unacknowledged already (max_inflight %d)", payloadlen, (const char *)payload,
                 unacked(), window);
    struct pub *p = &net.pubs[net.n_pubs++];
    *p = (struct pub){0};
    snprintf(p->topic, sizeof(p->topic), "%s", topic);
    snprintf(p->payload, sizeof(p->payload), "%.*s", payloadlen, (const char *)payload);
    p->qos = qos;
    if (mid)
        *mid = p->mid = ++net.next_mid;
    return MOSQ_ERR_SUCCESS;
}

bool __wrap_mosquitto_want_write(struct mosquitto *mosq)
{
    (void)mosq;
    return false; /* the socket takes everything at once */
}

int __wrap_mosquitto_subscribe(struct mosquitto *mosq, int *mid, const char *sub, int qos)
{
    (void)mosq;
    (void)mid;
    (void)sub;
    (void)qos;
    return MOSQ_ERR_SUCCESS;
}

void __wrap_mosquitto_connect_callback_set(struct mosquitto *mosq, void (*cb)(struct mosquitto *, void *, int))
{
    net.on_connect = cb;
    __real_mosquitto_connect_callback_set(mosq, cb);
}

void __wrap_mosquitto_disconnect_callback_set(struct mosquitto *mosq, void (*cb)(struct mosquitto *, void *, int))
{
    net.on_disconnect = cb;
    __real_mosquitto_disconnect_callback_set(mosq, cb);
}

void __wrap_mosquitto_publish_callback_set(struct mosquitto *mosq, void (*cb)(struct mosquitto *, void *, int))
{
    net.on_publish = cb;
    __real_mosquitto_publish_callback_set(mosq, cb);
}

/* --- the gateway side ----------------------------------------------------- */

struct fx {
    char dir[64];
    char path[96];
    struct store *st;
    struct config cfg;
    struct loop l;
    struct uplink *u;
};

static struct fx fx;

static void broker_connack(void)
{
    net.on_connect(net.mosq, mosquitto_userdata(net.mosq), 0);
}

/* The gateway connected with a window of max_inflight; the retained
 * "online" status it publishes on connect is not part of what is checked. */
static void open_uplink(int max_inflight)
{
    struct uplink_identity id = {.boot = 1};

    fx.cfg.mqtt.max_inflight = window = max_inflight;
    assert_int_equal(uplink_open(&fx.u, &fx.l, &fx.cfg, fx.st, &id, NULL, NULL), 0);
    assert_int_equal(net.connects, 1);
    broker_connack();
    assert_true(uplink_is_connected(fx.u));
    assert_int_equal(net.n_pubs, 1);
    assert_string_equal(net.pubs[0].topic, "lifeline/v1/ut-site/ut-gw/status");
    net.n_pubs = 0;
}

static int setup(void **state)
{
    memset(&fx, 0, sizeof(fx));
    memset(&net, 0, sizeof(net));
    net.sock = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    assert_true(net.sock >= 0);
    snprintf(fx.dir, sizeof(fx.dir), "/tmp/lifeline-test-uplink-XXXXXX");
    assert_non_null(mkdtemp(fx.dir));
    snprintf(fx.path, sizeof(fx.path), "%s/t.db", fx.dir);
    assert_int_equal(store_open(fx.path, &fx.st), 0);
    assert_int_equal(loop_init(&fx.l), 0);
    snprintf(fx.cfg.gateway.id, sizeof(fx.cfg.gateway.id), "ut-gw");
    snprintf(fx.cfg.gateway.site, sizeof(fx.cfg.gateway.site), "ut-site");
    snprintf(fx.cfg.mqtt.host, sizeof(fx.cfg.mqtt.host), "127.0.0.1");
    fx.cfg.mqtt.port = 1883;
    fx.cfg.mqtt.keepalive_s = 30;
    fx.cfg.mqtt.reconnect_min_ms = 4;
    fx.cfg.mqtt.reconnect_max_ms = 8;
    *state = &fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *x = *state;
    char cmd[160];

    uplink_close(x->u);
    store_close(x->st);
    loop_close(&x->l);
    close(net.sock);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", x->dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Queues a message whose payload names it: "a3" an alarm event (seq 3),
 * "s1" a status/reply, "t7" telemetry; committed as the tick would. */
static void queue(const char *name)
{
    enum outbox_prio prio = name[0] == 'a' ? PRIO_ALARM : name[0] == 's' ? PRIO_STATUS : PRIO_TELEMETRY;
    char topic[128];

    snprintf(topic, sizeof(topic), "lifeline/v1/ut-site/ut-gw/%s",
             prio == PRIO_ALARM    ? "alarm"
             : prio == PRIO_STATUS ? "reply/x"
                                   : "telemetry");
    assert_int_equal(
        store_outbox_add(fx.st, prio, prio == PRIO_ALARM ? atoi(name + 1) : 0, topic, name, strlen(name), 1), 0);
    assert_int_equal(store_commit(fx.st), 0);
}

/* One loop iteration's before-sleep, as gateway.c does it: commit, pump. */
static void tick(void)
{
    assert_int_equal(store_commit(fx.st), 0);
    uplink_pump(fx.u);
}

/* The payloads published so far (QoS 1 ones, in order), space-separated. */
static const char *sent(void)
{
    static char out[MAX_PUBS * 4];
    size_t used = 0;

    out[0] = '\0';
    for (int i = 0; i < net.n_pubs; i++)
        used += (size_t)snprintf(out + used, sizeof(out) - used, "%s%s", used ? " " : "", net.pubs[i].payload);
    return out;
}

/* The broker's PUBACK for the message with this payload (its last send). */
static void puback(const char *name)
{
    for (int i = net.n_pubs - 1; i >= 0; i--) {
        struct pub *p = &net.pubs[i];
        if (strcmp(p->payload, name) != 0)
            continue;
        assert_false(p->acked);
        p->acked = true;
        net.on_publish(net.mosq, mosquitto_userdata(net.mosq), p->mid);
        return;
    }
    fail_msg("'%s' was never published", name);
}

static bool collect(void *ctx, const struct outbox_msg *m)
{
    char *out = ctx;
    size_t used = strlen(out);
    snprintf(out + used, 512 - used, "%s%.*s", used ? " " : "", (int)m->len, m->payload);
    return true;
}

/* What is left in the outbox on disk, in send order. */
static const char *outbox(void)
{
    static char out[512];

    out[0] = '\0';
    assert_int_equal(store_commit(fx.st), 0);
    assert_int_equal(store_outbox_each(fx.st, 64, collect, out), 0);
    return out;
}

static void window_holds_max_inflight(void **state)
{
    (void)state;
    open_uplink(3);
    for (int i = 1; i <= 6; i++) {
        char name[16];
        snprintf(name, sizeof(name), "t%d", i);
        queue(name);
    }
    tick();
    assert_string_equal(sent(), "t1 t2 t3");
    tick(); /* no PUBACK yet: nothing more, nothing twice */
    tick();
    assert_string_equal(sent(), "t1 t2 t3");
    assert_string_equal(outbox(), "t1 t2 t3 t4 t5 t6");

    puback("t2"); /* one slot frees: exactly one more goes */
    tick();
    assert_string_equal(sent(), "t1 t2 t3 t4");
    assert_int_equal(unacked(), 3);
    assert_string_equal(outbox(), "t1 t3 t4 t5 t6");

    puback("t1");
    puback("t4");
    tick();
    assert_string_equal(sent(), "t1 t2 t3 t4 t5 t6");
    assert_int_equal(unacked(), 3);
    puback("t3");
    puback("t6");
    puback("t5");
    tick();
    assert_string_equal(sent(), "t1 t2 t3 t4 t5 t6");
    assert_string_equal(outbox(), "");
}

/* Queued out of order: alarms go first, oldest first, then status, then
 * telemetry; nothing less urgent goes while a more urgent one waits for
 * its PUBACK (a resend would otherwise come after it). */
static void priority_then_age(void **state)
{
    (void)state;
    open_uplink(8);
    queue("t1");
    queue("s1");
    queue("a1");
    queue("t2");
    queue("a2");
    queue("s2");
    tick();
    assert_string_equal(sent(), "a1 a2");
    puback("a1");
    tick();
    assert_string_equal(sent(), "a1 a2"); /* a2 still unacknowledged */
    puback("a2");
    tick();
    assert_string_equal(sent(), "a1 a2 s1 s2");
    puback("s1");
    puback("s2");
    tick();
    assert_string_equal(sent(), "a1 a2 s1 s2 t1 t2");
    puback("t1");
    puback("t2");
    tick();
    assert_string_equal(outbox(), "");
}

/* A new alarm takes the first free slot, ahead of older telemetry. */
static void alarm_overtakes_waiting_telemetry(void **state)
{
    (void)state;
    open_uplink(2);
    queue("t1");
    queue("t2");
    queue("t3");
    queue("t4");
    tick();
    assert_string_equal(sent(), "t1 t2");
    queue("a7");
    puback("t1");
    tick();
    assert_string_equal(sent(), "t1 t2 a7");
    puback("t2"); /* a slot, but the alarm is unacknowledged: telemetry waits */
    tick();
    assert_string_equal(sent(), "t1 t2 a7");
    puback("a7");
    tick();
    assert_string_equal(sent(), "t1 t2 a7 t3 t4");
    assert_string_equal(outbox(), "t3 t4");
}

static void on_hook(struct loop *l, void *ctx)
{
    (void)ctx;
    if (net.connects >= 2)
        loop_stop(l);
}

static void on_guard(struct loop *l, struct loop_timer *t)
{
    (void)l;
    (void)t;
    fail_msg("the uplink did not reconnect within 3 s");
}

/* Published is not delivered: without its PUBACK a message stays in the
 * outbox, and when the link drops it is sent again after the reconnect
 * (a late PUBACK from the old session deletes nothing). */
static void leaves_outbox_only_on_puback(void **state)
{
    struct loop_timer guard = {0};

    (void)state;
    open_uplink(4);
    queue("a1");
    queue("a2");
    queue("a3");
    tick();
    assert_string_equal(sent(), "a1 a2 a3");
    puback("a2");
    assert_string_equal(outbox(), "a1 a3");

    int old_a3_mid = net.pubs[2].mid;
    net.on_disconnect(net.mosq, mosquitto_userdata(net.mosq), MOSQ_ERR_CONN_LOST);
    assert_false(uplink_is_connected(fx.u));
    tick(); /* down: nothing is sent */
    assert_int_equal(net.n_pubs, 3);
    assert_string_equal(outbox(), "a1 a3");

    /* the reconnect timer (4-8 ms) connects again */
    loop_set_before_sleep(&fx.l, on_hook, NULL);
    assert_int_equal(loop_timer_add(&fx.l, &guard, on_guard), 0);
    assert_int_equal(loop_timer_set(&guard, 3000, 0), 0);
    assert_int_equal(loop_run(&fx.l), 0);
    loop_timer_del(&fx.l, &guard);
    net.n_pubs = 0;
    broker_connack();
    assert_string_equal(net.pubs[0].topic, "lifeline/v1/ut-site/ut-gw/status");
    net.n_pubs = 0;

    net.on_publish(net.mosq, mosquitto_userdata(net.mosq), old_a3_mid); /* stale */
    assert_string_equal(outbox(), "a1 a3");
    tick();
    assert_string_equal(sent(), "a1 a3");
    puback("a3");
    puback("a1");
    assert_string_equal(outbox(), "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(window_holds_max_inflight, setup, teardown),
        cmocka_unit_test_setup_teardown(priority_then_age, setup, teardown),
        cmocka_unit_test_setup_teardown(alarm_overtakes_waiting_telemetry, setup, teardown),
        cmocka_unit_test_setup_teardown(leaves_outbox_only_on_puback, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
