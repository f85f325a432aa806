/*
 * web_config.c — libFuzzer target for the web: section of the aggregator's
 * and the agent's config files, and the Authorization header check behind
 * it (common/web_auth.c).
 *
 * Each input is used two ways:
 *   1. as a config file (web_config_parse): a failure says why; a success
 *      has both TLS files or neither, named users without ':' and open
 *      paths that start with '/', and becomes a checker that is asked about
 *      the header below;
 *   2. up to its first NUL, as an Authorization header value, against a
 *      checker with one user and one token: a role or -1, nothing else.
 * Everything but the fixed checker is freed every time, so LeakSanitizer
 * sees any leak.
 */
#include "common/web_auth.h"

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
        if (!c->users[i].name[0] || strchr(c->users[i].name, ':'))
            abort();
    for (size_t i = 0; i < c->open_paths.n; i++)
        if (c->open_paths.v[i][0] != '/')
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *header = strndup((const char *)data, size);
    check_role(web_auth_role(fixed(), header));

    web_config c;
    char err[512] = "";
    web_config_init(&c);
    if (web_config_parse(&c, "/etc/ember/fuzz.yml", (const char *)data, size, err, sizeof err) !=
        0) {
        if (!err[0])
            abort(); /* a failure always says why */
    } else {
        check_config(&c);
        web_auth *a = web_auth_new(&c, NULL);
        check_role(web_auth_role(a, header));
        web_auth_free(a);
    }
    web_config_free(&c);
    free(header);
    return 0;
}
