/*
 * test_agent.c — agent plumbing: scrape target specs, the persisted batch
 * seq (survives restarts, never reused, torn writes impossible), and the
 * sender draining a real disk spool to a real nng REP socket on loopback.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "agent/agent.h"
#include "agent/sender.h"
#include "common/fsutil.h"
#include "proto/wire.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/supplemental/util/platform.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_scrape_target_specs(void **state)
{
    scrape_target t;
    char err[256];
    assert_int_equal(
        scrape_target_parse("gpusim=http://127.0.0.1:9400/metrics", &t, err, sizeof err), 0);
    assert_string_equal(t.job, "gpusim");
    assert_string_equal(t.url, "http://127.0.0.1:9400/metrics");
    scrape_target_free(&t);
    assert_int_equal(
        scrape_target_parse("http://localhost:8000/metrics?x=a=b", &t, err, sizeof err), 0);
    assert_string_equal(t.job, "localhost:8000");
    assert_string_equal(t.url, "http://localhost:8000/metrics?x=a=b");
    scrape_target_free(&t);
    assert_int_equal(scrape_target_parse("ftp://x/metrics", &t, err, sizeof err), -1);
    assert_non_null(strstr(err, "ftp://x/metrics"));
    assert_int_equal(scrape_target_parse("job=", &t, err, sizeof err), -1);
    assert_int_equal(scrape_target_parse("=http://x:1/m", &t, err, sizeof err), -1);
}

static void test_seq_persists(void **state)
{
    char dir[256], err[256];
    assert_int_equal(fs_mkdtemp(dir, sizeof dir, "ember-agent-seq"), 0);
    uint64_t next = 0;
    assert_int_equal(seq_load(dir, &next, err, sizeof err), 0);
    assert_int_equal(next, 1); /* fresh state starts at 1 */
    assert_int_equal(seq_store(dir, 42, err, sizeof err), 0);
    assert_int_equal(seq_load(dir, &next, err, sizeof err), 0);
    assert_int_equal(next, 42);

    char path[300];
    snprintf(path, sizeof path, "%s/seq", dir);
    FILE *f = fopen(path, "w");
    fputs("garbage", f);
    fclose(f);
    assert_int_equal(seq_load(dir, &next, err, sizeof err), -1);
    assert_non_null(strstr(err, path));
    assert_int_equal(seq_store("/proc/ember-none", 1, err, sizeof err), -1);
    fs_rmtree(dir);
}

/* A real REP socket that acks OK, RETRY or REJECTED as told. */
typedef struct fake_aggregator {
    nng_socket sock;
    char url[64];
} fake_aggregator;

static void rep_open(fake_aggregator *a)
{
    assert_int_equal(nng_rep0_open(&a->sock), 0);
    nng_socket_set_ms(a->sock, NNG_OPT_RECVTIMEO, 5000);
    nng_listener l;
    assert_int_equal(nng_listen(a->sock, "tcp://127.0.0.1:0", &l, 0), 0);
    int port = 0;
    nng_listener_get_int(l, NNG_OPT_TCP_BOUND_PORT, &port);
    snprintf(a->url, sizeof a->url, "tcp://127.0.0.1:%d", port);
}

/* Receive one request, answer it; returns the seq of a batch (0 for hello). */
static uint64_t rep_answer(fake_aggregator *a, Ember__Ack__Status st)
{
    char *buf;
    size_t n;
    assert_int_equal(nng_recv(a->sock, &buf, &n, NNG_FLAG_ALLOC), 0);
    char err[256];
    Ember__Envelope *env = wire_decode_envelope(buf, n, err, sizeof err);
    nng_free(buf, n);
    assert_non_null(env);
    uint64_t seq = env->body_case == EMBER__ENVELOPE__BODY_BATCH ? env->batch->seq : 0;
    wire_envelope_free(env);
    ebuf ack;
    ebuf_init(&ack);
    wire_encode_ack(&ack, seq, seq ? st : EMBER__ACK__STATUS__OK, "test", 1);
    assert_int_equal(nng_send(a->sock, ack.data, ack.len, 0), 0);
    ebuf_free(&ack);
    return seq;
}

static void enqueue(sender *s, uint64_t seq)
{
    metric_set ms;
    metric_set_init(&ms);
    metric_set_addl(&ms, "m", (double)seq, NULL);
    ebuf m;
    ebuf_init(&m);
    wire_encode_batch(&m, "agent", seq, &ms, 1000);
    assert_int_equal(sender_enqueue(s, &m, seq, 1), SPOOL_OK);
    ebuf_free(&m);
    metric_set_free(&ms);
}

typedef struct flush_args {
    sender *s;
    size_t left;
} flush_args;

static void flush_thread(void *arg)
{
    flush_args *f = arg;
    f->left = sender_flush(f->s);
}

static spool *open_spool(char *dir, size_t len, const spool_options *o)
{
    spool *sp;
    char err[256];
    assert_int_equal(fs_mkdtemp(dir, len, "ember-sender"), 0);
    assert_int_equal(spool_open(dir, o, &sp, err, sizeof err), SPOOL_OK);
    return sp;
}

static void test_sender_in_order_with_retry_and_reject(void **state)
{
    fake_aggregator a;
    rep_open(&a);
    char dir[256], err[256];
    spool *sp = open_spool(dir, sizeof dir, NULL);
    sender *s;
    assert_int_equal(sender_open(a.url, "agent", NULL, &(sender_options){.timeout_ms = 2000}, sp,
                                 &s, err, sizeof err),
                     0);
    for (uint64_t seq = 1; seq <= 3; seq++)
        enqueue(s, seq);

    flush_args f = {.s = s};
    nng_thread *th;
    nng_thread_create(&th, flush_thread, &f);
    assert_int_equal(rep_answer(&a, 0), 0);                         /* hello */
    assert_int_equal(rep_answer(&a, EMBER__ACK__STATUS__OK), 1);    /* acked */
    assert_int_equal(rep_answer(&a, EMBER__ACK__STATUS__RETRY), 2); /* stays spooled */
    nng_thread_destroy(th);
    assert_int_equal(f.left, 2);

    /* the agent restarts: the spool resumes after the acknowledged batch */
    sender_close(s);
    spool_close(sp);
    assert_int_equal(spool_open(dir, NULL, &sp, err, sizeof err), SPOOL_OK);
    assert_int_equal(sender_open(a.url, "agent", NULL, &(sender_options){.timeout_ms = 2000}, sp,
                                 &s, err, sizeof err),
                     0);
    f.s = s;
    nng_thread_create(&th, flush_thread, &f);
    assert_int_equal(rep_answer(&a, 0), 0);                            /* hello again */
    assert_int_equal(rep_answer(&a, EMBER__ACK__STATUS__REJECTED), 2); /* same seq, dropped */
    assert_int_equal(rep_answer(&a, EMBER__ACK__STATUS__OK), 3);
    nng_thread_destroy(th);
    assert_int_equal(f.left, 0);

    sender_stats st;
    sender_get_stats(s, &st);
    assert_int_equal(st.acked, 1);
    assert_int_equal(st.rejected, 1);
    assert_int_equal(st.spool.pending, 0);
    assert_int_equal(st.spool.acked_seq, 3);
    sender_close(s);
    spool_close(sp);
    fs_rmtree(dir);
    nng_close(a.sock);
}

static void test_sender_outage_keeps_batches_on_disk(void **state)
{
    char dir[256], err[256];
    spool_options o = {.max_bytes = 1 << 20};
    spool *sp = open_spool(dir, sizeof dir, &o);
    sender *s;
    /* nobody listens here: everything stays spooled */
    assert_int_equal(sender_open("tcp://127.0.0.1:1", "agent", NULL,
                                 &(sender_options){.timeout_ms = 100}, sp, &s, err, sizeof err),
                     0);
    for (uint64_t seq = 1; seq <= 5; seq++)
        enqueue(s, seq);
    assert_int_equal(sender_flush(s), 5);
    sender_stats st;
    sender_get_stats(s, &st);
    assert_int_equal(st.spool.pending, 5);
    assert_int_equal(st.spool.pending_samples, 5);
    assert_true(st.failed_attempts >= 1);
    sender_close(s);
    spool_close(sp);
    fs_rmtree(dir);
}

static void test_sender_fails_over_to_the_next_aggregator(void **state)
{
    fake_aggregator b;
    rep_open(&b);
    char dir[256], err[256], urls[160];
    spool *sp = open_spool(dir, sizeof dir, NULL);
    /* the first address has nobody listening */
    snprintf(urls, sizeof urls, "tcp://127.0.0.1:1, %s", b.url);
    sender *s;
    assert_int_equal(sender_open(urls, "agent", NULL, &(sender_options){.timeout_ms = 300}, sp, &s,
                                 err, sizeof err),
                     0);
    assert_string_equal(sender_current_url(s), "tcp://127.0.0.1:1");
    enqueue(s, 1);
    assert_int_equal(sender_flush(s), 1); /* no answer: fail over, keep the batch */
    assert_string_equal(sender_current_url(s), b.url);

    flush_args f = {.s = s};
    nng_thread *th;
    nng_thread_create(&th, flush_thread, &f);
    assert_int_equal(rep_answer(&b, 0), 0);
    assert_int_equal(rep_answer(&b, EMBER__ACK__STATUS__OK), 1);
    nng_thread_destroy(th);
    assert_int_equal(f.left, 0);
    sender_stats st;
    sender_get_stats(s, &st);
    assert_int_equal(st.failovers, 1);
    assert_int_equal(st.acked, 1);
    assert_int_equal(sender_open(" , ", "agent", NULL, &(sender_options){.timeout_ms = 300}, sp, &s,
                                 err, sizeof err) == 0,
                     0);
    assert_non_null(strstr(err, "no aggregator address"));
    sender_close(f.s);
    spool_close(sp);
    fs_rmtree(dir);
    nng_close(b.sock);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scrape_target_specs),
        cmocka_unit_test(test_seq_persists),
        cmocka_unit_test(test_sender_in_order_with_retry_and_reject),
        cmocka_unit_test(test_sender_outage_keeps_batches_on_disk),
        cmocka_unit_test(test_sender_fails_over_to_the_next_aggregator),
    };
    int rc = cmocka_run_group_tests_name("agent", tests, NULL, NULL);
    nng_fini();
    return rc;
}
