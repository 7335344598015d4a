/*
 * test_crc32c.c - CRC32C against RFC 3720 appendix B.4 (RFC 7143 A.4) and
 * against a bit-at-a-time reference, on every implementation path.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crc32c.h"

/* The slowest possible definition, to check the fast ones against. */
static uint32_t ref_crc32c(const uint8_t *p, size_t len)
{
	uint32_t c = 0xffffffffu;

	for (size_t i = 0; i < len; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ ((c & 1u) ? 0x82F63B78u : 0u);
	}
	return ~c;
}

/* The SCSI Read (10) command PDU of RFC 3720 B.4. */
static const uint8_t rfc_read_pdu[48] = {
	0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
	0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};

static void check_both(const void *buf, size_t len, uint32_t want)
{
	assert_int_equal(lun_crc32c(0, buf, len), want);
	assert_int_equal(lun_crc32c_sw(0, buf, len), want);
	assert_int_equal(ref_crc32c(buf, len), want);
}

static void test_rfc_vectors(void **state)
{
	uint8_t b[32];

	(void)state;
	memset(b, 0, sizeof(b));
	check_both(b, sizeof(b), 0x8a9136aau);
	memset(b, 0xff, sizeof(b));
	check_both(b, sizeof(b), 0x62a8ab43u);
	for (int i = 0; i < 32; i++)
		b[i] = (uint8_t)i;
	check_both(b, sizeof(b), 0x46dd794eu);
	for (int i = 0; i < 32; i++)
		b[i] = (uint8_t)(31 - i);
	check_both(b, sizeof(b), 0x113fdb5cu);
	check_both(rfc_read_pdu, sizeof(rfc_read_pdu), 0xd9963a56u);
	check_both("123456789", 9, 0xe3069283u);
}

static void test_empty(void **state)
{
	(void)state;
	assert_int_equal(lun_crc32c(0, NULL, 0), 0);
	assert_int_equal(lun_crc32c(0x12345678u, "", 0), 0x12345678u);
	assert_int_equal(lun_crc32c_sw(0, NULL, 0), 0);
	assert_int_equal(lun_crc32c_iov(7, NULL, 0), 7);
}

static uint8_t *random_buf(size_t len, unsigned seed)
{
	uint8_t *b = malloc(len);
	uint32_t x = seed * 2654435761u + 1;

	assert_non_null(b);
	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		b[i] = (uint8_t)x;
	}
	return b;
}

/* Every length 0..4200 crosses all the 3-way block sizes and tail paths;
 * the eight start offsets cover every alignment of the 8-byte loads. */
static void test_hw_equals_sw(void **state)
{
	enum { MAXLEN = 4200 };
	uint8_t *b = random_buf(MAXLEN + 8, 1);

	(void)state;
	for (size_t len = 0; len <= MAXLEN; len++)
		for (size_t off = 0; off < 8; off++) {
			uint32_t sw = lun_crc32c_sw(0, b + off, len);

			if (lun_crc32c(0, b + off, len) != sw)
				fail_msg("len %zu offset %zu differs (%s)", len, off,
					 lun_crc32c_impl());
		}
	for (size_t len = 0; len <= MAXLEN; len += 97)
		assert_int_equal(lun_crc32c_sw(0, b + 3, len), ref_crc32c(b + 3, len));
	free(b);
}

static void test_long_buffer(void **state)
{
	size_t len = 1u << 20;
	uint8_t *b = random_buf(len + 1, 2);

	(void)state;
	assert_int_equal(lun_crc32c(0, b + 1, len), ref_crc32c(b + 1, len));
	assert_int_equal(lun_crc32c_sw(0, b + 1, len), ref_crc32c(b + 1, len));
	free(b);
}

static void test_incremental(void **state)
{
	enum { LEN = 5000 };
	uint8_t *b = random_buf(LEN, 3);
	uint32_t whole = lun_crc32c(0, b, LEN);

	(void)state;
	for (size_t cut = 0; cut <= LEN; cut += (cut < 64 ? 1 : 61)) {
		uint32_t c = lun_crc32c(0, b, cut);

		assert_int_equal(lun_crc32c(c, b + cut, LEN - cut), whole);
		c = lun_crc32c_sw(0, b, cut);
		assert_int_equal(lun_crc32c_sw(c, b + cut, LEN - cut), whole);
	}
	free(b);
}

static void test_iov(void **state)
{
	enum { LEN = 3333 };
	uint8_t *b = random_buf(LEN, 4);
	size_t cuts[] = { 0, 1, 7, 48, 52, 1000, 1000, 2049, 3300, LEN };
	struct iovec iov[9];

	(void)state;
	for (int i = 0; i < 9; i++) {
		iov[i].iov_base = b + cuts[i];
		iov[i].iov_len = cuts[i + 1] - cuts[i];
	}
	assert_int_equal(lun_crc32c_iov(0, iov, 9), lun_crc32c(0, b, LEN));
	assert_int_equal(lun_crc32c_iov(0, iov, 9), ref_crc32c(b, LEN));
	/* Continuing from a previous value works like lun_crc32c. */
	assert_int_equal(lun_crc32c_iov(lun_crc32c(0, b, 10), iov + 1, 8),
			 lun_crc32c(lun_crc32c(0, b, 10), b + 1, LEN - 1));
	free(b);
}

static void test_put_get(void **state)
{
	uint8_t out[4];

	(void)state;
	/* RFC 3720 B.4 lists the zero-buffer digest as bytes aa 36 91 8a. */
	lun_crc32c_put(out, 0x8a9136aau);
	assert_int_equal(out[0], 0xaa);
	assert_int_equal(out[1], 0x36);
	assert_int_equal(out[2], 0x91);
	assert_int_equal(out[3], 0x8a);
	assert_int_equal(lun_crc32c_get(out), 0x8a9136aau);
}

static void test_impl_name(void **state)
{
	const char *n = lun_crc32c_impl();

	(void)state;
	assert_non_null(n);
	assert_true(!strcmp(n, "table") || !strcmp(n, "sse4.2") || !strcmp(n, "sse4.2+pclmul"));
#if defined(__x86_64__)
	if (__builtin_cpu_supports("sse4.2") && __builtin_cpu_supports("pclmul"))
		assert_string_equal(n, "sse4.2+pclmul");
#endif
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc_vectors), cmocka_unit_test(test_empty),
		cmocka_unit_test(test_hw_equals_sw), cmocka_unit_test(test_long_buffer),
		cmocka_unit_test(test_incremental), cmocka_unit_test(test_iov),
		cmocka_unit_test(test_put_get),	    cmocka_unit_test(test_impl_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
