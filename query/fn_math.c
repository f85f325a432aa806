/*
 * fn_math.c — PromQL's per-sample kernels (abs ... year) as Prometheus 2.42
 * computes them: Go's math.Max/Min NaN and signed-zero rules for clamp, Go's
 * Log2/Log10 formulas, round's "ties up" via floor(v/to + 0.5), and the date
 * functions from time.Unix(int64(v), 0).UTC().
 *
 * The date functions redo Go's (1.19) calendar arithmetic on an unsigned
 * "absolute" second count, wrap-around included, so that negative, huge,
 * infinite and NaN inputs give what Prometheus gives (Go converts NaN and
 * out-of-range floats to INT64_MIN on amd64).  No time zone is involved.
 */
#include "query/fn_kernels.h"

#include <math.h>

bool promql_k_abs(double v, const double *args, double *out)
{
    (void)args;
    *out = fabs(v);
    return true;
}

bool promql_k_ceil(double v, const double *args, double *out)
{
    (void)args;
    *out = ceil(v);
    return true;
}

bool promql_k_floor(double v, const double *args, double *out)
{
    (void)args;
    *out = floor(v);
    return true;
}

bool promql_k_sqrt(double v, const double *args, double *out)
{
    (void)args;
    *out = sqrt(v);
    return true;
}

/* The remaining libm functions; Go's own implementations may differ from
 * glibc's by an ulp for some inputs. */
#define LIBM_KERNEL(name, fn)                                                                      \
    bool promql_k_##name(double v, const double *args, double *out)                                \
    {                                                                                              \
        (void)args;                                                                                \
        *out = fn(v);                                                                              \
        return true;                                                                               \
    }
LIBM_KERNEL(exp, exp)
LIBM_KERNEL(ln, log)
LIBM_KERNEL(sin, sin)
LIBM_KERNEL(cos, cos)
LIBM_KERNEL(tan, tan)
LIBM_KERNEL(asin, asin)
LIBM_KERNEL(acos, acos)
LIBM_KERNEL(atan, atan)
LIBM_KERNEL(sinh, sinh)
LIBM_KERNEL(cosh, cosh)
LIBM_KERNEL(tanh, tanh)
LIBM_KERNEL(asinh, asinh)
LIBM_KERNEL(acosh, acosh)
LIBM_KERNEL(atanh, atanh)

/* Go's math.Log2: exact for powers of two, else Log(frac)/Ln2 + exp. */
bool promql_k_log2(double v, const double *args, double *out)
{
    (void)args;
    int e;
    double frac = frexp(v, &e);
    if (isinf(v) || isnan(v) || v == 0)
        e = 0; /* Go's Frexp returns exponent 0 for these */
    *out = frac == 0.5 ? (double)(e - 1) : log(frac) * M_LOG2E + (double)e;
    return true;
}

/* Go's math.Log10: Log(x) * (1/Ln10). */
bool promql_k_log10(double v, const double *args, double *out)
{
    (void)args;
    *out = log(v) * M_LOG10E;
    return true;
}

bool promql_k_rad(double v, const double *args, double *out)
{
    (void)args;
    *out = v * M_PI / 180;
    return true;
}

bool promql_k_deg(double v, const double *args, double *out)
{
    (void)args;
    *out = v * 180 / M_PI;
    return true;
}

/* NaN and ±0 are returned as they are. */
bool promql_k_sgn(double v, const double *args, double *out)
{
    (void)args;
    *out = v < 0 ? -1 : v > 0 ? 1 : v;
    return true;
}

/* args[0]: to_nearest; the engine passes 1 when round() has no second
 * argument.  Ties go up, as in Prometheus. */
bool promql_k_round(double v, const double *args, double *out)
{
    double inverse = 1.0 / args[0]; /* fewer accuracy issues, says 2.42 */
    *out = floor(v * inverse + 0.5) / inverse;
    return true;
}

/* Go's math.Max / math.Min: ±Inf wins over NaN, NaN over numbers, and
 * +0 > -0 (C's fmax/fmin instead ignore a NaN). */
static double go_max(double x, double y)
{
    if (isinf(x) && x > 0)
        return x;
    if (isinf(y) && y > 0)
        return y;
    if (isnan(x) || isnan(y))
        return NAN;
    if (x == 0 && x == y)
        return signbit(x) ? y : x;
    return x > y ? x : y;
}

static double go_min(double x, double y)
{
    if (isinf(x) && x < 0)
        return x;
    if (isinf(y) && y < 0)
        return y;
    if (isnan(x) || isnan(y))
        return NAN;
    if (x == 0 && x == y)
        return signbit(x) ? x : y;
    return x < y ? x : y;
}

/* args: min, max; max < min drops every sample. */
bool promql_k_clamp(double v, const double *args, double *out)
{
    if (args[1] < args[0])
        return false;
    *out = go_max(args[0], go_min(args[1], v));
    return true;
}

bool promql_k_clamp_min(double v, const double *args, double *out)
{
    *out = go_max(args[0], v);
    return true;
}

bool promql_k_clamp_max(double v, const double *args, double *out)
{
    *out = go_min(args[0], v);
    return true;
}

/* ---- dates: Go's time package, UTC ---- */

#define SECS_PER_DAY 86400ULL
#define DAYS_PER_400Y (365 * 400 + 97)
#define DAYS_PER_100Y (365 * 100 + 24)
#define DAYS_PER_4Y (365 * 4 + 1)
#define ABSOLUTE_ZERO_YEAR (-292277022399LL)
/* unixToInternal + internalToAbsolute, as Go's constants. */
#define UNIX_TO_ABSOLUTE (62135596800ULL + 9223371966579724800ULL)

typedef struct go_date {
    int64_t year;
    int month, day, yday; /* month 1-12, day 1-31, yday 0-365 */
} go_date;

/* int64(v) as Go compiles it on amd64: NaN and out-of-range give INT64_MIN. */
static int64_t go_int64(double v)
{
    if (isnan(v) || v >= 9223372036854775808.0 || v < -9223372036854775808.0)
        return INT64_MIN;
    return (int64_t)v;
}

/* Time.abs(): seconds since Go's absolute zero year, wrapping as Go does. */
static uint64_t go_abs(double v)
{
    return (uint64_t)go_int64(v) + UNIX_TO_ABSOLUTE;
}

static bool is_leap(int64_t y)
{
    return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

static const int days_before[13] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365};

/* absDate() of Go's time package. */
static go_date go_abs_date(uint64_t abs)
{
    uint64_t d = abs / SECS_PER_DAY;
    uint64_t n = d / DAYS_PER_400Y;
    uint64_t y = 400 * n;
    d -= DAYS_PER_400Y * n;
    n = d / DAYS_PER_100Y;
    n -= n >> 2;
    y += 100 * n;
    d -= DAYS_PER_100Y * n;
    n = d / DAYS_PER_4Y;
    y += 4 * n;
    d -= DAYS_PER_4Y * n;
    n = d / 365;
    n -= n >> 2;
    y += n;
    d -= 365 * n;

    go_date r = {.year = (int64_t)y + ABSOLUTE_ZERO_YEAR, .yday = (int)d};
    int day = r.yday;
    if (is_leap(r.year)) {
        if (day == 31 + 29 - 1) {
            r.month = 2;
            r.day = 29;
            return r;
        }
        if (day > 31 + 29 - 1)
            day--;
    }
    int month = day / 31;
    int end = days_before[month + 1], begin;
    if (day >= end) {
        month++;
        begin = end;
    } else {
        begin = days_before[month];
    }
    r.month = month + 1;
    r.day = day - begin + 1;
    return r;
}

bool promql_k_year(double v, const double *args, double *out)
{
    (void)args;
    *out = (double)go_abs_date(go_abs(v)).year;
    return true;
}

bool promql_k_month(double v, const double *args, double *out)
{
    (void)args;
    *out = go_abs_date(go_abs(v)).month;
    return true;
}

bool promql_k_day_of_month(double v, const double *args, double *out)
{
    (void)args;
    *out = go_abs_date(go_abs(v)).day;
    return true;
}

bool promql_k_day_of_year(double v, const double *args, double *out)
{
    (void)args;
    *out = go_abs_date(go_abs(v)).yday + 1;
    return true;
}

/* 2.42: 32 - time.Date(year, month, 32).Day(), i.e. the month's length. */
bool promql_k_days_in_month(double v, const double *args, double *out)
{
    (void)args;
    go_date d = go_abs_date(go_abs(v));
    int n = days_before[d.month] - days_before[d.month - 1];
    *out = d.month == 2 && is_leap(d.year) ? 29 : n;
    return true;
}

/* Sunday = 0; the absolute zero was a Monday. */
bool promql_k_day_of_week(double v, const double *args, double *out)
{
    (void)args;
    *out = (double)(((go_abs(v) + SECS_PER_DAY) % (7 * SECS_PER_DAY)) / SECS_PER_DAY);
    return true;
}

bool promql_k_hour(double v, const double *args, double *out)
{
    (void)args;
    *out = (double)((go_abs(v) % SECS_PER_DAY) / 3600);
    return true;
}

bool promql_k_minute(double v, const double *args, double *out)
{
    (void)args;
    *out = (double)((go_abs(v) % 3600) / 60);
    return true;
}
