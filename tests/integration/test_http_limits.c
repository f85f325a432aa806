/*
 * test_http_limits.c — the aggregator's resource limits, each proven on a
 * real ember-aggregator over loopback, which must go on serving after
 * every one: a 1 GiB remote-write or import body is refused with 413
 * before it is sent; 1,000 idle connections do not keep a query from being
 * answered; a client sending its request a byte at a time is cut off at
 * --http.read-timeout; a catastrophically backtracking regex ends the query
 * with an execution error; a query over too many samples hits
 * --query.max-samples; 10,000 nested parentheses hit the parser's depth
 * limit.  Times measured are printed, never asserted tightly (no timing
 * limits in tests: only "bounded", i.e. far below a hang).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/etime.h"
#include "tests/integration/harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define IDLE_CONNECTIONS 1000
#define READ_TIMEOUT_S 4

static unsigned port;
static pid_t agg;
static char base[64];

static int setup(void **state)
{
    port = harness_free_port();
    char rt[32];
    snprintf(rt, sizeof rt, "%ds", READ_TIMEOUT_S);
    const char *const extra[] = {"--http.read-timeout",
                                 rt,
                                 "--query.max-samples",
                                 "1000",
                                 "--self-scrape.interval",
                                 "0s",
                                 NULL};
    agg = harness_spawn_aggregator("aggregator", port, extra);
    snprintf(base, sizeof base, "http://127.0.0.1:%u", port);
    return 0;
}

static int teardown(void **state)
{
    harness_stop(agg, 10000);
    harness_cleanup();
    return 0;
}

/* ---- helpers ---- */

static int dial(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

/* Read until the server closes or timeout_ms passes; true when it closed. */
static bool read_until_closed(int fd, ebuf *out, int timeout_ms)
{
    int64_t end = mono_ms() + timeout_ms;
    for (;;) {
        int left = (int)(end - mono_ms());
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (left <= 0 || poll(&p, 1, left) <= 0)
            return false;
        char buf[4096];
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n <= 0)
            return true;
        ebuf_append(out, buf, (size_t)n);
    }
}

static void assert_still_serving(void)
{
    char url[128];
    snprintf(url, sizeof url, "%s/api/v1/query?query=1", base);
    ebuf b;
    ebuf_init(&b);
    assert_int_equal(harness_http(url, NULL, &b), 200);
    ebuf_free(&b);
    assert_true(harness_alive(agg));
}

/* POST form (already encoded) to path; status, body in out. */
static long post(const char *path, const char *form, ebuf *out)
{
    char url[256];
    snprintf(url, sizeof url, "%s%s", base, path);
    ebuf_reset(out);
    return harness_http(url, form, out);
}

/* ---- the limits ---- */

static void test_gigabyte_bodies_refused_early(void **state)
{
    const char *paths[] = {"/api/v1/write", "/api/v1/import/prometheus"};
    for (size_t i = 0; i < 2; i++) {
        int fd = dial();
        assert_true(fd >= 0);
        char req[512];
        snprintf(req, sizeof req,
                 "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
                 "Content-Encoding: snappy\r\nContent-Length: 1073741824\r\n\r\n"
                 "the first bytes of a gigabyte",
                 paths[i]);
        int64_t t0 = mono_ms();
        assert_int_equal(send(fd, req, strlen(req), MSG_NOSIGNAL), (ssize_t)strlen(req));
        ebuf r;
        ebuf_init(&r);
        assert_true(read_until_closed(fd, &r, 10000));
        print_message("%s, Content-Length 1 GiB: answered in %lld ms\n", paths[i],
                      (long long)(mono_ms() - t0));
        assert_non_null(strstr(r.data, "HTTP/1.1 413"));
        assert_non_null(strstr(r.data, "\"errorType\":\"bad_data\""));
        ebuf_free(&r);
        close(fd);
    }
    assert_still_serving();
}

static void raise_fd_limit(rlim_t want)
{
    struct rlimit rl;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_cur < want) {
        rl.rlim_cur = want < rl.rlim_max ? want : rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* Connections of fds the server has not closed. */
static int still_open(const int *fds, int n)
{
    int alive = 0;
    for (int i = 0; i < n; i++) {
        struct pollfd p = {.fd = fds[i], .events = POLLIN};
        alive += poll(&p, 1, 0) == 0;
    }
    return alive;
}

/* 1,000 connections that never send a byte: the query is answered while
 * they are open, and the read deadline then frees them all (an idle
 * connection costs its slot for --http.read-timeout, not for ever). */
static void test_idle_connections_do_not_block_a_query(void **state)
{
    raise_fd_limit(IDLE_CONNECTIONS + 256);
    int fds[IDLE_CONNECTIONS], n = 0;
    int64_t opened = mono_ms();
    for (int i = 0; i < IDLE_CONNECTIONS; i++)
        if ((fds[n] = dial()) >= 0)
            n++;
    assert_int_equal(n, IDLE_CONNECTIONS);
    usleep(300 * 1000); /* let the server accept them all */
    int64_t t0 = mono_ms();
    assert_still_serving();
    print_message("query with %d idle connections open: answered in %lld ms\n", n,
                  (long long)(mono_ms() - t0));
    int alive = still_open(fds, n);
    print_message("%d of %d idle connections open %lld ms after the first\n", alive, n,
                  (long long)(mono_ms() - opened));
    if (mono_ms() - opened < READ_TIMEOUT_S * 1000 - 500)
        assert_int_equal(alive, n); /* none refused below the limit */
    usleep((READ_TIMEOUT_S * 1000 + 1500) * 1000);
    alive = still_open(fds, n);
    print_message("%d open after the read timeout\n", alive);
    assert_int_equal(alive, 0);
    for (int i = 0; i < n; i++)
        close(fds[i]);
    assert_still_serving();
}

static void test_slow_client_cut_at_read_timeout(void **state)
{
    int fd = dial();
    assert_true(fd >= 0);
    const char *req = "GET /api/v1/query?query=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
                      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
    int64_t t0 = mono_ms();
    bool closed = false;
    for (const char *c = req; *c && !closed; c++) {
        if (send(fd, c, 1, MSG_NOSIGNAL) != 1)
            break;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        char b;
        closed = poll(&p, 1, 200) == 1 && recv(fd, &b, 1, 0) <= 0;
    }
    ebuf r;
    ebuf_init(&r);
    closed = closed || read_until_closed(fd, &r, 5000);
    int64_t took = mono_ms() - t0;
    print_message("byte-a-second client cut after %lld ms (read timeout %d s)\n", (long long)took,
                  READ_TIMEOUT_S);
    assert_true(closed);
    assert_true(took >= READ_TIMEOUT_S * 1000 && took < (READ_TIMEOUT_S + 3) * 1000);
    ebuf_free(&r);
    close(fd);
    assert_still_serving();
}

static void test_pathological_regex_is_an_error(void **state)
{
    ebuf b;
    ebuf_init(&b);
    char line[256];
    snprintf(line, sizeof line, "patho{a=\"%s!\"} 1 %lld\n",
             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", (long long)now_ms());
    assert_int_equal(post("/api/v1/import/prometheus", line, &b), 200);
    int64_t t0 = mono_ms();
    /* patho{a=~"(a+)+$"}: 2^40 ways to split the a's before '!' fails */
    long st = post("/api/v1/query", "query=patho%7Ba%3D~%22(a%2B)%2B%24%22%7D", &b);
    print_message("(a+)+$ against 40 a's and a '!': %ld in %lld ms: %s\n", st,
                  (long long)(mono_ms() - t0), b.data);
    assert_int_equal(st, 422);
    assert_non_null(strstr(b.data, "\"errorType\":\"execution\""));
    assert_non_null(strstr(b.data, "regex match limit exceeded"));
    /* A sane regex on the same series still answers. */
    assert_int_equal(post("/api/v1/query", "query=patho%7Ba%3D~%22a%2B!%22%7D", &b), 200);
    assert_non_null(strstr(b.data, "\"patho\""));
    ebuf_free(&b);
    assert_still_serving();
}

static void test_too_many_samples_is_an_error(void **state)
{
    ebuf in, b;
    ebuf_init(&in);
    ebuf_init(&b);
    int64_t t = now_ms() - 3000 * 1000;
    for (int i = 0; i < 3000; i++)
        ebuf_printf(&in, "many_samples 1 %lld\n", (long long)(t + i * 1000LL));
    assert_int_equal(post("/api/v1/import/prometheus", in.data, &b), 200);
    /* A range query over the last hour at 1 s steps: 3,000 points. */
    char form[160];
    snprintf(form, sizeof form, "query=many_samples&start=%lld&end=%lld&step=1",
             (long long)(t / 1000), (long long)(t / 1000 + 3600));
    long st = post("/api/v1/query_range", form, &b);
    assert_int_equal(st, 422);
    assert_non_null(strstr(b.data, "query processing would load too many samples into memory"));
    ebuf_free(&in);
    ebuf_free(&b);
    assert_still_serving();
}

static void test_deep_nesting_is_a_parse_error(void **state)
{
    enum { DEPTH = 10000 };
    ebuf q, b;
    ebuf_init(&q);
    ebuf_init(&b);
    ebuf_puts(&q, "query=");
    for (int i = 0; i < DEPTH; i++)
        ebuf_putc(&q, '(');
    ebuf_putc(&q, '1');
    for (int i = 0; i < DEPTH; i++)
        ebuf_putc(&q, ')');
    int64_t t0 = mono_ms();
    long st = post("/api/v1/query", q.data, &b);
    print_message("10,000 nested parentheses: %ld in %lld ms\n", st, (long long)(mono_ms() - t0));
    assert_int_equal(st, 400);
    assert_non_null(strstr(b.data, "\"errorType\":\"bad_data\""));
    assert_non_null(strstr(b.data, "nests deeper than"));
    ebuf_free(&q);
    ebuf_free(&b);
    assert_still_serving();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gigabyte_bodies_refused_early),
        cmocka_unit_test(test_idle_connections_do_not_block_a_query),
        cmocka_unit_test(test_slow_client_cut_at_read_timeout),
        cmocka_unit_test(test_pathological_regex_is_an_error),
        cmocka_unit_test(test_too_many_samples_is_an_error),
        cmocka_unit_test(test_deep_nesting_is_a_parse_error),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
