#include "log.h"
#include "text.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static enum log_target target = LOG_TARGET_STDERR;
static int max_prio = LOG_INFO;
static bool locked;

/* The last lines, for the console's `show log` (whatever the target). */
#define RECENT_LINES 200
#define RECENT_LEN 256
static char recent[RECENT_LINES][RECENT_LEN];
static unsigned recent_head, recent_n;
static pthread_mutex_t recent_mu = PTHREAD_MUTEX_INITIALIZER;

static void remember_line(const char *stamp, long ms, const char *prio, const char *line)
{
    pthread_mutex_lock(&recent_mu);
    snprintf(recent[recent_head], RECENT_LEN, "%.24s.%03ld %.8s: %.200s", stamp, ms, prio, line);
    recent_head = (recent_head + 1) % RECENT_LINES;
    if (recent_n < RECENT_LINES)
        recent_n++;
    pthread_mutex_unlock(&recent_mu);
}

unsigned log_recent(unsigned max, void (*fn)(void *ctx, const char *line), void *ctx)
{
    int saved = errno;
    unsigned n;

    pthread_mutex_lock(&recent_mu);
    n = recent_n < max ? recent_n : max;
    for (unsigned i = 0; i < n; i++)
        fn(ctx, recent[(recent_head + RECENT_LINES - n + i) % RECENT_LINES]);
    pthread_mutex_unlock(&recent_mu);
    errno = saved;
    return n;
}

void log_lock(void)
{
    locked = true;
}

void log_open(enum log_target t, int max_priority)
{
    int saved = errno;

    if (locked)
        return;
    if (target == LOG_TARGET_SYSLOG && t != LOG_TARGET_SYSLOG)
        closelog();
    target = t;
    max_prio = max_priority;
    if (target == LOG_TARGET_SYSLOG)
        openlog("lifelined", LOG_PID | LOG_NDELAY, LOG_DAEMON);
    errno = saved;
}

void log_close(void)
{
    int saved = errno;

    if (target == LOG_TARGET_SYSLOG)
        closelog();
    target = LOG_TARGET_STDERR;
    errno = saved;
}

/* errno is the caller's: formatting, the clock and the write may all change
 * it, and "log_err(...); return -errno;" must return the caller's error. */
void log_msg(int priority, const char *fmt, ...)
{
    static const char *const names[] = {"emerg", "alert", "crit", "error", "warning", "notice", "info", "debug"};
    int saved = errno;
    va_list ap;
    struct timespec ts;
    struct tm tm;
    char stamp[32], raw[1024], line[1024];

    if (priority > max_prio)
        return;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof(raw), fmt, ap);
    va_end(ap);
    /* names and messages from outside are in it: one line, nothing a
     * terminal would act on, whatever they hold */
    text_escape(raw, line, sizeof(line));
    clock_gettime(CLOCK_REALTIME, &ts);
    localtime_r(&ts.tv_sec, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm);
    if (priority <= LOG_INFO)
        remember_line(stamp, ts.tv_nsec / 1000000L, names[priority & 7], line);
    if (target == LOG_TARGET_SYSLOG)
        syslog(priority, "%s", line);
    else /* one fprintf per line so concurrent bus workers never interleave */
        fprintf(stderr, "%s.%03ld %s: %s\n", stamp, ts.tv_nsec / 1000000L, names[priority & 7], line);
    errno = saved;
}
