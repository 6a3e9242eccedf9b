/* confchange: changes to the running config made from the center (cmd/set)
 * and the console (set sensor ... + config commit, config rollback): the
 * config file is edited line by line, the result checked as a whole config,
 * written atomically with the previous version kept, and reloaded. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conffile.h"
#include "core.h"
#include "gateway_int.h"
#include "log.h"

/* What may be changed this way: the alarm behaviour, polling and telemetry
 * of a sensor. Its bus, registers and class are the technician's, on site,
 * in the file. */
static const char *const settable[] = {
    "blue",        "yellow",      "orange",    "red",      "hysteresis", "on_delay",    "off_delay",
    "on_count",    "off_count",   "poll",      "remind",   "rate",       "rate_window", "rate_hysteresis",
    "fault_after", "stale_after", "telemetry", "deadband", NULL,
};

static const char *const lnames[LEVEL_COUNT] = {
    [LEVEL_BLUE] = "blue", [LEVEL_YELLOW] = "yellow", [LEVEL_ORANGE] = "orange", [LEVEL_RED] = "red"};

const char *const *core_settable_keys(void)
{
    return settable;
}

bool core_settable(const char *key)
{
    for (int j = 0; settable[j]; j++)
        if (strcmp(settable[j], key) == 0)
            return true;
    return false;
}

static bool is_limit(const char *key)
{
    for (int l = LEVEL_BLUE; l <= LEVEL_RED; l++)
        if (strcmp(lnames[l], key) == 0)
            return true;
    return false;
}

/* The file error without its "FILE:LINE: " (the candidate's, not a file
 * the reader knows). */
static const char *strip_place(const char *msg)
{
    const char *p = strstr(msg, ": ");
    if (p && p[2] == '[')
        return p + 2;
    const char *q = p ? strstr(p + 2, ": ") : NULL;
    return q && p[2] >= '0' && p[2] <= '9' ? q + 2 : msg;
}

/* The section that holds a sensor's own keys: [sensor NAME], or for a
 * device's channel [device DEV] with keys CHANNEL.KEY. */
static int sensor_section(const char *text, const char *name, char *section, size_t len, char *prefix, size_t plen)
{
    snprintf(section, len, "sensor %s", name);
    prefix[0] = '\0';
    if (conffile_has_section(text, section))
        return 0;
    const char *dot = strrchr(name, '.');
    if (!dot)
        return -1;
    snprintf(section, len, "device %.*s", (int)(dot - name), name);
    snprintf(prefix, plen, "%s.", dot + 1);
    return conffile_has_section(text, section) ? 0 : -1;
}

/* The edits of one sensor applied to *text (replaced by the result). The
 * limits are a set (a layer that gives one replaces all below it): a
 * sensor that had its limits from its class or profile gets them written
 * out, so changing one does not drop the others. */
static int edit_sensor(struct gateway *g, char **text, const struct sensor_edit *e, unsigned n, char *err,
                       size_t errlen)
{
    struct conf_edit edits[CONFCHANGE_MAX + LEVEL_COUNT];
    char keys[CONFCHANGE_MAX + LEVEL_COUNT][64], limits[LEVEL_COUNT][32], section[128], prefix[64];
    char why[256], *edited = NULL;
    unsigned m = 0;
    bool limit_set = false, own_limits = false;
    int i = -1;

    for (unsigned k = 0; k < g->cfg.n_sensors && i < 0; k++)
        if (strcmp(g->cfg.sensors[k].name, e[0].sensor) == 0)
            i = (int)k;
    if (i < 0) {
        snprintf(err, errlen, "no sensor '%s'", e[0].sensor);
        return -1;
    }
    if (sensor_section(*text, e[0].sensor, section, sizeof(section), prefix, sizeof(prefix)) < 0) {
        snprintf(err, errlen, "sensor '%s' has no section of its own in the config file", e[0].sensor);
        return -1;
    }
    for (unsigned k = 0; k < n; k++) {
        snprintf(keys[m], sizeof(keys[m]), "%s%s", prefix, e[k].key);
        edits[m] = (struct conf_edit){keys[m], e[k].value};
        m++;
        limit_set |= is_limit(e[k].key);
    }
    for (int l = LEVEL_BLUE; l <= LEVEL_RED; l++) {
        char k[64];
        snprintf(k, sizeof(k), "%s%s", prefix, lnames[l]);
        own_limits |= conffile_has_key(*text, section, k) != 0;
    }
    const struct cfg_sensor *s = &g->cfg.sensors[i];
    for (int l = LEVEL_BLUE; limit_set && !own_limits && l <= LEVEL_RED; l++) {
        bool given = false;
        for (unsigned k = 0; k < n; k++)
            given |= strcmp(e[k].key, lnames[l]) == 0;
        if (given || !s->rules.level.has[l])
            continue;
        snprintf(keys[m], sizeof(keys[m]), "%s%s", prefix, lnames[l]);
        snprintf(limits[l], sizeof(limits[l]), "%.17g", s->rules.level.limit[l]);
        edits[m] = (struct conf_edit){keys[m], limits[l]};
        m++;
    }
    if (conffile_edit(*text, section, edits, m, &edited, why, sizeof(why)) < 0) {
        snprintf(err, errlen, "%s", why);
        return -1;
    }
    free(*text);
    *text = edited;
    return 0;
}

/* Checks text as the config and puts it in place; the reload follows. */
static int install(struct gateway *g, const char *text, const char *who, const char *what, char *err, size_t errlen)
{
    char cand[CFG_PATH_MAX + 8], why[CFG_ERR_MAX];
    struct config check;

    if (conffile_write_candidate(g->cfg.path, text, cand, sizeof(cand), why, sizeof(why)) < 0) {
        snprintf(err, errlen, "%s", why);
        return -1;
    }
    if (config_load(cand, &check, why, sizeof(why)) < 0) {
        conffile_discard(g->cfg.path);
        snprintf(err, errlen, "the config would not be valid: %s", strip_place(why));
        return -1;
    }
    config_free(&check);
    if (conffile_commit(g->cfg.path, why, sizeof(why)) < 0) {
        conffile_discard(g->cfg.path);
        snprintf(err, errlen, "%s", why);
        return -1;
    }
    log_info("config: %s by %s; written to %s, previous kept as %s.prev", what, who, g->cfg.path, g->cfg.path);
    /* applied once the caller has returned: a reload may restart the uplink
     * or the console session that is calling */
    g->reload_due = true;
    return 0;
}

int core_config_change(struct gateway *g, const struct sensor_edit *e, unsigned n, const char *who, char *err,
                       size_t errlen)
{
    struct sensor_edit left[CONFCHANGE_MAX], one[CONFCHANGE_MAX];
    char *text = NULL, why[256], what[128];
    unsigned n_left = n;

    if (n == 0 || n > CONFCHANGE_MAX) {
        snprintf(err, errlen, "1 to %d changes at once", CONFCHANGE_MAX);
        return -1;
    }
    for (unsigned k = 0; k < n; k++) {
        if (!core_settable(e[k].key)) {
            snprintf(err, errlen,
                     "'%s' cannot be changed here (these can: blue, yellow, orange, red, "
                     "hysteresis, on_delay, off_delay, on_count, off_count, poll, remind, rate, rate_window, "
                     "rate_hysteresis, fault_after, stale_after, telemetry, deadband)",
                     e[k].key);
            return -1;
        }
    }
    if (conffile_read(g->cfg.path, &text, why, sizeof(why)) < 0) {
        snprintf(err, errlen, "cannot read the config file: %s", why);
        return -1;
    }
    memcpy(left, e, n * sizeof(*e));
    /* a sensor at a time: its edits together (its limits are a set) */
    while (n_left) {
        unsigned m = 0, r = 0;
        const char *sensor = left[0].sensor;
        for (unsigned k = 0; k < n_left; k++) {
            if (strcmp(left[k].sensor, sensor) == 0)
                one[m++] = left[k];
            else
                left[r++] = left[k];
        }
        if (edit_sensor(g, &text, one, m, err, errlen) < 0) {
            free(text);
            return -1;
        }
        n_left = r;
    }
    if (n == 1 || strcmp(e[0].sensor, e[n - 1].sensor) == 0)
        snprintf(what, sizeof(what), "sensor '%.60s' changed (%u key%s)", e[0].sensor, n, n == 1 ? "" : "s");
    else
        snprintf(what, sizeof(what), "%u keys of several sensors changed", n);
    int rc = install(g, text, who, what, err, errlen);
    free(text);
    return rc;
}

int core_config_rollback(struct gateway *g, const char *who, char *err, size_t errlen)
{
    char prev[CFG_PATH_MAX + 8], why[256], *text = NULL;

    snprintf(prev, sizeof(prev), "%s.prev", g->cfg.path);
    if (conffile_read(prev, &text, why, sizeof(why)) < 0) {
        snprintf(err, errlen, "no previous version to go back to (%s)", why);
        return -1;
    }
    int rc = install(g, text, who, "rolled back to the previous version", err, errlen);
    free(text);
    return rc;
}

int core_config_console_pin(struct gateway *g, const char *hash, const char *who, char *err, size_t errlen)
{
    char *text = NULL, *edited = NULL, why[256];
    const struct conf_edit e = {"pin", hash};

    if (conffile_read(g->cfg.path, &text, why, sizeof(why)) < 0) {
        snprintf(err, errlen, "cannot read the config file: %s", why);
        return -1;
    }
    if (conffile_has_section(text, "console")) {
        if (conffile_edit(text, "console", &e, 1, &edited, why, sizeof(why)) < 0) {
            snprintf(err, errlen, "%s", why);
            free(text);
            return -1;
        }
    } else {
        size_t n = strlen(text) + strlen(hash) + 32;
        edited = malloc(n);
        if (edited)
            snprintf(edited, n, "%s%s\n[console]\npin = %s\n", text,
                     text[0] && text[strlen(text) - 1] != '\n' ? "\n" : "", hash);
    }
    free(text);
    if (!edited) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = install(g, edited, who, "console PIN set", err, errlen);
    free(edited);
    return rc;
}
