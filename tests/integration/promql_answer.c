/*
 * promql_answer.c — a small JSON reader (the repository has none: common/
 * only writes JSON) and the comparison of two PromQL API answers
 * (promql_answer.h).  The reader builds a tree of objects, arrays and
 * leaves; numbers and literals stay text, because the API sends sample
 * values as strings and timestamps as numbers that are read once here.
 */
#include "tests/integration/promql_answer.h"

#include "common/fmtfloat.h"
#include "common/json.h"
#include "common/mem.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSON_MAX_DEPTH 64

typedef struct jval {
    char kind;          /* 'o' object, 'a' array, 's' string, 'l' number or literal */
    char *text;         /* 's', 'l' */
    struct jval *items; /* 'o', 'a' */
    char **keys;        /* 'o' */
    size_t n, cap, kcap;
} jval;

typedef struct jreader {
    const char *p;
    bool bad;
} jreader;

static void jfree(jval *v)
{
    for (size_t i = 0; i < v->n; i++) {
        jfree(&v->items[i]);
        if (v->keys)
            free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->text);
}

/* Step over c (after blanks); a different byte, the end included, is bad. */
static void expect(jreader *r, char c)
{
    while (*r->p == ' ' || *r->p == '\n' || *r->p == '\r' || *r->p == '\t')
        r->p++;
    if (*r->p == c && c)
        r->p++;
    else
        r->bad = true;
}

static void skip_ws(jreader *r)
{
    while (*r->p == ' ' || *r->p == '\n' || *r->p == '\r' || *r->p == '\t')
        r->p++;
}

/* A UTF-8 encoding of code point c (\u escapes; surrogate pairs joined). */
static void put_utf8(ebuf *b, unsigned c)
{
    if (c < 0x80) {
        ebuf_putc(b, (char)c);
    } else if (c < 0x800) {
        ebuf_putc(b, (char)(0xc0 | c >> 6));
        ebuf_putc(b, (char)(0x80 | (c & 0x3f)));
    } else if (c < 0x10000) {
        ebuf_putc(b, (char)(0xe0 | c >> 12));
        ebuf_putc(b, (char)(0x80 | (c >> 6 & 0x3f)));
        ebuf_putc(b, (char)(0x80 | (c & 0x3f)));
    } else {
        ebuf_putc(b, (char)(0xf0 | c >> 18));
        ebuf_putc(b, (char)(0x80 | (c >> 12 & 0x3f)));
        ebuf_putc(b, (char)(0x80 | (c >> 6 & 0x3f)));
        ebuf_putc(b, (char)(0x80 | (c & 0x3f)));
    }
}

static unsigned hex4(jreader *r)
{
    unsigned c = 0;
    for (int i = 0; i < 4; i++, r->p++) {
        char h = *r->p;
        int d = h >= '0' && h <= '9'   ? h - '0'
                : h >= 'a' && h <= 'f' ? h - 'a' + 10
                : h >= 'A' && h <= 'F' ? h - 'A' + 10
                                       : -1;
        if (d < 0) {
            r->bad = true;
            return 0;
        }
        c = c * 16 + (unsigned)d;
    }
    return c;
}

static void read_escape(jreader *r, ebuf *b)
{
    char e = *r->p;
    if (!e) {
        r->bad = true;
        return;
    }
    r->p++;
    const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t";
    const char *k = e ? strchr(from, e) : NULL;
    if (k) {
        ebuf_putc(b, to[k - from]);
        return;
    }
    if (e != 'u') {
        r->bad = true;
        return;
    }
    unsigned c = hex4(r);
    if (c >= 0xd800 && c < 0xdc00 && r->p[0] == '\\' && r->p[1] == 'u') {
        r->p += 2;
        c = 0x10000 + ((c - 0xd800) << 10) + (hex4(r) - 0xdc00);
    }
    put_utf8(b, c);
}

/* The string at r->p (after its opening quote). */
static char *read_string(jreader *r)
{
    ebuf b;
    ebuf_init(&b);
    while (!r->bad && *r->p != '"') {
        if (*r->p == 0)
            r->bad = true;
        else if (*r->p == '\\') {
            r->p++;
            read_escape(r, &b);
        } else
            ebuf_putc(&b, *r->p++);
    }
    if (!r->bad)
        r->p++;
    ebuf_putc(&b, 0);
    return ebuf_steal(&b, NULL);
}

static void read_value(jreader *r, jval *v, int depth);

/* Members of an object or elements of an array, up to close. */
static void read_items(jreader *r, jval *v, char close, int depth)
{
    skip_ws(r);
    if (*r->p == close) {
        r->p++;
        return;
    }
    while (!r->bad) {
        EM_GROW(v->items, v->cap, v->n + 1);
        if (v->kind == 'o') {
            EM_GROW(v->keys, v->kcap, v->n + 1);
            expect(r, '"');
            v->keys[v->n] = r->bad ? em_strdup("") : read_string(r);
            expect(r, ':');
        }
        read_value(r, &v->items[v->n++], depth + 1);
        skip_ws(r);
        if (*r->p == close) {
            r->p++;
            return;
        }
        expect(r, ',');
    }
}

static void read_value(jreader *r, jval *v, int depth)
{
    memset(v, 0, sizeof *v);
    skip_ws(r);
    char c = *r->p;
    if (depth > JSON_MAX_DEPTH || c == 0) {
        r->bad = true;
    } else if (c == '{' || c == '[') {
        r->p++;
        v->kind = c == '{' ? 'o' : 'a';
        read_items(r, v, c == '{' ? '}' : ']', depth);
    } else if (c == '"') {
        r->p++;
        v->kind = 's';
        v->text = read_string(r);
    } else {
        size_t n = strspn(r->p, "+-.0123456789eEaflnrstu");
        v->kind = 'l';
        v->text = em_strndup(r->p, n);
        r->p += n;
        r->bad |= n == 0;
    }
}

static const jval *jget(const jval *o, const char *key, char kind)
{
    if (!o || o->kind != 'o')
        return NULL;
    for (size_t i = 0; i < o->n; i++)
        if (strcmp(o->keys[i], key) == 0)
            return o->items[i].kind == kind ? &o->items[i] : NULL;
    return NULL;
}

static int key_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* {a="b",...} with names sorted, values JSON-quoted. */
static char *labels_text(const jval *metric)
{
    ebuf b;
    ebuf_init(&b);
    ebuf_putc(&b, '{');
    size_t n = metric ? metric->n : 0;
    char **names = em_calloc(n + 1, sizeof *names);
    for (size_t i = 0; i < n; i++)
        names[i] = metric->keys[i];
    qsort(names, n, sizeof *names, key_cmp);
    for (size_t i = 0; i < n; i++) {
        const jval *v = jget(metric, names[i], 's');
        ebuf_printf(&b, "%s%s=", i ? "," : "", names[i]);
        json_string(&b, v ? v->text : "");
    }
    ebuf_putc(&b, '}');
    free(names);
    return ebuf_steal(&b, NULL);
}

/* [ts, "v"] into a point of s; false when it is not one. */
static bool add_point(prom_series *s, const jval *pair)
{
    if (!pair || pair->kind != 'a' || pair->n != 2 || pair->items[0].kind != 'l' ||
        pair->items[1].kind != 's')
        return false;
    double t, v;
    const char *ts = pair->items[0].text, *vs = pair->items[1].text;
    if (!parse_float(ts, strlen(ts), &t) || !parse_float(vs, strlen(vs), &v))
        return false;
    EM_GROW(s->pts, s->cap, s->n + 1);
    s->pts[s->n++] = (prom_point){llround(t * 1000), v};
    return true;
}

static prom_series *add_series(prom_answer *a, char *labels)
{
    EM_GROW(a->series, a->cap, a->n + 1);
    prom_series *s = &a->series[a->n++];
    memset(s, 0, sizeof *s);
    s->labels = labels;
    return s;
}

/* data.result of a successful answer; false when its shape is wrong. */
static bool read_result(prom_answer *a, const jval *result)
{
    if (!strcmp(a->result_type, "scalar"))
        return add_point(add_series(a, em_strdup("")), result);
    if (!strcmp(a->result_type, "string")) {
        if (!result || result->kind != 'a' || result->n != 2 || result->items[1].kind != 's')
            return false;
        a->string = em_strdup(result->items[1].text);
        return true;
    }
    if (!result || result->kind != 'a')
        return false;
    bool vector = !strcmp(a->result_type, "vector");
    for (size_t i = 0; i < result->n; i++) {
        const jval *e = &result->items[i];
        prom_series *s = add_series(a, labels_text(jget(e, "metric", 'o')));
        if (vector) {
            if (!add_point(s, jget(e, "value", 'a')))
                return false;
            continue;
        }
        const jval *values = jget(e, "values", 'a');
        for (size_t k = 0; values && k < values->n; k++)
            if (!add_point(s, &values->items[k]))
                return false;
    }
    return true;
}

static void set_error(prom_answer *a, const char *type, const char *msg)
{
    free(a->error_type);
    free(a->error);
    a->ok = false;
    a->error_type = em_strdup(type);
    a->error = em_strndup(msg, strnlen(msg, 300));
}

void prom_answer_parse(prom_answer *a, long http_status, const char *body)
{
    memset(a, 0, sizeof *a);
    a->http_status = http_status;
    jreader r = {.p = body ? body : ""};
    jval root;
    read_value(&r, &root, 0);
    const jval *status = jget(&root, "status", 's');
    const jval *data = jget(&root, "data", 'o');
    const jval *rtype = jget(data, "resultType", 's');
    if (r.bad || !status) {
        /* Where reading stopped shows a cut or malformed answer. */
        char msg[400];
        size_t at = (size_t)(r.p - (body ? body : "")), len = body ? strlen(body) : 0;
        snprintf(msg, sizeof msg, "%zu bytes, unreadable at byte %zu: ...%.120s", len, at,
                 body && at > 60 ? body + at - 60
                 : body          ? body
                                 : "(no answer)");
        set_error(a, "(no JSON)", msg);
    } else if (strcmp(status->text, "success") != 0) {
        const jval *t = jget(&root, "errorType", 's'), *e = jget(&root, "error", 's');
        set_error(a, t ? t->text : "(none)", e ? e->text : "");
    } else if (!rtype) {
        set_error(a, "(no resultType)", body);
    } else {
        a->ok = true;
        a->result_type = em_strdup(rtype->text);
        if (!read_result(a, jget(data, "result", 'a')))
            set_error(a, "(bad result)", body);
    }
    jfree(&root);
}

void prom_answer_free(prom_answer *a)
{
    for (size_t i = 0; i < a->n; i++) {
        free(a->series[i].labels);
        free(a->series[i].pts);
    }
    free(a->series);
    free(a->error_type);
    free(a->error);
    free(a->result_type);
    free(a->string);
    memset(a, 0, sizeof *a);
}

bool prom_answer_has_data(const prom_answer *a)
{
    for (size_t i = 0; a->ok && i < a->n; i++)
        if (a->series[i].n)
            return true;
    return a->ok && a->string != NULL;
}

/* The comparison: differences go to out, the first max_lines of them. */
/* A point only one side has (ties mode keeps them to pair up later). */
typedef struct lone_point {
    const char *labels;
    prom_point p;
    bool prom; /* Prometheus's (else ember's) */
    bool paired;
} lone_point;

typedef struct differ {
    ebuf *out;
    size_t count, max_lines;
    bool ties; /* topk/bottomk: a tie may pick another series */
    lone_point *lone;
    size_t nlone, caplone;
} differ;

static void report(differ *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void report(differ *d, const char *fmt, ...)
{
    if (d->count++ >= d->max_lines)
        return;
    va_list ap;
    va_start(ap, fmt);
    ebuf_puts(d->out, "    ");
    ebuf_vprintf(d->out, fmt, ap);
    ebuf_putc(d->out, '\n');
    va_end(ap);
}

static bool same_value(double a, double b)
{
    if (isnan(a) || isnan(b))
        return isnan(a) && isnan(b);
    return a == b || fabs(a - b) <= 1e-9 * fmax(fabs(a), fabs(b));
}

static const char *num(char *buf, double v)
{
    fmt_float_text(buf, v);
    return buf;
}

/* A point of one series only: reported, or kept for pairing with an
 * equal-valued point of another series at the same time (a tie). */
static void lone(differ *d, const char *labels, const prom_point *p, bool prom)
{
    char a[FMT_FLOAT_MAX];
    if (!d->ties) {
        if (prom)
            report(d, "%s @%.3f: prometheus %s, ember has no point", labels, p->t_ms / 1e3,
                   num(a, p->v));
        else
            report(d, "%s @%.3f: ember %s, prometheus has no point", labels, p->t_ms / 1e3,
                   num(a, p->v));
        return;
    }
    EM_GROW(d->lone, d->caplone, d->nlone + 1);
    d->lone[d->nlone++] = (lone_point){labels, *p, prom, false};
}

/* Pair Prometheus's lone points with ember's of the same time and value;
 * report the rest. */
static void report_lone(differ *d)
{
    for (size_t i = 0; i < d->nlone; i++)
        for (size_t j = 0; j < d->nlone && d->lone[i].prom && !d->lone[i].paired; j++) {
            lone_point *a = &d->lone[i], *b = &d->lone[j];
            if (!b->prom && !b->paired && a->p.t_ms == b->p.t_ms && same_value(a->p.v, b->p.v))
                a->paired = b->paired = true;
        }
    d->ties = false;
    for (size_t i = 0; i < d->nlone; i++)
        if (!d->lone[i].paired)
            lone(d, d->lone[i].labels, &d->lone[i].p, d->lone[i].prom);
    free(d->lone);
}

static void diff_points(differ *d, const prom_series *w, const prom_series *g)
{
    char a[FMT_FLOAT_MAX], b[FMT_FLOAT_MAX];
    size_t i = 0, j = 0;
    while (i < w->n || j < g->n) {
        const prom_point *p = i < w->n ? &w->pts[i] : NULL, *q = j < g->n ? &g->pts[j] : NULL;
        if (p && (!q || p->t_ms < q->t_ms)) {
            lone(d, w->labels, p, true);
            i++;
        } else if (!p || q->t_ms < p->t_ms) {
            lone(d, g->labels, q, false);
            j++;
        } else {
            if (!same_value(p->v, q->v))
                report(d, "%s @%.3f: prometheus %s, ember %s", w->labels, p->t_ms / 1e3,
                       num(a, p->v), num(b, q->v));
            i++, j++;
        }
    }
}

static int series_cmp(const void *a, const void *b)
{
    return strcmp((*(const prom_series *const *)a)->labels,
                  (*(const prom_series *const *)b)->labels);
}

static const prom_series **sorted(const prom_answer *a)
{
    const prom_series **v = em_calloc(a->n + 1, sizeof *v);
    for (size_t i = 0; i < a->n; i++)
        v[i] = &a->series[i];
    qsort(v, a->n, sizeof *v, series_cmp);
    return v;
}

/* The label sets as sets; the points of the series both have. */
static void diff_series(differ *d, const prom_answer *want, const prom_answer *got)
{
    const prom_series **w = sorted(want), **g = sorted(got);
    size_t i = 0, j = 0;
    while (i < want->n || j < got->n) {
        int c = i >= want->n ? 1 : j >= got->n ? -1 : strcmp(w[i]->labels, g[j]->labels);
        if (c < 0 && d->ties) {
            diff_points(d, w[i], &(prom_series){.labels = w[i]->labels});
            i++;
        } else if (c > 0 && d->ties) {
            diff_points(d, &(prom_series){.labels = g[j]->labels}, g[j]);
            j++;
        } else if (c < 0) {
            report(d, "%s: only prometheus has it (%zu points)", w[i]->labels, w[i]->n);
            i++;
        } else if (c > 0) {
            report(d, "%s: only ember has it (%zu points)", g[j]->labels, g[j]->n);
            j++;
        } else {
            diff_points(d, w[i], g[j]);
            i++, j++;
        }
    }
    free(w);
    free(g);
}

/* Position by position: the values of an ordered instant vector. */
static void diff_order(differ *d, const prom_answer *want, const prom_answer *got)
{
    char a[FMT_FLOAT_MAX], b[FMT_FLOAT_MAX];
    for (size_t i = 0; i < want->n && i < got->n; i++) {
        const prom_series *w = &want->series[i], *g = &got->series[i];
        if (w->n && g->n && !same_value(w->pts[0].v, g->pts[0].v))
            report(d, "order, position %zu: prometheus %s %s, ember %s %s", i, w->labels,
                   num(a, w->pts[0].v), g->labels, num(b, g->pts[0].v));
    }
}

static void describe(ebuf *b, const prom_answer *a)
{
    if (a->ok)
        ebuf_printf(b, "%s with %zu series", a->result_type, a->n);
    else
        ebuf_printf(b, "HTTP %ld %s: %s", a->http_status, a->error_type, a->error);
}

size_t prom_answer_diff(const prom_answer *want, const prom_answer *got, unsigned how,
                        size_t max_lines, ebuf *diff)
{
    differ d = {.out = diff, .max_lines = max_lines, .ties = how & PROM_DIFF_TIES};
    bool ordered = how & PROM_DIFF_ORDERED;
    if (want->ok != got->ok || (!want->ok && strcmp(want->error_type, got->error_type) != 0) ||
        (want->ok && strcmp(want->result_type, got->result_type) != 0) ||
        want->http_status != got->http_status) {
        ebuf p, e;
        ebuf_init(&p);
        ebuf_init(&e);
        describe(&p, want);
        describe(&e, got);
        report(&d, "prometheus: %s", p.data);
        report(&d, "ember:      %s", e.data);
        ebuf_free(&p);
        ebuf_free(&e);
        return d.count;
    }
    if (!want->ok)
        return 0;
    if (want->string || got->string) {
        if (!want->string || !got->string || strcmp(want->string, got->string) != 0)
            report(&d, "string: prometheus \"%s\", ember \"%s\"", want->string ? want->string : "",
                   got->string ? got->string : "");
        return d.count;
    }
    if (ordered)
        diff_order(&d, want, got);
    diff_series(&d, want, got);
    report_lone(&d);
    if (d.count > d.max_lines)
        ebuf_printf(diff, "    ... %zu more differences\n", d.count - d.max_lines);
    return d.count;
}
