/*
 * fmtfloat.h — float formatting and parsing exactly as Prometheus does it.
 *
 * Prometheus is written in Go; users diff our output against theirs, so the
 * digits must match: the shortest representation that round-trips.
 *  - fmt_float_text: strconv.FormatFloat(v, 'g', -1, 64), with "+Inf",
 *    "-Inf", "NaN" — the exposition format and /federate.  (-0 gives "-0"
 *    here; the exposition writer, expfmt_write_sample, prints it as "0" as
 *    prometheus/common's writeFloat does.)
 *  - fmt_float_json: the HTTP API's sample values: 'f' -1, or 'e' -1 when
 *    |v| < 1e-6 or |v| >= 1e21 (web/api/v1 marshalPointJSON), with
 *    "+Inf", "-Inf", "NaN".
 * Both write a NUL-terminated string and return its length; buf must hold
 * FMT_FLOAT_MAX bytes.
 */
#ifndef EMBER_COMMON_FMTFLOAT_H
#define EMBER_COMMON_FMTFLOAT_H

#include <stdbool.h>
#include <stddef.h>

#define FMT_FLOAT_MAX 40

size_t fmt_float_text(char *buf, double v);
size_t fmt_float_json(char *buf, double v);
/*
 * Go's strconv.FormatFloat(v, 'f', -1, 64): the same shortest digits, never
 * an exponent ("1000000000000000000000", "0.0000001", "-0", "NaN",
 * "+Inf"), as count_values' label and the API's scalar values spell them.
 * buf holds FMT_FLOAT_PLAIN_MAX bytes (5e-324 takes 327).
 */
#define FMT_FLOAT_PLAIN_MAX 332
size_t fmt_float_plain(char *buf, double v);

/*
 * Parse s[0..n) as Go's strconv.ParseFloat(s, 64) accepts it: decimal and
 * exponent forms, "Inf", "+Inf", "-Inf", "Infinity", "NaN" (any case).
 * Returns false if any byte is not part of the number.
 */
bool parse_float(const char *s, size_t n, double *out);

#endif
