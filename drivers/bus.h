/* bus: field buses behind one small interface. Each bus runs in its own
 * worker thread that owns its device context and polls its sensors in turn;
 * it talks to the core only through the sample queue and its eventfd, so a
 * dead or slow slave costs only its own bus time.
 *
 * A driver fills one const struct bus_ops (after collectd's plugin callbacks
 * and libmodbus's backend vtable); adding a bus type touches one file. */
#ifndef LIFELINE_BUS_H
#define LIFELINE_BUS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "sample.h"

struct bus;

struct bus_ops {
    const char *type;
    /* Called in the worker; may block up to the bus timeout. 0 or -errno. */
    int (*open)(struct bus *b);
    /* Reads one sensor: fills *value and returns its quality; on comm_fault
     * *err says why (errno or libmodbus code). Sets b->broken when the
     * connection must be re-opened. */
    enum quality (*read)(struct bus *b, const struct cfg_sensor *s, double *value, int *err);
    void (*close)(struct bus *b);
};

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
/* Core side: clears the eventfd and takes up to max samples. */
unsigned sampleq_drain(struct sampleq *q, struct sample *out, unsigned max);

struct bus_stats {
    atomic_uint_least64_t requests;
    atomic_uint_least64_t errors;
    atomic_uint_least64_t reconnects;
};

struct bus {
    const struct config *cfg;   /* read-only while the worker runs */
    const struct cfg_bus *bcfg;
    const struct bus_ops *ops;
    unsigned *sensors;          /* indexes into cfg->sensors on this bus */
    int64_t *next_due;          /* monotonic ms, per entry of sensors */
    unsigned n_sensors;
    struct sampleq *q;
    uint32_t gen;
    void *priv;                 /* the driver's context */
    bool open, broken;
    int64_t t0_ms;              /* worker start, monotonic */
    int wake_fd;
    atomic_bool stop;
    pthread_t thread;
    bool started;
    struct bus_stats stats;
};

/* Starts the worker for cfg->buses[index]. 0 or -errno. */
int bus_start(struct bus *b, const struct config *cfg, unsigned index, struct sampleq *q, uint32_t gen);
/* Stops and joins the worker (waits at most one bus timeout); accepts a never-started bus. */
void bus_stop(struct bus *b);

extern const struct bus_ops modbus_tcp_ops;
extern const struct bus_ops sim_ops;

#endif
