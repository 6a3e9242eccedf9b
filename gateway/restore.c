/* restore: the state that outlives a restart, read back at the start:
 * active alarms, running delay timers, maintenance and pulse counts. The
 * tick saves a running delay (core_save_timer) so that a restart continues
 * it where it was instead of starting it over. */
#include <string.h>

#include "core.h"
#include "gateway_int.h"
#include "log.h"

#define TIMER_STATE_VERSION 1u

struct timer_blob {
    uint32_t version, size;
    struct sensor_state st;
};

void core_save_timer(struct gateway *g, unsigned i)
{
    struct sensor_rt *rt = &g->rt[i];
    bool running = rules_timer_running(&g->cfg.sensors[i].rules, &rt->st);
    struct timer_blob blob = {TIMER_STATE_VERSION, (uint32_t)sizeof(struct sensor_state), rt->st};

    if (running && store_timer_put(g->store, g->cfg.sensors[i].name, g->loop.now_ms, &blob, sizeof(blob)) == 0)
        rt->timer_saved = true;
    else if (!running && rt->timer_saved && store_timer_del(g->store, g->cfg.sensors[i].name) == 0)
        rt->timer_saved = false;
}

/* The clock of the saved state was the old process's: the time the
 * gateway was down does not count (a delay is for a condition seen to hold). */
static void restore_timer(void *ctx, const char *sensor, int64_t saved_ms, const void *state, size_t len)
{
    struct gateway *g = ctx;
    struct timer_blob blob;
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

static void restore_alarm(void *ctx, const struct alarm_row *row)
{
    struct gateway *g = ctx;
    int i = core_sensor_index(g, row->sensor);

    if (i < 0)
        return;
    for (int c = 0; c < COND_COUNT; c++) {
        if (strcmp(condition_name((enum condition)c), row->condition) != 0)
            continue;
        g->rt[i].alarm_id[c] = row->id;
        g->rt[i].acked[c] = row->acked;
        g->rt[i].told_ms[c] = g->loop.now_ms;
        g->rt[i].st.cond[c].level = row->level; /* (its timers, if saved, are restored) */
        log_info("core: sensor '%s': %s alarm %lld continues at %s", row->sensor, row->condition, (long long)row->id,
                 level_name(row->level));
    }
}

int core_restore(struct gateway *g)
{
    int r;

    if ((r = store_timers(g->store, restore_timer, g)) < 0 ||
        (r = store_active_alarms(g->store, restore_alarm, g)) < 0 ||
        (r = store_maintenance(g->store, restore_maintenance, g)) < 0 ||
        (r = store_counters(g->store, restore_counter, g)) < 0)
        return r;
    return 0;
}
