/*
 * cgpath.c — container ids and pod UIDs from cgroup paths (see cgpath.h).
 */
#include "agent/collect/cgpath.h"
#include "agent/collect/procfile.h"

#include "common/buf.h"

#include <stdio.h>
#include <string.h>

static bool all_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

/* "<prefix><64 hex>[.scope]" or a bare 64-hex component. */
static bool container_component(const char *c, size_t n, cgroup_owner *o, const char *parent)
{
    static const struct {
        const char *prefix, *runtime;
    } prefixes[] = {{"docker-", "docker"},
                    {"cri-containerd-", "containerd"},
                    {"containerd-", "containerd"},
                    {"crio-", "crio"},
                    {"", ""}};
    if (n > 6 && strncmp(c + n - 6, ".scope", 6) == 0)
        n -= 6;
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        size_t pl = strlen(prefixes[i].prefix);
        if (n != pl + 64 || strncmp(c, prefixes[i].prefix, pl) != 0 || !all_hex(c + pl, 64))
            continue;
        snprintf(o->container_id, sizeof o->container_id, "%.64s", c + pl);
        const char *rt = prefixes[i].runtime;
        if (!rt[0] && parent && strcmp(parent, "docker") == 0)
            rt = "docker";
        snprintf(o->runtime, sizeof o->runtime, "%s", rt);
        return true;
    }
    return false;
}

/* "pod<uid>" or "kubepods-<qos>-pod<uid_with_underscores>.slice". */
static void pod_component(const char *c, size_t n, cgroup_owner *o)
{
    if (n > 6 && strncmp(c + n - 6, ".slice", 6) == 0)
        n -= 6;
    const char *qos[] = {"burstable", "besteffort"};
    for (size_t i = 0; i < 2; i++) {
        char want[32];
        snprintf(want, sizeof want, "kubepods-%s", qos[i]);
        if (strncmp(c, want, strlen(want)) == 0 || strncmp(c, qos[i], strlen(qos[i])) == 0)
            snprintf(o->qos, sizeof o->qos, "%s", qos[i]);
    }
    const char *pod = NULL;
    for (const char *p = c; p + 3 <= c + n; p++)
        if (strncmp(p, "pod", 3) == 0 && (p == c || p[-1] == '-'))
            pod = p + 3;
    if (pod == NULL || (size_t)(c + n - pod) != 36)
        return;
    for (size_t i = 0; i < 36; i++)
        o->pod_uid[i] = pod[i] == '_' ? '-' : pod[i];
    o->pod_uid[36] = '\0';
    if (!o->qos[0])
        snprintf(o->qos, sizeof o->qos, "guaranteed");
}

bool cgroup_path_owner(const char *path, cgroup_owner *o)
{
    memset(o, 0, sizeof *o);
    bool kube = strstr(path, "kubepods") != NULL;
    char parent[64] = "";
    for (const char *c = path; *c;) {
        size_t n = strcspn(c, "/");
        if (n > 0) {
            if (!container_component(c, n, o, parent) && kube)
                pod_component(c, n, o);
            snprintf(parent, sizeof parent, "%.*s", (int)(n < 63 ? n : 63), c);
        }
        c += n;
        if (*c == '/')
            c++;
    }
    if (!kube)
        o->qos[0] = '\0';
    return o->container_id[0] || o->pod_uid[0];
}

bool cgroup_of_pid(const char *root, int pid, char *path, size_t len)
{
    char rel[64], err[8];
    snprintf(rel, sizeof rel, "proc/%d/cgroup", pid);
    ebuf text;
    ebuf_init(&text);
    bool found = false;
    if (host_read_file(&text, root, rel, err, sizeof err) == 0) {
        /* "hierarchy-ID:controllers:path" lines; v2 is "0::path". */
        for (char *line = text.data; line && *line && !found;) {
            char *nl = strchr(line, '\n');
            if (nl)
                *nl = '\0';
            char *p = strchr(line, ':');
            p = p ? strchr(p + 1, ':') : NULL;
            cgroup_owner o;
            if (p && (strncmp(line, "0::", 3) == 0 || cgroup_path_owner(p + 1, &o))) {
                snprintf(path, len, "%s", p + 1);
                found = true;
            }
            line = nl ? nl + 1 : NULL;
        }
    }
    ebuf_free(&text);
    return found;
}
