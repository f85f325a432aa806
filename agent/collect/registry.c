/*
 * registry.c — every host collector by its node_exporter name, in one
 * table, so the agent and the benchmark run the same list.  The three of
 * host.c predate the filters argument and get thin adapters here.
 */
#include "agent/collect/collect.h"

static int run_cpu(metric_set *o, const char *r, const host_filters *f, char *e, size_t n)
{
    (void)f;
    return collect_cpu(o, r, e, n);
}

static int run_meminfo(metric_set *o, const char *r, const host_filters *f, char *e, size_t n)
{
    (void)f;
    return collect_meminfo(o, r, e, n);
}

static int run_loadavg(metric_set *o, const char *r, const host_filters *f, char *e, size_t n)
{
    (void)f;
    return collect_loadavg(o, r, e, n);
}

const host_collector_def host_collectors[] = {
    {"cpu", run_cpu},
    {"meminfo", run_meminfo},
    {"loadavg", run_loadavg},
    {"stat", collect_stat},
    {"vmstat", collect_vmstat},
    {"diskstats", collect_diskstats},
    {"filesystem", collect_filesystem},
    {"netdev", collect_netdev},
    {"pressure", collect_pressure},
    {"time", collect_time},
    {"uname", collect_uname},
    {"hwmon", collect_hwmon},
};
const size_t host_collectors_n = sizeof host_collectors / sizeof host_collectors[0];
