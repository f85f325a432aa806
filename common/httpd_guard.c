/* httpd_guard.c — read deadlines and the connection limit for
 * common/httpd.c, and the count of refusals (see httpd_guard.h). */
#include "common/httpd_guard.h"

#include "common/etime.h"
#include "common/log.h"
#include "common/mem.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

static atomic_uint_fast64_t refused[HTTPD_REFUSED_COUNT];

static const char *const refusal_names[HTTPD_REFUSED_COUNT] = {
    "unauthorized", "forbidden", "too_large", "too_many_connections", "read_timeout"};

void refusal_count(httpd_refusal r)
{
    if (r < HTTPD_REFUSED_COUNT)
        atomic_fetch_add(&refused[r], 1);
}

uint64_t httpd_refused(httpd_refusal r)
{
    return r < HTTPD_REFUSED_COUNT ? (uint64_t)atomic_load(&refused[r]) : 0;
}

const char *httpd_refusal_name(httpd_refusal r)
{
    return r < HTTPD_REFUSED_COUNT ? refusal_names[r] : "unknown";
}

void httpd_refused_metrics(metric_set *ms)
{
    const char *name = "ember_http_requests_refused_total";
    metric_set_meta(ms, name, METRIC_COUNTER,
                    "Requests and connections the HTTP server turned away before a handler ran, "
                    "by reason.");
    for (int r = 0; r < HTTPD_REFUSED_COUNT; r++)
        metric_set_addl(ms, name, (double)httpd_refused((httpd_refusal)r), "reason",
                        refusal_names[r], NULL);
}

/* One connection; lives from MHD's STARTED notification to its CLOSED one. */
typedef struct tracked {
    struct tracked *prev, *next;
    int fd;
    int64_t since_ms; /* when the clock started (mono_ms) */
    bool reading;     /* the clock runs */
} tracked;

struct httpd_deadlines {
    int64_t timeout_ms;
    size_t max_connections, open;
    pthread_mutex_t mu; /* the list, every entry's fields, and stop */
    pthread_cond_t wake;
    tracked head; /* circular list sentinel */
    bool stop;
    pthread_t reaper;
};

/* How often the reaper looks: often enough that a cut comes at most a
 * second (or a quarter of a short timeout) late. */
static int64_t reap_period_ms(const httpd_deadlines *d)
{
    int64_t p = d->timeout_ms / 4;
    return p < 1000 ? (p < 50 ? 50 : p) : 1000;
}

static void cut_overdue(httpd_deadlines *d, int64_t now)
{
    for (tracked *t = d->head.next; t != &d->head; t = t->next) {
        if (!t->reading || now - t->since_ms <= d->timeout_ms)
            continue;
        shutdown(t->fd, SHUT_RDWR); /* MHD reads EOF and closes it */
        t->reading = false;         /* once is enough */
        refusal_count(HTTPD_REFUSED_READ_TIMEOUT);
        log_debug("http connection cut", "reason=\"request not read within the read timeout\"");
    }
}

static void *reaper_main(void *arg)
{
    httpd_deadlines *d = arg;
    pthread_mutex_lock(&d->mu);
    while (!d->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        int64_t ns = ts.tv_nsec + reap_period_ms(d) * 1000000;
        ts.tv_sec += ns / 1000000000;
        ts.tv_nsec = ns % 1000000000;
        pthread_cond_timedwait(&d->wake, &d->mu, &ts);
        cut_overdue(d, mono_ms());
    }
    pthread_mutex_unlock(&d->mu);
    return NULL;
}

httpd_deadlines *deadlines_start(unsigned read_timeout_s, unsigned max_connections)
{
    httpd_deadlines *d = em_calloc(1, sizeof *d);
    d->timeout_ms = (int64_t)read_timeout_s * 1000;
    d->max_connections = max_connections;
    d->head.prev = d->head.next = &d->head;
    pthread_mutex_init(&d->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&d->wake, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&d->reaper, NULL, reaper_main, d) != 0)
        abort(); /* no thread: as out of memory */
    return d;
}

/* After the servers stopped: every connection is closed and untracked. */
void deadlines_free(httpd_deadlines *d)
{
    if (!d)
        return;
    pthread_mutex_lock(&d->mu);
    d->stop = true;
    pthread_cond_signal(&d->wake);
    pthread_mutex_unlock(&d->mu);
    pthread_join(d->reaper, NULL);
    pthread_cond_destroy(&d->wake);
    pthread_mutex_destroy(&d->mu);
    free(d);
}

void deadlines_on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                             enum MHD_ConnectionNotificationCode code)
{
    httpd_deadlines *d = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        tracked *t = em_calloc(1, sizeof *t);
        t->fd = ci ? ci->connect_fd : -1;
        t->since_ms = mono_ms();
        t->reading = t->fd >= 0;
        pthread_mutex_lock(&d->mu);
        t->next = &d->head;
        t->prev = d->head.prev;
        t->prev->next = t;
        d->head.prev = t;
        if (++d->open > d->max_connections && t->fd >= 0) {
            shutdown(t->fd, SHUT_RDWR); /* over the limit: MHD closes it */
            t->reading = false;
            refusal_count(HTTPD_REFUSED_TOO_MANY_CONNECTIONS);
        }
        pthread_mutex_unlock(&d->mu);
        *socket_context = t;
        return;
    }
    tracked *t = *socket_context;
    if (!t)
        return;
    pthread_mutex_lock(&d->mu);
    t->prev->next = t->next;
    t->next->prev = t->prev;
    d->open--;
    pthread_mutex_unlock(&d->mu);
    free(t);
    *socket_context = NULL;
}

static void set_clock(httpd_deadlines *d, struct MHD_Connection *conn, bool reading)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    tracked *t = d && ci ? ci->socket_context : NULL;
    if (!t)
        return;
    pthread_mutex_lock(&d->mu);
    t->reading = reading && t->fd >= 0;
    t->since_ms = mono_ms();
    pthread_mutex_unlock(&d->mu);
}

void deadlines_request_read(httpd_deadlines *d, struct MHD_Connection *conn)
{
    set_clock(d, conn, false);
}

void deadlines_request_done(httpd_deadlines *d, struct MHD_Connection *conn)
{
    set_clock(d, conn, true);
}
