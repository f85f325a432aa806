/*
 * agent.h — one agent: what it collects, how it labels it, and the loop
 * that collects every interval and hands batches to the sender.
 */
#ifndef EMBER_AGENT_H
#define EMBER_AGENT_H

#include "agent/collect/collect.h"
#include "common/expfmt.h"
#include "common/labels.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct agent_config {
    const char *agent_id;
    const char *instance;
    const labelset *static_labels; /* added to every series that lacks them */
    const char *root;              /* "/" or a fixture tree */
    bool cpu, meminfo, loadavg;
    bool stat, vmstat, diskstats, filesystem, netdev, pressure, time, uname, hwmon;
    const host_filters *filters; /* NULL: node_exporter's defaults */
    bool collector_meta;         /* node_scrape_collector_{success,duration_seconds} */
    gpu_collector *gpu;          /* NULL: no GPU collector (or no GPU) */
    cgroup_collector *cgroup;    /* NULL: no container collector (or no cgroup v2) */
    scrape_target *targets;      /* scraped when due; they keep state between scrapes */
    size_t ntargets;
    int64_t scrape_timeout_ms;
} agent_config;

/*
 * One collection: host collectors and scrapes, every sample labelled with
 * instance and the static labels and stamped with the collection time.
 * Collector failures are logged and do not stop the others; with
 * collector_meta, node_scrape_collector_success{collector} and
 * node_scrape_collector_duration_seconds{collector} say how each host
 * collector fared, as node_exporter does.
 */
void agent_collect(const agent_config *cfg, metric_set *out);
/* Label samples from index `from` on as agent_collect labels the host
 * collectors' (instance, static labels, the time now); for the agent's own
 * metrics, which would otherwise clash between agents. */
void agent_label(const agent_config *cfg, metric_set *ms, size_t from);

/* Parse "[JOB=]URL"; the job defaults to the URL's host:port. */
int scrape_target_parse(const char *spec, scrape_target *t, char *err, size_t errlen);
void scrape_target_free(scrape_target *t);

/* The next batch seq, persisted in dir/seq so a restart never reuses one. */
int seq_load(const char *dir, uint64_t *next, char *err, size_t errlen);
int seq_store(const char *dir, uint64_t next, char *err, size_t errlen);

#endif
