/*
 * sender_int.h — what sender.c (the connection, Hello, counters, the
 * sending thread) and sender_window.c (the batches in flight) share: the
 * sender's state and the few calls each makes into the other.  Not for use
 * outside agent/sender*.c.
 */
#ifndef EMBER_AGENT_SENDER_INT_H
#define EMBER_AGENT_SENDER_INT_H

#include "agent/backoff.h"
#include "agent/sender.h"
#include "common/options.h"
#include "proto/wire.h"
#include "proto/wire_delta.h"

#include <nng/nng.h>
#include <pthread.h>
#include <stdatomic.h>

/* One batch in flight: its own REQ context, so several are outstanding. */
typedef struct slot {
    nng_ctx ctx;
    nng_aio *aio;
    uint64_t seq, drops_before;
    uint32_t nsamples;
    int64_t deadline;
    uint8_t *raw; /* a batch marked keep: the base once acknowledged */
    size_t rawlen;
} slot;

struct sender {
    /* settings */
    strlist urls; /* failover order */
    int64_t timeout_ms;
    char *token;
    wire_tls tls;
    char *agent_id;
    labelset static_labels;
    spool *sp;
    /* the connection: the sending thread's alone */
    nng_socket sock;
    bool connected; /* sock is open and dialing */
    nng_aio *aio;
    atomic_int *pipes; /* live connections of sock (nng's callbacks count them; freed
                          after the socket's close, which may end after the sender) */
    bool need_hello;
    bool auth_failing;   /* the last Hello was refused: log the next refusal quietly */
    uint64_t last_tried; /* seq of the last batch sent: a second try is a resend */
    uint64_t delivered;  /* highest seq acknowledged, even if the spool could not record it */
    bool ack_failing;    /* the spool could not record the last ack */
    /* the window, a ring of slots, oldest at head */
    slot *slots;
    unsigned nslots, head, nfl;
    uint64_t last_queued; /* highest seq sent on this connection and not answered */
    /* the session (wire_delta.h): what Hello agreed, the base in use and
     * the seq of a batch marked keep and not answered yet */
    uint32_t features;
    wire_base base;
    uint64_t keep_seq;
    /* shared, under mu */
    pthread_mutex_t mu;
    pthread_cond_t wake; /* new batch, or stop */
    pthread_t thread;
    bool running, stopping, kicked;
    size_t cur; /* the address in use */
    backoff bo;
    int64_t down_since_ms, down_logged_ms;
    sender_stats stats;
};

/* ---- sender.c: the connection and the counters ---- */

/* Start one aio operation, on the socket (sl NULL) or on a slot's context,
 * with the time left until the deadline; false (rv set) when it could not
 * start. */
bool sender_start_op(sender *s, slot *sl, bool recv, int64_t deadline, int *rv);
/* Send data as a new request: 0 or the nng error. */
int sender_send_request(sender *s, slot *sl, const void *data, size_t len, int64_t deadline);
/* The Ack received by aio (the caller frees), or NULL with *why set. */
Ember__Ack *sender_take_ack(sender *s, nng_aio *aio, int rv, send_error *why);
/* Why an nng operation failed. */
send_error sender_classify(sender *s, int rv);
void sender_count_failure(sender *s, send_error why);
/* A batch answered OK (acked) or REJECTED: the path works. */
void sender_count_done(sender *s, bool acked);
/* After an attempt without an answer: close the connection (dropping the
 * window), and move to the next address when there is one. */
void sender_abandon_connection(sender *s);

/* ---- sender_window.c: the batches in flight ---- */

/* The ring of max_in_flight slots (0: the default), with an aio each when
 * alloc_aios; 0 or the nng error. */
int window_alloc(sender *s, unsigned max_in_flight, bool alloc_aios);
/* A REQ context per slot on the new socket: 0 or the nng error. */
int window_open_contexts(sender *s);
/* Cancel what is in flight now (sender_close, under mu). */
void window_cancel(sender *s);
/* Forget every batch in flight (they are resent in seq order later). */
void window_drop(sender *s);
void window_free(sender *s);
/* Fill the window from the spool; false when sending failed. */
bool window_fill(sender *s);
/* Wait for the oldest batch's Ack; true if the next attempt may follow at once. */
bool window_await_oldest(sender *s);

#endif
