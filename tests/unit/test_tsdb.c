/*
 * test_tsdb.c — the first-cut store on a real RocksDB in a temporary
 * directory: commits, exactly-once per agent, selection, durability across
 * reopen.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "aggregator/tsdb/tsdb.h"
#include "common/fsutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct fixture {
    char dir[256];
    tsdb *db;
} fixture;

static void open_db(fixture *f)
{
    char err[256];
    tsdb_options o = {.sync = false};
    if (tsdb_open(f->dir, &o, &f->db, err, sizeof err) != 0)
        fail_msg("%s", err);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (fs_mkdtemp(f->dir, sizeof f->dir, "ember-tsdb") != 0)
        return -1;
    open_db(f);
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
    tsdb_append(a, ls, t, v);
    bool dup;
    char err[256];
    assert_int_equal(tsdb_commit(a, agent, seq, &dup, err, sizeof err), 0);
    assert_int_equal(dup, expect_dup);
}

static void select_all(tsdb *db, const char *name, int64_t mint, int64_t maxt, qseries_set *out)
{
    label_matcher m;
    char err[256];
    assert_int_equal(matcher_init(&m, MATCH_EQ, "__name__", name, err, sizeof err), 0);
    query_storage st = tsdb_query_storage(db);
    qseries_set_init(out);
    assert_int_equal(st.select(st.ctx, &m, 1, mint, maxt, out, err, sizeof err), 0);
    qseries_set_sort(out);
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
    assert_int_equal(st.select(st.ctx, m, 2, 0, 2000, &out, err, sizeof err), 0);
    qseries_set_sort(&out);
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
    tsdb_close(f->db);
    open_db(f);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_commit_and_select_range, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exactly_once_per_agent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_last_write_wins_and_negative_time_order, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_stale_nan_kept_bit_exact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_matchers_select_series, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_keeps_series_samples_and_seq, setup, teardown),
        cmocka_unit_test(test_open_failure_is_reported),
    };
    return cmocka_run_group_tests_name("tsdb", tests, NULL, NULL);
}
