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
 * writes, to the WAL and the memtable.  At open, the records are replayed in wseq order into empty
 * heads; samples at or below a series' 'H' watermark were already cut to
 * chunk keys and are skipped, so a record that outlived its head chunk does
 * no harm.  Truncation cuts head chunks older than the head's maximum age,
 * then deletes every record below the oldest head chunk still open.
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

void log_record_add(log_rec *rec, uint64_t id, int64_t t, double v)
{
    put_uvarint(&rec->buf, zz((int64_t)(id - rec->id)));
    put_uvarint(&rec->buf, zz((int64_t)((uint64_t)t - (uint64_t)rec->t)));
    rec->id = id;
    rec->t = t;
    /* -0.0 and NaNs fail the test and keep their bits */
    if (v > -INT_VALUE_MAX && v < INT_VALUE_MAX && v == (double)(int64_t)v &&
        (v != 0 || !signbit(v))) {
        put_uvarint(&rec->buf, zz((int64_t)v) << 1);
        return;
    }
    ebuf_putc(&rec->buf, 1);
    char b[8];
    uint64_t bits;
    memcpy(&bits, &v, 8);
    be64_put(b, bits);
    ebuf_append(&rec->buf, b, 8);
}

/* One sample of a record; false at the end or on a truncated record. */
static bool log_record_next(const unsigned char **p, const unsigned char *end, uint64_t *id,
                            int64_t *t, double *v)
{
    uint64_t did, dt, tag;
    if (!get_uvarint(p, end, &did) || !get_uvarint(p, end, &dt) || !get_uvarint(p, end, &tag))
        return false;
    *id += (uint64_t)unzz(did);
    *t = (int64_t)((uint64_t)*t + (uint64_t)unzz(dt));
    if (!(tag & 1)) {
        *v = (double)unzz(tag >> 1);
        return true;
    }
    if (tag != 1 || end - *p < 8)
        return false;
    uint64_t bits = be64_get(*p);
    *p += 8;
    memcpy(v, &bits, 8);
    return true;
}

static void replay_record(tsdb *db, rocksdb_writebatch_t *wb, uint64_t wseq, const unsigned char *p,
                          size_t len)
{
    const unsigned char *end = p + len;
    uint64_t id = 0;
    int64_t t = 0;
    double v;
    while (p < end && log_record_next(&p, end, &id, &t, &v)) {
        if (id == 0 || id >= db->next_id || !db->series[id])
            continue; /* a series dropped by retention after the record */
        memseries *s = db->series[id];
        if (t <= s->cut_maxt || t <= s->maxt)
            continue;
        head_append(db, wb, id, s, wseq, t, v);
    }
}

int log_replay(tsdb *db, char *err, size_t errlen)
{
    rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
    rocksdb_iterator_t *it = rocksdb_create_iterator(db->db, db->ropts);
    char prefix = KEY_LOG;
    for (rocksdb_iter_seek(it, &prefix, 1); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
        size_t kl, vl;
        const char *k = rocksdb_iter_key(it, &kl);
        if (kl != 9 || k[0] != KEY_LOG)
            break;
        const char *v = rocksdb_iter_value(it, &vl);
        replay_record(db, wb, be64_get(k + 1), (const unsigned char *)v, vl);
    }
    rocksdb_iter_destroy(it);
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
