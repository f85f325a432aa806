/*
 * test_http.c — the aggregator's HTTP layer: API time parameters, and the
 * API's server on a loopback port (routes, Prometheus JSON errors for
 * 405/400, the plain 404, busy port).  The server itself (common/httpd)
 * has its own tests in test_httpd.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "aggregator/http/api.h"
#include "aggregator/http/params.h"
#include "aggregator/tsdb/tsdb.h"
#include "common/etime.h"
#include "common/fsutil.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_api_time(void **state)
{
    int64_t ms;
    char err[128];
    assert_true(api_parse_time("1700000000", &ms, err, sizeof err));
    assert_int_equal(ms, 1700000000000);
    assert_true(api_parse_time("1700000000.123", &ms, err, sizeof err));
    assert_int_equal(ms, 1700000000123);
    assert_true(api_parse_time("-1.5", &ms, err, sizeof err));
    assert_int_equal(ms, -1500);
    assert_true(api_parse_time("2026-11-26T23:59:00Z", &ms, err, sizeof err));
    assert_int_equal(ms, 1795737540000);
    assert_true(api_parse_time("2026-11-26T23:59:00.250+01:00", &ms, err, sizeof err));
    assert_int_equal(ms, 1795737540250 - 3600000);
    assert_true(api_parse_time("1970-01-01T00:00:00Z", &ms, err, sizeof err));
    assert_int_equal(ms, 0);
    assert_false(api_parse_time("yesterday", &ms, err, sizeof err));
    assert_string_equal(err, "cannot parse \"yesterday\" to a valid timestamp");
    assert_false(api_parse_time("2026-13-01T00:00:00Z", &ms, err, sizeof err));
    assert_false(api_parse_time("2026-11-26T23:59:00", &ms, err, sizeof err));
    assert_false(api_parse_time("NaN", &ms, err, sizeof err));
    assert_false(api_parse_time("", &ms, err, sizeof err));
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    ebuf_append(ud, p, size * n);
    return size * n;
}

static long request(unsigned port, const char *path, const char *post, ebuf *body)
{
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%u%s", port, path);
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
    if (post)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, post);
    long status = 0;
    ebuf_reset(body);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    return status;
}

/* The aggregator's server on a free port; its handlers here never touch
 * the (absent) store. */
static httpd *start_api(aggregator *agg)
{
    char err[256];
    httpd *h = api_server_new(agg);
    if (httpd_start(h, "127.0.0.1:0", err, sizeof err) != 0)
        fail_msg("start: %s", err);
    return h;
}

static void test_api_routes_and_errors(void **state)
{
    aggregator agg = {0};
    httpd *h = start_api(&agg);
    unsigned port = httpd_port(h);
    ebuf b;
    ebuf_init(&b);
    assert_int_equal(request(port, "/-/healthy", NULL, &b), 200);
    assert_string_equal(b.data, "Ember aggregator is Healthy.\n");
    assert_int_equal(request(port, "/api/v1/status/buildinfo", NULL, &b), 200);
    assert_non_null(strstr(b.data, "\"version\":\"" EMBER_VERSION "\""));
    assert_int_equal(request(port, "/-/ready", "q=1", &b), 405);
    assert_string_equal(
        b.data,
        "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"method not allowed\"}");
    assert_int_equal(request(port, "/api/v1/query", "query=%zz", &b), 400);
    assert_non_null(strstr(b.data, "\"errorType\":\"bad_data\""));
    assert_int_equal(request(port, "/api/v1/query?time=yesterday", "query=up", &b), 400);
    assert_non_null(strstr(b.data, "invalid parameter \\\"time\\\""));
    assert_int_equal(request(port, "/nope", NULL, &b), 404);
    assert_string_equal(b.data, "404 page not found\n");
    assert_int_equal(atomic_load(&agg.query_errors), 1);
    ebuf_free(&b);
    httpd_free(h);
}

static void test_busy_port_and_bad_address(void **state)
{
    aggregator agg = {0};
    httpd *h = start_api(&agg), *h2 = api_server_new(&agg);
    char err[256], addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%u", httpd_port(h));
    assert_int_equal(httpd_start(h2, addr, err, sizeof err), -1);
    assert_non_null(strstr(err, "in use"));
    assert_non_null(strstr(err, addr));
    assert_int_equal(httpd_start(h2, "no-port", err, sizeof err), -1);
    assert_non_null(strstr(err, "HOST:PORT"));
    httpd_free(h2);
    httpd_free(h);
}

static void add_series(tsdb *db, const char *name, const char *job, const char *inst, int64_t t)
{
    labelset ls;
    labels_init(&ls);
    labels_add(&ls, "__name__", name);
    labels_add(&ls, "job", job);
    if (inst)
        labels_add(&ls, "instance", inst);
    tsdb_appender *a = tsdb_appender_new(db);
    assert_null(tsdb_append(a, &ls, t, 1));
    tsdb_commit_result r;
    char err[256];
    assert_int_equal(tsdb_commit(a, NULL, 0, &r, err, sizeof err), 0);
    labels_free(&ls);
}

static void test_labels_api(void **state)
{
    char dir[256], err[256];
    assert_int_equal(fs_mkdtemp(dir, sizeof dir, "ember-test-labels"), 0);
    tsdb_options o = {.sync = true, .maint_interval_ms = -1};
    aggregator agg = {0};
    assert_int_equal(tsdb_open(dir, &o, &agg.db, err, sizeof err), 0);
    int64_t now = now_ms();
    add_series(agg.db, "up", "node", "a:9100", now - 60000);
    add_series(agg.db, "up", "gpu", "b:9400", now);
    add_series(agg.db, "gpu_temp", "gpu", NULL, now);
    httpd *h = start_api(&agg);
    unsigned port = httpd_port(h);
    ebuf b;
    ebuf_init(&b);
    assert_int_equal(request(port, "/api/v1/labels", NULL, &b), 200);
    assert_string_equal(b.data,
                        "{\"status\":\"success\",\"data\":[\"__name__\",\"instance\",\"job\"]}");
    assert_int_equal(request(port, "/api/v1/labels", "match[]=gpu_temp", &b), 200);
    assert_string_equal(b.data, "{\"status\":\"success\",\"data\":[\"__name__\",\"job\"]}");
    char q[200];
    snprintf(q, sizeof q, "/api/v1/labels?match[]=up&start=%.3f", (now - 1000) / 1000.0);
    assert_int_equal(request(port, q, NULL, &b), 200); /* the node series is older */
    assert_string_equal(b.data,
                        "{\"status\":\"success\",\"data\":[\"__name__\",\"instance\",\"job\"]}");
    assert_int_equal(request(port, "/api/v1/labels", "match[]=%7B", &b), 400);
    assert_int_equal(request(port, "/api/v1/labels?start=soon", NULL, &b), 400);
    assert_int_equal(request(port, "/api/v1/label/job/values", NULL, &b), 200);
    assert_string_equal(b.data, "{\"status\":\"success\",\"data\":[\"gpu\",\"node\"]}");
    assert_int_equal(
        request(port, "/api/v1/label/instance/values?match[]=up%7Bjob%3D%22gpu%22%7D", NULL, &b),
        200);
    assert_string_equal(b.data, "{\"status\":\"success\",\"data\":[\"b:9400\"]}");
    assert_int_equal(request(port, "/api/v1/label/nope/values", NULL, &b), 200);
    assert_string_equal(b.data, "{\"status\":\"success\",\"data\":[]}");
    assert_int_equal(request(port, "/api/v1/label/1x/values", NULL, &b), 400);
    assert_int_equal(request(port, "/api/v1/label/job", NULL, &b), 404);
    ebuf_free(&b);
    httpd_free(h);
    tsdb_close(agg.db);
    fs_rmtree(dir);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_api_time),
        cmocka_unit_test(test_api_routes_and_errors),
        cmocka_unit_test(test_busy_port_and_bad_address),
        cmocka_unit_test(test_labels_api),
    };
    int rc = cmocka_run_group_tests_name("http", tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
