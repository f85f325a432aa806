/*
 * gpusim.c — the GPU simulator's model (see gpusim.h for the behaviour).
 *
 * Design notes:
 *  - Every GPU owns a xoshiro256** stream seeded from (seed, node, gpu), so a
 *    GPU's trajectory does not depend on how many other GPUs are simulated.
 *  - Continuous quantities use exact discretisations (exp(-dt/tau) lags, an
 *    Ornstein-Uhlenbeck step for utilization noise), so the statistics do not
 *    change with the update interval; only the ECC injection is per step, as
 *    specified (probability 0.001 per GPU per update).
 *  - Internal state is kept exact; the public readings are rounded the way
 *    NVML reports them (integer % and °C, 15 MHz clock steps, mW, MiB).
 */
#include "simulators/gpusim.h"

#include "common/mem.h"

#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

/* ---- profiles ---- */

#define GIB (1024.0 * 1024.0 * 1024.0)
#define MIB (1024.0 * 1024.0)

static const gpusim_profile profiles[] = {
    {"NVIDIA-A100-40GB", (uint64_t)(40 * GIB), 50, 400, 210, 1410, 83},
    {"NVIDIA-A100-80GB", (uint64_t)(80 * GIB), 50, 400, 210, 1410, 83},
    {"NVIDIA-H100-80GB", (uint64_t)(80 * GIB), 70, 700, 345, 1980, 85},
};
#define NPROFILES (sizeof profiles / sizeof profiles[0])

const gpusim_profile *gpusim_profile_find(const char *model)
{
    for (size_t i = 0; i < NPROFILES; i++)
        if (model && strcmp(profiles[i].model, model) == 0)
            return &profiles[i];
    return NULL;
}

const char *gpusim_profile_names(void)
{
    return "NVIDIA-A100-40GB, NVIDIA-A100-80GB, NVIDIA-H100-80GB";
}

const char *gpusim_strerror(int rc)
{
    switch (rc) {
    case GPUSIM_OK: return "ok";
    case GPUSIM_EMODEL: return "unknown GPU model";
    case GPUSIM_ECOUNT: return "GPU or node count out of range";
    default: return "unknown error";
    }
}

/* ---- model constants (seconds, %, °C) ---- */

#define IDLE_UTIL_LO 20.0
#define IDLE_UTIL_HI 28.0
#define IDLE_SECS_LO 20.0
#define IDLE_SECS_HI 180.0
#define JOB_UTIL_LO 60.0
#define JOB_UTIL_HI 90.0
#define RAMP_SECS_LO 10.0
#define RAMP_SECS_HI 45.0
#define PLATEAU_SECS_LO 120.0
#define PLATEAU_SECS_HI 600.0
#define DIP_MEAN_GAP_SECS 120.0
#define DIP_SECS_LO 5.0
#define DIP_SECS_HI 30.0
#define DIP_UTIL_LO 20.0
#define DIP_UTIL_HI 35.0
#define UTIL_NOISE_SD 1.0 /* stationary spread of the random walk, % */
#define UTIL_TAU_SECS 5.0
#define DIP_TAU_SECS 2.0
#define AMBIENT_CELSIUS 35.0
#define CELSIUS_PER_UTIL 0.5
#define COOLING_OFFSET_MAX 6.0
#define THERMAL_TAU_SECS 6.0 /* short enough that dips show in the temperature */
#define TEMP_NOISE_SD 0.2
#define CLOCK_STEP_MHZ 15.0
#define THROTTLE_MHZ_PER_CELSIUS 60.0
#define POWER_EXPONENT 1.4
#define POWER_NOISE_SD 3.0
#define MEM_DRIFT_MEAN_GAP_SECS 60.0
#define MEM_RESIDUE_MAX (512 * MIB)

typedef enum job_phase { PHASE_IDLE, PHASE_RAMP, PHASE_PLATEAU } job_phase;

typedef struct gpu_sim {
    gpusim_gpu pub; /* what readers see */
    simrng rng;
    job_phase phase;
    double phase_left; /* seconds left in the phase (paused during a dip) */
    double ramp_secs;  /* length of the current ramp */
    double dip_left;   /* > 0 while in a dip */
    double target;     /* utilization the walk is pulled toward */
    double job_util;   /* plateau level of the current job */
    double util;       /* exact utilization, % */
    double temp;       /* exact temperature, °C */
    double cooling;    /* this slot's extra °C */
    double mem;        /* bytes */
    double job_mem;    /* bytes the current job settles at */
    double residue;    /* bytes left behind between jobs */
} gpu_sim;

struct gpusim {
    const gpusim_profile *prof;
    gpusim_config cfg;
    gpu_sim *gpus;
    size_t n;
    uint64_t steps;
};

static double clamp(double v, double lo, double hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

static double round_to(double v, double unit)
{
    return floor(v / unit + 0.5) * unit;
}

/* Probability that a Poisson event with the given mean gap happens in dt. */
static double chance_within(double dt, double mean_gap)
{
    return 1.0 - exp(-dt / mean_gap);
}

/* ---- job phases ---- */

static void enter_idle(gpu_sim *g)
{
    g->phase = PHASE_IDLE;
    g->phase_left = simrng_range(&g->rng, IDLE_SECS_LO, IDLE_SECS_HI);
    g->target = simrng_range(&g->rng, IDLE_UTIL_LO, IDLE_UTIL_HI);
    g->dip_left = 0;
    g->residue = round_to(simrng_range(&g->rng, 0, MEM_RESIDUE_MAX), MIB);
    g->mem = g->residue;
}

static void start_job(gpu_sim *g, const gpusim_profile *p)
{
    g->phase = PHASE_RAMP;
    g->ramp_secs = simrng_range(&g->rng, RAMP_SECS_LO, RAMP_SECS_HI);
    g->phase_left = g->ramp_secs;
    g->job_util = simrng_range(&g->rng, JOB_UTIL_LO, JOB_UTIL_HI);
    g->target = g->job_util;
    g->job_mem = round_to(simrng_range(&g->rng, 0.35, 0.95) * (double)p->memory_bytes, MIB);
}

static void enter_plateau(gpu_sim *g)
{
    g->phase = PHASE_PLATEAU;
    g->phase_left = simrng_range(&g->rng, PLATEAU_SECS_LO, PLATEAU_SECS_HI);
    g->target = g->job_util;
    g->mem = g->job_mem;
}

static void start_dip(gpu_sim *g)
{
    g->dip_left = simrng_range(&g->rng, DIP_SECS_LO, DIP_SECS_HI);
    g->target = simrng_range(&g->rng, DIP_UTIL_LO, DIP_UTIL_HI);
}

/* A plateau's clock stops while it dips, so a dip never shortens the job. */
static void advance_plateau(gpu_sim *g, double dt)
{
    if (g->dip_left > 0) {
        g->dip_left -= dt;
        if (g->dip_left <= 0)
            g->target = g->job_util;
        return;
    }
    g->phase_left -= dt;
    if (g->phase_left <= 0)
        enter_idle(g);
    else if (simrng_uniform(&g->rng) < chance_within(dt, DIP_MEAN_GAP_SECS))
        start_dip(g);
}

static void advance_phase(gpu_sim *g, const gpusim_profile *p, double dt)
{
    switch (g->phase) {
    case PHASE_IDLE:
        g->phase_left -= dt;
        if (g->phase_left <= 0)
            start_job(g, p);
        break;
    case PHASE_RAMP:
        g->phase_left -= dt;
        if (g->phase_left <= 0)
            enter_plateau(g);
        break;
    case PHASE_PLATEAU: advance_plateau(g, dt); break;
    }
}

/* ---- readings ---- */

/* Exact Ornstein-Uhlenbeck step toward the target: dt-invariant statistics. */
static void step_utilization(gpu_sim *g, double dt)
{
    double tau = g->dip_left > 0 ? DIP_TAU_SECS : UTIL_TAU_SECS;
    if (g->phase == PHASE_RAMP)
        tau = g->ramp_secs / 3.0; /* ~95 % of the way by the ramp's end */
    double decay = exp(-dt / tau);
    double sd = UTIL_NOISE_SD * sqrt(1.0 - decay * decay);
    g->util = g->target + (g->util - g->target) * decay + sd * simrng_normal(&g->rng);
    g->util = clamp(g->util, GPUSIM_UTIL_MIN, GPUSIM_UTIL_MAX);
}

/* Memory moves in steps: a ramping job loads weights, then optimizer state,
 * then activations (thirds); a running one grows or shrinks its cache. */
static void step_memory(gpu_sim *g, const gpusim_profile *p, double dt)
{
    double total = (double)p->memory_bytes;
    if (g->phase == PHASE_RAMP) {
        double done = 1.0 - g->phase_left / g->ramp_secs;
        double stage = clamp(floor(done * 3.0), 0, 2) / 3.0;
        g->mem = round_to(g->residue + (g->job_mem - g->residue) * stage, MIB);
    } else if (g->phase == PHASE_PLATEAU &&
               simrng_uniform(&g->rng) < chance_within(dt, MEM_DRIFT_MEAN_GAP_SECS)) {
        double delta = (simrng_uniform(&g->rng) < 0.5 ? -0.01 : 0.01) * total;
        double hi = fmin(total, g->job_mem * 1.1);
        g->mem = clamp(round_to(g->mem + delta, MIB), g->job_mem * 0.9, hi);
    }
    g->mem = clamp(g->mem, 0, total);
}

static void step_temperature(gpu_sim *g, double dt)
{
    double eq = AMBIENT_CELSIUS + g->cooling + CELSIUS_PER_UTIL * g->util;
    double decay = exp(-dt / THERMAL_TAU_SECS);
    g->temp = eq + (g->temp - eq) * decay + TEMP_NOISE_SD * simrng_normal(&g->rng);
}

/* Clock before throttling: idle clock at ~15 % load, full boost from ~35 %. */
static double demand_clock(const gpusim_profile *p, double util)
{
    double active = clamp((util - 15.0) / 20.0, 0, 1);
    return p->idle_clock_mhz + (p->boost_clock_mhz - p->idle_clock_mhz) * active;
}

static double throttled_clock(const gpusim_profile *p, double demand, double temp)
{
    double over = temp - p->throttle_celsius;
    double mhz = over > 0 ? demand - THROTTLE_MHZ_PER_CELSIUS * over : demand;
    mhz = clamp(mhz, p->idle_clock_mhz, p->boost_clock_mhz);
    /* Round down to the 15 MHz steps real clocks take, staying >= idle. */
    return p->idle_clock_mhz + floor((mhz - p->idle_clock_mhz) / CLOCK_STEP_MHZ) * CLOCK_STEP_MHZ;
}

/* Dynamic power grows faster than linearly with load and scales with the
 * clock, so a throttled GPU also draws less. */
static double power_draw(gpu_sim *g, const gpusim_profile *p, double demand, double clock)
{
    double dynamic = (p->tdp_watts - p->idle_watts) * pow(g->util / 100.0, POWER_EXPONENT);
    double w = p->idle_watts + dynamic * (clock / demand) + POWER_NOISE_SD * simrng_normal(&g->rng);
    return clamp(w, p->idle_watts, p->tdp_watts);
}

static void publish(gpu_sim *g, const gpusim_profile *p)
{
    double demand = demand_clock(p, g->util);
    double clock = throttled_clock(p, demand, g->temp);
    g->pub.util_percent = round_to(g->util, 1);
    g->pub.temp_celsius = round_to(g->temp, 1);
    g->pub.sm_clock_mhz = clock;
    g->pub.power_watts = round_to(power_draw(g, p, demand, clock), 0.001);
    g->pub.memory_bytes = (uint64_t)g->mem;
}

static void gpu_step(gpu_sim *g, const gpusim_profile *p, double dt)
{
    advance_phase(g, p, dt);
    step_utilization(g, dt);
    step_memory(g, p, dt);
    step_temperature(g, dt);
    if (simrng_uniform(&g->rng) < GPUSIM_ECC_PROBABILITY)
        g->pub.ecc_errors++;
    publish(g, p);
}

/* ---- lifecycle ---- */

void gpusim_uuid(uint64_t seed, unsigned node, unsigned gpu, char *out)
{
    /* A domain constant keeps UUIDs unrelated to the GPU's PRNG stream. */
    uint64_t st = seed ^ 0x75756964ULL /* "uuid" */;
    st += ((uint64_t)node * GPUSIM_MAX_GPUS + gpu) * 0xd1b54a32d192ed03ULL;
    uint64_t a = simrng_splitmix64(&st), b = simrng_splitmix64(&st);
    snprintf(out, GPUSIM_UUID_LEN + 1, "GPU-%08x-%04x-%04x-%04x-%012llx", (unsigned)(a >> 32),
             (unsigned)(a >> 16) & 0xffff, (unsigned)a & 0xffff, (unsigned)(b >> 48),
             (unsigned long long)(b & 0xffffffffffffULL));
}

/* Start GPUs at different points of the job cycle so a fresh simulator
 * already shows a busy, unsynchronised node. */
static void init_gpu(gpu_sim *g, const gpusim_config *cfg, const gpusim_profile *p, unsigned node,
                     unsigned gpu)
{
    simrng_seed_part(&g->rng, cfg->seed, (uint64_t)node * GPUSIM_MAX_GPUS + gpu);
    snprintf(g->pub.id, sizeof g->pub.id, "gpu%u", gpu);
    snprintf(g->pub.node, sizeof g->pub.node, "node%u", node);
    gpusim_uuid(cfg->seed, node, gpu, g->pub.uuid);
    g->cooling = simrng_range(&g->rng, 0, COOLING_OFFSET_MAX);
    enter_idle(g);
    if (simrng_uniform(&g->rng) < 0.7) {
        start_job(g, p);
        enter_plateau(g);
    }
    g->util = g->target;
    g->temp = AMBIENT_CELSIUS + g->cooling + CELSIUS_PER_UTIL * g->util;
    publish(g, p);
}

int gpusim_new(const gpusim_config *cfg, gpusim **out)
{
    *out = NULL;
    const gpusim_profile *p = gpusim_profile_find(cfg->model);
    if (!p)
        return GPUSIM_EMODEL;
    if (cfg->gpus < 1 || cfg->gpus > GPUSIM_MAX_GPUS || cfg->nodes < 1 ||
        cfg->nodes > GPUSIM_MAX_NODES)
        return GPUSIM_ECOUNT;
    gpusim *sim = em_calloc(1, sizeof *sim);
    sim->prof = p;
    sim->cfg = *cfg;
    sim->cfg.model = p->model; /* the caller's string may not outlive us */
    sim->n = (size_t)cfg->nodes * cfg->gpus;
    sim->gpus = em_calloc(sim->n, sizeof *sim->gpus);
    for (size_t i = 0; i < sim->n; i++)
        init_gpu(&sim->gpus[i], cfg, p, (unsigned)(i / cfg->gpus), (unsigned)(i % cfg->gpus));
    *out = sim;
    return GPUSIM_OK;
}

void gpusim_free(gpusim *sim)
{
    if (!sim)
        return;
    free(sim->gpus);
    free(sim);
}

void gpusim_step(gpusim *sim, double dt_s)
{
    if (!(dt_s > 0))
        return;
    for (size_t i = 0; i < sim->n; i++)
        gpu_step(&sim->gpus[i], sim->prof, dt_s);
    sim->steps++;
}

uint64_t gpusim_steps(const gpusim *sim)
{
    return sim->steps;
}

size_t gpusim_count(const gpusim *sim)
{
    return sim->n;
}

const gpusim_gpu *gpusim_gpu_at(const gpusim *sim, size_t i)
{
    return i < sim->n ? &sim->gpus[i].pub : NULL;
}

const gpusim_profile *gpusim_profile_of(const gpusim *sim)
{
    return sim->prof;
}

/* ---- exposition ---- */

typedef struct gpu_metric {
    const char *name;
    metric_type type;
    const char *help;
    double (*read)(const gpusim_gpu *g);
} gpu_metric;

static double read_util(const gpusim_gpu *g)
{
    return g->util_percent;
}
static double read_temp(const gpusim_gpu *g)
{
    return g->temp_celsius;
}
static double read_mem(const gpusim_gpu *g)
{
    return (double)g->memory_bytes;
}
static double read_power(const gpusim_gpu *g)
{
    return g->power_watts;
}
static double read_clock(const gpusim_gpu *g)
{
    return g->sm_clock_mhz;
}
static double read_ecc(const gpusim_gpu *g)
{
    return (double)g->ecc_errors;
}

static const gpu_metric gpu_metrics[] = {
    {"gpu_utilization_percent", METRIC_GAUGE, "GPU compute utilization in percent.", read_util},
    {"gpu_temperature_celsius", METRIC_GAUGE, "GPU temperature in degrees Celsius.", read_temp},
    {"gpu_memory_usage_bytes", METRIC_GAUGE, "GPU framebuffer memory used in bytes.", read_mem},
    {"gpu_power_draw_watts", METRIC_GAUGE, "GPU power draw in watts.", read_power},
    {"gpu_sm_clock_mhz", METRIC_GAUGE, "GPU SM clock frequency in MHz.", read_clock},
    {"gpu_ecc_errors_total", METRIC_COUNTER, "Total ECC errors seen by the GPU.", read_ecc},
};

void gpusim_collect(const gpusim *sim, metric_set *ms)
{
    /* With one node the "node" name is passed as NULL, which ends the
     * label list early: same call, one label fewer. */
    const char *node_label = sim->cfg.nodes > 1 ? "node" : NULL;
    for (size_t m = 0; m < sizeof gpu_metrics / sizeof gpu_metrics[0]; m++) {
        const gpu_metric *gm = &gpu_metrics[m];
        metric_set_meta(ms, gm->name, gm->type, gm->help);
        for (size_t i = 0; i < sim->n; i++) {
            const gpusim_gpu *g = &sim->gpus[i].pub;
            metric_set_addl(ms, gm->name, gm->read(g), "gpu_id", g->id, "gpu_model",
                            sim->prof->model, "gpu_uuid", g->uuid, node_label, g->node, NULL);
        }
    }
}

void gpusim_render(const gpusim *sim, ebuf *out)
{
    metric_set ms;
    metric_set_init(&ms);
    gpusim_collect(sim, &ms);
    expfmt_write(out, &ms);
    metric_set_free(&ms);
}
