/*
 * functions.c — the table from PromQL function name to its implementation
 * (a range kernel, a per-sample kernel, or "the engine does it"), covering
 * every function of the parser's table in ast.c, and the execution-time
 * argument checks of Prometheus 2.42.
 */
#include "query/fn_kernels.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RANGE(n)                                                                                   \
    {                                                                                              \
#n, PF_RANGE, promql_k_##n, NULL                                                           \
    }
#define MATH(n)                                                                                    \
    {                                                                                              \
#n, PF_MATH, NULL, promql_k_##n                                                            \
    }
#define ENGINE(n)                                                                                  \
    {                                                                                              \
#n, PF_ENGINE, NULL, NULL                                                                  \
    }

/* Sorted by name, as bsearch needs. */
static const promql_fn_impl impls[] = {
    MATH(abs),
    ENGINE(absent),
    ENGINE(absent_over_time),
    MATH(acos),
    MATH(acosh),
    MATH(asin),
    MATH(asinh),
    MATH(atan),
    MATH(atanh),
    RANGE(avg_over_time),
    MATH(ceil),
    RANGE(changes),
    MATH(clamp),
    MATH(clamp_max),
    MATH(clamp_min),
    MATH(cos),
    MATH(cosh),
    RANGE(count_over_time),
    MATH(day_of_month),
    MATH(day_of_week),
    MATH(day_of_year),
    MATH(days_in_month),
    MATH(deg),
    RANGE(delta),
    RANGE(deriv),
    MATH(exp),
    MATH(floor),
    ENGINE(histogram_count),
    ENGINE(histogram_fraction),
    ENGINE(histogram_quantile),
    ENGINE(histogram_sum),
    RANGE(holt_winters),
    MATH(hour),
    RANGE(idelta),
    RANGE(increase),
    RANGE(irate),
    ENGINE(label_join),
    ENGINE(label_replace),
    RANGE(last_over_time),
    MATH(ln),
    MATH(log10),
    MATH(log2),
    RANGE(max_over_time),
    RANGE(min_over_time),
    MATH(minute),
    MATH(month),
    ENGINE(pi),
    RANGE(predict_linear),
    RANGE(present_over_time),
    RANGE(quantile_over_time),
    MATH(rad),
    RANGE(rate),
    RANGE(resets),
    MATH(round),
    ENGINE(scalar),
    MATH(sgn),
    MATH(sin),
    MATH(sinh),
    ENGINE(sort),
    ENGINE(sort_desc),
    MATH(sqrt),
    RANGE(stddev_over_time),
    RANGE(stdvar_over_time),
    RANGE(sum_over_time),
    MATH(tan),
    MATH(tanh),
    ENGINE(time),
    ENGINE(timestamp),
    ENGINE(vector),
    MATH(year),
};

static int cmp_impl(const void *key, const void *elem)
{
    return strcmp(key, ((const promql_fn_impl *)elem)->name);
}

const promql_fn_impl *promql_fn_impl_lookup(const char *name)
{
    return bsearch(name, impls, sizeof(impls) / sizeof(impls[0]), sizeof(impls[0]), cmp_impl);
}

/* Go's %f: as C's, but NaN and ±Inf spelled the Go way. */
static void go_fmt_f(char *out, size_t n, double v)
{
    if (isnan(v))
        snprintf(out, n, "NaN");
    else if (isinf(v))
        snprintf(out, n, "%cInf", v > 0 ? '+' : '-');
    else
        snprintf(out, n, "%f", v);
}

static bool check_factor(const char *what, const char *sym, double v, char *err, size_t errlen)
{
    if (!(v <= 0 || v >= 1))
        return true; /* NaN passes, as in 2.42 */
    char num[400];
    go_fmt_f(num, sizeof(num), v);
    snprintf(err, errlen, "invalid %s factor. Expected: 0 < %s < 1, got: %s", what, sym, num);
    return false;
}

bool promql_fn_check_args(const char *name, const double *args, size_t nargs, char *err,
                          size_t errlen)
{
    if (strcmp(name, "holt_winters") != 0 || nargs < 2)
        return true;
    return check_factor("smoothing", "sf", args[0], err, errlen) &&
           check_factor("trend", "tf", args[1], err, errlen);
}
