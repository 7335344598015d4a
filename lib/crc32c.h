/*
 * crc32c.h - floor 1: CRC32C (Castagnoli) for iSCSI header and data digests.
 *
 * RFC 7143 section 13.1 / RFC 3720 appendix B.4.  The hardware path uses the
 * SSE4.2 crc32 instruction (with PCLMUL folding of three interleaved streams
 * for long buffers); a portable slicing table is the fallback.  The choice is
 * made once, at first use, from cpuid.
 *
 * The digest travels least significant byte first: use lun_crc32c_put() and
 * lun_crc32c_get() to store and load it.
 */
#ifndef LUNARIS_CRC32C_H
#define LUNARIS_CRC32C_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/*
 * zlib-style running CRC: start with crc = 0, feed buffers in order, the
 * value returned after the last buffer is the finished CRC32C (the pre- and
 * post-inversion happen inside).  lun_crc32c(0, "123456789", 9) == 0xe3069283.
 */
uint32_t lun_crc32c(uint32_t crc, const void *buf, size_t len);

/* CRC32C over an iovec array, as if the pieces were one buffer. */
uint32_t lun_crc32c_iov(uint32_t crc, const struct iovec *iov, int iovcnt);

/* The same computation forced onto the portable path (for tests/benchmarks). */
uint32_t lun_crc32c_sw(uint32_t crc, const void *buf, size_t len);

/* Name of the implementation in use: "sse4.2+pclmul", "sse4.2" or "table". */
const char *lun_crc32c_impl(void);

static inline void lun_crc32c_put(uint8_t out[4], uint32_t crc)
{
	out[0] = (uint8_t)crc;
	out[1] = (uint8_t)(crc >> 8);
	out[2] = (uint8_t)(crc >> 16);
	out[3] = (uint8_t)(crc >> 24);
}

static inline uint32_t lun_crc32c_get(const uint8_t in[4])
{
	return (uint32_t)in[0] | (uint32_t)in[1] << 8 | (uint32_t)in[2] << 16 |
	       (uint32_t)in[3] << 24;
}

#endif
