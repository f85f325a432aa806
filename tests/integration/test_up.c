/*
 * test_up.c — the whole local stack as `./ember up` starts it: runs
 * deploy/local/up.sh on the built binaries (no rebuild) with free loopback
 * ports and a temporary data directory, checks through the aggregator's
 * query API that GPU, ML, app and host series arrive, that a second start
 * says the stack is running, and that SIGTERM stops every child it started.
 * The --services run (nginx, redis, postgresql and their exporters) is
 * skipped with the reason when those cannot be installed or started here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/etime.h"
#include "common/fsutil.h"
#include "tests/integration/harness.h"
#include "tests/integration/promql_answer.h"

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_CHILDREN 32
#define UP_EXIT_NO_SERVICES 3 /* up.sh: --services cannot run here */

typedef struct up_run {
    char data[512];
    unsigned api_port;
    pid_t pid;
} up_run;

static void set_port(const char *var, unsigned *out)
{
    char v[16];
    unsigned p = harness_free_port();
    snprintf(v, sizeof v, "%u", p);
    setenv(var, v, 1);
    if (out)
        *out = p;
}

/* Fresh ports and data dir in the environment up.sh inherits, then start it. */
static void up_start(up_run *u, const char *name, bool services)
{
    const char *vars[] = {"EMBER_INGEST_PORT",         "EMBER_GPUSIM_PORT",
                          "EMBER_MLSIM_PORT",          "EMBER_DEMOAPP_PORT",
                          "EMBER_NGINX_PORT",          "EMBER_REDIS_PORT",
                          "EMBER_POSTGRES_PORT",       "EMBER_NGINX_EXPORTER_PORT",
                          "EMBER_REDIS_EXPORTER_PORT", "EMBER_POSTGRES_EXPORTER_PORT"};
    set_port("EMBER_API_PORT", &u->api_port);
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        set_port(vars[i], NULL);
    snprintf(u->data, sizeof u->data, "%s/%s", harness_tmpdir(), name);
    setenv("EMBER_DATA_DIR", u->data, 1);
    setenv("EMBER_INTERVAL", "1s", 1);
    setenv("EMBER_LOADGEN_INTERVAL", "100ms", 1);
    char script[512], bin[512];
    const char *src = getenv("EMBER_SOURCE_DIR");
    snprintf(script, sizeof script, "%s/deploy/local/up.sh", src ? src : ".");
    harness_bin("", bin, sizeof bin);
    char *argv[] = {"/bin/bash", script, services ? "--services" : bin, services ? bin : NULL,
                    NULL};
    u->pid = harness_spawn(name, argv);
    assert_true(u->pid > 0);
}

static void dump_log(const char *name)
{
    ebuf log;
    ebuf_init(&log);
    harness_log(name, &log);
    fprintf(stderr, "---- %s.log ----\n%s\n", name, log.data ? log.data : "");
    ebuf_free(&log);
}

/* Wait until up.sh has started everything (its last child is the load
 * generator) or exited; returns -1 when running, else its exit code. */
static int up_wait_started(up_run *u, int timeout_ms)
{
    char path[600];
    snprintf(path, sizeof path, "%s/up.children", u->data);
    int64_t deadline = mono_ms() + timeout_ms;
    while (mono_ms() < deadline) {
        int status;
        if (waitpid(u->pid, &status, WNOHANG) == u->pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        FILE *f = fopen(path, "r");
        char line[128];
        bool started = false;
        while (f && fgets(line, sizeof line, f))
            started |= strncmp(line, "loadgen ", 8) == 0;
        if (f)
            fclose(f);
        if (started)
            return -1;
        sleep_ms(100);
    }
    dump_log("up");
    fail_msg("up.sh did not finish starting in %d ms", timeout_ms);
    return -1;
}

/* The children up.sh recorded. */
static size_t up_children(const up_run *u, pid_t *pids)
{
    char path[600], name[64];
    snprintf(path, sizeof path, "%s/up.children", u->data);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = 0;
    int pid;
    while (n < MAX_CHILDREN && fscanf(f, "%63s %d", name, &pid) == 2)
        pids[n++] = pid;
    fclose(f);
    return n;
}

/* Poll an instant query until the body contains want (a series or a value). */
static void wait_series(const up_run *u, const char *query, const char *want)
{
    char url[512];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/api/v1/query?query=%s", u->api_port, query);
    ebuf body;
    ebuf_init(&body);
    int64_t deadline = mono_ms() + 30000;
    while (mono_ms() < deadline) {
        ebuf_reset(&body);
        if (harness_http(url, NULL, &body) == 200 && strstr(body.data, want)) {
            ebuf_free(&body);
            return;
        }
        sleep_ms(250);
    }
    fprintf(stderr, "last answer: %s\n", body.data ? body.data : "");
    ebuf_free(&body);
    fail_msg("no %s in %s within 30 s", want, query);
}

/* The JSON string starting at p (after its opening quote) into out. */
static const char *json_unquote(const char *p, ebuf *out)
{
    ebuf_reset(out);
    for (; *p && *p != '"'; p++) {
        if (*p != '\\') {
            ebuf_putc(out, *p);
            continue;
        }
        p++;
        switch (*p) {
        case 'n': ebuf_putc(out, '\n'); break;
        case 't': ebuf_putc(out, '\t'); break;
        case 'u': /* the dashboards use \u only for ASCII */
            ebuf_putc(out, (char)strtol((char[]){p[1], p[2], p[3], p[4], 0}, NULL, 16));
            p += 4;
            break;
        default: ebuf_putc(out, *p); break;
        }
    }
    ebuf_putc(out, '\0');
    return p;
}

/* A panel query as Grafana sends it: template variables at "All" (.+) and
 * $__rate_interval at 1m. */
static void grafana_expand(const char *expr, ebuf *out)
{
    static const char *const vars[][2] = {
        {"$__rate_interval", "1m"}, {"$instance", ".+"}, {"$gpu_id", ".+"}};
    ebuf_reset(out);
    for (const char *p = expr; *p;) {
        size_t i = 0;
        for (; i < sizeof vars / sizeof vars[0]; i++)
            if (strncmp(p, vars[i][0], strlen(vars[i][0])) == 0)
                break;
        if (i < sizeof vars / sizeof vars[0]) {
            ebuf_puts(out, vars[i][1]);
            p += strlen(vars[i][0]);
        } else {
            ebuf_putc(out, *p++);
        }
    }
    ebuf_putc(out, '\0');
}

/* A range query over the last two minutes at 5 s steps, as a dashboard
 * refresh asks it. */
static void panel_query(const up_run *u, const char *query, prom_answer *a)
{
    ebuf form, body;
    ebuf_init(&form);
    ebuf_init(&body);
    int64_t now = now_ms() / 1000;
    ebuf_printf(&form, "start=%lld&end=%lld&step=5&query=", (long long)(now - 120), (long long)now);
    for (const unsigned char *p = (const unsigned char *)query; *p; p++)
        if (isalnum(*p) || strchr("-_.~", *p))
            ebuf_putc(&form, (char)*p);
        else
            ebuf_printf(&form, "%%%02X", *p);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/api/v1/query_range", u->api_port);
    long status = harness_http(url, form.data, &body);
    prom_answer_parse(a, status, body.data ? body.data : "");
    ebuf_free(&form);
    ebuf_free(&body);
}

/* Every panel query of every provisioned dashboard returns data.  The
 * container panels need containers: on a host without any (no container
 * cgroups for the agent to see) they must still run, and the test says why
 * they are empty. */
static void check_dashboard_panels(const up_run *u)
{
    char path[600];
    snprintf(path, sizeof path, "%s/deploy/grafana/dashboards/gpu-infrastructure.json",
             getenv("EMBER_SOURCE_DIR"));
    ebuf json, expr, query;
    ebuf_init(&json);
    ebuf_init(&expr);
    ebuf_init(&query);
    assert_int_equal(fs_read_file(path, &json, 1 << 22), 0);
    prom_answer probe;
    panel_query(u, "container_cpu_usage_seconds_total{name!=\"\"}", &probe);
    bool containers = prom_answer_has_data(&probe);
    prom_answer_free(&probe);
    int panels = 0, failed = 0;
    int64_t deadline = mono_ms() + 60000;
    for (const char *p = strstr(json.data, "\"expr\""); p; p = strstr(p, "\"expr\"")) {
        p = strchr(p + 6, '"') + 1;
        p = json_unquote(p, &expr);
        grafana_expand(expr.data, &query);
        panels++;
        prom_answer a;
        for (;;) { /* rates over a 1h window need a few samples first */
            panel_query(u, query.data, &a);
            if (prom_answer_has_data(&a) || mono_ms() > deadline || !a.ok)
                break;
            prom_answer_free(&a);
            sleep_ms(1000);
        }
        if (!a.ok) {
            fprintf(stderr, "panel query fails: %s: %s: %s\n", query.data, a.error_type, a.error);
            failed++;
        } else if (!prom_answer_has_data(&a)) {
            if (!containers && strstr(query.data, "container_"))
                fprintf(stderr, "empty as expected (no containers on this host): %s\n", query.data);
            else {
                fprintf(stderr, "panel query returns no data: %s\n", query.data);
                failed++;
            }
        }
        prom_answer_free(&a);
    }
    fprintf(stderr, "%d dashboard panel queries, %d failed\n", panels, failed);
    assert_true(panels >= 40);
    assert_int_equal(failed, 0);
    ebuf_free(&json);
    ebuf_free(&expr);
    ebuf_free(&query);
}

/* SIGTERM to up.sh: it exits 0, and every child it started is gone. */
static void up_stop_and_check(up_run *u)
{
    pid_t kids[MAX_CHILDREN];
    size_t n = up_children(u, kids);
    assert_true(n >= 6);
    int status = harness_stop(u->pid, 30000);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    for (size_t i = 0; i < n; i++)
        if (kill(kids[i], 0) == 0 || errno != ESRCH)
            fail_msg("child %d of up.sh still running after it stopped", (int)kids[i]);
    char lock[600];
    snprintf(lock, sizeof lock, "%s/up.pid", u->data);
    assert_int_equal(access(lock, F_OK), -1);
}

/* rc from up_wait_started: an exit while starting fails, with the log. */
static void fail_if_exited(const char *name, int rc)
{
    if (rc < 0)
        return;
    dump_log(name);
    fail_msg("%s exited with %d while starting", name, rc);
}

static void test_up_brings_the_stack_together(void **state)
{
    up_run u;
    up_start(&u, "up", false);
    int rc = up_wait_started(&u, 60000);
    fail_if_exited("up", rc);
    wait_series(&u, "gpu_utilization_percent", "\"gpu_id\":\"gpu7\"");
    wait_series(&u, "gpu_power_draw_watts", "\"job\":\"gpusim\"");
    wait_series(&u, "training_loss", "\"job\":\"mlsim\"");
    wait_series(&u, "inference_latency_seconds_bucket", "\"le\":\"+Inf\"");
    wait_series(&u, "ml_job_queue_depth", "\"metric\"");
    wait_series(&u, "app_requests_total", "\"status\":\"500\""); /* load with errors */
    wait_series(&u, "app_requests_total", "\"status\":\"200\"");
    wait_series(&u, "app_request_duration_seconds_count", "\"endpoint\":\"/api/test\"");
    wait_series(&u, "node_load1", "\"metric\"");
    wait_series(&u, "node_cpu_seconds_total", "\"mode\":\"idle\"");
    check_dashboard_panels(&u);

    /* A second start while this one runs says so and leaves it alone. */
    char script[512], bin[512];
    snprintf(script, sizeof script, "%s/deploy/local/up.sh", getenv("EMBER_SOURCE_DIR"));
    harness_bin("", bin, sizeof bin);
    char *argv[] = {"/bin/bash", script, bin, NULL};
    ebuf out;
    ebuf_init(&out);
    assert_int_equal(harness_run(argv, &out), 0);
    assert_non_null(strstr(out.data, "already running"));
    ebuf_free(&out);
    up_stop_and_check(&u);
}

static void test_up_services(void **state)
{
    up_run u;
    /* PostgreSQL runs as the postgres user, which must reach its data dir
     * through our (mkdtemp, 0700) temporary directory. */
    assert_int_equal(chmod(harness_tmpdir(), 0711), 0);
    up_start(&u, "up-services", true);
    int rc = up_wait_started(&u, 120000);
    if (rc == UP_EXIT_NO_SERVICES) {
        ebuf log;
        ebuf_init(&log);
        harness_log("up-services", &log);
        const char *why = strstr(log.data ? log.data : "", "--services:");
        fprintf(stderr, "SKIPPED: nginx/redis/postgresql cannot run here: %.*s\n",
                why ? (int)strcspn(why, "\n") : 7, why ? why : "unknown");
        ebuf_free(&log);
        skip();
    }
    fail_if_exited("up-services", rc);
    wait_series(&u, "nginx_connections_active", "\"job\":\"nginx\"");
    wait_series(&u, "nginx_http_requests_total", "\"metric\"");
    wait_series(&u, "redis_up", "\"job\":\"redis\"");
    wait_series(&u, "pg_up", "\"job\":\"postgres\"");
    wait_series(&u, "gpu_utilization_percent", "\"metric\"");
    up_stop_and_check(&u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_up_brings_the_stack_together),
        cmocka_unit_test(test_up_services),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    harness_cleanup();
    return rc;
}
