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
#include "common/yaml_walk.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define DEFAULT_TIMEOUT_MS 10000

typedef struct walk {
    ywalk y;                         /* first: callbacks get &w->y back */
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

/* ---- global ------------------------------------------------------------- */

static int global_pair(ywalk *y, const char *key, yaml_node_t *k, yaml_node_t *v, void *ctx)
{
    walk *w = (walk *)y;
    (void)ctx;
    if (strcmp(key, "scrape_interval") == 0)
        return yw_duration(&w->y, v, &w->interval_ms);
    if (strcmp(key, "scrape_timeout") == 0)
        return yw_duration(&w->y, v, &w->timeout_ms);
    return yw_fail(&w->y, k,
                   "unknown key \"%s\" in global (the agent reads scrape_interval and "
                   "scrape_timeout)",
                   key);
}

/* ---- one scrape config -------------------------------------------------- */

typedef struct job_ctx {
    job_settings *js;
    scrape_job *job;
} job_ctx;

static int job_pair(ywalk *y, const char *key, yaml_node_t *k, yaml_node_t *v, void *ctx)
{
    walk *w = (walk *)y;
    job_ctx *c = ctx;
    job_settings *js = c->js;
    if (strcmp(key, "job_name") == 0)
        return yw_set_str(&w->y, v, &c->job->name);
    if (strcmp(key, "scrape_interval") == 0)
        return yw_duration(&w->y, v, &js->interval_ms);
    if (strcmp(key, "scrape_timeout") == 0)
        return yw_duration(&w->y, v, &js->timeout_ms);
    if (strcmp(key, "metrics_path") == 0)
        return yw_string(&w->y, v, &js->metrics_path);
    if (strcmp(key, "scheme") == 0) {
        if (yw_string(&w->y, v, &js->scheme) != 0)
            return -1;
        if (strcmp(js->scheme, "http") != 0 && strcmp(js->scheme, "https") != 0)
            return yw_fail(&w->y, v, "scheme must be http or https, not \"%s\"", js->scheme);
        return 0;
    }
    if (strcmp(key, "honor_labels") == 0)
        return yw_bool(&w->y, v, &js->honor_labels);
    if (strcmp(key, "honor_timestamps") == 0)
        return yw_bool(&w->y, v, &js->honor_timestamps);
    if (strcmp(key, "body_size_limit") == 0)
        return yw_bytes(&w->y, v, &js->body_size_limit);
    if (strcmp(key, "sample_limit") == 0)
        return yw_uint(&w->y, v, &js->sample_limit);
    if (strcmp(key, "static_configs") == 0) {
        js->static_configs = v;
        return 0;
    }
    if (strcmp(key, "relabel_configs") == 0)
        return yw_relabel_list(&w->y, v, &js->relabel);
    if (strcmp(key, "metric_relabel_configs") == 0)
        return yw_relabel_list(&w->y, v, &c->job->metric_relabel);
    return yw_fail(&w->y, k, "unknown key \"%s\" in a scrape config (not supported by ember-agent)",
                   key);
}

/* ---- targets (Prometheus's PopulateLabels) ------------------------------ */

typedef struct group_ctx {
    yaml_node_t *targets;
    labelset labels;
} group_ctx;

static int group_pair(ywalk *y, const char *key, yaml_node_t *k, yaml_node_t *v, void *ctx)
{
    walk *w = (walk *)y;
    group_ctx *g = ctx;
    if (strcmp(key, "targets") == 0) {
        g->targets = v;
        return 0;
    }
    if (strcmp(key, "labels") != 0)
        return yw_fail(&w->y, k, "unknown key \"%s\" in a static config", key);
    if (yw_is_null(v))
        return 0;
    if (yw_want(&w->y, v, YAML_MAPPING_NODE, "a mapping of labels") != 0)
        return -1;
    for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++) {
        yaml_node_t *ln = yw_node(&w->y, p->key), *lv = yw_node(&w->y, p->value);
        if (yw_want(&w->y, ln, YAML_SCALAR_NODE, "a label name") != 0 ||
            yw_want(&w->y, lv, YAML_SCALAR_NODE, "a label value") != 0)
            return -1;
        if (!label_name_valid(yw_scalar(ln), strlen(yw_scalar(ln))))
            return yw_fail(&w->y, ln, "\"%s\" is not a valid label name", yw_scalar(ln));
        labels_set(&g->labels, yw_scalar(ln), yw_scalar(lv));
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
        return yw_fail(&w->y, at, "no __address__ label after relabeling");
    const char *iv = labels_get(ls, "__scrape_interval__"),
               *to = labels_get(ls, "__scrape_timeout__");
    if ((iv && !parse_duration_ms(iv, &t->interval_ms)) ||
        (to && !parse_duration_ms(to, &t->timeout_ms)))
        return yw_fail(&w->y, at, "bad __scrape_interval__ or __scrape_timeout__ after relabeling");
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
    if (yw_want(&w->y, tn, YAML_SCALAR_NODE, "a target (HOST:PORT)") != 0)
        return -1;
    if (!*yw_scalar(tn) || strchr(yw_scalar(tn), '/'))
        return yw_fail(&w->y, tn, "\"%s\" is not a valid target: HOST:PORT", yw_scalar(tn));
    char iv[32], to[32];
    format_duration_ms(iv, sizeof iv, js->interval_ms);
    format_duration_ms(to, sizeof to, js->timeout_ms);
    labelset ls;
    labels_copy(&ls, &g->labels);
    labels_set(&ls, "__address__", yw_scalar(tn));
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
    if (yw_items(&w->y, js->static_configs, &it, &top) != 0)
        return -1;
    for (; it < top; it++) {
        group_ctx g = {.targets = NULL};
        labels_init(&g.labels);
        yaml_node_item_t *t, *ttop;
        int rc = yw_each_pair(&w->y, yw_node(&w->y, *it), group_pair, &g);
        if (rc == 0)
            rc = g.targets ? yw_items(&w->y, g.targets, &t, &ttop) : (t = ttop = NULL, 0);
        for (; rc == 0 && t < ttop; t++)
            rc = one_target(w, yw_node(&w->y, *t), &g, js, job, c);
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
    int rc = yw_want(&w->y, n, YAML_MAPPING_NODE, "a scrape config (a mapping)");
    if (rc == 0)
        rc = yw_each_pair(&w->y, n, job_pair, &ctx);
    if (rc == 0 && (!job->name || !*job->name))
        rc = yw_fail(&w->y, n, "job_name is empty");
    for (size_t i = 0; rc == 0 && job != &c->jobs[i]; i++)
        if (strcmp(c->jobs[i].name, job->name) == 0)
            rc = yw_fail(&w->y, n, "found multiple scrape configs with job name \"%s\"", job->name);
    if (rc == 0) {
        if (!js.interval_ms)
            js.interval_ms = w->interval_ms; /* may stay 0: the agent's interval */
        if (js.timeout_ms && js.interval_ms && js.timeout_ms > js.interval_ms)
            rc = yw_fail(&w->y, n,
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

static int top_pair(ywalk *y, const char *key, yaml_node_t *k, yaml_node_t *v, void *ctx)
{
    walk *w = (walk *)y;
    top_ctx *t = ctx;
    if (strcmp(key, "global") == 0)
        return yw_each_pair(&w->y, v, global_pair, NULL);
    if (strcmp(key, "scrape_configs") == 0) {
        t->scrape_configs = v;
        return 0;
    }
    return yw_fail(&w->y, k, "unknown key \"%s\" (the agent reads global and scrape_configs)", key);
}

static int walk_document(walk *w, scrape_config *c)
{
    yaml_node_t *root = yaml_document_get_root_node(w->y.doc);
    top_ctx t = {NULL};
    if (root == NULL || yw_is_null(root))
        return 0;
    if (yw_each_pair(&w->y, root, top_pair, &t) != 0)
        return -1;
    yaml_node_item_t *it, *top;
    if (t.scrape_configs == NULL || yw_items(&w->y, t.scrape_configs, &it, &top) != 0)
        return t.scrape_configs == NULL ? 0 : -1;
    c->jobs = em_calloc((size_t)(top - it) + 1, sizeof *c->jobs);
    for (; it < top; it++) {
        scrape_job *job = &c->jobs[c->njobs++];
        relabel_rules_init(&job->metric_relabel);
        if (one_job(w, yw_node(&w->y, *it), job, c) != 0)
            return -1;
    }
    return 0;
}

int scrape_config_parse(scrape_config *c, const char *name, const char *buf, size_t len, char *err,
                        size_t errlen)
{
    memset(c, 0, sizeof *c);
    yaml_document_t doc;
    walk w = {.interval_ms = 0};
    if (yw_load(&w.y, &doc, name, buf, len, err, errlen) != 0)
        return -1;
    int rc = walk_document(&w, c);
    yaml_document_delete(&doc);
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
