/*
 * compact.c — merging a series' chunks for good.
 *
 * Out-of-order writes and age cuts leave a series with chunks that overlap
 * or hold few samples.  Compaction rewrites such a group (one series in one
 * partition) as full chunks: the merge applies last-write-wins once, so
 * queries stop paying for it, and fuller chunks compress better.  The new
 * chunks carry the group's highest wseq; they can only clash on a timestamp
 * with the head, whose samples never predate an out-of-order write of the
 * same timestamp (see head.c), so the order of writes is kept.
 *
 * A maintenance pass compacts the partitions that received out-of-order
 * chunks, and the closed partitions (before the one now falls in) where
 * heads were cut small by age: while a partition is current, every hour
 * may add another small chunk per slow series, so it is merged once, after.
 *
 * Candidates are found with an unlocked scan; each group is re-read and
 * rewritten with commits paused so that no commit slips a chunk in
 * between.  The rewrite is not synced: it changes how data is stored, not
 * what is stored, and a lost rewrite leaves the old chunks in place.
 */
#include "aggregator/tsdb/tsdb_int.h"

#include "common/etime.h"
#include "common/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Does the group at this prefix need rewriting?  (overlap, or more chunks
 * than its samples need). */
static bool group_needs_merge(rocksdb_iterator_t *it, const char *prefix)
{
    size_t chunks = 0, samples = 0;
    int64_t last_maxt = INT64_MIN;
    bool overlap = false;
    for (; rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
        size_t kl, vl;
        const char *k = rocksdb_iter_key(it, &kl);
        if (kl != CHUNK_KEY_LEN || memcmp(k, prefix, 17) != 0)
            break;
        const char *v = rocksdb_iter_value(it, &vl);
        if (vl < 8)
            continue;
        int64_t mint = unflip64(be64_get(k + 17)), maxt = unflip64(be64_get(v));
        if (chunks && mint <= last_maxt)
            overlap = true;
        if (maxt > last_maxt)
            last_maxt = maxt;
        chunks++;
        samples += chunk_count((const uint8_t *)v + 8, vl - 8);
    }
    return chunks > 1 &&
           (overlap || chunks > (samples + CHUNK_MAX_SAMPLES - 1) / CHUNK_MAX_SAMPLES);
}

static void write_merged(tsdb *db, rocksdb_writebatch_t *wb, int64_t part, uint64_t id, qiter *m,
                         uint64_t wseq)
{
    chunk_enc e;
    chunk_enc_init(&e);
    for (bool ok = qiter_next(m); ok; ok = qiter_next(m)) {
        if (e.n == CHUNK_MAX_SAMPLES) {
            size_t len;
            const uint8_t *b = chunk_bytes(&e, &len);
            chunk_put(wb, part, id, e.mint, e.t, wseq, b, len);
            chunk_enc_free(&e);
            chunk_enc_init(&e);
        }
        chunk_append(&e, m->t, m->v);
    }
    if (e.n) {
        size_t len;
        const uint8_t *b = chunk_bytes(&e, &len);
        chunk_put(wb, part, id, e.mint, e.t, wseq, b, len);
    }
    chunk_enc_free(&e);
    (void)db;
}

/* Under the lock: re-read the group and rewrite it in one write. */
static int merge_group(tsdb *db, const char *prefix, int64_t part, uint64_t id)
{
    rocksdb_iterator_t *it = rocksdb_create_iterator(db->db, db->ropts);
    rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
    qiter *m = merge_iter_new(INT64_MIN, INT64_MAX);
    uint64_t wseq = 0, n = 0;
    for (rocksdb_iter_seek(it, prefix, 17); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
        size_t kl, vl;
        const char *k = rocksdb_iter_key(it, &kl);
        if (kl != CHUNK_KEY_LEN || memcmp(k, prefix, 17) != 0)
            break;
        const char *v = rocksdb_iter_value(it, &vl);
        rocksdb_writebatch_delete(wb, k, kl);
        if (vl < 8)
            continue;
        merge_iter_add(m, v + 8, vl - 8, be64_get(k + 25));
        if (be64_get(k + 25) > wseq)
            wseq = be64_get(k + 25);
        n++;
    }
    rocksdb_iter_destroy(it);
    write_merged(db, wb, part, id, m, wseq);
    qiter_free(m);
    char err[256];
    int rc = tsdb_write(db, wb, false, err, sizeof err);
    rocksdb_writebatch_destroy(wb);
    if (rc == 0)
        db->st.chunks_compacted += n;
    return rc;
}

static int compact_partition(tsdb *db, int64_t part)
{
    rocksdb_iterator_t *it = rocksdb_create_iterator(db->db, db->ropts);
    char prefix[17] = {KEY_CHUNK};
    be64_put(prefix + 1, flip64(part));
    int rc = 0;
    rocksdb_iter_seek(it, prefix, 9);
    while (rc == 0 && rocksdb_iter_valid(it)) {
        size_t kl;
        const char *k = rocksdb_iter_key(it, &kl);
        if (kl != CHUNK_KEY_LEN || memcmp(k, prefix, 9) != 0)
            break;
        memcpy(prefix + 9, k + 9, 8);
        uint64_t id = be64_get(k + 9);
        if (group_needs_merge(it, prefix)) {
            commits_pause(db);
            pthread_mutex_lock(&db->lock);
            rc = merge_group(db, prefix, part, id);
            pthread_mutex_unlock(&db->lock);
            commits_resume(db);
        }
        /* group_needs_merge stopped at the next group (or the end) */
    }
    rocksdb_iter_destroy(it);
    return rc;
}

/* Under the lock: the dirty partitions and the closed aged ones (taken off
 * their lists), in parts (n returned). */
static size_t due_partitions(tsdb *db, int64_t **parts)
{
    int64_t current = partition_of(db, now_ms());
    size_t n = db->ndirty, kept = 0;
    *parts = em_calloc(db->ndirty + db->naged + 1, sizeof(int64_t));
    if (n)
        memcpy(*parts, db->dirty, n * sizeof(int64_t));
    db->ndirty = 0;
    for (size_t i = 0; i < db->naged; i++) {
        if (db->aged[i] < current)
            (*parts)[n++] = db->aged[i];
        else
            db->aged[kept++] = db->aged[i];
    }
    db->naged = kept;
    return n; /* a partition on both lists is compacted twice: the second finds nothing */
}

int compact_run(tsdb *db, bool all)
{
    pthread_mutex_lock(&db->lock);
    int64_t *parts;
    size_t n;
    if (all) {
        n = db->nparts;
        parts = em_calloc(n + 1, sizeof(int64_t));
        if (n)
            memcpy(parts, db->parts, n * sizeof(int64_t));
        db->ndirty = db->naged = 0;
    } else {
        n = due_partitions(db, &parts);
    }
    pthread_mutex_unlock(&db->lock);
    if (!store_enter(db)) {
        free(parts);
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = compact_partition(db, parts[i]);
    store_leave(db);
    free(parts);
    pthread_mutex_lock(&db->lock);
    db->st.compactions++;
    pthread_mutex_unlock(&db->lock);
    return rc;
}

int tsdb_compact(tsdb *db, char *err, size_t errlen)
{
    int rc = compact_run(db, true);
    if (rc == 0) /* flush and compact everything: the on-disk figure settles */
        if ((rc = store_enter(db) ? 0 : -1) == 0) {
            rocksdb_compact_range(db->db, NULL, 0, NULL, 0);
            store_leave(db);
        }
    if (rc != 0)
        snprintf(err, errlen, "compaction failed: %s", db->broken ? db->broken : "write error");
    return rc;
}
