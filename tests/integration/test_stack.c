/*
 * test_stack.c — the first agent → aggregator → query slice with real
 * processes on loopback: ember-aggregator, ember-gpusim and ember-agent in a
 * temporary directory, plus bad input on every door (nng garbage, bad
 * queries, bad configs) and restart durability.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/etime.h"
#include "proto/wire.h"
#include "tests/integration/harness.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

typedef struct stack {
    unsigned api_port, ingest_port, gpusim_port;
    char data_dir[512];
    pid_t aggregator, gpusim, agent;
} stack;

static stack S;

static pid_t start_aggregator(void)
{
    char bin[512], http[64], ingest[64];
    snprintf(http, sizeof http, "127.0.0.1:%u", S.api_port);
    snprintf(ingest, sizeof ingest, "tcp://127.0.0.1:%u", S.ingest_port);
    char *argv[] = {(char *)harness_bin("ember-aggregator", bin, sizeof bin),
                    "--data-dir",
                    S.data_dir,
                    "--http-listen",
                    http,
                    "--ingest-listen",
                    ingest,
                    "--log.level",
                    "debug",
                    NULL};
    pid_t pid = harness_spawn("aggregator", argv);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/-/ready", S.api_port);
    if (!harness_wait_http(url, 20000))
        return -1;
    return pid;
}

static int stack_up(void **state)
{
    S.api_port = harness_free_port();
    S.ingest_port = harness_free_port();
    S.gpusim_port = harness_free_port();
    snprintf(S.data_dir, sizeof S.data_dir, "%s/aggregator", harness_tmpdir());
    S.aggregator = start_aggregator();
    if (S.aggregator < 0)
        return -1;

    char bin[512], listen[64], url[128];
    snprintf(listen, sizeof listen, "127.0.0.1:%u", S.gpusim_port);
    char *gargv[] = {(char *)harness_bin("ember-gpusim", bin, sizeof bin),
                     "--listen",
                     listen,
                     "--gpus",
                     "8",
                     "--seed",
                     "42",
                     NULL};
    S.gpusim = harness_spawn("gpusim", gargv);
    snprintf(url, sizeof url, "http://127.0.0.1:%u/metrics", S.gpusim_port);
    if (!harness_wait_http(url, 20000))
        return -1;

    char agg[64], scrape[160], agent_dir[512];
    snprintf(agg, sizeof agg, "tcp://127.0.0.1:%u", S.ingest_port);
    snprintf(scrape, sizeof scrape, "gpusim=http://127.0.0.1:%u/metrics", S.gpusim_port);
    snprintf(agent_dir, sizeof agent_dir, "%s/agent", harness_tmpdir());
    char *aargv[] = {(char *)harness_bin("ember-agent", bin, sizeof bin),
                     "--aggregator",
                     agg,
                     "--scrape",
                     scrape,
                     "--interval",
                     "1s",
                     "--data-dir",
                     agent_dir,
                     "--instance",
                     "node-a",
                     "--labels",
                     "role=gpu-node",
                     NULL};
    S.agent = harness_spawn("agent", aargv);
    return 0;
}

static int stack_down(void **state)
{
    harness_cleanup();
    return 0;
}

/* GET /api/v1/query?query=q (q must be URL-safe) into body; returns status. */
static long query(const char *q, ebuf *body)
{
    char url[1024];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/api/v1/query?query=%s", S.api_port, q);
    ebuf_reset(body);
    return harness_http(url, NULL, body);
}

/* Poll a query until its result is not empty. */
static bool wait_result(const char *q, ebuf *body, int timeout_ms)
{
    int64_t deadline = mono_ms() + timeout_ms;
    while (mono_ms() < deadline) {
        if (query(q, body) == 200 && strstr(body->data, "\"metric\""))
            return true;
        sleep_ms(250);
    }
    return false;
}

/* The value string of the first sample in a vector result. */
static double first_value(const char *json)
{
    const char *p = strstr(json, "\"value\":[");
    assert_non_null(p);
    p = strstr(p, ",\"");
    assert_non_null(p);
    return strtod(p + 2, NULL);
}

static void dump_logs(void)
{
    const char *names[] = {"aggregator", "agent", "gpusim"};
    for (size_t i = 0; i < 3; i++) {
        ebuf log;
        ebuf_init(&log);
        harness_log(names[i], &log);
        fprintf(stderr, "---- %s.log ----\n%s\n", names[i], log.data ? log.data : "");
        ebuf_free(&log);
    }
}

static void test_gpu_series_queryable(void **state)
{
    ebuf body;
    ebuf_init(&body);
    bool ok = wait_result("gpu_utilization_percent%7Bgpu_id%3D%22gpu3%22%7D", &body, 30000);
    if (!ok)
        dump_logs();
    assert_true(ok);
    double v = first_value(body.data);
    assert_true(v >= 20.0 && v <= 90.0);
    /* one series, with the simulator's labels and the agent's */
    assert_non_null(strstr(body.data, "\"gpu_model\":\"NVIDIA-A100-40GB\""));
    assert_non_null(strstr(body.data, "\"job\":\"gpusim\""));
    assert_non_null(strstr(body.data, "\"instance\":\"node-a\""));
    assert_non_null(strstr(body.data, "\"role\":\"gpu-node\""));
    assert_null(strstr(strstr(body.data, "\"metric\"") + 1, "\"metric\""));
    ebuf_free(&body);
}

static void test_host_series_and_matchers(void **state)
{
    ebuf body;
    ebuf_init(&body);
    assert_true(wait_result("node_load1", &body, 30000));
    assert_true(wait_result("node_cpu_seconds_total%7Bmode%3D%22idle%22%7D", &body, 10000));
    assert_null(strstr(body.data, "\"mode\":\"user\""));
    /* regex, negative regex, not-equal */
    assert_true(
        wait_result("gpu_temperature_celsius%7Bgpu_id%3D~%22gpu%5B0-1%5D%22%7D", &body, 10000));
    assert_non_null(strstr(body.data, "\"gpu_id\":\"gpu0\""));
    assert_non_null(strstr(body.data, "\"gpu_id\":\"gpu1\""));
    assert_null(strstr(body.data, "\"gpu_id\":\"gpu2\""));
    assert_true(wait_result("gpu_power_draw_watts%7Bgpu_id!~%22gpu%5B0-6%5D%22%7D", &body, 10000));
    assert_non_null(strstr(body.data, "\"gpu_id\":\"gpu7\""));
    assert_null(strstr(body.data, "\"gpu_id\":\"gpu6\""));
    assert_true(wait_result("gpu_sm_clock_mhz%7Bgpu_id!%3D%22gpu0%22%7D", &body, 10000));
    assert_null(strstr(body.data, "\"gpu_id\":\"gpu0\""));
    assert_non_null(strstr(body.data, "\"gpu_id\":\"gpu5\""));
    ebuf_free(&body);
}

static void test_bad_query_is_400(void **state)
{
    ebuf body;
    ebuf_init(&body);
    assert_int_equal(query("gpu_utilization_percent%7Bgpu_id%3D", &body), 400);
    assert_non_null(strstr(body.data, "\"status\":\"error\""));
    assert_non_null(strstr(body.data, "\"errorType\":\"bad_data\""));
    assert_non_null(strstr(body.data, "parse error"));
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/api/v1/query?query=up&time=yesterday",
             S.api_port);
    ebuf_reset(&body);
    assert_int_equal(harness_http(url, NULL, &body), 400);
    assert_non_null(strstr(body.data, "invalid parameter \\\"time\\\""));
    /* POST form works like GET */
    snprintf(url, sizeof url, "http://127.0.0.1:%u/api/v1/query", S.api_port);
    ebuf_reset(&body);
    assert_int_equal(harness_http(url, "query=gpu_ecc_errors_total", &body), 200);
    assert_non_null(strstr(body.data, "\"status\":\"success\""));
    ebuf_free(&body);
}

/* One nng request to the ingest endpoint; returns the decoded Ack. */
static Ember__Ack *ingest_request(const void *msg, size_t len)
{
    nng_socket s;
    char url[64];
    snprintf(url, sizeof url, "tcp://127.0.0.1:%u", S.ingest_port);
    assert_int_equal(nng_req0_open(&s), 0);
    nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 10000);
    assert_int_equal(nng_dial(s, url, NULL, 0), 0);
    assert_int_equal(nng_send(s, (void *)msg, len, 0), 0);
    char *buf = NULL;
    size_t n = 0;
    assert_int_equal(nng_recv(s, &buf, &n, NNG_FLAG_ALLOC), 0);
    Ember__Ack *ack = wire_decode_ack(buf, n);
    nng_free(buf, n);
    nng_close(s);
    assert_non_null(ack);
    return ack;
}

static double self_metric(const char *line_prefix)
{
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/metrics", S.api_port);
    ebuf body;
    ebuf_init(&body);
    assert_int_equal(harness_http(url, NULL, &body), 200);
    const char *p = strstr(body.data, line_prefix);
    assert_non_null(p);
    double v = strtod(p + strlen(line_prefix), NULL);
    ebuf_free(&body);
    return v;
}

static void make_batch(ebuf *out, const char *agent, uint64_t seq, double value, int64_t ts)
{
    metric_set ms;
    metric_set_init(&ms);
    metric_set_addl(&ms, "it_probe_value", value, "source", "test", NULL);
    wire_encode_batch(out, agent, seq, &ms, ts);
    metric_set_free(&ms);
}

static void test_garbage_and_truncated_batches_rejected(void **state)
{
    double before = self_metric("ember_aggregator_ingest_batches_total{result=\"rejected\"} ");
    Ember__Ack *ack = ingest_request("this is not zstd", 16);
    assert_int_equal(ack->status, EMBER__ACK__STATUS__REJECTED);
    assert_non_null(strstr(ack->reason, "zstd"));
    ember__ack__free_unpacked(ack, NULL);

    ebuf m;
    ebuf_init(&m);
    make_batch(&m, "it-garbage", 1, 1.0, now_ms());
    ack = ingest_request(m.data, m.len / 2); /* truncated */
    assert_int_equal(ack->status, EMBER__ACK__STATUS__REJECTED);
    assert_true(strlen(ack->reason) > 0);
    ember__ack__free_unpacked(ack, NULL);
    ebuf_free(&m);

    double after = self_metric("ember_aggregator_ingest_batches_total{result=\"rejected\"} ");
    assert_true(after >= before + 2);
    /* still serving, still holding what it had */
    ebuf body;
    ebuf_init(&body);
    assert_true(wait_result("gpu_utilization_percent", &body, 5000));
    assert_true(harness_alive(S.aggregator));
    ebuf_free(&body);
}

static void test_resent_batch_applied_once(void **state)
{
    ebuf m;
    ebuf_init(&m);
    int64_t ts = now_ms();
    make_batch(&m, "it-exactly-once", 1, 7.0, ts);
    Ember__Ack *ack = ingest_request(m.data, m.len);
    assert_int_equal(ack->status, EMBER__ACK__STATUS__OK);
    assert_int_equal(ack->seq, 1);
    assert_int_equal(ack->samples_applied, 1);
    ember__ack__free_unpacked(ack, NULL);

    /* the same seq again, with another value: acknowledged, not applied */
    ebuf_reset(&m);
    make_batch(&m, "it-exactly-once", 1, 99.0, ts);
    ack = ingest_request(m.data, m.len);
    assert_int_equal(ack->status, EMBER__ACK__STATUS__OK);
    assert_int_equal(ack->samples_applied, 0);
    ember__ack__free_unpacked(ack, NULL);
    ebuf_free(&m);

    ebuf body;
    ebuf_init(&body);
    assert_true(wait_result("it_probe_value", &body, 5000));
    assert_true(first_value(body.data) == 7.0);
    ebuf_free(&body);
}

static void test_restart_keeps_data(void **state)
{
    int status = harness_stop(S.aggregator, 10000);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0); /* clean SIGTERM shutdown */
    ebuf log;
    ebuf_init(&log);
    harness_log("aggregator", &log);
    assert_non_null(strstr(log.data, "msg=\"stopped\""));
    ebuf_free(&log);

    S.aggregator = start_aggregator();
    assert_true(S.aggregator > 0);
    ebuf body;
    ebuf_init(&body);
    assert_true(wait_result("it_probe_value", &body, 5000));
    assert_true(first_value(body.data) == 7.0);
    /* the agent reconnects and keeps delivering */
    double before = self_metric("ember_aggregator_ingest_batches_total{result=\"ok\"} ");
    int64_t deadline = mono_ms() + 20000;
    while (self_metric("ember_aggregator_ingest_batches_total{result=\"ok\"} ") <= before &&
           mono_ms() < deadline)
        sleep_ms(200);
    assert_true(self_metric("ember_aggregator_ingest_batches_total{result=\"ok\"} ") > before);
    ebuf_free(&body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gpu_series_queryable),
        cmocka_unit_test(test_host_series_and_matchers),
        cmocka_unit_test(test_bad_query_is_400),
        cmocka_unit_test(test_garbage_and_truncated_batches_rejected),
        cmocka_unit_test(test_resent_batch_applied_once),
        cmocka_unit_test(test_restart_keeps_data),
    };
    signal(SIGPIPE, SIG_IGN);
    int rc = cmocka_run_group_tests_name("integration.stack", tests, stack_up, stack_down);
    nng_fini();
    return rc;
}
