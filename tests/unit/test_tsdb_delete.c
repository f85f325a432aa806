/*
 * test_tsdb_delete.c — deleting samples (aggregator/tsdb/delete.c) and
 * snapshots (snapshot.c) on a real RocksDB in a temporary directory.
 *
 * Each series gets 300 in-order samples a second apart: two full chunks cut
 * to disk (t 0..239 s) and 60 in the head (240..299 s).  Deletes in the head
 * only, in chunks only, across both and over all time must remove exactly
 * the samples in the range, keep everything else (other series too), stay
 * so after a reopen (which replays the head log as after a crash: closing
 * writes nothing), and keep samples appended afterwards.  A snapshot opens
 * as a store with the same samples; with skip_head, without the head's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "aggregator/tsdb/tsdb_int.h"
#include "common/etime.h"
#include "common/fsutil.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BASE 1000000000000LL /* ms */
#define SEC 1000LL
#define N 300

typedef struct fixture {
    char dir[256];
    tsdb *db;
} fixture;

static tsdb *open_at(const char *dir)
{
    char err[256];
    tsdb *db;
    tsdb_options o = {.sync = true, .maint_interval_ms = -1};
    if (tsdb_open(dir, &o, &db, err, sizeof err) != 0)
        fail_msg("open %s: %s", dir, err);
    return db;
}

static void reopen(fixture *f)
{
    tsdb_close(f->db);
    f->db = open_at(f->dir);
}

static void put(tsdb *db, const char *a, int64_t t, double v)
{
    labelset ls;
    labels_init(&ls);
    labels_add(&ls, "__name__", "m");
    labels_add(&ls, "a", a);
    tsdb_appender *app = tsdb_appender_new(db);
    assert_null(tsdb_append(app, &ls, t, v));
    tsdb_commit_result res;
    char err[256];
    assert_int_equal(tsdb_commit(app, NULL, 0, &res, err, sizeof err), 0);
    labels_free(&ls);
}

static void fill(tsdb *db, const char *a)
{
    for (int i = 0; i < N; i++)
        put(db, a, BASE + i * SEC, i);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_int_equal(fs_mkdtemp(f->dir, sizeof f->dir, "ember-test-delete"), 0);
    f->db = open_at(f->dir);
    fill(f->db, "1");
    fill(f->db, "2");
    tsdb_stats st;
    tsdb_get_stats(f->db, &st);
    assert_int_equal(st.chunks_cut, 4); /* two per series; 60 samples in each head */
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    tsdb_close(f->db);
    fs_rmtree(f->dir);
    free(f);
    return 0;
}

/* The samples of m{a="<a>"}; *n of them, NULL when the series has none. */
static qsample *read_series(tsdb *db, const char *a, size_t *n)
{
    label_matcher m[2];
    char err[256];
    assert_int_equal(matcher_init(&m[0], MATCH_EQ, "__name__", "m", err, sizeof err), 0);
    assert_int_equal(matcher_init(&m[1], MATCH_EQ, "a", a, err, sizeof err), 0);
    query_storage st = tsdb_query_storage(db);
    qseries_set out;
    qseries_set_init(&out);
    assert_int_equal(query_storage_read(&st, m, 2, INT64_MIN, INT64_MAX, &out, err, sizeof err), 0);
    matcher_free(&m[0]);
    matcher_free(&m[1]);
    qsample *v = NULL;
    *n = 0;
    if (out.n == 1) {
        *n = out.v[0].n;
        v = malloc(*n * sizeof *v + 1);
        memcpy(v, out.v[0].samples, *n * sizeof *v);
    }
    assert_true(out.n <= 1);
    qseries_set_free(&out);
    return v;
}

/* m{a="<a>"} holds exactly the filled samples outside [lo, hi] seconds. */
static void assert_filled_except(tsdb *db, const char *a, int lo, int hi)
{
    size_t n, j = 0;
    qsample *v = read_series(db, a, &n);
    for (int i = 0; i < N; i++) {
        if (i >= lo && i <= hi)
            continue;
        if (j >= n)
            fail_msg("a=%s: sample %d s missing (%zu samples)", a, i, n);
        assert_int_equal(v[j].t, BASE + i * SEC);
        assert_true(v[j].v == i);
        j++;
    }
    if (j != n)
        fail_msg("a=%s: %zu samples, want %zu", a, n, j);
    free(v);
}

static uint64_t del(tsdb *db, const char *a, int64_t mint, int64_t maxt)
{
    label_matcher m;
    char err[256];
    assert_int_equal(matcher_init(&m, a ? MATCH_EQ : MATCH_RE, "a", a ? a : ".*", err, sizeof err),
                     0);
    uint64_t deleted;
    if (tsdb_delete(db, &m, 1, mint, maxt, &deleted, err, sizeof err) != 0)
        fail_msg("delete: %s", err);
    matcher_free(&m);
    return deleted;
}

/* Delete seconds [lo, hi] of a="1", check, reopen (replay), check again. */
static void delete_and_check(fixture *f, int lo, int hi)
{
    assert_int_equal(del(f->db, "1", BASE + lo * SEC, BASE + hi * SEC), hi - lo + 1);
    assert_filled_except(f->db, "1", lo, hi);
    assert_filled_except(f->db, "2", 1, 0);
    reopen(f);
    assert_filled_except(f->db, "1", lo, hi);
    assert_filled_except(f->db, "2", 1, 0);
    /* the same range again finds nothing */
    assert_int_equal(del(f->db, "1", BASE + lo * SEC, BASE + hi * SEC), 0);
}

static void test_delete_in_head_only(void **state)
{
    delete_and_check(*state, 250, 260);
}

static void test_delete_in_chunks_only(void **state)
{
    delete_and_check(*state, 10, 130); /* both chunks, neither whole */
}

static void test_delete_spanning_chunks_and_head(void **state)
{
    delete_and_check(*state, 200, 270);
}

static void test_delete_whole_head(void **state)
{
    delete_and_check(*state, 240, 299);
}

static void test_delete_all_time(void **state)
{
    fixture *f = *state;
    assert_int_equal(del(f->db, NULL, INT64_MIN, INT64_MAX), 2 * N);
    size_t n;
    for (int r = 0; r < 2; r++) {
        free(read_series(f->db, "1", &n));
        assert_int_equal(n, 0);
        free(read_series(f->db, "2", &n));
        assert_int_equal(n, 0);
        reopen(f);
    }
}

/* After a delete, in-order (head) and out-of-order appends to the same
 * series are kept, through a reopen; the deleted samples stay gone. */
static void test_append_after_delete(void **state)
{
    fixture *f = *state;
    assert_int_equal(del(f->db, "1", BASE + 100 * SEC, BASE + 299 * SEC), 200);
    put(f->db, "1", BASE + 150 * SEC, -1); /* out of order: below the series' newest time */
    put(f->db, "1", BASE + 400 * SEC, -2); /* in order: a new head chunk */
    for (int r = 0; r < 2; r++) {
        size_t n;
        qsample *v = read_series(f->db, "1", &n);
        assert_int_equal(n, 102);
        assert_int_equal(v[99].t, BASE + 99 * SEC);
        assert_int_equal(v[100].t, BASE + 150 * SEC);
        assert_true(v[100].v == -1);
        assert_int_equal(v[101].t, BASE + 400 * SEC);
        assert_true(v[101].v == -2);
        free(v);
        reopen(f);
    }
    /* a later truncation of the head log keeps all of it */
    char err[256];
    assert_int_equal(
        tsdb_truncate_log(f->db, now_ms() + 2 * TSDB_DEFAULT_HEAD_MAX_AGE_MS, err, sizeof err), 0);
    reopen(f);
    size_t n;
    free(read_series(f->db, "1", &n));
    assert_int_equal(n, 102);
}

/* An out-of-order overwrite stays the last write of its timestamp after a
 * delete rewrote the chunks around it. */
static void test_last_write_wins_after_delete(void **state)
{
    fixture *f = *state;
    put(f->db, "1", BASE + 50 * SEC, 500);
    del(f->db, "1", BASE + 40 * SEC, BASE + 45 * SEC);
    reopen(f);
    size_t n;
    qsample *v = read_series(f->db, "1", &n);
    assert_int_equal(n, N - 6);
    assert_int_equal(v[44].t, BASE + 50 * SEC);
    assert_true(v[44].v == 500);
    free(v);
}

typedef struct writer {
    tsdb *db;
    int from, to;
} writer;

static void *write_range(void *arg)
{
    writer *w = arg;
    for (int i = w->from; i < w->to; i++)
        put(w->db, "3", BASE + i * SEC, i);
    return NULL;
}

/* Commits to another series while deletes run lose nothing. */
static void test_concurrent_ingest(void **state)
{
    fixture *f = *state;
    writer w = {f->db, 0, N};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, write_range, &w), 0);
    for (int i = 0; i < 30; i++)
        del(f->db, "1", BASE + i * 10 * SEC, BASE + (i * 10 + 4) * SEC);
    pthread_join(th, NULL);
    reopen(f);
    assert_filled_except(f->db, "3", 1, 0);
    size_t n;
    free(read_series(f->db, "1", &n));
    assert_int_equal(n, N / 2);
}

static void snapshot_dir(fixture *f, char *out, size_t len)
{
    snprintf(out, len, "%s.snap", f->dir);
    fs_rmtree(out);
}

/* The snapshot holds the head: opened as a store, the same samples. */
static void test_snapshot_with_head(void **state)
{
    fixture *f = *state;
    char dir[300], err[512];
    snapshot_dir(f, dir, sizeof dir);
    assert_int_equal(tsdb_snapshot(f->db, dir, false, err, sizeof err), 0);
    put(f->db, "1", BASE + 500 * SEC, 5); /* after: not in the snapshot */
    tsdb *snap = open_at(dir);
    assert_filled_except(snap, "1", 1, 0);
    assert_filled_except(snap, "2", 1, 0);
    put(snap, "2", BASE + 600 * SEC, 6); /* the copy is a store of its own */
    tsdb_close(snap);
    snap = open_at(dir);
    size_t n;
    free(read_series(snap, "2", &n));
    assert_int_equal(n, N + 1);
    tsdb_close(snap);
    assert_filled_except(f->db, "2", 1, 0);
    /* an existing directory is refused */
    assert_int_not_equal(tsdb_snapshot(f->db, dir, false, err, sizeof err), 0);
    fs_rmtree(dir);
}

static void test_snapshot_skip_head(void **state)
{
    fixture *f = *state;
    char dir[300], err[512];
    snapshot_dir(f, dir, sizeof dir);
    assert_int_equal(tsdb_snapshot(f->db, dir, true, err, sizeof err), 0);
    tsdb *snap = open_at(dir);
    assert_filled_except(snap, "1", 240, 299); /* the head's 60 samples left out */
    tsdb_close(snap);
    fs_rmtree(dir);
    assert_filled_except(f->db, "1", 1, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_delete_in_head_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_in_chunks_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_spanning_chunks_and_head, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_whole_head, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_all_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_append_after_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_last_write_wins_after_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_ingest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_with_head, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_skip_head, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
