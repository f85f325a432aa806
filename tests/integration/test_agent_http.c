/*
 * test_agent_http.c — the real ember-agent's --http-listen port guarded by
 * the web: section of its config file: --check-config checks the section;
 * /metrics answers 401 without credentials and 200 with basic or bearer
 * ones, /-/healthy stays open, the refusals show on /metrics; SIGHUP reads
 * new credentials (a broken section keeps the old ones and says why);
 * HTTPS with a test CA and server certificates openssl makes, and a new
 * certificate served after SIGHUP; SIGTERM still ends the agent cleanly.
 * No aggregator runs: the agent spools, which does not matter here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/etime.h"
#include "tests/integration/harness.h"
#include "tests/unit/http_call.h"

#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

/* printf %s pa | sha256sum; printf %s pb | sha256sum; printf %s tok | sha256sum */
#define SHA_PA "9513229d435978263d82902c59d4e0fb86c941a9bf09b605cd8a6643f40149a8"
#define SHA_PB "3315f44da4a7aaaf8d84382c7583233f697787f5871294ed49cd41207f7375a0"
#define SHA_TOK "1a7674eb4ee78df7e1ac439a93c3fa8e3c945784d4dec9fd8e3011738b2f1d62"

static char dir[512];

static void in_dir(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", dir, name);
}

static void write_file(const char *name, const char *text)
{
    char p[600];
    in_dir(p, sizeof p, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static void sh(const char *script)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cd %s && (%s) 2>/dev/null", dir, script);
    assert_int_equal(system(cmd), 0);
}

/* A test CA, and two server certificates for 127.0.0.1 that it signed. */
static int setup(void **state)
{
    snprintf(dir, sizeof dir, "%s", harness_tmpdir());
    sh("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key "
       "-out ca.pem -days 2 -subj /CN=ember-test-ca && "
       "printf 'subjectAltName=IP:127.0.0.1\\n' > ext && "
       "for n in one two; do openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
       "-keyout $n.key -out $n.csr -subj /CN=agent-$n && openssl x509 -req -in $n.csr -CA ca.pem "
       "-CAkey ca.key -CAcreateserial -out $n.pem -days 2 -extfile ext; done && "
       "cp one.pem live.pem && cp one.key live.key");
    curl_global_init(CURL_GLOBAL_DEFAULT);
    return 0;
}

static int teardown(void **state)
{
    harness_cleanup();
    curl_global_cleanup();
    return 0;
}

/* GET url as userpwd ("u:p") or bearer (a token), either NULL, trusting
 * the test CA. */
static void fetch(const char *url, const char *userpwd, const char *bearer, http_reply *a)
{
    char ca[600], authz[128];
    in_dir(ca, sizeof ca, "ca.pem");
    snprintf(authz, sizeof authz, "Authorization: Bearer %s", bearer ? bearer : "");
    http_call(url,
              &(http_call_opts){.userpwd = userpwd, .header = bearer ? authz : NULL, .cafile = ca},
              a);
}

static long status_of(const char *url, const char *userpwd, const char *bearer)
{
    http_reply a;
    fetch(url, userpwd, bearer, &a);
    ebuf_free(&a.body);
    return a.status;
}

/* Poll until url as userpwd answers want (a reload follows the signal). */
static bool becomes(const char *url, const char *userpwd, long want)
{
    for (int64_t end = mono_ms() + 10000; mono_ms() < end; sleep_ms(100))
        if (status_of(url, userpwd, NULL) == want)
            return true;
    return false;
}

/* Start an agent named name with --config name.yml and its HTTP port on
 * port; waits until the port serves. */
static pid_t start_agent(const char *name, unsigned port, const char *scheme)
{
    char bin[512], config[600], data[600], agg[64], http[64], url[128];
    in_dir(config, sizeof config, name);
    strncat(config, ".yml", sizeof config - strlen(config) - 1);
    in_dir(data, sizeof data, name);
    snprintf(agg, sizeof agg, "tcp://127.0.0.1:%u", harness_free_port()); /* nobody there */
    snprintf(http, sizeof http, "127.0.0.1:%u", port);
    char *argv[] = {(char *)harness_bin("ember-agent", bin, sizeof bin),
                    "--config",
                    config,
                    "--http-listen",
                    http,
                    "--aggregator",
                    agg,
                    "--data-dir",
                    data,
                    "--interval",
                    "500ms",
                    "--collector.gpu=false",
                    "--collector.cgroup=false",
                    NULL};
    pid_t pid = harness_spawn(name, argv);
    snprintf(url, sizeof url, "%s://127.0.0.1:%u/-/healthy", scheme, port);
    for (int64_t end = mono_ms() + 20000; status_of(url, NULL, NULL) != 200; sleep_ms(100))
        if (mono_ms() > end || !harness_alive(pid))
            fail_msg("agent %s did not serve %s", name, url);
    return pid;
}

static void test_check_config(void **state)
{
    char bin[512], config[600];
    harness_bin("ember-agent", bin, sizeof bin);
    in_dir(config, sizeof config, "check.yml");
    char *argv[] = {bin, "--check-config", config, NULL};
    ebuf out;
    ebuf_init(&out);
    write_file("check.yml",
               "interval: 5s\nweb:\n  users: [{username: a, password_sha256: " SHA_PA "}]\n");
    assert_int_equal(harness_run(argv, &out), 0);
    ebuf_reset(&out);
    write_file("check.yml", "interval: 5s\nweb:\n  users: [{username: a, password_sha256: x}]\n");
    assert_int_not_equal(harness_run(argv, &out), 0);
    if (!strstr(out.data, "check.yml:3:42: \"x\" is not a SHA-256 in hex"))
        fail_msg("output: %s", out.data);
    ebuf_free(&out);
}

/* The agent's own count of refusals for reason (-1: none shown). */
static double refused(const char *url, const char *reason)
{
    char ca[600];
    in_dir(ca, sizeof ca, "ca.pem");
    return http_refused_at(url, &(http_call_opts){.userpwd = "a:pa", .cafile = ca}, reason);
}

static void test_credentials_and_sighup(void **state)
{
    write_file("plain.yml", "log:\n  level: info\nweb:\n"
                            "  users: [{username: a, password_sha256: " SHA_PA "}]\n"
                            "  tokens: [{token_sha256: " SHA_TOK "}]\n");
    unsigned port = harness_free_port();
    pid_t pid = start_agent("plain", port, "http");
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/metrics", port);

    assert_int_equal(status_of(url, NULL, NULL), 401);
    assert_int_equal(status_of(url, "a:wrong", NULL), 401);
    assert_int_equal(status_of(url, NULL, "not-the-token"), 401);
    http_reply a;
    fetch(url, "a:pa", NULL, &a);
    assert_int_equal(a.status, 200);
    assert_non_null(strstr(a.body.data, "# TYPE ember_agent_collections_total counter"));
    ebuf_free(&a.body);
    assert_int_equal(status_of(url, NULL, "tok"), 200);
    assert_int_equal(refused(url, "unauthorized"), 3);
    assert_int_equal(refused(url, "forbidden"), 0);

    write_file("plain.yml", "web:\n  users: [{username: b, password_sha256: " SHA_PB "}]\n");
    assert_int_equal(kill(pid, SIGHUP), 0);
    assert_true(becomes(url, "b:pb", 200));
    assert_int_equal(status_of(url, "a:pa", NULL), 401);
    assert_true(harness_wait_log("plain", "msg=\"web config reloaded\" users=1 tokens=0", 10000));

    write_file("plain.yml", "web:\n  users: [{username: c, password_sha256: not-hex}]\n");
    assert_int_equal(kill(pid, SIGHUP), 0);
    assert_true(harness_wait_log("plain", "web config not reloaded", 10000));
    assert_true(harness_alive(pid));
    assert_int_equal(status_of(url, "b:pb", NULL), 200);

    int status = harness_stop(pid, 10000);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void test_https_and_sighup(void **state)
{
    write_file("tls.yml", "web:\n"
                          "  tls_server_config: {cert_file: live.pem, key_file: live.key}\n"
                          "  users: [{username: a, password_sha256: " SHA_PA "}]\n");
    unsigned port = harness_free_port();
    pid_t pid = start_agent("tls", port, "https");
    char url[128], plain[128];
    snprintf(url, sizeof url, "https://127.0.0.1:%u/metrics", port);
    snprintf(plain, sizeof plain, "http://127.0.0.1:%u/metrics", port);
    http_reply a;
    fetch(url, "a:pa", NULL, &a);
    assert_int_equal(a.status, 200);
    assert_non_null(strstr(a.subject, "agent-one"));
    ebuf_free(&a.body);
    assert_int_equal(status_of(url, NULL, NULL), 401);
    assert_int_equal(status_of(plain, "a:pa", NULL), 0); /* HTTPS only */

    sh("cp two.pem live.pem && cp two.key live.key");
    assert_int_equal(kill(pid, SIGHUP), 0);
    bool renewed = false;
    for (int64_t end = mono_ms() + 10000; !renewed && mono_ms() < end; sleep_ms(100)) {
        fetch(url, "a:pa", NULL, &a);
        renewed = a.status == 200 && strstr(a.subject, "agent-two");
        ebuf_free(&a.body);
    }
    assert_true(renewed);

    int status = harness_stop(pid, 10000);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_config),
        cmocka_unit_test(test_credentials_and_sighup),
        cmocka_unit_test(test_https_and_sighup),
    };
    return cmocka_run_group_tests_name("integration.agent_http", tests, setup, teardown);
}
