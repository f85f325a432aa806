/*
 * simrng.c — splitmix64 and xoshiro256** (Vigna's public-domain reference
 * algorithms) and the distributions of simrng.h.
 */
#include "simulators/simrng.h"

#include <math.h>

uint64_t simrng_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void simrng_seed(simrng *r, uint64_t seed)
{
    /* splitmix64 never yields four zero words, the one state xoshiro forbids. */
    for (int i = 0; i < 4; i++)
        r->s[i] = simrng_splitmix64(&seed);
}

void simrng_seed_part(simrng *r, uint64_t seed, uint64_t part)
{
    uint64_t st = seed + (part + 1) * 0x9e3779b97f4a7c15ULL;
    simrng_seed(r, simrng_splitmix64(&st));
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t simrng_next(simrng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double simrng_uniform(simrng *r)
{
    /* The top 53 bits fill a double's mantissa exactly. */
    return (double)(simrng_next(r) >> 11) * 0x1.0p-53;
}

double simrng_range(simrng *r, double lo, double hi)
{
    return lo + (hi - lo) * simrng_uniform(r);
}

uint64_t simrng_below(simrng *r, uint64_t n)
{
    /* Rejection keeps every value equally likely whatever n is. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do
        x = simrng_next(r);
    while (x >= limit);
    return x % n;
}

double simrng_normal(simrng *r)
{
    /* Box-Muller, one value per call: simpler than caching the pair and the
     * cost is irrelevant at a few draws per update. */
    double u1 = 1.0 - simrng_uniform(r); /* (0, 1]: log stays finite */
    double u2 = simrng_uniform(r);
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

double simrng_exponential(simrng *r, double mean)
{
    return -mean * log(1.0 - simrng_uniform(r));
}

double simrng_lognormal(simrng *r, double mu, double sigma)
{
    return exp(mu + sigma * simrng_normal(r));
}

uint64_t simrng_poisson(simrng *r, double mean)
{
    if (!(mean > 0))
        return 0;
    if (mean >= 30) {
        double x = floor(mean + sqrt(mean) * simrng_normal(r) + 0.5);
        return x > 0 ? (uint64_t)x : 0;
    }
    double limit = exp(-mean), prod = simrng_uniform(r);
    uint64_t k = 0;
    while (prod > limit) {
        prod *= simrng_uniform(r);
        k++;
    }
    return k;
}

int simrng_chance(simrng *r, double p)
{
    return simrng_uniform(r) < p;
}
