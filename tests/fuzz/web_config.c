/*
 * web_config.c — libFuzzer target for the web: section of the aggregator's
 * and the agent's config files, Prometheus's web configuration file
 * (--web.config.file) and the Authorization header check behind them
 * (common/web_auth.c).
 *
 * Each input is used three ways:
 *   1. as a config file (web_config_parse) and as a web configuration file
 *      (web_config_parse_toolkit): a failure says why; a success has both
 *      TLS files or neither, named users without ':', well-formed bcrypt
 *      hashes and open paths that start with '/', and becomes a checker
 *      that is asked about the header below (unless a bcrypt cost above 05
 *      would make one check take seconds);
 *   2. up to its first NUL, as an Authorization header value, against a
 *      checker with one user and one token: a role or -1, nothing else;
 *   3. the same against a checker with a bcrypt user (cost 4, hashed at
 *      start), through its cache and the unknown-user path.
 * Everything but the fixed checkers is freed every time, so LeakSanitizer
 * sees any leak.
 */
#include "common/web_auth.h"

#include <crypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* user u, password p (printf %s p | sha256sum); token t, write role */
#define FIXED_YAML                                                                                 \
    "web:\n"                                                                                       \
    "  users: [{username: u, password_sha256: "                                                    \
    "148de9c5a7a44d19e56cd9ae1a554bf67847afb0c58f6e12fa29ac7ddfca9940}]\n"                         \
    "  tokens: [{token_sha256: "                                                                   \
    "e3b98a4da31a127d4bde6e43033f66ba274cab0eb7eb1c70ec41402bf6273dd8, role: write}]\n"

static web_auth *fixed(void)
{
    static web_auth *a;
    if (a)
        return a;
    web_config c;
    char err[256];
    web_config_init(&c);
    if (web_config_parse(&c, "fixed.yml", FIXED_YAML, strlen(FIXED_YAML), err, sizeof err) != 0)
        abort();
    a = web_auth_new(&c, NULL);
    /* the right credentials are known ("u:p" in base64), so a -1 below
     * means the input was wrong, not the checker */
    if (web_auth_role(a, "Basic dTpw") != WEB_READ || web_auth_role(a, "Bearer t") != WEB_WRITE)
        abort();
    return a;
}

/* user b, password p, as bcrypt; reader */
static web_auth *fixed_bcrypt(void)
{
    static web_auth *a;
    if (a)
        return a;
    char salt[CRYPT_GENSALT_OUTPUT_SIZE], yaml[200], err[256];
    struct crypt_data *d = calloc(1, sizeof *d);
    const char *h = crypt_gensalt_rn("$2b$", 4, NULL, 0, salt, sizeof salt)
                        ? crypt_rn("p", salt, d, (int)sizeof *d)
                        : NULL;
    if (!h)
        abort();
    snprintf(yaml, sizeof yaml, "basic_auth_users: {b: '%s'}\n", h);
    free(d);
    web_config c;
    web_config_init(&c);
    if (web_config_parse_toolkit(&c, "fixed.yml", yaml, strlen(yaml), err, sizeof err) != 0)
        abort();
    a = web_auth_new(&c, NULL);
    if (web_auth_role(a, "Basic Yjpw") != WEB_READ) /* "b:p" */
        abort();
    return a;
}

static void check_role(int role)
{
    if (role != -1 && role != WEB_READ && role != WEB_WRITE)
        abort();
}

static void check_config(const web_config *c)
{
    if (!c->tls_cert_file != !c->tls_key_file)
        abort();
    for (size_t i = 0; i < c->nusers; i++)
        if (!c->users[i].name[0] || strchr(c->users[i].name, ':') ||
            (c->users[i].bcrypt && strlen(c->users[i].bcrypt) != 60))
            abort();
    for (size_t i = 0; i < c->open_paths.n; i++)
        if (c->open_paths.v[i][0] != '/')
            abort();
}

/* Would asking c's checker cost more than a few milliseconds? */
static bool slow(const web_config *c)
{
    for (size_t i = 0; i < c->nusers; i++)
        if (c->users[i].bcrypt && strncmp(c->users[i].bcrypt + 4, "05", 2) > 0)
            return true;
    return false;
}

typedef int (*parse_fn)(web_config *, const char *, const char *, size_t, char *, size_t);

static void one_way(parse_fn parse, const uint8_t *data, size_t size, const char *header)
{
    web_config c;
    char err[512] = "";
    web_config_init(&c);
    if (parse(&c, "/etc/ember/fuzz.yml", (const char *)data, size, err, sizeof err) != 0) {
        if (!err[0])
            abort(); /* a failure always says why */
    } else {
        check_config(&c);
        if (!slow(&c)) {
            web_auth *a = web_auth_new(&c, NULL);
            check_role(web_auth_role(a, header));
            web_auth_free(a);
        }
    }
    web_config_free(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *header = strndup((const char *)data, size);
    check_role(web_auth_role(fixed(), header));
    check_role(web_auth_role(fixed_bcrypt(), header));
    one_way(web_config_parse, data, size, header);
    one_way(web_config_parse_toolkit, data, size, header);
    free(header);
    return 0;
}
