/*
 * test_node_exporter_agreement.c — ember-agent's host collectors against
 * Debian's prometheus-node-exporter 1.5 on this machine: node_exporter
 * starts on a free loopback port with exactly the collectors we implement,
 * `ember-agent --once` runs beside it, and for every node_* family the two
 * must have the same metric names, the same label names, the same TYPE and
 * HELP, and the same stable values (MemTotal, CPUs, file system sizes, boot
 * time, uname).  Deliberate differences are listed in DIFFERENCES below.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/integration/harness.h"

#include "common/expfmt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NODE_EXPORTER "/usr/bin/prometheus-node-exporter"

/* The node_exporter collectors ember-agent implements. */
static const char *const COLLECTORS[] = {"cpu",      "meminfo",   "loadavg",    "stat",
                                         "vmstat",   "diskstats", "filesystem", "netdev",
                                         "pressure", "time",      "uname",      "hwmon"};
#define NCOLLECTORS (sizeof COLLECTORS / sizeof COLLECTORS[0])

/*
 * Metric names only one side has, on purpose.  Each entry is a prefix.
 *  - node_exporter_build_info: node_exporter describing itself.
 *  - node_disk_device_mapper_info, node_disk_ata_*: udev properties of dm and
 *    ATA disks, not exported by ember (node_disk_info and _filesystem_info are).
 *  - node_hwmon_{fan,in,curr,power,*_alarm}: ember's hwmon exports
 *    temperatures only.
 */
static const char *const DIFFERENCES[] = {
    "node_exporter_build_info",
    "node_disk_device_mapper_info",
    "node_disk_ata_",
    "node_hwmon_fan",
    "node_hwmon_in_",
    "node_hwmon_curr",
    "node_hwmon_power",
    "node_hwmon_temp_crit_alarm",
    "node_hwmon_temp_max_alarm",
};

static bool deliberate(const char *name)
{
    for (size_t i = 0; i < sizeof DIFFERENCES / sizeof DIFFERENCES[0]; i++)
        if (strncmp(name, DIFFERENCES[i], strlen(DIFFERENCES[i])) == 0)
            return true;
    return false;
}

static bool compared(const char *name)
{
    return strncmp(name, "node_", 5) == 0 && !deliberate(name);
}

static void parse_or_fail(const ebuf *text, metric_set *ms, const char *who)
{
    expfmt_error e;
    if (expfmt_parse(text->data, text->len, NULL, ms, &e) != 0) {
        char msg[400];
        expfmt_error_format(&e, msg, sizeof msg);
        fail_msg("%s output does not parse: %s", who, msg);
    }
}

static void scrape_node_exporter(metric_set *ms)
{
    unsigned port = harness_free_port();
    char listen[64], url[96];
    snprintf(listen, sizeof listen, "--web.listen-address=127.0.0.1:%u", port);
    snprintf(url, sizeof url, "http://127.0.0.1:%u/metrics", port);
    char *argv[4 + NCOLLECTORS] = {NODE_EXPORTER, listen, "--collector.disable-defaults"};
    char flags[NCOLLECTORS][48];
    for (size_t i = 0; i < NCOLLECTORS; i++) {
        snprintf(flags[i], sizeof flags[i], "--collector.%s", COLLECTORS[i]);
        argv[3 + i] = flags[i];
    }
    argv[3 + NCOLLECTORS] = NULL;
    pid_t pid = harness_spawn("node_exporter", argv);
    assert_true(harness_wait_http(url, 10000));
    ebuf body;
    ebuf_init(&body);
    assert_int_equal(harness_http(url, NULL, &body), 200);
    parse_or_fail(&body, ms, "node_exporter");
    ebuf_free(&body);
    harness_stop(pid, 5000);
}

static void run_agent_once(metric_set *ms)
{
    char bin[512], cmd[700];
    harness_bin("ember-agent", bin, sizeof bin);
    snprintf(cmd, sizeof cmd, "%s --once --log.level error --data-dir %s/agent 2>/dev/null", bin,
             harness_tmpdir());
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    ebuf out;
    ebuf_init(&out);
    char chunk[8192];
    for (size_t n; (n = fread(chunk, 1, sizeof chunk, p)) > 0;)
        ebuf_append(&out, chunk, n);
    assert_int_equal(pclose(p), 0);
    parse_or_fail(&out, ms, "ember-agent");
    ebuf_free(&out);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "name{label names}" of every compared sample, sorted, one per line. */
static void shapes(const metric_set *ms, ebuf *out)
{
    size_t n = 0;
    char **lines = calloc(ms->n + 1, sizeof *lines);
    for (size_t i = 0; i < ms->n; i++) {
        const labelset *ls = &ms->samples[i].labels;
        if (!compared(labels_metric_name(ls)))
            continue;
        ebuf b;
        ebuf_init(&b);
        ebuf_puts(&b, labels_metric_name(ls));
        for (size_t k = 0; k < ls->n; k++)
            if (strcmp(ls->v[k].name, "__name__") != 0 && strcmp(ls->v[k].name, "instance") != 0)
                ebuf_printf(&b, ",%s", ls->v[k].name);
        lines[n++] = ebuf_steal(&b, NULL);
    }
    qsort(lines, n, sizeof *lines, cmp_str);
    for (size_t i = 0; i < n; i++)
        if (i == 0 || strcmp(lines[i], lines[i - 1]) != 0)
            ebuf_printf(out, "%s\n", lines[i]);
    for (size_t i = 0; i < n; i++)
        free(lines[i]);
    free(lines);
}

static const metric_sample *find(const metric_set *ms, const char *name, const char *lname,
                                 const char *lvalue)
{
    for (size_t i = 0; i < ms->n; i++) {
        const labelset *ls = &ms->samples[i].labels;
        if (strcmp(labels_metric_name(ls), name) != 0)
            continue;
        const char *v = lname ? labels_get(ls, lname) : NULL;
        if (!lname || (v && strcmp(v, lvalue) == 0))
            return &ms->samples[i];
    }
    return NULL;
}

static size_t count(const metric_set *ms, const char *name, const char *lname, const char *lvalue)
{
    size_t n = 0;
    for (size_t i = 0; i < ms->n; i++) {
        const labelset *ls = &ms->samples[i].labels;
        const char *v = labels_get(ls, lname);
        n += strcmp(labels_metric_name(ls), name) == 0 && v && strcmp(v, lvalue) == 0;
    }
    return n;
}

static void assert_same_shapes(const metric_set *ne, const metric_set *em)
{
    ebuf a, b;
    ebuf_init(&a);
    ebuf_init(&b);
    shapes(ne, &a);
    shapes(em, &b);
    if (strcmp(a.data ? a.data : "", b.data ? b.data : "") != 0) {
        fprintf(stderr, "--- node_exporter\n%s--- ember-agent\n%s", a.data ? a.data : "",
                b.data ? b.data : "");
        fail_msg("metric/label names differ (both lists above)");
    }
    ebuf_free(&a);
    ebuf_free(&b);
}

static void assert_same_meta(const metric_set *ne, const metric_set *em)
{
    for (size_t i = 0; i < ne->nmeta; i++) {
        const metric_meta *m = &ne->meta[i];
        if (!compared(m->family))
            continue;
        const metric_meta *o = metric_set_find_meta(em, m->family);
        if (o == NULL)
            fail_msg("ember-agent lacks the family %s", m->family);
        if (o->type != m->type || strcmp(o->help ? o->help : "", m->help ? m->help : "") != 0)
            fail_msg("%s: node_exporter says %s \"%s\", ember %s \"%s\"", m->family,
                     metric_type_name(m->type), m->help ? m->help : "", metric_type_name(o->type),
                     o->help ? o->help : "");
    }
}

static void assert_same_value(const metric_set *ne, const metric_set *em, const char *name,
                              const char *lname, const char *lvalue, double tolerance)
{
    const metric_sample *a = find(ne, name, lname, lvalue), *b = find(em, name, lname, lvalue);
    if (a == NULL || b == NULL)
        fail_msg("%s{%s=\"%s\"} missing (node_exporter %p, ember %p)", name, lname ? lname : "",
                 lvalue ? lvalue : "", (void *)a, (void *)b);
    if (fabs(a->value - b->value) > tolerance)
        fail_msg("%s{%s=\"%s\"}: node_exporter %.17g, ember %.17g", name, lname ? lname : "",
                 lvalue ? lvalue : "", a->value, b->value);
}

static void assert_stable_values(const metric_set *ne, const metric_set *em)
{
    assert_same_value(ne, em, "node_memory_MemTotal_bytes", NULL, NULL, 0);
    assert_same_value(ne, em, "node_boot_time_seconds", NULL, NULL, 1);
    assert_int_equal(count(ne, "node_cpu_seconds_total", "mode", "idle"),
                     count(em, "node_cpu_seconds_total", "mode", "idle"));
    assert_true(count(em, "node_cpu_seconds_total", "mode", "idle") > 0);
    size_t nfs = 0;
    for (size_t i = 0; i < ne->n; i++) {
        const labelset *ls = &ne->samples[i].labels;
        if (strcmp(labels_metric_name(ls), "node_filesystem_size_bytes") != 0)
            continue;
        assert_same_value(ne, em, "node_filesystem_size_bytes", "mountpoint",
                          labels_get(ls, "mountpoint"), 0);
        assert_same_value(ne, em, "node_filesystem_files", "mountpoint",
                          labels_get(ls, "mountpoint"), 0);
        nfs++;
    }
    assert_true(nfs > 0);
    const metric_sample *u1 = find(ne, "node_uname_info", NULL, NULL);
    const metric_sample *u2 = find(em, "node_uname_info", NULL, NULL);
    assert_non_null(u1);
    assert_non_null(u2);
    const char *fields[] = {"domainname", "machine", "nodename", "release", "sysname", "version"};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        assert_string_equal(labels_get(&u1->labels, fields[i]), labels_get(&u2->labels, fields[i]));
}

static void test_agreement(void **state)
{
    (void)state;
    if (access(NODE_EXPORTER, X_OK) != 0)
        fail_msg("%s is missing: apt-get install prometheus-node-exporter (./ember test does)",
                 NODE_EXPORTER);
    metric_set ne, em;
    metric_set_init(&ne);
    metric_set_init(&em);
    scrape_node_exporter(&ne);
    run_agent_once(&em);
    assert_same_shapes(&ne, &em);
    assert_same_meta(&ne, &em);
    assert_stable_values(&ne, &em);
    metric_set_free(&ne);
    metric_set_free(&em);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_agreement)};
    int rc = cmocka_run_group_tests_name("integration.node_exporter_agreement", tests, NULL, NULL);
    harness_cleanup();
    return rc;
}
