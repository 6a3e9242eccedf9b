/* Config parsing: a good file with every key, and bad files each refused
 * with the file, the line, the key and the reason. Run from tests/unit. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <math.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

static void good_full(void **state)
{
    struct config c;
    char err[CFG_ERR_MAX] = "";
    (void)state;

    assert_int_equal(config_load("configs/good-full.conf", &c, err, sizeof(err)), 0);
    assert_string_equal(c.gateway.id, "ps-07");
    assert_string_equal(c.gateway.site, "hefei-north");
    assert_int_equal(c.gateway.log_level, LOG_DEBUG);
    assert_int_equal(c.mqtt.port, 1884);
    assert_int_equal(c.mqtt.keepalive_s, 20);
    assert_int_equal(c.mqtt.reconnect_min_ms, 500);
    assert_int_equal(c.mqtt.reconnect_max_ms, 120000);
    assert_int_equal(c.mqtt.max_inflight, 8);
    assert_int_equal(c.n_buses, 2);
    assert_int_equal(c.buses[0].p.type, BUS_TCP);
    assert_int_equal(c.buses[0].p.port, 5020);
    assert_int_equal(c.buses[0].p.timeout_ms, 250);
    assert_int_equal(c.n_sensors, 2);

    const struct cfg_sensor *g = &c.sensors[0];
    assert_string_equal(g->name, "gas-01");
    assert_string_equal(g->cls, "gas");
    assert_int_equal(g->lifeline, LL_GAS);
    assert_int_equal(g->io.bus, 0);
    assert_int_equal(g->io.unit_id, 3);
    assert_int_equal(g->io.reg.kind, REG_HOLDING);
    assert_int_equal(g->io.reg.addr, 10);
    assert_int_equal(g->io.reg.type, TYPE_FLOAT32);
    assert_int_equal(g->io.reg.order, ORDER_CDAB);
    assert_string_equal(g->unit, "%LEL");
    assert_int_equal(g->io.poll_ms, 2000);
    assert_true(g->rules.level.has[LEVEL_RED] && g->rules.level.has[LEVEL_BLUE]);
    assert_true(g->rules.level.limit[LEVEL_ORANGE] == 35.0);
    assert_true(g->rules.level.hysteresis == 2.0);
    assert_int_equal(g->rules.level.on_delay_ms, 5000);
    assert_int_equal(g->rules.level.off_delay_ms, 60000);

    const struct cfg_sensor *o = &c.sensors[1];
    assert_int_equal(o->rules.level.dir, DIR_LOW); /* from the class */
    assert_string_equal(o->unit, "%vol");
    assert_int_equal(o->lifeline, LL_HEATING); /* overridden */
    assert_int_equal(o->io.sim.wave, WAVE_SINE);
    assert_int_equal(o->io.sim.period_ms, 3600000);
    assert_false(o->rules.level.has[LEVEL_ORANGE]);
    config_free(&c);
}

static const struct cfg_sensor *find(const struct config *c, const char *name)
{
    for (unsigned i = 0; i < c->n_sensors; i++)
        if (strcmp(c->sensors[i].name, name) == 0)
            return &c->sensors[i];
    fail_msg("no sensor %s", name); /* does not return */
    return &c->sensors[0];
}

static void good_profiles(void **state)
{
    struct config c;
    char err[CFG_ERR_MAX] = "";
    (void)state;

    assert_int_equal(config_load("configs/good-profiles.conf", &c, err, sizeof(err)), 0);
    assert_int_equal(c.n_sensors, 1 + 8);
    const struct cfg_bus *b = &c.buses[0];
    assert_int_equal(b->p.type, BUS_RTU);
    assert_int_equal(b->p.baud, 19200);
    assert_int_equal(b->p.parity, 'E');
    assert_int_equal(b->p.frame_delay_ms, 3); /* 3.5 x 11 bits at 19200 = 2.0 ms, rounded up */
    /* a channel of the profile, with the site's limits */
    const struct cfg_sensor *g = find(&c, "gas-01");
    assert_string_equal(g->cls, "gas");
    assert_int_equal(g->io.reg.type, TYPE_FLOAT32);
    assert_int_equal(g->io.reg.order, ORDER_CDAB);
    assert_int_equal(g->io.unit_id, 3);
    assert_true(g->rules.level.has[LEVEL_RED] && g->rules.level.limit[LEVEL_RED] == 50);
    assert_true(g->io.reg.valid);
    /* a whole device: eight channels, one overridden */
    const struct cfg_sensor *p = find(&c, "ai-01.ch1");
    assert_string_equal(p->cls, "water_pressure");
    assert_int_equal(p->rules.level.dir, DIR_LOW);
    assert_string_equal(p->unit, "MPa");
    assert_int_equal(p->io.unit_id, 5);
    assert_int_equal(p->io.poll_ms, 2000);
    assert_int_equal(p->io.reg.kind, REG_INPUT);
    assert_int_equal(p->io.reg.addr, 0);
    assert_true(p->io.reg.map && p->io.reg.raw_min == 4000 && p->io.reg.max == 1.6);
    /* NAMUR NE 43 from the final range: 3.8 mA .. 20.5 mA */
    assert_true(fabs(p->io.reg.valid_min - -0.02) < 1e-9 && fabs(p->io.reg.valid_max - 1.65) < 1e-9);
    const struct cfg_sensor *ch8 = find(&c, "ai-01.ch8");
    assert_int_equal(ch8->io.reg.addr, 7);
    assert_string_equal(ch8->unit, "%");
    assert_int_equal(ch8->io.poll_ms, 2000);
    config_free(&c);
}

static void every_profile_loads(void **state)
{
    static const char *const profiles[][2] = {{"gas-detector", ""},
                                              {"pressure-transmitter", ""},
                                              {"level-radar", ""},
                                              /* bridge classes' limits are percentages of a design value */
                                              {"inclinometer-2axis", "tilt_x.design = 0.5\ntilt_y.design = 0.5\n"},
                                              {"ai8-4-20ma", ""},
                                              {"dio8", ""},
                                              {"elevator-status", ""}};
    (void)state;
    for (size_t i = 0; i < sizeof(profiles) / sizeof(profiles[0]); i++) {
        char path[] = "/tmp/lifeline-test-profile-XXXXXX";
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        dprintf(fd,
                "[gateway]\nid = g\nsite = s\nprofiles = %s/../../drivers/profiles\n"
                "[bus b]\ntype = tcp\nhost = 127.0.0.1\n[device d]\nprofile = %s\nbus = b\n%s",
                getenv("PWD"), profiles[i][0], profiles[i][1]);
        close(fd);
        struct config c;
        char err[CFG_ERR_MAX] = "";
        int r = config_load(path, &c, err, sizeof(err));
        unlink(path);
        if (r != 0)
            fail_msg("profile %s: %s", profiles[i][0], err);
        assert_true(c.n_sensors >= 1);
        config_free(&c);
    }
}

static void class_defaults(void **state)
{
    struct config c;
    char err[CFG_ERR_MAX] = "";
    (void)state;

    if (config_load("configs/good-classes.conf", &c, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    /* every class of config/classes.ini loads and its limits are in order */
    assert_int_equal(c.n_sensors, 22);
    const struct cfg_sensor *g = find(&c, "gas");
    assert_string_equal(g->unit, "%LEL");
    assert_int_equal(g->lifeline, LL_GAS);
    assert_int_equal(g->rules.level.dir, DIR_HIGH);
    assert_true(g->rules.level.limit[LEVEL_BLUE] == 10 && g->rules.level.limit[LEVEL_YELLOW] == 20 &&
                g->rules.level.limit[LEVEL_ORANGE] == 25 && g->rules.level.limit[LEVEL_RED] == 50);
    assert_int_equal(g->rules.level.on_delay_ms, 2000);
    assert_true(g->rules.level.band[LEVEL_RED] == 2);
    /* one limit of the sensor's own replaces the class's set */
    const struct cfg_sensor *r = find(&c, "gas-own-red");
    assert_true(r->rules.level.has[LEVEL_RED] && r->rules.level.limit[LEVEL_RED] == 40);
    assert_false(r->rules.level.has[LEVEL_BLUE] || r->rules.level.has[LEVEL_YELLOW] ||
                 r->rules.level.has[LEVEL_ORANGE]);
    assert_int_equal(r->rules.level.on_delay_ms, 2000); /* the rest of the class stays */
    const struct cfg_sensor *o = find(&c, "oxygen");
    assert_int_equal(o->rules.level.dir, DIR_LOW);
    assert_true(o->rules.level.limit[LEVEL_YELLOW] == 19.5 && o->rules.level.limit[LEVEL_RED] == 18);
    /* bridge limits: percentages of the design value; hysteresis 2 % of each limit */
    const struct cfg_sensor *b = find(&c, "bridge_strain");
    assert_true(fabs(b->rules.level.limit[LEVEL_BLUE] - 720) < 1e-9);
    assert_true(fabs(b->rules.level.limit[LEVEL_ORANGE] - 1020) < 1e-9);
    assert_true(fabs(b->rules.level.limit[LEVEL_RED] - 1200) < 1e-9);
    assert_true(fabs(b->rules.level.band[LEVEL_RED] - 24) < 1e-9);
    assert_true(fabs(b->rules.level.band[LEVEL_BLUE] - 14.4) < 1e-9);
    assert_int_equal(find(&c, "bridge_tilt")->lifeline, LL_BRIDGE);
    assert_int_equal(find(&c, "temperature")->rules.level.on_count, 3);
    assert_false(find(&c, "water_flow")->rules.level.has[LEVEL_RED]);
    assert_true(find(&c, "digital")->rules.level.has[LEVEL_RED]);
    assert_int_equal(find(&c, "elevator")->lifeline, LL_ELEVATOR);
    /* heating, power, telecom */
    const struct cfg_sensor *hp = find(&c, "heat_pressure");
    assert_int_equal(hp->lifeline, LL_HEATING);
    assert_true(hp->rules.has_rate && hp->rate == 0.1 && hp->rate_falling && hp->rate_level == LEVEL_ORANGE);
    assert_true(hp->rules.level.limit[LEVEL_RED] == 1.6);
    const struct cfg_sensor *ct = find(&c, "cable_temperature");
    assert_int_equal(ct->lifeline, LL_POWER);
    assert_true(ct->rules.level.limit[LEVEL_BLUE] == 50 && ct->rules.level.limit[LEVEL_RED] == 80);
    assert_string_equal(ct->unit, "degC");
    assert_int_equal(find(&c, "smoke")->lifeline, LL_POWER);
    assert_true(find(&c, "smoke")->rules.level.has[LEVEL_RED]);
    assert_int_equal(find(&c, "door")->lifeline, LL_TELECOM);
    assert_int_equal(find(&c, "water_ingress")->lifeline, LL_POWER); /* the sensor's own */
    assert_int_equal(find(&c, "power_loss")->lifeline, LL_TELECOM);
    assert_int_equal(find(&c, "humidity")->rules.level.on_delay_ms, 60000);
    assert_int_equal(find(&c, "heat_temperature")->lifeline, LL_HEATING);
    config_free(&c);

    /* a utility's own class file instead of the built-in one */
    assert_int_equal(config_load("configs/good-own-classes.conf", &c, err, sizeof(err)), 0);
    assert_string_equal(c.sensors[0].unit, "ppm");
    assert_true(c.sensors[0].rules.level.limit[LEVEL_RED] == 5000);
    assert_false(c.sensors[0].rules.level.has[LEVEL_YELLOW]);
    config_free(&c);
    assert_int_equal(config_load("configs/broken-classes.conf", &c, err, sizeof(err)), -1);
    assert_string_equal(err, "configs/bad-classes-no-lifeline.ini:1: [class gas] lifeline: missing "
                             "(every class names its lifeline)");
}

static void demo_config_is_valid(void **state)
{
    struct config c;
    char err[CFG_ERR_MAX] = "";
    (void)state;

    assert_int_equal(config_load("../../config/demo.conf", &c, err, sizeof(err)), 0);
    config_free(&c);
    if (config_load("../../config/pipe-gallery.conf", &c, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    assert_int_equal(c.n_actions, 2);
    assert_int_equal(c.actions[0].n_sensors, 1);
    assert_int_equal(c.actions[0].level, LEVEL_YELLOW);
    assert_int_equal(c.actions[0].kind, REG_COIL);
    assert_int_equal(c.actions[0].unit_id, 10);
    assert_int_equal(c.actions[1].addr, 1);
    assert_true(find(&c, "sump-01")->rules.has_rate);
    /* the new profiles decode a known register image */
    double v;
    const uint16_t t2[] = {235};
    const struct cfg_sensor *t = find(&c, "temps.t2");
    assert_int_equal(t->io.reg.kind, REG_INPUT);
    assert_int_equal(t->io.reg.addr, 1);
    assert_int_equal(t->lifeline, LL_POWER); /* t2.class = cable_temperature */
    assert_int_equal(decode_value(&t->io.reg, t2, &v), 0);
    assert_true(fabs(v - 23.5) < 1e-9);
    const uint16_t open_probe[] = {0x7fff};
    assert_int_equal(decode_value(&t->io.reg, open_probe, &v), -ERANGE); /* out_of_range, not 3276.7 degC */
    const uint16_t supply[] = {0x0000, 0x42bf};                          /* 95.5 as float32, low word first */
    assert_int_equal(decode_value(&find(&c, "heat-meter.supply")->io.reg, supply, &v), 0);
    assert_true(v == 95.5);
    const uint16_t energy[] = {0xd687, 0x0012}; /* 1234567, CDAB */
    assert_int_equal(decode_value(&find(&c, "heat-meter.energy")->io.reg, energy, &v), 0);
    assert_true(v == 1234567);
    assert_int_equal(find(&c, "heat-meter.flow")->lifeline, LL_HEATING);
    const uint16_t status[] = {0x000a}; /* door and mains bits */
    assert_int_equal(decode_value(&find(&c, "cabinet.door")->io.reg, status, &v), 0);
    assert_true(v == 1);
    assert_int_equal(decode_value(&find(&c, "cabinet.water")->io.reg, status, &v), 0);
    assert_true(v == 0);
    assert_int_equal(decode_value(&find(&c, "cabinet.power")->io.reg, status, &v), 0);
    assert_true(v == 1);
    assert_int_equal(find(&c, "cabinet.door")->lifeline, LL_TELECOM);
    assert_int_equal(find(&c, "cabinet.smoke")->lifeline, LL_POWER);
    assert_int_equal(find(&c, "cabinet.temperature")->lifeline, LL_TELECOM);
    const uint16_t cab[] = {245, 612};
    assert_int_equal(decode_value(&find(&c, "cabinet.humidity")->io.reg, cab + 1, &v), 0);
    assert_true(fabs(v - 61.2) < 1e-9);
    assert_true(find(&c, "heat-pressure-01")->rules.has_rate);
    assert_int_equal(find(&c, "heat-pressure-01")->lifeline, LL_HEATING);
    config_free(&c);
}

static const struct bad {
    const char *file;
    int line; /* 0: no line (the whole file) */
    const char *reason;
} bads[] = {
    {"bad-unknown-section.conf", 5, "unknown section [gateway2]"},
    {"bad-unknown-key.conf", 6, "[mqtt] hots: unknown key"},
    {"bad-number.conf", 10, "[sensor s1] red: '5O' is not a number"},
    {"bad-duration.conf", 10, "[sensor s1] poll: '2 seconds' is not a duration"},
    {"bad-negative-delay.conf", 10, "[sensor s1] on_delay: -5s must not be negative"},
    {"bad-duplicate-sensor.conf", 10, "duplicate sensor 's1' (first at line 7)"},
    {"bad-unknown-bus.conf", 9, "[sensor s1] bus: no [bus nope] in this file"},
    {"bad-missing-register.conf", 8, "[sensor s1] register: missing"},
    {"bad-order-high.conf", 12, "[sensor s1] red: 15 must be above orange (35) for a high sensor"},
    {"bad-order-low.conf", 11, "[sensor s1] red: 20 must be below yellow (19.5) for a low sensor"},
    {"bad-duplicate-key.conf", 7, "[mqtt] port: given twice (first at line 6"},
    {"bad-register-kind.conf", 11, "[sensor s1] register: unknown register kind 'holdings'"},
    {"bad-missing-id.conf", 1, "[gateway] id: missing (required)"},
    {"bad-host-name.conf", 6, "[mqtt] host: 'broker.example' is not a numeric IPv4 or IPv6 address"},
    {"bad-unit-id.conf", 12, "[sensor s1] unit_id: 300 is out of range (0 to 255)"},
    {"bad-order-16bit.conf", 13, "[sensor s1] order: word order applies to 32- and 64-bit types, not int16"},
    {"bad-last-address.conf", 11, "[sensor s1] register: a float32 at 65535 runs past the last address"},
    {"bad-outside-section.conf", 1, "port: key outside any section"},
    {"bad-syntax.conf", 6, "syntax error"},
    {"bad-rtu.conf", 8, "[bus rs485-1] baud: 14400 is not a supported rate"},
    {"bad-rtu-no-device.conf", 5, "[bus rs485-1] device: missing (required for an rtu bus"},
    {"bad-bit.conf", 12, "[sensor s1] bit: 16 is out of range (0 to 15)"},
    {"bad-bit-type.conf", 13, "[sensor s1] bit: a bit is taken from a 16-bit word"},
    {"bad-profile-missing.conf", 11, "[sensor s1] profile: profile 'no-such-device' not found"},
    {"bad-map-partial.conf", 12, "[sensor s1] raw_min: a linear mapping needs raw_min, raw_max, min and max together"},
    {"bad-device-channel.conf", 14, "[device incl-01] tilt_z.red: profile 'inclinometer-2axis' has no such channel"},
    {"bad-rtu-unit.conf", 12, "[sensor s1] unit_id: 0 is not a slave address on an RTU line (1 to 247)"},
    {"bad-tcp-rtu-key.conf", 8, "[bus b] baud: does not apply to a tcp bus"},
    {"bad-profile-key-in-device.conf", 13, "[device incl-01] red: applies to one channel: write CHANNEL.red"},
    {"bad-unknown-class.conf", 8, "[sensor s1] class: unknown class 'methane'"},
    {"bad-no-gateway.conf", 0, "[gateway] section missing"},
    {"bad-empty-sensor.conf", 7, "[sensor s1] class: missing (required)"},
    {"bad-long-line.conf", 4, "line too long"},
    {"bad-design-missing.conf", 8,
     "[sensor strain-1] design: missing: the blue limit is 60% of the sensor's design value"},
    {"bad-action-bus.conf", 15, "[action fan] output: names no [bus nobus] of this file"},
    {"bad-action-sensor.conf", 13, "[action fan] sensors: no sensor 'g9' in this file"},
    {"bad-action-output.conf", 15,
     "[action fan] output: 'relay:RELAY1' is not modbus:BUS:UNIT:coil|holding:ADDRESS or gpio:LINE"},
    {"bad-action-coil-value.conf", 16, "[action fan] value: a coil is 0 or 1"},
    {"does-not-exist.conf", 0, "cannot open: No such file or directory"},
    {"bad-tls-cert-no-key.conf", 4,
     "[mqtt] tls_cert: tls_cert and tls_key go together (a client certificate and its key)"},
    {"bad-tls-ca-missing.conf", 5, "[mqtt] tls_ca: '/nonexistent/ca.pem': No such file or directory"},
    {"bad-password-no-user.conf", 4, "[mqtt] password: needs a username"},
    {"bad-gpio-no-input.conf", 6, "[sensor s1] input: missing (required on a gpio bus: a line name, or CHIP:OFFSET)"},
    {"bad-input-not-gpio.conf", 9, "[sensor s1] input: needs a bus of type gpio, and [bus b] is not"},
    {"bad-console-pin.conf", 5, "[console] pin: is not a crypt(3) hash (set it with: lifelinectl passwd)"},
    {"bad-counter-not-gpio.conf", 11, "[sensor s1] mode: counter needs a bus of type gpio, and [bus b] is not"},
    {"bad-classes-missing.conf", 4,
     "[gateway] classes: cannot open configs/no-such-classes.ini: No such file or directory"},
    /* found by tests/fuzz/fuzz_config: a directory was reported against itself, without this line */
    {"bad-board-dir.conf", 4, "[gateway] board: configs/../configs is a directory, not a file"},
    {"bad-telemetry.conf", 9, "[sensor s1] telemetry: 'soon' is not a duration (e.g. 500ms, 2s, 5m, 1h, 30d)"},
    /* a secret is never echoed in an error */
    {"bad-password-plaintext.conf", 4,
     "[mqtt] password: would be sent in clear text: set tls_ca (TLS), or allow_plaintext = yes"},
    {"bad-password-long.conf", 7, "[mqtt] password: too long (160 characters, at most 127; the value is not shown)"},
};

static void bad_files(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
        struct config c;
        char path[256], prefix[300], err[CFG_ERR_MAX] = "";
        snprintf(path, sizeof(path), "configs/%s", bads[i].file);
        if (bads[i].line)
            snprintf(prefix, sizeof(prefix), "%s:%d: ", path, bads[i].line);
        else
            snprintf(prefix, sizeof(prefix), "%s: ", path);
        int r = config_load(path, &c, err, sizeof(err));
        print_message("%s -> %s\n", bads[i].file, err);
        assert_int_equal(r, -1);
        assert_int_equal(strncmp(err, prefix, strlen(prefix)), 0);
        assert_non_null(strstr(err, bads[i].reason));
        assert_null(strstr(err, "Battery"));
        assert_null(c.sensors);
        assert_int_equal(c.n_sensors, 0);
    }
}

/* The board file: its lines resolve a config's names; its errors name the
 * board file, its line and key. */
static void board_files(void **state)
{
    struct config c;
    char err[CFG_ERR_MAX] = "";
    const struct board_line *from;
    (void)state;

    if (config_load("configs/board-good.conf", &c, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    assert_string_equal(c.board.name, "qemu-x86_64");
    assert_string_equal(c.board.watchdog, "/dev/watchdog");
    assert_int_equal(c.board.watchdog_timeout_ms, 5000);
    assert_string_equal(c.board.gpio.led_run, "LED_RUN");
    assert_int_equal(c.board.gpio.n_lines, 14);
    assert_string_equal(field_gpio_line(&c.board.gpio, c.sensors[0].io.input, &from), "lifeline-sim0:0");
    assert_non_null(from);
    assert_string_equal(from->name, "DI1");
    assert_int_equal(from->line, 15);
    assert_string_equal(field_gpio_line(&c.board.gpio, c.sensors[1].io.input, &from),
                        "in5"); /* a kernel name as it is */
    assert_null(from);
    assert_string_equal(field_gpio_line(&c.board.gpio, c.actions[0].out.gpio_line, NULL), "out1");
    config_free(&c);

    /* RS-485 ports: a bus names one; its rs485 and rts come with it unless the bus sets them */
    if (config_load("configs/board-ports.conf", &c, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    assert_string_equal(c.board.console, "ttyAMA0");
    assert_int_equal(c.board.n_ports, 2);
    assert_string_equal(c.buses[0].p.device, "/dev/ttyS1");
    assert_int_equal(c.buses[0].p.rs485, RS485_ON);
    assert_int_equal(c.buses[0].p.rts, RTS_NONE);
    assert_string_equal(c.buses[1].p.device, "/dev/ttyS2");
    assert_int_equal(c.buses[1].p.rs485, RS485_OFF);
    assert_int_equal(c.buses[1].p.rts, RTS_DOWN); /* the bus's own */
    assert_string_equal(c.buses[2].p.device, "/dev/ttyUSB0");
    config_free(&c);

    static const struct bad boards[] = {
        {"bad-key.board", 3, "[board] watchdogs: unknown key"},
        {"bad-name.board", 5, "[lines] DI 2: a line's name is 1 to 47 letters"},
        {"bad-section.board", 2, "unknown section [gpio] (board, lines, port NAME)"},
        /* at the line that names it (tests/fuzz/fuzz_config found the line missing) */
        {"board-bad-missing.conf", 4, "[gateway] board: cannot open configs/no-such.board: No such file or directory"},
        {"bad-timeout.board", 3, "[board] watchdog_timeout: 1s is out of range"},
        {"bad-port-device.board", 4, "[port RS485-1] device: 'ttyS1' is not a path (/dev/...)"},
        {"board-bad-port-name.conf", 7, "[bus field] device: no [port RS485-9] in the board file"},
    };
    static const char *const confs[] = {
        "board-bad-key.conf",     "board-bad-name.conf",        "board-bad-section.conf",  "board-bad-missing.conf",
        "board-bad-timeout.conf", "board-bad-port-device.conf", "board-bad-port-name.conf"};
    for (size_t i = 0; i < sizeof(boards) / sizeof(boards[0]); i++) {
        char path[256], prefix[300];
        snprintf(path, sizeof(path), "configs/%s", confs[i]);
        if (boards[i].line)
            snprintf(prefix, sizeof(prefix), "configs/%s:%d: ", boards[i].file, boards[i].line);
        else
            snprintf(prefix, sizeof(prefix), "configs/%s: ", boards[i].file);
        int r = config_load(path, &c, err, sizeof(err));
        print_message("%s -> %s\n", confs[i], err);
        assert_int_equal(r, -1);
        assert_int_equal(strncmp(err, prefix, strlen(prefix)), 0);
        assert_non_null(strstr(err, boards[i].reason));
    }
}

static void durations(void **state)
{
    int64_t ms;
    (void)state;

    assert_int_equal(config_parse_duration("500ms", &ms), 0);
    assert_int_equal(ms, 500);
    assert_int_equal(config_parse_duration("2s", &ms), 0);
    assert_int_equal(ms, 2000);
    assert_int_equal(config_parse_duration("1.5s", &ms), 0);
    assert_int_equal(ms, 1500);
    assert_int_equal(config_parse_duration("5m", &ms), 0);
    assert_int_equal(ms, 300000);
    assert_int_equal(config_parse_duration("1h", &ms), 0);
    assert_int_equal(ms, 3600000);
    assert_int_equal(config_parse_duration("3", &ms), 0);
    assert_int_equal(ms, 3000);
    assert_int_equal(config_parse_duration("", &ms), -1);
    assert_int_equal(config_parse_duration("s", &ms), -1);
    assert_int_equal(config_parse_duration("2 s", &ms), -1);
    assert_int_equal(config_parse_duration("2d", &ms), 0);
    assert_int_equal(ms, 172800000);
    assert_int_equal(config_parse_duration("2w", &ms), -1);
    assert_int_equal(config_parse_duration("nan", &ms), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(good_full),      cmocka_unit_test(good_profiles),        cmocka_unit_test(every_profile_loads),
        cmocka_unit_test(class_defaults), cmocka_unit_test(demo_config_is_valid), cmocka_unit_test(bad_files),
        cmocka_unit_test(durations),      cmocka_unit_test(board_files),
    };
    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
