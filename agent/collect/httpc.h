/*
 * httpc.h — the agent's HTTP client: GET one http or https URL, with one
 * timeout over everything, redirects followed, gzip decoded and a cap on
 * the decoded body.  It exists so that scraping a target does not load
 * libcurl and its ~40 libraries (two more TLS stacks, Kerberos, LDAP, ...)
 * into an agent whose memory budget is 10 MiB.
 *
 *   httpc_response r;
 *   httpc_response_init(&r);
 *   if (httpc_get(&(httpc_request){.url = url, .timeout_ms = 10000,
 *                                  .max_body = 64 << 20}, &r, err, errlen) != 0)
 *       ...                  // err: "Get \"http://...\": dial tcp ...: ..."
 *   r.status, r.status_text ("404 Not Found"), r.body
 *   httpc_response_free(&r);
 *
 * What it speaks: HTTP/1.1 with Connection: close (one request per
 * connection), Content-Length or chunked bodies or bodies to the end of
 * the connection; Accept-Encoding: gzip; 301/302/303/307/308 followed up
 * to HTTPC_MAX_REDIRECTS times to http or https URLs, relative Locations
 * resolved against the current URL; user:password in the URL sent as Basic
 * auth (kept across redirects to the same host only).  https is TLS 1.2
 * through mbed TLS, checked against the system CA bundle (or ca_file),
 * with SNI and the host name (or IP address) checked in the certificate.
 *
 * Thread-safe: requests share only the system CA bundle, loaded on the
 * first https request and freed by httpc_cleanup.
 */
#ifndef EMBER_AGENT_COLLECT_HTTPC_H
#define EMBER_AGENT_COLLECT_HTTPC_H

#include "common/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTPC_MAX_REDIRECTS 10

typedef struct httpc_request {
    const char *url;
    int64_t timeout_ms;        /* the whole exchange, redirects included; > 0 */
    size_t max_body;           /* decoded bytes; a longer body is an error; 0: no cap */
    const char *user_agent;    /* NULL: no User-Agent */
    const char *accept;        /* NULL: no Accept */
    const char *extra_headers; /* more "Name: value\r\n" lines, or NULL */
    const char *ca_file;       /* https: the trusted CAs; NULL: the system bundle */
} httpc_request;

typedef struct httpc_response {
    int status;            /* of the last response, after redirects */
    char status_text[128]; /* "404 Not Found", or "404" when the server gave no reason */
    ebuf body;             /* decoded */
} httpc_response;

void httpc_response_init(httpc_response *r);
void httpc_response_free(httpc_response *r);

/*
 * GET req->url into resp.  Any status is a success here (the caller judges
 * it); -1 with err is a transport or protocol failure, a body over the cap,
 * a timeout, or too many redirects, the message naming the URL as Go does:
 *   Get "https://node-1:9100/metrics": timed out after 10s while connecting to ...
 */
int httpc_get(const httpc_request *req, httpc_response *resp, char *err, size_t errlen);

/* Free what the first https request cached (the system CA bundle). */
void httpc_cleanup(void);

#endif
