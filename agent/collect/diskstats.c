/*
 * diskstats.c — node_exporter 1.5's "diskstats" collector: per block device
 * I/O counters from /proc/diskstats (devices matching
 * --collector.diskstats.device-exclude skipped, so whole disks and
 * partitions other than the excluded patterns), node_disk_info with the
 * udev properties from /run/udev/data/b<major>:<minor> (empty labels when
 * udev has no record, as node_exporter), and node_disk_filesystem_info when
 * udev knows the file system on the device.
 *
 * Not exported: node_disk_device_mapper_info and node_disk_ata_* (udev
 * properties of dm and ATA devices).
 */
#include "agent/collect/collect.h"
#include "agent/collect/procfile.h"

#include "common/buf.h"
#include "common/err.h"

#include <stdio.h>
#include <string.h>

/* The 17 statistics after major, minor and name; kernels before 4.18 have
 * 11, before 5.5 have 15.  scale turns sectors into bytes and ms into s. */
static const struct {
    const char *name, *help;
    metric_type type;
    double scale;
} disk_stats[] = {
    {"node_disk_reads_completed_total", "The total number of reads completed successfully.",
     METRIC_COUNTER, 1},
    {"node_disk_reads_merged_total", "The total number of reads merged.", METRIC_COUNTER, 1},
    {"node_disk_read_bytes_total", "The total number of bytes read successfully.", METRIC_COUNTER,
     512},
    {"node_disk_read_time_seconds_total", "The total number of seconds spent by all reads.",
     METRIC_COUNTER, 0.001},
    {"node_disk_writes_completed_total", "The total number of writes completed successfully.",
     METRIC_COUNTER, 1},
    {"node_disk_writes_merged_total", "The number of writes merged.", METRIC_COUNTER, 1},
    {"node_disk_written_bytes_total", "The total number of bytes written successfully.",
     METRIC_COUNTER, 512},
    {"node_disk_write_time_seconds_total",
     "This is the total number of seconds spent by all writes.", METRIC_COUNTER, 0.001},
    {"node_disk_io_now", "The number of I/Os currently in progress.", METRIC_GAUGE, 1},
    {"node_disk_io_time_seconds_total", "Total seconds spent doing I/Os.", METRIC_COUNTER, 0.001},
    {"node_disk_io_time_weighted_seconds_total", "The weighted # of seconds spent doing I/Os.",
     METRIC_COUNTER, 0.001},
    {"node_disk_discards_completed_total", "The total number of discards completed successfully.",
     METRIC_COUNTER, 1},
    {"node_disk_discards_merged_total", "The total number of discards merged.", METRIC_COUNTER, 1},
    {"node_disk_discarded_sectors_total", "The total number of sectors discarded successfully.",
     METRIC_COUNTER, 1},
    {"node_disk_discard_time_seconds_total",
     "This is the total number of seconds spent by all discards.", METRIC_COUNTER, 0.001},
    {"node_disk_flush_requests_total", "The total number of flush requests completed successfully",
     METRIC_COUNTER, 1},
    {"node_disk_flush_requests_time_seconds_total",
     "This is the total number of seconds spent by all flush requests.", METRIC_COUNTER, 0.001},
};
#define NSTATS (sizeof disk_stats / sizeof disk_stats[0])
#define MIN_STATS 11

typedef struct disk_ctx {
    metric_set *ms;
    const host_filters *filters;
    const char *root;
    ebuf udev;
} disk_ctx;

/* The value of "E:KEY=" in a udev database record, or "". */
static void udev_prop(const ebuf *rec, const char *key, char *out, size_t len)
{
    out[0] = '\0';
    size_t klen = strlen(key);
    for (const char *p = rec->data; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncmp(p, "E:", 2) == 0 && strncmp(p + 2, key, klen) == 0 && p[2 + klen] == '=') {
            const char *v = p + 3 + klen;
            size_t n = strcspn(v, "\n");
            snprintf(out, len, "%.*s", (int)(n < len ? n : len - 1), v);
            return;
        }
    }
}

static void disk_info(disk_ctx *c, const char *dev, const char *major, const char *minor)
{
    char rel[96], path[256], wwn[256], model[256], serial[256], rev[256];
    snprintf(rel, sizeof rel, "run/udev/data/b%s:%s", major, minor);
    ebuf_reset(&c->udev);
    char ignored[8];
    if (host_read_file(&c->udev, c->root, rel, ignored, sizeof ignored) != 0)
        ebuf_reset(&c->udev); /* no udev record: empty labels, as node_exporter */
    udev_prop(&c->udev, "ID_PATH", path, sizeof path);
    udev_prop(&c->udev, "ID_WWN", wwn, sizeof wwn);
    udev_prop(&c->udev, "ID_MODEL", model, sizeof model);
    udev_prop(&c->udev, "ID_SERIAL_SHORT", serial, sizeof serial);
    udev_prop(&c->udev, "ID_REVISION", rev, sizeof rev);
    metric_set_meta(c->ms, "node_disk_info", METRIC_GAUGE, "Info of /sys/block/<block_device>.");
    metric_set_addl(c->ms, "node_disk_info", 1, "device", dev, "major", major, "minor", minor,
                    "path", path, "wwn", wwn, "model", model, "serial", serial, "revision", rev,
                    NULL);
    char type[256], usage[256], uuid[256], version[256];
    udev_prop(&c->udev, "ID_FS_TYPE", type, sizeof type);
    if (!type[0])
        return;
    udev_prop(&c->udev, "ID_FS_USAGE", usage, sizeof usage);
    udev_prop(&c->udev, "ID_FS_UUID", uuid, sizeof uuid);
    udev_prop(&c->udev, "ID_FS_VERSION", version, sizeof version);
    metric_set_meta(c->ms, "node_disk_filesystem_info", METRIC_GAUGE,
                    "Info about disk filesystem.");
    metric_set_addl(c->ms, "node_disk_filesystem_info", 1, "device", dev, "type", type, "usage",
                    usage, "uuid", uuid, "version", version, NULL);
}

static int disk_line(char *line, size_t lineno, void *ctx, char *err, size_t errlen)
{
    disk_ctx *c = ctx;
    char *f[3 + NSTATS + 1];
    size_t n = host_split_fields(line, f, 3 + NSTATS + 1);
    if (n == 0)
        return 0;
    if (n < 3 + MIN_STATS) {
        err_set(err, errlen, "proc/diskstats line %zu: %zu fields, want at least %d", lineno, n,
                3 + MIN_STATS);
        return -1;
    }
    if (host_filter_match(&c->filters->disk_device_exclude, f[2]))
        return 0;
    size_t nstats = n - 3 > NSTATS ? NSTATS : n - 3;
    double v[NSTATS];
    for (size_t i = 0; i < nstats; i++) {
        if (host_parse_number(f[3 + i], &v[i]) != 0) {
            err_set(err, errlen, "proc/diskstats line %zu: bad value %s", lineno, f[3 + i]);
            return -1;
        }
    }
    disk_info(c, f[2], f[0], f[1]);
    for (size_t i = 0; i < nstats; i++) {
        metric_set_meta(c->ms, disk_stats[i].name, disk_stats[i].type, disk_stats[i].help);
        metric_set_addl(c->ms, disk_stats[i].name, v[i] * disk_stats[i].scale, "device", f[2],
                        NULL);
    }
    return 0;
}

int collect_diskstats(metric_set *out, const char *root, const host_filters *f, char *err,
                      size_t errlen)
{
    metric_set ms;
    metric_set_init(&ms);
    disk_ctx c = {.ms = &ms, .filters = host_filters_or_default(f), .root = root};
    ebuf_init(&c.udev);
    int rc = host_collect_lines(out, &ms, root, "proc/diskstats", disk_line, &c, true, err, errlen);
    ebuf_free(&c.udev);
    return rc;
}
