/*
 * test_ingest.c — the aggregator's ingest endpoint over real nng sockets on
 * loopback into a real RocksDB store: token authentication per connection
 * (hashed tokens, instance binding), the ingest limits, the table of known
 * agents, sessions (bases per connection, pipelined batches parked until
 * their predecessor commits, and their counters), and TLS (plain and
 * mutual) with certificates openssl makes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "agent/sender.h"
#include "aggregator/aggregator.h"
#include "aggregator/ingest.h"
#include "common/etime.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "proto/wire.h"
#include "proto/wire_delta.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/util/platform.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* printf %s s3cret | sha256sum */
#define SECRET_SHA "1ec1c26b50d5d3c58d9583181af8076655fe00756bf7285940ba3670f99fcba0"

typedef struct fixture {
    char dir[256];
    tsdb *db;
    ingest *in;
    char url[80];
} fixture;

static void start(fixture *f, const char *scheme, const ingest_options *o)
{
    char err[512];
    assert_int_equal(fs_mkdtemp(f->dir, sizeof f->dir, "ember-ingest"), 0);
    assert_int_equal(tsdb_open(f->dir, NULL, &f->db, err, sizeof err), 0);
    char url[80];
    snprintf(url, sizeof url, "%s://127.0.0.1:0", scheme);
    if (ingest_start(url, f->db, o, &f->in, err, sizeof err) != 0)
        fail_msg("ingest_start: %s", err);
    /* Dial the address we listen on: "localhost" may resolve to ::1 first
     * (Debian's default /etc/hosts).  The certificates name localhost, and
     * mbed TLS ignores IP SANs, so TLS clients set tls_server_name. */
    snprintf(f->url, sizeof f->url, "%s://127.0.0.1:%d", scheme, ingest_port(f->in));
}

static void stop(fixture *f)
{
    ingest_stop(f->in);
    tsdb_close(f->db);
    fs_rmtree(f->dir);
}

static nng_socket client(const fixture *f)
{
    nng_socket s;
    assert_int_equal(nng_req0_open(&s), 0);
    nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 5000);
    assert_int_equal(nng_dial(s, f->url, NULL, 0), 0);
    return s;
}

/* The Ack of the request sent on s: its status, its reason in reason and
 * (seq may be NULL) its seq. */
static Ember__Ack__Status recv_ack(nng_socket s, char *reason, size_t len, uint64_t *seq)
{
    char *buf;
    size_t n;
    assert_int_equal(nng_recv(s, &buf, &n, NNG_FLAG_ALLOC), 0);
    Ember__Ack *ack = wire_decode_ack(buf, n);
    nng_free(buf, n);
    assert_non_null(ack);
    Ember__Ack__Status st = ack->status;
    snprintf(reason, len, "%s", ack->reason ? ack->reason : "");
    if (seq)
        *seq = ack->seq;
    ember__ack__free_unpacked(ack, NULL);
    return st;
}

/* One exchange; returns the Ack's status and its reason in reason. */
static Ember__Ack__Status exchange(nng_socket s, const ebuf *m, char *reason, size_t len)
{
    assert_int_equal(nng_send(s, m->data, m->len, 0), 0);
    return recv_ack(s, reason, len, NULL);
}

/* The endpoint's counters as /metrics shows them (free text). */
static void metrics_text(ingest *in, ebuf *text)
{
    metric_set ms;
    metric_set_init(&ms);
    ingest_reject_metrics(in, &ms);
    ebuf_init(text);
    expfmt_write(text, &ms);
    ebuf_putc(text, '\0');
    metric_set_free(&ms);
}

static Ember__Ack__Status hello(nng_socket s, const char *token, char *reason, size_t len)
{
    labelset ls;
    labels_init(&ls);
    labels_add(&ls, "instance", "node-a");
    ebuf m;
    ebuf_init(&m);
    wire_encode_hello(&m, "agent-a", "9.9.9", &ls, token);
    Ember__Ack__Status st = exchange(s, &m, reason, len);
    ebuf_free(&m);
    labels_free(&ls);
    return st;
}

/* A batch of nseries series with instance inst (NULL: none) and nlabels
 * extra labels. */
static void make_batch(ebuf *m, uint64_t seq, const char *inst, int nseries, int nlabels)
{
    metric_set ms;
    metric_set_init(&ms);
    for (int i = 0; i < nseries; i++) {
        char v[16];
        snprintf(v, sizeof v, "%d", i);
        labelset ls;
        labels_init(&ls);
        labels_add(&ls, "__name__", "m");
        if (inst)
            labels_add(&ls, "instance", inst);
        labels_add(&ls, "i", v);
        for (int k = 0; k < nlabels; k++) {
            char name[16];
            snprintf(name, sizeof name, "l%d", k);
            labels_add(&ls, name, "x");
        }
        metric_set_add(&ms, &ls, (double)seq, true, now_ms());
        labels_free(&ls);
    }
    wire_encode_batch(m, "agent-a", seq, &ms, now_ms());
    metric_set_free(&ms);
}

static Ember__Ack__Status send_batch(nng_socket s, uint64_t seq, const char *inst, int nseries,
                                     int nlabels, char *reason, size_t len)
{
    ebuf m;
    ebuf_init(&m);
    make_batch(&m, seq, inst, nseries, nlabels);
    Ember__Ack__Status st = exchange(s, &m, reason, len);
    ebuf_free(&m);
    return st;
}

static void test_token_parse(void **state)
{
    ingest_token t;
    char err[256];
    assert_int_equal(ingest_token_parse(SECRET_SHA, &t, err, sizeof err), 0);
    assert_int_equal(t.sha256[0], 0x1e);
    assert_int_equal(t.sha256[31], 0xa0);
    assert_string_equal(t.instance, "");
    assert_int_equal(ingest_token_parse(SECRET_SHA "=node-a", &t, err, sizeof err), 0);
    assert_string_equal(t.instance, "node-a");
    assert_int_equal(ingest_token_parse("abc", &t, err, sizeof err), -1);
    assert_non_null(strstr(err, "sha256sum"));
    assert_int_equal(ingest_token_parse(SECRET_SHA "=", &t, err, sizeof err), -1);
    char bad[] = SECRET_SHA;
    bad[10] = 'g';
    assert_int_equal(ingest_token_parse(bad, &t, err, sizeof err), -1);
}

static ingest_options auth_options(ingest_token *tok, const char *binding)
{
    char err[256];
    char spec[128];
    snprintf(spec, sizeof spec, "%s%s", SECRET_SHA, binding);
    assert_int_equal(ingest_token_parse(spec, tok, err, sizeof err), 0);
    return (ingest_options){.workers = 2, .tokens = tok, .ntokens = 1};
}

static void test_auth_per_connection(void **state)
{
    fixture f;
    ingest_token tok;
    ingest_options o = auth_options(&tok, "");
    start(&f, "tcp", &o);
    char reason[512];

    /* No Hello on this connection: RETRY (the agent re-Hellos), nothing written. */
    nng_socket s = client(&f);
    assert_int_equal(send_batch(s, 1, "node-a", 1, 0, reason, sizeof reason),
                     EMBER__ACK__STATUS__RETRY);
    assert_non_null(strstr(reason, "Hello"));
    /* Wrong token: REJECTED, and so is every batch on that connection. */
    assert_int_equal(hello(s, "wrong", reason, sizeof reason), EMBER__ACK__STATUS__REJECTED);
    assert_string_equal(reason, "invalid token");
    assert_int_equal(send_batch(s, 1, "node-a", 1, 0, reason, sizeof reason),
                     EMBER__ACK__STATUS__REJECTED);
    assert_string_equal(reason, "invalid token");
    assert_int_equal(hello(s, "", reason, sizeof reason), EMBER__ACK__STATUS__REJECTED);
    assert_int_equal(tsdb_agent_seq(f.db, "agent-a"), 0);

    /* Another connection with the right token may write. */
    nng_socket good = client(&f);
    assert_int_equal(hello(good, "s3cret", reason, sizeof reason), EMBER__ACK__STATUS__OK);
    assert_int_equal(send_batch(good, 1, "node-a", 3, 0, reason, sizeof reason),
                     EMBER__ACK__STATUS__OK);
    assert_int_equal(tsdb_agent_seq(f.db, "agent-a"), 1);
    /* ... while the bad one still may not. */
    assert_int_equal(send_batch(s, 2, "node-a", 1, 0, reason, sizeof reason),
                     EMBER__ACK__STATUS__REJECTED);
    assert_int_equal(tsdb_agent_seq(f.db, "agent-a"), 1);

    ingest_stats st;
    ingest_get_stats(f.in, &st);
    assert_int_equal(st.rejected_by[INGEST_REJ_INVALID_TOKEN], 4);
    assert_int_equal(st.rejected_by[INGEST_REJ_UNAUTHENTICATED], 1);
    assert_int_equal(st.batches_ok, 1);
    assert_int_equal(st.samples, 3);

    /* The refusals are in /metrics by reason. */
    ebuf text;
    metrics_text(f.in, &text);
    assert_non_null(strstr((char *)text.data,
                           "ember_aggregator_ingest_refused_total{reason=\"invalid_token\"} 4"));
    ebuf_free(&text);

    /* The agent table: Hello's version and instance, its address, counts. */
    ingest_agent *v;
    size_t n = ingest_agents(f.in, &v);
    assert_int_equal(n, 1);
    assert_string_equal(v[0].agent_id, "agent-a");
    assert_string_equal(v[0].instance, "node-a");
    assert_string_equal(v[0].version, "9.9.9");
    assert_non_null(strstr(v[0].address, "127.0.0.1:"));
    assert_int_equal(v[0].batches, 1);
    assert_int_equal(v[0].samples, 3);
    assert_int_equal(v[0].last_seq, 1);
    assert_true(v[0].errors >= 4);
    assert_true(v[0].newest_sample_ms > now_ms() - 60000);
    free(v);
    nng_close(s);
    nng_close(good);
    stop(&f);
}

static void test_token_bound_to_instance(void **state)
{
    fixture f;
    ingest_token tok;
    ingest_options o = auth_options(&tok, "=node-a");
    start(&f, "tcp", &o);
    char reason[512];
    nng_socket s = client(&f);
    assert_int_equal(hello(s, "s3cret", reason, sizeof reason), EMBER__ACK__STATUS__OK);
    assert_int_equal(send_batch(s, 1, "node-b", 1, 0, reason, sizeof reason),
                     EMBER__ACK__STATUS__REJECTED);
    assert_non_null(strstr(reason, "\"node-b\""));
    assert_non_null(strstr(reason, "\"node-a\""));
    assert_int_equal(tsdb_agent_seq(f.db, "agent-a"), 0);
    assert_int_equal(send_batch(s, 2, "node-a", 2, 0, reason, sizeof reason),
                     EMBER__ACK__STATUS__OK);
    assert_int_equal(tsdb_agent_seq(f.db, "agent-a"), 2);
    /* Series without an instance (the agent's own) claim none: accepted. */
    assert_int_equal(send_batch(s, 3, NULL, 1, 0, reason, sizeof reason), EMBER__ACK__STATUS__OK);
    assert_int_equal(tsdb_agent_seq(f.db, "agent-a"), 3);
    ingest_stats st;
    ingest_get_stats(f.in, &st);
    assert_int_equal(st.rejected_by[INGEST_REJ_INSTANCE], 1);
    nng_close(s);
    stop(&f);
}

static void test_limits(void **state)
{
    fixture f;
    ingest_options o = {.workers = 1,
                        .max_message_bytes = 2000,
                        .max_series_per_batch = 5,
                        .max_label_count = 6,
                        .max_label_length = 16};
    start(&f, "tcp", &o);
    char reason[512];
    nng_socket s = client(&f);
    assert_int_equal(send_batch(s, 1, "node-a", 6, 0, reason, sizeof reason),
                     EMBER__ACK__STATUS__REJECTED);
    assert_non_null(strstr(reason, "--ingest.max-series-per-batch=5"));
    /* __name__, instance, i + 4 = 7 labels. */
    assert_int_equal(send_batch(s, 2, "node-a", 1, 4, reason, sizeof reason),
                     EMBER__ACK__STATUS__REJECTED);
    assert_non_null(strstr(reason, "--ingest.max-label-count=6"));
    assert_int_equal(send_batch(s, 3, "a-very-long-instance-name", 1, 0, reason, sizeof reason),
                     EMBER__ACK__STATUS__REJECTED);
    assert_non_null(strstr(reason, "--ingest.max-label-length=16"));
    /* An incompressible message above 2000 bytes (the decoder never sees it). */
    ebuf big;
    ebuf_init(&big);
    srand(7);
    for (int i = 0; i < 3000; i++)
        ebuf_putc(&big, (char)rand());
    assert_int_equal(exchange(s, &big, reason, sizeof reason), EMBER__ACK__STATUS__REJECTED);
    assert_non_null(strstr(reason, "--ingest.max-message-bytes=2000"));
    ebuf_free(&big);
    assert_int_equal(tsdb_agent_seq(f.db, "agent-a"), 0);
    /* Within every limit: accepted. */
    assert_int_equal(send_batch(s, 4, "node-a", 5, 3, reason, sizeof reason),
                     EMBER__ACK__STATUS__OK);
    assert_int_equal(tsdb_agent_seq(f.db, "agent-a"), 4);
    ingest_stats st;
    ingest_get_stats(f.in, &st);
    assert_int_equal(st.rejected_by[INGEST_REJ_SERIES], 1);
    assert_int_equal(st.rejected_by[INGEST_REJ_LABEL_COUNT], 1);
    assert_int_equal(st.rejected_by[INGEST_REJ_LABEL_LENGTH], 1);
    assert_int_equal(st.rejected_by[INGEST_REJ_MESSAGE_BYTES], 1);
    assert_int_equal(st.batches_rejected, 4);
    nng_close(s);
    stop(&f);
}

/* GET /api/v1/agents over the endpoint's table and the store's seq. */
static void test_agents_api(void **state)
{
    fixture f;
    ingest_options o = {.workers = 1};
    start(&f, "tcp", &o);
    char reason[512];
    nng_socket s = client(&f);
    assert_int_equal(hello(s, "", reason, sizeof reason), EMBER__ACK__STATUS__OK);
    assert_int_equal(send_batch(s, 7, "node-a", 2, 0, reason, sizeof reason),
                     EMBER__ACK__STATUS__OK);
    nng_close(s);
    aggregator agg = {.db = f.db, .in = f.in};
    httpd_response resp = {.status = 200};
    ebuf_init(&resp.body);
    api_handle_agents(&agg, NULL, &resp);
    ebuf_putc(&resp.body, '\0');
    const char *j = (const char *)resp.body.data;
    assert_int_equal(resp.status, 200);
    assert_non_null(strstr(j, "{\"status\":\"success\",\"data\":[{\"id\":\"agent-a\","
                              "\"instance\":\"node-a\",\"version\":\"9.9.9\",\"address\":"
                              "\"127.0.0.1:"));
    assert_non_null(strstr(j, "\"lastSeq\":7,\"persistedSeq\":7,\"batches\":1,\"samples\":2,"
                              "\"errors\":0,\"lagSeconds\":"));
    const char *lag = strstr(j, "\"lagSeconds\":") + strlen("\"lagSeconds\":");
    double v = strtod(lag, NULL);
    assert_true(v >= 0 && v < 60);
    assert_non_null(strstr(j, "\"lastSeen\":\"20"));
    ebuf_free(&resp.body);
    stop(&f);
}

/* The agent's sender against the real endpoint: the right token delivers,
 * a wrong one is refused, counted and keeps the batch spooled. */
static size_t deliver(const fixture *f, const sender_options *so, int tries, sender_stats *st)
{
    char dir[256], err[256];
    assert_int_equal(fs_mkdtemp(dir, sizeof dir, "ember-ingest-spool"), 0);
    spool *sp;
    spool_options spo = {.max_bytes = 1 << 20};
    assert_int_equal(spool_open(dir, &spo, &sp, err, sizeof err), SPOOL_OK);
    sender *snd;
    if (sender_open(f->url, "agent-a", NULL, so, sp, &snd, err, sizeof err) != 0)
        fail_msg("sender_open: %s", err);
    ebuf m;
    ebuf_init(&m);
    make_batch(&m, 1, "node-a", 2, 0);
    assert_int_equal(sender_enqueue(snd, &m, 1, 2), SPOOL_OK);
    ebuf_free(&m);
    size_t left = 1;
    for (int i = 0; i < tries && left; i++)
        left = sender_flush(snd);
    sender_get_stats(snd, st);
    sender_close(snd);
    spool_close(sp);
    fs_rmtree(dir);
    return left;
}

static void test_sender_token(void **state)
{
    fixture f;
    ingest_token tok;
    ingest_options o = auth_options(&tok, "");
    start(&f, "tcp", &o);
    sender_stats st;
    /* A generous timeout: the refusal is an answer, and a loaded machine may
     * need more than a few hundred ms to connect (this flaked at 300 ms). */
    assert_int_equal(deliver(&f, &(sender_options){.timeout_ms = 3000, .token = "wrong"}, 3, &st),
                     1);
    assert_true(st.auth_rejected >= 1);
    assert_int_equal(st.acked, 0);
    assert_int_equal(tsdb_agent_seq(f.db, "agent-a"), 0);
    assert_int_equal(deliver(&f, &(sender_options){.timeout_ms = 2000, .token = "s3cret"}, 20, &st),
                     0);
    assert_int_equal(st.acked, 1);
    assert_int_equal(st.auth_rejected, 0);
    assert_int_equal(tsdb_agent_seq(f.db, "agent-a"), 1);
    stop(&f);
}

/* ---- sessions: bases and pipelining ---- */

/* Batch seq as the sender puts it on the wire against base (NULL: none). */
static void delta_batch(ebuf *out, uint64_t seq, const wire_base *base, uint32_t flags,
                        uint64_t after, wire_base *raw_out)
{
    ebuf m;
    ebuf_init(&m);
    make_batch(&m, seq, "node-a", 20, 3);
    char err[256];
    size_t rawlen;
    uint8_t *raw = wire_decompress(m.data, m.len, NULL, 0, &rawlen, err, sizeof err);
    assert_non_null(raw);
    wire_delta_encode(out, raw, rawlen, base, flags, after, NULL);
    if (raw_out)
        wire_base_set(raw_out, seq, raw, rawlen);
    free(raw);
    ebuf_free(&m);
}

static Ember__Ack__Status hello_delta(nng_socket s)
{
    ebuf m;
    ebuf_init(&m);
    wire_encode_hello_features(&m, "agent-a", "9.9.9", NULL, "", WIRE_FEATURE_DELTA);
    char reason[256];
    Ember__Ack__Status st = exchange(s, &m, reason, sizeof reason);
    ebuf_free(&m);
    return st;
}

/* A base lives as long as its connection: a new connection (an aggregator
 * restart looks the same to the agent) gets UNKNOWN_BASE, and the batch
 * resent whole is applied once. */
static void test_base_is_per_connection(void **state)
{
    fixture f;
    ingest_options o = {.workers = 2};
    start(&f, "tcp", &o);
    nng_socket c = client(&f);
    char reason[256];
    assert_int_equal(hello_delta(c), EMBER__ACK__STATUS__OK);
    wire_base base = {0};
    ebuf m;
    ebuf_init(&m);
    delta_batch(&m, 1, NULL, WIRE_DELTA_KEEP, 0, &base);
    assert_int_equal(exchange(c, &m, reason, sizeof reason), EMBER__ACK__STATUS__OK);
    ebuf_reset(&m);
    delta_batch(&m, 2, &base, 0, 0, NULL);
    ebuf self;
    ebuf_init(&self);
    make_batch(&self, 2, "node-a", 20, 3);
    assert_true(m.len * 2 < self.len); /* the repeated labels cost next to nothing */
    assert_int_equal(exchange(c, &m, reason, sizeof reason), EMBER__ACK__STATUS__OK);
    nng_close(c);

    c = client(&f); /* a new connection holds no base */
    assert_int_equal(hello_delta(c), EMBER__ACK__STATUS__OK);
    ebuf_reset(&m);
    delta_batch(&m, 3, &base, 0, 0, NULL);
    assert_int_equal(exchange(c, &m, reason, sizeof reason), EMBER__ACK__STATUS__UNKNOWN_BASE);
    assert_non_null(strstr(reason, "unknown base 1"));
    assert_int_equal(tsdb_agent_seq(f.db, "agent-a"), 2);
    ebuf_reset(&m);
    delta_batch(&m, 3, NULL, 0, 0, NULL);
    assert_int_equal(exchange(c, &m, reason, sizeof reason), EMBER__ACK__STATUS__OK);
    assert_int_equal(tsdb_agent_seq(f.db, "agent-a"), 3);
    ingest_stats st;
    ingest_get_stats(f.in, &st);
    assert_int_equal(st.samples, 3 * 20);
    assert_int_equal(st.unknown_base, 1);
    nng_close(c);
    ebuf_free(&m);
    ebuf_free(&self);
    wire_base_clear(&base);
    stop(&f);
}

/* A pipelined batch that arrives before its predecessor waits for its
 * commit (parked), then is applied after it; the wait is counted and
 * timed on /metrics. */
static void test_parked_until_predecessor(void **state)
{
    fixture f;
    ingest_options o = {.workers = 2};
    start(&f, "tcp", &o);
    nng_socket early = client(&f), first = client(&f);
    ebuf m;
    ebuf_init(&m);
    delta_batch(&m, 2, NULL, 0, 1, NULL); /* seq 2, after seq 1 */
    assert_int_equal(nng_send(early, m.data, m.len, 0), 0);
    nng_msleep(300); /* it is parked by now: nothing committed yet */
    assert_int_equal(tsdb_agent_seq(f.db, "agent-a"), 0);
    ebuf_reset(&m);
    delta_batch(&m, 1, NULL, 0, 0, NULL);
    char reason[256];
    assert_int_equal(exchange(first, &m, reason, sizeof reason), EMBER__ACK__STATUS__OK);
    uint64_t seq;
    assert_int_equal(recv_ack(early, reason, sizeof reason, &seq), EMBER__ACK__STATUS__OK);
    assert_int_equal(seq, 2);
    assert_int_equal(tsdb_agent_seq(f.db, "agent-a"), 2);

    ingest_stats st;
    ingest_get_stats(f.in, &st);
    assert_int_equal(st.parked, 1);
    assert_int_equal(st.park_timeouts, 0);
    assert_true(st.parked_ms >= 250);
    assert_true(st.parked_ms < 2000); /* woken by the commit, not by the time-out */
    ebuf text;
    metrics_text(f.in, &text);
    assert_non_null(
        strstr((char *)text.data, "\nember_aggregator_ingest_parked_batches_total 1\n"));
    assert_non_null(strstr((char *)text.data, "\nember_aggregator_ingest_park_timeouts_total 0\n"));
    assert_non_null(strstr((char *)text.data, "\nember_aggregator_ingest_parked_seconds_total 0."));
    assert_non_null(strstr((char *)text.data, "\nember_aggregator_ingest_unknown_base_total 0\n"));
    ebuf_free(&text);
    ebuf_free(&m);
    nng_close(early);
    nng_close(first);
    stop(&f);
}

/* The real sender, several batches in flight, against the real endpoint;
 * the aggregator restarts mid-stream (its sessions and bases are lost):
 * every batch is applied exactly once, in order. */
static void test_pipelined_delivery_across_restart(void **state)
{
    fixture f;
    ingest_options o = {.workers = 4};
    start(&f, "tcp", &o);
    char dir[256], err[256];
    assert_int_equal(fs_mkdtemp(dir, sizeof dir, "ember-ingest-spool"), 0);
    spool *sp;
    assert_int_equal(spool_open(dir, NULL, &sp, err, sizeof err), SPOOL_OK);
    sender *snd;
    sender_options so = {.timeout_ms = 3000, .max_in_flight = 4};
    if (sender_open(f.url, "agent-a", NULL, &so, sp, &snd, err, sizeof err) != 0)
        fail_msg("sender_open: %s", err);
    uint64_t applied = 0;
    for (int round = 0; round < 2; round++) {
        for (uint64_t seq = round * 40 + 1; seq <= (uint64_t)round * 40 + 40; seq++) {
            ebuf m;
            ebuf_init(&m);
            make_batch(&m, seq, "node-a", 5, 1);
            assert_int_equal(sender_enqueue(snd, &m, seq, 5), SPOOL_OK);
            ebuf_free(&m);
        }
        size_t left = 1;
        for (int i = 0; i < 30 && left; i++)
            left = sender_flush(snd);
        assert_int_equal(left, 0);
        assert_int_equal(tsdb_agent_seq(f.db, "agent-a"), round * 40 + 40);
        ingest_stats ist;
        ingest_get_stats(f.in, &ist);
        applied += ist.samples;
        if (round == 0) { /* restart on the same port and store */
            int port = ingest_port(f.in);
            ingest_stop(f.in);
            char url[80];
            snprintf(url, sizeof url, "tcp://127.0.0.1:%d", port);
            if (ingest_start(url, f.db, &o, &f.in, err, sizeof err) != 0)
                fail_msg("ingest_start again: %s", err);
        }
    }
    assert_int_equal(applied, 80 * 5); /* nothing lost, nothing twice */
    sender_stats st;
    sender_get_stats(snd, &st);
    assert_int_equal(st.acked, 80);
    assert_int_equal(st.spool.pending, 0);
    sender_close(snd);
    spool_close(sp);
    fs_rmtree(dir);
    stop(&f);
}

/* ---- TLS ---- */

static char certdir[256];

static void sh(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    if (system(cmd) != 0)
        fail_msg("command failed: %s", cmd);
}

/* A CA, a server certificate for DNS:localhost and a client certificate. */
static int make_certs(void **state)
{
    if (fs_mkdtemp(certdir, sizeof certdir, "ember-ingest-tls") != 0)
        return -1;
    const char *d = certdir;
    sh("cd %s && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "
       "ca.key -out ca.pem -days 2 "
       "-subj /CN=ember-test-ca 2>/dev/null",
       d);
    for (int i = 0; i < 2; i++) {
        const char *n = i ? "client" : "server";
        sh("cd %s && openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "
           "%s.key -out %s.csr -subj /CN=%s "
           "2>/dev/null && printf 'subjectAltName=DNS:localhost\\n' > %s.ext && openssl x509 "
           "-req -in %s.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out %s.pem -days 2 "
           "-extfile %s.ext 2>/dev/null",
           d, n, n, i ? "ember-agent" : "localhost", n, n, n, n);
    }
    return 0;
}

static int remove_certs(void **state)
{
    fs_rmtree(certdir);
    return 0;
}

static const char *cert(const char *name)
{
    static char paths[8][300];
    static int next;
    char *p = paths[next++ % 8];
    snprintf(p, 300, "%s/%s", certdir, name);
    return p;
}

static void test_tls(void **state)
{
    fixture f;
    ingest_options o = {
        .workers = 1, .tls_cert = cert("server.pem"), .tls_key = cert("server.key")};
    start(&f, "tls+tcp", &o);
    sender_stats st;
    sender_options so = {
        .timeout_ms = 3000, .tls_ca = cert("ca.pem"), .tls_server_name = "localhost"};
    assert_int_equal(deliver(&f, &so, 20, &st), 0);
    assert_int_equal(st.acked, 1);
    assert_int_equal(tsdb_agent_seq(f.db, "agent-a"), 1);
    /* A name the certificate does not carry fails verification. */
    so.tls_server_name = "ember.invalid";
    so.timeout_ms = 300;
    assert_int_equal(deliver(&f, &so, 3, &st), 1);
    assert_int_equal(st.acked, 0);
    /* A plain tcp client cannot talk to the TLS listener. */
    char url[80];
    snprintf(url, sizeof url, "%s", f.url);
    snprintf(f.url, sizeof f.url, "tcp://127.0.0.1:%d", ingest_port(f.in));
    assert_int_equal(deliver(&f, &(sender_options){.timeout_ms = 300}, 3, &st), 1);
    assert_int_equal(st.acked, 0);
    snprintf(f.url, sizeof f.url, "%s", url);
    stop(&f);
}

static void test_mutual_tls(void **state)
{
    fixture f;
    ingest_options o = {.workers = 1,
                        .tls_cert = cert("server.pem"),
                        .tls_key = cert("server.key"),
                        .tls_ca = cert("ca.pem")};
    start(&f, "tls+tcp", &o);
    sender_stats st;
    sender_options so = {
        .timeout_ms = 500, .tls_ca = cert("ca.pem"), .tls_server_name = "localhost"};
    assert_int_equal(deliver(&f, &so, 3, &st), 1); /* no client certificate */
    so.timeout_ms = 3000;
    so.tls_cert = cert("client.pem");
    so.tls_key = cert("client.key");
    assert_int_equal(deliver(&f, &so, 20, &st), 0);
    assert_int_equal(tsdb_agent_seq(f.db, "agent-a"), 1);
    stop(&f);
}

static void test_tls_bad_settings(void **state)
{
    char dir[256], err[512];
    assert_int_equal(fs_mkdtemp(dir, sizeof dir, "ember-ingest"), 0);
    tsdb *db;
    assert_int_equal(tsdb_open(dir, NULL, &db, err, sizeof err), 0);
    ingest *in;
    ingest_options o = {.workers = 1};
    assert_int_equal(ingest_start("tls+tcp://127.0.0.1:0", db, &o, &in, err, sizeof err), -1);
    assert_non_null(strstr(err, "certificate and a key"));
    o.tls_cert = cert("server.pem");
    o.tls_key = "/nonexistent/key.pem";
    assert_int_equal(ingest_start("tls+tcp://127.0.0.1:0", db, &o, &in, err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent/key.pem"));
    tsdb_close(db);
    fs_rmtree(dir);
}

/* ---- a reply that cannot be sent when the endpoint stops -------------- */

/* A raw REQ peer speaking nng's TCP transport by hand: the 8-byte SP
 * header each way (0, 'S', 'P', 0, protocol 0x0030 = REQ v0, 0, 0), then
 * messages with a 64-bit big-endian length, a REQ body starting with its
 * 32-bit request id (high bit set).  It never reads the replies, so they
 * pile up until the server's send path is full. */
static int raw_req_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    int small = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    const unsigned char hdr[8] = {0, 'S', 'P', 0, 0, 0x30, 0, 0};
    assert_int_equal(write(fd, hdr, sizeof hdr), (ssize_t)sizeof hdr);
    unsigned char peer[8];
    assert_int_equal(recv(fd, peer, sizeof peer, MSG_WAITALL), (ssize_t)sizeof peer);
    assert_int_equal(peer[5], 0x31); /* REP v0 */
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

/* Send not-a-batch requests until the server stops reading for 500 ms;
 * returns how many went out. */
static unsigned flood_until_stalled(int fd)
{
    unsigned char m[8 + 4 + 16] = {0};
    m[7] = 4 + 16; /* length, big-endian */
    memset(m + 12, 0xee, 16); /* no protobuf: each gets a REJECTED Ack */
    unsigned sent = 0;
    size_t off = 0;
    for (;;) {
        if (off == 0) {
            uint32_t id = 0x80000000u | (sent + 1);
            m[8] = (unsigned char)(id >> 24), m[9] = (unsigned char)(id >> 16);
            m[10] = (unsigned char)(id >> 8), m[11] = (unsigned char)id;
        }
        ssize_t n = write(fd, m + off, sizeof m - off);
        if (n > 0) {
            off += (size_t)n;
            if (off == sizeof m)
                off = 0, sent++;
            continue;
        }
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        if (poll(&p, 1, 500) == 0)
            return sent;
    }
}

/* The endpoint stops while its one worker waits to send a reply to a peer
 * that reads nothing: the canceled send hands the reply back, and it must
 * be freed (it leaked: LeakSanitizer in the ASan build). */
static void test_reply_unsent_at_stop_is_freed(void **state)
{
    fixture f;
    ingest_options o = {.workers = 1};
    start(&f, "tcp", &o);
    int fd = raw_req_connect(ingest_port(f.in));
    log_set_level(LOG_ERROR); /* not a warning per garbage request */
    unsigned sent = flood_until_stalled(fd);
    log_set_level(LOG_INFO);
    ingest_stats st;
    ingest_get_stats(f.in, &st);
    /* it answered until its replies filled the socket, then stalled */
    assert_true(st.batches_rejected > 0 && st.batches_rejected < sent);
    stop(&f);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_parse),
        cmocka_unit_test(test_auth_per_connection),
        cmocka_unit_test(test_token_bound_to_instance),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_agents_api),
        cmocka_unit_test(test_sender_token),
        cmocka_unit_test(test_base_is_per_connection),
        cmocka_unit_test(test_parked_until_predecessor),
        cmocka_unit_test(test_pipelined_delivery_across_restart),
        cmocka_unit_test(test_reply_unsent_at_stop_is_freed),
    };
    const struct CMUnitTest tls_tests[] = {
        cmocka_unit_test(test_tls),
        cmocka_unit_test(test_mutual_tls),
        cmocka_unit_test(test_tls_bad_settings),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    rc += cmocka_run_group_tests_name("tls", tls_tests, make_certs, remove_certs);
    nng_fini();
    return rc;
}
