/*
 * yaml_walk.h — helpers for walking a libyaml document key by key, for
 * config files in Prometheus's own format (the agent's scrape_configs, the
 * aggregator's remote_write), where every error names the file, line and
 * column of the key or value at fault: "FILE:LINE:COL: reason".
 *
 * common/options.c reads the flat settings files; this is for the nested,
 * list-shaped sections those cannot describe.
 */
#ifndef EMBER_COMMON_YAML_WALK_H
#define EMBER_COMMON_YAML_WALK_H

#include "common/relabel.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

typedef struct ywalk {
    const char *name; /* file name for messages */
    yaml_document_t *doc;
    char *err;
    size_t errlen;
} ywalk;

/* Parse buf (one document) into doc: 0, or -1 with err set to the syntax
 * error.  On 0 the caller frees doc with yaml_document_delete. */
int yw_load(ywalk *w, yaml_document_t *doc, const char *name, const char *buf, size_t len,
            char *err, size_t errlen);

/* Set err to "NAME:LINE:COL: reason" at n; returns -1. */
int yw_fail(ywalk *w, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
yaml_node_t *yw_node(ywalk *w, int id);
bool yw_is_null(const yaml_node_t *n); /* "", "~" or "null", unquoted */
int yw_want(ywalk *w, const yaml_node_t *n, yaml_node_type_t type, const char *what);
const char *yw_scalar(const yaml_node_t *n);

/* Scalars of a kind; -1 with err set when v is not one. */
int yw_string(ywalk *w, yaml_node_t *v, const char **out);
int yw_set_str(ywalk *w, yaml_node_t *v, char **out);       /* replaces (frees) *out */
int yw_duration(ywalk *w, yaml_node_t *v, int64_t *out_ms); /* > 0 */
int yw_bool(ywalk *w, yaml_node_t *v, bool *out);
int yw_uint(ywalk *w, yaml_node_t *v, int64_t *out);
int yw_bytes(ywalk *w, yaml_node_t *v, int64_t *out);

/* Calls fn(key, value) for each pair of a mapping (null: none); duplicate
 * keys are errors. */
typedef int (*yw_pair_fn)(ywalk *w, const char *key, yaml_node_t *k, yaml_node_t *v, void *ctx);
int yw_each_pair(ywalk *w, yaml_node_t *map, yw_pair_fn fn, void *ctx);
/* The items of a sequence (NULL or null: none); -1 if not a sequence. */
int yw_items(ywalk *w, yaml_node_t *seq, yaml_node_item_t **start, yaml_node_item_t **top);

/* A list of Prometheus relabel configs (relabel_configs,
 * metric_relabel_configs, write_relabel_configs), checked and compiled,
 * pushed onto rs. */
int yw_relabel_list(ywalk *w, yaml_node_t *seq, relabel_rules *rs);

#endif
