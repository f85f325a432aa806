/*
 * procstats.c — process_* metrics from /proc/self, with the names, types and
 * HELP texts of the Go client library, so dashboards built for Prometheus's
 * own process metrics work on Ember's binaries.
 */
#include "common/procstats.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

typedef struct proc_stat_fields {
    double utime_ticks, stime_ticks, start_ticks, vsize, rss_pages;
} proc_stat_fields;

static int read_self_stat(proc_stat_fields *f)
{
    FILE *fp = fopen("/proc/self/stat", "r");
    if (!fp)
        return -1;
    char line[1024];
    size_t n = fread(line, 1, sizeof line - 1, fp);
    fclose(fp);
    line[n] = '\0';
    /* The command name may contain spaces and parentheses: skip past the
     * last ')' before splitting fields (field 3 onwards). */
    char *p = strrchr(line, ')');
    if (!p)
        return -1;
    unsigned long utime, stime, vsize;
    unsigned long long start;
    long rss;
    int got = sscanf(p + 2,
                     "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %*d %*d %*d %*d %*d "
                     "%*d %llu %lu %ld",
                     &utime, &stime, &start, &vsize, &rss);
    if (got != 5)
        return -1;
    f->utime_ticks = (double)utime;
    f->stime_ticks = (double)stime;
    f->start_ticks = (double)start;
    f->vsize = (double)vsize;
    f->rss_pages = (double)rss;
    return 0;
}

static double boot_time_seconds(void)
{
    FILE *fp = fopen("/proc/stat", "r");
    if (!fp)
        return 0;
    char line[256];
    double btime = 0;
    while (fgets(line, sizeof line, fp))
        if (sscanf(line, "btime %lf", &btime) == 1)
            break;
    fclose(fp);
    return btime;
}

static double count_open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return 0;
    double n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the directory stream's own descriptor */
}

void procstats_collect(metric_set *ms)
{
    proc_stat_fields f;
    if (read_self_stat(&f) != 0)
        return;
    double hz = (double)sysconf(_SC_CLK_TCK);
    double page = (double)sysconf(_SC_PAGESIZE);
    struct rlimit rl;
    double max_fds = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? (double)rl.rlim_cur : 0;

    metric_set_meta(ms, "process_cpu_seconds_total", METRIC_COUNTER,
                    "Total user and system CPU time spent in seconds.");
    metric_set_addl(ms, "process_cpu_seconds_total", (f.utime_ticks + f.stime_ticks) / hz, NULL);
    metric_set_meta(ms, "process_resident_memory_bytes", METRIC_GAUGE,
                    "Resident memory size in bytes.");
    metric_set_addl(ms, "process_resident_memory_bytes", f.rss_pages * page, NULL);
    metric_set_meta(ms, "process_virtual_memory_bytes", METRIC_GAUGE,
                    "Virtual memory size in bytes.");
    metric_set_addl(ms, "process_virtual_memory_bytes", f.vsize, NULL);
    metric_set_meta(ms, "process_open_fds", METRIC_GAUGE, "Number of open file descriptors.");
    metric_set_addl(ms, "process_open_fds", count_open_fds(), NULL);
    metric_set_meta(ms, "process_max_fds", METRIC_GAUGE,
                    "Maximum number of open file descriptors.");
    metric_set_addl(ms, "process_max_fds", max_fds, NULL);
    metric_set_meta(ms, "process_start_time_seconds", METRIC_GAUGE,
                    "Start time of the process since unix epoch in seconds.");
    metric_set_addl(ms, "process_start_time_seconds", boot_time_seconds() + f.start_ticks / hz,
                    NULL);
}
