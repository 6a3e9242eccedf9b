/* reload: what the core runs for one config (the sensors' runtime state,
 * the bus workers and GPIO, the actions, the uplink and telemetry), opened
 * at the start and replaced by a reload (SIGHUP, cmd/set, the console's
 * config commit) without a restart: a new config is loaded and checked
 * whole first, and a refused one leaves the running one as it was. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "ctl.h"
#include "core.h"
#include "gateway_int.h"
#include "gpio.h"
#include "log.h"
#include "payload.h"

struct sensor_rt *core_runtime_for(struct gateway *g, const struct config *cfg, const struct config *old,
                                   const struct sensor_rt *old_rt)
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
void core_buses_stop(struct gateway *g)
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

int core_buses_start(struct gateway *g)
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

static void telemetry_out(void *ctx, const char *payload, size_t len)
{
    struct gateway *g = ctx;
    if (!uplink_send_direct(g->uplink, g->telemetry_topic, payload, len, g->cfg.mqtt.telemetry_qos))
        store_outbox_add(g->store, PRIO_TELEMETRY, 0, g->telemetry_topic, payload, len, g->cfg.mqtt.telemetry_qos);
}

int core_open_telemetry(struct gateway *g)
{
    if (uplink_topic(&g->cfg, "telemetry", g->telemetry_topic, sizeof(g->telemetry_topic)) < 0)
        return -ENAMETOOLONG;
    return telemetry_open(&g->telemetry, &g->cfg, telemetry_out, g);
}

int core_open_uplink(struct gateway *g)
{
    struct uplink_identity id = {.boot = store_boot_count(g->store),
                                 .sensors = g->cfg.n_sensors,
                                 .maintenance = core_maintenance_list,
                                 .ctx = g};

    if (uplink_topic(&g->cfg, "alarm", g->alarm_topic, sizeof(g->alarm_topic)) < 0 ||
        uplink_topic(&g->cfg, "reply/", g->reply_topic, sizeof(g->reply_topic)) < 0)
        return -ENAMETOOLONG;
    return uplink_open(&g->uplink, &g->loop, &g->cfg, g->store, &id, commands_on_message, g);
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
    char output[160], payload[512];
    int len;

    if (a->out.gpio)
        snprintf(output, sizeof(output), "gpio:%s", a->out.gpio_line);
    else
        snprintf(output, sizeof(output), "modbus:%s:%u:%s:%u", a->bus_name, a->unit_id,
                 a->kind == REG_COIL ? "coil" : "holding", a->addr);
    len = payload_action(loop_wallclock_ms(), a->name, output, value,
                         err ? (err == -EIO   ? "read-back differs"
                                : a->out.gpio ? strerror(-err)
                                              : sample_err_text(err))
                             : NULL,
                         payload, sizeof(payload));
    if (len > 0)
        core_send(g, "event", payload, (size_t)len);
}

/* Actions hold the buses: opened after them, closed before them. */
int core_open_actions(struct gateway *g)
{
    int r = actions_open(&g->actions, &g->loop, &g->cfg, g->buses, g->gpio, threshold_level, action_done, g);
    if (r == 0)
        actions_update(g->actions); /* alarms that continue after a restart re-assert theirs */
    return r;
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
            struct rule_event ev = {
                .cond = (enum condition)c,
                .value = g->rt[i].value,
                .r = {.event = EV_CLEARED, .level = LEVEL_NONE, .prev_level = g->rt[i].st.cond[c].level}};
            log_info("config: sensor '%s' removed: its %s alarm is cleared", g->cfg.sensors[i].name,
                     condition_name((enum condition)c));
            core_emit_event_by(g, i, loop_wallclock_ms(), g->rt[i].quality, &ev, NULL);
        }
    }
}

/* The old config's workers are stopped and what they read is taken first:
 * it is still theirs to report. */
static int stop_old(struct gateway *g, const struct config *next)
{
    actions_close(g->actions);
    g->actions = NULL;
    core_buses_stop(g);
    core_drain_samples(g);
    if (core_queue_cap(next) != g->q.cap && core_resize_queue(g, core_queue_cap(next)) < 0) {
        log_err("config: reload failed: no sample queue; stopping");
        return -ENOMEM;
    }
    ctl_buses_gone(g->ctl);
    telemetry_flush(g->telemetry, loop_wallclock_ms());
    telemetry_close(g->telemetry); /* it points into the old config */
    g->telemetry = NULL;
    core_commit(g, true);
    return 0;
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
    store_outbox_limits(g->store, next.store.outbox_max, next.store.outbox_max_bytes, next.store.outbox_alarm_max);
    store_cache(g->store, next.store.cache_bytes);
    if (stop_old(g, &next) < 0) {
        config_free(&next);
        loop_stop(&g->loop);
        return;
    }
    struct sensor_rt *rt = core_runtime_for(g, &next, &g->cfg, g->rt);
    if (!rt) {
        log_err("config: reload failed: out of memory or store error; stopping");
        config_free(&next);
        loop_stop(&g->loop);
        return;
    }
    close_removed(g, &next);
    core_commit(g, true); /* the shadows index the old sensors */
    log_open(next.gateway.log, next.gateway.log_level);
    bool relink = strcmp(next.gateway.id, g->cfg.gateway.id) != 0 ||
                  strcmp(next.gateway.site, g->cfg.gateway.site) != 0 ||
                  memcmp(&next.mqtt, &g->cfg.mqtt, sizeof(next.mqtt)) != 0 || next.n_sensors != g->cfg.n_sensors;
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
    if (core_alloc_shadow(g, g->cfg.n_sensors) < 0) {
        log_err("config: reload failed: out of memory; stopping");
        loop_stop(&g->loop);
        return;
    }
    if ((relink && core_open_uplink(g) < 0) || core_open_telemetry(g) < 0 || core_buses_start(g) < 0 ||
        core_open_actions(g) < 0) {
        log_err("config: reload failed to restart; stopping");
        loop_stop(&g->loop);
        return;
    }
    core_show_health(g);
    log_info("config: reloaded %s: %u buses, %u sensors", g->cfg.path, g->cfg.n_buses, g->cfg.n_sensors);
}
