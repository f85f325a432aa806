/*
 * relabel.c — Prometheus 2.42's relabeling (see relabel.h): validation as
 * Config.Validate, application as relabel(), template expansion as Go's
 * Regexp.Expand.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "common/relabel.h"
#include "common/md5.h"

#include "common/buf.h"
#include "common/err.h"
#include "common/mem.h"

#include <ctype.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const action_names[] = {
    [RELABEL_REPLACE] = "replace",     [RELABEL_KEEP] = "keep",
    [RELABEL_DROP] = "drop",           [RELABEL_HASHMOD] = "hashmod",
    [RELABEL_LABELMAP] = "labelmap",   [RELABEL_LABELDROP] = "labeldrop",
    [RELABEL_LABELKEEP] = "labelkeep", [RELABEL_LOWERCASE] = "lowercase",
    [RELABEL_UPPERCASE] = "uppercase", [RELABEL_KEEPEQUAL] = "keepequal",
    [RELABEL_DROPEQUAL] = "dropequal",
};
#define NACTIONS (sizeof action_names / sizeof action_names[0])

bool relabel_action_parse(const char *s, relabel_action *a)
{
    for (size_t i = 0; i < NACTIONS; i++)
        if (strcasecmp(s, action_names[i]) == 0) { /* Prometheus lower-cases it */
            *a = (relabel_action)i;
            return true;
        }
    return false;
}

const char *relabel_action_name(relabel_action a)
{
    return (size_t)a < NACTIONS ? action_names[a] : "unknown";
}

static const char *separator(const relabel_rule *r)
{
    return r->separator ? r->separator : ";";
}
static const char *target(const relabel_rule *r)
{
    return r->target_label ? r->target_label : "";
}
static const char *replacement(const relabel_rule *r)
{
    return r->replacement ? r->replacement : "$1";
}
static const char *regex_src(const relabel_rule *r)
{
    return r->regex ? r->regex : "(.*)";
}

/* ---- regexes ------------------------------------------------------------ */

/* "^(?:src)$" with Go's meaning of $ (end of text only). */
static pcre2_code *compile_anchored(const char *src, char *err, size_t errlen)
{
    ebuf pat;
    ebuf_init(&pat);
    ebuf_printf(&pat, "^(?:%s)$", src);
    int code;
    PCRE2_SIZE off;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat.data, pat.len, PCRE2_UTF | PCRE2_DOLLAR_ENDONLY,
                                   &code, &off, NULL);
    ebuf_free(&pat);
    if (re == NULL) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(code, msg, sizeof msg);
        err_set(err, errlen, "invalid regex \"%s\": %s", src, (const char *)msg);
    }
    return re;
}

/*
 * Match s; md gets the groups.  Invalid UTF-8 does not match, nor does a
 * match that runs past the backtracking limit (RE2 has none to run into,
 * but a PCRE2 pattern can take exponential time on a hostile value).
 */
static bool match_ctx(const pcre2_code *re, const char *s, pcre2_match_data *md,
                      pcre2_match_context *mc)
{
    return pcre2_match(re, (PCRE2_SPTR)s, strlen(s), 0, 0, md, mc) >= 0;
}
#define RELABEL_MATCH_LIMIT 1000000

static bool match_simple(const pcre2_code *re, const char *s)
{
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
    bool ok = match_ctx(re, s, md, NULL);
    pcre2_match_data_free(md);
    return ok;
}

/* Prometheus's relabelTarget: a label name that may contain $1/${name}. */
static bool valid_target(const char *s)
{
    char err[8];
    pcre2_code *re = compile_anchored("(?:(?:[a-zA-Z_]|\\$(?:\\{\\w+\\}|\\w+))+\\w*)+", err, 0);
    bool ok = match_simple(re, s);
    pcre2_code_free(re);
    return ok;
}

/* ---- validation --------------------------------------------------------- */

static bool needs_target(relabel_action a)
{
    return a == RELABEL_REPLACE || a == RELABEL_HASHMOD || a == RELABEL_LOWERCASE ||
           a == RELABEL_UPPERCASE || a == RELABEL_KEEPEQUAL || a == RELABEL_DROPEQUAL;
}

static bool no_replacement(relabel_action a)
{
    return a == RELABEL_LOWERCASE || a == RELABEL_UPPERCASE || a == RELABEL_KEEPEQUAL ||
           a == RELABEL_DROPEQUAL;
}

static bool is_default(const char *v, const char *def)
{
    return v == NULL || strcmp(v, def) == 0;
}

static int validate(const relabel_rule *r, char *err, size_t errlen)
{
    const char *act = relabel_action_name(r->action);
    if (r->modulus == 0 && r->action == RELABEL_HASHMOD)
        return err_set(err, errlen, "relabel configuration for hashmod requires non-zero modulus"),
               -1;
    if (needs_target(r->action) && target(r)[0] == '\0')
        return err_set(err, errlen,
                       "relabel configuration for %s action requires 'target_label' value", act),
               -1;
    if (needs_target(r->action) && r->action != RELABEL_HASHMOD && !valid_target(target(r)))
        return err_set(err, errlen, "\"%s\" is invalid 'target_label' for %s action", target(r),
                       act),
               -1;
    if (no_replacement(r->action) && !is_default(r->replacement, "$1"))
        return err_set(err, errlen, "'replacement' can not be set for %s action", act), -1;
    if (r->action == RELABEL_LABELMAP && !valid_target(replacement(r)))
        return err_set(err, errlen, "\"%s\" is invalid 'replacement' for %s action", replacement(r),
                       act),
               -1;
    if (r->action == RELABEL_HASHMOD && !label_name_valid(target(r), strlen(target(r))))
        return err_set(err, errlen, "\"%s\" is invalid 'target_label' for %s action", target(r),
                       act),
               -1;
    bool plain =
        r->modulus == 0 && is_default(r->separator, ";") && is_default(r->replacement, "$1");
    if ((r->action == RELABEL_KEEPEQUAL || r->action == RELABEL_DROPEQUAL) &&
        (!plain || r->regex != NULL))
        return err_set(err, errlen,
                       "%s action requires only 'source_labels' and `target_label`, and no other "
                       "fields",
                       act),
               -1;
    if ((r->action == RELABEL_LABELDROP || r->action == RELABEL_LABELKEEP) &&
        (!plain || r->nsource > 0 || target(r)[0] != '\0'))
        return err_set(err, errlen, "%s action requires only 'regex', and no other fields", act),
               -1;
    for (size_t i = 0; i < r->nsource; i++)
        if (!label_name_valid(r->source_labels[i], strlen(r->source_labels[i])))
            return err_set(err, errlen, "\"%s\" is not a valid label name", r->source_labels[i]),
                   -1;
    return 0;
}

int relabel_rule_compile(relabel_rule *r, char *err, size_t errlen)
{
    if (validate(r, err, errlen) != 0)
        return -1;
    pcre2_code_free(r->code);
    r->code = compile_anchored(regex_src(r), err, errlen);
    if (r->code == NULL)
        return -1;
    if (r->mctx == NULL) {
        r->mctx = pcre2_match_context_create(NULL);
        pcre2_set_match_limit(r->mctx, RELABEL_MATCH_LIMIT);
    }
    return 0;
}

void relabel_rule_free(relabel_rule *r)
{
    for (size_t i = 0; i < r->nsource; i++)
        free(r->source_labels[i]);
    free(r->source_labels);
    free(r->separator);
    free(r->target_label);
    free(r->regex);
    free(r->replacement);
    pcre2_code_free(r->code);
    pcre2_match_context_free(r->mctx);
    memset(r, 0, sizeof *r);
}

void relabel_rules_init(relabel_rules *rs)
{
    memset(rs, 0, sizeof *rs);
}

relabel_rule *relabel_rules_push(relabel_rules *rs)
{
    if (rs->n == rs->cap) {
        rs->cap = rs->cap ? rs->cap * 2 : 4;
        rs->v = em_realloc(rs->v, rs->cap * sizeof *rs->v);
    }
    relabel_rule *r = &rs->v[rs->n++];
    memset(r, 0, sizeof *r);
    return r;
}

void relabel_rules_free(relabel_rules *rs)
{
    for (size_t i = 0; i < rs->n; i++)
        relabel_rule_free(&rs->v[i]);
    free(rs->v);
    memset(rs, 0, sizeof *rs);
}

static bool rule_match(const relabel_rule *r, const char *s, pcre2_match_data *md)
{
    return match_ctx(r->code, s, md, r->mctx);
}

/* ---- templates ---------------------------------------------------------- */

static bool word_char(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

/* Group `name` (a number or a group name) of the match, appended to out. */
static void append_group(ebuf *out, const pcre2_code *re, pcre2_match_data *md, const char *s,
                         const char *name, size_t n)
{
    int num = 0;
    for (size_t i = 0; i < n && num >= 0; i++)
        num = isdigit((unsigned char)name[i]) && num < 100000000 ? num * 10 + (name[i] - '0') : -1;
    if (num < 0) {
        char buf[256];
        snprintf(buf, sizeof buf, "%.*s", (int)n, name);
        num = pcre2_substring_number_from_name(re, (PCRE2_SPTR)buf);
        if (num < 0)
            return;
    }
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    if ((uint32_t)num >= pcre2_get_ovector_count(md) || ov[2 * num] == PCRE2_UNSET)
        return;
    ebuf_append(out, s + ov[2 * num], ov[2 * num + 1] - ov[2 * num]);
}

/* Go's Regexp.Expand of tmpl with the match of s in md. */
static void expand(ebuf *out, const char *tmpl, const pcre2_code *re, pcre2_match_data *md,
                   const char *s)
{
    for (const char *p = tmpl; *p;) {
        if (*p != '$') {
            ebuf_putc(out, *p++);
            continue;
        }
        if (p[1] == '$') {
            ebuf_putc(out, '$');
            p += 2;
            continue;
        }
        bool brace = p[1] == '{';
        const char *name = p + 1 + brace, *e = name;
        while (word_char(*e))
            e++;
        if (e == name || (brace && *e != '}')) { /* malformed: a plain '$' */
            ebuf_putc(out, '$');
            p++;
            continue;
        }
        append_group(out, re, md, s, name, (size_t)(e - name));
        p = e + brace;
    }
}

/* ---- application -------------------------------------------------------- */

/* Builder.Set: an empty value deletes. */
static void set_label(labelset *ls, const char *name, const char *value)
{
    if (value[0] == '\0')
        labels_del(ls, name);
    else
        labels_set(ls, name, value);
}

static void join_sources(ebuf *val, const relabel_rule *r, const labelset *ls)
{
    for (size_t i = 0; i < r->nsource; i++) {
        if (i)
            ebuf_puts(val, separator(r));
        const char *v = labels_get(ls, r->source_labels[i]);
        ebuf_puts(val, v ? v : "");
    }
}

static void do_replace(const relabel_rule *r, labelset *ls, const char *val, pcre2_match_data *md)
{
    if (!rule_match(r, val, md))
        return;
    ebuf t, res;
    ebuf_init(&t);
    ebuf_init(&res);
    expand(&t, target(r), r->code, md, val);
    if (label_name_valid(t.data, t.len)) {
        expand(&res, replacement(r), r->code, md, val);
        set_label(ls, t.data, res.data);
    }
    ebuf_free(&t);
    ebuf_free(&res);
}

static void do_case(const relabel_rule *r, labelset *ls, const char *val)
{
    char *v = em_strdup(val);
    for (char *p = v; *p; p++)
        *p = (char)(r->action == RELABEL_LOWERCASE ? tolower((unsigned char)*p)
                                                   : toupper((unsigned char)*p));
    set_label(ls, target(r), v);
    free(v);
}

static void do_hashmod(const relabel_rule *r, labelset *ls, const char *val)
{
    uint8_t sum[16];
    md5_digest(val, strlen(val), sum);
    uint64_t x = 0;
    for (int i = 8; i < 16; i++)
        x = x << 8 | sum[i];
    char num[24];
    snprintf(num, sizeof num, "%llu", (unsigned long long)(x % r->modulus));
    set_label(ls, target(r), num);
}

/* labelmap, labeldrop, labelkeep: over the names as they were before the rule. */
static void do_names(const relabel_rule *r, labelset *ls, pcre2_match_data *md)
{
    labelset before;
    labels_copy(&before, ls);
    for (size_t i = 0; i < before.n; i++) {
        const char *name = before.v[i].name;
        bool m = rule_match(r, name, md);
        if (r->action == RELABEL_LABELMAP && m) {
            ebuf res;
            ebuf_init(&res);
            expand(&res, replacement(r), r->code, md, name);
            set_label(ls, res.data, before.v[i].value);
            ebuf_free(&res);
        } else if ((r->action == RELABEL_LABELDROP && m) ||
                   (r->action == RELABEL_LABELKEEP && !m)) {
            labels_del(ls, name);
        }
    }
    labels_free(&before);
}

static bool apply_one(const relabel_rule *r, labelset *ls, pcre2_match_data *md)
{
    ebuf val;
    ebuf_init(&val);
    join_sources(&val, r, ls);
    bool keep = true;
    const char *t = labels_get(ls, target(r));
    switch (r->action) {
    case RELABEL_DROP: keep = !rule_match(r, val.data, md); break;
    case RELABEL_KEEP: keep = rule_match(r, val.data, md); break;
    case RELABEL_DROPEQUAL: keep = strcmp(t ? t : "", val.data) != 0; break;
    case RELABEL_KEEPEQUAL: keep = strcmp(t ? t : "", val.data) == 0; break;
    case RELABEL_REPLACE: do_replace(r, ls, val.data, md); break;
    case RELABEL_LOWERCASE:
    case RELABEL_UPPERCASE: do_case(r, ls, val.data); break;
    case RELABEL_HASHMOD: do_hashmod(r, ls, val.data); break;
    case RELABEL_LABELMAP:
    case RELABEL_LABELDROP:
    case RELABEL_LABELKEEP: do_names(r, ls, md); break;
    }
    ebuf_free(&val);
    return keep;
}

bool relabel_apply(const relabel_rules *rs, labelset *ls)
{
    bool keep = true;
    for (size_t i = 0; keep && i < rs->n; i++) {
        const relabel_rule *r = &rs->v[i];
        pcre2_match_data *md = pcre2_match_data_create_from_pattern(r->code, NULL);
        keep = apply_one(r, ls, md);
        pcre2_match_data_free(md);
    }
    labels_sort(ls);
    return keep && ls->n > 0;
}
