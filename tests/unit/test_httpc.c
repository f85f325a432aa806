/*
 * test_httpc.c — the agent's HTTP client (agent/collect/httpc.h) against
 * real servers on 127.0.0.1:
 *  - common/httpd (libmicrohttpd) for well-behaved HTTP: Content-Length,
 *    chunked and gzip bodies, statuses, redirects of every kind, body caps;
 *  - small socket servers on test threads for what no real server does on
 *    purpose: silence, trickling, garbage, truncation, interim 1xx, bodies
 *    to EOF, and to see the exact request bytes;
 *  - `openssl s_server -WWW` with a throwaway CA and certificates made by
 *    `openssl` in a temp dir for https: trust, names, IP addresses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "agent/collect/httpc.h"
#include "agent/collect/httpc_parse.h"

#include "common/etime.h"
#include "common/fsutil.h"
#include "common/httpd.h"

#include <zlib.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static void assert_contains(const char *s, const char *want)
{
    if (strstr(s, want) == NULL)
        fail_msg("\"%s\" does not contain \"%s\"", s, want);
}

/* GET url; the response is left in *r (init'ed here, freed by the caller). */
static int get(const char *url, int64_t timeout_ms, size_t max_body, httpc_response *r, char *err,
               size_t errlen)
{
    httpc_request req = {.url = url,
                         .timeout_ms = timeout_ms,
                         .max_body = max_body,
                         .user_agent = "ember-test/1",
                         .accept = "text/plain",
                         .extra_headers = "X-Extra: yes\r\n"};
    httpc_response_init(r);
    err[0] = '\0';
    return httpc_get(&req, r, err, errlen);
}

static void assert_get_fails(const char *url, int64_t timeout_ms, size_t max_body, const char *want)
{
    httpc_response r;
    char err[512];
    assert_int_equal(get(url, timeout_ms, max_body, &r, err, sizeof err), -1);
    assert_contains(err, want);
    httpc_response_free(&r);
}

/* GET u (5 s, 1 KiB cap) and expect status, its text (NULL: any) and body. */
static void assert_get(const char *u, int status, const char *text, const char *body)
{
    httpc_response r;
    char err[512];
    if (get(u, 5000, 1024, &r, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_int_equal(r.status, status);
    if (text != NULL)
        assert_string_equal(r.status_text, text);
    assert_string_equal(r.body.data, body);
    httpc_response_free(&r);
}

/* A body of n bytes anyone can recompute: lines of 63 letters. */
static void fill(char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = i % 64 == 63 ? '\n' : (char)('a' + i % 26);
}

/* ---- common/httpd: the well-behaved server --------------------------------- */

static httpd *web;
static char base[64]; /* "http://127.0.0.1:PORT" */
static pthread_mutex_t seen_mu = PTHREAD_MUTEX_INITIALIZER;
static char seen_host[128], seen_ua[128], seen_accept[128], seen_ae[64], seen_extra[32];
static char *gzip_text; /* gzip of TEXT_LINES lines of text */
static size_t gzip_len;
static char *bomb; /* gzip of BOMB_BYTES zeros */
static size_t bomb_len;
#define TEXT_LINES 20000
#define BOMB_BYTES (16u << 20)

static void remember(const httpd_request *req, const char *name, char *dst, size_t len)
{
    const char *v = httpd_header(req, name);
    snprintf(dst, len, "%s", v != NULL ? v : "(none)");
}

static void on_plain(void *ctx, const httpd_request *req, httpd_response *resp)
{
    (void)ctx;
    pthread_mutex_lock(&seen_mu);
    remember(req, "Host", seen_host, sizeof seen_host);
    remember(req, "User-Agent", seen_ua, sizeof seen_ua);
    remember(req, "Accept", seen_accept, sizeof seen_accept);
    remember(req, "Accept-Encoding", seen_ae, sizeof seen_ae);
    remember(req, "X-Extra", seen_extra, sizeof seen_extra);
    pthread_mutex_unlock(&seen_mu);
    const char *q = httpd_param_get(req, "q");
    ebuf_printf(&resp->body, "hello%s%s\n", q ? " " : "", q ? q : "");
}

static size_t param_size(const httpd_request *req)
{
    const char *n = httpd_param_get(req, "n");
    return n != NULL ? strtoull(n, NULL, 10) : 0;
}

static void on_big(void *ctx, const httpd_request *req, httpd_response *resp)
{
    (void)ctx;
    size_t n = param_size(req);
    ebuf_reserve(&resp->body, n);
    fill(resp->body.data, n);
    resp->body.len = n;
    resp->body.data[n] = '\0';
}

/* A stream of bytes from a buffer (the stream owns it when own is set). */
typedef struct piece_stream {
    const char *data;
    size_t len, off, piece;
    char *own;
} piece_stream;

static bool produce(void *cls, ebuf *out)
{
    piece_stream *s = cls;
    size_t n = s->len - s->off < s->piece ? s->len - s->off : s->piece;
    ebuf_append(out, s->data + s->off, n);
    s->off += n;
    return s->off < s->len;
}

static void stream_free(void *cls)
{
    piece_stream *s = cls;
    free(s->own);
    free(s);
}

static void stream(httpd_response *resp, const char *data, size_t len, char *own)
{
    piece_stream *s = calloc(1, sizeof *s);
    assert_non_null(s);
    *s = (piece_stream){.data = data, .len = len, .piece = 7000, .own = own};
    httpd_response_stream(resp, produce, stream_free, s);
}

/* /stream?n=N: N bytes, chunked. */
static void on_stream(void *ctx, const httpd_request *req, httpd_response *resp)
{
    (void)ctx;
    size_t n = param_size(req);
    char *p = malloc(n + 1);
    assert_non_null(p);
    fill(p, n);
    stream(resp, p, n, p);
}

/* /gzip: TEXT_LINES of text gzipped; ?chunked=1 streams it; ?bomb=1 is the bomb. */
static void on_gzip(void *ctx, const httpd_request *req, httpd_response *resp)
{
    (void)ctx;
    bool is_bomb = httpd_param_get(req, "bomb") != NULL;
    const char *data = is_bomb ? bomb : gzip_text;
    size_t len = is_bomb ? bomb_len : gzip_len;
    httpd_response_header(resp, "Content-Encoding", "gzip");
    if (httpd_param_get(req, "chunked") != NULL)
        stream(resp, data, len, NULL);
    else
        ebuf_append(&resp->body, data, len);
}

/* /hop/N redirects to /hop/N-1 (codes 301, 302, 303, 307, 308 in turn); /hop/0 lands. */
static void on_hop(void *ctx, const httpd_request *req, httpd_response *resp)
{
    (void)ctx;
    static const int codes[] = {301, 302, 303, 307, 308};
    int n = atoi(req->path + strlen("/hop/"));
    if (n <= 0) {
        ebuf_puts(&resp->body, "landed\n");
        return;
    }
    char loc[32];
    snprintf(loc, sizeof loc, "/hop/%d", n - 1);
    resp->status = codes[n % 5];
    httpd_response_header(resp, "Location", loc);
}

/* /redir?to=LOCATION&code=CODE */
static void on_redir(void *ctx, const httpd_request *req, httpd_response *resp)
{
    (void)ctx;
    const char *code = httpd_param_get(req, "code");
    resp->status = code != NULL ? atoi(code) : 302;
    const char *to = httpd_param_get(req, "to");
    if (to != NULL)
        httpd_response_header(resp, "Location", to);
}

static char *gzip_bytes(const char *p, size_t n, size_t *out_len)
{
    z_stream z = {0};
    assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
    size_t cap = deflateBound(&z, n);
    char *out = malloc(cap);
    assert_non_null(out);
    z.next_in = (unsigned char *)(uintptr_t)p;
    z.avail_in = (uInt)n;
    z.next_out = (unsigned char *)out;
    z.avail_out = (uInt)cap;
    assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
    *out_len = z.total_out;
    deflateEnd(&z);
    return out;
}

static char *text_lines(size_t *len)
{
    ebuf b;
    ebuf_init(&b);
    for (int i = 0; i < TEXT_LINES; i++)
        ebuf_printf(&b, "line_%d{x=\"%d\"} %d\n", i, i * 7, i);
    return ebuf_steal(&b, len);
}

static int start_web(void **state)
{
    (void)state;
    size_t tl;
    char *text = text_lines(&tl);
    gzip_text = gzip_bytes(text, tl, &gzip_len);
    free(text);
    char *zeros = calloc(1, BOMB_BYTES);
    assert_non_null(zeros);
    bomb = gzip_bytes(zeros, BOMB_BYTES, &bomb_len);
    free(zeros);
    web = httpd_new(&(httpd_options){.threads = 2});
    httpd_route(web, "GET", "/plain", on_plain, NULL);
    httpd_route(web, "GET", "/big", on_big, NULL);
    httpd_route(web, "GET", "/stream", on_stream, NULL);
    httpd_route(web, "GET", "/gzip", on_gzip, NULL);
    httpd_route(web, "GET", "/hop/*", on_hop, NULL);
    httpd_route(web, "GET", "/redir", on_redir, NULL);
    char err[256];
    if (httpd_start(web, "127.0.0.1:0", err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    snprintf(base, sizeof base, "http://127.0.0.1:%u", (unsigned)httpd_port(web));
    return 0;
}

static int stop_web(void **state)
{
    (void)state;
    httpd_free(web);
    free(gzip_text);
    free(bomb);
    httpc_cleanup();
    return 0;
}

static void url(char *buf, size_t len, const char *path)
{
    snprintf(buf, len, "%s%s", base, path);
}

/* ---- tests against common/httpd ------------------------------------------------ */

static void test_get_and_request_headers(void **state)
{
    (void)state;
    char u[128];
    url(u, sizeof u, "/plain?q=1#fragment-not-sent");
    assert_get(u, 200, "200 OK", "hello 1\n");
    pthread_mutex_lock(&seen_mu);
    assert_string_equal(seen_host, base + strlen("http://"));
    assert_string_equal(seen_ua, "ember-test/1");
    assert_string_equal(seen_accept, "text/plain");
    assert_string_equal(seen_ae, "gzip");
    assert_string_equal(seen_extra, "yes");
    pthread_mutex_unlock(&seen_mu);
}

static void test_status_is_not_an_error(void **state)
{
    (void)state;
    char u[128];
    url(u, sizeof u, "/nothing-here");
    assert_get(u, 404, "404 Not Found", "404 page not found\n");
    url(u, sizeof u, "/redir?code=302"); /* a 3xx without Location is the answer itself */
    assert_get(u, 302, "302 Found", "");
}

static void assert_big(const char *path, size_t n, size_t cap)
{
    char u[128], err[512];
    url(u, sizeof u, path);
    httpc_response r;
    assert_int_equal(get(u, 20000, cap, &r, err, sizeof err), 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body.len, n);
    char *want = malloc(n + 1);
    assert_non_null(want);
    fill(want, n);
    assert_memory_equal(r.body.data, want, n);
    free(want);
    httpc_response_free(&r);
}

static void test_bodies_length_and_chunked(void **state)
{
    (void)state;
    assert_big("/big?n=0", 0, 10);
    assert_big("/big?n=3000000", 3000000, 3000000); /* exactly the cap */
    assert_big("/stream?n=1", 1, 1);
    assert_big("/stream?n=2500001", 2500001, 2500001);
}

static void test_body_caps(void **state)
{
    (void)state;
    char u[128];
    url(u, sizeof u, "/big?n=3000001");
    assert_get_fails(u, 5000, 3000000, "body size limit of 3000000 bytes exceeded");
    url(u, sizeof u, "/stream?n=3000001");
    assert_get_fails(u, 5000, 3000000, "body size limit of 3000000 bytes exceeded");
    /* decoded bytes count: 16 MiB of zeros in ~16 KiB of gzip */
    url(u, sizeof u, "/gzip?bomb=1");
    assert_get_fails(u, 5000, 1u << 20, "body size limit of 1048576 bytes exceeded");
    url(u, sizeof u, "/gzip?bomb=1&chunked=1");
    assert_get_fails(u, 5000, 1u << 20, "body size limit of 1048576 bytes exceeded");
}

static void test_gzip(void **state)
{
    (void)state;
    size_t tl;
    char *text = text_lines(&tl);
    const char *paths[] = {"/gzip", "/gzip?chunked=1"};
    for (size_t i = 0; i < 2; i++) {
        char u[128], err[512];
        url(u, sizeof u, paths[i]);
        httpc_response r;
        assert_int_equal(get(u, 5000, 64u << 20, &r, err, sizeof err), 0);
        assert_int_equal(r.body.len, tl);
        assert_memory_equal(r.body.data, text, tl);
        httpc_response_free(&r);
    }
    char u[128], err[512];
    url(u, sizeof u, "/gzip?bomb=1");
    httpc_response r;
    assert_int_equal(get(u, 5000, BOMB_BYTES, &r, err, sizeof err), 0);
    assert_int_equal(r.body.len, BOMB_BYTES);
    httpc_response_free(&r);
    free(text);
}

/* For a URL query value: everything but letters and digits as %XX. */
static void pct_encode(char *dst, size_t len, const char *s)
{
    size_t o = 0;
    for (; *s != '\0' && o + 4 < len; s++) {
        if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9'))
            dst[o++] = *s;
        else
            o += (size_t)snprintf(dst + o, len - o, "%%%02X", (unsigned char)*s);
    }
    dst[o] = '\0';
}

static void test_redirects(void **state)
{
    (void)state;
    /* Location forms: relative to the directory, absolute path, query, full URL */
    char full[160];
    snprintf(full, sizeof full, "%s/plain?q=full", base);
    const char *to[][2] = {
        {"/redir?code=301&to=plain%3Fq%3Drel", "hello rel\n"},
        {"/redir?code=308&to=%2Fplain%3Fq%3Dabs", "hello abs\n"},
        {"/redir?code=303&to=%2F%2F127.0.0.1:PORT%2Fplain%3Fq%3Dnet", "hello net\n"},
        {"/redir?code=307&to=FULL", "hello full\n"},
        {"/hop/10", "landed\n"},
    };
    for (size_t i = 0; i < sizeof to / sizeof to[0]; i++) {
        char path[256], u[1024];
        snprintf(path, sizeof path, "%s", to[i][0]);
        char *p;
        if ((p = strstr(path, "PORT")) != NULL) {
            char rest[256];
            snprintf(rest, sizeof rest, "%s", p + 4);
            snprintf(p, sizeof path - (size_t)(p - path), "%u%s", (unsigned)httpd_port(web), rest);
        }
        if ((p = strstr(path, "FULL")) != NULL) {
            char enc[256];
            pct_encode(enc, sizeof enc, full);
            *p = '\0';
            snprintf(u, sizeof u, "%s%s%s", base, path, enc);
        } else {
            url(u, sizeof u, path);
        }
        assert_get(u, 200, NULL, to[i][1]);
    }
}

static void test_redirect_limits_and_schemes(void **state)
{
    (void)state;
    char u[128];
    url(u, sizeof u, "/hop/11");
    assert_get_fails(u, 5000, 1024, "/hop/1\": stopped after 10 redirects");
    url(u, sizeof u, "/redir?to=ftp%3A%2F%2Fexample.org%2Fx");
    assert_get_fails(u, 5000, 1024,
                     "redirect to \"ftp://example.org/x\": unsupported protocol scheme \"ftp\"");
}

static void test_localhost_and_ipv6(void **state)
{
    (void)state;
    /* localhost may resolve to ::1 first, where nothing listens: the next address is tried */
    char u[128], err[512];
    snprintf(u, sizeof u, "http://localhost:%u/plain", (unsigned)httpd_port(web));
    assert_get(u, 200, NULL, "hello\n");

    httpd *h6 = httpd_new(NULL);
    httpd_route(h6, "GET", "/plain", on_plain, NULL);
    if (httpd_start(h6, "[::1]:0", err, sizeof err) != 0) {
        httpd_free(h6);
        skip(); /* no IPv6 loopback in this sandbox */
    }
    snprintf(u, sizeof u, "http://[::1]:%u/plain", (unsigned)httpd_port(h6));
    assert_get(u, 200, NULL, "hello\n");
    pthread_mutex_lock(&seen_mu);
    char want[64];
    snprintf(want, sizeof want, "[::1]:%u", (unsigned)httpd_port(h6));
    assert_string_equal(seen_host, want);
    pthread_mutex_unlock(&seen_mu);
    httpd_free(h6);
}

static void test_bad_urls(void **state)
{
    (void)state;
    const char *bad[][2] = {
        {"ftp://example.org/", "unsupported protocol scheme \"ftp\""},
        {"127.0.0.1:9100/metrics", "not an absolute http or https URL"},
        {"http://", "URL has no host"},
        {"http:///metrics", "URL has no host"},
        {"http://[::1/metrics", "bad IPv6 address in URL"},
        {"http://[zz]:80/", "bad IPv6 address \"zz\""},
        {"http://h:99999/", "invalid port \"99999\""},
        {"http://h:8x/", "invalid port \"8x\""},
        {"http://h/a b", "URL contains a space or control character"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char want[256];
        snprintf(want, sizeof want, "bad URL \"%s\": %s", bad[i][0], bad[i][1]);
        assert_get_fails(bad[i][0], 1000, 1024, want);
    }
    assert_get_fails("http://no-such-host.invalid/", 5000, 1024,
                     "Get \"http://no-such-host.invalid/\": dial tcp: lookup no-such-host.invalid");
}

/* ---- raw socket servers: the badly behaved ones ----------------------------------- */

typedef struct raw_server {
    int lfd;
    uint16_t port;
    pthread_t thread;
    const char *reply; /* sent after the request was read */
    size_t reply_len;
    int delay_ms;   /* wait before replying (ends early if the client goes) */
    int trickle_ms; /* > 0: one byte of the reply every trickle_ms */
    int hold_ms;    /* keep the connection open after replying */
    char request[4096];
    char url[64];
} raw_server;

/* Wait up to ms for the client to close (or send); true if it closed. */
static bool client_gone(int fd, int ms)
{
    int64_t end = mono_ms() + ms;
    for (int64_t left = ms; left > 0; left = end - mono_ms()) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, (int)left) > 0) {
            char c[256];
            if (recv(fd, c, sizeof c, 0) <= 0)
                return true;
        }
    }
    return false;
}

/* Up to the end of the headers, or whatever came before a 200 ms pause (TLS). */
static void read_request(raw_server *s, int fd)
{
    size_t n = 0;
    while (n + 1 < sizeof s->request && strstr(s->request, "\r\n\r\n") == NULL) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (n > 0 && poll(&pfd, 1, 200) <= 0)
            break;
        ssize_t r = recv(fd, s->request + n, sizeof s->request - 1 - n, 0);
        if (r <= 0)
            break;
        n += (size_t)r;
        s->request[n] = '\0';
    }
}

static void *raw_serve(void *arg)
{
    raw_server *s = arg;
    struct pollfd pfd = {.fd = s->lfd, .events = POLLIN};
    if (poll(&pfd, 1, 5000) <= 0)
        return NULL;
    int fd = accept(s->lfd, NULL, NULL);
    if (fd < 0)
        return NULL;
    read_request(s, fd);
    if (client_gone(fd, s->delay_ms))
        goto done;
    for (size_t off = 0; off < s->reply_len;) {
        size_t n = s->trickle_ms > 0 ? 1 : s->reply_len - off;
        ssize_t w = send(fd, s->reply + off, n, MSG_NOSIGNAL);
        if (w <= 0)
            goto done;
        off += (size_t)w;
        if (s->trickle_ms > 0 && client_gone(fd, s->trickle_ms))
            goto done;
    }
    client_gone(fd, s->hold_ms);
done:
    close(fd);
    return NULL;
}

static uint16_t listen_loopback(int *fd)
{
    *fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(*fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(*fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(*fd, 8), 0);
    socklen_t sl = sizeof sa;
    assert_int_equal(getsockname(*fd, (struct sockaddr *)&sa, &sl), 0);
    return ntohs(sa.sin_port);
}

static void raw_start(raw_server *s, const char *reply)
{
    s->reply = reply;
    if (reply != NULL && s->reply_len == 0)
        s->reply_len = strlen(reply);
    s->port = listen_loopback(&s->lfd);
    snprintf(s->url, sizeof s->url, "http://127.0.0.1:%u/metrics", (unsigned)s->port);
    assert_int_equal(pthread_create(&s->thread, NULL, raw_serve, s), 0);
}

static void raw_stop(raw_server *s)
{
    pthread_join(s->thread, NULL);
    close(s->lfd);
}

/* Serve reply once, close, and expect the GET to fail with want. */
static void assert_raw_fails(const char *reply, int64_t timeout_ms, const char *want)
{
    raw_server s = {.hold_ms = 0};
    raw_start(&s, reply);
    assert_get_fails(s.url, timeout_ms, 1u << 20, want);
    raw_stop(&s);
}

static void assert_raw_body(raw_server *s, const char *reply, const char *want_body)
{
    raw_start(s, reply);
    httpc_response r;
    char err[512];
    int64_t t0 = mono_ms();
    int rc = get(s->url, 5000, 1u << 20, &r, err, sizeof err);
    if (rc != 0)
        fail_msg("%s", err);
    assert_true(mono_ms() - t0 < 2000); /* not waiting for the server to close */
    assert_string_equal(r.body.data, want_body);
    httpc_response_free(&r);
    raw_stop(s);
}

static void test_framing_without_close(void **state)
{
    (void)state;
    /* The server keeps the connection open (3 s) after these: the framing
     * alone ends the response.  The last one has no length and ends with
     * the connection (held 0 ms). */
    static const struct {
        const char *reply, *body;
        int hold_ms;
    } cases[] = {
        {"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", "", 3000},
        {"HTTP/1.1 200 OK\r\ntransfer-encoding: Chunked\r\n\r\n"
         "3;ext=1\r\nab\n\r\n4\r\ncd\r\n\r\n0\r\nTrailer: x\r\n\r\n",
         "ab\ncd\r\n", 3000},
        {"HTTP/1.1 204 No Content\r\n\r\n", "", 3000},
        /* interim 1xx responses are skipped */
        {"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: x\r\n\r\n"
         "HTTP/1.1 200 OK\r\nCONTENT-LENGTH: 3\r\n\r\nabc",
         "abc", 3000},
        /* bare LF line ends are taken */
        {"HTTP/1.0 200 OK\nContent-Type: text/plain\n\nup 1\n", "up 1\n", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        raw_server s = {.hold_ms = cases[i].hold_ms};
        assert_raw_body(&s, cases[i].reply, cases[i].body);
    }
}

static void test_exact_request(void **state)
{
    (void)state;
    raw_server s = {.hold_ms = 3000};
    raw_start(&s, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    char u[128], err[512];
    /* user:password in the URL is Basic auth, percent-decoded */
    snprintf(u, sizeof u, "http://us%%40er:p%%3Ass@127.0.0.1:%u/m?x=1&y=2", (unsigned)s.port);
    httpc_response r;
    assert_int_equal(get(u, 5000, 1024, &r, err, sizeof err), 0);
    httpc_response_free(&r);
    raw_stop(&s);
    char want[512];
    snprintf(want, sizeof want,
             "GET /m?x=1&y=2 HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nUser-Agent: ember-test/1\r\n"
             "Accept: text/plain\r\nAccept-Encoding: gzip\r\n"
             "Authorization: Basic dXNAZXI6cDpzcw==\r\n" /* us@er:p:ss */
             "X-Extra: yes\r\nConnection: close\r\n\r\n",
             (unsigned)s.port);
    assert_string_equal(s.request, want);
    /* and the password never shows in an error */
    int fd;
    uint16_t port = listen_loopback(&fd);
    close(fd); /* now refused */
    snprintf(u, sizeof u, "http://us%%40er:secret@127.0.0.1:%u/m", (unsigned)port);
    assert_int_equal(get(u, 5000, 1024, &r, err, sizeof err), -1);
    httpc_response_free(&r);
    char want_err[256];
    snprintf(want_err, sizeof want_err,
             "Get \"http://us%%40er:xxxxx@127.0.0.1:%u/m\": dial tcp 127.0.0.1:%u: connect: "
             "Connection refused",
             (unsigned)port, (unsigned)port);
    assert_string_equal(err, want_err);
}

static void test_timeouts_are_overall(void **state)
{
    (void)state;
    /* silent server */
    int64_t t0 = mono_ms();
    raw_server s = {.delay_ms = 3000};
    raw_start(&s, "HTTP/1.1 200 OK\r\n\r\n");
    assert_get_fails(s.url, 200, 1024,
                     "/metrics\": timed out after 0.2s while waiting for the response");
    raw_stop(&s);
    assert_true(mono_ms() - t0 < 1500);
    /* a server trickling a byte every 50 ms never hits a per-read timeout,
     * but it does hit the overall one */
    t0 = mono_ms();
    raw_server t = {.trickle_ms = 50};
    raw_start(&t, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789012345678901234567890"
                  "123456789012345678901234567890123456789012345678901234567890123456789");
    assert_get_fails(t.url, 300, 1024, "timed out after 0.3s while waiting for the response");
    raw_stop(&t);
    assert_true(mono_ms() - t0 < 1500);
}

static void test_bad_responses(void **state)
{
    (void)state;
    assert_raw_fails("garbage\r\n\r\n", 5000, "malformed HTTP status line \"garbage\"");
    assert_raw_fails("HTTP/1.1 2000 OK\r\n\r\n", 5000, "malformed HTTP status line");
    assert_raw_fails(NULL, 5000, "/metrics\": the server closed the connection without a response");
    assert_raw_fails("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort", 5000,
                     "the connection closed after 5 of 100 body bytes");
    assert_raw_fails("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", 5000,
                     "the connection closed in the middle of the chunked body");
    assert_raw_fails("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n", 5000,
                     "malformed chunk size line \"xyz\"");
    assert_raw_fails("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 5000,
                     "conflicting Content-Length");
    assert_raw_fails("HTTP/1.1 200 OK\r\nContent-Encoding: br\r\n\r\n", 5000,
                     "unsupported Content-Encoding \"br\"");
    assert_raw_fails("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 5000,
                     "unsupported Transfer-Encoding \"gzip, chunked\"");
    assert_raw_fails("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 4\r\n\r\nabcd",
                     5000, "gzip: incorrect header check");
    assert_raw_fails("HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", 5000,
                     "malformed header line \"no colon here\"");
    /* a header section without end */
    size_t n = HTTPC_MAX_HEADER_BYTES + 100;
    char *big = malloc(n + 1);
    assert_non_null(big);
    memcpy(big, "HTTP/1.1 200 OK\r\nX: ", 20);
    memset(big + 20, 'a', n - 20);
    big[n] = '\0';
    assert_raw_fails(big, 5000, "response headers longer than 65536 bytes");
    free(big);
    /* a gzip body cut short */
    char reply[256];
    int len = snprintf(reply, sizeof reply,
                       "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %zu\r\n\r\n",
                       (size_t)10);
    memcpy(reply + len, gzip_text, 10);
    raw_server s = {.hold_ms = 3000, .reply_len = (size_t)len + 10};
    raw_start(&s, reply);
    assert_get_fails(s.url, 5000, 1024, "gzip: the compressed body ends early");
    raw_stop(&s);
}

static void test_refused(void **state)
{
    (void)state;
    int fd;
    uint16_t port = listen_loopback(&fd);
    close(fd);
    char u[64], want[128];
    snprintf(u, sizeof u, "http://127.0.0.1:%u/metrics", (unsigned)port);
    snprintf(want, sizeof want, "dial tcp 127.0.0.1:%u: connect: Connection refused",
             (unsigned)port);
    assert_get_fails(u, 5000, 1024, want);
}

/* ---- https: openssl s_server with a throwaway CA -------------------------------------- */

typedef struct tls_fixture {
    char dir[256];
    pid_t good, wrong; /* s_server with the right certificate, and with one for another name */
    uint16_t good_port, wrong_port;
} tls_fixture;

static int sh(const char *dir, const char *cmd)
{
    char full[2048];
    snprintf(full, sizeof full, "cd '%s' && (%s) >>openssl.log 2>&1", dir, cmd);
    return system(full);
}

/* A CA, a certificate for localhost + 127.0.0.1, one for other.example; all P-256. */
static int make_certs(const char *dir)
{
    static const char *cmds[] = {
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
        "-keyout ca.key -out ca.pem -days 2 -subj /CN=ember-test-ca",
        "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout good.key "
        "-out good.csr -subj /CN=localhost",
        "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' >good.ext",
        "openssl x509 -req -in good.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
        "-extfile good.ext -out good.pem",
        "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout wrong.key "
        "-out wrong.csr -subj /CN=other.example",
        "printf 'subjectAltName=DNS:other.example\\n' >wrong.ext",
        "openssl x509 -req -in wrong.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
        "-extfile wrong.ext -out wrong.pem",
        "printf 'tls_metric 1\\n' >metrics",
    };
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (sh(dir, cmds[i]) != 0) {
            fprintf(stderr, "failed: %s (see %s/openssl.log)\n", cmds[i], dir);
            return -1;
        }
    return 0;
}

static bool port_open(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    close(fd);
    return ok;
}

/* `openssl s_server -WWW` serving dir's files with name.pem/name.key. */
static pid_t start_s_server(const char *dir, const char *name, uint16_t *port)
{
    int fd;
    *port = listen_loopback(&fd);
    close(fd); /* a free port, for s_server to take */
    char accept_addr[32], cert[300], key[300];
    snprintf(accept_addr, sizeof accept_addr, "127.0.0.1:%u", (unsigned)*port);
    snprintf(cert, sizeof cert, "%s/%s.pem", dir, name);
    snprintf(key, sizeof key, "%s/%s.key", dir, name);
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        dup2(null, 0);
        dup2(null, 1);
        dup2(null, 2);
        if (chdir(dir) == 0)
            execlp("openssl", "openssl", "s_server", "-accept", accept_addr, "-cert", cert, "-key",
                   key, "-WWW", "-quiet", (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 100 && pid > 0 && !port_open(*port); i++)
        sleep_ms(50);
    return pid;
}

static void stop_pid(pid_t pid)
{
    if (pid > 0) {
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
    }
}

static int tls_setup(void **state)
{
    tls_fixture *f = calloc(1, sizeof *f);
    *state = f;
    if (f == NULL || fs_mkdtemp(f->dir, sizeof f->dir, "ember-httpc-") != 0 ||
        make_certs(f->dir) != 0)
        return -1;
    f->good = start_s_server(f->dir, "good", &f->good_port);
    f->wrong = start_s_server(f->dir, "wrong", &f->wrong_port);
    return f->good > 0 && f->wrong > 0 && port_open(f->good_port) && port_open(f->wrong_port) ? 0
                                                                                              : -1;
}

static int tls_teardown(void **state)
{
    tls_fixture *f = *state;
    if (f != NULL) {
        stop_pid(f->good);
        stop_pid(f->wrong);
        if (f->dir[0] != '\0')
            fs_rmtree(f->dir);
        free(f);
    }
    httpc_cleanup();
    return 0;
}

static int tls_get(const tls_fixture *f, const char *host, uint16_t port, const char *ca,
                   httpc_response *r, char *err, size_t errlen)
{
    char u[128], ca_path[300];
    snprintf(u, sizeof u, "https://%s:%u/metrics", host, (unsigned)port);
    snprintf(ca_path, sizeof ca_path, "%s/%s", f->dir, ca != NULL ? ca : "");
    httpc_request req = {
        .url = u, .timeout_ms = 5000, .max_body = 1024, .ca_file = ca != NULL ? ca_path : NULL};
    httpc_response_init(r);
    return httpc_get(&req, r, err, errlen);
}

static void test_https_verified(void **state)
{
    tls_fixture *f = *state;
    const char *hosts[] = {"localhost", "127.0.0.1"}; /* DNS name, IP address SAN */
    for (size_t i = 0; i < 2; i++) {
        httpc_response r;
        char err[512] = "";
        int rc = tls_get(f, hosts[i], f->good_port, "ca.pem", &r, err, sizeof err);
        if (rc != 0)
            fail_msg("%s", err);
        assert_int_equal(r.status, 200);
        assert_string_equal(r.body.data, "tls_metric 1\n");
        httpc_response_free(&r);
    }
}

static void assert_tls_fails(const tls_fixture *f, const char *host, uint16_t port, const char *ca,
                             const char *want)
{
    httpc_response r;
    char err[512] = "";
    assert_int_equal(tls_get(f, host, port, ca, &r, err, sizeof err), -1);
    assert_contains(err, want);
    httpc_response_free(&r);
}

static void test_https_rejected(void **state)
{
    tls_fixture *f = *state;
    /* our CA is not in the system bundle */
    assert_tls_fails(f, "localhost", f->good_port, NULL,
                     "TLS handshake: certificate verification failed: The certificate is not "
                     "correctly signed by the trusted CA");
    /* trusted, but for another name */
    assert_tls_fails(f, "localhost", f->wrong_port, "ca.pem",
                     "certificate verification failed: The certificate Common Name (CN) does not "
                     "match with the expected CN");
    assert_tls_fails(f, "127.0.0.1", f->wrong_port, "ca.pem",
                     "the certificate is not valid for IP address 127.0.0.1");
    assert_tls_fails(f, "localhost", f->good_port, "no-such.pem", "cannot load CA certificates");
}

static void test_https_to_plain_and_silent_servers(void **state)
{
    tls_fixture *f = *state;
    raw_server s = {.hold_ms = 3000};
    raw_start(&s, "HTTP/1.1 400 Bad Request\r\n\r\n");
    assert_tls_fails(f, "127.0.0.1", s.port, "ca.pem", "TLS handshake");
    raw_stop(&s);
    raw_server q = {.delay_ms = 3000};
    raw_start(&q, NULL);
    int64_t t0 = mono_ms();
    char u[128], err[512];
    snprintf(u, sizeof u, "https://127.0.0.1:%u/", (unsigned)q.port);
    httpc_request req = {.url = u, .timeout_ms = 200, .max_body = 10};
    httpc_response r;
    httpc_response_init(&r);
    assert_int_equal(httpc_get(&req, &r, err, sizeof err), -1);
    assert_contains(err, "timed out after 0.2s during the TLS handshake");
    assert_true(mono_ms() - t0 < 1500);
    httpc_response_free(&r);
    raw_stop(&q);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest plain[] = {
        cmocka_unit_test(test_get_and_request_headers),
        cmocka_unit_test(test_status_is_not_an_error),
        cmocka_unit_test(test_bodies_length_and_chunked),
        cmocka_unit_test(test_body_caps),
        cmocka_unit_test(test_gzip),
        cmocka_unit_test(test_redirects),
        cmocka_unit_test(test_redirect_limits_and_schemes),
        cmocka_unit_test(test_localhost_and_ipv6),
        cmocka_unit_test(test_bad_urls),
        cmocka_unit_test(test_framing_without_close),
        cmocka_unit_test(test_exact_request),
        cmocka_unit_test(test_timeouts_are_overall),
        cmocka_unit_test(test_bad_responses),
        cmocka_unit_test(test_refused),
    };
    const struct CMUnitTest tls[] = {
        cmocka_unit_test(test_https_verified),
        cmocka_unit_test(test_https_rejected),
        cmocka_unit_test(test_https_to_plain_and_silent_servers),
    };
    int failed = cmocka_run_group_tests_name("httpc", plain, start_web, stop_web);
    failed += cmocka_run_group_tests_name("httpc_tls", tls, tls_setup, tls_teardown);
    return failed;
}
