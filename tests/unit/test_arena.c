/*
 * test_arena.c — the bump allocator (common/arena.c): alignment, blocks
 * bigger than the default, many small pieces, reuse after reset, and the
 * protobuf-c allocator shape decoding a real message.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/arena.h"
#include "proto/remote.pb-c.h"

#include <stdalign.h>
#include <string.h>

static void test_alignment_and_sizes(void **state)
{
    (void)state;
    arena a;
    arena_init(&a);
    char *prev = NULL;
    for (size_t n = 1; n < 5000; n += 37) {
        char *p = arena_alloc(&a, n);
        assert_int_equal((uintptr_t)p % alignof(max_align_t), 0);
        memset(p, 0xab, n); /* writable, every byte (ASan checks) */
        assert_ptr_not_equal(p, prev);
        prev = p;
    }
    char *big = arena_alloc(&a, 1 << 20); /* larger than a block */
    memset(big, 1, 1 << 20);
    arena_reset(&a);
    assert_null(a.blocks);
    assert_non_null(arena_alloc(&a, 16)); /* usable again */
    arena_reset(&a);
}

/* A remote-write request packed, then unpacked through an arena: the
 * fields read back, and one reset frees it all (LeakSanitizer checks). */
static void test_protobuf_through_arena(void **state)
{
    (void)state;
    Prometheus__Label l = PROMETHEUS__LABEL__INIT;
    l.name = "__name__";
    l.value = "up";
    Prometheus__Label *lp = &l;
    Prometheus__Sample s = PROMETHEUS__SAMPLE__INIT;
    s.value = 1;
    s.timestamp = 1700000000000;
    Prometheus__Sample *sp = &s;
    Prometheus__TimeSeries ts = PROMETHEUS__TIME_SERIES__INIT;
    ts.n_labels = 1;
    ts.labels = &lp;
    ts.n_samples = 1;
    ts.samples = &sp;
    Prometheus__TimeSeries *tsp = &ts;
    Prometheus__WriteRequest wr = PROMETHEUS__WRITE_REQUEST__INIT;
    wr.n_timeseries = 1;
    wr.timeseries = &tsp;
    uint8_t buf[256];
    size_t n = prometheus__write_request__pack(&wr, buf);
    arena a;
    arena_init(&a);
    ProtobufCAllocator alloc = {arena_pb_alloc, arena_pb_free, &a};
    Prometheus__WriteRequest *got = prometheus__write_request__unpack(&alloc, n, buf);
    assert_non_null(got);
    assert_int_equal(got->n_timeseries, 1);
    assert_string_equal(got->timeseries[0]->labels[0]->value, "up");
    assert_int_equal(got->timeseries[0]->samples[0]->timestamp, 1700000000000);
    arena_reset(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alignment_and_sizes),
        cmocka_unit_test(test_protobuf_through_arena),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
