/*
 * uname.c — node_exporter 1.5's "uname" collector: node_uname_info, the
 * uname(2) fields as labels.  uname is the kernel's answer for the running
 * host whatever --path.rootfs says, as in node_exporter.
 */
#define _GNU_SOURCE /* struct utsname's domainname */
#include "agent/collect/collect.h"

#include "common/err.h"

#include <errno.h>
#include <string.h>
#include <sys/utsname.h>

int collect_uname(metric_set *out, const char *root, const host_filters *f, char *err,
                  size_t errlen)
{
    (void)root;
    (void)f;
    struct utsname u;
    if (uname(&u) != 0) {
        err_set(err, errlen, "uname: %s", strerror(errno));
        return -1;
    }
    metric_set_meta(out, "node_uname_info", METRIC_GAUGE,
                    "Labeled system information as provided by the uname system call.");
    metric_set_addl(out, "node_uname_info", 1, "domainname", u.domainname, "machine", u.machine,
                    "nodename", u.nodename, "release", u.release, "sysname", u.sysname, "version",
                    u.version, NULL);
    return 0;
}
