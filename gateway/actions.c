#include "actions.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "gpio.h"
#include "log.h"

/* write ids of actions: high bit set, so they never meet the console's */
#define ACTION_ID_BASE (1ull << 63)

struct action_rt {
    bool active;       /* the condition holds (some sensor at or above the level) */
    bool latched;      /* fired with latch = yes: stays until reset */
    int64_t pulse_end; /* monotonic ms; 0: no pulse running */
    int overridden;    /* the console's: -1 none, else the value it holds the output at */
    int last_value;    /* the last value written, -1 before any */
    int last_err;      /* its result: 0 ok, else the error */
    bool done;         /* the last write has its result */
    bool manual_pulse; /* pulse_end is the console's test pulse */
};

struct actions {
    struct loop *loop;
    const struct config *cfg;
    struct bus *buses;
    struct gpio *gpio;
    actions_level_fn level_of;
    actions_done_fn done;
    void *ctx;
    struct action_rt *rt;
    struct loop_timer pulse;
    uint64_t next_id;
};

static void write_out(struct actions *a, unsigned i, int value)
{
    const struct cfg_action *c = &a->cfg->actions[i];

    if (c->out.gpio) { /* at once, on this thread: an ioctl, read back */
        int r = gpio_out_set(a->gpio, i, value);
        a->rt[i].last_value = value;
        a->rt[i].last_err = r;
        a->rt[i].done = true;
        if (r < 0)
            log_err("action '%s': GPIO %s = %d failed: %s", c->name, c->out.gpio_line, value,
                    r == -EIO ? "read-back differs" : strerror(-r));
        else
            log_info("action '%s': GPIO %s = %d", c->name, c->out.gpio_line, value);
        if (a->done)
            a->done(a->ctx, c, value, r);
        return;
    }
    /* the id carries the action and the value, so each result knows both */
    struct bus_write w = {.id =
                              ACTION_ID_BASE | ((uint64_t)i << 40) | ((uint64_t)value << 16) | (a->next_id++ & 0xffffu),
                          .unit = c->unit_id,
                          .kind = c->kind,
                          .addr = c->addr,
                          .count = 1,
                          .values = {(uint16_t)value},
                          .verify = true};
    int r = bus_write(&a->buses[c->bus], &w);

    a->rt[i].last_value = value;
    a->rt[i].last_err = r < 0 ? r : 0;
    a->rt[i].done = r < 0;
    if (r < 0 && a->done)
        a->done(a->ctx, c, value, r);
    if (r < 0)
        log_err("action '%s': cannot queue the write of %d to %s %u of unit %u on bus '%s': %s", c->name, value,
                reg_kind_names[c->kind], c->addr, c->unit_id, c->bus_name, strerror(-r));
    else
        log_info("action '%s': writing %d to %s %u of unit %u on bus '%s'", c->name, value, reg_kind_names[c->kind],
                 c->addr, c->unit_id, c->bus_name);
}

static void arm_pulse_timer(struct actions *a)
{
    int64_t first = 0;

    for (unsigned i = 0; i < a->cfg->n_actions; i++)
        if (a->rt[i].pulse_end && (!first || a->rt[i].pulse_end < first))
            first = a->rt[i].pulse_end;
    loop_timer_set(&a->pulse, first ? (first - loop_clock_ms() > 0 ? first - loop_clock_ms() : 1) : 0, 0);
}

static void on_pulse(struct loop *l, struct loop_timer *t)
{
    struct actions *a = container_of(t, struct actions, pulse);

    for (unsigned i = 0; i < a->cfg->n_actions; i++) {
        if (a->rt[i].pulse_end && a->rt[i].pulse_end <= l->now_ms) {
            a->rt[i].pulse_end = 0;
            if (a->rt[i].manual_pulse) { /* the console's test: back to what the rules say */
                a->rt[i].manual_pulse = false;
                a->rt[i].overridden = -1;
                write_out(a, i,
                          a->rt[i].active || a->rt[i].latched ? a->cfg->actions[i].value
                                                              : a->cfg->actions[i].out.restore);
            } else if (a->rt[i].overridden < 0) {
                write_out(a, i, a->cfg->actions[i].out.restore);
            }
        }
    }
    arm_pulse_timer(a);
}

void actions_update(struct actions *a)
{
    if (!a)
        return;
    for (unsigned i = 0; i < a->cfg->n_actions; i++) {
        const struct cfg_action *c = &a->cfg->actions[i];
        struct action_rt *rt = &a->rt[i];
        bool on = false;
        for (unsigned k = 0; k < c->n_sensors && !on; k++)
            on = a->level_of(a->ctx, c->sensors[k]) >= c->level;
        if (on == rt->active)
            continue;
        rt->active = on;
        if (rt->overridden >= 0) {
            log_info("action '%s': level %s %s; output held at %d by the console", c->name, level_name(c->level),
                     on ? "reached" : "left", rt->overridden);
            continue;
        }
        if (on) {
            log_info("action '%s': level %s reached", c->name, level_name(c->level));
            write_out(a, i, c->value);
            if (c->pulse_ms > 0) {
                rt->pulse_end = loop_clock_ms() + c->pulse_ms;
                arm_pulse_timer(a);
            }
            rt->latched = c->latch;
        } else if (rt->latched) {
            log_info("action '%s': condition over; latched, output kept until a reset", c->name);
        } else if (c->pulse_ms <= 0) {
            write_out(a, i, c->out.restore);
        }
    }
}

bool actions_write_done(struct actions *a, uint64_t id, int err)
{
    if (!a || !(id & ACTION_ID_BASE))
        return false;
    unsigned i = (unsigned)((id & ~ACTION_ID_BASE) >> 40);
    int value = (int)((id >> 16) & 0xffffu);
    if (i >= a->cfg->n_actions)
        return true;
    if (a->rt[i].last_value == value) {
        a->rt[i].last_err = err;
        a->rt[i].done = true;
    }
    if (err)
        log_err("action '%s': the write failed: %s", a->cfg->actions[i].name, sample_err_text(err));
    else
        log_info("action '%s': output written and read back", a->cfg->actions[i].name);
    if (a->done)
        a->done(a->ctx, &a->cfg->actions[i], value, err);
    return true;
}

int actions_reset(struct actions *a, const char *name)
{
    for (unsigned i = 0; a && i < a->cfg->n_actions; i++) {
        if (strcmp(a->cfg->actions[i].name, name) != 0)
            continue;
        if (!a->rt[i].latched)
            return -EALREADY;
        a->rt[i].latched = false;
        log_info("action '%s': latch reset", name);
        if (!a->rt[i].active)
            write_out(a, i, a->cfg->actions[i].out.restore);
        return 0;
    }
    return -ENOENT;
}

int actions_open(struct actions **out, struct loop *l, const struct config *cfg, struct bus *buses, struct gpio *gpio,
                 actions_level_fn level_of, actions_done_fn done, void *ctx)
{
    struct actions *a = calloc(1, sizeof(*a));

    if (!a)
        return -ENOMEM;
    a->loop = l;
    a->cfg = cfg;
    a->buses = buses;
    a->gpio = gpio;
    a->level_of = level_of;
    a->done = done;
    a->ctx = ctx;
    a->pulse.f.fd = -1;
    a->rt = calloc(cfg->n_actions ? cfg->n_actions : 1, sizeof(*a->rt));
    if (!a->rt || loop_timer_add(l, &a->pulse, on_pulse) < 0) {
        actions_close(a);
        return -ENOMEM;
    }
    for (unsigned i = 0; i < cfg->n_actions; i++)
        a->rt[i].overridden = a->rt[i].last_value = -1;
    *out = a;
    return 0;
}

void actions_close(struct actions *a)
{
    if (!a)
        return;
    loop_timer_del(a->loop, &a->pulse);
    free(a->rt);
    free(a);
}

int actions_find(const struct actions *a, const char *name)
{
    for (unsigned i = 0; a && i < a->cfg->n_actions; i++)
        if (strcmp(a->cfg->actions[i].name, name) == 0)
            return (int)i;
    return -1;
}

int actions_override(struct actions *a, const char *name, int mode, const char *who)
{
    int i = actions_find(a, name);

    if (i < 0)
        return -ENOENT;
    const struct cfg_action *c = &a->cfg->actions[i];
    struct action_rt *rt = &a->rt[i];
    if (mode < 0) {
        if (rt->overridden < 0)
            return -EALREADY;
        rt->overridden = -1;
        rt->manual_pulse = false;
        rt->pulse_end = 0;
        log_info("action '%s': back to automatic (%s)", name, who);
        /* what the rules say now */
        if (rt->active || rt->latched)
            write_out(a, (unsigned)i, c->value);
        else
            write_out(a, (unsigned)i, c->out.restore);
        return 0;
    }
    rt->overridden = mode ? c->value : c->out.restore;
    rt->pulse_end = 0;
    rt->manual_pulse = false;
    log_info("action '%s': output held %s (%d) by %s until released", name, mode ? "on" : "off", rt->overridden, who);
    write_out(a, (unsigned)i, rt->overridden);
    return 0;
}

int actions_pulse(struct actions *a, const char *name, int64_t ms, const char *who)
{
    int i = actions_find(a, name);

    if (i < 0)
        return -ENOENT;
    struct action_rt *rt = &a->rt[i];
    rt->overridden = a->cfg->actions[i].value;
    rt->manual_pulse = true;
    rt->pulse_end = loop_clock_ms() + ms;
    log_info("action '%s': test pulse of %lldms by %s", name, (long long)ms, who);
    write_out(a, (unsigned)i, rt->overridden);
    arm_pulse_timer(a);
    return 0;
}

void actions_info(const struct actions *a, unsigned i, struct action_info *out)
{
    const struct action_rt *rt = &a->rt[i];
    *out = (struct action_info){.active = rt->active,
                                .latched = rt->latched,
                                .pulsing = rt->pulse_end != 0,
                                .overridden = rt->overridden,
                                .value = rt->last_value,
                                .err = rt->last_err,
                                .done = rt->done};
}
