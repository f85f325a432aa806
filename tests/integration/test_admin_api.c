/*
 * test_admin_api.c — the TSDB admin API (aggregator/http/api_admin.c) on
 * real processes: off by default, answering as Prometheus 2.42 does then
 * (checked against Debian's prometheus); behind the write role with web
 * authentication; a snapshot opened as the data directory of a second
 * aggregator answers the same queries; delete_series survives a SIGKILL and
 * restart; and the same data, deleted the same way in Prometheus 2.42
 * (blocks from promtool) and in Ember, gives the same query, series and
 * federation answers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/etime.h"
#include "tests/integration/harness.h"
#include "tests/integration/promql_answer.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#define N 300   /* samples per series, 15 s apart: two chunks and a head in Ember */
#define STEP 15 /* s */

/* printf %s pa | sha256sum, printf %s pb | sha256sum */
#define SHA_PA "9513229d435978263d82902c59d4e0fb86c941a9bf09b605cd8a6643f40149a8"
#define SHA_PB "3315f44da4a7aaaf8d84382c7583233f697787f5871294ed49cd41207f7375a0"

static const char *const admin_paths[] = {"snapshot", "delete_series", "clean_tombstones"};
static int64_t t0; /* s: the first sample; the last is just before the start */

static long post(unsigned port, const char *userpass, const char *path, const char *body, ebuf *out)
{
    char url[512];
    snprintf(url, sizeof url, "http://%s%s127.0.0.1:%u%s", userpass, *userpass ? "@" : "", port,
             path);
    ebuf_reset(out);
    return harness_http(url, body ? body : "", out);
}

static long get(unsigned port, const char *path, ebuf *out)
{
    char url[1024];
    snprintf(url, sizeof url, "http://127.0.0.1:%u%s", port, path);
    ebuf_reset(out);
    return harness_http(url, NULL, out);
}

static void admin_path(char *out, size_t len, const char *what)
{
    snprintf(out, len, "/api/v1/admin/tsdb/%s", what);
}

/* Ember's import text (ms) or OpenMetrics for promtool (s). */
static void dataset(ebuf *b, bool openmetrics)
{
    for (int s = 1; s <= 2; s++)
        for (int i = 0; i < N; i++)
            ebuf_printf(b, "m{a=\"%d\"} %d %lld\n", s, i * s,
                        (long long)(t0 + i * STEP) * (openmetrics ? 1 : 1000));
    if (openmetrics)
        ebuf_puts(b, "# EOF\n");
}

static void import(unsigned port)
{
    ebuf b, out;
    ebuf_init(&b);
    ebuf_init(&out);
    dataset(&b, false);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/api/v1/import/prometheus", port);
    assert_int_equal(harness_http(url, b.data, &out), 200);
    assert_non_null(strstr(out.data, "\"accepted\":600,"));
    ebuf_free(&b);
    ebuf_free(&out);
}

static void query_range(unsigned port, ebuf *out)
{
    char path[256];
    snprintf(path, sizeof path, "/api/v1/query_range?query=m&start=%lld&end=%lld&step=60",
             (long long)t0, (long long)(t0 + N * STEP));
    assert_int_equal(get(port, path, out), 200);
}

/* Off: every admin route answers as Prometheus 2.42 without
 * --web.enable-admin-api (status and body). */
static void test_disabled_answers_as_prometheus(void **state)
{
    unsigned ap = harness_free_port(), pp = harness_free_port();
    const char *const flags[] = {"--self-scrape.interval", "0", NULL};
    pid_t agg = harness_spawn_aggregator("off", ap, flags);
    char dir[512];
    snprintf(dir, sizeof dir, "%s/prom-off", harness_tmpdir());
    pid_t prom = harness_spawn_prometheus("prom-off", "/dev/null", dir, pp, NULL);
    ebuf want, got;
    ebuf_init(&want);
    ebuf_init(&got);
    for (size_t i = 0; i < 3; i++) {
        char path[128];
        admin_path(path, sizeof path, admin_paths[i]);
        long ws = post(pp, "", path, "match[]=up", &want);
        long gs = post(ap, "", path, "match[]=up", &got);
        assert_int_equal(gs, ws);
        assert_string_equal(got.data, want.data);
    }
    assert_int_equal(post(ap, "", "/api/v1/admin/tsdb/snapshot", NULL, &got), 500);
    assert_non_null(strstr(got.data, "\"errorType\":\"unavailable\""));
    /* no snapshot directory was made */
    struct stat st;
    snprintf(dir, sizeof dir, "%s/off/snapshots", harness_tmpdir());
    assert_int_not_equal(stat(dir, &st), 0);
    ebuf_free(&want);
    ebuf_free(&got);
    harness_stop(agg, 10000);
    harness_stop(prom, 10000);
}

/* With web users, the admin routes need the write role. */
static void test_write_role_required(void **state)
{
    char config[600];
    snprintf(config, sizeof config, "%s/auth.yml", harness_tmpdir());
    FILE *f = fopen(config, "w");
    assert_non_null(f);
    fprintf(f,
            "web:\n  users:\n    - {username: r, password_sha256: %s}\n"
            "    - {username: w, password_sha256: %s, role: write}\n",
            SHA_PA, SHA_PB);
    assert_int_equal(fclose(f), 0);
    unsigned ap = harness_free_port();
    const char *const flags[] = {
        "--config", config, "--web.enable-admin-api", "--self-scrape.interval", "0", NULL};
    pid_t agg = harness_spawn_aggregator("auth", ap, flags);
    ebuf b;
    ebuf_init(&b);
    for (size_t i = 0; i < 3; i++) {
        char path[128];
        admin_path(path, sizeof path, admin_paths[i]);
        assert_int_equal(post(ap, "", path, "match[]=m", &b), 401);
        assert_int_equal(post(ap, "r:pa", path, "match[]=m", &b), 403);
        long want = i == 0 ? 200 : 204;
        assert_int_equal(post(ap, "w:pb", path, "match[]=m", &b), want);
    }
    ebuf_free(&b);
    harness_stop(agg, 10000);
}

/* A snapshot, opened as the data directory of a second aggregator, answers
 * what the first did at the time (head included). */
static void test_snapshot_opened_by_second_aggregator(void **state)
{
    unsigned ap = harness_free_port(), bp = harness_free_port();
    const char *const flags[] = {"--web.enable-admin-api", "--self-scrape.interval", "0", NULL};
    pid_t agg = harness_spawn_aggregator("snapsrc", ap, flags);
    import(ap);
    ebuf before, after, b;
    ebuf_init(&before);
    ebuf_init(&after);
    ebuf_init(&b);
    query_range(ap, &before);
    assert_non_null(strstr(before.data, "\"a\":\"2\""));
    assert_int_equal(post(ap, "", "/api/v1/admin/tsdb/snapshot?skip_head=false", NULL, &b), 200);
    const char *name = strstr(b.data, "\"name\":\"");
    assert_non_null(name);
    name += 8;
    /* YYYYMMDDTHHMMSSZ-<16 hex> */
    assert_int_equal(strcspn(name, "\""), 33);
    assert_int_equal(name[8], 'T');
    assert_int_equal(name[15], 'Z');
    assert_int_equal(name[16], '-');
    char sub[128];
    snprintf(sub, sizeof sub, "snapsrc/snapshots/%.*s", 33, name);
    pid_t second = harness_spawn_aggregator(sub, bp, flags + 1);
    query_range(bp, &after);
    assert_string_equal(after.data, before.data);
    /* a bad skip_head is Prometheus's error */
    assert_int_equal(post(ap, "", "/api/v1/admin/tsdb/snapshot", "skip_head=maybe", &b), 400);
    assert_string_equal(b.data, "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":"
                                "\"invalid parameter \\\"skip_head\\\": unable to parse boolean: "
                                "strconv.ParseBool: parsing \\\"maybe\\\": invalid syntax\"}");
    ebuf_free(&before);
    ebuf_free(&after);
    ebuf_free(&b);
    harness_stop(second, 10000);
    harness_stop(agg, 10000);
}

static void delete_body(char *out, size_t len, const char *match, int64_t start, int64_t end)
{
    if (start == INT64_MIN)
        snprintf(out, len, "match[]=%s", match);
    else
        snprintf(out, len, "match[]=%s&start=%lld&end=%lld", match, (long long)start,
                 (long long)end);
}

/* The deletes of the agreement check, on the server at port. */
static void apply_deletes(unsigned port)
{
    char body[256];
    ebuf b;
    ebuf_init(&b);
    /* m{a="1"} from 10 to 30 minutes in (head and chunks in Ember), m{a="2"} all */
    delete_body(body, sizeof body, "m%7Ba%3D%221%22%7D", t0 + 600, t0 + 1800);
    assert_int_equal(post(port, "", "/api/v1/admin/tsdb/delete_series", body, &b), 204);
    delete_body(body, sizeof body, "m%7Ba%3D%222%22%7D", INT64_MIN, 0);
    assert_int_equal(post(port, "", "/api/v1/admin/tsdb/delete_series", body, &b), 204);
    assert_int_equal(post(port, "", "/api/v1/admin/tsdb/clean_tombstones", NULL, &b), 204);
    assert_int_equal(post(port, "", "/api/v1/admin/tsdb/delete_series", "start=1", &b), 400);
    assert_string_equal(b.data, "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":"
                                "\"no match[] parameter provided\"}");
    ebuf_free(&b);
}

typedef struct answers {
    ebuf range, series, federate;
} answers;

static void collect(unsigned port, answers *a)
{
    char path[256];
    query_range(port, &a->range);
    snprintf(path, sizeof path, "/api/v1/series?match[]=m&start=%lld&end=%lld", (long long)t0,
             (long long)(t0 + N * STEP));
    assert_int_equal(get(port, path, &a->series), 200);
    assert_int_equal(get(port, "/federate?match[]=m", &a->federate), 200);
}

static void answers_init(answers *a)
{
    ebuf_init(&a->range);
    ebuf_init(&a->series);
    ebuf_init(&a->federate);
}

static void answers_free(answers *a)
{
    ebuf_free(&a->range);
    ebuf_free(&a->series);
    ebuf_free(&a->federate);
}

static void assert_same_range(const ebuf *want, const ebuf *got)
{
    prom_answer w, g;
    prom_answer_parse(&w, 200, want->data);
    prom_answer_parse(&g, 200, got->data);
    ebuf diff;
    ebuf_init(&diff);
    if (prom_answer_diff(&w, &g, 0, 10, &diff) != 0)
        fail_msg("query_range differs from Prometheus's:\n%s", diff.data);
    assert_true(prom_answer_has_data(&g));
    ebuf_free(&diff);
    prom_answer_free(&w);
    prom_answer_free(&g);
}

/* Whether the federation text has a sample of series. */
static bool federates(const ebuf *b, const char *series)
{
    return b->data && strstr(b->data, series) != NULL;
}

static pid_t start_prometheus_with_blocks(unsigned port)
{
    char dir[512], om[600], bin[] = "/usr/bin/promtool";
    snprintf(dir, sizeof dir, "%s/prom-admin", harness_tmpdir());
    snprintf(om, sizeof om, "%s/data.om", harness_tmpdir());
    ebuf b;
    ebuf_init(&b);
    dataset(&b, true);
    FILE *f = fopen(om, "w");
    assert_non_null(f);
    fputs(b.data, f);
    assert_int_equal(fclose(f), 0);
    char *argv[] = {bin, "tsdb", "create-blocks-from", "openmetrics", om, dir, NULL};
    ebuf_reset(&b);
    if (harness_run(argv, &b) != 0)
        fail_msg("promtool: %s", b.data);
    ebuf_free(&b);
    const char *const flags[] = {"--web.enable-admin-api", NULL};
    return harness_spawn_prometheus("prom-admin", "/dev/null", dir, port, flags);
}

/* The same data and deletes in Prometheus 2.42 and in Ember: the same
 * answers; Ember's stay so after a SIGKILL and a restart. */
static void test_delete_agrees_with_prometheus_and_survives_sigkill(void **state)
{
    unsigned ap = harness_free_port(), pp = harness_free_port();
    const char *const flags[] = {"--web.enable-admin-api", "--self-scrape.interval", "0", NULL};
    pid_t agg = harness_spawn_aggregator("del", ap, flags);
    pid_t prom = start_prometheus_with_blocks(pp);
    import(ap);
    answers want, got, full;
    answers_init(&want);
    answers_init(&got);
    answers_init(&full);
    collect(ap, &full);
    assert_true(federates(&full.federate, "m{a=\"2\""));
    apply_deletes(ap);
    apply_deletes(pp);
    collect(pp, &want);
    for (int round = 0; round < 2; round++) {
        collect(ap, &got);
        assert_same_range(&want.range, &got.range);
        assert_string_equal(got.series.data, want.series.data);
        assert_string_equal(got.series.data,
                            "{\"status\":\"success\",\"data\":[{\"__name__\":\"m\",\"a\":\"1\"}]}");
        assert_true(federates(&got.federate, "m{a=\"1\""));
        assert_false(federates(&got.federate, "m{a=\"2\""));
        assert_false(federates(&want.federate, "m{a=\"2\""));
        assert_string_not_equal(got.range.data, full.range.data);
        kill(agg, SIGKILL); /* the head log replays at the restart */
        waitpid(agg, NULL, 0);
        agg = harness_spawn_aggregator("del", ap, flags);
    }
    answers_free(&want);
    answers_free(&got);
    answers_free(&full);
    harness_stop(agg, 10000);
    harness_stop(prom, 10000);
}

static int setup(void **state)
{
    t0 = (int64_t)time(NULL) - N * STEP;
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_disabled_answers_as_prometheus),
        cmocka_unit_test(test_write_role_required),
        cmocka_unit_test(test_snapshot_opened_by_second_aggregator),
        cmocka_unit_test(test_delete_agrees_with_prometheus_and_survives_sigkill),
    };
    int rc = cmocka_run_group_tests(tests, setup, NULL);
    harness_cleanup();
    return rc;
}
