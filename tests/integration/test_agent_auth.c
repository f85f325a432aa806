/*
 * test_agent_auth.c — agent authentication and TLS with the real binaries
 * on loopback: an agent with the right token (bound to its instance) is
 * stored and listed in /api/v1/agents; one with a wrong token stores
 * nothing, is counted in /metrics and logs the refusal; over tls+tcp://
 * with certificates openssl makes, data arrives; a plain tcp client on the
 * TLS listener fails cleanly and the aggregator keeps serving.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/etime.h"
#include "tests/integration/harness.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* printf %s s3cret | sha256sum */
#define SECRET_SHA "1ec1c26b50d5d3c58d9583181af8076655fe00756bf7285940ba3670f99fcba0"

static char dir[512];

static void path(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", dir, name);
}

static void write_file(const char *name, const char *text)
{
    char p[600];
    path(p, sizeof p, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup(void **state)
{
    snprintf(dir, sizeof dir, "%s", harness_tmpdir());
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "cd %s && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
             "-keyout ca.key -out ca.pem -days 2 -subj /CN=ember-test-ca 2>/dev/null && "
             "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "
             "server.key -out server.csr -subj /CN=localhost 2>/dev/null && "
             "printf 'subjectAltName=DNS:localhost\\n' > server.ext && openssl x509 -req -in "
             "server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 "
             "-extfile server.ext 2>/dev/null",
             dir);
    if (system(cmd) != 0)
        return -1;
    write_file("good.token", "s3cret\n");
    write_file("bad.token", "guess\n");
    return 0;
}

static int teardown(void **state)
{
    harness_cleanup();
    return 0;
}

/* Start an aggregator with extra flags; returns its API port. */
static unsigned start_aggregator(const char *name, const char *ingest, char *const extra[])
{
    unsigned api = harness_free_port();
    char bin[512], http[64], data[600];
    snprintf(http, sizeof http, "127.0.0.1:%u", api);
    path(data, sizeof data, name);
    char *argv[24] = {(char *)harness_bin("ember-aggregator", bin, sizeof bin),
                      "--data-dir",
                      data,
                      "--http-listen",
                      http,
                      "--ingest-listen",
                      (char *)ingest};
    int n = 7;
    for (int i = 0; extra[i]; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    harness_spawn(name, argv);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/-/ready", api);
    assert_true(harness_wait_http(url, 20000));
    return api;
}

static void start_agent(const char *name, const char *aggregator, char *const extra[])
{
    char bin[512], data[600];
    path(data, sizeof data, name);
    char *argv[24] = {(char *)harness_bin("ember-agent", bin, sizeof bin),
                      "--aggregator",
                      (char *)aggregator,
                      "--interval",
                      "1s",
                      "--send-timeout",
                      "2s",
                      "--data-dir",
                      data,
                      "--agent-id",
                      (char *)name};
    int n = 11;
    for (int i = 0; extra[i]; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    harness_spawn(name, argv);
}

static long get(unsigned api, const char *pathq, ebuf *body)
{
    char url[1024];
    snprintf(url, sizeof url, "http://127.0.0.1:%u%s", api, pathq);
    ebuf_reset(body);
    long st = harness_http(url, NULL, body);
    ebuf_putc(body, '\0');
    body->len--;
    return st;
}

/* Poll until the body of GET pathq contains needle. */
static bool wait_for(unsigned api, const char *pathq, const char *needle, int timeout_ms)
{
    ebuf b;
    ebuf_init(&b);
    bool found = false;
    for (int64_t end = mono_ms() + timeout_ms; !found && mono_ms() < end; sleep_ms(200))
        found = get(api, pathq, &b) == 200 && strstr((char *)b.data, needle);
    ebuf_free(&b);
    return found;
}

#define LOAD_OF(inst) "/api/v1/query?query=node_load1%7Binstance%3D%22" inst "%22%7D"

static void test_tokens(void **state)
{
    char ingest[64], good[600], bad[600];
    snprintf(ingest, sizeof ingest, "tcp://127.0.0.1:%u", harness_free_port());
    path(good, sizeof good, "good.token");
    path(bad, sizeof bad, "bad.token");
    unsigned api = start_aggregator("agg-auth", ingest,
                                    (char *[]){"--auth.token-sha256", SECRET_SHA "=node-a", NULL});
    start_agent("agent-good", ingest,
                (char *[]){"--token-file", good, "--instance", "node-a", NULL});
    start_agent("agent-bad", ingest, (char *[]){"--token-file", bad, "--instance", "node-b", NULL});

    assert_true(wait_for(api, LOAD_OF("node-a"), "\"metric\"", 20000));
    assert_true(wait_for(api, "/metrics",
                         "ember_aggregator_ingest_refused_total{reason=\"invalid_token\"} ",
                         20000));
    assert_false(wait_for(api, "/metrics",
                          "ember_aggregator_ingest_refused_total{reason=\"invalid_token\"} 0\n",
                          100));
    /* Let the bad agent try a few more times: still nothing of node-b. */
    sleep_ms(2000);
    ebuf b;
    ebuf_init(&b);
    assert_int_equal(get(api, LOAD_OF("node-b"), &b), 200);
    assert_non_null(strstr((char *)b.data, "\"result\":[]"));
    harness_log("agent-bad", &b);
    ebuf_putc(&b, '\0');
    assert_non_null(strstr((char *)b.data, "aggregator refused this agent"));
    assert_non_null(strstr((char *)b.data, "invalid token"));

    /* /api/v1/agents: both known, only the good one with samples. */
    assert_int_equal(get(api, "/api/v1/agents", &b), 200);
    const char *g = strstr((char *)b.data, "{\"id\":\"agent-good\",\"instance\":\"node-a\"");
    assert_non_null(g);
    assert_non_null(strstr(g, "\"address\":\"127.0.0.1:"));
    assert_null(strstr(g, "\"samples\":0,"));
    /* The refused one never got past Hello: no batch, errors counted. */
    const char *x = strstr((char *)b.data, "{\"id\":\"agent-bad\",");
    assert_non_null(x);
    char obj[512];
    snprintf(obj, sizeof obj, "%.*s", (int)strcspn(x, "}"), x);
    assert_non_null(strstr(obj, "\"batches\":0,\"samples\":0,"));
    assert_null(strstr(obj, "\"errors\":0,"));
    assert_non_null(strstr(obj, "\"lagSeconds\":null"));
    ebuf_free(&b);
}

static void test_tls(void **state)
{
    unsigned port = harness_free_port();
    char ingest[64], cert[600], key[600], ca[600];
    snprintf(ingest, sizeof ingest, "tls+tcp://127.0.0.1:%u", port);
    path(cert, sizeof cert, "server.pem");
    path(key, sizeof key, "server.key");
    path(ca, sizeof ca, "ca.pem");
    unsigned api = start_aggregator(
        "agg-tls", ingest, (char *[]){"--ingest.tls-cert", cert, "--ingest.tls-key", key, NULL});

    /* A plain tcp client on the TLS port: no answer, a clean error. */
    char plain[64];
    snprintf(plain, sizeof plain, "tcp://127.0.0.1:%u", port);
    nng_socket s;
    assert_int_equal(nng_req0_open(&s), 0);
    nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, 1000);
    nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 1000);
    assert_int_equal(nng_dial(s, plain, NULL, NNG_FLAG_NONBLOCK), 0);
    int rv = nng_send(s, "hello", 5, 0);
    char *buf = NULL;
    size_t n = 0;
    if (rv == 0)
        rv = nng_recv(s, &buf, &n, NNG_FLAG_ALLOC);
    assert_int_equal(rv, NNG_ETIMEDOUT);
    nng_close(s);

    start_agent("agent-tls", ingest,
                (char *[]){"--tls-ca", ca, "--tls-server-name", "localhost", "--instance",
                           "node-tls", NULL});
    assert_true(wait_for(api, LOAD_OF("node-tls"), "\"metric\"", 20000));
    assert_true(wait_for(api, "/-/healthy", "Healthy", 1000));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tokens),
        cmocka_unit_test(test_tls),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    nng_fini();
    return rc;
}
