/*
 * stat.c — node_exporter 1.5's "stat" collector: boot time, context
 * switches, forks, interrupts and runnable/blocked processes from /proc/stat
 * (the per-CPU lines are the cpu collector's, host.c).
 */
#include "agent/collect/collect.h"
#include "agent/collect/procfile.h"

#include "common/err.h"

#include <string.h>

static const struct {
    const char *key, *name, *help;
    metric_type type;
} stat_keys[] = {
    {"intr", "node_intr_total", "Total number of interrupts serviced.", METRIC_COUNTER},
    {"ctxt", "node_context_switches_total", "Total number of context switches.", METRIC_COUNTER},
    {"btime", "node_boot_time_seconds", "Node boot time, in unixtime.", METRIC_GAUGE},
    {"processes", "node_forks_total", "Total number of forks.", METRIC_COUNTER},
    {"procs_running", "node_procs_running", "Number of processes in runnable state.", METRIC_GAUGE},
    {"procs_blocked", "node_procs_blocked",
     "Number of processes blocked waiting for I/O to complete.", METRIC_GAUGE},
};
#define NKEYS (sizeof stat_keys / sizeof stat_keys[0])

static int stat_line(char *line, size_t lineno, void *ctx, char *err, size_t errlen)
{
    metric_set *ms = ctx;
    /* "intr" is followed by one count per IRQ; only the first (the total) matters. */
    char *f[2];
    size_t n = host_split_fields(line, f, 2);
    if (n == 0)
        return 0;
    for (size_t i = 0; i < NKEYS; i++) {
        if (strcmp(f[0], stat_keys[i].key) != 0)
            continue;
        double v;
        if (n < 2 || host_parse_number(f[1], &v) != 0) {
            err_set(err, errlen, "proc/stat line %zu: bad value for %s", lineno, f[0]);
            return -1;
        }
        metric_set_meta(ms, stat_keys[i].name, stat_keys[i].type, stat_keys[i].help);
        metric_set_addl(ms, stat_keys[i].name, v, NULL);
        return 0;
    }
    return 0;
}

int collect_stat(metric_set *out, const char *root, const host_filters *f, char *err, size_t errlen)
{
    (void)f;
    metric_set ms;
    metric_set_init(&ms);
    return host_collect_lines(out, &ms, root, "proc/stat", stat_line, &ms, false, err, errlen);
}
