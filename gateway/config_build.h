/* config_build: what config.c and config_check.c share while a config is
 * read and built: raw sections of key/value pairs that remember their file
 * and line, and where each built sensor key came from. Private to them. */
#ifndef LIFELINE_CONFIG_BUILD_H
#define LIFELINE_CONFIG_BUILD_H

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
    enum src_kind { SRC_SITE, SRC_PROFILE, SRC_CLASSES, SRC_BOARD } kind;
    const char *text; /* read from memory instead of path (the built-in classes) */
    struct sect *sects;
    unsigned n_sects;
    /* while reading */
    FILE *fp;
    int line;
    bool at_line_start, skip;
    uint64_t hash; /* FNV-1a 64 of the bytes read */
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

const struct pair *cfg_find_pair(const struct sect *sc, const char *key);
/* Points the error context at a place: file, line (0: the whole file), key. */
void cfg_at(struct build *b, const char *file, int line, const char *key);
/* The checks across keys and sections, after building: 1, or 0 with the error. */
int cfg_check_all(struct build *b);

#endif
