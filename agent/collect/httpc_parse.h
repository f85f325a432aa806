/*
 * httpc_parse.h — the HTTP/1.x response parser of the agent's HTTP client
 * (httpc.h): status line, headers, body framing (Content-Length,
 * Transfer-Encoding: chunked, or until the connection closes) and
 * Content-Encoding: gzip, with a cap on the decoded body.
 *
 * It is a push parser so that it never sees the socket: the client feeds
 * whatever bytes a read returned, and the fuzz target (tests/fuzz/
 * httpc_response.c) feeds arbitrary splits of arbitrary input.
 *
 *   httpc_parser p;
 *   httpc_parser_init(&p, 64 << 20);
 *   rc = httpc_parser_feed(&p, buf, n, &used, err, errlen);  // again with
 *   ...                                  // the rest after HTTPC_PARSE_HEADERS
 *   rc = httpc_parser_eof(&p, err, errlen);                  // on EOF
 *   httpc_parser_free(&p);
 *
 * Interim 1xx responses are skipped.  Errors are one line, without the URL
 * (the client adds it): "malformed HTTP status line \"garbage\"".
 */
#ifndef EMBER_AGENT_COLLECT_HTTPC_PARSE_H
#define EMBER_AGENT_COLLECT_HTTPC_PARSE_H

#include "common/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The header section (status line included) may not be longer. */
#define HTTPC_MAX_HEADER_BYTES (64u * 1024)

typedef enum httpc_parse_rc {
    HTTPC_PARSE_ERROR = -1,
    HTTPC_PARSE_MORE = 0,    /* everything consumed, more wanted */
    HTTPC_PARSE_HEADERS = 1, /* the final response's headers are complete; a body follows */
    HTTPC_PARSE_DONE = 2,    /* the whole response is there (headers included) */
} httpc_parse_rc;

struct z_stream_s; /* zlib's */

typedef struct httpc_parser {
    int state; /* internal: which part of the message comes next */
    size_t max_body;
    ebuf line;           /* the header or chunk-size line being collected */
    size_t header_bytes; /* of the current header section */
    /* the response, once HTTPC_PARSE_HEADERS was returned */
    int status;
    char status_text[128]; /* "404 Not Found", or "404" without a reason */
    char *location;        /* Location header, or NULL */
    bool chunked, gzip, has_length;
    uint64_t length;    /* Content-Length */
    uint64_t remaining; /* bytes left of the body or of the current chunk */
    struct z_stream_s *z;
    bool z_end; /* the gzip stream has ended (and nothing followed yet) */
    ebuf body;  /* decoded */
} httpc_parser;

void httpc_parser_init(httpc_parser *p, size_t max_body);
void httpc_parser_free(httpc_parser *p);

/*
 * Consume up to len bytes; *used says how many.  Returns HTTPC_PARSE_HEADERS
 * once, as soon as the final header section is complete and a body follows
 * (then call again with the rest), HTTPC_PARSE_DONE when the message is complete (bytes
 * after it are not used), HTTPC_PARSE_MORE when all was used, or
 * HTTPC_PARSE_ERROR with err.
 */
httpc_parse_rc httpc_parser_feed(httpc_parser *p, const char *data, size_t len, size_t *used,
                                 char *err, size_t errlen);

/* The connection closed: HTTPC_PARSE_DONE if that ends the message. */
httpc_parse_rc httpc_parser_eof(httpc_parser *p, char *err, size_t errlen);

#endif
