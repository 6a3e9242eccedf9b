#include "loop.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

int64_t loop_clock_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t loop_wallclock_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int loop_init(struct loop *l)
{
    memset(l, 0, sizeof(*l));
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (l->epfd < 0) {
        log_err("loop: epoll_create1: %s", strerror(errno));
        return -errno;
    }
    l->now_ms = loop_clock_ms();
    return 0;
}

void loop_close(struct loop *l)
{
    if (l->epfd >= 0)
        close(l->epfd);
    l->epfd = -1;
}

void loop_set_before_sleep(struct loop *l, loop_hook_fn fn, void *ctx)
{
    l->before_sleep = fn;
    l->before_sleep_ctx = ctx;
}

int loop_fd_add(struct loop *l, struct loop_fd *f)
{
    struct epoll_event ev = {.events = f->events, .data.ptr = f};

    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, f->fd, &ev) < 0) {
        log_err("loop: epoll add fd %d: %s", f->fd, strerror(errno));
        return -errno;
    }
    f->registered = true;
    return 0;
}

int loop_fd_set_events(struct loop *l, struct loop_fd *f, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = f};

    if (f->registered && f->events == events)
        return 0;
    f->events = events;
    if (!f->registered)
        return loop_fd_add(l, f);
    if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, f->fd, &ev) < 0) {
        log_err("loop: epoll mod fd %d: %s", f->fd, strerror(errno));
        return -errno;
    }
    return 0;
}

void loop_fd_del(struct loop *l, struct loop_fd *f)
{
    if (!f->registered)
        return;
    /* The fd may already be closed by its owner (libmosquitto does that);
     * epoll forgot it then and EBADF/ENOENT are expected. */
    epoll_ctl(l->epfd, EPOLL_CTL_DEL, f->fd, NULL);
    f->registered = false;
    for (int i = 0; i < l->batch_len; i++)
        if (l->batch[i].data.ptr == f)
            l->batch[i].data.ptr = NULL;
}

static void timer_ready(struct loop *l, struct loop_fd *f, uint32_t events)
{
    struct loop_timer *t = container_of(f, struct loop_timer, f);
    uint64_t expirations;

    (void)events;
    if (read(f->fd, &expirations, sizeof(expirations)) != sizeof(expirations))
        return; /* spurious wake-up after a re-arm */
    t->cb(l, t);
}

int loop_timer_add(struct loop *l, struct loop_timer *t, loop_timer_fn cb)
{
    int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);

    if (fd < 0) {
        log_err("loop: timerfd_create: %s", strerror(errno));
        return -errno;
    }
    t->f = (struct loop_fd){.fd = fd, .events = EPOLLIN, .cb = timer_ready};
    t->cb = cb;
    int r = loop_fd_add(l, &t->f);
    if (r < 0) {
        close(fd);
        t->f.fd = -1;
    }
    return r;
}

int loop_timer_set(struct loop_timer *t, int64_t first_ms, int64_t interval_ms)
{
    struct itimerspec its = {
        .it_value = {.tv_sec = first_ms / 1000, .tv_nsec = (first_ms % 1000) * 1000000},
        .it_interval = {.tv_sec = interval_ms / 1000, .tv_nsec = (interval_ms % 1000) * 1000000},
    };

    /* A zero it_value disarms, so a timer due now is armed 1 ns ahead. */
    if (first_ms < 0 || (first_ms == 0 && interval_ms > 0))
        its.it_value = (struct timespec){.tv_nsec = 1};
    if (timerfd_settime(t->f.fd, 0, &its, NULL) < 0) {
        log_err("loop: timerfd_settime: %s", strerror(errno));
        return -errno;
    }
    return 0;
}

void loop_timer_del(struct loop *l, struct loop_timer *t)
{
    if (t->f.fd < 0)
        return;
    loop_fd_del(l, &t->f);
    close(t->f.fd);
    t->f.fd = -1;
}

void loop_again(struct loop *l)
{
    l->again = true;
}

void loop_stop(struct loop *l)
{
    l->running = false;
}

int loop_run(struct loop *l)
{
    struct epoll_event events[LOOP_MAX_EVENTS];

    l->running = true;
    while (l->running) {
        if (l->before_sleep)
            l->before_sleep(l, l->before_sleep_ctx);
        if (!l->running)
            break;
        int n = epoll_wait(l->epfd, events, LOOP_MAX_EVENTS, l->again ? 0 : -1);
        l->again = false;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            log_err("loop: epoll_wait: %s", strerror(errno));
            return -errno;
        }
        l->now_ms = loop_clock_ms();
        l->batch = events;
        l->batch_len = n;
        for (int i = 0; i < n && l->running; i++) {
            struct loop_fd *f = events[i].data.ptr;
            if (f)
                f->cb(l, f, events[i].events);
        }
        l->batch = NULL;
        l->batch_len = 0;
    }
    if (l->before_sleep)
        l->before_sleep(l, l->before_sleep_ctx);
    return 0;
}
