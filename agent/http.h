/*
 * http.h — the agent's own visibility: its metrics (delivery, spool,
 * process) as one metric_set, and the optional HTTP server
 * (--http-listen) that serves them on /metrics, with /-/healthy.
 */
#ifndef EMBER_AGENT_HTTP_H
#define EMBER_AGENT_HTTP_H

#include "agent/sender.h"
#include "common/expfmt.h"

#include <stddef.h>
#include <stdint.h>

/* What the collection loop tells the HTTP server; shared, atomically. */
typedef struct agent_self {
    sender *snd;
    _Atomic int64_t collect_ms; /* duration of the last collection round */
    _Atomic int64_t collected;  /* collection rounds so far */
} agent_self;

/* Append ember_agent_* and process_* for this agent to ms. */
void agent_self_metrics(agent_self *self, metric_set *ms);

typedef struct agent_http agent_http;

/* Serve /metrics and /-/healthy on addr ("HOST:PORT").  0, or -1 with err
 * set ("cannot listen on ...").  self must outlive the server. */
int agent_http_start(const char *addr, agent_self *self, agent_http **out, char *err,
                     size_t errlen);
/* The bound port (for addr ":0" in tests). */
uint16_t agent_http_port(const agent_http *h);
void agent_http_stop(agent_http *h);

#endif
