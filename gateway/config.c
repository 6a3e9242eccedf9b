#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Lines libinih (Debian, INI_MAX_LINE 200, no realloc) reads whole. */
#define LINE_MAX_CHARS 198
#define MAX_KEYS 40

enum sect_kind { SECT_NONE, SECT_GATEWAY, SECT_MQTT, SECT_STORE, SECT_BUS, SECT_SENSOR };

struct parse;
struct key;
typedef int (*key_fn)(struct parse *p, const struct key *k, void *obj, const char *v);

struct key {
    const char *name;
    key_fn parse;
    size_t off;
    const void *arg; /* names table, or NULL */
    double min, max; /* bounds for numbers and durations (ms); size for strings */
};

/* What we remember of every section for checks made after parsing. */
struct sect {
    enum sect_kind kind;
    unsigned index;       /* into buses/sensors */
    int line;
    int key_line[MAX_KEYS];
    char bus_ref[CFG_NAME_MAX];
};

struct parse {
    const char *file;
    FILE *fp;
    int line;      /* line of the text last handed to libinih */
    bool at_line_start;
    struct config *cfg;
    struct sect *sects;
    unsigned n_sects;
    struct sect *cur; /* NULL before the first section or after a bad header */
    bool skip;        /* inside a section whose header was rejected */
    char *err;
    size_t errlen;
    bool failed;
};

static const char *sect_label(const struct parse *p, const struct sect *s, char *buf, size_t len)
{
    switch (s->kind) {
    case SECT_GATEWAY: return "[gateway]";
    case SECT_MQTT: return "[mqtt]";
    case SECT_STORE: return "[store]";
    case SECT_BUS: snprintf(buf, len, "[bus %s]", p->cfg->buses[s->index].name); return buf;
    case SECT_SENSOR: snprintf(buf, len, "[sensor %s]", p->cfg->sensors[s->index].name); return buf;
    default: return "";
    }
}

/* Records the first error only: later ones are often its consequences. */
__attribute__((format(printf, 5, 6)))
static int fail(struct parse *p, int line, const struct sect *s, const char *key, const char *fmt, ...)
{
    char what[512], label[CFG_NAME_MAX + 16];
    va_list ap;

    if (p->failed)
        return 0;
    p->failed = true;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    const char *sl = s ? sect_label(p, s, label, sizeof(label)) : "";
    if (line > 0)
        snprintf(p->err, p->errlen, "%s:%d: %s%s%s%s%s", p->file, line, sl, *sl ? " " : "",
                 key ? key : "", key ? ": " : "", what);
    else
        snprintf(p->err, p->errlen, "%s: %s%s%s%s%s", p->file, sl, *sl ? " " : "",
                 key ? key : "", key ? ": " : "", what);
    return 0;
}

/* ---- value parsers: one per type; each returns 1 (ok) or 0 (error recorded) */

__attribute__((format(printf, 3, 4)))
static int bad(struct parse *p, const struct key *k, const char *fmt, ...)
{
    char what[400];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    return fail(p, p->line, p->cur, k->name, "%s", what);
}

static int p_str(struct parse *p, const struct key *k, void *obj, const char *v)
{
    char *dst = (char *)obj + k->off;
    size_t size = (size_t)k->max;

    if (!*v)
        return bad(p, k, "empty value");
    if (strlen(v) >= size)
        return bad(p, k, "'%s' is too long (at most %zu characters)", v, size - 1);
    memcpy(dst, v, strlen(v) + 1);
    return 1;
}

/* Names that become MQTT topic levels or console words. */
static int p_ident(struct parse *p, const struct key *k, void *obj, const char *v)
{
    for (const char *c = v; *c; c++)
        if (!isalnum((unsigned char)*c) && *c != '-' && *c != '_' && *c != '.')
            return bad(p, k, "'%s' may only contain letters, digits, '-', '_' and '.'", v);
    return p_str(p, k, obj, v);
}

static int p_ipaddr(struct parse *p, const struct key *k, void *obj, const char *v)
{
    unsigned char buf[sizeof(struct in6_addr)];

    if (inet_pton(AF_INET, v, buf) != 1 && inet_pton(AF_INET6, v, buf) != 1)
        return bad(p, k, "'%s' is not a numeric IPv4 or IPv6 address (host names are not "
                         "resolved, so a lookup can never stall the gateway)", v);
    return p_str(p, k, obj, v);
}

static int parse_double(const char *v, double *out)
{
    char *end;

    errno = 0;
    *out = strtod(v, &end);
    return errno == 0 && end != v && *end == '\0' && isfinite(*out) ? 0 : -1;
}

static int p_double(struct parse *p, const struct key *k, void *obj, const char *v)
{
    double d;

    if (parse_double(v, &d) < 0)
        return bad(p, k, "'%s' is not a number", v);
    if (d < k->min || d > k->max)
        return bad(p, k, "%s is out of range (%g to %g)", v, k->min, k->max);
    *(double *)((char *)obj + k->off) = d;
    return 1;
}

static int parse_long(const char *v, long *out)
{
    char *end;

    errno = 0;
    *out = strtol(v, &end, 10);
    return errno == 0 && end != v && *end == '\0' ? 0 : -1;
}

/* A whole number within the key's bounds; the callers store it at their width. */
static int get_int(struct parse *p, const struct key *k, const char *v, long *n)
{
    if (parse_long(v, n) < 0)
        return bad(p, k, "'%s' is not a whole number", v);
    if (*n < k->min || *n > k->max)
        return bad(p, k, "%s is out of range (%.0f to %.0f)", v, k->min, k->max);
    return 1;
}

static int p_int(struct parse *p, const struct key *k, void *obj, const char *v)
{
    long n;
    int ok = get_int(p, k, v, &n);
    if (ok)
        *(int *)((char *)obj + k->off) = (int)n;
    return ok;
}

static int p_u16(struct parse *p, const struct key *k, void *obj, const char *v)
{
    long n;
    int ok = get_int(p, k, v, &n);
    if (ok)
        *(uint16_t *)((char *)obj + k->off) = (uint16_t)n;
    return ok;
}

static int p_u8(struct parse *p, const struct key *k, void *obj, const char *v)
{
    long n;
    int ok = get_int(p, k, v, &n);
    if (ok)
        *(uint8_t *)((char *)obj + k->off) = (uint8_t)n;
    return ok;
}

int config_parse_duration(const char *s, int64_t *ms)
{
    static const struct { const char *suffix; double mult; } units[] = {
        {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"", 1000},
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

static int p_duration(struct parse *p, const struct key *k, void *obj, const char *v)
{
    int64_t ms;

    if (config_parse_duration(v, &ms) < 0)
        return bad(p, k, "'%s' is not a duration (e.g. 500ms, 2s, 5m, 1h)", v);
    if (ms < 0)
        return bad(p, k, "%s must not be negative", v);
    if (ms < k->min || ms > k->max)
        return bad(p, k, "%s is out of range (%.0fms to %.0fms)", v, k->min, k->max);
    *(int64_t *)((char *)obj + k->off) = ms;
    return 1;
}

static int lookup(const char *const *names, const char *v)
{
    for (int i = 0; names[i]; i++)
        if (strcmp(names[i], v) == 0)
            return i;
    return -1;
}

static void join_names(const char *const *names, char *buf, size_t len)
{
    size_t used = 0;

    buf[0] = '\0';
    for (int i = 0; names[i] && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? "|" : "", names[i]);
}

static int p_enum(struct parse *p, const struct key *k, void *obj, const char *v)
{
    const char *const *names = k->arg;
    int i = lookup(names, v);
    char all[256];

    if (i < 0) {
        join_names(names, all, sizeof(all));
        return bad(p, k, "'%s' is not one of %s", v, all);
    }
    *(int *)((char *)obj + k->off) = i;
    return 1;
}

static int p_limit(struct parse *p, const struct key *k, void *obj, const char *v)
{
    struct cfg_sensor *s = obj;
    int level = (int)k->min;
    double d;

    if (parse_double(v, &d) < 0)
        return bad(p, k, "'%s' is not a number", v);
    s->rule.limit[level] = d;
    s->rule.has[level] = true;
    return 1;
}

static int p_register(struct parse *p, const struct key *k, void *obj, const char *v)
{
    struct cfg_sensor *s = obj;
    char kind[16];
    const char *colon = strchr(v, ':');
    long addr;
    int i;

    if (!colon || (size_t)(colon - v) >= sizeof(kind))
        return bad(p, k, "'%s' is not KIND:ADDRESS (e.g. holding:0)", v);
    memcpy(kind, v, (size_t)(colon - v));
    kind[colon - v] = '\0';
    i = lookup(reg_kind_names, kind);
    if (i < 0)
        return fail(p, p->line, p->cur, k->name,
                    "unknown register kind '%s' (holding, input, coil or discrete)", kind);
    if (parse_long(colon + 1, &addr) < 0 || addr < 0 || addr > 65535)
        return bad(p, k, "address '%s' is not 0 to 65535", colon + 1);
    s->reg.kind = (enum reg_kind)i;
    s->reg.addr = (uint16_t)addr;
    return 1;
}

static int p_class(struct parse *p, const struct key *k, void *obj, const char *v)
{
    struct cfg_sensor *s = obj;

    s->cls = class_find(v);
    if (!s->cls)
        return bad(p, k, "unknown class '%s'", v);
    return 1;
}

static int p_busref(struct parse *p, const struct key *k, void *obj, const char *v)
{
    (void)obj;
    struct key k2 = *k;
    k2.off = 0;
    k2.max = sizeof(p->cur->bus_ref);
    return p_str(p, &k2, p->cur->bus_ref, v);
}

/* ---- the tables: one per section kind ---- */

#define GW(f) offsetof(struct cfg_gateway, f)
#define MQ(f) offsetof(struct cfg_mqtt, f)
#define ST(f) offsetof(struct cfg_store, f)
#define BU(f) offsetof(struct cfg_bus, f)
#define SE(f) offsetof(struct cfg_sensor, f)
#define DAY_MS 86400000.0

static const char *const log_names[] = {"stderr", "syslog", NULL};
static const char *const log_level_names[] = {"emerg", "alert", "crit", "error", "warning",
                                              "notice", "info", "debug", NULL};
static const char *const bus_type_names[] = {"tcp", "rtu", "sim", NULL};
static const char *const wave_names[] = {"const", "triangle", "sine", "square", "ramp", NULL};

static const struct key gateway_keys[] = {
    {"id", p_ident, GW(id), NULL, 0, CFG_NAME_MAX},
    {"site", p_ident, GW(site), NULL, 0, CFG_NAME_MAX},
    {"log", p_enum, GW(log), log_names, 0, 0},
    {"log_level", p_enum, GW(log_level), log_level_names, 0, 0},
    {NULL, NULL, 0, NULL, 0, 0},
};

static const struct key mqtt_keys[] = {
    {"host", p_ipaddr, MQ(host), NULL, 0, CFG_HOST_MAX},
    {"port", p_u16, MQ(port), NULL, 1, 65535},
    {"keepalive", p_int, MQ(keepalive_s), NULL, 5, 3600},
    {"reconnect_min", p_duration, MQ(reconnect_min_ms), NULL, 100, DAY_MS},
    {"reconnect_max", p_duration, MQ(reconnect_max_ms), NULL, 100, DAY_MS},
    {"max_inflight", p_int, MQ(max_inflight), NULL, 1, 1000},
    {NULL, NULL, 0, NULL, 0, 0},
};

static const struct key store_keys[] = {
    {"path", p_str, ST(path), NULL, 0, CFG_PATH_MAX},
    {NULL, NULL, 0, NULL, 0, 0},
};

static const struct key bus_keys[] = {
    {"type", p_enum, BU(type), bus_type_names, 0, 0},
    {"host", p_ipaddr, BU(host), NULL, 0, CFG_HOST_MAX},
    {"port", p_u16, BU(port), NULL, 1, 65535},
    {"timeout", p_duration, BU(timeout_ms), NULL, 10, 60000},
    {NULL, NULL, 0, NULL, 0, 0},
};

/* Indexes into sensor_keys for checks after parsing. */
enum { K_CLASS, K_LIFELINE, K_BUS, K_UNIT_ID, K_REGISTER, K_TYPE, K_ORDER, K_SCALE, K_OFFSET,
       K_UNIT, K_POLL, K_DIRECTION, K_RED, K_ORANGE, K_YELLOW, K_BLUE, K_HYSTERESIS,
       K_ON_DELAY, K_OFF_DELAY, K_SIM, K_SIM_MIN, K_SIM_MAX, K_SIM_PERIOD };

static const struct key sensor_keys[] = {
    [K_CLASS] = {"class", p_class, 0, NULL, 0, 0},
    [K_LIFELINE] = {"lifeline", p_enum, SE(lifeline), lifeline_names, 0, 0},
    [K_BUS] = {"bus", p_busref, 0, NULL, 0, 0},
    [K_UNIT_ID] = {"unit_id", p_u8, SE(unit_id), NULL, 0, 255},
    [K_REGISTER] = {"register", p_register, 0, NULL, 0, 0},
    [K_TYPE] = {"type", p_enum, SE(reg.type), reg_type_names, 0, 0},
    [K_ORDER] = {"order", p_enum, SE(reg.order), word_order_names, 0, 0},
    [K_SCALE] = {"scale", p_double, SE(reg.scale), NULL, -1e12, 1e12},
    [K_OFFSET] = {"offset", p_double, SE(reg.offset), NULL, -1e12, 1e12},
    [K_UNIT] = {"unit", p_str, SE(unit), NULL, 0, CFG_UNIT_MAX},
    [K_POLL] = {"poll", p_duration, SE(poll_ms), NULL, 10, DAY_MS},
    [K_DIRECTION] = {"direction", p_enum, SE(rule.dir), direction_names, 0, 0},
    [K_RED] = {"red", p_limit, 0, NULL, LEVEL_RED, 0},
    [K_ORANGE] = {"orange", p_limit, 0, NULL, LEVEL_ORANGE, 0},
    [K_YELLOW] = {"yellow", p_limit, 0, NULL, LEVEL_YELLOW, 0},
    [K_BLUE] = {"blue", p_limit, 0, NULL, LEVEL_BLUE, 0},
    [K_HYSTERESIS] = {"hysteresis", p_double, SE(rule.hysteresis), NULL, 0, 1e12},
    [K_ON_DELAY] = {"on_delay", p_duration, SE(rule.on_delay_ms), NULL, 0, DAY_MS},
    [K_OFF_DELAY] = {"off_delay", p_duration, SE(rule.off_delay_ms), NULL, 0, DAY_MS},
    [K_SIM] = {"sim", p_enum, SE(sim.wave), wave_names, 0, 0},
    [K_SIM_MIN] = {"sim_min", p_double, SE(sim.min), NULL, -1e12, 1e12},
    [K_SIM_MAX] = {"sim_max", p_double, SE(sim.max), NULL, -1e12, 1e12},
    [K_SIM_PERIOD] = {"sim_period", p_duration, SE(sim.period_ms), NULL, 100, DAY_MS},
    {NULL, NULL, 0, NULL, 0, 0},
};

static const struct key no_keys[] = {{NULL, NULL, 0, NULL, 0, 0}};

static const struct key *keys_of(enum sect_kind kind)
{
    switch (kind) {
    case SECT_GATEWAY: return gateway_keys;
    case SECT_MQTT: return mqtt_keys;
    case SECT_STORE: return store_keys;
    case SECT_BUS: return bus_keys;
    case SECT_SENSOR: return sensor_keys;
    default: return no_keys;
    }
}

static void *obj_of(struct parse *p, const struct sect *s)
{
    switch (s->kind) {
    case SECT_GATEWAY: return &p->cfg->gateway;
    case SECT_MQTT: return &p->cfg->mqtt;
    case SECT_STORE: return &p->cfg->store;
    case SECT_BUS: return &p->cfg->buses[s->index];
    case SECT_SENSOR: return &p->cfg->sensors[s->index];
    default: return NULL;
    }
}

/* ---- sections ---- */

static void sensor_defaults(struct cfg_sensor *s)
{
    memset(s, 0, sizeof(*s));
    s->unit_id = 1;
    s->reg = (struct reg_format){.kind = REG_HOLDING, .type = TYPE_UINT16,
                                 .order = ORDER_ABCD, .scale = 1.0};
    s->poll_ms = 1000;
    s->sim = (struct cfg_sim){.wave = WAVE_CONST, .period_ms = 60000};
}

static void bus_defaults(struct cfg_bus *b)
{
    memset(b, 0, sizeof(*b));
    b->port = 502;
    b->timeout_ms = 500;
}

static int find_named(struct parse *p, enum sect_kind kind, const char *name)
{
    for (unsigned i = 0; i < p->n_sects; i++) {
        const struct sect *s = &p->sects[i];
        if (s->kind != kind)
            continue;
        const char *n = kind == SECT_BUS ? p->cfg->buses[s->index].name
                                         : p->cfg->sensors[s->index].name;
        if (strcmp(n, name) == 0)
            return (int)i;
    }
    return -1;
}

static int grow(void **arr, unsigned n, size_t size)
{
    void *a = realloc(*arr, (n + 1) * size);
    if (!a)
        return -1;
    *arr = a;
    return 0;
}

/* Called from the reader for every "[...]" line, before libinih sees it. */
static void section_begin(struct parse *p, const char *text)
{
    static const struct { const char *word; enum sect_kind kind; bool named; } kinds[] = {
        {"gateway", SECT_GATEWAY, false}, {"mqtt", SECT_MQTT, false},
        {"store", SECT_STORE, false},     {"bus", SECT_BUS, true},
        {"sensor", SECT_SENSOR, true},
    };
    char word[32] = "", name[128] = "", extra[8] = "";
    int n = sscanf(text, "%31s %127s %7s", word, name, extra);
    struct sect s = {.line = p->line};
    size_t i;

    p->cur = NULL;
    p->skip = true;
    for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (strcmp(word, kinds[i].word) == 0)
            break;
    if (n < 1 || i == sizeof(kinds) / sizeof(kinds[0])) {
        fail(p, p->line, NULL, NULL, "unknown section [%s] (gateway, mqtt, store, bus NAME, sensor NAME)", text);
        return;
    }
    s.kind = kinds[i].kind;
    if (kinds[i].named && n != 2) {
        fail(p, p->line, NULL, NULL, "section [%s] needs exactly one name, e.g. [%s NAME]", text, word);
        return;
    }
    if (!kinds[i].named && n != 1) {
        fail(p, p->line, NULL, NULL, "section [%s] takes no name", text);
        return;
    }
    for (const char *c = name; *c; c++) {
        if (!isalnum((unsigned char)*c) && *c != '-' && *c != '_' && *c != '.') {
            fail(p, p->line, NULL, NULL, "[%s]: name '%s' may only contain letters, digits, "
                 "'-', '_' and '.'", text, name);
            return;
        }
    }
    if (strlen(name) >= CFG_NAME_MAX) {
        fail(p, p->line, NULL, NULL, "[%s]: name is too long (at most %d characters)", text, CFG_NAME_MAX - 1);
        return;
    }
    for (unsigned j = 0; j < p->n_sects; j++) {
        if (p->sects[j].kind != s.kind || kinds[i].named)
            continue;
        fail(p, p->line, NULL, NULL, "section [%s] given twice (first at line %d)", word, p->sects[j].line);
        return;
    }
    if (kinds[i].named) {
        int dup = find_named(p, s.kind, name);
        if (dup >= 0) {
            fail(p, p->line, NULL, NULL, "duplicate %s '%s' (first at line %d)", word, name, p->sects[dup].line);
            return;
        }
    }
    if (grow((void **)&p->sects, p->n_sects, sizeof(*p->sects)) < 0)
        goto oom;
    if (s.kind == SECT_BUS) {
        if (grow((void **)&p->cfg->buses, p->cfg->n_buses, sizeof(struct cfg_bus)) < 0)
            goto oom;
        s.index = p->cfg->n_buses++;
        bus_defaults(&p->cfg->buses[s.index]);
        memcpy(p->cfg->buses[s.index].name, name, strlen(name) + 1);
        p->cfg->buses[s.index].line = p->line;
    } else if (s.kind == SECT_SENSOR) {
        if (grow((void **)&p->cfg->sensors, p->cfg->n_sensors, sizeof(struct cfg_sensor)) < 0)
            goto oom;
        s.index = p->cfg->n_sensors++;
        sensor_defaults(&p->cfg->sensors[s.index]);
        memcpy(p->cfg->sensors[s.index].name, name, strlen(name) + 1);
        p->cfg->sensors[s.index].line = p->line;
    }
    p->sects[p->n_sects] = s;
    p->cur = &p->sects[p->n_sects++];
    p->skip = false;
    return;
oom:
    fail(p, p->line, NULL, NULL, "out of memory");
}

/* libinih's reader: counts lines and sees section headers first, so every
 * key knows its line and every section (even an empty one) is recorded. */
static char *reader(char *buf, int size, void *stream)
{
    struct parse *p = stream;

    if (!fgets(buf, size, p->fp))
        return NULL;
    if (p->at_line_start)
        p->line++;
    size_t len = strlen(buf);
    p->at_line_start = len > 0 && buf[len - 1] == '\n';
    if (!p->at_line_start && !feof(p->fp)) {
        fail(p, p->line, NULL, NULL, "line too long (at most %d characters)", LINE_MAX_CHARS);
        buf[0] = '\0';
        return buf;
    }
    char *t = buf;
    if (p->line == 1 && strncmp(t, "\xEF\xBB\xBF", 3) == 0)
        t += 3;
    while (isspace((unsigned char)*t))
        t++;
    if (*t == '[') {
        char *end = strchr(t, ']');
        if (end) {
            char text[128];
            size_t n = (size_t)(end - t - 1);
            if (n >= sizeof(text))
                n = sizeof(text) - 1;
            memcpy(text, t + 1, n);
            text[n] = '\0';
            section_begin(p, text);
        }
    }
    return buf;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
    struct parse *p = user;
    (void)section;

    if (p->skip)
        return 1; /* the header's error is already recorded */
    if (!p->cur)
        return fail(p, p->line, NULL, name, "key outside any section");
    const struct key *keys = keys_of(p->cur->kind);
    int i;
    for (i = 0; keys[i].name; i++)
        if (strcmp(keys[i].name, name) == 0)
            break;
    if (!keys[i].name)
        return fail(p, p->line, p->cur, name, "unknown key");
    if (p->cur->key_line[i])
        return fail(p, p->line, p->cur, name, "given twice (first at line %d; an indented line "
                    "continues the previous value)", p->cur->key_line[i]);
    p->cur->key_line[i] = p->line;
    return keys[i].parse(p, &keys[i], obj_of(p, p->cur), value);
}

/* ---- checks across keys and sections, after parsing ---- */

static int check_sensor(struct parse *p, struct sect *sc)
{
    struct cfg_sensor *s = &p->cfg->sensors[sc->index];
    const int *kl = sc->key_line;
    enum level a, b;

    if (!kl[K_CLASS])
        return fail(p, sc->line, sc, "class", "missing (required)");
    if (!kl[K_BUS])
        return fail(p, sc->line, sc, "bus", "missing (required)");
    int bi = find_named(p, SECT_BUS, sc->bus_ref);
    if (bi < 0)
        return fail(p, kl[K_BUS], sc, "bus", "no [bus %s] in this file", sc->bus_ref);
    s->bus = p->sects[bi].index;
    const struct cfg_bus *bus = &p->cfg->buses[s->bus];

    if (!kl[K_LIFELINE])
        s->lifeline = s->cls->lifeline;
    if (!kl[K_DIRECTION])
        s->rule.dir = s->cls->dir;
    if (!kl[K_UNIT])
        snprintf(s->unit, sizeof(s->unit), "%s", s->cls->unit);

    if (bus->type == BUS_SIM) {
        if (s->sim.min > s->sim.max)
            return fail(p, kl[K_SIM_MIN], sc, "sim_min", "%g is above sim_max %g", s->sim.min, s->sim.max);
    } else {
        if (kl[K_SIM] || kl[K_SIM_MIN] || kl[K_SIM_MAX] || kl[K_SIM_PERIOD])
            return fail(p, sc->line, sc, "sim", "sim keys need a bus of type sim, and [bus %s] is not", bus->name);
        if (!kl[K_REGISTER])
            return fail(p, sc->line, sc, "register", "missing (required on a Modbus bus)");
    }
    bool bits = s->reg.kind == REG_COIL || s->reg.kind == REG_DISCRETE;
    if (!kl[K_TYPE] && bits)
        s->reg.type = TYPE_BOOL;
    if (bits && s->reg.type != TYPE_BOOL)
        return fail(p, kl[K_TYPE], sc, "type", "a %s register holds one bit: type must be bool",
                    reg_kind_names[s->reg.kind]);
    unsigned width = decode_width(s->reg.type);
    if (kl[K_ORDER] && width < 2)
        return fail(p, kl[K_ORDER], sc, "order", "word order applies to 32-bit types, not %s",
                    reg_type_names[s->reg.type]);
    if ((unsigned)s->reg.addr + width - 1 > 65535)
        return fail(p, kl[K_REGISTER], sc, "register", "a %s at %u runs past the last address 65535",
                    reg_type_names[s->reg.type], s->reg.addr);
    if (s->reg.scale == 0)
        return fail(p, kl[K_SCALE], sc, "scale", "must not be 0");
    if (rules_check_order(&s->rule, &a, &b) < 0) {
        static const int key_of_level[] = {0, K_BLUE, K_YELLOW, K_ORANGE, K_RED};
        return fail(p, kl[key_of_level[b]], sc, level_names[b],
                    "%g must be %s %s (%g) for a %s sensor: limits run blue, yellow, orange, red "
                    "in the alarm direction", s->rule.limit[b],
                    s->rule.dir == DIR_HIGH ? "above" : "below", level_names[a], s->rule.limit[a],
                    direction_names[s->rule.dir]);
    }
    return 1;
}

static int check_all(struct parse *p)
{
    struct config *c = p->cfg;
    struct sect *gw = NULL, *mq = NULL;

    for (unsigned i = 0; i < p->n_sects; i++) {
        if (p->sects[i].kind == SECT_GATEWAY)
            gw = &p->sects[i];
        if (p->sects[i].kind == SECT_MQTT)
            mq = &p->sects[i];
    }
    if (!gw)
        return fail(p, 0, NULL, NULL, "[gateway] section missing (it names the gateway: id, site)");
    if (!c->gateway.id[0])
        return fail(p, gw->line, gw, "id", "missing (required)");
    if (!c->gateway.site[0])
        return fail(p, gw->line, gw, "site", "missing (required)");
    if (c->mqtt.reconnect_min_ms > c->mqtt.reconnect_max_ms)
        return fail(p, mq ? mq->line : 0, mq, "reconnect_min", "is above reconnect_max");
    for (unsigned i = 0; i < p->n_sects; i++) {
        struct sect *sc = &p->sects[i];
        if (sc->kind == SECT_BUS) {
            struct cfg_bus *b = &c->buses[sc->index];
            if (b->type == BUS_RTU)
                return fail(p, sc->key_line[0], sc, "type", "rtu buses are not supported by this "
                            "version yet (tcp, sim)");
            if (b->type == BUS_TCP && !b->host[0])
                return fail(p, sc->line, sc, "host", "missing (required for a tcp bus)");
            if (!sc->key_line[0])
                return fail(p, sc->line, sc, "type", "missing (required: tcp or sim)");
        } else if (sc->kind == SECT_SENSOR && !check_sensor(p, sc)) {
            return 0;
        }
    }
    return 1;
}

static void config_defaults(struct config *c)
{
    memset(c, 0, sizeof(*c));
    c->gateway.log = LOG_TARGET_STDERR;
    c->gateway.log_level = LOG_INFO;
    snprintf(c->mqtt.host, sizeof(c->mqtt.host), "127.0.0.1");
    c->mqtt.port = 1883;
    c->mqtt.keepalive_s = 30;
    c->mqtt.reconnect_min_ms = 1000;
    c->mqtt.reconnect_max_ms = 60000;
    c->mqtt.max_inflight = 20;
    snprintf(c->store.path, sizeof(c->store.path), "/var/lib/lifeline/lifeline.db");
}

int config_load(const char *path, struct config *cfg, char *err, size_t errlen)
{
    struct parse p = {.file = path, .cfg = cfg, .err = err, .errlen = errlen, .at_line_start = true};
    int r;

    config_defaults(cfg);
    if (strlen(path) >= sizeof(cfg->path)) {
        snprintf(err, errlen, "%s: path too long", path);
        return -1;
    }
    snprintf(cfg->path, sizeof(cfg->path), "%s", path);
    p.fp = fopen(path, "r");
    if (!p.fp) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    r = ini_parse_stream(reader, &p, handler, &p);
    if (ferror(p.fp))
        fail(&p, p.line, NULL, NULL, "read error: %s", strerror(errno));
    fclose(p.fp);
    if (!p.failed && r > 0)
        fail(&p, r, NULL, NULL, "syntax error (expected [section], key = value, or a ; comment)");
    if (!p.failed && r < 0)
        fail(&p, 0, NULL, NULL, "out of memory");
    if (!p.failed)
        check_all(&p);
    free(p.sects);
    if (p.failed) {
        config_free(cfg);
        return -1;
    }
    return 0;
}

void config_free(struct config *cfg)
{
    if (!cfg)
        return;
    free(cfg->buses);
    free(cfg->sensors);
    cfg->buses = NULL;
    cfg->sensors = NULL;
    cfg->n_buses = cfg->n_sensors = 0;
}

const struct cfg_bus *config_sensor_bus(const struct config *cfg, const struct cfg_sensor *s)
{
    return &cfg->buses[s->bus];
}
