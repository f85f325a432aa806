/*
 * server.c — libmicrohttpd glue: we bind the listening socket ourselves (so
 * "address already in use" is reported precisely), collect the request body,
 * merge URL and form parameters, and answer on the handler's second call
 * (answering on the first forces Connection: close; see DEPENDENCIES.md).
 */
#include "aggregator/http/server.h"

#include "common/log.h"
#include "common/mem.h"

#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct http_server {
    struct MHD_Daemon *d;
    int fd;
    unsigned port;
    const http_route *routes;
    size_t nroutes;
    void *ctx;
};

/* Per-connection request state, kept in MHD's con_cls between calls. */
typedef struct pending {
    ebuf body;
    bool too_large;
} pending;

const char *http_param_get(const http_request *r, const char *name)
{
    for (size_t i = 0; i < r->nparams; i++)
        if (strcmp(r->params[i].name, name) == 0)
            return r->params[i].value;
    return NULL;
}

static void add_param(http_request *r, const char *name, size_t nl, const char *value, size_t vl)
{
    EM_GROW(r->params, r->capparams, r->nparams + 1);
    r->params[r->nparams].name = em_strndup(name, nl);
    r->params[r->nparams].value = em_strndup(value, vl);
    r->nparams++;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decode a form component in place semantics: '+' is space, %XX a byte. */
static bool url_decode(const char *s, size_t len, ebuf *out)
{
    ebuf_reset(out);
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '+') {
            ebuf_putc(out, ' ');
        } else if (s[i] == '%') {
            int hi = i + 1 < len ? hexval(s[i + 1]) : -1;
            int lo = i + 2 < len ? hexval(s[i + 2]) : -1;
            if (hi < 0 || lo < 0)
                return false;
            ebuf_putc(out, (char)(hi * 16 + lo));
            i += 2;
        } else {
            ebuf_putc(out, s[i]);
        }
    }
    return true;
}

bool http_parse_form(http_request *r, const char *s, size_t len)
{
    ebuf name, value;
    ebuf_init(&name);
    ebuf_init(&value);
    bool ok = true;
    size_t i = 0;
    while (ok && i < len) {
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
                add_param(r, name.data, name.len, value.data, value.len);
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
    http_request *r = cls;
    add_param(r, key, strlen(key), value ? value : "", value ? strlen(value) : 0);
    return MHD_YES;
}

static void free_request(http_request *r)
{
    for (size_t i = 0; i < r->nparams; i++) {
        free(r->params[i].name);
        free(r->params[i].value);
    }
    free(r->params);
}

static enum MHD_Result send_response(struct MHD_Connection *c, http_response *resp)
{
    struct MHD_Response *mr =
        MHD_create_response_from_buffer(resp->body.len, resp->body.data, MHD_RESPMEM_MUST_COPY);
    if (resp->content_type)
        MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE, resp->content_type);
    enum MHD_Result rc = MHD_queue_response(c, (unsigned)resp->status, mr);
    MHD_destroy_response(mr);
    return rc;
}

static void error_json(http_response *resp, int status, const char *type, const char *msg)
{
    resp->status = status;
    resp->content_type = "application/json";
    ebuf_reset(&resp->body);
    ebuf_printf(&resp->body, "{\"status\":\"error\",\"errorType\":\"%s\",\"error\":\"%s\"}", type,
                msg);
}

static const http_route *find_route(const http_server *s, const char *path)
{
    for (size_t i = 0; i < s->nroutes; i++)
        if (strcmp(s->routes[i].path, path) == 0)
            return &s->routes[i];
    return NULL;
}

static void dispatch(http_server *s, struct MHD_Connection *c, const char *url, const char *method,
                     pending *p, http_response *resp)
{
    const http_route *route = find_route(s, url);
    bool is_get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    bool is_post = strcmp(method, "POST") == 0;
    if (!route) {
        resp->status = 404;
        resp->content_type = "text/plain; charset=utf-8";
        ebuf_puts(&resp->body, "404 page not found\n");
        return;
    }
    if (!is_get && !(is_post && route->allow_post)) {
        error_json(resp, 405, "bad_data", "method not allowed");
        return;
    }
    if (p->too_large) {
        error_json(resp, 413, "bad_data", "request body too large");
        return;
    }
    http_request req = {.method = method, .path = url, .body = p->body.data,
                        .body_len = p->body.len};
    req.content_type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect_arg, &req);
    if (is_post && req.content_type &&
        strncmp(req.content_type, "application/x-www-form-urlencoded", 33) == 0 &&
        !http_parse_form(&req, p->body.data, p->body.len)) {
        error_json(resp, 400, "bad_data", "malformed form body");
    } else {
        route->fn(s->ctx, &req, resp);
    }
    free_request(&req);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_size, void **con_cls)
{
    http_server *s = cls;
    pending *p = *con_cls;
    if (!p) { /* first call: headers only */
        p = em_calloc(1, sizeof *p);
        ebuf_init(&p->body);
        *con_cls = p;
        return MHD_YES;
    }
    if (*upload_size) {
        if (p->body.len + *upload_size > HTTP_MAX_BODY)
            p->too_large = true;
        else
            ebuf_append(&p->body, upload_data, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    http_response resp = {.status = 200, .content_type = "application/json"};
    ebuf_init(&resp.body);
    dispatch(s, c, url, method, p, &resp);
    enum MHD_Result rc = send_response(c, &resp);
    ebuf_free(&resp.body);
    return rc;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    pending *p = *con_cls;
    if (p) {
        ebuf_free(&p->body);
        free(p);
        *con_cls = NULL;
    }
}

/* Split "HOST:PORT" (HOST may be [v6]) and bind a listening socket. */
static int bind_listen(const char *addr, unsigned *port, char *err, size_t errlen)
{
    const char *colon = strrchr(addr, ':');
    if (!colon) {
        snprintf(err, errlen, "listen address \"%s\" must be HOST:PORT", addr);
        return -1;
    }
    char host[256];
    size_t hl = (size_t)(colon - addr);
    if (hl >= sizeof host)
        hl = sizeof host - 1;
    memcpy(host, addr, hl);
    host[hl] = '\0';
    char *h = host;
    if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']') {
        h[hl - 1] = '\0';
        h++;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE};
    struct addrinfo *ai = NULL;
    int gai = getaddrinfo(h[0] ? h : NULL, colon + 1, &hints, &ai);
    if (gai != 0) {
        snprintf(err, errlen, "cannot resolve \"%s\": %s", addr, gai_strerror(gai));
        return -1;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd >= 0)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 128) != 0) {
        snprintf(err, errlen, "cannot listen on %s: %s", addr, strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(ai);
        return -1;
    }
    freeaddrinfo(ai);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    *port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                     : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}

int http_server_start(const char *listen_addr, const http_route *routes, size_t nroutes, void *ctx,
                      http_server **out, char *err, size_t errlen)
{
    http_server *s = em_calloc(1, sizeof *s);
    s->routes = routes;
    s->nroutes = nroutes;
    s->ctx = ctx;
    s->fd = bind_listen(listen_addr, &s->port, err, errlen);
    if (s->fd < 0) {
        free(s);
        return -1;
    }
    s->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, 0, NULL, NULL,
                            on_request, s, MHD_OPTION_LISTEN_SOCKET, s->fd,
                            MHD_OPTION_THREAD_POOL_SIZE, 2, MHD_OPTION_NOTIFY_COMPLETED,
                            on_completed, s, MHD_OPTION_CONNECTION_TIMEOUT, 60,
                            MHD_OPTION_CONNECTION_LIMIT, 1024, MHD_OPTION_END);
    if (!s->d) {
        snprintf(err, errlen, "cannot start HTTP server on %s", listen_addr);
        close(s->fd);
        free(s);
        return -1;
    }
    *out = s;
    return 0;
}

unsigned http_server_port(const http_server *s)
{
    return s->port;
}

void http_server_stop(http_server *s)
{
    if (!s)
        return;
    MHD_stop_daemon(s->d); /* also closes the listening socket we handed it */
    free(s);
}
