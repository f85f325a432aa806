/*
 * main.c — ember-agent: settings, the collection loop and shutdown.
 *
 * Every interval: collect, encode a Batch with the next seq (persisted
 * first, so a restart never reuses one), append it to the disk spool, and
 * send the spool in order.  An unreachable aggregator only makes the spool
 * grow, within its byte bound; collection keeps its rhythm.  `--once`
 * prints one collection as exposition text.
 */
#include "agent/agent.h"
#include "agent/config.h"
#include "agent/collect/procfile.h"
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
    char *scrape_config;
    char *check_config;
    int64_t interval_ms;
    int64_t scrape_timeout_ms;
    int64_t send_timeout_ms;
    char *spool_dir;
    int64_t spool_max_bytes;
    char *spool_sync;
    char *spool_full;
    char *token, *token_file;
    char *tls_ca, *tls_cert, *tls_key, *tls_server_name;
    bool once;
    char *instance;
    char *agent_id;
    labelset labels;
    char *data_dir;
    char *root;
    bool cpu, meminfo, loadavg;
    bool stat, vmstat, diskstats, filesystem, netdev, pressure, time, uname, hwmon;
    bool collector_status;
    bool gpu, gpu_dcgm, gpu_processes;
    bool cgroup;
    char *cgroup_root;
    char *nvml_library;
    char *mount_points_exclude, *fs_types_exclude, *disk_exclude, *netdev_exclude, *vmstat_fields;
    char *log_level;
} settings;

static settings cfg;

static const opt_spec specs[] = {
    {"aggregator", OPT_STRING, &cfg.aggregator, "tcp://127.0.0.1:7070",
     "nng address of the aggregator's ingest endpoint", "URL"},
    {"scrape", OPT_STRLIST, &cfg.scrape, NULL, "a local /metrics endpoint to scrape (repeatable)",
     "[JOB=]URL"},
    {"scrape-config", OPT_STRING, &cfg.scrape_config, NULL,
     "scrape targets, relabeling and limits in Prometheus's scrape_configs format (re-read on "
     "SIGHUP)",
     "FILE"},
    {"check-config", OPT_STRING, &cfg.check_config, NULL,
     "check this settings file (and the scrape config it names) and exit: 0 when valid", "FILE"},
    {"interval", OPT_DURATION, &cfg.interval_ms, "15s", "collection interval", "DUR"},
    {"scrape-timeout", OPT_DURATION, &cfg.scrape_timeout_ms, "10s", "timeout of one scrape", "DUR"},
    {"send-timeout", OPT_DURATION, &cfg.send_timeout_ms, "10s",
     "how long to wait for the aggregator's Ack", "DUR"},
    {"token", OPT_STRING, &cfg.token, NULL,
     "token sent to the aggregator in Hello (prefer --token-file: flags are visible in ps)",
     "TOKEN"},
    {"token-file", OPT_FILE, &cfg.token_file, NULL,
     "file holding the token (surrounding whitespace ignored)", "FILE"},
    {"tls-ca", OPT_FILE, &cfg.tls_ca, NULL,
     "CA (PEM) that signed the aggregator's certificate, for tls+tcp:// addresses", "FILE"},
    {"tls-cert", OPT_FILE, &cfg.tls_cert, NULL, "client certificate (PEM) for mutual TLS", "FILE"},
    {"tls-key", OPT_FILE, &cfg.tls_key, NULL, "private key (PEM) of --tls-cert", "FILE"},
    {"tls-server-name", OPT_STRING, &cfg.tls_server_name, NULL,
     "DNS name the aggregator's certificate must carry (default: the address's host)", "NAME"},
    {"spool.dir", OPT_STRING, &cfg.spool_dir, NULL,
     "where batches wait for the aggregator's Ack (default: DATA-DIR/spool)", "DIR"},
    {"spool.max-bytes", OPT_BYTES, &cfg.spool_max_bytes, "512MiB", "bound of the spool on disk",
     "BYTES"},
    {"spool.sync", OPT_STRING, &cfg.spool_sync, "always",
     "when spooled batches are fsynced: always, interval (1 s) or never", "POLICY"},
    {"spool.full", OPT_STRING, &cfg.spool_full, "drop-oldest",
     "when the spool is full: drop-oldest batches, or reject new ones", "POLICY"},
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
    {"collector.stat", OPT_BOOL, &cfg.stat, "true",
     "collect boot time, context switches, forks, interrupts, procs (/proc/stat)", NULL},
    {"collector.vmstat", OPT_BOOL, &cfg.vmstat, "true", "collect node_vmstat_*", NULL},
    {"collector.diskstats", OPT_BOOL, &cfg.diskstats, "true", "collect node_disk_*", NULL},
    {"collector.filesystem", OPT_BOOL, &cfg.filesystem, "true", "collect node_filesystem_*", NULL},
    {"collector.netdev", OPT_BOOL, &cfg.netdev, "true",
     "collect node_network_{receive,transmit}_*_total", NULL},
    {"collector.pressure", OPT_BOOL, &cfg.pressure, "true", "collect node_pressure_* (PSI)", NULL},
    {"collector.time", OPT_BOOL, &cfg.time, "true", "collect node_time_*", NULL},
    {"collector.uname", OPT_BOOL, &cfg.uname, "true", "collect node_uname_info", NULL},
    {"collector.hwmon", OPT_BOOL, &cfg.hwmon, "true", "collect node_hwmon_* temperatures", NULL},
    {"collector.gpu", OPT_BOOL, &cfg.gpu, "true",
     "collect gpu_* through NVML (no GPU or driver: no series, one log line)", NULL},
    {"collector.gpu.nvml-library", OPT_STRING, &cfg.nvml_library, "libnvidia-ml.so.1",
     "NVML library to dlopen", "PATH"},
    {"collector.gpu.dcgm-names", OPT_BOOL, &cfg.gpu_dcgm, "false",
     "also export dcgm-exporter's DCGM_FI_DEV_* names, labels and units", NULL},
    {"collector.gpu.processes", OPT_BOOL, &cfg.gpu_processes, "true",
     "export gpu_process_memory_bytes{pid,container,pod,namespace}", NULL},
    {"collector.cgroup", OPT_BOOL, &cfg.cgroup, "true",
     "collect cAdvisor's container_* per container, pod and systemd service (cgroup v2 only)",
     NULL},
    {"path.cgroup", OPT_STRING, &cfg.cgroup_root, NULL,
     "the cgroup v2 hierarchy (default: ROOTFS/sys/fs/cgroup)", "DIR"},
    {"collector.status", OPT_BOOL, &cfg.collector_status, "true",
     "export node_scrape_collector_{success,duration_seconds} per host collector", NULL},
    {"collector.filesystem.mount-points-exclude", OPT_STRING, &cfg.mount_points_exclude, NULL,
     "regex of mount points to skip (default: node_exporter's)", "REGEX"},
    {"collector.filesystem.fs-types-exclude", OPT_STRING, &cfg.fs_types_exclude, NULL,
     "regex of file system types to skip (default: node_exporter's)", "REGEX"},
    {"collector.diskstats.device-exclude", OPT_STRING, &cfg.disk_exclude, NULL,
     "regex of block devices to skip (default: node_exporter's)", "REGEX"},
    {"collector.netdev.device-exclude", OPT_STRING, &cfg.netdev_exclude, NULL,
     "regex of network interfaces to skip (default: ^lo$)", "REGEX"},
    {"collector.vmstat.fields", OPT_STRING, &cfg.vmstat_fields, NULL,
     "regex of /proc/vmstat fields to export (default: node_exporter's)", "REGEX"},
    {"log.level", OPT_STRING, &cfg.log_level, "info", "debug, info, warn or error", "LEVEL"},
};
#define NSPECS (sizeof specs / sizeof specs[0])

static const opt_program program = {
    "ember-agent", EMBER_VERSION,
    "Ember agent: collects host metrics and local /metrics endpoints and pushes them to the "
    "aggregator."};

static volatile sig_atomic_t stopping, reload;

static void on_signal(int sig)
{
    stopping = sig;
}

static void on_hup(int sig)
{
    (void)sig;
    reload = 1;
}

static void gauge(metric_set *ms, const char *name, const char *help, double v)
{
    metric_set_meta(ms, name, METRIC_GAUGE, help);
    metric_set_addl(ms, name, v, NULL);
}

static void counter(metric_set *ms, const char *name, const char *help, double v)
{
    metric_set_meta(ms, name, METRIC_COUNTER, help);
    metric_set_addl(ms, name, v, NULL);
}

static void self_metrics(sender *snd, int64_t collect_ms, metric_set *ms)
{
    sender_stats st;
    sender_get_stats(snd, &st);
    const char *b = "ember_agent_batches_total";
    metric_set_meta(ms, b, METRIC_COUNTER, "Batches by delivery result.");
    metric_set_addl(ms, b, (double)st.acked, "result", "acked", NULL);
    metric_set_addl(ms, b, (double)st.rejected, "result", "rejected", NULL);
    metric_set_addl(ms, b, (double)st.spool.dropped_records, "result", "dropped", NULL);
    metric_set_addl(ms, b, (double)st.spool_errors, "result", "not_spooled", NULL);
    counter(ms, "ember_agent_auth_rejected_total",
            "Hellos the aggregator refused (invalid token); batches stay spooled.",
            (double)st.auth_rejected);
    counter(ms, "ember_agent_send_failures_total", "Failed attempts to deliver a batch.",
            (double)st.failed_attempts);
    gauge(ms, "ember_agent_spool_bytes", "Bytes of the spool on disk.", (double)st.spool.bytes);
    gauge(ms, "ember_agent_spool_pending_batches", "Batches waiting for the aggregator's Ack.",
          (double)st.spool.pending);
    gauge(ms, "ember_agent_spool_oldest_pending_age_seconds",
          "Age of the oldest batch waiting for the aggregator.",
          st.spool.oldest_pending_ms ? (double)(now_ms() - st.spool.oldest_pending_ms) / 1000.0
                                     : 0.0);
    counter(ms, "ember_agent_spool_dropped_samples_total",
            "Samples dropped because the spool was full (oldest first).",
            (double)st.spool.dropped_samples);
    counter(ms, "ember_agent_spool_corrupt_records_total",
            "Spool records skipped because they were torn or failed their checksum.",
            (double)st.spool.corrupt_records);
    gauge(ms, "ember_agent_collect_duration_seconds", "Duration of the previous collection round.",
          (double)collect_ms / 1000.0);
    procstats_collect(ms);
}

static void sleep_until(int64_t deadline)
{
    while (!stopping && !reload) {
        int64_t left = deadline - mono_ms();
        if (left <= 0)
            return;
        sleep_ms(left < 200 ? left : 200);
    }
}

static int open_spool(spool **out, char *err, size_t errlen)
{
    spool_options o = {.max_bytes = cfg.spool_max_bytes};
    if (!spool_sync_parse(cfg.spool_sync, &o.sync)) {
        snprintf(err, errlen, "--spool.sync: \"%s\" is not always, interval or never",
                 cfg.spool_sync);
        return -1;
    }
    if (!spool_full_parse(cfg.spool_full, &o.full)) {
        snprintf(err, errlen, "--spool.full: \"%s\" is not drop-oldest or reject", cfg.spool_full);
        return -1;
    }
    char dir[4096];
    if (cfg.spool_dir)
        snprintf(dir, sizeof dir, "%s", cfg.spool_dir);
    else
        snprintf(dir, sizeof dir, "%s/spool", cfg.data_dir);
    return spool_open(dir, &o, out, err, errlen) == SPOOL_OK ? 0 : -1;
}

/*
 * libcurl's global setup touches libcurl's TLS libraries (libcrypto's pages
 * count in our RSS), so it happens only once there is something to scrape.
 */
static bool curl_ready;

static int need_curl(const scrape_config *sc, char *err, size_t errlen)
{
    if (curl_ready || sc->ntargets == 0)
        return 0;
    if (collect_scrape_init(err, errlen) != 0)
        return -1;
    curl_ready = true;
    return 0;
}

/* The --scrape URLs and the --scrape-config file's targets, in one list. */
static int load_targets(scrape_config *sc, char *err, size_t errlen)
{
    memset(sc, 0, sizeof *sc);
    if (cfg.scrape_config && scrape_config_load(sc, cfg.scrape_config, err, errlen) != 0)
        return -1;
    for (size_t i = 0; i < cfg.scrape.n; i++) {
        scrape_target t;
        char why[512];
        if (scrape_target_parse(cfg.scrape.v[i], &t, why, sizeof why) != 0) {
            snprintf(err, errlen, "--scrape: %s", why);
            scrape_config_free(sc);
            return -1;
        }
        sc->targets = em_realloc(sc->targets, (sc->ntargets + 1) * sizeof t);
        sc->targets[sc->ntargets++] = t;
    }
    return 0;
}

static bool same_target(const scrape_target *a, const scrape_target *b)
{
    return strcmp(a->job, b->job) == 0 && strcmp(a->url, b->url) == 0 &&
           strcmp(a->instance ? a->instance : "", b->instance ? b->instance : "") == 0;
}

/*
 * SIGHUP: read the scrape config again.  A target that stays keeps its
 * series memory and rhythm; one that went ends its series with staleness
 * markers (into ended, sent with the next batch).  A bad file changes
 * nothing and says why.
 */
static void reload_targets(scrape_config *sc, agent_config *ac, metric_set *ended)
{
    char err[512], q[600];
    scrape_config next;
    if (load_targets(&next, err, sizeof err) != 0 || need_curl(&next, err, sizeof err) != 0) {
        if (next.targets) /* loaded, but libcurl failed */
            scrape_config_free(&next);
        log_error("reload failed, keeping the running configuration", "err=%s",
                  log_quote(q, sizeof q, err));
        return;
    }
    for (size_t i = 0; i < sc->ntargets; i++) {
        scrape_target *old = &sc->targets[i];
        size_t k = 0;
        while (k < next.ntargets && !same_target(old, &next.targets[k]))
            k++;
        if (k == next.ntargets) {
            stale_tracker_end(&old->stale, ended, now_ms());
            continue;
        }
        stale_tracker_free(&next.targets[k].stale);
        next.targets[k].stale = old->stale;
        next.targets[k].next_due_ms = old->next_due_ms;
        stale_tracker_init(&old->stale);
    }
    scrape_config_free(sc);
    *sc = next;
    ac->targets = sc->targets;
    ac->ntargets = sc->ntargets;
    log_info("configuration reloaded", "targets=%zu", sc->ntargets);
}

/* The token of --token-file (or --token), trimmed; NULL when none. */
static char *load_token(char *err, size_t errlen)
{
    if (!cfg.token_file)
        return cfg.token ? em_strdup(cfg.token) : NULL;
    FILE *f = fopen(cfg.token_file, "r");
    char buf[1024] = "";
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    char *p = buf + strspn(buf, " \t\r\n");
    p[strcspn(p, " \t\r\n")] = '\0';
    if (!*p) {
        snprintf(err, errlen, "--token-file %s: no token in it", cfg.token_file);
        return NULL;
    }
    return em_strdup(p);
}

static int open_sender(const agent_config *ac, spool *sp, sender **snd, char *err, size_t errlen)
{
    err[0] = '\0';
    char *token = load_token(err, errlen);
    if (err[0])
        return -1;
    sender_options o = {.timeout_ms = cfg.send_timeout_ms,
                        .token = token,
                        .tls_ca = cfg.tls_ca,
                        .tls_cert = cfg.tls_cert,
                        .tls_key = cfg.tls_key,
                        .tls_server_name = cfg.tls_server_name};
    int rc = sender_open(cfg.aggregator, ac->agent_id, ac->static_labels, &o, sp, snd, err, errlen);
    free(token);
    return rc;
}

static int run_loop(agent_config *ac, scrape_config *sc)
{
    char err[512], q[600];
    uint64_t seq;
    spool *sp;
    if (seq_load(cfg.data_dir, &seq, err, sizeof err) != 0 || open_spool(&sp, err, sizeof err)) {
        log_error("cannot load state", "err=%s", log_quote(q, sizeof q, err));
        return 1;
    }
    spool_stats sst;
    spool_get_stats(sp, &sst);
    if (seq <= sst.last_seq) /* never reuse a seq the spool already holds */
        seq = sst.last_seq + 1;
    sender *snd;
    if (open_sender(ac, sp, &snd, err, sizeof err) != 0) {
        log_error("cannot start sender", "err=%s", log_quote(q, sizeof q, err));
        spool_close(sp);
        return 1;
    }
    if (sst.pending)
        log_info("resuming from spool", "pending=%llu acked_seq=%llu corrupt=%llu",
                 (unsigned long long)sst.pending, (unsigned long long)sst.acked_seq,
                 (unsigned long long)sst.corrupt_records);
    log_info("agent started", "agent_id=%s aggregator=%s interval_ms=%lld targets=%zu",
             ac->agent_id, cfg.aggregator, (long long)cfg.interval_ms, ac->ntargets);
    int64_t collect_ms = 0;
    int rc = 0;
    metric_set ended; /* staleness markers of targets a reload removed */
    metric_set_init(&ended);
    for (int64_t next = mono_ms(); !stopping; next += cfg.interval_ms) {
        if (reload) {
            reload = 0;
            reload_targets(sc, ac, &ended);
        }
        int64_t start = mono_ms();
        metric_set ms;
        metric_set_init(&ms);
        metric_set_move(&ms, &ended);
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
        sender_enqueue(snd, &msg, seq++, (uint32_t)ms.n);
        ebuf_free(&msg);
        metric_set_free(&ms);
        size_t left = sender_flush(snd);
        if (left)
            log_warn("aggregator unreachable, batches spooled", "pending=%zu", left);
        if (mono_ms() > next + cfg.interval_ms)
            next = mono_ms() - cfg.interval_ms; /* fell behind: do not burst */
        sleep_until(next + cfg.interval_ms);
    }
    metric_set_free(&ended);
    sender_close(snd);
    spool_close(sp);
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

/* The GPU collector, or NULL with one log line saying why there is none. */
static gpu_collector *open_gpu(const char *hostname)
{
    if (!cfg.gpu)
        return NULL;
    gpu_options opt = {.library = cfg.nvml_library,
                       .root = cfg.root,
                       .hostname = hostname,
                       .dcgm_names = cfg.gpu_dcgm,
                       .processes = cfg.gpu_processes};
    gpu_collector *g = NULL;
    char err[512], q[600];
    if (gpu_open(&g, &opt, err, sizeof err) != 0)
        log_info("no GPU series", "reason=%s", log_quote(q, sizeof q, err));
    else
        log_info("GPU collector ready", "gpus=%u", gpu_count(g));
    return g;
}

/* The container collector, or NULL with one log line saying why there is none. */
static cgroup_collector *open_cgroup(void)
{
    if (!cfg.cgroup)
        return NULL;
    cgroup_options opt = {.root = cfg.root, .cgroup_root = cfg.cgroup_root};
    cgroup_collector *c = NULL;
    char err[512], q[600];
    if (cgroup_open(&c, &opt, err, sizeof err) != 0)
        log_info("no container series", "reason=%s", log_quote(q, sizeof q, err));
    return c;
}

static int run(const host_filters *filters)
{
    char host[256] = "localhost";
    gethostname(host, sizeof host - 1);
    const char *instance = cfg.instance ? cfg.instance : host;
    scrape_config sc;
    char err[512];
    if (load_targets(&sc, err, sizeof err) != 0) {
        fprintf(stderr, "ember-agent: %s\n", err);
        return 2;
    }
    if (need_curl(&sc, err, sizeof err) != 0) {
        fprintf(stderr, "ember-agent: %s\n", err);
        scrape_config_free(&sc);
        return 1;
    }
    agent_config ac = {
        .agent_id = cfg.agent_id ? cfg.agent_id : instance,
        .instance = instance,
        .static_labels = &cfg.labels,
        .root = cfg.root,
        .cpu = cfg.cpu,
        .meminfo = cfg.meminfo,
        .loadavg = cfg.loadavg,
        .stat = cfg.stat,
        .vmstat = cfg.vmstat,
        .diskstats = cfg.diskstats,
        .filesystem = cfg.filesystem,
        .netdev = cfg.netdev,
        .pressure = cfg.pressure,
        .time = cfg.time,
        .uname = cfg.uname,
        .hwmon = cfg.hwmon,
        .filters = filters,
        .collector_meta = cfg.collector_status,
        .gpu = open_gpu(host),
        .cgroup = open_cgroup(),
        .targets = sc.targets,
        .ntargets = sc.ntargets,
        .scrape_timeout_ms = cfg.scrape_timeout_ms,
    };
    int rc = cfg.once ? print_once(&ac) : run_loop(&ac, &sc);
    gpu_close(ac.gpu);
    cgroup_close(ac.cgroup);
    scrape_config_free(&sc);
    return rc;
}

/* The settings that only fail at start, checked without starting. */
static int check_settings(char *err, size_t errlen)
{
    spool_sync sync;
    spool_full full;
    if (cfg.interval_ms <= 0)
        return snprintf(err, errlen, "interval must be positive"), -1;
    if (!spool_sync_parse(cfg.spool_sync, &sync))
        return snprintf(err, errlen, "spool.sync: \"%s\" is not always, interval or never",
                        cfg.spool_sync),
               -1;
    if (!spool_full_parse(cfg.spool_full, &full))
        return snprintf(err, errlen, "spool.full: \"%s\" is not drop-oldest or reject",
                        cfg.spool_full),
               -1;
    host_filters f;
    host_filter_spec fspec = {cfg.mount_points_exclude, cfg.fs_types_exclude, cfg.disk_exclude,
                              cfg.netdev_exclude, cfg.vmstat_fields};
    if (host_filters_init(&f, &fspec, err, errlen) != 0)
        return -1;
    host_filters_free(&f);
    scrape_config sc;
    if (load_targets(&sc, err, errlen) != 0)
        return -1;
    scrape_config_free(&sc);
    return 0;
}

/* --check-config FILE: FILE's settings on top of the flags, then every check. */
static int check_config(const char *path)
{
    char err[1024];
    ebuf text;
    ebuf_init(&text);
    int rc = host_read_file(&text, path[0] == '/' ? "/" : ".", path, err, sizeof err);
    if (rc == 0)
        rc = opts_load_yaml_buffer(specs, NSPECS, path, text.data, text.len, err, sizeof err) ==
                     OPTS_OK
                 ? 0
                 : -1;
    ebuf_free(&text);
    if (rc == 0)
        rc = check_settings(err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "ember-agent: %s\n", err);
        return 1;
    }
    printf("%s: ok\n", path);
    return 0;
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
    if (cfg.check_config) {
        rc = check_config(cfg.check_config);
        opts_free(specs, NSPECS);
        return rc;
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    struct sigaction hup = {.sa_handler = on_hup};
    sigaction(SIGHUP, &hup, NULL);
    sigset_t hupset; /* a parent may have left it blocked (ctest does) */
    sigemptyset(&hupset);
    sigaddset(&hupset, SIGHUP);
    sigprocmask(SIG_UNBLOCK, &hupset, NULL);
    signal(SIGPIPE, SIG_IGN);
    host_filters filters;
    host_filter_spec fspec = {cfg.mount_points_exclude, cfg.fs_types_exclude, cfg.disk_exclude,
                              cfg.netdev_exclude, cfg.vmstat_fields};
    if (host_filters_init(&filters, &fspec, err, sizeof err) != 0) {
        fprintf(stderr, "ember-agent: %s\n", err);
        opts_free(specs, NSPECS);
        return 2;
    }
    rc = run(&filters);
    host_filters_free(&filters);
    if (curl_ready)
        collect_scrape_cleanup();
    opts_free(specs, NSPECS);
    nng_fini();
    return rc;
}
