/* config_files: the files the site file's [gateway] names besides
 * profiles: the class defaults (or the compiled-in config/classes.ini) and
 * the board file, with its [board] keys, [lines] and [port]s. */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "config_int.h"
#include "config_keys.h"

/* config/classes.ini, compiled in by the Makefile */
extern const char config_classes_ini[];

/* A path from the site file: relative ones are relative to its directory. */
void cfg_site_relative(const struct build *b, const char *path, char *out, size_t len)
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
int cfg_load_classes(struct build *b)
{
    struct src *s = &b->classes;

    s->kind = SRC_CLASSES;
    s->err = &b->err;
    if (b->cfg->gateway.classes[0]) {
        char full[CFG_PATH_MAX * 2 + 2];
        cfg_site_relative(b, b->cfg->gateway.classes, full, sizeof(full));
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
    if (cfg_src_read(s) < 0)
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
int cfg_load_board(struct build *b)
{
    struct src *s = &b->board;
    struct cfg_board *bd = &b->cfg->board;
    char full[CFG_PATH_MAX * 2 + 2];

    if (!b->cfg->gateway.board[0])
        return 1;
    s->kind = SRC_BOARD;
    s->err = &b->err;
    cfg_site_relative(b, b->cfg->gateway.board, full, sizeof(full));
    if (strlen(full) >= sizeof(s->path)) {
        at_gateway_key(b, "board");
        return cfg_fail(&b->err, "path too long");
    }
    snprintf(s->path, sizeof(s->path), "%.*s", (int)sizeof(s->path) - 1, full); /* fits: checked */
    snprintf(bd->path, sizeof(bd->path), "%s", s->path);
    if (!can_open(b, "board", s->path))
        return 0;
    if (cfg_src_read(s) < 0)
        return 0;
    for (unsigned i = 0; i < s->n_sects; i++) {
        const struct sect *sc = &s->sects[i];
        if (sc->kind == SECT_BOARD) {
            snprintf(b->label, sizeof(b->label), "[board]");
            if (!cfg_apply_all(b, sc, s->path, bd, 0, NULL))
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
                    return cfg_fail(&b->err, "port '%s' given twice (first at line %d)", sc->name, bd->ports[k].line);
            struct cfg_board_port *pt = &bd->ports[bd->n_ports];
            *pt = (struct cfg_board_port){.line = sc->line};
            snprintf(pt->name, sizeof(pt->name), "%s", sc->name);
            if (!cfg_apply_all(b, sc, s->path, pt, 0, NULL))
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
            if (!cfg_is_ident(p->key) || strlen(p->key) >= CFG_NAME_MAX)
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
