/*
 * test_promql_selector.c — the PromQL lexer (query/lexer.c), Go string
 * helpers (query/quote.c) and the selector parser and printer
 * (query/parser.c).
 *
 * The error table below was produced by sending each query to Prometheus
 * 2.42 (/api/v1/query) and keeping its message: every one of them is
 * Prometheus's exact text, position included.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "query/lexer.h"
#include "query/promql.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- lexer ---- */

typedef struct want_token {
    promql_token_type type;
    const char *text;
} want_token;

static void assert_tokens(const char *input, const want_token *want, size_t n)
{
    promql_lexer l;
    promql_token t;
    promql_lexer_init(&l, input, strlen(input));
    for (size_t i = 0; i < n; i++) {
        promql_lexer_next(&l, &t);
        if (t.type != want[i].type)
            fail_msg("%s: token %zu: type %d, want %d", input, i, t.type, want[i].type);
        if (want[i].text &&
            (strlen(want[i].text) != t.len || memcmp(input + t.pos, want[i].text, t.len) != 0))
            fail_msg("%s: token %zu: text %.*s, want %s", input, i, (int)t.len, input + t.pos,
                     want[i].text);
    }
    promql_lexer_next(&l, &t);
    assert_int_equal(t.type, PQ_EOF);
    promql_lexer_next(&l, &t); /* EOF forever */
    assert_int_equal(t.type, PQ_EOF);
}

#define TOKENS(input, ...)                                                                         \
    do {                                                                                           \
        const want_token w_[] = {__VA_ARGS__};                                                     \
        assert_tokens(input, w_, sizeof(w_) / sizeof(w_[0]));                                      \
    } while (0)

static void test_lex_selector(void **state)
{
    (void)state;
    TOKENS("foo{a=\"b\", c!~'d', e=~`f`, g!=\"\"}", {PQ_IDENTIFIER, "foo"}, {PQ_LEFT_BRACE, "{"},
           {PQ_IDENTIFIER, "a"}, {PQ_EQL, "="}, {PQ_STRING, "\"b\""}, {PQ_COMMA, ","},
           {PQ_IDENTIFIER, "c"}, {PQ_NEQ_REGEX, "!~"}, {PQ_STRING, "'d'"}, {PQ_COMMA, ","},
           {PQ_IDENTIFIER, "e"}, {PQ_EQL_REGEX, "=~"}, {PQ_STRING, "`f`"}, {PQ_COMMA, ","},
           {PQ_IDENTIFIER, "g"}, {PQ_NEQ, "!="}, {PQ_STRING, "\"\""}, {PQ_RIGHT_BRACE, "}"});
    /* Keywords inside braces are plain label names. */
    TOKENS("{on=\"x\",by=\"y\"}", {PQ_LEFT_BRACE, NULL}, {PQ_IDENTIFIER, "on"}, {PQ_EQL, NULL},
           {PQ_STRING, NULL}, {PQ_COMMA, NULL}, {PQ_IDENTIFIER, "by"}, {PQ_EQL, NULL},
           {PQ_STRING, NULL}, {PQ_RIGHT_BRACE, NULL});
    TOKENS("a:b:c :x", {PQ_METRIC_IDENTIFIER, "a:b:c"}, {PQ_METRIC_IDENTIFIER, ":x"});
    TOKENS("foo # comment\n", {PQ_IDENTIFIER, "foo"}, {PQ_COMMENT, "# comment"});
    TOKENS("{# c\n}", {PQ_LEFT_BRACE, NULL}, {PQ_COMMENT, "# c"}, {PQ_RIGHT_BRACE, NULL});
}

static void test_lex_keywords_numbers_durations(void **state)
{
    (void)state;
    TOKENS("sum BY Without offset on and OR unless atan2 bool group_left start end",
           {PQ_SUM, "sum"}, {PQ_BY, "BY"}, {PQ_WITHOUT, NULL}, {PQ_OFFSET, NULL}, {PQ_ON, NULL},
           {PQ_LAND, NULL}, {PQ_LOR, "OR"}, {PQ_LUNLESS, NULL}, {PQ_ATAN2, NULL}, {PQ_BOOL, NULL},
           {PQ_GROUP_LEFT, NULL}, {PQ_START, NULL}, {PQ_END, NULL});
    TOKENS("1 1.5 .5 5. 0x1F 1e3 1e-3 Inf NaN -inf", {PQ_NUMBER, "1"}, {PQ_NUMBER, "1.5"},
           {PQ_NUMBER, ".5"}, {PQ_NUMBER, "5."}, {PQ_NUMBER, "0x1F"}, {PQ_NUMBER, "1e3"},
           {PQ_NUMBER, "1e-3"}, {PQ_NUMBER, "Inf"}, {PQ_NUMBER, "NaN"}, {PQ_SUB, "-"},
           {PQ_NUMBER, "inf"});
    TOKENS("5m 1h30m 100ms 2y", {PQ_DURATION, "5m"}, {PQ_DURATION, "1h30m"}, {PQ_DURATION, "100ms"},
           {PQ_DURATION, "2y"});
    TOKENS("x[5m:1m] offset 1d @ 100", {PQ_IDENTIFIER, "x"}, {PQ_LEFT_BRACKET, "["},
           {PQ_DURATION, "5m"}, {PQ_COLON, ":"}, {PQ_DURATION, "1m"}, {PQ_RIGHT_BRACKET, "]"},
           {PQ_OFFSET, NULL}, {PQ_DURATION, "1d"}, {PQ_AT, "@"}, {PQ_NUMBER, "100"});
    TOKENS("rate(x[ 5m ])", {PQ_IDENTIFIER, "rate"}, {PQ_LEFT_PAREN, NULL}, {PQ_IDENTIFIER, "x"},
           {PQ_LEFT_BRACKET, NULL}, {PQ_DURATION, "5m"}, {PQ_RIGHT_BRACKET, NULL},
           {PQ_RIGHT_PAREN, NULL});
}

static void test_lex_operators(void **state)
{
    (void)state;
    TOKENS("+ - * / % ^ == != < <= > >= , ( )", {PQ_ADD, NULL}, {PQ_SUB, NULL}, {PQ_MUL, NULL},
           {PQ_DIV, NULL}, {PQ_MOD, NULL}, {PQ_POW, NULL}, {PQ_EQLC, "=="}, {PQ_NEQ, "!="},
           {PQ_LSS, "<"}, {PQ_LTE, "<="}, {PQ_GTR, ">"}, {PQ_GTE, ">="}, {PQ_COMMA, NULL},
           {PQ_LEFT_PAREN, NULL}, {PQ_RIGHT_PAREN, NULL});
}

static void assert_lex_error(const char *input, size_t pos, const char *msg)
{
    promql_lexer l;
    promql_token t;
    promql_lexer_init(&l, input, strlen(input));
    do
        promql_lexer_next(&l, &t);
    while (t.type != PQ_ERROR && t.type != PQ_EOF);
    assert_int_equal(t.type, PQ_ERROR);
    assert_int_equal(t.pos, pos);
    assert_string_equal(t.err, msg);
    promql_lexer_next(&l, &t);
    assert_int_equal(t.type, PQ_EOF);
}

static void test_lex_errors(void **state)
{
    (void)state;
    assert_lex_error("a{b=\"c", 4, "unterminated quoted string");
    assert_lex_error("a{b=`c", 4, "unterminated raw string");
    assert_lex_error("\"\\z\"", 0, "unknown escape sequence U+007A 'z'");
    assert_lex_error("\"\\\n\"", 0, "unknown escape sequence U+000A");
    assert_lex_error("\"\\x4g\"", 0, "illegal character U+0067 'g' in escape sequence");
    assert_lex_error("\"\\U00110000\"", 0, "escape sequence is an invalid Unicode code point");
    assert_lex_error("\"\\udfff\"", 0, "escape sequence is an invalid Unicode code point");
    assert_lex_error("\"a\xff\"", 0, "invalid UTF-8 rune");
    assert_lex_error("`\xc3`", 0, "invalid UTF-8 rune");
    assert_lex_error("a \xff", 2, "unexpected character: '\xef\xbf\xbd'");
    assert_lex_error("a{\t}}", 4, "unexpected character: '}'");
    assert_lex_error("((a)", 4, "unclosed left parenthesis");
    assert_lex_error("a[5m", 4, "unclosed left bracket");
    assert_lex_error("a[5m[", 4, "unexpected left bracket '['");
    assert_lex_error("a[5]", 2, "missing unit character in duration");
    assert_lex_error("a[5x]", 2, "bad duration syntax: \"5\"");
    assert_lex_error("1_0", 0, "bad number or duration syntax: \"1\"");
    assert_lex_error("5mx", 0, "bad number or duration syntax: \"5mx\"");
    assert_lex_error("a ~", 2, "unexpected character: '~'");
    assert_lex_error("\x01", 0, "unexpected character: '\\x01'");
    assert_lex_error("\xe2\x80\xa8", 0, "unexpected character: '\\u2028'");
}

/* ---- Go string helpers ---- */

static void assert_unquote(const char *lit, const char *want, size_t want_len)
{
    ebuf b;
    ebuf_init(&b);
    assert_int_equal(promql_unquote(lit, strlen(lit), &b), 0);
    assert_int_equal(b.len, want_len);
    assert_memory_equal(b.data, want, want_len);
    ebuf_free(&b);
}

#define UNQUOTE(lit, want) assert_unquote(lit, want, sizeof(want) - 1)

static void test_unquote(void **state)
{
    (void)state;
    UNQUOTE("\"\"", "");
    UNQUOTE("\"abc\"", "abc");
    UNQUOTE("'abc'", "abc");
    UNQUOTE("`a\\nb`", "a\\nb");
    UNQUOTE("\"\\a\\b\\f\\n\\r\\t\\v\\\\\"", "\a\b\f\n\r\t\v\\");
    UNQUOTE("\"\\\"\"", "\"");
    UNQUOTE("'\\''", "'");
    UNQUOTE("'\"'", "\"");
    UNQUOTE("\"'\"", "'");
    UNQUOTE("\"\\x41\\101\\u00e9\\U0001F600\"", "AA\xc3\xa9\xf0\x9f\x98\x80");
    UNQUOTE("\"\\xff\\377\"", "\xff\xff"); /* raw bytes, as Go */
    UNQUOTE("\"caf\xc3\xa9\"", "caf\xc3\xa9");

    ebuf b;
    ebuf_init(&b);
    const char *bad[] = {"\"",        "\"a'",     "\"\\'\"", "'\\\"'", "\"\\q\"", "\"\\x4\"",
                         "\"\\400\"", "\"a\nb\"", "`a`b`",   "xabcx",  "\"\\"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (promql_unquote(bad[i], strlen(bad[i]), &b) == 0)
            fail_msg("unquote accepted %s", bad[i]);
    ebuf_free(&b);
}

static void assert_quote(const char *s, size_t n, const char *want)
{
    ebuf b;
    ebuf_init(&b);
    promql_quote(&b, s, n);
    assert_string_equal(b.data, want);
    ebuf_free(&b);
}

#define QUOTE(s, want) assert_quote(s, sizeof(s) - 1, want)

/* Go's strconv.Quote. */
static void test_quote(void **state)
{
    (void)state;
    QUOTE("", "\"\"");
    QUOTE("a\"b\\c", "\"a\\\"b\\\\c\"");
    QUOTE("\a\b\f\n\r\t\v", "\"\\a\\b\\f\\n\\r\\t\\v\"");
    QUOTE("\x00\x1f\x7f", "\"\\x00\\x1f\\x7f\"");
    QUOTE("'`", "\"'`\"");
    QUOTE("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"");
    QUOTE("\xc2\x85\xc2\xa0\xc2\xad", "\"\\u0085\\u00a0\\u00ad\"");
    QUOTE("\xef\xbb\xbf\xf3\xb0\x80\x80", "\"\\ufeff\\U000f0000\"");
    QUOTE("\xff\xc3", "\"\\xff\\xc3\"");
    QUOTE("\xed\xa0\x80", "\"\\xed\\xa0\\x80\""); /* a surrogate is not UTF-8 */
    QUOTE("\xef\xbf\xbd", "\"\xef\xbf\xbd\"");    /* a real U+FFFD is printable */

    ebuf b;
    ebuf_init(&b);
    promql_quote_rune(&b, '\'');
    promql_quote_rune(&b, 'x');
    promql_quote_rune(&b, '\n');
    promql_quote_rune(&b, -1);
    promql_quote_rune(&b, 0x1f600);
    assert_string_equal(b.data, "'\\'''x''\\n''\xef\xbf\xbd''\xf0\x9f\x98\x80'");
    ebuf_reset(&b);
    promql_format_rune_U(&b, 'q');
    promql_format_rune_U(&b, '\n');
    promql_format_rune_U(&b, 0x1f600);
    assert_string_equal(b.data, "U+0071 'q'U+000AU+1F600 '\xf0\x9f\x98\x80'");
    ebuf_free(&b);
}

static void test_decode_rune(void **state)
{
    (void)state;
    int32_t r;
    assert_int_equal(promql_decode_rune("", 0, &r), 0);
    assert_int_equal(r, 0xfffd);
    assert_int_equal(promql_decode_rune("a", 1, &r), 1);
    assert_int_equal(r, 'a');
    assert_int_equal(promql_decode_rune("\xc3\xa9", 2, &r), 2);
    assert_int_equal(r, 0xe9);
    assert_int_equal(promql_decode_rune("\xf0\x9f\x98\x80", 4, &r), 4);
    assert_int_equal(r, 0x1f600);
    const char *bad[] = {"\xc0\x80", "\xe0\x80\x80", "\xed\xa0\x80",    "\xf4\x90\x80\x80",
                         "\x80",     "\xc3",         "\xf5\x80\x80\x80"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(promql_decode_rune(bad[i], strlen(bad[i]), &r), 1);
        assert_int_equal(r, 0xfffd);
    }
}

static int64_t duration(const char *s)
{
    int64_t ms = -42;
    char err[128];
    if (promql_parse_duration(s, strlen(s), &ms, err, sizeof(err)) != 0)
        fail_msg("%s: %s", s, err);
    return ms;
}

static void assert_bad_duration(const char *s, const char *msg)
{
    int64_t ms;
    char err[128];
    assert_int_equal(promql_parse_duration(s, strlen(s), &ms, err, sizeof(err)), -1);
    assert_string_equal(err, msg);
}

/* Prometheus's model.ParseDuration. */
static void test_parse_duration(void **state)
{
    (void)state;
    assert_int_equal(duration("0"), 0);
    assert_int_equal(duration("5m"), 300000);
    assert_int_equal(duration("1h30m"), 5400000);
    assert_int_equal(duration("100ms"), 100);
    assert_int_equal(duration("1m1ms"), 60001);
    assert_int_equal(duration("1y2w3d4h5m6s7ms"), 365LL * 86400000 + 2 * 7 * 86400000LL +
                                                      3 * 86400000LL + 4 * 3600000 + 5 * 60000 +
                                                      6000 + 7);
    assert_int_equal(duration("0s"), 0);
    assert_bad_duration("", "empty duration string");
    assert_bad_duration("5", "not a valid duration string: \"5\"");
    assert_bad_duration("5hs", "not a valid duration string: \"5hs\"");
    assert_bad_duration("1m1h", "not a valid duration string: \"1m1h\"");
    assert_bad_duration("1s1s", "not a valid duration string: \"1s1s\"");
    assert_bad_duration("1.5h", "not a valid duration string: \"1.5h\"");
    assert_bad_duration("300y", "duration out of range");
    assert_bad_duration("99999999999999999999s", "duration out of range");
}

static void test_token_desc(void **state)
{
    (void)state;
    const char *q = "foo a:b \"abcdefghijk\" 'x' sum on + @ , 5m 1 start";
    promql_lexer l;
    promql_token t;
    promql_lexer_init(&l, q, strlen(q));
    const char *want[] = {"identifier \"foo\"",
                          "metric identifier \"a:b\"",
                          "string \"\\\"abcdefghi\"...",
                          "string \"'x'\"",
                          "<aggr:sum>",
                          "<on>",
                          "<op:+>",
                          "\"<Item 57385>\" <op:@>",
                          "\",\"",
                          "duration \"5m\"",
                          "number \"1\"",
                          "\"start\"",
                          "end of input"};
    ebuf b;
    ebuf_init(&b);
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        promql_lexer_next(&l, &t);
        ebuf_reset(&b);
        promql_token_desc(&b, q, &t);
        assert_string_equal(b.data, want[i]);
    }
    ebuf_free(&b);
}

/* ---- parser: accepted selectors ---- */

typedef struct want_matcher {
    match_type type;
    const char *name;
    const char *value;
} want_matcher;

static void assert_selector(const char *q, const want_matcher *want, size_t n)
{
    promql_selector s;
    promql_error err;
    if (promql_parse_selector(q, &s, &err) != 0)
        fail_msg("%s: %s", q, err.msg);
    assert_int_equal(s.n, n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(s.matchers[i].type, want[i].type);
        assert_string_equal(s.matchers[i].name, want[i].name);
        assert_string_equal(s.matchers[i].value, want[i].value);
    }
    promql_selector_free(&s);
}

#define SELECTOR(q, ...)                                                                           \
    do {                                                                                           \
        const want_matcher w_[] = {__VA_ARGS__};                                                   \
        assert_selector(q, w_, sizeof(w_) / sizeof(w_[0]));                                        \
    } while (0)

static void test_parse_selectors(void **state)
{
    (void)state;
    SELECTOR("foo", {MATCH_EQ, "__name__", "foo"});
    SELECTOR("  foo  ", {MATCH_EQ, "__name__", "foo"});
    SELECTOR("foo{}", {MATCH_EQ, "__name__", "foo"});
    SELECTOR("foo{a=\"b\"}", {MATCH_EQ, "__name__", "foo"}, {MATCH_EQ, "a", "b"});
    SELECTOR("{a=\"b\"}", {MATCH_EQ, "a", "b"});
    SELECTOR("{__name__=~\"foo.*\"}", {MATCH_RE, "__name__", "foo.*"});
    SELECTOR("foo{a=\"1\",b!=\"2\",c=~\"3\",d!~\"4\",}", {MATCH_EQ, "__name__", "foo"},
             {MATCH_EQ, "a", "1"}, {MATCH_NEQ, "b", "2"}, {MATCH_RE, "c", "3"},
             {MATCH_NRE, "d", "4"});
    SELECTOR("a:b:c{x='y'}", {MATCH_EQ, "__name__", "a:b:c"}, {MATCH_EQ, "x", "y"});
    SELECTOR("foo{a=`\\d+`}", {MATCH_EQ, "__name__", "foo"}, {MATCH_EQ, "a", "\\d+"});
    SELECTOR("foo{a=\"\\x41\\u00e9\\n\"}", {MATCH_EQ, "__name__", "foo"},
             {MATCH_EQ, "a", "A\xc3\xa9\n"});
    SELECTOR("foo{a=`line\nbreak`}", {MATCH_EQ, "__name__", "foo"}, {MATCH_EQ, "a", "line\nbreak"});
    SELECTOR("{on=\"x\",by=\"y\",sum=\"z\",offset=\"w\",bool=\"v\"}", {MATCH_EQ, "on", "x"},
             {MATCH_EQ, "by", "y"}, {MATCH_EQ, "sum", "z"}, {MATCH_EQ, "offset", "w"},
             {MATCH_EQ, "bool", "v"});
    SELECTOR("{a=\"x\",a=\"y\"}", {MATCH_EQ, "a", "x"}, {MATCH_EQ, "a", "y"});
    SELECTOR("{__name__=\"x\",__name__=\"y\"}", {MATCH_EQ, "__name__", "x"},
             {MATCH_EQ, "__name__", "y"});
    SELECTOR("{a!=\"\"}", {MATCH_NEQ, "a", ""});
    SELECTOR("{a!~\".*\"}", {MATCH_NRE, "a", ".*"});
    /* Keywords that the grammar accepts as metric names. */
    SELECTOR("sum", {MATCH_EQ, "__name__", "sum"});
    SELECTOR("SUM{a=\"b\"}", {MATCH_EQ, "__name__", "SUM"}, {MATCH_EQ, "a", "b"});
    SELECTOR("by", {MATCH_EQ, "__name__", "by"});
    SELECTOR("offset{a=\"b\"}", {MATCH_EQ, "__name__", "offset"}, {MATCH_EQ, "a", "b"});
    SELECTOR("and", {MATCH_EQ, "__name__", "and"});
    SELECTOR("start", {MATCH_EQ, "__name__", "start"});
    SELECTOR("count_values", {MATCH_EQ, "__name__", "count_values"});
    /* Comments and whitespace anywhere. */
    SELECTOR("# leading\nfoo # name\n{ # open\n a = \"b\" , # after\n}\n# end",
             {MATCH_EQ, "__name__", "foo"}, {MATCH_EQ, "a", "b"});
    SELECTOR("foo\r\n{\ta=\"b\"}", {MATCH_EQ, "__name__", "foo"}, {MATCH_EQ, "a", "b"});
}

/* ---- parser: errors, Prometheus's exact text ---- */

typedef struct error_case {
    const char *query;
    const char *msg;
} error_case;

static const error_case prometheus_errors[] = {
    {"", "1:1: parse error: no expression found in input"},
    {" ", "1:1: parse error: no expression found in input"},
    {"# c", "1:1: parse error: no expression found in input"},
    {"foo{", "1:5: parse error: unexpected end of input inside braces"},
    {"foo{a", "1:6: parse error: unexpected end of input inside braces"},
    {"foo{a=", "1:7: parse error: unexpected end of input inside braces"},
    {"foo{a=\"b\"", "1:10: parse error: unexpected end of input inside braces"},
    {"foo{,}",
     "1:5: parse error: unexpected \",\" in label matching, expected identifier or \"}\""},
    {"{}", "1:1: parse error: vector selector must contain at least one non-empty matcher"},
    {"{a=\"\"}", "1:1: parse error: vector selector must contain at least one non-empty matcher"},
    {"{a=~\".*\"}",
     "1:1: parse error: vector selector must contain at least one non-empty matcher"},
    {"foo bar", "1:5: parse error: unexpected identifier \"bar\""},
    {"foo}", "1:4: parse error: unexpected character: '}'"},
    {"foo{a@\"b\"}", "1:6: parse error: unexpected character inside braces: '@'"},
    {"foo{a==\"b\"}", "1:7: parse error: unexpected \"=\" in label matching, expected string"},
    {"foo{a=b}",
     "1:7: parse error: unexpected identifier \"b\" in label matching, expected string"},
    {"foo{a=\"b}", "1:7: parse error: unterminated quoted string"},
    {"foo{a='b}", "1:7: parse error: unterminated quoted string"},
    {"foo{a=`b}", "1:7: parse error: unterminated raw string"},
    {"foo{__name__=\"x\"}",
     "1:1: parse error: metric name must not be set twice: \"foo\" or \"x\""},
    {"foo{\"a\"=\"b\"}", "1:5: parse error: unexpected string \"\\\"a\\\"\" in label matching, "
                         "expected identifier or \"}\""},
    {"foo{a=\"b\" c=\"d\"}",
     "1:11: parse error: unexpected identifier \"c\" in label matching, expected \",\" or \"}\""},
    {"foo{a=\"\\q\"}", "1:7: parse error: unknown escape sequence U+0071 'q'"},
    {"foo{a=\"\\x4\"}", "1:7: parse error: illegal character U+0022 '\"' in escape sequence"},
    {"foo{a=\"\\ud800\"}", "1:7: parse error: escape sequence is an invalid Unicode code point"},
    {"foo{a=\"\\400\"}", "1:7: parse error: escape sequence is an invalid Unicode code point"},
    {"foo{a=\"\\0\"}", "1:7: parse error: illegal character U+0022 '\"' in escape sequence"},
    {"@", "1:1: parse error: unexpected \"<Item 57385>\" <op:@>"},
    {"1:1", "1:2: parse error: unexpected metric identifier \":1\""},
    {"foo{1a=\"b\"}", "1:5: parse error: unexpected character inside braces: '1'"},
    {"on", "1:1: parse error: unexpected <on>"},
    {"bool", "1:1: parse error: unexpected <bool>"},
    {"atan2", "1:1: parse error: unexpected <op:atan2>"},
    {"sum by", "1:7: parse error: unexpected end of input in grouping opts, expected \"(\""},
    {"foo)", "1:5: parse error: unexpected right parenthesis ')'"},
    {"foo )", "1:6: parse error: unexpected right parenthesis ')'"},
    {")", "1:2: parse error: unexpected right parenthesis ')'"},
    {"(", "1:2: parse error: unclosed left parenthesis"},
    {"foo(", "1:5: parse error: unclosed left parenthesis"},
    {"foo]", "1:4: parse error: unexpected right bracket ']'"},
    {"foo[", "1:5: parse error: missing unit character in duration"},
    {"foo[5]", "1:5: parse error: missing unit character in duration"},
    {"foo[5x]", "1:5: parse error: bad duration syntax: \"5\""},
    {"foo{a=\"b\"} {c=\"d\"}", "1:12: parse error: unexpected \"{\""},
    {"foo \"x\"", "1:5: parse error: unexpected string \"\\\"x\\\"\""},
    {"foo \"abcdefghijklmn\"", "1:5: parse error: unexpected string \"\\\"abcdefghi\"..."},
    {"foo 1", "1:5: parse error: unexpected number \"1\""},
    {"foo 1.5", "1:5: parse error: unexpected number \"1.5\""},
    {"*", "1:1: parse error: unexpected <op:*>"},
    {",", "1:1: parse error: unexpected \",\""},
    {"=", "1:1: parse error: unexpected \"=\""},
    {"=~", "1:1: parse error: unexpected character after '=': '~'"},
    {"!~", "1:1: parse error: unexpected character after '!': '~'"},
    {"!", "1:1: parse error: unexpected character after '!': '\xef"
          "\xbf"
          "\xbd"
          "'"},
    {"foo !", "1:5: parse error: unexpected character after '!': '\xef"
              "\xbf"
              "\xbd"
              "'"},
    {"foo{a!}", "1:6: parse error: unexpected character after '!' inside braces: '}'"},
    {"foo{a!", "1:6: parse error: unexpected character after '!' inside braces: '\xef"
               "\xbf"
               "\xbd"
               "'"},
    {"{} bar", "1:4: parse error: unexpected identifier \"bar\""},
    {"{} + 1", "1:1: parse error: vector selector must contain at least one non-empty matcher"},
    {"foo{a=\"\\", "1:7: parse error: escape sequence not terminated"},
    {"foo{a=\"a\nb\"}", "1:7: parse error: unterminated quoted string"},
    {"  {}", "1:3: parse error: vector selector must contain at least one non-empty matcher"},
    {" foo{__name__=\"x\"}",
     "1:2: parse error: metric name must not be set twice: \"foo\" or \"x\""},
    {"foo{__name__=~\"x\", __name__=\"y\"}",
     "1:1: parse error: metric name must not be set twice: \"foo\" or \"x\""},
    {"foo{a}",
     "1:6: parse error: unexpected \"}\" in label matching, expected label matching operator"},
    {"foo{a=\"b\",,}",
     "1:11: parse error: unexpected \",\" in label matching, expected identifier or \"}\""},
    {"foo{a=\"b\"c}",
     "1:10: parse error: unexpected identifier \"c\" in label matching, expected \",\" or \"}\""},
    {"foo{a:b=\"c\"}", "1:6: parse error: unexpected character inside braces: ':'"},
    {"foo{\xc3"
     "\xa9"
     "=\"x\"}",
     "1:5: parse error: unexpected character inside braces: '\xc3"
     "\xa9"
     "'"},
    {"\xc3"
     "\xa9"
     "",
     "1:1: parse error: unexpected character: '\xc3"
     "\xa9"
     "'"},
    {"foo{a=\"\xc3"
     "\xa9"
     "",
     "1:7: parse error: unterminated quoted string"},
    {"foo{a=\"\\U00110000\"}",
     "1:7: parse error: escape sequence is an invalid Unicode code point"},
    {"foo{a=\"\\u12\"}", "1:7: parse error: illegal character U+0022 '\"' in escape sequence"},
    {"foo{a=\"\\'\"}", "1:7: parse error: unknown escape sequence U+0027 '''"},
    {"foo{a='\\\"'}", "1:7: parse error: unknown escape sequence U+0022 '\"'"},
    {"{__name__=\"\"}",
     "1:1: parse error: vector selector must contain at least one non-empty matcher"},
    {"foo[5m::]", "1:8: parse error: unexpected colon ':'"},
    {"foo[5m[", "1:7: parse error: unexpected left bracket '['"},
    {"foo[5m", "1:7: parse error: unclosed left bracket"},
    {"foo[5m:1m", "1:10: parse error: unclosed left bracket"},
    {"1.5.3", "1:4: parse error: unexpected number \".3\""},
    {"0x1g", "1:1: parse error: bad number or duration syntax: \"0x1\""},
    {"1_000", "1:1: parse error: bad number or duration syntax: \"1\""},
    {"5m", "1:1: parse error: unexpected duration \"5m\""},
    {"5mx", "1:1: parse error: bad number or duration syntax: \"5mx\""},
    {"1y2y", "1:1: parse error: bad number or duration syntax: \"1y2\""},
    {"foo[1y2y]", "1:5: parse error: bad duration syntax: \"1y2\""},
    {"foo[5hs]", "1:5: parse error: not a valid duration string: \"5hs\""},
    {"foo{a=\"x\xef"
     "\xbf"
     "\xbd"
     "\"}",
     "1:7: parse error: invalid UTF-8 rune"},
    {"foo{a=`\xef"
     "\xbf"
     "\xbd"
     "`}",
     "1:7: parse error: invalid UTF-8 rune"},
    {"ON", "1:1: parse error: unexpected <ON>"},
    {"a:b(x)", "1:4: parse error: unexpected \"(\""},
    {"by(x)", "1:3: parse error: unexpected \"(\""},
    {"Inf{a=\"b\"}", "1:4: parse error: unexpected \"{\""},
    {"foo @", "1:6: parse error: unexpected end of input in @, expected timestamp"},
    {"foo offset", "1:11: parse error: unexpected end of input in offset, expected duration"},
    {"foo{a=\"b\"}(", "1:11: parse error: unexpected \"(\""},
    {"foo and", "1:8: parse error: unexpected end of input"},
    {"foo{a=\"\\\n\"}", "1:7: parse error: unknown escape sequence U+000A"},
    {"foo{a=\"\\\x01"
     "\"}",
     "1:7: parse error: unknown escape sequence U+0001"},
    {"foo{a=\"\\\xc3"
     "\xa9"
     "\"}",
     "1:7: parse error: unknown escape sequence U+00E9 '\xc3"
     "\xa9"
     "'"},
    {"foo{a=\"\\\xc2"
     "\xa0"
     "\"}",
     "1:7: parse error: unknown escape sequence U+00A0"},
    {"foo{a=\"\\x4\xc3"
     "\xa9"
     "\"}",
     "1:7: parse error: illegal character U+00E9 '\xc3"
     "\xa9"
     "' in escape sequence"},
    {"foo{a=\"\\x\"}", "1:7: parse error: illegal character U+0022 '\"' in escape sequence"},
    {"foo{a=\"\\u\"}", "1:7: parse error: illegal character U+0022 '\"' in escape sequence"},
    {"foo{a='\\", "1:7: parse error: escape sequence not terminated"},
    {"foo{a=\"\\8\"}", "1:7: parse error: unknown escape sequence U+0038 '8'"},
    {"foo[5m x y]", "1:10: parse error: unexpected colon 'y'"},
    {"foo[5m:1m x]", "1:11: parse error: unexpected colon 'x'"},
    {"foo[5m:x]", "1:8: parse error: unexpected colon 'x'"},
    {"foo[x]", "1:5: parse error: bad duration syntax: \"\""},
    {"foo[:]", "1:5: parse error: missing unit character in duration"},
    {"[5m]", "1:1: parse error: unexpected \"[\""},
    {"foo[5m]]", "1:8: parse error: unexpected right bracket ']'"},
    {"foo{a=\"b\"}}", "1:11: parse error: unexpected character: '}'"},
    {"foo{a=\"b\"{", "1:10: parse error: unexpected left brace '{'"},
    {"foo{{", "1:5: parse error: unexpected left brace '{'"},
    {"foo{a=\"b\",", "1:11: parse error: unexpected end of input inside braces"},
    {"foo{a=\"b\"c",
     "1:10: parse error: unexpected identifier \"c\" in label matching, expected \",\" or \"}\""},
    {"foo{a=\"b\"}\n\n  bar", "3:3: parse error: unexpected identifier \"bar\""},
    {"foo\r\n{a=\"b\"} x", "2:9: parse error: unexpected identifier \"x\""},
    {"{a=\"b\"}{c=\"d\"}", "1:8: parse error: unexpected \"{\""},
    {"# a\n# b\n", "1:1: parse error: no expression found in input"},
    {"foo{__name__=\"bar\"} offset 5m",
     "1:1: parse error: metric name must not be set twice: \"foo\" or \"bar\""},
    {"foo{a=\"b\"} +", "1:13: parse error: unexpected end of input"},
    {"foo{}}", "1:6: parse error: unexpected character: '}'"},
    {"{,}", "1:2: parse error: unexpected \",\" in label matching, expected identifier or \"}\""},
    {"{a=\"b\",,}",
     "1:8: parse error: unexpected \",\" in label matching, expected identifier or \"}\""},
    {"group_left", "1:1: parse error: unexpected <group_left>"},
    {"ignoring", "1:1: parse error: unexpected <ignoring>"},
    {"foo(x)", "1:1: parse error: unknown function with name \"foo\""},
    {"foo{a=\"b\"} bool", "1:12: parse error: unexpected <bool>"},
    {"foo{a=\"b\"} on", "1:12: parse error: unexpected <on>"},
    {"foo{a=\"b\"} by", "1:12: parse error: unexpected <by>"},
    {"foo{a=\"b\"} sum", "1:12: parse error: unexpected <aggr:sum>"},
    {"foo{a=\"b\"} ,", "1:12: parse error: unexpected \",\""},
    {"foo{a=\"b\"} )", "1:13: parse error: unexpected right parenthesis ')'"},
    {"foo{a=\"b\"} \"s\"", "1:12: parse error: unexpected string \"\\\"s\\\"\""},
    {"foo{a=\"b\"} 5m", "1:12: parse error: unexpected duration \"5m\""},
    {"foo{a=\"b\"} inf", "1:12: parse error: unexpected number \"inf\""},
    {"\x01"
     "",
     "1:1: parse error: unexpected character: '\\x01'"},
    {"\x7f"
     "",
     "1:1: parse error: unexpected character: '\\x7f'"},
    {"\xc2"
     "\x85"
     "",
     "1:1: parse error: unexpected character: '\\u0085'"},
    {"\xc2"
     "\xa0"
     "",
     "1:1: parse error: unexpected character: '\\u00a0'"},
    {"\xe2"
     "\x80"
     "\x8b"
     "",
     "1:1: parse error: unexpected character: '\\u200b'"},
    {"foo start", "1:5: parse error: unexpected \"start\""},
    {"foo end", "1:5: parse error: unexpected \"end\""},
    {"foo{a=\"b\"} @", "1:13: parse error: unexpected end of input in @, expected timestamp"},
    {"foo{a=\"b\"} offset",
     "1:18: parse error: unexpected end of input in offset, expected duration"},
    {"foo + }", "1:7: parse error: unexpected character: '}'"},
    {"RATE(foo)", "1:1: parse error: unknown function with name \"RATE\""},
    {"rate(foo", "1:9: parse error: unclosed left parenthesis"},
    {"rate(", "1:6: parse error: unclosed left parenthesis"},
    {"sum without", "1:12: parse error: unexpected end of input in grouping opts, expected \"(\""},
    {"sum(", "1:5: parse error: unclosed left parenthesis"},
    {"\"a\" \"b\"", "1:5: parse error: unexpected string \"\\\"b\\\"\""},
    {"1 2", "1:3: parse error: unexpected number \"2\""},
    {"1 +", "1:4: parse error: unexpected end of input"},
    {"-", "1:2: parse error: unexpected end of input"},
    {"+", "1:2: parse error: unexpected end of input"},
    {"foo{a=\"abcdefghijklmnop\" x",
     "1:26: parse error: unexpected identifier \"x\" in label matching, expected \",\" or \"}\""},
    {"foo{a=\"\\u00\"}", "1:7: parse error: illegal character U+0022 '\"' in escape sequence"},
    {"{a=~\"x*\"}",
     "1:1: parse error: vector selector must contain at least one non-empty matcher"},
    {"{a!~\"x\"}", "1:1: parse error: vector selector must contain at least one non-empty matcher"},
    {"{a!=\"x\"}", "1:1: parse error: vector selector must contain at least one non-empty matcher"},
    {"{a=~\"(?s).*\"}",
     "1:1: parse error: vector selector must contain at least one non-empty matcher"},
    {"foo{a=\"b\"}=", "1:11: parse error: unexpected \"=\""},
    {"foo{a=\"b\"}==", "1:13: parse error: unexpected end of input"},
    {"foo{a=\"b\"}=~\"x\"", "1:11: parse error: unexpected character after '=': '~'"},
    {"foo{a=\"b\"}!", "1:11: parse error: unexpected character after '!': '\xef"
                      "\xbf"
                      "\xbd"
                      "'"},
    {"foo <", "1:6: parse error: unexpected end of input"},
    {"foo>", "1:5: parse error: unexpected end of input"},
    {"nan{a=\"b\"}", "1:4: parse error: unexpected \"{\""},
    {"foo{a=\"b\"}offset",
     "1:17: parse error: unexpected end of input in offset, expected duration"},
    {"a{b=\"c\"}@", "1:10: parse error: unexpected end of input in @, expected timestamp"},
    {".", "1:1: parse error: unexpected character: '.'"},
    {"..", "1:1: parse error: unexpected character: '.'"},
    {"foo.bar", "1:4: parse error: unexpected character: '.'"},
    {"foo{a-b=\"c\"}", "1:6: parse error: unexpected character inside braces: '-'"},
    {"foo{a=\"b\"}\\", "1:11: parse error: unexpected character: '\\\\'"},
    {"foo;", "1:4: parse error: unexpected character: ';'"},
    {"{a=\"b\";}", "1:7: parse error: unexpected character inside braces: ';'"},
    {"{a=``}", "1:1: parse error: vector selector must contain at least one non-empty matcher"},
    {"{a=''}", "1:1: parse error: vector selector must contain at least one non-empty matcher"},
    {"{ }", "1:1: parse error: vector selector must contain at least one non-empty matcher"},
    {"{#c\n}", "1:1: parse error: vector selector must contain at least one non-empty matcher"},
    /* Found by differential fuzzing against Prometheus 2.42. */
    {" foo @", "1:7: parse error: unexpected end of input in @, expected timestamp"},
    {" foo{by=\"\",a!=\"(x)\"'b'}",
     "1:20: parse error: unexpected string \"'b'\" in label matching, expected \",\" or \"}\""},
    {"!tart", "1:1: parse error: unexpected character after '!': 't'"},
    {"# c\n__name__\"unterminated:__name__5m\t", "2:9: parse error: unterminated quoted string"},
    {"#oo{}", "1:1: parse error: no expression found in input"},
    {"(y", "1:3: parse error: unclosed left parenthesis"},
    {",}", "1:1: parse error: unexpected \",\""},
    {":b{b!~\"foo\"!=_x=~\"x\"}",
     "1:12: parse error: unexpected <op:!=> in label matching, expected \",\" or \"}\""},
    {":tart{on=\"foo\",}bool", "1:17: parse error: unexpected <bool>"},
    {"@{}", "1:1: parse error: unexpected \"<Item 57385>\" <op:@>"},
    {"\"\\\n1", "1:1: parse error: unknown escape sequence U+000A"},
    {"\"\xc3"
     "\xa9"
     "\"offset{}",
     "1:11: parse error: unexpected \"{\" in offset, expected duration"},
    {"\"\xef"
     "\xbf"
     "\xbd"
     "\"# c",
     "1:1: parse error: invalid UTF-8 rune"},
    {"\"x\"*x1 offset\t@\".+\"",
     "1:15: parse error: unexpected \"<Item 57385>\" <op:@> in offset, expected duration"},
    {"_1{}1.5", "1:5: parse error: unexpected number \"1.5\""},
    {"a:)", "1:4: parse error: unexpected right parenthesis ')'"},
    {"a:b{!=\"\\u00e9\\x41\",}",
     "1:5: parse error: unexpected <op:!=> in label matching, expected identifier or \"}\""},
    {"a:b{_x=~ a|b\",by=~\"\\u00e9(\\x41\"}",
     "1:10: parse error: unexpected identifier \"a\" in label matching, expected string"},
    {"a:b{b=\"\\u00e9\\x41\"!~}",
     "1:19: parse error: unexpected <op:!~> in label matching, expected \",\" or \"}\""},
    {"a:b{offset}",
     "1:11: parse error: unexpected \"}\" in label matching, expected label matching operator"},
    {"a:b{on\"unterminated~\"(x)\",}", "1:7: parse error: unexpected string \"\\\"untermina\"... "
                                       "in label matching, expected label matching operator"},
    {"and{", "1:5: parse error: unexpected end of input inside braces"},
    {"b\"({on!~`z`,a\"x\"}", "1:2: parse error: unexpected string \"\\\"({on!~`z`\"..."},
    {"{s\"\\377\xc3"
     "\xa9"
     "um=\"a|b\",by!=`z`}",
     "1:3: parse error: unexpected string \"\\\"\\\\377\xc3"
     "\xa9"
     "um=\\\"\"... in label matching, expected label matching operator"},
    {"{}offset", "1:9: parse error: unexpected end of input in offset, expected duration"},
    {"{} offset 5m",
     "1:1: parse error: vector selector must contain at least one non-empty matcher"},
    {"foo{a=\"b\"} == bool", "1:19: parse error: unexpected end of input"},
    {"sum by", "1:7: parse error: unexpected end of input in grouping opts, expected \"(\""},
    {"sum without", "1:12: parse error: unexpected end of input in grouping opts, expected \"(\""},
    {"-", "1:2: parse error: unexpected end of input"},
    {"foo + -", "1:8: parse error: unexpected end of input"},
    {"foo[5m] offset", "1:15: parse error: unexpected end of input in offset, expected duration"},
    {"x{a=\"b\"} ,", "1:10: parse error: unexpected \",\""},
    {"foo{a=\"b\"} = 1", "1:12: parse error: unexpected \"=\""},
};

static void assert_parse_error(const char *q, const char *msg)
{
    promql_selector s;
    promql_error err;
    memset(&s, 0xab, sizeof(s)); /* the parser must not rely on it */
    if (promql_parse_selector(q, &s, &err) == 0) {
        promql_selector_free(&s);
        fail_msg("accepted: %s", q);
    }
    if (strcmp(err.msg, msg) != 0)
        fail_msg("query %s\n got: %s\nwant: %s", q, err.msg, msg);
    assert_null(s.matchers);
    assert_int_equal(s.n, 0);
}

static void test_prometheus_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(prometheus_errors) / sizeof(prometheus_errors[0]); i++)
        assert_parse_error(prometheus_errors[i].query, prometheus_errors[i].msg);
}

/* The error position is the byte offset the line:col prefix is made from. */
static void test_error_position(void **state)
{
    (void)state;
    promql_selector s;
    promql_error err;
    assert_int_equal(promql_parse_selector("foo{a=\"b\"}\n\n  bar", &s, &err), -1);
    assert_string_equal(err.msg, "3:3: parse error: unexpected identifier \"bar\"");
    assert_int_equal(err.pos, 14);
    /* Columns count bytes, not characters. */
    assert_int_equal(promql_parse_selector("foo{a=\"\xc3\xa9\"} x", &s, &err), -1);
    assert_string_equal(err.msg, "1:13: parse error: unexpected identifier \"x\"");
}

/* Regex errors carry PCRE2's text but Prometheus's framing and position. */
static void test_regex_errors(void **state)
{
    (void)state;
    promql_selector s;
    promql_error err;
    assert_int_equal(promql_parse_selector("foo{a=~\"(\"}", &s, &err), -1);
    assert_string_equal(err.msg, "1:5: parse error: error parsing regexp: missing closing "
                                 "parenthesis at offset 1: `(`");
    assert_int_equal(promql_parse_selector("{b=\"c\", a!~\"a)|(b\"}", &s, &err), -1);
    assert_int_equal(strncmp(err.msg, "1:9: parse error: error parsing regexp: ", 40), 0);
    /* The regex error comes first, as in Prometheus, even before a syntax error. */
    assert_int_equal(promql_parse_selector("{a=~\"(\" b}", &s, &err), -1);
    assert_int_equal(strncmp(err.msg, "1:2: parse error: error parsing regexp: ", 40), 0);
}

static void test_nul_in_value_rejected(void **state)
{
    (void)state;
    promql_selector s;
    promql_error err;
    assert_int_equal(promql_parse_selector("{a=\"x\\x00y\"}", &s, &err), -1);
    assert_string_equal(err.msg, "1:4: parse error: NUL bytes in label values are not supported");
    assert_int_equal(promql_parse_selector("{a=\"\\000\"}", &s, &err), -1);
    assert_int_equal(promql_parse_selector("{a=\"\\u0000\"}", &s, &err), -1);
}

/* ---- parser: valid PromQL that this first cut does not run ---- */

static void assert_unsupported(const char *q, const char *prefix)
{
    promql_selector s;
    promql_error err;
    assert_int_equal(promql_parse_selector(q, &s, &err), -1);
    if (!promql_error_is_unsupported(&err))
        fail_msg("%s: %s", q, err.msg);
    char want[128];
    snprintf(want, sizeof(want), "%s: parse error: " PROMQL_ERR_UNSUPPORTED, prefix);
    assert_string_equal(err.msg, want);
}

static void test_unsupported(void **state)
{
    (void)state;
    assert_unsupported("rate(x[5m])", "1:1");
    assert_unsupported("x[5m]", "1:2");
    assert_unsupported("x{a=\"b\"}[5m:1m]", "1:9");
    assert_unsupported("1", "1:1");
    assert_unsupported("-1.5e3", "1:1");
    assert_unsupported("\"str\"", "1:1");
    assert_unsupported("a + b", "1:3");
    assert_unsupported("a and on(x) b", "1:3");
    assert_unsupported("foo @ 5", "1:5");
    assert_unsupported("foo offset 5m", "1:5");
    assert_unsupported("-foo", "1:1");
    assert_unsupported("(foo)", "1:1");
    assert_unsupported("sum(foo)", "1:1");
    assert_unsupported("SUM by (job) (foo)", "1:1");
    assert_unsupported("topk(3, foo)", "1:1");
    assert_unsupported("foo{a=\"b\"} == bool 1", "1:12");

    /* Syntax errors are not "unsupported", even beyond a selector. */
    promql_selector s;
    promql_error err;
    const char *bad[] = {"foo +", "foo{a=\"b\"} offset", "foo[5m", "rate(", "1 2", "foo + }"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(promql_parse_selector(bad[i], &s, &err), -1);
        if (promql_error_is_unsupported(&err))
            fail_msg("%s: %s", bad[i], err.msg);
    }
    assert_int_equal(promql_parse_selector("foo(x)", &s, &err), -1);
    assert_string_equal(err.msg, "1:1: parse error: unknown function with name \"foo\"");
    assert_int_equal(promql_parse_selector("foo[5hs]", &s, &err), -1);
    assert_string_equal(err.msg, "1:5: parse error: not a valid duration string: \"5hs\"");
}

/* ---- printing ---- */

static void assert_format(const char *q, const char *want)
{
    promql_selector s, again;
    promql_error err;
    if (promql_parse_selector(q, &s, &err) != 0)
        fail_msg("%s: %s", q, err.msg);
    ebuf b, b2;
    ebuf_init(&b);
    ebuf_init(&b2);
    promql_selector_format(&b, &s);
    assert_string_equal(b.data, want);
    /* Round trip: the printed form parses back to the same matchers. */
    if (promql_parse_selector(b.data, &again, &err) != 0)
        fail_msg("%s: reparse of %s: %s", q, b.data, err.msg);
    promql_selector_format(&b2, &again);
    assert_string_equal(b2.data, want);
    assert_int_equal(again.n, s.n);
    promql_selector_free(&again);
    promql_selector_free(&s);
    ebuf_free(&b);
    ebuf_free(&b2);
}

static void test_format(void **state)
{
    (void)state;
    assert_format("foo", "foo");
    assert_format("foo{}", "foo");
    assert_format(" foo { b = 'x' , a = \"y\" , } ", "foo{a=\"y\",b=\"x\"}");
    assert_format("{a=~`\\d+`}", "{a=~\"\\\\d+\"}");
    assert_format("{__name__=\"foo\",job!=\"\"}", "foo{job!=\"\"}");
    assert_format("{__name__=~\"foo|bar\"}", "{__name__=~\"foo|bar\"}");
    assert_format("{__name__=\"a\",__name__=\"b\"}", "{__name__=\"a\",__name__=\"b\"}");
    /* A name that would not lex back as a name stays inside the braces. */
    assert_format("{__name__=\"on\"}", "{__name__=\"on\"}");
    assert_format("{__name__=\"Inf\"}", "{__name__=\"Inf\"}");
    assert_format("{__name__=\"1x\"}", "{__name__=\"1x\"}");
    assert_format("{__name__=\"a-b\"}", "{__name__=\"a-b\"}");
    assert_format("{__name__=\"\",a=\"b\"}", "{__name__=\"\",a=\"b\"}");
    assert_format("sum{a=\"b\"}", "sum{a=\"b\"}");
    assert_format("a:b", "a:b");
    /* Values print as Go's strconv.Quote. */
    assert_format("{a=\"\\x41\\t\\\"'\\\\\"}", "{a=\"A\\t\\\"'\\\\\"}");
    assert_format("{a='\\xff\\u00a0\\u00e9'}", "{a=\"\\xff\\u00a0\xc3\xa9\"}");
    assert_format("{a=`\n`}", "{a=\"\\n\"}");
    /* Sorted as strings, like sort.Strings in VectorSelector.String(). */
    assert_format("x{b=\"1\",a!=\"2\",a=\"3\",a=~\"4\"}", "x{a!=\"2\",a=\"3\",a=~\"4\",b=\"1\"}");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lex_selector),
        cmocka_unit_test(test_lex_keywords_numbers_durations),
        cmocka_unit_test(test_lex_operators),
        cmocka_unit_test(test_lex_errors),
        cmocka_unit_test(test_unquote),
        cmocka_unit_test(test_quote),
        cmocka_unit_test(test_decode_rune),
        cmocka_unit_test(test_parse_duration),
        cmocka_unit_test(test_token_desc),
        cmocka_unit_test(test_parse_selectors),
        cmocka_unit_test(test_prometheus_errors),
        cmocka_unit_test(test_error_position),
        cmocka_unit_test(test_regex_errors),
        cmocka_unit_test(test_nul_in_value_rejected),
        cmocka_unit_test(test_unsupported),
        cmocka_unit_test(test_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
