#include "bus.h"

#include <errno.h>
#include <modbus.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"

#define BUS_RETRY_MIN_MS 1000
#define BUS_RETRY_MAX_MS 30000
#define BACKOFF_MIN_MS 1000

static const struct bus_ops *ops_for(enum bus_type t)
{
    switch (t) {
    case BUS_TCP:
        return &modbus_tcp_ops;
    case BUS_RTU:
        return &modbus_rtu_ops;
    case BUS_SIM:
        return &sim_ops;
    default:
        return NULL;
    }
}

/* ---- statistics ---- */

enum bus_err bus_classify(int err)
{
    int e = err < 0 ? -err : err;

    if (e == ETIMEDOUT)
        return BERR_TIMEOUT;
    if (e == EMBBADCRC)
        return BERR_CRC;
    if (e > MODBUS_ENOBASE && e <= MODBUS_ENOBASE + MODBUS_EXCEPTION_GATEWAY_TARGET)
        return BERR_EXCEPTION;
    if (e == EMBBADDATA || e == EMBBADEXC || e == EMBBADSLAVE || e == EMBMDATA || e == EMBUNKEXC)
        return BERR_BAD_REPLY;
    return BERR_CONNECTION;
}

static void count(struct bus_counts *c, int err, int64_t us)
{
    c->requests++;
    c->busy_us += (uint64_t)us;
    if (err) {
        enum bus_err k = bus_classify(err);
        c->errors[k]++;
        if (k == BERR_EXCEPTION)
            c->exceptions[-err - MODBUS_ENOBASE]++;
        return;
    }
    c->ok++;
    unsigned b = 0;
    while (b + 1 < BUS_LAT_BUCKETS && (uint64_t)us >= (2ull << b))
        b++;
    c->lat_hist[b]++;
    if (!c->lat_n || (uint64_t)us < c->lat_min_us)
        c->lat_min_us = (uint64_t)us;
    if ((uint64_t)us > c->lat_max_us)
        c->lat_max_us = (uint64_t)us;
    c->lat_n++;
    c->lat_sum_us += (uint64_t)us;
}

uint64_t bus_latency_percentile(const struct bus_counts *c, double p)
{
    uint64_t want = (uint64_t)((double)c->lat_n * p / 100.0 + 0.999999), seen = 0;

    for (unsigned b = 0; b < BUS_LAT_BUCKETS; b++) {
        seen += c->lat_hist[b];
        if (seen >= want && seen)
            return 2ull << b;
    }
    return c->lat_max_us;
}

unsigned bus_stats(struct bus *b, struct bus_counts *total, struct slave_state *slaves, unsigned max)
{
    unsigned n;

    pthread_mutex_lock(&b->stats_mu);
    *total = b->counts;
    n = b->plan.n_slaves < max ? b->plan.n_slaves : max;
    for (unsigned i = 0; i < n; i++)
        slaves[i] = b->slaves[i];
    pthread_mutex_unlock(&b->stats_mu);
    return n;
}

/* ---- the worker ---- */

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Sleeps until deadline (monotonic ms); true when woken early (a write was
 * queued, or the bus is stopping). */
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
                log_err("bus '%s': wake read: %s", b->p->name, strerror(errno));
            return true;
        }
    }
    return true;
}

/* The samples of one request go to the core together: one lock, and one
 * wake-up of the core instead of one per sensor. */
#define EMIT_BATCH 64
struct emit_batch {
    struct sample s[EMIT_BATCH];
    unsigned n;
};

static void emit_flush(struct bus *b, struct emit_batch *e)
{
    if (e->n)
        sampleq_push_n(b->q, e->s, e->n);
    e->n = 0;
}

static void emit(struct bus *b, struct emit_batch *e, unsigned sensor, int64_t ts, double value, enum quality q,
                 int err)
{
    e->s[e->n++] = (struct sample){
        .kind = SAMPLE_VALUE, .sensor = sensor, .gen = b->gen, .ts_ms = ts, .value = value, .quality = q, .err = err};
    if (e->n == EMIT_BATCH)
        emit_flush(b, e);
}

static void emit_fault(struct bus *b, const struct plan_group *g, int err)
{
    int64_t ts = loop_wallclock_ms();
    struct emit_batch e = {.n = 0};

    for (unsigned m = 0; m < g->n; m++)
        emit(b, &e, b->plan.members[g->first + m], ts, 0, Q_COMM_FAULT, err);
    emit_flush(b, &e);
}

/* The back-off state is read by bus_stats from other threads: changed
 * under stats_mu. */
static void slave_failed(struct bus *b, struct slave_state *sl, int err, int64_t now)
{
    bool first = false;

    pthread_mutex_lock(&b->stats_mu);
    sl->fails++;
    sl->last_err = err;
    if (sl->fails >= (unsigned)b->p->backoff_after) {
        first = sl->backoff_ms == 0;
        sl->backoff_ms = first ? BACKOFF_MIN_MS : sl->backoff_ms * 2;
        if (sl->backoff_ms > b->p->backoff_max_ms)
            sl->backoff_ms = b->p->backoff_max_ms;
        sl->retry_at = now + sl->backoff_ms;
    }
    unsigned fails = sl->fails;
    pthread_mutex_unlock(&b->stats_mu);
    if (first)
        log_warn("bus '%s': unit %u not answering (%s) after %u failed polls, backing off up to %llds", b->p->name,
                 sl->unit, sample_err_text(err), fails, (long long)(b->p->backoff_max_ms / 1000));
}

static void slave_ok(struct bus *b, struct slave_state *sl)
{
    pthread_mutex_lock(&b->stats_mu);
    unsigned fails = sl->fails;
    bool was_off = sl->backoff_ms != 0;
    sl->fails = 0;
    sl->backoff_ms = 0;
    sl->retry_at = 0;
    pthread_mutex_unlock(&b->stats_mu);
    if (was_off)
        log_info("bus '%s': unit %u answers again after %u failures", b->p->name, sl->unit, fails);
}

static void decode_members(struct bus *b, const struct plan_group *g, const uint16_t *regs)
{
    int64_t ts = loop_wallclock_ms();
    struct emit_batch e = {.n = 0};

    for (unsigned m = 0; m < g->n; m++) {
        unsigned idx = b->plan.members[g->first + m];
        const struct point *s = b->f->points[idx];
        double v = 0;
        int r = decode_value(&s->reg, regs + (s->reg.addr - g->addr), &v);
        emit(b, &e, idx, ts, v, r == 0 ? Q_GOOD : Q_OUT_OF_RANGE, r);
    }
    emit_flush(b, &e);
}

static void compute_members(struct bus *b, const struct plan_group *g)
{
    int64_t ts = loop_wallclock_ms();
    struct emit_batch e = {.n = 0};

    for (unsigned m = 0; m < g->n; m++) {
        unsigned idx = b->plan.members[g->first + m];
        double v = 0;
        enum quality q = b->ops->value(b, b->f->points[idx], &v);
        emit(b, &e, idx, ts, v, q, 0);
    }
    emit_flush(b, &e);
}

/* One request, retried after a timeout or a CRC error; the frame gap is kept
 * before each try. Returns 0 or the negative error of the last try. */
static int transact(struct bus *b, struct plan_group *g, uint16_t *regs, struct slave_state *sl)
{
    int r = 0;

    for (int t = 0; t <= b->p->retries; t++) {
        if (t > 0 && atomic_load(&b->stop))
            break;
        int64_t gap_until = b->last_end_us + b->p->frame_delay_ms * 1000;
        if (now_us() < gap_until) {
            struct timespec until = {gap_until / 1000000, (long)(gap_until % 1000000) * 1000};
            while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL) == EINTR)
                ;
        }
        int64_t t0 = now_us();
        r = b->ops->read(b, g, regs);
        int64_t t1 = now_us();
        b->last_end_us = t1;
        pthread_mutex_lock(&b->stats_mu);
        count(&b->counts, r, t1 - t0);
        count(&sl->counts, r, t1 - t0);
        pthread_mutex_unlock(&b->stats_mu);
        enum bus_err k = bus_classify(r);
        if (r == 0 || b->broken || (k != BERR_TIMEOUT && k != BERR_CRC))
            break;
    }
    return r;
}

static void poll_group(struct bus *b, struct plan_group *g, uint16_t *regs)
{
    struct slave_state *sl = &b->slaves[g->slave];
    int64_t now = loop_clock_ms();

    if (!b->ops->read) {
        compute_members(b, g);
        return;
    }
    if (sl->backoff_ms && now < sl->retry_at) {
        /* A dead slave costs no bus time; the core still hears of every poll. */
        pthread_mutex_lock(&b->stats_mu);
        sl->counts.skipped++;
        b->counts.skipped++;
        pthread_mutex_unlock(&b->stats_mu);
        emit_fault(b, g, sl->last_err);
        return;
    }
    int r = transact(b, g, regs, sl);
    if (r == 0) {
        slave_ok(b, sl);
        decode_members(b, g, regs);
    } else {
        /* An exception is an answer: the slave is there (the request is
         * wrong for it), so it is not backed off. */
        if (bus_classify(r) == BERR_EXCEPTION)
            slave_ok(b, sl);
        else
            slave_failed(b, sl, r, loop_clock_ms());
        emit_fault(b, g, r);
    }
}

int bus_write(struct bus *b, const struct bus_write *w)
{
    int r = 0;
    uint64_t one = 1;

    if (!b->ops || (w->read ? !b->ops->read : !b->ops->write) || !b->started)
        return -ENOTSUP;
    if ((!w->read && w->kind != REG_COIL && w->kind != REG_HOLDING) || w->count < 1 || w->count > BUS_WRITE_MAX ||
        (unsigned)w->addr + w->count - 1 > 65535)
        return -EINVAL;
    pthread_mutex_lock(&b->write_mu);
    if (b->w_count == BUS_WRITE_QUEUE)
        r = -EAGAIN;
    else
        b->writes[(b->w_head + b->w_count++) % BUS_WRITE_QUEUE] = *w;
    pthread_mutex_unlock(&b->write_mu);
    if (r == 0 && write(b->wake_fd, &one, sizeof(one)) < 0)
        log_err("bus '%s': wake write: %s", b->p->name, strerror(errno));
    return r;
}

static bool take_write(struct bus *b, struct bus_write *w)
{
    bool got;

    pthread_mutex_lock(&b->write_mu);
    /* after a diagnostic read, a due poll goes first: a scan shares the bus */
    got = b->w_count > 0 && !(b->diag_last && b->writes[b->w_head].read);
    if (got) {
        *w = b->writes[b->w_head];
        b->w_head = (b->w_head + 1) % BUS_WRITE_QUEUE;
        b->w_count--;
    }
    pthread_mutex_unlock(&b->write_mu);
    return got;
}

unsigned bus_diag_result(struct bus *b, uint16_t *regs, unsigned max)
{
    pthread_mutex_lock(&b->write_mu);
    unsigned n = b->diag_count < max ? b->diag_count : max;
    memcpy(regs, b->diag_regs, n * sizeof(*regs));
    pthread_mutex_unlock(&b->write_mu);
    return n;
}

/* A diagnostic read: through the same path as polling (gap, retries). */
static void do_read(struct bus *b, const struct bus_write *w, uint16_t *regs)
{
    struct plan_group g = {.unit = w->unit, .kind = w->kind, .addr = w->addr, .count = w->count};
    struct slave_state scratch = {.unit = w->unit};
    struct sample done = {.kind = SAMPLE_WRITE_DONE, .bus = b->index, .gen = b->gen, .write_id = w->id};
    int r = transact(b, &g, regs, &scratch);

    pthread_mutex_lock(&b->write_mu);
    b->diag_count = r == 0 ? w->count : 0;
    memcpy(b->diag_regs, regs, b->diag_count * sizeof(*regs));
    pthread_mutex_unlock(&b->write_mu);
    done.ts_ms = loop_wallclock_ms();
    done.err = r;
    sampleq_push(b->q, &done);
}

/* Writes, then (if asked) reads back through the same path as polling. */
static void do_write(struct bus *b, const struct bus_write *w, uint16_t *regs)
{
    struct plan_group g = {.unit = w->unit, .kind = w->kind, .addr = w->addr, .count = w->count};
    struct slave_state scratch = {.unit = w->unit};
    struct sample done = {.kind = SAMPLE_WRITE_DONE, .bus = b->index, .gen = b->gen, .write_id = w->id};
    int64_t t0 = now_us();
    int r = b->ops->write(b, w);

    b->last_end_us = now_us();
    pthread_mutex_lock(&b->stats_mu);
    count(&b->counts, r, b->last_end_us - t0);
    pthread_mutex_unlock(&b->stats_mu);
    if (r == 0 && w->verify) {
        r = transact(b, &g, regs, &scratch);
        for (unsigned i = 0; r == 0 && i < w->count; i++)
            if ((w->kind == REG_COIL ? !!regs[i] : regs[i]) != (w->kind == REG_COIL ? !!w->values[i] : w->values[i]))
                r = -EIO; /* the device took the write but holds another value */
    }
    done.ts_ms = loop_wallclock_ms();
    done.err = r;
    if (r)
        log_warn("bus '%s': write to unit %u %s %u (%u values) failed: %s", b->p->name, w->unit,
                 reg_kind_names[w->kind], w->addr, w->count, r == -EIO ? "read-back differs" : sample_err_text(r));
    sampleq_push(b->q, &done);
}

static bool ensure_open(struct bus *b, int64_t *retry_ms, bool *failing)
{
    if (b->open && !b->broken)
        return true;
    if (b->open) {
        b->ops->close(b);
        b->open = false;
        pthread_mutex_lock(&b->stats_mu);
        b->reconnects++;
        pthread_mutex_unlock(&b->stats_mu);
    }
    int r = b->ops->open(b);
    if (r == 0) {
        b->open = true;
        b->broken = false;
        if (*failing)
            log_info("bus '%s': open again", b->p->name);
        *failing = false;
        *retry_ms = BUS_RETRY_MIN_MS;
        return true;
    }
    if (!*failing)
        log_warn("bus '%s': cannot open: %s, retrying with back-off up to %ds", b->p->name, sample_err_text(r),
                 BUS_RETRY_MAX_MS / 1000);
    *failing = true;
    return false;
}

static void *worker(void *arg)
{
    struct bus *b = arg;
    int64_t retry_ms = BUS_RETRY_MIN_MS;
    bool failing = false;
    static const unsigned regs_n = PLAN_MAX_BITS;
    uint16_t *regs = calloc(regs_n, sizeof(*regs));

    while (regs && !atomic_load(&b->stop)) {
        if (!ensure_open(b, &retry_ms, &failing)) {
            /* Every group that fell due while the bus is down gets a comm_fault. */
            int64_t now = loop_clock_ms();
            for (unsigned i = 0; i < b->plan.n_groups; i++) {
                struct plan_group *g = &b->plan.groups[i];
                if (g->next_due <= now) {
                    emit_fault(b, g, -ECONNREFUSED);
                    plan_advance(&b->plan, i, now);
                }
            }
            /* A write cannot wait for the line to come back: fail it now. */
            struct bus_write w;
            while (take_write(b, &w)) {
                struct sample done = {.kind = SAMPLE_WRITE_DONE,
                                      .bus = b->index,
                                      .gen = b->gen,
                                      .write_id = w.id,
                                      .ts_ms = loop_wallclock_ms(),
                                      .err = -ENOTCONN};
                sampleq_push(b->q, &done);
            }
            if (wait_until(b, now + retry_ms) && atomic_load(&b->stop))
                break;
            retry_ms = retry_ms * 2 > BUS_RETRY_MAX_MS ? BUS_RETRY_MAX_MS : retry_ms * 2;
            continue;
        }
        /* Writes go first: a fan or a valve must not wait for the poll cycle. */
        struct bus_write w;
        if (take_write(b, &w)) {
            if (w.read)
                do_read(b, &w, regs);
            else
                do_write(b, &w, regs);
            b->diag_last = w.read;
            continue;
        }
        unsigned gi = b->plan.n_groups ? plan_next(&b->plan) : 0;
        struct plan_group *g = b->plan.n_groups ? &b->plan.groups[gi] : NULL;
        bool woken = wait_until(b, g ? g->next_due : loop_clock_ms() + 60000);
        b->diag_last = false; /* a poll was due, or not: a waiting read may go */
        if (woken || !g)
            continue; /* woken: a write, or stop */
        poll_group(b, g, regs);
        plan_advance(&b->plan, gi, loop_clock_ms());
    }
    if (!regs)
        log_err("bus '%s': out of memory, bus stopped", b->p->name);
    free(regs);
    if (b->open)
        b->ops->close(b);
    b->open = false;
    return NULL;
}

int bus_start(struct bus *b, const struct field *f, unsigned index, struct sampleq *q, uint32_t gen)
{
    int r;

    memset(b, 0, sizeof(*b));
    b->wake_fd = -1;
    b->f = f;
    b->p = f->buses[index];
    b->ops = ops_for(b->p->type);
    b->q = q;
    b->gen = gen;
    b->index = index;
    pthread_mutex_init(&b->stats_mu, NULL);
    pthread_mutex_init(&b->write_mu, NULL);
    if (b->p->type == BUS_GPIO)
        return 0; /* GPIO lines are read by the core loop itself (gpio.c) */
    if (!b->ops)
        return -ENOTSUP;
    b->t0_ms = loop_clock_ms();
    r = plan_build(&b->plan, f, index, b->ops->read != NULL, b->p->max_gap, b->p->max_registers, b->t0_ms);
    if (r < 0 || (b->plan.n_groups == 0 && !b->ops->read))
        return r; /* a sim bus without sensors needs no thread; a Modbus one serves the console */
    b->slaves = calloc(b->plan.n_slaves ? b->plan.n_slaves : 1, sizeof(*b->slaves));
    b->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (!b->slaves || b->wake_fd < 0) {
        r = -ENOMEM;
        goto fail;
    }
    for (unsigned i = 0; i < b->plan.n_slaves; i++)
        b->slaves[i].unit = b->plan.units[i];
    r = -pthread_create(&b->thread, NULL, worker, b);
    if (r < 0)
        goto fail;
    b->started = true;
    return 0;
fail:
    log_err("bus '%s': cannot start worker: %s", b->p->name, strerror(-r));
    bus_stop(b);
    return r;
}

void bus_stop_request(struct bus *b)
{
    uint64_t one = 1;

    if (!b->started || atomic_load(&b->stop))
        return;
    atomic_store(&b->stop, true);
    if (write(b->wake_fd, &one, sizeof(one)) < 0)
        log_err("bus '%s': wake write: %s", b->p->name, strerror(errno));
}

void bus_stop(struct bus *b)
{
    if (b->started) {
        bus_stop_request(b);
        pthread_join(b->thread, NULL);
        b->started = false;
    }
    if (b->wake_fd >= 0)
        close(b->wake_fd);
    b->wake_fd = -1;
    free(b->slaves);
    b->slaves = NULL;
    plan_free(&b->plan);
    pthread_mutex_destroy(&b->stats_mu);
}
