/*
 * snapshot.c — a consistent copy of the store (Prometheus's admin
 * snapshot), as a RocksDB checkpoint: the SST files are hard-linked (cheap,
 * whatever the store's size), the memtables flushed first, so the copy is
 * the store at one point in its write sequence.  Every commit is one atomic
 * write, so that point is what a crash right then would have left, which
 * the store recovers from: the copy opens as a data directory of its own,
 * and its head log replays into its heads (the head is in the snapshot).
 *
 * skip_head (as Prometheus's, which leaves the head block out): the copy's
 * head log is deleted, so it holds what was cut to chunks and written out
 * of order, not the samples still only in the heads.
 */
#include "aggregator/tsdb/tsdb_int.h"

#include <stdio.h>
#include <stdlib.h>

/* Delete the head log ('W' keys) of the store copy in dir. */
static int drop_head_log(const char *dir, char *err, size_t errlen)
{
    char *rerr = NULL;
    rocksdb_options_t *o = rocksdb_options_create();
    rocksdb_t *copy = rocksdb_open(o, dir, &rerr);
    if (!rerr) {
        const char lo[1] = {KEY_LOG}, hi[1] = {KEY_LOG + 1};
        rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
        rocksdb_writebatch_delete_range(wb, lo, sizeof lo, hi, sizeof hi);
        rocksdb_writeoptions_t *w = rocksdb_writeoptions_create();
        rocksdb_writeoptions_set_sync(w, 1);
        rocksdb_write(copy, w, wb, &rerr);
        rocksdb_writeoptions_destroy(w);
        rocksdb_writebatch_destroy(wb);
        rocksdb_close(copy);
    }
    rocksdb_options_destroy(o);
    if (!rerr)
        return 0;
    snprintf(err, errlen, "cannot drop the head from the snapshot: %s", rerr);
    free(rerr);
    return -1;
}

int tsdb_snapshot(tsdb *db, const char *dir, bool skip_head, char *err, size_t errlen)
{
    if (!store_enter(db)) {
        snprintf(err, errlen, "store unavailable after a failed write");
        return -1;
    }
    char *rerr = NULL;
    rocksdb_checkpoint_t *cp = rocksdb_checkpoint_object_create(db->db, &rerr);
    if (!rerr) {
        rocksdb_checkpoint_create(cp, dir, 0, &rerr); /* 0: always flush the memtables */
        rocksdb_checkpoint_object_destroy(cp);
    }
    store_leave(db);
    if (rerr) {
        snprintf(err, errlen, "cannot create a checkpoint in %s: %s", dir, rerr);
        free(rerr);
        return -1;
    }
    return skip_head ? drop_head_log(dir, err, errlen) : 0;
}
