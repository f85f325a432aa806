/*
 * test_backoff.c — the sender's wait between attempts (agent/backoff.h):
 * every wait lies between the floor and the doubling ceiling, the ceiling
 * stops at the maximum, the jitter really spreads over the whole range, a
 * seed replays the same schedule, and a success starts over.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "agent/backoff.h"

static void test_ceiling_doubles_up_to_the_maximum(void **state)
{
    backoff b;
    backoff_init(&b, 100, 5000, 1);
    const int64_t want[] = {100, 200, 400, 800, 1600, 3200, 5000, 5000};
    for (unsigned n = 0; n < sizeof want / sizeof want[0]; n++)
        assert_int_equal(backoff_ceiling(&b, n), want[n]);
    /* far beyond 64 doublings: no overflow, still the maximum */
    assert_int_equal(backoff_ceiling(&b, 1000), 5000);
    backoff_init(&b, 1, INT64_MAX, 1);
    assert_true(backoff_ceiling(&b, 200) > 0);
}

static void test_every_wait_is_between_floor_and_ceiling(void **state)
{
    backoff b;
    backoff_init(&b, 100, 5000, 7);
    for (int round = 0; round < 50; round++) {
        for (unsigned n = 1; n <= 12; n++) {
            int64_t w = backoff_next(&b);
            assert_int_equal(b.failures, n);
            assert_true(w >= 100);
            assert_true(w <= backoff_ceiling(&b, n));
        }
        backoff_reset(&b);
        assert_int_equal(b.failures, 0);
    }
}

/* Full jitter: at the cap, draws cover [min, max] evenly, not a corner. */
static void test_jitter_spreads_over_the_whole_range(void **state)
{
    backoff b;
    backoff_init(&b, 100, 1100, 12345);
    for (int i = 0; i < 10; i++)
        backoff_next(&b); /* at the cap */
    int64_t lo = INT64_MAX, hi = 0;
    int buckets[10] = {0};
    const int draws = 10000;
    for (int i = 0; i < draws; i++) {
        int64_t w = backoff_next(&b);
        lo = w < lo ? w : lo;
        hi = w > hi ? w : hi;
        buckets[w == 1100 ? 9 : (w - 100) / 100]++;
    }
    assert_true(lo < 110 && hi > 1090);
    for (int k = 0; k < 10; k++) /* about 1000 each */
        assert_true(buckets[k] > 800 && buckets[k] < 1200);
}

static void test_a_seed_replays_its_schedule(void **state)
{
    backoff a, b, c;
    backoff_init(&a, 50, 10000, 42);
    backoff_init(&b, 50, 10000, 42);
    backoff_init(&c, 50, 10000, 43);
    int same_as_other_seed = 0;
    for (int i = 0; i < 20; i++) {
        int64_t x = backoff_next(&a);
        assert_int_equal(x, backoff_next(&b));
        same_as_other_seed += x == backoff_next(&c);
        if (i % 7 == 6) { /* resets replay too */
            backoff_reset(&a);
            backoff_reset(&b);
            backoff_reset(&c);
        }
    }
    assert_true(same_as_other_seed < 5);
}

static void test_reset_starts_again_at_the_floor(void **state)
{
    backoff b;
    backoff_init(&b, 100, 60000, 3);
    for (int i = 0; i < 20; i++)
        backoff_next(&b);
    backoff_reset(&b);
    int64_t w = backoff_next(&b);
    assert_true(w >= 100 && w <= 200);
}

static void test_bad_bounds_are_raised(void **state)
{
    backoff b;
    backoff_init(&b, 0, -5, 0); /* seed 0 must not freeze the generator */
    assert_int_equal(b.min_ms, 1);
    assert_int_equal(b.max_ms, 1);
    assert_int_equal(backoff_next(&b), 1);
    backoff_init(&b, 10, 1000, 0);
    int64_t first = backoff_next(&b);
    int differ = 0;
    for (int i = 0; i < 20; i++)
        differ += backoff_next(&b) != first;
    assert_true(differ > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ceiling_doubles_up_to_the_maximum),
        cmocka_unit_test(test_every_wait_is_between_floor_and_ceiling),
        cmocka_unit_test(test_jitter_spreads_over_the_whole_range),
        cmocka_unit_test(test_a_seed_replays_its_schedule),
        cmocka_unit_test(test_reset_starts_again_at_the_floor),
        cmocka_unit_test(test_bad_bounds_are_raised),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
