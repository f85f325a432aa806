/*
 * test_http_auth.c — common/web_auth.c as the aggregator uses it
 * (aggregator/http/auth.h): the web: section (keys, relative paths, errors
 * with line and column) and the API server guarded by it, on a real store
 * over loopback: no credentials configured changes nothing; otherwise 401
 * with WWW-Authenticate and Prometheus's JSON error envelope, basic and
 * bearer credentials with read and write roles (403 for a reader's import,
 * which stores nothing), open health paths, credentials swapped in place,
 * and the refusals counted on /metrics.
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

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static void test_config_keys(void **state)
{
    web_config c;
    web_config_init(&c);
    char err[256];
    const char *yaml = WEB_YAML "  tls_server_config: {cert_file: s.pem, key_file: /abs/s.key}\n"
                                "  open_paths: [/-/healthy]\n";
    assert_int_equal(
        web_config_parse(&c, "/etc/ember/agg.yml", yaml, strlen(yaml), err, sizeof err), 0);
    assert_int_equal(c.nusers, 2);
    assert_string_equal(c.users[0].name, "reader");
    assert_int_equal(c.users[0].role, WEB_READ);
    assert_int_equal(c.users[1].role, WEB_WRITE);
    assert_int_equal(c.users[1].sha256[0], 0x8b);
    assert_int_equal(c.ntokens, 2);
    assert_int_equal(c.tokens[1].role, WEB_WRITE);
    assert_string_equal(c.tls_cert_file, "/etc/ember/s.pem"); /* next to the config file */
    assert_string_equal(c.tls_key_file, "/abs/s.key");
    assert_int_equal(c.open_paths.n, 1);
    web_config_free(&c);

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
        {"web:\n  users:\n    - {username: 'a:b', password_sha256: " READER_SHA "}\n",
         "without ':'"},
        {"web:\n  users:\n    - {username: a, password_sha256: " READER_SHA
         "}\n    - {username: a, password_sha256: " READER_SHA "}\n",
         "web user \"a\" is listed twice"},
        {"web:\n  tokens:\n    - {role: read}\n", "a web token needs token_sha256"},
        {"web:\n  passwords: {}\n", "a.yml:2:3: unknown key \"passwords\" in web"},
        {"web:\n  tls_server_config: {cert_file: c.pem}\n", "needs both cert_file and key_file"},
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
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
