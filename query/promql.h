/*
 * promql.h — PromQL parsing: the full grammar (promql_parse, tree in
 * query/ast.h) and plain series selectors (promql_parse_selector, for the
 * match[] parameters).  Evaluation is query/engine.h's.
 */
#ifndef EMBER_QUERY_PROMQL_H
#define EMBER_QUERY_PROMQL_H

#include "query/matcher.h"
#include "query/storage.h"

#include <stddef.h>
#include <stdint.h>

#define PROMQL_DEFAULT_LOOKBACK_MS (5 * 60 * 1000)

typedef struct promql_error {
    size_t pos; /* byte offset of the problem */
    /* Prometheus's text: "1:5: parse error: unexpected character inside braces: '@'" */
    char msg[320];
} promql_error;

typedef struct promql_selector {
    label_matcher *matchers; /* the metric name, if given, is a __name__ = matcher */
    size_t n, cap;
} promql_selector;

/*
 * Parse an instant vector selector: `name`, `name{...}` or `{...}` with
 * =, !=, =~, !~ matchers, single, double or back-quoted strings, optional
 * trailing comma, surrounding whitespace and # comments.  As in Prometheus,
 * a selector must have a name or at least one matcher that does not match
 * the empty string.  Returns 0, or -1 with err set.
 */
int promql_parse_selector(const char *query, promql_selector *out, promql_error *err);
void promql_selector_free(promql_selector *s);

/*
 * The error text for input that is valid PromQL (a function call, an
 * operator, a range, a literal) where only a series selector may stand
 * (/federate's and the series APIs' match[]), as distinct from a syntax
 * error: "1:5: parse error: " PROMQL_ERR_UNSUPPORTED.
 */
#define PROMQL_ERR_UNSUPPORTED "only a series selector is allowed here"
bool promql_error_is_unsupported(const promql_error *err);

/*
 * Canonical PromQL for a selector, as Prometheus's String(): the metric
 * name outside the braces when there is exactly one __name__ matcher, it is
 * an equality and its value can be written bare; the other matchers sorted
 * as strings and joined by ","; values quoted like Go's strconv.Quote.
 * Examples: foo, foo{a="b",c=~"d"}, {__name__=~"x.*"}.  Parsing the output
 * gives the same matchers back.
 */
void promql_selector_format(ebuf *out, const promql_selector *s);

/*
 * The full PromQL grammar of Prometheus 2.42 (parse_expr.c, tree in
 * query/ast.h, printer in print.c).  promql_parse parses a whole query,
 * type-checks it as Prometheus's checkAST does and returns the tree in
 * *out, or -1 with Prometheus's error text ("1:5: parse error: ...") in
 * err.  Nesting deeper than PROMQL_MAX_DEPTH is refused with an error
 * rather than risking the stack.  promql_expr_format prints canonical
 * PromQL, as Prometheus's String(): parsing the output gives the same tree.
 */
typedef struct promql_expr promql_expr;
#define PROMQL_MAX_DEPTH 1000
int promql_parse(const char *query, promql_expr **out, promql_error *err);
void promql_expr_free(promql_expr *e);
void promql_expr_format(ebuf *out, const promql_expr *e);

#endif
