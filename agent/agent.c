/*
 * agent.c — a collection round (host collectors + scrapes, labelled and
 * time-stamped), scrape target specs, and the persisted batch seq.
 */
#include "agent/agent.h"

#include "common/etime.h"
#include "common/log.h"
#include "common/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void label_samples(metric_set *ms, size_t from, const agent_config *cfg, int64_t ts,
                          bool set_instance)
{
    for (size_t i = from; i < ms->n; i++) {
        metric_sample *s = &ms->samples[i];
        if (set_instance && !labels_get(&s->labels, "instance"))
            labels_set(&s->labels, "instance", cfg->instance);
        for (size_t k = 0; cfg->static_labels && k < cfg->static_labels->n; k++)
            if (!labels_get(&s->labels, cfg->static_labels->v[k].name))
                labels_set(&s->labels, cfg->static_labels->v[k].name,
                           cfg->static_labels->v[k].value);
        if (!s->has_ts) {
            s->has_ts = true;
            s->ts_ms = ts;
        }
    }
}

void agent_label(const agent_config *cfg, metric_set *ms, size_t from)
{
    label_samples(ms, from, cfg, now_ms(), true);
}

/* Where each host collector's switch lives in agent_config, by name. */
static const struct {
    const char *name;
    size_t offset;
} switches[] = {
    {"cpu", offsetof(agent_config, cpu)},
    {"meminfo", offsetof(agent_config, meminfo)},
    {"loadavg", offsetof(agent_config, loadavg)},
    {"stat", offsetof(agent_config, stat)},
    {"vmstat", offsetof(agent_config, vmstat)},
    {"diskstats", offsetof(agent_config, diskstats)},
    {"filesystem", offsetof(agent_config, filesystem)},
    {"netdev", offsetof(agent_config, netdev)},
    {"pressure", offsetof(agent_config, pressure)},
    {"time", offsetof(agent_config, time)},
    {"uname", offsetof(agent_config, uname)},
    {"hwmon", offsetof(agent_config, hwmon)},
};

static int64_t mono_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

static bool enabled(const agent_config *cfg, const char *name)
{
    for (size_t i = 0; i < sizeof switches / sizeof switches[0]; i++)
        if (strcmp(switches[i].name, name) == 0)
            return *(const bool *)((const char *)cfg + switches[i].offset);
    return false;
}

static void collector_meta(metric_set *meta, const char *name, bool ok, int64_t took_us)
{
    metric_set_meta(meta, "node_scrape_collector_success", METRIC_GAUGE,
                    "node_exporter: Whether a collector succeeded.");
    metric_set_addl(meta, "node_scrape_collector_success", ok ? 1 : 0, "collector", name, NULL);
    metric_set_meta(meta, "node_scrape_collector_duration_seconds", METRIC_GAUGE,
                    "node_exporter: Duration of a collector scrape.");
    metric_set_addl(meta, "node_scrape_collector_duration_seconds", (double)took_us / 1e6,
                    "collector", name, NULL);
}

static void run_host_collectors(const agent_config *cfg, metric_set *out)
{
    metric_set meta;
    metric_set_init(&meta);
    for (size_t i = 0; i < host_collectors_n; i++) {
        if (!enabled(cfg, host_collectors[i].name))
            continue;
        char err[256], q[300];
        int64_t start = mono_us();
        bool ok = host_collectors[i].fn(out, cfg->root, cfg->filters, err, sizeof err) == 0;
        if (!ok)
            log_warn("collector failed", "collector=%s err=%s", host_collectors[i].name,
                     log_quote(q, sizeof q, err));
        if (cfg->collector_meta)
            collector_meta(&meta, host_collectors[i].name, ok, mono_us() - start);
    }
    if (cfg->gpu) {
        char err[256];
        int64_t start = mono_us();
        bool ok = collect_gpu(cfg->gpu, out, err, sizeof err) == 0;
        if (cfg->collector_meta)
            collector_meta(&meta, "gpu", ok, mono_us() - start);
    }
    if (cfg->cgroup) {
        char err[512], q[600];
        int64_t start = mono_us();
        bool ok = collect_cgroup(cfg->cgroup, out, err, sizeof err) == 0;
        if (!ok)
            log_warn("collector failed", "collector=cgroup err=%s", log_quote(q, sizeof q, err));
        if (cfg->collector_meta)
            collector_meta(&meta, "cgroup", ok, mono_us() - start);
    }
    metric_set_move(out, &meta);
    metric_set_free(&meta);
}

void agent_collect(const agent_config *cfg, metric_set *out)
{
    int64_t ts = now_ms();
    size_t from = out->n;
    run_host_collectors(cfg, out);
    label_samples(out, from, cfg, ts, true);
    int64_t now = mono_us() / 1000;
    for (size_t i = 0; i < cfg->ntargets; i++) {
        scrape_target *t = &cfg->targets[i];
        /* A target with its own scrape_interval is scraped in the rounds
         * where it is due; the agent's interval is the finest step. */
        if (t->interval_ms > 0 && t->next_due_ms > now)
            continue;
        if (t->interval_ms > 0)
            t->next_due_ms = (t->next_due_ms ? t->next_due_ms : now) + t->interval_ms;
        char err[512], q[600];
        from = out->n;
        if (collect_scrape(out, t, cfg->instance, cfg->scrape_timeout_ms, err, sizeof err) != 0)
            log_warn("scrape failed", "job=%s url=%s err=%s", t->job, t->url,
                     log_quote(q, sizeof q, err));
        label_samples(out, from, cfg, ts, false);
    }
}

int scrape_target_parse(const char *spec, scrape_target *t, char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    const char *scheme = strstr(spec, "://");
    const char *eq = strchr(spec, '=');
    const char *url = spec;
    if (eq && scheme && eq < scheme) {
        t->job = em_strndup(spec, (size_t)(eq - spec));
        url = eq + 1;
        scheme = strstr(url, "://");
    } else {
        t->job = NULL;
    }
    if (!scheme || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)) {
        snprintf(err, errlen, "scrape target \"%s\" must be [JOB=]http(s)://HOST:PORT/PATH", spec);
        free(t->job);
        t->job = NULL;
        return -1;
    }
    t->url = em_strdup(url);
    if (!t->job) {
        const char *host = scheme + 3;
        size_t n = strcspn(host, "/?#");
        t->job = em_strndup(host, n);
    }
    if (!t->job[0]) {
        snprintf(err, errlen, "scrape target \"%s\" has an empty job name", spec);
        scrape_target_free(t);
        return -1;
    }
    return 0;
}

void scrape_target_free(scrape_target *t)
{
    free(t->job);
    free(t->url);
    free(t->instance);
    labels_free(&t->labels);
    stale_tracker_free(&t->stale);
    memset(t, 0, sizeof *t);
}

static void seq_path(char *buf, size_t len, const char *dir)
{
    snprintf(buf, len, "%s/seq", dir);
}

int seq_load(const char *dir, uint64_t *next, char *err, size_t errlen)
{
    char path[4096];
    seq_path(path, sizeof path, dir);
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT) {
            *next = 1;
            return 0;
        }
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    unsigned long long v = 0;
    int ok = fscanf(f, "%llu", &v) == 1 && v > 0;
    fclose(f);
    if (!ok) {
        snprintf(err, errlen, "%s does not hold a batch sequence number", path);
        return -1;
    }
    *next = v;
    return 0;
}

int seq_store(const char *dir, uint64_t next, char *err, size_t errlen)
{
    /* Write to a temporary file, fsync, rename: the file always holds a
     * complete number, old or new, whatever the moment of a crash. */
    char path[4096], tmp[4200];
    seq_path(path, sizeof path, dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
        return -1;
    }
    char num[32];
    int n = snprintf(num, sizeof num, "%llu\n", (unsigned long long)next);
    bool ok = write(fd, num, (size_t)n) == n && fsync(fd) == 0;
    close(fd);
    if (!ok || rename(tmp, path) != 0) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}
