/*
 * config_yaml.h — private interface between options.c (defaults, flags,
 * checks, --help) and config_yaml.c (the YAML config file).  Nothing outside
 * common/options.c and common/config_yaml.c includes this.
 */
#ifndef EMBER_COMMON_CONFIG_YAML_H
#define EMBER_COMMON_CONFIG_YAML_H

#include "common/err.h"
#include "common/options.h"

#include <stdbool.h>
#include <stddef.h>

/* Where a setting's current value came from, for messages about it. */
typedef enum opt_origin {
    OPT_FROM_NONE = 0,
    OPT_FROM_DEFAULT,
    OPT_FROM_CONFIG,
    OPT_FROM_FLAG,
} opt_origin;

/* Per-setting bookkeeping for one load; one slot per spec, zeroed at start. */
typedef struct opt_slot {
    opt_origin origin;
    size_t line, col;  /* 1-based position of the config value (OPT_FROM_CONFIG) */
    bool list_flagged; /* a list/labels flag already replaced earlier values */
} opt_slot;

/*
 * Parse text for a scalar kind (string, dir, file, duration, int, bytes,
 * bool) and store it in s->target, freeing a replaced string.  Returns false
 * and leaves the target unchanged if text is not a value of that kind.
 */
bool opt_store_scalar(const opt_spec *s, const char *text);

/* Read path and apply it ("cannot read PATH: reason" if it cannot be read). */
int config_yaml_load_file(const opt_spec *specs, size_t nspecs, opt_slot *slots, const char *path,
                          char *err, size_t errlen);
/* Apply YAML text; errors read "NAME:LINE:COL: reason". */
int config_yaml_load_buffer(const opt_spec *specs, size_t nspecs, opt_slot *slots, const char *name,
                            const char *buf, size_t len, char *err, size_t errlen);

#endif
