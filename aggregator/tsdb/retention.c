/*
 * retention.c — time partitions and the maintenance thread.
 *
 * Chunk keys start with their partition, so a partition is one contiguous
 * key range: retention drops a partition whose whole span is older than
 * now - retention with one range delete, then asks RocksDB to compact that
 * range so the disk space comes back.  Samples are never deleted one by one.
 * Series left with no data (their newest sample was in a dropped partition
 * and their head is empty) then go too: their 'S', 'L', 'P' and 'H' keys,
 * their memory, and their index entries (the index is rebuilt from the
 * series that remain; this happens at most once per dropped partition).
 *
 * The maintenance thread wakes every maint_interval_ms to cut old head
 * chunks and truncate the head log, apply retention and compact the
 * partitions that received out-of-order chunks; without synced commits it
 * also fsyncs the RocksDB WAL every sync_interval_ms (the --storage.sync=false
 * trade: faster commits, up to that interval of acknowledged data at risk).
 */
#include "aggregator/tsdb/tsdb_int.h"

#include "common/etime.h"
#include "common/log.h"
#include "common/mem.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Skip-scan: one seek per partition present. */
int parts_load(tsdb *db)
{
    rocksdb_iterator_t *it = rocksdb_create_iterator(db->db, db->ropts);
    char k[9] = {KEY_CHUNK};
    rocksdb_iter_seek(it, k, 1);
    while (rocksdb_iter_valid(it)) {
        size_t kl;
        const char *key = rocksdb_iter_key(it, &kl);
        if (kl < 9 || key[0] != KEY_CHUNK)
            break;
        uint64_t p = be64_get(key + 1);
        parts_note(db, unflip64(p));
        if (p == UINT64_MAX)
            break;
        be64_put(k + 1, p + 1);
        rocksdb_iter_seek(it, k, sizeof k);
    }
    rocksdb_iter_destroy(it);
    return 0;
}

static void drop_partition(tsdb *db, int64_t part)
{
    char lo[9] = {KEY_CHUNK}, hi[9] = {KEY_CHUNK};
    be64_put(lo + 1, flip64(part));
    be64_put(hi + 1, flip64(part) + 1);
    char *err = NULL;
    rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
    rocksdb_writebatch_delete_range(wb, lo, sizeof lo, hi, sizeof hi);
    rocksdb_write(db->db, db->wopts_nosync, wb, &err);
    rocksdb_writebatch_destroy(wb);
    if (err) {
        log_error("cannot drop partition", "partition=%lld err=%s", (long long)part, err);
        free(err);
        return;
    }
    rocksdb_compact_range(db->db, lo, sizeof lo, hi, sizeof hi);
}

/* Every key of series id (labels key in s) into wb. */
static void series_keys_delete(rocksdb_writebatch_t *wb, uint64_t id, const memseries *s)
{
    ebuf k;
    ebuf_init(&k);
    ebuf_putc(&k, KEY_SERIES);
    ebuf_append(&k, s->key, s->klen);
    rocksdb_writebatch_delete(wb, k.data, k.len);
    char ik[9] = {KEY_LABELS};
    be64_put(ik + 1, id);
    rocksdb_writebatch_delete(wb, ik, sizeof ik);
    ik[0] = KEY_CUT;
    rocksdb_writebatch_delete(wb, ik, sizeof ik);
    labelset ls;
    labels_init(&ls);
    labels_from_key(s->key, s->klen, &ls);
    for (size_t i = 0; i < ls.n; i++) {
        posting_key(&k, &ls.v[i], id);
        rocksdb_writebatch_delete(wb, k.data, k.len);
    }
    labels_free(&ls);
    ebuf_free(&k);
}

/* Index and key map from the series that remain (ascending ids: sorted
 * postings).  Under both locks. */
static void index_rebuild(tsdb *db)
{
    index_free(&db->ix);
    index_init(&db->ix);
    series_map_free(&db->by_key);
    labelset ls;
    labels_init(&ls);
    for (uint64_t id = 1; id < db->next_id; id++) {
        const memseries *s = db->series[id];
        if (!s)
            continue;
        labels_clear(&ls);
        labels_from_key(s->key, s->klen, &ls);
        index_add(&db->ix, id, &ls);
        series_map_put(&db->by_key, series_key_hash(s->key, s->klen), id);
    }
    labels_free(&ls);
}

/* Drop the series whose every sample is below before (all in dropped
 * partitions: a series' out-of-order samples are never newer than its
 * maxt) and whose head is empty.  With commits paused: they stage into the
 * series and the commit hook reads their keys (commit.c). */
static void series_drop_expired(tsdb *db, int64_t before)
{
    commits_pause(db);
    pthread_mutex_lock(&db->lock);
    rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
    uint64_t *gone = NULL;
    size_t n = 0, cap = 0;
    for (uint64_t id = 1; id < db->next_id; id++) {
        memseries *s = db->series[id];
        if (s && s->head.n == 0 && s->maxt < before) {
            series_keys_delete(wb, id, s);
            EM_GROW(gone, cap, n + 1);
            gone[n++] = id;
        }
    }
    char err[256];
    if (n && tsdb_write(db, wb, false, err, sizeof err) == 0) {
        pthread_rwlock_wrlock(&db->ix_lock);
        atomic_fetch_add(&db->drop_gen, 1); /* before any id goes: stales tsdb_refs */
        for (size_t i = 0; i < n; i++) {
            memseries *s = db->series[gone[i]];
            if (s->owner)
                db->agents[s->owner - 1].active--;
            memseries_free(s);
            db->series[gone[i]] = NULL;
        }
        index_rebuild(db);
        pthread_rwlock_unlock(&db->ix_lock);
        db->st.series_dropped += n;
        db->st.series = db->ix.nseries;
        log_info("retention dropped series without data", "series=%zu", n);
    } else if (n) {
        log_error("cannot drop expired series", "err=%s", err);
    }
    rocksdb_writebatch_destroy(wb);
    free(gone);
    pthread_mutex_unlock(&db->lock);
    commits_resume(db);
}

int retention_run(tsdb *db, int64_t now)
{
    if (db->o.retention_ms <= 0)
        return 0;
    int64_t cutoff = now - db->o.retention_ms;
    int64_t dropped_below = INT64_MIN;
    if (!store_enter(db))
        return -1;
    for (;;) {
        pthread_mutex_lock(&db->lock);
        bool drop = db->nparts > 0 && (db->parts[0] + 1) * db->o.partition_ms <= cutoff;
        int64_t part = drop ? db->parts[0] : 0;
        if (drop) {
            memmove(db->parts, db->parts + 1, (db->nparts - 1) * sizeof(int64_t));
            db->nparts--;
            db->st.partitions_dropped++;
        }
        pthread_mutex_unlock(&db->lock);
        if (!drop)
            break;
        drop_partition(db, part);
        dropped_below = (part + 1) * db->o.partition_ms;
        log_info("retention dropped partition", "partition=%lld", (long long)part);
    }
    if (dropped_below != INT64_MIN)
        series_drop_expired(db, dropped_below);
    store_leave(db);
    pthread_mutex_lock(&db->lock);
    db->st.retention_runs++;
    pthread_mutex_unlock(&db->lock);
    return 0;
}

int tsdb_apply_retention(tsdb *db, int64_t now, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    return retention_run(db, now);
}

int tsdb_truncate_log(tsdb *db, int64_t now, char *err, size_t errlen)
{
    commits_pause(db); /* it cuts heads and needs every record landed */
    pthread_mutex_lock(&db->lock);
    int rc = log_truncate(db, now, err, errlen);
    pthread_mutex_unlock(&db->lock);
    commits_resume(db);
    return rc;
}

static void maint_pass(tsdb *db)
{
    char err[256];
    if (tsdb_truncate_log(db, now_ms(), err, sizeof err) != 0)
        log_error("head log truncation failed", "err=%s", err);
    retention_run(db, now_ms());
    if (compact_run(db, false) != 0)
        log_error("compaction failed", "err=%s", db->broken ? db->broken : "?");
}

static void *maint_main(void *arg)
{
    tsdb *db = arg;
    int64_t next_pass = now_ms() + db->o.maint_interval_ms;
    pthread_mutex_lock(&db->maint_lock);
    while (!db->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t step = db->o.sync ? db->o.maint_interval_ms : db->o.sync_interval_ms;
        ts.tv_sec += step / 1000;
        ts.tv_nsec += (step % 1000) * 1000000;
        if (ts.tv_nsec >= 1000000000)
            ts.tv_sec++, ts.tv_nsec -= 1000000000;
        pthread_cond_timedwait(&db->maint_cond, &db->maint_lock, &ts);
        if (db->stopping)
            break;
        pthread_mutex_unlock(&db->maint_lock);
        if (!db->o.sync) {
            char *e = NULL;
            if (store_enter(db)) {
                rocksdb_flush_wal(db->db, 1, &e);
                store_leave(db);
            }
            free(e);
        }
        if (now_ms() >= next_pass) {
            maint_pass(db);
            next_pass = now_ms() + db->o.maint_interval_ms;
        }
        pthread_mutex_lock(&db->maint_lock);
    }
    pthread_mutex_unlock(&db->maint_lock);
    return NULL;
}

void maint_start(tsdb *db)
{
    if (db->o.maint_interval_ms < 0 && db->o.sync)
        return;
    if (db->o.maint_interval_ms < 0)
        db->o.maint_interval_ms = INT64_MAX / 4; /* only the WAL sync */
    db->maint_running = pthread_create(&db->maint, NULL, maint_main, db) == 0;
}

void maint_stop(tsdb *db)
{
    pthread_mutex_lock(&db->maint_lock);
    db->stopping = true;
    pthread_cond_signal(&db->maint_cond);
    pthread_mutex_unlock(&db->maint_lock);
    if (db->maint_running)
        pthread_join(db->maint, NULL);
    db->maint_running = false;
}
