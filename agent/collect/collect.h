/*
 * collect.h — the agent's collectors.  Each appends the samples of one
 * collection (with metadata) to a metric_set and returns 0, or -1 with err
 * set; a failing collector never stops the others.
 *
 * Host collectors read from a root directory ("/" normally, a fixture tree in
 * tests) so /proc and /sys paths are root + "proc/...".
 */
#ifndef EMBER_AGENT_COLLECT_H
#define EMBER_AGENT_COLLECT_H

#include "agent/collect/stale.h"
#include "common/relabel.h"
#include "common/expfmt.h"

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* node_cpu_seconds_total{cpu,mode}, node_cpu_guest_seconds_total{cpu,mode} */
int collect_cpu(metric_set *out, const char *root, char *err, size_t errlen);
/* node_memory_<Field>_bytes (and the unit-less HugePages_* fields) */
int collect_meminfo(metric_set *out, const char *root, char *err, size_t errlen);
/* node_load1, node_load5, node_load15 */
int collect_loadavg(metric_set *out, const char *root, char *err, size_t errlen);

/* ---- node_exporter's filters (filters.c) ------------------------------- */

/* Regex texts (POSIX ERE); NULL fields take the defaults. */
typedef struct host_filter_spec {
    const char *mount_points_exclude, *fs_types_exclude, *disk_device_exclude,
        *netdev_device_exclude, *vmstat_fields;
} host_filter_spec;

/* Debian's prometheus-node-exporter 1.5 defaults. */
extern const host_filter_spec host_filter_defaults;

typedef struct host_filters {
    regex_t mount_points_exclude, fs_types_exclude, disk_device_exclude, netdev_device_exclude,
        vmstat_fields;
} host_filters;

int host_filters_init(host_filters *f, const host_filter_spec *spec, char *err, size_t errlen);
void host_filters_free(host_filters *f);
/* f, or the compiled defaults when f is NULL. */
const host_filters *host_filters_or_default(const host_filters *f);
bool host_filter_match(const regex_t *re, const char *s);

/*
 * The other host collectors, one file each, node_exporter 1.5's names.
 * filters may be NULL (defaults); most ignore it.
 */
typedef int (*host_collect_fn)(metric_set *out, const char *root, const host_filters *filters,
                               char *err, size_t errlen);
/* node_boot_time_seconds, node_context_switches_total, node_forks_total,
 * node_intr_total, node_procs_{running,blocked} from /proc/stat */
int collect_stat(metric_set *out, const char *root, const host_filters *f, char *err,
                 size_t errlen);
/* node_vmstat_<field> for the fields matching vmstat_fields */
int collect_vmstat(metric_set *out, const char *root, const host_filters *f, char *err,
                   size_t errlen);
/* node_disk_* {device} and node_disk_info from /proc/diskstats and udev */
int collect_diskstats(metric_set *out, const char *root, const host_filters *f, char *err,
                      size_t errlen);
/* node_filesystem_* {device,fstype,mountpoint} from /proc/1/mounts + statfs */
int collect_filesystem(metric_set *out, const char *root, const host_filters *f, char *err,
                       size_t errlen);
/* node_network_{receive,transmit}_*_total {device} from /proc/net/dev */
int collect_netdev(metric_set *out, const char *root, const host_filters *f, char *err,
                   size_t errlen);
/* node_pressure_* from /proc/pressure/{cpu,io,memory} */
int collect_pressure(metric_set *out, const char *root, const host_filters *f, char *err,
                     size_t errlen);
/* node_time_seconds, node_time_zone_offset_seconds, node_time_clocksource_* */
int collect_time(metric_set *out, const char *root, const host_filters *f, char *err,
                 size_t errlen);
/* node_uname_info */
int collect_uname(metric_set *out, const char *root, const host_filters *f, char *err,
                  size_t errlen);
/* node_hwmon_temp_*_celsius, node_hwmon_chip_names, node_hwmon_sensor_label */
int collect_hwmon(metric_set *out, const char *root, const host_filters *f, char *err,
                  size_t errlen);

/* Every host collector by node_exporter's name (registry.c). */
typedef struct host_collector_def {
    const char *name;
    host_collect_fn fn;
} host_collector_def;
extern const host_collector_def host_collectors[];
extern const size_t host_collectors_n;

/* ---- GPUs through NVML (gpu.c) ----------------------------------------- */

typedef struct gpu_collector gpu_collector;
typedef struct gpu_options {
    const char *library;  /* default "libnvidia-ml.so.1" */
    const char *root;     /* for /proc/<pid>/cgroup; default "/" */
    const char *hostname; /* dcgm-exporter's Hostname label */
    bool dcgm_names;      /* also DCGM_FI_DEV_* with DCGM's labels and units */
    bool processes;       /* gpu_process_memory_bytes */
} gpu_options;

/*
 * Load NVML, initialise it, find the GPUs and start the XID event thread.
 * -1 with err set when there is no library, no driver or no GPU: the caller
 * logs that once and collects no GPU series.
 */
int gpu_open(gpu_collector **out, const gpu_options *opt, char *err, size_t errlen);
/* gpu_* series of every GPU (and DCGM_FI_DEV_* when asked); g may be NULL. */
int collect_gpu(gpu_collector *g, metric_set *out, char *err, size_t errlen);
unsigned gpu_count(const gpu_collector *g);
void gpu_close(gpu_collector *g);

/* ---- containers from cgroup v2 (cgroup.c) ------------------------------ */

typedef struct cgroup_collector cgroup_collector;
typedef struct cgroup_options {
    const char *root;        /* root of /proc, /sys and /var; default "/" */
    const char *cgroup_root; /* the unified hierarchy; default root/sys/fs/cgroup */
} cgroup_options;

/*
 * -1 with err set when cgroup_root is not a cgroup v2 unified hierarchy
 * (cgroup v1, hybrid): the caller logs that once and collects no container
 * series.
 */
int cgroup_open(cgroup_collector **out, const cgroup_options *opt, char *err, size_t errlen);
/*
 * cAdvisor's container_* series of every container, pod and systemd service
 * cgroup, plus staleness markers for those gone since the last call.  A bad
 * file costs only its own series: -1 with err counting them and naming the
 * first, after everything else was appended.  c may be NULL (no series).
 */
int collect_cgroup(cgroup_collector *c, metric_set *out, char *err, size_t errlen);
void cgroup_close(cgroup_collector *c);

typedef struct scrape_target {
    char *job; /* job label added to every series */
    char *url;
    /* From a scrape config (agent/config.c); all zero for a --scrape URL. */
    char *instance;                      /* NULL: the instance argument of collect_scrape */
    labelset labels;                     /* further target labels (static_configs, relabeling) */
    int64_t interval_ms;                 /* 0: the agent's interval */
    int64_t timeout_ms;                  /* 0: the timeout argument */
    bool honor_labels;                   /* the series' own labels win over the target's */
    bool ignore_timestamps;              /* honor_timestamps: false */
    size_t body_size_limit;              /* 0: COLLECT_SCRAPE_BODY_MAX */
    size_t sample_limit;                 /* 0: none */
    const relabel_rules *metric_relabel; /* NULL: none; owned by the config */
    /* Between scrapes: the series of the last one, for staleness markers. */
    stale_tracker stale;
    int64_t next_due_ms; /* monotonic; when the agent scrapes it next */
} scrape_target;

/*
 * GET target->url (text exposition), parse it and append its samples the
 * way Prometheus's scrape loop does: target labels job, instance and the
 * target's others set on every series (a series' own ones kept as
 * exported_<name>, unless honor_labels), exposed timestamps kept unless
 * ignore_timestamps, then metric_relabel, then sample_limit (exceeding it
 * fails the whole scrape).  Series of the previous scrape that are missing
 * now — all of them when the scrape failed — get staleness markers.  Always
 * appends up, scrape_duration_seconds, scrape_samples_scraped,
 * scrape_samples_post_metric_relabeling and scrape_series_added with the
 * target labels.  Returns -1 with err set when the target is down, its
 * output malformed or over a limit.
 */
int collect_scrape(metric_set *out, scrape_target *target, const char *instance, int64_t timeout_ms,
                   char *err, size_t errlen);

/* A decoded response body larger than this fails the scrape. */
#define COLLECT_SCRAPE_BODY_MAX ((size_t)64 << 20)

/*
 * The scrape client's process-wide state (the CA bundle for https targets,
 * loaded on first use): call collect_scrape_init once before any thread
 * scrapes (the agent's main, at start) and collect_scrape_cleanup once after
 * the last scrape.  collect_scrape treats timeout_ms <= 0 as Prometheus's
 * default scrape_timeout, 10 s.
 */
int collect_scrape_init(char *err, size_t errlen);
void collect_scrape_cleanup(void);

#endif
