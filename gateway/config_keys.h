/* config_keys: the value parsers and the key table of every section kind,
 * for config.c only. A parser turns one string into one field and reports a
 * bad value through cfg_fail, which knows the file, line, section and key. */
#ifndef LIFELINE_CONFIG_KEYS_H
#define LIFELINE_CONFIG_KEYS_H

#include <stdbool.h>
#include <stddef.h>

enum sect_kind {
    SECT_NONE,
    SECT_GATEWAY,
    SECT_MQTT,
    SECT_STORE,
    SECT_BUS,
    SECT_SENSOR,
    SECT_DEVICE,
    SECT_PROFILE,
    SECT_CHANNEL,
    SECT_CLASS,
    SECT_ACTION,
    SECT_CONSOLE,
    SECT_BOARD,
    SECT_LINES,
    SECT_PORT,
};

/* Where the value being applied came from, for the one error we report. */
struct cfg_err {
    char *buf;
    size_t len;
    bool failed;
    const char *file;
    int line;          /* 0: the whole file */
    const char *label; /* "[sensor gas-01]", or "" */
    const char *key;   /* or NULL */
};

/* Records the first error only (later ones are often its consequences) as
 * "FILE:LINE: [section] key: reason". Returns 0 so parsers can return it. */
int cfg_fail(struct cfg_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

struct key;
typedef int (*key_fn)(struct cfg_err *e, const struct key *k, void *obj, const char *v);

/* Where a key may appear besides its own section kind. */
#define KF_CHANNEL 1u /* a profile's [channel] */
#define KF_DEVICE 2u  /* a [device] (for all its channels) */
#define KF_CLASS 4u   /* a [class] of the class defaults */

struct key {
    const char *name;
    key_fn parse;
    size_t off;
    const void *arg; /* names table, or NULL */
    double min, max; /* bounds of numbers and durations (ms); size of strings */
    unsigned flags;
};

/* Sensor keys the builder handles itself or checks across keys. */
enum {
    K_CLASS,
    K_LIFELINE,
    K_BUS,
    K_UNIT_ID,
    K_REGISTER,
    K_TYPE,
    K_ORDER,
    K_BIT,
    K_SCALE,
    K_OFFSET,
    K_RAW_MIN,
    K_RAW_MAX,
    K_MIN,
    K_MAX,
    K_VALID_MIN,
    K_VALID_MAX,
    K_UNIT,
    K_POLL,
    K_DIRECTION,
    K_RED,
    K_ORANGE,
    K_YELLOW,
    K_BLUE,
    K_HYSTERESIS,
    K_ON_DELAY,
    K_OFF_DELAY,
    K_SIM,
    K_SIM_MIN,
    K_SIM_MAX,
    K_SIM_PERIOD,
    K_PROFILE,
    K_CHANNEL,
    K_DESIGN,
    K_ON_COUNT,
    K_OFF_COUNT,
    K_RATE,
    K_RATE_WINDOW,
    K_RATE_DIRECTION,
    K_RATE_LEVEL,
    K_RATE_HYSTERESIS,
    K_FAULT_AFTER,
    K_FAULT_LEVEL,
    K_STALE_AFTER,
    K_REMIND,
    K_TELEMETRY,
    K_DEADBAND,
    K_TELEMETRY_STATS,
    K_INPUT,
    K_DEBOUNCE,
    K_ACTIVE_LOW,
    K_MODE,
    K_PER_PULSE,
    K_RATE_PER,
    K_COUNT_WINDOW,
    K_SENSOR_KEYS
};

const struct key *cfg_keys(enum sect_kind kind);
int cfg_key_index(const struct key *keys, const char *name);

/* Strict number parsing shared with the rest of config.c. */
int cfg_parse_double(const char *v, double *out);

#endif
