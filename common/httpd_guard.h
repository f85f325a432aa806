/*
 * httpd_guard.h — internal to common/httpd.c: the read deadline that stops
 * slow clients (slowloris) from holding connections.
 *
 * libmicrohttpd's connection timeout restarts with every byte received, so
 * a client that sends its headers a byte at a time never reaches it.  Here
 * every connection is tracked from MHD's connection notifications, with a
 * clock that runs while a request is being read: from the connection's
 * opening, or from the end of its previous reply, until the whole request
 * (headers and body) is in.  A reaper thread shuts down the socket of any
 * connection whose clock passes the read timeout; MHD then sees the peer
 * gone and closes the connection itself.  The socket is shut down under the
 * same mutex as the close notification, so the descriptor is still the
 * connection's when it is shut down.
 *
 * The same tracking enforces the connection limit across the whole server:
 * libmicrohttpd splits its own limit evenly over the threads of a pool,
 * and connections need not spread evenly over them, so one thread could
 * refuse connections while the server is below the limit.  MHD is given
 * the full limit per thread and a connection past ours is shut down as
 * soon as it opens.
 *
 * What the guards turn away (here and in httpd.c) is counted in one set of
 * process-wide atomic counters (httpd_refused in httpd.h).
 */
#ifndef EMBER_COMMON_HTTPD_GUARD_H
#define EMBER_COMMON_HTTPD_GUARD_H

#include "common/httpd.h"

#include <microhttpd.h>
#include <stdint.h>

typedef struct httpd_deadlines httpd_deadlines;

/* Start tracking with the reaper thread running; free stops it. */
httpd_deadlines *deadlines_start(unsigned read_timeout_s, unsigned max_connections);
void deadlines_free(httpd_deadlines *d);

/* MHD_OPTION_NOTIFY_CONNECTION callback; cls is the httpd_deadlines. */
void deadlines_on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                             enum MHD_ConnectionNotificationCode code);
/* The request on conn has been read in full (or answered early). */
void deadlines_request_read(httpd_deadlines *d, struct MHD_Connection *conn);
/* The reply on conn is done: the clock runs again for its next request. */
void deadlines_request_done(httpd_deadlines *d, struct MHD_Connection *conn);

/* Count one refusal. */
void refusal_count(httpd_refusal r);

#endif
