/*
 * test_promql_functions.c — the PromQL function kernels (query/functions.c,
 * fn_range.c, fn_math.c, fn_quantile.c, fn_labels.c).  Expected values are
 * worked out by hand in the comments, or taken from Prometheus 2.42 itself
 * (promtool test rules against Debian's prometheus) where marked "2.42:".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "query/ast.h"
#include "query/functions.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define S(sec) ((int64_t)((sec)*1000))

/* Run range function fn over pts with the window [start, end] (seconds). */
static bool range_fn(const char *fn, const qsample *pts, size_t n, double start, double end,
                     const double *args, double *out)
{
    const promql_fn_impl *f = promql_fn_impl_lookup(fn);
    assert_non_null(f);
    assert_int_equal(f->kind, PF_RANGE);
    promql_window w = {pts, n, S(end), S(start), S(end), args};
    return f->range(&w, out);
}

static double range1(const char *fn, const qsample *pts, size_t n, double start, double end,
                     const double *args)
{
    double out = -12345;
    if (!range_fn(fn, pts, n, start, end, args, &out))
        fail_msg("%s gave no output", fn);
    return out;
}

#define RANGE(fn, pts, start, end, args)                                                           \
    range1(fn, pts, sizeof(pts) / sizeof(pts[0]), start, end, args)

static double math1(const char *fn, double v, const double *args)
{
    const promql_fn_impl *f = promql_fn_impl_lookup(fn);
    assert_non_null(f);
    assert_int_equal(f->kind, PF_MATH);
    double out = -12345;
    if (!f->math(v, args, &out))
        fail_msg("%s(%g) gave no output", fn, v);
    return out;
}

static void assert_close(double got, double want)
{
    if (isnan(want)) {
        if (!isnan(got))
            fail_msg("got %.17g, want NaN", got);
        return;
    }
    if (got == want)
        return;
    if (!(fabs(got - want) <= 1e-12 * fabs(want)))
        fail_msg("got %.17g, want %.17g", got, want);
}

/* ---- the table ---- */

static const char *const all_functions[] = {"abs",
                                            "absent",
                                            "absent_over_time",
                                            "acos",
                                            "acosh",
                                            "asin",
                                            "asinh",
                                            "atan",
                                            "atanh",
                                            "avg_over_time",
                                            "ceil",
                                            "changes",
                                            "clamp",
                                            "clamp_max",
                                            "clamp_min",
                                            "cos",
                                            "cosh",
                                            "count_over_time",
                                            "days_in_month",
                                            "day_of_month",
                                            "day_of_week",
                                            "day_of_year",
                                            "deg",
                                            "delta",
                                            "deriv",
                                            "exp",
                                            "floor",
                                            "histogram_count",
                                            "histogram_sum",
                                            "histogram_fraction",
                                            "histogram_quantile",
                                            "holt_winters",
                                            "hour",
                                            "idelta",
                                            "increase",
                                            "irate",
                                            "label_replace",
                                            "label_join",
                                            "last_over_time",
                                            "ln",
                                            "log10",
                                            "log2",
                                            "max_over_time",
                                            "min_over_time",
                                            "minute",
                                            "month",
                                            "pi",
                                            "predict_linear",
                                            "present_over_time",
                                            "quantile_over_time",
                                            "rad",
                                            "rate",
                                            "resets",
                                            "round",
                                            "scalar",
                                            "sgn",
                                            "sin",
                                            "sinh",
                                            "sort",
                                            "sort_desc",
                                            "sqrt",
                                            "stddev_over_time",
                                            "stdvar_over_time",
                                            "sum_over_time",
                                            "tan",
                                            "tanh",
                                            "time",
                                            "timestamp",
                                            "vector",
                                            "year"};

static const char *const engine_functions[] = {"time",
                                               "vector",
                                               "scalar",
                                               "absent",
                                               "absent_over_time",
                                               "sort",
                                               "sort_desc",
                                               "timestamp",
                                               "label_replace",
                                               "label_join",
                                               "histogram_quantile",
                                               "histogram_count",
                                               "histogram_sum",
                                               "histogram_fraction",
                                               "pi"};

static void test_table_covers_parser(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(all_functions) / sizeof(all_functions[0]); i++) {
        const char *name = all_functions[i];
        assert_non_null(promql_function_lookup(name, strlen(name))); /* the parser knows it */
        const promql_fn_impl *f = promql_fn_impl_lookup(name);
        if (!f)
            fail_msg("no implementation for %s", name);
        assert_string_equal(f->name, name);
        bool engine = false;
        for (size_t j = 0; j < sizeof(engine_functions) / sizeof(engine_functions[0]); j++)
            engine |= strcmp(engine_functions[j], name) == 0;
        if (engine) {
            assert_int_equal(f->kind, PF_ENGINE);
        } else if (f->kind == PF_RANGE) {
            assert_non_null(f->range);
            assert_null(f->math);
            /* range functions are exactly those with a matrix argument */
            const promql_function *p = promql_function_lookup(name, strlen(name));
            bool matrix = false;
            for (int a = 0; a < p->nargs; a++)
                matrix |= p->args[a] == PV_MATRIX;
            assert_true(matrix);
        } else {
            assert_int_equal(f->kind, PF_MATH);
            assert_non_null(f->math);
            assert_null(f->range);
        }
    }
    assert_null(promql_fn_impl_lookup("nope"));
    assert_null(promql_fn_impl_lookup("xrate"));
    assert_null(promql_fn_impl_lookup(""));
}

/* ---- rate, increase, delta ---- */

/* Counter 10..50 every 60s at 30s..270s in [0, 300]: 30s from both ends,
 * under the 66s threshold (1.1 x 60s), so extrapolate fully: 40 * 300/240. */
static const qsample near_edges[] = {
    {S(30), 10}, {S(90), 20}, {S(150), 30}, {S(210), 40}, {S(270), 50}};

static void test_rate_extrapolates_to_edges(void **state)
{
    (void)state;
    assert_close(RANGE("increase", near_edges, 0, 300, NULL), 50);
    assert_close(RANGE("rate", near_edges, 0, 300, NULL), 50.0 / 300);
    assert_close(RANGE("delta", near_edges, 0, 300, NULL), 50);
}

static void test_rate_far_from_edges(void **state)
{
    (void)state;
    /* Gauge 10,20,30 at 120..240s in [0, 300]: start 120s away (>= 66s)
     * extrapolates by half an interval (30s), end 60s away fully:
     * 20 * (120 + 30 + 60) / 120 = 35. */
    const qsample p[] = {{S(120), 10}, {S(180), 20}, {S(240), 30}};
    assert_close(RANGE("delta", p, 0, 300, NULL), 35);
    /* As a counter, 2.42 first limits the start to the zero point,
     * 120 * 10/20 = 60s, which is then under the threshold:
     * 20 * (120 + 60 + 60) / 120 = 40.  (2.42: increase = 300 for
     * 100,200,300 at 180..300s in [0,300], the same rule.) */
    assert_close(RANGE("increase", p, 0, 300, NULL), 40);
    const qsample q[] = {{S(180), 100}, {S(240), 200}, {S(300), 300}};
    assert_close(RANGE("increase", q, 0, 300, NULL), 300);
    /* Both ends far: 1,2 at 100,110s in [0, 300], avg 10s: 1 * (10+5+5)/10. */
    const qsample r[] = {{S(100), 1}, {S(110), 2}};
    assert_close(RANGE("delta", r, 0, 300, NULL), 2);
    /* as a counter the zero point, 10 * 1/1 = 10s back, is under the
     * threshold: 1 * (10 + 10 + 5) / 10 / 300s */
    assert_close(RANGE("rate", r, 0, 300, NULL), 2.5 / 300);
}

static void test_rate_counter_not_below_zero(void **state)
{
    (void)state;
    /* 1..41 at 30..270s: the zero point is 240 * 1/40 = 6s before the first
     * sample, nearer than the 30s to the start: 40 * (240 + 6 + 30) / 240. */
    const qsample p[] = {{S(30), 1}, {S(90), 11}, {S(150), 21}, {S(210), 31}, {S(270), 41}};
    assert_close(RANGE("increase", p, 0, 300, NULL), 46);
    /* delta does not care about zero: 40 * 300 / 240 */
    assert_close(RANGE("delta", p, 0, 300, NULL), 50);
}

static void test_rate_counter_resets(void **state)
{
    (void)state;
    /* 10,20,5,15,25: 25 - 10 + 20 (the reset from 20) = 35; zero point
     * 240 * 10/35 = 68.6s is farther than 30s: 35 * 300/240 = 43.75. */
    const qsample p[] = {{S(30), 10}, {S(90), 20}, {S(150), 5}, {S(210), 15}, {S(270), 25}};
    assert_close(RANGE("increase", p, 0, 300, NULL), 43.75);
    /* delta ignores resets: 15 * 300/240 */
    assert_close(RANGE("delta", p, 0, 300, NULL), 18.75);
    /* resets() counts one */
    assert_close(RANGE("resets", p, 0, 300, NULL), 1);
}

static void test_rate_needs_two_samples(void **state)
{
    (void)state;
    const qsample one[] = {{S(60), 5}};
    double out;
    assert_false(range_fn("rate", one, 1, 0, 300, NULL, &out));
    assert_false(range_fn("increase", one, 1, 0, 300, NULL, &out));
    assert_false(range_fn("delta", one, 1, 0, 300, NULL, &out));
    assert_false(range_fn("irate", one, 1, 0, 300, NULL, &out));
    assert_false(range_fn("idelta", one, 1, 0, 300, NULL, &out));
    assert_false(range_fn("deriv", one, 1, 0, 300, NULL, &out));
    const double ahead = 60;
    assert_false(range_fn("predict_linear", one, 1, 0, 300, &ahead, &out));
    const double f[] = {0.5, 0.5};
    assert_false(range_fn("holt_winters", one, 1, 0, 300, f, &out));
}

static void test_delta_gauge_down_and_nan(void **state)
{
    (void)state;
    /* 50,40,30 at 30,90,150s in [0,180]: -20 * 180/120 */
    const qsample p[] = {{S(30), 50}, {S(90), 40}, {S(150), 30}};
    assert_close(RANGE("delta", p, 0, 180, NULL), -30);
    const qsample n[] = {{S(30), 1}, {S(90), NAN}, {S(150), 3}};
    assert_close(RANGE("delta", n, 0, 180, NULL), 3); /* only the ends count */
    const qsample m[] = {{S(30), NAN}, {S(90), 2}, {S(150), 3}};
    assert_close(RANGE("rate", m, 0, 180, NULL), NAN);
    const qsample inf[] = {{S(30), 1}, {S(90), 2}, {S(150), INFINITY}};
    assert_close(RANGE("increase", inf, 0, 180, NULL), INFINITY);
}

/* ---- irate, idelta ---- */

static void test_irate_idelta(void **state)
{
    (void)state;
    const qsample up[] = {{S(0), 10}, {S(60), 20}, {S(120), 50}};
    assert_close(RANGE("irate", up, 0, 120, NULL), 0.5); /* 30 / 60s */
    assert_close(RANGE("idelta", up, 0, 120, NULL), 30);
    const qsample reset[] = {{S(0), 10}, {S(60), 20}, {S(120), 5}};
    assert_close(RANGE("irate", reset, 0, 120, NULL), 5.0 / 60); /* from zero */
    assert_close(RANGE("idelta", reset, 0, 120, NULL), -15);
}

/* ---- deriv, predict_linear ---- */

static void test_deriv_predict_linear(void **state)
{
    (void)state;
    /* y = 2x: x = -120,-60,0 around t = 120s; sums x -180, y 360, xy -7200,
     * x² 18000 -> cov 14400, var 7200, slope 2, intercept 240. */
    const qsample p[] = {{S(0), 0}, {S(60), 120}, {S(120), 240}};
    assert_close(RANGE("deriv", p, 0, 120, NULL), 2);
    const double ahead = 60;
    assert_close(RANGE("predict_linear", p, 0, 120, &ahead), 360);
    /* the intercept is at the step time, even past the last sample:
     * window [0,180] with step t = 180: 240 + 2*60 + 2*60 */
    assert_close(RANGE("predict_linear", p, 0, 180, &ahead), 480);

    const qsample flat[] = {{S(0), 7}, {S(60), 7}, {S(120), 7}};
    assert_close(RANGE("deriv", flat, 0, 120, NULL), 0);
    assert_close(RANGE("predict_linear", flat, 0, 120, &ahead), 7);
    const qsample inf[] = {{S(0), INFINITY}, {S(60), INFINITY}};
    assert_close(RANGE("deriv", inf, 0, 120, NULL), NAN);
    assert_close(RANGE("predict_linear", inf, 0, 120, &ahead), NAN);
    /* 2.42: deriv of 1e16,1,1,1,1 every 60s (Kahan sums) */
    const qsample big[] = {{S(0), 1e16}, {S(60), 1}, {S(120), 1}, {S(180), 1}, {S(240), 1}};
    assert_close(RANGE("deriv", big, 0, 240, NULL), -3.3333333333333332e13);
    assert_close(RANGE("predict_linear", big, 0, 240, &ahead), -3.999999999999999e15);
}

/* ---- changes, resets ---- */

static void test_changes_resets_nan(void **state)
{
    (void)state;
    /* 1→1 no, 1→2 yes, 2→NaN yes, NaN→NaN no, NaN→3 yes */
    const qsample c[] = {{S(0), 1}, {S(1), 1}, {S(2), 2}, {S(3), NAN}, {S(4), NAN}, {S(5), 3}};
    assert_close(RANGE("changes", c, 0, 5, NULL), 3);
    /* 3<5 yes; NaN<3, 1<NaN no; 4<1 no; 2<4 yes */
    const qsample r[] = {{S(0), 5}, {S(1), 3}, {S(2), NAN}, {S(3), 1}, {S(4), 4}, {S(5), 2}};
    assert_close(RANGE("resets", r, 0, 5, NULL), 2);
    const qsample one[] = {{S(0), 5}};
    assert_close(RANGE("changes", one, 0, 5, NULL), 0);
    assert_close(RANGE("resets", one, 0, 5, NULL), 0);
    /* 2.42: changes(1 2 3 NaN 5) = 4, resets = 0 */
    const qsample x[] = {{S(0), 1}, {S(60), 2}, {S(120), 3}, {S(180), NAN}, {S(240), 5}};
    assert_close(RANGE("changes", x, 0, 240, NULL), 4);
    assert_close(RANGE("resets", x, 0, 240, NULL), 0);
}

/* ---- holt_winters ---- */

static void test_holt_winters(void **state)
{
    (void)state;
    /* s=1, b=1; i=1: 0.5*2 + 0.5*(1+1) = 2; i=2: b = 0.5*(2-1) + 0.5*1 = 1,
     * 0.5*4 + 0.5*(2+1) = 3.5 */
    const qsample p[] = {{S(0), 1}, {S(60), 2}, {S(120), 4}};
    const double f[] = {0.5, 0.5};
    assert_close(RANGE("holt_winters", p, 0, 120, f), 3.5);
}

static void test_check_args(void **state)
{
    (void)state;
    char err[256] = "";
    const double ok[] = {0.5, 0.1};
    assert_true(promql_fn_check_args("holt_winters", ok, 2, err, sizeof(err)));
    const double sf1[] = {1, 0.5}; /* 2.42's text, from promtool */
    assert_false(promql_fn_check_args("holt_winters", sf1, 2, err, sizeof(err)));
    assert_string_equal(err, "invalid smoothing factor. Expected: 0 < sf < 1, got: 1.000000");
    const double tf0[] = {0.5, 0};
    assert_false(promql_fn_check_args("holt_winters", tf0, 2, err, sizeof(err)));
    assert_string_equal(err, "invalid trend factor. Expected: 0 < tf < 1, got: 0.000000");
    const double neg[] = {-0.25, 0.5};
    assert_false(promql_fn_check_args("holt_winters", neg, 2, err, sizeof(err)));
    assert_string_equal(err, "invalid smoothing factor. Expected: 0 < sf < 1, got: -0.250000");
    const double inf[] = {0.5, INFINITY};
    assert_false(promql_fn_check_args("holt_winters", inf, 2, err, sizeof(err)));
    assert_string_equal(err, "invalid trend factor. Expected: 0 < tf < 1, got: +Inf");
    const double nan[] = {NAN, NAN}; /* comparisons with NaN are false */
    assert_true(promql_fn_check_args("holt_winters", nan, 2, err, sizeof(err)));
    assert_true(promql_fn_check_args("rate", NULL, 0, err, sizeof(err)));
    assert_true(promql_fn_check_args("round", sf1, 1, err, sizeof(err)));
}

/* ---- *_over_time ---- */

static void test_over_time_basic(void **state)
{
    (void)state;
    const qsample p[] = {{S(0), 2}, {S(1), 4}, {S(2), 4}, {S(3), 4},
                         {S(4), 5}, {S(5), 5}, {S(6), 7}, {S(7), 9}};
    assert_close(RANGE("avg_over_time", p, 0, 7, NULL), 5); /* 40 / 8 */
    assert_close(RANGE("sum_over_time", p, 0, 7, NULL), 40);
    assert_close(RANGE("count_over_time", p, 0, 7, NULL), 8);
    assert_close(RANGE("min_over_time", p, 0, 7, NULL), 2);
    assert_close(RANGE("max_over_time", p, 0, 7, NULL), 9);
    assert_close(RANGE("last_over_time", p, 0, 7, NULL), 9);
    assert_close(RANGE("present_over_time", p, 0, 7, NULL), 1);
    /* squared deviations from 5: 9+1+1+1+0+0+4+16 = 32, / 8 */
    assert_close(RANGE("stdvar_over_time", p, 0, 7, NULL), 4);
    assert_close(RANGE("stddev_over_time", p, 0, 7, NULL), 2);
    const qsample one[] = {{S(0), 3}};
    assert_close(RANGE("stdvar_over_time", one, 0, 7, NULL), 0);
    assert_close(RANGE("avg_over_time", one, 0, 7, NULL), 3);
}

static void test_over_time_precision(void **state)
{
    (void)state;
    /* 2.42 sums with Kahan-Neumaier: 1e100 + 1 - 1e100 = 1, not 0 */
    const qsample s[] = {{S(0), 1e100}, {S(60), 1}, {S(120), -1e100}};
    assert_close(RANGE("sum_over_time", s, 0, 120, NULL), 1);
    /* 2.42 on 1e16,1,1,1,1: avg 2.0000000000000005e15, stdvar 1.5999999999999998e31,
     * stddev 4e15 (bit-exact from promtool) */
    const qsample b[] = {{S(0), 1e16}, {S(60), 1}, {S(120), 1}, {S(180), 1}, {S(240), 1}};
    assert_true(RANGE("avg_over_time", b, 0, 240, NULL) == 2.0000000000000005e15);
    assert_true(RANGE("stdvar_over_time", b, 0, 240, NULL) == 1.5999999999999998e31);
    assert_true(RANGE("stddev_over_time", b, 0, 240, NULL) == 4e15);
}

static void test_over_time_inf_nan(void **state)
{
    (void)state;
    const qsample a[] = {{S(0), INFINITY}, {S(1), 1}, {S(2), INFINITY}};
    assert_close(RANGE("avg_over_time", a, 0, 2, NULL), INFINITY); /* the Inf mean stays */
    assert_close(RANGE("sum_over_time", a, 0, 2, NULL), INFINITY);
    const qsample b[] = {{S(0), INFINITY}, {S(1), -INFINITY}};
    assert_close(RANGE("avg_over_time", b, 0, 2, NULL), NAN);
    assert_close(RANGE("sum_over_time", b, 0, 2, NULL), NAN);
    const qsample c[] = {{S(0), 1}, {S(1), NAN}, {S(2), 3}};
    assert_close(RANGE("avg_over_time", c, 0, 2, NULL), NAN);
    assert_close(RANGE("sum_over_time", c, 0, 2, NULL), NAN);
    assert_close(RANGE("stddev_over_time", c, 0, 2, NULL), NAN);
    /* min/max skip a NaN once any number is seen, in either position */
    assert_close(RANGE("max_over_time", c, 0, 2, NULL), 3);
    assert_close(RANGE("min_over_time", c, 0, 2, NULL), 1);
    const qsample d[] = {{S(0), NAN}, {S(1), 3}, {S(2), 1}};
    assert_close(RANGE("max_over_time", d, 0, 2, NULL), 3);
    assert_close(RANGE("min_over_time", d, 0, 2, NULL), 1);
    const qsample e[] = {{S(0), NAN}, {S(1), NAN}};
    assert_close(RANGE("max_over_time", e, 0, 2, NULL), NAN);
    assert_close(RANGE("min_over_time", e, 0, 2, NULL), NAN);
    assert_close(RANGE("last_over_time", e, 0, 2, NULL), NAN);
    const qsample f[] = {{S(0), -INFINITY}, {S(1), 5}};
    assert_close(RANGE("min_over_time", f, 0, 2, NULL), -INFINITY);
    assert_close(RANGE("max_over_time", f, 0, 2, NULL), 5);
}

static void test_quantile_over_time(void **state)
{
    (void)state;
    const qsample x[] = {{S(0), 1}, {S(60), 2}, {S(120), 3}, {S(180), NAN}, {S(240), 5}};
    /* 2.42: NaN sorts first, [NaN 1 2 3 5], rank 0.5*4 = 2 -> 2 */
    double q = 0.5;
    assert_close(RANGE("quantile_over_time", x, 0, 240, &q), 2);
    q = NAN; /* 2.42: NaN */
    assert_close(RANGE("quantile_over_time", x, 0, 240, &q), NAN);
    q = -1;
    assert_close(RANGE("quantile_over_time", x, 0, 240, &q), -INFINITY);
    q = 1.5;
    assert_close(RANGE("quantile_over_time", x, 0, 240, &q), INFINITY);
    /* the window itself is left untouched */
    assert_true(isnan(x[3].v) && x[4].v == 5);
}

/* ---- quantile() ---- */

static void test_quantile(void **state)
{
    (void)state;
    double v[] = {4, 1, 3, 2};
    assert_close(promql_quantile(0.5, v, 4), 2.5);   /* rank 1.5: 2*.5 + 3*.5 */
    assert_close(promql_quantile(0.25, v, 4), 1.75); /* rank .75: 1*.25 + 2*.75 */
    assert_close(promql_quantile(0, v, 4), 1);
    assert_close(promql_quantile(1, v, 4), 4);
    assert_close(promql_quantile(-0.1, v, 4), -INFINITY);
    assert_close(promql_quantile(1.1, v, 4), INFINITY);
    assert_close(promql_quantile(NAN, v, 4), NAN);
    assert_close(promql_quantile(0.5, v, 0), NAN);
    assert_close(promql_quantile(-1, v, 0), NAN); /* n = 0 wins */
    double one[] = {7};
    assert_close(promql_quantile(0.3, one, 1), 7);
    assert_close(promql_quantile(1, one, 1), 7);
    /* an infinite neighbour with weight 0 still poisons: 0 * Inf = NaN */
    double inf[] = {1, INFINITY};
    assert_close(promql_quantile(0, inf, 2), NAN);
    assert_close(promql_quantile(1, inf, 2), NAN); /* Inf*0 + Inf*1 */
}

/* ---- bucketQuantile() ---- */

static void test_bucket_quantile(void **state)
{
    (void)state;
    /* unsorted on purpose; cumulative 1, 5, 8, 10 */
    promql_bucket b[] = {{INFINITY, 10}, {0.5, 5}, {1, 8}, {0.1, 1}};
    /* rank 5 lands exactly on le=0.5: 0.1 + 0.4 * (4/4) */
    assert_close(promql_bucket_quantile(0.5, b, 4), 0.5);
    /* rank 6.5 in (0.5, 1]: 0.5 + 0.5 * (1.5/3) */
    assert_close(promql_bucket_quantile(0.65, b, 4), 0.75);
    /* rank 0.5 in the first bucket, from 0: 0.1 * 0.5/1 */
    assert_close(promql_bucket_quantile(0.05, b, 4), 0.05);
    /* rank 9 in the +Inf bucket: the highest finite bound */
    assert_close(promql_bucket_quantile(0.9, b, 4), 1);
    assert_close(promql_bucket_quantile(0, b, 4), 0); /* rank 0: first bucket, start 0 */
    assert_close(promql_bucket_quantile(1, b, 4), 1);
    assert_close(promql_bucket_quantile(-0.5, b, 4), -INFINITY);
    assert_close(promql_bucket_quantile(1.5, b, 4), INFINITY);
    assert_close(promql_bucket_quantile(NAN, b, 4), NAN);
}

static void test_bucket_quantile_edge_cases(void **state)
{
    (void)state;
    promql_bucket no_inf[] = {{0.5, 5}, {1, 8}};
    assert_close(promql_bucket_quantile(0.5, no_inf, 2), NAN);
    promql_bucket zeros[] = {{1, 0}, {INFINITY, 0}};
    assert_close(promql_bucket_quantile(0.5, zeros, 2), NAN);
    promql_bucket only_inf[] = {{INFINITY, 3}};
    assert_close(promql_bucket_quantile(0.5, only_inf, 1), NAN);
    assert_close(promql_bucket_quantile(0.5, only_inf, 0), NAN);
    /* 2.42: le=1 5, le=+Inf 3 -> +Inf raised to 5, rank 2.5: 0.5 */
    promql_bucket dip[] = {{1, 5}, {INFINITY, 3}};
    assert_close(promql_bucket_quantile(0.5, dip, 2), 0.5);
    /* a dip in the middle: 2, 6, 4, 10 -> 2, 6, 6, 10; rank 5 in (1,2]:
     * 1 + 1 * (3/4) */
    promql_bucket mid[] = {{1, 2}, {2, 6}, {3, 4}, {INFINITY, 10}};
    assert_close(promql_bucket_quantile(0.5, mid, 4), 1.75);
    /* rank 6 hits le=2 (6 >= 6) before the repaired le=3 */
    promql_bucket mid2[] = {{1, 2}, {2, 6}, {3, 4}, {INFINITY, 10}};
    assert_close(promql_bucket_quantile(0.6, mid2, 4), 2);
    /* equal bounds are added up: le=1 2+3, +Inf 10; rank 2 -> 1 * 2/5 */
    promql_bucket dup[] = {{1, 2}, {INFINITY, 10}, {1, 3}};
    assert_close(promql_bucket_quantile(0.2, dup, 3), 0.4);
    /* a first bound <= 0 is returned as is */
    promql_bucket neg[] = {{-1, 2}, {INFINITY, 4}};
    assert_close(promql_bucket_quantile(0.25, neg, 2), -1);
    /* ... but interpolation above it starts at that bound: rank 3 in (-1, 1]:
     * -1 + 2 * (1/2) */
    promql_bucket neg2[] = {{-1, 2}, {1, 4}, {INFINITY, 4}};
    assert_close(promql_bucket_quantile(0.75, neg2, 3), 0);
}

/* ---- math ---- */

static void test_math_simple(void **state)
{
    (void)state;
    assert_close(math1("abs", -2.5, NULL), 2.5);
    assert_close(math1("ceil", 1.2, NULL), 2);
    assert_close(math1("floor", -1.2, NULL), -2);
    assert_close(math1("sqrt", 16, NULL), 4);
    assert_close(math1("sqrt", -1, NULL), NAN);
    assert_close(math1("exp", 0, NULL), 1);
    assert_close(math1("ln", 1, NULL), 0);
    assert_close(math1("ln", 0, NULL), -INFINITY);
    assert_close(math1("ln", -1, NULL), NAN);
    assert_close(math1("log2", 8, NULL), 3); /* a power of two: exact */
    assert_close(math1("log2", 0.25, NULL), -2);
    assert_close(math1("log2", 0, NULL), -INFINITY);
    assert_close(math1("log2", -4, NULL), NAN);
    assert_close(math1("log2", INFINITY, NULL), INFINITY);
    assert_close(math1("log10", 1, NULL), 0);
    /* Go's Log10 is Log(x) * (1/Ln10); 2.42 gives exactly 3 for 1000 */
    assert_true(math1("log10", 1000, NULL) == 3);
    assert_close(math1("sin", 0, NULL), 0);
    assert_close(math1("cos", 0, NULL), 1);
    assert_close(math1("tan", 0, NULL), 0);
    assert_close(math1("asin", 1, NULL), M_PI / 2);
    assert_close(math1("acos", 1, NULL), 0);
    assert_close(math1("atan", INFINITY, NULL), M_PI / 2);
    assert_close(math1("sinh", 0, NULL), 0);
    assert_close(math1("cosh", 0, NULL), 1);
    assert_close(math1("tanh", INFINITY, NULL), 1);
    assert_close(math1("asinh", 0, NULL), 0);
    assert_close(math1("acosh", 1, NULL), 0);
    assert_close(math1("atanh", 1, NULL), INFINITY);
    assert_close(math1("asin", 2, NULL), NAN);
    assert_close(math1("rad", 180, NULL), M_PI);
    assert_close(math1("deg", M_PI, NULL), 180);
    assert_close(math1("rad", 0, NULL), 0);
    assert_close(math1("sgn", -3, NULL), -1);
    assert_close(math1("sgn", 4, NULL), 1);
    assert_close(math1("sgn", INFINITY, NULL), 1);
    assert_close(math1("sgn", NAN, NULL), NAN);
    double z = math1("sgn", -0.0, NULL);
    assert_true(z == 0 && signbit(z)); /* ±0 returned as is */
    for (size_t i = 0; i < 2; i++)     /* NaN propagates everywhere */
        assert_close(math1(i ? "exp" : "abs", NAN, NULL), NAN);
}

static void test_round(void **state)
{
    (void)state;
    const double one = 1;
    assert_close(math1("round", 2.5, &one), 3);   /* ties up */
    assert_close(math1("round", -2.5, &one), -2); /* floor(-2.0) */
    assert_close(math1("round", 2.4, &one), 2);
    const double cent = 0.01;
    assert_close(math1("round", 1.23456, &cent), 1.23); /* floor(123.956) / 100 */
    const double five = 5;
    assert_close(math1("round", 7, &five), 5);  /* floor(1.4 + .5) / 0.2 */
    assert_close(math1("round", 8, &five), 10); /* floor(1.6 + .5) / 0.2 */
    assert_close(math1("round", NAN, &one), NAN);
    assert_close(math1("round", INFINITY, &one), INFINITY);
    const double neg = -0.3; /* 2.42: round(300, -0.3) = 300 */
    assert_close(math1("round", 300, &neg), 300);
}

static void test_clamp(void **state)
{
    (void)state;
    const double mm[] = {0, 10};
    assert_close(math1("clamp", 5, mm), 5);
    assert_close(math1("clamp", -1, mm), 0);
    assert_close(math1("clamp", 11, mm), 10);
    assert_close(math1("clamp", NAN, mm), NAN); /* Go's Min/Max keep NaN */
    assert_close(math1("clamp", INFINITY, mm), 10);
    const double equal[] = {3, 3};
    assert_close(math1("clamp", 5, equal), 3);
    const double inverted[] = {10, 0};
    double out;
    assert_false(promql_fn_impl_lookup("clamp")->math(5, inverted, &out));
    const double nan_bounds[] = {NAN, 10}; /* NaN min: max < min is false */
    assert_close(math1("clamp", 5, nan_bounds), NAN);
    const double zero = 0;
    assert_close(math1("clamp_min", -3, &zero), 0);
    assert_close(math1("clamp_min", 3, &zero), 3);
    assert_close(math1("clamp_min", NAN, &zero), NAN);
    double z = math1("clamp_min", -0.0, &zero); /* Go: Max(+0, -0) = +0 */
    assert_true(z == 0 && !signbit(z));
    const double inf = INFINITY;
    assert_close(math1("clamp_min", NAN, &inf), INFINITY); /* Go: +Inf beats NaN */
    assert_close(math1("clamp_max", 3, &zero), 0);
    assert_close(math1("clamp_max", -3, &zero), -3);
    z = math1("clamp_max", -0.0, &zero); /* Go: Min(+0, -0) = -0 */
    assert_true(z == 0 && signbit(z));
    const double ninf = -INFINITY;
    assert_close(math1("clamp_max", NAN, &ninf), -INFINITY);
}

/* ---- dates ---- */

typedef struct date_case {
    double t;
    double year, month, mday, wday, yday, dim, hour, minute;
} date_case;

static void test_dates(void **state)
{
    (void)state;
    static const date_case cases[] = {
        /* 0: 1970-01-01 00:00, a Thursday */
        {0, 1970, 1, 1, 4, 1, 31, 0, 0},
        /* 2000-01-01 is 946684800 (Sat); +59 days: Tue 2000-02-29, a leap day */
        {951782400, 2000, 2, 29, 2, 60, 29, 0, 0},
        /* a second earlier: Mon 2000-02-28 23:59:59 */
        {951782399, 2000, 2, 28, 1, 59, 29, 23, 59},
        /* 1900-01-01 is -2208988800 (Mon); +59 days: Thu 1900-03-01, not leap */
        {-2203891200, 1900, 3, 1, 4, 60, 31, 0, 0},
        /* 1900-02-15 12:34: February has 28 days in 1900 */
        {-2208988800 + 45 * 86400 + 12 * 3600 + 34 * 60, 1900, 2, 15, 4, 46, 28, 12, 34},
        /* 2100-03-01 (2100 is not leap): 2.42 gives Mon, yday 60 */
        {4107542400, 2100, 3, 1, 1, 60, 31, 0, 0},
        /* -1: Wed 1969-12-31 23:59:59 */
        {-1, 1969, 12, 31, 3, 365, 31, 23, 59},
        /* -86401: Tue 1969-12-30 23:59:59 */
        {-86401, 1969, 12, 30, 2, 364, 31, 23, 59},
        /* fractions truncate toward zero: -0.5 and 1.9 are both 0 */
        {-0.5, 1970, 1, 1, 4, 1, 31, 0, 0},
        {1.9, 1970, 1, 1, 4, 1, 31, 0, 0},
        /* 2023-04-30 23:59 (30-day month end): 1682899140 */
        {1682899140, 2023, 4, 30, 0, 120, 30, 23, 59},
        /* 1e12 s: 1e12 mod 86400 = 6400 -> 01:46; 2.42: Fri 33658-09-27 */
        {1e12, 33658, 9, 27, 5, 270, 30, 1, 46},
        /* 2.42: 10000-01-01 is a Saturday */
        {253402300800, 10000, 1, 1, 6, 1, 31, 0, 0},
        /* 2.42: a second before 0001-01-01 is Sun 0000-12-31 (year 0 leap) */
        {-62135596801, 0, 12, 31, 0, 366, 31, 23, 59},
        /* 2.42: NaN and out-of-range become INT64_MIN and Go's arithmetic wraps */
        {NAN, 292277026596, 12, 4, 0, 339, 31, 15, 30},
        {-1e19, 292277026596, 12, 4, 0, 339, 31, 15, 30},
        {INFINITY, 292277026596, 12, 4, 0, 339, 31, 15, 30},
        /* 2.42: 1e18 s */
        {1e18, 31688740476, 10, 23, 5, 297, 31, 1, 46},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const date_case *c = &cases[i];
        print_message("t = %.17g\n", c->t);
        assert_close(math1("year", c->t, NULL), c->year);
        assert_close(math1("month", c->t, NULL), c->month);
        assert_close(math1("day_of_month", c->t, NULL), c->mday);
        assert_close(math1("day_of_week", c->t, NULL), c->wday);
        assert_close(math1("day_of_year", c->t, NULL), c->yday);
        assert_close(math1("days_in_month", c->t, NULL), c->dim);
        assert_close(math1("hour", c->t, NULL), c->hour);
        assert_close(math1("minute", c->t, NULL), c->minute);
    }
}

/* ---- label_replace, label_join ---- */

static labelset mk(const char *const *kv, size_t n)
{
    labelset ls;
    labels_init(&ls);
    for (size_t i = 0; i + 1 < n; i += 2)
        labels_add(&ls, kv[i], kv[i + 1]);
    labels_sort(&ls);
    return ls;
}

/* label_replace on {src="value"} (value NULL: no src), returning dst's
 * value (NULL when absent) in buf. */
static const char *replace(const char *dst, const char *repl, const char *src_value,
                           const char *regex, char *buf, size_t n)
{
    char err[256];
    promql_label_replacer *r = promql_label_replacer_new(dst, repl, "src", regex, err, sizeof(err));
    if (!r)
        fail_msg("label_replacer_new: %s", err);
    const char *kv[] = {"__name__", "m", "dst", "old", "src", src_value};
    labelset ls = mk(kv, src_value ? 6 : 4);
    promql_label_replacer_apply(r, &ls);
    const char *v = labels_get(&ls, dst);
    const char *res = NULL;
    if (v) {
        snprintf(buf, n, "%s", v);
        res = buf;
    }
    assert_string_equal(labels_get(&ls, "__name__"), "m"); /* untouched */
    for (size_t i = 1; i < ls.n; i++)                      /* still sorted */
        assert_true(strcmp(ls.v[i - 1].name, ls.v[i].name) < 0);
    labels_free(&ls);
    promql_label_replacer_free(r);
    return res;
}

#define REPLACE(dst, repl, src, re) replace(dst, repl, src, re, buf, sizeof(buf))

static void test_label_replace_groups(void **state)
{
    (void)state;
    char buf[256];
    assert_string_equal(REPLACE("dst", "${2}_${1}", "a-b", "(.*)-(.*)"), "b_a");
    /* "$2_" is the name "2_" ('_' is a name character): no such group.
     * 2.42 gives dst="a" for this one too. */
    assert_string_equal(REPLACE("dst", "$2_$1", "a-b", "(.*)-(.*)"), "a");
    assert_string_equal(REPLACE("dst", "$2-$1", "a-b", "(.*)-(.*)"), "b-a");
    assert_string_equal(REPLACE("new", "${2}x${1}", "a-b", "(.*)-(.*)"), "bxa");
    assert_string_equal(REPLACE("dst", "$0!", "a-b", "(.*)-(.*)"), "a-b!");
    /* named groups, both spellings */
    assert_string_equal(
        REPLACE("dst", "${second}/${first}", "ab-cd", "(?P<first>\\w+)-(?P<second>\\w+)"), "cd/ab");
    assert_string_equal(REPLACE("dst", "$second", "ab-cd", "(?P<first>\\w+)-(?P<second>\\w+)"),
                        "cd");
    /* "$10" is group 10 (absent: empty), "${1}0" is group 1 then "0" */
    assert_string_equal(REPLACE("dst", "<$10>", "xy", "(x)(y)"), "<>");
    assert_string_equal(REPLACE("dst", "${1}0", "xy", "(x)(y)"), "x0");
    /* "$1x" is the name "1x": no such group */
    assert_string_equal(REPLACE("dst", "<$1x>", "xy", "(x)(y)"), "<>");
    /* a leading zero makes a name, not a number */
    assert_string_equal(REPLACE("dst", "<$01>", "xy", "(x)(y)"), "<>");
    /* names run over Unicode letters, as Go's unicode.IsLetter */
    assert_string_equal(REPLACE("dst", "<$1\xc3\xa4>", "xy", "(x)(y)"), "<>");
    /* "$$" is a dollar; malformed references keep the "$" */
    assert_string_equal(REPLACE("dst", "$$1", "xy", "(x)(y)"), "$1");
    assert_string_equal(REPLACE("dst", "a$", "xy", "(x)(y)"), "a$");
    assert_string_equal(REPLACE("dst", "${1", "xy", "(x)(y)"), "${1");
    assert_string_equal(REPLACE("dst", "$-$1", "xy", "(x)(y)"), "$-x");
    assert_string_equal(REPLACE("dst", "${}", "xy", "(x)(y)"), "${}");
    /* a group that did not take part expands to "" */
    assert_string_equal(REPLACE("dst", "[$1|$2]", "b", "(a)|(b)"), "[|b]");
    /* dst may be src */
    assert_string_equal(REPLACE("src", "$1-x", "v", "(.*)"), "v-x");
}

static void test_label_replace_match_rules(void **state)
{
    (void)state;
    char buf[256];
    /* no match: unchanged */
    assert_string_equal(REPLACE("dst", "new", "abc", "x(.*)"), "old");
    /* fully anchored: "b" does not match "abc" */
    assert_string_equal(REPLACE("dst", "new", "abc", "b"), "old");
    /* alternation stays inside the anchors */
    assert_string_equal(REPLACE("dst", "new", "abc", "a|abc"), "new");
    /* a missing src is the empty string */
    assert_string_equal(REPLACE("dst", "new", NULL, ""), "new");
    assert_string_equal(REPLACE("dst", "new", NULL, ".+"), "old");
    /* an empty result deletes dst */
    assert_null(REPLACE("dst", "", "abc", ".*"));
    assert_null(REPLACE("dst", "$1", NULL, "(.*)"));
    assert_null(REPLACE("dst", "$1", "b", "(a)|(b)"));
    /* adds a label that was not there */
    assert_string_equal(REPLACE("fresh", "$1", "abc", "a(.)c"), "b");
}

static void test_label_replace_errors(void **state)
{
    (void)state;
    char err[256];
    assert_null(promql_label_replacer_new("dst", "x", "src", "(", err, sizeof(err)));
    assert_string_equal(err, "invalid regular expression in label_replace(): (");
    assert_null(promql_label_replacer_new("dst", "x", "src", "a)|(b", err, sizeof(err)));
    assert_string_equal(err, "invalid regular expression in label_replace(): a)|(b");
    assert_null(promql_label_replacer_new("1a", "x", "src", ".*", err, sizeof(err)));
    assert_string_equal(err, "invalid destination label name in label_replace(): 1a");
    assert_null(promql_label_replacer_new("a-b", "x", "src", ".*", err, sizeof(err)));
    assert_string_equal(err, "invalid destination label name in label_replace(): a-b");
    assert_null(promql_label_replacer_new("", "x", "src", ".*", err, sizeof(err)));
    assert_string_equal(err, "invalid destination label name in label_replace(): ");
    /* the regex is checked first */
    assert_null(promql_label_replacer_new("1a", "x", "src", "[", err, sizeof(err)));
    assert_string_equal(err, "invalid regular expression in label_replace(): [");
    promql_label_replacer_free(NULL);
}

static void test_label_join(void **state)
{
    (void)state;
    const char *kv[] = {"a", "1", "c", "3", "dst", "old"};
    labelset ls = mk(kv, 6);
    const char *srcs[] = {"a", "b", "c"};
    promql_label_join_apply(&ls, "dst", ",", srcs, 3); /* b is missing: "" */
    assert_string_equal(labels_get(&ls, "dst"), "1,,3");
    promql_label_join_apply(&ls, "new", "", srcs, 3);
    assert_string_equal(labels_get(&ls, "new"), "13");
    const char *missing[] = {"x", "y"};
    promql_label_join_apply(&ls, "dst", "", missing, 2); /* empty: dst deleted */
    assert_null(labels_get(&ls, "dst"));
    promql_label_join_apply(&ls, "new", "", NULL, 0);
    assert_null(labels_get(&ls, "new"));
    promql_label_join_apply(&ls, "a", "-", srcs, 3); /* dst among the sources */
    assert_string_equal(labels_get(&ls, "a"), "1--3");
    assert_int_equal(ls.n, 2);
    assert_true(strcmp(ls.v[0].name, ls.v[1].name) < 0);
    labels_free(&ls);

    char err[256];
    assert_true(promql_label_join_check("dst", srcs, 3, err, sizeof(err)));
    assert_true(promql_label_join_check("dst", NULL, 0, err, sizeof(err)));
    const char *bad[] = {"a", "b-c"};
    assert_false(promql_label_join_check("dst", bad, 2, err, sizeof(err)));
    assert_string_equal(err, "invalid source label name in label_join(): b-c");
    assert_false(promql_label_join_check("1dst", srcs, 3, err, sizeof(err)));
    assert_string_equal(err, "invalid destination label name in label_join(): 1dst");
    /* sources are checked before the destination */
    assert_false(promql_label_join_check("1dst", bad, 2, err, sizeof(err)));
    assert_string_equal(err, "invalid source label name in label_join(): b-c");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_covers_parser),
        cmocka_unit_test(test_rate_extrapolates_to_edges),
        cmocka_unit_test(test_rate_far_from_edges),
        cmocka_unit_test(test_rate_counter_not_below_zero),
        cmocka_unit_test(test_rate_counter_resets),
        cmocka_unit_test(test_rate_needs_two_samples),
        cmocka_unit_test(test_delta_gauge_down_and_nan),
        cmocka_unit_test(test_irate_idelta),
        cmocka_unit_test(test_deriv_predict_linear),
        cmocka_unit_test(test_changes_resets_nan),
        cmocka_unit_test(test_holt_winters),
        cmocka_unit_test(test_check_args),
        cmocka_unit_test(test_over_time_basic),
        cmocka_unit_test(test_over_time_precision),
        cmocka_unit_test(test_over_time_inf_nan),
        cmocka_unit_test(test_quantile_over_time),
        cmocka_unit_test(test_quantile),
        cmocka_unit_test(test_bucket_quantile),
        cmocka_unit_test(test_bucket_quantile_edge_cases),
        cmocka_unit_test(test_math_simple),
        cmocka_unit_test(test_round),
        cmocka_unit_test(test_clamp),
        cmocka_unit_test(test_dates),
        cmocka_unit_test(test_label_replace_groups),
        cmocka_unit_test(test_label_replace_match_rules),
        cmocka_unit_test(test_label_replace_errors),
        cmocka_unit_test(test_label_join),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
