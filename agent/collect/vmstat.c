/*
 * vmstat.c — node_exporter 1.5's "vmstat" collector: the /proc/vmstat
 * fields that match --collector.vmstat.fields, as untyped node_vmstat_<field>
 * (node_exporter exports them untyped, counters or not).
 */
#include "agent/collect/collect.h"
#include "agent/collect/procfile.h"

#include "common/buf.h"
#include "common/err.h"

typedef struct vmstat_ctx {
    metric_set *ms;
    const host_filters *filters;
    ebuf name, help;
} vmstat_ctx;

static int vmstat_line(char *line, size_t lineno, void *ctx, char *err, size_t errlen)
{
    vmstat_ctx *c = ctx;
    char *f[3];
    size_t n = host_split_fields(line, f, 3);
    if (n == 0 || !host_filter_match(&c->filters->vmstat_fields, f[0]))
        return 0;
    double v;
    if (n != 2 || host_parse_number(f[1], &v) != 0) {
        err_set(err, errlen, "proc/vmstat line %zu: want \"field value\"", lineno);
        return -1;
    }
    ebuf_reset(&c->name);
    ebuf_printf(&c->name, "node_vmstat_%s", f[0]);
    if (!metric_name_valid(c->name.data, c->name.len)) {
        err_set(err, errlen, "proc/vmstat line %zu: field %s is no valid metric name", lineno,
                f[0]);
        return -1;
    }
    ebuf_reset(&c->help);
    ebuf_printf(&c->help, "/proc/vmstat information field %s.", f[0]);
    metric_set_meta(c->ms, c->name.data, METRIC_UNTYPED, c->help.data);
    metric_set_addl(c->ms, c->name.data, v, NULL);
    return 0;
}

int collect_vmstat(metric_set *out, const char *root, const host_filters *f, char *err,
                   size_t errlen)
{
    metric_set ms;
    metric_set_init(&ms);
    vmstat_ctx c = {.ms = &ms, .filters = host_filters_or_default(f)};
    ebuf_init(&c.name);
    ebuf_init(&c.help);
    int rc = host_collect_lines(out, &ms, root, "proc/vmstat", vmstat_line, &c, false, err, errlen);
    ebuf_free(&c.name);
    ebuf_free(&c.help);
    return rc;
}
