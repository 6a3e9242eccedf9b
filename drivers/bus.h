/* bus: field buses behind one small interface. Each bus runs in its own
 * worker thread that owns its device context and polls its sensors by the
 * plan of poll.h; it talks to the core only through the sample queue and its
 * eventfd, so a dead or slow slave costs only its own bus time. A slave that
 * fails backoff_after times in a row is backed off (tried at most every
 * backoff_max, exponentially) and comes back by itself when it answers.
 *
 * A driver fills one const struct bus_ops (after collectd's plugin callbacks
 * and libmodbus's backend vtable); adding a bus type touches one file. */
#ifndef LIFELINE_BUS_H
#define LIFELINE_BUS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "decode.h"
#include "field.h"
#include "plan.h"
#include "sample.h"

struct bus;

#define BUS_WRITE_MAX 123 /* registers in one Write Multiple Registers request */
#define BUS_WRITE_QUEUE 16

/* A write for rule actions and the console: coils (values 0/1) or holding
 * registers, optionally read back and compared. With read, a read instead
 * (the console's diagnostics): any register kind, the values for
 * bus_diag_result. */
struct bus_write {
    uint64_t id; /* the caller's; comes back in the SAMPLE_WRITE_DONE */
    uint8_t unit;
    enum reg_kind kind;   /* REG_COIL or REG_HOLDING; for a read, any */
    uint16_t addr, count; /* 1..BUS_WRITE_MAX */
    uint16_t values[BUS_WRITE_MAX];
    bool verify;
    bool read;
};

struct bus_ops {
    const char *type;
    /* Called in the worker; may block up to the bus timeout. 0 or -errno. */
    int (*open)(struct bus *b);
    /* Reads g->count registers (bits as 0/1 words) of g into regs. 0, or a
     * negative errno / libmodbus code (-EMBBADCRC, -(MODBUS_ENOBASE + code)...).
     * Sets b->broken when the connection must be re-opened. */
    int (*read)(struct bus *b, const struct plan_group *g, uint16_t *regs);
    /* Buses without registers (sim) compute each sensor's value instead. */
    enum quality (*value)(struct bus *b, const struct point *s, double *value);
    /* Performs one write (no read-back: bus.c does that with read). 0 or -error. */
    int (*write)(struct bus *b, const struct bus_write *w);
    void (*close)(struct bus *b);
};

/* Errors by kind, as the console and the status message show them. */
enum bus_err {
    BERR_TIMEOUT,
    BERR_CRC,
    BERR_EXCEPTION,
    BERR_BAD_REPLY,
    BERR_CONNECTION,
    BERR_KINDS
};
#define BUS_LAT_BUCKETS 24 /* latency histogram: bucket i holds [2^i, 2^(i+1)) us */

struct bus_counts {
    uint64_t requests, ok, errors[BERR_KINDS];
    uint64_t exceptions[12]; /* by Modbus exception code 1..11 */
    uint64_t skipped;        /* polls of a backed-off slave, answered comm_fault without a request */
    uint64_t lat_n, lat_sum_us, lat_min_us, lat_max_us;
    uint32_t lat_hist[BUS_LAT_BUCKETS];
    uint64_t busy_us; /* time spent in requests */
};

struct slave_state {
    uint8_t unit;
    unsigned fails;     /* consecutive */
    int64_t backoff_ms; /* 0: not backed off */
    int64_t retry_at;   /* monotonic ms */
    int last_err;
    struct bus_counts counts;
};

struct bus {
    const struct field *f;      /* read-only while the worker runs */
    const struct bus_params *p; /* f->buses[index] */
    const struct bus_ops *ops;
    struct plan plan;
    struct slave_state *slaves; /* by plan slave index */
    struct sampleq *q;
    uint32_t gen;
    void *priv; /* the driver's context */
    bool open, broken, warned;
    int64_t t0_ms;       /* worker start, monotonic */
    int64_t last_end_us; /* end of the last transaction, for the frame gap */
    int wake_fd;
    atomic_bool stop;
    pthread_t thread;
    bool started;
    pthread_mutex_t write_mu; /* guards the write queue and the diagnostic result */
    uint16_t diag_regs[BUS_WRITE_MAX];
    unsigned diag_count;
    bool diag_last; /* the last request was a diagnostic read: a poll goes next */
    struct bus_write writes[BUS_WRITE_QUEUE];
    unsigned w_head, w_count;
    unsigned index;           /* in f->buses */
    pthread_mutex_t stats_mu; /* guards counts and slaves[].counts */
    struct bus_counts counts;
    uint64_t reconnects;
};

/* Starts the worker for f->buses[index], which polls the points on it;
 * f must outlive the worker (until bus_stop). 0 or -errno. */
int bus_start(struct bus *b, const struct field *f, unsigned index, struct sampleq *q, uint32_t gen);
/* Tells the worker to stop, without waiting: stop many buses in parallel
 * with bus_stop_request on each, then bus_stop on each. */
void bus_stop_request(struct bus *b);
/* Stops and joins the worker, which finishes the request it is in (up to
 * two response timeouts on RTU, where libmodbus waits out a late reply);
 * accepts a never-started bus. */
void bus_stop(struct bus *b);

/* Queues a write; the worker does it before its next poll and reports the
 * result as a SAMPLE_WRITE_DONE on the sample queue. 0, -EAGAIN when the
 * queue is full, -ENOTSUP on a bus that cannot write, -EINVAL on a bad request. */
int bus_write(struct bus *b, const struct bus_write *w);

/* The values of the last diagnostic read (bus_write with read): how many. */
unsigned bus_diag_result(struct bus *b, uint16_t *regs, unsigned max);
/* A copy of the bus totals and of up to max slaves' counts; returns the
 * number of slaves. Safe from any thread. */
unsigned bus_stats(struct bus *b, struct bus_counts *total, struct slave_state *slaves, unsigned max);
/* The p-th percentile (0-100) of a latency histogram, in us (upper bound of its bucket). */
uint64_t bus_latency_percentile(const struct bus_counts *c, double p);
enum bus_err bus_classify(int err);

extern const struct bus_ops modbus_tcp_ops;
extern const struct bus_ops modbus_rtu_ops;
extern const struct bus_ops sim_ops;

#endif
