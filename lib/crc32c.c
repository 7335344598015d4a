/*
 * crc32c.c - floor 1: CRC32C (Castagnoli, reflected polynomial 0x82F63B78).
 *
 * Three implementations compute the same raw register update (no pre/post
 * inversion; lun_crc32c() adds that):
 *   - "table": portable slicing-by-8, eight 256-entry tables built once;
 *   - "sse4.2": the crc32 instruction, 8 bytes per step, one dependency chain;
 *   - "sse4.2+pclmul": for long buffers, three independent chains over three
 *     adjacent slices (the instruction has a latency of ~3 cycles but a
 *     throughput of 1, so three chains keep it busy), merged with a carry-less
 *     multiply by x^n mod P.
 * The choice is made once, from cpuid, under pthread_once.
 */
#include "crc32c.h"

#include <pthread.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#define CRC32C_POLY 0x82F63B78u

typedef uint32_t (*crc32c_fn)(uint32_t state, const uint8_t *p, size_t len);

/* Filled once by crc32c_init(); read-only afterwards. */
static uint32_t crc32c_table[8][256];
static crc32c_fn crc32c_impl_fn;
static const char *crc32c_impl_name;
static pthread_once_t crc32c_once = PTHREAD_ONCE_INIT;

/* ---- portable path ---------------------------------------------------- */

static void crc32c_build_tables(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ ((c & 1u) ? CRC32C_POLY : 0u);
		crc32c_table[0][i] = c;
	}
	/* Table k advances a byte through k further zero bytes, which is what
	 * lets eight bytes be folded with eight independent look-ups. */
	for (int k = 1; k < 8; k++)
		for (int i = 0; i < 256; i++) {
			uint32_t prev = crc32c_table[k - 1][i];

			crc32c_table[k][i] = (prev >> 8) ^ crc32c_table[0][prev & 0xffu];
		}
}

static uint32_t crc32c_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint32_t crc32c_table_update(uint32_t crc, const uint8_t *p, size_t len)
{
	const uint32_t(*t)[256] = (const uint32_t(*)[256])crc32c_table;

	while (len >= 8) {
		uint32_t lo = crc ^ crc32c_le32(p);
		uint32_t hi = crc32c_le32(p + 4);

		crc = t[7][lo & 0xff] ^ t[6][(lo >> 8) & 0xff] ^ t[5][(lo >> 16) & 0xff] ^
		      t[4][lo >> 24] ^ t[3][hi & 0xff] ^ t[2][(hi >> 8) & 0xff] ^
		      t[1][(hi >> 16) & 0xff] ^ t[0][hi >> 24];
		p += 8;
		len -= 8;
	}
	while (len--)
		crc = (crc >> 8) ^ t[0][(crc ^ *p++) & 0xff];
	return crc;
}

/* ---- x86_64 hardware paths -------------------------------------------- */

#if defined(__x86_64__)

/* Bytes per stream in one 3-way block; the long size amortises the merge,
 * the short one keeps the parallel chains for the 1-3 KiB remainder. */
#define CRC32C_LONG_BLK 1024u
#define CRC32C_SHORT_BLK 128u
#define CRC32C_3WAY_MIN 1024u

/* Multipliers x^(8n-33) mod P for shifting a register over n zero bytes,
 * n = one and two stream lengths of each block size. */
static uint32_t crc32c_k_long1, crc32c_k_long2, crc32c_k_short1, crc32c_k_short2;

/* x^e mod P in the reflected representation (x^0 is the top bit). */
static uint32_t crc32c_xpow(unsigned e)
{
	uint32_t v = 0x80000000u;

	while (e--)
		v = (v >> 1) ^ ((v & 1u) ? CRC32C_POLY : 0u);
	return v;
}

__attribute__((target("sse4.2"))) static uint32_t crc32c_hw_update(uint32_t crc,
								     const uint8_t *p,
								     size_t len)
{
	uint64_t c;

	while (len && ((uintptr_t)p & 7u)) {
		crc = _mm_crc32_u8(crc, *p++);
		len--;
	}
	c = crc;
	while (len >= 8) {
		uint64_t v;

		memcpy(&v, p, 8);
		c = _mm_crc32_u64(c, v);
		p += 8;
		len -= 8;
	}
	crc = (uint32_t)c;
	while (len--)
		crc = _mm_crc32_u8(crc, *p++);
	return crc;
}

/*
 * Advance register `crc` over n zero bytes, given k = x^(8n-33) mod P.  The
 * 32x32 carry-less product of two reflected values is the product times x,
 * and crc32 of a 64-bit word with a zero register multiplies by x^32 and
 * reduces: together crc * x^(8n-33) * x^33 = crc * x^(8n) mod P.
 */
__attribute__((target("sse4.2,pclmul"))) static uint32_t crc32c_shift(uint32_t crc,
									uint32_t k)
{
	__m128i a = _mm_cvtsi32_si128((int)crc);
	__m128i b = _mm_cvtsi32_si128((int)k);
	uint64_t prod = (uint64_t)_mm_cvtsi128_si64(_mm_clmulepi64_si128(a, b, 0));

	return (uint32_t)_mm_crc32_u64(0, prod);
}

/* One block of 3*blk bytes: crc(A|B|C) = shift(a, 2blk) ^ shift(b, blk) ^ c
 * because the register update is linear over GF(2). */
__attribute__((target("sse4.2,pclmul"))) static uint32_t
crc32c_3way_block(uint32_t crc, const uint8_t *p, size_t blk, uint32_t k1, uint32_t k2)
{
	uint64_t a = crc, b = 0, c = 0;

	for (size_t i = 0; i < blk; i += 8) {
		uint64_t va, vb, vc;

		memcpy(&va, p + i, 8);
		memcpy(&vb, p + blk + i, 8);
		memcpy(&vc, p + 2 * blk + i, 8);
		a = _mm_crc32_u64(a, va);
		b = _mm_crc32_u64(b, vb);
		c = _mm_crc32_u64(c, vc);
	}
	return crc32c_shift((uint32_t)a, k2) ^ crc32c_shift((uint32_t)b, k1) ^ (uint32_t)c;
}

__attribute__((target("sse4.2,pclmul"))) static uint32_t
crc32c_hw_pclmul_update(uint32_t crc, const uint8_t *p, size_t len)
{
	if (len >= CRC32C_3WAY_MIN) {
		size_t head = (8u - ((uintptr_t)p & 7u)) & 7u;

		crc = crc32c_hw_update(crc, p, head);
		p += head;
		len -= head;
		for (; len >= 3 * CRC32C_LONG_BLK; p += 3 * CRC32C_LONG_BLK,
						   len -= 3 * CRC32C_LONG_BLK)
			crc = crc32c_3way_block(crc, p, CRC32C_LONG_BLK, crc32c_k_long1,
						crc32c_k_long2);
		for (; len >= 3 * CRC32C_SHORT_BLK; p += 3 * CRC32C_SHORT_BLK,
						    len -= 3 * CRC32C_SHORT_BLK)
			crc = crc32c_3way_block(crc, p, CRC32C_SHORT_BLK, crc32c_k_short1,
						crc32c_k_short2);
	}
	return crc32c_hw_update(crc, p, len);
}

static void crc32c_pick_hw(void)
{
	__builtin_cpu_init();
	if (!__builtin_cpu_supports("sse4.2"))
		return;
	crc32c_impl_fn = crc32c_hw_update;
	crc32c_impl_name = "sse4.2";
	if (!__builtin_cpu_supports("pclmul"))
		return;
	crc32c_k_long1 = crc32c_xpow(8 * CRC32C_LONG_BLK - 33);
	crc32c_k_long2 = crc32c_xpow(16 * CRC32C_LONG_BLK - 33);
	crc32c_k_short1 = crc32c_xpow(8 * CRC32C_SHORT_BLK - 33);
	crc32c_k_short2 = crc32c_xpow(16 * CRC32C_SHORT_BLK - 33);
	crc32c_impl_fn = crc32c_hw_pclmul_update;
	crc32c_impl_name = "sse4.2+pclmul";
}

#else

static void crc32c_pick_hw(void)
{
}

#endif

/* ---- public interface -------------------------------------------------- */

static void crc32c_init(void)
{
	crc32c_build_tables();
	crc32c_impl_fn = crc32c_table_update;
	crc32c_impl_name = "table";
	crc32c_pick_hw();
}

uint32_t lun_crc32c(uint32_t crc, const void *buf, size_t len)
{
	pthread_once(&crc32c_once, crc32c_init);
	if (!len)
		return crc;
	return ~crc32c_impl_fn(~crc, buf, len);
}

uint32_t lun_crc32c_sw(uint32_t crc, const void *buf, size_t len)
{
	pthread_once(&crc32c_once, crc32c_init);
	if (!len)
		return crc;
	return ~crc32c_table_update(~crc, buf, len);
}

uint32_t lun_crc32c_iov(uint32_t crc, const struct iovec *iov, int iovcnt)
{
	for (int i = 0; i < iovcnt; i++)
		crc = lun_crc32c(crc, iov[i].iov_base, iov[i].iov_len);
	return crc;
}

const char *lun_crc32c_impl(void)
{
	pthread_once(&crc32c_once, crc32c_init);
	return crc32c_impl_name;
}
