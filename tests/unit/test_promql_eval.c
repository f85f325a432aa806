/*
 * test_promql_eval.c — instant selector evaluation (query/eval.c) against
 * an in-memory query_storage.
 *
 * The fake storage here is deliberate: the unit under test is the
 * storage.h interface and the engine's use of it (lookback window,
 * staleness, result order and timestamps).  The RocksDB store is tested
 * against the same interface in its own suite.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "query/promql.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T 1000000 /* evaluation time, ms */
#define LB PROMQL_DEFAULT_LOOKBACK_MS

typedef struct fake_store {
    qseries_set all;
    bool fail;
    bool sloppy; /* return every sample, ignoring [mint, maxt] */
    int calls;
    int64_t mint, maxt;
} fake_store;

/* storage.h's select: series matching all matchers, each with an iterator
 * over its samples in [mint, maxt]. */
static int fake_select(void *ctx, const label_matcher *ms, size_t nms, int64_t mint, int64_t maxt,
                       qselect_set *out, char *err, size_t errlen)
{
    fake_store *st = ctx;
    st->calls++;
    st->mint = mint;
    st->maxt = maxt;
    if (st->fail) {
        snprintf(err, errlen, "disk on fire");
        return -1;
    }
    for (size_t i = 0; i < st->all.n; i++) {
        const qseries *s = &st->all.v[i];
        if (!matchers_match_labels(ms, nms, &s->labels))
            continue;
        qseries q = {.samples = NULL};
        for (size_t j = 0; j < s->n; j++) {
            if (!st->sloppy && (s->samples[j].t < mint || s->samples[j].t > maxt))
                continue;
            qseries_push(&q, s->samples[j].t, s->samples[j].v);
        }
        qselect_set_add(out, &s->labels, qiter_slice_new(q.samples, q.n));
        free(q.samples);
    }
    return 0;
}

static fake_store store;
static query_storage storage = {&store, fake_select};

static int setup(void **state)
{
    (void)state;
    memset(&store, 0, sizeof(store));
    qseries_set_init(&store.all);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    qseries_set_free(&store.all);
    return 0;
}

/* Add a series given as "name", "k1", "v1", ..., NULL. */
static qseries *series(const char *name, ...)
{
    labelset ls;
    labels_init(&ls);
    labels_add(&ls, LABEL_METRIC_NAME, name);
    va_list ap;
    va_start(ap, name);
    for (const char *k; (k = va_arg(ap, const char *)) != NULL;)
        labels_add(&ls, k, va_arg(ap, const char *));
    va_end(ap);
    labels_sort(&ls);
    qseries *q = qseries_set_add(&store.all, &ls);
    labels_free(&ls);
    return q;
}

/* Parse q, evaluate at t with lookback lb; the caller frees *out. */
static void eval(const char *q, int64_t t, int64_t lb, qseries_set *out)
{
    promql_selector s;
    promql_error perr;
    if (promql_parse_selector(q, &s, &perr) != 0)
        fail_msg("%s: %s", q, perr.msg);
    char err[128];
    qseries_set_init(out);
    if (promql_eval_selector(&storage, &s, t, lb, out, err, sizeof(err)) != 0)
        fail_msg("%s: %s", q, err);
    promql_selector_free(&s);
}

/* Number of result series for q at T. */
static size_t count(const char *q)
{
    qseries_set out;
    eval(q, T, LB, &out);
    size_t n = out.n;
    qseries_set_free(&out);
    return n;
}

static void test_window_passed_to_storage(void **state)
{
    (void)state;
    qseries_set out;
    eval("up", T, LB, &out);
    assert_int_equal(store.calls, 1);
    assert_int_equal(store.mint, T - LB + 1); /* (t - lookback, t] */
    assert_int_equal(store.maxt, T);
    qseries_set_free(&out);
    eval("up", T, 0, &out); /* 0 means the default */
    assert_int_equal(store.mint, T - LB + 1);
    qseries_set_free(&out);
    eval("up", T, 1000, &out);
    assert_int_equal(store.mint, T - 999);
    qseries_set_free(&out);
    eval("up", INT64_MIN + 5, 1000, &out); /* no overflow at the bottom */
    assert_true(store.mint == INT64_MIN);
    qseries_set_free(&out);
}

static void test_lookback_boundaries(void **state)
{
    (void)state;
    qseries_push(series("at_start", NULL), T - LB, 1); /* excluded: window is open */
    qseries_push(series("after_start", NULL), T - LB + 1, 2);
    qseries_push(series("at_t", NULL), T, 3);
    qseries_push(series("after_t", NULL), T + 1, 4); /* in the future */
    assert_int_equal(count("at_start"), 0);
    assert_int_equal(count("after_start"), 1);
    assert_int_equal(count("at_t"), 1);
    assert_int_equal(count("after_t"), 0);
}

/* The window is enforced even if a storage returns more than asked. */
static void test_lookback_with_sloppy_storage(void **state)
{
    (void)state;
    store.sloppy = true;
    qseries_push(series("at_start", NULL), T - LB, 1);
    qseries *q = series("mixed", NULL);
    qseries_push(q, T - 10, 5);
    qseries_push(q, T + 1, 6);
    assert_int_equal(count("at_start"), 0);
    qseries_set out;
    eval("mixed", T, LB, &out);
    assert_int_equal(out.n, 1);
    assert_true(out.v[0].samples[0].v == 5);
    qseries_set_free(&out);
}

/* Newest sample at or before t; the result carries t itself. */
static void test_value_and_timestamp(void **state)
{
    (void)state;
    qseries *q = series("up", "job", "api", NULL);
    qseries_push(q, T - 30000, 1);
    qseries_push(q, T - 15000, 2);
    qseries_push(q, T + 15000, 3);
    qseries_set out;
    eval("up", T, LB, &out);
    assert_int_equal(out.n, 1);
    assert_int_equal(out.v[0].n, 1);
    assert_int_equal(out.v[0].samples[0].t, T);
    assert_true(out.v[0].samples[0].v == 2);
    assert_string_equal(labels_get(&out.v[0].labels, "__name__"), "up");
    assert_string_equal(labels_get(&out.v[0].labels, "job"), "api");
    qseries_set_free(&out);
}

static void test_staleness(void **state)
{
    (void)state;
    qseries *q = series("gone", NULL);
    qseries_push(q, T - 20000, 1);
    qseries_push(q, T - 10000, stale_nan());
    q = series("back", NULL);
    qseries_push(q, T - 20000, stale_nan());
    qseries_push(q, T - 10000, 7);
    q = series("stale_later", NULL); /* the marker is after t: not seen yet */
    qseries_push(q, T - 10000, 8);
    qseries_push(q, T + 1, stale_nan());
    assert_int_equal(count("gone"), 0);
    assert_int_equal(count("back"), 1);
    assert_int_equal(count("stale_later"), 1);
}

/* An ordinary NaN is a value, not a marker. */
static void test_ordinary_nan_kept(void **state)
{
    (void)state;
    qseries_push(series("not_a_number", NULL), T - 1000, NAN);
    qseries_set out;
    eval("not_a_number{}", T, LB, &out);
    assert_int_equal(out.n, 1);
    assert_true(isnan(out.v[0].samples[0].v));
    assert_false(is_stale_nan(out.v[0].samples[0].v));
    qseries_set_free(&out);
}

static void test_sorted_by_labels(void **state)
{
    (void)state;
    const char *jobs[] = {"web", "api", "db", "cache"};
    for (int i = 0; i < 4; i++)
        qseries_push(series("up", "job", jobs[i], NULL), T - 1000, i);
    qseries_push(series("up", "instance", "h1", "job", "api", NULL), T - 1000, 9);
    qseries_push(series("aaa", "job", "zzz", NULL), T - 1000, 9);
    qseries_set out;
    eval("{job=~\".+\"}", T, LB, &out);
    assert_int_equal(out.n, 6);
    for (size_t i = 1; i < out.n; i++)
        assert_true(labels_compare(&out.v[i - 1].labels, &out.v[i].labels) < 0);
    /* "__name__" sorts first among these names, so by name, then the rest. */
    assert_string_equal(labels_get(&out.v[0].labels, "__name__"), "aaa");
    assert_string_equal(labels_get(&out.v[1].labels, "instance"), "h1");
    assert_string_equal(labels_get(&out.v[2].labels, "job"), "api");
    assert_string_equal(labels_get(&out.v[5].labels, "job"), "web");
    qseries_set_free(&out);
}

static void test_matchers_with_and_without_label(void **state)
{
    (void)state;
    qseries_push(series("m", "job", "api", NULL), T - 1000, 1);
    qseries_push(series("m", "job", "web", NULL), T - 1000, 2);
    qseries_push(series("m", "job", "", NULL), T - 1000, 3); /* same as absent */
    qseries_push(series("m", NULL), T - 1000, 4);
    qseries_push(series("m", "job", "apiv2", NULL), T - 1000, 5);
    assert_int_equal(count("m"), 5);
    assert_int_equal(count("m{job=\"api\"}"), 1);
    assert_int_equal(count("m{job!=\"api\"}"), 4); /* includes series without job */
    assert_int_equal(count("m{job=\"\"}"), 2);     /* only series without job */
    assert_int_equal(count("m{job!=\"\"}"), 3);
    assert_int_equal(count("m{job=~\"api\"}"), 1); /* anchored: not apiv2 */
    assert_int_equal(count("m{job=~\"api|web\"}"), 2);
    assert_int_equal(count("m{job=~\"api.*\"}"), 2);
    assert_int_equal(count("m{job=~\".*\"}"), 5);
    assert_int_equal(count("m{job=~\".+\"}"), 3);
    assert_int_equal(count("m{job!~\"api|web\"}"), 3);
    assert_int_equal(count("m{job!~\".+\"}"), 2);
    assert_int_equal(count("m{job!~\".*\"}"), 0);
    assert_int_equal(count("{__name__=~\"m|n\",job=\"web\"}"), 1);
    assert_int_equal(count("{__name__=\"other\"}"), 0);
}

static void test_storage_error(void **state)
{
    (void)state;
    qseries_push(series("up", NULL), T, 1);
    store.fail = true;
    promql_selector s;
    promql_error perr;
    assert_int_equal(promql_parse_selector("up", &s, &perr), 0);
    qseries_set out;
    qseries_set_init(&out);
    char err[64];
    assert_int_equal(promql_eval_selector(&storage, &s, T, LB, &out, err, sizeof(err)), -1);
    assert_string_equal(err, "disk on fire");
    assert_int_equal(out.n, 0);
    promql_selector_free(&s);
}

static void test_empty_result(void **state)
{
    (void)state;
    qseries_set out;
    eval("nothing_here", T, LB, &out);
    assert_int_equal(out.n, 0);
    qseries_set_free(&out);
}

int main(void)
{
#define TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        TEST(test_window_passed_to_storage),
        TEST(test_lookback_boundaries),
        TEST(test_lookback_with_sloppy_storage),
        TEST(test_value_and_timestamp),
        TEST(test_staleness),
        TEST(test_ordinary_nan_kept),
        TEST(test_sorted_by_labels),
        TEST(test_matchers_with_and_without_label),
        TEST(test_storage_error),
        TEST(test_empty_result),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
