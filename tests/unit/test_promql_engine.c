/*
 * test_promql_engine.c — the PromQL evaluator (query/engine.c and the
 * eval_*.c files) on the real store: each test loads samples into a
 * RocksDB-backed tsdb in a temp dir and checks query results worked out by
 * hand (scripts in promqltest.h's format; the comments show the sums).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "promqltest.h"
#include "query/fn_kernels.h"

#include "common/etime.h"

#include <pthread.h>

static void run_script(const char *name, const char *script)
{
    assert_int_equal(promqltest_run(name, script), 0);
}

static void test_selectors(void **state)
{
    (void)state;
    run_script("selectors", "load 1m\n"
                            "    foo{a=\"1\"} 1 2 3 _x7 11\n"
                            "    foo{a=\"2\"} 10 stale 30\n"
                            "    bar 5x3\n"
                            "eval instant at 2m foo\n"
                            "    foo{a=\"1\"} 3\n"
                            "    foo{a=\"2\"} 30\n"
                            "# the staleness marker at 1m ends a=\"2\" there\n"
                            "eval instant at 1m foo\n"
                            "    foo{a=\"1\"} 2\n"
                            "# lookback is [t - 5m, t]: 2m is still seen at 7m, not at 7m1s\n"
                            "eval instant at 7m foo{a=\"1\"}\n"
                            "    foo{a=\"1\"} 3\n"
                            "eval instant at 7m1s foo{a=\"1\"}\n"
                            "eval instant at 10m foo{a=~\"1|3\"}\n"
                            "    foo{a=\"1\"} 11\n"
                            "eval instant at 3m foo offset 1m\n"
                            "    foo{a=\"1\"} 3\n"
                            "    foo{a=\"2\"} 30\n"
                            "eval instant at 0 foo offset -2m\n"
                            "    foo{a=\"1\"} 3\n"
                            "    foo{a=\"2\"} 30\n"
                            "eval instant at 10m foo @ 60\n"
                            "    foo{a=\"1\"} 2\n"
                            "eval range from 0 to 4m step 1m foo{a=\"2\"}\n"
                            "    foo{a=\"2\"} 10 _ 30 30 30\n"
                            "eval range from 0 to 3m step 1m bar @ 120\n"
                            "    bar 5 5 5 5\n"
                            "# @ at the ends of int64 (fuzz_promql_eval: offsets overflowed)\n"
                            "eval instant at 10m foo @ 9223372036854775.807\n"
                            "eval range from 0 to 2m step 1m foo @ -9223372036854775.808\n"
                            "eval range from 0 to 2m step 1m "
                            "max_over_time(foo[5m:1m] @ -9223372036854775.808)\n"
                            "eval instant at 10m rate(foo[5m] @ 9223372036854775.807 offset -5m)\n"
                            "eval instant at 1m foo[1m]\n"
                            "    foo{a=\"1\"} 1 2\n"
                            "    foo{a=\"2\"} 10\n"
                            "eval_fail instant at 0 foo{\n"
                            "    bad_data\n");
}

static void test_binary_operators(void **state)
{
    (void)state;
    run_script("binary",
               "load 1m\n"
               "    req{job=\"a\",inst=\"1\",code=\"200\"} 0+10x10\n"
               "    req{job=\"a\",inst=\"1\",code=\"500\"} 0+1x10\n"
               "    req{job=\"b\",inst=\"2\",code=\"200\"} 0+20x10\n"
               "    lim{job=\"a\"} 100x10\n"
               "    lim{job=\"b\"} 50x10\n"
               "eval instant at 5m req * 2\n"
               "    {job=\"a\",inst=\"1\",code=\"200\"} 100\n"
               "    {job=\"a\",inst=\"1\",code=\"500\"} 10\n"
               "    {job=\"b\",inst=\"2\",code=\"200\"} 200\n"
               "eval instant at 5m req > 20\n"
               "    req{job=\"a\",inst=\"1\",code=\"200\"} 50\n"
               "    req{job=\"b\",inst=\"2\",code=\"200\"} 100\n"
               "eval instant at 5m req > bool 20\n"
               "    {job=\"a\",inst=\"1\",code=\"200\"} 1\n"
               "    {job=\"a\",inst=\"1\",code=\"500\"} 0\n"
               "    {job=\"b\",inst=\"2\",code=\"200\"} 1\n"
               "# a comparison keeps the vector's value even with the scalar on the left\n"
               "eval instant at 5m 20 < req\n"
               "    req{job=\"a\",inst=\"1\",code=\"200\"} 50\n"
               "    req{job=\"b\",inst=\"2\",code=\"200\"} 100\n"
               "eval instant at 5m req / on(job) group_left lim\n"
               "    {job=\"a\",inst=\"1\",code=\"200\"} 0.5\n"
               "    {job=\"a\",inst=\"1\",code=\"500\"} 0.05\n"
               "    {job=\"b\",inst=\"2\",code=\"200\"} 2\n"
               "eval instant at 5m req / ignoring(code, inst) group_left lim\n"
               "    {job=\"a\",inst=\"1\",code=\"200\"} 0.5\n"
               "    {job=\"a\",inst=\"1\",code=\"500\"} 0.05\n"
               "    {job=\"b\",inst=\"2\",code=\"200\"} 2\n"
               "eval instant at 5m lim / on(job) group_right req\n"
               "    {job=\"a\",inst=\"1\",code=\"200\"} 2\n"
               "    {job=\"a\",inst=\"1\",code=\"500\"} 20\n"
               "    {job=\"b\",inst=\"2\",code=\"200\"} 0.5\n"
               "eval instant at 5m sum by (job) (req) / on(job) lim\n"
               "    {job=\"a\"} 0.55\n"
               "    {job=\"b\"} 2\n"
               "eval_fail instant at 5m req / on(job) lim\n"
               "    execution\n"
               "eval_fail instant at 5m lim / on(job) req\n"
               "    execution\n"
               "eval instant at 5m req and on(job) lim{job=\"a\"}\n"
               "    req{job=\"a\",inst=\"1\",code=\"200\"} 50\n"
               "    req{job=\"a\",inst=\"1\",code=\"500\"} 5\n"
               "eval instant at 5m req unless on(job) lim{job=\"a\"}\n"
               "    req{job=\"b\",inst=\"2\",code=\"200\"} 100\n"
               "eval instant at 5m lim or req{code=\"500\"}\n"
               "    lim{job=\"a\"} 100\n"
               "    lim{job=\"b\"} 50\n"
               "    req{job=\"a\",inst=\"1\",code=\"500\"} 5\n"
               "eval instant at 0 1 + 2 * 3\n"
               "    7\n"
               "eval instant at 0 2 ^ 3 ^ 2\n"
               "    512\n"
               "eval instant at 0 -2 ^ 2\n"
               "    -4\n"
               "eval instant at 0 10 % 3\n"
               "    1\n"
               "eval instant at 0 1 == bool 1\n"
               "    1\n"
               "eval instant at 5m -req{code=\"500\"}\n"
               "    {job=\"a\",inst=\"1\",code=\"500\"} -5\n"

               "eval range from 0 to 3m step 1m req{code=\"500\"} + on(job) group_left lim\n"
               "    {job=\"a\",inst=\"1\",code=\"500\"} 100 101 102 103\n"
               "# an error at a late step frees what the earlier steps made (a leak\n"
               "# fuzz_promql_eval found): a second one-side series from 5m on\n"
               "clear\n"
               "load 1m\n"
               "    one{x=\"1\"} 1x10\n"
               "    one{x=\"2\"} _x5 1x5\n"
               "    many 2x10\n"
               "eval range from 0 to 4m step 1m many / on() one\n"
               "    {} 2 2 2 2 2\n"
               "eval_fail range from 0 to 10m step 1m many / on() one\n"
               "    execution\n");
}

static void test_nan_and_infinities(void **state)
{
    (void)state;
    run_script("nan",
               "load 1m\n"
               "    v{k=\"nan\"} NaN NaN\n"
               "    v{k=\"one\"} 1 1\n"
               "    v{k=\"zero\"} 0 0\n"
               "    v{k=\"inf\"} Inf Inf\n"
               "# NaN propagates through arithmetic; x/0 is an infinity, 0/0 NaN\n"
               "eval instant at 0 v + 1\n"
               "    {k=\"nan\"} NaN\n"
               "    {k=\"one\"} 2\n"
               "    {k=\"zero\"} 1\n"
               "    {k=\"inf\"} Inf\n"
               "eval instant at 0 v / 0\n"
               "    {k=\"nan\"} NaN\n"
               "    {k=\"one\"} Inf\n"
               "    {k=\"zero\"} NaN\n"
               "    {k=\"inf\"} Inf\n"
               "# a comparison with NaN is false: filtered, or 0 with bool\n"
               "eval instant at 0 v == v\n"
               "    v{k=\"one\"} 1\n"
               "    v{k=\"zero\"} 0\n"
               "    v{k=\"inf\"} Inf\n"
               "eval instant at 0 v{k=\"nan\"} != bool 0\n"
               "    {k=\"nan\"} 1\n"
               "eval instant at 0 sum(v)\n"
               "    {} NaN\n"
               "eval instant at 0 sum(v{k!=\"nan\"})\n"
               "    {} Inf\n"
               "# max and min skip NaN unless it is all there is\n"
               "eval instant at 0 max(v)\n"
               "    {} Inf\n"
               "eval instant at 0 min(v)\n"
               "    {} 0\n"
               "eval instant at 0 max(v{k=\"nan\"})\n"
               "    {} NaN\n"
               "# Inf is a number literal\n"
               "eval instant at 0 inf - v{k=\"inf\"}\n"
               "    {k=\"inf\"} NaN\n"
               "eval instant at 1m count(v)\n"
               "    {} 4\n"
               "# nothing selected: empty results, not errors\n"
               "eval instant at 0 sum(nope)\n"
               "eval instant at 0 rate(nope[5m])\n"
               "# an empty side matches nothing before duplicates on the other are looked for\n"
               "eval instant at 0 nope + on() group_left v\n"
               "eval_fail instant at 0 v{k!=\"nan\"} + on() v\n"
               "    execution\n");
}

static void test_aggregations(void **state)
{
    (void)state;
    run_script("aggregations", "load 1m\n"
                               "    m{g=\"x\",i=\"1\"} 1x5\n"
                               "    m{g=\"x\",i=\"2\"} 2x5\n"
                               "    m{g=\"x\",i=\"3\"} 6x5\n"
                               "    m{g=\"y\",i=\"1\"} 4x5\n"
                               "    m2{g=\"x\",i=\"1\"} 1x5\n"
                               "eval instant at 0 sum by (g) (m)\n"
                               "    {g=\"x\"} 9\n"
                               "    {g=\"y\"} 4\n"
                               "eval instant at 0 sum(m)\n"
                               "    {} 13\n"
                               "eval instant at 0 avg by (g) (m)\n"
                               "    {g=\"x\"} 3\n"
                               "    {g=\"y\"} 4\n"
                               "eval instant at 0 max without (i) (m)\n"
                               "    {g=\"x\"} 6\n"
                               "    {g=\"y\"} 4\n"
                               "eval instant at 0 min by (g) (m)\n"
                               "    {g=\"x\"} 1\n"
                               "    {g=\"y\"} 4\n"
                               "eval instant at 0 count without (i) (m)\n"
                               "    {g=\"x\"} 3\n"
                               "    {g=\"y\"} 1\n"
                               "eval instant at 0 group by (g) (m)\n"
                               "    {g=\"x\"} 1\n"
                               "    {g=\"y\"} 1\n"
                               "# x: 1 2 6, mean 3, squares 4 1 9 -> variance 14/3\n"
                               "eval instant at 0 stdvar by (g) (m)\n"
                               "    {g=\"x\"} 4.666666666666667\n"
                               "    {g=\"y\"} 0\n"
                               "eval instant at 0 stddev by (g) (m)\n"
                               "    {g=\"x\"} 2.160246899469287\n"
                               "    {g=\"y\"} 0\n"
                               "eval_ordered instant at 0 topk(2, m)\n"
                               "    m{g=\"x\",i=\"3\"} 6\n"
                               "    m{g=\"y\",i=\"1\"} 4\n"
                               "eval instant at 0 bottomk by (g) (1, m)\n"
                               "    m{g=\"x\",i=\"1\"} 1\n"
                               "    m{g=\"y\",i=\"1\"} 4\n"
                               "# 1 2 4 6: rank 0.5*3 = 1.5 -> 2 + 0.5*(4-2)\n"
                               "eval instant at 0 quantile(0.5, m)\n"
                               "    {} 3\n"
                               "eval instant at 0 count_values(\"v\", m)\n"
                               "    {v=\"1\"} 1\n"
                               "    {v=\"2\"} 1\n"
                               "    {v=\"6\"} 1\n"
                               "    {v=\"4\"} 1\n"
                               "eval instant at 0 count_values by (g) (\"v\", m{i=\"1\"})\n"
                               "    {g=\"x\",v=\"1\"} 1\n"
                               "    {g=\"y\",v=\"4\"} 1\n"
                               "eval instant at 0 sum by (__name__) ({__name__=~\"m|m2\"})\n"
                               "    m 13\n"
                               "    m2 1\n"
                               "eval range from 0 to 2m step 1m sum(m)\n"
                               "    {} 13 13 13\n"
                               "eval_ordered instant at 0 sort(m)\n"
                               "    m{g=\"x\",i=\"1\"} 1\n"
                               "    m{g=\"x\",i=\"2\"} 2\n"
                               "    m{g=\"y\",i=\"1\"} 4\n"
                               "    m{g=\"x\",i=\"3\"} 6\n"
                               "eval_ordered instant at 0 sort_desc(m)\n"
                               "    m{g=\"x\",i=\"3\"} 6\n"
                               "    m{g=\"y\",i=\"1\"} 4\n"
                               "    m{g=\"x\",i=\"2\"} 2\n"
                               "    m{g=\"x\",i=\"1\"} 1\n"
                               "eval instant at 0 scalar(m{i=\"3\"})\n"
                               "    6\n"
                               "eval instant at 0 scalar(m)\n"
                               "    NaN\n"
                               "eval instant at 0 vector(1)\n"
                               "    {} 1\n"
                               "eval_fail instant at 0 {__name__=~\"m|m2\"} * 2\n"
                               "    execution\n");
}

static void test_range_functions(void **state)
{
    (void)state;
    run_script("range functions",
               "load 1m\n"
               "    c 0 10 20 30 40 5 15 25\n"
               "eval instant at 2m increase(c[2m])\n"
               "    {} 20\n"
               "eval instant at 2m rate(c[2m])\n"
               "    {} 0.16666666666666666\n"
               "# 30 40 | 5 15: last - first + the 40 lost at the reset\n"
               "eval instant at 6m increase(c[3m])\n"
               "    {} 25\n"
               "# [30s, 2m] holds 10 and 20; extrapolated 30 s to the start: 10 * 90/60\n"
               "eval instant at 2m increase(c[90s])\n"
               "    {} 15\n"
               "# [-30s, 1m] starts at 0: the counter's zero point stops the extrapolation\n"
               "eval instant at 1m increase(c[90s])\n"
               "    {} 10\n"
               "eval instant at 7m resets(c[10m])\n"
               "    {} 1\n"
               "eval instant at 7m changes(c[10m])\n"
               "    {} 7\n"
               "eval instant at 2m delta(c[2m])\n"
               "    {} 20\n"
               "eval instant at 2m idelta(c[2m])\n"
               "    {} 10\n"
               "eval instant at 2m irate(c[2m])\n"
               "    {} 0.16666666666666666\n"
               "eval instant at 2m deriv(c[2m])\n"
               "    {} 0.16666666666666666\n"
               "eval instant at 2m predict_linear(c[2m], 60)\n"
               "    {} 30\n"
               "eval instant at 2m avg_over_time(c[2m])\n"
               "    {} 10\n"
               "eval instant at 2m min_over_time(c[2m])\n"
               "    {} 0\n"
               "eval instant at 2m max_over_time(c[2m])\n"
               "    {} 20\n"
               "eval instant at 2m sum_over_time(c[2m])\n"
               "    {} 30\n"
               "eval instant at 2m count_over_time(c[2m])\n"
               "    {} 3\n"
               "eval instant at 2m last_over_time(c[2m])\n"
               "    c 20\n"
               "eval instant at 2m stdvar_over_time(c[2m])\n"
               "    {} 66.66666666666667\n"
               "eval instant at 2m quantile_over_time(0.5, c[2m])\n"
               "    {} 10\n"
               "eval instant at 2m present_over_time(c[2m])\n"
               "    {} 1\n"
               "eval instant at 2m absent_over_time(nope{a=\"b\"}[1m])\n"
               "    {a=\"b\"} 1\n"
               "eval instant at 2m absent_over_time(c[1m])\n"
               "eval instant at 2m absent(nope{a=\"b\",c=~\"d\"})\n"
               "    {a=\"b\"} 1\n"
               "eval instant at 2m absent(c)\n"
               "eval range from 0 to 3m step 1m rate(c[1m])\n"
               "    {} _ 0.16666666666666666 0.16666666666666666 0.16666666666666666\n"
               "# subquery steps 1m 2m 3m 4m\n"
               "eval instant at 4m max_over_time(c[3m:1m])\n"
               "    {} 40\n"
               "eval instant at 3m sum_over_time(c[2m:1m])\n"
               "    {} 60\n"
               "eval instant at 4m c[2m:1m]\n"
               "    c 20 30 40\n"
               "eval_fail instant at 4m holt_winters(c[4m], 2, 0.5)\n"
               "    execution\n");
}

static void test_instant_functions(void **state)
{
    (void)state;
    run_script("instant functions",
               "load 1m\n"
               "    c{k=\"v\"} 0 10 20 30 40\n"
               "    h_bucket{le=\"0.1\"} 0+1x5\n"
               "    h_bucket{le=\"1\"} 0+3x5\n"
               "    h_bucket{le=\"+Inf\"} 0+4x5\n"
               "eval instant at 4m clamp(c, 10, 20)\n"
               "    {k=\"v\"} 20\n"
               "eval instant at 4m clamp(c, 20, 10)\n"
               "eval instant at 4m clamp_min(c, 50)\n"
               "    {k=\"v\"} 50\n"
               "eval instant at 1m sqrt(c * 10)\n"
               "    {k=\"v\"} 10\n"
               "eval instant at 1m round(c / 3)\n"
               "    {k=\"v\"} 3\n"
               "eval instant at 1m round(c / 3, 0.5)\n"
               "    {k=\"v\"} 3.5\n"
               "eval instant at 2m timestamp(c)\n"
               "    {k=\"v\"} 120\n"
               "eval instant at 2m30s timestamp(c)\n"
               "    {k=\"v\"} 120\n"
               "eval instant at 2m time()\n"
               "    120\n"
               "eval instant at 0 hour(vector(3700))\n"
               "    {} 1\n"
               "eval instant at 0 day_of_week()\n"
               "    {} 4\n"
               "eval instant at 0 year()\n"
               "    {} 1970\n"
               "eval instant at 0 days_in_month(vector(5184000))\n"
               "    {} 31\n"
               "eval instant at 0 label_replace(c, \"x\", \"$1-$2\", \"k\", \"(.)(.*)\")\n"
               "    c{k=\"v\",x=\"v-\"} 0\n"
               "eval instant at 0 label_join(c, \"x\", \",\", \"__name__\", \"k\")\n"
               "    c{k=\"v\",x=\"c,v\"} 0\n"
               "eval_fail instant at 0 label_replace(c, \"a-b\", \"x\", \"k\", \".*\")\n"
               "    execution\n"
               "# at 1m: 1, 3, 4 -> rank 2 falls in (0.1, 1] holding 2: 0.1 + 0.9 * 1/2\n"
               "eval instant at 1m histogram_quantile(0.5, h_bucket)\n"
               "    {} 0.55\n"
               "eval instant at 2m histogram_quantile(0.5, rate(h_bucket[1m]))\n"
               "    {} 0.55\n"
               "eval instant at 1m histogram_quantile(0.9, h_bucket)\n"
               "    {} 1\n"
               "eval range from 1m to 2m step 1m histogram_quantile(0.5, h_bucket)\n"
               "    {} 0.55 0.55\n");
}

/* max/min_over_time slide a deque over the samples instead of scanning
 * every window; on random data with NaNs and ties the answers must be the
 * kernels' own, window by window. */
static void test_sliding_extremes_match_the_kernels(void **state)
{
    (void)state;
    char dir[] = "/tmp/ember-extremes-XXXXXX";
    assert_non_null(mkdtemp(dir));
    tsdb *db;
    tsdb_options o = {.sync = false, .retention_ms = 0};
    char err[256];
    assert_int_equal(tsdb_open(dir, &o, &db, err, sizeof err), 0);
    tsdb_appender *app = tsdb_appender_new(db);
    labelset ls;
    labels_init(&ls);
    labels_add(&ls, "__name__", "x");
    qsample raw[400];
    size_t n = 0;
    uint32_t seed = 12345;
    for (int i = 0; i < 400; i++) {
        seed = seed * 1103515245 + 12345;
        if (seed >> 30 == 0) /* gaps */
            continue;
        double v = (double)((seed >> 16) % 7); /* many ties */
        if ((seed >> 8) % 9 == 0)
            v = NAN;
        raw[n++] = (qsample){(int64_t)i * 15000, v};
        assert_null(tsdb_append(app, &ls, (int64_t)i * 15000, v));
    }
    labels_free(&ls);
    tsdb_commit_result res;
    assert_int_equal(tsdb_commit(app, NULL, 0, &res, err, sizeof err), 0);
    query_storage st = tsdb_query_storage(db);
    const char *queries[] = {"max_over_time(x[2m])", "min_over_time(x[5m])"};
    bool (*kernels[])(const promql_window *, double *) = {promql_k_max_over_time,
                                                          promql_k_min_over_time};
    int64_t range[] = {120000, 300000};
    for (int q = 0; q < 2; q++) {
        promql_result r;
        promql_failure f;
        assert_int_equal(promql_query_range(&st, NULL, queries[q], 0, 6000000, 45000, &r, &f), 0);
        assert_int_equal(r.series.n, 1);
        const qseries *s = &r.series.v[0];
        size_t j = 0, checked = 0;
        for (int64_t t = 0; t <= 6000000; t += 45000) {
            size_t lo = 0, hi = 0;
            while (lo < n && raw[lo].t < t - range[q])
                lo++;
            hi = lo;
            while (hi < n && raw[hi].t <= t)
                hi++;
            if (hi == lo)
                continue;
            promql_window w = {.pts = raw + lo, .n = hi - lo, .t = t};
            double want;
            kernels[q](&w, &want);
            assert_true(j < s->n);
            assert_int_equal(s->samples[j].t, t);
            if (isnan(want))
                assert_true(isnan(s->samples[j].v));
            else
                assert_memory_equal(&s->samples[j].v, &want, sizeof want);
            j++;
            checked++;
        }
        assert_int_equal(j, s->n);
        assert_true(checked > 100);
        promql_result_free(&r);
    }
    tsdb_close(db);
    fs_rmtree(dir);
}

/* A storage that cannot read: the one place a test needs a storage of its
 * own, to make the failure happen. */
static int failing_select(void *ctx, const label_matcher *ms, size_t nms, int64_t mint,
                          int64_t maxt, qselect_set *out, char *err, size_t errlen)
{
    (void)ctx, (void)ms, (void)nms, (void)mint, (void)maxt, (void)out;
    snprintf(err, errlen, "IO error: disk on fire");
    return -1;
}

static void test_storage_failure_is_internal(void **state)
{
    (void)state;
    query_storage st = {.select = failing_select};
    promql_result r;
    promql_failure f;
    assert_int_equal(promql_query_instant(&st, NULL, "sum(rate(x[5m])) + y", 0, &r, &f), -1);
    assert_int_equal(f.type, PROMQL_ERR_INTERNAL);
    assert_string_equal(f.msg, "IO error: disk on fire");
    assert_int_equal(promql_errtype_http_status(f.type), 500);
    /* a query that selects nothing does not touch storage */
    assert_int_equal(promql_query_instant(&st, NULL, "1 + time()", 0, &r, &f), 0);
    promql_result_free(&r);
}

static void test_limits(void **state)
{
    (void)state;
    char dir[] = "/tmp/ember-limits-XXXXXX";
    assert_non_null(mkdtemp(dir));
    tsdb *db;
    tsdb_options o = {.sync = false};
    char err[256];
    assert_int_equal(tsdb_open(dir, &o, &db, err, sizeof err), 0);
    int64_t base = now_ms() - 3600 * 1000;
    tsdb_appender *app = tsdb_appender_new(db);
    labelset ls;
    labels_init(&ls);
    labels_add(&ls, "__name__", "x");
    labels_add(&ls, "i", "0");
    for (int i = 0; i < 50; i++) {
        char v[8];
        snprintf(v, sizeof v, "%d", i);
        labels_set(&ls, "i", v);
        for (int k = 0; k < 60; k++)
            assert_null(tsdb_append(app, &ls, base + k * 60000, k));
    }
    labels_free(&ls);
    tsdb_commit_result res;
    assert_int_equal(tsdb_commit(app, NULL, 0, &res, err, sizeof err), 0);
    query_storage st = tsdb_query_storage(db);
    promql_result r;
    promql_failure f;

    /* 50 series x 60 steps = 3,000 points: over a limit of 1,000 */
    promql_engine_options lim = {.max_samples = 1000};
    assert_int_equal(promql_query_range(&st, &lim, "x", base, base + 59 * 60000, 60000, &r, &f),
                     -1);
    assert_int_equal(f.type, PROMQL_ERR_EXECUTION);
    assert_string_equal(
        f.msg, "query processing would load too many samples into memory in query execution");
    assert_int_equal(promql_query_range(&st, NULL, "x", base, base + 59 * 60000, 60000, &r, &f), 0);
    assert_int_equal(r.series.n, 50);
    assert_true(r.peak_samples >= 3000);
    promql_result_free(&r);

    /* a range function holds its window: 60 samples of one series in a
     * 1h window at once is over a limit of 50, though it answers 1 point */
    promql_engine_options small = {.max_samples = 50};
    assert_int_equal(promql_query_instant(&st, &small, "count_over_time(x{i=\"0\"}[1h])",
                                          base + 59 * 60000, &r, &f),
                     -1);
    assert_int_equal(f.type, PROMQL_ERR_EXECUTION);
    assert_int_equal(promql_query_instant(&st, &small, "max_over_time(x{i=\"0\"}[1h])",
                                          base + 59 * 60000, &r, &f),
                     -1);
    assert_int_equal(promql_query_instant(&st, &small, "count_over_time(x{i=\"0\"}[30m])",
                                          base + 59 * 60000, &r, &f),
                     0);
    promql_result_free(&r);

    promql_engine_options late = {.deadline_ms = now_ms() - 1};
    assert_int_equal(promql_query_instant(&st, &late, "sum(x)", base, &r, &f), -1);
    assert_int_equal(f.type, PROMQL_ERR_TIMEOUT);
    assert_string_equal(f.msg, "query timed out in query execution");

    assert_int_equal(promql_query_instant(&st, NULL, "\"text\"", base, &r, &f), 0);
    assert_int_equal(r.type, PV_STRING);
    assert_string_equal(r.string, "text");
    promql_result_free(&r);

    atomic_bool cancel = true;
    promql_engine_options stop = {.cancel = &cancel};
    assert_int_equal(promql_query_instant(&st, &stop, "x", base, &r, &f), -1);
    assert_int_equal(f.type, PROMQL_ERR_CANCELED);

    assert_int_equal(promql_query_range(&st, NULL, "x", base, base + 11001 * 1000LL, 1000, &r, &f),
                     -1);
    assert_int_equal(f.type, PROMQL_ERR_BAD_DATA);
    assert_int_equal(promql_query_range(&st, NULL, "x[5m]", base, base + 1000, 1000, &r, &f), -1);
    assert_string_equal(f.msg, "invalid expression type \"range vector\" for range query, must be "
                               "Scalar or instant Vector");
    tsdb_close(db);
    fs_rmtree(dir);
}

static void *cancel_soon(void *arg)
{
    sleep_ms(100);
    atomic_store((atomic_bool *)arg, true);
    return NULL;
}

/* One series, huge windows: the inner subquery's 43,200 steps each hold a
 * window of 43,200 points (about half a minute of work).  The cancel flag
 * must be seen inside that one series' work, not only between series (it
 * was not: the query ran to its end). */
static void test_cancel_within_one_series(void **state)
{
    (void)state;
    char dir[] = "/tmp/ember-cancel-XXXXXX";
    assert_non_null(mkdtemp(dir));
    tsdb *db;
    char err[256];
    assert_int_equal(tsdb_open(dir, &(tsdb_options){.sync = false}, &db, err, sizeof err), 0);
    query_storage st = tsdb_query_storage(db);
    atomic_bool cancel = false;
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, cancel_soon, &cancel), 0);
    promql_engine_options o = {.cancel = &cancel};
    promql_result r;
    promql_failure f;
    int rc = promql_query_instant(
        &st, &o, "quantile_over_time(0.5, quantile_over_time(0.5, vector(time())[12h:1s])[12h:1s])",
        now_ms(), &r, &f);
    pthread_join(th, NULL);
    if (rc == 0)
        promql_result_free(&r);
    assert_int_equal(rc, -1);
    assert_int_equal(f.type, PROMQL_ERR_CANCELED);
    tsdb_close(db);
    fs_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_selectors),
        cmocka_unit_test(test_binary_operators),
        cmocka_unit_test(test_aggregations),
        cmocka_unit_test(test_range_functions),
        cmocka_unit_test(test_instant_functions),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_cancel_within_one_series),
        cmocka_unit_test(test_sliding_extremes_match_the_kernels),
        cmocka_unit_test(test_storage_failure_is_internal),
        cmocka_unit_test(test_nan_and_infinities),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
