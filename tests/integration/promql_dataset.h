/*
 * promql_dataset.h — the deterministic dataset that the PromQL agreement
 * test (tests/integration/test_promql_agreement.c) and the query benchmark
 * (bench/query_vs_prometheus.sh through bench/bench_query.c) load into both
 * Prometheus and the aggregator.
 *
 * What a GPU fleet's dashboards, SLOs and alerts read, at a 15 s interval:
 *  - DCGM gauges DCGM_FI_DEV_GPU_UTIL, DCGM_FI_DEV_FB_USED and
 *    DCGM_FI_DEV_GPU_TEMP per GPU (gpu, UUID, Hostname, modelName, job,
 *    instance labels); on the first host GPU 1 stops for 12 minutes in the
 *    middle (a gap longer than the lookback) and GPU 2 ends early; on the
 *    last host GPU 3 starts late;
 *  - counters http_requests_total by instance, method and status, with
 *    resets (instance 1 restarts at 70 min; one series resets on its own);
 *  - a classic histogram http_request_duration_seconds (_bucket with le up
 *    to +Inf, _sum, _count) per instance, reset with its instance;
 *  - odd_value{kind="nan"} (NaN every 7th sample), {kind="big"} (about
 *    1e15) and {kind="negative"} (swinging below zero).
 * Values come from a counter-based hash, so the same configuration always
 * gives the same bytes.
 */
#ifndef EMBER_TESTS_PROMQL_DATASET_H
#define EMBER_TESTS_PROMQL_DATASET_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define PROMQL_DATASET_STEP_MS 15000

typedef struct promql_dataset_config {
    int64_t end_ms; /* time of the last sample; rounded down to the step */
    int minutes;    /* length of the window */
    int hosts;      /* GPU hosts, 4 GPUs each */
    int instances;  /* HTTP service instances */
} promql_dataset_config;

typedef struct promql_dataset_series {
    const char *family;     /* OpenMetrics family name ("http_requests" for _total) */
    const char *type;       /* "gauge", "counter" or "histogram" */
    char *name;             /* sample name, e.g. http_requests_total */
    char *labels;           /* label pairs without braces, sorted by name */
    double *v;              /* one value per step */
    unsigned char *present; /* whether the series has a sample at that step */
} promql_dataset_series;

typedef struct promql_dataset {
    int64_t start_ms; /* first step; step i is at start_ms + i * PROMQL_DATASET_STEP_MS */
    size_t steps;
    promql_dataset_series *series; /* grouped by family */
    size_t n, cap;
} promql_dataset;

void promql_dataset_build(promql_dataset *d, const promql_dataset_config *c);
void promql_dataset_free(promql_dataset *d);
int64_t promql_dataset_end_ms(const promql_dataset *d); /* time of the last step */
size_t promql_dataset_samples(const promql_dataset *d);

/* OpenMetrics text for promtool (timestamps in seconds, # TYPE, # EOF). */
int promql_dataset_write_openmetrics(const promql_dataset *d, FILE *f);
/* Exposition lines with millisecond timestamps for /api/v1/import/prometheus. */
int promql_dataset_write_import(const promql_dataset *d, FILE *f);

#endif
