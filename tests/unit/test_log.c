/* log: every log_* call leaves errno as the caller had it, so
 * `log_err("...: %s", strerror(errno)); return -errno;` returns the caller's
 * error, even when the log's own write fails (stderr on a full disk). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"

/* The caller's idiom: log the error, then return it. */
static int fail_with(int err)
{
    errno = err;
    log_err("test: open: %s", strerror(errno));
    return -errno;
}

static void test_log_keeps_errno(void **state)
{
    (void)state;
    log_open(LOG_TARGET_STDERR, LOG_DEBUG);
    assert_int_equal(fail_with(EACCES), -EACCES);
    errno = ETIMEDOUT;
    log_warn("test: %s, retrying", strerror(errno));
    assert_int_equal(errno, ETIMEDOUT);
    errno = ENOENT;
    log_debug("test: below the level: %d", 1);
    assert_int_equal(errno, ENOENT);
    errno = EIO;
    log_open(LOG_TARGET_STDERR, LOG_INFO);
    log_debug("test: filtered out");
    assert_int_equal(errno, EIO);
}

/* The log's own write fails (ENOSPC on /dev/full): errno is still the caller's. */
static void test_log_keeps_errno_when_its_write_fails(void **state)
{
    int full = open("/dev/full", O_WRONLY | O_CLOEXEC);
    int saved_stderr = dup(2);

    (void)state;
    assert_true(full >= 0 && saved_stderr >= 0);
    fflush(stderr);
    assert_int_equal(dup2(full, 2), 2);
    setvbuf(stderr, NULL, _IONBF, 0);
    assert_int_equal(fail_with(ECONNREFUSED), -ECONNREFUSED);
    fflush(stderr);
    clearerr(stderr);
    assert_int_equal(dup2(saved_stderr, 2), 2);
    close(saved_stderr);
    close(full);
}

static void count_line(void *ctx, const char *line)
{
    (void)line;
    (*(unsigned *)ctx)++;
    errno = EBADF; /* a callback that changes errno */
}

static void test_log_recent_and_close_keep_errno(void **state)
{
    unsigned n = 0;

    (void)state;
    log_open(LOG_TARGET_STDERR, LOG_INFO);
    log_info("test: a line to recall");
    errno = EPIPE;
    assert_true(log_recent(5, count_line, &n) > 0);
    assert_true(n > 0);
    assert_int_equal(errno, EPIPE);
    errno = EAGAIN;
    log_open(LOG_TARGET_SYSLOG, LOG_INFO);
    log_info("test: to syslog");
    assert_int_equal(errno, EAGAIN);
    log_close();
    assert_int_equal(errno, EAGAIN);
}

static void last_line(void *ctx, const char *line)
{
    snprintf(ctx, 256, "%s", line);
}

/* A name from outside with a newline, ESC or broken UTF-8 in it cannot
 * forge a second line or act on the terminal of whoever reads the log. */
static void test_log_escapes_what_it_is_given(void **state)
{
    char got[256] = "";
    (void)state;
    log_open(LOG_TARGET_STDERR, LOG_INFO);
    log_info("core: command '%s' refused", "x\x1b[2J\n2026-12-07 info: core: forged\xff 燃气");
    assert_int_equal(log_recent(1, last_line, got), 1);
    assert_non_null(strstr(got, "core: command 'x\\x1b[2J\\x0a2026-12-07 info: core: forged\\xff 燃气' refused"));
    assert_null(strchr(got, '\x1b'));
    assert_null(strchr(got, '\n'));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_log_keeps_errno),
        cmocka_unit_test(test_log_keeps_errno_when_its_write_fails),
        cmocka_unit_test(test_log_recent_and_close_keep_errno),
        cmocka_unit_test(test_log_escapes_what_it_is_given),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
