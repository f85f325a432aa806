/*
 * httpd.c — Ember's HTTP server on libmicrohttpd (see httpd.h for the API).
 *
 * We bind the listening socket ourselves and hand it to libmicrohttpd
 * (MHD_OPTION_LISTEN_SOCKET): a busy port or a bad host then comes back as a
 * precise errno message instead of MHD's generic failure, "HOST:PORT"
 * resolves through getaddrinfo (IPv4, IPv6, names), and an ephemeral port is
 * known from getsockname before the first request.
 *
 * libmicrohttpd calls the request handler at least twice per request: first
 * with only the headers (we allocate the per-request state), then once per
 * chunk of body, then a final time with no body.  We answer on that final
 * call, never the first: answering early makes MHD close the connection
 * after every reply (see DEPENDENCIES.md), which costs keep-alive and most
 * of the throughput.  The guards (auth hook, 413 from Content-Length) are
 * the exception: they answer on the first call, before any body is read,
 * and MHD then closes the connection instead of reading the body.
 */
#include "common/httpd.h"

#include "common/fsutil.h"
#include "common/httpd_guard.h"
#include "common/log.h"
#include "common/mem.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define LISTEN_BACKLOG 128
#define FORM_TYPE "application/x-www-form-urlencoded"
#define PEM_MAX (1u << 20) /* a certificate chain or key file */
/* TLS 1.2 and 1.3 only, as Prometheus's default min_version. */
#define TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

typedef struct route {
    char *method;
    char *path;
    httpd_handler fn;
    void *ctx;
    int access;
} route;

struct httpd {
    route *routes;
    size_t nroutes, caproutes;
    httpd_options o;    /* the TLS file names are our copies */
    pthread_mutex_t mu; /* held around every handler when o.serialize */
    struct MHD_Daemon *daemon;
    uint16_t port;
    httpd_deadlines *deadlines;
    ebuf cert, key; /* PEM the running daemon was started with */
};

/* What one request accumulates between handler calls. */
typedef struct pending {
    ebuf body;
    bool answered; /* by a guard, before the body */
} pending;

/* ---- parameters and headers ---- */

static void add_param(httpd_param **v, size_t *n, size_t *cap, const char *name, size_t nl,
                      const char *value, size_t vl)
{
    EM_GROW(*v, *cap, *n + 1);
    (*v)[*n].name = em_strndup(name, nl);
    (*v)[*n].value = em_strndup(value, vl);
    (*n)++;
}

static void free_params(httpd_param *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].name);
        free(v[i].value);
    }
    free(v);
}

const char *httpd_param_get(const httpd_request *r, const char *name)
{
    for (size_t i = 0; i < r->nparams; i++)
        if (strcmp(r->params[i].name, name) == 0)
            return r->params[i].value;
    return NULL;
}

void httpd_params_free(httpd_request *r)
{
    free_params(r->params, r->nparams);
    r->params = NULL;
    r->nparams = r->capparams = 0;
}

const char *httpd_header(const httpd_request *r, const char *name)
{
    return r->conn ? MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name) : NULL;
}

void httpd_response_header(httpd_response *resp, const char *name, const char *value)
{
    add_param(&resp->headers, &resp->nheaders, &resp->capheaders, name, strlen(name), value,
              strlen(value));
}

/* The byte of the two hex digits at s[0..1], if n leaves room for them. */
static bool hex_byte(const char *s, size_t n, char *out)
{
    if (n < 2 || !isxdigit((unsigned char)s[0]) || !isxdigit((unsigned char)s[1]))
        return false;
    char hex[3] = {s[0], s[1], '\0'};
    *out = (char)strtol(hex, NULL, 16);
    return true;
}

/* Decode one form component into out: '+' is a space, %XX a byte. */
static bool url_decode(const char *s, size_t len, ebuf *out)
{
    ebuf_reset(out);
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '+') {
            ebuf_putc(out, ' ');
        } else if (s[i] == '%') {
            char byte;
            if (!hex_byte(s + i + 1, len - i - 1, &byte))
                return false;
            ebuf_putc(out, byte);
            i += 2;
        } else {
            ebuf_putc(out, s[i]);
        }
    }
    return true;
}

bool httpd_parse_form(httpd_request *r, const char *s, size_t len)
{
    ebuf name, value;
    ebuf_init(&name);
    ebuf_init(&value);
    bool ok = true;
    for (size_t i = 0; ok && i < len;) {
        size_t end = i;
        while (end < len && s[end] != '&')
            end++;
        size_t eq = i;
        while (eq < end && s[eq] != '=')
            eq++;
        if (end > i) {
            ok = url_decode(s + i, eq - i, &name) &&
                 url_decode(s + eq + (eq < end), end - eq - (eq < end), &value);
            if (ok)
                add_param(&r->params, &r->nparams, &r->capparams, name.data, name.len, value.data,
                          value.len);
        }
        i = end + 1;
    }
    ebuf_free(&name);
    ebuf_free(&value);
    return ok;
}

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    httpd_request *r = cls;
    if (!value)
        value = "";
    add_param(&r->params, &r->nparams, &r->capparams, key, strlen(key), value, strlen(value));
    return MHD_YES;
}

/* Go reads a form body for these methods only (net/http ParseForm). */
static bool has_form_body(const httpd_request *r)
{
    bool method = strcmp(r->method, "POST") == 0 || strcmp(r->method, "PUT") == 0 ||
                  strcmp(r->method, "PATCH") == 0;
    return method && r->content_type &&
           strncasecmp(r->content_type, FORM_TYPE, strlen(FORM_TYPE)) == 0;
}

/* Body fields first, then the URL's, as Go's r.Form; false on a bad body. */
static bool read_params(httpd_request *r)
{
    if (has_form_body(r) && !httpd_parse_form(r, r->body, r->body_len))
        return false;
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, collect_arg, r);
    return true;
}

/* ---- routes ---- */

httpd *httpd_new(const httpd_options *opts)
{
    httpd *h = em_calloc(1, sizeof *h);
    if (opts)
        h->o = *opts;
    if (!h->o.max_body)
        h->o.max_body = HTTPD_DEFAULT_MAX_BODY;
    if (!h->o.timeout_s)
        h->o.timeout_s = HTTPD_DEFAULT_TIMEOUT_S;
    if (!h->o.max_connections)
        h->o.max_connections = HTTPD_DEFAULT_MAX_CONNECTIONS;
    if (!h->o.read_timeout_s)
        h->o.read_timeout_s = HTTPD_DEFAULT_READ_TIMEOUT_S;
    h->o.tls_cert_file = h->o.tls_cert_file ? em_strdup(h->o.tls_cert_file) : NULL;
    h->o.tls_key_file = h->o.tls_key_file ? em_strdup(h->o.tls_key_file) : NULL;
    ebuf_init(&h->cert);
    ebuf_init(&h->key);
    pthread_mutex_init(&h->mu, NULL);
    return h;
}

void httpd_free(httpd *h)
{
    if (!h)
        return;
    httpd_stop(h);
    for (size_t i = 0; i < h->nroutes; i++) {
        free(h->routes[i].method);
        free(h->routes[i].path);
    }
    free(h->routes);
    ebuf_free(&h->cert);
    ebuf_free(&h->key);
    free((char *)h->o.tls_cert_file);
    free((char *)h->o.tls_key_file);
    pthread_mutex_destroy(&h->mu);
    free(h);
}

/* A route path ending in '*' matches every path that starts with the rest
 * (the aggregator routes /api/v1/label/<name>/values that way). */
static bool path_matches(const char *pattern, const char *path)
{
    size_t n = strlen(pattern);
    if (n > 0 && pattern[n - 1] == '*')
        return strncmp(pattern, path, n - 1) == 0;
    return strcmp(pattern, path) == 0;
}

/* The route for a request: exact paths win over prefix patterns. */
static route *find_route(const httpd *h, const char *method, const char *path)
{
    route *prefix = NULL;
    for (size_t i = 0; i < h->nroutes; i++) {
        route *r = &h->routes[i];
        if (strcmp(r->method, method) != 0 || !path_matches(r->path, path))
            continue;
        if (strcmp(r->path, path) == 0)
            return r;
        if (!prefix)
            prefix = r;
    }
    return prefix;
}

static void add_route(httpd *h, const char *method, const char *path, httpd_handler fn, void *ctx,
                      int access)
{
    route *r = NULL;
    for (size_t i = 0; i < h->nroutes && !r; i++)
        if (strcmp(h->routes[i].path, path) == 0 && strcmp(h->routes[i].method, method) == 0)
            r = &h->routes[i];
    if (!r) {
        EM_GROW(h->routes, h->caproutes, h->nroutes + 1);
        r = &h->routes[h->nroutes++];
        r->method = em_strdup(method);
        r->path = em_strdup(path);
    }
    r->fn = fn;
    r->ctx = ctx;
    r->access = access;
}

void httpd_route(httpd *h, const char *methods, const char *path, httpd_handler fn, void *ctx)
{
    httpd_route_access(h, methods, path, fn, ctx, 0);
}

void httpd_route_access(httpd *h, const char *methods, const char *path, httpd_handler fn,
                        void *ctx, int access)
{
    const char *sep = ", ";
    for (const char *m = methods + strspn(methods, sep); *m; m += strspn(m, sep)) {
        size_t n = strcspn(m, sep);
        char *one = em_strndup(m, n);
        add_route(h, one, path, fn, ctx, access);
        free(one);
        m += n;
    }
}

/* "GET, HEAD, POST" for the methods a path has; empty if the path is unknown. */
static void allowed_methods(const httpd *h, const char *path, ebuf *out)
{
    for (size_t i = 0; i < h->nroutes; i++) {
        if (!path_matches(h->routes[i].path, path))
            continue;
        ebuf_printf(out, "%s%s", out->len ? ", " : "", h->routes[i].method);
        if (strcmp(h->routes[i].method, "GET") == 0)
            ebuf_puts(out, ", HEAD");
    }
}

/* ---- answering ---- */

void httpd_lock(httpd *h)
{
    pthread_mutex_lock(&h->mu);
}

void httpd_unlock(httpd *h)
{
    pthread_mutex_unlock(&h->mu);
}

static void plain_error(httpd_response *resp, int status, const char *msg)
{
    resp->status = status;
    resp->content_type = HTTPD_CONTENT_TYPE_TEXT;
    ebuf_reset(&resp->body);
    ebuf_printf(&resp->body, "%d %s\n", status, msg);
}

static void fail(const httpd *h, httpd_response *resp, int status, const char *msg)
{
    (h->o.error ? h->o.error : plain_error)(resp, status, msg);
}

/* No route for (method, path): 404, or 405 with Allow if the path exists.
 * The 404 stays plain text whatever the formatter, as in Prometheus. */
static void answer_unrouted(const httpd *h, const char *path, httpd_response *resp)
{
    ebuf allow;
    ebuf_init(&allow);
    allowed_methods(h, path, &allow);
    if (allow.len) {
        fail(h, resp, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed");
        httpd_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow.data);
    } else {
        plain_error(resp, MHD_HTTP_NOT_FOUND, "page not found");
    }
    ebuf_free(&allow);
}

/* HEAD is GET without a body (libmicrohttpd drops it) unless routed itself. */
static const route *route_for(const httpd *h, const char *method, const char *path)
{
    const route *r = find_route(h, method, path);
    if (!r && strcmp(method, "HEAD") == 0)
        r = find_route(h, "GET", path);
    return r;
}

static void run_handler(httpd *h, const route *r, const httpd_request *req, httpd_response *resp)
{
    if (h->o.serialize)
        httpd_lock(h);
    r->fn(r->ctx, req, resp);
    if (h->o.serialize)
        httpd_unlock(h);
}

static void serve(httpd *h, struct MHD_Connection *conn, const char *path, const char *method,
                  pending *p, httpd_response *resp)
{
    const route *r = route_for(h, method, path);
    if (!r) {
        answer_unrouted(h, path, resp);
        return;
    }
    httpd_request req = {.method = r->method,
                         .path = path,
                         .body = p->body.data,
                         .body_len = p->body.len,
                         .conn = conn};
    req.content_type =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (read_params(&req))
        run_handler(h, r, &req, resp);
    else
        fail(h, resp, MHD_HTTP_BAD_REQUEST, "malformed form body");
    httpd_params_free(&req);
}

/* ---- streamed bodies ---- */

#define STREAM_BLOCK (64u << 10) /* MHD's read size for a streamed body */

void httpd_response_stream(httpd_response *resp, httpd_produce_fn produce,
                           httpd_stream_free_fn free_fn, void *cls)
{
    if (resp->stream_free)
        resp->stream_free(resp->stream_cls);
    resp->produce = produce;
    resp->stream_free = free_fn;
    resp->stream_cls = cls;
}

/* A stream in flight: the producer's latest piece and how much of it MHD
 * has taken. */
typedef struct stream {
    httpd_produce_fn produce;
    httpd_stream_free_fn free_fn;
    void *cls;
    ebuf piece;
    size_t off;
    bool done;
} stream;

/* MHD's content reader: hand out the current piece, asking the producer
 * for the next one when it is used up.  Never returns 0, which would make
 * MHD's internal polling spin. */
static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    stream *s = cls;
    while (s->off == s->piece.len) {
        if (s->done)
            return MHD_CONTENT_READER_END_OF_STREAM;
        ebuf_reset(&s->piece);
        s->off = 0;
        s->done = !s->produce(s->cls, &s->piece);
    }
    size_t n = s->piece.len - s->off < max ? s->piece.len - s->off : max;
    memcpy(buf, s->piece.data + s->off, n);
    s->off += n;
    return (ssize_t)n;
}

static void stream_release(void *cls)
{
    stream *s = cls;
    if (s->free_fn)
        s->free_fn(s->cls);
    ebuf_free(&s->piece);
    free(s);
}

/* The MHD response for resp; a stream passes to it (or is released here
 * when MHD cannot take it). */
static struct MHD_Response *make_response(httpd_response *resp)
{
    if (!resp->produce)
        return MHD_create_response_from_buffer(resp->body.len, resp->body.data,
                                               MHD_RESPMEM_MUST_COPY);
    stream *s = em_calloc(1, sizeof *s);
    *s = (stream){.produce = resp->produce, .free_fn = resp->stream_free, .cls = resp->stream_cls};
    ebuf_init(&s->piece);
    resp->produce = NULL;
    resp->stream_free = NULL;
    struct MHD_Response *mr = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, STREAM_BLOCK,
                                                                stream_read, s, stream_release);
    if (!mr)
        stream_release(s);
    return mr;
}

static enum MHD_Result send_response(struct MHD_Connection *conn, httpd_response *resp)
{
    struct MHD_Response *mr = make_response(resp);
    if (!mr)
        return MHD_NO;
    if (resp->content_type)
        MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE, resp->content_type);
    for (size_t i = 0; i < resp->nheaders; i++)
        MHD_add_response_header(mr, resp->headers[i].name, resp->headers[i].value);
    enum MHD_Result rc = MHD_queue_response(conn, (unsigned)resp->status, mr);
    MHD_destroy_response(mr);
    return rc;
}

static void response_init(httpd_response *resp)
{
    *resp = (httpd_response){.status = MHD_HTTP_OK, .content_type = HTTPD_CONTENT_TYPE_TEXT};
    ebuf_init(&resp->body);
}

/* Queue resp, then release it; the request counts as read from now on. */
static enum MHD_Result send_and_free(httpd *h, struct MHD_Connection *conn, httpd_response *resp)
{
    deadlines_request_read(h->deadlines, conn);
    enum MHD_Result rc = send_response(conn, resp);
    if (resp->stream_free) /* a stream the handler set but the server did not send */
        resp->stream_free(resp->stream_cls);
    ebuf_free(&resp->body);
    free_params(resp->headers, resp->nheaders);
    return rc;
}

static enum MHD_Result answer(httpd *h, struct MHD_Connection *conn, const char *path,
                              const char *method, pending *p)
{
    httpd_response resp;
    response_init(&resp);
    serve(h, conn, path, method, p, &resp);
    return send_and_free(h, conn, &resp);
}

/* A Content-Length over max_body (one too large to parse included; a
 * malformed one MHD refuses itself). */
static bool declared_too_large(const httpd *h, struct MHD_Connection *conn)
{
    const char *cl =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (!cl)
        return false;
    errno = 0;
    unsigned long long n = strtoull(cl, NULL, 10);
    return errno == ERANGE || n > h->o.max_body;
}

/* The checks made on the headers alone: false with resp filled when the
 * request is answered now, its body unread. */
static bool guards_pass(httpd *h, struct MHD_Connection *conn, const char *path, const char *method,
                        httpd_response *resp)
{
    const route *r = route_for(h, method, path);
    if (h->o.auth) {
        httpd_request req = {
            .method = r ? r->method : method, .path = path, .body = "", .conn = conn};
        if (!h->o.auth(h->o.auth_ctx, &req, r ? r->access : 0, resp)) {
            refusal_count(resp->status == MHD_HTTP_UNAUTHORIZED ? HTTPD_REFUSED_UNAUTHORIZED
                                                                : HTTPD_REFUSED_FORBIDDEN);
            return false;
        }
    }
    if (!declared_too_large(h, conn))
        return true;
    if (r) {
        fail(h, resp, MHD_HTTP_CONTENT_TOO_LARGE, "request body too large");
        refusal_count(HTTPD_REFUSED_TOO_LARGE);
    } else
        answer_unrouted(h, path, resp);
    return false;
}

/* First call, headers only: the guards, then the per-request state. */
static enum MHD_Result begin_request(httpd *h, struct MHD_Connection *conn, const char *url,
                                     const char *method, void **req_cls)
{
    pending *p = em_calloc(1, sizeof *p);
    ebuf_init(&p->body);
    *req_cls = p;
    httpd_response resp;
    response_init(&resp);
    if (guards_pass(h, conn, url, method, &resp)) {
        ebuf_free(&resp.body);
        return MHD_YES;
    }
    p->answered = true;
    return send_and_free(h, conn, &resp);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls)
{
    httpd *h = cls;
    pending *p = *req_cls;
    if (!p)
        return begin_request(h, conn, url, method, req_cls);
    if (p->answered) { /* MHD does not read on after an early answer; be sure */
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        /* A chunked body past the limit (a declared one was refused
         * already): closing is the only way not to read the rest. */
        if (p->body.len + *upload_data_size > h->o.max_body) {
            char q[300];
            log_warn("http request body too large", "limit=%zu path=%s", h->o.max_body,
                     log_quote(q, sizeof q, url));
            refusal_count(HTTPD_REFUSED_TOO_LARGE);
            return MHD_NO;
        }
        ebuf_append(&p->body, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    return answer(h, conn, url, method, p);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    httpd *h = cls;
    deadlines_request_done(h->deadlines, conn);
    pending *p = *req_cls;
    if (!p)
        return;
    ebuf_free(&p->body);
    free(p);
    *req_cls = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512], quoted[600];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    log_warn("http server", "detail=%s", log_quote(quoted, sizeof quoted, msg));
}

/* ---- listening ---- */

int httpd_split_addr(const char *addr, char *host, size_t hostlen, char *port, size_t portlen)
{
    const char *colon, *hs = addr, *he;
    if (addr[0] == '[') { /* [v6addr]:port */
        he = strchr(addr, ']');
        if (!he || he[1] != ':')
            return -1;
        hs = addr + 1;
        colon = he + 1;
    } else {
        colon = strrchr(addr, ':');
        if (!colon || strchr(addr, ':') != colon) /* bare IPv6 needs brackets */
            return -1;
        he = colon;
    }
    size_t hl = (size_t)(he - hs), pl = strlen(colon + 1);
    if (hl >= hostlen || pl == 0 || pl >= portlen || pl > 5)
        return -1;
    for (const char *p = colon + 1; *p; p++)
        if (*p < '0' || *p > '9')
            return -1;
    if (atoi(colon + 1) > 65535)
        return -1;
    memcpy(host, hs, hl);
    host[hl] = '\0';
    memcpy(port, colon + 1, pl + 1);
    return 0;
}

/* Bind and listen on the first address that works; returns the fd or -1. */
static int listen_on(const struct addrinfo *ai, int *last_errno)
{
    for (; ai; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            *last_errno = errno;
            continue;
        }
        /* Lets a restarted server reuse a port in TIME_WAIT; a port with a
         * live listener still fails with EADDRINUSE. */
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, LISTEN_BACKLOG) == 0)
            return fd;
        *last_errno = errno;
        close(fd);
    }
    return -1;
}

static uint16_t bound_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return 0;
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static int open_listener(const char *addr, char *err, size_t errlen)
{
    char host[256], port[8];
    if (httpd_split_addr(addr, host, sizeof host, port, sizeof port) != 0) {
        snprintf(err, errlen, "listen address \"%s\" must be HOST:PORT", addr);
        return -1;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "cannot resolve \"%s\": %s", addr, gai_strerror(rc));
        return -1;
    }
    int last_errno = EADDRNOTAVAIL;
    int fd = listen_on(res, &last_errno);
    freeaddrinfo(res);
    if (fd < 0)
        snprintf(err, errlen, "cannot listen on %s: %s", addr, strerror(last_errno));
    return fd;
}

/* Read the certificate and key files into cert and key (NUL-terminated,
 * as MHD wants them); 0, or -1 with err set. */
static int read_tls_files(const httpd *h, ebuf *cert, ebuf *key, char *err, size_t errlen)
{
    const char *names[2] = {h->o.tls_cert_file, h->o.tls_key_file};
    ebuf *bufs[2] = {cert, key};
    for (int i = 0; i < 2; i++) {
        ebuf_reset(bufs[i]);
        int rc = fs_read_file(names[i], bufs[i], PEM_MAX);
        if (rc != 0) {
            snprintf(err, errlen, "cannot read %s: %s", names[i], strerror(rc));
            return -1;
        }
        ebuf_putc(bufs[i], '\0');
    }
    return 0;
}

static bool tls_on(const httpd *h)
{
    return h->o.tls_cert_file && h->o.tls_key_file;
}

/* MHD divides its limit among a pool's threads; the server's own limit is
 * enforced across them (httpd_guard.h), so each thread may take it all. */
static unsigned mhd_connection_limit(const httpd *h)
{
    unsigned n = h->o.threads > 1 && !h->o.thread_per_connection ? h->o.threads : 1;
    return h->o.max_connections > UINT32_MAX / n ? UINT32_MAX : h->o.max_connections * n;
}

/* A daemon serving on fd, with cert and key when serving HTTPS.  MHD owns
 * fd from here on: it closes it when the daemon stops or fails to start. */
static struct MHD_Daemon *start_daemon(httpd *h, int fd, const ebuf *cert, const ebuf *key)
{
    bool tls = tls_on(h), per_conn = h->o.thread_per_connection;
    /* MHD warns about a pool of 0 or 1, so one thread means no pool option. */
    struct MHD_OptionItem extra[] = {
        {h->o.threads > 1 && !per_conn ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END, h->o.threads,
         NULL},
        {tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, tls ? cert->data : NULL},
        {tls ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, 0, tls ? key->data : NULL},
        {tls ? MHD_OPTION_HTTPS_PRIORITIES : MHD_OPTION_END, 0, TLS_PRIORITIES},
        {MHD_OPTION_END, 0, NULL}};
    /* MHD stops at the first END, so the items in use must come first. */
    size_t n = 0;
    for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++)
        if (extra[i].option != MHD_OPTION_END)
            extra[n++] = extra[i];
    extra[n] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    /* ITC lets httpd_reload_tls quiesce a daemon (MHD_quiesce_daemon). */
    unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG | MHD_USE_ITC |
                     (tls ? MHD_USE_TLS : 0) | (per_conn ? MHD_USE_THREAD_PER_CONNECTION : 0);
    /* The logger comes first to catch messages about the later options. */
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, h,
        MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
        MHD_OPTION_NOTIFY_CONNECTION, deadlines_on_connection, h->deadlines,
        MHD_OPTION_CONNECTION_TIMEOUT, h->o.timeout_s, MHD_OPTION_CONNECTION_LIMIT,
        mhd_connection_limit(h), MHD_OPTION_ARRAY, extra, MHD_OPTION_END);
    return d;
}

int httpd_start(httpd *h, const char *addr, char *err, size_t errlen)
{
    if (h->daemon) {
        snprintf(err, errlen, "cannot listen on %s: server already started", addr);
        return -1;
    }
    if (tls_on(h) && read_tls_files(h, &h->cert, &h->key, err, errlen) != 0)
        return -1;
    int fd = open_listener(addr, err, errlen);
    if (fd < 0)
        return -1;
    h->port = bound_port(fd);
    h->deadlines = deadlines_start(h->o.read_timeout_s, h->o.max_connections);
    h->daemon = start_daemon(h, fd, &h->cert, &h->key);
    if (!h->daemon) { /* fd is closed */
        deadlines_free(h->deadlines);
        h->deadlines = NULL;
        h->port = 0;
        snprintf(err, errlen, "cannot start HTTP%s server on %s%s", tls_on(h) ? "S" : "", addr,
                 tls_on(h) ? " (is the certificate and key pair valid PEM?)" : "");
        return -1;
    }
    return 0;
}

int httpd_reload_tls(httpd *h, char *err, size_t errlen)
{
    if (!h->daemon || !tls_on(h))
        return 0;
    ebuf cert, key;
    ebuf_init(&cert);
    ebuf_init(&key);
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_LISTEN_FD);
    int fd = -1, rc = read_tls_files(h, &cert, &key, err, errlen);
    if (rc == 0 && (!di || (fd = fcntl(di->listen_fd, F_DUPFD_CLOEXEC, 0)) < 0)) {
        snprintf(err, errlen, "cannot reload TLS: %s", strerror(errno));
        rc = -1;
    }
    struct MHD_Daemon *d = rc == 0 ? start_daemon(h, fd, &cert, &key) : NULL;
    if (rc == 0 && !d) {
        snprintf(err, errlen, "cannot serve with %s and %s (is the pair valid PEM?)",
                 h->o.tls_cert_file, h->o.tls_key_file);
        rc = -1;
    }
    if (rc == 0) {
        /* Both accept on the socket until the old one lets go of it:
         * quiesced first, or stopping it would shut the socket down for
         * the new one too. */
        MHD_socket old = MHD_quiesce_daemon(h->daemon);
        if (old != MHD_INVALID_SOCKET)
            close(old);
        MHD_stop_daemon(h->daemon);
        h->daemon = d;
        ebuf tmp = h->cert;
        h->cert = cert;
        cert = tmp;
        tmp = h->key;
        h->key = key;
        key = tmp;
    }
    ebuf_free(&cert);
    ebuf_free(&key);
    return rc;
}

uint16_t httpd_port(const httpd *h)
{
    return h->port;
}

void httpd_stop(httpd *h)
{
    if (!h->daemon)
        return;
    MHD_stop_daemon(h->daemon); /* also closes the listening socket */
    h->daemon = NULL;
    h->port = 0;
    deadlines_free(h->deadlines);
    h->deadlines = NULL;
}
