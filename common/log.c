/*
 * log.c — logfmt lines on stderr, one write(2) per line.
 *
 *   ts=2026-11-26T23:59:00.123Z level=info msg="listening" addr=127.0.0.1:9090
 *
 * Each line is built in memory and handed to the kernel in one write(2), so
 * lines from different threads never interleave (writes to a pipe up to
 * PIPE_BUF bytes are atomic; to a file, O_APPEND or the shared offset keeps
 * them whole).  There is no lock and no stdio buffering: a crash loses
 * nothing that was logged.
 *
 * Global state, deliberately: the minimum level and the output fd.  Both are
 * process-wide by nature (one stderr per process), atomic, and set once at
 * start-up; passing a logger handle through every function would buy nothing.
 *
 * Quoting follows go-logfmt, which Prometheus uses: \" \\ \n \r \t, other
 * control bytes as \u00XX; UTF-8 passes through untouched.
 */
#include "common/log.h"

#include "common/buf.h"
#include "common/etime.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static atomic_int log_min_level = LOG_INFO;
static atomic_int log_fd = STDERR_FILENO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};
#define N_LEVELS (sizeof level_names / sizeof level_names[0])

void log_set_level(log_level l)
{
    atomic_store(&log_min_level, (int)l);
}

void log_set_output_fd(int fd)
{
    atomic_store(&log_fd, fd);
}

bool log_parse_level(const char *s, log_level *out)
{
    for (size_t i = 0; s && i < N_LEVELS; i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (log_level)i;
            return true;
        }
    }
    return false;
}

/* The escaped form of byte c into out (at most 7 bytes); returns its length. */
static size_t escape_byte(unsigned char c, char out[8])
{
    switch (c) {
    case '"': memcpy(out, "\\\"", 2); return 2;
    case '\\': memcpy(out, "\\\\", 2); return 2;
    case '\n': memcpy(out, "\\n", 2); return 2;
    case '\r': memcpy(out, "\\r", 2); return 2;
    case '\t': memcpy(out, "\\t", 2); return 2;
    default: break;
    }
    if (c < 0x20 || c == 0x7f)
        return (size_t)snprintf(out, 8, "\\u%04x", c);
    out[0] = (char)c;
    return 1;
}

static void append_quoted(ebuf *b, const char *s)
{
    char esc[8];
    ebuf_putc(b, '"');
    for (; s && *s; s++)
        ebuf_append(b, esc, escape_byte((unsigned char)*s, esc));
    ebuf_putc(b, '"');
}

static size_t escaped_len(const char *s)
{
    char esc[8];
    size_t n = 0;
    for (; s && *s; s++)
        n += escape_byte((unsigned char)*s, esc);
    return n;
}

/*
 * Always returns a well-formed quoted string: when s does not fit, whole
 * escape sequences are kept and the value ends in ... inside the quotes.
 */
const char *log_quote(char *buf, size_t len, const char *s)
{
    if (buf == NULL || len == 0)
        return "";
    if (len < 3) { /* not even room for "" */
        buf[0] = '\0';
        return buf;
    }
    /* Closing quote and NUL, plus "..." if the value must be cut. */
    bool fits = escaped_len(s) + 3 <= len;
    size_t reserve = fits ? 2 : 5;
    size_t off = 0;
    buf[off++] = '"';
    char esc[8];
    for (; s && *s; s++) {
        size_t n = escape_byte((unsigned char)*s, esc);
        if (off + n + reserve > len)
            break;
        memcpy(buf + off, esc, n);
        off += n;
    }
    if (!fits && len - off >= 5) {
        memcpy(buf + off, "...", 3);
        off += 3;
    }
    buf[off++] = '"';
    buf[off] = '\0';
    return buf;
}

/* Loop only for short writes and EINTR; a failing stderr cannot be reported. */
static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

static void format_line(ebuf *b, log_level l, const char *msg, const char *kvfmt, va_list ap)
{
    char ts[32];
    format_rfc3339_ms(ts, sizeof ts, now_ms());
    const char *name = (unsigned)l < N_LEVELS ? level_names[l] : "error";
    ebuf_printf(b, "ts=%s level=%s msg=", ts, name);
    append_quoted(b, msg);
    if (kvfmt && *kvfmt) {
        size_t before = b->len;
        ebuf_putc(b, ' ');
        ebuf_vprintf(b, kvfmt, ap);
        if (b->len == before + 1) /* the pairs came out empty: no trailing space */
            b->len = before;
    }
    ebuf_putc(b, '\n');
}

void log_at(log_level l, const char *msg, const char *kvfmt, ...)
{
    if ((int)l < atomic_load(&log_min_level))
        return;
    /* Callers often log and then look at errno again: leave it as it was. */
    int saved_errno = errno;
    ebuf b;
    ebuf_init(&b);
    va_list ap;
    va_start(ap, kvfmt);
    format_line(&b, l, msg, kvfmt, ap);
    va_end(ap);
    write_all(atomic_load(&log_fd), b.data, b.len);
    ebuf_free(&b);
    errno = saved_errno;
}
