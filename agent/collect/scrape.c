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
    bool too_large;
    char status[128]; /* "500 Internal Server Error", from the last status line */
} scrape_resp;

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
    scrape_resp *r = ud;
    size_t n = size * nmemb;
    /* curl hands us decoded bytes, so the cap also stops gzip bombs. */
    if (n > COLLECT_SCRAPE_BODY_MAX - r->body.len) {
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
    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)COLLECT_SCRAPE_BODY_MAX);
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
        err_set(err, errlen, "body size limit of %zu bytes exceeded",
                (size_t)COLLECT_SCRAPE_BODY_MAX);
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

static void attach_target(metric_set *ms, const char *job, const char *instance, int64_t ts)
{
    for (size_t i = 0; i < ms->n; i++) {
        metric_sample *s = &ms->samples[i];
        drop_empty_labels(&s->labels);
        /* shorter name first, as Prometheus resolves conflicts */
        export_conflicting_label(&s->labels, "job");
        export_conflicting_label(&s->labels, "instance");
        labels_set(&s->labels, "job", job);
        labels_set(&s->labels, "instance", instance);
        if (!s->has_ts) {
            s->has_ts = true;
            s->ts_ms = ts;
        }
    }
}

/* ---- the scrape --------------------------------------------------------- */

static int fetch_and_parse(metric_set *got, const char *url, int64_t timeout_ms, char *err,
                           size_t errlen)
{
    scrape_resp r = {.too_large = false, .status = ""};
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

static void add_report(metric_set *out, const char *name, double v, const char *job,
                       const char *instance, int64_t ts)
{
    labelset ls;
    labels_init(&ls);
    labels_add(&ls, LABEL_METRIC_NAME, name);
    labels_add(&ls, "job", job);
    labels_add(&ls, "instance", instance);
    metric_set_add(out, &ls, v, true, ts);
}

static void add_reports(metric_set *out, bool up, double duration, size_t scraped, const char *job,
                        const char *instance, int64_t ts)
{
    /* Prometheus gives these no metadata; types help whoever reads ours. */
    metric_set_meta(out, "up", METRIC_GAUGE,
                    "1 if the instance is healthy, i.e. reachable, or 0 if the scrape failed.");
    metric_set_meta(out, "scrape_duration_seconds", METRIC_GAUGE, "Duration of the scrape.");
    metric_set_meta(out, "scrape_samples_scraped", METRIC_GAUGE,
                    "The number of samples the target exposed.");
    add_report(out, "up", up ? 1 : 0, job, instance, ts);
    add_report(out, "scrape_duration_seconds", duration, job, instance, ts);
    add_report(out, "scrape_samples_scraped", (double)scraped, job, instance, ts);
}

int collect_scrape(metric_set *out, const scrape_target *target, const char *instance,
                   int64_t timeout_ms, char *err, size_t errlen)
{
    const char *job = target->job != NULL ? target->job : "";
    if (timeout_ms <= 0)
        timeout_ms = SCRAPE_DEFAULT_TIMEOUT_MS;
    int64_t ts = now_ms();
    double start = mono_seconds();
    metric_set got;
    metric_set_init(&got);
    int rc;
    if (target->url == NULL) {
        err_set(err, errlen, "scrape target %s has no URL", job);
        rc = -1;
    } else {
        rc = fetch_and_parse(&got, target->url, timeout_ms, err, errlen);
    }
    size_t scraped = rc == 0 ? got.n : 0;
    if (rc == 0) {
        attach_target(&got, job, instance, ts);
        metric_set_move(out, &got);
    }
    metric_set_free(&got);
    add_reports(out, rc == 0, mono_seconds() - start, scraped, job, instance, ts);
    return rc;
}
