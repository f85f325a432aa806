/*
 * fn_range.c — the range-vector kernels of PromQL (rate, increase, delta,
 * irate, idelta, deriv, predict_linear, changes, resets, holt_winters and
 * the *_over_time aggregations), ported from Prometheus 2.42's
 * promql/functions.go with its exact arithmetic: the same order of
 * operations, Kahan-Neumaier sums where 2.42 has them, and the same
 * NaN/Inf behaviour, so that results agree bit for bit with the peer.
 *
 * Each kernel sees the samples of one series at one step (promql_window)
 * and returns false when Prometheus would produce no output.
 */
#include "query/fn_kernels.h"

#include "common/mem.h"

#include <math.h>
#include <stdlib.h>

/* kahanSumInc(): one step of Neumaier's compensated summation. */
static void kahan_inc(double inc, double *sum, double *c)
{
    double t = *sum + inc;
    if (fabs(*sum) >= fabs(inc))
        *c += (*sum - t) + inc;
    else
        *c += (inc - t) + *sum;
    *sum = t;
}

static double range_seconds(const promql_window *w)
{
    return (double)(w->range_end - w->range_start) / 1000.0;
}

/*
 * extrapolatedRate(): the increase between the first and last sample
 * (corrected for counter resets), extrapolated to the range boundaries when
 * the samples come close enough to them (within 1.1 average intervals),
 * otherwise by half an average interval; a counter is never extrapolated
 * below zero.  2.42 applies the zero-point limit before the threshold test.
 */
static bool extrapolated_rate(const promql_window *w, double *out, bool is_counter, bool is_rate)
{
    if (w->n < 2)
        return false;
    const qsample *p = w->pts;
    size_t last = w->n - 1;
    double result = p[last].v - p[0].v;
    if (is_counter) {
        double prev = 0;
        for (size_t i = 0; i < w->n; i++) {
            if (p[i].v < prev)
                result += prev;
            prev = p[i].v;
        }
    }
    double to_start = (double)(p[0].t - w->range_start) / 1000;
    double to_end = (double)(w->range_end - p[last].t) / 1000;
    double sampled = (double)(p[last].t - p[0].t) / 1000;
    double avg = sampled / (double)last;

    if (is_counter && result > 0 && p[0].v >= 0) {
        double to_zero = sampled * (p[0].v / result);
        if (to_zero < to_start)
            to_start = to_zero;
    }
    double threshold = avg * 1.1;
    double interval = sampled;
    interval += to_start < threshold ? to_start : avg / 2;
    interval += to_end < threshold ? to_end : avg / 2;
    /* The factor first, as Prometheus: the last bits matter for ties. */
    double factor = interval / sampled;
    if (is_rate)
        factor /= range_seconds(w);
    *out = result * factor;
    return true;
}

bool promql_k_rate(const promql_window *w, double *out)
{
    return extrapolated_rate(w, out, true, true);
}

bool promql_k_increase(const promql_window *w, double *out)
{
    return extrapolated_rate(w, out, true, false);
}

bool promql_k_delta(const promql_window *w, double *out)
{
    return extrapolated_rate(w, out, false, false);
}

/* instantValue(): from the last two samples only. */
static bool instant_value(const promql_window *w, double *out, bool is_rate)
{
    if (w->n < 2)
        return false;
    qsample last = w->pts[w->n - 1], prev = w->pts[w->n - 2];
    double result = is_rate && last.v < prev.v ? last.v : last.v - prev.v;
    int64_t interval = last.t - prev.t;
    if (interval == 0)
        return false;
    if (is_rate)
        result /= (double)interval / 1000;
    *out = result;
    return true;
}

bool promql_k_irate(const promql_window *w, double *out)
{
    return instant_value(w, out, true);
}

bool promql_k_idelta(const promql_window *w, double *out)
{
    return instant_value(w, out, false);
}

/*
 * linearRegression(): least squares with x in seconds relative to
 * intercept_t, Kahan sums as in 2.42; a constant series has slope 0 (or
 * NaN when the constant is infinite).
 */
static void linear_regression(const promql_window *w, int64_t intercept_t, double *slope,
                              double *intercept)
{
    double n = 0, sx = 0, cx = 0, sy = 0, cy = 0, sxy = 0, cxy = 0, sx2 = 0, cx2 = 0;
    double init_y = w->pts[0].v;
    bool const_y = true;
    for (size_t i = 0; i < w->n; i++) {
        double v = w->pts[i].v;
        if (const_y && i > 0 && v != init_y)
            const_y = false;
        n += 1.0;
        double x = (double)(w->pts[i].t - intercept_t) / 1e3;
        kahan_inc(x, &sx, &cx);
        kahan_inc(v, &sy, &cy);
        kahan_inc(x * v, &sxy, &cxy);
        kahan_inc(x * x, &sx2, &cx2);
    }
    if (const_y) {
        *slope = isinf(init_y) ? NAN : 0;
        *intercept = isinf(init_y) ? NAN : init_y;
        return;
    }
    sx += cx;
    sy += cy;
    sxy += cxy;
    sx2 += cx2;
    double cov_xy = sxy - sx * sy / n;
    double var_x = sx2 - sx * sx / n;
    *slope = cov_xy / var_x;
    *intercept = sy / n - *slope * sx / n;
}

bool promql_k_deriv(const promql_window *w, double *out)
{
    if (w->n < 2)
        return false;
    double slope, intercept;
    /* Near the samples, to avoid precision loss (prometheus#2674). */
    linear_regression(w, w->pts[0].t, &slope, &intercept);
    *out = slope;
    return true;
}

/* args[0]: the number of seconds ahead of the step time. */
bool promql_k_predict_linear(const promql_window *w, double *out)
{
    if (w->n < 2)
        return false;
    double slope, intercept;
    linear_regression(w, w->t, &slope, &intercept);
    *out = slope * w->args[0] + intercept;
    return true;
}

/* How many consecutive pairs (prev, cur) of the window satisfy pred. */
static double count_pairs(const promql_window *w, bool (*pred)(double prev, double cur))
{
    int n = 0;
    for (size_t i = 1; i < w->n; i++)
        if (pred(w->pts[i - 1].v, w->pts[i].v))
            n++;
    return n;
}

/* Two NaNs in a row are no change. */
static bool is_change(double prev, double cur)
{
    return cur != prev && !(isnan(cur) && isnan(prev));
}

/* A NaN neither is nor causes a reset (comparisons with NaN are false). */
static bool is_reset(double prev, double cur)
{
    return cur < prev;
}

bool promql_k_changes(const promql_window *w, double *out)
{
    *out = count_pairs(w, is_change);
    return true;
}

bool promql_k_resets(const promql_window *w, double *out)
{
    *out = count_pairs(w, is_reset);
    return true;
}

/*
 * holt_winters(v, sf = args[0], tf = args[1]): double exponential
 * smoothing; the factors are validated by promql_fn_check_args first.
 */
bool promql_k_holt_winters(const promql_window *w, double *out)
{
    if (w->n < 2)
        return false;
    double sf = w->args[0], tf = w->args[1];
    double s0 = 0, s1 = w->pts[0].v, b = w->pts[1].v - w->pts[0].v;
    for (size_t i = 1; i < w->n; i++) {
        double x = sf * w->pts[i].v;
        /* calcTrendValue(i-1, ...): the first trend is b itself. */
        if (i - 1 != 0)
            b = tf * (s1 - s0) + (1 - tf) * b;
        double y = (1 - sf) * (s1 + b);
        s0 = s1;
        s1 = x + y;
    }
    *out = s1;
    return true;
}

/* avg_over_time: an incremental Kahan mean that keeps an infinite mean. */
bool promql_k_avg_over_time(const promql_window *w, double *out)
{
    double mean = 0, count = 0, c = 0;
    for (size_t i = 0; i < w->n; i++) {
        double v = w->pts[i].v;
        count++;
        if (isinf(mean)) {
            if (isinf(v) && (mean > 0) == (v > 0))
                continue; /* Inf of the same sign: the mean stays */
            if (!isinf(v) && !isnan(v))
                continue; /* Inf - Inf below would give NaN */
        }
        kahan_inc(v / count - mean / count, &mean, &c);
    }
    *out = isinf(mean) ? mean : mean + c;
    return true;
}

bool promql_k_count_over_time(const promql_window *w, double *out)
{
    *out = (double)w->n;
    return true;
}

bool promql_k_last_over_time(const promql_window *w, double *out)
{
    *out = w->pts[w->n - 1].v;
    return true;
}

/* A NaN is replaced by any later value; the result is NaN only if all are. */
bool promql_k_max_over_time(const promql_window *w, double *out)
{
    double max = w->pts[0].v;
    for (size_t i = 0; i < w->n; i++)
        if (w->pts[i].v > max || isnan(max))
            max = w->pts[i].v;
    *out = max;
    return true;
}

bool promql_k_min_over_time(const promql_window *w, double *out)
{
    double min = w->pts[0].v;
    for (size_t i = 0; i < w->n; i++)
        if (w->pts[i].v < min || isnan(min))
            min = w->pts[i].v;
    *out = min;
    return true;
}

bool promql_k_sum_over_time(const promql_window *w, double *out)
{
    double sum = 0, c = 0;
    for (size_t i = 0; i < w->n; i++)
        kahan_inc(w->pts[i].v, &sum, &c);
    *out = isinf(sum) ? sum : sum + c;
    return true;
}

/* args[0]: φ. */
bool promql_k_quantile_over_time(const promql_window *w, double *out)
{
    double *vals = em_malloc(w->n * sizeof(*vals));
    for (size_t i = 0; i < w->n; i++)
        vals[i] = w->pts[i].v;
    *out = promql_quantile(w->args[0], vals, w->n);
    free(vals);
    return true;
}

/* Welford's running mean and variance, with Kahan sums as in 2.42. */
static double variance(const promql_window *w)
{
    double count = 0, mean = 0, cmean = 0, aux = 0, caux = 0;
    for (size_t i = 0; i < w->n; i++) {
        double v = w->pts[i].v;
        count++;
        double delta = v - (mean + cmean);
        kahan_inc(delta / count, &mean, &cmean);
        kahan_inc(delta * (v - (mean + cmean)), &aux, &caux);
    }
    return (aux + caux) / count;
}

bool promql_k_stddev_over_time(const promql_window *w, double *out)
{
    *out = sqrt(variance(w));
    return true;
}

bool promql_k_stdvar_over_time(const promql_window *w, double *out)
{
    *out = variance(w);
    return true;
}

bool promql_k_present_over_time(const promql_window *w, double *out)
{
    (void)w;
    *out = 1;
    return true;
}
