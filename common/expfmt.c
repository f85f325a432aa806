/*
 * expfmt.c — the Prometheus text exposition format 0.0.4 writer:
 * expfmt_write and its pieces (see expfmt.h).  Metric sets live in
 * metricset.c, the parser in expfmt_parse.c.
 *
 * The writer prints what prometheus/common's text encoder would: samples
 * grouped by family, "# HELP" only when there is help, "# TYPE" only for
 * families with metadata, labels in name order with no blanks, values in
 * Go's 'g' form except that any zero, -0 included, is "0".  One thing does
 * not survive the trip: a HELP text of only blanks reads back empty.
 */
#include "common/metricset_internal.h"

#include "common/fmtfloat.h"
#include "common/mem.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void write_help_text(ebuf *out, const char *s)
{
    for (const char *run = s;; s++) {
        if (*s && *s != '\\' && *s != '\n')
            continue;
        ebuf_append(out, run, (size_t)(s - run));
        if (!*s)
            return;
        ebuf_puts(out, *s == '\\' ? "\\\\" : "\\n");
        run = s + 1;
    }
}

void expfmt_write_header(ebuf *out, const char *family, metric_type type, const char *help)
{
    if (help) {
        ebuf_printf(out, "# HELP %s ", family);
        write_help_text(out, help);
        ebuf_putc(out, '\n');
    }
    ebuf_printf(out, "# TYPE %s %s\n", family, metric_type_name(type));
}

static int label_ptr_cmp(const void *a, const void *b)
{
    return strcmp((*(const label *const *)a)->name, (*(const label *const *)b)->name);
}

/* {a="1",b="2"} in name order without __name__; nothing if no labels. */
static void write_labels(ebuf *out, const labelset *ls)
{
    const label *small[16];
    const label **v = ls->n <= 16 ? small : em_malloc(ls->n * sizeof *v);
    size_t n = 0;
    bool sorted = true;
    for (size_t i = 0; i < ls->n; i++) {
        if (strcmp(ls->v[i].name, LABEL_METRIC_NAME) == 0)
            continue;
        if (n > 0 && strcmp(v[n - 1]->name, ls->v[i].name) > 0)
            sorted = false;
        v[n++] = &ls->v[i];
    }
    if (!sorted)
        qsort(v, n, sizeof *v, label_ptr_cmp);
    for (size_t i = 0; i < n; i++) {
        ebuf_putc(out, i == 0 ? '{' : ',');
        ebuf_puts(out, v[i]->name);
        ebuf_puts(out, "=\"");
        labels_escape_value(out, v[i]->value);
        ebuf_putc(out, '"');
    }
    if (n > 0)
        ebuf_putc(out, '}');
    if (v != small)
        free(v);
}

void expfmt_write_sample(ebuf *out, const labelset *ls, double value, bool has_ts, int64_t ts_ms)
{
    const char *name = labels_metric_name(ls);
    char num[FMT_FLOAT_MAX];
    if (name)
        ebuf_puts(out, name);
    write_labels(out, ls);
    ebuf_putc(out, ' ');
    /* prometheus/common's writeFloat prints any zero, -0 included, as "0". */
    if (value == 0)
        ebuf_putc(out, '0');
    else
        ebuf_append(out, num, fmt_float_text(num, value));
    if (has_ts)
        ebuf_printf(out, " %lld", (long long)ts_ms);
    ebuf_putc(out, '\n');
}

/* Samples grouped by family, each group a chain of sample indices. */
typedef struct group {
    const char *family;
    size_t head, tail;
} group;

typedef struct groups {
    strmap ix; /* family -> index in g */
    group *g;
    size_t n, cap;
    size_t *next; /* per sample: the next one of its group, or SIZE_MAX */
} groups;

static void group_sample(groups *gs, const char *family, size_t sample)
{
    size_t flen = strlen(family);
    uint64_t gi;
    gs->next[sample] = SIZE_MAX;
    if (strmap_get(&gs->ix, family, flen, &gi)) {
        gs->next[gs->g[gi].tail] = sample;
        gs->g[gi].tail = sample;
        return;
    }
    EM_GROW(gs->g, gs->cap, gs->n + 1);
    gs->g[gs->n] = (group){family, sample, sample};
    strmap_put(&gs->ix, family, flen, gs->n++);
}

static void write_family_header(ebuf *out, const metric_set *ms, const strmap *mix,
                                const char *family)
{
    const metric_meta *m = mset_meta_lookup(ms, mix, family, strlen(family));
    if (m)
        expfmt_write_header(out, m->family, m->type, m->help);
}

void expfmt_write(ebuf *out, const metric_set *ms)
{
    strmap mix;
    mset_index_metas(&mix, ms);
    groups gs = {.next = em_malloc((ms->n ? ms->n : 1) * sizeof(size_t))};
    strmap_init(&gs.ix);
    for (size_t i = 0; i < ms->n; i++) {
        const char *name = labels_metric_name(&ms->samples[i].labels);
        group_sample(&gs, mset_family_of(ms, &mix, name ? name : ""), i);
    }
    for (size_t gi = 0; gi < gs.n; gi++) {
        write_family_header(out, ms, &mix, gs.g[gi].family);
        for (size_t i = gs.g[gi].head; i != SIZE_MAX; i = gs.next[i]) {
            const metric_sample *s = &ms->samples[i];
            expfmt_write_sample(out, &s->labels, s->value, s->has_ts, s->ts_ms);
        }
    }
    /* Families declared without samples still carry their metadata. */
    for (size_t i = 0; i < ms->nmeta; i++) {
        const metric_meta *m = &ms->meta[i];
        if (!strmap_get(&gs.ix, m->family, strlen(m->family), NULL))
            expfmt_write_header(out, m->family, m->type, m->help);
    }
    strmap_free(&mix);
    strmap_free(&gs.ix);
    free(gs.g);
    free(gs.next);
}
