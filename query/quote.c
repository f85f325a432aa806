/*
 * quote.c — Go's string conventions, as PromQL inherits them from Go:
 * UTF-8 decoding (utf8.DecodeRuneInString), string literals
 * (strutil.Unquote, a copy of strconv.Unquote that also takes '...'),
 * strconv.Quote for printing matchers and error messages, %q and %#U of
 * runes, and model.ParseDuration.
 *
 * Go's strconv.IsPrint needs the full Unicode tables; rune_is_print below
 * knows the non-printable ranges that matter in practice (controls, format
 * characters, separators, private use, non-characters) and treats unassigned
 * code points as printable.  That only changes how such a rune is spelled in
 * output (raw vs \u escape), never what a string parses to.
 */
#include "query/lexer.h"

#include <stdio.h>
#include <string.h>

#define RUNE_ERROR 0xfffd
#define MAX_RUNE 0x10ffff

size_t promql_decode_rune(const char *str, size_t n, int32_t *r)
{
    const unsigned char *s = (const unsigned char *)str;
    *r = RUNE_ERROR;
    if (n == 0)
        return 0;
    unsigned char b0 = s[0];
    if (b0 < 0x80) {
        *r = b0;
        return 1;
    }
    /* Allowed range of the second byte, per lead byte (Go's acceptRanges):
     * this rejects overlong forms, surrogates and values past U+10FFFF. */
    size_t len;
    unsigned char lo = 0x80, hi = 0xbf;
    if (b0 >= 0xc2 && b0 <= 0xdf)
        len = 2;
    else if (b0 >= 0xe0 && b0 <= 0xef)
        len = 3, lo = b0 == 0xe0 ? 0xa0 : 0x80, hi = b0 == 0xed ? 0x9f : 0xbf;
    else if (b0 >= 0xf0 && b0 <= 0xf4)
        len = 4, lo = b0 == 0xf0 ? 0x90 : 0x80, hi = b0 == 0xf4 ? 0x8f : 0xbf;
    else
        return 1;
    if (n < len || s[1] < lo || s[1] > hi)
        return 1;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 1;
    int32_t v = b0 & (len == 2 ? 0x1f : len == 3 ? 0x0f : 0x07);
    for (size_t i = 1; i < len; i++)
        v = (v << 6) | (s[i] & 0x3f);
    *r = v;
    return len;
}

static void put_rune(ebuf *out, int32_t r)
{
    char b[4];
    size_t n;
    if (r < 0 || r > MAX_RUNE || (r >= 0xd800 && r < 0xe000))
        r = RUNE_ERROR; /* Go's EncodeRune does the same */
    if (r < 0x80) {
        b[0] = (char)r, n = 1;
    } else if (r < 0x800) {
        b[0] = (char)(0xc0 | (r >> 6)), b[1] = (char)(0x80 | (r & 0x3f)), n = 2;
    } else if (r < 0x10000) {
        b[0] = (char)(0xe0 | (r >> 12)), b[1] = (char)(0x80 | ((r >> 6) & 0x3f));
        b[2] = (char)(0x80 | (r & 0x3f)), n = 3;
    } else {
        b[0] = (char)(0xf0 | (r >> 18)), b[1] = (char)(0x80 | ((r >> 12) & 0x3f));
        b[2] = (char)(0x80 | ((r >> 6) & 0x3f)), b[3] = (char)(0x80 | (r & 0x3f)), n = 4;
    }
    ebuf_append(out, b, n);
}

static bool in_ranges(int32_t r, const int32_t (*ranges)[2], size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (r >= ranges[i][0] && r <= ranges[i][1])
            return true;
    return false;
}

/* strconv.IsPrint, less the unassigned code points (see the header). */
static bool rune_is_print(int32_t r)
{
    static const int32_t not_print[][2] = {
        {0x0080, 0x00a0},   {0x00ad, 0x00ad},   {0x0600, 0x0605},   {0x061c, 0x061c},
        {0x06dd, 0x06dd},   {0x070f, 0x070f},   {0x1680, 0x1680},   {0x180e, 0x180e},
        {0x2000, 0x200f},   {0x2028, 0x202f},   {0x205f, 0x2064},   {0x2066, 0x206f},
        {0x3000, 0x3000},   {0xd800, 0xf8ff},   {0xfdd0, 0xfdef},   {0xfeff, 0xfeff},
        {0xfff9, 0xfffb},   {0xfffe, 0xffff},   {0x110bd, 0x110bd}, {0x1bca0, 0x1bca3},
        {0x1d173, 0x1d17a}, {0xe0001, 0xe0001}, {0xe0020, 0xe007f}, {0xf0000, 0x10ffff},
    };
    if (r < 0x80)
        return r >= 0x20 && r < 0x7f;
    if (r > MAX_RUNE)
        return false;
    if ((r & 0xfffe) == 0xfffe) /* U+xFFFE and U+xFFFF in every plane */
        return false;
    return !in_ranges(r, not_print, sizeof(not_print) / sizeof(not_print[0]));
}

/* strconv.appendEscapedRune for a valid rune r inside the given quote. */
static void put_escaped_rune(ebuf *out, int32_t r, char quote)
{
    static const char simple[] = "\aa\bb\ff\nn\rr\tt\vv";
    if (r == quote || r == '\\') {
        ebuf_putc(out, '\\');
        ebuf_putc(out, (char)r);
        return;
    }
    if (rune_is_print(r)) {
        put_rune(out, r);
        return;
    }
    for (size_t i = 0; simple[i]; i += 2) {
        if (r == simple[i]) {
            ebuf_putc(out, '\\');
            ebuf_putc(out, simple[i + 1]);
            return;
        }
    }
    if (r < ' ' || r == 0x7f)
        ebuf_printf(out, "\\x%02x", (unsigned)r);
    else if (r < 0x10000)
        ebuf_printf(out, "\\u%04x", (unsigned)r);
    else
        ebuf_printf(out, "\\U%08x", (unsigned)r);
}

void promql_quote(ebuf *out, const char *s, size_t n)
{
    ebuf_putc(out, '"');
    size_t i = 0;
    while (i < n) {
        int32_t r;
        size_t w = promql_decode_rune(s + i, n - i, &r);
        if (w == 1 && r == RUNE_ERROR)
            ebuf_printf(out, "\\x%02x", (unsigned char)s[i]);
        else
            put_escaped_rune(out, r, '"');
        i += w;
    }
    ebuf_putc(out, '"');
}

void promql_quote_rune(ebuf *out, int32_t r)
{
    if (r < 0 || r > MAX_RUNE || (r >= 0xd800 && r < 0xe000))
        r = RUNE_ERROR;
    ebuf_putc(out, '\'');
    put_escaped_rune(out, r, '\'');
    ebuf_putc(out, '\'');
}

void promql_format_rune_U(ebuf *out, int32_t r)
{
    ebuf_printf(out, "U+%04X", (unsigned)r);
    if (r >= 0 && rune_is_print(r)) {
        ebuf_puts(out, " '");
        put_rune(out, r);
        ebuf_putc(out, '\'');
    }
}

/* ---- unquoting ---- */

static int hex_val(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* \x, \u, \U: ndig hex digits at s; returns the value or -1. */
static int32_t unquote_hex(const char *s, size_t avail, int ndig)
{
    if (avail < (size_t)ndig)
        return -1;
    int64_t v = 0;
    for (int j = 0; j < ndig; j++) {
        int x = hex_val(s[j]);
        if (x < 0)
            return -1;
        v = (v << 4) | x;
    }
    return v > MAX_RUNE ? -1 : (int32_t)v;
}

/*
 * One escape sequence after the backslash at s[0]; appends its bytes and
 * returns how many input bytes it used, or 0 if it is malformed.
 */
static size_t unquote_escape(const char *s, size_t n, char quote, ebuf *out)
{
    static const char simple[] = "a\ab\bf\fn\nr\rt\tv\v\\\\";
    if (n < 2)
        return 0;
    char c = s[1];
    for (size_t i = 0; simple[i]; i += 2) {
        if (c == simple[i]) {
            ebuf_putc(out, simple[i + 1]);
            return 2;
        }
    }
    if (c == 'x' || c == 'u' || c == 'U') {
        int ndig = c == 'x' ? 2 : c == 'u' ? 4 : 8;
        int32_t v = unquote_hex(s + 2, n - 2, ndig);
        if (v < 0)
            return 0;
        if (c == 'x')
            ebuf_putc(out, (char)v); /* a raw byte, possibly not UTF-8 */
        else
            put_rune(out, v);
        return 2 + (size_t)ndig;
    }
    if (c >= '0' && c <= '7') {
        if (n < 4 || s[2] < '0' || s[2] > '7' || s[3] < '0' || s[3] > '7')
            return 0;
        int v = ((c - '0') << 6) | ((s[2] - '0') << 3) | (s[3] - '0');
        if (v > 255)
            return 0;
        ebuf_putc(out, (char)v);
        return 4;
    }
    if ((c == '\'' || c == '"') && c == quote) {
        ebuf_putc(out, c);
        return 2;
    }
    return 0;
}

int promql_unquote(const char *s, size_t n, ebuf *out)
{
    if (n < 2 || s[0] != s[n - 1])
        return -1;
    char quote = s[0];
    const char *body = s + 1;
    size_t len = n - 2;
    if (quote == '`') {
        if (memchr(body, '`', len))
            return -1;
        ebuf_append(out, body, len); /* raw: no escapes, \r kept as in strutil */
        return 0;
    }
    if ((quote != '"' && quote != '\'') || memchr(body, '\n', len))
        return -1;
    size_t i = 0;
    while (i < len) {
        if (body[i] == quote)
            return -1;
        if (body[i] != '\\') {
            ebuf_putc(out, body[i++]);
            continue;
        }
        size_t used = unquote_escape(body + i, len - i, quote, out);
        if (used == 0)
            return -1;
        i += used;
    }
    return 0;
}

/* ---- durations ---- */

/* Parse "<digits><unit>" at s[*i]; unit index into y w d h m s ms, or -1. */
static int duration_part(const char *s, size_t n, size_t *i, int64_t *num)
{
    static const char *units[] = {"y", "w", "d", "h", "m", "s", "ms"};
    size_t start = *i;
    int64_t v = 0;
    while (*i < n && s[*i] >= '0' && s[*i] <= '9') {
        /* Go's Atoi clips to MaxInt64 on overflow; the range check fails. */
        int d = s[*i] - '0';
        v = v > (INT64_MAX - d) / 10 ? INT64_MAX : v * 10 + d;
        (*i)++;
    }
    if (*i == start || *i >= n)
        return -1;
    *num = v;
    if (s[*i] == 'm' && *i + 1 < n && s[*i + 1] == 's') {
        *i += 2;
        return 6;
    }
    for (int u = 0; u < 6; u++) {
        if (s[*i] == units[u][0]) {
            (*i)++;
            return u;
        }
    }
    return -1;
}

int promql_parse_duration(const char *s, size_t n, int64_t *ms, char *err, size_t errlen)
{
    static const int64_t unit_ms[] = {
        365LL * 86400000, 7LL * 86400000, 86400000, 3600000, 60000, 1000, 1};
    /* Go's time.Duration is int64 nanoseconds: the total must fit that. */
    const int64_t max_ms = INT64_MAX / 1000000;
    *ms = 0;
    if (n == 1 && s[0] == '0')
        return 0;
    if (n == 0) {
        snprintf(err, errlen, "empty duration string");
        return -1;
    }
    int64_t total = 0;
    int last = -1;
    bool overflow = false;
    for (size_t i = 0; i < n;) {
        int64_t num;
        int u = duration_part(s, n, &i, &num);
        if (u <= last) { /* also catches u == -1 */
            ebuf b;
            ebuf_init(&b);
            promql_quote(&b, s, n);
            snprintf(err, errlen, "not a valid duration string: %s", b.data);
            ebuf_free(&b);
            return -1;
        }
        last = u;
        if (num > max_ms / unit_ms[u] || total > max_ms - num * unit_ms[u])
            overflow = true;
        else
            total += num * unit_ms[u];
    }
    if (overflow) {
        snprintf(err, errlen, "duration out of range");
        return -1;
    }
    *ms = total;
    return 0;
}
