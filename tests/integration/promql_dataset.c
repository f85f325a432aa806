/*
 * promql_dataset.c — builds the agreement/benchmark dataset in memory
 * (promql_dataset.h says what is in it) and writes it for promtool and for
 * the aggregator's import endpoint.  Both writers print the same shortest
 * round-trip decimal for each value, so both systems store identical floats.
 */
#include "tests/integration/promql_dataset.h"

#include "common/fmtfloat.h"
#include "common/hash.h"
#include "common/mem.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define GPUS_PER_HOST 4
#define NBUCKETS 7

static const char *const bucket_le[NBUCKETS] = {"0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf"};
static const double bucket_bound[NBUCKETS] = {0.05, 0.1, 0.25, 0.5, 1, 2.5, INFINITY};

/* Uniform in [0, 1) from (stream, index): the same inputs, the same value. */
static double unit(uint64_t stream, uint64_t i)
{
    uint64_t h = hash_finish(stream * 0x9e3779b97f4a7c15ULL + i + 1);
    return (double)(h >> 11) * (1.0 / 9007199254740992.0);
}

static promql_dataset_series *add_series(promql_dataset *d, const char *family, const char *type,
                                         const char *name, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static promql_dataset_series *add_series(promql_dataset *d, const char *family, const char *type,
                                         const char *name, const char *fmt, ...)
{
    EM_GROW(d->series, d->cap, d->n + 1);
    promql_dataset_series *s = &d->series[d->n++];
    char labels[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(labels, sizeof labels, fmt, ap);
    va_end(ap);
    s->family = family;
    s->type = type;
    s->name = em_strdup(name);
    s->labels = em_strdup(labels);
    s->v = em_calloc(d->steps, sizeof *s->v);
    s->present = em_calloc(d->steps, 1);
    memset(s->present, 1, d->steps);
    return s;
}

/* Room for k more series, so that pointers from add_series stay valid while
 * a function fills the k series it adds. */
static void reserve(promql_dataset *d, size_t k)
{
    EM_GROW(d->series, d->cap, d->n + k);
}

static void absent_range(promql_dataset_series *s, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++)
        s->present[i] = 0;
}

/* Host 0: GPU 1 has a 12-minute gap, GPU 2 ends at 7/9 of the window; the
 * last host's GPU 3 starts at 2/9. */
static void gpu_presence(const promql_dataset *d, promql_dataset_series *s, int host, int nhosts,
                         int gpu)
{
    size_t n = d->steps;
    if (host == 0 && gpu == 1)
        absent_range(s, n / 2, n / 2 + 48);
    if (host == 0 && gpu == 2)
        absent_range(s, n * 7 / 9, n);
    if (host == nhosts - 1 && gpu == 3)
        absent_range(s, 0, n * 2 / 9);
}

static void add_gpu(promql_dataset *d, int host, int nhosts, int gpu)
{
    char base[320];
    uint64_t id = (uint64_t)host * GPUS_PER_HOST + (uint64_t)gpu;
    reserve(d, 3);
    uint64_t u = hash_finish(id + 77);
    snprintf(base, sizeof base,
             "Hostname=\"gpu-node-%02d\",UUID=\"GPU-%08" PRIx64 "-%04" PRIx64
             "\",gpu=\"%d\",instance=\"gpu-node-%02d:9400\",job=\"dcgm\",modelName=\"%s\"",
             host, u >> 32, u & 0xffff, gpu, host,
             host % 2 ? "NVIDIA H100 80GB HBM3" : "NVIDIA A100-SXM4-80GB");
    promql_dataset_series *util =
        add_series(d, "DCGM_FI_DEV_GPU_UTIL", "gauge", "DCGM_FI_DEV_GPU_UTIL", "%s", base);
    promql_dataset_series *fb =
        add_series(d, "DCGM_FI_DEV_FB_USED", "gauge", "DCGM_FI_DEV_FB_USED", "%s", base);
    promql_dataset_series *temp =
        add_series(d, "DCGM_FI_DEV_GPU_TEMP", "gauge", "DCGM_FI_DEV_GPU_TEMP", "%s", base);
    double level = (double)((30 + id * 23) % 100);
    for (size_t i = 0; i < d->steps; i++) {
        level += floor((unit(id, i) - 0.5) * 21);
        level = level < 0 ? 0 : level > 100 ? 100 : level;
        util->v[i] = level;
        fb->v[i] = 20000 + floor(level * 400) + floor(unit(id + 1000, i) * 64);
        temp->v[i] = 35 + floor(level * 0.4) + floor(unit(id + 2000, i) * 3);
    }
    gpu_presence(d, util, host, nhosts, gpu);
    gpu_presence(d, fb, host, nhosts, gpu);
    gpu_presence(d, temp, host, nhosts, gpu);
}

/* Odd instances restart at 70/180 of the window: every counter starts over. */
static size_t restart_step(const promql_dataset *d, int inst)
{
    return inst % 2 ? d->steps * 7 / 18 : SIZE_MAX;
}

static void add_requests(promql_dataset *d, int inst)
{
    static const char *const methods[] = {"GET", "POST"}, *const codes[] = {"200", "500"};
    static const double mean[2][2] = {{40, 2}, {12, 0.6}};
    for (int m = 0; m < 2; m++)
        for (int c = 0; c < 2; c++) {
            promql_dataset_series *s =
                add_series(d, "http_requests", "counter", "http_requests_total",
                           "instance=\"api-%d:8080\",job=\"api\",method=\"%s\",status=\"%s\"", inst,
                           methods[m], codes[c]);
            uint64_t stream = 5000 + (uint64_t)inst * 4 + (uint64_t)(m * 2 + c);
            /* The instance's first GET 200 series also resets on its own. */
            size_t own_reset = inst == 0 && m == 0 && c == 0 ? d->steps * 13 / 18 : SIZE_MAX;
            double total = 100 * (inst + 1);
            for (size_t i = 0; i < d->steps; i++) {
                if (i == restart_step(d, inst) || i == own_reset)
                    total = 0;
                total += floor(unit(stream, i) * 2 * mean[m][c]);
                s->v[i] = total;
            }
        }
}

static void add_histogram(promql_dataset *d, int inst)
{
    promql_dataset_series *b[NBUCKETS], *count, *sum;
    reserve(d, NBUCKETS + 2);
    for (int k = 0; k < NBUCKETS; k++)
        b[k] = add_series(d, "http_request_duration_seconds", "histogram",
                          "http_request_duration_seconds_bucket",
                          "instance=\"api-%d:8080\",job=\"api\",le=\"%s\"", inst, bucket_le[k]);
    count = add_series(d, "http_request_duration_seconds", "histogram",
                       "http_request_duration_seconds_count",
                       "instance=\"api-%d:8080\",job=\"api\"", inst);
    sum = add_series(d, "http_request_duration_seconds", "histogram",
                     "http_request_duration_seconds_sum", "instance=\"api-%d:8080\",job=\"api\"",
                     inst);
    double cum[NBUCKETS] = {0}, total = 0;
    uint64_t stream = 9000 + (uint64_t)inst * 64;
    for (size_t i = 0; i < d->steps; i++) {
        if (i == restart_step(d, inst)) {
            memset(cum, 0, sizeof cum);
            total = 0;
        }
        int obs = 5 + (int)(unit(stream, i) * 25);
        for (int o = 0; o < obs; o++) {
            double x = 0.02 + pow(unit(stream + 1 + (uint64_t)o, i), 3) * (inst + 2);
            total += x;
            for (int k = 0; k < NBUCKETS; k++)
                cum[k] += x <= bucket_bound[k];
        }
        for (int k = 0; k < NBUCKETS; k++)
            b[k]->v[i] = cum[k];
        count->v[i] = cum[NBUCKETS - 1];
        sum->v[i] = total;
    }
}

static void add_odd(promql_dataset *d)
{
    reserve(d, 3);
    promql_dataset_series *nan =
        add_series(d, "odd_value", "gauge", "odd_value", "job=\"odd\",kind=\"nan\"");
    promql_dataset_series *big =
        add_series(d, "odd_value", "gauge", "odd_value", "job=\"odd\",kind=\"big\"");
    promql_dataset_series *neg =
        add_series(d, "odd_value", "gauge", "odd_value", "job=\"odd\",kind=\"negative\"");
    for (size_t i = 0; i < d->steps; i++) {
        nan->v[i] = i % 7 == 3 ? NAN : 10 + 5 * sin((double)i / 20);
        big->v[i] = 1e15 + (double)i * 12345.625;
        neg->v[i] = -20 + 25 * sin((double)i / 30);
    }
}

void promql_dataset_build(promql_dataset *d, const promql_dataset_config *c)
{
    memset(d, 0, sizeof *d);
    int64_t end = c->end_ms - c->end_ms % PROMQL_DATASET_STEP_MS;
    d->steps = (size_t)c->minutes * 60000 / PROMQL_DATASET_STEP_MS + 1;
    d->start_ms = end - (int64_t)(d->steps - 1) * PROMQL_DATASET_STEP_MS;
    for (int h = 0; h < c->hosts; h++)
        for (int g = 0; g < GPUS_PER_HOST; g++)
            add_gpu(d, h, c->hosts, g);
    for (int i = 0; i < c->instances; i++)
        add_requests(d, i);
    for (int i = 0; i < c->instances; i++)
        add_histogram(d, i);
    add_odd(d);
}

void promql_dataset_free(promql_dataset *d)
{
    for (size_t i = 0; i < d->n; i++) {
        free(d->series[i].name);
        free(d->series[i].labels);
        free(d->series[i].v);
        free(d->series[i].present);
    }
    free(d->series);
    memset(d, 0, sizeof *d);
}

int64_t promql_dataset_end_ms(const promql_dataset *d)
{
    return d->start_ms + (int64_t)(d->steps - 1) * PROMQL_DATASET_STEP_MS;
}

size_t promql_dataset_samples(const promql_dataset *d)
{
    size_t n = 0;
    for (size_t s = 0; s < d->n; s++)
        for (size_t i = 0; i < d->steps; i++)
            n += d->series[s].present[i];
    return n;
}

/* One series' samples; timestamps in seconds (OpenMetrics) or ms (import). */
static void write_series(const promql_dataset *d, const promql_dataset_series *s, bool seconds,
                         FILE *f)
{
    char num[FMT_FLOAT_MAX];
    for (size_t i = 0; i < d->steps; i++) {
        if (!s->present[i])
            continue;
        int64_t t = d->start_ms + (int64_t)i * PROMQL_DATASET_STEP_MS;
        fmt_float_text(num, s->v[i]);
        fprintf(f, "%s{%s} %s %" PRId64 "\n", s->name, s->labels, num, seconds ? t / 1000 : t);
    }
}

static bool family_seen_before(const promql_dataset *d, size_t i)
{
    for (size_t j = 0; j < i; j++)
        if (strcmp(d->series[j].family, d->series[i].family) == 0)
            return true;
    return false;
}

/* OpenMetrics wants each family's samples together, after its # TYPE. */
int promql_dataset_write_openmetrics(const promql_dataset *d, FILE *f)
{
    for (size_t i = 0; i < d->n; i++) {
        if (family_seen_before(d, i))
            continue;
        fprintf(f, "# TYPE %s %s\n", d->series[i].family, d->series[i].type);
        for (size_t j = i; j < d->n; j++)
            if (strcmp(d->series[j].family, d->series[i].family) == 0)
                write_series(d, &d->series[j], true, f);
    }
    fputs("# EOF\n", f);
    return ferror(f) ? -1 : 0;
}

int promql_dataset_write_import(const promql_dataset *d, FILE *f)
{
    for (size_t i = 0; i < d->n; i++)
        write_series(d, &d->series[i], false, f);
    return ferror(f) ? -1 : 0;
}
