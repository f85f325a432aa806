/*
 * err.h — the error convention of Ember's libraries: functions that can fail
 * take (char *err, size_t errlen) and write a one-line reason there.
 */
#ifndef EMBER_COMMON_ERR_H
#define EMBER_COMMON_ERR_H

#include <stddef.h>

/* printf into err (if err is not NULL and errlen > 0). */
void err_set(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
