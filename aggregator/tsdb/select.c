/*
 * select.c — the store behind query/storage.h: selection through the
 * postings index, then a lazy iterator per series that merges its chunks.
 *
 * A series' samples in a range come from the chunk keys of the partitions
 * the range touches and from its head chunk (copied under the lock before
 * the disk is read, so a concurrent cut shows a sample twice, never zero
 * times).  Chunks may overlap (out-of-order writes); a heap on (timestamp,
 * -wseq) yields each timestamp once, from the newest write, and skips the
 * older copies.  Chunks are decoded only as the iterator moves.
 */
#include "aggregator/tsdb/tsdb_int.h"

#include "common/etime.h"
#include "common/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct source {
    uint8_t *bytes;
    size_t len;
    uint64_t wseq;
    chunk_iter it;
} source;

typedef struct merge_iter {
    qiter base;
    int64_t mint, maxt;
    source *src;
    size_t nsrc, capsrc;
    size_t *heap; /* indexes into src of sources with a current sample */
    size_t nheap;
    bool started;
} merge_iter;

static bool before(const merge_iter *m, size_t a, size_t b)
{
    int64_t ta = m->src[a].it.t, tb = m->src[b].it.t;
    if (ta != tb)
        return ta < tb;
    return m->src[a].wseq > m->src[b].wseq;
}

static void sift_down(merge_iter *m, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, best = i;
        if (l < m->nheap && before(m, m->heap[l], m->heap[best]))
            best = l;
        if (r < m->nheap && before(m, m->heap[r], m->heap[best]))
            best = r;
        if (best == i)
            return;
        size_t t = m->heap[i];
        m->heap[i] = m->heap[best];
        m->heap[best] = t;
        i = best;
    }
}

static void heapify(merge_iter *m)
{
    for (size_t i = m->nheap / 2; i-- > 0;)
        sift_down(m, i);
}

/* Advance the top source; drop it from the heap when it is done. */
static void advance_top(merge_iter *m)
{
    source *s = &m->src[m->heap[0]];
    if (!chunk_iter_next(&s->it) || s->it.t > m->maxt)
        m->heap[0] = m->heap[--m->nheap];
    sift_down(m, 0);
}

static bool emit_top(merge_iter *m)
{
    if (m->nheap == 0)
        return false;
    source *s = &m->src[m->heap[0]];
    m->base.t = s->it.t;
    m->base.v = chunk_iter_v(&s->it);
    /* Older writes of the same timestamp are skipped. */
    int64_t t = s->it.t;
    advance_top(m);
    while (m->nheap && m->src[m->heap[0]].it.t == t)
        advance_top(m);
    return true;
}

static bool start_at(merge_iter *m, int64_t t)
{
    if (!m->heap)
        m->heap = em_calloc(m->nsrc + 1, sizeof(size_t));
    m->nheap = 0;
    for (size_t i = 0; i < m->nsrc; i++)
        if (chunk_iter_seek(&m->src[i].it, t) && m->src[i].it.t <= m->maxt)
            m->heap[m->nheap++] = i;
    heapify(m);
    m->started = true;
    return emit_top(m);
}

static bool merge_next(qiter *it)
{
    merge_iter *m = (merge_iter *)it;
    if (!m->started)
        return start_at(m, m->mint);
    return emit_top(m);
}

static bool merge_seek(qiter *it, int64_t t)
{
    merge_iter *m = (merge_iter *)it;
    if (t < m->mint)
        t = m->mint;
    if (!m->started)
        return start_at(m, t);
    if (m->base.t >= t)
        return true;
    /* Seek forward: every source moves to t, the heap is rebuilt. */
    size_t keep = 0;
    for (size_t i = 0; i < m->nheap; i++) {
        source *s = &m->src[m->heap[i]];
        if (chunk_iter_seek(&s->it, t) && s->it.t <= m->maxt)
            m->heap[keep++] = m->heap[i];
    }
    m->nheap = keep;
    heapify(m);
    return emit_top(m);
}

static void merge_free(qiter *it)
{
    merge_iter *m = (merge_iter *)it;
    for (size_t i = 0; i < m->nsrc; i++)
        free(m->src[i].bytes);
    free(m->src);
    free(m->heap);
    free(m);
}

static const qiter_ops merge_ops = {merge_next, merge_seek, merge_free};

qiter *merge_iter_new(int64_t mint, int64_t maxt)
{
    merge_iter *m = em_calloc(1, sizeof *m);
    m->base.ops = &merge_ops;
    m->mint = mint;
    m->maxt = maxt;
    return &m->base;
}

void merge_iter_add(qiter *it, const void *b, size_t len, uint64_t wseq)
{
    merge_iter *m = (merge_iter *)it;
    EM_GROW(m->src, m->capsrc, m->nsrc + 1);
    source *s = &m->src[m->nsrc++];
    s->bytes = em_malloc(len ? len : 1);
    memcpy(s->bytes, b, len);
    s->len = len;
    s->wseq = wseq;
    chunk_iter_init(&s->it, s->bytes, s->len);
}

/* Chunk keys of series id in partition part overlapping [mint, maxt]. */
static void add_disk_chunks(rocksdb_iterator_t *it, merge_iter *m, int64_t part, uint64_t id)
{
    char lo[17];
    lo[0] = KEY_CHUNK;
    be64_put(lo + 1, flip64(part));
    be64_put(lo + 9, id);
    for (rocksdb_iter_seek(it, lo, sizeof lo); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
        size_t kl, vl;
        const char *k = rocksdb_iter_key(it, &kl);
        if (kl != CHUNK_KEY_LEN || memcmp(k, lo, sizeof lo) != 0)
            break;
        int64_t cmint = unflip64(be64_get(k + 17));
        if (cmint > m->maxt)
            break; /* chunks sort by mint */
        const char *v = rocksdb_iter_value(it, &vl);
        if (vl < 8 || unflip64(be64_get(v)) < m->mint)
            continue;
        merge_iter_add(&m->base, v + 8, vl - 8, be64_get(k + 25));
    }
}

typedef struct picked {
    uint64_t id;
    char *key;
    size_t klen;
    uint8_t *head;
    size_t head_len;
    uint64_t head_wseq;
} picked;

/* Under the lock: the matching series, their labels and head chunks. */
static picked *pick_series(tsdb *db, const label_matcher *ms, size_t nms, int64_t mint,
                           int64_t maxt, size_t *n, int64_t **parts, size_t *nparts)
{
    id_list ids = {0};
    pthread_mutex_lock(&db->lock);
    index_select(&db->ix, ms, nms, db->next_id, &ids);
    picked *p = em_calloc(ids.n + 1, sizeof *p);
    for (size_t i = 0; i < ids.n; i++) {
        memseries *s = db->series[ids.v[i]];
        p[i].id = ids.v[i];
        p[i].key = em_strndup(s->key, s->klen);
        p[i].klen = s->klen;
        pthread_mutex_t *stripe = &db->stripe[STRIPE_OF(ids.v[i])]; /* commits stage into it */
        pthread_mutex_lock(stripe);
        if (s->head.n && s->head.mint <= maxt && s->head.t >= mint) {
            const uint8_t *b = chunk_bytes(&s->head, &p[i].head_len);
            p[i].head = em_malloc(p[i].head_len);
            memcpy(p[i].head, b, p[i].head_len);
            p[i].head_wseq = s->head_wseq;
        }
        pthread_mutex_unlock(stripe);
    }
    *nparts = 0;
    *parts = em_calloc(db->nparts + 1, sizeof(int64_t));
    int64_t plo = partition_of(db, mint), phi = partition_of(db, maxt);
    for (size_t i = 0; i < db->nparts; i++)
        if (db->parts[i] >= plo && db->parts[i] <= phi)
            (*parts)[(*nparts)++] = db->parts[i];
    pthread_mutex_unlock(&db->lock);
    *n = ids.n;
    id_list_free(&ids);
    return p;
}

static int tsdb_select(void *ctx, const label_matcher *ms, size_t nms, int64_t mint, int64_t maxt,
                       qselect_set *out, char *err, size_t errlen)
{
    tsdb *db = ctx;
    if (db->o.retention_ms > 0 && mint < now_ms() - db->o.retention_ms)
        mint = now_ms() - db->o.retention_ms;
    size_t n, nparts;
    int64_t *parts;
    if (!store_enter(db)) {
        snprintf(err, errlen, "store unavailable after a failed write");
        return -1;
    }
    picked *p = pick_series(db, ms, nms, mint, maxt, &n, &parts, &nparts);
    rocksdb_iterator_t *it = rocksdb_create_iterator(db->db, db->ropts);
    labelset ls;
    labels_init(&ls);
    for (size_t i = 0; i < n; i++) {
        merge_iter *m = (merge_iter *)merge_iter_new(mint, maxt);
        if (p[i].head)
            merge_iter_add(&m->base, p[i].head, p[i].head_len, p[i].head_wseq);
        for (size_t j = 0; j < nparts; j++)
            add_disk_chunks(it, m, parts[j], p[i].id);
        labels_clear(&ls);
        labels_from_key(p[i].key, p[i].klen, &ls);
        qselect_set_add(out, &ls, &m->base);
        free(p[i].key);
        free(p[i].head);
    }
    labels_free(&ls);
    rocksdb_iter_destroy(it);
    store_leave(db);
    free(p);
    free(parts);
    return 0;
}

query_storage tsdb_query_storage(tsdb *db)
{
    query_storage st = {.ctx = db, .select = tsdb_select};
    return st;
}

static void dup_strings(const char **src, size_t n, char ***out)
{
    *out = em_calloc(n + 1, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        (*out)[i] = em_strdup(src[i]);
}

void tsdb_label_names(tsdb *db, char ***out, size_t *n)
{
    const char **v;
    pthread_mutex_lock(&db->lock);
    index_label_names(&db->ix, &v, n);
    dup_strings(v, *n, out);
    pthread_mutex_unlock(&db->lock);
    free(v);
}

void tsdb_label_values(tsdb *db, const char *name, char ***out, size_t *n)
{
    const char **v;
    pthread_mutex_lock(&db->lock);
    index_label_values(&db->ix, name, &v, n);
    dup_strings(v, *n, out);
    pthread_mutex_unlock(&db->lock);
    free(v);
}

void tsdb_strings_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}
