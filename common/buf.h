/*
 * buf.h — growable byte buffer, always NUL-terminated.
 *
 * Used for building HTTP bodies, exposition text, keys and wire messages.
 * Allocation failure aborts (mem.h), so appends cannot fail.
 */
#ifndef EMBER_COMMON_BUF_H
#define EMBER_COMMON_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ebuf {
    char *data; /* NUL-terminated when len > 0 or after ebuf_init */
    size_t len;
    size_t cap;
} ebuf;

void ebuf_init(ebuf *b);
void ebuf_free(ebuf *b);
void ebuf_reset(ebuf *b); /* len = 0, keeps memory */
void ebuf_reserve(ebuf *b, size_t extra);
void ebuf_append(ebuf *b, const void *p, size_t n);
void ebuf_puts(ebuf *b, const char *s);
void ebuf_putc(ebuf *b, char c);
void ebuf_printf(ebuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ebuf_vprintf(ebuf *b, const char *fmt, va_list ap);
/* Big-endian fixed-width integers, for sortable RocksDB keys. */
void ebuf_put_be64(ebuf *b, uint64_t v);
void ebuf_put_be32(ebuf *b, uint32_t v);
/* v in decimal, without printf (hot in big query answers). */
void ebuf_put_u64(ebuf *b, uint64_t v);
/* Hand the bytes to the caller (who frees them) and reset the buffer. */
char *ebuf_steal(ebuf *b, size_t *len);

#endif
