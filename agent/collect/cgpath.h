/*
 * cgpath.h — who owns a cgroup: the container id, runtime and Kubernetes
 * pod UID that Docker, containerd, CRI-O and the kubelet write into cgroup
 * paths, for both the cgroupfs and the systemd drivers:
 *   /docker/<id>                     /system.slice/docker-<id>.scope
 *   /kubepods/burstable/pod<uid>/<id>
 *   /kubepods.slice/kubepods-besteffort.slice/
 *       kubepods-besteffort-pod<uid_with_underscores>.slice/cri-containerd-<id>.scope
 * Used by the container collector and to attribute GPU processes.
 */
#ifndef EMBER_AGENT_CGPATH_H
#define EMBER_AGENT_CGPATH_H

#include <stdbool.h>
#include <stddef.h>

typedef struct cgroup_owner {
    char container_id[72]; /* 64 hex digits, "" when none */
    char runtime[24];      /* "docker", "containerd", "crio", "" */
    char pod_uid[40];      /* "" unless under kubepods */
    char qos[16];          /* "guaranteed", "burstable", "besteffort" or "" */
} cgroup_owner;

/* Parse a cgroup path; false when it names neither a container nor a pod. */
bool cgroup_path_owner(const char *path, cgroup_owner *o);
/*
 * The cgroup of pid from root/proc/<pid>/cgroup (the v2 "0::" line, else the
 * first v1 line naming a container) into path; false when unreadable.
 */
bool cgroup_of_pid(const char *root, int pid, char *path, size_t len);

#endif
