/*
 * test_query_cancel.c — a PromQL query stops when its HTTP client goes
 * away, proven on a real ember-aggregator over loopback with
 * --query.max-concurrency 1 and a store big enough (5,000 series) that the
 * heavy query below takes seconds.
 *
 *  - A client that closes its socket 200 ms into a range query: the query
 *    is counted in ember_aggregator_query_errors_total{type="canceled"} and
 *    logged, and a light query sent right after is answered — with one slot
 *    it can only run once the heavy one has left it, and the heavy one
 *    left canceled, not finished (its success would never bump the
 *    counter).
 *  - A client that half-closes after its request: gone, as in Go's
 *    net/http; it still reads the answer, Prometheus 2.42's 503
 *    errorType "canceled".
 *  - A client that goes while its query waits for the slot: canceled in
 *    the queue ("query was canceled in query queue", as Prometheus's
 *    GetSpaceForNextQuery(ctx) says it).
 *
 * Ordering and counters are asserted, never durations; the waits are
 * bounds against a hang, and the times seen are printed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/etime.h"
#include "common/expfmt.h"
#include "tests/integration/harness.h"
#include "tests/unit/metric_asserts.h"

#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define SERIES 5000
#define SAMPLES 120     /* one every 30 s over the last hour */
#define BOUND_MS 120000 /* far above any real wait: only a hang trips it */
/* sum(quantile_over_time(0.5, heavy[1h])), each series' window sorted at
 * every step: seconds of work, a one-series answer. */
#define HEAVY_QUERY "sum%28quantile_over_time%280.5%2Cheavy%5B1h%5D%29%29"

static unsigned port;
static pid_t agg;
static char base[64];
static int64_t data_end_s; /* the newest sample's time, seconds */

static void import_store(void)
{
    ebuf in, out;
    ebuf_init(&in);
    ebuf_init(&out);
    int64_t end = now_ms() / 1000 * 1000;
    for (int s = 0; s < SERIES; s++)
        for (int k = 0; k < SAMPLES; k++)
            ebuf_printf(&in, "heavy{i=\"%d\"} %d %lld\n", s, (s + k * 7) % 101,
                        (long long)(end - (SAMPLES - 1 - k) * 30000LL));
    ebuf_putc(&in, '\0');
    char url[128];
    snprintf(url, sizeof url, "%s/api/v1/import/prometheus", base);
    assert_int_equal(harness_http(url, (const char *)in.data, &out), 200);
    data_end_s = end / 1000;
    ebuf_free(&in);
    ebuf_free(&out);
}

static int setup(void **state)
{
    (void)state;
    port = harness_free_port();
    const char *const extra[] = {"--query.max-concurrency", "1",  "--log.level", "debug",
                                 "--self-scrape.interval",  "0s", NULL};
    agg = harness_spawn_aggregator("aggregator", port, extra);
    snprintf(base, sizeof base, "http://127.0.0.1:%u", port);
    import_store();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    harness_stop(agg, 10000);
    harness_cleanup();
    return 0;
}

/* ---- helpers ---- */

/* One sample of the aggregator's /metrics (no other labels); NAN if absent. */
static double self_metric(const char *name, const char *lname, const char *lvalue)
{
    char url[128];
    snprintf(url, sizeof url, "%s/metrics", base);
    ebuf b;
    ebuf_init(&b);
    double v = NAN;
    metric_set ms;
    metric_set_init(&ms);
    expfmt_error err;
    if (harness_http(url, NULL, &b) == 200 &&
        expfmt_parse((const char *)b.data, b.len, NULL, &ms, &err) == 0) {
        const metric_sample *s =
            lname ? find_sample(&ms, name, lname, lvalue, NULL) : find_sample(&ms, name, NULL);
        if (s)
            v = s->value;
    }
    metric_set_free(&ms);
    ebuf_free(&b);
    return v;
}

static double canceled_total(void)
{
    return self_metric("ember_aggregator_query_errors_total", "type", "canceled");
}

/* Wait (bounded) until a gauge of /metrics reads want. */
static void wait_gauge(const char *name, double want)
{
    int64_t until = mono_ms() + BOUND_MS;
    while (self_metric(name, NULL, NULL) != want && mono_ms() < until)
        usleep(10000);
    assert_true(self_metric(name, NULL, NULL) == want);
}

/* Wait (bounded) until the canceled counter reads want. */
static void wait_canceled(double want)
{
    int64_t until = mono_ms() + BOUND_MS;
    while (canceled_total() != want && mono_ms() < until)
        usleep(10000);
    assert_true(canceled_total() == want);
}

/* Send the heavy range query over a raw socket (left open); returns it. */
static int start_heavy_query(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    char req[512];
    int n = snprintf(req, sizeof req,
                     "GET /api/v1/query_range?query=%s&start=%lld&end=%lld&step=3 HTTP/1.1\r\n"
                     "Host: 127.0.0.1\r\n\r\n",
                     HEAVY_QUERY, (long long)(data_end_s - 3600), (long long)data_end_s);
    assert_int_equal(send(fd, req, (size_t)n, MSG_NOSIGNAL), n);
    return fd;
}

/* A light query answers 200; returns how long it took (ms). */
static int64_t light_query(void)
{
    char url[128];
    snprintf(url, sizeof url, "%s/api/v1/query?query=1%%2B1", base);
    ebuf b;
    ebuf_init(&b);
    int64_t t0 = mono_ms();
    assert_int_equal(harness_http(url, NULL, &b), 200);
    int64_t took = mono_ms() - t0;
    ebuf_putc(&b, '\0');
    assert_non_null(strstr((const char *)b.data, "\"2\""));
    ebuf_free(&b);
    return took;
}

/* Read the answer until the server closes (it does: the client said it
 * sends no more) or BOUND_MS passes. */
static void read_answer(int fd, ebuf *out)
{
    struct timeval tv = {.tv_sec = BOUND_MS / 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char buf[4096];
    ssize_t n;
    while ((n = recv(fd, buf, sizeof buf, 0)) > 0)
        ebuf_append(out, buf, (size_t)n);
    ebuf_putc(out, '\0');
}

#define STARTED "msg=\"query started\" kind=range"

/*
 * Wait (bounded) until the server's log says a range query took the slot
 * (the after-th one).  The log, not the queries_active gauge: the line stays
 * once written, while a gauge read can miss a query that is already over
 * (when the API ran on a thread pool, a /metrics request could even wait
 * behind the heavy query on its thread and always read 0 afterwards).
 */
static void wait_started(int after)
{
    int64_t until = mono_ms() + BOUND_MS;
    while (harness_log_count("aggregator", STARTED) <= after && mono_ms() < until)
        usleep(10000);
    assert_true(harness_log_count("aggregator", STARTED) > after);
}

/* ---- the cases ---- */

static void test_closed_client_frees_the_slot(void **state)
{
    (void)state;
    double before = canceled_total();
    int started = harness_log_count("aggregator", STARTED);
    int fd = start_heavy_query();
    wait_started(started); /* it holds the one slot */
    usleep(200000);
    close(fd);
    int64_t took = light_query();
    print_message("light query answered %lld ms after the heavy one's client closed\n",
                  (long long)took);
    wait_canceled(before + 1);
    assert_true(harness_log_count("aggregator", "msg=\"query canceled, client gone\" kind=range") >
                0);
    wait_gauge("ember_aggregator_queries_active", 0);
}

static void test_half_closed_client_reads_canceled(void **state)
{
    (void)state;
    double before = canceled_total();
    int started = harness_log_count("aggregator", STARTED);
    int fd = start_heavy_query();
    wait_started(started);
    usleep(200000);
    assert_int_equal(shutdown(fd, SHUT_WR), 0);
    ebuf answer;
    ebuf_init(&answer);
    read_answer(fd, &answer);
    close(fd);
    const char *a = (const char *)answer.data;
    assert_true(strncmp(a, "HTTP/1.1 503 ", 13) == 0);
    assert_non_null(strstr(a, "\"status\":\"error\",\"errorType\":\"canceled\","
                              "\"error\":\"query was canceled in query execution\""));
    ebuf_free(&answer);
    wait_canceled(before + 1);
    light_query();
}

/* Nothing outside tells that a query waits for the slot, so the queued
 * one is given 200 ms to reach the queue.  Had it not reached it, it would
 * still be canceled there: the queue looks at the flag first. */
static void test_client_gone_while_queued(void **state)
{
    (void)state;
    double before = canceled_total();
    int started = harness_log_count("aggregator", STARTED);
    int holder = start_heavy_query();
    wait_started(started);
    int queued = start_heavy_query();
    usleep(200000);
    close(queued);
    wait_canceled(before + 1);
    assert_true(harness_log_count("aggregator", "reason=\"query was canceled in query queue\"") >
                0);
    close(holder);
    wait_gauge("ember_aggregator_queries_active", 0);
    light_query();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_closed_client_frees_the_slot),
        cmocka_unit_test(test_half_closed_client_reads_canceled),
        cmocka_unit_test(test_client_gone_while_queued),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
