/*
 * httpd_watch.h — notice that an HTTP client has gone away while its
 * request is still being worked on, so a long handler (a PromQL query) can
 * stop instead of running to the end for nobody.
 *
 * One watcher thread serves every request of the process: a handler
 * registers its connection's socket with an atomic flag, the thread sleeps
 * in poll() on all registered sockets and sets the flag when the client has
 * gone, and the handler unregisters before it returns.
 *
 *   atomic_bool gone = false;
 *   uint64_t h = httpd_watch_add(httpd_watch_shared(), httpd_request_fd(req), &gone);
 *   ... work, looking at gone now and then ...
 *   httpd_watch_remove(httpd_watch_shared(), h);
 *
 * "Gone" is what Go's net/http (so Prometheus) calls it: once the request
 * has been read, the peer's FIN or RST ends the request's context.  A
 * client that half-closes (shutdown(SHUT_WR)) after sending its request
 * therefore counts as gone, as in Go (golang/go#18527); HTTP/1.1 gives a
 * client no way to say "no more requests, but answer this one" other than
 * keeping the socket open.  See httpd_watch.c for the details.
 */
#ifndef EMBER_COMMON_HTTPD_WATCH_H
#define EMBER_COMMON_HTTPD_WATCH_H

#include "common/httpd.h"

#include <stdatomic.h>
#include <stdint.h>

typedef struct httpd_watch httpd_watch;

/* A watcher with its own thread; NULL if the thread or its wake-up pipe
 * cannot be made (then add watches nothing). */
httpd_watch *httpd_watch_new(void);
/* Stops the thread; every registration must have been removed. */
void httpd_watch_free(httpd_watch *w);
/* The process's watcher, started on first use and kept until exit. */
httpd_watch *httpd_watch_shared(void);

/*
 * Watch socket fd until httpd_watch_remove: *gone is set (and stays set)
 * once its peer has closed or reset the connection, also when that
 * happened before this call.  Returns a handle for remove, or 0 when
 * nothing is watched (w NULL or fd < 0).  gone must stay valid until
 * remove returns.
 */
uint64_t httpd_watch_add(httpd_watch *w, int fd, atomic_bool *gone);
/* Stop watching; once this returns the flag is no longer touched.  A
 * handle of 0 is ignored. */
void httpd_watch_remove(httpd_watch *w, uint64_t handle);

/* The socket a request arrived on (the TCP socket, also under TLS), or -1. */
int httpd_request_fd(const httpd_request *r);

#endif
