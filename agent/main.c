/*
 * main.c — ember-agent: settings, the collection loop and shutdown.
 *
 * Every interval: collect, encode a Batch with the next seq (persisted
 * first, so a restart never reuses one), queue it, and flush the queue in
 * order.  An unreachable aggregator only makes the queue grow; collection
 * keeps its rhythm.  `--once` prints one collection as exposition text.
 */
#include "agent/agent.h"
#include "agent/sender.h"
#include "common/etime.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/options.h"
#include "common/runtime.h"
#include "common/procstats.h"
#include "proto/wire.h"

#include <nng/nng.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct settings {
    char *aggregator;
    strlist scrape;
    int64_t interval_ms;
    int64_t scrape_timeout_ms;
    int64_t send_timeout_ms;
    int64_t queue_max;
    bool once;
    char *instance;
    char *agent_id;
    labelset labels;
    char *data_dir;
    char *root;
    bool cpu, meminfo, loadavg;
    char *log_level;
} settings;

static settings cfg;

static const opt_spec specs[] = {
    {"aggregator", OPT_STRING, &cfg.aggregator, "tcp://127.0.0.1:7070",
     "nng address of the aggregator's ingest endpoint", "URL"},
    {"scrape", OPT_STRLIST, &cfg.scrape, NULL, "a local /metrics endpoint to scrape (repeatable)",
     "[JOB=]URL"},
    {"interval", OPT_DURATION, &cfg.interval_ms, "15s", "collection interval", "DUR"},
    {"scrape-timeout", OPT_DURATION, &cfg.scrape_timeout_ms, "10s", "timeout of one scrape", "DUR"},
    {"send-timeout", OPT_DURATION, &cfg.send_timeout_ms, "10s",
     "how long to wait for the aggregator's Ack", "DUR"},
    {"queue.max-batches", OPT_INT, &cfg.queue_max, "240",
     "batches kept while the aggregator is unreachable (oldest dropped first)", "N"},
    {"once", OPT_BOOL, &cfg.once, "false",
     "print one collection in text exposition format and exit", NULL},
    {"instance", OPT_STRING, &cfg.instance, NULL, "instance label (default: the host name)",
     "NAME"},
    {"agent-id", OPT_STRING, &cfg.agent_id, NULL, "agent identity (default: the instance)", "ID"},
    {"labels", OPT_LABELS, &cfg.labels, NULL, "static label added to every series (repeatable)",
     "NAME=VALUE"},
    {"data-dir", OPT_DIR, &cfg.data_dir, "data/agent", "directory for the agent's state", "DIR"},
    {"path.rootfs", OPT_STRING, &cfg.root, "/", "root of /proc and /sys (for containers)", "DIR"},
    {"collector.cpu", OPT_BOOL, &cfg.cpu, "true", "collect node_cpu_seconds_total", NULL},
    {"collector.meminfo", OPT_BOOL, &cfg.meminfo, "true", "collect node_memory_*_bytes", NULL},
    {"collector.loadavg", OPT_BOOL, &cfg.loadavg, "true", "collect node_load1/5/15", NULL},
    {"log.level", OPT_STRING, &cfg.log_level, "info", "debug, info, warn or error", "LEVEL"},
};
#define NSPECS (sizeof specs / sizeof specs[0])

static const opt_program program = {
    "ember-agent", EMBER_VERSION,
    "Ember agent: collects host metrics and local /metrics endpoints and pushes them to the "
    "aggregator."};

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
    stopping = sig;
}

static void self_metrics(sender *snd, int64_t collect_ms, metric_set *ms)
{
    sender_stats st;
    sender_get_stats(snd, &st);
    const char *b = "ember_agent_batches_total";
    metric_set_meta(ms, b, METRIC_COUNTER, "Batches by delivery result.");
    metric_set_addl(ms, b, (double)st.acked, "result", "acked", NULL);
    metric_set_addl(ms, b, (double)st.rejected, "result", "rejected", NULL);
    metric_set_addl(ms, b, (double)st.dropped, "result", "dropped", NULL);
    metric_set_meta(ms, "ember_agent_send_failures_total", METRIC_COUNTER,
                    "Failed attempts to deliver a batch.");
    metric_set_addl(ms, "ember_agent_send_failures_total", (double)st.failed_attempts, NULL);
    metric_set_meta(ms, "ember_agent_queued_batches", METRIC_GAUGE,
                    "Batches waiting for the aggregator.");
    metric_set_addl(ms, "ember_agent_queued_batches", (double)st.queued, NULL);
    metric_set_meta(ms, "ember_agent_collect_duration_seconds", METRIC_GAUGE,
                    "Duration of the previous collection round.");
    metric_set_addl(ms, "ember_agent_collect_duration_seconds", (double)collect_ms / 1000.0, NULL);
    procstats_collect(ms);
}

static void sleep_until(int64_t deadline)
{
    while (!stopping) {
        int64_t left = deadline - mono_ms();
        if (left <= 0)
            return;
        sleep_ms(left < 200 ? left : 200);
    }
}

static int run_loop(const agent_config *ac)
{
    char err[512], q[600];
    uint64_t seq;
    if (seq_load(cfg.data_dir, &seq, err, sizeof err) != 0) {
        log_error("cannot load state", "err=%s", log_quote(q, sizeof q, err));
        return 1;
    }
    sender *snd;
    if (sender_open(cfg.aggregator, ac->agent_id, ac->static_labels, cfg.send_timeout_ms,
                    (size_t)cfg.queue_max, &snd, err, sizeof err) != 0) {
        log_error("cannot start sender", "err=%s", log_quote(q, sizeof q, err));
        return 1;
    }
    log_info("agent started", "agent_id=%s aggregator=%s interval_ms=%lld targets=%zu",
             ac->agent_id, cfg.aggregator, (long long)cfg.interval_ms, ac->ntargets);
    int64_t collect_ms = 0;
    int rc = 0;
    for (int64_t next = mono_ms(); !stopping; next += cfg.interval_ms) {
        int64_t start = mono_ms();
        metric_set ms;
        metric_set_init(&ms);
        agent_collect(ac, &ms);
        self_metrics(snd, collect_ms, &ms);
        collect_ms = mono_ms() - start;
        if (seq_store(cfg.data_dir, seq + 1, err, sizeof err) != 0) {
            log_error("cannot persist batch seq", "err=%s", log_quote(q, sizeof q, err));
            metric_set_free(&ms);
            rc = 1;
            break;
        }
        ebuf msg;
        ebuf_init(&msg);
        wire_encode_batch(&msg, ac->agent_id, seq, &ms, now_ms());
        log_debug("batch", "seq=%llu samples=%zu bytes=%zu", (unsigned long long)seq, ms.n,
                  msg.len);
        sender_enqueue(snd, &msg, seq++);
        ebuf_free(&msg);
        metric_set_free(&ms);
        size_t left = sender_flush(snd);
        if (left)
            log_warn("aggregator unreachable, batches queued", "queued=%zu", left);
        if (mono_ms() > next + cfg.interval_ms)
            next = mono_ms() - cfg.interval_ms; /* fell behind: do not burst */
        sleep_until(next + cfg.interval_ms);
    }
    sender_close(snd);
    log_info("agent stopped", "signal=%d", (int)stopping);
    return rc;
}

static int print_once(const agent_config *ac)
{
    metric_set ms;
    metric_set_init(&ms);
    agent_collect(ac, &ms);
    ebuf out;
    ebuf_init(&out);
    expfmt_write(&out, &ms);
    fwrite(out.data, 1, out.len, stdout);
    ebuf_free(&out);
    metric_set_free(&ms);
    return 0;
}

static int parse_targets(scrape_target **out, size_t *n)
{
    *out = em_calloc(cfg.scrape.n ? cfg.scrape.n : 1, sizeof(scrape_target));
    *n = cfg.scrape.n;
    for (size_t i = 0; i < cfg.scrape.n; i++) {
        char err[512];
        if (scrape_target_parse(cfg.scrape.v[i], &(*out)[i], err, sizeof err) != 0) {
            fprintf(stderr, "ember-agent: --scrape: %s\n", err);
            return -1;
        }
    }
    return 0;
}

static int run(void)
{
    char host[256] = "localhost";
    gethostname(host, sizeof host - 1);
    const char *instance = cfg.instance ? cfg.instance : host;
    scrape_target *targets;
    size_t ntargets;
    if (parse_targets(&targets, &ntargets) != 0) {
        for (size_t i = 0; i < ntargets; i++)
            scrape_target_free(&targets[i]);
        free(targets);
        return 2;
    }
    agent_config ac = {
        .agent_id = cfg.agent_id ? cfg.agent_id : instance,
        .instance = instance,
        .static_labels = &cfg.labels,
        .root = cfg.root,
        .cpu = cfg.cpu,
        .meminfo = cfg.meminfo,
        .loadavg = cfg.loadavg,
        .targets = targets,
        .ntargets = ntargets,
        .scrape_timeout_ms = cfg.scrape_timeout_ms,
    };
    int rc = cfg.once ? print_once(&ac) : run_loop(&ac);
    for (size_t i = 0; i < ntargets; i++)
        scrape_target_free(&targets[i]);
    free(targets);
    return rc;
}

int main(int argc, char **argv)
{
    int rc = runtime_start(&program, specs, NSPECS, argc, argv);
    if (rc != RUNTIME_CONTINUE)
        return rc;
    char err[512];
    if (cfg.interval_ms <= 0) {
        fprintf(stderr, "ember-agent: --interval must be positive\n");
        opts_free(specs, NSPECS);
        return 2;
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (collect_scrape_init(err, sizeof err) != 0) {
        fprintf(stderr, "ember-agent: %s\n", err);
        opts_free(specs, NSPECS);
        return 1;
    }
    rc = run();
    collect_scrape_cleanup();
    opts_free(specs, NSPECS);
    nng_fini();
    return rc;
}
