/*
 * http.h — the agent's own visibility: its metrics (delivery, spool,
 * process, HTTP refusals) as one metric_set, and the optional HTTP server
 * (--http-listen) that serves them on /metrics, with /-/healthy.  The
 * server takes the web: section of the agent's config file as the
 * aggregator does (common/web_auth.h): HTTPS with a certificate and key,
 * basic and bearer credentials kept as SHA-256 digests, both re-read on
 * SIGHUP (agent_http_reload).  Every route needs only the read role;
 * /-/healthy is an open path unless open_paths says otherwise.
 */
#ifndef EMBER_AGENT_HTTP_H
#define EMBER_AGENT_HTTP_H

#include "agent/sender.h"
#include "common/expfmt.h"
#include "common/web_auth.h"

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

/* Serve /metrics and /-/healthy on addr ("HOST:PORT"), unguarded.  0, or
 * -1 with err set ("cannot listen on ...").  self must outlive the server. */
int agent_http_start(const char *addr, agent_self *self, agent_http **out, char *err,
                     size_t errlen);
/* The same with the settings of a web: section: TLS when wc has a
 * certificate, credentials when it has users or tokens.  wc is taken over
 * (left empty), also on failure. */
int agent_http_start_with(const char *addr, agent_self *self, web_config *wc, agent_http **out,
                          char *err, size_t errlen);
/*
 * SIGHUP: the credentials and open paths of wc (taken over) apply to the
 * next request, and an HTTPS server reads its certificate and key files
 * again (the names it started with: turning TLS on or off, or moving the
 * files, needs a restart).  0, or -1 with err set when the files are bad,
 * the old certificate still serving and the new credentials in force.
 */
int agent_http_reload(agent_http *h, web_config *wc, char *err, size_t errlen);
/* The bound port (for addr ":0" in tests). */
uint16_t agent_http_port(const agent_http *h);
void agent_http_stop(agent_http *h);

#endif
