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
#include "agent/collect/procfile.h"
#include "agent/config.h"
#include "agent/http.h"
#include "agent/sender.h"
#include "common/etime.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/options.h"
#include "common/runtime.h"
#include "proto/wire.h"
#include "proto/wire_close.h"

#include <nng/nng.h>
#include <signal.h>
#include <stdatomic.h>
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
    int64_t send_timeout_ms, sender_timeout_ms;
    int64_t min_backoff_ms, max_backoff_ms;
    int64_t max_in_flight;
    char *http_listen;
    char *web_file;        /* the config file, when it has web: (TLS, users, tokens) */
    char *web_config_file; /* --web.config.file: the same in exporter-toolkit's format */
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
    {"sender.timeout", OPT_DURATION, &cfg.sender_timeout_ms, "10s",
     "per-batch timeout: connecting, sending and the aggregator's Ack together", "DUR"},
    {"send-timeout", OPT_DURATION, &cfg.send_timeout_ms, NULL,
     "old name of --sender.timeout (wins when set)", "DUR"},
    {"sender.min-backoff", OPT_DURATION, &cfg.min_backoff_ms, "100ms",
     "shortest wait before resending after a failed attempt", "DUR"},
    {"sender.max-backoff", OPT_DURATION, &cfg.max_backoff_ms, "5s",
     "longest wait before resending (the wait doubles per failure, with full jitter)", "DUR"},
    {"sender.max-in-flight", OPT_INT, &cfg.max_in_flight, "4",
     "batches sent before the oldest is acknowledged (1: one at a time, at most 64)", "N"},
    {"http-listen", OPT_STRING, &cfg.http_listen, NULL,
     "serve the agent's own /metrics and /-/healthy here (default: off; TLS and credentials: "
     "the config file's web: section, re-read on SIGHUP)",
     "HOST:PORT"},
    {"web", OPT_SECTION, &cfg.web_file, NULL, NULL, NULL},
    {"web.config.file", OPT_FILE, &cfg.web_config_file, NULL,
     "Prometheus web configuration file for --http-listen (tls_server_config, basic_auth_users "
     "with bcrypt hashes), instead of the config file's web: section; re-read on SIGHUP",
     "FILE"},
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
 * The scrape client (agent/collect/httpc*.c) keeps process-wide state, the
 * CA bundle of https targets: it is set up before the first scrape thread
 * runs, and only once there is something to scrape, so an agent without
 * targets never holds it.
 */
static bool scrape_ready;

static int scrape_client_init(const scrape_config *sc, char *err, size_t errlen)
{
    if (scrape_ready || sc->ntargets == 0)
        return 0;
    if (collect_scrape_init(err, errlen) != 0)
        return -1;
    scrape_ready = true;
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
    if (load_targets(&next, err, sizeof err) != 0 ||
        scrape_client_init(&next, err, sizeof err) != 0) {
        if (next.targets) /* loaded, but the scrape client could not start */
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
    sender_options o = {.timeout_ms =
                            cfg.send_timeout_ms ? cfg.send_timeout_ms : cfg.sender_timeout_ms,
                        .min_backoff_ms = cfg.min_backoff_ms,
                        .max_backoff_ms = cfg.max_backoff_ms,
                        .max_in_flight = (unsigned)cfg.max_in_flight,
                        .token = token,
                        .tls_ca = cfg.tls_ca,
                        .tls_cert = cfg.tls_cert,
                        .tls_key = cfg.tls_key,
                        .tls_server_name = cfg.tls_server_name};
    int rc = sender_open(cfg.aggregator, ac->agent_id, ac->static_labels, &o, sp, snd, err, errlen);
    free(token);
    if (rc == 0 && sender_start(*snd, err, errlen) != 0) {
        sender_close(*snd);
        return -1;
    }
    return rc;
}

/* What delivery needs: the next seq, the spool, the sender and, with
 * --http-listen, the server of the agent's own metrics. */
typedef struct delivery {
    uint64_t seq;
    spool *sp;
    agent_self self;
    agent_http *http;
    bool seq_failing; /* the seq file could not be written last time */
} delivery;

/* The web: section of the config file or --web.config.file (an empty
 * config when neither is given). */
static int load_web(web_config *wc, char *err, size_t errlen)
{
    return web_config_from(wc, cfg.web_file, cfg.web_config_file, err, errlen);
}

/* --http-listen, guarded by the web: section. */
static int start_http(delivery *d, char *err, size_t errlen)
{
    web_config wc;
    if (load_web(&wc, err, errlen) != 0)
        return -1;
    if (wc.nusers || wc.ntokens || wc.tls_cert_file)
        log_info("HTTP port guarded", "users=%zu tokens=%zu tls=%s", wc.nusers, wc.ntokens,
                 wc.tls_cert_file ? "on" : "off");
    return agent_http_start_with(cfg.http_listen, &d->self, &wc, &d->http, err, errlen);
}

/* SIGHUP: the web: section again; a bad one keeps the running settings. */
static void reload_web(delivery *d)
{
    char err[512], q[600];
    web_config wc;
    if (!d->http)
        return;
    if (load_web(&wc, err, sizeof err) != 0) {
        log_error("web config not reloaded", "err=%s", log_quote(q, sizeof q, err));
        return;
    }
    size_t users = wc.nusers, tokens = wc.ntokens;
    if (agent_http_reload(d->http, &wc, err, sizeof err) != 0)
        log_error("TLS certificate not reloaded", "err=%s", log_quote(q, sizeof q, err));
    else
        log_info("web config reloaded", "users=%zu tokens=%zu", users, tokens);
}

static int start_delivery(const agent_config *ac, delivery *d, char *err, size_t errlen)
{
    memset(d, 0, sizeof *d);
    if (seq_load(cfg.data_dir, &d->seq, err, errlen) != 0 || open_spool(&d->sp, err, errlen))
        return -1;
    spool_stats sst;
    spool_get_stats(d->sp, &sst);
    if (d->seq <= sst.last_seq) /* never reuse a seq the spool already holds */
        d->seq = sst.last_seq + 1;
    if (open_sender(ac, d->sp, &d->self.snd, err, errlen) != 0) {
        spool_close(d->sp);
        return -1;
    }
    if (cfg.http_listen && start_http(d, err, errlen) != 0) {
        sender_close(d->self.snd);
        spool_close(d->sp);
        return -1;
    }
    if (sst.pending)
        log_info("resuming from spool", "pending=%llu acked_seq=%llu corrupt=%llu",
                 (unsigned long long)sst.pending, (unsigned long long)sst.acked_seq,
                 (unsigned long long)sst.corrupt_records);
    return 0;
}

/*
 * A socket close that has not returned for a minute means nng 1.5.2's
 * reaper is stuck (wire_close.h): connections lost from now on would never
 * be redialed.  Exit non-zero so that the supervisor (systemd, the
 * DaemonSet) restarts the agent; the spool keeps every batch.
 */
#define NNG_WEDGED_MS 60000

static bool nng_wedged(void)
{
    if (!wire_closes_stuck(NNG_WEDGED_MS))
        return false;
    log_error("nng is stuck closing a socket (nng 1.5.2, nanomsg/nng#1813); exiting so that "
              "the supervisor restarts the agent, spooled batches are kept",
              "stuck_for_seconds=%d", NNG_WEDGED_MS / 1000);
    return true;
}

static void stop_delivery(delivery *d)
{
    agent_http_stop(d->http);
    sender_close(d->self.snd);
    spool_close(d->sp);
}

/*
 * Persist the next seq before using this one.  When that fails (a full
 * disk) the batch still goes to the spool: a restart takes the seq after
 * the spool's newest, so no seq is ever reused; collection goes on.
 */
static void persist_seq(delivery *d)
{
    char err[512], q[600];
    bool ok = seq_store(cfg.data_dir, d->seq + 1, err, sizeof err) == 0;
    if (!ok)
        log_at(d->seq_failing ? LOG_DEBUG : LOG_ERROR, "cannot persist batch seq", "err=%s",
               log_quote(q, sizeof q, err));
    else if (d->seq_failing)
        log_info("batch seq persisted again", "seq=%llu", (unsigned long long)d->seq);
    d->seq_failing = !ok;
}

/* One round: collect, label, spool; the sending thread does the rest. */
static void collect_round(agent_config *ac, delivery *d, metric_set *ended)
{
    int64_t start = mono_ms();
    metric_set ms;
    metric_set_init(&ms);
    metric_set_move(&ms, ended);
    agent_collect(ac, &ms);
    size_t own = ms.n;
    agent_self_metrics(&d->self, &ms);
    agent_label(ac, &ms, own);
    atomic_store(&d->self.collect_ms, mono_ms() - start);
    atomic_fetch_add(&d->self.collected, 1);
    persist_seq(d);
    ebuf msg;
    ebuf_init(&msg);
    wire_encode_batch(&msg, ac->agent_id, d->seq, &ms, now_ms());
    log_debug("batch", "seq=%llu samples=%zu bytes=%zu", (unsigned long long)d->seq, ms.n, msg.len);
    sender_enqueue(d->self.snd, &msg, d->seq++, (uint32_t)ms.n);
    ebuf_free(&msg);
    metric_set_free(&ms);
}

static int run_loop(agent_config *ac, scrape_config *sc)
{
    char err[512], q[600];
    delivery d;
    if (start_delivery(ac, &d, err, sizeof err) != 0) {
        log_error("cannot start delivery", "err=%s", log_quote(q, sizeof q, err));
        return 1;
    }
    log_info("agent started", "agent_id=%s aggregator=%s interval_ms=%lld targets=%zu http=%s",
             ac->agent_id, cfg.aggregator, (long long)cfg.interval_ms, ac->ntargets,
             d.http ? cfg.http_listen : "off");
    metric_set ended; /* staleness markers of targets a reload removed */
    metric_set_init(&ended);
    int rc = 0;
    for (int64_t next = mono_ms(); !stopping; next += cfg.interval_ms) {
        if (nng_wedged()) {
            rc = 1;
            break;
        }
        if (reload) {
            reload = 0;
            reload_targets(sc, ac, &ended);
            reload_web(&d);
        }
        collect_round(ac, &d, &ended);
        if (mono_ms() > next + cfg.interval_ms)
            next = mono_ms() - cfg.interval_ms; /* fell behind: do not burst */
        sleep_until(next + cfg.interval_ms);
    }
    metric_set_free(&ended);
    stop_delivery(&d);
    if (rc == 0)
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
    if (scrape_client_init(&sc, err, sizeof err) != 0) {
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

/* The timing settings: positive, and the backoff's bounds in order; the
 * sender's window within its bounds. */
static int check_timing(char *err, size_t errlen)
{
    if (cfg.interval_ms <= 0)
        return snprintf(err, errlen, "--interval must be positive"), -1;
    if (cfg.sender_timeout_ms <= 0)
        return snprintf(err, errlen, "--sender.timeout must be positive"), -1;
    if (cfg.min_backoff_ms <= 0 || cfg.max_backoff_ms < cfg.min_backoff_ms)
        return snprintf(err, errlen,
                        "--sender.min-backoff must be positive and at most --sender.max-backoff"),
               -1;
    if (cfg.max_in_flight < 1 || cfg.max_in_flight > SENDER_MAX_IN_FLIGHT)
        return snprintf(err, errlen, "--sender.max-in-flight must be between 1 and %d",
                        SENDER_MAX_IN_FLIGHT),
               -1;
    return 0;
}

/* The settings that only fail at start, checked without starting. */
static int check_settings(char *err, size_t errlen)
{
    spool_sync sync;
    spool_full full;
    if (check_timing(err, errlen) != 0)
        return -1;
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
    web_config wc;
    if (load_web(&wc, err, errlen) != 0)
        return -1;
    web_config_free(&wc);
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
    /* First: a SIGTERM during start-up is a clean stop too (the loop sees it). */
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    struct sigaction hup = {.sa_handler = on_hup};
    sigaction(SIGHUP, &hup, NULL);
    int rc = runtime_start(&program, specs, NSPECS, argc, argv);
    if (rc != RUNTIME_CONTINUE)
        return rc;
    char err[512];
    if (check_timing(err, sizeof err) != 0) {
        fprintf(stderr, "ember-agent: %s\n", err);
        opts_free(specs, NSPECS);
        return 2;
    }
    if (cfg.check_config) {
        rc = check_config(cfg.check_config);
        opts_free(specs, NSPECS);
        return rc;
    }
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
    if (scrape_ready)
        collect_scrape_cleanup();
    opts_free(specs, NSPECS);
    wire_fini();
    return rc;
}
