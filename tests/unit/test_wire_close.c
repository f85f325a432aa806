/*
 * test_wire_close.c — sockets closed on detached threads: a close of a
 * connected REQ socket finishes and frees what its pipe callbacks used;
 * a close that cannot finish (its pipe callback held, as nng 1.5.2's stuck
 * reaper would hold it) is reported as still closing and as stuck, never
 * waited for past the caller's bound, and counted done once it returns.
 * Real REQ/REP sockets on loopback.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/etime.h"
#include "common/mem.h"
#include "proto/wire_close.h"

#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

/* What a pipe callback counts on, and a gate that can hold it. */
typedef struct pipe_watch {
    atomic_int pipes;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool hold_removal, in_removal;
} pipe_watch;

static void on_pipe(nng_pipe p, nng_pipe_ev ev, void *arg)
{
    (void)p;
    pipe_watch *w = arg;
    if (ev == NNG_PIPE_EV_ADD_POST) {
        atomic_fetch_add(&w->pipes, 1);
        return;
    }
    pthread_mutex_lock(&w->mu);
    w->in_removal = true;
    pthread_cond_broadcast(&w->cv);
    while (w->hold_removal)
        pthread_cond_wait(&w->cv, &w->mu);
    pthread_mutex_unlock(&w->mu);
    atomic_fetch_sub(&w->pipes, 1);
}

static pipe_watch *watch_new(bool hold)
{
    pipe_watch *w = em_calloc(1, sizeof *w);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    w->hold_removal = hold;
    return w;
}

/* A REP listening on loopback and a REQ connected to it, watched by w. */
static void connected_pair(nng_socket *rep, nng_socket *req, pipe_watch *w)
{
    char url[64];
    nng_listener l;
    assert_int_equal(nng_rep0_open(rep), 0);
    assert_int_equal(nng_listen(*rep, "tcp://127.0.0.1:0", &l, 0), 0);
    int port = 0;
    assert_int_equal(nng_listener_get_int(l, NNG_OPT_TCP_BOUND_PORT, &port), 0);
    snprintf(url, sizeof url, "tcp://127.0.0.1:%d", port);
    assert_int_equal(nng_req0_open(req), 0);
    nng_pipe_notify(*req, NNG_PIPE_EV_ADD_POST, on_pipe, w);
    nng_pipe_notify(*req, NNG_PIPE_EV_REM_POST, on_pipe, w);
    assert_int_equal(nng_dial(*req, url, NULL, 0), 0);
    for (int i = 0; i < 1000 && atomic_load(&w->pipes) == 0; i++)
        sleep_ms(5);
    assert_int_equal(atomic_load(&w->pipes), 1);
}

static void test_close_of_a_connected_socket_finishes(void **state)
{
    (void)state;
    nng_socket rep, req;
    pipe_watch *w = watch_new(false);
    connected_pair(&rep, &req, w);
    wire_close_detached(req, w); /* w is freed after the close: ASan sees any use after */
    assert_true(wire_closes_done(30000));
    assert_int_equal(wire_closes_stuck(0), 0);
    nng_close(rep);
}

static void test_unopened_socket_frees_at_once(void **state)
{
    (void)state;
    nng_socket none = NNG_SOCKET_INITIALIZER;
    wire_close_detached(none, em_malloc(16)); /* LeakSanitizer: freed */
    assert_true(wire_closes_done(0));
}

static void test_stuck_close_is_reported_not_waited_for(void **state)
{
    (void)state;
    nng_socket rep, req;
    pipe_watch *w = watch_new(true);
    connected_pair(&rep, &req, w);
    assert_false(wire_close_within(req, NULL, 200)); /* the removal is held */
    pthread_mutex_lock(&w->mu);
    while (!w->in_removal)
        pthread_cond_wait(&w->cv, &w->mu);
    pthread_mutex_unlock(&w->mu);
    assert_false(wire_closes_done(50));
    assert_int_equal(wire_closes_stuck(0), 1);
    assert_int_equal(wire_closes_stuck(3600 * 1000), 0); /* not for an hour yet */

    pthread_mutex_lock(&w->mu);
    w->hold_removal = false;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    assert_true(wire_closes_done(30000));
    assert_int_equal(wire_closes_stuck(0), 0);
    assert_int_equal(atomic_load(&w->pipes), 0);
    nng_close(rep);
    free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_close_of_a_connected_socket_finishes),
        cmocka_unit_test(test_unopened_socket_frees_at_once),
        cmocka_unit_test(test_stuck_close_is_reported_not_waited_for),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    wire_fini();
    return rc;
}
