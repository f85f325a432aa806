/*
 * test_delivery_netns.c — delivery faults that need namespaces (root):
 *   - the agent in its own network namespace, joined to the aggregator by
 *     a veth pair: tc netem loss and delay (when the kernel has sch_netem;
 *     otherwise loss alone through nftables), then the link cut for 20 s
 *     and healed; every value stored once;
 *   - the spool's disk fills (a 96 KiB tmpfs in a private mount namespace):
 *     a clear error, collection goes on, nothing crashes, and what could be
 *     spooled arrives once the aggregator is back.
 * Without the privileges for namespaces, each test says why and skips.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/etime.h"
#include "tests/integration/delivery_rig.h"
#include "tests/integration/harness.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

static double vals[4096];
static char ns[32], host_if[16], ns_if[16], host_ip[32], ns_ip[32], ns_path[64];
static bool have_netns, have_private_mounts;
static char spool_mnt[600];

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int sh(const char *fmt, ...)
{
    char cmd[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int rc = system(cmd);
    return rc == 0 ? 0 : -1;
}

static void drop_netns(void)
{
    if (have_netns)
        sh("ip netns del %s 2>/dev/null", ns); /* takes the veth pair with it */
    have_netns = false;
}

/* A namespace with one end of a veth pair; 10.213.X.1 here, .2 there. */
static void make_netns(void)
{
    unsigned id = (unsigned)getpid() % 100000, net = (unsigned)getpid() % 250 + 1;
    snprintf(ns, sizeof ns, "ember-fault-%u", id);
    snprintf(host_if, sizeof host_if, "efh%u", id);
    snprintf(ns_if, sizeof ns_if, "efn%u", id);
    snprintf(host_ip, sizeof host_ip, "10.213.%u.1", net);
    snprintf(ns_ip, sizeof ns_ip, "10.213.%u.2", net);
    snprintf(ns_path, sizeof ns_path, "/var/run/netns/%s", ns);
    if (sh("ip netns add %s 2>/dev/null", ns) != 0)
        return;
    have_netns = true;
    if (sh("ip link add %s type veth peer name %s && ip link set %s netns %s && "
           "ip addr add %s/30 dev %s && ip link set %s up && "
           "ip -n %s addr add %s/30 dev %s && ip -n %s link set %s up && ip -n %s link set lo up",
           host_if, ns_if, ns_if, ns, host_ip, host_if, host_if, ns, ns_ip, ns_if, ns, ns_if,
           ns) != 0)
        drop_netns();
}

/* Before any thread exists (unshare refuses a threaded process): our own
 * mount namespace, so the tmpfs vanishes with us even if cleanup cannot run. */
static void make_private_mounts(void)
{
    if (unshare(CLONE_NEWNS) != 0) {
        fprintf(stderr, "no private mount namespace: %s\n", strerror(errno));
        return;
    }
    have_private_mounts = mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0;
}

static void unmount_spool(void)
{
    if (spool_mnt[0])
        umount2(spool_mnt, MNT_DETACH);
    spool_mnt[0] = '\0';
}

static void cleanup(void)
{
    unmount_spool();
    drop_netns();
}

static int setup(void **state)
{
    make_private_mounts();
    make_netns();
    atexit(cleanup); /* after harness_cleanup's: runs first, stops processes */
    return 0;
}

static int teardown_one(void **state)
{
    unmount_spool(); /* first: the temporary directory holds the mount point */
    harness_cleanup();
    return 0;
}

/* netem on both ends; false when the kernel has no sch_netem. */
static bool netem(const char *spec)
{
    return sh("tc qdisc add dev %s root netem %s 2>/dev/null && "
              "ip netns exec %s tc qdisc add dev %s root netem %s 2>/dev/null",
              host_if, spec, ns, ns_if, spec) == 0;
}

/*
 * Without sch_netem, loss alone through nftables: inside the agent's
 * namespace, a random pct of the packets it sends and receives on the veth
 * is dropped (numgen random), which is what TCP sees of a lossy link.
 */
static bool nft_loss(int pct)
{
    return sh("ip netns exec %s nft -f - 2>/dev/null <<EOF\n"
              "table inet emberloss {\n"
              "  chain in { type filter hook input priority 0; iifname \"%s\" numgen random mod "
              "100 < %d counter drop; }\n"
              "  chain out { type filter hook output priority 0; oifname \"%s\" numgen random mod "
              "100 < %d counter drop; }\n"
              "}\nEOF",
              ns, ns_if, pct, ns_if, pct) == 0;
}

/* Removes the rules; how many packets they dropped. */
static unsigned long nft_loss_off(void)
{
    char cmd[256], line[512];
    snprintf(cmd, sizeof cmd, "ip netns exec %s nft list table inet emberloss", ns);
    FILE *p = popen(cmd, "r");
    unsigned long dropped = 0;
    while (p && fgets(line, sizeof line, p)) {
        const char *c = strstr(line, "counter packets ");
        if (c)
            dropped += strtoul(c + strlen("counter packets "), NULL, 10);
    }
    if (p)
        pclose(p);
    sh("ip netns exec %s nft delete table inet emberloss", ns);
    return dropped;
}

/* 20% loss and 50 ms delay for 5 s (netem), or 20% loss alone (nftables),
 * or nothing when the kernel has neither; says which. */
static void lossy_phase(void)
{
    if (netem("loss 20% delay 50ms")) {
        sleep_ms(5000);
        sh("tc qdisc del dev %s root; ip netns exec %s tc qdisc del dev %s root", host_if, ns,
           ns_if);
    } else if (nft_loss(20)) {
        sleep_ms(5000);
        unsigned long dropped = nft_loss_off();
        printf("no sch_netem in this kernel: 20%% loss through nftables (%lu packets dropped), "
               "no delay phase\n",
               dropped);
        assert_true(dropped > 0);
    } else {
        printf("neither sch_netem nor nftables here: loss/delay phase skipped\n");
    }
}

static void test_link_cut_for_20s(void **state)
{
    if (!have_netns) {
        printf("SKIP: cannot create a network namespace with a veth pair (not root?)\n");
        skip();
    }
    rig_agg agg;
    agg_init(&agg, "agg-netns", host_ip);
    assert_true(agg_start(&agg));
    exporter *src = exporter_start(ns_path); /* in the agent's namespace */
    assert_non_null(src);
    rig_agent agent;
    agent_init(&agent, "netns", agg.ingest, src, "500ms");
    snprintf(agent.http, sizeof agent.http, "%s:%u", ns_ip, harness_free_port());
    agent.netns = ns;
    agent_start(&agent);
    assert_true(wait_stored(&agg, "netns", 3, 20000));

    lossy_phase();
    assert_int_equal(sh("ip link set %s down", host_if), 0);
    sleep_ms(20000);
    assert_int_equal(sh("ip link set %s up", host_if), 0);
    assert_true(settle_and_check(src, &agg, "netns") >= 40);
    assert_true(harness_log_count("netns", "aggregator unreachable, spooling") > 0);
    assert_true(harness_log_count("netns", "aggregator reachable") > 0);
    assert_true(agent_metric(&agent, "ember_agent_aggregator_reachable") == 1);
    assert_true(agent_stop(&agent));
    assert_true(agg_stop(&agg));
    exporter_stop(src);
}

/* Values strictly increasing (none twice) and at most last; returns how
 * many of 1..last are missing. */
static uint64_t missing_in(const double *v, size_t n, uint64_t last)
{
    for (size_t i = 1; i < n; i++)
        assert_true(v[i] > v[i - 1]);
    assert_true(n > 0 && v[0] >= 1 && v[n - 1] <= (double)last);
    return last - n;
}

static void test_spool_disk_full(void **state)
{
    if (!have_private_mounts) {
        printf("SKIP: no private mount namespace for a tmpfs (not root?)\n");
        skip();
    }
    snprintf(spool_mnt, sizeof spool_mnt, "%s/spoolfs", harness_tmpdir());
    assert_int_equal(mkdir(spool_mnt, 0755), 0);
    assert_int_equal(mount("tmpfs", spool_mnt, "tmpfs", 0, "size=96k"), 0);
    rig_agg agg;
    agg_init(&agg, "agg-diskfull", "127.0.0.1"); /* not started yet: an outage */
    exporter *src = exporter_start(NULL);
    assert_non_null(src);
    rig_agent agent;
    agent_init(&agent, "diskfull", agg.ingest, src, "100ms");
    /* A bound above the disk's size: the disk fills first.  (Segments of
     * max/4 bytes, so acknowledged ones can be deleted to make room.) */
    const char *flags[] = {"--spool.dir", spool_mnt, "--spool.max-bytes", "256KiB"};
    memcpy(agent.extra, flags, sizeof flags);
    agent_start(&agent);
    assert_true(harness_wait_log("diskfull", "No space left on device", 20000));
    assert_true(
        harness_log_count("diskfull", "cannot spool batch, it is lost; collection goes on") > 0);
    /* collection goes on while the disk is full */
    double rounds = agent_metric(&agent, "ember_agent_collections_total");
    uint64_t served = exporter_served(src);
    sleep_ms(1000);
    assert_true(agent_metric(&agent, "ember_agent_collections_total") >= rounds + 5);
    assert_true(exporter_served(src) >= served + 5);
    assert_true(agent_metric(&agent, "ember_agent_batches_total{result=\"not_spooled\"}") >= 5);
    assert_true(harness_alive(agent.pid));

    /* What was spooled arrives once the aggregator is back, although the
     * full disk cannot even take the spool's "acked" file. */
    assert_true(agg_start(&agg));
    assert_true(wait_agent_metric(&agent, "ember_agent_batches_total{result=\"acked\"}", 5, 20000));
    assert_true(exporter_hold(src, 10000));
    served = exporter_served(src);
    double lost = 0, acked = 0;
    for (int i = 0; i < 200 && acked + lost < (double)served; i++, sleep_ms(50)) {
        lost = agent_metric(&agent, "ember_agent_batches_total{result=\"not_spooled\"}");
        acked = agent_metric(&agent, "ember_agent_batches_total{result=\"acked\"}");
    }
    size_t n = stored_values(&agg, "diskfull", vals, 4096);
    /* none twice; each value either stored or counted as lost */
    assert_true(n >= 5 && (double)n == acked);
    assert_true((double)missing_in(vals, n, served) == lost);
    assert_true(harness_log_count("diskfull", "cannot record ack in spool, delivery goes on") > 0);
    assert_true(harness_alive(agent.pid));
    exporter_release(src, false);
    assert_true(agent_stop(&agent));
    assert_true(agg_stop(&agg));
    exporter_stop(src);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_spool_disk_full, teardown_one),
        cmocka_unit_test_teardown(test_link_cut_for_20s, teardown_one),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
