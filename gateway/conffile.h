/* conffile: changes to the config file made by the gateway itself (the
 * center's cmd/set, the console's config commit): edits of single keys in
 * the INI text that keep every other line as the technician wrote it, and
 * an atomic write that keeps the previous version.
 * Reading the INI is config.c's (libinih); this only edits lines. */
#ifndef LIFELINE_CONFFILE_H
#define LIFELINE_CONFFILE_H

#include <stddef.h>

struct conf_edit {
    const char *key;
    const char *value; /* NULL: remove the key (back to the class/profile default) */
};

/* Applies edits to the section [SECTION] (e.g. "sensor gas-01"; spacing in
 * the file does not matter) of text: a key that is there is replaced (with
 * its continuation lines), a new one is added after the section's last key.
 * *out is malloc'd. Returns 0, or -1 with why in err (no such section, a
 * value that cannot be written on one line). */
int conffile_edit(const char *text, const char *section, const struct conf_edit *e, unsigned n, char **out, char *err,
                  size_t errlen);
/* Whether [SECTION] is in text. */
int conffile_has_section(const char *text, const char *section);
/* Whether [SECTION] of text has KEY (a line of its own, not a continuation). */
int conffile_has_key(const char *text, const char *section, const char *key);
/* The whole file, malloc'd and NUL-terminated (at most 4 MiB). */
int conffile_read(const char *path, char **text, char *err, size_t errlen);
/* Writes text to PATH.new (fsync'd) and puts its name in cand, for
 * validating it as a config before conffile_commit. Every file is written
 * as a new file of its own (mkstemp) and renamed into place: nothing
 * planted at PATH.new or PATH.prev (a symlink) is written through. */
int conffile_write_candidate(const char *path, const char *text, char *cand, size_t candlen, char *err, size_t errlen);
/* Puts PATH.new in place of PATH atomically: the current file is kept as
 * PATH.prev, PATH.new is renamed over PATH and the directory fsync'd. A
 * power cut at any point leaves the old or the new file at PATH. */
int conffile_commit(const char *path, char *err, size_t errlen);
/* Removes PATH.new (a candidate that was refused). */
void conffile_discard(const char *path);

#endif
