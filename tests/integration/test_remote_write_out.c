/*
 * test_remote_write_out.c — remote write out against Debian's Prometheus
 * 2.42 (--web.enable-remote-write-receiver) on loopback.
 *
 * The aggregator gets its data by import and has two destinations from its
 * config file: Prometheus (with a write_relabel_configs drop rule and a
 * backlog of 1 KiB of memory, so an outage goes to disk at once) and a
 * receiver in this process that answers 400 to everything.  The tests:
 * every sample arrives with its value; what the relabel rule drops does
 * not; a 400 is counted as failed and never retried (the receiver sees
 * each sample once); and Prometheus stopped for 30 s while data keeps
 * coming, then restarted on the same port and data dir, ends up with
 * exactly the samples written: count_over_time per series equals the
 * number written, so nothing is lost and nothing is counted twice.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/integration/harness.h"

#include "aggregator/http/api.h"
#include "common/etime.h"
#include "common/expfmt.h"
#include "common/httpd.h"
#include "proto/remote.pb-c.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SERIES 10
#define OUTAGE_MS 30000
#define TICK_MS 500

static struct {
    unsigned api, prom, bad;
    pid_t prom_pid;
    httpd *bad_server;
    atomic_uint_fast64_t bad_requests, bad_samples;
} P;

/* The receiver that refuses everything: 400, as for a malformed request. */
static void handle_bad(void *ctx, const httpd_request *req, httpd_response *resp)
{
    (void)ctx;
    Prometheus__WriteRequest *wr;
    char err[256];
    atomic_fetch_add(&P.bad_requests, 1);
    if (api_write_decode(req->body, req->body_len, &wr, err, sizeof err) == 0) {
        for (size_t i = 0; i < wr->n_timeseries; i++)
            atomic_fetch_add(&P.bad_samples, wr->timeseries[i]->n_samples);
        prometheus__write_request__free_unpacked(wr, NULL);
    }
    resp->status = 400;
    ebuf_puts(&resp->body, "out of bounds\n");
}

static void spawn_prometheus(void)
{
    char data[512];
    snprintf(data, sizeof data, "%s/prometheus", harness_tmpdir());
    static const char *const extra[] = {"--web.enable-remote-write-receiver", NULL};
    P.prom_pid = harness_spawn_prometheus("prometheus", "/dev/null", data, P.prom, extra);
}

static void spawn_aggregator(void)
{
    char cfg[512];
    snprintf(cfg, sizeof cfg, "%s/aggregator.yml", harness_tmpdir());
    FILE *f = fopen(cfg, "w");
    assert_non_null(f);
    fprintf(f,
            "retention: 30d\n"
            "remote_write:\n"
            "  - url: http://127.0.0.1:%u/api/v1/write\n"
            "    name: prom\n"
            "    remote_timeout: 5s\n"
            "    queue_config: {capacity: 40, min_shards: 2, max_samples_per_send: 20,\n"
            "                   batch_send_deadline: 200ms, min_backoff: 50ms, max_backoff: 1s}\n"
            "    backlog: {memory: 1KiB}\n"
            "    write_relabel_configs:\n"
            "      - {source_labels: [drop], regex: 'yes', action: drop}\n"
            "  - url: http://127.0.0.1:%u/write\n"
            "    name: refusing\n"
            "    queue_config: {batch_send_deadline: 200ms, min_backoff: 10ms}\n",
            P.prom, P.bad);
    fclose(f);
    const char *const extra[] = {"--config", cfg, "--self-scrape.interval=0", NULL};
    harness_spawn_aggregator("aggregator", P.api, extra);
}

static void import(const char *body)
{
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/api/v1/import/prometheus", P.api);
    ebuf b;
    ebuf_init(&b);
    assert_int_equal(harness_http(url, body, &b), 200);
    assert_non_null(strstr(b.data, "\"rejected\":0"));
    ebuf_free(&b);
}

/* The value of an instant query with one result on Prometheus; -1 when empty. */
static double prom_scalar(const char *query_escaped)
{
    char url[512];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/api/v1/query?query=%s", P.prom, query_escaped);
    ebuf b;
    ebuf_init(&b);
    double v = -1;
    if (harness_http(url, NULL, &b) == 200) {
        const char *p = strstr(b.data, "\"value\":[");
        if (p && (p = strstr(p, ",\"")))
            v = strtod(p + 2, NULL);
    }
    ebuf_free(&b);
    return v;
}

/* Wait up to timeout_ms for the query to reach want. */
static double wait_scalar(const char *query_escaped, double want, int timeout_ms)
{
    double v = -1;
    for (int64_t until = mono_ms() + timeout_ms; mono_ms() < until; sleep_ms(250))
        if ((v = prom_scalar(query_escaped)) == want)
            break;
    return v;
}

/* A sample of the aggregator's /metrics with remote_name=remote (and where). */
static double agg_metric(const char *name, const char *remote, const char *where)
{
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/metrics", P.api);
    ebuf b;
    ebuf_init(&b);
    assert_int_equal(harness_http(url, NULL, &b), 200);
    metric_set ms;
    metric_set_init(&ms);
    expfmt_error e;
    assert_int_equal(expfmt_parse(b.data, b.len, NULL, &ms, &e), 0);
    double v = -1;
    for (size_t i = 0; i < ms.n; i++) {
        const labelset *ls = &ms.samples[i].labels;
        const char *rn = labels_get(ls, "remote_name"), *w = labels_get(ls, "where");
        if (strcmp(labels_metric_name(ls), name) == 0 && rn && strcmp(rn, remote) == 0 &&
            (!where || (w && strcmp(w, where) == 0)))
            v = ms.samples[i].value;
    }
    metric_set_free(&ms);
    ebuf_free(&b);
    return v;
}

static int setup(void **state)
{
    (void)state;
    if (access(HARNESS_PROMETHEUS, X_OK) != 0) {
        fprintf(stderr, "%s missing: apt-get install prometheus (./ember deps)\n",
                HARNESS_PROMETHEUS);
        return -1;
    }
    P.api = harness_free_port();
    P.prom = harness_free_port();
    P.bad_server = httpd_new(NULL);
    httpd_route(P.bad_server, "POST", "/write", handle_bad, NULL);
    char err[256];
    if (httpd_start(P.bad_server, "127.0.0.1:0", err, sizeof err) != 0) {
        fprintf(stderr, "test receiver: %s\n", err);
        return -1;
    }
    P.bad = httpd_port(P.bad_server);
    spawn_prometheus();
    spawn_aggregator();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    httpd_free(P.bad_server);
    return 0;
}

/* 50 series x 20 samples, values i*100+j; 5 series the relabel rule drops. */
static void test_every_sample_arrives(void **state)
{
    (void)state;
    int64_t t0 = now_ms() - 10 * 60 * 1000;
    ebuf body;
    ebuf_init(&body);
    for (int i = 0; i < 50; i++)
        for (int j = 0; j < 20; j++)
            ebuf_printf(&body, "rw_all{series=\"%d\",job=\"imp\"} %d %" PRId64 "\n", i, i * 100 + j,
                        t0 + j * 1000);
    for (int i = 0; i < 5; i++)
        ebuf_printf(&body, "rw_dropped{series=\"%d\",drop=\"yes\"} 1 %" PRId64 "\n", i, t0);
    import(body.data);
    ebuf_free(&body);
    assert_true(wait_scalar("sum(count_over_time(rw_all[1h]))", 1000, 30000) == 1000);
    /* sum over i, j of i*100+j = 20*100*1225 + 50*190 */
    assert_true(prom_scalar("sum(sum_over_time(rw_all[1h]))") == 2459500);
    assert_true(prom_scalar("count(last_over_time(rw_all[1h]))") == 50);
    assert_true(prom_scalar("count(last_over_time(rw_dropped[1h]))") == -1);
    assert_true(agg_metric("prometheus_remote_storage_samples_dropped_total", "prom", NULL) == 5);
    assert_true(agg_metric("prometheus_remote_storage_samples_failed_total", "prom", NULL) == 0);
}

/* The refusing receiver: every sample failed, none retried, each seen once. */
static void test_4xx_is_not_retried(void **state)
{
    (void)state;
    double in = 0, failed = -2;
    for (int64_t until = mono_ms() + 20000; mono_ms() < until && failed != in; sleep_ms(200)) {
        in = agg_metric("ember_remote_write_samples_in_total", "refusing", NULL);
        failed = agg_metric("prometheus_remote_storage_samples_failed_total", "refusing", NULL);
    }
    assert_true(in >= 1005);
    assert_true(failed == in);
    assert_true(agg_metric("prometheus_remote_storage_samples_retried_total", "refusing", NULL) ==
                0);
    assert_true(agg_metric("prometheus_remote_storage_samples_total", "refusing", NULL) == 0);
    assert_true((double)atomic_load(&P.bad_samples) == in);
    assert_true(atomic_load(&P.bad_requests) >= 1);
}

static void write_tick(int64_t t)
{
    ebuf body;
    ebuf_init(&body);
    for (int i = 0; i < SERIES; i++)
        ebuf_printf(&body, "rw_outage{series=\"%d\"} %" PRId64 " %" PRId64 "\n", i, t, t);
    import(body.data);
    ebuf_free(&body);
}

/* Ticks of SERIES samples every TICK_MS for ms; returns the ticks written. */
static int write_for(int ms)
{
    int n = 0;
    for (int64_t until = mono_ms() + ms; mono_ms() < until; n++) {
        write_tick(now_ms());
        sleep_ms(TICK_MS);
    }
    return n;
}

static void test_outage_loses_and_duplicates_nothing(void **state)
{
    (void)state;
    int ticks = write_for(3000);
    assert_int_equal(harness_stop(P.prom_pid, 20000), 0);
    ticks += write_for(OUTAGE_MS / 2);
    /* The receiver is down: the backlog went to disk and sends are retried. */
    assert_true(agg_metric("ember_remote_write_backlog_bytes", "prom", "disk") > 0);
    assert_true(agg_metric("prometheus_remote_storage_samples_retried_total", "prom", NULL) > 0);
    ticks += write_for(OUTAGE_MS / 2);
    spawn_prometheus();
    ticks += write_for(3000);
    char q[256];
    snprintf(q, sizeof q, "sum(count_over_time(rw_outage[1h]))");
    double got = wait_scalar(q, (double)(ticks * SERIES), 60000);
    fprintf(stderr, "outage: %d ticks written, %g samples in Prometheus\n", ticks, got);
    assert_true(got == (double)(ticks * SERIES));
    /* every series has every tick: none short, none with more */
    snprintf(q, sizeof q, "count(count_over_time(rw_outage[1h])==%d)", ticks);
    assert_true(prom_scalar(q) == SERIES);
    assert_true(agg_metric("prometheus_remote_storage_samples_failed_total", "prom", NULL) == 0);
    assert_true(agg_metric("ember_remote_write_backlog_dropped_samples_total", "prom", NULL) == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_sample_arrives),
        cmocka_unit_test(test_4xx_is_not_retried),
        cmocka_unit_test(test_outage_loses_and_duplicates_nothing),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    harness_cleanup();
    return rc;
}
