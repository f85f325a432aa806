/*
 * api_admin.c — Prometheus's TSDB admin API, POST or PUT:
 *   /api/v1/admin/tsdb/snapshot?skip_head=<bool>  → {"name":"<dir>"} under
 *       DATA_DIR/snapshots/ (YYYYMMDDTHHMMSSZ-<16 hex>, Prometheus's names)
 *   /api/v1/admin/tsdb/delete_series?match[]=&start=&end=  → 204
 *   /api/v1/admin/tsdb/clean_tombstones  → 204
 * Off unless --web.enable-admin-api, answering then as Prometheus 2.42 does
 * (500, errorType "unavailable", "admin APIs disabled"); with web
 * authentication they need the write role (api.c).  Parameters and error
 * texts are web/api/v1's.  Deletes leave no tombstones (tsdb/delete.c), so
 * clean_tombstones has nothing to do.
 */
#include "aggregator/http/api.h"
#include "aggregator/http/params.h"
#include "common/config_yaml.h"
#include "common/fsutil.h"
#include "common/log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

static bool admin_enabled(const aggregator *agg, httpd_response *resp)
{
    if (agg->enable_admin_api)
        return true;
    api_error(resp, 500, "unavailable", "admin APIs disabled");
    return false;
}

/* skip_head: absent or empty is false; otherwise Go's strconv.ParseBool. */
static bool skip_head_param(const httpd_request *req, bool *skip, httpd_response *resp)
{
    const char *s = httpd_param_get(req, "skip_head");
    opt_spec spec = {.name = "skip_head", .kind = OPT_BOOL, .target = skip};
    *skip = false;
    if (!s || !s[0] || opt_store_scalar(&spec, s))
        return true;
    char msg[300];
    snprintf(msg, sizeof msg,
             "invalid parameter \"skip_head\": unable to parse boolean: strconv.ParseBool: "
             "parsing \"%.100s\": invalid syntax",
             s);
    api_error(resp, 400, "bad_data", msg);
    return false;
}

/* Prometheus's name: UTC time, then a random 63-bit number in hex. */
static void snapshot_name(char *out, size_t len)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    char ts[32];
    strftime(ts, sizeof ts, "%Y%m%dT%H%M%SZ", &tm);
    uint64_t r = 0;
    if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r)
        r = (uint64_t)now * 6364136223846793005ULL + (uint64_t)clock();
    snprintf(out, len, "%s-%016" PRIx64, ts, r >> 1);
}

void api_handle_admin_snapshot(void *ctx, const httpd_request *req, httpd_response *resp)
{
    aggregator *agg = ctx;
    bool skip;
    if (!admin_enabled(agg, resp) || !skip_head_param(req, &skip, resp))
        return;
    char name[64], dir[4096], err[4400];
    snapshot_name(name, sizeof name);
    snprintf(dir, sizeof dir, "%s/snapshots", agg->data_dir);
    if (fs_mkdir_p(dir) != 0) {
        snprintf(err, sizeof err, "create snapshot directory: mkdir %s: %s", dir, strerror(errno));
        api_error(resp, 500, "internal", err);
        return;
    }
    snprintf(dir, sizeof dir, "%s/snapshots/%s", agg->data_dir, name);
    char why[600];
    if (tsdb_snapshot(agg->db, dir, skip, why, sizeof why) != 0) {
        snprintf(err, sizeof err, "create snapshot: %s", why);
        api_error(resp, 500, "internal", err);
        return;
    }
    log_info("snapshot created", "name=%s skip_head=%s", name, skip ? "true" : "false");
    resp->content_type = HTTPD_CONTENT_TYPE_JSON;
    ebuf_printf(&resp->body, "{\"status\":\"success\",\"data\":{\"name\":\"%s\"}}", name);
}

/* Each match[] in turn, as Prometheus's loop: the first failure answers. */
static void delete_each(aggregator *agg, const promql_selector *sels, int n, int64_t mint,
                        int64_t maxt, httpd_response *resp)
{
    uint64_t total = 0;
    for (int i = 0; i < n; i++) {
        char err[512];
        uint64_t deleted;
        if (tsdb_delete(agg->db, sels[i].matchers, sels[i].n, mint, maxt, &deleted, err,
                        sizeof err) != 0) {
            api_error(resp, 500, "internal", err);
            return;
        }
        total += deleted;
    }
    log_info("series deleted", "selectors=%d start=%" PRId64 " end=%" PRId64 " samples=%" PRIu64, n,
             mint, maxt, total);
    resp->status = 204;
    resp->content_type = NULL;
}

void api_handle_admin_delete_series(void *ctx, const httpd_request *req, httpd_response *resp)
{
    aggregator *agg = ctx;
    if (!admin_enabled(agg, resp))
        return;
    if (!httpd_param_get(req, "match[]")) {
        api_error(resp, 400, "bad_data", "no match[] parameter provided");
        return;
    }
    char msg[700], perr[400];
    int64_t mint, maxt;
    if (!api_time_param(req, "start", API_MIN_TIME_MS, &mint, msg, sizeof msg) ||
        !api_time_param(req, "end", API_MAX_TIME_MS, &maxt, msg, sizeof msg)) {
        api_error(resp, 400, "bad_data", msg);
        return;
    }
    promql_selector *sels;
    int n = api_parse_matches(req, &sels, perr, sizeof perr);
    if (n < 0) {
        snprintf(msg, sizeof msg, "invalid parameter \"match[]\": %s", perr);
        api_error(resp, 400, "bad_data", msg);
        return;
    }
    delete_each(agg, sels, n, mint, maxt, resp);
    api_selectors_free(sels, n);
}

void api_handle_admin_clean_tombstones(void *ctx, const httpd_request *req, httpd_response *resp)
{
    if (!admin_enabled(ctx, resp))
        return;
    resp->status = 204; /* deletes write no tombstones */
    resp->content_type = NULL;
}
