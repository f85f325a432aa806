/*
 * head.c — the in-memory head: one open chunk per series, appended in
 * timestamp order and cut to a chunk key when it is full, when a sample
 * falls in another time partition (so a chunk never spans two partitions
 * and retention can drop partitions whole), or when it grows old (log.c).
 * Samples that arrive out of order skip the head and are written as chunks
 * of their own (ooo_write), tagged with their commit's wseq so that queries
 * and compaction let the latest write win.
 */
#include "aggregator/tsdb/tsdb_int.h"

#include "common/etime.h"
#include "common/mem.h"

#include <stdlib.h>
#include <string.h>

memseries *memseries_new(const char *key, size_t klen)
{
    memseries *s = aligned_alloc(64, (sizeof *s + 63) / 64 * 64);
    if (!s)
        s = em_calloc(1, sizeof *s); /* aborts: out of memory */
    memset(s, 0, sizeof *s);
    s->key = em_malloc(klen + 1);
    memcpy(s->key, key, klen);
    s->key[klen] = 0;
    s->klen = klen;
    s->maxt = INT64_MIN;
    s->cut_maxt = INT64_MIN;
    return s;
}

void memseries_free(memseries *s)
{
    if (!s)
        return;
    chunk_enc_free(&s->head);
    free(s->key);
    free(s);
}

/* Key and value from stack buffers and slices: a head cut allocates nothing. */
void chunk_put(rocksdb_writebatch_t *wb, int64_t part, uint64_t id, int64_t mint, int64_t maxt,
               uint64_t wseq, const uint8_t *b, size_t len)
{
    char k[CHUNK_KEY_LEN], m[8];
    chunk_key(k, part, id, mint, wseq);
    be64_put(m, flip64(maxt));
    const char *key = k, *vals[2] = {m, (const char *)b};
    size_t klen = sizeof k, vlens[2] = {sizeof m, len};
    rocksdb_writebatch_putv(wb, 1, &key, &klen, 2, vals, vlens);
}

void rec_note(tsdb *db, log_rec *rec, int64_t part, bool dirty)
{
    if (!rec) {
        parts_note(db, part);
        if (dirty)
            dirty_note(db, part);
        return;
    }
    for (size_t i = 0; i < rec->nparts; i++)
        if (rec->parts[i] == part) {
            rec->dirty[i] |= dirty;
            return;
        }
    EM_GROW(rec->parts, rec->capparts, rec->nparts + 1);
    rec->dirty = em_realloc(rec->dirty, rec->capparts * sizeof(bool));
    rec->parts[rec->nparts] = part;
    rec->dirty[rec->nparts++] = dirty;
}

/* The chunk key of s's head chunk into wb; the head is left empty. */
static void cut_chunk(tsdb *db, rocksdb_writebatch_t *wb, log_rec *rec, uint64_t id, memseries *s)
{
    size_t len;
    const uint8_t *b = chunk_bytes(&s->head, &len);
    chunk_put(wb, s->head_part, id, s->head.mint, s->head.t, s->head_wseq, b, len);
    s->cut_maxt = s->head.t;
    rec_note(db, rec, s->head_part, false);
    chunk_enc_free(&s->head);
    if (rec)
        rec->cuts++;
    else
        db->st.chunks_cut++;
}

void head_cut(tsdb *db, rocksdb_writebatch_t *wb, uint64_t id, memseries *s)
{
    if (s->head.n == 0)
        return;
    char k[9], v[8];
    k[0] = KEY_CUT;
    be64_put(k + 1, id);
    be64_put(v, flip64(s->head.t));
    rocksdb_writebatch_put(wb, k, sizeof k, v, sizeof v);
    cut_chunk(db, wb, NULL, id, s);
}

void head_append(tsdb *db, rocksdb_writebatch_t *wb, log_rec *rec, uint64_t id, memseries *s,
                 uint64_t wseq, int64_t t, double v)
{
    int64_t part = partition_of(db, t);
    if (s->head.n > 0 && (s->head.n >= CHUNK_MAX_SAMPLES || part != s->head_part)) {
        if (rec) { /* the watermark goes in the commit's log record: no 'H' key */
            log_record_cut(rec, id, s->head.t);
            cut_chunk(db, wb, rec, id, s);
        } else {
            head_cut(db, wb, id, s);
        }
    }
    if (s->head.n == 0) {
        chunk_enc_init(&s->head);
        s->head_wseq = wseq;
        s->head_part = part;
        s->head_born_ms = now_ms();
    }
    chunk_append(&s->head, t, v);
    s->maxt = t;
}

void ooo_write(tsdb *db, rocksdb_writebatch_t *wb, log_rec *rec, uint64_t id, uint64_t wseq,
               const qsample *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        int64_t part = partition_of(db, s[i].t);
        chunk_enc e;
        chunk_enc_init(&e);
        while (i < n && e.n < CHUNK_MAX_SAMPLES && partition_of(db, s[i].t) == part) {
            chunk_append(&e, s[i].t, s[i].v);
            i++;
        }
        size_t len;
        const uint8_t *b = chunk_bytes(&e, &len);
        chunk_put(wb, part, id, e.mint, e.t, wseq, b, len);
        rec_note(db, rec, part, true);
        chunk_enc_free(&e);
    }
}
