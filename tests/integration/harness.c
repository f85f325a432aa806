/* harness.c — processes, ports, temp dirs and HTTP for integration tests. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h> /* fail_msg */

#include "tests/integration/harness.h"

#include "common/etime.h"
#include "common/fsutil.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_CHILDREN 64

static char tmpdir[256];
static pid_t children[MAX_CHILDREN];
static char child_names[MAX_CHILDREN][64];
static int nchildren;
static bool registered;

static void register_cleanup(void)
{
    if (!registered) {
        registered = true;
        atexit(harness_cleanup);
        curl_global_init(CURL_GLOBAL_DEFAULT);
    }
}

const char *harness_tmpdir(void)
{
    register_cleanup();
    if (!tmpdir[0]) {
        if (fs_mkdtemp(tmpdir, sizeof tmpdir, "ember-it") != 0) {
            perror("mkdtemp");
            abort();
        }
    }
    return tmpdir;
}

unsigned harness_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        perror("free port");
        abort();
    }
    close(fd);
    return ntohs(a.sin_port);
}

const char *harness_bin(const char *name, char *buf, size_t len)
{
    const char *dir = getenv("EMBER_BIN_DIR");
    snprintf(buf, len, "%s/%s", dir ? dir : "build/bin", name);
    return buf;
}

static void child_exec(const char *logpath, char *const argv[])
{
    /* Die with the test process, even if it is killed without cleanup. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    int fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
    }
    execv(argv[0], argv);
    fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
    _exit(127);
}

pid_t harness_spawn(const char *name, char *const argv[])
{
    char logpath[512];
    snprintf(logpath, sizeof logpath, "%s/%s.log", harness_tmpdir(), name);
    pid_t pid = fork();
    if (pid == 0)
        child_exec(logpath, argv);
    if (pid > 0 && nchildren < MAX_CHILDREN) {
        snprintf(child_names[nchildren], sizeof child_names[0], "%s", name);
        children[nchildren++] = pid;
    }
    return pid;
}

static void forget_child(pid_t pid)
{
    for (int i = 0; i < nchildren; i++)
        if (children[i] == pid) {
            children[i] = children[--nchildren];
            memcpy(child_names[i], child_names[nchildren], sizeof child_names[0]);
        }
}

static const char *child_name(pid_t pid)
{
    for (int i = 0; i < nchildren; i++)
        if (children[i] == pid)
            return child_names[i];
    return NULL;
}

/* The last lines of a child's log, to stderr. */
static void print_log_tail(const char *name, int lines)
{
    ebuf log;
    ebuf_init(&log);
    harness_log(name, &log);
    size_t from = log.len;
    for (int n = 0; from > 0 && n <= lines; from--)
        n += log.data[from - 1] == '\n';
    fprintf(stderr, "--- last lines of %s's log ---\n%.*s--- end of %s's log ---\n", name,
            (int)(log.len - from), (const char *)log.data + from, name);
    ebuf_free(&log);
}

/*
 * A child that does not stop after SIGTERM is a bug that often shows only
 * on a loaded CI machine: say where each of its threads waits (the
 * kernel's view, then gdb's backtraces when gdb is installed) and what it
 * logged last, before it is killed.
 */
static void report_hung(pid_t pid, int timeout_ms)
{
    const char *name = child_name(pid);
    fprintf(stderr, "%s (pid %d) did not stop within %d ms of SIGTERM; its threads:\n",
            name ? name : "child", (int)pid, timeout_ms);
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "for t in /proc/%d/task/*; do echo \"$(cat $t/comm) $(cut -d' ' -f3 $t/stat) "
             "wchan=$(cat $t/wchan)\"; done >&2; "
             "command -v gdb >/dev/null && gdb -p %d -batch -nx -ex 'thread apply all bt' "
             "2>&1 | grep -E '^(Thread|#)' >&2",
             (int)pid, (int)pid);
    if (system(cmd) == -1)
        perror("system");
    if (name)
        print_log_tail(name, 40);
}

int harness_stop(pid_t pid, int timeout_ms)
{
    if (pid <= 0)
        return -1;
    kill(pid, SIGTERM);
    int status = -1;
    int64_t deadline = mono_ms() + timeout_ms;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid || (r < 0 && errno == ECHILD))
            break;
        if (mono_ms() > deadline) {
            report_hung(pid, timeout_ms);
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            status = -1;
            break;
        }
        sleep_ms(20);
    }
    forget_child(pid);
    return status;
}

bool harness_alive(pid_t pid)
{
    int status;
    return waitpid(pid, &status, WNOHANG) == 0;
}

int harness_run(char *const argv[], ebuf *output)
{
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(fds[1], 1);
        dup2(fds[1], 2);
        close(fds[0]);
        close(fds[1]);
        execv(argv[0], argv);
        _exit(127);
    }
    close(fds[1]);
    char buf[4096];
    ssize_t n;
    while ((n = read(fds[0], buf, sizeof buf)) > 0)
        ebuf_append(output, buf, (size_t)n);
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

void harness_log(const char *name, ebuf *out)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s.log", harness_tmpdir(), name);
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        ebuf_append(out, buf, n);
    fclose(f);
}

int harness_log_count(const char *name, const char *needle)
{
    ebuf log;
    ebuf_init(&log);
    harness_log(name, &log);
    ebuf_putc(&log, '\0');
    int n = 0;
    for (const char *p = (const char *)log.data; (p = strstr(p, needle)) != NULL; p++)
        n++;
    ebuf_free(&log);
    return n;
}

bool harness_wait_log(const char *name, const char *needle, int timeout_ms)
{
    int64_t end = mono_ms() + timeout_ms;
    while (harness_log_count(name, needle) == 0) {
        if (mono_ms() >= end) {
            fprintf(stderr, "%s's log never said \"%s\"\n", name, needle);
            print_log_tail(name, 40);
            return false;
        }
        sleep_ms(50);
    }
    return true;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    ebuf_append(ud, p, size * n);
    return size * n;
}

long harness_http(const char *url, const char *post_body, ebuf *body)
{
    register_cleanup();
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (post_body)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, post_body);
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    return status;
}

bool harness_wait_http(const char *url, int timeout_ms)
{
    int64_t deadline = mono_ms() + timeout_ms;
    while (mono_ms() < deadline) {
        ebuf b;
        ebuf_init(&b);
        long st = harness_http(url, NULL, &b);
        ebuf_free(&b);
        if (st == 200)
            return true;
        sleep_ms(100);
    }
    return false;
}

void harness_cleanup(void)
{
    while (nchildren > 0)
        harness_stop(children[0], 5000);
    if (tmpdir[0] && !getenv("EMBER_KEEP_TMP"))
        fs_rmtree(tmpdir);
    tmpdir[0] = '\0';
}

/* Start argv under name and wait until http://127.0.0.1:port/-/ready
 * answers, failing the test with its log otherwise. */
static pid_t spawn_until_ready(const char *name, char *const argv[], unsigned port, int timeout_ms)
{
    char url[128];
    pid_t pid = harness_spawn(name, argv);
    snprintf(url, sizeof url, "http://127.0.0.1:%u/-/ready", port);
    if (!harness_wait_http(url, timeout_ms)) {
        ebuf log;
        ebuf_init(&log);
        harness_log(name, &log);
        fail_msg("%s did not become ready: %s", name, log.data ? log.data : "(no log)");
    }
    return pid;
}

pid_t harness_spawn_aggregator(const char *name, unsigned api_port, const char *const *extra)
{
    char bin[512], http[64], ingest[64], dir[600];
    snprintf(http, sizeof http, "127.0.0.1:%u", api_port);
    snprintf(ingest, sizeof ingest, "tcp://127.0.0.1:%u", harness_free_port());
    snprintf(dir, sizeof dir, "%s/%s", harness_tmpdir(), name);
    char *argv[40] = {(char *)harness_bin("ember-aggregator", bin, sizeof bin),
                      "--data-dir",
                      dir,
                      "--http-listen",
                      http,
                      "--ingest-listen",
                      ingest};
    size_t n = 7;
    for (size_t i = 0; extra && extra[i] && n + 1 < sizeof argv / sizeof argv[0]; i++)
        argv[n++] = (char *)extra[i];
    argv[n] = NULL;
    return spawn_until_ready(name, argv, api_port, 20000);
}

pid_t harness_spawn_prometheus(const char *name, const char *cfg, const char *data_dir,
                               unsigned port, const char *const *extra)
{
    char cfgflag[600], dataflag[600], listen[64];
    snprintf(cfgflag, sizeof cfgflag, "--config.file=%s", cfg);
    snprintf(dataflag, sizeof dataflag, "--storage.tsdb.path=%s", data_dir);
    snprintf(listen, sizeof listen, "--web.listen-address=127.0.0.1:%u", port);
    char *argv[16] = {HARNESS_PROMETHEUS, cfgflag, dataflag, listen};
    size_t n = 4;
    for (size_t i = 0; extra && extra[i] && n + 1 < sizeof argv / sizeof argv[0]; i++)
        argv[n++] = (char *)extra[i];
    argv[n] = NULL;
    return spawn_until_ready(name, argv, port, 30000);
}
