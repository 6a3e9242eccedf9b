/* config: reads the site file (and the device profiles it names) with
 * libinih into raw sections of key/value pairs that remember their file and
 * line, then builds the structs by applying the pairs in layers: defaults,
 * then a profile channel, then the site's own keys. Checks across keys and
 * sections come last. The first error is reported, with its place. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config_keys.h"

/* config/classes.ini, compiled in by the Makefile */
extern const char config_classes_ini[];

#ifndef LIFELINE_PROFILES_DIR
#define LIFELINE_PROFILES_DIR "/usr/share/lifeline/profiles"
#endif

/* Lines libinih (Debian, INI_MAX_LINE 200, no realloc) reads whole. */
#define LINE_MAX_CHARS 198

#include "config_build.h"

static int grow(void **arr, unsigned n, size_t size)
{
    void *a = realloc(*arr, (n + 1) * size);
    if (!a)
        return -1;
    *arr = a;
    return 0;
}

static bool is_ident(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' && *s != '.')
            return false;
    return true;
}

static void src_free(struct src *s)
{
    for (unsigned i = 0; i < s->n_sects; i++) {
        for (unsigned j = 0; j < s->sects[i].n_pairs; j++) {
            free(s->sects[i].pairs[j].key);
            free(s->sects[i].pairs[j].value);
        }
        free(s->sects[i].pairs);
    }
    free(s->sects);
    s->sects = NULL;
    s->n_sects = 0;
}

/* An error while reading; with key, it belongs to the current section. */
__attribute__((format(printf, 4, 5)))
static int src_fail(struct src *s, int line, const char *key, const char *fmt, ...)
{
    char what[400];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    s->err->file = s->path;
    s->err->line = line;
    s->err->label = key ? s->label : NULL;
    s->err->key = key;
    return cfg_fail(s->err, "%s", what);
}

/* ---- reading: a line-counting reader that sees headers before libinih ---- */

static void section_begin(struct src *s, const char *text)
{
    static const struct { const char *word; enum sect_kind kind; bool named; enum src_kind src; } kinds[] = {
        {"gateway", SECT_GATEWAY, false, SRC_SITE}, {"mqtt", SECT_MQTT, false, SRC_SITE},
        {"store", SECT_STORE, false, SRC_SITE},     {"bus", SECT_BUS, true, SRC_SITE},
        {"sensor", SECT_SENSOR, true, SRC_SITE},    {"device", SECT_DEVICE, true, SRC_SITE},
        {"profile", SECT_PROFILE, false, SRC_PROFILE}, {"channel", SECT_CHANNEL, true, SRC_PROFILE},
        {"class", SECT_CLASS, true, SRC_CLASSES},   {"action", SECT_ACTION, true, SRC_SITE},
        {"console", SECT_CONSOLE, false, SRC_SITE}, {"board", SECT_BOARD, false, SRC_BOARD},
        {"lines", SECT_LINES, false, SRC_BOARD},    {"port", SECT_PORT, true, SRC_BOARD},
    };
    static const char *const expected[] = {
        [SRC_SITE] = "gateway, mqtt, store, console, bus NAME, sensor NAME, device NAME, action NAME",
        [SRC_PROFILE] = "profile, channel NAME",
        [SRC_CLASSES] = "class NAME",
        [SRC_BOARD] = "board, lines, port NAME",
    };
    char word[32] = "", name[128] = "", extra[8] = "";
    int n = sscanf(text, "%31s %127s %7s", word, name, extra);
    size_t i;

    s->skip = true;
    for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (strcmp(word, kinds[i].word) == 0 && kinds[i].src == s->kind)
            break;
    if (n < 1 || i == sizeof(kinds) / sizeof(kinds[0])) {
        src_fail(s, s->line, NULL, "unknown section [%s] (%s)", text, expected[s->kind]);
        return;
    }
    if (kinds[i].named != (n == 2)) {
        if (kinds[i].named)
            src_fail(s, s->line, NULL, "section [%s] needs exactly one name, e.g. [%s NAME]", text, word);
        else
            src_fail(s, s->line, NULL, "section [%s] takes no name", text);
        return;
    }
    if (kinds[i].named && (!is_ident(name) || strlen(name) >= CFG_NAME_MAX)) {
        src_fail(s, s->line, NULL, "[%s]: the name must be 1 to 47 letters, digits, '-', '_' or "
                                "'.'", text);
        return;
    }
    for (unsigned j = 0; j < s->n_sects; j++) {
        const struct sect *o = &s->sects[j];
        if (o->kind != kinds[i].kind || strcmp(o->name, name) != 0)
            continue;
        if (kinds[i].named)
            src_fail(s, s->line, NULL, "duplicate %s '%s' (first at line %d)", word, name, o->line);
        else
            src_fail(s, s->line, NULL, "section [%s] given twice (first at line %d)", word, o->line);
        return;
    }
    if (grow((void **)&s->sects, s->n_sects, sizeof(*s->sects)) < 0) {
        src_fail(s, s->line, NULL, "out of memory");
        return;
    }
    struct sect *sc = &s->sects[s->n_sects++];
    memset(sc, 0, sizeof(*sc));
    sc->kind = kinds[i].kind;
    sc->line = s->line;
    /* (both checked above to fit; the precisions tell the compiler) */
    snprintf(sc->name, sizeof(sc->name), "%.*s", CFG_NAME_MAX - 1, name);
    snprintf(s->label, sizeof(s->label), "[%.10s%s%.*s]", word, *name ? " " : "", CFG_NAME_MAX - 1, name);
    s->skip = false;
}

static char *reader(char *buf, int size, void *stream)
{
    struct src *s = stream;

    if (!fgets(buf, size, s->fp))
        return NULL;
    if (s->at_line_start)
        s->line++;
    size_t len = strlen(buf);
    for (size_t i = 0; i < len; i++)
        s->hash = (s->hash ^ (unsigned char)buf[i]) * 0x100000001b3ULL;
    s->at_line_start = len > 0 && buf[len - 1] == '\n';
    if (!s->at_line_start && !feof(s->fp)) {
        src_fail(s, s->line, NULL, "line too long (at most %d characters)", LINE_MAX_CHARS);
        buf[0] = '\0';
        return buf;
    }
    char *t = buf;
    if (s->line == 1 && strncmp(t, "\xEF\xBB\xBF", 3) == 0)
        t += 3;
    while (isspace((unsigned char)*t))
        t++;
    char *end = *t == '[' ? strchr(t, ']') : NULL;
    if (end) {
        char text[128];
        size_t n = (size_t)(end - t - 1);
        if (n >= sizeof(text))
            n = sizeof(text) - 1;
        memcpy(text, t + 1, n);
        text[n] = '\0';
        section_begin(s, text);
    }
    return buf;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
    struct src *s = user;
    struct sect *sc;
    (void)section;

    if (s->skip)
        return 1; /* the header's error is already recorded */
    if (!s->n_sects)
        return src_fail(s, s->line, NULL, "%s: key outside any section", name);
    sc = &s->sects[s->n_sects - 1];
    for (unsigned i = 0; i < sc->n_pairs; i++) {
        if (strcmp(sc->pairs[i].key, name) == 0) {
            return src_fail(s, s->line, name, "given twice (first at line %d; an indented line "
                            "continues the previous value)", sc->pairs[i].line);
        }
    }
    if (grow((void **)&sc->pairs, sc->n_pairs, sizeof(*sc->pairs)) < 0)
        return src_fail(s, s->line, NULL, "out of memory");
    struct pair *p = &sc->pairs[sc->n_pairs];
    p->key = strdup(name);
    p->value = strdup(value);
    p->line = s->line;
    if (!p->key || !p->value) {
        free(p->key);
        free(p->value);
        return src_fail(s, s->line, NULL, "out of memory");
    }
    sc->n_pairs++;
    return 1;
}

static int src_read(struct src *s)
{
    int r;

    s->at_line_start = true;
    s->hash = 0xcbf29ce484222325ULL;
    s->fp = s->text ? fmemopen((void *)s->text, strlen(s->text), "r") : fopen(s->path, "r");
    if (!s->fp) {
        s->err->file = s->path;
        s->err->line = 0;
        s->err->label = s->err->key = NULL;
        return cfg_fail(s->err, "cannot open: %s", strerror(errno)) - 1;
    }
    r = ini_parse_stream(reader, s, handler, s);
    if (ferror(s->fp))
        src_fail(s, s->line, NULL, "read error: %s", strerror(errno));
    fclose(s->fp);
    s->fp = NULL;
    if (r > 0)
        src_fail(s, r, NULL, "syntax error (expected [section], key = value, or a ; comment)");
    else if (r < 0)
        src_fail(s, 0, NULL, "out of memory");
    return s->err->failed ? -1 : 0;
}

/* ---- building the structs ---- */

const struct pair *cfg_find_pair(const struct sect *sc, const char *key)
{
    for (unsigned i = 0; i < sc->n_pairs; i++)
        if (strcmp(sc->pairs[i].key, key) == 0)
            return &sc->pairs[i];
    return NULL;
}

void cfg_at(struct build *b, const char *file, int line, const char *key)
{
    b->err.file = file;
    b->err.line = line;
    b->err.label = b->label;
    b->err.key = key;
}

/* Applies one pair to obj through the table; need_flag restricts the keys
 * allowed (in a profile channel, in a device section). */
static int apply(struct build *b, const struct key *keys, const struct pair *p, const char *key,
                 const char *file, void *obj, unsigned need_flag, struct origin *o)
{
    int i = cfg_key_index(keys, key);

    cfg_at(b, file, p->line, p->key);
    if (i < 0)
        return cfg_fail(&b->err, "unknown key");
    if (need_flag == KF_CHANNEL && !(keys[i].flags & KF_CHANNEL))
        return cfg_fail(&b->err, "not allowed in a profile channel");
    if (need_flag == KF_DEVICE && !(keys[i].flags & KF_DEVICE))
        return cfg_fail(&b->err, "applies to one channel: write CHANNEL.%s", key);
    if (o) {
        o->file[i] = file;
        o->line[i] = p->line;
    }
    return keys[i].parse(&b->err, &keys[i], obj, p->value);
}

static int apply_all(struct build *b, const struct sect *sc, const char *file, void *obj,
                     unsigned need_flag, struct origin *o)
{
    const struct key *keys = cfg_keys(sc->kind);

    for (unsigned i = 0; i < sc->n_pairs; i++)
        if (!apply(b, keys, &sc->pairs[i], sc->pairs[i].key, file, obj, need_flag, o))
            return 0;
    return 1;
}

static void sensor_defaults(struct cfg_sensor *s)
{
    memset(s, 0, sizeof(*s));
    s->io.unit_id = 1;
    s->io.reg = (struct reg_format){.kind = REG_HOLDING, .type = TYPE_UINT16, .order = ORDER_ABCD,
                                 .scale = 1.0};
    s->io.poll_ms = 1000;
    s->io.sim = (struct sim_params){.wave = WAVE_CONST, .period_ms = 60000};
    s->rate_window_ms = 60000;
    s->rate_level = LEVEL_YELLOW;
    s->fault_after = 3;
    s->remind_ms = 15 * 60000;
    s->fault_level = LEVEL_YELLOW;
    s->telemetry_ms = 60000;
    s->io.debounce_ms = 20;
    s->io.per_pulse = 1;
    s->io.rate_per = RATE_PER_H;
    s->io.count_window_ms = 60000;
    s->deadband = -1;
}

static void bus_defaults(struct cfg_bus *b)
{
    memset(b, 0, sizeof(*b));
    b->p.port = 502;
    b->p.baud = 9600;
    b->p.parity = 'N';
    b->p.data_bits = 8;
    b->p.stop_bits = 1;
    b->p.timeout_ms = 500;
    b->p.byte_timeout_ms = 0; /* set in check_bus: 20 ms on rtu, 500 ms on tcp */
    b->p.frame_delay_ms = -1; /* set in check_bus: rtu 3.5 characters rounded up to ms (2 ms above 19200); tcp 0 */
    b->p.backoff_after = 3;
    b->p.backoff_max_ms = 60000;
    b->p.max_gap = 8;
    b->p.max_registers = 125;
}

static struct cfg_sensor *new_sensor(struct build *b, const char *name, const char *file, int line)
{
    struct config *c = b->cfg;

    for (unsigned i = 0; i < c->n_sensors; i++) {
        if (strcmp(c->sensors[i].name, name) == 0) {
            cfg_at(b, file, line, NULL);
            cfg_fail(&b->err, "duplicate sensor '%s' (first at %s:%d)", name,
                     b->orig[i].sect_file, b->orig[i].sect_line);
            return NULL;
        }
    }
    if (grow((void **)&c->sensors, c->n_sensors, sizeof(*c->sensors)) < 0 ||
        grow((void **)&b->orig, c->n_sensors, sizeof(*b->orig)) < 0) {
        cfg_at(b, file, line, NULL);
        cfg_fail(&b->err, "out of memory");
        return NULL;
    }
    struct cfg_sensor *s = &c->sensors[c->n_sensors];
    sensor_defaults(s);
    snprintf(s->name, sizeof(s->name), "%s", name);
    s->line = line;
    memset(&b->orig[c->n_sensors], 0, sizeof(*b->orig));
    b->orig[c->n_sensors].sect_file = file;
    b->orig[c->n_sensors].sect_line = line;
    c->n_sensors++;
    return s;
}

/* A path from the site file: relative ones are relative to its directory. */
static void site_relative(const struct build *b, const char *path, char *out, size_t len)
{
    char site_dir[CFG_PATH_MAX];

    snprintf(site_dir, sizeof(site_dir), "%s", b->site.path);
    if (path[0] == '/')
        snprintf(out, len, "%s", path);
    else
        snprintf(out, len, "%s/%s", dirname(site_dir), path);
}

/* Points the error at [gateway] KEY in the site file: a file it names is
 * wrong, and the technician fixes that line. */
static void at_gateway_key(struct build *b, const char *key)
{
    int line = 0;

    for (unsigned i = 0; i < b->site.n_sects; i++) {
        const struct pair *p = b->site.sects[i].kind == SECT_GATEWAY ? cfg_find_pair(&b->site.sects[i], key) : NULL;
        if (p)
            line = p->line;
    }
    snprintf(b->label, sizeof(b->label), "[gateway]");
    cfg_at(b, b->site.path, line, key);
}

/* The file [gateway] KEY names can be opened; else the error is at KEY. */
static bool can_open(struct build *b, const char *key, const char *path)
{
    FILE *probe = fopen(path, "r");
    struct stat st;

    if (probe && fstat(fileno(probe), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(probe);
        at_gateway_key(b, key);
        cfg_fail(&b->err, "%s is a directory, not a file", path);
        return false;
    }
    if (probe) {
        fclose(probe);
        return true;
    }
    at_gateway_key(b, key);
    cfg_fail(&b->err, "cannot open %s: %s", path, strerror(errno));
    return false;
}

/* The class defaults: [gateway] classes, or the built-in config/classes.ini. */
static int load_classes(struct build *b)
{
    struct src *s = &b->classes;

    s->kind = SRC_CLASSES;
    s->err = &b->err;
    if (b->cfg->gateway.classes[0]) {
        char full[CFG_PATH_MAX * 2 + 2];
        site_relative(b, b->cfg->gateway.classes, full, sizeof(full));
        if (strlen(full) >= sizeof(s->path)) {
            at_gateway_key(b, "classes");
            return cfg_fail(&b->err, "path too long");
        }
        snprintf(s->path, sizeof(s->path), "%.*s", (int)sizeof(s->path) - 1, full); /* fits: checked */
        if (!can_open(b, "classes", s->path))
            return 0;
    } else {
        snprintf(s->path, sizeof(s->path), "config/classes.ini (built in)");
        s->text = config_classes_ini;
    }
    if (src_read(s) < 0)
        return 0;
    for (unsigned i = 0; i < s->n_sects; i++) {
        if (!cfg_find_pair(&s->sects[i], "lifeline")) {
            snprintf(b->label, sizeof(b->label), "[class %s]", s->sects[i].name);
            cfg_at(b, s->path, s->sects[i].line, "lifeline");
            return cfg_fail(&b->err, "missing (every class names its lifeline)");
        }
    }
    return 1;
}

/* [gateway] board: the board file's [board] keys and its [lines]. */
static int load_board(struct build *b)
{
    struct src *s = &b->board;
    struct cfg_board *bd = &b->cfg->board;
    char full[CFG_PATH_MAX * 2 + 2];

    if (!b->cfg->gateway.board[0])
        return 1;
    s->kind = SRC_BOARD;
    s->err = &b->err;
    site_relative(b, b->cfg->gateway.board, full, sizeof(full));
    if (strlen(full) >= sizeof(s->path)) {
        at_gateway_key(b, "board");
        return cfg_fail(&b->err, "path too long");
    }
    snprintf(s->path, sizeof(s->path), "%.*s", (int)sizeof(s->path) - 1, full); /* fits: checked */
    snprintf(bd->path, sizeof(bd->path), "%s", s->path);
    if (!can_open(b, "board", s->path))
        return 0;
    if (src_read(s) < 0)
        return 0;
    for (unsigned i = 0; i < s->n_sects; i++) {
        const struct sect *sc = &s->sects[i];
        if (sc->kind == SECT_BOARD) {
            snprintf(b->label, sizeof(b->label), "[board]");
            if (!apply_all(b, sc, s->path, bd, 0, NULL))
                return 0;
            continue;
        }
        if (sc->kind == SECT_PORT) {
            snprintf(b->label, sizeof(b->label), "[port %s]", sc->name);
            cfg_at(b, s->path, sc->line, NULL);
            if (bd->n_ports == CFG_BOARD_PORTS)
                return cfg_fail(&b->err, "more than %d ports", CFG_BOARD_PORTS);
            for (unsigned k = 0; k < bd->n_ports; k++)
                if (strcmp(bd->ports[k].name, sc->name) == 0)
                    return cfg_fail(&b->err, "port '%s' given twice (first at line %d)", sc->name,
                                    bd->ports[k].line);
            struct cfg_board_port *pt = &bd->ports[bd->n_ports];
            *pt = (struct cfg_board_port){.line = sc->line};
            snprintf(pt->name, sizeof(pt->name), "%s", sc->name);
            if (!apply_all(b, sc, s->path, pt, 0, NULL))
                return 0;
            const struct pair *dev = cfg_find_pair(sc, "device");
            cfg_at(b, s->path, dev ? dev->line : sc->line, "device");
            if (pt->device[0] != '/')
                return cfg_fail(&b->err, pt->device[0] ? "'%s' is not a path (/dev/...)" : "missing (required)",
                                pt->device);
            bd->n_ports++;
            continue;
        }
        snprintf(b->label, sizeof(b->label), "[lines]");
        for (unsigned j = 0; j < sc->n_pairs; j++) {
            const struct pair *p = &sc->pairs[j];
            cfg_at(b, s->path, p->line, p->key);
            if (!is_ident(p->key) || strlen(p->key) >= CFG_NAME_MAX)
                return cfg_fail(&b->err, "a line's name is 1 to 47 letters, digits, '-', '_' or '.'");
            if (!p->value[0] || strlen(p->value) >= CFG_LINE_MAX)
                return cfg_fail(&b->err, "a kernel line name or CHIP:OFFSET, 1 to %d characters", CFG_LINE_MAX - 1);
            if (bd->gpio.n_lines == CFG_BOARD_LINES)
                return cfg_fail(&b->err, "more than %d lines", CFG_BOARD_LINES);
            struct board_line *l = &bd->gpio.lines[bd->gpio.n_lines++];
            snprintf(l->name, sizeof(l->name), "%s", p->key);
            snprintf(l->spec, sizeof(l->spec), "%s", p->value);
            l->line = p->line;
        }
    }
    return 1;
}

static bool is_limit(const char *key)
{
    return !strcmp(key, "blue") || !strcmp(key, "yellow") || !strcmp(key, "orange") || !strcmp(key, "red");
}

/* The limits are a set: a layer that gives any replaces the ones below. */
static void limits_from_layer(struct cfg_sensor *s, const struct sect *sc, const char *prefix)
{
    size_t pl = prefix ? strlen(prefix) : 0;

    for (unsigned i = 0; i < sc->n_pairs; i++) {
        const char *k = sc->pairs[i].key;
        if (prefix && (strncmp(k, prefix, pl) != 0 || k[pl] != '.'))
            continue;
        if (is_limit(prefix ? k + pl + 1 : k)) {
            memset(s->rules.level.has, 0, sizeof(s->rules.level.has));
            memset(s->limit_pct, 0, sizeof(s->limit_pct));
            return;
        }
    }
}

/* Applies the class a sensor names (its own class key wins over the
 * profile channel's) as the lowest layer. */
static int apply_class(struct build *b, struct cfg_sensor *s, struct origin *o,
                       const struct pair *cp, const char *file)
{
    const char *label = b->label;
    char saved[sizeof(b->label)];

    if (!cp)
        return 1; /* reported as "class: missing" by the checks */
    for (unsigned i = 0; i < b->classes.n_sects; i++) {
        const struct sect *sc = &b->classes.sects[i];
        if (strcmp(sc->name, cp->value) != 0)
            continue;
        snprintf(saved, sizeof(saved), "%s", label);
        snprintf(b->label, sizeof(b->label), "[class %s]", sc->name);
        limits_from_layer(s, sc, NULL);
        int ok = apply_all(b, sc, b->classes.path, s, KF_CLASS, o);
        snprintf(b->label, sizeof(b->label), "%s", saved);
        return ok;
    }
    cfg_at(b, file, cp->line, "class");
    return cfg_fail(&b->err, "unknown class '%s' (the classes are in %s)", cp->value, b->classes.path);
}

/* Reads profile NAME once; later references share it. */
static struct src *profile(struct build *b, const struct pair *p, const char *file)
{
    char dir[CFG_PATH_MAX * 2 + 2];
    const char *base = b->cfg->gateway.profiles[0] ? b->cfg->gateway.profiles : LIFELINE_PROFILES_DIR;

    cfg_at(b, file, p->line, "profile");
    if (!is_ident(p->value) || strlen(p->value) >= CFG_NAME_MAX) {
        cfg_fail(&b->err, "'%s' is not a profile name (letters, digits, '-', '_', '.')", p->value);
        return NULL;
    }
    for (unsigned i = 0; i < b->n_profiles; i++)
        if (strcmp(b->profiles[i]->name, p->value) == 0)
            return b->profiles[i];
    site_relative(b, base, dir, sizeof(dir));
    struct src *s = calloc(1, sizeof(*s));
    if (!s || grow((void **)&b->profiles, b->n_profiles, sizeof(*b->profiles)) < 0) {
        free(s);
        cfg_fail(&b->err, "out of memory");
        return NULL;
    }
    b->profiles[b->n_profiles++] = s;
    s->kind = SRC_PROFILE;
    s->err = &b->err;
    snprintf(s->name, sizeof(s->name), "%s", p->value);
    int n = snprintf(s->path, sizeof(s->path), "%s/%.*s.ini", dir, CFG_NAME_MAX, p->value);
    if (n < 0 || n >= (int)sizeof(s->path)) {
        cfg_fail(&b->err, "profile path too long");
        return NULL;
    }
    FILE *probe = fopen(s->path, "r");
    if (!probe) {
        cfg_fail(&b->err, "profile '%s' not found (%s: %s)", p->value, s->path, strerror(errno));
        return NULL;
    }
    fclose(probe);
    if (src_read(s) < 0)
        return NULL;
    unsigned channels = 0;
    for (unsigned i = 0; i < s->n_sects; i++)
        channels += s->sects[i].kind == SECT_CHANNEL;
    if (!channels) {
        cfg_at(b, s->path, 0, NULL);
        cfg_fail(&b->err, "profile has no [channel NAME] section");
        return NULL;
    }
    return s;
}

static const struct sect *channel_of(struct build *b, const struct src *prof, const struct sect *sc,
                                     const char *file)
{
    const struct pair *cp = cfg_find_pair(sc, "channel");
    const struct sect *found = NULL;
    unsigned n = 0;

    for (unsigned i = 0; i < prof->n_sects; i++) {
        const struct sect *ch = &prof->sects[i];
        if (ch->kind != SECT_CHANNEL)
            continue;
        n++;
        if (!cp || strcmp(ch->name, cp->value) == 0)
            found = found ? found : ch;
    }
    if (cp && !found) {
        cfg_at(b, file, cp->line, "channel");
        cfg_fail(&b->err, "profile '%s' has no channel '%s'", prof->name, cp->value);
        return NULL;
    }
    if (!cp && n > 1) {
        cfg_at(b, file, sc->line, "channel");
        cfg_fail(&b->err, "profile '%s' has %u channels: name one with channel = NAME", prof->name, n);
        return NULL;
    }
    return found;
}

static int apply_channel(struct build *b, const struct src *prof, const struct sect *ch,
                         struct cfg_sensor *s, struct origin *o)
{
    snprintf(b->label, sizeof(b->label), "[channel %s]", ch->name);
    limits_from_layer(s, ch, NULL);
    return apply_all(b, ch, prof->path, s, KF_CHANNEL, o);
}

static int build_sensor(struct build *b, const struct sect *sc)
{
    const char *file = b->site.path;
    struct cfg_sensor *s = new_sensor(b, sc->name, file, sc->line);
    const struct pair *pp = cfg_find_pair(sc, "profile"), *own = cfg_find_pair(sc, "class");
    const struct src *prof = NULL;
    const struct sect *ch = NULL;

    if (!s)
        return 0;
    struct origin *o = &b->orig[b->cfg->n_sensors - 1];
    snprintf(b->label, sizeof(b->label), "[sensor %s]", sc->name);
    if (pp) {
        prof = profile(b, pp, file);
        ch = prof ? channel_of(b, prof, sc, file) : NULL;
        if (!ch)
            return 0;
    } else if (cfg_find_pair(sc, "channel")) {
        cfg_at(b, file, cfg_find_pair(sc, "channel")->line, "channel");
        return cfg_fail(&b->err, "needs a profile");
    }
    /* layers: class defaults, the profile's channel, the sensor's own keys */
    const struct pair *chc = ch ? cfg_find_pair(ch, "class") : NULL;
    if (!apply_class(b, s, o, own ? own : chc, own ? file : prof ? prof->path : file))
        return 0;
    if (ch && !apply_channel(b, prof, ch, s, o))
        return 0;
    snprintf(b->label, sizeof(b->label), "[sensor %s]", sc->name);
    limits_from_layer(s, sc, NULL);
    return apply_all(b, sc, file, s, 0, o);
}

/* [device NAME] with a profile: one sensor NAME.CHANNEL per channel; plain
 * keys (bus, unit_id, poll, ...) apply to all, CHANNEL.KEY to one. */
static int build_device(struct build *b, const struct sect *sc)
{
    const char *file = b->site.path;
    const struct pair *pp = cfg_find_pair(sc, "profile");
    const struct key *keys = cfg_keys(SECT_SENSOR);

    snprintf(b->label, sizeof(b->label), "[device %s]", sc->name);
    if (!pp) {
        cfg_at(b, file, sc->line, "profile");
        return cfg_fail(&b->err, "missing (required in a device section)");
    }
    const struct src *prof = profile(b, pp, file);
    if (!prof)
        return 0;
    /* Every CHANNEL.KEY must name a channel of the profile. */
    for (unsigned i = 0; i < sc->n_pairs; i++) {
        const char *dot = strchr(sc->pairs[i].key, '.');
        bool known = !dot;
        for (unsigned j = 0; dot && j < prof->n_sects; j++)
            known = known || (prof->sects[j].kind == SECT_CHANNEL &&
                              strlen(prof->sects[j].name) == (size_t)(dot - sc->pairs[i].key) &&
                              strncmp(prof->sects[j].name, sc->pairs[i].key, (size_t)(dot - sc->pairs[i].key)) == 0);
        if (!known) {
            cfg_at(b, file, sc->pairs[i].line, sc->pairs[i].key);
            return cfg_fail(&b->err, "profile '%s' has no such channel", prof->name);
        }
    }
    for (unsigned j = 0; j < prof->n_sects; j++) {
        const struct sect *ch = &prof->sects[j];
        char name[CFG_NAME_MAX * 2 + 2];
        if (ch->kind != SECT_CHANNEL)
            continue;
        snprintf(name, sizeof(name), "%s.%s", sc->name, ch->name);
        if (strlen(name) >= CFG_NAME_MAX) {
            cfg_at(b, file, sc->line, NULL);
            return cfg_fail(&b->err, "sensor name '%s' is too long (at most %d characters)", name,
                            CFG_NAME_MAX - 1);
        }
        struct cfg_sensor *s = new_sensor(b, name, file, sc->line);
        if (!s)
            return 0;
        struct origin *o = &b->orig[b->cfg->n_sensors - 1];
        char cls_key[CFG_NAME_MAX + 8];
        snprintf(cls_key, sizeof(cls_key), "%s.class", ch->name);
        const struct pair *own = cfg_find_pair(sc, cls_key), *chc = cfg_find_pair(ch, "class");
        if (!apply_class(b, s, o, own ? own : chc, own ? file : prof->path) ||
            !apply_channel(b, prof, ch, s, o))
            return 0;
        snprintf(b->label, sizeof(b->label), "[device %s]", sc->name);
        limits_from_layer(s, sc, ch->name);
        size_t cl = strlen(ch->name);
        for (unsigned i = 0; i < sc->n_pairs; i++) {
            const struct pair *p = &sc->pairs[i];
            if (p == pp)
                continue;
            if (!strchr(p->key, '.')) {
                if (!apply(b, keys, p, p->key, file, s, KF_DEVICE, o))
                    return 0;
            } else if (strncmp(p->key, ch->name, cl) == 0 && p->key[cl] == '.') {
                const char *k = p->key + cl + 1;
                if (strcmp(k, "profile") == 0 || strcmp(k, "channel") == 0 || strcmp(k, "bus") == 0) {
                    cfg_at(b, file, p->line, p->key);
                    return cfg_fail(&b->err, "set %s for the whole device", k);
                }
                if (!apply(b, keys, p, k, file, s, 0, o))
                    return 0;
            }
        }
    }
    return 1;
}

static int build_action(struct build *b, const struct sect *sc)
{
    struct config *c = b->cfg;

    if (grow((void **)&c->actions, c->n_actions, sizeof(*c->actions)) < 0) {
        cfg_at(b, b->site.path, sc->line, NULL);
        return cfg_fail(&b->err, "out of memory");
    }
    struct cfg_action *a = &c->actions[c->n_actions++];
    memset(a, 0, sizeof(*a));
    snprintf(a->name, sizeof(a->name), "%s", sc->name);
    a->line = sc->line;
    a->level = LEVEL_NONE; /* required: checked */
    a->value = 1;
    snprintf(b->label, sizeof(b->label), "[action %s]", sc->name);
    return apply_all(b, sc, b->site.path, a, 0, NULL);
}

static int build_all(struct build *b)
{
    struct config *c = b->cfg;
    const char *file = b->site.path;

    /* [gateway] first: profiles are found through it. */
    for (int pass = 0; pass < 2; pass++) {
        for (unsigned i = 0; i < b->site.n_sects; i++) {
            const struct sect *sc = &b->site.sects[i];
            bool first = sc->kind == SECT_GATEWAY || sc->kind == SECT_MQTT ||
                         sc->kind == SECT_STORE || sc->kind == SECT_BUS || sc->kind == SECT_CONSOLE;
            if (first != (pass == 0))
                continue;
            int ok = 1;
            switch (sc->kind) {
            case SECT_GATEWAY:
                snprintf(b->label, sizeof(b->label), "[gateway]");
                ok = apply_all(b, sc, file, &c->gateway, 0, NULL);
                break;
            case SECT_MQTT:
                snprintf(b->label, sizeof(b->label), "[mqtt]");
                ok = apply_all(b, sc, file, &c->mqtt, 0, NULL);
                break;
            case SECT_STORE:
                snprintf(b->label, sizeof(b->label), "[store]");
                ok = apply_all(b, sc, file, &c->store, 0, NULL);
                break;
            case SECT_CONSOLE:
                snprintf(b->label, sizeof(b->label), "[console]");
                ok = apply_all(b, sc, file, &c->console, 0, NULL);
                break;
            case SECT_BUS:
                if (grow((void **)&c->buses, c->n_buses, sizeof(*c->buses)) < 0) {
                    cfg_at(b, file, sc->line, NULL);
                    return cfg_fail(&b->err, "out of memory");
                }
                bus_defaults(&c->buses[c->n_buses]);
                snprintf(c->buses[c->n_buses].p.name, CFG_NAME_MAX, "%s", sc->name);
                c->buses[c->n_buses].line = sc->line;
                snprintf(b->label, sizeof(b->label), "[bus %s]", sc->name);
                ok = apply_all(b, sc, file, &c->buses[c->n_buses++], 0, NULL);
                break;
            case SECT_SENSOR: ok = build_sensor(b, sc); break;
            case SECT_ACTION: ok = build_action(b, sc); break;
            case SECT_DEVICE: ok = build_device(b, sc); break;
            default: break;
            }
            if (!ok)
                return 0;
        }
        if (pass == 0 && (!load_classes(b) || !load_board(b)))
            return 0;
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
    c->mqtt.telemetry_batch = 50;
    c->mqtt.telemetry_delay_ms = 1000;
    snprintf(c->store.path, sizeof(c->store.path), "/var/lib/lifeline/lifeline.db");
    c->store.retention_ms = 30 * 86400000LL;
    c->store.max_bytes = 256LL * 1024 * 1024;
    c->store.outbox_max = 200000;
    c->store.cache_bytes = 1024 * 1024;
    c->store.outbox_max_bytes = 64LL * 1024 * 1024;
    c->store.outbox_alarm_max = 100000;
    snprintf(c->console.socket, sizeof(c->console.socket), "/run/lifeline/ctl.sock");
    c->console.idle_ms = 10 * 60000;
    c->board.watchdog_timeout_ms = 10000;
}

int config_load(const char *path, struct config *cfg, char *err, size_t errlen)
{
    struct build b = {.cfg = cfg, .err = {.buf = err, .len = errlen}};

    config_defaults(cfg);
    err[0] = '\0';
    if (strlen(path) >= sizeof(cfg->path) || strlen(path) >= sizeof(b.site.path)) {
        snprintf(err, errlen, "%.200s...: path too long", path);
        return -1;
    }
    snprintf(cfg->path, sizeof(cfg->path), "%s", path);
    snprintf(b.site.path, sizeof(b.site.path), "%s", path);
    b.site.err = &b.err;
    if (src_read(&b.site) == 0 && build_all(&b))
        cfg_check_all(&b);
    /* which config runs: the board file is part of it */
    uint64_t h = b.site.hash ^ (b.board.hash * 0x100000001b3ULL);
    snprintf(cfg->hash, sizeof(cfg->hash), "%016llx", (unsigned long long)h);
    src_free(&b.site);
    src_free(&b.board);
    src_free(&b.classes);
    for (unsigned i = 0; i < b.n_profiles; i++) {
        src_free(b.profiles[i]);
        free(b.profiles[i]);
    }
    free(b.profiles);
    free(b.orig);
    if (b.err.failed) {
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
    free(cfg->actions);
    cfg->buses = NULL;
    cfg->sensors = NULL;
    cfg->actions = NULL;
    cfg->n_buses = cfg->n_sensors = cfg->n_actions = 0;
}
