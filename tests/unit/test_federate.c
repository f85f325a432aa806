/*
 * test_federate.c — the /federate text (api_federate.c) from a real store
 * in a temporary directory: union of selectors without duplicates, latest
 * sample within the lookback with its own timestamp, stale series left out,
 * families sorted with untyped headers, instance="" added, -0 as "0",
 * gzip output that inflates to the same text, bad match[] as 400, and the
 * Accept-Encoding parsing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "aggregator/http/api.h"
#include "common/fsutil.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define NOW 1700000000000LL
#define MIN (60 * 1000LL)

typedef struct fixture {
    char dir[256];
    aggregator agg;
} fixture;

static void put(tsdb_appender *app, const char *name, const char *k, const char *v, int64_t t,
                double val)
{
    labelset ls;
    labels_init(&ls);
    labels_add(&ls, "__name__", name);
    if (k)
        labels_add(&ls, k, v);
    assert_null(tsdb_append(app, &ls, t, val));
    labels_free(&ls);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    char err[256];
    tsdb_options o = {.maint_interval_ms = -1};
    if (fs_mkdtemp(f->dir, sizeof f->dir, "ember-federate") != 0 ||
        tsdb_open(f->dir, &o, &f->agg.db, err, sizeof err) != 0)
        return -1;
    f->agg.lookback_ms = 5 * MIN;
    tsdb_appender *app = tsdb_appender_new(f->agg.db);
    put(app, "up", "job", "b", NOW - 2 * MIN, 1);
    put(app, "up", "job", "b", NOW - MIN, 0);
    put(app, "up", "job", "a", NOW - 30000, 1);
    put(app, "gone", "job", "a", NOW - 2 * MIN, 5);
    put(app, "gone", "job", "a", NOW - MIN, stale_nan());
    put(app, "old", "job", "a", NOW - 10 * MIN, 7);
    put(app, "neg_zero", "instance", "h:1", NOW - MIN, -0.0);
    put(app, "future", NULL, NULL, NOW + MIN, 3); /* after now: not federated */
    put(app, "a_first", NULL, NULL, NOW - MIN, 1.5e-7);
    tsdb_commit_result res;
    if (tsdb_commit(app, NULL, 0, &res, err, sizeof err) != 0)
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

static void federate(fixture *f, const char *const *matches, size_t n, bool gzip, ebuf *out)
{
    promql_selector sels[4];
    promql_error perr;
    for (size_t i = 0; i < n; i++)
        assert_int_equal(promql_parse_selector(matches[i], &sels[i], &perr), 0);
    query_storage st = tsdb_query_storage(f->agg.db);
    char err[256];
    assert_int_equal(
        api_federate_write(&st, sels, n, NOW, f->agg.lookback_ms, gzip, out, err, sizeof err), 0);
    for (size_t i = 0; i < n; i++)
        promql_selector_free(&sels[i]);
}

static const char *const want_all = "# TYPE a_first untyped\n"
                                    "a_first{instance=\"\"} 1.5e-07 1699999940000\n"
                                    "# TYPE neg_zero untyped\n"
                                    "neg_zero{instance=\"h:1\"} 0 1699999940000\n"
                                    "# TYPE up untyped\n"
                                    "up{instance=\"\",job=\"a\"} 1 1699999970000\n"
                                    "up{instance=\"\",job=\"b\"} 0 1699999940000\n";

static void test_union_latest_stale_sorted(void **state)
{
    fixture *f = *state;
    /* Overlapping selectors: every series once. */
    const char *m[] = {"{__name__=~\".+\"}", "up", "up{job=\"a\"}"};
    ebuf out;
    ebuf_init(&out);
    federate(f, m, 3, false, &out);
    assert_string_equal(out.data ? out.data : "", want_all);
    ebuf_free(&out);
}

static void test_no_match_is_empty(void **state)
{
    fixture *f = *state;
    const char *m[] = {"nothing_here"};
    ebuf out;
    ebuf_init(&out);
    federate(f, m, 1, false, &out);
    assert_int_equal(out.len, 0);
    federate(f, m, 0, false, &out);
    assert_int_equal(out.len, 0);
    ebuf_free(&out);
}

static void test_gzip_inflates_to_the_text(void **state)
{
    fixture *f = *state;
    const char *m[] = {"{__name__=~\".+\"}"};
    ebuf gz;
    ebuf_init(&gz);
    federate(f, m, 1, true, &gz);
    assert_true(gz.len > 10);
    assert_int_equal((unsigned char)gz.data[0], 0x1f); /* gzip magic */
    assert_int_equal((unsigned char)gz.data[1], 0x8b);
    char plain[4096];
    z_stream z = {.next_in = (Bytef *)gz.data,
                  .avail_in = (uInt)gz.len,
                  .next_out = (Bytef *)plain,
                  .avail_out = sizeof plain - 1};
    assert_int_equal(inflateInit2(&z, 15 + 16), Z_OK);
    assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
    plain[z.total_out] = 0;
    inflateEnd(&z);
    assert_string_equal(plain, want_all);
    ebuf_free(&gz);
}

static void handle(fixture *f, const char *match, httpd_response *resp)
{
    httpd_request req = {.method = "GET", .path = "/federate", .body = ""};
    httpd_parse_form(&req, match, strlen(match));
    *resp = (httpd_response){.status = 200};
    ebuf_init(&resp->body);
    api_handle_federate(&f->agg, &req, resp);
    httpd_params_free(&req);
}

static void test_handler_bad_match_is_400(void **state)
{
    fixture *f = *state;
    httpd_response resp;
    handle(f, "match[]=up&match[]=%7Bjob%3D~%22.*%22%7D", &resp);
    assert_int_equal(resp.status, 400);
    assert_string_equal(resp.content_type, HTTPD_CONTENT_TYPE_TEXT);
    assert_non_null(strstr(resp.body.data, "vector selector must contain at least one non-empty"));
    ebuf_free(&resp.body);
    handle(f, "match[]=up", &resp);
    assert_int_equal(resp.status, 200);
    assert_string_equal(resp.content_type, HTTPD_CONTENT_TYPE_METRICS);
    ebuf_free(&resp.body);
}

static void test_accept_encoding(void **state)
{
    (void)state;
    assert_true(api_accepts_gzip("gzip"));
    assert_true(api_accepts_gzip("deflate, GZIP;q=0.5"));
    assert_true(api_accepts_gzip("*"));
    assert_false(api_accepts_gzip(NULL));
    assert_false(api_accepts_gzip("identity"));
    assert_false(api_accepts_gzip("gzip;q=0"));
    assert_false(api_accepts_gzip("x-gzip2, br"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_union_latest_stale_sorted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_match_is_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gzip_inflates_to_the_text, setup, teardown),
        cmocka_unit_test_setup_teardown(test_handler_bad_match_is_400, setup, teardown),
        cmocka_unit_test(test_accept_encoding),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
