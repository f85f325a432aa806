/*
 * http_call.h — the curl client the tests of Ember's guarded HTTP servers
 * share (test_http_auth.c, test_agent_http.c, the agent's integration
 * test): GET or POST with basic credentials or an extra header, over HTTPS
 * trusting a test CA, keeping the status, the body, every WWW-Authenticate
 * header and the server certificate's subject; and the value of one
 * ember_http_requests_refused_total series on a server's /metrics.
 */
#ifndef EMBER_TESTS_HTTP_CALL_H
#define EMBER_TESTS_HTTP_CALL_H

#include "common/buf.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct http_reply {
    long status;       /* 0: no connection */
    ebuf body;         /* NUL-terminated; the caller frees it */
    char www[256];     /* every WWW-Authenticate, joined with '|' */
    char subject[256]; /* of the server certificate, over HTTPS */
} http_reply;

typedef struct http_call_opts {
    const char *post;    /* a form body, or NULL for GET */
    const char *userpwd; /* "user:password" for basic auth, or NULL */
    const char *header;  /* "Authorization: Bearer ...", or NULL */
    const char *cafile;  /* the CA to trust over HTTPS, or NULL */
} http_call_opts;

static inline size_t http_call_body(char *p, size_t size, size_t n, void *ud)
{
    ebuf_append(ud, p, size * n);
    return size * n;
}

static inline size_t http_call_header(char *p, size_t size, size_t n, void *ud)
{
    http_reply *r = ud;
    const char *name = "WWW-Authenticate: ";
    size_t len = size * n, nl = strlen(name);
    if (len > nl && strncasecmp(p, name, nl) == 0) {
        size_t used = strlen(r->www);
        snprintf(r->www + used, sizeof r->www - used, "%s%.*s", used ? "|" : "",
                 (int)(len - nl - 2), p + nl);
    }
    return len;
}

static inline void http_call_subject(CURL *c, http_reply *r)
{
    struct curl_certinfo *ci = NULL;
    curl_easy_getinfo(c, CURLINFO_CERTINFO, &ci);
    for (struct curl_slist *s = ci && ci->num_of_certs ? ci->certinfo[0] : NULL; s; s = s->next)
        if (strncmp(s->data, "Subject:", 8) == 0)
            snprintf(r->subject, sizeof r->subject, "%s", s->data + 8);
}

static inline void http_call(const char *url, const http_call_opts *o, http_reply *r)
{
    memset(r, 0, sizeof *r);
    ebuf_init(&r->body);
    CURL *c = curl_easy_init();
    struct curl_slist *h = o->header ? curl_slist_append(NULL, o->header) : NULL;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, http_call_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, http_call_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    if (o->cafile) {
        curl_easy_setopt(c, CURLOPT_CAINFO, o->cafile);
        curl_easy_setopt(c, CURLOPT_CERTINFO, 1L);
    }
    if (o->userpwd)
        curl_easy_setopt(c, CURLOPT_USERPWD, o->userpwd);
    if (o->post)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, o->post);
    if (curl_easy_perform(c) == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
        http_call_subject(c, r);
    }
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    ebuf_putc(&r->body, '\0');
}

/* ember_http_requests_refused_total{reason} on the /metrics at url, or -1
 * when the call fails or the series is not there. */
static inline double http_refused_at(const char *url, const http_call_opts *o, const char *reason)
{
    http_reply r;
    http_call(url, o, &r);
    char line[128];
    snprintf(line, sizeof line, "\nember_http_requests_refused_total{reason=\"%s\"} ", reason);
    const char *p = r.status == 200 ? strstr(r.body.data, line) : NULL;
    double v = p ? strtod(p + strlen(line), NULL) : -1;
    ebuf_free(&r.body);
    return v;
}

#endif
