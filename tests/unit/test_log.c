/*
 * test_log.c — logfmt line format, escaping, level filter, log_quote, and
 * one-write-per-line under concurrent loggers.
 *
 * Output goes to a temporary file (log_set_output_fd) that the test reads
 * back; the timestamp is checked for shape, everything after it exactly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct capture {
    FILE *f;
    char text[8192];
} capture;

static int setup(void **state)
{
    capture *c = calloc(1, sizeof *c);
    c->f = tmpfile();
    if (c->f == NULL)
        return -1;
    log_set_output_fd(fileno(c->f));
    log_set_level(LOG_INFO);
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    capture *c = *state;
    log_set_output_fd(2);
    log_set_level(LOG_INFO);
    fclose(c->f);
    free(c);
    return 0;
}

/* Everything logged so far; the file is then emptied for the next check. */
static const char *captured(capture *c)
{
    int fd = fileno(c->f);
    off_t end = lseek(fd, 0, SEEK_END);
    assert_true(end >= 0 && (size_t)end < sizeof c->text);
    assert_int_equal(pread(fd, c->text, (size_t)end, 0), end);
    c->text[end] = '\0';
    assert_int_equal(ftruncate(fd, 0), 0);
    lseek(fd, 0, SEEK_SET);
    return c->text;
}

/* "ts=YYYY-MM-DDTHH:MM:SS.mmmZ " then rest, exactly. */
static void assert_line(const char *line, const char *rest)
{
    static const char shape[] = "ts=dddd-dd-ddTdd:dd:dd.dddZ ";
    size_t n = strlen(shape);
    if (strlen(line) < n)
        fail_msg("short line: %s", line);
    for (size_t i = 0; i < n; i++) {
        bool ok = shape[i] == 'd' ? line[i] >= '0' && line[i] <= '9' : line[i] == shape[i];
        if (!ok)
            fail_msg("bad timestamp at %zu in: %s", i, line);
    }
    assert_string_equal(line + n, rest);
}

static void test_line_format(void **state)
{
    capture *c = *state;
    log_info("listening", "addr=%s port=%d", "127.0.0.1", 9090);
    assert_line(captured(c), "level=info msg=\"listening\" addr=127.0.0.1 port=9090\n");
    log_warn("disk full", NULL);
    assert_line(captured(c), "level=warn msg=\"disk full\"\n");
    log_error("x", "%s", ""); /* pairs that come out empty: no trailing space */
    assert_line(captured(c), "level=error msg=\"x\"\n");
    log_info(NULL, NULL);
    assert_line(captured(c), "level=info msg=\"\"\n");
}

static void test_msg_escaping(void **state)
{
    capture *c = *state;
    log_info("say \"hi\"\\ now\nnext\tcol\r\x01\x7f", NULL);
    assert_line(captured(c),
                "level=info msg=\"say \\\"hi\\\"\\\\ now\\nnext\\tcol\\r\\u0001\\u007f\"\n");
    log_info("grüße ✓", NULL); /* UTF-8 passes through */
    assert_line(captured(c), "level=info msg=\"grüße ✓\"\n");
}

static void test_level_filter(void **state)
{
    capture *c = *state;
    log_debug("hidden", NULL);
    assert_string_equal(captured(c), "");
    log_set_level(LOG_DEBUG);
    log_debug("shown", "n=%d", 1);
    assert_line(captured(c), "level=debug msg=\"shown\" n=1\n");
    log_set_level(LOG_ERROR);
    log_info("a", NULL);
    log_warn("b", NULL);
    assert_string_equal(captured(c), "");
    log_error("c", NULL);
    assert_line(captured(c), "level=error msg=\"c\"\n");
}

static void test_parse_level(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        log_level l;
    } good[] = {{"debug", LOG_DEBUG}, {"info", LOG_INFO}, {"warn", LOG_WARN}, {"error", LOG_ERROR}};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        log_level l = LOG_ERROR + 1;
        assert_true(log_parse_level(good[i].s, &l));
        assert_int_equal(l, good[i].l);
    }
    const char *bad[] = {"", "INFO", "warning", "err", "debug ", "fatal"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        log_level l = LOG_WARN;
        assert_false(log_parse_level(bad[i], &l));
        assert_int_equal(l, LOG_WARN);
    }
    log_level l = LOG_WARN;
    assert_false(log_parse_level(NULL, &l));
}

static void test_quote(void **state)
{
    (void)state;
    char buf[64];
    assert_string_equal(log_quote(buf, sizeof buf, "a b"), "\"a b\"");
    assert_string_equal(log_quote(buf, sizeof buf, ""), "\"\"");
    assert_string_equal(log_quote(buf, sizeof buf, NULL), "\"\"");
    assert_string_equal(log_quote(buf, sizeof buf, "x\"y\\z\n"), "\"x\\\"y\\\\z\\n\"");
    assert_ptr_equal(log_quote(buf, sizeof buf, "q"), buf);
}

/* A value that does not fit keeps whole escapes and ends in ..." */
static void test_quote_truncation(void **state)
{
    (void)state;
    char buf[10];
    assert_string_equal(log_quote(buf, sizeof buf, "abcdefg"), "\"abcdefg\""); /* exactly fits */
    assert_string_equal(log_quote(buf, sizeof buf, "abcdefgh"), "\"abcd...\"");
    assert_string_equal(log_quote(buf, sizeof buf, "abc\"defgh"), "\"abc...\"");
    assert_string_equal(log_quote(buf, 6, "abcdef"), "\"...\"");
    assert_string_equal(log_quote(buf, 5, "abcdef"), "\"\"");
    assert_string_equal(log_quote(buf, 3, "abc"), "\"\"");
    assert_string_equal(log_quote(buf, 2, "abc"), "");
    assert_string_equal(log_quote(NULL, 0, "abc"), "");
}

static void test_errno_preserved(void **state)
{
    capture *c = *state;
    errno = ENOENT;
    log_info("x", "err=%s", strerror(errno));
    assert_int_equal(errno, ENOENT);
    captured(c);
}

/* One write(2) per line: lines from racing threads never interleave. */
enum { THREADS = 4, LINES = 300 };
#define CONCURRENT_MSG "concurrent line with some padding to make it longer"
static FILE *drain_sink;

static void *log_many(void *arg)
{
    long id = (long)arg;
    for (int i = 0; i < LINES; i++)
        log_info(CONCURRENT_MSG, "thread=%ld i=%d", id, i);
    return NULL;
}

/* Every line whole: timestamp shape, the exact message, a known thread. */
static void check_lines(FILE *in, int counts[THREADS])
{
    char line[512];
    while (fgets(line, sizeof line, in)) {
        long id = -1;
        int i, used = 0;
        const char *kv = strstr(line, " thread=");
        if (kv == NULL || sscanf(kv, " thread=%ld i=%d\n%n", &id, &i, &used) != 2 ||
            kv[used] != '\0' || id < 0 || id >= THREADS)
            fail_msg("mangled line: %s", line);
        char rest[512];
        snprintf(rest, sizeof rest, "level=info msg=\"%s\"%s", CONCURRENT_MSG, kv);
        assert_line(line, rest);
        counts[id]++;
    }
}

/* Copies the pipe into the sink until every writer has closed it. */
static void *drain(void *arg)
{
    int *fds = arg;
    char buf[4096];
    ssize_t n;
    while ((n = read(fds[0], buf, sizeof buf)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            break;
        fwrite(buf, 1, (size_t)n, drain_sink);
    }
    return NULL;
}

static void test_concurrent_lines(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    drain_sink = tmpfile();
    assert_non_null(drain_sink);
    pthread_t reader, th[THREADS];
    pthread_create(&reader, NULL, drain, fds);
    log_set_output_fd(fds[1]);
    for (long i = 0; i < THREADS; i++)
        pthread_create(&th[i], NULL, log_many, (void *)i);
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    log_set_output_fd(2);
    close(fds[1]); /* the reader sees EOF */
    pthread_join(reader, NULL);
    close(fds[0]);
    rewind(drain_sink);
    int counts[THREADS] = {0};
    check_lines(drain_sink, counts);
    fclose(drain_sink);
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(counts[i], LINES);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_line_format, setup, teardown),
        cmocka_unit_test_setup_teardown(test_msg_escaping, setup, teardown),
        cmocka_unit_test_setup_teardown(test_level_filter, setup, teardown),
        cmocka_unit_test(test_parse_level),
        cmocka_unit_test(test_quote),
        cmocka_unit_test(test_quote_truncation),
        cmocka_unit_test_setup_teardown(test_errno_preserved, setup, teardown),
        cmocka_unit_test(test_concurrent_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
