/*
 * test_collect_host.c — the host collectors (agent/collect/host.c) on fixture
 * /proc trees written to a fresh temporary root per test, and on this
 * machine's real /proc.  Expected names, HELP texts and types are
 * node_exporter 1.5's, copied from its output.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/unit/metric_asserts.h"

#include "agent/collect/collect.h"

#include "common/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- fixture roots ------------------------------------------------------ */

#define MAX_FILES 8

typedef struct fixture {
    char root[64];
    char *files[MAX_FILES];
    size_t nfiles;
} fixture;

static int setup_root(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->root, sizeof f->root, "/tmp/ember-collect-host-XXXXXX");
    assert_non_null(mkdtemp(f->root));
    char proc[96];
    snprintf(proc, sizeof proc, "%s/proc", f->root);
    assert_int_equal(mkdir(proc, 0700), 0);
    *state = f;
    return 0;
}

static int teardown_root(void **state)
{
    fixture *f = *state;
    for (size_t i = 0; i < f->nfiles; i++) {
        unlink(f->files[i]);
        free(f->files[i]);
    }
    char proc[96];
    snprintf(proc, sizeof proc, "%s/proc", f->root);
    rmdir(proc);
    rmdir(f->root);
    free(f);
    return 0;
}

/* Write root/proc/<name>. */
static void put_proc_file(fixture *f, const char *name, const char *content)
{
    assert_true(f->nfiles < MAX_FILES);
    char path[160];
    snprintf(path, sizeof path, "%s/proc/%s", f->root, name);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    assert_int_equal(fputs(content, fp) >= 0, 1);
    assert_int_equal(fclose(fp), 0);
    for (size_t i = 0; i < f->nfiles; i++)
        if (strcmp(f->files[i], path) == 0)
            return; /* rewritten: already listed for teardown */
    f->files[f->nfiles++] = strdup(path);
}

/* ---- lookups ------------------------------------------------------------ */

static void assert_value(const metric_sample *s, double want)
{
    assert_non_null(s);
    assert_true(s->value == want);
    assert_false(s->has_ts);
}

/* A set holding one unrelated sample, to check collectors append / don't touch. */
static void init_with_marker(metric_set *ms)
{
    metric_set_init(ms);
    metric_set_addl(ms, "marker", 1, NULL);
}

/* ---- cpu ---------------------------------------------------------------- */

static const char PROC_STAT[] =
    "cpu  100 200 300 400 500 600 700 800 900 1000\n"
    "cpu0 12 1 34 5600 78 0 9 3 2 1\n"
    "cpu2 1234567 0 250 99999 1 2 3 4 5 6 7\n" /* cpu1 offline; an 11th field */
    "intr 113909 0 0 0\n"
    "ctxt 268154\n"
    "btime 1700000000\n"
    "processes 5263\n";

static void test_cpu_fixture(void **state)
{
    fixture *f = *state;
    put_proc_file(f, "stat", PROC_STAT);
    metric_set ms;
    init_with_marker(&ms);
    char err[256] = "";
    assert_int_equal(collect_cpu(&ms, f->root, err, sizeof err), 0);
    assert_int_equal(ms.n, 1 + 2 * 10);
    assert_int_equal(count_named(&ms, "node_cpu_seconds_total"), 16);
    assert_int_equal(count_named(&ms, "node_cpu_guest_seconds_total"), 4);

    double hz = (double)sysconf(_SC_CLK_TCK);
    const char *s = "node_cpu_seconds_total";
    assert_value(find_sample(&ms, s, "cpu", "0", "mode", "user", NULL), 12 / hz);
    assert_value(find_sample(&ms, s, "cpu", "0", "mode", "nice", NULL), 1 / hz);
    assert_value(find_sample(&ms, s, "cpu", "0", "mode", "system", NULL), 34 / hz);
    assert_value(find_sample(&ms, s, "cpu", "0", "mode", "idle", NULL), 5600 / hz);
    assert_value(find_sample(&ms, s, "cpu", "0", "mode", "iowait", NULL), 78 / hz);
    assert_value(find_sample(&ms, s, "cpu", "0", "mode", "irq", NULL), 0);
    assert_value(find_sample(&ms, s, "cpu", "0", "mode", "softirq", NULL), 9 / hz);
    assert_value(find_sample(&ms, s, "cpu", "0", "mode", "steal", NULL), 3 / hz);
    assert_value(find_sample(&ms, s, "cpu", "2", "mode", "user", NULL), 1234567 / hz);
    assert_value(find_sample(&ms, s, "cpu", "2", "mode", "steal", NULL), 4 / hz);
    assert_null(find_sample(&ms, s, "cpu", "1", "mode", "user", NULL));
    if (hz == 100) /* the kernel's USER_HZ everywhere today: node_exporter's numbers */
        assert_value(find_sample(&ms, s, "cpu", "0", "mode", "user", NULL), 0.12);

    /* guest time: not subtracted from user/nice, "user" is guest */
    const char *g = "node_cpu_guest_seconds_total";
    assert_value(find_sample(&ms, g, "cpu", "0", "mode", "user", NULL), 2 / hz);
    assert_value(find_sample(&ms, g, "cpu", "0", "mode", "nice", NULL), 1 / hz);
    assert_value(find_sample(&ms, g, "cpu", "2", "mode", "user", NULL), 5 / hz);
    assert_value(find_sample(&ms, g, "cpu", "2", "mode", "nice", NULL), 6 / hz);

    assert_meta(&ms, s, METRIC_COUNTER, "Seconds the CPUs spent in each mode.");
    assert_meta(&ms, g, METRIC_COUNTER, "Seconds the CPUs spent in guests (VMs) for each mode.");
    metric_set_free(&ms);
}

/* Kernels before 2.6.11 stop after a few fields: the rest read as 0. */
static void test_cpu_short_lines(void **state)
{
    fixture *f = *state;
    put_proc_file(f, "stat", "cpu  4 3 2 1\ncpu0 4 3 2 1\n");
    metric_set ms;
    metric_set_init(&ms);
    char err[256] = "";
    assert_int_equal(collect_cpu(&ms, f->root, err, sizeof err), 0);
    assert_int_equal(ms.n, 10);
    double hz = (double)sysconf(_SC_CLK_TCK);
    const char *s = "node_cpu_seconds_total";
    assert_value(find_sample(&ms, s, "cpu", "0", "mode", "idle", NULL), 1 / hz);
    assert_value(find_sample(&ms, s, "cpu", "0", "mode", "iowait", NULL), 0);
    assert_value(find_sample(&ms, "node_cpu_guest_seconds_total", "cpu", "0", "mode", "user", NULL),
                 0);
    metric_set_free(&ms);
}

/* A failure leaves the output as it was. */
static void assert_cpu_fails(fixture *f, const char *content, const char *want_err)
{
    if (content != NULL)
        put_proc_file(f, "stat", content);
    metric_set ms;
    init_with_marker(&ms);
    char err[256] = "";
    assert_int_equal(collect_cpu(&ms, f->root, err, sizeof err), -1);
    assert_int_equal(ms.n, 1);
    if (strstr(err, want_err) == NULL)
        fail_msg("error \"%s\" does not contain \"%s\"", err, want_err);
    metric_set_free(&ms);
}

static void test_cpu_missing_file(void **state)
{
    assert_cpu_fails(*state, NULL, "proc/stat: No such file or directory");
}

static void test_cpu_bad_value(void **state)
{
    assert_cpu_fails(*state, "cpu  1 2 3 4\ncpu0 1 2 3 4\ncpu1 1 x 3 4 5\n",
                     "proc/stat line 3: bad value x for cpu1");
}

static void test_cpu_too_few_values(void **state)
{
    assert_cpu_fails(*state, "cpu0 1 2 3\n", "proc/stat line 1: 3 values for cpu0");
}

static void test_cpu_no_cpu_lines(void **state)
{
    assert_cpu_fails(*state, "intr 1 2 3\nctxt 5\n", "no per-CPU lines");
}

static void test_cpu_empty_file(void **state)
{
    assert_cpu_fails(*state, "", "no per-CPU lines");
}

/* ---- meminfo ------------------------------------------------------------ */

static const char PROC_MEMINFO[] = "MemTotal:       24683656 kB\n"
                                   "MemFree:        24243964 kB\n"
                                   "Active(anon):       1540 kB\n"
                                   "Inactive(file):   172620 kB\n"
                                   "\n" /* some CentOS kernels */
                                   "HugePages_Total:       4\n"
                                   "HugePages_Free:        0\n"
                                   "Hugepagesize:       2048 kB\n"
                                   "DirectMap1G:    25165824 kB\n";

static void test_meminfo_fixture(void **state)
{
    fixture *f = *state;
    put_proc_file(f, "meminfo", PROC_MEMINFO);
    metric_set ms;
    init_with_marker(&ms);
    char err[256] = "";
    assert_int_equal(collect_meminfo(&ms, f->root, err, sizeof err), 0);
    assert_int_equal(ms.n, 1 + 8);
    assert_value(find_sample(&ms, "node_memory_MemTotal_bytes", NULL), 24683656.0 * 1024);
    assert_value(find_sample(&ms, "node_memory_MemFree_bytes", NULL), 24243964.0 * 1024);
    assert_value(find_sample(&ms, "node_memory_Active_anon_bytes", NULL), 1540.0 * 1024);
    assert_value(find_sample(&ms, "node_memory_Inactive_file_bytes", NULL), 172620.0 * 1024);
    assert_value(find_sample(&ms, "node_memory_HugePages_Total", NULL), 4);
    assert_value(find_sample(&ms, "node_memory_HugePages_Free", NULL), 0);
    assert_value(find_sample(&ms, "node_memory_Hugepagesize_bytes", NULL), 2097152);
    assert_value(find_sample(&ms, "node_memory_DirectMap1G_bytes", NULL), 2.5769803776e+10);

    assert_meta(&ms, "node_memory_MemTotal_bytes", METRIC_GAUGE,
                "Memory information field MemTotal_bytes.");
    assert_meta(&ms, "node_memory_Active_anon_bytes", METRIC_GAUGE,
                "Memory information field Active_anon_bytes.");
    assert_meta(&ms, "node_memory_HugePages_Total", METRIC_GAUGE,
                "Memory information field HugePages_Total.");
    metric_set_free(&ms);
}

static void assert_meminfo_fails(fixture *f, const char *content, const char *want_err)
{
    if (content != NULL)
        put_proc_file(f, "meminfo", content);
    metric_set ms;
    init_with_marker(&ms);
    char err[256] = "";
    assert_int_equal(collect_meminfo(&ms, f->root, err, sizeof err), -1);
    assert_int_equal(ms.n, 1);
    if (strstr(err, want_err) == NULL)
        fail_msg("error \"%s\" does not contain \"%s\"", err, want_err);
    metric_set_free(&ms);
}

static void test_meminfo_missing_file(void **state)
{
    assert_meminfo_fails(*state, NULL, "proc/meminfo: No such file or directory");
}

static void test_meminfo_bad_value(void **state)
{
    assert_meminfo_fails(*state, "MemTotal: 1 kB\nMemFree: lots kB\n",
                         "proc/meminfo line 2: bad value lots for MemFree");
}

static void test_meminfo_bad_lines(void **state)
{
    fixture *f = *state;
    assert_meminfo_fails(f, "MemTotal 1 kB\n", "proc/meminfo line 1");
    assert_meminfo_fails(f, "MemTotal: 1 kB extra\n", "proc/meminfo line 1");
    assert_meminfo_fails(f, "MemTotal:\n", "proc/meminfo line 1");
    assert_meminfo_fails(f, "MemTotal: 1 kB\nWeird(x: 1 kB\n",
                         "proc/meminfo line 2: field Weird(x is no valid metric name");
    assert_meminfo_fails(f, "\n\n", "no fields");
}

/* ---- loadavg ------------------------------------------------------------ */

static void test_loadavg_fixture(void **state)
{
    fixture *f = *state;
    put_proc_file(f, "loadavg", "0.50 1.25 12.00 3/234 5678\n");
    metric_set ms;
    init_with_marker(&ms);
    char err[256] = "";
    assert_int_equal(collect_loadavg(&ms, f->root, err, sizeof err), 0);
    assert_int_equal(ms.n, 1 + 3);
    assert_value(find_sample(&ms, "node_load1", NULL), 0.5);
    assert_value(find_sample(&ms, "node_load5", NULL), 1.25);
    assert_value(find_sample(&ms, "node_load15", NULL), 12);
    assert_meta(&ms, "node_load1", METRIC_GAUGE, "1m load average.");
    assert_meta(&ms, "node_load5", METRIC_GAUGE, "5m load average.");
    assert_meta(&ms, "node_load15", METRIC_GAUGE, "15m load average.");

    /* The exposition text is node_exporter's, line for line. */
    metric_set only;
    metric_set_init(&only);
    assert_int_equal(collect_loadavg(&only, f->root, err, sizeof err), 0);
    ebuf text;
    ebuf_init(&text);
    expfmt_write(&text, &only);
    assert_string_equal(text.data, "# HELP node_load1 1m load average.\n"
                                   "# TYPE node_load1 gauge\n"
                                   "node_load1 0.5\n"
                                   "# HELP node_load5 5m load average.\n"
                                   "# TYPE node_load5 gauge\n"
                                   "node_load5 1.25\n"
                                   "# HELP node_load15 15m load average.\n"
                                   "# TYPE node_load15 gauge\n"
                                   "node_load15 12\n");
    ebuf_free(&text);
    metric_set_free(&only);
    metric_set_free(&ms);
}

static void assert_loadavg_fails(fixture *f, const char *content, const char *want_err)
{
    if (content != NULL)
        put_proc_file(f, "loadavg", content);
    metric_set ms;
    init_with_marker(&ms);
    char err[256] = "";
    assert_int_equal(collect_loadavg(&ms, f->root, err, sizeof err), -1);
    assert_int_equal(ms.n, 1);
    if (strstr(err, want_err) == NULL)
        fail_msg("error \"%s\" does not contain \"%s\"", err, want_err);
    metric_set_free(&ms);
}

static void test_loadavg_missing_file(void **state)
{
    assert_loadavg_fails(*state, NULL, "proc/loadavg: No such file or directory");
}

static void test_loadavg_malformed(void **state)
{
    fixture *f = *state;
    assert_loadavg_fails(f, "0.5 abc 1.0 1/2 3\n", "bad load average abc");
    assert_loadavg_fails(f, "0.5 1.0\n2.0\n", "want 3 load averages, got 2 fields");
    assert_loadavg_fails(f, "", "got 0 fields");
}

/* ---- this machine ------------------------------------------------------- */

/* Count "cpuN" lines ourselves, independently of the collector. */
static size_t count_proc_cpus(void)
{
    FILE *fp = fopen("/proc/stat", "r");
    assert_non_null(fp);
    char line[4096];
    size_t n = 0;
    while (fgets(line, sizeof line, fp) != NULL)
        n += strncmp(line, "cpu", 3) == 0 && line[3] >= '0' && line[3] <= '9';
    fclose(fp);
    return n;
}

static void test_real_proc(void **state)
{
    (void)state;
    metric_set ms;
    metric_set_init(&ms);
    char err[256] = "";
    assert_int_equal(collect_cpu(&ms, "/", err, sizeof err), 0);
    size_t ncpus = count_proc_cpus();
    assert_true(ncpus > 0);
    assert_int_equal(count_named(&ms, "node_cpu_seconds_total"), 8 * ncpus);
    assert_int_equal(count_named(&ms, "node_cpu_guest_seconds_total"), 2 * ncpus);
    const metric_sample *idle =
        find_sample(&ms, "node_cpu_seconds_total", "cpu", "0", "mode", "idle", NULL);
    if (idle != NULL) /* cpu0 can be offline on some machines */
        assert_true(idle->value > 0);
    metric_set_clear(&ms);

    assert_int_equal(collect_meminfo(&ms, "/", err, sizeof err), 0);
    const metric_sample *total = find_sample(&ms, "node_memory_MemTotal_bytes", NULL);
    assert_non_null(total);
    assert_true(total->value > 0);
    const metric_sample *avail = find_sample(&ms, "node_memory_MemAvailable_bytes", NULL);
    if (avail != NULL) /* since Linux 3.14 */
        assert_true(avail->value <= total->value);
    metric_set_clear(&ms);

    assert_int_equal(collect_loadavg(&ms, "/", err, sizeof err), 0);
    assert_int_equal(ms.n, 3);
    for (size_t i = 0; i < ms.n; i++)
        assert_true(ms.samples[i].value >= 0);
    metric_set_free(&ms);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cpu_fixture, setup_root, teardown_root),
        cmocka_unit_test_setup_teardown(test_cpu_short_lines, setup_root, teardown_root),
        cmocka_unit_test_setup_teardown(test_cpu_missing_file, setup_root, teardown_root),
        cmocka_unit_test_setup_teardown(test_cpu_bad_value, setup_root, teardown_root),
        cmocka_unit_test_setup_teardown(test_cpu_too_few_values, setup_root, teardown_root),
        cmocka_unit_test_setup_teardown(test_cpu_no_cpu_lines, setup_root, teardown_root),
        cmocka_unit_test_setup_teardown(test_cpu_empty_file, setup_root, teardown_root),
        cmocka_unit_test_setup_teardown(test_meminfo_fixture, setup_root, teardown_root),
        cmocka_unit_test_setup_teardown(test_meminfo_missing_file, setup_root, teardown_root),
        cmocka_unit_test_setup_teardown(test_meminfo_bad_value, setup_root, teardown_root),
        cmocka_unit_test_setup_teardown(test_meminfo_bad_lines, setup_root, teardown_root),
        cmocka_unit_test_setup_teardown(test_loadavg_fixture, setup_root, teardown_root),
        cmocka_unit_test_setup_teardown(test_loadavg_missing_file, setup_root, teardown_root),
        cmocka_unit_test_setup_teardown(test_loadavg_malformed, setup_root, teardown_root),
        cmocka_unit_test(test_real_proc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
