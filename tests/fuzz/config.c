/*
 * config.c — libFuzzer target for the settings loader (common/options.c,
 * common/config_yaml.c), the value parsers behind it, and the aggregator's
 * remote_write section (aggregator/forward/config.c).
 *
 * Each input is used four ways:
 *   1. as a YAML config (opts_load_yaml_buffer, no filesystem) against a
 *      table with every kind of setting;
 *   2. split at newlines, as a command line for opts_load, with a table
 *      that has no directory or file settings and with --config, --help and
 *      --version removed, so a run never touches the disk or stdout;
 *   3. each line through parse_duration_ms / parse_bytes, checking that a
 *      parsed duration survives format_duration_ms and parsing again;
 *   4. as an aggregator config file's remote_write section
 *      (fwd_config_parse): a failure says why; every destination of a
 *      success has an http(s) URL and a queue its checks let through.
 *      Its *_file keys read the files they name (that is the parser's
 *      job), so stdin is /dev/null: /dev/stdin cannot block a run.
 * Everything is freed every time, so LeakSanitizer sees any leak.
 */
#include "aggregator/forward/forward.h"
#include "common/etime.h"
#include "common/mem.h"
#include "common/options.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct {
    int64_t interval, workers, max_size, retention;
    bool debug;
    char *title, *spool_dir, *ca_file;
    strlist scrape, exclude;
    labelset labels;
} c;

static const opt_spec yaml_specs[] = {
    {"interval", OPT_DURATION, &c.interval, "15s", "", NULL},
    {"workers", OPT_INT, &c.workers, "4", "", NULL},
    {"spool.max_size", OPT_BYTES, &c.max_size, "512MiB", "", NULL},
    {"spool.dir", OPT_DIR, &c.spool_dir, NULL, "", NULL},
    {"debug", OPT_BOOL, &c.debug, "false", "", NULL},
    {"web.title", OPT_STRING, &c.title, "Ember", "", NULL},
    {"tls.ca_file", OPT_FILE, &c.ca_file, NULL, "", NULL},
    {"scrape", OPT_STRLIST, &c.scrape, NULL, "", NULL},
    {"collector.exclude", OPT_STRLIST, &c.exclude, "lo", "", NULL},
    {"labels", OPT_LABELS, &c.labels, NULL, "", NULL},
    {"storage.tsdb.retention", OPT_DURATION, &c.retention, "30d", "", NULL},
};

/* The same minus the kinds that create or open paths. */
static const opt_spec flag_specs[] = {
    {"interval", OPT_DURATION, &c.interval, "15s", "", NULL},
    {"workers", OPT_INT, &c.workers, "4", "", NULL},
    {"spool.max_size", OPT_BYTES, &c.max_size, "512MiB", "", NULL},
    {"debug", OPT_BOOL, &c.debug, "false", "", NULL},
    {"web.title", OPT_STRING, &c.title, "Ember", "", NULL},
    {"scrape", OPT_STRLIST, &c.scrape, NULL, "", NULL},
    {"collector.exclude", OPT_STRLIST, &c.exclude, "lo", "", NULL},
    {"labels", OPT_LABELS, &c.labels, NULL, "", NULL},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const opt_program prog = {"fuzz", "0", "fuzz"};

static void fuzz_yaml(const uint8_t *data, size_t size)
{
    char err[256];
    memset(&c, 0, sizeof c);
    opts_load_yaml_buffer(yaml_specs, COUNT(yaml_specs), "fuzz.yml", (const char *)data, size, err,
                          sizeof err);
    opts_free(yaml_specs, COUNT(yaml_specs));
}

static bool harmless_arg(const char *a)
{
    return strcmp(a, "-h") != 0 && strncmp(a, "--config", 8) != 0 && strncmp(a, "--help", 6) != 0 &&
           strncmp(a, "--version", 9) != 0;
}

static void check_values(const char *s)
{
    int64_t ms, again, bytes;
    if (parse_duration_ms(s, &ms)) {
        char buf[32];
        format_duration_ms(buf, sizeof buf, ms);
        if (!parse_duration_ms(buf, &again) || again != ms)
            abort(); /* format and parse disagree */
    }
    parse_bytes(s, &bytes);
}

static void fuzz_flags(const uint8_t *data, size_t size)
{
    enum { MAX_ARGS = 64 };
    char *argv[MAX_ARGS + 1];
    int argc = 0;
    argv[argc++] = em_strdup("fuzz");
    const char *p = (const char *)data, *end = p + size;
    while (p < end && argc < MAX_ARGS) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        char *arg = em_strndup(p, len);
        check_values(arg);
        if (harmless_arg(arg))
            argv[argc++] = arg;
        else
            free(arg);
        p += len + 1;
    }
    argv[argc] = NULL;
    char err[256];
    opts_load(&prog, flag_specs, COUNT(flag_specs), argc, argv, err, sizeof err);
    opts_free(flag_specs, COUNT(flag_specs));
    for (int i = 0; i < argc; i++)
        free(argv[i]);
}

static void fuzz_remote_write(const uint8_t *data, size_t size)
{
    fwd_config fc = {0};
    char err[512] = "";
    if (fwd_config_parse(&fc, "fuzz.yml", (const char *)data, size, err, sizeof err) != 0) {
        if (!err[0])
            abort(); /* a failure always says why */
    } else {
        for (size_t i = 0; i < fc.n; i++) {
            const fwd_dest_config *d = &fc.v[i];
            if (!d->url || (strncmp(d->url, "http://", 7) && strncmp(d->url, "https://", 8)))
                abort();
            if (d->q.capacity < 1 || d->q.max_shards < d->q.min_shards ||
                d->q.min_backoff_ms > d->q.max_backoff_ms)
                abort();
        }
    }
    fwd_config_free(&fc);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (!freopen("/dev/null", "r", stdin))
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_yaml(data, size);
    fuzz_flags(data, size);
    fuzz_remote_write(data, size);
    return 0;
}
