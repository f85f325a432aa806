/*
 * httpc.c — GET a URL for the agent (see httpc.h): URL parsing, the
 * request, and the redirect loop.  The connection (TCP, TLS, deadline) is
 * httpc_conn.c, the response parser httpc_parse.c.
 *
 * Redirects follow Go's net/http client, which Prometheus scrapes with:
 * 301/302/303/307/308 with a Location, at most 10, and an error reading
 * "stopped after 10 redirects" after that.
 */
#include "agent/collect/httpc.h"

#include "agent/collect/httpc_conn.h"
#include "agent/collect/httpc_parse.h"
#include "common/err.h"
#include "common/etime.h"
#include "common/mem.h"

#include <mbedtls/base64.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_HOST 256
#define MAX_AUTH 512

typedef struct httpc_url {
    bool https;
    char host[MAX_HOST]; /* without brackets */
    uint16_t port;
    bool port_given; /* in the URL, and not the scheme's default */
    char *target;    /* path and query: "/metrics?x=1" */
    char *userinfo;  /* "user:pass" as written, or NULL */
    char *text;      /* the URL for messages, the password hidden */
} httpc_url;

void httpc_response_init(httpc_response *r)
{
    r->status = 0;
    r->status_text[0] = '\0';
    ebuf_init(&r->body);
}

void httpc_response_free(httpc_response *r)
{
    ebuf_free(&r->body);
}

void httpc_cleanup(void)
{
    httpc_conn_cleanup();
}

/* ---- URLs ---------------------------------------------------------------- */

static void url_free(httpc_url *u)
{
    free(u->target);
    free(u->userinfo);
    free(u->text);
    memset(u, 0, sizeof *u);
}

/* "[::1]:9100", "node:9100" or "node" for Host and messages. */
static void host_port(const httpc_url *u, char *buf, size_t len)
{
    const char *fmt = strchr(u->host, ':') != NULL ? "[%s]" : "%s";
    int n = snprintf(buf, len, fmt, u->host);
    if (u->port_given && n > 0 && (size_t)n < len)
        snprintf(buf + n, len - (size_t)n, ":%u", (unsigned)u->port);
}

/* scheme "://": returns the length of a valid "http" or "https" prefix. */
static int parse_scheme(httpc_url *u, const char *url, char *err, size_t errlen)
{
    const char *sep = strstr(url, "://");
    size_t n = sep != NULL ? (size_t)(sep - url) : 0;
    if (n == 0 ||
        strspn(url, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.") < n) {
        err_set(err, errlen, "not an absolute http or https URL");
        return -1;
    }
    if (n == 5 && strncasecmp(url, "https", 5) == 0) {
        u->https = true;
    } else if (n != 4 || strncasecmp(url, "http", 4) != 0) {
        err_set(err, errlen, "unsupported protocol scheme \"%.*s\"", (int)n, url);
        return -1;
    }
    return (int)n + 3;
}

/* host, [v6host] and :port of the authority a..e (userinfo removed). */
static int parse_host_port(httpc_url *u, const char *a, const char *e, char *err, size_t errlen)
{
    const char *h = a, *he;
    if (*a == '[') {
        h = a + 1;
        he = memchr(h, ']', (size_t)(e - h));
        if (he == NULL || (he + 1 < e && he[1] != ':')) {
            err_set(err, errlen, "bad IPv6 address in URL");
            return -1;
        }
    } else {
        he = memchr(a, ':', (size_t)(e - a));
        he = he != NULL ? he : e;
    }
    size_t hl = (size_t)(he - h);
    if (hl == 0 || hl >= MAX_HOST) {
        err_set(err, errlen, hl == 0 ? "URL has no host" : "host name too long");
        return -1;
    }
    memcpy(u->host, h, hl);
    u->host[hl] = '\0';
    unsigned char ip6[16];
    if (*a == '[' && inet_pton(AF_INET6, u->host, ip6) != 1) {
        err_set(err, errlen, "bad IPv6 address \"%s\" in URL", u->host);
        return -1;
    }
    u->port = u->https ? 443 : 80;
    const char *p = he + (*a == '[') + 1; /* after ':' */
    if (p > e || p == e)                  /* no port, or "host:" */
        return 0;
    size_t pl = (size_t)(e - p);
    unsigned long port = strtoul(p, NULL, 10);
    if (pl > 5 || strspn(p, "0123456789") < pl || port == 0 || port > 65535) {
        err_set(err, errlen, "invalid port \"%.*s\" in URL", (int)pl, p);
        return -1;
    }
    u->port_given = port != u->port;
    u->port = (uint16_t)port;
    return 0;
}

static void url_text(httpc_url *u)
{
    char hp[MAX_HOST + 16];
    host_port(u, hp, sizeof hp);
    ebuf b;
    ebuf_init(&b);
    ebuf_puts(&b, u->https ? "https://" : "http://");
    if (u->userinfo != NULL) {
        size_t user = strcspn(u->userinfo, ":");
        ebuf_append(&b, u->userinfo, user);
        ebuf_puts(&b, u->userinfo[user] == ':' ? ":xxxxx@" : "@"); /* as Go's Redacted */
    }
    ebuf_printf(&b, "%s%s", hp, u->target);
    u->text = ebuf_steal(&b, NULL);
}

static int url_parse(httpc_url *u, const char *url, char *err, size_t errlen)
{
    memset(u, 0, sizeof *u);
    for (const char *c = url; *c != '\0'; c++) {
        if ((unsigned char)*c <= ' ' || *c == 0x7f) {
            err_set(err, errlen, "URL contains a space or control character");
            return -1;
        }
    }
    int sl = parse_scheme(u, url, err, errlen);
    if (sl < 0)
        return -1;
    const char *a = url + sl;
    const char *e = a + strcspn(a, "/?#");
    const char *at = NULL;
    for (const char *c = a; c < e; c++)
        at = *c == '@' ? c : at;
    if (at != NULL) {
        u->userinfo = em_strndup(a, (size_t)(at - a));
        a = at + 1;
    }
    if (parse_host_port(u, a, e, err, errlen) != 0) {
        url_free(u);
        return -1;
    }
    size_t tl = strcspn(e, "#");
    ebuf t;
    ebuf_init(&t);
    if (*e != '/')
        ebuf_putc(&t, '/');
    ebuf_append(&t, e, tl);
    u->target = ebuf_steal(&t, NULL);
    url_text(u);
    return 0;
}

/* ---- redirects ------------------------------------------------------------- */

static bool has_scheme(const char *s)
{
    if (!isalpha((unsigned char)*s))
        return false;
    size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.");
    return s[n] == ':';
}

/* Location resolved against the URL it came from (RFC 3986 5.2, minus dot segments). */
static char *resolve(const httpc_url *base, const char *loc)
{
    if (has_scheme(loc))
        return em_strdup(loc);
    ebuf b;
    ebuf_init(&b);
    ebuf_puts(&b, base->https ? "https:" : "http:");
    if (loc[0] == '/' && loc[1] == '/') {
        ebuf_puts(&b, loc);
        return ebuf_steal(&b, NULL);
    }
    char hp[MAX_HOST + 16];
    host_port(base, hp, sizeof hp);
    ebuf_printf(&b, "//%s", hp); /* credentials: see follow() */
    size_t path_len = strcspn(base->target, "?");
    if (loc[0] == '/') {
        ebuf_puts(&b, loc);
    } else if (loc[0] == '?' || loc[0] == '\0' || loc[0] == '#') {
        ebuf_append(&b, base->target, loc[0] == '?' ? path_len : strlen(base->target));
        ebuf_puts(&b, loc);
    } else {
        const char *slash = base->target;
        for (size_t i = 0; i < path_len; i++)
            slash = base->target[i] == '/' ? base->target + i : slash;
        ebuf_append(&b, base->target, (size_t)(slash - base->target) + 1);
        ebuf_puts(&b, loc);
    }
    return ebuf_steal(&b, NULL);
}

/* ---- the request -------------------------------------------------------------- */

static int hexval(char c)
{
    return isdigit((unsigned char)c) ? c - '0' : tolower((unsigned char)c) - 'a' + 10;
}

/* "Authorization: Basic ..." from "user:pa%40ss" (percent-decoded first). */
static void basic_auth(ebuf *req, const char *userinfo)
{
    char plain[MAX_AUTH];
    size_t n = 0;
    for (const char *c = userinfo; *c != '\0' && n + 1 < sizeof plain; c++) {
        if (c[0] == '%' && isxdigit((unsigned char)c[1]) && isxdigit((unsigned char)c[2])) {
            plain[n++] = (char)(hexval(c[1]) * 16 + hexval(c[2]));
            c += 2;
        } else {
            plain[n++] = *c;
        }
    }
    unsigned char b64[MAX_AUTH * 4 / 3 + 8];
    size_t olen = 0;
    if (mbedtls_base64_encode(b64, sizeof b64, &olen, (const unsigned char *)plain, n) == 0)
        ebuf_printf(req, "Authorization: Basic %.*s\r\n", (int)olen, (const char *)b64);
}

static int send_request(httpc_conn *c, const httpc_url *u, const httpc_request *req, char *err,
                        size_t errlen)
{
    char hp[MAX_HOST + 16];
    host_port(u, hp, sizeof hp);
    ebuf b;
    ebuf_init(&b);
    ebuf_printf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\n", u->target, hp);
    if (req->user_agent != NULL)
        ebuf_printf(&b, "User-Agent: %s\r\n", req->user_agent);
    if (req->accept != NULL)
        ebuf_printf(&b, "Accept: %s\r\n", req->accept);
    ebuf_puts(&b, "Accept-Encoding: gzip\r\n");
    if (u->userinfo != NULL)
        basic_auth(&b, u->userinfo);
    if (req->extra_headers != NULL)
        ebuf_puts(&b, req->extra_headers);
    ebuf_puts(&b, "Connection: close\r\n\r\n");
    int rc = httpc_conn_write(c, b.data, b.len, err, errlen);
    ebuf_free(&b);
    return rc;
}

static bool is_redirect(const httpc_parser *p)
{
    int s = p->status;
    return p->location != NULL && (s == 301 || s == 302 || s == 303 || s == 307 || s == 308);
}

/* Read until the response is complete, or its headers are a redirect's. */
static int read_response(httpc_conn *c, httpc_parser *p, char *err, size_t errlen)
{
    char buf[16384];
    for (;;) {
        long n = httpc_conn_read(c, buf, sizeof buf, err, errlen);
        if (n < 0)
            return -1;
        httpc_parse_rc rc;
        if (n == 0) {
            rc = httpc_parser_eof(p, err, errlen);
        } else {
            size_t off = 0, used;
            do {
                rc = httpc_parser_feed(p, buf + off, (size_t)n - off, &used, err, errlen);
                off += used;
                if (rc == HTTPC_PARSE_HEADERS && is_redirect(p))
                    return 0; /* its body does not matter */
            } while (rc == HTTPC_PARSE_HEADERS);
        }
        if (rc != HTTPC_PARSE_MORE)
            return rc == HTTPC_PARSE_DONE ? 0 : -1;
    }
}

static int exchange(const httpc_url *u, const httpc_request *req, int64_t deadline, httpc_parser *p,
                    char *err, size_t errlen)
{
    httpc_conn c;
    if (httpc_conn_open(&c, u->host, u->port, deadline, req->timeout_ms, err, errlen) != 0)
        return -1;
    int rc = -1;
    if ((!u->https || httpc_conn_tls(&c, u->host, req->ca_file, err, errlen) == 0) &&
        send_request(&c, u, req, err, errlen) == 0)
        rc = read_response(&c, p, err, errlen);
    httpc_conn_close(&c);
    return rc;
}

/* The next hop's URL in *u; credentials go along to the same host only. */
static int follow(httpc_url *u, const char *location, char *err, size_t errlen)
{
    char *next = resolve(u, location);
    httpc_url nu;
    char why[256];
    int rc = url_parse(&nu, next, why, sizeof why);
    if (rc != 0) {
        err_set(err, errlen, "redirect to \"%.200s\": %s", location, why);
    } else {
        if (nu.userinfo == NULL && u->userinfo != NULL && strcasecmp(nu.host, u->host) == 0) {
            nu.userinfo = em_strdup(u->userinfo);
            free(nu.text);
            url_text(&nu);
        }
        url_free(u);
        *u = nu;
    }
    free(next);
    return rc;
}

int httpc_get(const httpc_request *req, httpc_response *resp, char *err, size_t errlen)
{
    char why[512];
    httpc_url u;
    if (url_parse(&u, req->url, why, sizeof why) != 0) {
        err_set(err, errlen, "bad URL \"%.200s\": %s", req->url, why);
        return -1;
    }
    int64_t deadline = mono_ms() + req->timeout_ms;
    size_t cap = req->max_body ? req->max_body : SIZE_MAX;
    int rc = -1;
    for (int hops = 0;; hops++) {
        httpc_parser p;
        httpc_parser_init(&p, cap);
        rc = exchange(&u, req, deadline, &p, why, sizeof why);
        bool redirect = rc == 0 && is_redirect(&p);
        if (redirect && hops == HTTPC_MAX_REDIRECTS) {
            snprintf(why, sizeof why, "stopped after %d redirects", HTTPC_MAX_REDIRECTS);
            rc = -1;
        } else if (redirect) {
            rc = follow(&u, p.location, why, sizeof why);
        } else if (rc == 0) {
            resp->status = p.status;
            memcpy(resp->status_text, p.status_text, sizeof resp->status_text);
            ebuf tmp = resp->body;
            resp->body = p.body;
            p.body = tmp;
        }
        httpc_parser_free(&p);
        if (rc != 0 || !redirect)
            break;
    }
    if (rc != 0)
        err_set(err, errlen, "Get \"%s\": %s", u.text, why);
    url_free(&u);
    return rc;
}
