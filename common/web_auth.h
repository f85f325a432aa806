/*
 * web_auth.h — who may use an Ember HTTP server (the aggregator's API, the
 * agent's --http-listen port), from the web: section of its config file:
 *
 *   web:
 *     tls_server_config:          # HTTPS (as Prometheus's web config file)
 *       cert_file: server.pem     # relative paths: to the config file's directory
 *       key_file: server.key
 *     users:                      # HTTP basic authentication
 *       - username: grafana
 *         password_sha256: 5e88...  # printf %s PASSWORD | sha256sum
 *         role: read              # read (default) or write (also: admin)
 *     tokens:                     # Authorization: Bearer TOKEN
 *       - token_sha256: 9f86...
 *         role: write
 *     open_paths: [/-/healthy, /-/ready]   # the default; [] guards them too
 *
 * With no users and no tokens nothing is checked.  Otherwise every request
 * but those to open paths must carry valid credentials (401 with
 * WWW-Authenticate otherwise), and routes given the write access level
 * (httpd_route_access, WEB_WRITE) need the write role (403 otherwise).
 * Secrets are stored only as SHA-256 digests and every configured digest is
 * compared in full whatever matches, so timing tells nothing about near
 * misses.
 */
#ifndef EMBER_COMMON_WEB_AUTH_H
#define EMBER_COMMON_WEB_AUTH_H

#include "common/httpd.h"
#include "common/options.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A route's access level (httpd_route_access), and a user's role. */
typedef enum web_role { WEB_READ = 0, WEB_WRITE = 1 } web_role;

typedef struct web_user {
    char *name;
    uint8_t sha256[32];
    web_role role;
} web_user;

typedef struct web_token {
    uint8_t sha256[32];
    web_role role;
} web_token;

typedef struct web_config {
    char *tls_cert_file, *tls_key_file; /* both or neither */
    web_user *users;
    size_t nusers;
    web_token *tokens;
    size_t ntokens;
    strlist open_paths;
} web_config;

/* An empty config: no TLS, no credentials, the default open paths. */
void web_config_init(web_config *c);
void web_config_free(web_config *c);
/* Read the web: section of YAML text (name: the file, for messages and
 * relative paths) into c (from web_config_init); other top-level keys are
 * left alone.  0, or -1 with err set to "FILE:LINE:COL: reason". */
int web_config_parse(web_config *c, const char *name, const char *buf, size_t len, char *err,
                     size_t errlen);
int web_config_load(web_config *c, const char *path, char *err, size_t errlen);

/* Fills resp with a refusal: status 401 or 403, type "unauthorized" or
 * "forbidden" (the aggregator's api_error, for Prometheus's JSON envelope). */
typedef void (*web_error_fn)(httpd_response *resp, int status, const char *type, const char *msg);

/* The checker the server calls (an httpd_auth_fn on a web_auth). */
typedef struct web_auth web_auth;
/* Takes over c's credentials and open paths (c is left empty).  error NULL:
 * refusals in plain text, "401 unauthorized: <reason>\n". */
web_auth *web_auth_new(web_config *c, web_error_fn error);
/* SIGHUP: swap in new credentials; requests in flight finish with the old. */
void web_auth_replace(web_auth *a, web_config *c);
void web_auth_free(web_auth *a);
bool web_auth_check(void *ctx, const httpd_request *req, int access, httpd_response *resp);
/* The role an Authorization header value ("Basic ...", "Bearer ...")
 * grants, or -1 (what web_auth_check decides with). */
int web_auth_role(web_auth *a, const char *authorization);

#endif
