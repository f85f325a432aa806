/*
 * gpu.c — the GPU collector: NVML (loaded at run time, nvml.c) read once per
 * collection for every GPU, exported under Ember's names (ARCHITECTURE.md:
 * gpu_* with gpu_id, gpu_model, gpu_uuid; the HELP texts of ember-gpusim)
 * and, when asked, dcgm-exporter's (gpu_dcgm.c).
 *
 * XID errors are events, not state: a thread blocks in nvmlEventSetWait and
 * counts each XID per GPU, so none is missed between collections (polling
 * would see at most the last).  The collection reads the counts under a
 * mutex.  Per-process GPU memory is attributed to the container and pod
 * that own the PID, from /proc/<pid>/cgroup (cgpath.c).
 *
 * ECC and NVLink counters are on by default (dcgm-exporter leaves them
 * off); a figure the GPU does not support is simply absent.
 */
#include "agent/collect/cgpath.h"
#include "agent/collect/collect.h"
#include "agent/collect/gpu_internal.h"

#include "common/err.h"
#include "common/mem.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_XID_CODES 64  /* distinct XID codes counted per GPU */
#define EVENT_WAIT_MS 500 /* how long gpu_close may wait for the thread */
#define MAX_PROCS 256

typedef struct xid_count {
    unsigned xid;
    unsigned long long n;
} xid_count;

typedef struct xid_state {
    xid_count xids[MAX_XID_CODES];
    size_t nxids;
    unsigned last_xid;
} xid_state;

typedef struct gpu_dev {
    nvmlDevice_t h;
    gpu_identity id;
    xid_state xs; /* under gpu_collector.mu */
} gpu_dev;

struct gpu_collector {
    nvml_api api;
    gpu_options opt;
    char *root, *hostname;
    gpu_dev *devs;
    unsigned n;
    nvmlEventSet_t events;
    pthread_t thread;
    bool thread_started;
    atomic_bool stop;
    pthread_mutex_t mu;
};

static const struct {
    unsigned long long bit;
    const char *reason;
} throttle_bits[] = {
    {0x1ULL, "gpu_idle"},
    {0x2ULL, "applications_clocks_setting"},
    {0x4ULL, "sw_power_cap"},
    {0x8ULL, "hw_slowdown"},
    {0x10ULL, "sync_boost"},
    {0x20ULL, "sw_thermal_slowdown"},
    {0x40ULL, "hw_thermal_slowdown"},
    {0x80ULL, "hw_power_brake_slowdown"},
    {0x100ULL, "display_clock_setting"},
};

static const struct {
    int counter;
    const char *name;
} nvlink_counters[] = {
    {NVML_NVLINK_ERROR_DL_REPLAY, "replay"},
    {NVML_NVLINK_ERROR_DL_RECOVERY, "recovery"},
    {NVML_NVLINK_ERROR_DL_CRC_FLIT, "crc_flit"},
    {NVML_NVLINK_ERROR_DL_CRC_DATA, "crc_data"},
};

/* ---- XID events ---------------------------------------------------------- */

static void count_xid(gpu_collector *g, nvmlDevice_t h, unsigned xid)
{
    pthread_mutex_lock(&g->mu);
    for (unsigned i = 0; i < g->n; i++) {
        gpu_dev *d = &g->devs[i];
        if (d->h != h)
            continue;
        xid_state *x = &d->xs;
        x->last_xid = xid;
        size_t k = 0;
        while (k < x->nxids && x->xids[k].xid != xid)
            k++;
        if (k == x->nxids && x->nxids < MAX_XID_CODES)
            x->xids[x->nxids++] = (xid_count){xid, 0};
        if (k < x->nxids)
            x->xids[k].n++;
    }
    pthread_mutex_unlock(&g->mu);
}

static void *xid_thread(void *arg)
{
    gpu_collector *g = arg;
    while (!atomic_load(&g->stop)) {
        nvmlEventData_t ev;
        memset(&ev, 0, sizeof ev);
        nvmlReturn_t rc = g->api.EventSetWait(g->events, &ev, EVENT_WAIT_MS);
        if (rc == NVML_SUCCESS && (ev.eventType & nvmlEventTypeXidCriticalError))
            count_xid(g, ev.device, (unsigned)ev.eventData);
        else if (rc != NVML_SUCCESS && rc != NVML_ERROR_TIMEOUT)
            return NULL; /* GPU lost or driver gone: counts stay as they are */
    }
    return NULL;
}

/* Register every GPU for XID events and start the thread; optional. */
static void start_events(gpu_collector *g)
{
    nvml_api *a = &g->api;
    if (!a->EventSetCreate || !a->DeviceRegisterEvents || !a->EventSetWait || !a->EventSetFree ||
        a->EventSetCreate(&g->events) != NVML_SUCCESS)
        return;
    bool any = false;
    for (unsigned i = 0; i < g->n; i++)
        any |= a->DeviceRegisterEvents(g->devs[i].h, nvmlEventTypeXidCriticalError, g->events) ==
               NVML_SUCCESS;
    if (any && pthread_create(&g->thread, NULL, xid_thread, g) == 0) {
        g->thread_started = true;
        return;
    }
    a->EventSetFree(g->events);
    g->events = NULL;
}

/* ---- open / close -------------------------------------------------------- */

static void identify(gpu_collector *g, gpu_dev *d, unsigned i)
{
    nvml_api *a = &g->api;
    gpu_identity *id = &d->id;
    id->index = i;
    snprintf(id->id, sizeof id->id, "gpu%u", i);
    if (a->DeviceGetName(d->h, id->name, sizeof id->name) != NVML_SUCCESS)
        snprintf(id->name, sizeof id->name, "unknown");
    snprintf(id->model, sizeof id->model, "%s", id->name);
    for (char *p = id->model; *p; p++)
        if (*p == ' ')
            *p = '-';
    if (a->DeviceGetUUID(d->h, id->uuid, sizeof id->uuid) != NVML_SUCCESS)
        id->uuid[0] = '\0';
    nvmlPciInfo_t pci;
    memset(&pci, 0, sizeof pci);
    if (a->DeviceGetPciInfo && a->DeviceGetPciInfo(d->h, &pci) == NVML_SUCCESS)
        snprintf(id->bus_id, sizeof id->bus_id, "%.*s", (int)sizeof pci.busId - 1, pci.busId);
    unsigned minor = i;
    if (a->DeviceGetMinorNumber)
        a->DeviceGetMinorNumber(d->h, &minor);
    snprintf(id->device, sizeof id->device, "nvidia%u", minor);
}

static int open_devices(gpu_collector *g, char *err, size_t errlen)
{
    char b[32];
    nvmlReturn_t rc = g->api.DeviceGetCount(&g->n);
    if (rc != NVML_SUCCESS || g->n == 0) {
        err_set(err, errlen, "no GPU: %s",
                rc != NVML_SUCCESS ? nvml_strerror(&g->api, rc, b, sizeof b) : "NVML sees none");
        return -1;
    }
    g->devs = em_calloc(g->n, sizeof *g->devs);
    for (unsigned i = 0; i < g->n; i++) {
        rc = g->api.DeviceGetHandleByIndex(i, &g->devs[i].h);
        if (rc != NVML_SUCCESS) {
            err_set(err, errlen, "GPU %u: %s", i, nvml_strerror(&g->api, rc, b, sizeof b));
            return -1;
        }
        identify(g, &g->devs[i], i);
    }
    return 0;
}

int gpu_open(gpu_collector **out, const gpu_options *opt, char *err, size_t errlen)
{
    *out = NULL;
    gpu_collector *g = em_calloc(1, sizeof *g);
    if (nvml_load(&g->api, opt->library ? opt->library : "libnvidia-ml.so.1", err, errlen) != 0) {
        free(g);
        return -1;
    }
    char b[32];
    nvmlReturn_t rc = g->api.Init();
    if (rc != NVML_SUCCESS) {
        err_set(err, errlen, "nvmlInit: %s", nvml_strerror(&g->api, rc, b, sizeof b));
        nvml_unload(&g->api);
        free(g);
        return -1;
    }
    g->opt = *opt;
    g->root = em_strdup(opt->root ? opt->root : "/");
    g->hostname = em_strdup(opt->hostname ? opt->hostname : "");
    pthread_mutex_init(&g->mu, NULL);
    atomic_init(&g->stop, false);
    if (open_devices(g, err, errlen) != 0) {
        gpu_close(g);
        return -1;
    }
    start_events(g);
    *out = g;
    return 0;
}

void gpu_close(gpu_collector *g)
{
    if (g == NULL)
        return;
    if (g->thread_started) {
        atomic_store(&g->stop, true);
        pthread_join(g->thread, NULL);
    }
    if (g->events)
        g->api.EventSetFree(g->events);
    g->api.Shutdown();
    nvml_unload(&g->api);
    pthread_mutex_destroy(&g->mu);
    free(g->devs);
    free(g->root);
    free(g->hostname);
    free(g);
}

unsigned gpu_count(const gpu_collector *g)
{
    return g ? g->n : 0;
}

/* ---- one reading ---------------------------------------------------------- */

static void read_gpu(gpu_collector *g, gpu_dev *d, gpu_reading *r)
{
    nvml_api *a = &g->api;
    memset(r, 0, sizeof *r);
    nvmlUtilization_t u;
    if (a->DeviceGetUtilizationRates && a->DeviceGetUtilizationRates(d->h, &u) == NVML_SUCCESS)
        r->has_util = true, r->util = u.gpu;
    unsigned v;
    if (a->DeviceGetTemperature && a->DeviceGetTemperature(d->h, NVML_TEMPERATURE_GPU, &v) == 0)
        r->has_temp = true, r->temp = v;
    nvmlMemory_t m;
    if (a->DeviceGetMemoryInfo && a->DeviceGetMemoryInfo(d->h, &m) == NVML_SUCCESS) {
        r->has_mem = true;
        r->mem_used = (double)m.used, r->mem_free = (double)m.free, r->mem_total = (double)m.total;
    }
    if (a->DeviceGetPowerUsage && a->DeviceGetPowerUsage(d->h, &v) == NVML_SUCCESS)
        r->has_power = true, r->power_w = v / 1000.0;
    if (a->DeviceGetClockInfo && a->DeviceGetClockInfo(d->h, NVML_CLOCK_SM, &v) == NVML_SUCCESS)
        r->has_sm_clock = true, r->sm_clock = v;
    if (a->DeviceGetClockInfo && a->DeviceGetClockInfo(d->h, NVML_CLOCK_MEM, &v) == NVML_SUCCESS)
        r->has_mem_clock = true, r->mem_clock = v;
    unsigned long long c, u2;
    if (a->DeviceGetTotalEccErrors &&
        a->DeviceGetTotalEccErrors(d->h, NVML_MEMORY_ERROR_TYPE_CORRECTED, NVML_VOLATILE_ECC, &c) ==
            NVML_SUCCESS &&
        a->DeviceGetTotalEccErrors(d->h, NVML_MEMORY_ERROR_TYPE_UNCORRECTED, NVML_VOLATILE_ECC,
                                   &u2) == NVML_SUCCESS)
        r->has_ecc = true, r->ecc_corrected = (double)c, r->ecc_uncorrected = (double)u2;
    unsigned rx, tx;
    if (a->DeviceGetPcieThroughput &&
        a->DeviceGetPcieThroughput(d->h, NVML_PCIE_UTIL_RX_BYTES, &rx) == NVML_SUCCESS &&
        a->DeviceGetPcieThroughput(d->h, NVML_PCIE_UTIL_TX_BYTES, &tx) == NVML_SUCCESS)
        r->has_pcie = true, r->pcie_rx = rx * 1024.0, r->pcie_tx = tx * 1024.0; /* KB/s */
    if (a->DeviceGetCurrentClocksThrottleReasons &&
        a->DeviceGetCurrentClocksThrottleReasons(d->h, &r->throttle) == NVML_SUCCESS)
        r->has_throttle = true;
}

/* ---- Ember's names -------------------------------------------------------- */

static void add(metric_set *ms, const char *name, metric_type type, const char *help, double v,
                const gpu_identity *id, const char *k, const char *kv)
{
    metric_set_meta(ms, name, type, help);
    metric_set_addl(ms, name, v, "gpu_id", id->id, "gpu_model", id->model, "gpu_uuid", id->uuid, k,
                    kv, NULL);
}

static void add_reading(metric_set *ms, const gpu_identity *id, const gpu_reading *r)
{
    const metric_type G = METRIC_GAUGE;
    if (r->has_util)
        add(ms, "gpu_utilization_percent", G, "GPU compute utilization in percent.", r->util, id,
            NULL, NULL);
    if (r->has_temp)
        add(ms, "gpu_temperature_celsius", G, "GPU temperature in degrees Celsius.", r->temp, id,
            NULL, NULL);
    if (r->has_mem) {
        add(ms, "gpu_memory_usage_bytes", G, "GPU framebuffer memory used in bytes.", r->mem_used,
            id, NULL, NULL);
        add(ms, "gpu_memory_total_bytes", G, "GPU framebuffer memory in bytes.", r->mem_total, id,
            NULL, NULL);
    }
    if (r->has_power)
        add(ms, "gpu_power_draw_watts", G, "GPU power draw in watts.", r->power_w, id, NULL, NULL);
    if (r->has_sm_clock)
        add(ms, "gpu_sm_clock_mhz", G, "GPU SM clock frequency in MHz.", r->sm_clock, id, NULL,
            NULL);
    if (r->has_mem_clock)
        add(ms, "gpu_mem_clock_mhz", G, "GPU memory clock frequency in MHz.", r->mem_clock, id,
            NULL, NULL);
    if (r->has_ecc)
        add(ms, "gpu_ecc_errors_total", METRIC_COUNTER, "Total ECC errors seen by the GPU.",
            r->ecc_corrected + r->ecc_uncorrected, id, NULL, NULL);
    if (r->has_pcie) {
        add(ms, "gpu_pcie_rx_bytes_per_second", G,
            "PCIe receive throughput in bytes per second (NVML's 20 ms sample).", r->pcie_rx, id,
            NULL, NULL);
        add(ms, "gpu_pcie_tx_bytes_per_second", G,
            "PCIe transmit throughput in bytes per second (NVML's 20 ms sample).", r->pcie_tx, id,
            NULL, NULL);
    }
    for (size_t i = 0; r->has_throttle && i < sizeof throttle_bits / sizeof throttle_bits[0]; i++)
        add(ms, "gpu_throttle_reasons", G,
            "Whether each clock throttle reason is active on the GPU (1) or not (0).",
            (r->throttle & throttle_bits[i].bit) != 0, id, "reason", throttle_bits[i].reason);
}

static void add_xids(gpu_collector *g, metric_set *ms, const gpu_identity *id, const xid_state *x)
{
    if (!g->thread_started)
        return;
    metric_set_meta(ms, "gpu_xid_errors_total", METRIC_COUNTER,
                    "XID errors reported by the NVIDIA driver, by XID code.");
    for (size_t k = 0; k < x->nxids; k++) {
        char xid[16];
        snprintf(xid, sizeof xid, "%u", x->xids[k].xid);
        add(ms, "gpu_xid_errors_total", METRIC_COUNTER,
            "XID errors reported by the NVIDIA driver, by XID code.", (double)x->xids[k].n, id,
            "xid", xid);
    }
}

static void add_nvlink(gpu_collector *g, metric_set *ms, gpu_dev *d)
{
    nvml_api *a = &g->api;
    if (!a->DeviceGetNvLinkState || !a->DeviceGetNvLinkErrorCounter)
        return;
    for (unsigned link = 0; link < NVML_NVLINK_MAX_LINKS; link++) {
        int state = 0;
        if (a->DeviceGetNvLinkState(d->h, link, &state) != NVML_SUCCESS)
            continue;
        char l[8];
        snprintf(l, sizeof l, "%u", link);
        metric_set_meta(ms, "gpu_nvlink_up", METRIC_GAUGE, "Whether the NVLink link is active.");
        metric_set_addl(ms, "gpu_nvlink_up", state == NVML_FEATURE_ENABLED, "gpu_id", d->id.id,
                        "gpu_model", d->id.model, "gpu_uuid", d->id.uuid, "link", l, NULL);
        for (size_t c = 0; c < sizeof nvlink_counters / sizeof nvlink_counters[0]; c++) {
            unsigned long long v;
            if (a->DeviceGetNvLinkErrorCounter(d->h, link, nvlink_counters[c].counter, &v) != 0)
                continue;
            metric_set_meta(ms, "gpu_nvlink_errors_total", METRIC_COUNTER,
                            "NVLink data link errors, by link and counter.");
            metric_set_addl(ms, "gpu_nvlink_errors_total", (double)v, "gpu_id", d->id.id,
                            "gpu_model", d->id.model, "gpu_uuid", d->id.uuid, "link", l, "counter",
                            nvlink_counters[c].name, NULL);
        }
    }
}

static void add_processes(gpu_collector *g, metric_set *ms, gpu_dev *d)
{
    nvml_api *a = &g->api;
    if (!a->DeviceGetComputeRunningProcesses)
        return;
    nvmlProcessInfo_t procs[MAX_PROCS];
    unsigned n = MAX_PROCS;
    if (a->DeviceGetComputeRunningProcesses(d->h, &n, procs) != NVML_SUCCESS)
        return; /* INSUFFICIENT_SIZE with > 256 processes on one GPU: skipped */
    metric_set_meta(ms, "gpu_process_memory_bytes", METRIC_GAUGE,
                    "GPU memory used by a process, with the container and pod that own it.");
    for (unsigned i = 0; i < n && i < MAX_PROCS; i++) {
        char pid[16], path[512];
        cgroup_owner o;
        memset(&o, 0, sizeof o);
        if (cgroup_of_pid(g->root, (int)procs[i].pid, path, sizeof path))
            cgroup_path_owner(path, &o);
        snprintf(pid, sizeof pid, "%u", procs[i].pid);
        /* The namespace is not in the cgroup path; "" unless a runtime says. */
        metric_set_addl(ms, "gpu_process_memory_bytes", (double)procs[i].usedGpuMemory, "gpu_id",
                        d->id.id, "gpu_model", d->id.model, "gpu_uuid", d->id.uuid, "pid", pid,
                        "container", o.container_id, "pod", o.pod_uid, "namespace", "", NULL);
    }
}

int collect_gpu(gpu_collector *g, metric_set *out, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    if (g == NULL)
        return 0;
    /* One consistent view of the XID counts of all GPUs for this collection. */
    xid_state *xs = em_calloc(g->n, sizeof *xs);
    pthread_mutex_lock(&g->mu);
    for (unsigned i = 0; i < g->n; i++)
        xs[i] = g->devs[i].xs;
    pthread_mutex_unlock(&g->mu);
    metric_set ms;
    metric_set_init(&ms);
    for (unsigned i = 0; i < g->n; i++) {
        gpu_reading r;
        read_gpu(g, &g->devs[i], &r);
        r.last_xid = xs[i].last_xid;
        if (g->opt.dcgm_names)
            gpu_dcgm_add(&ms, &g->devs[i].id, &r, g->hostname);
        add_reading(&ms, &g->devs[i].id, &r);
        add_xids(g, &ms, &g->devs[i].id, &xs[i]);
        add_nvlink(g, &ms, &g->devs[i]);
        if (g->opt.processes)
            add_processes(g, &ms, &g->devs[i]);
    }
    free(xs);
    metric_set_move(out, &ms);
    metric_set_free(&ms);
    return 0;
}
