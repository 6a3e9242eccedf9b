#include "gateway.h"
#include "core.h"
#include "gateway_int.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "actions.h"
#include "bus.h"
#include "ctl.h"
#include "gpio.h"
#include "health.h"
#include "log.h"
#include "loop.h"
#include "payload.h"
#include "rules.h"
#include "store.h"
#include "telemetry.h"
#include "uplink.h"

/* The sample queue holds a burst while the core is busy (a commit's fsync
 * on a slow card): 16 samples a sensor, 1 024 to 8 192. */
#define SAMPLE_QUEUE_MIN 1024
#define SAMPLE_QUEUE_MAX 8192

unsigned core_queue_cap(const struct config *cfg)
{
    unsigned n = cfg->n_sensors * 16;
    return n < SAMPLE_QUEUE_MIN ? SAMPLE_QUEUE_MIN : n > SAMPLE_QUEUE_MAX ? SAMPLE_QUEUE_MAX : n;
}
#define SHUTDOWN_PUBACK_MS 2000
#define TRIM_BATCH 2000

static void handle_sample(struct gateway *g, const struct sample *smp)
{
    struct rule_event ev[COND_COUNT];
    struct sensor_rt *rt;

    if (smp->gen != g->gen || smp->sensor >= g->cfg.n_sensors)
        return; /* from the workers of a config replaced by a reload */
    if (smp->kind == SAMPLE_WRITE_DONE) {
        /* Bus requests come from rule actions and the console; what is
         * neither's (a console gone) only goes to the log. */
        if (!actions_write_done(g->actions, smp->write_id, smp->err) &&
            !ctl_write_done(g->ctl, smp->bus, smp->write_id, smp->err))
            log_debug("core: bus '%s': write %llu done: %s", g->cfg.buses[smp->bus].p.name,
                      (unsigned long long)smp->write_id, smp->err ? sample_err_text(smp->err) : "ok");
        return;
    }
    rt = &g->rt[smp->sensor];
    if (smp->quality != rt->quality && (rt->ts_ms || smp->quality != Q_GOOD))
        log_info("core: sensor '%s': quality %s -> %s%s%s%s", g->cfg.sensors[smp->sensor].name,
                 quality_name(rt->quality), quality_name(smp->quality), smp->quality == Q_GOOD ? "" : " (",
                 smp->quality == Q_GOOD ? "" : sample_err_text(smp->err), smp->quality == Q_GOOD ? "" : ")");
    struct sensor_rt before = *rt;
    rt->value = smp->value;
    rt->quality = smp->quality;
    rt->ts_ms = smp->ts_ms;
    store_add_reading(g->store, rt->store_id, smp->ts_ms, smp->value, smp->quality);
    const struct cfg_sensor *c = &g->cfg.sensors[smp->sensor];
    if (smp->pulses) {
        rt->pulses += smp->pulses;
        store_counter_put(g->store, c->name, (int64_t)rt->pulses);
    }
    telemetry_sample(g->telemetry, smp->sensor, smp->ts_ms, smp->value, smp->quality,
                     c->io.mode == INPUT_COUNTER ? (double)rt->pulses * c->io.per_pulse : NAN, g->loop.now_ms);
    unsigned n =
        rules_sample(&g->cfg.sensors[smp->sensor].rules, &rt->st, smp->value, smp->quality, g->loop.now_ms, ev);
    if (n)
        core_remember(g, smp->sensor, &before);
    for (unsigned i = 0; i < n; i++)
        core_emit_event_by(g, smp->sensor, smp->ts_ms, smp->quality, &ev[i], NULL);
    if (n)
        g->actions_due = true;
}

/* With all, everything queued; else one batch (the loop comes back for more). */
static void take_samples(struct gateway *g, bool all)
{
    unsigned n;

    do {
        n = sampleq_drain(&g->q, g->batch, GATEWAY_SAMPLE_BATCH);
        for (unsigned i = 0; i < n; i++)
            handle_sample(g, &g->batch[i]);
    } while (all && n > 0);
    /* linkage acts within this tick, whatever the uplink does; once per
     * batch, so one sensor clearing while another rises does not blink it */
    if (g->actions_due) {
        g->actions_due = false;
        actions_update(g->actions);
        core_show_health(g);
    }
    if (g->q.dropped != g->dropped_seen) {
        log_warn("core: %llu samples dropped: the core fell behind the buses",
                 (unsigned long long)(g->q.dropped - g->dropped_seen));
        g->dropped_seen = g->q.dropped;
    }
}

void core_drain_samples(struct gateway *g)
{
    if (g->q.buf)
        take_samples(g, true);
}

static void on_samples(struct loop *l, struct loop_fd *f, uint32_t events)
{
    (void)l;
    (void)events;
    take_samples(container_of(f, struct gateway, q_fd), false);
}

static int open_queue(struct gateway *g, unsigned cap)
{
    int r = sampleq_init(&g->q, cap);
    if (r < 0)
        return r;
    g->q_fd = (struct loop_fd){.fd = g->q.efd, .events = EPOLLIN, .cb = on_samples};
    return loop_fd_add(&g->loop, &g->q_fd);
}

int core_resize_queue(struct gateway *g, unsigned cap)
{
    uint64_t dropped = g->q.dropped;
    loop_fd_del(&g->loop, &g->q_fd);
    sampleq_free(&g->q);
    int r = open_queue(g, cap);
    g->q.dropped = g->dropped_seen = dropped;
    return r;
}

/* The telemetry batch goes when its first reading has waited telemetry_delay. */
static void telemetry_due(struct gateway *g)
{
    int64_t wait = telemetry_wait(g->telemetry, g->loop.now_ms); /* (the wake-up's clock: no read per iteration) */

    if (wait == 0)
        telemetry_flush(g->telemetry, loop_wallclock_ms());
    else if (wait > 0 && !g->tm_armed)
        g->tm_armed = loop_timer_set(&g->tm_timer, wait, 0) == 0;
}

static void on_tm_timer(struct loop *l, struct loop_timer *t)
{
    (void)l;
    container_of(t, struct gateway, tm_timer)->tm_armed = false;
    /* (before_sleep hands the batch out) */
}

static void before_sleep(struct loop *l, void *ctx)
{
    struct gateway *g = ctx;

    /* The alarm is on disk before it is handed to MQTT. */
    (void)l;
    if (g->reload_due) {
        g->reload_due = false;
        core_reload(g);
    }
    telemetry_due(g);
    core_commit(g, false);
    uplink_pump(g->uplink); /* (none while a reload reopens it) */
}

/* Once a second: a sensor that has not been heard of for its stale time
 * raises its fault (the bus worker itself may be stuck). The wake-up also
 * lets before_sleep commit readings on time. */
/* Readings history within [store] retention and max_size, a bounded batch
 * a second; a full batch means more to do, and the log says when it began. */
static void trim(struct gateway *g)
{
    const struct cfg_store *c = &g->cfg.store;
    int n = store_trim(g->store, loop_wallclock_ms(), c->retention_ms, c->max_bytes, TRIM_BATCH);

    if (n == TRIM_BATCH && !g->trimming)
        log_info("store: deleting the oldest readings (retention %llds, max_size %lld bytes)",
                 (long long)(c->retention_ms / 1000), (long long)c->max_bytes);
    g->trimming = n == TRIM_BATCH;
}

static void on_tick(struct loop *l, struct loop_timer *t)
{
    struct gateway *g = container_of(t, struct gateway, tick);
    struct rule_event ev;

    bool ended = false;
    for (unsigned i = 0; i < g->cfg.n_sensors; i++) {
        if (g->rt[i].maint_until && l->now_ms >= g->rt[i].maint_until) {
            core_set_maintenance(g, i, 0);
            ended = true;
            log_info("core: sensor '%s': maintenance over", g->cfg.sensors[i].name);
        }
        core_save_timer(g, i);
        core_remind(g, i);
        struct sensor_rt before = g->rt[i];
        if (!rules_stale(&g->cfg.sensors[i].rules, &g->rt[i].st, l->now_ms, &ev))
            continue;
        core_remember(g, i, &before);
        log_warn("core: sensor '%s': no sample for %llds: stale", g->cfg.sensors[i].name,
                 (long long)(g->cfg.sensors[i].rules.stale_ms / 1000));
        core_emit_event_by(g, i, loop_wallclock_ms(), Q_STALE, &ev, NULL);
    }
    if (ended) {
        uplink_status_changed(g->uplink);
        actions_update(g->actions);
    }
    trim(g);
    core_show_health(g);
}

static void on_signal(struct loop *l, struct loop_fd *f, uint32_t events)
{
    struct gateway *g = container_of(f, struct gateway, sig_fd);
    struct signalfd_siginfo si;

    (void)events;
    while (read(f->fd, &si, sizeof(si)) == sizeof(si)) {
        if (si.ssi_signo == SIGHUP) {
            core_reload(g);
        } else {
            log_info("core: %s received, stopping", strsignal((int)si.ssi_signo));
            loop_stop(l);
        }
    }
}

static int setup_signals(struct gateway *g)
{
    sigset_t set;

    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    /* Blocked before any thread starts, so only the signalfd sees them. */
    if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
        return -errno;
    signal(SIGPIPE, SIG_IGN);
    int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0) {
        log_err("core: signalfd: %s", strerror(errno));
        return -errno;
    }
    g->sig_fd = (struct loop_fd){.fd = fd, .events = EPOLLIN, .cb = on_signal};
    return loop_fd_add(&g->loop, &g->sig_fd);
}

/* cmd/reboot (core_reboot): stop after the reply had time to leave, then
 * exec again. */
static void on_reboot(struct loop *l, struct loop_timer *t)
{
    struct gateway *g = container_of(t, struct gateway, reboot_timer);

    log_info("core: restarting, as the center asked");
    g->reboot = true;
    loop_stop(l);
}

static int start(struct gateway *g)
{
    int r;

    if ((r = loop_init(&g->loop)) < 0 || (r = setup_signals(g)) < 0)
        return r;
    g->started_ms = loop_clock_ms();
    if ((r = store_open(g->cfg.store.path, &g->store)) < 0)
        return r;
    store_outbox_limits(g->store, g->cfg.store.outbox_max, g->cfg.store.outbox_max_bytes,
                        g->cfg.store.outbox_alarm_max);
    store_cache(g->store, g->cfg.store.cache_bytes);
    if (store_reset_path(g->store)) {
        char payload[PATH_MAX + 128];
        int len = payload_store_reset(loop_wallclock_ms(), store_reset_path(g->store), payload, sizeof(payload));
        if (len > 0)
            core_send(g, "event", payload, (size_t)len);
    }
    g->rt = core_runtime_for(g, &g->cfg, NULL, NULL);
    if (!g->rt || core_alloc_shadow(g, g->cfg.n_sensors) < 0)
        return -ENOMEM;
    g->loop.now_ms = loop_clock_ms();
    if ((r = core_restore(g)) < 0 || (r = open_queue(g, core_queue_cap(&g->cfg))) < 0)
        return r;
    if ((r = loop_timer_add(&g->loop, &g->reboot_timer, on_reboot)) < 0 ||
        (r = loop_timer_add(&g->loop, &g->tick, on_tick)) < 0 ||
        (r = loop_timer_add(&g->loop, &g->tm_timer, on_tm_timer)) < 0 ||
        (r = loop_timer_set(&g->tick, COMMIT_INTERVAL_MS, COMMIT_INTERVAL_MS)) < 0)
        return r;
    if ((r = core_open_uplink(g)) < 0 || (r = core_open_telemetry(g)) < 0)
        return r;
    if ((r = core_buses_start(g)) < 0 || (r = core_open_actions(g)) < 0 ||
        (r = health_open(&g->health, &g->loop, &g->cfg, &g->gpio)) < 0)
        return r;
    core_show_health(g);
    if ((r = ctl_open(&g->ctl, g)) < 0)
        log_err("console: no control socket (%s): lifelinectl cannot reach this daemon", strerror(-r));
    loop_set_before_sleep(&g->loop, before_sleep, g);
    log_info("core: lifelined %s started: gateway %s/%s, %u buses, %u sensors, boot %u", LIFELINE_VERSION,
             g->cfg.gateway.site, g->cfg.gateway.id, g->cfg.n_buses, g->cfg.n_sensors, store_boot_count(g->store));
    char status[160];
    snprintf(status, sizeof(status), "gateway %.40s/%.40s, %u sensors, boot %u", g->cfg.gateway.site, g->cfg.gateway.id,
             g->cfg.n_sensors, store_boot_count(g->store));
    health_ready(g->health, status);
    return 0;
}

static void stop(struct gateway *g)
{
    ctl_close(g->ctl);
    g->ctl = NULL;
    actions_close(g->actions);
    g->actions = NULL;
    health_close(g->health);
    g->health = NULL;
    core_buses_stop(g);
    core_drain_samples(g);
    if (g->telemetry)
        telemetry_flush(g->telemetry, loop_wallclock_ms());
    telemetry_close(g->telemetry);
    if (g->store)
        core_commit(g, true);
    if (g->uplink) {
        uplink_pump(g->uplink);
        uplink_shutdown(g->uplink, SHUTDOWN_PUBACK_MS);
        uplink_close(g->uplink);
    }
    loop_timer_del(&g->loop, &g->tick);
    loop_timer_del(&g->loop, &g->tm_timer);
    loop_timer_del(&g->loop, &g->reboot_timer);
    if (g->sig_fd.registered) {
        loop_fd_del(&g->loop, &g->sig_fd);
        close(g->sig_fd.fd);
    }
    sampleq_free(&g->q);
    store_close(g->store);
    free(g->rt);
    free(g->shadow);
    free(g->dirty);
    config_free(&g->cfg);
    loop_close(&g->loop);
}

int gateway_open(struct config *cfg, struct gateway **out)
{
    struct gateway *g = calloc(1, sizeof(*g));

    *out = g;
    if (!g) {
        config_free(cfg);
        return -ENOMEM;
    }
    g->cfg = *cfg;
    memset(cfg, 0, sizeof(*cfg));
    g->tick.f.fd = g->reboot_timer.f.fd = g->tm_timer.f.fd = -1;
    g->gen = 1;
    return start(g);
}

struct ctl *gateway_ctl(struct gateway *g)
{
    return g->ctl;
}

void gateway_close(struct gateway *g)
{
    if (!g)
        return;
    stop(g);
    free(g);
}

int gateway_run(struct config *cfg)
{
    struct gateway *g;
    int status = 0;

    if (gateway_open(cfg, &g) < 0 || loop_run(&g->loop) < 0)
        status = 1;
    if (g && g->reboot && status == 0)
        status = GATEWAY_RESTART;
    gateway_close(g);
    return status;
}
