/*
 * cgroup.c — the container collector: one set of cAdvisor-named series per
 * container cgroup of the cgroup v2 (unified) hierarchy.
 *
 * Which cgroups: a directory whose own name is a container (Docker,
 * containerd, CRI-O, for both cgroup drivers; see cgpath.h), a Kubernetes
 * pod's cgroup (pod<uid>, kubepods-*-pod<uid>.slice), or a systemd service
 * (*.service).  Slices, session scopes and the root are walked through but
 * give no series of their own.
 *
 * Labels, as cAdvisor's: id (the cgroup path), name (Docker's container
 * name when its state is readable, else the container id; none for pods and
 * services), and for Kubernetes namespace, pod and container
 * (cgroup_names.c).  Series of a cgroup that vanished between two rounds end
 * with staleness markers.
 *
 * cgroup v1 and the hybrid layout (v2 mounted at /sys/fs/cgroup/unified
 * with no controllers) are not supported: cgroup_open fails and the agent
 * logs that once.
 */
#include "agent/collect/cgroup_internal.h"
#include "agent/collect/collect.h"
#include "agent/collect/procfile.h"
#include "agent/collect/stale.h"

#include "common/err.h"
#include "common/etime.h"
#include "common/mem.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CG_MAX_DEPTH 32

struct cgroup_collector {
    char *root, *cgroup_root;
    stale_tracker stale;
};

void cg_error(cg_round *r, const char *fmt, ...)
{
    if (r->errors++ == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->first_error, sizeof r->first_error, fmt, ap);
        va_end(ap);
    }
}

int cg_read(cg_round *r, const char *id, const char *file, ebuf *text)
{
    ebuf rel;
    ebuf_init(&rel);
    ebuf_printf(&rel, "%s/%s", id, file);
    ebuf path;
    ebuf_init(&path);
    host_path(&path, r->cgroup_root, rel.data);
    int rc = 1;
    char err[256];
    if (access(path.data, F_OK) != 0)
        rc = 0; /* controller not enabled here, or the cgroup just went */
    else if (host_read_file(text, r->cgroup_root, rel.data, err, sizeof err) != 0) {
        cg_error(r, "%s", err);
        rc = -1;
    }
    ebuf_free(&path);
    ebuf_free(&rel);
    return rc;
}

int cgroup_open(cgroup_collector **out, const cgroup_options *opt, char *err, size_t errlen)
{
    const char *root = opt->root ? opt->root : "/";
    ebuf dir, probe;
    ebuf_init(&dir);
    ebuf_init(&probe);
    if (opt->cgroup_root)
        ebuf_puts(&dir, opt->cgroup_root);
    else
        host_path(&dir, root, "sys/fs/cgroup");
    host_path(&probe, dir.data, "cgroup.controllers");
    int rc = 0;
    if (access(probe.data, R_OK) != 0) {
        err_set(err, errlen,
                "%s is not a cgroup v2 (unified) hierarchy (cgroup v1 or hybrid layout)", dir.data);
        rc = -1;
    } else {
        cgroup_collector *c = em_calloc(1, sizeof *c);
        c->root = em_strdup(root);
        c->cgroup_root = em_strdup(dir.data);
        stale_tracker_init(&c->stale);
        *out = c;
    }
    ebuf_free(&probe);
    ebuf_free(&dir);
    return rc;
}

void cgroup_close(cgroup_collector *c)
{
    if (c == NULL)
        return;
    stale_tracker_free(&c->stale);
    free(c->root);
    free(c->cgroup_root);
    free(c);
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* id's series, if its own name makes it a container, a pod or a service. */
static void visit(cg_round *r, const char *id, const char *leaf)
{
    cgroup_owner o, self;
    bool owned = cgroup_path_owner(id, &o);
    bool container = cgroup_path_owner(leaf, &self) && self.container_id[0];
    bool pod = owned && !o.container_id[0] && o.pod_uid[0];
    if (!container && !pod && !ends_with(leaf, ".service"))
        return;
    labelset base;
    labels_init(&base);
    labels_set(&base, "id", id);
    if (container) {
        char name[256];
        if (!cg_names_docker(r, o.container_id, name, sizeof name))
            snprintf(name, sizeof name, "%s", o.container_id);
        labels_set(&base, "name", name);
    }
    if (o.pod_uid[0])
        cg_names_kube(r, &o, &base);
    cg_collect_stats(r, id, &base, container || pod);
    labels_free(&base);
}

static void walk(cg_round *r, ebuf *id, int depth)
{
    ebuf dir;
    ebuf_init(&dir);
    host_path(&dir, r->cgroup_root, id->data);
    DIR *d = opendir(dir.data);
    ebuf_free(&dir);
    if (d == NULL)
        return; /* removed while we walked */
    size_t keep = id->len;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (e->d_name[0] == '.' || e->d_type != DT_DIR)
            continue;
        ebuf_printf(id, "/%s", e->d_name);
        visit(r, id->data, e->d_name);
        if (depth < CG_MAX_DEPTH)
            walk(r, id, depth + 1);
        id->len = keep;
        id->data[keep] = '\0';
    }
    closedir(d);
}

int collect_cgroup(cgroup_collector *c, metric_set *out, char *err, size_t errlen)
{
    if (c == NULL)
        return 0;
    cg_round r = {.root = c->root, .cgroup_root = c->cgroup_root, .ms = out};
    size_t from = out->n;
    cg_host_netns(&r);
    cg_names_load(&r);
    ebuf id;
    ebuf_init(&id);
    ebuf_puts(&id, "");
    walk(&r, &id, 0);
    ebuf_free(&id);
    cg_names_free(&r);
    stale_tracker_update(&c->stale, out, from, now_ms());
    if (r.errors) {
        err_set(err, errlen, "%u cgroup files unreadable or malformed, first: %s", r.errors,
                r.first_error);
        return -1;
    }
    return 0;
}
