/*
 * wire_close.c — nng sockets closed on detached threads (see wire_close.h).
 * A small table of the closes in progress, with their start times, under
 * one mutex; each closer thread clears its entry when nng_close returns,
 * and waiters poll the count (a close takes milliseconds, or forever).
 */
#include "proto/wire_close.h"

#include "common/etime.h"
#include "common/log.h"
#include "common/mem.h"

#include <pthread.h>
#include <stdlib.h>

#define MAX_TRACKED 64 /* closes beyond this still run, only their age is unknown */
#define EXIT_WAIT_MS 2000

typedef struct close_job {
    nng_socket s;
    void *free_after;
    int slot; /* in started[], or -1 */
} close_job;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int64_t started[MAX_TRACKED]; /* 0: a free entry */
static unsigned running;             /* every close in progress */

static int begin_close(void)
{
    pthread_mutex_lock(&mu);
    int slot = -1;
    for (int i = 0; i < MAX_TRACKED && slot < 0; i++)
        if (!started[i])
            slot = i;
    if (slot >= 0)
        started[slot] = mono_ms();
    running++;
    pthread_mutex_unlock(&mu);
    return slot;
}

static void *closer(void *arg)
{
    close_job *j = arg;
    nng_close(j->s);
    free(j->free_after);
    pthread_mutex_lock(&mu);
    if (j->slot >= 0)
        started[j->slot] = 0;
    running--;
    pthread_mutex_unlock(&mu);
    free(j);
    return NULL;
}

void wire_close_detached(nng_socket s, void *free_after)
{
    if (nng_socket_id(s) <= 0) {
        free(free_after);
        return;
    }
    close_job *j = em_malloc(sizeof *j);
    *j = (close_job){.s = s, .free_after = free_after, .slot = begin_close()};
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t t;
    if (pthread_create(&t, &attr, closer, j) != 0)
        closer(j);
    pthread_attr_destroy(&attr);
}

bool wire_close_within(nng_socket s, void *free_after, int timeout_ms)
{
    wire_close_detached(s, free_after);
    return wire_closes_done(timeout_ms);
}

bool wire_closes_done(int timeout_ms)
{
    int64_t deadline = mono_ms() + timeout_ms;
    pthread_mutex_lock(&mu);
    while (running > 0 && mono_ms() < deadline) {
        pthread_mutex_unlock(&mu);
        sleep_ms(2);
        pthread_mutex_lock(&mu);
    }
    bool done = running == 0;
    pthread_mutex_unlock(&mu);
    return done;
}

unsigned wire_closes_stuck(int age_ms)
{
    int64_t now = mono_ms();
    unsigned n = 0;
    pthread_mutex_lock(&mu);
    for (int i = 0; i < MAX_TRACKED; i++)
        if (started[i] && now - started[i] > age_ms)
            n++;
    pthread_mutex_unlock(&mu);
    return n;
}

void wire_fini(void)
{
    if (wire_closes_done(EXIT_WAIT_MS))
        nng_fini();
    else
        log_warn("an nng socket is still closing at exit (nng 1.5.2, nanomsg/nng#1813); "
                 "exiting without waiting for it",
                 "waited_ms=%d", EXIT_WAIT_MS);
}
