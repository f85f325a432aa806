/*
 * test_httpd_blocking.c — a handler that blocks holds up no other
 * connection when the server runs a thread per connection (the aggregator's
 * API: a long query, or one waiting for a --query.max-concurrency slot).
 * Sixteen keep-alive connections are opened and used first, then a request
 * on another connection blocks in its handler; each of the sixteen must
 * still be answered while it does.  With a pool of threads this failed:
 * the thread that took the blocking request had also accepted some of the
 * sixteen, and they waited behind it.  Real sockets on loopback.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/httpd.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define IDLE 16

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static bool in_slow, release_slow;

static void fast(void *ctx, const httpd_request *req, httpd_response *resp)
{
    (void)ctx, (void)req;
    ebuf_puts(&resp->body, "ok");
}

static void slow(void *ctx, const httpd_request *req, httpd_response *resp)
{
    (void)ctx, (void)req;
    pthread_mutex_lock(&mu);
    in_slow = true;
    pthread_cond_broadcast(&cv);
    while (!release_slow)
        pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
    ebuf_puts(&resp->body, "slow");
}

static int connect_to(unsigned port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    struct timeval tv = {.tv_sec = 30}; /* only a hang trips it */
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

static void send_get(int fd, const char *path)
{
    char req[128];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", path);
    assert_int_equal(send(fd, req, (size_t)n, MSG_NOSIGNAL), n);
}

/* Read one response whose body ends with want; false on timeout or EOF. */
static bool read_reply(int fd, const char *want)
{
    char buf[1024];
    size_t len = 0;
    while (len < sizeof buf - 1) {
        ssize_t n = recv(fd, buf + len, sizeof buf - 1 - len, 0);
        if (n <= 0)
            return false;
        len += (size_t)n;
        buf[len] = '\0';
        const char *body = strstr(buf, "\r\n\r\n");
        if (body && strcmp(body + 4, want) == 0)
            return true;
    }
    return false;
}

static void test_blocked_handler_holds_up_no_other_connection(void **state)
{
    (void)state;
    httpd *h = httpd_new(&(httpd_options){.thread_per_connection = true});
    httpd_route(h, "GET", "/fast", fast, NULL);
    httpd_route(h, "GET", "/slow", slow, NULL);
    char err[256];
    assert_int_equal(httpd_start(h, "127.0.0.1:0", err, sizeof err), 0);
    unsigned port = httpd_port(h);

    int idle[IDLE];
    for (int i = 0; i < IDLE; i++) { /* open and in use: the server has them */
        idle[i] = connect_to(port);
        send_get(idle[i], "/fast");
        assert_true(read_reply(idle[i], "ok"));
    }
    int blocker = connect_to(port);
    send_get(blocker, "/slow");
    pthread_mutex_lock(&mu);
    while (!in_slow)
        pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);

    for (int i = 0; i < IDLE; i++) {
        send_get(idle[i], "/fast");
        assert_true(read_reply(idle[i], "ok")); /* while /slow still blocks */
    }
    pthread_mutex_lock(&mu);
    assert_false(release_slow);
    release_slow = true;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
    assert_true(read_reply(blocker, "slow"));

    for (int i = 0; i < IDLE; i++)
        close(idle[i]);
    close(blocker);
    httpd_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blocked_handler_holds_up_no_other_connection),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
