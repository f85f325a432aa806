/*
 * nvml.h — the part of NVIDIA's NVML API the GPU collector calls, declared
 * from NVIDIA's public API documentation (nvml.h of the CUDA toolkit): the
 * types, constants and function signatures, nothing else.  There is no
 * build dependency on the driver: nvml_load dlopens the library at run time
 * and looks each function up; the optional ones may be missing in old
 * drivers (NULL pointers then).
 */
#ifndef EMBER_AGENT_NVML_H
#define EMBER_AGENT_NVML_H

#include <stdbool.h>
#include <stddef.h>

typedef int nvmlReturn_t; /* an enum in nvml.h; 0 = NVML_SUCCESS */
#define NVML_SUCCESS 0
#define NVML_ERROR_NOT_SUPPORTED 3
#define NVML_ERROR_INSUFFICIENT_SIZE 7
#define NVML_ERROR_TIMEOUT 10

typedef struct nvmlDevice_st *nvmlDevice_t;
typedef struct nvmlEventSet_st *nvmlEventSet_t;

typedef struct nvmlUtilization_st {
    unsigned int gpu, memory; /* percent */
} nvmlUtilization_t;

typedef struct nvmlMemory_st {
    unsigned long long total, free, used; /* bytes */
} nvmlMemory_t;

#define NVML_DEVICE_PCI_BUS_ID_BUFFER_SIZE 32
#define NVML_DEVICE_PCI_BUS_ID_BUFFER_V2_SIZE 16
typedef struct nvmlPciInfo_st {
    char busIdLegacy[NVML_DEVICE_PCI_BUS_ID_BUFFER_V2_SIZE];
    unsigned int domain, bus, device, pciDeviceId, pciSubSystemId;
    char busId[NVML_DEVICE_PCI_BUS_ID_BUFFER_SIZE]; /* "00000000:07:00.0" */
} nvmlPciInfo_t;

/* nvmlProcessInfo_v2_t, filled by the _v2 and _v3 process queries. */
typedef struct nvmlProcessInfo_st {
    unsigned int pid;
    unsigned long long usedGpuMemory; /* bytes */
    unsigned int gpuInstanceId, computeInstanceId;
} nvmlProcessInfo_t;

typedef struct nvmlEventData_st {
    nvmlDevice_t device;
    unsigned long long eventType;
    unsigned long long eventData; /* the XID for nvmlEventTypeXidCriticalError */
    unsigned int gpuInstanceId, computeInstanceId;
} nvmlEventData_t;

#define NVML_TEMPERATURE_GPU 0
#define NVML_CLOCK_SM 1
#define NVML_CLOCK_MEM 2
#define NVML_MEMORY_ERROR_TYPE_CORRECTED 0
#define NVML_MEMORY_ERROR_TYPE_UNCORRECTED 1
#define NVML_VOLATILE_ECC 0
#define NVML_PCIE_UTIL_TX_BYTES 0
#define NVML_PCIE_UTIL_RX_BYTES 1
#define NVML_FEATURE_ENABLED 1
#define NVML_NVLINK_MAX_LINKS 18
#define NVML_NVLINK_ERROR_DL_REPLAY 0
#define NVML_NVLINK_ERROR_DL_RECOVERY 1
#define NVML_NVLINK_ERROR_DL_CRC_FLIT 2
#define NVML_NVLINK_ERROR_DL_CRC_DATA 3
#define nvmlEventTypeXidCriticalError 0x0000000000000008ULL
#define NVML_DEVICE_NAME_BUFFER_SIZE 96
#define NVML_DEVICE_UUID_BUFFER_SIZE 80

/* Every function the collector may call; optional ones can be NULL. */
typedef struct nvml_api {
    void *handle;
    nvmlReturn_t (*Init)(void);     /* nvmlInit_v2 */
    nvmlReturn_t (*Shutdown)(void); /* nvmlShutdown */
    const char *(*ErrorString)(nvmlReturn_t);
    nvmlReturn_t (*DeviceGetCount)(unsigned int *);                       /* _v2 */
    nvmlReturn_t (*DeviceGetHandleByIndex)(unsigned int, nvmlDevice_t *); /* _v2 */
    nvmlReturn_t (*DeviceGetName)(nvmlDevice_t, char *, unsigned int);
    nvmlReturn_t (*DeviceGetUUID)(nvmlDevice_t, char *, unsigned int);
    nvmlReturn_t (*DeviceGetPciInfo)(nvmlDevice_t, nvmlPciInfo_t *); /* _v3 */
    nvmlReturn_t (*DeviceGetMinorNumber)(nvmlDevice_t, unsigned int *);
    nvmlReturn_t (*DeviceGetUtilizationRates)(nvmlDevice_t, nvmlUtilization_t *);
    nvmlReturn_t (*DeviceGetTemperature)(nvmlDevice_t, int, unsigned int *);
    nvmlReturn_t (*DeviceGetMemoryInfo)(nvmlDevice_t, nvmlMemory_t *);
    nvmlReturn_t (*DeviceGetPowerUsage)(nvmlDevice_t, unsigned int *); /* milliwatts */
    nvmlReturn_t (*DeviceGetClockInfo)(nvmlDevice_t, int, unsigned int *);
    nvmlReturn_t (*DeviceGetTotalEccErrors)(nvmlDevice_t, int, int, unsigned long long *);
    nvmlReturn_t (*DeviceGetPcieThroughput)(nvmlDevice_t, int, unsigned int *); /* KB/s */
    nvmlReturn_t (*DeviceGetCurrentClocksThrottleReasons)(nvmlDevice_t, unsigned long long *);
    nvmlReturn_t (*DeviceGetNvLinkState)(nvmlDevice_t, unsigned int, int *);
    nvmlReturn_t (*DeviceGetNvLinkErrorCounter)(nvmlDevice_t, unsigned int, int,
                                                unsigned long long *);
    nvmlReturn_t (*DeviceGetComputeRunningProcesses)(nvmlDevice_t, unsigned int *,
                                                     nvmlProcessInfo_t *); /* _v3 or _v2 */
    nvmlReturn_t (*EventSetCreate)(nvmlEventSet_t *);
    nvmlReturn_t (*DeviceRegisterEvents)(nvmlDevice_t, unsigned long long, nvmlEventSet_t);
    nvmlReturn_t (*EventSetWait)(nvmlEventSet_t, nvmlEventData_t *, unsigned int); /* _v2 */
    nvmlReturn_t (*EventSetFree)(nvmlEventSet_t);
} nvml_api;

/*
 * dlopen path and resolve the functions; -1 with err set ("cannot load
 * libnvidia-ml.so.1: ...", "... lacks nvmlInit_v2") when the library or a
 * required function is missing.  Does not call nvmlInit.
 */
int nvml_load(nvml_api *api, const char *path, char *err, size_t errlen);
void nvml_unload(nvml_api *api);
/* NVML's message for rc ("Not Supported"), or "NVML error N". */
const char *nvml_strerror(const nvml_api *api, nvmlReturn_t rc, char *buf, size_t len);

#endif
