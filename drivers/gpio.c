#include "gpio.h"

#include <errno.h>
#include <gpiod.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>

#include "log.h"

#define GPIO_CONSUMER "lifelined"
#define GPIO_REREAD_MS 1000

void debounce_edge(struct debounce *d, int64_t t_ms)
{
    d->last_edge = t_ms;
}

bool debounce_due(const struct debounce *d, int64_t now_ms, int64_t debounce_ms)
{
    return d->last_edge >= 0 && now_ms - d->last_edge >= debounce_ms;
}

bool debounce_report(struct debounce *d, int value)
{
    d->last_edge = -1;
    if (value == d->reported)
        return false;
    d->reported = value;
    return true;
}

struct gpio_in {
    struct gpio *gp;
    unsigned sensor;
    struct gpiod_line *line; /* NULL: not had; comm_fault */
    int err;
    struct loop_fd fd;
    struct debounce db;
};

struct gpio_out {
    struct gpiod_line *line; /* NULL: not had */
    int err;
};

struct gpio {
    struct loop *loop;
    struct gpio_out *out;  /* by action index; only gpio ones used */
    const struct config *cfg;
    struct sampleq *q;
    uint32_t gen;
    struct gpio_in *in;
    unsigned n;
    struct loop_timer settle;  /* the next debounce that falls due */
    struct loop_timer reread;  /* every second: each input's level */
};

static void emit(struct gpio *gp, const struct gpio_in *in, int value, int err)
{
    struct sample s = {.kind = SAMPLE_VALUE, .sensor = in->sensor, .bus = gp->cfg->sensors[in->sensor].bus,
                       .gen = gp->gen, .ts_ms = loop_wallclock_ms(), .value = value,
                       .quality = err ? Q_COMM_FAULT : Q_GOOD, .err = err};
    sampleq_push(gp->q, &s);
}

/* The line's level (active-low already applied by libgpiod), or -errno. */
static int level(const struct gpio_in *in)
{
    if (!in->line)
        return in->err;
    int v = gpiod_line_get_value(in->line);
    return v < 0 ? -errno : v;
}

static void arm_settle(struct gpio *gp)
{
    int64_t first = -1;

    for (unsigned i = 0; i < gp->n; i++) {
        const struct gpio_in *in = &gp->in[i];
        if (in->db.last_edge < 0)
            continue;
        int64_t due = in->db.last_edge + gp->cfg->sensors[in->sensor].debounce_ms;
        if (first < 0 || due < first)
            first = due;
    }
    if (first >= 0) {
        int64_t d = first - loop_clock_ms();
        loop_timer_set(&gp->settle, d > 0 ? d : 1, 0);
    }
}

static void settle(struct gpio *gp, struct gpio_in *in, int64_t now)
{
    if (!debounce_due(&in->db, now, gp->cfg->sensors[in->sensor].debounce_ms))
        return;
    int v = level(in);
    if (v < 0) {
        in->db.last_edge = -1;
        emit(gp, in, 0, v);
    } else if (debounce_report(&in->db, v)) {
        emit(gp, in, v, 0);
    }
}

static void on_settle(struct loop *l, struct loop_timer *t)
{
    struct gpio *gp = container_of(t, struct gpio, settle);
    int64_t now = loop_clock_ms();

    (void)l;
    for (unsigned i = 0; i < gp->n; i++)
        settle(gp, &gp->in[i], now);
    arm_settle(gp);
}

/* Edges: read them all (the kernel queues them), note the last, and let
 * the debounce decide; the level is read when the line has gone quiet. */
static void on_edge(struct loop *l, struct loop_fd *f, uint32_t events)
{
    struct gpio_in *in = container_of(f, struct gpio_in, fd);
    struct gpiod_line_event ev[16];
    int n;

    (void)l, (void)events;
    do {
        n = gpiod_line_event_read_fd_multiple(f->fd, ev, 16);
    } while (n == 16);
    if (n < 0 && errno != EAGAIN) {
        /* the chip went away: its sensors become comm_fault */
        in->err = -errno;
        log_err("gpio: sensor '%s' (input %s): %s; it reports comm_fault", in->gp->cfg->sensors[in->sensor].name,
                in->gp->cfg->sensors[in->sensor].input, strerror(errno));
        loop_fd_del(in->gp->loop, &in->fd);
        gpiod_line_close_chip(in->line);
        in->line = NULL;
        return;
    }
    debounce_edge(&in->db, loop_clock_ms());
    arm_settle(in->gp);
}

static void on_reread(struct loop *l, struct loop_timer *t)
{
    struct gpio *gp = container_of(t, struct gpio, reread);

    (void)l;
    for (unsigned i = 0; i < gp->n; i++) {
        struct gpio_in *in = &gp->in[i];
        if (in->db.last_edge >= 0)
            continue; /* bouncing: the debounce reports it */
        int v = level(in);
        if (v >= 0)
            in->db.reported = v;
        emit(gp, in, v < 0 ? 0 : v, v < 0 ? v : 0);
    }
}

/* "name" (a line name, searched on every chip) or "CHIP:OFFSET". */
static struct gpiod_line *find_line(const char *spec)
{
    const char *colon = strrchr(spec, ':');
    char *end;

    if (colon) {
        char chip[CFG_NAME_MAX * 2];
        long off = strtol(colon + 1, &end, 10);
        if (*end || off < 0 || (size_t)(colon - spec) >= sizeof(chip)) {
            errno = EINVAL;
            return NULL;
        }
        snprintf(chip, sizeof(chip), "%.*s", (int)(colon - spec), spec);
        struct gpiod_chip *c = gpiod_chip_open_lookup(chip);
        if (!c)
            return NULL;
        struct gpiod_line *line = gpiod_chip_get_line(c, (unsigned)off);
        if (!line) {
            int e = errno;
            gpiod_chip_close(c);
            errno = e;
        }
        return line;
    }
    errno = 0;
    struct gpiod_line *line = gpiod_line_find(spec);
    if (!line && errno == 0)
        errno = ENOENT;
    return line;
}

static void open_input(struct gpio *gp, struct gpio_in *in)
{
    const struct cfg_sensor *s = &gp->cfg->sensors[in->sensor];
    struct gpiod_line *line = find_line(s->input);
    int flags = s->active_low ? GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW : 0;

    in->db = (struct debounce){.reported = -1, .last_edge = -1};
    if (!line || gpiod_line_request_both_edges_events_flags(line, GPIO_CONSUMER, flags) < 0) {
        in->err = -errno;
        log_err("gpio: sensor '%s': input '%s': %s%s", s->name, s->input,
                errno == ENOENT ? "no such GPIO line" : errno == EBUSY ? "the line is in use by another program"
                                                                      : strerror(errno),
                "; it reports comm_fault");
        if (line)
            gpiod_line_close_chip(line);
        return;
    }
    in->line = line;
    in->fd = (struct loop_fd){.fd = gpiod_line_event_get_fd(line), .events = EPOLLIN, .cb = on_edge};
    if (loop_fd_add(gp->loop, &in->fd) < 0) {
        in->err = -EIO;
        gpiod_line_close_chip(line);
        in->line = NULL;
        return;
    }
    /* the state as it is now, at start and after a reload */
    int v = level(in);
    if (v >= 0)
        in->db.reported = v;
    emit(gp, in, v < 0 ? 0 : v, v < 0 ? v : 0);
    log_info("gpio: sensor '%s' on line %s (%s), debounce %lldms%s: %d", s->name, s->input,
             gpiod_chip_name(gpiod_line_get_chip(line)), (long long)s->debounce_ms, s->active_low ? ", active low" : "", v);
}

int gpio_open(struct gpio **out, struct loop *l, const struct config *cfg, struct sampleq *q, uint32_t gen)
{
    struct gpio *gp = calloc(1, sizeof(*gp));
    unsigned n = 0;

    if (!gp)
        return -ENOMEM;
    for (unsigned i = 0; i < cfg->n_sensors; i++)
        n += cfg->buses[cfg->sensors[i].bus].type == BUS_GPIO;
    gp->loop = l;
    gp->cfg = cfg;
    gp->q = q;
    gp->gen = gen;
    gp->settle.f.fd = gp->reread.f.fd = -1;
    gp->in = calloc(n ? n : 1, sizeof(*gp->in));
    if (!gp->in || loop_timer_add(l, &gp->settle, on_settle) < 0 || loop_timer_add(l, &gp->reread, on_reread) < 0) {
        gpio_close(gp);
        return -ENOMEM;
    }
    for (unsigned i = 0; i < cfg->n_sensors; i++) {
        if (cfg->buses[cfg->sensors[i].bus].type != BUS_GPIO)
            continue;
        struct gpio_in *in = &gp->in[gp->n++];
        in->gp = gp;
        in->sensor = i;
        in->fd.fd = -1;
        open_input(gp, in);
    }
    if (gp->n)
        loop_timer_set(&gp->reread, GPIO_REREAD_MS, GPIO_REREAD_MS);
    /* outputs of actions, at their safe state from the first instant */
    gp->out = calloc(cfg->n_actions ? cfg->n_actions : 1, sizeof(*gp->out));
    if (!gp->out) {
        gpio_close(gp);
        return -ENOMEM;
    }
    for (unsigned i = 0; i < cfg->n_actions; i++) {
        const struct cfg_action *a = &cfg->actions[i];
        if (!a->gpio)
            continue;
        struct gpiod_line *line = find_line(a->gpio_line);
        if (!line || gpiod_line_request_output(line, GPIO_CONSUMER, a->restore) < 0) {
            gp->out[i].err = -errno;
            log_err("gpio: action '%s': output '%s': %s; its writes fail", a->name, a->gpio_line,
                    errno == ENOENT ? "no such GPIO line" : errno == EBUSY ? "the line is in use by another program"
                                                                          : strerror(errno));
            if (line)
                gpiod_line_close_chip(line);
            continue;
        }
        gp->out[i].line = line;
        log_info("gpio: action '%s' drives line %s, safe state %d", a->name, a->gpio_line, a->restore);
    }
    *out = gp;
    return 0;
}

int gpio_out_set(struct gpio *gp, unsigned action, int value)
{
    struct gpio_out *o = gp && action < gp->cfg->n_actions ? &gp->out[action] : NULL;

    if (!o || !o->line)
        return o ? (o->err ? o->err : -ENODEV) : -ENODEV;
    if (gpiod_line_set_value(o->line, value) < 0)
        return -errno;
    int back = gpiod_line_get_value(o->line);
    return back < 0 ? -errno : back != value ? -EIO : 0;
}

void gpio_close(struct gpio *gp)
{
    if (!gp)
        return;
    for (unsigned i = 0; i < gp->n; i++) {
        if (!gp->in[i].line)
            continue;
        loop_fd_del(gp->loop, &gp->in[i].fd);
        gpiod_line_close_chip(gp->in[i].line); /* releases the line */
    }
    for (unsigned i = 0; gp->out && i < gp->cfg->n_actions; i++) {
        if (!gp->out[i].line)
            continue;
        /* the safe state before letting go (a crash cannot do this: the
         * board's wiring must make the released line safe too) */
        gpiod_line_set_value(gp->out[i].line, gp->cfg->actions[i].restore);
        gpiod_line_close_chip(gp->out[i].line);
    }
    loop_timer_del(gp->loop, &gp->settle);
    loop_timer_del(gp->loop, &gp->reread);
    free(gp->out);
    free(gp->in);
    free(gp);
}
