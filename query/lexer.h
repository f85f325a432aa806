/*
 * lexer.h — the PromQL lexer, token for token Prometheus 2.42's
 * promql/parser/lex.go.
 *
 * The lexer is a state machine over the raw query bytes, decoding UTF-8 the
 * way Go does (an invalid byte is U+FFFD of width 1).  It tracks the same
 * context Prometheus's does (open brace, open bracket, paren depth), because
 * PromQL's tokens depend on it: inside braces keywords are plain identifiers,
 * inside brackets a number must be a duration.  Errors are tokens too
 * (PQ_ERROR) carrying Prometheus's exact message; after an error or EOF the
 * lexer only returns PQ_EOF.
 *
 * Token positions are byte offsets into the input, as in Prometheus, so
 * "line:col" in error messages counts bytes.  lexer.c scans; token.c
 * names tokens (keywords, classes, Prometheus's desc()); quote.c holds the
 * Go-compatible string helpers (strconv.Quote, strutil.Unquote, %q on runes,
 * model.ParseDuration), declared here because the lexer, the parser and the
 * matcher printer are their only users.
 */
#ifndef EMBER_QUERY_LEXER_H
#define EMBER_QUERY_LEXER_H

#include "common/buf.h"

#include "query/matcher.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Token types; the ranges mirror lex.go so that desc() prints the same. */
typedef enum promql_token_type {
    PQ_EOF,
    PQ_ERROR,
    PQ_COMMENT,
    PQ_IDENTIFIER,
    PQ_METRIC_IDENTIFIER, /* an identifier containing ':' */
    PQ_STRING,            /* token text includes the quotes */
    PQ_NUMBER,            /* includes Inf and NaN, any case */
    PQ_DURATION,
    PQ_LEFT_PAREN,
    PQ_RIGHT_PAREN,
    PQ_LEFT_BRACE,
    PQ_RIGHT_BRACE,
    PQ_LEFT_BRACKET,
    PQ_RIGHT_BRACKET,
    PQ_COMMA,
    PQ_EQL, /* "=" in a matcher */
    PQ_COLON,

    PQ_OPERATORS_START,
    PQ_ADD,
    PQ_SUB,
    PQ_MUL,
    PQ_DIV,
    PQ_MOD,
    PQ_POW,
    PQ_EQLC, /* "==" */
    PQ_NEQ,
    PQ_LTE,
    PQ_LSS,
    PQ_GTE,
    PQ_GTR,
    PQ_EQL_REGEX,
    PQ_NEQ_REGEX,
    PQ_LAND,
    PQ_LOR,
    PQ_LUNLESS,
    PQ_ATAN2,
    PQ_AT,
    PQ_OPERATORS_END,

    PQ_AGGREGATORS_START,
    PQ_AVG,
    PQ_BOTTOMK,
    PQ_COUNT,
    PQ_COUNT_VALUES,
    PQ_GROUP,
    PQ_MAX,
    PQ_MIN,
    PQ_QUANTILE,
    PQ_STDDEV,
    PQ_STDVAR,
    PQ_SUM,
    PQ_TOPK,
    PQ_AGGREGATORS_END,

    PQ_KEYWORDS_START,
    PQ_BOOL,
    PQ_BY,
    PQ_GROUP_LEFT,
    PQ_GROUP_RIGHT,
    PQ_IGNORING,
    PQ_OFFSET,
    PQ_ON,
    PQ_WITHOUT,
    PQ_KEYWORDS_END,

    /* @ modifier preprocessors: keywords for the lexer, not for desc(). */
    PQ_START,
    PQ_END,
} promql_token_type;

typedef struct promql_token {
    promql_token_type type;
    size_t pos;      /* byte offset of the token in the input */
    size_t len;      /* its text is input[pos, pos + len) */
    const char *err; /* PQ_ERROR only: the message, owned by the lexer */
} promql_token;

typedef struct promql_lexer {
    const char *input;
    size_t len;
    size_t pos;   /* next byte to read */
    size_t start; /* start of the token being scanned */
    size_t width; /* bytes of the last rune read, for backup */
    int state;    /* the lexer state that runs next (lexer.c) */
    int paren_depth;
    bool brace_open, bracket_open, got_colon;
    int32_t string_open; /* quote rune of the string being read */
    char errmsg[200];
} promql_lexer;

void promql_lexer_init(promql_lexer *l, const char *input, size_t len);
/* Scan the next token, comments included (parsers skip PQ_COMMENT). */
void promql_lexer_next(promql_lexer *l, promql_token *tok);

bool promql_token_is_operator(promql_token_type t);
bool promql_token_is_aggregator(promql_token_type t);
bool promql_token_is_keyword(promql_token_type t);
/* Tokens the grammar accepts as a metric name (metric_identifier): plain
 * identifiers and the keywords Prometheus lets stand as names (by, offset, sum …). */
bool promql_token_names_metric(promql_token_type t);
/* The matcher type of a matching operator token (=, !=, =~, !~). */
bool promql_token_match_op(promql_token_type t, match_type *mt);
/* Keyword or aggregator token for an identifier (case-insensitive), or
 * PQ_IDENTIFIER if the word is none; "inf" and "nan" give PQ_NUMBER. */
promql_token_type promql_keyword_lookup(const char *word, size_t n);
/* Prometheus's Item.desc(), used in "unexpected ..." messages:
 * `identifier "foo"`, `"{"`, `<op:+>`, `<aggr:sum>`, `string "\"abc..."...`. */
void promql_token_desc(ebuf *out, const char *input, const promql_token *t);

/*
 * Decode the Go string literal s[0, n) including its quotes, as Prometheus's
 * strutil.Unquote: "..." and '...' with Go escapes (\xHH and \ooo give raw
 * bytes, \u and \U give UTF-8), `...` raw.  Appends to out; returns 0, or
 * -1 on a malformed literal (the lexer never produces one).
 */
int promql_unquote(const char *s, size_t n, ebuf *out);
/* Go's strconv.Quote: "..." with Go escapes, invalid UTF-8 bytes as \xHH. */
void promql_quote(ebuf *out, const char *s, size_t n);
/* Go's %q of a rune ('x', '\n', '\u00a0'); invalid runes print as '\ufffd'
 * does, i.e. the replacement character. */
void promql_quote_rune(ebuf *out, int32_t r);
/* Go's %#U of a rune: U+0071 'q', or U+000A alone when not printable. */
void promql_format_rune_U(ebuf *out, int32_t r);
/* Go's utf8.DecodeRuneInString: invalid or truncated input decodes as
 * U+FFFD of width 1; n == 0 gives width 0.  Returns the width. */
size_t promql_decode_rune(const char *s, size_t n, int32_t *r);

/*
 * Prometheus's model.ParseDuration ("1h30m", "5m", "100ms", "0"): units
 * y w d h m s ms, each at most once and in that order.  Returns 0, or -1
 * with Prometheus's message in err ("not a valid duration string: \"5hs\"").
 */
int promql_parse_duration(const char *s, size_t n, int64_t *ms, char *err, size_t errlen);

#endif
