/*
 * tsdb.h — the aggregator's series store on RocksDB (first cut).
 *
 * Samples are appended through an appender and committed in one atomic,
 * synced RocksDB write together with the sending agent's sequence number, so
 * an acknowledged batch is durable and a re-sent batch is recognised
 * (exactly once).  Reads go through the query engine's storage interface.
 *
 * Key layout (one-byte type prefix, big-endian integers so keys sort):
 *   'S' labels          → series id        label set → id
 *   'L' id              → labels           id → label set
 *   'D' id ts           → double           one sample (ts sign-flipped)
 *   'A' agent_id        → seq              highest committed seq per agent
 *   'M' "next_id"       → id               next series id
 * where "labels" is name\0value\0... in canonical order.  The storage issue
 * replaces samples-per-key with compressed chunks and adds postings; the
 * interface stays.
 */
#ifndef EMBER_AGGREGATOR_TSDB_H
#define EMBER_AGGREGATOR_TSDB_H

#include "common/labels.h"
#include "query/storage.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tsdb tsdb;
typedef struct tsdb_appender tsdb_appender;

typedef struct tsdb_options {
    bool sync; /* fsync each commit before it returns (default true) */
} tsdb_options;

typedef struct tsdb_stats {
    uint64_t series;
    uint64_t samples_appended;
    uint64_t commits;
    uint64_t disk_bytes; /* SST + WAL bytes */
} tsdb_stats;

int tsdb_open(const char *dir, const tsdb_options *opts, tsdb **out, char *err, size_t errlen);
void tsdb_close(tsdb *db);

tsdb_appender *tsdb_appender_new(tsdb *db);
/* Stage one sample; ls must be sorted and valid. */
void tsdb_append(tsdb_appender *a, const labelset *ls, int64_t ts_ms, double v);
/*
 * Commit the staged samples atomically.  With agent_id set, the commit
 * happens only if seq is above the agent's committed seq, and records it:
 * *duplicate is set (and nothing written) otherwise.  Returns 0, or -1 with
 * err set; the appender is freed either way.
 */
int tsdb_commit(tsdb_appender *a, const char *agent_id, uint64_t seq, bool *duplicate, char *err,
                size_t errlen);
void tsdb_appender_discard(tsdb_appender *a);

uint64_t tsdb_agent_seq(tsdb *db, const char *agent_id);
void tsdb_get_stats(tsdb *db, tsdb_stats *st);
/* The query engine's view of this store. */
query_storage tsdb_query_storage(tsdb *db);

#endif
