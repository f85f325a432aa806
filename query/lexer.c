/*
 * lexer.c — PromQL tokens, a state machine transcribed from Prometheus
 * 2.42's lex.go (see lexer.h for the contract).
 *
 * Each lex_* function below is one of Go's state functions: it consumes
 * input, may emit a token, and returns the state to run next.  Keeping the
 * same shape as lex.go is deliberate: PromQL's lexing has many small quirks
 * (a letter after a duration inside brackets is a colon token, "1e" is a
 * number, a literal U+FFFD in a string is an "invalid UTF-8 rune") and
 * matching Prometheus's error messages byte for byte is only practical when
 * the code paths are the same.
 */
#include "query/lexer.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define LEX_EOF (-1)
#define RUNE_ERROR 0xfffd

enum lex_state {
    LS_DONE, /* Go's nil state: only EOF from here on */
    LS_STATEMENTS,
    LS_INSIDE_BRACES,
    LS_STRING,
    LS_RAW_STRING,
    LS_SPACE,
    LS_LINE_COMMENT,
    LS_NUMBER_OR_DURATION,
    LS_DURATION,
    LS_KEYWORD_OR_IDENTIFIER,
    LS_IDENTIFIER,
};

/* Per-call scratch: where the token goes and whether one was produced. */
typedef struct lex_call {
    promql_lexer *l;
    promql_token *tok;
    bool scanned;
} lex_call;

/* ---- rune reading, as Go's next/peek/backup ---- */

static int32_t lex_next(promql_lexer *l)
{
    if (l->pos >= l->len) {
        l->width = 0;
        return LEX_EOF;
    }
    int32_t r;
    l->width = promql_decode_rune(l->input + l->pos, l->len - l->pos, &r);
    l->pos += l->width;
    return r;
}

static void lex_backup(promql_lexer *l)
{
    l->pos -= l->width;
}

static int32_t lex_peek(promql_lexer *l)
{
    int32_t r = lex_next(l);
    lex_backup(l);
    return r;
}

static bool rune_in(int32_t r, const char *set)
{
    return r > 0 && r < 0x80 && strchr(set, (int)r) != NULL;
}

static bool lex_accept(promql_lexer *l, const char *valid)
{
    if (rune_in(lex_next(l), valid))
        return true;
    lex_backup(l);
    return false;
}

static void lex_accept_run(promql_lexer *l, const char *valid)
{
    while (rune_in(lex_next(l), valid))
        ;
    lex_backup(l);
}

static bool is_space(int32_t r)
{
    return r == ' ' || r == '\t' || r == '\n' || r == '\r';
}

static bool is_alpha(int32_t r)
{
    return r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z');
}

static bool is_digit(int32_t r)
{
    return r >= '0' && r <= '9';
}

static bool is_alnum(int32_t r)
{
    return is_alpha(r) || is_digit(r);
}

/* ---- emitting tokens and errors ---- */

static void lex_emit(lex_call *c, promql_token_type t)
{
    promql_lexer *l = c->l;
    c->tok->type = t;
    c->tok->pos = l->start;
    c->tok->len = l->pos - l->start;
    c->tok->err = NULL;
    l->start = l->pos;
    c->scanned = true;
}

static void lex_ignore(promql_lexer *l)
{
    l->start = l->pos;
}

/* Go's errorf: an error token at the start of the current token, then the
 * lexer stops (the parser reports only the first error anyway). */
static enum lex_state lex_errorf(lex_call *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static enum lex_state lex_errorf(lex_call *c, const char *fmt, ...)
{
    promql_lexer *l = c->l;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(l->errmsg, sizeof(l->errmsg), fmt, ap);
    va_end(ap);
    c->tok->type = PQ_ERROR;
    c->tok->pos = l->start;
    c->tok->len = l->pos - l->start;
    c->tok->err = l->errmsg;
    c->scanned = true;
    return LS_DONE;
}

/* Errors that quote a rune with %q; the rune text is built with ebuf. */
static enum lex_state lex_error_rune(lex_call *c, const char *prefix, int32_t r)
{
    ebuf b;
    ebuf_init(&b);
    promql_quote_rune(&b, r);
    enum lex_state s = lex_errorf(c, "%s%s", prefix, b.data);
    ebuf_free(&b);
    return s;
}

/* "%q" of the current token text, for the number and duration errors. */
static enum lex_state lex_error_text(lex_call *c, const char *prefix)
{
    promql_lexer *l = c->l;
    ebuf b;
    ebuf_init(&b);
    promql_quote(&b, l->input + l->start, l->pos - l->start);
    enum lex_state s = lex_errorf(c, "%s%s", prefix, b.data);
    ebuf_free(&b);
    return s;
}

/* ---- numbers and durations ---- */

/*
 * Go's scanNumber (2.42): decimal, hex or float, not validated (the parser
 * does that).  Note it accepts an empty run, which is why "foo[" reports a
 * missing duration unit.
 */
static bool lex_scan_number(promql_lexer *l)
{
    const char *digits = "0123456789";
    if (lex_accept(l, "0") && lex_accept(l, "xX"))
        digits = "0123456789abcdefABCDEF";
    lex_accept_run(l, digits);
    if (lex_accept(l, "."))
        lex_accept_run(l, digits);
    if (lex_accept(l, "eE")) {
        lex_accept(l, "+-");
        lex_accept_run(l, "0123456789");
    }
    return !is_alnum(lex_peek(l));
}

/* Units after the leading number of a duration; consumes one rune past it,
 * which the caller backs up. */
static bool lex_accept_remaining_duration(promql_lexer *l)
{
    if (!lex_accept(l, "smhdwy"))
        return false;
    lex_accept(l, "s"); /* "ms"; bad pairs like "hs" fail in ParseDuration */
    while (lex_accept(l, "0123456789")) {
        lex_accept_run(l, "0123456789");
        if (!lex_accept(l, "smhdw")) /* y must come first */
            return false;
        lex_accept(l, "s");
    }
    return !is_alnum(lex_next(l));
}

static enum lex_state lex_number_or_duration(lex_call *c)
{
    promql_lexer *l = c->l;
    if (lex_scan_number(l)) {
        lex_emit(c, PQ_NUMBER);
        return LS_STATEMENTS;
    }
    if (lex_accept_remaining_duration(l)) {
        lex_backup(l);
        lex_emit(c, PQ_DURATION);
        return LS_STATEMENTS;
    }
    return lex_error_text(c, "bad number or duration syntax: ");
}

/* Right after '[': only a duration may follow. */
static enum lex_state lex_duration(lex_call *c)
{
    promql_lexer *l = c->l;
    if (lex_scan_number(l))
        return lex_errorf(c, "missing unit character in duration");
    if (!lex_accept_remaining_duration(l))
        return lex_error_text(c, "bad duration syntax: ");
    lex_backup(l);
    lex_emit(c, PQ_DURATION);
    return LS_STATEMENTS;
}

/* ---- identifiers ---- */

static enum lex_state lex_keyword_or_identifier(lex_call *c)
{
    promql_lexer *l = c->l;
    int32_t r;
    while ((r = lex_next(l)) != LEX_EOF && (is_alnum(r) || r == ':'))
        ;
    lex_backup(l);
    const char *word = l->input + l->start;
    size_t n = l->pos - l->start;
    promql_token_type kw = promql_keyword_lookup(word, n);
    if (kw == PQ_IDENTIFIER && memchr(word, ':', n))
        kw = PQ_METRIC_IDENTIFIER;
    lex_emit(c, kw);
    return LS_STATEMENTS;
}

/* Inside braces: label names, never keywords and never with ':'. */
static enum lex_state lex_identifier(lex_call *c)
{
    promql_lexer *l = c->l;
    while (is_alnum(lex_next(l)))
        ;
    lex_backup(l);
    lex_emit(c, PQ_IDENTIFIER);
    return LS_STATEMENTS;
}

/* ---- strings ---- */

static int digit_val(int32_t ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return 16;
}

/* Error text for an escape digit that is not one: Go's %#U of it. */
static enum lex_state lex_escape_bad_digit(lex_call *c, int32_t ch)
{
    if (ch == LEX_EOF)
        return lex_errorf(c, "escape sequence not terminated");
    ebuf b;
    ebuf_init(&b);
    promql_format_rune_U(&b, ch);
    enum lex_state s = lex_errorf(c, "illegal character %s in escape sequence", b.data);
    ebuf_free(&b);
    return s;
}

/*
 * Go's lexEscape (adapted from go/scanner): the backslash has been read.
 * Returns LS_STRING to go on, or LS_DONE after an error.
 */
static enum lex_state lex_escape(lex_call *c)
{
    promql_lexer *l = c->l;
    int n;
    uint32_t base, max;
    int32_t ch = lex_next(l);
    if (ch == l->string_open || rune_in(ch, "abfnrtv\\"))
        return LS_STRING;
    if (ch >= '0' && ch <= '7') {
        n = 3, base = 8, max = 255;
    } else if (ch == 'x') {
        ch = lex_next(l), n = 2, base = 16, max = 255;
    } else if (ch == 'u') {
        ch = lex_next(l), n = 4, base = 16, max = 0x10ffff;
    } else if (ch == 'U') {
        ch = lex_next(l), n = 8, base = 16, max = 0x10ffff;
    } else if (ch == LEX_EOF) {
        return lex_errorf(c, "escape sequence not terminated");
    } else {
        ebuf b;
        ebuf_init(&b);
        promql_format_rune_U(&b, ch);
        enum lex_state s = lex_errorf(c, "unknown escape sequence %s", b.data);
        ebuf_free(&b);
        return s;
    }
    uint32_t x = 0;
    while (n > 0) {
        uint32_t d = (uint32_t)digit_val(ch);
        if (d >= base)
            return lex_escape_bad_digit(c, ch);
        x = x * base + d;
        if (--n > 0)
            ch = lex_next(l);
    }
    if (x > max || (x >= 0xd800 && x < 0xe000))
        return lex_errorf(c, "escape sequence is an invalid Unicode code point");
    return LS_STRING;
}

static enum lex_state lex_string(lex_call *c)
{
    promql_lexer *l = c->l;
    for (;;) {
        int32_t r = lex_next(l);
        if (r == '\\') {
            if (lex_escape(c) == LS_DONE)
                return LS_DONE;
        } else if (r == RUNE_ERROR) {
            /* As in Go, a literal U+FFFD is rejected along with bad bytes. */
            return lex_errorf(c, "invalid UTF-8 rune");
        } else if (r == LEX_EOF || r == '\n') {
            return lex_errorf(c, "unterminated quoted string");
        } else if (r == l->string_open) {
            break;
        }
    }
    lex_emit(c, PQ_STRING);
    return LS_STATEMENTS;
}

static enum lex_state lex_raw_string(lex_call *c)
{
    promql_lexer *l = c->l;
    for (;;) {
        int32_t r = lex_next(l);
        if (r == RUNE_ERROR)
            return lex_errorf(c, "invalid UTF-8 rune");
        if (r == LEX_EOF)
            return lex_errorf(c, "unterminated raw string");
        if (r == l->string_open)
            break;
    }
    lex_emit(c, PQ_STRING);
    return LS_STATEMENTS;
}

/* ---- space and comments ---- */

static enum lex_state lex_space(lex_call *c)
{
    promql_lexer *l = c->l;
    while (is_space(lex_peek(l)))
        lex_next(l);
    lex_ignore(l);
    return LS_STATEMENTS;
}

static enum lex_state lex_line_comment(lex_call *c)
{
    promql_lexer *l = c->l;
    l->pos += 1; /* the '#' */
    int32_t r;
    while ((r = lex_next(l)) != LEX_EOF && r != '\r' && r != '\n')
        ;
    lex_backup(l);
    lex_emit(c, PQ_COMMENT);
    return LS_STATEMENTS;
}

static bool at_comment(const promql_lexer *l)
{
    return l->pos < l->len && l->input[l->pos] == '#';
}

/* ---- inside { } ---- */

static enum lex_state lex_inside_braces(lex_call *c)
{
    promql_lexer *l = c->l;
    if (at_comment(l))
        return LS_LINE_COMMENT;
    int32_t r = lex_next(l);
    if (r == LEX_EOF)
        return lex_errorf(c, "unexpected end of input inside braces");
    if (is_space(r))
        return LS_SPACE;
    if (is_alpha(r)) {
        lex_backup(l);
        return LS_IDENTIFIER;
    }
    switch (r) {
    case ',': lex_emit(c, PQ_COMMA); break;
    case '"':
    case '\'': l->string_open = r; return LS_STRING;
    case '`': l->string_open = r; return LS_RAW_STRING;
    case '=':
        if (lex_next(l) == '~') {
            lex_emit(c, PQ_EQL_REGEX);
            break;
        }
        lex_backup(l);
        lex_emit(c, PQ_EQL);
        break;
    case '!': {
        int32_t nr = lex_next(l);
        if (nr == '~')
            lex_emit(c, PQ_NEQ_REGEX);
        else if (nr == '=')
            lex_emit(c, PQ_NEQ);
        else
            return lex_error_rune(c, "unexpected character after '!' inside braces: ", nr);
        break;
    }
    case '{': return lex_error_rune(c, "unexpected left brace ", r);
    case '}':
        lex_emit(c, PQ_RIGHT_BRACE);
        l->brace_open = false;
        return LS_STATEMENTS;
    default: return lex_error_rune(c, "unexpected character inside braces: ", r);
    }
    return LS_INSIDE_BRACES;
}

/* ---- top level ---- */

static enum lex_state lex_eof(lex_call *c)
{
    promql_lexer *l = c->l;
    if (l->paren_depth != 0)
        return lex_errorf(c, "unclosed left parenthesis");
    if (l->bracket_open)
        return lex_errorf(c, "unclosed left bracket");
    lex_emit(c, PQ_EOF);
    return LS_DONE;
}

/* "=", "==", "!=", "<", "<=", ">", ">=": the comparison operators. */
static enum lex_state lex_comparison(lex_call *c, int32_t r)
{
    promql_lexer *l = c->l;
    int32_t t = lex_peek(l);
    if (r == '!') {
        if (lex_next(l) != '=')
            return lex_error_rune(c, "unexpected character after '!': ", t);
        lex_emit(c, PQ_NEQ);
    } else if (r == '=' && t == '~') {
        return lex_error_rune(c, "unexpected character after '=': ", t);
    } else if (t == '=') {
        lex_next(l);
        lex_emit(c, r == '=' ? PQ_EQLC : r == '<' ? PQ_LTE : PQ_GTE);
    } else {
        lex_emit(c, r == '=' ? PQ_EQL : r == '<' ? PQ_LSS : PQ_GTR);
    }
    return LS_STATEMENTS;
}

/* A letter or ':' inside brackets is the subquery colon (sic, as in 2.42:
 * "foo[5m x]" lexes like "foo[5m:]"). */
static enum lex_state lex_bracket_colon(lex_call *c, int32_t r)
{
    promql_lexer *l = c->l;
    if (l->got_colon)
        return lex_error_rune(c, "unexpected colon ", r);
    lex_emit(c, PQ_COLON);
    l->got_colon = true;
    return LS_STATEMENTS;
}

static enum lex_state lex_brackets_and_parens(lex_call *c, int32_t r)
{
    promql_lexer *l = c->l;
    switch (r) {
    case '(':
        lex_emit(c, PQ_LEFT_PAREN);
        l->paren_depth++;
        return LS_STATEMENTS;
    case ')':
        lex_emit(c, PQ_RIGHT_PAREN);
        if (--l->paren_depth < 0)
            return lex_error_rune(c, "unexpected right parenthesis ", r);
        return LS_STATEMENTS;
    case '{':
        lex_emit(c, PQ_LEFT_BRACE);
        l->brace_open = true;
        return LS_INSIDE_BRACES;
    case '[':
        if (l->bracket_open)
            return lex_error_rune(c, "unexpected left bracket ", r);
        l->got_colon = false;
        lex_emit(c, PQ_LEFT_BRACKET);
        while (is_space(lex_peek(l)))
            lex_next(l);
        lex_ignore(l);
        l->bracket_open = true;
        return LS_DURATION;
    default: /* ']' */
        if (!l->bracket_open)
            return lex_error_rune(c, "unexpected right bracket ", r);
        lex_emit(c, PQ_RIGHT_BRACKET);
        l->bracket_open = false;
        return LS_STATEMENTS;
    }
}

static const struct {
    char c;
    promql_token_type t;
} single_char_tokens[] = {
    {',', PQ_COMMA}, {'*', PQ_MUL}, {'/', PQ_DIV}, {'%', PQ_MOD},
    {'+', PQ_ADD},   {'-', PQ_SUB}, {'^', PQ_POW}, {'@', PQ_AT},
};

static enum lex_state lex_statements(lex_call *c)
{
    promql_lexer *l = c->l;
    if (l->brace_open)
        return LS_INSIDE_BRACES;
    if (at_comment(l))
        return LS_LINE_COMMENT;
    int32_t r = lex_next(l);
    if (r == LEX_EOF)
        return lex_eof(c);
    for (size_t i = 0; i < sizeof(single_char_tokens) / sizeof(single_char_tokens[0]); i++) {
        if (r == single_char_tokens[i].c) {
            lex_emit(c, single_char_tokens[i].t);
            return LS_STATEMENTS;
        }
    }
    if (is_space(r))
        return LS_SPACE;
    if (r == '=' || r == '!' || r == '<' || r == '>')
        return lex_comparison(c, r);
    if (is_digit(r) || (r == '.' && is_digit(lex_peek(l)))) {
        lex_backup(l);
        return LS_NUMBER_OR_DURATION;
    }
    if (r == '"' || r == '\'' || r == '`') {
        l->string_open = r;
        return r == '`' ? LS_RAW_STRING : LS_STRING;
    }
    if (is_alpha(r) || r == ':') {
        if (l->bracket_open)
            return lex_bracket_colon(c, r);
        lex_backup(l);
        return LS_KEYWORD_OR_IDENTIFIER;
    }
    if (r == '(' || r == ')' || r == '{' || r == '[' || r == ']')
        return lex_brackets_and_parens(c, r);
    return lex_error_rune(c, "unexpected character: ", r);
}

/* ---- driver ---- */

static enum lex_state lex_step(lex_call *c, enum lex_state s)
{
    switch (s) {
    case LS_STATEMENTS: return lex_statements(c);
    case LS_INSIDE_BRACES: return lex_inside_braces(c);
    case LS_STRING: return lex_string(c);
    case LS_RAW_STRING: return lex_raw_string(c);
    case LS_SPACE: return lex_space(c);
    case LS_LINE_COMMENT: return lex_line_comment(c);
    case LS_NUMBER_OR_DURATION: return lex_number_or_duration(c);
    case LS_DURATION: return lex_duration(c);
    case LS_KEYWORD_OR_IDENTIFIER: return lex_keyword_or_identifier(c);
    case LS_IDENTIFIER: return lex_identifier(c);
    case LS_DONE: break;
    }
    lex_emit(c, PQ_EOF);
    return LS_DONE;
}

void promql_lexer_init(promql_lexer *l, const char *input, size_t len)
{
    memset(l, 0, sizeof(*l));
    l->input = input;
    l->len = len;
    l->state = LS_STATEMENTS;
}

void promql_lexer_next(promql_lexer *l, promql_token *tok)
{
    lex_call c = {l, tok, false};
    while (!c.scanned)
        l->state = lex_step(&c, (enum lex_state)l->state);
}
