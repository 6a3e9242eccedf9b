/* sample: what a driver hands the core for one sensor reading. */
#ifndef LIFELINE_SAMPLE_H
#define LIFELINE_SAMPLE_H

#include <stdint.h>

enum quality {
    Q_GOOD = 0,
    Q_STALE,        /* no fresh value in time */
    Q_COMM_FAULT,   /* bus error, timeout, exception */
    Q_OUT_OF_RANGE, /* outside the physical range; NaN/Inf */
};

struct sample {
    uint32_t sensor; /* index into the config's sensor array */
    uint32_t gen;    /* config generation the worker ran under */
    int64_t ts_ms;   /* CLOCK_REALTIME, ms since the epoch */
    double value;
    enum quality quality;
    int err;         /* for comm_fault: errno or libmodbus code, 0 otherwise */
};

const char *quality_name(enum quality q);
/* Why a sample is not good: the errno or libmodbus text of its err. */
const char *sample_err_text(int err);

#endif
