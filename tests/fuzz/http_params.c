/*
 * fuzz target: HTTP API parameters (aggregator/http/params.c) — form and
 * query-string decoding, then what the handlers make of the fields: times
 * (api_parse_time, and api_time_param on "start"), durations
 * (api_parse_duration), and every match[] parsed as a series selector
 * (api_parse_matches).  The input is split at the first NUL: the form text
 * before it, a time and duration string after it.
 */
#include "aggregator/http/params.h"
#include "common/httpd.h"
#include "common/mem.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What the handlers do with a decoded form. */
static void use_form(const httpd_request *r)
{
    char msg[512];
    int64_t ms;
    api_time_param(r, "start", 0, &ms, msg, sizeof msg);
    promql_selector *sels = NULL;
    int n = api_parse_matches(r, &sels, msg, sizeof msg);
    if (n > 0)
        api_selectors_free(sels, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    size_t form_len = strnlen(s, size);
    httpd_request r = {.method = "GET", .path = "/api/v1/series", .body = ""};
    if (httpd_parse_form(&r, s, form_len))
        use_form(&r);
    httpd_params_free(&r);
    if (form_len < size) {
        char *t = em_strndup(s + form_len + 1, size - form_len - 1);
        int64_t ms, ns;
        char err[300];
        api_parse_time(t, &ms, err, sizeof err);
        api_parse_duration(t, &ns, err, sizeof err);
        free(t);
    }
    return 0;
}
