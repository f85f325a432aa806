/*
 * send.c — one remote write request: encode a batch as a
 * prometheus.WriteRequest (one TimeSeries per sample, as Prometheus's queue
 * manager sends them), snappy block-compress it and POST it with libcurl,
 * with the headers remote write 1.0 requires, the destination's
 * authentication and TLS settings, and remote_timeout.  One curl handle per
 * shard keeps its connection alive between batches.  Retrying is the
 * caller's: this classifies the answer.
 */
#include "aggregator/forward/forward_int.h"

#include "common/mem.h"
#include "proto/remote.pb-c.h"

#include <curl/curl.h>
#include <snappy-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define USER_AGENT "Ember/" EMBER_VERSION
#define ERROR_BODY_MAX 512

struct fwd_sender {
    const fwd_dest_config *c;
    CURL *curl;
    struct curl_slist *headers;
    ebuf body, answer;
};

static size_t keep_answer(char *p, size_t size, size_t n, void *arg)
{
    ebuf *b = arg;
    if (b->len < ERROR_BODY_MAX)
        ebuf_append(b, p, size * n < ERROR_BODY_MAX ? size * n : ERROR_BODY_MAX);
    return size * n;
}

static void set_tls(CURL *h, const fwd_dest_config *c)
{
    if (c->ca_file)
        curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file);
    if (c->cert_file)
        curl_easy_setopt(h, CURLOPT_SSLCERT, c->cert_file);
    if (c->key_file)
        curl_easy_setopt(h, CURLOPT_SSLKEY, c->key_file);
    if (c->insecure_skip_verify) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
}

fwd_sender *fwd_sender_new(const fwd_dest_config *c)
{
    fwd_sender *s = em_calloc(1, sizeof *s);
    s->c = c;
    ebuf_init(&s->body);
    ebuf_init(&s->answer);
    s->headers = curl_slist_append(NULL, "Content-Encoding: snappy");
    s->headers = curl_slist_append(s->headers, "Content-Type: application/x-protobuf");
    s->headers = curl_slist_append(s->headers, "X-Prometheus-Remote-Write-Version: 0.1.0");
    for (size_t i = 0; i < c->nheaders; i++)
        s->headers = curl_slist_append(s->headers, c->headers[i]);
    if (c->authorization) {
        ebuf h;
        ebuf_init(&h);
        ebuf_printf(&h, "Authorization: %s", c->authorization);
        s->headers = curl_slist_append(s->headers, h.data);
        ebuf_free(&h);
    }
    CURL *h = s->curl = curl_easy_init();
    curl_easy_setopt(h, CURLOPT_URL, c->url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, s->headers);
    curl_easy_setopt(h, CURLOPT_USERAGENT, USER_AGENT);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)c->remote_timeout_ms);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, keep_answer);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &s->answer);
    if (c->username) {
        curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(h, CURLOPT_USERNAME, c->username);
        curl_easy_setopt(h, CURLOPT_PASSWORD, c->password ? c->password : "");
    }
    set_tls(h, c);
    return s;
}

void fwd_sender_free(fwd_sender *s)
{
    if (!s)
        return;
    curl_easy_cleanup(s->curl);
    curl_slist_free_all(s->headers);
    ebuf_free(&s->body);
    ebuf_free(&s->answer);
    free(s);
}

/* A canonical label key ("name\0value\0...") as protobuf labels pointing
 * into it; the key's strings are NUL-terminated already. */
static size_t key_labels(const char *key, uint32_t klen, Prometheus__Label *lv,
                         Prometheus__Label **lp, size_t max)
{
    size_t n = 0;
    for (const char *p = key, *end = key + klen; p < end && n < max; n++) {
        prometheus__label__init(&lv[n]);
        lv[n].name = (char *)p;
        p += strlen(p) + 1;
        lv[n].value = (char *)p;
        p += strlen(p) + 1;
        lp[n] = &lv[n];
    }
    return n;
}

static size_t count_labels(const char *key, uint32_t klen)
{
    size_t n = 0;
    for (uint32_t i = 0; i < klen; i++)
        n += key[i] == '\0';
    return n / 2;
}

void fwd_encode(const fwd_sample *v, size_t n, ebuf *out)
{
    size_t nl = 0;
    for (size_t i = 0; i < n; i++)
        nl += count_labels(v[i].key, v[i].klen);
    Prometheus__TimeSeries *ts = em_calloc(n ? n : 1, sizeof *ts);
    Prometheus__TimeSeries **tsp = em_calloc(n ? n : 1, sizeof *tsp);
    Prometheus__Sample *sm = em_calloc(n ? n : 1, sizeof *sm);
    Prometheus__Sample **smp = em_calloc(n ? n : 1, sizeof *smp);
    Prometheus__Label *lv = em_calloc(nl ? nl : 1, sizeof *lv);
    Prometheus__Label **lp = em_calloc(nl ? nl : 1, sizeof *lp);
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        prometheus__time_series__init(&ts[i]);
        prometheus__sample__init(&sm[i]);
        sm[i].value = v[i].v;
        sm[i].timestamp = v[i].t;
        smp[i] = &sm[i];
        ts[i].samples = &smp[i];
        ts[i].n_samples = 1;
        ts[i].labels = &lp[used];
        ts[i].n_labels = key_labels(v[i].key, v[i].klen, lv + used, lp + used, nl - used);
        used += ts[i].n_labels;
        tsp[i] = &ts[i];
    }
    Prometheus__WriteRequest req = PROMETHEUS__WRITE_REQUEST__INIT;
    req.timeseries = tsp;
    req.n_timeseries = n;
    size_t plain_len = prometheus__write_request__get_packed_size(&req);
    uint8_t *plain = em_malloc(plain_len ? plain_len : 1);
    prometheus__write_request__pack(&req, plain);
    size_t max = snappy_max_compressed_length(plain_len);
    ebuf_reset(out);
    ebuf_reserve(out, max);
    size_t clen = max;
    snappy_compress((const char *)plain, plain_len, out->data, &clen);
    out->len = clen;
    free(plain);
    free(ts);
    free(tsp);
    free(sm);
    free(smp);
    free(lv);
    free(lp);
}

fwd_send_result fwd_send(fwd_sender *s, const fwd_sample *v, size_t n, size_t *bytes, char *why,
                         size_t whylen)
{
    fwd_encode(v, n, &s->body);
    *bytes = s->body.len;
    ebuf_reset(&s->answer);
    curl_easy_setopt(s->curl, CURLOPT_POSTFIELDS, s->body.data);
    curl_easy_setopt(s->curl, CURLOPT_POSTFIELDSIZE, (long)s->body.len);
    CURLcode rc = curl_easy_perform(s->curl);
    if (rc != CURLE_OK) {
        snprintf(why, whylen, "%s", curl_easy_strerror(rc));
        return FWD_RETRY;
    }
    long status = 0;
    curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &status);
    if (status / 100 == 2)
        return FWD_SENT;
    snprintf(why, whylen, "server returned HTTP status %ld: %.*s", status, (int)s->answer.len,
             s->answer.len ? s->answer.data : "");
    if (status / 100 == 5 || (status == 429 && s->c->q.retry_on_http_429))
        return FWD_RETRY;
    return FWD_FAIL;
}
