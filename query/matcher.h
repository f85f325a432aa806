/*
 * matcher.h — label matchers: =, !=, =~, !~.
 *
 * Regexes are PCRE2, fully anchored like Prometheus's RE2 matchers
 * ("^(?:re)$"), compiled once per matcher.  As in Prometheus a missing label
 * matches as the empty string, so {foo=""} selects series without foo and
 * {foo=~".*"} matches every series.
 */
#ifndef EMBER_QUERY_MATCHER_H
#define EMBER_QUERY_MATCHER_H

#include "common/buf.h"
#include "common/labels.h"

#include <stdbool.h>
#include <stddef.h>

typedef enum match_type { MATCH_EQ, MATCH_NEQ, MATCH_RE, MATCH_NRE } match_type;

typedef struct label_matcher {
    match_type type;
    char *name;
    char *value;
    void *re;        /* pcre2_code * for MATCH_RE / MATCH_NRE */
    void *md;        /* pcre2_match_data * */
    bool *limit_hit; /* see matcher_limit_hit; shared by shallow copies */
} label_matcher;

const char *match_type_op(match_type t); /* "=", "!=", "=~", "!~" */
/* Returns 0, or -1 with err set (bad regex: PCRE2's message and offset). */
int matcher_init(label_matcher *m, match_type t, const char *name, const char *value, char *err,
                 size_t errlen);
void matcher_free(label_matcher *m);
bool matcher_matches(const label_matcher *m, const char *value); /* value NULL = absent */
bool matchers_match_labels(const label_matcher *ms, size_t n, const labelset *ls);
/*
 * Whether a regex match of m (or of a shallow copy) gave up on a PCRE2
 * limit (catastrophic backtracking) since m was made.  Such a match
 * counted as false, which may be wrong: whoever selected with m must fail
 * (the query engine does: "regex match limit exceeded").
 */
bool matcher_limit_hit(const label_matcher *m);
bool matchers_limit_hit(const label_matcher *ms, size_t n);
/* name="value" with the value escaped, as Prometheus prints matchers. */
void matcher_format(ebuf *out, const label_matcher *m);

#endif
