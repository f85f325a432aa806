/*
 * test_demoapp.c — the demo app: latency and error statistics over 1,000
 * deterministic requests, its metrics (parsed back, promtool), and the real
 * HTTP endpoints on a loopback server.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "simulators/demoapp.h"
#include "tests/unit/simcheck.h"

#include <curl/curl.h>

#define REQUESTS 1000

static void test_rejects_bad_config(void **state)
{
    demoapp_config neg = {-0.1, 0.05, 1}, over = {1.5, 0.05, 1}, nan_share = {NAN, 0.05, 1},
                   zero_latency = {0.1, 0, 1};
    assert_null(demoapp_new(&neg));
    assert_null(demoapp_new(&over));
    assert_null(demoapp_new(&nan_share));
    assert_null(demoapp_new(&zero_latency));
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* 1,000 planned /api/test requests: the 500 share within the 1e-6
 * binomial bounds, latencies around the median with a slow tail. */
static void test_plans_over_1000_requests(void **state)
{
    demoapp_config cfg = {0.1, 0.05, 3};
    demoapp *app = demoapp_new(&cfg), *twin = demoapp_new(&cfg);
    double lat[REQUESTS];
    uint64_t errors = 0;
    for (int i = 0; i < REQUESTS; i++) {
        demoapp_plan p = demoapp_plan_test(app), q = demoapp_plan_test(twin);
        assert_true(p.latency_s == q.latency_s && p.status == q.status); /* deterministic */
        assert_true(p.status == 200 || p.status == 500);
        assert_true(p.latency_s > 0 && p.latency_s <= DEMOAPP_MAX_LATENCY_S);
        errors += p.status == 500;
        lat[i] = p.latency_s;
    }
    assert_in_range(errors, simcheck_binomial_quantile(REQUESTS, 0.1, 1e-6),
                    simcheck_binomial_quantile(REQUESTS, 0.1, 1 - 1e-6));
    qsort(lat, REQUESTS, sizeof lat[0], cmp_double);
    /* Median of lognormal(ln 0.05, 0.5): 50 ms, sd of the sample median ~1 ms. */
    assert_true(lat[REQUESTS / 2] > 0.045 && lat[REQUESTS / 2] < 0.056);
    assert_true(lat[REQUESTS - 1] > 0.25); /* the slow 3 % */
    demoapp_free(app);
    demoapp_free(twin);
}

static void test_metrics_follow_requests(void **state)
{
    demoapp_config cfg = {0.2, 0.05, 5};
    demoapp *app = demoapp_new(&cfg);
    ebuf text;
    ebuf_init(&text);
    demoapp_render(app, &text); /* before any request: headers only, still valid */
    simcheck_promtool(text.data, text.len);
    uint64_t ok = 0, bad = 0;
    for (int i = 0; i < REQUESTS; i++) {
        demoapp_begin(app);
        assert_int_equal(demoapp_active(app), 1);
        demoapp_plan p = demoapp_plan_test(app);
        demoapp_end(app, "/api/test", p.status, p.latency_s);
        ok += p.status == 200;
        bad += p.status == 500;
    }
    demoapp_begin(app);
    demoapp_end(app, "/health", 200, 0.0001);
    demoapp_begin(app); /* one still in flight */
    assert_int_equal(demoapp_requests(app, "/api/test", 200), ok);
    assert_int_equal(demoapp_requests(app, "/api/test", 500), bad);
    assert_int_equal(demoapp_requests(app, "/nope", 200), 0);

    ebuf_reset(&text);
    demoapp_render(app, &text);
    simcheck_promtool(text.data, text.len);
    metric_set ms;
    simcheck_parse(text.data, text.len, &ms);
    assert_int_equal(metric_set_find_meta(&ms, "app_requests_total")->type, METRIC_COUNTER);
    assert_int_equal(metric_set_find_meta(&ms, "app_request_duration_seconds")->type,
                     METRIC_HISTOGRAM);
    assert_int_equal(metric_set_find_meta(&ms, "app_active_connections")->type, METRIC_GAUGE);
    assert_true(simcheck_value(&ms, "app_requests_total", "endpoint", "/api/test", "status", "200",
                               NULL) == (double)ok);
    assert_true(simcheck_value(&ms, "app_requests_total", "endpoint", "/api/test", "status", "500",
                               NULL) == (double)bad);
    assert_true(simcheck_value(&ms, "app_requests_total", "endpoint", "/health", NULL) == 1);
    assert_true(simcheck_value(&ms, "app_active_connections", NULL) == 1);
    assert_int_equal(
        simcheck_histogram(&ms, "app_request_duration_seconds", "endpoint", "/api/test"), 11);
    assert_true(simcheck_value(&ms, "app_request_duration_seconds_count", "endpoint", "/api/test",
                               NULL) == REQUESTS);
    simcheck_histogram(&ms, "app_request_duration_seconds", "endpoint", "/health");
    metric_set_free(&ms);
    ebuf_free(&text);
    demoapp_free(app);
}

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
    return size * n;
}

static long get(CURL *c, const char *url)
{
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    return status;
}

/* The real endpoints on a loopback server: statuses as counted. */
static void test_http_endpoints(void **state)
{
    demoapp_config cfg = {0.5, 0.001, 9};
    demoapp *app = demoapp_new(&cfg);
    httpd *h = httpd_new(&(httpd_options){.threads = 4});
    demoapp_route(app, h);
    char err[256], url[128];
    assert_int_equal(httpd_start(h, "127.0.0.1:0", err, sizeof err), 0);
    CURL *c = curl_easy_init();
    uint64_t seen[2] = {0, 0};
    for (int i = 0; i < 40; i++) {
        snprintf(url, sizeof url, "http://127.0.0.1:%u/api/test", httpd_port(h));
        long st = get(c, url);
        assert_true(st == 200 || st == 500);
        seen[st == 500]++;
    }
    snprintf(url, sizeof url, "http://127.0.0.1:%u/health", httpd_port(h));
    assert_int_equal(get(c, url), 200);
    curl_easy_cleanup(c);
    httpd_free(h);
    assert_true(seen[0] > 0 && seen[1] > 0);
    assert_int_equal(demoapp_requests(app, "/api/test", 200), seen[0]);
    assert_int_equal(demoapp_requests(app, "/api/test", 500), seen[1]);
    assert_int_equal(demoapp_requests(app, "/health", 200), 1);
    assert_int_equal(demoapp_active(app), 0);
    demoapp_free(app);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rejects_bad_config),
        cmocka_unit_test(test_plans_over_1000_requests),
        cmocka_unit_test(test_metrics_follow_requests),
        cmocka_unit_test(test_http_endpoints),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
