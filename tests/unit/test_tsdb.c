/*
 * test_tsdb.c — the store on a real RocksDB in a temporary directory:
 * commits, exactly-once per agent, selection through the postings,
 * out-of-order merge and compaction, head log replay and truncation,
 * retention by partition, refusals and the per-agent series limit, label
 * listings and cardinality, durability across reopen.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "aggregator/tsdb/tsdb.h"
#include "common/etime.h"
#include "common/fsutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define HOUR (3600 * 1000LL)

typedef struct fixture {
    char dir[256];
    tsdb_options o;
    tsdb *db;
} fixture;

static void reopen(fixture *f)
{
    char err[256];
    if (f->db)
        tsdb_close(f->db);
    f->db = NULL;
    if (tsdb_open(f->dir, &f->o, &f->db, err, sizeof err) != 0)
        fail_msg("%s", err);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (fs_mkdtemp(f->dir, sizeof f->dir, "ember-tsdb") != 0)
        return -1;
    f->o.maint_interval_ms = -1; /* the tests drive maintenance */
    reopen(f);
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

static void series(labelset *ls, const char *name, const char *k, const char *v)
{
    labels_init(ls);
    labels_add(ls, "__name__", name);
    if (k)
        labels_add(ls, k, v);
    labels_sort(ls);
}

static void commit(tsdb *db, const char *agent, uint64_t seq, const labelset *ls, int64_t t,
                   double v, bool expect_dup)
{
    tsdb_appender *a = tsdb_appender_new(db);
    assert_null(tsdb_append(a, ls, t, v));
    tsdb_commit_result res;
    char err[256];
    assert_int_equal(tsdb_commit(a, agent, seq, &res, err, sizeof err), 0);
    assert_int_equal(res.duplicate, expect_dup);
}

static void select_all(tsdb *db, const char *name, int64_t mint, int64_t maxt, qseries_set *out)
{
    label_matcher m;
    char err[256];
    assert_int_equal(matcher_init(&m, MATCH_EQ, "__name__", name, err, sizeof err), 0);
    query_storage st = tsdb_query_storage(db);
    qseries_set_init(out);
    assert_int_equal(query_storage_read(&st, &m, 1, mint, maxt, out, err, sizeof err), 0);
    matcher_free(&m);
}

static void test_commit_and_select_range(void **state)
{
    fixture *f = *state;
    labelset ls;
    series(&ls, "m", "gpu", "0");
    for (int i = 0; i < 10; i++)
        commit(f->db, NULL, 0, &ls, 1000 * i, i * 1.5, false);
    qseries_set out;
    select_all(f->db, "m", 2000, 5000, &out); /* both ends inclusive */
    assert_int_equal(out.n, 1);
    assert_int_equal(out.v[0].n, 4);
    assert_int_equal(out.v[0].samples[0].t, 2000);
    assert_true(out.v[0].samples[3].v == 7.5);
    qseries_set_free(&out);
    select_all(f->db, "m", 20000, 30000, &out); /* nothing in range: no series */
    assert_int_equal(out.n, 0);
    qseries_set_free(&out);
    labels_free(&ls);
}

static void test_exactly_once_per_agent(void **state)
{
    fixture *f = *state;
    labelset ls;
    series(&ls, "m", NULL, NULL);
    commit(f->db, "a1", 1, &ls, 1000, 1, false);
    commit(f->db, "a1", 1, &ls, 1000, 2, true); /* re-sent: not applied */
    commit(f->db, "a1", 2, &ls, 2000, 3, false);
    commit(f->db, "a1", 1, &ls, 3000, 4, true);  /* older seq: not applied */
    commit(f->db, "a2", 1, &ls, 4000, 5, false); /* other agent, own sequence */
    assert_int_equal(tsdb_agent_seq(f->db, "a1"), 2);
    assert_int_equal(tsdb_agent_seq(f->db, "a2"), 1);
    assert_int_equal(tsdb_agent_seq(f->db, "nobody"), 0);
    qseries_set out;
    select_all(f->db, "m", 0, 10000, &out);
    assert_int_equal(out.v[0].n, 3);
    assert_true(out.v[0].samples[0].v == 1);
    assert_true(out.v[0].samples[1].v == 3);
    assert_true(out.v[0].samples[2].v == 5);
    qseries_set_free(&out);
    labels_free(&ls);
}

static void test_last_write_wins_and_negative_time_order(void **state)
{
    fixture *f = *state;
    labelset ls;
    series(&ls, "m", NULL, NULL);
    commit(f->db, NULL, 0, &ls, 5, 1, false);
    commit(f->db, NULL, 0, &ls, -5, 2, false);
    commit(f->db, NULL, 0, &ls, 5, 3, false);
    qseries_set out;
    select_all(f->db, "m", -100, 100, &out);
    assert_int_equal(out.v[0].n, 2);
    assert_int_equal(out.v[0].samples[0].t, -5);
    assert_int_equal(out.v[0].samples[1].t, 5);
    assert_true(out.v[0].samples[1].v == 3);
    qseries_set_free(&out);
    labels_free(&ls);
}

static void test_stale_nan_kept_bit_exact(void **state)
{
    fixture *f = *state;
    labelset ls;
    series(&ls, "m", NULL, NULL);
    commit(f->db, NULL, 0, &ls, 1, stale_nan(), false);
    commit(f->db, NULL, 0, &ls, 2, NAN, false);
    qseries_set out;
    select_all(f->db, "m", 0, 10, &out);
    assert_true(is_stale_nan(out.v[0].samples[0].v));
    assert_true(isnan(out.v[0].samples[1].v) && !is_stale_nan(out.v[0].samples[1].v));
    qseries_set_free(&out);
    labels_free(&ls);
}

static void test_matchers_select_series(void **state)
{
    fixture *f = *state;
    const char *gpus[] = {"gpu0", "gpu1", "gpu2"};
    for (int i = 0; i < 3; i++) {
        labelset ls;
        series(&ls, "util", "gpu_id", gpus[i]);
        commit(f->db, NULL, 0, &ls, 1000, i, false);
        labels_free(&ls);
    }
    label_matcher m[2];
    char err[256];
    assert_int_equal(matcher_init(&m[0], MATCH_EQ, "__name__", "util", err, sizeof err), 0);
    assert_int_equal(matcher_init(&m[1], MATCH_RE, "gpu_id", "gpu[12]", err, sizeof err), 0);
    query_storage st = tsdb_query_storage(f->db);
    qseries_set out;
    qseries_set_init(&out);
    assert_int_equal(query_storage_read(&st, m, 2, 0, 2000, &out, err, sizeof err), 0);
    assert_int_equal(out.n, 2);
    assert_string_equal(labels_get(&out.v[0].labels, "gpu_id"), "gpu1");
    assert_string_equal(labels_get(&out.v[1].labels, "gpu_id"), "gpu2");
    qseries_set_free(&out);
    matcher_free(&m[0]);
    matcher_free(&m[1]);
}

static void test_reopen_keeps_series_samples_and_seq(void **state)
{
    fixture *f = *state;
    labelset a, b;
    series(&a, "m", "k", "a");
    series(&b, "m", "k", "b");
    commit(f->db, "agent", 5, &a, 1000, 1, false);
    tsdb_stats st;
    tsdb_get_stats(f->db, &st);
    assert_int_equal(st.series, 1);
    reopen(f);
    tsdb_get_stats(f->db, &st);
    assert_int_equal(st.series, 1); /* index rebuilt from disk */
    assert_int_equal(tsdb_agent_seq(f->db, "agent"), 5);
    commit(f->db, "agent", 5, &a, 2000, 2, true);
    commit(f->db, "agent", 6, &b, 2000, 2, false);
    commit(f->db, NULL, 0, &a, 3000, 3, false); /* same series id as before */
    tsdb_get_stats(f->db, &st);
    assert_int_equal(st.series, 2);
    qseries_set out;
    select_all(f->db, "m", 0, 5000, &out);
    assert_int_equal(out.n, 2);
    assert_int_equal(out.v[0].n, 2); /* k="a": 1000 and 3000 */
    assert_int_equal(out.v[1].n, 1);
    qseries_set_free(&out);
    labels_free(&a);
    labels_free(&b);
}

static void test_open_failure_is_reported(void **state)
{
    tsdb *db = NULL;
    char err[256];
    assert_int_equal(tsdb_open("/proc/ember-no/such/dir", NULL, &db, err, sizeof err), -1);
    assert_non_null(strstr(err, "/proc/ember-no/such/dir"));
}

/* A label set from "name", "k1", "v1", ..., NULL. */
static void mk(labelset *ls, const char *name, ...)
{
    labels_init(ls);
    if (name)
        labels_add(ls, "__name__", name);
    va_list ap;
    va_start(ap, name);
    for (const char *k; (k = va_arg(ap, const char *)) != NULL;)
        labels_add(ls, k, va_arg(ap, const char *));
    va_end(ap);
    labels_sort(ls);
}

static void put(tsdb *db, const labelset *ls, int64_t t, double v)
{
    tsdb_appender *a = tsdb_appender_new(db);
    assert_null(tsdb_append(a, ls, t, v));
    tsdb_commit_result r;
    char err[256];
    assert_int_equal(tsdb_commit(a, NULL, 0, &r, err, sizeof err), 0);
    assert_int_equal(r.applied, 1);
}

/* Series matching one selector (parsed as matchers name op value pairs). */
static size_t select_n(tsdb *db, const label_matcher *m, size_t n, int64_t mint, int64_t maxt,
                       qseries_set *out)
{
    char err[256];
    query_storage st = tsdb_query_storage(db);
    qseries_set_init(out);
    assert_int_equal(query_storage_read(&st, m, n, mint, maxt, out, err, sizeof err), 0);
    return out->n;
}

static size_t count_matching(tsdb *db, match_type t1, const char *n1, const char *v1, match_type t2,
                             const char *n2, const char *v2)
{
    label_matcher m[2];
    char err[256];
    assert_int_equal(matcher_init(&m[0], t1, n1, v1, err, sizeof err), 0);
    if (n2)
        assert_int_equal(matcher_init(&m[1], t2, n2, v2, err, sizeof err), 0);
    qseries_set out;
    size_t n = select_n(db, m, n2 ? 2 : 1, INT64_MIN, INT64_MAX, &out);
    qseries_set_free(&out);
    matcher_free(&m[0]);
    if (n2)
        matcher_free(&m[1]);
    return n;
}

static void test_postings_selection(void **state)
{
    fixture *f = *state;
    for (int i = 0; i < 20; i++) {
        char gpu[16], node[16];
        snprintf(gpu, sizeof gpu, "gpu%d", i % 8);
        snprintf(node, sizeof node, "n%d", i / 8);
        labelset ls;
        if (i == 19)
            mk(&ls, "util", "node", node, NULL); /* no gpu label */
        else
            mk(&ls, "util", "gpu", gpu, "node", node, NULL);
        put(f->db, &ls, 1000, i);
        labels_free(&ls);
    }
    labelset other;
    mk(&other, "temp", "gpu", "gpu0", NULL);
    put(f->db, &other, 1000, 1);
    labels_free(&other);
    assert_int_equal(count_matching(f->db, MATCH_EQ, "__name__", "util", 0, NULL, NULL), 20);
    assert_int_equal(count_matching(f->db, MATCH_EQ, "__name__", "util", MATCH_EQ, "gpu", "gpu1"),
                     3);
    assert_int_equal(count_matching(f->db, MATCH_EQ, "__name__", "util", MATCH_NEQ, "gpu", "gpu1"),
                     17); /* includes the series without gpu */
    assert_int_equal(
        count_matching(f->db, MATCH_EQ, "__name__", "util", MATCH_RE, "gpu", "gpu[12]"), 6);
    assert_int_equal(count_matching(f->db, MATCH_EQ, "__name__", "util", MATCH_NRE, "gpu", "gpu.*"),
                     1);
    assert_int_equal(count_matching(f->db, MATCH_EQ, "__name__", "util", MATCH_EQ, "gpu", ""), 1);
    assert_int_equal(count_matching(f->db, MATCH_EQ, "__name__", "util", MATCH_RE, "gpu", ".*"),
                     20);
    assert_int_equal(count_matching(f->db, MATCH_RE, "gpu", "gpu0", 0, NULL, NULL), 4);
    assert_int_equal(count_matching(f->db, MATCH_RE, "__name__", "u.*|t.*", MATCH_EQ, "node", "n2"),
                     4);
    assert_int_equal(count_matching(f->db, MATCH_EQ, "__name__", "none", 0, NULL, NULL), 0);
    assert_int_equal(count_matching(f->db, MATCH_EQ, "nolabel", "x", 0, NULL, NULL), 0);
}

static void read_all(tsdb *db, const char *name, qseries_set *out)
{
    label_matcher m;
    char err[256];
    assert_int_equal(matcher_init(&m, MATCH_EQ, "__name__", name, err, sizeof err), 0);
    select_n(db, &m, 1, INT64_MIN, INT64_MAX, out);
    matcher_free(&m);
}

/* Samples 0..n-1 at t = 1000 i with value i, except as overwritten. */
static void check_ooo_result(tsdb *db)
{
    qseries_set out;
    read_all(db, "m", &out);
    assert_int_equal(out.n, 1);
    const qseries *q = &out.v[0];
    assert_int_equal(q->n, 301);
    for (size_t i = 0; i + 1 < q->n; i++)
        assert_true(q->samples[i].t < q->samples[i + 1].t);
    for (size_t i = 0; i < q->n; i++) {
        const qsample *s = &q->samples[i];
        if (s->t == 1500)
            assert_true(s->v == -1.5); /* new out-of-order timestamp */
        else if (s->t == 5000)
            assert_true(s->v == -5); /* overwritten twice: the last write */
        else if (s->t == 299000)
            assert_true(s->v == -299); /* overwrite of a head sample */
        else
            assert_true(s->v == s->t / 1000);
    }
    qseries_set_free(&out);
}

static void test_out_of_order_merge_and_compaction(void **state)
{
    fixture *f = *state;
    labelset ls;
    mk(&ls, "m", NULL);
    tsdb_appender *a = tsdb_appender_new(f->db);
    for (int i = 0; i < 300; i++)
        tsdb_append(a, &ls, 1000 * i, i);
    tsdb_commit_result r;
    char err[256];
    assert_int_equal(tsdb_commit(a, NULL, 0, &r, err, sizeof err), 0);
    put(f->db, &ls, 5000, 55);
    a = tsdb_appender_new(f->db);
    tsdb_append(a, &ls, 1500, -1.5);
    tsdb_append(a, &ls, 5000, 66);
    tsdb_append(a, &ls, 5000, -5); /* later in the same batch: wins */
    tsdb_append(a, &ls, 299000, -299);
    assert_int_equal(tsdb_commit(a, NULL, 0, &r, err, sizeof err), 0);
    tsdb_stats st;
    tsdb_get_stats(f->db, &st);
    assert_int_equal(st.ooo_samples, 5);
    check_ooo_result(f->db);
    assert_int_equal(tsdb_compact(f->db, err, sizeof err), 0);
    tsdb_get_stats(f->db, &st);
    assert_true(st.chunks_compacted > 0);
    check_ooo_result(f->db);
    reopen(f); /* head replayed from the log, chunks from disk */
    check_ooo_result(f->db);
    labels_free(&ls);
}

static size_t total_samples(tsdb *db, const char *name)
{
    qseries_set out;
    read_all(db, name, &out);
    size_t n = 0;
    for (size_t i = 0; i < out.n; i++)
        n += out.v[i].n;
    qseries_set_free(&out);
    return n;
}

static void test_head_replay_and_log_truncation(void **state)
{
    fixture *f = *state;
    labelset a, b;
    mk(&a, "m", "k", "a", NULL);
    mk(&b, "m", "k", "b", NULL);
    for (int i = 0; i < 250; i++) { /* two chunks cut, a third in the head */
        put(f->db, &a, 15000 * i, i);
        if (i % 2)
            put(f->db, &b, 15000 * i, i);
    }
    tsdb_stats st;
    tsdb_get_stats(f->db, &st);
    assert_int_equal(st.chunks_cut, 3);
    assert_int_equal(st.head_series, 2);
    reopen(f);
    assert_int_equal(total_samples(f->db, "m"), 375);
    char err[256]; /* two hours on, every head chunk is old */
    assert_int_equal(tsdb_truncate_log(f->db, now_ms() + 2 * HOUR, err, sizeof err), 0);
    tsdb_get_stats(f->db, &st);
    assert_int_equal(st.head_series, 0);
    assert_int_equal(total_samples(f->db, "m"), 375);
    reopen(f);
    assert_int_equal(total_samples(f->db, "m"), 375);
    put(f->db, &a, 15000 * 300, 1); /* appends continue after the cut */
    reopen(f);
    assert_int_equal(total_samples(f->db, "m"), 376);
    labels_free(&a);
    labels_free(&b);
}

/* A cut while appending is marked in the commit's log record, not in an
 * 'H' key: after truncation has dropped the records of the cut chunk's
 * start, replay must still skip its remaining samples (else the head would
 * restart mid-chunk and cut elsewhere than live ingest did). */
static void test_replay_after_truncation_honours_cut_markers(void **state)
{
    fixture *f = *state;
    labelset a, b;
    mk(&a, "m", "k", "a", NULL);
    mk(&b, "m", "k", "b", NULL);
    for (int i = 0; i < 60; i++) /* a's first chunk starts here */
        put(f->db, &a, 15000 * i, i);
    put(f->db, &b, 15000 * 1000, 1); /* b's head: the oldest open one after the cut */
    for (int i = 60; i < 131; i++)   /* cut at 120 in the commit of sample 120 */
        put(f->db, &a, 15000 * i, i);
    char err[256];
    assert_int_equal(tsdb_truncate_log(f->db, now_ms(), err, sizeof err), 0);
    tsdb_stats live, st;
    tsdb_get_stats(f->db, &live);
    assert_int_equal(live.chunks_cut, 1);
    assert_int_equal(live.head_min_t, 15000 * 120);
    for (int pass = 0; pass < 2; pass++) {
        reopen(f); /* the records of samples 0..59 are gone, 60..119 remain */
        tsdb_get_stats(f->db, &st);
        assert_int_equal(st.head_series, 2);
        assert_int_equal(st.head_min_t, 15000 * 120);
        assert_int_equal(st.chunks_cut, 0); /* replay cut nothing */
        assert_int_equal(total_samples(f->db, "m"), 132);
    }
    put(f->db, &a, 15000 * 131, 131);
    reopen(f);
    assert_int_equal(total_samples(f->db, "m"), 133);
    labels_free(&a);
    labels_free(&b);
}

/* Values the head log stores compactly (integers) or as raw bits. */
static uint64_t log_value_bits(int i)
{
    static const uint64_t bits[] = {
        0x3ff0000000000000ULL, /* 1 */
        0x8000000000000000ULL, /* -0.0: not the integer 0 */
        0x7ff0000000000002ULL, /* the staleness NaN */
        0x7ff8000000000001ULL, /* an ordinary NaN */
        0x7ff0000000000000ULL, /* +Inf */
        0xfff0000000000000ULL, /* -Inf */
        0x4340000000000000ULL, /* 2^53: too big for the integer form */
        0xc33fffffffffffffULL, /* -(2^53 - 1) */
        0x3fe0000000000000ULL, /* 0.5 */
        0xc01c000000000000ULL, /* -7 */
    };
    return bits[i % 10];
}

static double from_bits(uint64_t b)
{
    double v;
    memcpy(&v, &b, 8);
    return v;
}

static void test_refs_and_log_values_replay(void **state)
{
    fixture *f = *state;
    labelset a, b;
    mk(&a, "m", "k", "a", NULL);
    mk(&b, "m", "k", "b", NULL);
    tsdb_ref ra = {0}, rb = {0};
    char err[256];
    tsdb_commit_result r;
    for (int i = 0; i < 30; i++) {
        tsdb_appender *ap = tsdb_appender_new(f->db);
        /* b before a: the record's id deltas go down and up */
        assert_null(
            tsdb_append_ref(ap, &rb, i > 1 ? NULL : &b, 1000 * i, from_bits(log_value_bits(i))));
        assert_null(
            tsdb_append_ref(ap, &ra, &a, -5000 + 1000 * i, from_bits(log_value_bits(i + 3))));
        assert_int_equal(tsdb_commit(ap, NULL, 0, &r, err, sizeof err), 0);
        assert_int_equal(r.applied, 2);
        /* the creating commit leaves the reference empty, the next fills it */
        assert_true(i == 0 ? ra.id == 0 && rb.id == 0 : ra.id != 0 && rb.id != 0);
    }
    assert_int_not_equal(ra.id, rb.id);
    reopen(f); /* every sample is in the head: replayed from the log */
    qseries_set out;
    read_all(f->db, "m", &out);
    assert_int_equal(out.n, 2);
    for (size_t s = 0; s < 2; s++) {
        bool is_a = strcmp(labels_get(&out.v[s].labels, "k"), "a") == 0;
        assert_int_equal(out.v[s].n, 30);
        for (int i = 0; i < 30; i++) {
            uint64_t got;
            memcpy(&got, &out.v[s].samples[i].v, 8);
            assert_int_equal(out.v[s].samples[i].t, (is_a ? -5000 : 0) + 1000 * i);
            assert_int_equal(got, log_value_bits(is_a ? i + 3 : i));
        }
    }
    qseries_set_free(&out);
    labels_free(&a);
    labels_free(&b);
}

static void test_retention_drops_whole_partitions(void **state)
{
    fixture *f = *state;
    f->o.retention_ms = 24 * HOUR;
    f->o.partition_ms = HOUR;
    reopen(f);
    int64_t now = now_ms();
    labelset ls;
    mk(&ls, "m", NULL);
    for (int i = 0; i < 20; i++)
        put(f->db, &ls, now - 20 * HOUR + i * HOUR, i);
    char err[256];
    assert_int_equal(tsdb_truncate_log(f->db, now + 2 * HOUR, err, sizeof err), 0);
    assert_int_equal(total_samples(f->db, "m"), 20);
    /* Ten hours later than the cutoff: the ten oldest partitions go. */
    assert_int_equal(tsdb_apply_retention(f->db, now + 14 * HOUR, err, sizeof err), 0);
    tsdb_stats st;
    tsdb_get_stats(f->db, &st);
    assert_true(st.partitions_dropped >= 9);
    reopen(f);
    label_matcher m;
    assert_int_equal(matcher_init(&m, MATCH_EQ, "__name__", "m", err, sizeof err), 0);
    qseries_set out;
    select_n(f->db, &m, 1, INT64_MIN, INT64_MAX, &out);
    assert_int_equal(out.n, 1);
    assert_true(out.v[0].n <= 11 && out.v[0].n >= 10);
    assert_true(out.v[0].samples[0].t >= now - 11 * HOUR);
    qseries_set_free(&out);
    matcher_free(&m);
    labels_free(&ls);
}

static void assert_names(tsdb *db, size_t want_n, const char *first)
{
    char **v;
    size_t n;
    tsdb_label_values(db, "__name__", &v, &n);
    assert_int_equal(n, want_n);
    if (n)
        assert_string_equal(v[0], first);
    tsdb_strings_free(v, n);
}

static void test_retention_drops_series_without_data(void **state)
{
    fixture *f = *state;
    f->o.retention_ms = 24 * HOUR;
    f->o.partition_ms = HOUR;
    reopen(f);
    int64_t now = now_ms();
    labelset live, old;
    mk(&live, "m", NULL);
    mk(&old, "old", "k", "v", NULL);
    tsdb_ref ref = {0};
    for (int i = 0; i < 20; i++) {
        put(f->db, &live, now - 20 * HOUR + i * HOUR, i);
        if (i < 5) {
            tsdb_appender *a = tsdb_appender_new(f->db);
            assert_null(tsdb_append_ref(a, &ref, &old, now - 20 * HOUR + i * HOUR, i));
            tsdb_commit_result r;
            char err[256];
            assert_int_equal(tsdb_commit(a, NULL, 0, &r, err, sizeof err), 0);
        }
    }
    assert_int_not_equal(ref.id, 0);
    char err[256];
    assert_int_equal(tsdb_truncate_log(f->db, now + 2 * HOUR, err, sizeof err), 0);
    assert_names(f->db, 2, "m");
    /* cutoff at now - 10 h: old's newest sample (now - 16 h) is gone, m keeps 10 */
    assert_int_equal(tsdb_apply_retention(f->db, now + 14 * HOUR, err, sizeof err), 0);
    tsdb_stats st;
    tsdb_get_stats(f->db, &st);
    assert_int_equal(st.series_dropped, 1);
    assert_int_equal(st.series, 1);
    assert_names(f->db, 1, "m");
    assert_int_equal(count_matching(f->db, MATCH_EQ, "k", "v", MATCH_RE, "__name__", ".*"), 0);
    tsdb_appender *a = tsdb_appender_new(f->db);
    assert_ptr_equal(tsdb_append_ref(a, &ref, NULL, now, 1), TSDB_STALE_REF);
    tsdb_appender_discard(a);
    reopen(f); /* its S, L and P keys went too */
    assert_names(f->db, 1, "m");
    assert_int_equal(total_samples(f->db, "old"), 0);
    /* a reference to a dropped series is stale; by labels it comes back */
    a = tsdb_appender_new(f->db);
    assert_ptr_equal(tsdb_append_ref(a, &ref, NULL, now, 1), TSDB_STALE_REF);
    assert_null(tsdb_append_ref(a, &ref, &old, now, 1));
    tsdb_commit_result r;
    assert_int_equal(tsdb_commit(a, NULL, 0, &r, err, sizeof err), 0);
    assert_int_equal(r.applied, 1);
    assert_int_equal(total_samples(f->db, "old"), 1);
    labels_free(&live);
    labels_free(&old);
}

/* Wait up to 5 s for the maintenance thread to move a counter past from. */
static uint64_t wait_stat(tsdb *db, size_t offset, uint64_t from)
{
    tsdb_stats st;
    for (int i = 0; i < 500; i++) {
        tsdb_get_stats(db, &st);
        uint64_t v;
        memcpy(&v, (const char *)&st + offset, sizeof v);
        if (v > from)
            return v;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    fail_msg("the maintenance thread did not advance the counter");
    return 0;
}

static void test_background_compaction_merges_age_cut_chunks(void **state)
{
    fixture *f = *state;
    f->o.partition_ms = HOUR;
    f->o.head_max_age_ms = 1; /* every pass cuts every head */
    f->o.maint_interval_ms = 20;
    f->o.sync_interval_ms = 20; /* unsynced: the thread wakes at this pace */
    reopen(f);
    labelset ls;
    mk(&ls, "slow", NULL);
    int64_t t0 = (now_ms() / HOUR - 3) * HOUR; /* a closed partition */
    uint64_t cut = 0;
    for (int i = 0; i < 6; i++) { /* one small chunk per pass */
        put(f->db, &ls, t0 + 60000 * i, i);
        cut = wait_stat(f->db, offsetof(tsdb_stats, chunks_cut), cut);
    }
    uint64_t merged = wait_stat(f->db, offsetof(tsdb_stats, chunks_compacted), 0);
    assert_true(merged >= 2);
    assert_int_equal(total_samples(f->db, "slow"), 6);
    /* nothing left for an explicit compaction: the passes merged it all */
    char err[256];
    struct timespec ts = {0, 100 * 1000 * 1000};
    nanosleep(&ts, NULL);
    tsdb_stats st;
    tsdb_get_stats(f->db, &st);
    assert_int_equal(tsdb_compact(f->db, err, sizeof err), 0);
    tsdb_stats st2;
    tsdb_get_stats(f->db, &st2);
    assert_int_equal(st2.chunks_compacted, st.chunks_compacted);
    assert_int_equal(total_samples(f->db, "slow"), 6);
    labels_free(&ls);
}

static void test_bad_input_is_refused_and_counted(void **state)
{
    fixture *f = *state;
    f->o.retention_ms = 24 * HOUR;
    reopen(f);
    int64_t now = now_ms();
    labelset good, noname, badname, empty;
    mk(&good, "m", "a", "1", NULL);
    mk(&noname, NULL, "a", "1", NULL);
    mk(&badname, "m", "0bad", "1", NULL);
    mk(&empty, "m", "a", "1", "b", "", NULL); /* the same series as good */
    tsdb_appender *a = tsdb_appender_new(f->db);
    assert_null(tsdb_append(a, &good, now, NAN));
    assert_non_null(strstr(tsdb_append(a, &noname, now, 1), "__name__"));
    assert_non_null(strstr(tsdb_append(a, &badname, now, 1), "invalid"));
    assert_non_null(strstr(tsdb_append(a, &good, now - 48 * HOUR, 1), "retention"));
    assert_non_null(strstr(tsdb_append(a, &good, now + 48 * HOUR, 1), "future"));
    assert_null(tsdb_append(a, &empty, now + 1, INFINITY));
    tsdb_commit_result r;
    char err[256];
    assert_int_equal(tsdb_commit(a, NULL, 0, &r, err, sizeof err), 0);
    assert_int_equal(r.applied, 2);
    assert_int_equal(r.rejected, 4);
    assert_non_null(strstr(r.reason, "__name__"));
    tsdb_stats st;
    tsdb_get_stats(f->db, &st);
    assert_int_equal(st.series, 1);
    for (int i = 0; i < TSDB_REJ_SERIES_LIMIT; i++)
        assert_int_equal(st.rejected[i], 1); /* one of each reason */
    qseries_set out;
    read_all(f->db, "m", &out);
    assert_true(isnan(out.v[0].samples[0].v) && isinf(out.v[0].samples[1].v));
    qseries_set_free(&out);
    labels_free(&good);
    labels_free(&noname);
    labels_free(&badname);
    labels_free(&empty);
}

static void test_series_limit_per_agent(void **state)
{
    fixture *f = *state;
    f->o.max_series_per_agent = 2;
    reopen(f);
    tsdb_appender *a = tsdb_appender_new(f->db);
    for (int i = 0; i < 3; i++) {
        char v[8];
        snprintf(v, sizeof v, "%d", i);
        labelset ls;
        mk(&ls, "m", "i", v, NULL);
        tsdb_append(a, &ls, 1000, i);
        labels_free(&ls);
    }
    tsdb_commit_result r;
    char err[256];
    assert_int_equal(tsdb_commit(a, "agent-1", 1, &r, err, sizeof err), 0);
    assert_int_equal(r.applied, 2);
    assert_int_equal(r.rejected, 1);
    assert_non_null(strstr(r.reason, "series limit"));
    tsdb_stats st;
    tsdb_get_stats(f->db, &st);
    assert_int_equal(st.rejected[TSDB_REJ_SERIES_LIMIT], 1);
    /* Another agent has its own budget; an import has none. */
    labelset ls;
    mk(&ls, "m", "i", "9", NULL);
    a = tsdb_appender_new(f->db);
    tsdb_append(a, &ls, 1000, 1);
    assert_int_equal(tsdb_commit(a, "agent-2", 1, &r, err, sizeof err), 0);
    assert_int_equal(r.applied, 1);
    labels_free(&ls);
}

static void test_label_listings_and_cardinality(void **state)
{
    fixture *f = *state;
    labelset a, b, c;
    mk(&a, "up", "job", "x", NULL);
    mk(&b, "up", "job", "y", NULL);
    mk(&c, "temp", "gpu", "0", NULL);
    put(f->db, &a, 1, 1);
    put(f->db, &b, 1, 1);
    put(f->db, &c, 1, 1);
    char **v;
    size_t n;
    tsdb_label_names(f->db, &v, &n);
    assert_int_equal(n, 3);
    assert_string_equal(v[0], "__name__");
    assert_string_equal(v[1], "gpu");
    tsdb_strings_free(v, n);
    tsdb_label_values(f->db, "job", &v, &n);
    assert_int_equal(n, 2);
    assert_string_equal(v[1], "y");
    tsdb_strings_free(v, n);
    tsdb_cardinality card;
    tsdb_get_cardinality(f->db, 1, &card);
    assert_int_equal(card.head_series, 3);
    assert_int_equal(card.n_metric, 1);
    assert_string_equal(card.by_metric[0].name, "up");
    assert_int_equal(card.by_metric[0].value, 2);
    assert_string_equal(card.by_label_values[0].name, "__name__");
    tsdb_cardinality_free(&card);
    labels_free(&a);
    labels_free(&b);
    labels_free(&c);
}

/* One commit of 1000 new series "big" (long label values: ~700 KB of keys). */
static int commit_big(tsdb *db, int round, char *err, size_t errlen)
{
    char pad[201], k[32];
    memset(pad, 'x', 200);
    pad[200] = 0;
    tsdb_appender *a = tsdb_appender_new(db);
    for (int i = 0; i < 1000; i++) {
        labelset ls;
        snprintf(k, sizeof k, "%d-%d", round, i);
        mk(&ls, "big", "k", k, "pad", pad, NULL);
        tsdb_append(a, &ls, 1000 * round, i);
        labels_free(&ls);
    }
    tsdb_commit_result r;
    return tsdb_commit(a, NULL, 0, &r, err, errlen);
}

#define CHILD_FAIL(...) return fprintf(stderr, __VA_ARGS__), 1

/* Run in a fresh process (exec'd: no RocksDB threads lost to a fork): with
 * RLIMIT_FSIZE lowered, the WAL write of a commit fails (EFBIG); with the
 * limit back, the next commit reopens the store and is accepted, and the
 * failed commit's samples (never acknowledged) are not there. */
static int failing_write_child(const char *dir)
{
    signal(SIGXFSZ, SIG_IGN); /* the write fails with EFBIG instead */
    tsdb_options o = {.sync = true, .maint_interval_ms = -1};
    tsdb *db;
    char err[512];
    if (tsdb_open(dir, &o, &db, err, sizeof err) != 0)
        CHILD_FAIL("open: %s\n", err);
    struct rlimit rl, low;
    getrlimit(RLIMIT_FSIZE, &rl);
    low = (struct rlimit){1 << 20, rl.rlim_max};
    setrlimit(RLIMIT_FSIZE, &low);
    int failed = -1;
    for (int i = 0; i < 10 && failed < 0; i++)
        if (commit_big(db, i, err, sizeof err) != 0)
            failed = i;
    if (failed < 1)
        CHILD_FAIL("expected a later commit to fail, got %d\n", failed);
    setrlimit(RLIMIT_FSIZE, &rl);
    /* the next commit reopens the store first */
    if (commit_big(db, 100, err, sizeof err) != 0)
        CHILD_FAIL("no recovery: %s\n", err);
    for (int pass = 0; pass < 2; pass++) { /* recovered store, then reopened */
        size_t want = 1000 * ((size_t)failed + 1), got = total_samples(db, "big");
        if (got != want)
            CHILD_FAIL("pass %d: %zu samples, want %zu\n", pass, got, want);
        tsdb_close(db);
        if (tsdb_open(dir, &o, &db, err, sizeof err) != 0)
            CHILD_FAIL("reopen: %s\n", err);
    }
    tsdb_close(db);
    return 0;
}

static void test_failed_write_recovers_without_restart(void **state)
{
    (void)state;
    char dir[256];
    assert_int_equal(fs_mkdtemp(dir, sizeof dir, "ember-tsdb-fail"), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        execl("/proc/self/exe", "test_tsdb", "--failing-write-child", dir, (char *)NULL);
        _exit(127);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    fs_rmtree(dir);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--failing-write-child") == 0)
        return failing_write_child(argv[2]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_commit_and_select_range, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exactly_once_per_agent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_last_write_wins_and_negative_time_order, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_stale_nan_kept_bit_exact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_matchers_select_series, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_keeps_series_samples_and_seq, setup, teardown),
        cmocka_unit_test_setup_teardown(test_postings_selection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_out_of_order_merge_and_compaction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_head_replay_and_log_truncation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replay_after_truncation_honours_cut_markers, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_retention_drops_whole_partitions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retention_drops_series_without_data, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refs_and_log_values_replay, setup, teardown),
        cmocka_unit_test_setup_teardown(test_background_compaction_merges_age_cut_chunks, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_bad_input_is_refused_and_counted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_series_limit_per_agent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_label_listings_and_cardinality, setup, teardown),
        cmocka_unit_test(test_open_failure_is_reported),
        cmocka_unit_test(test_failed_write_recovers_without_restart),
    };
    return cmocka_run_group_tests_name("tsdb", tests, NULL, NULL);
}
