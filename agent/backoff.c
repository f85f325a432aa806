/*
 * backoff.c — exponential backoff with full jitter (see backoff.h).
 * The random source is xorshift64* (Marsaglia, Vigna): tiny, fast and
 * good enough to spread retries; not for anything secret.
 */
#include "agent/backoff.h"

static uint64_t next_random(backoff *b)
{
    uint64_t x = b->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    b->rng = x;
    return x * 0x2545f4914f6cdd1dULL;
}

void backoff_init(backoff *b, int64_t min_ms, int64_t max_ms, uint64_t seed)
{
    b->min_ms = min_ms < 1 ? 1 : min_ms;
    b->max_ms = max_ms < b->min_ms ? b->min_ms : max_ms;
    b->failures = 0;
    b->rng = seed ? seed : 0x9e3779b97f4a7c15ULL; /* xorshift stays at 0 forever */
}

int64_t backoff_ceiling(const backoff *b, unsigned failures)
{
    int64_t c = b->min_ms;
    /* Double until the cap; never past half the cap, so c cannot overflow. */
    for (unsigned i = 0; i < failures && c < b->max_ms; i++)
        c = c <= b->max_ms / 2 ? c * 2 : b->max_ms;
    return c;
}

int64_t backoff_next(backoff *b)
{
    if (b->failures < 64)
        b->failures++;
    int64_t ceiling = backoff_ceiling(b, b->failures);
    uint64_t span = (uint64_t)(ceiling - b->min_ms) + 1;
    return b->min_ms + (int64_t)(next_random(b) % span);
}

void backoff_reset(backoff *b)
{
    b->failures = 0;
}
