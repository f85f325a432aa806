/*
 * test_federation.c — the aggregator beside a real Prometheus (Debian's
 * prometheus 2.42) on loopback: Prometheus scrapes the aggregator's
 * /federate with honor_labels and finds the imported series with the same
 * labels and values; Prometheus scrapes ember-gpusim and remote-writes to
 * the aggregator's /api/v1/write, and a sample Prometheus stored has the
 * same value at the same timestamp on the aggregator; malformed remote
 * write bodies are 400 with a reason and change nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/etime.h"
#include "tests/integration/harness.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct {
    unsigned api, gpusim, prom;
    int64_t import_ts;
} P;

static void spawn_aggregator(void)
{
    /* the series counts below are of the test's data alone */
    static const char *const extra[] = {"--self-scrape.interval", "0", NULL};
    harness_spawn_aggregator("aggregator", P.api, extra);
}

static void spawn_gpusim(void)
{
    char bin[512], listen[64], url[128];
    snprintf(listen, sizeof listen, "127.0.0.1:%u", P.gpusim);
    char *argv[] = {(char *)harness_bin("ember-gpusim", bin, sizeof bin),
                    "--listen",
                    listen,
                    "--gpus",
                    "2",
                    "--seed",
                    "7",
                    NULL};
    harness_spawn("gpusim", argv);
    snprintf(url, sizeof url, "http://127.0.0.1:%u/metrics", P.gpusim);
    assert_true(harness_wait_http(url, 20000));
}

static void spawn_prometheus(void)
{
    char cfg[512], data[512];
    snprintf(cfg, sizeof cfg, "%s/prometheus.yml", harness_tmpdir());
    snprintf(data, sizeof data, "%s/prometheus", harness_tmpdir());
    FILE *f = fopen(cfg, "w");
    assert_non_null(f);
    fprintf(f,
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            "scrape_configs:\n"
            "  - job_name: federate\n"
            "    honor_labels: true\n"
            "    metrics_path: /federate\n"
            "    params: {'match[]': ['{job=\"imp\"}']}\n"
            "    static_configs: [{targets: ['127.0.0.1:%u']}]\n"
            "  - job_name: gpusim\n"
            "    static_configs: [{targets: ['127.0.0.1:%u']}]\n"
            "remote_write:\n"
            "  - url: http://127.0.0.1:%u/api/v1/write\n"
            "    queue_config: {batch_send_deadline: 1s, min_backoff: 100ms}\n"
            "    write_relabel_configs:\n"
            "      - {source_labels: [job], regex: gpusim, action: keep}\n",
            P.api, P.gpusim, P.api);
    fclose(f);
    harness_spawn_prometheus("prometheus", cfg, data, P.prom, NULL);
}

/* POST a binary body; the status, the answer in out. */
static long post_binary(const char *url, const char *body, size_t len, ebuf *out)
{
    CURL *c = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, "Content-Encoding: snappy");
    h = curl_slist_append(h, "Content-Type: application/x-protobuf");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len);
    FILE *mem = tmpfile(); /* curl's default writer fwrite()s here */
    curl_easy_setopt(c, CURLOPT_WRITEDATA, mem);
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    rewind(mem);
    char buf[1024];
    size_t n = fread(buf, 1, sizeof buf, mem);
    ebuf_append(out, buf, n);
    ebuf_putc(out, 0);
    fclose(mem);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return status;
}

static size_t count_series(unsigned port, const char *query_escaped)
{
    char url[512];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/api/v1/query?query=%s", port, query_escaped);
    ebuf b;
    ebuf_init(&b);
    assert_int_equal(harness_http(url, NULL, &b), 200);
    size_t n = 0;
    for (const char *p = b.data; (p = strstr(p, "\"metric\":")); p++)
        n++;
    ebuf_free(&b);
    return n;
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
    P.gpusim = harness_free_port();
    P.prom = harness_free_port();
    spawn_aggregator();
    spawn_gpusim();
    /* Two series to federate, a few seconds old. */
    P.import_ts = now_ms() - 3000;
    char url[128], body[512];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/api/v1/import/prometheus", P.api);
    snprintf(body, sizeof body,
             "fed_metric{job=\"imp\",k=\"v1\"} 42.5 %" PRId64 "\n"
             "fed_metric{job=\"imp\",k=\"v2\"} -1e-05 %" PRId64 "\n"
             "fed_other{job=\"imp\",instance=\"node:1\"} 7 %" PRId64 "\n",
             P.import_ts, P.import_ts, P.import_ts);
    ebuf b;
    ebuf_init(&b);
    assert_int_equal(harness_http(url, body, &b), 200);
    ebuf_free(&b);
    return 0;
}

static void expect_400(const char *body, size_t len, const char *reason)
{
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/api/v1/write", P.api);
    ebuf out;
    ebuf_init(&out);
    assert_int_equal(post_binary(url, body, len, &out), 400);
    if (!strstr(out.data, reason))
        fail_msg("expected '%s' in '%s'", reason, out.data);
    ebuf_free(&out);
}

/* (c) before Prometheus writes anything: the series count must not move. */
static void test_malformed_remote_write(void **state)
{
    (void)state;
    size_t before = count_series(P.api, "%7B__name__%3D~%22.%2B%22%7D");
    assert_int_equal(before, 3);
    expect_400("", 0, "empty request body");
    expect_400("\xff\xff\xff\xff\xff", 5, "snappy: corrupt input");
    const char notproto[] = {4, 0x0c, 0x0a, (char)0xff, (char)0xff, 0x7f};
    expect_400(notproto, sizeof notproto, "protobuf: malformed");
    const char huge[] = {(char)0x80, (char)0x80, (char)0x80, (char)0x80, 0x04, 0};
    expect_400(huge, sizeof huge, "exceeds the limit");
    assert_int_equal(count_series(P.api, "%7B__name__%3D~%22.%2B%22%7D"), before);
}

/* (a) Prometheus federates from us with honor_labels. */
static void test_prometheus_federates(void **state)
{
    (void)state;
    spawn_prometheus();
    char url[256];
    snprintf(url, sizeof url,
             "http://127.0.0.1:%u/api/v1/query?query=%%7Bjob%%3D%%22imp%%22%%7D&time=%.3f", P.prom,
             (double)P.import_ts / 1000.0);
    ebuf b;
    ebuf_init(&b);
    int64_t deadline = mono_ms() + 30000;
    while (mono_ms() < deadline) {
        ebuf_reset(&b);
        harness_http(url, NULL, &b);
        if (b.data && strstr(b.data, "fed_other"))
            break;
        sleep_ms(500);
    }
    assert_non_null(b.data);
    /* Our labels exactly: no instance or job added by the scraper. */
    const char *want[] = {
        "{\"metric\":{\"__name__\":\"fed_metric\",\"job\":\"imp\",\"k\":\"v1\"},\"value\":[",
        "{\"metric\":{\"__name__\":\"fed_metric\",\"job\":\"imp\",\"k\":\"v2\"},\"value\":[",
        "{\"metric\":{\"__name__\":\"fed_other\",\"instance\":\"node:1\",\"job\":\"imp\"},"};
    for (size_t i = 0; i < 3; i++)
        if (!strstr(b.data, want[i]))
            fail_msg("missing %s in %s", want[i], b.data);
    assert_non_null(strstr(b.data, ",\"42.5\"]}"));
    assert_non_null(strstr(b.data, ",\"-0.00001\"]}")); /* JSON floats are Go's 'f' */
    assert_non_null(strstr(b.data, ",\"7\"]}"));
    assert_int_equal(count_series(P.prom, "%7Bjob%3D%22imp%22%7D"), 3);
    ebuf_free(&b);
}

/* The first [ts,"v"] pair after key in a Prometheus JSON answer. */
static bool first_pair(const char *json, const char *key, char *ts, size_t tslen, char *v,
                       size_t vlen)
{
    const char *p = json ? strstr(json, key) : NULL;
    if (!p)
        return false;
    p += strlen(key);
    size_t n = strcspn(p, ",");
    const char *q = p + n + 2; /* skip ,"  */
    size_t m = strcspn(q, "\"");
    if (n >= tslen || m >= vlen)
        return false;
    memcpy(ts, p, n);
    ts[n] = 0;
    memcpy(v, q, m);
    v[m] = 0;
    return true;
}

/* (b) Prometheus remote-writes what it scraped; the values agree. */
static void test_remote_write_from_prometheus(void **state)
{
    (void)state;
    const char *sel = "gpu_memory_usage_bytes%7Bgpu_id%3D%22gpu0%22%2Cjob%3D%22gpusim%22%7D";
    char url[512], ts[64], pv[64], av[64], ats[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/api/v1/query?query=%s%%5B1m%%5D", P.prom, sel);
    ebuf b;
    ebuf_init(&b);
    int64_t deadline = mono_ms() + 30000;
    while (mono_ms() < deadline) {
        ebuf_reset(&b);
        harness_http(url, NULL, &b);
        if (first_pair(b.data, "\"values\":[[", ts, sizeof ts, pv, sizeof pv))
            break;
        sleep_ms(500);
    }
    assert_true(first_pair(b.data, "\"values\":[[", ts, sizeof ts, pv, sizeof pv));
    /* The same series at the same time on the aggregator. */
    snprintf(url, sizeof url, "http://127.0.0.1:%u/api/v1/query?query=%s&time=%s", P.api, sel, ts);
    bool found = false;
    deadline = mono_ms() + 30000;
    while (!found && mono_ms() < deadline) {
        ebuf_reset(&b);
        harness_http(url, NULL, &b);
        found = first_pair(b.data, "\"value\":[", ats, sizeof ats, av, sizeof av) &&
                strcmp(ats, ts) == 0;
        if (!found)
            sleep_ms(500);
    }
    if (!found)
        fail_msg("no sample at %s on the aggregator: %s", ts, b.data ? b.data : "");
    assert_string_equal(av, pv);
    assert_true(strstr(b.data, "\"instance\":\"127.0.0.1:") != NULL);
    ebuf_free(&b);
    /* The aggregator counted the requests. */
    snprintf(url, sizeof url, "http://127.0.0.1:%u/metrics", P.api);
    ebuf m;
    ebuf_init(&m);
    assert_int_equal(harness_http(url, NULL, &m), 200);
    assert_non_null(strstr(m.data, "ember_aggregator_remote_write_requests_total{code=\"400\"} 4"));
    assert_null(strstr(m.data, "ember_aggregator_remote_write_samples_total 0\n"));
    ebuf_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_malformed_remote_write),
        cmocka_unit_test(test_prometheus_federates),
        cmocka_unit_test(test_remote_write_from_prometheus),
    };
    int rc = cmocka_run_group_tests(tests, setup, NULL);
    harness_cleanup();
    return rc;
}
