/*
 * test_tsdb_parallel.c — commits from several threads at once on a real
 * RocksDB (aggregator/tsdb/commit.c stages them in parallel): every sample
 * of every acknowledged commit is there once, live and after replay; of
 * samples with the same (series, timestamp) the one the commit hook saw
 * last wins, live and after replay (the hook runs in the order commits
 * staged, and the log replays in that order); the hook is never called
 * twice at once; agents' seqs are kept; log truncation, compaction and
 * selections run meanwhile.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "aggregator/tsdb/tsdb.h"
#include "common/etime.h"
#include "common/fsutil.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define THREADS 4
#define NSERIES 40
#define COMMITS 150
#define STEP 1000
#define HOT 32 /* timestamps of the hot series, each written by many commits */

typedef struct shared {
    tsdb *db;
    labelset ls[NSERIES], hot; /* hot: HOT timestamps that all commits write */
    const char *hot_key;
    size_t hot_len;
    int64_t t0, hot_t;
    atomic_llong next_t;
    atomic_int in_hook, overlaps, failures;
    atomic_bool stop;
    double hot_last[HOT]; /* the hot samples' values the hook saw last */
    uint64_t hooked;
} shared;

static void on_commit(void *arg, const tsdb_written *v, size_t n)
{
    shared *s = arg;
    if (atomic_exchange(&s->in_hook, 1))
        atomic_fetch_add(&s->overlaps, 1);
    for (size_t i = 0; i < n; i++) {
        if (v[i].key_len == s->hot_len && memcmp(v[i].key, s->hot_key, s->hot_len) == 0)
            s->hot_last[s->hot_t - v[i].t] = v[i].v;
        s->hooked++;
    }
    atomic_store(&s->in_hook, 0);
}

typedef struct worker {
    shared *s;
    int id;
} worker;

static void *commit_loop(void *arg)
{
    worker *w = arg;
    shared *s = w->s;
    char agent[32], err[256];
    snprintf(agent, sizeof agent, "agent-%d", w->id);
    for (int c = 0; c < COMMITS; c++) {
        int64_t t = atomic_fetch_add(&s->next_t, STEP);
        tsdb_appender *a = tsdb_appender_new(s->db);
        for (int i = 0; i < NSERIES; i++) { /* each thread in its own series order */
            int k = (i + w->id * 7) % NSERIES;
            tsdb_append(a, &s->ls[k], t, (double)(t + k));
        }
        tsdb_append(a, &s->hot, s->hot_t - (c + w->id) % HOT, w->id * 100000.0 + c);
        tsdb_commit_result r;
        bool by_agent = w->id % 2 == 0;
        if (tsdb_commit(a, by_agent ? agent : NULL, (uint64_t)c + 1, &r, err, sizeof err) != 0 ||
            r.applied != NSERIES + 1 || r.duplicate)
            atomic_fetch_add(&s->failures, 1);
    }
    return NULL;
}

/* Truncation, compaction and selections while the commits run. */
static void *maintain_loop(void *arg)
{
    shared *s = arg;
    char err[256];
    while (!atomic_load(&s->stop)) {
        if (tsdb_truncate_log(s->db, now_ms(), err, sizeof err) != 0 ||
            tsdb_compact(s->db, err, sizeof err) != 0)
            atomic_fetch_add(&s->failures, 1);
        tsdb_stats st;
        tsdb_get_stats(s->db, &st);
        label_matcher m;
        matcher_init(&m, MATCH_EQ, "__name__", "par", err, sizeof err);
        query_storage q = tsdb_query_storage(s->db);
        qseries_set out;
        qseries_set_init(&out);
        if (query_storage_read(&q, &m, 1, INT64_MIN, INT64_MAX, &out, err, sizeof err) != 0)
            atomic_fetch_add(&s->failures, 1);
        qseries_set_free(&out);
        matcher_free(&m);
    }
    return NULL;
}

/* Every series has every commit's sample once; the hot one has the value
 * the hook saw last. */
static void check_store(shared *s)
{
    char err[256];
    label_matcher m;
    assert_int_equal(matcher_init(&m, MATCH_RE, "__name__", "par|hot", err, sizeof err), 0);
    query_storage q = tsdb_query_storage(s->db);
    qseries_set out;
    qseries_set_init(&out);
    assert_int_equal(query_storage_read(&q, &m, 1, INT64_MIN, INT64_MAX, &out, err, sizeof err), 0);
    assert_int_equal(out.n, NSERIES + 1);
    for (size_t i = 0; i < out.n; i++) {
        const qseries *qs = &out.v[i];
        if (strcmp(labels_get(&qs->labels, "__name__"), "hot") == 0) {
            assert_int_equal(qs->n, HOT);
            for (size_t j = 0; j < HOT; j++)
                assert_true(qs->samples[j].v == s->hot_last[s->hot_t - qs->samples[j].t]);
            continue;
        }
        int k = atoi(labels_get(&qs->labels, "k"));
        assert_int_equal(qs->n, THREADS * COMMITS);
        for (size_t j = 0; j < qs->n; j++) {
            assert_int_equal(qs->samples[j].t, s->t0 + (int64_t)j * STEP);
            assert_true(qs->samples[j].v == (double)(qs->samples[j].t + k));
        }
    }
    qseries_set_free(&out);
    matcher_free(&m);
    for (int w = 0; w < THREADS; w += 2) {
        char agent[32];
        snprintf(agent, sizeof agent, "agent-%d", w);
        assert_int_equal(tsdb_agent_seq(s->db, agent), COMMITS);
    }
}

static void test_parallel_commits(void **state)
{
    (void)state;
    char dir[256], err[256];
    assert_int_equal(fs_mkdtemp(dir, sizeof dir, "ember-tsdb-par"), 0);
    tsdb_options o = {.sync = true, .maint_interval_ms = -1};
    shared *s = calloc(1, sizeof *s);
    assert_int_equal(tsdb_open(dir, &o, &s->db, err, sizeof err), 0);
    for (int i = 0; i < NSERIES; i++) {
        char k[16];
        snprintf(k, sizeof k, "%d", i);
        labels_init(&s->ls[i]);
        labels_add(&s->ls[i], "__name__", "par");
        labels_add(&s->ls[i], "k", k);
        labels_sort(&s->ls[i]);
    }
    labels_init(&s->hot);
    labels_add(&s->hot, "__name__", "hot");
    static const char hot_key[] = "__name__\0hot"; /* the canonical key: name\0value\0 */
    s->hot_key = hot_key;
    s->hot_len = sizeof hot_key;
    /* 150 commits a thread, 4 threads, a second apart: 10 minutes of data,
     * so heads cut chunks (120 samples) while others stage */
    s->t0 = now_ms() - 3600 * 1000LL;
    s->hot_t = s->t0 - 1; /* hot timestamps: hot_t - HOT + 1 .. hot_t */
    atomic_init(&s->next_t, s->t0);
    tsdb_set_commit_hook(s->db, on_commit, s);

    pthread_t th[THREADS], maint;
    worker w[THREADS];
    pthread_create(&maint, NULL, maintain_loop, s);
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){s, i};
        pthread_create(&th[i], NULL, commit_loop, &w[i]);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    atomic_store(&s->stop, true);
    pthread_join(maint, NULL);
    assert_int_equal(atomic_load(&s->failures), 0);
    assert_int_equal(atomic_load(&s->overlaps), 0);
    assert_int_equal(s->hooked, (uint64_t)THREADS * COMMITS * (NSERIES + 1));
    check_store(s);

    tsdb_close(s->db); /* replay: the same store */
    assert_int_equal(tsdb_open(dir, &o, &s->db, err, sizeof err), 0);
    check_store(s);
    tsdb_close(s->db);
    for (int i = 0; i < NSERIES; i++)
        labels_free(&s->ls[i]);
    labels_free(&s->hot);
    free(s);
    fs_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parallel_commits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
