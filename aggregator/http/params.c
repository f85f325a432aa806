/* params.c — API parameter parsing (see params.h). */
#include "aggregator/http/params.h"

#include "common/etime.h"
#include "common/fmtfloat.h"
#include "common/mem.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static bool digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

static bool parse_rfc3339(const char *s, int64_t *ms)
{
    int Y, M, D, h, m, sec;
    size_t len = strlen(s);
    if (len < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' ||
        s[16] != ':')
        return false;
    if (!digits(s, 4, &Y) || !digits(s + 5, 2, &M) || !digits(s + 8, 2, &D) ||
        !digits(s + 11, 2, &h) || !digits(s + 14, 2, &m) || !digits(s + 17, 2, &sec))
        return false;
    if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60)
        return false;
    const char *p = s + 19;
    double frac = 0, scale = 0.1;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p))
            return false;
        for (; isdigit((unsigned char)*p); p++, scale /= 10)
            frac += (*p - '0') * scale;
    }
    int64_t offset_s = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        if (strlen(p) != 6 || p[3] != ':' || !digits(p + 1, 2, &oh) || !digits(p + 4, 2, &om))
            return false;
        offset_s = (oh * 3600 + om * 60) * (*p == '-' ? -1 : 1);
        p += 6;
    } else {
        return false;
    }
    if (*p)
        return false;
    int64_t secs = days_from_civil(Y, M, D) * 86400 + h * 3600 + m * 60 + sec - offset_s;
    *ms = secs * 1000 + (int64_t)llround(frac * 1000);
    return true;
}

/* Prometheus's minTime and maxTime as RFC 3339 (Go's four-digit-year
 * parser cannot read them back, so web/api/v1 matches the texts). */
static const char min_time_text[] = "-292273086-05-16T16:47:06Z";
static const char max_time_text[] = "292277025-08-18T07:12:54.999999999Z";

bool api_parse_time(const char *s, int64_t *ms, char *err, size_t errlen)
{
    double v;
    if (parse_float(s, strlen(s), &v) && isfinite(v) && fabs(v) < 9.2e15) {
        *ms = (int64_t)llround(v * 1000.0);
        return true;
    }
    if (parse_rfc3339(s, ms))
        return true;
    if (strcmp(s, min_time_text) == 0 || strcmp(s, max_time_text) == 0) {
        *ms = s[0] == '-' ? API_MIN_TIME_MS : API_MAX_TIME_MS;
        return true;
    }
    snprintf(err, errlen, "cannot parse \"%s\" to a valid timestamp", s);
    return false;
}

bool api_parse_duration(const char *s, int64_t *ns, char *err, size_t errlen)
{
    double secs;
    int64_t ms;
    if (parse_float(s, strlen(s), &secs)) {
        double d = secs * 1e9;
        if (d >= 9223372036854775808.0 || d < -9223372036854775808.0) {
            snprintf(err, errlen, "cannot parse \"%s\" to a valid duration. It overflows int64", s);
            return false;
        }
        /* Go's float → int64 conversion of NaN gives the minimum. */
        *ns = isnan(d) ? INT64_MIN : (int64_t)d;
        return true;
    }
    if (parse_duration_ms(s, &ms)) {
        *ns = ms * 1000000;
        return true;
    }
    snprintf(err, errlen, "cannot parse \"%s\" to a valid duration", s);
    return false;
}

bool api_time_param(const httpd_request *req, const char *name, int64_t dflt, int64_t *ms,
                    char *msg, size_t msglen)
{
    const char *s = httpd_param_get(req, name);
    char err[300];
    *ms = dflt;
    if (!s || !s[0] || api_parse_time(s, ms, err, sizeof err))
        return true;
    snprintf(msg, msglen, "invalid parameter \"%s\": Invalid time value for '%s': %s", name, name,
             err);
    return false;
}

int api_parse_matches(const httpd_request *req, promql_selector **out, char *msg, size_t msglen)
{
    int n = 0;
    *out = NULL;
    for (size_t i = 0; i < req->nparams; i++) {
        if (strcmp(req->params[i].name, "match[]") != 0)
            continue;
        *out = em_realloc(*out, (size_t)(n + 1) * sizeof **out);
        promql_error perr;
        if (promql_parse_selector(req->params[i].value, &(*out)[n], &perr) != 0) {
            snprintf(msg, msglen, "%s", perr.msg);
            api_selectors_free(*out, n);
            *out = NULL;
            return -1;
        }
        n++;
    }
    return n;
}

void api_selectors_free(promql_selector *v, int n)
{
    for (int i = 0; i < n; i++)
        promql_selector_free(&v[i]);
    free(v);
}
