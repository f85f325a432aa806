/*
 * fmtfloat.c — Go-compatible float formatting and parsing (see fmtfloat.h).
 *
 * Go prints the *shortest* decimal that reads back as the same double, and
 * among strings of that length the one closest to the exact value.  libc has
 * no such conversion; ryu.c computes those digits with the algorithm Go's
 * strconv uses (Ryū), in well under a microsecond (a search with snprintf
 * and strtod took ~5 µs a value, which dominated big query answers).
 *
 * The digits are then laid out as Go's ftoa.go does: 'g' with precision -1
 * switches to the exponent form when the decimal exponent is < -4 or >= 6
 * (eprec is 6 for the shortest form, so 1e+06 but 123456), and the HTTP API
 * picks 'e' or 'f' by magnitude.
 */
#include "common/fmtfloat.h"

#include "common/mem.h"
#include "common/ryu.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* value = 0.d[0]d[1]...d[nd-1] × 10^dp, d[0] != '0', no trailing zeros. */
typedef struct decimal {
    char d[32];
    int nd;
    int dp;
} decimal;

static void decimal_trim(decimal *dec)
{
    while (dec->nd > 1 && dec->d[dec->nd - 1] == '0')
        dec->nd--;
}

/* Shortest round-tripping digits of finite v > 0 (Ryū, ryu.c). */
static void shortest_digits(double v, decimal *dec)
{
    uint64_t digits;
    int32_t exp10;
    ryu_shortest(v, &digits, &exp10);
    char tmp[20];
    int n = 0;
    do {
        tmp[sizeof tmp - 1 - (size_t)n++] = (char)('0' + digits % 10);
        digits /= 10;
    } while (digits);
    memcpy(dec->d, tmp + sizeof tmp - n, (size_t)n);
    dec->nd = n;
    dec->dp = n + exp10;
    decimal_trim(dec);
}

/* Writes "+Inf", "-Inf", "NaN", "0" or "-0"; returns 0 if v is none. */
static size_t fmt_special(char *buf, double v)
{
    const char *s = NULL;
    if (isnan(v))
        s = "NaN";
    else if (isinf(v))
        s = v > 0 ? "+Inf" : "-Inf";
    else if (v == 0)
        s = signbit(v) ? "-0" : "0";
    if (!s)
        return 0;
    size_t n = strlen(s);
    memcpy(buf, s, n + 1);
    return n;
}

/* Go's fmtE: d.ddde±XX, at least two exponent digits. */
static size_t layout_e(char *buf, size_t i, const decimal *dec)
{
    buf[i++] = dec->d[0];
    if (dec->nd > 1) {
        buf[i++] = '.';
        memcpy(buf + i, dec->d + 1, (size_t)dec->nd - 1);
        i += (size_t)dec->nd - 1;
    }
    int exp = dec->dp - 1;
    buf[i++] = 'e';
    buf[i++] = exp < 0 ? '-' : '+';
    if (exp < 0)
        exp = -exp;
    i += (size_t)snprintf(buf + i, 8, "%02d", exp);
    return i;
}

/* Go's fmtF with the shortest precision: all digits, no exponent. */
static size_t layout_f(char *buf, size_t i, const decimal *dec)
{
    if (dec->dp > 0) {
        for (int j = 0; j < dec->dp; j++)
            buf[i++] = j < dec->nd ? dec->d[j] : '0';
    } else {
        buf[i++] = '0';
    }
    if (dec->nd > dec->dp) {
        buf[i++] = '.';
        for (int j = dec->dp; j < dec->nd; j++)
            buf[i++] = j < 0 ? '0' : dec->d[j];
    }
    buf[i] = '\0';
    return i;
}

typedef enum { LAYOUT_G, LAYOUT_JSON, LAYOUT_F } layout;

static size_t fmt_float(char *buf, double v, layout how)
{
    size_t n = fmt_special(buf, v);
    if (n)
        return n;
    size_t i = 0;
    if (v < 0) {
        buf[i++] = '-';
        v = -v;
    }
    decimal dec;
    shortest_digits(v, &dec);
    bool use_e;
    if (how == LAYOUT_F) {
        use_e = false;
    } else if (how == LAYOUT_G) {
        /* ftoa.go 'g' with precision -1: eprec is 6 for the shortest form. */
        int exp = dec.dp - 1;
        use_e = exp < -4 || exp >= 6;
    } else {
        use_e = v < 1e-6 || v >= 1e21;
    }
    return use_e ? layout_e(buf, i, &dec) : layout_f(buf, i, &dec);
}

size_t fmt_float_text(char *buf, double v)
{
    return fmt_float(buf, v, LAYOUT_G);
}

size_t fmt_float_json(char *buf, double v)
{
    return fmt_float(buf, v, LAYOUT_JSON);
}

size_t fmt_float_plain(char *buf, double v)
{
    return fmt_float(buf, v, LAYOUT_F);
}

static bool equal_fold(const char *s, size_t n, const char *lower)
{
    if (strlen(lower) != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != lower[i])
            return false;
    }
    return true;
}

/* Go's strconv special(): [+-]inf, [+-]infinity, nan (no sign), any case. */
static bool parse_special(const char *s, size_t n, double *out)
{
    if (equal_fold(s, n, "nan")) {
        *out = NAN;
        return true;
    }
    double sign = 1;
    if (n > 0 && (s[0] == '+' || s[0] == '-')) {
        sign = s[0] == '-' ? -1 : 1;
        s++;
        n--;
    }
    if (equal_fold(s, n, "inf") || equal_fold(s, n, "infinity")) {
        *out = sign * INFINITY;
        return true;
    }
    return false;
}

static size_t skip_digits(const char *s, size_t i, size_t n)
{
    while (i < n && s[i] >= '0' && s[i] <= '9')
        i++;
    return i;
}

/*
 * [+-] digits [. digits] [(e|E) [+-] digits], at least one mantissa digit.
 * Checked by hand because strtod also takes hex, "nan(...)" and leading
 * blanks, none of which Go (or Prometheus) accepts.  Go's underscores and
 * hex floats are refused too: Prometheus's text parser rejects them.
 */
static bool decimal_syntax_ok(const char *s, size_t n)
{
    size_t i = 0;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        i++;
    size_t start = i;
    i = skip_digits(s, i, n);
    size_t mant_digits = i - start;
    if (i < n && s[i] == '.') {
        size_t frac = ++i;
        i = skip_digits(s, i, n);
        mant_digits += i - frac;
    }
    if (mant_digits == 0)
        return false;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        size_t exp_start = i;
        i = skip_digits(s, i, n);
        if (i == exp_start)
            return false;
    }
    return i == n;
}

bool parse_float(const char *s, size_t n, double *out)
{
    if (parse_special(s, n, out))
        return true;
    if (!decimal_syntax_ok(s, n))
        return false;
    char small[64];
    char *copy = n < sizeof small ? small : em_malloc(n + 1);
    memcpy(copy, s, n);
    copy[n] = '\0';
    char *end;
    double v = strtod(copy, &end);
    bool ok = end == copy + n;
    if (copy != small)
        free(copy);
    /* Go reports overflow as an error; underflow to 0 is fine. */
    if (!ok || isinf(v))
        return false;
    *out = v;
    return true;
}
