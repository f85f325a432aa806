/*
 * systime.c — node_exporter 1.5's "time" collector: the wall clock
 * (node_time_seconds), the local time zone's offset, and the clock sources
 * the kernel offers and uses (/sys/devices/system/clocksource/clocksource<N>).
 * A machine without clocksource files (some containers) just lacks those
 * two series, as with node_exporter.
 */
#include "agent/collect/collect.h"
#include "agent/collect/procfile.h"

#include "common/buf.h"
#include "common/err.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static void clocksource_series(metric_set *ms, const char *dir, const char *device)
{
    char path[600], text[512];
    snprintf(path, sizeof path, "%s/available_clocksource", dir);
    if (host_read_line(path, text, sizeof text)) {
        metric_set_meta(ms, "node_time_clocksource_available_info", METRIC_GAUGE,
                        "Available clocksources read from '/sys/devices/system/clocksource'.");
        char *save = NULL;
        for (char *t = strtok_r(text, " \t", &save); t; t = strtok_r(NULL, " \t", &save))
            metric_set_addl(ms, "node_time_clocksource_available_info", 1, "clocksource", t,
                            "device", device, NULL);
    }
    snprintf(path, sizeof path, "%s/current_clocksource", dir);
    if (host_read_line(path, text, sizeof text) && text[0]) {
        metric_set_meta(ms, "node_time_clocksource_current_info", METRIC_GAUGE,
                        "Current clocksource read from '/sys/devices/system/clocksource'.");
        metric_set_addl(ms, "node_time_clocksource_current_info", 1, "clocksource", text, "device",
                        device, NULL);
    }
}

static void clocksources(metric_set *ms, const char *root)
{
    ebuf base;
    ebuf_init(&base);
    host_path(&base, root, "sys/devices/system/clocksource");
    DIR *d = opendir(base.data);
    for (struct dirent *e; d && (e = readdir(d)) != NULL;) {
        if (strncmp(e->d_name, "clocksource", 11) != 0 || !e->d_name[11])
            continue;
        char dir[512];
        snprintf(dir, sizeof dir, "%s/%s", base.data, e->d_name);
        clocksource_series(ms, dir, e->d_name + 11);
    }
    if (d)
        closedir(d);
    ebuf_free(&base);
}

int collect_time(metric_set *out, const char *root, const host_filters *f, char *err, size_t errlen)
{
    (void)f;
    struct timespec now;
    struct tm local;
    if (clock_gettime(CLOCK_REALTIME, &now) != 0 || localtime_r(&now.tv_sec, &local) == NULL) {
        err_set(err, errlen, "cannot read the wall clock");
        return -1;
    }
    metric_set_meta(out, "node_time_seconds", METRIC_GAUGE,
                    "System time in seconds since epoch (1970).");
    metric_set_addl(out, "node_time_seconds", (double)now.tv_sec + (double)now.tv_nsec / 1e9, NULL);
    metric_set_meta(out, "node_time_zone_offset_seconds", METRIC_GAUGE,
                    "System time zone offset in seconds.");
    metric_set_addl(out, "node_time_zone_offset_seconds", (double)local.tm_gmtoff, "time_zone",
                    local.tm_zone ? local.tm_zone : "", NULL);
    clocksources(out, root);
    return 0;
}
