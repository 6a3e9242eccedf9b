/* ctl_bus: the console's field bus commands: statistics of each bus and
 * slave, Modbus diagnostics (read, scan, write: each request queued to the
 * bus worker between its polls, the answer given when it comes back), and
 * the GPIO lines of inputs and outputs. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <modbus.h>
#include <stdio.h>
#include <string.h>

#include "ctl_int.h"
#include "log.h"
#include "num.h"

/* ---- statistics ---- */

static void bus_line(struct ctl_req *r, unsigned b, const struct bus_counts *tp, uint64_t reconnects, cJSON *list)
{
    const struct bus_counts t = *tp;
    const struct cfg_bus *bc = &core_config(r->g)->buses[b];
    double up_s = (double)core_uptime_ms(r->g) / 1000.0;

    uint64_t errors = 0;
    for (int k = 0; k < BERR_KINDS; k++)
        errors += t.errors[k];
    double util = up_s > 0 ? (double)t.busy_us / 1e6 / up_s * 100 : 0;
    double avg = t.lat_n ? (double)t.lat_sum_us / t.lat_n / 1000.0 : 0;
    double p99 = (double)bus_latency_percentile(&t, 99) / 1000.0;
    static const char *const types[] = {"tcp", "rtu", "sim", "gpio"};
    if (r->json) {
        cJSON *e = ctl_jadd(r, list, NULL, cJSON_CreateObject());
        ctl_jadd(r, e, "bus", cJSON_CreateString(bc->p.name));
        ctl_jadd(r, e, "type", cJSON_CreateString(types[bc->p.type]));
        ctl_jadd(r, e, "requests", cJSON_CreateNumber((double)t.requests));
        ctl_jadd(r, e, "ok", cJSON_CreateNumber((double)t.ok));
        cJSON *er = ctl_jadd(r, e, "errors", cJSON_CreateObject());
        static const char *const kinds[] = {"timeout", "crc", "exception", "bad_reply", "connection"};
        for (int k = 0; k < BERR_KINDS; k++)
            ctl_jadd(r, er, kinds[k], cJSON_CreateNumber((double)t.errors[k]));
        ctl_jadd(r, e, "skipped", cJSON_CreateNumber((double)t.skipped));
        ctl_jadd(r, e, "latency_avg_ms", cJSON_CreateNumber(avg));
        ctl_jadd(r, e, "latency_p99_ms", cJSON_CreateNumber(p99));
        ctl_jadd(r, e, "utilisation_pct", cJSON_CreateNumber(util));
        ctl_jadd(r, e, "reconnects", cJSON_CreateNumber((double)reconnects));
        return;
    }
    ctl_printf(r, "%-12s %-4s %10llu %10llu %8llu %6llu %6llu %6llu %6llu %6llu %7.1f %7.1f %5.1f%%\n", bc->p.name,
               types[bc->p.type], (unsigned long long)t.requests, (unsigned long long)t.ok, (unsigned long long)errors,
               (unsigned long long)t.errors[BERR_TIMEOUT], (unsigned long long)t.errors[BERR_CRC],
               (unsigned long long)t.errors[BERR_EXCEPTION], (unsigned long long)t.errors[BERR_BAD_REPLY],
               (unsigned long long)t.errors[BERR_CONNECTION], avg, p99, util);
}

static void bus_header(struct ctl_req *r)
{
    ctl_printf(r, "%-12s %-4s %10s %10s %8s %6s %6s %6s %6s %6s %7s %7s %6s\n", "BUS", "TYPE", "REQUESTS", "OK",
               "ERRORS", "TMOUT", "CRC", "EXCEP", "BADRPL", "CONN", "AVG ms", "P99 ms", "BUSY");
}

const char *ctl_show_buses(struct ctl_req *r, int argi)
{
    cJSON *list = r->json ? ctl_jadd(r, r->j, "buses", cJSON_CreateArray()) : NULL;
    struct bus_counts t;
    uint64_t reconnects;

    (void)argi;
    if (!r->json)
        bus_header(r);
    for (unsigned b = 0; b < core_config(r->g)->n_buses; b++) {
        if (core_bus_stats(r->g, b, &t, &reconnects, NULL, 0) < 0)
            return "the buses are being restarted";
        bus_line(r, b, &t, reconnects, list);
    }
    return NULL;
}

const char *ctl_show_bus(struct ctl_req *r, int argi)
{
    struct slave_state sl[64];
    struct bus_counts t;
    uint64_t reconnects;
    int b = core_bus_index(r->g, r->argv[argi]);

    if (b < 0)
        return ctl_no_such(r, "bus", r->argv[argi], "show buses");
    int got = core_bus_stats(r->g, (unsigned)b, &t, &reconnects, sl, 64);
    if (got < 0)
        return "the buses are being restarted";
    unsigned n = (unsigned)got;
    cJSON *list = r->json ? ctl_jadd(r, r->j, "buses", cJSON_CreateArray()) : NULL;
    if (!r->json)
        bus_header(r);
    bus_line(r, (unsigned)b, &t, reconnects, list);
    cJSON *slaves = r->json ? ctl_jadd(r, r->j, "slaves", cJSON_CreateArray()) : NULL;
    if (!r->json)
        ctl_printf(r, "\n%-5s %10s %10s %8s %9s  %s\n", "UNIT", "REQUESTS", "OK", "ERRORS", "BACKOFF", "LAST ERROR");
    for (unsigned k = 0; k < n; k++) {
        uint64_t errors = 0;
        for (int e = 0; e < BERR_KINDS; e++)
            errors += sl[k].counts.errors[e];
        if (r->json) {
            cJSON *e = ctl_jadd(r, slaves, NULL, cJSON_CreateObject());
            ctl_jadd(r, e, "unit", cJSON_CreateNumber(sl[k].unit));
            ctl_jadd(r, e, "requests", cJSON_CreateNumber((double)sl[k].counts.requests));
            ctl_jadd(r, e, "ok", cJSON_CreateNumber((double)sl[k].counts.ok));
            ctl_jadd(r, e, "errors", cJSON_CreateNumber((double)errors));
            ctl_jadd(r, e, "backoff_ms", cJSON_CreateNumber((double)sl[k].backoff_ms));
            ctl_jadd(r, e, "last_error",
                     sl[k].last_err ? cJSON_CreateString(sample_err_text(sl[k].last_err)) : cJSON_CreateNull());
        } else {
            char bo[24];
            if (sl[k].backoff_ms)
                snprintf(bo, sizeof(bo), "%llds", (long long)(sl[k].backoff_ms / 1000));
            else
                snprintf(bo, sizeof(bo), "-");
            ctl_printf(r, "%-5u %10llu %10llu %8llu %9s  %s\n", sl[k].unit, (unsigned long long)sl[k].counts.requests,
                       (unsigned long long)sl[k].counts.ok, (unsigned long long)errors, bo,
                       sl[k].last_err ? sample_err_text(sl[k].last_err) : "-");
        }
    }
    return NULL;
}

/* ---- Modbus diagnostics: through the bus worker, between its polls ---- */

static int lookup_name(const char *const *names, const char *v)
{
    for (int i = 0; names[i]; i++)
        if (strcmp(names[i], v) == 0)
            return i;
    return -1;
}

static bool parse_uint(const char *v, long long max, long long *out)
{
    return num_parse_ll(v, 0, max, out) == 0;
}

/* A bus with Modbus devices behind it. */
static bool modbus_bus(struct ctl_req *r, int b)
{
    enum bus_type t = core_config(r->g)->buses[b].p.type;
    return t != BUS_SIM && t != BUS_GPIO;
}

/* BUS UNIT KIND ADDR into op and w; an error text or NULL. */
static const char *modbus_target(struct ctl_req *r, int argi, struct ctl_op *op, struct bus_write *w)
{
    long long unit, addr;
    int b = core_bus_index(r->g, r->argv[argi]), kind;

    if (b < 0)
        return ctl_no_such(r, "bus", r->argv[argi], "show buses");
    if (!modbus_bus(r, b))
        return "a sim or gpio bus has no Modbus devices";
    if (!parse_uint(r->argv[argi + 1], 255, &unit))
        return "UNIT: a unit id 0 to 255";
    if ((kind = lookup_name(reg_kind_names, r->argv[argi + 2])) < 0)
        return "KIND: holding, input, coil or discrete";
    if (!parse_uint(r->argv[argi + 3], 65535, &addr))
        return "ADDR: a register address 0 to 65535 (zero-based: a manual's 40001 is holding 0)";
    *op = (struct ctl_op){.bus = (unsigned)b, .argc = r->argc - argi};
    for (int i = 0; i < op->argc && i < CTL_MAX_ARGS; i++)
        snprintf(op->args[i], sizeof(op->args[i]), "%s", r->argv[argi + i]);
    *w = (struct bus_write){
        .unit = (uint8_t)unit, .kind = (enum reg_kind)kind, .addr = (uint16_t)addr, .count = 1, .read = true};
    return NULL;
}

static const char *send_request(struct ctl_req *r, struct ctl_op *op, struct bus_write *w)
{
    int rc = ctl_bus_request(r, op, w);
    if (rc == -ENOTSUP)
        return "this bus cannot do that";
    if (rc == -EAGAIN)
        return "the bus is busy or restarting; try again";
    if (rc < 0) {
        snprintf(r->err, sizeof(r->err), "cannot queue the request: %s", strerror(-rc));
        return r->err;
    }
    return CTL_PENDING;
}

/* Every 32-bit reading of the first two registers, so the technician sees
 * which order gives the value on the device's display. */
static void decodings(struct ctl_req *r, const uint16_t *regs, unsigned n, int only_type, int only_order)
{
    static const enum reg_type types[] = {TYPE_FLOAT32, TYPE_INT32,   TYPE_UINT32, TYPE_INT16,
                                          TYPE_UINT16,  TYPE_FLOAT64, TYPE_INT64,  TYPE_UINT64};
    cJSON *dec = r->json ? ctl_jadd(r, r->j, "decoded", cJSON_CreateObject()) : NULL;

    for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
        enum reg_type ty = types[t];
        if ((only_type >= 0 && (int)ty != only_type) || decode_width(ty) > n)
            continue;
        if (only_type < 0 && decode_width(ty) != 2 && decode_width(ty) != 1)
            continue; /* 64-bit only when asked for */
        cJSON *per = r->json ? ctl_jadd(r, dec, reg_type_names[ty], cJSON_CreateObject()) : NULL;
        if (!r->json)
            ctl_printf(r, "%-8s", reg_type_names[ty]);
        for (int o = ORDER_ABCD; o <= ORDER_DCBA; o++) {
            if ((only_order >= 0 && o != only_order) || (decode_width(ty) == 1 && o != ORDER_ABCD))
                continue;
            struct reg_format f = {.kind = REG_HOLDING, .type = ty, .order = (enum word_order)o, .scale = 1};
            double v;
            int rc = decode_value(&f, regs, &v);
            if (r->json)
                ctl_jadd(r, per, word_order_names[o], rc == -EDOM ? cJSON_CreateNull() : cJSON_CreateNumber(v));
            else if (decode_width(ty) == 1)
                ctl_printf(r, "  %.10g", v);
            else
                ctl_printf(r, "  %s %-14.8g", word_order_names[o], rc == -EDOM ? NAN : v);
        }
        if (!r->json)
            ctl_printf(r, "\n");
    }
}

static const char *read_done(struct ctl_req *r, struct ctl_op *op, int err)
{
    uint16_t regs[BUS_WRITE_MAX];
    long long addr = 0;

    num_parse_ll(op->args[3], 0, 65535, &addr); /* (checked when the request was made) */
    int type = op->argc > 5 ? lookup_name(reg_type_names, op->args[5]) : -1;
    int order = op->argc > 6 ? lookup_name(word_order_names, op->args[6]) : -1;

    if (err == -ECANCELED)
        return "the buses were restarted (a config reload): try again";
    if (err) {
        snprintf(r->err, sizeof(r->err), "unit %s on bus %s: %s", op->args[1], op->args[0], sample_err_text(err));
        return r->err;
    }
    unsigned n = core_bus_diag_result(r->g, op->bus, regs, BUS_WRITE_MAX);
    bool bits = !strcmp(op->args[2], "coil") || !strcmp(op->args[2], "discrete");
    cJSON *raw = r->json ? ctl_jadd(r, r->j, "registers", cJSON_CreateArray()) : NULL;
    for (unsigned i = 0; i < n; i++) {
        if (r->json)
            ctl_jadd(r, raw, NULL, cJSON_CreateNumber(regs[i]));
        else if (bits)
            ctl_printf(r, "%s %-6lld %u\n", op->args[2], addr + (long long)i, regs[i]);
        else
            ctl_printf(r, "%s %-6lld 0x%04x %6u %6d\n", op->args[2], addr + (long long)i, regs[i], regs[i],
                       (int16_t)regs[i]);
    }
    if (!bits) {
        if (!r->json)
            ctl_printf(r, "decoded from %s %lld:\n", op->args[2], addr);
        decodings(r, regs, n, type, order);
    }
    return NULL;
}

/* modbus read BUS UNIT KIND ADDR [COUNT] [TYPE [ORDER]] */
const char *ctl_modbus_read(struct ctl_req *r, int argi)
{
    struct bus_write w;
    long long count = 2;
    const char *e = modbus_target(r, argi, r->op, &w);

    if (e)
        return e;
    if (r->argc > argi + 4 && !parse_uint(r->argv[argi + 4], BUS_WRITE_MAX, &count))
        return "COUNT: 1 to 123 registers";
    if (count < 1)
        return "COUNT: 1 to 123 registers";
    if (r->argc > argi + 5 && lookup_name(reg_type_names, r->argv[argi + 5]) < 0)
        return "TYPE: int16, uint16, int32, uint32, float32, int64, uint64 or float64";
    if (r->argc > argi + 6 && lookup_name(word_order_names, r->argv[argi + 6]) < 0)
        return "ORDER: abcd, cdab, badc or dcba";
    if (r->argc > argi + 5 &&
        (long long)decode_width((enum reg_type)lookup_name(reg_type_names, r->argv[argi + 5])) > count)
        count = decode_width((enum reg_type)lookup_name(reg_type_names, r->argv[argi + 5]));
    w.count = (uint16_t)count;
    r->op->finish = read_done;
    return send_request(r, r->op, &w);
}

static const char *scan_step(struct ctl_req *r, struct ctl_op *op, int err);

static const char *scan_send(struct ctl_req *r, struct ctl_op *op)
{
    struct bus_write w = {.unit = (uint8_t)op->next, .kind = REG_HOLDING, .addr = 0, .count = 1, .read = true};
    op->finish = scan_step;
    return send_request(r, op, &w);
}

/* One unit answered or not: an answer, even an exception, means a device
 * with that id is on the bus (a TCP gateway's "target failed" does not). */
static const char *scan_step(struct ctl_req *r, struct ctl_op *op, int err)
{
    char line[160];
    int n = 0;

    if (err == -ECANCELED)
        return "the buses were restarted (a config reload): scan stopped";
    enum bus_err k = err ? bus_classify(err) : BERR_KINDS;
    bool gateway_says_no =
        err && k == BERR_EXCEPTION && (err == -(MODBUS_ENOBASE + 10) || err == -(MODBUS_ENOBASE + 11));
    if (!err || (k == BERR_EXCEPTION && !gateway_says_no))
        n = snprintf(line, sizeof(line), "unit %-3d answers%s%s\n", op->next, err ? " (" : "",
                     err ? sample_err_text(err) : "");
    else if (k == BERR_CRC || k == BERR_BAD_REPLY)
        n = snprintf(line, sizeof(line), "unit %-3d garbled reply (%s): wrong baud rate or parity, or noise?\n",
                     op->next, sample_err_text(err));
    if (n > 0)
        strbuf_put(&op->acc, line, (size_t)n);
    if (!err || (k == BERR_EXCEPTION && !gateway_says_no)) {
        op->units[op->found] = (uint8_t)op->next;
        op->found++;
    }
    if (op->acc.failed)
        return "out of memory";
    if (op->next < op->last) {
        op->next++;
        return scan_send(r, op);
    }
    if (r->json) {
        cJSON *list = ctl_jadd(r, r->j, "units", cJSON_CreateArray());
        for (unsigned i = 0; i < op->found; i++)
            ctl_jadd(r, list, NULL, cJSON_CreateNumber(op->units[i]));
    } else {
        ctl_printf(r, "%s", op->acc.p ? op->acc.p : "");
        ctl_printf(r, "%u unit%s answer%s on bus %s\n", op->found, op->found == 1 ? "" : "s", op->found == 1 ? "s" : "",
                   op->args[0]);
    }
    return NULL;
}

/* "1-20": two unit ids 0..255, the first not above the second. */
static bool unit_range(const char *v, long long *from, long long *to)
{
    char a[8];
    const char *dash = strchr(v, '-');

    if (!dash || (size_t)(dash - v) >= sizeof(a))
        return false;
    memcpy(a, v, (size_t)(dash - v));
    a[dash - v] = '\0';
    return num_parse_ll(a, 0, 255, from) == 0 && num_parse_ll(dash + 1, 0, 255, to) == 0 && *from <= *to;
}

/* modbus scan BUS [FROM-TO]: one request at a time, each after a poll */
const char *ctl_modbus_scan(struct ctl_req *r, int argi)
{
    int b = core_bus_index(r->g, r->argv[argi]);
    long long from = 1, to = 247;

    if (b < 0)
        return ctl_no_such(r, "bus", r->argv[argi], "show buses");
    if (!modbus_bus(r, b))
        return "a sim or gpio bus has no Modbus devices";
    if (argi + 1 < r->argc && !unit_range(r->argv[argi + 1], &from, &to))
        return "FROM-TO: unit ids, e.g. 1-20";
    *r->op = (struct ctl_op){.bus = (unsigned)b, .next = (int)from, .last = (int)to, .argc = 1};
    snprintf(r->op->args[0], sizeof(r->op->args[0]), "%s", r->argv[argi]);
    return scan_send(r, r->op);
}

static const char *write_done(struct ctl_req *r, struct ctl_op *op, int err)
{
    if (err == -ECANCELED)
        return "the buses were restarted (a config reload): the write may not have happened";
    if (err) {
        snprintf(r->err, sizeof(r->err), "write to unit %s %s %s failed: %s", op->args[1], op->args[2], op->args[3],
                 err == -EIO ? "the read-back differs" : sample_err_text(err));
        return r->err;
    }
    if (!r->json)
        ctl_printf(r, "written and read back: unit %s %s %s = %s\n", op->args[1], op->args[2], op->args[3],
                   op->args[4]);
    return NULL;
}

/* modbus write BUS UNIT coil|holding ADDR VALUE */
const char *ctl_modbus_write(struct ctl_req *r, int argi)
{
    struct bus_write w;
    long long value;
    const char *e = modbus_target(r, argi, r->op, &w);

    if (e)
        return e;
    if (w.kind != REG_COIL && w.kind != REG_HOLDING)
        return "only a coil or a holding register can be written";
    if (!parse_uint(r->argv[argi + 4], w.kind == REG_COIL ? 1 : 65535, &value))
        return w.kind == REG_COIL ? "VALUE: 0 or 1" : "VALUE: 0 to 65535";
    w.read = false;
    w.verify = true;
    w.values[0] = (uint16_t)value;
    log_info("console: %s: modbus write bus %s unit %u %s %u = %lld", r->s->user, r->argv[argi], w.unit,
             reg_kind_names[w.kind], w.addr, value);
    r->op->finish = write_done;
    return send_request(r, r->op, &w);
}

/* ---- GPIO: the lines of gpio sensors and of actions' gpio outputs ---- */

const char *ctl_gpio_get(struct ctl_req *r, int argi)
{
    const struct config *cfg = core_config(r->g);
    const char *name = r->argv[argi];
    int i = core_sensor_index(r->g, name), a = core_output_index(r->g, name);

    if (i >= 0 && cfg->buses[cfg->sensors[i].io.bus].p.type == BUS_GPIO) {
        struct core_sensor st;
        core_sensor(r->g, (unsigned)i, &st);
        if (!st.read || st.quality != Q_GOOD) {
            snprintf(r->err, sizeof(r->err), "input %s (line %s): %s", name, cfg->sensors[i].io.input,
                     st.read ? quality_name(st.quality) : "not read yet");
            return r->err;
        }
        if (r->json)
            ctl_jadd(r, r->j, "value", cJSON_CreateNumber(st.value));
        else
            ctl_printf(r, "input %s (line %s) = %g\n", name, cfg->sensors[i].io.input, st.value);
        return NULL;
    }
    struct action_info in;
    if (a >= 0 && cfg->actions[a].out.gpio && core_output_info(r->g, (unsigned)a, &in) == 0) {
        if (r->json)
            ctl_jadd(r, r->j, "value", ctl_jnum(in.value >= 0, in.value));
        else
            ctl_printf(r, "output %s (line %s) = %d (%s)\n", name, cfg->actions[a].out.gpio_line,
                       in.value >= 0 ? in.value : cfg->actions[a].out.restore, in.overridden >= 0 ? "manual" : "auto");
        return NULL;
    }
    return ctl_no_such(r, "GPIO input or output", name, "list sensors, list outputs");
}

static int gpio_output(struct ctl_req *r, const char *name)
{
    int a = core_output_index(r->g, name);
    return a >= 0 && core_config(r->g)->actions[a].out.gpio ? a : -1;
}

/* gpio set OUTPUT 0|1: held until `set output OUTPUT auto` */
const char *ctl_gpio_set(struct ctl_req *r, int argi)
{
    const char *v = r->argv[argi + 1];

    if (gpio_output(r, r->argv[argi]) < 0)
        return ctl_no_such(r, "GPIO output", r->argv[argi], "show outputs");
    if (strcmp(v, "0") && strcmp(v, "1"))
        return "gpio set OUTPUT 0|1";
    core_output_hold(r->g, r->argv[argi], v[0] == '1', ctl_who(r));
    if (!r->json)
        ctl_printf(r, "output %s held at %s until `set output %s auto`\n", r->argv[argi], v, r->argv[argi]);
    return NULL;
}

/* gpio pulse OUTPUT MS: on for MS, then back to the rules */
const char *ctl_gpio_pulse(struct ctl_req *r, int argi)
{
    int64_t ms;

    if (gpio_output(r, r->argv[argi]) < 0)
        return ctl_no_such(r, "GPIO output", r->argv[argi], "show outputs");
    if (config_parse_duration(r->argv[argi + 1], &ms) < 0 || ms < 10 || ms > 60000)
        return "gpio pulse OUTPUT DURATION: 10ms to 60s (e.g. 500ms)";
    int rc = core_output_pulse(r->g, r->argv[argi], ms, ctl_who(r));
    if (rc < 0) {
        snprintf(r->err, sizeof(r->err), "cannot pulse %s: %s", r->argv[argi], strerror(-rc));
        return r->err;
    }
    if (!r->json)
        ctl_printf(r, "output %s on for %s, then back to automatic\n", r->argv[argi], r->argv[argi + 1]);
    return NULL;
}
