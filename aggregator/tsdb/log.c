/*
 * log.c — the head log: what makes the in-memory head durable.
 *
 * Each commit that appends to the head writes one 'W' key (its wseq) whose
 * value lists the appended samples, in the same atomic write as the
 * samples' other effects and the agent's seq.  A sample is the zig-zag
 * varint of its id and of its timestamp as deltas from the record's previous
 * sample (a batch's series ids run up, its timestamps repeat: a byte each),
 * then its value: the varint of zig-zag(v) << 1 when v is an integer of at
 * most 53 bits (counters, buckets: 1-4 bytes), else 1 and the 8-byte bits.
 * About 10 bytes a sample instead of 17: the log is most of what a commit
 * writes, to the WAL and the memtable.  A commit that cuts a head chunk
 * while appending marks it in its record (the series and the chunk's last
 * time, tag 3) instead of writing an 'H' key: one memtable insert less per
 * cut.  At open, the records are replayed in wseq order into empty heads,
 * in two passes: the first raises each series' watermark to its newest cut
 * marker ('H' keys, from age cuts and older stores, count too), the second
 * appends the samples above the watermarks, so a record that outlived its
 * head chunk does no harm.  A marker's record is never truncated while it
 * matters: the cut and the next head chunk's first sample are in the same
 * commit, and truncation keeps every record from the oldest open head
 * chunk's; a head cut by age writes its 'H' key.  Truncation cuts head
 * chunks older than the head's maximum age, then deletes every record below
 * the oldest head chunk still open.
 *
 * What replay needs of the order of records: only per series — the wseq
 * order of the records holding a series' samples must be the order in
 * which they went into its head (cuts are deterministic given that order,
 * and out-of-order chunks are tagged with their commit's wseq + 1).  Commits
 * stage in parallel, but hand over hand through the head stripes, taking
 * their wseq on entering the first (commit.c): none overtakes another in
 * any series.  Records may land in RocksDB out of wseq order; a crash may
 * keep a later one without an earlier (never acknowledged) one, which
 * replay then lacks, as it should.  Truncation runs with commits paused,
 * so every record of the heads it sees has landed.
 */
#include "aggregator/tsdb/tsdb_int.h"

#include "common/etime.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void put_uvarint(ebuf *b, uint64_t v)
{
    do {
        ebuf_putc(b, (char)((v & 0x7f) | (v > 0x7f ? 0x80 : 0)));
        v >>= 7;
    } while (v);
}

static bool get_uvarint(const unsigned char **p, const unsigned char *end, uint64_t *v)
{
    *v = 0;
    for (unsigned shift = 0; shift < 64 && *p < end; shift += 7) {
        unsigned char c = *(*p)++;
        *v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80))
            return true;
    }
    return false;
}

static uint64_t zz(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static int64_t unzz(uint64_t z)
{
    return (int64_t)(z >> 1) ^ -(int64_t)(z & 1);
}

#define INT_VALUE_MAX 9007199254740992.0 /* 2^53 */
#define TAG_FLOAT 1                      /* 8 bytes of value bits follow */
#define TAG_CUT 3                        /* no value: the series' head was cut up to this time */

static void put_id_time(log_rec *rec, uint64_t id, int64_t t)
{
    put_uvarint(&rec->buf, zz((int64_t)(id - rec->id)));
    put_uvarint(&rec->buf, zz((int64_t)((uint64_t)t - (uint64_t)rec->t)));
    rec->id = id;
    rec->t = t;
}

void log_record_cut(log_rec *rec, uint64_t id, int64_t maxt)
{
    put_id_time(rec, id, maxt);
    ebuf_putc(&rec->buf, TAG_CUT);
}

void log_record_add(log_rec *rec, uint64_t id, int64_t t, double v)
{
    put_id_time(rec, id, t);
    /* -0.0 and NaNs fail the test and keep their bits */
    if (v > -INT_VALUE_MAX && v < INT_VALUE_MAX && v == (double)(int64_t)v &&
        (v != 0 || !signbit(v))) {
        put_uvarint(&rec->buf, zz((int64_t)v) << 1);
        return;
    }
    ebuf_putc(&rec->buf, TAG_FLOAT);
    char b[8];
    uint64_t bits;
    memcpy(&bits, &v, 8);
    be64_put(b, bits);
    ebuf_append(&rec->buf, b, 8);
}

typedef enum { ENTRY_END, ENTRY_SAMPLE, ENTRY_CUT } entry_kind;

/* One entry of a record; ENTRY_END at the end or on a truncated record. */
static entry_kind log_record_next(const unsigned char **p, const unsigned char *end, uint64_t *id,
                                  int64_t *t, double *v)
{
    uint64_t did, dt, tag;
    if (!get_uvarint(p, end, &did) || !get_uvarint(p, end, &dt) || !get_uvarint(p, end, &tag))
        return ENTRY_END;
    *id += (uint64_t)unzz(did);
    *t = (int64_t)((uint64_t)*t + (uint64_t)unzz(dt));
    if (!(tag & 1)) {
        *v = (double)unzz(tag >> 1);
        return ENTRY_SAMPLE;
    }
    if (tag == TAG_CUT)
        return ENTRY_CUT;
    if (tag != TAG_FLOAT || end - *p < 8)
        return ENTRY_END;
    uint64_t bits = be64_get(*p);
    *p += 8;
    memcpy(v, &bits, 8);
    return ENTRY_SAMPLE;
}

static memseries *replay_series(tsdb *db, uint64_t id)
{
    /* none: a series dropped by retention after the record */
    return id == 0 || id >= db->next_id ? NULL : db->series[id];
}

/* One record, in one of two passes.  First (wb NULL): a cut marker raises
 * its series' watermark, as an 'H' key would (markers whose record is gone
 * are in 'H' or irrelevant: see the file comment).  Second: the samples
 * above the watermarks go into the heads; cuts the replay makes go in wb
 * with their 'H' keys. */
static void replay_record(tsdb *db, rocksdb_writebatch_t *wb, uint64_t wseq, const unsigned char *p,
                          size_t len)
{
    const unsigned char *end = p + len;
    uint64_t id = 0;
    int64_t t = 0;
    double v;
    entry_kind k;
    while ((k = log_record_next(&p, end, &id, &t, &v)) != ENTRY_END) {
        memseries *s = replay_series(db, id);
        if (!s)
            continue;
        if (!wb && k == ENTRY_CUT && t > s->cut_maxt)
            s->cut_maxt = s->maxt = t;
        else if (wb && k == ENTRY_SAMPLE && t > s->cut_maxt && t > s->maxt)
            head_append(db, wb, NULL, id, s, wseq, t, v);
    }
}

/* Every 'W' record in wseq order: the cuts (wb NULL), or the samples. */
static void replay_pass(tsdb *db, rocksdb_writebatch_t *wb)
{
    rocksdb_iterator_t *it = rocksdb_create_iterator(db->db, db->ropts);
    char prefix = KEY_LOG;
    for (rocksdb_iter_seek(it, &prefix, 1); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
        size_t kl, vl;
        const char *k = rocksdb_iter_key(it, &kl);
        if (kl != 9 || k[0] != KEY_LOG)
            break;
        const unsigned char *v = (const unsigned char *)rocksdb_iter_value(it, &vl);
        replay_record(db, wb, be64_get(k + 1), v, vl);
    }
    rocksdb_iter_destroy(it);
}

int log_replay(tsdb *db, char *err, size_t errlen)
{
    rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
    replay_pass(db, NULL);
    replay_pass(db, wb);
    int rc = 0;
    if (rocksdb_writebatch_count(wb) > 0) /* cuts a replay made: harmless to redo */
        rc = tsdb_write(db, wb, true, err, errlen);
    rocksdb_writebatch_destroy(wb);
    return rc;
}

int log_truncate(tsdb *db, int64_t now, char *err, size_t errlen)
{
    rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
    uint64_t low = db->next_wseq;
    for (uint64_t id = 1; id < db->next_id; id++) {
        memseries *s = db->series[id];
        if (!s || s->head.n == 0)
            continue;
        if (now - s->head_born_ms >= db->o.head_max_age_ms) {
            if (s->head.n < CHUNK_MAX_SAMPLES)
                aged_note(db, s->head_part); /* a small chunk: compaction merges it */
            head_cut(db, wb, id, s);
        } else if (s->head_wseq < low)
            low = s->head_wseq;
        if (s->owner && now - s->last_write_ms >= db->o.head_max_age_ms) {
            db->agents[s->owner - 1].active--; /* idle: no longer active */
            s->owner = 0;
        }
    }
    char lo[9] = {KEY_LOG}, hi[9] = {KEY_LOG};
    be64_put(hi + 1, low);
    rocksdb_writebatch_delete_range(wb, lo, sizeof lo, hi, sizeof hi);
    int rc = tsdb_write(db, wb, false, err, errlen);
    rocksdb_writebatch_destroy(wb);
    if (rc == 0)
        db->st.log_truncations++;
    return rc;
}
