/*
 * test_tsdb_metadata.c — the store's metric metadata (aggregator/tsdb/
 * metadata.c) on a real RocksDB in a temporary directory: records stored
 * and listed, kept across a reopen, unchanged records not written again
 * (the store's sequence number stands still), type names normalised.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "aggregator/tsdb/tsdb_int.h"
#include "common/fsutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct fixture {
    char dir[256];
    tsdb *db;
} fixture;

static void open_store(fixture *f)
{
    char err[256];
    tsdb_options o = {.sync = true, .maint_interval_ms = -1};
    if (tsdb_open(f->dir, &o, &f->db, err, sizeof err) != 0)
        fail_msg("open: %s", err);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_int_equal(fs_mkdtemp(f->dir, sizeof f->dir, "ember-test-meta"), 0);
    open_store(f);
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

static void update(fixture *f, const tsdb_metadata *v, size_t n)
{
    char err[256];
    if (tsdb_metadata_update(f->db, v, n, err, sizeof err) != 0)
        fail_msg("update: %s", err);
}

static uint64_t writes(fixture *f)
{
    tsdb_stats st;
    tsdb_get_stats(f->db, &st);
    return st.metadata_writes;
}

/* "family type help unit;" for every record, in list order. */
static void listing(fixture *f, const char *family, char *out, size_t len)
{
    tsdb_metadata *v;
    size_t n, used = 0;
    tsdb_metadata_list(f->db, family, &v, &n);
    out[0] = '\0';
    for (size_t i = 0; i < n; i++)
        used += (size_t)snprintf(out + used, len - used, "%s %s %s %s;", v[i].family, v[i].type,
                                 v[i].help, v[i].unit);
    tsdb_metadata_list_free(v, n);
}

static const tsdb_metadata gpu[] = {
    {"gpu_temperature_celsius", "gauge", "GPU temperature.", "celsius"},
    {"gpu_ecc_errors_total", "counter", "ECC errors.", NULL},
    {"", "gauge", "no family: skipped", NULL},
};

static void test_store_and_list(void **state)
{
    fixture *f = *state;
    char got[512];
    listing(f, NULL, got, sizeof got);
    assert_string_equal(got, "");
    update(f, gpu, 3);
    assert_int_equal(writes(f), 1); /* both records in one write */
    listing(f, NULL, got, sizeof got);
    assert_string_equal(got, "gpu_ecc_errors_total counter ECC errors. ;"
                             "gpu_temperature_celsius gauge GPU temperature. celsius;");
    listing(f, "gpu_ecc_errors_total", got, sizeof got);
    assert_string_equal(got, "gpu_ecc_errors_total counter ECC errors. ;");
    listing(f, "nope", got, sizeof got);
    assert_string_equal(got, "");
}

/* The same records again cost nothing; a changed help is one write of that
 * record only. */
static void test_unchanged_not_rewritten(void **state)
{
    fixture *f = *state;
    update(f, gpu, 3);
    uint64_t seq = rocksdb_get_latest_sequence_number(f->db->db);
    for (int i = 0; i < 100; i++)
        update(f, gpu, 3);
    assert_int_equal(writes(f), 1);
    assert_int_equal(rocksdb_get_latest_sequence_number(f->db->db), seq);
    tsdb_metadata changed = gpu[0];
    changed.help = "GPU die temperature.";
    update(f, &changed, 1);
    assert_int_equal(writes(f), 2);
    assert_int_equal(rocksdb_get_latest_sequence_number(f->db->db), seq + 1);
    char got[512];
    listing(f, "gpu_temperature_celsius", got, sizeof got);
    assert_string_equal(got, "gpu_temperature_celsius gauge GPU die temperature. celsius;");
}

static void test_reload_after_reopen(void **state)
{
    fixture *f = *state;
    update(f, gpu, 3);
    tsdb_metadata unknown = {"job_queue_length", "bogus", "Jobs waiting.\nSecond line", ""};
    update(f, &unknown, 1);
    char before[512], after[512];
    listing(f, NULL, before, sizeof before);
    tsdb_close(f->db);
    open_store(f);
    listing(f, NULL, after, sizeof after);
    assert_string_equal(after, before);
    assert_non_null(strstr(after, "job_queue_length unknown Jobs waiting.\nSecond line ;"));
    /* Loaded records count as known: sending them again writes nothing. */
    uint64_t seq = rocksdb_get_latest_sequence_number(f->db->db);
    update(f, gpu, 3);
    update(f, &unknown, 1);
    assert_int_equal(writes(f), 0);
    assert_int_equal(rocksdb_get_latest_sequence_number(f->db->db), seq);
}

static void test_type_names(void **state)
{
    assert_string_equal(tsdb_metadata_type_of(METRIC_UNTYPED), "unknown");
    assert_string_equal(tsdb_metadata_type_of(METRIC_COUNTER), "counter");
    assert_string_equal(tsdb_metadata_type_of(METRIC_SUMMARY), "summary");
    assert_string_equal(tsdb_metadata_type_of_remote(0), "unknown");
    assert_string_equal(tsdb_metadata_type_of_remote(4), "gaugehistogram");
    assert_string_equal(tsdb_metadata_type_of_remote(7), "stateset");
    assert_string_equal(tsdb_metadata_type_of_remote(99), "unknown");
    assert_string_equal(tsdb_metadata_type_of_remote(-1), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_store_and_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unchanged_not_rewritten, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reload_after_reopen, setup, teardown),
        cmocka_unit_test(test_type_names),
    };
    return cmocka_run_group_tests_name("tsdb_metadata", tests, NULL, NULL);
}
