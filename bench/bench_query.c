/*
 * bench_query.c — writes the PromQL dataset (tests/integration/promql_dataset.h)
 * at benchmark size for bench/query_vs_prometheus.sh: OpenMetrics text for
 * `promtool tsdb create-blocks-from openmetrics` and exposition lines with
 * millisecond timestamps for the aggregator's /api/v1/import/prometheus,
 * the same samples in both.  The timing itself is the script's (curl).
 *
 * Usage: bench_query [--hosts N] [--instances N] [--hours H]
 *                    [--end UNIX_SECONDS] --openmetrics FILE --import FILE
 * Prints "start=S end=E series=N samples=M" (seconds) on stdout.
 */
#include "tests/integration/promql_dataset.h"

#include "common/etime.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int write_file(const char *path, const promql_dataset *d,
                      int (*writer)(const promql_dataset *, FILE *))
{
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        return -1;
    }
    int rc = writer(d, f);
    if (fclose(f) != 0 || rc != 0) {
        fprintf(stderr, "%s: write failed\n", path);
        return -1;
    }
    return 0;
}

static void usage(void)
{
    fputs("usage: bench_query [--hosts N] [--instances N] [--hours H] [--end UNIX_SECONDS]\n"
          "                   --openmetrics FILE --import FILE\n",
          stderr);
    exit(2);
}

int main(int argc, char **argv)
{
    /* An hour ago, on a minute: old enough for promtool's blocks to be
     * read-only history for Prometheus, recent enough for its retention. */
    int64_t now = now_ms();
    promql_dataset_config c = {
        .end_ms = now - now % 60000 - 3600000, .minutes = 24 * 60, .hosts = 16, .instances = 4};
    const char *om = NULL, *imp = NULL;
    for (int i = 1; i < argc; i += 2) { /* --flag VALUE pairs */
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (!next)
            usage();
        if (!strcmp(argv[i], "--hosts"))
            c.hosts = atoi(next);
        else if (!strcmp(argv[i], "--instances"))
            c.instances = atoi(next);
        else if (!strcmp(argv[i], "--hours"))
            c.minutes = atoi(next) * 60;
        else if (!strcmp(argv[i], "--end"))
            c.end_ms = strtoll(next, NULL, 10) * 1000;
        else if (!strcmp(argv[i], "--openmetrics"))
            om = next;
        else if (!strcmp(argv[i], "--import"))
            imp = next;
        else
            usage();
    }
    if (!om || !imp || c.hosts < 1 || c.instances < 1 || c.minutes < 1)
        usage();
    promql_dataset d;
    promql_dataset_build(&d, &c);
    int rc = write_file(om, &d, promql_dataset_write_openmetrics) ||
             write_file(imp, &d, promql_dataset_write_import);
    printf("start=%" PRId64 " end=%" PRId64 " series=%zu samples=%zu\n", d.start_ms / 1000,
           promql_dataset_end_ms(&d) / 1000, d.n, promql_dataset_samples(&d));
    promql_dataset_free(&d);
    return rc ? 1 : 0;
}
