/*
 * ryu.c — the shortest decimal digits of a double that read back as it,
 * by Ulf Adams's Ryū algorithm ("Ryū: fast float-to-string conversion",
 * PLDI 2018), the algorithm Go's strconv uses for the same job.
 *
 * Ryū multiplies the binary mantissa (and its rounding interval's bounds)
 * by a 125-bit approximation of 5^±q and drops decimal digits while the
 * interval still holds a shorter number.  The tables of those powers are
 * computed once, on first use, with a small bignum (exact: 5^q in full,
 * then a long division for the inverses) instead of being pasted in as
 * 700 magic constants.  fmtfloat.c lays the digits out as Go does.
 */
#include "common/ryu.h"

#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#define MANTISSA_BITS 52
#define EXPONENT_BITS 11
#define BIAS 1023
#define POW5_INV_BITCOUNT 125
#define POW5_BITCOUNT 125
#define POW5_INV_TABLE 342 /* q for e2 >= 0 */
#define POW5_TABLE 326     /* i for e2 < 0 */

typedef unsigned __int128 u128;

static uint64_t pow5_inv_split[POW5_INV_TABLE][2];
static uint64_t pow5_split[POW5_TABLE][2];
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

/* ---- table generation with a little bignum (base 2^32, little end) ---- */

#define BIG_WORDS 36 /* 1152 bits: 5^341 has 793, 2^918 needs 919 */

typedef struct big {
    uint32_t w[BIG_WORDS];
} big;

static void big_mul_small(big *b, uint32_t m)
{
    uint64_t carry = 0;
    for (int i = 0; i < BIG_WORDS; i++) {
        uint64_t x = (uint64_t)b->w[i] * m + carry;
        b->w[i] = (uint32_t)x;
        carry = x >> 32;
    }
}

static int big_bits(const big *b)
{
    for (int i = BIG_WORDS - 1; i >= 0; i--)
        if (b->w[i])
            return i * 32 + 32 - __builtin_clz(b->w[i]);
    return 0;
}

static bool big_bit(const big *b, int n)
{
    return n >= 0 && n < BIG_WORDS * 32 && (b->w[n / 32] >> (n % 32)) & 1;
}

/* 128 bits of b starting at bit `from` (negative: shifted left). */
static void big_window(const big *b, int from, uint64_t out[2])
{
    u128 v = 0;
    for (int k = 127; k >= 0; k--)
        v = (v << 1) | (u128)big_bit(b, from + k);
    out[0] = (uint64_t)v;
    out[1] = (uint64_t)(v >> 64);
}

static int big_cmp(const big *a, const big *b)
{
    for (int i = BIG_WORDS - 1; i >= 0; i--)
        if (a->w[i] != b->w[i])
            return a->w[i] < b->w[i] ? -1 : 1;
    return 0;
}

static void big_sub(big *a, const big *b)
{
    int64_t borrow = 0;
    for (int i = 0; i < BIG_WORDS; i++) {
        int64_t x = (int64_t)a->w[i] - b->w[i] - borrow;
        borrow = x < 0;
        a->w[i] = (uint32_t)(x + (borrow ? ((int64_t)1 << 32) : 0));
    }
}

static void big_shl1_or(big *b, unsigned bit)
{
    uint32_t carry = bit;
    for (int i = 0; i < BIG_WORDS; i++) {
        uint32_t next = b->w[i] >> 31;
        b->w[i] = (b->w[i] << 1) | carry;
        carry = next;
    }
}

/* floor(2^j / d) + 1, which fits 128 bits for the table's j. */
static void inverse_entry(const big *d, int j, uint64_t out[2])
{
    big r;
    memset(&r, 0, sizeof r);
    u128 q = 0;
    for (int bit = j; bit >= 0; bit--) {
        big_shl1_or(&r, bit == j);
        q <<= 1;
        if (big_cmp(&r, d) >= 0) {
            big_sub(&r, d);
            q |= 1;
        }
    }
    q += 1;
    out[0] = (uint64_t)q;
    out[1] = (uint64_t)(q >> 64);
}

static void build_tables(void)
{
    big p;
    memset(&p, 0, sizeof p);
    p.w[0] = 1;
    for (int i = 0; i < POW5_INV_TABLE; i++) {
        int len = big_bits(&p);
        if (i < POW5_TABLE)
            big_window(&p, len - POW5_BITCOUNT, pow5_split[i]);
        inverse_entry(&p, len - 1 + POW5_INV_BITCOUNT, pow5_inv_split[i]);
        big_mul_small(&p, 5);
    }
}

/* ---- Ryū ---- */

static inline uint32_t pow5bits(int32_t e)
{
    return (uint32_t)(((e * 1217359) >> 19) + 1);
}

static inline uint32_t log10_pow2(int32_t e)
{
    return (uint32_t)((e * 78913) >> 18);
}

static inline uint32_t log10_pow5(int32_t e)
{
    return (uint32_t)((e * 732923) >> 20);
}

static inline uint32_t pow5_factor(uint64_t v)
{
    uint32_t n = 0;
    while (v && v % 5 == 0) {
        v /= 5;
        n++;
    }
    return n;
}

static inline bool multiple_of_pow5(uint64_t v, uint32_t p)
{
    return pow5_factor(v) >= p;
}

static inline bool multiple_of_pow2(uint64_t v, uint32_t p)
{
    return p >= 64 ? v == 0 : (v & ((1ull << p) - 1)) == 0;
}

static inline uint64_t mul_shift(uint64_t m, const uint64_t *mul, int32_t j)
{
    u128 b0 = (u128)m * mul[0];
    u128 b2 = (u128)m * mul[1];
    return (uint64_t)(((b0 >> 64) + b2) >> (j - 64));
}

static inline uint64_t mul_shift_all(uint64_t m, const uint64_t *mul, int32_t j, uint64_t *vp,
                                     uint64_t *vm, uint32_t mm_shift)
{
    *vp = mul_shift(4 * m + 2, mul, j);
    *vm = mul_shift(4 * m - 1 - mm_shift, mul, j);
    return mul_shift(4 * m, mul, j);
}

/* The decimal interval [vm, vp] around vr, and what dropping digits from
 * it has seen so far. */
typedef struct interval {
    uint64_t vr, vp, vm;
    bool vm_tz, vr_tz; /* everything dropped from vm / vr was zero */
    uint8_t last;      /* the last digit dropped from vr */
    int32_t removed;
} interval;

static void drop_digit(interval *x)
{
    x->vm_tz &= x->vm % 10 == 0;
    x->vr_tz &= x->last == 0;
    x->last = (uint8_t)(x->vr % 10);
    x->vr /= 10;
    x->vp /= 10;
    x->vm /= 10;
    x->removed++;
}

/* Step 4 of the paper: drop digits while vp and vm still differ; then,
 * when vm's dropped digits were all zero (vm itself is exact and
 * allowed), keep dropping its zeros.  The bookkeeping decides the last
 * digit's rounding: half-way exactly rounds to even. */
static uint64_t shortest(interval *x, bool accept_bounds)
{
    while (x->vp / 10 > x->vm / 10)
        drop_digit(x);
    if (x->vm_tz)
        while (x->vm % 10 == 0)
            drop_digit(x);
    if (x->vr_tz && x->last == 5 && x->vr % 2 == 0)
        x->last = 4;
    return x->vr + ((x->vr == x->vm && (!accept_bounds || !x->vm_tz)) || x->last >= 5);
}

void ryu_shortest(double v, uint64_t *digits, int32_t *exp10)
{
    pthread_once(&tables_once, build_tables);
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    uint64_t mantissa = bits & ((1ull << MANTISSA_BITS) - 1);
    uint32_t exponent = (uint32_t)((bits >> MANTISSA_BITS) & ((1u << EXPONENT_BITS) - 1));
    int32_t e2;
    uint64_t m2;
    if (exponent == 0) {
        e2 = 1 - BIAS - MANTISSA_BITS - 2;
        m2 = mantissa;
    } else {
        e2 = (int32_t)exponent - BIAS - MANTISSA_BITS - 2;
        m2 = (1ull << MANTISSA_BITS) | mantissa;
    }
    bool accept_bounds = (m2 & 1) == 0;
    uint64_t mv = 4 * m2;
    uint32_t mm_shift = mantissa != 0 || exponent <= 1;
    uint64_t vr, vp, vm;
    int32_t e10;
    bool vm_tz = false, vr_tz = false;
    if (e2 >= 0) {
        uint32_t q = log10_pow2(e2) - (e2 > 3);
        e10 = (int32_t)q;
        int32_t k = POW5_INV_BITCOUNT + (int32_t)pow5bits((int32_t)q) - 1;
        int32_t i = -e2 + (int32_t)q + k;
        vr = mul_shift_all(m2, pow5_inv_split[q], i, &vp, &vm, mm_shift);
        if (q <= 21) {
            if (mv % 5 == 0)
                vr_tz = multiple_of_pow5(mv, q);
            else if (accept_bounds)
                vm_tz = multiple_of_pow5(mv - 1 - mm_shift, q);
            else
                vp -= multiple_of_pow5(mv + 2, q);
        }
    } else {
        uint32_t q = log10_pow5(-e2) - (-e2 > 1);
        e10 = (int32_t)q + e2;
        int32_t i = -e2 - (int32_t)q;
        int32_t k = (int32_t)pow5bits(i) - POW5_BITCOUNT;
        int32_t j = (int32_t)q - k;
        vr = mul_shift_all(m2, pow5_split[i], j, &vp, &vm, mm_shift);
        if (q <= 1) {
            vr_tz = true;
            if (accept_bounds)
                vm_tz = mm_shift == 1;
            else
                --vp;
        } else if (q < 63) {
            vr_tz = multiple_of_pow2(mv, q);
        }
    }
    interval x = {.vr = vr, .vp = vp, .vm = vm, .vm_tz = vm_tz, .vr_tz = vr_tz};
    *digits = shortest(&x, accept_bounds);
    *exp10 = e10 + x.removed;
}
