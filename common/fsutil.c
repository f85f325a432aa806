/* fsutil.c — mkdir -p, rm -rf, temp dirs, whole files (see fsutil.h). */
#define _XOPEN_SOURCE 700
#include "common/fsutil.h"

#include "common/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* One step of mkdir -p; 0 or an errno. */
static int mkdir_one(const char *path)
{
    struct stat st;
    if (stat(path, &st) == 0)
        return S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
    if (mkdir(path, 0777) == 0) /* the umask decides, as for mkdir -p */
        return 0;
    int e = errno;
    if (e == EEXIST && stat(path, &st) == 0) /* lost a race with another creator */
        return S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
    return e;
}

int fs_mkdir_p(const char *path)
{
    if (path[0] == '\0') {
        errno = ENOENT;
        return -1;
    }
    char *p = em_strdup(path);
    int rc = 0;
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s != '\0')
            continue;
        char c = *s;
        *s = '\0';
        rc = mkdir_one(p);
        *s = c;
        if (rc != 0 || c == '\0')
            break;
    }
    free(p);
    if (rc != 0) {
        errno = rc;
        return -1;
    }
    return 0;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(path);
}

int fs_rmtree(const char *path)
{
    return nftw(path, remove_entry, 32, FTW_DEPTH | FTW_PHYS);
}

int fs_mkdtemp(char *buf, size_t len, const char *prefix)
{
    const char *base = getenv("TMPDIR");
    snprintf(buf, len, "%s/%s.XXXXXX", base && base[0] ? base : "/tmp", prefix);
    return mkdtemp(buf) ? 0 : -1;
}

int fs_read_file(const char *path, ebuf *out, size_t max)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno;
    int rc = 0;
    char chunk[65536];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = n < 0 ? errno : 0;
            break;
        }
        if (out->len + (size_t)n > max) {
            rc = EFBIG;
            break;
        }
        ebuf_append(out, chunk, (size_t)n);
    }
    close(fd);
    return rc;
}
