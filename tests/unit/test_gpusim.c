/*
 * test_gpusim.c — the GPU simulator's model: invariants over long runs,
 * determinism, UUIDs, and the exposition it renders (parsed back).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/expfmt.h"
#include "simulators/gpusim.h"
#include "tests/unit/simcheck.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define GIB (1024.0 * 1024.0 * 1024.0)
#define LONG_RUN_STEPS 100000

static gpusim *make_sim(const char *model, unsigned gpus, unsigned nodes, uint64_t seed)
{
    gpusim_config cfg = {model, gpus, nodes, seed};
    gpusim *sim = NULL;
    assert_int_equal(gpusim_new(&cfg, &sim), GPUSIM_OK);
    assert_non_null(sim);
    return sim;
}

/* ---- construction ---- */

static void test_new_rejects_bad_config(void **state)
{
    gpusim *sim = (gpusim *)1;
    gpusim_config bad_model = {"NVIDIA-GTX-1080", 8, 1, 1};
    assert_int_equal(gpusim_new(&bad_model, &sim), GPUSIM_EMODEL);
    assert_null(sim);
    gpusim_config no_gpus = {"NVIDIA-A100-40GB", 0, 1, 1};
    assert_int_equal(gpusim_new(&no_gpus, &sim), GPUSIM_ECOUNT);
    gpusim_config too_many = {"NVIDIA-A100-40GB", GPUSIM_MAX_GPUS + 1, 1, 1};
    assert_int_equal(gpusim_new(&too_many, &sim), GPUSIM_ECOUNT);
    gpusim_config no_nodes = {"NVIDIA-A100-40GB", 8, 0, 1};
    assert_int_equal(gpusim_new(&no_nodes, &sim), GPUSIM_ECOUNT);
    assert_string_equal(gpusim_strerror(GPUSIM_EMODEL), "unknown GPU model");
    assert_non_null(gpusim_profile_find("NVIDIA-A100-40GB"));
    assert_null(gpusim_profile_find(NULL));
}

static void test_labels_and_count(void **state)
{
    gpusim *sim = make_sim("NVIDIA-A100-40GB", 8, 2, 3);
    assert_int_equal(gpusim_count(sim), 16);
    assert_string_equal(gpusim_gpu_at(sim, 0)->id, "gpu0");
    assert_string_equal(gpusim_gpu_at(sim, 0)->node, "node0");
    assert_string_equal(gpusim_gpu_at(sim, 7)->id, "gpu7");
    assert_string_equal(gpusim_gpu_at(sim, 9)->id, "gpu1");
    assert_string_equal(gpusim_gpu_at(sim, 9)->node, "node1");
    assert_null(gpusim_gpu_at(sim, 16));
    assert_string_equal(gpusim_profile_of(sim)->model, "NVIDIA-A100-40GB");
    gpusim_free(sim);
}

/* ---- invariants over long runs ---- */

typedef struct run_stats {
    /* sums for Pearson's r between utilization and temperature */
    double su, st, suu, stt, sut;
    double n;
    double util_min, util_max, mem_min, mem_max;
    uint64_t throttled_steps, boost_steps;
} run_stats;

static double pearson(const run_stats *s)
{
    double cov = s->sut - s->su * s->st / s->n;
    double vu = s->suu - s->su * s->su / s->n;
    double vt = s->stt - s->st * s->st / s->n;
    return cov / sqrt(vu * vt);
}

static void check_reading(const gpusim_profile *p, const gpusim_gpu *g, uint64_t prev_ecc)
{
    assert_true(g->util_percent >= GPUSIM_UTIL_MIN && g->util_percent <= GPUSIM_UTIL_MAX);
    assert_true(g->memory_bytes <= p->memory_bytes);
    assert_true(g->power_watts >= p->idle_watts && g->power_watts <= p->tdp_watts);
    assert_true(g->sm_clock_mhz >= p->idle_clock_mhz && g->sm_clock_mhz <= p->boost_clock_mhz);
    assert_true(fmod(g->sm_clock_mhz - p->idle_clock_mhz, 15.0) == 0.0);
    assert_true(g->temp_celsius > 20 && g->temp_celsius < 110);
    assert_true(g->ecc_errors >= prev_ecc);
    assert_true(g->ecc_errors - prev_ecc <= 1);
    /* Well above the threshold the clock must be throttled. */
    if (g->temp_celsius >= p->throttle_celsius + 2)
        assert_true(g->sm_clock_mhz < p->boost_clock_mhz);
}

static void account(run_stats *s, const gpusim_profile *p, const gpusim_gpu *g)
{
    double u = g->util_percent, t = g->temp_celsius, m = (double)g->memory_bytes;
    s->su += u;
    s->st += t;
    s->suu += u * u;
    s->stt += t * t;
    s->sut += u * t;
    s->n += 1;
    s->util_min = fmin(s->util_min, u);
    s->util_max = fmax(s->util_max, u);
    s->mem_min = fmin(s->mem_min, m);
    s->mem_max = fmax(s->mem_max, m);
    s->throttled_steps += g->temp_celsius > p->throttle_celsius + 1;
    s->boost_steps += g->sm_clock_mhz == p->boost_clock_mhz;
}

/* Run steps of dt on one simulator, checking every reading; returns the ECC
 * errors injected.  Per-GPU statistics land in stats[]. */
static uint64_t run_checked(gpusim *sim, int steps, double dt, run_stats *stats)
{
    const gpusim_profile *p = gpusim_profile_of(sim);
    size_t n = gpusim_count(sim);
    uint64_t prev[GPUSIM_MAX_GPUS], start = 0, end = 0;
    for (size_t i = 0; i < n; i++) {
        prev[i] = gpusim_gpu_at(sim, i)->ecc_errors;
        start += prev[i];
        stats[i] = (run_stats){.util_min = 1e9, .mem_min = 1e300};
    }
    for (int k = 0; k < steps; k++) {
        gpusim_step(sim, dt);
        for (size_t i = 0; i < n; i++) {
            const gpusim_gpu *g = gpusim_gpu_at(sim, i);
            check_reading(p, g, prev[i]);
            account(&stats[i], p, g);
            prev[i] = g->ecc_errors;
        }
    }
    for (size_t i = 0; i < n; i++)
        end += prev[i];
    return end - start;
}

static void test_invariants_over_long_runs(void **state)
{
    const uint64_t seeds[] = {0, 1, 42, 0xdeadbeefULL, UINT64_MAX};
    uint64_t throttled = 0;
    for (size_t s = 0; s < sizeof seeds / sizeof seeds[0]; s++) {
        gpusim *sim = make_sim("NVIDIA-A100-40GB", 8, 1, seeds[s]);
        run_stats st[8];
        uint64_t ecc = run_checked(sim, LONG_RUN_STEPS, 1.0, st);
        /* Binomial(800000, 0.001): mean 800, sd 28.3; allow 6 sd. */
        assert_in_range(ecc, 800 - 170, 800 + 170);
        assert_int_equal(gpusim_steps(sim), LONG_RUN_STEPS);
        for (int i = 0; i < 8; i++) {
            double r = pearson(&st[i]);
            if (r <= 0.8)
                fail_msg("seed %llu gpu%d: util/temp r = %.3f", (unsigned long long)seeds[s], i, r);
            /* The job cycle really cycles: idle dips, busy plateaus, jobs
             * that load memory and release it. */
            assert_true(st[i].util_min <= 25 && st[i].util_max >= 80);
            assert_true(st[i].mem_min < 0.02 * 40 * GIB && st[i].mem_max > 0.3 * 40 * GIB);
            assert_true(st[i].boost_steps > 0);
            throttled += st[i].throttled_steps;
        }
        gpusim_free(sim);
    }
    /* Hot slots at full load cross the throttle threshold now and then. */
    assert_true(throttled > 0);
}

/*
 * The statistics, over exactly 1,000 deterministic updates (1 s
 * each, the default interval) of an 8-GPU node, for several seeds:
 * utilization within 20-90 % and power within idle..TDP on every reading
 * (check_reading), temperature correlated with utilization (Pearson r > 0.8)
 * on every GPU, and the ECC errors injected within the two-sided 1e-6
 * bounds of Binomial(updates * GPUs, 0.001).
 */
static void test_statistics_over_1000_updates(void **state)
{
    const int updates = 1000, seeds = 16;
    const uint64_t trials = (uint64_t)updates * 8;
    uint64_t lo = simcheck_binomial_quantile(trials, GPUSIM_ECC_PROBABILITY, 1e-6);
    uint64_t hi = simcheck_binomial_quantile(trials, GPUSIM_ECC_PROBABILITY, 1 - 1e-6);
    uint64_t total_ecc = 0;
    for (int s = 0; s < seeds; s++) {
        gpusim *sim = make_sim("NVIDIA-A100-40GB", 8, 1, (uint64_t)s);
        run_stats st[8];
        uint64_t ecc = run_checked(sim, updates, 1.0, st);
        assert_in_range(ecc, lo, hi);
        total_ecc += ecc;
        for (int i = 0; i < 8; i++) {
            double r = pearson(&st[i]);
            if (!(r > 0.8))
                fail_msg("seed %d gpu%d: util/temp r = %.3f over %d updates", s, i, r, updates);
        }
        gpusim_free(sim);
    }
    /* All seeds together: Binomial(128000, 0.001), mean 128. */
    uint64_t all = trials * seeds;
    assert_in_range(total_ecc, simcheck_binomial_quantile(all, GPUSIM_ECC_PROBABILITY, 1e-6),
                    simcheck_binomial_quantile(all, GPUSIM_ECC_PROBABILITY, 1 - 1e-6));
}

static void test_invariants_hold_for_any_dt(void **state)
{
    const double dts[] = {0.01, 0.25, 15.0, 300.0};
    for (size_t d = 0; d < sizeof dts / sizeof dts[0]; d++) {
        gpusim *sim = make_sim("NVIDIA-A100-40GB", 8, 1, 11);
        run_stats st[8];
        run_checked(sim, 5000, dts[d], st);
        gpusim_free(sim);
    }
}

static void test_other_profiles_respect_their_limits(void **state)
{
    gpusim *sim = make_sim("NVIDIA-H100-80GB", 4, 1, 5);
    run_stats st[4];
    run_checked(sim, 20000, 1.0, st);
    assert_true(st[0].mem_max > 40 * GIB); /* uses the larger framebuffer */
    gpusim_free(sim);
}

/* ---- determinism ---- */

static void test_same_seed_same_sequence(void **state)
{
    gpusim *a = make_sim("NVIDIA-A100-40GB", 8, 2, 7);
    gpusim *b = make_sim("NVIDIA-A100-40GB", 8, 2, 7);
    const double dts[] = {1.0, 0.5, 2.0, 1.0, 10.0};
    for (int k = 0; k < 20000; k++) {
        double dt = dts[k % 5];
        gpusim_step(a, dt);
        gpusim_step(b, dt);
        for (size_t i = 0; i < gpusim_count(a); i++)
            assert_memory_equal(gpusim_gpu_at(a, i), gpusim_gpu_at(b, i), sizeof(gpusim_gpu));
    }
    gpusim_free(a);
    gpusim_free(b);
}

static void test_different_seeds_differ(void **state)
{
    gpusim *a = make_sim("NVIDIA-A100-40GB", 8, 1, 7);
    gpusim *b = make_sim("NVIDIA-A100-40GB", 8, 1, 8);
    int differing = 0;
    for (int k = 0; k < 100; k++) {
        gpusim_step(a, 1.0);
        gpusim_step(b, 1.0);
        for (size_t i = 0; i < 8; i++)
            differing += gpusim_gpu_at(a, i)->power_watts != gpusim_gpu_at(b, i)->power_watts;
    }
    assert_true(differing > 700); /* of 800 readings, to the milliwatt */
    assert_string_not_equal(gpusim_gpu_at(a, 0)->uuid, gpusim_gpu_at(b, 0)->uuid);
    gpusim_free(a);
    gpusim_free(b);
}

/* A GPU's trajectory depends on (seed, node, gpu) only, not on the node size. */
static void test_gpu_stream_independent_of_gpu_count(void **state)
{
    gpusim *small = make_sim("NVIDIA-A100-40GB", 2, 1, 5);
    gpusim *big = make_sim("NVIDIA-A100-40GB", 8, 1, 5);
    for (int k = 0; k < 1000; k++) {
        gpusim_step(small, 1.0);
        gpusim_step(big, 1.0);
        for (size_t i = 0; i < 2; i++)
            assert_memory_equal(gpusim_gpu_at(small, i), gpusim_gpu_at(big, i), sizeof(gpusim_gpu));
    }
    gpusim_free(small);
    gpusim_free(big);
}

static void test_nonpositive_dt_is_ignored(void **state)
{
    gpusim *sim = make_sim("NVIDIA-A100-40GB", 1, 1, 5);
    gpusim_gpu before = *gpusim_gpu_at(sim, 0);
    gpusim_step(sim, 0);
    gpusim_step(sim, -1);
    gpusim_step(sim, NAN);
    assert_memory_equal(&before, gpusim_gpu_at(sim, 0), sizeof before);
    assert_int_equal(gpusim_steps(sim), 0);
    gpusim_free(sim);
}

/* ---- UUIDs ---- */

static int is_lower_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static void assert_uuid_format(const char *u)
{
    assert_int_equal(strlen(u), GPUSIM_UUID_LEN);
    assert_memory_equal(u, "GPU-", 4);
    for (int i = 4; i < GPUSIM_UUID_LEN; i++) {
        if (i == 12 || i == 17 || i == 22 || i == 27)
            assert_int_equal(u[i], '-');
        else if (!is_lower_hex(u[i]))
            fail_msg("bad uuid %s at %d", u, i);
    }
}

static void test_uuid_format_and_uniqueness(void **state)
{
    char seen[16 * 8][GPUSIM_UUID_LEN + 1];
    for (unsigned node = 0; node < 16; node++)
        for (unsigned gpu = 0; gpu < 8; gpu++) {
            char *u = seen[node * 8 + gpu];
            gpusim_uuid(1234, node, gpu, u);
            assert_uuid_format(u);
            for (unsigned j = 0; j < node * 8 + gpu; j++)
                assert_string_not_equal(u, seen[j]);
        }
    char again[GPUSIM_UUID_LEN + 1], other[GPUSIM_UUID_LEN + 1];
    gpusim_uuid(1234, 3, 5, again);
    assert_string_equal(again, seen[3 * 8 + 5]);
    gpusim_uuid(1235, 3, 5, other);
    assert_string_not_equal(other, again);

    gpusim *sim = make_sim("NVIDIA-A100-40GB", 8, 16, 1234);
    for (size_t i = 0; i < gpusim_count(sim); i++)
        assert_string_equal(gpusim_gpu_at(sim, i)->uuid, seen[i]);
    gpusim_free(sim);
}

/* ---- exposition ---- */

static const struct {
    const char *name;
    metric_type type;
    const char *help;
} families[] = {
    {"gpu_utilization_percent", METRIC_GAUGE, "GPU compute utilization in percent."},
    {"gpu_temperature_celsius", METRIC_GAUGE, "GPU temperature in degrees Celsius."},
    {"gpu_memory_usage_bytes", METRIC_GAUGE, "GPU framebuffer memory used in bytes."},
    {"gpu_power_draw_watts", METRIC_GAUGE, "GPU power draw in watts."},
    {"gpu_sm_clock_mhz", METRIC_GAUGE, "GPU SM clock frequency in MHz."},
    {"gpu_ecc_errors_total", METRIC_COUNTER, "Total ECC errors seen by the GPU."},
};
#define NFAMILIES (sizeof families / sizeof families[0])

static double expected_value(const gpusim_gpu *g, size_t family)
{
    switch (family) {
    case 0: return g->util_percent;
    case 1: return g->temp_celsius;
    case 2: return (double)g->memory_bytes;
    case 3: return g->power_watts;
    case 4: return g->sm_clock_mhz;
    default: return (double)g->ecc_errors;
    }
}

static void parse_rendered(const gpusim *sim, metric_set *ms, ebuf *text)
{
    ebuf_init(text);
    gpusim_render(sim, text);
    metric_set_init(ms);
    expfmt_error err;
    if (expfmt_parse(text->data, text->len, NULL, ms, &err) != 0)
        fail_msg("render does not parse: line %zu col %zu: %s", err.line, err.col, err.msg);
}

/* Find the sample of family f for GPU g and check its exact label set. */
static void check_sample(const metric_set *ms, const gpusim *sim, size_t f, size_t gi,
                         bool with_node)
{
    const gpusim_gpu *g = gpusim_gpu_at(sim, gi);
    labelset want;
    labels_init(&want);
    labels_add(&want, LABEL_METRIC_NAME, families[f].name);
    labels_add(&want, "gpu_id", g->id);
    labels_add(&want, "gpu_model", gpusim_profile_of(sim)->model);
    labels_add(&want, "gpu_uuid", g->uuid);
    if (with_node)
        labels_add(&want, "node", g->node);
    labels_sort(&want);
    int found = 0;
    for (size_t i = 0; i < ms->n; i++) {
        if (!labels_equal(&ms->samples[i].labels, &want))
            continue;
        found++;
        assert_true(ms->samples[i].value == expected_value(g, f));
        assert_false(ms->samples[i].has_ts);
    }
    assert_int_equal(found, 1);
    labels_free(&want);
}

static void check_rendering(const gpusim *sim, bool with_node)
{
    metric_set ms;
    ebuf text;
    parse_rendered(sim, &ms, &text);
    assert_int_equal(ms.n, NFAMILIES * gpusim_count(sim));
    for (size_t f = 0; f < NFAMILIES; f++) {
        const metric_meta *m = metric_set_find_meta(&ms, families[f].name);
        assert_non_null(m);
        assert_int_equal(m->type, families[f].type);
        assert_non_null(m->help);
        assert_string_equal(m->help, families[f].help);
        char type_line[128];
        snprintf(type_line, sizeof type_line, "# TYPE %s %s\n", families[f].name,
                 metric_type_name(families[f].type));
        assert_non_null(strstr(text.data, type_line));
        for (size_t i = 0; i < gpusim_count(sim); i++)
            check_sample(&ms, sim, f, i, with_node);
    }
    metric_set_free(&ms);
    ebuf_free(&text);
}

static void test_render_one_node(void **state)
{
    gpusim *sim = make_sim("NVIDIA-A100-40GB", 8, 1, 42);
    check_rendering(sim, false);
    for (int k = 0; k < 5000; k++)
        gpusim_step(sim, 1.0);
    check_rendering(sim, false);
    ebuf text;
    ebuf_init(&text);
    gpusim_render(sim, &text);
    simcheck_promtool(text.data, text.len);
    assert_null(strstr(text.data, "node=")); /* one node: no node label */
    assert_non_null(strstr(text.data, "gpu_id=\"gpu7\""));
    assert_null(strstr(text.data, "gpu_id=\"gpu8\""));
    ebuf_free(&text);
    gpusim_free(sim);
}

static void test_render_several_nodes(void **state)
{
    gpusim *sim = make_sim("NVIDIA-A100-80GB", 2, 3, 42);
    for (int k = 0; k < 100; k++)
        gpusim_step(sim, 1.0);
    check_rendering(sim, true);
    ebuf text;
    ebuf_init(&text);
    gpusim_render(sim, &text);
    simcheck_promtool(text.data, text.len);
    assert_non_null(strstr(text.data, "node=\"node2\""));
    assert_non_null(strstr(text.data, "gpu_model=\"NVIDIA-A100-80GB\""));
    ebuf_free(&text);
    gpusim_free(sim);
}

static void test_collect_appends_to_a_set(void **state)
{
    gpusim *sim = make_sim("NVIDIA-A100-40GB", 8, 1, 1);
    metric_set ms;
    metric_set_init(&ms);
    gpusim_collect(sim, &ms);
    gpusim_collect(sim, &ms);
    assert_int_equal(ms.n, 2 * 6 * 8);
    assert_int_equal(ms.nmeta, 6);
    metric_set_free(&ms);
    gpusim_free(sim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_rejects_bad_config),
        cmocka_unit_test(test_labels_and_count),
        cmocka_unit_test(test_invariants_over_long_runs),
        cmocka_unit_test(test_statistics_over_1000_updates),
        cmocka_unit_test(test_invariants_hold_for_any_dt),
        cmocka_unit_test(test_other_profiles_respect_their_limits),
        cmocka_unit_test(test_same_seed_same_sequence),
        cmocka_unit_test(test_different_seeds_differ),
        cmocka_unit_test(test_gpu_stream_independent_of_gpu_count),
        cmocka_unit_test(test_nonpositive_dt_is_ignored),
        cmocka_unit_test(test_uuid_format_and_uniqueness),
        cmocka_unit_test(test_render_one_node),
        cmocka_unit_test(test_render_several_nodes),
        cmocka_unit_test(test_collect_appends_to_a_set),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
