/*
 * api_import.c — POST /api/v1/import/prometheus: exposition text lines with
 * optional millisecond timestamps (as VictoriaMetrics takes them), for
 * backfill and tests.
 *
 * Each line is parsed on its own, so a bad line is reported with its number
 * and the others are still applied; samples without a timestamp get the
 * request's arrival time.  Everything accepted is committed in one synced
 * write before the answer, so an answered import survives a crash.  The
 * answer: {"status":"success","data":{"accepted":N,"rejected":M,
 * "errors":["line 3: ...", ...]}} (at most IMPORT_MAX_ERRORS listed).
 * # HELP and # TYPE lines are stored as metric metadata with the samples.
 */
#include "aggregator/http/api.h"

#include "common/etime.h"
#include "common/json.h"
#include "common/mem.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IMPORT_MAX_ERRORS 100

typedef struct import_state {
    tsdb_appender *app;
    uint64_t accepted, rejected;
    ebuf errors;
    size_t nerrors;
    int64_t now;
    metric_set meta; /* HELP and TYPE lines seen */
} import_state;

static void line_error(import_state *st, size_t line, const char *msg)
{
    st->rejected++;
    if (st->nerrors++ >= IMPORT_MAX_ERRORS)
        return;
    char text[400];
    snprintf(text, sizeof text, "line %zu: %s", line, msg);
    if (st->errors.len)
        ebuf_putc(&st->errors, ',');
    json_string(&st->errors, text);
}

/* Lines are parsed one by one: a HELP line's family comes with the default
 * type (keep the known one), a TYPE line's without help (metric_set_meta
 * keeps the known one). */
static void keep_metadata(import_state *st, const metric_set *ms)
{
    for (size_t i = 0; i < ms->nmeta; i++) {
        const metric_meta *m = &ms->meta[i];
        const metric_meta *old = metric_set_find_meta(&st->meta, m->family);
        metric_set_meta(&st->meta, m->family, m->help && old ? old->type : m->type, m->help);
    }
}

static int store_metadata(tsdb *db, const metric_set *meta, char *err, size_t errlen)
{
    tsdb_metadata *v = em_malloc((meta->nmeta ? meta->nmeta : 1) * sizeof *v);
    for (size_t i = 0; i < meta->nmeta; i++)
        v[i] = (tsdb_metadata){meta->meta[i].family, tsdb_metadata_type_of(meta->meta[i].type),
                               meta->meta[i].help, NULL};
    int rc = tsdb_metadata_update(db, v, meta->nmeta, err, errlen);
    free(v);
    return rc;
}

static void import_line(import_state *st, const char *p, size_t len, size_t line)
{
    metric_set ms;
    metric_set_init(&ms);
    expfmt_error e;
    if (expfmt_parse(p, len, NULL, &ms, &e) != 0) {
        char msg[300];
        snprintf(msg, sizeof msg, "column %zu: %s", e.col, e.msg);
        line_error(st, line, msg);
    }
    keep_metadata(st, &ms);
    for (size_t i = 0; i < ms.n; i++) {
        const metric_sample *s = &ms.samples[i];
        const char *why =
            tsdb_append(st->app, &s->labels, s->has_ts ? s->ts_ms : st->now, s->value);
        if (why)
            line_error(st, line, why);
        else
            st->accepted++;
    }
    metric_set_free(&ms);
}

void api_handle_import(void *ctx, const httpd_request *req, httpd_response *resp)
{
    aggregator *agg = ctx;
    import_state st = {.app = tsdb_appender_new(agg->db), .now = now_ms()};
    ebuf_init(&st.errors);
    metric_set_init(&st.meta);
    const char *p = req->body, *end = req->body + req->body_len;
    for (size_t line = 1; p < end; line++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        import_line(&st, p, len, line);
        p += len + 1;
    }
    tsdb_commit_result res;
    char err[256];
    if (tsdb_commit(st.app, NULL, 0, &res, err, sizeof err) != 0 ||
        store_metadata(agg->db, &st.meta, err, sizeof err) != 0) {
        api_error(resp, 503, "unavailable", err);
    } else {
        resp->content_type = HTTPD_CONTENT_TYPE_JSON;
        ebuf_printf(&resp->body,
                    "{\"status\":\"success\",\"data\":{\"accepted\":%" PRIu64
                    ",\"rejected\":%" PRIu64 ",\"errors\":[%s]}}",
                    st.accepted, st.rejected, st.errors.len ? st.errors.data : "");
    }
    ebuf_free(&st.errors);
    metric_set_free(&st.meta);
}
