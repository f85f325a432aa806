/*
 * backoff.h — how long the sender waits before the next attempt after a
 * failed one: exponential backoff with full jitter.
 *
 * After the n-th consecutive failure (n = 1, 2, ...) the ceiling is
 * min * 2^n, capped at max, and the wait is drawn uniformly from
 * [min, ceiling].  The jitter spreads agents that lost the same aggregator
 * so that they do not come back in lock-step; the floor keeps a flapping
 * link from being hammered.  A success resets the count.  The generator is
 * seeded by the caller (the agent seeds from its id and the clock; tests
 * seed a constant), so a schedule can be replayed exactly.
 */
#ifndef EMBER_AGENT_BACKOFF_H
#define EMBER_AGENT_BACKOFF_H

#include <stdint.h>

typedef struct backoff {
    int64_t min_ms, max_ms;
    unsigned failures; /* consecutive, since the last success */
    uint64_t rng;      /* xorshift64* state, never 0 */
} backoff;

/* min_ms >= 1 and max_ms >= min_ms are enforced (raised when smaller). */
void backoff_init(backoff *b, int64_t min_ms, int64_t max_ms, uint64_t seed);
/* One more failure: the wait before the next attempt, in ms. */
int64_t backoff_next(backoff *b);
/* The ceiling of the wait after the given number of consecutive failures. */
int64_t backoff_ceiling(const backoff *b, unsigned failures);
void backoff_reset(backoff *b);

#endif
