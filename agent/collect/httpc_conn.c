/*
 * httpc_conn.c — TCP and TLS connections with a deadline for the agent's
 * HTTP client (see httpc_conn.h).
 *
 * TLS is mbed TLS, which nng already loads into the agent, rather than
 * OpenSSL or GnuTLS: one more TLS stack in the process costs megabytes of
 * resident pages.  mbed TLS reads and writes through our own callbacks,
 * which poll with the time left, so its calls are blocking ones with the
 * deadline inside them.
 *
 * The system CA bundle is parsed once, on the first https request, and then
 * shared read-only by every connection (certificate verification does not
 * modify the trusted chain); everything with mutable state (the ssl
 * context, its config with the random generator) is per connection, so
 * scrapes on several threads need no lock beyond the first load.
 */
#include "agent/collect/httpc_conn.h"

#include "common/err.h"
#include "common/etime.h"
#include "common/mem.h"

#include <mbedtls/asn1.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/oid.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct httpc_tls {
    mbedtls_ssl_context ssl;
    mbedtls_ssl_config conf;
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_x509_crt own_ca; /* from a ca_file other than the system bundle */
};

/* "timed out after 1.5s while connecting" */
static void timeout_error(const httpc_conn *c, const char *while_, char *err, size_t errlen)
{
    err_set(err, errlen, "timed out after %gs %s", (double)c->timeout_ms / 1000.0, while_);
}

/* ---- waiting ------------------------------------------------------------ */

/* Until fd is ready for events or the deadline passes (-1, timed_out set). */
static int wait_fd(httpc_conn *c, short events)
{
    for (;;) {
        int64_t left = c->deadline - mono_ms();
        if (left <= 0) {
            c->timed_out = true;
            return -1;
        }
        struct pollfd pfd = {.fd = c->fd, .events = events};
        int r = poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left);
        if (r > 0)
            return 0;
        if (r < 0 && errno != EINTR) {
            c->sys_errno = errno;
            return -1;
        }
    }
}

/*
 * One recv or send, waiting while the socket is not ready: bytes moved
 * (0 on reading: EOF), or -1 with sys_errno or timed_out set.  A peer that
 * closed makes send fail with EPIPE rather than raise SIGPIPE.
 */
static long raw_io(httpc_conn *c, void *p, size_t n, bool writing)
{
    for (;;) {
        ssize_t r = writing ? send(c->fd, p, n, MSG_NOSIGNAL) : recv(c->fd, p, n, 0);
        if (r >= 0)
            return (long)r;
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            c->sys_errno = errno;
            return -1;
        }
        if (wait_fd(c, writing ? POLLOUT : POLLIN) != 0)
            return -1;
    }
}

/* ---- TCP ---------------------------------------------------------------- */

/* "127.0.0.1:80" or "[::1]:80" for messages. */
static void addr_text(const struct addrinfo *ai, char *buf, size_t len)
{
    char host[INET6_ADDRSTRLEN] = "?", port[8] = "?";
    getnameinfo(ai->ai_addr, ai->ai_addrlen, host, sizeof host, port, sizeof port,
                NI_NUMERICHOST | NI_NUMERICSERV);
    snprintf(buf, len, ai->ai_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host, port);
}

/* Connect to one address: 0, or -1 with err. */
static int dial(httpc_conn *c, const struct addrinfo *ai, char *err, size_t errlen)
{
    char where[INET6_ADDRSTRLEN + 16];
    addr_text(ai, where, sizeof where);
    c->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        err_set(err, errlen, "dial tcp %s: socket: %s", where, strerror(errno));
        return -1;
    }
    int so_err = 0;
    if (connect(c->fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        so_err = errno;
        if (so_err == EINPROGRESS && wait_fd(c, POLLOUT) == 0) {
            socklen_t sl = sizeof so_err;
            if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &so_err, &sl) != 0)
                so_err = errno;
        } else if (so_err == EINPROGRESS) {
            so_err = c->timed_out ? ETIMEDOUT : c->sys_errno;
        }
    }
    if (so_err == 0)
        return 0;
    if (c->timed_out) {
        char what[INET6_ADDRSTRLEN + 64];
        snprintf(what, sizeof what, "while connecting to %s", where);
        timeout_error(c, what, err, errlen);
    } else {
        err_set(err, errlen, "dial tcp %s: connect: %s", where, strerror(so_err));
    }
    close(c->fd);
    c->fd = -1;
    return -1;
}

int httpc_conn_open(httpc_conn *c, const char *host, uint16_t port, int64_t deadline,
                    int64_t timeout_ms, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    c->fd = -1;
    c->deadline = deadline;
    c->timeout_ms = timeout_ms;
    char service[8];
    snprintf(service, sizeof service, "%u", (unsigned)port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_ADDRCONFIG | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(host, service, &hints, &res);
    if (gai != 0) {
        err_set(err, errlen, "dial tcp: lookup %s: %s", host,
                gai == EAI_SYSTEM ? strerror(errno) : gai_strerror(gai));
        return -1;
    }
    int rc = -1;
    for (const struct addrinfo *ai = res; ai != NULL && rc != 0 && !c->timed_out; ai = ai->ai_next)
        rc = dial(c, ai, err, errlen);
    freeaddrinfo(res);
    return rc;
}

/* ---- TLS: trust ------------------------------------------------------------- */

static pthread_mutex_t system_ca_mu = PTHREAD_MUTEX_INITIALIZER;
static mbedtls_x509_crt system_ca;
static bool system_ca_loaded;

static void mbed_error(int ret, const char *what, char *err, size_t errlen)
{
    char msg[160];
    mbedtls_strerror(ret, msg, sizeof msg);
    err_set(err, errlen, "%s: %s", what, msg);
}

/* Parse a PEM bundle; some unparsable entries (ret > 0) are fine. */
static int load_ca(mbedtls_x509_crt *ca, const char *path, char *err, size_t errlen)
{
    int ret = mbedtls_x509_crt_parse_file(ca, path);
    if (ret < 0 || ca->version == 0) {
        char what[300];
        snprintf(what, sizeof what, "cannot load CA certificates from %s", path);
        mbed_error(ret < 0 ? ret : MBEDTLS_ERR_X509_INVALID_FORMAT, what, err, errlen);
        return -1;
    }
    return 0;
}

static const mbedtls_x509_crt *system_trust(char *err, size_t errlen)
{
    pthread_mutex_lock(&system_ca_mu);
    if (!system_ca_loaded) {
        mbedtls_x509_crt_init(&system_ca);
        system_ca_loaded = load_ca(&system_ca, HTTPC_SYSTEM_CA_FILE, err, errlen) == 0;
        if (!system_ca_loaded)
            mbedtls_x509_crt_free(&system_ca); /* tried again on the next request */
    }
    bool ok = system_ca_loaded;
    pthread_mutex_unlock(&system_ca_mu);
    return ok ? &system_ca : NULL;
}

void httpc_conn_cleanup(void)
{
    pthread_mutex_lock(&system_ca_mu);
    if (system_ca_loaded)
        mbedtls_x509_crt_free(&system_ca);
    system_ca_loaded = false;
    pthread_mutex_unlock(&system_ca_mu);
}

/*
 * Does the certificate list ip (4 or 16 bytes) among its subjectAltName
 * iPAddress entries?  mbed TLS 2.28 keeps only the DNS names of that
 * extension, so the raw extensions are walked here.
 */
static bool cert_has_ip(const mbedtls_x509_crt *crt, const unsigned char *ip, size_t iplen)
{
    unsigned char *p = crt->v3_ext.p;
    const unsigned char *end = p + crt->v3_ext.len;
    size_t len;
    if (p == NULL ||
        mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) != 0)
        return false;
    end = p + len;
    while (p < end) {
        if (mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE))
            return false;
        const unsigned char *ext_end = p + len;
        mbedtls_x509_buf oid = {.tag = MBEDTLS_ASN1_OID};
        if (mbedtls_asn1_get_tag(&p, ext_end, &oid.len, MBEDTLS_ASN1_OID) != 0)
            return false;
        oid.p = p;
        p += oid.len;
        int critical;
        (void)mbedtls_asn1_get_bool(&p, ext_end, &critical); /* optional */
        if (mbedtls_asn1_get_tag(&p, ext_end, &len, MBEDTLS_ASN1_OCTET_STRING) != 0)
            return false;
        if (MBEDTLS_OID_CMP(MBEDTLS_OID_SUBJECT_ALT_NAME, &oid) == 0 &&
            mbedtls_asn1_get_tag(&p, ext_end, &len,
                                 MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) == 0) {
            while (p < ext_end) {
                unsigned char tag = *p++;
                if (mbedtls_asn1_get_len(&p, ext_end, &len) != 0)
                    return false;
                if (tag == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | 7) && len == iplen &&
                    memcmp(p, ip, iplen) == 0)
                    return true;
                p += len;
            }
        }
        p = (unsigned char *)(uintptr_t)ext_end;
    }
    return false;
}

/* ---- TLS: the connection ------------------------------------------------------- */

static int bio_send(void *ctx, const unsigned char *p, size_t n)
{
    long r = raw_io(ctx, (void *)(uintptr_t)p, n, true);
    return r >= 0 ? (int)r : MBEDTLS_ERR_NET_SEND_FAILED;
}

static int bio_recv(void *ctx, unsigned char *p, size_t n)
{
    httpc_conn *c = ctx;
    long r = raw_io(c, p, n, false);
    if (r >= 0)
        return (int)r;
    return c->timed_out ? MBEDTLS_ERR_SSL_TIMEOUT : MBEDTLS_ERR_NET_RECV_FAILED;
}

static void tls_free(httpc_tls *t)
{
    mbedtls_ssl_free(&t->ssl);
    mbedtls_ssl_config_free(&t->conf);
    mbedtls_ctr_drbg_free(&t->drbg);
    mbedtls_entropy_free(&t->entropy);
    mbedtls_x509_crt_free(&t->own_ca);
    free(t);
}

static int tls_setup(httpc_tls *t, httpc_conn *c, const char *host, bool ip_host,
                     const mbedtls_x509_crt *ca, char *err, size_t errlen)
{
    static const char pers[] = "ember-agent httpc";
    int ret = mbedtls_ctr_drbg_seed(&t->drbg, mbedtls_entropy_func, &t->entropy,
                                    (const unsigned char *)pers, sizeof pers - 1);
    if (ret == 0)
        ret = mbedtls_ssl_config_defaults(&t->conf, MBEDTLS_SSL_IS_CLIENT,
                                          MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT);
    if (ret != 0) {
        mbed_error(ret, "TLS setup", err, errlen);
        return -1;
    }
    mbedtls_ssl_conf_authmode(&t->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
    mbedtls_ssl_conf_ca_chain(&t->conf, (mbedtls_x509_crt *)(uintptr_t)ca, NULL);
    mbedtls_ssl_conf_rng(&t->conf, mbedtls_ctr_drbg_random, &t->drbg);
    /* TLS 1.2 at least, as Go's client. */
    mbedtls_ssl_conf_min_version(&t->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
                                 MBEDTLS_SSL_MINOR_VERSION_3);
    if ((ret = mbedtls_ssl_setup(&t->ssl, &t->conf)) != 0 ||
        /* A DNS name is sent as SNI and checked against the certificate; an
         * IP address is neither (RFC 6066) and is checked after the handshake. */
        (ret = mbedtls_ssl_set_hostname(&t->ssl, ip_host ? NULL : host)) != 0) {
        mbed_error(ret, "TLS setup", err, errlen);
        return -1;
    }
    mbedtls_ssl_set_bio(&t->ssl, c, bio_send, bio_recv, NULL);
    return 0;
}

static void handshake_error(httpc_conn *c, httpc_tls *t, int ret, char *err, size_t errlen)
{
    uint32_t flags = mbedtls_ssl_get_verify_result(&t->ssl);
    if (c->timed_out) {
        timeout_error(c, "during the TLS handshake", err, errlen);
    } else if (ret == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED && flags != 0) {
        char info[512];
        mbedtls_x509_crt_verify_info(info, sizeof info, "", flags);
        size_t n = strlen(info);
        while (n > 0 && info[n - 1] == '\n')
            info[--n] = '\0';
        for (char *nl = strchr(info, '\n'); nl != NULL; nl = strchr(nl, '\n'))
            *nl = ';';
        err_set(err, errlen, "TLS handshake: certificate verification failed: %s", info);
    } else if (ret == MBEDTLS_ERR_NET_RECV_FAILED || ret == MBEDTLS_ERR_NET_SEND_FAILED) {
        err_set(err, errlen, "TLS handshake: %s", strerror(c->sys_errno));
    } else {
        mbed_error(ret, "TLS handshake", err, errlen);
    }
}

int httpc_conn_tls(httpc_conn *c, const char *host, const char *ca_file, char *err, size_t errlen)
{
    unsigned char ip[16];
    size_t iplen = inet_pton(AF_INET, host, ip) == 1    ? 4
                   : inet_pton(AF_INET6, host, ip) == 1 ? 16
                                                        : 0;
    httpc_tls *t = em_calloc(1, sizeof *t);
    mbedtls_ssl_init(&t->ssl);
    mbedtls_ssl_config_init(&t->conf);
    mbedtls_entropy_init(&t->entropy);
    mbedtls_ctr_drbg_init(&t->drbg);
    mbedtls_x509_crt_init(&t->own_ca);
    const mbedtls_x509_crt *ca = NULL;
    if (ca_file == NULL || strcmp(ca_file, HTTPC_SYSTEM_CA_FILE) == 0)
        ca = system_trust(err, errlen);
    else if (load_ca(&t->own_ca, ca_file, err, errlen) == 0)
        ca = &t->own_ca;
    if (ca == NULL || tls_setup(t, c, host, iplen > 0, ca, err, errlen) != 0) {
        tls_free(t);
        return -1;
    }
    int ret;
    do
        ret = mbedtls_ssl_handshake(&t->ssl);
    while (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE);
    if (ret != 0) {
        handshake_error(c, t, ret, err, errlen);
        tls_free(t);
        return -1;
    }
    const mbedtls_x509_crt *peer = mbedtls_ssl_get_peer_cert(&t->ssl);
    if (iplen > 0 && (peer == NULL || !cert_has_ip(peer, ip, iplen))) {
        err_set(err, errlen,
                "TLS handshake: certificate verification failed: the certificate is not "
                "valid for IP address %s",
                host);
        tls_free(t);
        return -1;
    }
    c->tls = t;
    return 0;
}

/* ---- reading and writing --------------------------------------------------------- */

static void io_error(const httpc_conn *c, int mbed_ret, bool reading, char *err, size_t errlen)
{
    if (c->timed_out) {
        timeout_error(c, reading ? "while waiting for the response" : "while sending the request",
                      err, errlen);
    } else if (mbed_ret != 0 && mbed_ret != MBEDTLS_ERR_NET_RECV_FAILED &&
               mbed_ret != MBEDTLS_ERR_NET_SEND_FAILED) {
        mbed_error(mbed_ret, reading ? "TLS read" : "TLS write", err, errlen);
    } else {
        err_set(err, errlen, "%s: %s", reading ? "read" : "write", strerror(c->sys_errno));
    }
}

int httpc_conn_write(httpc_conn *c, const char *p, size_t n, char *err, size_t errlen)
{
    while (n > 0) {
        long r;
        int ret = 0;
        if (c->tls != NULL) {
            ret = mbedtls_ssl_write(&c->tls->ssl, (const unsigned char *)p, n);
            r = ret;
        } else {
            r = raw_io(c, (void *)(uintptr_t)p, n, true);
        }
        if (r <= 0) {
            io_error(c, ret, false, err, errlen);
            return -1;
        }
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

long httpc_conn_read(httpc_conn *c, char *p, size_t n, char *err, size_t errlen)
{
    if (c->tls == NULL) {
        long r = raw_io(c, p, n, false);
        if (r < 0)
            io_error(c, 0, true, err, errlen);
        return r;
    }
    int ret;
    do
        ret = mbedtls_ssl_read(&c->tls->ssl, (unsigned char *)p, n);
    while (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE);
    /* A close without close_notify is an end too: the HTTP framing tells
     * a complete body from a truncated one. */
    if (ret == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || ret == MBEDTLS_ERR_SSL_CONN_EOF)
        return 0;
    if (ret < 0) {
        io_error(c, ret, true, err, errlen);
        return -1;
    }
    return ret;
}

void httpc_conn_close(httpc_conn *c)
{
    if (c->tls != NULL)
        tls_free(c->tls);
    c->tls = NULL;
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}
