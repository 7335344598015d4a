/*
 * util.h - floor 1: byte order helpers and small shared utilities.
 *
 * Everything on the wire in iSCSI is big-endian ("network order") except the
 * CRC32C digests, which are carried least significant byte first (see
 * crc32c.h).  These helpers read and write unaligned big-endian integers
 * without casts, so that codecs never depend on buffer alignment.
 */
#ifndef LUNARIS_UTIL_H
#define LUNARIS_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint16_t lun_get_be16(const uint8_t *p)
{
	return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}

static inline uint32_t lun_get_be24(const uint8_t *p)
{
	return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

static inline uint32_t lun_get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t lun_get_be64(const uint8_t *p)
{
	return (uint64_t)lun_get_be32(p) << 32 | lun_get_be32(p + 4);
}

static inline void lun_put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void lun_put_be24(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 16);
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)v;
}

static inline void lun_put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline void lun_put_be64(uint8_t *p, uint64_t v)
{
	lun_put_be32(p, (uint32_t)(v >> 32));
	lun_put_be32(p + 4, (uint32_t)v);
}

/*
 * Serial number arithmetic (RFC 1982, 32 bits) as RFC 7143 section 4.2.2.1
 * requires for CmdSN, StatSN, DataSN and friends: a < b when the forward
 * distance from a to b is less than 2^31.
 */
static inline int lun_sn_lt(uint32_t a, uint32_t b)
{
	return a != b && (uint32_t)(b - a) < 0x80000000u;
}

static inline int lun_sn_le(uint32_t a, uint32_t b)
{
	return a == b || lun_sn_lt(a, b);
}

/* Round a data segment length up to the 4-byte boundary of the wire. */
static inline uint32_t lun_pad4(uint32_t n)
{
	return (n + 3u) & ~3u;
}

/* Copy a C string into a fixed buffer, always terminated; returns the
 * length it wanted to write (like strlcpy). */
size_t lun_strlcpy(char *dst, const char *src, size_t cap);

/* printf into an error buffer that may be NULL (then nothing happens). */
void lun_seterr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Monotonic clock in nanoseconds. */
uint64_t lun_now_ns(void);

#endif
