/*
 * filters.c — the device, mount point, file system type and field filters
 * of the host collectors, as node_exporter's flags of the same names, with
 * the defaults of Debian's prometheus-node-exporter 1.5 (copied from its
 * --help).  They are POSIX extended regexes, matched unanchored like Go's
 * MatchString; the defaults anchor themselves.  Go's \d is written [0-9].
 */
#include "agent/collect/collect.h"

#include "common/err.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

const host_filter_spec host_filter_defaults = {
    .mount_points_exclude =
        "^/(dev|proc|run|sys|mnt|media|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)",
    .fs_types_exclude = "^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|"
                        "fusectl|hugetlbfs|iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|"
                        "rpc_pipefs|securityfs|selinuxfs|squashfs|sysfs|tracefs)$",
    .disk_device_exclude = "^(ram|loop|fd|(h|s|v|xv)d[a-z]|nvme[0-9]+n[0-9]+p)[0-9]+$",
    .netdev_device_exclude = "^lo$",
    .vmstat_fields = "^(oom_kill|pgpg|pswp|pg.*fault).*",
};

static int compile(regex_t *re, const char *flag, const char *pattern, char *err, size_t errlen)
{
    int rc = regcomp(re, pattern, REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
        char why[128];
        regerror(rc, re, why, sizeof why);
        err_set(err, errlen, "--collector.%s: bad regex \"%s\": %s", flag, pattern, why);
        return -1;
    }
    return 0;
}

static const char *or_default(const char *v, const char *def)
{
    return v != NULL ? v : def;
}

int host_filters_init(host_filters *f, const host_filter_spec *spec, char *err, size_t errlen)
{
    const host_filter_spec *d = &host_filter_defaults;
    if (spec == NULL)
        spec = d;
    struct {
        regex_t *re;
        const char *flag, *pattern;
    } all[] = {
        {&f->mount_points_exclude, "filesystem.mount-points-exclude",
         or_default(spec->mount_points_exclude, d->mount_points_exclude)},
        {&f->fs_types_exclude, "filesystem.fs-types-exclude",
         or_default(spec->fs_types_exclude, d->fs_types_exclude)},
        {&f->disk_device_exclude, "diskstats.device-exclude",
         or_default(spec->disk_device_exclude, d->disk_device_exclude)},
        {&f->netdev_device_exclude, "netdev.device-exclude",
         or_default(spec->netdev_device_exclude, d->netdev_device_exclude)},
        {&f->vmstat_fields, "vmstat.fields", or_default(spec->vmstat_fields, d->vmstat_fields)},
    };
    size_t n = sizeof all / sizeof all[0];
    for (size_t i = 0; i < n; i++) {
        if (compile(all[i].re, all[i].flag, all[i].pattern, err, errlen) != 0) {
            while (i-- > 0)
                regfree(all[i].re);
            return -1;
        }
    }
    return 0;
}

void host_filters_free(host_filters *f)
{
    regfree(&f->mount_points_exclude);
    regfree(&f->fs_types_exclude);
    regfree(&f->disk_device_exclude);
    regfree(&f->netdev_device_exclude);
    regfree(&f->vmstat_fields);
}

static host_filters defaults;
static pthread_once_t defaults_once = PTHREAD_ONCE_INIT;

static void init_defaults(void)
{
    char err[256];
    /* The defaults are constants checked by the unit tests. */
    if (host_filters_init(&defaults, NULL, err, sizeof err) != 0)
        abort();
}

const host_filters *host_filters_or_default(const host_filters *f)
{
    if (f != NULL)
        return f;
    pthread_once(&defaults_once, init_defaults);
    return &defaults;
}

bool host_filter_match(const regex_t *re, const char *s)
{
    return regexec(re, s, 0, NULL, 0) == 0;
}
