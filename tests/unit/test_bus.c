/* The bus worker against an in-process libmodbus TCP server (a thread of
 * this test): coalesced requests, a dead unit backed off and recovered,
 * exception replies, writes with read-back, and the statistics. */
#include <errno.h>
#include <math.h>
#include <modbus.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "bus.h"
#include "config.h"
#include "loop.h"

/* ---- the server ---- */
struct server {
    pthread_t thread;
    int port;
    int listen_fd;
    modbus_mapping_t *map;
    pthread_mutex_t mu;
    unsigned requests[256];
    bool dead[256];
    atomic_bool stop;
};

static void *serve(void *arg)
{
    struct server *sv = arg;
    modbus_t *ctx = modbus_new_tcp("127.0.0.1", sv->port);
    uint8_t q[MODBUS_TCP_MAX_ADU_LENGTH];
    fd_set all;
    int maxfd = sv->listen_fd;

    FD_ZERO(&all);
    FD_SET(sv->listen_fd, &all);
    while (!atomic_load(&sv->stop)) {
        fd_set rd = all;
        struct timeval tv = {0, 50000};
        if (select(maxfd + 1, &rd, NULL, NULL, &tv) <= 0)
            continue;
        for (int fd = 0; fd <= maxfd; fd++) {
            if (!FD_ISSET(fd, &rd))
                continue;
            if (fd == sv->listen_fd) {
                int c = accept(fd, NULL, NULL);
                if (c >= 0) {
                    FD_SET(c, &all);
                    maxfd = c > maxfd ? c : maxfd;
                }
                continue;
            }
            modbus_set_socket(ctx, fd);
            int n = modbus_receive(ctx, q);
            if (n <= 0) {
                close(fd);
                FD_CLR(fd, &all);
                continue;
            }
            pthread_mutex_lock(&sv->mu);
            uint8_t unit = q[6];
            sv->requests[unit]++;
            bool dead = sv->dead[unit];
            if (!dead)
                modbus_reply(ctx, q, n, sv->map);
            pthread_mutex_unlock(&sv->mu);
        }
    }
    for (int fd = 0; fd <= maxfd; fd++)
        if (FD_ISSET(fd, &all))
            close(fd);
    modbus_set_socket(ctx, -1);
    modbus_free(ctx);
    return NULL;
}

static void server_start(struct server *sv)
{
    memset(sv, 0, sizeof(*sv));
    pthread_mutex_init(&sv->mu, NULL);
    sv->map = modbus_mapping_new(100, 100, 100, 100);
    for (sv->port = 20000 + getpid() % 20000;; sv->port++) {
        modbus_t *l = modbus_new_tcp("127.0.0.1", sv->port);
        sv->listen_fd = modbus_tcp_listen(l, 4);
        modbus_free(l);
        if (sv->listen_fd >= 0)
            break;
    }
    assert_int_equal(pthread_create(&sv->thread, NULL, serve, sv), 0);
}

static void server_stop(struct server *sv)
{
    atomic_store(&sv->stop, true);
    pthread_join(sv->thread, NULL);
    modbus_mapping_free(sv->map);
    pthread_mutex_destroy(&sv->mu);
}

static unsigned requests(struct server *sv, uint8_t unit)
{
    pthread_mutex_lock(&sv->mu);
    unsigned n = sv->requests[unit];
    pthread_mutex_unlock(&sv->mu);
    return n;
}

/* ---- the gateway side ---- */
static struct config cfg;
static struct field field; /* the drivers' view of cfg */
static struct sampleq q;
static struct bus bus;
static struct server sv;

static void load(const char *sensors, const char *bus_extra)
{
    char path[] = "/tmp/lifeline-test-bus-XXXXXX", err[CFG_ERR_MAX];
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    dprintf(fd,
            "[gateway]\nid = g\nsite = s\n[bus b]\ntype = tcp\nhost = 127.0.0.1\nport = %d\n"
            "timeout = 100ms\n%s\n%s",
            sv.port, bus_extra, sensors);
    close(fd);
    int r = config_load(path, &cfg, err, sizeof(err));
    unlink(path);
    if (r)
        fail_msg("%s", err);
    assert_int_equal(config_field_build(&field, &cfg), 0);
}

static int setup(void **state)
{
    (void)state;
    server_start(&sv);
    assert_int_equal(sampleq_init(&q, 4096), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    bus_stop(&bus);
    sampleq_free(&q);
    config_field_free(&field);
    config_free(&cfg);
    server_stop(&sv);
    return 0;
}

/* Collects samples for ms; returns how many, the last value per sensor in last[]. */
static unsigned collect(int ms, double *last, enum quality *lastq, int *lasterr, struct sample *done)
{
    int64_t end = loop_clock_ms() + ms;
    struct sample buf[256];
    unsigned total = 0;

    while (loop_clock_ms() < end) {
        struct pollfd p = {.fd = q.efd, .events = POLLIN};
        poll(&p, 1, 20);
        unsigned n = sampleq_drain(&q, buf, 256);
        for (unsigned i = 0; i < n; i++) {
            if (buf[i].kind == SAMPLE_WRITE_DONE) {
                if (done)
                    *done = buf[i];
                continue;
            }
            total++;
            if (last)
                last[buf[i].sensor] = buf[i].value;
            if (lastq)
                lastq[buf[i].sensor] = buf[i].quality;
            if (lasterr)
                lasterr[buf[i].sensor] = buf[i].err;
        }
    }
    return total;
}

static void coalesced_requests(void **state)
{
    char text[8192] = "";
    size_t used = 0;
    double last[32] = {0};
    (void)state;
    for (int i = 0; i < 20; i++) {
        used += (size_t)snprintf(text + used, sizeof(text) - used,
                                 "[sensor s%d]\nclass = gas\nbus = b\nregister = holding:%d\nscale = 0.1\n"
                                 "poll = 100ms\n",
                                 i, 10 + i);
        sv.map->tab_registers[10 + i] = (uint16_t)(100 + i);
    }
    load(text, "");
    assert_int_equal(bus_start(&bus, &field, 0, &q, 1), 0);
    assert_int_equal(bus.plan.n_groups, 1);
    unsigned n = collect(1050, last, NULL, NULL, NULL);
    unsigned req = requests(&sv, 1);
    /* one request per period for all 20, not 20 */
    assert_in_range(req, 10, 12);
    assert_int_equal(n, req * 20);
    for (int i = 0; i < 20; i++)
        assert_true(fabs(last[i] - (100 + i) * 0.1) < 1e-9);
}

static void dead_unit_backed_off_and_recovered(void **state)
{
    enum quality lastq[4];
    int lasterr[4];
    struct bus_counts total;
    struct slave_state slaves[4];
    (void)state;
    sv.dead[9] = true;
    load("[sensor live]\nclass = gas\nbus = b\nunit_id = 1\nregister = holding:0\npoll = 100ms\n"
         "[sensor dead]\nclass = gas\nbus = b\nunit_id = 9\nregister = holding:0\npoll = 100ms\n",
         "backoff_after = 3\nbackoff_max = 2s\n");
    assert_int_equal(bus_start(&bus, &field, 0, &q, 1), 0);
    unsigned n = collect(2000, NULL, lastq, lasterr, NULL);
    assert_int_equal(lastq[1], Q_COMM_FAULT);
    assert_int_equal(lasterr[1], -ETIMEDOUT);
    assert_int_equal(lastq[0], Q_GOOD);
    /* 3 timeouts (100 ms each), then a probe after 1 s: 4 or 5 requests, not 20 */
    assert_in_range(requests(&sv, 9), 3, 5);
    /* the live unit kept (nearly) its rate: the dead one cost only 3-5 timeouts */
    assert_in_range(requests(&sv, 1), 14, 21);
    assert_true(n >= 2 * 15);
    unsigned ns = bus_stats(&bus, &total, slaves, 4);
    assert_int_equal(ns, 2);
    const struct slave_state *d = slaves[0].unit == 9 ? &slaves[0] : &slaves[1];
    assert_int_equal(d->counts.errors[BERR_TIMEOUT], requests(&sv, 9));
    assert_true(d->counts.skipped > 5);
    assert_true(d->backoff_ms >= 1000);
    assert_true(total.ok >= 14 && total.lat_n == total.ok);
    assert_true(bus_latency_percentile(&total, 99) >= total.lat_min_us);
    /* it answers again: back at full rate */
    pthread_mutex_lock(&sv.mu);
    sv.dead[9] = false;
    pthread_mutex_unlock(&sv.mu);
    collect(2500, NULL, lastq, NULL, NULL);
    assert_int_equal(lastq[1], Q_GOOD);
    bus_stats(&bus, &total, slaves, 4);
    d = slaves[0].unit == 9 ? &slaves[0] : &slaves[1];
    assert_int_equal(d->backoff_ms, 0);
}

static void exception_is_comm_fault_with_code(void **state)
{
    enum quality lastq[2];
    int lasterr[2];
    struct bus_counts total;
    struct slave_state sl[2];
    (void)state;
    load("[sensor beyond]\nclass = gas\nbus = b\nregister = input:150\npoll = 100ms\n", "");
    assert_int_equal(bus_start(&bus, &field, 0, &q, 1), 0);
    collect(350, NULL, lastq, lasterr, NULL);
    assert_int_equal(lastq[0], Q_COMM_FAULT);
    assert_int_equal(lasterr[0], -EMBXILADD);
    bus_stats(&bus, &total, sl, 2);
    assert_true(total.errors[BERR_EXCEPTION] >= 2);
    assert_int_equal(total.exceptions[MODBUS_EXCEPTION_ILLEGAL_DATA_ADDRESS], total.errors[BERR_EXCEPTION]);
    /* an exception is an answer: the slave is not backed off, every poll is a request */
    assert_int_equal(sl[0].backoff_ms, 0);
    assert_int_equal(total.skipped, 0);
}

static void writes_with_read_back(void **state)
{
    struct sample done = {0};
    (void)state;
    load("[sensor s]\nclass = gas\nbus = b\nregister = holding:0\npoll = 1s\n", "");
    assert_int_equal(bus_start(&bus, &field, 0, &q, 1), 0);
    struct bus_write w = {.id = 7, .unit = 1, .kind = REG_COIL, .addr = 5, .count = 1, .values = {1}, .verify = true};
    assert_int_equal(bus_write(&bus, &w), 0);
    collect(300, NULL, NULL, NULL, &done);
    assert_int_equal(done.kind, SAMPLE_WRITE_DONE);
    assert_int_equal(done.write_id, 7);
    assert_int_equal(done.err, 0);
    assert_int_equal(sv.map->tab_bits[5], 1);

    struct bus_write r = {
        .id = 8, .unit = 1, .kind = REG_HOLDING, .addr = 20, .count = 3, .values = {11, 22, 33}, .verify = true};
    memset(&done, 0, sizeof(done));
    assert_int_equal(bus_write(&bus, &r), 0);
    collect(300, NULL, NULL, NULL, &done);
    assert_int_equal(done.write_id, 8);
    assert_int_equal(done.err, 0);
    assert_int_equal(sv.map->tab_registers[21], 22);

    /* past the device's registers: the exception comes back as the result */
    struct bus_write bad = {.id = 9, .unit = 1, .kind = REG_HOLDING, .addr = 99, .count = 2, .values = {1, 2}};
    memset(&done, 0, sizeof(done));
    assert_int_equal(bus_write(&bus, &bad), 0);
    collect(300, NULL, NULL, NULL, &done);
    assert_int_equal(done.write_id, 9);
    assert_int_equal(done.err, -EMBXILADD);
    /* malformed requests are refused at once */
    struct bus_write inval = {.kind = REG_INPUT, .count = 1};
    assert_int_equal(bus_write(&bus, &inval), -EINVAL);
    inval.kind = REG_COIL;
    inval.count = 0;
    assert_int_equal(bus_write(&bus, &inval), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(coalesced_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(dead_unit_backed_off_and_recovered, setup, teardown),
        cmocka_unit_test_setup_teardown(exception_is_comm_fault_with_code, setup, teardown),
        cmocka_unit_test_setup_teardown(writes_with_read_back, setup, teardown),
    };
    return cmocka_run_group_tests_name("bus", tests, NULL, NULL);
}
