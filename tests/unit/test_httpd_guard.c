/*
 * test_httpd_guard.c — common/httpd's guards over real loopback sockets:
 * a Content-Length over the limit is answered 413 before the body is sent,
 * a chunked body past it closes the connection, a client that sends its
 * request a byte at a time is cut off at the read timeout (and so is an
 * idle keep-alive connection), the auth hook decides on the headers alone
 * with the route's access level, a connection over the limit is shut at
 * once, and HTTPS with certificates openssl makes, reloaded in place (a bad
 * pair keeps the old one serving).  Each refusal is counted by reason
 * (httpd_refused); the counters are per process, so tests compare before
 * and after.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/etime.h"
#include "common/fsutil.h"
#include "common/httpd.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_BODY 4096

static char tmp[256];

static void echo(void *ctx, const httpd_request *req, httpd_response *resp)
{
    ebuf_printf(&resp->body, "%s %s %zu", req->method, req->path, req->body_len);
}

/* Lets in requests with "X-Key: k"; access 1 also needs "X-Role: write". */
static bool key_auth(void *ctx, const httpd_request *req, int access, httpd_response *resp)
{
    const char *key = httpd_header(req, "X-Key"), *role = httpd_header(req, "X-Role");
    int *calls = ctx;
    (*calls)++;
    if (!key || strcmp(key, "k") != 0) {
        resp->status = 401;
        ebuf_puts(&resp->body, "who are you");
        httpd_response_header(resp, "WWW-Authenticate", "Key");
        return false;
    }
    if (access > 0 && (!role || strcmp(role, "write") != 0)) {
        resp->status = 403;
        ebuf_puts(&resp->body, "read only");
        return false;
    }
    return true;
}

static httpd *serve(httpd_options o)
{
    o.max_body = MAX_BODY;
    httpd *h = httpd_new(&o);
    httpd_route(h, "GET,POST", "/echo", echo, NULL);
    httpd_route_access(h, "POST", "/write", echo, NULL, 1);
    char err[256];
    if (httpd_start(h, "127.0.0.1:0", err, sizeof err) != 0)
        fail_msg("start: %s", err);
    return h;
}

/* ---- a raw client, for what curl will not do ---- */

static int dial(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

static void send_all(int fd, const char *s)
{
    size_t n = strlen(s);
    assert_int_equal(send(fd, s, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* Everything the server sends until it closes or timeout_ms passes;
 * returns true when it closed. */
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

/* Counters before a test, to check what it adds. */
typedef struct counts {
    uint64_t n[HTTPD_REFUSED_COUNT];
} counts;

static counts refused_now(void)
{
    counts c;
    for (int r = 0; r < HTTPD_REFUSED_COUNT; r++)
        c.n[r] = httpd_refused((httpd_refusal)r);
    return c;
}

/* The refusals since before, by reason, must be exactly want. */
static void assert_refused_since(const counts *before, const uint64_t want[HTTPD_REFUSED_COUNT])
{
    counts now = refused_now();
    for (int r = 0; r < HTTPD_REFUSED_COUNT; r++)
        if (now.n[r] - before->n[r] != want[r])
            fail_msg("%s: %llu refusals, want %llu", httpd_refusal_name((httpd_refusal)r),
                     (unsigned long long)(now.n[r] - before->n[r]), (unsigned long long)want[r]);
}

/* ---- limits ---- */

static void test_declared_body_over_limit_is_413_at_once(void **state)
{
    counts before = refused_now();
    httpd *h = serve((httpd_options){0});
    int fd = dial(httpd_port(h));
    int64_t t0 = mono_ms();
    send_all(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
                 "Content-Length: 1073741824\r\n\r\nfirst bytes of a gigabyte");
    ebuf r;
    ebuf_init(&r);
    assert_true(read_until_closed(fd, &r, 5000));
    int64_t took = mono_ms() - t0;
    assert_non_null(strstr(r.data, "HTTP/1.1 413"));
    assert_non_null(strstr(r.data, "request body too large"));
    print_message("413 for a declared 1 GiB body after %lld ms\n", (long long)took);
    close(fd);
    /* A body at the limit still gets through, and the server goes on. */
    fd = dial(httpd_port(h));
    char req[256 + MAX_BODY];
    int n = snprintf(req, sizeof req,
                     "POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                     "Content-Length: %d\r\n\r\n",
                     MAX_BODY);
    memset(req + n, 'x', MAX_BODY);
    req[n + MAX_BODY] = '\0';
    send_all(fd, req);
    ebuf_reset(&r);
    assert_true(read_until_closed(fd, &r, 5000));
    assert_non_null(strstr(r.data, "HTTP/1.1 200"));
    assert_non_null(strstr(r.data, "POST /echo 4096"));
    close(fd);
    ebuf_free(&r);
    httpd_free(h);
    assert_refused_since(&before, (uint64_t[HTTPD_REFUSED_COUNT]){[HTTPD_REFUSED_TOO_LARGE] = 1});
}

static void test_chunked_body_past_limit_closes(void **state)
{
    counts before = refused_now();
    httpd *h = serve((httpd_options){0});
    int fd = dial(httpd_port(h));
    send_all(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
    char chunk[2100];
    int hl = snprintf(chunk, sizeof chunk, "%x\r\n", 2048);
    memset(chunk + hl, 'y', 2048);
    memcpy(chunk + hl + 2048, "\r\n", 3);
    ebuf r;
    ebuf_init(&r);
    for (int i = 0; i < 3; i++) /* 6 KiB > MAX_BODY */
        send(fd, chunk, strlen(chunk), MSG_NOSIGNAL);
    assert_true(read_until_closed(fd, &r, 5000));
    assert_null(strstr(r.data ? r.data : "", "HTTP/1.1 200"));
    close(fd);
    ebuf_free(&r);
    httpd_free(h);
    assert_refused_since(&before, (uint64_t[HTTPD_REFUSED_COUNT]){[HTTPD_REFUSED_TOO_LARGE] = 1});
}

/* Headers a byte every 100 ms: MHD's idle timeout (30 s) never fires, the
 * read deadline (1 s) does. */
static void test_slow_request_is_cut_at_read_timeout(void **state)
{
    counts before = refused_now();
    httpd *h = serve((httpd_options){.read_timeout_s = 1, .timeout_s = 30});
    int fd = dial(httpd_port(h));
    const char *req = "GET /echo HTTP/1.1\r\nHost: x\r\nX-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    int64_t t0 = mono_ms();
    bool closed = false;
    for (const char *c = req; *c && !closed; c++) {
        if (send(fd, c, 1, MSG_NOSIGNAL) != 1)
            break;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        char b;
        closed = poll(&p, 1, 100) == 1 && recv(fd, &b, 1, 0) <= 0;
    }
    ebuf r;
    ebuf_init(&r);
    closed = closed || read_until_closed(fd, &r, 3000);
    int64_t took = mono_ms() - t0;
    assert_true(closed);
    assert_true(took >= 1000 && took < 3500);
    print_message("slow client cut after %lld ms (read timeout 1 s)\n", (long long)took);
    close(fd);

    /* An idle keep-alive connection is cut the same way after its reply. */
    fd = dial(httpd_port(h));
    send_all(fd, "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n");
    t0 = mono_ms();
    ebuf_reset(&r);
    assert_true(read_until_closed(fd, &r, 4000));
    assert_non_null(strstr(r.data, "GET /echo 0"));
    assert_true(mono_ms() - t0 >= 900);
    close(fd);
    ebuf_free(&r);
    httpd_free(h);
    assert_refused_since(&before,
                         (uint64_t[HTTPD_REFUSED_COUNT]){[HTTPD_REFUSED_READ_TIMEOUT] = 2});
}

/* Two connections allowed over a pool of two threads (one thread alone
 * lets MHD's own limit hold the third in the listen backlog): the third is
 * shut as it opens, counted, and the server answers again once one of the
 * two has gone. */
static void test_connection_over_limit_is_shut(void **state)
{
    counts before = refused_now();
    httpd *h = serve((httpd_options){.max_connections = 2, .threads = 2});
    int held[2] = {dial(httpd_port(h)), dial(httpd_port(h))};
    send_all(held[0], "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n"); /* both known to the server */
    send_all(held[1], "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n");
    for (int i = 0; i < 2; i++) {
        char b[512];
        struct pollfd p = {.fd = held[i], .events = POLLIN};
        assert_int_equal(poll(&p, 1, 5000), 1);
        assert_true(recv(held[i], b, sizeof b, 0) > 0);
    }
    const char *get = "GET /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    int fd = dial(httpd_port(h));
    send(fd, get, strlen(get), MSG_NOSIGNAL); /* may fail: the server may have shut it */
    ebuf r;
    ebuf_init(&r);
    assert_true(read_until_closed(fd, &r, 5000));
    assert_int_equal(r.len, 0); /* no answer at all */
    close(fd);
    close(held[0]);
    for (int64_t end = mono_ms() + 5000; r.len == 0 && mono_ms() < end; sleep_ms(50)) {
        fd = dial(httpd_port(h));
        send(fd, get, strlen(get), MSG_NOSIGNAL);
        read_until_closed(fd, &r, 5000);
        close(fd);
    }
    assert_non_null(strstr(r.data, "GET /echo 0"));
    close(held[1]);
    ebuf_free(&r);
    httpd_free(h);
    counts now = refused_now();
    /* one for the third connection; retries while the server had not yet
     * seen held[0] go may add more */
    assert_true(now.n[HTTPD_REFUSED_TOO_MANY_CONNECTIONS] -
                    before.n[HTTPD_REFUSED_TOO_MANY_CONNECTIONS] >=
                1);
}

/* ---- the auth hook ---- */

static void test_auth_hook_sees_headers_and_access(void **state)
{
    counts before = refused_now();
    int calls = 0;
    httpd *h = serve((httpd_options){.auth = key_auth, .auth_ctx = &calls});
    struct {
        const char *req, *want;
    } cases[] = {
        {"GET /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "HTTP/1.1 401"},
        {"GET /echo HTTP/1.1\r\nHost: x\r\nX-Key: k\r\nConnection: close\r\n\r\n", "GET /echo 0"},
        {"POST /write HTTP/1.1\r\nHost: x\r\nX-Key: k\r\nContent-Length: 2\r\n"
         "Connection: close\r\n\r\nab",
         "HTTP/1.1 403"},
        {"POST /write HTTP/1.1\r\nHost: x\r\nX-Key: k\r\nX-Role: write\r\nContent-Length: 2\r\n"
         "Connection: close\r\n\r\nab",
         "POST /write 2"},
        /* unknown paths are guarded too (access 0): no probing */
        {"GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "HTTP/1.1 401"},
        /* refused before the body: no 413, no waiting for a gigabyte */
        {"POST /write HTTP/1.1\r\nHost: x\r\nContent-Length: 1073741824\r\n\r\nab", "who are you"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int fd = dial(httpd_port(h));
        send_all(fd, cases[i].req);
        ebuf r;
        ebuf_init(&r);
        assert_true(read_until_closed(fd, &r, 5000));
        if (!strstr(r.data, cases[i].want))
            fail_msg("case %zu: want %s in %s", i, cases[i].want, r.data);
        ebuf_free(&r);
        close(fd);
    }
    assert_int_equal(calls, 6);
    httpd_free(h);
    assert_refused_since(&before,
                         (uint64_t[HTTPD_REFUSED_COUNT]){
                             [HTTPD_REFUSED_UNAUTHORIZED] = 3, [HTTPD_REFUSED_FORBIDDEN] = 1});
    metric_set ms;
    metric_set_init(&ms);
    httpd_refused_metrics(&ms);
    ebuf text;
    ebuf_init(&text);
    expfmt_write(&text, &ms);
    ebuf_putc(&text, '\0');
    assert_non_null(strstr(text.data, "# TYPE ember_http_requests_refused_total counter\n"));
    for (int r = 0; r < HTTPD_REFUSED_COUNT; r++) {
        char line[160];
        snprintf(line, sizeof line, "ember_http_requests_refused_total{reason=\"%s\"} %llu\n",
                 httpd_refusal_name((httpd_refusal)r),
                 (unsigned long long)httpd_refused((httpd_refusal)r));
        assert_non_null(strstr(text.data, line));
    }
    ebuf_free(&text);
    metric_set_free(&ms);
}

/* ---- TLS ---- */

static void make_cert(const char *name, const char *cn)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "cd %s && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
             "-keyout %s.key -out %s.pem -days 2 -subj /CN=%s -addext "
             "subjectAltName=IP:127.0.0.1 2>/dev/null",
             tmp, name, name, cn);
    assert_int_equal(system(cmd), 0);
}

static void copy_pair(const char *from, const char *to)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "cd %s && cp %s.pem %s.pem && cp %s.key %s.key", tmp, from, to, from,
             to);
    assert_int_equal(system(cmd), 0);
}

static size_t collect(char *p, size_t size, size_t n, void *ud)
{
    ebuf_append(ud, p, size * n);
    return size * n;
}

/* GET url trusting ca (a file in tmp); the status (0: no connection) and
 * the server certificate's subject. */
static long tls_get(const char *url, const char *ca, char *subject, size_t len)
{
    char cafile[512];
    snprintf(cafile, sizeof cafile, "%s/%s", tmp, ca);
    CURL *c = curl_easy_init();
    ebuf body;
    ebuf_init(&body);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CAINFO, cafile);
    curl_easy_setopt(c, CURLOPT_CERTINFO, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    long status = 0;
    subject[0] = '\0';
    CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK)
        print_message("%s with CA %s: %s\n", url, ca, curl_easy_strerror(rc));
    if (rc == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        struct curl_certinfo *ci = NULL;
        curl_easy_getinfo(c, CURLINFO_CERTINFO, &ci);
        for (struct curl_slist *s = ci && ci->num_of_certs ? ci->certinfo[0] : NULL; s; s = s->next)
            if (strncmp(s->data, "Subject:", 8) == 0)
                snprintf(subject, len, "%s", s->data + 8);
    }
    curl_easy_cleanup(c);
    ebuf_free(&body);
    return status;
}

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
    return size * n;
}

static long plain_get(const char *url)
{
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 5L);
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    return status;
}

static void test_https_and_reload(void **state)
{
    make_cert("one", "ember-one");
    make_cert("two", "ember-two");
    copy_pair("one", "live");
    char cert[512], key[512], url[128], http_url[128], subject[256], err[512];
    snprintf(cert, sizeof cert, "%s/live.pem", tmp);
    snprintf(key, sizeof key, "%s/live.key", tmp);
    httpd *h = serve((httpd_options){.tls_cert_file = cert, .tls_key_file = key});
    snprintf(url, sizeof url, "https://127.0.0.1:%u/echo", httpd_port(h));
    snprintf(http_url, sizeof http_url, "http://127.0.0.1:%u/echo", httpd_port(h));
    assert_int_equal(tls_get(url, "one.pem", subject, sizeof subject), 200);
    assert_non_null(strstr(subject, "ember-one"));
    assert_int_equal(tls_get(url, "two.pem", subject, sizeof subject), 0); /* untrusted */
    assert_int_equal(plain_get(http_url), 0);                              /* HTTPS only */

    copy_pair("two", "live");
    assert_int_equal(httpd_reload_tls(h, err, sizeof err), 0);
    assert_int_equal(tls_get(url, "two.pem", subject, sizeof subject), 200);
    assert_non_null(strstr(subject, "ember-two"));

    /* A broken pair is refused; the server keeps serving the old one. */
    char cmd[600];
    snprintf(cmd, sizeof cmd, "cp %s/one.key %s/live.key", tmp, tmp); /* key of another cert */
    assert_int_equal(system(cmd), 0);
    assert_int_equal(httpd_reload_tls(h, err, sizeof err), -1);
    assert_non_null(strstr(err, "live.pem"));
    snprintf(cmd, sizeof cmd, "rm %s/live.key", tmp);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(httpd_reload_tls(h, err, sizeof err), -1);
    assert_non_null(strstr(err, "cannot read"));
    assert_int_equal(tls_get(url, "two.pem", subject, sizeof subject), 200);
    httpd_free(h);

    /* A missing file stops the start with the file's name. */
    httpd *bad = httpd_new(&(httpd_options){.tls_cert_file = cert, .tls_key_file = key});
    assert_int_equal(httpd_start(bad, "127.0.0.1:0", err, sizeof err), -1);
    assert_non_null(strstr(err, "live.key"));
    httpd_free(bad);
}

static int setup(void **state)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    return fs_mkdtemp(tmp, sizeof tmp, "ember-httpd-guard");
}

static int teardown(void **state)
{
    fs_rmtree(tmp);
    curl_global_cleanup();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_declared_body_over_limit_is_413_at_once),
        cmocka_unit_test(test_chunked_body_past_limit_closes),
        cmocka_unit_test(test_slow_request_is_cut_at_read_timeout),
        cmocka_unit_test(test_connection_over_limit_is_shut),
        cmocka_unit_test(test_auth_hook_sees_headers_and_access),
        cmocka_unit_test(test_https_and_reload),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
