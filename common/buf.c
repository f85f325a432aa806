/* buf.c — growable byte buffer (see buf.h). */
#include "common/buf.h"

#include "common/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ebuf_init(ebuf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    ebuf_reserve(b, 64);
}

void ebuf_free(ebuf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void ebuf_reset(ebuf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void ebuf_reserve(ebuf *b, size_t extra)
{
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return;
    size_t ncap = b->cap ? b->cap : 64;
    while (ncap < need)
        ncap *= 2;
    b->data = em_realloc(b->data, ncap);
    b->cap = ncap;
    b->data[b->len] = '\0';
}

void ebuf_append(ebuf *b, const void *p, size_t n)
{
    ebuf_reserve(b, n);
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void ebuf_puts(ebuf *b, const char *s)
{
    ebuf_append(b, s, strlen(s));
}

void ebuf_putc(ebuf *b, char c)
{
    ebuf_append(b, &c, 1);
}

void ebuf_vprintf(ebuf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    if (n < 0) {
        va_end(ap2);
        return;
    }
    if ((size_t)n < sizeof small) {
        ebuf_append(b, small, (size_t)n);
    } else {
        ebuf_reserve(b, (size_t)n);
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap2);
        b->len += (size_t)n;
    }
    va_end(ap2);
}

void ebuf_printf(ebuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ebuf_vprintf(b, fmt, ap);
    va_end(ap);
}

void ebuf_put_be64(ebuf *b, uint64_t v)
{
    unsigned char x[8];
    for (int i = 7; i >= 0; i--) {
        x[i] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
    ebuf_append(b, x, 8);
}

void ebuf_put_be32(ebuf *b, uint32_t v)
{
    unsigned char x[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 8), (unsigned char)v};
    ebuf_append(b, x, 4);
}

char *ebuf_steal(ebuf *b, size_t *len)
{
    char *d = b->data;
    if (len)
        *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return d;
}

void ebuf_put_u64(ebuf *b, uint64_t v)
{
    char tmp[20];
    size_t i = sizeof tmp;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    ebuf_append(b, tmp + i, sizeof tmp - i);
}
