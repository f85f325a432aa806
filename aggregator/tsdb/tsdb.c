/*
 * tsdb.c — opening the store, the append/commit path and the counters
 * (design in tsdb.h, layout in tsdb_int.h).
 *
 * All commits take one mutex: it orders the per-agent seq check with the
 * write and guards the index and the heads.  The head is updated while the
 * write batch is built, before the write: if RocksDB then fails, the store
 * refuses every later commit (answered "retry") until a restart rebuilds
 * memory from disk, so nothing unwritten is ever acknowledged and memory
 * never silently drifts from disk.
 */
#include "aggregator/tsdb/tsdb_int.h"

#include "common/etime.h"
#include "common/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char META_NEXT_ID[] = {KEY_META, 'n', 'e', 'x', 't', '_', 'i', 'd'};
static const char META_NEXT_WSEQ[] = {KEY_META, 'n', 'e', 'x', 't', '_', 'w', 's', 'e', 'q'};

typedef struct staged {
    size_t key_off, key_len;
    int64_t t;
    double v;
} staged;

struct tsdb_appender {
    tsdb *db;
    ebuf keys;
    staged *v;
    size_t n, cap;
    uint64_t rejected;
    char reason[256]; /* the first refusal */
    char last[256];   /* the latest refusal, returned by tsdb_append */
    labelset scratch;
};

static const char *const reject_names[TSDB_REJ_COUNT] = {
    "no_metric_name", "invalid_labels", "out_of_retention", "too_far_in_future", "series_limit"};

const char *tsdb_reject_name(tsdb_reject r)
{
    return r < TSDB_REJ_COUNT ? reject_names[r] : "unknown";
}

int tsdb_write(tsdb *db, rocksdb_writebatch_t *wb, bool sync, char *err, size_t errlen)
{
    char *rerr = NULL;
    rocksdb_write(db->db, sync ? db->wopts : db->wopts_nosync, wb, &rerr);
    if (!rerr)
        return 0;
    snprintf(err, errlen, "RocksDB write failed: %s", rerr);
    if (!db->broken)
        db->broken = em_strdup(err);
    free(rerr);
    return -1;
}

static uint64_t get_u64(tsdb *db, const char *k, size_t kl, uint64_t dflt)
{
    char *err = NULL;
    size_t vl = 0;
    char *v = rocksdb_get(db->db, db->ropts, k, kl, &vl, &err);
    uint64_t r = (v && vl == 8) ? be64_get(v) : dflt;
    free(err);
    free(v);
    return r;
}

static void series_slot(tsdb *db, uint64_t id, memseries *s)
{
    size_t old = db->cap_series;
    EM_GROW(db->series, db->cap_series, id + 1);
    memset(db->series + old, 0, (db->cap_series - old) * sizeof(memseries *));
    db->series[id] = s;
}

/* Series from 'L', head watermarks from 'H'. */
static void load_series(tsdb *db)
{
    rocksdb_iterator_t *it = rocksdb_create_iterator(db->db, db->ropts);
    char prefix = KEY_LABELS;
    labelset ls;
    labels_init(&ls);
    for (rocksdb_iter_seek(it, &prefix, 1); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
        size_t kl, vl;
        const char *k = rocksdb_iter_key(it, &kl);
        if (kl != 9 || k[0] != KEY_LABELS)
            break;
        const char *v = rocksdb_iter_value(it, &vl);
        uint64_t id = be64_get(k + 1);
        labels_clear(&ls);
        labels_from_key(v, vl, &ls);
        series_slot(db, id, memseries_new(v, vl));
        index_add(&db->ix, id, &ls, v, vl);
    }
    labels_free(&ls);
    prefix = KEY_CUT;
    for (rocksdb_iter_seek(it, &prefix, 1); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
        size_t kl, vl;
        const char *k = rocksdb_iter_key(it, &kl);
        const char *v = rocksdb_iter_value(it, &vl);
        if (kl != 9 || k[0] != KEY_CUT)
            break;
        uint64_t id = be64_get(k + 1);
        if (vl == 8 && id < db->cap_series && db->series[id])
            db->series[id]->cut_maxt = db->series[id]->maxt = unflip64(be64_get(v));
    }
    rocksdb_iter_destroy(it);
}

static void apply_defaults(tsdb_options *o)
{
    if (o->partition_ms <= 0)
        o->partition_ms = TSDB_DEFAULT_PARTITION_MS;
    if (o->head_max_age_ms <= 0)
        o->head_max_age_ms = TSDB_DEFAULT_HEAD_MAX_AGE_MS;
    if (o->sync_interval_ms <= 0)
        o->sync_interval_ms = 1000;
    if (o->maint_interval_ms == 0)
        o->maint_interval_ms = 60000;
}

static rocksdb_options_t *rocks_options(void)
{
    rocksdb_options_t *opts = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(opts, 1);
    rocksdb_options_set_compression(opts, rocksdb_zstd_compression);
    rocksdb_options_increase_parallelism(opts, 2);
    return opts;
}

int tsdb_open(const char *dir, const tsdb_options *o, tsdb **out, char *err, size_t errlen)
{
    tsdb *db = em_calloc(1, sizeof *db);
    err[0] = 0;
    db->o = o ? *o : (tsdb_options){.sync = true};
    apply_defaults(&db->o);
    db->opts = rocks_options();
    char *rerr = NULL;
    db->db = rocksdb_open(db->opts, dir, &rerr);
    if (rerr) {
        snprintf(err, errlen, "cannot open RocksDB in %s: %s", dir, rerr);
        free(rerr);
        rocksdb_options_destroy(db->opts);
        free(db);
        return -1;
    }
    db->wopts = rocksdb_writeoptions_create();
    rocksdb_writeoptions_set_sync(db->wopts, db->o.sync);
    db->wopts_nosync = rocksdb_writeoptions_create();
    db->ropts = rocksdb_readoptions_create();
    pthread_mutex_init(&db->lock, NULL);
    pthread_mutex_init(&db->maint_lock, NULL);
    pthread_cond_init(&db->maint_cond, NULL);
    index_init(&db->ix);
    strmap_init(&db->agent_map);
    db->next_id = get_u64(db, META_NEXT_ID, sizeof META_NEXT_ID, 1);
    db->next_wseq = get_u64(db, META_NEXT_WSEQ, sizeof META_NEXT_WSEQ, 2);
    series_slot(db, db->next_id, NULL);
    load_series(db);
    if (parts_load(db) != 0 || log_replay(db, err, errlen) != 0) {
        if (!err[0])
            snprintf(err, errlen, "cannot read the store in %s", dir);
        tsdb_close(db);
        return -1;
    }
    db->st.series = db->ix.nseries;
    maint_start(db);
    *out = db;
    return 0;
}

void tsdb_close(tsdb *db)
{
    if (!db)
        return;
    maint_stop(db);
    pthread_mutex_destroy(&db->maint_lock);
    pthread_cond_destroy(&db->maint_cond);
    rocksdb_close(db->db);
    rocksdb_writeoptions_destroy(db->wopts);
    rocksdb_writeoptions_destroy(db->wopts_nosync);
    rocksdb_readoptions_destroy(db->ropts);
    rocksdb_options_destroy(db->opts);
    for (uint64_t id = 0; id < db->cap_series; id++)
        memseries_free(db->series[id]);
    free(db->series);
    index_free(&db->ix);
    for (size_t i = 0; i < db->nagents; i++)
        free(db->agents[i].id);
    free(db->agents);
    strmap_free(&db->agent_map);
    free(db->parts);
    free(db->dirty);
    free(db->broken);
    pthread_mutex_destroy(&db->lock);
    free(db);
}

tsdb_appender *tsdb_appender_new(tsdb *db)
{
    tsdb_appender *a = em_calloc(1, sizeof *a);
    a->db = db;
    ebuf_init(&a->keys);
    labels_init(&a->scratch);
    return a;
}

void tsdb_appender_discard(tsdb_appender *a)
{
    if (!a)
        return;
    ebuf_free(&a->keys);
    labels_free(&a->scratch);
    free(a->v);
    free(a);
}

static const char *refuse(tsdb_appender *a, tsdb_reject r, const char *why)
{
    pthread_mutex_lock(&a->db->lock);
    a->db->st.rejected[r]++;
    pthread_mutex_unlock(&a->db->lock);
    snprintf(a->last, sizeof a->last, "%s", why);
    if (a->rejected++ == 0)
        snprintf(a->reason, sizeof a->reason, "%s", why);
    return a->last;
}

static const char *check_time(tsdb_appender *a, int64_t t)
{
    int64_t now = now_ms();
    if (a->db->o.retention_ms > 0 && t < now - a->db->o.retention_ms)
        return refuse(a, TSDB_REJ_TOO_OLD, "sample timestamp is outside the retention period");
    if (t > now + TSDB_MAX_FUTURE_MS)
        return refuse(a, TSDB_REJ_TOO_NEW, "sample timestamp is too far in the future");
    return NULL;
}

const char *tsdb_append(tsdb_appender *a, const labelset *ls, int64_t ts_ms, double v)
{
    labelset *c = &a->scratch;
    labels_clear(c);
    for (size_t i = 0; i < ls->n; i++)
        if (ls->v[i].value[0]) /* empty values are dropped, as in Prometheus */
            labels_add(c, ls->v[i].name, ls->v[i].value);
    const char *name = labels_metric_name(c);
    if (!name)
        return refuse(a, TSDB_REJ_NO_NAME, "series has no __name__ label");
    char why[200];
    if (!metric_name_valid(name, strlen(name)))
        return refuse(a, TSDB_REJ_BAD_LABEL, "invalid metric name");
    if (!labels_validate(c, why, sizeof why)) {
        char msg[240];
        snprintf(msg, sizeof msg, "invalid labels: %s", why);
        return refuse(a, TSDB_REJ_BAD_LABEL, msg);
    }
    const char *bad = check_time(a, ts_ms);
    if (bad)
        return bad;
    EM_GROW(a->v, a->cap, a->n + 1);
    staged *s = &a->v[a->n++];
    s->key_off = a->keys.len;
    labels_key(&a->keys, c);
    s->key_len = a->keys.len - s->key_off;
    s->t = ts_ms;
    s->v = v;
    return NULL;
}

static void put_u64(rocksdb_writebatch_t *wb, const char *k, size_t kl, uint64_t v)
{
    char b[8];
    be64_put(b, v);
    rocksdb_writebatch_put(wb, k, kl, b, 8);
}

static void agent_key(ebuf *k, const char *agent_id)
{
    ebuf_putc(k, KEY_AGENT);
    ebuf_puts(k, agent_id);
}

static uint64_t read_agent_seq(tsdb *db, const char *agent_id)
{
    ebuf k;
    ebuf_init(&k);
    agent_key(&k, agent_id);
    uint64_t seq = get_u64(db, k.data, k.len, 0);
    ebuf_free(&k);
    return seq;
}

uint64_t tsdb_agent_seq(tsdb *db, const char *agent_id)
{
    pthread_mutex_lock(&db->lock);
    uint64_t seq = read_agent_seq(db, agent_id);
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
    put_u64(wb, k.data, k.len, id);
    char lk[9] = {KEY_LABELS};
    be64_put(lk + 1, id);
    rocksdb_writebatch_put(wb, lk, sizeof lk, key, klen);
    labelset ls;
    labels_init(&ls);
    labels_from_key(key, klen, &ls);
    for (size_t i = 0; i < ls.n; i++) {
        ebuf_reset(&k);
        ebuf_putc(&k, KEY_POSTING);
        ebuf_append(&k, ls.v[i].name, strlen(ls.v[i].name) + 1);
        ebuf_append(&k, ls.v[i].value, strlen(ls.v[i].value) + 1);
        ebuf_put_be64(&k, id);
        rocksdb_writebatch_put(wb, k.data, k.len, "", 0);
    }
    index_add(&db->ix, id, &ls, key, klen);
    labels_free(&ls);
    ebuf_free(&k);
    series_slot(db, id, memseries_new(key, klen));
    db->st.series_created++;
    return id;
}

static uint32_t agent_index(tsdb *db, const char *agent_id)
{
    uint64_t i;
    if (strmap_get(&db->agent_map, agent_id, strlen(agent_id), &i))
        return (uint32_t)i + 1;
    EM_GROW(db->agents, db->capagents, db->nagents + 1);
    db->agents[db->nagents] = (agent_count){em_strdup(agent_id), 0};
    strmap_put(&db->agent_map, agent_id, strlen(agent_id), db->nagents);
    return (uint32_t)++db->nagents;
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
    ebuf rec;
    ooo_sample *ooo;
    size_t nooo, capooo;
    uint64_t wseq, applied, limited;
} commit_ctx;

static void stage_all(commit_ctx *c, uint32_t agent)
{
    tsdb *db = c->a->db;
    int64_t now = now_ms();
    for (size_t i = 0; i < c->a->n; i++) {
        staged *st = &c->a->v[i];
        const char *key = c->a->keys.data + st->key_off;
        uint64_t id;
        if (!index_lookup(&db->ix, key, st->key_len, &id)) {
            if (agent && db->o.max_series_per_agent &&
                db->agents[agent - 1].active >= db->o.max_series_per_agent) {
                c->limited++;
                continue;
            }
            id = create_series(db, c->wb, key, st->key_len);
        }
        memseries *s = db->series[id];
        if (!admit(db, s, agent, now)) {
            c->limited++;
            continue;
        }
        c->applied++;
        if (st->t > s->maxt) {
            head_append(db, c->wb, id, s, c->wseq, st->t, st->v);
            log_record_add(&c->rec, id, st->t, st->v);
            continue;
        }
        EM_GROW(c->ooo, c->capooo, c->nooo + 1);
        c->ooo[c->nooo++] = (ooo_sample){id, i, {st->t, st->v}};
    }
}

static void finish_batch(commit_ctx *c, const char *agent_id, uint64_t seq)
{
    tsdb *db = c->a->db;
    write_ooo(db, c->wb, c->ooo, c->nooo, c->wseq + 1); /* odd: wins ties with the head */
    if (c->rec.len) {
        char k[9] = {KEY_LOG};
        be64_put(k + 1, c->wseq);
        rocksdb_writebatch_put(c->wb, k, sizeof k, c->rec.data, c->rec.len);
    }
    put_u64(c->wb, META_NEXT_ID, sizeof META_NEXT_ID, db->next_id);
    put_u64(c->wb, META_NEXT_WSEQ, sizeof META_NEXT_WSEQ, db->next_wseq);
    if (agent_id) {
        ebuf k;
        ebuf_init(&k);
        agent_key(&k, agent_id);
        put_u64(c->wb, k.data, k.len, seq);
        ebuf_free(&k);
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

int tsdb_commit(tsdb_appender *a, const char *agent_id, uint64_t seq, tsdb_commit_result *res,
                char *err, size_t errlen)
{
    tsdb *db = a->db;
    memset(res, 0, sizeof *res);
    res->rejected = a->rejected;
    snprintf(res->reason, sizeof res->reason, "%s", a->reason);
    int rc = 0;
    pthread_mutex_lock(&db->lock);
    if (db->broken) {
        snprintf(err, errlen, "store refuses writes after an earlier failure: %s", db->broken);
        rc = -1;
    } else if (agent_id && seq <= read_agent_seq(db, agent_id)) {
        res->duplicate = true;
    } else {
        commit_ctx c = {.a = a, .wb = rocksdb_writebatch_create(), .wseq = db->next_wseq};
        db->next_wseq += 2;
        ebuf_init(&c.rec);
        stage_all(&c, agent_id ? agent_index(db, agent_id) : 0);
        finish_batch(&c, agent_id, seq);
        rc = tsdb_write(db, c.wb, true, err, errlen);
        if (rc == 0)
            note_result(db, &c, res);
        rocksdb_writebatch_destroy(c.wb);
        ebuf_free(&c.rec);
        free(c.ooo);
    }
    pthread_mutex_unlock(&db->lock);
    tsdb_appender_discard(a);
    return rc;
}

static uint64_t int_property(tsdb *db, const char *name)
{
    uint64_t v = 0;
    return rocksdb_property_int(db->db, name, &v) == 0 ? v : 0;
}

void tsdb_get_stats(tsdb *db, tsdb_stats *st)
{
    pthread_mutex_lock(&db->lock);
    *st = db->st;
    st->series = db->ix.nseries;
    st->head_series = st->head_chunks_bytes = 0;
    for (uint64_t id = 1; id < db->next_id; id++) {
        memseries *s = db->series[id];
        if (s && s->head.n) {
            st->head_series++;
            st->head_chunks_bytes += s->head.cap;
        }
    }
    st->partitions = db->nparts;
    pthread_mutex_unlock(&db->lock);
    st->memtable_bytes = int_property(db, "rocksdb.cur-size-all-mem-tables");
    st->disk_bytes = int_property(db, "rocksdb.total-sst-files-size") +
                     int_property(db, "rocksdb.size-all-mem-tables");
}
