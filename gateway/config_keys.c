#include "config_keys.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config_int.h"

int cfg_fail(struct cfg_err *e, const char *fmt, ...)
{
    char what[512];
    va_list ap;

    if (e->failed)
        return 0;
    e->failed = true;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    const char *l = e->label ? e->label : "";
    char where[CFG_PATH_MAX + 16];
    if (e->line > 0)
        snprintf(where, sizeof(where), "%s:%d", e->file, e->line);
    else
        snprintf(where, sizeof(where), "%s", e->file);
    snprintf(e->buf, e->len, "%s: %s%s%s%s%s", where, l, *l ? " " : "", e->key ? e->key : "", e->key ? ": " : "", what);
    return 0;
}

/* ---- value parsers: one per type; each returns 1 (ok) or 0 (error recorded) */

/* A string within the key's size; a secret's error never shows its value. */
static int put_str(struct cfg_err *e, const struct key *k, void *obj, const char *v, bool secret)
{
    size_t size = (size_t)k->max, n = strlen(v);

    if (!n)
        return cfg_fail(e, "empty value");
    if (n >= size && secret)
        return cfg_fail(e, "too long (%zu characters, at most %zu; the value is not shown)", n, size - 1);
    if (n >= size)
        return cfg_fail(e, "'%s' is too long (at most %zu characters)", v, size - 1);
    memcpy((char *)obj + k->off, v, n + 1);
    return 1;
}

static int p_str(struct cfg_err *e, const struct key *k, void *obj, const char *v)
{
    return put_str(e, k, obj, v, false);
}

/* A secret (a password). */
static int p_secret(struct cfg_err *e, const struct key *k, void *obj, const char *v)
{
    return put_str(e, k, obj, v, true);
}

/* Names that become MQTT topic levels or console words. */
static int p_ident(struct cfg_err *e, const struct key *k, void *obj, const char *v)
{
    for (const char *c = v; *c; c++)
        if (!isalnum((unsigned char)*c) && *c != '-' && *c != '_' && *c != '.')
            return cfg_fail(e, "'%s' may only contain letters, digits, '-', '_' and '.'", v);
    return p_str(e, k, obj, v);
}

static int p_ipaddr(struct cfg_err *e, const struct key *k, void *obj, const char *v)
{
    unsigned char buf[sizeof(struct in6_addr)];

    if (inet_pton(AF_INET, v, buf) != 1 && inet_pton(AF_INET6, v, buf) != 1)
        return cfg_fail(e,
                        "'%s' is not a numeric IPv4 or IPv6 address (host names are not "
                        "resolved, so a lookup can never stall the gateway)",
                        v);
    return p_str(e, k, obj, v);
}

int cfg_parse_double(const char *v, double *out)
{
    char *end;

    errno = 0;
    *out = strtod(v, &end);
    return errno == 0 && end != v && *end == '\0' && isfinite(*out) ? 0 : -1;
}

static int p_double(struct cfg_err *e, const struct key *k, void *obj, const char *v)
{
    double d;

    if (cfg_parse_double(v, &d) < 0)
        return cfg_fail(e, "'%s' is not a number", v);
    if (d < k->min || d > k->max)
        return cfg_fail(e, "%s is out of range (%g to %g)", v, k->min, k->max);
    *(double *)((char *)obj + k->off) = d;
    return 1;
}

/* A whole number within the key's bounds; the callers store it at their width. */
static int get_int(struct cfg_err *e, const struct key *k, const char *v, long *n)
{
    char *end;

    errno = 0;
    *n = strtol(v, &end, 10);
    if (errno || end == v || *end)
        return cfg_fail(e, "'%s' is not a whole number", v);
    if (*n < k->min || *n > k->max)
        return cfg_fail(e, "%s is out of range (%.0f to %.0f)", v, k->min, k->max);
    return 1;
}

static int p_int(struct cfg_err *e, const struct key *k, void *obj, const char *v)
{
    long n;
    int ok = get_int(e, k, v, &n);
    if (ok)
        *(int *)((char *)obj + k->off) = (int)n;
    return ok;
}

static int p_int64(struct cfg_err *e, const struct key *k, void *obj, const char *v)
{
    long n;
    int ok = get_int(e, k, v, &n);
    if (ok)
        *(int64_t *)((char *)obj + k->off) = n;
    return ok;
}

static int p_u16(struct cfg_err *e, const struct key *k, void *obj, const char *v)
{
    long n;
    int ok = get_int(e, k, v, &n);
    if (ok)
        *(uint16_t *)((char *)obj + k->off) = (uint16_t)n;
    return ok;
}

static int p_u8(struct cfg_err *e, const struct key *k, void *obj, const char *v)
{
    long n;
    int ok = get_int(e, k, v, &n);
    if (ok)
        *(uint8_t *)((char *)obj + k->off) = (uint8_t)n;
    return ok;
}

int config_parse_duration(const char *s, int64_t *ms)
{
    static const struct {
        const char *suffix;
        double mult;
    } units[] = {
        {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}, {"", 1000},
    };
    char *end;
    double d;

    errno = 0;
    d = strtod(s, &end);
    if (errno || end == s || !isfinite(d))
        return -1;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(end, units[i].suffix) == 0) {
            double v = d * units[i].mult;
            if (v > 1e15 || v < -1e15)
                return -1;
            *ms = (int64_t)llround(v);
            return 0;
        }
    }
    return -1;
}

static int p_duration(struct cfg_err *e, const struct key *k, void *obj, const char *v)
{
    int64_t ms;

    if (config_parse_duration(v, &ms) < 0)
        return cfg_fail(e, "'%s' is not a duration (e.g. 500ms, 2s, 5m, 1h, 30d)", v);
    if (ms < 0)
        return cfg_fail(e, "%s must not be negative", v);
    if (ms < k->min || ms > k->max)
        return cfg_fail(e, "%s is out of range (%.0fms to %.0fms)", v, k->min, k->max);
    *(int64_t *)((char *)obj + k->off) = ms;
    return 1;
}

#define MQ(f) offsetof(struct cfg_mqtt, f)

/* a duration, or "off" (stored as -1) */
static int p_duration_off(struct cfg_err *e, const struct key *k, void *obj, const char *v)
{
    if (strcmp(v, "off") == 0) {
        *(int64_t *)((char *)obj + k->off) = -1;
        return 1;
    }
    return p_duration(e, k, obj, v);
}

/* A CA file, or a directory of CA files (c_rehash'ed); must be readable now. */
static int p_tls_path(struct cfg_err *e, const struct key *k, void *obj, const char *v)
{
    struct stat sb;

    if (stat(v, &sb) < 0 || access(v, R_OK) < 0)
        return cfg_fail(e, "'%s': %s", v, strerror(errno));
    if (k->off == MQ(tls_ca))
        ((struct cfg_mqtt *)obj)->tls_ca_is_dir = S_ISDIR(sb.st_mode);
    else if (!S_ISREG(sb.st_mode))
        return cfg_fail(e, "'%s' is not a file", v);
    return p_str(e, k, obj, v);
}

/* 64M, 512K, 2G or plain bytes (binary multiples) */
static int p_bytes(struct cfg_err *e, const struct key *k, void *obj, const char *v)
{
    char *end;
    double d;

    errno = 0;
    d = strtod(v, &end);
    if (errno || end == v || !isfinite(d) || d < 0)
        return cfg_fail(e, "'%s' is not a size (e.g. 512K, 64M, 2G)", v);
    if (*end == 'K' || *end == 'M' || *end == 'G')
        d *= *end == 'K' ? 1024.0 : *end == 'M' ? 1048576.0 : 1073741824.0, end++;
    if (*end)
        return cfg_fail(e, "'%s' is not a size (e.g. 512K, 64M, 2G)", v);
    if (d < k->min || d > k->max)
        return cfg_fail(e, "%s is out of range (%.0f to %.0f bytes)", v, k->min, k->max);
    *(int64_t *)((char *)obj + k->off) = (int64_t)d;
    return 1;
}

static int lookup(const char *const *names, const char *v)
{
    for (int i = 0; names[i]; i++)
        if (strcmp(names[i], v) == 0)
            return i;
    return -1;
}

static int p_enum(struct cfg_err *e, const struct key *k, void *obj, const char *v)
{
    const char *const *names = k->arg;
    int i = lookup(names, v);
    char all[256];
    size_t used = 0;

    if (i >= 0) {
        *(int *)((char *)obj + k->off) = i;
        return 1;
    }
    all[0] = '\0';
    for (int j = 0; names[j]; j++) {
        int w = snprintf(all + used, sizeof(all) - used, "%s%s", j ? "|" : "", names[j]);
        if (w < 0 || (size_t)w >= sizeof(all) - used)
            break; /* the list cut short: only a message */
        used += (size_t)w;
    }
    return cfg_fail(e, "'%s' is not one of %s", v, all);
}

/* Enums whose config words are not their enum index. */
static int p_parity(struct cfg_err *e, const struct key *k, void *obj, const char *v)
{
    if (strcmp(v, "N") && strcmp(v, "E") && strcmp(v, "O"))
        return cfg_fail(e, "'%s' is not N, E or O", v);
    *(int *)((char *)obj + k->off) = v[0];
    return 1;
}

static int p_baud(struct cfg_err *e, const struct key *k, void *obj, const char *v)
{
    static const long rates[] = {1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200};
    long n;
    char *end;

    errno = 0;
    n = strtol(v, &end, 10);
    for (size_t i = 0; !errno && end != v && !*end && i < sizeof(rates) / sizeof(rates[0]); i++) {
        if (rates[i] == n) {
            *(int *)((char *)obj + k->off) = (int)n;
            return 1;
        }
    }
    return cfg_fail(e,
                    "%s is not a supported rate (1200, 2400, 4800, 9600, 19200, 38400, "
                    "57600, 115200)",
                    v);
}

/* A number, or with a trailing % a percentage (of the design value for a
 * limit, of each limit for the hysteresis). */
static int number_or_pct(struct cfg_err *e, const char *v, double *d, bool *pct)
{
    char buf[64];
    size_t n = strlen(v);

    *pct = n > 1 && v[n - 1] == '%';
    if (*pct) {
        if (n >= sizeof(buf))
            return cfg_fail(e, "'%s' is not a number or a percentage", v);
        memcpy(buf, v, n - 1);
        buf[n - 1] = '\0';
        v = buf;
    }
    if (cfg_parse_double(v, d) < 0)
        return cfg_fail(e, "'%s%s' is not a number or a percentage", v, *pct ? "%" : "");
    return 1;
}

static int p_limit(struct cfg_err *e, const struct key *k, void *obj, const char *v)
{
    struct cfg_sensor *s = obj;
    int level = (int)k->min;
    double d;
    bool pct;

    if (!number_or_pct(e, v, &d, &pct))
        return 0;
    s->rules.level.limit[level] = d;
    s->rules.level.has[level] = true;
    s->limit_pct[level] = pct;
    return 1;
}

static int p_hysteresis(struct cfg_err *e, const struct key *k, void *obj, const char *v)
{
    struct cfg_sensor *s = obj;
    double d;
    bool pct;

    (void)k;
    if (!number_or_pct(e, v, &d, &pct))
        return 0;
    if (d < 0)
        return cfg_fail(e, "%s must not be negative", v);
    s->rules.level.hysteresis = d;
    s->hyst_pct = pct;
    return 1;
}

static int p_register(struct cfg_err *e, const struct key *k, void *obj, const char *v)
{
    struct cfg_sensor *s = obj;
    char kind[16], *end;
    const char *colon = strchr(v, ':');
    long addr;
    int i;

    (void)k;
    if (!colon || (size_t)(colon - v) >= sizeof(kind))
        return cfg_fail(e, "'%s' is not KIND:ADDRESS (e.g. holding:0)", v);
    memcpy(kind, v, (size_t)(colon - v));
    kind[colon - v] = '\0';
    i = lookup(reg_kind_names, kind);
    if (i < 0)
        return cfg_fail(e, "unknown register kind '%s' (holding, input, coil or discrete)", kind);
    errno = 0;
    addr = strtol(colon + 1, &end, 10);
    if (errno || end == colon + 1 || *end || addr < 0 || addr > 65535)
        return cfg_fail(e, "address '%s' is not 0 to 65535", colon + 1);
    s->io.reg.kind = (enum reg_kind)i;
    s->io.reg.addr = (uint16_t)addr;
    return 1;
}

/* modbus:BUS:UNIT:coil|holding:ADDRESS */
static int p_output(struct cfg_err *e, const struct key *k, void *obj, const char *v)
{
    struct cfg_action *a = obj;
    char bus[CFG_NAME_MAX], kind[16];
    unsigned unit, addr;
    int end = 0;

    (void)k;
    if (strncmp(v, "gpio:", 5) == 0) {
        if (!v[5] || strlen(v + 5) >= sizeof(a->out.gpio_line))
            return cfg_fail(e, "'%s': gpio:LINE, a line name or CHIP:OFFSET", v);
        a->out.gpio = true;
        snprintf(a->out.gpio_line, sizeof(a->out.gpio_line), "%s", v + 5);
        return 1;
    }
    if (sscanf(v, "modbus:%47[^:]:%u:%15[^:]:%u%n", bus, &unit, kind, &addr, &end) != 4 || v[end])
        return cfg_fail(e, "'%s' is not modbus:BUS:UNIT:coil|holding:ADDRESS or gpio:LINE", v);
    if (strcmp(kind, "coil") && strcmp(kind, "holding"))
        return cfg_fail(e, "'%s': a Modbus output is a coil or a holding register", v);
    if (unit > 255 || addr > 65535)
        return cfg_fail(e, "'%s': unit id 0 to 255, address 0 to 65535", v);
    snprintf(a->bus_name, sizeof(a->bus_name), "%s", bus);
    a->unit_id = (uint8_t)unit;
    a->kind = strcmp(kind, "coil") == 0 ? REG_COIL : REG_HOLDING;
    a->addr = (uint16_t)addr;
    return 1;
}

/* profile and channel are read by the builder before the other keys. */
static int p_taken(struct cfg_err *e, const struct key *k, void *obj, const char *v)
{
    (void)e, (void)k, (void)obj, (void)v;
    return 1;
}

/* ---- the tables: one per section kind ---- */

#define GW(f) offsetof(struct cfg_gateway, f)
#define ST(f) offsetof(struct cfg_store, f)
#define BU(f) offsetof(struct cfg_bus, p.f)
#define SE(f) offsetof(struct cfg_sensor, f)
#define DAY_MS 86400000.0
#define C KF_CHANNEL
#define D KF_DEVICE
#define K KF_CLASS
#define END                                                                                                            \
    {                                                                                                                  \
        NULL, NULL, 0, NULL, 0, 0, 0                                                                                   \
    }

static const char *const log_names[] = {"stderr", "syslog", NULL};
static const char *const log_level_names[] = {"emerg",  "alert", "crit",  "error", "warning",
                                              "notice", "info",  "debug", NULL};
static const char *const bus_type_names[] = {"tcp", "rtu", "sim", "gpio", NULL};
static const char *const rs485_names[] = {"auto", "on", "off", NULL};
static const char *const rts_names[] = {"none", "up", "down", NULL};
static const char *const rate_dir_names[] = {"rising", "falling", NULL};
static const char *const wave_names[] = {"const", "triangle", "sine", "square", "ramp", NULL};
static const char *const protocol_names[] = {"3.1.1", "5", NULL};
static const char *const tls_min_names[] = {"1.2", "1.3", NULL};
static const char *const noyes_names[] = {"no", "yes", NULL};
static const char *const input_mode_names[] = {"level", "counter", NULL};
static const char *const rate_per_names[] = {"s", "min", "h", NULL};

static const struct key gateway_keys[] = {
    {"id", p_ident, GW(id), NULL, 0, CFG_NAME_MAX, 0},
    {"site", p_ident, GW(site), NULL, 0, CFG_NAME_MAX, 0},
    {"log", p_enum, GW(log), log_names, 0, 0, 0},
    {"log_level", p_enum, GW(log_level), log_level_names, 0, 0, 0},
    {"profiles", p_str, GW(profiles), NULL, 0, CFG_PATH_MAX, 0},
    {"classes", p_str, GW(classes), NULL, 0, CFG_PATH_MAX, 0},
    {"board", p_str, GW(board), NULL, 0, CFG_PATH_MAX, 0},
    END,
};

static const struct key mqtt_keys[] = {
    {"host", p_ipaddr, MQ(host), NULL, 0, CFG_HOST_MAX, 0},
    {"port", p_u16, MQ(port), NULL, 1, 65535, 0},
    {"keepalive", p_int, MQ(keepalive_s), NULL, 5, 3600, 0},
    {"reconnect_min", p_duration, MQ(reconnect_min_ms), NULL, 100, DAY_MS, 0},
    {"reconnect_max", p_duration, MQ(reconnect_max_ms), NULL, 100, DAY_MS, 0},
    {"max_inflight", p_int, MQ(max_inflight), NULL, 1, 1000, 0},
    {"protocol", p_enum, MQ(protocol), protocol_names, 0, 0, 0},
    {"username", p_str, MQ(username), NULL, 0, sizeof(((struct cfg_mqtt *)0)->username), 0},
    {"password", p_secret, MQ(password), NULL, 0, sizeof(((struct cfg_mqtt *)0)->password), 0},
    {"allow_plaintext", p_enum, MQ(allow_plaintext), noyes_names, 0, 0, 0},
    {"tls_ca", p_tls_path, MQ(tls_ca), NULL, 0, CFG_PATH_MAX, 0},
    {"tls_cert", p_tls_path, MQ(tls_cert), NULL, 0, CFG_PATH_MAX, 0},
    {"tls_key", p_tls_path, MQ(tls_key), NULL, 0, CFG_PATH_MAX, 0},
    {"tls_min", p_enum, MQ(tls_min), tls_min_names, 0, 0, 0},
    {"telemetry_qos", p_int, MQ(telemetry_qos), NULL, 0, 1, 0},
    {"telemetry_batch", p_int, MQ(telemetry_batch), NULL, 1, 1000, 0},
    {"telemetry_delay", p_duration, MQ(telemetry_delay_ms), NULL, 0, 3600000, 0},
    {"cmd_rate", p_int, MQ(cmd_rate), NULL, 0, 1000, 0},
    {"cmd_burst", p_int, MQ(cmd_burst), NULL, 1, 10000, 0},
    {"set_interval", p_duration, MQ(set_interval_ms), NULL, 0, 3600000, 0},
    END,
};

static const struct key store_keys[] = {
    {"path", p_str, ST(path), NULL, 0, CFG_PATH_MAX, 0},
    {"retention", p_duration, ST(retention_ms), NULL, 60000, 3650 * DAY_MS, 0},
    {"max_size", p_bytes, ST(max_bytes), NULL, 256 * 1024, 1e12, 0},
    {"outbox_max", p_int64, ST(outbox_max), NULL, 100, 1e9, 0},
    {"cache", p_bytes, ST(cache_bytes), NULL, 64 * 1024, 1024.0 * 1024 * 1024, 0},
    {"outbox_max_bytes", p_bytes, ST(outbox_max_bytes), NULL, 64 * 1024, 1e12, 0},
    {"outbox_alarm_max", p_int64, ST(outbox_alarm_max), NULL, 100, 1e9, 0},
    END,
};

#define CO(f) offsetof(struct cfg_console, f)

/* A crypt(3) hash as lifelinectl passwd writes it: $id$salt$hash. */
static int p_pin_hash(struct cfg_err *e, const struct key *k, void *obj, const char *v)
{
    if (v[0] != '$' || strchr(v, ' ') || strlen(v) < 20)
        return cfg_fail(e, "is not a crypt(3) hash (set it with: lifelinectl passwd)");
    return p_str(e, k, obj, v);
}

static const struct key console_keys[] = {
    {"socket", p_str, CO(socket), NULL, 0, 108, 0},
    {"group", p_ident, CO(group), NULL, 0, CFG_NAME_MAX, 0},
    {"pin", p_pin_hash, CO(pin), NULL, 0, sizeof(((struct cfg_console *)0)->pin), 0},
    {"idle", p_duration, CO(idle_ms), NULL, 10000, DAY_MS, 0},
    END,
};

static const struct key bus_keys[] = {
    {"type", p_enum, BU(type), bus_type_names, 0, 0, 0},
    {"host", p_str, BU(host), NULL, 0, CFG_HOST_MAX, 0},
    {"port", p_u16, BU(port), NULL, 1, 65535, 0},
    {"device", p_str, BU(device), NULL, 0, CFG_PATH_MAX, 0},
    {"baud", p_baud, BU(baud), NULL, 0, 0, 0},
    {"parity", p_parity, BU(parity), NULL, 0, 0, 0},
    {"data_bits", p_int, BU(data_bits), NULL, 7, 8, 0},
    {"stop_bits", p_int, BU(stop_bits), NULL, 1, 2, 0},
    {"rs485", p_enum, BU(rs485), rs485_names, 0, 0, 0},
    {"rts", p_enum, BU(rts), rts_names, 0, 0, 0},
    {"timeout", p_duration, BU(timeout_ms), NULL, 10, 60000, 0},
    {"byte_timeout", p_duration, BU(byte_timeout_ms), NULL, 1, 10000, 0},
    {"frame_delay", p_duration, BU(frame_delay_ms), NULL, 0, 10000, 0},
    {"retries", p_int, BU(retries), NULL, 0, 5, 0},
    {"backoff_after", p_int, BU(backoff_after), NULL, 1, 1000, 0},
    {"backoff_max", p_duration, BU(backoff_max_ms), NULL, 100, DAY_MS, 0},
    {"max_gap", p_int, BU(max_gap), NULL, 0, 124, 0},
    {"max_registers", p_int, BU(max_registers), NULL, 1, 125, 0},
    END,
};

static const struct key sensor_keys[] = {
    [K_CLASS] = {"class", p_ident, SE(cls), NULL, 0, CFG_NAME_MAX, C},
    [K_LIFELINE] = {"lifeline", p_enum, SE(lifeline), lifeline_names, 0, 0, C | K},
    [K_BUS] = {"bus", p_ident, SE(bus_name), NULL, 0, CFG_NAME_MAX, D},
    [K_UNIT_ID] = {"unit_id", p_u8, SE(io.unit_id), NULL, 0, 255, D},
    [K_REGISTER] = {"register", p_register, 0, NULL, 0, 0, C},
    [K_TYPE] = {"type", p_enum, SE(io.reg.type), reg_type_names, 0, 0, C},
    [K_ORDER] = {"order", p_enum, SE(io.reg.order), word_order_names, 0, 0, C | D},
    [K_BIT] = {"bit", p_int, SE(io.reg.bit), NULL, 0, 15, C},
    [K_SCALE] = {"scale", p_double, SE(io.reg.scale), NULL, -1e12, 1e12, C},
    [K_OFFSET] = {"offset", p_double, SE(io.reg.offset), NULL, -1e12, 1e12, C},
    [K_RAW_MIN] = {"raw_min", p_double, SE(io.reg.raw_min), NULL, -1e15, 1e15, C},
    [K_RAW_MAX] = {"raw_max", p_double, SE(io.reg.raw_max), NULL, -1e15, 1e15, C},
    [K_MIN] = {"min", p_double, SE(io.reg.min), NULL, -1e15, 1e15, C},
    [K_MAX] = {"max", p_double, SE(io.reg.max), NULL, -1e15, 1e15, C},
    [K_VALID_MIN] = {"valid_min", p_double, SE(io.reg.valid_min), NULL, -1e15, 1e15, C},
    [K_VALID_MAX] = {"valid_max", p_double, SE(io.reg.valid_max), NULL, -1e15, 1e15, C},
    [K_UNIT] = {"unit", p_str, SE(unit), NULL, 0, CFG_UNIT_MAX, C | K},
    [K_POLL] = {"poll", p_duration, SE(io.poll_ms), NULL, 10, DAY_MS, D},
    [K_DIRECTION] = {"direction", p_enum, SE(rules.level.dir), direction_names, 0, 0, C | K},
    [K_RED] = {"red", p_limit, 0, NULL, LEVEL_RED, 0, C | K},
    [K_ORANGE] = {"orange", p_limit, 0, NULL, LEVEL_ORANGE, 0, C | K},
    [K_YELLOW] = {"yellow", p_limit, 0, NULL, LEVEL_YELLOW, 0, C | K},
    [K_BLUE] = {"blue", p_limit, 0, NULL, LEVEL_BLUE, 0, C | K},
    [K_HYSTERESIS] = {"hysteresis", p_hysteresis, 0, NULL, 0, 0, C | K},
    [K_ON_DELAY] = {"on_delay", p_duration, SE(rules.level.on_delay_ms), NULL, 0, DAY_MS, C | K},
    [K_OFF_DELAY] = {"off_delay", p_duration, SE(rules.level.off_delay_ms), NULL, 0, DAY_MS, C | K},
    [K_SIM] = {"sim", p_enum, SE(io.sim.wave), wave_names, 0, 0, 0},
    [K_SIM_MIN] = {"sim_min", p_double, SE(io.sim.min), NULL, -1e12, 1e12, 0},
    [K_SIM_MAX] = {"sim_max", p_double, SE(io.sim.max), NULL, -1e12, 1e12, 0},
    [K_SIM_PERIOD] = {"sim_period", p_duration, SE(io.sim.period_ms), NULL, 100, DAY_MS, 0},
    [K_PROFILE] = {"profile", p_taken, 0, NULL, 0, 0, D},
    [K_CHANNEL] = {"channel", p_taken, 0, NULL, 0, 0, 0},
    [K_DESIGN] = {"design", p_double, SE(design), NULL, -1e15, 1e15, C},
    [K_ON_COUNT] = {"on_count", p_int, SE(rules.level.on_count), NULL, 0, 10000, C | K},
    [K_OFF_COUNT] = {"off_count", p_int, SE(rules.level.off_count), NULL, 0, 10000, C | K},
    [K_RATE] = {"rate", p_double, SE(rate), NULL, 1e-12, 1e15, C | K},
    [K_RATE_WINDOW] = {"rate_window", p_duration, SE(rate_window_ms), NULL, 1000, 7 * DAY_MS, C | K},
    [K_RATE_DIRECTION] = {"rate_direction", p_enum, SE(rate_falling), rate_dir_names, 0, 0, C | K},
    [K_RATE_LEVEL] = {"rate_level", p_enum, SE(rate_level), level_names, 0, 0, C | K},
    [K_RATE_HYSTERESIS] = {"rate_hysteresis", p_double, SE(rate_hysteresis), NULL, 0, 1e15, C | K},
    [K_FAULT_AFTER] = {"fault_after", p_int, SE(fault_after), NULL, 1, 10000, C | K | D},
    [K_FAULT_LEVEL] = {"fault_level", p_enum, SE(fault_level), level_names, 0, 0, C | K | D},
    [K_STALE_AFTER] = {"stale_after", p_duration, SE(stale_ms), NULL, 100, DAY_MS, C | K | D},
    [K_REMIND] = {"remind", p_duration, SE(remind_ms), NULL, 1000, 7 * DAY_MS, C | K | D},
    [K_TELEMETRY] = {"telemetry", p_duration_off, SE(telemetry_ms), NULL, 0, DAY_MS, C | K | D},
    [K_DEADBAND] = {"deadband", p_double, SE(deadband), NULL, 0, 1e15, C | K | D},
    [K_TELEMETRY_STATS] = {"telemetry_stats", p_enum, SE(telemetry_stats), noyes_names, 0, 0, C | K | D},
    [K_INPUT] = {"input", p_str, SE(io.input), NULL, 0, CFG_LINE_MAX, 0},
    [K_DEBOUNCE] = {"debounce", p_duration, SE(io.debounce_ms), NULL, 0, 10000, C | K | D},
    [K_ACTIVE_LOW] = {"active_low", p_enum, SE(io.active_low), noyes_names, 0, 0, C | K | D},
    [K_MODE] = {"mode", p_enum, SE(io.mode), input_mode_names, 0, 0, C | K},
    [K_PER_PULSE] = {"per_pulse", p_double, SE(io.per_pulse), NULL, 1e-9, 1e9, C | K},
    [K_RATE_PER] = {"rate_per", p_enum, SE(io.rate_per), rate_per_names, 0, 0, C | K},
    [K_COUNT_WINDOW] = {"count_window", p_duration, SE(io.count_window_ms), NULL, 1000, 3600000, C | K},
    END,
};

#define AC(f) offsetof(struct cfg_action, f)

static const struct key action_keys[] = {
    {"sensors", p_str, AC(sensor_list), NULL, 0, sizeof(((struct cfg_action *)0)->sensor_list), 0},
    {"level", p_enum, AC(level), level_names, 0, 0, 0},
    {"output", p_output, 0, NULL, 0, 0, 0},
    {"value", p_int, AC(value), NULL, 0, 65535, 0},
    {"restore", p_int, AC(out.restore), NULL, 0, 65535, 0},
    {"pulse", p_duration, AC(pulse_ms), NULL, 10, DAY_MS, 0},
    {"latch", p_enum, AC(latch), noyes_names, 0, 0, 0},
    END,
};

static const struct key profile_keys[] = {
    {"description", p_taken, 0, NULL, 0, 0, 0},
    {"source", p_taken, 0, NULL, 0, 0, 0},
    END,
};

#define BO(f) offsetof(struct cfg_board, f)

static const struct key board_keys[] = {
    {"name", p_ident, BO(name), NULL, 0, CFG_NAME_MAX, 0},
    {"description", p_taken, 0, NULL, 0, 0, 0},
    {"watchdog", p_str, BO(watchdog), NULL, 0, CFG_PATH_MAX, 0},
    {"watchdog_timeout", p_duration, BO(watchdog_timeout_ms), NULL, 2000, 600000, 0},
    {"led_run", p_str, BO(gpio.led_run), NULL, 0, CFG_LINE_MAX, 0},
    {"led_alarm", p_str, BO(gpio.led_alarm), NULL, 0, CFG_LINE_MAX, 0},
    {"console", p_ident, BO(console), NULL, 0, CFG_NAME_MAX, 0},
    END,
};

#define PO(f) offsetof(struct cfg_board_port, f)

static const struct key port_keys[] = {
    {"device", p_str, PO(device), NULL, 0, CFG_PATH_MAX, 0},
    {"rs485", p_enum, PO(rs485), rs485_names, 0, 0, 0},
    {"rts", p_enum, PO(rts), rts_names, 0, 0, 0},
    {"description", p_taken, 0, NULL, 0, 0, 0},
    END,
};

static const struct key no_keys[] = {END};

const struct key *cfg_keys(enum sect_kind kind)
{
    switch (kind) {
    case SECT_GATEWAY:
        return gateway_keys;
    case SECT_MQTT:
        return mqtt_keys;
    case SECT_STORE:
        return store_keys;
    case SECT_BUS:
        return bus_keys;
    case SECT_SENSOR:
    case SECT_DEVICE:
    case SECT_CHANNEL:
    case SECT_CLASS:
        return sensor_keys;
    case SECT_PROFILE:
        return profile_keys;
    case SECT_ACTION:
        return action_keys;
    case SECT_CONSOLE:
        return console_keys;
    case SECT_BOARD:
        return board_keys;
    case SECT_PORT:
        return port_keys;
    default:
        return no_keys;
    }
}

int cfg_key_index(const struct key *keys, const char *name)
{
    for (int i = 0; keys[i].name; i++)
        if (strcmp(keys[i].name, name) == 0)
            return i;
    return -1;
}
