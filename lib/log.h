/* log: one place where lines leave the daemon, to stderr or syslog.
 * Lines read "module: what happened: detail"; callers never log secrets.
 * A line is escaped before it leaves (text_escape): control characters and
 * invalid UTF-8 from outside show as \xHH, never act on a terminal.
 * Every log_* call leaves errno as it found it, so
 * `log_err("...: %s", strerror(errno)); return -errno;` is safe. */
#ifndef LIFELINE_LOG_H
#define LIFELINE_LOG_H

#include <syslog.h>

enum log_target {
    LOG_TARGET_STDERR,
    LOG_TARGET_SYSLOG
};

void log_open(enum log_target target, int max_priority);
/* The command line's -d/-v win over the config: after log_lock, log_open
 * from a config (re)load changes nothing. */
void log_lock(void);
void log_close(void);
/* Calls fn with each of the last max lines logged (info and above), oldest
 * first; returns how many. Safe from any thread. */
unsigned log_recent(unsigned max, void (*fn)(void *ctx, const char *line), void *ctx);
void log_msg(int priority, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...) log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARNING, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
