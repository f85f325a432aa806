/*
 * tsdb.c — first-cut series store on RocksDB (layout in tsdb.h).
 *
 * All commits take one mutex: it orders the per-agent seq check with the
 * write, and guards the in-memory label-set → id map that spares a RocksDB
 * read per sample.  The map is rebuilt from the 'S' keys at open.
 */
#include "aggregator/tsdb/tsdb.h"

#include "common/buf.h"
#include "common/mem.h"
#include "common/strmap.h"

#include <pthread.h>
#include <rocksdb/c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_SERIES 'S'
#define KEY_LABELS 'L'
#define KEY_SAMPLE 'D'
#define KEY_AGENT 'A'
#define KEY_META 'M'
#define META_NEXT_ID "next_id"

struct tsdb {
    rocksdb_t *db;
    rocksdb_options_t *opts;
    rocksdb_writeoptions_t *wopts;
    rocksdb_readoptions_t *ropts;
    pthread_mutex_t lock;
    strmap series;    /* canonical label bytes → id */
    uint64_t next_id; /* ids start at 1 */
    uint64_t samples_appended;
    uint64_t commits;
};

typedef struct staged_sample {
    size_t key_off, key_len; /* canonical labels in tsdb_appender.keys */
    int64_t ts;
    double v;
} staged_sample;

struct tsdb_appender {
    tsdb *db;
    ebuf keys;
    staged_sample *v;
    size_t n, cap;
};

static uint64_t get_be64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

/* Flip the sign bit so negative timestamps sort before positive ones. */
static uint64_t ts_to_key(int64_t ts)
{
    return (uint64_t)ts ^ (1ULL << 63);
}

static int64_t ts_from_key(uint64_t k)
{
    return (int64_t)(k ^ (1ULL << 63));
}

static void encode_labels(ebuf *out, const labelset *ls)
{
    for (size_t i = 0; i < ls->n; i++) {
        ebuf_append(out, ls->v[i].name, strlen(ls->v[i].name) + 1);
        ebuf_append(out, ls->v[i].value, strlen(ls->v[i].value) + 1);
    }
}

static void decode_labels(const char *p, size_t len, labelset *out)
{
    const char *end = p + len;
    while (p < end) {
        const char *name = p;
        size_t nl = strnlen(p, (size_t)(end - p));
        p += nl + 1;
        if (p >= end)
            break;
        const char *value = p;
        size_t vl = strnlen(p, (size_t)(end - p));
        p += vl + 1;
        labels_addn(out, name, nl, value, vl);
    }
}

static void key_with_id(ebuf *k, char type, uint64_t id)
{
    ebuf_reset(k);
    ebuf_putc(k, type);
    ebuf_put_be64(k, id);
}

static int load_series(tsdb *db)
{
    rocksdb_iterator_t *it = rocksdb_create_iterator(db->db, db->ropts);
    char prefix = KEY_SERIES;
    for (rocksdb_iter_seek(it, &prefix, 1); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
        size_t kl, vl;
        const char *k = rocksdb_iter_key(it, &kl);
        const char *v = rocksdb_iter_value(it, &vl);
        if (kl < 1 || k[0] != KEY_SERIES)
            break;
        if (vl == 8)
            strmap_put(&db->series, k + 1, kl - 1, get_be64((const unsigned char *)v));
    }
    rocksdb_iter_destroy(it);

    char *err = NULL;
    size_t vl = 0;
    char key[] = {KEY_META, 'n', 'e', 'x', 't', '_', 'i', 'd'};
    char *v = rocksdb_get(db->db, db->ropts, key, sizeof key, &vl, &err);
    if (err) {
        free(err);
        return -1;
    }
    db->next_id = (v && vl == 8) ? get_be64((unsigned char *)v) : 1;
    free(v);
    return 0;
}

int tsdb_open(const char *dir, const tsdb_options *o, tsdb **out, char *err, size_t errlen)
{
    tsdb *db = em_calloc(1, sizeof *db);
    db->opts = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(db->opts, 1);
    rocksdb_options_set_compression(db->opts, rocksdb_zstd_compression);
    rocksdb_options_increase_parallelism(db->opts, 2);
    char *rerr = NULL;
    db->db = rocksdb_open(db->opts, dir, &rerr);
    if (rerr) {
        snprintf(err, errlen, "cannot open RocksDB in %s: %s", dir, rerr);
        free(rerr);
        rocksdb_options_destroy(db->opts);
        free(db);
        return -1;
    }
    db->wopts = rocksdb_writeoptions_create();
    rocksdb_writeoptions_set_sync(db->wopts, o ? o->sync : 1);
    db->ropts = rocksdb_readoptions_create();
    pthread_mutex_init(&db->lock, NULL);
    strmap_init(&db->series);
    if (load_series(db) != 0) {
        snprintf(err, errlen, "cannot read series index in %s", dir);
        tsdb_close(db);
        return -1;
    }
    *out = db;
    return 0;
}

void tsdb_close(tsdb *db)
{
    if (!db)
        return;
    rocksdb_close(db->db);
    rocksdb_writeoptions_destroy(db->wopts);
    rocksdb_readoptions_destroy(db->ropts);
    rocksdb_options_destroy(db->opts);
    strmap_free(&db->series);
    pthread_mutex_destroy(&db->lock);
    free(db);
}

tsdb_appender *tsdb_appender_new(tsdb *db)
{
    tsdb_appender *a = em_calloc(1, sizeof *a);
    a->db = db;
    ebuf_init(&a->keys);
    return a;
}

void tsdb_append(tsdb_appender *a, const labelset *ls, int64_t ts_ms, double v)
{
    EM_GROW(a->v, a->cap, a->n + 1);
    staged_sample *s = &a->v[a->n++];
    s->key_off = a->keys.len;
    encode_labels(&a->keys, ls);
    s->key_len = a->keys.len - s->key_off;
    s->ts = ts_ms;
    s->v = v;
}

void tsdb_appender_discard(tsdb_appender *a)
{
    if (!a)
        return;
    ebuf_free(&a->keys);
    free(a->v);
    free(a);
}

static uint64_t read_agent_seq(tsdb *db, const char *agent_id)
{
    ebuf k;
    ebuf_init(&k);
    ebuf_putc(&k, KEY_AGENT);
    ebuf_puts(&k, agent_id);
    char *err = NULL;
    size_t vl = 0;
    char *v = rocksdb_get(db->db, db->ropts, k.data, k.len, &vl, &err);
    uint64_t seq = (v && vl == 8) ? get_be64((unsigned char *)v) : 0;
    free(err);
    free(v);
    ebuf_free(&k);
    return seq;
}

uint64_t tsdb_agent_seq(tsdb *db, const char *agent_id)
{
    pthread_mutex_lock(&db->lock);
    uint64_t seq = read_agent_seq(db, agent_id);
    pthread_mutex_unlock(&db->lock);
    return seq;
}

/* Series id for a label key: known, staged in this commit, or new (staged). */
static uint64_t resolve_series(tsdb *db, strmap *fresh, uint64_t *next_id, const char *key,
                               size_t klen, rocksdb_writebatch_t *wb, ebuf *scratch)
{
    uint64_t id;
    if (strmap_get(&db->series, key, klen, &id) || strmap_get(fresh, key, klen, &id))
        return id;
    id = (*next_id)++;
    strmap_put(fresh, key, klen, id);
    ebuf_reset(scratch);
    ebuf_putc(scratch, KEY_SERIES);
    ebuf_append(scratch, key, klen);
    unsigned char idb[8];
    for (int i = 0; i < 8; i++)
        idb[i] = (unsigned char)(id >> (56 - 8 * i));
    rocksdb_writebatch_put(wb, scratch->data, scratch->len, (char *)idb, 8);
    key_with_id(scratch, KEY_LABELS, id);
    rocksdb_writebatch_put(wb, scratch->data, scratch->len, key, klen);
    return id;
}

static void put_be64_value(rocksdb_writebatch_t *wb, const char *k, size_t kl, uint64_t v)
{
    ebuf b;
    ebuf_init(&b);
    ebuf_put_be64(&b, v);
    rocksdb_writebatch_put(wb, k, kl, b.data, b.len);
    ebuf_free(&b);
}

static void merge_fresh(tsdb *db, strmap *fresh)
{
    for (size_t i = 0; i < fresh->cap; i++)
        if (fresh->slots[i].key)
            strmap_put(&db->series, fresh->slots[i].key, fresh->slots[i].klen,
                       fresh->slots[i].value);
}

static void stage_samples(tsdb_appender *a, rocksdb_writebatch_t *wb, strmap *fresh,
                          uint64_t *next_id)
{
    ebuf scratch, key;
    ebuf_init(&scratch);
    ebuf_init(&key);
    for (size_t i = 0; i < a->n; i++) {
        staged_sample *s = &a->v[i];
        uint64_t id = resolve_series(a->db, fresh, next_id, a->keys.data + s->key_off, s->key_len,
                                     wb, &scratch);
        key_with_id(&key, KEY_SAMPLE, id);
        ebuf_put_be64(&key, ts_to_key(s->ts));
        uint64_t bits;
        memcpy(&bits, &s->v, 8);
        put_be64_value(wb, key.data, key.len, bits);
    }
    ebuf_free(&scratch);
    ebuf_free(&key);
}

int tsdb_commit(tsdb_appender *a, const char *agent_id, uint64_t seq, bool *duplicate, char *err,
                size_t errlen)
{
    tsdb *db = a->db;
    int rc = 0;
    *duplicate = false;
    pthread_mutex_lock(&db->lock);
    if (agent_id && seq <= read_agent_seq(db, agent_id)) {
        *duplicate = true;
        goto out;
    }
    rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
    strmap fresh;
    strmap_init(&fresh);
    uint64_t next_id = db->next_id;
    stage_samples(a, wb, &fresh, &next_id);
    if (next_id != db->next_id)
        put_be64_value(wb, (char[]){KEY_META, 'n', 'e', 'x', 't', '_', 'i', 'd'}, 8, next_id);
    if (agent_id) {
        ebuf k;
        ebuf_init(&k);
        ebuf_putc(&k, KEY_AGENT);
        ebuf_puts(&k, agent_id);
        put_be64_value(wb, k.data, k.len, seq);
        ebuf_free(&k);
    }
    char *rerr = NULL;
    rocksdb_write(db->db, db->wopts, wb, &rerr);
    if (rerr) {
        snprintf(err, errlen, "RocksDB write failed: %s", rerr);
        free(rerr);
        rc = -1;
    } else {
        merge_fresh(db, &fresh);
        db->next_id = next_id;
        db->samples_appended += a->n;
        db->commits++;
    }
    strmap_free(&fresh);
    rocksdb_writebatch_destroy(wb);
out:
    pthread_mutex_unlock(&db->lock);
    tsdb_appender_discard(a);
    return rc;
}

static uint64_t int_property(tsdb *db, const char *name)
{
    uint64_t v = 0;
    if (rocksdb_property_int(db->db, name, &v) != 0)
        return 0;
    return v;
}

void tsdb_get_stats(tsdb *db, tsdb_stats *st)
{
    pthread_mutex_lock(&db->lock);
    st->series = db->series.len;
    st->samples_appended = db->samples_appended;
    st->commits = db->commits;
    pthread_mutex_unlock(&db->lock);
    st->disk_bytes = int_property(db, "rocksdb.total-sst-files-size") +
                     int_property(db, "rocksdb.size-all-mem-tables");
}

static void read_samples(tsdb *db, uint64_t id, int64_t mint, int64_t maxt, qseries *q)
{
    ebuf lo, hi;
    ebuf_init(&lo);
    ebuf_init(&hi);
    key_with_id(&lo, KEY_SAMPLE, id);
    ebuf_put_be64(&lo, ts_to_key(mint));
    key_with_id(&hi, KEY_SAMPLE, id);
    ebuf_put_be64(&hi, ts_to_key(maxt) + 1); /* exclusive upper bound */
    rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
    rocksdb_readoptions_set_iterate_upper_bound(ro, hi.data, hi.len);
    rocksdb_iterator_t *it = rocksdb_create_iterator(db->db, ro);
    for (rocksdb_iter_seek(it, lo.data, lo.len); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
        size_t kl, vl;
        const unsigned char *k = (const unsigned char *)rocksdb_iter_key(it, &kl);
        const unsigned char *v = (const unsigned char *)rocksdb_iter_value(it, &vl);
        if (kl != 17 || vl != 8)
            continue;
        uint64_t bits = get_be64(v);
        double d;
        memcpy(&d, &bits, 8);
        qseries_push(q, ts_from_key(get_be64(k + 9)), d);
    }
    rocksdb_iter_destroy(it);
    rocksdb_readoptions_destroy(ro);
    ebuf_free(&lo);
    ebuf_free(&hi);
}

/* First cut: every series' labels are matched; postings come with the
 * storage issue. */
static int tsdb_select(void *ctx, const label_matcher *ms, size_t nms, int64_t mint, int64_t maxt,
                       qseries_set *out, char *err, size_t errlen)
{
    tsdb *db = ctx;
    rocksdb_iterator_t *it = rocksdb_create_iterator(db->db, db->ropts);
    char prefix = KEY_LABELS;
    labelset ls;
    labels_init(&ls);
    for (rocksdb_iter_seek(it, &prefix, 1); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
        size_t kl, vl;
        const char *k = rocksdb_iter_key(it, &kl);
        if (kl != 9 || k[0] != KEY_LABELS)
            break;
        const char *v = rocksdb_iter_value(it, &vl);
        labels_clear(&ls);
        decode_labels(v, vl, &ls);
        if (!matchers_match_labels(ms, nms, &ls))
            continue;
        qseries *q = qseries_set_add(out, &ls);
        read_samples(db, get_be64((const unsigned char *)k + 1), mint, maxt, q);
        if (q->n == 0) { /* no samples in range: not part of the result */
            labels_free(&q->labels);
            free(q->samples);
            out->n--;
        }
    }
    labels_free(&ls);
    rocksdb_iter_destroy(it);
    return 0;
}

query_storage tsdb_query_storage(tsdb *db)
{
    query_storage st = {.ctx = db, .select = tsdb_select};
    return st;
}
