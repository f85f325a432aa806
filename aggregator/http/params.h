/*
 * params.h — parsing of Prometheus HTTP API parameters (times, durations),
 * with Prometheus's error texts.
 */
#ifndef EMBER_AGGREGATOR_HTTP_PARAMS_H
#define EMBER_AGGREGATOR_HTTP_PARAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A time as the API accepts it: Unix seconds with optional fraction
 * ("1700000000.123") or RFC 3339 ("2026-11-26T23:59:00.123Z",
 * "...+01:00").  Rounded to milliseconds.  On failure err gets
 * `cannot parse "x" to a valid timestamp`.
 */
bool api_parse_time(const char *s, int64_t *ms, char *err, size_t errlen);

#endif
