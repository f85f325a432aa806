/*
 * config.c — the remote_write section of the aggregator's config file, in
 * Prometheus's own keys (see forward.h), and --remote-write.url.  The rest
 * of the file is common/options.c's: this reads only remote_write.
 * Secrets from files (password_file, credentials_file, bearer_token_file)
 * are read here, once, with trailing newlines trimmed as Prometheus does.
 */
#include "aggregator/forward/forward.h"

#include "common/buf.h"
#include "common/err.h"
#include "common/fsutil.h"
#include "common/mem.h"
#include "common/yaml_walk.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SECRET_MAX 65536
#define CONFIG_MAX (16u << 20)

void fwd_dest_defaults(fwd_dest_config *d)
{
    memset(d, 0, sizeof *d);
    d->remote_timeout_ms = 30000;
    d->q = (fwd_queue_config){.capacity = 2500,
                              .max_shards = 200,
                              .min_shards = 1,
                              .max_samples_per_send = 500,
                              .batch_send_deadline_ms = 5000,
                              .min_backoff_ms = 30,
                              .max_backoff_ms = 5000,
                              .retry_on_http_429 = true};
    d->backlog_memory_bytes = 64LL << 20;
    d->backlog_disk_bytes = 8LL << 30;
    relabel_rules_init(&d->relabel);
}

/* The secret in a file, trailing whitespace trimmed, into *out. */
static int read_secret(ywalk *w, yaml_node_t *v, char **out)
{
    const char *path;
    if (yw_string(w, v, &path) != 0)
        return -1;
    ebuf b;
    ebuf_init(&b);
    int rc = fs_read_file(path, &b, SECRET_MAX);
    if (rc != 0) {
        ebuf_free(&b);
        return yw_fail(w, v, "cannot read %s: %s", path, strerror(rc));
    }
    while (b.len > 0 && strchr("\r\n ", b.data[b.len - 1]))
        b.len--;
    free(*out);
    *out = em_strndup(b.len ? b.data : "", b.len);
    ebuf_free(&b);
    return 0;
}

static int queue_pair(ywalk *w, const char *key, yaml_node_t *k, yaml_node_t *v, void *ctx)
{
    fwd_queue_config *q = ctx;
    static const struct {
        const char *key;
        size_t off;
        bool duration;
    } ints[] = {
        {"capacity", offsetof(fwd_queue_config, capacity), false},
        {"max_shards", offsetof(fwd_queue_config, max_shards), false},
        {"min_shards", offsetof(fwd_queue_config, min_shards), false},
        {"max_samples_per_send", offsetof(fwd_queue_config, max_samples_per_send), false},
        {"batch_send_deadline", offsetof(fwd_queue_config, batch_send_deadline_ms), true},
        {"min_backoff", offsetof(fwd_queue_config, min_backoff_ms), true},
        {"max_backoff", offsetof(fwd_queue_config, max_backoff_ms), true},
    };
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        if (strcmp(key, ints[i].key) != 0)
            continue;
        int64_t *t = (int64_t *)((char *)q + ints[i].off);
        return ints[i].duration ? yw_duration(w, v, t) : yw_uint(w, v, t);
    }
    if (strcmp(key, "retry_on_http_429") == 0)
        return yw_bool(w, v, &q->retry_on_http_429);
    return yw_fail(w, k, "unknown key \"%s\" in queue_config", key);
}

static int basic_auth_pair(ywalk *w, const char *key, yaml_node_t *k, yaml_node_t *v, void *ctx)
{
    fwd_dest_config *d = ctx;
    if (strcmp(key, "username") == 0)
        return yw_set_str(w, v, &d->username);
    if (strcmp(key, "password") == 0)
        return yw_set_str(w, v, &d->password);
    if (strcmp(key, "password_file") == 0)
        return read_secret(w, v, &d->password);
    return yw_fail(w, k, "unknown key \"%s\" in basic_auth", key);
}

typedef struct auth_ctx {
    char *type, *credentials;
} auth_ctx;

static int authorization_pair(ywalk *w, const char *key, yaml_node_t *k, yaml_node_t *v, void *ctx)
{
    auth_ctx *a = ctx;
    if (strcmp(key, "type") == 0)
        return yw_set_str(w, v, &a->type);
    if (strcmp(key, "credentials") == 0)
        return yw_set_str(w, v, &a->credentials);
    if (strcmp(key, "credentials_file") == 0)
        return read_secret(w, v, &a->credentials);
    return yw_fail(w, k, "unknown key \"%s\" in authorization", key);
}

static int tls_pair(ywalk *w, const char *key, yaml_node_t *k, yaml_node_t *v, void *ctx)
{
    fwd_dest_config *d = ctx;
    if (strcmp(key, "ca_file") == 0)
        return yw_set_str(w, v, &d->ca_file);
    if (strcmp(key, "cert_file") == 0)
        return yw_set_str(w, v, &d->cert_file);
    if (strcmp(key, "key_file") == 0)
        return yw_set_str(w, v, &d->key_file);
    if (strcmp(key, "insecure_skip_verify") == 0)
        return yw_bool(w, v, &d->insecure_skip_verify);
    return yw_fail(w, k, "unknown key \"%s\" in tls_config", key);
}

static int backlog_pair(ywalk *w, const char *key, yaml_node_t *k, yaml_node_t *v, void *ctx)
{
    fwd_dest_config *d = ctx;
    if (strcmp(key, "memory") == 0)
        return yw_bytes(w, v, &d->backlog_memory_bytes);
    if (strcmp(key, "disk") == 0)
        return yw_bytes(w, v, &d->backlog_disk_bytes);
    return yw_fail(w, k, "unknown key \"%s\" in backlog", key);
}

static int header_pair(ywalk *w, const char *key, yaml_node_t *k, yaml_node_t *v, void *ctx)
{
    fwd_dest_config *d = ctx;
    const char *val;
    if (yw_string(w, v, &val) != 0)
        return -1;
    if (!*key || strpbrk(key, ": \r\n") || strpbrk(val, "\r\n"))
        return yw_fail(w, k, "invalid header \"%s\"", key);
    ebuf h;
    ebuf_init(&h);
    ebuf_printf(&h, "%s: %s", key, val);
    d->headers = em_realloc(d->headers, (d->nheaders + 1) * sizeof(char *));
    d->headers[d->nheaders++] = ebuf_steal(&h, NULL);
    return 0;
}

typedef struct dest_ctx {
    fwd_dest_config *d;
    auth_ctx auth;
    char *bearer;
} dest_ctx;

static int dest_pair(ywalk *w, const char *key, yaml_node_t *k, yaml_node_t *v, void *ctx)
{
    dest_ctx *c = ctx;
    fwd_dest_config *d = c->d;
    if (strcmp(key, "url") == 0)
        return yw_set_str(w, v, &d->url);
    if (strcmp(key, "name") == 0)
        return yw_set_str(w, v, &d->name);
    if (strcmp(key, "remote_timeout") == 0)
        return yw_duration(w, v, &d->remote_timeout_ms);
    if (strcmp(key, "headers") == 0)
        return yw_each_pair(w, v, header_pair, d);
    if (strcmp(key, "basic_auth") == 0)
        return yw_each_pair(w, v, basic_auth_pair, d);
    if (strcmp(key, "authorization") == 0)
        return yw_each_pair(w, v, authorization_pair, &c->auth);
    if (strcmp(key, "bearer_token") == 0)
        return yw_set_str(w, v, &c->bearer);
    if (strcmp(key, "bearer_token_file") == 0)
        return read_secret(w, v, &c->bearer);
    if (strcmp(key, "tls_config") == 0)
        return yw_each_pair(w, v, tls_pair, d);
    if (strcmp(key, "write_relabel_configs") == 0)
        return yw_relabel_list(w, v, &d->relabel);
    if (strcmp(key, "queue_config") == 0)
        return yw_each_pair(w, v, queue_pair, &d->q);
    if (strcmp(key, "backlog") == 0)
        return yw_each_pair(w, v, backlog_pair, d);
    return yw_fail(w, k, "unknown key \"%s\" in a remote_write config (not supported by ember)",
                   key);
}

/* Prometheus's checks of one destination, after its keys are read. */
static int check_dest(ywalk *w, yaml_node_t *n, dest_ctx *c)
{
    fwd_dest_config *d = c->d;
    if (!d->url || !*d->url)
        return yw_fail(w, n, "url for remote_write is empty");
    if (strncmp(d->url, "http://", 7) != 0 && strncmp(d->url, "https://", 8) != 0)
        return yw_fail(w, n, "url \"%s\" must be http:// or https://", d->url);
    int auths = (d->username != NULL) + (c->auth.credentials != NULL) + (c->bearer != NULL);
    if (auths > 1)
        return yw_fail(w, n,
                       "at most one of basic_auth, authorization and bearer_token must be "
                       "configured");
    if (c->auth.credentials || c->bearer) {
        const char *type = c->auth.type ? c->auth.type : "Bearer";
        ebuf h;
        ebuf_init(&h);
        ebuf_printf(&h, "%s %s", type, c->bearer ? c->bearer : c->auth.credentials);
        d->authorization = ebuf_steal(&h, NULL);
    }
    const fwd_queue_config *q = &d->q;
    if (q->capacity < 1 || q->max_samples_per_send < 1 || q->max_shards < 1)
        return yw_fail(w, n,
                       "queue_config: capacity, max_shards and max_samples_per_send must "
                       "be positive");
    if (q->min_shards > q->max_shards)
        return yw_fail(w, n, "queue_config: min_shards is above max_shards");
    if (q->min_backoff_ms > q->max_backoff_ms)
        return yw_fail(w, n, "queue_config: min_backoff is above max_backoff");
    return 0;
}

static int one_dest(ywalk *w, yaml_node_t *n, fwd_config *c)
{
    c->v = em_realloc(c->v, (c->n + 1) * sizeof *c->v);
    fwd_dest_config *d = &c->v[c->n++];
    fwd_dest_defaults(d);
    dest_ctx ctx = {.d = d};
    int rc = yw_want(w, n, YAML_MAPPING_NODE, "a remote_write config (a mapping)");
    if (rc == 0)
        rc = yw_each_pair(w, n, dest_pair, &ctx);
    if (rc == 0)
        rc = check_dest(w, n, &ctx);
    for (size_t i = 0; rc == 0 && d->name && i + 1 < c->n; i++)
        if (c->v[i].name && strcmp(c->v[i].name, d->name) == 0)
            rc = yw_fail(w, n, "found multiple remote write configs with job name \"%s\"", d->name);
    free(ctx.auth.type);
    free(ctx.auth.credentials);
    free(ctx.bearer);
    return rc;
}

/* A top-level key: remote_write is ours, the rest common/options.c's. */
static int top_pair(ywalk *w, const char *key, yaml_node_t *k, yaml_node_t *v, void *ctx)
{
    (void)k;
    if (strcmp(key, "remote_write") != 0)
        return 0;
    yaml_node_item_t *it, *top;
    int rc = yw_items(w, v, &it, &top);
    for (; rc == 0 && it < top; it++)
        rc = one_dest(w, yw_node(w, *it), ctx);
    return rc;
}

int fwd_config_parse(fwd_config *c, const char *name, const char *buf, size_t len, char *err,
                     size_t errlen)
{
    ywalk w;
    yaml_document_t doc;
    if (yw_load(&w, &doc, name, buf, len, err, errlen) != 0)
        return -1;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    int rc = root && root->type == YAML_MAPPING_NODE ? yw_each_pair(&w, root, top_pair, c) : 0;
    yaml_document_delete(&doc);
    return rc;
}

int fwd_config_load(fwd_config *c, const char *path, char *err, size_t errlen)
{
    ebuf text;
    ebuf_init(&text);
    int rc = fs_read_file(path, &text, CONFIG_MAX);
    if (rc != 0)
        err_set(err, errlen, "cannot read %s: %s", path, strerror(rc));
    else
        rc = fwd_config_parse(c, path, text.data ? text.data : "", text.len, err, errlen);
    ebuf_free(&text);
    return rc;
}

int fwd_config_add_url(fwd_config *c, const char *url, char *err, size_t errlen)
{
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
        err_set(err, errlen, "--remote-write.url: \"%s\" must be http:// or https://", url);
        return -1;
    }
    c->v = em_realloc(c->v, (c->n + 1) * sizeof *c->v);
    fwd_dest_config *d = &c->v[c->n++];
    fwd_dest_defaults(d);
    d->url = em_strdup(url);
    return 0;
}

static void dest_free(fwd_dest_config *d)
{
    free(d->url);
    free(d->name);
    for (size_t i = 0; i < d->nheaders; i++)
        free(d->headers[i]);
    free(d->headers);
    free(d->username);
    free(d->password);
    free(d->authorization);
    free(d->ca_file);
    free(d->cert_file);
    free(d->key_file);
    relabel_rules_free(&d->relabel);
}

void fwd_config_free(fwd_config *c)
{
    for (size_t i = 0; i < c->n; i++)
        dest_free(&c->v[i]);
    free(c->v);
    memset(c, 0, sizeof *c);
}
