/*
 * cgroup_names.c — human names for the container collector's labels.
 *
 * Kubernetes: the kubelet names every container's log after it, whatever
 * the runtime, so the names need no runtime API:
 *   /var/log/containers/<pod>_<namespace>_<container>-<container id>.log
 *   /var/log/pods/<namespace>_<pod>_<pod uid>/
 * Pod names, namespaces and container names are DNS labels (no '_'), so the
 * split is unambiguous.  Both directories are listed once per round.
 *
 * Docker: the container's name is "Name" in
 * /var/lib/docker/containers/<id>/config.v2.json (with a leading '/').
 */
#include "agent/collect/cgroup_internal.h"
#include "agent/collect/procfile.h"

#include "common/mem.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Store "ns\0pod\0container\0" and index it under key. */
static void remember(cg_round *r, strmap *m, const char *key, size_t klen, const char *ns,
                     size_t nslen, const char *pod, size_t podlen, const char *ctr, size_t ctrlen)
{
    if (r->nkube == r->capkube) {
        r->capkube = r->capkube ? r->capkube * 2 : 16;
        r->kube_names = em_realloc(r->kube_names, r->capkube * sizeof *r->kube_names);
    }
    char *v = em_malloc(nslen + podlen + ctrlen + 3);
    memcpy(v, ns, nslen);
    v[nslen] = '\0';
    memcpy(v + nslen + 1, pod, podlen);
    v[nslen + 1 + podlen] = '\0';
    memcpy(v + nslen + podlen + 2, ctr, ctrlen);
    v[nslen + podlen + 2 + ctrlen] = '\0';
    strmap_put(m, key, klen, r->nkube);
    r->kube_names[r->nkube++] = v;
}

/* "<pod>_<namespace>_<container>-<64 hex>.log" */
static void container_log(cg_round *r, const char *n)
{
    size_t len = strlen(n);
    const char *u1 = strchr(n, '_');
    const char *u2 = u1 ? strchr(u1 + 1, '_') : NULL;
    if (!u2 || len < 4 + 65 || strcmp(n + len - 4, ".log") != 0)
        return;
    const char *id = n + len - 4 - 64;
    if (id[-1] != '-' || id - 1 <= u2 + 1)
        return;
    remember(r, &r->kube_ids, id, 64, u1 + 1, (size_t)(u2 - u1 - 1), n, (size_t)(u1 - n), u2 + 1,
             (size_t)(id - 1 - u2 - 1));
}

/* "<namespace>_<pod>_<uid>" */
static void pod_dir(cg_round *r, const char *n)
{
    const char *u1 = strchr(n, '_');
    const char *u2 = u1 ? strchr(u1 + 1, '_') : NULL;
    if (!u2 || strlen(u2 + 1) != 36)
        return;
    remember(r, &r->kube_pods, u2 + 1, 36, n, (size_t)(u1 - n), u1 + 1, (size_t)(u2 - u1 - 1), "",
             0);
}

static void scan(cg_round *r, const char *rel, void (*fn)(cg_round *, const char *))
{
    ebuf path;
    ebuf_init(&path);
    host_path(&path, r->root, rel);
    DIR *d = opendir(path.data);
    for (struct dirent *e; d && (e = readdir(d)) != NULL;)
        if (e->d_name[0] != '.')
            fn(r, e->d_name);
    if (d)
        closedir(d);
    ebuf_free(&path);
}

void cg_names_load(cg_round *r)
{
    strmap_init(&r->kube_ids);
    strmap_init(&r->kube_pods);
    scan(r, "var/log/containers", container_log);
    scan(r, "var/log/pods", pod_dir);
}

void cg_names_free(cg_round *r)
{
    for (size_t i = 0; i < r->nkube; i++)
        free(r->kube_names[i]);
    free(r->kube_names);
    r->kube_names = NULL;
    r->nkube = r->capkube = 0;
    strmap_free(&r->kube_ids);
    strmap_free(&r->kube_pods);
}

static void set_nonempty(labelset *ls, const char *name, const char *value)
{
    if (value[0])
        labels_set(ls, name, value);
}

void cg_names_kube(const cg_round *r, const cgroup_owner *o, labelset *ls)
{
    uint64_t i;
    bool found = (o->container_id[0] &&
                  strmap_get(&r->kube_ids, o->container_id, strlen(o->container_id), &i)) ||
                 (o->pod_uid[0] && strmap_get(&r->kube_pods, o->pod_uid, 36, &i));
    if (!found)
        return;
    const char *ns = r->kube_names[i];
    const char *pod = ns + strlen(ns) + 1;
    const char *ctr = pod + strlen(pod) + 1;
    set_nonempty(ls, "namespace", ns);
    set_nonempty(ls, "pod", pod);
    if (o->container_id[0]) /* a pod's own cgroup has no container label */
        set_nonempty(ls, "container", ctr);
}

bool cg_names_docker(const cg_round *r, const char *id, char *name, size_t len)
{
    char rel[160], err[8];
    snprintf(rel, sizeof rel, "var/lib/docker/containers/%s/config.v2.json", id);
    ebuf t;
    ebuf_init(&t);
    bool ok = false;
    if (host_read_file(&t, r->root, rel, err, sizeof err) == 0) {
        const char *p = strstr(t.data, "\"Name\":\"/");
        if (p) {
            p += 9;
            size_t n = strcspn(p, "\"");
            ok = n > 0 && p[n] == '"';
            if (ok)
                snprintf(name, len, "%.*s", (int)n, p);
        }
    }
    ebuf_free(&t);
    return ok;
}
