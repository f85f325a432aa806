/*
 * test_promql_parse.c — the full PromQL parser (query/parse_expr.c), its
 * tree (query/ast.c) and printer (query/print.c).
 *
 * Both tables were produced by sending each query to Prometheus 2.42's
 * /api/v1/format_query: for valid queries `want` is Prometheus's canonical
 * text, for invalid ones `err` is its exact error (position included).
 * Valid queries also round-trip: the printed text parses to an equal tree
 * and prints the same.  Regex error texts are left out: PCRE2's messages
 * are not Go's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "query/ast.h"
#include "query/promql.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* clang-format off */
static const struct { const char *query, *want; } valid_queries[] = {
    {"up", "up"},
    {"up{job=\"node\"}", "up{job=\"node\"}"},
    {"up{job=\"node\",instance=~\"10\\\\..*\"}", "up{instance=~\"10\\\\..*\",job=\"node\"}"},
    {"up{job!=\"a\",env!~\"dev|test\"}", "up{env!~\"dev|test\",job!=\"a\"}"},
    {"{job=\"x\"}", "{job=\"x\"}"},
    {"{__name__=~\"node_.*\"}", "{__name__=~\"node_.*\"}"},
    {"{__name__=\"up\",job=\"x\"}", "{__name__=\"up\",job=\"x\"}"},
    {"node_cpu_seconds_total:rate5m", "node_cpu_seconds_total:rate5m"},
    {"sum", "sum"},
    {"by", "by"},
    {"offset", "offset"},
    {"and{a=\"b\"}", "and{a=\"b\"}"},
    {"up{job=\"a\",}", "up{job=\"a\"}"},
    {"up{}", "up"},
    {"up # a comment", "up"},
    {"# leading comment\nup", "up"},
    {"up\n+\nfoo", "up + foo"},
    {"up[1h30m]", "up[1h30m]"},
    {"up[1y]", "up[1y]"},
    {"up[2w]", "up[2w]"},
    {"up[90d]", "up[90d]"},
    {"up[100ms]", "up[100ms]"},
    {"up[1m30s500ms]", "up[1m30s500ms]"},
    {"up offset 1w", "up offset 1w"},
    {"up offset -1d", "up offset -1d"},
    {"up offset 90s", "up offset 1m30s"},
    {"up @ 1609746000", "up @ 1609746000.000"},
    {"up @ 1609746000.5", "up @ 1609746000.500"},
    {"up @ -10", "up @ -10.000"},
    {"up @ +10", "up @ 10.000"},
    {"up @ 0x10", "up @ 16.000"},
    {"up @ start() offset 5m", "up @ start() offset 5m"},
    {"up[5m] offset 5m @ end()", "up[5m] @ end() offset 5m"},
    {"up[5m] @ start()", "up[5m] @ start()"},
    {"rate(up[5m] offset 1h)", "rate(up[5m] offset 1h)"},
    {"rate(http_requests_total{code=~\"5..\"}[5m])",
     "rate(http_requests_total{code=~\"5..\"}[5m])"},
    {"irate(x[1m])", "irate(x[1m])"},
    {"increase(x[1h])", "increase(x[1h])"},
    {"delta(x[10m])", "delta(x[10m])"},
    {"idelta(x[5m])", "idelta(x[5m])"},
    {"deriv(x[5m])", "deriv(x[5m])"},
    {"predict_linear(x[1h], 3600)", "predict_linear(x[1h], 3600)"},
    {"changes(x[1h])", "changes(x[1h])"},
    {"resets(x[1h])", "resets(x[1h])"},
    {"holt_winters(x[1h], 0.5, 0.5)", "holt_winters(x[1h], 0.5, 0.5)"},
    {"avg_over_time(x[5m])", "avg_over_time(x[5m])"},
    {"min_over_time(x[5m])", "min_over_time(x[5m])"},
    {"max_over_time(x[5m])", "max_over_time(x[5m])"},
    {"sum_over_time(x[5m])", "sum_over_time(x[5m])"},
    {"count_over_time(x[5m])", "count_over_time(x[5m])"},
    {"quantile_over_time(0.9, x[5m])", "quantile_over_time(0.9, x[5m])"},
    {"stddev_over_time(x[5m])", "stddev_over_time(x[5m])"},
    {"stdvar_over_time(x[5m])", "stdvar_over_time(x[5m])"},
    {"last_over_time(x[5m])", "last_over_time(x[5m])"},
    {"present_over_time(x[5m])", "present_over_time(x[5m])"},
    {"absent_over_time(x[5m])", "absent_over_time(x[5m])"},
    {"absent(x)", "absent(x)"},
    {"histogram_quantile(0.99, sum by (le) (rate(http_bucket[5m])))",
     "histogram_quantile(0.99, sum by (le) (rate(http_bucket[5m])))"},
    {"histogram_quantile(0.5, rate(b[5m]))", "histogram_quantile(0.5, rate(b[5m]))"},
    {"histogram_count(x)", "histogram_count(x)"},
    {"histogram_sum(x)", "histogram_sum(x)"},
    {"histogram_fraction(0, 1, x)", "histogram_fraction(0, 1, x)"},
    {"abs(x)", "abs(x)"},
    {"ceil(x)", "ceil(x)"},
    {"floor(x)", "floor(x)"},
    {"round(x)", "round(x)"},
    {"round(x, 0.5)", "round(x, 0.5)"},
    {"sqrt(x)", "sqrt(x)"},
    {"exp(x)", "exp(x)"},
    {"ln(x)", "ln(x)"},
    {"log2(x)", "log2(x)"},
    {"log10(x)", "log10(x)"},
    {"sgn(x)", "sgn(x)"},
    {"clamp(x, 0, 1)", "clamp(x, 0, 1)"},
    {"clamp_min(x, 0)", "clamp_min(x, 0)"},
    {"clamp_max(x, 1)", "clamp_max(x, 1)"},
    {"sin(x)", "sin(x)"},
    {"cos(x)", "cos(x)"},
    {"tan(x)", "tan(x)"},
    {"asin(x)", "asin(x)"},
    {"acos(x)", "acos(x)"},
    {"atan(x)", "atan(x)"},
    {"sinh(x)", "sinh(x)"},
    {"cosh(x)", "cosh(x)"},
    {"tanh(x)", "tanh(x)"},
    {"asinh(x)", "asinh(x)"},
    {"acosh(x)", "acosh(x)"},
    {"atanh(x)", "atanh(x)"},
    {"deg(x)", "deg(x)"},
    {"rad(x)", "rad(x)"},
    {"pi()", "pi()"},
    {"scalar(x)", "scalar(x)"},
    {"vector(1)", "vector(1)"},
    {"time()", "time()"},
    {"timestamp(x)", "timestamp(x)"},
    {"sort(x)", "sort(x)"},
    {"sort_desc(x)", "sort_desc(x)"},
    {"label_replace(x, \"dst\", \"$1\", \"src\", \"(.*)\")",
     "label_replace(x, \"dst\", \"$1\", \"src\", \"(.*)\")"},
    {"label_join(x, \"dst\", \"-\", \"a\", \"b\")", "label_join(x, \"dst\", \"-\", \"a\", \"b\")"},
    {"label_join(x, \"dst\", \"-\")", "label_join(x, \"dst\", \"-\")"},
    {"day_of_month()", "day_of_month()"},
    {"day_of_month(x)", "day_of_month(x)"},
    {"day_of_week(x)", "day_of_week(x)"},
    {"day_of_year(x)", "day_of_year(x)"},
    {"days_in_month(x)", "days_in_month(x)"},
    {"hour(x)", "hour(x)"},
    {"minute(x)", "minute(x)"},
    {"month(x)", "month(x)"},
    {"year(x)", "year(x)"},
    {"year(vector(time()))", "year(vector(time()))"},
    {"sum(x)", "sum(x)"},
    {"avg(x)", "avg(x)"},
    {"min(x)", "min(x)"},
    {"max(x)", "max(x)"},
    {"group(x)", "group(x)"},
    {"count(x)", "count(x)"},
    {"stddev(x)", "stddev(x)"},
    {"stdvar(x)", "stdvar(x)"},
    {"sum by (a, b) (x)", "sum by (a, b) (x)"},
    {"sum by (a,) (x)", "sum by (a) (x)"},
    {"sum without (instance) (x)", "sum without (instance) (x)"},
    {"sum(x) without (instance)", "sum without (instance) (x)"},
    {"SUM BY (job) (x)", "sum by (job) (x)"},
    {"sum by (sum, by, on, bool, offset) (x)", "sum by (sum, by, on, bool, offset) (x)"},
    {"sum by (start, end, atan2, and) (x)", "sum by (start, end, atan2, and) (x)"},
    {"topk(3, x)", "topk(3, x)"},
    {"bottomk(3, x)", "bottomk(3, x)"},
    {"topk by (job) (3, x)", "topk by (job) (3, x)"},
    {"quantile(0.5, x)", "quantile(0.5, x)"},
    {"quantile without (a) (0.5, x)", "quantile without (a) (0.5, x)"},
    {"count_values(\"value\", x)", "count_values(\"value\", x)"},
    {"count_values by (a) (\"value\", x)", "count_values by (a) (\"value\", x)"},
    {"topk(scalar(y), x)", "topk(scalar(y), x)"},
    {"sum(rate(x[5m])) by (job) / sum(rate(y[5m])) by (job)",
     "sum by (job) (rate(x[5m])) / sum by (job) (rate(y[5m]))"},
    {"1 + 2", "1 + 2"},
    {"1 - 2 - 3", "1 - 2 - 3"},
    {"1 - (2 - 3)", "1 - (2 - 3)"},
    {"2 ^ 3 ^ 2", "2 ^ 3 ^ 2"},
    {"(2 ^ 3) ^ 2", "(2 ^ 3) ^ 2"},
    {"-2 ^ 2", "-2 ^ 2"},
    {"(-2) ^ 2", "(-2) ^ 2"},
    {"-x ^ 2", "-x ^ 2"},
    {"2 * -3", "2 * -3"},
    {"2 ^ -1 * 3", "2 ^ -1 * 3"},
    {"1 + 2 * 3 - 4 / 5 % 6", "1 + 2 * 3 - 4 / 5 % 6"},
    {"x atan2 y", "x atan2 y"},
    {"1 atan2 2", "1 atan2 2"},
    {"x + y * z", "x + y * z"},
    {"(x + y) * z", "(x + y) * z"},
    {"x == y", "x == y"},
    {"x != bool y", "x != bool y"},
    {"x > 1", "x > 1"},
    {"x >= bool 1", "x >= bool 1"},
    {"1 < bool 2", "1 < bool 2"},
    {"x <= y", "x <= y"},
    {"x and y", "x and y"},
    {"x or y", "x or y"},
    {"x unless y", "x unless y"},
    {"x and y or z", "x and y or z"},
    {"x or y and z", "x or y and z"},
    {"x unless y or z and w", "x unless y or z and w"},
    {"x > 0 and y < 1 or z == 2", "x > 0 and y < 1 or z == 2"},
    {"x * on (a) y", "x * on (a) y"},
    {"x * ignoring (a, b) y", "x * ignoring (a, b) y"},
    {"x * on (a) group_left y", "x * on (a) group_left () y"},
    {"x * on (a) group_left (b, c) y", "x * on (a) group_left (b, c) y"},
    {"x * on (a) group_right (b) y", "x * on (a) group_right (b) y"},
    {"x * ignoring (a) group_left () y", "x * ignoring (a) group_left () y"},
    {"x == bool on (a) y", "x == bool on (a) y"},
    {"x and on (a) y", "x and on (a) y"},
    {"x or ignoring (a) y", "x or ignoring (a) y"},
    {"x + on () y", "x + on () y"},
    {"-x", "-x"},
    {"+x", "+x"},
    {"- - x", "--x"},
    {"-(x)", "-(x)"},
    {"-rate(x[5m])", "-rate(x[5m])"},
    {"- -1", "1"},
    {"+1", "1"},
    {"-1", "-1"},
    {"1e3", "1000"},
    {"1.5e-7", "1.5e-07"},
    {".5", "0.5"},
    {"5.", "5"},
    {"0.1", "0.1"},
    {"1000000", "1e+06"},
    {"100000", "100000"},
    {"-0.0", "-0"},
    {"0x0", "0"},
    {"0xff", "255"},
    {"Inf", "+Inf"},
    {"+Inf", "+Inf"},
    {"-inf", "-Inf"},
    {"nan", "NaN"},
    {"\"string\"", "\"string\""},
    {"\"with \\\"quote\\\"\"", "\"with \\\"quote\\\"\""},
    {"'single'", "\"single\""},
    {"`raw\\string`", "\"raw\\\\string\""},
    {"\"\\u00e9\\n\\t\"", "\"\303\251\\n\\t\""},
    {"x[5m:]", "x[5m:]"},
    {"x[5m:1m]", "x[5m:1m]"},
    {"rate(x[5m])[1h:5m]", "rate(x[5m])[1h:5m]"},
    {"max_over_time(rate(x[5m])[1h:])", "max_over_time(rate(x[5m])[1h:])"},
    {"max_over_time(rate(x[5m])[1h:] offset 1d)", "max_over_time(rate(x[5m])[1h:] offset 1d)"},
    {"x[5m:] @ 100", "x[5m:] @ 100.000"},
    {"(x + y)[5m:1m]", "(x + y)[5m:1m]"},
    {"sum(x)[5m:]", "sum(x)[5m:]"},
    {"vector(1)[5m:]", "vector(1)[5m:]"},
    {"x offset 5m[5m:]", "x offset 5m[5m:]"},
    {"avg_over_time((x - y)[10m:1m])", "avg_over_time((x - y)[10m:1m])"},
    {"sum by (job) (rate(x[5m])) > bool 0.5", "sum by (job) (rate(x[5m])) > bool 0.5"},
    {"((x))", "((x))"},
    {"(((1)))", "(((1)))"},
    {"rate((x[5m]))", "rate((x[5m]))"},
    {"sum(sum(sum(x)))", "sum(sum(sum(x)))"},
    {"absent(nonexistent{job=\"x\"})", "absent(nonexistent{job=\"x\"})"},
    {"1 + -x", "1 + -x"},
    {"x + -1", "x + -1"},
    {"x - -1", "x - -1"},
    {"x offset 1h + y offset -1h", "x offset 1h + y offset -1h"},
    {"foo @ 1.234", "foo @ 1.234"},
    {"foo @ 0.0005", "foo @ 0.001"},
    {"foo @ 1e3", "foo @ 1000.000"},
};

static const struct { const char *query, *err; } invalid_queries[] = {
    {"-x[5m:]",
     "1:1: parse error: unary expression only allowed on expressions of type scalar or instant vector, got \"range vector\""},
    {"rate(foo)",
     "1:6: parse error: expected type range vector in call to function \"rate\", got instant vector"},
    {"rate(foo[5m], 1)", "1:1: parse error: expected 1 argument(s) in call to \"rate\", got 2"},
    {"foo[5m] + 1",
     "1:1: parse error: binary expression must contain only scalar and instant vector types"},
    {"1 == 1", "1:3: parse error: comparisons between scalars must use BOOL modifier"},
    {"foo + bool bar", "1:5: parse error: bool modifier can only be used on comparison operators"},
    {"1 and foo", "1:1: parse error: set operator \"and\" not allowed in binary scalar expression"},
    {"foo and on (a) group_left bar",
     "1:1: parse error: no grouping allowed for \"and\" operation"},
    {"foo and on (a) group_left (b) bar",
     "1:1: parse error: no grouping allowed for \"and\" operation"},
    {"foo + on (a) group_left (a) bar",
     "1:5: parse error: label \"a\" must not occur in ON and GROUP clause at once"},
    {"1 + on (a) foo", "1:1: parse error: vector matching only allowed between instant vectors"},
    {"\"a\" + 1",
     "1:1: parse error: binary expression must contain only scalar and instant vector types"},
    {"-\"a\"",
     "1:1: parse error: unary expression only allowed on expressions of type scalar or instant vector, got \"string\""},
    {"-foo[5m]",
     "1:1: parse error: unary expression only allowed on expressions of type scalar or instant vector, got \"range vector\""},
    {"foo[5m][5m]", "1:8: parse error: ranges only allowed for vector selectors"},
    {"foo[5m][5m:1m]",
     "1:1: parse error: subquery is only allowed on instant vector, got matrix instead"},
    {"1[5m]", "1:2: parse error: ranges only allowed for vector selectors"},
    {"(foo)[5m]", "1:6: parse error: ranges only allowed for vector selectors"},
    {"foo offset 5m [5m]", "1:15: parse error: no offset modifiers allowed before range"},
    {"foo @ 1 [5m]", "1:9: parse error: no @ modifiers allowed before range"},
    {"foo offset 5m offset 5m", "1:1: parse error: offset may not be set multiple times"},
    {"foo @ 1 @ 2", "1:1: parse error: @ <timestamp> may not be set multiple times"},
    {"1 offset 5m",
     "1:1: parse error: offset modifier must be preceded by an instant vector selector or range vector selector or a subquery"},
    {"rate(foo[5m]) offset 5m",
     "1:1: parse error: offset modifier must be preceded by an instant vector selector or range vector selector or a subquery"},
    {"sum(foo) @ 1",
     "1:1: parse error: @ modifier must be preceded by an instant vector selector or range vector selector or a subquery"},
    {"foo @ start", "1:12: parse error: unexpected end of input in @, expected timestamp"},
    {"foo @ bar", "1:7: parse error: unexpected identifier \"bar\" in @, expected timestamp"},
    {"foo offset bar",
     "1:12: parse error: unexpected identifier \"bar\" in offset, expected duration"},
    {"foo offset", "1:11: parse error: unexpected end of input in offset, expected duration"},
    {"foo @", "1:6: parse error: unexpected end of input in @, expected timestamp"},
    {"foo[0s]", "1:5: parse error: duration must be greater than 0"},
    {"foo[5m", "1:7: parse error: unclosed left bracket"},
    {"foo[5]", "1:5: parse error: missing unit character in duration"},
    {"foo[5m:1]",
     "1:8: parse error: unexpected number \"1\" in subquery selector, expected duration or \"]\""},
    {"foo[5m:1m", "1:10: parse error: unclosed left bracket"},
    {"foo[5m 1m]",
     "1:8: parse error: unexpected duration \"1m\" in subquery or range, expected \":\" or \"]\""},
    {"foo[bar]", "1:5: parse error: bad duration syntax: \"\""},
    {"sum()", "1:1: parse error: no arguments for aggregate expression provided"},
    {"sum(1, foo)",
     "1:1: parse error: wrong number of arguments for aggregate expression provided, expected 1, got 2"},
    {"topk(foo)",
     "1:1: parse error: wrong number of arguments for aggregate expression provided, expected 2, got 1"},
    {"topk(foo, bar)",
     "1:6: parse error: expected type scalar in aggregation parameter, got instant vector"},
    {"count_values(1, foo)",
     "1:14: parse error: expected type string in aggregation parameter, got scalar"},
    {"quantile(\"a\", foo)",
     "1:10: parse error: expected type scalar in aggregation parameter, got string"},
    {"sum(rate(foo))",
     "1:10: parse error: expected type range vector in call to function \"rate\", got instant vector"},
    {"sum by a (foo)",
     "1:8: parse error: unexpected identifier \"a\" in grouping opts, expected \"(\""},
    {"sum by (a b) (foo)",
     "1:11: parse error: unexpected identifier \"b\" in grouping opts, expected \",\" or \")\""},
    {"sum by (1) (foo)",
     "1:9: parse error: unexpected number \"1\" in grouping opts, expected label"},
    {"sum by (a:b) (foo)",
     "1:9: parse error: unexpected metric identifier \"a:b\" in grouping opts, expected label"},
    {"sum foo", "1:5: parse error: unexpected identifier \"foo\""},
    {"sum(foo bar)", "1:9: parse error: unexpected identifier \"bar\" in aggregation"},
    {"sum(foo +)", "1:10: parse error: unexpected \")\" in aggregation"},
    {"nosuch(foo)", "1:1: parse error: unknown function with name \"nosuch\""},
    {"nosuch(foo,)", "1:11: parse error: trailing commas not allowed in function call args"},
    {"rate(foo[5m],)", "1:13: parse error: trailing commas not allowed in function call args"},
    {"round()", "1:1: parse error: expected at least 1 argument(s) in call to \"round\", got 0"},
    {"round(foo, 1, 2)",
     "1:1: parse error: expected at most 2 argument(s) in call to \"round\", got 3"},
    {"label_join(foo, \"a\")",
     "1:1: parse error: expected at least 3 argument(s) in call to \"label_join\", got 2"},
    {"label_replace(foo, \"a\", \"b\", \"c\")",
     "1:1: parse error: expected 5 argument(s) in call to \"label_replace\", got 4"},
    {"clamp(foo, 1)", "1:1: parse error: expected 3 argument(s) in call to \"clamp\", got 2"},
    {"vector(\"a\")",
     "1:8: parse error: expected type scalar in call to function \"vector\", got string"},
    {"scalar(foo[5m])",
     "1:8: parse error: expected type instant vector in call to function \"scalar\", got range vector"},
    {"histogram_quantile(foo, bar)",
     "1:20: parse error: expected type scalar in call to function \"histogram_quantile\", got instant vector"},
    {"time(1)", "1:1: parse error: expected 0 argument(s) in call to \"time\", got 1"},
    {"day_of_week(foo, bar)",
     "1:1: parse error: expected at most 1 argument(s) in call to \"day_of_week\", got 2"},
    {"{}", "1:1: parse error: vector selector must contain at least one non-empty matcher"},
    {"{a=\"\"}", "1:1: parse error: vector selector must contain at least one non-empty matcher"},
    {"{a=~\".*\"}",
     "1:1: parse error: vector selector must contain at least one non-empty matcher"},
    {"foo{__name__=\"bar\"}",
     "1:1: parse error: metric name must not be set twice: \"foo\" or \"bar\""},
    {"foo{a=\"b\",,}",
     "1:11: parse error: unexpected \",\" in label matching, expected identifier or \"}\""},
    {"foo{a}",
     "1:6: parse error: unexpected \"}\" in label matching, expected label matching operator"},
    {"foo{a=\"b\" c=\"d\"}",
     "1:11: parse error: unexpected identifier \"c\" in label matching, expected \",\" or \"}\""},
    {"foo{a=1}", "1:7: parse error: unexpected character inside braces: '1'"},
    {"foo +", "1:6: parse error: unexpected end of input"},
    {"foo + )", "1:8: parse error: unexpected right parenthesis ')'"},
    {"(foo", "1:5: parse error: unclosed left parenthesis"},
    {"foo)", "1:5: parse error: unexpected right parenthesis ')'"},
    {"foo bar", "1:5: parse error: unexpected identifier \"bar\""},
    {"1 2", "1:3: parse error: unexpected number \"2\""},
    {"\"a\" \"b\"", "1:5: parse error: unexpected string \"\\\"b\\\"\""},
    {"foo + on bar",
     "1:10: parse error: unexpected identifier \"bar\" in grouping opts, expected \"(\""},
    {"foo + on (a) group_left bar baz", "1:29: parse error: unexpected identifier \"baz\""},
    {"foo[5m:1m][1m]", "1:11: parse error: ranges only allowed for vector selectors"},
    {"(1 + 2)[5m:]",
     "1:1: parse error: subquery is only allowed on instant vector, got scalar instead"},
    {"\"foo\"[5m:]",
     "1:1: parse error: subquery is only allowed on instant vector, got string instead"},
    {"foo @ 1e400",
     "1:7: parse error: error parsing number: strconv.ParseFloat: parsing \"1e400\": value out of range"},
    {"foo @ Inf", "1:1: parse error: timestamp out of bounds for @ modifier: +Inf"},
    {"foo @ NaN", "1:1: parse error: timestamp out of bounds for @ modifier: NaN"},
    {"foo offset 0s", "1:12: parse error: duration must be greater than 0"},
    {"foo offset -", "1:13: parse error: unexpected end of input in offset, expected duration"},
    {"foo $", "1:5: parse error: unexpected character: '$'"},
    {"foo{a=\"b", "1:7: parse error: unterminated quoted string"},
    {"foo{a=\"\\q\"}", "1:7: parse error: unknown escape sequence U+0071 'q'"},
    {"\"abc", "1:1: parse error: unterminated quoted string"},
    {"`abc", "1:1: parse error: unterminated raw string"},
    {"foo[5m", "1:7: parse error: unclosed left bracket"},
    {"foo]", "1:4: parse error: unexpected right bracket ']'"},
    {"foo}", "1:4: parse error: unexpected character: '}'"},
    {"foo{a!b}", "1:6: parse error: unexpected character after '!' inside braces: 'b'"},
    {"1.2.3", "1:4: parse error: unexpected number \".3\""},
    {"5mm", "1:1: parse error: bad number or duration syntax: \"5mm\""},
    {"foo[5m]\n + \n 1",
     "1:1: parse error: binary expression must contain only scalar and instant vector types"},
    {"\n\nfoo bar", "3:5: parse error: unexpected identifier \"bar\""},
    {"# only a comment", "1:1: parse error: no expression found in input"},
    {"sum(\nx) by (a) + bar[1m]",
     "2:13: parse error: binary expression must contain only scalar and instant vector types"},
    {"rate(\n  foo\n)",
     "2:3: parse error: expected type range vector in call to function \"rate\", got instant vector"},
};
/* clang-format on */

#define N(a) (sizeof(a) / sizeof((a)[0]))

static char *format(const promql_expr *e)
{
    ebuf b;
    ebuf_init(&b);
    promql_expr_format(&b, e);
    ebuf_putc(&b, '\0');
    return ebuf_steal(&b, NULL);
}

static bool names_equal(const promql_labels *a, const promql_labels *b)
{
    if (a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->names[i], b->names[i]) != 0)
            return false;
    return true;
}

static bool matchers_equal(const promql_expr *a, const promql_expr *b)
{
    if (a->nmatchers != b->nmatchers || (a->str == NULL) != (b->str == NULL) ||
        (a->str && strcmp(a->str, b->str) != 0))
        return false;
    /* The printer sorts matchers: compare as sets. */
    for (size_t i = 0; i < a->nmatchers; i++) {
        bool found = false;
        for (size_t j = 0; j < b->nmatchers && !found; j++)
            found = a->matchers[i].type == b->matchers[j].type &&
                    strcmp(a->matchers[i].name, b->matchers[j].name) == 0 &&
                    strcmp(a->matchers[i].value, b->matchers[j].value) == 0;
        if (!found)
            return false;
    }
    return true;
}

/* Structural equality of two trees, positions aside. */
static bool ast_equal(const promql_expr *a, const promql_expr *b)
{
    if (!a || !b)
        return a == b;
    if (a->kind != b->kind || a->op != b->op || a->offset_ms != b->offset_ms || a->at != b->at ||
        a->at_ms != b->at_ms || a->range_ms != b->range_ms || a->step_ms != b->step_ms ||
        a->return_bool != b->return_bool || a->on != b->on || a->card != b->card ||
        a->without != b->without || a->func != b->func || a->nargs != b->nargs)
        return false;
    if (a->kind == PN_NUMBER && !(a->number == b->number || (isnan(a->number) && isnan(b->number))))
        return false;
    if (a->kind == PN_STRING &&
        (a->str_len != b->str_len || memcmp(a->str, b->str, a->str_len) != 0))
        return false;
    if (a->kind == PN_VECTOR && !matchers_equal(a, b))
        return false;
    if (!names_equal(&a->matching, &b->matching) || !names_equal(&a->include, &b->include) ||
        !names_equal(&a->grouping, &b->grouping))
        return false;
    for (size_t i = 0; i < a->nargs; i++)
        if (!ast_equal(a->args[i], b->args[i]))
            return false;
    return ast_equal(a->lhs, b->lhs) && ast_equal(a->rhs, b->rhs);
}

static void test_valid_queries(void **state)
{
    (void)state;
    for (size_t i = 0; i < N(valid_queries); i++) {
        promql_expr *e, *again;
        promql_error err;
        if (promql_parse(valid_queries[i].query, &e, &err) != 0)
            fail_msg("%s: %s", valid_queries[i].query, err.msg);
        char *text = format(e);
        if (strcmp(text, valid_queries[i].want) != 0)
            fail_msg("%s: printed %s, Prometheus %s", valid_queries[i].query, text,
                     valid_queries[i].want);
        if (promql_parse(text, &again, &err) != 0)
            fail_msg("%s: reparse of %s: %s", valid_queries[i].query, text, err.msg);
        if (!ast_equal(e, again))
            fail_msg("%s: reparse of %s gives another tree", valid_queries[i].query, text);
        char *text2 = format(again);
        assert_string_equal(text, text2);
        free(text);
        free(text2);
        promql_expr_free(e);
        promql_expr_free(again);
    }
}

static void test_invalid_queries(void **state)
{
    (void)state;
    for (size_t i = 0; i < N(invalid_queries); i++) {
        promql_expr *e = (promql_expr *)1;
        promql_error err;
        if (promql_parse(invalid_queries[i].query, &e, &err) == 0)
            fail_msg("%s: parsed, want %s", invalid_queries[i].query, invalid_queries[i].err);
        assert_null(e);
        if (strcmp(err.msg, invalid_queries[i].err) != 0)
            fail_msg("%s: error %s, Prometheus %s", invalid_queries[i].query, err.msg,
                     invalid_queries[i].err);
    }
}

/* The tree and types the parser builds, beyond what printing shows. */
static void test_tree_shape(void **state)
{
    (void)state;
    promql_expr *e;
    promql_error err;
    assert_int_equal(promql_parse("-2^2", &e, &err), 0);
    assert_int_equal(e->kind, PN_UNARY);
    assert_int_equal(e->lhs->kind, PN_BINARY);
    assert_int_equal(e->lhs->op, PQ_POW);
    promql_expr_free(e);

    assert_int_equal(promql_parse("a or b and c", &e, &err), 0);
    assert_int_equal(e->op, PQ_LOR);
    assert_int_equal(e->card, PC_MANY_TO_MANY);
    assert_int_equal(e->rhs->op, PQ_LAND);
    promql_expr_free(e);

    assert_int_equal(promql_parse("x offset -5m @ end()", &e, &err), 0);
    assert_int_equal(e->offset_ms, -300000);
    assert_int_equal(e->at, PA_END);
    promql_expr_free(e);

    assert_int_equal(promql_parse("foo[1h:] @ 1.5", &e, &err), 0);
    assert_int_equal(e->kind, PN_SUBQUERY);
    assert_int_equal(e->range_ms, 3600000);
    assert_int_equal(e->step_ms, 0);
    assert_int_equal(e->at_ms, 1500);
    assert_int_equal(promql_expr_type(e), PV_MATRIX);
    promql_expr_free(e);

    assert_int_equal(promql_parse("count_values without (a) (\"v\", x)", &e, &err), 0);
    assert_int_equal(e->kind, PN_AGGREGATE);
    assert_true(e->without);
    assert_int_equal(e->rhs->kind, PN_STRING);
    assert_int_equal(e->lhs->kind, PN_VECTOR);
    promql_expr_free(e);

    assert_int_equal(promql_parse("x * on (a) group_right (b) y", &e, &err), 0);
    assert_int_equal(e->card, PC_ONE_TO_MANY);
    assert_string_equal(e->include.names[0], "b");
    promql_expr_free(e);

    assert_int_equal(promql_parse("017 + 0x10", &e, &err), 0);
    assert_true(e->lhs->number == 15.0 && e->rhs->number == 16.0);
    assert_int_equal(promql_expr_type(e), PV_SCALAR);
    promql_expr_free(e);
}

static char *repeat(const char *a, size_t n, const char *mid, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), lm = strlen(mid);
    char *s = malloc(n * (la + lb) + lm + 1), *p = s;
    for (size_t i = 0; i < n; i++, p += la)
        memcpy(p, a, la);
    memcpy(p, mid, lm), p += lm;
    for (size_t i = 0; i < n; i++, p += lb)
        memcpy(p, b, lb);
    *p = '\0';
    return s;
}

static void assert_too_deep(char *q)
{
    promql_expr *e;
    promql_error err;
    assert_int_equal(promql_parse(q, &e, &err), -1);
    if (!strstr(err.msg, "parse error: expression nests deeper than 1000 levels"))
        fail_msg("%.40s...: %s", q, err.msg);
    free(q);
}

/* Deep nesting ends in an error, never a stack overflow; 1000 levels of
 * parentheses still parse. */
static void test_depth_limit(void **state)
{
    (void)state;
    assert_too_deep(repeat("(", 10000, "1", ")"));
    assert_too_deep(repeat("-", 100000, "x", ""));
    assert_too_deep(repeat("abs(", 5000, "x", ")"));
    assert_too_deep(repeat("", 20000, "x", " + x"));
    assert_too_deep(repeat("2 ^ ", 20000, "x", ""));
    assert_too_deep(repeat("", 5000, "x", "[5m:]"));
    char *ok = repeat("(", 990, "1", ")");
    promql_expr *e;
    promql_error err;
    assert_int_equal(promql_parse(ok, &e, &err), 0);
    promql_expr_free(e);
    free(ok);
}

/* The selector parser of the HTTP API is untouched by the full grammar. */
static void test_selector_parser_unchanged(void **state)
{
    (void)state;
    promql_selector s;
    promql_error err;
    assert_int_equal(promql_parse_selector("up{job=\"x\"}", &s, &err), 0);
    assert_int_equal(s.n, 2);
    promql_selector_free(&s);
    assert_int_equal(promql_parse_selector("rate(x[5m])", &s, &err), -1);
    assert_true(promql_error_is_unsupported(&err));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_queries),
        cmocka_unit_test(test_invalid_queries),
        cmocka_unit_test(test_tree_shape),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_selector_parser_unchanged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
