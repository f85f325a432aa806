/*
 * test_agent.c — agent plumbing: scrape target specs, the persisted batch
 * seq (survives restarts, never reused, torn writes impossible), and the
 * sender draining a real disk spool to a real nng REP socket on loopback,
 * in the caller's thread and in its own (backoff between attempts, the
 * per-batch timeout, an outage waited out, a prompt close), a base the
 * aggregator lost (UNKNOWN_BASE: Hello again, the batch resent whole), and
 * the agent's /metrics server.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "agent/agent.h"
#include "agent/http.h"
#include "agent/sender.h"
#include "common/etime.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "proto/wire.h"
#include "proto/wire_delta.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <curl/curl.h>
#include <nng/supplemental/util/platform.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

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

/* Receive one request (the nng result) and answer it: a hello OK, a batch
 * with st; *seq is the batch's seq (0 for hello). */
static int rep_try_answer(fake_aggregator *a, Ember__Ack__Status st, uint64_t *seq_out)
{
    char *buf;
    size_t n;
    int rv = nng_recv(a->sock, &buf, &n, NNG_FLAG_ALLOC);
    if (rv != 0)
        return rv;
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
    *seq_out = seq;
    return 0;
}

/* Receive one request, answer it; returns the seq of a batch (0 for hello). */
static uint64_t rep_answer(fake_aggregator *a, Ember__Ack__Status st)
{
    uint64_t seq = 0;
    assert_int_equal(rep_try_answer(a, st, &seq), 0);
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
    assert_int_equal(sender_open(a.url, "agent", NULL,
                                 &(sender_options){.timeout_ms = 2000, .max_in_flight = 1}, sp, &s,
                                 err, sizeof err),
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
    assert_int_equal(sender_open(a.url, "agent", NULL,
                                 &(sender_options){.timeout_ms = 2000, .max_in_flight = 1}, sp, &s,
                                 err, sizeof err),
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

/* Answer one request as an aggregator that agrees on bases but holds none:
 * a message naming a base gets UNKNOWN_BASE, the others are decoded and
 * acknowledged OK.  Returns the batch's seq (0: hello or UNKNOWN_BASE),
 * with the header's base seq and flags. */
static uint64_t rep_answer_delta(fake_aggregator *a, uint64_t *base_seq, uint32_t *flags)
{
    char *buf, err[256];
    size_t n, frame, rawlen;
    assert_int_equal(nng_recv(a->sock, &buf, &n, NNG_FLAG_ALLOC), 0);
    assert_true(wire_delta_header(buf, n, base_seq, flags, &frame, err, sizeof err) >= 0);
    ebuf ack;
    ebuf_init(&ack);
    uint64_t seq = 0;
    if (*base_seq) {
        wire_encode_ack(&ack, 0, EMBER__ACK__STATUS__UNKNOWN_BASE, "unknown base", 0);
    } else {
        uint8_t *raw = wire_decompress(buf + frame, n - frame, NULL, 0, &rawlen, err, sizeof err);
        assert_non_null(raw);
        Ember__Envelope *env = wire_decode_raw(raw, rawlen, err, sizeof err);
        assert_non_null(env);
        seq = env->body_case == EMBER__ENVELOPE__BODY_BATCH ? env->batch->seq : 0;
        wire_encode_ack_features(&ack, seq, EMBER__ACK__STATUS__OK, NULL, 1, WIRE_FEATURE_DELTA);
        wire_envelope_free(env);
        free(raw);
    }
    nng_free(buf, n);
    assert_int_equal(nng_send(a->sock, ack.data, ack.len, 0), 0);
    ebuf_free(&ack);
    return seq;
}

/* The aggregator lost the connection's base (it restarted, nng redialed
 * under us): the sender says Hello again and resends the batch whole,
 * counts it, and /metrics shows the count and the window. */
static void test_sender_resends_whole_on_unknown_base(void **state)
{
    fake_aggregator a;
    rep_open(&a);
    char dir[256], err[256];
    spool *sp = open_spool(dir, sizeof dir, NULL);
    agent_self self = {0};
    assert_int_equal(sender_open(a.url, "agent", NULL,
                                 &(sender_options){.timeout_ms = 2000, .max_in_flight = 1}, sp,
                                 &self.snd, err, sizeof err),
                     0);
    for (uint64_t seq = 1; seq <= 2; seq++)
        enqueue(self.snd, seq);
    flush_args f = {.s = self.snd};
    nng_thread *th;
    nng_thread_create(&th, flush_thread, &f);
    uint64_t base;
    uint32_t flags;
    assert_int_equal(rep_answer_delta(&a, &base, &flags), 0); /* hello */
    assert_int_equal(rep_answer_delta(&a, &base, &flags), 1); /* kept as the base */
    assert_int_equal(flags, WIRE_DELTA_KEEP);
    assert_int_equal(rep_answer_delta(&a, &base, &flags), 0); /* against it: unknown */
    assert_int_equal(base, 1);
    assert_int_equal(rep_answer_delta(&a, &base, &flags), 0); /* hello again */
    assert_int_equal(rep_answer_delta(&a, &base, &flags), 2); /* whole */
    assert_int_equal(base, 0);
    nng_thread_destroy(th);
    assert_int_equal(f.left, 0);

    sender_stats st;
    sender_get_stats(self.snd, &st);
    assert_int_equal(st.unknown_base, 1);
    assert_int_equal(st.acked, 2);
    assert_int_equal(st.failed_attempts, 0); /* not a failure: resent at once */
    assert_int_equal(st.max_in_flight, 1);
    metric_set ms;
    metric_set_init(&ms);
    agent_self_metrics(&self, &ms);
    ebuf text;
    ebuf_init(&text);
    expfmt_write(&text, &ms);
    ebuf_putc(&text, '\0');
    assert_non_null(strstr((char *)text.data, "\nember_agent_unknown_base_total 1\n"));
    assert_non_null(strstr((char *)text.data, "\nember_agent_batches_in_flight_max 1\n"));
    ebuf_free(&text);
    metric_set_free(&ms);
    sender_close(self.snd);
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

/* ---- the sending thread ---------------------------------------------------- */

/* Answer every request until ms have passed: hellos OK, batches with st.
 * Returns the number of batches answered. */
static int rep_answer_for(fake_aggregator *a, Ember__Ack__Status st, int64_t ms)
{
    nng_socket_set_ms(a->sock, NNG_OPT_RECVTIMEO, 50);
    int batches = 0;
    for (int64_t end = mono_ms() + ms; mono_ms() < end;) {
        uint64_t seq = 0;
        if (rep_try_answer(a, st, &seq) == 0)
            batches += seq != 0;
    }
    nng_socket_set_ms(a->sock, NNG_OPT_RECVTIMEO, 5000);
    return batches;
}

/* Poll the sender's stats until cond holds or ms pass. */
static bool wait_stats(sender *s, sender_stats *st, bool (*cond)(const sender_stats *), int ms)
{
    for (int64_t end = mono_ms() + ms; mono_ms() < end; sleep_ms(10)) {
        sender_get_stats(s, st);
        if (cond(st))
            return true;
    }
    sender_get_stats(s, st);
    return cond(st);
}

static bool all_acked(const sender_stats *st)
{
    return st->acked == 3;
}

static bool in_flight(const sender_stats *st)
{
    return st->in_flight == 1;
}

static bool timed_out(const sender_stats *st)
{
    return st->errors[SEND_ERR_TIMEOUT] >= 1;
}

static sender *start_sender(const char *url, spool *sp, int64_t timeout_ms, int64_t min_ms,
                            int64_t max_ms)
{
    sender *s;
    char err[256];
    sender_options o = {
        .timeout_ms = timeout_ms, .min_backoff_ms = min_ms, .max_backoff_ms = max_ms, .seed = 9};
    assert_int_equal(sender_open(url, "agent", NULL, &o, sp, &s, err, sizeof err), 0);
    assert_int_equal(sender_start(s, err, sizeof err), 0);
    return s;
}

/* A fake aggregator, a spool and a sender thread sending to the one. */
typedef struct thread_rig {
    fake_aggregator a;
    char dir[256];
    spool *sp;
    sender *s;
} thread_rig;

static void rig_up(thread_rig *r, int64_t timeout_ms, int64_t min_ms, int64_t max_ms)
{
    rep_open(&r->a);
    r->sp = open_spool(r->dir, sizeof r->dir, NULL);
    r->s = start_sender(r->a.url, r->sp, timeout_ms, min_ms, max_ms);
}

static void rig_down(thread_rig *r)
{
    sender_close(r->s);
    spool_close(r->sp);
    fs_rmtree(r->dir);
    nng_close(r->a.sock);
}

/* A loopback URL whose port was free a moment ago, nobody listening. */
static void free_url(char *url, size_t len)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    close(fd);
    snprintf(url, len, "tcp://127.0.0.1:%u", (unsigned)ntohs(sa.sin_port));
}

/* Nobody listens at first; the thread keeps trying and delivers all three
 * in order once the aggregator appears.  (The aggregator's port starts
 * unbound rather than listened on and closed: closing an nng listener
 * while a dialer races it leaves nng's own objects to its reaper, which
 * LeakSanitizer may catch at exit.) */
static void test_sender_thread_waits_out_an_outage(void **state)
{
    thread_rig r;
    fake_aggregator a;
    free_url(a.url, sizeof a.url);
    r.sp = open_spool(r.dir, sizeof r.dir, NULL);
    r.s = start_sender(a.url, r.sp, 200, 20, 100);
    sender *s = r.s;
    for (uint64_t seq = 1; seq <= 3; seq++)
        enqueue(s, seq);
    sleep_ms(700);
    sender_stats st;
    sender_get_stats(s, &st);
    assert_int_equal(st.acked, 0);
    assert_true(st.errors[SEND_ERR_UNREACHABLE] >= 1);
    assert_int_equal(st.reachable, 0);
    assert_int_equal(st.spool.pending, 3);

    assert_int_equal(nng_rep0_open(&a.sock), 0);
    nng_socket_set_ms(a.sock, NNG_OPT_RECVTIMEO, 5000);
    /* nng closes the old listener asynchronously: the port may still be
     * held for a moment (EADDRINUSE on a busy machine). */
    int rv = NNG_EADDRINUSE;
    for (int64_t end = mono_ms() + 5000; rv == NNG_EADDRINUSE && mono_ms() < end; sleep_ms(20))
        rv = nng_listen(a.sock, a.url, NULL, 0);
    assert_int_equal(rv, 0);
    /* Answer until 1, 2, 3 have come in order.  On a slow machine (ASan,
     * load) an attempt may outlive its 200 ms: the sender then says Hello
     * again and resends from the oldest unacked batch, in order. */
    uint64_t next = 1;
    for (int64_t end = mono_ms() + 10000; next <= 3 && mono_ms() < end;) {
        uint64_t seq = rep_answer(&a, EMBER__ACK__STATUS__OK);
        if (seq == next)
            next++;
        else
            assert_true(seq < next); /* a Hello (0) or a resend */
    }
    assert_int_equal(next, 4);
    assert_true(wait_stats(s, &st, all_acked, 3000));
    assert_int_equal(st.reachable, 1);
    assert_int_equal(st.in_flight, 0);
    assert_true(st.last_success_ms > now_ms() - 10000);
    assert_int_equal(st.spool.pending, 0);
    r.a = a;
    rig_down(&r);
}

/* An aggregator that answers RETRY at once: without backoff the thread
 * would send hundreds of times a second; with 100 ms..400 ms it sends a
 * handful, each counted as a retry. */
static void test_sender_thread_backs_off_between_retries(void **state)
{
    thread_rig r;
    rig_up(&r, 2000, 100, 400);
    enqueue(r.s, 1);
    int batches = rep_answer_for(&r.a, EMBER__ACK__STATUS__RETRY, 1500);
    sender_stats st;
    sender_get_stats(r.s, &st);
    /* waits of at least 100 ms: at most 16 tries; ceilings 200, 400, 400..: at least 3 */
    assert_true(batches >= 3 && batches <= 16);
    assert_true(st.errors[SEND_ERR_RETRY] >= (uint64_t)batches - 1);
    assert_int_equal(st.reachable, 1); /* it answers: reachable, just not committing */
    assert_int_equal(st.acked, 0);
    assert_true(st.resends >= (uint64_t)batches - 1);
    rig_down(&r);
}

/* Hello answered, the batch never: the per-batch timeout ends the attempt
 * (connected, so "timeout", not "unreachable"); closing the sender during a
 * long exchange returns at once. */
static void test_sender_thread_times_out_and_closes_promptly(void **state)
{
    thread_rig r;
    rig_up(&r, 300, 50, 50);
    enqueue(r.s, 1);
    assert_int_equal(rep_answer(&r.a, 0), 0);
    sender_stats st;
    assert_true(wait_stats(r.s, &st, timed_out, 3000));
    assert_int_equal(st.errors[SEND_ERR_UNREACHABLE], 0);
    assert_int_equal(st.reachable, 0);
    assert_int_equal(st.spool.pending, 1);
    sender_close(r.s);

    fake_aggregator b; /* a fresh one: a holds the first sender's unanswered batch */
    rep_open(&b);
    sender *s = r.s = start_sender(b.url, r.sp, 30000, 50, 50);
    assert_int_equal(rep_answer(&b, 0), 0); /* the batch that follows gets no answer */
    assert_true(wait_stats(s, &st, in_flight, 3000));
    assert_int_equal(st.in_flight, 1);
    /* The cancel is ours, not the aggregator's fault: no "unreachable" at
     * shutdown (it used to be logged and counted). */
    FILE *log = tmpfile();
    assert_non_null(log);
    log_set_output_fd(fileno(log));
    int64_t t0 = mono_ms();
    sender_close(s);
    /* well before the exchange's own 30 s timeout could have ended it */
    assert_true(mono_ms() - t0 < 15000);
    log_set_output_fd(2);
    char line[1024];
    rewind(log);
    while (fgets(line, sizeof line, log))
        assert_null(strstr(line, "unreachable"));
    fclose(log);
    r.s = NULL;
    rig_down(&r);
    nng_close(b.sock);
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    ebuf_append(ud, p, size * n);
    return size * n;
}

static long http_get(unsigned port, const char *path, ebuf *body)
{
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%u%s", port, path);
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    ebuf_putc(body, '\0');
    return status;
}

/* /metrics tells the delivery state while the aggregator is away. */
static void test_agent_http_serves_delivery_metrics(void **state)
{
    char dir[256], err[256];
    spool *sp = open_spool(dir, sizeof dir, NULL);
    agent_self self = {0};
    assert_int_equal(sender_open("tcp://127.0.0.1:1", "agent", NULL,
                                 &(sender_options){.timeout_ms = 100}, sp, &self.snd, err,
                                 sizeof err),
                     0);
    for (uint64_t seq = 1; seq <= 2; seq++)
        enqueue(self.snd, seq);
    assert_int_equal(sender_flush(self.snd), 2);
    agent_http *h;
    assert_int_equal(agent_http_start("127.0.0.1:0", &self, &h, err, sizeof err), 0);
    ebuf b;
    ebuf_init(&b);
    assert_int_equal(http_get(agent_http_port(h), "/metrics", &b), 200);
    const char *text = (const char *)b.data;
    assert_non_null(strstr(text, "\nember_agent_spool_pending_batches 2\n"));
    assert_non_null(strstr(text, "\nember_agent_batches_in_flight 0\n"));
    assert_non_null(strstr(text, "\nember_agent_batches_in_flight_max 4\n")); /* the default */
    assert_non_null(strstr(text, "\nember_agent_unknown_base_total 0\n"));
    assert_non_null(strstr(text, "\nember_agent_aggregator_reachable 0\n"));
    assert_non_null(strstr(text, "\nember_agent_last_send_success_timestamp_seconds 0\n"));
    assert_non_null(strstr(text, "ember_agent_send_errors_total{reason=\"unreachable\"} 1\n"));
    assert_non_null(strstr(text, "ember_agent_send_errors_total{reason=\"auth\"} 0\n"));
    assert_non_null(strstr(text, "\nember_agent_spool_dropped_samples_total 0\n"));
    assert_non_null(strstr(text, "# TYPE ember_agent_spool_oldest_pending_age_seconds gauge\n"));
    assert_non_null(strstr(text, "\nprocess_resident_memory_bytes "));
    ebuf_reset(&b);
    assert_int_equal(http_get(agent_http_port(h), "/-/healthy", &b), 200);
    assert_non_null(strstr((const char *)b.data, "Healthy"));
    ebuf_reset(&b);
    assert_int_equal(http_get(agent_http_port(h), "/nope", &b), 404);
    ebuf_free(&b);
    agent_http_stop(h);
    assert_int_equal(agent_http_start("127.0.0.1:99999", &self, &h, err, sizeof err), -1);
    assert_non_null(strstr(err, "99999"));
    sender_close(self.snd);
    spool_close(sp);
    fs_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scrape_target_specs),
        cmocka_unit_test(test_seq_persists),
        cmocka_unit_test(test_sender_in_order_with_retry_and_reject),
        cmocka_unit_test(test_sender_resends_whole_on_unknown_base),
        cmocka_unit_test(test_sender_outage_keeps_batches_on_disk),
        cmocka_unit_test(test_sender_fails_over_to_the_next_aggregator),
        cmocka_unit_test(test_sender_thread_waits_out_an_outage),
        cmocka_unit_test(test_sender_thread_backs_off_between_retries),
        cmocka_unit_test(test_sender_thread_times_out_and_closes_promptly),
        cmocka_unit_test(test_agent_http_serves_delivery_metrics),
    };
    int rc = cmocka_run_group_tests_name("agent", tests, NULL, NULL);
    nng_fini();
    return rc;
}
