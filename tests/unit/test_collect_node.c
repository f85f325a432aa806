/*
 * test_collect_node.c — the node_exporter-named host collectors beyond
 * cpu/meminfo/loadavg (stat, vmstat, diskstats, filesystem, netdev,
 * pressure, time, uname, hwmon) on fixture /proc and /sys trees written per
 * test, their filters, bad input, and this machine's real files.  Expected
 * names, HELP texts and types are node_exporter 1.5's, copied from its
 * output.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/unit/metric_asserts.h"

#include "agent/collect/collect.h"

#include "common/fsutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

/* ---- fixture trees ------------------------------------------------------ */

static int setup_root(void **state)
{
    char *root = malloc(256);
    assert_int_equal(fs_mkdtemp(root, 256, "ember-collect-node"), 0);
    *state = root;
    return 0;
}

static int teardown_root(void **state)
{
    fs_rmtree(*state);
    free(*state);
    return 0;
}

#define VALUE(ms, ...) value_of(find_with(ms, __VA_ARGS__, NULL))
static double value_of(const metric_sample *s)
{
    assert_non_null(s);
    return s->value;
}

/* ---- stat --------------------------------------------------------------- */

static void test_stat(void **state)
{
    const char *root = *state;
    put_file(root, "proc/stat",
             "cpu  1 2 3 4 5 6 7 8 9 10\ncpu0 1 2 3 4 5 6 7 8 9 10\n"
             "intr 113909 0 0 5\nctxt 268154\nbtime 1700000000\nprocesses 5263\n"
             "procs_running 3\nprocs_blocked 1\nsoftirq 10 1 2\n");
    metric_set ms;
    metric_set_init(&ms);
    char err[256];
    assert_int_equal(collect_stat(&ms, root, NULL, err, sizeof err), 0);
    assert_int_equal(ms.n, 6);
    assert_true(VALUE(&ms, "node_intr_total") == 113909);
    assert_true(VALUE(&ms, "node_context_switches_total") == 268154);
    assert_true(VALUE(&ms, "node_boot_time_seconds") == 1700000000);
    assert_true(VALUE(&ms, "node_forks_total") == 5263);
    assert_true(VALUE(&ms, "node_procs_running") == 3);
    assert_true(VALUE(&ms, "node_procs_blocked") == 1);
    assert_meta(&ms, "node_boot_time_seconds", METRIC_GAUGE, "Node boot time, in unixtime.");
    assert_meta(&ms, "node_procs_blocked", METRIC_GAUGE,
                "Number of processes blocked waiting for I/O to complete.");
    assert_meta(&ms, "node_intr_total", METRIC_COUNTER, "Total number of interrupts serviced.");

    /* A malformed value: an error naming the line, nothing added. */
    put_file(root, "proc/stat", "ctxt 12\nbtime soon\n");
    metric_set_clear(&ms);
    assert_int_equal(collect_stat(&ms, root, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "line 2"));
    assert_int_equal(ms.n, 0);
    metric_set_free(&ms);
}

/* ---- vmstat ------------------------------------------------------------- */

static void test_vmstat_default_fields(void **state)
{
    const char *root = *state;
    put_file(root, "proc/vmstat",
             "nr_free_pages 1234\npgpgin 10\npgpgout 20\npswpin 0\npswpout 0\npgfault 99\n"
             "pgmajfault 7\noom_kill 1\nnuma_hit 5\npgsteal_kswapd 4\n");
    metric_set ms;
    metric_set_init(&ms);
    char err[256];
    assert_int_equal(collect_vmstat(&ms, root, NULL, err, sizeof err), 0);
    assert_int_equal(ms.n, 7); /* not nr_free_pages, numa_hit, pgsteal_kswapd */
    assert_true(VALUE(&ms, "node_vmstat_pgfault") == 99);
    assert_true(VALUE(&ms, "node_vmstat_oom_kill") == 1);
    assert_null(find_with(&ms, "node_vmstat_numa_hit", NULL));
    assert_meta(&ms, "node_vmstat_pgmajfault", METRIC_UNTYPED,
                "/proc/vmstat information field pgmajfault.");

    /* Another field regex, as --collector.vmstat.fields. */
    host_filters f;
    host_filter_spec spec = {.vmstat_fields = "^numa_"};
    assert_int_equal(host_filters_init(&f, &spec, err, sizeof err), 0);
    metric_set_clear(&ms);
    assert_int_equal(collect_vmstat(&ms, root, &f, err, sizeof err), 0);
    assert_int_equal(ms.n, 1);
    assert_true(VALUE(&ms, "node_vmstat_numa_hit") == 5);
    host_filters_free(&f);
    metric_set_free(&ms);
}

static void test_bad_filter_regex(void **state)
{
    (void)state;
    host_filters f;
    host_filter_spec spec = {.mount_points_exclude = "^(unclosed"};
    char err[256];
    assert_int_equal(host_filters_init(&f, &spec, err, sizeof err), -1);
    assert_non_null(strstr(err, "filesystem.mount-points-exclude"));
}

/* ---- diskstats ---------------------------------------------------------- */

static void test_diskstats(void **state)
{
    const char *root = *state;
    put_file(root, "proc/diskstats",
             "   7       0 loop0 1 0 2 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
             " 259       0 nvme0n1 100 5 8000 250 40 2 1024 30 1 300 400 6 0 24 7 9 11\n"
             " 259       1 nvme0n1p1 10 0 80 2 4 0 16 3 0 5 6 0 0 0 0 0 0\n"
             "   8       0 sda 11 12 13 14 15 16 17 18 19 20 21\n"
             "   8       1 sda1 1 1 1 1 1 1 1 1 1 1 1\n");
    put_file(
        root, "run/udev/data/b259:0",
        "S:disk/by-id/nvme-X\nE:ID_MODEL=Samsung SSD 980\nE:ID_SERIAL_SHORT=S123\n"
        "E:ID_WWN=eui.0025\nE:ID_PATH=pci-0000:01:00.0-nvme-1\nE:ID_REVISION=1B4QFXO7\n"
        "E:ID_FS_TYPE=ext4\nE:ID_FS_USAGE=filesystem\nE:ID_FS_UUID=abcd\nE:ID_FS_VERSION=1.0\n");
    metric_set ms;
    metric_set_init(&ms);
    char err[256];
    assert_int_equal(collect_diskstats(&ms, root, NULL, err, sizeof err), 0);
    /* loop0, nvme0n1p1 and sda1 are excluded by node_exporter's default. */
    assert_int_equal(count_named(&ms, "node_disk_info"), 2);
    assert_null(find_with(&ms, "node_disk_info", "device", "loop0", NULL));
    assert_null(find_with(&ms, "node_disk_info", "device", "sda1", NULL));
    assert_true(VALUE(&ms, "node_disk_read_bytes_total", "device", "nvme0n1") == 8000 * 512.0);
    assert_true(VALUE(&ms, "node_disk_read_time_seconds_total", "device", "nvme0n1") == 0.25);
    assert_true(VALUE(&ms, "node_disk_io_now", "device", "nvme0n1") == 1);
    assert_true(VALUE(&ms, "node_disk_discarded_sectors_total", "device", "nvme0n1") == 24);
    assert_true(VALUE(&ms, "node_disk_flush_requests_time_seconds_total", "device", "nvme0n1") ==
                0.011);
    /* sda has the 11 fields of kernels before 4.18: no discard or flush series. */
    assert_true(VALUE(&ms, "node_disk_io_time_weighted_seconds_total", "device", "sda") == 0.021);
    assert_null(find_with(&ms, "node_disk_discards_completed_total", "device", "sda", NULL));
    assert_non_null(find_with(&ms, "node_disk_info", "device", "nvme0n1", "major", "259", "minor",
                              "0", "model", "Samsung SSD 980", "serial", "S123", "wwn", "eui.0025",
                              "path", "pci-0000:01:00.0-nvme-1", "revision", "1B4QFXO7", NULL));
    assert_non_null(
        find_with(&ms, "node_disk_info", "device", "sda", "model", "", "serial", "", NULL));
    assert_non_null(find_with(&ms, "node_disk_filesystem_info", "device", "nvme0n1", "type", "ext4",
                              "usage", "filesystem", "uuid", "abcd", "version", "1.0", NULL));
    assert_meta(&ms, "node_disk_io_now", METRIC_GAUGE, "The number of I/Os currently in progress.");
    assert_meta(&ms, "node_disk_writes_merged_total", METRIC_COUNTER,
                "The number of writes merged.");

    put_file(root, "proc/diskstats", "8 0 sda 1 2 3\n");
    metric_set_clear(&ms);
    assert_int_equal(collect_diskstats(&ms, root, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "line 1"));
    assert_int_equal(ms.n, 0);
    metric_set_free(&ms);
}

/* ---- filesystem --------------------------------------------------------- */

static void test_filesystem(void **state)
{
    const char *root = *state;
    char mounts[1024];
    /* Mount points relative to the fixture root (statfs runs on root + mp). */
    snprintf(mounts, sizeof mounts,
             "/dev/sda1 / ext4 rw,relatime 0 0\n"
             "proc /proc proc rw 0 0\n"
             "tmpfs /run tmpfs rw 0 0\n"
             "/dev/sdb1 /data\\040disk xfs ro,noatime 0 0\n"
             "/dev/sdb1 /data\\040disk xfs ro,noatime 0 0\n"
             "overlay /var/lib/docker/overlay2/x/merged overlay rw 0 0\n"
             "cgroup2 /sys/fs/cgroup cgroup2 rw 0 0\n"
             "/dev/sdc1 /gone ext4 rw 0 0\n");
    put_file(root, "proc/1/mounts", mounts);
    char dir[512];
    snprintf(dir, sizeof dir, "%s/data disk", root);
    assert_int_equal(fs_mkdir_p(dir), 0);
    metric_set ms;
    metric_set_init(&ms);
    char err[256];
    assert_int_equal(collect_filesystem(&ms, root, NULL, err, sizeof err), 0);
    /* "/" and "/data disk" (listed twice) have statistics, "/gone" an error. */
    assert_int_equal(count_named(&ms, "node_filesystem_size_bytes"), 2);
    assert_int_equal(count_named(&ms, "node_filesystem_device_error"), 3);
    struct statfs st;
    assert_int_equal(statfs(root, &st), 0);
    assert_true(VALUE(&ms, "node_filesystem_size_bytes", "mountpoint", "/", "device", "/dev/sda1",
                      "fstype", "ext4") == (double)st.f_blocks * (double)st.f_bsize);
    assert_true(VALUE(&ms, "node_filesystem_files", "mountpoint", "/") == (double)st.f_files);
    assert_true(VALUE(&ms, "node_filesystem_readonly", "mountpoint", "/data disk") == 1);
    assert_true(VALUE(&ms, "node_filesystem_readonly", "mountpoint", "/") == 0);
    assert_true(VALUE(&ms, "node_filesystem_device_error", "mountpoint", "/gone") == 1);
    assert_null(find_with(&ms, "node_filesystem_size_bytes", "mountpoint", "/gone", NULL));
    assert_null(find_with(&ms, "node_filesystem_readonly", "mountpoint", "/run", NULL));
    assert_null(find_with(&ms, "node_filesystem_readonly", "fstype", "overlay", NULL));
    assert_meta(&ms, "node_filesystem_avail_bytes", METRIC_GAUGE,
                "Filesystem space available to non-root users in bytes.");

    put_file(root, "proc/1/mounts", "/dev/sda1 /\n");
    metric_set_clear(&ms);
    assert_int_equal(collect_filesystem(&ms, root, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "malformed"));
    metric_set_free(&ms);
}

/* ---- netdev ------------------------------------------------------------- */

static void test_netdev(void **state)
{
    const char *root = *state;
    put_file(root, "proc/net/dev",
             "Inter-|   Receive                                                |  Transmit\n"
             " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets "
             "errs drop fifo colls carrier compressed\n"
             "    lo: 100 2 0 0 0 0 0 0 100 2 0 0 0 0 0 0\n"
             "  eth0: 5000 40 1 2 3 4 5 6 7000 50 7 8 9 10 11 12\n");
    put_file(root, "sys/class/net/eth0/statistics/rx_nohandler", "13\n");
    metric_set ms;
    metric_set_init(&ms);
    char err[256];
    assert_int_equal(collect_netdev(&ms, root, NULL, err, sizeof err), 0);
    assert_int_equal(ms.n, 17); /* eth0 only: lo is excluded */
    assert_true(VALUE(&ms, "node_network_receive_bytes_total", "device", "eth0") == 5000);
    assert_true(VALUE(&ms, "node_network_receive_multicast_total", "device", "eth0") == 6);
    assert_true(VALUE(&ms, "node_network_transmit_colls_total", "device", "eth0") == 10);
    assert_true(VALUE(&ms, "node_network_transmit_compressed_total", "device", "eth0") == 12);
    assert_true(VALUE(&ms, "node_network_receive_nohandler_total", "device", "eth0") == 13);
    assert_meta(&ms, "node_network_transmit_carrier_total", METRIC_COUNTER,
                "Network device statistic transmit_carrier.");

    put_file(root, "proc/net/dev", "h1\nh2\n  eth0: 1 2 3\n");
    metric_set_clear(&ms);
    assert_int_equal(collect_netdev(&ms, root, NULL, err, sizeof err), -1);
    assert_int_equal(ms.n, 0);
    metric_set_free(&ms);
}

/* ---- pressure ----------------------------------------------------------- */

static void test_pressure(void **state)
{
    const char *root = *state;
    put_file(root, "proc/pressure/cpu",
             "some avg10=1.00 avg60=2.00 avg300=3.00 total=2500000\n"
             "full avg10=0.00 avg60=0.00 avg300=0.00 total=7\n");
    put_file(root, "proc/pressure/io",
             "some avg10=0 avg60=0 avg300=0 total=1000\nfull avg10=0 avg60=0 avg300=0 total=500\n");
    put_file(root, "proc/pressure/memory",
             "some avg10=0 avg60=0 avg300=0 total=0\nfull avg10=0 avg60=0 avg300=0 total=3\n");
    metric_set ms;
    metric_set_init(&ms);
    char err[256];
    assert_int_equal(collect_pressure(&ms, root, NULL, err, sizeof err), 0);
    assert_int_equal(ms.n, 5);
    assert_true(VALUE(&ms, "node_pressure_cpu_waiting_seconds_total") == 2.5);
    assert_true(VALUE(&ms, "node_pressure_io_stalled_seconds_total") == 0.0005);
    assert_true(VALUE(&ms, "node_pressure_memory_stalled_seconds_total") == 0.000003);
    assert_meta(&ms, "node_pressure_io_waiting_seconds_total", METRIC_COUNTER,
                "Total time in seconds that processes have waited due to IO congestion");

    put_file(root, "proc/pressure/io", "some avg10=0\n");
    metric_set_clear(&ms);
    assert_int_equal(collect_pressure(&ms, root, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "proc/pressure/io"));
    assert_int_equal(ms.n, 0);
    metric_set_free(&ms);
}

/* ---- time, uname -------------------------------------------------------- */

static void test_time_and_uname(void **state)
{
    const char *root = *state;
    put_file(root, "sys/devices/system/clocksource/clocksource0/available_clocksource",
             "tsc hpet acpi_pm \n");
    put_file(root, "sys/devices/system/clocksource/clocksource0/current_clocksource", "tsc\n");
    metric_set ms;
    metric_set_init(&ms);
    char err[256];
    assert_int_equal(collect_time(&ms, root, NULL, err, sizeof err), 0);
    double now = VALUE(&ms, "node_time_seconds");
    assert_true(now > 1.6e9 && now < 4e9);
    assert_int_equal(count_named(&ms, "node_time_clocksource_available_info"), 3);
    assert_non_null(find_with(&ms, "node_time_clocksource_current_info", "clocksource", "tsc",
                              "device", "0", NULL));
    assert_non_null(find_with(&ms, "node_time_zone_offset_seconds", NULL));
    assert_meta(&ms, "node_time_seconds", METRIC_GAUGE,
                "System time in seconds since epoch (1970).");
    metric_set_clear(&ms);
    assert_int_equal(collect_uname(&ms, root, NULL, err, sizeof err), 0);
    const metric_sample *u = find_with(&ms, "node_uname_info", "sysname", "Linux", NULL);
    assert_non_null(u);
    assert_int_equal(u->labels.n, 7);
    metric_set_free(&ms);
}

/* ---- hwmon -------------------------------------------------------------- */

static void test_hwmon(void **state)
{
    const char *root = *state;
    put_file(root, "sys/devices/platform/coretemp.0/hwmon/hwmon3/name", "coretemp\n");
    put_file(root, "sys/devices/platform/coretemp.0/hwmon/hwmon3/temp1_input", "45000\n");
    put_file(root, "sys/devices/platform/coretemp.0/hwmon/hwmon3/temp1_crit", "100000\n");
    put_file(root, "sys/devices/platform/coretemp.0/hwmon/hwmon3/temp1_label", "Package id 0\n");
    put_file(root, "sys/devices/platform/coretemp.0/hwmon/hwmon3/temp2_input", "41500\n");
    put_file(root, "sys/class/hwmon/hwmon1/name", "ACPI Thermal!\n"); /* no device link */
    put_file(root, "sys/class/hwmon/hwmon1/temp1_input", "27800\n");
    char link[600], target[512];
    snprintf(link, sizeof link, "%s/sys/class/hwmon/hwmon3", root);
    snprintf(target, sizeof target, "%s/sys/devices/platform/coretemp.0/hwmon/hwmon3", root);
    assert_int_equal(symlink(target, link), 0);
    snprintf(link, sizeof link, "%s/device", target);
    snprintf(target, sizeof target, "%s/sys/devices/platform/coretemp.0", root);
    assert_int_equal(symlink(target, link), 0);
    metric_set ms;
    metric_set_init(&ms);
    char err[256];
    assert_int_equal(collect_hwmon(&ms, root, NULL, err, sizeof err), 0);
    assert_true(VALUE(&ms, "node_hwmon_temp_celsius", "chip", "platform_coretemp_0", "sensor",
                      "temp1") == 45);
    assert_true(VALUE(&ms, "node_hwmon_temp_celsius", "chip", "platform_coretemp_0", "sensor",
                      "temp2") == 41.5);
    assert_true(VALUE(&ms, "node_hwmon_temp_crit_celsius", "chip", "platform_coretemp_0") == 100);
    assert_non_null(find_with(&ms, "node_hwmon_sensor_label", "chip", "platform_coretemp_0",
                              "label", "Package id 0", "sensor", "temp1", NULL));
    assert_non_null(find_with(&ms, "node_hwmon_chip_names", "chip", "platform_coretemp_0",
                              "chip_name", "coretemp", NULL));
    assert_true(VALUE(&ms, "node_hwmon_temp_celsius", "chip", "acpi_thermal") == 27.8);
    assert_meta(&ms, "node_hwmon_temp_celsius", METRIC_GAUGE,
                "Hardware monitor for temperature (input)");
    metric_set_free(&ms);
}

/* ---- the real machine --------------------------------------------------- */

static void test_real_machine(void **state)
{
    (void)state;
    host_collect_fn all[] = {collect_stat,   collect_vmstat, collect_diskstats, collect_filesystem,
                             collect_netdev, collect_time,   collect_uname,     collect_hwmon};
    metric_set ms;
    metric_set_init(&ms);
    char err[256] = "";
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        if (all[i](&ms, "/", NULL, err, sizeof err) != 0)
            fail_msg("collector %zu: %s", i, err);
    }
    assert_true(VALUE(&ms, "node_boot_time_seconds") > 1e9);
    assert_non_null(find_with(&ms, "node_filesystem_size_bytes", "mountpoint", "/", NULL));
    if (access("/proc/pressure/cpu", R_OK) == 0) /* PSI: Linux 4.20+, when enabled */
        assert_int_equal(collect_pressure(&ms, "/", NULL, err, sizeof err), 0);
    metric_set_free(&ms);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup_root, teardown_root)
    const struct CMUnitTest tests[] = {
        T(test_stat),
        T(test_vmstat_default_fields),
        T(test_bad_filter_regex),
        T(test_diskstats),
        T(test_filesystem),
        T(test_netdev),
        T(test_pressure),
        T(test_time_and_uname),
        T(test_hwmon),
        T(test_real_machine),
    };
    return cmocka_run_group_tests_name("unit.collect_node", tests, NULL, NULL);
}
