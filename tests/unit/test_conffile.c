/* Edits of the config text (the rest of the file stays as written) and the
 * atomic write with the previous version kept. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "conffile.h"

static const char conf[] = "; site file\n"
                           "[gateway]\n"
                           "id = g\n"
                           "\n"
                           "[ sensor   gas-01 ]\n"
                           "class = gas   ; methane\n"
                           "red = 50\n"
                           "description = first line\n"
                           "  second line\n"
                           "\n"
                           "; the next one\n"
                           "[sensor gas-02]\n"
                           "red = 40\n";

static void replace_add_remove(void **state)
{
    char *out = NULL, err[256];
    const struct conf_edit e[] = {{"red", "45"}, {"on_delay", "5s"}, {"description", NULL}};
    (void)state;

    assert_int_equal(conffile_edit(conf, "sensor gas-01", e, 3, &out, err, sizeof(err)), 0);
    assert_string_equal(out, "; site file\n"
                             "[gateway]\n"
                             "id = g\n"
                             "\n"
                             "[ sensor   gas-01 ]\n"
                             "class = gas   ; methane\n"
                             "red = 45\n"
                             "on_delay = 5s\n"
                             "\n"
                             "; the next one\n"
                             "[sensor gas-02]\n"
                             "red = 40\n");
    free(out);
    /* the last section, with no newline at the end of the file */
    const struct conf_edit f[] = {{"red", "41"}, {"poll", "2s"}};
    char text[] = "[sensor a]\nred = 40";
    assert_int_equal(conffile_edit(text, "sensor a", f, 2, &out, err, sizeof(err)), 0);
    assert_string_equal(out, "[sensor a]\nred = 41\npoll = 2s\n");
    free(out);
}

static void refused(void **state)
{
    char *out = NULL, err[256];
    const struct conf_edit nl[] = {{"red", "4\n[gateway]"}};
    const struct conf_edit semi[] = {{"red", "4 ; x"}};
    const struct conf_edit ok[] = {{"red", "4"}};
    (void)state;

    assert_int_equal(conffile_edit(conf, "sensor gas-01", nl, 1, &out, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "red: value contains a character"));
    assert_int_equal(conffile_edit(conf, "sensor gas-01", semi, 1, &out, err, sizeof(err)), -1);
    assert_int_equal(conffile_edit(conf, "sensor gas-9", ok, 1, &out, err, sizeof(err)), -1);
    assert_string_equal(err, "no [sensor gas-9] in the config file");
    /* "sensor gas-0" is not "sensor gas-01" */
    assert_int_equal(conffile_has_section(conf, "sensor gas-0"), 0);
    assert_int_equal(conffile_has_section(conf, "sensor gas-01"), 1);
    assert_null(out);
}

static void atomic_write_keeps_previous(void **state)
{
    char dir[] = "/tmp/lifeline-test-conffile-XXXXXX", path[128], cand[160], err[256], *text = NULL;
    (void)state;

    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/l.conf", dir);
    FILE *f = fopen(path, "w");
    fputs("old\n", f);
    fclose(f);
    assert_int_equal(conffile_write_candidate(path, "new\n", cand, sizeof(cand), err, sizeof(err)), 0);
    assert_int_equal(conffile_read(path, &text, err, sizeof(err)), 0);
    assert_string_equal(text, "old\n"); /* nothing changes before the commit */
    free(text);
    assert_int_equal(conffile_commit(path, err, sizeof(err)), 0);
    assert_int_equal(conffile_read(path, &text, err, sizeof(err)), 0);
    assert_string_equal(text, "new\n");
    free(text);
    snprintf(cand, sizeof(cand), "%s.prev", path);
    assert_int_equal(conffile_read(cand, &text, err, sizeof(err)), 0);
    assert_string_equal(text, "old\n");
    free(text);
    snprintf(cand, sizeof(cand), "%s.new", path);
    assert_int_equal(access(cand, F_OK), -1);
    /* a discarded candidate leaves nothing behind */
    assert_int_equal(conffile_write_candidate(path, "bad\n", cand, sizeof(cand), err, sizeof(err)), 0);
    conffile_discard(path);
    assert_int_equal(access(cand, F_OK), -1);
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* A symlink planted at PATH.new or PATH.prev (by someone who may write the
 * directory but not the file it points to) is replaced, never written
 * through; and the files keep the config's mode. */
static void planted_symlinks_are_not_followed(void **state)
{
    char dir[] = "/tmp/lifeline-test-conffile-XXXXXX", path[128], victim[128], link[160], cand[160], err[256];
    char *text = NULL;
    struct stat sb;
    (void)state;

    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/l.conf", dir);
    snprintf(victim, sizeof(victim), "%s/victim", dir);
    FILE *f = fopen(path, "w");
    fputs("old\n", f);
    fclose(f);
    assert_int_equal(chmod(path, 0600), 0);
    f = fopen(victim, "w");
    fputs("untouched\n", f);
    fclose(f);
    snprintf(link, sizeof(link), "%s.new", path);
    assert_int_equal(symlink(victim, link), 0);
    snprintf(link, sizeof(link), "%s.prev", path);
    assert_int_equal(symlink(victim, link), 0);
    assert_int_equal(conffile_write_candidate(path, "new\n", cand, sizeof(cand), err, sizeof(err)), 0);
    assert_int_equal(conffile_commit(path, err, sizeof(err)), 0);
    assert_int_equal(conffile_read(victim, &text, err, sizeof(err)), 0);
    assert_string_equal(text, "untouched\n");
    free(text);
    assert_int_equal(lstat(link, &sb), 0);
    assert_true(S_ISREG(sb.st_mode));
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(lstat(path, &sb), 0);
    assert_true(S_ISREG(sb.st_mode));
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(conffile_read(path, &text, err, sizeof(err)), 0);
    assert_string_equal(text, "new\n");
    free(text);
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(replace_add_remove),
        cmocka_unit_test(refused),
        cmocka_unit_test(atomic_write_keeps_previous),
        cmocka_unit_test(planted_symlinks_are_not_followed),
    };
    return cmocka_run_group_tests_name("conffile", tests, NULL, NULL);
}
