/*
 * parser.c — series selectors (`name`, `name{...}`, `{...}`) where the API
 * allows nothing else (match[] of /federate, /api/v1/series, labels), and
 * their printer.
 *
 * The query is parsed by the full PromQL parser (parse_expr.c), so syntax
 * errors carry exactly Prometheus's text and position; a valid expression
 * that is not a plain instant selector gets PROMQL_ERR_UNSUPPORTED, which
 * callers can tell apart from a syntax error.
 */
#include "query/promql.h"

#include "common/mem.h"
#include "query/ast.h"
#include "query/lexer.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool promql_error_is_unsupported(const promql_error *err)
{
    const char *tag = ": parse error: " PROMQL_ERR_UNSUPPORTED;
    size_t n = strlen(err->msg), t = strlen(tag);
    return n >= t && strcmp(err->msg + n - t, tag) == 0;
}

static void set_error(promql_error *err, const char *input, size_t pos, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    promql_error_vset(err, input, pos, fmt, ap);
    va_end(ap);
}

/* Move the selector's matchers out of the tree, the name first as a
 * __name__ = matcher. */
static int take_selector(promql_expr *e, promql_selector *out, promql_error *err, const char *query)
{
    size_t n = e->nmatchers + (e->str ? 1 : 0);
    out->matchers = em_calloc(n ? n : 1, sizeof(label_matcher));
    out->cap = n;
    out->n = 0;
    if (e->str) {
        char why[256];
        if (matcher_init(&out->matchers[0], MATCH_EQ, LABEL_METRIC_NAME, e->str, why, sizeof why) !=
            0) {
            set_error(err, query, e->pos, "%s", why);
            return -1;
        }
        out->n = 1;
    }
    for (size_t i = 0; i < e->nmatchers; i++)
        out->matchers[out->n++] = e->matchers[i];
    e->nmatchers = 0; /* ownership moved */
    return 0;
}

/* The first `@` or `offset` of a selector, outside its braces. */
static size_t modifier_pos(const char *query, const promql_expr *e)
{
    promql_lexer lx;
    promql_lexer_init(&lx, query + e->pos, e->end - e->pos);
    int depth = 0;
    for (;;) {
        promql_token t;
        promql_lexer_next(&lx, &t);
        if (t.type == PQ_EOF || t.type == PQ_ERROR)
            return e->pos;
        depth += (t.type == PQ_LEFT_BRACE) - (t.type == PQ_RIGHT_BRACE);
        if (depth == 0 && (t.type == PQ_AT || t.type == PQ_OFFSET))
            return e->pos + t.pos;
    }
}

/* Where a valid expression stops being a plain selector: the range or
 * subquery bracket, the binary operator, the modifier, or the start. */
static size_t unsupported_pos(const char *query, const promql_expr *e)
{
    size_t pos = e->pos;
    switch (e->kind) {
    case PN_MATRIX:
    case PN_SUBQUERY: return e->lhs->end;
    case PN_BINARY:
        for (pos = e->lhs->end; isspace((unsigned char)query[pos]); pos++)
            ;
        return pos;
    case PN_VECTOR: return modifier_pos(query, e);
    default: return pos;
    }
}

int promql_parse_selector(const char *query, promql_selector *out, promql_error *err)
{
    out->matchers = NULL;
    out->n = out->cap = 0;
    err->pos = 0;
    err->msg[0] = '\0';
    promql_expr *e = NULL;
    if (promql_parse(query, &e, err) != 0)
        return -1;
    int rc = 0;
    if (e->kind != PN_VECTOR || e->offset_ms != 0 || e->at != PA_NONE) {
        set_error(err, query, unsupported_pos(query, e), PROMQL_ERR_UNSUPPORTED);
        rc = -1;
    } else if (take_selector(e, out, err, query) != 0) {
        promql_selector_free(out);
        rc = -1;
    }
    promql_expr_free(e);
    return rc;
}

void promql_selector_free(promql_selector *s)
{
    for (size_t i = 0; i < s->n; i++)
        matcher_free(&s->matchers[i]);
    free(s->matchers);
    s->matchers = NULL;
    s->n = s->cap = 0;
}

/* ---- printing ---- */

/* Can this metric name stand outside braces and lex back as a name? */
static bool name_prints_bare(const char *v)
{
    size_t n = strlen(v);
    return metric_name_valid(v, n) && promql_token_names_metric(promql_keyword_lookup(v, n));
}

/* Index of the matcher to print as the metric name, or -1. */
static long bare_name_index(const promql_selector *s)
{
    long idx = -1;
    for (size_t i = 0; i < s->n; i++) {
        if (strcmp(s->matchers[i].name, LABEL_METRIC_NAME) != 0)
            continue;
        if (idx >= 0)
            return -1; /* two name matchers: both go inside the braces */
        idx = (long)i;
    }
    if (idx < 0 || s->matchers[idx].type != MATCH_EQ || !name_prints_bare(s->matchers[idx].value))
        return -1;
    return idx;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void promql_selector_format(ebuf *out, const promql_selector *s)
{
    long name = bare_name_index(s);
    char **parts = em_calloc(s->n + 1, sizeof(char *));
    size_t np = 0;
    for (size_t i = 0; i < s->n; i++) {
        if ((long)i == name)
            continue;
        ebuf b;
        ebuf_init(&b);
        matcher_format(&b, &s->matchers[i]);
        parts[np++] = ebuf_steal(&b, NULL);
    }
    qsort(parts, np, sizeof(char *), cmp_str); /* Go's sort.Strings */
    if (name >= 0)
        ebuf_puts(out, s->matchers[name].value);
    if (name < 0 || np > 0) {
        ebuf_putc(out, '{');
        for (size_t i = 0; i < np; i++) {
            if (i)
                ebuf_putc(out, ',');
            ebuf_puts(out, parts[i]);
            free(parts[i]);
        }
        ebuf_putc(out, '}');
    }
    free(parts);
}
