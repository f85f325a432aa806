/*
 * test_remote_write.c — POST /api/v1/write (api_write.c) on a real store in
 * a temporary directory: a good request is applied and answered 204; bad
 * snappy, bad protobuf, an empty body and a body over the decompressed
 * limit are 400 with a reason and change nothing; refused samples (bad
 * labels, out of retention) are 400 with the reasons while the rest is
 * applied; the handler counts all of it for /metrics.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "aggregator/http/api.h"
#include "common/etime.h"
#include "common/fsutil.h"
#include "proto/remote.pb-c.h"
#include "proto/wire.h"

#include <snappy-c.h>
#include <stdlib.h>
#include <string.h>

#define HOUR (3600 * 1000LL)

typedef struct fixture {
    char dir[256];
    aggregator agg;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    char err[256];
    tsdb_options o = {.maint_interval_ms = -1, .retention_ms = 24 * HOUR};
    if (fs_mkdtemp(f->dir, sizeof f->dir, "ember-rw") != 0 ||
        tsdb_open(f->dir, &o, &f->agg.db, err, sizeof err) != 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    tsdb_close(f->agg.db);
    fs_rmtree(f->dir);
    free(f);
    return 0;
}

/* A snappy-compressed WriteRequest: series i has labels names[i]/values[i]
 * (n pairs each) and one sample (ts[i], v[i]). */
static char *encode(size_t nseries, const char *const (*pairs)[4], const int64_t *ts,
                    const double *v, size_t *len)
{
    Prometheus__WriteRequest wr = PROMETHEUS__WRITE_REQUEST__INIT;
    Prometheus__TimeSeries series[8], *sp[8];
    Prometheus__Label labels[8][2], *lp[8][2];
    Prometheus__Sample samples[8], *smp[8];
    for (size_t i = 0; i < nseries; i++) {
        prometheus__time_series__init(&series[i]);
        for (int k = 0; k < 2; k++) {
            prometheus__label__init(&labels[i][k]);
            labels[i][k].name = (char *)pairs[i][2 * k];
            labels[i][k].value = (char *)pairs[i][2 * k + 1];
            lp[i][k] = &labels[i][k];
        }
        prometheus__sample__init(&samples[i]);
        samples[i].timestamp = ts[i];
        samples[i].value = v[i];
        smp[i] = &samples[i];
        series[i].labels = lp[i];
        series[i].n_labels = 2;
        series[i].samples = &smp[i];
        series[i].n_samples = 1;
        sp[i] = &series[i];
    }
    wr.timeseries = sp;
    wr.n_timeseries = nseries;
    size_t plen = prometheus__write_request__get_packed_size(&wr);
    uint8_t *plain = malloc(plen + 1);
    prometheus__write_request__pack(&wr, plain);
    *len = snappy_max_compressed_length(plen);
    char *out = malloc(*len);
    assert_int_equal(snappy_compress((char *)plain, plen, out, len), SNAPPY_OK);
    free(plain);
    return out;
}

static uint64_t series_count(fixture *f)
{
    tsdb_stats st;
    tsdb_get_stats(f->agg.db, &st);
    return st.series;
}

static double value_at(fixture *f, const char *name, int64_t t)
{
    label_matcher m;
    char err[256];
    assert_int_equal(matcher_init(&m, MATCH_EQ, "__name__", name, err, sizeof err), 0);
    query_storage st = tsdb_query_storage(f->agg.db);
    qseries_set out;
    qseries_set_init(&out);
    assert_int_equal(query_storage_read(&st, &m, 1, t, t, &out, err, sizeof err), 0);
    assert_int_equal(out.n, 1);
    assert_int_equal(out.v[0].n, 1);
    double v = out.v[0].samples[0].v;
    qseries_set_free(&out);
    matcher_free(&m);
    return v;
}

static void post(fixture *f, const char *body, size_t len, httpd_response *resp)
{
    httpd_request req = {.method = "POST", .path = "/api/v1/write", .body = body, .body_len = len};
    *resp = (httpd_response){.status = 200};
    ebuf_init(&resp->body);
    api_handle_write(&f->agg, &req, resp);
}

/* One series, name{job="m"}, with n samples. */
static char *encode_samples(const char *name, const int64_t *ts, const double *v, size_t n,
                            size_t *len)
{
    Prometheus__Label l[2], *lp[2] = {&l[0], &l[1]};
    prometheus__label__init(&l[0]);
    prometheus__label__init(&l[1]);
    l[0].name = "__name__";
    l[0].value = (char *)name;
    l[1].name = "job";
    l[1].value = "m";
    Prometheus__Sample smp[8], *sp[8];
    for (size_t k = 0; k < n; k++) {
        prometheus__sample__init(&smp[k]);
        smp[k].timestamp = ts[k];
        smp[k].value = v[k];
        sp[k] = &smp[k];
    }
    Prometheus__TimeSeries series = PROMETHEUS__TIME_SERIES__INIT, *ser = &series;
    series.labels = lp;
    series.n_labels = 2;
    series.samples = sp;
    series.n_samples = n;
    Prometheus__WriteRequest wr = PROMETHEUS__WRITE_REQUEST__INIT;
    wr.timeseries = &ser;
    wr.n_timeseries = 1;
    size_t plen = prometheus__write_request__get_packed_size(&wr);
    uint8_t *plain = malloc(plen + 1);
    prometheus__write_request__pack(&wr, plain);
    *len = snappy_max_compressed_length(plen);
    char *out = malloc(*len);
    assert_int_equal(snappy_compress((char *)plain, plen, out, len), SNAPPY_OK);
    free(plain);
    return out;
}

/* A series' later samples go by the reference its first one found (the
 * series known from an earlier request), or by labels while it is new;
 * either way every sample lands, and a refused one in the middle is
 * counted without losing the rest. */
static void test_several_samples_per_series(void **state)
{
    fixture *f = *state;
    int64_t now = now_ms();
    int64_t ts1[1] = {now - 10000};
    double v1[1] = {1};
    size_t len;
    httpd_response resp;
    char *body = encode_samples("rw_m", ts1, v1, 1, &len);
    post(f, body, len, &resp);
    assert_int_equal(resp.status, 204);
    ebuf_free(&resp.body);
    free(body);

    int64_t ts[5] = {now - 9000, now - 8000, now - 40LL * 86400000, now - 7000, now - 6000};
    double v[5] = {2, 3, 99, 4, 5};
    const char *names[2] = {"rw_m", "rw_n"}; /* known, then new */
    for (int i = 0; i < 2; i++) {
        body = encode_samples(names[i], ts, v, 5, &len);
        post(f, body, len, &resp);
        assert_int_equal(resp.status, 400); /* the 40-day-old one is refused */
        assert_non_null(strstr(resp.body.data, "retention"));
        ebuf_free(&resp.body);
        free(body);
        for (int k = 0; k < 5; k++)
            if (k != 2)
                assert_true(value_at(f, names[i], ts[k]) == v[k]);
    }
    assert_true(value_at(f, "rw_m", now - 10000) == 1);
    assert_int_equal(series_count(f), 2);
}

static void test_good_request_applied(void **state)
{
    fixture *f = *state;
    int64_t now = now_ms();
    const char *const pairs[2][4] = {{"__name__", "rw_a", "job", "x"},
                                     {"job", "y", "__name__", "rw_b"}}; /* unsorted labels */
    int64_t ts[2] = {now - 1000, now - 500};
    double v[2] = {1.25, -3};
    size_t len;
    char *body = encode(2, pairs, ts, v, &len);
    httpd_response resp;
    post(f, body, len, &resp);
    assert_int_equal(resp.status, 204);
    assert_int_equal(resp.body.len, 0);
    assert_int_equal(series_count(f), 2);
    assert_true(value_at(f, "rw_a", now - 1000) == 1.25);
    assert_true(value_at(f, "rw_b", now - 500) == -3);
    ebuf_free(&resp.body);
    free(body);
    metric_set ms;
    metric_set_init(&ms);
    api_write_metrics(&ms);
    ebuf text;
    ebuf_init(&text);
    expfmt_write(&text, &ms);
    assert_non_null(
        strstr(text.data, "ember_aggregator_remote_write_requests_total{code=\"204\"}"));
    assert_non_null(strstr(text.data, "ember_aggregator_remote_write_samples_total "));
    ebuf_free(&text);
    metric_set_free(&ms);
}

static void expect_malformed(fixture *f, const char *body, size_t len, const char *reason)
{
    httpd_response resp;
    post(f, body, len, &resp);
    assert_int_equal(resp.status, 400);
    if (!strstr(resp.body.data, reason))
        fail_msg("reason %s not in %s", reason, resp.body.data);
    assert_int_equal(series_count(f), 0);
    ebuf_free(&resp.body);
}

static void test_malformed_bodies_change_nothing(void **state)
{
    fixture *f = *state;
    expect_malformed(f, "", 0, "empty request body");
    expect_malformed(f, "\xff\xff\xff\xff\xff\xff", 6, "snappy: corrupt input");
    /* Valid snappy (a literal of 4 bytes) around bytes that are not protobuf. */
    const char notproto[] = {4, 0x0c, 0x0a, (char)0xff, (char)0xff, 0x7f};
    expect_malformed(f, notproto, sizeof notproto, "protobuf: malformed");
    /* A header claiming 1 GiB once decompressed: refused before allocating. */
    const char huge[] = {(char)0x80, (char)0x80, (char)0x80, (char)0x80, 0x04, 0};
    expect_malformed(f, huge, sizeof huge, "exceeds the limit");
    /* A whole request truncated: the snappy length no longer matches. */
    int64_t ts[1] = {now_ms()};
    double v[1] = {1};
    const char *const pairs[1][4] = {{"__name__", "rw_a", "job", "x"}};
    size_t len;
    char *body = encode(1, pairs, ts, v, &len);
    expect_malformed(f, body, len - 3, "snappy: corrupt input");
    free(body);
}

static void test_partial_rejection_applies_the_rest(void **state)
{
    fixture *f = *state;
    int64_t now = now_ms();
    const char *const pairs[4][4] = {{"__name__", "ok_1", "job", "x"},
                                     {"__name__", "bad-name", "job", "x"},
                                     {"__name__", "too_old", "job", "x"},
                                     {"job", "x", "job", "y"}};
    int64_t ts[4] = {now, now, now - 48 * HOUR, now};
    double v[4] = {1, 2, 3, 4};
    size_t len;
    char *body = encode(4, pairs, ts, v, &len);
    api_write_result res;
    assert_int_equal(api_remote_write(f->agg.db, body, len, &res), 400);
    assert_int_equal(res.received, 4);
    assert_int_equal(res.applied, 1);
    assert_int_equal(res.rejected, 3);
    assert_int_equal(res.rejected_by[API_WRITE_REJ_BAD_LABELS], 2);
    assert_int_equal(res.rejected_by[API_WRITE_REJ_TOO_OLD], 1);
    assert_non_null(strstr(res.reason, "bad-name"));
    assert_int_equal(series_count(f), 1);
    assert_true(value_at(f, "ok_1", now) == 1);
    httpd_response resp;
    post(f, body, len, &resp);
    assert_int_equal(resp.status, 400);
    assert_non_null(strstr(resp.body.data, "3 of 4 samples rejected (bad_labels: 2, too_old: 1)"));
    ebuf_free(&resp.body);
    free(body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_good_request_applied, setup, teardown),
        cmocka_unit_test_setup_teardown(test_several_samples_per_series, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_bodies_change_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_partial_rejection_applies_the_rest, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
