/*
 * simhttp.c — the simulators' tiny HTTP server (see simhttp.h for the API).
 *
 * We bind the listening socket ourselves and hand it to libmicrohttpd
 * (MHD_OPTION_LISTEN_SOCKET): that way a busy port or a bad host comes back
 * as a precise errno message instead of MHD's generic failure, "HOST:PORT"
 * resolves through getaddrinfo (IPv4, IPv6, names), and the ephemeral port is
 * known from getsockname before the first request.
 *
 * libmicrohttpd calls the request handler at least twice per request: first
 * with only the headers (we allocate the per-request state), then once per
 * chunk of body, then a final time with no body.  We answer on that final
 * call, never the first: answering early makes MHD close the connection
 * after every reply (see DEPENDENCIES.md), which breaks keep-alive scrapes.
 */
#include "simulators/simhttp.h"

#include "common/log.h"
#include "common/mem.h"

#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define LISTEN_BACKLOG 128
#define CONNECTION_TIMEOUT_SECS 30

typedef struct route {
    char *method;
    char *path;
    simhttp_handler fn;       /* NULL for a metrics route */
    simhttp_render_fn render; /* set for a metrics route */
    void *ctx;
} route;

struct simhttp {
    route *routes;
    size_t nroutes, caproutes;
    pthread_mutex_t mu; /* held around every handler */
    struct MHD_Daemon *daemon;
    uint16_t port;
};

/* What one request accumulates between handler calls. */
typedef struct request_state {
    ebuf body;
    int too_large;
} request_state;

/* ---- routes ---- */

static void answer_healthy(const simhttp_request *req, simhttp_response *resp, void *ctx)
{
    ebuf_puts(&resp->body, "Healthy.\n");
}

simhttp *simhttp_new(void)
{
    simhttp *h = em_calloc(1, sizeof *h);
    pthread_mutex_init(&h->mu, NULL);
    simhttp_route(h, "GET", "/-/healthy", answer_healthy, NULL);
    simhttp_route(h, "GET", "/health", answer_healthy, NULL);
    return h;
}

void simhttp_free(simhttp *h)
{
    if (!h)
        return;
    simhttp_stop(h);
    for (size_t i = 0; i < h->nroutes; i++) {
        free(h->routes[i].method);
        free(h->routes[i].path);
    }
    free(h->routes);
    pthread_mutex_destroy(&h->mu);
    free(h);
}

static route *find_route(const simhttp *h, const char *method, const char *path)
{
    for (size_t i = 0; i < h->nroutes; i++)
        if (strcmp(h->routes[i].path, path) == 0 && strcmp(h->routes[i].method, method) == 0)
            return &h->routes[i];
    return NULL;
}

static void add_route(simhttp *h, const char *method, const char *path, simhttp_handler fn,
                      simhttp_render_fn render, void *ctx)
{
    route *r = find_route(h, method, path);
    if (!r) {
        EM_GROW(h->routes, h->caproutes, h->nroutes + 1);
        r = &h->routes[h->nroutes++];
        r->method = em_strdup(method);
        r->path = em_strdup(path);
    }
    r->fn = fn;
    r->render = render;
    r->ctx = ctx;
}

void simhttp_route(simhttp *h, const char *method, const char *path, simhttp_handler fn, void *ctx)
{
    add_route(h, method, path, fn, NULL, ctx);
}

void simhttp_metrics(simhttp *h, const char *path, simhttp_render_fn render, void *ctx)
{
    add_route(h, "GET", path, NULL, render, ctx);
}

/* "GET, HEAD, POST" for the methods a path has; empty if the path is unknown. */
static void allowed_methods(const simhttp *h, const char *path, ebuf *out)
{
    for (size_t i = 0; i < h->nroutes; i++) {
        if (strcmp(h->routes[i].path, path) != 0)
            continue;
        ebuf_printf(out, "%s%s", out->len ? ", " : "", h->routes[i].method);
        if (strcmp(h->routes[i].method, "GET") == 0)
            ebuf_puts(out, ", HEAD");
    }
}

/* ---- requests ---- */

void simhttp_lock(simhttp *h)
{
    pthread_mutex_lock(&h->mu);
}

void simhttp_unlock(simhttp *h)
{
    pthread_mutex_unlock(&h->mu);
}

const char *simhttp_request_arg(const simhttp_request *req, const char *name)
{
    return MHD_lookup_connection_value((struct MHD_Connection *)req->conn, MHD_GET_ARGUMENT_KIND,
                                       name);
}

static void run_route(simhttp *h, const route *r, const simhttp_request *req,
                      simhttp_response *resp)
{
    simhttp_lock(h);
    if (r->render) {
        resp->content_type = SIMHTTP_CONTENT_TYPE_METRICS;
        r->render(&resp->body, r->ctx);
    } else {
        r->fn(req, resp, r->ctx);
    }
    simhttp_unlock(h);
}

static void answer_error(simhttp_response *resp, int status, const char *text)
{
    resp->status = status;
    ebuf_reset(&resp->body);
    ebuf_printf(&resp->body, "%d %s\n", status, text);
}

/* Route the request and fill resp; *allow gets the Allow header for a 405. */
static void route_request(simhttp *h, struct MHD_Connection *conn, const char *path,
                          const char *method, request_state *rs, simhttp_response *resp,
                          ebuf *allow)
{
    if (rs->too_large) {
        answer_error(resp, MHD_HTTP_CONTENT_TOO_LARGE, "request body too large");
        return;
    }
    /* HEAD is GET without a body; libmicrohttpd drops the body for us. */
    const char *m = strcmp(method, "HEAD") == 0 ? "GET" : method;
    const route *r = find_route(h, m, path);
    if (r) {
        simhttp_request req = {m, path, rs->body.data, rs->body.len, conn};
        run_route(h, r, &req, resp);
        return;
    }
    allowed_methods(h, path, allow);
    if (allow->len)
        answer_error(resp, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed");
    else
        answer_error(resp, MHD_HTTP_NOT_FOUND, "page not found");
}

static enum MHD_Result send_response(struct MHD_Connection *conn, const simhttp_response *resp,
                                     const ebuf *allow)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(resp->body.len, resp->body.data, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, resp->content_type);
    if (allow->len)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow->data);
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)resp->status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result answer(simhttp *h, struct MHD_Connection *conn, const char *path,
                              const char *method, request_state *rs)
{
    simhttp_response resp = {.status = MHD_HTTP_OK, .content_type = SIMHTTP_CONTENT_TYPE_TEXT};
    ebuf allow;
    ebuf_init(&resp.body);
    ebuf_init(&allow);
    route_request(h, conn, path, method, rs, &resp, &allow);
    enum MHD_Result ret = send_response(conn, &resp, &allow);
    ebuf_free(&resp.body);
    ebuf_free(&allow);
    return ret;
}

/* Keep reading an oversized body (so the 413 reaches the client cleanly)
 * but stop storing it. */
static void take_body(request_state *rs, const char *data, size_t n)
{
    if (rs->too_large || rs->body.len + n > SIMHTTP_MAX_BODY) {
        rs->too_large = 1;
        return;
    }
    ebuf_append(&rs->body, data, n);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls)
{
    request_state *rs = *req_cls;
    if (!rs) { /* first call: headers only */
        rs = em_calloc(1, sizeof *rs);
        ebuf_init(&rs->body);
        *req_cls = rs;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        take_body(rs, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    return answer(cls, conn, url, method, rs);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    request_state *rs = *req_cls;
    if (!rs)
        return;
    ebuf_free(&rs->body);
    free(rs);
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

int simhttp_split_addr(const char *addr, char *host, size_t hostlen, char *port, size_t portlen)
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
        /* Lets a restarted simulator reuse a port in TIME_WAIT; a port with
         * a live listener still fails with EADDRINUSE. */
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
    if (simhttp_split_addr(addr, host, sizeof host, port, sizeof port) != 0) {
        snprintf(err, errlen, "listen %s: address must be HOST:PORT", addr);
        return -1;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "listen %s: %s", addr, gai_strerror(rc));
        return -1;
    }
    int last_errno = EADDRNOTAVAIL;
    int fd = listen_on(res, &last_errno);
    freeaddrinfo(res);
    if (fd < 0)
        snprintf(err, errlen, "listen %s: %s", addr, strerror(last_errno));
    return fd;
}

int simhttp_start(simhttp *h, const char *addr, char *err, size_t errlen)
{
    if (h->daemon) {
        snprintf(err, errlen, "listen %s: server already started", addr);
        return -1;
    }
    int fd = open_listener(addr, err, errlen);
    if (fd < 0)
        return -1;
    h->port = bound_port(fd);
    h->daemon = MHD_start_daemon(
        MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL, on_request, h,
        /* The logger must come first to catch messages about later options. */
        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, h, MHD_OPTION_LISTEN_SOCKET, fd,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, h, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)CONNECTION_TIMEOUT_SECS, MHD_OPTION_END);
    if (!h->daemon) {
        close(fd);
        h->port = 0;
        snprintf(err, errlen, "listen %s: cannot start HTTP server", addr);
        return -1;
    }
    return 0;
}

uint16_t simhttp_port(const simhttp *h)
{
    return h->port;
}

void simhttp_stop(simhttp *h)
{
    if (!h->daemon)
        return;
    MHD_stop_daemon(h->daemon); /* also closes the listening socket */
    h->daemon = NULL;
    h->port = 0;
}
