/* sample: what a driver hands the core for one sensor reading, and the
 * queue that carries samples from the bus workers and GPIO to the core. */
#ifndef LIFELINE_SAMPLE_H
#define LIFELINE_SAMPLE_H

#include <pthread.h>
#include <stdint.h>

enum quality {
    Q_GOOD = 0,
    Q_STALE,        /* no fresh value in time */
    Q_COMM_FAULT,   /* bus error, timeout, exception */
    Q_OUT_OF_RANGE, /* outside the physical range; NaN/Inf */
};

enum sample_kind {
    SAMPLE_VALUE,      /* a reading of sensor */
    SAMPLE_WRITE_DONE, /* the result of a bus write: write_id, err */
};

struct sample {
    enum sample_kind kind;
    uint32_t sensor; /* index into the config's sensor array */
    uint32_t bus;    /* for SAMPLE_WRITE_DONE: index into the config's buses */
    uint64_t write_id;
    uint32_t gen;  /* config generation the worker ran under */
    int64_t ts_ms; /* CLOCK_REALTIME, ms since the epoch */
    double value;
    enum quality quality;
    int err;         /* comm_fault/out_of_range or a failed write: -errno or -libmodbus code */
    uint32_t pulses; /* a GPIO counter: pulses counted since its last sample */
};

const char *quality_name(enum quality q);
/* Why a sample is not good: the errno or libmodbus text of its err. */
const char *sample_err_text(int err);

/* Bounded, mutex-protected queue of samples from all workers to the core;
 * efd becomes readable when the queue turns non-empty. */
struct sampleq {
    pthread_mutex_t mu;
    struct sample *buf;
    unsigned cap, head, count;
    uint64_t dropped; /* oldest samples overwritten because the core fell behind */
    int efd;
};

int sampleq_init(struct sampleq *q, unsigned cap);
void sampleq_free(struct sampleq *q);
void sampleq_push(struct sampleq *q, const struct sample *s);
/* n samples at once: one lock, at most one wake-up of the core. */
void sampleq_push_n(struct sampleq *q, const struct sample *s, unsigned n);
/* Core side: clears the eventfd and takes up to max samples. */
unsigned sampleq_drain(struct sampleq *q, struct sample *out, unsigned max);

#endif
