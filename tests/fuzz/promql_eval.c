/*
 * promql_eval.c — libFuzzer target for the PromQL evaluator (query/engine.c
 * and eval_*.c) on the real store.
 *
 * A tsdb in a temp dir holds a small fleet (gauges, counters with a reset,
 * histogram buckets, a staleness marker, a NaN).  Every input that parses
 * is run as an instant query at three times and as a range query; the
 * engine must answer or fail with a typed error, never crash, and its
 * results must hold the engine's invariants: label sets unique, points
 * strictly ascending at step times inside the range.  Any violation
 * aborts.
 */
#include "aggregator/tsdb/tsdb.h"
#include "common/fsutil.h"
#include "query/engine.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define BASE 1000000000000LL /* 2001-09-09, well inside an unlimited retention */
#define STEP 15000

static char dir[64];
static tsdb *db;

static void cleanup(void)
{
    tsdb_close(db);
    fs_rmtree(dir);
}

static void add_series(tsdb_appender *app, const char *name, const char *k, const char *v,
                       double start, double inc, int reset_at)
{
    labelset ls;
    labels_init(&ls);
    labels_add(&ls, "__name__", name);
    labels_add(&ls, "instance", "node-1");
    labels_add(&ls, k, v);
    double x = start;
    for (int i = 0; i < 80; i++, x += inc) {
        if (i == reset_at)
            x = 0;
        tsdb_append(app, &ls, BASE + (int64_t)i * STEP, i == 70 && inc == 0 ? stale_nan() : x);
    }
    labels_free(&ls);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    snprintf(dir, sizeof dir, "/tmp/ember-fuzz-eval-XXXXXX");
    if (!mkdtemp(dir))
        abort();
    tsdb_options o = {.sync = false};
    char err[256];
    if (tsdb_open(dir, &o, &db, err, sizeof err) != 0)
        abort();
    atexit(cleanup);
    tsdb_appender *app = tsdb_appender_new(db);
    static const char *les[] = {"0.1", "0.5", "1", "+Inf"};
    for (int i = 0; i < 4; i++) {
        add_series(app, "http_request_duration_seconds_bucket", "le", les[i], 0, i + 1, 50);
        char gpu[4];
        snprintf(gpu, sizeof gpu, "%d", i);
        add_series(app, "DCGM_FI_DEV_GPU_UTIL", "gpu", gpu, 10 * i, 0, -1);
        add_series(app, "http_requests_total", "code", i % 2 ? "500" : "200", 0, i + 0.5, 40);
    }
    add_series(app, "odd", "kind", "nan", 0.0 / 0.0, 1, -1);
    tsdb_commit_result res;
    if (tsdb_commit(app, NULL, 0, &res, err, sizeof err) != 0)
        abort();
    return 0;
}

static void check_result(const promql_result *r, int64_t start, int64_t end, int64_t step)
{
    for (size_t i = 0; i < r->series.n; i++) {
        const qseries *s = &r->series.v[i];
        for (size_t j = i + 1; j < r->series.n; j++)
            if (r->type != PV_MATRIX || step)
                if (labels_equal(&s->labels, &r->series.v[j].labels))
                    abort();
        for (size_t j = 0; j < s->n; j++) {
            int64_t t = s->samples[j].t;
            if (j && t <= s->samples[j - 1].t)
                abort();
            if (step && (t < start || t > end || (t - start) % step))
                abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *q = malloc(size + 1);
    memcpy(q, data, size);
    q[size] = '\0';
    query_storage st = tsdb_query_storage(db);
    promql_engine_options o = {.max_samples = 200000};
    promql_result r;
    promql_failure f;
    static const int64_t at[] = {BASE + 600000, BASE + 1185000, BASE + 2000000};
    for (int i = 0; i < 3; i++)
        if (promql_query_instant(&st, &o, q, at[i], &r, &f) == 0) {
            check_result(&r, at[i], at[i], 0);
            promql_result_free(&r);
        } else if (f.type == PROMQL_ERR_NONE || !f.msg[0]) {
            abort();
        }
    int64_t start = BASE, end = BASE + 1200000, step = 60000;
    if (promql_query_range(&st, &o, q, start, end, step, &r, &f) == 0) {
        check_result(&r, start, end, step);
        promql_result_free(&r);
    }
    free(q);
    return 0;
}
