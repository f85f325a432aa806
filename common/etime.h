/*
 * etime.h — clocks and Prometheus-style durations.
 */
#ifndef EMBER_COMMON_ETIME_H
#define EMBER_COMMON_ETIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

int64_t now_ms(void);   /* wall clock, ms since the Unix epoch */
int64_t mono_ms(void);  /* monotonic clock, for intervals and timeouts */
void sleep_ms(int64_t ms);

/*
 * Parse a Prometheus duration (model.ParseDuration): one or more
 * <number><unit> with units y, w, d, h, m, s, ms in decreasing order, e.g.
 * "15s", "1h30m", "30d", "0".  Returns false on anything else.
 */
bool parse_duration_ms(const char *s, int64_t *out_ms);
/* Canonical Prometheus form: "1h30m", "15s", "0s". buf >= 32 bytes. */
void format_duration_ms(char *buf, size_t len, int64_t ms);
/* RFC 3339 UTC with milliseconds: 2026-11-26T23:59:00.123Z. buf >= 32 bytes. */
void format_rfc3339_ms(char *buf, size_t len, int64_t ms);

#endif
