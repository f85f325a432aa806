/*
 * gpu_internal.h — what gpu.c (NVML reads, XID thread, native names) and
 * gpu_dcgm.c (dcgm-exporter's names) share: one GPU's identity and one
 * reading of its figures.
 */
#ifndef EMBER_AGENT_GPU_INTERNAL_H
#define EMBER_AGENT_GPU_INTERNAL_H

#include "agent/collect/nvml.h"
#include "common/expfmt.h"

#include <stdbool.h>

typedef struct gpu_identity {
    unsigned index;
    char id[16];                              /* "gpu0" */
    char model[NVML_DEVICE_NAME_BUFFER_SIZE]; /* NVML's name, blanks as '-' */
    char name[NVML_DEVICE_NAME_BUFFER_SIZE];  /* NVML's name as is (DCGM's modelName) */
    char uuid[NVML_DEVICE_UUID_BUFFER_SIZE];
    char bus_id[NVML_DEVICE_PCI_BUS_ID_BUFFER_SIZE];
    char device[24]; /* "nvidia<minor>", room for any unsigned */
} gpu_identity;

/* One reading; a has_ flag is false where NVML said "not supported". */
typedef struct gpu_reading {
    bool has_util, has_temp, has_mem, has_power, has_sm_clock, has_mem_clock, has_ecc, has_pcie,
        has_throttle;
    double util, temp, mem_used, mem_free, mem_total, power_w, sm_clock, mem_clock;
    double ecc_corrected, ecc_uncorrected;
    double pcie_rx, pcie_tx; /* bytes per second */
    unsigned long long throttle;
    unsigned last_xid; /* 0 = none seen */
} gpu_reading;

/* dcgm-exporter's names, units and labels for one GPU's reading. */
void gpu_dcgm_add(metric_set *ms, const gpu_identity *id, const gpu_reading *r,
                  const char *hostname);

#endif
