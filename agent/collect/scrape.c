/*
 * scrape.c — scrape one Prometheus /metrics endpoint, the way Prometheus's
 * scrape loop does it (scrape/scrape.go), so that a target scraped by the
 * agent looks the same in Ember as it would in Prometheus:
 *
 *  - GET with the agent's own HTTP client (httpc.h): timeout, Accept for
 *    text format 0.0.4 (the only format we parse), gzip, redirects,
 *    http/https only, a cap on the decoded body;
 *  - status other than 200 is a failed scrape ("server returned HTTP status
 *    500 Internal Server Error");
 *  - the body is parsed with expfmt_parse, all or nothing;
 *  - target labels job/instance are set on every series; a series' own job or
 *    instance is kept as exported_job/exported_instance (honor_labels: false);
 *  - samples without a timestamp get the scrape's start time, so one scrape
 *    shares one timestamp; exposed timestamps are kept (honor_timestamps);
 *  - up, scrape_duration_seconds and scrape_samples_scraped are appended,
 *    failed scrape or not.
 *
 * One connection per scrape: no connection reuse, but no state shared
 * between the threads that may scrape at once.  The client's one cache (the
 * system CA bundle, loaded by the first https scrape) is freed by
 * collect_scrape_cleanup; collect_scrape_init has nothing left to set up
 * and stays for the callers (the agent's main, the tests).
 */
#include "agent/collect/collect.h"

#include "agent/collect/httpc.h"

#include "common/err.h"
#include "common/buf.h"
#include "common/etime.h"
#include "common/mem.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef EMBER_VERSION
#define EMBER_VERSION "unknown"
#endif

/* We parse only text 0.0.4, so we do not offer OpenMetrics. */
#define SCRAPE_ACCEPT "text/plain;version=0.0.4;q=1,*/*;q=0.1"
#define SCRAPE_USER_AGENT "ember-agent/" EMBER_VERSION
/* Prometheus's default scrape_timeout, for callers that pass none. */
#define SCRAPE_DEFAULT_TIMEOUT_MS 10000

int collect_scrape_init(char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    return 0;
}

void collect_scrape_cleanup(void)
{
    httpc_cleanup();
}

/* scrape_duration_seconds wants better than mono_ms()'s milliseconds. */
static double mono_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- HTTP --------------------------------------------------------------- */

/* GET url into body; -1 with err on transport errors and non-200. */
static int fetch(const char *url, int64_t timeout_ms, size_t limit, ebuf *body, char *err,
                 size_t errlen)
{
    char extra[96];
    /* Exporters such as blackbox_exporter size their own work by this. */
    snprintf(extra, sizeof extra, "X-Prometheus-Scrape-Timeout-Seconds: %g\r\n",
             (double)timeout_ms / 1000.0);
    httpc_request req = {.url = url,
                         .timeout_ms = timeout_ms,
                         .max_body = limit,
                         .user_agent = SCRAPE_USER_AGENT,
                         .accept = SCRAPE_ACCEPT,
                         .extra_headers = extra};
    httpc_response r;
    httpc_response_init(&r);
    int rc = httpc_get(&req, &r, err, errlen);
    if (rc == 0 && r.status != 200) {
        err_set(err, errlen, "server returned HTTP status %s", r.status_text);
        rc = -1;
    }
    ebuf tmp = *body;
    *body = r.body;
    r.body = tmp;
    httpc_response_free(&r);
    return rc;
}

/* ---- labels ------------------------------------------------------------- */

/* An empty label value is the same as no label, as in Prometheus. */
static void drop_empty_labels(labelset *ls)
{
    size_t i = 0;
    while (i < ls->n) {
        if (ls->v[i].value[0] == '\0')
            labels_del(ls, ls->v[i].name); /* shifts the rest down */
        else
            i++;
    }
}

/*
 * A series that brings its own target label (job, instance) keeps it as
 * exported_<name>, or exported_exported_<name> and so on while that is
 * taken (Prometheus's resolveConflictingExposedLabels).
 */
static void export_conflicting_label(labelset *ls, const char *name)
{
    const char *v = labels_get(ls, name);
    if (v == NULL)
        return;
    char *value = em_strdup(v);
    labels_del(ls, name);
    ebuf newname;
    ebuf_init(&newname);
    ebuf_printf(&newname, "exported_%s", name);
    while (labels_get(ls, newname.data) != NULL) {
        char *prev = em_strdup(newname.data);
        ebuf_reset(&newname);
        ebuf_printf(&newname, "exported_%s", prev);
        free(prev);
    }
    labels_set(ls, newname.data, value);
    ebuf_free(&newname);
    free(value);
}

/* job, instance and the target's other labels, in one set. */
static void target_labels(labelset *tl, const scrape_target *t, const char *instance)
{
    labels_copy(tl, &t->labels);
    labels_set(tl, "job", t->job != NULL ? t->job : "");
    labels_set(tl, "instance", t->instance != NULL ? t->instance : instance);
    labels_sort(tl);
}

/* Conflicts resolve shorter name first, as Prometheus does. */
static size_t *by_length(const labelset *tl)
{
    size_t *order = em_calloc(tl->n ? tl->n : 1, sizeof *order);
    for (size_t i = 0; i < tl->n; i++) {
        size_t j = i;
        for (; j > 0 && strlen(tl->v[order[j - 1]].name) > strlen(tl->v[i].name); j--)
            order[j] = order[j - 1];
        order[j] = i;
    }
    return order;
}

static void attach_target(metric_set *ms, const scrape_target *t, const labelset *tl, int64_t ts)
{
    size_t *order = by_length(tl);
    for (size_t i = 0; i < ms->n; i++) {
        metric_sample *s = &ms->samples[i];
        drop_empty_labels(&s->labels);
        for (size_t k = 0; k < tl->n; k++) {
            const label *l = &tl->v[order[k]];
            if (t->honor_labels && labels_get(&s->labels, l->name) != NULL)
                continue;
            export_conflicting_label(&s->labels, l->name);
            labels_set(&s->labels, l->name, l->value);
        }
        if (t->ignore_timestamps)
            s->has_ts = false;
        if (!s->has_ts) {
            s->has_ts = true;
            s->ts_ms = ts;
        }
    }
    free(order);
}

/* metric_relabel_configs: drop or rewrite each sample, in place. */
static void metric_relabel(metric_set *ms, const relabel_rules *rules)
{
    size_t kept = 0;
    for (size_t i = 0; i < ms->n; i++) {
        metric_sample *s = &ms->samples[i];
        if (!relabel_apply(rules, &s->labels) || labels_metric_name(&s->labels) == NULL) {
            labels_free(&s->labels);
            continue;
        }
        ms->samples[kept++] = *s;
    }
    ms->n = kept;
}

/* ---- the scrape --------------------------------------------------------- */

static int fetch_and_parse(metric_set *got, const char *url, int64_t timeout_ms, size_t limit,
                           char *err, size_t errlen)
{
    ebuf body;
    ebuf_init(&body);
    int rc = fetch(url, timeout_ms, limit, &body, err, errlen);
    if (rc == 0) {
        expfmt_error perr;
        if (expfmt_parse(body.data, body.len, NULL, got, &perr) != 0) {
            expfmt_error_format(&perr, err, errlen);
            rc = -1;
        }
    }
    ebuf_free(&body);
    return rc;
}

static void add_report(metric_set *out, const char *name, double v, const labelset *tl, int64_t ts)
{
    labelset ls;
    labels_copy(&ls, tl);
    labels_set(&ls, LABEL_METRIC_NAME, name);
    metric_set_add(out, &ls, v, true, ts);
}

typedef struct scrape_report {
    bool up;
    double duration;
    size_t scraped, post_relabel, added;
} scrape_report;

static void add_reports(metric_set *out, const scrape_report *r, const labelset *tl, int64_t ts)
{
    /* Prometheus gives these no metadata; types help whoever reads ours. */
    metric_set_meta(out, "up", METRIC_GAUGE,
                    "1 if the instance is healthy, i.e. reachable, or 0 if the scrape failed.");
    metric_set_meta(out, "scrape_duration_seconds", METRIC_GAUGE, "Duration of the scrape.");
    metric_set_meta(out, "scrape_samples_scraped", METRIC_GAUGE,
                    "The number of samples the target exposed.");
    metric_set_meta(out, "scrape_samples_post_metric_relabeling", METRIC_GAUGE,
                    "The number of samples remaining after metric relabeling was applied.");
    metric_set_meta(out, "scrape_series_added", METRIC_GAUGE,
                    "The approximate number of new series in this scrape.");
    add_report(out, "up", r->up ? 1 : 0, tl, ts);
    add_report(out, "scrape_duration_seconds", r->duration, tl, ts);
    add_report(out, "scrape_samples_scraped", (double)r->scraped, tl, ts);
    add_report(out, "scrape_samples_post_metric_relabeling", (double)r->post_relabel, tl, ts);
    add_report(out, "scrape_series_added", (double)r->added, tl, ts);
}

/* The scrape proper into got: fetch, parse, label, relabel, limit. */
static int scrape_into(metric_set *got, scrape_target *t, const labelset *tl, int64_t timeout_ms,
                       int64_t ts, scrape_report *rep, char *err, size_t errlen)
{
    if (t->url == NULL) {
        err_set(err, errlen, "scrape target %s has no URL", t->job ? t->job : "");
        return -1;
    }
    size_t limit = t->body_size_limit ? t->body_size_limit : COLLECT_SCRAPE_BODY_MAX;
    if (fetch_and_parse(got, t->url, timeout_ms, limit, err, errlen) != 0)
        return -1;
    rep->scraped = got->n;
    attach_target(got, t, tl, ts);
    if (t->metric_relabel != NULL)
        metric_relabel(got, t->metric_relabel);
    rep->post_relabel = got->n;
    if (t->sample_limit && got->n > t->sample_limit) {
        err_set(err, errlen, "sample limit exceeded: %zu samples, limit %zu", got->n,
                t->sample_limit);
        return -1;
    }
    return 0;
}

int collect_scrape(metric_set *out, scrape_target *target, const char *instance, int64_t timeout_ms,
                   char *err, size_t errlen)
{
    if (target->timeout_ms > 0)
        timeout_ms = target->timeout_ms;
    if (timeout_ms <= 0)
        timeout_ms = SCRAPE_DEFAULT_TIMEOUT_MS;
    int64_t ts = now_ms();
    double start = mono_seconds();
    labelset tl;
    target_labels(&tl, target, instance);
    metric_set got;
    metric_set_init(&got);
    scrape_report rep = {.up = false};
    int rc = scrape_into(&got, target, &tl, timeout_ms, ts, &rep, err, errlen);
    if (rc != 0) /* a failed scrape counts as an empty one: every series ends */
        metric_set_clear(&got);
    rep.up = rc == 0;
    rep.added = stale_tracker_update(&target->stale, &got, 0, ts);
    metric_set_move(out, &got);
    metric_set_free(&got);
    rep.duration = mono_seconds() - start;
    add_reports(out, &rep, &tl, ts);
    labels_free(&tl);
    return rc;
}
