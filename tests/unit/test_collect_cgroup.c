/*
 * test_collect_cgroup.c — the cgroup v2 container collector on fixture
 * trees written per test: Docker (systemd driver), containerd (cgroupfs,
 * namespace "default"), Kubernetes pods under kubepods for both cgroup
 * drivers, a systemd service and slices that give no series; exact values,
 * cAdvisor's names and labels, staleness markers for a container that went,
 * bad files, a v1/hybrid machine, and this machine's own hierarchy.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/unit/metric_asserts.h"

#include "agent/collect/collect.h"
#include "agent/collect/stale.h"

#include "common/fsutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ID_DOCKER "1111111111111111111111111111111111111111111111111111111111111111"
#define ID_CTRD "2222222222222222222222222222222222222222222222222222222222222222"
#define ID_KUBE "3333333333333333333333333333333333333333333333333333333333333333"
#define ID_KUBE2 "4444444444444444444444444444444444444444444444444444444444444444"
#define POD_UID "0a1b2c3d-0000-4000-8000-000000000001"
#define POD_UID_ "0a1b2c3d_0000_4000_8000_000000000001"
#define POD2_UID "0a1b2c3d-0000-4000-8000-000000000002"

#define DOCKER_CG "/system.slice/docker-" ID_DOCKER ".scope"
#define KUBE_POD_CG                                                                                \
    "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" POD_UID_ ".slice"
#define KUBE_CG KUBE_POD_CG "/cri-containerd-" ID_KUBE ".scope"
#define KUBE2_CG "/kubepods/besteffort/pod" POD2_UID "/" ID_KUBE2

static void put_cg(const char *root, const char *cg, const char *file, const char *content)
{
    char rel[1024];
    snprintf(rel, sizeof rel, "sys/fs/cgroup%s/%s", cg, file);
    put_file(root, rel, content);
}

static void netns(const char *root, int pid, const char *target)
{
    char rel[64], path[512];
    snprintf(rel, sizeof rel, "proc/%d/ns/keep", pid);
    put_file(root, rel, "");
    snprintf(path, sizeof path, "%s/proc/%d/ns/net", root, pid);
    assert_int_equal(symlink(target, path), 0);
}

static const char net_dev[] =
    "Inter-|   Receive                                                |  Transmit\n"
    " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs "
    "drop fifo colls carrier compressed\n"
    "    lo:     100       1    0    0    0     0          0         0      100       1    0    "
    "0    0     0       0          0\n"
    "  eth0:  123456     789    2    3    0     0          0         0    65432     456    4    "
    "5    0     0       0          0\n";

/* Every file of a container cgroup, values offset by k so containers differ. */
static void full_cgroup(const char *root, const char *cg, int k, int pid)
{
    char buf[512];
    snprintf(buf, sizeof buf,
             "usage_usec %d500000\nuser_usec %d000000\nsystem_usec 500000\nnr_periods 40\n"
             "nr_throttled 4\nthrottled_usec 250000\n",
             k, k);
    put_cg(root, cg, "cpu.stat", buf);
    snprintf(buf, sizeof buf, "%d000000\n", k * 100);
    put_cg(root, cg, "memory.current", buf);
    put_cg(root, cg, "memory.stat",
           "anon 60000000\nfile 30000000\nkernel 1000\nactive_file 10000000\n"
           "inactive_file 20000000\n");
    put_cg(root, cg, "memory.swap.current", "4096\n");
    put_cg(root, cg, "memory.max", "536870912\n");
    put_cg(root, cg, "cpu.max", "50000 100000\n");
    put_cg(root, cg, "io.stat",
           "8:0 rbytes=1048576 wbytes=2097152 rios=10 wios=20 dbytes=0 dios=0\n");
    put_cg(root, cg, "memory.events", "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n");
    put_cg(root, cg, "pids.current", "7\n");
    snprintf(buf, sizeof buf, "%d\n%d\n", pid, pid + 1);
    put_cg(root, cg, "cgroup.procs", buf);
    put_cg(root, cg, "cpu.pressure",
           "some avg10=0.00 avg60=0.00 avg300=0.00 total=1500000\n"
           "full avg10=0.00 avg60=0.00 avg300=0.00 total=500000\n");
    put_cg(root, cg, "memory.pressure",
           "some avg10=0.00 avg60=0.00 avg300=0.00 total=2000000\n"
           "full avg10=0.00 avg60=0.00 avg300=0.00 total=1000000\n");
    put_cg(root, cg, "io.pressure",
           "some avg10=0.00 avg60=0.00 avg300=0.00 total=3000000\n"
           "full avg10=0.00 avg60=0.00 avg300=0.00 total=2500000\n");
    char rel[64];
    snprintf(rel, sizeof rel, "proc/%d/net/dev", pid);
    put_file(root, rel, net_dev);
    netns(root, pid, "net:[4026532001]");
}

static int setup(void **state)
{
    char *root = malloc(256);
    assert_int_equal(fs_mkdtemp(root, 256, "ember-cgroup"), 0);
    put_file(root, "sys/fs/cgroup/cgroup.controllers",
             "cpuset cpu io memory hugetlb pids rdma misc\n");
    put_file(root, "sys/dev/block/8:0/uevent", "MAJOR=8\nMINOR=0\nDEVNAME=sda\nDEVTYPE=disk\n");
    netns(root, 1, "net:[4026531840]");
    /* Docker, systemd driver, name in its state */
    full_cgroup(root, DOCKER_CG, 1, 4242);
    put_file(root, "var/lib/docker/containers/" ID_DOCKER "/config.v2.json",
             "{\"ID\":\"" ID_DOCKER "\",\"Name\":\"/web\",\"Driver\":\"overlay2\"}");
    /* containerd on its own, cgroupfs driver, namespace "default" */
    full_cgroup(root, "/default/" ID_CTRD, 2, 5000);
    /* Kubernetes, systemd driver: the pod and its container */
    put_cg(root, KUBE_POD_CG, "cpu.stat",
           "usage_usec 9000000\nuser_usec 6000000\n"
           "system_usec 3000000\n");
    put_cg(root, KUBE_POD_CG, "cgroup.procs", "");
    full_cgroup(root, KUBE_CG, 3, 6000);
    put_file(root, "var/log/containers/web-7d9f_shop_nginx-" ID_KUBE ".log", "");
    put_file(root, "var/log/pods/shop_web-7d9f_" POD_UID "/nginx/0.log", "");
    /* Kubernetes, cgroupfs driver, no kubelet logs for it: UID only */
    full_cgroup(root, KUBE2_CG, 4, 7000);
    /* a systemd service in the host's network namespace, and slices */
    put_cg(root, "/system.slice/nginx.service", "cpu.stat",
           "usage_usec 700000\nuser_usec 400000\nsystem_usec 300000\n");
    put_cg(root, "/system.slice/nginx.service", "memory.max", "max\n");
    put_cg(root, "/system.slice/nginx.service", "cpu.max", "max 100000\n");
    put_cg(root, "/system.slice/nginx.service", "cgroup.procs", "100\n");
    put_file(root, "proc/100/net/dev", net_dev);
    netns(root, 100, "net:[4026531840]");
    put_cg(root, "/user.slice/user-1000.slice/session-1.scope", "cpu.stat",
           "usage_usec 1\nuser_usec 1\nsystem_usec 0\n");
    *state = root;
    return 0;
}

static int teardown(void **state)
{
    fs_rmtree(*state);
    free(*state);
    return 0;
}

static cgroup_collector *open_root(const char *root)
{
    cgroup_options o = {.root = root};
    cgroup_collector *c = NULL;
    char err[512];
    assert_int_equal(cgroup_open(&c, &o, err, sizeof err), 0);
    return c;
}

static void collect(cgroup_collector *c, metric_set *ms, int want_rc)
{
    char err[512] = "";
    int rc = collect_cgroup(c, ms, err, sizeof err);
    if (rc != want_rc)
        fail_msg("collect_cgroup: %d (%s)", rc, err);
}

/* The one sample named name with id=cg and the extra label pair (or NULL). */
static const metric_sample *find(const metric_set *ms, const char *name, const char *cg,
                                 const char *k, const char *v)
{
    const metric_sample *hit = NULL;
    for (size_t i = 0; i < ms->n; i++) {
        const labelset *ls = &ms->samples[i].labels;
        const char *id = labels_get(ls, "id"), *have = k ? labels_get(ls, k) : NULL;
        if (strcmp(labels_metric_name(ls), name) != 0 || !id || strcmp(id, cg) != 0 ||
            (k && (!have || strcmp(have, v) != 0)))
            continue;
        assert_null(hit); /* one series only */
        hit = &ms->samples[i];
    }
    return hit;
}

static double value(const metric_set *ms, const char *name, const char *cg)
{
    const metric_sample *s = find(ms, name, cg, NULL, NULL);
    if (s == NULL)
        fail_msg("no %s{id=\"%s\"}", name, cg);
    return s->value;
}

static size_t count_id(const metric_set *ms, const char *cg)
{
    size_t n = 0;
    for (size_t i = 0; i < ms->n; i++) {
        const char *id = labels_get(&ms->samples[i].labels, "id");
        n += id && strcmp(id, cg) == 0;
    }
    return n;
}

static void test_docker_values(void **state)
{
    cgroup_collector *c = open_root(*state);
    metric_set ms;
    metric_set_init(&ms);
    collect(c, &ms, 0);
    const metric_sample *u =
        find(&ms, "container_cpu_usage_seconds_total", DOCKER_CG, "cpu", "total");
    assert_non_null(u);
    assert_float_equal(u->value, 1.5, 1e-9);
    assert_string_equal(labels_get(&u->labels, "name"), "web");
    assert_null(labels_get(&u->labels, "pod"));
    assert_float_equal(value(&ms, "container_cpu_user_seconds_total", DOCKER_CG), 1.0, 1e-9);
    assert_float_equal(value(&ms, "container_cpu_system_seconds_total", DOCKER_CG), 0.5, 1e-9);
    assert_float_equal(value(&ms, "container_cpu_cfs_periods_total", DOCKER_CG), 40, 0);
    assert_float_equal(value(&ms, "container_cpu_cfs_throttled_periods_total", DOCKER_CG), 4, 0);
    assert_float_equal(value(&ms, "container_cpu_cfs_throttled_seconds_total", DOCKER_CG), 0.25,
                       1e-9);
    assert_float_equal(value(&ms, "container_memory_usage_bytes", DOCKER_CG), 100e6, 0);
    assert_float_equal(value(&ms, "container_memory_working_set_bytes", DOCKER_CG), 80e6, 0);
    assert_float_equal(value(&ms, "container_memory_rss", DOCKER_CG), 60e6, 0);
    assert_float_equal(value(&ms, "container_memory_cache", DOCKER_CG), 30e6, 0);
    assert_float_equal(value(&ms, "container_memory_swap", DOCKER_CG), 4096, 0);
    assert_float_equal(value(&ms, "container_spec_memory_limit_bytes", DOCKER_CG), 536870912, 0);
    assert_float_equal(value(&ms, "container_spec_cpu_quota", DOCKER_CG), 50000, 0);
    assert_float_equal(value(&ms, "container_spec_cpu_period", DOCKER_CG), 100000, 0);
    assert_float_equal(
        find(&ms, "container_fs_reads_bytes_total", DOCKER_CG, "device", "/dev/sda")->value,
        1048576, 0);
    assert_float_equal(
        find(&ms, "container_fs_writes_bytes_total", DOCKER_CG, "device", "/dev/sda")->value,
        2097152, 0);
    assert_float_equal(value(&ms, "container_oom_events_total", DOCKER_CG), 1, 0);
    assert_float_equal(value(&ms, "container_processes", DOCKER_CG), 7, 0);
    assert_float_equal(value(&ms, "container_pressure_cpu_waiting_seconds_total", DOCKER_CG), 1.5,
                       1e-9);
    assert_float_equal(value(&ms, "container_pressure_cpu_stalled_seconds_total", DOCKER_CG), 0.5,
                       1e-9);
    assert_float_equal(value(&ms, "container_pressure_memory_stalled_seconds_total", DOCKER_CG),
                       1.0, 1e-9);
    assert_float_equal(value(&ms, "container_pressure_io_waiting_seconds_total", DOCKER_CG), 3.0,
                       1e-9);
    static const struct {
        const char *name;
        double v;
    } net[] = {{"container_network_receive_bytes_total", 123456},
               {"container_network_receive_packets_total", 789},
               {"container_network_receive_errors_total", 2},
               {"container_network_receive_packets_dropped_total", 3},
               {"container_network_transmit_bytes_total", 65432},
               {"container_network_transmit_packets_total", 456},
               {"container_network_transmit_errors_total", 4},
               {"container_network_transmit_packets_dropped_total", 5}};
    for (size_t i = 0; i < sizeof net / sizeof net[0]; i++) {
        const metric_sample *s = find(&ms, net[i].name, DOCKER_CG, "interface", "eth0");
        assert_non_null(s);
        assert_float_equal(s->value, net[i].v, 0);
        assert_null(find(&ms, net[i].name, DOCKER_CG, "interface", "lo"));
    }
    const metric_meta *m = metric_set_find_meta(&ms, "container_cpu_usage_seconds_total");
    assert_int_equal(m->type, METRIC_COUNTER);
    assert_string_equal(m->help, "Cumulative cpu time consumed in seconds.");
    assert_int_equal(count_id(&ms, DOCKER_CG),
                     32); /* 6 cpu, 2 spec, 7 memory, 2 fs, 6 PSI, 1 processes, 8 network */
    metric_set_free(&ms);
    cgroup_close(c);
}

static void test_containerd_and_kubepods(void **state)
{
    cgroup_collector *c = open_root(*state);
    metric_set ms;
    metric_set_init(&ms);
    collect(c, &ms, 0);
    /* containerd alone: the name is the container id */
    const metric_sample *s =
        find(&ms, "container_memory_usage_bytes", "/default/" ID_CTRD, NULL, NULL);
    assert_non_null(s);
    assert_float_equal(s->value, 200e6, 0);
    assert_string_equal(labels_get(&s->labels, "name"), ID_CTRD);
    /* kubepods, systemd driver: names from the kubelet's log directories */
    s = find(&ms, "container_cpu_usage_seconds_total", KUBE_CG, "cpu", "total");
    assert_non_null(s);
    assert_float_equal(s->value, 3.5, 1e-9);
    assert_string_equal(labels_get(&s->labels, "namespace"), "shop");
    assert_string_equal(labels_get(&s->labels, "pod"), "web-7d9f");
    assert_string_equal(labels_get(&s->labels, "container"), "nginx");
    assert_string_equal(labels_get(&s->labels, "name"), ID_KUBE);
    /* the pod's own cgroup: pod labels, no container, network of its container */
    s = find(&ms, "container_cpu_usage_seconds_total", KUBE_POD_CG, "cpu", "total");
    assert_non_null(s);
    assert_float_equal(s->value, 9.0, 1e-9);
    assert_string_equal(labels_get(&s->labels, "pod"), "web-7d9f");
    assert_string_equal(labels_get(&s->labels, "namespace"), "shop");
    assert_null(labels_get(&s->labels, "container"));
    assert_null(labels_get(&s->labels, "name"));
    assert_non_null(
        find(&ms, "container_network_receive_bytes_total", KUBE_POD_CG, "interface", "eth0"));
    /* kubepods, cgroupfs driver, no kubelet logs: series with id and name only */
    s = find(&ms, "container_memory_usage_bytes", KUBE2_CG, NULL, NULL);
    assert_non_null(s);
    assert_float_equal(s->value, 400e6, 0);
    assert_null(labels_get(&s->labels, "pod"));
    assert_string_equal(labels_get(&s->labels, "name"), ID_KUBE2);
    metric_set_free(&ms);
    cgroup_close(c);
}

static void test_services_and_slices(void **state)
{
    cgroup_collector *c = open_root(*state);
    metric_set ms;
    metric_set_init(&ms);
    collect(c, &ms, 0);
    const char *svc = "/system.slice/nginx.service";
    assert_float_equal(value(&ms, "container_cpu_usage_seconds_total", svc), 0.7, 1e-9);
    assert_float_equal(value(&ms, "container_spec_memory_limit_bytes", svc), 18446744073709551615.0,
                       0);
    assert_null(find(&ms, "container_spec_cpu_quota", svc, NULL, NULL)); /* "max" */
    assert_float_equal(value(&ms, "container_spec_cpu_period", svc), 100000, 0);
    assert_float_equal(value(&ms, "container_processes", svc), 1, 0); /* cgroup.procs */
    assert_null(find(&ms, "container_network_receive_bytes_total", svc, "interface", "eth0"));
    assert_null(labels_get(&find(&ms, "container_processes", svc, NULL, NULL)->labels, "name"));
    assert_int_equal(count_id(&ms, "/system.slice"), 0);
    assert_int_equal(count_id(&ms, "/user.slice/user-1000.slice/session-1.scope"), 0);
    assert_int_equal(count_id(&ms, "/kubepods.slice"), 0);
    metric_set_free(&ms);
    cgroup_close(c);
}

static void test_vanished_container_goes_stale(void **state)
{
    const char *root = *state;
    cgroup_collector *c = open_root(root);
    metric_set ms;
    metric_set_init(&ms);
    collect(c, &ms, 0);
    size_t docker_series = count_id(&ms, DOCKER_CG);
    metric_set_clear(&ms);
    char path[1024];
    snprintf(path, sizeof path, "%s/sys/fs/cgroup%s", root, DOCKER_CG);
    assert_int_equal(fs_rmtree(path), 0);
    collect(c, &ms, 0);
    size_t markers = 0;
    for (size_t i = 0; i < ms.n; i++) {
        const char *id = labels_get(&ms.samples[i].labels, "id");
        if (strcmp(id, DOCKER_CG) == 0) {
            assert_true(is_stale_nan(ms.samples[i].value));
            assert_true(ms.samples[i].has_ts);
            markers++;
        } else {
            assert_false(is_stale_nan(ms.samples[i].value));
        }
    }
    assert_int_equal(markers, docker_series);
    metric_set_clear(&ms);
    collect(c, &ms, 0); /* ended once, then gone */
    assert_int_equal(count_id(&ms, DOCKER_CG), 0);
    metric_set_free(&ms);
    cgroup_close(c);
}

static void test_bad_files_cost_only_themselves(void **state)
{
    const char *root = *state;
    put_cg(root, DOCKER_CG, "cpu.stat", "usage_usec lots\n");
    put_cg(root, DOCKER_CG, "memory.current", "12abc\n");
    put_cg(root, DOCKER_CG, "io.stat", "8:0 garbage\n");
    put_file(root, "proc/4242/net/dev", "h1\nh2\neth0 no colon here\n");
    cgroup_collector *c = open_root(root);
    metric_set ms;
    metric_set_init(&ms);
    char err[512];
    assert_int_equal(collect_cgroup(c, &ms, err, sizeof err), -1);
    assert_non_null(strstr(err, "4 cgroup files"));
    assert_non_null(strstr(err, "cpu.stat"));
    assert_null(find(&ms, "container_cpu_usage_seconds_total", DOCKER_CG, NULL, NULL));
    assert_null(find(&ms, "container_memory_usage_bytes", DOCKER_CG, NULL, NULL));
    assert_float_equal(value(&ms, "container_memory_rss", DOCKER_CG), 60e6, 0);
    assert_float_equal(value(&ms, "container_memory_usage_bytes", "/default/" ID_CTRD), 200e6, 0);
    metric_set_free(&ms);
    cgroup_close(c);
}

static void test_v1_or_hybrid_gives_no_collector(void **state)
{
    char *root = *state;
    char path[512];
    snprintf(path, sizeof path, "%s/sys/fs/cgroup/cgroup.controllers", root);
    assert_int_equal(unlink(path), 0);
    put_file(root, "sys/fs/cgroup/unified/cgroup.controllers", ""); /* hybrid */
    cgroup_options o = {.root = root};
    cgroup_collector *c = NULL;
    char err[512];
    assert_int_equal(cgroup_open(&c, &o, err, sizeof err), -1);
    assert_null(c);
    assert_non_null(strstr(err, "not a cgroup v2"));
    metric_set ms;
    metric_set_init(&ms);
    assert_int_equal(collect_cgroup(NULL, &ms, err, sizeof err), 0);
    assert_int_equal(ms.n, 0);
    /* --path.cgroup points at another hierarchy */
    snprintf(path, sizeof path, "%s/sys/fs/cgroup/unified", root);
    o.cgroup_root = path;
    assert_int_equal(cgroup_open(&c, &o, err, sizeof err), 0);
    assert_int_equal(collect_cgroup(c, &ms, err, sizeof err), 0);
    assert_int_equal(ms.n, 0);
    cgroup_close(c);
    metric_set_free(&ms);
}

static void test_this_machine(void **state)
{
    (void)state;
    cgroup_options o = {.root = "/"};
    cgroup_collector *c = NULL;
    char err[512];
    if (cgroup_open(&c, &o, err, sizeof err) != 0) {
        assert_non_null(strstr(err, "not a cgroup v2"));
        return;
    }
    metric_set ms;
    metric_set_init(&ms);
    collect_cgroup(c, &ms, err, sizeof err); /* whatever runs here: no crash */
    metric_set_free(&ms);
    cgroup_close(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_docker_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_containerd_and_kubepods, setup, teardown),
        cmocka_unit_test_setup_teardown(test_services_and_slices, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vanished_container_goes_stale, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_files_cost_only_themselves, setup, teardown),
        cmocka_unit_test_setup_teardown(test_v1_or_hybrid_gives_no_collector, setup, teardown),
        cmocka_unit_test(test_this_machine),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
