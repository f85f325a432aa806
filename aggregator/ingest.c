/*
 * ingest.c — nng REP server with one context per worker (the nng "async
 * server" pattern): each worker loops recv → handle → send in aio callbacks,
 * so batches from several agents are committed concurrently.  Owns the
 * authentication of connections, the ingest limits, the commits and the
 * table of known agents (see ingest.h); each connection's state, its bases
 * and the order of pipelined batches are ingest_session.c's.
 */
#include "aggregator/ingest_int.h"

#include "common/etime.h"
#include "common/log.h"
#include "common/mem.h"
#include "proto/wire_close.h"

#include <mbedtls/sha256.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/supplemental/tls/tls.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_MAX_MESSAGE (64u << 20)

static const char *const reject_names[INGEST_REJ_COUNT] = {
    "malformed",         "invalid_token",        "unauthenticated", "instance",
    "max_message_bytes", "max_series_per_batch", "max_label_count", "max_label_length"};

const char *ingest_reject_name(ingest_reject r)
{
    return r < INGEST_REJ_COUNT ? reject_names[r] : "unknown";
}

/* ---- tokens ---- */

int ingest_token_parse(const char *spec, ingest_token *t, char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    const char *eq = strchr(spec, '=');
    size_t hexlen = eq ? (size_t)(eq - spec) : strlen(spec);
    bool ok = hexlen == 64;
    for (size_t i = 0; ok && i < 32; i++) {
        char pair[3] = {spec[2 * i], spec[2 * i + 1], '\0'};
        ok = isxdigit((unsigned char)pair[0]) && isxdigit((unsigned char)pair[1]);
        t->sha256[i] = (uint8_t)strtoul(pair, NULL, 16);
    }
    if (!ok) {
        snprintf(err, errlen,
                 "token \"%.*s\" is not a SHA-256 in hex (64 digits; e.g. printf %%s TOKEN | "
                 "sha256sum)",
                 (int)(hexlen > 80 ? 80 : hexlen), spec);
        return -1;
    }
    if (eq && (!eq[1] || strlen(eq + 1) >= sizeof t->instance)) {
        snprintf(err, errlen, "token binding \"%s\": the instance is empty or too long", eq + 1);
        return -1;
    }
    if (eq)
        snprintf(t->instance, sizeof t->instance, "%s", eq + 1);
    return 0;
}

/* Index of the token whose digest matches, or -1.  Every configured digest
 * is compared in full, so the time taken does not say how close a guess was. */
static int token_find(const ingest *in, const char *token)
{
    uint8_t d[32];
    mbedtls_sha256_ret((const unsigned char *)token, strlen(token), d, 0);
    int found = -1;
    for (size_t k = 0; k < in->opt.ntokens; k++) {
        uint8_t diff = 0;
        for (size_t i = 0; i < 32; i++)
            diff |= (uint8_t)(d[i] ^ in->tokens[k].sha256[i]);
        found = diff == 0 ? (int)k : found;
    }
    return found;
}

/* ---- agents (callers hold mu) ---- */

static ingest_agent *agent_get(ingest *in, const char *agent_id)
{
    uint64_t idx;
    size_t len = strlen(agent_id);
    if (strmap_get(&in->agent_index, agent_id, len, &idx))
        return &in->agents[idx];
    EM_GROW(in->agents, in->agents_cap, in->nagents + 1);
    ingest_agent *a = &in->agents[in->nagents];
    memset(a, 0, sizeof *a);
    snprintf(a->agent_id, sizeof a->agent_id, "%s", agent_id);
    strmap_put(&in->agent_index, agent_id, len, in->nagents++);
    return a;
}

/* Record what a connection tells about its agent. */
static ingest_agent *agent_seen(ingest *in, const char *agent_id, const pipe_state *ps)
{
    ingest_agent *a = agent_get(in, agent_id);
    a->last_seen_ms = now_ms();
    if (ps && ps->address[0])
        snprintf(a->address, sizeof a->address, "%s", ps->address);
    return a;
}

/* ---- messages ---- */

static void reply(ebuf *out, uint64_t seq, Ember__Ack__Status st, const char *reason,
                  uint64_t applied)
{
    wire_encode_ack(out, seq, st, reason, applied);
}

void ingest_refuse(ingest *in, ingest_reject why, uint64_t seq, const char *agent_id,
                   const char *reason, ebuf *out)
{
    char q[600];
    atomic_fetch_add(&in->batches_rejected, 1);
    atomic_fetch_add(&in->rejected_by[why], 1);
    log_warn("rejected message", "agent=%s seq=%llu why=%s reason=%s", agent_id ? agent_id : "",
             (unsigned long long)seq, reject_names[why], log_quote(q, sizeof q, reason));
    reply(out, seq, EMBER__ACK__STATUS__REJECTED, reason, 0);
}

static void handle_hello(ingest *in, const Ember__Hello *h, nng_pipe pipe, ebuf *out)
{
    atomic_fetch_add(&in->hellos, 1);
    int tok = in->opt.ntokens ? token_find(in, h->token ? h->token : "") : -1;
    pthread_mutex_lock(&in->mu);
    pipe_state *ps = ingest_pipe_get(in, pipe);
    ingest_agent *a = agent_seen(in, h->agent_id, ps);
    snprintf(a->version, sizeof a->version, "%s", h->version);
    for (size_t i = 0; i < h->n_static_labels; i++)
        if (strcmp(h->static_labels[i]->name, "instance") == 0)
            snprintf(a->instance, sizeof a->instance, "%s", h->static_labels[i]->value);
    bool bad = in->opt.ntokens && tok < 0;
    if (bad)
        a->errors++;
    uint32_t features = h->features & WIRE_FEATURE_DELTA;
    if (ps) { /* a Hello starts the agent's session afresh: no bases */
        ps->auth = bad ? P_BAD_TOKEN : P_AUTHENTICATED;
        ps->token = tok;
        ps->features = features;
        wire_base_clear(&ps->bases[0]);
        wire_base_clear(&ps->bases[1]);
    }
    pthread_mutex_unlock(&in->mu);
    if (bad) {
        ingest_refuse(in, INGEST_REJ_INVALID_TOKEN, 0, h->agent_id, "invalid token", out);
        return;
    }
    log_info("agent hello", "agent=%s version=%s features=%u", h->agent_id, h->version,
             (unsigned)features);
    wire_encode_ack_features(out, 0, EMBER__ACK__STATUS__OK, NULL, 0, features);
}

/* The first limit the batch breaks, with the reason in err; -1 when none. */
static int check_limits(const ingest_options *o, const Ember__Batch *b, char *err, size_t errlen)
{
    if (o->max_series_per_batch && b->n_series > o->max_series_per_batch) {
        snprintf(err, errlen, "batch has %zu series, above --ingest.max-series-per-batch=%llu",
                 b->n_series, (unsigned long long)o->max_series_per_batch);
        return INGEST_REJ_SERIES;
    }
    for (size_t i = 0; i < b->n_series; i++) {
        const Ember__Series *s = b->series[i];
        if (o->max_label_count && s->n_label_refs / 2 > o->max_label_count) {
            snprintf(err, errlen, "series has %zu labels, above --ingest.max-label-count=%llu",
                     s->n_label_refs / 2, (unsigned long long)o->max_label_count);
            return INGEST_REJ_LABEL_COUNT;
        }
        for (size_t k = 0; o->max_label_length && k < s->n_label_refs; k++) {
            const char *str = b->symbols[s->label_refs[k]];
            size_t len = strlen(str);
            if (len > o->max_label_length) {
                snprintf(
                    err, errlen,
                    "label %s of %zu bytes (\"%.40s...\"), above --ingest.max-label-length=%llu",
                    k % 2 ? "value" : "name", len, str, (unsigned long long)o->max_label_length);
                return INGEST_REJ_LABEL_LENGTH;
            }
        }
    }
    return -1;
}

/* With a token bound to an instance, no series may carry another one
 * (series without an instance label, like the agent's own, claim none). */
static bool check_instance(const Ember__Batch *b, const char *bound, char *err, size_t errlen)
{
    for (size_t i = 0; i < b->n_series; i++) {
        const Ember__Series *s = b->series[i];
        const char *inst = NULL;
        for (size_t k = 0; k + 1 < s->n_label_refs; k += 2)
            if (strcmp(b->symbols[s->label_refs[k]], "instance") == 0)
                inst = b->symbols[s->label_refs[k + 1]];
        if (inst && strcmp(inst, bound) != 0) {
            snprintf(err, errlen,
                     "series with instance \"%.100s\": this agent's token may only "
                     "write instance \"%.100s\"",
                     inst, bound);
            return false;
        }
    }
    return true;
}

/* The instance label of the batch's first series that has one. */
static void batch_instance(const Ember__Batch *b, char *out, size_t len)
{
    for (size_t i = 0; i < b->n_series; i++) {
        const Ember__Series *s = b->series[i];
        for (size_t k = 0; k + 1 < s->n_label_refs; k += 2)
            if (strcmp(b->symbols[s->label_refs[k]], "instance") == 0) {
                snprintf(out, len, "%s", b->symbols[s->label_refs[k + 1]]);
                return;
            }
    }
}

/* Why an authenticated (or unauthenticating) connection's batch is
 * refused, with the reason in err; -1 when it may be committed. */
static int refusal(const ingest *in, const Ember__Batch *b, pipe_auth auth, const char *bound,
                   char *err, size_t errlen)
{
    if (auth == P_BAD_TOKEN) {
        snprintf(err, errlen, "invalid token");
        return INGEST_REJ_INVALID_TOKEN;
    }
    int why = check_limits(&in->opt, b, err, errlen);
    if (why < 0 && bound[0] && !check_instance(b, bound, err, errlen))
        why = INGEST_REJ_INSTANCE;
    return why;
}

static void agent_error(ingest *in, const char *agent_id)
{
    pthread_mutex_lock(&in->mu);
    agent_get(in, agent_id)->errors++;
    pthread_mutex_unlock(&in->mu);
}

/* Authentication and limits; true if the batch may be committed, else the
 * reply is in out. */
static bool admit_batch(ingest *in, const Ember__Batch *b, uint32_t pipe, ebuf *out)
{
    pipe_auth auth = P_AUTHENTICATED;
    char bound[256] = "", err[512];
    pthread_mutex_lock(&in->mu);
    pipe_state *ps = ingest_pipe_find(in, pipe);
    ingest_agent *a = agent_seen(in, b->agent_id, ps);
    if (!a->instance[0]) /* what it claims, shown even when refused */
        batch_instance(b, a->instance, sizeof a->instance);
    if (in->opt.ntokens) {
        auth = ps ? ps->auth : P_NO_HELLO;
        if (ps && ps->token >= 0)
            snprintf(bound, sizeof bound, "%s", in->tokens[ps->token].instance);
    }
    pthread_mutex_unlock(&in->mu);
    if (auth == P_NO_HELLO) {
        /* Retryable: the agent sends Hello again on any refusal, and a
         * reconnect (new pipe) must not cost it the batch. */
        agent_error(in, b->agent_id);
        atomic_fetch_add(&in->rejected_by[INGEST_REJ_UNAUTHENTICATED], 1);
        reply(out, b->seq, EMBER__ACK__STATUS__RETRY,
              "not authenticated: send Hello with a token first", 0);
        return false;
    }
    int why = refusal(in, b, auth, bound, err, sizeof err);
    if (why < 0)
        return true;
    agent_error(in, b->agent_id);
    ingest_refuse(in, (ingest_reject)why, b->seq, b->agent_id, err, out);
    return false;
}

static void agent_batch_done(ingest *in, const Ember__Batch *b, uint64_t applied, bool failed)
{
    int64_t newest = 0;
    for (size_t i = 0; i < b->n_series; i++) {
        const Ember__Series *s = b->series[i];
        for (size_t k = 0; k < s->n_samples; k++)
            if (s->samples[k]->timestamp_ms > newest)
                newest = s->samples[k]->timestamp_ms;
    }
    pthread_mutex_lock(&in->mu);
    ingest_agent *a = agent_get(in, b->agent_id);
    if (failed) {
        a->errors++;
    } else {
        a->batches++;
        a->samples += applied;
        a->last_seq = b->seq > a->last_seq ? b->seq : a->last_seq;
        a->newest_sample_ms = newest > a->newest_sample_ms ? newest : a->newest_sample_ms;
    }
    pthread_mutex_unlock(&in->mu);
}

/* The batch's metric metadata (Ember's MetricType numbers are metric_type's);
 * the store writes only records that changed. */
static void store_metadata(ingest *in, const Ember__Batch *b)
{
    tsdb_metadata *v = em_malloc((b->n_metadata ? b->n_metadata : 1) * sizeof *v);
    for (size_t i = 0; i < b->n_metadata; i++) {
        const Ember__Metadata *m = b->metadata[i];
        v[i] =
            (tsdb_metadata){b->symbols[m->family_ref], tsdb_metadata_type_of((metric_type)m->type),
                            b->symbols[m->help_ref], b->symbols[m->unit_ref]};
    }
    char err[256], q[300];
    if (tsdb_metadata_update(in->db, v, b->n_metadata, err, sizeof err) != 0)
        log_error("metadata write failed", "agent=%s err=%s", b->agent_id,
                  log_quote(q, sizeof q, err));
    free(v);
}

/* ---- series references ----
 * An agent sends the same series batch after batch.  Each agent's cache
 * maps a series' label pairs, as its batches spell them, to the store's
 * reference (tsdb_append_ref): after the first batches a series costs one
 * hash lookup, and neither a label set nor the store's key is built.  The
 * batches of one agent take turns on its cache. */
#define REF_CACHE_MAX (1u << 20) /* series of one agent before its cache starts over */

typedef struct ref_cache {
    pthread_mutex_t mu;
    strmap ids; /* name\0value\0... → index in refs */
    tsdb_ref *refs;
    size_t n, cap;
} ref_cache;

static ref_cache *ref_cache_of(ingest *in, const char *agent_id)
{
    pthread_mutex_lock(&in->mu);
    size_t i = (size_t)(agent_get(in, agent_id) - in->agents);
    if (i >= in->nrefc) {
        in->refc = em_realloc(in->refc, (i + 1) * sizeof *in->refc);
        memset(in->refc + in->nrefc, 0, (i + 1 - in->nrefc) * sizeof *in->refc);
        in->nrefc = i + 1;
    }
    if (!in->refc[i]) {
        in->refc[i] = em_calloc(1, sizeof(ref_cache));
        pthread_mutex_init(&in->refc[i]->mu, NULL);
        strmap_init(&in->refc[i]->ids);
    }
    ref_cache *rc = in->refc[i];
    pthread_mutex_unlock(&in->mu);
    return rc;
}

static void ref_caches_free(ingest *in)
{
    for (size_t i = 0; i < in->nrefc; i++) {
        if (!in->refc[i])
            continue;
        strmap_free(&in->refc[i]->ids);
        free(in->refc[i]->refs);
        pthread_mutex_destroy(&in->refc[i]->mu);
        free(in->refc[i]);
    }
    free(in->refc);
}

/* The reference slot of series i (zeroed when new); valid until the next call. */
static tsdb_ref *ref_slot(ref_cache *rc, const Ember__Batch *b, size_t i, ebuf *key)
{
    const Ember__Series *s = b->series[i];
    ebuf_reset(key);
    for (size_t k = 0; k < s->n_label_refs; k++) /* refs were checked by wire_decode */
        ebuf_append(key, b->symbols[s->label_refs[k]], strlen(b->symbols[s->label_refs[k]]) + 1);
    uint64_t idx;
    if (strmap_get(&rc->ids, key->data, key->len, &idx))
        return &rc->refs[idx];
    if (rc->n >= REF_CACHE_MAX) {
        strmap_free(&rc->ids);
        strmap_init(&rc->ids);
        rc->n = 0;
    }
    EM_GROW(rc->refs, rc->cap, rc->n + 1);
    rc->refs[rc->n] = (tsdb_ref){0};
    strmap_put(&rc->ids, key->data, key->len, rc->n);
    return &rc->refs[rc->n++];
}

/* Stage series i's samples, by reference when the cache has a live one. */
static void append_series(tsdb_appender *app, const Ember__Batch *b, size_t i, tsdb_ref *ref,
                          labelset *ls)
{
    bool have_ls = false;
    for (size_t k = 0; k < b->series[i]->n_samples; k++) {
        const Ember__Sample *s = b->series[i]->samples[k];
        if (tsdb_append_ref(app, ref, NULL, s->timestamp_ms, s->value) != TSDB_STALE_REF)
            continue;
        if (!have_ls) {
            labels_clear(ls);
            wire_series_labels(b, i, ls);
            have_ls = true;
        }
        tsdb_append_ref(app, ref, ls, s->timestamp_ms, s->value);
    }
}

/* Commit the batch and answer; true if it is durable (OK). */
static bool handle_batch(ingest *in, const Ember__Batch *b, ebuf *out)
{
    tsdb_appender *app = tsdb_appender_new(in->db);
    labelset ls;
    labels_init(&ls);
    ebuf key;
    ebuf_init(&key);
    ref_cache *rc = ref_cache_of(in, b->agent_id);
    pthread_mutex_lock(&rc->mu);
    for (size_t i = 0; i < b->n_series; i++)
        append_series(app, b, i, ref_slot(rc, b, i, &key), &ls);
    pthread_mutex_unlock(&rc->mu);
    ebuf_free(&key);
    labels_free(&ls);
    tsdb_commit_result res;
    char err[256], q[300];
    if (tsdb_commit(app, b->agent_id, b->seq, &res, err, sizeof err) != 0) {
        atomic_fetch_add(&in->batches_failed, 1);
        log_error("batch commit failed", "agent=%s seq=%llu err=%s", b->agent_id,
                  (unsigned long long)b->seq, log_quote(q, sizeof q, err));
        reply(out, b->seq, EMBER__ACK__STATUS__RETRY, err, 0);
        agent_batch_done(in, b, 0, true);
        return false;
    }
    agent_batch_done(in, b, res.applied, false);
    store_metadata(in, b);
    if (res.duplicate) {
        atomic_fetch_add(&in->batches_duplicate, 1);
        log_debug("duplicate batch acknowledged", "agent=%s seq=%llu", b->agent_id,
                  (unsigned long long)b->seq);
        reply(out, b->seq, EMBER__ACK__STATUS__OK, "duplicate", 0);
    } else {
        /* Refused samples (bad labels, out of retention, series limit) are
         * not retryable; the rest of the batch is durable: OK with the reason. */
        atomic_fetch_add(&in->batches_ok, 1);
        atomic_fetch_add(&in->samples, res.applied);
        atomic_fetch_add(&in->samples_rejected, res.rejected);
        if (res.rejected)
            log_warn("samples rejected", "agent=%s seq=%llu rejected=%llu reason=%s", b->agent_id,
                     (unsigned long long)b->seq, (unsigned long long)res.rejected,
                     log_quote(q, sizeof q, res.reason));
        reply(out, b->seq, EMBER__ACK__STATUS__OK, res.rejected ? res.reason : NULL, res.applied);
    }
    return true;
}

void ingest_commit_batch(ingest *in, incoming *m, ebuf *out)
{
    const Ember__Batch *b = m->env->batch;
    if (!handle_batch(in, b, out))
        return;
    ingest_base_keep(in, m, b->seq);
    pthread_mutex_lock(&in->mu);
    ingest_wake_parked(in, b->agent_id, tsdb_agent_seq(in->db, b->agent_id));
    pthread_mutex_unlock(&in->mu);
}

/* ---- the workers: a message in, its reply out ---- */

/* Handle the message in w->cur; true if it was parked (no reply yet). */
static bool handle_message(ingest *in, worker *w, ebuf *out)
{
    char err[256];
    incoming *m = &w->cur;
    size_t len = nng_msg_len(m->msg);
    m->pipe = (uint32_t)nng_pipe_id(nng_msg_get_pipe(m->msg));
    atomic_fetch_add(&in->bytes, len);
    if (len > in->opt.max_message_bytes) {
        snprintf(err, sizeof err, "message of %zu bytes, above --ingest.max-message-bytes=%llu",
                 len, (unsigned long long)in->opt.max_message_bytes);
        ingest_refuse(in, INGEST_REJ_MESSAGE_BYTES, 0, NULL, err, out);
        return false;
    }
    if (!ingest_decode(in, m, out))
        return false;
    if (m->env->body_case == EMBER__ENVELOPE__BODY_HELLO)
        handle_hello(in, m->env->hello, nng_msg_get_pipe(m->msg), out);
    else if (admit_batch(in, m->env->batch, m->pipe, out)) {
        if (ingest_park_if_early(in, w))
            return true;
        ingest_commit_batch(in, m, out);
    }
    return false;
}

static void incoming_free(incoming *m)
{
    wire_envelope_free(m->env);
    free(m->raw);
    *m = (incoming){0};
}

/* Answer with out on w's context, reusing the request's message. */
static void send_reply(worker *w, ebuf *out)
{
    nng_msg *msg = w->cur.msg;
    w->cur.msg = NULL;
    incoming_free(&w->cur);
    nng_msg_clear(msg);
    nng_msg_append(msg, out->data, out->len);
    ebuf_free(out);
    nng_aio_set_msg(w->aio, msg);
    w->state = W_SEND;
    nng_ctx_send(w->ctx, w->aio);
}

static void worker_cb(void *arg)
{
    worker *w = arg;
    int rv = nng_aio_result(w->aio);
    if (rv == NNG_ECLOSED || rv == NNG_ECANCELED)
        return; /* stopping: ingest_stop frees a reply left on the aio */
    ebuf out;
    ebuf_init(&out);
    if (w->state == W_PARKED) { /* woken (NNG_EINTR) or timed out */
        ingest_resume_parked(w->in, w, &out);
        send_reply(w, &out);
        return;
    }
    if (w->state == W_RECV && rv == 0) {
        w->cur = (incoming){.msg = nng_aio_get_msg(w->aio)};
        nng_aio_set_msg(w->aio, NULL); /* ours now: the aio holds only unsent replies */
        if (!handle_message(w->in, w, &out))
            send_reply(w, &out);
        else
            ebuf_free(&out);
        return;
    }
    ebuf_free(&out);
    if (w->state == W_SEND && rv != 0) {
        nng_msg_free(nng_aio_get_msg(w->aio));
        nng_aio_set_msg(w->aio, NULL);
    }
    w->state = W_RECV;
    nng_ctx_recv(w->ctx, w->aio);
}

/* ---- lifecycle ---- */

static int listen_on(ingest *in, const char *url, char *err, size_t errlen)
{
    int rv = nng_listener_create(&in->listener, in->sock, url);
    if (rv == 0 && wire_url_is_tls(url)) {
        wire_tls t = {.ca = in->opt.tls_ca, .cert = in->opt.tls_cert, .key = in->opt.tls_key};
        nng_tls_config *c = wire_tls_config(&t, true, err, errlen);
        if (!c)
            return -1;
        rv = nng_listener_set_ptr(in->listener, NNG_OPT_TLS_CONFIG, c);
        nng_tls_config_free(c); /* the listener holds its own reference */
    }
    if (rv == 0)
        rv = nng_listener_start(in->listener, 0);
    if (rv != 0) {
        snprintf(err, errlen, "cannot listen on %s: %s", url, nng_strerror(rv));
        return -1;
    }
    return 0;
}

static void ref_caches_free(ingest *in);

static void free_ingest(ingest *in)
{
    ref_caches_free(in);
    for (int i = 0; in->workers && i < in->nworkers; i++) {
        if (in->workers[i].cur.msg) /* parked when the server stopped */
            nng_msg_free(in->workers[i].cur.msg);
        incoming_free(&in->workers[i].cur);
    }
    ingest_pipes_free(in);
    free(in->workers);
    free(in->tokens);
    free(in->agents);
    strmap_free(&in->agent_index);
    pthread_mutex_destroy(&in->mu);
    free(in);
}

int ingest_start(const char *url, tsdb *db, const ingest_options *o, ingest **out, char *err,
                 size_t errlen)
{
    ingest *in = em_calloc(1, sizeof *in);
    in->db = db;
    in->opt = *o;
    in->opt.max_message_bytes = o->max_message_bytes ? o->max_message_bytes : DEFAULT_MAX_MESSAGE;
    if (o->ntokens) {
        in->tokens = em_calloc(o->ntokens, sizeof *in->tokens);
        memcpy(in->tokens, o->tokens, o->ntokens * sizeof *in->tokens);
    }
    in->opt.tokens = in->tokens;
    pthread_mutex_init(&in->mu, NULL);
    strmap_init(&in->agent_index);
    int rv = nng_rep0_open(&in->sock);
    if (rv != 0) {
        snprintf(err, errlen, "cannot open ingest socket: %s", nng_strerror(rv));
        free_ingest(in);
        return -1;
    }
    /* nng drops the connection of a message above RECVMAXSZ without a word;
     * up to twice the limit we read it and answer with the limit's name. */
    nng_socket_set_size(in->sock, NNG_OPT_RECVMAXSZ, (size_t)in->opt.max_message_bytes * 2);
    nng_pipe_notify(in->sock, NNG_PIPE_EV_ADD_POST, ingest_pipe_event, in);
    nng_pipe_notify(in->sock, NNG_PIPE_EV_REM_POST, ingest_pipe_event, in);
    if (listen_on(in, url, err, errlen) != 0) {
        wire_close_detached(in->sock, NULL);
        free_ingest(in);
        return -1;
    }
    in->nworkers = o->workers > 0 ? o->workers : 1;
    in->workers = em_calloc((size_t)in->nworkers, sizeof(worker));
    for (int i = 0; i < in->nworkers; i++) {
        worker *w = &in->workers[i];
        w->in = in;
        nng_aio_alloc(&w->aio, worker_cb, w);
        nng_ctx_open(&w->ctx, in->sock);
        w->state = W_RECV;
        nng_ctx_recv(w->ctx, w->aio);
    }
    *out = in;
    return 0;
}

#define CLOSE_WAIT_MS 2000

void ingest_stop(ingest *in)
{
    if (!in)
        return;
    for (int i = 0; i < in->nworkers; i++)
        nng_aio_stop(in->workers[i].aio);
    for (int i = 0; i < in->nworkers; i++) {
        /* A reply whose send was canceled, or could not even start once
         * the stop began (nng then leaves it on the aio, no callback). */
        nng_msg *unsent = nng_aio_get_msg(in->workers[i].aio);
        if (unsent)
            nng_msg_free(unsent);
        nng_ctx_close(in->workers[i].ctx);
        nng_aio_free(in->workers[i].aio);
    }
    /* the pipe callbacks use in: it must outlive the close (wire_close.h),
     * and the store closes after this whether nng returns or not */
    if (!wire_close_within(in->sock, NULL, CLOSE_WAIT_MS)) {
        log_warn("ingest socket still closing (nng 1.5.2, nanomsg/nng#1813); going on",
                 "waited_ms=%d", CLOSE_WAIT_MS);
        return; /* in stays allocated for nng's callbacks */
    }
    free_ingest(in);
}

int ingest_port(ingest *in)
{
    int port = 0;
    nng_listener_get_int(in->listener, NNG_OPT_TCP_BOUND_PORT, &port);
    return port;
}

void ingest_get_stats(ingest *in, ingest_stats *st)
{
    st->batches_ok = atomic_load(&in->batches_ok);
    st->batches_duplicate = atomic_load(&in->batches_duplicate);
    st->batches_rejected = atomic_load(&in->batches_rejected);
    st->batches_failed = atomic_load(&in->batches_failed);
    st->hellos = atomic_load(&in->hellos);
    st->samples = atomic_load(&in->samples);
    st->samples_rejected = atomic_load(&in->samples_rejected);
    st->bytes = atomic_load(&in->bytes);
    for (int i = 0; i < INGEST_REJ_COUNT; i++)
        st->rejected_by[i] = atomic_load(&in->rejected_by[i]);
    st->unknown_base = atomic_load(&in->unknown_base);
    st->parked = atomic_load(&in->parked);
    st->park_timeouts = atomic_load(&in->park_timeouts);
    st->parked_ms = atomic_load(&in->parked_ms_total);
}

void ingest_reject_metrics(ingest *in, metric_set *ms)
{
    const char *n = "ember_aggregator_ingest_refused_total";
    metric_set_meta(ms, n, METRIC_COUNTER,
                    "Messages refused by the ingest endpoint, by reason (unauthenticated ones "
                    "are answered RETRY, the others REJECTED).");
    for (int i = 0; i < INGEST_REJ_COUNT; i++)
        metric_set_addl(ms, n, (double)atomic_load(&in->rejected_by[i]), "reason", reject_names[i],
                        NULL);
    ingest_session_metrics(in, ms);
}

static int agent_cmp(const void *a, const void *b)
{
    return strcmp(((const ingest_agent *)a)->agent_id, ((const ingest_agent *)b)->agent_id);
}

size_t ingest_agents(ingest *in, ingest_agent **out)
{
    pthread_mutex_lock(&in->mu);
    size_t n = in->nagents;
    *out = em_malloc((n ? n : 1) * sizeof **out);
    if (n)
        memcpy(*out, in->agents, n * sizeof **out);
    pthread_mutex_unlock(&in->mu);
    qsort(*out, n, sizeof **out, agent_cmp);
    return n;
}
