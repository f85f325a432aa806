/*
 * commit.c — the commit path: staged samples become head appends, log
 * records, new series and out-of-order chunks in a write batch, written
 * with group commit.
 *
 * Commits build their part of the batch under the store's lock (that orders
 * them and guards the index and the heads), then wait for the batch to be
 * written: commits that arrive while a write is in flight collect in the
 * next open group, and the first of them to find the writer idle writes the
 * whole group with one (synced) RocksDB write.  So under load many commits
 * share one fsync, the lock is never held across a write, and groups land
 * in the order memory saw them.  A commit is answered only after its
 * group's write returned: an acknowledged batch is durable.
 *
 * Exactly once: every agent's highest staged and highest durable seq are
 * kept in memory (loaded from the 'A' keys at open); the group's write
 * records the new seqs atomically with the samples.  A re-sent batch whose
 * seq is staged but not yet durable waits for that write's outcome.
 */
#include "aggregator/tsdb/tsdb_int.h"

#include "common/mem.h"

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

/* A new series: its 'S', 'L' and 'P' keys go in wb, memory is updated now. */
static uint64_t create_series(tsdb *db, rocksdb_writebatch_t *wb, const char *key, size_t klen)
{
    uint64_t id = db->next_id++;
    ebuf k;
    ebuf_init(&k);
    ebuf_putc(&k, KEY_SERIES);
    ebuf_append(&k, key, klen);
    tsdb_put_u64(wb, k.data, k.len, id);
    char lk[9] = {KEY_LABELS};
    be64_put(lk + 1, id);
    rocksdb_writebatch_put(wb, lk, sizeof lk, key, klen);
    labelset ls;
    labels_init(&ls);
    labels_from_key(key, klen, &ls);
    for (size_t i = 0; i < ls.n; i++) {
        posting_key(&k, &ls.v[i], id);
        rocksdb_writebatch_put(wb, k.data, k.len, "", 0);
    }
    pthread_rwlock_wrlock(&db->ix_lock);
    index_add(&db->ix, id, &ls);
    series_slot(db, id, memseries_new(key, klen));
    series_map_put(&db->by_key, series_key_hash(key, klen), id);
    pthread_rwlock_unlock(&db->ix_lock);
    labels_free(&ls);
    ebuf_free(&k);
    db->st.series_created++;
    return id;
}

/* Count s against the agent's active series; false when over the limit. */
static bool admit(tsdb *db, memseries *s, uint32_t agent, int64_t now)
{
    if (!agent)
        return true;
    if (!s->owner) {
        if (db->o.max_series_per_agent &&
            db->agents[agent - 1].active >= db->o.max_series_per_agent)
            return false;
        s->owner = agent;
        db->agents[agent - 1].active++;
    }
    s->last_write_ms = now;
    return true;
}

typedef struct ooo_sample {
    uint64_t id;
    size_t order;
    qsample s;
} ooo_sample;

static int cmp_ooo(const void *a, const void *b)
{
    const ooo_sample *x = a, *y = b;
    if (x->id != y->id)
        return x->id < y->id ? -1 : 1;
    if (x->s.t != y->s.t)
        return x->s.t < y->s.t ? -1 : 1;
    return x->order < y->order ? -1 : 1;
}

/* Sort by series and time; of equal times the last staged wins. */
static void write_ooo(tsdb *db, rocksdb_writebatch_t *wb, ooo_sample *o, size_t n, uint64_t wseq)
{
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
        ooo_write(db, wb, id, wseq, run, m);
    }
    free(run);
}

typedef struct commit_ctx {
    tsdb_appender *a;
    rocksdb_writebatch_t *wb;
    log_rec rec;
    ooo_sample *ooo;
    size_t nooo, capooo;
    uint64_t wseq, applied, limited;
} commit_ctx;

/* The series a staged sample goes to, created if new; 0: over the limit. */
static uint64_t staged_series(tsdb *db, commit_ctx *c, const staged *st, uint32_t agent)
{
    if (st->id && st->id < db->cap_series && db->series[st->id])
        return st->id;
    const char *key = c->a->keys.data + st->key_off;
    uint64_t id;
    if (series_map_get(&db->by_key, db->series, key, st->key_len, &id))
        return id;
    if (agent && db->o.max_series_per_agent &&
        db->agents[agent - 1].active >= db->o.max_series_per_agent)
        return 0;
    return create_series(db, c->wb, key, st->key_len);
}

/* Remember a staged sample for the commit hook.  The key is the series'
 * own (samples appended by reference stage none): series are freed only
 * under the lock with no group open or in flight (series_drop). */
static void note_written(tsdb *db, const memseries *s, const staged *st)
{
    commit_group *g = db->open_group;
    if (!db->hook)
        return;
    EM_GROW(g->written, g->capwritten, g->nwritten + 1);
    g->written[g->nwritten++] = (tsdb_written){s->key, s->klen, st->t, st->v};
}

void tsdb_set_commit_hook(tsdb *db, tsdb_commit_hook fn, void *arg)
{
    pthread_mutex_lock(&db->lock);
    db->hook = fn;
    db->hook_arg = arg;
    pthread_mutex_unlock(&db->lock);
}

/* The series of a sample staged a few places ahead, fetched into the cache
 * meanwhile: with thousands of heads, a memseries is rarely in cache when
 * its next sample comes, and the miss was most of a head append. */
static inline void prefetch_series(const tsdb *db, const staged *st)
{
    memseries *s = st->id && st->id < db->cap_series ? db->series[st->id] : NULL;
    if (s) {
        __builtin_prefetch(s, 1);
        __builtin_prefetch((const char *)s + 64, 1);
    }
}

#define PREFETCH_AHEAD 8

static void stage_all(commit_ctx *c, uint32_t agent)
{
    tsdb *db = c->a->db;
    int64_t now = c->a->now;
    for (size_t i = 0; i < c->a->n; i++) {
        staged *st = &c->a->v[i];
        if (i + PREFETCH_AHEAD < c->a->n)
            prefetch_series(db, st + PREFETCH_AHEAD);
        uint64_t id = staged_series(db, c, st, agent);
        memseries *s = id ? db->series[id] : NULL;
        if (!s || !admit(db, s, agent, now)) {
            c->limited++;
            continue;
        }
        c->applied++;
        note_written(db, s, st);
        if (st->t > s->maxt) {
            head_append(db, c->wb, &c->rec, id, s, c->wseq, st->t, st->v);
            log_record_add(&c->rec, id, st->t, st->v);
            continue;
        }
        EM_GROW(c->ooo, c->capooo, c->nooo + 1);
        c->ooo[c->nooo++] = (ooo_sample){id, i, {st->t, st->v}};
    }
}

static void group_note_agent(tsdb *db, commit_group *g, uint32_t agent, const char *agent_id,
                             uint64_t seq)
{
    ebuf k;
    ebuf_init(&k);
    agent_key(&k, agent_id);
    tsdb_put_u64(g->wb, k.data, k.len, seq);
    ebuf_free(&k);
    db->agents[agent - 1].seq = seq;
    EM_GROW(g->agents, g->capagents, g->nagents + 1);
    g->seqs = em_realloc(g->seqs, g->capagents * sizeof(uint64_t));
    g->agents[g->nagents] = agent;
    g->seqs[g->nagents++] = seq;
}

static void finish_batch(commit_ctx *c)
{
    tsdb *db = c->a->db;
    write_ooo(db, c->wb, c->ooo, c->nooo, c->wseq + 1); /* odd: wins ties with the head */
    if (c->rec.buf.len) {
        char k[9] = {KEY_LOG};
        be64_put(k + 1, c->wseq);
        rocksdb_writebatch_put(c->wb, k, sizeof k, c->rec.buf.data, c->rec.buf.len);
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

static commit_group *open_group(tsdb *db)
{
    if (!db->open_group) {
        db->open_group = em_calloc(1, sizeof(commit_group));
        db->open_group->wb = rocksdb_writebatch_create();
    }
    return db->open_group;
}

static void group_free(commit_group *g)
{
    rocksdb_writebatch_destroy(g->wb);
    free(g->agents);
    free(g->seqs);
    free(g->written);
    free(g);
}

/* The counters, only when the group needs them: next_id when it created
 * series; next_wseq as a reservation, WSEQ_RESERVE ahead, renewed when the
 * group used a wseq at or past it (a restart resumes at the reservation, so
 * a wseq is never reused).  Two keys less in most writes.  If the write
 * fails, recovery reloads both from disk. */
static void counters_note(tsdb *db, rocksdb_writebatch_t *wb)
{
    if (db->next_id != db->id_written) {
        tsdb_put_u64(wb, META_NEXT_ID, sizeof META_NEXT_ID, db->next_id);
        db->id_written = db->next_id;
    }
    if (db->next_wseq > db->wseq_reserved) {
        db->wseq_reserved = db->next_wseq + WSEQ_RESERVE;
        tsdb_put_u64(wb, META_NEXT_WSEQ, sizeof META_NEXT_WSEQ, db->wseq_reserved);
    }
}

/* Write the open group g (this thread leads): the lock is released for the
 * write itself, so the next group fills meanwhile. */
static void group_write(tsdb *db, commit_group *g)
{
    db->open_group = NULL;
    db->writing = true;
    counters_note(db, g->wb);
    pthread_mutex_unlock(&db->lock);
    char *rerr = NULL;
    rocksdb_write(db->db, db->wopts, g->wb, &rerr);
    /* Still the only writer: hook calls keep the groups' order. */
    if (!rerr && db->hook && g->nwritten)
        db->hook(db->hook_arg, g->written, g->nwritten);
    pthread_mutex_lock(&db->lock);
    if (rerr) {
        snprintf(g->err, sizeof g->err, "RocksDB write failed: %s", rerr);
        if (!db->broken)
            db->broken = em_strdup(g->err);
        g->rc = -1;
        free(rerr);
    }
    for (size_t i = 0; !rerr && i < g->nagents; i++) {
        agent_count *a = &db->agents[g->agents[i] - 1];
        if (g->seqs[i] > a->durable)
            a->durable = g->seqs[i];
    }
    g->done = true;
    db->writing = false;
    pthread_cond_broadcast(&db->group_cond);
}

/* Under the lock: until g is written, by this thread or another. */
static void group_wait(tsdb *db, commit_group *g)
{
    while (!g->done) {
        if (!db->writing && db->open_group == g)
            group_write(db, g);
        else
            pthread_cond_wait(&db->group_cond, &db->lock);
    }
}

/* A seq at or below the agent's staged one: answered once it is durable;
 * false when its write failed (the batch must be retried). */
static bool duplicate_durable(tsdb *db, uint32_t agent, uint64_t seq)
{
    while (seq > db->agents[agent - 1].durable && !db->broken)
        pthread_cond_wait(&db->group_cond, &db->lock);
    return seq <= db->agents[agent - 1].durable;
}

/* Was a series staged by reference dropped (retention) before this commit?
 * Checked before anything is applied: such a commit is refused whole. */
static bool stale_refs(const tsdb_appender *a)
{
    const tsdb *db = a->db;
    for (size_t i = 0; i < a->n; i++) {
        uint64_t id = a->v[i].id;
        if (a->v[i].key_len == 0 && (id >= db->cap_series || !db->series[id]))
            return true;
    }
    return false;
}

static int commit_locked(tsdb_appender *a, const char *agent_id, uint64_t seq,
                         tsdb_commit_result *res, char *err, size_t errlen)
{
    tsdb *db = a->db;
    if (db->broken) {
        snprintf(err, errlen, "store refuses writes after an earlier failure: %s", db->broken);
        return -1;
    }
    uint32_t agent = agent_id ? agent_index(db, agent_id) : 0;
    if (agent && seq <= db->agents[agent - 1].seq) {
        if (duplicate_durable(db, agent, seq)) {
            res->duplicate = true;
            return 0;
        }
        snprintf(err, errlen, "store refuses writes after an earlier failure: %s", db->broken);
        return -1;
    }
    if (stale_refs(a)) {
        snprintf(err, errlen, "%s (its series was dropped meanwhile)", TSDB_STALE_REF);
        return -1;
    }
    commit_group *g = open_group(db);
    commit_ctx c = {.a = a, .wb = g->wb, .wseq = db->next_wseq};
    db->next_wseq += 2;
    ebuf_init(&c.rec.buf);
    stage_all(&c, agent);
    finish_batch(&c);
    if (agent)
        group_note_agent(db, g, agent, agent_id, seq);
    g->waiters++;
    group_wait(db, g);
    int rc = g->rc;
    if (rc == 0)
        note_result(db, &c, res);
    else
        snprintf(err, errlen, "%s", g->err);
    if (--g->waiters == 0)
        group_free(g);
    ebuf_free(&c.rec.buf);
    free(c.ooo);
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
    pthread_mutex_lock(&db->lock);
    int rc = commit_locked(a, agent_id, seq, res, err, errlen);
    pthread_mutex_unlock(&db->lock);
    pthread_rwlock_unlock(&db->access);
    tsdb_appender_discard(a);
    return rc;
}

void groups_flush(tsdb *db)
{
    for (;;) {
        if (db->writing)
            pthread_cond_wait(&db->group_cond, &db->lock);
        else if (db->open_group)
            group_write(db, db->open_group);
        else
            return;
    }
}
