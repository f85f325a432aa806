/*
 * expfmt.c — libFuzzer target for the text exposition parser and writer.
 *
 * Properties checked on every input (abort() on a violation):
 *  - a failed parse leaves the output set empty and names a real position;
 *  - what parses, written out, parses again to the same samples (compared
 *    as multisets: the writer groups samples by family, which may reorder
 *    them);
 *  - tighter limits only ever turn a success into a failure.
 */
#include "common/expfmt.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int sample_cmp(const void *a, const void *b)
{
    const metric_sample *x = *(const metric_sample *const *)a;
    const metric_sample *y = *(const metric_sample *const *)b;
    int c = labels_compare(&x->labels, &y->labels);
    if (c)
        return c;
    if (x->ts_ms != y->ts_ms)
        return x->ts_ms < y->ts_ms ? -1 : 1;
    /* NaN and zero compare equal to themselves here: order by class. */
    double vx = isnan(x->value) ? INFINITY : x->value, vy = isnan(y->value) ? INFINITY : y->value;
    return (vx > vy) - (vx < vy);
}

static const metric_sample **sorted_samples(const metric_set *ms)
{
    const metric_sample **v = malloc((ms->n ? ms->n : 1) * sizeof *v);
    if (!v)
        abort();
    for (size_t i = 0; i < ms->n; i++)
        v[i] = &ms->samples[i];
    qsort(v, ms->n, sizeof *v, sample_cmp);
    return v;
}

static bool same_sample(const metric_sample *x, const metric_sample *y)
{
    bool same_value = x->value == y->value || (isnan(x->value) && isnan(y->value));
    return labels_equal(&x->labels, &y->labels) && same_value && x->has_ts == y->has_ts &&
           x->ts_ms == y->ts_ms;
}

static void check_same_samples(const metric_set *a, const metric_set *b)
{
    if (a->n != b->n)
        abort();
    const metric_sample **x = sorted_samples(a), **y = sorted_samples(b);
    for (size_t i = 0; i < a->n; i++)
        if (!same_sample(x[i], y[i]))
            abort();
    free(x);
    free(y);
}

static void check_round_trip(const metric_set *ms)
{
    ebuf text;
    ebuf_init(&text);
    expfmt_write(&text, ms);
    metric_set back;
    expfmt_error err;
    metric_set_init(&back);
    if (expfmt_parse(text.data, text.len, NULL, &back, &err) != 0)
        abort();
    check_same_samples(ms, &back);
    for (size_t i = 0; i < ms->nmeta; i++) {
        const metric_meta *m = metric_set_find_meta(&back, ms->meta[i].family);
        if (!m || m->type != ms->meta[i].type)
            abort();
    }
    metric_set_free(&back);
    ebuf_free(&text);
}

static void check_error(const metric_set *ms, const expfmt_error *err, const uint8_t *data,
                        size_t size)
{
    size_t lines = 1;
    for (size_t i = 0; i < size; i++)
        lines += data[i] == '\n';
    if (ms->n || ms->nmeta || err->line < 1 || err->line > lines || err->col < 1 || !err->msg[0])
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    metric_set ms, tight;
    expfmt_error err;
    metric_set_init(&ms);
    metric_set_init(&tight);
    int rc = expfmt_parse(text, size, NULL, &ms, &err);
    if (rc == 0)
        check_round_trip(&ms);
    else
        check_error(&ms, &err, data, size);

    expfmt_limits lim = {.max_line_len = 64, .max_labels = 2};
    int rc_tight = expfmt_parse(text, size, &lim, &tight, &err);
    if (rc_tight == 0 && (rc != 0 || tight.n != ms.n))
        abort();
    if (rc_tight != 0)
        check_error(&tight, &err, data, size);
    metric_set_free(&tight);
    metric_set_free(&ms);
    return 0;
}
