/*
 * test_http.c — the aggregator's HTTP layer: form decoding, API time
 * parameters, and the server itself on a loopback port (routing, GET and
 * POST parameters, 404/405, body limit).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "aggregator/http/params.h"
#include "aggregator/http/server.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void free_params(http_request *r)
{
    for (size_t i = 0; i < r->nparams; i++) {
        free(r->params[i].name);
        free(r->params[i].value);
    }
    free(r->params);
}

static void test_form_decoding(void **state)
{
    http_request r = {0};
    const char *q = "query=up%7Bjob%3D%22a+b%22%7D&match[]=x&match[]=y&empty=&flag&time=1.5";
    assert_true(http_parse_form(&r, q, strlen(q)));
    assert_int_equal(r.nparams, 6);
    assert_string_equal(http_param_get(&r, "query"), "up{job=\"a b\"}");
    assert_string_equal(r.params[1].value, "x");
    assert_string_equal(r.params[2].value, "y");
    assert_string_equal(http_param_get(&r, "empty"), "");
    assert_string_equal(http_param_get(&r, "flag"), "");
    assert_null(http_param_get(&r, "nothing"));
    free_params(&r);

    http_request bad = {0};
    assert_false(http_parse_form(&bad, "a=%zz", 5));
    free_params(&bad);
    http_request cut = {0};
    assert_false(http_parse_form(&cut, "a=%4", 4));
    free_params(&cut);
}

static void test_api_time(void **state)
{
    int64_t ms;
    char err[128];
    assert_true(api_parse_time("1700000000", &ms, err, sizeof err));
    assert_int_equal(ms, 1700000000000);
    assert_true(api_parse_time("1700000000.123", &ms, err, sizeof err));
    assert_int_equal(ms, 1700000000123);
    assert_true(api_parse_time("-1.5", &ms, err, sizeof err));
    assert_int_equal(ms, -1500);
    assert_true(api_parse_time("2026-11-26T23:59:00Z", &ms, err, sizeof err));
    assert_int_equal(ms, 1795737540000);
    assert_true(api_parse_time("2026-11-26T23:59:00.250+01:00", &ms, err, sizeof err));
    assert_int_equal(ms, 1795737540250 - 3600000);
    assert_true(api_parse_time("1970-01-01T00:00:00Z", &ms, err, sizeof err));
    assert_int_equal(ms, 0);
    assert_false(api_parse_time("yesterday", &ms, err, sizeof err));
    assert_string_equal(err, "cannot parse \"yesterday\" to a valid timestamp");
    assert_false(api_parse_time("2026-13-01T00:00:00Z", &ms, err, sizeof err));
    assert_false(api_parse_time("2026-11-26T23:59:00", &ms, err, sizeof err));
    assert_false(api_parse_time("NaN", &ms, err, sizeof err));
    assert_false(api_parse_time("", &ms, err, sizeof err));
}

static void echo(void *ctx, const http_request *req, http_response *resp)
{
    int *calls = ctx;
    (*calls)++;
    resp->content_type = "text/plain";
    ebuf_printf(&resp->body, "%s %s", req->method, req->path);
    for (size_t i = 0; i < req->nparams; i++)
        ebuf_printf(&resp->body, " %s=%s", req->params[i].name, req->params[i].value);
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    ebuf_append(ud, p, size * n);
    return size * n;
}

static long request(unsigned port, const char *path, const char *post, ebuf *body)
{
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%u%s", port, path);
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
    if (post)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, post);
    long status = 0;
    ebuf_reset(body);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    return status;
}

static void test_server_routes_and_params(void **state)
{
    int calls = 0;
    static const http_route routes[] = {{"/echo", echo, true}, {"/get-only", echo, false}};
    http_server *s;
    char err[256];
    assert_int_equal(http_server_start("127.0.0.1:0", routes, 2, &calls, &s, err, sizeof err), 0);
    unsigned port = http_server_port(s);
    assert_true(port > 0);
    ebuf b;
    ebuf_init(&b);
    assert_int_equal(request(port, "/echo?a=1&b=x%20y", NULL, &b), 200);
    assert_string_equal(b.data, "GET /echo a=1 b=x y");
    assert_int_equal(request(port, "/echo?a=1", "q=up%7B%7D&a=2", &b), 200);
    assert_string_equal(b.data, "POST /echo a=1 q=up{} a=2");
    assert_int_equal(request(port, "/get-only", "q=1", &b), 405);
    assert_non_null(strstr(b.data, "\"errorType\":\"bad_data\""));
    assert_int_equal(request(port, "/nope", NULL, &b), 404);
    assert_int_equal(request(port, "/echo", "bad=%zz", &b), 400);
    assert_int_equal(calls, 2);
    ebuf_free(&b);
    http_server_stop(s);
}

static void test_busy_port_and_bad_address(void **state)
{
    static const http_route routes[] = {{"/echo", echo, false}};
    http_server *s, *s2;
    char err[256], addr[64];
    int calls = 0;
    assert_int_equal(http_server_start("127.0.0.1:0", routes, 1, &calls, &s, err, sizeof err), 0);
    snprintf(addr, sizeof addr, "127.0.0.1:%u", http_server_port(s));
    assert_int_equal(http_server_start(addr, routes, 1, &calls, &s2, err, sizeof err), -1);
    assert_non_null(strstr(err, "in use"));
    assert_non_null(strstr(err, addr));
    assert_int_equal(http_server_start("no-port", routes, 1, &calls, &s2, err, sizeof err), -1);
    assert_non_null(strstr(err, "HOST:PORT"));
    http_server_stop(s);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_form_decoding),
        cmocka_unit_test(test_api_time),
        cmocka_unit_test(test_server_routes_and_params),
        cmocka_unit_test(test_busy_port_and_bad_address),
    };
    int rc = cmocka_run_group_tests_name("http", tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
