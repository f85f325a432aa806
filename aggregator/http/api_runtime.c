/*
 * api_runtime.c — GET /api/v1/status/runtimeinfo and /api/v1/status/flags
 * in Prometheus's shapes.
 *
 * runtimeinfo keeps Prometheus's field names, Go's included, so tools that
 * read them work: goroutineCount is our thread count, GOMAXPROCS the CPUs
 * online, GOGC and GODEBUG are empty.  The configuration is read once at
 * start, so lastConfigTime is the start time and reloadConfigSuccess true.
 * flags is every setting of the options table with its effective value as
 * a string (sorted by name, as Go writes a map); secrets are not shown.
 */
#include "aggregator/http/api.h"

#include "common/etime.h"
#include "common/json.h"
#include "common/mem.h"

#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Go's time.Time JSON (RFC 3339 with the fraction's trailing zeros cut),
 * in UTC. */
static void json_time(ebuf *out, int64_t ms)
{
    char t[40];
    format_rfc3339_ms(t, sizeof t, ms); /* ...:SS.mmmZ */
    size_t n = strlen(t) - 1;           /* drop the Z, cut zeros, then the dot */
    while (n > 0 && t[n - 1] == '0')
        n--;
    if (n > 0 && t[n - 1] == '.')
        n--;
    ebuf_printf(out, "\"%.*sZ\"", (int)n, t);
}

static int thread_count(void)
{
    DIR *d = opendir("/proc/self/task");
    int n = 0;
    if (!d)
        return 1;
    for (struct dirent *e; (e = readdir(d));)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

void api_handle_runtimeinfo(void *ctx, const httpd_request *req, httpd_response *resp)
{
    (void)req;
    aggregator *agg = ctx;
    char cwd[4096], retention[32] = "";
    if (!getcwd(cwd, sizeof cwd))
        cwd[0] = '\0';
    if (agg->retention_ms > 0)
        format_duration_ms(retention, sizeof retention, agg->retention_ms);
    ebuf *b = &resp->body;
    resp->content_type = HTTPD_CONTENT_TYPE_JSON;
    ebuf_puts(b, "{\"status\":\"success\",\"data\":{\"startTime\":");
    json_time(b, agg->start_time_ms);
    ebuf_puts(b, ",\"CWD\":");
    json_string(b, cwd);
    ebuf_puts(b, ",\"reloadConfigSuccess\":true,\"lastConfigTime\":");
    json_time(b, agg->start_time_ms);
    ebuf_printf(b,
                ",\"corruptionCount\":0,\"goroutineCount\":%d,\"GOMAXPROCS\":%ld,\"GOGC\":\"\","
                "\"GODEBUG\":\"\",\"storageRetention\":",
                thread_count(), sysconf(_SC_NPROCESSORS_ONLN));
    json_string(b, retention);
    ebuf_puts(b, "}}");
}

/* Sizes as Go's units.Base2Bytes prints them: "64MiB", "1GiB512MiB", "0B". */
static void format_bytes(ebuf *out, int64_t n)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    char parts[7][32];
    int np = 0;
    for (int i = 0; i < 7 && (n != 0 || i == 0); i++, n /= 1024)
        if (n % 1024 != 0 || (i == 0 && n == 0))
            snprintf(parts[np++], sizeof parts[0], "%" PRId64 "%s", n % 1024, units[i]);
    while (np > 0)
        ebuf_puts(out, parts[--np]);
}

/* Flags whose values are credentials (or their hashes). */
static bool is_secret(const opt_spec *s)
{
    return strstr(s->name, "token") != NULL;
}

static void format_list(ebuf *out, const opt_spec *s)
{
    if (s->kind == OPT_STRLIST) {
        const strlist *l = s->target;
        for (size_t i = 0; i < l->n; i++)
            ebuf_printf(out, "%s%s", i ? "," : "", l->v[i]);
        return;
    }
    const labelset *ls = s->target;
    for (size_t i = 0; i < ls->n; i++)
        ebuf_printf(out, "%s%s=%s", i ? "," : "", ls->v[i].name, ls->v[i].value);
}

/* The effective value of one setting, as text. */
static void format_flag(ebuf *out, const opt_spec *s)
{
    char d[32];
    switch (s->kind) {
    case OPT_STRING:
    case OPT_DIR:
    case OPT_FILE: {
        const char *v = *(char *const *)s->target;
        ebuf_puts(out, v ? v : "");
        break;
    }
    case OPT_DURATION:
        format_duration_ms(d, sizeof d, *(const int64_t *)s->target);
        ebuf_puts(out, d);
        break;
    case OPT_INT: ebuf_printf(out, "%" PRId64, *(const int64_t *)s->target); break;
    case OPT_BYTES: format_bytes(out, *(const int64_t *)s->target); break;
    case OPT_BOOL: ebuf_puts(out, *(const bool *)s->target ? "true" : "false"); break;
    case OPT_STRLIST:
    case OPT_LABELS: format_list(out, s); break;
    case OPT_SECTION: break; /* config-file only: not a flag */
    }
}

static int cmp_spec(const void *a, const void *b)
{
    return strcmp((*(const opt_spec *const *)a)->name, (*(const opt_spec *const *)b)->name);
}

void api_handle_flags(void *ctx, const httpd_request *req, httpd_response *resp)
{
    (void)req;
    aggregator *agg = ctx;
    const opt_spec **sorted = em_malloc((agg->nflags ? agg->nflags : 1) * sizeof *sorted);
    size_t n = 0;
    for (size_t i = 0; i < agg->nflags; i++)
        if (agg->flags[i].kind != OPT_SECTION)
            sorted[n++] = &agg->flags[i];
    qsort(sorted, n, sizeof *sorted, cmp_spec);
    ebuf value;
    ebuf_init(&value);
    resp->content_type = HTTPD_CONTENT_TYPE_JSON;
    ebuf_puts(&resp->body, "{\"status\":\"success\",\"data\":{");
    for (size_t i = 0; i < n; i++) {
        ebuf_reset(&value);
        format_flag(&value, sorted[i]);
        if (is_secret(sorted[i]) && value.len) {
            ebuf_reset(&value);
            ebuf_puts(&value, "<secret>");
        }
        if (i)
            ebuf_putc(&resp->body, ',');
        json_string(&resp->body, sorted[i]->name);
        ebuf_putc(&resp->body, ':');
        json_string(&resp->body, value.len ? value.data : "");
    }
    ebuf_puts(&resp->body, "}}");
    ebuf_free(&value);
    free(sorted);
}
