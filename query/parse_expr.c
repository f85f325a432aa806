/*
 * parse_expr.c — the full PromQL grammar of Prometheus 2.42
 * (promql/parser/generated_parser.y and parse.go) by recursive descent
 * with precedence climbing, and Prometheus's type check (checkAST).
 *
 * Precedence, low to high: or; and unless; == != <= < >= >; + -;
 * * / % atan2; ^ (right-associative).  Unary + and - bind like * (their
 * operand is an expression of ^ precedence), so -2^2 is -(2^2), and a
 * unary sign on a number literal folds into it, as Prometheus does.
 * Postfix [range], [range:step], offset and @ bind tighter than every
 * operator, to the nearest primary expression.
 *
 * Errors follow Prometheus: a syntax error stops the parse ("unexpected
 * <token>" with the grammar's context, "in aggregation" anywhere inside
 * an aggregation's arguments); errors the grammar's actions raise (bad
 * durations, offset/@ misuse, ranges on non-selectors, argument counts,
 * unknown functions) are collected and parsing goes on; checkAST runs only
 * when there was none.  Only the first error is reported, as Go's
 * ParseErrors.Error() does.  Nesting is bounded by
 * PROMQL_MAX_DEPTH (recursion here and in the printer, checker and free).
 */
#include "query/ast.h"
#include "query/promql.h"

#include "common/fmtfloat.h"
#include "common/mem.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct parser {
    const char *input;
    size_t len;
    promql_lexer lx;
    promql_token tok, next;
    bool have_next;
    size_t last_end; /* end of the last token consumed */
    int nest;        /* parse_expr recursion */
    int in_aggr;     /* enclosing aggregations, for "in aggregation" */
    bool failed;
    promql_error *err;
} parser;

/* ---- tokens ---- */

static void lex_skip_comments(parser *p, promql_token *t)
{
    do
        promql_lexer_next(&p->lx, t);
    while (t->type == PQ_COMMENT);
}

static void p_advance(parser *p)
{
    p->last_end = p->tok.pos + p->tok.len;
    if (p->have_next) {
        p->tok = p->next;
        p->have_next = false;
    } else {
        lex_skip_comments(p, &p->tok);
    }
}

static promql_token_type p_peek(parser *p)
{
    if (!p->have_next) {
        lex_skip_comments(p, &p->next);
        p->have_next = true;
    }
    return p->next.type;
}

/* ---- errors ---- */

/* Record an error as Prometheus's ParseErr text.  Only the first is kept:
 * Go's ParseErrors.Error() prints errs[0]. */
static void p_err(parser *p, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void p_err(parser *p, size_t pos, const char *fmt, ...)
{
    if (p->failed)
        return;
    p->failed = true;
    va_list ap;
    va_start(ap, fmt);
    promql_error_vset(p->err, p->input, pos, fmt, ap);
    va_end(ap);
}

/* A syntax error at the current token (Prometheus's unexpected()); a
 * lexer error is reported as itself.  Returns NULL for the caller. */
static promql_expr *p_unexpected(parser *p, const char *context, const char *expected)
{
    if (p->tok.type == PQ_ERROR) {
        p_err(p, p->tok.pos, "%s", p->tok.err);
        return NULL;
    }
    if (!context && p->in_aggr > 0)
        context = "aggregation";
    ebuf b;
    ebuf_init(&b);
    ebuf_puts(&b, "unexpected ");
    promql_token_desc(&b, p->input, &p->tok);
    if (context)
        ebuf_printf(&b, " in %s", context);
    if (expected)
        ebuf_printf(&b, ", expected %s", expected);
    p_err(p, p->tok.pos, "%s", b.data);
    ebuf_free(&b);
    return NULL;
}

/* ---- literals ---- */

static bool all_in(const char *s, size_t n, const char *set)
{
    for (size_t i = 0; i < n; i++)
        if (!strchr(set, s[i]))
            return false;
    return n > 0;
}

/* Go's strconv.ParseInt(s, 0, 64) on what the lexer lets through:
 * 0x hex, 0-led octal, decimal. */
static bool parse_go_int(const char *s, size_t n, double *out)
{
    int base = 10;
    if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
        base = 16, s += 2, n -= 2;
    else if (n > 1 && s[0] == '0')
        base = 8, s++, n--;
    if (!all_in(s, n,
                base == 16  ? "0123456789abcdefABCDEF"
                : base == 8 ? "01234567"
                            : "0123456789"))
        return false;
    char buf[64];
    if (n >= sizeof(buf))
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    errno = 0;
    unsigned long long v = strtoull(buf, NULL, base);
    if (errno == ERANGE || v > INT64_MAX)
        return false;
    *out = (double)v;
    return true;
}

/* Prometheus's parser.number(): ParseInt, else ParseFloat. */
static double parse_number_token(parser *p, const promql_token *t)
{
    const char *s = p->input + t->pos;
    double v;
    if (parse_go_int(s, t->len, &v))
        return v;
    bool hex = t->len > 1 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
    if (!hex && parse_float(s, t->len, &v) && (!isinf(v) || (s[0] | 0x20) == 'i'))
        return v;
    /* Syntactically a float but too large: Go's ErrRange. */
    char *copy = em_strndup(s, t->len), *end;
    v = hex ? 0 : strtod(copy, &end);
    bool range = !hex && *end == '\0' && isinf(v);
    free(copy);
    if (range) {
        p_err(p, t->pos,
              "error parsing number: strconv.ParseFloat: parsing \"%.*s\": value out of range",
              (int)t->len, s);
        return v;
    }
    ebuf q;
    ebuf_init(&q);
    promql_quote(&q, s, t->len);
    p_err(p, t->pos, "error parsing number: strconv.ParseFloat: parsing %s: invalid syntax",
          q.data);
    ebuf_free(&q);
    return 0;
}

/* A duration token as Prometheus's parseDuration: positive, valid. */
static int64_t parse_duration_token(parser *p)
{
    int64_t ms = 0;
    char derr[128];
    if (promql_parse_duration(p->input + p->tok.pos, p->tok.len, &ms, derr, sizeof(derr)) < 0)
        p_err(p, p->tok.pos, "%s", derr);
    else if (ms == 0)
        p_err(p, p->tok.pos, "duration must be greater than 0");
    p_advance(p);
    return ms;
}

static void unquote_token(parser *p, const promql_token *t, ebuf *out)
{
    if (promql_unquote(p->input + t->pos, t->len, out) < 0)
        p_err(p, t->pos, "error unquoting string");
}

/* ---- selectors ---- */

/* label_matcher: IDENTIFIER match_op STRING. */
static bool parse_matcher(parser *p, promql_expr *vs)
{
    promql_token name = p->tok;
    match_type mt;
    if (name.type != PQ_IDENTIFIER)
        return p_unexpected(p, "label matching", "identifier or \"}\""), false;
    p_advance(p);
    if (!promql_token_match_op(p->tok.type, &mt))
        return p_unexpected(p, "label matching", "label matching operator"), false;
    p_advance(p);
    if (p->tok.type != PQ_STRING)
        return p_unexpected(p, "label matching", "string"), false;
    ebuf value;
    ebuf_init(&value);
    unquote_token(p, &p->tok, &value);
    char *lname = em_strndup(p->input + name.pos, name.len);
    char rerr[sizeof(p->err->msg)];
    label_matcher m;
    vs->matchers = em_realloc(vs->matchers, (vs->nmatchers + 1) * sizeof(label_matcher));
    if (memchr(value.data, '\0', value.len))
        p_err(p, p->tok.pos, "NUL bytes in label values are not supported");
    else if (matcher_init(&m, mt, lname, value.data, rerr, sizeof(rerr)) < 0)
        p_err(p, name.pos, "%s", rerr);
    else
        vs->matchers[vs->nmatchers++] = m;
    free(lname);
    ebuf_free(&value);
    p_advance(p);
    return true;
}

/* label_matchers: "{" [ matcher { "," matcher } [ "," ] ] "}". */
static bool parse_braces(parser *p, promql_expr *vs)
{
    p_advance(p); /* '{' */
    while (p->tok.type != PQ_RIGHT_BRACE) {
        if (!parse_matcher(p, vs))
            return false;
        if (p->tok.type == PQ_COMMA)
            p_advance(p);
        else if (p->tok.type != PQ_RIGHT_BRACE)
            return p_unexpected(p, "label matching", "\",\" or \"}\""), false;
    }
    p_advance(p);
    return true;
}

static promql_expr *parse_selector(parser *p)
{
    promql_expr *vs = promql_node_new(PN_VECTOR, p->tok.pos);
    if (p->tok.type != PQ_LEFT_BRACE) {
        vs->str = em_strndup(p->input + p->tok.pos, p->tok.len);
        p_advance(p);
    }
    if (p->tok.type == PQ_LEFT_BRACE && !parse_braces(p, vs)) {
        promql_expr_free(vs);
        return NULL;
    }
    vs->end = p->last_end;
    return vs;
}

/* ---- label lists ---- */

static bool is_label_name(const char *s, size_t n)
{
    if (n == 0 || (s[0] >= '0' && s[0] <= '9'))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(s[i] == '_' || (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9')))
            return false;
    return true;
}

/* Tokens that may name a label in by/without/on/ignoring/group_x lists. */
static bool maybe_label(promql_token_type t)
{
    return t == PQ_IDENTIFIER || t == PQ_METRIC_IDENTIFIER || promql_token_is_keyword(t) ||
           promql_token_is_aggregator(t) || t == PQ_LAND || t == PQ_LOR || t == PQ_LUNLESS ||
           t == PQ_START || t == PQ_END || t == PQ_ATAN2;
}

/* grouping_labels: "(" [ label { "," label } [ "," ] ] ")". */
static bool parse_label_list(parser *p, promql_labels *out)
{
    if (p->tok.type != PQ_LEFT_PAREN)
        return p_unexpected(p, "grouping opts", "\"(\""), false;
    p_advance(p);
    while (p->tok.type != PQ_RIGHT_PAREN) {
        if (!maybe_label(p->tok.type) || !is_label_name(p->input + p->tok.pos, p->tok.len))
            return p_unexpected(p, "grouping opts", "label"), false;
        promql_labels_push(out, p->input + p->tok.pos, p->tok.len);
        p_advance(p);
        if (p->tok.type == PQ_COMMA)
            p_advance(p);
        else if (p->tok.type != PQ_RIGHT_PAREN)
            return p_unexpected(p, "grouping opts", "\",\" or \")\""), false;
    }
    p_advance(p);
    return true;
}

/* ---- postfix: [range], [range:step], offset, @ ---- */

/* Where the offset and @ of e live, or NULL with Prometheus's error. */
static promql_expr *modifier_target(parser *p, promql_expr *e, const char *what)
{
    if (e->kind == PN_VECTOR || e->kind == PN_SUBQUERY)
        return e;
    if (e->kind == PN_MATRIX)
        return e->lhs;
    p_err(p, e->pos,
          "%s modifier must be preceded by an instant vector selector or range vector "
          "selector or a subquery",
          what);
    return NULL;
}

static promql_expr *parse_range(parser *p, promql_expr *e)
{
    size_t open = p->tok.pos;
    p_advance(p);
    if (p->tok.type != PQ_DURATION)
        return p_unexpected(p, "subquery selector", "duration");
    int64_t range = parse_duration_token(p);
    if (p->tok.type == PQ_RIGHT_BRACKET) {
        if (e->kind != PN_VECTOR)
            p_err(p, open, "ranges only allowed for vector selectors");
        else if (e->offset_ms != 0)
            p_err(p, open, "no offset modifiers allowed before range");
        else if (e->at != PA_NONE)
            p_err(p, open, "no @ modifiers allowed before range");
        p_advance(p);
        promql_expr *m = promql_node_new(PN_MATRIX, e->pos);
        m->lhs = e, m->range_ms = range, m->end = p->last_end, m->depth = e->depth + 1;
        return m;
    }
    if (p->tok.type != PQ_COLON)
        return p_unexpected(p, "subquery or range", "\":\" or \"]\"");
    p_advance(p);
    int64_t step = 0;
    if (p->tok.type == PQ_DURATION) {
        step = parse_duration_token(p);
        if (p->tok.type != PQ_RIGHT_BRACKET)
            return p_unexpected(p, "subquery selector", "\"]\"");
    } else if (p->tok.type != PQ_RIGHT_BRACKET) {
        return p_unexpected(p, "subquery selector", "duration or \"]\"");
    }
    p_advance(p);
    promql_expr *s = promql_node_new(PN_SUBQUERY, e->pos);
    s->lhs = e, s->range_ms = range, s->step_ms = step, s->end = p->last_end;
    s->depth = e->depth + 1;
    return s;
}

static bool parse_offset(parser *p, promql_expr *e)
{
    p_advance(p);
    bool neg = p->tok.type == PQ_SUB;
    if (neg)
        p_advance(p);
    if (p->tok.type != PQ_DURATION)
        return p_unexpected(p, "offset", "duration"), false;
    int64_t ms = parse_duration_token(p);
    promql_expr *t = modifier_target(p, e, "offset");
    if (!t)
        return true;
    if (t->offset_ms != 0)
        p_err(p, e->pos, "offset may not be set multiple times");
    else
        t->offset_ms = neg ? -ms : ms;
    e->end = p->last_end;
    return true;
}

/* Go's int64(f) on amd64: out-of-range values become math.MinInt64. */
static int64_t go_int64(double f)
{
    if (!(f >= -9223372036854775808.0 && f < 9223372036854775808.0))
        return INT64_MIN;
    return (int64_t)f;
}

static void set_at(parser *p, promql_expr *e, promql_at_kind kind, double ts)
{
    promql_expr *t = modifier_target(p, e, "@");
    if (!t)
        return;
    if (t->at != PA_NONE) {
        p_err(p, e->pos, "@ <timestamp> may not be set multiple times");
        return;
    }
    t->at = kind;
    if (kind == PA_TIMESTAMP)
        t->at_ms = go_int64(round(ts * 1000));
    e->end = p->last_end;
}

static bool parse_at(parser *p, promql_expr *e)
{
    p_advance(p);
    promql_token_type t = p->tok.type;
    if (t == PQ_START || t == PQ_END) {
        p_advance(p);
        if (p->tok.type != PQ_LEFT_PAREN || p_peek(p) != PQ_RIGHT_PAREN) {
            if (p->tok.type == PQ_LEFT_PAREN)
                p_advance(p);
            return p_unexpected(p, "@", "timestamp"), false;
        }
        p_advance(p);
        p_advance(p);
        set_at(p, e, t == PQ_START ? PA_START : PA_END, 0);
        return true;
    }
    bool neg = t == PQ_SUB;
    if (t == PQ_ADD || t == PQ_SUB)
        p_advance(p);
    if (p->tok.type != PQ_NUMBER)
        return p_unexpected(p, "@", "timestamp"), false;
    double ts = parse_number_token(p, &p->tok);
    if (neg)
        ts = -ts;
    p_advance(p);
    if (isinf(ts) || isnan(ts) || ts >= 9223372036854775807.0 || ts <= -9223372036854775808.0) {
        char num[FMT_FLOAT_MAX];
        if (isnan(ts) || isinf(ts))
            fmt_float_text(num, ts);
        else
            snprintf(num, sizeof(num), "%f", ts);
        p_err(p, e->pos, "timestamp out of bounds for @ modifier: %s", num);
        return true;
    }
    set_at(p, e, PA_TIMESTAMP, ts);
    return true;
}

static promql_expr *parse_postfix(parser *p, promql_expr *e)
{
    while (e) {
        bool ok = true;
        if (p->tok.type == PQ_LEFT_BRACKET) {
            promql_expr *r = parse_range(p, e);
            if (!r)
                break;
            e = r;
            if (e->depth > PROMQL_MAX_DEPTH) {
                p_err(p, e->pos, "expression nests deeper than %d levels", PROMQL_MAX_DEPTH);
                break;
            }
            continue;
        }
        if (p->tok.type == PQ_OFFSET)
            ok = parse_offset(p, e);
        else if (p->tok.type == PQ_AT)
            ok = parse_at(p, e);
        else
            return e;
        if (!ok)
            break;
    }
    promql_expr_free(e);
    return NULL;
}

/* ---- calls, aggregations, parentheses ---- */

static promql_expr *parse_expr(parser *p, int min_prec);

/* function_call_body: "(" [ expr { "," expr } ] ")", into e->args. */
static bool parse_args(parser *p, promql_expr *e)
{
    p_advance(p); /* '(' */
    while (p->tok.type != PQ_RIGHT_PAREN) {
        promql_expr *a = parse_expr(p, 0);
        if (!a)
            return false;
        e->args = em_realloc(e->args, (e->nargs + 1) * sizeof(*e->args));
        e->args[e->nargs++] = a;
        if (e->depth <= a->depth)
            e->depth = a->depth + 1;
        if (p->tok.type == PQ_COMMA) {
            p_advance(p);
            if (p->tok.type == PQ_RIGHT_PAREN)
                p_err(p, p->last_end - 1, "trailing commas not allowed in function call args");
        } else if (p->tok.type != PQ_RIGHT_PAREN) {
            return p_unexpected(p, NULL, NULL), false;
        }
    }
    p_advance(p);
    e->end = p->last_end;
    return true;
}

static promql_expr *parse_call(parser *p)
{
    promql_token name = p->tok;
    promql_expr *e = promql_node_new(PN_CALL, name.pos);
    e->str = em_strndup(p->input + name.pos, name.len);
    p_advance(p);
    if (!parse_args(p, e)) {
        promql_expr_free(e);
        return NULL;
    }
    e->func = promql_function_lookup(e->str, name.len);
    if (!e->func)
        p_err(p, name.pos, "unknown function with name \"%s\"", e->str);
    return e;
}

static bool parse_grouping(parser *p, promql_expr *e)
{
    e->without = p->tok.type == PQ_WITHOUT;
    e->has_grouping = true;
    p_advance(p);
    return parse_label_list(p, &e->grouping);
}

/* Prometheus's newAggregateExpr: the arguments become param and expr. */
static void aggregate_args(parser *p, promql_expr *e)
{
    bool with_param =
        e->op == PQ_TOPK || e->op == PQ_BOTTOMK || e->op == PQ_COUNT_VALUES || e->op == PQ_QUANTILE;
    size_t want = with_param ? 2 : 1;
    if (e->nargs == 0) {
        p_err(p, e->pos, "no arguments for aggregate expression provided");
        return;
    }
    if (e->nargs != want) {
        p_err(p, e->pos,
              "wrong number of arguments for aggregate expression provided, expected %zu, got %zu",
              want, e->nargs);
        return;
    }
    e->rhs = with_param ? e->args[0] : NULL;
    e->lhs = e->args[want - 1];
    free(e->args);
    e->args = NULL;
    e->nargs = 0;
}

static promql_expr *parse_aggregate(parser *p)
{
    promql_expr *e = promql_node_new(PN_AGGREGATE, p->tok.pos);
    e->op = p->tok.type;
    p_advance(p);
    bool ok = true;
    if (p->tok.type == PQ_BY || p->tok.type == PQ_WITHOUT)
        ok = parse_grouping(p, e);
    if (ok && p->tok.type != PQ_LEFT_PAREN) {
        p_unexpected(p, "aggregation", NULL);
        ok = false;
    }
    if (ok) {
        p->in_aggr++;
        ok = parse_args(p, e);
        p->in_aggr--;
    }
    if (ok && !e->has_grouping && (p->tok.type == PQ_BY || p->tok.type == PQ_WITHOUT)) {
        ok = parse_grouping(p, e);
        e->end = p->last_end;
    }
    if (!ok) {
        promql_expr_free(e);
        return NULL;
    }
    aggregate_args(p, e);
    return e;
}

static promql_expr *parse_paren(parser *p)
{
    promql_expr *e = promql_node_new(PN_PAREN, p->tok.pos);
    p_advance(p);
    e->lhs = parse_expr(p, 0);
    if (e->lhs && p->tok.type != PQ_RIGHT_PAREN)
        p_unexpected(p, NULL, NULL);
    if (!e->lhs || p->tok.type != PQ_RIGHT_PAREN) {
        promql_expr_free(e);
        return NULL;
    }
    p_advance(p);
    e->end = p->last_end;
    e->depth = e->lhs->depth + 1;
    return e;
}

/* ---- primaries and operators ---- */

static promql_expr *parse_primary(parser *p)
{
    promql_token t = p->tok;
    promql_token_type nt = t.type == PQ_EOF || t.type == PQ_ERROR ? PQ_EOF : p_peek(p);
    promql_expr *e;
    if (t.type == PQ_NUMBER) {
        e = promql_node_new(PN_NUMBER, t.pos);
        e->number = parse_number_token(p, &t);
        p_advance(p);
        e->end = p->last_end;
    } else if (t.type == PQ_STRING) {
        e = promql_node_new(PN_STRING, t.pos);
        ebuf s;
        ebuf_init(&s);
        unquote_token(p, &t, &s);
        e->str_len = s.len;
        e->str = em_malloc(s.len + 1);
        memcpy(e->str, s.data ? s.data : "", s.len);
        e->str[s.len] = '\0';
        ebuf_free(&s);
        p_advance(p);
        e->end = p->last_end;
    } else if (t.type == PQ_LEFT_PAREN) {
        e = parse_paren(p);
    } else if (t.type == PQ_IDENTIFIER && nt == PQ_LEFT_PAREN) {
        e = parse_call(p);
    } else if (promql_token_is_aggregator(t.type) &&
               (nt == PQ_LEFT_PAREN || nt == PQ_BY || nt == PQ_WITHOUT)) {
        e = parse_aggregate(p);
    } else if (promql_token_names_metric(t.type) || t.type == PQ_LEFT_BRACE) {
        e = parse_selector(p);
    } else {
        return p_unexpected(p, NULL, NULL);
    }
    return parse_postfix(p, e);
}

static promql_expr *parse_unary(parser *p)
{
    if (p->tok.type != PQ_ADD && p->tok.type != PQ_SUB)
        return parse_primary(p);
    promql_token op = p->tok;
    p_advance(p);
    promql_expr *x = parse_expr(p, 6);
    if (!x)
        return NULL;
    if (x->kind == PN_NUMBER) {
        if (op.type == PQ_SUB)
            x->number = -x->number;
        x->pos = op.pos;
        return x;
    }
    promql_expr *u = promql_node_new(PN_UNARY, op.pos);
    u->op = op.type, u->lhs = x, u->end = x->end, u->depth = x->depth + 1;
    return u;
}

static int precedence(promql_token_type t)
{
    switch (t) {
    case PQ_LOR: return 1;
    case PQ_LAND:
    case PQ_LUNLESS: return 2;
    case PQ_EQLC:
    case PQ_NEQ:
    case PQ_LTE:
    case PQ_LSS:
    case PQ_GTE:
    case PQ_GTR: return 3;
    case PQ_ADD:
    case PQ_SUB: return 4;
    case PQ_MUL:
    case PQ_DIV:
    case PQ_MOD:
    case PQ_ATAN2: return 5;
    case PQ_POW: return 6;
    default: return 0;
    }
}

/* bin_modifier: [bool] [on|ignoring (labels) [group_left|group_right [(labels)]]]. */
static bool parse_bin_modifiers(parser *p, promql_expr *b)
{
    if (p->tok.type == PQ_BOOL) {
        b->return_bool = true;
        p_advance(p);
    }
    if (p->tok.type != PQ_ON && p->tok.type != PQ_IGNORING)
        return true;
    b->on = p->tok.type == PQ_ON;
    p_advance(p);
    if (!parse_label_list(p, &b->matching))
        return false;
    if (p->tok.type != PQ_GROUP_LEFT && p->tok.type != PQ_GROUP_RIGHT)
        return true;
    b->card = p->tok.type == PQ_GROUP_LEFT ? PC_MANY_TO_ONE : PC_ONE_TO_MANY;
    p_advance(p);
    return p->tok.type != PQ_LEFT_PAREN || parse_label_list(p, &b->include);
}

static promql_expr *parse_binary_rest(parser *p, promql_expr *lhs, int min_prec)
{
    int prec;
    while (lhs && (prec = precedence(p->tok.type)) >= min_prec && prec > 0) {
        promql_expr *b = promql_node_new(PN_BINARY, lhs->pos);
        b->op = p->tok.type;
        b->lhs = lhs;
        p_advance(p);
        if (!parse_bin_modifiers(p, b) ||
            !(b->rhs = parse_expr(p, b->op == PQ_POW ? prec : prec + 1))) {
            promql_expr_free(b);
            return NULL;
        }
        b->end = b->rhs->end;
        b->depth = 1 + (b->lhs->depth > b->rhs->depth ? b->lhs->depth : b->rhs->depth);
        lhs = b;
        if (b->depth > PROMQL_MAX_DEPTH) {
            p_err(p, b->rhs->pos, "expression nests deeper than %d levels", PROMQL_MAX_DEPTH);
            promql_expr_free(b);
            return NULL;
        }
    }
    return lhs;
}

static promql_expr *parse_expr(parser *p, int min_prec)
{
    if (++p->nest > PROMQL_MAX_DEPTH) {
        p_err(p, p->tok.pos, "expression nests deeper than %d levels", PROMQL_MAX_DEPTH);
        return NULL;
    }
    promql_expr *e = parse_binary_rest(p, parse_unary(p), min_prec);
    p->nest--;
    return e;
}

/* ---- entry ---- */

int promql_parse(const char *query, promql_expr **out, promql_error *err)
{
    parser p;
    memset(&p, 0, sizeof(p));
    p.input = query;
    p.len = strlen(query);
    p.err = err;
    err->pos = 0;
    err->msg[0] = '\0';
    *out = NULL;
    promql_lexer_init(&p.lx, query, p.len);
    lex_skip_comments(&p, &p.tok);
    if (p.tok.type == PQ_EOF) {
        p_err(&p, 0, "no expression found in input");
        return -1;
    }
    promql_expr *e = parse_expr(&p, 0);
    if (e && p.tok.type != PQ_EOF)
        p_unexpected(&p, NULL, NULL);
    if (e && !p.failed)
        p.failed = !promql_check(query, e, err);
    if (p.failed) {
        promql_expr_free(e);
        return -1;
    }
    *out = e;
    return 0;
}
