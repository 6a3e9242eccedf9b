#include "gateway.h"
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

static unsigned queue_cap(const struct config *cfg)
{
    unsigned n = cfg->n_sensors * 16;
    return n < SAMPLE_QUEUE_MIN ? SAMPLE_QUEUE_MIN : n > SAMPLE_QUEUE_MAX ? SAMPLE_QUEUE_MAX : n;
}
#define COMMIT_INTERVAL_MS 1000
#define SHUTDOWN_PUBACK_MS 2000
#define TRIM_BATCH 2000

/* Keeps a sensor's state from before its first event of the transaction.
 * Only sensors with events: the others' delay timers must run on, or a
 * delayed alarm could never be raised while commits fail. */
void core_remember(struct gateway *g, unsigned idx, const struct sensor_rt *before)
{
    for (unsigned i = 0; i < g->n_dirty; i++)
        if (g->dirty[i] == idx)
            return;
    g->shadow[g->n_dirty] = *before;
    g->dirty[g->n_dirty++] = idx;
}

/* Commits the tick (or, with force, whatever is open). A failed commit
 * rolls back, and the sensors' alarm state goes back with it. */
static void commit(struct gateway *g, bool force)
{
    int r = force ? store_commit(g->store) : store_flush(g->store, g->loop.now_ms, COMMIT_INTERVAL_MS);

    if (store_in_txn(g->store))
        return;
    if (r < 0)
        for (unsigned i = 0; i < g->n_dirty; i++)
            g->rt[g->dirty[i]] = g->shadow[i];
    g->n_dirty = 0;
}

static int alloc_shadow(struct gateway *g, unsigned n)
{
    free(g->shadow);
    free(g->dirty);
    g->shadow = calloc(n ? n : 1, sizeof(*g->shadow));
    g->dirty = calloc(n ? n : 1, sizeof(*g->dirty));
    g->n_dirty = 0;
    return g->shadow && g->dirty ? 0 : -ENOMEM;
}

/* One alarm transition: alarms row, event row and outbox row, in the tick's
 * transaction; published only after the commit. */
void core_emit_event_by(struct gateway *g, unsigned idx, int64_t ts_ms, enum quality q,
                          const struct rule_event *ev, const char *by)
{
    const struct cfg_sensor *s = &g->cfg.sensors[idx];
    const struct rule_result *res = &ev->r;
    int64_t *alarm_id = &g->rt[idx].alarm_id[ev->cond];
    const char *event = alarm_event_name(res->event), *cond = condition_name(ev->cond);
    char payload[1024];
    int64_t seq;
    int r;

    if (store_next_seq(g->store, &seq) < 0)
        return;
    if (res->event == EV_RAISED)
        r = store_alarm_open(g->store, s->name, cond, res->level, ts_ms, alarm_id);
    else if (res->event == EV_ACKED)
        r = store_alarm_ack(g->store, *alarm_id, by, ts_ms);
    else if (res->event == EV_REMINDER)
        r = 0; /* the alarm row does not change */
    else
        r = store_alarm_update(g->store, *alarm_id, res->level, event, ts_ms, res->level != LEVEL_NONE);
    if (r < 0)
        return;
    if (res->event == EV_RAISED || res->event == EV_ESCALATED)
        g->rt[idx].acked[ev->cond] = false; /* a more severe level needs a new acknowledgement */
    if (res->event == EV_RAISED || res->event == EV_ESCALATED || res->event == EV_REMINDER)
        g->rt[idx].told_ms[ev->cond] = g->loop.now_ms;
    if (res->event == EV_ACKED)
        g->rt[idx].acked[ev->cond] = true;
    /* value: the reading; for a rate, the change over the window; for a
     * fault, the run of bad samples (no unit) */
    struct alarm_msg m = {
        .seq = seq, .ts_ms = ts_ms, .alarm_id = *alarm_id, .sensor = s->name, .cls = s->cls,
        .lifeline = lifeline_names[s->lifeline], .condition = cond, .event = event,
        .level = level_name(res->level), .prev_level = level_name(res->prev_level),
        .unit = ev->cond == COND_FAULT ? "" : s->unit, .quality = quality_name(q),
        .value = ev->value, .has_value = true,
        .threshold = res->threshold, .has_threshold = res->event != EV_ACKED && res->event != EV_REMINDER,
        .by = res->event == EV_ACKED ? by : NULL,
        .maintenance = g->rt[idx].maint_until != 0,
    };
    int len = payload_alarm(&m, payload, sizeof(payload));
    if (len < 0) {
        log_err("core: sensor '%s': alarm payload does not fit %zu bytes", s->name, sizeof(payload));
        return;
    }
    if (store_add_event(g->store, seq, *alarm_id, ts_ms, event, payload) < 0 ||
        store_outbox_add(g->store, PRIO_ALARM, seq, g->alarm_topic, payload, (size_t)len, 1) < 0)
        return;
    log_info("alarm: sensor '%s' %s %s%s%s at %g %s (threshold %g, was %s), seq %lld", s->name, cond,
             event, res->level == LEVEL_NONE ? "" : " ", res->level == LEVEL_NONE ? "" : level_name(res->level),
             ev->value, m.unit, res->threshold, level_name(res->prev_level), (long long)seq);
    if (res->level == LEVEL_NONE)
        *alarm_id = 0;
}

static void emit_event(struct gateway *g, unsigned idx, int64_t ts_ms, enum quality q,
                       const struct rule_event *ev)
{
    core_emit_event_by(g, idx, ts_ms, q, ev, NULL);
}

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
                 quality_name(rt->quality), quality_name(smp->quality),
                 smp->quality == Q_GOOD ? "" : " (", smp->quality == Q_GOOD ? "" : sample_err_text(smp->err),
                 smp->quality == Q_GOOD ? "" : ")");
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
    unsigned n = rules_sample(&g->cfg.sensors[smp->sensor].rules, &rt->st, smp->value, smp->quality,
                              g->loop.now_ms, ev);
    if (n)
        core_remember(g, smp->sensor, &before);
    for (unsigned i = 0; i < n; i++)
        emit_event(g, smp->sensor, smp->ts_ms, smp->quality, &ev[i]);
    if (n)
        g->actions_due = true;
}

/* A sensor in maintenance (a technician with calibration gas) starts no action. */
static enum level threshold_level(void *ctx, unsigned sensor)
{
    struct gateway *g = ctx;
    return g->rt[sensor].maint_until ? LEVEL_NONE : g->rt[sensor].st.cond[COND_THRESHOLD].level;
}

/* Every execution of an action goes to the center on .../event. */
static void action_done(void *ctx, const struct cfg_action *a, int value, int err)
{
    struct gateway *g = ctx;
    char output[160], topic[320], payload[512];
    int len;

    if (a->out.gpio)
        snprintf(output, sizeof(output), "gpio:%s", a->out.gpio_line);
    else
        snprintf(output, sizeof(output), "modbus:%s:%u:%s:%u", a->bus_name, a->unit_id,
                 a->kind == REG_COIL ? "coil" : "holding", a->addr);
    len = payload_action(loop_wallclock_ms(), a->name, output, value,
                         err ? (err == -EIO ? "read-back differs" : a->out.gpio ? strerror(-err) : sample_err_text(err)) : NULL,
                         payload, sizeof(payload));
    if (len > 0 && uplink_topic(&g->cfg, "event", topic, sizeof(topic)) == 0)
        store_outbox_add(g->store, PRIO_STATUS, 0, topic, payload, (size_t)len, 1);
}

static void telemetry_out(void *ctx, const char *payload, size_t len)
{
    struct gateway *g = ctx;
    if (!uplink_send_direct(g->uplink, g->telemetry_topic, payload, len, g->cfg.mqtt.telemetry_qos))
        store_outbox_add(g->store, PRIO_TELEMETRY, 0, g->telemetry_topic, payload, len, g->cfg.mqtt.telemetry_qos);
}

/* Actions hold the buses: opened after them, closed before them. */
static int open_actions(struct gateway *g)
{
    int r = actions_open(&g->actions, &g->loop, &g->cfg, g->buses, g->gpio, threshold_level, action_done, g);
    if (r == 0)
        actions_update(g->actions); /* alarms that continue after a restart re-assert theirs */
    return r;
}

/* The status LEDs: online, and the alarms (unacknowledged or not). */
static void show_health(struct gateway *g)
{
    unsigned active = 0, unacked = 0;

    for (unsigned i = 0; i < g->cfg.n_sensors; i++) {
        for (int c = 0; c < COND_COUNT; c++) {
            if (!g->rt[i].alarm_id[c])
                continue;
            active++;
            unacked += !g->rt[i].acked[c];
        }
    }
    health_update(g->health, uplink_is_connected(g->uplink), active, unacked);
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
        show_health(g);
    }
    if (g->q.dropped != g->dropped_seen) {
        log_warn("core: %llu samples dropped: the core fell behind the buses",
                 (unsigned long long)(g->q.dropped - g->dropped_seen));
        g->dropped_seen = g->q.dropped;
    }
}

static void drain_samples(struct gateway *g)
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

/* A reload to a config of another size: the queue is empty (its workers
 * are stopped and drained). */
static int resize_queue(struct gateway *g, unsigned cap)
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
    commit(g, false);
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

/* An unacknowledged red alarm is told again every `remind`. */
static void remind(struct gateway *g, unsigned i)
{
    struct sensor_rt *rt = &g->rt[i];

    for (int c = 0; c < COND_COUNT; c++) {
        if (!rt->alarm_id[c] || rt->acked[c] || rt->maint_until || rt->st.cond[c].level != LEVEL_RED ||
            g->loop.now_ms - rt->told_ms[c] < g->cfg.sensors[i].remind_ms)
            continue;
        struct rule_event ev = {.cond = (enum condition)c, .value = rt->value,
                                .r = {.event = EV_REMINDER, .level = LEVEL_RED, .prev_level = LEVEL_RED}};
        core_remember(g, i, rt);
        emit_event(g, i, loop_wallclock_ms(), rt->quality, &ev);
    }
}

#define TIMER_STATE_VERSION 1u

/* The rule state of a sensor whose delay runs, saved with the tick, so a
 * restart continues the delay where it was instead of starting it over. */
static void save_timer(struct gateway *g, unsigned i)
{
    struct sensor_rt *rt = &g->rt[i];
    bool running = rules_timer_running(&g->cfg.sensors[i].rules, &rt->st);
    struct {
        uint32_t version, size;
        struct sensor_state st;
    } blob = {TIMER_STATE_VERSION, (uint32_t)sizeof(struct sensor_state), rt->st};

    if (running && store_timer_put(g->store, g->cfg.sensors[i].name, g->loop.now_ms, &blob, sizeof(blob)) == 0)
        rt->timer_saved = true;
    else if (!running && rt->timer_saved && store_timer_del(g->store, g->cfg.sensors[i].name) == 0)
        rt->timer_saved = false;
}

int core_sensor_index(const struct gateway *g, const char *name)
{
    for (unsigned i = 0; i < g->cfg.n_sensors; i++)
        if (strcmp(g->cfg.sensors[i].name, name) == 0)
            return (int)i;
    return -1;
}

/* The clock of the saved state was the old process's: the time the
 * gateway was down does not count (a delay is for a condition seen to hold). */
static void restore_timer(void *ctx, const char *sensor, int64_t saved_ms, const void *state, size_t len)
{
    struct gateway *g = ctx;
    struct {
        uint32_t version, size;
        struct sensor_state st;
    } blob;
    int i = core_sensor_index(g, sensor);

    if (i < 0 || len != sizeof(blob)) {
        store_timer_del(g->store, sensor);
        return;
    }
    memcpy(&blob, state, sizeof(blob));
    if (blob.version != TIMER_STATE_VERSION || blob.size != sizeof(struct sensor_state)) {
        store_timer_del(g->store, sensor);
        return;
    }
    g->rt[i].st = blob.st;
    rules_state_shift(&g->rt[i].st, g->loop.now_ms - saved_ms);
    g->rt[i].timer_saved = true;
    log_info("core: sensor '%s': its delay timers continue", sensor);
}

void core_set_maintenance(struct gateway *g, unsigned idx, int64_t until_ms)
{
    g->rt[idx].maint_until = until_ms;
    store_maintenance_put(g->store, g->cfg.sensors[idx].name,
                          until_ms ? loop_wallclock_ms() + (until_ms - g->loop.now_ms) : 0);
}

static void restore_maintenance(void *ctx, const char *sensor, int64_t until_wall_ms)
{
    struct gateway *g = ctx;
    int64_t left = until_wall_ms - loop_wallclock_ms();
    int i = core_sensor_index(g, sensor);

    if (i < 0 || left <= 0) {
        store_maintenance_put(g->store, sensor, 0);
        return;
    }
    g->rt[i].maint_until = g->loop.now_ms + left;
    log_info("core: sensor '%s': in maintenance for %llds more", sensor, (long long)(left / 1000));
}

static void restore_counter(void *ctx, const char *sensor, int64_t pulses)
{
    struct gateway *g = ctx;
    int i = core_sensor_index(g, sensor);

    if (i >= 0 && pulses > 0) {
        g->rt[i].pulses = (uint64_t)pulses;
        log_info("core: sensor '%s': its count continues from %lld pulses", sensor, (long long)pulses);
    }
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
        save_timer(g, i);
        remind(g, i);
        struct sensor_rt before = g->rt[i];
        if (!rules_stale(&g->cfg.sensors[i].rules, &g->rt[i].st, l->now_ms, &ev))
            continue;
        core_remember(g, i, &before);
        log_warn("core: sensor '%s': no sample for %llds: stale", g->cfg.sensors[i].name,
                 (long long)(g->cfg.sensors[i].rules.stale_ms / 1000));
        emit_event(g, i, loop_wallclock_ms(), Q_STALE, &ev);
    }
    if (ended) {
        uplink_status_changed(g->uplink);
        actions_update(g->actions);
    }
    trim(g);
    show_health(g);
}

/* ---- sensors and buses for one config ---- */

static void restore_alarm(void *ctx, const struct alarm_row *row)
{
    struct gateway *g = ctx;

    for (unsigned i = 0; i < g->cfg.n_sensors; i++) {
        if (strcmp(g->cfg.sensors[i].name, row->sensor) != 0)
            continue;
        for (int c = 0; c < COND_COUNT; c++) {
            if (strcmp(condition_name((enum condition)c), row->condition) != 0)
                continue;
            g->rt[i].alarm_id[c] = row->id;
            g->rt[i].acked[c] = row->acked;
            g->rt[i].told_ms[c] = g->loop.now_ms;
            g->rt[i].st.cond[c].level = row->level; /* (its timers, if saved, are restored) */
            log_info("core: sensor '%s': %s alarm %lld continues at %s", row->sensor,
                     row->condition, (long long)row->id, level_name(row->level));
        }
        return;
    }
}

/* Runtime state for cfg's sensors; a sensor also in old keeps its state. */
static struct sensor_rt *runtime_for(struct gateway *g, const struct config *cfg,
                                     const struct config *old, const struct sensor_rt *old_rt)
{
    struct sensor_rt *rt = calloc(cfg->n_sensors ? cfg->n_sensors : 1, sizeof(*rt));

    if (!rt)
        return NULL;
    for (unsigned i = 0; i < cfg->n_sensors; i++) {
        const char *name = cfg->sensors[i].name;
        bool kept = false;
        for (unsigned j = 0; old && j < old->n_sensors; j++) {
            if (strcmp(old->sensors[j].name, name) == 0) {
                rt[i] = old_rt[j];
                kept = true;
                break;
            }
        }
        if (kept)
            continue;
        rules_sensor_init(&rt[i].st, g->loop.now_ms);
        if (store_sensor_id(g->store, name, &rt[i].store_id) < 0) {
            free(rt);
            return NULL;
        }
    }
    return rt;
}

/* All workers are told first, then joined: stopping takes the longest
 * bus's current request, not the sum of them. */
static void buses_stop(struct gateway *g)
{
    gpio_close(g->gpio);
    g->gpio = NULL;
    for (unsigned i = 0; g->buses && i < g->cfg.n_buses; i++)
        bus_stop_request(&g->buses[i]);
    for (unsigned i = 0; g->buses && i < g->cfg.n_buses; i++)
        bus_stop(&g->buses[i]);
    free(g->buses);
    g->buses = NULL;
    config_field_free(&g->field);
}

static int buses_start(struct gateway *g)
{
    int r = config_field_build(&g->field, &g->cfg);
    if (r < 0)
        return r;
    r = gpio_open(&g->gpio, &g->loop, &g->field, &g->q, g->gen);
    if (r < 0)
        return r;
    g->buses = calloc(g->cfg.n_buses ? g->cfg.n_buses : 1, sizeof(*g->buses));
    if (!g->buses)
        return -ENOMEM;
    for (unsigned i = 0; i < g->cfg.n_buses; i++)
        g->buses[i].wake_fd = -1; /* so bus_stop on a bus never started closes nothing */
    for (unsigned i = 0; i < g->cfg.n_buses; i++)
        if ((r = bus_start(&g->buses[i], &g->field, i, &g->q, g->gen)) < 0)
            return r;
    return 0;
}

static int open_telemetry(struct gateway *g)
{
    if (uplink_topic(&g->cfg, "telemetry", g->telemetry_topic, sizeof(g->telemetry_topic)) < 0)
        return -ENAMETOOLONG;
    return telemetry_open(&g->telemetry, &g->cfg, telemetry_out, g);
}

static int open_uplink(struct gateway *g)
{
    struct uplink_identity id = {.boot = store_boot_count(g->store), .sensors = g->cfg.n_sensors,
                                 .maintenance = commands_maintenance_list, .ctx = g};

    if (uplink_topic(&g->cfg, "alarm", g->alarm_topic, sizeof(g->alarm_topic)) < 0 ||
        uplink_topic(&g->cfg, "reply/", g->reply_topic, sizeof(g->reply_topic)) < 0)
        return -ENAMETOOLONG;
    return uplink_open(&g->uplink, &g->loop, &g->cfg, g->store, &id, commands_on_message, g);
}

/* Sensors gone from the config take their open alarms with them: the
 * center is told they cleared, rather than left with alarms nobody closes. */
static void close_removed(struct gateway *g, const struct config *next)
{
    for (unsigned i = 0; i < g->cfg.n_sensors; i++) {
        bool kept = false;
        for (unsigned j = 0; j < next->n_sensors && !kept; j++)
            kept = strcmp(g->cfg.sensors[i].name, next->sensors[j].name) == 0;
        for (int c = 0; !kept && c < COND_COUNT; c++) {
            if (!g->rt[i].alarm_id[c])
                continue;
            core_remember(g, i, &g->rt[i]);
            struct rule_event ev = {.cond = (enum condition)c, .value = g->rt[i].value,
                                    .r = {.event = EV_CLEARED, .level = LEVEL_NONE,
                                          .prev_level = g->rt[i].st.cond[c].level}};
            log_info("config: sensor '%s' removed: its %s alarm is cleared",
                     g->cfg.sensors[i].name, condition_name((enum condition)c));
            emit_event(g, i, loop_wallclock_ms(), g->rt[i].quality, &ev);
        }
    }
}

void core_reload(struct gateway *g)
{
    struct config next;
    char err[CFG_ERR_MAX];

    if (config_load(g->cfg.path, &next, err, sizeof(err)) < 0) {
        log_err("config: reload refused, running config kept: %s", err);
        return;
    }
    if (strcmp(next.store.path, g->cfg.store.path) != 0)
        log_warn("config: [store] path change takes effect at the next restart");
    snprintf(next.store.path, sizeof(next.store.path), "%s", g->cfg.store.path);
    store_outbox_limits(g->store, next.store.outbox_max, next.store.outbox_max_bytes,
                        next.store.outbox_alarm_max);
    store_cache(g->store, next.store.cache_bytes);
    /* What the old workers read is still theirs to report. */
    actions_close(g->actions);
    g->actions = NULL;
    buses_stop(g);
    drain_samples(g);
    if (queue_cap(&next) != g->q.cap && resize_queue(g, queue_cap(&next)) < 0) {
        log_err("config: reload failed: no sample queue; stopping");
        config_free(&next);
        loop_stop(&g->loop);
        return;
    }
    ctl_buses_gone(g->ctl);
    telemetry_flush(g->telemetry, loop_wallclock_ms());
    telemetry_close(g->telemetry); /* it points into the old config */
    g->telemetry = NULL;
    commit(g, true);
    struct sensor_rt *rt = runtime_for(g, &next, &g->cfg, g->rt);
    if (!rt) {
        log_err("config: reload failed: out of memory or store error; stopping");
        config_free(&next);
        loop_stop(&g->loop);
        return;
    }
    close_removed(g, &next);
    commit(g, true); /* the shadows index the old sensors */
    log_open(next.gateway.log, next.gateway.log_level);
    bool relink = strcmp(next.gateway.id, g->cfg.gateway.id) != 0 ||
                  strcmp(next.gateway.site, g->cfg.gateway.site) != 0 ||
                  memcmp(&next.mqtt, &g->cfg.mqtt, sizeof(next.mqtt)) != 0 ||
                  next.n_sensors != g->cfg.n_sensors;
    if (relink) {
        /* no waiting for the PUBACK here: the loop must keep going */
        uplink_shutdown(g->uplink, 0);
        uplink_close(g->uplink);
        g->uplink = NULL;
    }
    config_free(&g->cfg);
    free(g->rt);
    g->cfg = next;
    g->rt = rt;
    g->gen++;
    if (alloc_shadow(g, g->cfg.n_sensors) < 0) {
        log_err("config: reload failed: out of memory; stopping");
        loop_stop(&g->loop);
        return;
    }
    if ((relink && open_uplink(g) < 0) || open_telemetry(g) < 0 || buses_start(g) < 0 ||
        open_actions(g) < 0) {
        log_err("config: reload failed to restart; stopping");
        loop_stop(&g->loop);
        return;
    }
    show_health(g);
    log_info("config: reloaded %s: %u buses, %u sensors", g->cfg.path, g->cfg.n_buses, g->cfg.n_sensors);
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
        char topic[320], payload[PATH_MAX + 128];
        int len = payload_store_reset(loop_wallclock_ms(), store_reset_path(g->store), payload, sizeof(payload));
        if (len > 0 && uplink_topic(&g->cfg, "event", topic, sizeof(topic)) == 0)
            store_outbox_add(g->store, PRIO_STATUS, 0, topic, payload, (size_t)len, 1);
    }
    g->rt = runtime_for(g, &g->cfg, NULL, NULL);
    if (!g->rt || alloc_shadow(g, g->cfg.n_sensors) < 0)
        return -ENOMEM;
    g->loop.now_ms = loop_clock_ms();
    if ((r = store_timers(g->store, restore_timer, g)) < 0 ||
        (r = store_active_alarms(g->store, restore_alarm, g)) < 0 ||
        (r = store_maintenance(g->store, restore_maintenance, g)) < 0 ||
        (r = store_counters(g->store, restore_counter, g)) < 0)
        return r;
    if ((r = open_queue(g, queue_cap(&g->cfg))) < 0)
        return r;
    if ((r = loop_timer_add(&g->loop, &g->reboot_timer, commands_on_reboot)) < 0 ||
        (r = loop_timer_add(&g->loop, &g->tick, on_tick)) < 0 ||
        (r = loop_timer_add(&g->loop, &g->tm_timer, on_tm_timer)) < 0 ||
        (r = loop_timer_set(&g->tick, COMMIT_INTERVAL_MS, COMMIT_INTERVAL_MS)) < 0)
        return r;
    if ((r = open_uplink(g)) < 0 || (r = open_telemetry(g)) < 0)
        return r;
    if ((r = buses_start(g)) < 0 || (r = open_actions(g)) < 0 ||
        (r = health_open(&g->health, &g->loop, &g->cfg, &g->gpio)) < 0)
        return r;
    show_health(g);
    if ((r = ctl_open(&g->ctl, g)) < 0)
        log_err("console: no control socket (%s): lifelinectl cannot reach this daemon", strerror(-r));
    loop_set_before_sleep(&g->loop, before_sleep, g);
    log_info("core: lifelined %s started: gateway %s/%s, %u buses, %u sensors, boot %u",
             LIFELINE_VERSION, g->cfg.gateway.site, g->cfg.gateway.id, g->cfg.n_buses,
             g->cfg.n_sensors, store_boot_count(g->store));
    char status[160];
    snprintf(status, sizeof(status), "gateway %.40s/%.40s, %u sensors, boot %u", g->cfg.gateway.site,
             g->cfg.gateway.id, g->cfg.n_sensors, store_boot_count(g->store));
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
    buses_stop(g);
    drain_samples(g);
    if (g->telemetry)
        telemetry_flush(g->telemetry, loop_wallclock_ms());
    telemetry_close(g->telemetry);
    if (g->store)
        commit(g, true);
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
