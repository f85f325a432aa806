/*
 * test_fmtfloat.c — Go-compatible float formatting and parsing.
 *
 * The expected strings are what Go's strconv (and so Prometheus 2.42) prints:
 * the text column from /federate, the JSON column from /api/v1/query, both
 * checked against a running Prometheus 2.42 for these and ~700 more values.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/fmtfloat.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct fmt_case {
    double v;
    const char *text; /* FormatFloat(v, 'g', -1, 64) */
    const char *json; /* marshalPointJSON */
} fmt_case;

static const fmt_case fmt_cases[] = {
    {0.0, "0", "0"},
    {-0.0, "-0", "-0"},
    {1, "1", "1"},
    {-1, "-1", "-1"},
    {0.1, "0.1", "0.1"},
    {100, "100", "100"},
    {1e6, "1e+06", "1000000"},
    {123456, "123456", "123456"},
    {1234567, "1.234567e+06", "1234567"},
    {999999.5, "999999.5", "999999.5"},
    {1e20, "1e+20", "100000000000000000000"},
    {1e21, "1e+21", "1e+21"},
    {1.5e21, "1.5e+21", "1.5e+21"},
    {1e23, "1e+23", "1e+23"},
    {1e-7, "1e-07", "1e-07"},
    {0.000001, "1e-06", "0.000001"},
    {1.5e-6, "1.5e-06", "0.0000015"},
    {9.99e-7, "9.99e-07", "9.99e-07"},
    {0.0001, "0.0001", "0.0001"},
    {0.00001, "1e-05", "0.00001"},
    {-2.5e-10, "-2.5e-10", "-2.5e-10"},
    {123.456, "123.456", "123.456"},
    {0.3, "0.3", "0.3"},
    {2.0 / 3, "0.6666666666666666", "0.6666666666666666"},
    {5e-324, "5e-324", "5e-324"},
    {1.7976931348623157e308, "1.7976931348623157e+308", "1.7976931348623157e+308"},
    {1.5e300, "1.5e+300", "1.5e+300"},
    {9007199254740993.0, "9.007199254740992e+15", "9007199254740992"},
    {1e15, "1e+15", "1000000000000000"},
    {4.9351e-05, "4.9351e-05", "0.000049351"},
    {7.424100000000001e-05, "7.424100000000001e-05", "0.00007424100000000001"},
    /* Powers of two, where the rounding interval is lopsided and the
     * closest 16-digit decimal does not read back but its neighbour does. */
    {6.142758149716505e-238, "6.142758149716505e-238", "6.142758149716505e-238"},
    {5.940911144672375e-213, "5.940911144672375e-213", "5.940911144672375e-213"},
    {8.98846567431158e+307, "8.98846567431158e+307", "8.98846567431158e+307"},
};

static void test_format_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof fmt_cases / sizeof fmt_cases[0]; i++) {
        char buf[FMT_FLOAT_MAX];
        size_t n = fmt_float_text(buf, fmt_cases[i].v);
        assert_string_equal(buf, fmt_cases[i].text);
        assert_int_equal(n, strlen(buf));
        n = fmt_float_json(buf, fmt_cases[i].v);
        assert_string_equal(buf, fmt_cases[i].json);
        assert_int_equal(n, strlen(buf));
    }
}

static void test_format_specials(void **state)
{
    (void)state;
    char buf[FMT_FLOAT_MAX];
    assert_int_equal(fmt_float_text(buf, NAN), 3);
    assert_string_equal(buf, "NaN");
    fmt_float_text(buf, INFINITY);
    assert_string_equal(buf, "+Inf");
    fmt_float_text(buf, -INFINITY);
    assert_string_equal(buf, "-Inf");
    fmt_float_json(buf, NAN);
    assert_string_equal(buf, "NaN");
    fmt_float_json(buf, INFINITY);
    assert_string_equal(buf, "+Inf");
    fmt_float_json(buf, -INFINITY);
    assert_string_equal(buf, "-Inf");
}

static double random_double(unsigned *seed)
{
    uint64_t bits = 0;
    for (int i = 0; i < 4; i++)
        bits = bits << 16 | (uint64_t)(rand_r(seed) & 0xffff);
    double v;
    memcpy(&v, &bits, sizeof v);
    return v;
}

/* Whatever the bits, both forms fit FMT_FLOAT_MAX and read back exactly. */
static void test_round_trip_random(void **state)
{
    (void)state;
    unsigned seed = 42;
    for (int i = 0; i < 200000; i++) {
        double v = random_double(&seed), back;
        if (isnan(v))
            continue;
        char buf[FMT_FLOAT_MAX];
        size_t n = fmt_float_text(buf, v);
        assert_true(n < FMT_FLOAT_MAX);
        assert_true(parse_float(buf, n, &back));
        assert_memory_equal(&back, &v, sizeof v);
        n = fmt_float_json(buf, v);
        assert_true(n < FMT_FLOAT_MAX);
        assert_true(parse_float(buf, n, &back));
        assert_memory_equal(&back, &v, sizeof v);
    }
}

/* Digits of the mantissa without leading or trailing zeros. */
static size_t significant_digits(const char *s)
{
    char d[FMT_FLOAT_MAX];
    size_t n = 0;
    for (; *s && *s != 'e'; s++)
        if (*s >= '0' && *s <= '9')
            d[n++] = *s;
    size_t lead = 0;
    while (lead < n && d[lead] == '0')
        lead++;
    while (n > lead && d[n - 1] == '0')
        n--;
    return n - lead;
}

/* No shorter digit string reads back: check against %.*e. */
static void test_shortest(void **state)
{
    (void)state;
    unsigned seed = 7;
    for (int i = 0; i < 20000; i++) {
        double v = random_double(&seed);
        if (!isfinite(v) || v == 0)
            continue;
        char buf[FMT_FLOAT_MAX], tmp[64];
        fmt_float_text(buf, v);
        size_t digits = significant_digits(buf);
        for (int prec = 1; prec < (int)digits; prec++) {
            snprintf(tmp, sizeof tmp, "%.*e", prec - 1, v);
            assert_true(strtod(tmp, NULL) != v);
        }
    }
}

/* Go's strconv.FormatFloat(v, 'f', -1, 64). */
static void test_plain(void **state)
{
    (void)state;
    static const struct {
        double v;
        const char *want;
    } cases[] = {
        {0, "0"},
        {-0.0, "-0"},
        {1, "1"},
        {0.1, "0.1"},
        {1e21, "1000000000000000000000"},
        {1.5e-7, "0.00000015"},
        {1e-7, "0.0000001"},
        {-123.456, "-123.456"},
        {2.0 / 3, "0.6666666666666666"},
        {9007199254740993.0, "9007199254740992"},
        {1.7976931348623157e308, "17976931348623157" /* then 292 zeros */},
    };
    char buf[FMT_FLOAT_PLAIN_MAX];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = fmt_float_plain(buf, cases[i].v);
        assert_int_equal(n, strlen(buf));
        if (i + 1 < sizeof cases / sizeof cases[0])
            assert_string_equal(buf, cases[i].want);
    }
    assert_int_equal(strlen(buf), 309);
    assert_int_equal(strncmp(buf, "17976931348623157", 17), 0);
    assert_int_equal(strspn(buf + 17, "0"), 292);
    /* the longest: 2^-1074 */
    assert_int_equal(fmt_float_plain(buf, -5e-324), 327);
    assert_int_equal(strncmp(buf, "-0.000", 6), 0);
    assert_string_equal(buf + 326, "5");
    assert_int_equal(fmt_float_plain(buf, NAN), 3);
    assert_string_equal(buf, "NaN");
    fmt_float_plain(buf, -INFINITY);
    assert_string_equal(buf, "-Inf");
    fmt_float_plain(buf, INFINITY);
    assert_string_equal(buf, "+Inf");
}

static void test_max_length(void **state)
{
    (void)state;
    static const double worst[] = {-1.2345678901234567e-300, -1.2345678901234567e-6,
                                   -9.876543210987654e20, -2.2250738585072014e-308};
    for (size_t i = 0; i < sizeof worst / sizeof worst[0]; i++) {
        char buf[FMT_FLOAT_MAX];
        assert_true(fmt_float_text(buf, worst[i]) < FMT_FLOAT_MAX);
        assert_true(fmt_float_json(buf, worst[i]) < FMT_FLOAT_MAX);
    }
}

static bool parses(const char *s, double *out)
{
    return parse_float(s, strlen(s), out);
}

static void test_parse_accepts(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        double v;
    } ok[] = {
        {"0", 0},
        {"1", 1},
        {"-1", -1},
        {"+1", 1},
        {"1.5", 1.5},
        {".5", 0.5},
        {"5.", 5},
        {"1e3", 1000},
        {"1E-3", 0.001},
        {"1.5e+3", 1500},
        {"00012", 12},
        {"1e-400", 0},
        {"-0", -0.0},
        {"4.9351e-05", 4.9351e-05},
        {"1.7976931348623157e308", 1.7976931348623157e308},
        {"5e-324", 5e-324},
        {"123456789012345678901234567890", 123456789012345678901234567890.0},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        double v = -42;
        assert_true(parses(ok[i].s, &v));
        assert_true(v == ok[i].v);
    }
    double v;
    assert_true(parses("-0", &v) && signbit(v));
}

static void test_parse_specials(void **state)
{
    (void)state;
    static const char *const inf[] = {"Inf", "+Inf",     "inf",       "+inf",
                                      "INF", "Infinity", "+infinity", "INFINITY"};
    static const char *const ninf[] = {"-Inf", "-inf", "-Infinity", "-INFINITY"};
    static const char *const nan[] = {"NaN", "nan", "NAN", "nAn"};
    double v;
    for (size_t i = 0; i < sizeof inf / sizeof inf[0]; i++)
        assert_true(parses(inf[i], &v) && isinf(v) && v > 0);
    for (size_t i = 0; i < sizeof ninf / sizeof ninf[0]; i++)
        assert_true(parses(ninf[i], &v) && isinf(v) && v < 0);
    for (size_t i = 0; i < sizeof nan / sizeof nan[0]; i++)
        assert_true(parses(nan[i], &v) && isnan(v));
}

static void test_parse_rejects(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",     " 1",     "1 ",      "1x",    "x",         ".",      "+",      "-",
        "e5",   "1e",     "1e+",     "1.2.3", "0x10",      "0x1p-3", "1_000",  "-nan",
        "+nan", "nan(1)", "infinit", "infx",  "Infinityy", "1e400",  "-1e400", "1\r",
        "1\n",  "\t1",    "--1",     "1e5.5", "1,5",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        double v = 42;
        assert_false(parses(bad[i], &v));
        assert_true(v == 42);
    }
    /* Only n bytes count: the rest of the buffer is not looked at. */
    double v;
    assert_true(parse_float("12345", 2, &v) && v == 12);
    assert_false(parse_float("1", 0, &v));
}

static void test_parse_long_input(void **state)
{
    (void)state;
    /* Longer than the stack copy: exercises the heap path. */
    char buf[300];
    memset(buf, '0', sizeof buf);
    buf[0] = '0';
    buf[1] = '.';
    buf[sizeof buf - 1] = '5';
    double v;
    assert_true(parse_float(buf, sizeof buf, &v));
    assert_true(v > 0 && v < 1e-290);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_table),      cmocka_unit_test(test_format_specials),
        cmocka_unit_test(test_round_trip_random), cmocka_unit_test(test_shortest),
        cmocka_unit_test(test_max_length),        cmocka_unit_test(test_plain),
        cmocka_unit_test(test_parse_accepts),     cmocka_unit_test(test_parse_specials),
        cmocka_unit_test(test_parse_rejects),     cmocka_unit_test(test_parse_long_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
