/*
 * config.c — the scrape configuration file (see config.h): libyaml's
 * document API, walked key by key so every error names the file, line and
 * column of the key or value at fault.
 */
#include "agent/config.h"
#include "agent/agent.h"
#include "agent/collect/procfile.h"

#include "common/buf.h"
#include "common/err.h"
#include "common/etime.h"
#include "common/mem.h"
#include "common/options.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define DEFAULT_TIMEOUT_MS 10000

typedef struct walk {
    const char *name;
    yaml_document_t *doc;
    char *err;
    size_t errlen;
    int64_t interval_ms, timeout_ms; /* global; 0 = unset */
} walk;

typedef struct job_settings {
    int64_t interval_ms, timeout_ms;
    const char *metrics_path, *scheme;
    bool honor_labels, honor_timestamps;
    int64_t body_size_limit, sample_limit;
    yaml_node_t *static_configs;
    relabel_rules relabel;
} job_settings;

static int fail(walk *w, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(walk *w, const yaml_node_t *n, const char *fmt, ...)
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

static yaml_node_t *node(walk *w, int id)
{
    return yaml_document_get_node(w->doc, id);
}

static bool is_null(const yaml_node_t *n)
{
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *v = (const char *)n->data.scalar.value;
    return !*v || strcmp(v, "~") == 0 || strcmp(v, "null") == 0;
}

static int want(walk *w, const yaml_node_t *n, yaml_node_type_t type, const char *what)
{
    if (n->type != type)
        return fail(w, n, "expected %s", what);
    return 0;
}

static const char *scalar(const yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

/* ---- scalars ------------------------------------------------------------ */

static int get_string(walk *w, yaml_node_t *v, const char **out)
{
    if (want(w, v, YAML_SCALAR_NODE, "a string") != 0)
        return -1;
    *out = scalar(v);
    return 0;
}

static int get_duration(walk *w, yaml_node_t *v, int64_t *out)
{
    if (want(w, v, YAML_SCALAR_NODE, "a duration") != 0)
        return -1;
    if (!parse_duration_ms(scalar(v), out) || *out <= 0)
        return fail(w, v, "not a valid duration string: \"%s\"", scalar(v));
    return 0;
}

static int get_bool(walk *w, yaml_node_t *v, bool *out)
{
    if (want(w, v, YAML_SCALAR_NODE, "true or false") != 0)
        return -1;
    if (strcmp(scalar(v), "true") != 0 && strcmp(scalar(v), "false") != 0)
        return fail(w, v, "expected true or false, got \"%s\"", scalar(v));
    *out = strcmp(scalar(v), "true") == 0;
    return 0;
}

static int get_uint(walk *w, yaml_node_t *v, int64_t *out)
{
    if (want(w, v, YAML_SCALAR_NODE, "a number") != 0)
        return -1;
    char *end;
    errno = 0;
    long long x = strtoll(scalar(v), &end, 10);
    if (errno || end == scalar(v) || *end || x < 0)
        return fail(w, v, "expected a non-negative integer, got \"%s\"", scalar(v));
    *out = x;
    return 0;
}

static int get_bytes(walk *w, yaml_node_t *v, int64_t *out)
{
    if (want(w, v, YAML_SCALAR_NODE, "a size") != 0)
        return -1;
    if (!parse_bytes(scalar(v), out) || *out < 0)
        return fail(w, v, "not a valid size: \"%s\"", scalar(v));
    return 0;
}

/* Calls fn(key, value) for each pair of a mapping (null: none). */
typedef int (*pair_fn)(walk *w, const char *key, yaml_node_t *k, yaml_node_t *v, void *ctx);

static int each_pair(walk *w, yaml_node_t *map, pair_fn fn, void *ctx)
{
    if (is_null(map))
        return 0;
    if (want(w, map, YAML_MAPPING_NODE, "a mapping") != 0)
        return -1;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = node(w, p->key), *v = node(w, p->value);
        if (want(w, k, YAML_SCALAR_NODE, "a key") != 0)
            return -1;
        for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < p; q++)
            if (strcmp(scalar(node(w, q->key)), scalar(k)) == 0)
                return fail(w, k, "duplicate key \"%s\"", scalar(k));
        if (fn(w, scalar(k), k, v, ctx) != 0)
            return -1;
    }
    return 0;
}

/* The items of a sequence (null: none); -1 if not a sequence. */
static int items(walk *w, yaml_node_t *seq, yaml_node_item_t **start, yaml_node_item_t **top)
{
    *start = *top = NULL;
    if (seq == NULL || is_null(seq))
        return 0;
    if (want(w, seq, YAML_SEQUENCE_NODE, "a sequence") != 0)
        return -1;
    *start = seq->data.sequence.items.start;
    *top = seq->data.sequence.items.top;
    return 0;
}

/* ---- relabel_configs ---------------------------------------------------- */

static int set_str(walk *w, yaml_node_t *v, char **out)
{
    const char *s;
    if (get_string(w, v, &s) != 0)
        return -1;
    free(*out);
    *out = em_strdup(s);
    return 0;
}

static int rule_pair(walk *w, const char *key, yaml_node_t *k, yaml_node_t *v, void *ctx)
{
    relabel_rule *r = ctx;
    if (strcmp(key, "source_labels") == 0) {
        yaml_node_item_t *it, *top;
        if (items(w, v, &it, &top) != 0)
            return -1;
        for (; it < top; it++) {
            const char *s;
            if (get_string(w, node(w, *it), &s) != 0)
                return -1;
            r->source_labels = em_realloc(r->source_labels, (r->nsource + 1) * sizeof(char *));
            r->source_labels[r->nsource++] = em_strdup(s);
        }
        return 0;
    }
    if (strcmp(key, "separator") == 0)
        return set_str(w, v, &r->separator);
    if (strcmp(key, "target_label") == 0)
        return set_str(w, v, &r->target_label);
    if (strcmp(key, "regex") == 0)
        return set_str(w, v, &r->regex);
    if (strcmp(key, "replacement") == 0)
        return set_str(w, v, &r->replacement);
    if (strcmp(key, "modulus") == 0) {
        int64_t m;
        if (get_uint(w, v, &m) != 0)
            return -1;
        r->modulus = (uint64_t)m;
        return 0;
    }
    if (strcmp(key, "action") == 0) {
        const char *s;
        if (get_string(w, v, &s) != 0)
            return -1;
        if (!relabel_action_parse(s, &r->action))
            return fail(w, v, "unknown relabel action \"%s\"", s);
        return 0;
    }
    return fail(w, k, "unknown key \"%s\" in a relabel config", key);
}

static int relabel_list(walk *w, yaml_node_t *seq, relabel_rules *rs)
{
    yaml_node_item_t *it, *top;
    if (items(w, seq, &it, &top) != 0)
        return -1;
    for (; it < top; it++) {
        yaml_node_t *n = node(w, *it);
        relabel_rule *r = relabel_rules_push(rs);
        char why[400];
        if (want(w, n, YAML_MAPPING_NODE, "a relabel config (a mapping)") != 0 ||
            each_pair(w, n, rule_pair, r) != 0)
            return -1;
        if (relabel_rule_compile(r, why, sizeof why) != 0)
            return fail(w, n, "%s", why);
    }
    return 0;
}

/* ---- global ------------------------------------------------------------- */

static int global_pair(walk *w, const char *key, yaml_node_t *k, yaml_node_t *v, void *ctx)
{
    (void)ctx;
    if (strcmp(key, "scrape_interval") == 0)
        return get_duration(w, v, &w->interval_ms);
    if (strcmp(key, "scrape_timeout") == 0)
        return get_duration(w, v, &w->timeout_ms);
    return fail(w, k,
                "unknown key \"%s\" in global (the agent reads scrape_interval and "
                "scrape_timeout)",
                key);
}

/* ---- one scrape config -------------------------------------------------- */

typedef struct job_ctx {
    job_settings *js;
    scrape_job *job;
} job_ctx;

static int job_pair(walk *w, const char *key, yaml_node_t *k, yaml_node_t *v, void *ctx)
{
    job_ctx *c = ctx;
    job_settings *js = c->js;
    if (strcmp(key, "job_name") == 0)
        return set_str(w, v, &c->job->name);
    if (strcmp(key, "scrape_interval") == 0)
        return get_duration(w, v, &js->interval_ms);
    if (strcmp(key, "scrape_timeout") == 0)
        return get_duration(w, v, &js->timeout_ms);
    if (strcmp(key, "metrics_path") == 0)
        return get_string(w, v, &js->metrics_path);
    if (strcmp(key, "scheme") == 0) {
        if (get_string(w, v, &js->scheme) != 0)
            return -1;
        if (strcmp(js->scheme, "http") != 0 && strcmp(js->scheme, "https") != 0)
            return fail(w, v, "scheme must be http or https, not \"%s\"", js->scheme);
        return 0;
    }
    if (strcmp(key, "honor_labels") == 0)
        return get_bool(w, v, &js->honor_labels);
    if (strcmp(key, "honor_timestamps") == 0)
        return get_bool(w, v, &js->honor_timestamps);
    if (strcmp(key, "body_size_limit") == 0)
        return get_bytes(w, v, &js->body_size_limit);
    if (strcmp(key, "sample_limit") == 0)
        return get_uint(w, v, &js->sample_limit);
    if (strcmp(key, "static_configs") == 0) {
        js->static_configs = v;
        return 0;
    }
    if (strcmp(key, "relabel_configs") == 0)
        return relabel_list(w, v, &js->relabel);
    if (strcmp(key, "metric_relabel_configs") == 0)
        return relabel_list(w, v, &c->job->metric_relabel);
    return fail(w, k, "unknown key \"%s\" in a scrape config (not supported by ember-agent)", key);
}

/* ---- targets (Prometheus's PopulateLabels) ------------------------------ */

typedef struct group_ctx {
    yaml_node_t *targets;
    labelset labels;
} group_ctx;

static int group_pair(walk *w, const char *key, yaml_node_t *k, yaml_node_t *v, void *ctx)
{
    group_ctx *g = ctx;
    if (strcmp(key, "targets") == 0) {
        g->targets = v;
        return 0;
    }
    if (strcmp(key, "labels") != 0)
        return fail(w, k, "unknown key \"%s\" in a static config", key);
    if (is_null(v))
        return 0;
    if (want(w, v, YAML_MAPPING_NODE, "a mapping of labels") != 0)
        return -1;
    for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++) {
        yaml_node_t *ln = node(w, p->key), *lv = node(w, p->value);
        if (want(w, ln, YAML_SCALAR_NODE, "a label name") != 0 ||
            want(w, lv, YAML_SCALAR_NODE, "a label value") != 0)
            return -1;
        if (!label_name_valid(scalar(ln), strlen(scalar(ln))))
            return fail(w, ln, "\"%s\" is not a valid label name", scalar(ln));
        labels_set(&g->labels, scalar(ln), scalar(lv));
    }
    return 0;
}

static void set_default(labelset *ls, const char *name, const char *value)
{
    if (labels_get(ls, name) == NULL)
        labels_set(ls, name, value);
}

/* Target labels after relabeling into t; 1 made, 0 dropped, -1 error. */
static int make_target(walk *w, yaml_node_t *at, const job_settings *js, scrape_job *job,
                       labelset *ls, scrape_target *t)
{
    if (!relabel_apply(&js->relabel, ls))
        return 0;
    const char *addr = labels_get(ls, "__address__");
    if (addr == NULL)
        return fail(w, at, "no __address__ label after relabeling");
    const char *iv = labels_get(ls, "__scrape_interval__"),
               *to = labels_get(ls, "__scrape_timeout__");
    if ((iv && !parse_duration_ms(iv, &t->interval_ms)) ||
        (to && !parse_duration_ms(to, &t->timeout_ms)))
        return fail(w, at, "bad __scrape_interval__ or __scrape_timeout__ after relabeling");
    ebuf url;
    ebuf_init(&url);
    const char *scheme = labels_get(ls, "__scheme__"), *path = labels_get(ls, "__metrics_path__");
    ebuf_printf(&url, "%s://%s%s", scheme ? scheme : "http", addr, path ? path : "");
    t->url = em_strdup(url.data);
    ebuf_free(&url);
    t->instance = em_strdup(labels_get(ls, "instance") ? labels_get(ls, "instance") : addr);
    t->job = em_strdup(labels_get(ls, "job") ? labels_get(ls, "job") : job->name);
    labels_init(&t->labels);
    for (size_t i = 0; i < ls->n; i++)
        if (strncmp(ls->v[i].name, "__", 2) != 0 && strcmp(ls->v[i].name, "job") != 0 &&
            strcmp(ls->v[i].name, "instance") != 0)
            labels_set(&t->labels, ls->v[i].name, ls->v[i].value);
    labels_sort(&t->labels);
    t->honor_labels = js->honor_labels;
    t->ignore_timestamps = !js->honor_timestamps;
    t->body_size_limit = (size_t)js->body_size_limit;
    t->sample_limit = (size_t)js->sample_limit;
    t->metric_relabel = &job->metric_relabel;
    return 1;
}

static void push_target(scrape_config *c, const scrape_target *t)
{
    c->targets = em_realloc(c->targets, (c->ntargets + 1) * sizeof *c->targets);
    c->targets[c->ntargets++] = *t;
}

static int one_target(walk *w, yaml_node_t *tn, const group_ctx *g, const job_settings *js,
                      scrape_job *job, scrape_config *c)
{
    if (want(w, tn, YAML_SCALAR_NODE, "a target (HOST:PORT)") != 0)
        return -1;
    if (!*scalar(tn) || strchr(scalar(tn), '/'))
        return fail(w, tn, "\"%s\" is not a valid target: HOST:PORT", scalar(tn));
    char iv[32], to[32];
    format_duration_ms(iv, sizeof iv, js->interval_ms);
    format_duration_ms(to, sizeof to, js->timeout_ms);
    labelset ls;
    labels_copy(&ls, &g->labels);
    labels_set(&ls, "__address__", scalar(tn));
    set_default(&ls, "job", job->name);
    if (js->interval_ms)
        set_default(&ls, "__scrape_interval__", iv);
    set_default(&ls, "__scrape_timeout__", to);
    set_default(&ls, "__metrics_path__", js->metrics_path);
    set_default(&ls, "__scheme__", js->scheme);
    labels_sort(&ls);
    scrape_target t;
    memset(&t, 0, sizeof t);
    int rc = make_target(w, tn, js, job, &ls, &t);
    labels_free(&ls);
    if (rc == 1)
        push_target(c, &t);
    else
        scrape_target_free(&t);
    return rc < 0 ? -1 : 0;
}

static int static_configs(walk *w, const job_settings *js, scrape_job *job, scrape_config *c)
{
    yaml_node_item_t *it, *top;
    if (items(w, js->static_configs, &it, &top) != 0)
        return -1;
    for (; it < top; it++) {
        group_ctx g = {.targets = NULL};
        labels_init(&g.labels);
        yaml_node_item_t *t, *ttop;
        int rc = each_pair(w, node(w, *it), group_pair, &g);
        if (rc == 0)
            rc = g.targets ? items(w, g.targets, &t, &ttop) : (t = ttop = NULL, 0);
        for (; rc == 0 && t < ttop; t++)
            rc = one_target(w, node(w, *t), &g, js, job, c);
        labels_free(&g.labels);
        if (rc != 0)
            return -1;
    }
    return 0;
}

static int one_job(walk *w, yaml_node_t *n, scrape_job *job, scrape_config *c)
{
    job_settings js = {.metrics_path = "/metrics", .scheme = "http", .honor_timestamps = true};
    relabel_rules_init(&js.relabel);
    job_ctx ctx = {&js, job};
    int rc = want(w, n, YAML_MAPPING_NODE, "a scrape config (a mapping)");
    if (rc == 0)
        rc = each_pair(w, n, job_pair, &ctx);
    if (rc == 0 && (!job->name || !*job->name))
        rc = fail(w, n, "job_name is empty");
    for (size_t i = 0; rc == 0 && job != &c->jobs[i]; i++)
        if (strcmp(c->jobs[i].name, job->name) == 0)
            rc = fail(w, n, "found multiple scrape configs with job name \"%s\"", job->name);
    if (rc == 0) {
        if (!js.interval_ms)
            js.interval_ms = w->interval_ms; /* may stay 0: the agent's interval */
        if (js.timeout_ms && js.interval_ms && js.timeout_ms > js.interval_ms)
            rc = fail(w, n,
                      "scrape timeout greater than scrape interval for scrape config with job "
                      "name \"%s\"",
                      job->name);
        if (!js.timeout_ms) /* as Prometheus: the global one, but not above the interval */
            js.timeout_ms = w->timeout_ms ? w->timeout_ms : DEFAULT_TIMEOUT_MS;
        if (js.interval_ms && js.timeout_ms > js.interval_ms)
            js.timeout_ms = js.interval_ms;
    }
    if (rc == 0)
        rc = static_configs(w, &js, job, c);
    relabel_rules_free(&js.relabel);
    return rc;
}

/* ---- the file ----------------------------------------------------------- */

typedef struct top_ctx {
    yaml_node_t *scrape_configs;
} top_ctx;

static int top_pair(walk *w, const char *key, yaml_node_t *k, yaml_node_t *v, void *ctx)
{
    top_ctx *t = ctx;
    if (strcmp(key, "global") == 0)
        return each_pair(w, v, global_pair, NULL);
    if (strcmp(key, "scrape_configs") == 0) {
        t->scrape_configs = v;
        return 0;
    }
    return fail(w, k, "unknown key \"%s\" (the agent reads global and scrape_configs)", key);
}

static int walk_document(walk *w, scrape_config *c)
{
    yaml_node_t *root = yaml_document_get_root_node(w->doc);
    top_ctx t = {NULL};
    if (root == NULL || is_null(root))
        return 0;
    if (each_pair(w, root, top_pair, &t) != 0)
        return -1;
    yaml_node_item_t *it, *top;
    if (t.scrape_configs == NULL || items(w, t.scrape_configs, &it, &top) != 0)
        return t.scrape_configs == NULL ? 0 : -1;
    c->jobs = em_calloc((size_t)(top - it) + 1, sizeof *c->jobs);
    for (; it < top; it++) {
        scrape_job *job = &c->jobs[c->njobs++];
        relabel_rules_init(&job->metric_relabel);
        if (one_job(w, node(w, *it), job, c) != 0)
            return -1;
    }
    return 0;
}

int scrape_config_parse(scrape_config *c, const char *name, const char *buf, size_t len, char *err,
                        size_t errlen)
{
    memset(c, 0, sizeof *c);
    yaml_parser_t parser;
    yaml_document_t doc;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
    if (!yaml_parser_load(&parser, &doc)) {
        err_set(err, errlen, "%s:%zu:%zu: %s", name, parser.problem_mark.line + 1,
                parser.problem_mark.column + 1, parser.problem ? parser.problem : "bad YAML");
        yaml_parser_delete(&parser);
        return -1;
    }
    walk w = {.name = name, .doc = &doc, .err = err, .errlen = errlen};
    int rc = walk_document(&w, c);
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    if (rc != 0)
        scrape_config_free(c);
    return rc;
}

int scrape_config_load(scrape_config *c, const char *path, char *err, size_t errlen)
{
    ebuf text;
    ebuf_init(&text);
    char why[512];
    int rc = host_read_file(&text, path[0] == '/' ? "/" : ".", path, why, sizeof why);
    if (rc != 0) {
        memset(c, 0, sizeof *c);
        err_set(err, errlen, "cannot read %s: %s", path, why);
    } else {
        rc = scrape_config_parse(c, path, text.data, text.len, err, errlen);
    }
    ebuf_free(&text);
    return rc;
}

void scrape_config_free(scrape_config *c)
{
    for (size_t i = 0; i < c->ntargets; i++)
        scrape_target_free(&c->targets[i]);
    free(c->targets);
    for (size_t i = 0; i < c->njobs; i++) {
        free(c->jobs[i].name);
        relabel_rules_free(&c->jobs[i].metric_relabel);
    }
    free(c->jobs);
    memset(c, 0, sizeof *c);
}
