/*
 * httpc_parse.c — HTTP/1.x response parsing for the agent's HTTP client:
 * status line, headers, body framing and gzip decoding (see httpc_parse.h).
 *
 * Only what a scrape needs is understood: Content-Length, Transfer-Encoding:
 * chunked, Content-Encoding: gzip (the one encoding the client offers) and
 * Location.  Anything else that changes the meaning of the bytes (another
 * transfer or content coding, conflicting lengths) is an error rather than
 * a guess, as in Go's net/http, which is what Prometheus scrapes with.
 */
#include "agent/collect/httpc_parse.h"

#include "common/err.h"
#include "common/mem.h"

#include <zlib.h>

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum {
    ST_STATUS,      /* the status line */
    ST_HEADER,      /* header lines until the empty one */
    ST_BODY_LENGTH, /* p->remaining bytes of Content-Length */
    ST_BODY_EOF,    /* everything until the connection closes */
    ST_CHUNK_SIZE,  /* "1a2b;ext" */
    ST_CHUNK_DATA,  /* p->remaining bytes of the chunk */
    ST_CHUNK_CRLF,  /* the empty line after a chunk's data */
    ST_TRAILER,     /* trailer lines until the empty one */
    ST_DONE,
};

#define MAX_CHUNK_LINE 4096
#define INFLATE_OUT 16384

void httpc_parser_init(httpc_parser *p, size_t max_body)
{
    memset(p, 0, sizeof *p);
    p->state = ST_STATUS;
    p->max_body = max_body;
    ebuf_init(&p->line);
    ebuf_init(&p->body);
}

static void end_inflate(httpc_parser *p)
{
    if (p->z != NULL) {
        inflateEnd(p->z);
        free(p->z);
        p->z = NULL;
    }
}

void httpc_parser_free(httpc_parser *p)
{
    end_inflate(p);
    free(p->location);
    p->location = NULL;
    ebuf_free(&p->line);
    ebuf_free(&p->body);
}

/* s as a short, printable, quoted excerpt for an error message. */
static void quote(char *dst, size_t dstlen, const char *s, size_t n)
{
    size_t o = 0, i = 0;
    dst[o++] = '"';
    for (; i < n && o + 5 < dstlen; i++)
        dst[o++] = isprint((unsigned char)s[i]) ? s[i] : '?';
    if (i < n) {
        memcpy(dst + o, "...", 3);
        o += 3;
    }
    dst[o++] = '"';
    dst[o] = '\0';
}

/* ---- the body ------------------------------------------------------------ */

static httpc_parse_rc too_large(const httpc_parser *p, char *err, size_t errlen)
{
    err_set(err, errlen, "body size limit of %zu bytes exceeded", p->max_body);
    return HTTPC_PARSE_ERROR;
}

static httpc_parse_rc keep(httpc_parser *p, const void *data, size_t n, char *err, size_t errlen)
{
    if (n > p->max_body - p->body.len)
        return too_large(p, err, errlen);
    ebuf_append(&p->body, data, n);
    return HTTPC_PARSE_MORE;
}

/* Inflate n bytes of gzip; a new member may follow one that ended (gzip -c a b). */
static httpc_parse_rc inflate_bytes(httpc_parser *p, const char *data, size_t n, char *err,
                                    size_t errlen)
{
    unsigned char out[INFLATE_OUT];
    p->z->next_in = (unsigned char *)(uintptr_t)data;
    p->z->avail_in = (uInt)n;
    while (p->z->avail_in > 0) {
        if (p->z_end) {
            inflateReset(p->z);
            p->z_end = false;
        }
        p->z->next_out = out;
        p->z->avail_out = sizeof out;
        int zr = inflate(p->z, Z_NO_FLUSH);
        if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR) {
            err_set(err, errlen, "gzip: %s", p->z->msg != NULL ? p->z->msg : "bad data");
            return HTTPC_PARSE_ERROR;
        }
        if (keep(p, out, sizeof out - p->z->avail_out, err, errlen) != HTTPC_PARSE_MORE)
            return HTTPC_PARSE_ERROR;
        p->z_end = zr == Z_STREAM_END;
        if (zr == Z_BUF_ERROR)
            break; /* no progress possible: all input taken */
    }
    return HTTPC_PARSE_MORE;
}

static httpc_parse_rc body_bytes(httpc_parser *p, const char *data, size_t n, char *err,
                                 size_t errlen)
{
    if (n == 0)
        return HTTPC_PARSE_MORE;
    if (p->gzip) {
        /* In steps of 1 MiB: zlib counts input in a uInt. */
        while (n > 0) {
            size_t step = n < (1u << 20) ? n : (1u << 20);
            if (inflate_bytes(p, data, step, err, errlen) != HTTPC_PARSE_MORE)
                return HTTPC_PARSE_ERROR;
            data += step;
            n -= step;
        }
        return HTTPC_PARSE_MORE;
    }
    return keep(p, data, n, err, errlen);
}

/* The body's last byte is in: a gzip stream must have ended with it. */
static httpc_parse_rc finish(httpc_parser *p, char *err, size_t errlen)
{
    if (p->z != NULL && !p->z_end && p->z->total_in > 0) {
        err_set(err, errlen, "gzip: the compressed body ends early");
        return HTTPC_PARSE_ERROR;
    }
    end_inflate(p);
    p->state = ST_DONE;
    return HTTPC_PARSE_DONE;
}

/* ---- lines ---------------------------------------------------------------- */

/*
 * Collect bytes of data[*i..len) into p->line up to a '\n'.  Returns 1 with
 * the line (no CR/LF) in p->line, 0 when more is needed, -1 when the line
 * would pass limit bytes.  *counted grows by every byte taken.
 */
static int take_line(httpc_parser *p, const char *data, size_t len, size_t *i, size_t limit,
                     size_t *counted)
{
    const char *nl = memchr(data + *i, '\n', len - *i);
    size_t n = nl != NULL ? (size_t)(nl - (data + *i)) + 1 : len - *i;
    if (*counted + n > limit)
        return -1;
    *counted += n;
    ebuf_append(&p->line, data + *i, nl != NULL ? n - 1 : n);
    *i += n;
    if (nl == NULL)
        return 0;
    if (p->line.len > 0 && p->line.data[p->line.len - 1] == '\r')
        p->line.data[--p->line.len] = '\0';
    return 1;
}

/* ---- status line and headers ------------------------------------------------ */

/* "HTTP/1.1 200 OK" or "HTTP/1.1 200". */
static httpc_parse_rc status_line(httpc_parser *p, char *err, size_t errlen)
{
    const char *s = p->line.data;
    size_t n = p->line.len;
    bool ok = n >= 12 && memcmp(s, "HTTP/", 5) == 0 && isdigit((unsigned char)s[5]) &&
              s[6] == '.' && isdigit((unsigned char)s[7]) && s[8] == ' ' &&
              isdigit((unsigned char)s[9]) && isdigit((unsigned char)s[10]) &&
              isdigit((unsigned char)s[11]) && (n == 12 || s[12] == ' ');
    if (!ok || s[9] == '0') {
        char q[64];
        quote(q, sizeof q, s, n);
        err_set(err, errlen, "malformed HTTP status line %s", q);
        return HTTPC_PARSE_ERROR;
    }
    p->status = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
    size_t o = 0;
    for (size_t k = 9; k < n && o + 1 < sizeof p->status_text; k++)
        p->status_text[o++] = isprint((unsigned char)s[k]) ? s[k] : '?';
    while (o > 3 && p->status_text[o - 1] == ' ')
        o--;
    p->status_text[o] = '\0';
    return HTTPC_PARSE_MORE;
}

static bool token_char(char c)
{
    return c > ' ' && c < 127 && strchr("()<>@,;:\\\"/[]?={}", c) == NULL;
}

static httpc_parse_rc bad_value(const char *what, const char *v, char *err, size_t errlen)
{
    char q[64];
    quote(q, sizeof q, v, strlen(v));
    err_set(err, errlen, "%s %s", what, q);
    return HTTPC_PARSE_ERROR;
}

static httpc_parse_rc content_length(httpc_parser *p, const char *v, char *err, size_t errlen)
{
    size_t n = strlen(v);
    if (n == 0 || n > 18 || strspn(v, "0123456789") != n)
        return bad_value("bad Content-Length", v, err, errlen);
    uint64_t len = strtoull(v, NULL, 10);
    if (p->has_length && p->length != len)
        return bad_value("conflicting Content-Length headers, one is", v, err, errlen);
    p->has_length = true;
    p->length = len;
    return HTTPC_PARSE_MORE;
}

static httpc_parse_rc header(httpc_parser *p, char *err, size_t errlen)
{
    char *s = p->line.data;
    char *colon = memchr(s, ':', p->line.len);
    size_t nl = colon != NULL ? (size_t)(colon - s) : 0;
    for (size_t k = 0; k < nl; k++)
        if (!token_char(s[k]))
            nl = 0;
    if (nl == 0 || memchr(s, '\0', p->line.len) != NULL)
        return bad_value("malformed header line", s, err, errlen);
    *colon = '\0';
    char *v = colon + 1;
    v += strspn(v, " \t");
    size_t vl = strlen(v);
    while (vl > 0 && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
        v[--vl] = '\0';
    if (strcasecmp(s, "Content-Length") == 0)
        return content_length(p, v, err, errlen);
    if (strcasecmp(s, "Transfer-Encoding") == 0) {
        if (strcasecmp(v, "chunked") == 0)
            p->chunked = true;
        else if (strcasecmp(v, "identity") != 0)
            return bad_value("unsupported Transfer-Encoding", v, err, errlen);
    } else if (strcasecmp(s, "Content-Encoding") == 0) {
        if (strcasecmp(v, "gzip") == 0 || strcasecmp(v, "x-gzip") == 0)
            p->gzip = true;
        else if (vl > 0 && strcasecmp(v, "identity") != 0)
            return bad_value("unsupported Content-Encoding", v, err, errlen);
    } else if (strcasecmp(s, "Location") == 0) {
        free(p->location);
        p->location = em_strdup(v);
    }
    return HTTPC_PARSE_MORE;
}

/* An interim 1xx response is over: the real one follows. */
static void next_response(httpc_parser *p)
{
    free(p->location);
    p->location = NULL;
    p->status = 0;
    p->status_text[0] = '\0';
    p->chunked = p->gzip = p->has_length = false;
    p->length = 0;
    p->header_bytes = 0;
    p->state = ST_STATUS;
}

/* The empty line after the headers: how is the body framed? */
static httpc_parse_rc headers_end(httpc_parser *p, char *err, size_t errlen)
{
    if (p->status == 101) {
        err_set(err, errlen, "unexpected HTTP status %s", p->status_text);
        return HTTPC_PARSE_ERROR;
    }
    if (p->status < 200) {
        next_response(p);
        return HTTPC_PARSE_MORE;
    }
    if (p->gzip) {
        p->z = em_calloc(1, sizeof *p->z);
        if (inflateInit2(p->z, 16 + MAX_WBITS) != Z_OK) { /* gzip wrapper only */
            free(p->z);
            p->z = NULL;
            err_set(err, errlen, "gzip: cannot initialise zlib");
            return HTTPC_PARSE_ERROR;
        }
    }
    if (p->status == 204 || p->status == 304)
        return finish(p, err, errlen);
    if (p->chunked) {
        p->state = ST_CHUNK_SIZE;
        p->header_bytes = 0; /* now counts the chunk-size line */
    } else if (p->has_length) {
        if (!p->gzip && p->length > p->max_body)
            return too_large(p, err, errlen); /* known before reading it */
        if (p->length == 0)
            return finish(p, err, errlen);
        p->remaining = p->length;
        p->state = ST_BODY_LENGTH;
    } else {
        p->state = ST_BODY_EOF;
    }
    return HTTPC_PARSE_HEADERS;
}

static httpc_parse_rc header_section(httpc_parser *p, const char *data, size_t len, size_t *i,
                                     char *err, size_t errlen)
{
    int got = take_line(p, data, len, i, HTTPC_MAX_HEADER_BYTES, &p->header_bytes);
    if (got < 0) {
        err_set(err, errlen, "response headers longer than %u bytes", HTTPC_MAX_HEADER_BYTES);
        return HTTPC_PARSE_ERROR;
    }
    if (got == 0)
        return HTTPC_PARSE_MORE;
    httpc_parse_rc rc;
    if (p->state == ST_STATUS) {
        rc = status_line(p, err, errlen);
        p->state = ST_HEADER;
    } else if (p->line.len == 0) {
        rc = headers_end(p, err, errlen);
    } else {
        rc = header(p, err, errlen);
    }
    ebuf_reset(&p->line);
    return rc;
}

/* ---- chunked ------------------------------------------------------------------ */

static httpc_parse_rc chunk_size(httpc_parser *p, char *err, size_t errlen)
{
    const char *s = p->line.data;
    size_t digits = 0;
    uint64_t v = 0;
    for (; isxdigit((unsigned char)s[digits]); digits++) {
        if (digits == 15)
            return bad_value("chunk size too large:", s, err, errlen);
        int c = tolower((unsigned char)s[digits]);
        v = v * 16 + (uint64_t)(isdigit(c) ? c - '0' : c - 'a' + 10);
    }
    const char *rest = s + digits + strspn(s + digits, " \t");
    if (digits == 0 || (*rest != '\0' && *rest != ';'))
        return bad_value("malformed chunk size line", s, err, errlen);
    p->header_bytes = 0;
    if (v == 0) {
        p->state = ST_TRAILER;
    } else {
        p->remaining = v;
        p->state = ST_CHUNK_DATA;
    }
    return HTTPC_PARSE_MORE;
}

/* The size line, the CRLF after the data and the trailer: all lines. */
static httpc_parse_rc chunk_line(httpc_parser *p, const char *data, size_t len, size_t *i,
                                 char *err, size_t errlen)
{
    size_t limit = p->state == ST_TRAILER ? HTTPC_MAX_HEADER_BYTES : MAX_CHUNK_LINE;
    int got = take_line(p, data, len, i, limit, &p->header_bytes);
    if (got < 0) {
        err_set(err, errlen, "chunked body: a line longer than %zu bytes", limit);
        return HTTPC_PARSE_ERROR;
    }
    if (got == 0)
        return HTTPC_PARSE_MORE;
    httpc_parse_rc rc = HTTPC_PARSE_MORE;
    if (p->state == ST_CHUNK_SIZE) {
        rc = chunk_size(p, err, errlen);
    } else if (p->state == ST_CHUNK_CRLF) {
        if (p->line.len != 0) {
            err_set(err, errlen, "chunked body: no CRLF after a chunk's data");
            rc = HTTPC_PARSE_ERROR;
        }
        p->state = ST_CHUNK_SIZE;
        p->header_bytes = 0;
    } else if (p->line.len == 0) { /* trailers are read and ignored */
        rc = finish(p, err, errlen);
    }
    ebuf_reset(&p->line);
    return rc;
}

/* ---- driving ------------------------------------------------------------------- */

/* Body bytes of a known count: the rest of Content-Length or of a chunk. */
static httpc_parse_rc counted_bytes(httpc_parser *p, const char *data, size_t len, size_t *i,
                                    char *err, size_t errlen)
{
    size_t n = len - *i;
    if (n > p->remaining)
        n = (size_t)p->remaining;
    if (body_bytes(p, data + *i, n, err, errlen) != HTTPC_PARSE_MORE)
        return HTTPC_PARSE_ERROR;
    *i += n;
    p->remaining -= n;
    if (p->remaining > 0)
        return HTTPC_PARSE_MORE;
    if (p->state == ST_CHUNK_DATA) {
        p->state = ST_CHUNK_CRLF;
        return HTTPC_PARSE_MORE;
    }
    return finish(p, err, errlen);
}

static httpc_parse_rc step(httpc_parser *p, const char *data, size_t len, size_t *i, char *err,
                           size_t errlen)
{
    switch (p->state) {
    case ST_STATUS:
    case ST_HEADER: return header_section(p, data, len, i, err, errlen);
    case ST_BODY_LENGTH:
    case ST_CHUNK_DATA: return counted_bytes(p, data, len, i, err, errlen);
    case ST_BODY_EOF: {
        size_t n = len - *i;
        *i = len;
        return body_bytes(p, data + len - n, n, err, errlen);
    }
    case ST_CHUNK_SIZE:
    case ST_CHUNK_CRLF:
    case ST_TRAILER: return chunk_line(p, data, len, i, err, errlen);
    default: return HTTPC_PARSE_DONE;
    }
}

httpc_parse_rc httpc_parser_feed(httpc_parser *p, const char *data, size_t len, size_t *used,
                                 char *err, size_t errlen)
{
    size_t i = 0;
    httpc_parse_rc rc = p->state == ST_DONE ? HTTPC_PARSE_DONE : HTTPC_PARSE_MORE;
    while (rc == HTTPC_PARSE_MORE && i < len)
        rc = step(p, data, len, &i, err, errlen);
    *used = i;
    if (rc == HTTPC_PARSE_ERROR)
        p->state = ST_DONE;
    return rc;
}

httpc_parse_rc httpc_parser_eof(httpc_parser *p, char *err, size_t errlen)
{
    switch (p->state) {
    case ST_DONE: return HTTPC_PARSE_DONE;
    case ST_BODY_EOF: return finish(p, err, errlen);
    case ST_STATUS:
        if (p->header_bytes == 0) {
            err_set(err, errlen, "the server closed the connection without a response");
            return HTTPC_PARSE_ERROR;
        }
        /* fall through */
    case ST_HEADER:
        err_set(err, errlen, "the connection closed in the middle of the response headers");
        return HTTPC_PARSE_ERROR;
    case ST_BODY_LENGTH:
        err_set(err, errlen, "the connection closed after %llu of %llu body bytes",
                (unsigned long long)(p->length - p->remaining), (unsigned long long)p->length);
        return HTTPC_PARSE_ERROR;
    default:
        err_set(err, errlen, "the connection closed in the middle of the chunked body");
        return HTTPC_PARSE_ERROR;
    }
}
