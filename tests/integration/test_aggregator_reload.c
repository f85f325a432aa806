/*
 * test_aggregator_reload.c — SIGHUP on a real ember-aggregator (what
 * `systemctl reload` sends): the web: section's credentials are read again
 * and apply to the next request; a broken section keeps the old ones and
 * the process keeps serving; SIGTERM still ends it cleanly.  The same with
 * a Prometheus web configuration file (--web.config.file, bcrypt users,
 * checked by Debian's promtool too): Grafana-style basic auth on
 * /api/v1/query, a reload, and a refusal to start with both that file and
 * a web: section.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/etime.h"
#include "tests/integration/harness.h"

#include <crypt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

/* printf %s pa | sha256sum, printf %s pb | sha256sum */
#define SHA_PA "9513229d435978263d82902c59d4e0fb86c941a9bf09b605cd8a6643f40149a8"
#define SHA_PB "3315f44da4a7aaaf8d84382c7583233f697787f5871294ed49cd41207f7375a0"

static char config[600];
static unsigned api;

static void write_config(const char *text)
{
    FILE *f = fopen(config, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static void write_user(const char *name, const char *sha)
{
    char text[400];
    snprintf(text, sizeof text, "web:\n  users:\n    - {username: %s, password_sha256: %s}\n", name,
             sha);
    write_config(text);
}

/* The status of GET /api/v1/labels as user:password ("" for none). */
static long labels_as(const char *userpass)
{
    char url[256];
    snprintf(url, sizeof url, "http://%s%s127.0.0.1:%u/api/v1/labels", userpass,
             *userpass ? "@" : "", api);
    ebuf b;
    ebuf_init(&b);
    long st = harness_http(url, NULL, &b);
    ebuf_free(&b);
    return st;
}

/* Poll until userpass gets want (a reload is asynchronous to the signal). */
static bool becomes(const char *userpass, long want)
{
    for (int64_t end = mono_ms() + 10000; mono_ms() < end; sleep_ms(100))
        if (labels_as(userpass) == want)
            return true;
    return false;
}

static void test_sighup_reloads_credentials(void **state)
{
    (void)state;
    snprintf(config, sizeof config, "%s/aggregator.yml", harness_tmpdir());
    write_user("a", SHA_PA);
    api = harness_free_port();
    const char *const extra[] = {"--config", config, "--self-scrape.interval", "0", NULL};
    pid_t pid = harness_spawn_aggregator("aggregator", api, extra);

    assert_int_equal(labels_as(""), 401);
    assert_int_equal(labels_as("a:pa"), 200);
    assert_int_equal(labels_as("b:pb"), 401);

    write_user("b", SHA_PB);
    assert_int_equal(kill(pid, SIGHUP), 0);
    assert_true(becomes("b:pb", 200));
    assert_int_equal(labels_as("a:pa"), 401);

    /* A broken section: logged, the old credentials stay. */
    write_config("web:\n  users: [{username: c, password_sha256: not-hex}]\n");
    assert_int_equal(kill(pid, SIGHUP), 0);
    sleep_ms(500);
    assert_true(harness_alive(pid));
    assert_int_equal(labels_as("b:pb"), 200);
    assert_true(harness_wait_log("aggregator", "web config not reloaded", 5000));

    int status = harness_stop(pid, 20000);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* web.yml with one bcrypt user (cost 4: fast, and as valid as 10). */
static void write_web_yml(const char *path, const char *user, const char *password)
{
    char salt[CRYPT_GENSALT_OUTPUT_SIZE], text[200];
    struct crypt_data *d = calloc(1, sizeof *d);
    assert_non_null(crypt_gensalt_rn("$2y$", 4, NULL, 0, salt, sizeof salt));
    const char *hash = crypt_rn(password, salt, d, (int)sizeof *d);
    assert_non_null(hash);
    snprintf(text, sizeof text, "basic_auth_users:\n  %s: %s\n", user, hash);
    free(d);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static long query_as(const char *userpass)
{
    char url[256];
    snprintf(url, sizeof url, "http://%s@127.0.0.1:%u/api/v1/query?query=up", userpass, api);
    ebuf b;
    ebuf_init(&b);
    long st = harness_http(url, NULL, &b);
    ebuf_free(&b);
    return st;
}

static void test_prometheus_web_config_file(void **state)
{
    (void)state;
    char web[600];
    snprintf(web, sizeof web, "%s/web.yml", harness_tmpdir());
    write_web_yml(web, "grafana", "s3cret");
    ebuf out;
    ebuf_init(&out);
    char *check[] = {"/usr/bin/promtool", "check", "web-config", web, NULL};
    if (harness_run(check, &out) != 0) /* the peer takes the same file */
        fail_msg("promtool: %s", out.data ? out.data : "");
    ebuf_free(&out);

    api = harness_free_port();
    const char *const extra[] = {"--web.config.file", web, "--self-scrape.interval", "0", NULL};
    pid_t pid = harness_spawn_aggregator("toolkit", api, extra);
    assert_int_equal(labels_as(""), 401);
    assert_int_equal(labels_as("grafana:wrong"), 401);
    assert_int_equal(labels_as("grafana:s3cret"), 200);
    assert_int_equal(query_as("grafana:s3cret"), 200);
    assert_int_equal(query_as("grafana:s3cret"), 200); /* the cached success */

    write_web_yml(web, "grafana", "n3w");
    assert_int_equal(kill(pid, SIGHUP), 0);
    assert_true(becomes("grafana:n3w", 200));
    assert_int_equal(query_as("grafana:s3cret"), 401);
    int status = harness_stop(pid, 20000);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    /* both places at once: refused at start, naming both */
    snprintf(config, sizeof config, "%s/both.yml", harness_tmpdir());
    write_user("a", SHA_PA);
    char bin[512], data[600];
    snprintf(data, sizeof data, "%s/both-data", harness_tmpdir());
    char *argv[] = {(char *)harness_bin("ember-aggregator", bin, sizeof bin),
                    "--config",
                    config,
                    "--web.config.file",
                    web,
                    "--data-dir",
                    data,
                    NULL};
    ebuf_init(&out);
    assert_int_equal(harness_run(argv, &out), 2);
    assert_non_null(out.data);
    assert_non_null(strstr(out.data, "both configure the HTTP server"));
    ebuf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_sighup_reloads_credentials),
                                       cmocka_unit_test(test_prometheus_web_config_file)};
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    harness_cleanup();
    return rc;
}
