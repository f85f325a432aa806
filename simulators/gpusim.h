/*
 * gpusim.h — the GPU simulator's model: a node (or several virtual nodes) of
 * GPUs whose readings evolve like a real training box, with no I/O at all.
 *
 * The model is pure: gpusim_step(sim, dt) advances every GPU by dt seconds of
 * simulated time using only the GPU's own seeded PRNG, so a given seed and a
 * given sequence of dt values always produce the same readings, on any
 * machine with the same libm.  Wall clocks, threads and HTTP live in
 * gpusim_main.c and simhttp.c.
 *
 * Each GPU runs a small job cycle — IDLE -> RAMP -> PLATEAU (with short DIPs
 * for data-loader stalls and checkpoints) -> IDLE — and the readings follow:
 *   utilization  first-order approach to the phase's target plus a random
 *                walk, clamped to [20, 90] %;
 *   temperature  first-order lag (tau 6 s, a die's thermal response) toward
 *                35 + 0.5 * util °C plus a per-GPU cooling offset (0-6 °C,
 *                slot position in the chassis); jobs (plateaus of 2-10 min)
 *                dip every ~2 min, so over any 1,000 updates temperature
 *                tracks utilization with Pearson r > 0.8 on every GPU;
 *   SM clock     from the idle clock at 15 % load up to boost at 35 %, in 15 MHz steps,
 *                minus 60 MHz per °C above the throttle threshold;
 *   power        idle + (TDP - idle) * (util/100)^1.4, scaled down with the
 *                clock when throttling, plus noise, clamped to [idle, TDP];
 *   memory       steps up while a job ramps, drifts in caching-allocator steps
 *                on the plateau, drops to a small residue when the job ends;
 *   ECC errors   +1 with probability 0.001 per GPU per step (a counter).
 */
#ifndef EMBER_SIMULATORS_GPUSIM_H
#define EMBER_SIMULATORS_GPUSIM_H

#include "common/buf.h"
#include "common/expfmt.h"
#include "simulators/simrng.h"

#include <stddef.h>
#include <stdint.h>

/* ---- GPU models ---- */

typedef struct gpusim_profile {
    const char *model;     /* label value, e.g. "NVIDIA-A100-40GB" */
    uint64_t memory_bytes; /* framebuffer size */
    double idle_watts;
    double tdp_watts;
    double idle_clock_mhz;
    double boost_clock_mhz;
    double throttle_celsius; /* SM clock drops above this */
} gpusim_profile;

/* The profile for a model name, or NULL if unknown. */
const gpusim_profile *gpusim_profile_find(const char *model);
/* Known model names, comma-separated, for error messages. */
const char *gpusim_profile_names(void);

#define GPUSIM_UTIL_MIN 20.0
#define GPUSIM_UTIL_MAX 90.0
#define GPUSIM_ECC_PROBABILITY 0.001 /* per GPU per step */

/* ---- the simulation ---- */

typedef struct gpusim_config {
    const char *model; /* must name a known profile */
    unsigned gpus;     /* per node, 1..GPUSIM_MAX_GPUS */
    unsigned nodes;    /* 1..GPUSIM_MAX_NODES; > 1 adds a "node" label */
    uint64_t seed;
} gpusim_config;

#define GPUSIM_MAX_GPUS 64
#define GPUSIM_MAX_NODES 1024

enum { GPUSIM_OK = 0, GPUSIM_EMODEL = -1, GPUSIM_ECOUNT = -2 };
const char *gpusim_strerror(int rc);

/* "GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" plus NUL */
#define GPUSIM_UUID_LEN 40

/* One GPU as it reads right now (the public part of its state). */
typedef struct gpusim_gpu {
    char id[16];   /* "gpu0" */
    char node[16]; /* "node0" */
    char uuid[GPUSIM_UUID_LEN + 1];
    double util_percent;
    double temp_celsius;
    double power_watts;
    double sm_clock_mhz;
    uint64_t memory_bytes;
    uint64_t ecc_errors;
} gpusim_gpu;

typedef struct gpusim gpusim;

/* Returns GPUSIM_OK and *out, or an error code with *out = NULL. */
int gpusim_new(const gpusim_config *cfg, gpusim **out);
void gpusim_free(gpusim *sim);
/* Advance every GPU by dt_s seconds of simulated time (dt_s > 0). */
void gpusim_step(gpusim *sim, double dt_s);
/* Steps taken so far. */
uint64_t gpusim_steps(const gpusim *sim);
/* nodes * gpus; GPU i is gpu (i % gpus) of node (i / gpus). */
size_t gpusim_count(const gpusim *sim);
const gpusim_gpu *gpusim_gpu_at(const gpusim *sim, size_t i);
const gpusim_profile *gpusim_profile_of(const gpusim *sim);

/* Deterministic NVIDIA-style UUID of one GPU; out holds GPUSIM_UUID_LEN + 1. */
void gpusim_uuid(uint64_t seed, unsigned node, unsigned gpu, char *out);

/*
 * Add the six GPU metric families (HELP, TYPE) and one sample per GPU each,
 * labelled gpu_id, gpu_model, gpu_uuid and, with nodes > 1, node.
 */
void gpusim_collect(const gpusim *sim, metric_set *ms);
/* gpusim_collect written as exposition text, appended to out. */
void gpusim_render(const gpusim *sim, ebuf *out);

#endif
