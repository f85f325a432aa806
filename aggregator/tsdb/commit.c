/*
 * commit.c — the commit path: staged samples become head appends, log
 * records, new series and out-of-order chunks in a write batch, one RocksDB
 * write per commit; commits run in parallel.
 *
 *  - Series are resolved first.  A new one is created with a write of its
 *    own (its keys and next_id, synced as commits are), one creation at a
 *    time, before it enters memory: every series a commit can see is on
 *    disk, so no log record names a series that a crash could lose or whose
 *    id could be handed out again, whatever order commits land in.
 *  - Samples are staged into the heads under stripe locks (STRIPE_OF), one
 *    held at a time, after the commit took its wseq.  Per series, the
 *    order of staging must be the order of wseqs: what replay needs (log.c)
 *    and what makes the last write win.  So a series remembers the newest
 *    wseq that staged into it, and a commit that finds a newer one than its
 *    own (a commit that started later got there first: rare, the two must
 *    share a series) stages that series' samples after the others, under
 *    every stripe lock and with a fresh wseq taken meanwhile, which no
 *    commit can overtake; they go in a log record of their own.  Staging
 *    touches no shared state but the heads: partition notes, counters and
 *    the agent's counts are gathered in the commit, applied under the lock.
 *  - Each commit writes its own batch: RocksDB groups concurrent writes
 *    (one WAL write and fsync for the group) and inserts them into the
 *    memtable in parallel.  A commit is answered only after its write
 *    returned: an acknowledged batch is durable.  Writes may land in any
 *    order; what needs order gets it here: an agent has at most one commit
 *    in flight (exactly once, below), the commit hook is called in wseq
 *    order (hook_turns: remote write sees each series' samples in the order
 *    they were staged), and whoever needs no commit in flight pauses
 *    commits.
 *
 * Exactly once: every agent's highest staged and highest durable seq are
 * kept in memory (loaded from the 'A' keys at open), and the commit's write
 * records the new seq atomically with the samples.  An agent's next commit
 * waits for the one in flight, so its seqs land in order and a re-sent seq
 * finds its first attempt's outcome: durable (acked as a duplicate) or
 * failed (refused until recovery).
 */
#include "aggregator/tsdb/tsdb_int.h"

#include "common/mem.h"
#include "common/strmap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void agent_key(ebuf *k, const char *agent_id)
{
    ebuf_putc(k, KEY_AGENT);
    ebuf_puts(k, agent_id);
}

uint32_t agent_index(tsdb *db, const char *agent_id)
{
    uint64_t i;
    if (strmap_get(&db->agent_map, agent_id, strlen(agent_id), &i))
        return (uint32_t)i + 1;
    EM_GROW(db->agents, db->capagents, db->nagents + 1);
    db->agents[db->nagents] = (agent_count){.id = em_strdup(agent_id)};
    strmap_put(&db->agent_map, agent_id, strlen(agent_id), db->nagents);
    return (uint32_t)++db->nagents;
}

void agents_load(tsdb *db)
{
    rocksdb_iterator_t *it = rocksdb_create_iterator(db->db, db->ropts);
    char prefix = KEY_AGENT;
    for (rocksdb_iter_seek(it, &prefix, 1); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
        size_t kl, vl;
        const char *k = rocksdb_iter_key(it, &kl);
        const char *v = rocksdb_iter_value(it, &vl);
        if (kl < 1 || k[0] != KEY_AGENT)
            break;
        char *id = em_strndup(k + 1, kl - 1);
        uint32_t i = agent_index(db, id); /* may move db->agents */
        agent_count *a = &db->agents[i - 1];
        a->seq = a->durable = vl == 8 ? be64_get(v) : 0;
        free(id);
    }
    rocksdb_iter_destroy(it);
}

uint64_t tsdb_agent_seq(tsdb *db, const char *agent_id)
{
    pthread_mutex_lock(&db->lock);
    uint64_t i, seq = 0;
    if (strmap_get(&db->agent_map, agent_id, strlen(agent_id), &i))
        seq = db->agents[i].durable;
    pthread_mutex_unlock(&db->lock);
    return seq;
}

void commits_pause(tsdb *db)
{
    pthread_rwlock_wrlock(&db->stage);
}

void commits_resume(tsdb *db)
{
    pthread_rwlock_unlock(&db->stage);
}

void tsdb_set_commit_hook(tsdb *db, tsdb_commit_hook fn, void *arg)
{
    commits_pause(db);
    pthread_mutex_lock(&db->lock);
    db->hook = fn;
    db->hook_arg = arg;
    db->hook_turn = db->next_wseq; /* the next commit's */
    pthread_mutex_unlock(&db->lock);
    commits_resume(db);
}

typedef struct ooo_sample {
    uint64_t id, wseq;
    size_t order;
    qsample s;
} ooo_sample;

typedef struct commit_ctx {
    tsdb_appender *a;
    rocksdb_writebatch_t *wb;
    log_rec rec;
    ooo_sample *ooo;
    size_t nooo, capooo;
    uint64_t wseq, applied, limited;
    uint64_t first_wseq;  /* the commit's first wseq, when it took a second */
    size_t first_written; /* written[0 .. first_written) were staged with it */
    uint32_t agent;
    uint64_t active, owned; /* the agent's active series before; taken since */
    bool hooked;            /* the commit hook is on: collect written */
    tsdb_written *written;
    size_t nwritten, capwritten;
    char err[256]; /* a failed write while staging (the wseq reservation) */
} commit_ctx;

static bool over_limit(const tsdb *db, const commit_ctx *c, uint64_t more)
{
    return c->agent && db->o.max_series_per_agent && c->active + more >= db->o.max_series_per_agent;
}

/* A new series' 'S', 'L' and 'P' keys into wb. */
static void series_keys_put(rocksdb_writebatch_t *wb, const char *key, size_t klen, uint64_t id,
                            labelset *ls)
{
    ebuf k;
    ebuf_init(&k);
    ebuf_putc(&k, KEY_SERIES);
    ebuf_append(&k, key, klen);
    tsdb_put_u64(wb, k.data, k.len, id);
    char lk[9] = {KEY_LABELS};
    be64_put(lk + 1, id);
    rocksdb_writebatch_put(wb, lk, sizeof lk, key, klen);
    labels_clear(ls);
    labels_from_key(key, klen, ls);
    for (size_t i = 0; i < ls->n; i++) {
        posting_key(&k, &ls->v[i], id);
        rocksdb_writebatch_put(wb, k.data, k.len, "", 0);
    }
    ebuf_free(&k);
}

/* Under create_lock, after the write: the new series [first, first + n)
 * enter memory, keyed by the staged samples that named them first. */
static void series_enter(tsdb *db, const tsdb_appender *a, const size_t *first, size_t n,
                         uint64_t id0)
{
    labelset ls;
    labels_init(&ls);
    pthread_mutex_lock(&db->lock);
    pthread_rwlock_wrlock(&db->ix_lock);
    for (size_t i = 0; i < n; i++) {
        const staged *st = &a->v[first[i]];
        const char *key = a->keys.data + st->key_off;
        labels_clear(&ls);
        labels_from_key(key, st->key_len, &ls);
        index_add(&db->ix, id0 + i, &ls);
        series_slot(db, id0 + i, memseries_new(key, st->key_len));
        series_map_put(&db->by_key, series_key_hash(key, st->key_len), id0 + i);
    }
    db->next_id = id0 + n;
    db->st.series_created += n;
    pthread_rwlock_unlock(&db->ix_lock);
    pthread_mutex_unlock(&db->lock);
    labels_free(&ls);
}

static bool series_find(tsdb *db, const char *key, size_t klen, uint64_t *id)
{
    pthread_rwlock_rdlock(&db->ix_lock);
    bool found = series_map_get(&db->by_key, db->series, key, klen, id);
    pthread_rwlock_unlock(&db->ix_lock);
    return found;
}

/* Under create_lock: ids for the samples (id 0) of series not in memory,
 * creating them (written first); a series over the agent's limit keeps 0. */
static int create_missing(tsdb *db, commit_ctx *c, char *err, size_t errlen)
{
    tsdb_appender *a = c->a;
    rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
    strmap fresh; /* key → index in first */
    strmap_init(&fresh);
    size_t *first = NULL, n = 0, cap = 0;
    uint64_t id0 = db->next_id; /* only creators move it, one at a time */
    labelset ls;
    labels_init(&ls);
    for (size_t i = 0; i < a->n; i++) {
        staged *st = &a->v[i];
        const char *key = a->keys.data + st->key_off;
        uint64_t j;
        if (st->id || series_find(db, key, st->key_len, &st->id))
            continue;
        if (strmap_get(&fresh, key, st->key_len, &j)) {
            st->id = id0 + j;
            continue;
        }
        if (over_limit(db, c, n))
            continue;
        series_keys_put(wb, key, st->key_len, id0 + n, &ls);
        strmap_put(&fresh, key, st->key_len, n);
        EM_GROW(first, cap, n + 1);
        first[n] = i;
        st->id = id0 + n++;
    }
    labels_free(&ls);
    strmap_free(&fresh);
    int rc = 0;
    if (n) {
        tsdb_put_u64(wb, META_NEXT_ID, sizeof META_NEXT_ID, id0 + n);
        char *rerr = NULL;
        rocksdb_write(db->db, db->wopts, wb, &rerr);
        if (!rerr) {
            series_enter(db, a, first, n, id0);
        } else {
            snprintf(err, errlen, "RocksDB write failed: %s", rerr);
            pthread_mutex_lock(&db->lock);
            if (!db->broken)
                db->broken = em_strdup(err);
            pthread_mutex_unlock(&db->lock);
            free(rerr);
            rc = -1;
        }
    }
    free(first);
    rocksdb_writebatch_destroy(wb);
    return rc;
}

/* Every staged sample's series id: the one it was staged with while that
 * series lives, else found or created by its key (0: over the limit).  A
 * reference to a dropped series refuses the whole commit. */
static int resolve_series(tsdb *db, commit_ctx *c, char *err, size_t errlen)
{
    tsdb_appender *a = c->a;
    size_t missing = 0;
    pthread_rwlock_rdlock(&db->ix_lock);
    for (size_t i = 0; i < a->n; i++) {
        staged *st = &a->v[i];
        if (st->id && st->id < db->cap_series && db->series[st->id])
            continue;
        if (st->key_len == 0) {
            pthread_rwlock_unlock(&db->ix_lock);
            snprintf(err, errlen, "%s (its series was dropped meanwhile)", TSDB_STALE_REF);
            return -1;
        }
        st->id = 0;
        missing++;
    }
    pthread_rwlock_unlock(&db->ix_lock);
    if (!missing)
        return 0;
    pthread_mutex_lock(&db->create_lock);
    int rc = create_missing(db, c, err, errlen);
    pthread_mutex_unlock(&db->create_lock);
    return rc;
}

/* Count s against the agent's active series; false when over the limit. */
static bool admit(tsdb *db, commit_ctx *c, memseries *s)
{
    if (!c->agent)
        return true;
    if (!s->owner) {
        if (over_limit(db, c, c->owned))
            return false;
        s->owner = c->agent;
        c->owned++;
    }
    s->last_write_ms = c->a->now;
    return true;
}

/* The series of a sample staged a few places ahead, fetched into the cache
 * meanwhile: with thousands of heads, a memseries is rarely in cache when
 * its next sample comes, and the miss was most of a head append. */
static inline void prefetch_series(const tsdb *db, uint64_t id)
{
    memseries *s = db->series[id];
    if (s) {
        __builtin_prefetch(s, 1);
        __builtin_prefetch((const char *)s + 64, 1);
    }
}

#define PREFETCH_AHEAD 8

/* Under the stripe lock of the sample's series; false: a newer commit
 * staged into the series first, the sample must wait for a newer wseq. */
static inline bool stage_one(tsdb *db, commit_ctx *c, size_t i)
{
    const staged *st = &c->a->v[i];
    memseries *s = st->id ? db->series[st->id] : NULL;
    if (s && s->last_wseq > c->wseq)
        return false;
    if (!s || !admit(db, c, s)) {
        c->limited++;
        return true;
    }
    s->last_wseq = c->wseq;
    c->applied++;
    if (c->hooked) {
        EM_GROW(c->written, c->capwritten, c->nwritten + 1);
        c->written[c->nwritten++] = (tsdb_written){s->key, s->klen, st->t, st->v};
    }
    if (st->t > s->maxt) {
        head_append(db, c->wb, &c->rec, st->id, s, c->wseq, st->t, st->v);
        log_record_add(&c->rec, st->id, st->t, st->v);
        return true;
    }
    EM_GROW(c->ooo, c->capooo, c->nooo + 1);
    c->ooo[c->nooo++] = (ooo_sample){st->id, c->wseq, i, {st->t, st->v}};
    return true;
}

/* A wseq for the commit.  The reservation on disk is renewed (with a write
 * of its own, before any commit can use a wseq past it) when this one
 * reaches it: a restart resumes there, so no wseq is ever used twice. */
static int wseq_take(tsdb *db, commit_ctx *c)
{
    int rc = 0;
    pthread_mutex_lock(&db->wseq_lock);
    c->wseq = db->next_wseq;
    db->next_wseq += 2;
    if (db->next_wseq > db->wseq_reserved) {
        rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
        tsdb_put_u64(wb, META_NEXT_WSEQ, sizeof META_NEXT_WSEQ, db->next_wseq + WSEQ_RESERVE);
        char *rerr = NULL;
        rocksdb_write(db->db, db->wopts, wb, &rerr);
        rocksdb_writebatch_destroy(wb);
        if (rerr) {
            snprintf(c->err, sizeof c->err, "RocksDB write failed: %s", rerr);
            free(rerr);
            rc = -1;
        } else {
            db->wseq_reserved = db->next_wseq + WSEQ_RESERVE;
        }
    }
    pthread_mutex_unlock(&db->wseq_lock);
    return rc;
}

/* The log record of the commit's first wseq into the batch: what follows
 * goes in a record of a second wseq. */
static void record_close(commit_ctx *c)
{
    if (c->rec.buf.len) {
        char k[9] = {KEY_LOG};
        be64_put(k + 1, c->wseq);
        rocksdb_writebatch_put(c->wb, k, sizeof k, c->rec.buf.data, c->rec.buf.len);
    }
    c->rec.buf.len = 0;
    c->rec.id = 0;
    c->rec.t = 0;
    c->first_wseq = c->wseq;
    c->first_written = c->nwritten;
}

/* The samples a newer commit overtook (file comment): under every stripe
 * lock, so that no commit that takes a wseq after this one's gets to them
 * first. */
static int stage_late(tsdb *db, commit_ctx *c, const size_t *late, size_t n)
{
    for (size_t k = 0; k < STRIPES; k++)
        pthread_mutex_lock(&db->stripe[k]);
    record_close(c);
    int rc = wseq_take(db, c);
    for (size_t i = 0; rc == 0 && i < n; i++)
        stage_one(db, c, late[i]); /* true: no commit holds a newer wseq */
    for (size_t k = STRIPES; k-- > 0;)
        pthread_mutex_unlock(&db->stripe[k]);
    return rc;
}

/* Stage every sample in the batch's order, under the stripe lock of its
 * series: the lock changes hands only when the stripe does (a batch's ids
 * mostly ascend, 16 to a stripe), one held at a time. */
static int stage_all(tsdb *db, commit_ctx *c)
{
    if (wseq_take(db, c) != 0)
        return -1;
    const staged *v = c->a->v;
    size_t n = c->a->n, held = STRIPES;  /* none */
    size_t *late = NULL, nlate = 0;      /* overtaken samples (file comment) */
    pthread_rwlock_rdlock(&db->ix_lock); /* db->series stays put */
    for (size_t i = 0; i < n; i++) {
        size_t k = STRIPE_OF(v[i].id);
        if (k != held) {
            if (held < STRIPES)
                pthread_mutex_unlock(&db->stripe[held]);
            pthread_mutex_lock(&db->stripe[k]);
            held = k;
        }
        if (i + PREFETCH_AHEAD < n)
            prefetch_series(db, v[i + PREFETCH_AHEAD].id);
        if (stage_one(db, c, i))
            continue;
        if (!late)
            late = em_malloc(n * sizeof(size_t));
        late[nlate++] = i;
    }
    if (held < STRIPES)
        pthread_mutex_unlock(&db->stripe[held]);
    int rc = nlate ? stage_late(db, c, late, nlate) : 0;
    pthread_rwlock_unlock(&db->ix_lock);
    free(late);
    return rc;
}

static int cmp_ooo(const void *a, const void *b)
{
    const ooo_sample *x = a, *y = b;
    if (x->id != y->id)
        return x->id < y->id ? -1 : 1;
    if (x->s.t != y->s.t)
        return x->s.t < y->s.t ? -1 : 1;
    return x->order < y->order ? -1 : 1;
}

/* Sort by series and time; of equal times the last staged wins.  Each
 * chunk is tagged with its samples' wseq + 1 (odd: wins ties with the
 * head chunk the same commit started). */
static void write_ooo(tsdb *db, commit_ctx *c)
{
    ooo_sample *o = c->ooo;
    size_t n = c->nooo;
    if (n == 0)
        return;
    qsort(o, n, sizeof *o, cmp_ooo);
    qsample *run = em_malloc(n * sizeof(qsample));
    for (size_t i = 0; i < n;) {
        size_t m = 0;
        uint64_t id = o[i].id;
        for (; i < n && o[i].id == id; i++) {
            if (m > 0 && run[m - 1].t == o[i].s.t)
                m--;
            run[m++] = o[i].s;
        }
        ooo_write(db, c->wb, &c->rec, id, o[i - 1].wseq + 1, run, m);
    }
    free(run);
}

/* The rest of the batch: out-of-order chunks, the log record, the seq. */
static void finish_batch(tsdb *db, commit_ctx *c, const char *agent_id, uint64_t seq)
{
    write_ooo(db, c);
    if (c->rec.buf.len) {
        char k[9] = {KEY_LOG};
        be64_put(k + 1, c->wseq);
        rocksdb_writebatch_put(c->wb, k, sizeof k, c->rec.buf.data, c->rec.buf.len);
    }
    if (c->agent) {
        ebuf k;
        ebuf_init(&k);
        agent_key(&k, agent_id);
        tsdb_put_u64(c->wb, k.data, k.len, seq);
        ebuf_free(&k);
    }
}

/* Under the lock, before the write: what staging did to shared state. */
static void staged_apply(tsdb *db, commit_ctx *c, uint64_t seq)
{
    for (size_t i = 0; i < c->rec.nparts; i++) {
        parts_note(db, c->rec.parts[i]);
        if (c->rec.dirty[i])
            dirty_note(db, c->rec.parts[i]);
    }
    db->st.chunks_cut += c->rec.cuts;
    if (c->agent) {
        db->agents[c->agent - 1].active += c->owned;
        db->agents[c->agent - 1].seq = seq;
    }
}

static void note_result(tsdb *db, commit_ctx *c, tsdb_commit_result *res)
{
    db->st.samples_appended += c->applied;
    db->st.ooo_samples += c->nooo;
    db->st.rejected[TSDB_REJ_SERIES_LIMIT] += c->limited;
    db->st.commits++;
    db->st.series = db->ix.nseries;
    res->applied = c->applied;
    res->rejected += c->limited;
    if (c->limited && !res->reason[0])
        snprintf(res->reason, sizeof res->reason,
                 "%llu samples rejected: the agent's active series limit (%llu) is reached",
                 (unsigned long long)c->limited, (unsigned long long)db->o.max_series_per_agent);
}

/* Under the lock: the agent's commit in flight has ended.  1: this seq is
 * new (the agent is now busy with it), 0: a duplicate already durable,
 * -1: refused (a write failed: the batch must be retried after recovery). */
static int agent_claim(tsdb *db, uint32_t agent, uint64_t seq)
{
    while (db->agents[agent - 1].busy && !db->broken)
        pthread_cond_wait(&db->commit_cond, &db->lock);
    const agent_count *a = &db->agents[agent - 1];
    if (db->broken)
        return -1;
    if (seq <= a->seq)
        return seq <= a->durable ? 0 : -1;
    db->agents[agent - 1].busy = true;
    return 1;
}

static int refused(tsdb *db, char *err, size_t errlen)
{
    snprintf(err, errlen, "store refuses writes after an earlier failure: %s",
             db->broken ? db->broken : "a write failed");
    return -1;
}

/* Under the lock: claim the agent, or refuse (rc -1, err) or answer a
 * duplicate (rc 0, res->duplicate).  *go: stage the batch. */
static int commit_begin(tsdb *db, commit_ctx *c, const char *agent_id, uint64_t seq,
                        tsdb_commit_result *res, char *err, size_t errlen, bool *go)
{
    *go = false;
    if (db->broken)
        return refused(db, err, errlen);
    if (agent_id) {
        c->agent = agent_index(db, agent_id);
        int claim = agent_claim(db, c->agent, seq);
        if (claim < 0)
            return refused(db, err, errlen);
        if (claim == 0) {
            res->duplicate = true;
            return 0;
        }
        c->active = db->agents[c->agent - 1].active;
    }
    c->hooked = db->hook != NULL;
    *go = true;
    return 0;
}

/* The hook for the samples staged with wseq (every wseq taken passes its
 * turn, in order). */
static void hook_turn(tsdb *db, uint64_t wseq, const tsdb_written *v, size_t n, bool ok)
{
    pthread_mutex_lock(&db->lock);
    while (db->hook_turn != wseq)
        pthread_cond_wait(&db->commit_cond, &db->lock);
    pthread_mutex_unlock(&db->lock);
    if (ok && n)
        db->hook(db->hook_arg, v, n);
    pthread_mutex_lock(&db->lock);
    db->hook_turn = wseq + 2;
    pthread_cond_broadcast(&db->commit_cond);
    pthread_mutex_unlock(&db->lock);
}

static void hook_turns(tsdb *db, const commit_ctx *c, bool ok)
{
    size_t split = c->first_wseq ? c->first_written : 0;
    if (c->first_wseq)
        hook_turn(db, c->first_wseq, c->written, split, ok);
    hook_turn(db, c->wseq, c->written + split, c->nwritten - split, ok);
}

/* Under the lock: the commit is over (ok: written); the agent is free. */
static void commit_end(tsdb *db, commit_ctx *c, bool ok, uint64_t seq)
{
    if (c->agent) {
        agent_count *a = &db->agents[c->agent - 1];
        if (ok && seq > a->durable)
            a->durable = seq;
        a->busy = false;
        pthread_cond_broadcast(&db->commit_cond);
    }
}

/* The batch, built and written; c->err on failure. */
static int stage_write(tsdb *db, commit_ctx *c, const char *agent_id, uint64_t seq)
{
    if (stage_all(db, c) != 0)
        return -1;
    finish_batch(db, c, agent_id, seq);
    pthread_mutex_lock(&db->lock);
    staged_apply(db, c, seq);
    pthread_mutex_unlock(&db->lock);
    char *rerr = NULL;
    rocksdb_write(db->db, db->wopts, c->wb, &rerr);
    if (!rerr)
        return 0;
    snprintf(c->err, sizeof c->err, "RocksDB write failed: %s", rerr);
    free(rerr);
    return -1;
}

/* Stage, write, answer: with the access and stage locks held shared. */
static int commit_run(tsdb_appender *a, const char *agent_id, uint64_t seq, tsdb_commit_result *res,
                      char *err, size_t errlen)
{
    tsdb *db = a->db;
    commit_ctx c = {.a = a};
    bool go;
    pthread_mutex_lock(&db->lock);
    int rc = commit_begin(db, &c, agent_id, seq, res, err, errlen, &go);
    pthread_mutex_unlock(&db->lock);
    if (!go)
        return rc;
    ebuf_init(&c.rec.buf);
    c.wb = rocksdb_writebatch_create();
    bool took_wseq = false;
    if ((rc = resolve_series(db, &c, err, errlen)) == 0) {
        took_wseq = true;
        if ((rc = stage_write(db, &c, agent_id, seq)) != 0)
            snprintf(err, errlen, "%s", c.err);
    }
    pthread_mutex_lock(&db->lock);
    if (took_wseq && rc != 0 && !db->broken) /* memory is ahead of disk: recover.c */
        db->broken = em_strdup(c.err);
    commit_end(db, &c, rc == 0, seq);
    if (rc == 0)
        note_result(db, &c, res);
    pthread_mutex_unlock(&db->lock);
    if (took_wseq && c.hooked)
        hook_turns(db, &c, rc == 0);
    rocksdb_writebatch_destroy(c.wb);
    ebuf_free(&c.rec.buf);
    free(c.rec.parts);
    free(c.rec.dirty);
    free(c.ooo);
    free(c.written);
    return rc;
}

int tsdb_commit(tsdb_appender *a, const char *agent_id, uint64_t seq, tsdb_commit_result *res,
                char *err, size_t errlen)
{
    tsdb *db = a->db;
    memset(res, 0, sizeof *res);
    res->rejected = a->rejected;
    snprintf(res->reason, sizeof res->reason, "%s", a->reason);
    recover_if_broken(db);
    pthread_rwlock_rdlock(&db->access); /* a NULL handle leaves db->broken set */
    pthread_rwlock_rdlock(&db->stage);
    int rc = commit_run(a, agent_id, seq, res, err, errlen);
    pthread_rwlock_unlock(&db->stage);
    pthread_rwlock_unlock(&db->access);
    tsdb_appender_discard(a);
    return rc;
}
