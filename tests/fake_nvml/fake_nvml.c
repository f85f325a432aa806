/*
 * fake_nvml.c — a fake libnvidia-ml.so.1 for tests: the NVML functions the
 * GPU collector calls, with NVIDIA's signatures (the types come from
 * agent/collect/nvml.h), answering fixed values for two A100s:
 *  - GPU 0 supports everything: utilization 87 %, 64 °C, 10 of 40 GiB used,
 *    312.5 W, SM 1410 MHz, memory 1215 MHz, ECC 3 corrected + 1 uncorrected,
 *    PCIe rx 2048 / tx 1024 KB/s, throttled by sw_power_cap and
 *    sw_thermal_slowdown, NVLink links 0 and 1 (error counter c of link l =
 *    10 * l + c), processes 4242 (100 MiB) and 4343 (200 MiB); XID events
 *    79, 13, 13 (handed out again after each nvmlInit).
 *  - GPU 1 is idle and supports no ECC, PCIe, throttle, NVLink or process
 *    queries; XID event 48.
 * FAKE_NVML_INIT_FAIL=1 makes nvmlInit fail (no driver), FAKE_NVML_NO_GPUS=1
 * reports zero GPUs.
 */
#include "agent/collect/nvml.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NVML_ERROR_DRIVER_NOT_LOADED 9
#define NVML_ERROR_INVALID_ARGUMENT 2
#define NGPUS 2

/* Handles are pointers to these; the collector compares them in events. */
static struct nvmlDevice_st {
    int index;
} devices[NGPUS] = {{0}, {1}};

static const struct {
    int gpu;
    unsigned xid;
} events[] = {{0, 79}, {0, 13}, {0, 13}, {1, 48}};
static size_t next_event;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct nvmlEventSet_st {
    int unused;
} the_set;

nvmlReturn_t nvmlInit_v2(void);
nvmlReturn_t nvmlShutdown(void);
const char *nvmlErrorString(nvmlReturn_t);
nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *);
nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int, nvmlDevice_t *);
nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t, char *, unsigned int);
nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t, char *, unsigned int);
nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t, nvmlPciInfo_t *);
nvmlReturn_t nvmlDeviceGetMinorNumber(nvmlDevice_t, unsigned int *);
nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t, nvmlUtilization_t *);
nvmlReturn_t nvmlDeviceGetTemperature(nvmlDevice_t, int, unsigned int *);
nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t, nvmlMemory_t *);
nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t, unsigned int *);
nvmlReturn_t nvmlDeviceGetClockInfo(nvmlDevice_t, int, unsigned int *);
nvmlReturn_t nvmlDeviceGetTotalEccErrors(nvmlDevice_t, int, int, unsigned long long *);
nvmlReturn_t nvmlDeviceGetPcieThroughput(nvmlDevice_t, int, unsigned int *);
nvmlReturn_t nvmlDeviceGetCurrentClocksThrottleReasons(nvmlDevice_t, unsigned long long *);
nvmlReturn_t nvmlDeviceGetNvLinkState(nvmlDevice_t, unsigned int, int *);
nvmlReturn_t nvmlDeviceGetNvLinkErrorCounter(nvmlDevice_t, unsigned int, int, unsigned long long *);
nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t, unsigned int *,
                                                     nvmlProcessInfo_t *);
nvmlReturn_t nvmlEventSetCreate(nvmlEventSet_t *);
nvmlReturn_t nvmlDeviceRegisterEvents(nvmlDevice_t, unsigned long long, nvmlEventSet_t);
nvmlReturn_t nvmlEventSetWait_v2(nvmlEventSet_t, nvmlEventData_t *, unsigned int);
nvmlReturn_t nvmlEventSetFree(nvmlEventSet_t);

static int idx(nvmlDevice_t d)
{
    return d == &devices[0] ? 0 : d == &devices[1] ? 1 : -1;
}

nvmlReturn_t nvmlInit_v2(void)
{
    const char *fail = getenv("FAKE_NVML_INIT_FAIL");
    pthread_mutex_lock(&mu);
    next_event = 0; /* every session sees the same events */
    pthread_mutex_unlock(&mu);
    return fail && *fail == '1' ? NVML_ERROR_DRIVER_NOT_LOADED : NVML_SUCCESS;
}

nvmlReturn_t nvmlShutdown(void)
{
    return NVML_SUCCESS;
}

const char *nvmlErrorString(nvmlReturn_t rc)
{
    switch (rc) {
    case NVML_SUCCESS: return "Success";
    case NVML_ERROR_NOT_SUPPORTED: return "Not Supported";
    case NVML_ERROR_DRIVER_NOT_LOADED: return "Driver Not Loaded";
    case NVML_ERROR_TIMEOUT: return "Timeout";
    default: return "Unknown Error";
    }
}

nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *n)
{
    const char *none = getenv("FAKE_NVML_NO_GPUS");
    *n = none && *none == '1' ? 0 : NGPUS;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int i, nvmlDevice_t *d)
{
    if (i >= NGPUS)
        return NVML_ERROR_INVALID_ARGUMENT;
    *d = &devices[i];
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t d, char *buf, unsigned int len)
{
    (void)d;
    snprintf(buf, len, "NVIDIA A100-SXM4-40GB");
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t d, char *buf, unsigned int len)
{
    snprintf(buf, len, "GPU-%08d-2222-3333-4444-555555555555", idx(d));
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t d, nvmlPciInfo_t *p)
{
    memset(p, 0, sizeof *p);
    p->bus = (unsigned)(7 + idx(d));
    snprintf(p->busId, sizeof p->busId, "00000000:%02X:00.0", p->bus);
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetMinorNumber(nvmlDevice_t d, unsigned int *minor)
{
    *minor = (unsigned)idx(d);
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t d, nvmlUtilization_t *u)
{
    u->gpu = idx(d) == 0 ? 87 : 0;
    u->memory = idx(d) == 0 ? 40 : 0;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetTemperature(nvmlDevice_t d, int sensor, unsigned int *t)
{
    if (sensor != NVML_TEMPERATURE_GPU)
        return NVML_ERROR_INVALID_ARGUMENT;
    *t = idx(d) == 0 ? 64 : 31;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t d, nvmlMemory_t *m)
{
    m->total = 40ULL << 30;
    m->used = idx(d) == 0 ? 10ULL << 30 : 0;
    m->free = m->total - m->used;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t d, unsigned int *mw)
{
    *mw = idx(d) == 0 ? 312500 : 52000;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetClockInfo(nvmlDevice_t d, int type, unsigned int *mhz)
{
    if (type == NVML_CLOCK_SM)
        *mhz = idx(d) == 0 ? 1410 : 210;
    else if (type == NVML_CLOCK_MEM)
        *mhz = 1215;
    else
        return NVML_ERROR_NOT_SUPPORTED;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetTotalEccErrors(nvmlDevice_t d, int type, int counter,
                                         unsigned long long *n)
{
    if (idx(d) != 0 || counter != NVML_VOLATILE_ECC)
        return NVML_ERROR_NOT_SUPPORTED;
    *n = type == NVML_MEMORY_ERROR_TYPE_CORRECTED ? 3 : 1;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetPcieThroughput(nvmlDevice_t d, int counter, unsigned int *kbs)
{
    if (idx(d) != 0)
        return NVML_ERROR_NOT_SUPPORTED;
    *kbs = counter == NVML_PCIE_UTIL_RX_BYTES ? 2048 : 1024;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetCurrentClocksThrottleReasons(nvmlDevice_t d, unsigned long long *r)
{
    if (idx(d) != 0)
        return NVML_ERROR_NOT_SUPPORTED;
    *r = 0x4 | 0x20;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetNvLinkState(nvmlDevice_t d, unsigned int link, int *state)
{
    if (idx(d) != 0 || link > 1)
        return NVML_ERROR_NOT_SUPPORTED;
    *state = NVML_FEATURE_ENABLED;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetNvLinkErrorCounter(nvmlDevice_t d, unsigned int link, int counter,
                                             unsigned long long *n)
{
    if (idx(d) != 0 || link > 1)
        return NVML_ERROR_NOT_SUPPORTED;
    *n = 10ULL * link + (unsigned long long)counter;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t d, unsigned int *n,
                                                     nvmlProcessInfo_t *p)
{
    if (idx(d) != 0)
        return NVML_ERROR_NOT_SUPPORTED;
    if (*n < 2) {
        *n = 2;
        return NVML_ERROR_INSUFFICIENT_SIZE;
    }
    p[0] = (nvmlProcessInfo_t){4242, 100ULL << 20, 0, 0};
    p[1] = (nvmlProcessInfo_t){4343, 200ULL << 20, 0, 0};
    *n = 2;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlEventSetCreate(nvmlEventSet_t *set)
{
    *set = &the_set;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceRegisterEvents(nvmlDevice_t d, unsigned long long types, nvmlEventSet_t s)
{
    (void)s;
    return idx(d) >= 0 && (types & nvmlEventTypeXidCriticalError) ? NVML_SUCCESS
                                                                  : NVML_ERROR_NOT_SUPPORTED;
}

/* Hands out the fixed events one per call, then times out like the driver. */
nvmlReturn_t nvmlEventSetWait_v2(nvmlEventSet_t s, nvmlEventData_t *ev, unsigned int timeout_ms)
{
    (void)s;
    pthread_mutex_lock(&mu);
    size_t i = next_event < sizeof events / sizeof events[0] ? next_event++ : (size_t)-1;
    pthread_mutex_unlock(&mu);
    if (i != (size_t)-1) {
        memset(ev, 0, sizeof *ev);
        ev->device = &devices[events[i].gpu];
        ev->eventType = nvmlEventTypeXidCriticalError;
        ev->eventData = events[i].xid;
        return NVML_SUCCESS;
    }
    unsigned ms = timeout_ms < 50 ? timeout_ms : 50;
    struct timespec ts = {0, (long)ms * 1000000L};
    nanosleep(&ts, NULL);
    return NVML_ERROR_TIMEOUT;
}

nvmlReturn_t nvmlEventSetFree(nvmlEventSet_t s)
{
    (void)s;
    return NVML_SUCCESS;
}
