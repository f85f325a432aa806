/*
 * ryu.h — shortest round-trip decimal digits of a double (Ryū).
 */
#ifndef EMBER_COMMON_RYU_H
#define EMBER_COMMON_RYU_H

#include <stdint.h>

/*
 * For finite v > 0: the fewest decimal digits d (an integer without
 * trailing zeros... or with, see below) and exponent e such that
 * d × 10^e reads back as v, the closest such to v (ties to even).  d may
 * end in zeros; callers trim them.
 */
void ryu_shortest(double v, uint64_t *digits, int32_t *exp10);

#endif
