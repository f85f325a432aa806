/*
 * test_simrng.c — the simulators' PRNG: reference values, determinism and
 * the moments of every distribution it offers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "simulators/simrng.h"

#include <math.h>

#define DRAWS 200000

static void test_splitmix64_reference_values(void **state)
{
    /* First outputs of splitmix64 from state 0 (Vigna's reference code). */
    uint64_t st = 0;
    assert_true(simrng_splitmix64(&st) == 0xe220a8397b1dcdafULL);
    assert_true(simrng_splitmix64(&st) == 0x6e789e6aa1b965f4ULL);
    assert_true(simrng_splitmix64(&st) == 0x06c45d188009454fULL);
}

static void test_uniform_normal_range(void **state)
{
    simrng r;
    simrng_seed(&r, 99);
    double usum = 0, nsum = 0, nsq = 0;
    for (int i = 0; i < DRAWS; i++) {
        double u = simrng_uniform(&r);
        assert_true(u >= 0.0 && u < 1.0);
        usum += u;
        double z = simrng_normal(&r);
        assert_true(isfinite(z));
        nsum += z;
        nsq += z * z;
        double x = simrng_range(&r, 20, 28);
        assert_true(x >= 20 && x < 28);
    }
    /* Standard errors: uniform mean 0.00065, normal mean 0.0022, var 0.0032. */
    assert_true(fabs(usum / DRAWS - 0.5) < 0.005);
    assert_true(fabs(nsum / DRAWS) < 0.015);
    assert_true(fabs(nsq / DRAWS - 1.0) < 0.02);
}

static void test_below_is_uniform(void **state)
{
    simrng r;
    simrng_seed(&r, 3);
    unsigned counts[7] = {0};
    for (int i = 0; i < 70000; i++) {
        uint64_t x = simrng_below(&r, 7);
        assert_true(x < 7);
        counts[x]++;
    }
    /* Each ~Binomial(70000, 1/7): mean 10000, sd 92.6; allow 6 sd. */
    for (int i = 0; i < 7; i++)
        assert_in_range(counts[i], 10000 - 560, 10000 + 560);
    assert_int_equal(simrng_below(&r, 1), 0);
}

static void test_exponential_and_lognormal_moments(void **state)
{
    simrng r;
    simrng_seed(&r, 4);
    double esum = 0, lsum = 0;
    int chances = 0;
    for (int i = 0; i < DRAWS; i++) {
        double e = simrng_exponential(&r, 2.0);
        assert_true(e >= 0 && isfinite(e));
        esum += e;
        double l = simrng_lognormal(&r, 0.0, 0.5);
        assert_true(l > 0);
        lsum += l;
        chances += simrng_chance(&r, 0.25);
    }
    /* Exponential(mean 2): sd of the mean 0.0045.  Lognormal(0, 0.5): mean
     * exp(0.125) = 1.1331, sd of the mean 0.0013.  Chance: sd 194. */
    assert_true(fabs(esum / DRAWS - 2.0) < 0.03);
    assert_true(fabs(lsum / DRAWS - exp(0.125)) < 0.01);
    assert_in_range(chances, 50000 - 1200, 50000 + 1200);
}

static void test_seeds_and_parts_give_distinct_streams(void **state)
{
    simrng a, b, c, p0, p1;
    simrng_seed(&a, 1);
    simrng_seed(&b, 1);
    simrng_seed(&c, 2);
    simrng_seed_part(&p0, 1, 0);
    simrng_seed_part(&p1, 1, 1);
    for (int i = 0; i < 1000; i++) {
        uint64_t x = simrng_next(&a);
        assert_true(x == simrng_next(&b));
        assert_true(x != simrng_next(&c));
        assert_true(simrng_next(&p0) != simrng_next(&p1));
    }
    /* A zero seed is a valid stream too (xoshiro forbids the all-zero state). */
    simrng z;
    simrng_seed(&z, 0);
    assert_true(z.s[0] | z.s[1] | z.s[2] | z.s[3]);
    assert_true(simrng_next(&z) != simrng_next(&z));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_splitmix64_reference_values),
        cmocka_unit_test(test_uniform_normal_range),
        cmocka_unit_test(test_below_is_uniform),
        cmocka_unit_test(test_exponential_and_lognormal_moments),
        cmocka_unit_test(test_seeds_and_parts_give_distinct_streams),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
