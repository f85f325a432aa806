/*
 * matcher.c — label matchers (=, !=, =~, !~) with PCRE2 standing in for
 * Prometheus's RE2.
 *
 * Prometheus 2.42 compiles "^(?:" + re + ")$" with Go's regexp, which has
 * two consequences we reproduce (both checked against Prometheus 2.42 with
 * promtool): "." does not match a newline (no PCRE2_DOTALL), and "$" only
 * matches at the very end, never before a final newline
 * (PCRE2_DOLLAR_ENDONLY).  Prometheus also parses the bare re on its own, so
 * "a)|(b", which would escape the group once wrapped, is an error; we do the
 * same by compiling the bare pattern first.  As a last guard the wrapped
 * pattern is compiled ANCHORED|ENDANCHORED, so backtracking verbs such as
 * (*ACCEPT) cannot end a match early.
 *
 * RE2 runs in linear time; PCRE2 backtracks, so every compiled pattern
 * carries a match limit, a depth limit and a heap limit ((*LIMIT_MATCH=...)
 * in front of the pattern, so no shared match context is needed).  A match
 * that hits a limit has no answer: matcher_matches returns false and the
 * matcher remembers it (matcher_limit_hit), so the query fails with an
 * error instead of silently missing series — RE2 would have answered.  A
 * JIT stack overflow is first retried on the interpreter.  JIT is used when
 * PCRE2 has it and silently skipped when not.  The match data lives in the
 * matcher, so one matcher must not be used by two threads at once.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "query/matcher.h"

#include "common/mem.h"
#include "query/lexer.h"

#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Limits every match runs under: far above what any sane label regex
 * needs, far below what a catastrophic one would take. */
#define REGEX_LIMITS "(*LIMIT_MATCH=1000000)(*LIMIT_DEPTH=100000)(*LIMIT_HEAP=65536)"

const char *match_type_op(match_type t)
{
    switch (t) {
    case MATCH_EQ: return "=";
    case MATCH_NEQ: return "!=";
    case MATCH_RE: return "=~";
    case MATCH_NRE: return "!~";
    }
    return "?";
}

/* "error parsing regexp: <PCRE2 message> at offset N: `pattern`" */
static void regex_error(char *err, size_t errlen, int code, size_t offset, const char *pattern)
{
    PCRE2_UCHAR msg[256];
    if (pcre2_get_error_message(code, msg, sizeof(msg)) < 0)
        snprintf((char *)msg, sizeof(msg), "error %d", code);
    snprintf(err, errlen, "error parsing regexp: %s at offset %zu: `%s`", (char *)msg, offset,
             pattern);
}

/*
 * Compile limits + pattern; on error report the offset within pattern, as
 * the user would count it (the limits are ours, not the user's).
 */
static pcre2_code *regex_compile(const char *limits, const char *pattern, uint32_t extra, char *err,
                                 size_t errlen)
{
    /* UTF with invalid-subject support: label values should be UTF-8, but a
     * bad one must not make the match error out. */
    uint32_t opts = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_DOLLAR_ENDONLY |
                    PCRE2_NEVER_BACKSLASH_C | extra;
    size_t nl = strlen(limits), np = strlen(pattern);
    char *full = em_malloc(nl + np + 1);
    memcpy(full, limits, nl);
    memcpy(full + nl, pattern, np + 1);
    int code;
    PCRE2_SIZE offset;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)full, nl + np, opts, &code, &offset, NULL);
    free(full);
    if (!re)
        regex_error(err, errlen, code, offset > nl ? (size_t)offset - nl : 0, pattern);
    return re;
}

static int matcher_compile(label_matcher *m, char *err, size_t errlen)
{
    /* The bare pattern must stand on its own, as in Prometheus. */
    pcre2_code *bare = regex_compile("", m->value, 0, err, errlen);
    if (!bare)
        return -1;
    pcre2_code_free(bare);

    size_t n = strlen(m->value);
    char *wrapped = em_malloc(n + 7);
    memcpy(wrapped, "^(?:", 4);
    memcpy(wrapped + 4, m->value, n);
    memcpy(wrapped + 4 + n, ")$", 3);
    pcre2_code *re =
        regex_compile(REGEX_LIMITS, wrapped, PCRE2_ANCHORED | PCRE2_ENDANCHORED, err, errlen);
    free(wrapped);
    if (!re)
        return -1;
    (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* optional speed-up */
    m->re = re;
    m->md = pcre2_match_data_create_from_pattern(re, NULL);
    if (!m->md)
        abort(); /* out of memory, as em_malloc would */
    /* On the heap so that shallow copies (the engine makes some) share it. */
    m->limit_hit = em_calloc(1, sizeof *m->limit_hit);
    return 0;
}

int matcher_init(label_matcher *m, match_type t, const char *name, const char *value, char *err,
                 size_t errlen)
{
    m->type = t;
    m->name = em_strdup(name);
    m->value = em_strdup(value);
    m->re = NULL;
    m->md = NULL;
    m->limit_hit = NULL;
    if ((t == MATCH_RE || t == MATCH_NRE) && matcher_compile(m, err, errlen) < 0) {
        matcher_free(m);
        return -1;
    }
    return 0;
}

void matcher_free(label_matcher *m)
{
    free(m->name);
    free(m->value);
    if (m->md)
        pcre2_match_data_free(m->md);
    free(m->limit_hit);
    m->limit_hit = NULL;
    if (m->re)
        pcre2_code_free(m->re);
    m->name = m->value = NULL;
    m->re = m->md = NULL;
}

static bool regex_matches(const label_matcher *m, const char *value)
{
    size_t len = strlen(value);
    int rc = pcre2_match(m->re, (PCRE2_SPTR)value, len, 0, 0, m->md, NULL);
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT)
        rc = pcre2_match(m->re, (PCRE2_SPTR)value, len, 0, PCRE2_NO_JIT, m->md, NULL);
    if (m->limit_hit && (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT ||
                         rc == PCRE2_ERROR_HEAPLIMIT || rc == PCRE2_ERROR_JIT_STACKLIMIT))
        *m->limit_hit = true;
    return rc >= 0;
}

bool matcher_limit_hit(const label_matcher *m)
{
    return m->limit_hit && *m->limit_hit;
}

bool matchers_limit_hit(const label_matcher *ms, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (matcher_limit_hit(&ms[i]))
            return true;
    return false;
}

bool matcher_matches(const label_matcher *m, const char *value)
{
    if (!value)
        value = ""; /* a missing label matches as the empty string */
    switch (m->type) {
    case MATCH_EQ: return strcmp(value, m->value) == 0;
    case MATCH_NEQ: return strcmp(value, m->value) != 0;
    case MATCH_RE: return regex_matches(m, value);
    case MATCH_NRE: return !regex_matches(m, value);
    }
    return false;
}

bool matchers_match_labels(const label_matcher *ms, size_t n, const labelset *ls)
{
    for (size_t i = 0; i < n; i++)
        if (!matcher_matches(&ms[i], labels_get(ls, ms[i].name)))
            return false;
    return true;
}

void matcher_format(ebuf *out, const label_matcher *m)
{
    ebuf_puts(out, m->name);
    ebuf_puts(out, match_type_op(m->type));
    promql_quote(out, m->value, strlen(m->value));
}
