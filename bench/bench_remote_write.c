/*
 * bench_remote_write.c — a remote write 1.0 load sent to one receiver (the
 * aggregator's /api/v1/write or Prometheus's), measured by what it
 * accepted and what it cost the receiver's process in CPU.
 *
 * The load is encoded before the clock starts, so only the receiver is
 * measured: SERIES GPU-node series (realistic labels: __name__, cluster,
 * gpu_id, gpu_model, gpu_uuid, instance, job) and ROUNDS scrapes 15 s
 * apart ending now, one sample per series and round, in requests of
 * PER_REQUEST time series of one sample each (as Prometheus's queue sends
 * them), snappy-compressed by the aggregator's own remote write encoder.
 * Two connections (keep-alive) send at once, each its half of the series
 * in time order, so no receiver sees a sample out of order.  The same
 * arguments give byte-identical requests on every run.
 *
 * CPU is the receiver's utime + stime from /proc/PID/stat before and after.
 * Prints one line for bench/remote_write_vs_prometheus.sh:
 *   accepted SAMPLES samples in WALL s: RATE samples/s; receiver cpu CPU s
 *   = PER_M s per million samples; refused REQUESTS requests
 *
 * Usage: bench_remote_write URL PID [SERIES] [ROUNDS] [PER_REQUEST]
 */
#include "aggregator/forward/forward_int.h"
#include "aggregator/tsdb/index.h"
#include "common/etime.h"
#include "common/labels.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CONNECTIONS 2
#define SCRAPE_MS 15000
#define METRICS 10
#define GPUS 8

static const char *const metric_names[METRICS] = {
    "gpu_utilization_percent", "gpu_temperature_celsius", "gpu_memory_usage_bytes",
    "gpu_power_draw_watts",    "gpu_sm_clock_mhz",        "gpu_ecc_errors_total",
    "gpu_memory_clock_mhz",    "gpu_fan_speed_percent",   "gpu_pcie_rx_bytes_total",
    "gpu_pcie_tx_bytes_total"};

typedef struct conn {
    const char *url;
    ebuf *bodies;
    uint32_t *samples; /* in each body */
    size_t nbodies;
    uint32_t per_body;
    uint64_t accepted, refused;
    char answer[256], first_error[256];
    size_t answer_len;
} conn;

/* Series i's canonical label key (labels sorted, as senders send them). */
static void series_key(int i, ebuf *key)
{
    int node = i / (METRICS * GPUS), gpu = i / METRICS % GPUS;
    char instance[32], gpu_id[8], uuid[64];
    snprintf(instance, sizeof instance, "gpu-node-%04d:9400", node);
    snprintf(gpu_id, sizeof gpu_id, "gpu%d", gpu);
    snprintf(uuid, sizeof uuid, "GPU-%08x-4b1e-9c2d-%012x", (unsigned)node * 2654435761u,
             (unsigned)(node * GPUS + gpu));
    labelset ls;
    labels_init(&ls);
    labels_set(&ls, "__name__", metric_names[i % METRICS]);
    labels_set(&ls, "cluster", "train-eu-west-1");
    labels_set(&ls, "gpu_id", gpu_id);
    labels_set(&ls, "gpu_model", "NVIDIA-A100-SXM4-40GB");
    labels_set(&ls, "gpu_uuid", uuid);
    labels_set(&ls, "instance", instance);
    labels_set(&ls, "job", "gpu-exporter");
    labels_sort(&ls);
    labels_key(key, &ls);
    labels_free(&ls);
}

/* A gauge's random walk (a fixed LCG: the same load every run). */
static double next_value(double v, uint64_t *rng)
{
    *rng = *rng * 6364136223846793005ULL + 1442695040888963407ULL;
    double step = (double)(*rng >> 40) / (double)(1ULL << 24) - 0.5;
    return v + step < 0 ? 0 : v + step;
}

/* Every request of connection c: its series [first, last), round by round. */
static void encode_load(conn *c, const ebuf *keys, int first, int last, int rounds, int64_t t0)
{
    size_t per_round = ((size_t)(last - first) + c->per_body - 1) / c->per_body;
    c->nbodies = per_round * (size_t)rounds;
    c->bodies = calloc(c->nbodies, sizeof *c->bodies);
    c->samples = calloc(c->nbodies, sizeof *c->samples);
    fwd_sample *batch = calloc(c->per_body, sizeof *batch);
    double *v = calloc((size_t)(last - first), sizeof *v);
    uint64_t rng = (uint64_t)first + 1;
    size_t b = 0;
    for (int r = 0; r < rounds; r++) {
        for (int s = first; s < last; s += (int)c->per_body) {
            size_t n = 0;
            for (int i = s; i < last && n < c->per_body; i++, n++) {
                v[i - first] = next_value(v[i - first] + (r == 0 ? 50 : 0), &rng);
                batch[n] = (fwd_sample){keys[i].data, (uint32_t)keys[i].len,
                                        t0 + (int64_t)r * SCRAPE_MS, v[i - first], NULL};
            }
            ebuf_init(&c->bodies[b]);
            c->samples[b] = (uint32_t)n;
            fwd_encode(batch, n, &c->bodies[b++]);
        }
    }
    free(batch);
    free(v);
}

/* The start of an answer's body, for the first refusal's reason. */
static size_t keep_answer(char *p, size_t size, size_t n, void *arg)
{
    conn *c = arg;
    size_t room = sizeof c->answer - 1 - c->answer_len;
    memcpy(c->answer + c->answer_len, p, size * n < room ? size * n : room);
    c->answer_len += size * n < room ? size * n : room;
    return size * n;
}

static void *send_all(void *arg)
{
    conn *c = arg;
    CURL *h = curl_easy_init();
    struct curl_slist *hd = curl_slist_append(NULL, "Content-Encoding: snappy");
    hd = curl_slist_append(hd, "Content-Type: application/x-protobuf");
    hd = curl_slist_append(hd, "X-Prometheus-Remote-Write-Version: 0.1.0");
    curl_easy_setopt(h, CURLOPT_URL, c->url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, keep_answer);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
    for (size_t i = 0; i < c->nbodies; i++) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, c->bodies[i].data);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)c->bodies[i].len);
        long status = 0;
        c->answer_len = 0;
        CURLcode rc = curl_easy_perform(h);
        if (rc == CURLE_OK)
            curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        if (status / 100 == 2) {
            c->accepted += c->samples[i];
            continue;
        }
        if (c->refused++ == 0)
            snprintf(c->first_error, sizeof c->first_error, "HTTP %ld %s: %.*s", status,
                     rc == CURLE_OK ? "" : curl_easy_strerror(rc), (int)c->answer_len, c->answer);
    }
    curl_slist_free_all(hd);
    curl_easy_cleanup(h);
    return NULL;
}

/* utime + stime of pid in seconds; -1 when it cannot be read. */
static double cpu_seconds(long pid)
{
    char path[64], line[1024];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    char *p = f && fgets(line, sizeof line, f) ? strrchr(line, ')') : NULL;
    unsigned long long user, sys;
    if (f)
        fclose(f);
    /* after "pid (comm)": state and 10 fields, then utime and stime */
    if (!p ||
        sscanf(p + 2, "%*c %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %llu %llu", &user, &sys) != 2)
        return -1;
    return (double)(user + sys) / (double)sysconf(_SC_CLK_TCK);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s URL PID [SERIES] [ROUNDS] [PER_REQUEST]\n", argv[0]);
        return 2;
    }
    long pid = atol(argv[2]);
    int series = argc > 3 ? atoi(argv[3]) : 10000;
    int rounds = argc > 4 ? atoi(argv[4]) : 60;
    int per = argc > 5 ? atoi(argv[5]) : 500;
    if (series < CONNECTIONS || rounds < 1 || per < 1 || cpu_seconds(pid) < 0) {
        fprintf(stderr, "bad arguments (or no process %ld)\n", pid);
        return 2;
    }
    ebuf *keys = calloc((size_t)series, sizeof *keys);
    for (int i = 0; i < series; i++) {
        ebuf_init(&keys[i]);
        series_key(i, &keys[i]);
    }
    int64_t t0 = (now_ms() / SCRAPE_MS - rounds) * SCRAPE_MS;
    conn c[CONNECTIONS];
    size_t bytes = 0;
    for (int i = 0; i < CONNECTIONS; i++) {
        c[i] = (conn){.url = argv[1], .per_body = (uint32_t)per};
        encode_load(&c[i], keys, series * i / CONNECTIONS, series * (i + 1) / CONNECTIONS, rounds,
                    t0);
        for (size_t b = 0; b < c[i].nbodies; b++)
            bytes += c[i].bodies[b].len;
    }
    fprintf(stderr, "load: %d series x %d rounds, %zu requests, %zu bytes compressed\n", series,
            rounds, c[0].nbodies + c[1].nbodies, bytes);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    pthread_t th[CONNECTIONS];
    double cpu0 = cpu_seconds(pid);
    int64_t start = mono_ms();
    for (int i = 0; i < CONNECTIONS; i++)
        pthread_create(&th[i], NULL, send_all, &c[i]);
    for (int i = 0; i < CONNECTIONS; i++)
        pthread_join(th[i], NULL);
    double wall = (double)(mono_ms() - start) / 1000.0, cpu = cpu_seconds(pid) - cpu0;
    uint64_t accepted = 0, refused = 0;
    for (int i = 0; i < CONNECTIONS; i++) {
        accepted += c[i].accepted;
        refused += c[i].refused;
        if (c[i].first_error[0])
            fprintf(stderr, "refused: %s\n", c[i].first_error);
        for (size_t b = 0; b < c[i].nbodies; b++)
            ebuf_free(&c[i].bodies[b]);
        free(c[i].bodies);
        free(c[i].samples);
    }
    printf("accepted %" PRIu64 " samples in %.3f s: %.0f samples/s; receiver cpu %.2f s = %.3f s "
           "per million samples; refused %" PRIu64 " requests\n",
           accepted, wall, (double)accepted / wall, cpu,
           accepted ? cpu / ((double)accepted / 1e6) : 0, refused);
    for (int i = 0; i < series; i++)
        ebuf_free(&keys[i]);
    free(keys);
    curl_global_cleanup();
    return refused ? 1 : 0;
}
