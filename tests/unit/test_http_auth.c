/*
 * test_http_auth.c — common/web_auth.c as the aggregator uses it
 * (aggregator/http/auth.h): the web: section (keys, relative paths, errors
 * with line and column) and the API server guarded by it, on a real store
 * over loopback: no credentials configured changes nothing; otherwise 401
 * with WWW-Authenticate and Prometheus's JSON error envelope, basic and
 * bearer credentials with read and write roles (403 for a reader's import,
 * which stores nothing), open health paths, credentials swapped in place,
 * and the refusals counted on /metrics.  Then bcrypt users, in Prometheus's
 * web configuration file (exporter-toolkit's format) and in web:, with
 * hashes libxcrypt makes here: right and wrong passwords, unknown users
 * (costing a bcrypt check too), the cache of successes and its reset on
 * reload, and the errors of a malformed file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "aggregator/http/api.h"
#include "aggregator/http/auth.h"
#include "aggregator/tsdb/tsdb.h"
#include "common/fsutil.h"
#include "tests/unit/http_call.h"

#include <crypt.h>
#include <curl/curl.h>
#include <mbedtls/base64.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* printf %s reader-pw | sha256sum, and so on */
#define READER_SHA "c9847961e9bac211c57a09795fe11e392fc3e08285a3c0cd71431998548b63d1"
#define WRITER_SHA "8b1a1535c79395debb0d55149a83fef5436ed37de17614157f63556fd78f811f"
#define READ_TOKEN_SHA "0328587016f9e316b9c31c94f944a2c453e1494a564062b5eab68039c75b58bf"
#define WRITE_TOKEN_SHA "ab893cb32670dc9e3bf2563af8d7487b88c279c5850c76f35d6eafa8fa34acf2"

#define WEB_YAML                                                                                   \
    "log:\n  level: info\n"                                                                        \
    "web:\n"                                                                                       \
    "  users:\n"                                                                                   \
    "    - {username: reader, password_sha256: " READER_SHA "}\n"                                  \
    "    - username: writer\n"                                                                     \
    "      password_sha256: " WRITER_SHA "\n"                                                      \
    "      role: write\n"                                                                          \
    "  tokens:\n"                                                                                  \
    "    - {token_sha256: " READ_TOKEN_SHA ", role: read}\n"                                       \
    "    - {token_sha256: " WRITE_TOKEN_SHA ", role: admin}\n"

typedef struct fixture {
    char dir[256];
    aggregator agg;
    web_auth *auth;
    httpd *h;
    unsigned port;
} fixture;

/* ---- the config section ---- */

/* Writes text to dir/name; the path into path. */
static void write_in(const char *dir, const char *name, const char *text, char *path, size_t len)
{
    snprintf(path, len, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static void test_config_keys(void **state)
{
    (void)state;
    char dir[256], name[300], cert[300], key[300], yaml[1500], err[256];
    assert_int_equal(fs_mkdtemp(dir, sizeof dir, "ember-test-web"), 0);
    write_in(dir, "s.pem", "cert", cert, sizeof cert); /* read by the server, not here */
    write_in(dir, "s.key", "key", key, sizeof key);
    snprintf(name, sizeof name, "%s/agg.yml", dir);
    snprintf(yaml, sizeof yaml,
             WEB_YAML "  tls_server_config: {cert_file: s.pem, key_file: %s}\n"
                      "  open_paths: [/-/healthy]\n",
             key);
    web_config c;
    web_config_init(&c);
    assert_int_equal(web_config_parse(&c, name, yaml, strlen(yaml), err, sizeof err), 0);
    assert_int_equal(c.nusers, 2);
    assert_string_equal(c.users[0].name, "reader");
    assert_int_equal(c.users[0].role, WEB_READ);
    assert_int_equal(c.users[1].role, WEB_WRITE);
    assert_int_equal(c.users[1].sha256[0], 0x8b);
    assert_int_equal(c.ntokens, 2);
    assert_int_equal(c.tokens[1].role, WEB_WRITE);
    assert_string_equal(c.tls_cert_file, cert); /* next to the config file */
    assert_string_equal(c.tls_key_file, key);
    assert_int_equal(c.open_paths.n, 1);
    web_config_free(&c);
    fs_rmtree(dir);

    web_config_init(&c); /* no web: at all */
    assert_int_equal(web_config_parse(&c, "a.yml", "log: {level: info}\n", 19, err, sizeof err), 0);
    assert_int_equal(c.nusers + c.ntokens, 0);
    assert_null(c.tls_cert_file);
    assert_int_equal(c.open_paths.n, 2);
    assert_string_equal(c.open_paths.v[1], "/-/ready");
    web_config_free(&c);
}

static void test_config_errors(void **state)
{
    struct {
        const char *yaml, *want;
    } cases[] = {
        {"web:\n  users:\n    - {username: a, password_sha256: abc}\n",
         "a.yml:3:38: \"abc\" is not a SHA-256 in hex"},
        {"web:\n  users:\n    - {username: a, password_sha256: " READER_SHA ", role: root}\n",
         "role \"root\" must be read or write"},
        {"web:\n  users:\n    - {username: a}\n", "web user \"a\" needs password_sha256"},
        {"web:\n  users:\n    - {username: a, password_bcrypt: $2y$10$short}\n",
         "a.yml:3:38: \"$2y$10$short\" is not a bcrypt hash"},
        {"web:\n  users:\n    - {username: a, password_sha256: " READER_SHA
         ", password_bcrypt: x}\n",
         "a.yml:3:104: a web user has one of password_sha256 and password_bcrypt"},
        {"web:\n  tls_server_config: {cert_file: /nonexistent/c.pem, key_file: k}\n",
         "a.yml:2:34: cannot read \"/nonexistent/c.pem\": No such file or directory"},
        {"web:\n  users:\n    - {username: 'a:b', password_sha256: " READER_SHA "}\n",
         "without ':'"},
        {"web:\n  users:\n    - {username: a, password_sha256: " READER_SHA
         "}\n    - {username: a, password_sha256: " READER_SHA "}\n",
         "web user \"a\" is listed twice"},
        {"web:\n  tokens:\n    - {role: read}\n", "a web token needs token_sha256"},
        {"web:\n  passwords: {}\n", "a.yml:2:3: unknown key \"passwords\" in web"},
        {"web:\n  tls_server_config: {cert_file: /dev/null}\n",
         "needs both cert_file and key_file"},
        {"web:\n  open_paths: [health]\n", "must start with /"},
        {"web:\n  users: [\n", "a.yml"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        web_config c;
        web_config_init(&c);
        char err[256] = "";
        assert_int_equal(
            web_config_parse(&c, "a.yml", cases[i].yaml, strlen(cases[i].yaml), err, sizeof err),
            -1);
        if (!strstr(err, cases[i].want))
            fail_msg("case %zu: want \"%s\" in \"%s\"", i, cases[i].want, err);
        web_config_free(&c);
    }
}

/* ---- the guarded server ---- */

static web_auth *auth_from(const char *yaml)
{
    web_config c;
    web_config_init(&c);
    char err[256];
    if (web_config_parse(&c, "t.yml", yaml, strlen(yaml), err, sizeof err) != 0)
        fail_msg("config: %s", err);
    web_auth *a = web_auth_new(&c, api_error);
    web_config_free(&c);
    return a;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    char err[256];
    assert_int_equal(fs_mkdtemp(f->dir, sizeof f->dir, "ember-test-auth"), 0);
    tsdb_options o = {.sync = true, .maint_interval_ms = -1};
    if (tsdb_open(f->dir, &o, &f->agg.db, err, sizeof err) != 0)
        fail_msg("open: %s", err);
    f->agg.lookback_ms = 5 * 60 * 1000;
    f->agg.query_timeout_ms = 60 * 1000;
    f->agg.gate = query_gate_new(4);
    ingest_options io = {0}; /* /metrics reports on it */
    if (ingest_start("tcp://127.0.0.1:0", f->agg.db, &io, &f->agg.in, err, sizeof err) != 0)
        fail_msg("ingest: %s", err);
    f->auth = auth_from(*state ? *state : "");
    f->h =
        api_server_new_with(&f->agg, &(httpd_options){.auth = web_auth_check, .auth_ctx = f->auth});
    if (httpd_start(f->h, "127.0.0.1:0", err, sizeof err) != 0)
        fail_msg("start: %s", err);
    f->port = httpd_port(f->h);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    httpd_free(f->h);
    web_auth_free(f->auth);
    ingest_stop(f->agg.in);
    query_gate_free(f->agg.gate);
    tsdb_close(f->agg.db);
    fs_rmtree(f->dir);
    free(f);
    return 0;
}

typedef http_reply reply;

/* path with POST body post (NULL: GET); userpwd "u:p" or header "Authorization: ...". */
static void call(const fixture *f, const char *path, const char *post, const char *userpwd,
                 const char *header, reply *r)
{
    char url[512];
    snprintf(url, sizeof url, "http://127.0.0.1:%u%s", f->port, path);
    http_call(url, &(http_call_opts){.post = post, .userpwd = userpwd, .header = header}, r);
}

static long status_of(const fixture *f, const char *path, const char *post, const char *userpwd,
                      const char *header)
{
    reply r;
    call(f, path, post, userpwd, header, &r);
    ebuf_free(&r.body);
    return r.status;
}

/* How many series of metric the store has (through the API, as a writer). */
static int stored(const fixture *f, const char *metric)
{
    char path[256];
    snprintf(path, sizeof path, "/api/v1/series?match[]=%s", metric);
    reply r;
    call(f, path, NULL, "writer:writer-pw", NULL, &r);
    assert_int_equal(r.status, 200);
    int n = 0;
    for (const char *p = r.body.data; (p = strstr(p, "\"__name__\"")); p++)
        n++;
    ebuf_free(&r.body);
    return n;
}

static void test_no_credentials_configured_changes_nothing(void **state)
{
    fixture *f = *state;
    assert_int_equal(status_of(f, "/api/v1/status/buildinfo", NULL, NULL, NULL), 200);
    assert_int_equal(status_of(f, "/api/v1/import/prometheus", "up 1\n", NULL, NULL), 200);
    assert_int_equal(status_of(f, "/nope", NULL, NULL, NULL), 404);
}

static void test_unauthenticated_is_401(void **state)
{
    fixture *f = *state;
    reply r;
    call(f, "/api/v1/query?query=1", NULL, NULL, NULL, &r);
    assert_int_equal(r.status, 401);
    assert_string_equal(r.body.data, "{\"status\":\"error\",\"errorType\":\"unauthorized\","
                                     "\"error\":\"authentication required\"}");
    assert_string_equal(r.www, "Basic realm=\"ember\"|Bearer realm=\"ember\"");
    ebuf_free(&r.body);
    const char *bad[] = {"Authorization: Basic !!!notbase64", "Authorization: Bearer nope",
                         "Authorization: Digest x", "Authorization: Basic cmVhZGVy"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        call(f, "/api/v1/query?query=1", NULL, NULL, bad[i], &r);
        assert_int_equal(r.status, 401);
        assert_non_null(strstr(r.body.data, "invalid credentials"));
        ebuf_free(&r.body);
    }
    assert_int_equal(status_of(f, "/api/v1/query?query=1", NULL, "reader:writer-pw", NULL), 401);
    assert_int_equal(status_of(f, "/api/v1/query?query=1", NULL, "nobody:reader-pw", NULL), 401);
    assert_int_equal(status_of(f, "/nope", NULL, NULL, NULL), 401); /* no probing of paths */
    assert_int_equal(status_of(f, "/-/healthy", NULL, NULL, NULL), 200);
    assert_int_equal(status_of(f, "/-/ready", NULL, NULL, NULL), 200);
}

static void test_roles(void **state)
{
    fixture *f = *state;
    const char *read_tok = "Authorization: Bearer read-token";
    const char *write_tok = "Authorization: bearer write-token"; /* scheme is case-free */
    assert_int_equal(status_of(f, "/api/v1/query?query=1", NULL, "reader:reader-pw", NULL), 200);
    assert_int_equal(status_of(f, "/api/v1/labels", NULL, NULL, read_tok), 200);
    assert_int_equal(status_of(f, "/nope", NULL, "reader:reader-pw", NULL), 404);

    reply r;
    call(f, "/api/v1/import/prometheus", "auth_test 1\n", "reader:reader-pw", NULL, &r);
    assert_int_equal(r.status, 403);
    assert_string_equal(r.body.data,
                        "{\"status\":\"error\",\"errorType\":\"forbidden\",\"error\":\"POST "
                        "/api/v1/import/prometheus needs the write role; these credentials may "
                        "only read\"}");
    ebuf_free(&r.body);
    assert_int_equal(status_of(f, "/api/v1/write", "x", NULL, read_tok), 403);
    assert_int_equal(stored(f, "auth_test"), 0);

    assert_int_equal(status_of(f, "/api/v1/import/prometheus", "auth_test{a=\"1\"} 1\n",
                               "writer:writer-pw", NULL),
                     200);
    assert_int_equal(
        status_of(f, "/api/v1/import/prometheus", "auth_test{a=\"2\"} 1\n", NULL, write_tok), 200);
    assert_int_equal(stored(f, "auth_test"), 2);
}

/* The value of ember_http_requests_refused_total{reason} on /metrics. */
static double refused_on_metrics(const fixture *f, const char *reason)
{
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/metrics", f->port);
    double v = http_refused_at(url, &(http_call_opts){.userpwd = "reader:reader-pw"}, reason);
    if (v < 0)
        fail_msg("no %s refusals on /metrics", reason);
    return v;
}

/* Each refusal shows on /metrics by reason (the counters are the
 * process's, so the test reads them before and after). */
static void test_refusals_on_metrics(void **state)
{
    fixture *f = *state;
    double unauthorized = refused_on_metrics(f, "unauthorized");
    double forbidden = refused_on_metrics(f, "forbidden");
    double too_large = refused_on_metrics(f, "too_large");
    assert_int_equal(status_of(f, "/api/v1/labels", NULL, NULL, NULL), 401);
    assert_int_equal(status_of(f, "/api/v1/labels", NULL, "reader:nope", NULL), 401);
    assert_int_equal(status_of(f, "/api/v1/write", "x", "reader:reader-pw", NULL), 403);
    assert_true(refused_on_metrics(f, "unauthorized") == unauthorized + 2);
    assert_true(refused_on_metrics(f, "forbidden") == forbidden + 1);
    assert_true(refused_on_metrics(f, "too_large") == too_large);
    /* every reason is there, zero or not */
    assert_true(refused_on_metrics(f, "too_many_connections") >= 0);
    assert_true(refused_on_metrics(f, "read_timeout") >= 0);
}

static void test_credentials_replaced(void **state)
{
    fixture *f = *state;
    assert_int_equal(status_of(f, "/api/v1/labels", NULL, "reader:reader-pw", NULL), 200);
    web_config c;
    web_config_init(&c);
    char err[256];
    const char *yaml = "web:\n  users:\n    - {username: writer, password_sha256: " READER_SHA
                       "}\n  open_paths: []\n";
    assert_int_equal(web_config_parse(&c, "t.yml", yaml, strlen(yaml), err, sizeof err), 0);
    web_auth_replace(f->auth, &c);
    web_config_free(&c);
    assert_int_equal(status_of(f, "/api/v1/labels", NULL, "reader:reader-pw", NULL), 401);
    assert_int_equal(status_of(f, "/api/v1/labels", NULL, "writer:writer-pw", NULL), 401);
    assert_int_equal(status_of(f, "/api/v1/labels", NULL, "writer:reader-pw", NULL), 200);
    assert_int_equal(status_of(f, "/-/healthy", NULL, NULL, NULL), 401); /* open_paths: [] */
}

/* ---- bcrypt users and Prometheus's web configuration file ---- */

/* A fresh bcrypt hash of password ("$2y$", "$2b$" or "$2a$", cost). */
static void bcrypt_of(const char *prefix, unsigned long cost, const char *password, char *out)
{
    char salt[CRYPT_GENSALT_OUTPUT_SIZE];
    struct crypt_data *d = calloc(1, sizeof *d);
    assert_non_null(crypt_gensalt_rn(prefix, cost, NULL, 0, salt, sizeof salt));
    const char *h = crypt_rn(password, salt, d, (int)sizeof *d);
    assert_non_null(h);
    assert_int_equal(strlen(h), 60);
    strcpy(out, h);
    free(d);
}

/* The role "Basic base64(userpass)" (userpass of n bytes) gets from a. */
static int basic_as(web_auth *a, const char *userpass, size_t n)
{
    char header[300] = "Basic ";
    size_t olen;
    assert_int_equal(mbedtls_base64_encode((unsigned char *)header + 6, sizeof header - 6, &olen,
                                           (const unsigned char *)userpass, n),
                     0);
    return web_auth_role(a, header);
}

static int role_as(web_auth *a, const char *userpass)
{
    return basic_as(a, userpass, strlen(userpass));
}

static web_auth *toolkit_auth(const char *yaml)
{
    web_config c;
    web_config_init(&c);
    char err[256];
    if (web_config_parse_toolkit(&c, "web.yml", yaml, strlen(yaml), err, sizeof err) != 0)
        fail_msg("web config file: %s", err);
    return web_auth_new(&c, NULL);
}

static void test_toolkit_file(void **state)
{
    (void)state;
    char dir[256], name[300], path[300], yaml[1024], y[61], b[61], a2[61], err[256];
    assert_int_equal(fs_mkdtemp(dir, sizeof dir, "ember-test-web"), 0);
    write_in(dir, "server.crt", "cert", path, sizeof path);
    write_in(dir, "server.key", "key", path, sizeof path);
    bcrypt_of("$2y$", 4, "alice-pw", y);
    bcrypt_of("$2b$", 4, "bob-pw", b);
    bcrypt_of("$2a$", 4, "carol-pw", a2);
    snprintf(yaml, sizeof yaml,
             "tls_server_config:\n  cert_file: server.crt\n  key_file: %s\n"
             "  client_auth_type: NoClientCert\n"
             "http_server_config: {http2: false}\n"
             "basic_auth_users:\n  alice: %s\n  bob: '%s'\n  carol: \"%s\"\n",
             path, y, b, a2);
    snprintf(name, sizeof name, "%s/web.yml", dir);
    web_config c;
    web_config_init(&c);
    if (web_config_parse_toolkit(&c, name, yaml, strlen(yaml), err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_string_equal(c.tls_key_file, path);
    assert_non_null(strstr(c.tls_cert_file, "/server.crt"));
    assert_int_equal(c.nusers, 3);
    assert_string_equal(c.users[0].name, "alice");
    assert_string_equal(c.users[0].bcrypt, y);
    assert_int_equal(c.users[0].role, WEB_READ); /* Prometheus has no roles: readers */
    assert_int_equal(c.users[2].role, WEB_READ);
    web_auth *a = web_auth_new(&c, NULL);
    assert_int_equal(role_as(a, "alice:alice-pw"), WEB_READ); /* $2y$ */
    assert_int_equal(role_as(a, "bob:bob-pw"), WEB_READ);     /* $2b$ */
    assert_int_equal(role_as(a, "carol:carol-pw"), WEB_READ); /* $2a$ */
    assert_int_equal(role_as(a, "alice:bob-pw"), -1);
    assert_int_equal(role_as(a, "alice:alice-p"), -1);
    assert_int_equal(role_as(a, "dave:alice-pw"), -1);          /* unknown */
    assert_int_equal(role_as(a, "alice:alice-pw"), WEB_READ);   /* from the cache */
    assert_int_equal(role_as(a, "alice:alice-pwx"), -1);        /* ... which holds that pair only */
    assert_int_equal(basic_as(a, "alice:alice-pw\0x", 16), -1); /* crypt() would stop at NUL */
    web_auth_free(a);
    fs_rmtree(dir);

    web_config_init(&c); /* an empty file: nothing guarded, as exporter-toolkit */
    assert_int_equal(web_config_parse_toolkit(&c, "e.yml", "", 0, err, sizeof err), 0);
    assert_int_equal(c.nusers + c.ntokens, 0);
    assert_null(c.tls_cert_file);
    web_config_free(&c);
}

static void test_toolkit_errors(void **state)
{
    (void)state;
    char good[61];
    bcrypt_of("$2y$", 4, "pw", good);
    char bad_cost[61], bad_char[61];
    strcpy(bad_cost, good);
    memcpy(bad_cost + 4, "99", 2);
    strcpy(bad_char, good);
    bad_char[40] = '!';
    char yaml[10][300];
    snprintf(yaml[0], sizeof yaml[0], "basic_auth_users:\n  alice: %s\n", bad_cost);
    snprintf(yaml[1], sizeof yaml[1], "basic_auth_users:\n  alice: '%s'\n", bad_char);
    snprintf(yaml[2], sizeof yaml[2], "basic_auth_users:\n  'a:b': %s\n", good);
    snprintf(yaml[3], sizeof yaml[3], "basic_auth_users:\n  a: %s\n  a: %s\n", good, good);
    struct {
        const char *yaml, *want;
    } cases[] = {
        {yaml[0], "web.yml:2:10: \"$2y$99$"},
        {yaml[1], "web.yml:2:10: \"$2y$04$"},
        {yaml[2], "web.yml:2:3: basic_auth_users: \"a:b\" is not a user name"},
        {yaml[3], "web.yml:3:3"},
        {"basic_auth_users:\n  a: 5e884898da28047151d0e56f8dc62927\n", "is not a bcrypt hash"},
        {"basic_auth_users: [a]\n", "web.yml:1:19"},
        {"tls_server_config:\n  cert_file: /nonexistent.crt\n", "web.yml:2:14: cannot read"},
        {"tls_server_config:\n  client_ca_file: ca.pem\n",
         "web.yml:2:3: tls_server_config: client_ca_file is not supported by Ember"},
        {"tls_server_config: {client_auth_type: RequireAndVerifyClientCert}\n",
         "client_auth_type is not supported"},
        {"http_server_config: {headers: {X-Frame-Options: deny}}\n",
         "web.yml:1:22: http_server_config: headers is not supported"},
        {"http_server_config: {http2: maybe}\n", "web.yml:1:29"},
        {"http_server_config: {http3: true}\n", "unknown key \"http3\" in http_server_config"},
        {"web:\n  users: []\n", "web.yml:1:1: unknown key \"web\" in a web config file"},
        {"basic_auth_users:\n  a: [\n", "web.yml"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        web_config c;
        web_config_init(&c);
        char err[256] = "";
        if (web_config_parse_toolkit(&c, "web.yml", cases[i].yaml, strlen(cases[i].yaml), err,
                                     sizeof err) != -1)
            fail_msg("case %zu: accepted", i);
        if (!strstr(err, cases[i].want))
            fail_msg("case %zu: want \"%s\" in \"%s\"", i, cases[i].want, err);
        web_config_free(&c);
    }
}

/* Both places at once is refused, naming both; a missing file too. */
static void test_config_from(void **state)
{
    (void)state;
    web_config c;
    char err[512];
    assert_int_equal(web_config_from(&c, "agg.yml", "web.yml", err, sizeof err), -1);
    assert_string_equal(err, "--web.config.file web.yml and the web: section of agg.yml both "
                             "configure the HTTP server: give one");
    assert_int_equal(web_config_from(&c, NULL, "/nonexistent/web.yml", err, sizeof err), -1);
    assert_non_null(strstr(err, "cannot read /nonexistent/web.yml"));
    assert_int_equal(web_config_from(&c, NULL, NULL, err, sizeof err), 0);
    assert_int_equal(c.nusers + c.ntokens, 0);
    web_config_free(&c);
}

/* web: users may be bcrypt too, writers among them; a reload forgets the
 * cached successes (the old password stops working at once). */
static void test_bcrypt_in_web_section_and_reload(void **state)
{
    (void)state;
    char h[61], yaml[600];
    bcrypt_of("$2b$", 4, "w-pw", h);
    snprintf(yaml, sizeof yaml,
             "web:\n  users:\n    - {username: w, password_bcrypt: '%s', role: write}\n"
             "    - {username: reader, password_sha256: " READER_SHA "}\n",
             h);
    web_auth *a = auth_from(yaml);
    assert_int_equal(role_as(a, "w:w-pw"), WEB_WRITE);
    assert_int_equal(role_as(a, "w:w-pw"), WEB_WRITE); /* cached */
    assert_int_equal(role_as(a, "reader:reader-pw"), WEB_READ);
    assert_int_equal(role_as(a, "reader:w-pw"), -1);
    assert_int_equal(role_as(a, "w:reader-pw"), -1);

    bcrypt_of("$2b$", 4, "new-pw", h);
    snprintf(yaml, sizeof yaml, "basic_auth_users: {w: '%s'}\n", h);
    web_config c;
    web_config_init(&c);
    char err[256];
    assert_int_equal(web_config_parse_toolkit(&c, "w.yml", yaml, strlen(yaml), err, sizeof err), 0);
    web_auth_replace(a, &c);
    assert_int_equal(role_as(a, "w:w-pw"), -1);
    assert_int_equal(role_as(a, "w:new-pw"), WEB_READ);
    web_auth_free(a);
}

static double ms_for(web_auth *a, const char *userpass, int *role)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    *role = role_as(a, userpass);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
}

/* The least of three timings of userpass (each expected to get want). */
static double least_ms(web_auth *a, const char *userpass, int want)
{
    double least = 1e18;
    for (int i = 0; i < 3; i++) {
        int role;
        double ms = ms_for(a, userpass, &role);
        assert_int_equal(role, want);
        least = ms < least ? ms : least;
    }
    return least;
}

/* Lower bounds only, from the same machine's bcrypt (cost 10, tens of
 * milliseconds): an unknown user costs what a wrong password does, and a
 * cached success costs far less than a bcrypt check. */
static void test_bcrypt_timing(void **state)
{
    (void)state;
    char h[61], yaml[200];
    bcrypt_of("$2y$", 10, "pw", h);
    snprintf(yaml, sizeof yaml, "basic_auth_users: {u: '%s'}\n", h);
    web_auth *a = toolkit_auth(yaml);
    double wrong = least_ms(a, "u:nope", -1);
    double unknown = least_ms(a, "nobody:nope", -1);
    if (unknown < wrong / 2)
        fail_msg("an unknown user took %.2f ms, a wrong password %.2f ms", unknown, wrong);
    int role;
    double first = ms_for(a, "u:pw", &role);
    assert_int_equal(role, WEB_READ);
    double cached = least_ms(a, "u:pw", WEB_READ);
    if (cached > first / 10)
        fail_msg("a cached success took %.2f ms, the first check %.2f ms", cached, first);
    web_auth_free(a);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_keys),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test_setup_teardown(test_no_credentials_configured_changes_nothing, setup,
                                        teardown),
        cmocka_unit_test_prestate_setup_teardown(test_unauthenticated_is_401, setup, teardown,
                                                 WEB_YAML),
        cmocka_unit_test_prestate_setup_teardown(test_roles, setup, teardown, WEB_YAML),
        cmocka_unit_test_prestate_setup_teardown(test_credentials_replaced, setup, teardown,
                                                 WEB_YAML),
        cmocka_unit_test_prestate_setup_teardown(test_refusals_on_metrics, setup, teardown,
                                                 WEB_YAML),
        cmocka_unit_test(test_toolkit_file),
        cmocka_unit_test(test_toolkit_errors),
        cmocka_unit_test(test_config_from),
        cmocka_unit_test(test_bcrypt_in_web_section_and_reload),
        cmocka_unit_test(test_bcrypt_timing),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
