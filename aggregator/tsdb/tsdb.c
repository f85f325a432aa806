/*
 * tsdb.c — opening the store, the append path and the counters (design in
 * tsdb.h, layout in tsdb_int.h, the commit path in commit.c).
 *
 * An append to a known series builds the canonical key straight from the
 * caller's labels and finds the series id with one hash lookup (under a
 * read lock, never waiting for a commit's write): no label copy and no
 * validation, which a series got once, when it was created; an append by
 * reference (tsdb_append_ref) skips even that, lock-free.  The head is
 * updated while a commit is staged, before the write: if RocksDB then
 * fails, the store refuses commits (answered "retry") until recover.c has
 * reopened it and rebuilt memory from disk, so nothing unwritten is ever
 * acknowledged and memory never silently drifts from disk.
 */
#define _GNU_SOURCE /* pthread_rwlockattr_setkind_np */
#include "aggregator/tsdb/tsdb_int.h"

#include "common/etime.h"
#include "common/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char META_NEXT_ID[8] = {KEY_META, 'n', 'e', 'x', 't', '_', 'i', 'd'};
const char META_NEXT_WSEQ[10] = {KEY_META, 'n', 'e', 'x', 't', '_', 'w', 's', 'e', 'q'};

static const char *const reject_names[TSDB_REJ_COUNT] = {
    "no_metric_name", "invalid_labels", "out_of_retention", "too_far_in_future", "series_limit"};

const char *tsdb_reject_name(tsdb_reject r)
{
    return r < TSDB_REJ_COUNT ? reject_names[r] : "unknown";
}

bool store_enter(tsdb *db)
{
    pthread_rwlock_rdlock(&db->access);
    if (db->db)
        return true;
    pthread_rwlock_unlock(&db->access);
    return false;
}

void store_leave(tsdb *db)
{
    pthread_rwlock_unlock(&db->access);
}

int tsdb_write(tsdb *db, rocksdb_writebatch_t *wb, bool sync, char *err, size_t errlen)
{
    if (!db->db) { /* a recovery could not reopen it */
        snprintf(err, errlen, "store unavailable: %s", db->broken ? db->broken : "closed");
        return -1;
    }
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

uint64_t tsdb_get_u64(tsdb *db, const char *k, size_t kl, uint64_t dflt)
{
    char *err = NULL;
    size_t vl = 0;
    char *v = rocksdb_get(db->db, db->ropts, k, kl, &vl, &err);
    uint64_t r = (v && vl == 8) ? be64_get(v) : dflt;
    free(err);
    free(v);
    return r;
}

void tsdb_put_u64(rocksdb_writebatch_t *wb, const char *k, size_t kl, uint64_t v)
{
    char b[8];
    be64_put(b, v);
    rocksdb_writebatch_put(wb, k, kl, b, 8);
}

void series_slot(tsdb *db, uint64_t id, memseries *s)
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
        index_add(&db->ix, id, &ls);
        series_map_put(&db->by_key, series_key_hash(v, vl), id);
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

int rocks_open(tsdb *db, char *err, size_t errlen)
{
    char *rerr = NULL;
    db->db = rocksdb_open(db->opts, db->dir, &rerr);
    if (!rerr)
        return 0;
    snprintf(err, errlen, "cannot open RocksDB in %s: %s", db->dir, rerr);
    free(rerr);
    return -1;
}

int state_load(tsdb *db, char *err, size_t errlen)
{
    db->next_id = tsdb_get_u64(db, META_NEXT_ID, sizeof META_NEXT_ID, 1);
    db->next_wseq = tsdb_get_u64(db, META_NEXT_WSEQ, sizeof META_NEXT_WSEQ, 2);
    db->wseq_reserved = db->next_wseq;
    db->hook_turn = db->next_wseq;
    series_slot(db, db->next_id, NULL);
    load_series(db);
    agents_load(db);
    if (parts_load(db) != 0 || log_replay(db, err, errlen) != 0) {
        if (!err[0])
            snprintf(err, errlen, "cannot read the store in %s", db->dir);
        return -1;
    }
    db->st.series = db->ix.nseries;
    return 0;
}

void state_free(tsdb *db)
{
    for (uint64_t id = 0; id < db->cap_series; id++)
        memseries_free(db->series[id]);
    free(db->series);
    db->series = NULL;
    db->cap_series = 0;
    index_free(&db->ix);
    index_init(&db->ix);
    series_map_free(&db->by_key);
    for (size_t i = 0; i < db->nagents; i++)
        free(db->agents[i].id);
    free(db->agents);
    db->agents = NULL;
    db->nagents = db->capagents = 0;
    strmap_free(&db->agent_map);
    strmap_init(&db->agent_map);
    free(db->parts);
    free(db->dirty);
    free(db->aged);
    db->parts = db->dirty = db->aged = NULL;
    db->nparts = db->ndirty = db->naged = db->capparts = db->capdirty = db->capaged = 0;
}

static void locks_init(tsdb *db)
{
    pthread_mutex_init(&db->lock, NULL);
    pthread_rwlockattr_t wp; /* a waiting recovery is not starved by new commits */
    pthread_rwlockattr_init(&wp);
    pthread_rwlockattr_setkind_np(&wp, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&db->access, &wp);
    pthread_rwlock_init(&db->stage, &wp);   /* nor truncation or compaction */
    pthread_rwlock_init(&db->ix_lock, &wp); /* nor a new series by staging */
    pthread_rwlockattr_destroy(&wp);
    pthread_mutex_init(&db->create_lock, NULL);
    pthread_mutex_init(&db->wseq_lock, NULL);
    pthread_mutexattr_t spin; /* stripes are held briefly: spin a little before sleeping */
    pthread_mutexattr_init(&spin);
    pthread_mutexattr_settype(&spin, PTHREAD_MUTEX_ADAPTIVE_NP);
    for (size_t i = 0; i < STRIPES; i++)
        pthread_mutex_init(&db->stripe[i], &spin);
    pthread_mutexattr_destroy(&spin);
    pthread_cond_init(&db->commit_cond, NULL);
    pthread_mutex_init(&db->maint_lock, NULL);
    pthread_cond_init(&db->maint_cond, NULL);
}

int tsdb_open(const char *dir, const tsdb_options *o, tsdb **out, char *err, size_t errlen)
{
    tsdb *db = em_calloc(1, sizeof *db);
    err[0] = 0;
    db->o = o ? *o : (tsdb_options){.sync = true};
    apply_defaults(&db->o);
    db->opts = rocks_options();
    db->dir = em_strdup(dir);
    if (rocks_open(db, err, errlen) != 0) {
        rocksdb_options_destroy(db->opts);
        free(db->dir);
        free(db);
        return -1;
    }
    db->wopts = rocksdb_writeoptions_create();
    rocksdb_writeoptions_set_sync(db->wopts, db->o.sync);
    db->wopts_nosync = rocksdb_writeoptions_create();
    db->ropts = rocksdb_readoptions_create();
    locks_init(db);
    index_init(&db->ix);
    strmap_init(&db->agent_map);
    /* references from another handle on the same directory are stale too */
    atomic_init(&db->drop_gen, (uint64_t)now_ms() << 20);
    metadata_load(db);
    if (state_load(db, err, errlen) != 0) {
        tsdb_close(db);
        return -1;
    }
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
    metadata_free(db);
    rocksdb_writeoptions_destroy(db->wopts);
    rocksdb_writeoptions_destroy(db->wopts_nosync);
    rocksdb_readoptions_destroy(db->ropts);
    rocksdb_options_destroy(db->opts);
    state_free(db);
    index_free(&db->ix);
    strmap_free(&db->agent_map);
    free(db->broken);
    free(db->dir);
    pthread_mutex_destroy(&db->lock);
    pthread_rwlock_destroy(&db->ix_lock);
    pthread_rwlock_destroy(&db->access);
    pthread_rwlock_destroy(&db->stage);
    pthread_mutex_destroy(&db->create_lock);
    pthread_mutex_destroy(&db->wseq_lock);
    for (size_t i = 0; i < STRIPES; i++)
        pthread_mutex_destroy(&db->stripe[i]);
    pthread_cond_destroy(&db->commit_cond);
    free(db);
}

tsdb_appender *tsdb_appender_new(tsdb *db)
{
    tsdb_appender *a = em_calloc(1, sizeof *a);
    a->db = db;
    a->now = now_ms();
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
    int64_t now = a->now;
    if (a->db->o.retention_ms > 0 && t < now - a->db->o.retention_ms)
        return refuse(a, TSDB_REJ_TOO_OLD, "sample timestamp is outside the retention period");
    if (t > now + TSDB_MAX_FUTURE_MS)
        return refuse(a, TSDB_REJ_TOO_NEW, "sample timestamp is too far in the future");
    return NULL;
}

/* The canonical key of ls straight into out when its names ascend strictly
 * (agents and the parsers sort them): no copy; false otherwise. */
static bool key_direct(ebuf *out, const labelset *ls)
{
    const char *prev = NULL;
    for (size_t i = 0; i < ls->n; i++) {
        const label *l = &ls->v[i];
        if (!l->value[0])
            continue; /* empty values are dropped, as in Prometheus */
        if (prev && strcmp(prev, l->name) >= 0)
            return false;
        ebuf_append(out, l->name, strlen(l->name) + 1);
        ebuf_append(out, l->value, strlen(l->value) + 1);
        prev = l->name;
    }
    return true;
}

/* A series not seen before: sorted, validated, its key appended to keys. */
static const char *key_checked(tsdb_appender *a, const labelset *ls)
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
    labels_key(&a->keys, c);
    return NULL;
}

static void stage(tsdb_appender *a, size_t off, uint64_t id, int64_t ts_ms, double v)
{
    EM_GROW(a->v, a->cap, a->n + 1);
    a->v[a->n++] = (staged){off, a->keys.len - off, id, ts_ms, v};
}

const char TSDB_STALE_REF[] = "series reference is stale: append with the labels";

/* Known series (in the index) were validated when they were created: an
 * append to one costs a key build and a hash lookup, no copy or check; an
 * append by reference costs neither (the commit checks the id). */
const char *tsdb_append_ref(tsdb_appender *a, tsdb_ref *ref, const labelset *ls, int64_t ts_ms,
                            double v)
{
    tsdb *db = a->db;
    uint64_t gen = atomic_load_explicit(&db->drop_gen, memory_order_acquire);
    if (ref && ref->id && ref->gen == gen) {
        const char *bad = check_time(a, ts_ms);
        if (!bad)
            stage(a, a->keys.len, ref->id, ts_ms, v);
        return bad;
    }
    if (!ls)
        return TSDB_STALE_REF;
    const char *bad = check_time(a, ts_ms);
    if (bad)
        return bad;
    size_t off = a->keys.len;
    uint64_t id = 0;
    if (key_direct(&a->keys, ls)) {
        pthread_rwlock_rdlock(&db->ix_lock);
        bool known =
            series_map_get(&db->by_key, db->series, a->keys.data + off, a->keys.len - off, &id);
        pthread_rwlock_unlock(&db->ix_lock);
        if (!known)
            id = 0;
    }
    if (!id) {
        a->keys.len = off;
        if ((bad = key_checked(a, ls)) != NULL)
            return bad;
    } else if (ref) {
        *ref = (tsdb_ref){id, gen};
    }
    stage(a, off, id, ts_ms, v);
    return NULL;
}

const char *tsdb_append(tsdb_appender *a, const labelset *ls, int64_t ts_ms, double v)
{
    return tsdb_append_ref(a, NULL, ls, ts_ms, v);
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
    st->head_min_t = INT64_MAX;
    st->head_max_t = INT64_MIN;
    for (uint64_t id = 1; id < db->next_id; id++) {
        memseries *s = db->series[id];
        if (!s)
            continue;
        pthread_mutex_lock(&db->stripe[STRIPE_OF(id)]); /* commits stage into it */
        if (s->head.n) {
            st->head_series++;
            st->head_chunks_bytes += s->head.cap;
            st->head_min_t = s->head.mint < st->head_min_t ? s->head.mint : st->head_min_t;
            st->head_max_t = s->head.t > st->head_max_t ? s->head.t : st->head_max_t;
        }
        pthread_mutex_unlock(&db->stripe[STRIPE_OF(id)]);
    }
    st->partitions = db->nparts;
    pthread_mutex_unlock(&db->lock);
    if (!store_enter(db))
        return;
    st->memtable_bytes = int_property(db, "rocksdb.cur-size-all-mem-tables");
    st->disk_bytes = int_property(db, "rocksdb.total-sst-files-size") +
                     int_property(db, "rocksdb.size-all-mem-tables");
    store_leave(db);
}
