/*
 * httpc_conn.h — one client connection of the agent's HTTP client (httpc.h):
 * TCP to a host and port, optionally TLS on top (mbed TLS, certificates
 * checked against a CA bundle and the host name), every step bounded by one
 * absolute deadline.
 *
 * The socket is non-blocking and each wait is a poll() with the time left,
 * so a server that accepts and then says nothing, or trickles bytes, costs
 * at most the caller's timeout.  Name lookup (getaddrinfo) is the one step
 * the deadline cannot interrupt.
 *
 * Errors are one line without the URL (httpc.c prefixes it), worded like
 * Go's net package where there is an equivalent:
 *   "dial tcp 127.0.0.1:9: connect: Connection refused".
 */
#ifndef EMBER_AGENT_COLLECT_HTTPC_CONN_H
#define EMBER_AGENT_COLLECT_HTTPC_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct httpc_tls httpc_tls;

typedef struct httpc_conn {
    int fd;
    int64_t deadline;   /* mono_ms() at which every wait gives up */
    int64_t timeout_ms; /* the caller's timeout, for messages */
    bool timed_out;
    int sys_errno; /* of the last failed system call */
    httpc_tls *tls;
} httpc_conn;

/* Resolve host, connect to the first address that answers. */
int httpc_conn_open(httpc_conn *c, const char *host, uint16_t port, int64_t deadline,
                    int64_t timeout_ms, char *err, size_t errlen);

/*
 * TLS handshake over the open connection: SNI and a name check for a DNS
 * host, the certificate's IP addresses for an IP host; CAs from ca_file, or
 * from the system bundle (HTTPC_SYSTEM_CA_FILE) when ca_file is NULL.
 */
int httpc_conn_tls(httpc_conn *c, const char *host, const char *ca_file, char *err, size_t errlen);

int httpc_conn_write(httpc_conn *c, const char *p, size_t n, char *err, size_t errlen);
/* Bytes read (> 0), 0 at end of stream, -1 with err. */
long httpc_conn_read(httpc_conn *c, char *p, size_t n, char *err, size_t errlen);
void httpc_conn_close(httpc_conn *c);

/* Free the cached system CA bundle (loaded on the first https request). */
void httpc_conn_cleanup(void);

#define HTTPC_SYSTEM_CA_FILE "/etc/ssl/certs/ca-certificates.crt"

#endif
