/*
 * api_json.c — Prometheus's JSON for the API's values: label sets, sample
 * times and values, and query results.
 *
 * A query result is streamed (httpd_response_stream): the answer is written
 * a piece of about API_JSON_PIECE bytes at a time while the server sends
 * it, so a result of millions of points is never held twice in memory (once
 * as samples, once as text).  The shapes are web/api/v1's:
 *   vector  {"metric":{...},"value":[t,"v"]}, ...
 *   matrix  {"metric":{...},"values":[[t,"v"],...]}, ...
 *   scalar  [t,"v"]          string  [t,"s"]
 * with vector and matrix times as marshalTimestamp writes them and values
 * as marshalValue (fmt_float_json: "NaN", "+Inf", shortest round trip);
 * a scalar or string is promql.Scalar's / String's own JSON: the time a
 * Go float, the value in 'f' format (fmt_float_plain: "1e-07" is
 * "0.0000001").
 */
#include "aggregator/http/api.h"

#include "common/fmtfloat.h"
#include "common/json.h"
#include "common/mem.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define API_JSON_PIECE (32u << 10)

static void api_json_timestamp(ebuf *out, int64_t ms)
{
    /* Seconds with exactly three decimals, omitted when zero:
     * 1700000000.123, 1700000000.050, 1700000000. */
    uint64_t u = ms < 0 ? 0 - (uint64_t)ms : (uint64_t)ms;
    if (ms < 0)
        ebuf_putc(out, '-');
    ebuf_put_u64(out, u / 1000);
    if (u % 1000) {
        char frac[4] = {'.', (char)('0' + u % 1000 / 100), (char)('0' + u % 100 / 10),
                        (char)('0' + u % 10)};
        ebuf_append(out, frac, sizeof frac);
    }
}

void api_json_labels(ebuf *out, const labelset *ls)
{
    ebuf_putc(out, '{');
    for (size_t i = 0; i < ls->n; i++) {
        if (i)
            ebuf_putc(out, ',');
        json_string(out, ls->v[i].name);
        ebuf_putc(out, ':');
        json_string(out, ls->v[i].value);
    }
    ebuf_putc(out, '}');
}

/* promql.Scalar's and String's time: float64(t) / 1000 as Go's JSON
 * encoder writes a float (1700000060.5, not marshalTimestamp's .500). */
static void json_float_time(ebuf *out, int64_t ms)
{
    char t[FMT_FLOAT_MAX];
    fmt_float_json(t, (double)ms / 1000.0);
    ebuf_puts(out, t);
}

/* [t,"v"] */
static void json_point(ebuf *out, const qsample *s)
{
    char num[FMT_FLOAT_MAX];
    ebuf_putc(out, '[');
    api_json_timestamp(out, s->t);
    ebuf_append(out, ",\"", 2);
    ebuf_append(out, num, fmt_float_json(num, s->v));
    ebuf_append(out, "\"]", 2);
}

typedef enum { RS_HEAD, RS_SERIES, RS_DONE } rs_state;

typedef struct result_stream {
    promql_result res;
    rs_state state;
    size_t i, j;    /* next series, next point of it (matrix) */
    size_t written; /* series written so far (for the commas) */
    bool opened;    /* the current matrix series' head is out */
} result_stream;

static const char *type_name(promql_value_type t)
{
    switch (t) {
    case PV_MATRIX: return "matrix";
    case PV_SCALAR: return "scalar";
    case PV_STRING: return "string";
    default: return "vector";
    }
}

static void write_head(const result_stream *s, ebuf *out)
{
    ebuf_printf(out, "{\"status\":\"success\",\"data\":{\"resultType\":\"%s\",\"result\":",
                type_name(s->res.type));
    bool list = s->res.type == PV_VECTOR || s->res.type == PV_MATRIX;
    if (list)
        ebuf_putc(out, '[');
}

/* A scalar or string result: one point. */
static void write_point_result(const result_stream *s, ebuf *out)
{
    const qseries_set *set = &s->res.series;
    qsample p = {0, 0};
    if (set->n && set->v[0].n)
        p = set->v[0].samples[0];
    ebuf_putc(out, '[');
    json_float_time(out, p.t);
    ebuf_putc(out, ',');
    if (s->res.type == PV_SCALAR) {
        ebuf_putc(out, '"');
        char num[FMT_FLOAT_PLAIN_MAX];
        ebuf_append(out, num, fmt_float_plain(num, p.v));
        ebuf_putc(out, '"');
    } else {
        json_string(out, s->res.string ? s->res.string : "");
    }
    ebuf_putc(out, ']');
}

static void series_open(result_stream *s, const qseries *q, ebuf *out, const char *field)
{
    ebuf_puts(out, s->written++ ? ",{\"metric\":" : "{\"metric\":");
    api_json_labels(out, &q->labels);
    ebuf_printf(out, ",\"%s\":", field);
}

/* More of the current series of a vector or matrix, up to a piece. */
static void write_series(result_stream *s, ebuf *out)
{
    const qseries *q = &s->res.series.v[s->i];
    if (s->res.type == PV_VECTOR) {
        if (q->n) {
            series_open(s, q, out, "value");
            json_point(out, &q->samples[0]);
            ebuf_putc(out, '}');
        }
        s->i++;
        return;
    }
    if (!s->opened) { /* a full piece may end right after the head */
        series_open(s, q, out, "values");
        ebuf_putc(out, '[');
        s->opened = true;
    }
    for (; s->j < q->n && out->len < API_JSON_PIECE; s->j++) {
        if (s->j)
            ebuf_putc(out, ',');
        json_point(out, &q->samples[s->j]);
    }
    if (s->j == q->n) {
        ebuf_puts(out, "]}");
        s->i++;
        s->j = 0;
        s->opened = false;
    }
}

static bool produce_result(void *cls, ebuf *out)
{
    result_stream *s = cls;
    if (s->state == RS_HEAD) {
        write_head(s, out);
        s->state = RS_SERIES;
        if (s->res.type == PV_SCALAR || s->res.type == PV_STRING) {
            write_point_result(s, out);
            ebuf_puts(out, "}}");
            s->state = RS_DONE;
        }
    }
    while (s->state == RS_SERIES && out->len < API_JSON_PIECE) {
        if (s->i == s->res.series.n) {
            ebuf_puts(out, "]}}");
            s->state = RS_DONE;
        } else {
            write_series(s, out);
        }
    }
    return s->state != RS_DONE;
}

static void free_result_stream(void *cls)
{
    result_stream *s = cls;
    promql_result_free(&s->res);
    free(s);
}

void api_stream_result(httpd_response *resp, promql_result *res)
{
    result_stream *s = em_calloc(1, sizeof *s);
    s->res = *res;
    promql_result_init(res);
    resp->content_type = HTTPD_CONTENT_TYPE_JSON;
    httpd_response_stream(resp, produce_result, free_result_stream, s);
}
