/* rules: the per-sensor threshold state machine. Pure: no I/O, no allocation,
 * time is passed in (monotonic ms), so tests drive it with an injected clock.
 *
 * A level's condition (high: value >= limit; low: value <= limit) must hold
 * for on_delay before the sensor enters that level; a level is left once the
 * value is past its limit by more than the hysteresis band (high: value <
 * limit - hyst) for off_delay. Noise inside the band therefore never flaps. Samples of bad
 * quality hold the state: they neither raise nor clear, and restart the delays. */
#ifndef LIFELINE_RULES_H
#define LIFELINE_RULES_H

#include <stdbool.h>
#include <stdint.h>

#include "sample.h"

/* Most severe last so "more severe" is ">". */
enum level { LEVEL_NONE = 0, LEVEL_BLUE, LEVEL_YELLOW, LEVEL_ORANGE, LEVEL_RED, LEVEL_COUNT };
enum direction { DIR_HIGH, DIR_LOW };

enum alarm_event {
    EV_NONE = 0,
    EV_RAISED,
    EV_ESCALATED,
    EV_DEESCALATED,
    EV_CLEARED,
};

struct rule_cfg {
    enum direction dir;
    double limit[LEVEL_COUNT]; /* index by level; [0] unused */
    bool has[LEVEL_COUNT];
    double hysteresis;            /* as configured: absolute, or percent of each limit */
    double band[LEVEL_COUNT];     /* the hysteresis of each level, absolute (rules_prepare) */
    int64_t on_delay_ms;
    int64_t off_delay_ms;
    int on_count, off_count;      /* consecutive good samples, besides the delays */
};

struct rule_state {
    enum level level;
    int64_t enter_since[LEVEL_COUNT]; /* -1: condition not holding */
    int64_t leave_since[LEVEL_COUNT];
    int enter_n[LEVEL_COUNT];         /* consecutive samples the condition held */
    int leave_n[LEVEL_COUNT];
};

struct rule_result {
    enum alarm_event event;
    enum level level;      /* the new level */
    enum level prev_level;
    double threshold;      /* limit of the level entered, or of the level left when clearing */
};

void rules_init(struct rule_state *st, enum level level);
/* Fills cfg->band from the hysteresis: absolute, or with pct, that percent of each limit. */
void rules_prepare(struct rule_cfg *cfg, bool pct);

/* Feed one sample. Returns true and fills *res when the level changed. */
bool rules_eval(const struct rule_cfg *cfg, struct rule_state *st, double value,
                enum quality q, int64_t now_ms, struct rule_result *res);

/* Checks the limits are ordered for the direction. Returns 0, or -1 with the
 * two offending levels in *bad_a (less severe) and *bad_b (more severe). */
int rules_check_order(const struct rule_cfg *cfg, enum level *bad_a, enum level *bad_b);

const char *level_name(enum level l);
const char *alarm_event_name(enum alarm_event e);
extern const char *const level_names[];     /* NULL-terminated, by enum */
extern const char *const direction_names[]; /* NULL-terminated, by enum */

#endif
