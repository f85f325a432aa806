/*
 * api_labels.c — GET/POST /api/v1/labels and the label values listing of
 * Prometheus's API: {"status":"success","data":["a","b",...]}, sorted.
 *
 * Without match[] the lists come straight from the store's index.  With
 * match[] (repeatable: their union counts) only the series the selectors
 * pick and that hold a sample in [start, end] contribute, as in Prometheus.
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

static bool time_param(const httpd_request *req, const char *name, int64_t *ms,
                       httpd_response *resp)
{
    const char *s = httpd_param_get(req, name);
    char err[300], msg[400];
    if (!s || !s[0] || api_parse_time(s, ms, err, sizeof err))
        return true;
    snprintf(msg, sizeof msg, "invalid parameter \"%s\": %s", name, err);
    api_error(resp, 400, "bad_data", msg);
    return false;
}

/* Series of one selector with a sample in [mint, maxt]: their names (name
 * NULL) or their values of name go into out. */
static int collect(tsdb *db, const promql_selector *sel, int64_t mint, int64_t maxt,
                   const char *name, str_set *out, char *err, size_t errlen)
{
    query_storage st = tsdb_query_storage(db);
    qselect_set set;
    qselect_set_init(&set);
    int rc = st.select(st.ctx, sel->matchers, sel->n, mint, maxt, &set, err, errlen);
    for (size_t i = 0; rc == 0 && i < set.n; i++) {
        if (!qiter_seek(set.v[i].it, mint) || set.v[i].it->t > maxt)
            continue;
        const labelset *ls = &set.v[i].labels;
        for (size_t j = 0; j < ls->n; j++)
            if (!name)
                set_add(out, ls->v[j].name);
            else if (strcmp(ls->v[j].name, name) == 0)
                set_add(out, ls->v[j].value);
    }
    qselect_set_free(&set);
    return rc;
}

/* The union over every match[]; false when the answer (an error) is set. */
static bool collect_matches(aggregator *agg, const httpd_request *req, int64_t mint, int64_t maxt,
                            const char *name, str_set *out, httpd_response *resp)
{
    for (size_t i = 0; i < req->nparams; i++) {
        if (strcmp(req->params[i].name, "match[]") != 0)
            continue;
        promql_selector sel;
        promql_error perr;
        char err[512], msg[600];
        if (promql_parse_selector(req->params[i].value, &sel, &perr) != 0) {
            snprintf(msg, sizeof msg, "invalid parameter \"match[]\": %s", perr.msg);
            api_error(resp, 400, "bad_data", msg);
            return false;
        }
        int rc = collect(agg->db, &sel, mint, maxt, name, out, err, sizeof err);
        promql_selector_free(&sel);
        if (rc != 0) {
            api_error(resp, 422, "execution", err);
            return false;
        }
    }
    return true;
}

static void answer(aggregator *agg, const httpd_request *req, const char *name,
                   httpd_response *resp)
{
    int64_t mint = INT64_MIN, maxt = INT64_MAX;
    if (!time_param(req, "start", &mint, resp) || !time_param(req, "end", &maxt, resp))
        return;
    if (!httpd_param_get(req, "match[]")) {
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
    str_set s = {0};
    strmap_init(&s.seen);
    if (collect_matches(agg, req, mint, maxt, name, &s, resp))
        reply_list(resp, s.v, s.n);
    tsdb_strings_free(s.v, s.n);
    strmap_free(&s.seen);
}

void api_handle_labels(void *ctx, const httpd_request *req, httpd_response *resp)
{
    answer(ctx, req, NULL, resp);
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
        answer(ctx, req, name, resp);
    }
    free(name);
}
