/*
 * wire_close.h — closing nng sockets without letting nng 1.5's close bug
 * stall the caller.
 *
 * Debian 12's nng 1.5.2 can hang in nng_close(): its reaper thread waits
 * for a pipe task that was prepared but never started, when a pipe is torn
 * down while the peer goes away or answers at that very moment (nanomsg/nng
 * issues #1543 and #1813, fixed in nng 1.8).  Once that happens every later
 * close waits behind it.  So a socket is closed on a detached thread: the
 * caller goes on at once, and can ask later whether the closes finished.
 * A close that never finishes is reported, never waited for forever.
 */
#ifndef EMBER_PROTO_WIRE_CLOSE_H
#define EMBER_PROTO_WIRE_CLOSE_H

#include <nng/nng.h>
#include <stdbool.h>

/* Close s in the background (on failure to start a thread: here, now),
 * then free(free_after): what nng's callbacks on s may use until then. */
void wire_close_detached(nng_socket s, void *free_after);

/* Close s, waiting at most timeout_ms for it and every close before it;
 * false when one is still closing. */
bool wire_close_within(nng_socket s, void *free_after, int timeout_ms);

/* Wait at most timeout_ms for every close started so far; false if some
 * are still closing (nng is wedged: do not call nng_fini). */
bool wire_closes_done(int timeout_ms);

/* How many closes have been running for longer than age_ms. */
unsigned wire_closes_stuck(int age_ms);

/* At exit: nng_fini() once every close is done (within 2 s), otherwise a
 * warning and no nng_fini, which would wait forever; the exit closes all. */
void wire_fini(void);

#endif
