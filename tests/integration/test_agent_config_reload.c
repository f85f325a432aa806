/*
 * test_agent_config_reload.c — the real ember-agent binary with a scrape
 * config file: --check-config answers 0 for a valid file and names file,
 * line and column for a bad one; SIGHUP re-reads the scrape config, a bad
 * file keeps the running one and says why, a good one takes effect; and
 * the agent, whose idle cost we care about, starts libcurl only once it
 * has a target.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/integration/harness.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *write_file(const char *name, const char *text)
{
    char *path = malloc(512);
    snprintf(path, 512, "%s/%s", harness_tmpdir(), name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static const char GOOD[] = "scrape_configs:\n"
                           "  - job_name: app\n"
                           "    static_configs: [{targets: ['127.0.0.1:1']}]\n";
static const char TWO[] = "scrape_configs:\n"
                          "  - job_name: app\n"
                          "    static_configs: [{targets: ['127.0.0.1:1', '127.0.0.1:2']}]\n";
static const char BAD[] = "scrape_configs:\n"
                          "  - job_name: app\n"
                          "    relabel_configs:\n"
                          "      - action: explode\n";

static void test_check_config(void **state)
{
    (void)state;
    char bin[512], settings[600];
    harness_bin("ember-agent", bin, sizeof bin);
    char *good = write_file("good.yml", GOOD), *bad = write_file("bad.yml", BAD);
    snprintf(settings, sizeof settings, "interval: 5s\nscrape-config: %s\n", good);
    char *s1 = write_file("agent-good.yml", settings);
    snprintf(settings, sizeof settings, "interval: 5s\nscrape-config: %s\n", bad);
    char *s2 = write_file("agent-bad.yml", settings);
    ebuf out;
    ebuf_init(&out);
    char *ok_argv[] = {bin, "--check-config", s1, NULL};
    assert_int_equal(harness_run(ok_argv, &out), 0);
    assert_non_null(strstr(out.data, ": ok"));
    ebuf_reset(&out);
    char *bad_argv[] = {bin, "--check-config", s2, NULL};
    assert_int_not_equal(harness_run(bad_argv, &out), 0);
    if (!strstr(out.data, "bad.yml:4:17: unknown relabel action \"explode\""))
        fail_msg("output: %s", out.data);
    ebuf_free(&out);
    free(good);
    free(bad);
    free(s1);
    free(s2);
}

static void test_sighup_reload(void **state)
{
    (void)state;
    char bin[512], agg[64], dir[600];
    harness_bin("ember-agent", bin, sizeof bin);
    char *path = write_file("scrape.yml", GOOD);
    snprintf(agg, sizeof agg, "tcp://127.0.0.1:%u", harness_free_port());
    snprintf(dir, sizeof dir, "%s/agent-data", harness_tmpdir());
    char *argv[] = {bin,     "--scrape-config",
                    path,    "--aggregator",
                    agg,     "--data-dir",
                    dir,     "--interval",
                    "200ms", "--scrape-timeout",
                    "100ms", "--send-timeout",
                    "100ms", "--collector.gpu=false",
                    NULL};
    pid_t pid = harness_spawn("agent", argv);
    assert_true(harness_wait_log("agent", "targets=1", 5000));
    free(write_file("scrape.yml", BAD));
    kill(pid, SIGHUP);
    assert_true(
        harness_wait_log("agent", "reload failed, keeping the running configuration", 5000));
    assert_true(harness_wait_log("agent", "scrape.yml:4:17: unknown relabel action", 100));
    assert_true(harness_alive(pid));
    free(write_file("scrape.yml", TWO));
    kill(pid, SIGHUP);
    assert_true(harness_wait_log("agent", "msg=\"configuration reloaded\" targets=2", 5000));
    assert_int_equal(harness_stop(pid, 5000), 0);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_config),
        cmocka_unit_test(test_sighup_reload),
    };
    int rc = cmocka_run_group_tests_name("integration.agent_config_reload", tests, NULL, NULL);
    harness_cleanup();
    return rc;
}
