/*
 * pressure.c — node_exporter 1.5's "pressure" collector: total stall time
 * from /proc/pressure/{cpu,io,memory} (PSI, Linux 4.20+), in seconds.
 * "some" is the waiting time, "full" the stalled time; like node_exporter
 * 1.5 the "full" line of cpu (Linux 5.13+) is not exported.
 */
#include "agent/collect/collect.h"
#include "agent/collect/procfile.h"

#include "common/err.h"

#include <stdio.h>
#include <string.h>

static const struct {
    const char *resource, *line, *name, *help;
} psi[] = {
    {"cpu", "some", "node_pressure_cpu_waiting_seconds_total",
     "Total time in seconds that processes have waited for CPU time"},
    {"io", "some", "node_pressure_io_waiting_seconds_total",
     "Total time in seconds that processes have waited due to IO congestion"},
    {"io", "full", "node_pressure_io_stalled_seconds_total",
     "Total time in seconds no process could make progress due to IO congestion"},
    {"memory", "some", "node_pressure_memory_waiting_seconds_total",
     "Total time in seconds that processes have waited for memory"},
    {"memory", "full", "node_pressure_memory_stalled_seconds_total",
     "Total time in seconds no process could make progress due to memory congestion"},
};
#define NPSI (sizeof psi / sizeof psi[0])

/* total= of the "some" or "full" line of a pressure file, in microseconds. */
static int psi_total(char *text, const char *which, double *us)
{
    size_t wl = strlen(which);
    for (char *line = text; line && *line;
         line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        if (strncmp(line, which, wl) != 0 || line[wl] != ' ')
            continue;
        const char *t = strstr(line, "total=");
        char num[32];
        size_t n = t ? strcspn(t + 6, " \n") : 0;
        if (n == 0 || n >= sizeof num)
            return -1;
        memcpy(num, t + 6, n);
        num[n] = '\0';
        return host_parse_number(num, us);
    }
    return -1;
}

int collect_pressure(metric_set *out, const char *root, const host_filters *f, char *err,
                     size_t errlen)
{
    (void)f;
    metric_set ms;
    metric_set_init(&ms);
    ebuf text;
    ebuf_init(&text);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < NPSI; i++) {
        char rel[64];
        snprintf(rel, sizeof rel, "proc/pressure/%s", psi[i].resource);
        ebuf_reset(&text);
        rc = host_read_file(&text, root, rel, err, errlen);
        double us;
        if (rc == 0 && psi_total(text.data, psi[i].line, &us) != 0) {
            err_set(err, errlen, "%s: no \"%s ... total=N\" line", rel, psi[i].line);
            rc = -1;
        }
        if (rc == 0) {
            metric_set_meta(&ms, psi[i].name, METRIC_COUNTER, psi[i].help);
            metric_set_addl(&ms, psi[i].name, us / 1e6, NULL);
        }
    }
    if (rc == 0)
        metric_set_move(out, &ms);
    metric_set_free(&ms);
    ebuf_free(&text);
    return rc;
}
