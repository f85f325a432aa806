/*
 * import.c — libFuzzer target for POST /api/v1/import/prometheus, the
 * handler itself on a real store in a temporary directory (opened once,
 * unsynced, so the fuzzer keeps its pace).
 *
 * Properties checked on every input (abort() on a violation): the answer is
 * 200 with accepted and rejected counts, and since a line holds at most one
 * sample, accepted + rejected never exceeds the number of lines.
 */
#include "aggregator/http/api.h"
#include "common/fsutil.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static aggregator agg;
static char dir[256];

/* RocksDB's threads must stop before the process's destructors run. */
static void close_store(void)
{
    tsdb_close(agg.db);
    fs_rmtree(dir);
}

static void open_store(void)
{
    char err[256];
    tsdb_options o = {.sync = false, .maint_interval_ms = -1};
    if (fs_mkdtemp(dir, sizeof dir, "ember-fuzz-import") != 0 ||
        tsdb_open(dir, &o, &agg.db, err, sizeof err) != 0)
        abort();
    atexit(close_store);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!agg.db)
        open_store();
    char *body = malloc(size + 1);
    if (!body)
        abort();
    memcpy(body, data, size);
    body[size] = 0;
    httpd_request req = {
        .method = "POST", .path = "/api/v1/import/prometheus", .body = body, .body_len = size};
    httpd_response resp = {.status = 200};
    ebuf_init(&resp.body);
    api_handle_import(&agg, &req, &resp);
    if (resp.status != 200 || !strstr(resp.body.data, "\"accepted\":"))
        abort();
    size_t lines = 1;
    for (size_t i = 0; i < size; i++)
        lines += data[i] == '\n';
    /* The counts come before any echoed input in the answer. */
    const char *a = strstr(resp.body.data, "\"accepted\":");
    const char *r = strstr(resp.body.data, "\"rejected\":");
    if (!r)
        abort();
    unsigned long long na = strtoull(a + 11, NULL, 10), nr = strtoull(r + 11, NULL, 10);
    if (na + nr > lines) {
        fprintf(stderr, "%llu + %llu samples for %zu lines\n", na, nr, lines);
        abort();
    }
    ebuf_free(&resp.body);
    free(body);
    return 0;
}
