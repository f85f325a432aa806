/*
 * options.c — settings from defaults, then a YAML file, then flags; --help.
 *
 * One opt_spec table per binary is the single description of its settings:
 * the flag --spool.dir, the config key dir inside spool:, the default and
 * the help line all come from it.  The order of layers is fixed and simple
 * to explain: default < config file < flag.  Everything is parsed by the
 * same function (opt_store_scalar), so "15s" means the same in a default,
 * in YAML and on the command line.
 *
 * Decisions worth knowing:
 *   - argv is walked twice: first to find --help, --version and --config
 *     (so --help works even next to a bad flag, and the config file can be
 *     given anywhere on the line), then, after the file is loaded, to apply
 *     the flags in order.  A repeated scalar flag: the last one wins.
 *   - For lists and labels the first flag replaces whatever the default or
 *     the config file gave, and later flags add to it, so
 *     "--scrape a --scrape b" means exactly [a, b].
 *   - OPT_DIR and OPT_FILE are checked once, on the final value: a default
 *     directory that the config file overrides is never created.
 *   - Sizes (parse_bytes) are base 2 throughout, as Prometheus's
 *     units.Base2Bytes: K, KB and KiB all mean 1024.
 *   - Targets are reset (not freed) at the start, so a caller may pass an
 *     uninitialised struct; after any return opts_free releases them.
 *
 * No global state.  The YAML half lives in config_yaml.c.
 */
#include "common/options.h"

#include "common/err.h"
#include "common/fsutil.h"

#include "common/buf.h"
#include "common/config_yaml.h"
#include "common/etime.h"
#include "common/log.h"
#include "common/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void strlist_push(strlist *l, const char *s)
{
    EM_GROW(l->v, l->cap, l->n + 1);
    l->v[l->n++] = em_strdup(s);
}

void strlist_free(strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

/* ---- values ---------------------------------------------------------- */

/* Multiplier for a size suffix, base 2 throughout; 0 if not a suffix. */
static int64_t bytes_unit(const char *u, int *power)
{
    static const char prefixes[] = "KMGTPE";
    *power = 0;
    if (u[0] == '\0' || strcmp(u, "B") == 0)
        return 1;
    char p = u[0] == 'k' ? 'K' : u[0]; /* SI habit: lower-case k */
    const char *at = strchr(prefixes, p);
    if (p == '\0' || at == NULL)
        return 0;
    if (strcmp(u + 1, "") != 0 && strcmp(u + 1, "B") != 0 && strcmp(u + 1, "iB") != 0)
        return 0;
    *power = (int)(at - prefixes) + 1;
    return INT64_C(1) << (10 * *power);
}

/* floor(frac / 10^digits * 1024^power), exactly, without overflow. */
static int64_t scaled_fraction(int64_t frac, int64_t denom, int power)
{
    int64_t whole = 0;
    for (int i = 0; i < power; i++) {
        frac *= 1024;
        whole = whole * 1024 + frac / denom;
        frac %= denom;
    }
    return whole;
}

bool parse_bytes(const char *s, int64_t *out)
{
    if (s == NULL || *s < '0' || *s > '9')
        return false;
    int64_t n = 0, frac = 0, denom = 1;
    for (; *s >= '0' && *s <= '9'; s++) {
        if (n > (INT64_MAX - (*s - '0')) / 10)
            return false;
        n = n * 10 + (*s - '0');
    }
    if (*s == '.') { /* "1.5GiB"; at most 9 decimals keeps the arithmetic exact */
        if (*++s < '0' || *s > '9')
            return false;
        for (; *s >= '0' && *s <= '9'; s++) {
            if (denom == 1000000000)
                return false;
            frac = frac * 10 + (*s - '0');
            denom *= 10;
        }
    }
    int power;
    int64_t mult = bytes_unit(s, &power);
    if (mult == 0 || (denom > 1 && power == 0)) /* no fractional bytes */
        return false;
    if (n > INT64_MAX / mult)
        return false;
    int64_t part = scaled_fraction(frac, denom, power);
    if (n * mult > INT64_MAX - part)
        return false;
    *out = n * mult + part;
    return true;
}

static bool parse_int64(const char *s, int64_t *out)
{
    if (s == NULL || *s == '\0' || (*s != '-' && *s != '+' && (*s < '0' || *s > '9')))
        return false; /* strtoll would skip leading space */
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0' || end == s)
        return false;
    *out = (int64_t)v;
    return true;
}

/* Go's strconv.ParseBool, which Prometheus's flags use. */
static bool parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"1", "t", "T", "true", "TRUE", "True"};
    static const char *const no[] = {"0", "f", "F", "false", "FALSE", "False"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        if (strcmp(s, yes[i]) == 0 || strcmp(s, no[i]) == 0) {
            *out = strcmp(s, yes[i]) == 0;
            return true;
        }
    }
    return false;
}

bool opt_store_scalar(const opt_spec *s, const char *text)
{
    switch (s->kind) {
    case OPT_STRING:
    case OPT_DIR:
    case OPT_FILE: {
        char **t = s->target;
        free(*t);
        *t = em_strdup(text);
        return true;
    }
    case OPT_DURATION: return parse_duration_ms(text, s->target);
    case OPT_INT: return parse_int64(text, s->target);
    case OPT_BYTES: return parse_bytes(text, s->target);
    case OPT_BOOL: return parse_bool(text, s->target);
    case OPT_STRLIST:
    case OPT_LABELS:
    case OPT_SECTION: break;
    }
    return false;
}

/* The noun in "--interval: bad duration \"15x\"". */
static const char *kind_noun(opt_kind k)
{
    switch (k) {
    case OPT_DURATION: return "duration";
    case OPT_INT: return "integer";
    case OPT_BYTES: return "size";
    case OPT_BOOL: return "boolean";
    default: return "value";
    }
}

/* ---- applying one value in flag syntax (defaults and flags) ---------- */

/* "k=v" into a label set; ctx ("--label") starts any error message. */
static bool apply_label(labelset *ls, const char *ctx, const char *text, char *err, size_t errlen)
{
    char q[128];
    const char *eq = strchr(text, '=');
    if (eq == NULL) {
        err_set(err, errlen, "%s: bad label %s (want name=value)", ctx,
                log_quote(q, sizeof q, text));
        return false;
    }
    size_t nlen = (size_t)(eq - text);
    if (!label_name_valid(text, nlen)) {
        char *name = em_strndup(text, nlen);
        err_set(err, errlen, "%s: invalid label name %s", ctx, log_quote(q, sizeof q, name));
        free(name);
        return false;
    }
    if (!utf8_valid(eq + 1, strlen(eq + 1))) {
        err_set(err, errlen, "%s: label value is not valid UTF-8", ctx);
        return false;
    }
    char *name = em_strndup(text, nlen);
    labels_set(ls, name, eq + 1);
    free(name);
    return true;
}

/*
 * Apply text (flag syntax; NULL for a bare boolean flag) to spec s.  A
 * list flag replaces earlier values the first time it is seen.
 */
static bool apply_text(const opt_spec *s, opt_slot *slot, opt_origin from, const char *ctx,
                       const char *text, char *err, size_t errlen)
{
    bool first_flag = from == OPT_FROM_FLAG && !slot->list_flagged;
    bool ok = true;
    if (s->kind == OPT_STRLIST) {
        if (first_flag)
            strlist_free(s->target);
        strlist_push(s->target, text);
    } else if (s->kind == OPT_LABELS) {
        if (first_flag)
            labels_clear(s->target);
        ok = apply_label(s->target, ctx, text, err, errlen);
    } else if (!opt_store_scalar(s, text)) {
        char q[128];
        err_set(err, errlen, "%s: bad %s %s", ctx, kind_noun(s->kind),
                log_quote(q, sizeof q, text));
        ok = false;
    }
    if (from == OPT_FROM_FLAG)
        slot->list_flagged = true;
    slot->origin = from;
    return ok;
}

static bool apply_defaults(const opt_spec *specs, size_t n, opt_slot *slots, char *err,
                           size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        if (specs[i].def == NULL)
            continue;
        char ctx[160];
        snprintf(ctx, sizeof ctx, "default of --%s", specs[i].name);
        if (!apply_text(&specs[i], &slots[i], OPT_FROM_DEFAULT, ctx, specs[i].def, err, errlen))
            return false;
    }
    return true;
}

/* ---- flags ------------------------------------------------------------- */

typedef enum flag_kind { FLAG_SETTING, FLAG_CONFIG, FLAG_HELP, FLAG_VERSION } flag_kind;

typedef struct flag_tok {
    flag_kind kind;
    size_t spec;       /* index, for FLAG_SETTING */
    const char *value; /* NULL: a bare boolean (true, or false if negated) */
    bool negated;      /* --no-name */
} flag_tok;

static const opt_spec *spec_find(const opt_spec *specs, size_t n, const char *name, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (strncmp(specs[i].name, name, len) == 0 && specs[i].name[len] == '\0')
            return &specs[i];
    return NULL;
}

/* --name or --no-name for a boolean; NULL if neither names a setting. */
static const opt_spec *flag_spec(const opt_spec *specs, size_t n, const char *name, size_t len,
                                 bool *negated)
{
    *negated = false;
    const opt_spec *s = spec_find(specs, n, name, len);
    if (s == NULL && len > 3 && strncmp(name, "no-", 3) == 0) {
        s = spec_find(specs, n, name + 3, len - 3);
        if (s && s->kind != OPT_BOOL)
            return NULL;
        *negated = s != NULL;
    }
    return s;
}

static bool builtin_is(const char *name, size_t len, const char *builtin)
{
    return strlen(builtin) == len && strncmp(name, builtin, len) == 0;
}

/* The value of a flag that needs one: after '=' or the next argument. */
static bool flag_value(int argc, char **argv, int *i, const char *inline_val, const char *name,
                       size_t len, const char **value, char *err, size_t errlen)
{
    if (inline_val) {
        *value = inline_val;
        return true;
    }
    /* "--interval --debug" is a forgotten value, not an interval of "--debug". */
    if (*i >= argc || strncmp(argv[*i], "--", 2) == 0) {
        err_set(err, errlen, "--%.*s: missing value", (int)len, name);
        return false;
    }
    *value = argv[(*i)++];
    return true;
}

/* Read the flag at argv[*i] (and its value), advancing *i past both. */
static bool next_flag(const opt_spec *specs, size_t n, int argc, char **argv, int *i, flag_tok *t,
                      char *err, size_t errlen)
{
    const char *arg = argv[(*i)++];
    memset(t, 0, sizeof *t);
    char q[128];
    if (strcmp(arg, "-h") == 0) {
        t->kind = FLAG_HELP;
        return true;
    }
    if (arg[0] != '-' || arg[1] == '\0' || strcmp(arg, "--") == 0) {
        err_set(err, errlen, "unexpected argument %s", log_quote(q, sizeof q, arg));
        return false;
    }
    if (arg[1] != '-') {
        err_set(err, errlen, "unknown flag %s (flags start with --)", arg);
        return false;
    }
    const char *name = arg + 2, *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    const char *inline_val = eq ? eq + 1 : NULL;
    if (builtin_is(name, len, "help") || builtin_is(name, len, "version")) {
        t->kind = name[0] == 'h' ? FLAG_HELP : FLAG_VERSION;
        if (inline_val == NULL)
            return true;
        err_set(err, errlen, "--%.*s: takes no value", (int)len, name);
        return false;
    }
    if (builtin_is(name, len, "config")) {
        t->kind = FLAG_CONFIG;
        return flag_value(argc, argv, i, inline_val, name, len, &t->value, err, errlen);
    }
    const opt_spec *s = flag_spec(specs, n, name, len, &t->negated);
    if (s == NULL || s->kind == OPT_SECTION) {
        err_set(err, errlen, "unknown flag --%.*s", (int)len, name);
        return false;
    }
    t->kind = FLAG_SETTING;
    t->spec = (size_t)(s - specs);
    if (s->kind != OPT_BOOL)
        return flag_value(argc, argv, i, inline_val, name, len, &t->value, err, errlen);
    if (t->negated && inline_val) {
        err_set(err, errlen, "--%.*s: takes no value", (int)len, name);
        return false;
    }
    t->value = inline_val; /* "--debug" or "--debug=false" (separate "false" is positional) */
    return true;
}

typedef struct flag_scan {
    bool help, version;
    const char *config;
} flag_scan;

/* First pass: find the built-ins; the first malformed flag goes into err. */
static bool scan_flags(const opt_spec *specs, size_t n, int argc, char **argv, flag_scan *scan,
                       char *err, size_t errlen)
{
    bool ok = true;
    char ignored[8]; /* keep the first error, not the last */
    for (int i = 1; i < argc;) {
        flag_tok t;
        if (!next_flag(specs, n, argc, argv, &i, &t, ok ? err : ignored,
                       ok ? errlen : sizeof ignored)) {
            ok = false;
            continue;
        }
        if (t.kind == FLAG_HELP)
            scan->help = true;
        else if (t.kind == FLAG_VERSION)
            scan->version = true;
        else if (t.kind == FLAG_CONFIG)
            scan->config = t.value;
    }
    return ok;
}

/* Second pass: apply the settings in order; argv is known to be well-formed. */
static bool apply_flags(const opt_spec *specs, size_t n, opt_slot *slots, int argc, char **argv,
                        char *err, size_t errlen)
{
    for (int i = 1; i < argc;) {
        flag_tok t;
        if (!next_flag(specs, n, argc, argv, &i, &t, err, errlen))
            return false;
        if (t.kind != FLAG_SETTING)
            continue;
        const opt_spec *s = &specs[t.spec];
        const char *text = t.value;
        if (s->kind == OPT_BOOL && text == NULL)
            text = t.negated ? "false" : "true";
        char ctx[160];
        snprintf(ctx, sizeof ctx, "--%s", s->name);
        if (!apply_text(s, &slots[t.spec], OPT_FROM_FLAG, ctx, text, err, errlen))
            return false;
    }
    return true;
}

/* ---- final checks: directories and files ------------------------------ */

/* 0, or an errno (EISDIR for a directory) if path is not a readable file. */
static int check_readable_file(const char *path)
{
    /* O_NONBLOCK: a FIFO must not hang start-up. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return errno;
    struct stat st;
    int rc = fstat(fd, &st) != 0 ? errno : S_ISDIR(st.st_mode) ? EISDIR : 0;
    close(fd);
    return rc;
}

/* "cfg.yml:3:8: spool.dir", "--spool.dir" or "default of --spool.dir". */
static void origin_prefix(char *buf, size_t len, const opt_spec *s, const opt_slot *slot,
                          const char *config)
{
    if (slot->origin == OPT_FROM_CONFIG)
        snprintf(buf, len, "%s:%zu:%zu: %s", config, slot->line, slot->col, s->name);
    else if (slot->origin == OPT_FROM_FLAG)
        snprintf(buf, len, "--%s", s->name);
    else
        snprintf(buf, len, "default of --%s", s->name);
}

static bool check_path(const opt_spec *s, const opt_slot *slot, const char *config, char *err,
                       size_t errlen)
{
    const char *path = *(char **)s->target;
    if (path == NULL)
        return true; /* not set: the program decides whether that is fine */
    int rc = s->kind == OPT_DIR ? (fs_mkdir_p(path) == 0 ? 0 : errno) : check_readable_file(path);
    if (rc == 0)
        return true;
    char where[512], q[256];
    origin_prefix(where, sizeof where, s, slot, config);
    log_quote(q, sizeof q, path);
    if (s->kind == OPT_DIR)
        err_set(err, errlen, "%s: cannot create directory %s: %s", where, q, strerror(rc));
    else if (rc == EISDIR)
        err_set(err, errlen, "%s: %s is a directory, not a file", where, q);
    else
        err_set(err, errlen, "%s: cannot read file %s: %s", where, q, strerror(rc));
    return false;
}

static bool finish(const opt_spec *specs, size_t n, const opt_slot *slots, const char *config,
                   char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        if (specs[i].kind == OPT_LABELS)
            labels_sort(specs[i].target); /* hash and compare need the canonical order */
        if ((specs[i].kind == OPT_DIR || specs[i].kind == OPT_FILE) &&
            !check_path(&specs[i], &slots[i], config, err, errlen))
            return false;
    }
    return true;
}

/* ---- --help ------------------------------------------------------------ */

static const char *default_metavar(opt_kind k)
{
    switch (k) {
    case OPT_DURATION: return "DUR";
    case OPT_INT: return "INT";
    case OPT_BYTES: return "SIZE";
    case OPT_LABELS: return "NAME=VALUE";
    case OPT_DIR: return "DIR";
    case OPT_FILE: return "FILE";
    default: return "STR";
    }
}

/* "  --interval DUR      help (default: 15s)" with the help column at col. */
static void usage_line(ebuf *out, const char *flag, const char *help, const char *def, int col)
{
    int w = (int)strlen(flag) + 2;
    ebuf_printf(out, "  %s", flag);
    if (w + 2 > col) /* too long to align: help on its own line */
        ebuf_printf(out, "\n%*s", col, "");
    else
        ebuf_printf(out, "%*s", col - w, "");
    ebuf_puts(out, help ? help : "");
    if (def)
        ebuf_printf(out, " (default: %s)", def);
    ebuf_putc(out, '\n');
}

static void spec_flag(char *buf, size_t len, const opt_spec *s)
{
    if (s->kind == OPT_BOOL)
        snprintf(buf, len, "--[no-]%s", s->name);
    else
        snprintf(buf, len, "--%s %s", s->name, s->metavar ? s->metavar : default_metavar(s->kind));
}

void opts_usage(const opt_program *prog, const opt_spec *specs, size_t nspecs, ebuf *out)
{
    enum { MAX_COL = 34 };
    char flag[256];
    int col = (int)strlen("  --config FILE") + 2;
    for (size_t i = 0; i < nspecs; i++) {
        if (specs[i].kind == OPT_SECTION)
            continue;
        spec_flag(flag, sizeof flag, &specs[i]);
        int w = (int)strlen(flag) + 4;
        if (w > col && w <= MAX_COL)
            col = w;
    }
    if (prog->summary)
        ebuf_printf(out, "%s\n\n", prog->summary);
    ebuf_printf(out, "Usage: %s [flags]\n\nFlags:\n", prog->name);
    for (size_t i = 0; i < nspecs; i++) {
        if (specs[i].kind == OPT_SECTION)
            continue;
        spec_flag(flag, sizeof flag, &specs[i]);
        usage_line(out, flag, specs[i].help, specs[i].def, col);
    }
    usage_line(out, "--config FILE", "YAML file with these settings; flags override it", NULL, col);
    usage_line(out, "--help", "show this help and exit", NULL, col);
    usage_line(out, "--version", "show the version and exit", NULL, col);
    ebuf_puts(out, "\nIn the --config file, the flag --a.b is the key b inside the map a:.\n");
}

static void print_stdout(const char *s, size_t len)
{
    fwrite(s, 1, len, stdout);
    fflush(stdout);
}

static int print_help(const opt_program *prog, const opt_spec *specs, size_t n)
{
    ebuf b;
    ebuf_init(&b);
    opts_usage(prog, specs, n, &b);
    print_stdout(b.data, b.len);
    ebuf_free(&b);
    return OPTS_EXIT;
}

static int print_version(const opt_program *prog)
{
    char line[256];
    int len = snprintf(line, sizeof line, "%s version %s\n", prog->name,
                       prog->version ? prog->version : "unknown");
    print_stdout(line, len < (int)sizeof line ? (size_t)len : sizeof line - 1);
    return OPTS_EXIT;
}

/* ---- the entry points ---------------------------------------------------- */

/* Empty every target without freeing: it may hold garbage. */
static void reset_targets(const opt_spec *specs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        void *t = specs[i].target;
        switch (specs[i].kind) {
        case OPT_STRING:
        case OPT_DIR:
        case OPT_FILE:
        case OPT_SECTION: *(char **)t = NULL; break;
        case OPT_STRLIST: memset(t, 0, sizeof(strlist)); break;
        case OPT_LABELS: labels_init(t); break;
        case OPT_DURATION:
        case OPT_INT:
        case OPT_BYTES: *(int64_t *)t = 0; break;
        case OPT_BOOL: *(bool *)t = false; break;
        }
    }
}

static int load_layers(const opt_spec *specs, size_t n, opt_slot *slots, int argc, char **argv,
                       const char *config, char *err, size_t errlen)
{
    if (!apply_defaults(specs, n, slots, err, errlen))
        return OPTS_ERROR;
    if (config && config_yaml_load_file(specs, n, slots, config, err, errlen) != OPTS_OK)
        return OPTS_ERROR;
    if (!apply_flags(specs, n, slots, argc, argv, err, errlen))
        return OPTS_ERROR;
    if (!finish(specs, n, slots, config, err, errlen))
        return OPTS_ERROR;
    return OPTS_OK;
}

int opts_load(const opt_program *prog, const opt_spec *specs, size_t nspecs, int argc, char **argv,
              char *err, size_t errlen)
{
    err_set(err, errlen, "%s", "");
    reset_targets(specs, nspecs);
    flag_scan scan = {0};
    bool ok = scan_flags(specs, nspecs, argc, argv, &scan, err, errlen);
    if (scan.help || scan.version) {
        err_set(err, errlen, "%s", "");
        return scan.help ? print_help(prog, specs, nspecs) : print_version(prog);
    }
    if (!ok)
        return OPTS_ERROR;
    opt_slot *slots = em_calloc(nspecs ? nspecs : 1, sizeof *slots);
    int rc = load_layers(specs, nspecs, slots, argc, argv, scan.config, err, errlen);
    free(slots);
    return rc;
}

int opts_load_yaml_buffer(const opt_spec *specs, size_t nspecs, const char *name, const char *buf,
                          size_t len, char *err, size_t errlen)
{
    err_set(err, errlen, "%s", "");
    opt_slot *slots = em_calloc(nspecs ? nspecs : 1, sizeof *slots);
    int rc = config_yaml_load_buffer(specs, nspecs, slots, name, buf, len, err, errlen);
    free(slots);
    return rc;
}

void opts_free(const opt_spec *specs, size_t nspecs)
{
    for (size_t i = 0; i < nspecs; i++) {
        void *t = specs[i].target;
        switch (specs[i].kind) {
        case OPT_STRING:
        case OPT_DIR:
        case OPT_FILE:
        case OPT_SECTION:
            free(*(char **)t);
            *(char **)t = NULL;
            break;
        case OPT_STRLIST: strlist_free(t); break;
        case OPT_LABELS: labels_free(t); break;
        default: break;
        }
    }
}
