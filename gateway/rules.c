#include "rules.h"

#include <stddef.h>

const char *const level_names[] = {"none", "blue", "yellow", "orange", "red", NULL};
const char *const direction_names[] = {"high", "low", NULL};

const char *level_name(enum level l)
{
    return (unsigned)l < LEVEL_COUNT ? level_names[l] : "?";
}

const char *alarm_event_name(enum alarm_event e)
{
    static const char *const n[] = {"none", "raised", "escalated", "deescalated", "cleared", "acked", "reminder"};
    return (unsigned)e <= EV_REMINDER ? n[e] : "?";
}

void rules_init(struct rule_state *st, enum level level)
{
    st->level = level;
    for (int i = 0; i < LEVEL_COUNT; i++) {
        st->enter_since[i] = -1;
        st->leave_since[i] = -1;
        st->enter_n[i] = st->leave_n[i] = 0;
    }
}

void rules_prepare(struct rule_cfg *cfg, bool pct)
{
    for (int l = 0; l < LEVEL_COUNT; l++)
        cfg->band[l] = pct ? cfg->limit[l] * cfg->hysteresis / 100.0 : cfg->hysteresis;
    for (int l = 0; l < LEVEL_COUNT; l++)
        if (cfg->band[l] < 0)
            cfg->band[l] = -cfg->band[l];
}

static void track(int64_t *since, int *n, bool holds, int64_t now)
{
    if (!holds) {
        *since = -1;
        *n = 0;
    } else {
        if (*since < 0)
            *since = now;
        (*n)++;
    }
}

/* The condition held long enough: for the delay and for the count of samples. */
static bool held(int64_t since, int n, int64_t now, int64_t delay, int count)
{
    return since >= 0 && now - since >= delay && n >= count;
}

bool rules_eval(const struct rule_cfg *cfg, struct rule_state *st, double value, enum quality q, int64_t now_ms,
                struct rule_result *res)
{
    enum level next = st->level;

    if (q != Q_GOOD) {
        rules_init(st, st->level);
        return false;
    }
    for (int l = LEVEL_BLUE; l < LEVEL_COUNT; l++) {
        if (!cfg->has[l])
            continue;
        double lim = cfg->limit[l];
        bool enter = cfg->dir == DIR_HIGH ? value >= lim : value <= lim;
        /* strictly past the band: with no hysteresis, a value resting on the
         * limit (a status bit at 1 with red = 1) stays in its level */
        bool leave = cfg->dir == DIR_HIGH ? value < lim - cfg->band[l] : value > lim + cfg->band[l];
        track(&st->enter_since[l], &st->enter_n[l], enter, now_ms);
        track(&st->leave_since[l], &st->leave_n[l], leave, now_ms);
    }
    /* Up: the most severe level whose condition held for on_delay. */
    for (int l = LEVEL_RED; l > (int)st->level; l--) {
        if (cfg->has[l] && held(st->enter_since[l], st->enter_n[l], now_ms, cfg->on_delay_ms, cfg->on_count)) {
            next = (enum level)l;
            break;
        }
    }
    /* Down: leave the current level once it has been left for off_delay, to
     * the most severe lower level not also left. */
    /* (a level whose limit a reload removed is left at once) */
    if (next == st->level && st->level > LEVEL_NONE &&
        (!cfg->has[st->level] ||
         held(st->leave_since[st->level], st->leave_n[st->level], now_ms, cfg->off_delay_ms, cfg->off_count))) {
        next = LEVEL_NONE;
        for (int l = (int)st->level - 1; l > LEVEL_NONE; l--) {
            if (cfg->has[l] && !held(st->leave_since[l], st->leave_n[l], now_ms, cfg->off_delay_ms, cfg->off_count)) {
                next = (enum level)l;
                break;
            }
        }
    }
    if (next == st->level)
        return false;

    res->prev_level = st->level;
    res->level = next;
    if (next > st->level) {
        res->event = st->level == LEVEL_NONE ? EV_RAISED : EV_ESCALATED;
        res->threshold = cfg->limit[next];
    } else {
        res->event = next == LEVEL_NONE ? EV_CLEARED : EV_DEESCALATED;
        res->threshold = cfg->limit[next == LEVEL_NONE ? st->level : next];
    }
    st->level = next;
    return true;
}

int rules_check_order(const struct rule_cfg *cfg, enum level *bad_a, enum level *bad_b)
{
    int prev = LEVEL_NONE;

    for (int l = LEVEL_BLUE; l < LEVEL_COUNT; l++) {
        if (!cfg->has[l])
            continue;
        if (prev != LEVEL_NONE) {
            bool ok = cfg->dir == DIR_HIGH ? cfg->limit[l] > cfg->limit[prev] : cfg->limit[l] < cfg->limit[prev];
            if (!ok) {
                *bad_a = (enum level)prev;
                *bad_b = (enum level)l;
                return -1;
            }
        }
        prev = l;
    }
    return 0;
}

/* ---- a sensor's three conditions ---- */

const char *condition_name(enum condition c)
{
    static const char *const n[] = {"threshold", "rate", "fault"};
    return (unsigned)c < COND_COUNT ? n[c] : "?";
}

void rules_sensor_init(struct sensor_state *st, int64_t now_ms)
{
    for (int c = 0; c < COND_COUNT; c++)
        rules_init(&st->cond[c], LEVEL_NONE);
    st->rate_head = st->rate_n = 0;
    st->bad_run = 0;
    st->last_sample_ms = now_ms;
}

/* Keeps a point at most every window/32, so the history is bounded and the
 * change is measured over the window to within 1/32 of it. */
static void rate_add(const struct sensor_rules *s, struct sensor_state *st, double v, int64_t now)
{
    int64_t step = s->rate_window_ms / (RATE_POINTS - 1);
    unsigned newest = (st->rate_head + RATE_POINTS - 1) % RATE_POINTS;

    if (st->rate_n && now - st->rate_t[newest] < step) {
        st->rate_v[newest] = v; /* the newest point follows the latest value */
        return;
    }
    st->rate_t[st->rate_head] = now;
    st->rate_v[st->rate_head] = v;
    st->rate_head = (st->rate_head + 1) % RATE_POINTS;
    if (st->rate_n < RATE_POINTS)
        st->rate_n++;
}

double rules_rate_delta(const struct sensor_rules *s, const struct sensor_state *st)
{
    unsigned newest = (st->rate_head + RATE_POINTS - 1) % RATE_POINTS;
    unsigned oldest = (st->rate_head + RATE_POINTS - st->rate_n) % RATE_POINTS;

    if (st->rate_n < 2)
        return 0;
    /* the oldest point still inside the window */
    int64_t from = st->rate_t[newest] - s->rate_window_ms;
    while (oldest != newest && st->rate_t[oldest] < from)
        oldest = (oldest + 1) % RATE_POINTS;
    return st->rate_v[newest] - st->rate_v[oldest];
}

static unsigned run(const struct rule_cfg *cfg, struct rule_state *rs, enum condition c, double v, enum quality q,
                    int64_t now, struct rule_event *out)
{
    if (!rules_eval(cfg, rs, v, q, now, &out->r))
        return 0;
    out->cond = c;
    out->value = v;
    return 1;
}

unsigned rules_sample(const struct sensor_rules *s, struct sensor_state *st, double value, enum quality q,
                      int64_t now_ms, struct rule_event out[COND_COUNT])
{
    unsigned n = 0;

    st->last_sample_ms = now_ms;
    st->bad_run = q == Q_GOOD ? 0 : st->bad_run + 1;
    n += run(&s->level, &st->cond[COND_THRESHOLD], COND_THRESHOLD, value, q, now_ms, &out[n]);
    if (s->has_rate) {
        if (q == Q_GOOD)
            rate_add(s, st, value, now_ms);
        n += run(&s->rate, &st->cond[COND_RATE], COND_RATE, rules_rate_delta(s, st), q, now_ms, &out[n]);
    }
    n += run(&s->fault, &st->cond[COND_FAULT], COND_FAULT, st->bad_run, Q_GOOD, now_ms, &out[n]);
    return n;
}

unsigned rules_stale(const struct sensor_rules *s, struct sensor_state *st, int64_t now_ms, struct rule_event *out)
{
    if (s->stale_ms <= 0 || now_ms - st->last_sample_ms < s->stale_ms)
        return 0;
    for (int l = LEVEL_BLUE; l < LEVEL_COUNT; l++)
        if (s->fault.has[l] && st->bad_run < s->fault.limit[l])
            st->bad_run = (int)s->fault.limit[l];
    return run(&s->fault, &st->cond[COND_FAULT], COND_FAULT, st->bad_run, Q_GOOD, now_ms, out);
}

/* A delay of some condition is running: a transition waits for time (or
 * more samples) to pass. */
static bool waiting(const struct rule_cfg *cfg, const struct rule_state *st)
{
    for (int l = (int)st->level + 1; l < LEVEL_COUNT; l++)
        if (cfg->has[l] && st->enter_since[l] >= 0)
            return true;
    return st->level > LEVEL_NONE && st->leave_since[st->level] >= 0;
}

bool rules_timer_running(const struct sensor_rules *s, const struct sensor_state *st)
{
    return waiting(&s->level, &st->cond[COND_THRESHOLD]) || (s->has_rate && waiting(&s->rate, &st->cond[COND_RATE])) ||
           waiting(&s->fault, &st->cond[COND_FAULT]);
}

static void shift(int64_t *t, int64_t by)
{
    if (*t >= 0)
        *t += by;
}

void rules_state_shift(struct sensor_state *st, int64_t by)
{
    for (int c = 0; c < COND_COUNT; c++) {
        for (int l = 0; l < LEVEL_COUNT; l++) {
            shift(&st->cond[c].enter_since[l], by);
            shift(&st->cond[c].leave_since[l], by);
        }
    }
    for (int i = 0; i < RATE_POINTS; i++)
        st->rate_t[i] += by;
    st->last_sample_ms += by;
}
