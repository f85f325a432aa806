/*
 * simcheck.h — checks the simulator unit tests share (header-only: tests
 * are one executable per file): an exposition text must parse with our
 * parser and pass `promtool check metrics` (Debian's prometheus package,
 * installed by ./ember's TEST_PKGS), and a histogram family in a parsed set
 * must be a valid Prometheus histogram.  Include after <cmocka.h>.
 */
#ifndef EMBER_TESTS_UNIT_SIMCHECK_H
#define EMBER_TESTS_UNIT_SIMCHECK_H

#include "common/expfmt.h"
#include "tests/unit/metric_asserts.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

/* Parse text into ms (initialised here); fails the test on a parse error. */
static inline void simcheck_parse(const char *text, size_t len, metric_set *ms)
{
    metric_set_init(ms);
    expfmt_error err;
    if (expfmt_parse(text, len, NULL, ms, &err) != 0) {
        char msg[300];
        expfmt_error_format(&err, msg, sizeof msg);
        fail_msg("exposition does not parse: %s", msg);
    }
}

/* `promtool check metrics` on text: no lint problem, exit status 0. */
static inline void simcheck_promtool(const char *text, size_t len)
{
    if (system("command -v promtool >/dev/null 2>&1") != 0)
        fail_msg("promtool not found: apt-get install prometheus (./ember deps installs it)");
    char path[] = "/tmp/ember-simcheck-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    fclose(f);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "promtool check metrics < %s 2>&1", path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char out[4096];
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    int status = pclose(p);
    remove(path);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || n > 0)
        fail_msg("promtool check metrics failed (status %d):\n%s", status, out);
}

/* The value of the sample with this name and labels (NULL-terminated
 * name/value pairs, a subset of its labels), or NAN when there is none. */
static inline double simcheck_value(const metric_set *ms, const char *name, ...)
{
    va_list ap;
    va_start(ap, name);
    const metric_sample *s = find_sample_v(ms, false, name, ap);
    va_end(ap);
    return s ? s->value : NAN;
}

/*
 * For one series of a histogram (family, plus the label pair key=value):
 * buckets in increasing le with non-decreasing counts, a +Inf bucket equal
 * to _count, and a _sum.  Returns the number of buckets (+Inf included).
 */
static inline size_t simcheck_histogram(const metric_set *ms, const char *family, const char *key,
                                        const char *value)
{
    char bucket[128], count[128], sum[128];
    snprintf(bucket, sizeof bucket, "%s_bucket", family);
    snprintf(count, sizeof count, "%s_count", family);
    snprintf(sum, sizeof sum, "%s_sum", family);
    double prev_le = -INFINITY, prev_count = 0, inf_count = NAN;
    size_t n = 0;
    for (size_t i = 0; i < ms->n; i++) {
        const labelset *ls = &ms->samples[i].labels;
        const char *v = labels_get(ls, key);
        if (strcmp(labels_metric_name(ls), bucket) != 0 || !v || strcmp(v, value) != 0)
            continue;
        double le = strtod(labels_get(ls, "le"), NULL);
        assert_true(le > prev_le);
        assert_true(ms->samples[i].value >= prev_count);
        prev_le = le;
        prev_count = ms->samples[i].value;
        if (isinf(le))
            inf_count = prev_count;
        n++;
    }
    assert_true(n >= 2);
    assert_true(isinf(prev_le)); /* +Inf comes last */
    assert_true(simcheck_value(ms, count, key, value, NULL) == inf_count);
    assert_false(isnan(simcheck_value(ms, sum, key, value, NULL)));
    return n;
}

/* Smallest k with P(X <= k) >= q for X ~ Binomial(n, p), by summing the pmf. */
static inline uint64_t simcheck_binomial_quantile(uint64_t n, double p, double q)
{
    double cdf = 0;
    for (uint64_t k = 0; k <= n; k++) {
        double lpmf = lgamma((double)n + 1) - lgamma((double)k + 1) - lgamma((double)(n - k) + 1) +
                      (double)k * log(p) + (double)(n - k) * log1p(-p);
        cdf += exp(lpmf);
        if (cdf >= q)
            return k;
    }
    return n;
}

#endif
