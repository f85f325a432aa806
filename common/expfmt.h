/*
 * expfmt.h — metric sets and the Prometheus text exposition format 0.0.4.
 *
 * A metric_set is the in-memory form of one collection: the metadata of each
 * metric family (type, help) and a list of samples, each a full label set
 * (with "__name__") plus value and optional timestamp.  Collectors fill one,
 * the scraper parses into one, `ember-agent --once` and the simulators write
 * one, the batcher turns one into a wire Batch.
 *
 * The parser follows Prometheus's text parser (model/textparse/promparse.go):
 * HELP/TYPE comments, other comments and blank lines ignored, label values
 * with \\ \" \n escapes, float values including NaN, +Inf, -Inf and
 * exponents, optional integer millisecond timestamps.  It is strict the same
 * way Prometheus is: a malformed line fails the whole parse, with the line and
 * column of the error, and nothing is added to the output set.
 */
#ifndef EMBER_COMMON_EXPFMT_H
#define EMBER_COMMON_EXPFMT_H

#include "common/buf.h"
#include "common/labels.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum metric_type {
    METRIC_UNTYPED = 0,
    METRIC_COUNTER,
    METRIC_GAUGE,
    METRIC_HISTOGRAM,
    METRIC_SUMMARY,
} metric_type;

const char *metric_type_name(metric_type t); /* "counter", ..., "untyped" */
bool metric_type_parse(const char *s, metric_type *out);

typedef struct metric_meta {
    char *family;  /* metric family name, e.g. "http_request_duration_seconds" */
    metric_type type;
    char *help;    /* unescaped; NULL when the family has no HELP */
} metric_meta;

typedef struct metric_sample {
    labelset labels; /* includes __name__; sorted */
    double value;
    int64_t ts_ms;   /* valid when has_ts */
    bool has_ts;
} metric_sample;

typedef struct metric_set {
    metric_meta *meta;
    size_t nmeta, capmeta;
    metric_sample *samples;
    size_t n, cap;
} metric_set;

void metric_set_init(metric_set *ms);
void metric_set_free(metric_set *ms);
void metric_set_clear(metric_set *ms);
/* Set type and help of a family, adding it if new; help may be NULL (which
 * keeps any help the family already has). */
void metric_set_meta(metric_set *ms, const char *family, metric_type type, const char *help);
const metric_meta *metric_set_find_meta(const metric_set *ms, const char *family);
/* Append a sample; takes ownership of *ls (sorted by this call) and leaves it empty. */
void metric_set_add(metric_set *ms, labelset *ls, double value, bool has_ts, int64_t ts_ms);
/*
 * Convenience for collectors: metric name, value, then NULL-terminated
 * name/value string pairs, e.g.
 *   metric_set_addl(ms, "node_cpu_seconds_total", 12.5, "cpu", "0", "mode", "idle", NULL);
 */
void metric_set_addl(metric_set *ms, const char *name, double value, ...);
/* Move all samples and metadata of src to the end of dst; src becomes empty. */
void metric_set_move(metric_set *dst, metric_set *src);

/*
 * The family a sample belongs to: its metric name, or for histogram and
 * summary families declared in ms the name without _bucket/_sum/_count
 * (and for counters declared without the suffix, without _total).
 * Returns a pointer into the sample's labels or the meta table.
 */
const char *metric_set_family_of(const metric_set *ms, const char *metric_name);

typedef struct expfmt_limits {
    size_t max_line_len; /* 0 = unlimited */
    size_t max_labels;   /* per sample, 0 = unlimited */
} expfmt_limits;

#define EXPFMT_DEFAULT_MAX_LINE (1u << 20) /* 1 MiB */
#define EXPFMT_DEFAULT_MAX_LABELS 64

typedef struct expfmt_error {
    size_t line; /* 1-based */
    size_t col;  /* 1-based, in bytes */
    char msg[256];
} expfmt_error;

/*
 * Parse text exposition from buf[0..len) and append to out.  Returns 0, or -1
 * with err filled ("line 3, column 17: expected '=' after label name") and out
 * unchanged.  lim may be NULL for the defaults above.
 */
int expfmt_parse(const char *buf, size_t len, const expfmt_limits *lim, metric_set *out,
                 expfmt_error *err);
/* "line L, column C: msg" */
void expfmt_error_format(const expfmt_error *err, char *out, size_t outlen);

/*
 * Write ms as exposition text: for each family, "# HELP" (if any) and
 * "# TYPE" before its first sample, then the samples in set order.  Samples
 * of a family that are not adjacent are still grouped under one header, in
 * order of first appearance.
 */
void expfmt_write(ebuf *out, const metric_set *ms);
void expfmt_write_header(ebuf *out, const char *family, metric_type type, const char *help);
void expfmt_write_sample(ebuf *out, const labelset *ls, double value, bool has_ts, int64_t ts_ms);

#endif
