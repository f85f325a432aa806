/*
 * procfile.c — file reading and field splitting shared by the host
 * collectors (see procfile.h).  /proc files report size 0, so files are read
 * until EOF rather than by their fstat size.
 */
#include "agent/collect/procfile.h"

#include "common/err.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void host_path(ebuf *path, const char *root, const char *rel)
{
    ebuf_reset(path);
    ebuf_puts(path, root);
    if (path->len == 0 || path->data[path->len - 1] != '/')
        ebuf_putc(path, '/');
    ebuf_puts(path, rel);
}

static int read_fd(ebuf *out, int fd, const char *path, char *err, size_t errlen)
{
    for (;;) {
        ebuf_reserve(out, 4096);
        ssize_t got = read(fd, out->data + out->len, out->cap - out->len - 1);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            err_set(err, errlen, "read %s: %s", path, strerror(errno));
            return -1;
        }
        if (got == 0)
            return 0;
        out->len += (size_t)got;
        out->data[out->len] = '\0';
        if (out->len > HOST_FILE_MAX) {
            err_set(err, errlen, "read %s: larger than %u bytes", path, HOST_FILE_MAX);
            return -1;
        }
    }
}

int host_read_file(ebuf *out, const char *root, const char *rel, char *err, size_t errlen)
{
    ebuf path;
    ebuf_init(&path);
    host_path(&path, root, rel);
    int fd = open(path.data, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        err_set(err, errlen, "open %s: %s", path.data, strerror(errno));
        ebuf_free(&path);
        return -1;
    }
    int rc = read_fd(out, fd, path.data, err, errlen);
    close(fd);
    ebuf_free(&path);
    return rc;
}

bool host_read_line(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t got;
    do
        got = read(fd, buf, len - 1);
    while (got < 0 && errno == EINTR);
    close(fd);
    if (got < 0)
        return false;
    buf[got] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
    return true;
}

size_t host_split_fields(char *line, char **fields, size_t max)
{
    size_t n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(line, " \t\r\n", &save); tok != NULL;
         tok = strtok_r(NULL, " \t\r\n", &save)) {
        if (n == max)
            return max + 1;
        fields[n++] = tok;
    }
    return n;
}

int host_parse_number(const char *s, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || errno == ERANGE)
        return -1;
    *out = v;
    return 0;
}

int host_for_each_line(char *text, host_line_fn fn, void *ctx, char *err, size_t errlen)
{
    size_t lineno = 0;
    char *line = text;
    while (line != NULL && *line != '\0') {
        char *nl = strchr(line, '\n');
        if (nl != NULL)
            *nl = '\0';
        if (fn(line, ++lineno, ctx, err, errlen) != 0)
            return -1;
        line = nl != NULL ? nl + 1 : NULL;
    }
    return 0;
}

int host_collect_lines(metric_set *out, metric_set *ms, const char *root, const char *rel,
                       host_line_fn fn, void *ctx, bool allow_empty, char *err, size_t errlen)
{
    ebuf text;
    ebuf_init(&text);
    int rc = host_read_file(&text, root, rel, err, errlen);
    if (rc == 0)
        rc = host_for_each_line(text.data, fn, ctx, err, errlen);
    if (rc == 0 && ms->n == 0 && !allow_empty) {
        err_set(err, errlen, "%s: no samples", rel);
        rc = -1;
    }
    if (rc == 0)
        metric_set_move(out, ms);
    metric_set_free(ms);
    ebuf_free(&text);
    return rc;
}
