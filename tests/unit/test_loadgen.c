/*
 * test_loadgen.c — the load generator: its plan over 1,000 deterministic
 * requests (gaps, targets, endpoints) and real runs against the demo app on
 * a loopback server, bounded by count and by duration.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/etime.h"
#include "simulators/demoapp.h"
#include "simulators/loadgen.h"
#include "tests/unit/simcheck.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#define PLANS 1000

static void test_gaps_average_the_interval(void **state)
{
    loadgen lg;
    loadgen_config cfg = {"http://127.0.0.1:1", NULL, 5000, 1000, 1};
    loadgen_init(&lg, &cfg);
    double sum = 0;
    for (int i = 0; i < PLANS; i++) {
        int64_t d = loadgen_next_delay_ms(&lg);
        assert_in_range(d, 2500, 7500);
        sum += (double)d;
    }
    /* Uniform(2500, 7500): sd of the mean of 1000 is 45.6 ms; allow 6 sd. */
    assert_true(sum / PLANS > 5000 - 275 && sum / PLANS < 5000 + 275);
    loadgen_free(&lg);
}

static void count_picks(const loadgen_config *cfg, uint64_t *test, uint64_t *health,
                        uint64_t *nginx)
{
    loadgen lg;
    loadgen_init(&lg, cfg);
    *test = *health = *nginx = 0;
    for (int i = 0; i < PLANS; i++) {
        loadgen_request rq;
        loadgen_pick(&lg, &rq);
        if (strcmp(rq.target, "nginx") == 0) {
            assert_true(strncmp(rq.url, "http://127.0.0.1:2/", 19) == 0);
            (*nginx)++;
        } else if (strcmp(rq.url, "http://127.0.0.1:1/api/test") == 0)
            (*test)++;
        else {
            assert_string_equal(rq.url, "http://127.0.0.1:1/health");
            (*health)++;
        }
    }
    loadgen_free(&lg);
}

static void test_targets_and_endpoints_are_mixed(void **state)
{
    uint64_t test, health, nginx;
    loadgen_config app_only = {"http://127.0.0.1:1", "", 10, 1000, 2};
    count_picks(&app_only, &test, &health, &nginx);
    assert_int_equal(nginx, 0);
    assert_in_range(test, simcheck_binomial_quantile(PLANS, 0.75, 1e-6),
                    simcheck_binomial_quantile(PLANS, 0.75, 1 - 1e-6));
    loadgen_config both = {"http://127.0.0.1:1", "http://127.0.0.1:2", 10, 1000, 2};
    count_picks(&both, &test, &health, &nginx);
    assert_in_range(nginx, simcheck_binomial_quantile(PLANS, 1.0 / 3, 1e-6),
                    simcheck_binomial_quantile(PLANS, 1.0 / 3, 1 - 1e-6));
    assert_true(test > 0 && health > 0);
}

/* A real demo app on a free loopback port. */
typedef struct server {
    demoapp *app;
    httpd *h;
    char url[64];
} server;

static void server_start(server *s, double error_share)
{
    demoapp_config cfg = {error_share, 0.001, 4};
    s->app = demoapp_new(&cfg);
    s->h = httpd_new(&(httpd_options){.threads = 2});
    demoapp_route(s->app, s->h);
    char err[256];
    assert_int_equal(httpd_start(s->h, "127.0.0.1:0", err, sizeof err), 0);
    snprintf(s->url, sizeof s->url, "http://127.0.0.1:%u", httpd_port(s->h));
}

static void server_stop(server *s)
{
    httpd_free(s->h);
    demoapp_free(s->app);
}

static void test_run_bounded_by_count(void **state)
{
    server s;
    server_start(&s, 0.5);
    /* "nginx" on a port bound but not listening: refused, counted as 0. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
    char nginx[64];
    snprintf(nginx, sizeof nginx, "http://127.0.0.1:%u", ntohs(a.sin_port));
    loadgen lg;
    loadgen_config cfg = {s.url, nginx, 1, 2000, 6};
    loadgen_init(&lg, &cfg);
    loadgen_run_opts o = {.count = 60};
    loadgen_run(&lg, &o);
    assert_int_equal(lg.sent, 60);
    uint64_t ok = loadgen_count(&lg, "app", 200), err = loadgen_count(&lg, "app", 500);
    uint64_t down = loadgen_count(&lg, "nginx", 0);
    assert_true(err > 0 && ok > 0 && down > 0); /* a mix of 200 and 500 */
    assert_int_equal(ok + err + down, 60);
    /* The app counted exactly what the generator saw. */
    assert_int_equal(demoapp_requests(s.app, "/api/test", 500), err);
    assert_int_equal(
        demoapp_requests(s.app, "/api/test", 200) + demoapp_requests(s.app, "/health", 200), ok);
    metric_set ms;
    metric_set_init(&ms);
    loadgen_collect(&lg, &ms);
    ebuf text;
    ebuf_init(&text);
    expfmt_write(&text, &ms);
    simcheck_promtool(text.data, text.len);
    assert_non_null(strstr(text.data, "loadgen_requests_total{status=\"500\",target=\"app\"}"));
    ebuf_free(&text);
    metric_set_free(&ms);
    loadgen_free(&lg);
    close(fd);
    server_stop(&s);
}

static bool stop_after_five(void *ctx)
{
    return ((loadgen *)ctx)->sent >= 5;
}

static void test_run_bounded_by_duration_and_stop(void **state)
{
    server s;
    server_start(&s, 0.1);
    loadgen lg;
    loadgen_config cfg = {s.url, NULL, 100, 2000, 7};
    loadgen_init(&lg, &cfg);
    int64_t t0 = mono_ms();
    loadgen_run_opts o = {.duration_ms = 500};
    loadgen_run(&lg, &o);
    int64_t took = mono_ms() - t0;
    /* Gaps of 50-150 ms in 500 ms: 4-11 requests, and no overrun beyond a
     * stop-check slice and one request. */
    assert_in_range(lg.sent, 4, 11);
    assert_true(took >= 500 && took < 1500);
    loadgen_free(&lg);

    loadgen_init(&lg, &cfg);
    loadgen_run_opts until = {.stop = stop_after_five, .ctx = &lg};
    loadgen_run(&lg, &until);
    assert_int_equal(lg.sent, 5);
    loadgen_free(&lg);
    server_stop(&s);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gaps_average_the_interval),
        cmocka_unit_test(test_targets_and_endpoints_are_mixed),
        cmocka_unit_test(test_run_bounded_by_count),
        cmocka_unit_test(test_run_bounded_by_duration_and_stop),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
