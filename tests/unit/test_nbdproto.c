/*
 * test_nbdproto.c - the NBD server codec: real client byte streams
 * (captured between libnbd's nbdinfo/nbdcopy or qemu-img and nbdkit with
 * `socat -x`), every option and its refusals, request validation with
 * each error value, and the reply layouts byte by byte.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "nbdproto.h"
#include "util.h"

/* ---- Real client streams (client to server only) ---- */

/* qemu-img info: flags, STRUCTURED_REPLY, SET_META_CONTEXT base:allocation,
 * GO "" asking for BLOCK_SIZE, READ 512 at 0, DISC. */
static const uint8_t qemu_img_info[143] = {
	0x00, 0x00, 0x00, 0x03, 0x49, 0x48, 0x41, 0x56, 0x45, 0x4f, 0x50, 0x54,
	0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x49, 0x48, 0x41, 0x56,
	0x45, 0x4f, 0x50, 0x54, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x1b,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x0f,
	0x62, 0x61, 0x73, 0x65, 0x3a, 0x61, 0x6c, 0x6c, 0x6f, 0x63, 0x61, 0x74,
	0x69, 0x6f, 0x6e, 0x49, 0x48, 0x41, 0x56, 0x45, 0x4f, 0x50, 0x54, 0x00,
	0x00, 0x00, 0x07, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x01, 0x00, 0x03, 0x25, 0x60, 0x95, 0x13, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x55, 0xac, 0xfb, 0xbd, 0x4d, 0xf0, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x25, 0x60, 0x95, 0x13, 0x00,
	0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};

/* nbdinfo --list: flags, STRUCTURED_REPLY, LIST, INFO "" asking for
 * BLOCK_SIZE, NAME, DESCRIPTION, LIST_META_CONTEXT "" with no query, ABORT. */
static const uint8_t nbdinfo_list[104] = {
	0x00, 0x00, 0x00, 0x03, 0x49, 0x48, 0x41, 0x56, 0x45, 0x4f, 0x50, 0x54,
	0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x49, 0x48, 0x41, 0x56,
	0x45, 0x4f, 0x50, 0x54, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00,
	0x49, 0x48, 0x41, 0x56, 0x45, 0x4f, 0x50, 0x54, 0x00, 0x00, 0x00, 0x06,
	0x00, 0x00, 0x00, 0x0c, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x03,
	0x00, 0x01, 0x00, 0x02, 0x49, 0x48, 0x41, 0x56, 0x45, 0x4f, 0x50, 0x54,
	0x00, 0x00, 0x00, 0x09, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x49, 0x48, 0x41, 0x56, 0x45, 0x4f, 0x50, 0x54,
	0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00,
};

/* nbdcopy -C 1 --flush (8 KiB file): flags, STRUCTURED_REPLY, GO "" asking
 * for BLOCK_SIZE, the WRITE header; then 8192 bytes of data; then FLUSH
 * and DISC. */
static const uint8_t nbdcopy_head[72] = {
	0x00, 0x00, 0x00, 0x03, 0x49, 0x48, 0x41, 0x56, 0x45, 0x4f, 0x50, 0x54,
	0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x49, 0x48, 0x41, 0x56,
	0x45, 0x4f, 0x50, 0x54, 0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00, 0x08,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x03, 0x25, 0x60, 0x95, 0x13,
	0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x20, 0x00,
};
static const uint8_t nbdcopy_tail[56] = {
	0x25, 0x60, 0x95, 0x13, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x25, 0x60, 0x95, 0x13, 0x00, 0x00, 0x00, 0x02,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};

/* A 64 MiB read-write LU with 512-byte blocks, everything offered. */
static const struct lund_nbd_export lu = {
	.size = 64u << 20,
	.can_flush = true,
	.can_fua = true,
	.can_trim = true,
	.can_zero = true,
	.can_cache = true,
	.multi_conn = true,
	.min_block = 512,
	.pref_block = 4096,
};

static struct lund_nbd_opt opt; /* 4 KiB: not on the stack of every test */

static void fixed_hs(struct lund_nbd_hs *hs)
{
	uint8_t g[NBD_GREETING_LEN];
	static const uint8_t flags[4] = { 0, 0, 0, 3 };

	lund_nbd_greeting(g, hs);
	assert_int_equal(lund_nbd_parse_client_flags(flags, 4, hs, NULL, 0), 4);
}

/* IHAVEOPT, code, length, data into b; returns the total length. */
static size_t mkopt(uint8_t *b, uint32_t code, const void *data, uint32_t len)
{
	lun_put_be64(b, NBD_OPTS_MAGIC);
	lun_put_be32(b + 8, code);
	lun_put_be32(b + 12, len);
	if (len)
		memcpy(b + 16, data, len);
	return 16 + (size_t)len;
}

static size_t mkreq(uint8_t b[28], uint16_t flags, uint16_t type, uint64_t handle,
		    uint64_t offset, uint32_t length)
{
	lun_put_be32(b, NBD_REQUEST_MAGIC);
	lun_put_be16(b + 4, flags);
	lun_put_be16(b + 6, type);
	lun_put_be64(b + 8, handle);
	lun_put_be64(b + 16, offset);
	lun_put_be32(b + 24, length);
	return 28;
}

/* ---- Handshake ---- */

static void test_greeting_and_flags(void **state)
{
	static const uint8_t want[18] = { 'N', 'B', 'D', 'M', 'A', 'G', 'I', 'C', 'I',
					  'H', 'A', 'V', 'E', 'O', 'P', 'T', 0x00, 0x03 };
	static const uint8_t both[4] = { 0, 0, 0, 3 }, fixed_only[4] = { 0, 0, 0, 1 },
			     unknown[4] = { 0, 0, 0, 7 }, high[4] = { 0x80, 0, 0, 1 };
	struct lund_nbd_hs hs;
	uint8_t g[NBD_GREETING_LEN];
	char err[160] = "";

	assert_int_equal(lund_nbd_greeting(g, &hs), 18);
	assert_memory_equal(g, want, 18);
	assert_int_equal(lund_nbd_parse_client_flags(both, 3, &hs, NULL, 0), 0);
	assert_int_equal(lund_nbd_parse_client_flags(both, 4, &hs, NULL, 0), 4);
	assert_true(hs.fixed);
	assert_true(hs.no_zeroes);
	assert_int_equal(lund_nbd_parse_client_flags(fixed_only, 4, &hs, NULL, 0), 4);
	assert_true(hs.fixed);
	assert_false(hs.no_zeroes);
	assert_int_equal(lund_nbd_parse_client_flags(unknown, 4, &hs, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "unknown bits 0x00000004"));
	assert_int_equal(lund_nbd_parse_client_flags(high, 4, &hs, NULL, 0), -1);
	/* NO_ZEROES that the server did not offer */
	hs.server_flags = NBD_FLAG_FIXED_NEWSTYLE;
	assert_int_equal(lund_nbd_parse_client_flags(both, 4, &hs, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "did not offer"));
}

/* The whole of qemu-img info's handshake and transmission, as a server
 * loop would walk it: every option accepted, the READ and DISC valid. */
static void test_real_qemu_img_info(void **state)
{
	struct lund_nbd_hs hs;
	struct lund_nbd_xport x;
	struct lund_nbd_req r;
	uint8_t g[NBD_GREETING_LEN];
	size_t off = 0, need;
	ssize_t n;

	lund_nbd_greeting(g, &hs);
	n = lund_nbd_parse_client_flags(qemu_img_info, sizeof(qemu_img_info), &hs, NULL, 0);
	assert_int_equal(n, 4);
	off += 4;
	n = lund_nbd_parse_option(qemu_img_info + off, sizeof(qemu_img_info) - off, &hs, &opt,
				  &need, NULL, 0);
	assert_int_equal(n, 16);
	assert_int_equal(opt.code, NBD_OPT_STRUCTURED_REPLY);
	assert_int_equal(opt.reply, 0);
	assert_true(hs.structured);
	off += 16;
	n = lund_nbd_parse_option(qemu_img_info + off, sizeof(qemu_img_info) - off, &hs, &opt,
				  &need, NULL, 0);
	assert_int_equal(n, 16 + 27);
	assert_int_equal(opt.code, NBD_OPT_SET_META_CONTEXT);
	assert_int_equal(opt.reply, 0);
	assert_int_equal(opt.nqueries, 1);
	assert_true(opt.base_allocation);
	assert_string_equal(opt.name, "");
	off += 43;
	n = lund_nbd_parse_option(qemu_img_info + off, sizeof(qemu_img_info) - off, &hs, &opt,
				  &need, NULL, 0);
	assert_int_equal(n, 24);
	assert_int_equal(opt.code, NBD_OPT_GO);
	assert_int_equal(opt.reply, 0);
	assert_int_equal(opt.info, 1u << NBD_INFO_BLOCK_SIZE);
	assert_int_equal(opt.name_len, 0);
	off += 24;

	x = (struct lund_nbd_xport){ .size = lu.size, .tflags = lund_nbd_tflags(&lu, true),
				     .structured = true, .min_block = 512 };
	n = lund_nbd_parse_request(qemu_img_info + off, sizeof(qemu_img_info) - off, &x, &r,
				   NULL, 0);
	assert_int_equal(n, 28);
	assert_int_equal(r.type, NBD_CMD_READ);
	assert_int_equal(r.error, 0);
	assert_int_equal(r.offset, 0);
	assert_int_equal(r.length, 512);
	assert_int_equal(r.payload, 0);
	assert_true(r.handle == UINT64_C(0x000055acfbbd4df0));
	off += 28;
	n = lund_nbd_parse_request(qemu_img_info + off, sizeof(qemu_img_info) - off, &x, &r,
				   NULL, 0);
	assert_int_equal(n, 28);
	assert_int_equal(r.type, NBD_CMD_DISC);
	assert_int_equal(r.error, 0);
	off += 28;
	assert_int_equal(off, sizeof(qemu_img_info));
}

static void test_real_nbdinfo_list(void **state)
{
	static const uint32_t codes[] = { NBD_OPT_STRUCTURED_REPLY, NBD_OPT_LIST, NBD_OPT_INFO,
					  NBD_OPT_LIST_META_CONTEXT, NBD_OPT_ABORT };
	struct lund_nbd_hs hs;
	uint8_t g[NBD_GREETING_LEN];
	size_t off = 4, i;
	ssize_t n;

	lund_nbd_greeting(g, &hs);
	assert_int_equal(lund_nbd_parse_client_flags(nbdinfo_list, 4, &hs, NULL, 0), 4);
	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		n = lund_nbd_parse_option(nbdinfo_list + off, sizeof(nbdinfo_list) - off, &hs,
					  &opt, NULL, NULL, 0);
		assert_true(n >= 16);
		assert_int_equal(opt.code, codes[i]);
		assert_int_equal(opt.reply, 0);
		if (opt.code == NBD_OPT_INFO)
			assert_int_equal(opt.info, (1u << NBD_INFO_BLOCK_SIZE) |
							   (1u << NBD_INFO_NAME) |
							   (1u << NBD_INFO_DESCRIPTION));
		if (opt.code == NBD_OPT_LIST_META_CONTEXT) {
			assert_int_equal(opt.nqueries, 0);
			assert_false(opt.base_allocation);
		}
		off += (size_t)n;
	}
	assert_int_equal(off, sizeof(nbdinfo_list));
}

/* nbdcopy's write: the parser consumes the header only; the 8 KiB payload
 * is the caller's to read; FLUSH and DISC follow. */
static void test_real_nbdcopy_write(void **state)
{
	size_t total = sizeof(nbdcopy_head) + 8192 + sizeof(nbdcopy_tail), off = 4;
	uint8_t *s = malloc(total);
	struct lund_nbd_hs hs;
	struct lund_nbd_xport x;
	struct lund_nbd_req r;
	uint8_t g[NBD_GREETING_LEN];
	ssize_t n;

	assert_non_null(s);
	memcpy(s, nbdcopy_head, sizeof(nbdcopy_head));
	memset(s + sizeof(nbdcopy_head), 0xa5, 8192);
	memcpy(s + sizeof(nbdcopy_head) + 8192, nbdcopy_tail, sizeof(nbdcopy_tail));
	lund_nbd_greeting(g, &hs);
	assert_int_equal(lund_nbd_parse_client_flags(s, total, &hs, NULL, 0), 4);
	n = lund_nbd_parse_option(s + off, total - off, &hs, &opt, NULL, NULL, 0);
	assert_int_equal(opt.code, NBD_OPT_STRUCTURED_REPLY);
	off += (size_t)n;
	n = lund_nbd_parse_option(s + off, total - off, &hs, &opt, NULL, NULL, 0);
	assert_int_equal(opt.code, NBD_OPT_GO);
	assert_int_equal(opt.reply, 0);
	off += (size_t)n;
	x = (struct lund_nbd_xport){ .size = lu.size, .tflags = lund_nbd_tflags(&lu, true),
				     .structured = true, .min_block = 512 };
	n = lund_nbd_parse_request(s + off, total - off, &x, &r, NULL, 0);
	assert_int_equal(n, 28);
	assert_int_equal(r.type, NBD_CMD_WRITE);
	assert_int_equal(r.error, 0);
	assert_int_equal(r.length, 8192);
	assert_int_equal(r.payload, 8192);
	assert_true(r.handle == 1);
	off += 28 + r.payload;
	n = lund_nbd_parse_request(s + off, total - off, &x, &r, NULL, 0);
	assert_int_equal(n, 28);
	assert_int_equal(r.type, NBD_CMD_FLUSH);
	assert_int_equal(r.error, 0);
	off += 28;
	n = lund_nbd_parse_request(s + off, total - off, &x, &r, NULL, 0);
	assert_int_equal(r.type, NBD_CMD_DISC);
	off += 28;
	assert_int_equal(off, total);
	free(s);
}

/* ---- Options ---- */

static void test_option_partial_and_magic(void **state)
{
	static const uint8_t go[] = { 0, 0, 0, 4, 'd', 'i', 's', 'k', 0, 0 };
	struct lund_nbd_hs hs;
	uint8_t b[64];
	size_t len = mkopt(b, NBD_OPT_GO, go, sizeof(go)), i, need = 0;
	char err[160] = "";

	fixed_hs(&hs);
	/* Any prefix asks for more, and says how much once the header is in. */
	for (i = 0; i < len; i++) {
		assert_int_equal(lund_nbd_parse_option(b, i, &hs, &opt, &need, NULL, 0), 0);
		assert_int_equal(need, i < 16 ? 16 : len);
	}
	assert_int_equal(lund_nbd_parse_option(b, len, &hs, &opt, &need, NULL, 0), (ssize_t)len);
	assert_string_equal(opt.name, "disk");
	assert_int_equal(opt.name_len, 4);
	assert_int_equal(opt.info, 0);
	b[0] ^= 1;
	assert_int_equal(lund_nbd_parse_option(b, len, &hs, &opt, NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "IHAVEOPT"));
}

static void test_option_not_fixed(void **state)
{
	static const uint8_t flags0[4] = { 0 };
	struct lund_nbd_hs hs;
	uint8_t g[NBD_GREETING_LEN], b[64];
	char err[200] = "";
	size_t len;

	lund_nbd_greeting(g, &hs);
	assert_int_equal(lund_nbd_parse_client_flags(flags0, 4, &hs, NULL, 0), 4);
	assert_false(hs.fixed);
	len = mkopt(b, NBD_OPT_LIST, NULL, 0);
	assert_int_equal(lund_nbd_parse_option(b, len, &hs, &opt, NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "fixed newstyle"));
	/* EXPORT_NAME is the one option an old client may send */
	len = mkopt(b, NBD_OPT_EXPORT_NAME, "c0t01d0", 7);
	assert_int_equal(lund_nbd_parse_option(b, len, &hs, &opt, NULL, NULL, 0), (ssize_t)len);
	assert_string_equal(opt.name, "c0t01d0");
}

static void test_option_export_name(void **state)
{
	struct lund_nbd_hs hs;
	uint8_t *b = malloc(16 + LUND_NBD_OPT_DATA_MAX + 1);
	char err[200] = "";
	size_t len;

	assert_non_null(b);
	fixed_hs(&hs);
	len = mkopt(b, NBD_OPT_EXPORT_NAME, NULL, 0);
	assert_int_equal(lund_nbd_parse_option(b, len, &hs, &opt, NULL, NULL, 0), 16);
	assert_int_equal(opt.name_len, 0); /* the default export */
	/* a NUL cannot be refused with a reply: the connection ends */
	len = mkopt(b, NBD_OPT_EXPORT_NAME, "a\0b", 3);
	assert_int_equal(lund_nbd_parse_option(b, len, &hs, &opt, NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "cannot be refused"));
	/* 4097 bytes: too long for a name */
	memset(b + 16, 'A', NBD_MAX_STRING + 1);
	len = mkopt(b, NBD_OPT_EXPORT_NAME, b + 16, NBD_MAX_STRING + 1);
	assert_int_equal(lund_nbd_parse_option(b, len, &hs, &opt, NULL, NULL, 0), -1);
	/* 4096 is the limit and fine */
	len = mkopt(b, NBD_OPT_EXPORT_NAME, b + 16, NBD_MAX_STRING);
	assert_int_equal(lund_nbd_parse_option(b, len, &hs, &opt, NULL, NULL, 0), (ssize_t)len);
	assert_int_equal(strlen(opt.name), NBD_MAX_STRING);
	/* beyond what we hold at all: not even skipped */
	lun_put_be32(b + 12, LUND_NBD_OPT_DATA_MAX + 1);
	assert_int_equal(lund_nbd_parse_option(b, 16, &hs, &opt, NULL, err, sizeof(err)), -1);
	free(b);
}

static void test_option_info_go(void **state)
{
	/* name "c0tABd0", requests NAME, 0x4242 (unknown), BLOCK_SIZE, EXPORT */
	static const uint8_t go[] = { 0, 0, 0, 7, 'c', '0', 't', 'A', 'B', 'd', '0', 0, 4,
				      0, 1, 0x42, 0x42, 0, 3, 0, 0 };
	struct lund_nbd_hs hs;
	uint8_t b[64], d[32];
	char err[8];
	size_t len;

	fixed_hs(&hs);
	len = mkopt(b, NBD_OPT_INFO, go, sizeof(go));
	assert_int_equal(lund_nbd_parse_option(b, len, &hs, &opt, NULL, err, sizeof(err)),
			 (ssize_t)len);
	assert_int_equal(opt.reply, 0);
	assert_int_equal(opt.code, NBD_OPT_INFO);
	assert_string_equal(opt.name, "c0tABd0");
	assert_int_equal(opt.info, (1u << NBD_INFO_NAME) | (1u << NBD_INFO_BLOCK_SIZE) |
					   (1u << NBD_INFO_EXPORT));
	/* shorter than name length + count */
	len = mkopt(b, NBD_OPT_GO, go, 5);
	assert_int_equal(lund_nbd_parse_option(b, len, &hs, &opt, NULL, NULL, 0), (ssize_t)len);
	assert_int_equal(opt.reply, NBD_REP_ERR_INVALID);
	assert_non_null(strstr(opt.why, "at least 6 bytes"));
	/* a name length running past the data */
	memcpy(d, go, sizeof(go));
	d[3] = 16;
	len = mkopt(b, NBD_OPT_GO, d, sizeof(go));
	assert_int_equal(lund_nbd_parse_option(b, len, &hs, &opt, NULL, NULL, 0), (ssize_t)len);
	assert_int_equal(opt.reply, NBD_REP_ERR_INVALID);
	assert_non_null(strstr(opt.why, "does not fit"));
	/* a request count that disagrees with the length */
	memcpy(d, go, sizeof(go));
	d[12] = 5;
	len = mkopt(b, NBD_OPT_GO, d, sizeof(go));
	assert_int_equal(lund_nbd_parse_option(b, len, &hs, &opt, NULL, NULL, 0), (ssize_t)len);
	assert_int_equal(opt.reply, NBD_REP_ERR_INVALID);
	assert_non_null(strstr(opt.why, "5 information requests take 23"));
	/* a NUL in the name */
	memcpy(d, go, sizeof(go));
	d[6] = 0;
	len = mkopt(b, NBD_OPT_GO, d, sizeof(go));
	assert_int_equal(lund_nbd_parse_option(b, len, &hs, &opt, NULL, NULL, 0), (ssize_t)len);
	assert_int_equal(opt.reply, NBD_REP_ERR_INVALID);
	assert_non_null(strstr(opt.why, "NUL"));
}

static void test_option_simple_ones(void **state)
{
	struct lund_nbd_hs hs;
	uint8_t b[64];
	size_t len;

	fixed_hs(&hs);
	len = mkopt(b, NBD_OPT_LIST, NULL, 0);
	assert_int_equal(lund_nbd_parse_option(b, len, &hs, &opt, NULL, NULL, 0), 16);
	assert_int_equal(opt.reply, 0);
	len = mkopt(b, NBD_OPT_LIST, "x", 1);
	assert_int_equal(lund_nbd_parse_option(b, len, &hs, &opt, NULL, NULL, 0), 17);
	assert_int_equal(opt.reply, NBD_REP_ERR_INVALID);
	assert_non_null(strstr(opt.why, "NBD_OPT_LIST carries no data, but 1 bytes"));
	/* STARTTLS: refused by policy, stays in the handshake */
	len = mkopt(b, NBD_OPT_STARTTLS, NULL, 0);
	assert_int_equal(lund_nbd_parse_option(b, len, &hs, &opt, NULL, NULL, 0), 16);
	assert_int_equal(opt.reply, NBD_REP_ERR_POLICY);
	assert_non_null(strstr(opt.why, "TLS"));
	len = mkopt(b, NBD_OPT_STARTTLS, "xy", 2);
	lund_nbd_parse_option(b, len, &hs, &opt, NULL, NULL, 0);
	assert_int_equal(opt.reply, NBD_REP_ERR_INVALID);
	/* STRUCTURED_REPLY with data is refused and negotiates nothing */
	len = mkopt(b, NBD_OPT_STRUCTURED_REPLY, "x", 1);
	lund_nbd_parse_option(b, len, &hs, &opt, NULL, NULL, 0);
	assert_int_equal(opt.reply, NBD_REP_ERR_INVALID);
	assert_false(hs.structured);
	len = mkopt(b, NBD_OPT_STRUCTURED_REPLY, NULL, 0);
	lund_nbd_parse_option(b, len, &hs, &opt, NULL, NULL, 0);
	assert_int_equal(opt.reply, 0);
	assert_true(hs.structured);
	/* ABORT: accepted whatever comes with it */
	len = mkopt(b, NBD_OPT_ABORT, "zz", 2);
	assert_int_equal(lund_nbd_parse_option(b, len, &hs, &opt, NULL, NULL, 0), 18);
	assert_int_equal(opt.reply, 0);
	/* unknown options, including extended headers, are unsupported */
	len = mkopt(b, 42, "abc", 3);
	assert_int_equal(lund_nbd_parse_option(b, len, &hs, &opt, NULL, NULL, 0), 19);
	assert_int_equal(opt.reply, NBD_REP_ERR_UNSUP);
	assert_non_null(strstr(opt.why, "option 42 (unknown) is not supported"));
	len = mkopt(b, NBD_OPT_EXTENDED_HEADERS, NULL, 0);
	lund_nbd_parse_option(b, len, &hs, &opt, NULL, NULL, 0);
	assert_int_equal(opt.reply, NBD_REP_ERR_UNSUP);
}

static void test_option_too_big(void **state)
{
	struct lund_nbd_hs hs;
	uint8_t b[16];

	fixed_hs(&hs);
	mkopt(b, NBD_OPT_GO, NULL, 0);
	lun_put_be32(b + 12, 1u << 20);
	/* only the header is consumed; the caller discards `skip` bytes */
	assert_int_equal(lund_nbd_parse_option(b, 16, &hs, &opt, NULL, NULL, 0), 16);
	assert_int_equal(opt.skip, 1u << 20);
	assert_int_equal(opt.reply, NBD_REP_ERR_TOO_BIG);
	assert_non_null(strstr(opt.why, "larger than the 16384 bytes"));
}

static void test_option_meta_context(void **state)
{
	/* name "", 2 queries: "base:allocation", "qemu:dirty-bitmap:a" */
	uint8_t d[64], b[96];
	struct lund_nbd_hs hs;
	size_t len, n = 0;

	memset(d, 0, sizeof(d));
	lun_put_be32(d, 0);
	lun_put_be32(d + 4, 2);
	lun_put_be32(d + 8, 15);
	memcpy(d + 12, "base:allocation", 15);
	lun_put_be32(d + 27, 19);
	memcpy(d + 31, "qemu:dirty-bitmap:a", 19);
	n = 50;
	fixed_hs(&hs);
	/* before structured replies: refused */
	len = mkopt(b, NBD_OPT_SET_META_CONTEXT, d, (uint32_t)n);
	assert_int_equal(lund_nbd_parse_option(b, len, &hs, &opt, NULL, NULL, 0), (ssize_t)len);
	assert_int_equal(opt.reply, NBD_REP_ERR_INVALID);
	assert_non_null(strstr(opt.why, "structured replies"));
	hs.structured = true;
	assert_int_equal(lund_nbd_parse_option(b, len, &hs, &opt, NULL, NULL, 0), (ssize_t)len);
	assert_int_equal(opt.reply, 0);
	assert_int_equal(opt.nqueries, 2);
	assert_true(opt.base_allocation);
	/* one byte too many at the end */
	len = mkopt(b, NBD_OPT_LIST_META_CONTEXT, d, (uint32_t)n + 1);
	lund_nbd_parse_option(b, len, &hs, &opt, NULL, NULL, 0);
	assert_int_equal(opt.reply, NBD_REP_ERR_INVALID);
	assert_non_null(strstr(opt.why, "1 bytes follow the last query"));
	/* a query running past the end */
	lun_put_be32(d + 27, 20);
	len = mkopt(b, NBD_OPT_SET_META_CONTEXT, d, (uint32_t)n);
	lund_nbd_parse_option(b, len, &hs, &opt, NULL, NULL, 0);
	assert_int_equal(opt.reply, NBD_REP_ERR_INVALID);
	assert_non_null(strstr(opt.why, "query 2 of 20 bytes"));
	/* a query count the data cannot hold is refused before any loop */
	lun_put_be32(d + 4, 0xffffffffu);
	len = mkopt(b, NBD_OPT_SET_META_CONTEXT, d, (uint32_t)n);
	lund_nbd_parse_option(b, len, &hs, &opt, NULL, NULL, 0);
	assert_int_equal(opt.reply, NBD_REP_ERR_INVALID);
	assert_non_null(strstr(opt.why, "4294967295 queries"));
	/* too short for the two counts */
	len = mkopt(b, NBD_OPT_SET_META_CONTEXT, d, 7);
	lund_nbd_parse_option(b, len, &hs, &opt, NULL, NULL, 0);
	assert_int_equal(opt.reply, NBD_REP_ERR_INVALID);
}

/* ---- Option replies ---- */

static void test_option_replies(void **state)
{
	static const uint8_t ack[20] = { 0x00, 0x03, 0xe8, 0x89, 0x04, 0x55, 0x65, 0xa9, 0, 0,
					 0,    7,    0,	   0,	 0,    1,    0,	   0,	 0, 0 };
	uint8_t b[64], big[NBD_EXPORT_NAME_REPLY_LEN], z[124] = { 0 };
	struct lund_nbd_hs hs;

	assert_int_equal(lund_nbd_opt_reply(b, sizeof(b), NBD_OPT_GO, NBD_REP_ACK, NULL), 20);
	assert_memory_equal(b, ack, 20);
	assert_int_equal(lund_nbd_opt_reply(b, sizeof(b), NBD_OPT_GO, NBD_REP_ERR_UNKNOWN,
					    "no such export"),
			 34);
	assert_int_equal(lun_get_be32(b + 12), 0x80000006u);
	assert_int_equal(lun_get_be32(b + 16), 14);
	assert_memory_equal(b + 20, "no such export", 14);
	/* the message is cut to the buffer, and the length says so */
	assert_int_equal(lund_nbd_opt_reply(b, 24, NBD_OPT_GO, NBD_REP_ERR_UNKNOWN, "abcdefgh"),
			 24);
	assert_int_equal(lun_get_be32(b + 16), 4);
	assert_int_equal(lund_nbd_opt_reply(b, 19, NBD_OPT_GO, NBD_REP_ACK, NULL), 0);
	/* NBD_REP_SERVER: name and description follow */
	assert_int_equal(lund_nbd_rep_server_hdr(b, 7, 5), 24);
	assert_int_equal(lun_get_be32(b + 8), NBD_OPT_LIST);
	assert_int_equal(lun_get_be32(b + 12), NBD_REP_SERVER);
	assert_int_equal(lun_get_be32(b + 16), 4 + 7 + 5);
	assert_int_equal(lun_get_be32(b + 20), 7);
	/* EXPORT_NAME's answer with and without the zeroes */
	fixed_hs(&hs);
	memset(big, 0xee, sizeof(big));
	assert_int_equal(lund_nbd_export_name_reply(big, &hs, 0x123456789aULL, 0x0d), 10);
	assert_true(lun_get_be64(big) == 0x123456789aULL);
	assert_int_equal(lun_get_be16(big + 8), 0x0d);
	assert_int_equal(big[10], 0xee); /* nothing written past the 10 bytes */
	hs.no_zeroes = false;
	assert_int_equal(lund_nbd_export_name_reply(big, &hs, 512, 1), 134);
	assert_memory_equal(big + 10, z, 124);
}

/* Walk a buffer of option replies; returns how many, checks each magic. */
static int walk_replies(const uint8_t *b, size_t n, uint32_t *types, uint16_t *infos)
{
	size_t off = 0;
	int k = 0;

	while (off < n) {
		assert_true(n - off >= 20);
		assert_true(lun_get_be64(b + off) == NBD_REP_MAGIC);
		types[k] = lun_get_be32(b + off + 12);
		infos[k] = types[k] == NBD_REP_INFO ? lun_get_be16(b + off + 20) : 0xffff;
		off += 20 + lun_get_be32(b + off + 16);
		k++;
	}
	assert_int_equal(off, n);
	return k;
}

static void test_info_reply(void **state)
{
	static uint8_t b[LUND_NBD_INFO_REPLY_MAX];
	uint32_t types[8];
	uint16_t infos[8];
	uint16_t tf = lund_nbd_tflags(&lu, true);
	size_t n;

	memset(&opt, 0, sizeof(opt));
	opt.code = NBD_OPT_GO;
	/* nothing asked: export, block size, ACK */
	n = lund_nbd_info_reply(b, sizeof(b), &opt, &lu, tf, "c0tABd0", "iSCSI LU");
	assert_int_equal(n, 32 + 34 + 20);
	assert_int_equal(walk_replies(b, n, types, infos), 3);
	assert_int_equal(infos[0], NBD_INFO_EXPORT);
	assert_true(lun_get_be64(b + 22) == lu.size);
	assert_int_equal(lun_get_be16(b + 30), tf);
	assert_int_equal(infos[1], NBD_INFO_BLOCK_SIZE);
	assert_int_equal(lun_get_be32(b + 32 + 22), 512);
	assert_int_equal(lun_get_be32(b + 32 + 26), 4096);
	assert_int_equal(lun_get_be32(b + 32 + 30), LUND_NBD_MAX_PAYLOAD);
	assert_int_equal(types[2], NBD_REP_ACK);
	/* name and description asked (as nbdinfo does) */
	opt.info = (1u << NBD_INFO_NAME) | (1u << NBD_INFO_DESCRIPTION);
	n = lund_nbd_info_reply(b, sizeof(b), &opt, &lu, tf, "c0tABd0", "iSCSI LU");
	assert_int_equal(walk_replies(b, n, types, infos), 5);
	assert_int_equal(infos[1], NBD_INFO_NAME);
	assert_memory_equal(b + 32 + 22, "c0tABd0", 7);
	assert_int_equal(infos[2], NBD_INFO_DESCRIPTION);
	assert_int_equal(infos[3], NBD_INFO_BLOCK_SIZE);
	assert_int_equal(types[4], NBD_REP_ACK);
	/* an empty description is left out */
	n = lund_nbd_info_reply(b, sizeof(b), &opt, &lu, tf, "c0tABd0", "");
	assert_int_equal(walk_replies(b, n, types, infos), 4);
	/* too small a buffer: nothing written */
	assert_int_equal(lund_nbd_info_reply(b, 100, &opt, &lu, tf, "c0tABd0", "iSCSI LU"), 0);
}

static void test_export_flags_and_check(void **state)
{
	struct lund_nbd_export e = lu;
	char err[160] = "";

	assert_int_equal(lund_nbd_tflags(&e, false),
			 NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_FLUSH | NBD_FLAG_SEND_FUA |
				 NBD_FLAG_SEND_TRIM | NBD_FLAG_SEND_WRITE_ZEROES |
				 NBD_FLAG_CAN_MULTI_CONN | NBD_FLAG_SEND_CACHE);
	assert_true(lund_nbd_tflags(&e, true) & NBD_FLAG_SEND_DF);
	e.read_only = true;
	assert_int_equal(lund_nbd_tflags(&e, false) & (NBD_FLAG_READ_ONLY | NBD_FLAG_SEND_TRIM |
						       NBD_FLAG_SEND_WRITE_ZEROES),
			 NBD_FLAG_READ_ONLY);
	assert_int_equal(lund_nbd_export_check(&lu, err, sizeof(err)), 0);
	e = lu;
	e.min_block = 768;
	assert_int_equal(lund_nbd_export_check(&e, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "minimum block size 768"));
	e = lu;
	e.pref_block = 256;
	assert_int_equal(lund_nbd_export_check(&e, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "preferred"));
	e = lu;
	e.max_payload = 1000;
	assert_int_equal(lund_nbd_export_check(&e, err, sizeof(err)), -1);
	e.max_payload = UINT32_MAX; /* "no limit" is allowed */
	assert_int_equal(lund_nbd_export_check(&e, err, sizeof(err)), 0);
	e = lu;
	e.size += 100;
	assert_int_equal(lund_nbd_export_check(&e, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a multiple"));
	e = (struct lund_nbd_export){ .size = 12345 }; /* defaults: 1, 4096, 32 MiB */
	assert_int_equal(lund_nbd_export_check(&e, err, sizeof(err)), 0);
}

/* ---- Requests ---- */

static struct lund_nbd_xport rw_xport(void)
{
	return (struct lund_nbd_xport){ .size = lu.size, .tflags = lund_nbd_tflags(&lu, true),
					.structured = true, .min_block = 512 };
}

static void expect_req_error(const struct lund_nbd_xport *x, uint16_t flags, uint16_t type,
			     uint64_t offset, uint32_t length, uint32_t error, const char *why)
{
	struct lund_nbd_req r;
	uint8_t b[28];

	mkreq(b, flags, type, 7, offset, length);
	assert_int_equal(lund_nbd_parse_request(b, 28, x, &r, NULL, 0), 28);
	assert_int_equal(r.error, error);
	if (why)
		assert_non_null(strstr(r.why, why));
	if (!error)
		assert_string_equal(r.why, "");
}

static void test_request_valid(void **state)
{
	struct lund_nbd_xport x = rw_xport();
	struct lund_nbd_req r;
	uint8_t b[28];
	char err[128] = "";
	size_t i;

	mkreq(b, NBD_CMD_FLAG_FUA, NBD_CMD_WRITE, UINT64_C(0x0102030405060708), 4096, 8192);
	for (i = 0; i < 28; i++)
		assert_int_equal(lund_nbd_parse_request(b, i, &x, &r, NULL, 0), 0);
	assert_int_equal(lund_nbd_parse_request(b, 28, &x, &r, NULL, 0), 28);
	assert_int_equal(r.error, 0);
	assert_int_equal(r.flags, NBD_CMD_FLAG_FUA);
	assert_true(r.handle == UINT64_C(0x0102030405060708));
	assert_int_equal(r.payload, 8192);
	/* every command the LU advertises, at the very end of the export */
	expect_req_error(&x, 0, NBD_CMD_READ, lu.size - 512, 512, 0, NULL);
	expect_req_error(&x, NBD_CMD_FLAG_DF, NBD_CMD_READ, 0, 65536, 0, NULL);
	expect_req_error(&x, NBD_CMD_FLAG_FUA, NBD_CMD_TRIM, 0, (uint32_t)lu.size, 0, NULL);
	expect_req_error(&x, NBD_CMD_FLAG_NO_HOLE, NBD_CMD_WRITE_ZEROES, 512, 1024, 0, NULL);
	expect_req_error(&x, 0, NBD_CMD_CACHE, 0, 1u << 20, 0, NULL);
	expect_req_error(&x, 0, NBD_CMD_FLUSH, 0, 0, 0, NULL);
	expect_req_error(&x, 0, NBD_CMD_DISC, 0, 0, 0, NULL);
	/* a lost stream */
	b[0] = 0x26;
	assert_int_equal(lund_nbd_parse_request(b, 28, &x, &r, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "stream is lost"));
}

static void test_request_errors(void **state)
{
	struct lund_nbd_xport x = rw_xport(), ro = x, plain = x;
	struct lund_nbd_req r;
	uint8_t b[28];

	expect_req_error(&x, 0, 8, 0, 512, NBD_EINVAL, "unknown command 8");
	expect_req_error(&x, 0x40, NBD_CMD_READ, 0, 512, NBD_EINVAL, "0x0040");
	expect_req_error(&x, NBD_CMD_FLAG_NO_HOLE, NBD_CMD_WRITE, 0, 512, NBD_EINVAL, NULL);
	expect_req_error(&x, NBD_CMD_FLAG_DF, NBD_CMD_WRITE, 0, 512, NBD_EINVAL, NULL);
	expect_req_error(&x, NBD_CMD_FLAG_REQ_ONE, NBD_CMD_READ, 0, 512, NBD_EINVAL, NULL);
	expect_req_error(&x, NBD_CMD_FLAG_FAST_ZERO, NBD_CMD_WRITE_ZEROES, 0, 512, NBD_EINVAL,
			 NULL); /* never advertised */
	expect_req_error(&x, NBD_CMD_FLAG_PAYLOAD_LEN, NBD_CMD_WRITE, 0, 512, NBD_EINVAL, NULL);
	/* qemu's real BLOCK_STATUS with REQ_ONE: no context was negotiated */
	expect_req_error(&x, NBD_CMD_FLAG_REQ_ONE, NBD_CMD_BLOCK_STATUS, 0, 512, NBD_EINVAL,
			 "metadata context");
	expect_req_error(&x, 0, NBD_CMD_READ, 0, 0, NBD_EINVAL, "length 0");
	expect_req_error(&x, 0, NBD_CMD_FLUSH, 512, 0, NBD_EINVAL, "offset and length 0");
	expect_req_error(&x, 0, NBD_CMD_DISC, 0, 1, NBD_EINVAL, NULL);
	/* past the end: reads EINVAL, writes ENOSPC */
	expect_req_error(&x, 0, NBD_CMD_READ, lu.size - 512, 1024, NBD_EINVAL, "past the end");
	expect_req_error(&x, 0, NBD_CMD_CACHE, lu.size, 512, NBD_EINVAL, NULL);
	expect_req_error(&x, 0, NBD_CMD_WRITE, lu.size, 512, NBD_ENOSPC, NULL);
	expect_req_error(&x, 0, NBD_CMD_TRIM, lu.size - 512, 1024, NBD_ENOSPC, NULL);
	expect_req_error(&x, 0, NBD_CMD_WRITE_ZEROES, UINT64_MAX - 511, 1024, NBD_ENOSPC, NULL);
	expect_req_error(&x, 0, NBD_CMD_READ, UINT64_MAX, 512, NBD_EINVAL, NULL); /* no wrap */
	/* too big for one request; the write's payload is still on the wire */
	expect_req_error(&x, 0, NBD_CMD_READ, 0, LUND_NBD_MAX_PAYLOAD + 512, NBD_EOVERFLOW,
			 "larger than");
	mkreq(b, 0, NBD_CMD_WRITE, 1, 0, LUND_NBD_MAX_PAYLOAD + 512);
	lund_nbd_parse_request(b, 28, &x, &r, NULL, 0);
	assert_int_equal(r.error, NBD_EOVERFLOW);
	assert_int_equal(r.payload, LUND_NBD_MAX_PAYLOAD + 512);
	x.max_payload = 4096;
	expect_req_error(&x, 0, NBD_CMD_WRITE, 0, 8192, NBD_EOVERFLOW, "4096 bytes");
	/* trim and zeroing are not payloads: any length within the export */
	expect_req_error(&x, 0, NBD_CMD_TRIM, 0, 1u << 20, 0, NULL);
	x.max_payload = 0;
	/* alignment */
	expect_req_error(&x, 0, NBD_CMD_READ, 100, 512, NBD_EINVAL, "aligned");
	expect_req_error(&x, 0, NBD_CMD_WRITE, 512, 100, NBD_EINVAL, "aligned");
	x.min_block = 1;
	expect_req_error(&x, 0, NBD_CMD_READ, 100, 3, 0, NULL);
	/* read-only: writes are EPERM, even the ones not advertised */
	ro.tflags = lund_nbd_tflags(
		&(struct lund_nbd_export){ .read_only = true, .can_trim = true }, true);
	expect_req_error(&ro, 0, NBD_CMD_WRITE, 0, 512, NBD_EPERM, "read-only");
	expect_req_error(&ro, 0, NBD_CMD_TRIM, 0, 512, NBD_EPERM, NULL);
	expect_req_error(&ro, 0, NBD_CMD_WRITE_ZEROES, 0, 512, NBD_EPERM, NULL);
	expect_req_error(&ro, 0, NBD_CMD_READ, 0, 512, 0, NULL);
	mkreq(b, 0, NBD_CMD_WRITE, 1, 0, 512);
	lund_nbd_parse_request(b, 28, &ro, &r, NULL, 0);
	assert_int_equal(r.payload, 512);
	/* nothing advertised but reads and writes */
	plain.tflags = NBD_FLAG_HAS_FLAGS;
	plain.structured = false;
	expect_req_error(&plain, 0, NBD_CMD_FLUSH, 0, 0, NBD_EINVAL, "not advertised");
	expect_req_error(&plain, 0, NBD_CMD_TRIM, 0, 512, NBD_EINVAL, "not advertised");
	expect_req_error(&plain, 0, NBD_CMD_WRITE_ZEROES, 0, 512, NBD_EINVAL, "not advertised");
	expect_req_error(&plain, 0, NBD_CMD_CACHE, 0, 512, NBD_EINVAL, "not advertised");
	expect_req_error(&plain, NBD_CMD_FLAG_FUA, NBD_CMD_WRITE, 0, 512, NBD_EINVAL, NULL);
	expect_req_error(&plain, NBD_CMD_FLAG_DF, NBD_CMD_READ, 0, 512, NBD_EINVAL, NULL);
}

/* ---- Transmission replies ---- */

static void test_replies(void **state)
{
	static const uint8_t simple[16] = { 0x67, 0x44, 0x66, 0x98, 0, 0, 0, 22,
					    1,	  2,	3,    4,    5, 6, 7, 8 };
	static const uint8_t none[20] = { 0x66, 0x8e, 0x33, 0xef, 0, 1, 0, 0, 1, 2,
					  3,	4,    5,    6,	  7, 8, 0, 0, 0, 0 };
	uint64_t h = UINT64_C(0x0102030405060708);
	uint8_t b[64];

	assert_int_equal(lund_nbd_simple_reply(b, NBD_EINVAL, h), 16);
	assert_memory_equal(b, simple, 16);
	assert_int_equal(lund_nbd_reply_none(b, h), 20);
	assert_memory_equal(b, none, 20);
	/* offset-data: the chunk length counts the offset */
	assert_int_equal(lund_nbd_reply_offset_data(b, h, 4096, 512, true), 28);
	assert_int_equal(lun_get_be16(b + 4), NBD_REPLY_FLAG_DONE);
	assert_int_equal(lun_get_be16(b + 6), NBD_REPLY_TYPE_OFFSET_DATA);
	assert_int_equal(lun_get_be32(b + 16), 520);
	assert_true(lun_get_be64(b + 20) == 4096);
	assert_int_equal(lund_nbd_reply_offset_data(b, h, 0, 512, false), 28);
	assert_int_equal(lun_get_be16(b + 4), 0);
	assert_int_equal(lund_nbd_reply_offset_data(b, h, 0, 0, true), 0);
	assert_int_equal(lund_nbd_reply_offset_data(b, h, 0, UINT32_MAX - 7, true), 0);
	assert_int_equal(lund_nbd_reply_offset_data(b, h, 0, UINT32_MAX - 8, true), 28);
	/* error chunk with its message */
	assert_int_equal(lund_nbd_reply_error(b, sizeof(b), h, NBD_ENOSPC, "past the end"), 38);
	assert_int_equal(lun_get_be16(b + 4), NBD_REPLY_FLAG_DONE);
	assert_int_equal(lun_get_be16(b + 6), NBD_REPLY_TYPE_ERROR);
	assert_int_equal(lun_get_be32(b + 16), 18);
	assert_int_equal(lun_get_be32(b + 20), NBD_ENOSPC);
	assert_int_equal(lun_get_be16(b + 24), 12);
	assert_memory_equal(b + 26, "past the end", 12);
	/* error 0 is not an error on the wire: sent as EIO */
	assert_int_equal(lund_nbd_reply_error(b, 26, h, 0, "cut"), 26);
	assert_int_equal(lun_get_be32(b + 20), NBD_EIO);
	assert_int_equal(lun_get_be16(b + 24), 0);
	assert_int_equal(lun_get_be32(b + 16), 6);
	assert_int_equal(lund_nbd_reply_error(b, 25, h, NBD_EIO, NULL), 0);
	assert_int_equal(lund_nbd_chunk_hdr(b, 0, NBD_REPLY_TYPE_ERROR_OFFSET, h, 14), 20);
	assert_int_equal(lun_get_be16(b + 6), 0x8002);
}

static void test_names_and_errno(void **state)
{
	assert_string_equal(lund_nbd_opt_str(NBD_OPT_GO), "NBD_OPT_GO");
	assert_string_equal(lund_nbd_opt_str(99), "unknown");
	assert_string_equal(lund_nbd_cmd_str(NBD_CMD_WRITE_ZEROES), "NBD_CMD_WRITE_ZEROES");
	assert_string_equal(lund_nbd_cmd_str(8), "unknown");
	assert_string_equal(lund_nbd_rep_str(NBD_REP_ERR_TOO_BIG), "NBD_REP_ERR_TOO_BIG");
	assert_string_equal(lund_nbd_rep_str(0x80000042u), "unknown");
	assert_string_equal(lund_nbd_err_str(NBD_EOVERFLOW), "EOVERFLOW");
	assert_string_equal(lund_nbd_err_str(4), "unknown");
	assert_int_equal(lund_nbd_errno(0), NBD_SUCCESS);
	assert_int_equal(lund_nbd_errno(EROFS), NBD_EPERM);
	assert_int_equal(lund_nbd_errno(EDQUOT), NBD_ENOSPC);
	assert_int_equal(lund_nbd_errno(EFBIG), NBD_ENOSPC);
	assert_int_equal(lund_nbd_errno(ENXIO), NBD_EIO);
	assert_int_equal(lund_nbd_errno(ESHUTDOWN), NBD_ESHUTDOWN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_greeting_and_flags),
		cmocka_unit_test(test_real_qemu_img_info),
		cmocka_unit_test(test_real_nbdinfo_list),
		cmocka_unit_test(test_real_nbdcopy_write),
		cmocka_unit_test(test_option_partial_and_magic),
		cmocka_unit_test(test_option_not_fixed),
		cmocka_unit_test(test_option_export_name),
		cmocka_unit_test(test_option_info_go),
		cmocka_unit_test(test_option_simple_ones),
		cmocka_unit_test(test_option_too_big),
		cmocka_unit_test(test_option_meta_context),
		cmocka_unit_test(test_option_replies),
		cmocka_unit_test(test_info_reply),
		cmocka_unit_test(test_export_flags_and_check),
		cmocka_unit_test(test_request_valid),
		cmocka_unit_test(test_request_errors),
		cmocka_unit_test(test_replies),
		cmocka_unit_test(test_names_and_errno),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
