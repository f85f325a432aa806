/*
 * web_auth.c — the web: section of a config file and the check every
 * request to a guarded server passes before its body is read (see
 * web_auth.h).  Shared by the aggregator's API and the agent's HTTP port.
 *
 * Names and secrets are both compared as SHA-256 digests, against every
 * configured entry, with no early exit: the time a check takes depends on
 * the number of entries only.  bcrypt users (libxcrypt) are checked as
 * exporter-toolkit checks them: one hash at a time, successes cached, and
 * a hash computed for an unknown name too.
 */
#include "common/web_auth.h"

#include "common/err.h"
#include "common/fsutil.h"
#include "common/mem.h"
#include "common/yaml_walk.h"

#include <mbedtls/base64.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>
#include <crypt.h>
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define CONFIG_MAX (16u << 20)
#define CREDENTIALS_MAX 1024 /* decoded "user:password" */
#define BCRYPT_LEN 60
#define CACHE_SIZE 256 /* remembered bcrypt successes */
#define REALM "ember"

static const char *const default_open_paths[] = {"/-/healthy", "/-/ready"};

void web_config_init(web_config *c)
{
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < sizeof default_open_paths / sizeof default_open_paths[0]; i++)
        strlist_push(&c->open_paths, default_open_paths[i]);
}

void web_config_free(web_config *c)
{
    free(c->tls_cert_file);
    free(c->tls_key_file);
    for (size_t i = 0; i < c->nusers; i++) {
        free(c->users[i].name);
        free(c->users[i].bcrypt);
    }
    free(c->users);
    free(c->tokens);
    strlist_free(&c->open_paths);
    memset(c, 0, sizeof *c);
}

static void sha256_of(const char *s, size_t n, uint8_t out[32])
{
    mbedtls_sha256_ret((const unsigned char *)s, n, out, 0);
}

/* ---- the config section ---- */

typedef struct parse_ctx {
    web_config *c;
    const char *dir; /* of the config file, for relative paths */
} parse_ctx;

/* A file name; relative ones are taken from the config file's directory. */
static int set_path(ywalk *w, yaml_node_t *v, const char *dir, char **out)
{
    const char *p;
    if (yw_string(w, v, &p) != 0)
        return -1;
    if (!*p)
        return yw_fail(w, v, "empty file name");
    size_t n = strlen(dir) + strlen(p) + 2;
    char *path = em_malloc(n);
    snprintf(path, n, "%s%s", p[0] == '/' ? "" : dir, p);
    /* checked here so that a typo points at its line, at start and on reload */
    if (access(path, R_OK) != 0) {
        int e = errno;
        free(path);
        return yw_fail(w, v, "cannot read \"%s\": %s", p, strerror(e));
    }
    free(*out);
    *out = path;
    return 0;
}

/* exporter-toolkit's other TLS settings: refused rather than ignored, since
 * an operator relying on one (client certificates above all) would
 * otherwise get a weaker server than the file says. */
static const char *const tls_unsupported[] = {
    "client_auth_type",           "client_ca_file", "cipher_suites",
    "curve_preferences",          "min_version",    "max_version",
    "prefer_server_cipher_suites"};

static int tls_pair(ywalk *w, const char *key, yaml_node_t *k, yaml_node_t *v, void *ctx)
{
    parse_ctx *pc = ctx;
    const char *s;
    if (strcmp(key, "cert_file") == 0)
        return set_path(w, v, pc->dir, &pc->c->tls_cert_file);
    if (strcmp(key, "key_file") == 0)
        return set_path(w, v, pc->dir, &pc->c->tls_key_file);
    if (strcmp(key, "client_auth_type") == 0 && yw_string(w, v, &s) == 0 &&
        strcmp(s, "NoClientCert") == 0)
        return 0; /* exporter-toolkit's default, what Ember does */
    for (size_t i = 0; i < sizeof tls_unsupported / sizeof tls_unsupported[0]; i++)
        if (strcmp(key, tls_unsupported[i]) == 0)
            return yw_fail(w, k,
                           "tls_server_config: %s is not supported by Ember (only cert_file "
                           "and key_file)",
                           key);
    return yw_fail(w, k, "unknown key \"%s\" in tls_server_config", key);
}

/* 64 hex digits into out; false when s is anything else. */
static bool parse_sha256_hex(const char *s, uint8_t out[32])
{
    if (strlen(s) != 64)
        return false;
    for (size_t i = 0; i < 32; i++) {
        if (!isxdigit((unsigned char)s[2 * i]) || !isxdigit((unsigned char)s[2 * i + 1]))
            return false;
        char pair[3] = {s[2 * i], s[2 * i + 1], '\0'};
        out[i] = (uint8_t)strtoul(pair, NULL, 16);
    }
    return true;
}

/* A SHA-256 in hex, as sha256sum prints it. */
static int digest(ywalk *w, yaml_node_t *v, uint8_t out[32])
{
    const char *s;
    if (yw_string(w, v, &s) != 0)
        return -1;
    if (!parse_sha256_hex(s, out))
        return yw_fail(w, v,
                       "\"%.80s\" is not a SHA-256 in hex (64 digits; e.g. printf %%s "
                       "SECRET | sha256sum)",
                       s);
    return 0;
}

/* "$2a$", "$2b$" or "$2y$", a two-digit cost, '$', 53 characters of salt
 * and hash in bcrypt's base64 (libxcrypt checks the cost and salt). */
static bool is_bcrypt(const char *s)
{
    static const char b64[] = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    if (strlen(s) != BCRYPT_LEN || strncmp(s, "$2", 2) != 0 || !strchr("aby", s[2]) ||
        s[3] != '$' || !isdigit((unsigned char)s[4]) || !isdigit((unsigned char)s[5]) ||
        s[6] != '$' || strspn(s + 7, b64) != BCRYPT_LEN - 7)
        return false;
    int cost = (s[4] - '0') * 10 + (s[5] - '0');
    return cost >= 4 && cost <= 31 && crypt_checksalt(s) == CRYPT_SALT_OK;
}

static int bcrypt_hash(ywalk *w, yaml_node_t *v, char **out)
{
    const char *s;
    if (yw_string(w, v, &s) != 0)
        return -1;
    if (!is_bcrypt(s))
        return yw_fail(w, v,
                       "\"%.80s\" is not a bcrypt hash ($2a$, $2b$ or $2y$, cost 04 to 31, 60 "
                       "characters; e.g. htpasswd -nbBC 10 USER PASSWORD)",
                       s);
    free(*out);
    *out = em_strdup(s);
    return 0;
}

static int role(ywalk *w, yaml_node_t *v, web_role *out)
{
    const char *s;
    if (yw_string(w, v, &s) != 0)
        return -1;
    if (strcmp(s, "read") == 0)
        *out = WEB_READ;
    else if (strcmp(s, "write") == 0 || strcmp(s, "admin") == 0)
        *out = WEB_WRITE;
    else
        return yw_fail(w, v, "role \"%s\" must be read or write", s);
    return 0;
}

/* Which of a user's required keys were given. */
typedef struct user_ctx {
    web_user *u;
    bool has_name, has_password;
} user_ctx;

static int user_pair(ywalk *w, const char *key, yaml_node_t *k, yaml_node_t *v, void *ctx)
{
    user_ctx *uc = ctx;
    if (strcmp(key, "username") == 0) {
        uc->has_name = true;
        return yw_set_str(w, v, &uc->u->name);
    }
    bool sha = strcmp(key, "password_sha256") == 0;
    if (sha || strcmp(key, "password_bcrypt") == 0) {
        if (uc->has_password)
            return yw_fail(w, k, "a web user has one of password_sha256 and password_bcrypt");
        uc->has_password = true;
        return sha ? digest(w, v, uc->u->sha256) : bcrypt_hash(w, v, &uc->u->bcrypt);
    }
    if (strcmp(key, "role") == 0)
        return role(w, v, &uc->u->role);
    return yw_fail(w, k, "unknown key \"%s\" in a web user", key);
}

static int one_user(ywalk *w, yaml_node_t *n, web_config *c)
{
    c->users = em_realloc(c->users, (c->nusers + 1) * sizeof *c->users);
    web_user *u = &c->users[c->nusers++];
    memset(u, 0, sizeof *u);
    user_ctx uc = {.u = u};
    int rc = yw_want(w, n, YAML_MAPPING_NODE, "a user (a mapping)");
    if (rc == 0)
        rc = yw_each_pair(w, n, user_pair, &uc);
    if (rc == 0 && (!uc.has_name || !u->name[0] || strchr(u->name, ':')))
        rc = yw_fail(w, n, "a web user needs a username without ':'");
    if (rc == 0 && !uc.has_password)
        rc = yw_fail(w, n, "web user \"%s\" needs password_sha256 or password_bcrypt", u->name);
    for (size_t i = 0; rc == 0 && i + 1 < c->nusers; i++)
        if (strcmp(c->users[i].name, u->name) == 0)
            rc = yw_fail(w, n, "web user \"%s\" is listed twice", u->name);
    return rc;
}

typedef struct token_ctx {
    web_token *t;
    bool has_digest;
} token_ctx;

static int token_pair(ywalk *w, const char *key, yaml_node_t *k, yaml_node_t *v, void *ctx)
{
    token_ctx *tc = ctx;
    if (strcmp(key, "token_sha256") == 0) {
        tc->has_digest = true;
        return digest(w, v, tc->t->sha256);
    }
    if (strcmp(key, "role") == 0)
        return role(w, v, &tc->t->role);
    return yw_fail(w, k, "unknown key \"%s\" in a web token", key);
}

static int one_token(ywalk *w, yaml_node_t *n, web_config *c)
{
    c->tokens = em_realloc(c->tokens, (c->ntokens + 1) * sizeof *c->tokens);
    web_token *t = &c->tokens[c->ntokens++];
    memset(t, 0, sizeof *t);
    token_ctx tc = {.t = t};
    int rc = yw_want(w, n, YAML_MAPPING_NODE, "a token (a mapping)");
    if (rc == 0)
        rc = yw_each_pair(w, n, token_pair, &tc);
    if (rc == 0 && !tc.has_digest)
        rc = yw_fail(w, n, "a web token needs token_sha256");
    return rc;
}

/* The items of a sequence, each through one(). */
static int each_item(ywalk *w, yaml_node_t *seq, web_config *c,
                     int (*one)(ywalk *, yaml_node_t *, web_config *))
{
    yaml_node_item_t *it, *top;
    int rc = yw_items(w, seq, &it, &top);
    for (; rc == 0 && it < top; it++)
        rc = one(w, yw_node(w, *it), c);
    return rc;
}

static int open_path(ywalk *w, yaml_node_t *n, web_config *c)
{
    const char *p;
    if (yw_string(w, n, &p) != 0)
        return -1;
    if (p[0] != '/')
        return yw_fail(w, n, "open path \"%s\" must start with /", p);
    strlist_push(&c->open_paths, p);
    return 0;
}

static int web_pair(ywalk *w, const char *key, yaml_node_t *k, yaml_node_t *v, void *ctx)
{
    parse_ctx *pc = ctx;
    if (strcmp(key, "tls_server_config") == 0)
        return yw_each_pair(w, v, tls_pair, pc);
    if (strcmp(key, "users") == 0)
        return each_item(w, v, pc->c, one_user);
    if (strcmp(key, "tokens") == 0)
        return each_item(w, v, pc->c, one_token);
    if (strcmp(key, "open_paths") == 0) {
        strlist_free(&pc->c->open_paths);
        return each_item(w, v, pc->c, open_path);
    }
    return yw_fail(w, k, "unknown key \"%s\" in web", key);
}

/* ---- exporter-toolkit's web configuration file ---- */

/* "alice: $2y$10$...": a reader (Prometheus has no roles). */
static int toolkit_user(ywalk *w, const char *key, yaml_node_t *k, yaml_node_t *v, void *ctx)
{
    web_config *c = ctx;
    if (!key[0] || strchr(key, ':'))
        return yw_fail(w, k, "basic_auth_users: \"%s\" is not a user name (empty or with ':')",
                       key);
    c->users = em_realloc(c->users, (c->nusers + 1) * sizeof *c->users);
    web_user *u = &c->users[c->nusers++];
    *u = (web_user){.name = em_strdup(key), .role = WEB_READ};
    return bcrypt_hash(w, v, &u->bcrypt);
}

static int http_pair(ywalk *w, const char *key, yaml_node_t *k, yaml_node_t *v, void *ctx)
{
    (void)ctx;
    bool on;
    /* libmicrohttpd speaks HTTP/1.1 only, which every HTTP/2 client falls
     * back to: the setting is checked and has nothing to turn off */
    if (strcmp(key, "http2") == 0)
        return yw_bool(w, v, &on);
    if (strcmp(key, "headers") == 0)
        return yw_fail(w, k, "http_server_config: headers is not supported by Ember");
    return yw_fail(w, k, "unknown key \"%s\" in http_server_config", key);
}

static int toolkit_pair(ywalk *w, const char *key, yaml_node_t *k, yaml_node_t *v, void *ctx)
{
    parse_ctx *pc = ctx;
    if (strcmp(key, "tls_server_config") == 0)
        return yw_each_pair(w, v, tls_pair, pc);
    if (strcmp(key, "basic_auth_users") == 0)
        return yw_each_pair(w, v, toolkit_user, pc->c);
    if (strcmp(key, "http_server_config") == 0)
        return yw_each_pair(w, v, http_pair, NULL);
    return yw_fail(w, k,
                   "unknown key \"%s\" in a web config file (tls_server_config, "
                   "http_server_config, basic_auth_users)",
                   key);
}

/* ---- reading either ---- */

/* Fills pc->c from a document's root (NULL for an empty file). */
typedef int (*root_fn)(ywalk *w, yaml_node_t *root, parse_ctx *pc);

static int section_root(ywalk *w, yaml_node_t *root, parse_ctx *pc)
{
    int rc = 0;
    for (yaml_node_pair_t *p =
             root && root->type == YAML_MAPPING_NODE ? root->data.mapping.pairs.start : NULL;
         rc == 0 && p && p < root->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yw_node(w, p->key);
        if (k->type == YAML_SCALAR_NODE && strcmp(yw_scalar(k), "web") == 0)
            rc = yw_each_pair(w, yw_node(w, p->value), web_pair, pc);
    }
    return rc;
}

static int toolkit_root(ywalk *w, yaml_node_t *root, parse_ctx *pc)
{
    if (!root)
        return 0; /* an empty file: no TLS, no users, as exporter-toolkit */
    return yw_each_pair(w, root, toolkit_pair, pc);
}

/* The directory part of name with its '/', or "" (relative to the cwd). */
static char *dir_of(const char *name)
{
    const char *slash = strrchr(name, '/');
    return em_strndup(name, slash ? (size_t)(slash - name) + 1 : 0);
}

static int parse_with(root_fn fn, web_config *c, const char *name, const char *buf, size_t len,
                      char *err, size_t errlen)
{
    ywalk w;
    yaml_document_t doc;
    if (yw_load(&w, &doc, name, buf, len, err, errlen) != 0)
        return -1;
    char *dir = dir_of(name);
    parse_ctx pc = {.c = c, .dir = dir};
    int rc = fn(&w, yaml_document_get_root_node(&doc), &pc);
    if (rc == 0 && !c->tls_cert_file != !c->tls_key_file) {
        err_set(err, errlen, "%s: tls_server_config needs both cert_file and key_file", name);
        rc = -1;
    }
    free(dir);
    yaml_document_delete(&doc);
    return rc;
}

static int load_with(root_fn fn, web_config *c, const char *path, char *err, size_t errlen)
{
    ebuf text;
    ebuf_init(&text);
    int rc = fs_read_file(path, &text, CONFIG_MAX);
    if (rc != 0) {
        err_set(err, errlen, "cannot read %s: %s", path, strerror(rc));
        rc = -1;
    } else
        rc = parse_with(fn, c, path, text.data ? text.data : "", text.len, err, errlen);
    ebuf_free(&text);
    return rc;
}

int web_config_parse(web_config *c, const char *name, const char *buf, size_t len, char *err,
                     size_t errlen)
{
    return parse_with(section_root, c, name, buf, len, err, errlen);
}

int web_config_load(web_config *c, const char *path, char *err, size_t errlen)
{
    return load_with(section_root, c, path, err, errlen);
}

int web_config_parse_toolkit(web_config *c, const char *name, const char *buf, size_t len,
                             char *err, size_t errlen)
{
    return parse_with(toolkit_root, c, name, buf, len, err, errlen);
}

int web_config_load_toolkit(web_config *c, const char *path, char *err, size_t errlen)
{
    return load_with(toolkit_root, c, path, err, errlen);
}

int web_config_from(web_config *c, const char *section_file, const char *toolkit_file, char *err,
                    size_t errlen)
{
    web_config_init(c);
    int rc = 0;
    if (section_file && toolkit_file) {
        err_set(err, errlen,
                "--web.config.file %s and the web: section of %s both configure the HTTP "
                "server: give one",
                toolkit_file, section_file);
        rc = -1;
    } else if (toolkit_file)
        rc = web_config_load_toolkit(c, toolkit_file, err, errlen);
    else if (section_file)
        rc = web_config_load(c, section_file, err, errlen);
    if (rc != 0)
        web_config_free(c);
    return rc;
}

/* ---- the check ---- */

/* A bcrypt success: SHA-256 of the user's name, then of the password. */
typedef struct cache_key {
    uint8_t b[64];
} cache_key;

struct web_auth {
    pthread_rwlock_t lock; /* write-held only while credentials are swapped */
    web_error_fn error;    /* NULL: plain text */
    web_config c;
    uint8_t (*name_sha)[32]; /* SHA-256 of each user's name */
    long dummy;              /* the user whose hash an unknown name is checked against */
    /* One bcrypt check at a time, as exporter-toolkit: a flood of guesses
     * costs one core, not all of them. */
    pthread_mutex_t bcrypt_lock;
    struct crypt_data *crypt; /* libxcrypt's scratch space (32 KiB) */
    pthread_mutex_t cache_lock;
    cache_key cache[CACHE_SIZE];
    size_t ncached, next; /* next: the slot the next success overwrites */
};

static void take_config(web_auth *a, web_config *c)
{
    a->c = *c;
    a->name_sha = em_calloc(a->c.nusers + 1, sizeof *a->name_sha);
    a->dummy = -1;
    for (size_t i = 0; i < a->c.nusers; i++) {
        const web_user *u = &a->c.users[i];
        sha256_of(u->name, strlen(u->name), a->name_sha[i]);
        /* the most expensive hash: an unknown name takes no less time */
        if (u->bcrypt &&
            (a->dummy < 0 || strncmp(u->bcrypt + 4, a->c.users[a->dummy].bcrypt + 4, 2) > 0))
            a->dummy = (long)i;
    }
    memset(c, 0, sizeof *c);
    pthread_mutex_lock(&a->cache_lock);
    a->ncached = a->next = 0; /* a reload forgets every success */
    pthread_mutex_unlock(&a->cache_lock);
}

web_auth *web_auth_new(web_config *c, web_error_fn error)
{
    web_auth *a = em_calloc(1, sizeof *a);
    a->error = error;
    a->crypt = em_calloc(1, sizeof *a->crypt);
    pthread_rwlock_init(&a->lock, NULL);
    pthread_mutex_init(&a->bcrypt_lock, NULL);
    pthread_mutex_init(&a->cache_lock, NULL);
    take_config(a, c);
    return a;
}

void web_auth_replace(web_auth *a, web_config *c)
{
    pthread_rwlock_wrlock(&a->lock);
    web_config_free(&a->c);
    free(a->name_sha);
    take_config(a, c);
    pthread_rwlock_unlock(&a->lock);
}

void web_auth_free(web_auth *a)
{
    if (!a)
        return;
    web_config_free(&a->c);
    free(a->name_sha);
    free(a->crypt);
    pthread_mutex_destroy(&a->cache_lock);
    pthread_mutex_destroy(&a->bcrypt_lock);
    pthread_rwlock_destroy(&a->lock);
    free(a);
}

static bool digest_equal(const uint8_t *x, const uint8_t *y)
{
    uint8_t diff = 0;
    for (size_t i = 0; i < 32; i++)
        diff |= (uint8_t)(x[i] ^ y[i]);
    return diff == 0;
}

static bool cached(web_auth *a, const cache_key *k)
{
    pthread_mutex_lock(&a->cache_lock);
    bool hit = false;
    for (size_t i = 0; i < a->ncached && !hit; i++)
        hit = digest_equal(k->b, a->cache[i].b) && digest_equal(k->b + 32, a->cache[i].b + 32);
    pthread_mutex_unlock(&a->cache_lock);
    return hit;
}

/* Remembered until the next reload; when full, the oldest goes. */
static void cache_add(web_auth *a, const cache_key *k)
{
    pthread_mutex_lock(&a->cache_lock);
    a->cache[a->next] = *k;
    a->next = (a->next + 1) % CACHE_SIZE;
    if (a->ncached < CACHE_SIZE)
        a->ncached++;
    pthread_mutex_unlock(&a->cache_lock);
}

/* Does password hash to the bcrypt hash? */
static bool bcrypt_matches(web_auth *a, const char *hash, const char *password)
{
    pthread_mutex_lock(&a->bcrypt_lock);
    const char *out = crypt_rn(password, hash, a->crypt, (int)sizeof *a->crypt);
    bool whole = out && strlen(out) == BCRYPT_LEN;
    uint8_t diff = 0;
    for (size_t i = 0; whole && i < BCRYPT_LEN; i++) /* no early exit */
        diff |= (uint8_t)(out[i] ^ hash[i]);
    pthread_mutex_unlock(&a->bcrypt_lock);
    return whole && diff == 0;
}

/* A bcrypt user's role (index bc; -1: no bcrypt user has the name), or -1.
 * An unknown name is checked against a real hash all the same. */
static int bcrypt_role(web_auth *a, long bc, const cache_key *k, const char *password,
                       size_t passlen)
{
    if (bc >= 0 && cached(a, k))
        return (int)a->c.users[bc].role;
    const char *hash = a->c.users[bc >= 0 ? bc : a->dummy].bcrypt;
    /* crypt() reads a C string: a NUL in the password would cut it short */
    bool ok = bcrypt_matches(a, hash, password) && bc >= 0 && strlen(password) == passlen;
    if (!ok)
        return -1;
    cache_add(a, k);
    return (int)a->c.users[bc].role;
}

/* "Basic base64(user:password)": the matching user's role, or -1. */
static int basic_role(web_auth *a, const char *b64)
{
    char plain[CREDENTIALS_MAX + 1];
    size_t n = 0;
    if (mbedtls_base64_decode((unsigned char *)plain, CREDENTIALS_MAX, &n,
                              (const unsigned char *)b64, strlen(b64)))
        return -1;
    plain[n] = '\0';
    char *colon = memchr(plain, ':', n);
    if (!colon)
        return -1;
    const char *password = colon + 1;
    size_t passlen = n - (size_t)(colon - plain) - 1;
    cache_key k;
    sha256_of(plain, (size_t)(colon - plain), k.b);
    sha256_of(password, passlen, k.b + 32);
    int found = -1;
    long bc = -1;
    for (size_t i = 0; i < a->c.nusers; i++) {
        /* both compared, always: no short cut on a wrong name */
        bool name_ok = digest_equal(k.b, a->name_sha[i]);
        bool pass_ok = digest_equal(k.b + 32, a->c.users[i].sha256);
        bool bcrypt = a->c.users[i].bcrypt != NULL;
        found = name_ok && pass_ok && !bcrypt ? (int)a->c.users[i].role : found;
        bc = name_ok && bcrypt ? (long)i : bc;
    }
    if (found < 0 && a->dummy >= 0)
        found = bcrypt_role(a, bc, &k, password, passlen);
    mbedtls_platform_zeroize(plain, sizeof plain);
    return found;
}

/* "Bearer TOKEN": the matching token's role, or -1. */
static int bearer_role(const web_auth *a, const char *token)
{
    uint8_t d[32];
    sha256_of(token, strlen(token), d);
    int found = -1;
    for (size_t i = 0; i < a->c.ntokens; i++)
        found = digest_equal(d, a->c.tokens[i].sha256) ? (int)a->c.tokens[i].role : found;
    return found;
}

/* The role the Authorization header grants, or -1. */
static int role_of(web_auth *a, const char *authz)
{
    size_t scheme = strcspn(authz, " ");
    const char *cred = authz + scheme + strspn(authz + scheme, " ");
    if (scheme == 5 && strncasecmp(authz, "Basic", 5) == 0)
        return basic_role(a, cred);
    if (scheme == 6 && strncasecmp(authz, "Bearer", 6) == 0)
        return bearer_role(a, cred);
    return -1;
}

int web_auth_role(web_auth *a, const char *authorization)
{
    pthread_rwlock_rdlock(&a->lock);
    int r = role_of(a, authorization);
    pthread_rwlock_unlock(&a->lock);
    return r;
}

static bool is_open(const web_config *c, const char *path)
{
    for (size_t i = 0; i < c->open_paths.n; i++)
        if (strcmp(c->open_paths.v[i], path) == 0)
            return true;
    return false;
}

/* The refusal in the server's error format, or "<status> <type>: msg\n". */
static void refuse(const web_auth *a, httpd_response *resp, int status, const char *type,
                   const char *msg)
{
    if (a->error) {
        a->error(resp, status, type, msg);
        return;
    }
    resp->status = status;
    resp->content_type = HTTPD_CONTENT_TYPE_TEXT;
    ebuf_reset(&resp->body);
    ebuf_printf(&resp->body, "%d %s: %s\n", status, type, msg);
}

static void unauthorized(const web_auth *a, httpd_response *resp, const char *msg)
{
    refuse(a, resp, 401, "unauthorized", msg);
    if (a->c.nusers)
        httpd_response_header(resp, "WWW-Authenticate", "Basic realm=\"" REALM "\"");
    if (a->c.ntokens)
        httpd_response_header(resp, "WWW-Authenticate", "Bearer realm=\"" REALM "\"");
}

/* Decide with the read lock held. */
static bool check_locked(web_auth *a, const httpd_request *req, int access, httpd_response *resp)
{
    if ((!a->c.nusers && !a->c.ntokens) || is_open(&a->c, req->path))
        return true;
    const char *authz = httpd_header(req, "Authorization");
    if (!authz) {
        unauthorized(a, resp, "authentication required");
        return false;
    }
    int r = role_of(a, authz);
    if (r < 0) {
        unauthorized(a, resp, "invalid credentials");
        return false;
    }
    if (r < access) {
        char msg[300];
        snprintf(msg, sizeof msg, "%s %.200s needs the write role; these credentials may only read",
                 req->method, req->path);
        refuse(a, resp, 403, "forbidden", msg);
        return false;
    }
    return true;
}

bool web_auth_check(void *ctx, const httpd_request *req, int access, httpd_response *resp)
{
    web_auth *a = ctx;
    pthread_rwlock_rdlock(&a->lock);
    bool ok = check_locked(a, req, access, resp);
    pthread_rwlock_unlock(&a->lock);
    return ok;
}
