/*
 * metricset_internal.h — the metric_set internals that metricset.c shares
 * with the parser (expfmt_parse.c) and the writer (expfmt.c).  Private to
 * those three files; everyone else uses common/expfmt.h.
 */
#ifndef EMBER_COMMON_METRICSET_INTERNAL_H
#define EMBER_COMMON_METRICSET_INTERNAL_H

#include "common/expfmt.h"
#include "common/strmap.h"

/* metric_type_parse for s[0..n). */
bool mset_type_parsen(const char *s, size_t n, metric_type *out);

/* Initialise ix as family -> position in ms->meta (the first, if repeated). */
void mset_index_metas(strmap *ix, const metric_set *ms);
/* The meta of family s[0..n), through ix when given, else by a scan. */
metric_meta *mset_meta_lookup(const metric_set *ms, const strmap *ix, const char *s, size_t n);
/* Append an untyped, help-less family; takes ownership of family. */
metric_meta *mset_meta_append(metric_set *ms, char *family);
/* metric_set_add for labels already sorted. */
void mset_sample_push(metric_set *ms, labelset *ls, double value, bool has_ts, int64_t ts_ms);
/*
 * metric_set_move, where type_known[i] (NULL: all true) says whether src's
 * type of family i was declared or is just the default.
 */
void mset_move(metric_set *dst, metric_set *src, const bool *type_known);
/* metric_set_family_of, looking families up through ix when given. */
const char *mset_family_of(const metric_set *ms, const strmap *ix, const char *name);

#endif
