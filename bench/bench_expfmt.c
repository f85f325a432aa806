/*
 * bench_expfmt.c — throughput of the text exposition parser and writer.
 *
 * Builds a document shaped like a busy node's /metrics (node_exporter CPU,
 * filesystem, network and disk series, Go runtime summaries, GPU gauges and
 * HTTP latency histograms; about 10k series), then parses it and writes it
 * back repeatedly and prints samples/s and MB/s for each.
 *
 *   bench_expfmt [iterations]     (default 50)
 */
#include "common/expfmt.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void header(ebuf *b, const char *fam, const char *type, const char *help)
{
    ebuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", fam, help, fam, type);
}

static void node_cpu(ebuf *b)
{
    static const char *const modes[] = {"idle",    "iowait", "irq",    "nice",
                                        "softirq", "steal",  "system", "user"};
    header(b, "node_cpu_seconds_total", "counter", "Seconds the CPUs spent in each mode.");
    for (int cpu = 0; cpu < 128; cpu++)
        for (int m = 0; m < 8; m++)
            ebuf_printf(b, "node_cpu_seconds_total{cpu=\"%d\",mode=\"%s\"} %.2f\n", cpu, modes[m],
                        123456.78 * (m + 1) + cpu);
}

static void node_devices(ebuf *b)
{
    static const char *const stats[] = {"receive_bytes",    "transmit_bytes", "receive_packets",
                                        "transmit_packets", "receive_errs",   "transmit_drop"};
    for (int s = 0; s < 6; s++) {
        char fam[64];
        snprintf(fam, sizeof fam, "node_network_%s_total", stats[s]);
        header(b, fam, "counter", "Network device statistic.");
        for (int dev = 0; dev < 200; dev++)
            ebuf_printf(b, "%s{device=\"veth%04x\"} %.6g\n", fam, dev * 7919, dev * 1.5e9 + s);
    }
    header(b, "node_filesystem_avail_bytes", "gauge", "Filesystem space available.");
    for (int fs = 0; fs < 300; fs++)
        ebuf_printf(b,
                    "node_filesystem_avail_bytes{device=\"/dev/nvme0n1p%d\",fstype=\"ext4\","
                    "mountpoint=\"/var/lib/kubelet/pods/%08x/volumes\"} %.10g\n",
                    fs % 8, fs * 2654435761u, 1.5e11 - fs * 3.3e7);
}

static void go_runtime(ebuf *b)
{
    header(b, "go_gc_duration_seconds", "summary", "A summary of GC pause durations.");
    for (int i = 0; i < 50; i++) {
        static const char *const q[] = {"0", "0.25", "0.5", "0.75", "1"};
        for (int k = 0; k < 5; k++)
            ebuf_printf(b, "go_gc_duration_seconds{job=\"j%d\",quantile=\"%s\"} %.9g\n", i, q[k],
                        4.9351e-05 * (k + 1) + i * 1e-7);
        ebuf_printf(b, "go_gc_duration_seconds_sum{job=\"j%d\"} %.9g\n", i, 0.5 + i);
        ebuf_printf(b, "go_gc_duration_seconds_count{job=\"j%d\"} %d\n", i, 99 + i);
    }
}

static void gpus(ebuf *b)
{
    header(b, "gpu_utilization_percent", "gauge", "GPU utilization.");
    for (int node = 0; node < 250; node++)
        for (int g = 0; g < 8; g++)
            ebuf_printf(b,
                        "gpu_utilization_percent{gpu_id=\"gpu%d\",gpu_model=\"NVIDIA-A100-40GB\","
                        "gpu_uuid=\"GPU-%08x-%04x\",instance=\"node%03d:9400\"} %.1f\n",
                        g, node * 977 + g, g * 31, node, 20.0 + (node * 8 + g) % 70);
}

static void http_histograms(ebuf *b)
{
    static const char *const le[] = {"0.005", "0.01", "0.025", "0.05", "0.1", "0.25",
                                     "0.5",   "1",    "2.5",   "5",    "10",  "+Inf"};
    header(b, "http_request_duration_seconds", "histogram", "HTTP request latency.");
    for (int h = 0; h < 100; h++) {
        for (int m = 0; m < 4; m++) {
            static const char *const meth[] = {"GET", "POST", "PUT", "DELETE"};
            const char *lbl = "http_request_duration_seconds";
            for (int i = 0; i < 12; i++)
                ebuf_printf(b, "%s_bucket{handler=\"/api/v1/h%d\",method=\"%s\",le=\"%s\"} %d\n",
                            lbl, h, meth[m], le[i], (i + 1) * 1000 + h);
            ebuf_printf(b, "%s_sum{handler=\"/api/v1/h%d\",method=\"%s\"} %.6f\n", lbl, h, meth[m],
                        1234.5678 + h);
            ebuf_printf(b, "%s_count{handler=\"/api/v1/h%d\",method=\"%s\"} %d 1700000000000\n",
                        lbl, h, meth[m], 12000 + h);
        }
    }
}

static void build_document(ebuf *b)
{
    node_cpu(b);
    node_devices(b);
    go_runtime(b);
    gpus(b);
    http_histograms(b);
}

int main(int argc, char **argv)
{
    int iters = argc > 1 ? atoi(argv[1]) : 50;
    if (iters < 1)
        iters = 1;
    ebuf doc;
    ebuf_init(&doc);
    build_document(&doc);

    metric_set ms;
    expfmt_error err;
    metric_set_init(&ms);
    double t0 = now_s();
    for (int i = 0; i < iters; i++) {
        metric_set_clear(&ms);
        if (expfmt_parse(doc.data, doc.len, NULL, &ms, &err) != 0) {
            fprintf(stderr, "parse failed: line %zu, column %zu: %s\n", err.line, err.col, err.msg);
            return 1;
        }
    }
    double parse_s = now_s() - t0;

    ebuf out;
    ebuf_init(&out);
    t0 = now_s();
    for (int i = 0; i < iters; i++) {
        ebuf_reset(&out);
        expfmt_write(&out, &ms);
    }
    double write_s = now_s() - t0;

    double samples = (double)ms.n * iters, mb = (double)doc.len * iters / 1e6;
    printf("document: %zu samples, %zu families, %zu bytes\n", ms.n, ms.nmeta, doc.len);
    printf("parse: %d iterations in %.3f s: %.0f samples/s, %.1f MB/s\n", iters, parse_s,
           samples / parse_s, mb / parse_s);
    printf("write: %d iterations in %.3f s: %.0f samples/s, %.1f MB/s\n", iters, write_s,
           samples / write_s, (double)out.len * iters / 1e6 / write_s);
    ebuf_free(&out);
    metric_set_free(&ms);
    ebuf_free(&doc);
    return 0;
}
