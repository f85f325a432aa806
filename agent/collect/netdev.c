/*
 * netdev.c — node_exporter 1.5's "netdev" collector: per interface counters
 * node_network_{receive,transmit}_<stat>_total{device} from /proc/net/dev,
 * plus receive_nohandler from /sys/class/net/<dev>/statistics (node_exporter
 * 1.5 reads netlink, which has that one counter more than /proc/net/dev).
 * Interfaces matching --collector.netdev.device-exclude (Debian: ^lo$) are
 * skipped.
 */
#include "agent/collect/collect.h"
#include "agent/collect/procfile.h"

#include "common/buf.h"
#include "common/err.h"

#include <stdio.h>
#include <string.h>

/* /proc/net/dev columns after "iface:", in order. */
static const char *const netdev_cols[] = {
    "receive_bytes",  "receive_packets",  "receive_errs",       "receive_drop",
    "receive_fifo",   "receive_frame",    "receive_compressed", "receive_multicast",
    "transmit_bytes", "transmit_packets", "transmit_errs",      "transmit_drop",
    "transmit_fifo",  "transmit_colls",   "transmit_carrier",   "transmit_compressed",
};
#define NCOLS (sizeof netdev_cols / sizeof netdev_cols[0])

typedef struct netdev_ctx {
    metric_set *ms;
    const host_filters *filters;
    const char *root;
    ebuf name, help, path;
} netdev_ctx;

static void netdev_add(netdev_ctx *c, const char *stat, const char *dev, double v)
{
    ebuf_reset(&c->name);
    ebuf_printf(&c->name, "node_network_%s_total", stat);
    ebuf_reset(&c->help);
    ebuf_printf(&c->help, "Network device statistic %s.", stat);
    metric_set_meta(c->ms, c->name.data, METRIC_COUNTER, c->help.data);
    metric_set_addl(c->ms, c->name.data, v, "device", dev, NULL);
}

static void netdev_nohandler(netdev_ctx *c, const char *dev)
{
    char rel[300], text[64];
    double v;
    snprintf(rel, sizeof rel, "sys/class/net/%s/statistics/rx_nohandler", dev);
    host_path(&c->path, c->root, rel);
    if (host_read_line(c->path.data, text, sizeof text) && host_parse_number(text, &v) == 0)
        netdev_add(c, "receive_nohandler", dev, v);
}

static int netdev_line(char *line, size_t lineno, void *ctx, char *err, size_t errlen)
{
    netdev_ctx *c = ctx;
    char *colon = strchr(line, ':');
    if (lineno <= 2 || colon == NULL)
        return 0; /* the two header lines */
    *colon = '\0';
    char *dev[2], *f[NCOLS + 1];
    if (host_split_fields(line, dev, 1) != 1) {
        err_set(err, errlen, "proc/net/dev line %zu: no interface name", lineno);
        return -1;
    }
    size_t n = host_split_fields(colon + 1, f, NCOLS);
    if (n != NCOLS) {
        err_set(err, errlen, "proc/net/dev line %zu: want %zu values", lineno, NCOLS);
        return -1;
    }
    if (host_filter_match(&c->filters->netdev_device_exclude, dev[0]))
        return 0;
    double v[NCOLS];
    for (size_t i = 0; i < NCOLS; i++) {
        if (host_parse_number(f[i], &v[i]) != 0) {
            err_set(err, errlen, "proc/net/dev line %zu: bad value %s", lineno, f[i]);
            return -1;
        }
    }
    for (size_t i = 0; i < NCOLS; i++)
        netdev_add(c, netdev_cols[i], dev[0], v[i]);
    netdev_nohandler(c, dev[0]);
    return 0;
}

int collect_netdev(metric_set *out, const char *root, const host_filters *f, char *err,
                   size_t errlen)
{
    metric_set ms;
    metric_set_init(&ms);
    netdev_ctx c = {.ms = &ms, .filters = host_filters_or_default(f), .root = root};
    ebuf_init(&c.name);
    ebuf_init(&c.help);
    ebuf_init(&c.path);
    int rc = host_collect_lines(out, &ms, root, "proc/net/dev", netdev_line, &c, true, err, errlen);
    ebuf_free(&c.name);
    ebuf_free(&c.help);
    ebuf_free(&c.path);
    return rc;
}
