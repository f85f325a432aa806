/*
 * index.c — postings and label values in memory (see index.h).
 *
 * Set operations work on sorted id arrays: intersection and difference are
 * linear merges; a union (of the values a regex matched) is a concatenation
 * sorted once.
 */
#include "aggregator/tsdb/index.h"

#include "common/mem.h"

#include <stdlib.h>
#include <string.h>

void id_list_free(id_list *l)
{
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

void id_list_push(id_list *l, uint64_t id)
{
    EM_GROW(l->v, l->cap, l->n + 1);
    l->v[l->n++] = id;
}

void index_init(series_index *ix)
{
    memset(ix, 0, sizeof *ix);
    strmap_init(&ix->pair);
    strmap_init(&ix->name_map);
}

void index_free(series_index *ix)
{
    for (size_t i = 0; i < ix->npl; i++) {
        free(ix->plist[i].name);
        free(ix->plist[i].value);
        id_list_free(&ix->plist[i].ids);
    }
    for (size_t i = 0; i < ix->nnames; i++) {
        free(ix->names[i].name);
        free(ix->names[i].values);
    }
    free(ix->plist);
    free(ix->names);
    strmap_free(&ix->pair);
    strmap_free(&ix->name_map);
}

void labels_key(ebuf *out, const labelset *ls)
{
    for (size_t i = 0; i < ls->n; i++) {
        ebuf_append(out, ls->v[i].name, strlen(ls->v[i].name) + 1);
        ebuf_append(out, ls->v[i].value, strlen(ls->v[i].value) + 1);
    }
}

void labels_from_key(const char *p, size_t len, labelset *out)
{
    const char *end = p + len;
    while (p < end) {
        const char *name = p;
        size_t nl = strnlen(p, (size_t)(end - p));
        p += nl + 1;
        if (p >= end)
            break;
        const char *value = p;
        size_t vl = strnlen(p, (size_t)(end - p));
        p += vl + 1;
        labels_addn(out, name, nl, value, vl);
    }
}

static label_name *name_entry(series_index *ix, const char *name)
{
    uint64_t i;
    if (!strmap_get(&ix->name_map, name, strlen(name), &i)) {
        EM_GROW(ix->names, ix->capnames, ix->nnames + 1);
        i = ix->nnames++;
        memset(&ix->names[i], 0, sizeof(label_name));
        ix->names[i].name = em_strdup(name);
        strmap_put(&ix->name_map, name, strlen(name), i);
    }
    return &ix->names[i];
}

static postings *pair_entry(series_index *ix, const char *name, const char *value)
{
    ebuf k;
    ebuf_init(&k);
    ebuf_append(&k, name, strlen(name) + 1);
    ebuf_puts(&k, value);
    uint64_t i;
    if (!strmap_get(&ix->pair, k.data, k.len, &i)) {
        EM_GROW(ix->plist, ix->cappl, ix->npl + 1);
        i = ix->npl++;
        memset(&ix->plist[i], 0, sizeof(postings));
        ix->plist[i].name = em_strdup(name);
        ix->plist[i].value = em_strdup(value);
        strmap_put(&ix->pair, k.data, k.len, i);
        label_name *ln = name_entry(ix, name);
        EM_GROW(ln->values, ln->cap, ln->n + 1);
        ln->values[ln->n++] = (uint32_t)i;
    }
    ebuf_free(&k);
    return &ix->plist[i];
}

void index_add(series_index *ix, uint64_t id, const labelset *ls)
{
    for (size_t i = 0; i < ls->n; i++) {
        postings *p = pair_entry(ix, ls->v[i].name, ls->v[i].value);
        if (p->ids.n == 0 || p->ids.v[p->ids.n - 1] < id)
            id_list_push(&p->ids, id);
    }
    ix->nseries++;
}

static const postings *find_pair(const series_index *ix, const char *name, const char *value)
{
    ebuf k;
    ebuf_init(&k);
    ebuf_append(&k, name, strlen(name) + 1);
    ebuf_puts(&k, value);
    uint64_t i;
    bool ok = strmap_get(&ix->pair, k.data, k.len, &i);
    ebuf_free(&k);
    return ok ? &ix->plist[i] : NULL;
}

size_t index_postings_len(const series_index *ix, const char *name, const char *value)
{
    const postings *p = find_pair(ix, name, value);
    return p ? p->ids.n : 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Union of the postings of name's values v with matcher_matches(m, v) == want. */
static void union_values(const series_index *ix, const label_matcher *m, bool want, id_list *out)
{
    out->n = 0;
    if (m->type == MATCH_EQ && want) { /* the common case: one lookup */
        const postings *p = find_pair(ix, m->name, m->value);
        for (size_t i = 0; p && i < p->ids.n; i++)
            id_list_push(out, p->ids.v[i]);
        return;
    }
    uint64_t ni;
    if (!strmap_get(&ix->name_map, m->name, strlen(m->name), &ni))
        return;
    const label_name *ln = &ix->names[ni];
    size_t lists = 0;
    for (size_t i = 0; i < ln->n; i++) {
        const postings *p = &ix->plist[ln->values[i]];
        if (matcher_matches(m, p->value) != want)
            continue;
        for (size_t j = 0; j < p->ids.n; j++)
            id_list_push(out, p->ids.v[j]);
        lists++;
    }
    if (lists > 1) { /* a series has one value per name: no duplicates */
        qsort(out->v, out->n, sizeof(uint64_t), cmp_u64);
    }
}

static void intersect(id_list *acc, const id_list *b)
{
    size_t i = 0, j = 0, k = 0;
    while (i < acc->n && j < b->n) {
        if (acc->v[i] < b->v[j])
            i++;
        else if (acc->v[i] > b->v[j])
            j++;
        else
            acc->v[k++] = acc->v[i++], j++;
    }
    acc->n = k;
}

static void subtract(id_list *acc, const id_list *b)
{
    size_t i = 0, j = 0, k = 0;
    while (i < acc->n) {
        while (j < b->n && b->v[j] < acc->v[i])
            j++;
        if (j < b->n && b->v[j] == acc->v[i])
            i++;
        else
            acc->v[k++] = acc->v[i++];
    }
    acc->n = k;
}

void index_select(const series_index *ix, const label_matcher *ms, size_t nms, uint64_t max_id,
                  id_list *out)
{
    id_list tmp = {0};
    bool started = false;
    out->n = 0;
    /* Positive matchers (not matching "") first: they bound the result. */
    for (size_t i = 0; i < nms; i++) {
        if (matcher_matches(&ms[i], ""))
            continue;
        union_values(ix, &ms[i], true, &tmp);
        if (!started) {
            for (size_t j = 0; j < tmp.n; j++)
                id_list_push(out, tmp.v[j]);
            started = true;
        } else {
            intersect(out, &tmp);
        }
        if (out->n == 0)
            goto done;
    }
    if (!started) /* only negative matchers: start from every series */
        for (uint64_t id = 1; id < max_id; id++)
            id_list_push(out, id);
    for (size_t i = 0; i < nms && out->n; i++) {
        if (!matcher_matches(&ms[i], ""))
            continue;
        union_values(ix, &ms[i], false, &tmp);
        subtract(out, &tmp);
    }
done:
    id_list_free(&tmp);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void index_label_names(const series_index *ix, const char ***out, size_t *n)
{
    *out = em_calloc(ix->nnames + 1, sizeof(char *));
    *n = 0;
    for (size_t i = 0; i < ix->nnames; i++)
        (*out)[(*n)++] = ix->names[i].name;
    qsort(*out, *n, sizeof(char *), cmp_str);
}

void index_label_values(const series_index *ix, const char *name, const char ***out, size_t *n)
{
    uint64_t ni;
    *n = 0;
    if (!strmap_get(&ix->name_map, name, strlen(name), &ni)) {
        *out = em_calloc(1, sizeof(char *));
        return;
    }
    const label_name *ln = &ix->names[ni];
    *out = em_calloc(ln->n + 1, sizeof(char *));
    for (size_t i = 0; i < ln->n; i++)
        (*out)[(*n)++] = ix->plist[ln->values[i]].value;
    qsort(*out, *n, sizeof(char *), cmp_str);
}
