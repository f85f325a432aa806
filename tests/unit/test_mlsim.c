/*
 * test_mlsim.c — the ML workload simulator's model: learning curves over
 * whole jobs, job restarts, checkpoints, histograms, queue bursts,
 * determinism, and the exposition (our parser and promtool).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "simulators/mlsim.h"
#include "tests/unit/simcheck.h"

#include <math.h>
#include <string.h>

#define UPDATES 1000

static mlsim *make_sim(unsigned jobs, double rps, uint64_t seed)
{
    mlsim_config cfg = {jobs, rps, seed};
    mlsim *sim = NULL;
    assert_int_equal(mlsim_new(&cfg, &sim), MLSIM_OK);
    return sim;
}

static void test_rejects_bad_config(void **state)
{
    mlsim *sim = (mlsim *)1;
    mlsim_config none = {0, 10, 1}, many = {MLSIM_MAX_JOBS + 1, 10, 1}, neg = {3, -1, 1},
                 nan_rps = {3, NAN, 1};
    assert_int_equal(mlsim_new(&none, &sim), MLSIM_ECONFIG);
    assert_null(sim);
    assert_int_equal(mlsim_new(&many, &sim), MLSIM_ECONFIG);
    assert_int_equal(mlsim_new(&neg, &sim), MLSIM_ECONFIG);
    assert_int_equal(mlsim_new(&nan_rps, &sim), MLSIM_ECONFIG);
}

/* Spearman's rank correlation of x and y (no ties expected in x). */
static double rank_of(const double *v, size_t n, size_t i)
{
    double r = 0;
    for (size_t j = 0; j < n; j++)
        r += v[j] < v[i] ? 1 : v[j] == v[i] && j != i ? 0.5 : 0;
    return r;
}

static double spearman(const double *x, const double *y, size_t n)
{
    double sxy = 0, sxx = 0, syy = 0, mean = (double)(n - 1) / 2;
    for (size_t i = 0; i < n; i++) {
        double rx = rank_of(x, n, i) - mean, ry = rank_of(y, n, i) - mean;
        sxy += rx * ry;
        sxx += rx * rx;
        syy += ry * ry;
    }
    return sxy / sqrt(sxx * syy);
}

/* One job's readings from its first update to its last. */
typedef struct trace {
    char name[24];
    double epoch[UPDATES], loss[UPDATES], acc[UPDATES];
    uint64_t ckpt[UPDATES];
    unsigned epochs;
    size_t n;
    int from_start; /* started during the run, so the whole job was seen */
} trace;

static void check_whole_job(const trace *t)
{
    /* Loss falls and accuracy rises over the job, as a trend through the
     * noise (rank correlation with the epoch) and end to end. */
    double rl = spearman(t->epoch, t->loss, t->n), ra = spearman(t->epoch, t->acc, t->n);
    if (!(rl < -0.8 && ra > 0.8))
        fail_msg("%s (%zu readings): rank corr loss %.3f accuracy %.3f", t->name, t->n, rl, ra);
    assert_true(t->loss[t->n - 1] < 0.5 * t->loss[0]);
    assert_true(t->acc[t->n - 1] > t->acc[0] + 0.3);
    assert_true(t->acc[t->n - 1] <= 1.0 && t->acc[0] >= 0.0);
    assert_true(t->epoch[t->n - 1] <= t->epochs && t->epoch[t->n - 1] > t->epochs - 3);
    /* Checkpoints: periodic, never going back, at least one per 4 epochs. */
    for (size_t i = 1; i < t->n; i++)
        assert_true(t->ckpt[i] >= t->ckpt[i - 1]);
    assert_true(t->ckpt[0] == 0);
    assert_true(t->ckpt[t->n - 1] >= (t->epochs - 3) / 4);
}

/* 1,000 updates of 2 s: most jobs run from start to end inside the window. */
static void test_learning_curves_over_whole_jobs(void **state)
{
    static trace tr[4];
    size_t whole = 0;
    for (uint64_t seed = 1; seed <= 4; seed++) {
        mlsim *sim = make_sim(4, 0, seed);
        uint64_t started = mlsim_jobs_started(sim);
        memset(tr, 0, sizeof tr);
        for (int k = 0; k < UPDATES; k++) {
            mlsim_step(sim, 2.0);
            for (size_t i = 0; i < 4; i++) {
                const mlsim_job *j = mlsim_job_at(sim, i);
                trace *t = &tr[i];
                if (strcmp(t->name, j->name) != 0) { /* a new job took the slot */
                    if (t->from_start && t->n > 10) {
                        check_whole_job(t);
                        whole++;
                    }
                    memset(t, 0, sizeof *t);
                    snprintf(t->name, sizeof t->name, "%s", j->name);
                    t->epochs = j->epochs;
                    t->from_start = k > 0;
                }
                t->epoch[t->n] = j->epoch;
                t->loss[t->n] = j->loss;
                t->acc[t->n] = j->accuracy;
                t->ckpt[t->n++] = j->checkpoints;
            }
        }
        /* Jobs restart with new names: 8-30 epochs of 20-60 s each in 2000 s. */
        assert_true(mlsim_jobs_started(sim) > started + 4);
        mlsim_free(sim);
    }
    assert_true(whole >= 8);
}

/* Observations at or below the bound le (one of the histogram's). */
static double cumulative(const simhist *h, double le)
{
    uint64_t cum = 0;
    for (size_t b = 0; b < h->nbounds && h->bounds[b] <= le; b++)
        cum += h->counts[b];
    return (double)cum;
}

static void test_inference_latency_has_a_long_tail(void **state)
{
    mlsim *sim = make_sim(1, 20, 7);
    for (int k = 0; k < UPDATES; k++)
        mlsim_step(sim, 1.0);
    for (size_t m = 0; m < MLSIM_INFERENCE_MODELS; m++) {
        const simhist *h = mlsim_inference_latency(sim, m);
        /* Poisson(20000): sd 141; allow 6 sd. */
        assert_in_range(h->count, 20000 - 850, 20000 + 850);
        double n = (double)h->count;
        /* Body: the median under 100 ms; tail: 1-4 % beyond 250 ms, some
         * beyond 1 s, and the mean well above the median. */
        assert_true(cumulative(h, 0.1) / n > 0.5);
        assert_true(cumulative(h, 0.25) / n < 0.99 && cumulative(h, 0.25) / n > 0.96);
        assert_true(cumulative(h, 1) < h->count);
        assert_true(h->sum / n > (m == 0 ? 0.035 : 0.065));
    }
    assert_string_equal(mlsim_inference_model(0), "resnet50");
    assert_null(mlsim_inference_model(MLSIM_INFERENCE_MODELS));
    assert_null(mlsim_inference_latency(sim, MLSIM_INFERENCE_MODELS));
    mlsim_free(sim);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void test_queue_depth_bursts(void **state)
{
    for (uint64_t seed = 1; seed <= 4; seed++) {
        mlsim *sim = make_sim(1, 0, seed);
        double d[UPDATES];
        for (int k = 0; k < UPDATES; k++) {
            mlsim_step(sim, 1.0);
            d[k] = mlsim_queue_depth(sim);
            assert_true(d[k] >= 0 && d[k] == floor(d[k]));
        }
        qsort(d, UPDATES, sizeof d[0], cmp_double);
        /* Mostly a handful of jobs, with bursts of 20-60 on top. */
        if (!(d[UPDATES / 2] <= 10 && d[UPDATES - 1] >= 20))
            fail_msg("seed %llu: median %.0f max %.0f", (unsigned long long)seed, d[UPDATES / 2],
                     d[UPDATES - 1]);
        mlsim_free(sim);
    }
}

static void test_same_seed_same_output(void **state)
{
    mlsim *a = make_sim(3, 20, 9), *b = make_sim(3, 20, 9), *c = make_sim(3, 20, 10);
    ebuf ta, tb, tc;
    ebuf_init(&ta);
    ebuf_init(&tb);
    ebuf_init(&tc);
    for (int k = 0; k < 300; k++) {
        mlsim_step(a, 1.0);
        mlsim_step(b, 1.0);
        mlsim_step(c, 1.0);
    }
    mlsim_render(a, &ta);
    mlsim_render(b, &tb);
    mlsim_render(c, &tc);
    assert_string_equal(ta.data, tb.data);
    assert_string_not_equal(ta.data, tc.data);
    /* Non-positive and NaN steps change nothing. */
    mlsim_step(a, 0);
    mlsim_step(a, -1);
    mlsim_step(a, NAN);
    ebuf_reset(&ta);
    mlsim_render(a, &ta);
    assert_string_equal(ta.data, tb.data);
    ebuf_free(&ta);
    ebuf_free(&tb);
    ebuf_free(&tc);
    mlsim_free(a);
    mlsim_free(b);
    mlsim_free(c);
}

static void check_family(const metric_set *ms, const char *name, metric_type type)
{
    const metric_meta *m = metric_set_find_meta(ms, name);
    if (!m)
        fail_msg("family %s missing", name);
    assert_int_equal(m->type, type);
    assert_non_null(m->help);
}

static void test_exposition_parses_and_passes_promtool(void **state)
{
    mlsim *sim = make_sim(3, 20, 1);
    for (int k = 0; k < 2000; k++) /* long enough for jobs to have restarted */
        mlsim_step(sim, 1.0);
    ebuf text;
    ebuf_init(&text);
    mlsim_render(sim, &text);
    simcheck_promtool(text.data, text.len);
    metric_set ms;
    simcheck_parse(text.data, text.len, &ms);
    check_family(&ms, "inference_latency_seconds", METRIC_HISTOGRAM);
    check_family(&ms, "batch_processing_time_seconds", METRIC_HISTOGRAM);
    check_family(&ms, "ml_job_queue_depth", METRIC_GAUGE);
    check_family(&ms, "training_loss", METRIC_GAUGE);
    check_family(&ms, "training_accuracy", METRIC_GAUGE);
    check_family(&ms, "checkpoint_saves_total", METRIC_COUNTER);
    for (size_t m = 0; m < MLSIM_INFERENCE_MODELS; m++)
        assert_int_equal(
            simcheck_histogram(&ms, "inference_latency_seconds", "model", mlsim_inference_model(m)),
            12);
    assert_true(simcheck_value(&ms, "ml_job_queue_depth", NULL) == mlsim_queue_depth(sim));
    for (size_t i = 0; i < mlsim_job_count(sim); i++) {
        const mlsim_job *j = mlsim_job_at(sim, i);
        assert_int_equal(simcheck_histogram(&ms, "batch_processing_time_seconds", "job", j->name),
                         9);
        assert_true(simcheck_value(&ms, "training_loss", "job", j->name, "model", j->model, NULL) ==
                    j->loss);
        assert_true(simcheck_value(&ms, "training_accuracy", "job", j->name, NULL) == j->accuracy);
        assert_true(simcheck_value(&ms, "checkpoint_saves_total", "job", j->name, NULL) ==
                    (double)j->checkpoints);
    }
    /* Only the running jobs have series: finished ones are gone. */
    assert_true(mlsim_jobs_started(sim) > 3);
    assert_null(strstr(text.data, "job=\"job-0001\""));
    assert_null(mlsim_job_at(sim, 3));
    metric_set_free(&ms);
    ebuf_free(&text);
    mlsim_free(sim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rejects_bad_config),
        cmocka_unit_test(test_learning_curves_over_whole_jobs),
        cmocka_unit_test(test_inference_latency_has_a_long_tail),
        cmocka_unit_test(test_queue_depth_bursts),
        cmocka_unit_test(test_same_seed_same_output),
        cmocka_unit_test(test_exposition_parses_and_passes_promtool),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
