/*
 * filesystem.c — node_exporter 1.5's "filesystem" collector: size, free and
 * available bytes, inodes, read-only flag and statfs errors of every mount
 * in /proc/1/mounts (/proc/mounts when PID 1's is hidden), less the mount
 * points and file system types its exclude regexes match.
 *
 * Labels are node_exporter's: device (the mount source), fstype and
 * mountpoint (with \040 and \011 unescaped, and the --path.rootfs prefix
 * stripped).  A mount listed twice with the same labels is reported once.
 * A failing statfs gives device_error 1 and no size series, as there.
 *
 * Difference: node_exporter runs statfs in a goroutine and gives up on a
 * mount after 5 s (a hung NFS server); here statfs is called in line, so a
 * hung mount delays the collection round (exclude such mounts).
 */
#include "agent/collect/collect.h"
#include "agent/collect/procfile.h"

#include "common/buf.h"
#include "common/err.h"

#include <stdio.h>
#include <string.h>
#include <sys/statfs.h>

typedef struct fs_ctx {
    metric_set *ms;
    const host_filters *filters;
    const char *root;
    ebuf seen; /* "device\0mountpoint\0fstype\n" of the mounts reported */
    ebuf path, key;
} fs_ctx;

/* In place: \040 -> ' ', \011 -> '\t' (the escapes node_exporter undoes). */
static void unescape_mountpoint(char *s)
{
    char *w = s;
    for (char *r = s; *r; r++) {
        if (r[0] == '\\' && r[1] == '0' && r[2] == '4' && r[3] == '0') {
            *w++ = ' ';
            r += 3;
        } else if (r[0] == '\\' && r[1] == '0' && r[2] == '1' && r[3] == '1') {
            *w++ = '\t';
            r += 3;
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
}

/* The mount point as seen inside root, as node_exporter's rootfsStripPrefix. */
static const char *strip_root(const char *root, const char *mp)
{
    size_t n = strlen(root);
    while (n > 0 && root[n - 1] == '/')
        n--;
    if (n == 0 || strncmp(mp, root, n) != 0 || (mp[n] != '/' && mp[n] != '\0'))
        return mp;
    return mp[n] ? mp + n : "/";
}

static bool seen_before(fs_ctx *c, const char *dev, const char *mp, const char *type)
{
    ebuf_reset(&c->key);
    ebuf_printf(&c->key, "%s%c%s%c%s\n", dev, 0, mp, 0, type);
    for (size_t at = 0; at + c->key.len <= c->seen.len;) {
        if (memcmp(c->seen.data + at, c->key.data, c->key.len) == 0)
            return true;
        const char *nl = memchr(c->seen.data + at, '\n', c->seen.len - at);
        at = (size_t)(nl - c->seen.data) + 1;
    }
    ebuf_append(&c->seen, c->key.data, c->key.len);
    return false;
}

static bool has_option(const char *opts, const char *want)
{
    size_t n = strlen(want);
    for (const char *p = opts; p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
        if (strncmp(p, want, n) == 0 && (p[n] == ',' || p[n] == '\0'))
            return true;
    return false;
}

static void fs_add(metric_set *ms, const char *name, const char *help, double v, const char *dev,
                   const char *type, const char *mp)
{
    metric_set_meta(ms, name, METRIC_GAUGE, help);
    metric_set_addl(ms, name, v, "device", dev, "fstype", type, "mountpoint", mp, NULL);
}

static void fs_report(fs_ctx *c, const char *dev, const char *type, const char *mp, bool ro)
{
    struct statfs st;
    host_path(&c->path, c->root, mp[0] == '/' ? mp + 1 : mp);
    bool failed = statfs(c->path.data, &st) != 0;
    fs_add(c->ms, "node_filesystem_device_error",
           "Whether an error occurred while getting statistics for the given device.", failed, dev,
           type, mp);
    fs_add(c->ms, "node_filesystem_readonly", "Filesystem read-only status.", ro, dev, type, mp);
    if (failed)
        return;
    double bs = (double)st.f_bsize;
    fs_add(c->ms, "node_filesystem_size_bytes", "Filesystem size in bytes.",
           (double)st.f_blocks * bs, dev, type, mp);
    fs_add(c->ms, "node_filesystem_free_bytes", "Filesystem free space in bytes.",
           (double)st.f_bfree * bs, dev, type, mp);
    fs_add(c->ms, "node_filesystem_avail_bytes",
           "Filesystem space available to non-root users in bytes.", (double)st.f_bavail * bs, dev,
           type, mp);
    fs_add(c->ms, "node_filesystem_files", "Filesystem total file nodes.", (double)st.f_files, dev,
           type, mp);
    fs_add(c->ms, "node_filesystem_files_free", "Filesystem total free file nodes.",
           (double)st.f_ffree, dev, type, mp);
}

static int mounts_line(char *line, size_t lineno, void *ctx, char *err, size_t errlen)
{
    fs_ctx *c = ctx;
    char *f[7];
    size_t n = host_split_fields(line, f, 6);
    if (n == 0)
        return 0;
    if (n < 4) {
        err_set(err, errlen, "mounts line %zu: malformed mount point information", lineno);
        return -1;
    }
    unescape_mountpoint(f[1]);
    const char *mp = strip_root(c->root, f[1]);
    if (host_filter_match(&c->filters->mount_points_exclude, mp) ||
        host_filter_match(&c->filters->fs_types_exclude, f[2]) || seen_before(c, f[0], mp, f[2]))
        return 0;
    fs_report(c, f[0], f[2], mp, has_option(f[3], "ro"));
    return 0;
}

int collect_filesystem(metric_set *out, const char *root, const host_filters *f, char *err,
                       size_t errlen)
{
    metric_set ms;
    metric_set_init(&ms);
    fs_ctx c = {.ms = &ms, .filters = host_filters_or_default(f), .root = root};
    ebuf_init(&c.seen);
    ebuf_init(&c.path);
    ebuf_init(&c.key);
    /* PID 1's mounts are the host's even when the agent runs in its own
     * mount namespace; hidepid makes them unreadable, then use our own. */
    ebuf probe;
    ebuf_init(&probe);
    host_path(&probe, root, "proc/1/mounts");
    FILE *fp = fopen(probe.data, "r");
    const char *rel = fp ? "proc/1/mounts" : "proc/mounts";
    if (fp)
        fclose(fp);
    ebuf_free(&probe);
    int rc = host_collect_lines(out, &ms, root, rel, mounts_line, &c, true, err, errlen);
    ebuf_free(&c.seen);
    ebuf_free(&c.path);
    ebuf_free(&c.key);
    return rc;
}
