/*
 * api_metadata.c — GET /api/v1/metadata: the stored metric metadata
 * (aggregator/tsdb/metadata.c) in Prometheus's shape,
 *   {"status":"success","data":{"name":[{"type":"gauge","help":"...","unit":""}]}}
 * with its parameters: metric (one family) and limit (at most that many
 * families; negative: all; not an integer: "limit must be a number").  A
 * family has one record here, where Prometheus lists one per distinct
 * record its targets report.  Families come sorted by name.
 */
#include "aggregator/http/api.h"

#include "common/json.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>

/* strconv.Atoi: an optional sign and decimal digits, in range. */
static bool parse_atoi(const char *s, long long *out)
{
    const char *p = s + (*s == '+' || *s == '-');
    if (!isdigit((unsigned char)*p))
        return false;
    for (const char *q = p; *q; q++)
        if (!isdigit((unsigned char)*q))
            return false;
    errno = 0;
    *out = strtoll(s, NULL, 10);
    return errno == 0;
}

void api_handle_metadata(void *ctx, const httpd_request *req, httpd_response *resp)
{
    aggregator *agg = ctx;
    long long limit = -1;
    const char *ls = httpd_param_get(req, "limit");
    if (ls && ls[0] && !parse_atoi(ls, &limit)) {
        api_error(resp, 400, "bad_data", "limit must be a number");
        return;
    }
    const char *metric = httpd_param_get(req, "metric");
    tsdb_metadata *v;
    size_t n;
    tsdb_metadata_list(agg->db, metric && metric[0] ? metric : NULL, &v, &n);
    size_t shown = limit >= 0 && (unsigned long long)limit < n ? (size_t)limit : n;
    ebuf *b = &resp->body;
    resp->content_type = HTTPD_CONTENT_TYPE_JSON;
    ebuf_puts(b, "{\"status\":\"success\",\"data\":{");
    for (size_t i = 0; i < shown; i++) {
        if (i)
            ebuf_putc(b, ',');
        json_string(b, v[i].family);
        ebuf_puts(b, ":[{\"type\":");
        json_string(b, v[i].type);
        ebuf_puts(b, ",\"help\":");
        json_string(b, v[i].help);
        ebuf_puts(b, ",\"unit\":");
        json_string(b, v[i].unit);
        ebuf_puts(b, "}]");
    }
    ebuf_puts(b, "}}");
    tsdb_metadata_list_free(v, n);
}
