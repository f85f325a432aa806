/*
 * config_yaml.c — the YAML config file: settings as nested maps.
 *
 * The setting "spool.dir" is the key dir inside the map spool:, and also
 * the flat key "spool.dir" (paths are joined with dots, so both spell the
 * same setting; giving it both ways is a duplicate).  The file is loaded
 * with libyaml's document API and walked along the spec table, so the walk
 * only descends into maps that some setting lives in: unknown keys are
 * reported where they stand, and the cost is bounded by the table, not by
 * what a hostile file nests or aliases.
 *
 * Every error is "FILE:LINE:COL: reason", 1-based (libyaml's marks are
 * 0-based).  Errors about a key (unknown, duplicate, not a scalar) point at
 * the key; errors about a value (wrong kind, bad label value, and later a
 * directory that cannot be created) point at the value, since that is what
 * needs fixing.
 *
 * Kinds: scalar settings take a scalar (an empty value is an error, not
 * "unset"); lists take a sequence of scalars or one scalar; labels take a
 * map of scalars with valid label names; an empty value for a list, labels
 * or a map of settings means "empty".  Values replace the default outright.
 */
#include "common/config_yaml.h"

#include "common/buf.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

/* A config file is a few kilobytes; this only stops "--config /dev/zero". */
#define CONFIG_MAX_BYTES (16u << 20)

typedef struct yaml_walk {
    const opt_spec *specs;
    size_t nspecs;
    opt_slot *slots;
    const char *name; /* file name for messages */
    yaml_document_t *doc;
    char *err;
    size_t errlen;
} yaml_walk;

/* ---- messages -------------------------------------------------------- */

static void error_at(yaml_walk *w, yaml_mark_t m, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void error_at(yaml_walk *w, yaml_mark_t m, const char *fmt, ...)
{
    char reason[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    err_set(w->err, w->errlen, "%s:%zu:%zu: %s", w->name, m.line + 1, m.column + 1, reason);
}

static bool is_null(const yaml_node_t *n)
{
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *v = (const char *)n->data.scalar.value;
    return strcmp(v, "") == 0 || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 ||
           strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0;
}

/* What was found instead, for "expected X, got Y". */
static const char *describe(const yaml_node_t *n, char *buf, size_t len)
{
    if (n->type == YAML_MAPPING_NODE)
        return "a mapping";
    if (n->type == YAML_SEQUENCE_NODE)
        return "a sequence";
    if (is_null(n))
        return "an empty value";
    return log_quote(buf, len, (const char *)n->data.scalar.value);
}

static const char *kind_expects(opt_kind k)
{
    switch (k) {
    case OPT_STRING: return "a string";
    case OPT_STRLIST: return "a string or a list of strings";
    case OPT_DURATION: return "a duration like 15s";
    case OPT_INT: return "an integer";
    case OPT_BYTES: return "a size like 512MiB";
    case OPT_BOOL: return "true or false";
    case OPT_LABELS: return "a map of label names to values";
    case OPT_DIR: return "a directory path";
    case OPT_FILE: return "a file path";
    case OPT_SECTION: return "a section";
    }
    return "a value";
}

static void wrong_kind(yaml_walk *w, const char *path, const yaml_node_t *n, const char *expects)
{
    char q[128];
    error_at(w, n->start_mark, "%s: expected %s, got %s", path, expects, describe(n, q, sizeof q));
}

/* A scalar usable as a C string: not null, no NUL byte inside. */
static bool plain_text(const yaml_node_t *n)
{
    return n->type == YAML_SCALAR_NODE && !is_null(n) &&
           strlen((const char *)n->data.scalar.value) == n->data.scalar.length;
}

static const char *text_of(const yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

/* ---- values -------------------------------------------------------- */

static bool load_scalar(yaml_walk *w, const opt_spec *s, const char *path, yaml_node_t *v)
{
    if (!plain_text(v) || !opt_store_scalar(s, text_of(v))) {
        wrong_kind(w, path, v, kind_expects(s->kind));
        return false;
    }
    return true;
}

static bool load_strlist(yaml_walk *w, const opt_spec *s, const char *path, yaml_node_t *v)
{
    strlist *l = s->target;
    strlist_free(l);
    if (is_null(v))
        return true;
    if (v->type == YAML_SCALAR_NODE && plain_text(v)) {
        strlist_push(l, text_of(v));
        return true;
    }
    if (v->type != YAML_SEQUENCE_NODE) {
        wrong_kind(w, path, v, kind_expects(s->kind));
        return false;
    }
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
         it++) {
        yaml_node_t *item = yaml_document_get_node(w->doc, *it);
        if (!plain_text(item)) {
            wrong_kind(w, path, item, "a string");
            return false;
        }
        strlist_push(l, text_of(item));
    }
    return true;
}

/* The position of the second pair in m whose key is name. */
static yaml_mark_t second_key_mark(yaml_walk *w, yaml_node_t *m, const char *name)
{
    int seen = 0;
    yaml_mark_t mark = m->start_mark;
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(w->doc, p->key);
        if (strcmp(text_of(k), name) == 0 && ++seen == 2)
            return k->start_mark;
    }
    return mark;
}

/* One "name: value" of a labels map into ls. */
static bool load_label(yaml_walk *w, const char *path, yaml_node_t *k, yaml_node_t *v, labelset *ls)
{
    char q[128];
    if (!plain_text(k) || !label_name_valid(text_of(k), strlen(text_of(k)))) {
        error_at(w, k->start_mark, "%s: invalid label name %s", path, describe(k, q, sizeof q));
        return false;
    }
    if (!plain_text(v)) {
        char sub[256];
        snprintf(sub, sizeof sub, "%s.%s", path, text_of(k));
        wrong_kind(w, sub, v, "a label value");
        return false;
    }
    labels_add(ls, text_of(k), text_of(v));
    return true;
}

static bool load_labels(yaml_walk *w, const opt_spec *s, const char *path, yaml_node_t *v)
{
    labelset *target = s->target;
    labels_clear(target);
    if (is_null(v))
        return true;
    if (v->type != YAML_MAPPING_NODE) {
        wrong_kind(w, path, v, kind_expects(s->kind));
        return false;
    }
    labelset ls;
    labels_init(&ls);
    for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++) {
        if (!load_label(w, path, yaml_document_get_node(w->doc, p->key),
                        yaml_document_get_node(w->doc, p->value), &ls)) {
            labels_free(&ls);
            return false;
        }
    }
    /* Sort to find duplicates in O(n log n), then point at the second one. */
    labels_sort(&ls);
    const char *dup = labels_find_dup(&ls);
    if (dup) {
        char q[128], sub[256];
        snprintf(sub, sizeof sub, "%s.%s", path, dup);
        error_at(w, second_key_mark(w, v, dup), "duplicate key %s", log_quote(q, sizeof q, sub));
        labels_free(&ls);
        return false;
    }
    labels_free(target);
    *target = ls;
    return true;
}

/* Set one setting from node v; a second value for it is a duplicate. */
static bool load_setting(yaml_walk *w, size_t idx, const char *path, yaml_node_t *k, yaml_node_t *v)
{
    const opt_spec *s = &w->specs[idx];
    opt_slot *slot = &w->slots[idx];
    char q[128];
    if (slot->origin == OPT_FROM_CONFIG) { /* "spool.dir" and "spool: {dir}" */
        error_at(w, k->start_mark, "duplicate key %s", log_quote(q, sizeof q, path));
        return false;
    }
    slot->origin = OPT_FROM_CONFIG;
    slot->line = v->start_mark.line + 1;
    slot->col = v->start_mark.column + 1;
    switch (s->kind) {
    case OPT_STRLIST: return load_strlist(w, s, path, v);
    case OPT_LABELS: return load_labels(w, s, path, v);
    case OPT_SECTION: /* its owner reads the file again */
        free(*(char **)s->target);
        *(char **)s->target = em_strdup(w->name);
        return true;
    default: return load_scalar(w, s, path, v);
    }
}

/* ---- the walk ------------------------------------------------------- */

/* Index of the setting named path, or -1. */
static long find_setting(const yaml_walk *w, const char *path)
{
    for (size_t i = 0; i < w->nspecs; i++)
        if (strcmp(w->specs[i].name, path) == 0)
            return (long)i;
    return -1;
}

/* Does some setting live inside the map path ("spool" for "spool.dir")? */
static bool is_group(const yaml_walk *w, const char *path)
{
    size_t len = strlen(path);
    for (size_t i = 0; i < w->nspecs; i++)
        if (strncmp(w->specs[i].name, path, len) == 0 && w->specs[i].name[len] == '.')
            return true;
    return false;
}

/* Is the key of pair p equal to the key of an earlier pair of m? */
static bool key_repeated(yaml_walk *w, yaml_node_t *m, yaml_node_pair_t *p, yaml_node_t *k)
{
    for (yaml_node_pair_t *e = m->data.mapping.pairs.start; e < p; e++) {
        yaml_node_t *ek = yaml_document_get_node(w->doc, e->key);
        if (ek->data.scalar.length == k->data.scalar.length &&
            memcmp(ek->data.scalar.value, k->data.scalar.value, k->data.scalar.length) == 0)
            return true;
    }
    return false;
}

static bool walk_map(yaml_walk *w, yaml_node_t *m, const char *prefix);

/* One key: value of a map of settings; path is the dotted key. */
static bool walk_pair(yaml_walk *w, const char *path, yaml_node_t *k, yaml_node_t *v)
{
    char q[128];
    long idx = find_setting(w, path);
    /* A map under a group descends, unless the key is itself a labels setting
     * or a section: "web:" is the section's, while --web.config.file and
     * --web.enable-admin-api are flags only (as in Prometheus). */
    bool descend =
        is_group(w, path) &&
        (idx < 0 || (w->specs[idx].kind != OPT_LABELS && w->specs[idx].kind != OPT_SECTION));
    if (descend && v->type == YAML_MAPPING_NODE)
        return walk_map(w, v, path);
    if (idx >= 0)
        return load_setting(w, (size_t)idx, path, k, v);
    if (descend && is_null(v))
        return true; /* "spool:" with nothing under it */
    if (descend) {
        wrong_kind(w, path, v, "a mapping");
        return false;
    }
    error_at(w, k->start_mark, "unknown key %s", log_quote(q, sizeof q, path));
    return false;
}

static bool walk_map(yaml_walk *w, yaml_node_t *m, const char *prefix)
{
    ebuf path;
    ebuf_init(&path);
    bool ok = true;
    char q[128];
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; ok && p < m->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = yaml_document_get_node(w->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(w->doc, p->value);
        if (k->type != YAML_SCALAR_NODE || !plain_text(k)) {
            error_at(w, k->start_mark, "expected a setting name as key, got %s",
                     describe(k, q, sizeof q));
            ok = false;
            break;
        }
        ebuf_reset(&path);
        if (prefix)
            ebuf_printf(&path, "%s.", prefix);
        ebuf_append(&path, k->data.scalar.value, k->data.scalar.length);
        if (key_repeated(w, m, p, k)) {
            error_at(w, k->start_mark, "duplicate key %s", log_quote(q, sizeof q, path.data));
            ok = false;
        } else {
            ok = walk_pair(w, path.data, k, v);
        }
    }
    ebuf_free(&path);
    return ok;
}

/* ---- parsing ------------------------------------------------------- */

/* 1-based line and column of byte offset off, for libyaml's reader errors. */
static yaml_mark_t mark_of_offset(const char *buf, size_t len, size_t off)
{
    yaml_mark_t m = {0, 0, 0};
    for (size_t i = 0; i < off && i < len; i++) {
        if (buf[i] == '\n') {
            m.line++;
            m.column = 0;
        } else {
            m.column++;
        }
    }
    m.index = off;
    return m;
}

static void syntax_error(yaml_walk *w, const yaml_parser_t *p, const char *buf, size_t len)
{
    if (p->error == YAML_MEMORY_ERROR) {
        err_set(w->err, w->errlen, "%s: out of memory parsing YAML", w->name);
        return;
    }
    yaml_mark_t at = p->problem_mark;
    if (p->error == YAML_READER_ERROR) /* reader errors carry an offset, not a mark */
        at = mark_of_offset(buf, len, p->problem_offset);
    const char *problem = p->problem ? p->problem : "unknown error";
    if (p->context)
        error_at(w, at, "YAML syntax error: %s (%s at %zu:%zu)", problem, p->context,
                 p->context_mark.line + 1, p->context_mark.column + 1);
    else
        error_at(w, at, "YAML syntax error: %s", problem);
}

/* The settings in one loaded document. */
static bool walk_root(yaml_walk *w)
{
    yaml_node_t *root = yaml_document_get_root_node(w->doc);
    if (root == NULL || is_null(root))
        return true; /* an empty file sets nothing */
    if (root->type != YAML_MAPPING_NODE) {
        wrong_kind(w, "top level", root, "a mapping of settings");
        return false;
    }
    return walk_map(w, root, NULL);
}

/* A second document would be silently ignored by the walk: refuse it. */
static bool only_one_document(yaml_walk *w, yaml_parser_t *p, const char *buf, size_t len)
{
    yaml_document_t next;
    if (!yaml_parser_load(p, &next)) {
        syntax_error(w, p, buf, len);
        return false;
    }
    yaml_node_t *root = yaml_document_get_root_node(&next);
    bool ok = root == NULL;
    if (!ok)
        error_at(w, root->start_mark, "expected one YAML document, found another");
    yaml_document_delete(&next);
    return ok;
}

int config_yaml_load_buffer(const opt_spec *specs, size_t nspecs, opt_slot *slots, const char *name,
                            const char *buf, size_t len, char *err, size_t errlen)
{
    yaml_walk w = {specs, nspecs, slots, name, NULL, err, errlen};
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser)) {
        err_set(err, errlen, "%s: out of memory parsing YAML", name);
        return OPTS_ERROR;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
    bool ok = yaml_parser_load(&parser, &doc);
    if (!ok) {
        syntax_error(&w, &parser, buf, len);
    } else {
        w.doc = &doc;
        ok = only_one_document(&w, &parser, buf, len) && walk_root(&w);
        yaml_document_delete(&doc);
    }
    yaml_parser_delete(&parser);
    return ok ? OPTS_OK : OPTS_ERROR;
}

int config_yaml_load_file(const opt_spec *specs, size_t nspecs, opt_slot *slots, const char *path,
                          char *err, size_t errlen)
{
    ebuf b;
    ebuf_init(&b);
    int rc = fs_read_file(path, &b, CONFIG_MAX_BYTES);
    if (rc != 0) {
        err_set(err, errlen, "cannot read %s: %s", path, strerror(rc));
        ebuf_free(&b);
        return OPTS_ERROR;
    }
    int r = config_yaml_load_buffer(specs, nspecs, slots, path, b.data, b.len, err, errlen);
    ebuf_free(&b);
    return r;
}
