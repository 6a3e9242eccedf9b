/* actions: local linkage. When any sensor of an action reaches its level
 * (threshold alarm), the action writes its output (a Modbus coil or
 * register) through the bus worker, at once and whatever the uplink does;
 * when none is at that level any more it writes the restore value, unless
 * latched. A pulse writes the value and restores it after the pulse. Every
 * execution and its result is logged. Core thread only. */
#ifndef LIFELINE_ACTIONS_H
#define LIFELINE_ACTIONS_H

#include <stdint.h>

#include "bus.h"
#include "config.h"
#include "loop.h"
#include "rules.h"

struct actions;

/* The threshold level of a sensor, as the core knows it. */
typedef enum level (*actions_level_fn)(void *ctx, unsigned sensor);
/* An execution's result: the value written (and read back), or err. */
typedef void (*actions_done_fn)(void *ctx, const struct cfg_action *action, int value, int err);

struct gpio;
int actions_open(struct actions **out, struct loop *l, const struct config *cfg, struct bus *buses, struct gpio *gpio,
                 actions_level_fn level_of, actions_done_fn done, void *ctx);
/* Re-evaluates every action (after alarm events, and at start). */
void actions_update(struct actions *a);
/* A SAMPLE_WRITE_DONE: true when it was one of ours. */
bool actions_write_done(struct actions *a, uint64_t id, int err);
/* Releases a latched action: writes its restore value if its condition is
 * over. 0, -ENOENT (no such action) or -EALREADY (not latched). */
int actions_reset(struct actions *a, const char *name);
void actions_close(struct actions *a);
/* The index of an action by name, or -1. */
int actions_find(const struct actions *a, const char *name);
/* The console's manual override: mode 1 holds the output on (the action's
 * value), 0 off (its restore value), whatever the rules say, until mode -1
 * gives it back to them (the output then gets what they say now).
 * 0, -ENOENT, or -EALREADY (-1 on an output not held). */
int actions_override(struct actions *a, const char *name, int mode, const char *who);
/* The console's test pulse: the output on (its value) for ms, then back to
 * the rules. 0, -ENOENT. */
int actions_pulse(struct actions *a, const char *name, int64_t ms, const char *who);
struct action_info {
    bool active, latched, pulsing;
    int overridden; /* -1, or the value the console holds it at */
    int value;      /* last written, -1 before any */
    int err;        /* its result (when done) */
    bool done;
};
void actions_info(const struct actions *a, unsigned i, struct action_info *out);

#endif
