/* telemetry: which readings go to the center on .../telemetry, and batching
 * them into few messages. Per sensor, a reading is sent when its interval
 * (`telemetry`) has passed since the last one sent, or at once when it moved
 * by more than its `deadband` or its quality changed; with
 * `telemetry_stats`, the min/max/avg of the good samples since the last one
 * go with it. Readings wait in a batch of at most [mqtt] telemetry_batch,
 * which is handed out when full, or when its first reading has waited
 * [mqtt] telemetry_delay (the core asks telemetry_wait before it sleeps). */
#ifndef LIFELINE_TELEMETRY_H
#define LIFELINE_TELEMETRY_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "sample.h"

struct telemetry;

/* A finished message (docs/mqtt.md "telemetry"): for the outbox. */
typedef void (*telemetry_out_fn)(void *ctx, const char *payload, size_t len);

int telemetry_open(struct telemetry **out, const struct config *cfg, telemetry_out_fn fn, void *ctx);
void telemetry_close(struct telemetry *t);
/* One sample of sensor i; total: a counter's total (NAN: not a counter);
 * now_ms is the loop's monotonic clock. */
void telemetry_sample(struct telemetry *t, unsigned i, int64_t ts_ms, double value, enum quality q, double total,
                      int64_t now_ms);
/* Hands out the readings waiting, if any. */
void telemetry_flush(struct telemetry *t, int64_t wall_ms);
/* How long (ms) until the waiting readings are due to go ([mqtt]
 * telemetry_delay after the first joined the batch): 0 now, -1 none wait. */
int64_t telemetry_wait(const struct telemetry *t, int64_t now_ms);

#endif
