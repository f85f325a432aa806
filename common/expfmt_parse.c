/*
 * expfmt_parse.c — the Prometheus text exposition format 0.0.4 parser:
 * expfmt_parse and expfmt_error_format (see expfmt.h).
 *
 * The parser is a hand-written copy of Prometheus 2.42's lexer
 * (model/textparse/promlex.l) and parser (promparse.go), so that a document
 * Prometheus scrapes we parse to the same samples, and one it rejects we
 * reject.  Quirks of that lexer that we keep on purpose:
 *  - blanks (spaces, tabs) may separate any two tokens, even
 *    "foo { a = \"b\" } 1", and lead a comment or blank line, but not a
 *    sample line (2.42 makes them part of the metric name and rejects it);
 *    a label list may end in a comma, and the comma between two labels may
 *    be left out;
 *  - the value is whatever follows the name or '}' up to a blank or '{', so
 *    "foo-1" is the sample foo with value -1, and "foo1.5" is foo1 = 0.5;
 *  - a HELP or TYPE text is the rest of the line minus its first byte (the
 *    separating blank): "# TYPE foo  counter" has type " counter", which is
 *    invalid, and "# TYPE foo-counter" declares foo a counter; a text of
 *    only blanks is empty;
 *  - "#" without a following blank, and any "#" line that is not
 *    "# HELP name ..." or "# TYPE name ...", is a comment and is ignored;
 *  - a quoted label value may contain a raw newline, and any "\x" escape:
 *    only \\, \" and \n are decoded, others are kept as the two bytes;
 *  - timestamps are unsigned decimal integers (int64 milliseconds);
 *  - "\r\n" line ends fail on sample lines (the \r becomes part of the
 *    value or trails the timestamp); in comments and HELP text the \r stays;
 *  - a NaN value is stored as Prometheus's "normal" NaN bit pattern, so a
 *    scraped NaN can never be taken for a staleness marker;
 *  - labels with an empty value are dropped, as Prometheus's scrape loop
 *    does (labels.Builder), so foo{a=""} and foo are one series.
 * Where we are stricter than Prometheus (never more lenient):
 *  - a NUL byte at the start of a line is an error (Prometheus silently
 *    stops parsing there), and one inside a label value is an error because
 *    our label values are C strings; a NUL in HELP text ends the text;
 *  - foo{a="",a="x"} is a duplicate label error (Prometheus drops both);
 *  - the limits in expfmt_limits (line length, labels per sample), which
 *    Prometheus does not have.
 *
 * A parse appends to a private metric_set and moves it into the caller's
 * only when the whole document parsed, so a failure leaves the output
 * untouched without any undo bookkeeping.
 */
#include "common/metricset_internal.h"

#include "common/fmtfloat.h"
#include "common/mem.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct label_pos {
    const char *name; /* the label name as written (or "__name__") */
    size_t len;
    size_t line, col;
} label_pos;

typedef struct parser {
    const char *end;        /* end of input */
    const char *line_start; /* current physical line */
    const char *eol;        /* its '\n', or end */
    size_t line;
    size_t max_line, max_labels;
    expfmt_error *err;
    metric_set set;   /* what this parse adds */
    bool *type_known; /* per set.meta: a TYPE line was seen */
    size_t type_known_cap;
    strmap metas;   /* family -> index in set.meta */
    labelset ls;    /* the sample being parsed */
    label_pos *pos; /* where each of its labels was written */
    size_t npos, cappos;
    ebuf scratch; /* unescaped text */
} parser;

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_lname_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_lname_char(char c)
{
    return is_lname_start(c) || is_digit(c);
}

static bool is_mname_start(char c)
{
    return is_lname_start(c) || c == ':';
}

static bool is_mname_char(char c)
{
    return is_lname_char(c) || c == ':';
}

static const char *skip_blanks(const parser *p, const char *s)
{
    while (s < p->eol && is_blank(*s))
        s++;
    return s;
}

static int vfail(parser *p, size_t line, size_t col, const char *fmt, va_list ap)
{
    if (p->err) {
        p->err->line = line;
        p->err->col = col;
        vsnprintf(p->err->msg, sizeof p->err->msg, fmt, ap);
    }
    return -1;
}

static int fail_lc(parser *p, size_t line, size_t col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail_lc(parser *p, size_t line, size_t col, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(p, line, col, fmt, ap);
    va_end(ap);
    return -1;
}

/* Fail at byte `at` of the current physical line. */
static int fail_at(parser *p, const char *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail_at(parser *p, const char *at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(p, p->line, (size_t)(at - p->line_start) + 1, fmt, ap);
    va_end(ap);
    return -1;
}

/* What is at s, for messages: 'x', byte 0x01, end of line. */
static const char *describe(const parser *p, const char *s, char *buf, size_t n)
{
    if (s >= p->eol)
        return s >= p->end ? "end of input" : "end of line";
    unsigned char c = (unsigned char)*s;
    if (c >= 0x20 && c < 0x7f)
        snprintf(buf, n, "'%c'", c);
    else
        snprintf(buf, n, "byte 0x%02x", c);
    return buf;
}

/* s[0..n) quoted for a message (buf: 64 bytes), unprintable bytes as '?'. */
static const char *quote_token(const char *s, size_t n, char *buf)
{
    size_t j = 0, show = n > 40 ? 40 : n;
    buf[j++] = '"';
    for (size_t i = 0; i < show; i++)
        buf[j++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    if (show < n) {
        memcpy(buf + j, "...", 3);
        j += 3;
    }
    buf[j++] = '"';
    buf[j] = '\0';
    return buf;
}

/* Find the end of the physical line starting at s and check its length. */
static int enter_line(parser *p, const char *s)
{
    p->line_start = s;
    const char *nl = memchr(s, '\n', (size_t)(p->end - s));
    p->eol = nl ? nl : p->end;
    size_t len = (size_t)(p->eol - s);
    if (p->max_line && len > p->max_line)
        return fail_at(p, s + p->max_line, "line too long (%zu bytes, limit %zu)", len,
                       p->max_line);
    return 0;
}

/* Family s[0..n) in the parse's own set, added if new. */
static metric_meta *parsed_meta(parser *p, const char *s, size_t n, size_t *index)
{
    uint64_t i;
    if (strmap_get(&p->metas, s, n, &i)) {
        *index = (size_t)i;
        return &p->set.meta[i];
    }
    metric_meta *m = mset_meta_append(&p->set, em_strndup(s, n));
    *index = p->set.nmeta - 1;
    EM_GROW(p->type_known, p->type_known_cap, p->set.nmeta);
    p->type_known[*index] = false;
    strmap_put(&p->metas, s, n, *index);
    return m;
}

/* HELP text: Prometheus decodes only \\ and \n here. */
static char *unescape_help(const char *s, size_t n)
{
    char *out = em_malloc(n + 1), *o = out;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\' && i + 1 < n && (s[i + 1] == '\\' || s[i + 1] == 'n')) {
            *o++ = s[i + 1] == 'n' ? '\n' : '\\';
            i++;
        } else if (s[i] == '\0') {
            break; /* our strings cannot hold it: the text ends here */
        } else {
            *o++ = s[i];
        }
    }
    *o = '\0';
    return out;
}

static int parse_help(parser *p, const char *name, size_t nlen, const char *text)
{
    size_t n = (size_t)(p->eol - text), index;
    if (!utf8_valid(text, n))
        return fail_at(p, text, "HELP text is not valid UTF-8");
    metric_meta *m = parsed_meta(p, name, nlen, &index);
    free(m->help);
    m->help = unescape_help(text, n);
    return 0;
}

static int parse_type(parser *p, const char *name, size_t nlen, const char *text)
{
    size_t n = (size_t)(p->eol - text), index;
    metric_type t;
    char q[64];
    if (!mset_type_parsen(text, n, &t))
        return fail_at(p, text, "invalid metric type %s", quote_token(text, n, q));
    parsed_meta(p, name, nlen, &index)->type = t;
    p->type_known[index] = true;
    return 0;
}

/* After "# HELP " or "# TYPE ": name, then the text to the end of line. */
static int parse_meta(parser *p, const char *s, bool help)
{
    char d[16];
    if (s == p->eol || !is_mname_start(*s))
        return fail_at(p, s, "expected metric name after %s, got %s", help ? "HELP" : "TYPE",
                       describe(p, s, d, sizeof d));
    const char *name = s;
    while (s < p->eol && is_mname_char(*s))
        s++;
    size_t nlen = (size_t)(s - name);
    /* The lexer's text token is the rest of the line; its first byte is
     * dropped as the separator, and an all-blank rest is no text at all. */
    const char *text = skip_blanks(p, s) == p->eol ? p->eol : s + 1;
    return help ? parse_help(p, name, nlen, text) : parse_type(p, name, nlen, text);
}

static bool is_keyword(const parser *p, const char *s, const char *kw)
{
    return p->eol - s > 4 && memcmp(s, kw, 4) == 0 && is_blank(s[4]);
}

static int parse_comment(parser *p, const char *s)
{
    s++; /* '#' */
    if (s == p->eol || !is_blank(*s))
        return 0; /* "#..." is a plain comment */
    s = skip_blanks(p, s);
    bool help = is_keyword(p, s, "HELP");
    if (!help && !is_keyword(p, s, "TYPE"))
        return 0;
    return parse_meta(p, skip_blanks(p, s + 4), help);
}

static void record_pos(parser *p, const char *name, size_t len, const char *at)
{
    EM_GROW(p->pos, p->cappos, p->npos + 1);
    p->pos[p->npos++] = (label_pos){name, len, p->line, (size_t)(at - p->line_start) + 1};
}

/* Decode \\ \" \n; any other escape stays as written (lvalReplacer). */
static void unescape_value(ebuf *out, const char *s, size_t n)
{
    ebuf_reset(out);
    ebuf_reserve(out, n);
    char *o = out->data;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '\\' && i + 1 < n && (s[i + 1] == '\\' || s[i + 1] == '"' || s[i + 1] == 'n')) {
            c = s[++i] == 'n' ? '\n' : s[i];
        }
        *o++ = c;
    }
    out->len = (size_t)(o - out->data);
    *o = '\0';
}

/*
 * The quoted value at *sp into p->scratch, leaving *sp after the closing
 * quote.  Like Prometheus's lexer we let it run over raw newlines; an
 * escape is a backslash and any byte but a newline.
 */
static int scan_label_value(parser *p, const char **sp)
{
    const char *open = *sp, *s = open + 1;
    size_t line = p->line, col = (size_t)(open - p->line_start) + 1;
    for (;;) {
        if (s == p->eol) {
            if (s == p->end)
                return fail_lc(p, line, col, "unterminated label value");
            p->line++;
            if (enter_line(p, s + 1) < 0)
                return -1;
            s++;
            continue;
        }
        if (*s == '"')
            break;
        if (*s == '\\' && s + 1 == p->eol)
            return fail_at(p, s, "backslash at end of line in label value");
        if (*s == '\\')
            s++;
        if (*s == '\0')
            return fail_at(p, s, "NUL byte in label value is not supported");
        s++;
    }
    size_t n = (size_t)(s - (open + 1));
    if (!utf8_valid(open + 1, n))
        return fail_lc(p, line, col, "invalid UTF-8 in label value");
    unescape_value(&p->scratch, open + 1, n);
    *sp = s + 1;
    return 0;
}

/* One `name="value"` pair of a label list, at *sp. */
static int parse_label(parser *p, const char **sp, size_t count)
{
    const char *s = *sp, *name = s;
    char d[16];
    while (s < p->eol && is_lname_char(*s))
        s++;
    size_t nlen = (size_t)(s - name);
    if (p->max_labels && count > p->max_labels)
        return fail_at(p, name, "too many labels (limit %zu)", p->max_labels);
    record_pos(p, name, nlen, name);
    s = skip_blanks(p, s);
    if (s == p->eol || *s != '=')
        return fail_at(p, s, "expected '=' after label name, got %s", describe(p, s, d, sizeof d));
    s = skip_blanks(p, s + 1);
    if (s == p->eol || *s != '"')
        return fail_at(p, s, "expected '\"' to start label value, got %s",
                       describe(p, s, d, sizeof d));
    if (scan_label_value(p, &s) < 0)
        return -1;
    labels_addn(&p->ls, name, nlen, p->scratch.data, p->scratch.len);
    *sp = s;
    return 0;
}

/* The label list after '{' at *sp; leaves *sp after the '}'. */
static int parse_labels(parser *p, const char **sp)
{
    const char *s = *sp + 1;
    char d[16];
    for (size_t count = 1;; count++) {
        s = skip_blanks(p, s);
        if (s < p->eol && *s == '}')
            break;
        if (s == p->eol || !is_lname_start(*s))
            return fail_at(p, s, "expected label name or '}', got %s", describe(p, s, d, sizeof d));
        if (parse_label(p, &s, count) < 0)
            return -1;
        s = skip_blanks(p, s);
        if (s < p->eol && *s == ',')
            s++;
    }
    *sp = s + 1;
    return 0;
}

static double normal_nan(void)
{
    /* value.NormalNaN; the staleness marker is a different NaN. */
    uint64_t bits = 0x7ff8000000000001ULL;
    double v;
    memcpy(&v, &bits, sizeof v);
    return v;
}

static int parse_value(parser *p, const char *v, size_t n, double *out)
{
    char q[64];
    /* Prometheus keeps to pre-Go 1.13 floats: no hex, no digit separators. */
    if (memchr(v, 'p', n) || memchr(v, 'P', n) || memchr(v, '_', n))
        return fail_at(p, v, "unsupported character in float %s", quote_token(v, n, q));
    if (!parse_float(v, n, out))
        return fail_at(p, v, "invalid value %s", quote_token(v, n, q));
    if (isnan(*out))
        *out = normal_nan();
    return 0;
}

/* Optional timestamp at *sp, then the end of the line. */
static int parse_timestamp(parser *p, const char *s, bool *has_ts, int64_t *ts)
{
    char d[16];
    if (s == p->eol)
        return 0;
    if (!is_digit(*s))
        return fail_at(p, s, "expected timestamp or end of line, got %s",
                       describe(p, s, d, sizeof d));
    const char *start = s;
    uint64_t v = 0;
    for (; s < p->eol && is_digit(*s); s++) {
        uint64_t digit = (uint64_t)(*s - '0');
        if (v > ((uint64_t)INT64_MAX - digit) / 10)
            return fail_at(p, start, "timestamp out of range");
        v = v * 10 + digit;
    }
    s = skip_blanks(p, s);
    if (s != p->eol)
        return fail_at(p, s, "expected end of line after timestamp, got %s",
                       describe(p, s, d, sizeof d));
    *has_ts = true;
    *ts = (int64_t)v;
    return 0;
}

/* labels_validate, with the error placed at the offending label. */
static int validate_labels(parser *p)
{
    char msg[200];
    if (labels_validate(&p->ls, msg, sizeof msg))
        return 0;
    const char *dup = labels_find_dup(&p->ls);
    const label_pos *at = &p->pos[0];
    if (dup) {
        /* The second time the name was written. */
        size_t seen = 0, dlen = strlen(dup);
        for (size_t i = 0; i < p->npos && seen < 2; i++) {
            if (p->pos[i].len == dlen && memcmp(p->pos[i].name, dup, dlen) == 0) {
                at = &p->pos[i];
                seen++;
            }
        }
    }
    return fail_lc(p, at->line, at->col, "%s", msg);
}

/*
 * In Prometheus's data model a label with an empty value is no label at
 * all: its scrape loop drops them (labels.Builder), and so do we, so that
 * foo{a=""} and foo are one series here too.
 */
static void drop_empty_labels(labelset *ls)
{
    size_t j = 0;
    for (size_t i = 0; i < ls->n; i++) {
        if (ls->v[i].value[0] == '\0') {
            free(ls->v[i].name);
            free(ls->v[i].value);
        } else {
            ls->v[j++] = ls->v[i];
        }
    }
    ls->n = j;
}

static int parse_sample(parser *p, const char *s)
{
    char d[16];
    const char *name = s;
    while (s < p->eol && is_mname_char(*s))
        s++;
    labels_clear(&p->ls);
    p->npos = 0;
    labels_addn(&p->ls, LABEL_METRIC_NAME, strlen(LABEL_METRIC_NAME), name, (size_t)(s - name));
    record_pos(p, LABEL_METRIC_NAME, strlen(LABEL_METRIC_NAME), name);
    s = skip_blanks(p, s);
    if (s < p->eol && *s == '{') {
        if (parse_labels(p, &s) < 0)
            return -1;
        s = skip_blanks(p, s);
    }
    const char *v = s;
    while (s < p->eol && *s != '{' && !is_blank(*s))
        s++;
    if (s == v)
        return fail_at(p, v, "expected value after metric, got %s", describe(p, v, d, sizeof d));
    double value;
    bool has_ts = false;
    int64_t ts = 0;
    if (parse_value(p, v, (size_t)(s - v), &value) < 0 ||
        parse_timestamp(p, skip_blanks(p, s), &has_ts, &ts) < 0 || validate_labels(p) < 0)
        return -1;
    drop_empty_labels(&p->ls);
    mset_sample_push(&p->set, &p->ls, value, has_ts, ts); /* validate sorted them */
    return 0;
}

static int parse_line(parser *p)
{
    char d[16];
    const char *s = skip_blanks(p, p->line_start);
    if (s == p->eol)
        return 0;
    if (*s == '#')
        return parse_comment(p, s);
    /* Prometheus 2.42 takes the blanks as part of the metric name and then
     * rejects the name; blanks before a comment are fine. */
    if (s != p->line_start && is_mname_start(*s))
        return fail_at(p, p->line_start, "blanks before a metric name are not allowed");
    if (is_mname_start(*s))
        return parse_sample(p, s);
    return fail_at(p, s, "expected metric name or comment, got %s", describe(p, s, d, sizeof d));
}

static void parser_free(parser *p)
{
    metric_set_free(&p->set);
    free(p->type_known);
    strmap_free(&p->metas);
    labels_free(&p->ls);
    free(p->pos);
    ebuf_free(&p->scratch);
}

static int parse_lines(parser *p, const char *buf)
{
    const char *s = buf;
    for (p->line = 1;; p->line++) {
        if (enter_line(p, s) < 0 || parse_line(p) < 0)
            return -1;
        if (p->eol == p->end)
            return 0;
        s = p->eol + 1;
    }
}

int expfmt_parse(const char *buf, size_t len, const expfmt_limits *lim, metric_set *out,
                 expfmt_error *err)
{
    static const char empty[1] = "";
    if (!buf)
        buf = empty, len = 0;
    parser p = {
        .end = buf + len,
        .max_line = lim ? lim->max_line_len : EXPFMT_DEFAULT_MAX_LINE,
        .max_labels = lim ? lim->max_labels : EXPFMT_DEFAULT_MAX_LABELS,
        .err = err,
    };
    metric_set_init(&p.set);
    strmap_init(&p.metas);
    labels_init(&p.ls);
    ebuf_init(&p.scratch);
    int rc = parse_lines(&p, buf);
    if (rc == 0)
        mset_move(out, &p.set, p.type_known);
    parser_free(&p);
    return rc;
}

void expfmt_error_format(const expfmt_error *err, char *out, size_t outlen)
{
    snprintf(out, outlen, "line %zu, column %zu: %s", err->line, err->col, err->msg);
}
