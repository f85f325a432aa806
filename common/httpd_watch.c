/*
 * httpd_watch.c — the "client gone" watcher of httpd_watch.h: one thread
 * polling every registered socket, setting each one's flag when its client
 * has gone.
 *
 * What counts as gone, and why: Go's net/http server (Prometheus's) starts
 * a background read on the connection once the request has been read; if
 * that read returns EOF or an error, the request's context is canceled.  So
 * the peer's FIN ends a query in Prometheus even when the client only
 * half-closed after sending its request (golang/go#18527, still so in Go
 * 1.19 that Prometheus 2.42 is built with).  We match that with
 * POLLRDHUP, the kernel's "peer shut down writing", plus POLLHUP/POLLERR
 * for a reset.  Only the kernel's view of the TCP stream is looked at, so
 * it works the same under TLS (the socket is the TCP one), and bytes a
 * client pipelined behind its request wake nothing (POLLIN is not asked
 * for).  One difference remains: a client that pipelines a second request
 * and then half-closes is gone to us, while Go's one-byte background read
 * would stop at the pipelined byte; no common client pipelines (curl, Go,
 * browsers do not).
 *
 * The thread blocks in poll() with no timeout: a change of the set (add,
 * remove, stop) wakes it through a pipe.  A socket that has fired is left
 * out of the next poll, or its standing POLLRDHUP would make poll spin.
 * Remove wakes the thread too, so that poll lets go of a socket the server
 * is about to close (a file being polled is only released when poll
 * returns, which would delay the close).  Results are matched to entries
 * by handle under the lock, so a late event for an entry already removed
 * (or for an fd number reused since) touches nothing.
 */
#define _GNU_SOURCE /* POLLRDHUP, pipe2 */
#include "common/httpd_watch.h"

#include "common/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#define GONE_EVENTS (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)

typedef struct watch_entry {
    uint64_t handle;
    int fd;
    atomic_bool *gone;
    bool fired; /* flag set: no longer polled */
} watch_entry;

struct httpd_watch {
    pthread_mutex_t mu;
    pthread_t thread;
    int wake[2]; /* pipe: read end polled by the thread */
    bool stop;
    watch_entry *v;
    size_t n, cap;
    uint64_t next_handle;
    /* The thread's own copies of the set it polls (touched only by it). */
    struct pollfd *pfd;
    uint64_t *handles;
    size_t pcap;
};

static void wake_thread(httpd_watch *w)
{
    char b = 1;
    /* A full pipe already holds a wake-up; nothing else can go wrong. */
    ssize_t rc = write(w->wake[1], &b, 1);
    (void)rc;
}

static void drain_wake(httpd_watch *w)
{
    char b[64];
    while (read(w->wake[0], b, sizeof b) > 0) {
    }
}

/* Copy the entries still to be polled; false once stopping. */
static bool snapshot(httpd_watch *w, size_t *np)
{
    pthread_mutex_lock(&w->mu);
    bool go = !w->stop;
    size_t need = w->n + 1;
    if (need > w->pcap) {
        w->pcap = need * 2;
        w->pfd = em_realloc(w->pfd, w->pcap * sizeof *w->pfd);
        w->handles = em_realloc(w->handles, w->pcap * sizeof *w->handles);
    }
    w->pfd[0] = (struct pollfd){.fd = w->wake[0], .events = POLLIN};
    size_t n = 1;
    for (size_t i = 0; i < w->n; i++) {
        if (w->v[i].fired)
            continue;
        w->pfd[n] = (struct pollfd){.fd = w->v[i].fd, .events = POLLRDHUP};
        w->handles[n++] = w->v[i].handle;
    }
    pthread_mutex_unlock(&w->mu);
    *np = n;
    return go;
}

static watch_entry *find(httpd_watch *w, uint64_t handle)
{
    for (size_t i = 0; i < w->n; i++)
        if (w->v[i].handle == handle)
            return &w->v[i];
    return NULL;
}

/* Set the flags of the sockets whose clients poll found gone. */
static void mark_gone(httpd_watch *w, size_t n)
{
    pthread_mutex_lock(&w->mu);
    for (size_t i = 1; i < n; i++) {
        if (!(w->pfd[i].revents & GONE_EVENTS))
            continue;
        watch_entry *e = find(w, w->handles[i]);
        if (e) {
            atomic_store(e->gone, true);
            e->fired = true;
        }
    }
    pthread_mutex_unlock(&w->mu);
}

static void *watch_main(void *arg)
{
    httpd_watch *w = arg;
    size_t n;
    while (snapshot(w, &n)) {
        if (poll(w->pfd, (nfds_t)n, -1) < 0)
            continue; /* EINTR */
        if (w->pfd[0].revents)
            drain_wake(w);
        mark_gone(w, n);
    }
    return NULL;
}

httpd_watch *httpd_watch_new(void)
{
    httpd_watch *w = em_calloc(1, sizeof *w);
    if (pipe2(w->wake, O_NONBLOCK | O_CLOEXEC) != 0) {
        free(w);
        return NULL;
    }
    pthread_mutex_init(&w->mu, NULL);
    w->next_handle = 1;
    if (pthread_create(&w->thread, NULL, watch_main, w) != 0) {
        close(w->wake[0]);
        close(w->wake[1]);
        pthread_mutex_destroy(&w->mu);
        free(w);
        return NULL;
    }
    return w;
}

void httpd_watch_free(httpd_watch *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    pthread_mutex_unlock(&w->mu);
    wake_thread(w);
    pthread_join(w->thread, NULL);
    close(w->wake[0]);
    close(w->wake[1]);
    pthread_mutex_destroy(&w->mu);
    free(w->v);
    free(w->pfd);
    free(w->handles);
    free(w);
}

static httpd_watch *shared;
static pthread_once_t shared_once = PTHREAD_ONCE_INIT;

static void shared_start(void)
{
    shared = httpd_watch_new();
}

httpd_watch *httpd_watch_shared(void)
{
    pthread_once(&shared_once, shared_start);
    return shared;
}

uint64_t httpd_watch_add(httpd_watch *w, int fd, atomic_bool *gone)
{
    if (!w || fd < 0)
        return 0;
    pthread_mutex_lock(&w->mu);
    EM_GROW(w->v, w->cap, w->n + 1);
    uint64_t h = w->next_handle++;
    w->v[w->n++] = (watch_entry){.handle = h, .fd = fd, .gone = gone};
    pthread_mutex_unlock(&w->mu);
    wake_thread(w);
    return h;
}

void httpd_watch_remove(httpd_watch *w, uint64_t handle)
{
    if (!w || !handle)
        return;
    pthread_mutex_lock(&w->mu);
    watch_entry *e = find(w, handle);
    if (e)
        *e = w->v[--w->n];
    pthread_mutex_unlock(&w->mu);
    wake_thread(w);
}

/* httpd.c keeps the request's MHD connection in req->conn. */
int httpd_request_fd(const httpd_request *r)
{
    if (!r || !r->conn)
        return -1;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    return ci ? ci->connect_fd : -1;
}
