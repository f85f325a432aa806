/*
 * simrng.h — the one pseudo-random number generator of the simulators:
 * splitmix64 to expand seeds, xoshiro256** for the streams, and the few
 * distributions the models draw from.
 *
 * Every model owns its streams and seeds them from its --seed, so a given
 * seed and a given sequence of updates always give the same readings, on
 * any machine with the same libm.  Not for cryptography.
 */
#ifndef EMBER_SIMULATORS_SIMRNG_H
#define EMBER_SIMULATORS_SIMRNG_H

#include <stdint.h>

typedef struct simrng {
    uint64_t s[4];
} simrng;

/* One splitmix64 output; advances *state.  Used to expand seeds. */
uint64_t simrng_splitmix64(uint64_t *state);
/* Seed a stream; any seed (0 included) gives a valid state. */
void simrng_seed(simrng *r, uint64_t seed);
/* A stream for one part of a model: (seed, part) mixed, so parts with
 * different numbers get unrelated streams from the same --seed. */
void simrng_seed_part(simrng *r, uint64_t seed, uint64_t part);
uint64_t simrng_next(simrng *r);
double simrng_uniform(simrng *r);                     /* [0, 1) */
double simrng_range(simrng *r, double lo, double hi); /* [lo, hi) */
uint64_t simrng_below(simrng *r, uint64_t n);         /* [0, n), n > 0 */
double simrng_normal(simrng *r);                      /* N(0, 1) */
double simrng_exponential(simrng *r, double mean);    /* mean > 0 */
/* exp(N(mu, sigma)): positive, right-skewed (latencies, sizes). */
double simrng_lognormal(simrng *r, double mu, double sigma);
/* Events in an interval with this mean count (Knuth below 30, a rounded
 * normal approximation above, where the two are indistinguishable here). */
uint64_t simrng_poisson(simrng *r, double mean);
/* true with probability p. */
int simrng_chance(simrng *r, double p);

#endif
