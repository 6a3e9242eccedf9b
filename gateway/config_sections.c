/* config_sections: builds the sensors, buses and actions from their
 * sections, in layers: defaults, the class, a profile channel, then the
 * site's own keys; a [device] with a profile becomes one sensor per channel. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "config_int.h"
#include "config_keys.h"

#ifndef LIFELINE_PROFILES_DIR
#define LIFELINE_PROFILES_DIR "/usr/share/lifeline/profiles"
#endif

static void sensor_defaults(struct cfg_sensor *s)
{
    memset(s, 0, sizeof(*s));
    s->io.unit_id = 1;
    s->io.reg = (struct reg_format){.kind = REG_HOLDING, .type = TYPE_UINT16, .order = ORDER_ABCD, .scale = 1.0};
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
            cfg_fail(&b->err, "duplicate sensor '%s' (first at %s:%d)", name, b->orig[i].sect_file,
                     b->orig[i].sect_line);
            return NULL;
        }
    }
    if (cfg_grow((void **)&c->sensors, c->n_sensors, sizeof(*c->sensors)) < 0 ||
        cfg_grow((void **)&b->orig, c->n_sensors, sizeof(*b->orig)) < 0) {
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
static int apply_class(struct build *b, struct cfg_sensor *s, struct origin *o, const struct pair *cp, const char *file)
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
        int ok = cfg_apply_all(b, sc, b->classes.path, s, KF_CLASS, o);
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
    if (!cfg_is_ident(p->value) || strlen(p->value) >= CFG_NAME_MAX) {
        cfg_fail(&b->err, "'%s' is not a profile name (letters, digits, '-', '_', '.')", p->value);
        return NULL;
    }
    for (unsigned i = 0; i < b->n_profiles; i++)
        if (strcmp(b->profiles[i]->name, p->value) == 0)
            return b->profiles[i];
    cfg_site_relative(b, base, dir, sizeof(dir));
    struct src *s = calloc(1, sizeof(*s));
    if (!s || cfg_grow((void **)&b->profiles, b->n_profiles, sizeof(*b->profiles)) < 0) {
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
    if (cfg_src_read(s) < 0)
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

static const struct sect *channel_of(struct build *b, const struct src *prof, const struct sect *sc, const char *file)
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

static int apply_channel(struct build *b, const struct src *prof, const struct sect *ch, struct cfg_sensor *s,
                         struct origin *o)
{
    snprintf(b->label, sizeof(b->label), "[channel %s]", ch->name);
    limits_from_layer(s, ch, NULL);
    return cfg_apply_all(b, ch, prof->path, s, KF_CHANNEL, o);
}

int cfg_build_sensor(struct build *b, const struct sect *sc)
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
    return cfg_apply_all(b, sc, file, s, 0, o);
}

/* [device NAME] with a profile: one sensor NAME.CHANNEL per channel; plain
 * keys (bus, unit_id, poll, ...) apply to all, CHANNEL.KEY to one. */
int cfg_build_device(struct build *b, const struct sect *sc)
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
            return cfg_fail(&b->err, "sensor name '%s' is too long (at most %d characters)", name, CFG_NAME_MAX - 1);
        }
        struct cfg_sensor *s = new_sensor(b, name, file, sc->line);
        if (!s)
            return 0;
        struct origin *o = &b->orig[b->cfg->n_sensors - 1];
        char cls_key[CFG_NAME_MAX + 8];
        snprintf(cls_key, sizeof(cls_key), "%s.class", ch->name);
        const struct pair *own = cfg_find_pair(sc, cls_key), *chc = cfg_find_pair(ch, "class");
        if (!apply_class(b, s, o, own ? own : chc, own ? file : prof->path) || !apply_channel(b, prof, ch, s, o))
            return 0;
        snprintf(b->label, sizeof(b->label), "[device %s]", sc->name);
        limits_from_layer(s, sc, ch->name);
        size_t cl = strlen(ch->name);
        for (unsigned i = 0; i < sc->n_pairs; i++) {
            const struct pair *p = &sc->pairs[i];
            if (p == pp)
                continue;
            if (!strchr(p->key, '.')) {
                if (!cfg_apply(b, keys, p, p->key, file, s, KF_DEVICE, o))
                    return 0;
            } else if (strncmp(p->key, ch->name, cl) == 0 && p->key[cl] == '.') {
                const char *k = p->key + cl + 1;
                if (strcmp(k, "profile") == 0 || strcmp(k, "channel") == 0 || strcmp(k, "bus") == 0) {
                    cfg_at(b, file, p->line, p->key);
                    return cfg_fail(&b->err, "set %s for the whole device", k);
                }
                if (!cfg_apply(b, keys, p, k, file, s, 0, o))
                    return 0;
            }
        }
    }
    return 1;
}

int cfg_build_action(struct build *b, const struct sect *sc)
{
    struct config *c = b->cfg;

    if (cfg_grow((void **)&c->actions, c->n_actions, sizeof(*c->actions)) < 0) {
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
    return cfg_apply_all(b, sc, b->site.path, a, 0, NULL);
}

int cfg_build_bus(struct build *b, const struct sect *sc)
{
    struct config *c = b->cfg;

    if (cfg_grow((void **)&c->buses, c->n_buses, sizeof(*c->buses)) < 0) {
        cfg_at(b, b->site.path, sc->line, NULL);
        return cfg_fail(&b->err, "out of memory");
    }
    bus_defaults(&c->buses[c->n_buses]);
    snprintf(c->buses[c->n_buses].p.name, CFG_NAME_MAX, "%s", sc->name);
    c->buses[c->n_buses].line = sc->line;
    snprintf(b->label, sizeof(b->label), "[bus %s]", sc->name);
    return cfg_apply_all(b, sc, b->site.path, &c->buses[c->n_buses++], 0, NULL);
}
