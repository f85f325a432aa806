/*
 * fn_kernels.h — private: the kernels behind functions.c's table, defined
 * in fn_range.c (PF_RANGE) and fn_math.c (PF_MATH).  The engine reaches
 * them only through promql_fn_impl_lookup().
 */
#ifndef EMBER_QUERY_FN_KERNELS_H
#define EMBER_QUERY_FN_KERNELS_H

#include "query/functions.h"

/* fn_range.c */
bool promql_k_rate(const promql_window *w, double *out);
bool promql_k_increase(const promql_window *w, double *out);
bool promql_k_delta(const promql_window *w, double *out);
bool promql_k_irate(const promql_window *w, double *out);
bool promql_k_idelta(const promql_window *w, double *out);
bool promql_k_deriv(const promql_window *w, double *out);
bool promql_k_predict_linear(const promql_window *w, double *out);
bool promql_k_changes(const promql_window *w, double *out);
bool promql_k_resets(const promql_window *w, double *out);
bool promql_k_holt_winters(const promql_window *w, double *out);
bool promql_k_avg_over_time(const promql_window *w, double *out);
bool promql_k_count_over_time(const promql_window *w, double *out);
bool promql_k_last_over_time(const promql_window *w, double *out);
bool promql_k_max_over_time(const promql_window *w, double *out);
bool promql_k_min_over_time(const promql_window *w, double *out);
bool promql_k_sum_over_time(const promql_window *w, double *out);
bool promql_k_quantile_over_time(const promql_window *w, double *out);
bool promql_k_stddev_over_time(const promql_window *w, double *out);
bool promql_k_stdvar_over_time(const promql_window *w, double *out);
bool promql_k_present_over_time(const promql_window *w, double *out);

/* fn_math.c: v is the sample value, args the scalar arguments after it. */
bool promql_k_abs(double v, const double *args, double *out);
bool promql_k_ceil(double v, const double *args, double *out);
bool promql_k_floor(double v, const double *args, double *out);
bool promql_k_exp(double v, const double *args, double *out);
bool promql_k_sqrt(double v, const double *args, double *out);
bool promql_k_ln(double v, const double *args, double *out);
bool promql_k_log2(double v, const double *args, double *out);
bool promql_k_log10(double v, const double *args, double *out);
bool promql_k_sin(double v, const double *args, double *out);
bool promql_k_cos(double v, const double *args, double *out);
bool promql_k_tan(double v, const double *args, double *out);
bool promql_k_asin(double v, const double *args, double *out);
bool promql_k_acos(double v, const double *args, double *out);
bool promql_k_atan(double v, const double *args, double *out);
bool promql_k_sinh(double v, const double *args, double *out);
bool promql_k_cosh(double v, const double *args, double *out);
bool promql_k_tanh(double v, const double *args, double *out);
bool promql_k_asinh(double v, const double *args, double *out);
bool promql_k_acosh(double v, const double *args, double *out);
bool promql_k_atanh(double v, const double *args, double *out);
bool promql_k_rad(double v, const double *args, double *out);
bool promql_k_deg(double v, const double *args, double *out);
bool promql_k_sgn(double v, const double *args, double *out);
bool promql_k_round(double v, const double *args, double *out);
bool promql_k_clamp(double v, const double *args, double *out);
bool promql_k_clamp_min(double v, const double *args, double *out);
bool promql_k_clamp_max(double v, const double *args, double *out);
bool promql_k_days_in_month(double v, const double *args, double *out);
bool promql_k_day_of_month(double v, const double *args, double *out);
bool promql_k_day_of_week(double v, const double *args, double *out);
bool promql_k_day_of_year(double v, const double *args, double *out);
bool promql_k_hour(double v, const double *args, double *out);
bool promql_k_minute(double v, const double *args, double *out);
bool promql_k_month(double v, const double *args, double *out);
bool promql_k_year(double v, const double *args, double *out);

#endif
