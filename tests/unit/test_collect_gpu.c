/*
 * test_collect_gpu.c — the GPU collector (agent/collect/gpu.c, nvml.c,
 * gpu_dcgm.c, cgpath.c) against the fake libnvidia-ml built by the test
 * suite (tests/fake_nvml), loaded through the real dlopen path: every
 * figure and label, XID events counted by the event thread, processes
 * attributed to containers and pods from fixture /proc/<pid>/cgroup files,
 * dcgm-exporter's names, and the no-library / no-driver / no-GPU cases.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/unit/metric_asserts.h"

#include "agent/collect/cgpath.h"
#include "agent/collect/collect.h"

#include "common/fsutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *fake_nvml(void)
{
    const char *p = getenv("EMBER_FAKE_NVML");
    if (p == NULL)
        fail_msg("EMBER_FAKE_NVML is not set (run through ctest)");
    return p;
}

static double value(const metric_set *ms, const char *name, const char *gpu, const char *k,
                    const char *v)
{
    const metric_sample *s = find_with(ms, name, "gpu_id", gpu, k, v, NULL);
    if (s == NULL)
        fail_msg("no %s{gpu_id=\"%s\"}", name, gpu);
    return s->value;
}

#define POD_UID "0f8b7a2c-1d3e-4f5a-9b6c-7d8e9f0a1b2c"
#define CID_K8S "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define CID_DOCKER "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static gpu_collector *open_fake(const char *root, bool dcgm)
{
    gpu_options opt = {.library = fake_nvml(),
                       .root = root,
                       .hostname = "node1",
                       .dcgm_names = dcgm,
                       .processes = true};
    gpu_collector *g = NULL;
    char err[256] = "";
    if (gpu_open(&g, &opt, err, sizeof err) != 0)
        fail_msg("gpu_open: %s", err);
    assert_int_equal(gpu_count(g), 2);
    return g;
}

/* Collect until the event thread has counted all four fixed XIDs (≤ 5 s). */
static void collect_after_events(gpu_collector *g, metric_set *ms)
{
    for (int i = 0; i < 100; i++) {
        metric_set_clear(ms);
        char err[64];
        assert_int_equal(collect_gpu(g, ms, err, sizeof err), 0);
        /* GPU 0's events come first but a collection reads GPU 0 before
         * GPU 1: only a set with both counts complete will do. */
        const metric_sample *x0 =
            find_with(ms, "gpu_xid_errors_total", "gpu_id", "gpu0", "xid", "13", NULL);
        const metric_sample *x1 = find_with(ms, "gpu_xid_errors_total", "gpu_id", "gpu1", NULL);
        if (x0 && x0->value == 2 && x1 && x1->value == 1)
            return;
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
    fail_msg("the XID events never arrived");
}

static void test_figures_and_labels(void **state)
{
    (void)state;
    char root[256];
    assert_int_equal(fs_mkdtemp(root, sizeof root, "ember-gpu"), 0);
    put_file(root, "proc/4242/cgroup",
             "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod"
             "0f8b7a2c_1d3e_4f5a_9b6c_7d8e9f0a1b2c.slice/cri-containerd-" CID_K8S ".scope\n");
    put_file(root, "proc/4343/cgroup",
             "12:pids:/docker/" CID_DOCKER "\n11:memory:/docker/" CID_DOCKER "\n");
    gpu_collector *g = open_fake(root, false);
    metric_set ms;
    metric_set_init(&ms);
    collect_after_events(g, &ms);

    const metric_sample *u = find_with(&ms, "gpu_utilization_percent", "gpu_id", "gpu0",
                                       "gpu_model", "NVIDIA-A100-SXM4-40GB", "gpu_uuid",
                                       "GPU-00000000-2222-3333-4444-555555555555", NULL);
    assert_non_null(u);
    assert_true(u->value == 87);
    assert_int_equal(u->labels.n, 4);
    assert_true(value(&ms, "gpu_temperature_celsius", "gpu0", NULL, NULL) == 64);
    assert_true(value(&ms, "gpu_memory_usage_bytes", "gpu0", NULL, NULL) == 10.0 * (1 << 30));
    assert_true(value(&ms, "gpu_memory_total_bytes", "gpu1", NULL, NULL) == 40.0 * (1 << 30));
    assert_true(value(&ms, "gpu_power_draw_watts", "gpu0", NULL, NULL) == 312.5);
    assert_true(value(&ms, "gpu_sm_clock_mhz", "gpu1", NULL, NULL) == 210);
    assert_true(value(&ms, "gpu_mem_clock_mhz", "gpu0", NULL, NULL) == 1215);
    assert_true(value(&ms, "gpu_ecc_errors_total", "gpu0", NULL, NULL) == 4);
    assert_true(value(&ms, "gpu_pcie_rx_bytes_per_second", "gpu0", NULL, NULL) == 2048 * 1024.0);
    assert_true(value(&ms, "gpu_pcie_tx_bytes_per_second", "gpu0", NULL, NULL) == 1024 * 1024.0);
    /* GPU 1 does not support these: absent, not zero. */
    assert_int_equal(count_named(&ms, "gpu_ecc_errors_total"), 1);
    assert_int_equal(count_named(&ms, "gpu_pcie_rx_bytes_per_second"), 1);
    assert_int_equal(count_named(&ms, "gpu_throttle_reasons"), 9);
    assert_true(value(&ms, "gpu_throttle_reasons", "gpu0", "reason", "sw_power_cap") == 1);
    assert_true(value(&ms, "gpu_throttle_reasons", "gpu0", "reason", "sw_thermal_slowdown") == 1);
    assert_true(value(&ms, "gpu_throttle_reasons", "gpu0", "reason", "gpu_idle") == 0);
    assert_true(value(&ms, "gpu_xid_errors_total", "gpu0", "xid", "79") == 1);
    assert_true(value(&ms, "gpu_xid_errors_total", "gpu0", "xid", "13") == 2);
    assert_true(value(&ms, "gpu_xid_errors_total", "gpu1", "xid", "48") == 1);
    assert_int_equal(count_named(&ms, "gpu_nvlink_up"), 2);
    assert_int_equal(count_named(&ms, "gpu_nvlink_errors_total"), 8);
    assert_non_null(
        find_with(&ms, "gpu_nvlink_errors_total", "link", "1", "counter", "crc_data", NULL));
    assert_true(find_with(&ms, "gpu_nvlink_errors_total", "link", "1", "counter", "crc_data", NULL)
                    ->value == 13);
    const metric_sample *p = find_with(&ms, "gpu_process_memory_bytes", "pid", "4242", NULL);
    assert_non_null(p);
    assert_true(p->value == 100.0 * (1 << 20));
    assert_string_equal(labels_get(&p->labels, "pod"), POD_UID);
    assert_string_equal(labels_get(&p->labels, "container"), CID_K8S);
    assert_string_equal(labels_get(&p->labels, "namespace"), "");
    p = find_with(&ms, "gpu_process_memory_bytes", "pid", "4343", NULL);
    assert_non_null(p);
    assert_string_equal(labels_get(&p->labels, "container"), CID_DOCKER);
    assert_string_equal(labels_get(&p->labels, "pod"), "");
    const metric_meta *m = metric_set_find_meta(&ms, "gpu_temperature_celsius");
    assert_string_equal(m->help, "GPU temperature in degrees Celsius.");
    m = metric_set_find_meta(&ms, "gpu_ecc_errors_total");
    assert_int_equal(m->type, METRIC_COUNTER);
    assert_null(find_with(&ms, "DCGM_FI_DEV_GPU_UTIL", NULL));
    metric_set_free(&ms);
    gpu_close(g);
    fs_rmtree(root);
}

static void test_dcgm_names(void **state)
{
    (void)state;
    gpu_collector *g = open_fake("/", true);
    metric_set ms;
    metric_set_init(&ms);
    collect_after_events(g, &ms);
    const metric_sample *s = find_with(&ms, "DCGM_FI_DEV_POWER_USAGE", "gpu", "0", "UUID",
                                       "GPU-00000000-2222-3333-4444-555555555555", "device",
                                       "nvidia0", "modelName", "NVIDIA A100-SXM4-40GB", "Hostname",
                                       "node1", "pci_bus_id", "00000000:07:00.0", NULL);
    assert_non_null(s);
    assert_true(s->value == 312.5);
    assert_true(find_with(&ms, "DCGM_FI_DEV_FB_USED", "gpu", "0", NULL)->value == 10240);
    assert_true(find_with(&ms, "DCGM_FI_DEV_FB_FREE", "gpu", "1", NULL)->value == 40960);
    assert_true(find_with(&ms, "DCGM_FI_DEV_GPU_UTIL", "gpu", "0", NULL)->value == 87);
    assert_true(find_with(&ms, "DCGM_FI_DEV_GPU_TEMP", "gpu", "1", NULL)->value == 31);
    assert_true(find_with(&ms, "DCGM_FI_DEV_SM_CLOCK", "gpu", "0", NULL)->value == 1410);
    /* The last XID seen: 13 on GPU 0 (79, 13, 13 in that order), 48 on GPU 1. */
    assert_true(find_with(&ms, "DCGM_FI_DEV_XID_ERRORS", "gpu", "0", NULL)->value == 13);
    assert_true(find_with(&ms, "DCGM_FI_DEV_XID_ERRORS", "gpu", "1", NULL)->value == 48);
    assert_string_equal(metric_set_find_meta(&ms, "DCGM_FI_DEV_FB_USED")->help,
                        "Framebuffer memory used (in MiB).");
    /* Ember's names come along. */
    assert_non_null(find_with(&ms, "gpu_utilization_percent", NULL));
    metric_set_free(&ms);
    gpu_close(g);
}

static void test_no_library_driver_or_gpu(void **state)
{
    (void)state;
    gpu_collector *g = (gpu_collector *)1;
    char err[256];
    gpu_options opt = {.library = "/nonexistent/libnvidia-ml.so.1"};
    assert_int_equal(gpu_open(&g, &opt, err, sizeof err), -1);
    assert_null(g);
    assert_non_null(strstr(err, "/nonexistent/libnvidia-ml.so.1"));

    opt.library = fake_nvml();
    setenv("FAKE_NVML_INIT_FAIL", "1", 1);
    assert_int_equal(gpu_open(&g, &opt, err, sizeof err), -1);
    assert_non_null(strstr(err, "Driver Not Loaded"));
    unsetenv("FAKE_NVML_INIT_FAIL");

    setenv("FAKE_NVML_NO_GPUS", "1", 1);
    assert_int_equal(gpu_open(&g, &opt, err, sizeof err), -1);
    assert_non_null(strstr(err, "no GPU"));
    unsetenv("FAKE_NVML_NO_GPUS");

    /* No collector: no series, no error. */
    metric_set ms;
    metric_set_init(&ms);
    assert_int_equal(collect_gpu(NULL, &ms, err, sizeof err), 0);
    assert_int_equal(ms.n, 0);
    metric_set_free(&ms);
}

static void test_cgroup_paths(void **state)
{
    (void)state;
    static const struct {
        const char *path, *cid, *runtime, *pod, *qos;
    } cases[] = {
        {"/docker/" CID_DOCKER, CID_DOCKER, "docker", "", ""},
        {"/system.slice/docker-" CID_DOCKER ".scope", CID_DOCKER, "docker", "", ""},
        {"/kubepods/burstable/pod" POD_UID "/" CID_K8S, CID_K8S, "", POD_UID, "burstable"},
        {"/kubepods/pod" POD_UID "/" CID_K8S, CID_K8S, "", POD_UID, "guaranteed"},
        {"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod"
         "0f8b7a2c_1d3e_4f5a_9b6c_7d8e9f0a1b2c.slice/crio-" CID_K8S ".scope",
         CID_K8S, "crio", POD_UID, "besteffort"},
        {"/kubepods.slice/kubepods-pod0f8b7a2c_1d3e_4f5a_9b6c_7d8e9f0a1b2c.slice", "", "", POD_UID,
         "guaranteed"},
        {"/system.slice/containerd.service/k8s.io/" CID_K8S, CID_K8S, "", "", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cgroup_owner o;
        assert_true(cgroup_path_owner(cases[i].path, &o));
        assert_string_equal(o.container_id, cases[i].cid);
        assert_string_equal(o.runtime, cases[i].runtime);
        assert_string_equal(o.pod_uid, cases[i].pod);
        assert_string_equal(o.qos, cases[i].qos);
    }
    cgroup_owner o;
    assert_false(cgroup_path_owner("/user.slice/user-1000.slice/session-2.scope", &o));
    assert_false(cgroup_path_owner("/", &o));
    assert_false(cgroup_path_owner("/docker/notanid", &o));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_figures_and_labels),
        cmocka_unit_test(test_dcgm_names),
        cmocka_unit_test(test_no_library_driver_or_gpu),
        cmocka_unit_test(test_cgroup_paths),
    };
    return cmocka_run_group_tests_name("unit.collect_gpu", tests, NULL, NULL);
}
