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

#include "bus.h"
#include "config.h"
#include "loop.h"

struct gpio;

/* Opens the inputs of every sensor on a gpio bus; samples go to q (as from
 * a bus worker, with gen). Returns 0 (lines that fail report comm_fault)
 * or -ENOMEM. */
int gpio_open(struct gpio **out, struct loop *l, const struct config *cfg, struct sampleq *q, uint32_t gen);
/* Sets the outputs to their safe state (each action's restore value) and
 * releases every line. */
void gpio_close(struct gpio *g);
/* Sets the GPIO output of cfg->actions[action] (output = gpio:LINE) and
 * reads it back: 0, -EIO when it reads otherwise, or -errno. */
int gpio_out_set(struct gpio *g, unsigned action, int value);

/* The debounce state machine, exposed for unit tests: an edge at t_ms;
 * whether a stable level is due at now_ms, given the last edge and the
 * debounce. */
struct debounce {
    int reported;      /* last value reported, -1 before any */
    int64_t last_edge; /* monotonic ms of the last edge seen, -1: none pending */
};
void debounce_edge(struct debounce *d, int64_t t_ms);
/* true when the line has been quiet for debounce_ms: read it and report
 * (debounce_report) if it differs. */
bool debounce_due(const struct debounce *d, int64_t now_ms, int64_t debounce_ms);
/* Takes a settled value: true when it is a change to report. */
bool debounce_report(struct debounce *d, int value);

#endif
