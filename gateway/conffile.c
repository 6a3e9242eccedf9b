#include "conffile.h"

#include "strbuf.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CONF_MAX_BYTES (4 << 20)

static void put_key(struct strbuf *o, const char *key, const char *value)
{
    strbuf_printf(o, "%s = %s\n", key, value);
}

/* The words of a section header line "[ sensor  gas-01 ]" compared with
 * "sensor gas-01"; 0 when the line is no header, 1 header of another
 * section, 2 the one asked for. */
static int header(const char *line, size_t len, const char *section)
{
    size_t i = 0;

    while (i < len && isspace((unsigned char)line[i]))
        i++;
    if (i == len || line[i] != '[')
        return 0;
    const char *end = memchr(line + i, ']', len - i);
    if (!end)
        return 0;
    const char *p = line + i + 1, *q = section;
    for (;;) {
        while (p < end && isspace((unsigned char)*p))
            p++;
        while (*q == ' ')
            q++;
        if (p == end || !*q)
            return p == end && !*q ? 2 : 1;
        while (p < end && !isspace((unsigned char)*p) && *q && *q != ' ' && *p == *q)
            p++, q++;
        if ((p < end && !isspace((unsigned char)*p)) || (*q && *q != ' '))
            return 1;
    }
}

/* The key of a "key = value" line (not a comment, not indented), in key. */
static bool key_of(const char *line, size_t len, char *key, size_t keylen)
{
    size_t k;

    if (!len || isspace((unsigned char)line[0]) || line[0] == ';' || line[0] == '#' || line[0] == '[')
        return false;
    for (k = 0; k < len && line[k] != '=' && line[k] != ':'; k++)
        ;
    if (k == len)
        return false;
    while (k > 0 && isspace((unsigned char)line[k - 1]))
        k--;
    if (k >= keylen)
        return false;
    memcpy(key, line, k);
    key[k] = '\0';
    return true;
}

static bool is_blank_or_comment(const char *line, size_t len)
{
    size_t i = 0;
    while (i < len && isspace((unsigned char)line[i]))
        i++;
    return i == len || line[i] == ';' || line[i] == '#';
}

/* A value written back must read back the same: one line, no comment
 * character, no surrounding space. */
static const char *bad_value(const char *v)
{
    size_t n = strlen(v);

    if (!n)
        return "is empty";
    if (n > 150)
        return "is too long (at most 150 characters)";
    if (isspace((unsigned char)v[0]) || isspace((unsigned char)v[n - 1]))
        return "has leading or trailing spaces";
    for (const char *c = v; *c; c++)
        if (*c == ';' || *c == '#' || *c == '[' || *c == ']' || (unsigned char)*c < 0x20 || *c == 0x7f)
            return "contains a character a config value cannot hold (; # [ ] or a control character)";
    return NULL;
}

int conffile_has_section(const char *text, const char *section)
{
    for (const char *l = text; *l;) {
        const char *nl = strchr(l, '\n');
        size_t len = nl ? (size_t)(nl - l) : strlen(l);
        if (header(l, len, section) == 2)
            return 1;
        l += len + (nl ? 1 : 0);
    }
    return 0;
}

int conffile_has_key(const char *text, const char *section, const char *key)
{
    bool in = false;
    char k[128];

    for (const char *l = text; *l;) {
        const char *nl = strchr(l, '\n');
        size_t len = nl ? (size_t)(nl - l) : strlen(l);
        int h = header(l, len, section);
        if (h)
            in = h == 2;
        else if (in && key_of(l, len, k, sizeof(k)) && strcmp(k, key) == 0)
            return 1;
        l += len + (nl ? 1 : 0);
    }
    return 0;
}

int conffile_edit(const char *text, const char *section, const struct conf_edit *e, unsigned n, char **out, char *err,
                  size_t errlen)
{
    struct strbuf o = {0};
    bool in = false, found = false, skipping = false;
    bool done[64] = {false};
    const char *insert_at = NULL; /* just after the section's last key line */
    char key[128];

    if (n > sizeof(done) / sizeof(done[0])) {
        snprintf(err, errlen, "too many changes at once (at most %zu)", sizeof(done) / sizeof(done[0]));
        return -1;
    }
    for (unsigned i = 0; i < n; i++) {
        const char *why = e[i].value ? bad_value(e[i].value) : NULL;
        if (why) {
            snprintf(err, errlen, "%s: value %s", e[i].key, why);
            return -1;
        }
    }
    /* first pass: where the section's keys end */
    for (const char *l = text; *l;) {
        const char *nl = strchr(l, '\n');
        size_t len = nl ? (size_t)(nl - l) : strlen(l);
        const char *next = l + len + (nl ? 1 : 0);
        int h = header(l, len, section);
        if (h)
            in = h == 2, found |= h == 2;
        if (in && (h == 2 || !is_blank_or_comment(l, len)))
            insert_at = next;
        l = next;
    }
    if (!found) {
        snprintf(err, errlen, "no [%s] in the config file", section);
        return -1;
    }
    in = false;
    for (const char *l = text; *l;) {
        const char *nl = strchr(l, '\n');
        size_t len = nl ? (size_t)(nl - l) : strlen(l);
        const char *next = l + len + (nl ? 1 : 0);
        int h = header(l, len, section);
        bool replaced = false;
        if (h) {
            in = h == 2;
            skipping = false;
        } else if (skipping && len && isspace((unsigned char)l[0]) && !is_blank_or_comment(l, len)) {
            replaced = true; /* a continuation line of a replaced key */
        } else {
            skipping = false;
        }
        if (!replaced && in && !h && key_of(l, len, key, sizeof(key))) {
            for (unsigned i = 0; i < n; i++) {
                if (strcmp(e[i].key, key) != 0)
                    continue;
                if (e[i].value && !done[i])
                    put_key(&o, e[i].key, e[i].value);
                done[i] = true;
                replaced = skipping = true;
            }
        }
        if (!replaced) {
            strbuf_put(&o, l, len);
            if (nl || len)
                strbuf_put(&o, "\n", 1);
        }
        if (next == insert_at) {
            for (unsigned i = 0; i < n; i++)
                if (!done[i] && e[i].value)
                    put_key(&o, e[i].key, e[i].value), done[i] = true;
        }
        l = next;
    }
    if (!(*out = strbuf_take(&o))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

int conffile_read(const char *path, char **text, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    struct strbuf o = {0};
    char chunk[8192];
    size_t n;

    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0 && o.len < CONF_MAX_BYTES)
        strbuf_put(&o, chunk, n);
    bool bad = ferror(f) || o.len >= CONF_MAX_BYTES;
    fclose(f);
    if (bad) {
        strbuf_free(&o);
        snprintf(err, errlen, "%s: cannot read it whole", path);
        return -1;
    }
    if (!(*text = strbuf_take(&o))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

/* Writes data to path atomically: into a new file of its own (mkstemp:
 * O_EXCL, so nothing planted at a guessable name, a symlink to another
 * file say, is ever opened and written through), fsync'd, then renamed
 * over path (a symlink at path is replaced, not followed). */
static int write_atomic(const char *path, const char *data, size_t len, mode_t mode)
{
    char tmp[PATH_MAX];
    int fd, e = 0;

    if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= (int)sizeof(tmp))
        return -ENAMETOOLONG;
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (fchmod(fd, mode) < 0)
        e = errno;
    for (size_t done = 0; !e && done < len;) {
        ssize_t w = write(fd, data + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            e = w < 0 ? errno : EIO;
        else
            done += (size_t)w;
    }
    if (!e && fsync(fd) < 0)
        e = errno;
    if (close(fd) < 0 && !e)
        e = errno;
    if (!e && rename(tmp, path) < 0)
        e = errno;
    if (e)
        unlink(tmp);
    return -e;
}

static int sync_dir(const char *path)
{
    char copy[PATH_MAX];
    snprintf(copy, sizeof(copy), "%s", path);
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int r = fsync(fd) < 0 ? -errno : 0;
    close(fd);
    return r;
}

static mode_t mode_of(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? sb.st_mode & 07777 : 0640;
}

int conffile_write_candidate(const char *path, const char *text, char *cand, size_t candlen, char *err, size_t errlen)
{
    if (snprintf(cand, candlen, "%s.new", path) >= (int)candlen) {
        snprintf(err, errlen, "%s: path too long", path);
        return -1;
    }
    int r = write_atomic(cand, text, strlen(text), mode_of(path));
    if (r < 0) {
        snprintf(err, errlen, "cannot write %s: %s", cand, strerror(-r));
        unlink(cand);
        return -1;
    }
    return 0;
}

int conffile_commit(const char *path, char *err, size_t errlen)
{
    char cand[PATH_MAX], prev[PATH_MAX];
    char *old = NULL;
    int r;

    snprintf(cand, sizeof(cand), "%s.new", path);
    snprintf(prev, sizeof(prev), "%s.prev", path);
    /* the previous version, itself written atomically */
    if (conffile_read(path, &old, err, errlen) < 0)
        return -1;
    r = write_atomic(prev, old, strlen(old), mode_of(path));
    free(old);
    if (r < 0) {
        snprintf(err, errlen, "cannot keep the previous version as %s: %s", prev, strerror(-r));
        return -1;
    }
    if (rename(cand, path) < 0) {
        snprintf(err, errlen, "cannot rename %s to %s: %s", cand, path, strerror(errno));
        return -1;
    }
    if ((r = sync_dir(path)) < 0) {
        snprintf(err, errlen, "written, but fsync of its directory failed: %s", strerror(-r));
        return -1;
    }
    return 0;
}

void conffile_discard(const char *path)
{
    char cand[PATH_MAX];
    snprintf(cand, sizeof(cand), "%s.new", path);
    unlink(cand);
}
