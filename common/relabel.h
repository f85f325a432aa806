/*
 * relabel.h — Prometheus 2.42's relabeling (model/relabel/relabel.go), for
 * relabel_configs (target labels) and metric_relabel_configs (series).
 *
 * A rule reads the values of source_labels joined with separator, matches
 * them against regex — fully anchored, "^(?:REGEX)$" as Prometheus does,
 * compiled with PCRE2 (RE2's syntax is, for what relabeling uses, a subset)
 * — and acts: replace, keep, drop, hashmod, labelmap, labeldrop, labelkeep,
 * lowercase, uppercase, keepequal, dropequal.  Replacement templates expand
 * $1, ${1}, $name and ${name} the way Go's Regexp.Expand does (so "$1x" is
 * the group named "1x", which is empty).  Setting a label to "" removes it.
 */
#ifndef EMBER_COMMON_RELABEL_H
#define EMBER_COMMON_RELABEL_H

#include "common/labels.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum relabel_action {
    RELABEL_REPLACE = 0,
    RELABEL_KEEP,
    RELABEL_DROP,
    RELABEL_HASHMOD,
    RELABEL_LABELMAP,
    RELABEL_LABELDROP,
    RELABEL_LABELKEEP,
    RELABEL_LOWERCASE,
    RELABEL_UPPERCASE,
    RELABEL_KEEPEQUAL,
    RELABEL_DROPEQUAL,
} relabel_action;

typedef struct relabel_rule {
    char **source_labels;
    size_t nsource;
    char *separator;    /* NULL: ";" */
    char *target_label; /* NULL: "" */
    char *regex;        /* NULL: "(.*)" */
    uint64_t modulus;
    char *replacement; /* NULL: "$1" */
    relabel_action action;
    void *code; /* compiled regex (pcre2_code), set by relabel_rule_compile */
    void *mctx; /* its match limit (pcre2_match_context) */
} relabel_rule;

typedef struct relabel_rules {
    relabel_rule *v;
    size_t n, cap;
} relabel_rules;

bool relabel_action_parse(const char *s, relabel_action *a); /* "labelmap" → ... */
const char *relabel_action_name(relabel_action a);

/*
 * Check the rule as Prometheus's Config.Validate does and compile its
 * regex; -1 with err ("relabel configuration for hashmod requires non-zero
 * modulus").  The rule's strings are its own (freed by relabel_rule_free).
 */
int relabel_rule_compile(relabel_rule *r, char *err, size_t errlen);
void relabel_rule_free(relabel_rule *r);

/* An empty rule list to push compiled rules onto; the list owns them. */
void relabel_rules_init(relabel_rules *rs);
relabel_rule *relabel_rules_push(relabel_rules *rs); /* zeroed, action replace */
void relabel_rules_free(relabel_rules *rs);

/*
 * Apply the rules in order to ls (sorted on return).  false: a keep, drop,
 * keepequal or dropequal rule dropped it, or no label is left; ls is then
 * unspecified.
 */
bool relabel_apply(const relabel_rules *rs, labelset *ls);

#endif
