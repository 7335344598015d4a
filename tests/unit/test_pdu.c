/*
 * test_pdu.c - BHS codec: byte offsets against RFC 7143 section 11, round
 * trips for every opcode, every rejection rule, and the AHS parser.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "pdu.h"
#include "util.h"

static char err[256];

/* ---- helpers ------------------------------------------------------------ */

static void mk(struct lun_pdu *p, uint8_t opcode)
{
	memset(p, 0, sizeof(*p));
	p->opcode = opcode;
	p->ahs_len = 0;
	p->data_len = 0;
}

static int dec_t(const uint8_t *b, struct lun_pdu *p)
{
	err[0] = '\0';
	return lun_pdu_decode(b, LUN_FROM_TARGET, p, err, sizeof(err));
}

static enum lun_pdu_dir dir_of(uint8_t opcode)
{
	return opcode >= 0x20 ? LUN_FROM_TARGET : LUN_FROM_INITIATOR;
}

/* encode -> decode must give back exactly the struct we started from. */
static void roundtrip(const struct lun_pdu *in)
{
	uint8_t b[LUN_BHS_LEN];
	struct lun_pdu out;

	if (lun_pdu_encode(in, b, err, sizeof(err)))
		fail_msg("encode of %s failed: %s", lun_pdu_opcode_name(in->opcode), err);
	if (lun_pdu_decode(b, dir_of(in->opcode), &out, err, sizeof(err)))
		fail_msg("decode of %s failed: %s", lun_pdu_opcode_name(in->opcode), err);
	assert_memory_equal(in, &out, sizeof(out));
}

/* A minimal valid target PDU of each kind, built by hand. */
static void base_bhs(uint8_t *b, uint8_t opcode)
{
	memset(b, 0, LUN_BHS_LEN);
	b[0] = opcode;
	b[1] = 0x80;
	if (opcode == LUN_OP_NOP_IN || opcode == LUN_OP_TEXT_RSP)
		lun_put_be32(b + 20, LUN_RSVD_TAG);
	if (opcode == LUN_OP_R2T)
		lun_put_be32(b + 44, 512);
	if (opcode == LUN_OP_ASYNC || opcode == LUN_OP_REJECT)
		lun_put_be32(b + 16, LUN_RSVD_TAG);
	if (opcode == LUN_OP_REJECT)
		lun_put_be24(b + 5, 48);
	if (opcode == LUN_OP_LOGIN_RSP)
		b[1] = 0x00;
}

static void expect_reject(const uint8_t *b, enum lun_pdu_dir dir, const char *needle)
{
	struct lun_pdu p;

	memset(&p, 0x5a, sizeof(p));
	err[0] = '\0';
	if (lun_pdu_decode(b, dir, &p, err, sizeof(err)) == 0)
		fail_msg("decode accepted a PDU that should fail with '%s'", needle);
	if (!strstr(err, needle))
		fail_msg("error '%s' does not mention '%s'", err, needle);
}

/* ---- byte offsets of received PDUs ------------------------------------ */

static void test_data_in_offsets(void **state)
{
	uint8_t b[LUN_BHS_LEN] = { 0 };
	struct lun_pdu p;

	(void)state;
	b[0] = 0x25;
	b[1] = 0x83; /* F, U, S */
	b[3] = 0x02;
	lun_put_be24(b + 5, 0x000200);
	b[9] = 0x01; /* LUN 1, peripheral addressing */
	lun_put_be32(b + 16, 0x11223344);
	lun_put_be32(b + 20, 0xffffffff);
	lun_put_be32(b + 24, 0x10);
	lun_put_be32(b + 28, 0x20);
	lun_put_be32(b + 32, 0x30);
	lun_put_be32(b + 36, 5);
	lun_put_be32(b + 40, 0x1000);
	lun_put_be32(b + 44, 0x200);
	assert_int_equal(dec_t(b, &p), 0);
	assert_int_equal(p.opcode, LUN_OP_DATA_IN);
	assert_false(p.immediate);
	assert_int_equal(p.data_len, 0x200);
	assert_int_equal(p.ahs_len, 0);
	assert_true(p.u.data_in.final && p.u.data_in.underflow && p.u.data_in.has_status);
	assert_false(p.u.data_in.ack || p.u.data_in.overflow);
	assert_int_equal(p.u.data_in.status, 2);
	assert_true(p.u.data_in.lun == 0x0001000000000000ull);
	assert_int_equal(p.u.data_in.itt, 0x11223344);
	assert_int_equal(p.u.data_in.ttt, 0xffffffff);
	assert_int_equal(p.u.data_in.statsn, 0x10);
	assert_int_equal(p.u.data_in.expcmdsn, 0x20);
	assert_int_equal(p.u.data_in.maxcmdsn, 0x30);
	assert_int_equal(p.u.data_in.datasn, 5);
	assert_int_equal(p.u.data_in.buffer_offset, 0x1000);
	assert_int_equal(p.u.data_in.residual, 0x200);
}

static void test_scsi_rsp_offsets(void **state)
{
	uint8_t b[LUN_BHS_LEN] = { 0 };
	struct lun_pdu p;

	(void)state;
	b[0] = 0x21;
	b[1] = 0x80 | 0x10 | 0x02; /* o and U */
	b[2] = 0x01;
	b[3] = 0x02;
	b[4] = 0;
	lun_put_be24(b + 5, 20);
	lun_put_be32(b + 16, 0xa1a2a3a4);
	lun_put_be32(b + 20, 0xb1b2b3b4);
	lun_put_be32(b + 24, 0xc1c2c3c4);
	lun_put_be32(b + 28, 0xd1d2d3d4);
	lun_put_be32(b + 32, 0xe1e2e3e4);
	lun_put_be32(b + 36, 0xf1f2f3f4);
	lun_put_be32(b + 40, 0x01020304);
	lun_put_be32(b + 44, 0x05060708);
	assert_int_equal(dec_t(b, &p), 0);
	assert_true(p.u.scsi_rsp.bidi_overflow && p.u.scsi_rsp.underflow);
	assert_false(p.u.scsi_rsp.bidi_underflow || p.u.scsi_rsp.overflow);
	assert_int_equal(p.u.scsi_rsp.response, 1);
	assert_int_equal(p.u.scsi_rsp.status, 2);
	assert_int_equal(p.data_len, 20);
	assert_int_equal(p.u.scsi_rsp.itt, 0xa1a2a3a4);
	assert_int_equal(p.u.scsi_rsp.snack_tag, 0xb1b2b3b4);
	assert_int_equal(p.u.scsi_rsp.statsn, 0xc1c2c3c4);
	assert_int_equal(p.u.scsi_rsp.expcmdsn, 0xd1d2d3d4);
	assert_int_equal(p.u.scsi_rsp.maxcmdsn, 0xe1e2e3e4);
	assert_int_equal(p.u.scsi_rsp.expdatasn, 0xf1f2f3f4);
	assert_int_equal(p.u.scsi_rsp.bidi_residual, 0x01020304);
	assert_int_equal(p.u.scsi_rsp.residual, 0x05060708);
}

static void test_r2t_offsets(void **state)
{
	uint8_t b[LUN_BHS_LEN] = { 0 };
	struct lun_pdu p;

	(void)state;
	b[0] = 0x31;
	b[1] = 0x80;
	for (int i = 8; i < 16; i++)
		b[i] = (uint8_t)(i - 7);
	for (int f = 0; f < 8; f++)
		lun_put_be32(b + 16 + 4 * f, 0x100u * (uint32_t)(f + 1));
	assert_int_equal(dec_t(b, &p), 0);
	assert_true(p.u.r2t.lun == 0x0102030405060708ull);
	assert_int_equal(p.u.r2t.itt, 0x100);
	assert_int_equal(p.u.r2t.ttt, 0x200);
	assert_int_equal(p.u.r2t.statsn, 0x300);
	assert_int_equal(p.u.r2t.expcmdsn, 0x400);
	assert_int_equal(p.u.r2t.maxcmdsn, 0x500);
	assert_int_equal(p.u.r2t.r2tsn, 0x600);
	assert_int_equal(p.u.r2t.buffer_offset, 0x700);
	assert_int_equal(p.u.r2t.desired_length, 0x800);
}

static void test_login_rsp_offsets(void **state)
{
	uint8_t b[LUN_BHS_LEN] = { 0 };
	struct lun_pdu p;
	const uint8_t isid[6] = { 0x80, 0x12, 0x34, 0x56, 0x78, 0x9a };

	(void)state;
	b[0] = 0x23;
	b[1] = 0x80 | (1 << 2) | 3; /* T, CSG operational, NSG full feature */
	b[2] = 0x00;
	b[3] = 0x00;
	lun_put_be24(b + 5, 100);
	memcpy(b + 8, isid, 6);
	lun_put_be16(b + 14, 0x0102);
	lun_put_be32(b + 16, 7);
	lun_put_be32(b + 24, 11);
	lun_put_be32(b + 28, 12);
	lun_put_be32(b + 32, 13);
	b[36] = 0x02;
	b[37] = 0x01;
	assert_int_equal(dec_t(b, &p), 0);
	assert_true(p.u.login_rsp.transit);
	assert_false(p.u.login_rsp.cont);
	assert_int_equal(p.u.login_rsp.csg, LUN_STAGE_OPERATIONAL);
	assert_int_equal(p.u.login_rsp.nsg, LUN_STAGE_FULL_FEATURE);
	assert_memory_equal(p.u.login_rsp.isid, isid, 6);
	assert_int_equal(p.u.login_rsp.tsih, 0x0102);
	assert_int_equal(p.u.login_rsp.itt, 7);
	assert_int_equal(p.u.login_rsp.statsn, 11);
	assert_int_equal(p.u.login_rsp.expcmdsn, 12);
	assert_int_equal(p.u.login_rsp.maxcmdsn, 13);
	assert_int_equal(p.u.login_rsp.status_class, 2);
	assert_int_equal(p.u.login_rsp.status_detail, 1);
	assert_int_equal(p.data_len, 100);
}

static void test_small_rsp_offsets(void **state)
{
	uint8_t b[LUN_BHS_LEN];
	struct lun_pdu p;

	(void)state;
	base_bhs(b, LUN_OP_LOGOUT_RSP);
	b[2] = 2;
	lun_put_be32(b + 16, 0x55);
	lun_put_be32(b + 24, 0x66);
	lun_put_be16(b + 40, 2);
	lun_put_be16(b + 42, 20);
	assert_int_equal(dec_t(b, &p), 0);
	assert_int_equal(p.u.logout_rsp.response, 2);
	assert_int_equal(p.u.logout_rsp.itt, 0x55);
	assert_int_equal(p.u.logout_rsp.statsn, 0x66);
	assert_int_equal(p.u.logout_rsp.time2wait, 2);
	assert_int_equal(p.u.logout_rsp.time2retain, 20);

	base_bhs(b, LUN_OP_ASYNC);
	b[36] = LUN_ASYNC_REQUEST_LOGOUT;
	b[37] = 9;
	lun_put_be16(b + 38, 0x1111);
	lun_put_be16(b + 40, 0x2222);
	lun_put_be16(b + 42, 0x3333);
	lun_put_be32(b + 32, 0x44);
	assert_int_equal(dec_t(b, &p), 0);
	assert_int_equal(p.u.async.event, LUN_ASYNC_REQUEST_LOGOUT);
	assert_int_equal(p.u.async.vcode, 9);
	assert_int_equal(p.u.async.param1, 0x1111);
	assert_int_equal(p.u.async.param2, 0x2222);
	assert_int_equal(p.u.async.param3, 0x3333);
	assert_int_equal(p.u.async.maxcmdsn, 0x44);

	base_bhs(b, LUN_OP_REJECT);
	b[2] = 0x09;
	lun_put_be32(b + 36, 0x77);
	assert_int_equal(dec_t(b, &p), 0);
	assert_int_equal(p.u.reject.reason, 9);
	assert_int_equal(p.u.reject.datasn_r2tsn, 0x77);
	assert_int_equal(p.data_len, 48);

	base_bhs(b, LUN_OP_TMF_RSP);
	b[2] = 5;
	lun_put_be32(b + 16, 0x99);
	lun_put_be32(b + 28, 0x98);
	assert_int_equal(dec_t(b, &p), 0);
	assert_int_equal(p.u.tmf_rsp.response, 5);
	assert_int_equal(p.u.tmf_rsp.itt, 0x99);
	assert_int_equal(p.u.tmf_rsp.expcmdsn, 0x98);
}

static void test_nop_text_offsets(void **state)
{
	uint8_t b[LUN_BHS_LEN];
	struct lun_pdu p;

	(void)state;
	/* A target ping: ITT reserved, valid TTT, a LUN, no data. */
	base_bhs(b, LUN_OP_NOP_IN);
	b[15] = 3;
	lun_put_be32(b + 16, LUN_RSVD_TAG);
	lun_put_be32(b + 20, 0xabc);
	lun_put_be32(b + 24, 1);
	lun_put_be32(b + 28, 2);
	lun_put_be32(b + 32, 3);
	assert_int_equal(dec_t(b, &p), 0);
	assert_true(p.u.nop_in.lun == 3);
	assert_int_equal(p.u.nop_in.itt, LUN_RSVD_TAG);
	assert_int_equal(p.u.nop_in.ttt, 0xabc);
	assert_int_equal(p.u.nop_in.statsn, 1);
	assert_int_equal(p.u.nop_in.expcmdsn, 2);
	assert_int_equal(p.u.nop_in.maxcmdsn, 3);

	base_bhs(b, LUN_OP_TEXT_RSP);
	b[1] = 0x40; /* C */
	b[8] = 0xee; /* tgtd-style junk in the LUN field is accepted */
	lun_put_be32(b + 16, 4);
	lun_put_be32(b + 20, 5);
	lun_put_be32(b + 32, 6);
	assert_int_equal(dec_t(b, &p), 0);
	assert_true(p.u.text_rsp.cont);
	assert_false(p.u.text_rsp.final);
	assert_true(p.u.text_rsp.lun == 0xee00000000000000ull);
	assert_int_equal(p.u.text_rsp.itt, 4);
	assert_int_equal(p.u.text_rsp.ttt, 5);
	assert_int_equal(p.u.text_rsp.maxcmdsn, 6);
}

/* The SCSI Read (10) of RFC 3720 B.4, decoded as an initiator PDU. */
static void test_rfc_read_command(void **state)
{
	static const uint8_t b[48] = {
		0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
		0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	};
	struct lun_pdu p;
	uint8_t again[48];

	(void)state;
	assert_int_equal(lun_pdu_decode(b, LUN_FROM_INITIATOR, &p, err, sizeof(err)), 0);
	assert_int_equal(p.opcode, LUN_OP_SCSI_CMD);
	assert_false(p.immediate);
	assert_true(p.u.scsi_cmd.final && p.u.scsi_cmd.read);
	assert_false(p.u.scsi_cmd.write);
	assert_int_equal(p.u.scsi_cmd.attr, LUN_ATTR_UNTAGGED);
	assert_int_equal(p.u.scsi_cmd.itt, 0x14000000);
	assert_int_equal(p.u.scsi_cmd.edtl, 0x400);
	assert_int_equal(p.u.scsi_cmd.cmdsn, 0x14);
	assert_int_equal(p.u.scsi_cmd.expstatsn, 0x18);
	assert_int_equal(p.u.scsi_cmd.cdb[0], 0x28);
	assert_int_equal(p.u.scsi_cmd.cdb[8], 0x02);
	assert_int_equal(lun_pdu_encode(&p, again, err, sizeof(err)), 0);
	assert_memory_equal(b, again, 48);
}

/* ---- encoding: byte offsets of sent PDUs ------------------------------- */

static void test_encode_offsets(void **state)
{
	struct lun_pdu p;
	uint8_t b[LUN_BHS_LEN];

	(void)state;
	mk(&p, LUN_OP_LOGIN_REQ);
	p.data_len = 0x123456;
	p.u.login_req.transit = true;
	p.u.login_req.csg = LUN_STAGE_SECURITY;
	p.u.login_req.nsg = LUN_STAGE_OPERATIONAL;
	memcpy(p.u.login_req.isid, "\x80\x01\x02\x03\x04\x05", 6);
	p.u.login_req.tsih = 0x0a0b;
	p.u.login_req.itt = 0x01020304;
	p.u.login_req.cid = 0x0c0d;
	p.u.login_req.cmdsn = 0x11;
	p.u.login_req.expstatsn = 0x22;
	assert_int_equal(lun_pdu_encode(&p, b, err, sizeof(err)), 0);
	assert_int_equal(b[0], 0x43); /* I bit forced on */
	assert_int_equal(b[1], 0x81);
	assert_int_equal(b[5], 0x12);
	assert_int_equal(b[7], 0x56);
	assert_memory_equal(b + 8, "\x80\x01\x02\x03\x04\x05\x0a\x0b\x01\x02\x03\x04\x0c\x0d", 14);
	assert_int_equal(lun_get_be32(b + 24), 0x11);
	assert_int_equal(lun_get_be32(b + 28), 0x22);

	mk(&p, LUN_OP_DATA_OUT);
	p.u.data_out.final = true;
	p.u.data_out.lun = 0x0001000000000000ull;
	p.u.data_out.ttt = 0x77;
	p.u.data_out.expstatsn = 0x88;
	p.u.data_out.datasn = 3;
	p.u.data_out.buffer_offset = 0x2000;
	assert_int_equal(lun_pdu_encode(&p, b, err, sizeof(err)), 0);
	assert_int_equal(b[1], 0x80);
	assert_int_equal(b[9], 0x01);
	assert_int_equal(lun_get_be32(b + 20), 0x77);
	assert_int_equal(lun_get_be32(b + 24), 0);
	assert_int_equal(lun_get_be32(b + 28), 0x88);
	assert_int_equal(lun_get_be32(b + 36), 3);
	assert_int_equal(lun_get_be32(b + 40), 0x2000);

	/* Target opcodes never carry the I bit, even when asked. */
	mk(&p, LUN_OP_NOP_IN);
	p.immediate = true;
	p.u.nop_in.ttt = LUN_RSVD_TAG;
	assert_int_equal(lun_pdu_encode(&p, b, err, sizeof(err)), 0);
	assert_int_equal(b[0], 0x20);
	assert_int_equal(b[1], 0x80);
}

/* ---- round trips ------------------------------------------------------- */

/*
 * Static storage, so the padding inside the structs and the union is zero,
 * which lets roundtrip() compare whole structs with memcmp.
 */
static const struct lun_pdu rt_cases[] = {
	{ .opcode = LUN_OP_NOP_OUT, .immediate = true, .data_len = 17,
	  .u.nop_out = { 0x1122334455667788ull, 1, 2, 3, 4 } },
	{ .opcode = LUN_OP_SCSI_CMD, .ahs_len = 20, .data_len = 4096,
	  .u.scsi_cmd = { true, false, true, LUN_ATTR_HEAD_OF_QUEUE, 0x0002000000000000ull,
			  0xdeadbeef, 65536, 0xfffffffe, 9,
			  { 0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa,
			    0xab, 0xac, 0xad, 0xae, 0xaf } } },
	{ .opcode = LUN_OP_TMF_REQ, .immediate = true,
	  .u.tmf_req = { LUN_TMF_ABORT_TASK, 5, 6, 7, 8, 9, 10, 11 } },
	{ .opcode = LUN_OP_LOGIN_REQ, .immediate = true, .data_len = 300,
	  .u.login_req = { false, true, LUN_STAGE_OPERATIONAL, 0, 0, 0,
			   { 0x40, 1, 2, 3, 4, 5 }, 0x1234, 7, 0x55, 0x66, 0x77 } },
	{ .opcode = LUN_OP_LOGIN_REQ, .immediate = true,
	  .u.login_req = { true, false, LUN_STAGE_SECURITY, LUN_STAGE_FULL_FEATURE, 0, 0,
			   { 0x80, 1, 2, 3, 4, 5 }, 0, 1, 2, 3, 4 } },
	{ .opcode = LUN_OP_TEXT_REQ, .data_len = 16,
	  .u.text_req = { true, false, 0x99, 1, LUN_RSVD_TAG, 3, 4 } },
	{ .opcode = LUN_OP_DATA_OUT, .data_len = 8192,
	  .u.data_out = { true, 0x3ull << 48, 1, 2, 3, 4, 8192 } },
	{ .opcode = LUN_OP_LOGOUT_REQ, .immediate = true,
	  .u.logout_req = { LUN_LOGOUT_CLOSE_CONNECTION, 3, 4, 5, 6 } },
	{ .opcode = LUN_OP_SNACK_REQ, .u.snack_req = { 3, 0x10, 1, 2, 3, 4, 5 } },
	{ .opcode = LUN_OP_NOP_IN, .data_len = 12,
	  .u.nop_in = { 7, 0x42, LUN_RSVD_TAG, 1, 2, 3 } },
	{ .opcode = LUN_OP_SCSI_RSP, .data_len = 22,
	  .u.scsi_rsp = { true, false, false, true, 0, 2, 1, 2, 3, 4, 5, 6, 7, 8 } },
	{ .opcode = LUN_OP_TMF_RSP, .u.tmf_rsp = { 4, 1, 2, 3, 4 } },
	{ .opcode = LUN_OP_LOGIN_RSP, .data_len = 400,
	  .u.login_rsp = { true, false, LUN_STAGE_OPERATIONAL, LUN_STAGE_FULL_FEATURE, 0, 0,
			   { 0x80, 9, 8, 7, 6, 5 }, 0x2233, 1, 2, 3, 4, 0, 0 } },
	{ .opcode = LUN_OP_LOGIN_RSP,
	  .u.login_rsp = { false, false, LUN_STAGE_SECURITY, 0, 0, 0, { 0 }, 0, 1, 2, 3, 4,
			   2, 1 } },
	{ .opcode = LUN_OP_TEXT_RSP, .data_len = 8000,
	  .u.text_rsp = { false, true, 5, 1, 0x10, 2, 3, 4 } },
	{ .opcode = LUN_OP_DATA_IN, .data_len = 512,
	  .u.data_in = { true, true, true, false, true, 0x02, 1ull << 48, 9, 8, 7, 6, 5, 4, 3,
			 2 } },
	{ .opcode = LUN_OP_DATA_IN, .data_len = 512,
	  .u.data_in = { false, false, false, false, false, 0, 0, 9, LUN_RSVD_TAG, 0, 6, 5, 4,
			 3, 0 } },
	{ .opcode = LUN_OP_LOGOUT_RSP, .u.logout_rsp = { 1, 2, 3, 4, 5, 6, 7 } },
	{ .opcode = LUN_OP_R2T, .u.r2t = { 1, 2, 3, 4, 5, 6, 7, 8, 262144 } },
	{ .opcode = LUN_OP_ASYNC, .data_len = 18,
	  .u.async = { 5, 6, 7, 8, LUN_ASYNC_VENDOR, 3, 10, 20, 30 } },
	{ .opcode = LUN_OP_REJECT, .data_len = 48, .u.reject = { 0x09, 1, 2, 3, 4 } },
};

static void test_roundtrip_all(void **state)
{
	bool seen[64] = { false };

	(void)state;
	for (size_t i = 0; i < sizeof(rt_cases) / sizeof(rt_cases[0]); i++) {
		roundtrip(&rt_cases[i]);
		seen[rt_cases[i].opcode] = true;
	}
	/* Every opcode of the header is covered. */
	for (unsigned op = 0; op < 64; op++)
		if (strcmp(lun_pdu_opcode_name((uint8_t)op), "unknown opcode") && !seen[op])
			fail_msg("opcode 0x%02x has no round-trip case", op);
}

/* ---- rejection rules ---------------------------------------------------- */

static void test_reject_opcode_and_direction(void **state)
{
	uint8_t b[LUN_BHS_LEN];

	(void)state;
	memset(b, 0, sizeof(b));
	b[0] = 0x01;
	expect_reject(b, LUN_FROM_TARGET, "unexpected opcode 0x01 (SCSI Command) from a target");
	b[0] = 0x25;
	b[1] = 0x80;
	expect_reject(b, LUN_FROM_INITIATOR, "unexpected opcode 0x25 (SCSI Data-In) from an");
	b[0] = 0x07;
	expect_reject(b, LUN_FROM_INITIATOR, "unknown opcode 0x07");
	b[0] = 0x3e;
	expect_reject(b, LUN_FROM_TARGET, "unknown opcode 0x3e");
	base_bhs(b, LUN_OP_DATA_IN);
	b[0] |= 0x80;
	expect_reject(b, LUN_FROM_TARGET, "reserved bit 7");
	base_bhs(b, LUN_OP_DATA_IN);
	b[0] |= 0x40;
	expect_reject(b, LUN_FROM_TARGET, "SCSI Data-In: the I bit");
	base_bhs(b, LUN_OP_NOP_OUT);
	b[0] |= 0x80;
	expect_reject(b, LUN_FROM_INITIATOR, "reserved bit 7");
}

/* Reserved bytes, listed independently from the RFC figures. */
struct rsvd_case {
	uint8_t opcode, flags_rsvd;
	uint8_t bytes[24];
};

static const struct rsvd_case rsvd_cases[] = {
	{ LUN_OP_NOP_IN, 0x7f, { 2, 3, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47 } },
	{ LUN_OP_SCSI_RSP, 0x61, { 8, 9, 10, 11, 12, 13, 14, 15 } },
	{ LUN_OP_TMF_RSP, 0x7f, { 3, 8, 15, 20, 23, 36, 41, 47 } },
	{ LUN_OP_LOGIN_RSP, 0x30, { 20, 21, 22, 23, 38, 39, 40, 47 } },
	{ LUN_OP_TEXT_RSP, 0x3f, { 2, 3, 36, 40, 47 } },
	{ LUN_OP_DATA_IN, 0x38, { 2 } },
	{ LUN_OP_LOGOUT_RSP, 0x7f, { 3, 8, 15, 20, 23, 36, 39, 44, 47 } },
	{ LUN_OP_R2T, 0x7f, { 2, 3 } },
	{ LUN_OP_ASYNC, 0x7f, { 2, 3, 20, 23, 44, 47 } },
	{ LUN_OP_REJECT, 0x7f, { 3, 8, 15, 20, 23, 40, 47 } },
};

static void test_reject_reserved(void **state)
{
	uint8_t b[LUN_BHS_LEN];
	char want[96];

	(void)state;
	for (size_t c = 0; c < sizeof(rsvd_cases) / sizeof(rsvd_cases[0]); c++) {
		const struct rsvd_case *rc = &rsvd_cases[c];
		const char *nm = lun_pdu_opcode_name(rc->opcode);
		struct lun_pdu p;

		base_bhs(b, rc->opcode);
		if (dec_t(b, &p))
			fail_msg("%s base PDU rejected: %s", nm, err);
		for (int i = 0; i < 24 && rc->bytes[i]; i++) {
			base_bhs(b, rc->opcode);
			b[rc->bytes[i]] = 0x10;
			snprintf(want, sizeof(want), "%s: reserved byte %u is 0x10, must be 0", nm,
				 rc->bytes[i]);
			expect_reject(b, LUN_FROM_TARGET, want);
		}
		for (int bit = 0; bit < 8; bit++)
			if (rc->flags_rsvd & (1u << bit)) {
				base_bhs(b, rc->opcode);
				b[1] |= (uint8_t)(1u << bit);
				expect_reject(b, LUN_FROM_TARGET, "reserved bits");
			}
	}
}

static void test_reject_ahs_and_data(void **state)
{
	static const uint8_t no_ahs[] = { LUN_OP_R2T, LUN_OP_ASYNC, LUN_OP_REJECT,
					  LUN_OP_TMF_RSP, LUN_OP_LOGOUT_RSP };
	static const uint8_t no_data[] = { LUN_OP_R2T, LUN_OP_TMF_RSP, LUN_OP_LOGOUT_RSP };
	uint8_t b[LUN_BHS_LEN];

	(void)state;
	for (size_t i = 0; i < sizeof(no_ahs); i++) {
		base_bhs(b, no_ahs[i]);
		b[4] = 1;
		expect_reject(b, LUN_FROM_TARGET, "TotalAHSLength is 4 bytes, must be 0");
	}
	for (size_t i = 0; i < sizeof(no_data); i++) {
		base_bhs(b, no_data[i]);
		b[7] = 4;
		expect_reject(b, LUN_FROM_TARGET, "DataSegmentLength is 4, must be 0");
	}
}

static void test_reject_data_in(void **state)
{
	uint8_t b[LUN_BHS_LEN];
	struct lun_pdu p;

	(void)state;
	base_bhs(b, LUN_OP_DATA_IN);
	b[1] = 0x01; /* S without F */
	expect_reject(b, LUN_FROM_TARGET, "S (status) bit is set without the F bit");
	b[1] = 0x87; /* F, O, U, S */
	expect_reject(b, LUN_FROM_TARGET, "both overflow and underflow");
	/* Without S the status byte and O/U are "or reserved": decoded, unchecked. */
	b[1] = 0x06;
	b[3] = 0x02;
	assert_int_equal(dec_t(b, &p), 0);
	assert_int_equal(p.u.data_in.status, 0);
	assert_false(p.u.data_in.has_status);
}

static void test_reject_scsi_rsp(void **state)
{
	uint8_t b[LUN_BHS_LEN];

	(void)state;
	base_bhs(b, LUN_OP_SCSI_RSP);
	b[1] = 0x86;
	expect_reject(b, LUN_FROM_TARGET, "SCSI Response: flags byte 0x86 sets both overflow");
	b[1] = 0x98;
	expect_reject(b, LUN_FROM_TARGET, "SCSI Response: flags byte 0x98 sets both overflow");
}

static void test_reject_r2t(void **state)
{
	uint8_t b[LUN_BHS_LEN];

	(void)state;
	base_bhs(b, LUN_OP_R2T);
	lun_put_be32(b + 44, 0);
	expect_reject(b, LUN_FROM_TARGET, "R2T: Desired Data Transfer Length is 0");
}

static void test_reject_login_rsp(void **state)
{
	uint8_t b[LUN_BHS_LEN];
	struct lun_pdu p;

	(void)state;
	base_bhs(b, LUN_OP_LOGIN_RSP);
	b[1] = 0xc0 | 1;
	expect_reject(b, LUN_FROM_TARGET, "Login Response: both the T (transit) and C");
	b[1] = 2 << 2;
	expect_reject(b, LUN_FROM_TARGET, "Login Response: CSG 2");
	b[1] = 0x80 | 2;
	expect_reject(b, LUN_FROM_TARGET, "Login Response: NSG 2");
	/* tgtd answers "stay in operational" with NSG 1 and T 0: accepted. */
	b[1] = (1 << 2) | 1;
	assert_int_equal(dec_t(b, &p), 0);
	assert_false(p.u.login_rsp.transit);
	assert_int_equal(p.u.login_rsp.nsg, 1);
}

static void test_reject_text_nop(void **state)
{
	uint8_t b[LUN_BHS_LEN];
	struct lun_pdu p;

	(void)state;
	base_bhs(b, LUN_OP_TEXT_RSP);
	b[1] = 0xc0;
	expect_reject(b, LUN_FROM_TARGET, "Text Response: both the F (final) and C");

	base_bhs(b, LUN_OP_NOP_IN);
	lun_put_be32(b + 16, LUN_RSVD_TAG);
	lun_put_be24(b + 5, 8);
	expect_reject(b, LUN_FROM_TARGET, "NOP-In: DataSegmentLength is 8");
	lun_put_be32(b + 20, 0x1234); /* a ping, still without data allowed */
	expect_reject(b, LUN_FROM_TARGET, "NOP-In: DataSegmentLength is 8");
	lun_put_be32(b + 16, 0x10);
	assert_int_equal(dec_t(b, &p), -1);
	assert_non_null(strstr(err, "NOP-In: both the Initiator Task Tag"));
	/* A reply echoing ping data, with any LUN, is fine. */
	lun_put_be32(b + 20, LUN_RSVD_TAG);
	b[8] = 0x7f;
	assert_int_equal(dec_t(b, &p), 0);
	assert_int_equal(p.data_len, 8);
}

static void test_reject_async_reject(void **state)
{
	uint8_t b[LUN_BHS_LEN];

	(void)state;
	base_bhs(b, LUN_OP_ASYNC);
	lun_put_be32(b + 16, 0);
	expect_reject(b, LUN_FROM_TARGET, "Asynchronous Message: bytes 16-19 are 0x00000000");
	base_bhs(b, LUN_OP_REJECT);
	lun_put_be32(b + 16, 5);
	expect_reject(b, LUN_FROM_TARGET, "Reject: bytes 16-19 are 0x00000005");
	base_bhs(b, LUN_OP_REJECT);
	lun_put_be24(b + 5, 47);
	expect_reject(b, LUN_FROM_TARGET, "Reject: DataSegmentLength 47 is shorter");
}

static void test_reject_initiator_rules(void **state)
{
	uint8_t b[LUN_BHS_LEN] = { 0 };

	(void)state;
	b[0] = LUN_OP_LOGIN_REQ; /* no I bit */
	expect_reject(b, LUN_FROM_INITIATOR, "Login Request: the I bit");
	b[0] = LUN_OP_SCSI_CMD;
	b[1] = 0x85;
	expect_reject(b, LUN_FROM_INITIATOR, "SCSI Command: task attribute 5");
	b[1] = 0x88;
	expect_reject(b, LUN_FROM_INITIATOR, "SCSI Command: reserved bits 0x08");
	b[1] = 0x80;
	b[40] = 0; /* CDB bytes are data, not reserved */
	b[0] = LUN_OP_LOGOUT_REQ;
	b[12] = 1;
	expect_reject(b, LUN_FROM_INITIATOR, "Logout Request: reserved byte 12");
}

static void test_encode_errors(void **state)
{
	struct lun_pdu p;
	uint8_t b[LUN_BHS_LEN];

	(void)state;
	mk(&p, 0x3e);
	assert_int_equal(lun_pdu_encode(&p, b, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "unknown opcode 0x3e"));
	mk(&p, LUN_OP_NOP_OUT);
	p.data_len = 1u << 24;
	assert_int_equal(lun_pdu_encode(&p, b, err, sizeof(err)), -1);
	p.data_len = 0xffffff;
	assert_int_equal(lun_pdu_encode(&p, b, err, sizeof(err)), 0);
	p.ahs_len = 6;
	assert_int_equal(lun_pdu_encode(&p, b, err, sizeof(err)), -1);
	p.ahs_len = 1024;
	assert_int_equal(lun_pdu_encode(&p, b, err, sizeof(err)), -1);
	p.ahs_len = 1020;
	assert_int_equal(lun_pdu_encode(&p, b, err, sizeof(err)), 0);
	assert_int_equal(b[4], 255);

	mk(&p, LUN_OP_LOGIN_REQ);
	p.u.login_req.csg = 2;
	assert_int_equal(lun_pdu_encode(&p, b, err, sizeof(err)), -1);
	p.u.login_req.csg = 0;
	p.u.login_req.transit = true;
	p.u.login_req.nsg = 2;
	assert_int_equal(lun_pdu_encode(&p, b, err, sizeof(err)), -1);
	mk(&p, LUN_OP_SCSI_CMD);
	p.u.scsi_cmd.attr = 5;
	assert_int_equal(lun_pdu_encode(&p, b, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "task attribute 5"));
	mk(&p, LUN_OP_TMF_REQ);
	p.u.tmf_req.function = 0x80;
	assert_int_equal(lun_pdu_encode(&p, b, err, sizeof(err)), -1);
	mk(&p, LUN_OP_LOGOUT_REQ);
	p.u.logout_req.reason = 0x80;
	assert_int_equal(lun_pdu_encode(&p, b, err, sizeof(err)), -1);
	mk(&p, LUN_OP_SNACK_REQ);
	p.u.snack_req.type = 0x10;
	assert_int_equal(lun_pdu_encode(&p, b, err, sizeof(err)), -1);
}

static void test_opcode_names(void **state)
{
	(void)state;
	assert_string_equal(lun_pdu_opcode_name(LUN_OP_LOGIN_REQ), "Login Request");
	assert_string_equal(lun_pdu_opcode_name(LUN_OP_DATA_IN), "SCSI Data-In");
	assert_string_equal(lun_pdu_opcode_name(LUN_OP_R2T), "R2T");
	assert_string_equal(lun_pdu_opcode_name(0x3c), "unknown opcode");
	assert_string_equal(lun_pdu_opcode_name(0xff), "unknown opcode");
}

/* ---- AHS ---------------------------------------------------------------- */

static void test_ahs_ext_cdb_and_bidi(void **state)
{
	uint8_t cdb[33], area[64];
	struct lun_ahs a;
	size_t n;

	(void)state;
	for (int i = 0; i < 33; i++)
		cdb[i] = (uint8_t)(0x7f + i);
	n = lun_ahs_build_ext_cdb(cdb, 32, area, sizeof(area));
	/* 16 extra bytes: AHSLength 17 (reserved byte + 16), 20 bytes on the wire. */
	assert_int_equal(n, 20);
	assert_int_equal(lun_get_be16(area), 17);
	assert_int_equal(area[2], LUN_AHS_EXTENDED_CDB);
	assert_int_equal(area[3], 0);
	assert_memory_equal(area + 4, cdb + 16, 16);
	/* Then a bidirectional read length of 0x10000. */
	memcpy(area + n, "\x00\x05\x02\x00\x00\x01\x00\x00", 8);
	assert_int_equal(lun_ahs_parse(area, n + 8, &a, err, sizeof(err)), 0);
	assert_true(a.has_ext_cdb);
	assert_int_equal(a.ext_cdb_len, 16);
	assert_memory_equal(a.ext_cdb, cdb + 16, 16);
	assert_true(a.has_bidi_read_length);
	assert_int_equal(a.bidi_read_length, 0x10000);
	/* An odd length pads with zeros: 17 extra bytes take 24. */
	n = lun_ahs_build_ext_cdb(cdb, 33, area, sizeof(area));
	assert_int_equal(n, 24);
	assert_int_equal(lun_ahs_parse(area, n, &a, err, sizeof(err)), 0);
	assert_int_equal(a.ext_cdb_len, 17);
	assert_memory_equal(a.ext_cdb, cdb + 16, 17);
	assert_int_equal(lun_ahs_parse(area, 0, &a, err, sizeof(err)), 0);
	assert_false(a.has_ext_cdb || a.has_bidi_read_length);
}

static void test_ahs_build_limits(void **state)
{
	uint8_t cdb[261] = { 0 }, area[300];

	(void)state;
	assert_int_equal(lun_ahs_build_ext_cdb(cdb, 16, area, sizeof(area)), 0);
	assert_int_equal(lun_ahs_build_ext_cdb(cdb, 261, area, sizeof(area)), 0);
	assert_int_equal(lun_ahs_build_ext_cdb(cdb, 260, area, sizeof(area)), 248);
	assert_int_equal(lun_ahs_build_ext_cdb(cdb, 20, area, 7), 0);
	assert_int_equal(lun_ahs_build_ext_cdb(cdb, 20, area, 8), 8);
}

static void expect_ahs_error(const uint8_t *buf, size_t len, const char *needle)
{
	struct lun_ahs a;

	err[0] = '\0';
	assert_int_equal(lun_ahs_parse(buf, len, &a, err, sizeof(err)), -1);
	if (!strstr(err, needle))
		fail_msg("AHS error '%s' does not mention '%s'", err, needle);
}

static void test_ahs_errors(void **state)
{
	(void)state;
	/* AHSLength 9 needs 12 bytes plus padding: runs past an 8-byte area. */
	expect_ahs_error((const uint8_t *)"\x00\x09\x01\x00\x01\x02\x03\x04", 8, "runs past");
	expect_ahs_error((const uint8_t *)"\x00\x05\x03\x00\x01\x02\x03\x04", 8,
			 "unknown AHS type 3");
	/* AHSLength 2: one CDB byte, then two padding bytes that are not zero. */
	expect_ahs_error((const uint8_t *)"\x00\x02\x01\x00\xaa\x00\x01\x00", 8,
			 "padding byte 6 is 0x01");
	expect_ahs_error((const uint8_t *)"\x00\x05\x02\x01\x00\x00\x00\x01", 8,
			 "reserved byte 3");
	expect_ahs_error((const uint8_t *)"\x00\x09\x02\x00\x00\x00\x00\x01\x00\x00\x00\x00",
			 12, "must be 5");
	expect_ahs_error((const uint8_t *)"\x00\x00\x01\x00", 4, "too short");
	expect_ahs_error((const uint8_t *)"\x00\x05\x02\x00\x00\x00\x00\x01\x00\x00", 10,
			 "only 2 bytes left");
	expect_ahs_error((const uint8_t *)"\x00\x05\x02\x00\x00\x00\x00\x01"
					  "\x00\x05\x02\x00\x00\x00\x00\x02",
			 16, "appears twice");
	expect_ahs_error((const uint8_t *)"\x00\x02\x01\x00\x05\x00\x00\x00"
					  "\x00\x02\x01\x00\x06\x00\x00\x00",
			 16, "a second extended CDB");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_data_in_offsets),
		cmocka_unit_test(test_scsi_rsp_offsets),
		cmocka_unit_test(test_r2t_offsets),
		cmocka_unit_test(test_login_rsp_offsets),
		cmocka_unit_test(test_small_rsp_offsets),
		cmocka_unit_test(test_nop_text_offsets),
		cmocka_unit_test(test_rfc_read_command),
		cmocka_unit_test(test_encode_offsets),
		cmocka_unit_test(test_roundtrip_all),
		cmocka_unit_test(test_reject_opcode_and_direction),
		cmocka_unit_test(test_reject_reserved),
		cmocka_unit_test(test_reject_ahs_and_data),
		cmocka_unit_test(test_reject_data_in),
		cmocka_unit_test(test_reject_scsi_rsp),
		cmocka_unit_test(test_reject_r2t),
		cmocka_unit_test(test_reject_login_rsp),
		cmocka_unit_test(test_reject_text_nop),
		cmocka_unit_test(test_reject_async_reject),
		cmocka_unit_test(test_reject_initiator_rules),
		cmocka_unit_test(test_encode_errors),
		cmocka_unit_test(test_opcode_names),
		cmocka_unit_test(test_ahs_ext_cdb_and_bidi),
		cmocka_unit_test(test_ahs_build_limits),
		cmocka_unit_test(test_ahs_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
