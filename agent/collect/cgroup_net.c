/*
 * cgroup_net.c — a container's network counters, cAdvisor's way: the
 * counters of /proc/<pid>/net/dev as seen by a process inside the
 * container's network namespace, minus the interfaces cAdvisor ignores
 * (lo, veth*, docker*, nerdctl*).  A cgroup whose process shares the host's
 * namespace (a systemd service, a --net=host container) gets no network
 * series: they would repeat the host's.
 */
#include "agent/collect/cgroup_internal.h"
#include "agent/collect/procfile.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CG_MAX_DEPTH 32

static int first_pid(cg_round *r, const char *id, int depth)
{
    ebuf t;
    ebuf_init(&t);
    int pid = 0;
    if (cg_read(r, id, "cgroup.procs", &t) == 1)
        pid = atoi(t.data);
    ebuf_free(&t);
    if (pid > 0 || depth >= CG_MAX_DEPTH)
        return pid;
    ebuf dir;
    ebuf_init(&dir);
    host_path(&dir, r->cgroup_root, id);
    DIR *d = opendir(dir.data);
    for (struct dirent *e; d && pid == 0 && (e = readdir(d)) != NULL;) {
        if (e->d_name[0] == '.' || e->d_type != DT_DIR)
            continue;
        ebuf child;
        ebuf_init(&child);
        ebuf_printf(&child, "%s/%s", id, e->d_name);
        pid = first_pid(r, child.data, depth + 1);
        ebuf_free(&child);
    }
    if (d)
        closedir(d);
    ebuf_free(&dir);
    return pid;
}

/* The target of root/proc/<pid>/ns/net, e.g. "net:[4026531840]". */
static bool netns_of(const char *root, const char *pid, char *out, size_t len)
{
    char rel[64];
    snprintf(rel, sizeof rel, "proc/%s/ns/net", pid);
    ebuf path;
    ebuf_init(&path);
    host_path(&path, root, rel);
    ssize_t n = readlink(path.data, out, len - 1);
    ebuf_free(&path);
    if (n <= 0)
        return false;
    out[n] = '\0';
    return true;
}

static bool ignored_interface(const char *name)
{
    static const char *const prefixes[] = {"lo", "veth", "docker", "nerdctl"};
    if (strcmp(name, "lo") == 0)
        return true;
    for (size_t i = 1; i < sizeof prefixes / sizeof prefixes[0]; i++)
        if (strncmp(name, prefixes[i], strlen(prefixes[i])) == 0)
            return true;
    return false;
}

/* /proc/net/dev columns after "iface:" that cAdvisor exports. */
static const struct {
    size_t col;
    const char *name, *help;
} net_cols[] = {
    {0, "container_network_receive_bytes_total", "Cumulative count of bytes received"},
    {1, "container_network_receive_packets_total", "Cumulative count of packets received"},
    {2, "container_network_receive_errors_total",
     "Cumulative count of errors encountered while receiving"},
    {3, "container_network_receive_packets_dropped_total",
     "Cumulative count of packets dropped while receiving"},
    {8, "container_network_transmit_bytes_total", "Cumulative count of bytes transmitted"},
    {9, "container_network_transmit_packets_total", "Cumulative count of packets transmitted"},
    {10, "container_network_transmit_errors_total",
     "Cumulative count of errors encountered while transmitting"},
    {11, "container_network_transmit_packets_dropped_total",
     "Cumulative count of packets dropped while transmitting"},
};
#define NNET (sizeof net_cols / sizeof net_cols[0])

static bool parse_interface(char *line, char **name, double *vals)
{
    char *colon = strchr(line, ':');
    if (colon == NULL)
        return false;
    *colon = '\0';
    *name = line + strspn(line, " ");
    char *fields[17];
    if (host_split_fields(colon + 1, fields, 16) != 16)
        return false;
    for (size_t i = 0; i < 16; i++)
        if (host_parse_number(fields[i], &vals[i]) != 0)
            return false;
    return true;
}

static void emit_interface(cg_round *r, const labelset *base, const char *name, const double *vals)
{
    for (size_t i = 0; i < NNET; i++) {
        labelset ls;
        labels_copy(&ls, base);
        labels_set(&ls, LABEL_METRIC_NAME, net_cols[i].name);
        labels_set(&ls, "interface", name);
        metric_set_meta(r->ms, net_cols[i].name, METRIC_COUNTER, net_cols[i].help);
        metric_set_add(r->ms, &ls, vals[net_cols[i].col], false, 0);
    }
}

void cg_collect_network(cg_round *r, const char *id, const labelset *base)
{
    int pid = first_pid(r, id, 0);
    if (pid <= 0)
        return;
    char spid[16], ns[64], rel[64], err[256];
    snprintf(spid, sizeof spid, "%d", pid);
    if (r->host_netns[0] && netns_of(r->root, spid, ns, sizeof ns) &&
        strcmp(ns, r->host_netns) == 0)
        return;
    snprintf(rel, sizeof rel, "proc/%d/net/dev", pid);
    ebuf t;
    ebuf_init(&t);
    if (host_read_file(&t, r->root, rel, err, sizeof err) != 0) {
        ebuf_free(&t); /* the process may just have exited */
        return;
    }
    size_t lineno = 0;
    for (char *line = t.data, *nl; line && *line; line = nl ? nl + 1 : NULL) {
        nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        if (++lineno <= 2) /* two header lines */
            continue;
        char *name;
        double vals[16];
        if (!parse_interface(line, &name, vals)) {
            cg_error(r, "%s: line %zu is not \"IFACE: 16 counters\"", rel, lineno);
            break;
        }
        if (!ignored_interface(name))
            emit_interface(r, base, name, vals);
    }
    ebuf_free(&t);
}

void cg_host_netns(cg_round *r)
{
    if (!netns_of(r->root, "1", r->host_netns, sizeof r->host_netns))
        r->host_netns[0] = '\0';
}
