/*
 * nvml.c — loads NVML with dlopen and resolves the functions of nvml_api
 * (nvml.h).  Versioned names (nvmlInit_v2, ..._v3) are the ones NVIDIA's
 * header maps the plain names to; the process query falls back from _v3 to
 * _v2, both of which fill nvmlProcessInfo_v2_t.
 */
#include "agent/collect/nvml.h"

#include "common/err.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

/* dlsym returns void *; POSIX guarantees it converts to a function pointer. */
#define RESOLVE(api, field, sym) (*(void **)(&(api)->field) = dlsym((api)->handle, sym))

int nvml_load(nvml_api *api, const char *path, char *err, size_t errlen)
{
    memset(api, 0, sizeof *api);
    api->handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (api->handle == NULL) {
        const char *why = dlerror();
        err_set(err, errlen, "cannot load %s: %s", path, why ? why : "unknown error");
        return -1;
    }
    static const struct {
        size_t offset;
        const char *sym;
        bool required;
    } syms[] = {
        {offsetof(nvml_api, Init), "nvmlInit_v2", true},
        {offsetof(nvml_api, Shutdown), "nvmlShutdown", true},
        {offsetof(nvml_api, ErrorString), "nvmlErrorString", false},
        {offsetof(nvml_api, DeviceGetCount), "nvmlDeviceGetCount_v2", true},
        {offsetof(nvml_api, DeviceGetHandleByIndex), "nvmlDeviceGetHandleByIndex_v2", true},
        {offsetof(nvml_api, DeviceGetName), "nvmlDeviceGetName", true},
        {offsetof(nvml_api, DeviceGetUUID), "nvmlDeviceGetUUID", true},
        {offsetof(nvml_api, DeviceGetPciInfo), "nvmlDeviceGetPciInfo_v3", false},
        {offsetof(nvml_api, DeviceGetMinorNumber), "nvmlDeviceGetMinorNumber", false},
        {offsetof(nvml_api, DeviceGetUtilizationRates), "nvmlDeviceGetUtilizationRates", false},
        {offsetof(nvml_api, DeviceGetTemperature), "nvmlDeviceGetTemperature", false},
        {offsetof(nvml_api, DeviceGetMemoryInfo), "nvmlDeviceGetMemoryInfo", false},
        {offsetof(nvml_api, DeviceGetPowerUsage), "nvmlDeviceGetPowerUsage", false},
        {offsetof(nvml_api, DeviceGetClockInfo), "nvmlDeviceGetClockInfo", false},
        {offsetof(nvml_api, DeviceGetTotalEccErrors), "nvmlDeviceGetTotalEccErrors", false},
        {offsetof(nvml_api, DeviceGetPcieThroughput), "nvmlDeviceGetPcieThroughput", false},
        {offsetof(nvml_api, DeviceGetCurrentClocksThrottleReasons),
         "nvmlDeviceGetCurrentClocksThrottleReasons", false},
        {offsetof(nvml_api, DeviceGetNvLinkState), "nvmlDeviceGetNvLinkState", false},
        {offsetof(nvml_api, DeviceGetNvLinkErrorCounter), "nvmlDeviceGetNvLinkErrorCounter", false},
        {offsetof(nvml_api, DeviceGetComputeRunningProcesses),
         "nvmlDeviceGetComputeRunningProcesses_v3", false},
        {offsetof(nvml_api, EventSetCreate), "nvmlEventSetCreate", false},
        {offsetof(nvml_api, DeviceRegisterEvents), "nvmlDeviceRegisterEvents", false},
        {offsetof(nvml_api, EventSetWait), "nvmlEventSetWait_v2", false},
        {offsetof(nvml_api, EventSetFree), "nvmlEventSetFree", false},
    };
    for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++) {
        void **slot = (void **)((char *)api + syms[i].offset);
        *slot = dlsym(api->handle, syms[i].sym);
        if (*slot == NULL && syms[i].required) {
            err_set(err, errlen, "%s lacks %s", path, syms[i].sym);
            nvml_unload(api);
            return -1;
        }
    }
    if (api->DeviceGetComputeRunningProcesses == NULL)
        RESOLVE(api, DeviceGetComputeRunningProcesses, "nvmlDeviceGetComputeRunningProcesses_v2");
    return 0;
}

void nvml_unload(nvml_api *api)
{
    if (api->handle)
        dlclose(api->handle);
    memset(api, 0, sizeof *api);
}

const char *nvml_strerror(const nvml_api *api, nvmlReturn_t rc, char *buf, size_t len)
{
    const char *s = api->ErrorString ? api->ErrorString(rc) : NULL;
    if (s == NULL) {
        snprintf(buf, len, "NVML error %d", rc);
        return buf;
    }
    return s;
}
