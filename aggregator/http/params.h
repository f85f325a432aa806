/*
 * params.h — parsing of Prometheus HTTP API parameters (times, durations,
 * match[] selectors), with the texts web/api/v1 answers bad ones with.
 */
#ifndef EMBER_AGGREGATOR_HTTP_PARAMS_H
#define EMBER_AGGREGATOR_HTTP_PARAMS_H

#include "common/httpd.h"
#include "query/promql.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Prometheus's minTime and maxTime in ms: the defaults of start and end
 * where a range is optional (series, labels). */
#define API_MIN_TIME_MS (-9223309901257974000LL)
#define API_MAX_TIME_MS 9223309901257974999LL

/*
 * A time as the API accepts it: Unix seconds with optional fraction
 * ("1700000000.123") or RFC 3339 ("2026-11-26T23:59:00.123Z",
 * "...+01:00"), and Prometheus's own minTime / maxTime texts.  Rounded to
 * milliseconds.  On failure err gets `cannot parse "x" to a valid
 * timestamp`.
 */
bool api_parse_time(const char *s, int64_t *ms, char *err, size_t errlen);

/*
 * A duration as parseDuration in web/api/v1: float seconds ("15",
 * "0.5") or a Prometheus duration ("1m30s"), in nanoseconds as Go's
 * time.Duration (negative values pass; the caller judges them).  On
 * failure err gets `cannot parse "x" to a valid duration` (with ". It
 * overflows int64" for too large a number of seconds).
 */
bool api_parse_duration(const char *s, int64_t *ns, char *err, size_t errlen);

/*
 * parseTimeParam: the optional time parameter name, or dflt when absent or
 * empty.  On failure msg gets the whole API error text, `invalid parameter
 * "start": Invalid time value for 'start': cannot parse ...`.
 */
bool api_time_param(const httpd_request *req, const char *name, int64_t dflt, int64_t *ms,
                    char *msg, size_t msglen);

/*
 * parseMatchersParam: every match[] of the request parsed as a series
 * selector, in order, into *out (free with api_selectors_free).  Returns
 * the count, or -1 with Prometheus's parse error text in msg.
 */
int api_parse_matches(const httpd_request *req, promql_selector **out, char *msg, size_t msglen);
void api_selectors_free(promql_selector *v, int n);

#endif
