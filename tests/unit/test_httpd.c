/*
 * test_httpd.c — common/httpd, the one HTTP server, over real loopback
 * sockets driven with libcurl: form decoding, addresses, routing, status
 * codes and their bodies (plain and a JSON formatter), headers both ways,
 * bodies and limits, keep-alive, connection options, IPv6, and both
 * threading setups — a serialised server as the simulators run it
 * (simulators/simhttp.c, whose endpoints are tested here too) and an
 * unserialised pool as the aggregator runs it.  Streamed bodies
 * (httpd_response_stream): chunked, produced piece by piece as the client
 * reads, released exactly once whether sent, cut off or never sent.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/httpd.h"
#include "simulators/simhttp.h"

#include <curl/curl.h>
#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define METRICS_TEXT "# TYPE up gauge\nup 1\n"
#define MAX_BODY (512u << 10)

typedef struct fixture {
    httpd *h;
    simhttp sim; /* set for the simulators' server */
    int renders; /* changed only under the server's mutex */
    atomic_int hits;
    atomic_int streams_freed;
    atomic_int pieces_made; /* by every stream so far */
    char base[64];
} fixture;

typedef struct reply {
    long status;
    long new_connections;
    ebuf body;
    char content_type[128];
    char allow[128];
    char encoding[64];
} reply;

/* ---- handlers ---- */

/* "METHOD PATH name=value..." */
static void echo(void *ctx, const httpd_request *req, httpd_response *resp)
{
    ebuf_printf(&resp->body, "%s %s", req->method, req->path);
    for (size_t i = 0; i < req->nparams; i++)
        ebuf_printf(&resp->body, " %s=%s", req->params[i].name, req->params[i].value);
}

static void echo_body(void *ctx, const httpd_request *req, httpd_response *resp)
{
    resp->content_type = "application/octet-stream";
    ebuf_append(&resp->body, req->body, req->body_len);
}

/* The first "name", as r.FormValue would give it. */
static void echo_value(void *ctx, const httpd_request *req, httpd_response *resp)
{
    const char *v = httpd_param_get(req, "name");
    resp->status = v ? 200 : 400;
    ebuf_puts(&resp->body, v ? v : "missing");
}

static void echo_auth(void *ctx, const httpd_request *req, httpd_response *resp)
{
    const char *v = httpd_header(req, "authorization");
    ebuf_puts(&resp->body, v ? v : "none");
    httpd_response_header(resp, "Content-Encoding", "identity");
}

static void count_hit(void *ctx, const httpd_request *req, httpd_response *resp)
{
    fixture *f = ctx;
    atomic_fetch_add(&f->hits, 1);
    ebuf_puts(&resp->body, "ok");
}

/* A streamed body: "piece 0\n" ... "piece n-1\n", one piece per call. */
typedef struct pieces {
    fixture *f;
    int next, n;
} pieces;

static bool make_piece(void *cls, ebuf *out)
{
    pieces *p = cls;
    if (p->next == p->n)
        return false;
    ebuf_printf(out, "piece %d\n", p->next++);
    atomic_fetch_add(&p->f->pieces_made, 1);
    return true;
}

static void free_pieces(void *cls)
{
    pieces *p = cls;
    atomic_fetch_add(&p->f->streams_freed, 1);
    free(p);
}

/* /stream?n=N streams N pieces; with fail=1 the handler then replaces the
 * stream by an error, which must release it unsent. */
static void stream_pieces(void *ctx, const httpd_request *req, httpd_response *resp)
{
    const char *n = httpd_param_get(req, "n");
    pieces *p = calloc(1, sizeof *p);
    *p = (pieces){.f = ctx, .n = n ? atoi(n) : 0};
    resp->content_type = HTTPD_CONTENT_TYPE_JSON;
    httpd_response_header(resp, "X-Stream", "yes");
    httpd_response_stream(resp, make_piece, free_pieces, p);
    if (httpd_param_get(req, "fail")) {
        httpd_response_stream(resp, NULL, NULL, NULL);
        resp->status = 500;
        ebuf_puts(&resp->body, "failed");
    }
}

static void render_up(ebuf *out, void *ctx)
{
    fixture *f = ctx;
    f->renders++;
    ebuf_puts(out, METRICS_TEXT);
}

/* Prometheus's error envelope, as the aggregator formats errors. */
static void json_error(httpd_response *resp, int status, const char *msg)
{
    resp->status = status;
    resp->content_type = HTTPD_CONTENT_TYPE_JSON;
    ebuf_reset(&resp->body);
    ebuf_printf(&resp->body, "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"%s\"}",
                msg);
}

/* ---- client ---- */

static size_t collect_body(char *p, size_t size, size_t n, void *ud)
{
    ebuf_append(ud, p, size * n);
    return size * n;
}

/* A reply header's value, or "" when absent. */
static void copy_header(CURL *c, const char *name, char *out, size_t outlen)
{
    struct curl_header *h;
    bool found = curl_easy_header(c, name, 0, CURLH_HEADER, -1, &h) == CURLHE_OK;
    snprintf(out, outlen, "%s", found ? h->value : "");
}

/* What to send: body may be NULL; header is one extra request header line. */
typedef struct call {
    const char *method;
    char url[160];
    const char *body;
    size_t body_len;
    const char *header;
} call;

static call to(const fixture *f, const char *method, const char *path, const char *body)
{
    call q = {.method = method, .body = body, .body_len = body ? strlen(body) : 0};
    snprintf(q.url, sizeof q.url, "%s%s", f->base, path);
    return q;
}

/* One request on handle c (reused, so keep-alive shows); CURLcode back. */
static CURLcode perform(CURL *c, const call *q, reply *r)
{
    bool head = strcmp(q->method, "HEAD") == 0;
    struct curl_slist *hdrs = q->header ? curl_slist_append(NULL, q->header) : NULL;
    memset(r, 0, sizeof *r);
    ebuf_init(&r->body);
    curl_easy_setopt(c, CURLOPT_URL, q->url);
    curl_easy_setopt(c, CURLOPT_NOBODY, head ? 1L : 0L);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, head ? NULL : q->method);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, q->body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)q->body_len);
    if (!q->body)
        curl_easy_setopt(c, CURLOPT_HTTPGET, head ? 0L : 1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &r->new_connections);
    copy_header(c, "Content-Type", r->content_type, sizeof r->content_type);
    copy_header(c, "Allow", r->allow, sizeof r->allow);
    copy_header(c, "Content-Encoding", r->encoding, sizeof r->encoding);
    curl_slist_free_all(hdrs);
    return rc;
}

static void request(CURL *c, const call *q, reply *r)
{
    CURLcode rc = perform(c, q, r);
    if (rc != CURLE_OK)
        fail_msg("%s %s: %s", q->method, q->url, curl_easy_strerror(rc));
}

/* One request on a fresh connection; header is an extra request header. */
static void fetch(fixture *f, const char *method, const char *path, const char *body,
                  const char *header, reply *r)
{
    call q = to(f, method, path, body);
    q.header = header;
    CURL *c = curl_easy_init();
    request(c, &q, r);
    curl_easy_cleanup(c);
}

/* What a reply must be; NULL strings are not checked. */
typedef struct want {
    long status;
    const char *body;
    const char *type; /* Content-Type */
    const char *allow;
} want;

static void check_with(fixture *f, const char *method, const char *path, const char *body,
                       const char *header, want w)
{
    reply r;
    fetch(f, method, path, body, header, &r);
    assert_int_equal(r.status, w.status);
    if (w.body)
        assert_string_equal(r.body.data, w.body);
    if (w.type)
        assert_string_equal(r.content_type, w.type);
    if (w.allow)
        assert_string_equal(r.allow, w.allow);
    ebuf_free(&r.body);
}

static void check(fixture *f, const char *method, const char *path, const char *body, want w)
{
    check_with(f, method, path, body, NULL, w);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- fixtures ---- */

static fixture *new_fixture(const httpd_options *o)
{
    fixture *f = calloc(1, sizeof *f);
    f->h = httpd_new(o);
    httpd_route(f->h, "GET,POST", "/echo", echo, f);
    httpd_route(f->h, "POST", "/body", echo_body, f);
    httpd_route(f->h, "GET,POST", "/value", echo_value, f);
    httpd_route(f->h, "GET", "/auth", echo_auth, f);
    httpd_route(f->h, "GET", "/hit", count_hit, f);
    httpd_route(f->h, "GET", "/stream", stream_pieces, f);
    return f;
}

/* Serve on host ("127.0.0.1", "[::1]") port 0; returns 0 or -1. */
static int serve(fixture *f, const char *host)
{
    char addr[64], err[256];
    snprintf(addr, sizeof addr, "%s:0", host);
    if (httpd_start(f->h, addr, err, sizeof err) != 0)
        return -1;
    snprintf(f->base, sizeof f->base, "http://%s:%u", host, httpd_port(f->h));
    return 0;
}

static void free_fixture(fixture *f)
{
    httpd_free(f->h);
    free(f);
}

static int start_with(void **state, fixture *f)
{
    if (serve(f, "127.0.0.1") != 0)
        fail_msg("cannot start the server");
    *state = f;
    return 0;
}

/* The test's initial state is the httpd_options to serve with. */
static int start_server(void **state)
{
    return start_with(state, new_fixture(*state));
}

/* Defaults but a smaller body limit: plain-text errors, one thread. */
static httpd_options plain = {.max_body = MAX_BODY};
static httpd_options json = {.max_body = MAX_BODY, .error = json_error};
/* As the aggregator runs: a pool of two, handlers not serialised. */
static httpd_options pool = {.threads = 2, .max_connections = 64};
static httpd_options serialised = {.serialize = true};

/* As the simulators run: simhttp's endpoints on a serialised server. */
static int start_sim(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    simhttp_init(&f->sim, render_up, f);
    f->h = f->sim.server;
    return start_with(state, f);
}

static int stop_server(void **state)
{
    free_fixture(*state);
    return 0;
}

/* ---- form decoding and addresses ---- */

static void test_form_decoding(void **state)
{
    httpd_request r = {0};
    const char *q = "query=up%7Bjob%3D%22a+b%22%7D&match[]=x&match[]=y&empty=&flag&time=1.5";
    assert_true(httpd_parse_form(&r, q, strlen(q)));
    assert_int_equal(r.nparams, 6);
    assert_string_equal(httpd_param_get(&r, "query"), "up{job=\"a b\"}");
    assert_string_equal(r.params[1].value, "x");
    assert_string_equal(r.params[2].value, "y");
    assert_string_equal(httpd_param_get(&r, "empty"), "");
    assert_string_equal(httpd_param_get(&r, "flag"), "");
    assert_null(httpd_param_get(&r, "nothing"));
    httpd_params_free(&r);
    assert_int_equal(r.nparams, 0);

    const char *bad[] = {"a=%zz", "a=%4", "a=%", "%g0=1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_false(httpd_parse_form(&r, bad[i], strlen(bad[i])));
        httpd_params_free(&r);
    }
}

static void test_split_addr(void **state)
{
    char host[64], port[8];
    assert_int_equal(httpd_split_addr("127.0.0.1:9400", host, sizeof host, port, sizeof port), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_string_equal(port, "9400");
    assert_int_equal(httpd_split_addr("[::1]:0", host, sizeof host, port, sizeof port), 0);
    assert_string_equal(host, "::1");
    assert_string_equal(port, "0");
    assert_int_equal(httpd_split_addr(":9400", host, sizeof host, port, sizeof port), 0);
    assert_string_equal(host, "");
    assert_string_equal(port, "9400");
    assert_int_equal(httpd_split_addr("localhost:65535", host, sizeof host, port, sizeof port), 0);
    assert_int_equal(httpd_split_addr("a-very-long-host-name:1", host, 8, port, sizeof port), -1);
}

static void test_bad_addresses(void **state)
{
    const char *bad[] = {"nonsense",      "127.0.0.1", "127.0.0.1:", "127.0.0.1:99999",
                         "127.0.0.1:80x", "::1:80",    "[::1]80",    "[::1"};
    httpd *h = httpd_new(NULL);
    char err[256];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(httpd_start(h, bad[i], err, sizeof err), -1);
        assert_non_null(strstr(err, "HOST:PORT"));
        assert_non_null(strstr(err, bad[i]));
    }
    assert_int_equal(httpd_start(h, "no-such-host.invalid:9400", err, sizeof err), -1);
    assert_non_null(strstr(err, "no-such-host.invalid"));
    assert_int_equal(httpd_port(h), 0);
    httpd_free(h);
}

/* ---- routing and parameters ---- */

/* curl posts as application/x-www-form-urlencoded; body fields come first,
 * and the first value is the body's, as with Prometheus's r.FormValue. */
static void test_query_and_form_params(void **state)
{
    fixture *f = *state;
    check(f, "GET", "/echo?a=1&b=x%20y&c=p+q", NULL,
          (want){
              .status = 200, .body = "GET /echo a=1 b=x y c=p q", .type = HTTPD_CONTENT_TYPE_TEXT});
    check(f, "POST", "/echo?a=1", "q=up%7B%7D&a=2",
          (want){.status = 200, .body = "POST /echo q=up{} a=2 a=1"});
    check(f, "GET", "/value?name=url", NULL, (want){.status = 200, .body = "url"});
    check(f, "POST", "/value?name=url", "name=body", (want){.status = 200, .body = "body"});
    check(f, "GET", "/value", NULL, (want){.status = 400, .body = "missing"});
}

static void test_repeated_params_keep_order(void **state)
{
    fixture *f = *state;
    check(f, "GET", "/echo?match[]=up&match[]=down&match%5B%5D=x", NULL,
          (want){.status = 200, .body = "GET /echo match[]=up match[]=down match[]=x"});
    check(f, "POST", "/echo?match[]=url", "match[]=b1&match[]=b2",
          (want){.status = 200, .body = "POST /echo match[]=b1 match[]=b2 match[]=url"});
}

static void test_only_form_bodies_are_parsed(void **state)
{
    fixture *f = *state;
    check_with(f, "POST", "/echo?a=1", "bad=%zz", "Content-Type: application/octet-stream",
               (want){.status = 200, .body = "POST /echo a=1"});
    check_with(f, "POST", "/echo", "a=%41",
               "Content-Type: Application/X-WWW-Form-Urlencoded; charset=utf-8",
               (want){.status = 200, .body = "POST /echo a=A"});
}

static void test_malformed_form_is_400(void **state)
{
    check(*state, "POST", "/echo", "bad=%zz",
          (want){.status = 400, .body = "400 malformed form body\n"});
}

static void test_unknown_path_is_404(void **state)
{
    const char *paths[] = {"/nope", "/echo/", "/", "/ECHO"};
    for (int i = 0; i < 4; i++)
        check(
            *state, "GET", paths[i], NULL,
            (want){.status = 404, .body = "404 page not found\n", .type = HTTPD_CONTENT_TYPE_TEXT});
    check(*state, "DELETE", "/nope", NULL, (want){.status = 404});
}

static void test_wrong_method_is_405_with_allow(void **state)
{
    fixture *f = *state;
    check(f, "POST", "/hit", "x=1",
          (want){.status = 405, .body = "405 method not allowed\n", .allow = "GET, HEAD"});
    check(f, "GET", "/body", NULL, (want){.status = 405, .allow = "POST"});
    check(f, "PUT", "/echo", NULL, (want){.status = 405, .allow = "GET, HEAD, POST"});
    assert_int_equal(atomic_load(&f->hits), 0);
}

static void test_head_is_get_without_body(void **state)
{
    fixture *f = *state;
    check(f, "HEAD", "/echo?a=1", NULL,
          (want){.status = 200, .body = "", .type = HTTPD_CONTENT_TYPE_TEXT});
    check(f, "HEAD", "/body", NULL, (want){.status = 405, .allow = "POST"});
}

static void test_route_replaced(void **state)
{
    fixture *f = new_fixture(NULL);
    httpd_route(f->h, " GET, ", "/echo", count_hit, f); /* POST stays echo */
    assert_int_equal(serve(f, "127.0.0.1"), 0);
    check(f, "GET", "/echo", NULL, (want){.status = 200, .body = "ok"});
    check(f, "POST", "/echo", NULL, (want){.status = 200, .body = "POST /echo"});
    check(f, "PUT", "/echo", NULL, (want){.status = 405, .allow = "GET, HEAD, POST"});
    free_fixture(f);
}

static void test_prefix_routes(void **state)
{
    fixture *f = new_fixture(NULL);
    httpd_route(f->h, "GET", "/pre/*", echo, f);
    httpd_route(f->h, "GET", "/pre/exact", count_hit, f);
    assert_int_equal(serve(f, "127.0.0.1"), 0);
    check(f, "GET", "/pre/a/values", NULL, (want){.status = 200, .body = "GET /pre/a/values"});
    check(f, "GET", "/pre/exact", NULL, (want){.status = 200, .body = "ok"}); /* exact wins */
    check(f, "GET", "/pre", NULL, (want){.status = 404});
    check(f, "POST", "/pre/a", NULL, (want){.status = 405, .allow = "GET, HEAD"});
    free_fixture(f);
}

/* ---- headers and bodies ---- */

static void test_request_and_response_headers(void **state)
{
    fixture *f = *state;
    reply r;
    fetch(f, "GET", "/auth", NULL, "Authorization: Bearer s3cret", &r);
    assert_string_equal(r.body.data, "Bearer s3cret");
    assert_string_equal(r.encoding, "identity");
    ebuf_free(&r.body);
    check(f, "GET", "/auth", NULL, (want){.status = 200, .body = "none"});
}

/* POST n bytes to /body; a 200 must echo them. */
static long post_bytes(fixture *f, size_t n, reply *r)
{
    char *big = malloc(n + 1);
    for (size_t i = 0; i < n; i++)
        big[i] = (char)('a' + i % 26);
    call q = to(f, "POST", "/body", NULL);
    q.body = big;
    q.body_len = n;
    q.header = "Content-Type: application/octet-stream";
    CURL *c = curl_easy_init();
    request(c, &q, r);
    curl_easy_cleanup(c);
    if (r->status == 200) {
        assert_int_equal(r->body.len, n);
        assert_memory_equal(r->body.data, big, n);
        assert_string_equal(r->content_type, "application/octet-stream");
    }
    free(big);
    return r->status;
}

/* Large enough to arrive in several chunks; up to the limit exactly. */
static void test_post_body_reaches_handler(void **state)
{
    size_t sizes[] = {0, 300000, MAX_BODY};
    for (int i = 0; i < 3; i++) {
        reply r;
        assert_int_equal(post_bytes(*state, sizes[i], &r), 200);
        ebuf_free(&r.body);
    }
}

static void test_oversized_body_is_413(void **state)
{
    reply r;
    assert_int_equal(post_bytes(*state, MAX_BODY + 1, &r), 413);
    assert_string_equal(r.body.data, "413 request body too large\n");
    ebuf_free(&r.body);
}

#define JSON_ERROR(msg) "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"" msg "\"}"

/* The aggregator's formatter: 405/413/400 in JSON, 404 stays plain text. */
static void test_error_formatter(void **state)
{
    fixture *f = *state;
    check(f, "POST", "/hit", "x=1",
          (want){.status = 405,
                 .body = JSON_ERROR("method not allowed"),
                 .type = HTTPD_CONTENT_TYPE_JSON,
                 .allow = "GET, HEAD"});
    check(f, "POST", "/echo", "bad=%zz",
          (want){.status = 400,
                 .body = JSON_ERROR("malformed form body"),
                 .type = HTTPD_CONTENT_TYPE_JSON});
    check(f, "GET", "/nope", NULL,
          (want){.status = 404, .body = "404 page not found\n", .type = HTTPD_CONTENT_TYPE_TEXT});
    reply r;
    assert_int_equal(post_bytes(f, MAX_BODY + 1, &r), 413);
    assert_string_equal(r.body.data, JSON_ERROR("request body too large"));
    ebuf_free(&r.body);
}

/* ---- connections ---- */

static void test_connection_kept_alive(void **state)
{
    fixture *f = *state;
    const char *bodies[] = {NULL, "a=1", "bad=%zz", NULL, NULL};
    CURL *c = curl_easy_init();
    for (int i = 0; i < 5; i++) {
        call q = to(f, bodies[i] ? "POST" : "GET", "/echo", bodies[i]);
        reply r;
        request(c, &q, &r);
        /* Only the first request opens a connection, errors included. */
        assert_int_equal(r.new_connections, i == 0 ? 1 : 0);
        ebuf_free(&r.body);
    }
    curl_easy_cleanup(c);
}

static void test_busy_port_is_an_error(void **state)
{
    fixture *f = *state;
    char addr[64], err[256], msg[128];
    snprintf(addr, sizeof addr, "127.0.0.1:%u", httpd_port(f->h));
    httpd *other = httpd_new(NULL);
    assert_int_equal(httpd_start(other, addr, err, sizeof err), -1);
    snprintf(msg, sizeof msg, "cannot listen on %s: Address already in use", addr);
    assert_string_equal(err, msg);
    assert_int_equal(httpd_port(other), 0);
    httpd_free(other);
    check(f, "GET", "/echo", NULL, (want){.status = 200}); /* the first server is unharmed */
}

static void test_start_twice_is_an_error(void **state)
{
    char err[256];
    assert_int_equal(httpd_start(((fixture *)*state)->h, "127.0.0.1:0", err, sizeof err), -1);
    assert_non_null(strstr(err, "already started"));
}

static void test_ipv6_loopback(void **state)
{
    fixture *f = new_fixture(NULL);
    if (serve(f, "[::1]") != 0) {
        free_fixture(f);
        skip(); /* no IPv6 on this host */
    }
    check(f, "GET", "/echo?v=6", NULL, (want){.status = 200, .body = "GET /echo v=6"});
    free_fixture(f);
}

static void test_stop_and_restart(void **state)
{
    fixture *f = new_fixture(NULL);
    assert_int_equal(serve(f, "127.0.0.1"), 0);
    uint16_t port = httpd_port(f->h);
    assert_true(port > 0);
    httpd_stop(f->h);
    assert_int_equal(httpd_port(f->h), 0);
    char addr[64], err[256];
    call q = to(f, "GET", "/echo", NULL);
    CURL *c = curl_easy_init();
    reply r;
    assert_int_equal(perform(c, &q, &r), CURLE_COULDNT_CONNECT);
    ebuf_free(&r.body);
    curl_easy_cleanup(c);
    /* The same port is free again at once (SO_REUSEADDR). */
    snprintf(addr, sizeof addr, "127.0.0.1:%u", port);
    if (httpd_start(f->h, addr, err, sizeof err) != 0)
        fail_msg("restart: %s", err);
    check(f, "GET", "/echo", NULL, (want){.status = 200});
    free_fixture(f);
}

typedef struct attempt {
    const call *q;
    CURLcode rc;
} attempt;

static void *perform_once(void *arg)
{
    attempt *a = arg;
    CURL *c = curl_easy_init();
    reply r;
    a->rc = perform(c, a->q, &r);
    ebuf_free(&r.body);
    curl_easy_cleanup(c);
    return NULL;
}

/* With max_connections 1 a second connection is not served while the first
 * is open (MHD turns it away or leaves it queued), and is once it closes. */
static void test_connection_limit(void **state)
{
    fixture *f = new_fixture(&(httpd_options){.max_connections = 1});
    assert_int_equal(serve(f, "127.0.0.1"), 0);
    call q = to(f, "GET", "/hit", NULL);
    CURL *first = curl_easy_init();
    reply r;
    request(first, &q, &r); /* stays open: keep-alive */
    ebuf_free(&r.body);
    attempt second = {&q, CURLE_OK};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, perform_once, &second), 0);
    sleep_ms(300);
    assert_int_equal(atomic_load(&f->hits), 1);
    curl_easy_cleanup(first);
    pthread_join(t, NULL);
    for (int i = 0; i < 50 && second.rc != CURLE_OK; i++) { /* until MHD sees the close */
        sleep_ms(20);
        perform_once(&second);
    }
    assert_int_equal(second.rc, CURLE_OK);
    assert_int_equal(atomic_load(&f->hits), 2);
    free_fixture(f);
}

/* An idle keep-alive connection is closed after timeout_s. */
static void test_connection_timeout(void **state)
{
    fixture *f = new_fixture(&(httpd_options){.timeout_s = 1});
    assert_int_equal(serve(f, "127.0.0.1"), 0);
    call q = to(f, "GET", "/hit", NULL);
    CURL *c = curl_easy_init();
    long opened[3];
    for (int i = 0; i < 3; i++) {
        if (i == 2)
            sleep_ms(2500);
        reply r;
        request(c, &q, &r);
        opened[i] = r.new_connections;
        ebuf_free(&r.body);
    }
    assert_int_equal(opened[1], 0);
    assert_int_equal(opened[2], 1);
    curl_easy_cleanup(c);
    free_fixture(f);
}

/* ---- threads ---- */

#define CLIENTS 4
#define REQUESTS_EACH 50

typedef struct client {
    fixture *f;
    const char *path;
    const char *want; /* body */
} client;

static void *request_loop(void *arg)
{
    const client *cl = arg;
    call q = to(cl->f, "GET", cl->path, NULL);
    CURL *c = curl_easy_init();
    long ok = 0;
    for (int i = 0; i < REQUESTS_EACH; i++) {
        reply r;
        request(c, &q, &r);
        ok += r.status == 200 && strcmp(r.body.data, cl->want) == 0;
        ebuf_free(&r.body);
    }
    curl_easy_cleanup(c);
    return (void *)ok;
}

static long run_clients(fixture *f, const char *path, const char *want_body)
{
    pthread_t t[CLIENTS];
    client cl = {f, path, want_body};
    for (int i = 0; i < CLIENTS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, request_loop, &cl), 0);
    long ok = 0;
    for (int i = 0; i < CLIENTS; i++) {
        void *res;
        pthread_join(t[i], &res);
        ok += (long)res;
    }
    return ok;
}

static int count_threads(void)
{
    DIR *d = opendir("/proc/self/task");
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

/* The thread count once it is expected, or after a second: a joined thread
 * leaves /proc a moment after pthread_join returns. */
static int threads_settled_at(int expected)
{
    int n = count_threads();
    for (int i = 0; i < 100 && n != expected; i++) {
        sleep_ms(10);
        n = count_threads();
    }
    return n;
}

/* threads is the number of serving threads libmicrohttpd starts; the
 * server adds one of its own, the read-deadline reaper. */
static void test_thread_pool_size(void **state)
{
    unsigned sizes[] = {0, 1, 2, 3};
    int before = threads_settled_at(1);
    for (int i = 0; i < 4; i++) {
        fixture *f = new_fixture(&(httpd_options){.threads = sizes[i]});
        assert_int_equal(serve(f, "127.0.0.1"), 0);
        int serving = (sizes[i] > 1 ? (int)sizes[i] : 1) + 1;
        assert_int_equal(threads_settled_at(before + serving), before + serving);
        free_fixture(f);
        assert_int_equal(threads_settled_at(before), before);
    }
}

/* The aggregator's setup: a pool of two, thread-safe handlers. */
static void test_concurrent_requests_on_pool(void **state)
{
    fixture *f = *state;
    assert_int_equal(run_clients(f, "/hit", "ok"), CLIENTS * REQUESTS_EACH);
    assert_int_equal(atomic_load(&f->hits), CLIENTS * REQUESTS_EACH);
}

static void *hit_once(void *arg)
{
    check(arg, "GET", "/hit", NULL, (want){.status = 200, .body = "ok"});
    return NULL;
}

/* With serialize, a thread holding httpd_lock keeps handlers out. */
static void test_lock_holds_off_handlers(void **state)
{
    fixture *f = *state;
    pthread_t t;
    httpd_lock(f->h);
    assert_int_equal(pthread_create(&t, NULL, hit_once, f), 0);
    sleep_ms(200);
    assert_int_equal(atomic_load(&f->hits), 0);
    httpd_unlock(f->h);
    pthread_join(t, NULL);
    assert_int_equal(atomic_load(&f->hits), 1);
}

/* ---- streamed bodies ---- */

/* Wait (up to 2 s) for the server to release n streams in all. */
static bool streams_freed(fixture *f, int n)
{
    for (int i = 0; i < 200 && atomic_load(&f->streams_freed) < n; i++)
        sleep_ms(10);
    return atomic_load(&f->streams_freed) == n;
}

static void expect_pieces(const ebuf *body, int n)
{
    ebuf expected;
    ebuf_init(&expected);
    for (int i = 0; i < n; i++)
        ebuf_printf(&expected, "piece %d\n", i);
    assert_int_equal(body->len, expected.len);
    assert_memory_equal(body->data, expected.data, expected.len);
    ebuf_free(&expected);
}

static size_t copy_transfer_encoding(char *p, size_t size, size_t n, void *ud)
{
    static const char name[] = "transfer-encoding:";
    if (size * n > sizeof name && strncasecmp(p, name, sizeof name - 1) == 0)
        snprintf(ud, 64, "%.*s", (int)strcspn(p + sizeof name, "\r\n"), p + sizeof name);
    return size * n;
}

/* 200,000 pieces (about 2.3 MB): every byte in order, chunked, with the
 * handler's status, type and headers; the stream is released once. */
static void test_stream_is_chunked_and_complete(void **state)
{
    fixture *f = *state;
    call q = to(f, "GET", "/stream?n=200000", NULL);
    CURL *c = curl_easy_init();
    char te[64] = "";
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, copy_transfer_encoding);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, te);
    reply r;
    request(c, &q, &r);
    curl_easy_cleanup(c);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.content_type, HTTPD_CONTENT_TYPE_JSON);
    assert_string_equal(te, "chunked");
    expect_pieces(&r.body, 200000);
    assert_true(streams_freed(f, 1));
    assert_int_equal(atomic_load(&f->pieces_made), 200000);
    ebuf_free(&r.body);
    check(f, "GET", "/stream?n=0", NULL, (want){.status = 200, .body = ""});
    assert_true(streams_freed(f, 2));
}

/* The body is made as the client reads: a client that stops after the
 * first bytes leaves most pieces unmade, and the stream is still freed. */
static size_t take_first_bytes(char *p, size_t size, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    (void)size;
    (void)n;
    return 0; /* curl aborts the transfer */
}

static void test_stream_made_as_client_reads(void **state)
{
    fixture *f = *state;
    CURL *c = curl_easy_init();
    char url[200];
    snprintf(url, sizeof url, "%s/stream?n=10000000", f->base);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, take_first_bytes);
    assert_int_equal(curl_easy_perform(c), CURLE_WRITE_ERROR);
    curl_easy_cleanup(c);
    assert_true(streams_freed(f, 1));
    int made = atomic_load(&f->pieces_made);
    assert_true(made > 0);
    assert_true(made < 10000000 / 10); /* the socket buffers hold a little, not the body */
}

/* HEAD sends no body; a stream replaced before the reply is released
 * unsent and the buffered body goes out instead. */
static void test_stream_head_and_replaced(void **state)
{
    fixture *f = *state;
    check(f, "HEAD", "/stream?n=100", NULL, (want){.status = 200, .body = ""});
    assert_true(streams_freed(f, 1));
    check(f, "GET", "/stream?n=100&fail=1", NULL, (want){.status = 500, .body = "failed"});
    assert_true(streams_freed(f, 2));
}

/* A chunked reply ends cleanly: the next request reuses the connection. */
static void test_stream_keeps_connection(void **state)
{
    fixture *f = *state;
    CURL *c = curl_easy_init();
    reply r;
    call q = to(f, "GET", "/stream?n=1000", NULL);
    request(c, &q, &r);
    expect_pieces(&r.body, 1000);
    ebuf_free(&r.body);
    request(c, &q, &r);
    assert_int_equal(r.new_connections, 0);
    expect_pieces(&r.body, 1000);
    ebuf_free(&r.body);
    curl_easy_cleanup(c);
    assert_true(streams_freed(f, 2));
}

/* ---- the simulators' endpoints (simulators/simhttp.c) ---- */

static void test_sim_metrics_served_with_exposition_type(void **state)
{
    fixture *f = *state;
    check(f, "GET", "/metrics", NULL,
          (want){.status = 200, .body = METRICS_TEXT, .type = HTTPD_CONTENT_TYPE_METRICS});
    assert_int_equal(f->renders, 1);
    check(f, "HEAD", "/metrics", NULL,
          (want){.status = 200, .body = "", .type = HTTPD_CONTENT_TYPE_METRICS});
    check(f, "GET", "/-/healthy", NULL,
          (want){.status = 200, .body = "Healthy.\n", .type = HTTPD_CONTENT_TYPE_TEXT});
    check(f, "GET", "/health", NULL,
          (want){.status = 200, .body = "Healthy.\n", .type = HTTPD_CONTENT_TYPE_TEXT});
}

static void test_sim_wrong_method_does_not_render(void **state)
{
    fixture *f = *state;
    check(f, "POST", "/metrics", "x",
          (want){.status = 405, .body = "405 method not allowed\n", .allow = "GET, HEAD"});
    assert_int_equal(f->renders, 0);
}

/* renders is a plain int: only the server's mutex keeps the count exact. */
static void test_sim_concurrent_scrapes(void **state)
{
    fixture *f = *state;
    assert_int_equal(run_clients(f, "/metrics", METRICS_TEXT), CLIENTS * REQUESTS_EACH);
    httpd_lock(f->h);
    assert_int_equal(f->renders, CLIENTS * REQUESTS_EACH);
    httpd_unlock(f->h);
}

#define WITH(opts, t) cmocka_unit_test_prestate_setup_teardown(t, start_server, stop_server, &opts)
#define PLAIN(t) WITH(plain, t)
#define JSON(t) WITH(json, t)
#define POOL(t) WITH(pool, t)
#define SIM(t) cmocka_unit_test_setup_teardown(t, start_sim, stop_server)

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_form_decoding),
        cmocka_unit_test(test_split_addr),
        cmocka_unit_test(test_bad_addresses),
        PLAIN(test_query_and_form_params),
        PLAIN(test_repeated_params_keep_order),
        PLAIN(test_only_form_bodies_are_parsed),
        PLAIN(test_malformed_form_is_400),
        PLAIN(test_unknown_path_is_404),
        PLAIN(test_wrong_method_is_405_with_allow),
        PLAIN(test_head_is_get_without_body),
        cmocka_unit_test(test_route_replaced),
        cmocka_unit_test(test_prefix_routes),
        PLAIN(test_request_and_response_headers),
        PLAIN(test_post_body_reaches_handler),
        PLAIN(test_oversized_body_is_413),
        JSON(test_error_formatter),
        PLAIN(test_connection_kept_alive),
        JSON(test_connection_kept_alive),
        POOL(test_connection_kept_alive),
        PLAIN(test_busy_port_is_an_error),
        PLAIN(test_start_twice_is_an_error),
        cmocka_unit_test(test_ipv6_loopback),
        cmocka_unit_test(test_stop_and_restart),
        cmocka_unit_test(test_connection_limit),
        cmocka_unit_test(test_connection_timeout),
        cmocka_unit_test(test_thread_pool_size),
        POOL(test_concurrent_requests_on_pool),
        WITH(serialised, test_lock_holds_off_handlers),
        PLAIN(test_stream_is_chunked_and_complete),
        POOL(test_stream_is_chunked_and_complete),
        PLAIN(test_stream_made_as_client_reads),
        PLAIN(test_stream_head_and_replaced),
        POOL(test_stream_keeps_connection),
        SIM(test_sim_metrics_served_with_exposition_type),
        SIM(test_sim_wrong_method_does_not_render),
        SIM(test_sim_concurrent_scrapes),
    };
    int rc = cmocka_run_group_tests_name("httpd", tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
