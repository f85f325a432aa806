/*
 * spool.h — an on-disk, append-only spool of records (encoded batches):
 * the agent's send queue to the aggregator, and the aggregator's remote
 * write backlog (aggregator/forward/backlog.c).
 *
 * Every encoded batch is appended here before it is sent and leaves only
 * when the receiver has acknowledged it, so neither a receiver outage
 * nor a restart loses a sample.  Records live in segment files named
 * after their first seq; each record carries its seq, sample count, append
 * time and a CRC-32C.  The highest acknowledged seq is persisted in the
 * file "acked", so after a restart sending resumes exactly after it.
 *
 * The spool is bounded in bytes.  When full it either drops its oldest
 * segment (counting the unacknowledged records and samples lost) or, in
 * reject mode, refuses new batches: a gap at the end instead of the start.
 * A torn or corrupt record is skipped and counted, never fatal.
 */
#ifndef EMBER_COMMON_SPOOL_H
#define EMBER_COMMON_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct spool spool;

typedef enum spool_sync {
    SPOOL_SYNC_ALWAYS,   /* fdatasync every append (default) */
    SPOOL_SYNC_INTERVAL, /* at most every sync_interval_ms */
    SPOOL_SYNC_NEVER,    /* leave it to the kernel */
} spool_sync;

typedef enum spool_full {
    SPOOL_FULL_DROP_OLDEST,
    SPOOL_FULL_REJECT,
} spool_full;

typedef struct spool_options {
    int64_t max_bytes;     /* whole spool; default 512 MiB */
    int64_t segment_bytes; /* default 4 MiB, at most max_bytes / 4 */
    spool_sync sync;
    int64_t sync_interval_ms;
    spool_full full;
} spool_options;

typedef struct spool_stats {
    uint64_t bytes;   /* on disk, all segments */
    uint64_t pending; /* records not yet acknowledged */
    uint64_t pending_samples;
    uint64_t acked_seq;
    uint64_t last_seq;
    int64_t oldest_pending_ms; /* append time of the oldest pending record, 0 = none */
    uint64_t dropped_records, dropped_samples;
    uint64_t rejected_records; /* reject mode: batches refused while full */
    uint64_t corrupt_records;  /* skipped at open: torn writes, bad checksums */
} spool_stats;

typedef struct spool_record {
    uint64_t seq;
    uint32_t nsamples;
    int64_t appended_ms;
    char *data; /* malloc'd; the caller frees */
    size_t len;
} spool_record;

enum { SPOOL_OK = 0, SPOOL_ERROR = -1, SPOOL_EFULL = -2 };

bool spool_sync_parse(const char *s, spool_sync *out); /* always|interval|never */
bool spool_full_parse(const char *s, spool_full *out); /* drop-oldest|reject */

/* Open (creating) the spool in dir, scanning what a previous run left. */
int spool_open(const char *dir, const spool_options *opts, spool **out, char *err, size_t errlen);
void spool_close(spool *s);

/* Append one batch; seq must be above every seq already in the spool.
 * Returns SPOOL_OK, SPOOL_EFULL (reject mode, nothing written) or
 * SPOOL_ERROR (I/O, e.g. disk full; nothing written). */
int spool_append(spool *s, uint64_t seq, uint32_t nsamples, const void *data, size_t len, char *err,
                 size_t errlen);
/* The first pending record with seq > after: 1 (filled), 0 (none), -1 (read error, err set). */
int spool_read_after(spool *s, uint64_t after, spool_record *rec, char *err, size_t errlen);
/* Everything up to seq is acknowledged: it is never read again, whole
 * acknowledged segments are deleted (the newest too), and seq is persisted.
 * SPOOL_ERROR (err set) when it could not be persisted (a full disk): the
 * ack holds all the same and the write is retried on the next call and at
 * close; a crash before that resends a few acknowledged batches. */
int spool_ack(spool *s, uint64_t seq, char *err, size_t errlen);
void spool_get_stats(spool *s, spool_stats *st);

#endif
