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
 *       - username: importer
 *         password_bcrypt: $2y$10$...  # or bcrypt: htpasswd -nbBC 10 USER PASSWORD
 *         role: write
 *     tokens:                     # Authorization: Bearer TOKEN
 *       - token_sha256: 9f86...
 *         role: write
 *     open_paths: [/-/healthy, /-/ready]   # the default; [] guards them too
 *
 * With no users and no tokens nothing is checked.  Otherwise every request
 * but those to open paths must carry valid credentials (401 with
 * WWW-Authenticate otherwise), and routes given the write access level
 * (httpd_route_access, WEB_WRITE) need the write role (403 otherwise).
 * Secrets are stored only as SHA-256 digests or bcrypt hashes.  Every
 * configured digest is compared in full whatever matches, so timing tells
 * nothing about near misses.
 *
 * Or, instead of web:, a Prometheus web configuration file as given to
 * --web.config.file (exporter-toolkit's format, read as Prometheus 2.42
 * and node_exporter read it):
 *
 *   tls_server_config: {cert_file: server.crt, key_file: server.key}
 *   basic_auth_users:             # user: bcrypt hash ($2a$, $2b$ or $2y$)
 *     alice: $2y$10$...
 *   http_server_config: {http2: true}   # accepted; HTTP/1.1 is served
 *
 * Prometheus has no roles: those users get the read role.  Writers
 * (import, remote write in) go in Ember's own web: users with role: write.
 * A bcrypt check costs tens of milliseconds, so successes are remembered
 * (by user and the password's SHA-256) until the next reload; an unknown
 * user costs a bcrypt check too, so timing does not tell which users exist.
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
    uint8_t sha256[32]; /* when bcrypt is NULL */
    char *bcrypt;       /* "$2y$10$...": the 60 characters of a bcrypt hash */
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
/* The same from a whole file in exporter-toolkit's format (above). */
int web_config_parse_toolkit(web_config *c, const char *name, const char *buf, size_t len,
                             char *err, size_t errlen);
int web_config_load_toolkit(web_config *c, const char *path, char *err, size_t errlen);
/* A server's settings: initializes c from the web: section of section_file
 * (the config file, when it has one) or from toolkit_file
 * (--web.config.file); either may be NULL, both at once is an error.  0, or
 * -1 with err set and c empty. */
int web_config_from(web_config *c, const char *section_file, const char *toolkit_file, char *err,
                    size_t errlen);

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
