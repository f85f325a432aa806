/*
 * tsdb_int.h — the store's internals shared by its files (not for users of
 * tsdb.h): the struct, the in-memory series with their head chunk, the key
 * layout, and the functions one file offers the others.
 *
 * Key layout (one-byte type prefix, big-endian integers so keys sort, signed
 * values sign-flipped so negative times sort first):
 *   'S' labels                    → id            label set → series id
 *   'L' id                        → labels        series id → label set
 *   'P' name\0value\0 id          → ""            postings name=value → ids
 *   'C' part id mint wseq         → maxt chunk    a compressed chunk
 *   'W' wseq                      → records       head log: one per commit (log.c)
 *   'H' id                        → maxt          newest time cut from the head (by
 *                                                 age, or at replay; a cut while
 *                                                 appending is marked in 'W')
 *   'A' agent_id                  → seq           highest committed seq per agent
 *   'M' "next_id" / "next_wseq"   → u64           counters (next_wseq: a reservation)
 *   'D' family                    → type\0help\0unit\0   metric metadata (metadata.c)
 * "labels" is name\0value\0... in canonical order; "part" is the time
 * partition (floor(mint / partition length)), so a partition is one key range
 * and retention drops it with one range delete.  wseq is the commit sequence
 * that wrote a chunk's first sample: among samples with the same (series,
 * timestamp), the one from the chunk with the highest wseq is the last write.
 */
#ifndef EMBER_TSDB_INT_H
#define EMBER_TSDB_INT_H

#include "aggregator/tsdb/chunk.h"
#include "aggregator/tsdb/index.h"
#include "aggregator/tsdb/tsdb.h"

#include <pthread.h>
#include <rocksdb/c.h>
#include <stdatomic.h>

#define KEY_SERIES 'S'
#define KEY_LABELS 'L'
#define KEY_POSTING 'P'
#define KEY_CHUNK 'C'
#define KEY_LOG 'W'
#define KEY_CUT 'H'
#define KEY_AGENT 'A'
#define KEY_META 'M'
#define KEY_METADATA 'D'
#define CHUNK_KEY_LEN 33  /* 'C' + part + id + mint + wseq */
#define WSEQ_RESERVE 4096 /* wseqs reserved by one 'M' next_wseq write */

/* The fields an append touches come first, and memseries_new aligns the
 * struct to a cache line: an append costs two lines, not three. */
typedef struct memseries {
    chunk_enc head;        /* open head chunk; head.n == 0: none */
    int64_t maxt;          /* newest timestamp appended in order; INT64_MIN: none */
    uint64_t last_wseq;    /* the newest commit that staged into it (commit.c) */
    int64_t head_part;     /* partition of the head chunk */
    int64_t last_write_ms; /* wall clock of the last append */
    uint32_t owner;        /* agent (index in tsdb.agents) it counts against; 0 none */
    uint64_t head_wseq;    /* commit that wrote the head chunk's first sample */
    int64_t head_born_ms;  /* wall clock when the head chunk was started */
    int64_t cut_maxt;      /* newest timestamp already cut to a chunk key */
    char *key;             /* canonical labels ('S' key body) */
    size_t klen;
} memseries;

/* Canonical label key → series id (series_map.c); keys live in memseries. */
typedef struct series_slot_t {
    uint64_t hash, id; /* id 0: empty */
} series_slot_t;
typedef struct series_map {
    series_slot_t *slots;
    size_t cap, n;
} series_map;
uint64_t series_key_hash(const char *k, size_t n);
void series_map_put(series_map *m, uint64_t h, uint64_t id);
bool series_map_get(const series_map *m, memseries *const *series, const char *k, size_t n,
                    uint64_t *id);
void series_map_free(series_map *m);

typedef struct agent_count {
    char *id;
    uint64_t active;
    uint64_t seq;     /* highest seq staged (its write may be in flight) */
    uint64_t durable; /* highest seq written */
    bool busy;        /* a commit of this agent is in flight: the next waits */
} agent_count;

/* Heads are staged under one of STRIPES locks, by series id; runs of 16
 * ids share a stripe, so a batch's mostly ascending ids change stripes
 * seldom (commit.c). */
#define STRIPES 32
#define STRIPE_OF(id) ((size_t)((id) >> 4) % STRIPES)

struct tsdb {
    rocksdb_t *db;
    rocksdb_options_t *opts;
    rocksdb_writeoptions_t *wopts, *wopts_nosync;
    rocksdb_readoptions_t *ropts;
    tsdb_options o;
    pthread_mutex_t lock;
    /* Readers of ix/series take either lock; writers take both, so the
     * append path can look up known series without waiting for commits. */
    pthread_rwlock_t ix_lock;
    /* Commits hold it shared from start to end; taken exclusively
     * (commits_pause) by whoever needs no commit in flight: log
     * truncation, compaction rewrites, series drops, a hook change. */
    pthread_rwlock_t stage;
    pthread_mutex_t create_lock;     /* series creation, one at a time (commit.c) */
    pthread_mutex_t stripe[STRIPES]; /* the heads of the series in a stripe */
    /* Lock order: access, stage, create_lock, lock, ix_lock; a stripe after
     * ix_lock (commits) or the lock (readers), one at a time but in
     * stage_late (all, ascending, then wseq_lock). */
    series_index ix;
    series_map by_key;
    memseries **series; /* by id; [0] unused */
    size_t cap_series;
    uint64_t next_id; /* ids start at 1 */
    pthread_mutex_t wseq_lock;
    uint64_t next_wseq;     /* commit sequence, starts at 2, steps by 2; under wseq_lock */
    uint64_t wseq_reserved; /* the 'M' next_wseq on disk: every wseq used is below */
    uint64_t hook_turn;     /* with a hook: the wseq whose commit calls it next */
    strmap agent_map;       /* agent id → index in agents */
    agent_count *agents;
    size_t nagents, capagents;
    int64_t *parts; /* partitions holding chunk keys, ascending */
    size_t nparts, capparts;
    int64_t *dirty; /* partitions with chunks to compact */
    size_t ndirty, capdirty;
    int64_t *aged; /* partitions with small chunks cut by age: compacted once closed */
    size_t naged, capaged;
    char *broken;             /* a failed write: commits refused until recovery (recover.c) */
    int64_t recover_after_ms; /* no recovery attempt before (wall clock) */
    char *dir;
    /* Taken shared by whoever uses the RocksDB handle outside the lock
     * (commits, selections, compaction and retention scans), exclusively by
     * a recovery that reopens it; always before the lock, never nested. */
    pthread_rwlock_t access;
    _Atomic uint64_t drop_gen;  /* bumped when series are dropped: stales tsdb_refs */
    pthread_cond_t commit_cond; /* an agent's commit or a hook turn ended */
    tsdb_stats st;
    tsdb_commit_hook hook; /* see tsdb_set_commit_hook */
    void *hook_arg;
    pthread_t maint;
    bool maint_running;
    pthread_mutex_t maint_lock;
    pthread_cond_t maint_cond;
    bool stopping;
    /* Metric metadata (metadata.c): every record, so that an unchanged one
     * costs no write.  meta_lock is taken before lock, never after. */
    pthread_mutex_t meta_lock;
    strmap meta_map; /* family → index in metas */
    struct meta_entry *metas;
    size_t nmetas, capmetas;
};

/* A staged sample: its series' canonical key in the appender's keys, and
 * the series id when the series was known at append time (0 otherwise). */
typedef struct staged {
    size_t key_off, key_len;
    uint64_t id;
    int64_t t;
    double v;
} staged;

struct tsdb_appender {
    tsdb *db;
    ebuf keys;
    staged *v;
    size_t n, cap;
    int64_t now; /* wall clock at creation: the time checks' reference */
    uint64_t rejected;
    char reason[256]; /* the first refusal */
    char last[256];   /* the latest refusal, returned by tsdb_append */
    labelset scratch;
};

/* Keys (keys.c). */
uint64_t be64_get(const void *p);
void be64_put(void *p, uint64_t v);
uint64_t flip64(int64_t v); /* sign-flipped: sorts signed values as unsigned */
int64_t unflip64(uint64_t v);
int64_t partition_of(const tsdb *db, int64_t t);
void chunk_key(char out[CHUNK_KEY_LEN], int64_t part, uint64_t id, int64_t mint, uint64_t wseq);
/* The 'P' key of (l, id) in k (reset first). */
void posting_key(ebuf *k, const label *l, uint64_t id);
/* Note that partition part holds chunks (sorted set); under the lock. */
void parts_note(tsdb *db, int64_t part);
void dirty_note(tsdb *db, int64_t part);
void aged_note(tsdb *db, int64_t part);

/* Head (head.c), under the lock. */
memseries *memseries_new(const char *key, size_t klen);
void memseries_free(memseries *s);
typedef struct log_rec log_rec;
/* Append in order (t > s->maxt), cutting the head chunk into wb first when it
 * is full or t is in another partition; the cut's watermark goes in rec (the
 * commit's log record), or as an 'H' key when rec is NULL (replay). */
void head_append(tsdb *db, rocksdb_writebatch_t *wb, log_rec *rec, uint64_t id, memseries *s,
                 uint64_t wseq, int64_t t, double v);
/* Write s's head chunk as a chunk key and its 'H' watermark into wb. */
void head_cut(tsdb *db, rocksdb_writebatch_t *wb, uint64_t id, memseries *s);
/* Write out-of-order samples (sorted, unique times) of one series as chunks. */
void ooo_write(tsdb *db, rocksdb_writebatch_t *wb, log_rec *rec, uint64_t id, uint64_t wseq,
               const qsample *s, size_t n);
/* A chunk went to partition part: noted in rec (a commit's, applied later
 * under the lock), or in the store's lists right away when rec is NULL. */
void rec_note(tsdb *db, log_rec *rec, int64_t part, bool dirty);

/* Write one chunk key into wb. */
void chunk_put(rocksdb_writebatch_t *wb, int64_t part, uint64_t id, int64_t mint, int64_t maxt,
               uint64_t wseq, const uint8_t *b, size_t len);

/* Merging iterator over chunks (select.c): each timestamp once, from the
 * chunk with the highest wseq; the bytes are copied. */
qiter *merge_iter_new(int64_t mint, int64_t maxt);
void merge_iter_add(qiter *it, const void *b, size_t len, uint64_t wseq);

/* Log (log.c): one commit's record, deltas against the previous entry;
 * also what the commit's chunks did to the store's partition lists and
 * counters, applied under the lock once staging is done (commit.c). */
struct log_rec {
    ebuf buf;
    uint64_t id;
    int64_t t;
    int64_t *parts; /* partitions given chunks; dirty[i]: out-of-order ones */
    bool *dirty;
    size_t nparts, capparts;
    uint64_t cuts;
};
void log_record_add(log_rec *rec, uint64_t id, int64_t t, double v);
/* Series id's head chunk, up to maxt, was cut to a chunk key in this commit. */
void log_record_cut(log_rec *rec, uint64_t id, int64_t maxt);
int log_replay(tsdb *db, char *err, size_t errlen);
/* Cut head chunks older than max_age_ms and drop log records every head
 * chunk has left behind.  Under the lock. */
int log_truncate(tsdb *db, int64_t now, char *err, size_t errlen);

/* Maintenance (retention.c, compact.c). */
int parts_load(tsdb *db);
void maint_start(tsdb *db);
void maint_stop(tsdb *db);
int retention_run(tsdb *db, int64_t now);
int compact_run(tsdb *db, bool all);

/* Writes with the store's write options; on failure the store is marked
 * broken.  Under the lock, with commits paused where the write must land
 * after every commit memory has seen (commit.c). */
int tsdb_write(tsdb *db, rocksdb_writebatch_t *wb, bool sync, char *err, size_t errlen);
uint64_t tsdb_get_u64(tsdb *db, const char *k, size_t kl, uint64_t dflt);
void tsdb_put_u64(rocksdb_writebatch_t *wb, const char *k, size_t kl, uint64_t v);
void series_slot(tsdb *db, uint64_t id, memseries *s);
extern const char META_NEXT_ID[8], META_NEXT_WSEQ[10];

/* Metadata (metadata.c): load the 'D' keys at open, free at close. */
void metadata_load(tsdb *db);
void metadata_free(tsdb *db);

/* The handle and the memory built from disk (tsdb.c), shared with recover.c:
 * state_free leaves the memory empty, state_load fills it as at open. */
int rocks_open(tsdb *db, char *err, size_t errlen);
int state_load(tsdb *db, char *err, size_t errlen);
void state_free(tsdb *db);
/* Shared access to the handle (false, nothing held: no handle, a recovery
 * failed to reopen it) and its end. */
bool store_enter(tsdb *db);
void store_leave(tsdb *db);
/* Before a commit: reopen the store if a write failed (recover.c). */
void recover_if_broken(tsdb *db);

/* Agents (commit.c): the in-memory seq of every agent, loaded at open. */
void agents_load(tsdb *db);
uint32_t agent_index(tsdb *db, const char *agent_id);
/* Wait for the commits in flight and hold new ones back (taken before the
 * lock, never under it): heads stay still and writes made meanwhile land
 * after every commit memory has seen.  Then let them go. */
void commits_pause(tsdb *db);
void commits_resume(tsdb *db);

#endif
