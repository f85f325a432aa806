/*
 * options.h — one table per binary describes its settings; this module fills
 * them from defaults, then a YAML config file, then command-line flags (flags
 * win), and prints --help from the same table.
 *
 * A setting named "spool.dir" is the flag --spool.dir and, in the config
 * file, the key dir inside the map spool:.  Keys not in the table are errors,
 * reported with file, line and column, as are values of the wrong kind.
 *
 *   static opt_spec specs[] = {
 *       {"interval", OPT_DURATION, &cfg.interval_ms, "15s", "collection interval", "DUR"},
 *       {"scrape", OPT_STRLIST, &cfg.scrape, NULL, "URL to scrape (repeatable)", "URL"},
 *   };
 *   int rc = opts_load(&prog, specs, n, argc, argv, err, sizeof err);
 *
 * "--config FILE", "--help" and "--version" are handled by this module.
 */
#ifndef EMBER_COMMON_OPTIONS_H
#define EMBER_COMMON_OPTIONS_H

#include "common/labels.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct strlist {
    char **v;
    size_t n, cap;
} strlist;

void strlist_push(strlist *l, const char *s);
void strlist_free(strlist *l);

typedef enum opt_kind {
    OPT_STRING,   /* char **            */
    OPT_STRLIST,  /* strlist *  (flag repeatable; YAML sequence or scalar) */
    OPT_DURATION, /* int64_t * ms       "15s", "30d" */
    OPT_INT,      /* int64_t *          */
    OPT_BYTES,    /* int64_t *          "512MiB", "1GB", "4096" */
    OPT_BOOL,     /* bool *     (flag without value = true; --no-x = false) */
    OPT_LABELS,   /* labelset * (flag "k=v" repeatable; YAML map) */
    OPT_DIR,      /* char ** a directory: created if missing, error if impossible */
    OPT_FILE,     /* char ** a file that must exist and be readable */
    OPT_SECTION,  /* char ** a nested config-file section its owner parses itself
                     (e.g. remote_write): gets the file's path; no flag, no --help */
} opt_kind;

typedef struct opt_spec {
    const char *name;    /* "spool.dir" */
    opt_kind kind;
    void *target;
    const char *def;     /* default, in flag syntax; NULL = none */
    const char *help;
    const char *metavar; /* shown in --help, e.g. "DUR" */
} opt_spec;

typedef struct opt_program {
    const char *name;    /* "ember-agent" */
    const char *version; /* "0.1.0" */
    const char *summary; /* one line for --help */
} opt_program;

enum { OPTS_OK = 0, OPTS_EXIT = 1, OPTS_ERROR = -1 };

/*
 * Returns OPTS_OK, OPTS_EXIT after printing --help or --version to stdout
 * (the caller exits 0), or OPTS_ERROR with err set, e.g.
 * "agent.yml:4:3: unknown key \"intervall\"" or
 * "--interval: bad duration \"15x\"".  The caller prints it and exits 2.
 */
int opts_load(const opt_program *prog, const opt_spec *specs, size_t nspecs, int argc,
              char **argv, char *err, size_t errlen);
/* Free strings, lists and label sets that opts_load allocated into targets. */
void opts_free(const opt_spec *specs, size_t nspecs);

/*
 * Sizes are base 2, as Prometheus's units.Base2Bytes: K (or k), KB and KiB
 * all mean 1024, and likewise M, G, T, P, E; "B" or no suffix is bytes.  A
 * fraction needs a prefix ("1.5GiB") and is truncated to whole bytes.
 */
bool parse_bytes(const char *s, int64_t *out); /* "512MiB", "1GB", "1k", "4096" */

/* The --help text, appended to out (opts_load prints exactly this). */
void opts_usage(const opt_program *prog, const opt_spec *specs, size_t nspecs, ebuf *out);
/*
 * Apply YAML text (name is used in error messages) on top of the current
 * targets: no defaults, no flags, no directory or file checks.  Targets
 * must be zeroed or hold values from opts_load / an earlier call; replaced
 * values are freed.  For tests and fuzzing; returns OPTS_OK or OPTS_ERROR.
 */
int opts_load_yaml_buffer(const opt_spec *specs, size_t nspecs, const char *name, const char *buf,
                          size_t len, char *err, size_t errlen);

#endif
