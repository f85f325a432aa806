/*
 * procfile.h — reading /proc and /sys files for the host collectors: whole
 * files under a root directory ("/" in production, a fixture tree in tests),
 * one-value sysfs files, blank-separated fields and whole-field numbers.
 */
#ifndef EMBER_AGENT_PROCFILE_H
#define EMBER_AGENT_PROCFILE_H

#include "common/buf.h"
#include "common/expfmt.h"

#include <stdbool.h>
#include <stddef.h>

/* /proc files are small; this only stops a runaway read of a wrong path. */
#define HOST_FILE_MAX (16u << 20)

/* path = root + rel, tolerating a root with or without its trailing slash. */
void host_path(ebuf *path, const char *root, const char *rel);
/* Append the whole of root/rel to out (NUL-terminated); -1 with err set. */
int host_read_file(ebuf *out, const char *root, const char *rel, char *err, size_t errlen);
/* The first line of a small file (sysfs attribute) into buf, without the
 * newline; false when it cannot be read. */
bool host_read_line(const char *path, char *buf, size_t len);
/* Split line on blanks into at most max fields; max + 1 when there were more. */
size_t host_split_fields(char *line, char **fields, size_t max);
/* A whole field as a double; -1 on trailing junk or overflow. */
int host_parse_number(const char *s, double *out);

/* Calls fn for each line of text (modified in place); stops at fn's error. */
typedef int (*host_line_fn)(char *line, size_t lineno, void *ctx, char *err, size_t errlen);
int host_for_each_line(char *text, host_line_fn fn, void *ctx, char *err, size_t errlen);

/*
 * The usual shape of a collector: read root/rel and feed each line to fn,
 * which fills ms (the caller's private, initialised set, which ctx refers
 * to); ms moves to out only when every line parsed and, unless allow_empty
 * (a machine may have no disk or network device left after filtering), at
 * least one sample came out ("REL: no samples" otherwise), so a bad file
 * adds nothing.  ms is freed in every case.
 */
int host_collect_lines(metric_set *out, metric_set *ms, const char *root, const char *rel,
                       host_line_fn fn, void *ctx, bool allow_empty, char *err, size_t errlen);

#endif
