/*
 * md5.h — MD5 (RFC 1321), only for relabeling's hashmod action, which must
 * pick the same shard as Prometheus (md5 of the joined source values).
 * Not for anything that needs a secure hash.
 */
#ifndef EMBER_COMMON_MD5_H
#define EMBER_COMMON_MD5_H

#include <stddef.h>
#include <stdint.h>

void md5_digest(const void *data, size_t len, uint8_t out[16]);

#endif
