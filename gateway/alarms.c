/* alarms: the alarm events of the core, and the actions on alarms that
 * front ends ask for (acknowledge, maintenance), each once. An event is
 * stored (alarms row, event row, outbox row) in the tick's transaction and
 * published only after the commit; a commit that fails takes its events
 * with it, and the sensors' state goes back so they are made again. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "gateway_int.h"
#include "health.h"
#include "log.h"
#include "payload.h"

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

void core_commit(struct gateway *g, bool force)
{
    int r = force ? store_commit(g->store) : store_flush(g->store, g->loop.now_ms, COMMIT_INTERVAL_MS);

    if (store_in_txn(g->store))
        return;
    if (r < 0)
        for (unsigned i = 0; i < g->n_dirty; i++)
            g->rt[g->dirty[i]] = g->shadow[i];
    g->n_dirty = 0;
}

int core_alloc_shadow(struct gateway *g, unsigned n)
{
    free(g->shadow);
    free(g->dirty);
    g->shadow = calloc(n ? n : 1, sizeof(*g->shadow));
    g->dirty = calloc(n ? n : 1, sizeof(*g->dirty));
    g->n_dirty = 0;
    return g->shadow && g->dirty ? 0 : -ENOMEM;
}

void core_emit_event_by(struct gateway *g, unsigned idx, int64_t ts_ms, enum quality q, const struct rule_event *ev,
                        const char *by)
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
        .seq = seq,
        .ts_ms = ts_ms,
        .alarm_id = *alarm_id,
        .sensor = s->name,
        .cls = s->cls,
        .lifeline = lifeline_names[s->lifeline],
        .condition = cond,
        .event = event,
        .level = level_name(res->level),
        .prev_level = level_name(res->prev_level),
        .unit = ev->cond == COND_FAULT ? "" : s->unit,
        .quality = quality_name(q),
        .value = ev->value,
        .has_value = true,
        .threshold = res->threshold,
        .has_threshold = res->event != EV_ACKED && res->event != EV_REMINDER,
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
    log_info("alarm: sensor '%s' %s %s%s%s at %g %s (threshold %g, was %s), seq %lld", s->name, cond, event,
             res->level == LEVEL_NONE ? "" : " ", res->level == LEVEL_NONE ? "" : level_name(res->level), ev->value,
             m.unit, res->threshold, level_name(res->prev_level), (long long)seq);
    if (res->level == LEVEL_NONE)
        *alarm_id = 0;
}

int core_ack(struct gateway *g, int64_t alarm_id, const char *by, unsigned *sensor, enum level *level)
{
    for (unsigned i = 0; i < g->cfg.n_sensors; i++) {
        struct sensor_rt *rt = &g->rt[i];
        for (int k = 0; k < COND_COUNT; k++) {
            if (rt->alarm_id[k] != alarm_id)
                continue;
            if (rt->acked[k])
                return -EALREADY;
            enum level lv = rt->st.cond[k].level;
            struct rule_event ev = {
                .cond = (enum condition)k, .value = rt->value, .r = {.event = EV_ACKED, .level = lv, .prev_level = lv}};
            core_remember(g, i, rt);
            core_emit_event_by(g, i, loop_wallclock_ms(), rt->quality, &ev, by);
            if (!rt->acked[k])
                return -EIO;
            if (sensor)
                *sensor = i;
            if (level)
                *level = lv;
            return 0;
        }
    }
    return -ENOENT;
}

void core_set_maintenance(struct gateway *g, unsigned idx, int64_t until_ms)
{
    g->rt[idx].maint_until = until_ms;
    store_maintenance_put(g->store, g->cfg.sensors[idx].name,
                          until_ms ? loop_wallclock_ms() + (until_ms - g->loop.now_ms) : 0);
}

int core_maintenance(struct gateway *g, const char *sensor, const char *bus, int64_t ms, const char *by)
{
    const char *what = sensor ? "sensor" : "bus", *name = sensor ? sensor : bus;
    unsigned n = 0;

    if (!name || (sensor && bus))
        return -EINVAL;
    for (unsigned i = 0; i < g->cfg.n_sensors; i++) {
        const struct cfg_sensor *s = &g->cfg.sensors[i];
        if (strcmp(sensor ? s->name : s->bus_name, name) != 0)
            continue;
        core_set_maintenance(g, i, ms ? g->loop.now_ms + ms : 0);
        n++;
    }
    if (!n && (sensor || core_bus_index(g, bus) < 0))
        return -ENOENT;
    if (ms)
        log_info("core: %s '%s': in maintenance for %llds by %s (%u sensor%s)", what, name, (long long)(ms / 1000), by,
                 n, n == 1 ? "" : "s");
    else
        log_info("core: %s '%s': maintenance ended by %s (%u sensor%s)", what, name, by, n, n == 1 ? "" : "s");
    uplink_status_changed(g->uplink);
    actions_update(g->actions);
    return (int)n;
}

unsigned core_maintenance_list(void *ctx, const char **names, unsigned max)
{
    struct gateway *g = ctx;
    unsigned n = 0;

    for (unsigned i = 0; i < g->cfg.n_sensors && n < max; i++)
        if (g->rt[i].maint_until)
            names[n++] = g->cfg.sensors[i].name;
    return n;
}

void core_remind(struct gateway *g, unsigned i)
{
    struct sensor_rt *rt = &g->rt[i];

    for (int c = 0; c < COND_COUNT; c++) {
        if (!rt->alarm_id[c] || rt->acked[c] || rt->maint_until || rt->st.cond[c].level != LEVEL_RED ||
            g->loop.now_ms - rt->told_ms[c] < g->cfg.sensors[i].remind_ms)
            continue;
        struct rule_event ev = {.cond = (enum condition)c,
                                .value = rt->value,
                                .r = {.event = EV_REMINDER, .level = LEVEL_RED, .prev_level = LEVEL_RED}};
        core_remember(g, i, rt);
        core_emit_event_by(g, i, loop_wallclock_ms(), rt->quality, &ev, NULL);
    }
}

void core_sensor(const struct gateway *g, unsigned idx, struct core_sensor *out)
{
    const struct sensor_rt *rt = &g->rt[idx];

    *out = (struct core_sensor){
        .read = rt->ts_ms != 0,
        .value = rt->value,
        .quality = rt->quality,
        .ts_ms = rt->ts_ms,
        .maintenance = rt->maint_until != 0,
        .pulses = rt->pulses,
        .delay_running = rules_timer_running(&g->cfg.sensors[idx].rules, &rt->st),
    };
    if (rt->maint_until)
        out->maint_left_ms = rt->maint_until - g->loop.now_ms;
    for (int c = 0; c < COND_COUNT; c++) {
        if (!rt->alarm_id[c])
            continue;
        enum level lv = rt->st.cond[c].level;
        out->alarms[out->n_alarms++] =
            (struct core_alarm){.id = rt->alarm_id[c], .cond = (enum condition)c, .level = lv, .acked = rt->acked[c]};
        if (lv > out->level)
            out->level = lv;
        out->unacked |= !rt->acked[c];
    }
}

unsigned core_active_alarms(const struct gateway *g)
{
    unsigned n = 0;

    for (unsigned i = 0; i < g->cfg.n_sensors; i++)
        for (int c = 0; c < COND_COUNT; c++)
            n += g->rt[i].alarm_id[c] != 0;
    return n;
}

void core_show_health(struct gateway *g)
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
