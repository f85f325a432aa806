/*
 * index.h — the in-memory series index: series by id, label set → id, and
 * the inverted postings name=value → sorted series ids.
 *
 * Selection by matchers never walks every series: an equality matcher is one
 * postings lookup, a regex is evaluated against the label's list of values
 * (far fewer than series) and the postings of the matching values are
 * merged; matchers that match the empty string are subtracted instead, as
 * in Prometheus's PostingsForMatchers.  Ids are handed out in increasing
 * order, so appending an id keeps a postings list sorted.
 *
 * The index is rebuilt at open from the 'L' keys (keys.h); it is not
 * thread-safe, the store's lock guards it.
 */
#ifndef EMBER_TSDB_INDEX_H
#define EMBER_TSDB_INDEX_H

#include "common/labels.h"
#include "common/strmap.h"
#include "query/matcher.h"

#include <stddef.h>
#include <stdint.h>

typedef struct id_list {
    uint64_t *v;
    size_t n, cap;
} id_list;

void id_list_free(id_list *l);
void id_list_push(id_list *l, uint64_t id);

typedef struct postings {
    char *name, *value; /* the pair's strings, shared by every series that has it */
    id_list ids;
} postings;

typedef struct label_name {
    char *name;
    uint32_t *values; /* indexes into index.plist */
    size_t n, cap;
} label_name;

typedef struct series_index {
    strmap pair;     /* "name\0value" → index into plist */
    postings *plist; /* every name=value pair */
    size_t npl, cappl;
    strmap name_map; /* label name → index into names */
    label_name *names;
    size_t nnames, capnames;
    uint64_t nseries;
} series_index;

void index_init(series_index *ix);
void index_free(series_index *ix);
/* Add series id with its label set (sorted); the store maps keys to ids. */
void index_add(series_index *ix, uint64_t id, const labelset *ls);
/* Ids of the series matching all matchers, ascending; the caller frees. */
void index_select(const series_index *ix, const label_matcher *ms, size_t nms, uint64_t max_id,
                  id_list *out);
/* Sorted label names / values of one name (strings point into the index). */
void index_label_names(const series_index *ix, const char ***out, size_t *n);
void index_label_values(const series_index *ix, const char *name, const char ***out, size_t *n);
/* Series count of a name=value pair (0 when absent). */
size_t index_postings_len(const series_index *ix, const char *name, const char *value);

/* Canonical key of a label set: name\0value\0... (the 'S' key body). */
void labels_key(ebuf *out, const labelset *ls);
void labels_from_key(const char *p, size_t len, labelset *out);

#endif
