/* payload: the JSON documents the gateway publishes (docs/mqtt.md), built
 * with cJSON into caller-owned buffers. Pure; never logs. */
#ifndef LIFELINE_PAYLOAD_H
#define LIFELINE_PAYLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct alarm_msg {
    int64_t seq, ts_ms, alarm_id;
    const char *sensor, *cls, *lifeline, *condition, *event, *level, *prev_level, *unit, *quality;
    double value, threshold;
    bool has_value, has_threshold;
};

struct status_msg {
    const char *state; /* online | offline */
    const char *version;
    uint32_t boot;
    unsigned sensors;
    int64_t ts_ms;
};

/* Return the length written (without the NUL), or -1 if buf is too small. */
int payload_alarm(const struct alarm_msg *m, char *buf, size_t len);
int payload_status(const struct status_msg *m, char *buf, size_t len);

#endif
