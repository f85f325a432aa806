/*
 * gpusim_main.c — ember-gpusim: an 8-GPU A100 node (or K virtual nodes) on
 * /metrics, for running the stack without a GPU.
 *
 *   ember-gpusim --listen 127.0.0.1:9400 --gpus 8 --seed 1 --update-interval 1s
 *
 * Time is advanced lazily, on each scrape, not by a timer thread: the model
 * takes floor(elapsed / update-interval) fixed steps of update-interval each
 * since start, catching up whatever is due when /metrics is read.  The
 * readings at time t are therefore exactly those of a timer-driven run, the
 * sequence depends only on the seed and the step count (never on how often
 * anyone scrapes), and there is no thread to stop.  After a very long pause
 * between scrapes the oldest part of the backlog is folded into one large
 * step, which the model's dt-invariant dynamics handle gracefully.
 */
#include "common/etime.h"
#include "common/log.h"
#include "common/options.h"
#include "common/runtime.h"
#include "simulators/gpusim.h"
#include "simulators/simhttp.h"

#include <stdio.h>
#include <string.h>

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

/* The model plus the wall-clock bookkeeping of the lazy stepping. */
typedef struct sim_clock {
    gpusim *sim;
    int64_t start_ms;    /* monotonic */
    int64_t interval_ms; /* simulated time per step */
    uint64_t done;       /* steps' worth of time already simulated */
} sim_clock;

static void catch_up(sim_clock *c, int64_t now)
{
    uint64_t due = (uint64_t)((now - c->start_ms) / c->interval_ms);
    double dt = (double)c->interval_ms / 1000.0;
    uint64_t max_steps = MAX_CATCH_UP_GPU_STEPS / gpusim_count(c->sim) + 1;
    if (due - c->done > max_steps) {
        uint64_t folded = due - c->done - max_steps;
        gpusim_step(c->sim, (double)folded * dt);
        c->done += folded;
        log_debug("folded backlog into one step", "steps=%llu", (unsigned long long)folded);
    }
    for (; c->done < due; c->done++)
        gpusim_step(c->sim, dt);
}

/* Runs under the server's mutex, so the model is never touched concurrently. */
static void render_metrics(ebuf *out, void *ctx)
{
    sim_clock *c = ctx;
    catch_up(c, mono_ms());
    gpusim_render(c->sim, out);
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

static int serve(const settings *s, sim_clock *clock)
{
    char err[512], quoted[600], dur[32];
    runtime_block_stop_signals();
    simhttp sh;
    simhttp_init(&sh, render_metrics, clock);
    if (httpd_start(sh.server, s->listen, err, sizeof err) != 0) {
        log_error("cannot serve", "err=%s", log_quote(quoted, sizeof quoted, err));
        simhttp_free(&sh);
        return 1;
    }
    format_duration_ms(dur, sizeof dur, s->interval_ms);
    log_info("listening", "addr=%s port=%u model=%s nodes=%lld gpus=%lld seed=%lld interval=%s",
             s->listen, httpd_port(sh.server), s->model, (long long)s->nodes, (long long)s->gpus,
             (long long)s->seed, dur);
    runtime_wait_stop();
    simhttp_free(&sh);
    log_info("stopped", "addr=%s", s->listen);
    return 0;
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
    sim_clock clock = {NULL, mono_ms(), s.interval_ms, 0};
    gpusim_new(&cfg, &clock.sim); /* cannot fail: check_settings vetted cfg */
    rc = serve(&s, &clock);
    gpusim_free(clock.sim);
    opts_free(specs, nspecs);
    return rc;
}
