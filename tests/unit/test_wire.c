/* test_wire.c — Batch/Hello/Ack encoding and the checks of the decoder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/mem.h"
#include "proto/wire.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

static void sample_set(metric_set *ms)
{
    metric_set_init(ms);
    metric_set_meta(ms, "gpu_utilization_percent", METRIC_GAUGE, "GPU utilization.");
    metric_set_addl(ms, "gpu_utilization_percent", 42.5, "gpu_id", "gpu0", "instance", "n1", NULL);
    metric_set_addl(ms, "gpu_utilization_percent", NAN, "gpu_id", "gpu1", "instance", "n1", NULL);
    metric_set_addl(ms, "gpu_utilization_percent", -INFINITY, "gpu_id", "gpu2", "instance", "n1",
                    NULL);
}

static void test_batch_round_trip(void **state)
{
    metric_set ms;
    sample_set(&ms);
    ms.samples[0].has_ts = true;
    ms.samples[0].ts_ms = -5; /* negative timestamps survive */
    ebuf m;
    ebuf_init(&m);
    wire_encode_batch(&m, "agent-1", 7, &ms, 1700000000000);

    char err[256];
    Ember__Envelope *env = wire_decode_envelope(m.data, m.len, err, sizeof err);
    assert_non_null(env);
    assert_int_equal(env->body_case, EMBER__ENVELOPE__BODY_BATCH);
    Ember__Batch *b = env->batch;
    assert_string_equal(b->agent_id, "agent-1");
    assert_int_equal(b->seq, 7);
    assert_int_equal(b->n_series, 3);
    /* each distinct string once: "", __name__, metric, gpu_id, gpu0..2, instance, n1, help */
    assert_int_equal(b->n_symbols, 10);
    labelset ls;
    labels_init(&ls);
    wire_series_labels(b, 1, &ls);
    assert_string_equal(labels_metric_name(&ls), "gpu_utilization_percent");
    assert_string_equal(labels_get(&ls, "gpu_id"), "gpu1");
    labels_free(&ls);
    assert_int_equal(b->series[0]->samples[0]->timestamp_ms, -5);
    assert_int_equal(b->series[1]->samples[0]->timestamp_ms, 1700000000000);
    assert_true(b->series[0]->samples[0]->value == 42.5);
    assert_true(isnan(b->series[1]->samples[0]->value));
    assert_true(isinf(b->series[2]->samples[0]->value));
    assert_int_equal(b->n_metadata, 1);
    assert_string_equal(b->symbols[b->metadata[0]->family_ref], "gpu_utilization_percent");
    assert_int_equal(b->metadata[0]->type, EMBER__METRIC_TYPE__GAUGE);
    wire_envelope_free(env);
    ebuf_free(&m);
    metric_set_free(&ms);
}

static void test_hello_round_trip(void **state)
{
    labelset sl;
    labels_init(&sl);
    labels_add(&sl, "cluster", "c1");
    ebuf m;
    ebuf_init(&m);
    wire_encode_hello(&m, "agent-1", "0.1.0", &sl, "secret");
    char err[256];
    Ember__Envelope *env = wire_decode_envelope(m.data, m.len, err, sizeof err);
    assert_non_null(env);
    assert_int_equal(env->body_case, EMBER__ENVELOPE__BODY_HELLO);
    assert_string_equal(env->hello->agent_id, "agent-1");
    assert_string_equal(env->hello->token, "secret");
    assert_int_equal(env->hello->n_static_labels, 1);
    assert_string_equal(env->hello->static_labels[0]->value, "c1");
    wire_envelope_free(env);
    ebuf_free(&m);
    labels_free(&sl);
}

static void test_ack_round_trip(void **state)
{
    ebuf m;
    ebuf_init(&m);
    wire_encode_ack(&m, 99, EMBER__ACK__STATUS__REJECTED, "bad", 0);
    Ember__Ack *a = wire_decode_ack(m.data, m.len);
    assert_non_null(a);
    assert_int_equal(a->seq, 99);
    assert_int_equal(a->status, EMBER__ACK__STATUS__REJECTED);
    assert_string_equal(a->reason, "bad");
    ember__ack__free_unpacked(a, NULL);
    ebuf_free(&m);
}

/* Compress a hand-built Envelope so the decoder's checks can be probed. */
static void pack(ebuf *out, Ember__Envelope *env)
{
    size_t n = ember__envelope__get_packed_size(env);
    uint8_t *raw = em_malloc(n);
    ember__envelope__pack(env, raw);
    ebuf_reserve(out, ZSTD_compressBound(n));
    out->len = ZSTD_compress(out->data, out->cap, raw, n, 1);
    free(raw);
}

static void expect_rejected(Ember__Batch *b, const char *needle)
{
    Ember__Envelope env = EMBER__ENVELOPE__INIT;
    env.body_case = EMBER__ENVELOPE__BODY_BATCH;
    env.batch = b;
    ebuf m;
    ebuf_init(&m);
    pack(&m, &env);
    char err[256] = "";
    assert_null(wire_decode_envelope(m.data, m.len, err, sizeof err));
    if (!strstr(err, needle))
        fail_msg("error \"%s\" does not mention \"%s\"", err, needle);
    ebuf_free(&m);
}

static void test_decoder_rejects_bad_batches(void **state)
{
    char *syms[] = {"", "__name__", "m", "l", "\xff\xfe", "bad-name"};
    uint32_t refs_ok[] = {1, 2};
    uint32_t refs_out_of_range[] = {1, 17};
    uint32_t refs_odd[] = {1, 2, 3};
    uint32_t refs_bad_utf8[] = {1, 2, 3, 4};
    uint32_t refs_bad_name[] = {1, 2, 5, 2};
    uint32_t refs_no_name[] = {3, 2};
    uint32_t refs_dup[] = {1, 2, 3, 2, 3, 1};
    Ember__Series s = EMBER__SERIES__INIT;
    Ember__Series *sp = &s;
    Ember__Batch b = EMBER__BATCH__INIT;
    b.agent_id = "a";
    b.seq = 1;
    b.symbols = syms;
    b.n_symbols = 4; /* without the invalid UTF-8 symbol at first */
    b.series = &sp;
    b.n_series = 1;

    s.label_refs = refs_out_of_range;
    s.n_label_refs = 2;
    expect_rejected(&b, "out of range");
    s.label_refs = refs_odd;
    s.n_label_refs = 3;
    expect_rejected(&b, "odd");
    s.label_refs = refs_no_name;
    s.n_label_refs = 2;
    expect_rejected(&b, "metric name");
    s.label_refs = refs_dup;
    s.n_label_refs = 6;
    expect_rejected(&b, "duplicate");
    b.n_symbols = 6;
    s.label_refs = refs_bad_utf8;
    s.n_label_refs = 4;
    expect_rejected(&b, "UTF-8");
    syms[4] = "fine";
    s.label_refs = refs_bad_name;
    expect_rejected(&b, "bad-name");

    s.label_refs = refs_ok;
    s.n_label_refs = 2;
    b.seq = 0;
    expect_rejected(&b, "seq");
    b.seq = 1;
    b.agent_id = "";
    expect_rejected(&b, "agent_id");
    b.agent_id = "a";
    syms[0] = "x";
    expect_rejected(&b, "empty string");
}

static void test_decoder_rejects_bad_frames(void **state)
{
    char err[256];
    assert_null(wire_decode_envelope("garbage!", 8, err, sizeof err));
    assert_non_null(strstr(err, "zstd"));
    assert_null(wire_decode_envelope("", 0, err, sizeof err));

    /* a frame that does not declare its size (streaming API) */
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    char src[64] = {0}, dst[256];
    ZSTD_outBuffer out = {dst, sizeof dst, 0};
    ZSTD_inBuffer in = {src, sizeof src, 0};
    ZSTD_compressStream2(cc, &out, &in, ZSTD_e_continue); /* size unknown at frame start */
    ZSTD_inBuffer none = {src, 0, 0};
    ZSTD_compressStream2(cc, &out, &none, ZSTD_e_end);
    ZSTD_freeCCtx(cc);
    assert_null(wire_decode_envelope(dst, out.pos, err, sizeof err));
    assert_non_null(strstr(err, "content size"));

    /* valid zstd around bytes that are not an Envelope */
    char junk[32];
    memset(junk, 0xff, sizeof junk);
    size_t n = ZSTD_compress(dst, sizeof dst, junk, sizeof junk, 1);
    assert_null(wire_decode_envelope(dst, n, err, sizeof err));
    assert_non_null(strstr(err, "protobuf"));

    /* an empty Envelope */
    Ember__Envelope env = EMBER__ENVELOPE__INIT;
    ebuf m;
    ebuf_init(&m);
    pack(&m, &env);
    assert_null(wire_decode_envelope(m.data, m.len, err, sizeof err));
    assert_non_null(strstr(err, "no body"));
    ebuf_free(&m);
}

static void test_truncations_never_crash(void **state)
{
    metric_set ms;
    sample_set(&ms);
    ebuf m;
    ebuf_init(&m);
    wire_encode_batch(&m, "agent-1", 3, &ms, 1);
    char err[256];
    for (size_t cut = 0; cut < m.len; cut++)
        assert_null(wire_decode_envelope(m.data, cut, err, sizeof err));
    ebuf_free(&m);
    metric_set_free(&ms);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batch_round_trip),
        cmocka_unit_test(test_hello_round_trip),
        cmocka_unit_test(test_ack_round_trip),
        cmocka_unit_test(test_decoder_rejects_bad_batches),
        cmocka_unit_test(test_decoder_rejects_bad_frames),
        cmocka_unit_test(test_truncations_never_crash),
    };
    return cmocka_run_group_tests_name("wire", tests, NULL, NULL);
}
