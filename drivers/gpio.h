/* gpio: dry-contact inputs on the board's own GPIO lines, through libgpiod
 * (the v1.6 API of Debian 12). Read by the core loop, not a bus worker:
 * each line's event fd is in the loop's epoll set, so an edge wakes it at
 * once (never polled for edges). A software debounce reports a change only
 * once the line has been quiet for the sensor's `debounce`; the value is
 * also re-read and reported every second (so the sensor is never stale and
 * telemetry sees it). A line that cannot be had (no such line, busy, a chip
 * gone) reports comm_fault, with one log line saying why. */
#ifndef LIFELINE_GPIO_H
#define LIFELINE_GPIO_H

#include <stdbool.h>
#include <stdint.h>

#include "field.h"
#include "loop.h"
#include "sample.h"

struct gpio;

/* Opens the inputs of every point on a gpio bus, the GPIO outputs of
 * f->outputs and the board's LEDs; samples go to q (as from a bus worker,
 * with gen). f must outlive the gpio (until gpio_close). Returns 0 (lines
 * that fail report comm_fault) or -ENOMEM. */
int gpio_open(struct gpio **out, struct loop *l, const struct field *f, struct sampleq *q, uint32_t gen);
/* Sets the outputs to their safe state (each action's restore value) and
 * releases every line. */
void gpio_close(struct gpio *g);
/* Sets the GPIO output of f->outputs[action] (output = gpio:LINE) and
 * reads it back: 0, -EIO when it reads otherwise, or -errno. */
int gpio_out_set(struct gpio *g, unsigned action, int value);

/* The board's status LEDs (f->board led_run, led_alarm), requested at open
 * (off) and let go at close (off). Returns 0, or -ENODEV (no such LED). */
enum gpio_led {
    GPIO_LED_RUN,
    GPIO_LED_ALARM,
    GPIO_LEDS
};
int gpio_led_set(struct gpio *g, enum gpio_led led, int value);
bool gpio_has_led(const struct gpio *g, enum gpio_led led);

/* The debounce, exposed for unit tests. A level counts once it has held
 * for the debounce time, measured between the kernel's timestamps of the
 * edges (ns, CLOCK_MONOTONIC), so a burst of edges read late is judged as
 * it happened; a level that has not yet held is settled by the clock
 * (edge_settle). A counter counts the settled rises 0 -> 1. */
struct edge_filter {
    int level;         /* after the last edge seen */
    int64_t edge_ns;   /* that edge's time */
    int stable;        /* the last level that held */
    int64_t stable_ns; /* the time of the edge that began it */
    uint64_t rises;    /* settled 0 -> 1 */
};
void edge_init(struct edge_filter *f, int level, int64_t now_ns);
/* An edge to level at ts_ns; the level before it is settled first if it
 * held for debounce_ns. true when that settled a change. */
bool edge_event(struct edge_filter *f, int level, int64_t ts_ns, int64_t debounce_ns);
/* Settles the pending level if it has held until now_ns. */
bool edge_settle(struct edge_filter *f, int64_t now_ns, int64_t debounce_ns);
/* The line read level with no edge pending: an edge the kernel did not
 * queue (its queue holds 16) is taken as it is now. true: a change. */
bool edge_sync(struct edge_filter *f, int level, int64_t now_ns);
static inline bool edge_pending(const struct edge_filter *f)
{
    return f->level != f->stable;
}

/* A counter's rate over a sliding window of whole seconds (one bucket per
 * second). The window is always counted whole, so a restart reads low for
 * one window rather than high: a few pulses just after a start are not a
 * storm. */
struct pulse_rate {
    uint32_t *bucket;
    unsigned n, at;
    uint64_t sum;
};
int pulse_rate_init(struct pulse_rate *r, unsigned seconds);
void pulse_rate_free(struct pulse_rate *r);
/* One second's pulses; returns the pulses within the window. */
uint64_t pulse_rate_push(struct pulse_rate *r, uint32_t pulses);
/* The rate in units per rate_per seconds, from the window's pulses. */
double pulse_rate_value(const struct pulse_rate *r, double per_pulse, unsigned rate_per_s);

#endif
