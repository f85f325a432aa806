/*
 * metadata.c — metric metadata (type, help, unit per metric family), as
 * Prometheus's /api/v1/metadata lists it.
 *
 * Agents send their families' metadata with every batch, remote write and
 * imports carry it too, so the same record arrives over and over.  Every
 * record lives in memory (loaded from the 'D' keys at open) and a record is
 * written to RocksDB only when it is new or differs from the stored one:
 * the ingest path pays a hash lookup and a few string compares, not a
 * write.  Records are never deleted (like Prometheus's metadata of a
 * scrape target that is still up, they describe names, not samples).
 *
 * Locking: meta_lock guards the map; a write takes the store's lock inside
 * it (tsdb_write's rule), never the other way round.
 */
#include "aggregator/tsdb/tsdb_int.h"

#include "common/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One record: family\0type\0help\0unit\0 in one block (rec). */
struct meta_entry {
    char *rec;
    size_t len;
};

static const char *const type_names[] = {"counter", "gauge", "histogram", "gaugehistogram",
                                         "summary", "info",  "stateset",  "unknown"};

const char *tsdb_metadata_type_of(metric_type t)
{
    switch (t) {
    case METRIC_COUNTER: return "counter";
    case METRIC_GAUGE: return "gauge";
    case METRIC_HISTOGRAM: return "histogram";
    case METRIC_SUMMARY: return "summary";
    default: return "unknown"; /* untyped, as Prometheus's text parser says */
    }
}

const char *tsdb_metadata_type_of_remote(int rw_type)
{
    /* prometheus.MetricMetadata.MetricType: UNKNOWN 0, COUNTER 1, GAUGE 2,
     * HISTOGRAM 3, GAUGEHISTOGRAM 4, SUMMARY 5, INFO 6, STATESET 7. */
    static const char *const rw[] = {"unknown",        "counter", "gauge", "histogram",
                                     "gaugehistogram", "summary", "info",  "stateset"};
    return rw_type >= 0 && rw_type < 8 ? rw[rw_type] : "unknown";
}

/* A known type name, or "unknown". */
static const char *canonical_type(const char *t)
{
    for (size_t i = 0; t && i < sizeof type_names / sizeof type_names[0]; i++)
        if (strcmp(t, type_names[i]) == 0)
            return type_names[i];
    return "unknown";
}

static void record_encode(ebuf *out, const tsdb_metadata *m)
{
    ebuf_reset(out);
    const char *parts[4] = {m->family, canonical_type(m->type), m->help ? m->help : "",
                            m->unit ? m->unit : ""};
    for (int i = 0; i < 4; i++)
        ebuf_append(out, parts[i], strlen(parts[i]) + 1);
}

/* The record's fields; rec must hold four NUL-terminated strings. */
static void record_decode(const char *rec, tsdb_metadata *m)
{
    m->family = rec;
    m->type = m->family + strlen(m->family) + 1;
    m->help = m->type + strlen(m->type) + 1;
    m->unit = m->help + strlen(m->help) + 1;
}

static bool record_valid(const char *rec, size_t len)
{
    size_t nuls = 0;
    for (size_t i = 0; i < len; i++)
        nuls += rec[i] == '\0';
    return len > 0 && rec[0] != '\0' && nuls == 4 && rec[len - 1] == '\0';
}

/* Store rec (copied) as the family's record in memory; under meta_lock. */
static void entry_put(tsdb *db, const char *rec, size_t len)
{
    uint64_t i;
    size_t flen = strlen(rec);
    if (!strmap_get(&db->meta_map, rec, flen, &i)) {
        EM_GROW(db->metas, db->capmetas, db->nmetas + 1);
        i = db->nmetas++;
        db->metas[i].rec = NULL;
        strmap_put(&db->meta_map, rec, flen, i);
    }
    free(db->metas[i].rec);
    db->metas[i].rec = em_malloc(len);
    memcpy(db->metas[i].rec, rec, len);
    db->metas[i].len = len;
}

static bool entry_same(const tsdb *db, const ebuf *rec)
{
    uint64_t i;
    if (!strmap_get(&db->meta_map, rec->data, strlen(rec->data), &i))
        return false;
    return db->metas[i].len == rec->len && memcmp(db->metas[i].rec, rec->data, rec->len) == 0;
}

void metadata_load(tsdb *db)
{
    pthread_mutex_init(&db->meta_lock, NULL);
    strmap_init(&db->meta_map);
    rocksdb_iterator_t *it = rocksdb_create_iterator(db->db, db->ropts);
    char prefix = KEY_METADATA;
    for (rocksdb_iter_seek(it, &prefix, 1); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
        size_t kl, vl;
        const char *k = rocksdb_iter_key(it, &kl);
        if (kl < 1 || k[0] != KEY_METADATA)
            break;
        const char *v = rocksdb_iter_value(it, &vl);
        if (record_valid(v, vl))
            entry_put(db, v, vl);
    }
    rocksdb_iter_destroy(it);
}

void metadata_free(tsdb *db)
{
    for (size_t i = 0; i < db->nmetas; i++)
        free(db->metas[i].rec);
    free(db->metas);
    strmap_free(&db->meta_map);
    pthread_mutex_destroy(&db->meta_lock);
}

/* Put the changed records of v into wb; returns how many. */
static size_t stage_changes(tsdb *db, const tsdb_metadata *v, size_t n, rocksdb_writebatch_t *wb,
                            ebuf *key, ebuf *rec)
{
    size_t changed = 0;
    for (size_t i = 0; i < n; i++) {
        if (!v[i].family || !v[i].family[0])
            continue;
        record_encode(rec, &v[i]);
        if (entry_same(db, rec))
            continue;
        ebuf_reset(key);
        ebuf_putc(key, KEY_METADATA);
        ebuf_puts(key, v[i].family);
        rocksdb_writebatch_put(wb, key->data, key->len, rec->data, rec->len);
        changed++;
    }
    return changed;
}

int tsdb_metadata_update(tsdb *db, const tsdb_metadata *v, size_t n, char *err, size_t errlen)
{
    ebuf key, rec;
    ebuf_init(&key);
    ebuf_init(&rec);
    rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
    pthread_mutex_lock(&db->meta_lock);
    int rc = 0;
    if (stage_changes(db, v, n, wb, &key, &rec) > 0) {
        pthread_mutex_lock(&db->lock);
        rc = tsdb_write(db, wb, db->o.sync, err, errlen);
        if (rc == 0)
            db->st.metadata_writes++;
        pthread_mutex_unlock(&db->lock);
        /* Memory follows only what is durable, so a failed write is retried
         * by the next sender of the same record. */
        for (size_t i = 0; rc == 0 && i < n; i++)
            if (v[i].family && v[i].family[0]) {
                record_encode(&rec, &v[i]);
                entry_put(db, rec.data, rec.len);
            }
    }
    pthread_mutex_unlock(&db->meta_lock);
    rocksdb_writebatch_destroy(wb);
    ebuf_free(&key);
    ebuf_free(&rec);
    return rc;
}

static int cmp_family(const void *a, const void *b)
{
    return strcmp(((const tsdb_metadata *)a)->family, ((const tsdb_metadata *)b)->family);
}

void tsdb_metadata_list(tsdb *db, const char *family, tsdb_metadata **out, size_t *n)
{
    pthread_mutex_lock(&db->meta_lock);
    *out = em_malloc((db->nmetas ? db->nmetas : 1) * sizeof **out);
    *n = 0;
    uint64_t only = 0;
    bool found = family && strmap_get(&db->meta_map, family, strlen(family), &only);
    for (size_t i = family ? only : 0; i < (family ? only + found : db->nmetas); i++) {
        char *rec = em_malloc(db->metas[i].len);
        memcpy(rec, db->metas[i].rec, db->metas[i].len);
        record_decode(rec, &(*out)[(*n)++]);
    }
    pthread_mutex_unlock(&db->meta_lock);
    qsort(*out, *n, sizeof **out, cmp_family);
}

void tsdb_metadata_list_free(tsdb_metadata *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free((char *)v[i].family); /* the record's block starts with the family */
    free(v);
}
