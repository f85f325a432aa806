/*
 * fuzz target: HTTP API parameters — form/query-string decoding and the
 * time parameter parser.  The input is split at the first NUL: the form text
 * before it, a time string after it.
 */
#include "aggregator/http/params.h"
#include "common/httpd.h"
#include "common/mem.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    size_t form_len = strnlen(s, size);
    httpd_request r = {0};
    httpd_parse_form(&r, s, form_len);
    httpd_params_free(&r);
    if (form_len < size) {
        char *t = em_strndup(s + form_len + 1, size - form_len - 1);
        int64_t ms;
        char err[300];
        api_parse_time(t, &ms, err, sizeof err);
        free(t);
    }
    return 0;
}
