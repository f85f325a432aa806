/*
 * selfscrape.c — the aggregator scrapes itself: every interval the series
 * of its own /metrics (the same function renders both, api_self_metrics)
 * are stored in its own store with job="ember-aggregator" and
 * instance=<HTTP listen address>, plus up, scrape_duration_seconds and
 * scrape_samples_scraped as Prometheus adds them, so ember_* and process_*
 * series are queryable and graphable like any other.  It goes through the
 * store's normal commit, so remote write out forwards it too.
 */
#include "aggregator/aggregator.h"
#include "aggregator/http/api.h"

#include "common/etime.h"
#include "common/log.h"
#include "common/mem.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define SELF_JOB "ember-aggregator"

struct selfscrape {
    aggregator *agg;
    char *instance;
    int64_t interval_ms;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool stop;
};

static void append(tsdb_appender *a, labelset *ls, const char *instance, int64_t t, double v,
                   uint64_t *n)
{
    labels_set(ls, "job", SELF_JOB);
    labels_set(ls, "instance", instance);
    if (tsdb_append(a, ls, t, v) == NULL)
        (*n)++;
}

static void append_synthetic(tsdb_appender *a, const char *name, const char *instance, int64_t t,
                             double v, uint64_t *n)
{
    labelset ls;
    labels_init(&ls);
    labels_set(&ls, "__name__", name);
    append(a, &ls, instance, t, v, n);
    labels_free(&ls);
}

int selfscrape_once(aggregator *agg, const char *instance, int64_t now, char *err, size_t errlen)
{
    int64_t start = mono_ms();
    metric_set ms;
    metric_set_init(&ms);
    api_self_metrics(agg, &ms);
    tsdb_appender *a = tsdb_appender_new(agg->db);
    uint64_t n = 0, synthetic = 0;
    for (size_t i = 0; i < ms.n; i++)
        append(a, &ms.samples[i].labels, instance, now, ms.samples[i].value, &n);
    append_synthetic(a, "up", instance, now, 1, &synthetic);
    append_synthetic(a, "scrape_duration_seconds", instance, now,
                     (double)(mono_ms() - start) / 1000.0, &synthetic);
    append_synthetic(a, "scrape_samples_scraped", instance, now, (double)ms.n, &synthetic);
    metric_set_free(&ms);
    tsdb_commit_result res;
    return tsdb_commit(a, NULL, 0, &res, err, errlen);
}

static void *run(void *arg)
{
    selfscrape *s = arg;
    char err[256], q[300];
    pthread_mutex_lock(&s->mu);
    while (!s->stop) {
        pthread_mutex_unlock(&s->mu);
        if (selfscrape_once(s->agg, s->instance, now_ms(), err, sizeof err) != 0)
            log_warn("self-scrape not stored", "err=%s", log_quote(q, sizeof q, err));
        pthread_mutex_lock(&s->mu);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t ns = ts.tv_nsec + (s->interval_ms % 1000) * 1000000;
        ts.tv_sec += s->interval_ms / 1000 + ns / 1000000000;
        ts.tv_nsec = ns % 1000000000;
        while (!s->stop && pthread_cond_timedwait(&s->cond, &s->mu, &ts) == 0)
            ;
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

selfscrape *selfscrape_start(aggregator *agg, int64_t interval_ms, const char *instance)
{
    if (interval_ms <= 0)
        return NULL;
    selfscrape *s = em_calloc(1, sizeof *s);
    *s = (selfscrape){.agg = agg, .instance = em_strdup(instance), .interval_ms = interval_ms};
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cond, NULL);
    pthread_create(&s->th, NULL, run, s);
    return s;
}

void selfscrape_stop(selfscrape *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->stop = true;
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->th, NULL);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cond);
    free(s->instance);
    free(s);
}
