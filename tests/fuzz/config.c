/*
 * config.c — libFuzzer target for the settings loader (common/options.c,
 * common/config_yaml.c) and the value parsers behind it.
 *
 * Each input is used three ways:
 *   1. as a YAML config (opts_load_yaml_buffer, no filesystem) against a
 *      table with every kind of setting;
 *   2. split at newlines, as a command line for opts_load, with a table
 *      that has no directory or file settings and with --config, --help and
 *      --version removed, so a run never touches the disk or stdout;
 *   3. each line through parse_duration_ms / parse_bytes, checking that a
 *      parsed duration survives format_duration_ms and parsing again.
 * Everything is freed every time, so LeakSanitizer sees any leak.
 */
#include "common/etime.h"
#include "common/mem.h"
#include "common/options.h"

#include <stdlib.h>
#include <string.h>

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_yaml(data, size);
    fuzz_flags(data, size);
    return 0;
}
