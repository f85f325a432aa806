/*
 * test_httpd_watch.c — common/httpd_watch, the "client gone" watcher, over
 * real loopback TCP connections: a client that closes, resets, or
 * half-closes after its request (gone, as in Go's net/http) sets its flag;
 * one that stays, even sending more bytes, leaves it clear; a socket
 * already closed when added fires at once; a removed one is never touched.
 * The negative cases are decided against a sentinel connection closed
 * afterwards: the one watcher thread sees both in the same poll set, so
 * once the sentinel has fired the other flag has had its chance.  Last, a
 * real httpd handler watches its own request (httpd_request_fd) and sees
 * its client go.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/etime.h"
#include "common/httpd.h"
#include "common/httpd_watch.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define WAIT_MS 10000 /* a bound far above any real delay: no timing asserted */

/* A loopback TCP connection: the client's end and the server's. */
typedef struct conn {
    int client, server;
} conn;

static int listener(uint16_t *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 8), 0);
    socklen_t len = sizeof a;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

static int dial(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

static conn connect_pair(void)
{
    uint16_t port;
    int l = listener(&port);
    conn c = {.client = dial(port)};
    c.server = accept(l, NULL, NULL);
    assert_true(c.server >= 0);
    close(l);
    return c;
}

static void close_pair(conn *c)
{
    if (c->client >= 0)
        close(c->client);
    close(c->server);
}

/* Wait (bounded) for *flag; returns its value. */
static bool wait_flag(atomic_bool *flag)
{
    int64_t until = mono_ms() + WAIT_MS;
    while (!atomic_load(flag) && mono_ms() < until)
        usleep(1000);
    return atomic_load(flag);
}

static void send_request(int fd)
{
    const char req[] = "GET /api/v1/query?query=up HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_int_equal(send(fd, req, sizeof req - 1, MSG_NOSIGNAL), (ssize_t)(sizeof req - 1));
}

/* A sentinel connection whose client closes now: once its flag is up the
 * watcher has polled every socket registered before it since. */
static void sentinel_fires(httpd_watch *w)
{
    conn s = connect_pair();
    atomic_bool gone = false;
    uint64_t h = httpd_watch_add(w, s.server, &gone);
    close(s.client);
    s.client = -1;
    assert_true(wait_flag(&gone));
    httpd_watch_remove(w, h);
    close_pair(&s);
}

static int setup(void **state)
{
    *state = httpd_watch_new();
    return *state ? 0 : -1;
}

static int teardown(void **state)
{
    httpd_watch_free(*state);
    return 0;
}

static void test_client_close_sets_flag(void **state)
{
    httpd_watch *w = *state;
    conn c = connect_pair();
    send_request(c.client);
    atomic_bool gone = false;
    uint64_t h = httpd_watch_add(w, c.server, &gone);
    assert_true(h != 0);
    close(c.client);
    c.client = -1;
    assert_true(wait_flag(&gone));
    httpd_watch_remove(w, h);
    close_pair(&c);
}

static void test_client_reset_sets_flag(void **state)
{
    httpd_watch *w = *state;
    conn c = connect_pair();
    atomic_bool gone = false;
    uint64_t h = httpd_watch_add(w, c.server, &gone);
    struct linger lg = {.l_onoff = 1, .l_linger = 0}; /* close sends RST */
    assert_int_equal(setsockopt(c.client, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
    close(c.client);
    c.client = -1;
    assert_true(wait_flag(&gone));
    httpd_watch_remove(w, h);
    close_pair(&c);
}

/* Go cancels the request's context on the FIN of a half-close, so we do;
 * the connection still carries the answer back. */
static void test_half_close_after_request_is_gone(void **state)
{
    httpd_watch *w = *state;
    conn c = connect_pair();
    send_request(c.client);
    atomic_bool gone = false;
    uint64_t h = httpd_watch_add(w, c.server, &gone);
    assert_int_equal(shutdown(c.client, SHUT_WR), 0);
    assert_true(wait_flag(&gone));
    httpd_watch_remove(w, h);
    const char answer[] = "HTTP/1.1 503 Service Unavailable\r\n";
    assert_int_equal(send(c.server, answer, sizeof answer - 1, MSG_NOSIGNAL),
                     (ssize_t)(sizeof answer - 1));
    char got[64] = {0};
    assert_int_equal(recv(c.client, got, sizeof answer - 1, MSG_WAITALL),
                     (ssize_t)(sizeof answer - 1));
    assert_string_equal(got, answer);
    close_pair(&c);
}

static void test_client_that_stays_is_not_gone(void **state)
{
    httpd_watch *w = *state;
    conn c = connect_pair();
    send_request(c.client);
    atomic_bool gone = false;
    uint64_t h = httpd_watch_add(w, c.server, &gone);
    /* More bytes (a pipelined request) are not a goodbye. */
    send_request(c.client);
    sentinel_fires(w);
    assert_false(atomic_load(&gone));
    httpd_watch_remove(w, h);
    close_pair(&c);
}

static void test_closed_before_add_fires(void **state)
{
    httpd_watch *w = *state;
    conn c = connect_pair();
    send_request(c.client);
    close(c.client);
    c.client = -1;
    usleep(10000); /* let the FIN arrive; the flag must be set either way */
    atomic_bool gone = false;
    uint64_t h = httpd_watch_add(w, c.server, &gone);
    assert_true(wait_flag(&gone));
    httpd_watch_remove(w, h);
    close_pair(&c);
}

static void test_removed_socket_is_not_touched(void **state)
{
    httpd_watch *w = *state;
    conn c = connect_pair();
    atomic_bool gone = false;
    uint64_t h = httpd_watch_add(w, c.server, &gone);
    httpd_watch_remove(w, h);
    close(c.client);
    c.client = -1;
    sentinel_fires(w);
    assert_false(atomic_load(&gone));
    close_pair(&c);
}

/* Many at once: each flag follows its own client only. */
static void test_many_sockets_each_its_own(void **state)
{
    enum { N = 64 };
    httpd_watch *w = *state;
    conn c[N];
    atomic_bool gone[N];
    uint64_t h[N];
    for (int i = 0; i < N; i++) {
        c[i] = connect_pair();
        atomic_init(&gone[i], false);
        h[i] = httpd_watch_add(w, c[i].server, &gone[i]);
    }
    for (int i = 0; i < N; i += 2) {
        close(c[i].client);
        c[i].client = -1;
    }
    for (int i = 0; i < N; i += 2)
        assert_true(wait_flag(&gone[i]));
    sentinel_fires(w);
    for (int i = 1; i < N; i += 2)
        assert_false(atomic_load(&gone[i]));
    for (int i = 0; i < N; i++) {
        httpd_watch_remove(w, h[i]);
        close_pair(&c[i]);
    }
}

static void test_nothing_to_watch(void **state)
{
    atomic_bool gone = false;
    assert_true(httpd_watch_add(*state, -1, &gone) == 0);
    assert_true(httpd_watch_add(NULL, 0, &gone) == 0);
    httpd_watch_remove(*state, 0); /* no-ops */
    httpd_watch_remove(NULL, 1);
    assert_false(atomic_load(&gone));
    assert_non_null(httpd_watch_shared());
    assert_ptr_equal(httpd_watch_shared(), httpd_watch_shared());
}

/* ---- through httpd: a handler watching its own request ---- */

typedef struct handler_seen {
    atomic_int fd_port; /* the local port of httpd_request_fd's socket */
    atomic_bool saw_gone;
} handler_seen;

static void wait_for_goodbye(void *ctx, const httpd_request *req, httpd_response *resp)
{
    handler_seen *seen = ctx;
    int fd = httpd_request_fd(req);
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    if (fd >= 0 && getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        atomic_store(&seen->fd_port, ntohs(a.sin_port));
    atomic_bool gone = false;
    uint64_t h = httpd_watch_add(httpd_watch_shared(), fd, &gone);
    atomic_store(&seen->saw_gone, wait_flag(&gone));
    httpd_watch_remove(httpd_watch_shared(), h);
    ebuf_puts(&resp->body, "too late\n");
}

static void test_handler_sees_its_client_go(void **state)
{
    (void)state;
    handler_seen seen = {0};
    httpd *h = httpd_new(&(httpd_options){.threads = 2});
    httpd_route(h, "GET", "/wait", wait_for_goodbye, &seen);
    char err[256];
    assert_int_equal(httpd_start(h, "127.0.0.1:0", err, sizeof err), 0);
    uint16_t port = httpd_port(h);
    int fd = dial(port);
    const char req[] = "GET /wait HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_int_equal(send(fd, req, sizeof req - 1, MSG_NOSIGNAL), (ssize_t)(sizeof req - 1));
    int64_t until = mono_ms() + WAIT_MS;
    while (atomic_load(&seen.fd_port) == 0 && mono_ms() < until)
        usleep(1000);
    assert_int_equal(atomic_load(&seen.fd_port), port);
    close(fd);
    httpd_stop(h); /* waits for the handler */
    assert_true(atomic_load(&seen.saw_gone));
    httpd_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_client_close_sets_flag, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_reset_sets_flag, setup, teardown),
        cmocka_unit_test_setup_teardown(test_half_close_after_request_is_gone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_that_stays_is_not_gone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_closed_before_add_fires, setup, teardown),
        cmocka_unit_test_setup_teardown(test_removed_socket_is_not_touched, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_sockets_each_its_own, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nothing_to_watch, setup, teardown),
        cmocka_unit_test(test_handler_sees_its_client_go),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
