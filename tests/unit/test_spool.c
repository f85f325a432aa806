/*
 * test_spool.c — the agent's disk spool on a real filesystem: order,
 * acknowledgement persisted across reopen, the byte bound in both modes,
 * corrupt and torn records, and a write that fails for lack of space.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/spool.h"
#include "common/fsutil.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct fixture {
    char dir[256];
    spool *s;
} fixture;

static spool *open_spool(fixture *f, const spool_options *o)
{
    char err[256];
    spool *s = NULL;
    if (spool_open(f->dir, o, &s, err, sizeof err) != SPOOL_OK)
        fail_msg("spool_open: %s", err);
    return s;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (fs_mkdtemp(f->dir, sizeof f->dir, "ember-spool") != 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    spool_close(f->s);
    fs_rmtree(f->dir);
    free(f);
    return 0;
}

/* Payload of batch seq: recognisable bytes of a length that varies. */
static size_t payload(uint64_t seq, char *buf)
{
    size_t n = 100 + (seq % 7) * 13;
    for (size_t i = 0; i < n; i++)
        buf[i] = (char)('a' + (seq + i) % 26);
    return n;
}

static void append(spool *s, uint64_t seq)
{
    char buf[256], err[256];
    size_t n = payload(seq, buf);
    if (spool_append(s, seq, (uint32_t)seq, buf, n, err, sizeof err) != SPOOL_OK)
        fail_msg("append %llu: %s", (unsigned long long)seq, err);
}

/* Read the next pending record after `after` and check it is batch `seq`. */
static void expect_next(spool *s, uint64_t after, uint64_t seq)
{
    spool_record r;
    char err[256], buf[256];
    assert_int_equal(spool_read_after(s, after, &r, err, sizeof err), 1);
    assert_int_equal(r.seq, seq);
    size_t n = payload(seq, buf);
    assert_int_equal(r.len, n);
    assert_memory_equal(r.data, buf, n);
    assert_int_equal(r.nsamples, (uint32_t)seq);
    free(r.data);
}

static void expect_none(spool *s, uint64_t after)
{
    spool_record r;
    char err[256];
    assert_int_equal(spool_read_after(s, after, &r, err, sizeof err), 0);
}

static void test_append_read_ack_in_order(void **state)
{
    fixture *f = *state;
    f->s = open_spool(f, NULL);
    for (uint64_t seq = 1; seq <= 10; seq++)
        append(f->s, seq);
    expect_next(f->s, 0, 1);
    expect_next(f->s, 4, 5);
    expect_none(f->s, 10);
    char err[256];
    assert_int_equal(spool_ack(f->s, 6, err, sizeof err), SPOOL_OK);
    expect_next(f->s, 0, 7); /* acknowledged records are never read again */
    spool_stats st;
    spool_get_stats(f->s, &st);
    assert_int_equal(st.pending, 4);
    assert_int_equal(st.pending_samples, 7 + 8 + 9 + 10);
    assert_int_equal(st.acked_seq, 6);
    assert_int_equal(st.last_seq, 10);
    assert_true(st.oldest_pending_ms > 0);
    /* seq must grow */
    char buf[8] = "x";
    assert_int_equal(spool_append(f->s, 10, 1, buf, 1, err, sizeof err), SPOOL_ERROR);
    assert_non_null(strstr(err, "seq 10"));
}

static void test_reopen_resumes_after_acked(void **state)
{
    fixture *f = *state;
    spool_options o = {.segment_bytes = 600}; /* several segments */
    f->s = open_spool(f, &o);
    for (uint64_t seq = 1; seq <= 20; seq++)
        append(f->s, seq);
    char err[256];
    assert_int_equal(spool_ack(f->s, 12, err, sizeof err), SPOOL_OK);
    spool_close(f->s); /* as if the agent restarted during an outage */
    f->s = open_spool(f, &o);
    expect_next(f->s, 0, 13);
    spool_stats st;
    spool_get_stats(f->s, &st);
    assert_int_equal(st.pending, 8);
    assert_int_equal(st.last_seq, 20);
    append(f->s, 21);
    expect_next(f->s, 20, 21);
    assert_int_equal(spool_ack(f->s, 21, err, sizeof err), SPOOL_OK);
    spool_get_stats(f->s, &st);
    assert_int_equal(st.pending, 0);
    assert_true(st.bytes <= 600); /* acknowledged segments are deleted */
}

static void test_full_drops_oldest_and_counts(void **state)
{
    fixture *f = *state;
    spool_options o = {.max_bytes = 4000, .segment_bytes = 1000};
    f->s = open_spool(f, &o);
    for (uint64_t seq = 1; seq <= 60; seq++)
        append(f->s, seq);
    spool_stats st;
    spool_get_stats(f->s, &st);
    assert_true(st.bytes <= 4000);
    assert_true(st.dropped_records > 0);
    /* exactly the oldest are gone: what remains is a contiguous tail */
    uint64_t first = 60 - st.pending + 1;
    assert_int_equal(first, st.dropped_records + 1);
    uint64_t dropped_samples = 0;
    for (uint64_t seq = 1; seq < first; seq++)
        dropped_samples += seq;
    assert_int_equal(st.dropped_samples, dropped_samples);
    expect_next(f->s, 0, first);
    expect_next(f->s, 59, 60);
}

static void test_full_reject_mode_keeps_oldest(void **state)
{
    fixture *f = *state;
    spool_options o = {.max_bytes = 2000, .segment_bytes = 500, .full = SPOOL_FULL_REJECT};
    f->s = open_spool(f, &o);
    char buf[256], err[256];
    uint64_t seq = 1;
    int rc;
    while ((rc = spool_append(f->s, seq, 1, buf, payload(seq, buf), err, sizeof err)) == SPOOL_OK)
        seq++;
    assert_int_equal(rc, SPOOL_EFULL);
    assert_non_null(strstr(err, "spool full"));
    spool_stats st;
    spool_get_stats(f->s, &st);
    assert_int_equal(st.rejected_records, 1);
    assert_int_equal(st.dropped_records, 0);
    expect_next(f->s, 0, 1); /* the oldest batch is still there */
    /* acknowledging makes room again */
    assert_int_equal(spool_ack(f->s, seq - 1, err, sizeof err), SPOOL_OK);
    append(f->s, seq);
}

static char *newest_segment(const fixture *f)
{
    static char path[512];
    char cmd[600];
    snprintf(cmd, sizeof cmd, "ls %s/*.seg | tail -n 1", f->dir);
    FILE *p = popen(cmd, "r");
    assert_non_null(fgets(path, sizeof path, p));
    pclose(p);
    path[strcspn(path, "\n")] = '\0';
    return path;
}

static void test_corrupt_record_is_skipped_and_counted(void **state)
{
    fixture *f = *state;
    f->s = open_spool(f, NULL);
    for (uint64_t seq = 1; seq <= 5; seq++)
        append(f->s, seq);
    spool_close(f->s);
    /* flip one payload byte of record 3 */
    int fd = open(newest_segment(f), O_RDWR);
    char buf[256];
    off_t off = 0;
    for (uint64_t seq = 1; seq < 3; seq++)
        off += 32 + (off_t)payload(seq, buf);
    char c;
    assert_int_equal(pread(fd, &c, 1, off + 40), 1);
    c ^= 0x55;
    assert_int_equal(pwrite(fd, &c, 1, off + 40), 1);
    close(fd);

    f->s = open_spool(f, NULL);
    spool_stats st;
    spool_get_stats(f->s, &st);
    assert_int_equal(st.corrupt_records, 1);
    expect_next(f->s, 0, 1);
    expect_next(f->s, 2, 4); /* 3 is gone, 4 and 5 were found again */
    expect_next(f->s, 4, 5);
}

static void test_torn_tail_is_cut_and_appends_continue(void **state)
{
    fixture *f = *state;
    f->s = open_spool(f, NULL);
    for (uint64_t seq = 1; seq <= 3; seq++)
        append(f->s, seq);
    spool_close(f->s);
    char *seg = newest_segment(f);
    struct stat sb;
    stat(seg, &sb);
    assert_int_equal(truncate(seg, sb.st_size - 10), 0); /* crash mid-write of record 3 */

    f->s = open_spool(f, NULL);
    spool_stats st;
    spool_get_stats(f->s, &st);
    assert_int_equal(st.pending, 2);
    assert_int_equal(st.corrupt_records, 1);
    append(f->s, 4);
    spool_close(f->s);
    f->s = open_spool(f, NULL); /* the cut left a clean tail: nothing else is lost */
    spool_get_stats(f->s, &st);
    assert_int_equal(st.pending, 3);
    assert_int_equal(st.corrupt_records, 0);
    expect_next(f->s, 2, 4);
}

static void test_write_failure_leaves_no_torn_record(void **state)
{
    fixture *f = *state;
    f->s = open_spool(f, NULL);
    /* A file size limit stands in for a full disk: write() fails with EFBIG. */
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit old, lim;
    getrlimit(RLIMIT_FSIZE, &old);
    lim = old;
    lim.rlim_cur = 1000;
    setrlimit(RLIMIT_FSIZE, &lim);
    char buf[256], err[256];
    uint64_t seq = 1;
    while (spool_append(f->s, seq, 1, buf, payload(seq, buf), err, sizeof err) == SPOOL_OK)
        seq++;
    setrlimit(RLIMIT_FSIZE, &old);
    assert_non_null(strstr(err, "cannot append to spool"));
    assert_true(seq > 2);
    /* the failed batch can be retried, and everything before it is intact */
    append(f->s, seq);
    spool_close(f->s);
    f->s = open_spool(f, NULL);
    spool_stats st;
    spool_get_stats(f->s, &st);
    assert_int_equal(st.corrupt_records, 0);
    assert_int_equal(st.pending, seq);
    expect_next(f->s, seq - 1, seq);
}

/* Files in the spool directory ending in .seg. */
static int count_segments(const fixture *f)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "ls %s | grep -c '\\.seg$'", f->dir);
    FILE *p = popen(cmd, "r");
    int n = -1;
    assert_int_equal(fscanf(p, "%d", &n), 1);
    pclose(p);
    return n;
}

/* Regression: a full disk (a file size limit of 0 here: every write fails
 * with EFBIG) cannot take the "acked" file; the acknowledged segments must
 * go anyway, and the record is written once the disk can take it. */
static void test_ack_on_full_disk_still_frees_segments(void **state)
{
    fixture *f = *state;
    spool_options o = {.segment_bytes = 600};
    f->s = open_spool(f, &o);
    for (uint64_t seq = 1; seq <= 20; seq++)
        append(f->s, seq);
    assert_true(count_segments(f) > 3);
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit old, lim;
    getrlimit(RLIMIT_FSIZE, &old);
    lim = old;
    lim.rlim_cur = 0;
    setrlimit(RLIMIT_FSIZE, &lim);
    char err[256];
    int rc = spool_ack(f->s, 20, err, sizeof err);
    setrlimit(RLIMIT_FSIZE, &old);
    assert_int_equal(rc, SPOOL_ERROR);
    assert_non_null(strstr(err, "acked"));
    spool_stats st;
    spool_get_stats(f->s, &st);
    assert_int_equal(st.bytes, 0); /* every segment was acknowledged: all deleted */
    assert_int_equal(st.pending, 0);
    assert_int_equal(st.acked_seq, 20);
    assert_int_equal(count_segments(f), 0);
    expect_none(f->s, 0);
    /* the disk has room again: the next call records the ack */
    assert_int_equal(spool_ack(f->s, 20, err, sizeof err), SPOOL_OK);
    append(f->s, 21);
    spool_close(f->s);
    f->s = open_spool(f, &o);
    expect_next(f->s, 0, 21); /* 1..20 are not resent after a restart */
}

/* Regression: a single segment, smaller than the segment size, was kept
 * forever once all its records were acknowledged. */
static void test_lone_small_segment_deleted_after_ack(void **state)
{
    fixture *f = *state;
    f->s = open_spool(f, NULL); /* 4 MiB segments: everything fits in one */
    for (uint64_t seq = 1; seq <= 3; seq++)
        append(f->s, seq);
    assert_int_equal(count_segments(f), 1);
    char err[256];
    assert_int_equal(spool_ack(f->s, 2, err, sizeof err), SPOOL_OK);
    assert_int_equal(count_segments(f), 1); /* 3 is still pending in it */
    assert_int_equal(spool_ack(f->s, 3, err, sizeof err), SPOOL_OK);
    assert_int_equal(count_segments(f), 0);
    spool_stats st;
    spool_get_stats(f->s, &st);
    assert_int_equal(st.bytes, 0);
    /* appends go on in a new segment */
    append(f->s, 4);
    expect_next(f->s, 3, 4);
    assert_int_equal(count_segments(f), 1);
    spool_close(f->s);
    f->s = open_spool(f, NULL);
    expect_next(f->s, 0, 4);
    spool_get_stats(f->s, &st);
    assert_int_equal(st.pending, 1);
}

static void test_garbage_files_and_names(void **state)
{
    fixture *f = *state;
    char path[512];
    snprintf(path, sizeof path, "%s/00000000000000000001.seg", f->dir);
    FILE *fp = fopen(path, "w");
    fputs("not a spool record at all", fp);
    fclose(fp);
    snprintf(path, sizeof path, "%s/unrelated.txt", f->dir);
    fp = fopen(path, "w");
    fputs("x", fp);
    fclose(fp);
    f->s = open_spool(f, NULL);
    spool_stats st;
    spool_get_stats(f->s, &st);
    assert_int_equal(st.pending, 0);
    assert_int_equal(st.corrupt_records, 1);
    append(f->s, 1); /* same name as the garbage segment, which was removed */
    expect_next(f->s, 0, 1);
}

static void test_option_names(void **state)
{
    spool_sync s;
    spool_full m;
    assert_true(spool_sync_parse("interval", &s) && s == SPOOL_SYNC_INTERVAL);
    assert_false(spool_sync_parse("sometimes", &s));
    assert_true(spool_full_parse("reject", &m) && m == SPOOL_FULL_REJECT);
    assert_true(spool_full_parse("drop-oldest", &m) && m == SPOOL_FULL_DROP_OLDEST);
    assert_false(spool_full_parse("drop", &m));
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_append_read_ack_in_order),
        T(test_reopen_resumes_after_acked),
        T(test_full_drops_oldest_and_counts),
        T(test_full_reject_mode_keeps_oldest),
        T(test_corrupt_record_is_skipped_and_counted),
        T(test_torn_tail_is_cut_and_appends_continue),
        T(test_write_failure_leaves_no_torn_record),
        T(test_ack_on_full_disk_still_frees_segments),
        T(test_lone_small_segment_deleted_after_ack),
        T(test_garbage_files_and_names),
        cmocka_unit_test(test_option_names),
    };
    return cmocka_run_group_tests_name("spool", tests, NULL, NULL);
}
