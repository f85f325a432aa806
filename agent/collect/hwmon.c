/*
 * hwmon.c — the temperature part of node_exporter 1.5's "hwmon" collector:
 * for every /sys/class/hwmon/hwmon<N>, node_hwmon_temp_celsius (and
 * _max_, _crit_, _min_ where the chip has them) per temp<K> sensor,
 * node_hwmon_chip_names and node_hwmon_sensor_label.  Chips are named as
 * node_exporter's hwmonName does: "<bus>_<device>" of the device symlink,
 * else the name file, else hwmon<N>, lowercased with every character
 * outside [a-z0-9:_] turned into '_' and '_' trimmed.
 *
 * Not exported (node_exporter has them): fans, voltages, currents, power
 * and the *_alarm flags.  A machine without hwmon (VMs) has no series.
 */
#include "agent/collect/collect.h"
#include "agent/collect/procfile.h"

#include "common/buf.h"
#include "common/err.h"

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *suffix, *name, *help;
} temp_props[] = {
    {"input", "node_hwmon_temp_celsius", "Hardware monitor for temperature (input)"},
    {"max", "node_hwmon_temp_max_celsius", "Hardware monitor for temperature (max)"},
    {"crit", "node_hwmon_temp_crit_celsius", "Hardware monitor for temperature (crit)"},
    {"min", "node_hwmon_temp_min_celsius", "Hardware monitor for temperature (min)"},
};

/* node_exporter's cleanMetricName, into out; false when nothing is left. */
static bool clean_name(const char *in, size_t n, char *out, size_t len)
{
    size_t w = 0;
    for (size_t i = 0; i < n && w + 1 < len; i++) {
        char ch = in[i] >= 'A' && in[i] <= 'Z' ? (char)(in[i] - 'A' + 'a') : in[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == ':' || ch == '_';
        out[w++] = ok ? ch : '_';
    }
    out[w] = '\0';
    size_t start = strspn(out, "_");
    memmove(out, out + start, w - start + 1);
    for (w -= start; w > 0 && out[w - 1] == '_'; w--)
        out[w - 1] = '\0';
    return w > 0;
}

/* The chip's stable name (see the file comment). */
static bool chip_name(const char *dir, const char *entry, char *out, size_t len)
{
    char path[PATH_MAX + 32], real[PATH_MAX];
    snprintf(path, sizeof path, "%s/device", dir);
    if (realpath(path, real) != NULL) {
        char *dev = strrchr(real, '/');
        *dev++ = '\0';
        const char *type = strrchr(real, '/') ? strrchr(real, '/') + 1 : real;
        char cdev[256], ctype[256];
        bool has_dev = clean_name(dev, strlen(dev), cdev, sizeof cdev);
        if (has_dev && clean_name(type, strlen(type), ctype, sizeof ctype))
            return snprintf(out, len, "%s_%s", ctype, cdev) > 0; /* a cut name is fine */
        if (has_dev) {
            snprintf(out, len, "%s", cdev);
            return true;
        }
    }
    char name[256];
    snprintf(path, sizeof path, "%s/name", dir);
    if (host_read_line(path, name, sizeof name) && clean_name(name, strlen(name), out, len))
        return true;
    return clean_name(entry, strlen(entry), out, len);
}

static void sensor(metric_set *ms, const char *dir, const char *chip, const char *sensor_name)
{
    char path[PATH_MAX + 64], text[256];
    for (size_t i = 0; i < sizeof temp_props / sizeof temp_props[0]; i++) {
        double v;
        snprintf(path, sizeof path, "%s/%s_%s", dir, sensor_name, temp_props[i].suffix);
        if (!host_read_line(path, text, sizeof text) || host_parse_number(text, &v) != 0)
            continue;
        metric_set_meta(ms, temp_props[i].name, METRIC_GAUGE, temp_props[i].help);
        metric_set_addl(ms, temp_props[i].name, v / 1000.0, "chip", chip, "sensor", sensor_name,
                        NULL);
    }
    snprintf(path, sizeof path, "%s/%s_label", dir, sensor_name);
    if (host_read_line(path, text, sizeof text) && text[0]) {
        metric_set_meta(ms, "node_hwmon_sensor_label", METRIC_GAUGE,
                        "Label for given chip and sensor");
        metric_set_addl(ms, "node_hwmon_sensor_label", 1, "chip", chip, "label", text, "sensor",
                        sensor_name, NULL);
    }
}

static void chip(metric_set *ms, const char *dir, const char *entry)
{
    char name[256], human[256], path[PATH_MAX + 16];
    if (!chip_name(dir, entry, name, sizeof name))
        return;
    snprintf(path, sizeof path, "%s/name", dir);
    if (host_read_line(path, human, sizeof human) && human[0]) {
        metric_set_meta(ms, "node_hwmon_chip_names", METRIC_GAUGE,
                        "Annotation metric for human-readable chip names");
        metric_set_addl(ms, "node_hwmon_chip_names", 1, "chip", name, "chip_name", human, NULL);
    }
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d)) != NULL;) {
        /* temp<K>_input names a sensor. */
        const char *s = e->d_name;
        size_t digits = strncmp(s, "temp", 4) == 0 ? strspn(s + 4, "0123456789") : 0;
        if (digits == 0 || strcmp(s + 4 + digits, "_input") != 0)
            continue;
        char sname[32];
        snprintf(sname, sizeof sname, "%.*s", (int)(4 + digits), s);
        sensor(ms, dir, name, sname);
    }
    if (d)
        closedir(d);
}

int collect_hwmon(metric_set *out, const char *root, const host_filters *f, char *err,
                  size_t errlen)
{
    (void)f;
    (void)err;
    (void)errlen;
    ebuf base;
    ebuf_init(&base);
    host_path(&base, root, "sys/class/hwmon");
    DIR *d = opendir(base.data);
    for (struct dirent *e; d && (e = readdir(d)) != NULL;) {
        if (strncmp(e->d_name, "hwmon", 5) != 0)
            continue;
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%s/%s", base.data, e->d_name);
        chip(out, dir, e->d_name);
    }
    if (d)
        closedir(d);
    ebuf_free(&base);
    return 0;
}
