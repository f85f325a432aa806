/*
 * test_agent_http.c — agent/http.c's server guarded by a web: section
 * (common/web_auth.c), over loopback with curl: without credentials
 * configured /metrics is open; with them 401 in plain text with
 * WWW-Authenticate, basic and bearer credentials let in, /-/healthy stays
 * open; the refusals show on the agent's own /metrics; a reload swaps the
 * credentials; HTTPS with a test CA and server certificates openssl makes,
 * reloaded in place (a bad pair keeps the old certificate serving).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "agent/http.h"
#include "agent/sender.h"
#include "common/fsutil.h"
#include "common/spool.h"
#include "tests/unit/http_call.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* printf %s prom-pw | sha256sum; printf %s scrape-token | sha256sum */
#define PROM_SHA "078e58b9460c8267cf620c4eab90a62c062a22c0ffffd01a18ff017b4e75b4ee"
#define TOKEN_SHA "41369aae32e5cc50e94b626f9f49cef39b6a57243708bcaa06662f19bdae5483"

typedef struct fixture {
    char dir[256];
    spool *sp;
    agent_self self;
    agent_http *h;
    char base[64]; /* "http://127.0.0.1:PORT" or https:// */
} fixture;

typedef http_reply reply;

/* A web: section as read from f->dir/agent.yml (relative paths there). */
static void web_from(const fixture *f, const char *yaml, web_config *wc)
{
    char name[512], err[512];
    snprintf(name, sizeof name, "%s/agent.yml", f->dir);
    web_config_init(wc);
    if (web_config_parse(wc, name, yaml, strlen(yaml), err, sizeof err) != 0)
        fail_msg("web config: %s", err);
}

static void start(fixture *f, const char *yaml)
{
    web_config wc;
    char err[512];
    web_from(f, yaml, &wc);
    bool tls = wc.tls_cert_file != NULL;
    if (agent_http_start_with("127.0.0.1:0", &f->self, &wc, &f->h, err, sizeof err) != 0)
        fail_msg("start: %s", err);
    assert_null(wc.users); /* taken over */
    snprintf(f->base, sizeof f->base, "%s://127.0.0.1:%u", tls ? "https" : "http",
             agent_http_port(f->h));
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    char err[256];
    assert_int_equal(fs_mkdtemp(f->dir, sizeof f->dir, "ember-agent-http"), 0);
    char spool_dir[300];
    snprintf(spool_dir, sizeof spool_dir, "%s/spool", f->dir);
    assert_int_equal(spool_open(spool_dir, NULL, &f->sp, err, sizeof err), SPOOL_OK);
    /* a sender that is never started: /metrics reads its counters only */
    assert_int_equal(sender_open("tcp://127.0.0.1:1", "agent", NULL,
                                 &(sender_options){.timeout_ms = 100}, f->sp, &f->self.snd, err,
                                 sizeof err),
                     0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    agent_http_stop(f->h);
    sender_close(f->self.snd);
    spool_close(f->sp);
    fs_rmtree(f->dir);
    free(f);
    return 0;
}

/* GET base+path as userpwd ("u:p", or NULL) or with header ("Authorization:
 * ..."), trusting f->dir/ca.pem over HTTPS.  status 0: no connection. */
static void get(const fixture *f, const char *base, const char *path, const char *userpwd,
                const char *header, reply *r)
{
    char url[256], ca[512];
    snprintf(url, sizeof url, "%s%s", base, path);
    snprintf(ca, sizeof ca, "%s/ca.pem", f->dir);
    http_call(url, &(http_call_opts){.userpwd = userpwd, .header = header, .cafile = ca}, r);
}

static long status_of(const fixture *f, const char *path, const char *userpwd, const char *header)
{
    reply r;
    get(f, f->base, path, userpwd, header, &r);
    ebuf_free(&r.body);
    return r.status;
}

/* The users and tokens most tests use (other settings are left alone). */
#define GUARDED_YAML                                                                               \
    "interval: 15s\n"                                                                              \
    "web:\n"                                                                                       \
    "  users:\n"                                                                                   \
    "    - {username: prom, password_sha256: " PROM_SHA "}\n"                                      \
    "  tokens:\n"                                                                                  \
    "    - token_sha256: " TOKEN_SHA "\n"

static void test_no_credentials_configured_is_open(void **state)
{
    fixture *f = *state;
    start(f, "interval: 15s\n");
    assert_int_equal(status_of(f, "/metrics", NULL, NULL), 200);
    assert_int_equal(status_of(f, "/-/healthy", NULL, NULL), 200);
    assert_int_equal(status_of(f, "/nope", NULL, NULL), 404);
}

/* The value of ember_http_requests_refused_total{reason} on the agent's /metrics. */
static double refused_on_metrics(const fixture *f, const char *reason)
{
    char url[128], ca[512];
    snprintf(url, sizeof url, "%s/metrics", f->base);
    snprintf(ca, sizeof ca, "%s/ca.pem", f->dir);
    double v =
        http_refused_at(url, &(http_call_opts){.userpwd = "prom:prom-pw", .cafile = ca}, reason);
    if (v < 0)
        fail_msg("no %s refusals on /metrics", reason);
    return v;
}

static void test_credentials(void **state)
{
    fixture *f = *state;
    start(f, GUARDED_YAML);
    double before = refused_on_metrics(f, "unauthorized");
    reply r;
    get(f, f->base, "/metrics", NULL, NULL, &r);
    assert_int_equal(r.status, 401);
    assert_string_equal(r.body.data, "401 unauthorized: authentication required\n");
    assert_string_equal(r.www, "Basic realm=\"ember\"|Bearer realm=\"ember\"");
    ebuf_free(&r.body);
    assert_int_equal(status_of(f, "/metrics", "prom:wrong", NULL), 401);
    assert_int_equal(status_of(f, "/metrics", NULL, "Authorization: Bearer wrong"), 401);
    assert_int_equal(status_of(f, "/nope", NULL, NULL), 401); /* no probing */

    get(f, f->base, "/metrics", "prom:prom-pw", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body.data, "# TYPE ember_agent_batches_total counter\n"));
    ebuf_free(&r.body);
    assert_int_equal(status_of(f, "/metrics", NULL, "Authorization: Bearer scrape-token"), 200);
    assert_int_equal(status_of(f, "/-/healthy", NULL, NULL), 200); /* an open path */
    assert_int_equal(status_of(f, "/nope", "prom:prom-pw", NULL), 404);

    assert_true(refused_on_metrics(f, "unauthorized") == before + 4);
    /* every reason is listed, zero or not */
    assert_true(refused_on_metrics(f, "forbidden") >= 0);
    assert_true(refused_on_metrics(f, "too_large") >= 0);
    assert_true(refused_on_metrics(f, "too_many_connections") >= 0);
    assert_true(refused_on_metrics(f, "read_timeout") >= 0);
}

static void test_reload_swaps_credentials(void **state)
{
    fixture *f = *state;
    char err[512];
    start(f, GUARDED_YAML);
    assert_int_equal(status_of(f, "/metrics", "prom:prom-pw", NULL), 200);
    web_config wc;
    web_from(f,
             "web:\n  users:\n    - {username: grafana, password_sha256: " PROM_SHA
             "}\n  open_paths: []\n",
             &wc);
    assert_int_equal(agent_http_reload(f->h, &wc, err, sizeof err), 0);
    assert_int_equal(status_of(f, "/metrics", "prom:prom-pw", NULL), 401);
    assert_int_equal(status_of(f, "/metrics", NULL, "Authorization: Bearer scrape-token"), 401);
    assert_int_equal(status_of(f, "/metrics", "grafana:prom-pw", NULL), 200);
    assert_int_equal(status_of(f, "/-/healthy", NULL, NULL), 401); /* open_paths: [] */

    web_from(f, "interval: 15s\n", &wc); /* the section removed: open again */
    assert_int_equal(agent_http_reload(f->h, &wc, err, sizeof err), 0);
    assert_int_equal(status_of(f, "/metrics", NULL, NULL), 200);
}

/* ---- HTTPS ---- */

static void sh(const fixture *f, const char *script)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cd %s && (%s) 2>/dev/null", f->dir, script);
    assert_int_equal(system(cmd), 0);
}

/* A test CA, and two server certificates for 127.0.0.1 it signed. */
static void make_certs(const fixture *f)
{
    sh(f, "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
          "-keyout ca.key -out ca.pem -days 2 -subj /CN=ember-test-ca && "
          "printf 'subjectAltName=IP:127.0.0.1\\n' > ext && "
          "for n in one two; do openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
          "-nodes -keyout $n.key -out $n.csr -subj /CN=agent-$n && openssl x509 -req -in $n.csr "
          "-CA ca.pem -CAkey ca.key -CAcreateserial -out $n.pem -days 2 -extfile ext; done && "
          "cp one.pem live.pem && cp one.key live.key");
}

static void test_https_and_reload(void **state)
{
    fixture *f = *state;
    make_certs(f);
    char err[512], plain[64];
    const char *yaml =
        GUARDED_YAML "  tls_server_config: {cert_file: live.pem, key_file: live.key}\n";
    start(f, yaml);
    assert_non_null(strstr(f->base, "https://"));
    reply r;
    get(f, f->base, "/metrics", "prom:prom-pw", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.subject, "agent-one"));
    ebuf_free(&r.body);
    assert_int_equal(status_of(f, "/metrics", NULL, NULL), 401); /* TLS and credentials both */
    snprintf(plain, sizeof plain, "http://127.0.0.1:%u", agent_http_port(f->h));
    get(f, plain, "/-/healthy", NULL, NULL, &r);
    assert_int_equal(r.status, 0); /* HTTPS only */
    ebuf_free(&r.body);

    sh(f, "cp two.pem live.pem && cp two.key live.key");
    web_config wc;
    web_from(f, yaml, &wc);
    assert_int_equal(agent_http_reload(f->h, &wc, err, sizeof err), 0);
    get(f, f->base, "/metrics", "prom:prom-pw", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.subject, "agent-two"));
    ebuf_free(&r.body);

    /* A key that is not the certificate's: refused, the old pair serves on. */
    sh(f, "cp one.key live.key");
    web_from(f, yaml, &wc);
    assert_int_equal(agent_http_reload(f->h, &wc, err, sizeof err), -1);
    assert_non_null(strstr(err, "live.pem"));
    get(f, f->base, "/-/healthy", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.subject, "agent-two"));
    ebuf_free(&r.body);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_no_credentials_configured_is_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_credentials, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reload_swaps_credentials, setup, teardown),
        cmocka_unit_test_setup_teardown(test_https_and_reload, setup, teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
