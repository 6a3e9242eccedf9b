#include "health.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/watchdog.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "num.h"

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
    /* systemd's notification socket ($NOTIFY_SOCKET) and its watchdog */
    int sd_fd;
    struct sockaddr_un sd_addr;
    socklen_t sd_len;
    bool sd_failed, sd_watchdog;
    struct loop_timer sd_feed;
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
    case LED_ON:
        return 1;
    case LED_SLOW:
        return (now_ms / 500) % 2 == 0;
    case LED_FAST:
        return (now_ms / 125) % 2 == 0;
    default:
        return 0;
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

/* The value of "Key:   N kB" lines of a /proc file. */
static void proc_kb(const char *path, const char *const *keys, long long *const *out, int n)
{
    char line[256];
    FILE *f = fopen(path, "re");

    if (!f)
        return;
    while (fgets(line, sizeof(line), f))
        for (int i = 0; i < n; i++) {
            size_t k = strlen(keys[i]);
            if (strncmp(line, keys[i], k) == 0 && line[k] == ':')
                *out[i] = strtoll(line + k + 1, NULL, 10);
        }
    fclose(f);
}

void health_memory(struct health_mem *m)
{
    static const char *const mine[] = {"VmRSS", "VmHWM"}, *const sys[] = {"MemTotal", "MemAvailable"};

    *m = (struct health_mem){0};
    proc_kb("/proc/self/status", mine, (long long *const[]){&m->rss_kb, &m->peak_kb}, 2);
    proc_kb("/proc/meminfo", sys, (long long *const[]){&m->total_kb, &m->available_kb}, 2);
}

/* ---- systemd (Type=notify): the protocol of sd_notify(3), a datagram of
 * "KEY=VALUE" lines to $NOTIFY_SOCKET; by hand, as libsystemd would be a
 * library on the board for this alone ---- */

static void sd_send(struct health *h, const char *msg)
{
    if (h->sd_fd < 0)
        return;
    if (sendto(h->sd_fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&h->sd_addr, h->sd_len) < 0) {
        if (!h->sd_failed)
            log_warn("systemd: notify '%.20s': %s", msg, strerror(errno));
        h->sd_failed = true;
    } else {
        h->sd_failed = false;
    }
}

static void on_sd_feed(struct loop *l, struct loop_timer *t)
{
    (void)l;
    sd_send(container_of(t, struct health, sd_feed), "WATCHDOG=1");
}

static void open_systemd(struct health *h)
{
    const char *path = getenv("NOTIFY_SOCKET"), *usec = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");
    size_t n = path ? strlen(path) : 0;

    if (!path || (path[0] != '/' && path[0] != '@') || n < 2 || n >= sizeof(h->sd_addr.sun_path))
        return;
    h->sd_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (h->sd_fd < 0) {
        log_err("systemd: socket: %s", strerror(errno));
        return;
    }
    h->sd_addr.sun_family = AF_UNIX;
    memcpy(h->sd_addr.sun_path, path, n);
    if (path[0] == '@')
        h->sd_addr.sun_path[0] = '\0'; /* an abstract socket */
    h->sd_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
    /* WatchdogSec=: a keep-alive at half the interval, from the core loop */
    long long us = 0, for_pid = 0;
    if (!usec || num_parse_ll(usec, 1, INT64_MAX, &us) < 0 ||
        (pid && (num_parse_ll(pid, 1, INT32_MAX, &for_pid) < 0 || for_pid != (long long)getpid())))
        return;
    int64_t every = us / 2000 > 0 ? us / 2000 : 1;
    if (loop_timer_add(h->loop, &h->sd_feed, on_sd_feed) < 0 || loop_timer_set(&h->sd_feed, every, every) < 0) {
        log_err("systemd: no timer for the watchdog keep-alive");
        return;
    }
    h->sd_watchdog = true;
    log_info("systemd: watchdog %lldms, kept alive every %lldms by the core loop", us / 1000, (long long)every);
}

void health_ready(struct health *h, const char *status)
{
    char msg[256];

    if (!h)
        return;
    snprintf(msg, sizeof(msg), "READY=1\nSTATUS=%s\nMAINPID=%ld", status, (long)getpid());
    sd_send(h, msg);
    if (h->sd_watchdog)
        on_sd_feed(h->loop, &h->sd_feed);
}

int health_open(struct health **out, struct loop *l, const struct config *cfg, struct gpio **gpio)
{
    struct health *h = calloc(1, sizeof(*h));

    if (!h)
        return -ENOMEM;
    h->loop = l;
    h->cfg = cfg;
    h->gpio = gpio;
    h->wd_fd = h->sd_fd = -1;
    h->blink.f.fd = h->feed.f.fd = h->sd_feed.f.fd = -1;
    if (loop_timer_add(l, &h->blink, on_blink) < 0) {
        free(h);
        return -ENOMEM;
    }
    if (cfg->board.watchdog[0])
        open_watchdog(h);
    open_systemd(h);
    *out = h;
    return 0;
}

void health_close(struct health *h)
{
    if (!h)
        return;
    sd_send(h, "STOPPING=1");
    if (h->sd_fd >= 0)
        close(h->sd_fd);
    loop_timer_del(h->loop, &h->sd_feed);
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
