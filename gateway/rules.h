/* rules: the per-sensor alarm state machines. Pure: no I/O, no allocation,
 * time is passed in (monotonic ms), so tests drive it with an injected clock.
 *
 * A sensor has up to three conditions, each an alarm of its own: its level
 * thresholds, its rate of change (the same machine fed with the change over
 * a window), and a fault (the machine fed with the count of consecutive bad
 * samples, or stale when no sample came in time).
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
enum level {
    LEVEL_NONE = 0,
    LEVEL_BLUE,
    LEVEL_YELLOW,
    LEVEL_ORANGE,
    LEVEL_RED,
    LEVEL_COUNT
};
enum direction {
    DIR_HIGH,
    DIR_LOW
};

enum alarm_event {
    EV_NONE = 0,
    EV_RAISED,
    EV_ESCALATED,
    EV_DEESCALATED,
    EV_CLEARED,
    EV_ACKED,    /* acknowledged by the center or the console; the level is unchanged */
    EV_REMINDER, /* an unacknowledged red alarm, told again */
};

struct rule_cfg {
    enum direction dir;
    double limit[LEVEL_COUNT]; /* index by level; [0] unused */
    bool has[LEVEL_COUNT];
    double hysteresis;        /* as configured: absolute, or percent of each limit */
    double band[LEVEL_COUNT]; /* the hysteresis of each level, absolute (rules_prepare) */
    int64_t on_delay_ms;
    int64_t off_delay_ms;
    int on_count, off_count; /* consecutive good samples, besides the delays */
};

struct rule_state {
    enum level level;
    int64_t enter_since[LEVEL_COUNT]; /* -1: condition not holding */
    int64_t leave_since[LEVEL_COUNT];
    int enter_n[LEVEL_COUNT]; /* consecutive samples the condition held */
    int leave_n[LEVEL_COUNT];
};

struct rule_result {
    enum alarm_event event;
    enum level level; /* the new level */
    enum level prev_level;
    double threshold; /* limit of the level entered, or of the level left when clearing */
};

void rules_init(struct rule_state *st, enum level level);
/* Fills cfg->band from the hysteresis: absolute, or with pct, that percent of each limit. */
void rules_prepare(struct rule_cfg *cfg, bool pct);

/* Feed one sample. Returns true and fills *res when the level changed. */
bool rules_eval(const struct rule_cfg *cfg, struct rule_state *st, double value, enum quality q, int64_t now_ms,
                struct rule_result *res);

/* Checks the limits are ordered for the direction. Returns 0, or -1 with the
 * two offending levels in *bad_a (less severe) and *bad_b (more severe). */
int rules_check_order(const struct rule_cfg *cfg, enum level *bad_a, enum level *bad_b);

enum condition {
    COND_THRESHOLD,
    COND_RATE,
    COND_FAULT,
    COND_COUNT
};

#define RATE_POINTS 33 /* history kept for the rate: one point per 1/32 of the window */

struct sensor_rules {
    struct rule_cfg level;
    bool has_rate;
    struct rule_cfg rate; /* on the change over rate_window_ms: limit = +rate or -rate */
    int64_t rate_window_ms;
    struct rule_cfg fault; /* on the run of bad samples: limit = fault_after */
    int64_t stale_ms;      /* no sample for this long counts as fault_after bad ones */
};

struct sensor_state {
    struct rule_state cond[COND_COUNT];
    int64_t rate_t[RATE_POINTS];
    double rate_v[RATE_POINTS];
    unsigned rate_head, rate_n;
    int bad_run;
    int64_t last_sample_ms;
};

struct rule_event {
    enum condition cond;
    struct rule_result r;
    double value; /* what the condition saw: the reading, the change, or the bad run */
};

void rules_sensor_init(struct sensor_state *st, int64_t now_ms);
/* One sample through every condition; returns the events written to out. */
unsigned rules_sample(const struct sensor_rules *s, struct sensor_state *st, double value, enum quality q,
                      int64_t now_ms, struct rule_event out[COND_COUNT]);
/* No sample at all: raises the fault once the sensor has been silent for
 * stale_ms. Returns 0 or 1 event. */
unsigned rules_stale(const struct sensor_rules *s, struct sensor_state *st, int64_t now_ms, struct rule_event *out);
/* The change over the rate window as of the newest point (0 with one point). */
double rules_rate_delta(const struct sensor_rules *s, const struct sensor_state *st);

/* Whether a transition of some condition waits for a delay (or a count of
 * samples): the state is worth keeping across a restart. */
bool rules_timer_running(const struct sensor_rules *s, const struct sensor_state *st);
/* Moves every time in the state by `by` ms (to another monotonic clock). */
void rules_state_shift(struct sensor_state *st, int64_t by);

const char *condition_name(enum condition c);
const char *level_name(enum level l);
const char *alarm_event_name(enum alarm_event e);
extern const char *const level_names[];     /* NULL-terminated, by enum */
extern const char *const direction_names[]; /* NULL-terminated, by enum */

#endif
