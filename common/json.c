/*
 * json.c — JSON string escaping (see json.h), byte for byte as Go's
 * encoding/json writes it (Prometheus's API answers through it): besides
 * the required escapes, <, > and & as \u003c, \u003e, \u0026 and the line
 * and paragraph separators U+2028/U+2029 as \u2028/\u2029.
 */
#include "common/json.h"

void json_string(ebuf *out, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    ebuf_putc(out, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': ebuf_puts(out, "\\\""); break;
        case '\\': ebuf_puts(out, "\\\\"); break;
        case '\n': ebuf_puts(out, "\\n"); break;
        case '\r': ebuf_puts(out, "\\r"); break;
        case '\t': ebuf_puts(out, "\\t"); break;
        case '<': ebuf_puts(out, "\\u003c"); break;
        case '>': ebuf_puts(out, "\\u003e"); break;
        case '&': ebuf_puts(out, "\\u0026"); break;
        case 0xe2:
            if (p[1] == 0x80 && (p[2] == 0xa8 || p[2] == 0xa9)) {
                ebuf_puts(out, p[2] == 0xa8 ? "\\u2028" : "\\u2029");
                p += 2;
                break;
            }
            ebuf_putc(out, (char)*p);
            break;
        default:
            if (*p < 0x20) {
                char u[7] = {'\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 15], 0};
                ebuf_puts(out, u);
            } else {
                ebuf_putc(out, (char)*p);
            }
        }
    }
    ebuf_putc(out, '"');
}
