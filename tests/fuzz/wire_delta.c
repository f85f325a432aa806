/*
 * fuzz target: proto/wire_delta.c, the aggregator's reading of a batch sent
 * against a base — the skippable-frame header, then the zstd frame
 * decompressed with the base as prefix and decoded.  The base is fixed (a
 * realistic batch built once); every input is a whole message, decoded
 * against it when its header names a base (whatever seq it names: the
 * aggregator's lookup by seq is ingest.c's).  Nothing may crash, leak or
 * read out of bounds, and a message that decodes must survive the way back:
 * encoded again (same base, same flags, then with an after_seq added), its
 * header reads the same, it decompresses to the same bytes, and after_seq
 * comes out as put in.
 */
#include "common/expfmt.h"
#include "proto/wire.h"
#include "proto/wire_delta.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define BASE_SEQ 7

/* The fixed base: the raw Envelope of a batch an agent might send. */
static const wire_base *fixed_base(void)
{
    static wire_base base;
    if (base.seq)
        return &base;
    metric_set ms;
    metric_set_init(&ms);
    metric_set_meta(&ms, "DCGM_FI_DEV_GPU_UTIL", METRIC_GAUGE, "GPU utilization (in %).");
    metric_set_meta(&ms, "node_cpu_seconds_total", METRIC_COUNTER, "Seconds the CPUs spent.");
    for (int i = 0; i < 8; i++) {
        char gpu[8];
        snprintf(gpu, sizeof gpu, "%d", i);
        metric_set_addl(&ms, "DCGM_FI_DEV_GPU_UTIL", 40.0 + i, "gpu", gpu, "instance", "node-1",
                        "modelName", "NVIDIA H100 80GB HBM3", NULL);
        metric_set_addl(&ms, "node_cpu_seconds_total", 1234.5 * i, "cpu", gpu, "mode", "idle",
                        "instance", "node-1", NULL);
    }
    ebuf m;
    ebuf_init(&m);
    wire_encode_batch(&m, "node-1", BASE_SEQ, &ms, 1700000000000);
    char err[256];
    size_t len;
    uint8_t *raw = wire_decompress(m.data, m.len, NULL, 0, &len, err, sizeof err);
    if (!raw)
        abort(); /* our own batch does not decompress */
    wire_base_set(&base, BASE_SEQ, raw, len);
    free(raw);
    ebuf_free(&m);
    metric_set_free(&ms);
    return &base;
}

/* Encode raw again as the agent would and read it back as the aggregator
 * does: the header, the bytes and (when added) after_seq must come back. */
static void round_trip(const uint8_t *raw, size_t rawlen, const wire_base *base, uint32_t flags,
                       uint64_t after)
{
    ebuf out;
    ebuf_init(&out);
    wire_base sent = {0};
    wire_delta_encode(&out, raw, rawlen, base, flags, after, &sent);
    uint64_t seq2;
    uint32_t flags2;
    size_t frame;
    char err[256];
    int h = wire_delta_header(out.data, out.len, &seq2, &flags2, &frame, err, sizeof err);
    bool want_header = base || flags;
    if (h != (want_header ? 1 : 0) || seq2 != (base ? base->seq : 0) || flags2 != flags)
        abort(); /* the header does not read back */
    size_t len2;
    uint8_t *raw2 = wire_decompress(out.data + frame, out.len - frame, base ? base->raw : NULL,
                                    base ? base->len : 0, &len2, err, sizeof err);
    if (!raw2 || len2 < rawlen || memcmp(raw2, raw, rawlen) != 0 || len2 != sent.len ||
        memcmp(raw2, sent.raw, len2) != 0 || (!after && len2 != rawlen))
        abort(); /* not the bytes encoded, or not what the receiver keeps */
    Ember__Envelope *env = wire_decode_raw(raw2, len2, err, sizeof err);
    if (!env || env->after_seq != (after ? after : env->after_seq))
        abort(); /* a decodable Envelope no longer decodes, or lost after_seq */
    wire_envelope_free(env);
    free(raw2);
    wire_base_clear(&sent);
    ebuf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const wire_base *fixed = fixed_base();
    uint64_t base_seq;
    uint32_t flags;
    size_t frame;
    char err[256];
    if (wire_delta_header(data, size, &base_seq, &flags, &frame, err, sizeof err) < 0)
        return 0;
    if (frame > size)
        abort(); /* the frame would start past the message */
    size_t rawlen;
    uint8_t *raw = wire_decompress(data + frame, size - frame, base_seq ? fixed->raw : NULL,
                                   base_seq ? fixed->len : 0, &rawlen, err, sizeof err);
    Ember__Envelope *env = raw ? wire_decode_raw(raw, rawlen, err, sizeof err) : NULL;
    if (env) {
        wire_base named = {.seq = base_seq, .raw = fixed->raw, .len = fixed->len};
        const wire_base *b = base_seq ? &named : NULL;
        round_trip(raw, rawlen, b, flags, 0);
        uint64_t after = size >= 8 ? (uint64_t)data[size - 1] << 40 | data[size - 2] : 1;
        round_trip(raw, rawlen, b, flags, after ? after : 1);
        wire_envelope_free(env);
    }
    free(raw);
    return 0;
}
