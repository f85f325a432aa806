/*
 * labels.h — label sets, the identity of a series.
 *
 * A labelset owns its strings.  The canonical order is Prometheus's: sorted
 * by label name, byte-wise (so "__name__" sorts after upper-case names, as in
 * Prometheus).  Hash, compare and equality are only meaningful on sorted
 * sets; call labels_sort() after building one.  The metric name is the
 * "__name__" label, exactly as in Prometheus.
 */
#ifndef EMBER_COMMON_LABELS_H
#define EMBER_COMMON_LABELS_H

#include "common/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LABEL_METRIC_NAME "__name__"

typedef struct label {
    char *name;
    char *value;
} label;

typedef struct labelset {
    label *v;
    size_t n;
    size_t cap;
} labelset;

void labels_init(labelset *ls);
void labels_free(labelset *ls);
void labels_clear(labelset *ls);                      /* n = 0, keeps memory */
void labels_copy(labelset *dst, const labelset *src); /* dst uninitialised */

/* Append without checking for duplicates (parsers use this, then validate). */
void labels_add(labelset *ls, const char *name, const char *value);
void labels_addn(labelset *ls, const char *name, size_t nlen, const char *value, size_t vlen);
/* Replace the value of name, or append it; keeps a sorted set sorted. */
void labels_set(labelset *ls, const char *name, const char *value);
/* Remove name if present; returns true if it was there. */
bool labels_del(labelset *ls, const char *name);
const char *labels_get(const labelset *ls, const char *name);
const char *labels_metric_name(const labelset *ls);

void labels_sort(labelset *ls);
/* First duplicated label name in a sorted set, or NULL. */
const char *labels_find_dup(const labelset *ls);
uint64_t labels_hash(const labelset *ls);
int labels_compare(const labelset *a, const labelset *b); /* like Prometheus labels.Compare */
bool labels_equal(const labelset *a, const labelset *b);

/* Prometheus naming rules. */
bool label_name_valid(const char *s, size_t n);  /* [a-zA-Z_][a-zA-Z0-9_]* */
bool metric_name_valid(const char *s, size_t n); /* [a-zA-Z_:][a-zA-Z0-9_:]* */
bool utf8_valid(const char *s, size_t n);

/*
 * Sort, then check names, UTF-8 values and duplicates.  On failure returns
 * false and writes a message naming the offending label into err.
 */
bool labels_validate(labelset *ls, char *err, size_t errlen);

/* name{a="1",b="x\"y"} — Prometheus's String() form, with escaping. */
void labels_format(ebuf *out, const labelset *ls);
/* Append a label value escaped for exposition text (\\, \", \n). */
void labels_escape_value(ebuf *out, const char *v);

#endif
