/* labels.c — label sets: canonical order, hash, compare, validation, format. */
#include "common/labels.h"

#include "common/hash.h"
#include "common/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

void labels_init(labelset *ls)
{
    ls->v = NULL;
    ls->n = ls->cap = 0;
}

void labels_clear(labelset *ls)
{
    for (size_t i = 0; i < ls->n; i++) {
        free(ls->v[i].name);
        free(ls->v[i].value);
    }
    ls->n = 0;
}

void labels_free(labelset *ls)
{
    labels_clear(ls);
    free(ls->v);
    labels_init(ls);
}

void labels_copy(labelset *dst, const labelset *src)
{
    labels_init(dst);
    EM_GROW(dst->v, dst->cap, src->n);
    for (size_t i = 0; i < src->n; i++) {
        dst->v[i].name = em_strdup(src->v[i].name);
        dst->v[i].value = em_strdup(src->v[i].value);
    }
    dst->n = src->n;
}

void labels_addn(labelset *ls, const char *name, size_t nlen, const char *value, size_t vlen)
{
    EM_GROW(ls->v, ls->cap, ls->n + 1);
    ls->v[ls->n].name = em_strndup(name, nlen);
    ls->v[ls->n].value = em_strndup(value, vlen);
    ls->n++;
}

void labels_add(labelset *ls, const char *name, const char *value)
{
    labels_addn(ls, name, strlen(name), value, strlen(value));
}

static ssize_t labels_index(const labelset *ls, const char *name)
{
    for (size_t i = 0; i < ls->n; i++)
        if (strcmp(ls->v[i].name, name) == 0)
            return (ssize_t)i;
    return -1;
}

const char *labels_get(const labelset *ls, const char *name)
{
    ssize_t i = labels_index(ls, name);
    return i < 0 ? NULL : ls->v[i].value;
}

const char *labels_metric_name(const labelset *ls)
{
    return labels_get(ls, LABEL_METRIC_NAME);
}

void labels_set(labelset *ls, const char *name, const char *value)
{
    ssize_t i = labels_index(ls, name);
    if (i >= 0) {
        free(ls->v[i].value);
        ls->v[i].value = em_strdup(value);
        return;
    }
    /* Insert at its sorted position so a sorted set stays sorted. */
    size_t pos = ls->n;
    while (pos > 0 && strcmp(ls->v[pos - 1].name, name) > 0)
        pos--;
    EM_GROW(ls->v, ls->cap, ls->n + 1);
    memmove(&ls->v[pos + 1], &ls->v[pos], (ls->n - pos) * sizeof(label));
    ls->v[pos].name = em_strdup(name);
    ls->v[pos].value = em_strdup(value);
    ls->n++;
}

bool labels_del(labelset *ls, const char *name)
{
    ssize_t i = labels_index(ls, name);
    if (i < 0)
        return false;
    free(ls->v[i].name);
    free(ls->v[i].value);
    memmove(&ls->v[i], &ls->v[i + 1], (ls->n - (size_t)i - 1) * sizeof(label));
    ls->n--;
    return true;
}

static int label_cmp(const void *a, const void *b)
{
    const label *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->value, y->value);
}

void labels_sort(labelset *ls)
{
    if (ls->n > 1)
        qsort(ls->v, ls->n, sizeof(label), label_cmp);
}

const char *labels_find_dup(const labelset *ls)
{
    for (size_t i = 1; i < ls->n; i++)
        if (strcmp(ls->v[i - 1].name, ls->v[i].name) == 0)
            return ls->v[i].name;
    return NULL;
}

uint64_t labels_hash(const labelset *ls)
{
    /* A 0xff separator cannot occur in valid UTF-8, so ("a","bc") and
     * ("ab","c") hash differently, as in Prometheus's labels.Hash. */
    static const unsigned char sep = 0xff;
    uint64_t h = HASH_SEED;
    for (size_t i = 0; i < ls->n; i++) {
        h = hash_bytes(h, ls->v[i].name, strlen(ls->v[i].name));
        h = hash_bytes(h, &sep, 1);
        h = hash_bytes(h, ls->v[i].value, strlen(ls->v[i].value));
        h = hash_bytes(h, &sep, 1);
    }
    return hash_finish(h);
}

int labels_compare(const labelset *a, const labelset *b)
{
    size_t n = a->n < b->n ? a->n : b->n;
    for (size_t i = 0; i < n; i++) {
        int c = strcmp(a->v[i].name, b->v[i].name);
        if (c)
            return c;
        c = strcmp(a->v[i].value, b->v[i].value);
        if (c)
            return c;
    }
    return (a->n > b->n) - (a->n < b->n);
}

bool labels_equal(const labelset *a, const labelset *b)
{
    return a->n == b->n && labels_compare(a, b) == 0;
}

static bool is_alpha_(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

bool label_name_valid(const char *s, size_t n)
{
    if (n == 0 || !is_alpha_(s[0]))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!is_alpha_(s[i]) && !is_digit(s[i]))
            return false;
    return true;
}

bool metric_name_valid(const char *s, size_t n)
{
    if (n == 0 || !(is_alpha_(s[0]) || s[0] == ':'))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!is_alpha_(s[i]) && !is_digit(s[i]) && s[i] != ':')
            return false;
    return true;
}

bool utf8_valid(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        size_t len;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            len = 2;
            cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            len = 3;
            cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            len = 4;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (i + len > n)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        /* Reject overlong forms, surrogates and values past U+10FFFF. */
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
            (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
            return false;
        i += len;
    }
    return true;
}

bool labels_validate(labelset *ls, char *err, size_t errlen)
{
    labels_sort(ls);
    for (size_t i = 0; i < ls->n; i++) {
        const label *l = &ls->v[i];
        bool is_name = strcmp(l->name, LABEL_METRIC_NAME) == 0;
        if (!label_name_valid(l->name, strlen(l->name))) {
            snprintf(err, errlen, "invalid label name \"%s\"", l->name);
            return false;
        }
        if (is_name && !metric_name_valid(l->value, strlen(l->value))) {
            snprintf(err, errlen, "invalid metric name \"%s\"", l->value);
            return false;
        }
        if (!utf8_valid(l->value, strlen(l->value))) {
            snprintf(err, errlen, "invalid UTF-8 in value of label \"%s\"", l->name);
            return false;
        }
    }
    const char *dup = labels_find_dup(ls);
    if (dup) {
        snprintf(err, errlen, "duplicate label name \"%s\"", dup);
        return false;
    }
    return true;
}

void labels_escape_value(ebuf *out, const char *v)
{
    for (; *v; v++) {
        switch (*v) {
        case '\\': ebuf_puts(out, "\\\\"); break;
        case '"': ebuf_puts(out, "\\\""); break;
        case '\n': ebuf_puts(out, "\\n"); break;
        default: ebuf_putc(out, *v);
        }
    }
}

void labels_format(ebuf *out, const labelset *ls)
{
    const char *name = labels_metric_name(ls);
    if (name)
        ebuf_puts(out, name);
    ebuf_putc(out, '{');
    bool first = true;
    for (size_t i = 0; i < ls->n; i++) {
        if (strcmp(ls->v[i].name, LABEL_METRIC_NAME) == 0)
            continue;
        if (!first)
            ebuf_puts(out, ", ");
        first = false;
        ebuf_puts(out, ls->v[i].name);
        ebuf_puts(out, "=\"");
        labels_escape_value(out, ls->v[i].value);
        ebuf_putc(out, '"');
    }
    ebuf_putc(out, '}');
}
