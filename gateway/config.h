/* config: parses and validates the INI file (libinih) into plain structs in
 * one place; nothing else in the daemon parses strings from it again.
 * Every error names the file, the line, the section and key, and the reason. */
#ifndef LIFELINE_CONFIG_H
#define LIFELINE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "classes.h"
#include "decode.h"
#include "field.h"
#include "log.h"
#include "rules.h"

#define CFG_NAME_MAX FIELD_NAME_MAX /* sensor, bus, gateway, site names */
#define CFG_HOST_MAX FIELD_HOST_MAX
#define CFG_PATH_MAX FIELD_PATH_MAX
#define CFG_ERR_MAX 512
#define CFG_UNIT_MAX 16
#define CFG_LINE_MAX FIELD_LINE_MAX /* a GPIO line: a name, or CHIP:OFFSET */

#define EX_CONFIG_STATUS 78 /* sysexits.h EX_CONFIG */

struct cfg_gateway {
    char id[CFG_NAME_MAX];
    char site[CFG_NAME_MAX];
    char profiles[CFG_PATH_MAX]; /* directory of device profiles (*.ini) */
    char classes[CFG_PATH_MAX];  /* class defaults; empty: the compiled-in config/classes.ini */
    char board[CFG_PATH_MAX];    /* the board file (board/NAME/board.conf); empty: none */
    enum log_target log;
    int log_level; /* syslog priority, LOG_INFO by default */
};

struct cfg_mqtt {
    char host[CFG_HOST_MAX]; /* numeric address: never a blocking lookup in the loop */
    uint16_t port;
    int keepalive_s;
    int64_t reconnect_min_ms;
    int64_t reconnect_max_ms;
    int max_inflight;
    enum mqtt_protocol {
        MQTT_311,
        MQTT_5
    } protocol;
    char username[128];  /* empty: none */
    char password[128];  /* never logged */
    int allow_plaintext; /* a password may go without TLS (a private network only) */
    /* TLS when tls_ca is set: a CA file or a directory of hashed CA files */
    char tls_ca[CFG_PATH_MAX];
    bool tls_ca_is_dir;
    char tls_cert[CFG_PATH_MAX]; /* client certificate and key (mutual TLS), both or none */
    char tls_key[CFG_PATH_MAX];
    enum tls_min {
        TLS_MIN_12,
        TLS_MIN_13
    } tls_min;
    int telemetry_qos;          /* 0 or 1 */
    int telemetry_batch;        /* readings per telemetry message, at most */
    int64_t telemetry_delay_ms; /* a reading waits at most this long for others to join its message */
    /* commands from the center: a token bucket of cmd_burst, refilled at
     * cmd_rate a second (0: no limit); cmd/set also one per
     * set_interval_ms (burst 3; 0: no limit of its own) */
    int cmd_rate;
    int cmd_burst;
    int64_t set_interval_ms;
};

struct cfg_store {
    char path[CFG_PATH_MAX];
    int64_t retention_ms; /* readings older than this are deleted */
    int64_t max_bytes;    /* readings are deleted, oldest first, to keep the database under this */
    int64_t cache_bytes;  /* SQLite's page cache */
    /* outbox bounds: past outbox_max messages or outbox_max_bytes, the
     * oldest telemetry goes first, then status and replies; alarm events go
     * only past alarm_max of them, oldest first */
    int64_t outbox_max;
    int64_t outbox_max_bytes;
    int64_t outbox_alarm_max;
};

struct cfg_console {
    char socket[CFG_PATH_MAX]; /* the control socket of lifelinectl */
    char group[CFG_NAME_MAX];  /* its group (mode 0660); empty: the daemon's */
    char pin[160];             /* crypt(3) hash of the PIN for `enable`; empty: none set */
    int64_t idle_ms;           /* a privileged session drops back after this long idle */
};

/* A bus: what its driver reads (p, drivers/field.h), and where it is written. */
struct cfg_bus {
    struct bus_params p;
    int line;
};

struct cfg_sensor {
    char name[CFG_NAME_MAX];
    char bus_name[CFG_NAME_MAX];
    char cls[CFG_NAME_MAX];
    enum lifeline lifeline;
    /* what its driver reads: bus index, unit, register, poll, sim, gpio
     * input (a counter's total, pulses x per_pulse, is kept in the store
     * across restarts) */
    struct point io;
    char unit[CFG_UNIT_MAX];
    struct sensor_rules rules; /* built by the checks from the keys below */
    /* rate of change: an alarm at rate_level when the value changes by rate
     * (rising) or -rate (falling) within rate_window */
    double rate;
    int64_t rate_window_ms;
    int rate_falling;
    enum level rate_level;
    double rate_hysteresis;
    int64_t remind_ms; /* an unacknowledged red alarm is told again this often */
    /* telemetry: a reading is sent when telemetry_ms has passed since the
     * last one sent (0: every sample; -1: never), or at once when it moved
     * by more than deadband (< 0: no deadband) or its quality changed */
    int64_t telemetry_ms;
    double deadband;
    int telemetry_stats; /* send min/max/avg/n of the samples since the last */
    /* fault: fault_after bad samples in a row, or none for stale_after */
    int fault_after;
    enum level fault_level;
    int64_t stale_ms;
    /* limits and hysteresis given in percent, resolved by the checks */
    double design; /* the sensor's design value, for N% limits */
    bool limit_pct[LEVEL_COUNT];
    bool hyst_pct;
    int line;
};

#define CFG_ACTION_SENSORS 32

/* A local linkage: when any of its sensors' levels reaches `level`, write
 * `value` to a Modbus coil or register; when none does, write `restore`
 * (unless latched: then only a reset restores it). */
struct cfg_action {
    char name[CFG_NAME_MAX];
    char sensor_list[256]; /* as written; resolved into sensors[] */
    unsigned sensors[CFG_ACTION_SENSORS];
    unsigned n_sensors;
    enum level level;
    char bus_name[CFG_NAME_MAX];
    unsigned bus;
    uint8_t unit_id;
    enum reg_kind kind; /* REG_COIL or REG_HOLDING */
    uint16_t addr;
    int value;
    struct action_output out; /* out.restore; out.gpio: output = gpio:LINE instead */
    int64_t pulse_ms;         /* > 0: write value, then restore after this long */
    int latch;
    int line;
};

/* The board file: what this hardware has. Its [lines] give the GPIO lines
 * logical names (DI1, RELAY2, LED_RUN) that a config uses as line names. */
#define CFG_BOARD_LINES FIELD_BOARD_LINES

/* A serial port of the board ([port NAME]): an rtu bus names it as its device. */
#define CFG_BOARD_PORTS 8
struct cfg_board_port {
    char name[CFG_NAME_MAX];
    char device[CFG_PATH_MAX];
    enum rs485_mode rs485; /* the bus's default for its rs485 and rts keys */
    enum rts_mode rts;
    int line; /* in the board file */
};

struct cfg_board {
    char path[CFG_PATH_MAX]; /* empty: no board file */
    char name[CFG_NAME_MAX];
    char watchdog[CFG_PATH_MAX]; /* a watchdog device the core loop feeds; empty: none */
    int64_t watchdog_timeout_ms;
    char console[CFG_NAME_MAX]; /* the console UART (ttyAMA0): for the image's getty */
    struct board_gpio gpio;     /* [lines], and the status LEDs led_run, led_alarm */
    struct cfg_board_port ports[CFG_BOARD_PORTS];
    unsigned n_ports;
};

struct config {
    char path[CFG_PATH_MAX];
    char hash[17]; /* of the config file's bytes (FNV-1a 64, hex): which config runs */
    struct cfg_gateway gateway;
    struct cfg_mqtt mqtt;
    struct cfg_store store;
    struct cfg_console console;
    struct cfg_board board;
    struct cfg_bus *buses;
    unsigned n_buses;
    struct cfg_sensor *sensors;
    unsigned n_sensors;
    struct cfg_action *actions;
    unsigned n_actions;
};

/* Loads and validates path into *cfg. Returns 0, or -1 with a one-line
 * message "FILE:LINE: [section] key: reason" in err; *cfg is then empty. */
int config_load(const char *path, struct config *cfg, char *err, size_t errlen);
void config_free(struct config *cfg);

/* The drivers' view of cfg (drivers/field.h): pointers into cfg, valid
 * while it is; built once per config generation. 0 or -ENOMEM. */
int config_field_build(struct field *f, const struct config *cfg);
/* Frees what config_field_build allocated; accepts a zeroed or freed one. */
void config_field_free(struct field *f);

/* "500ms", "2s", "5m", "1h", "30d", or a bare number of seconds. */
int config_parse_duration(const char *s, int64_t *ms);

#endif
