/*
 * test_delivery_faults.c — every value a deterministic source produces is
 * stored exactly once, whatever happens between ember-agent and
 * ember-aggregator (real processes on loopback; delivery_rig.h):
 *   - the aggregator stopped for 30 s while the agent collects every second;
 *   - the aggregator SIGKILLed during ingest, several times;
 *   - the agent SIGKILLed with a batch in flight (committed, Ack lost), then
 *     restarted: the batch is resent and acknowledged, not applied twice;
 *   - failover: the first of two aggregators stops, the agent switches;
 *   - the spool's bound reached during an outage: exactly the oldest values
 *     are missing, and the agent's counters say how many.
 * Each scenario has its own aggregator(s), agent and source.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/etime.h"
#include "tests/integration/delivery_rig.h"
#include "tests/integration/harness.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double vals[4096];

static int teardown(void **state)
{
    harness_cleanup();
    return 0;
}

/* An aggregator, a source and an agent scraping it every interval. */
typedef struct scene {
    rig_agg agg;
    exporter *src;
    rig_agent agent;
} scene;

static void scene_start(scene *s, const char *name, const char *interval)
{
    char agg_name[48];
    snprintf(agg_name, sizeof agg_name, "agg-%s", name);
    agg_init(&s->agg, agg_name, "127.0.0.1");
    assert_true(agg_start(&s->agg));
    s->src = exporter_start(NULL);
    assert_non_null(s->src);
    agent_init(&s->agent, name, s->agg.ingest, s->src, interval);
}

static void scene_stop(scene *s)
{
    assert_true(agent_stop(&s->agent));
    if (s->agg.pid > 0)
        assert_true(agg_stop(&s->agg));
    exporter_stop(s->src);
}

static void test_aggregator_stopped_30s(void **state)
{
    scene s;
    scene_start(&s, "outage", "1s");
    agent_start(&s.agent);
    assert_true(wait_stored(&s.agg, "outage", 3, 20000));
    assert_true(agg_stop(&s.agg));
    sleep_ms(30000);
    /* The agent said so, and its /metrics tell the state of the outage. */
    assert_true(harness_log_count("outage", "aggregator unreachable, spooling") > 0);
    assert_true(agent_metric(&s.agent, "ember_agent_aggregator_reachable") == 0);
    assert_true(agent_metric(&s.agent, "ember_agent_spool_pending_batches") >= 20);
    assert_true(agent_metric(&s.agent, "ember_agent_spool_oldest_pending_age_seconds") >= 20);
    assert_true(agent_metric(&s.agent, "ember_agent_spool_bytes") > 0);
    assert_true(agent_metric(&s.agent, "ember_agent_send_errors_total{reason=\"unreachable\"}") >=
                1);
    assert_true(agg_start(&s.agg));
    assert_true(settle_and_check(s.src, &s.agg, "outage") >= 30);
    assert_true(harness_log_count("outage", "aggregator reachable") > 0);
    assert_true(agent_metric(&s.agent, "ember_agent_aggregator_reachable") == 1);
    assert_true(agent_metric(&s.agent, "ember_agent_spool_pending_batches") <= 1);
    assert_true(agent_metric(&s.agent, "ember_agent_last_send_success_timestamp_seconds") >
                (double)now_ms() / 1000 - 30);
    scene_stop(&s);
}

static void test_aggregator_killed_during_ingest(void **state)
{
    scene s;
    scene_start(&s, "aggkill", "100ms");
    agent_start(&s.agent);
    assert_true(wait_stored(&s.agg, "aggkill", 3, 20000));
    for (int i = 0; i < 4; i++) {
        sleep_ms(700 + 300 * i); /* batches keep coming every 100 ms */
        agg_kill(&s.agg);
        sleep_ms(300);
        assert_true(agg_start(&s.agg));
    }
    assert_true(settle_and_check(s.src, &s.agg, "aggkill") >= 20);
    scene_stop(&s);
}

/*
 * The aggregator is frozen (SIGSTOP) with the agent connected: the next
 * batch goes into its socket and times out.  The agent is SIGKILLed while
 * its next scrape waits in the held source (so every earlier value is
 * spooled), then the aggregator thaws and commits the batch whose Ack
 * nobody reads.  The restarted agent sends it again from the spool.
 */
static void kill_agent_with_batch_in_flight(scene *s)
{
    const char *timeouts = "ember_agent_send_errors_total{reason=\"timeout\"}";
    assert_true(wait_agent_metric(&s->agent, "ember_agent_aggregator_reachable", 1, 10000));
    double before = agent_metric(&s->agent, timeouts);
    kill(s->agg.pid, SIGSTOP);
    bool stuck = wait_agent_metric(&s->agent, timeouts, before + 1, 10000);
    bool held = exporter_hold(s->src, 10000);
    agent_kill(&s->agent);
    exporter_release(s->src, true);
    kill(s->agg.pid, SIGCONT);
    assert_true(stuck && held);
    agent_start(&s->agent);
}

static void test_agent_killed_mid_send(void **state)
{
    scene s;
    scene_start(&s, "agentkill", "200ms");
    agent_start(&s.agent);
    assert_true(wait_stored(&s.agg, "agentkill", 3, 20000));
    for (int i = 0; i < 3; i++) {
        kill_agent_with_batch_in_flight(&s);
        sleep_ms(1000);
    }
    /* a plain kill between scrapes, too */
    assert_true(exporter_hold(s.src, 10000));
    agent_kill(&s.agent);
    exporter_release(s.src, true);
    agent_start(&s.agent);
    assert_true(settle_and_check(s.src, &s.agg, "agentkill") >= 10);
    /* The batches committed without an Ack came again and were not applied
     * twice (settle_and_check: every value once).  A round commits its
     * in-flight batch only if the thawed aggregator decodes it before it
     * handles the abandoned connection's close, which takes the
     * connection's delta base with it (then the batch is answered
     * UNKNOWN_BASE to nobody and arrives whole from the new agent): at
     * least one of the three rounds shows the duplicate. */
    double dups = agg_metric(&s.agg, "ember_aggregator_ingest_batches_total{result=\"duplicate\"}");
    print_message("duplicates recognised: %.0f in 3 rounds (UNKNOWN_BASE answers: %.0f)\n", dups,
                  agg_metric(&s.agg, "ember_aggregator_ingest_unknown_base_total"));
    assert_true(dups >= 1);
    assert_true(harness_log_count("agentkill", "resuming from spool") > 0);
    scene_stop(&s);
}

/* Values from both aggregators, merged in order. */
static size_t merged_values(const rig_agg *a, const rig_agg *b, const char *job)
{
    static double second[4096];
    size_t n = stored_values(a, job, vals, 4096);
    size_t m = stored_values(b, job, second, 4096);
    for (size_t i = 0; i < m && n < 4096; i++)
        vals[n++] = second[i];
    for (size_t i = 1; i < n; i++) /* insertion sort: nearly sorted already */
        for (size_t k = i; k > 0 && vals[k - 1] > vals[k]; k--) {
            double t = vals[k];
            vals[k] = vals[k - 1];
            vals[k - 1] = t;
        }
    return n;
}

static void test_failover_to_the_second_aggregator(void **state)
{
    scene s;
    rig_agg second;
    scene_start(&s, "failover", "200ms");
    agg_init(&second, "agg-failover-2", "127.0.0.1");
    assert_true(agg_start(&second));
    snprintf(s.agent.aggregator, sizeof s.agent.aggregator, "%s,%s", s.agg.ingest, second.ingest);
    agent_start(&s.agent);
    assert_true(wait_stored(&s.agg, "failover", 3, 20000));
    /* Stop the first at a quiet moment: everything collected is acked. */
    assert_true(exporter_hold(s.src, 10000));
    for (int i = 0; i < 100 && agent_metric(&s.agent, "ember_agent_spool_pending_batches") > 0; i++)
        sleep_ms(50);
    assert_true(agg_stop(&s.agg));
    exporter_release(s.src, false);
    assert_true(wait_agent_metric(&s.agent, "ember_agent_failovers_total", 1, 10000));
    assert_true(exporter_hold(s.src, 10000));
    uint64_t served = exporter_served(s.src);
    assert_true(wait_stored(&second, "failover", served, 20000));
    assert_true(agg_start(&s.agg)); /* to read what the first one stored */
    size_t n = merged_values(&s.agg, &second, "failover");
    assert_true(values_are_run(vals, n, 1, served));
    assert_true(stored_values(&second, "failover", vals, 4096) >= 3);
    assert_true(harness_log_count("failover", "failing over") > 0);
    exporter_release(s.src, false);
    scene_stop(&s);
    assert_true(agg_stop(&second));
}

/* Series per batch: the agent's own (instance=name) and the scrape's (job=name). */
static double series_per_batch(const rig_agg *a, const char *name)
{
    char url[512];
    snprintf(url, sizeof url,
             "http://127.0.0.1:%u/api/v1/series?match[]=%%7Binstance%%3D%%22%s%%22%%7D&match[]="
             "%%7Bjob%%3D%%22%s%%22%%7D",
             a->api, name, name);
    ebuf b;
    ebuf_init(&b);
    double n = 0;
    if (harness_http(url, NULL, &b) == 200) {
        ebuf_putc(&b, '\0');
        for (const char *p = (const char *)b.data; (p = strstr(p, "\"__name__\"")); p++)
            n++;
    }
    ebuf_free(&b);
    return n;
}

static void test_spool_limit_drops_the_oldest(void **state)
{
    scene s;
    scene_start(&s, "spoolfull", "100ms");
    s.agent.extra[0] = "--spool.max-bytes";
    s.agent.extra[1] = "12KiB";
    agent_start(&s.agent);
    assert_true(wait_stored(&s.agg, "spoolfull", 3, 20000));
    assert_true(exporter_hold(s.src, 10000));
    for (int i = 0; i < 100 && agent_metric(&s.agent, "ember_agent_spool_pending_batches") > 0; i++)
        sleep_ms(50);
    uint64_t before = exporter_served(s.src); /* all stored */
    assert_true(agg_stop(&s.agg));
    exporter_release(s.src, false);
    sleep_ms(6000); /* ~60 batches into a spool that holds far fewer */
    assert_true(exporter_hold(s.src, 10000));
    uint64_t served = exporter_served(s.src);
    assert_true(agg_start(&s.agg));
    assert_true(wait_stored(&s.agg, "spoolfull", served, 20000));
    /* read after delivery: a batch dropped while on the wire and then
     * acknowledged was not lost, and is not counted */
    double dropped = agent_metric(&s.agent, "ember_agent_batches_total{result=\"dropped\"}");
    double dropped_samples = agent_metric(&s.agent, "ember_agent_spool_dropped_samples_total");
    assert_true(dropped >= 10 && dropped < (double)(served - before));
    size_t n = stored_values(&s.agg, "spoolfull", vals, 4096);
    /* 1..before, then a gap of exactly the dropped batches, then the rest.
     * One exception: the oldest batch may have been on the wire when its
     * segment was dropped; if the aggregator came back during that attempt
     * it got it, and it stands alone inside the gap (and is not counted). */
    uint64_t resume = before + (uint64_t)dropped + 1;
    assert_true(n > before + 1);
    assert_true(values_are_run(vals, before, 1, before));
    size_t tail = before;
    if (vals[before] != (double)resume) {
        assert_true(vals[before] > (double)before && vals[before] < (double)resume + 1);
        tail++;
        resume++;
    }
    assert_true(values_are_run(vals + tail, n - tail, resume, served));
    /* each dropped batch held one sample of every series the agent sends */
    double per_batch = series_per_batch(&s.agg, "spoolfull");
    if (dropped_samples != dropped * per_batch)
        fail_msg("dropped %g batches, %g samples; %g series per batch", dropped, dropped_samples,
                 per_batch);
    assert_true(per_batch > 5);
    exporter_release(s.src, false);
    scene_stop(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_aggregator_killed_during_ingest, teardown),
        cmocka_unit_test_teardown(test_agent_killed_mid_send, teardown),
        cmocka_unit_test_teardown(test_failover_to_the_second_aggregator, teardown),
        cmocka_unit_test_teardown(test_spool_limit_drops_the_oldest, teardown),
        cmocka_unit_test_teardown(test_aggregator_stopped_30s, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
