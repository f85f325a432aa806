/*
 * crc32c.h — CRC-32C (Castagnoli), the checksum of spool records: the same
 * polynomial RocksDB, ext4 and iSCSI use, table-driven.
 */
#ifndef EMBER_COMMON_CRC32C_H
#define EMBER_COMMON_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Extend crc (0 to start) with n bytes. */
uint32_t crc32c(uint32_t crc, const void *p, size_t n);

#endif
