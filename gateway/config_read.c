/* config_read: reads one INI file (the site file, a profile, the class
 * defaults or the board file) with libinih into raw sections of key/value
 * pairs that remember their line. A reader that counts lines sees each
 * section header before libinih does, so every pair knows its place. */
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "config_int.h"
#include "config_keys.h"

/* Lines libinih (Debian, INI_MAX_LINE 200, no realloc) reads whole. */
#define LINE_MAX_CHARS 198

int cfg_grow(void **arr, unsigned n, size_t size)
{
    void *a = realloc(*arr, (n + 1) * size);
    if (!a)
        return -1;
    *arr = a;
    return 0;
}

bool cfg_is_ident(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' && *s != '.')
            return false;
    return true;
}

void cfg_src_free(struct src *s)
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
__attribute__((format(printf, 4, 5))) static int src_fail(struct src *s, int line, const char *key, const char *fmt,
                                                          ...)
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
    static const struct {
        const char *word;
        enum sect_kind kind;
        bool named;
        enum src_kind src;
    } kinds[] = {
        {"gateway", SECT_GATEWAY, false, SRC_SITE},    {"mqtt", SECT_MQTT, false, SRC_SITE},
        {"store", SECT_STORE, false, SRC_SITE},        {"bus", SECT_BUS, true, SRC_SITE},
        {"sensor", SECT_SENSOR, true, SRC_SITE},       {"device", SECT_DEVICE, true, SRC_SITE},
        {"profile", SECT_PROFILE, false, SRC_PROFILE}, {"channel", SECT_CHANNEL, true, SRC_PROFILE},
        {"class", SECT_CLASS, true, SRC_CLASSES},      {"action", SECT_ACTION, true, SRC_SITE},
        {"console", SECT_CONSOLE, false, SRC_SITE},    {"board", SECT_BOARD, false, SRC_BOARD},
        {"lines", SECT_LINES, false, SRC_BOARD},       {"port", SECT_PORT, true, SRC_BOARD},
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
    if (kinds[i].named && (!cfg_is_ident(name) || strlen(name) >= CFG_NAME_MAX)) {
        src_fail(s, s->line, NULL,
                 "[%s]: the name must be 1 to 47 letters, digits, '-', '_' or "
                 "'.'",
                 text);
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
    if (cfg_grow((void **)&s->sects, s->n_sects, sizeof(*s->sects)) < 0) {
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
            return src_fail(s, s->line, name,
                            "given twice (first at line %d; an indented line "
                            "continues the previous value)",
                            sc->pairs[i].line);
        }
    }
    if (cfg_grow((void **)&sc->pairs, sc->n_pairs, sizeof(*sc->pairs)) < 0)
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

int cfg_src_read(struct src *s)
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
