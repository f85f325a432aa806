/*
 * config.h — the agent's scrape configuration: a YAML file in Prometheus's
 * own format (the scrape_configs part of prometheus.yml), given with
 * --scrape-config FILE, so a Prometheus scrape config can be moved over as
 * it is and checked with promtool as well:
 *
 *   global:
 *     scrape_interval: 15s      # default: the agent's --interval
 *     scrape_timeout: 10s       # default: 10s, at most the interval
 *   scrape_configs:
 *     - job_name: app
 *       scrape_interval: 30s
 *       scrape_timeout: 5s
 *       metrics_path: /metrics   # default
 *       scheme: http             # or https
 *       honor_labels: false
 *       honor_timestamps: true
 *       body_size_limit: 10MiB   # 0: none (the agent's 64 MiB cap still holds)
 *       sample_limit: 5000       # 0: none
 *       static_configs:
 *         - targets: ["127.0.0.1:8080"]
 *           labels: {team: infra}
 *       relabel_configs: [...]          # on the target's labels
 *       metric_relabel_configs: [...]   # on every scraped series
 *
 * It is a separate file from the agent's settings (--config), whose keys
 * common/options.c checks against the flag table.  Targets are set up as
 * Prometheus's PopulateLabels does: __address__, __scheme__,
 * __metrics_path__, __scrape_interval__, __scrape_timeout__ and job, then
 * the group's labels, then relabel_configs (a dropped target is not
 * scraped), then instance defaults to __address__ and "__" labels go.
 *
 * Errors read "FILE:LINE:COL: reason".  Keys Prometheus has and the agent
 * does not implement (service discovery, auth, params, ...) are errors, so
 * nothing is silently ignored.
 */
#ifndef EMBER_AGENT_CONFIG_H
#define EMBER_AGENT_CONFIG_H

#include "agent/collect/collect.h"
#include "common/relabel.h"

#include <stddef.h>
#include <stdint.h>

typedef struct scrape_job {
    char *name;
    relabel_rules metric_relabel; /* the job's targets point here */
} scrape_job;

typedef struct scrape_config {
    scrape_job *jobs;
    size_t njobs;
    scrape_target *targets;
    size_t ntargets;
} scrape_config;

/* Parse YAML text; name is used in messages.  c is overwritten. */
int scrape_config_parse(scrape_config *c, const char *name, const char *buf, size_t len, char *err,
                        size_t errlen);
/* Read and parse path ("cannot read PATH: reason" when it cannot be read). */
int scrape_config_load(scrape_config *c, const char *path, char *err, size_t errlen);
void scrape_config_free(scrape_config *c);

#endif
