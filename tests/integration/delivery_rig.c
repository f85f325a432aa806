/* delivery_rig.c — source, processes and checks of the delivery fault tests. */
#define _GNU_SOURCE
#include "tests/integration/delivery_rig.h"

#include "common/etime.h"
#include "common/httpd.h"
#include "tests/integration/harness.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- the deterministic source ------------------------------------------ */

struct exporter {
    httpd *srv;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t served;
    bool hold, discard;
    int waiting;
};

static void serve(void *ctx, const httpd_request *req, httpd_response *resp)
{
    (void)req;
    exporter *e = ctx;
    pthread_mutex_lock(&e->mu);
    e->waiting++;
    pthread_cond_broadcast(&e->cv);
    while (e->hold && !e->discard)
        pthread_cond_wait(&e->cv, &e->mu);
    e->waiting--;
    if (e->discard) {
        e->discard = false;
        pthread_mutex_unlock(&e->mu);
        resp->status = 503;
        return;
    }
    uint64_t v = ++e->served;
    pthread_mutex_unlock(&e->mu);
    resp->content_type = HTTPD_CONTENT_TYPE_METRICS;
    ebuf_printf(&resp->body,
                "# HELP fault_counter_total Scrapes served.\n"
                "# TYPE fault_counter_total counter\nfault_counter_total %llu\n",
                (unsigned long long)v);
}

/* Start the server with this thread in netns_path's namespace: the listen
 * socket stays there, whichever thread accepts on it. */
static int start_in(httpd *srv, const char *netns_path)
{
    char err[256];
    int self = -1, target = -1;
    if (netns_path) {
        self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
        target = open(netns_path, O_RDONLY | O_CLOEXEC);
        if (self < 0 || target < 0 || setns(target, CLONE_NEWNET) != 0) {
            perror("setns");
            return -1;
        }
    }
    int rc = httpd_start(srv, "127.0.0.1:0", err, sizeof err);
    if (netns_path) {
        if (setns(self, CLONE_NEWNET) != 0)
            abort(); /* the test would run in the wrong namespace */
        close(self);
        close(target);
    }
    if (rc != 0)
        fprintf(stderr, "exporter: %s\n", err);
    return rc;
}

exporter *exporter_start(const char *netns_path)
{
    exporter *e = calloc(1, sizeof *e);
    pthread_mutex_init(&e->mu, NULL);
    pthread_cond_init(&e->cv, NULL);
    e->srv = httpd_new(&(httpd_options){.threads = 1});
    httpd_route(e->srv, "GET", "/metrics", serve, e);
    if (start_in(e->srv, netns_path) != 0) {
        httpd_free(e->srv);
        free(e);
        return NULL;
    }
    return e;
}

unsigned exporter_port(const exporter *e)
{
    return httpd_port(e->srv);
}

uint64_t exporter_served(exporter *e)
{
    pthread_mutex_lock(&e->mu);
    uint64_t v = e->served;
    pthread_mutex_unlock(&e->mu);
    return v;
}

bool exporter_hold(exporter *e, int timeout_ms)
{
    pthread_mutex_lock(&e->mu);
    e->hold = true;
    pthread_mutex_unlock(&e->mu);
    for (int64_t end = mono_ms() + timeout_ms; mono_ms() < end; sleep_ms(10)) {
        pthread_mutex_lock(&e->mu);
        bool waiting = e->waiting > 0;
        pthread_mutex_unlock(&e->mu);
        if (waiting)
            return true;
    }
    return false;
}

void exporter_release(exporter *e, bool discard)
{
    pthread_mutex_lock(&e->mu);
    e->hold = false;
    e->discard = discard && e->waiting > 0;
    pthread_cond_broadcast(&e->cv);
    pthread_mutex_unlock(&e->mu);
    while (discard) { /* until the waiting scrape took its 503 */
        pthread_mutex_lock(&e->mu);
        bool done = !e->discard;
        pthread_mutex_unlock(&e->mu);
        if (done)
            break;
        sleep_ms(5);
    }
}

void exporter_stop(exporter *e)
{
    if (!e)
        return;
    exporter_release(e, false);
    httpd_free(e->srv);
    pthread_cond_destroy(&e->cv);
    pthread_mutex_destroy(&e->mu);
    free(e);
}

/* ---- aggregators ------------------------------------------------------- */

void agg_init(rig_agg *a, const char *name, const char *host)
{
    memset(a, 0, sizeof *a);
    snprintf(a->name, sizeof a->name, "%s", name);
    snprintf(a->data, sizeof a->data, "%s/%s", harness_tmpdir(), name);
    snprintf(a->ingest, sizeof a->ingest, "tcp://%s:%u", host, harness_free_port());
    a->api = harness_free_port();
}

bool agg_start(rig_agg *a)
{
    char bin[512], http[64], url[128];
    snprintf(http, sizeof http, "127.0.0.1:%u", a->api);
    char *argv[] = {(char *)harness_bin("ember-aggregator", bin, sizeof bin),
                    "--data-dir",
                    a->data,
                    "--http-listen",
                    http,
                    "--ingest-listen",
                    a->ingest,
                    NULL};
    a->pid = harness_spawn(a->name, argv);
    snprintf(url, sizeof url, "http://127.0.0.1:%u/-/ready", a->api);
    if (harness_wait_http(url, 30000))
        return true;
    fprintf(stderr, "aggregator %s did not get ready\n", a->name);
    return false;
}

/* SIGTERM; true when it exited 0 in time (sanitizer reports exit non-zero). */
static bool stop_clean(const char *name, pid_t *pid)
{
    int st = harness_stop(*pid, 15000);
    *pid = 0;
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
        return true;
    fprintf(stderr, "%s: unclean stop (status %d), see its log\n", name, st);
    return false;
}

bool agg_stop(rig_agg *a)
{
    return stop_clean(a->name, &a->pid);
}

static void kill9(pid_t *pid)
{
    if (*pid <= 0)
        return;
    kill(*pid, SIGKILL);
    harness_stop(*pid, 5000); /* reaps it and forgets it */
    *pid = 0;
}

void agg_kill(rig_agg *a)
{
    kill9(&a->pid);
}

/* ---- agents ------------------------------------------------------------ */

void agent_init(rig_agent *g, const char *name, const char *aggregator, const exporter *e,
                const char *interval)
{
    memset(g, 0, sizeof *g);
    snprintf(g->name, sizeof g->name, "%s", name);
    snprintf(g->data, sizeof g->data, "%s/%s", harness_tmpdir(), name);
    snprintf(g->aggregator, sizeof g->aggregator, "%s", aggregator);
    snprintf(g->scrape, sizeof g->scrape, "%s=http://127.0.0.1:%u/metrics", name, exporter_port(e));
    snprintf(g->interval, sizeof g->interval, "%s", interval);
    snprintf(g->http, sizeof g->http, "127.0.0.1:%u", harness_free_port());
}

static const char *const collectors_off[] = {
    "--no-collector.cpu",        "--no-collector.meminfo", "--no-collector.loadavg",
    "--no-collector.stat",       "--no-collector.vmstat",  "--no-collector.diskstats",
    "--no-collector.filesystem", "--no-collector.netdev",  "--no-collector.pressure",
    "--no-collector.time",       "--no-collector.uname",   "--no-collector.hwmon",
    "--no-collector.gpu",        "--no-collector.cgroup",  "--no-collector.status",
};

void agent_start(rig_agent *g)
{
    char bin[512];
    char *argv[64];
    int n = 0;
    if (g->netns) {
        argv[n++] = access("/usr/sbin/ip", X_OK) == 0 ? "/usr/sbin/ip" : "/sbin/ip";
        argv[n++] = "netns";
        argv[n++] = "exec";
        argv[n++] = (char *)g->netns;
    }
    argv[n++] = (char *)harness_bin("ember-agent", bin, sizeof bin);
    const char *flags[] = {"--aggregator",
                           g->aggregator,
                           "--scrape",
                           g->scrape,
                           "--interval",
                           g->interval,
                           "--data-dir",
                           g->data,
                           "--instance",
                           g->name,
                           "--agent-id",
                           g->name,
                           "--sender.timeout",
                           "1s",
                           "--sender.min-backoff",
                           "50ms",
                           "--sender.max-backoff",
                           "500ms",
                           "--scrape-timeout",
                           "60s"};
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        argv[n++] = (char *)flags[i];
    for (size_t i = 0; i < sizeof collectors_off / sizeof collectors_off[0]; i++)
        argv[n++] = (char *)collectors_off[i];
    if (g->http[0]) {
        argv[n++] = "--http-listen";
        argv[n++] = g->http;
    }
    for (int i = 0; i < 8 && g->extra[i]; i++)
        argv[n++] = (char *)g->extra[i];
    argv[n] = NULL;
    g->pid = harness_spawn(g->name, argv);
    if (g->http[0] && !g->netns) {
        char url[128];
        snprintf(url, sizeof url, "http://%s/-/healthy", g->http);
        if (!harness_wait_http(url, 10000))
            fprintf(stderr, "agent %s: /-/healthy did not answer\n", g->name);
    }
}

void agent_kill(rig_agent *g)
{
    kill9(&g->pid);
}

bool agent_stop(rig_agent *g)
{
    return stop_clean(g->name, &g->pid);
}

/* A sample of the exposition text at url ("name{labels}"); NAN if absent. */
static double metric_at(const char *url, const char *series)
{
    char needle[256];
    snprintf(needle, sizeof needle, "\n%s ", series);
    ebuf b;
    ebuf_init(&b);
    double v = NAN;
    if (harness_http(url, NULL, &b) == 200) {
        ebuf_putc(&b, '\0');
        const char *p = strstr((const char *)b.data, needle);
        if (p)
            v = strtod(p + strlen(needle), NULL);
    }
    ebuf_free(&b);
    return v;
}

double agent_metric(const rig_agent *g, const char *series)
{
    char url[128];
    snprintf(url, sizeof url, "http://%s/metrics", g->http);
    return metric_at(url, series);
}

double agg_metric(const rig_agg *a, const char *series)
{
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/metrics", a->api);
    return metric_at(url, series);
}

bool wait_agent_metric(const rig_agent *g, const char *series, double at_least, int timeout_ms)
{
    for (int64_t end = mono_ms() + timeout_ms; mono_ms() < end; sleep_ms(50))
        if (agent_metric(g, series) >= at_least)
            return true;
    return false;
}

/* ---- what the aggregator stored ---------------------------------------- */

/* Parse the one series of a matrix answer: [[ts,"v"],...]. */
static size_t parse_values(const char *json, double *vals, size_t cap)
{
    const char *p = strstr(json, "\"values\":[");
    if (!p)
        return 0;
    if (strstr(p + 1, "\"values\":[")) {
        fprintf(stderr, "more than one series: %.300s\n", json);
        return 0;
    }
    p += strlen("\"values\":[");
    size_t n = 0;
    while (*p == '[' && n < cap) {
        char *end;
        strtod(p + 1, &end); /* timestamp: the answer is in time order already */
        if (strncmp(end, ",\"", 2) != 0)
            break;
        double v = strtod(end + 2, &end);
        if (!isnan(v)) /* staleness markers are not values of the source */
            vals[n++] = v;
        p = strchr(end, ']');
        if (!p)
            break;
        p++;
        if (*p == ',')
            p++;
    }
    return n;
}

size_t stored_values(const rig_agg *a, const char *job, double *vals, size_t cap)
{
    char sel[128], url[512];
    snprintf(sel, sizeof sel, "fault_counter_total{job=\"%s\"}[10m]", job);
    char *q = curl_easy_escape(NULL, sel, 0);
    snprintf(url, sizeof url, "http://127.0.0.1:%u/api/v1/query?query=%s", a->api, q);
    curl_free(q);
    ebuf b;
    ebuf_init(&b);
    size_t n = 0;
    if (harness_http(url, NULL, &b) == 200) {
        ebuf_putc(&b, '\0');
        n = parse_values((const char *)b.data, vals, cap);
    }
    ebuf_free(&b);
    return n;
}

bool wait_stored(const rig_agg *a, const char *job, uint64_t last, int timeout_ms)
{
    static double vals[4096];
    size_t n = 0;
    for (int64_t end = mono_ms() + timeout_ms; mono_ms() < end; sleep_ms(200)) {
        n = stored_values(a, job, vals, 4096);
        if (n && vals[n - 1] >= (double)last)
            return true;
    }
    fprintf(stderr, "%s: %zu values stored, the newest %g; waited for %llu\n", job, n,
            n ? vals[n - 1] : NAN, (unsigned long long)last);
    return false;
}

bool values_are_run(const double *vals, size_t n, uint64_t first, uint64_t last)
{
    uint64_t want = first;
    for (size_t i = 0; i < n; i++, want++) {
        if (vals[i] != (double)want) {
            fprintf(stderr, "stored value #%zu is %.17g, want %llu (previous %.17g, next %.17g)\n",
                    i, vals[i], (unsigned long long)want, i ? vals[i - 1] : NAN,
                    i + 1 < n ? vals[i + 1] : NAN);
            return false;
        }
    }
    if (n != last - first + 1) {
        fprintf(stderr, "stored %zu values, want %llu (%llu..%llu)\n", n,
                (unsigned long long)(last - first + 1), (unsigned long long)first,
                (unsigned long long)last);
        return false;
    }
    return true;
}

uint64_t settle_and_check(exporter *e, const rig_agg *a, const char *job)
{
    static double vals[4096];
    if (!exporter_hold(e, 10000)) {
        fprintf(stderr, "%s: no scrape came to the held exporter\n", job);
        return 0;
    }
    uint64_t served = exporter_served(e);
    bool stored = wait_stored(a, job, served, 30000);
    size_t n = stored_values(a, job, vals, 4096);
    bool ok = stored && values_are_run(vals, n, 1, served);
    exporter_release(e, false);
    if (!ok)
        fprintf(stderr, "%s: %zu values stored, %llu produced\n", job, n,
                (unsigned long long)served);
    return ok ? served : 0;
}
