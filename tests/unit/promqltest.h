/*
 * promqltest.h — a small interpreter of PromQL test scripts in the format
 * of Prometheus's promql/testdata (load / eval / eval_fail / eval_ordered /
 * clear), run against the real store (aggregator/tsdb on disk) through the
 * engine.  Header-only, for the engine's unit tests.
 *
 *   load 1m
 *       foo{a="1"} 0+10x5 _ stale 7
 *   eval instant at 2m foo * 2
 *       {a="1"} 40
 *   eval range from 0 to 3m step 1m rate(foo[2m])
 *       {a="1"} _ 0.166666 ...
 *   eval_fail instant at 0 foo + on() group_left foo
 *       execution
 *
 * Times are durations from the Unix epoch ("5m", "0", "1h30m"); series
 * values: a number, NaN, Inf, -Inf, stale, _ (no sample), a+bxn / a-bxn
 * (n + 1 samples stepping by b), axn (n + 1 copies of a), _xn (n gaps).
 * Expected results: one line per series, "{labels} value(s)" or for a
 * scalar just the value; values equal within 1e-9 relative, NaN == NaN.
 */
#ifndef EMBER_TESTS_PROMQLTEST_H
#define EMBER_TESTS_PROMQLTEST_H

#include "aggregator/tsdb/tsdb.h"
#include "common/fsutil.h"
#include "query/engine.h"
#include "query/lexer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct promqltest {
    char dir[256];
    tsdb *db;
    int failures;
    int evals;
    const char *script_name;
    int line;
} promqltest;

static void pt_open(promqltest *t)
{
    if (t->db)
        tsdb_close(t->db);
    snprintf(t->dir, sizeof t->dir, "/tmp/ember-promqltest-XXXXXX");
    if (!mkdtemp(t->dir))
        abort();
    tsdb_options o = {.sync = false, .retention_ms = 0, .head_max_age_ms = 3600 * 1000};
    char err[256];
    if (tsdb_open(t->dir, &o, &t->db, err, sizeof err) != 0) {
        fprintf(stderr, "tsdb_open: %s\n", err);
        abort();
    }
}

static void pt_close(promqltest *t)
{
    if (t->db)
        tsdb_close(t->db);
    t->db = NULL;
    fs_rmtree(t->dir);
}

static void pt_fail(promqltest *t, const char *fmt, const char *a, const char *b)
{
    fprintf(stderr, "%s:%d: ", t->script_name, t->line);
    fprintf(stderr, fmt, a, b);
    fputc('\n', stderr);
    t->failures++;
}

/* A duration such as "5m", "1h30m", "0", "90s", "100ms" (or seconds). */
static int64_t pt_duration(const char *s)
{
    int64_t total = 0;
    while (*s) {
        char *end;
        double n = strtod(s, &end);
        int64_t unit = 1000;
        if (strncmp(end, "ms", 2) == 0) {
            unit = 1;
            end += 2;
        } else if (*end == 's') {
            end++;
        } else if (*end == 'm') {
            unit = 60000;
            end++;
        } else if (*end == 'h') {
            unit = 3600000;
            end++;
        } else if (*end == 'd') {
            unit = 86400000;
            end++;
        }
        total += (int64_t)(n * (double)unit);
        if (end == s)
            break;
        s = end;
    }
    return total;
}

static bool pt_value(const char *tok, double *v)
{
    if (strcmp(tok, "stale") == 0) {
        *v = stale_nan();
        return true;
    }
    char *end;
    *v = strtod(tok, &end);
    return *end == '\0';
}

/* Expand one value token into vals/present (NaN-boxed "no sample" is
 * kept separately: present[i] false). */
static void pt_expand(const char *tok, double *vals, bool *present, size_t *n, size_t cap)
{
    const char *x = strrchr(tok, 'x');
    char head[64];
    if (x && x != tok && strcmp(tok, "stale") != 0 && x[1] >= '0' && x[1] <= '9') {
        size_t count = (size_t)atol(x + 1);
        snprintf(head, sizeof head, "%.*s", (int)(x - tok), tok);
        double start = 0, step = 0;
        bool gap = strcmp(head, "_") == 0;
        char *sign = strpbrk(head + 1, "+-");
        if (sign && !gap) {
            step = strtod(sign, NULL);
            *sign = '\0';
        }
        if (!gap)
            pt_value(head, &start);
        for (size_t i = 0; i <= count - (gap ? 1 : 0) && *n < cap; i++) {
            present[*n] = !gap;
            vals[(*n)++] = start + step * (double)i;
        }
        return;
    }
    if (*n >= cap)
        return;
    present[*n] = strcmp(tok, "_") != 0;
    if (present[*n])
        pt_value(tok, &vals[*n]);
    (*n)++;
}

/* "{a="1"}" or "name{...}" or "name" into a sorted labelset. */
static bool pt_labels(const char *text, labelset *ls)
{
    labels_init(ls);
    if (strcmp(text, "{}") == 0)
        return true;
    promql_selector sel;
    promql_error perr;
    if (promql_parse_selector(text, &sel, &perr) != 0) {
        fprintf(stderr, "bad series %s: %s\n", text, perr.msg);
        return false;
    }
    for (size_t i = 0; i < sel.n; i++)
        labels_add(ls, sel.matchers[i].name, sel.matchers[i].value);
    promql_selector_free(&sel);
    labels_sort(ls);
    return true;
}

/* Split "labels values..." where labels may contain spaces inside quotes. */
static const char *pt_split_series(const char *line, char *labels, size_t len)
{
    const char *p = line;
    bool quoted = false;
    while (*p && (quoted || (*p != ' ' && *p != '\t') || (p > line && p[-1] == ','))) {
        if (*p == '"' && (p == line || p[-1] != '\\'))
            quoted = !quoted;
        p++;
    }
    snprintf(labels, len, "%.*s", (int)(p - line), line);
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

#define PT_MAX_VALUES 4096

static void pt_load_line(promqltest *t, const char *line, int64_t interval, tsdb_appender *app)
{
    char lbl[1024];
    const char *rest = pt_split_series(line, lbl, sizeof lbl);
    labelset ls;
    if (!pt_labels(lbl, &ls)) {
        t->failures++;
        return;
    }
    static double vals[PT_MAX_VALUES];
    static bool present[PT_MAX_VALUES];
    size_t n = 0;
    char buf[8192];
    snprintf(buf, sizeof buf, "%s", rest);
    for (char *tok = strtok(buf, " \t"); tok; tok = strtok(NULL, " \t"))
        pt_expand(tok, vals, present, &n, PT_MAX_VALUES);
    for (size_t i = 0; i < n; i++)
        if (present[i]) {
            const char *why = tsdb_append(app, &ls, (int64_t)i * interval, vals[i]);
            if (why)
                pt_fail(t, "append refused: %s%s", why, "");
        }
    labels_free(&ls);
}

typedef struct pt_expect {
    labelset ls;
    double vals[PT_MAX_VALUES / 8];
    bool present[PT_MAX_VALUES / 8];
    size_t n;
    bool matched;
} pt_expect;

static bool pt_values_equal(double a, double b)
{
    if (isnan(a) || isnan(b))
        return isnan(a) && isnan(b);
    if (a == b)
        return true;
    return fabs(a - b) <= 1e-9 * fmax(fabs(a), fabs(b));
}

static void pt_format_series(ebuf *b, const qseries *s)
{
    labels_format(b, &s->labels);
    for (size_t i = 0; i < s->n; i++)
        ebuf_printf(b, " %lld:%.17g", (long long)s->samples[i].t, s->samples[i].v);
}

/* Compare one result series with an expectation (range: one value per step). */
static bool pt_series_matches(const qseries *s, const pt_expect *x, bool range, int64_t start,
                              int64_t step)
{
    if (!labels_equal(&s->labels, &x->ls))
        return false;
    if (!range) { /* a vector's one value, or a matrix's values in order */
        if (s->n != x->n)
            return false;
        for (size_t i = 0; i < s->n; i++)
            if (!x->present[i] || !pt_values_equal(s->samples[i].v, x->vals[i]))
                return false;
        return true;
    }
    size_t j = 0;
    for (size_t i = 0; i < x->n; i++) {
        if (!x->present[i])
            continue;
        if (j >= s->n || s->samples[j].t != start + (int64_t)i * step ||
            !pt_values_equal(s->samples[j].v, x->vals[i]))
            return false;
        j++;
    }
    return j == s->n;
}

static void pt_check(promqltest *t, const char *query, const promql_result *r, pt_expect *x,
                     size_t nx, bool range, bool ordered, int64_t start, int64_t step)
{
    if (r->type == PV_SCALAR && !range) {
        if (nx != 1 || x[0].ls.n || !pt_values_equal(r->series.v[0].samples[0].v, x[0].vals[0]))
            pt_fail(t, "%s: scalar result differs%s", query, "");
        return;
    }
    bool ok = r->series.n == nx;
    for (size_t i = 0; ok && i < r->series.n; i++) {
        bool found = false;
        for (size_t k = ordered ? i : 0; k < (ordered ? i + 1 : nx) && !found; k++)
            if (!x[k].matched && pt_series_matches(&r->series.v[i], &x[k], range, start, step))
                found = x[k].matched = true;
        ok = found;
    }
    if (ok)
        return;
    ebuf got;
    ebuf_init(&got);
    for (size_t i = 0; i < r->series.n; i++) {
        ebuf_puts(&got, "\n    ");
        pt_format_series(&got, &r->series.v[i]);
    }
    pt_fail(t, "%s: result differs; got:%s", query, got.len ? got.data : " (empty)");
    ebuf_free(&got);
}

/* Parse expected lines following an eval; returns how many. */
static size_t pt_read_expect(char **lines, size_t *li, size_t nlines, pt_expect *x, size_t cap)
{
    size_t nx = 0;
    while (*li + 1 < nlines && (lines[*li + 1][0] == ' ' || lines[*li + 1][0] == '\t') &&
           nx < cap) {
        (*li)++;
        const char *l = lines[*li];
        while (*l == ' ' || *l == '\t')
            l++;
        pt_expect *e = &x[nx++];
        memset(e, 0, sizeof *e);
        const char *rest = l;
        labels_init(&e->ls);
        if (*l == '{' || (*l >= 'a' && *l <= 'z') || (*l >= 'A' && *l <= 'Z') || *l == '_') {
            char lbl[1024];
            rest = pt_split_series(l, lbl, sizeof lbl);
            if (strcmp(lbl, "_") != 0 && strcmp(lbl, "NaN") != 0 && strcmp(lbl, "Inf") != 0)
                pt_labels(lbl, &e->ls);
            else
                rest = l;
        }
        char buf[4096];
        snprintf(buf, sizeof buf, "%s", rest);
        for (char *tok = strtok(buf, " \t"); tok; tok = strtok(NULL, " \t"))
            pt_expand(tok, e->vals, e->present, &e->n, PT_MAX_VALUES / 8);
    }
    return nx;
}

static void pt_eval(promqltest *t, const char *cmd, char **lines, size_t *li, size_t nlines)
{
    bool fail = strncmp(cmd, "eval_fail", 9) == 0, ordered = strncmp(cmd, "eval_ordered", 12) == 0;
    const char *p = strchr(cmd, ' ') + 1;
    bool range = strncmp(p, "range", 5) == 0;
    int64_t start = 0, end = 0, step = 1;
    char a[64], b[64], c[64];
    int used = 0;
    if (range) {
        sscanf(p, "range from %63s to %63s step %63s %n", a, b, c, &used);
        start = pt_duration(a);
        end = pt_duration(b);
        step = pt_duration(c);
    } else {
        sscanf(p, "instant at %63s %n", a, &used);
        start = end = pt_duration(a);
    }
    const char *query = p + used;
    static pt_expect x[64];
    size_t nx = 0;
    char want_err[64] = "";
    if (fail && *li + 1 < nlines && (lines[*li + 1][0] == ' ' || lines[*li + 1][0] == '\t'))
        sscanf(lines[++*li], " %63s", want_err);
    else
        nx = pt_read_expect(lines, li, nlines, x, 64);
    query_storage st = tsdb_query_storage(t->db);
    promql_result r;
    promql_failure f;
    int rc = range ? promql_query_range(&st, NULL, query, start, end, step, &r, &f)
                   : promql_query_instant(&st, NULL, query, start, &r, &f);
    t->evals++;
    if (fail) {
        if (rc == 0)
            pt_fail(t, "%s: expected an error%s", query, "");
        else if (want_err[0] && strcmp(want_err, promql_errtype_name(f.type)) != 0)
            pt_fail(t, "%s: wrong error type: %s", query, f.msg);
    } else if (rc != 0) {
        pt_fail(t, "%s: %s", query, f.msg);
    } else {
        pt_check(t, query, &r, x, nx, range, ordered, start, step);
    }
    if (rc == 0)
        promql_result_free(&r);
    for (size_t i = 0; i < nx; i++)
        labels_free(&x[i].ls);
}

/* Run a script; returns the number of failed checks. */
static int promqltest_run(const char *name, const char *script)
{
    promqltest t = {.script_name = name};
    pt_open(&t);
    char *copy = strdup(script);
    char **lines = NULL;
    size_t nlines = 0, cap = 0;
    for (char *s = copy, *nl; s && *s; s = nl ? nl + 1 : NULL) {
        nl = strchr(s, '\n');
        if (nl)
            *nl = '\0';
        if (nlines == cap) {
            cap = cap ? cap * 2 : 64;
            lines = realloc(lines, cap * sizeof *lines);
        }
        lines[nlines++] = s;
    }
    for (size_t li = 0; li < nlines; li++) {
        const char *l = lines[li];
        t.line = (int)li + 1;
        if (!*l || *l == '#' || *l == ' ' || *l == '\t')
            continue;
        if (strncmp(l, "load ", 5) == 0) {
            int64_t interval = pt_duration(l + 5);
            tsdb_appender *app = tsdb_appender_new(t.db);
            while (li + 1 < nlines && (lines[li + 1][0] == ' ' || lines[li + 1][0] == '\t')) {
                li++;
                const char *s = lines[li];
                while (*s == ' ' || *s == '\t')
                    s++;
                pt_load_line(&t, s, interval, app);
            }
            tsdb_commit_result res;
            char err[256];
            if (tsdb_commit(app, NULL, 0, &res, err, sizeof err) != 0)
                pt_fail(&t, "commit: %s%s", err, "");
        } else if (strncmp(l, "eval", 4) == 0) {
            pt_eval(&t, l, lines, &li, nlines);
        } else if (strcmp(l, "clear") == 0) {
            pt_close(&t);
            pt_open(&t);
        } else {
            pt_fail(&t, "unknown command: %s%s", l, "");
        }
    }
    pt_close(&t);
    free(lines);
    free(copy);
    if (t.failures)
        fprintf(stderr, "%s: %d of %d evaluations failed\n", name, t.failures, t.evals);
    return t.failures;
}

#endif
