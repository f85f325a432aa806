/*
 * cgroup_internal.h — what the files of the container collector share:
 * cgroup.c walks the unified hierarchy and owns the lifecycle,
 * cgroup_stats.c turns one cgroup's files into cAdvisor's series,
 * cgroup_names.c finds names (Docker's state, the kubelet's log
 * directories) for the labels.
 */
#ifndef EMBER_AGENT_CGROUP_INTERNAL_H
#define EMBER_AGENT_CGROUP_INTERNAL_H

#include "agent/collect/cgpath.h"
#include "common/buf.h"
#include "common/expfmt.h"
#include "common/labels.h"
#include "common/strmap.h"

#include <stdbool.h>
#include <stddef.h>

/* One collection round: where to read, and the errors met on the way. */
typedef struct cg_round {
    const char *root;        /* root of /proc, /sys, /var */
    const char *cgroup_root; /* the unified hierarchy's mount point */
    metric_set *ms;
    unsigned errors;
    char first_error[256];
    char host_netns[64]; /* readlink of proc/1/ns/net, "" when unknown */
    /* Kubernetes names by container id and by pod UID (cgroup_names.c) */
    strmap kube_ids, kube_pods;
    char **kube_names; /* "namespace\0pod\0container\0", indexed by the maps */
    size_t nkube, capkube;
} cg_round;

/* Count a bad file; the first one's reason is kept for the log. */
void cg_error(cg_round *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Read cgroup_root/id/file into text: 1 read, 0 absent, -1 error (counted). */
int cg_read(cg_round *r, const char *id, const char *file, ebuf *text);

/* Every series of one cgroup, labelled with base (id, name, ...). */
void cg_collect_stats(cg_round *r, const char *id, const labelset *base, bool own_netns);

/*
 * container_network_*_total{interface} from /proc/<pid>/net/dev of the
 * first process of the cgroup or of a descendant (a pod's processes live in
 * its containers' cgroups), unless that process shares the host's network
 * namespace.
 */
void cg_collect_network(cg_round *r, const char *id, const labelset *base);
/* Fill r->host_netns from proc/1/ns/net. */
void cg_host_netns(cg_round *r);

/* Load the kubelet's names of containers and pods for this round. */
void cg_names_load(cg_round *r);
void cg_names_free(cg_round *r);
/* namespace, pod and container (when known) of a Kubernetes cgroup. */
void cg_names_kube(const cg_round *r, const cgroup_owner *o, labelset *ls);
/* Docker's name of a container ("web"), false when not readable. */
bool cg_names_docker(const cg_round *r, const char *id, char *name, size_t len);

#endif
