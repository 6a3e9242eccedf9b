#include "health.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/watchdog.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "log.h"

#define BLINK_TICK_MS 125

struct health {
    struct loop *loop;
    const struct config *cfg;
    struct gpio **gpio;
    enum led_pattern pattern[GPIO_LEDS];
    struct loop_timer blink;
    bool blinking;
    int wd_fd;
    struct loop_timer feed;
};

enum led_pattern led_run_pattern(bool online)
{
    return online ? LED_ON : LED_SLOW;
}

enum led_pattern led_alarm_pattern(unsigned active, unsigned unacked)
{
    return unacked ? LED_FAST : active ? LED_ON : LED_OFF;
}

int led_level(enum led_pattern p, int64_t now_ms)
{
    switch (p) {
    case LED_ON: return 1;
    case LED_SLOW: return (now_ms / 500) % 2 == 0;
    case LED_FAST: return (now_ms / 125) % 2 == 0;
    default: return 0;
    }
}

static void show(struct health *h)
{
    bool blink = false;

    for (int i = 0; i < GPIO_LEDS; i++) {
        gpio_led_set(*h->gpio, (enum gpio_led)i, led_level(h->pattern[i], loop_clock_ms()));
        blink |= gpio_has_led(*h->gpio, (enum gpio_led)i) && (h->pattern[i] == LED_SLOW || h->pattern[i] == LED_FAST);
    }
    /* the timer runs only while something blinks */
    if (blink != h->blinking) {
        h->blinking = blink;
        loop_timer_set(&h->blink, blink ? BLINK_TICK_MS : 0, blink ? BLINK_TICK_MS : 0);
    }
}

static void on_blink(struct loop *l, struct loop_timer *t)
{
    (void)l;
    show(container_of(t, struct health, blink));
}

void health_update(struct health *h, bool online, unsigned active, unsigned unacked)
{
    if (!h)
        return;
    h->pattern[GPIO_LED_RUN] = led_run_pattern(online);
    h->pattern[GPIO_LED_ALARM] = led_alarm_pattern(active, unacked);
    show(h);
}

/* The loop is alive: this timer fired. */
static void on_feed(struct loop *l, struct loop_timer *t)
{
    struct health *h = container_of(t, struct health, feed);

    (void)l;
    if (ioctl(h->wd_fd, WDIOC_KEEPALIVE, 0) < 0)
        log_err("watchdog: %s: keepalive: %s", h->cfg->board.watchdog, strerror(errno));
}

static void open_watchdog(struct health *h)
{
    const struct cfg_board *b = &h->cfg->board;
    int timeout = (int)(b->watchdog_timeout_ms / 1000);

    h->wd_fd = open(b->watchdog, O_WRONLY | O_CLOEXEC);
    if (h->wd_fd < 0) {
        log_err("watchdog: board %s: watchdog %s: %s; the board runs without it", b->path, b->watchdog,
                strerror(errno));
        return;
    }
    if (ioctl(h->wd_fd, WDIOC_SETTIMEOUT, &timeout) < 0)
        log_warn("watchdog: %s: cannot set a %ds timeout (%s): it keeps its own", b->watchdog,
                 (int)(b->watchdog_timeout_ms / 1000), strerror(errno));
    if (ioctl(h->wd_fd, WDIOC_GETTIMEOUT, &timeout) < 0 || timeout < 1)
        timeout = (int)(b->watchdog_timeout_ms / 1000);
    /* three feeds per timeout: one late tick is not a reset */
    int64_t every = timeout * 1000LL / 3;
    if (loop_timer_add(h->loop, &h->feed, on_feed) < 0 || loop_timer_set(&h->feed, every, every) < 0) {
        log_err("watchdog: no timer: closing it");
        if (write(h->wd_fd, "V", 1) != 1)
            log_warn("watchdog: %s: magic close: %s", b->watchdog, strerror(errno));
        close(h->wd_fd);
        h->wd_fd = -1;
        return;
    }
    on_feed(h->loop, &h->feed);
    log_info("watchdog: %s armed, %ds timeout, fed every %lldms by the core loop", b->watchdog, timeout,
             (long long)every);
}

int health_open(struct health **out, struct loop *l, const struct config *cfg, struct gpio **gpio)
{
    struct health *h = calloc(1, sizeof(*h));

    if (!h)
        return -ENOMEM;
    h->loop = l;
    h->cfg = cfg;
    h->gpio = gpio;
    h->wd_fd = -1;
    h->blink.f.fd = h->feed.f.fd = -1;
    if (loop_timer_add(l, &h->blink, on_blink) < 0) {
        free(h);
        return -ENOMEM;
    }
    if (cfg->board.watchdog[0])
        open_watchdog(h);
    *out = h;
    return 0;
}

void health_close(struct health *h)
{
    if (!h)
        return;
    if (h->wd_fd >= 0) {
        /* the magic close: a clean stop is not a hang */
        if (write(h->wd_fd, "V", 1) != 1)
            log_warn("watchdog: %s: magic close: %s", h->cfg->board.watchdog, strerror(errno));
        close(h->wd_fd);
        log_info("watchdog: %s disarmed (clean stop)", h->cfg->board.watchdog);
    }
    loop_timer_del(h->loop, &h->feed);
    loop_timer_del(h->loop, &h->blink);
    free(h);
}
