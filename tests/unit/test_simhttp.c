/*
 * test_simhttp.c — the simulators' HTTP server over real loopback sockets,
 * driven with libcurl: routes, status codes, headers, keep-alive, bodies,
 * busy ports, addresses and concurrent scrapes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "simulators/simhttp.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define METRICS_TEXT "# TYPE up gauge\nup 1\n"

typedef struct fixture {
    simhttp *h;
    int renders; /* changed only under the server's mutex */
    char base[64];
} fixture;

typedef struct reply {
    long status;
    long new_connections;
    ebuf body;
    char content_type[128];
    char allow[128];
} reply;

/* ---- handlers ---- */

static void render_up(ebuf *out, void *ctx)
{
    fixture *f = ctx;
    f->renders++;
    ebuf_puts(out, METRICS_TEXT);
}

static void echo_body(const simhttp_request *req, simhttp_response *resp, void *ctx)
{
    resp->content_type = "application/octet-stream";
    ebuf_append(&resp->body, req->body, req->body_len);
}

static void echo_arg(const simhttp_request *req, simhttp_response *resp, void *ctx)
{
    const char *v = simhttp_request_arg(req, "name");
    resp->status = v ? 200 : 400;
    ebuf_puts(&resp->body, v ? v : "missing");
}

static void answer_first(const simhttp_request *req, simhttp_response *resp, void *ctx)
{
    ebuf_puts(&resp->body, "first");
}

static void answer_second(const simhttp_request *req, simhttp_response *resp, void *ctx)
{
    resp->status = 201;
    ebuf_puts(&resp->body, "second");
}

/* ---- client ---- */

static size_t collect_body(char *p, size_t size, size_t n, void *ud)
{
    ebuf_append(ud, p, size * n);
    return size * n;
}

static void copy_header_value(const char *line, size_t len, char *out, size_t outlen)
{
    const char *v = memchr(line, ':', len) + 1;
    while (*v == ' ')
        v++;
    size_t n = (size_t)(line + len - v);
    while (n > 0 && (v[n - 1] == '\r' || v[n - 1] == '\n'))
        n--;
    snprintf(out, outlen, "%.*s", (int)n, v);
}

static size_t collect_header(char *p, size_t size, size_t n, void *ud)
{
    reply *r = ud;
    size_t len = size * n;
    if (len > 13 && strncasecmp(p, "Content-Type:", 13) == 0)
        copy_header_value(p, len, r->content_type, sizeof r->content_type);
    else if (len > 6 && strncasecmp(p, "Allow:", 6) == 0)
        copy_header_value(p, len, r->allow, sizeof r->allow);
    return len;
}

/* One request on handle c (reused, so keep-alive shows); body may be NULL. */
static void request(CURL *c, const char *method, const char *url, const char *body, size_t body_len,
                    reply *r)
{
    memset(r, 0, sizeof *r);
    ebuf_init(&r->body);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOBODY, strcmp(method, "HEAD") == 0 ? 1L : 0L);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, strcmp(method, "HEAD") == 0 ? NULL : method);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)body_len);
    if (!body)
        curl_easy_setopt(c, CURLOPT_HTTPGET, strcmp(method, "HEAD") == 0 ? 0L : 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, collect_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK)
        fail_msg("%s %s: %s", method, url, curl_easy_strerror(rc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &r->new_connections);
}

static void fetch(fixture *f, const char *method, const char *path, reply *r)
{
    char url[256];
    snprintf(url, sizeof url, "%s%s", f->base, path);
    CURL *c = curl_easy_init();
    request(c, method, url, NULL, 0, r);
    curl_easy_cleanup(c);
}

/* ---- fixtures ---- */

static int start_server(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->h = simhttp_new();
    simhttp_metrics(f->h, "/metrics", render_up, f);
    simhttp_route(f->h, "POST", "/echo", echo_body, f);
    simhttp_route(f->h, "GET", "/arg", echo_arg, f);
    char err[256];
    if (simhttp_start(f->h, "127.0.0.1:0", err, sizeof err) != 0)
        fail_msg("start: %s", err);
    snprintf(f->base, sizeof f->base, "http://127.0.0.1:%u", simhttp_port(f->h));
    *state = f;
    return 0;
}

static int stop_server(void **state)
{
    fixture *f = *state;
    simhttp_free(f->h);
    free(f);
    return 0;
}

/* ---- tests ---- */

static void test_ephemeral_port_is_reported(void **state)
{
    fixture *f = *state;
    assert_true(simhttp_port(f->h) > 0);
}

static void test_metrics_served_with_exposition_type(void **state)
{
    fixture *f = *state;
    reply r;
    fetch(f, "GET", "/metrics", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.content_type, SIMHTTP_CONTENT_TYPE_METRICS);
    assert_string_equal(r.body.data, METRICS_TEXT);
    assert_int_equal(f->renders, 1);
    ebuf_free(&r.body);
}

static void test_connection_kept_alive(void **state)
{
    fixture *f = *state;
    char url[128];
    snprintf(url, sizeof url, "%s/metrics", f->base);
    CURL *c = curl_easy_init();
    reply r;
    for (int i = 0; i < 5; i++) {
        request(c, "GET", url, NULL, 0, &r);
        assert_int_equal(r.status, 200);
        /* Only the first request opens a connection: replies keep it open. */
        assert_int_equal(r.new_connections, i == 0 ? 1 : 0);
        ebuf_free(&r.body);
    }
    curl_easy_cleanup(c);
}

static void test_health_endpoints(void **state)
{
    fixture *f = *state;
    const char *paths[] = {"/-/healthy", "/health"};
    for (int i = 0; i < 2; i++) {
        reply r;
        fetch(f, "GET", paths[i], &r);
        assert_int_equal(r.status, 200);
        assert_string_equal(r.content_type, SIMHTTP_CONTENT_TYPE_TEXT);
        ebuf_free(&r.body);
    }
}

static void test_unknown_path_is_404(void **state)
{
    fixture *f = *state;
    const char *paths[] = {"/nope", "/metrics/", "/", "/METRICS"};
    for (int i = 0; i < 4; i++) {
        reply r;
        fetch(f, "GET", paths[i], &r);
        assert_int_equal(r.status, 404);
        assert_string_equal(r.body.data, "404 page not found\n");
        ebuf_free(&r.body);
    }
    reply r;
    fetch(f, "DELETE", "/nope", &r);
    assert_int_equal(r.status, 404);
    ebuf_free(&r.body);
}

static void test_wrong_method_is_405_with_allow(void **state)
{
    fixture *f = *state;
    reply r;
    fetch(f, "POST", "/metrics", &r);
    assert_int_equal(r.status, 405);
    assert_string_equal(r.allow, "GET, HEAD");
    assert_int_equal(f->renders, 0);
    ebuf_free(&r.body);
    fetch(f, "GET", "/echo", &r);
    assert_int_equal(r.status, 405);
    assert_string_equal(r.allow, "POST");
    ebuf_free(&r.body);
    fetch(f, "PUT", "/health", &r);
    assert_int_equal(r.status, 405);
    ebuf_free(&r.body);
}

static void test_head_is_get_without_body(void **state)
{
    fixture *f = *state;
    reply r;
    fetch(f, "HEAD", "/metrics", &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body.len, 0);
    assert_string_equal(r.content_type, SIMHTTP_CONTENT_TYPE_METRICS);
    ebuf_free(&r.body);
}

static void test_post_body_reaches_handler(void **state)
{
    fixture *f = *state;
    char url[128];
    snprintf(url, sizeof url, "%s/echo", f->base);
    /* Large enough to arrive in several chunks. */
    static char big[300000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)('a' + i % 26);
    CURL *c = curl_easy_init();
    reply r;
    request(c, "POST", url, big, sizeof big, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body.len, sizeof big);
    assert_memory_equal(r.body.data, big, sizeof big);
    assert_string_equal(r.content_type, "application/octet-stream");
    ebuf_free(&r.body);
    request(c, "POST", url, "", 0, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body.len, 0);
    ebuf_free(&r.body);
    curl_easy_cleanup(c);
}

static void test_oversized_body_is_413(void **state)
{
    fixture *f = *state;
    char url[128];
    snprintf(url, sizeof url, "%s/echo", f->base);
    size_t n = SIMHTTP_MAX_BODY + 1;
    char *big = calloc(1, n);
    memset(big, 'x', n);
    CURL *c = curl_easy_init();
    reply r;
    request(c, "POST", url, big, n, &r);
    assert_int_equal(r.status, 413);
    ebuf_free(&r.body);
    curl_easy_cleanup(c);
    free(big);
}

static void test_query_arguments(void **state)
{
    fixture *f = *state;
    reply r;
    fetch(f, "GET", "/arg?name=x%20y&other=1", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body.data, "x y");
    ebuf_free(&r.body);
    fetch(f, "GET", "/arg", &r);
    assert_int_equal(r.status, 400);
    ebuf_free(&r.body);
}

static void test_busy_port_is_an_error(void **state)
{
    fixture *f = *state;
    char addr[64], err[256];
    snprintf(addr, sizeof addr, "127.0.0.1:%u", simhttp_port(f->h));
    simhttp *other = simhttp_new();
    assert_int_equal(simhttp_start(other, addr, err, sizeof err), -1);
    assert_non_null(strstr(err, "Address already in use"));
    assert_non_null(strstr(err, addr));
    assert_int_equal(simhttp_port(other), 0);
    simhttp_free(other);
    /* The first server is unharmed. */
    reply r;
    fetch(f, "GET", "/metrics", &r);
    assert_int_equal(r.status, 200);
    ebuf_free(&r.body);
}

static void test_start_twice_is_an_error(void **state)
{
    fixture *f = *state;
    char err[256];
    assert_int_equal(simhttp_start(f->h, "127.0.0.1:0", err, sizeof err), -1);
    assert_non_null(strstr(err, "already started"));
}

static void test_bad_addresses(void **state)
{
    const char *bad[] = {"nonsense",      "127.0.0.1", "127.0.0.1:", "127.0.0.1:99999",
                         "127.0.0.1:80x", "::1:80",    "[::1]80",    "[::1"};
    simhttp *h = simhttp_new();
    char err[256];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(simhttp_start(h, bad[i], err, sizeof err), -1);
        assert_non_null(strstr(err, "HOST:PORT"));
    }
    assert_int_equal(simhttp_start(h, "no-such-host.invalid:9400", err, sizeof err), -1);
    assert_non_null(strstr(err, "no-such-host.invalid"));
    simhttp_free(h);
}

static void test_split_addr(void **state)
{
    char host[64], port[8];
    assert_int_equal(simhttp_split_addr("127.0.0.1:9400", host, sizeof host, port, sizeof port), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_string_equal(port, "9400");
    assert_int_equal(simhttp_split_addr("[::1]:0", host, sizeof host, port, sizeof port), 0);
    assert_string_equal(host, "::1");
    assert_string_equal(port, "0");
    assert_int_equal(simhttp_split_addr(":9400", host, sizeof host, port, sizeof port), 0);
    assert_string_equal(host, "");
    assert_string_equal(port, "9400");
    assert_int_equal(simhttp_split_addr("localhost:65535", host, sizeof host, port, sizeof port),
                     0);
    assert_int_equal(simhttp_split_addr("a-very-long-host-name:1", host, 8, port, sizeof port), -1);
}

static void test_ipv6_loopback(void **state)
{
    simhttp *h = simhttp_new();
    char err[256], url[64];
    if (simhttp_start(h, "[::1]:0", err, sizeof err) != 0) {
        simhttp_free(h);
        skip(); /* no IPv6 on this host */
    }
    snprintf(url, sizeof url, "http://[::1]:%u/health", simhttp_port(h));
    CURL *c = curl_easy_init();
    reply r;
    request(c, "GET", url, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    ebuf_free(&r.body);
    curl_easy_cleanup(c);
    simhttp_free(h);
}

static void test_route_replaced(void **state)
{
    simhttp *h = simhttp_new();
    simhttp_route(h, "GET", "/x", answer_first, NULL);
    simhttp_route(h, "GET", "/x", answer_second, NULL);
    char err[256];
    assert_int_equal(simhttp_start(h, "127.0.0.1:0", err, sizeof err), 0);
    fixture f = {h, 0, ""};
    snprintf(f.base, sizeof f.base, "http://127.0.0.1:%u", simhttp_port(h));
    reply r;
    fetch(&f, "GET", "/x", &r);
    assert_int_equal(r.status, 201);
    assert_string_equal(r.body.data, "second");
    ebuf_free(&r.body);
    simhttp_free(h);
}

static void test_stop_and_restart(void **state)
{
    simhttp *h = simhttp_new();
    char err[256], url[64];
    assert_int_equal(simhttp_start(h, "127.0.0.1:0", err, sizeof err), 0);
    uint16_t port = simhttp_port(h);
    simhttp_stop(h);
    assert_int_equal(simhttp_port(h), 0);
    snprintf(url, sizeof url, "http://127.0.0.1:%u/health", port);
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 5L);
    assert_int_equal(curl_easy_perform(c), CURLE_COULDNT_CONNECT);
    curl_easy_cleanup(c);
    /* The same port is free again at once (SO_REUSEADDR). */
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%u", port);
    if (simhttp_start(h, addr, err, sizeof err) != 0)
        fail_msg("restart: %s", err);
    assert_int_equal(simhttp_port(h), port);
    simhttp_free(h);
}

#define SCRAPERS 4
#define SCRAPES_EACH 50

static void *scrape_loop(void *arg)
{
    fixture *f = arg;
    char url[128];
    snprintf(url, sizeof url, "%s/metrics", f->base);
    CURL *c = curl_easy_init();
    long ok = 0;
    for (int i = 0; i < SCRAPES_EACH; i++) {
        reply r;
        request(c, "GET", url, NULL, 0, &r);
        ok += r.status == 200 && strcmp(r.body.data, METRICS_TEXT) == 0;
        ebuf_free(&r.body);
    }
    curl_easy_cleanup(c);
    return (void *)ok;
}

static void test_concurrent_scrapes(void **state)
{
    fixture *f = *state;
    pthread_t t[SCRAPERS];
    for (int i = 0; i < SCRAPERS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, scrape_loop, f), 0);
    long ok = 0;
    for (int i = 0; i < SCRAPERS; i++) {
        void *res;
        pthread_join(t[i], &res);
        ok += (long)res;
    }
    assert_int_equal(ok, SCRAPERS * SCRAPES_EACH);
    simhttp_lock(f->h);
    assert_int_equal(f->renders, SCRAPERS * SCRAPES_EACH);
    simhttp_unlock(f->h);
}

#define WITH_SERVER(t) cmocka_unit_test_setup_teardown(t, start_server, stop_server)

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        WITH_SERVER(test_ephemeral_port_is_reported),
        WITH_SERVER(test_metrics_served_with_exposition_type),
        WITH_SERVER(test_connection_kept_alive),
        WITH_SERVER(test_health_endpoints),
        WITH_SERVER(test_unknown_path_is_404),
        WITH_SERVER(test_wrong_method_is_405_with_allow),
        WITH_SERVER(test_head_is_get_without_body),
        WITH_SERVER(test_post_body_reaches_handler),
        WITH_SERVER(test_oversized_body_is_413),
        WITH_SERVER(test_query_arguments),
        WITH_SERVER(test_busy_port_is_an_error),
        WITH_SERVER(test_start_twice_is_an_error),
        cmocka_unit_test(test_bad_addresses),
        cmocka_unit_test(test_split_addr),
        cmocka_unit_test(test_ipv6_loopback),
        cmocka_unit_test(test_route_replaced),
        cmocka_unit_test(test_stop_and_restart),
        WITH_SERVER(test_concurrent_scrapes),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
