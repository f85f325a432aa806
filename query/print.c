/*
 * print.c — canonical PromQL for a syntax tree, as Prometheus 2.42's
 * String() methods (promql/parser/printer.go) write it on one line:
 * `sum by (job) (rate(x[5m]))`, `a + on (b) group_left (c) d`,
 * `foo{a="b"}[5m:1m] @ 10.000 offset 5m`.  Numbers print as Go's
 * fmt.Sprint of a float64, strings as strconv.Quote, durations as
 * model.Duration, label matchers sorted as strings.  Parentheses come
 * only from PN_PAREN nodes, which keep the tree's shape, so parsing the
 * output gives the same tree back.
 */
#include "query/ast.h"
#include "query/promql.h"

#include "common/etime.h"
#include "common/fmtfloat.h"
#include "common/mem.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void put_duration(ebuf *out, int64_t ms)
{
    char buf[48];
    format_duration_ms(buf, sizeof(buf), ms);
    ebuf_puts(out, buf);
}

static void put_labels(ebuf *out, const promql_labels *l)
{
    ebuf_putc(out, '(');
    for (size_t i = 0; i < l->n; i++)
        ebuf_printf(out, "%s%s", i ? ", " : "", l->names[i]);
    ebuf_putc(out, ')');
}

/* " @ <ts>" then " offset <d>", the order String() uses. */
static void put_modifiers(ebuf *out, const promql_expr *e)
{
    if (e->at == PA_TIMESTAMP)
        ebuf_printf(out, " @ %.3f", (double)e->at_ms / 1000.0);
    else if (e->at == PA_START)
        ebuf_puts(out, " @ start()");
    else if (e->at == PA_END)
        ebuf_puts(out, " @ end()");
    if (e->offset_ms > 0) {
        ebuf_puts(out, " offset ");
        put_duration(out, e->offset_ms);
    } else if (e->offset_ms < 0) {
        ebuf_puts(out, " offset -");
        put_duration(out, -e->offset_ms);
    }
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The selector without its modifiers: name{sorted matchers}. */
static void put_selector(ebuf *out, const promql_expr *vs)
{
    if (vs->str)
        ebuf_puts(out, vs->str);
    if (vs->nmatchers == 0)
        return;
    char **parts = em_calloc(vs->nmatchers, sizeof(char *));
    for (size_t i = 0; i < vs->nmatchers; i++) {
        ebuf b;
        ebuf_init(&b);
        matcher_format(&b, &vs->matchers[i]);
        parts[i] = ebuf_steal(&b, NULL);
    }
    qsort(parts, vs->nmatchers, sizeof(char *), cmp_str); /* Go's sort.Strings */
    ebuf_putc(out, '{');
    for (size_t i = 0; i < vs->nmatchers; i++) {
        ebuf_printf(out, "%s%s", i ? "," : "", parts[i]);
        free(parts[i]);
    }
    ebuf_putc(out, '}');
    free(parts);
}

static void put_binary(ebuf *out, const promql_expr *b)
{
    /* Go prints +Inf with its sign, which before ^ would reparse as a
     * unary plus over the power (Prometheus's own String() has this flaw):
     * there, write Inf bare. */
    if (b->op == PQ_POW && b->lhs->kind == PN_NUMBER && isinf(b->lhs->number) && b->lhs->number > 0)
        ebuf_puts(out, "Inf");
    else
        promql_expr_format(out, b->lhs);
    ebuf_printf(out, " %s%s", promql_op_text(b->op), b->return_bool ? " bool" : "");
    if (b->matching.n > 0 || b->on) {
        ebuf_puts(out, b->on ? " on " : " ignoring ");
        put_labels(out, &b->matching);
        if (b->card == PC_MANY_TO_ONE || b->card == PC_ONE_TO_MANY) {
            ebuf_puts(out, b->card == PC_MANY_TO_ONE ? " group_left " : " group_right ");
            put_labels(out, &b->include);
        }
    }
    ebuf_putc(out, ' ');
    promql_expr_format(out, b->rhs);
}

static void put_aggregate(ebuf *out, const promql_expr *a)
{
    ebuf_puts(out, promql_op_text(a->op));
    if (a->without || a->grouping.n > 0) {
        ebuf_puts(out, a->without ? " without " : " by ");
        put_labels(out, &a->grouping);
        ebuf_putc(out, ' ');
    }
    ebuf_putc(out, '(');
    if (a->rhs) {
        promql_expr_format(out, a->rhs);
        ebuf_puts(out, ", ");
    }
    promql_expr_format(out, a->lhs);
    ebuf_putc(out, ')');
}

/* Recursion is bounded by the parser's depth limit (PROMQL_MAX_DEPTH). */
void promql_expr_format(ebuf *out, const promql_expr *e)
{
    char num[FMT_FLOAT_MAX];
    switch (e->kind) {
    case PN_NUMBER:
        fmt_float_text(num, e->number);
        ebuf_puts(out, num);
        break;
    case PN_STRING: promql_quote(out, e->str, e->str_len); break;
    case PN_VECTOR:
        put_selector(out, e);
        put_modifiers(out, e);
        break;
    case PN_MATRIX:
        put_selector(out, e->lhs);
        ebuf_putc(out, '[');
        put_duration(out, e->range_ms);
        ebuf_putc(out, ']');
        put_modifiers(out, e->lhs);
        break;
    case PN_SUBQUERY:
        promql_expr_format(out, e->lhs);
        ebuf_putc(out, '[');
        put_duration(out, e->range_ms);
        ebuf_putc(out, ':');
        if (e->step_ms)
            put_duration(out, e->step_ms);
        ebuf_putc(out, ']');
        put_modifiers(out, e);
        break;
    case PN_UNARY:
        ebuf_puts(out, promql_op_text(e->op));
        promql_expr_format(out, e->lhs);
        break;
    case PN_BINARY: put_binary(out, e); break;
    case PN_AGGREGATE: put_aggregate(out, e); break;
    case PN_CALL:
        ebuf_printf(out, "%s(", e->func->name);
        for (size_t i = 0; i < e->nargs; i++) {
            if (i)
                ebuf_puts(out, ", ");
            promql_expr_format(out, e->args[i]);
        }
        ebuf_putc(out, ')');
        break;
    case PN_PAREN:
        ebuf_putc(out, '(');
        promql_expr_format(out, e->lhs);
        ebuf_putc(out, ')');
        break;
    }
}
