/* core: the core's answers to front ends (core.h) that are not about
 * alarms: what runs, the gateway's status, history, outputs, buses and
 * messages to the center. Thin: each goes to the module that owns the
 * thing, and says -EAGAIN for a part being restarted by a reload. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core.h"
#include "gateway_int.h"
#include "payload.h"

#define REBOOT_DELAY_MS 1000

const struct config *core_config(const struct gateway *g)
{
    return &g->cfg;
}

struct loop *core_loop(struct gateway *g)
{
    return &g->loop;
}

int64_t core_uptime_ms(const struct gateway *g)
{
    return g->loop.now_ms - g->started_ms;
}

int core_sensor_index(const struct gateway *g, const char *name)
{
    for (unsigned i = 0; i < g->cfg.n_sensors; i++)
        if (strcmp(g->cfg.sensors[i].name, name) == 0)
            return (int)i;
    return -1;
}

int core_bus_index(const struct gateway *g, const char *name)
{
    for (unsigned i = 0; i < g->cfg.n_buses; i++)
        if (strcmp(g->cfg.buses[i].p.name, name) == 0)
            return (int)i;
    return -1;
}

int core_history(struct gateway *g, unsigned sensor, int64_t from_ms, int64_t to_ms, int limit, store_reading_fn fn,
                 void *ctx)
{
    if (sensor >= g->cfg.n_sensors)
        return -ENOENT;
    return store_history(g->store, g->rt[sensor].store_id, from_ms, to_ms, limit, fn, ctx);
}

int core_alarm_history(struct gateway *g, int limit, store_alarm_hist_fn fn, void *ctx)
{
    return store_recent_alarms(g->store, limit, fn, ctx);
}

static int replay_one(void *ctx, int64_t seq, const char *payload)
{
    struct gateway *g = ctx;
    return store_outbox_add(g->store, PRIO_REPLAY, seq, g->alarm_topic, payload, strlen(payload), 1);
}

/* Replayed events have their own priority, after new alarm events, and
 * never evict one (store_outbox.c); one replay at a time bounds them. */
int core_replay(struct gateway *g, int64_t from_seq, int64_t to_seq)
{
    struct outbox_stats ob;

    store_outbox_stats(g->store, &ob);
    if (ob.rows[PRIO_REPLAY] > 0)
        return -EBUSY;
    return store_events(g->store, from_seq, to_seq, replay_one, g);
}

void core_status(struct gateway *g, struct core_status *out)
{
    *out = (struct core_status){
        .uptime_s = core_uptime_ms(g) / 1000,
        .boot = store_boot_count(g->store),
        .active_alarms = core_active_alarms(g),
        .last_seq = store_last_seq(g->store),
        .store_bytes = store_used_bytes(g->store),
        .uplink_up = g->uplink != NULL,
        .uplink = {.state = "restarting"},
    };
    store_outbox_stats(g->store, &out->outbox);
    if (g->uplink)
        uplink_info(g->uplink, &out->uplink);
    health_memory(&out->mem);
}

int core_status_msg(struct gateway *g, struct status_msg *m, const char **names, unsigned max)
{
    if (!g->uplink)
        return -EAGAIN;
    uplink_status_fill(g->uplink, "online", m, names, max);
    return 0;
}

int core_send(struct gateway *g, const char *kind, const char *payload, size_t len)
{
    char topic[320];
    int r = uplink_topic(&g->cfg, kind, topic, sizeof(topic));

    return r < 0 ? r : store_outbox_add(g->store, PRIO_STATUS, 0, topic, payload, len, 1);
}

int core_reboot(struct gateway *g)
{
    return loop_timer_set(&g->reboot_timer, REBOOT_DELAY_MS, 0);
}

int core_uplink_reconnect(struct gateway *g)
{
    if (!g->uplink)
        return -EAGAIN;
    uplink_reconnect(g->uplink);
    return 0;
}

int core_output_index(const struct gateway *g, const char *name)
{
    return g->actions ? actions_find(g->actions, name) : -EAGAIN;
}

int core_output_info(const struct gateway *g, unsigned idx, struct action_info *out)
{
    if (!g->actions)
        return -EAGAIN;
    if (idx >= g->cfg.n_actions)
        return -ENOENT;
    actions_info(g->actions, idx, out);
    return 0;
}

int core_output_reset(struct gateway *g, const char *name)
{
    return g->actions ? actions_reset(g->actions, name) : -EAGAIN;
}

int core_output_hold(struct gateway *g, const char *name, int mode, const char *who)
{
    return g->actions ? actions_override(g->actions, name, mode, who) : -EAGAIN;
}

int core_output_pulse(struct gateway *g, const char *name, int64_t ms, const char *who)
{
    return g->actions ? actions_pulse(g->actions, name, ms, who) : -EAGAIN;
}

int core_bus_stats(struct gateway *g, unsigned b, struct bus_counts *total, uint64_t *reconnects,
                   struct slave_state *slaves, unsigned max)
{
    if (!g->buses)
        return -EAGAIN;
    if (b >= g->cfg.n_buses)
        return -ENOENT;
    unsigned n = bus_stats(&g->buses[b], total, slaves, max);
    if (reconnects)
        *reconnects = g->buses[b].reconnects;
    return (int)n;
}

int core_bus_request(struct gateway *g, unsigned b, const struct bus_write *w)
{
    if (!g->buses)
        return -EAGAIN;
    if (b >= g->cfg.n_buses)
        return -ENOENT;
    return bus_write(&g->buses[b], w);
}

unsigned core_bus_diag_result(struct gateway *g, unsigned b, uint16_t *regs, unsigned max)
{
    return g->buses && b < g->cfg.n_buses ? bus_diag_result(&g->buses[b], regs, max) : 0;
}
