/*
 * metricset.c — metric types and metric sets (see expfmt.h): adding
 * samples and family metadata, merging one set into another, and telling
 * which family a sample belongs to.  The exposition format itself lives in
 * expfmt_parse.c (reading) and expfmt.c (writing).
 */
#include "common/metricset_internal.h"

#include "common/mem.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ---- metric types ---------------------------------------------------- */

static const char *const type_names[] = {
    [METRIC_UNTYPED] = "untyped",     [METRIC_COUNTER] = "counter", [METRIC_GAUGE] = "gauge",
    [METRIC_HISTOGRAM] = "histogram", [METRIC_SUMMARY] = "summary",
};
#define NTYPES (sizeof type_names / sizeof type_names[0])

const char *metric_type_name(metric_type t)
{
    return (size_t)t < NTYPES ? type_names[t] : "untyped";
}

bool mset_type_parsen(const char *s, size_t n, metric_type *out)
{
    for (size_t i = 0; i < NTYPES; i++) {
        if (strlen(type_names[i]) == n && memcmp(type_names[i], s, n) == 0) {
            *out = (metric_type)i;
            return true;
        }
    }
    return false;
}

bool metric_type_parse(const char *s, metric_type *out)
{
    return mset_type_parsen(s, strlen(s), out);
}

/* ---- metric sets ----------------------------------------------------- */

void metric_set_init(metric_set *ms)
{
    memset(ms, 0, sizeof *ms);
}

void metric_set_clear(metric_set *ms)
{
    for (size_t i = 0; i < ms->nmeta; i++) {
        free(ms->meta[i].family);
        free(ms->meta[i].help);
    }
    for (size_t i = 0; i < ms->n; i++)
        labels_free(&ms->samples[i].labels);
    ms->nmeta = ms->n = 0;
}

void metric_set_free(metric_set *ms)
{
    metric_set_clear(ms);
    free(ms->meta);
    free(ms->samples);
    metric_set_init(ms);
}

void mset_index_metas(strmap *ix, const metric_set *ms)
{
    strmap_init(ix);
    /* Sparse: family_of mostly asks for names that are not families. */
    strmap_reserve(ix, 2 * ms->nmeta);
    for (size_t i = 0; i < ms->nmeta; i++) {
        const char *f = ms->meta[i].family;
        size_t flen = strlen(f);
        if (!strmap_get(ix, f, flen, NULL))
            strmap_put(ix, f, flen, i);
    }
}

metric_meta *mset_meta_lookup(const metric_set *ms, const strmap *ix, const char *s, size_t n)
{
    if (ix) {
        uint64_t i;
        return strmap_get(ix, s, n, &i) ? &ms->meta[i] : NULL;
    }
    /* Backwards: the family just declared is the likeliest one. */
    for (size_t i = ms->nmeta; i-- > 0;) {
        const char *f = ms->meta[i].family;
        if (strncmp(f, s, n) == 0 && f[n] == '\0')
            return &ms->meta[i];
    }
    return NULL;
}

metric_meta *mset_meta_append(metric_set *ms, char *family)
{
    EM_GROW(ms->meta, ms->capmeta, ms->nmeta + 1);
    metric_meta *m = &ms->meta[ms->nmeta++];
    m->family = family;
    m->type = METRIC_UNTYPED;
    m->help = NULL;
    return m;
}

static void meta_set_help(metric_meta *m, char *help)
{
    free(m->help);
    m->help = help;
}

/* A NULL help leaves the family's existing help in place. */
void metric_set_meta(metric_set *ms, const char *family, metric_type type, const char *help)
{
    metric_meta *m = mset_meta_lookup(ms, NULL, family, strlen(family));
    if (!m)
        m = mset_meta_append(ms, em_strdup(family));
    m->type = type;
    if (help)
        meta_set_help(m, em_strdup(help));
}

const metric_meta *metric_set_find_meta(const metric_set *ms, const char *family)
{
    return mset_meta_lookup(ms, NULL, family, strlen(family));
}

void mset_sample_push(metric_set *ms, labelset *ls, double value, bool has_ts, int64_t ts_ms)
{
    EM_GROW(ms->samples, ms->cap, ms->n + 1);
    metric_sample *s = &ms->samples[ms->n++];
    s->labels = *ls;
    s->value = value;
    s->has_ts = has_ts;
    s->ts_ms = has_ts ? ts_ms : 0;
    labels_init(ls);
}

void metric_set_add(metric_set *ms, labelset *ls, double value, bool has_ts, int64_t ts_ms)
{
    labels_sort(ls);
    mset_sample_push(ms, ls, value, has_ts, ts_ms);
}

void metric_set_addl(metric_set *ms, const char *name, double value, ...)
{
    labelset ls;
    labels_init(&ls);
    labels_add(&ls, LABEL_METRIC_NAME, name);
    va_list ap;
    va_start(ap, value);
    for (const char *k = va_arg(ap, const char *); k; k = va_arg(ap, const char *))
        labels_add(&ls, k, va_arg(ap, const char *));
    va_end(ap);
    metric_set_add(ms, &ls, value, false, 0);
}

/* Move the metadata of src into dst (type_known: see mset_move). */
static void move_metas(metric_set *dst, metric_set *src, const bool *type_known)
{
    strmap ix = {0};
    /* Pairwise comparison is cheaper for a few families; beyond that, index
     * dst (even when empty: src families are appended to it as we go). */
    bool use_ix = src->nmeta > 8;
    if (use_ix)
        mset_index_metas(&ix, dst);
    for (size_t i = 0; i < src->nmeta; i++) {
        metric_meta *sm = &src->meta[i];
        size_t flen = strlen(sm->family);
        metric_meta *dm = mset_meta_lookup(dst, use_ix ? &ix : NULL, sm->family, flen);
        if (!dm) {
            *mset_meta_append(dst, sm->family) = *sm;
            if (use_ix)
                strmap_put(&ix, sm->family, flen, dst->nmeta - 1);
            continue;
        }
        if (!type_known || type_known[i])
            dm->type = sm->type;
        if (sm->help)
            meta_set_help(dm, sm->help);
        free(sm->family);
    }
    src->nmeta = 0;
    strmap_free(&ix);
}

static void move_samples(metric_set *dst, metric_set *src)
{
    if (src->n == 0)
        return;
    if (dst->n == 0) {
        /* Hand over the whole array instead of copying it. */
        metric_sample *tmp = dst->samples;
        size_t cap = dst->cap;
        dst->samples = src->samples;
        dst->cap = src->cap;
        src->samples = tmp;
        src->cap = cap;
    } else {
        EM_GROW(dst->samples, dst->cap, dst->n + src->n);
        memcpy(dst->samples + dst->n, src->samples, src->n * sizeof(metric_sample));
    }
    dst->n += src->n;
    src->n = 0;
}

void mset_move(metric_set *dst, metric_set *src, const bool *type_known)
{
    move_metas(dst, src, type_known);
    move_samples(dst, src);
}

void metric_set_move(metric_set *dst, metric_set *src)
{
    mset_move(dst, src, NULL);
}

/* The family of a suffixed series: base declared with one of these types. */
static const struct {
    const char *suffix;
    unsigned types; /* bit per metric_type */
} family_suffixes[] = {
    {"_bucket", 1u << METRIC_HISTOGRAM},
    {"_sum", 1u << METRIC_HISTOGRAM | 1u << METRIC_SUMMARY},
    {"_count", 1u << METRIC_HISTOGRAM | 1u << METRIC_SUMMARY},
    {"_total", 1u << METRIC_COUNTER},
};

const char *mset_family_of(const metric_set *ms, const strmap *ix, const char *name)
{
    size_t n = strlen(name);
    if (mset_meta_lookup(ms, ix, name, n))
        return name; /* declared under its own name */
    for (size_t i = 0; i < sizeof family_suffixes / sizeof family_suffixes[0]; i++) {
        size_t sl = strlen(family_suffixes[i].suffix);
        if (n <= sl || memcmp(name + n - sl, family_suffixes[i].suffix, sl) != 0)
            continue;
        const metric_meta *m = mset_meta_lookup(ms, ix, name, n - sl);
        if (m && (family_suffixes[i].types & (1u << m->type)))
            return m->family;
    }
    return name;
}

const char *metric_set_family_of(const metric_set *ms, const char *metric_name)
{
    return mset_family_of(ms, NULL, metric_name);
}
