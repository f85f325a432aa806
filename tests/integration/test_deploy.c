/*
 * test_deploy.c — the deploy/ files checked by real validators, run as
 * processes:
 *
 *  - Dockerfile: hadolint is not in Debian 12, so a structural check of our
 *    own: a multi-stage build, every stage FROM debian:12*, the last one
 *    slim, a non-root USER, a HEALTHCHECK, every ember-* binary copied, and
 *    a .dockerignore that keeps build trees out of the context;
 *  - Compose: `docker-compose config -q` (Debian's docker-compose) on a copy
 *    with ember.env made from ember.env.example, and deploy/validate.js's
 *    policy (published ports, memory limits, restart, no inline password);
 *  - Kubernetes: every manifest against the API's JSON schemas, offline,
 *    through the npm packages kubernetes-models and
 *    @kubernetes-models/prometheus-operator (installed into the test's temp
 *    dir, nothing cached), and kustomization.yaml against the files; a broken
 *    copy must be rejected;
 *  - systemd: `systemd-analyze verify --root=TMP` with the units installed in
 *    a temporary root that holds systemd's own units and stand-ins for
 *    /usr/local/bin/ember-*, so the real paths need not exist on this host;
 *    any warning fails; the example agent config loads in ember-agent;
 *  - Prometheus: `promtool check config` on both examples;
 *  - Grafana: every dashboard query parses with `promtool check rules`, and
 *    every metric name in them has series in a running local stack
 *    (deploy/local/up.sh plus an agent scraping the aggregator's own
 *    /metrics as the compose and k8s agents do).  That the queries return
 *    data needs the full PromQL engine (issue 4): not checked here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/etime.h"
#include "common/fsutil.h"
#include "common/json.h"
#include "query/lexer.h"
#include "tests/integration/harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_NAMES 128

static const char *const BINARIES[] = {"ember-aggregator", "ember-agent",   "ember-gpusim",
                                       "ember-mlsim",      "ember-demoapp", "ember-loadgen"};

/* Metric names the local stack cannot produce, and why. */
static const struct {
    const char *name, *why;
} NOT_HERE[] = {
    {"container_cpu_usage_seconds_total", "the cgroup collector needs cgroup v2"},
    {"container_memory_working_set_bytes", "the cgroup collector needs cgroup v2"},
};

static const char *src_dir(void)
{
    const char *s = getenv("EMBER_SOURCE_DIR");
    return s ? s : ".";
}

static void path_in(char *buf, size_t len, const char *dir, const char *rel)
{
    snprintf(buf, len, "%s/%s", dir, rel);
}

static void read_all(const char *path, ebuf *out)
{
    FILE *f = fopen(path, "r");
    if (!f)
        fail_msg("cannot read %s", path);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        ebuf_append(out, chunk, n);
    ebuf_putc(out, '\0');
    out->len--;
    fclose(f);
}

static void write_all(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

/* Run argv; on a status other than want_ok's, fail with its output. */
static void run_expect(char *const argv[], bool want_ok, ebuf *out)
{
    ebuf_reset(out);
    if (access(argv[0], X_OK) != 0)
        fail_msg("%s is missing: install the TEST_PKGS of ./ember (./ember deps)", argv[0]);
    int rc = harness_run(argv, out);
    if ((rc == 0) != want_ok)
        fail_msg("%s %s exited %d (wanted %s):\n%s", argv[0], argv[1], rc,
                 want_ok ? "success" : "failure", out->data ? out->data : "");
}

/* ---- the npm packages, installed once per run into the temp dir ---- */

static char node_path[512];

static void npm_install(void)
{
    if (node_path[0])
        return;
    char prefix[300], cache[300];
    path_in(prefix, sizeof prefix, harness_tmpdir(), "npm");
    path_in(cache, sizeof cache, harness_tmpdir(), "npm-cache");
    /* Versions that run on Debian 12's node 18 (5.x needs node 22). */
    char *argv[] = {"/usr/bin/npm", "install", "--no-audit", "--no-fund", "--no-save",
                    "--no-package-lock", "--loglevel=error",
                    /* fail in about a minute, not npm's default quarter hour, when
                     * the registry cannot be reached */
                    "--fetch-timeout=30000", "--fetch-retries=1", "--fetch-retry-maxtimeout=10000",
                    "--cache", cache, "--prefix", prefix, "kubernetes-models@4.5.1",
                    "@kubernetes-models/prometheus-operator@4.4.4", "yaml@2", NULL};
    ebuf out;
    ebuf_init(&out);
    run_expect(argv, true, &out);
    ebuf_free(&out);
    snprintf(node_path, sizeof node_path, "%s/node_modules", prefix);
    setenv("NODE_PATH", node_path, 1);
}

/* node deploy/validate.js CMD ARG */
static int validate(const char *cmd, const char *arg, ebuf *out)
{
    npm_install();
    char script[512];
    path_in(script, sizeof script, src_dir(), "deploy/validate.js");
    char *argv[] = {"/usr/bin/node", script, (char *)cmd, (char *)arg, NULL};
    ebuf_reset(out);
    return harness_run(argv, out);
}

/* ---- Dockerfile ---- */

/* The value after "FROM " up to a space, of every FROM line, in order. */
static size_t from_images(const char *df, char images[][64], size_t max)
{
    size_t n = 0;
    for (const char *l = df; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
        if (strncmp(l, "FROM ", 5) == 0 && n < max)
            sscanf(l + 5, "%63s", images[n++]);
    return n;
}

static void test_dockerfile_structure(void **state)
{
    (void)state;
    char path[512];
    ebuf df, ign;
    ebuf_init(&df);
    ebuf_init(&ign);
    path_in(path, sizeof path, src_dir(), "Dockerfile");
    read_all(path, &df);
    char images[8][64];
    size_t n = from_images(df.data, images, 8);
    assert_true(n >= 2); /* multi-stage */
    for (size_t i = 0; i < n; i++)
        if (strncmp(images[i], "debian:12", 9) != 0)
            fail_msg("stage %zu is FROM %s, not debian:12*", i, images[i]);
    assert_string_equal(images[n - 1], "debian:12-slim");

    /* After the last FROM: a non-root USER, a HEALTHCHECK, the binaries. */
    const char *last = df.data;
    for (const char *p = df.data; (p = strstr(p, "\nFROM ")); p++)
        last = p;
    const char *user = strstr(last, "\nUSER ");
    assert_non_null(user);
    char who[64];
    sscanf(user + 6, "%63s", who);
    if (strncmp(who, "root", 4) == 0 || who[0] == '0')
        fail_msg("runtime stage runs as %s", who);
    const char *hc = strstr(last, "\nHEALTHCHECK ");
    assert_non_null(hc);
    assert_non_null(strstr(hc, "CMD"));
    for (size_t i = 0; i < sizeof BINARIES / sizeof BINARIES[0]; i++) {
        char copy[128];
        snprintf(copy, sizeof copy, "/bin/%s /usr/local/bin/%s", BINARIES[i], BINARIES[i]);
        if (!strstr(last, "COPY --from=build") || !strstr(last, copy))
            fail_msg("runtime stage does not copy %s", BINARIES[i]);
    }
    path_in(path, sizeof path, src_dir(), ".dockerignore");
    read_all(path, &ign);
    assert_non_null(strstr(ign.data, "build-*"));
    ebuf_free(&df);
    ebuf_free(&ign);
}

/* ---- Compose ---- */

static void test_compose(void **state)
{
    (void)state;
    /* A copy of deploy/ and the Dockerfile, so that ember.env can be made
     * from the example without touching the tree. */
    char ctx[300], compose[400], env[400], example[400], deploy[400];
    path_in(ctx, sizeof ctx, harness_tmpdir(), "compose-ctx");
    assert_int_equal(fs_mkdir_p(ctx), 0);
    path_in(deploy, sizeof deploy, src_dir(), "deploy");
    char df[400];
    path_in(df, sizeof df, src_dir(), "Dockerfile");
    char *cp[] = {"/bin/cp", "-r", deploy, df, ctx, NULL};
    ebuf out;
    ebuf_init(&out);
    run_expect(cp, true, &out);
    path_in(compose, sizeof compose, ctx, "deploy/compose/docker-compose.yml");
    path_in(env, sizeof env, ctx, "deploy/compose/ember.env");
    path_in(example, sizeof example, ctx, "deploy/compose/ember.env.example");
    unlink(env);

    /* Without ember.env the file does not validate: the passwords come from it. */
    char *config[] = {"/usr/bin/docker-compose", "-f", compose, "config", "-q", NULL};
    run_expect(config, false, &out);
    ebuf ex;
    ebuf_init(&ex);
    read_all(example, &ex);
    write_all(env, ex.data);
    run_expect(config, true, &out);

    path_in(compose, sizeof compose, src_dir(), "deploy/compose/docker-compose.yml");
    if (validate("compose", compose, &out) != 0)
        fail_msg("compose policy:\n%s", out.data);
    ebuf_free(&ex);
    ebuf_free(&out);
}

/* ---- Kubernetes ---- */

static void test_k8s_manifests(void **state)
{
    (void)state;
    char dir[400];
    path_in(dir, sizeof dir, src_dir(), "deploy/k8s");
    ebuf out;
    ebuf_init(&out);
    if (validate("k8s", dir, &out) != 0)
        fail_msg("k8s manifests:\n%s", out.data);
    fprintf(stderr, "%s", out.data);

    /* A copy with a wrong type and a file the kustomization misses fails. */
    char copy[300], bad[400];
    path_in(copy, sizeof copy, harness_tmpdir(), "k8s-bad");
    char *cp[] = {"/bin/cp", "-r", dir, copy, NULL};
    run_expect(cp, true, &out);
    path_in(bad, sizeof bad, copy, "extra.yaml");
    write_all(bad, "apiVersion: v1\nkind: Service\nmetadata: {name: x}\n"
                   "spec: {ports: [{port: \"http\"}]}\n");
    assert_int_not_equal(validate("k8s", copy, &out), 0);
    assert_non_null(strstr(out.data, "does not list extra.yaml"));
    assert_non_null(strstr(out.data, "must be integer"));
    ebuf_free(&out);
}

/* ---- systemd ---- */

static void test_systemd_units(void **state)
{
    (void)state;
    const char *units[] = {"ember-aggregator.service", "ember-agent.service"};
    char root[300], p[600], q[600];
    path_in(root, sizeof root, harness_tmpdir(), "sdroot");
    const char *dirs[] = {"usr/lib/systemd", "usr/local/bin", "usr/bin", "etc/systemd/system"};
    for (size_t i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s/%s", root, dirs[i]);
        assert_int_equal(fs_mkdir_p(p), 0);
    }
    snprintf(p, sizeof p, "%s/bin", root);
    assert_int_equal(symlink("usr/bin", p), 0);
    ebuf out;
    ebuf_init(&out);
    /* systemd's own units (targets the ours are ordered after) and kill. */
    snprintf(p, sizeof p, "%s/usr/lib/systemd/", root);
    char *cp_units[] = {"/bin/cp", "-r", "/usr/lib/systemd/system", p, NULL};
    run_expect(cp_units, true, &out);
    snprintf(p, sizeof p, "%s/usr/bin/", root);
    char *cp_kill[] = {"/bin/cp", "/usr/bin/kill", p, NULL};
    run_expect(cp_kill, true, &out);
    for (size_t i = 0; i < sizeof BINARIES / sizeof BINARIES[0]; i++) {
        snprintf(p, sizeof p, "%s/usr/local/bin/%s", root, BINARIES[i]);
        write_all(p, "#!/bin/sh\n");
        assert_int_equal(chmod(p, 0755), 0);
    }
    for (size_t i = 0; i < 2; i++) {
        snprintf(p, sizeof p, "%s/deploy/systemd/%s", src_dir(), units[i]);
        snprintf(q, sizeof q, "%s/etc/systemd/system/", root);
        char *cp[] = {"/bin/cp", p, q, NULL};
        run_expect(cp, true, &out);
    }
    char rootopt[320];
    snprintf(rootopt, sizeof rootopt, "--root=%s", root);
    char *verify[] = {"/usr/bin/systemd-analyze", "verify",         rootopt,
                      (char *)units[0],           (char *)units[1], NULL};
    run_expect(verify, true, &out);
    if (out.len > 0) /* unknown keys and bad values are only warnings */
        fail_msg("systemd-analyze verify warns:\n%s", out.data);

    /* The example agent config loads in the real agent. */
    char agent[512], conf[600], data[400];
    harness_bin("ember-agent", agent, sizeof agent);
    snprintf(conf, sizeof conf, "%s/deploy/systemd/agent.yml.example", src_dir());
    path_in(data, sizeof data, harness_tmpdir(), "agent-example");
    char *once[] = {agent, "--config", conf, "--data-dir", data, "--once", NULL};
    run_expect(once, true, &out);
    assert_non_null(strstr(out.data, "cluster=\"prod\""));
    ebuf_free(&out);
}

/* ---- Prometheus ---- */

static void test_prometheus_configs(void **state)
{
    (void)state;
    const char *files[] = {"federation.yml", "remote-write-receiver.yml"};
    ebuf out;
    ebuf_init(&out);
    for (size_t i = 0; i < 2; i++) {
        char p[512];
        snprintf(p, sizeof p, "%s/deploy/prometheus/%s", src_dir(), files[i]);
        char *argv[] = {"/usr/bin/promtool", "check", "config", p, NULL};
        run_expect(argv, true, &out);
    }
    ebuf_free(&out);
}

/* ---- Grafana dashboard ---- */

/* Grafana's interval variables are not PromQL: give them a duration. */
static void substitute_intervals(const char *expr, ebuf *out)
{
    const char *var = "$__rate_interval";
    for (const char *p = expr; *p;) {
        if (strncmp(p, var, strlen(var)) == 0) {
            ebuf_puts(out, "5m");
            p += strlen(var);
        } else {
            ebuf_putc(out, *p++);
        }
    }
}

static bool grouping_keyword(promql_token_type t)
{
    return t == PQ_BY || t == PQ_WITHOUT || t == PQ_ON || t == PQ_IGNORING || t == PQ_GROUP_LEFT ||
           t == PQ_GROUP_RIGHT;
}

static void add_name(char names[][128], size_t *n, const char *s, size_t len)
{
    for (size_t i = 0; i < *n; i++)
        if (strlen(names[i]) == len && strncmp(names[i], s, len) == 0)
            return;
    if (*n < MAX_NAMES && len < 128) {
        memcpy(names[*n], s, len);
        names[(*n)++][len] = '\0';
    }
}

/* The metric names of one query, with Ember's PromQL lexer: identifiers
 * outside braces and grouping lists that are not function calls. */
static void metric_names(const char *expr, char names[][128], size_t *n)
{
    promql_lexer l;
    promql_lexer_init(&l, expr, strlen(expr));
    promql_token tok, next;
    promql_lexer_next(&l, &tok);
    int braces = 0, skip_parens = 0;
    bool grouping = false;
    while (tok.type != PQ_EOF) {
        if (tok.type == PQ_ERROR)
            fail_msg("lexing %s: %s", expr, tok.err);
        promql_lexer_next(&l, &next);
        if (tok.type == PQ_LEFT_BRACE)
            braces++;
        else if (tok.type == PQ_RIGHT_BRACE)
            braces--;
        else if (grouping_keyword(tok.type))
            grouping = true;
        else if (tok.type == PQ_LEFT_PAREN && grouping)
            skip_parens++, grouping = false;
        else if (tok.type == PQ_RIGHT_PAREN && skip_parens)
            skip_parens--;
        else if ((tok.type == PQ_IDENTIFIER || tok.type == PQ_METRIC_IDENTIFIER) && !braces &&
                 !skip_parens && next.type != PQ_LEFT_PAREN)
            add_name(names, n, expr + tok.pos, tok.len);
        tok = next;
    }
}

/* Every query through promtool check rules, as recording rules. */
static void check_promql_syntax(const char *exprs)
{
    ebuf rules, expr, out;
    ebuf_init(&rules);
    ebuf_init(&expr);
    ebuf_init(&out);
    ebuf_puts(&rules, "groups:\n  - name: dashboard\n    rules:\n");
    int i = 0;
    for (const char *l = exprs; *l; i++) {
        size_t len = strcspn(l, "\n");
        char *line = strndup(l, len);
        ebuf_reset(&expr);
        substitute_intervals(line, &expr);
        ebuf_putc(&expr, '\0');
        ebuf_printf(&rules, "      - record: dashboard:query_%d\n        expr: ", i);
        json_string(&rules, expr.data); /* a JSON string is a YAML scalar */
        ebuf_putc(&rules, '\n');
        free(line);
        l += len + (l[len] == '\n');
    }
    ebuf_putc(&rules, '\0');
    char path[400];
    path_in(path, sizeof path, harness_tmpdir(), "dashboard-rules.yml");
    write_all(path, rules.data);
    char *argv[] = {"/usr/bin/promtool", "check", "rules", path, NULL};
    run_expect(argv, true, &out);
    fprintf(stderr, "promtool: %d dashboard queries parse\n", i);
    ebuf_free(&rules);
    ebuf_free(&expr);
    ebuf_free(&out);
}

/* deploy/local/up.sh on free ports, plus an agent scraping the aggregator's
 * own /metrics (job ember-aggregator) as in compose and k8s. */
static pid_t start_stack(unsigned *api, pid_t *self_agent)
{
    /* Fresh loopback ports in the environment up.sh inherits. */
    unsigned ingest, unused;
    struct {
        const char *var;
        unsigned *port;
    } ports[] = {{"EMBER_API_PORT", api},
                 {"EMBER_INGEST_PORT", &ingest},
                 {"EMBER_GPUSIM_PORT", &unused},
                 {"EMBER_MLSIM_PORT", &unused},
                 {"EMBER_DEMOAPP_PORT", &unused}};
    for (size_t i = 0; i < sizeof ports / sizeof ports[0]; i++) {
        char v[16];
        *ports[i].port = harness_free_port();
        snprintf(v, sizeof v, "%u", *ports[i].port);
        setenv(ports[i].var, v, 1);
    }
    char data[400], script[512], bin[512];
    path_in(data, sizeof data, harness_tmpdir(), "stack");
    setenv("EMBER_DATA_DIR", data, 1);
    setenv("EMBER_INTERVAL", "1s", 1);
    setenv("EMBER_LOADGEN_INTERVAL", "100ms", 1);
    path_in(script, sizeof script, src_dir(), "deploy/local/up.sh");
    harness_bin("", bin, sizeof bin);
    char *up[] = {"/bin/bash", script, bin, NULL};
    pid_t pid = harness_spawn("up", up);
    assert_true(pid > 0);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/-/ready", *api);
    assert_true(harness_wait_http(url, 60000));

    char agent[512], agg[64], scrape[128], spool[400];
    harness_bin("ember-agent", agent, sizeof agent);
    snprintf(agg, sizeof agg, "tcp://127.0.0.1:%u", ingest);
    snprintf(scrape, sizeof scrape, "ember-aggregator=http://127.0.0.1:%u/metrics", *api);
    path_in(spool, sizeof spool, harness_tmpdir(), "self-agent");
    char *argv[] = {agent, "--aggregator", agg,          "--scrape",   scrape, "--interval",
                    "1s",  "--instance",   "aggregator", "--data-dir", spool,  NULL};
    *self_agent = harness_spawn("self-agent", argv);
    return pid;
}

static bool has_series(unsigned api, const char *name)
{
    char url[300];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/api/v1/query?query=%s", api, name);
    ebuf body;
    ebuf_init(&body);
    bool ok = harness_http(url, NULL, &body) == 200 && strstr(body.data, "\"__name__\"");
    ebuf_free(&body);
    return ok;
}

static const char *not_here(const char *name)
{
    if (access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0)
        return NULL; /* cgroup v2: the container metrics must be there too */
    for (size_t i = 0; i < sizeof NOT_HERE / sizeof NOT_HERE[0]; i++)
        if (strcmp(NOT_HERE[i].name, name) == 0)
            return NOT_HERE[i].why;
    return NULL;
}

static void test_dashboard(void **state)
{
    (void)state;
    char dash[512];
    path_in(dash, sizeof dash, src_dir(), "deploy/grafana/dashboards/gpu-infrastructure.json");
    ebuf exprs;
    ebuf_init(&exprs);
    if (validate("exprs", dash, &exprs) != 0)
        fail_msg("dashboard:\n%s", exprs.data);
    ebuf_putc(&exprs, '\0');
    check_promql_syntax(exprs.data);

    static char names[MAX_NAMES][128];
    size_t n = 0;
    ebuf expr;
    ebuf_init(&expr);
    for (char *l = exprs.data; *l;) {
        size_t len = strcspn(l, "\n");
        char save = l[len];
        l[len] = '\0';
        ebuf_reset(&expr);
        substitute_intervals(l, &expr);
        ebuf_putc(&expr, '\0');
        metric_names(expr.data, names, &n);
        l[len] = save;
        l += len + (save == '\n');
    }
    ebuf_free(&expr);
    assert_true(n >= 30);

    unsigned api;
    pid_t self_agent;
    pid_t up = start_stack(&api, &self_agent);
    int64_t deadline = mono_ms() + 40000;
    for (size_t i = 0; i < n; i++) {
        const char *why = not_here(names[i]);
        if (why) {
            fprintf(stderr, "not checked: %s (%s)\n", names[i], why);
            continue;
        }
        while (!has_series(api, names[i])) {
            if (mono_ms() > deadline)
                fail_msg("no series for %s, used by the dashboard", names[i]);
            sleep_ms(250);
        }
    }
    fprintf(stderr, "%zu dashboard metric names checked against the stack\n", n);
    harness_stop(self_agent, 10000);
    int status = harness_stop(up, 30000);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ebuf_free(&exprs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dockerfile_structure), cmocka_unit_test(test_compose),
        cmocka_unit_test(test_k8s_manifests),        cmocka_unit_test(test_systemd_units),
        cmocka_unit_test(test_prometheus_configs),   cmocka_unit_test(test_dashboard),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    harness_cleanup();
    return rc;
}
