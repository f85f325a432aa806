/*
 * delete.c — deleting the samples of selected series in a time range
 * (Prometheus's admin delete_series), for good and without tombstones.
 *
 * Prometheus writes tombstones and drops the samples when blocks are
 * compacted (clean_tombstones).  Here a delete rewrites the data at once:
 *  - every chunk key of a matching series that overlaps [mint, maxt] is
 *    replaced by the same chunk without the samples in the range (same
 *    partition and wseq, so last-write-wins among the remaining samples is
 *    unchanged; nothing left: the key just goes);
 *  - a head chunk that overlaps the range is cut: what remains of it is
 *    written as a chunk key, with the series' 'H' watermark at the head's
 *    last time, as an age cut does.  Replay appends only samples above the
 *    watermark (log.c), so the log records still holding the deleted
 *    samples can no longer bring them back, after a restart or a crash;
 *  - all of a series' changes go in the same write batch, so a crash leaves
 *    each series either as it was or deleted, and the last write is synced
 *    before the answer: an answered delete is durable.
 * Commits are paused meanwhile (no head moves, every commit memory has seen
 * has landed) and the lock is held (readers copy heads under it; compaction
 * rewrites under both too).  A sample appended after the delete is kept:
 * above the series' newest time it goes to a new head chunk, at or below it
 * to an out-of-order chunk with a newer wseq.  The series themselves stay
 * (their labels remain listed by /api/v1/labels, as in Prometheus's head);
 * selections skip a series with no sample in their range.
 */
#include "aggregator/tsdb/tsdb_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DELETE_BATCH_BYTES (8u << 20) /* write out (unsynced) beyond this */

typedef struct del_ctx {
    tsdb *db;
    rocksdb_writebatch_t *wb;
    rocksdb_iterator_t *it;
    int64_t mint, maxt;
    uint64_t removed;
} del_ctx;

/* Chunk bytes b of (part, id, wseq) into wb without the samples in the
 * range. */
static void chunk_put_filtered(del_ctx *c, int64_t part, uint64_t id, uint64_t wseq,
                               const uint8_t *b, size_t len)
{
    chunk_iter it;
    chunk_iter_init(&it, b, len);
    chunk_enc e;
    chunk_enc_init(&e);
    while (chunk_iter_next(&it)) {
        if (it.t >= c->mint && it.t <= c->maxt)
            c->removed++;
        else
            chunk_append(&e, it.t, chunk_iter_v(&it));
    }
    if (e.n) {
        size_t n;
        const uint8_t *out = chunk_bytes(&e, &n);
        chunk_put(c->wb, part, id, e.mint, e.t, wseq, out, n);
    }
    chunk_enc_free(&e);
}

/* The chunk keys of series id in partition part that overlap the range. */
static void delete_in_chunks(del_ctx *c, int64_t part, uint64_t id)
{
    char prefix[17] = {KEY_CHUNK};
    be64_put(prefix + 1, flip64(part));
    be64_put(prefix + 9, id);
    rocksdb_iterator_t *it = c->it;
    for (rocksdb_iter_seek(it, prefix, sizeof prefix); rocksdb_iter_valid(it);
         rocksdb_iter_next(it)) {
        size_t kl, vl;
        const char *k = rocksdb_iter_key(it, &kl);
        if (kl != CHUNK_KEY_LEN || memcmp(k, prefix, sizeof prefix) != 0)
            break;
        if (unflip64(be64_get(k + 17)) > c->maxt)
            break; /* chunks sort by mint */
        const char *v = rocksdb_iter_value(it, &vl);
        if (vl >= 8 && unflip64(be64_get(v)) < c->mint)
            continue;
        rocksdb_writebatch_delete(c->wb, k, kl); /* before its replacement: same key maybe */
        if (vl >= 8)
            chunk_put_filtered(c, part, id, be64_get(k + 25), (const uint8_t *)v + 8, vl - 8);
    }
}

/* Cut s's head chunk, without the range's samples, when it overlaps it. */
static void delete_in_head(del_ctx *c, uint64_t id, memseries *s)
{
    if (s->head.n == 0 || s->head.mint > c->maxt || s->head.t < c->mint)
        return;
    size_t len;
    const uint8_t *b = chunk_bytes(&s->head, &len);
    chunk_put_filtered(c, s->head_part, id, s->head_wseq, b, len);
    char k[9] = {KEY_CUT}, v[8];
    be64_put(k + 1, id);
    be64_put(v, flip64(s->head.t));
    rocksdb_writebatch_put(c->wb, k, sizeof k, v, sizeof v);
    s->cut_maxt = s->head.t;
    parts_note(c->db, s->head_part);
    if (s->head.n < CHUNK_MAX_SAMPLES)
        aged_note(c->db, s->head_part); /* a small chunk: compaction merges it */
    chunk_enc_free(&s->head);
    c->db->st.chunks_cut++;
}

/* Under the lock with commits paused: every series of ids, written in
 * batches, the last one synced. */
static int delete_series(del_ctx *c, const id_list *ids, char *err, size_t errlen)
{
    tsdb *db = c->db;
    int64_t plo = partition_of(db, c->mint), phi = partition_of(db, c->maxt);
    int rc = 0;
    for (size_t i = 0; i < ids->n && rc == 0; i++) {
        uint64_t id = ids->v[i];
        memseries *s = db->series[id];
        for (size_t j = 0; j < db->nparts; j++)
            if (db->parts[j] >= plo && db->parts[j] <= phi)
                delete_in_chunks(c, db->parts[j], id);
        if (s)
            delete_in_head(c, id, s);
        size_t size;
        rocksdb_writebatch_data(c->wb, &size);
        if (size >= DELETE_BATCH_BYTES) {
            rc = tsdb_write(db, c->wb, false, err, errlen);
            rocksdb_writebatch_clear(c->wb);
        }
    }
    if (rc == 0 && rocksdb_writebatch_count(c->wb) > 0)
        rc = tsdb_write(db, c->wb, true, err, errlen);
    return rc;
}

int tsdb_delete(tsdb *db, const label_matcher *ms, size_t nms, int64_t mint, int64_t maxt,
                uint64_t *deleted, char *err, size_t errlen)
{
    *deleted = 0;
    if (mint > maxt)
        return 0;
    if (!store_enter(db)) {
        snprintf(err, errlen, "store unavailable after a failed write");
        return -1;
    }
    commits_pause(db);
    pthread_mutex_lock(&db->lock);
    int rc = 0;
    if (db->broken) {
        snprintf(err, errlen, "store refuses writes after an earlier failure: %s", db->broken);
        rc = -1;
    } else {
        id_list ids = {0};
        index_select(&db->ix, ms, nms, db->next_id, &ids);
        del_ctx c = {.db = db, .mint = mint, .maxt = maxt};
        c.wb = rocksdb_writebatch_create();
        c.it = rocksdb_create_iterator(db->db, db->ropts);
        rc = delete_series(&c, &ids, err, errlen);
        rocksdb_iter_destroy(c.it);
        rocksdb_writebatch_destroy(c.wb);
        id_list_free(&ids);
        *deleted = c.removed;
    }
    pthread_mutex_unlock(&db->lock);
    commits_resume(db);
    store_leave(db);
    return rc;
}
