/*
 * stale.h — Prometheus's staleness marker: the NaN with bit pattern
 * 0x7ff0000000000002 (value.StaleNaN).  A series whose source disappeared
 * gets one sample with this value, so queries stop returning it at once
 * instead of after the 5-minute lookback.  It must stay distinguishable from
 * an ordinary NaN, so compare bits, never values.
 */
#ifndef EMBER_COMMON_STALE_H
#define EMBER_COMMON_STALE_H

#include <stdbool.h>

#define STALE_NAN_BITS 0x7ff0000000000002ULL

double stale_nan(void);
bool is_stale_nan(double v);

#endif
