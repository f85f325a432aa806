/*
 * test_chunk.c — the Gorilla chunk codec (aggregator/tsdb/chunk.c): every
 * sequence written comes back bit-exact, the iterator seeks, and malformed
 * bytes end iteration instead of reading past the buffer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "aggregator/tsdb/chunk.h"
#include "query/storage.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint64_t bits_of(double v)
{
    uint64_t b;
    memcpy(&b, &v, 8);
    return b;
}

/* Encode n samples, decode them, and compare timestamps and value bits. */
static size_t roundtrip(const int64_t *ts, const double *vs, size_t n)
{
    chunk_enc e;
    chunk_enc_init(&e);
    for (size_t i = 0; i < n; i++)
        chunk_append(&e, ts[i], vs[i]);
    size_t len;
    const uint8_t *b = chunk_bytes(&e, &len);
    assert_int_equal(chunk_count(b, len), n);
    chunk_iter it;
    chunk_iter_init(&it, b, len);
    for (size_t i = 0; i < n; i++) {
        assert_true(chunk_iter_next(&it));
        assert_int_equal(chunk_iter_t(&it), ts[i]);
        assert_int_equal(bits_of(chunk_iter_v(&it)), bits_of(vs[i]));
    }
    assert_false(chunk_iter_next(&it));
    assert_false(it.err);
    chunk_enc_free(&e);
    return len;
}

static void test_regular_interval_is_small(void **state)
{
    int64_t ts[CHUNK_MAX_SAMPLES];
    double vs[CHUNK_MAX_SAMPLES];
    for (int i = 0; i < CHUNK_MAX_SAMPLES; i++) {
        ts[i] = 1700000000000 + 15000 * i;
        vs[i] = 40 + (i % 7) * 0.5;
    }
    size_t len = roundtrip(ts, vs, CHUNK_MAX_SAMPLES);
    /* A steady interval costs one bit per timestamp after the second. */
    assert_true(len < CHUNK_MAX_SAMPLES * 4);
}

static void test_irregular_intervals(void **state)
{
    int64_t ts[100];
    double vs[100];
    int64_t t = 1000;
    srand(7);
    for (int i = 0; i < 100; i++) {
        t += 1 + rand() % 200000; /* every delta-of-delta bucket */
        ts[i] = t;
        vs[i] = rand() / 3.0;
    }
    roundtrip(ts, vs, 100);
}

static void test_identical_values_cost_one_bit(void **state)
{
    int64_t ts[CHUNK_MAX_SAMPLES];
    double vs[CHUNK_MAX_SAMPLES];
    for (int i = 0; i < CHUNK_MAX_SAMPLES; i++) {
        ts[i] = 15000 * i;
        vs[i] = 3.25;
    }
    size_t len = roundtrip(ts, vs, CHUNK_MAX_SAMPLES);
    assert_true(len < 2 + 10 + 8 + 3 + CHUNK_MAX_SAMPLES * 2 / 8 + 1);
}

static void test_nan_stale_nan_and_infinities(void **state)
{
    int64_t ts[] = {1, 2, 3, 4, 5, 6, 7};
    double vs[] = {NAN, stale_nan(), 1.0, INFINITY, -INFINITY, stale_nan(), -NAN};
    roundtrip(ts, vs, 7);
    chunk_enc e;
    chunk_enc_init(&e);
    chunk_append(&e, 1, NAN);
    chunk_append(&e, 2, stale_nan());
    size_t len;
    const uint8_t *b = chunk_bytes(&e, &len);
    chunk_iter it;
    chunk_iter_init(&it, b, len);
    assert_true(chunk_iter_next(&it));
    assert_true(isnan(chunk_iter_v(&it)) && !is_stale_nan(chunk_iter_v(&it)));
    assert_true(chunk_iter_next(&it));
    assert_true(is_stale_nan(chunk_iter_v(&it)));
    chunk_enc_free(&e);
}

static void test_huge_jumps_and_extremes(void **state)
{
    int64_t ts[] = {INT64_MIN, -1000000000000000, -1, 0, 1, 4000000000000000000, INT64_MAX};
    double vs[] = {0.0, -0.0, 1e308, -1e-308, 5e-324, 1.0, -2.5};
    roundtrip(ts, vs, 7);
}

static void test_negative_timestamps(void **state)
{
    int64_t ts[50];
    double vs[50];
    for (int i = 0; i < 50; i++) {
        ts[i] = -500000 + 10000 * i;
        vs[i] = -i;
    }
    roundtrip(ts, vs, 50);
}

static void test_single_sample(void **state)
{
    int64_t ts[] = {-42};
    double vs[] = {7.5};
    roundtrip(ts, vs, 1);
}

static void test_seek(void **state)
{
    chunk_enc e;
    chunk_enc_init(&e);
    for (int i = 0; i < 100; i++)
        chunk_append(&e, 1000 * i, i);
    size_t len;
    const uint8_t *b = chunk_bytes(&e, &len);
    chunk_iter it;
    chunk_iter_init(&it, b, len);
    assert_true(chunk_iter_seek(&it, 2500));
    assert_int_equal(chunk_iter_t(&it), 3000);
    assert_true(chunk_iter_seek(&it, 1000)); /* never backwards */
    assert_int_equal(chunk_iter_t(&it), 3000);
    assert_true(chunk_iter_seek(&it, 99000));
    assert_true(chunk_iter_v(&it) == 99);
    assert_false(chunk_iter_seek(&it, 99001));
    chunk_enc_free(&e);
}

static void test_malformed_bytes_end_iteration(void **state)
{
    chunk_enc e;
    chunk_enc_init(&e);
    for (int i = 0; i < 20; i++)
        chunk_append(&e, 7 * i * i, i * 1.1);
    size_t len;
    const uint8_t *b = chunk_bytes(&e, &len);
    for (size_t cut = 0; cut < len; cut++) { /* every truncation */
        chunk_iter it;
        chunk_iter_init(&it, b, cut);
        int n = 0;
        while (chunk_iter_next(&it))
            n++;
        assert_true(n < 20);
    }
    uint8_t bad[4] = {0xff, 0xff, 0xff, 0xff}; /* claims 65535 samples */
    chunk_iter it;
    chunk_iter_init(&it, bad, sizeof bad);
    assert_false(chunk_iter_next(&it));
    assert_true(it.err);
    chunk_enc_free(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_regular_interval_is_small),
        cmocka_unit_test(test_irregular_intervals),
        cmocka_unit_test(test_identical_values_cost_one_bit),
        cmocka_unit_test(test_nan_stale_nan_and_infinities),
        cmocka_unit_test(test_huge_jumps_and_extremes),
        cmocka_unit_test(test_negative_timestamps),
        cmocka_unit_test(test_single_sample),
        cmocka_unit_test(test_seek),
        cmocka_unit_test(test_malformed_bytes_end_iteration),
    };
    return cmocka_run_group_tests_name("chunk", tests, NULL, NULL);
}
