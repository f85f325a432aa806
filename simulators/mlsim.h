/*
 * mlsim.h — the ML workload simulator's model: training jobs that learn,
 * an inference service with a long latency tail, and a job queue with
 * bursts.  Pure like gpusim.h: mlsim_step(sim, dt) advances dt seconds of
 * simulated time from seeded streams only, so a seed and a sequence of dt
 * values always give the same readings.
 *
 *   training jobs  `jobs` slots, each running one job (job="job-0001", a
 *                  model) for 8-30 epochs of 20-60 s.  By epoch e, with
 *                  g = exp(-e / k), k a quarter to a third of the epochs:
 *                    loss     = floor + (start - floor) * g, times 1 + 2 % noise
 *                    accuracy = top - (top - start) * g, plus 0.5 % noise
 *                  so loss falls and accuracy rises over the job; a finished
 *                  job is replaced at once by a new one (new job label).
 *                  A checkpoint is saved every 1-4 epochs.  Batches arrive
 *                  as a Poisson stream, each taking a model-specific time
 *                  (lognormal, with 1 % straggler batches 3-8x slower).
 *   inference      two served models, `inference_rps` requests per second
 *                  each; latency lognormal around the model's median with a
 *                  2 % Pareto tail (alpha 1.5) capped at 20 s.
 *   queue depth    a mean-reverting base of ~4 jobs plus bursts (every
 *                  ~200 s on average, 20-60 jobs) that drain in ~30 s.
 *
 * One very long step (a catch-up after a pause) records at most
 * MLSIM_MAX_OBS_PER_STEP observations per histogram.
 */
#ifndef EMBER_SIMULATORS_MLSIM_H
#define EMBER_SIMULATORS_MLSIM_H

#include "common/buf.h"
#include "common/expfmt.h"
#include "simulators/simhist.h"
#include "simulators/simrng.h"

#include <stddef.h>
#include <stdint.h>

#define MLSIM_MAX_JOBS 64
#define MLSIM_INFERENCE_MODELS 2
#define MLSIM_MAX_OBS_PER_STEP 20000

typedef struct mlsim_config {
    unsigned jobs;        /* concurrent training jobs, 1..MLSIM_MAX_JOBS */
    double inference_rps; /* per served model, >= 0 */
    uint64_t seed;
} mlsim_config;

/* One training job as it reads now. */
typedef struct mlsim_job {
    char name[24];     /* label job="job-0001" */
    const char *model; /* label model= */
    unsigned epochs;   /* planned */
    double epoch;      /* progress in epochs, 0..epochs */
    double loss;
    double accuracy; /* 0..1 */
    uint64_t checkpoints;
    simhist batch_time; /* batch_processing_time_seconds */
} mlsim_job;

typedef struct mlsim mlsim;

enum { MLSIM_OK = 0, MLSIM_ECONFIG = -1 };

/* Returns MLSIM_OK and *out, or MLSIM_ECONFIG with *out = NULL. */
int mlsim_new(const mlsim_config *cfg, mlsim **out);
void mlsim_free(mlsim *sim);
/* Advance by dt_s seconds of simulated time; dt_s <= 0 or NaN does nothing. */
void mlsim_step(mlsim *sim, double dt_s);

size_t mlsim_job_count(const mlsim *sim);
const mlsim_job *mlsim_job_at(const mlsim *sim, size_t i);
/* Jobs started so far (the initial ones included). */
uint64_t mlsim_jobs_started(const mlsim *sim);
double mlsim_queue_depth(const mlsim *sim);
/* Served model i's name and latency histogram, i < MLSIM_INFERENCE_MODELS. */
const char *mlsim_inference_model(size_t i);
const simhist *mlsim_inference_latency(const mlsim *sim, size_t i);

/* Add every family (HELP, TYPE) and its samples. */
void mlsim_collect(const mlsim *sim, metric_set *ms);
void mlsim_render(const mlsim *sim, ebuf *out);

#endif
