/*
 * test_api_query.c — the aggregator's Prometheus query API end to end: a
 * real store in a temporary directory, filled through the real import
 * endpoint, and the real API server on 127.0.0.1:0, asked with libcurl.
 *
 * Covers /api/v1/query and /api/v1/query_range (GET and POST form bodies,
 * RFC 3339 and fractional Unix times, step as seconds or a duration, every
 * result type, Prometheus's float and time formatting, a streamed result
 * bigger than one piece), every parameter error with Prometheus 2.42's exact
 * text, errorType and HTTP code (taken from Debian's prometheus 2.42 on the
 * same requests), the limits (timeout 503, max samples 422, the concurrency
 * gate), /api/v1/series, /api/v1/labels and label values with match[],
 * start and end, /api/v1/metadata (from import, remote write and
 * from agent batches), /api/v1/status/runtimeinfo and /api/v1/status/flags,
 * and the query figures of /metrics.  The ingest endpoint runs on nng over
 * loopback too, for /metrics and the agents' metadata.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "metric_asserts.h"

#include "aggregator/http/api.h"
#include "common/etime.h"
#include "common/fsutil.h"
#include "proto/remote.pb-c.h"
#include "proto/wire.h"

#include <curl/curl.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <snappy-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define T0 1700000000LL /* 2023-11-14T22:13:20Z */
#define OK "{\"status\":\"success\",\"data\":"

typedef struct fixture {
    char dir[256];
    aggregator agg;
    httpd *h;
    unsigned port;
    ebuf body;
} fixture;

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    ebuf_append(ud, p, size * n);
    return size * n;
}

/* GET path (post NULL) or POST post as a form body; the status, the body
 * in f->body (NUL-terminated). */
static long call(fixture *f, const char *path, const char *post)
{
    char url[2048];
    snprintf(url, sizeof url, "http://127.0.0.1:%u%s", f->port, path);
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &f->body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    if (post)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, post);
    ebuf_reset(&f->body);
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    ebuf_putc(&f->body, '\0');
    f->body.len--;
    return status;
}

/* The request must answer status with exactly body. */
static void expect(fixture *f, const char *path, const char *post, long status, const char *body)
{
    long got = call(f, path, post);
    if (got != status || strcmp(f->body.data, body) != 0)
        fail_msg("%s %s\n want %ld %s\n got  %ld %s", post ? "POST" : "GET", path, status, body,
                 got, f->body.data);
}

static void expect_error(fixture *f, const char *path, const char *post, long status,
                         const char *type, const char *msg)
{
    char body[1024];
    snprintf(body, sizeof body, "{\"status\":\"error\",\"errorType\":\"%s\",\"error\":\"%s\"}",
             type, msg);
    expect(f, path, post, status, body);
}

/* Samples every 15 s for 10 min, metadata and odd values, through the
 * import endpoint (which also stores its HELP and TYPE lines). */
static void load_data(fixture *f)
{
    ebuf in;
    ebuf_init(&in);
    ebuf_puts(&in, "# HELP gpu_temp GPU temperature.\n# TYPE gpu_temp gauge\n"
                   "# TYPE ecc_total counter\n# HELP ecc_total ECC errors.\n");
    for (int i = 0; i <= 40; i++) {
        long long t = (T0 + 15 * i) * 1000;
        ebuf_printf(&in, "gpu_temp{gpu=\"0\",host=\"a\"} %d %lld\n", 50 + i, t);
        ebuf_printf(&in, "gpu_temp{gpu=\"1\",host=\"a\"} %g %lld\n", 60 + i * 0.5, t);
        ebuf_printf(&in, "ecc_total{gpu=\"0\"} %d %lld\n", i / 3, t);
    }
    const char *odd[][2] = {{"nan", "NaN"},   {"inf", "+Inf"},  {"tiny", "1e-7"},
                            {"huge", "1e21"}, {"tenth", "0.1"}, {"esc", "1"}};
    for (size_t i = 0; i < 6; i++)
        ebuf_printf(&in, "odd{kind=\"%s\"%s} %s %lld\n", odd[i][0],
                    strcmp(odd[i][0], "esc") ? "" : ",text=\"q\\\"b\\\\s\"", odd[i][1], T0 * 1000);
    long st = call(f, "/api/v1/import/prometheus", in.data);
    if (st != 200 || !strstr(f->body.data, "\"rejected\":0"))
        fail_msg("import: %ld %s", st, f->body.data);
    ebuf_free(&in);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    char err[256];
    assert_int_equal(fs_mkdtemp(f->dir, sizeof f->dir, "ember-test-apiq"), 0);
    tsdb_options o = {.sync = true, .maint_interval_ms = -1};
    if (tsdb_open(f->dir, &o, &f->agg.db, err, sizeof err) != 0)
        fail_msg("open: %s", err);
    f->agg.lookback_ms = 5 * 60 * 1000;
    f->agg.query_timeout_ms = 2 * 60 * 1000;
    ingest_options io = {0};
    if (ingest_start("tcp://127.0.0.1:0", f->agg.db, &io, &f->agg.in, err, sizeof err) != 0)
        fail_msg("ingest: %s", err);
    f->h = api_server_new(&f->agg);
    if (httpd_start(f->h, "127.0.0.1:0", err, sizeof err) != 0)
        fail_msg("start: %s", err);
    f->port = httpd_port(f->h);
    ebuf_init(&f->body);
    load_data(f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    httpd_free(f->h);
    ingest_stop(f->agg.in);
    query_gate_free(f->agg.gate);
    tsdb_close(f->agg.db);
    fs_rmtree(f->dir);
    ebuf_free(&f->body);
    free(f);
    return 0;
}

/* ---- /api/v1/query ---- */

#define GPU0 "{\"__name__\":\"gpu_temp\",\"gpu\":\"0\",\"host\":\"a\"}"
#define GPU1 "{\"__name__\":\"gpu_temp\",\"gpu\":\"1\",\"host\":\"a\"}"

static void test_instant_vector(void **state)
{
    fixture *f = *state;
    expect(f, "/api/v1/query?query=gpu_temp&time=1700000060", NULL, 200,
           OK "{\"resultType\":\"vector\",\"result\":[{\"metric\":" GPU0
              ",\"value\":[1700000060,\"54\"]},{\"metric\":" GPU1
              ",\"value\":[1700000060,\"62\"]}]}}");
    /* POST form body; RFC 3339 with a fraction; fractional Unix seconds. */
    expect(f, "/api/v1/query", "query=gpu_temp%7Bgpu%3D%221%22%7D&time=2023-11-14T22:14:20.5Z", 200,
           OK "{\"resultType\":\"vector\",\"result\":[{\"metric\":" GPU1
              ",\"value\":[1700000060.500,\"62\"]}]}}");
    expect(f, "/api/v1/query?query=gpu_temp%7Bgpu%3D%220%22%7D&time=2023-11-14T23:14:20.25%2B01:00",
           NULL, 200,
           OK "{\"resultType\":\"vector\",\"result\":[{\"metric\":" GPU0
              ",\"value\":[1700000060.250,\"54\"]}]}}");
    expect(f, "/api/v1/query", "time=1700000074.999&query=gpu_temp%7Bgpu%3D%220%22%7D", 200,
           OK "{\"resultType\":\"vector\",\"result\":[{\"metric\":" GPU0
              ",\"value\":[1700000074.999,\"54\"]}]}}");
    expect(f, "/api/v1/query?query=nothing_here&time=1700000060", NULL, 200,
           OK "{\"resultType\":\"vector\",\"result\":[]}}");
}

/* marshalValue's digits; label values escaped as JSON.  (An instant
 * vector's order is storage order, as in Prometheus: each is looked for.) */
static void test_float_formatting(void **state)
{
    fixture *f = *state;
    assert_int_equal(call(f, "/api/v1/query?query=odd&time=1700000001", NULL), 200);
    const char *want[] = {
        "{\"metric\":{\"__name__\":\"odd\",\"kind\":\"esc\",\"text\":\"q\\\"b\\\\s\"},"
        "\"value\":[1700000001,\"1\"]}",
        "{\"metric\":{\"__name__\":\"odd\",\"kind\":\"huge\"},\"value\":[1700000001,\"1e+21\"]}",
        "{\"metric\":{\"__name__\":\"odd\",\"kind\":\"inf\"},\"value\":[1700000001,\"+Inf\"]}",
        "{\"metric\":{\"__name__\":\"odd\",\"kind\":\"nan\"},\"value\":[1700000001,\"NaN\"]}",
        "{\"metric\":{\"__name__\":\"odd\",\"kind\":\"tenth\"},\"value\":[1700000001,\"0.1\"]}",
        "{\"metric\":{\"__name__\":\"odd\",\"kind\":\"tiny\"},\"value\":[1700000001,\"1e-07\"]}",
    };
    size_t total = strlen(OK "{\"resultType\":\"vector\",\"result\":[]}}") + 5;
    for (size_t i = 0; i < 6; i++) {
        if (!strstr(f->body.data, want[i]))
            fail_msg("missing %s in %s", want[i], f->body.data);
        total += strlen(want[i]);
    }
    assert_int_equal(f->body.len, total);
}

/* Scalars and strings are promql.Scalar / String JSON: a Go float time and
 * the value in 'f' format (Prometheus 2.42 answers exactly these). */
static void test_scalar_and_string(void **state)
{
    fixture *f = *state;
    expect(f, "/api/v1/query?query=1.5&time=1700000060", NULL, 200,
           OK "{\"resultType\":\"scalar\",\"result\":[1700000060,\"1.5\"]}}");
    expect(f, "/api/v1/query?query=1e-7&time=1", NULL, 200,
           OK "{\"resultType\":\"scalar\",\"result\":[1,\"0.0000001\"]}}");
    expect(f, "/api/v1/query?query=-Inf&time=1", NULL, 200,
           OK "{\"resultType\":\"scalar\",\"result\":[1,\"-Inf\"]}}");
    expect(f, "/api/v1/query?query=%22hello%22&time=1700000060.5", NULL, 200,
           OK "{\"resultType\":\"string\",\"result\":[1700000060.5,\"hello\"]}}");
    expect(f, "/api/v1/query?query=time()&time=2023-11-14T22:14:20.5%2B01:00", NULL, 200,
           OK "{\"resultType\":\"scalar\",\"result\":[1699996460.5,\"1699996460.5\"]}}");
    expect(f, "/api/v1/query?query=vector(1)&time=-1.5", NULL, 200,
           OK "{\"resultType\":\"vector\",\"result\":[{\"metric\":{},\"value\":[-1.500,\"1\"]}]}}");
}

static void test_instant_matrix(void **state)
{
    fixture *f = *state;
    expect(f, "/api/v1/query?query=gpu_temp%7Bgpu%3D%220%22%7D%5B30s%5D&time=1700000030", NULL, 200,
           OK "{\"resultType\":\"matrix\",\"result\":[{\"metric\":" GPU0
              ",\"values\":[[1700000000,\"50\"],[1700000015,\"51\"],"
              "[1700000030,\"52\"]]}]}}");
}

/* ---- /api/v1/query_range ---- */

#define RANGE0                                                                                     \
    OK "{\"resultType\":\"matrix\",\"result\":[{\"metric\":" GPU0                                  \
       ",\"values\":[[1700000000,\"50\"],[1700000015,\"51\"],[1700000030,\"52\"],"                 \
       "[1700000045,\"53\"],[1700000060,\"54\"]]}]}}"

static void test_range(void **state)
{
    fixture *f = *state;
    const char *q = "/api/v1/query_range?query=gpu_temp%7Bgpu%3D%220%22%7D&start=1700000000"
                    "&end=1700000060&step=";
    char path[300];
    const char *steps[] = {"15", "15s", "15.0", "1.5e1"};
    for (size_t i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s%s", q, steps[i]);
        expect(f, path, NULL, 200, RANGE0);
    }
    expect(f, "/api/v1/query_range",
           "query=gpu_temp%7Bgpu%3D%220%22%7D&start=2023-11-14T22:13:20Z&end=1700000060&step=1m30s",
           200,
           OK "{\"resultType\":\"matrix\",\"result\":[{\"metric\":" GPU0
              ",\"values\":[[1700000000,\"50\"]]}]}}");
    /* A scalar becomes one series without labels. */
    expect(f, "/api/v1/query_range?query=time()&start=0&end=30&step=10", NULL, 200,
           OK "{\"resultType\":\"matrix\",\"result\":[{\"metric\":{},\"values\":"
              "[[0,\"0\"],[10,\"10\"],[20,\"20\"],[30,\"30\"]]}]}}");
    expect(f, "/api/v1/query_range?query=nothing&start=0&end=30&step=10", NULL, 200,
           OK "{\"resultType\":\"matrix\",\"result\":[]}}");
}

/* 2 series x 6001 points (about 260 kB): many pieces, one valid answer. */
static void test_large_result_streams(void **state)
{
    fixture *f = *state;
    assert_int_equal(
        call(f, "/api/v1/query_range?query=gpu_temp&start=1700000000&end=1700000600&step=0.1",
             NULL),
        200);
    assert_true(f->body.len > 200000);
    size_t points = 0;
    for (const char *p = f->body.data; (p = strstr(p, "\"]")) != NULL; p++)
        points++;
    assert_int_equal(points, 2 * 6001);
    const char *head = OK "{\"resultType\":\"matrix\",\"result\":[{\"metric\":" GPU0;
    assert_int_equal(strncmp(f->body.data, head, strlen(head)), 0);
    assert_non_null(strstr(f->body.data, "[1700000600,\"90\"]]},{\"metric\":" GPU1));
    const char *tail = "[1700000600,\"80\"]]}]}}";
    assert_string_equal(f->body.data + f->body.len - strlen(tail), tail);
}

/* Regression: a series head that fills a stream piece by itself was
 * opened twice ("values":[,{"metric":...).  Heads of ~2 KiB and one point
 * each make almost every piece end inside a head. */
static void test_stream_piece_ends_in_a_head(void **state)
{
    fixture *f = *state;
    ebuf in;
    ebuf_init(&in);
    char pad[2001];
    memset(pad, 'x', sizeof pad - 1);
    pad[sizeof pad - 1] = '\0';
    for (int i = 0; i < 100; i++)
        ebuf_printf(&in, "wide{i=\"%d\",pad=\"%s\"} 1 %lld\n", i, pad, T0 * 1000);
    assert_int_equal(call(f, "/api/v1/import/prometheus", in.data), 200);
    ebuf_free(&in);
    assert_int_equal(
        call(f, "/api/v1/query_range?query=wide&start=1700000000&end=1700000000&step=1", NULL),
        200);
    assert_null(strstr(f->body.data, "[,"));
    size_t heads = 0, points = 0;
    for (const char *p = f->body.data; (p = strstr(p, "\"metric\":")) != NULL; p++)
        heads++;
    for (const char *p = f->body.data; (p = strstr(p, "\"values\":[[1700000000,\"1\"]]}")) != NULL;
         p++)
        points++;
    assert_int_equal(heads, 100);
    assert_int_equal(points, 100);
}

/* ---- errors ---- */

static void test_query_errors(void **state)
{
    fixture *f = *state;
    expect_error(f, "/api/v1/query?time=yesterday&query=up", NULL, 400, "bad_data",
                 "invalid parameter \\\"time\\\": Invalid time value for 'time': cannot parse "
                 "\\\"yesterday\\\" to a valid timestamp");
    expect_error(f, "/api/v1/query?query=sum(", NULL, 400, "bad_data",
                 "invalid parameter \\\"query\\\": 1:5: parse error: unclosed left parenthesis");
    expect_error(f, "/api/v1/query", "query=", 400, "bad_data",
                 "invalid parameter \\\"query\\\": 1:1: parse error: no expression found in input");
    expect_error(f, "/api/v1/query?query=up&timeout=abc", NULL, 400, "bad_data",
                 "invalid parameter \\\"timeout\\\": cannot parse \\\"abc\\\" to a valid duration");
    expect_error(f, "/api/v1/query?query=up&timeout=-1s", NULL, 400, "bad_data",
                 "invalid parameter \\\"timeout\\\": cannot parse \\\"-1s\\\" to a valid duration");
    expect_error(f, "/api/v1/query?query=up&timeout=1e400", NULL, 400, "bad_data",
                 "invalid parameter \\\"timeout\\\": cannot parse \\\"1e400\\\" to a valid "
                 "duration");
}

static void test_range_errors(void **state)
{
    fixture *f = *state;
    const char *r = "/api/v1/query_range?query=up";
    char p[300];
    struct {
        const char *params, *msg;
    } cases[] = {
        {"", "invalid parameter \\\"start\\\": cannot parse \\\"\\\" to a valid timestamp"},
        {"&start=10", "invalid parameter \\\"end\\\": cannot parse \\\"\\\" to a valid timestamp"},
        {"&start=x&end=5", "invalid parameter \\\"start\\\": cannot parse \\\"x\\\" to a valid "
                           "timestamp"},
        {"&start=10&end=5",
         "invalid parameter \\\"end\\\": end timestamp must not be before start time"},
        {"&start=10&end=20",
         "invalid parameter \\\"step\\\": cannot parse \\\"\\\" to a valid duration"},
        {"&start=10&end=20&step=abc",
         "invalid parameter \\\"step\\\": cannot parse \\\"abc\\\" to a valid duration"},
        {"&start=10&end=20&step=0", "invalid parameter \\\"step\\\": zero or negative query "
                                    "resolution step widths are not accepted. Try a positive "
                                    "integer"},
        {"&start=10&end=20&step=-5", "invalid parameter \\\"step\\\": zero or negative query "
                                     "resolution step widths are not accepted. Try a positive "
                                     "integer"},
        {"&start=10&end=20&step=Inf", "invalid parameter \\\"step\\\": cannot parse \\\"Inf\\\" "
                                      "to a valid duration. It overflows int64"},
        {"&start=0&end=11001&step=1", "exceeded maximum resolution of 11,000 points per "
                                      "timeseries. Try decreasing the query resolution "
                                      "(?step=XX)"},
        {"&start=0&end=10&step=1&timeout=x",
         "invalid parameter \\\"timeout\\\": cannot parse \\\"x\\\" to a valid duration"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(p, sizeof p, "%s%s", r, cases[i].params);
        expect_error(f, p, NULL, 400, "bad_data", cases[i].msg);
    }
    /* Query errors of a range query carry no parameter prefix. */
    expect_error(f, "/api/v1/query_range?query=sum(&start=0&end=10&step=1", NULL, 400, "bad_data",
                 "1:5: parse error: unclosed left parenthesis");
    expect_error(f, "/api/v1/query_range", "query=up%5B5m%5D&start=0&end=10&step=1", 400,
                 "bad_data",
                 "invalid expression type \\\"range vector\\\" for range query, must be Scalar or "
                 "instant Vector");
}

/* ---- limits ---- */

static void test_timeout(void **state)
{
    fixture *f = *state;
    const char *paths[] = {"/api/v1/query?query=gpu_temp&timeout=0",
                           "/api/v1/query_range?query=gpu_temp&start=0&end=10&step=1&timeout=0"};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(call(f, paths[i], NULL), 503);
        assert_non_null(strstr(f->body.data, "{\"status\":\"error\",\"errorType\":\"timeout\","
                                             "\"error\":\"query timed out in "));
    }
    assert_int_equal(call(f, "/api/v1/query?query=1&timeout=1h", NULL), 200);
}

static void test_max_samples(void **state)
{
    fixture *f = *state;
    f->agg.query_max_samples = 1;
    expect_error(f, "/api/v1/query?query=gpu_temp&time=1700000060", NULL, 422, "execution",
                 "query processing would load too many samples into memory in query execution");
    expect_error(f,
                 "/api/v1/query_range?query=gpu_temp%7Bgpu%3D%220%22%7D&start=1700000000"
                 "&end=1700000060&step=15",
                 NULL, 422, "execution",
                 "query processing would load too many samples into memory in query execution");
    f->agg.query_max_samples = 2;
    assert_int_equal(call(f, "/api/v1/query?query=gpu_temp&time=1700000060", NULL), 200);
}

/* Wait (with the one slot taken) for a query's answer: 503 "query timed
 * out in query queue" after at least min_ms. */
static void expect_queue_timeout(fixture *f, const char *path, int64_t min_ms)
{
    int64_t t0 = mono_ms();
    expect_error(f, path, NULL, 503, "timeout", "query timed out in query queue");
    assert_true(mono_ms() - t0 >= min_ms);
}

/* A query waits for a free slot and gives up at its deadline: the timeout
 * parameter or --query.timeout, whichever comes first. */
static void test_concurrency_gate(void **state)
{
    fixture *f = *state;
    f->agg.gate = query_gate_new(1);
    assert_true(query_gate_enter(f->agg.gate, 0)); /* the one slot is taken */
    expect_queue_timeout(f, "/api/v1/query?query=gpu_temp&time=1700000060&timeout=0.3", 300);
    f->agg.query_timeout_ms = 200;
    int64_t t0 = mono_ms();
    expect_queue_timeout(f, "/api/v1/query?query=gpu_temp&time=1700000060&timeout=1h", 200);
    assert_true(mono_ms() - t0 < 10000);
    f->agg.query_timeout_ms = 0; /* none: the parameter alone counts */
    expect_queue_timeout(f, "/api/v1/query_range?query=1&start=0&end=1&step=1&timeout=250ms", 250);
    query_gate_leave(f->agg.gate);
    assert_int_equal(call(f, "/api/v1/query?query=gpu_temp&time=1700000060&timeout=0.3", NULL),
                     200);
    int active, waiting, max;
    query_gate_counts(f->agg.gate, &active, &waiting, &max);
    assert_int_equal(active, 0);
    assert_int_equal(waiting, 0);
    assert_int_equal(max, 1);
}

/* ---- series, labels, metadata ---- */

static void test_series(void **state)
{
    fixture *f = *state;
    expect_error(f, "/api/v1/series", NULL, 400, "bad_data", "no match[] parameter provided");
    expect_error(f, "/api/v1/series?match[]=%7B", NULL, 400, "bad_data",
                 "invalid parameter \\\"match[]\\\": 1:2: parse error: unexpected end of input "
                 "inside braces");
    expect_error(f, "/api/v1/series?match[]=up&start=abc", NULL, 400, "bad_data",
                 "invalid parameter \\\"start\\\": Invalid time value for 'start': cannot parse "
                 "\\\"abc\\\" to a valid timestamp");
    expect(f, "/api/v1/series?match[]=gpu_temp&match[]=gpu_temp%7Bgpu%3D%220%22%7D", NULL, 200,
           OK "[" GPU0 "," GPU1 "]}");
    expect(f, "/api/v1/series", "match[]=ecc_total&match[]=odd%7Bkind%3D%22nan%22%7D", 200,
           OK "[{\"__name__\":\"ecc_total\",\"gpu\":\"0\"},{\"__name__\":\"odd\",\"kind\":"
              "\"nan\"}]}");
    /* odd has its only sample at T0: a range after it leaves it out. */
    expect(f, "/api/v1/series?match[]=odd%7Bkind%3D%22nan%22%7D&start=1700000001", NULL, 200,
           OK "[]}");
    expect(f, "/api/v1/series?match[]=odd%7Bkind%3D%22nan%22%7D&end=1699999999", NULL, 200,
           OK "[]}");
}

static void test_labels_with_range(void **state)
{
    fixture *f = *state;
    expect(f, "/api/v1/labels", NULL, 200, OK "[\"__name__\",\"gpu\",\"host\",\"kind\",\"text\"]}");
    /* Without match[], start and end still limit the series that count. */
    expect(f, "/api/v1/labels?start=1700000001", NULL, 200, OK "[\"__name__\",\"gpu\",\"host\"]}");
    expect(f, "/api/v1/label/__name__/values?start=2023-11-14T22:13:21Z", NULL, 200,
           OK "[\"ecc_total\",\"gpu_temp\"]}");
    expect(f, "/api/v1/label/kind/values?end=1700000000", NULL, 200,
           OK "[\"esc\",\"huge\",\"inf\",\"nan\",\"tenth\",\"tiny\"]}");
    expect(f, "/api/v1/label/gpu/values?match[]=ecc_total", NULL, 200, OK "[\"0\"]}");
    expect(f, "/api/v1/labels", "match[]=ecc_total&end=1700000600", 200,
           OK "[\"__name__\",\"gpu\"]}");
    expect_error(f, "/api/v1/labels?match[]=%7B", NULL, 400, "bad_data",
                 "1:2: parse error: unexpected end of input inside braces");
    expect_error(f, "/api/v1/labels?start=soon", NULL, 400, "bad_data",
                 "invalid parameter \\\"start\\\": Invalid time value for 'start': cannot parse "
                 "\\\"soon\\\" to a valid timestamp");
}

/* Remote write 1.0 metadata, snappy-compressed, through api_remote_write. */
static void remote_write_metadata(fixture *f)
{
    Prometheus__MetricMetadata md = PROMETHEUS__METRIC_METADATA__INIT, *mds[1] = {&md};
    md.type = PROMETHEUS__METRIC_METADATA__METRIC_TYPE__GAUGEHISTOGRAM;
    md.metric_family_name = "queue_seconds";
    md.help = "Time in queue.";
    md.unit = "seconds";
    Prometheus__WriteRequest wr = PROMETHEUS__WRITE_REQUEST__INIT;
    wr.n_metadata = 1;
    wr.metadata = mds;
    size_t n = prometheus__write_request__get_packed_size(&wr),
           zn = snappy_max_compressed_length(n);
    uint8_t *raw = malloc(n);
    char *z = malloc(zn);
    prometheus__write_request__pack(&wr, raw);
    assert_int_equal(snappy_compress((const char *)raw, n, z, &zn), SNAPPY_OK);
    api_write_result res;
    assert_int_equal(api_remote_write(f->agg.db, z, zn, &res), 204);
    free(raw);
    free(z);
}

/* One nng request to the ingest endpoint; the Ack's status. */
static int ingest_exchange(fixture *f, nng_socket s, const ebuf *m)
{
    (void)f;
    assert_int_equal(nng_send(s, m->data, m->len, 0), 0);
    char *buf;
    size_t n;
    assert_int_equal(nng_recv(s, &buf, &n, NNG_FLAG_ALLOC), 0);
    Ember__Ack *ack = wire_decode_ack(buf, n);
    nng_free(buf, n);
    assert_non_null(ack);
    int st = ack->status;
    ember__ack__free_unpacked(ack, NULL);
    return st;
}

/* An agent's Hello, then a batch whose metric_set carries metadata. */
static void agent_batch_metadata(fixture *f)
{
    char url[64];
    snprintf(url, sizeof url, "tcp://127.0.0.1:%d", ingest_port(f->agg.in));
    nng_socket s;
    assert_int_equal(nng_req0_open(&s), 0);
    nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 5000);
    assert_int_equal(nng_dial(s, url, NULL, 0), 0);
    ebuf m;
    ebuf_init(&m);
    wire_encode_hello(&m, "agent-a", "9.9.9", NULL, "");
    assert_int_equal(ingest_exchange(f, s, &m), EMBER__ACK__STATUS__OK);
    metric_set ms;
    metric_set_init(&ms);
    metric_set_meta(&ms, "gpu_power_watts", METRIC_GAUGE, "GPU power draw.");
    metric_set_addl(&ms, "gpu_power_watts", 250, "gpu", "0", NULL);
    ebuf_reset(&m);
    wire_encode_batch(&m, "agent-a", 1, &ms, now_ms());
    assert_int_equal(ingest_exchange(f, s, &m), EMBER__ACK__STATUS__OK);
    metric_set_free(&ms);
    ebuf_free(&m);
    nng_close(s);
}

static void test_metadata(void **state)
{
    fixture *f = *state;
    agent_batch_metadata(f);
    expect(f, "/api/v1/metadata?metric=gpu_power_watts", NULL, 200,
           OK "{\"gpu_power_watts\":[{\"type\":\"gauge\",\"help\":\"GPU power draw.\","
              "\"unit\":\"\"}]}}");
    remote_write_metadata(f);
    const char *ecc =
        "\"ecc_total\":[{\"type\":\"counter\",\"help\":\"ECC errors.\",\"unit\":\"\"}]";
    const char *gpu =
        "\"gpu_temp\":[{\"type\":\"gauge\",\"help\":\"GPU temperature.\",\"unit\":\"\"}]";
    const char *queue = "\"queue_seconds\":[{\"type\":\"gaugehistogram\",\"help\":\"Time in "
                        "queue.\",\"unit\":\"seconds\"}]";
    char want[1024];
    const char *power = "\"gpu_power_watts\":[{\"type\":\"gauge\",\"help\":\"GPU power "
                        "draw.\",\"unit\":\"\"}]";
    snprintf(want, sizeof want, OK "{%s,%s,%s,%s}}", ecc, power, gpu, queue);
    expect(f, "/api/v1/metadata", NULL, 200, want);
    snprintf(want, sizeof want, OK "{%s}}", ecc);
    expect(f, "/api/v1/metadata?limit=1", NULL, 200, want);
    expect(f, "/api/v1/metadata?limit=-1&metric=gpu_temp", NULL, 200,
           (snprintf(want, sizeof want, OK "{%s}}", gpu), want));
    expect(f, "/api/v1/metadata?limit=0", NULL, 200, OK "{}}");
    expect(f, "/api/v1/metadata?metric=nope", NULL, 200, OK "{}}");
    expect_error(f, "/api/v1/metadata?limit=abc", NULL, 400, "bad_data", "limit must be a number");
    expect_error(f, "/api/v1/metadata?limit=1.5", NULL, 400, "bad_data", "limit must be a number");
}

/* ---- status ---- */

static void test_runtimeinfo(void **state)
{
    fixture *f = *state;
    f->agg.start_time_ms = T0 * 1000 + 120;
    f->agg.retention_ms = 30LL * 24 * 3600 * 1000;
    assert_int_equal(call(f, "/api/v1/status/runtimeinfo", NULL), 200);
    char cwd[1024], head[1300];
    assert_non_null(getcwd(cwd, sizeof cwd));
    snprintf(head, sizeof head,
             OK "{\"startTime\":\"2023-11-14T22:13:20.12Z\",\"CWD\":\"%s\","
                "\"reloadConfigSuccess\":true,\"lastConfigTime\":\"2023-11-14T22:13:20.12Z\","
                "\"corruptionCount\":0,\"goroutineCount\":",
             cwd);
    assert_int_equal(strncmp(f->body.data, head, strlen(head)), 0);
    int threads = 0;
    long cpus = 0;
    char tail[200];
    assert_int_equal(
        sscanf(f->body.data + strlen(head), "%d,\"GOMAXPROCS\":%ld,%199s", &threads, &cpus, tail),
        3);
    assert_true(threads >= 2); /* this test and the server's threads */
    assert_int_equal(cpus, sysconf(_SC_NPROCESSORS_ONLN));
    assert_string_equal(tail, "\"GOGC\":\"\",\"GODEBUG\":\"\",\"storageRetention\":\"30d\"}}");
}

static void test_flags(void **state)
{
    fixture *f = *state;
    static int64_t timeout = 120000, conc = 20, bytes = 64 << 20, odd_bytes = 1536;
    static bool sync = true;
    static char *dir = "data", *none = NULL, *section = "agg.yml";
    static strlist tokens;
    static labelset ext;
    if (!tokens.n) {
        strlist_push(&tokens, "abc");
        labels_add(&ext, "cluster", "a");
        labels_add(&ext, "dc", "x");
    }
    static const opt_spec specs[] = {
        {"query.timeout", OPT_DURATION, &timeout, "2m", "", "DUR"},
        {"query.max-concurrency", OPT_INT, &conc, "20", "", "N"},
        {"ingest.max-message-bytes", OPT_BYTES, &bytes, "64MiB", "", "BYTES"},
        {"odd-bytes", OPT_BYTES, &odd_bytes, "", "", "BYTES"},
        {"storage.sync", OPT_BOOL, &sync, "true", "", NULL},
        {"data-dir", OPT_DIR, &dir, "data", "", "DIR"},
        {"ingest.tls-cert", OPT_FILE, &none, NULL, "", "FILE"},
        {"auth.token-sha256", OPT_STRLIST, &tokens, NULL, "", "HEX"},
        {"external-labels", OPT_LABELS, &ext, NULL, "", "K=V"},
        {"remote_write", OPT_SECTION, &section, NULL, NULL, NULL},
    };
    f->agg.flags = specs;
    f->agg.nflags = sizeof specs / sizeof specs[0];
    expect(f, "/api/v1/status/flags", NULL, 200,
           OK "{\"auth.token-sha256\":\"\\u003csecret\\u003e\",\"data-dir\":\"data\","
              "\"external-labels\":\"cluster=a,dc=x\",\"ingest.max-message-bytes\":\"64MiB\","
              "\"ingest.tls-cert\":\"\",\"odd-bytes\":\"1KiB512B\","
              "\"query.max-concurrency\":\"20\",\"query.timeout\":\"2m\","
              "\"storage.sync\":\"true\"}}");
}

/* Queries counted by kind, failures by type, durations in the histogram. */
static void test_query_metrics(void **state)
{
    fixture *f = *state;
    call(f, "/api/v1/query?query=1", NULL);
    call(f, "/api/v1/query?query=sum(", NULL);
    call(f, "/api/v1/query_range?query=1&start=0&end=1&step=1", NULL);
    call(f, "/api/v1/query_range?query=1&start=0", NULL);
    call(f, "/api/v1/query?query=1&timeout=0", NULL);
    assert_int_equal(call(f, "/metrics", NULL), 200);
    metric_set ms;
    metric_set_init(&ms);
    expfmt_error e;
    assert_int_equal(expfmt_parse(f->body.data, f->body.len, NULL, &ms, &e), 0);
    struct {
        const char *name, *type;
        double v;
    } want[] = {
        {"ember_aggregator_queries_total", "instant", 3},
        {"ember_aggregator_queries_total", "range", 2},
        {"ember_aggregator_query_errors_total", "bad_data", 2},
        {"ember_aggregator_query_errors_total", "timeout", 1},
        {"ember_aggregator_query_errors_total", "execution", 0},
        {"ember_aggregator_query_duration_seconds_count", "instant", 2}, /* evaluated ones */
        {"ember_aggregator_query_duration_seconds_count", "range", 1},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const metric_sample *s = find_sample(&ms, want[i].name, "type", want[i].type, NULL);
        if (!s || s->value != want[i].v)
            fail_msg("%s{type=%s}: want %g, got %g", want[i].name, want[i].type, want[i].v,
                     s ? s->value : -1);
    }
    assert_non_null(find_sample(&ms, "ember_aggregator_query_duration_seconds_bucket", "type",
                                "range", "le", "+Inf", NULL));
    assert_non_null(find_sample(&ms, "ember_aggregator_queries_concurrent_max", NULL));
    metric_set_free(&ms);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        T(test_instant_vector),
        T(test_float_formatting),
        T(test_scalar_and_string),
        T(test_instant_matrix),
        T(test_range),
        T(test_large_result_streams),
        T(test_stream_piece_ends_in_a_head),
        T(test_query_errors),
        T(test_range_errors),
        T(test_timeout),
        T(test_max_samples),
        T(test_concurrency_gate),
        T(test_series),
        T(test_labels_with_range),
        T(test_metadata),
        T(test_runtimeinfo),
        T(test_flags),
        T(test_query_metrics),
    };
    int rc = cmocka_run_group_tests_name("api_query", tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
