/*
 * fuzz target: the aggregator's decoder of nng messages (zstd + protobuf
 * Envelope + batch checks).  Whatever the bytes, decoding must not crash or
 * leak, and a batch that passes the checks must yield valid label sets for
 * every series.
 */
#include "proto/wire.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    Ember__Envelope *env = wire_decode_envelope(data, size, err, sizeof err);
    if (!env)
        return 0;
    if (env->body_case == EMBER__ENVELOPE__BODY_BATCH) {
        for (size_t i = 0; i < env->batch->n_series; i++) {
            labelset ls;
            labels_init(&ls);
            wire_series_labels(env->batch, i, &ls);
            if (!labels_metric_name(&ls) || labels_find_dup(&ls))
                abort(); /* the checks let a bad series through */
            labels_free(&ls);
        }
    }
    wire_envelope_free(env);
    return 0;
}
