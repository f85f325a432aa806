/*
 * host.c — the host collectors: CPU time (/proc/stat), memory (/proc/meminfo)
 * and load average (/proc/loadavg), with node_exporter 1.5's metric names,
 * HELP texts, types and units, so its dashboards and alerts work unchanged.
 *
 * Each collector reads its whole file under a root directory ("/" in
 * production, a fixture tree in tests), parses it into a private metric_set
 * and moves that into the caller's set only when the whole file parsed: a
 * malformed file yields an error and no partial output.
 *
 * Differences from node_exporter, on purpose:
 *  - collect_cpu is stateless: node_exporter keeps the last value of each CPU
 *    counter and hides small backward jumps of buggy kernels.  We report what
 *    the kernel says; rate() treats a backward jump as a counter reset.
 *  - a malformed or empty file is an error instead of silently fewer series.
 */
#include "agent/collect/collect.h"
#include "agent/collect/procfile.h"

#include "common/err.h"
#include "common/buf.h"
#include "common/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Fields of a /proc/stat "cpuN" line, in kernel order (see proc(5)). */
enum {
    CPU_USER,
    CPU_NICE,
    CPU_SYSTEM,
    CPU_IDLE,
    CPU_IOWAIT,
    CPU_IRQ,
    CPU_SOFTIRQ,
    CPU_STEAL,
    CPU_GUEST,
    CPU_GUEST_NICE,
    CPU_NFIELDS
};

/* Lines from kernels before 2.6 stop after idle; fewer than this is garbage. */
#define CPU_MIN_FIELDS 4

/* ---- cpu ---------------------------------------------------------------- */

typedef struct cpu_ctx {
    metric_set *ms;
    double hz;
    size_t ncpus;
} cpu_ctx;

/* "cpu12" -> 12; the aggregate "cpu" line and other keys are not CPUs. */
static int cpu_id_of(const char *key, long *id)
{
    if (strncmp(key, "cpu", 3) != 0 || key[3] < '0' || key[3] > '9')
        return -1;
    char *end = NULL;
    errno = 0;
    long v = strtol(key + 3, &end, 10);
    if (*end != '\0' || errno == ERANGE)
        return -1;
    *id = v;
    return 0;
}

static void cpu_add_samples(metric_set *ms, const char *cpu, const double *secs)
{
    static const struct {
        int field;
        const char *mode;
    } modes[] = {{CPU_USER, "user"},       {CPU_NICE, "nice"},     {CPU_SYSTEM, "system"},
                 {CPU_IDLE, "idle"},       {CPU_IOWAIT, "iowait"}, {CPU_IRQ, "irq"},
                 {CPU_SOFTIRQ, "softirq"}, {CPU_STEAL, "steal"}};
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
        metric_set_addl(ms, "node_cpu_seconds_total", secs[modes[i].field], "cpu", cpu, "mode",
                        modes[i].mode, NULL);
    /* The kernel already counts guest time in user and nice; like
     * node_exporter we expose it separately and subtract nothing. */
    metric_set_addl(ms, "node_cpu_guest_seconds_total", secs[CPU_GUEST], "cpu", cpu, "mode", "user",
                    NULL);
    metric_set_addl(ms, "node_cpu_guest_seconds_total", secs[CPU_GUEST_NICE], "cpu", cpu, "mode",
                    "nice", NULL);
}

static int cpu_line(char *line, size_t lineno, void *ctx, char *err, size_t errlen)
{
    cpu_ctx *c = ctx;
    char *f[1 + CPU_NFIELDS];
    size_t n = host_split_fields(line, f, 1 + CPU_NFIELDS);
    long id;
    if (n == 0 || cpu_id_of(f[0], &id) != 0)
        return 0; /* not a per-CPU line */
    /* Newer kernels may append fields: use the ten we know, ignore the rest. */
    size_t nvals = n > CPU_NFIELDS ? CPU_NFIELDS : n - 1;
    if (nvals < CPU_MIN_FIELDS) {
        err_set(err, errlen, "proc/stat line %zu: %zu values for %s, want at least %d", lineno,
                nvals, f[0], CPU_MIN_FIELDS);
        return -1;
    }
    double secs[CPU_NFIELDS] = {0};
    for (size_t i = 0; i < nvals; i++) {
        double ticks;
        if (host_parse_number(f[1 + i], &ticks) != 0) {
            err_set(err, errlen, "proc/stat line %zu: bad value %s for %s", lineno, f[1 + i], f[0]);
            return -1;
        }
        secs[i] = ticks / c->hz;
    }
    char cpu[24];
    snprintf(cpu, sizeof cpu, "%ld", id);
    cpu_add_samples(c->ms, cpu, secs);
    c->ncpus++;
    return 0;
}

/* USER_HZ, the unit of /proc/stat; 100 on every Linux architecture today. */
static double user_hz(void)
{
    long hz = sysconf(_SC_CLK_TCK);
    return hz > 0 ? (double)hz : 100.0;
}

int collect_cpu(metric_set *out, const char *root, char *err, size_t errlen)
{
    ebuf text;
    ebuf_init(&text);
    if (host_read_file(&text, root, "proc/stat", err, errlen) != 0) {
        ebuf_free(&text);
        return -1;
    }
    metric_set ms;
    metric_set_init(&ms);
    metric_set_meta(&ms, "node_cpu_seconds_total", METRIC_COUNTER,
                    "Seconds the CPUs spent in each mode.");
    metric_set_meta(&ms, "node_cpu_guest_seconds_total", METRIC_COUNTER,
                    "Seconds the CPUs spent in guests (VMs) for each mode.");
    cpu_ctx c = {.ms = &ms, .hz = user_hz(), .ncpus = 0};
    int rc = host_for_each_line(text.data, cpu_line, &c, err, errlen);
    if (rc == 0 && c.ncpus == 0) {
        err_set(err, errlen, "proc/stat: no per-CPU lines");
        rc = -1;
    }
    if (rc == 0)
        metric_set_move(out, &ms);
    metric_set_free(&ms);
    ebuf_free(&text);
    return rc;
}

/* ---- meminfo ------------------------------------------------------------ */

/*
 * node_exporter's key rule: "Active(anon)" -> "Active_anon" (its regexp
 * `\((.*)\)` -> "_$1", so first '(' to last ')'), then "_bytes" when the line
 * has a unit.
 */
static void meminfo_key(ebuf *key, const char *field, bool has_unit)
{
    ebuf_reset(key);
    const char *open = strchr(field, '(');
    const char *close = open != NULL ? strrchr(open, ')') : NULL;
    if (close != NULL) {
        ebuf_append(key, field, (size_t)(open - field));
        ebuf_putc(key, '_');
        ebuf_append(key, open + 1, (size_t)(close - open - 1));
        ebuf_puts(key, close + 1);
    } else {
        ebuf_puts(key, field);
    }
    if (has_unit)
        ebuf_puts(key, "_bytes");
}

/* The kernel never repeats a field; if one did, keep the last (as a Go map). */
static void meminfo_put(metric_set *ms, const char *name, double v)
{
    for (size_t i = 0; i < ms->n; i++) {
        if (strcmp(labels_metric_name(&ms->samples[i].labels), name) == 0) {
            ms->samples[i].value = v;
            return;
        }
    }
    metric_set_addl(ms, name, v, NULL);
}

typedef struct meminfo_ctx {
    metric_set *ms;
    ebuf key, name, help;
} meminfo_ctx;

static int meminfo_line(char *line, size_t lineno, void *ctx, char *err, size_t errlen)
{
    meminfo_ctx *c = ctx;
    char *f[3];
    size_t n = host_split_fields(line, f, 3);
    if (n == 0)
        return 0; /* some CentOS kernels emit blank lines */
    size_t klen = strlen(f[0]);
    if (n > 3 || n < 2 || klen < 2 || f[0][klen - 1] != ':') {
        err_set(err, errlen, "proc/meminfo line %zu: want \"Name: value [kB]\"", lineno);
        return -1;
    }
    f[0][klen - 1] = '\0';
    double v;
    if (host_parse_number(f[1], &v) != 0) {
        err_set(err, errlen, "proc/meminfo line %zu: bad value %s for %s", lineno, f[1], f[0]);
        return -1;
    }
    bool has_unit = n == 3; /* node_exporter presumes kB, as the kernel writes */
    meminfo_key(&c->key, f[0], has_unit);
    ebuf_reset(&c->name);
    ebuf_printf(&c->name, "node_memory_%s", c->key.data);
    if (!metric_name_valid(c->name.data, c->name.len)) {
        err_set(err, errlen, "proc/meminfo line %zu: field %s is no valid metric name", lineno,
                f[0]);
        return -1;
    }
    ebuf_reset(&c->help);
    ebuf_printf(&c->help, "Memory information field %s.", c->key.data);
    /* node_exporter's rule, though no kernel field ends in "_total" today. */
    size_t kl = c->key.len;
    bool counter = kl >= 6 && strcmp(c->key.data + kl - 6, "_total") == 0;
    metric_set_meta(c->ms, c->name.data, counter ? METRIC_COUNTER : METRIC_GAUGE, c->help.data);
    meminfo_put(c->ms, c->name.data, has_unit ? v * 1024 : v);
    return 0;
}

int collect_meminfo(metric_set *out, const char *root, char *err, size_t errlen)
{
    ebuf text;
    ebuf_init(&text);
    if (host_read_file(&text, root, "proc/meminfo", err, errlen) != 0) {
        ebuf_free(&text);
        return -1;
    }
    metric_set ms;
    metric_set_init(&ms);
    meminfo_ctx c = {.ms = &ms};
    ebuf_init(&c.key);
    ebuf_init(&c.name);
    ebuf_init(&c.help);
    int rc = host_for_each_line(text.data, meminfo_line, &c, err, errlen);
    if (rc == 0 && ms.n == 0) {
        err_set(err, errlen, "proc/meminfo: no fields");
        rc = -1;
    }
    if (rc == 0)
        metric_set_move(out, &ms);
    ebuf_free(&c.key);
    ebuf_free(&c.name);
    ebuf_free(&c.help);
    metric_set_free(&ms);
    ebuf_free(&text);
    return rc;
}

/* ---- loadavg ------------------------------------------------------------ */

int collect_loadavg(metric_set *out, const char *root, char *err, size_t errlen)
{
    static const struct {
        const char *name, *help;
    } loads[3] = {{"node_load1", "1m load average."},
                  {"node_load5", "5m load average."},
                  {"node_load15", "15m load average."}};
    ebuf text;
    ebuf_init(&text);
    if (host_read_file(&text, root, "proc/loadavg", err, errlen) != 0) {
        ebuf_free(&text);
        return -1;
    }
    /* "0.01 0.06 0.03 1/108 5262\n": only the first three fields matter. */
    text.data[strcspn(text.data, "\n")] = '\0';
    char *f[3];
    size_t n = host_split_fields(text.data, f, 3);
    double v[3];
    int rc = 0;
    if (n < 3) {
        err_set(err, errlen, "proc/loadavg: want 3 load averages, got %zu fields", n);
        rc = -1;
    }
    for (size_t i = 0; rc == 0 && i < 3; i++) {
        if (host_parse_number(f[i], &v[i]) != 0) {
            err_set(err, errlen, "proc/loadavg: bad load average %s", f[i]);
            rc = -1;
        }
    }
    for (size_t i = 0; rc == 0 && i < 3; i++) {
        metric_set_meta(out, loads[i].name, METRIC_GAUGE, loads[i].help);
        metric_set_addl(out, loads[i].name, v[i], NULL);
    }
    ebuf_free(&text);
    return rc;
}
