/*
 * api_labels.c — the series listings of Prometheus's API:
 * GET/POST /api/v1/labels, GET /api/v1/label/<name>/values (both
 * {"status":"success","data":["a","b",...]}, sorted) and GET/POST
 * /api/v1/series (data: the label sets, sorted, each once).
 *
 * All take match[] (repeatable: their union counts), start and end (default
 * Prometheus's minTime and maxTime); a series counts when a selector picks
 * it and it holds a sample in [start, end].  Without match[] and without a
 * range the label lists come straight from the store's index; with a range
 * they come from every series holding a sample in it.  Errors and their
 * texts are web/api/v1's: a bad match[] is bad_data with the parser's text
 * (series prefixes `invalid parameter "match[]": `), series without
 * match[] is "no match[] parameter provided".
 */
#include "aggregator/http/api.h"
#include "aggregator/http/params.h"
#include "aggregator/tsdb/tsdb.h"
#include "common/json.h"
#include "common/mem.h"
#include "common/strmap.h"
#include "query/promql.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every series with a __name__, for a listing limited in time only. */
#define ALL_SERIES "{__name__=~\".+\"}"

typedef struct str_set {
    strmap seen;
    char **v;
    size_t n, cap;
} str_set;

static void set_add(str_set *s, const char *str)
{
    if (strmap_get(&s->seen, str, strlen(str), NULL))
        return;
    strmap_put(&s->seen, str, strlen(str), 0);
    EM_GROW(s->v, s->cap, s->n + 1);
    s->v[s->n++] = em_strdup(str);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void reply_list(httpd_response *resp, char **v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_str);
    resp->content_type = HTTPD_CONTENT_TYPE_JSON;
    ebuf_puts(&resp->body, "{\"status\":\"success\",\"data\":[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            ebuf_putc(&resp->body, ',');
        json_string(&resp->body, v[i]);
    }
    ebuf_puts(&resp->body, "]}");
}

/* The request's selection: match[] selectors and the time range. */
typedef struct selection {
    promql_selector *sels;
    int n;
    int64_t mint, maxt;
    bool ranged; /* start or end given */
} selection;

/* Parse start, end and match[]; false when the answer (an error) is set.
 * match_prefix is put before a match[] parse error. */
static bool read_selection(const httpd_request *req, const char *match_prefix, selection *s,
                           httpd_response *resp)
{
    char msg[700], perr[400];
    *s = (selection){0};
    if (!api_time_param(req, "start", API_MIN_TIME_MS, &s->mint, msg, sizeof msg) ||
        !api_time_param(req, "end", API_MAX_TIME_MS, &s->maxt, msg, sizeof msg)) {
        api_error(resp, 400, "bad_data", msg);
        return false;
    }
    s->ranged = s->mint != API_MIN_TIME_MS || s->maxt != API_MAX_TIME_MS;
    s->n = api_parse_matches(req, &s->sels, perr, sizeof perr);
    if (s->n < 0) {
        snprintf(msg, sizeof msg, "%s%s", match_prefix, perr);
        api_error(resp, 400, "bad_data", msg);
        return false;
    }
    return true;
}

/* Call fn for each series of one selector with a sample in [mint, maxt]. */
typedef void (*series_fn)(const labelset *ls, void *arg);
static int each_series(tsdb *db, const promql_selector *sel, int64_t mint, int64_t maxt,
                       series_fn fn, void *arg, char *err, size_t errlen)
{
    query_storage st = tsdb_query_storage(db);
    qselect_set set;
    qselect_set_init(&set);
    int rc = st.select(st.ctx, sel->matchers, sel->n, mint, maxt, &set, err, errlen);
    for (size_t i = 0; rc == 0 && i < set.n; i++)
        if (qiter_seek(set.v[i].it, mint) && set.v[i].it->t <= maxt)
            fn(&set.v[i].labels, arg);
    qselect_set_free(&set);
    return rc;
}

/* Run fn over the union of the selection's selectors (or every series);
 * false when the answer (an error) is set. */
static bool each_selected(aggregator *agg, const selection *s, series_fn fn, void *arg,
                          httpd_response *resp)
{
    promql_selector all;
    promql_error perr;
    bool everything = s->n == 0;
    if (everything && promql_parse_selector(ALL_SERIES, &all, &perr) != 0) {
        api_error(resp, 500, "internal", perr.msg);
        return false;
    }
    char err[512];
    int rc = 0;
    for (int i = 0; rc == 0 && i < (everything ? 1 : s->n); i++)
        rc = each_series(agg->db, everything ? &all : &s->sels[i], s->mint, s->maxt, fn, arg, err,
                         sizeof err);
    if (everything)
        promql_selector_free(&all);
    if (rc != 0)
        api_error(resp, 422, "execution", err);
    return rc == 0;
}

/* What a label listing collects: names (name NULL) or values of name. */
typedef struct label_collect {
    const char *name;
    str_set out;
} label_collect;

static void collect_labels(const labelset *ls, void *arg)
{
    label_collect *c = arg;
    for (size_t j = 0; j < ls->n; j++)
        if (!c->name)
            set_add(&c->out, ls->v[j].name);
        else if (strcmp(ls->v[j].name, c->name) == 0)
            set_add(&c->out, ls->v[j].value);
}

static void answer_labels(aggregator *agg, const httpd_request *req, const char *name,
                          httpd_response *resp)
{
    selection s;
    if (!read_selection(req, "", &s, resp))
        return;
    if (s.n == 0 && !s.ranged) {
        char **v;
        size_t n;
        if (name)
            tsdb_label_values(agg->db, name, &v, &n);
        else
            tsdb_label_names(agg->db, &v, &n);
        reply_list(resp, v, n);
        tsdb_strings_free(v, n);
        return;
    }
    label_collect c = {.name = name};
    strmap_init(&c.out.seen);
    if (each_selected(agg, &s, collect_labels, &c, resp))
        reply_list(resp, c.out.v, c.out.n);
    tsdb_strings_free(c.out.v, c.out.n);
    strmap_free(&c.out.seen);
    api_selectors_free(s.sels, s.n);
}

void api_handle_labels(void *ctx, const httpd_request *req, httpd_response *resp)
{
    answer_labels(ctx, req, NULL, resp);
}

void api_handle_label_values(void *ctx, const httpd_request *req, httpd_response *resp)
{
    static const char prefix[] = "/api/v1/label/", suffix[] = "/values";
    size_t pl = strlen(req->path), np = sizeof prefix - 1, ns = sizeof suffix - 1;
    if (pl <= np + ns || strncmp(req->path, prefix, np) != 0 ||
        strcmp(req->path + pl - ns, suffix) != 0) {
        api_error(resp, 404, "bad_data", "unknown path");
        return;
    }
    char *name = em_strndup(req->path + np, pl - np - ns);
    if (!label_name_valid(name, strlen(name))) {
        char msg[300];
        snprintf(msg, sizeof msg, "invalid label name: \"%.200s\"", name);
        api_error(resp, 400, "bad_data", msg);
    } else {
        answer_labels(ctx, req, name, resp);
    }
    free(name);
}

/* /api/v1/series: distinct label sets (canonical keys dedupe them). */
typedef struct series_collect {
    strmap seen;
    qseries_set out;
    ebuf key;
} series_collect;

static void collect_series(const labelset *ls, void *arg)
{
    series_collect *c = arg;
    ebuf_reset(&c->key);
    for (size_t i = 0; i < ls->n; i++) {
        ebuf_append(&c->key, ls->v[i].name, strlen(ls->v[i].name) + 1);
        ebuf_append(&c->key, ls->v[i].value, strlen(ls->v[i].value) + 1);
    }
    if (strmap_get(&c->seen, c->key.data, c->key.len, NULL))
        return;
    strmap_put(&c->seen, c->key.data, c->key.len, 0);
    qseries_set_add(&c->out, ls);
}

static void reply_series(httpd_response *resp, qseries_set *set)
{
    qseries_set_sort(set);
    resp->content_type = HTTPD_CONTENT_TYPE_JSON;
    ebuf_puts(&resp->body, "{\"status\":\"success\",\"data\":[");
    for (size_t i = 0; i < set->n; i++) {
        if (i)
            ebuf_putc(&resp->body, ',');
        api_json_labels(&resp->body, &set->v[i].labels);
    }
    ebuf_puts(&resp->body, "]}");
}

void api_handle_series(void *ctx, const httpd_request *req, httpd_response *resp)
{
    if (!httpd_param_get(req, "match[]")) {
        api_error(resp, 400, "bad_data", "no match[] parameter provided");
        return;
    }
    selection s;
    if (!read_selection(req, "invalid parameter \"match[]\": ", &s, resp))
        return;
    series_collect c;
    strmap_init(&c.seen);
    qseries_set_init(&c.out);
    ebuf_init(&c.key);
    if (each_selected(ctx, &s, collect_series, &c, resp))
        reply_series(resp, &c.out);
    strmap_free(&c.seen);
    qseries_set_free(&c.out);
    ebuf_free(&c.key);
    api_selectors_free(s.sels, s.n);
}
