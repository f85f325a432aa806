/*
 * mlsim_main.c — ember-mlsim: an ML platform on /metrics (training jobs
 * with learning curves, an inference service, a job queue with bursts).
 *
 *   ember-mlsim --listen 127.0.0.1:9500 --jobs 3 --seed 1 --update-interval 1s
 *
 * The model advances lazily, on each scrape (simclock.h): the readings
 * depend only on the seed and the time since start.
 */
#include "common/etime.h"
#include "common/log.h"
#include "common/options.h"
#include "common/runtime.h"
#include "simulators/mlsim.h"
#include "simulators/simclock.h"
#include "simulators/simhttp.h"

#include <stdio.h>

/* Steps one scrape may take catching up before folding the rest into one. */
#define MAX_CATCH_UP_STEPS 20000ULL
#define MAX_RPS 10000

typedef struct settings {
    char *listen;
    char *log_level;
    int64_t jobs;
    int64_t rps;
    int64_t seed;
    int64_t interval_ms;
} settings;

static void step_model(void *model, double dt_s)
{
    mlsim_step(model, dt_s);
}

/* Runs under the server's mutex, so the model is never touched concurrently. */
static void render_metrics(ebuf *out, void *ctx)
{
    simclock *c = ctx;
    simclock_catch_up(c, mono_ms());
    mlsim_render(c->model, out);
}

static int check_settings(const settings *s, char *err, size_t errlen)
{
    if (s->jobs < 1 || s->jobs > MLSIM_MAX_JOBS)
        snprintf(err, errlen, "--jobs: must be 1..%d", MLSIM_MAX_JOBS);
    else if (s->rps < 0 || s->rps > MAX_RPS)
        snprintf(err, errlen, "--inference-rps: must be 0..%d", MAX_RPS);
    else if (s->interval_ms < 1)
        snprintf(err, errlen, "--update-interval: must be at least 1ms");
    else
        return 0;
    return -1;
}

int main(int argc, char **argv)
{
    settings s = {0};
    opt_spec specs[] = {
        {"listen", OPT_STRING, &s.listen, "127.0.0.1:9500", "address to serve /metrics on",
         "HOST:PORT"},
        {"jobs", OPT_INT, &s.jobs, "3", "concurrent training jobs", "N"},
        {"inference-rps", OPT_INT, &s.rps, "20", "inference requests per second per model", "N"},
        {"seed", OPT_INT, &s.seed, "1", "PRNG seed: the same seed gives the same readings", "N"},
        {"update-interval", OPT_DURATION, &s.interval_ms, "1s", "simulated time per model step",
         "DUR"},
        {"log.level", OPT_STRING, &s.log_level, "info", "debug, info, warn or error", "LEVEL"},
    };
    size_t nspecs = sizeof specs / sizeof specs[0];
    opt_program prog = {"ember-mlsim", EMBER_VERSION,
                        "Simulated ML training and inference metrics on /metrics."};
    int rc = runtime_start(&prog, specs, nspecs, argc, argv);
    if (rc != RUNTIME_CONTINUE)
        return rc;
    char err[512], dur[32];
    if (check_settings(&s, err, sizeof err) != 0) {
        fprintf(stderr, "ember-mlsim: %s\n", err);
        opts_free(specs, nspecs);
        return 2;
    }
    mlsim_config cfg = {(unsigned)s.jobs, (double)s.rps, (uint64_t)s.seed};
    mlsim *sim = NULL;
    mlsim_new(&cfg, &sim); /* cannot fail: check_settings vetted cfg */
    simclock clock;
    simclock_init(&clock, step_model, sim, s.interval_ms, MAX_CATCH_UP_STEPS);
    simhttp sh;
    simhttp_init(&sh, render_metrics, &clock);
    format_duration_ms(dur, sizeof dur, s.interval_ms);
    log_info("simulating", "jobs=%lld inference_rps=%lld seed=%lld interval=%s", (long long)s.jobs,
             (long long)s.rps, (long long)s.seed, dur);
    rc = simhttp_run(&sh, s.listen);
    mlsim_free(sim);
    opts_free(specs, nspecs);
    return rc;
}
