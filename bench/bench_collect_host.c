/*
 * bench_collect_host.c — CPU cost of one agent collection round of the host
 * collectors (cpu, meminfo, loadavg, stat, vmstat, diskstats, filesystem,
 * netdev, pressure, time, uname, hwmon — node_exporter's names) including
 * what the agent does with it every interval: encode a wire Batch (symbol
 * table + zstd).
 *
 *   bench_collect_host [rounds]     (default 2000)
 *
 * Prints "ember_round_ms <ms of CPU per round> series <n> batch_bytes <n>";
 * bench/host_vs_node_exporter.sh puts it beside node_exporter's cost per
 * scrape with the same collectors.  A collector that fails on this machine
 * (no PSI, say) is skipped from the first round on, as node_exporter's.
 */
#include "agent/collect/collect.h"
#include "proto/wire.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    bool skip[64] = {false};
    int rounds = argc > 1 ? atoi(argv[1]) : 2000;
    if (rounds <= 0)
        rounds = 2000;
    char err[256];
    size_t series = 0, bytes = 0;
    double start = cpu_seconds();
    for (int i = 0; i < rounds; i++) {
        metric_set ms;
        metric_set_init(&ms);
        for (size_t c = 0; c < host_collectors_n && c < 64; c++) {
            if (!skip[c] && host_collectors[c].fn(&ms, "/", NULL, err, sizeof err) != 0) {
                fprintf(stderr, "collector %s skipped: %s\n", host_collectors[c].name, err);
                skip[c] = true;
            }
        }
        ebuf m;
        ebuf_init(&m);
        wire_encode_batch(&m, "bench", (uint64_t)i + 1, &ms, 0);
        series = ms.n;
        bytes = m.len;
        ebuf_free(&m);
        metric_set_free(&ms);
    }
    double per_round_ms = (cpu_seconds() - start) * 1000.0 / rounds;
    printf("ember_round_ms %.4f series %zu batch_bytes %zu rounds %d\n", per_round_ms, series,
           bytes, rounds);
    return 0;
}
