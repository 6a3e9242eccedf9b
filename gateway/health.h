/* health: what the board shows and guards. The status LEDs ([board]
 * led_run, led_alarm) tell a technician at the cabinet what the center sees:
 *   run    on: connected to the broker; slow blink (1 Hz): not connected;
 *          off: stopped cleanly (after a crash the line keeps its value)
 *   alarm  off: no active alarm; on: alarms, all acknowledged;
 *          fast blink (4 Hz): an alarm nobody has acknowledged
 * The watchdog ([board] watchdog) is fed by a timer of the core loop, so a
 * loop that stalls (a blocking call, a deadlock, a livelock in a callback)
 * stops feeding it and the board resets after its timeout. A clean stop
 * disarms it (the magic close), so stopping the service does not reset the
 * board; a crash does not, and the board resets unless the daemon is back
 * within the timeout (systemd restarts it).
 * Under systemd (Type=notify, $NOTIFY_SOCKET) it says READY once the core
 * runs, STOPPING at a clean stop, and with WatchdogSec= ($WATCHDOG_USEC)
 * sends the keep-alive from a core loop timer at half the interval: a loop
 * that stalls is killed and restarted by systemd. */
#ifndef LIFELINE_HEALTH_H
#define LIFELINE_HEALTH_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "gpio.h"
#include "loop.h"

enum led_pattern {
    LED_OFF,
    LED_ON,
    LED_SLOW,
    LED_FAST
};
enum led_pattern led_run_pattern(bool online);
enum led_pattern led_alarm_pattern(unsigned active, unsigned unacked);
/* The LED's level at monotonic now_ms: slow is 500 ms on, 500 off; fast 125/125. */
int led_level(enum led_pattern p, int64_t now_ms);

/* Memory now, from /proc (kB; 0 when it cannot be read): the daemon's
 * resident set and its peak, and the system's total and available. */
struct health_mem {
    long long rss_kb, peak_kb, total_kb, available_kb;
};
void health_memory(struct health_mem *m);

struct health;
/* gpio: where the LED lines are (the core's pointer: a reload replaces it). */
int health_open(struct health **out, struct loop *l, const struct config *cfg, struct gpio **gpio);
/* The gateway's state now: sets the LEDs (and blinks them as long as needed). */
void health_update(struct health *h, bool online, unsigned active, unsigned unacked);
/* Tells systemd the daemon is up (READY=1, with a one-line status). */
void health_ready(struct health *h, const char *status);
/* Disarms and closes the watchdog (a clean stop); tells systemd STOPPING. */
void health_close(struct health *h);

#endif
