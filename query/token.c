/*
 * token.c — what PromQL tokens are called: the keyword table (keywords are
 * case-insensitive, "inf" and "nan" are numbers), the token classes, and
 * Prometheus's Item.desc(), which every "unexpected ..." message is made of.
 *
 * desc() is reproduced quirks included: ItemTypeStr has entries for
 * punctuation, operators and keywords but not for "@" in 2.42, so an
 * unexpected "@" prints as "\"<Item 57385>\" <op:@>", exactly as Prometheus
 * prints it; strings longer than ten bytes are cut to ten runes and always
 * get "...".
 */
#include "query/lexer.h"

#include <stddef.h>

bool promql_token_is_operator(promql_token_type t)
{
    return t > PQ_OPERATORS_START && t < PQ_OPERATORS_END;
}

bool promql_token_is_aggregator(promql_token_type t)
{
    return t > PQ_AGGREGATORS_START && t < PQ_AGGREGATORS_END;
}

bool promql_token_is_keyword(promql_token_type t)
{
    return t > PQ_KEYWORDS_START && t < PQ_KEYWORDS_END;
}

bool promql_token_names_metric(promql_token_type t)
{
    switch (t) {
    case PQ_IDENTIFIER:
    case PQ_METRIC_IDENTIFIER:
    case PQ_BY:
    case PQ_WITHOUT:
    case PQ_OFFSET:
    case PQ_LAND:
    case PQ_LOR:
    case PQ_LUNLESS:
    case PQ_START:
    case PQ_END: return true;
    default: return promql_token_is_aggregator(t);
    }
}

bool promql_token_match_op(promql_token_type t, match_type *mt)
{
    switch (t) {
    case PQ_EQL: *mt = MATCH_EQ; return true;
    case PQ_NEQ: *mt = MATCH_NEQ; return true;
    case PQ_EQL_REGEX: *mt = MATCH_RE; return true;
    case PQ_NEQ_REGEX: *mt = MATCH_NRE; return true;
    default: return false;
    }
}

static const struct {
    const char *word;
    promql_token_type t;
} keywords[] = {
    {"and", PQ_LAND},
    {"or", PQ_LOR},
    {"unless", PQ_LUNLESS},
    {"atan2", PQ_ATAN2},
    {"sum", PQ_SUM},
    {"avg", PQ_AVG},
    {"count", PQ_COUNT},
    {"min", PQ_MIN},
    {"max", PQ_MAX},
    {"group", PQ_GROUP},
    {"stddev", PQ_STDDEV},
    {"stdvar", PQ_STDVAR},
    {"topk", PQ_TOPK},
    {"bottomk", PQ_BOTTOMK},
    {"count_values", PQ_COUNT_VALUES},
    {"quantile", PQ_QUANTILE},
    {"offset", PQ_OFFSET},
    {"by", PQ_BY},
    {"without", PQ_WITHOUT},
    {"on", PQ_ON},
    {"ignoring", PQ_IGNORING},
    {"group_left", PQ_GROUP_LEFT},
    {"group_right", PQ_GROUP_RIGHT},
    {"bool", PQ_BOOL},
    {"start", PQ_START},
    {"end", PQ_END},
    {"inf", PQ_NUMBER},
    {"nan", PQ_NUMBER},
};

#define NKEYWORDS (sizeof(keywords) / sizeof(keywords[0]))

static bool word_equal_fold(const char *word, size_t n, const char *lower)
{
    for (size_t i = 0; i < n; i++) {
        char ch = word[i];
        if (ch >= 'A' && ch <= 'Z')
            ch = (char)(ch - 'A' + 'a');
        if (lower[i] == '\0' || ch != lower[i])
            return false;
    }
    return lower[n] == '\0';
}

promql_token_type promql_keyword_lookup(const char *word, size_t n)
{
    for (size_t i = 0; i < NKEYWORDS; i++)
        if (word_equal_fold(word, n, keywords[i].word))
            return keywords[i].t;
    return PQ_IDENTIFIER;
}

/* ItemTypeStr: the fixed text of punctuation, operators and keywords. */
static const char *token_type_str(promql_token_type t)
{
    static const struct {
        promql_token_type t;
        const char *s;
    } fixed[] = {
        {PQ_LEFT_PAREN, "("},  {PQ_RIGHT_PAREN, ")"},  {PQ_LEFT_BRACE, "{"},
        {PQ_RIGHT_BRACE, "}"}, {PQ_LEFT_BRACKET, "["}, {PQ_RIGHT_BRACKET, "]"},
        {PQ_COMMA, ","},       {PQ_EQL, "="},          {PQ_COLON, ":"},
        {PQ_SUB, "-"},         {PQ_ADD, "+"},          {PQ_MUL, "*"},
        {PQ_MOD, "%"},         {PQ_DIV, "/"},          {PQ_EQLC, "=="},
        {PQ_NEQ, "!="},        {PQ_LTE, "<="},         {PQ_LSS, "<"},
        {PQ_GTE, ">="},        {PQ_GTR, ">"},          {PQ_EQL_REGEX, "=~"},
        {PQ_NEQ_REGEX, "!~"},  {PQ_POW, "^"},
    };
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
        if (fixed[i].t == t)
            return fixed[i].s;
    for (size_t i = 0; i < NKEYWORDS; i++)
        if (keywords[i].t == t && t != PQ_NUMBER)
            return keywords[i].word;
    return NULL;
}

/* Go's Item.String(). */
static void token_string(ebuf *out, const char *text, size_t n, promql_token_type t)
{
    if (t == PQ_IDENTIFIER || t == PQ_METRIC_IDENTIFIER) {
        promql_quote(out, text, n);
    } else if (promql_token_is_keyword(t)) {
        ebuf_printf(out, "<%.*s>", (int)n, text);
    } else if (promql_token_is_operator(t)) {
        ebuf_printf(out, "<op:%.*s>", (int)n, text);
    } else if (promql_token_is_aggregator(t)) {
        ebuf_printf(out, "<aggr:%.*s>", (int)n, text);
    } else if (n > 10) {
        /* %.10q: the first ten runes, quoted, then "...". */
        size_t cut = 0;
        for (int runes = 0; runes < 10 && cut < n; runes++) {
            int32_t r;
            cut += promql_decode_rune(text + cut, n - cut, &r);
        }
        /* Go tests len() in bytes, so "..." follows even when all runes fit. */
        promql_quote(out, text, cut);
        ebuf_puts(out, "...");
    } else {
        promql_quote(out, text, n);
    }
}

static const char *token_type_desc(promql_token_type t)
{
    switch (t) {
    case PQ_ERROR: return "error";
    case PQ_EOF: return "end of input";
    case PQ_COMMENT: return "comment";
    case PQ_IDENTIFIER: return "identifier";
    case PQ_METRIC_IDENTIFIER: return "metric identifier";
    case PQ_STRING: return "string";
    case PQ_NUMBER: return "number";
    case PQ_DURATION: return "duration";
    default: return NULL;
    }
}

void promql_token_desc(ebuf *out, const char *input, const promql_token *t)
{
    const char *text = input + t->pos;
    if (t->type == PQ_ERROR) {
        ebuf_puts(out, t->err);
    } else if (t->type == PQ_EOF) {
        ebuf_puts(out, "end of input");
    } else if (token_type_str(t->type)) {
        token_string(out, text, t->len, t->type);
    } else if (token_type_desc(t->type)) {
        ebuf_printf(out, "%s ", token_type_desc(t->type));
        token_string(out, text, t->len, t->type);
    } else {
        /* '@' has no ItemTypeStr entry in 2.42, so Go prints its number. */
        ebuf_puts(out, "\"<Item 57385>\" ");
        token_string(out, text, t->len, t->type);
    }
}
