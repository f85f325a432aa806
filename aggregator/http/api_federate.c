/*
 * api_federate.c — GET/POST /federate, as Prometheus 2.42 serves it.
 *
 * Every match[] selector is selected over [now - lookback, now]; the union
 * (a series matched twice is written once) is sorted by metric name, then by
 * label set, which is the order Prometheus's sort by name leaves its
 * label-sorted merge in.  Each series contributes its latest sample in that
 * range with its own timestamp, unless that sample is a staleness marker
 * (the text format cannot carry one).  Families get "# TYPE <name> untyped":
 * Prometheus 2.42 federates every family untyped, and our store keeps no
 * metadata.  As Prometheus does with no external labels, a series without
 * an instance label gets instance="", so a server scraping us with
 * honor_labels: true does not attach its own instance.
 *
 * The text is written series by series while the iterators are walked; with
 * gzip each series' text is deflated straight into the reply, so the body
 * is never held both plain and compressed.  httpd replies from one buffer:
 * truly streaming to the socket would need a callback body in httpd.
 * Errors are Prometheus's for this endpoint: plain text, 400 for a bad
 * match[].
 */
#include "aggregator/http/api.h"

#include "common/etime.h"
#include "common/mem.h"
#include "query/promql.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#define FED_CHUNK 16384u

/* The reply body, plain or gzip-deflated as it grows. */
typedef struct fed_out {
    ebuf *body;
    ebuf chunk; /* one series' text before deflating */
    z_stream z;
    bool gzip;
} fed_out;

static void fed_deflate(fed_out *o, int flush)
{
    o->z.next_in = (Bytef *)o->chunk.data;
    o->z.avail_in = (uInt)o->chunk.len;
    int rc;
    do {
        ebuf_reserve(o->body, FED_CHUNK);
        o->z.next_out = (Bytef *)o->body->data + o->body->len;
        o->z.avail_out = FED_CHUNK;
        rc = deflate(&o->z, flush);
        o->body->len += FED_CHUNK - o->z.avail_out;
    } while (flush == Z_FINISH ? rc == Z_OK : o->z.avail_out == 0);
    ebuf_reset(&o->chunk);
}

/* Where the next text goes: the body itself, or the chunk to deflate. */
static ebuf *fed_text(fed_out *o)
{
    return o->gzip ? &o->chunk : o->body;
}

static void fed_flush(fed_out *o, bool last)
{
    if (o->gzip && (last || o->chunk.len >= FED_CHUNK))
        fed_deflate(o, last ? Z_FINISH : Z_NO_FLUSH);
}

/* True when an Accept-Encoding value allows gzip (a q=0 refuses it). */
bool api_accepts_gzip(const char *accept)
{
    for (const char *p = accept; p && *p;) {
        p += strspn(p, " \t,");
        size_t n = strcspn(p, ",; \t");
        bool match = (n == 4 && strncasecmp(p, "gzip", 4) == 0) || (n == 1 && *p == '*');
        const char *end = p + strcspn(p, ",");
        const char *q = strstr(p, "q=");
        if (match && !(q && q < end && strtod(q + 2, NULL) == 0))
            return true;
        p = end;
    }
    return false;
}

static int by_name_then_labels(const void *a, const void *b)
{
    const labelset *x = &((const qselected *)a)->labels, *y = &((const qselected *)b)->labels;
    const char *nx = labels_metric_name(x), *ny = labels_metric_name(y);
    int c = strcmp(nx ? nx : "", ny ? ny : "");
    return c ? c : labels_compare(x, y);
}

/* The latest sample of it in [mint, ...]; false if none. */
static bool latest_sample(qiter *it, int64_t mint, int64_t *t, double *v)
{
    if (!qiter_seek(it, mint))
        return false;
    do {
        *t = it->t;
        *v = it->v;
    } while (qiter_next(it));
    return true;
}

/* One series: its family header if the name changed, then its sample. */
static void fed_series(fed_out *o, const qselected *s, int64_t mint, const char **family)
{
    int64_t t;
    double v;
    const char *name = labels_metric_name(&s->labels);
    if (!name || !latest_sample(s->it, mint, &t, &v) || is_stale_nan(v))
        return;
    ebuf *out = fed_text(o);
    if (!*family || strcmp(*family, name) != 0)
        expfmt_write_header(out, name, METRIC_UNTYPED, NULL);
    *family = name;
    if (labels_get(&s->labels, "instance")) {
        expfmt_write_sample(out, &s->labels, v, true, t);
    } else {
        labelset ls;
        labels_copy(&ls, &s->labels);
        labels_add(&ls, "instance", "");
        expfmt_write_sample(out, &ls, v, true, t);
        labels_free(&ls);
    }
    fed_flush(o, false);
}

int api_federate_write(const query_storage *st, const promql_selector *sels, size_t nsels,
                       int64_t now, int64_t lookback_ms, bool gzip, ebuf *body, char *err,
                       size_t errlen)
{
    int64_t mint = now - lookback_ms;
    qselect_set set;
    qselect_set_init(&set);
    for (size_t i = 0; i < nsels; i++) {
        if (st->select(st->ctx, sels[i].matchers, sels[i].n, mint, now, &set, err, errlen) != 0) {
            qselect_set_free(&set);
            return -1;
        }
    }
    if (set.n > 1)
        qsort(set.v, set.n, sizeof set.v[0], by_name_then_labels);
    fed_out o = {.body = body, .gzip = gzip};
    ebuf_init(&o.chunk);
    if (gzip && deflateInit2(&o.z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
                             Z_DEFAULT_STRATEGY) != Z_OK)
        abort();
    const char *family = NULL;
    for (size_t i = 0; i < set.n; i++) {
        if (i > 0 && labels_equal(&set.v[i].labels, &set.v[i - 1].labels))
            continue; /* matched by two selectors */
        fed_series(&o, &set.v[i], mint, &family);
    }
    if (gzip) {
        fed_flush(&o, true);
        deflateEnd(&o.z);
    }
    ebuf_free(&o.chunk);
    qselect_set_free(&set);
    return 0;
}

static void text_error(httpd_response *resp, int status, const char *msg)
{
    resp->status = status;
    resp->content_type = HTTPD_CONTENT_TYPE_TEXT;
    ebuf_reset(&resp->body);
    ebuf_printf(&resp->body, "%s\n", msg);
}

/* The match[] selectors in request order; -1 with err set on a bad one. */
static int parse_matches(const httpd_request *req, promql_selector **out, size_t *n, char *err,
                         size_t errlen)
{
    *out = NULL;
    *n = 0;
    for (size_t i = 0; i < req->nparams; i++) {
        if (strcmp(req->params[i].name, "match[]") != 0)
            continue;
        *out = em_realloc(*out, (*n + 1) * sizeof **out);
        promql_error perr;
        if (promql_parse_selector(req->params[i].value, &(*out)[*n], &perr) != 0) {
            snprintf(err, errlen, "%s", perr.msg);
            return -1;
        }
        (*n)++;
    }
    return 0;
}

void api_handle_federate(void *ctx, const httpd_request *req, httpd_response *resp)
{
    aggregator *agg = ctx;
    char err[400];
    promql_selector *sels;
    size_t n;
    int rc = parse_matches(req, &sels, &n, err, sizeof err);
    if (rc != 0) {
        text_error(resp, 400, err);
    } else {
        bool gzip = api_accepts_gzip(httpd_header(req, "Accept-Encoding"));
        query_storage st = tsdb_query_storage(agg->db);
        if (api_federate_write(&st, sels, n, now_ms(), agg->lookback_ms, gzip, &resp->body, err,
                               sizeof err) != 0) {
            text_error(resp, 500, err);
        } else {
            resp->content_type = HTTPD_CONTENT_TYPE_METRICS;
            if (gzip)
                httpd_response_header(resp, "Content-Encoding", "gzip");
        }
    }
    for (size_t i = 0; i < n; i++)
        promql_selector_free(&sels[i]);
    free(sels);
}
