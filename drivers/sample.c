#include "sample.h"

#include <errno.h>
#include <modbus.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "log.h"

const char *quality_name(enum quality q)
{
    static const char *const n[] = {"good", "stale", "comm_fault", "out_of_range"};
    return (unsigned)q <= Q_OUT_OF_RANGE ? n[q] : "?";
}

const char *sample_err_text(int err)
{
    if (err == -ERANGE || err == -EDOM)
        return err == -ERANGE ? "outside the valid range" : "not a number";
    return modbus_strerror(err < 0 ? -err : err);
}

int sampleq_init(struct sampleq *q, unsigned cap)
{
    memset(q, 0, sizeof(*q));
    q->buf = calloc(cap, sizeof(*q->buf));
    if (!q->buf)
        return -ENOMEM;
    q->cap = cap;
    q->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (q->efd < 0) {
        free(q->buf);
        return -errno;
    }
    pthread_mutex_init(&q->mu, NULL);
    return 0;
}

void sampleq_free(struct sampleq *q)
{
    if (!q->buf)
        return;
    close(q->efd);
    pthread_mutex_destroy(&q->mu);
    free(q->buf);
    q->buf = NULL;
}

void sampleq_push(struct sampleq *q, const struct sample *s)
{
    sampleq_push_n(q, s, 1);
}

void sampleq_push_n(struct sampleq *q, const struct sample *s, unsigned n)
{
    bool was_empty;

    pthread_mutex_lock(&q->mu);
    was_empty = q->count == 0;
    for (unsigned i = 0; i < n; i++) {
        if (q->count == q->cap) {
            q->head = (q->head + 1) % q->cap;
            q->count--;
            q->dropped++;
        }
        q->buf[(q->head + q->count) % q->cap] = s[i];
        q->count++;
    }
    pthread_mutex_unlock(&q->mu);
    if (was_empty) {
        uint64_t one = 1;
        /* Cannot fail short of a full counter, which the core's drain prevents. */
        if (write(q->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
            log_err("bus: eventfd write: %s", strerror(errno));
    }
}

unsigned sampleq_drain(struct sampleq *q, struct sample *out, unsigned max)
{
    uint64_t v;
    unsigned n = 0;

    if (read(q->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
        log_err("bus: eventfd read: %s", strerror(errno));
    pthread_mutex_lock(&q->mu);
    while (q->count && n < max) {
        out[n++] = q->buf[q->head];
        q->head = (q->head + 1) % q->cap;
        q->count--;
    }
    pthread_mutex_unlock(&q->mu);
    /* Left-overs must wake the core again. */
    if (n == max) {
        uint64_t one = 1;
        if (write(q->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
            log_err("bus: eventfd write: %s", strerror(errno));
    }
    return n;
}
