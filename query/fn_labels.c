/*
 * fn_labels.c — label_replace() and label_join() on one label set, as
 * Prometheus 2.42's funcLabelReplace / funcLabelJoin do it.
 *
 * label_replace compiles its regex through the label matcher (matcher.c),
 * so that it is anchored and limited exactly like a =~ matcher, and expands
 * the replacement with Go's Regexp.Expand rules: "$$" is a dollar, "$name"
 * takes the longest run of letters, digits and '_', "${name}" is braced, an
 * all-digit name (no leading zero) is a group number, anything malformed
 * keeps the "$" as text, and an unknown or unset group expands to "".
 * A replacer holds PCRE2 match data, so one must not be used by two threads
 * at once.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "query/functions.h"

#include "common/buf.h"
#include "common/mem.h"
#include "query/matcher.h"

#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct promql_label_replacer {
    label_matcher m; /* MATCH_RE on src: the compiled "^(?:re)$" */
    char *dst, *repl;
    pcre2_code *name_re; /* one Go "name" character run: [\p{L}\p{Nd}_]+ */
    pcre2_match_data *name_md;
    uint32_t ngroups;
};

promql_label_replacer *promql_label_replacer_new(const char *dst, const char *repl, const char *src,
                                                 const char *regex, char *err, size_t errlen)
{
    promql_label_replacer *r = em_calloc(1, sizeof(*r));
    char rerr[256];
    if (matcher_init(&r->m, MATCH_RE, src, regex, rerr, sizeof(rerr)) < 0) {
        snprintf(err, errlen, "invalid regular expression in label_replace(): %s", regex);
        free(r);
        return NULL;
    }
    if (!label_name_valid(dst, strlen(dst))) {
        snprintf(err, errlen, "invalid destination label name in label_replace(): %s", dst);
        matcher_free(&r->m);
        free(r);
        return NULL;
    }
    r->dst = em_strdup(dst);
    r->repl = em_strdup(repl);
    pcre2_pattern_info(r->m.re, PCRE2_INFO_CAPTURECOUNT, &r->ngroups);
    int code;
    PCRE2_SIZE off;
    r->name_re =
        pcre2_compile((PCRE2_SPTR) "[\\p{L}\\p{Nd}_]+", PCRE2_ZERO_TERMINATED,
                      PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_ANCHORED, &code, &off, NULL);
    if (!r->name_re)
        abort(); /* a constant pattern: only out of memory can fail */
    r->name_md = pcre2_match_data_create_from_pattern(r->name_re, NULL);
    if (!r->name_md)
        abort();
    return r;
}

void promql_label_replacer_free(promql_label_replacer *r)
{
    if (!r)
        return;
    matcher_free(&r->m);
    pcre2_match_data_free(r->name_md);
    pcre2_code_free(r->name_re);
    free(r->dst);
    free(r->repl);
    free(r);
}

/* Length of the Go "name" (letters, digits, '_') at s, 0 if none. */
static size_t name_len(const promql_label_replacer *r, const char *s)
{
    if (pcre2_match(r->name_re, (PCRE2_SPTR)s, strlen(s), 0, 0, r->name_md, NULL) < 0)
        return 0;
    return pcre2_get_ovector_pointer(r->name_md)[1];
}

/* Group number of name as Go's extract() reads it, or -1 for a name. */
static long group_number(const char *name, size_t n)
{
    long num = 0;
    for (size_t i = 0; i < n; i++) {
        if (name[i] < '0' || name[i] > '9' || num >= 100000000)
            return -1;
        num = num * 10 + (name[i] - '0');
    }
    return name[0] == '0' && n > 1 ? -1 : num;
}

/* Append group (number, or name when num < 0) of the last match. */
static void put_group(const promql_label_replacer *r, ebuf *out, const char *subject,
                      const char *name, size_t n, long num)
{
    if (num < 0) {
        char *z = em_strndup(name, n);
        int rc = pcre2_substring_number_from_name(r->m.re, (PCRE2_SPTR)z);
        free(z);
        if (rc <= 0)
            return;
        num = rc;
    }
    if ((unsigned long)num > r->ngroups)
        return;
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(r->m.md);
    if (ov[2 * num] == PCRE2_UNSET)
        return;
    ebuf_append(out, subject + ov[2 * num], ov[2 * num + 1] - ov[2 * num]);
}

/* Regexp.Expand(template = r->repl) against the last match on subject. */
static void expand(const promql_label_replacer *r, ebuf *out, const char *subject)
{
    const char *t = r->repl;
    for (;;) {
        const char *dollar = strchr(t, '$');
        if (!dollar)
            break;
        ebuf_append(out, t, (size_t)(dollar - t));
        t = dollar + 1;
        if (*t == '$') {
            ebuf_putc(out, '$');
            t++;
            continue;
        }
        bool brace = *t == '{';
        const char *name = brace ? t + 1 : t;
        size_t n = name_len(r, name);
        if (n == 0 || (brace && name[n] != '}')) {
            ebuf_putc(out, '$'); /* malformed: the "$" is plain text */
            continue;
        }
        put_group(r, out, subject, name, n, group_number(name, n));
        t = name + n + (brace ? 1 : 0);
    }
    ebuf_puts(out, t);
}

static bool match_src(const promql_label_replacer *r, const char *v)
{
    size_t len = strlen(v);
    int rc = pcre2_match(r->m.re, (PCRE2_SPTR)v, len, 0, 0, r->m.md, NULL);
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT)
        rc = pcre2_match(r->m.re, (PCRE2_SPTR)v, len, 0, PCRE2_NO_JIT, r->m.md, NULL);
    return rc >= 0;
}

void promql_label_replacer_apply(const promql_label_replacer *r, labelset *ls)
{
    const char *v = labels_get(ls, r->m.name);
    char *src = em_strdup(v ? v : "");
    if (match_src(r, src)) {
        ebuf res;
        ebuf_init(&res);
        expand(r, &res, src);
        labels_del(ls, r->dst);
        if (res.len > 0)
            labels_set(ls, r->dst, res.data);
        ebuf_free(&res);
    }
    free(src);
}

bool promql_label_join_check(const char *dst, const char *const *srcs, size_t nsrcs, char *err,
                             size_t errlen)
{
    for (size_t i = 0; i < nsrcs; i++) {
        if (!label_name_valid(srcs[i], strlen(srcs[i]))) {
            snprintf(err, errlen, "invalid source label name in label_join(): %s", srcs[i]);
            return false;
        }
    }
    if (!label_name_valid(dst, strlen(dst))) {
        snprintf(err, errlen, "invalid destination label name in label_join(): %s", dst);
        return false;
    }
    return true;
}

void promql_label_join_apply(labelset *ls, const char *dst, const char *sep,
                             const char *const *srcs, size_t nsrcs)
{
    ebuf joined;
    ebuf_init(&joined);
    for (size_t i = 0; i < nsrcs; i++) {
        const char *v = labels_get(ls, srcs[i]);
        if (i > 0)
            ebuf_puts(&joined, sep);
        ebuf_puts(&joined, v ? v : "");
    }
    if (joined.len == 0)
        labels_del(ls, dst);
    else
        labels_set(ls, dst, joined.data);
    ebuf_free(&joined);
}
