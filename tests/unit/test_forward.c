/*
 * test_forward.c — remote write out (aggregator/forward) and the
 * self-scrape: the remote_write config section, blocks and the backlog
 * (memory, spill to disk, order, replay after a restart, acknowledgement),
 * the request encoding (decoded back by the receiver's own decoder), a
 * destination against an in-process receiver (write_relabel, retries on
 * 500 in order, no retry on 400), and the self-scrape queried through the
 * HTTP API.  Real RocksDB, real sockets on 127.0.0.1.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "aggregator/forward/forward_int.h"
#include "aggregator/http/api.h"
#include "aggregator/tsdb/index.h"
#include "common/etime.h"
#include "common/fsutil.h"
#include "common/httpd.h"
#include "proto/remote.pb-c.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char tmp[256];

static int setup(void **state)
{
    (void)state;
    return fs_mkdtemp(tmp, sizeof tmp, "test_forward") == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    fs_rmtree(tmp);
    return 0;
}

/* ---- config ---- */

static int parse(fwd_config *c, const char *yaml, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    return fwd_config_parse(c, "agg.yml", yaml, strlen(yaml), err, errlen);
}

static void test_config_keys(void **state)
{
    (void)state;
    char path[512], err[512];
    snprintf(path, sizeof path, "%s/secret", tmp);
    FILE *f = fopen(path, "w");
    fputs("s3cret\n", f);
    fclose(f);
    char yaml[2048];
    snprintf(yaml, sizeof yaml,
             "retention: 30d\n"
             "remote_write:\n"
             "  - url: https://mimir:9009/api/v1/push\n"
             "    name: mimir\n"
             "    remote_timeout: 10s\n"
             "    headers: {X-Scope-OrgID: gpu}\n"
             "    basic_auth: {username: u, password_file: %s}\n"
             "    tls_config: {ca_file: ca.pem, insecure_skip_verify: true}\n"
             "    write_relabel_configs:\n"
             "      - {source_labels: [__name__], regex: 'go_.*', action: drop}\n"
             "    queue_config: {capacity: 100, max_shards: 8, min_shards: 2,\n"
             "                   max_samples_per_send: 50, batch_send_deadline: 1s,\n"
             "                   min_backoff: 10ms, max_backoff: 2s, retry_on_http_429: false}\n"
             "    backlog: {memory: 1MiB, disk: 1GiB}\n"
             "  - url: http://thanos/api/v1/receive\n"
             "    authorization: {credentials: tok}\n",
             path);
    fwd_config c;
    assert_int_equal(parse(&c, yaml, err, sizeof err), 0);
    assert_int_equal(c.n, 2);
    fwd_dest_config *d = &c.v[0];
    assert_string_equal(d->url, "https://mimir:9009/api/v1/push");
    assert_string_equal(d->name, "mimir");
    assert_int_equal(d->remote_timeout_ms, 10000);
    assert_int_equal(d->nheaders, 1);
    assert_string_equal(d->headers[0], "X-Scope-OrgID: gpu");
    assert_string_equal(d->username, "u");
    assert_string_equal(d->password, "s3cret");
    assert_string_equal(d->ca_file, "ca.pem");
    assert_true(d->insecure_skip_verify);
    assert_int_equal(d->relabel.n, 1);
    assert_int_equal(d->q.capacity, 100);
    assert_int_equal(d->q.min_shards, 2);
    assert_int_equal(d->q.max_samples_per_send, 50);
    assert_int_equal(d->q.batch_send_deadline_ms, 1000);
    assert_int_equal(d->q.min_backoff_ms, 10);
    assert_false(d->q.retry_on_http_429);
    assert_int_equal(d->backlog_memory_bytes, 1 << 20);
    assert_int_equal(d->backlog_disk_bytes, 1LL << 30);
    /* the second keeps Prometheus 2.42's defaults */
    d = &c.v[1];
    assert_string_equal(d->authorization, "Bearer tok");
    assert_null(d->name);
    assert_int_equal(d->remote_timeout_ms, 30000);
    assert_int_equal(d->q.capacity, 2500);
    assert_int_equal(d->q.max_samples_per_send, 500);
    assert_int_equal(d->q.max_shards, 200);
    assert_int_equal(d->q.batch_send_deadline_ms, 5000);
    fwd_config_free(&c);
    /* no remote_write: nothing, no error */
    assert_int_equal(parse(&c, "retention: 1d\n", err, sizeof err), 0);
    assert_int_equal(c.n, 0);
    assert_int_equal(fwd_config_add_url(&c, "http://a:1/w", err, sizeof err), 0);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.v[0].q.capacity, 2500);
    assert_int_not_equal(fwd_config_add_url(&c, "a:1/w", err, sizeof err), 0);
    assert_non_null(strstr(err, "must be http:// or https://"));
    fwd_config_free(&c);
}

static void expect_error(const char *yaml, const char *want)
{
    fwd_config c;
    char err[512] = "";
    assert_int_not_equal(parse(&c, yaml, err, sizeof err), 0);
    if (!strstr(err, want))
        fail_msg("error \"%s\" does not contain \"%s\"", err, want);
    fwd_config_free(&c);
}

static void test_config_errors(void **state)
{
    (void)state;
    expect_error("remote_write:\n  - url: http://a/\n    sigv4: {}\n",
                 "agg.yml:3:5: unknown key \"sigv4\"");
    expect_error("remote_write:\n  - name: x\n", "agg.yml:2:5: url for remote_write is empty");
    expect_error("remote_write:\n  - url: ftp://a/\n", "must be http:// or https://");
    expect_error("remote_write:\n  - url: http://a/\n    queue_config: {capacity: -1}\n",
                 "expected a non-negative integer");
    expect_error("remote_write:\n  - url: http://a/\n    queue_config: {min_backoff: x}\n",
                 "not a valid duration");
    expect_error("remote_write:\n  - url: http://a/\n    bearer_token: t\n"
                 "    basic_auth: {username: u}\n",
                 "at most one of basic_auth, authorization and bearer_token");
    expect_error("remote_write:\n  - url: http://a/\n    write_relabel_configs:\n"
                 "      - {action: hashmod, target_label: x}\n",
                 "agg.yml:4:9: relabel configuration for hashmod requires non-zero modulus");
    expect_error("remote_write:\n  - url: http://a/\n    name: n\n  - url: http://b/\n"
                 "    name: n\n",
                 "multiple remote write configs");
    expect_error(
        "remote_write:\n  - url: http://a/\n    basic_auth: {password_file: /nonexistent}\n",
        "cannot read /nonexistent");
    expect_error("remote_write: [\n", "agg.yml:");
}

/* ---- blocks and the backlog ---- */

static char *block_of(int first, int n, size_t *len)
{
    ebuf b;
    ebuf_init(&b);
    for (int i = first; i < first + n; i++) {
        char key[64];
        int kl = snprintf(key, sizeof key, "__name__%cm%cn%c%d", 0, 0, 0, i) + 1;
        fwd_block_put(&b, key, (uint32_t)kl, i, i * 0.5);
    }
    return ebuf_steal(&b, len);
}

/* Push samples first..first+n as one block.  (Regression: passing
 * block_of(.., &len) and len in one call reads len unsequenced: gcc read
 * the previous block's length, which looked like a torn block on replay.) */
static void push_block(backlog *b, int first, int n)
{
    size_t len;
    char *data = block_of(first, n, &len);
    backlog_push(b, data, len, (uint32_t)n);
}

/* Pop every block, check its samples continue the sequence; returns the
 * next expected sample. */
static int drain(backlog *b, int next, bool release)
{
    fwd_block *blk;
    while ((blk = backlog_pop(b, 0)) != NULL) {
        size_t off = 0;
        fwd_sample s;
        uint32_t n = 0;
        while (fwd_block_next(blk, &off, &s)) {
            assert_int_equal(s.t, next);
            assert_true(s.v == next * 0.5);
            assert_string_equal(s.key + strlen(s.key) + 1, "m");
            next++;
            n++;
        }
        assert_int_equal(n, blk->n);
        if (release)
            backlog_release(b, blk, n);
    }
    return next;
}

static void test_backlog_memory_then_disk_in_order(void **state)
{
    (void)state;
    char dir[512], err[256];
    snprintf(dir, sizeof dir, "%s/backlog1", tmp);
    backlog *b;
    assert_int_equal(backlog_open(dir, 2000, 1 << 20, &b, err, sizeof err), 0);
    size_t len;
    int next = 0;
    for (int i = 0; i < 40; i++) { /* 40 blocks of 10: far over 2000 bytes */
        char *data = block_of(i * 10, 10, &len);
        backlog_push(b, data, len, 10);
    }
    backlog_stats st;
    backlog_get_stats(b, &st);
    assert_true(st.spilled_blocks > 0);
    assert_true(st.disk_bytes > 0);
    assert_int_equal(st.memory_blocks, 0); /* memory or disk, never both */
    next = drain(b, next, true);
    assert_int_equal(next, 400);
    /* drained: memory takes blocks again */
    char *data = block_of(400, 5, &len);
    backlog_push(b, data, len, 5);
    backlog_get_stats(b, &st);
    assert_int_equal(st.memory_blocks, 1);
    assert_int_equal(drain(b, 400, true), 405);
    backlog_get_stats(b, &st);
    assert_int_equal(st.disk_pending_samples, 0);
    backlog_close(b, NULL, 0, 0);
}

static void test_backlog_survives_restart(void **state)
{
    (void)state;
    char dir[512], err[256];
    snprintf(dir, sizeof dir, "%s/backlog2", tmp);
    backlog *b;
    assert_int_equal(backlog_open(dir, 1500, 1 << 20, &b, err, sizeof err), 0);
    for (int i = 0; i < 10; i++)
        push_block(b, i * 10, 10);
    /* The first two blocks are handed out: one sent, one not. */
    fwd_block *b1 = backlog_pop(b, 0), *b2 = backlog_pop(b, 0);
    assert_non_null(b1);
    assert_non_null(b2);
    backlog_release(b, b1, b1->n);
    /* At stop the shards' unsent samples come first (here: none: the
     * unsent block came from disk and is replayed from there). */
    backlog_close(b, NULL, 0, 0);
    assert_int_equal(backlog_open(dir, 1500, 1 << 20, &b, err, sizeof err), 0);
    assert_int_equal(drain(b, 10, true), 100);
    backlog_close(b, NULL, 0, 0);
    /* everything acknowledged: nothing replays */
    assert_int_equal(backlog_open(dir, 1500, 1 << 20, &b, err, sizeof err), 0);
    assert_null(backlog_pop(b, 0));
    /* memory blocks and the given unsent samples go to disk at close, in order */
    push_block(b, 105, 5);
    size_t len;
    char *unsent = block_of(100, 5, &len);
    backlog_close(b, unsent, len, 5);
    assert_int_equal(backlog_open(dir, 1500, 1 << 20, &b, err, sizeof err), 0);
    assert_int_equal(drain(b, 100, true), 110);
    backlog_close(b, NULL, 0, 0);
}

/* Regression: a block handed out from memory, still unsent when memory
 * spills, was kept only in memory; at close its unsent samples went to
 * disk after the newer spilled blocks, so they replayed out of order (and
 * a receiver refuses those).  Now it is spooled, as read, at the spill. */
static void test_backlog_in_flight_block_keeps_its_place(void **state)
{
    (void)state;
    char dir[512], err[256];
    snprintf(dir, sizeof dir, "%s/backlog3", tmp);
    backlog *b;
    assert_int_equal(backlog_open(dir, 1500, 1 << 20, &b, err, sizeof err), 0);
    push_block(b, 0, 10);
    fwd_block *first = backlog_pop(b, 0); /* in a shard, receiver down */
    assert_non_null(first);
    assert_false(first->from_spool);
    for (int i = 1; i < 10; i++) /* memory fills and spills */
        push_block(b, i * 10, 10);
    backlog_stats st;
    backlog_get_stats(b, &st);
    assert_int_equal(st.memory_blocks, 0);
    assert_int_equal(st.disk_pending_samples, 100);
    /* At stop, queue.c hands back the unsent samples of memory blocks
     * only: this one is on disk now. */
    assert_true(first->from_spool);
    backlog_close(b, NULL, 0, 0);
    assert_int_equal(backlog_open(dir, 1500, 1 << 20, &b, err, sizeof err), 0);
    assert_int_equal(drain(b, 0, true), 100);
    backlog_close(b, NULL, 0, 0);
    /* Sent before the stop: acknowledged, not replayed. */
    assert_int_equal(backlog_open(dir, 1500, 1 << 20, &b, err, sizeof err), 0);
    push_block(b, 100, 10);
    first = backlog_pop(b, 0);
    for (int i = 11; i < 20; i++)
        push_block(b, i * 10, 10);
    backlog_release(b, first, first->n);
    backlog_close(b, NULL, 0, 0);
    assert_int_equal(backlog_open(dir, 1500, 1 << 20, &b, err, sizeof err), 0);
    assert_int_equal(drain(b, 110, true), 200);
    backlog_close(b, NULL, 0, 0);
}

/* ---- encoding ---- */

static void test_encode_decodes_as_remote_write(void **state)
{
    (void)state;
    labelset ls;
    labels_init(&ls);
    labels_set(&ls, "__name__", "gpu_utilization_percent");
    labels_set(&ls, "gpu_id", "gpu0");
    labels_set(&ls, "instance", "node1:9400");
    ebuf key, body;
    ebuf_init(&key);
    ebuf_init(&body);
    labels_key(&key, &ls);
    fwd_sample v[2] = {{key.data, (uint32_t)key.len, 1700000000000, 42.5, NULL},
                       {key.data, (uint32_t)key.len, 1700000015000, -1e-5, NULL}};
    fwd_encode(v, 2, &body);
    Prometheus__WriteRequest *wr;
    char err[256];
    assert_int_equal(api_write_decode(body.data, body.len, &wr, err, sizeof err), 0);
    assert_int_equal(wr->n_timeseries, 2);
    Prometheus__TimeSeries *ts = wr->timeseries[1];
    assert_int_equal(ts->n_labels, 3);
    assert_string_equal(ts->labels[0]->name, "__name__");
    assert_string_equal(ts->labels[0]->value, "gpu_utilization_percent");
    assert_string_equal(ts->labels[2]->name, "instance");
    assert_string_equal(ts->labels[2]->value, "node1:9400");
    assert_int_equal(ts->n_samples, 1);
    assert_int_equal(ts->samples[0]->timestamp, 1700000015000);
    assert_true(ts->samples[0]->value == -1e-5);
    prometheus__write_request__free_unpacked(wr, NULL);
    labels_free(&ls);
    ebuf_free(&key);
    ebuf_free(&body);
}

/* ---- a destination against an in-process receiver ---- */

static struct {
    pthread_mutex_t mu;
    int fail_first; /* answer 500 to this many requests first */
    int status;     /* then this */
    int requests;
    int64_t last_t[16]; /* per series: samples must arrive in order */
    int received, out_of_order, dropped_seen;
    char ua[128], version[32], encoding[32];
} R = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void receive(void *ctx, const httpd_request *req, httpd_response *resp)
{
    (void)ctx;
    Prometheus__WriteRequest *wr;
    char err[256];
    pthread_mutex_lock(&R.mu);
    R.requests++;
    const char *h;
    if ((h = httpd_header(req, "User-Agent")))
        snprintf(R.ua, sizeof R.ua, "%s", h);
    if ((h = httpd_header(req, "X-Prometheus-Remote-Write-Version")))
        snprintf(R.version, sizeof R.version, "%s", h);
    if ((h = httpd_header(req, "Content-Encoding")))
        snprintf(R.encoding, sizeof R.encoding, "%s", h);
    if (R.fail_first > 0) {
        R.fail_first--;
        resp->status = 500;
        pthread_mutex_unlock(&R.mu);
        return;
    }
    resp->status = R.status;
    if (R.status == 204 && api_write_decode(req->body, req->body_len, &wr, err, sizeof err) == 0) {
        for (size_t i = 0; i < wr->n_timeseries; i++) {
            Prometheus__TimeSeries *ts = wr->timeseries[i];
            int series = -1;
            for (size_t j = 0; j < ts->n_labels; j++) {
                if (strcmp(ts->labels[j]->name, "s") == 0)
                    series = atoi(ts->labels[j]->value);
                if (strcmp(ts->labels[j]->name, "drop") == 0)
                    R.dropped_seen++;
            }
            assert_true(series >= 0 && series < 16);
            for (size_t j = 0; j < ts->n_samples; j++, R.received++) {
                if (ts->samples[j]->timestamp <= R.last_t[series])
                    R.out_of_order++;
                R.last_t[series] = ts->samples[j]->timestamp;
            }
        }
        prometheus__write_request__free_unpacked(wr, NULL);
    }
    pthread_mutex_unlock(&R.mu);
}

static double metric(forwarder *f, const char *name)
{
    metric_set ms;
    metric_set_init(&ms);
    forwarder_metrics(f, &ms);
    double v = -1;
    for (size_t i = 0; i < ms.n; i++)
        if (strcmp(labels_metric_name(&ms.samples[i].labels), name) == 0)
            v = ms.samples[i].value;
    metric_set_free(&ms);
    return v;
}

/* Commit-hook calls of 16 series x ticks, a "drop" series among them. */
static int feed(forwarder *f, int ticks)
{
    ebuf keys[17];
    labelset ls;
    labels_init(&ls);
    for (int s = 0; s < 17; s++) {
        char v[8];
        snprintf(v, sizeof v, "%d", s % 16);
        labels_clear(&ls);
        labels_set(&ls, "__name__", "m");
        labels_set(&ls, "s", v);
        if (s == 16)
            labels_set(&ls, "drop", "yes");
        labels_sort(&ls);
        ebuf_init(&keys[s]);
        labels_key(&keys[s], &ls);
    }
    for (int t = 1; t <= ticks; t++) {
        tsdb_written w[17];
        for (int s = 0; s < 17; s++)
            w[s] = (tsdb_written){keys[s].data, keys[s].len, t, t};
        forwarder_commit_hook(f, w, 17);
    }
    for (int s = 0; s < 17; s++)
        ebuf_free(&keys[s]);
    labels_free(&ls);
    return ticks * 16;
}

/* A forwarder sending to *srv, started first unless already running. */
static forwarder *start_dest(httpd **srv, const char *sub)
{
    char err[256], url[128], yaml[1024];
    if (!*srv) {
        *srv = httpd_new(NULL);
        httpd_route(*srv, "POST", "/write", receive, NULL);
        assert_int_equal(httpd_start(*srv, "127.0.0.1:0", err, sizeof err), 0);
    }
    snprintf(url, sizeof url, "http://127.0.0.1:%u/write", httpd_port(*srv));
    snprintf(yaml, sizeof yaml,
             "remote_write:\n"
             "  - url: %s\n"
             "    name: t\n"
             "    queue_config: {capacity: 30, min_shards: 3, max_samples_per_send: 25,\n"
             "                   batch_send_deadline: 50ms, min_backoff: 5ms, max_backoff: 20ms}\n"
             "    backlog: {memory: 4KiB}\n"
             "    write_relabel_configs:\n"
             "      - {source_labels: [drop], regex: 'yes', action: drop}\n",
             url);
    fwd_config c;
    assert_int_equal(parse(&c, yaml, err, sizeof err), 0);
    char dir[512];
    snprintf(dir, sizeof dir, "%s/%s", tmp, sub);
    forwarder *f;
    assert_int_equal(forwarder_start(&c, dir, &f, err, sizeof err), 0);
    fwd_config_free(&c);
    return f;
}

static void wait_for(forwarder *f, const char *name, double want)
{
    for (int64_t until = mono_ms() + 20000; mono_ms() < until; sleep_ms(20))
        if (metric(f, name) >= want)
            return;
    fail_msg("%s stayed at %g, want %g", name, metric(f, name), want);
}

static void test_dest_retries_in_order_and_relabels(void **state)
{
    (void)state;
    memset(R.last_t, 0, sizeof R.last_t);
    R.fail_first = 5;
    R.status = 204;
    R.received = R.out_of_order = R.dropped_seen = R.requests = 0;
    httpd *srv = NULL;
    forwarder *f = start_dest(&srv, "dest1");
    int want = feed(f, 100); /* 1600 samples, more than memory and rings hold */
    wait_for(f, "prometheus_remote_storage_samples_total", want);
    pthread_mutex_lock(&R.mu);
    assert_int_equal(R.received, want);
    assert_int_equal(R.out_of_order, 0);
    assert_int_equal(R.dropped_seen, 0);
    assert_string_equal(R.version, "0.1.0");
    assert_string_equal(R.encoding, "snappy");
    assert_non_null(strstr(R.ua, "Ember/"));
    pthread_mutex_unlock(&R.mu);
    assert_true(metric(f, "prometheus_remote_storage_samples_retried_total") > 0);
    assert_true(metric(f, "prometheus_remote_storage_samples_failed_total") == 0);
    assert_true(metric(f, "prometheus_remote_storage_samples_dropped_total") == 100);
    assert_true(metric(f, "prometheus_remote_storage_queue_highest_sent_timestamp_seconds") == 0.1);
    assert_true(metric(f, "prometheus_remote_storage_shards") == 3);
    forwarder_stop(f, 1000);
    httpd_free(srv);
}

static void test_dest_4xx_fails_without_retry(void **state)
{
    (void)state;
    R.fail_first = 0;
    R.status = 400;
    R.requests = 0;
    httpd *srv = NULL;
    forwarder *f = start_dest(&srv, "dest2");
    int want = feed(f, 10);
    wait_for(f, "prometheus_remote_storage_samples_failed_total", want);
    assert_true(metric(f, "prometheus_remote_storage_samples_retried_total") == 0);
    assert_true(metric(f, "prometheus_remote_storage_samples_total") == 0);
    pthread_mutex_lock(&R.mu);
    assert_true(R.requests <= (want + 24) / 25 + 3 * 10); /* no request twice */
    pthread_mutex_unlock(&R.mu);
    forwarder_stop(f, 1000);
    httpd_free(srv);
}

/* Receiver failing at stop: what was not sent is on disk and sent, in
 * order, at the next start.  The backlog belongs to the destination's
 * url, so the receiver keeps its port. */
static void test_dest_keeps_unsent_across_restart(void **state)
{
    (void)state;
    memset(R.last_t, 0, sizeof R.last_t);
    R.fail_first = 1 << 30;
    R.status = 204;
    R.received = R.out_of_order = 0;
    httpd *srv = NULL;
    forwarder *f = start_dest(&srv, "dest3");
    int want = feed(f, 20);
    wait_for(f, "prometheus_remote_storage_samples_retried_total", 1);
    forwarder_stop(f, 50);
    pthread_mutex_lock(&R.mu);
    R.fail_first = 0;
    assert_int_equal(R.received, 0);
    pthread_mutex_unlock(&R.mu);
    f = start_dest(&srv, "dest3");
    wait_for(f, "prometheus_remote_storage_samples_total", want);
    pthread_mutex_lock(&R.mu);
    assert_int_equal(R.received, want);
    assert_int_equal(R.out_of_order, 0);
    pthread_mutex_unlock(&R.mu);
    forwarder_stop(f, 1000);
    httpd_free(srv);
}

/* ---- self-scrape ---- */

static size_t http_get(const char *url, ebuf *out)
{
    CURL *c = curl_easy_init();
    FILE *mem = tmpfile();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, mem);
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    rewind(mem);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, mem)) > 0)
        ebuf_append(out, buf, n);
    ebuf_putc(out, 0);
    fclose(mem);
    curl_easy_cleanup(c);
    return (size_t)status;
}

static void test_self_scrape_is_queryable(void **state)
{
    (void)state;
    char dir[512], err[256], url[256];
    snprintf(dir, sizeof dir, "%s/selfdb", tmp);
    aggregator agg = {.lookback_ms = 300000, .query_timeout_ms = 120000};
    tsdb_options to = {.sync = false, .maint_interval_ms = -1};
    assert_int_equal(tsdb_open(dir, &to, &agg.db, err, sizeof err), 0);
    ingest_options io = {.workers = 1};
    assert_int_equal(ingest_start("tcp://127.0.0.1:0", agg.db, &io, &agg.in, err, sizeof err), 0);
    httpd *h = api_server_new(&agg);
    assert_int_equal(httpd_start(h, "127.0.0.1:0", err, sizeof err), 0);
    char instance[64];
    snprintf(instance, sizeof instance, "127.0.0.1:%u", httpd_port(h));
    selfscrape *s = selfscrape_start(&agg, 50, instance);
    assert_non_null(s);
    assert_null(selfscrape_start(&agg, 0, instance)); /* 0: off */
    const char *queries[] = {"up", "ember_aggregator_queries_total", "process_open_fds",
                             "scrape_samples_scraped"};
    for (size_t i = 0; i < 4; i++) {
        ebuf b;
        ebuf_init(&b);
        snprintf(url, sizeof url,
                 "http://%s/api/v1/query?query=%s%%7Bjob=%%22ember-aggregator%%22%%7D", instance,
                 queries[i]);
        bool found = false;
        for (int64_t until = mono_ms() + 10000; !found && mono_ms() < until; sleep_ms(50)) {
            ebuf_reset(&b);
            assert_int_equal(http_get(url, &b), 200);
            char want[128];
            snprintf(want, sizeof want, "\"instance\":\"%s\"", instance);
            found = strstr(b.data, want) != NULL;
        }
        if (!found)
            fail_msg("%s: %s", queries[i], b.data);
        if (i == 0)
            assert_non_null(strstr(b.data, ",\"1\"]"));
        ebuf_free(&b);
    }
    selfscrape_stop(s);
    httpd_free(h);
    ingest_stop(agg.in);
    tsdb_close(agg.db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_keys),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_backlog_memory_then_disk_in_order),
        cmocka_unit_test(test_backlog_survives_restart),
        cmocka_unit_test(test_backlog_in_flight_block_keeps_its_place),
        cmocka_unit_test(test_encode_decodes_as_remote_write),
        cmocka_unit_test(test_dest_retries_in_order_and_relabels),
        cmocka_unit_test(test_dest_4xx_fails_without_retry),
        cmocka_unit_test(test_dest_keeps_unsent_across_restart),
        cmocka_unit_test(test_self_scrape_is_queryable),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
