/*
 * delivery_rig.h — what the delivery fault tests share: a deterministic
 * source, aggregators and agents as real processes, and the check that
 * every value the source produced is stored exactly once.
 *
 * The source is an exporter inside the test process (common/httpd) whose
 * counter fault_counter_total goes up by one on every scrape, so the
 * values 1..N a run produced are known and loss or duplication is
 * countable.  It has a gate: held, a scrape waits in the exporter, which
 * tells the test that the agent spooled every earlier value (collection is
 * sequential), so kills and checks happen at known points.
 */
#ifndef EMBER_TESTS_DELIVERY_RIG_H
#define EMBER_TESTS_DELIVERY_RIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct exporter exporter;

/* Listen on 127.0.0.1 of this network namespace, or of the one at
 * netns_path ("/var/run/netns/NAME") when not NULL. */
exporter *exporter_start(const char *netns_path);
unsigned exporter_port(const exporter *e);
uint64_t exporter_served(exporter *e); /* values handed out so far */
/* Hold: scrapes wait at the gate.  true once one is waiting (the agent
 * has spooled every value before it). */
bool exporter_hold(exporter *e, int timeout_ms);
/* Let the waiting scrape go: served normally, or (discard, for an agent
 * that was killed meanwhile) answered 503 without producing a value. */
void exporter_release(exporter *e, bool discard);
void exporter_stop(exporter *e);

typedef struct rig_agg {
    char name[32];
    char data[512];
    char ingest[64]; /* tcp://HOST:PORT */
    unsigned api;
    pid_t pid;
} rig_agg;

/* Ports and directory for an aggregator listening for agents on host. */
void agg_init(rig_agg *a, const char *name, const char *host);
bool agg_start(rig_agg *a); /* and wait until /-/ready */
bool agg_stop(rig_agg *a);  /* SIGTERM; true when it exited 0 */
void agg_kill(rig_agg *a);  /* SIGKILL */

typedef struct rig_agent {
    char name[32];
    char data[512];
    char aggregator[256]; /* one address or a failover list */
    char scrape[128];
    char interval[16];
    char http[64];     /* --http-listen, "" for none */
    const char *netns; /* run under `ip netns exec` when set */
    const char *extra[8];
    pid_t pid;
} rig_agent;

/* An agent scraping e every interval as job=name, host collectors off. */
void agent_init(rig_agent *g, const char *name, const char *aggregator, const exporter *e,
                const char *interval);
void agent_start(rig_agent *g);
void agent_kill(rig_agent *g); /* SIGKILL and reap */
bool agent_stop(rig_agent *g); /* SIGTERM; true when it exited 0 */
/* A sample of the agent's own /metrics ("name{labels}"); NAN if absent. */
double agent_metric(const rig_agent *g, const char *series);
/* Poll until agent_metric(series) >= at_least. */
bool wait_agent_metric(const rig_agent *g, const char *series, double at_least, int timeout_ms);
/* A sample of the aggregator's /metrics; NAN if absent. */
double agg_metric(const rig_agg *a, const char *series);

/* fault_counter_total{job=job} as stored by a, over the last 10 minutes,
 * oldest first; returns the count (at most cap). */
size_t stored_values(const rig_agg *a, const char *job, double *vals, size_t cap);
/* Poll until a stores a value >= last; false after timeout_ms. */
bool wait_stored(const rig_agg *a, const char *job, uint64_t last, int timeout_ms);
/* vals must be exactly first, first+1, ..., last; prints where not. */
bool values_are_run(const double *vals, size_t n, uint64_t first, uint64_t last);

/* Hold e, wait until a stores every value it produced, and check that
 * they are 1..served exactly once; returns served, 0 when not (printed). */
uint64_t settle_and_check(exporter *e, const rig_agg *a, const char *job);

#endif
