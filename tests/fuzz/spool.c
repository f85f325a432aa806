/*
 * fuzz target: the agent's spool scanner, which reads segment files a
 * crash, a full disk or a bad disk may have left in any state.  The input
 * becomes one segment file; opening the spool must never crash, every record
 * it then returns must be readable, in seq order, and acknowledging them all
 * must leave nothing pending.
 */
#include "common/spool.h"
#include "common/fsutil.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char dir[256], path[320], err[300];
    if (fs_mkdtemp(dir, sizeof dir, "ember-fuzz-spool") != 0)
        abort();
    snprintf(path, sizeof path, "%s/00000000000000000001.seg", dir);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, size, f) != size)
        abort();
    fclose(f);
    spool *s;
    if (spool_open(dir, NULL, &s, err, sizeof err) != SPOOL_OK)
        abort();
    uint64_t after = 0;
    spool_record r;
    int got;
    while ((got = spool_read_after(s, after, &r, err, sizeof err)) == 1) {
        if (r.seq <= after)
            abort(); /* records must come back in strictly increasing seq order */
        after = r.seq;
        free(r.data);
    }
    if (got < 0)
        abort(); /* an indexed record must be readable */
    if (after && spool_ack(s, after, err, sizeof err) != SPOOL_OK)
        abort();
    spool_stats st;
    spool_get_stats(s, &st);
    if (st.pending != 0)
        abort();
    spool_close(s);
    fs_rmtree(dir);
    return 0;
}
