/*
 * test_agent_config.c — the agent's scrape config file (agent/config.c):
 * Prometheus's scrape_configs format into targets (PopulateLabels: job,
 * instance, group labels, relabel_configs, defaults and limits), and every
 * error naming file, line and column.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "agent/agent.h"
#include "agent/config.h"

#include <stdio.h>
#include <string.h>

static const char GOOD[] = "global:\n"
                           "  scrape_interval: 30s\n"
                           "scrape_configs:\n"
                           "  - job_name: app\n"
                           "    scrape_timeout: 5s\n"
                           "    metrics_path: /stats/prometheus\n"
                           "    scheme: https\n"
                           "    honor_labels: true\n"
                           "    honor_timestamps: false\n"
                           "    body_size_limit: 10MiB\n"
                           "    sample_limit: 5000\n"
                           "    static_configs:\n"
                           "      - targets: ['10.0.0.1:8080', '10.0.0.2:8080', 'skip-me:1']\n"
                           "        labels: {team: infra, env: prod}\n"
                           "    relabel_configs:\n"
                           "      - source_labels: [__address__]\n"
                           "        regex: 'skip-.*'\n"
                           "        action: drop\n"
                           "      - source_labels: [__address__]\n"
                           "        regex: '([^:]+):.*'\n"
                           "        target_label: instance\n"
                           "        replacement: '${1}'\n"
                           "    metric_relabel_configs:\n"
                           "      - regex: 'go_.*'\n"
                           "        source_labels: [__name__]\n"
                           "        action: drop\n"
                           "  - job_name: node\n"
                           "    static_configs:\n"
                           "      - targets: [127.0.0.1:9100]\n";

static void test_targets_like_prometheus(void **state)
{
    (void)state;
    scrape_config c;
    char err[512];
    if (scrape_config_parse(&c, "s.yml", GOOD, strlen(GOOD), err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_int_equal(c.njobs, 2);
    assert_int_equal(c.ntargets, 3);
    const scrape_target *t = &c.targets[0];
    assert_string_equal(t->job, "app");
    assert_string_equal(t->url, "https://10.0.0.1:8080/stats/prometheus");
    assert_string_equal(t->instance, "10.0.0.1");
    assert_int_equal(t->labels.n, 2);
    assert_string_equal(labels_get(&t->labels, "team"), "infra");
    assert_string_equal(labels_get(&t->labels, "env"), "prod");
    assert_int_equal(t->interval_ms, 30000);
    assert_int_equal(t->timeout_ms, 5000);
    assert_true(t->honor_labels);
    assert_true(t->ignore_timestamps);
    assert_int_equal(t->body_size_limit, 10 << 20);
    assert_int_equal(t->sample_limit, 5000);
    assert_int_equal(t->metric_relabel->n, 1);
    assert_string_equal(c.targets[1].instance, "10.0.0.2");
    t = &c.targets[2]; /* defaults: instance = address, /metrics, http, 10s */
    assert_string_equal(t->job, "node");
    assert_string_equal(t->url, "http://127.0.0.1:9100/metrics");
    assert_string_equal(t->instance, "127.0.0.1:9100");
    assert_int_equal(t->labels.n, 0);
    assert_int_equal(t->interval_ms, 30000);
    assert_int_equal(t->timeout_ms, 10000);
    assert_false(t->honor_labels);
    assert_false(t->ignore_timestamps);
    assert_int_equal(t->metric_relabel->n, 0);
    scrape_config_free(&c);
}

static void test_defaults_follow_the_interval(void **state)
{
    (void)state;
    const char *y = "scrape_configs:\n"
                    "  - job_name: fast\n"
                    "    scrape_interval: 2s\n"
                    "    static_configs: [{targets: ['a:1']}]\n"
                    "  - job_name: agent\n"
                    "    static_configs: [{targets: ['b:1']}]\n";
    scrape_config c;
    char err[512];
    assert_int_equal(scrape_config_parse(&c, "s.yml", y, strlen(y), err, sizeof err), 0);
    assert_int_equal(c.targets[0].timeout_ms, 2000); /* the default, capped */
    assert_int_equal(c.targets[1].interval_ms, 0);   /* the agent's --interval */
    scrape_config_free(&c);
    assert_int_equal(scrape_config_parse(&c, "e.yml", "", 0, err, sizeof err), 0);
    assert_int_equal(c.ntargets, 0);
    scrape_config_free(&c);
}

static const struct {
    const char *yaml, *err;
} bad[] = {
    {"scrape_configs:\n  - job_name: a\n    scrape_intervall: 5s\n",
     "b.yml:3:5: unknown key \"scrape_intervall\" in a scrape config"},
    {"rule_files: []\n", "b.yml:1:1: unknown key \"rule_files\""},
    {"scrape_configs:\n  - job_name: a\n  - job_name: a\n",
     "b.yml:3:5: found multiple scrape configs with job name \"a\""},
    {"scrape_configs:\n  - static_configs: []\n", "b.yml:2:5: job_name is empty"},
    {"scrape_configs:\n  - job_name: a\n    scrape_interval: 5s\n    scrape_timeout: 6s\n",
     "b.yml:2:5: scrape timeout greater than scrape interval"},
    {"scrape_configs:\n  - job_name: a\n    scrape_interval: soon\n",
     "b.yml:3:22: not a valid duration string: \"soon\""},
    {"scrape_configs:\n  - job_name: a\n    scheme: ftp\n",
     "b.yml:3:13: scheme must be http or https"},
    {"scrape_configs:\n  - job_name: a\n    sample_limit: -1\n",
     "b.yml:3:19: expected a non-negative integer"},
    {"scrape_configs:\n  - job_name: a\n    honor_labels: yes\n",
     "b.yml:3:19: expected true or false"},
    {"scrape_configs:\n  - job_name: a\n    static_configs:\n      - targets: ['a/b']\n",
     "b.yml:4:19: \"a/b\" is not a valid target"},
    {"scrape_configs:\n  - job_name: a\n    static_configs:\n      - labels: {0x: y}\n",
     "b.yml:4:18: \"0x\" is not a valid label name"},
    {"scrape_configs:\n  - job_name: a\n    relabel_configs:\n      - action: hashmod\n"
     "        target_label: x\n",
     "b.yml:4:9: relabel configuration for hashmod requires non-zero modulus"},
    {"scrape_configs:\n  - job_name: a\n    metric_relabel_configs:\n      - action: rename\n",
     "b.yml:4:17: unknown relabel action \"rename\""},
    {"scrape_configs:\n  - job_name: a\n    relabel_configs:\n      - regex: '('\n"
     "        target_label: x\n",
     "b.yml:4:9: invalid regex \"(\""},
    {"scrape_configs:\n  - job_name: a\n    relabel_configs:\n"
     "      - {target_label: __address__, replacement: ''}\n"
     "    static_configs: [{targets: ['h:1']}]\n",
     "b.yml:5:33: no __address__ label after relabeling"},
    {"scrape_configs: [\n", "b.yml:2:1: "},
    {"scrape_configs:\n  - job_name: a\n    job_name: b\n",
     "b.yml:3:5: duplicate key \"job_name\""},
};

static void test_errors_name_file_line_column(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        scrape_config c;
        char err[512] = "";
        assert_int_equal(
            scrape_config_parse(&c, "b.yml", bad[i].yaml, strlen(bad[i].yaml), err, sizeof err),
            -1);
        if (strncmp(err, bad[i].err, strlen(bad[i].err)) != 0)
            fail_msg("case %zu: got \"%s\", want \"%s...\"", i, err, bad[i].err);
        assert_int_equal(c.ntargets, 0);
        assert_null(c.targets);
    }
    scrape_config c;
    char err[512];
    assert_int_equal(scrape_config_load(&c, "/nonexistent/s.yml", err, sizeof err), -1);
    assert_non_null(strstr(err, "cannot read /nonexistent/s.yml"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_targets_like_prometheus),
        cmocka_unit_test(test_defaults_follow_the_interval),
        cmocka_unit_test(test_errors_name_file_line_column),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
