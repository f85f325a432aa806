/*
 * spool.c — segment files of checksummed records (see spool.h).
 *
 * On disk, a segment "<first seq, 20 digits>.seg" is a run of records:
 *
 *   magic "ESP1" | len u32 | seq u64 | nsamples u32 | appended_ms i64 |
 *   crc32c u32 (of the 24 bytes from len to appended_ms, then the payload) |
 *   payload (len bytes)
 *
 * little-endian.  In memory we keep an index of the pending records (seq,
 * segment, offset, length), so reading the next batch to send is a binary
 * search and one pread.  Opening rescans every segment: a record with a bad
 * magic or checksum is counted and skipped by searching for the next valid
 * record; a torn record at the end of the newest segment is cut off so that
 * appends continue on a clean tail.
 */
#include "common/spool.h"

#include "common/crc32c.h"
#include "common/err.h"
#include "common/etime.h"
#include "common/fsutil.h"
#include "common/mem.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define REC_MAGIC "ESP1"
#define REC_HEADER 32
#define REC_MAX_PAYLOAD (256u << 20)
#define SEG_SUFFIX ".seg"

typedef struct segment {
    uint64_t first_seq;
    uint64_t last_seq;
    int64_t bytes;
} segment;

typedef struct rec_ix {
    uint64_t seq;
    uint64_t seg_first; /* which segment */
    int64_t off;
    uint32_t len;
    uint32_t nsamples;
    int64_t appended_ms;
} rec_ix;

struct spool {
    char *dir;
    spool_options o;
    pthread_mutex_t lock;
    segment *segs; /* oldest first */
    size_t nsegs, capsegs;
    rec_ix *recs; /* pending records, by seq */
    size_t nrecs, caprecs;
    int cur_fd; /* the newest segment, open for appending; -1 = none */
    uint64_t acked, last_seq;
    bool acked_dirty; /* acked is not on disk yet (the last write failed) */
    int64_t bytes;
    int64_t last_sync_ms;
    spool_stats st; /* the cumulative counters */
};

/* ---- little-endian fields ------------------------------------------- */

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get32(const unsigned char *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint64_t get64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static void encode_header(unsigned char *h, const rec_ix *r, const void *payload)
{
    memcpy(h, REC_MAGIC, 4);
    put32(h + 4, r->len);
    put64(h + 8, r->seq);
    put32(h + 16, r->nsamples);
    put64(h + 20, (uint64_t)r->appended_ms);
    put32(h + 28, crc32c(crc32c(0, h + 4, 24), payload, r->len));
}

/* A valid record at buf[off..]?  Fills r (without segment) if so. */
static bool decode_record(const unsigned char *buf, size_t size, size_t off, rec_ix *r)
{
    if (size - off < REC_HEADER || memcmp(buf + off, REC_MAGIC, 4) != 0)
        return false;
    const unsigned char *h = buf + off;
    uint32_t len = get32(h + 4);
    if (len > REC_MAX_PAYLOAD || size - off - REC_HEADER < len)
        return false;
    if (crc32c(crc32c(0, h + 4, 24), h + REC_HEADER, len) != get32(h + 28))
        return false;
    r->len = len;
    r->seq = get64(h + 8);
    r->nsamples = get32(h + 16);
    r->appended_ms = (int64_t)get64(h + 20);
    r->off = (int64_t)off;
    return true;
}

/* ---- paths and small files ------------------------------------------ */

static void seg_path(const spool *s, uint64_t first_seq, char *buf, size_t len)
{
    snprintf(buf, len, "%s/%020" PRIu64 SEG_SUFFIX, s->dir, first_seq);
}

static int write_acked(spool *s, uint64_t seq, char *err, size_t errlen)
{
    char path[4096], tmp[4200], num[32];
    snprintf(path, sizeof path, "%s/acked", s->dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int n = snprintf(num, sizeof num, "%" PRIu64 "\n", seq);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    bool ok = fd >= 0 && write(fd, num, (size_t)n) == n && fdatasync(fd) == 0;
    if (fd >= 0)
        close(fd);
    if (!ok || rename(tmp, path) != 0) {
        err_set(err, errlen, "cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
        return SPOOL_ERROR;
    }
    return SPOOL_OK;
}

static uint64_t read_acked(const spool *s)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/acked", s->dir);
    FILE *f = fopen(path, "r");
    unsigned long long v = 0;
    if (f) {
        if (fscanf(f, "%llu", &v) != 1)
            v = 0;
        fclose(f);
    }
    return v;
}

/* ---- index ------------------------------------------------------------ */

static void add_record(spool *s, const rec_ix *r)
{
    EM_GROW(s->recs, s->caprecs, s->nrecs + 1);
    s->recs[s->nrecs++] = *r;
}

/* Forget pending records of segment first_seq (all of them are at the front). */
static void forget_segment_records(spool *s, uint64_t first_seq, bool count_as_dropped)
{
    size_t k = 0;
    while (k < s->nrecs && s->recs[k].seg_first == first_seq) {
        if (count_as_dropped) {
            s->st.dropped_records++;
            s->st.dropped_samples += s->recs[k].nsamples;
        }
        k++;
    }
    if (k > 0)
        memmove(s->recs, s->recs + k, (s->nrecs - k) * sizeof(rec_ix));
    s->nrecs -= k;
}

static void remove_oldest_segment(spool *s, bool count_as_dropped)
{
    segment *g = &s->segs[0];
    char path[4096];
    seg_path(s, g->first_seq, path, sizeof path);
    if (s->nsegs == 1 && s->cur_fd >= 0) {
        close(s->cur_fd);
        s->cur_fd = -1;
    }
    unlink(path);
    s->bytes -= g->bytes;
    forget_segment_records(s, g->first_seq, count_as_dropped);
    memmove(s->segs, s->segs + 1, (s->nsegs - 1) * sizeof(segment));
    s->nsegs--;
}

/* ---- open: scan what a previous run left --------------------------------- */

static int read_file(const char *path, unsigned char **buf, size_t *size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    *size = (size_t)st.st_size;
    *buf = em_malloc(*size ? *size : 1);
    size_t got = 0;
    while (got < *size) {
        ssize_t n = pread(fd, *buf + got, *size - got, (off_t)got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    *size = got;
    return 0;
}

/* Parse one segment into the index; returns the end of its last good record. */
static size_t scan_segment(spool *s, segment *g, const unsigned char *buf, size_t size)
{
    size_t off = 0, good_end = 0;
    bool in_garbage = false;
    while (off < size) {
        rec_ix r;
        if (!decode_record(buf, size, off, &r)) {
            if (!in_garbage)
                s->st.corrupt_records++;
            in_garbage = true;
            off++;
            continue;
        }
        in_garbage = false;
        off += REC_HEADER + r.len;
        good_end = off;
        if (r.seq <= s->last_seq)
            continue; /* duplicate or out of order: never sent twice */
        r.seg_first = g->first_seq;
        s->last_seq = r.seq;
        g->last_seq = r.seq;
        if (r.seq > s->acked)
            add_record(s, &r);
    }
    return good_end;
}

static int seg_cmp(const void *a, const void *b)
{
    uint64_t x = ((const segment *)a)->first_seq, y = ((const segment *)b)->first_seq;
    return (x > y) - (x < y);
}

static void list_segments(spool *s)
{
    DIR *d = opendir(s->dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        unsigned long long first;
        char tail[8];
        if (strlen(e->d_name) == 20 + strlen(SEG_SUFFIX) &&
            sscanf(e->d_name, "%20llu%7s", &first, tail) == 2 && strcmp(tail, SEG_SUFFIX) == 0) {
            EM_GROW(s->segs, s->capsegs, s->nsegs + 1);
            s->segs[s->nsegs++] = (segment){.first_seq = first};
        }
    }
    closedir(d);
    if (s->nsegs > 1) /* qsort(NULL, 0, ...) is undefined */
        qsort(s->segs, s->nsegs, sizeof(segment), seg_cmp);
}

/* A segment with no valid record holds nothing worth keeping, and its name
 * could collide with the next segment we create. */
static void drop_empty_segments(spool *s)
{
    size_t k = 0;
    for (size_t i = 0; i < s->nsegs; i++) {
        if (s->segs[i].last_seq != 0) {
            s->segs[k++] = s->segs[i];
            continue;
        }
        char path[4096];
        seg_path(s, s->segs[i].first_seq, path, sizeof path);
        unlink(path);
        s->bytes -= s->segs[i].bytes;
    }
    s->nsegs = k;
}

static void load_segments(spool *s)
{
    list_segments(s);
    for (size_t i = 0; i < s->nsegs; i++) {
        segment *g = &s->segs[i];
        char path[4096];
        seg_path(s, g->first_seq, path, sizeof path);
        unsigned char *buf;
        size_t size;
        if (read_file(path, &buf, &size) != 0)
            continue;
        size_t end = scan_segment(s, g, buf, size);
        if (i == s->nsegs - 1 && end < size && truncate(path, (off_t)end) == 0)
            size = end; /* torn tail: appends continue after the last good record */
        g->bytes = (int64_t)size;
        s->bytes += g->bytes;
        free(buf);
    }
    drop_empty_segments(s);
}

static void apply_defaults(spool_options *o)
{
    if (o->max_bytes <= 0)
        o->max_bytes = 512LL << 20;
    if (o->segment_bytes <= 0)
        o->segment_bytes = 4LL << 20;
    if (o->segment_bytes > o->max_bytes / 4)
        o->segment_bytes = o->max_bytes / 4 > 0 ? o->max_bytes / 4 : 1;
    if (o->sync_interval_ms <= 0)
        o->sync_interval_ms = 1000;
}

int spool_open(const char *dir, const spool_options *opts, spool **out, char *err, size_t errlen)
{
    if (fs_mkdir_p(dir) != 0) {
        err_set(err, errlen, "cannot create spool directory %s: %s", dir, strerror(errno));
        return SPOOL_ERROR;
    }
    spool *s = em_calloc(1, sizeof *s);
    s->dir = em_strdup(dir);
    if (opts)
        s->o = *opts;
    apply_defaults(&s->o);
    pthread_mutex_init(&s->lock, NULL);
    s->cur_fd = -1;
    s->acked = read_acked(s);
    s->last_seq = s->acked;
    load_segments(s);
    /* Segments whose every record is acknowledged are garbage now. */
    while (s->nsegs > 0 && s->segs[0].last_seq <= s->acked)
        remove_oldest_segment(s, false);
    *out = s;
    return SPOOL_OK;
}

void spool_close(spool *s)
{
    if (!s)
        return;
    if (s->cur_fd >= 0) {
        fdatasync(s->cur_fd);
        close(s->cur_fd);
    }
    char err[300];
    if (s->acked_dirty)
        write_acked(s, s->acked, err, sizeof err); /* last chance; a failure costs duplicates */
    pthread_mutex_destroy(&s->lock);
    free(s->segs);
    free(s->recs);
    free(s->dir);
    free(s);
}

/* ---- append ------------------------------------------------------------- */

static int open_segment(spool *s, uint64_t first_seq, char *err, size_t errlen)
{
    char path[4096];
    seg_path(s, first_seq, path, sizeof path);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        err_set(err, errlen, "cannot create spool segment %s: %s", path, strerror(errno));
        return SPOOL_ERROR;
    }
    int dfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) { /* make the new name durable too */
        fsync(dfd);
        close(dfd);
    }
    if (s->cur_fd >= 0)
        close(s->cur_fd);
    s->cur_fd = fd;
    EM_GROW(s->segs, s->capsegs, s->nsegs + 1);
    s->segs[s->nsegs++] = (segment){.first_seq = first_seq, .last_seq = 0, .bytes = 0};
    return SPOOL_OK;
}

/* The newest segment, if it can take size more bytes and is open. */
static bool current_has_room(const spool *s, int64_t size)
{
    if (s->cur_fd < 0 || s->nsegs == 0)
        return false;
    const segment *g = &s->segs[s->nsegs - 1];
    return g->bytes == 0 || g->bytes + size <= s->o.segment_bytes;
}

static int write_record(spool *s, rec_ix *r, const void *data, char *err, size_t errlen)
{
    segment *g = &s->segs[s->nsegs - 1];
    unsigned char h[REC_HEADER];
    encode_header(h, r, data);
    struct iovec iov[2] = {{h, REC_HEADER}, {(void *)data, r->len}};
    ssize_t want = REC_HEADER + (ssize_t)r->len;
    ssize_t n = writev(s->cur_fd, iov, 2);
    if (n != want) {
        int e = n < 0 ? errno : ENOSPC;
        if (ftruncate(s->cur_fd, (off_t)g->bytes) != 0) { /* no torn record left behind */
            close(s->cur_fd);
            s->cur_fd = -1;
        }
        err_set(err, errlen, "cannot append to spool in %s: %s", s->dir, strerror(e));
        return SPOOL_ERROR;
    }
    int64_t now = mono_ms();
    if (s->o.sync == SPOOL_SYNC_ALWAYS ||
        (s->o.sync == SPOOL_SYNC_INTERVAL && now - s->last_sync_ms >= s->o.sync_interval_ms)) {
        fdatasync(s->cur_fd);
        s->last_sync_ms = now;
    }
    r->off = g->bytes;
    r->seg_first = g->first_seq;
    g->bytes += want;
    g->last_seq = r->seq;
    s->bytes += want;
    return SPOOL_OK;
}

/* Drop-oldest mode: remove old segments (never the one being written)
 * until the spool fits its bound again. */
static void enforce_bound(spool *s)
{
    while (s->bytes > s->o.max_bytes && s->nsegs > 1)
        remove_oldest_segment(s, true);
}

static int append_locked(spool *s, rec_ix *r, const void *data, char *err, size_t errlen)
{
    int64_t size = REC_HEADER + (int64_t)r->len;
    if (r->seq <= s->last_seq) {
        err_set(err, errlen, "spool: seq %" PRIu64 " is not above %" PRIu64, r->seq, s->last_seq);
        return SPOOL_ERROR;
    }
    if (s->o.full == SPOOL_FULL_REJECT && s->bytes + size > s->o.max_bytes) {
        s->st.rejected_records++;
        err_set(err, errlen, "spool full (%" PRId64 " of %" PRId64 " bytes): batch refused",
                s->bytes, s->o.max_bytes);
        return SPOOL_EFULL;
    }
    if (!current_has_room(s, size) && open_segment(s, r->seq, err, errlen) != SPOOL_OK)
        return SPOOL_ERROR;
    if (write_record(s, r, data, err, errlen) != SPOOL_OK)
        return SPOOL_ERROR;
    add_record(s, r);
    s->last_seq = r->seq;
    if (s->o.full == SPOOL_FULL_DROP_OLDEST)
        enforce_bound(s);
    return SPOOL_OK;
}

int spool_append(spool *s, uint64_t seq, uint32_t nsamples, const void *data, size_t len, char *err,
                 size_t errlen)
{
    if (len > REC_MAX_PAYLOAD) {
        err_set(err, errlen, "batch of %zu bytes is larger than a spool record may be", len);
        return SPOOL_ERROR;
    }
    rec_ix r = {.seq = seq, .len = (uint32_t)len, .nsamples = nsamples, .appended_ms = now_ms()};
    pthread_mutex_lock(&s->lock);
    int rc = append_locked(s, &r, data, err, errlen);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

/* ---- read and acknowledge ------------------------------------------------ */

static size_t first_after(const spool *s, uint64_t after)
{
    size_t lo = 0, hi = s->nrecs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->recs[mid].seq <= after)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int read_payload(const spool *s, const rec_ix *r, char *buf, char *err, size_t errlen)
{
    char path[4096];
    seg_path(s, r->seg_first, path, sizeof path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? pread(fd, buf, r->len, r->off + REC_HEADER) : -1;
    int e = errno;
    if (fd >= 0)
        close(fd);
    if (n != (ssize_t)r->len) {
        err_set(err, errlen, "cannot read spool record %" PRIu64 " from %s: %s", r->seq, path,
                n < 0 ? strerror(e) : "short read");
        return -1;
    }
    return 0;
}

int spool_read_after(spool *s, uint64_t after, spool_record *rec, char *err, size_t errlen)
{
    pthread_mutex_lock(&s->lock);
    size_t i = first_after(s, after > s->acked ? after : s->acked);
    int rc = 0;
    if (i < s->nrecs) {
        rec_ix r = s->recs[i];
        rec->data = em_malloc(r.len ? r.len : 1);
        if (read_payload(s, &r, rec->data, err, errlen) != 0) {
            free(rec->data);
            rec->data = NULL;
            rc = -1;
        } else {
            rec->seq = r.seq;
            rec->nsamples = r.nsamples;
            rec->appended_ms = r.appended_ms;
            rec->len = r.len;
            rc = 1;
        }
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

/* Forget the records up to seq and delete the segments they fill entirely,
 * the newest one included: it is reopened under a new name on the next
 * append.  Safe before "acked" is on disk: a restart that reads an older
 * acked seq resends at most the rest of a segment, which the receiver
 * acknowledges as duplicates. */
static void forget_acked(spool *s, uint64_t seq)
{
    s->acked = seq;
    size_t k = first_after(s, seq);
    if (k > 0)
        memmove(s->recs, s->recs + k, (s->nrecs - k) * sizeof(rec_ix));
    s->nrecs -= k;
    while (s->nsegs > 0 && s->segs[0].last_seq <= seq)
        remove_oldest_segment(s, false);
}

/*
 * Recording the ack needs a new file: on a full disk it fails.  The
 * acknowledged segments are deleted all the same (which frees the space)
 * and the record is tried again right away, then on every later ack and at
 * close, so a full disk never keeps the spool full.
 */
int spool_ack(spool *s, uint64_t seq, char *err, size_t errlen)
{
    pthread_mutex_lock(&s->lock);
    int rc = SPOOL_OK;
    if (seq > s->acked) {
        forget_acked(s, seq);
        s->acked_dirty = true;
    }
    if (s->acked_dirty) {
        rc = write_acked(s, s->acked, err, errlen);
        s->acked_dirty = rc != SPOOL_OK;
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

void spool_get_stats(spool *s, spool_stats *st)
{
    pthread_mutex_lock(&s->lock);
    *st = s->st;
    st->bytes = (uint64_t)s->bytes;
    st->pending = s->nrecs;
    st->pending_samples = 0;
    for (size_t i = 0; i < s->nrecs; i++)
        st->pending_samples += s->recs[i].nsamples;
    st->acked_seq = s->acked;
    st->last_seq = s->last_seq;
    st->oldest_pending_ms = s->nrecs ? s->recs[0].appended_ms : 0;
    pthread_mutex_unlock(&s->lock);
}

bool spool_sync_parse(const char *s, spool_sync *out)
{
    static const char *names[] = {"always", "interval", "never"};
    for (int i = 0; i < 3; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = (spool_sync)i;
            return true;
        }
    return false;
}

bool spool_full_parse(const char *s, spool_full *out)
{
    if (strcmp(s, "drop-oldest") == 0)
        *out = SPOOL_FULL_DROP_OLDEST;
    else if (strcmp(s, "reject") == 0)
        *out = SPOOL_FULL_REJECT;
    else
        return false;
    return true;
}
