#include "log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <time.h>

static enum log_target target = LOG_TARGET_STDERR;
static int max_prio = LOG_INFO;
static bool locked;

void log_lock(void)
{
    locked = true;
}

void log_open(enum log_target t, int max_priority)
{
    if (locked)
        return;
    if (target == LOG_TARGET_SYSLOG && t != LOG_TARGET_SYSLOG)
        closelog();
    target = t;
    max_prio = max_priority;
    if (target == LOG_TARGET_SYSLOG)
        openlog("lifelined", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void log_close(void)
{
    if (target == LOG_TARGET_SYSLOG)
        closelog();
    target = LOG_TARGET_STDERR;
}

void log_msg(int priority, const char *fmt, ...)
{
    static const char *const names[] = {"emerg", "alert", "crit", "error",
                                        "warning", "notice", "info", "debug"};
    va_list ap;

    if (priority > max_prio)
        return;
    va_start(ap, fmt);
    if (target == LOG_TARGET_SYSLOG) {
        vsyslog(priority, fmt, ap);
    } else {
        struct timespec ts;
        struct tm tm;
        char stamp[32];

        clock_gettime(CLOCK_REALTIME, &ts);
        localtime_r(&ts.tv_sec, &tm);
        strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm);
        /* One fprintf per line so concurrent bus workers never interleave. */
        char line[1024];
        vsnprintf(line, sizeof(line), fmt, ap);
        fprintf(stderr, "%s.%03ld %s: %s\n", stamp, ts.tv_nsec / 1000000L,
                names[priority & 7], line);
    }
    va_end(ap);
}
