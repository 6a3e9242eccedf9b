/* The core loop on real fds (eventfds, timerfds): a handle removed from
 * inside a callback is never called again, not even from the batch being
 * dispatched; the before-sleep hook runs once per iteration, after that
 * iteration's callbacks and before the loop waits; one-shot and periodic
 * timers fire, re-arm and cancel; loop_stop and loop_again. Timers are a
 * few ms; a guard timer fails a test that would otherwise hang. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "loop.h"

#define GUARD_MS 3000

struct fx;

/* An eventfd with its handle embedded, as an owner would have it. */
struct efd {
    struct loop_fd f;
    struct fx *x;
    char name;
    int calls;
};

struct tmr {
    struct loop_timer t;
    struct fx *x;
    char name;
    int calls;
    int rearm;      /* times left to re-arm itself (one-shot, 2 ms) */
    int stop_after; /* loop_stop at this many calls (0: never) */
};

struct fx {
    struct loop l;
    struct loop_timer guard;
    char trace[64]; /* callbacks and before-sleep ('S') in the order they ran */
    int n_trace;
    struct efd e[3];
    struct tmr t[3];
    int hook_calls;
    int hook_stop_at;      /* loop_stop from the hook at this call (0: never) */
    int hook_again_at;     /* loop_again from the hook at this call */
    struct efd *hook_kick; /* made readable by the hook's second call */
    int batch_seen;        /* batch_len when the first callback ran */
};

static struct fx fx;

static void mark(struct fx *x, char c)
{
    assert_true(x->n_trace < (int)sizeof(x->trace) - 1);
    x->trace[x->n_trace++] = c;
    x->trace[x->n_trace] = '\0';
}

static void kick(struct efd *e)
{
    uint64_t one = 1;
    assert_int_equal(write(e->f.fd, &one, sizeof(one)), sizeof(one));
}

static void drain(struct efd *e)
{
    uint64_t v;
    assert_int_equal(read(e->f.fd, &v, sizeof(v)), sizeof(v));
}

static void on_guard(struct loop *l, struct loop_timer *t)
{
    (void)l;
    (void)t;
    fail_msg("the loop did not stop within %d ms (trace '%s')", GUARD_MS, fx.trace);
}

static void hook(struct loop *l, void *ctx)
{
    struct fx *x = ctx;

    x->hook_calls++;
    mark(x, 'S');
    if (x->hook_kick && x->hook_calls == 2)
        kick(x->hook_kick);
    if (x->hook_again_at == x->hook_calls)
        loop_again(l);
    if (x->hook_stop_at == x->hook_calls)
        loop_stop(l);
}

static int setup(void **state)
{
    memset(&fx, 0, sizeof(fx));
    assert_int_equal(loop_init(&fx.l), 0);
    assert_int_equal(loop_timer_add(&fx.l, &fx.guard, on_guard), 0);
    assert_int_equal(loop_timer_set(&fx.guard, GUARD_MS, 0), 0);
    for (int i = 0; i < 3; i++) {
        fx.e[i] = (struct efd){
            .f = {.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC), .events = EPOLLIN}, .x = &fx, .name = (char)('A' + i)};
        assert_true(fx.e[i].f.fd >= 0);
        fx.t[i] = (struct tmr){.x = &fx, .name = (char)('a' + i)};
    }
    *state = &fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *x = *state;

    for (int i = 0; i < 3; i++) {
        loop_fd_del(&x->l, &x->e[i].f);
        close(x->e[i].f.fd);
        if (x->t[i].t.f.cb) /* added */
            loop_timer_del(&x->l, &x->t[i].t);
    }
    loop_timer_del(&x->l, &x->guard);
    loop_close(&x->l);
    return 0;
}

static void add_fd(struct fx *x, struct efd *e, loop_fd_fn cb)
{
    e->f.cb = cb;
    assert_int_equal(loop_fd_add(&x->l, &e->f), 0);
}

/* Waits (poll, bounded) until every fd is readable, so that one epoll_wait
 * returns them all in one batch. */
static void wait_readable(const int *fds, int n)
{
    for (int tries = 0; tries < 200; tries++) {
        struct pollfd p[4];
        int ready = 0;
        for (int i = 0; i < n; i++)
            p[i] = (struct pollfd){.fd = fds[i], .events = POLLIN};
        assert_true(poll(p, (nfds_t)n, 10) >= 0);
        for (int i = 0; i < n; i++)
            ready += (p[i].revents & POLLIN) != 0;
        if (ready == n)
            return;
    }
    fail_msg("fds not readable within 2 s");
}

/* --- removal from inside a callback ------------------------------------ */

/* Whichever of A and B runs first removes the other; the loop stops at the
 * next before-sleep, so the rest of the batch is still dispatched. */
static void fd_removes_peer(struct loop *l, struct loop_fd *f, uint32_t events)
{
    struct efd *e = container_of(f, struct efd, f);
    struct efd *peer = &e->x->e[e->name == 'A' ? 1 : 0];

    (void)events;
    e->calls++;
    mark(e->x, e->name);
    if (e->x->batch_seen == 0)
        e->x->batch_seen = l->batch_len;
    drain(e);
    loop_fd_del(l, &peer->f);
}

static void fd_del_in_same_batch(void **state)
{
    struct fx *x = *state;

    add_fd(x, &x->e[0], fd_removes_peer);
    add_fd(x, &x->e[1], fd_removes_peer);
    kick(&x->e[0]);
    kick(&x->e[1]);
    loop_set_before_sleep(&x->l, hook, x);
    x->hook_stop_at = 2;
    assert_int_equal(loop_run(&x->l), 0);

    /* both were in the one batch: otherwise this proves nothing */
    assert_int_equal(x->batch_seen, 2);
    /* one ran, the one it removed did not, though it was still readable */
    assert_int_equal(x->e[0].calls + x->e[1].calls, 1);
    assert_int_equal(strlen(x->trace), 4); /* S, A or B, S, and the final S */
    assert_false(x->e[x->e[0].calls ? 1 : 0].f.registered);
}

static void timer_removes_peer(struct loop *l, struct loop_timer *t)
{
    struct tmr *m = container_of(t, struct tmr, t);
    struct tmr *peer = &m->x->t[m->name == 'a' ? 1 : 0];

    m->calls++;
    mark(m->x, m->name);
    if (m->x->batch_seen == 0)
        m->x->batch_seen = l->batch_len;
    loop_timer_del(l, &peer->t);
}

static void timer_del_in_same_batch(void **state)
{
    struct fx *x = *state;

    assert_int_equal(loop_timer_add(&x->l, &x->t[0].t, timer_removes_peer), 0);
    assert_int_equal(loop_timer_add(&x->l, &x->t[1].t, timer_removes_peer), 0);
    assert_int_equal(loop_timer_set(&x->t[0].t, 1, 0), 0);
    assert_int_equal(loop_timer_set(&x->t[1].t, 1, 0), 0);
    wait_readable((int[]){x->t[0].t.f.fd, x->t[1].t.f.fd}, 2);
    loop_set_before_sleep(&x->l, hook, x);
    x->hook_stop_at = 2;
    assert_int_equal(loop_run(&x->l), 0);

    assert_int_equal(x->batch_seen, 2);
    assert_int_equal(x->t[0].calls + x->t[1].calls, 1);
    assert_int_equal(x->t[x->t[0].calls ? 1 : 0].t.f.fd, -1); /* closed */
}

/* Disarming a timer that has expired but whose callback is still to come
 * in this batch: it must not run (its timerfd reads nothing after the
 * disarm). */
static void timer_disarms_peer(struct loop *l, struct loop_timer *t)
{
    struct tmr *m = container_of(t, struct tmr, t);
    struct tmr *peer = &m->x->t[m->name == 'a' ? 1 : 0];

    m->calls++;
    mark(m->x, m->name);
    if (m->x->batch_seen == 0)
        m->x->batch_seen = l->batch_len;
    assert_int_equal(loop_timer_set(&peer->t, 0, 0), 0);
}

static void timer_cancel_in_same_batch(void **state)
{
    struct fx *x = *state;

    assert_int_equal(loop_timer_add(&x->l, &x->t[0].t, timer_disarms_peer), 0);
    assert_int_equal(loop_timer_add(&x->l, &x->t[1].t, timer_disarms_peer), 0);
    assert_int_equal(loop_timer_set(&x->t[0].t, 1, 0), 0);
    assert_int_equal(loop_timer_set(&x->t[1].t, 1, 0), 0);
    wait_readable((int[]){x->t[0].t.f.fd, x->t[1].t.f.fd}, 2);
    loop_set_before_sleep(&x->l, hook, x);
    x->hook_stop_at = 2;
    assert_int_equal(loop_run(&x->l), 0);

    assert_int_equal(x->batch_seen, 2);
    assert_int_equal(x->t[0].calls + x->t[1].calls, 1);
}

/* --- before-sleep -------------------------------------------------------- */

static void fd_marks(struct loop *l, struct loop_fd *f, uint32_t events)
{
    struct efd *e = container_of(f, struct efd, f);

    (void)events;
    e->calls++;
    mark(e->x, e->name);
    drain(e);
    if (e->name == 'C')
        loop_stop(l);
}

/* Iteration 1 dispatches A and B (one batch), then the hook runs once; the
 * hook makes C readable, and C is dispatched in the next iteration (so the
 * hook ran before that wait); C stops the loop, and the hook runs a last
 * time on the way out (the last tick's commit). */
static void before_sleep_once_per_iteration(void **state)
{
    struct fx *x = *state;

    add_fd(x, &x->e[0], fd_marks);
    add_fd(x, &x->e[1], fd_marks);
    add_fd(x, &x->e[2], fd_marks);
    kick(&x->e[0]);
    kick(&x->e[1]);
    x->hook_kick = &x->e[2];
    loop_set_before_sleep(&x->l, hook, x);
    assert_int_equal(loop_run(&x->l), 0);

    assert_true(strcmp(x->trace, "SABSCS") == 0 || strcmp(x->trace, "SBASCS") == 0);
    assert_int_equal(x->hook_calls, 3);
    assert_int_equal(x->e[0].calls, 1);
    assert_int_equal(x->e[1].calls, 1);
    assert_int_equal(x->e[2].calls, 1);
}

/* loop_again: the next wait does not block, and the hook runs again. With
 * nothing ready, a blocking wait would only end at the guard timer. */
static void loop_again_does_not_block(void **state)
{
    struct fx *x = *state;

    loop_set_before_sleep(&x->l, hook, x);
    x->hook_again_at = 1;
    x->hook_stop_at = 2;
    assert_int_equal(loop_run(&x->l), 0);
    assert_string_equal(x->trace, "SSS");
}

/* --- timers -------------------------------------------------------------- */

static void timer_counts(struct loop *l, struct loop_timer *t)
{
    struct tmr *m = container_of(t, struct tmr, t);

    m->calls++;
    mark(m->x, m->name);
    if (m->rearm > 0) {
        m->rearm--;
        assert_int_equal(loop_timer_set(t, 2, 0), 0);
    }
    if (m->stop_after && m->calls == m->stop_after)
        loop_stop(l);
}

/* a: one-shot at 3 ms; b: periodic, every 2 ms, stops the loop at its 6th;
 * c: armed for 5 ms and disarmed before it is due (a disarm from a callback
 * of the same batch is timer_cancel_in_same_batch). */
static void timers_one_shot_periodic_cancel(void **state)
{
    struct fx *x = *state;
    int64_t t0 = loop_clock_ms();

    assert_int_equal(loop_timer_add(&x->l, &x->t[0].t, timer_counts), 0);
    assert_int_equal(loop_timer_add(&x->l, &x->t[1].t, timer_counts), 0);
    assert_int_equal(loop_timer_add(&x->l, &x->t[2].t, timer_counts), 0);
    x->t[1].stop_after = 6;
    assert_int_equal(loop_timer_set(&x->t[0].t, 3, 0), 0);
    assert_int_equal(loop_timer_set(&x->t[1].t, 2, 2), 0);
    assert_int_equal(loop_timer_set(&x->t[2].t, 5, 0), 0);
    assert_int_equal(loop_timer_set(&x->t[2].t, 0, 0), 0);
    assert_int_equal(loop_run(&x->l), 0);

    assert_int_equal(x->t[0].calls, 1);
    assert_int_equal(x->t[1].calls, 6);
    assert_int_equal(x->t[2].calls, 0);
    /* six periods of 2 ms took at least 12 ms (the loop's own now too) */
    assert_true(loop_clock_ms() - t0 >= 12);
    assert_true(x->l.now_ms - t0 >= 12);
}

/* A one-shot re-armed from its own callback fires again, each time once. */
static void timer_rearm_from_callback(void **state)
{
    struct fx *x = *state;

    assert_int_equal(loop_timer_add(&x->l, &x->t[0].t, timer_counts), 0);
    x->t[0].rearm = 3;
    x->t[0].stop_after = 4;
    assert_int_equal(loop_timer_set(&x->t[0].t, 1, 0), 0);
    assert_int_equal(loop_run(&x->l), 0);
    assert_int_equal(x->t[0].calls, 4);
}

/* "Due now" (0, with an interval) fires at once rather than never. */
static void timer_due_now(void **state)
{
    struct fx *x = *state;

    assert_int_equal(loop_timer_add(&x->l, &x->t[0].t, timer_counts), 0);
    x->t[0].stop_after = 1;
    assert_int_equal(loop_timer_set(&x->t[0].t, 0, 1000), 0);
    assert_int_equal(loop_run(&x->l), 0);
    assert_int_equal(x->t[0].calls, 1);
}

/* --- loop_stop ----------------------------------------------------------- */

/* From the hook, before any wait: returns with nothing ready. */
static void stop_from_hook(void **state)
{
    struct fx *x = *state;

    loop_set_before_sleep(&x->l, hook, x);
    x->hook_stop_at = 1;
    assert_int_equal(loop_run(&x->l), 0);
    assert_string_equal(x->trace, "SS");
}

/* From a callback: loop_run returns after it, and a stopped loop runs again. */
static void stop_from_callback_and_run_again(void **state)
{
    struct fx *x = *state;

    add_fd(x, &x->e[2], fd_marks); /* C stops the loop */
    kick(&x->e[2]);
    assert_int_equal(loop_run(&x->l), 0);
    assert_int_equal(x->e[2].calls, 1);
    kick(&x->e[2]);
    assert_int_equal(loop_run(&x->l), 0);
    assert_int_equal(x->e[2].calls, 2);
    assert_string_equal(x->trace, "CC");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(fd_del_in_same_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(timer_del_in_same_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(timer_cancel_in_same_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(before_sleep_once_per_iteration, setup, teardown),
        cmocka_unit_test_setup_teardown(loop_again_does_not_block, setup, teardown),
        cmocka_unit_test_setup_teardown(timers_one_shot_periodic_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(timer_rearm_from_callback, setup, teardown),
        cmocka_unit_test_setup_teardown(timer_due_now, setup, teardown),
        cmocka_unit_test_setup_teardown(stop_from_hook, setup, teardown),
        cmocka_unit_test_setup_teardown(stop_from_callback_and_run_again, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
