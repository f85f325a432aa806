/*
 * yaml_walk.c — walking a libyaml document key by key (see yaml_walk.h);
 * moved here from the agent's config.c so the aggregator's remote_write
 * section reads relabel configs and scalars the same way.
 */
#include "common/yaml_walk.h"

#include "common/err.h"
#include "common/etime.h"
#include "common/mem.h"
#include "common/options.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int yw_load(ywalk *w, yaml_document_t *doc, const char *name, const char *buf, size_t len,
            char *err, size_t errlen)
{
    *w = (ywalk){.name = name, .doc = doc, .err = err, .errlen = errlen};
    yaml_parser_t parser;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
    int rc = 0;
    if (!yaml_parser_load(&parser, doc)) {
        err_set(err, errlen, "%s:%zu:%zu: %s", name, parser.problem_mark.line + 1,
                parser.problem_mark.column + 1, parser.problem ? parser.problem : "bad YAML");
        rc = -1;
    }
    yaml_parser_delete(&parser);
    return rc;
}

int yw_fail(ywalk *w, const yaml_node_t *n, const char *fmt, ...)
{
    char reason[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    err_set(w->err, w->errlen, "%s:%zu:%zu: %s", w->name, n->start_mark.line + 1,
            n->start_mark.column + 1, reason);
    return -1;
}

yaml_node_t *yw_node(ywalk *w, int id)
{
    return yaml_document_get_node(w->doc, id);
}

bool yw_is_null(const yaml_node_t *n)
{
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *v = (const char *)n->data.scalar.value;
    return !*v || strcmp(v, "~") == 0 || strcmp(v, "null") == 0;
}

int yw_want(ywalk *w, const yaml_node_t *n, yaml_node_type_t type, const char *what)
{
    if (n->type != type)
        return yw_fail(w, n, "expected %s", what);
    return 0;
}

const char *yw_scalar(const yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

/* ---- scalars ------------------------------------------------------------ */

int yw_string(ywalk *w, yaml_node_t *v, const char **out)
{
    if (yw_want(w, v, YAML_SCALAR_NODE, "a string") != 0)
        return -1;
    *out = yw_scalar(v);
    return 0;
}

int yw_set_str(ywalk *w, yaml_node_t *v, char **out)
{
    const char *s;
    if (yw_string(w, v, &s) != 0)
        return -1;
    free(*out);
    *out = em_strdup(s);
    return 0;
}

int yw_duration(ywalk *w, yaml_node_t *v, int64_t *out)
{
    if (yw_want(w, v, YAML_SCALAR_NODE, "a duration") != 0)
        return -1;
    if (!parse_duration_ms(yw_scalar(v), out) || *out <= 0)
        return yw_fail(w, v, "not a valid duration string: \"%s\"", yw_scalar(v));
    return 0;
}

int yw_bool(ywalk *w, yaml_node_t *v, bool *out)
{
    if (yw_want(w, v, YAML_SCALAR_NODE, "true or false") != 0)
        return -1;
    if (strcmp(yw_scalar(v), "true") != 0 && strcmp(yw_scalar(v), "false") != 0)
        return yw_fail(w, v, "expected true or false, got \"%s\"", yw_scalar(v));
    *out = strcmp(yw_scalar(v), "true") == 0;
    return 0;
}

int yw_uint(ywalk *w, yaml_node_t *v, int64_t *out)
{
    if (yw_want(w, v, YAML_SCALAR_NODE, "a number") != 0)
        return -1;
    char *end;
    errno = 0;
    long long x = strtoll(yw_scalar(v), &end, 10);
    if (errno || end == yw_scalar(v) || *end || x < 0)
        return yw_fail(w, v, "expected a non-negative integer, got \"%s\"", yw_scalar(v));
    *out = x;
    return 0;
}

int yw_bytes(ywalk *w, yaml_node_t *v, int64_t *out)
{
    if (yw_want(w, v, YAML_SCALAR_NODE, "a size") != 0)
        return -1;
    if (!parse_bytes(yw_scalar(v), out) || *out < 0)
        return yw_fail(w, v, "not a valid size: \"%s\"", yw_scalar(v));
    return 0;
}

/* ---- containers --------------------------------------------------------- */

int yw_each_pair(ywalk *w, yaml_node_t *map, yw_pair_fn fn, void *ctx)
{
    if (yw_is_null(map))
        return 0;
    if (yw_want(w, map, YAML_MAPPING_NODE, "a mapping") != 0)
        return -1;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = yw_node(w, p->key), *v = yw_node(w, p->value);
        if (yw_want(w, k, YAML_SCALAR_NODE, "a key") != 0)
            return -1;
        for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < p; q++)
            if (strcmp(yw_scalar(yw_node(w, q->key)), yw_scalar(k)) == 0)
                return yw_fail(w, k, "duplicate key \"%s\"", yw_scalar(k));
        if (fn(w, yw_scalar(k), k, v, ctx) != 0)
            return -1;
    }
    return 0;
}

int yw_items(ywalk *w, yaml_node_t *seq, yaml_node_item_t **start, yaml_node_item_t **top)
{
    *start = *top = NULL;
    if (seq == NULL || yw_is_null(seq))
        return 0;
    if (yw_want(w, seq, YAML_SEQUENCE_NODE, "a sequence") != 0)
        return -1;
    *start = seq->data.sequence.items.start;
    *top = seq->data.sequence.items.top;
    return 0;
}

/* ---- relabel configs ---------------------------------------------------- */

static int source_labels(ywalk *w, yaml_node_t *v, relabel_rule *r)
{
    yaml_node_item_t *it, *top;
    if (yw_items(w, v, &it, &top) != 0)
        return -1;
    for (; it < top; it++) {
        const char *s;
        if (yw_string(w, yw_node(w, *it), &s) != 0)
            return -1;
        r->source_labels = em_realloc(r->source_labels, (r->nsource + 1) * sizeof(char *));
        r->source_labels[r->nsource++] = em_strdup(s);
    }
    return 0;
}

static int rule_pair(ywalk *w, const char *key, yaml_node_t *k, yaml_node_t *v, void *ctx)
{
    relabel_rule *r = ctx;
    if (strcmp(key, "source_labels") == 0)
        return source_labels(w, v, r);
    if (strcmp(key, "separator") == 0)
        return yw_set_str(w, v, &r->separator);
    if (strcmp(key, "target_label") == 0)
        return yw_set_str(w, v, &r->target_label);
    if (strcmp(key, "regex") == 0)
        return yw_set_str(w, v, &r->regex);
    if (strcmp(key, "replacement") == 0)
        return yw_set_str(w, v, &r->replacement);
    if (strcmp(key, "modulus") == 0) {
        int64_t m;
        if (yw_uint(w, v, &m) != 0)
            return -1;
        r->modulus = (uint64_t)m;
        return 0;
    }
    if (strcmp(key, "action") == 0) {
        const char *s;
        if (yw_string(w, v, &s) != 0)
            return -1;
        if (!relabel_action_parse(s, &r->action))
            return yw_fail(w, v, "unknown relabel action \"%s\"", s);
        return 0;
    }
    return yw_fail(w, k, "unknown key \"%s\" in a relabel config", key);
}

int yw_relabel_list(ywalk *w, yaml_node_t *seq, relabel_rules *rs)
{
    yaml_node_item_t *it, *top;
    if (yw_items(w, seq, &it, &top) != 0)
        return -1;
    for (; it < top; it++) {
        yaml_node_t *n = yw_node(w, *it);
        relabel_rule *r = relabel_rules_push(rs);
        char why[400];
        if (yw_want(w, n, YAML_MAPPING_NODE, "a relabel config (a mapping)") != 0 ||
            yw_each_pair(w, n, rule_pair, r) != 0)
            return -1;
        if (relabel_rule_compile(r, why, sizeof why) != 0)
            return yw_fail(w, n, "%s", why);
    }
    return 0;
}
