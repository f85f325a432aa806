/*
 * mlsim.c — the ML workload simulator's model (see mlsim.h).
 *
 * Each job slot, the inference service and the queue own separate PRNG
 * streams, so the trajectory of one does not depend on how many draws the
 * others made (e.g. on the request rate).
 */
#include "simulators/mlsim.h"

#include "common/mem.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* Stream numbers under the seed: one per job slot, then these. */
#define PART_INFERENCE 1000
#define PART_QUEUE 1001

typedef struct train_model {
    const char *name;
    double batch_secs; /* median time of one batch */
} train_model;

static const train_model train_models[] = {
    {"resnet50", 0.12}, {"bert-large", 0.35},   {"gpt2-medium", 0.5},
    {"vit-b16", 0.2},   {"llama-7b-lora", 1.2},
};
#define NTRAIN_MODELS (sizeof train_models / sizeof train_models[0])

static const char *const inference_models[MLSIM_INFERENCE_MODELS] = {"resnet50", "bert-base"};
static const double inference_median_secs[MLSIM_INFERENCE_MODELS] = {0.03, 0.06};

static const double latency_bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
static const double batch_bounds[] = {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
#define NBOUNDS(a) (sizeof(a) / sizeof((a)[0]))

#define EPOCHS_LO 8
#define EPOCHS_HI 30
#define EPOCH_SECS_LO 20.0
#define EPOCH_SECS_HI 60.0
#define LOSS_NOISE 0.02
#define ACCURACY_NOISE 0.005
#define BATCH_SIGMA 0.15
#define STRAGGLER_CHANCE 0.01
#define LATENCY_SIGMA 0.4
#define TAIL_CHANCE 0.02
#define TAIL_SCALE_SECS 0.2
#define TAIL_ALPHA 1.5
#define TAIL_CAP_SECS 20.0
#define QUEUE_BASE 4.0
#define QUEUE_SD 2.0
#define QUEUE_TAU_SECS 60.0
#define BURST_MEAN_GAP_SECS 200.0
#define BURST_LO 20.0
#define BURST_HI 60.0
#define BURST_DRAIN_TAU_SECS 30.0

/* A job's hidden parameters next to what it shows. */
typedef struct job_slot {
    mlsim_job pub;
    simrng rng;
    const train_model *model;
    double epoch_secs;
    double rate_epochs; /* k of exp(-e / k) */
    double loss_start, loss_floor;
    double acc_start, acc_top;
    unsigned ckpt_every; /* epochs between checkpoints */
} job_slot;

struct mlsim {
    mlsim_config cfg;
    job_slot *slots;
    uint64_t started;
    simrng inference_rng, queue_rng;
    simhist latency[MLSIM_INFERENCE_MODELS];
    double queue_base, burst;
};

/* ---- training jobs ---- */

static void learning_point(job_slot *j)
{
    double g = exp(-j->pub.epoch / j->rate_epochs);
    double loss = j->loss_floor + (j->loss_start - j->loss_floor) * g;
    j->pub.loss = loss * (1.0 + LOSS_NOISE * simrng_normal(&j->rng));
    double acc = j->acc_top - (j->acc_top - j->acc_start) * g;
    acc += ACCURACY_NOISE * simrng_normal(&j->rng);
    j->pub.accuracy = acc < 0 ? 0 : acc > 1 ? 1 : acc;
}

static void start_job(mlsim *sim, job_slot *j)
{
    simrng *r = &j->rng;
    j->model = &train_models[simrng_below(r, NTRAIN_MODELS)];
    snprintf(j->pub.name, sizeof j->pub.name, "job-%04llu", (unsigned long long)++sim->started);
    j->pub.model = j->model->name;
    j->pub.epochs = EPOCHS_LO + (unsigned)simrng_below(r, EPOCHS_HI - EPOCHS_LO + 1);
    j->pub.epoch = 0;
    j->pub.checkpoints = 0;
    j->epoch_secs = simrng_range(r, EPOCH_SECS_LO, EPOCH_SECS_HI);
    j->rate_epochs = j->pub.epochs * simrng_range(r, 0.25, 0.34);
    j->loss_start = simrng_range(r, 2.0, 4.0); /* ~ln(classes) at random init */
    j->loss_floor = simrng_range(r, 0.05, 0.4);
    j->acc_start = simrng_range(r, 0.02, 0.12);
    j->acc_top = simrng_range(r, 0.80, 0.97);
    j->ckpt_every = 1 + (unsigned)simrng_below(r, 4);
    simhist_init(&j->pub.batch_time, batch_bounds, NBOUNDS(batch_bounds));
    learning_point(j);
}

static void run_batches(job_slot *j, double dt)
{
    uint64_t n = simrng_poisson(&j->rng, dt / j->model->batch_secs);
    if (n > MLSIM_MAX_OBS_PER_STEP)
        n = MLSIM_MAX_OBS_PER_STEP;
    double mu = log(j->model->batch_secs);
    for (uint64_t i = 0; i < n; i++) {
        double t = simrng_lognormal(&j->rng, mu, BATCH_SIGMA);
        if (simrng_chance(&j->rng, STRAGGLER_CHANCE)) /* data-loader stall, preemption */
            t *= simrng_range(&j->rng, 3.0, 8.0);
        simhist_observe(&j->pub.batch_time, t);
    }
}

static void step_job(mlsim *sim, job_slot *j, double dt)
{
    double before = j->pub.epoch;
    run_batches(j, dt);
    j->pub.epoch = fmin(before + dt / j->epoch_secs, (double)j->pub.epochs);
    /* One checkpoint per ckpt_every-epoch boundary crossed. */
    unsigned long long b0 = (unsigned long long)(before / j->ckpt_every);
    unsigned long long b1 = (unsigned long long)(j->pub.epoch / j->ckpt_every);
    j->pub.checkpoints += b1 - b0;
    if (j->pub.epoch >= (double)j->pub.epochs)
        start_job(sim, j);
    else
        learning_point(j);
}

/* ---- inference and queue ---- */

static double inference_latency(simrng *r, size_t model)
{
    if (simrng_chance(r, TAIL_CHANCE)) {
        /* Pareto tail: cold caches, GC pauses, retries. */
        double x = TAIL_SCALE_SECS / pow(1.0 - simrng_uniform(r), 1.0 / TAIL_ALPHA);
        return fmin(x, TAIL_CAP_SECS);
    }
    return simrng_lognormal(r, log(inference_median_secs[model]), LATENCY_SIGMA);
}

static void step_inference(mlsim *sim, double dt)
{
    for (size_t m = 0; m < MLSIM_INFERENCE_MODELS; m++) {
        uint64_t n = simrng_poisson(&sim->inference_rng, sim->cfg.inference_rps * dt);
        if (n > MLSIM_MAX_OBS_PER_STEP)
            n = MLSIM_MAX_OBS_PER_STEP;
        for (uint64_t i = 0; i < n; i++)
            simhist_observe(&sim->latency[m], inference_latency(&sim->inference_rng, m));
    }
}

static void step_queue(mlsim *sim, double dt)
{
    simrng *r = &sim->queue_rng;
    double decay = exp(-dt / QUEUE_TAU_SECS); /* exact Ornstein-Uhlenbeck step */
    sim->queue_base = QUEUE_BASE + (sim->queue_base - QUEUE_BASE) * decay +
                      QUEUE_SD * sqrt(1.0 - decay * decay) * simrng_normal(r);
    sim->burst *= exp(-dt / BURST_DRAIN_TAU_SECS);
    if (simrng_chance(r, 1.0 - exp(-dt / BURST_MEAN_GAP_SECS)))
        sim->burst += simrng_range(r, BURST_LO, BURST_HI);
}

/* ---- lifecycle ---- */

int mlsim_new(const mlsim_config *cfg, mlsim **out)
{
    *out = NULL;
    if (cfg->jobs < 1 || cfg->jobs > MLSIM_MAX_JOBS || !(cfg->inference_rps >= 0))
        return MLSIM_ECONFIG;
    mlsim *sim = em_calloc(1, sizeof *sim);
    sim->cfg = *cfg;
    sim->slots = em_calloc(cfg->jobs, sizeof *sim->slots);
    for (unsigned i = 0; i < cfg->jobs; i++) {
        simrng_seed_part(&sim->slots[i].rng, cfg->seed, i);
        start_job(sim, &sim->slots[i]);
        /* Start part-way through, so a fresh simulator shows jobs at
         * different stages rather than all at epoch 0. */
        job_slot *j = &sim->slots[i];
        j->pub.epoch = simrng_range(&j->rng, 0, 0.8) * j->pub.epochs;
        j->pub.checkpoints = (uint64_t)(j->pub.epoch / j->ckpt_every);
        learning_point(j);
    }
    simrng_seed_part(&sim->inference_rng, cfg->seed, PART_INFERENCE);
    simrng_seed_part(&sim->queue_rng, cfg->seed, PART_QUEUE);
    for (size_t m = 0; m < MLSIM_INFERENCE_MODELS; m++)
        simhist_init(&sim->latency[m], latency_bounds, NBOUNDS(latency_bounds));
    sim->queue_base = QUEUE_BASE;
    *out = sim;
    return MLSIM_OK;
}

void mlsim_free(mlsim *sim)
{
    if (!sim)
        return;
    free(sim->slots);
    free(sim);
}

void mlsim_step(mlsim *sim, double dt_s)
{
    if (!(dt_s > 0))
        return;
    for (unsigned i = 0; i < sim->cfg.jobs; i++)
        step_job(sim, &sim->slots[i], dt_s);
    step_inference(sim, dt_s);
    step_queue(sim, dt_s);
}

size_t mlsim_job_count(const mlsim *sim)
{
    return sim->cfg.jobs;
}

const mlsim_job *mlsim_job_at(const mlsim *sim, size_t i)
{
    return i < sim->cfg.jobs ? &sim->slots[i].pub : NULL;
}

uint64_t mlsim_jobs_started(const mlsim *sim)
{
    return sim->started;
}

double mlsim_queue_depth(const mlsim *sim)
{
    double d = floor(sim->queue_base + sim->burst + 0.5);
    return d > 0 ? d : 0;
}

const char *mlsim_inference_model(size_t i)
{
    return i < MLSIM_INFERENCE_MODELS ? inference_models[i] : NULL;
}

const simhist *mlsim_inference_latency(const mlsim *sim, size_t i)
{
    return i < MLSIM_INFERENCE_MODELS ? &sim->latency[i] : NULL;
}

/* ---- exposition ---- */

static void collect_jobs(const mlsim *sim, metric_set *ms)
{
    metric_set_meta(ms, "training_loss", METRIC_GAUGE, "Training loss of the job's latest step.");
    metric_set_meta(ms, "training_accuracy", METRIC_GAUGE,
                    "Training accuracy of the job's latest step (0-1).");
    metric_set_meta(ms, "training_epoch", METRIC_GAUGE,
                    "Epochs the job has completed, fractional.");
    metric_set_meta(ms, "checkpoint_saves_total", METRIC_COUNTER, "Checkpoints the job has saved.");
    metric_set_meta(ms, "batch_processing_time_seconds", METRIC_HISTOGRAM,
                    "Time to process one training batch.");
    for (unsigned i = 0; i < sim->cfg.jobs; i++) {
        const mlsim_job *j = &sim->slots[i].pub;
        metric_set_addl(ms, "training_loss", j->loss, "job", j->name, "model", j->model, NULL);
        metric_set_addl(ms, "training_accuracy", j->accuracy, "job", j->name, "model", j->model,
                        NULL);
        metric_set_addl(ms, "training_epoch", j->epoch, "job", j->name, "model", j->model, NULL);
        metric_set_addl(ms, "checkpoint_saves_total", (double)j->checkpoints, "job", j->name,
                        "model", j->model, NULL);
        labelset base;
        labels_init(&base);
        labels_add(&base, "job", j->name);
        labels_add(&base, "model", j->model);
        simhist_collect(&j->batch_time, ms, "batch_processing_time_seconds", &base);
        labels_free(&base);
    }
}

static void collect_inference(const mlsim *sim, metric_set *ms)
{
    metric_set_meta(ms, "inference_latency_seconds", METRIC_HISTOGRAM,
                    "Latency of inference requests.");
    for (size_t m = 0; m < MLSIM_INFERENCE_MODELS; m++) {
        labelset base;
        labels_init(&base);
        labels_add(&base, "model", inference_models[m]);
        simhist_collect(&sim->latency[m], ms, "inference_latency_seconds", &base);
        labels_free(&base);
    }
    metric_set_meta(ms, "ml_job_queue_depth", METRIC_GAUGE, "Jobs waiting in the scheduler queue.");
    metric_set_addl(ms, "ml_job_queue_depth", mlsim_queue_depth(sim), NULL);
}

void mlsim_collect(const mlsim *sim, metric_set *ms)
{
    collect_inference(sim, ms);
    collect_jobs(sim, ms);
}

void mlsim_render(const mlsim *sim, ebuf *out)
{
    metric_set ms;
    metric_set_init(&ms);
    mlsim_collect(sim, &ms);
    expfmt_write(out, &ms);
    metric_set_free(&ms);
}
