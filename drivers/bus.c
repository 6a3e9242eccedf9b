#include "bus.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"

#define BUS_RETRY_MIN_MS 1000
#define BUS_RETRY_MAX_MS 30000

static const struct bus_ops *ops_for(enum bus_type t)
{
    switch (t) {
    case BUS_TCP: return &modbus_tcp_ops;
    case BUS_SIM: return &sim_ops;
    default: return NULL;
    }
}

int sampleq_init(struct sampleq *q, unsigned cap)
{
    memset(q, 0, sizeof(*q));
    q->buf = calloc(cap, sizeof(*q->buf));
    if (!q->buf)
        return -ENOMEM;
    q->cap = cap;
    q->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (q->efd < 0) {
        free(q->buf);
        return -errno;
    }
    pthread_mutex_init(&q->mu, NULL);
    return 0;
}

void sampleq_free(struct sampleq *q)
{
    if (!q->buf)
        return;
    close(q->efd);
    pthread_mutex_destroy(&q->mu);
    free(q->buf);
    q->buf = NULL;
}

void sampleq_push(struct sampleq *q, const struct sample *s)
{
    bool was_empty;

    pthread_mutex_lock(&q->mu);
    was_empty = q->count == 0;
    if (q->count == q->cap) {
        q->head = (q->head + 1) % q->cap;
        q->count--;
        q->dropped++;
    }
    q->buf[(q->head + q->count) % q->cap] = *s;
    q->count++;
    pthread_mutex_unlock(&q->mu);
    if (was_empty) {
        uint64_t one = 1;
        /* Cannot fail short of a full counter, which the core's drain prevents. */
        if (write(q->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
            log_err("bus: eventfd write: %s", strerror(errno));
    }
}

unsigned sampleq_drain(struct sampleq *q, struct sample *out, unsigned max)
{
    uint64_t v;
    unsigned n = 0;

    if (read(q->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
        log_err("bus: eventfd read: %s", strerror(errno));
    pthread_mutex_lock(&q->mu);
    while (q->count && n < max) {
        out[n++] = q->buf[q->head];
        q->head = (q->head + 1) % q->cap;
        q->count--;
    }
    pthread_mutex_unlock(&q->mu);
    /* Left-overs must wake the core again. */
    if (n == max) {
        uint64_t one = 1;
        if (write(q->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
            log_err("bus: eventfd write: %s", strerror(errno));
    }
    return n;
}

/* Sleeps until deadline (monotonic ms) or a wake-up; true when told to stop. */
static bool wait_until(struct bus *b, int64_t deadline)
{
    while (!atomic_load(&b->stop)) {
        int64_t left = deadline - loop_clock_ms();
        if (left <= 0)
            return false;
        struct pollfd pfd = {.fd = b->wake_fd, .events = POLLIN};
        int r = poll(&pfd, 1, (int)(left > 60000 ? 60000 : left));
        if (r > 0) {
            uint64_t v;
            if (read(b->wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
                log_err("bus '%s': wake read: %s", b->bcfg->name, strerror(errno));
        }
    }
    return true;
}

static void emit(struct bus *b, unsigned sensor, double value, enum quality q, int err)
{
    struct sample s = {.sensor = sensor, .gen = b->gen, .ts_ms = loop_wallclock_ms(),
                       .value = value, .quality = q, .err = err};
    sampleq_push(b->q, &s);
}

/* The most overdue sensor first; ties go to the lower index (config order). */
static unsigned next_sensor(const struct bus *b)
{
    unsigned best = 0;
    for (unsigned i = 1; i < b->n_sensors; i++)
        if (b->next_due[i] < b->next_due[best])
            best = i;
    return best;
}

/* Advance on the fixed grid so the schedule never drifts; periods that could
 * not be served (bus overloaded) are skipped, not bunched up. */
static void advance(struct bus *b, unsigned i, int64_t now)
{
    int64_t period = b->cfg->sensors[b->sensors[i]].poll_ms;

    b->next_due[i] += period;
    if (b->next_due[i] <= now)
        b->next_due[i] += ((now - b->next_due[i]) / period + 1) * period;
}

static bool ensure_open(struct bus *b, int64_t *retry_ms, bool *failing)
{
    if (b->open && !b->broken)
        return true;
    if (b->open) {
        b->ops->close(b);
        b->open = false;
        atomic_fetch_add(&b->stats.reconnects, 1);
    }
    int r = b->ops->open(b);
    if (r == 0) {
        b->open = true;
        b->broken = false;
        if (*failing)
            log_info("bus '%s': connected again", b->bcfg->name);
        *failing = false;
        *retry_ms = BUS_RETRY_MIN_MS;
        return true;
    }
    if (!*failing)
        log_warn("bus '%s': cannot open: %s, retrying with back-off up to %ds",
                 b->bcfg->name, strerror(-r), BUS_RETRY_MAX_MS / 1000);
    *failing = true;
    return false;
}

static void *worker(void *arg)
{
    struct bus *b = arg;
    int64_t retry_ms = BUS_RETRY_MIN_MS;
    bool failing = false;

    while (!atomic_load(&b->stop)) {
        if (!ensure_open(b, &retry_ms, &failing)) {
            /* Every sensor that fell due while the bus is down gets a comm_fault. */
            int64_t now = loop_clock_ms();
            for (unsigned i = 0; i < b->n_sensors; i++) {
                if (b->next_due[i] <= now) {
                    emit(b, b->sensors[i], 0, Q_COMM_FAULT, ECONNREFUSED);
                    advance(b, i, now);
                }
            }
            if (wait_until(b, now + retry_ms))
                break;
            retry_ms = retry_ms * 2 > BUS_RETRY_MAX_MS ? BUS_RETRY_MAX_MS : retry_ms * 2;
            continue;
        }
        unsigned i = next_sensor(b);
        if (wait_until(b, b->next_due[i]))
            break;
        const struct cfg_sensor *s = &b->cfg->sensors[b->sensors[i]];
        double value = 0;
        int err = 0;
        atomic_fetch_add(&b->stats.requests, 1);
        enum quality q = b->ops->read(b, s, &value, &err);
        if (q == Q_COMM_FAULT)
            atomic_fetch_add(&b->stats.errors, 1);
        emit(b, b->sensors[i], value, q, err);
        advance(b, i, loop_clock_ms());
    }
    if (b->open)
        b->ops->close(b);
    b->open = false;
    return NULL;
}

int bus_start(struct bus *b, const struct config *cfg, unsigned index, struct sampleq *q, uint32_t gen)
{
    memset(b, 0, sizeof(*b));
    b->wake_fd = -1;
    b->cfg = cfg;
    b->bcfg = &cfg->buses[index];
    b->ops = ops_for(b->bcfg->type);
    b->q = q;
    b->gen = gen;
    if (!b->ops)
        return -ENOTSUP;
    for (unsigned i = 0; i < cfg->n_sensors; i++)
        if (cfg->sensors[i].bus == index)
            b->n_sensors++;
    if (b->n_sensors == 0)
        return 0; /* a bus without sensors needs no thread */
    b->sensors = calloc(b->n_sensors, sizeof(*b->sensors));
    b->next_due = calloc(b->n_sensors, sizeof(*b->next_due));
    b->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (!b->sensors || !b->next_due || b->wake_fd < 0)
        goto fail;
    b->t0_ms = loop_clock_ms();
    for (unsigned i = 0, n = 0; i < cfg->n_sensors; i++) {
        if (cfg->sensors[i].bus != index)
            continue;
        b->sensors[n] = i;
        b->next_due[n++] = b->t0_ms;
    }
    int r = pthread_create(&b->thread, NULL, worker, b);
    if (r != 0) {
        errno = r;
        goto fail;
    }
    b->started = true;
    return 0;
fail:
    r = -errno;
    log_err("bus '%s': cannot start worker: %s", b->bcfg->name, strerror(errno));
    bus_stop(b);
    return r ? r : -ENOMEM;
}

void bus_stop(struct bus *b)
{
    if (b->started) {
        uint64_t one = 1;
        atomic_store(&b->stop, true);
        if (write(b->wake_fd, &one, sizeof(one)) < 0)
            log_err("bus '%s': wake write: %s", b->bcfg->name, strerror(errno));
        pthread_join(b->thread, NULL);
        b->started = false;
    }
    if (b->wake_fd >= 0)
        close(b->wake_fd);
    b->wake_fd = -1;
    free(b->sensors);
    free(b->next_due);
    b->sensors = NULL;
    b->next_due = NULL;
}
