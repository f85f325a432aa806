/*
 * test_promql_agreement.c — the aggregator's PromQL answers agree with
 * Debian's Prometheus 2.42 on the same data.
 *
 * The dataset (promql_dataset.h: DCGM gauges, counters with resets, a
 * classic histogram, series that start late, end early or have a gap,
 * NaN, 1e15 and negative values) is backfilled into Prometheus with
 * `promtool tsdb create-blocks-from openmetrics` and imported into the
 * aggregator through /api/v1/import/prometheus.  Every query of the table
 * runs as an instant query at several times (first sample, inside, on a
 * sample, last sample, within and beyond the lookback after the end) and
 * as range queries over the window, against both /api/v1/query and
 * /api/v1/query_range.  The answers must agree: status and errorType,
 * resultType, label sets, timestamps, values within 1e-9 relative (NaN
 * equals NaN), and order where the query defines one.  Every disagreement
 * is printed with the query, the time and both answers; the test fails at
 * the end with their count.  A query that never returns data on Prometheus
 * (unless marked) is a bug in the table and fails the test too.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/etime.h"
#include "common/mem.h"
#include "tests/integration/harness.h"
#include "tests/integration/promql_answer.h"
#include "tests/integration/promql_dataset.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PROMTOOL "/usr/bin/promtool"

/* Flags of a query in the table. */
#define ORDERED 1u  /* an instant vector's order is defined (sort, topk, ...) */
#define EMPTY_OK 2u /* never returning data is the expected answer */
#define FAILS 4u    /* Prometheus must answer with an error */

typedef struct query_case {
    const char *q; /* $MID is replaced by the middle of the window (unix seconds) */
    unsigned flags;
} query_case;

static const query_case queries[] = {
    /* Selectors, every matcher type, offset and @. */
    {"DCGM_FI_DEV_GPU_UTIL", 0},
    {"DCGM_FI_DEV_GPU_UTIL{Hostname=\"gpu-node-00\"}", 0},
    {"DCGM_FI_DEV_GPU_UTIL{Hostname!=\"gpu-node-00\"}", 0},
    {"DCGM_FI_DEV_GPU_TEMP{gpu=~\"[02]\"}", 0},
    {"DCGM_FI_DEV_GPU_TEMP{modelName!~\".*H100.*\"}", 0},
    {"{__name__=~\"DCGM_FI_DEV_(GPU_UTIL|FB_USED)\",gpu=\"1\"}", 0},
    {"http_requests_total{status=~\"5..\",method=\"GET\"}", 0},
    {"odd_value", 0},
    {"DCGM_FI_DEV_GPU_UTIL{gpu=\"\"}", EMPTY_OK},
    {"DCGM_FI_DEV_GPU_UTIL{nolabel=\"\",gpu!=\"\"}", 0},
    {"http_request_duration_seconds_bucket{le=\"+Inf\"}", 0},
    {"DCGM_FI_DEV_GPU_UTIL offset 10m", 0},
    {"DCGM_FI_DEV_GPU_UTIL offset -5m", 0},
    {"DCGM_FI_DEV_GPU_UTIL @ $MID", 0},
    {"DCGM_FI_DEV_GPU_UTIL @ start()", 0},
    {"DCGM_FI_DEV_GPU_UTIL @ end() offset 1m", 0},
    {"rate(http_requests_total[5m] @ $MID)", 0},
    {"DCGM_FI_DEV_GPU_UTIL[2m]", 0},
    {"http_requests_total[1m] offset 30s", 0},
    {"odd_value[1m]", 0},
    /* Counters and gauges over ranges. */
    {"rate(http_requests_total[5m])", 0},
    {"rate(http_requests_total[1m])", 0},
    {"irate(http_requests_total[5m])", 0},
    {"increase(http_requests_total[10m])", 0},
    {"increase(http_requests_total[1h])", 0},
    {"increase(http_requests_total[3h])", 0},
    {"rate(http_requests_total[5m] offset 1h)", 0},
    {"rate(http_requests_total[10m] offset -10m)", 0},
    {"delta(DCGM_FI_DEV_GPU_TEMP[10m])", 0},
    {"delta(http_request_duration_seconds_sum[15m])", 0},
    {"idelta(DCGM_FI_DEV_GPU_TEMP[5m])", 0},
    {"deriv(DCGM_FI_DEV_FB_USED[10m])", 0},
    {"deriv(odd_value{kind=\"big\"}[10m])", 0},
    {"predict_linear(DCGM_FI_DEV_FB_USED[30m], 3600)", 0},
    {"predict_linear(odd_value{kind=\"big\"}[1h], 600)", 0},
    {"changes(DCGM_FI_DEV_GPU_UTIL[10m])", 0},
    {"changes(http_requests_total[30m]) > 100", EMPTY_OK},
    {"resets(http_requests_total[1h])", 0},
    {"resets(http_request_duration_seconds_count[3h])", 0},
    {"holt_winters(DCGM_FI_DEV_GPU_TEMP[15m], 0.5, 0.5)", 0},
    {"holt_winters(odd_value[10m], 0.1, 0.9)", 0},
    {"rate(odd_value[5m])", 0},
    {"delta(odd_value[5m])", 0},
    {"deriv(odd_value[10m])", 0},
    {"irate(odd_value[1m])", 0},
    /* SLO and latency. */
    {"sum by (instance) (rate(http_requests_total[5m]))", 0},
    {"sum(rate(http_requests_total{status=\"500\"}[5m])) / sum(rate(http_requests_total[5m]))", 0},
    {"1 - (sum(increase(http_requests_total{status=\"500\"}[1h])) / "
     "sum(increase(http_requests_total[1h])))",
     0},
    {"sum(rate(http_requests_total{status=~\"5..\"}[5m])) / sum(rate(http_requests_total[5m])) > "
     "0.01",
     0},
    {"(sum by (instance) (rate(http_requests_total{status=\"500\"}[30m])) / sum by (instance) "
     "(rate(http_requests_total[30m]))) > bool 0.04",
     0},
    {"rate(http_request_duration_seconds_sum[5m]) / rate(http_request_duration_seconds_count[5m])",
     0},
    {"increase(http_request_duration_seconds_bucket{le=\"0.25\"}[30m]) / ignoring(le) "
     "increase(http_request_duration_seconds_count[30m])",
     0},
    {"sum(rate(http_request_duration_seconds_bucket{le=\"0.25\"}[5m])) / "
     "sum(rate(http_request_duration_seconds_count[5m]))",
     0},
    /* *_over_time. */
    {"avg_over_time(DCGM_FI_DEV_GPU_UTIL[10m])", 0},
    {"min_over_time(DCGM_FI_DEV_GPU_TEMP[30m])", 0},
    {"max_over_time(DCGM_FI_DEV_GPU_TEMP[30m])", 0},
    {"sum_over_time(DCGM_FI_DEV_GPU_UTIL[5m])", 0},
    {"count_over_time(DCGM_FI_DEV_GPU_UTIL[10m])", 0},
    {"sum(count_over_time(http_request_duration_seconds_bucket[3h]))", 0},
    {"quantile_over_time(0.9, DCGM_FI_DEV_GPU_UTIL[30m])", 0},
    {"quantile_over_time(0, odd_value[10m])", 0},
    {"quantile_over_time(0.5, http_requests_total[5m])", 0},
    {"quantile_over_time(1.5, DCGM_FI_DEV_GPU_UTIL[5m])", 0},
    {"quantile_over_time(-1, DCGM_FI_DEV_GPU_UTIL[5m])", 0},
    {"stddev_over_time(DCGM_FI_DEV_GPU_TEMP[15m])", 0},
    {"stdvar_over_time(DCGM_FI_DEV_GPU_TEMP[15m])", 0},
    {"stddev_over_time(odd_value{kind=\"big\"}[10m])", 0},
    {"last_over_time(DCGM_FI_DEV_GPU_UTIL[10m])", 0},
    {"last_over_time(http_requests_total[1h] offset 5m)", 0},
    {"present_over_time(DCGM_FI_DEV_GPU_UTIL[10m])", 0},
    {"absent_over_time(DCGM_FI_DEV_GPU_UTIL{Hostname=\"gpu-node-00\",gpu=\"2\"}[5m])", 0},
    {"absent_over_time(DCGM_FI_DEV_GPU_UTIL{Hostname=\"gpu-node-01\",gpu=\"3\"}[10m])", 0},
    {"absent_over_time(nonexistent_metric{job=\"x\"}[5m])", 0},
    {"avg_over_time(odd_value[5m])", 0},
    {"max_over_time(odd_value[5m])", 0},
    {"min_over_time(odd_value[5m])", 0},
    {"sum_over_time(odd_value{kind=\"big\"}[30m])", 0},
    {"avg_over_time(odd_value{kind=\"big\"}[1h])", 0},
    {"avg by (Hostname) (avg_over_time(DCGM_FI_DEV_GPU_UTIL[1h]))", 0},
    {"avg_over_time(DCGM_FI_DEV_GPU_TEMP[5m]) > 70", 0},
    /* histogram_quantile. */
    {"histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))", 0},
    {"histogram_quantile(0.5, sum by (le, instance) "
     "(rate(http_request_duration_seconds_bucket[5m])))",
     0},
    {"histogram_quantile(0.9, rate(http_request_duration_seconds_bucket[10m]))", 0},
    {"histogram_quantile(0.999, sum by (le) (increase(http_request_duration_seconds_bucket[1h])))",
     0},
    {"histogram_quantile(0, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))", 0},
    {"histogram_quantile(1, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))", 0},
    {"histogram_quantile(1.5, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))", 0},
    {"histogram_quantile(0.5, http_request_duration_seconds_bucket)", 0},
    {"histogram_quantile(0.9, sum by (le) (rate(http_request_duration_seconds_bucket{le!=\"0.25\"}"
     "[5m])))",
     0},
    {"histogram_quantile(0.9, sum by (le) (rate(http_request_duration_seconds_bucket{le!=\"+Inf\"}"
     "[5m])))",
     0},
    /* Buckets that are not monotonic: Prometheus repairs them. */
    {"histogram_quantile(0.5, sum by (le) (label_replace(DCGM_FI_DEV_GPU_UTIL{Hostname=\"gpu-node-"
     "01\"}, \"le\", \"$1\", \"gpu\", \"(.*)\")) or sum by (le) (label_replace(DCGM_FI_DEV_GPU_UTIL"
     "{Hostname=\"gpu-node-01\",gpu=\"0\"} + 60, \"le\", \"+Inf\", \"gpu\", \".*\")))",
     0},
    /* Aggregations. */
    {"sum(DCGM_FI_DEV_GPU_UTIL)", 0},
    {"sum by (Hostname) (DCGM_FI_DEV_GPU_UTIL)", 0},
    {"sum without (gpu, UUID) (DCGM_FI_DEV_FB_USED)", 0},
    {"sum(rate(http_requests_total[5m])) by (method)", 0},
    {"avg by (modelName) (DCGM_FI_DEV_GPU_UTIL)", 0},
    {"avg without (method, status) (rate(http_requests_total[5m]))", 0},
    {"min by (Hostname) (DCGM_FI_DEV_GPU_TEMP)", 0},
    {"max without (instance) (DCGM_FI_DEV_GPU_TEMP)", 0},
    {"count(DCGM_FI_DEV_GPU_UTIL)", 0},
    {"count by (Hostname) (DCGM_FI_DEV_GPU_UTIL > 50)", 0},
    {"count(DCGM_FI_DEV_GPU_TEMP > 80) or vector(0)", 0},
    {"count(count by (Hostname) (DCGM_FI_DEV_GPU_UTIL))", 0},
    {"group by (Hostname, modelName) (DCGM_FI_DEV_GPU_UTIL)", 0},
    {"group(http_requests_total)", 0},
    {"count_values(\"temp\", DCGM_FI_DEV_GPU_TEMP)", 0},
    {"count_values by (Hostname) (\"util\", DCGM_FI_DEV_GPU_UTIL)", 0},
    {"count_values(\"v\", odd_value)", 0},
    {"stddev(DCGM_FI_DEV_GPU_UTIL)", 0},
    {"stdvar by (Hostname) (DCGM_FI_DEV_GPU_TEMP)", 0},
    {"stddev by (instance) (rate(http_requests_total[5m]))", 0},
    {"topk(3, DCGM_FI_DEV_FB_USED)", ORDERED},
    {"topk(3, DCGM_FI_DEV_GPU_UTIL)", ORDERED},
    {"bottomk(2, DCGM_FI_DEV_FB_USED)", ORDERED},
    {"topk by (Hostname) (1, DCGM_FI_DEV_FB_USED)", 0},
    {"bottomk(3, rate(http_requests_total[5m]))", ORDERED},
    {"topk(5, rate(http_requests_total[5m]))", ORDERED},
    {"topk(2, sum by (instance, method) (rate(http_requests_total[5m])))", ORDERED},
    {"topk(scalar(count(odd_value)), DCGM_FI_DEV_FB_USED)", ORDERED},
    {"topk(2, odd_value)", ORDERED},
    {"quantile(0.9, DCGM_FI_DEV_GPU_UTIL)", 0},
    {"quantile by (Hostname) (0.5, DCGM_FI_DEV_GPU_TEMP)", 0},
    {"quantile(1.2, DCGM_FI_DEV_GPU_TEMP)", 0},
    {"quantile(0.5, odd_value)", 0},
    {"avg(odd_value)", 0},
    {"sum(odd_value{kind=~\"big|negative\"})", 0},
    {"max(odd_value)", 0},
    {"min(odd_value)", 0},
    {"sum by (status) (increase(http_requests_total[10m]))", 0},
    {"sum by (modelName) (DCGM_FI_DEV_FB_USED) / 1024", 0},
    /* Binary operators. */
    {"DCGM_FI_DEV_FB_USED / 1024", 0},
    {"(DCGM_FI_DEV_FB_USED / 81920) * 100", 0},
    {"100 - DCGM_FI_DEV_GPU_UTIL", 0},
    {"DCGM_FI_DEV_GPU_UTIL > 80", 0},
    {"DCGM_FI_DEV_GPU_UTIL > bool 80", 0},
    {"80 < DCGM_FI_DEV_GPU_UTIL", 0},
    {"DCGM_FI_DEV_GPU_UTIL != 0", 0},
    {"-DCGM_FI_DEV_GPU_TEMP", 0},
    {"DCGM_FI_DEV_GPU_TEMP % 7", 0},
    {"DCGM_FI_DEV_GPU_TEMP ^ 2", 0},
    {"2 ^ 3 ^ 2", 0},
    {"1 + 2 * 3 - 4 / 2 % 3", 0},
    {"-odd_value ^ 2", 0},
    {"1 < bool 2", 0},
    {"DCGM_FI_DEV_FB_USED / DCGM_FI_DEV_GPU_UTIL", 0},
    {"DCGM_FI_DEV_GPU_UTIL >= bool DCGM_FI_DEV_GPU_TEMP", 0},
    {"DCGM_FI_DEV_GPU_UTIL atan2 DCGM_FI_DEV_GPU_TEMP", 0},
    {"time() - timestamp(DCGM_FI_DEV_GPU_UTIL)", 0},
    {"http_requests_total / on(instance, method) group_left sum by (instance, method) "
     "(http_requests_total)",
     0},
    {"sum by (instance, method) (http_requests_total) / on(instance, method) group_right "
     "http_requests_total",
     0},
    {"rate(http_requests_total[5m]) * ignoring(status) group_left sum without(status) "
     "(rate(http_requests_total[5m]))",
     0},
    {"DCGM_FI_DEV_GPU_UTIL * on(Hostname) group_left(kind) label_replace(max by (Hostname) "
     "(DCGM_FI_DEV_GPU_TEMP), \"kind\", \"hot\", \"\", \"\")",
     0},
    {"http_requests_total{status=\"500\"} / ignoring(status) http_requests_total{status=\"200\"}",
     0},
    {"DCGM_FI_DEV_GPU_UTIL > on(Hostname) group_left avg by (Hostname) (DCGM_FI_DEV_GPU_UTIL)", 0},
    {"DCGM_FI_DEV_GPU_UTIL and DCGM_FI_DEV_GPU_TEMP > 60", 0},
    {"DCGM_FI_DEV_GPU_UTIL and on(Hostname) (DCGM_FI_DEV_GPU_TEMP{gpu=\"0\"} > 50)", 0},
    {"DCGM_FI_DEV_GPU_UTIL or odd_value", 0},
    {"DCGM_FI_DEV_GPU_UTIL{gpu=\"0\"} or DCGM_FI_DEV_GPU_UTIL", 0},
    {"DCGM_FI_DEV_GPU_UTIL unless DCGM_FI_DEV_GPU_TEMP > 60", 0},
    {"DCGM_FI_DEV_GPU_UTIL unless on(Hostname) DCGM_FI_DEV_GPU_UTIL{gpu=\"2\"}", 0},
    {"sum(rate(http_requests_total{status=\"500\",method=\"POST\"}[5m])) or vector(0)", 0},
    {"odd_value * 2 / odd_value", 0},
    {"odd_value{kind=\"big\"} * 1e300", 0},
    {"odd_value > bool 0", 0},
    {"odd_value{kind=\"negative\"} < 0", 0},
    {"scalar(sum(DCGM_FI_DEV_GPU_UTIL)) / count(DCGM_FI_DEV_GPU_UTIL)", 0},
    {"DCGM_FI_DEV_GPU_UTIL - scalar(avg(DCGM_FI_DEV_GPU_UTIL))", 0},
    {"0 * DCGM_FI_DEV_GPU_UTIL == bool 0", 0},
    /* Math. */
    {"abs(odd_value)", 0},
    {"ceil(odd_value)", 0},
    {"floor(odd_value)", 0},
    {"round(odd_value)", 0},
    {"round(odd_value, 0.5)", 0},
    {"round(DCGM_FI_DEV_FB_USED, 1000)", 0},
    {"sqrt(DCGM_FI_DEV_GPU_UTIL)", 0},
    {"sqrt(odd_value)", 0},
    {"exp(DCGM_FI_DEV_GPU_UTIL / 10)", 0},
    {"exp(odd_value)", 0},
    {"ln(odd_value)", 0},
    {"log2(DCGM_FI_DEV_FB_USED)", 0},
    {"log10(odd_value)", 0},
    {"sgn(odd_value)", 0},
    {"clamp(DCGM_FI_DEV_GPU_UTIL, 20, 80)", 0},
    {"clamp(DCGM_FI_DEV_GPU_UTIL, 80, 20)", EMPTY_OK},
    /* an empty side: no match, and no many-to-many error from the other */
    {"no_such_metric + on() group_left DCGM_FI_DEV_GPU_UTIL", EMPTY_OK},
    {"DCGM_FI_DEV_GPU_UTIL and on() no_such_metric", EMPTY_OK},
    {"no_such_metric or on(gpu) DCGM_FI_DEV_GPU_UTIL", 0},
    {"clamp_min(odd_value, 0)", 0},
    {"clamp_max(odd_value, 12)", 0},
    {"sin(DCGM_FI_DEV_GPU_UTIL)", 0},
    {"cos(odd_value{kind=\"negative\"})", 0},
    {"tan(DCGM_FI_DEV_GPU_TEMP)", 0},
    {"asin(DCGM_FI_DEV_GPU_UTIL / 100)", 0},
    {"acos(DCGM_FI_DEV_GPU_UTIL / 100)", 0},
    {"atan(odd_value)", 0},
    {"sinh(DCGM_FI_DEV_GPU_UTIL / 50)", 0},
    {"cosh(DCGM_FI_DEV_GPU_UTIL / 50)", 0},
    {"tanh(odd_value)", 0},
    {"asinh(odd_value)", 0},
    {"acosh(DCGM_FI_DEV_GPU_TEMP)", 0},
    {"atanh(DCGM_FI_DEV_GPU_UTIL / 101)", 0},
    {"deg(odd_value)", 0},
    {"rad(DCGM_FI_DEV_GPU_TEMP)", 0},
    {"pi()", 0},
    /* Labels. */
    {"label_replace(DCGM_FI_DEV_GPU_UTIL, \"host\", \"$1\", \"Hostname\", \"gpu-node-(.*)\")", 0},
    {"label_replace(DCGM_FI_DEV_GPU_UTIL, \"Hostname\", \"\", \"Hostname\", \".*\")", 0},
    {"label_replace(http_requests_total, \"class\", \"${1}xx\", \"status\", \"(.)..\")", 0},
    {"label_replace(DCGM_FI_DEV_GPU_UTIL, \"x\", \"$1\", \"nolabel\", \"(.+)\")", 0},
    {"label_join(DCGM_FI_DEV_GPU_UTIL, \"gpu_id\", \"/\", \"Hostname\", \"gpu\")", 0},
    {"label_join(http_requests_total, \"key\", \"\", \"method\", \"status\")", 0},
    {"sum by (host) (label_replace(rate(http_requests_total[5m]), \"host\", \"$1\", \"instance\", "
     "\"(.*):.*\"))",
     0},
    /* absent, scalar, vector, time, timestamp, sort. */
    {"absent(nonexistent_metric{job=\"x\"})", 0},
    {"absent(DCGM_FI_DEV_GPU_UTIL)", 0},
    {"absent(DCGM_FI_DEV_GPU_UTIL{Hostname=\"gpu-node-00\",gpu=\"2\"})", 0},
    {"absent(sum(nonexistent_metric))", 0},
    {"scalar(DCGM_FI_DEV_GPU_UTIL{Hostname=\"gpu-node-00\",gpu=\"0\"})", 0},
    {"scalar(DCGM_FI_DEV_GPU_UTIL)", 0},
    {"vector(scalar(count(DCGM_FI_DEV_GPU_UTIL)))", 0},
    {"vector(time())", 0},
    {"time()", 0},
    {"timestamp(DCGM_FI_DEV_GPU_UTIL)", 0},
    {"timestamp(DCGM_FI_DEV_GPU_UTIL offset 2m)", 0},
    {"sort(DCGM_FI_DEV_FB_USED)", ORDERED},
    {"sort_desc(rate(http_requests_total[5m]))", ORDERED},
    {"sort(odd_value)", ORDERED},
    {"sort_desc(odd_value)", ORDERED},
    /* Dates. */
    {"day_of_month()", 0},
    {"day_of_week()", 0},
    {"day_of_year()", 0},
    {"days_in_month()", 0},
    {"hour()", 0},
    {"minute()", 0},
    {"month()", 0},
    {"year()", 0},
    {"hour(timestamp(DCGM_FI_DEV_GPU_UTIL))", 0},
    {"minute(timestamp(http_requests_total))", 0},
    {"days_in_month(vector(1709164800))", 0},
    {"day_of_year(vector(1735603200))", 0},
    {"day_of_week(vector(1700000000)) + month(vector(1e9)) + year(vector(0))", 0},
    /* Subqueries. */
    {"max_over_time(rate(http_requests_total[5m])[30m:1m])", 0},
    {"avg_over_time(DCGM_FI_DEV_GPU_UTIL[10m:])", 0},
    {"min_over_time(sum by (Hostname) (DCGM_FI_DEV_GPU_UTIL)[1h:5m])", 0},
    {"rate(http_requests_total[5m:30s])", 0},
    {"quantile_over_time(0.95, sum(rate(http_requests_total[5m]))[1h:2m])", 0},
    {"max_over_time(deriv(DCGM_FI_DEV_FB_USED[5m])[20m:1m] offset 10m)", 0},
    {"count_over_time((DCGM_FI_DEV_GPU_UTIL > 90)[30m:15s])", 0},
    {"stddev_over_time(rate(http_requests_total[5m])[30m:1m])", 0},
    {"max_over_time(DCGM_FI_DEV_GPU_UTIL[10m:1m] @ $MID)", 0},
    {"last_over_time(odd_value[5m:1m])", 0},
    {"DCGM_FI_DEV_GPU_UTIL[5m:1m]", 0},
    /* Literals. */
    {"42", 0},
    {"-1.5e-3", 0},
    {"0x1F", 0},
    {"Inf", 0},
    {"NaN", 0},
    {"\"a string\"", 0},
    /* Errors both must report alike. */
    {"DCGM_FI_DEV_GPU_UTIL / on(Hostname) group_left DCGM_FI_DEV_GPU_TEMP", FAILS},
    {"http_requests_total + on(instance) http_requests_total", FAILS},
    {"http_requests_total / on(instance, method) sum by (instance, method) (http_requests_total)",
     FAILS},
    {"label_replace(http_requests_total, \"status\", \"\", \"\", \"\")", FAILS},
    {"abs({__name__=~\"DCGM_FI_DEV_(GPU_UTIL|GPU_TEMP)\"})", FAILS},
    {"label_replace(DCGM_FI_DEV_GPU_UTIL, \"1bad\", \"x\", \"gpu\", \".*\")", FAILS},
    {"count_values(\"bad-name\", DCGM_FI_DEV_GPU_UTIL)", FAILS},
    {"rate(DCGM_FI_DEV_GPU_UTIL)", FAILS},
    {"sum(", FAILS},
    {"DCGM_FI_DEV_GPU_UTIL{gpu=~\"(\"}", FAILS},
    {"{__name__=~\".*\"}", FAILS},
    {"topk(\"a\", DCGM_FI_DEV_GPU_UTIL)", FAILS},
    {"time() + \"s\"", FAILS},
    {"count_over_time({__name__=~\"DCGM.+\"}[3h])", FAILS},
};
#define NQUERIES (sizeof queries / sizeof queries[0])

static struct {
    unsigned prom, api;
    promql_dataset d;
    int64_t start, end; /* first and last sample, ms */
    size_t evaluations, mismatches, table_bugs;
} S;

/* Prometheus: promtool builds blocks from the OpenMetrics text, the server
 * reads them; the subquery default step is its evaluation_interval. */
static void start_prometheus(void)
{
    char om[512], dir[512], cfg[512];
    snprintf(om, sizeof om, "%s/dataset.om", harness_tmpdir());
    snprintf(dir, sizeof dir, "%s/prometheus", harness_tmpdir());
    snprintf(cfg, sizeof cfg, "%s/prometheus.yml", harness_tmpdir());
    FILE *f = fopen(om, "w");
    assert_non_null(f);
    assert_int_equal(promql_dataset_write_openmetrics(&S.d, f), 0);
    assert_int_equal(fclose(f), 0);
    ebuf out;
    ebuf_init(&out);
    char *tool[] = {PROMTOOL, "tsdb", "create-blocks-from", "openmetrics", om, dir, NULL};
    if (harness_run(tool, &out) != 0)
        fail_msg("promtool failed: %s", out.data);
    ebuf_free(&out);
    f = fopen(cfg, "w");
    assert_non_null(f);
    fputs("global: {evaluation_interval: 1m}\n", f);
    assert_int_equal(fclose(f), 0);
    harness_spawn_prometheus("prometheus", cfg, dir, S.prom, NULL);
}

/* The aggregator on a fresh data directory, the same samples imported. */
static void start_aggregator(void)
{
    char url[128];
    harness_spawn_aggregator("aggregator", S.api, NULL);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    assert_int_equal(promql_dataset_write_import(&S.d, f), 0);
    assert_int_equal(fclose(f), 0);
    snprintf(url, sizeof url, "http://127.0.0.1:%u/api/v1/import/prometheus", S.api);
    ebuf b;
    ebuf_init(&b);
    assert_int_equal(harness_http(url, text, &b), 200);
    char want[64];
    snprintf(want, sizeof want, "\"accepted\":%zu,\"rejected\":0", promql_dataset_samples(&S.d));
    if (!strstr(b.data, want))
        fail_msg("import: %s, want %s", b.data, want);
    ebuf_free(&b);
    free(text);
}

static int setup(void **state)
{
    (void)state;
    if (access(HARNESS_PROMETHEUS, X_OK) != 0 || access(PROMTOOL, X_OK) != 0) {
        fprintf(stderr, "%s or %s missing: apt-get install prometheus (./ember deps)\n",
                HARNESS_PROMETHEUS, PROMTOOL);
        return -1;
    }
    /* Three hours that ended an hour ago, on a minute: history for both. */
    int64_t now = now_ms();
    promql_dataset_config c = {
        .end_ms = now - now % 60000 - 3600000, .minutes = 180, .hosts = 2, .instances = 2};
    promql_dataset_build(&S.d, &c);
    S.start = S.d.start_ms;
    S.end = promql_dataset_end_ms(&S.d);
    S.prom = harness_free_port();
    S.api = harness_free_port();
    start_prometheus();
    start_aggregator();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    promql_dataset_free(&S.d);
    return 0;
}

/* One request to a system; the answer parsed. */
static void ask(unsigned port, const char *endpoint, const char *form, prom_answer *a)
{
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/api/v1/%s", port, endpoint);
    ebuf b;
    ebuf_init(&b);
    long status = harness_http(url, form, &b);
    prom_answer_parse(a, status, b.data);
    ebuf_free(&b);
}

typedef struct outcome {
    bool prom_data, prom_failed, prom_succeeded, noted;
} outcome;

/* Both systems answer one evaluation; a disagreement is printed. */
static void compare(const char *query, const char *endpoint, const char *form, const char *when,
                    unsigned how, outcome *o)
{
    prom_answer want, got;
    ask(S.prom, endpoint, form, &want);
    ask(S.api, endpoint, form, &got);
    S.evaluations++;
    o->prom_data |= prom_answer_has_data(&want);
    o->prom_failed |= !want.ok;
    o->prom_succeeded |= want.ok;
    ebuf diff;
    ebuf_init(&diff);
    if (prom_answer_diff(&want, &got, how, 12, &diff)) {
        S.mismatches++;
        printf("MISMATCH %zu: %s\n  %s\n%s", S.mismatches, query, when, diff.data);
    } else if (!want.ok && strcmp(want.error, got.error) != 0 && !o->noted) {
        o->noted = true; /* once per query */
        printf("note: error text differs for %s (%s)\n  prometheus: %s\n  ember:      %s\n", query,
               when, want.error, got.error);
    }
    fflush(stdout);
    ebuf_free(&diff);
    prom_answer_free(&want);
    prom_answer_free(&got);
}

/* $MID (the middle of the window, for @) replaced in a query. */
static void expand(const char *q, char *out, size_t len)
{
    const char *m = strstr(q, "$MID");
    if (!m) {
        snprintf(out, len, "%s", q);
        return;
    }
    snprintf(out, len, "%.*s%" PRId64 "%s", (int)(m - q), q, (S.start + 5400000) / 1000, m + 4);
}

static void run_query(const query_case *qc, CURL *curl)
{
    const struct {
        const char *what;
        int64_t t;
    } instants[] = {
        {"first sample", S.start},
        {"inside, across a counter restart", S.start + 71 * 60000 + 7500},
        {"inside a 12-minute gap", S.start + 100 * 60000},
        {"on a sample, at a reset", S.start + 130 * 60000},
        {"last sample", S.end},
        {"3m after the end (within lookback)", S.end + 180000},
        {"10m after the end (beyond lookback)", S.end + 600000},
    };
    const struct {
        int64_t from, to, step;
    } ranges[] = {
        {S.start - 300000, S.end + 600000, 60000},
        {S.start + 90000, S.end - 60000, 423000},
        {S.start + 65 * 60000, S.start + 80 * 60000, 15000},
    };
    char q[1024], form[2048], when[160];
    expand(qc->q, q, sizeof q);
    char *esc = curl_easy_escape(curl, q, 0);
    outcome o = {0};
    unsigned ties = strstr(q, "topk") || strstr(q, "bottomk") ? PROM_DIFF_TIES : 0;
    for (size_t i = 0; i < sizeof instants / sizeof instants[0]; i++) {
        snprintf(form, sizeof form, "query=%s&time=%.3f", esc, instants[i].t / 1e3);
        snprintf(when, sizeof when, "instant query at %.3f (%s)", instants[i].t / 1e3,
                 instants[i].what);
        compare(q, "query", form, when, (qc->flags & ORDERED ? PROM_DIFF_ORDERED : 0) | ties, &o);
    }
    for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++) {
        snprintf(form, sizeof form, "query=%s&start=%.3f&end=%.3f&step=%.3f", esc,
                 ranges[i].from / 1e3, ranges[i].to / 1e3, ranges[i].step / 1e3);
        snprintf(when, sizeof when, "range query %.3f to %.3f step %.3fs", ranges[i].from / 1e3,
                 ranges[i].to / 1e3, ranges[i].step / 1e3);
        compare(q, "query_range", form, when, ties, &o);
    }
    curl_free(esc);
    /* The table itself: a query must test something on Prometheus. */
    bool bug = qc->flags & FAILS ? o.prom_succeeded && !o.prom_failed
                                 : !o.prom_data && !(qc->flags & EMPTY_OK);
    if (bug) {
        S.table_bugs++;
        printf("TABLE BUG: %s %s on Prometheus\n", q,
               qc->flags & FAILS ? "never fails" : "never returns data");
    }
}

/* Prometheus holds every sample: the comparison is over the whole dataset. */
static void test_prometheus_has_the_dataset(void **state)
{
    (void)state;
    size_t total = 0;
    for (size_t i = 0; i < S.d.n; i++) {
        bool seen = false; /* one query per sample name */
        for (size_t j = 0; j < i && !seen; j++)
            seen = strcmp(S.d.series[i].name, S.d.series[j].name) == 0;
        if (seen)
            continue;
        char form[256];
        snprintf(form, sizeof form, "query=sum(count_over_time(%s%%5B3h%%5D))&time=%.3f",
                 S.d.series[i].name, S.end / 1e3);
        prom_answer a;
        ask(S.prom, "query", form, &a);
        assert_true(a.ok && a.n == 1);
        total += (size_t)a.series[0].pts[0].v;
        prom_answer_free(&a);
    }
    assert_int_equal(total, promql_dataset_samples(&S.d));
}

static void test_agreement(void **state)
{
    (void)state;
    assert_true(NQUERIES >= 150);
    CURL *curl = curl_easy_init();
    int64_t t0 = mono_ms();
    for (size_t i = 0; i < NQUERIES; i++)
        run_query(&queries[i], curl);
    curl_easy_cleanup(curl);
    printf("%zu queries, %zu evaluations on each system in %.1f s: %zu disagree, %zu table bugs\n",
           NQUERIES, S.evaluations, (double)(mono_ms() - t0) / 1e3, S.mismatches, S.table_bugs);
    if (S.mismatches || S.table_bugs)
        fail_msg("%zu evaluations disagree with Prometheus, %zu table bugs", S.mismatches,
                 S.table_bugs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prometheus_has_the_dataset),
        cmocka_unit_test(test_agreement),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    harness_cleanup();
    return rc;
}
