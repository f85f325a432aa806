/*
 * ryu.h — shortest round-trip decimal digits of a double (Ryū, ryu.c).
 */
#ifndef EMBER_COMMON_RYU_H
#define EMBER_COMMON_RYU_H

#include <stdint.h>

/*
 * For finite v > 0: the decimal digits d and exponent e with the fewest
 * digits such that d × 10^e reads back as v, and of those the closest to v
 * (exact ties to even), as Go's strconv picks them.  d may end in zeros;
 * callers trim them.
 */
void ryu_shortest(double v, uint64_t *digits, int32_t *exp10);

#endif
