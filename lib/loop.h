/* loop: the core thread's epoll loop (after redis ae.c and libubox uloop).
 * Handles are embedded in their owner's struct, so adding one never allocates;
 * callbacks find their owner with container_of. A handle may be removed from
 * inside any callback, including one for another handle of the same batch.
 * One monotonic "now" (ms) is read per iteration and handed to everyone. */
#ifndef LIFELINE_LOOP_H
#define LIFELINE_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

struct loop;
struct loop_fd;
struct loop_timer;

typedef void (*loop_fd_fn)(struct loop *l, struct loop_fd *f, uint32_t events);
typedef void (*loop_timer_fn)(struct loop *l, struct loop_timer *t);
typedef void (*loop_hook_fn)(struct loop *l, void *ctx);

struct loop_fd {
    int fd;
    uint32_t events; /* EPOLLIN, EPOLLOUT, ... */
    loop_fd_fn cb;
    bool registered;
};

struct loop_timer {
    struct loop_fd f; /* a timerfd */
    loop_timer_fn cb;
};

#define LOOP_MAX_EVENTS 32

struct loop {
    int epfd;
    bool running;
    int64_t now_ms; /* CLOCK_MONOTONIC, read once per iteration */
    bool again;     /* the next wait must not block: work is left (loop_again) */
    loop_hook_fn before_sleep;
    void *before_sleep_ctx;
    /* the batch being dispatched, so a removal can cancel pending entries */
    struct epoll_event *batch;
    int batch_len;
};

int loop_init(struct loop *l);
void loop_close(struct loop *l);
int loop_run(struct loop *l);
void loop_stop(struct loop *l);
void loop_set_before_sleep(struct loop *l, loop_hook_fn fn, void *ctx);
/* From before_sleep: work is left over (a bounded batch was done), so look
 * at the fds without blocking and call before_sleep again. */
void loop_again(struct loop *l);

int loop_fd_add(struct loop *l, struct loop_fd *f);
int loop_fd_set_events(struct loop *l, struct loop_fd *f, uint32_t events);
void loop_fd_del(struct loop *l, struct loop_fd *f);

/* Timers are timerfds on CLOCK_MONOTONIC; interval 0 means one-shot, and
 * loop_timer_set(t, 0, 0) disarms. */
int loop_timer_add(struct loop *l, struct loop_timer *t, loop_timer_fn cb);
int loop_timer_set(struct loop_timer *t, int64_t first_ms, int64_t interval_ms);
void loop_timer_del(struct loop *l, struct loop_timer *t);

int64_t loop_clock_ms(void);     /* CLOCK_MONOTONIC in ms */
int64_t loop_wallclock_ms(void); /* CLOCK_REALTIME in ms, for timestamps that leave */

#endif
