/*
 * etime.c — clocks, sleeping, and Prometheus durations and timestamps.
 *
 * Durations follow Prometheus's model.ParseDuration / model.Duration.String
 * exactly, because users paste values between Prometheus configs and ours:
 *
 *   - the grammar is ^(\d+y)?(\d+w)?(\d+d)?(\d+h)?(\d+m)?(\d+s)?(\d+ms)?$
 *     (each unit at most once, in that order), plus the bare "0";
 *   - y = 365d and w = 7d, no leap years;
 *   - Prometheus stores durations as Go time.Duration (int64 nanoseconds),
 *     so anything above ~292 years is "out of range" there; we reject the
 *     same inputs even though int64 milliseconds could hold more, so a
 *     config valid here is valid there and vice versa.
 *
 * Formatting prints y and w only when they divide the value exactly (90d
 * reads better than 12w6d).  The one deliberate difference: Go prints ""
 * for a negative duration, we print "-" followed by the magnitude, which is
 * more useful in logs.
 */
#include "common/etime.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define MS_PER_SEC INT64_C(1000)
#define MS_PER_MIN (60 * MS_PER_SEC)
#define MS_PER_HOUR (60 * MS_PER_MIN)
#define MS_PER_DAY (24 * MS_PER_HOUR)
#define MS_PER_WEEK (7 * MS_PER_DAY)
#define MS_PER_YEAR (365 * MS_PER_DAY)

/* Largest duration Prometheus accepts: INT64_MAX nanoseconds, in ms. */
#define DURATION_MAX_MS (INT64_MAX / INT64_C(1000000))

static int64_t clock_ms(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * MS_PER_SEC + ts.tv_nsec / 1000000;
}

int64_t now_ms(void)
{
    return clock_ms(CLOCK_REALTIME);
}

int64_t mono_ms(void)
{
    return clock_ms(CLOCK_MONOTONIC);
}

void sleep_ms(int64_t ms)
{
    if (ms <= 0)
        return;
    struct timespec req = {.tv_sec = (time_t)(ms / MS_PER_SEC),
                           .tv_nsec = (long)(ms % MS_PER_SEC) * 1000000L};
    struct timespec rem;
    /* A signal handler must not cut a sleep short: resume with what is left. */
    while (nanosleep(&req, &rem) != 0 && errno == EINTR)
        req = rem;
}

/* Units in the only order the grammar allows them. */
static const struct duration_unit {
    const char *name;
    int64_t ms;
} duration_units[] = {
    {"y", MS_PER_YEAR}, {"w", MS_PER_WEEK}, {"d", MS_PER_DAY}, {"h", MS_PER_HOUR},
    {"m", MS_PER_MIN},  {"s", MS_PER_SEC},  {"ms", 1},
};
#define N_DURATION_UNITS (sizeof duration_units / sizeof duration_units[0])

/*
 * Which unit starts at s, or -1.  "ms" is tried before "m" so that "5ms"
 * is not read as five minutes followed by garbage.
 */
static int duration_unit_at(const char *s, size_t *unit_len)
{
    if (s[0] == 'm' && s[1] == 's') {
        *unit_len = 2;
        return (int)N_DURATION_UNITS - 1;
    }
    for (size_t i = 0; i + 1 < N_DURATION_UNITS; i++) {
        if (s[0] == duration_units[i].name[0]) {
            *unit_len = 1;
            return (int)i;
        }
    }
    return -1;
}

bool parse_duration_ms(const char *s, int64_t *out_ms)
{
    if (s == NULL || s[0] == '\0')
        return false;
    if (strcmp(s, "0") == 0) {
        *out_ms = 0;
        return true;
    }
    int64_t total = 0;
    int next_unit = 0; /* units must strictly decrease */
    while (*s) {
        if (*s < '0' || *s > '9')
            return false;
        int64_t n = 0;
        bool too_big = false;
        for (; *s >= '0' && *s <= '9'; s++) {
            if (n > (DURATION_MAX_MS - (*s - '0')) / 10)
                too_big = true; /* keep scanning: a syntax error still wins */
            else
                n = n * 10 + (*s - '0');
        }
        size_t ulen;
        int u = duration_unit_at(s, &ulen);
        if (u < next_unit)
            return false; /* no unit, unknown unit, repeated or out of order */
        s += ulen;
        next_unit = u + 1;
        if (too_big || n > (DURATION_MAX_MS - total) / duration_units[u].ms)
            total = -1; /* out of range; finish checking the syntax first */
        else if (total >= 0)
            total += n * duration_units[u].ms;
    }
    if (total < 0)
        return false;
    *out_ms = total;
    return true;
}

void format_duration_ms(char *buf, size_t len, int64_t ms)
{
    if (len == 0)
        return;
    buf[0] = '\0';
    if (ms == 0) {
        snprintf(buf, len, "0s");
        return;
    }
    size_t off = 0;
    /* Work in unsigned so that INT64_MIN has a magnitude too. */
    uint64_t left = ms < 0 ? -(uint64_t)ms : (uint64_t)ms;
    if (ms < 0)
        off += (size_t)snprintf(buf, len, "-");
    for (size_t i = 0; i < N_DURATION_UNITS && off < len; i++) {
        uint64_t unit = (uint64_t)duration_units[i].ms;
        bool exact_only = i < 2; /* y and w */
        if (exact_only && left % unit != 0)
            continue;
        uint64_t v = left / unit;
        if (v == 0)
            continue;
        off += (size_t)snprintf(buf + off, len - off, "%llu%s", (unsigned long long)v,
                                duration_units[i].name);
        left -= v * unit;
    }
}

void format_rfc3339_ms(char *buf, size_t len, int64_t ms)
{
    if (len == 0)
        return;
    /* Floor division: -1 ms is 23:59:59.999 of the day before the epoch. */
    int64_t sec = ms / MS_PER_SEC, milli = ms % MS_PER_SEC;
    if (milli < 0) {
        milli += MS_PER_SEC;
        sec--;
    }
    time_t t = (time_t)sec;
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL) {
        snprintf(buf, len, "invalid-time");
        return;
    }
    snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)milli);
}
