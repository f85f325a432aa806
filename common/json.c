/* json.c — JSON string escaping (see json.h). */
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
