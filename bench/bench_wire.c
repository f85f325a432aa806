/*
 * bench_wire.c — bytes on the wire per sample, ours versus Prometheus remote
 * write 1.0, on the same samples.
 *
 * The samples are real: a host collection (cpu, meminfo, loadavg) from this
 * machine plus an 8-GPU simulator, taken `rounds` times with the simulator
 * advanced 15 s between rounds (one round = one agent interval).  Each side
 * encodes the same rounds, `per_batch` rounds per message:
 *   ember:        Envelope{Batch} with its symbol table, zstd (proto/wire.c),
 *                 as spooled (self-contained) and as the sender puts it on the
 *                 wire: compressed against the connection's base batch
 *                 (proto/wire_delta.h), a new base every WIRE_BASE_EVERY;
 *   remote write: WriteRequest{TimeSeries...} protobuf, snappy block format,
 *                 one TimeSeries per series with all its samples, as
 *                 Prometheus's queue manager sends them.
 * Prints bytes/sample and encode ns/sample for both, and the ratio.
 *
 *   bench_wire [rounds] [per_batch]     (defaults 40 and 1)
 */
#include "agent/collect/collect.h"
#include "common/strmap.h"
#include "proto/remote.pb-c.h"
#include "proto/wire.h"
#include "proto/wire_delta.h"
#include "simulators/gpusim.h"

#include <snappy-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One agent interval's samples, stamped ts. */
static void collect_round(gpusim *sim, int64_t ts, metric_set *ms)
{
    char err[256];
    metric_set_init(ms);
    collect_cpu(ms, "/", err, sizeof err);
    collect_meminfo(ms, "/", err, sizeof err);
    collect_loadavg(ms, "/", err, sizeof err);
    gpusim_collect(sim, ms);
    for (size_t i = 0; i < ms->n; i++) {
        labels_set(&ms->samples[i].labels, "instance", "gpu-node-17");
        labels_set(&ms->samples[i].labels, "cluster", "prod-a");
        ms->samples[i].has_ts = true;
        ms->samples[i].ts_ms = ts;
    }
}

static size_t encode_ember(metric_set *rounds, int n, uint64_t seq)
{
    metric_set all;
    metric_set_init(&all);
    for (int i = 0; i < n; i++) { /* copy: wire_encode_batch reads one set */
        for (size_t k = 0; k < rounds[i].n; k++) {
            labelset ls;
            labels_copy(&ls, &rounds[i].samples[k].labels);
            metric_set_add(&all, &ls, rounds[i].samples[k].value, true, rounds[i].samples[k].ts_ms);
        }
    }
    ebuf m;
    ebuf_init(&m);
    wire_encode_batch(&m, "gpu-node-17", seq, &all, 0);
    size_t len = m.len;
    ebuf_free(&m);
    metric_set_free(&all);
    return len;
}

/* The sender's view of a connection: each spooled (self-contained) batch
 * is decompressed and sent compressed against the session's base, a batch
 * kept every BASE_EVERY batches (agent/sender.c's policy). */
static size_t encode_ember_session(metric_set *rounds, int n, uint64_t seq, wire_base *base)
{
    metric_set all;
    metric_set_init(&all);
    for (int i = 0; i < n; i++) {
        for (size_t k = 0; k < rounds[i].n; k++) {
            labelset ls;
            labels_copy(&ls, &rounds[i].samples[k].labels);
            metric_set_add(&all, &ls, rounds[i].samples[k].value, true, rounds[i].samples[k].ts_ms);
        }
    }
    ebuf spooled, m;
    ebuf_init(&spooled);
    ebuf_init(&m);
    wire_encode_batch(&spooled, "gpu-node-17", seq, &all, 0);
    char err[256];
    size_t rawlen;
    uint8_t *raw = wire_decompress(spooled.data, spooled.len, NULL, 0, &rawlen, err, sizeof err);
    bool keep = !base->seq || seq - base->seq >= WIRE_BASE_EVERY;
    wire_delta_encode(&m, raw, rawlen, base, keep ? WIRE_DELTA_KEEP : 0, 0, NULL);
    if (keep) /* acknowledged before the next one, as with one batch in flight */
        wire_base_set(base, seq, raw, rawlen);
    size_t len = m.len;
    free(raw);
    ebuf_free(&m);
    ebuf_free(&spooled);
    metric_set_free(&all);
    return len;
}

static Prometheus__TimeSeries *new_series(const labelset *ls)
{
    Prometheus__TimeSeries *t = calloc(1, sizeof *t);
    prometheus__time_series__init(t);
    t->n_labels = ls->n;
    t->labels = calloc(ls->n, sizeof(Prometheus__Label *));
    for (size_t i = 0; i < ls->n; i++) {
        t->labels[i] = calloc(1, sizeof(Prometheus__Label));
        prometheus__label__init(t->labels[i]);
        t->labels[i]->name = ls->v[i].name;
        t->labels[i]->value = ls->v[i].value;
    }
    return t;
}

static void add_sample(Prometheus__TimeSeries *t, double v, int64_t ts)
{
    t->samples = realloc(t->samples, (t->n_samples + 1) * sizeof(Prometheus__Sample *));
    Prometheus__Sample *s = calloc(1, sizeof *s);
    prometheus__sample__init(s);
    s->value = v;
    s->timestamp = ts;
    t->samples[t->n_samples++] = s;
}

static void free_request(Prometheus__WriteRequest *w)
{
    for (size_t i = 0; i < w->n_timeseries; i++) {
        Prometheus__TimeSeries *t = w->timeseries[i];
        for (size_t k = 0; k < t->n_labels; k++)
            free(t->labels[k]);
        for (size_t k = 0; k < t->n_samples; k++)
            free(t->samples[k]);
        free(t->labels);
        free(t->samples);
        free(t);
    }
    free(w->timeseries);
}

static size_t encode_remote_write(metric_set *rounds, int n)
{
    Prometheus__WriteRequest w = PROMETHEUS__WRITE_REQUEST__INIT;
    strmap index; /* series key -> position in w.timeseries */
    strmap_init(&index);
    ebuf key;
    ebuf_init(&key);
    for (int i = 0; i < n; i++) {
        for (size_t k = 0; k < rounds[i].n; k++) {
            const metric_sample *s = &rounds[i].samples[k];
            ebuf_reset(&key);
            labels_format(&key, &s->labels);
            uint64_t pos;
            if (!strmap_get(&index, key.data, key.len, &pos)) {
                pos = w.n_timeseries++;
                w.timeseries = realloc(w.timeseries, w.n_timeseries * sizeof(void *));
                w.timeseries[pos] = new_series(&s->labels);
                strmap_put(&index, key.data, key.len, pos);
            }
            add_sample(w.timeseries[pos], s->value, s->ts_ms);
        }
    }
    size_t raw_len = prometheus__write_request__get_packed_size(&w);
    uint8_t *raw = malloc(raw_len);
    prometheus__write_request__pack(&w, raw);
    size_t out_len = snappy_max_compressed_length(raw_len);
    char *out = malloc(out_len);
    snappy_compress((const char *)raw, raw_len, out, &out_len);
    free(raw);
    free(out);
    free_request(&w);
    strmap_free(&index);
    ebuf_free(&key);
    return out_len;
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 40;
    int per_batch = argc > 2 ? atoi(argv[2]) : 1;
    if (rounds <= 0 || per_batch <= 0 || rounds % per_batch) {
        fprintf(stderr, "usage: bench_wire [rounds] [per_batch dividing rounds]\n");
        return 2;
    }
    gpusim_config gc = {.model = "NVIDIA-A100-40GB", .gpus = 8, .nodes = 1, .seed = 7};
    gpusim *sim;
    if (gpusim_new(&gc, &sim) != 0)
        return 1;
    metric_set *sets = calloc((size_t)rounds, sizeof(metric_set));
    size_t samples = 0;
    for (int i = 0; i < rounds; i++) {
        gpusim_step(sim, 15.0);
        collect_round(sim, 1700000000000LL + 15000LL * i, &sets[i]);
        samples += sets[i].n;
    }
    size_t ember_bytes = 0, rw_bytes = 0;
    double t0 = now_s();
    for (int i = 0; i < rounds; i += per_batch)
        ember_bytes += encode_ember(&sets[i], per_batch, (uint64_t)i + 1);
    double t1 = now_s();
    for (int i = 0; i < rounds; i += per_batch)
        rw_bytes += encode_remote_write(&sets[i], per_batch);
    double t2 = now_s();
    size_t session_bytes = 0;
    wire_base base = {0};
    for (int i = 0; i < rounds; i += per_batch)
        session_bytes += encode_ember_session(&sets[i], per_batch, (uint64_t)i + 1, &base);
    double t3 = now_s();
    wire_base_clear(&base);
    printf("samples %zu in %d messages of %d round(s) (%zu series per round)\n", samples,
           rounds / per_batch, per_batch, sets[0].n);
    printf("%-22s %10s %14s\n", "", "bytes/sample", "encode ns/sample");
    printf("%-22s %10.2f %14.0f\n", "ember (zstd batch)", (double)ember_bytes / samples,
           (t1 - t0) * 1e9 / samples);
    printf("%-22s %10.2f %14.0f\n", "remote write 1.0", (double)rw_bytes / samples,
           (t2 - t1) * 1e9 / samples);
    printf("%-22s %10.2f %14.0f\n", "ember (session base)", (double)session_bytes / samples,
           (t3 - t2) * 1e9 / samples);
    printf("ember / remote write bytes: %.3f self-contained, %.3f with the session base\n",
           (double)ember_bytes / (double)rw_bytes, (double)session_bytes / (double)rw_bytes);
    for (int i = 0; i < rounds; i++)
        metric_set_free(&sets[i]);
    free(sets);
    gpusim_free(sim);
    return 0;
}
