/*
 * harness.h — what integration tests need to run the real binaries: a
 * temporary directory, free loopback ports, child processes that are always
 * stopped (SIGTERM, then SIGKILL; they also die with the test through
 * PR_SET_PDEATHSIG), and an HTTP client.  harness_cleanup() runs at exit
 * even when assertions fail.
 */
#ifndef EMBER_TESTS_HARNESS_H
#define EMBER_TESTS_HARNESS_H

#include "common/buf.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Create the test's temporary directory (once) and return it. */
const char *harness_tmpdir(void);
/* A TCP port on 127.0.0.1 that was free a moment ago. */
unsigned harness_free_port(void);
/* Path of a built binary: $EMBER_BIN_DIR/name. */
const char *harness_bin(const char *name, char *buf, size_t len);

/* Start argv[0] with output to <tmpdir>/<name>.log; returns the pid. */
pid_t harness_spawn(const char *name, char *const argv[]);
/*
 * Start ember-aggregator with its API on 127.0.0.1:api_port, a data dir
 * <tmpdir>/<name>, a free ingest port and the extra flags (NULL-terminated
 * list, or NULL), log in <tmpdir>/<name>.log; wait until /-/ready answers
 * (fails the test if it does not within 20 s).  Returns the pid.
 */
pid_t harness_spawn_aggregator(const char *name, unsigned api_port, const char *const *extra);

/* Debian's prometheus, the peer the tests agree with. */
#define HARNESS_PROMETHEUS "/usr/bin/prometheus"
/*
 * Start it with config file cfg, its TSDB in data_dir, the web on
 * 127.0.0.1:port and the extra flags (NULL-terminated, or NULL), log in
 * <tmpdir>/<name>.log; wait until /-/ready answers (fails the test if not
 * within 30 s).  Returns the pid.
 */
pid_t harness_spawn_prometheus(const char *name, const char *cfg, const char *data_dir,
                               unsigned port, const char *const *extra);
/* SIGTERM and wait up to timeout_ms (then SIGKILL); returns the exit status
 * as from waitpid, or -1. */
int harness_stop(pid_t pid, int timeout_ms);
bool harness_alive(pid_t pid);
/* Run to completion, capturing stdout and stderr; returns the exit code. */
int harness_run(char *const argv[], ebuf *output);
/* Contents of <tmpdir>/<name>.log. */
void harness_log(const char *name, ebuf *out);
/* How many times name's log says needle. */
int harness_log_count(const char *name, const char *needle);
/* Poll name's log until it says needle, at most timeout_ms; false (and the
 * log's end printed) when it never did. */
bool harness_wait_log(const char *name, const char *needle, int timeout_ms);

/* HTTP GET (or POST when post_body is not NULL, form-encoded).  Returns the
 * status code, 0 when the connection failed. */
long harness_http(const char *url, const char *post_body, ebuf *body);
/* Poll url until it answers 200 or timeout_ms passes. */
bool harness_wait_http(const char *url, int timeout_ms);

void harness_cleanup(void);

#endif
