/* field: what the drivers are told of the field, in their own terms: a
 * bus's parameters, a point (one sensor as a driver reads it), an action's
 * GPIO output, and the board's GPIO line names. The config embeds these
 * structs (gateway/config.h); the core hands the drivers a struct field of
 * pointers to them, built once per config generation and read-only while the
 * drivers run. No driver sees the config itself. */
#ifndef LIFELINE_FIELD_H
#define LIFELINE_FIELD_H

#include <stdbool.h>
#include <stdint.h>

#include "decode.h"

#define FIELD_NAME_MAX 48 /* sensor, bus, line names */
#define FIELD_HOST_MAX 256
#define FIELD_PATH_MAX 512
#define FIELD_LINE_MAX (FIELD_NAME_MAX * 2) /* a GPIO line: a name, or CHIP:OFFSET */
#define FIELD_BOARD_LINES 64

enum bus_type {
    BUS_TCP,
    BUS_RTU,
    BUS_SIM,
    BUS_GPIO
};
enum rs485_mode {
    RS485_AUTO,
    RS485_ON,
    RS485_OFF
};
enum rts_mode {
    RTS_NONE,
    RTS_UP,
    RTS_DOWN
};
enum sim_wave {
    WAVE_CONST,
    WAVE_TRIANGLE,
    WAVE_SINE,
    WAVE_SQUARE,
    WAVE_RAMP
};
enum input_mode {
    INPUT_LEVEL,
    INPUT_COUNTER
};
enum rate_per {
    RATE_PER_S,
    RATE_PER_MIN,
    RATE_PER_H
};

/* One bus: its device and how to talk to it. */
struct bus_params {
    char name[FIELD_NAME_MAX];
    enum bus_type type;
    /* tcp */
    char host[FIELD_HOST_MAX];
    uint16_t port;
    /* rtu */
    char device[FIELD_PATH_MAX];
    int baud;
    int parity; /* 'N', 'E' or 'O' */
    int data_bits;
    int stop_bits;
    enum rs485_mode rs485;
    enum rts_mode rts;
    /* both */
    int64_t timeout_ms;      /* Modbus response timeout (and TCP connect timeout) */
    int64_t byte_timeout_ms; /* gap allowed between bytes of one reply */
    int64_t frame_delay_ms;  /* silence before each request; rtu default: 3.5 characters */
    int retries;             /* extra tries of a request after a timeout or CRC error */
    int backoff_after;       /* consecutive failures before a slave is backed off */
    int64_t backoff_max_ms;  /* a backed-off slave is tried at least this often */
    int max_gap;             /* unused registers a coalesced request may span */
    int max_registers;       /* registers per request (bits: 16 x this, at most 2000) */
};

/* A sensor on a sim bus follows this waveform between min and max. */
struct sim_params {
    enum sim_wave wave;
    double min, max;
    int64_t period_ms;
};

/* A point: one sensor as a driver reads it. */
struct point {
    unsigned bus; /* index of its bus */
    uint8_t unit_id;
    struct reg_format reg;
    int64_t poll_ms;
    struct sim_params sim;
    /* on a gpio bus: a line by its name, or CHIP:OFFSET (chip by name,
     * label or path); read on both edges, debounced */
    char input[FIELD_LINE_MAX];
    int64_t debounce_ms;
    int active_low;
    /* mode = counter: the value is the rate of the debounced rises,
     * per_pulse units each, per rate_per, over count_window */
    enum input_mode mode;
    double per_pulse;
    enum rate_per rate_per;
    int64_t count_window_ms;
};

/* What gpio needs of an action's output. */
struct action_output {
    bool gpio; /* output = gpio:LINE (a line name, or CHIP:OFFSET) */
    char gpio_line[FIELD_LINE_MAX];
    int restore; /* the safe state, also when the line is let go */
};

/* A GPIO line of the board file's [lines]: a logical name (DI1, RELAY2). */
struct board_line {
    char name[FIELD_NAME_MAX];
    char spec[FIELD_LINE_MAX]; /* a kernel line name, or CHIP:OFFSET */
    int line;                  /* in the board file */
};

/* What gpio needs of the board: its line names and status LEDs. */
struct board_gpio {
    char led_run[FIELD_LINE_MAX]; /* a line of lines[], or any line; empty: none */
    char led_alarm[FIELD_LINE_MAX];
    struct board_line lines[FIELD_BOARD_LINES];
    unsigned n_lines;
};

/* The drivers' view of one config generation: pointers into the config,
 * which outlives it. */
struct field {
    const struct bus_params *const *buses; /* by bus index */
    unsigned n_buses;
    const struct point *const *points; /* by sensor index */
    const char *const *point_names;    /* the sensors' names, for log lines */
    unsigned n_points;
    const struct action_output *const *outputs; /* by action index */
    const char *const *output_names;            /* the actions' names */
    unsigned n_outputs;
    const struct board_gpio *board;
    const char *board_path; /* the board file, for log lines; "" if none */
};

/* A GPIO line as a config names it: a name of the board's lines becomes
 * its line there (*from: that entry, else NULL); any other name is itself. */
const char *field_gpio_line(const struct board_gpio *board, const char *name, const struct board_line **from);

#endif
