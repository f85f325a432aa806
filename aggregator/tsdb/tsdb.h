/*
 * tsdb.h — the aggregator's series store on RocksDB.
 *
 * Writes go through an appender: samples are validated as they are staged
 * (bad ones are rejected with a reason and counted, the rest kept) and
 * committed in one atomic RocksDB write together with the sending agent's
 * sequence number, so an acknowledged batch is durable and a re-sent batch
 * is recognised (exactly once).  In-order samples go to the series' head
 * chunk in memory and to the head log in the same write; out-of-order
 * samples (backfill, late agents) are written straight to chunks, merged
 * with the rest at query time (last write of a (series, timestamp) wins) and
 * for good by compaction.  Old data goes in whole time partitions.
 *
 * Layout and internals: tsdb_int.h.  Reads go through the query engine's
 * storage interface (query/storage.h).
 */
#ifndef EMBER_AGGREGATOR_TSDB_H
#define EMBER_AGGREGATOR_TSDB_H

#include "common/expfmt.h"
#include "common/labels.h"
#include "query/storage.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tsdb tsdb;
typedef struct tsdb_appender tsdb_appender;

#define TSDB_DEFAULT_PARTITION_MS (24 * 3600 * 1000LL)
#define TSDB_DEFAULT_HEAD_MAX_AGE_MS (3600 * 1000LL)
#define TSDB_MAX_FUTURE_MS (10 * 60 * 1000LL) /* samples further ahead are rejected */

typedef struct tsdb_options {
    bool sync;                     /* fsync each commit before it returns */
    int64_t sync_interval_ms;      /* without sync: fsync the log this often (default 1 s) */
    int64_t retention_ms;          /* 0: keep everything */
    int64_t partition_ms;          /* 0: one day */
    int64_t head_max_age_ms;       /* head chunks older than this are cut (0: 1 h) */
    uint64_t max_series_per_agent; /* active series one agent may write; 0: no limit */
    int64_t maint_interval_ms;     /* retention/compaction/log pass; 0: 60 s, < 0: never */
} tsdb_options;

typedef enum tsdb_reject {
    TSDB_REJ_NO_NAME,      /* no __name__ */
    TSDB_REJ_BAD_LABEL,    /* invalid label or metric name, bad UTF-8, duplicate */
    TSDB_REJ_TOO_OLD,      /* outside retention */
    TSDB_REJ_TOO_NEW,      /* too far in the future */
    TSDB_REJ_SERIES_LIMIT, /* the agent's active series limit */
    TSDB_REJ_COUNT
} tsdb_reject;
const char *tsdb_reject_name(tsdb_reject r); /* "no_metric_name", ... (metric label) */

typedef struct tsdb_stats {
    uint64_t series, head_series, head_chunks_bytes;
    int64_t head_min_t, head_max_t; /* span of the open head chunks; empty: MAX, MIN */
    uint64_t series_created, samples_appended, ooo_samples, chunks_cut, commits;
    uint64_t rejected[TSDB_REJ_COUNT];
    uint64_t compactions, chunks_compacted, retention_runs, partitions_dropped, log_truncations;
    uint64_t series_dropped; /* by retention, once no data of theirs was left */
    uint64_t partitions;
    uint64_t disk_bytes;      /* SST files and memtables */
    uint64_t memtable_bytes;  /* RocksDB's memtables (memory) */
    uint64_t metadata_writes; /* metadata records written (new or changed) */
} tsdb_stats;

typedef struct tsdb_commit_result {
    bool duplicate;    /* the agent's seq was already committed: nothing applied */
    uint64_t applied;  /* samples written */
    uint64_t rejected; /* samples refused (at append or for the series limit) */
    char reason[256];  /* the first refusal, for the Ack / the import answer */
} tsdb_commit_result;

int tsdb_open(const char *dir, const tsdb_options *opts, tsdb **out, char *err, size_t errlen);
void tsdb_close(tsdb *db);

tsdb_appender *tsdb_appender_new(tsdb *db);
/*
 * Stage one sample.  Empty label values are dropped (as in Prometheus);
 * returns NULL, or the reason the sample is refused (it is then counted and
 * not staged).  ls need not be sorted.
 */
const char *tsdb_append(tsdb_appender *a, const labelset *ls, int64_t ts_ms, double v);
/*
 * A series reference, as Prometheus's Appender.Append(ref, ...): start from
 * {0}; tsdb_append_ref fills it once the series exists (an append after the
 * commit that created it), and later appends with it skip the label lookup.
 * Ids are never reused; a reference made stale by retention dropping its
 * series is noticed and refreshed from ls.  ls may be NULL with a filled
 * reference: when that reference is stale, TSDB_STALE_REF is returned
 * (nothing staged or counted) and the caller appends again with labels.
 */
typedef struct tsdb_ref {
    uint64_t id, gen;
} tsdb_ref;
extern const char TSDB_STALE_REF[];
const char *tsdb_append_ref(tsdb_appender *a, tsdb_ref *ref, const labelset *ls, int64_t ts_ms,
                            double v);
/*
 * Commit the staged samples atomically and durably (with sync).  With
 * agent_id set, the commit happens only if seq is above the agent's
 * committed seq, and records it; res->duplicate is set otherwise.  Returns
 * 0, or -1 with err set (storage failure: retry later); the appender is
 * freed either way.
 */
int tsdb_commit(tsdb_appender *a, const char *agent_id, uint64_t seq, tsdb_commit_result *res,
                char *err, size_t errlen);
void tsdb_appender_discard(tsdb_appender *a);

uint64_t tsdb_agent_seq(tsdb *db, const char *agent_id);
void tsdb_get_stats(tsdb *db, tsdb_stats *st);
/* Merge overlapping and undersized chunks now (all partitions), then have
 * RocksDB flush and compact its files. */
int tsdb_compact(tsdb *db, char *err, size_t errlen);
/* Drop partitions entirely older than now - retention. */
int tsdb_apply_retention(tsdb *db, int64_t now_ms, char *err, size_t errlen);
/* Cut head chunks older than head_max_age at now_ms and truncate the log. */
int tsdb_truncate_log(tsdb *db, int64_t now_ms, char *err, size_t errlen);

/*
 * Admin (delete.c, snapshot.c).  tsdb_delete removes, for good, the samples
 * in [mint, maxt] of the series matching ms (Prometheus's delete_series,
 * without tombstones); synced before it returns 0; *deleted counts them.
 * tsdb_snapshot makes a consistent copy of the store in dir (which must not
 * exist; RocksDB checkpoint, hard links) that opens as a store of its own;
 * skip_head leaves out the samples only in the heads.  0, or -1 with err.
 */
int tsdb_delete(tsdb *db, const label_matcher *ms, size_t nms, int64_t mint, int64_t maxt,
                uint64_t *deleted, char *err, size_t errlen);
int tsdb_snapshot(tsdb *db, const char *dir, bool skip_head, char *err, size_t errlen);

/* Label names, values of one name (sorted, strdup'd; free with tsdb_strings_free). */
void tsdb_label_names(tsdb *db, char ***out, size_t *n);
void tsdb_label_values(tsdb *db, const char *name, char ***out, size_t *n);
void tsdb_strings_free(char **v, size_t n);

/* Cardinality as Prometheus's /api/v1/status/tsdb: top-n lists. */
typedef struct tsdb_card_entry {
    char *name;
    uint64_t value;
} tsdb_card_entry;
typedef struct tsdb_cardinality {
    uint64_t head_series, label_pairs;
    tsdb_card_entry *by_metric, *by_label_values, *by_pair;
    size_t n_metric, n_label_values, n_pair;
} tsdb_cardinality;
void tsdb_get_cardinality(tsdb *db, size_t top, tsdb_cardinality *c);
void tsdb_cardinality_free(tsdb_cardinality *c);

/*
 * A sample a commit wrote: its series' canonical label key (name\0value\0...,
 * names sorted) and the sample.  A hook set here sees every sample once it is
 * durable (rejected and duplicate ones never), one call per commit (two when
 * it staged part of its batch late, commit.c), per series in the order the
 * samples went into the store, never two calls at once, outside the store's lock; the
 * pointers are valid during the call only.  Set it before writes start.
 * (Remote write out: aggregator/forward.)
 */
typedef struct tsdb_written {
    const char *key;
    size_t key_len;
    int64_t t;
    double v;
} tsdb_written;
typedef void (*tsdb_commit_hook)(void *arg, const tsdb_written *v, size_t n);
void tsdb_set_commit_hook(tsdb *db, tsdb_commit_hook fn, void *arg);

/*
 * Metric metadata per family name (metadata.c), as Prometheus's
 * /api/v1/metadata shows it.  type is one of Prometheus's names: "counter",
 * "gauge", "histogram", "gaugehistogram", "summary", "info", "stateset",
 * "unknown" (anything else is stored as "unknown"); help and unit may be
 * NULL for "".
 */
typedef struct tsdb_metadata {
    const char *family, *type, *help, *unit;
} tsdb_metadata;
/* Record v[0..n): only new or changed records are written (one atomic
 * write), so repeating known metadata costs no I/O.  Entries without a
 * family are skipped.  Returns 0, or -1 with err set (storage failure). */
int tsdb_metadata_update(tsdb *db, const tsdb_metadata *v, size_t n, char *err, size_t errlen);
/* Every record (family NULL) or the one of family, sorted by family; free
 * with tsdb_metadata_list_free. */
void tsdb_metadata_list(tsdb *db, const char *family, tsdb_metadata **out, size_t *n);
void tsdb_metadata_list_free(tsdb_metadata *v, size_t n);
/* Type names of the exposition format's types (untyped is "unknown") and of
 * remote write's MetricMetadata.MetricType numbers. */
const char *tsdb_metadata_type_of(metric_type t);
const char *tsdb_metadata_type_of_remote(int rw_type);

/* The query engine's view of this store. */
query_storage tsdb_query_storage(tsdb *db);

#endif
