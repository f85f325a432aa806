/*
 * gpusim_main.c — ember-gpusim: an 8-GPU A100 node (or K virtual nodes) on
 * /metrics, for running the stack without a GPU.
 *
 *   ember-gpusim --listen 127.0.0.1:9400 --gpus 8 --seed 1 --update-interval 1s
 *
 * The model advances lazily, on each scrape (simclock.h): the readings
 * depend only on the seed and the time since start.
 */
#include "common/etime.h"
#include "common/log.h"
#include "common/options.h"
#include "common/runtime.h"
#include "simulators/gpusim.h"
#include "simulators/simclock.h"
#include "simulators/simhttp.h"

#include <stdio.h>

/* Upper bound on GPU-steps one scrape may spend catching up (~0.1 s). */
#define MAX_CATCH_UP_GPU_STEPS 2000000ULL

typedef struct settings {
    char *listen;
    char *model;
    char *log_level;
    int64_t gpus;
    int64_t nodes;
    int64_t seed;
    int64_t interval_ms;
} settings;

static void step_model(void *model, double dt_s)
{
    gpusim_step(model, dt_s);
}

/* Runs under the server's mutex, so the model is never touched concurrently. */
static void render_metrics(ebuf *out, void *ctx)
{
    simclock *c = ctx;
    simclock_catch_up(c, mono_ms());
    gpusim_render(c->model, out);
}

static int check_settings(const settings *s, char *err, size_t errlen)
{
    if (s->gpus < 1 || s->gpus > GPUSIM_MAX_GPUS)
        snprintf(err, errlen, "--gpus: must be 1..%d", GPUSIM_MAX_GPUS);
    else if (s->nodes < 1 || s->nodes > GPUSIM_MAX_NODES)
        snprintf(err, errlen, "--nodes: must be 1..%d", GPUSIM_MAX_NODES);
    else if (s->interval_ms < 1)
        snprintf(err, errlen, "--update-interval: must be at least 1ms");
    else if (!gpusim_profile_find(s->model))
        snprintf(err, errlen, "--model: unknown \"%s\" (known: %s)", s->model,
                 gpusim_profile_names());
    else
        return 0;
    return -1;
}

static int serve(const settings *s, gpusim *sim)
{
    char dur[32];
    simclock clock;
    simclock_init(&clock, step_model, sim, s->interval_ms,
                  MAX_CATCH_UP_GPU_STEPS / gpusim_count(sim) + 1);
    simhttp sh;
    simhttp_init(&sh, render_metrics, &clock);
    format_duration_ms(dur, sizeof dur, s->interval_ms);
    log_info("simulating", "model=%s nodes=%lld gpus=%lld seed=%lld interval=%s", s->model,
             (long long)s->nodes, (long long)s->gpus, (long long)s->seed, dur);
    return simhttp_run(&sh, s->listen);
}

int main(int argc, char **argv)
{
    settings s = {0};
    opt_spec specs[] = {
        {"listen", OPT_STRING, &s.listen, "127.0.0.1:9400", "address to serve /metrics on",
         "HOST:PORT"},
        {"gpus", OPT_INT, &s.gpus, "8", "GPUs per node", "N"},
        {"nodes", OPT_INT, &s.nodes, "1", "virtual nodes; more than 1 adds a node label", "K"},
        {"seed", OPT_INT, &s.seed, "1", "PRNG seed: the same seed gives the same readings", "N"},
        {"update-interval", OPT_DURATION, &s.interval_ms, "1s", "simulated time per model step",
         "DUR"},
        {"model", OPT_STRING, &s.model, "NVIDIA-A100-40GB", "GPU model (label and limits)", "NAME"},
        {"log.level", OPT_STRING, &s.log_level, "info", "debug, info, warn or error", "LEVEL"},
    };
    size_t nspecs = sizeof specs / sizeof specs[0];
    opt_program prog = {"ember-gpusim", EMBER_VERSION, "Simulated NVIDIA GPUs on /metrics."};
    int rc = runtime_start(&prog, specs, nspecs, argc, argv);
    if (rc != RUNTIME_CONTINUE)
        return rc;
    char err[512];
    if (check_settings(&s, err, sizeof err) != 0) {
        fprintf(stderr, "ember-gpusim: %s\n", err);
        opts_free(specs, nspecs);
        return 2;
    }
    gpusim_config cfg = {s.model, (unsigned)s.gpus, (unsigned)s.nodes, (uint64_t)s.seed};
    gpusim *sim = NULL;
    gpusim_new(&cfg, &sim); /* cannot fail: check_settings vetted cfg */
    rc = serve(&s, sim);
    gpusim_free(sim);
    opts_free(specs, nspecs);
    return rc;
}
