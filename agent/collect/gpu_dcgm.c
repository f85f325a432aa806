/*
 * gpu_dcgm.c — the GPU figures under dcgm-exporter's names, units and
 * labels (gpu, UUID, device, modelName, Hostname, pci_bus_id; W and MiB), so
 * dashboards built on dcgm-exporter's default counters keep working.
 * DCGM_FI_DEV_XID_ERRORS is the last XID seen, as DCGM reports it.
 */
#include "agent/collect/gpu_internal.h"

#include <stdio.h>

static void dcgm_add(metric_set *ms, const char *name, const char *help, double v,
                     const gpu_identity *id, const char *hostname)
{
    char gpu[16];
    snprintf(gpu, sizeof gpu, "%u", id->index);
    metric_set_meta(ms, name, METRIC_GAUGE, help);
    metric_set_addl(ms, name, v, "gpu", gpu, "UUID", id->uuid, "device", id->device, "modelName",
                    id->name, "Hostname", hostname, "pci_bus_id", id->bus_id, NULL);
}

void gpu_dcgm_add(metric_set *ms, const gpu_identity *id, const gpu_reading *r,
                  const char *hostname)
{
    const double mib = 1024.0 * 1024.0;
    if (r->has_sm_clock)
        dcgm_add(ms, "DCGM_FI_DEV_SM_CLOCK", "SM clock frequency (in MHz).", r->sm_clock, id,
                 hostname);
    if (r->has_mem_clock)
        dcgm_add(ms, "DCGM_FI_DEV_MEM_CLOCK", "Memory clock frequency (in MHz).", r->mem_clock, id,
                 hostname);
    if (r->has_temp)
        dcgm_add(ms, "DCGM_FI_DEV_GPU_TEMP", "GPU temperature (in C).", r->temp, id, hostname);
    if (r->has_power)
        dcgm_add(ms, "DCGM_FI_DEV_POWER_USAGE", "Power draw (in W).", r->power_w, id, hostname);
    if (r->has_util)
        dcgm_add(ms, "DCGM_FI_DEV_GPU_UTIL", "GPU utilization (in %).", r->util, id, hostname);
    if (r->has_mem) {
        dcgm_add(ms, "DCGM_FI_DEV_FB_FREE", "Framebuffer memory free (in MiB).", r->mem_free / mib,
                 id, hostname);
        dcgm_add(ms, "DCGM_FI_DEV_FB_USED", "Framebuffer memory used (in MiB).", r->mem_used / mib,
                 id, hostname);
    }
    if (r->has_ecc) {
        dcgm_add(ms, "DCGM_FI_DEV_ECC_SBE_VOL_TOTAL",
                 "Total number of single-bit volatile ECC errors.", r->ecc_corrected, id, hostname);
        dcgm_add(ms, "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL",
                 "Total number of double-bit volatile ECC errors.", r->ecc_uncorrected, id,
                 hostname);
    }
    dcgm_add(ms, "DCGM_FI_DEV_XID_ERRORS", "Value of the last XID error encountered.", r->last_xid,
             id, hostname);
}
