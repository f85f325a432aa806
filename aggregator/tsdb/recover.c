/*
 * recover.c — making the store writable again after a failed write,
 * without a restart.
 *
 * RocksDB 7.8 accepts no more writes once a WAL write failed (disk full,
 * I/O error), and its C API has no Resume(); memory has also moved ahead of
 * disk (heads and new series are updated while a commit is staged, before
 * its write).  So the first commit after a failure — at most one attempt a
 * second — closes the handle, reopens it and rebuilds memory exactly as
 * tsdb_open does (series, agents' seqs, partitions, head log replay), while
 * holding the access lock exclusively: commits and readers wait for it and
 * it waits for them.  Nothing unwritten was acknowledged, so nothing
 * acknowledged is lost; series references (tsdb_ref) are made stale, as the
 * ids of series whose creation was not written are gone.  While the cause
 * lasts, the reopen or the next write fails again and commits keep being
 * answered "retry".
 */
#include "aggregator/tsdb/tsdb_int.h"

#include "common/etime.h"
#include "common/log.h"

#include <stdio.h>
#include <stdlib.h>

#define RECOVER_INTERVAL_MS 1000

/* Under the access lock (exclusive) and the lock: no commit or reader is
 * in flight. */
static void reopen(tsdb *db)
{
    char err[512] = "";
    db->recover_after_ms = now_ms() + RECOVER_INTERVAL_MS;
    rocksdb_close(db->db);
    db->db = NULL;
    state_free(db);
    if (rocks_open(db, err, sizeof err) != 0) {
        log_error("store recovery: reopen failed", "err=%s", err);
        return;
    }
    atomic_fetch_add(&db->drop_gen, 1);
    if (state_load(db, err, sizeof err) != 0) {
        log_error("store recovery: reading the store failed", "err=%s", err);
        return; /* tsdb_write marked it broken again */
    }
    log_info("store recovered after a failed write", "was=%s", db->broken);
    free(db->broken);
    db->broken = NULL;
}

void recover_if_broken(tsdb *db)
{
    pthread_mutex_lock(&db->lock);
    bool due = db->broken && now_ms() >= db->recover_after_ms;
    pthread_mutex_unlock(&db->lock);
    if (!due)
        return;
    pthread_rwlock_wrlock(&db->access);
    pthread_mutex_lock(&db->lock);
    if (db->broken && now_ms() >= db->recover_after_ms) /* not done meanwhile */
        reopen(db);
    pthread_mutex_unlock(&db->lock);
    pthread_rwlock_unlock(&db->access);
}
