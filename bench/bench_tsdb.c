/*
 * bench_tsdb.c — the store on a GPU-cluster workload, in process.
 *
 * Workload: NODES nodes, each with 8 GPUs reporting the six GPU metrics of
 * ARCHITECTURE.md (gauges as random walks, the ECC counter) and a 10-bucket
 * request latency histogram per node; labels as in the map (instance,
 * gpu_id, gpu_model, gpu_uuid, cluster); a 15 s interval over HOURS hours
 * ending now.  Ingest as promtool's `tsdb bench write` does it: the series
 * in shards of --batch (1000) series, one appender and commit per shard and
 * scrape, each series appended by the reference (tsdb_ref) its first
 * appends returned, --threads shards at once.
 * Figures: ingest samples/s (append path, unsynced), head memory per active
 * series (heap growth minus RocksDB memtables, with every head chunk
 * holding samples), bytes per sample on disk after compaction (SST files,
 * index keys included), and select + decode samples/s over everything.
 * --openmetrics FILE also writes the same samples as OpenMetrics text for
 * `promtool tsdb create-blocks-from openmetrics` (bench/tsdb_vs_prometheus.sh).
 *
 * --series-json FILE writes the label sets for `promtool tsdb bench write`.
 * --threads N commits shards from N threads at once (as the aggregator's
 * ingest workers do; promtool's bench runs its shards as parallel
 * goroutines on every core).  --no-refs appends by labels every time (the
 * lookup cost of a caller without a reference cache).  The ingest time
 * counts appends and commits only, not the generation of the values.
 *
 * Usage: bench_tsdb [--nodes N] [--hours H] [--threads N] [--batch N]
 *                   [--no-refs 1] [--openmetrics FILE] [--series-json FILE]
 */
#include "aggregator/tsdb/tsdb.h"
#include "common/etime.h"
#include "common/fsutil.h"

#include <malloc.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define INTERVAL_MS 15000
#define GPUS 8
#define BUCKETS 10

static const char *gpu_metrics[] = {"gpu_utilization_percent", "gpu_temperature_celsius",
                                    "gpu_memory_usage_bytes",  "gpu_power_draw_watts",
                                    "gpu_sm_clock_mhz",        "gpu_ecc_errors_total"};
#define NGPU_METRICS 6
#define HEAD_MEM_STEP 59
#define SERIES_PER_NODE (GPUS * NGPU_METRICS + BUCKETS + 2)

typedef struct series_def {
    labelset ls;
    double v;
    int kind; /* 0 gauge walk, 1 counter, 2 bucket, 3 sum, 4 count */
    tsdb_ref ref;
} series_def;

static double clock_s(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double now_s(void)
{
    return clock_s(CLOCK_MONOTONIC);
}

/* Heap in use, counting chunks malloc took straight from mmap. */
static size_t heap_bytes(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

static double rnd(void)
{
    return rand() / (double)RAND_MAX;
}

static void build_series(series_def *s, int nodes)
{
    static const char *les[BUCKETS] = {"0.005", "0.01", "0.025", "0.05", "0.1",
                                       "0.25",  "0.5",  "1",     "2.5",  "+Inf"};
    size_t k = 0;
    for (int n = 0; n < nodes; n++) {
        char inst[64];
        snprintf(inst, sizeof inst, "gpu-node-%03d:9400", n);
        for (int g = 0; g < GPUS; g++)
            for (int m = 0; m < NGPU_METRICS; m++) {
                series_def *d = &s[k++];
                char id[16], uuid[64];
                snprintf(id, sizeof id, "gpu%d", g);
                snprintf(uuid, sizeof uuid, "GPU-%08x-%04x", n * 7919 + g, g * 31);
                labels_init(&d->ls);
                labels_add(&d->ls, "__name__", gpu_metrics[m]);
                labels_add(&d->ls, "instance", inst);
                labels_add(&d->ls, "cluster", "train-a");
                labels_add(&d->ls, "gpu_id", id);
                labels_add(&d->ls, "gpu_model", "NVIDIA-A100-40GB");
                labels_add(&d->ls, "gpu_uuid", uuid);
                d->kind = m == 5 ? 1 : 0;
                d->v = m == 2 ? 20e9 : m == 4 ? 1410 : 50;
            }
        for (int b = 0; b < BUCKETS + 2; b++) {
            series_def *d = &s[k++];
            labels_init(&d->ls);
            labels_add(&d->ls, "__name__",
                       b < BUCKETS    ? "http_request_duration_seconds_bucket"
                       : b == BUCKETS ? "http_request_duration_seconds_sum"
                                      : "http_request_duration_seconds_count");
            labels_add(&d->ls, "instance", inst);
            labels_add(&d->ls, "cluster", "train-a");
            if (b < BUCKETS)
                labels_add(&d->ls, "le", les[b]);
            d->kind = b < BUCKETS ? 2 : b == BUCKETS ? 3 : 4;
            d->v = 0;
        }
    }
    for (size_t i = 0; i < k; i++)
        labels_sort(&s[i].ls);
}

static void step(series_def *d, int idx_in_node_hist)
{
    switch (d->kind) {
    case 0: /* random walk, rounded like the exporters round */
        d->v = round((d->v * (1 + (rnd() - 0.5) * 0.02)) * 100) / 100;
        break;
    case 1: d->v += rnd() < 0.001; break;
    case 2: d->v += floor(rnd() * 5 * (idx_in_node_hist + 1)); break;
    default: d->v += floor(rnd() * 40); break;
    }
}

static void write_openmetrics(FILE *f, const series_def *d, int64_t t)
{
    fprintf(f, "%s{", labels_get(&d->ls, "__name__"));
    int first = 1;
    for (size_t i = 0; i < d->ls.n; i++) {
        if (strcmp(d->ls.v[i].name, "__name__") == 0)
            continue;
        fprintf(f, "%s%s=\"%s\"", first ? "" : ",", d->ls.v[i].name, d->ls.v[i].value);
        first = 0;
    }
    fprintf(f, "} %.17g %lld.%03lld\n", d->v, (long long)(t / 1000), (long long)(t % 1000));
}

/* The label sets as JSON lines, the input of `promtool tsdb bench write`. */
static void write_series_json(const char *path, const series_def *s, size_t n)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < s[i].ls.n; j++)
            fprintf(f, "%s\"%s\":\"%s\"", j ? "," : "{", s[i].ls.v[j].name, s[i].ls.v[j].value);
        fprintf(f, "}\n");
    }
    fclose(f);
}

typedef struct worker {
    tsdb *db;
    series_def *s;
    const double *vals; /* [scrape][series], generated beforehand */
    size_t nseries, batch;
    int tid, threads;
    bool refs;
    int64_t t0, k0, k1; /* scrapes k0 .. k1-1 at t0 + k * INTERVAL_MS */
    uint64_t samples;
    int failed;
} worker;

/* This thread's shards, scrape after scrape (no barrier between threads, as
 * promtool's shard goroutines): one appender and commit per shard and scrape. */
static void *ingest_shards(void *arg)
{
    worker *w = arg;
    char err[256];
    for (int64_t k = w->k0; k < w->k1; k++) {
        const double *v = w->vals + (size_t)k * w->nseries;
        int64_t t = w->t0 + k * INTERVAL_MS;
        for (size_t lo = (size_t)w->tid * w->batch; lo < w->nseries;
             lo += w->batch * (size_t)w->threads) {
            size_t hi = lo + w->batch < w->nseries ? lo + w->batch : w->nseries;
            tsdb_appender *a = tsdb_appender_new(w->db);
            for (size_t j = lo; j < hi; j++)
                tsdb_append_ref(a, w->refs ? &w->s[j].ref : NULL, &w->s[j].ls, t, v[j]);
            tsdb_commit_result r;
            if (tsdb_commit(a, NULL, 0, &r, err, sizeof err) != 0) {
                fprintf(stderr, "%s\n", err);
                w->failed = 1;
                return NULL;
            }
            w->samples += r.applied;
        }
    }
    return NULL;
}

/* Scrapes k0 .. k1-1 from every thread; seconds taken, < 0 on failure. */
static double ingest_scrapes(worker *w, int nthreads, int64_t k0, int64_t k1)
{
    pthread_t th[64];
    double c0 = now_s();
    for (int i = 0; i < nthreads; i++) {
        w[i].k0 = k0, w[i].k1 = k1;
        if (nthreads > 1)
            pthread_create(&th[i], NULL, ingest_shards, &w[i]);
        else
            ingest_shards(&w[i]);
    }
    bool ok = true;
    for (int i = 0; i < nthreads; i++) {
        if (nthreads > 1)
            pthread_join(th[i], NULL);
        ok = ok && !w[i].failed;
    }
    return ok ? now_s() - c0 : -1;
}

/* Every scrape's values (random walks, counters), written as OpenMetrics too. */
static double *generate(series_def *s, size_t nseries, int64_t steps, int64_t t0, FILE *omf)
{
    double *vals = malloc((size_t)steps * nseries * sizeof(double));
    srand(1);
    for (int64_t k = 0; k < steps; k++)
        for (size_t j = 0; j < nseries; j++) {
            step(&s[j], (int)(j % SERIES_PER_NODE) - GPUS * NGPU_METRICS);
            vals[(size_t)k * nseries + j] = s[j].v;
            if (omf)
                write_openmetrics(omf, &s[j], t0 + k * INTERVAL_MS);
        }
    if (omf) {
        fprintf(omf, "# EOF\n");
        fclose(omf);
    }
    return vals;
}

int main(int argc, char **argv)
{
    int nodes = 100, hours = 2, nthreads = 1, batch = 1000;
    bool refs = true;
    const char *om = NULL, *sj = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--nodes"))
            nodes = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--hours"))
            hours = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads"))
            nthreads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--batch"))
            batch = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--no-refs"))
            refs = !atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--openmetrics"))
            om = argv[i + 1];
        else if (!strcmp(argv[i], "--series-json"))
            sj = argv[i + 1];
    }
    if (nthreads < 1 || nthreads > 64)
        nthreads = 1;
    if (batch < 1)
        batch = 1000;
    size_t nseries = (size_t)nodes * SERIES_PER_NODE;
    series_def *s = calloc(nseries, sizeof *s);
    build_series(s, nodes);
    if (sj)
        write_series_json(sj, s, nseries);
    char dir[256], err[256];
    fs_mkdtemp(dir, sizeof dir, "ember-bench-tsdb");
    tsdb_options o = {
        .sync = false, .maint_interval_ms = -1, .head_max_age_ms = 1000LL * 3600 * 24};
    tsdb *db;
    if (tsdb_open(dir, &o, &db, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    int64_t steps = (int64_t)hours * 3600 * 1000 / INTERVAL_MS;
    int64_t t0 = (now_ms() - hours * 3600LL * 1000) / INTERVAL_MS * INTERVAL_MS;
    double *vals = generate(s, nseries, steps, t0, om ? fopen(om, "w") : NULL);
    size_t heap0 = heap_bytes();
    uint64_t samples = 0;
    worker w[64];
    for (int i = 0; i < nthreads; i++)
        w[i] = (worker){.db = db,
                        .s = s,
                        .vals = vals,
                        .nseries = nseries,
                        .batch = (size_t)batch,
                        .tid = i,
                        .threads = nthreads,
                        .refs = refs,
                        .t0 = t0};
    /* first the scrapes that create every series and half fill the heads */
    int64_t half = steps < HEAD_MEM_STEP + 1 ? steps : HEAD_MEM_STEP + 1;
    double cpu0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
    double s1 = ingest_scrapes(w, nthreads, 0, half);
    double cpu1 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
    tsdb_stats st;
    tsdb_get_stats(db, &st);
    double heap = (double)(heap_bytes() - heap0) - (double)st.memtable_bytes;
    double head_mem_per_series = heap / (double)nseries;
    double cpu2 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
    double s2 = ingest_scrapes(w, nthreads, half, steps);
    double cpu = clock_s(CLOCK_PROCESS_CPUTIME_ID) - cpu2 + cpu1 - cpu0;
    if (s1 < 0 || s2 < 0)
        return 1;
    double ingest_s = s1 + s2;
    for (int i = 0; i < nthreads; i++)
        samples += w[i].samples;
    printf("ingest: %llu samples, %zu series, %.0f samples/s (%d threads, %d series per commit, "
           "appends by %s, %s)\n",
           (unsigned long long)samples, nseries, samples / ingest_s, nthreads, batch,
           refs ? "reference" : "labels", o.sync ? "synced" : "unsynced");
    /* CPU time (every thread, RocksDB's flushes included) is steadier than
     * the wall clock on a shared machine */
    printf("ingest cpu: %.3f s, %.0f samples per cpu second\n", cpu, samples / cpu);
    printf("head memory per active series: %.0f bytes (after %d samples each)\n",
           head_mem_per_series, HEAD_MEM_STEP + 1);
    if (tsdb_truncate_log(db, now_ms() + 48 * 3600 * 1000LL, err, sizeof err) != 0 ||
        tsdb_compact(db, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    tsdb_get_stats(db, &st);
    printf("disk after compaction: %llu bytes, %.3f bytes/sample\n",
           (unsigned long long)st.disk_bytes, (double)st.disk_bytes / (double)samples);
    label_matcher m;
    matcher_init(&m, MATCH_RE, "__name__", ".+", err, sizeof err);
    query_storage qs = tsdb_query_storage(db);
    qselect_set sel;
    qselect_set_init(&sel);
    double c0 = now_s();
    qs.select(qs.ctx, &m, 1, INT64_MIN, INT64_MAX, &sel, err, sizeof err);
    uint64_t read = 0;
    double sum = 0;
    for (size_t i = 0; i < sel.n; i++)
        for (bool ok = qiter_seek(sel.v[i].it, INT64_MIN); ok; ok = qiter_next(sel.v[i].it))
            read++, sum += sel.v[i].it->v;
    double sec = now_s() - c0;
    printf("select + decode: %llu samples in %zu series, %.0f samples/s (checksum %g)\n",
           (unsigned long long)read, sel.n, read / sec, sum);
    qselect_set_free(&sel);
    matcher_free(&m);
    tsdb_close(db);
    fs_rmtree(dir);
    free(vals);
    return 0;
}
