/*
 * log.h — logfmt logging with levels, to stderr.
 *
 *   ts=2026-11-26T23:59:00.123Z level=info msg="listening" addr=127.0.0.1:9090
 *
 * msg is quoted and escaped by the logger.  kvfmt is a printf format for the
 * trailing key=value pairs; use log_quote() for values that may contain
 * spaces or quotes.  Thread-safe (one write(2) per line).
 */
#ifndef EMBER_COMMON_LOG_H
#define EMBER_COMMON_LOG_H

#include <stdbool.h>
#include <stddef.h>

typedef enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR } log_level;

void log_set_level(log_level l);
bool log_parse_level(const char *s, log_level *out); /* debug|info|warn|error */
void log_at(log_level l, const char *msg, const char *kvfmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Quote s for logfmt into buf ("..." with \" and \\ escaped); returns buf. */
const char *log_quote(char *buf, size_t len, const char *s);
/* Send log lines to fd instead of stderr (tests, daemons that log to a file). */
void log_set_output_fd(int fd);

#define log_debug(...) log_at(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_at(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_at(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_at(LOG_ERROR, __VA_ARGS__)

#endif
