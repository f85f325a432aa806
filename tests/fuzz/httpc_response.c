/*
 * httpc_response.c — libFuzzer target for the agent's HTTP response parser
 * (agent/collect/httpc_parse.c): status line, headers, Content-Length,
 * chunked framing and gzip decoding, fed in pieces as a socket would.
 *
 * Input: byte 0 picks the piece size (1..256), byte 1 the body cap; the
 * rest is the response.  Properties checked (abort() on a violation):
 *  - the decoded body never exceeds the cap;
 *  - a complete response has a final status (200..999) and status text;
 *  - every error comes with a message;
 *  - feeding in pieces gives the same result as feeding at once.
 */
#include "agent/collect/httpc_parse.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct outcome {
    httpc_parse_rc rc;
    int status;
    size_t body_len;
    uint32_t body_sum;
} outcome;

static outcome parse(const char *p, size_t n, size_t piece, size_t cap)
{
    httpc_parser ps;
    httpc_parser_init(&ps, cap);
    char err[256] = "";
    httpc_parse_rc rc = HTTPC_PARSE_MORE;
    size_t off = 0;
    while (off < n && (rc == HTTPC_PARSE_MORE || rc == HTTPC_PARSE_HEADERS)) {
        size_t len = n - off < piece ? n - off : piece, used = 0;
        rc = httpc_parser_feed(&ps, p + off, len, &used, err, sizeof err);
        if (used > len)
            abort();
        off += used;
    }
    if (rc == HTTPC_PARSE_MORE || rc == HTTPC_PARSE_HEADERS)
        rc = httpc_parser_eof(&ps, err, sizeof err);
    if (rc == HTTPC_PARSE_ERROR && err[0] == '\0')
        abort();
    if (ps.body.len > cap)
        abort();
    if (rc == HTTPC_PARSE_DONE && (ps.status < 200 || ps.status > 999 || ps.status_text[0] == '\0'))
        abort();
    outcome o = {.rc = rc, .status = ps.status, .body_len = ps.body.len};
    for (size_t i = 0; i < ps.body.len; i++)
        o.body_sum = o.body_sum * 31 + (unsigned char)ps.body.data[i];
    httpc_parser_free(&ps);
    return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t piece = (size_t)data[0] + 1;
    size_t cap = data[1] < 128 ? (size_t)data[1] * 64 : (size_t)1 << 20;
    const char *p = (const char *)data + 2;
    size_t n = size - 2;
    outcome a = parse(p, n, piece, cap);
    outcome b = parse(p, n, n ? n : 1, cap);
    /* The body cap is checked per decoded piece, so the point of failure may
     * move; everything else must not depend on how the bytes arrived. */
    if (a.rc != b.rc ||
        (a.rc == HTTPC_PARSE_DONE &&
         (a.status != b.status || a.body_len != b.body_len || a.body_sum != b.body_sum)))
        abort();
    return 0;
}
