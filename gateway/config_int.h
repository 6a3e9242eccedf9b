/* config_int: what the parts of the config loader (config.c and
 * config_read.c, config_sections.c, config_files.c, config_check.c, and the
 * key tables of config_keys.c) share
 * while a config is read and built: raw sections of key/value pairs that
 * remember their file and line, and where each built sensor key came from.
 * Private to them. */
#ifndef LIFELINE_CONFIG_INT_H
#define LIFELINE_CONFIG_INT_H

#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "config_keys.h"

struct pair {
    char *key, *value;
    int line;
};

struct sect {
    enum sect_kind kind;
    char name[CFG_NAME_MAX];
    int line;
    struct pair *pairs;
    unsigned n_pairs;
};

/* One INI file read into sections: the site file or a profile. */
struct src {
    char path[CFG_PATH_MAX];
    char name[CFG_NAME_MAX]; /* profile name */
    enum src_kind {
        SRC_SITE,
        SRC_PROFILE,
        SRC_CLASSES,
        SRC_BOARD
    } kind;
    const char *text; /* read from memory instead of path (the built-in classes) */
    struct sect *sects;
    unsigned n_sects;
    /* while reading */
    FILE *fp;
    int line;
    bool at_line_start, skip;
    uint64_t hash;                 /* FNV-1a 64 of the bytes read */
    char label[CFG_NAME_MAX + 16]; /* of the current section */
    struct cfg_err *err;
};

/* Where each key of a built sensor came from, for the checks after building. */
struct origin {
    int sect_line;
    const char *sect_file;
    const char *file[K_SENSOR_KEYS];
    int line[K_SENSOR_KEYS];
};

struct build {
    struct config *cfg;
    struct cfg_err err;
    struct src site;
    struct src classes;
    struct src board;
    struct src **profiles;
    unsigned n_profiles;
    struct origin *orig; /* per cfg->sensors entry */
    char label[CFG_NAME_MAX * 2 + 16];
};

/* config_read.c */
/* Reads s->path (or s->text) into sections: 0, or -1 with the error. */
int cfg_src_read(struct src *s);
void cfg_src_free(struct src *s);
/* Makes room for element n of *arr: 0, or -1 (out of memory; *arr kept). */
int cfg_grow(void **arr, unsigned n, size_t size);
/* Letters, digits, '-', '_' and '.': a name that needs no quoting. */
bool cfg_is_ident(const char *s);

/* config.c */
const struct pair *cfg_find_pair(const struct sect *sc, const char *key);
/* Points the error context at a place: file, line (0: the whole file), key. */
void cfg_at(struct build *b, const char *file, int line, const char *key);
/* Applies one pair to obj through the table (under the name key); need_flag
 * restricts the keys allowed (in a profile channel, in a device section). */
int cfg_apply(struct build *b, const struct key *keys, const struct pair *p, const char *key, const char *file,
              void *obj, unsigned need_flag, struct origin *o);
/* Applies a section's pairs to obj through its kind's key table; need_flag
 * restricts the keys (KF_CHANNEL, KF_DEVICE); o records where each came
 * from. 1, or 0 with the error. */
int cfg_apply_all(struct build *b, const struct sect *sc, const char *file, void *obj, unsigned need_flag,
                  struct origin *o);

/* config_sections.c: one section each; 1, or 0 with the error. */
int cfg_build_bus(struct build *b, const struct sect *sc);
int cfg_build_sensor(struct build *b, const struct sect *sc);
int cfg_build_device(struct build *b, const struct sect *sc);
int cfg_build_action(struct build *b, const struct sect *sc);

/* config_files.c: after [gateway] is built; 1, or 0 with the error. */
int cfg_load_classes(struct build *b);
int cfg_load_board(struct build *b);
/* A path from the site file: relative ones are relative to its directory. */
void cfg_site_relative(const struct build *b, const char *path, char *out, size_t len);

/* config_check.c: the checks across keys and sections, after building: 1,
 * or 0 with the error. */
int cfg_check_all(struct build *b);

#endif
