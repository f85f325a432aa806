/*
 * parser.c — instant vector selectors: `name`, `name{...}`, `{...}`, with
 * Prometheus 2.42's grammar, checks and error messages.
 *
 * This is a recursive-descent rendering of the selector rules of
 * Prometheus's generated_parser.y.  Errors follow Prometheus's choices:
 * the first error wins; lexer errors are reported as they are read; syntax
 * errors say `unexpected <token> in label matching, expected ...`; the
 * semantic checks (metric name set twice, selector that matches everything)
 * run only on a syntactically complete query.  Positions are "line:col" in
 * bytes, 1-based, as Prometheus's ParseErr prints them.
 *
 * Input that is valid PromQL beyond a selector (literals, calls,
 * aggregations, operators, ranges, offset, @) is answered with
 * PROMQL_ERR_UNSUPPORTED, after first reporting what Prometheus would
 * report before it where a token-level check can tell (see scan_rest): a
 * lexer error further on, an operator with nothing after it, an unknown
 * function, or a bad selector on the left of an operator.  The full grammar
 * replaces this part when PromQL grows past selectors.
 *
 * The query is a C string, so it ends at the first NUL byte (Prometheus
 * would report the NUL as an unexpected character; callers taking queries
 * from HTTP should reject NUL bytes themselves).  Label values cannot hold
 * NUL either, so an escape producing one is an error.
 */
#include "query/promql.h"

#include "common/mem.h"
#include "query/lexer.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct parser {
    const char *input;
    size_t len;
    promql_lexer lx;
    promql_token tok;  /* the current token, comments skipped */
    promql_token next; /* one token of lookahead, when have_next */
    bool have_next;
    promql_selector *sel;
    promql_error *err;
} parser;

/* Functions of Prometheus 2.42, for "unknown function" errors. */
/* clang-format off */
static const char *const functions[] = {
    "abs", "absent", "absent_over_time", "acos", "acosh", "asin", "asinh", "atan", "atanh",
    "avg_over_time", "ceil", "changes", "clamp", "clamp_max", "clamp_min", "cos", "cosh",
    "count_over_time", "days_in_month", "day_of_month", "day_of_week", "day_of_year", "deg",
    "delta", "deriv", "exp", "floor", "histogram_count", "histogram_fraction",
    "histogram_quantile", "histogram_sum", "holt_winters", "hour", "idelta", "increase", "irate",
    "label_join", "label_replace", "last_over_time", "ln", "log10", "log2", "max_over_time",
    "min_over_time", "minute", "month", "pi", "predict_linear", "present_over_time",
    "quantile_over_time", "rad", "rate", "resets", "round", "scalar", "sgn", "sin", "sinh", "sort",
    "sort_desc", "sqrt", "stddev_over_time", "stdvar_over_time", "sum_over_time", "tan", "tanh",
    "time", "timestamp", "vector", "year",
};
/* clang-format on */

/* ---- tokens ---- */

static void lex_skip_comments(parser *p, promql_token *t)
{
    do
        promql_lexer_next(&p->lx, t);
    while (t->type == PQ_COMMENT);
}

static void p_advance(parser *p)
{
    if (p->have_next) {
        p->tok = p->next;
        p->have_next = false;
    } else {
        lex_skip_comments(p, &p->tok);
    }
}

static const promql_token *p_peek(parser *p)
{
    if (!p->have_next) {
        lex_skip_comments(p, &p->next);
        p->have_next = true;
    }
    return &p->next;
}

/* ---- errors ---- */

static int p_fail(parser *p, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int p_fail(parser *p, size_t pos, const char *fmt, ...)
{
    size_t line = 1, line_start = 0;
    for (size_t i = 0; i < pos && i < p->len; i++) {
        if (p->input[i] == '\n') {
            line++;
            line_start = i + 1;
        }
    }
    int n = snprintf(p->err->msg, sizeof(p->err->msg), "%zu:%zu: parse error: ", line,
                     pos - line_start + 1);
    if (n > 0 && (size_t)n < sizeof(p->err->msg)) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->err->msg + n, sizeof(p->err->msg) - (size_t)n, fmt, ap);
        va_end(ap);
    }
    p->err->pos = pos;
    return -1;
}

/* Prometheus's parser.unexpected(): a lexer error is reported as itself. */
static int p_unexpected(parser *p, const promql_token *t, const char *context, const char *expected)
{
    if (t->type == PQ_ERROR)
        return p_fail(p, t->pos, "%s", t->err);
    ebuf b;
    ebuf_init(&b);
    ebuf_puts(&b, "unexpected ");
    promql_token_desc(&b, p->input, t);
    if (context)
        ebuf_printf(&b, " in %s", context);
    if (expected)
        ebuf_printf(&b, ", expected %s", expected);
    p_fail(p, t->pos, "%s", b.data);
    ebuf_free(&b);
    return -1;
}

/* The selector's Go-quoted strings, for "metric name must not be set twice". */
static int p_fail_quoted2(parser *p, size_t pos, const char *fmt, const char *a, const char *b)
{
    ebuf qa, qb;
    ebuf_init(&qa);
    ebuf_init(&qb);
    promql_quote(&qa, a, strlen(a));
    promql_quote(&qb, b, strlen(b));
    p_fail(p, pos, fmt, qa.data, qb.data);
    ebuf_free(&qa);
    ebuf_free(&qb);
    return -1;
}

bool promql_error_is_unsupported(const promql_error *err)
{
    const char *tag = ": parse error: " PROMQL_ERR_UNSUPPORTED;
    size_t n = strlen(err->msg), t = strlen(tag);
    return n >= t && strcmp(err->msg + n - t, tag) == 0;
}

/* ---- token classes ---- */

/* Binary operators: valid PromQL after a selector. */
static bool is_binary_op(promql_token_type t)
{
    return promql_token_is_operator(t) && t != PQ_AT && t != PQ_EQL_REGEX && t != PQ_NEQ_REGEX;
}

static bool is_function(const char *name, size_t n)
{
    for (size_t i = 0; i < sizeof(functions) / sizeof(functions[0]); i++)
        if (strlen(functions[i]) == n && memcmp(functions[i], name, n) == 0)
            return true;
    return false;
}

/* ---- the selector ---- */

static void selector_push(promql_selector *s, const label_matcher *m)
{
    EM_GROW(s->matchers, s->cap, s->n + 1);
    s->matchers[s->n++] = *m;
}

/* Decode a string token into a C string; label values cannot hold NUL. */
static int string_value(parser *p, const promql_token *t, ebuf *out)
{
    if (promql_unquote(p->input + t->pos, t->len, out) < 0) {
        ebuf q;
        ebuf_init(&q);
        promql_quote(&q, p->input + t->pos, t->len);
        p_fail(p, t->pos, "error unquoting string %s: invalid syntax", q.data);
        ebuf_free(&q);
        return -1;
    }
    if (memchr(out->data, '\0', out->len))
        return p_fail(p, t->pos, "NUL bytes in label values are not supported");
    return 0;
}

/* label_matcher: IDENTIFIER match_op STRING; leaves the token after it. */
static int parse_matcher(parser *p)
{
    promql_token name = p->tok;
    if (name.type != PQ_IDENTIFIER)
        return p_unexpected(p, &name, "label matching", "identifier or \"}\"");
    p_advance(p);
    match_type mt;
    if (!promql_token_match_op(p->tok.type, &mt))
        return p_unexpected(p, &p->tok, "label matching", "label matching operator");
    p_advance(p);
    if (p->tok.type != PQ_STRING)
        return p_unexpected(p, &p->tok, "label matching", "string");

    ebuf value;
    ebuf_init(&value);
    int rc = string_value(p, &p->tok, &value);
    if (rc == 0) {
        char *lname = em_strndup(p->input + name.pos, name.len);
        char rerr[sizeof(p->err->msg)];
        label_matcher m;
        /* A bad regex is reported at the matcher, as Prometheus does. */
        if (matcher_init(&m, mt, lname, value.data, rerr, sizeof(rerr)) < 0)
            rc = p_fail(p, name.pos, "%s", rerr);
        else
            selector_push(p->sel, &m);
        free(lname);
    }
    ebuf_free(&value);
    if (rc == 0)
        p_advance(p);
    return rc;
}

/* label_matchers: "{" [ matcher { "," matcher } [ "," ] ] "}". */
static int parse_braces(parser *p)
{
    p_advance(p); /* '{' */
    if (p->tok.type == PQ_RIGHT_BRACE) {
        p_advance(p);
        return 0;
    }
    for (;;) {
        if (parse_matcher(p) < 0)
            return -1;
        if (p->tok.type == PQ_RIGHT_BRACE)
            break;
        if (p->tok.type != PQ_COMMA)
            return p_unexpected(p, &p->tok, "label matching", "\",\" or \"}\"");
        p_advance(p);
        if (p->tok.type == PQ_RIGHT_BRACE)
            break;
    }
    p_advance(p); /* '}' */
    return 0;
}

/* checkAST for a VectorSelector; start is where the selector began. */
static int check_selector(parser *p, size_t start, bool has_name)
{
    const promql_selector *s = p->sel;
    if (has_name) {
        /* matchers[0] is the name given outside the braces. */
        for (size_t i = 1; i < s->n; i++)
            if (strcmp(s->matchers[i].name, LABEL_METRIC_NAME) == 0)
                return p_fail_quoted2(p, start, "metric name must not be set twice: %s or %s",
                                      s->matchers[0].value, s->matchers[i].value);
        return 0;
    }
    for (size_t i = 0; i < s->n; i++)
        if (!matcher_matches(&s->matchers[i], ""))
            return 0;
    return p_fail(p, start, "vector selector must contain at least one non-empty matcher");
}

/* ---- beyond a selector ---- */

/* Braces further on in the query: parsed for their errors, then dropped. */
static int parse_nested_braces(parser *p)
{
    promql_selector scratch = {NULL, 0, 0}, *sel = p->sel;
    p->sel = &scratch;
    int rc = parse_braces(p);
    p->sel = sel;
    promql_selector_free(&scratch);
    return rc;
}

/* Tokens that can end an operand, so that a following "offset" or "@" is
 * a modifier rather than a metric name. */
static bool ends_operand(promql_token_type t)
{
    return t == PQ_IDENTIFIER || t == PQ_METRIC_IDENTIFIER || t == PQ_RIGHT_BRACE ||
           t == PQ_RIGHT_BRACKET || t == PQ_RIGHT_PAREN || t == PQ_NUMBER || t == PQ_STRING;
}

/* Tokens after which the query cannot end: Prometheus then reports
 * "unexpected end of input" (with a context for offset and @). */
static const char *needs_more(promql_token_type last, promql_token_type before)
{
    switch (last) {
    case PQ_OFFSET: return ends_operand(before) ? " in offset, expected duration" : NULL;
    case PQ_AT: return " in @, expected timestamp";
    case PQ_BY:
    case PQ_WITHOUT:
        return promql_token_is_aggregator(before) ? " in grouping opts, expected \"(\"" : NULL;
    case PQ_LAND:
    case PQ_LOR:
    case PQ_LUNLESS: return promql_token_is_operator(before) ? NULL : "";
    case PQ_BOOL: return "";
    default: return is_binary_op(last) ? "" : NULL;
    }
}

/* What the token after an offset or @ modifier must be; else NULL. */
static const char *modifier_context(promql_token_type last, promql_token_type before,
                                    promql_token_type t, const char **expected)
{
    if (last == PQ_OFFSET && ends_operand(before) && t != PQ_DURATION && t != PQ_SUB) {
        *expected = "duration";
        return "offset";
    }
    if (last == PQ_AT && t != PQ_NUMBER && t != PQ_ADD && t != PQ_SUB && t != PQ_START &&
        t != PQ_END) {
        *expected = "timestamp";
        return "@";
    }
    return NULL;
}

/*
 * Read to the end of the query from p->tok, which follows `before`, which
 * follows `before2`.
 * What Prometheus reports first there, where a token-level check can tell:
 * a lexer error, a malformed duration, a comma outside any call or braces,
 * a bad operand of offset or @, or a query that stops after an operator.
 */
static int scan_rest(parser *p, promql_token_type before, promql_token_type before2)
{
    promql_token_type last = before, prev = before2;
    int parens = 0;
    while (p->tok.type != PQ_EOF) {
        promql_token_type t = p->tok.type;
        const char *expected, *ctx = modifier_context(last, prev, t, &expected);
        if (t == PQ_ERROR)
            return p_unexpected(p, &p->tok, NULL, NULL);
        if (ctx)
            return p_unexpected(p, &p->tok, ctx, expected);
        /* "=" only exists inside braces, "," inside parentheses. */
        if (t == PQ_EQL || (t == PQ_COMMA && parens == 0))
            return p_unexpected(p, &p->tok, NULL, NULL);
        /* Braces follow a metric name or nothing, never another operand. */
        if (t == PQ_LEFT_BRACE && ends_operand(last) && !promql_token_names_metric(last))
            return p_unexpected(p, &p->tok, NULL, NULL);
        if (t == PQ_DURATION) {
            int64_t ms;
            char derr[128];
            if (promql_parse_duration(p->input + p->tok.pos, p->tok.len, &ms, derr, sizeof(derr)) <
                0)
                return p_fail(p, p->tok.pos, "%s", derr);
        }
        if (t == PQ_LEFT_BRACE) {
            if (parse_nested_braces(p) < 0)
                return -1;
            t = PQ_RIGHT_BRACE; /* and p->tok is already past it */
        } else {
            parens += t == PQ_LEFT_PAREN ? 1 : t == PQ_RIGHT_PAREN ? -1 : 0;
            p_advance(p);
        }
        prev = last;
        last = t;
    }
    const char *ctx = needs_more(last, prev);
    if (ctx)
        return p_fail(p, p->tok.pos, "unexpected end of input%s", ctx);
    return 0;
}

static int unsupported(parser *p, size_t pos)
{
    return p_fail(p, pos, PROMQL_ERR_UNSUPPORTED);
}

/* The query starts with something other than a selector at p->tok. */
static int beyond_start(parser *p)
{
    promql_token first = p->tok;
    p_advance(p);
    /* A literal may be followed by an operator, a modifier or nothing. */
    promql_token_type t = p->tok.type;
    if ((first.type == PQ_NUMBER || first.type == PQ_STRING) && t != PQ_EOF && !is_binary_op(t) &&
        t != PQ_OFFSET && t != PQ_AT && t != PQ_LEFT_BRACKET)
        return p_unexpected(p, &p->tok, NULL, NULL);
    bool call = first.type == PQ_IDENTIFIER && t == PQ_LEFT_PAREN;
    /* A leading + or - is unary: it needs an operand like a binary one. */
    if (scan_rest(p, first.type, PQ_EOF) < 0)
        return -1;
    if (call && !is_function(p->input + first.pos, first.len))
        return p_fail(p, first.pos, "unknown function with name \"%.*s\"", (int)first.len,
                      p->input + first.pos);
    return unsupported(p, first.pos);
}

/* A complete selector is followed by p->tok, which continues the query. */
static int beyond_selector(parser *p, size_t start, bool has_name)
{
    promql_token op = p->tok;
    p_advance(p);
    if (scan_rest(p, op.type, PQ_RIGHT_BRACE) < 0 || check_selector(p, start, has_name) < 0)
        return -1;
    return unsupported(p, op.pos);
}

static int after_selector(parser *p, size_t start, bool has_name)
{
    promql_token_type t = p->tok.type;
    if (t == PQ_EOF)
        return check_selector(p, start, has_name);
    if (t == PQ_LEFT_BRACKET || t == PQ_OFFSET || t == PQ_AT || is_binary_op(t))
        return beyond_selector(p, start, has_name);
    return p_unexpected(p, &p->tok, NULL, NULL);
}

/* A metric name at p->tok: a selector, unless it starts a call or an
 * aggregation. */
static int parse_named(parser *p)
{
    promql_token name = p->tok;
    promql_token_type nt = p_peek(p)->type;
    if (name.type == PQ_IDENTIFIER && nt == PQ_LEFT_PAREN)
        return beyond_start(p);
    if (promql_token_is_aggregator(name.type) &&
        (nt == PQ_LEFT_PAREN || nt == PQ_BY || nt == PQ_WITHOUT))
        return beyond_start(p);

    char *value = em_strndup(p->input + name.pos, name.len);
    label_matcher m;
    char unused[8];
    matcher_init(&m, MATCH_EQ, LABEL_METRIC_NAME, value, unused, sizeof(unused));
    free(value);
    selector_push(p->sel, &m);
    p_advance(p);
    if (p->tok.type == PQ_LEFT_BRACE && parse_braces(p) < 0)
        return -1;
    return after_selector(p, name.pos, true);
}

static int parse_query(parser *p)
{
    promql_token_type t = p->tok.type;
    if (t == PQ_EOF)
        return p_fail(p, 0, "no expression found in input");
    if (promql_token_names_metric(t))
        return parse_named(p);
    if (t == PQ_LEFT_BRACE) {
        size_t start = p->tok.pos;
        if (parse_braces(p) < 0)
            return -1;
        return after_selector(p, start, false);
    }
    if (t == PQ_NUMBER || t == PQ_STRING || t == PQ_LEFT_PAREN || t == PQ_ADD || t == PQ_SUB)
        return beyond_start(p);
    return p_unexpected(p, &p->tok, NULL, NULL);
}

int promql_parse_selector(const char *query, promql_selector *out, promql_error *err)
{
    parser p;
    memset(&p, 0, sizeof(p));
    p.input = query;
    p.len = strlen(query);
    p.sel = out;
    p.err = err;
    out->matchers = NULL;
    out->n = out->cap = 0;
    err->pos = 0;
    err->msg[0] = '\0';
    promql_lexer_init(&p.lx, query, p.len);
    p_advance(&p);
    if (parse_query(&p) < 0) {
        promql_selector_free(out);
        return -1;
    }
    return 0;
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
