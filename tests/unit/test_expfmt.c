/*
 * test_expfmt.c — metric sets and the text exposition parser and writer.
 *
 * The parser cases mirror Prometheus 2.42's promparse tests, plus the quirks
 * we checked by letting a real Prometheus 2.42 scrape each document: where
 * it accepted one, the samples are the ones it stored; where it failed the
 * scrape, we fail too (and say where).  The few places where we are
 * stricter are tested as such and listed in common/expfmt_parse.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/expfmt.h"
#include "common/fmtfloat.h"
#include "common/mem.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ------------------------------------------------------------ */

static int parse_n(const char *doc, size_t len, const expfmt_limits *lim, metric_set *ms,
                   expfmt_error *err)
{
    memset(err, 0, sizeof *err);
    return expfmt_parse(doc, len, lim, ms, err);
}

/* Parse doc into a fresh set, which must succeed. */
static void parse_ok(const char *doc, metric_set *ms)
{
    expfmt_error err;
    metric_set_init(ms);
    int rc = parse_n(doc, strlen(doc), NULL, ms, &err);
    if (rc != 0)
        fail_msg("unexpected parse error: line %zu, column %zu: %s", err.line, err.col, err.msg);
}

/* doc must fail at line:col with msg containing want. */
static void parse_fails_lim(const char *doc, size_t len, const expfmt_limits *lim, size_t line,
                            size_t col, const char *want)
{
    metric_set ms;
    expfmt_error err;
    metric_set_init(&ms);
    int rc = parse_n(doc, len, lim, &ms, &err);
    if (rc == 0)
        fail_msg("parsed, expected error \"%s\": %.60s", want, doc);
    assert_int_equal(rc, -1);
    assert_int_equal(ms.n, 0);
    assert_int_equal(ms.nmeta, 0);
    if (err.line != line || err.col != col || !strstr(err.msg, want))
        fail_msg("got line %zu, column %zu: %s; want %zu:%zu \"%s\"", err.line, err.col, err.msg,
                 line, col, want);
    metric_set_free(&ms);
}

static void parse_fails(const char *doc, size_t line, size_t col, const char *want)
{
    parse_fails_lim(doc, strlen(doc), NULL, line, col, want);
}

static const char *name_of(const metric_set *ms, size_t i)
{
    return labels_metric_name(&ms->samples[i].labels);
}

static const char *label_of(const metric_set *ms, size_t i, const char *name)
{
    return labels_get(&ms->samples[i].labels, name);
}

/* Two sets hold the same samples (in order) and the same metadata. */
static void assert_sets_equal(const metric_set *a, const metric_set *b)
{
    assert_int_equal(a->n, b->n);
    for (size_t i = 0; i < a->n; i++) {
        const metric_sample *x = &a->samples[i], *y = &b->samples[i];
        assert_true(labels_equal(&x->labels, &y->labels));
        assert_true(x->value == y->value || (isnan(x->value) && isnan(y->value)));
        assert_int_equal(x->has_ts, y->has_ts);
        assert_int_equal(x->ts_ms, y->ts_ms);
    }
    assert_int_equal(a->nmeta, b->nmeta);
    for (size_t i = 0; i < a->nmeta; i++) {
        const metric_meta *m = metric_set_find_meta(b, a->meta[i].family);
        assert_non_null(m);
        assert_int_equal(m->type, a->meta[i].type);
        if (a->meta[i].help)
            assert_string_equal(m->help, a->meta[i].help);
        else
            assert_null(m->help);
    }
}

/* Write ms, parse the text back, and require the same set. */
static void assert_round_trip(const metric_set *ms)
{
    ebuf text;
    ebuf_init(&text);
    expfmt_write(&text, ms);
    metric_set back;
    expfmt_error err;
    metric_set_init(&back);
    if (parse_n(text.data, text.len, NULL, &back, &err) != 0)
        fail_msg("written text does not parse: %zu:%zu %s\n%s", err.line, err.col, err.msg,
                 text.data);
    assert_sets_equal(ms, &back);
    metric_set_free(&back);
    ebuf_free(&text);
}

/* ---- metric sets -------------------------------------------------------- */

static void test_metric_types(void **state)
{
    (void)state;
    static const char *const names[] = {"untyped", "counter", "gauge", "histogram", "summary"};
    for (int t = METRIC_UNTYPED; t <= METRIC_SUMMARY; t++) {
        metric_type got;
        assert_string_equal(metric_type_name((metric_type)t), names[t]);
        assert_true(metric_type_parse(names[t], &got));
        assert_int_equal(got, t);
    }
    metric_type got = METRIC_GAUGE;
    assert_false(metric_type_parse("Counter", &got));
    assert_false(metric_type_parse("unknown", &got));
    assert_false(metric_type_parse("", &got));
    assert_int_equal(got, METRIC_GAUGE);
}

static void test_set_add_and_meta(void **state)
{
    (void)state;
    metric_set ms;
    metric_set_init(&ms);
    metric_set_addl(&ms, "node_cpu_seconds_total", 12.5, "mode", "idle", "cpu", "0", NULL);
    assert_int_equal(ms.n, 1);
    const labelset *ls = &ms.samples[0].labels;
    assert_int_equal(ls->n, 3);
    /* Sorted byte-wise: '_' (0x5f) sorts before 'c' (0x63). */
    assert_string_equal(ls->v[0].name, "__name__");
    assert_string_equal(ls->v[1].name, "cpu");
    assert_string_equal(ls->v[2].name, "mode");
    assert_false(ms.samples[0].has_ts);

    labelset own;
    labels_init(&own);
    labels_add(&own, "z", "1");
    labels_add(&own, "__name__", "up");
    metric_set_add(&ms, &own, 1, true, 1234);
    assert_int_equal(own.n, 0); /* ownership taken */
    assert_string_equal(ms.samples[1].labels.v[0].name, "__name__");
    assert_int_equal(ms.samples[1].ts_ms, 1234);
    labels_free(&own);

    metric_set_meta(&ms, "up", METRIC_GAUGE, "Target is up.");
    metric_set_meta(&ms, "up", METRIC_COUNTER, NULL); /* NULL keeps the help */
    const metric_meta *m = metric_set_find_meta(&ms, "up");
    assert_non_null(m);
    assert_int_equal(m->type, METRIC_COUNTER);
    assert_string_equal(m->help, "Target is up.");
    assert_null(metric_set_find_meta(&ms, "u"));
    assert_null(metric_set_find_meta(&ms, "upx"));

    metric_set_clear(&ms);
    assert_int_equal(ms.n, 0);
    assert_int_equal(ms.nmeta, 0);
    metric_set_addl(&ms, "again", 1, NULL);
    assert_int_equal(ms.n, 1);
    metric_set_free(&ms);
}

static void test_set_move(void **state)
{
    (void)state;
    metric_set a, b;
    metric_set_init(&a);
    metric_set_init(&b);
    metric_set_addl(&a, "x", 1, NULL);
    metric_set_meta(&a, "x", METRIC_GAUGE, "old");
    metric_set_addl(&b, "x", 2, NULL);
    metric_set_addl(&b, "y", 3, NULL);
    metric_set_meta(&b, "x", METRIC_COUNTER, NULL);
    metric_set_meta(&b, "y", METRIC_GAUGE, "why");
    metric_set_move(&a, &b);
    assert_int_equal(a.n, 3);
    assert_int_equal(b.n, 0);
    assert_int_equal(b.nmeta, 0);
    assert_true(a.samples[1].value == 2 && a.samples[2].value == 3);
    assert_int_equal(metric_set_find_meta(&a, "x")->type, METRIC_COUNTER);
    assert_string_equal(metric_set_find_meta(&a, "x")->help, "old");
    assert_string_equal(metric_set_find_meta(&a, "y")->help, "why");
    /* Into an empty set, and src stays usable. */
    metric_set_move(&b, &a);
    assert_int_equal(b.n, 3);
    assert_int_equal(b.nmeta, 2);
    metric_set_addl(&a, "z", 4, NULL);
    assert_int_equal(a.n, 1);
    /* Regression (UBSan): moving an empty set did memcpy from NULL. */
    metric_set empty;
    metric_set_init(&empty);
    metric_set_move(&b, &empty);
    assert_int_equal(b.n, 3);
    assert_int_equal(expfmt_parse("# only a comment\n", 17, NULL, &b, NULL), 0);
    assert_int_equal(b.n, 3);
    metric_set_free(&empty);
    metric_set_free(&a);
    metric_set_free(&b);
}

static void test_family_of(void **state)
{
    (void)state;
    metric_set ms;
    metric_set_init(&ms);
    metric_set_meta(&ms, "h", METRIC_HISTOGRAM, NULL);
    metric_set_meta(&ms, "s", METRIC_SUMMARY, NULL);
    metric_set_meta(&ms, "c", METRIC_COUNTER, NULL);
    metric_set_meta(&ms, "g", METRIC_GAUGE, NULL);
    metric_set_meta(&ms, "h_sum", METRIC_GAUGE, NULL); /* own declaration wins */
    assert_string_equal(metric_set_family_of(&ms, "h_bucket"), "h");
    assert_string_equal(metric_set_family_of(&ms, "h_count"), "h");
    assert_string_equal(metric_set_family_of(&ms, "h_sum"), "h_sum");
    assert_string_equal(metric_set_family_of(&ms, "h"), "h");
    assert_string_equal(metric_set_family_of(&ms, "s_sum"), "s");
    assert_string_equal(metric_set_family_of(&ms, "s_count"), "s");
    assert_string_equal(metric_set_family_of(&ms, "s_bucket"), "s_bucket");
    assert_string_equal(metric_set_family_of(&ms, "c_total"), "c");
    assert_string_equal(metric_set_family_of(&ms, "c_sum"), "c_sum");
    assert_string_equal(metric_set_family_of(&ms, "g_total"), "g_total");
    assert_string_equal(metric_set_family_of(&ms, "g_count"), "g_count");
    assert_string_equal(metric_set_family_of(&ms, "_bucket"), "_bucket");
    assert_string_equal(metric_set_family_of(&ms, "other"), "other");
    metric_set_free(&ms);
}

/* ---- parser: metadata --------------------------------------------------- */

static void test_help_and_type_every_type(void **state)
{
    (void)state;
    static const char *const types[] = {"counter", "gauge", "histogram", "summary", "untyped"};
    static const metric_type want[] = {METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM,
                                       METRIC_SUMMARY, METRIC_UNTYPED};
    for (size_t i = 0; i < 5; i++) {
        char doc[200];
        snprintf(doc, sizeof doc, "# HELP m_%s Help for %s.\n# TYPE m_%s %s\n", types[i], types[i],
                 types[i], types[i]);
        metric_set ms;
        parse_ok(doc, &ms);
        assert_int_equal(ms.nmeta, 1);
        char fam[32], help[32];
        snprintf(fam, sizeof fam, "m_%s", types[i]);
        snprintf(help, sizeof help, "Help for %s.", types[i]);
        assert_string_equal(ms.meta[0].family, fam);
        assert_int_equal(ms.meta[0].type, want[i]);
        assert_string_equal(ms.meta[0].help, help);
        metric_set_free(&ms);
    }
}

static void test_help_text(void **state)
{
    (void)state;
    metric_set ms;
    /* Only \\ and \n are decoded in HELP; \" stays, as in Prometheus. */
    parse_ok("# HELP a x \\\\ y \\n z \\\" w \\t\n"
             "# HELP b\n"
             "# HELP c   \n"
             "# HELP d  two\n"
             "# HELP e trail \n"
             "#\tHELP\tf\ttabs\n"
             "  # HELP g indented\n"
             "# HELP h-dash text\n"
             "# HELP i \xc3\xa9t\xc3\xa9\n",
             &ms);
    assert_int_equal(ms.nmeta, 9);
    assert_string_equal(metric_set_find_meta(&ms, "a")->help, "x \\ y \n z \\\" w \\t");
    assert_string_equal(metric_set_find_meta(&ms, "b")->help, "");
    assert_string_equal(metric_set_find_meta(&ms, "c")->help, "");
    assert_string_equal(metric_set_find_meta(&ms, "d")->help, " two");
    assert_string_equal(metric_set_find_meta(&ms, "e")->help, "trail ");
    assert_string_equal(metric_set_find_meta(&ms, "f")->help, "tabs");
    assert_string_equal(metric_set_find_meta(&ms, "g")->help, "indented");
    /* Prometheus's lexer: name "h", text "-dash text" minus its first byte. */
    assert_string_equal(metric_set_find_meta(&ms, "h")->help, "dash text");
    assert_string_equal(metric_set_find_meta(&ms, "i")->help, "\xc3\xa9t\xc3\xa9");
    assert_int_equal(metric_set_find_meta(&ms, "a")->type, METRIC_UNTYPED);
    metric_set_free(&ms);
}

static void test_help_then_type_and_redeclare(void **state)
{
    (void)state;
    metric_set ms;
    parse_ok("# TYPE x counter\n# HELP x first\n# TYPE x gauge\n# HELP x second\n", &ms);
    assert_int_equal(ms.nmeta, 1);
    assert_int_equal(ms.meta[0].type, METRIC_GAUGE);
    assert_string_equal(ms.meta[0].help, "second");
    metric_set_free(&ms);
}

static void test_type_errors(void **state)
{
    (void)state;
    parse_fails("# TYPE foo bar\n", 1, 12, "invalid metric type \"bar\"");
    parse_fails("# TYPE foo Counter\n", 1, 12, "invalid metric type");
    parse_fails("# TYPE foo unknown\n", 1, 12, "invalid metric type");
    parse_fails("# TYPE foo\n", 1, 11, "invalid metric type \"\"");
    /* The text is the rest of the line minus one byte, blanks included. */
    parse_fails("# TYPE foo  counter\n", 1, 12, "invalid metric type \" counter\"");
    parse_fails("# TYPE foo counter \n", 1, 12, "invalid metric type \"counter \"");
    parse_fails("x 1\n# TYPE 1foo counter\n", 2, 8, "expected metric name after TYPE");
    parse_fails("# HELP {\n", 1, 8, "expected metric name after HELP");
    parse_fails("# HELP   \n", 1, 10, "expected metric name after HELP");
    parse_fails("# HELP x \xff\n", 1, 10, "HELP text is not valid UTF-8");
}

static void test_comments_and_blank_lines(void **state)
{
    (void)state;
    metric_set ms;
    parse_ok("\n"
             "# a comment\n"
             "#\n"
             "#no blank after the hash\n"
             "# Hrandom comment starting with prefix of HELP\n"
             "# HELP\n"
             "# TYPEfoo counter\n"
             "# comment with \\ escape and \xff invalid UTF-8\n"
             "   \n"
             "\t\n"
             "a 1\n"
             "\n"
             "\n"
             "# trailing comment",
             &ms);
    assert_int_equal(ms.n, 1);
    assert_int_equal(ms.nmeta, 0);
    metric_set_free(&ms);

    parse_ok("", &ms);
    assert_int_equal(ms.n, 0);
    metric_set_free(&ms);

    expfmt_error err;
    metric_set_init(&ms);
    assert_int_equal(expfmt_parse(NULL, 0, NULL, &ms, &err), 0);
    assert_int_equal(expfmt_parse("\n\n", 2, NULL, &ms, NULL), 0);
    assert_int_equal(ms.n, 0);
    metric_set_free(&ms);
}

/* ---- parser: samples ---------------------------------------------------- */

static void test_samples_and_labels(void **state)
{
    (void)state;
    metric_set ms;
    parse_ok("go_gc_duration_seconds{quantile=\"0\"} 4.9351e-05\n"
             "go_gc_duration_seconds{quantile=\"0.25\",} 7.424100000000001e-05\n"
             "go_gc_duration_seconds{quantile=\"0.5\",a=\"b\"} 8.3835e-05\n"
             "go_gc_duration_seconds{ quantile=\"0.9\", a=\"b\"} 8.3835e-05\n"
             "go_gc_duration_seconds { quantile = \"1.0\", a = \"b\" } 8.3835e-05\n"
             "go_gc_duration_seconds { quantile= \"1.0\", a= \"b\", } 8.3835e-05\n"
             "go_gc_duration_seconds { quantile = \"2.0\" a = \"b\" } 8.3835e-05\n"
             "some:aggregate:rate5m{a_b=\"c\"}\t1\n"
             "_metric_starting_with_underscore 1\n"
             "testmetric{_label_starting_with_underscore=\"foo\"} 1\n"
             "wind_speed{A=\"2\",c=\"3\"} 12345\n"
             "empty{} 2\n",
             &ms);
    assert_int_equal(ms.n, 12);
    assert_string_equal(label_of(&ms, 0, "quantile"), "0");
    assert_true(ms.samples[0].value == 4.9351e-05);
    assert_int_equal(ms.samples[1].labels.n, 2);
    assert_string_equal(label_of(&ms, 6, "quantile"), "2.0");
    assert_string_equal(label_of(&ms, 6, "a"), "b");
    assert_string_equal(name_of(&ms, 7), "some:aggregate:rate5m");
    assert_string_equal(name_of(&ms, 8), "_metric_starting_with_underscore");
    /* Sorted byte-wise: "A" < "__name__" < "c". */
    assert_string_equal(ms.samples[10].labels.v[0].name, "A");
    assert_string_equal(ms.samples[10].labels.v[1].name, "__name__");
    assert_string_equal(ms.samples[10].labels.v[2].name, "c");
    assert_int_equal(ms.samples[11].labels.n, 1);
    metric_set_free(&ms);
}

static void test_label_escapes(void **state)
{
    (void)state;
    metric_set ms;
    parse_ok("m{a=\"back\\\\slash\",b=\"q\\\"uote\",c=\"new\\nline\",d=\"\\\"bar\\\"\"} 1\n"
             "m{t=\"\\t\",x=\"\\x\",e=\"x\\\\\",u=\"\xc3\xa9\"} 2\n",
             &ms);
    assert_string_equal(label_of(&ms, 0, "a"), "back\\slash");
    assert_string_equal(label_of(&ms, 0, "b"), "q\"uote");
    assert_string_equal(label_of(&ms, 0, "c"), "new\nline");
    assert_string_equal(label_of(&ms, 0, "d"), "\"bar\"");
    /* Unknown escapes stay as written, as Prometheus's lvalReplacer does. */
    assert_string_equal(label_of(&ms, 1, "t"), "\\t");
    assert_string_equal(label_of(&ms, 1, "x"), "\\x");
    assert_string_equal(label_of(&ms, 1, "e"), "x\\");
    assert_string_equal(label_of(&ms, 1, "u"), "\xc3\xa9");
    assert_round_trip(&ms);
    metric_set_free(&ms);
}

static void test_label_escape_round_trip(void **state)
{
    (void)state;
    static const char *const values[] = {"\\",   "\"",           "\n",    "a\\b\"c\nd", "\\n",
                                         "\\\"", "\n\n\\\\\"\"", "end\\", "\\t stays",  "é ü 日本"};
    metric_set ms;
    metric_set_init(&ms);
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++)
        metric_set_addl(&ms, "esc", (double)i, "v", values[i], NULL);
    ebuf text;
    ebuf_init(&text);
    expfmt_write(&text, &ms);
    assert_non_null(strstr(text.data, "esc{v=\"a\\\\b\\\"c\\nd\"} 3\n"));
    ebuf_free(&text);
    assert_round_trip(&ms);
    metric_set_free(&ms);
}

static void test_raw_newline_in_label_value(void **state)
{
    (void)state;
    metric_set ms;
    /* Prometheus's lexer lets a quoted value run over a raw newline. */
    parse_ok("foo{a=\"x\ny\"} 1\nbar 2\n", &ms);
    assert_int_equal(ms.n, 2);
    assert_string_equal(label_of(&ms, 0, "a"), "x\ny");
    assert_round_trip(&ms);
    metric_set_free(&ms);
    /* Line numbers go on counting physical lines. */
    parse_fails("foo{a=\"x\ny\", b=\"1\"} 1\nbar bad\n", 3, 5, "invalid value");
    parse_fails("foo{a=\"x\ny\", b=\"1\", a=\"2\"} 1\n", 2, 12, "duplicate label name \"a\"");
    parse_fails("foo{a=\"x\\\ny\"} 1\n", 1, 9, "backslash at end of line");
    parse_fails("foo{a=\"x\n", 1, 7, "unterminated label value");
}

static void test_empty_label_values_dropped(void **state)
{
    (void)state;
    metric_set ms;
    parse_ok("foo{a=\"\",b=\"x\"} 1\n", &ms);
    assert_int_equal(ms.samples[0].labels.n, 2);
    assert_null(label_of(&ms, 0, "a"));
    assert_string_equal(label_of(&ms, 0, "b"), "x");
    metric_set_free(&ms);
}

static void test_timestamps(void **state)
{
    (void)state;
    metric_set ms;
    parse_ok("a 1\nb 2 1700000000123\nc 3 0\nd 4  \t 0123\ne 5 9223372036854775807\nf 6 7 \n", &ms);
    assert_false(ms.samples[0].has_ts);
    assert_true(ms.samples[1].has_ts);
    assert_int_equal(ms.samples[1].ts_ms, 1700000000123LL);
    assert_true(ms.samples[2].has_ts);
    assert_int_equal(ms.samples[2].ts_ms, 0);
    assert_int_equal(ms.samples[3].ts_ms, 123);
    assert_int_equal(ms.samples[4].ts_ms, INT64_MAX);
    assert_int_equal(ms.samples[5].ts_ms, 7);
    assert_round_trip(&ms);
    metric_set_free(&ms);
    parse_fails("a 1 9223372036854775808\n", 1, 5, "timestamp out of range");
    parse_fails("a 1 99999999999999999999999\n", 1, 5, "timestamp out of range");
    parse_fails("a 1 -5\n", 1, 5, "expected timestamp or end of line");
    parse_fails("a 1 1.5\n", 1, 6, "expected end of line after timestamp");
    parse_fails("a 1 1e3\n", 1, 6, "expected end of line after timestamp");
}

static void test_special_values(void **state)
{
    (void)state;
    metric_set ms;
    parse_ok("a NaN\nb +Inf\nc -Inf\nd nan\ne Inf\nf inf\ng -infinity\nh Infinity\n", &ms);
    assert_true(isnan(ms.samples[0].value));
    uint64_t bits;
    memcpy(&bits, &ms.samples[0].value, sizeof bits);
    assert_true(bits == 0x7ff8000000000001ULL); /* Prometheus's normal NaN */
    assert_true(isinf(ms.samples[1].value) && ms.samples[1].value > 0);
    assert_true(isinf(ms.samples[2].value) && ms.samples[2].value < 0);
    assert_true(isnan(ms.samples[3].value));
    assert_true(isinf(ms.samples[4].value) && ms.samples[4].value > 0);
    assert_true(isinf(ms.samples[5].value) && ms.samples[5].value > 0);
    assert_true(isinf(ms.samples[6].value) && ms.samples[6].value < 0);
    assert_true(isinf(ms.samples[7].value) && ms.samples[7].value > 0);
    assert_round_trip(&ms);
    metric_set_free(&ms);
    parse_fails("a -nan\n", 1, 3, "invalid value \"-nan\"");
    parse_fails("a +NaN\n", 1, 3, "invalid value");
}

static void test_number_forms(void **state)
{
    (void)state;
    metric_set ms;
    parse_ok("a 1.5e3\nb 1E-3\nc +1e+3\nd .5\ne 1.\nf -0\ng 00012\nh 1e-400\ni -2.5E+2\n", &ms);
    static const double want[] = {1500, 0.001, 1000, 0.5, 1, 0, 12, 0, -250};
    for (size_t i = 0; i < 9; i++)
        assert_true(ms.samples[i].value == want[i]);
    assert_true(signbit(ms.samples[5].value));
    metric_set_free(&ms);
    parse_fails("a 1_000\n", 1, 3, "unsupported character in float");
    parse_fails("a 0x1p-3\n", 1, 3, "unsupported character in float");
    parse_fails("a 0x1P-3\n", 1, 3, "unsupported character in float");
    parse_fails("a 0x10\n", 1, 3, "invalid value");
    parse_fails("a 1e400\n", 1, 3, "invalid value \"1e400\"");
    parse_fails("a .\n", 1, 3, "invalid value");
    parse_fails("a true\n", 1, 3, "invalid value \"true\"");
}

static void test_missing_value(void **state)
{
    (void)state;
    parse_fails("a", 1, 2, "expected value after metric, got end of input");
    parse_fails("a\n", 1, 2, "expected value after metric, got end of line");
    parse_fails("a   \n", 1, 5, "expected value after metric");
    parse_fails("a{b=\"c\"}\n", 1, 9, "expected value after metric");
    parse_fails("a{b=\"c\"} \t\n", 1, 11, "expected value after metric");
    parse_fails("a{b=\"c\"}{d=\"e\"} 1\n", 1, 9, "expected value after metric, got '{'");
}

static void test_garbage_after_value(void **state)
{
    (void)state;
    parse_fails("a 1 2 3\n", 1, 7, "expected end of line after timestamp, got '3'");
    parse_fails("a 1 abc\n", 1, 5, "expected timestamp or end of line, got 'a'");
    parse_fails("a 1{\n", 1, 4, "expected timestamp or end of line, got '{'");
    parse_fails("a 1 0 1_2\n", 1, 7, "expected end of line after timestamp");
    parse_fails("a 1x\n", 1, 3, "invalid value \"1x\"");
    /* CRLF: the \r ends up in the value, as in Prometheus. */
    parse_fails("a 1\r\n", 1, 3, "invalid value");
    parse_fails("a 1 5\r\n", 1, 6, "expected end of line after timestamp, got byte 0x0d");
    parse_fails("a 1\n\r\nb 2\n", 2, 1, "expected metric name or comment, got byte 0x0d");
}

static void test_label_syntax_errors(void **state)
{
    (void)state;
    parse_fails("a{b='c'} 1\n", 1, 5, "expected '\"' to start label value, got '''");
    parse_fails("a{b=\n", 1, 5, "expected '\"' to start label value, got end of line");
    parse_fails("a{b=\n\"c\"} 1\n", 1, 5, "expected '\"' to start label value");
    parse_fails("a{\xff=\"foo\"} 1\n", 1, 3, "expected label name or '}', got byte 0xff");
    parse_fails("a{=\"\"} 0\n", 1, 3, "expected label name or '}', got '='");
    parse_fails("a{b\"c\"} 1\n", 1, 4, "expected '=' after label name, got '\"'");
    parse_fails("a{b:c=\"d\"} 1\n", 1, 4, "expected '=' after label name, got ':'");
    parse_fails("a{b=\"1\",,c=\"2\"} 1\n", 1, 9, "expected label name or '}', got ','");
    parse_fails("a{,} 1\n", 1, 3, "expected label name or '}', got ','");
    parse_fails("a{b=\"c\"\n} 1\n", 1, 8, "expected label name or '}', got end of line");
    parse_fails("something_weird{problem=\"", 1, 25, "unterminated label value");
    parse_fails("a{b=\"\\\"} 1\n", 1, 5, "unterminated label value");
    parse_fails("{__name__=\"a\"} 1\n", 1, 1, "expected metric name or comment, got '{'");
}

static void test_invalid_utf8_label_value(void **state)
{
    (void)state;
    parse_fails("a{b=\"\xff\"} 1\n", 1, 5, "invalid UTF-8 in label value");
    parse_fails("ok 1\na{x=\"y\",b=\"ab\xc3\"} 1\n", 2, 11, "invalid UTF-8");
    parse_fails("a{b=\"\xc0\xaf\"} 1\n", 1, 5, "invalid UTF-8");         /* overlong */
    parse_fails("a{b=\"\xed\xa0\x80\"} 1\n", 1, 5, "invalid UTF-8");     /* surrogate */
    parse_fails("a{b=\"\xf4\x90\x80\x80\"} 1\n", 1, 5, "invalid UTF-8"); /* > U+10FFFF */
}

static void test_duplicate_labels(void **state)
{
    (void)state;
    parse_fails("a{b=\"1\",b=\"2\"} 1\n", 1, 9, "duplicate label name \"b\"");
    parse_fails("a{b=\"1\",c=\"2\",  b=\"1\"} 1\n", 1, 17, "duplicate label name \"b\"");
    parse_fails("a{__name__=\"x\"} 1\n", 1, 3, "duplicate label name \"__name__\"");
    /* Checked before empty values are dropped (Prometheus drops both). */
    parse_fails("a{b=\"\",b=\"x\"} 1\n", 1, 8, "duplicate label name \"b\"");
}

static void test_prometheus_lexer_quirks(void **state)
{
    (void)state;
    metric_set ms;
    /* Each of these is what Prometheus 2.42 stored when scraping the line. */
    parse_ok("foo-1\n"
             "bar1.5\n"
             "baz{a=\"b\"}2\n"
             "qux{a=\"1\" b=\"2\"} 3\n"
             "# TYPE t-counter\n"
             "  # TYPE u gauge\n",
             &ms);
    assert_int_equal(ms.n, 4);
    assert_string_equal(name_of(&ms, 0), "foo");
    assert_true(ms.samples[0].value == -1);
    assert_string_equal(name_of(&ms, 1), "bar1");
    assert_true(ms.samples[1].value == 0.5);
    assert_true(ms.samples[2].value == 2);
    assert_string_equal(label_of(&ms, 3, "b"), "2");
    assert_int_equal(metric_set_find_meta(&ms, "t")->type, METRIC_COUNTER);
    assert_int_equal(metric_set_find_meta(&ms, "u")->type, METRIC_GAUGE);
    metric_set_free(&ms);
    /* 2.42 counts leading blanks into the metric name and rejects it. */
    parse_fails("ok 1\n  foo 1\n", 2, 1, "blanks before a metric name");
    parse_fails("\tfoo 1\n", 1, 1, "blanks before a metric name");
}

static void test_nul_bytes(void **state)
{
    (void)state;
    /* Stricter than Prometheus, which stops at the first (silently) or keeps
     * the NUL in the value; our C strings cannot hold it. */
    parse_fails_lim("a 1\n\0b 2\n", 9, NULL, 2, 1, "got byte 0x00");
    parse_fails_lim("a{b=\"x\0\"} 1\n", 13, NULL, 1, 7, "NUL byte in label value");
    parse_fails_lim("a{b=\"\\\0\"} 1\n", 12, NULL, 1, 7, "NUL byte in label value");
    parse_fails_lim("a 1\0\n", 5, NULL, 1, 3, "invalid value");
    /* In HELP text the NUL ends the text. */
    metric_set ms;
    expfmt_error err;
    metric_set_init(&ms);
    static const char doc[] = "# HELP a x\0y\na 1\n";
    assert_int_equal(parse_n(doc, sizeof doc - 1, NULL, &ms, &err), 0);
    assert_string_equal(ms.meta[0].help, "x");
    metric_set_free(&ms);
}

/* ---- parser: families --------------------------------------------------- */

static void test_histogram_family(void **state)
{
    (void)state;
    metric_set ms;
    parse_ok("# HELP http_request_duration_seconds Latency.\n"
             "# TYPE http_request_duration_seconds histogram\n"
             "http_request_duration_seconds_bucket{handler=\"/\",le=\"0.05\"} 24054\n"
             "http_request_duration_seconds_bucket{handler=\"/\",le=\"1\"} 33444\n"
             "http_request_duration_seconds_bucket{handler=\"/\",le=\"+Inf\"} 144320\n"
             "http_request_duration_seconds_sum{handler=\"/\"} 53423\n"
             "http_request_duration_seconds_count{handler=\"/\"} 144320\n",
             &ms);
    assert_int_equal(ms.n, 5);
    assert_int_equal(ms.nmeta, 1);
    const metric_meta *m = metric_set_find_meta(&ms, "http_request_duration_seconds");
    assert_int_equal(m->type, METRIC_HISTOGRAM);
    assert_string_equal(m->help, "Latency.");
    for (size_t i = 0; i < ms.n; i++)
        assert_string_equal(metric_set_family_of(&ms, name_of(&ms, i)),
                            "http_request_duration_seconds");
    assert_string_equal(label_of(&ms, 2, "le"), "+Inf");
    double le;
    assert_true(parse_float("+Inf", 4, &le) && isinf(le));
    assert_round_trip(&ms);
    metric_set_free(&ms);
}

static void test_summary_family(void **state)
{
    (void)state;
    metric_set ms;
    parse_ok("# HELP rpc_duration_seconds RPC latency.\n"
             "# TYPE rpc_duration_seconds summary\n"
             "rpc_duration_seconds{quantile=\"0.01\"} 3102\n"
             "rpc_duration_seconds{quantile=\"0.5\"} 4773\n"
             "rpc_duration_seconds{quantile=\"0.99\"} 76656\n"
             "rpc_duration_seconds_sum 1.7560473e+07\n"
             "rpc_duration_seconds_count 2693\n"
             "# TYPE other counter\n"
             "other_total 1\n",
             &ms);
    assert_int_equal(ms.n, 6);
    for (size_t i = 0; i < 5; i++)
        assert_string_equal(metric_set_family_of(&ms, name_of(&ms, i)), "rpc_duration_seconds");
    assert_int_equal(metric_set_find_meta(&ms, "rpc_duration_seconds")->type, METRIC_SUMMARY);
    assert_string_equal(metric_set_family_of(&ms, "other_total"), "other");
    assert_string_equal(label_of(&ms, 2, "quantile"), "0.99");
    assert_true(ms.samples[3].value == 1.7560473e+07);
    assert_round_trip(&ms);
    metric_set_free(&ms);
}

/* ---- parser: limits, positions, atomicity -------------------------------- */

static char *long_line(size_t len)
{
    /* big{v="xxxx...x"} 1 — exactly len bytes, no newline. */
    static const char head[] = "big{v=\"", tail[] = "\"} 1";
    size_t fixed = sizeof head - 1 + sizeof tail - 1;
    char *s = em_malloc(len + 2);
    memcpy(s, head, sizeof head - 1);
    memset(s + sizeof head - 1, 'x', len - fixed);
    memcpy(s + len - (sizeof tail - 1), tail, sizeof tail - 1);
    s[len] = '\n';
    s[len + 1] = '\0';
    return s;
}

static void test_one_mib_line(void **state)
{
    (void)state;
    size_t mib = 1u << 20;
    char *line = long_line(mib);
    metric_set ms;
    expfmt_error err;
    metric_set_init(&ms);
    assert_int_equal(parse_n(line, mib + 1, NULL, &ms, &err), 0); /* default: 1 MiB */
    assert_int_equal(strlen(label_of(&ms, 0, "v")), mib - 11);
    expfmt_limits unlimited = {0, 0};
    assert_int_equal(parse_n(line, mib + 1, &unlimited, &ms, &err), 0);
    assert_int_equal(ms.n, 2);
    metric_set_free(&ms);
    expfmt_limits small = {.max_line_len = 1000, .max_labels = 0};
    parse_fails_lim(line, mib + 1, &small, 1, 1001, "line too long");
    free(line);

    line = long_line(mib + 1);
    parse_fails_lim(line, mib + 2, NULL, 1, mib + 1, "line too long");
    free(line);
    /* Comments count too, and a value running over lines is checked per line. */
    expfmt_limits ten = {.max_line_len = 10, .max_labels = 0};
    parse_fails_lim("# 345678901\n", 12, &ten, 1, 11, "line too long");
    parse_fails_lim("a{b=\"x\n12345678901\"} 1\n", 23, &ten, 2, 11, "line too long");
}

static void test_label_count_limit(void **state)
{
    (void)state;
    ebuf doc;
    ebuf_init(&doc);
    ebuf_puts(&doc, "m{");
    for (int i = 0; i < 64; i++)
        ebuf_printf(&doc, "l%d=\"v\",", i);
    ebuf_puts(&doc, "} 1\n");
    metric_set ms;
    parse_ok(doc.data, &ms); /* 64 is the default limit */
    assert_int_equal(ms.samples[0].labels.n, 65);
    metric_set_free(&ms);

    ebuf_reset(&doc);
    ebuf_puts(&doc, "m{");
    for (int i = 0; i < 65; i++)
        ebuf_printf(&doc, "l%d=\"v\",", i);
    ebuf_puts(&doc, "} 1\n");
    /* The 65th label starts after "m{" and 64 times `lN="v",`. */
    size_t col = 2 + 10 * 7 + 54 * 8 + 1;
    parse_fails_lim(doc.data, doc.len, NULL, 1, col, "too many labels (limit 64)");
    expfmt_limits none = {.max_line_len = 0, .max_labels = 0};
    metric_set_init(&ms);
    expfmt_error err;
    assert_int_equal(parse_n(doc.data, doc.len, &none, &ms, &err), 0);
    metric_set_free(&ms);
    expfmt_limits two = {.max_line_len = 0, .max_labels = 2};
    const char *three = "m{a=\"1\",b=\"2\",c=\"3\"} 1\n";
    parse_fails_lim(three, strlen(three), &two, 1, 15, "too many labels (limit 2)");
    ebuf_free(&doc);
}

static void test_error_positions(void **state)
{
    (void)state;
    parse_fails("# HELP a b\n"
                "a 1\n"
                "b{c=\"d\", e=f} 2\n",
                3, 12, "expected '\"' to start label value, got 'f'");
    parse_fails("a 1\n\n\nb 2 3 4\n", 4, 7, "expected end of line after timestamp");
    parse_fails("a{b=\"c\"} 1\nx{y=\"z\"} bad\n", 2, 10, "invalid value \"bad\"");
    parse_fails("ok 1\n# TYPE t bogus\n", 2, 10, "invalid metric type \"bogus\"");
    parse_fails("ok 1\n!\n", 2, 1, "expected metric name or comment, got '!'");

    expfmt_error err = {.line = 3, .col = 17};
    strcpy(err.msg, "expected '=' after label name");
    char buf[128];
    expfmt_error_format(&err, buf, sizeof buf);
    assert_string_equal(buf, "line 3, column 17: expected '=' after label name");
}

static void test_error_leaves_output_unchanged(void **state)
{
    (void)state;
    metric_set ms;
    parse_ok("# TYPE keep counter\n# HELP keep Kept.\nkeep_total 1\n", &ms);
    expfmt_error err;
    const char *doc = "# TYPE keep gauge\n# HELP keep Changed.\n# TYPE newfam gauge\n"
                      "newfam 1\nkeep_total 2\nbroken{\n";
    int rc = parse_n(doc, strlen(doc), NULL, &ms, &err);
    assert_int_equal(rc, -1);
    assert_int_equal(ms.n, 1);
    assert_int_equal(ms.nmeta, 1);
    assert_int_equal(ms.meta[0].type, METRIC_COUNTER);
    assert_string_equal(ms.meta[0].help, "Kept.");
    assert_true(ms.samples[0].value == 1);
    metric_set_free(&ms);
}

static void test_parse_appends_and_merges(void **state)
{
    (void)state;
    metric_set ms;
    parse_ok("# TYPE foo counter\n# HELP foo Old.\nfoo_total 1\n", &ms);
    expfmt_error err;
    /* A HELP alone does not reset the declared type. */
    const char *doc = "# HELP foo New.\nfoo_total 2\n# TYPE bar gauge\nbar 3\n";
    assert_int_equal(parse_n(doc, strlen(doc), NULL, &ms, &err), 0);
    assert_int_equal(ms.n, 3);
    assert_int_equal(ms.nmeta, 2);
    assert_int_equal(metric_set_find_meta(&ms, "foo")->type, METRIC_COUNTER);
    assert_string_equal(metric_set_find_meta(&ms, "foo")->help, "New.");
    assert_int_equal(metric_set_find_meta(&ms, "bar")->type, METRIC_GAUGE);
    assert_true(ms.samples[2].value == 3);
    metric_set_free(&ms);
}

static const char rich_doc[] =
    "# HELP go_gc_duration_seconds A summary of the GC invocation durations.\n"
    "# TYPE go_gc_duration_seconds summary\n"
    "go_gc_duration_seconds{quantile=\"0\"} 4.9351e-05\n"
    "go_gc_duration_seconds{quantile=\"1\",a=\"b\"} 8.3835e-05\n"
    "go_gc_duration_seconds_sum 0.5\n"
    "go_gc_duration_seconds_count 99\n"
    "# comment\n"
    "\n"
    "# HELP req Requests \\\\ with \\n escapes.\n"
    "# TYPE req counter\n"
    "req_total{code=\"200\",path=\"/a\\\"b\\\\c\\nd\"} 1027 1395066363000\n"
    "req_total{code=\"500\"} NaN\n"
    "# TYPE lat histogram\n"
    "lat_bucket{le=\"0.1\"} 1\n"
    "lat_bucket{le=\"+Inf\"} -Inf\n"
    "lat_sum +Inf\n"
    "lat_count 2\n"
    "# TYPE g gauge\n"
    "g 1.5e3\n"
    "g{x=\"y\"} 1E-3 0\n"
    "# TYPE u untyped\n"
    "u -0.000001\n"
    "plain{a=\"1\", b=\"2\",} 7";

/* Cut the document at every byte: never a crash, and either a clean parse of
 * a prefix or an error with a position; the output only changes on success. */
static void test_truncated_input(void **state)
{
    (void)state;
    size_t len = sizeof rich_doc - 1;
    size_t full = 0, ok = 0, failed = 0;
    for (size_t cut = 0; cut <= len; cut++) {
        char *copy = em_malloc(cut ? cut : 1); /* exact size: ASan sees overreads */
        memcpy(copy, rich_doc, cut);
        metric_set ms;
        expfmt_error err;
        metric_set_init(&ms);
        metric_set_addl(&ms, "sentinel", 1, NULL);
        int rc = parse_n(copy, cut, NULL, &ms, &err);
        if (rc == 0) {
            ok++;
            if (cut == len)
                full = ms.n - 1;
        } else {
            failed++;
            assert_int_equal(ms.n, 1);
            assert_int_equal(ms.nmeta, 0);
            assert_true(err.line >= 1 && err.col >= 1 && err.msg[0]);
            /* The error is on a line that exists in the cut input. */
            size_t lines = 1;
            for (size_t i = 0; i < cut; i++)
                lines += copy[i] == '\n';
            assert_true(err.line <= lines);
        }
        metric_set_free(&ms);
        free(copy);
    }
    assert_int_equal(full, 14);
    assert_true(ok > 0 && failed > 0);
}

/* ---- writer ------------------------------------------------------------- */

static void test_writer_format(void **state)
{
    (void)state;
    metric_set ms;
    metric_set_init(&ms);
    metric_set_meta(&ms, "req", METRIC_COUNTER, "Requests \\ total\nsecond line");
    metric_set_meta(&ms, "temp", METRIC_GAUGE, NULL);
    metric_set_meta(&ms, "lonely", METRIC_SUMMARY, "No samples.");
    metric_set_addl(&ms, "req_total", 3, "path", "/x", "code", "200", NULL);
    metric_set_addl(&ms, "temp", -0.0, NULL);
    metric_set_addl(&ms, "nometa", 1e6, "v", "a\"b\\c\nd", NULL);
    metric_set_addl(&ms, "req_total", 1.5, "code", "500", NULL);
    labelset ls;
    labels_init(&ls);
    labels_add(&ls, "__name__", "temp");
    labels_add(&ls, "zone", "b");
    labels_add(&ls, "a", "1");
    metric_set_add(&ms, &ls, 0.1, true, 1700000000000LL);
    labels_free(&ls);

    ebuf out;
    ebuf_init(&out);
    expfmt_write(&out, &ms);
    assert_string_equal(out.data, "# HELP req Requests \\\\ total\\nsecond line\n"
                                  "# TYPE req counter\n"
                                  "req_total{code=\"200\",path=\"/x\"} 3\n"
                                  "req_total{code=\"500\"} 1.5\n"
                                  "# TYPE temp gauge\n"
                                  "temp 0\n"
                                  "temp{a=\"1\",zone=\"b\"} 0.1 1700000000000\n"
                                  "nometa{v=\"a\\\"b\\\\c\\nd\"} 1e+06\n"
                                  "# HELP lonely No samples.\n"
                                  "# TYPE lonely summary\n");
    ebuf_free(&out);
    metric_set_free(&ms);
}

static void test_writer_pieces(void **state)
{
    (void)state;
    ebuf out;
    ebuf_init(&out);
    expfmt_write_header(&out, "x", METRIC_UNTYPED, NULL);
    expfmt_write_header(&out, "y", METRIC_HISTOGRAM, "");
    labelset ls;
    labels_init(&ls);
    /* Unsorted input is written in name order all the same. */
    labels_add(&ls, "b", "2");
    labels_add(&ls, "__name__", "x");
    labels_add(&ls, "a", "1");
    expfmt_write_sample(&out, &ls, NAN, false, 0);
    expfmt_write_sample(&out, &ls, INFINITY, true, -5);
    labels_free(&ls);
    assert_string_equal(out.data, "# TYPE x untyped\n"
                                  "# HELP y \n"
                                  "# TYPE y histogram\n"
                                  "x{a=\"1\",b=\"2\"} NaN\n"
                                  "x{a=\"1\",b=\"2\"} +Inf -5\n");
    ebuf_free(&out);
}

static void test_round_trip_rich_document(void **state)
{
    (void)state;
    metric_set ms;
    parse_ok(rich_doc, &ms);
    assert_int_equal(ms.n, 14);
    assert_int_equal(ms.nmeta, 5);
    assert_round_trip(&ms);
    metric_set_free(&ms);
}

static void test_round_trip_many_families(void **state)
{
    (void)state;
    metric_set ms;
    metric_set_init(&ms);
    unsigned seed = 1;
    for (int f = 0; f < 500; f++) {
        char fam[32];
        snprintf(fam, sizeof fam, "family_%d", f);
        metric_set_meta(&ms, fam, (metric_type)(f % 5), f % 3 ? "Some help." : NULL);
        for (int s = 0; s < 3; s++) {
            char name[48], val[16];
            snprintf(name, sizeof name, "%s%s", fam, f % 5 == METRIC_COUNTER ? "_total" : "");
            snprintf(val, sizeof val, "v%d", s);
            double v = (double)rand_r(&seed) / (rand_r(&seed) + 1) - 1000;
            metric_set_addl(&ms, name, v, "series", val, NULL);
        }
    }
    assert_round_trip(&ms);
    /* Merging many families into a set that has many goes through the index. */
    metric_set copy;
    metric_set_init(&copy);
    ebuf text;
    ebuf_init(&text);
    expfmt_write(&text, &ms);
    expfmt_error err;
    assert_int_equal(parse_n(text.data, text.len, NULL, &copy, &err), 0);
    assert_int_equal(parse_n(text.data, text.len, NULL, &copy, &err), 0);
    assert_int_equal(copy.n, 2 * ms.n);
    assert_int_equal(copy.nmeta, ms.nmeta);
    ebuf_free(&text);
    metric_set_free(&copy);
    metric_set_free(&ms);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metric_types),
        cmocka_unit_test(test_set_add_and_meta),
        cmocka_unit_test(test_set_move),
        cmocka_unit_test(test_family_of),
        cmocka_unit_test(test_help_and_type_every_type),
        cmocka_unit_test(test_help_text),
        cmocka_unit_test(test_help_then_type_and_redeclare),
        cmocka_unit_test(test_type_errors),
        cmocka_unit_test(test_comments_and_blank_lines),
        cmocka_unit_test(test_samples_and_labels),
        cmocka_unit_test(test_label_escapes),
        cmocka_unit_test(test_label_escape_round_trip),
        cmocka_unit_test(test_raw_newline_in_label_value),
        cmocka_unit_test(test_empty_label_values_dropped),
        cmocka_unit_test(test_timestamps),
        cmocka_unit_test(test_special_values),
        cmocka_unit_test(test_number_forms),
        cmocka_unit_test(test_missing_value),
        cmocka_unit_test(test_garbage_after_value),
        cmocka_unit_test(test_label_syntax_errors),
        cmocka_unit_test(test_invalid_utf8_label_value),
        cmocka_unit_test(test_duplicate_labels),
        cmocka_unit_test(test_prometheus_lexer_quirks),
        cmocka_unit_test(test_nul_bytes),
        cmocka_unit_test(test_histogram_family),
        cmocka_unit_test(test_summary_family),
        cmocka_unit_test(test_one_mib_line),
        cmocka_unit_test(test_label_count_limit),
        cmocka_unit_test(test_error_positions),
        cmocka_unit_test(test_error_leaves_output_unchanged),
        cmocka_unit_test(test_parse_appends_and_merges),
        cmocka_unit_test(test_truncated_input),
        cmocka_unit_test(test_writer_format),
        cmocka_unit_test(test_writer_pieces),
        cmocka_unit_test(test_round_trip_rich_document),
        cmocka_unit_test(test_round_trip_many_families),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
