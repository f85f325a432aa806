/*
 * cgroup_stats.c — one cgroup v2 directory as cAdvisor's series (cAdvisor
 * 0.47 on cgroup v2, container/libcontainer/handler.go):
 *
 *   cpu.stat        usage/user/system_usec, nr_periods, nr_throttled,
 *                   throttled_usec → container_cpu_*
 *   memory.current  → container_memory_usage_bytes, and minus memory.stat's
 *                   inactive_file (not below 0) → ..._working_set_bytes
 *   memory.stat     anon → container_memory_rss, file → container_memory_cache
 *   memory.swap.current → container_memory_swap
 *   memory.max      → container_spec_memory_limit_bytes ("max" is 2^64 - 1,
 *                   as cAdvisor reports it)
 *   cpu.max         → container_spec_cpu_quota (only when not "max") and
 *                   container_spec_cpu_period
 *   io.stat         rbytes/wbytes per device → container_fs_{reads,writes}_bytes_total
 *   memory.events   oom_kill → container_oom_events_total
 *   pids.current    (else the lines of cgroup.procs) → container_processes
 *   {cpu,memory,io}.pressure → container_pressure_*_{waiting,stalled}_seconds_total
 *   /proc/<pid>/net/dev of a process of the cgroup, when it has a network
 *                   namespace of its own → container_network_*_total{interface}
 *
 * A file that is absent (controller not enabled) gives no series; one that
 * cannot be read or parsed gives none either and is counted as an error.
 */
#include "agent/collect/cgroup_internal.h"
#include "agent/collect/procfile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void add(cg_round *r, const labelset *base, const char *name, metric_type type,
                const char *help, double v, const char *lname, const char *lvalue)
{
    labelset ls;
    labels_copy(&ls, base);
    labels_set(&ls, LABEL_METRIC_NAME, name);
    if (lname)
        labels_set(&ls, lname, lvalue);
    metric_set_meta(r->ms, name, type, help);
    metric_set_add(r->ms, &ls, v, false, 0);
}

/* The value of "key value" in a flat-keyed file (cpu.stat, memory.stat). */
static bool kv_get(const char *text, const char *key, double *v)
{
    size_t kl = strlen(key);
    for (const char *line = text; line && *line;) {
        if (strncmp(line, key, kl) == 0 && line[kl] == ' ') {
            char num[32];
            size_t n = strcspn(line + kl + 1, "\n");
            if (n == 0 || n >= sizeof num)
                return false;
            memcpy(num, line + kl + 1, n);
            num[n] = '\0';
            return host_parse_number(num, v) == 0;
        }
        line = strchr(line, '\n');
        if (line)
            line++;
    }
    return false;
}

/* A one-number file; "max" gives max_value.  1 ok, 0 absent, -1 bad. */
static int read_number(cg_round *r, const char *id, const char *file, double max_value, double *v)
{
    ebuf t;
    ebuf_init(&t);
    int rc = cg_read(r, id, file, &t);
    if (rc == 1) {
        t.data[strcspn(t.data, "\n")] = '\0';
        if (strcmp(t.data, "max") == 0)
            *v = max_value;
        else if (host_parse_number(t.data, v) != 0) {
            cg_error(r, "%s/%s: not a number", id, file);
            rc = -1;
        }
    }
    ebuf_free(&t);
    return rc;
}

static void cpu_stats(cg_round *r, const char *id, const labelset *b)
{
    ebuf t;
    ebuf_init(&t);
    double usage, user, sys, v;
    if (cg_read(r, id, "cpu.stat", &t) == 1) {
        if (!kv_get(t.data, "usage_usec", &usage) || !kv_get(t.data, "user_usec", &user) ||
            !kv_get(t.data, "system_usec", &sys)) {
            cg_error(r, "%s/cpu.stat: no usage_usec, user_usec and system_usec", id);
        } else {
            add(r, b, "container_cpu_usage_seconds_total", METRIC_COUNTER,
                "Cumulative cpu time consumed in seconds.", usage / 1e6, "cpu", "total");
            add(r, b, "container_cpu_user_seconds_total", METRIC_COUNTER,
                "Cumulative user cpu time consumed in seconds.", user / 1e6, NULL, NULL);
            add(r, b, "container_cpu_system_seconds_total", METRIC_COUNTER,
                "Cumulative system cpu time consumed in seconds.", sys / 1e6, NULL, NULL);
        }
        /* present only where the cpu controller is enabled */
        if (kv_get(t.data, "nr_periods", &v))
            add(r, b, "container_cpu_cfs_periods_total", METRIC_COUNTER,
                "Number of elapsed enforcement period intervals.", v, NULL, NULL);
        if (kv_get(t.data, "nr_throttled", &v))
            add(r, b, "container_cpu_cfs_throttled_periods_total", METRIC_COUNTER,
                "Number of throttled period intervals.", v, NULL, NULL);
        if (kv_get(t.data, "throttled_usec", &v))
            add(r, b, "container_cpu_cfs_throttled_seconds_total", METRIC_COUNTER,
                "Total time duration the container has been throttled.", v / 1e6, NULL, NULL);
    }
    ebuf_free(&t);
}

static void cpu_spec(cg_round *r, const char *id, const labelset *b)
{
    ebuf t;
    ebuf_init(&t);
    if (cg_read(r, id, "cpu.max", &t) == 1) {
        char quota[32];
        double period, q;
        if (sscanf(t.data, "%31s %lf", quota, &period) != 2) {
            cg_error(r, "%s/cpu.max: not \"QUOTA PERIOD\"", id);
        } else {
            if (strcmp(quota, "max") != 0 && host_parse_number(quota, &q) == 0)
                add(r, b, "container_spec_cpu_quota", METRIC_GAUGE, "CPU quota of the container.",
                    q, NULL, NULL);
            add(r, b, "container_spec_cpu_period", METRIC_GAUGE, "CPU period of the container.",
                period, NULL, NULL);
        }
    }
    ebuf_free(&t);
}

static void memory_stats(cg_round *r, const char *id, const labelset *b)
{
    double usage, v;
    ebuf t;
    ebuf_init(&t);
    int have_usage = read_number(r, id, "memory.current", 0, &usage);
    if (have_usage == 1)
        add(r, b, "container_memory_usage_bytes", METRIC_GAUGE,
            "Current memory usage in bytes, including all memory regardless of when it was "
            "accessed",
            usage, NULL, NULL);
    if (cg_read(r, id, "memory.stat", &t) == 1) {
        double anon, file, inactive;
        if (!kv_get(t.data, "anon", &anon) || !kv_get(t.data, "file", &file) ||
            !kv_get(t.data, "inactive_file", &inactive)) {
            cg_error(r, "%s/memory.stat: no anon, file and inactive_file", id);
        } else {
            add(r, b, "container_memory_rss", METRIC_GAUGE, "Size of RSS in bytes.", anon, NULL,
                NULL);
            add(r, b, "container_memory_cache", METRIC_GAUGE,
                "Number of bytes of page cache memory.", file, NULL, NULL);
            if (have_usage == 1)
                add(r, b, "container_memory_working_set_bytes", METRIC_GAUGE,
                    "Current working set in bytes.", usage > inactive ? usage - inactive : 0, NULL,
                    NULL);
        }
    }
    if (read_number(r, id, "memory.swap.current", 0, &v) == 1)
        add(r, b, "container_memory_swap", METRIC_GAUGE, "Container swap usage in bytes.", v, NULL,
            NULL);
    if (read_number(r, id, "memory.max", 18446744073709551615.0, &v) == 1)
        add(r, b, "container_spec_memory_limit_bytes", METRIC_GAUGE,
            "Memory limit for the container.", v, NULL, NULL);
    ebuf_reset(&t);
    if (cg_read(r, id, "memory.events", &t) == 1) {
        if (kv_get(t.data, "oom_kill", &v))
            add(r, b, "container_oom_events_total", METRIC_COUNTER,
                "Count of out of memory events observed for the container", v, NULL, NULL);
        else
            cg_error(r, "%s/memory.events: no oom_kill", id);
    }
    ebuf_free(&t);
}

/* "/dev/sda" for "8:0" from sysfs, else the numbers themselves. */
static void device_name(const cg_round *r, const char *majmin, char *out, size_t len)
{
    char rel[96], err[8];
    snprintf(rel, sizeof rel, "sys/dev/block/%s/uevent", majmin);
    ebuf t;
    ebuf_init(&t);
    snprintf(out, len, "%s", majmin);
    if (host_read_file(&t, r->root, rel, err, sizeof err) == 0) {
        const char *d = strstr(t.data, "DEVNAME=");
        if (d)
            snprintf(out, len, "/dev/%.*s", (int)strcspn(d + 8, "\n"), d + 8);
    }
    ebuf_free(&t);
}

/* "8:0 rbytes=N wbytes=N rios=N wios=N dbytes=N dios=N" per device. */
static void io_stats(cg_round *r, const char *id, const labelset *b)
{
    ebuf t;
    ebuf_init(&t);
    if (cg_read(r, id, "io.stat", &t) == 1) {
        for (char *line = t.data, *nl; line && *line; line = nl ? nl + 1 : NULL) {
            nl = strchr(line, '\n');
            if (nl)
                *nl = '\0';
            char majmin[32], dev[96];
            unsigned long long rb, wb;
            const char *prb = strstr(line, " rbytes="), *pwb = strstr(line, " wbytes=");
            if (sscanf(line, "%31s", majmin) != 1 || !prb || !pwb ||
                sscanf(prb, " rbytes=%llu", &rb) != 1 || sscanf(pwb, " wbytes=%llu", &wb) != 1) {
                cg_error(r, "%s/io.stat: malformed line", id);
                break;
            }
            device_name(r, majmin, dev, sizeof dev);
            add(r, b, "container_fs_reads_bytes_total", METRIC_COUNTER,
                "Cumulative count of bytes read", (double)rb, "device", dev);
            add(r, b, "container_fs_writes_bytes_total", METRIC_COUNTER,
                "Cumulative count of bytes written", (double)wb, "device", dev);
        }
    }
    ebuf_free(&t);
}

static const struct {
    const char *file, *line, *name, *help;
} psi[] = {
    {"cpu.pressure", "some", "container_pressure_cpu_waiting_seconds_total",
     "Total time duration tasks in the container have waited due to CPU congestion."},
    {"cpu.pressure", "full", "container_pressure_cpu_stalled_seconds_total",
     "Total time duration no tasks in the container could make progress due to CPU "
     "congestion."},
    {"memory.pressure", "some", "container_pressure_memory_waiting_seconds_total",
     "Total time duration tasks in the container have waited due to memory congestion."},
    {"memory.pressure", "full", "container_pressure_memory_stalled_seconds_total",
     "Total time duration no tasks in the container could make progress due to memory "
     "congestion."},
    {"io.pressure", "some", "container_pressure_io_waiting_seconds_total",
     "Total time duration tasks in the container have waited due to IO congestion."},
    {"io.pressure", "full", "container_pressure_io_stalled_seconds_total",
     "Total time duration no tasks in the container could make progress due to IO "
     "congestion."},
};

static void pressure_stats(cg_round *r, const char *id, const labelset *b)
{
    ebuf t;
    ebuf_init(&t);
    for (size_t i = 0; i < sizeof psi / sizeof psi[0]; i++) {
        ebuf_reset(&t);
        if (cg_read(r, id, psi[i].file, &t) != 1)
            continue;
        const char *line = strstr(t.data, psi[i].line);
        const char *tot = line ? strstr(line, "total=") : NULL;
        unsigned long long us;
        if (!tot || sscanf(tot, "total=%llu", &us) != 1)
            cg_error(r, "%s/%s: no \"%s ... total=N\" line", id, psi[i].file, psi[i].line);
        else
            add(r, b, psi[i].name, METRIC_COUNTER, psi[i].help, (double)us / 1e6, NULL, NULL);
    }
    ebuf_free(&t);
}

static void processes(cg_round *r, const char *id, const labelset *b)
{
    double v;
    int rc = read_number(r, id, "pids.current", 0, &v);
    if (rc == 0) { /* no pids controller: count this cgroup's own members */
        ebuf t;
        ebuf_init(&t);
        if (cg_read(r, id, "cgroup.procs", &t) == 1) {
            v = 0;
            for (const char *p = t.data; *p; p++)
                v += *p == '\n';
            rc = 1;
        }
        ebuf_free(&t);
    }
    if (rc == 1)
        add(r, b, "container_processes", METRIC_GAUGE,
            "Number of processes running inside the container.", v, NULL, NULL);
}

void cg_collect_stats(cg_round *r, const char *id, const labelset *base, bool own_netns)
{
    cpu_stats(r, id, base);
    cpu_spec(r, id, base);
    memory_stats(r, id, base);
    io_stats(r, id, base);
    pressure_stats(r, id, base);
    processes(r, id, base);
    if (own_netns)
        cg_collect_network(r, id, base);
}
