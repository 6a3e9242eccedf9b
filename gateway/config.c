/* config: reads the site file (and the device profiles it names) with
 * libinih into raw sections of key/value pairs that remember their file and
 * line (config_read.c), then builds the structs by applying the pairs in
 * layers: defaults, then a profile channel, then the site's own keys
 * (config_sections.c; the class defaults and the board file:
 * config_files.c). Checks across keys and sections come last
 * (config_check.c). The first error is reported, with its place. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_int.h"
#include "config_keys.h"

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
int cfg_apply(struct build *b, const struct key *keys, const struct pair *p, const char *key, const char *file,
              void *obj, unsigned need_flag, struct origin *o)
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

int cfg_apply_all(struct build *b, const struct sect *sc, const char *file, void *obj, unsigned need_flag,
                  struct origin *o)
{
    const struct key *keys = cfg_keys(sc->kind);

    for (unsigned i = 0; i < sc->n_pairs; i++)
        if (!cfg_apply(b, keys, &sc->pairs[i], sc->pairs[i].key, file, obj, need_flag, o))
            return 0;
    return 1;
}

static int build_all(struct build *b)
{
    struct config *c = b->cfg;
    const char *file = b->site.path;

    /* [gateway] first: profiles are found through it. */
    for (int pass = 0; pass < 2; pass++) {
        for (unsigned i = 0; i < b->site.n_sects; i++) {
            const struct sect *sc = &b->site.sects[i];
            bool first = sc->kind == SECT_GATEWAY || sc->kind == SECT_MQTT || sc->kind == SECT_STORE ||
                         sc->kind == SECT_BUS || sc->kind == SECT_CONSOLE;
            if (first != (pass == 0))
                continue;
            int ok = 1;
            switch (sc->kind) {
            case SECT_GATEWAY:
                snprintf(b->label, sizeof(b->label), "[gateway]");
                ok = cfg_apply_all(b, sc, file, &c->gateway, 0, NULL);
                break;
            case SECT_MQTT:
                snprintf(b->label, sizeof(b->label), "[mqtt]");
                ok = cfg_apply_all(b, sc, file, &c->mqtt, 0, NULL);
                break;
            case SECT_STORE:
                snprintf(b->label, sizeof(b->label), "[store]");
                ok = cfg_apply_all(b, sc, file, &c->store, 0, NULL);
                break;
            case SECT_CONSOLE:
                snprintf(b->label, sizeof(b->label), "[console]");
                ok = cfg_apply_all(b, sc, file, &c->console, 0, NULL);
                break;
            case SECT_BUS:
                ok = cfg_build_bus(b, sc);
                break;
            case SECT_SENSOR:
                ok = cfg_build_sensor(b, sc);
                break;
            case SECT_ACTION:
                ok = cfg_build_action(b, sc);
                break;
            case SECT_DEVICE:
                ok = cfg_build_device(b, sc);
                break;
            default:
                break;
            }
            if (!ok)
                return 0;
        }
        if (pass == 0 && (!cfg_load_classes(b) || !cfg_load_board(b)))
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
    c->mqtt.protocol = MQTT_5; /* announces a maximum packet size (uplink.c) */
    c->mqtt.telemetry_batch = 50;
    c->mqtt.telemetry_delay_ms = 1000;
    c->mqtt.cmd_rate = 5;
    c->mqtt.cmd_burst = 20;
    c->mqtt.set_interval_ms = 10000;
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
    if (cfg_src_read(&b.site) == 0 && build_all(&b))
        cfg_check_all(&b);
    /* which config runs: the board file is part of it */
    uint64_t h = b.site.hash ^ (b.board.hash * 0x100000001b3ULL);
    snprintf(cfg->hash, sizeof(cfg->hash), "%016llx", (unsigned long long)h);
    cfg_src_free(&b.site);
    cfg_src_free(&b.board);
    cfg_src_free(&b.classes);
    for (unsigned i = 0; i < b.n_profiles; i++) {
        cfg_src_free(b.profiles[i]);
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
