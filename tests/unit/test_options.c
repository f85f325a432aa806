/*
 * test_options.c — the settings contract every binary relies on: defaults,
 * the YAML config file and flags (in that order of precedence), every kind,
 * --help/--version, parse_bytes, and each error message with its exact
 * file:line:column.
 *
 * Each test gets a fresh mkdtemp directory for config files and paths, and
 * removes it afterwards.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/options.h"
#include "common/fsutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KiB 1024LL
#define MiB (1024 * KiB)
#define GiB (1024 * MiB)

static struct cfg {
    int64_t interval, workers, max_size, retention;
    bool debug, color;
    char *title, *spool_dir, *ca_file;
    strlist scrape, exclude;
    labelset labels;
} c;

static const opt_spec specs[] = {
    {"interval", OPT_DURATION, &c.interval, "15s", "collection interval", "DUR"},
    {"workers", OPT_INT, &c.workers, "4", "worker threads", NULL},
    {"spool.max_size", OPT_BYTES, &c.max_size, "512MiB", "spool bound", NULL},
    {"spool.dir", OPT_DIR, &c.spool_dir, NULL, "spool directory", NULL},
    {"debug", OPT_BOOL, &c.debug, "false", "debug logging", NULL},
    {"color", OPT_BOOL, &c.color, "true", "colored output", NULL},
    {"web.title", OPT_STRING, &c.title, "Ember", "page title", NULL},
    {"tls.ca_file", OPT_FILE, &c.ca_file, NULL, "CA bundle", NULL},
    {"scrape", OPT_STRLIST, &c.scrape, NULL, "URL to scrape (repeatable)", "URL"},
    {"collector.exclude", OPT_STRLIST, &c.exclude, "lo", "devices to skip", "DEV"},
    {"labels", OPT_LABELS, &c.labels, NULL, "static label (repeatable)", NULL},
    {"storage.tsdb.retention", OPT_DURATION, &c.retention, "30d", "how long to keep", NULL},
};
#define NSPECS (sizeof specs / sizeof specs[0])

static const opt_program prog = {"ember-test", "1.2.3", "Ember options test program"};

static char tmp[64];      /* this test's scratch directory */
static char cfgpath[128]; /* tmp/c.yml */
static char err[512];

/* ---- fixtures ---------------------------------------------------------- */

static int setup(void **state)
{
    (void)state;
    snprintf(tmp, sizeof tmp, "/tmp/ember-opts-XXXXXX");
    if (mkdtemp(tmp) == NULL)
        return -1;
    snprintf(cfgpath, sizeof cfgpath, "%s/c.yml", tmp);
    err[0] = '\0';
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    opts_free(specs, NSPECS);
    fs_rmtree(tmp);
    return 0;
}

/* tmp/name, in one of a few rotating static buffers. */
static const char *in_tmp(const char *name)
{
    static char bufs[4][192];
    static int next;
    char *b = bufs[next++ % 4];
    snprintf(b, sizeof bufs[0], "%s/%s", tmp, name);
    return b;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void write_config(const char *yaml)
{
    write_file(cfgpath, yaml);
}

/* opts_load with "ember-test" and the NULL-terminated flags, into err. */
static int vload(const opt_spec *sp, size_t n, va_list ap)
{
    char *argv[32];
    int argc = 0;
    argv[argc++] = (char *)"ember-test";
    const char *a;
    while ((a = va_arg(ap, const char *)) != NULL && argc < 31)
        argv[argc++] = (char *)a;
    argv[argc] = NULL;
    opts_free(sp, n);
    return opts_load(&prog, sp, n, argc, argv, err, sizeof err);
}

static int load(const char *first, ...)
{
    va_list ap;
    va_start(ap, first);
    char *argv[32];
    int argc = 0;
    argv[argc++] = (char *)"ember-test";
    for (const char *a = first; a != NULL && argc < 31; a = va_arg(ap, const char *))
        argv[argc++] = (char *)a;
    argv[argc] = NULL;
    va_end(ap);
    opts_free(specs, NSPECS);
    return opts_load(&prog, specs, NSPECS, argc, argv, err, sizeof err);
}

#define LOAD(...) load(__VA_ARGS__, (const char *)NULL)
#define LOAD_NONE() load((const char *)NULL)

/* Load the config (plus flags) and expect OPTS_ERROR with this message. */
static void expect_error(const char *want)
{
    if (strcmp(err, want) != 0)
        fail_msg("error is\n  %s\nwant\n  %s", err, want);
}

/* The config error "c.yml:LINE:COL: reason" with the real path. */
static void expect_config_error(int line, int col, const char *reason)
{
    char want[1024];
    snprintf(want, sizeof want, "%s:%d:%d: %s", cfgpath, line, col, reason);
    expect_error(want);
}

static void config_fails(const char *yaml, int line, int col, const char *reason)
{
    write_config(yaml);
    assert_int_equal(LOAD("--config", cfgpath), OPTS_ERROR);
    expect_config_error(line, col, reason);
}

static void flags_fail(const char *want, ...)
{
    va_list ap;
    va_start(ap, want);
    int rc = vload(specs, NSPECS, ap);
    va_end(ap);
    assert_int_equal(rc, OPTS_ERROR);
    expect_error(want);
}
#define FLAGS_FAIL(want, ...) flags_fail(want, __VA_ARGS__, (const char *)NULL)

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Run a load with stdout redirected to a file; returns what was printed. */
static const char *load_capturing_stdout(int *rc, const char *first, const char *second)
{
    static char out[4096];
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    FILE *f = tmpfile();
    assert_non_null(f);
    dup2(fileno(f), STDOUT_FILENO);
    *rc = second ? LOAD(first, second) : LOAD(first);
    fflush(stdout);
    dup2(saved, STDOUT_FILENO);
    close(saved);
    rewind(f);
    size_t n = fread(out, 1, sizeof out - 1, f);
    out[n] = '\0';
    fclose(f);
    return out;
}

/* ---- layers ------------------------------------------------------------ */

static void test_defaults(void **state)
{
    (void)state;
    assert_int_equal(LOAD_NONE(), OPTS_OK);
    assert_string_equal(err, "");
    assert_int_equal(c.interval, 15000);
    assert_int_equal(c.workers, 4);
    assert_int_equal(c.max_size, 512 * MiB);
    assert_false(c.debug);
    assert_true(c.color);
    assert_string_equal(c.title, "Ember");
    assert_null(c.spool_dir);
    assert_null(c.ca_file);
    assert_int_equal(c.scrape.n, 0);
    assert_int_equal(c.exclude.n, 1);
    assert_string_equal(c.exclude.v[0], "lo");
    assert_int_equal(c.labels.n, 0);
    assert_int_equal(c.retention, 30 * 86400000LL);
}

static void test_precedence(void **state)
{
    (void)state;
    write_config("interval: 30s\nworkers: 8\nweb:\n  title: from config\n");
    assert_int_equal(LOAD("--interval", "1m", "--config", cfgpath), OPTS_OK);
    assert_int_equal(c.interval, 60000); /* flag beats config */
    assert_int_equal(c.workers, 8);      /* config beats default */
    assert_string_equal(c.title, "from config");
    assert_int_equal(c.max_size, 512 * MiB); /* default */
    char arg[160];
    snprintf(arg, sizeof arg, "--config=%s", cfgpath);
    assert_int_equal(LOAD(arg, "--web.title=flag"), OPTS_OK);
    assert_int_equal(c.interval, 30000);
    assert_string_equal(c.title, "flag");
}

static void test_flag_forms(void **state)
{
    (void)state;
    assert_int_equal(LOAD("--workers", "-3", "--spool.max_size=1GB", "--web.title="), OPTS_OK);
    assert_int_equal(c.workers, -3);
    assert_int_equal(c.max_size, GiB);
    assert_string_equal(c.title, "");
    /* A repeated scalar flag: the last one wins. */
    assert_int_equal(LOAD("--interval=1s", "--interval", "2s"), OPTS_OK);
    assert_int_equal(c.interval, 2000);
}

static void test_bool_forms(void **state)
{
    (void)state;
    assert_int_equal(LOAD("--debug", "--no-color"), OPTS_OK);
    assert_true(c.debug);
    assert_false(c.color);
    assert_int_equal(LOAD("--debug=true", "--color=false"), OPTS_OK);
    assert_true(c.debug);
    assert_false(c.color);
    assert_int_equal(LOAD("--debug=1", "--debug=false"), OPTS_OK);
    assert_false(c.debug);
    write_config("debug: true\ncolor: false\n");
    assert_int_equal(LOAD("--config", cfgpath), OPTS_OK);
    assert_true(c.debug);
    assert_false(c.color);
    assert_int_equal(LOAD("--config", cfgpath, "--no-debug", "--color"), OPTS_OK);
    assert_false(c.debug);
    assert_true(c.color);
}

static void test_bool_errors(void **state)
{
    (void)state;
    FLAGS_FAIL("--debug: bad boolean \"yes\"", "--debug=yes");
    FLAGS_FAIL("--no-debug: takes no value", "--no-debug=true");
    FLAGS_FAIL("unexpected argument \"false\"", "--debug", "false");
    FLAGS_FAIL("unknown flag --no-interval", "--no-interval");
    config_fails("debug: yes\n", 1, 8, "debug: expected true or false, got \"yes\"");
}

static void test_nested_keys(void **state)
{
    (void)state;
    write_config("storage:\n  tsdb:\n    retention: 90d\nspool:\n  max_size: 1GiB\n");
    assert_int_equal(LOAD("--config", cfgpath), OPTS_OK);
    assert_int_equal(c.retention, 90 * 86400000LL);
    assert_int_equal(c.max_size, GiB);
    /* Dotted keys name the same settings, at any level. */
    write_config("storage.tsdb.retention: 1d\nstorage:\n  tsdb.x: 1\n");
    assert_int_equal(LOAD("--config", cfgpath), OPTS_ERROR);
    expect_config_error(3, 3, "unknown key \"storage.tsdb.x\"");
    write_config("storage:\n  tsdb.retention: 2d\nspool: {max_size: 4096}\n");
    assert_int_equal(LOAD("--config", cfgpath), OPTS_OK);
    assert_int_equal(c.retention, 2 * 86400000LL);
    assert_int_equal(c.max_size, 4096);
    /* A map of settings left empty sets nothing. */
    write_config("storage:\nspool: ~\n");
    assert_int_equal(LOAD("--config", cfgpath), OPTS_OK);
    assert_int_equal(c.retention, 30 * 86400000LL);
}

static void test_empty_config(void **state)
{
    (void)state;
    write_config("");
    assert_int_equal(LOAD("--config", cfgpath), OPTS_OK);
    assert_int_equal(c.interval, 15000);
    write_config("# only a comment\n---\n");
    assert_int_equal(LOAD("--config", cfgpath), OPTS_OK);
    assert_int_equal(c.workers, 4);
}

/* ---- lists and labels -------------------------------------------------- */

static void test_strlist(void **state)
{
    (void)state;
    write_config("scrape:\n  - http://a:9100/metrics\n  - http://b:9100/metrics\n"
                 "collector:\n  exclude: eth0\n");
    assert_int_equal(LOAD("--config", cfgpath), OPTS_OK);
    assert_int_equal(c.scrape.n, 2);
    assert_string_equal(c.scrape.v[0], "http://a:9100/metrics");
    assert_string_equal(c.scrape.v[1], "http://b:9100/metrics");
    assert_int_equal(c.exclude.n, 1); /* one scalar is a list of one, replacing "lo" */
    assert_string_equal(c.exclude.v[0], "eth0");
    /* The first flag replaces the config's list; later ones add to it. */
    assert_int_equal(LOAD("--config", cfgpath, "--scrape", "x", "--scrape=y"), OPTS_OK);
    assert_int_equal(c.scrape.n, 2);
    assert_string_equal(c.scrape.v[0], "x");
    assert_string_equal(c.scrape.v[1], "y");
    assert_int_equal(LOAD("--collector.exclude", "a", "--collector.exclude", "b"), OPTS_OK);
    assert_int_equal(c.exclude.n, 2);
    assert_string_equal(c.exclude.v[0], "a");
    /* An empty value or [] empties the list, default included. */
    write_config("collector:\n  exclude:\nscrape: []\n");
    assert_int_equal(LOAD("--config", cfgpath), OPTS_OK);
    assert_int_equal(c.exclude.n, 0);
    assert_int_equal(c.scrape.n, 0);
}

static void test_strlist_errors(void **state)
{
    (void)state;
    config_fails("scrape: {a: 1}\n", 1, 9,
                 "scrape: expected a string or a list of strings, got a mapping");
    config_fails("scrape:\n  - a\n  - [b]\n", 3, 5, "scrape: expected a string, got a sequence");
    config_fails("scrape:\n  - a\n  -\n", 3, 4, "scrape: expected a string, got an empty value");
    FLAGS_FAIL("--scrape: missing value", "--scrape");
}

static void test_labels(void **state)
{
    (void)state;
    write_config("labels:\n  role: gpu\n  cluster: \"a b\"\n  rack: 12\n");
    assert_int_equal(LOAD("--config", cfgpath), OPTS_OK);
    assert_int_equal(c.labels.n, 3);
    /* Sorted, as label sets must be. */
    assert_string_equal(c.labels.v[0].name, "cluster");
    assert_string_equal(c.labels.v[0].value, "a b");
    assert_string_equal(c.labels.v[1].name, "rack");
    assert_string_equal(c.labels.v[1].value, "12");
    assert_string_equal(c.labels.v[2].name, "role");
    /* Flags replace the config's labels; the same name twice: last wins. */
    assert_int_equal(LOAD("--config", cfgpath, "--labels", "zone=z=1", "--labels=role=cpu",
                          "--labels", "role=gpu2"),
                     OPTS_OK);
    assert_int_equal(c.labels.n, 2);
    assert_string_equal(c.labels.v[0].name, "role");
    assert_string_equal(c.labels.v[0].value, "gpu2");
    assert_string_equal(c.labels.v[1].name, "zone");
    assert_string_equal(c.labels.v[1].value, "z=1");
    write_config("labels:\n");
    assert_int_equal(LOAD("--config", cfgpath), OPTS_OK);
    assert_int_equal(c.labels.n, 0);
}

static void test_labels_errors(void **state)
{
    (void)state;
    FLAGS_FAIL("--labels: bad label \"role\" (want name=value)", "--labels", "role");
    FLAGS_FAIL("--labels: invalid label name \"1a\"", "--labels", "1a=x");
    FLAGS_FAIL("--labels: invalid label name \"\"", "--labels", "=x");
    FLAGS_FAIL("--labels: label value is not valid UTF-8", "--labels", "a=\xff");
    config_fails("labels: [a, b]\n", 1, 9,
                 "labels: expected a map of label names to values, got a sequence");
    config_fails("labels:\n  ok: 1\n  1a: x\n", 3, 3, "labels: invalid label name \"1a\"");
    config_fails("labels:\n  a-b: x\n", 2, 3, "labels: invalid label name \"a-b\"");
    config_fails("labels:\n  role: [a]\n", 2, 9,
                 "labels.role: expected a label value, got a sequence");
    config_fails("labels:\n  role:\n", 2, 8,
                 "labels.role: expected a label value, got an empty value");
    config_fails("labels:\n  b: 1\n  a: 2\n  b: 3\n", 4, 3, "duplicate key \"labels.b\"");
    config_fails("labels: x\n", 1, 9, "labels: expected a map of label names to values, got \"x\"");
}

/* ---- config errors ----------------------------------------------------- */

static void test_unknown_keys(void **state)
{
    (void)state;
    config_fails("interval: 15s\nworkers: 2\n\nintervall: 1s\n", 4, 1, "unknown key \"intervall\"");
    config_fails("spool:\n  max_size: 1k\n  dri: /x\n", 3, 3, "unknown key \"spool.dri\"");
    config_fails("storage:\n  tsdb:\n    retention: 1d\n    path: /x\n", 4, 5,
                 "unknown key \"storage.tsdb.path\"");
    config_fails("storage:\n  tdsb:\n    retention: 1d\n", 2, 3, "unknown key \"storage.tdsb\"");
    config_fails("config: x.yml\n", 1, 1, "unknown key \"config\"");
    config_fails("labels.role: x\n", 1, 1, "unknown key \"labels.role\"");
}

static void test_wrong_kinds(void **state)
{
    (void)state;
    config_fails("interval: 15x\n", 1, 11, "interval: expected a duration like 15s, got \"15x\"");
    config_fails("interval: 15\n", 1, 11, "interval: expected a duration like 15s, got \"15\"");
    config_fails("workers: four\n", 1, 10, "workers: expected an integer, got \"four\"");
    config_fails("workers: 1.5\n", 1, 10, "workers: expected an integer, got \"1.5\"");
    config_fails("spool:\n  max_size: 12XB\n", 2, 13,
                 "spool.max_size: expected a size like 512MiB, got \"12XB\"");
    config_fails("web:\n  title:\n    x: 1\n", 3, 5, "web.title: expected a string, got a mapping");
    config_fails("spool: /var/spool\n", 1, 8, "spool: expected a mapping, got \"/var/spool\"");
    config_fails("spool: [a]\n", 1, 8, "spool: expected a mapping, got a sequence");
    config_fails("interval:\n", 1, 10,
                 "interval: expected a duration like 15s, got an empty value");
    config_fails("tls:\n  ca_file: {a: b}\n", 2, 12,
                 "tls.ca_file: expected a file path, got a mapping");
    config_fails("- interval: 1s\n", 1, 1,
                 "top level: expected a mapping of settings, got a sequence");
    config_fails("just text\n", 1, 1,
                 "top level: expected a mapping of settings, got \"just text\"");
}

static void test_sequence_where_scalar_expected(void **state)
{
    (void)state;
    config_fails("interval: [1s, 2s]\n", 1, 11,
                 "interval: expected a duration like 15s, got a sequence");
    config_fails("web:\n  title:\n    - a\n    - b\n", 3, 5,
                 "web.title: expected a string, got a sequence");
    config_fails("debug:\n  - true\n", 2, 3, "debug: expected true or false, got a sequence");
}

static void test_duplicate_keys(void **state)
{
    (void)state;
    config_fails("interval: 1s\nworkers: 2\ninterval: 2s\n", 3, 1, "duplicate key \"interval\"");
    config_fails("spool:\n  dir: /a\n  dir: /b\n", 3, 3, "duplicate key \"spool.dir\"");
    /* The same setting spelled flat and nested. */
    config_fails("spool:\n  max_size: 1k\nspool.max_size: 2k\n", 3, 1,
                 "duplicate key \"spool.max_size\"");
    config_fails("spool:\n  max_size: 1k\nspool:\n  dir: /x\n", 3, 1, "duplicate key \"spool\"");
}

static void test_syntax_errors(void **state)
{
    (void)state;
    config_fails("interval: 1s\n  workers: 2\n", 2, 10,
                 "YAML syntax error: mapping values are not allowed in this context");
    config_fails("scrape: [a, b\n", 2, 1,
                 "YAML syntax error: did not find expected ',' or ']' "
                 "(while parsing a flow sequence at 1:9)");
    config_fails("web:\n  title: \"unterminated\n", 3, 1,
                 "YAML syntax error: found unexpected end of stream "
                 "(while scanning a quoted scalar at 2:10)");
    config_fails("interval: *nope\n", 1, 11, "YAML syntax error: found undefined alias");
    config_fails("\tinterval: 1s\n", 1, 1,
                 "YAML syntax error: found character that cannot start any token "
                 "(while scanning for the next token at 1:1)");
    config_fails("workers: 1\nweb:\n  title: \"\xff\"\n", 3, 11,
                 "YAML syntax error: invalid leading UTF-8 octet");
    config_fails("workers: 1\n---\nworkers: 2\n", 3, 1,
                 "expected one YAML document, found another");
    config_fails("? [a]\n: b\n", 1, 3, "expected a setting name as key, got a sequence");
}

static void test_config_file_errors(void **state)
{
    (void)state;
    char want[256];
    const char *missing = in_tmp("nope.yml");
    snprintf(want, sizeof want, "cannot read %s: No such file or directory", missing);
    FLAGS_FAIL(want, "--config", missing);
    snprintf(want, sizeof want, "cannot read %s: Is a directory", tmp);
    FLAGS_FAIL(want, "--config", tmp);
    FLAGS_FAIL("--config: missing value", "--config");
    FLAGS_FAIL("--config: missing value", "--config", "--debug");
}

/* ---- flag errors ------------------------------------------------------- */

static void test_flag_errors(void **state)
{
    (void)state;
    FLAGS_FAIL("unknown flag --foo", "--foo");
    FLAGS_FAIL("unknown flag --foo", "--foo=bar");
    FLAGS_FAIL("unknown flag --spool", "--spool", "x");
    FLAGS_FAIL("--interval: bad duration \"15x\"", "--interval", "15x");
    FLAGS_FAIL("--interval: bad duration \"\"", "--interval=");
    FLAGS_FAIL("--workers: bad integer \"4x\"", "--workers=4x");
    FLAGS_FAIL("--workers: bad integer \"99999999999999999999\"", "--workers=99999999999999999999");
    FLAGS_FAIL("--spool.max_size: bad size \"1.5\"", "--spool.max_size", "1.5");
    FLAGS_FAIL("--interval: missing value", "--interval");
    FLAGS_FAIL("--interval: missing value", "--interval", "--debug");
    FLAGS_FAIL("unexpected argument \"extra\"", "--debug", "extra");
    FLAGS_FAIL("unexpected argument \"--\"", "--", "x");
    FLAGS_FAIL("unexpected argument \"-\"", "-");
    FLAGS_FAIL("unknown flag -v (flags start with --)", "-v");
    FLAGS_FAIL("--help: takes no value", "--help=1");
    FLAGS_FAIL("--version: takes no value", "--version=x");
    /* The first bad flag is the one reported. */
    FLAGS_FAIL("unknown flag --a", "--a", "--b");
    FLAGS_FAIL("--workers: bad integer \"x\"", "--workers", "x", "--interval", "y");
}

/* Flag values are checked only after the config loaded: config errors first. */
static void test_error_order(void **state)
{
    (void)state;
    write_config("workers: x\n");
    assert_int_equal(LOAD("--interval", "bad", "--config", cfgpath), OPTS_ERROR);
    expect_config_error(1, 10, "workers: expected an integer, got \"x\"");
    /* A malformed command line is reported before the file is even read. */
    assert_int_equal(LOAD("--bogus", "--config", cfgpath), OPTS_ERROR);
    expect_error("unknown flag --bogus");
}

/* ---- directories and files --------------------------------------------- */

static void test_dir_created(void **state)
{
    (void)state;
    const char *deep = in_tmp("a/b/c");
    assert_int_equal(LOAD("--spool.dir", deep), OPTS_OK);
    assert_true(is_dir(deep));
    assert_string_equal(c.spool_dir, deep);
    write_config("spool:\n  dir: ");
    FILE *f = fopen(cfgpath, "a");
    fprintf(f, "%s/x/y/\n", tmp);
    fclose(f);
    assert_int_equal(LOAD("--config", cfgpath), OPTS_OK);
    assert_true(is_dir(in_tmp("x/y")));
    assert_int_equal(LOAD("--spool.dir", deep), OPTS_OK); /* existing is fine */
}

static void test_dir_errors(void **state)
{
    (void)state;
    write_file(in_tmp("file"), "x");
    const char *bad = in_tmp("file/sub");
    char want[512];
    snprintf(want, sizeof want, "--spool.dir: cannot create directory \"%s\": Not a directory",
             bad);
    FLAGS_FAIL(want, "--spool.dir", bad);
    snprintf(want, sizeof want, "--spool.dir: cannot create directory \"%s\": Not a directory",
             in_tmp("file"));
    FLAGS_FAIL(want, "--spool.dir", in_tmp("file"));
    FLAGS_FAIL("--spool.dir: cannot create directory \"\": No such file or directory",
               "--spool.dir=");
    /* From the config file: the error points at the value. */
    char yaml[256], reason[384];
    snprintf(yaml, sizeof yaml, "workers: 2\nspool:\n  dir: %s\n", bad);
    snprintf(reason, sizeof reason, "spool.dir: cannot create directory \"%s\": Not a directory",
             bad);
    config_fails(yaml, 3, 8, reason);
    /* ...unless a flag overrides it: only the final value is checked. */
    assert_int_equal(LOAD("--config", cfgpath, "--spool.dir", in_tmp("ok")), OPTS_OK);
    assert_true(is_dir(in_tmp("ok")));
}

/* A default directory that the config or a flag overrides is never created. */
static void test_dir_default_only_when_used(void **state)
{
    (void)state;
    static char def[192];
    static char *dir;
    snprintf(def, sizeof def, "%s/default", tmp);
    const opt_spec dspecs[] = {{"data.dir", OPT_DIR, &dir, def, "data", NULL}};
    char *argv[] = {(char *)"t", (char *)"--data.dir", (char *)in_tmp("flag"), NULL};
    assert_int_equal(opts_load(&prog, dspecs, 1, 3, argv, err, sizeof err), OPTS_OK);
    assert_false(is_dir(def));
    assert_true(is_dir(in_tmp("flag")));
    opts_free(dspecs, 1);
    assert_int_equal(opts_load(&prog, dspecs, 1, 1, argv, err, sizeof err), OPTS_OK);
    assert_true(is_dir(def));
    opts_free(dspecs, 1);
    write_file(in_tmp("blocker"), "");
    snprintf(def, sizeof def, "%s/blocker/d", tmp);
    assert_int_equal(opts_load(&prog, dspecs, 1, 1, argv, err, sizeof err), OPTS_ERROR);
    char want[512];
    snprintf(want, sizeof want,
             "default of --data.dir: cannot create directory \"%s\": Not a directory", def);
    expect_error(want);
    opts_free(dspecs, 1);
}

static void test_file_checks(void **state)
{
    (void)state;
    const char *ca = in_tmp("ca.pem");
    write_file(ca, "pem");
    assert_int_equal(LOAD("--tls.ca_file", ca), OPTS_OK);
    assert_string_equal(c.ca_file, ca);
    char want[512];
    const char *missing = in_tmp("missing.pem");
    snprintf(want, sizeof want, "--tls.ca_file: cannot read file \"%s\": No such file or directory",
             missing);
    FLAGS_FAIL(want, "--tls.ca_file", missing);
    snprintf(want, sizeof want, "--tls.ca_file: \"%s\" is a directory, not a file", tmp);
    FLAGS_FAIL(want, "--tls.ca_file", tmp);
    char yaml[256], reason[384];
    snprintf(yaml, sizeof yaml, "tls:\n  ca_file: \"%s\"\n", missing);
    snprintf(reason, sizeof reason,
             "tls.ca_file: cannot read file \"%s\": No such file or directory", missing);
    config_fails(yaml, 2, 12, reason);
}

/* ---- --help and --version ---------------------------------------------- */

static void test_help(void **state)
{
    (void)state;
    int rc;
    const char *out = load_capturing_stdout(&rc, "--help", NULL);
    assert_int_equal(rc, OPTS_EXIT);
    assert_non_null(strstr(out, "Ember options test program\n"));
    assert_non_null(strstr(out, "Usage: ember-test [flags]\n"));
    assert_non_null(strstr(out, "  --interval DUR "));
    assert_non_null(strstr(out, "collection interval (default: 15s)\n"));
    assert_non_null(strstr(out, "  --[no-]debug "));
    assert_non_null(strstr(out, "  --scrape URL "));
    assert_non_null(strstr(out, "  --spool.max_size SIZE "));
    assert_non_null(strstr(out, "  --labels NAME=VALUE "));
    assert_non_null(strstr(out, "  --config FILE "));
    assert_non_null(strstr(out, "  --help "));
    assert_non_null(strstr(out, "  --version "));
    /* --help wins over a bad flag, a missing config file and a bad value. */
    out = load_capturing_stdout(&rc, "--bogus", "-h");
    assert_int_equal(rc, OPTS_EXIT);
    assert_non_null(strstr(out, "Usage: ember-test [flags]\n"));
    out = load_capturing_stdout(&rc, "--config=/nonexistent/x.yml", "--help");
    assert_int_equal(rc, OPTS_EXIT);
    assert_string_equal(err, "");
}

static void test_usage_exact(void **state)
{
    (void)state;
    int64_t d;
    bool b;
    char *s;
    const opt_spec small[] = {
        {"interval", OPT_DURATION, &d, "15s", "collection interval", "DUR"},
        {"debug", OPT_BOOL, &b, NULL, "debug logs", NULL},
        {"a.very.long.setting.name.indeed", OPT_STRING, &s, NULL, "long one", "TEXT"},
    };
    const opt_program p = {"ember-x", "0.1.0", "Does x."};
    ebuf out;
    ebuf_init(&out);
    opts_usage(&p, small, 3, &out);
    assert_string_equal(out.data,
                        "Does x.\n"
                        "\n"
                        "Usage: ember-x [flags]\n"
                        "\n"
                        "Flags:\n"
                        "  --interval DUR  collection interval (default: 15s)\n"
                        "  --[no-]debug    debug logs\n"
                        "  --a.very.long.setting.name.indeed TEXT\n"
                        "                  long one\n"
                        "  --config FILE   YAML file with these settings; flags override it\n"
                        "  --help          show this help and exit\n"
                        "  --version       show the version and exit\n"
                        "\n"
                        "In the --config file, the flag --a.b is the key b inside the map a:.\n");
    ebuf_free(&out);
}

static void test_version(void **state)
{
    (void)state;
    int rc;
    const char *out = load_capturing_stdout(&rc, "--version", NULL);
    assert_int_equal(rc, OPTS_EXIT);
    assert_string_equal(out, "ember-test version 1.2.3\n");
    out = load_capturing_stdout(&rc, "--interval=bad", "--version");
    assert_int_equal(rc, OPTS_EXIT);
    assert_string_equal(out, "ember-test version 1.2.3\n");
}

/* ---- parse_bytes ------------------------------------------------------- */

static void test_parse_bytes(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        int64_t want;
    } good[] = {
        {"0", 0},
        {"4096", 4096},
        {"1B", 1},
        {"1k", KiB},
        {"1K", KiB},
        {"1kB", KiB},
        {"1KB", KiB},
        {"1KiB", KiB},
        {"512M", 512 * MiB},
        {"512MB", 512 * MiB},
        {"512MiB", 512 * MiB},
        {"1G", GiB},
        {"1GB", GiB},
        {"1GiB", GiB},
        {"2TB", 2048 * GiB},
        {"1PiB", 1024LL * 1024 * GiB},
        {"7EiB", 7LL << 60},
        {"1.5GiB", 1610612736},
        {"0.5K", 512},
        {"0.1K", 102}, /* truncated to whole bytes */
        {"1.000000001GiB", GiB + 1},
        {"9223372036854775807", INT64_MAX},
        {"007", 7},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        int64_t v = -1;
        if (!parse_bytes(good[i].s, &v) || v != good[i].want)
            fail_msg("parse_bytes(\"%s\") = %lld, want %lld", good[i].s, (long long)v,
                     (long long)good[i].want);
    }
    const char *bad[] = {"",
                         "-1",
                         "+1",
                         "1.5",
                         "1.5B",
                         "1 KB",
                         "1kb",
                         "1KIB",
                         "KB",
                         "1.KB",
                         ".5K",
                         "1XB",
                         "1Ki",
                         "1iB",
                         "8EiB",
                         "9223372036854775808",
                         "1.0000000001K",
                         "1e3",
                         "0x10",
                         " 1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t v = -1;
        if (parse_bytes(bad[i], &v))
            fail_msg("parse_bytes(\"%s\") accepted: %lld", bad[i], (long long)v);
        assert_int_equal(v, -1);
    }
    int64_t v;
    assert_false(parse_bytes(NULL, &v));
}

/* ---- odds and ends ----------------------------------------------------- */

static void test_bad_default(void **state)
{
    (void)state;
    int64_t d;
    const opt_spec bad[] = {{"interval", OPT_DURATION, &d, "15x", "broken default", NULL}};
    char *argv[] = {(char *)"t", NULL};
    assert_int_equal(opts_load(&prog, bad, 1, 1, argv, err, sizeof err), OPTS_ERROR);
    expect_error("default of --interval: bad duration \"15x\"");
}

/* Targets may start as garbage: opts_load resets before filling. */
static void test_garbage_targets(void **state)
{
    (void)state;
    opts_free(specs, NSPECS);
    memset(&c, 0xab, sizeof c);
    char *argv[] = {(char *)"t", (char *)"--scrape", (char *)"a", NULL};
    assert_int_equal(opts_load(&prog, specs, NSPECS, 3, argv, err, sizeof err), OPTS_OK);
    assert_int_equal(c.scrape.n, 1);
    assert_int_equal(c.labels.n, 0);
}

/* Every target is freeable after an error part-way through. */
static void test_free_after_error(void **state)
{
    (void)state;
    write_config("scrape: [a, b]\nlabels: {a: b}\nweb: {title: t}\nworkers: x\n");
    assert_int_equal(LOAD("--config", cfgpath), OPTS_ERROR);
    opts_free(specs, NSPECS);
    assert_null(c.title);
    assert_int_equal(c.scrape.n, 0);
    assert_int_equal(c.labels.n, 0);
}

static void test_yaml_buffer_api(void **state)
{
    (void)state;
    opts_free(specs, NSPECS);
    memset(&c, 0, sizeof c);
    const char *y = "interval: 5s\nscrape: [u]\ntls: {ca_file: /does/not/matter}\n";
    assert_int_equal(opts_load_yaml_buffer(specs, NSPECS, "mem", y, strlen(y), err, sizeof err),
                     OPTS_OK);
    assert_int_equal(c.interval, 5000);
    assert_string_equal(c.ca_file, "/does/not/matter"); /* no file checks here */
    assert_int_equal(c.exclude.n, 0);                   /* no defaults either */
    const char *bad = "interval: 5s\ninterval: 6s";
    assert_int_equal(opts_load_yaml_buffer(specs, NSPECS, "mem", bad, strlen(bad), err, sizeof err),
                     OPTS_ERROR);
    expect_error("mem:2:1: duplicate key \"interval\"");
    /* Not NUL-terminated: only len bytes are read. */
    const char buf[] = {'w', 'o', 'r', 'k', 'e', 'r', 's', ':', ' ', '7', 'X'};
    assert_int_equal(opts_load_yaml_buffer(specs, NSPECS, "mem", buf, 10, err, sizeof err),
                     OPTS_OK);
    assert_int_equal(c.workers, 7);
    /* An embedded NUL cannot hide the rest of a value. */
    const char nul[] = "web: {title: \"a\\0b\"}";
    assert_int_equal(opts_load_yaml_buffer(specs, NSPECS, "mem", nul, strlen(nul), err, sizeof err),
                     OPTS_ERROR);
}

static void test_strlist_api(void **state)
{
    (void)state;
    strlist l = {0};
    for (int i = 0; i < 100; i++)
        strlist_push(&l, "x");
    assert_int_equal(l.n, 100);
    strlist_free(&l);
    assert_null(l.v);
    assert_int_equal(l.n, 0);
    strlist_free(&l); /* twice is fine */
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_defaults),           T(test_precedence),
        T(test_flag_forms),         T(test_bool_forms),
        T(test_bool_errors),        T(test_nested_keys),
        T(test_empty_config),       T(test_strlist),
        T(test_strlist_errors),     T(test_labels),
        T(test_labels_errors),      T(test_unknown_keys),
        T(test_wrong_kinds),        T(test_sequence_where_scalar_expected),
        T(test_duplicate_keys),     T(test_syntax_errors),
        T(test_config_file_errors), T(test_flag_errors),
        T(test_error_order),        T(test_dir_created),
        T(test_dir_errors),         T(test_dir_default_only_when_used),
        T(test_file_checks),        T(test_help),
        T(test_usage_exact),        T(test_version),
        T(test_parse_bytes),        T(test_bad_default),
        T(test_garbage_targets),    T(test_free_after_error),
        T(test_yaml_buffer_api),    T(test_strlist_api),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
