/*
 * test_matcher.c — label matchers (query/matcher.c) and the storage
 * helpers (query/storage.c): Prometheus 2.42's matching semantics, checked
 * against the real thing where noted.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "query/matcher.h"
#include "query/storage.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Does `value` (NULL = label absent) match `op value`? Fails on bad regex. */
static bool m(match_type t, const char *pattern, const char *value)
{
    label_matcher lm;
    char err[256];
    if (matcher_init(&lm, t, "a", pattern, err, sizeof(err)) != 0)
        fail_msg("matcher_init(%s): %s", pattern, err);
    bool r = matcher_matches(&lm, value);
    matcher_free(&lm);
    return r;
}

static void test_equality(void **state)
{
    (void)state;
    assert_true(m(MATCH_EQ, "foo", "foo"));
    assert_false(m(MATCH_EQ, "foo", "fo"));
    assert_false(m(MATCH_EQ, "foo", "Foo"));
    assert_true(m(MATCH_NEQ, "foo", "bar"));
    assert_false(m(MATCH_NEQ, "foo", "foo"));
}

/* A missing label is the empty string: {a=""} selects series without a. */
static void test_missing_label_is_empty(void **state)
{
    (void)state;
    assert_true(m(MATCH_EQ, "", NULL));
    assert_false(m(MATCH_EQ, "x", NULL));
    assert_true(m(MATCH_NEQ, "x", NULL));
    assert_false(m(MATCH_NEQ, "", NULL));
    assert_true(m(MATCH_RE, ".*", NULL));
    assert_false(m(MATCH_RE, ".+", NULL));
    assert_true(m(MATCH_NRE, ".+", NULL));
    assert_false(m(MATCH_NRE, ".*", NULL));
    assert_true(m(MATCH_RE, "", ""));
    assert_false(m(MATCH_RE, "", "x"));
}

static void test_regex_fully_anchored(void **state)
{
    (void)state;
    assert_false(m(MATCH_RE, "fo", "foo"));
    assert_false(m(MATCH_RE, "oo", "foo"));
    assert_false(m(MATCH_RE, "o", "foo"));
    assert_true(m(MATCH_RE, "foo", "foo"));
    assert_true(m(MATCH_RE, "f.*", "foo"));
    assert_true(m(MATCH_RE, ".*o", "foo"));
    assert_true(m(MATCH_RE, "[a-z]+", "foo"));
    assert_false(m(MATCH_RE, "[a-z]+", "foo1"));
}

/* "a|b" must mean ^(?:a|b)$, not ^a|b$ — hence the non-capturing group. */
static void test_alternation_anchored(void **state)
{
    (void)state;
    assert_true(m(MATCH_RE, "a|b", "a"));
    assert_true(m(MATCH_RE, "a|b", "b"));
    assert_false(m(MATCH_RE, "a|b", "ab"));
    assert_false(m(MATCH_RE, "a|b", "ax"));
    assert_false(m(MATCH_RE, "a|b", "xb"));
    assert_true(m(MATCH_RE, "api|web|", ""));
    assert_false(m(MATCH_RE, "foo|bar", "foobar"));
}

static void test_not_regex(void **state)
{
    (void)state;
    assert_false(m(MATCH_NRE, "a|b", "a"));
    assert_true(m(MATCH_NRE, "a|b", "ab"));
    assert_true(m(MATCH_NRE, "fo", "foo")); /* anchored: "fo" does not match "foo" */
    assert_false(m(MATCH_NRE, "f.*", "foo"));
    assert_true(m(MATCH_NRE, "5..", "404"));
    assert_false(m(MATCH_NRE, "5..", "503"));
}

/*
 * Checked with promtool test rules on Prometheus 2.42: "." does not match a
 * newline, (?s) makes it, and "x" does not match "x\n" (Go's $ is the very
 * end of the text, unlike PCRE's default).
 */
static void test_newline_semantics(void **state)
{
    (void)state;
    assert_false(m(MATCH_RE, "x.y", "x\ny"));
    assert_true(m(MATCH_RE, "(?s)x.y", "x\ny"));
    assert_true(m(MATCH_RE, "x\ny", "x\ny"));
    assert_false(m(MATCH_RE, "x", "x\n"));
    assert_false(m(MATCH_RE, "x$", "x\n"));
    assert_false(m(MATCH_RE, ".*", "a\nb"));
    assert_true(m(MATCH_NRE, ".*", "a\nb"));
}

static void test_regex_unicode_and_flags(void **state)
{
    (void)state;
    assert_true(m(MATCH_RE, "caf.", "café")); /* one character, two bytes */
    assert_true(m(MATCH_RE, "é+", "ééé"));
    assert_true(m(MATCH_RE, "(?i)FOO", "foo"));
    assert_true(m(MATCH_RE, "\\d+", "123"));
    assert_true(m(MATCH_RE, "[[:alpha:]]+", "abc"));
    assert_true(m(MATCH_RE, "(?P<x>a)b", "ab"));
}

/* An invalid UTF-8 value is matched without error (never crashes). */
static void test_regex_invalid_utf8_subject(void **state)
{
    (void)state;
    assert_false(m(MATCH_RE, "a", "a\xff"));
    assert_true(m(MATCH_NRE, "a", "a\xff"));
    assert_true(m(MATCH_EQ, "a\xff", "a\xff"));
}

static void assert_bad_regex(const char *pattern)
{
    label_matcher lm;
    char err[256] = "";
    assert_int_equal(matcher_init(&lm, MATCH_RE, "a", pattern, err, sizeof(err)), -1);
    assert_int_equal(strncmp(err, "error parsing regexp: ", 22), 0);
    assert_non_null(strchr(err, '`'));
}

static void test_bad_regex(void **state)
{
    (void)state;
    assert_bad_regex("(");
    assert_bad_regex("*");
    assert_bad_regex("[a");
    assert_bad_regex("a\\");
    /* Would escape the group once wrapped: Prometheus rejects it too. */
    assert_bad_regex("a)|(b");
    assert_bad_regex(")(");
    assert_bad_regex("\\C"); /* matches a byte, could split UTF-8 */

    label_matcher lm;
    char err[256];
    assert_int_equal(matcher_init(&lm, MATCH_RE, "a", "(", err, sizeof(err)), -1);
    assert_string_equal(err, "error parsing regexp: missing closing parenthesis at offset 1: `(`");
    assert_int_equal(matcher_init(&lm, MATCH_NRE, "a", "(", err, sizeof(err)), -1);
}

/* Backtracking verbs cannot end a match before the end of the value. */
static void test_accept_verb_cannot_unanchor(void **state)
{
    (void)state;
    assert_true(m(MATCH_RE, "a(*ACCEPT)b", "a"));
    assert_false(m(MATCH_RE, "a(*ACCEPT)b", "ab"));
    assert_false(m(MATCH_RE, "a(*ACCEPT)", "abc"));
}

/* Catastrophic backtracking hits the match limit and counts as no match. */
static void test_catastrophic_regex_is_bounded(void **state)
{
    (void)state;
    char value[64];
    memset(value, 'a', sizeof(value) - 1);
    value[sizeof(value) - 1] = '\0';
    clock_t start = clock();
    assert_false(m(MATCH_RE, "(a+)+b", value));
    assert_false(m(MATCH_RE, "(a|aa)*c", value));
    assert_true((double)(clock() - start) / CLOCKS_PER_SEC < 5.0);
}

static void test_long_value(void **state)
{
    (void)state;
    size_t n = 1 << 20;
    char *value = malloc(n + 1);
    memset(value, 'x', n);
    value[n] = '\0';
    assert_true(m(MATCH_RE, "x*", value));
    assert_true(m(MATCH_RE, ".+", value));
    assert_false(m(MATCH_RE, "x*y", value));
    free(value);
}

static void assert_format(match_type t, const char *value, const char *want)
{
    label_matcher lm;
    char err[256];
    assert_int_equal(matcher_init(&lm, t, "job", value, err, sizeof(err)), 0);
    ebuf b;
    ebuf_init(&b);
    matcher_format(&b, &lm);
    assert_string_equal(b.data, want);
    ebuf_free(&b);
    matcher_free(&lm);
}

/* Prometheus's Matcher.String(): name, op, strconv.Quote(value). */
static void test_format(void **state)
{
    (void)state;
    assert_format(MATCH_EQ, "api", "job=\"api\"");
    assert_format(MATCH_NEQ, "", "job!=\"\"");
    assert_format(MATCH_RE, "a|b", "job=~\"a|b\"");
    assert_format(MATCH_NRE, "\\d+", "job!~\"\\\\d+\"");
    assert_format(MATCH_EQ, "say \"hi\"\n\t", "job=\"say \\\"hi\\\"\\n\\t\"");
    assert_format(MATCH_EQ, "\x01\x7f", "job=\"\\x01\\x7f\"");
    assert_format(MATCH_EQ, "caf\xc3\xa9 \xf0\x9f\x98\x80", "job=\"caf\xc3\xa9 \xf0\x9f\x98\x80\"");
    assert_format(MATCH_EQ, "\xc2\xa0", "job=\"\\u00a0\"");     /* no-break space */
    assert_format(MATCH_EQ, "\xe2\x80\x8b", "job=\"\\u200b\""); /* zero width space */
    assert_format(MATCH_EQ,
                  "\xff"
                  "a",
                  "job=\"\\xffa\""); /* invalid UTF-8 */
    assert_format(MATCH_EQ, "'`", "job=\"'`\"");
}

static void test_match_type_op(void **state)
{
    (void)state;
    assert_string_equal(match_type_op(MATCH_EQ), "=");
    assert_string_equal(match_type_op(MATCH_NEQ), "!=");
    assert_string_equal(match_type_op(MATCH_RE), "=~");
    assert_string_equal(match_type_op(MATCH_NRE), "!~");
}

static void test_matchers_match_labels(void **state)
{
    (void)state;
    labelset ls;
    labels_init(&ls);
    labels_add(&ls, "__name__", "up");
    labels_add(&ls, "job", "api");
    labels_sort(&ls);
    label_matcher ms[3];
    char err[256];
    assert_int_equal(matcher_init(&ms[0], MATCH_EQ, "__name__", "up", err, sizeof(err)), 0);
    assert_int_equal(matcher_init(&ms[1], MATCH_RE, "job", "api|web", err, sizeof(err)), 0);
    assert_int_equal(matcher_init(&ms[2], MATCH_EQ, "instance", "", err, sizeof(err)), 0);
    assert_true(matchers_match_labels(ms, 3, &ls));
    assert_true(matchers_match_labels(ms, 0, &ls));
    labels_set(&ls, "instance", "h:9100");
    assert_false(matchers_match_labels(ms, 3, &ls));
    assert_true(matchers_match_labels(ms, 2, &ls));
    for (int i = 0; i < 3; i++)
        matcher_free(&ms[i]);
    labels_free(&ls);
}

/* ---- storage helpers ---- */

static void test_stale_nan(void **state)
{
    (void)state;
    double s = stale_nan();
    assert_true(isnan(s));
    assert_true(is_stale_nan(s));
    uint64_t bits;
    memcpy(&bits, &s, sizeof(bits));
    assert_true(bits == STALE_NAN_BITS);
    assert_false(is_stale_nan(NAN));
    assert_false(is_stale_nan(-NAN));
    assert_false(is_stale_nan(0.0));
    assert_false(is_stale_nan(INFINITY));
    /* Prometheus's ordinary NaN (math.NaN()) is 0x7ff8000000000001. */
    uint64_t go_nan = 0x7ff8000000000001ULL;
    double v;
    memcpy(&v, &go_nan, sizeof(v));
    assert_false(is_stale_nan(v));
}

static void test_qseries_set(void **state)
{
    (void)state;
    qseries_set set;
    qseries_set_init(&set);
    const char *jobs[] = {"web", "api", "db"};
    for (int i = 0; i < 3; i++) {
        labelset ls;
        labels_init(&ls);
        labels_add(&ls, "__name__", "up");
        labels_add(&ls, "job", jobs[i]);
        labels_sort(&ls);
        qseries *q = qseries_set_add(&set, &ls);
        labels_free(&ls); /* the set holds its own copy */
        qseries_push(q, 1000 * i, i);
        qseries_push(q, 1000 * i + 1, i + 0.5);
    }
    assert_int_equal(set.n, 3);
    qseries_set_sort(&set);
    assert_string_equal(labels_get(&set.v[0].labels, "job"), "api");
    assert_string_equal(labels_get(&set.v[1].labels, "job"), "db");
    assert_string_equal(labels_get(&set.v[2].labels, "job"), "web");
    assert_int_equal(set.v[2].n, 2);
    assert_int_equal(set.v[2].samples[1].t, 1);
    assert_true(set.v[2].samples[1].v == 0.5);
    qseries_set_free(&set);
    assert_int_equal(set.n, 0);
    qseries_set_sort(&set); /* empty is fine */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_equality),
        cmocka_unit_test(test_missing_label_is_empty),
        cmocka_unit_test(test_regex_fully_anchored),
        cmocka_unit_test(test_alternation_anchored),
        cmocka_unit_test(test_not_regex),
        cmocka_unit_test(test_newline_semantics),
        cmocka_unit_test(test_regex_unicode_and_flags),
        cmocka_unit_test(test_regex_invalid_utf8_subject),
        cmocka_unit_test(test_bad_regex),
        cmocka_unit_test(test_accept_verb_cannot_unanchor),
        cmocka_unit_test(test_catastrophic_regex_is_bounded),
        cmocka_unit_test(test_long_value),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_match_type_op),
        cmocka_unit_test(test_matchers_match_labels),
        cmocka_unit_test(test_stale_nan),
        cmocka_unit_test(test_qseries_set),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
