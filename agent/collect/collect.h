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

#include "common/expfmt.h"

#include <stddef.h>
#include <stdint.h>

/* node_cpu_seconds_total{cpu,mode}, node_cpu_guest_seconds_total{cpu,mode} */
int collect_cpu(metric_set *out, const char *root, char *err, size_t errlen);
/* node_memory_<Field>_bytes (and the unit-less HugePages_* fields) */
int collect_meminfo(metric_set *out, const char *root, char *err, size_t errlen);
/* node_load1, node_load5, node_load15 */
int collect_loadavg(metric_set *out, const char *root, char *err, size_t errlen);

typedef struct scrape_target {
    char *job; /* job label added to every series */
    char *url;
} scrape_target;

/*
 * GET target->url (text exposition), parse it and append its samples with
 * job=<job> and instance=<instance> added (a target's own job/instance
 * labels are kept as exported_job/exported_instance, as Prometheus does with
 * honor_labels: false).  Always appends up{job,instance} (1 or 0),
 * scrape_duration_seconds and scrape_samples_scraped, like Prometheus.
 * Returns -1 with err set when the target is down or its output malformed.
 */
int collect_scrape(metric_set *out, const scrape_target *target, const char *instance,
                   int64_t timeout_ms, char *err, size_t errlen);

/* A decoded response body larger than this fails the scrape. */
#define COLLECT_SCRAPE_BODY_MAX ((size_t)64 << 20)

/*
 * libcurl's process-wide state, which curl_global_init sets up and is not
 * safe to race: call collect_scrape_init once before any thread scrapes (the
 * agent's main, at start) and collect_scrape_cleanup once after the last
 * scrape.  collect_scrape treats timeout_ms <= 0 as Prometheus's default
 * scrape_timeout, 10 s.
 */
int collect_scrape_init(char *err, size_t errlen);
void collect_scrape_cleanup(void);

#endif
