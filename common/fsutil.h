/*
 * fsutil.h — small filesystem helpers: mkdir -p, rm -rf, temporary
 * directories, reading a whole (small) file.
 */
#ifndef EMBER_COMMON_FSUTIL_H
#define EMBER_COMMON_FSUTIL_H

#include "common/buf.h"

#include <stddef.h>

/* mkdir -p (mode 0777 less the umask); returns 0 or -1 with errno set. */
int fs_mkdir_p(const char *path);
/* rm -rf (does not follow symlinks); returns 0 or -1. */
int fs_rmtree(const char *path);
/* mkdtemp under $TMPDIR (or /tmp) with the given prefix; buf >= 256. */
int fs_mkdtemp(char *buf, size_t len, const char *prefix);
/* Append the whole file to out; 0, or an errno (EFBIG past max bytes). */
int fs_read_file(const char *path, ebuf *out, size_t max);

#endif
