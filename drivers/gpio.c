#include "gpio.h"

#include <errno.h>
#include <fcntl.h>
#include <gpiod.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>

#include "log.h"

#define GPIO_CONSUMER "lifelined"
#define GPIO_REREAD_MS 1000

void edge_init(struct edge_filter *f, int level, int64_t now_ns)
{
    *f = (struct edge_filter){.level = level, .edge_ns = now_ns, .stable = level, .stable_ns = now_ns};
}

/* The pending level has held from its edge until t: it is the line's. */
static bool edge_take(struct edge_filter *f)
{
    if (f->stable == 0 && f->level == 1)
        f->rises++;
    f->stable = f->level;
    f->stable_ns = f->edge_ns;
    return true;
}

bool edge_settle(struct edge_filter *f, int64_t now_ns, int64_t debounce_ns)
{
    return edge_pending(f) && now_ns - f->edge_ns >= debounce_ns && edge_take(f);
}

bool edge_event(struct edge_filter *f, int level, int64_t ts_ns, int64_t debounce_ns)
{
    bool changed = edge_settle(f, ts_ns, debounce_ns);

    /* (the same level twice: an edge between them was lost in a bounce;
     * the hold starts again from this one) */
    f->level = level;
    f->edge_ns = ts_ns;
    return changed;
}

bool edge_sync(struct edge_filter *f, int level, int64_t now_ns)
{
    if (edge_pending(f) || level == f->stable)
        return false;
    f->level = level;
    f->edge_ns = now_ns;
    return edge_take(f);
}

int pulse_rate_init(struct pulse_rate *r, unsigned seconds)
{
    *r = (struct pulse_rate){.n = seconds ? seconds : 1};
    r->bucket = calloc(r->n, sizeof(*r->bucket));
    return r->bucket ? 0 : -ENOMEM;
}

void pulse_rate_free(struct pulse_rate *r)
{
    free(r->bucket);
    r->bucket = NULL;
}

uint64_t pulse_rate_push(struct pulse_rate *r, uint32_t pulses)
{
    r->sum += pulses;
    r->sum -= r->bucket[r->at];
    r->bucket[r->at] = pulses;
    r->at = (r->at + 1) % r->n;
    return r->sum;
}

double pulse_rate_value(const struct pulse_rate *r, double per_pulse, unsigned rate_per_s)
{
    return (double)r->sum * per_pulse * rate_per_s / r->n;
}

struct gpio_in {
    struct gpio *gp;
    unsigned sensor;
    const struct point *c;
    const char *name;        /* the sensor's */
    struct gpiod_line *line; /* NULL: not had; comm_fault */
    int err;
    struct loop_fd fd;
    struct edge_filter ef;
    /* mode = counter */
    uint64_t rises_sent; /* the rises already reported */
    struct pulse_rate rate;
};

struct gpio_out {
    struct gpiod_line *line; /* NULL: not had */
    int err;
};

struct gpio {
    struct loop *loop;
    struct gpio_out *out; /* by action index; only gpio ones used */
    const struct field *f;
    struct sampleq *q;
    uint32_t gen;
    struct gpio_in *in;
    unsigned n;
    struct loop_timer settle; /* the next debounce that falls due */
    struct loop_timer reread; /* every second: each input's level, each counter's rate */
    struct gpiod_line *led[GPIO_LEDS];
    int led_value[GPIO_LEDS];
};

static const unsigned rate_per_s[] = {[RATE_PER_S] = 1, [RATE_PER_MIN] = 60, [RATE_PER_H] = 3600};

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* A monotonic time (the kernel's, for an edge) on the wall clock. */
static int64_t wall_ms(int64_t t_ns)
{
    return loop_wallclock_ms() - (mono_ns() - t_ns) / 1000000;
}

static void emit(struct gpio *gp, const struct gpio_in *in, int64_t ts_ms, double value, int err, uint32_t pulses)
{
    struct sample s = {.kind = SAMPLE_VALUE,
                       .sensor = in->sensor,
                       .bus = in->c->bus,
                       .gen = gp->gen,
                       .ts_ms = ts_ms,
                       .value = value,
                       .quality = err ? Q_COMM_FAULT : Q_GOOD,
                       .err = err,
                       .pulses = pulses};
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

static int64_t debounce_ns(const struct gpio_in *in)
{
    return in->c->debounce_ms * 1000000;
}

/* A level input's settled change, at the time of the edge that began it. */
static void changed(struct gpio *gp, struct gpio_in *in)
{
    if (in->c->mode == INPUT_LEVEL)
        emit(gp, in, wall_ms(in->ef.stable_ns), in->ef.stable, 0, 0);
}

static void arm_settle(struct gpio *gp)
{
    int64_t first = -1;

    for (unsigned i = 0; i < gp->n; i++) {
        const struct gpio_in *in = &gp->in[i];
        if (!in->line || !edge_pending(&in->ef))
            continue;
        int64_t due = in->ef.edge_ns + debounce_ns(in);
        if (first < 0 || due < first)
            first = due;
    }
    if (first >= 0) {
        int64_t d = (first - mono_ns() + 999999) / 1000000;
        loop_timer_set(&gp->settle, d > 0 ? d : 1, 0);
    }
}

static void on_settle(struct loop *l, struct loop_timer *t)
{
    struct gpio *gp = container_of(t, struct gpio, settle);
    int64_t now = mono_ns();

    (void)l;
    for (unsigned i = 0; i < gp->n; i++)
        if (gp->in[i].line && edge_settle(&gp->in[i].ef, now, debounce_ns(&gp->in[i])))
            changed(gp, &gp->in[i]);
    arm_settle(gp);
}

/* The chip went away: its sensors become comm_fault. */
static void line_lost(struct gpio_in *in, int err)
{
    in->err = err;
    log_err("gpio: sensor '%s' (input %s): %s; it reports comm_fault", in->name, in->c->input, strerror(-err));
    loop_fd_del(in->gp->loop, &in->fd);
    gpiod_line_close_chip(in->line);
    in->line = NULL;
}

/* Every edge the kernel queued, in order, with its own timestamp. */
static void read_edges(struct gpio_in *in)
{
    struct gpiod_line_event ev[16];
    int n;

    do {
        n = gpiod_line_event_read_fd_multiple(in->fd.fd, ev, 16);
        for (int i = 0; i < n; i++) {
            int64_t t = (int64_t)ev[i].ts.tv_sec * 1000000000 + ev[i].ts.tv_nsec;
            if (edge_event(&in->ef, ev[i].event_type == GPIOD_LINE_EVENT_RISING_EDGE, t, debounce_ns(in)))
                changed(in->gp, in);
        }
    } while (n == 16);
    if (n < 0 && errno != EAGAIN)
        line_lost(in, -errno);
}

static void on_edge(struct loop *l, struct loop_fd *f, uint32_t events)
{
    struct gpio_in *in = container_of(f, struct gpio_in, fd);

    (void)l, (void)events;
    read_edges(in);
    arm_settle(in->gp);
}

/* Every edge queued so far, and the level they lead to if it has held. */
static void catch_up(struct gpio *gp, struct gpio_in *in, int64_t now)
{
    read_edges(in);
    if (in->line && edge_settle(&in->ef, now, debounce_ns(in)))
        changed(gp, in);
}

/* A counter's sample: the rate over its window, and the pulses since the last. */
static void counter_sample(struct gpio *gp, struct gpio_in *in, bool tick)
{
    uint32_t delta = (uint32_t)(in->ef.rises - in->rises_sent);

    struct pulse_rate r = in->rate;

    in->rises_sent = in->ef.rises;
    if (tick)
        pulse_rate_push(&in->rate, delta);
    else
        r.sum += delta; /* (a sample between ticks, at a stop: its pulses within the window) */
    emit(gp, in, loop_wallclock_ms(),
         pulse_rate_value(tick ? &in->rate : &r, in->c->per_pulse, rate_per_s[in->c->rate_per]), 0, delta);
}

static void on_reread(struct loop *l, struct loop_timer *t)
{
    struct gpio *gp = container_of(t, struct gpio, reread);
    int64_t now = mono_ns();

    (void)l;
    for (unsigned i = 0; i < gp->n; i++) {
        struct gpio_in *in = &gp->in[i];
        if (in->line)
            catch_up(gp, in, now);
        int v = level(in);
        if (v < 0) {
            emit(gp, in, loop_wallclock_ms(), 0, v, 0);
            continue;
        }
        /* an edge the kernel's queue lost shows as a level that differs */
        if (edge_sync(&in->ef, v, now))
            log_warn("gpio: sensor '%s': the line reads %d with no edge seen (edges lost?)", in->name, v);
        if (in->c->mode == INPUT_COUNTER)
            counter_sample(gp, in, true);
        else if (!edge_pending(&in->ef)) /* (bouncing: the debounce reports it) */
            emit(gp, in, loop_wallclock_ms(), in->ef.stable, 0, 0);
    }
    arm_settle(gp);
}

/* "name" (a line name, searched on every chip) or "CHIP:OFFSET" (a chip by
 * name, label or path). NULL with why (a sentence) when not found. */
static struct gpiod_line *find_line(const char *spec, char *why, size_t len)
{
    const char *colon = strrchr(spec, ':');
    char *end;

    if (colon) {
        char chip[FIELD_NAME_MAX * 2];
        long off = strtol(colon + 1, &end, 10);
        if (*end || colon[1] == 0 || off < 0 || (size_t)(colon - spec) >= sizeof(chip)) {
            snprintf(why, len, "'%s' is not CHIP:OFFSET", spec);
            return NULL;
        }
        snprintf(chip, sizeof(chip), "%.*s", (int)(colon - spec), spec);
        struct gpiod_chip *c = gpiod_chip_open_lookup(chip);
        if (!c) {
            snprintf(why, len, "no GPIO chip '%s' (%s)", chip, strerror(errno));
            return NULL;
        }
        if ((unsigned long)off >= gpiod_chip_num_lines(c)) {
            snprintf(why, len, "line %ld is out of range: chip '%s' (%s) has lines 0 to %u", off, chip,
                     gpiod_chip_name(c), gpiod_chip_num_lines(c) - 1);
            gpiod_chip_close(c);
            return NULL;
        }
        struct gpiod_line *line = gpiod_chip_get_line(c, (unsigned)off);
        if (!line) {
            snprintf(why, len, "line %ld of chip '%s': %s", off, chip, strerror(errno));
            gpiod_chip_close(c);
        }
        return line;
    }
    errno = 0;
    struct gpiod_line *line = gpiod_line_find(spec);
    if (!line)
        snprintf(why, len, "no GPIO line named '%s'%s%s", spec, errno && errno != ENOENT ? ": " : "",
                 errno && errno != ENOENT ? strerror(errno) : "");
    return line;
}

/* Finds and requests a line, by a name of the board file or a kernel
 * line: 0, or -errno with why (naming the board file's entry). */
static int request(const struct field *f, const char *name, bool input, int flags, int value, struct gpiod_line **out,
                   char *why, size_t len)
{
    const struct board_line *from;
    const char *spec = field_gpio_line(f->board, name, &from);
    char what[192];
    struct gpiod_line *line = find_line(spec, what, sizeof(what));
    int r = -ENOENT;

    *out = NULL;
    if (line) {
        r = input ? gpiod_line_request_both_edges_events_flags(line, GPIO_CONSUMER, flags)
                  : gpiod_line_request_output(line, GPIO_CONSUMER, value);
        if (r == 0) {
            *out = line;
            return 0;
        }
        r = -errno;
        const char *user = gpiod_line_consumer(line);
        if (r == -EBUSY)
            snprintf(what, sizeof(what), "line %s is in use by %s%s%s", spec, user ? "'" : "another program",
                     user ? user : "", user ? "'" : "");
        else
            snprintf(what, sizeof(what), "line %s: %s", spec, strerror(-r));
        gpiod_line_close_chip(line);
    }
    if (from)
        snprintf(why, len, "%s (board %s:%d: %s = %s)", what, f->board_path, from->line, from->name, from->spec);
    else
        snprintf(why, len, "%s", what);
    return r;
}

static void open_input(struct gpio *gp, struct gpio_in *in)
{
    const struct point *s = in->c;
    int flags = s->active_low ? GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW : 0;
    char why[FIELD_PATH_MAX + 384];

    in->err = request(gp->f, s->input, true, flags, 0, &in->line, why, sizeof(why));
    if (in->err < 0) {
        log_err("gpio: sensor '%s': input %s: %s; it reports comm_fault", in->name, s->input, why);
        return;
    }
    in->fd = (struct loop_fd){.fd = gpiod_line_event_get_fd(in->line), .events = EPOLLIN, .cb = on_edge};
    /* non-blocking: the loop reads until the queue is empty, never waits */
    int fl = fcntl(in->fd.fd, F_GETFL);
    if (fl < 0 || fcntl(in->fd.fd, F_SETFL, fl | O_NONBLOCK) < 0 || loop_fd_add(gp->loop, &in->fd) < 0) {
        in->err = -EIO;
        gpiod_line_close_chip(in->line);
        in->line = NULL;
        return;
    }
    /* the state as it is now, at start and after a reload */
    int v = level(in);
    edge_init(&in->ef, v > 0, mono_ns());
    if (s->mode == INPUT_COUNTER)
        counter_sample(gp, in, false);
    else
        emit(gp, in, loop_wallclock_ms(), v < 0 ? 0 : v, v < 0 ? v : 0, 0);
    log_info("gpio: sensor '%s' on line %s (%s %u), %s, debounce %lldms%s: %d", in->name, s->input,
             gpiod_chip_name(gpiod_line_get_chip(in->line)), gpiod_line_offset(in->line),
             s->mode == INPUT_COUNTER ? "counter" : "level", (long long)s->debounce_ms,
             s->active_low ? ", active low" : "", v);
}

int gpio_open(struct gpio **out, struct loop *l, const struct field *f, struct sampleq *q, uint32_t gen)
{
    struct gpio *gp = calloc(1, sizeof(*gp));
    unsigned n = 0;

    if (!gp)
        return -ENOMEM;
    for (unsigned i = 0; i < f->n_points; i++)
        n += f->buses[f->points[i]->bus]->type == BUS_GPIO;
    gp->loop = l;
    gp->f = f;
    gp->q = q;
    gp->gen = gen;
    gp->settle.f.fd = gp->reread.f.fd = -1;
    gp->in = calloc(n ? n : 1, sizeof(*gp->in));
    gp->out = calloc(f->n_outputs ? f->n_outputs : 1, sizeof(*gp->out));
    if (!gp->in || !gp->out || loop_timer_add(l, &gp->settle, on_settle) < 0 ||
        loop_timer_add(l, &gp->reread, on_reread) < 0) {
        gpio_close(gp);
        return -ENOMEM;
    }
    for (unsigned i = 0; i < f->n_points; i++) {
        if (f->buses[f->points[i]->bus]->type != BUS_GPIO)
            continue;
        struct gpio_in *in = &gp->in[gp->n++];
        in->gp = gp;
        in->sensor = i;
        in->c = f->points[i];
        in->name = f->point_names[i];
        in->fd.fd = -1;
        if (in->c->mode == INPUT_COUNTER &&
            pulse_rate_init(&in->rate, (unsigned)((in->c->count_window_ms + 999) / 1000)) < 0) {
            gpio_close(gp);
            return -ENOMEM;
        }
        open_input(gp, in);
    }
    if (gp->n)
        loop_timer_set(&gp->reread, GPIO_REREAD_MS, GPIO_REREAD_MS);
    /* outputs of actions, at their safe state from the first instant */
    for (unsigned i = 0; i < f->n_outputs; i++) {
        const struct action_output *a = f->outputs[i];
        char why[FIELD_PATH_MAX + 384];
        if (!a->gpio)
            continue;
        gp->out[i].err = request(f, a->gpio_line, false, 0, a->restore, &gp->out[i].line, why, sizeof(why));
        if (gp->out[i].err < 0)
            log_err("gpio: action '%s': output %s: %s; its writes fail", f->output_names[i], a->gpio_line, why);
        else
            log_info("gpio: action '%s' drives line %s, safe state %d", f->output_names[i], a->gpio_line, a->restore);
    }
    /* the status LEDs, off until told */
    const char *const leds[GPIO_LEDS] = {f->board->led_run, f->board->led_alarm};
    for (int i = 0; i < GPIO_LEDS; i++) {
        char why[FIELD_PATH_MAX + 384];
        if (leds[i][0] && request(f, leds[i], false, 0, 0, &gp->led[i], why, sizeof(why)) < 0)
            log_err("gpio: board %s: %s %s: %s; that LED stays dark", f->board_path,
                    i == GPIO_LED_RUN ? "led_run" : "led_alarm", leds[i], why);
    }
    *out = gp;
    return 0;
}

bool gpio_has_led(const struct gpio *gp, enum gpio_led led)
{
    return gp && gp->led[led];
}

int gpio_led_set(struct gpio *gp, enum gpio_led led, int value)
{
    if (!gpio_has_led(gp, led))
        return -ENODEV;
    if (gp->led_value[led] == value)
        return 0;
    gp->led_value[led] = value;
    return gpiod_line_set_value(gp->led[led], value) < 0 ? -errno : 0;
}

int gpio_out_set(struct gpio *gp, unsigned action, int value)
{
    struct gpio_out *o = gp && action < gp->f->n_outputs ? &gp->out[action] : NULL;

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
    for (unsigned i = 0; gp->in && i < gp->n; i++) {
        struct gpio_in *in = &gp->in[i];
        if (in->line) {
            /* a counter's pulses since its last sample are not lost on a
             * reload or a stop: the core takes this sample before it goes */
            if (in->c->mode == INPUT_COUNTER) {
                catch_up(gp, in, mono_ns());
                if (in->line && in->ef.rises != in->rises_sent)
                    counter_sample(gp, in, false);
            }
            if (in->line) {
                loop_fd_del(gp->loop, &in->fd);
                gpiod_line_close_chip(in->line); /* releases the line */
            }
        }
        pulse_rate_free(&in->rate);
    }
    for (unsigned i = 0; gp->out && i < gp->f->n_outputs; i++) {
        if (!gp->out[i].line)
            continue;
        /* the safe state before letting go (a crash cannot do this: the
         * board's wiring must make the released line safe too) */
        gpiod_line_set_value(gp->out[i].line, gp->f->outputs[i]->restore);
        gpiod_line_close_chip(gp->out[i].line);
    }
    for (int i = 0; i < GPIO_LEDS; i++) {
        if (!gp->led[i])
            continue;
        gpiod_line_set_value(gp->led[i], 0);
        gpiod_line_close_chip(gp->led[i]);
    }
    loop_timer_del(gp->loop, &gp->settle);
    loop_timer_del(gp->loop, &gp->reread);
    free(gp->out);
    free(gp->in);
    free(gp);
}
