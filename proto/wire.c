/*
 * wire.c — encoding and checked decoding of Envelope/Batch/Hello/Ack.
 *
 * Encoding walks a metric_set once: every string (label names and values,
 * family names, help texts) goes through a symbol table, so a batch carries
 * each distinct string once.  Decoding decompresses with a hard size limit
 * (the frame must declare its content size), unpacks with protobuf-c and then
 * validates every reference before anyone uses the batch.
 */
#include "proto/wire.h"

#include "common/mem.h"
#include "common/strmap.h"

#include <errno.h>
#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#define WIRE_ZSTD_LEVEL 3

typedef struct symtab {
    strmap index;
    char **v;
    size_t n, cap;
} symtab;

static void symtab_init(symtab *st)
{
    strmap_init(&st->index);
    st->v = NULL;
    st->n = st->cap = 0;
}

static uint32_t symtab_ref(symtab *st, const char *s)
{
    size_t len = strlen(s);
    uint64_t ref;
    if (strmap_get(&st->index, s, len, &ref))
        return (uint32_t)ref;
    EM_GROW(st->v, st->cap, st->n + 1);
    st->v[st->n] = (char *)s; /* borrowed: the metric_set outlives the encoding */
    strmap_put(&st->index, s, len, st->n);
    return (uint32_t)st->n++;
}

static void symtab_free(symtab *st)
{
    strmap_free(&st->index);
    free(st->v);
}

/* Compress raw into out; with a prefix (a base both ends hold, see
 * wire_delta.c), matches may point into it. */
void wire_compress(ebuf *out, const void *raw, size_t rawlen, const void *prefix, size_t prefixlen)
{
    size_t bound = ZSTD_compressBound(rawlen);
    ebuf_reserve(out, bound);
    ZSTD_CCtx *c = ZSTD_createCCtx();
    size_t n = c ? ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, WIRE_ZSTD_LEVEL) : 0;
    if (c && !ZSTD_isError(n) && prefix)
        n = ZSTD_CCtx_refPrefix(c, prefix, prefixlen);
    if (c && !ZSTD_isError(n))
        n = ZSTD_compress2(c, out->data + out->len, bound, raw, rawlen);
    if (!c || ZSTD_isError(n)) {
        /* Only on a programming error or no memory: the bound is always enough. */
        fprintf(stderr, "zstd: %s\n", c ? ZSTD_getErrorName(n) : "out of memory");
        abort();
    }
    ZSTD_freeCCtx(c);
    out->len += n;
}

static void pack_envelope(ebuf *out, const Ember__Envelope *env)
{
    size_t rawlen = ember__envelope__get_packed_size(env);
    uint8_t *raw = em_malloc(rawlen);
    ember__envelope__pack(env, raw);
    wire_compress(out, raw, rawlen, NULL, 0);
    free(raw);
}

static Ember__Metadata *encode_meta(symtab *st, const metric_meta *m)
{
    Ember__Metadata *md = em_malloc(sizeof *md);
    ember__metadata__init(md);
    md->family_ref = symtab_ref(st, m->family);
    md->type = (Ember__MetricType)m->type;
    md->help_ref = symtab_ref(st, m->help ? m->help : "");
    md->unit_ref = 0;
    return md;
}

static Ember__Series *encode_series(symtab *st, const metric_sample *s, Ember__Sample *smp,
                                    int64_t default_ts)
{
    Ember__Series *se = em_malloc(sizeof *se);
    ember__series__init(se);
    se->n_label_refs = s->labels.n * 2;
    se->label_refs = em_malloc(se->n_label_refs * sizeof(uint32_t));
    for (size_t i = 0; i < s->labels.n; i++) {
        se->label_refs[2 * i] = symtab_ref(st, s->labels.v[i].name);
        se->label_refs[2 * i + 1] = symtab_ref(st, s->labels.v[i].value);
    }
    ember__sample__init(smp);
    smp->timestamp_ms = s->has_ts ? s->ts_ms : default_ts;
    smp->value = s->value;
    se->n_samples = 1;
    se->samples = em_malloc(sizeof(Ember__Sample *));
    se->samples[0] = smp;
    return se;
}

void wire_encode_batch(ebuf *out, const char *agent_id, uint64_t seq, const metric_set *ms,
                       int64_t default_ts_ms)
{
    symtab st;
    symtab_init(&st);
    symtab_ref(&st, ""); /* index 0 is always the empty string */

    Ember__Batch b = EMBER__BATCH__INIT;
    b.agent_id = (char *)agent_id;
    b.seq = seq;
    b.n_metadata = ms->nmeta;
    b.metadata = em_malloc((ms->nmeta ? ms->nmeta : 1) * sizeof(Ember__Metadata *));
    for (size_t i = 0; i < ms->nmeta; i++)
        b.metadata[i] = encode_meta(&st, &ms->meta[i]);
    Ember__Sample *smp = em_malloc((ms->n ? ms->n : 1) * sizeof(Ember__Sample));
    b.n_series = ms->n;
    b.series = em_malloc((ms->n ? ms->n : 1) * sizeof(Ember__Series *));
    for (size_t i = 0; i < ms->n; i++)
        b.series[i] = encode_series(&st, &ms->samples[i], &smp[i], default_ts_ms);
    b.n_symbols = st.n;
    b.symbols = st.v;

    Ember__Envelope env = EMBER__ENVELOPE__INIT;
    env.body_case = EMBER__ENVELOPE__BODY_BATCH;
    env.batch = &b;
    pack_envelope(out, &env);

    for (size_t i = 0; i < b.n_series; i++) {
        free(b.series[i]->label_refs);
        free(b.series[i]->samples);
        free(b.series[i]);
    }
    for (size_t i = 0; i < b.n_metadata; i++)
        free(b.metadata[i]);
    free(b.series);
    free(b.metadata);
    free(smp);
    symtab_free(&st);
}

void wire_encode_hello(ebuf *out, const char *agent_id, const char *version,
                       const labelset *static_labels, const char *token)
{
    wire_encode_hello_features(out, agent_id, version, static_labels, token, 0);
}

void wire_encode_hello_features(ebuf *out, const char *agent_id, const char *version,
                                const labelset *static_labels, const char *token, uint32_t features)
{
    Ember__Hello h = EMBER__HELLO__INIT;
    h.features = features;
    h.agent_id = (char *)agent_id;
    h.version = (char *)version;
    h.token = (char *)(token ? token : "");
    size_t n = static_labels ? static_labels->n : 0;
    Ember__Label *lv = em_malloc((n ? n : 1) * sizeof(Ember__Label));
    Ember__Label **lp = em_malloc((n ? n : 1) * sizeof(Ember__Label *));
    for (size_t i = 0; i < n; i++) {
        ember__label__init(&lv[i]);
        lv[i].name = static_labels->v[i].name;
        lv[i].value = static_labels->v[i].value;
        lp[i] = &lv[i];
    }
    h.n_static_labels = n;
    h.static_labels = lp;

    Ember__Envelope env = EMBER__ENVELOPE__INIT;
    env.body_case = EMBER__ENVELOPE__BODY_HELLO;
    env.hello = &h;
    pack_envelope(out, &env);
    free(lv);
    free(lp);
}

uint8_t *wire_decompress(const void *msg, size_t len, const void *prefix, size_t prefixlen,
                         size_t *outlen, char *err, size_t errlen)
{
    unsigned long long size = ZSTD_getFrameContentSize(msg, len);
    if (size == ZSTD_CONTENTSIZE_ERROR) {
        snprintf(err, errlen, "not a zstd frame (%zu bytes)", len);
        return NULL;
    }
    if (size == ZSTD_CONTENTSIZE_UNKNOWN) {
        snprintf(err, errlen, "zstd frame does not declare its content size");
        return NULL;
    }
    if (size > WIRE_MAX_MESSAGE) {
        snprintf(err, errlen, "message of %llu bytes exceeds the limit of %u", size,
                 WIRE_MAX_MESSAGE);
        return NULL;
    }
    uint8_t *raw = em_malloc(size ? (size_t)size : 1);
    ZSTD_DCtx *d = ZSTD_createDCtx();
    size_t n = d ? 0 : (size_t)-1;
    if (d && prefix)
        n = ZSTD_DCtx_refPrefix(d, prefix, prefixlen);
    if (d && !ZSTD_isError(n))
        n = ZSTD_decompressDCtx(d, raw, (size_t)size, msg, len);
    ZSTD_freeDCtx(d);
    if (ZSTD_isError(n) || n != size) {
        snprintf(err, errlen, "corrupt zstd frame: %s",
                 ZSTD_isError(n) ? ZSTD_getErrorName(n) : "size mismatch");
        free(raw);
        return NULL;
    }
    *outlen = n;
    return raw;
}

static bool check_symbols(const Ember__Batch *b, char *err, size_t errlen)
{
    if (b->n_symbols == 0 || b->symbols[0][0] != '\0') {
        snprintf(err, errlen, "symbol table must start with the empty string");
        return false;
    }
    for (size_t i = 0; i < b->n_symbols; i++) {
        if (!utf8_valid(b->symbols[i], strlen(b->symbols[i]))) {
            snprintf(err, errlen, "symbol %zu is not valid UTF-8", i);
            return false;
        }
    }
    return true;
}

static bool check_series(const Ember__Batch *b, size_t i, char *err, size_t errlen)
{
    const Ember__Series *s = b->series[i];
    if (s->n_label_refs % 2 != 0) {
        snprintf(err, errlen, "series %zu: odd number of label references", i);
        return false;
    }
    for (size_t k = 0; k < s->n_label_refs; k++) {
        if (s->label_refs[k] >= b->n_symbols) {
            snprintf(err, errlen, "series %zu: symbol reference %u out of range (%zu symbols)", i,
                     s->label_refs[k], b->n_symbols);
            return false;
        }
    }
    labelset ls;
    labels_init(&ls);
    wire_series_labels(b, i, &ls);
    char why[200];
    bool ok = labels_validate(&ls, why, sizeof why);
    if (ok && !labels_metric_name(&ls)) {
        snprintf(why, sizeof why, "no metric name");
        ok = false;
    }
    if (!ok)
        snprintf(err, errlen, "series %zu: %s", i, why);
    labels_free(&ls);
    return ok;
}

static bool check_batch(const Ember__Batch *b, char *err, size_t errlen)
{
    if (b->agent_id[0] == '\0') {
        snprintf(err, errlen, "batch without agent_id");
        return false;
    }
    if (b->seq == 0) {
        snprintf(err, errlen, "batch seq must start at 1");
        return false;
    }
    if (!check_symbols(b, err, errlen))
        return false;
    for (size_t i = 0; i < b->n_series; i++)
        if (!check_series(b, i, err, errlen))
            return false;
    for (size_t i = 0; i < b->n_metadata; i++) {
        const Ember__Metadata *m = b->metadata[i];
        if (m->family_ref >= b->n_symbols || m->help_ref >= b->n_symbols ||
            m->unit_ref >= b->n_symbols) {
            snprintf(err, errlen, "metadata %zu: symbol reference out of range", i);
            return false;
        }
    }
    return true;
}

Ember__Envelope *wire_decode_raw(const uint8_t *raw, size_t rawlen, char *err, size_t errlen)
{
    Ember__Envelope *env = ember__envelope__unpack(NULL, rawlen, raw);
    if (!env) {
        snprintf(err, errlen, "malformed protobuf Envelope");
        return NULL;
    }
    bool ok = true;
    switch (env->body_case) {
    case EMBER__ENVELOPE__BODY_BATCH: ok = check_batch(env->batch, err, errlen); break;
    case EMBER__ENVELOPE__BODY_HELLO:
        if (env->hello->agent_id[0] == '\0') {
            snprintf(err, errlen, "hello without agent_id");
            ok = false;
        }
        break;
    default: snprintf(err, errlen, "envelope has no body"); ok = false;
    }
    if (!ok) {
        wire_envelope_free(env);
        return NULL;
    }
    return env;
}

Ember__Envelope *wire_decode_envelope(const void *msg, size_t len, char *err, size_t errlen)
{
    size_t rawlen = 0;
    uint8_t *raw = wire_decompress(msg, len, NULL, 0, &rawlen, err, errlen);
    if (!raw)
        return NULL;
    Ember__Envelope *env = wire_decode_raw(raw, rawlen, err, errlen);
    free(raw);
    return env;
}

void wire_envelope_free(Ember__Envelope *env)
{
    if (env)
        ember__envelope__free_unpacked(env, NULL);
}

void wire_series_labels(const Ember__Batch *b, size_t i, labelset *out)
{
    const Ember__Series *s = b->series[i];
    for (size_t k = 0; k + 1 < s->n_label_refs; k += 2)
        labels_add(out, b->symbols[s->label_refs[k]], b->symbols[s->label_refs[k + 1]]);
    labels_sort(out);
}

void wire_encode_ack(ebuf *out, uint64_t seq, Ember__Ack__Status status, const char *reason,
                     uint64_t samples_applied)
{
    wire_encode_ack_features(out, seq, status, reason, samples_applied, 0);
}

void wire_encode_ack_features(ebuf *out, uint64_t seq, Ember__Ack__Status status,
                              const char *reason, uint64_t samples_applied, uint32_t features)
{
    Ember__Ack a = EMBER__ACK__INIT;
    a.features = features;
    a.seq = seq;
    a.status = status;
    a.reason = (char *)(reason ? reason : "");
    a.samples_applied = samples_applied;
    size_t n = ember__ack__get_packed_size(&a);
    ebuf_reserve(out, n);
    ember__ack__pack(&a, (uint8_t *)out->data + out->len);
    out->len += n;
}

Ember__Ack *wire_decode_ack(const void *msg, size_t len)
{
    return ember__ack__unpack(NULL, len, msg);
}

bool wire_url_is_tls(const char *url)
{
    return strncmp(url, "tls+", 4) == 0;
}

/* A whole PEM file as a string (free()), or NULL with err set. */
static char *read_pem(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    ebuf b;
    ebuf_init(&b);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0 && b.len < (1u << 20))
        ebuf_append(&b, chunk, n);
    fclose(f);
    ebuf_putc(&b, '\0');
    return (char *)b.data;
}

static int tls_own_cert(nng_tls_config *c, const wire_tls *t, char *err, size_t errlen)
{
    char *cert = read_pem(t->cert, err, errlen);
    char *key = cert ? read_pem(t->key, err, errlen) : NULL;
    int rv = key ? nng_tls_config_own_cert(c, cert, key, NULL) : -1;
    if (key && rv != 0)
        snprintf(err, errlen, "cannot load certificate %s with key %s: %s", t->cert, t->key,
                 nng_strerror(rv));
    free(cert);
    free(key);
    return rv == 0 ? 0 : -1;
}

void *wire_tls_config(const wire_tls *t, bool server, char *err, size_t errlen)
{
    if (server ? !t->cert || !t->key : !t->ca) {
        snprintf(err, errlen,
                 server ? "TLS needs a certificate and a key file"
                        : "TLS needs the CA file that signed the server's certificate");
        return NULL;
    }
    if (!t->cert != !t->key) {
        snprintf(err, errlen, "TLS needs both a certificate and a key file, or neither");
        return NULL;
    }
    nng_tls_config *c;
    int rv = nng_tls_config_alloc(&c, server ? NNG_TLS_MODE_SERVER : NNG_TLS_MODE_CLIENT);
    if (rv != 0) {
        snprintf(err, errlen, "TLS: %s", nng_strerror(rv));
        return NULL;
    }
    if (t->ca && (rv = nng_tls_config_ca_file(c, t->ca)) != 0)
        snprintf(err, errlen, "cannot load CA file %s: %s", t->ca, nng_strerror(rv));
    if (rv == 0 && server && t->ca)
        rv = nng_tls_config_auth_mode(c, NNG_TLS_AUTH_MODE_REQUIRED);
    if (rv == 0 && !server && t->server_name &&
        (rv = nng_tls_config_server_name(c, t->server_name)) != 0)
        snprintf(err, errlen, "TLS server name %s: %s", t->server_name, nng_strerror(rv));
    if (rv == 0 && t->cert && tls_own_cert(c, t, err, errlen) != 0)
        rv = -1;
    if (rv != 0) {
        nng_tls_config_free(c);
        return NULL;
    }
    return c;
}
