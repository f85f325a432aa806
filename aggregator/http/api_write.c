/*
 * api_write.c — POST /api/v1/write: Prometheus remote write 1.0 in
 * (snappy-compressed prometheus.WriteRequest, proto/remote.proto), from
 * Prometheus, vmagent or Grafana Alloy.
 *
 * Same limits and checks as the nng path: a body that does not decode (bad
 * snappy, bad protobuf, empty, over WIRE_MAX_MESSAGE once decompressed) is
 * refused whole with 400 and the reason; otherwise every sample goes
 * through tsdb_append, which refuses bad labels and samples out of
 * retention or too far ahead with a reason, and the rest is committed in
 * one durable write before the answer.  204 when all was taken; when some
 * samples were refused the rest is still applied and the answer is 400
 * with the reasons, so the sender does not retry what cannot succeed (as
 * Prometheus answers refused samples).  A storage failure is 500: senders
 * retry 5xx.  Error bodies are plain text, as Prometheus's receiver writes.
 * Metadata in the request is stored (aggregator/tsdb/metadata.c writes
 * only records that changed).
 */
#include "aggregator/http/api.h"

#include "common/arena.h"
#include "common/log.h"
#include "common/mem.h"
#include "proto/remote.pb-c.h"
#include "proto/wire.h"

#include <inttypes.h>
#include <snappy-c.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const reason_names[API_WRITE_REJ_COUNT] = {"bad_labels", "too_old", "too_new"};

/* Process-wide counters for /metrics (one API server per process). */
static struct {
    atomic_uint_fast64_t requests[3]; /* 204, 400, 500 */
    atomic_uint_fast64_t received, applied, bytes;
    atomic_uint_fast64_t rejected[API_WRITE_REJ_COUNT];
} counters;

/* Snappy, then protobuf through alloc (NULL: malloc). */
static int decode(const char *body, size_t len, ProtobufCAllocator *alloc,
                  Prometheus__WriteRequest **out, char *err, size_t errlen)
{
    size_t plain_len;
    *out = NULL;
    if (len == 0) {
        snprintf(err, errlen, "empty request body");
        return -1;
    }
    if (snappy_uncompressed_length(body, len, &plain_len) != SNAPPY_OK) {
        snprintf(err, errlen, "snappy: corrupt input");
        return -1;
    }
    if (plain_len > WIRE_MAX_MESSAGE) {
        snprintf(err, errlen, "decompressed request of %zu bytes exceeds the limit of %u bytes",
                 plain_len, WIRE_MAX_MESSAGE);
        return -1;
    }
    char *plain = malloc(plain_len ? plain_len : 1);
    if (!plain || snappy_uncompress(body, len, plain, &plain_len) != SNAPPY_OK) {
        free(plain);
        snprintf(err, errlen, "snappy: corrupt input");
        return -1;
    }
    *out = prometheus__write_request__unpack(alloc, plain_len, (const uint8_t *)plain);
    free(plain);
    if (!*out) {
        snprintf(err, errlen, "protobuf: malformed prometheus.WriteRequest");
        return -1;
    }
    return 0;
}

int api_write_decode(const char *body, size_t len, Prometheus__WriteRequest **out, char *err,
                     size_t errlen)
{
    return decode(body, len, NULL, out, err, errlen);
}

/* Which reason tsdb_append's message is, for the by-reason counters. */
static api_write_reject reason_of(const char *why)
{
    if (strstr(why, "retention"))
        return API_WRITE_REJ_TOO_OLD;
    if (strstr(why, "future"))
        return API_WRITE_REJ_TOO_NEW;
    return API_WRITE_REJ_BAD_LABELS;
}

static void note_rejection(api_write_result *res, const char *why, const labelset *ls)
{
    res->rejected++;
    res->rejected_by[reason_of(why)]++;
    if (res->reason[0])
        return;
    ebuf lb;
    ebuf_init(&lb);
    labels_format(&lb, ls);
    snprintf(res->reason, sizeof res->reason, "%s (series %s)", why, lb.len ? lb.data : "{}");
    ebuf_free(&lb);
}

/* ls borrows the request's strings (tsdb_append_ref only reads them): no
 * copy per label.  The series is looked up by its labels once; its other
 * samples go by the reference that lookup filled. */
static void append_series(tsdb_appender *app, const Prometheus__TimeSeries *ts, labelset *ls,
                          api_write_result *res)
{
    EM_GROW(ls->v, ls->cap, ts->n_labels + 1);
    for (size_t i = 0; i < ts->n_labels; i++)
        ls->v[i] = (label){ts->labels[i]->name, ts->labels[i]->value};
    ls->n = ts->n_labels;
    tsdb_ref ref = {0, 0};
    for (size_t k = 0; k < ts->n_samples; k++) {
        const Prometheus__Sample *s = ts->samples[k];
        res->received++;
        const char *why = tsdb_append_ref(app, &ref, ls, s->timestamp, s->value);
        if (why)
            note_rejection(res, why, ls);
    }
}

static int store_metadata(tsdb *db, const Prometheus__WriteRequest *wr, char *err, size_t errlen)
{
    tsdb_metadata *v = em_malloc((wr->n_metadata ? wr->n_metadata : 1) * sizeof *v);
    for (size_t i = 0; i < wr->n_metadata; i++) {
        const Prometheus__MetricMetadata *m = wr->metadata[i];
        v[i] = (tsdb_metadata){m->metric_family_name, tsdb_metadata_type_of_remote(m->type),
                               m->help, m->unit};
    }
    int rc = tsdb_metadata_update(db, v, wr->n_metadata, err, errlen);
    free(v);
    return rc;
}

int api_remote_write(tsdb *db, const char *body, size_t len, api_write_result *res)
{
    memset(res, 0, sizeof *res);
    /* The decoded request lives in an arena, freed at once below. */
    arena mem;
    arena_init(&mem);
    ProtobufCAllocator alloc = {arena_pb_alloc, arena_pb_free, &mem};
    Prometheus__WriteRequest *wr;
    if (decode(body, len, &alloc, &wr, res->reason, sizeof res->reason) != 0) {
        arena_reset(&mem);
        return 400;
    }
    if (store_metadata(db, wr, res->reason, sizeof res->reason) != 0) {
        arena_reset(&mem);
        return 500;
    }
    tsdb_appender *app = tsdb_appender_new(db);
    labelset ls = {NULL, 0, 0}; /* borrowed strings: free the array only */
    for (size_t i = 0; i < wr->n_timeseries; i++)
        append_series(app, wr->timeseries[i], &ls, res);
    free(ls.v);
    arena_reset(&mem);
    tsdb_commit_result cr;
    char err[256];
    if (tsdb_commit(app, NULL, 0, &cr, err, sizeof err) != 0) {
        snprintf(res->reason, sizeof res->reason, "%s", err);
        return 500;
    }
    res->applied = cr.applied;
    return res->rejected ? 400 : 204;
}

static void count(int status, const api_write_result *res, size_t bytes)
{
    atomic_fetch_add(&counters.requests[status == 204 ? 0 : status == 400 ? 1 : 2], 1);
    atomic_fetch_add(&counters.received, res->received);
    atomic_fetch_add(&counters.applied, res->applied);
    atomic_fetch_add(&counters.bytes, bytes);
    for (int r = 0; r < API_WRITE_REJ_COUNT; r++)
        atomic_fetch_add(&counters.rejected[r], res->rejected_by[r]);
}

void api_handle_write(void *ctx, const httpd_request *req, httpd_response *resp)
{
    aggregator *agg = ctx;
    api_write_result res;
    int status = api_remote_write(agg->db, req->body, req->body_len, &res);
    count(status, &res, req->body_len);
    resp->status = status;
    resp->content_type = status == 204 ? NULL : HTTPD_CONTENT_TYPE_TEXT;
    if (status == 400 && res.received) {
        ebuf_printf(&resp->body, "%" PRIu64 " of %" PRIu64 " samples rejected (", res.rejected,
                    res.received);
        for (int r = 0, first = 1; r < API_WRITE_REJ_COUNT; r++)
            if (res.rejected_by[r]) {
                ebuf_printf(&resp->body, "%s%s: %" PRIu64, first ? "" : ", ", reason_names[r],
                            res.rejected_by[r]);
                first = 0;
            }
        ebuf_printf(&resp->body, "), the rest applied; first: %s\n", res.reason);
    } else if (status != 204) {
        ebuf_printf(&resp->body, "%s\n", res.reason);
    }
    if (status != 204) {
        char q[300];
        log_warn("remote write refused", "status=%d rejected=%" PRIu64 " reason=%s", status,
                 res.rejected, log_quote(q, sizeof q, res.reason));
    }
}

void api_write_metrics(metric_set *ms)
{
    const char *rq = "ember_aggregator_remote_write_requests_total";
    metric_set_meta(ms, rq, METRIC_COUNTER, "Remote write requests received, by HTTP status.");
    static const char *const codes[3] = {"204", "400", "500"};
    for (int i = 0; i < 3; i++)
        metric_set_addl(ms, rq, (double)atomic_load(&counters.requests[i]), "code", codes[i], NULL);
    const char *names[3] = {"ember_aggregator_remote_write_samples_received_total",
                            "ember_aggregator_remote_write_samples_total",
                            "ember_aggregator_remote_write_bytes_total"};
    const char *helps[3] = {"Samples in decoded remote write requests.",
                            "Remote write samples committed to the store.",
                            "Compressed remote write bytes received."};
    double vals[3] = {(double)atomic_load(&counters.received),
                      (double)atomic_load(&counters.applied), (double)atomic_load(&counters.bytes)};
    for (int i = 0; i < 3; i++) {
        metric_set_meta(ms, names[i], METRIC_COUNTER, helps[i]);
        metric_set_addl(ms, names[i], vals[i], NULL);
    }
    const char *rj = "ember_aggregator_remote_write_samples_rejected_total";
    metric_set_meta(ms, rj, METRIC_COUNTER, "Remote write samples the store refused, by reason.");
    for (int r = 0; r < API_WRITE_REJ_COUNT; r++)
        metric_set_addl(ms, rj, (double)atomic_load(&counters.rejected[r]), "reason",
                        reason_names[r], NULL);
}
