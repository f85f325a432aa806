/*
 * remote_write.c — libFuzzer target for POST /api/v1/write: snappy and
 * protobuf decoding, label and time validation and the commit, through the
 * handler itself on a real store in a temporary directory (opened once,
 * unsynced, so the fuzzer keeps its pace).
 *
 * Properties checked on every input (abort() on a violation): the answer is
 * 204, 400 or 500; a 204 applied every sample received; a 400 either
 * decoded nothing or refused at least one sample, and applied + rejected
 * always equals received.
 */
#include "aggregator/http/api.h"
#include "common/fsutil.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static tsdb *db;
static char dir[256];

/* RocksDB's threads must stop before the process's destructors run. */
static void close_store(void)
{
    tsdb_close(db);
    fs_rmtree(dir);
}

static void open_store(void)
{
    char err[256];
    tsdb_options o = {.sync = false, .maint_interval_ms = -1, .retention_ms = 24 * 3600 * 1000LL};
    if (fs_mkdtemp(dir, sizeof dir, "ember-fuzz-rw") != 0 ||
        tsdb_open(dir, &o, &db, err, sizeof err) != 0)
        abort();
    atexit(close_store);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!db)
        open_store();
    api_write_result res;
    int status = api_remote_write(db, (const char *)data, size, &res);
    if (status != 204 && status != 400 && status != 500)
        abort();
    if (status == 204 && (res.rejected || res.applied != res.received))
        abort();
    if (status == 400 && res.received && !res.rejected)
        abort();
    if (status != 500 && res.applied + res.rejected != res.received) {
        fprintf(stderr, "%llu + %llu != %llu\n", (unsigned long long)res.applied,
                (unsigned long long)res.rejected, (unsigned long long)res.received);
        abort();
    }
    return 0;
}
