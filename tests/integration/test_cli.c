/*
 * test_cli.c — the operator-facing surface of each binary, run for real:
 * --help, --version, config files with mistakes (file, line and reason on
 * stderr, non-zero exit), a busy port, an unusable data directory,
 * `ember-agent --once`, and SIGTERM during start-up.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/integration/harness.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *BINARIES[] = {"ember-aggregator", "ember-agent", "ember-gpusim"};

static char *write_file(const char *name, const char *text)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", harness_tmpdir(), name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static int run(ebuf *out, char *const argv[])
{
    ebuf_reset(out);
    return harness_run(argv, out);
}

static void test_help_and_version(void **state)
{
    ebuf out;
    ebuf_init(&out);
    for (size_t i = 0; i < sizeof BINARIES / sizeof *BINARIES; i++) {
        char bin[512];
        char *help[] = {(char *)harness_bin(BINARIES[i], bin, sizeof bin), "--help", NULL};
        assert_int_equal(run(&out, help), 0);
        assert_non_null(strstr(out.data, "Usage:"));
        assert_non_null(strstr(out.data, "--config"));
        char *version[] = {bin, "--version", NULL};
        assert_int_equal(run(&out, version), 0);
        assert_non_null(strstr(out.data, BINARIES[i]));
        assert_non_null(strstr(out.data, EMBER_VERSION));
        char *bad[] = {bin, "--no-such-flag", NULL};
        assert_int_not_equal(run(&out, bad), 0);
        assert_non_null(strstr(out.data, "no-such-flag"));
    }
    ebuf_free(&out);
}

static void expect_config_error(const char *binary, const char *yaml, const char *needle,
                                const char *line_col)
{
    char bin[512];
    char *path = write_file("bad.yml", yaml);
    char *argv[] = {(char *)harness_bin(binary, bin, sizeof bin), "--config", path, NULL};
    ebuf out;
    ebuf_init(&out);
    int rc = run(&out, argv);
    if (rc == 0 || !strstr(out.data, needle) || !strstr(out.data, line_col) ||
        !strstr(out.data, "bad.yml"))
        fprintf(stderr, "%s with %s said: %s\n", binary, yaml, out.data);
    assert_int_not_equal(rc, 0);
    assert_non_null(strstr(out.data, "bad.yml"));
    assert_non_null(strstr(out.data, line_col));
    assert_non_null(strstr(out.data, needle));
    ebuf_free(&out);
}

static void test_config_errors_name_file_line_and_reason(void **state)
{
    expect_config_error("ember-agent", "interval: 15s\nintervall: 10s\n", "intervall", ":2:");
    expect_config_error("ember-agent", "aggregator: tcp://127.0.0.1:7070\ninterval: 15x\n", "15x",
                        ":2:");
    expect_config_error("ember-aggregator", "http-listen:\n  - a\n  - b\n", "http-listen", ":");
    expect_config_error("ember-aggregator", "data-dir: /proc/ember-cannot-be-here\n",
                        "/proc/ember-cannot-be-here", ":1:");
    expect_config_error("ember-gpusim", "gpus: eight\n", "eight", ":1:");
}

static void test_missing_config_file(void **state)
{
    char bin[512];
    char *argv[] = {(char *)harness_bin("ember-agent", bin, sizeof bin), "--config",
                    "/nonexistent/agent.yml", NULL};
    ebuf out;
    ebuf_init(&out);
    assert_int_not_equal(run(&out, argv), 0);
    assert_non_null(strstr(out.data, "/nonexistent/agent.yml"));
    ebuf_free(&out);
}

static void test_busy_port_is_a_clear_error(void **state)
{
    /* hold a port, then ask the aggregator to listen on it */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 1), 0);
    getsockname(fd, (struct sockaddr *)&a, &len);
    char bin[512], http[64], ingest[64], dir[512];
    snprintf(http, sizeof http, "127.0.0.1:%u", ntohs(a.sin_port));
    snprintf(ingest, sizeof ingest, "tcp://127.0.0.1:%u", harness_free_port());
    snprintf(dir, sizeof dir, "%s/busy", harness_tmpdir());
    char *argv[] = {(char *)harness_bin("ember-aggregator", bin, sizeof bin),
                    "--data-dir",
                    dir,
                    "--http-listen",
                    http,
                    "--ingest-listen",
                    ingest,
                    NULL};
    ebuf out;
    ebuf_init(&out);
    assert_int_not_equal(run(&out, argv), 0);
    assert_non_null(strstr(out.data, http));
    assert_non_null(strstr(out.data, "in use"));
    close(fd);
    ebuf_free(&out);
}

static void test_agent_once_prints_exposition(void **state)
{
    char bin[512], dir[512];
    snprintf(dir, sizeof dir, "%s/once", harness_tmpdir());
    char *argv[] = {(char *)harness_bin("ember-agent", bin, sizeof bin),
                    "--once",
                    "--instance",
                    "node-x",
                    "--data-dir",
                    dir,
                    "--labels",
                    "cluster=c1",
                    NULL};
    ebuf out;
    ebuf_init(&out);
    assert_int_equal(run(&out, argv), 0);
    assert_non_null(strstr(out.data, "# TYPE node_cpu_seconds_total counter"));
    assert_non_null(strstr(out.data, "mode=\"idle\""));
    assert_non_null(strstr(out.data, "# TYPE node_memory_MemTotal_bytes gauge"));
    assert_non_null(strstr(out.data, "node_load1{"));
    assert_non_null(strstr(out.data, "instance=\"node-x\""));
    assert_non_null(strstr(out.data, "cluster=\"c1\""));
    ebuf_free(&out);
}

/* Exit status of pid within timeout_ms, or -1 (then it is stopped). */
static int exit_status(pid_t pid, int timeout_ms)
{
    for (int waited = 0; waited < timeout_ms; waited += 20) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid)
            return st;
        usleep(20000);
    }
    harness_stop(pid, 1000);
    return -1;
}

/*
 * SIGTERM while a binary is still starting (here: reading its config from
 * a FIFO, so the moment is certain) is a clean stop, exit 0, not a death
 * by signal: the handlers are in place before anything else happens.
 */
static void sigterm_while_reading_config(const char *binary, const char *config,
                                         const char *const *flags)
{
    char fifo[512], bin[512];
    snprintf(fifo, sizeof fifo, "%s/%s.fifo", harness_tmpdir(), binary);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    char *argv[16] = {(char *)harness_bin(binary, bin, sizeof bin), "--config", fifo};
    int n = 3;
    for (int i = 0; flags[i] && n < 15; i++)
        argv[n++] = (char *)flags[i];
    argv[n] = NULL;
    pid_t pid = harness_spawn(binary, argv);
    int fd = open(fifo, O_WRONLY); /* returns once the binary opened it to read */
    assert_true(fd >= 0);
    kill(pid, SIGTERM);
    usleep(100000);
    signal(SIGPIPE, SIG_IGN); /* a binary killed by the signal has no reader left */
    ssize_t written = write(fd, config, strlen(config));
    close(fd);
    int st = exit_status(pid, 30000);
    if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
        ebuf log;
        ebuf_init(&log);
        harness_log(binary, &log);
        fail_msg("%s: status %d after SIGTERM during start-up (config written: %zd): %s", binary,
                 st, written, log.data ? (char *)log.data : "");
    }
}

static void test_sigterm_during_startup_is_a_clean_stop(void **state)
{
    char data[512], http[64], ingest[64], agent_data[512], agg[64];
    snprintf(data, sizeof data, "%s/startup-agg", harness_tmpdir());
    snprintf(http, sizeof http, "127.0.0.1:%u", harness_free_port());
    snprintf(ingest, sizeof ingest, "tcp://127.0.0.1:%u", harness_free_port());
    const char *agg_flags[] = {"--data-dir", data, "--http-listen", http, "--ingest-listen",
                               ingest,       NULL};
    sigterm_while_reading_config("ember-aggregator", "query:\n  timeout: 1m\n", agg_flags);

    snprintf(agent_data, sizeof agent_data, "%s/startup-agent", harness_tmpdir());
    snprintf(agg, sizeof agg, "tcp://127.0.0.1:%u", harness_free_port());
    const char *agent_flags[] = {"--data-dir", agent_data, "--aggregator", agg, NULL};
    sigterm_while_reading_config("ember-agent", "interval: 1s\n", agent_flags);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help_and_version),
        cmocka_unit_test(test_config_errors_name_file_line_and_reason),
        cmocka_unit_test(test_missing_config_file),
        cmocka_unit_test(test_busy_port_is_a_clear_error),
        cmocka_unit_test(test_agent_once_prints_exposition),
        cmocka_unit_test(test_sigterm_during_startup_is_a_clean_stop),
    };
    int rc = cmocka_run_group_tests_name("integration.cli", tests, NULL, NULL);
    harness_cleanup();
    return rc;
}
