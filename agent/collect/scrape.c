/*
 * scrape.c — scrape one Prometheus /metrics endpoint, the way Prometheus's
 * scrape loop does it (scrape/scrape.go), so that a target scraped by the
 * agent looks the same in Ember as it would in Prometheus:
 *
 *  - GET with libcurl: timeout, Accept for text format 0.0.4 (the only format
 *    we parse), gzip, redirects, http/https only, a cap on the decoded body;
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
 * One curl easy handle per scrape: no connection reuse, but no state shared
 * between the threads that may scrape at once.  libcurl's process-wide setup
 * lives in collect_scrape_init/collect_scrape_cleanup, called once by the
 * agent's main (and by the tests' group setup/teardown).
 */
#include "agent/collect/collect.h"

#include "common/err.h"
#include "common/buf.h"
#include "common/etime.h"
#include "common/mem.h"

#include <curl/curl.h>

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
#define SCRAPE_MAX_REDIRECTS 10L

int collect_scrape_init(char *err, size_t errlen)
{
    CURLcode c = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (c != CURLE_OK) {
        err_set(err, errlen, "curl_global_init: %s", curl_easy_strerror(c));
        return -1;
    }
    return 0;
}

void collect_scrape_cleanup(void)
{
    curl_global_cleanup();
}

/* scrape_duration_seconds wants better than mono_ms()'s milliseconds. */
static double mono_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- HTTP --------------------------------------------------------------- */

typedef struct scrape_resp {
    ebuf body;
    size_t limit; /* decoded bytes */
    bool too_large;
    char status[128]; /* "500 Internal Server Error", from the last status line */
} scrape_resp;

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
    scrape_resp *r = ud;
    size_t n = size * nmemb;
    /* curl hands us decoded bytes, so the cap also stops gzip bombs. */
    if (n > r->limit - r->body.len) {
        r->too_large = true;
        return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
    }
    ebuf_append(&r->body, p, n);
    return n;
}

/* Keep "<code> <reason>" of each status line; after redirects, the last wins. */
static size_t on_header(char *p, size_t size, size_t nmemb, void *ud)
{
    scrape_resp *r = ud;
    size_t n = size * nmemb;
    if (n < 5 || memcmp(p, "HTTP/", 5) != 0)
        return n;
    const char *sp = memchr(p, ' ', n);
    if (sp == NULL)
        return n;
    size_t len = n - (size_t)(sp + 1 - p);
    while (len > 0 && (sp[len] == '\r' || sp[len] == '\n' || sp[len] == ' '))
        len--;
    if (len >= sizeof r->status)
        len = sizeof r->status - 1;
    memcpy(r->status, sp + 1, len);
    r->status[len] = '\0';
    return n;
}

static void restrict_protocols(CURL *h)
{
#if LIBCURL_VERSION_NUM >= 0x075500 /* 7.85: the _STR forms; the old ones are deprecated */
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
}

static struct curl_slist *request_headers(int64_t timeout_ms)
{
    char tmo[80];
    /* Exporters such as blackbox_exporter size their own work by this. */
    snprintf(tmo, sizeof tmo, "X-Prometheus-Scrape-Timeout-Seconds: %g",
             (double)timeout_ms / 1000.0);
    struct curl_slist *h = curl_slist_append(NULL, "Accept: " SCRAPE_ACCEPT);
    struct curl_slist *h2 = h != NULL ? curl_slist_append(h, tmo) : NULL;
    if (h2 == NULL)
        curl_slist_free_all(h);
    return h2;
}

static void configure(CURL *h, const char *url, int64_t timeout_ms, struct curl_slist *hdrs,
                      scrape_resp *r, char *curl_err)
{
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_USERAGENT, SCRAPE_USER_AGENT);
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, ""); /* every encoding curl decodes */
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L); /* no SIGALRM: we run in threads */
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h, CURLOPT_MAXREDIRS, SCRAPE_MAX_REDIRECTS);
    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)r->limit);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curl_err);
    restrict_protocols(h);
}

static void describe_curl_error(CURLcode c, const scrape_resp *r, const char *curl_err, char *err,
                                size_t errlen)
{
    if (r->too_large || c == CURLE_FILESIZE_EXCEEDED)
        err_set(err, errlen, "body size limit of %zu bytes exceeded", r->limit);
    else if (curl_err[0] != '\0')
        err_set(err, errlen, "%s", curl_err);
    else
        err_set(err, errlen, "%s", curl_easy_strerror(c));
}

/* GET url into r->body; -1 with err on transport errors and non-200. */
static int fetch(const char *url, int64_t timeout_ms, scrape_resp *r, char *err, size_t errlen)
{
    CURL *h = curl_easy_init();
    struct curl_slist *hdrs = request_headers(timeout_ms);
    if (h == NULL || hdrs == NULL) {
        err_set(err, errlen, "cannot set up a curl request");
        curl_slist_free_all(hdrs);
        curl_easy_cleanup(h);
        return -1;
    }
    char curl_err[CURL_ERROR_SIZE] = "";
    configure(h, url, timeout_ms, hdrs, r, curl_err);
    CURLcode c = curl_easy_perform(h);
    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(h);
    curl_slist_free_all(hdrs);
    if (c != CURLE_OK) {
        describe_curl_error(c, r, curl_err, err, errlen);
        return -1;
    }
    if (code != 200) {
        /* HTTP/2 has no reason phrase: then the status line is the code */
        if (r->status[0] == '\0')
            snprintf(r->status, sizeof r->status, "%ld", code);
        err_set(err, errlen, "server returned HTTP status %s", r->status);
        return -1;
    }
    return 0;
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
    scrape_resp r = {.limit = limit, .too_large = false, .status = ""};
    ebuf_init(&r.body);
    int rc = fetch(url, timeout_ms, &r, err, errlen);
    if (rc == 0) {
        expfmt_error perr;
        if (expfmt_parse(r.body.data, r.body.len, NULL, got, &perr) != 0) {
            expfmt_error_format(&perr, err, errlen);
            rc = -1;
        }
    }
    ebuf_free(&r.body);
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
