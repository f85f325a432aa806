/*
 * procstats.h — the standard process_* metrics every Prometheus client
 * library exports (process_cpu_seconds_total, process_resident_memory_bytes,
 * process_virtual_memory_bytes, process_open_fds, process_max_fds,
 * process_start_time_seconds), read from /proc/self.
 */
#ifndef EMBER_COMMON_PROCSTATS_H
#define EMBER_COMMON_PROCSTATS_H

#include "common/expfmt.h"

/* Append the process_* families for this process to ms. */
void procstats_collect(metric_set *ms);

#endif
