/*
 * test_scsi.c - CDB layouts byte by byte (SBC-3/SPC-4) and the response
 * parsers against buffers shaped like tgtd's answers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "scsi.h"

static void expect_cdb(const uint8_t *cdb, const uint8_t *want, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		assert_int_equal(cdb[i], want[i]);
	for (; i < 16; i++)
		assert_int_equal(cdb[i], 0);
}

/* ---- CDB builders ---- */

static void test_cdb_tur_request_sense(void **state)
{
	uint8_t cdb[16];
	static const uint8_t rs[6] = { 0x03, 0, 0, 0, 0xfc, 0 };

	memset(cdb, 0xee, sizeof(cdb));
	assert_int_equal(lun_cdb_test_unit_ready(cdb), 6);
	expect_cdb(cdb, (const uint8_t[6]){ 0 }, 6);
	memset(cdb, 0xee, sizeof(cdb));
	assert_int_equal(lun_cdb_request_sense(cdb, 252), 6);
	expect_cdb(cdb, rs, 6);
}

static void test_cdb_inquiry(void **state)
{
	uint8_t cdb[16];
	static const uint8_t std[6] = { 0x12, 0x00, 0x00, 0x00, 0x60, 0x00 };
	static const uint8_t vpd[6] = { 0x12, 0x01, 0x83, 0x01, 0x00, 0x00 };

	memset(cdb, 0xee, sizeof(cdb));
	/* The page is dropped without EVPD: SPC-4 rejects that combination. */
	assert_int_equal(lun_cdb_inquiry(cdb, false, 0x83, 96), 6);
	expect_cdb(cdb, std, 6);
	memset(cdb, 0xee, sizeof(cdb));
	assert_int_equal(lun_cdb_inquiry(cdb, true, 0x83, 256), 6);
	expect_cdb(cdb, vpd, 6);
}

static void test_cdb_report_luns_rtpg(void **state)
{
	uint8_t cdb[16];
	static const uint8_t rl[12] = { 0xa0, 0, 0, 0, 0, 0, 0x00, 0x01, 0x02, 0x03, 0, 0 };
	static const uint8_t rtpg[12] = { 0xa3, 0x0a, 0, 0, 0, 0, 0x00, 0x00, 0x04, 0x00, 0, 0 };

	memset(cdb, 0xee, sizeof(cdb));
	assert_int_equal(lun_cdb_report_luns(cdb, 0x00010203), 12);
	expect_cdb(cdb, rl, 12);
	memset(cdb, 0xee, sizeof(cdb));
	assert_int_equal(lun_cdb_report_target_port_groups(cdb, 1024), 12);
	expect_cdb(cdb, rtpg, 12);
}

static void test_cdb_read_capacity(void **state)
{
	uint8_t cdb[16];
	static const uint8_t rc10[10] = { 0x25 };
	static const uint8_t rc16[16] = { 0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x20, 0, 0 };

	memset(cdb, 0xee, sizeof(cdb));
	assert_int_equal(lun_cdb_read_capacity10(cdb), 10);
	expect_cdb(cdb, rc10, 10);
	memset(cdb, 0xee, sizeof(cdb));
	assert_int_equal(lun_cdb_read_capacity16(cdb, 32), 16);
	expect_cdb(cdb, rc16, 16);
}

static void test_cdb_rw10(void **state)
{
	uint8_t cdb[16];
	static const uint8_t r10[10] = { 0x28, 0, 0x12, 0x34, 0x56, 0x78, 0, 0x00, 0x80, 0 };
	static const uint8_t w10[10] = { 0x2a, 0, 0xff, 0xff, 0xff, 0xfe, 0, 0xff, 0xff, 0 };
	static const uint8_t sc10[10] = { 0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0 };

	assert_int_equal(lun_cdb_read10(cdb, 0x12345678, 128), 10);
	expect_cdb(cdb, r10, 10);
	assert_int_equal(lun_cdb_write10(cdb, 0xfffffffe, 0xffff), 10);
	expect_cdb(cdb, w10, 10);
	/* LBA 0 / 0 blocks means "the whole medium" for SYNCHRONIZE CACHE. */
	assert_int_equal(lun_cdb_synchronize_cache10(cdb, 0, 0), 10);
	expect_cdb(cdb, sc10, 10);
}

static void test_cdb_rw16(void **state)
{
	uint8_t cdb[16];
	static const uint8_t r16[16] = { 0x88, 0,    0x01, 0x23, 0x45, 0x67, 0x89, 0xab,
					 0xcd, 0xef, 0x00, 0x01, 0x00, 0x00, 0,	   0 };
	static const uint8_t w16[16] = { 0x8a, 0, 0, 0, 0, 0, 0, 0, 0, 0x07, 0, 0, 0, 0x08, 0, 0 };

	assert_int_equal(lun_cdb_read16(cdb, 0x0123456789abcdefull, 65536), 16);
	expect_cdb(cdb, r16, 16);
	assert_int_equal(lun_cdb_write16(cdb, 7, 8), 16);
	expect_cdb(cdb, w16, 16);
}

static void test_cdb_unmap_write_same(void **state)
{
	uint8_t cdb[16], pl[24];
	static const uint8_t um[10] = { 0x42, 0, 0, 0, 0, 0, 0, 0x00, 0x18, 0 };
	static const uint8_t ws[16] = { 0x93, 0x08, 0, 0, 0, 0, 0, 0, 0x10, 0x00,
					0,    0,    0x20, 0x00, 0, 0 };
	static const uint8_t param[24] = { 0x00, 0x16, 0x00, 0x10, 0, 0, 0, 0,
					   0, 0, 0, 0, 0, 0, 0x04, 0x00,
					   0x00, 0x00, 0x01, 0x00, 0, 0, 0, 0 };

	assert_int_equal(lun_cdb_unmap(cdb, 24), 10);
	expect_cdb(cdb, um, 10);
	assert_int_equal(lun_cdb_write_same16(cdb, 0x1000, 0x2000, true), 16);
	expect_cdb(cdb, ws, 16);
	lun_cdb_write_same16(cdb, 0x1000, 0x2000, false);
	assert_int_equal(cdb[1], 0);
	memset(pl, 0xee, sizeof(pl));
	assert_int_equal(lun_unmap_param_build(pl, 0x400, 0x100), 24);
	assert_memory_equal(pl, param, 24);
}

/* ---- INQUIRY ---- */

/* tgtd's standard INQUIRY for a disk LU, first 36 bytes plus version
 * descriptors. */
static void tgtd_inquiry(uint8_t *b, size_t n)
{
	memset(b, 0, n);
	b[0] = 0x00;
	b[2] = 0x05; /* SPC-3 */
	b[3] = 0x12;
	b[4] = 66 - 5;
	b[7] = 0x02;
	memcpy(b + 8, "IET     ", 8);
	memcpy(b + 16, "VIRTUAL-DISK    ", 16);
	memcpy(b + 32, "0001", 4);
}

static void test_inquiry_tgtd(void **state)
{
	uint8_t b[66];
	struct lun_inquiry inq;
	char err[128];

	tgtd_inquiry(b, sizeof(b));
	assert_int_equal(lun_parse_inquiry(b, sizeof(b), &inq, err, sizeof(err)), 0);
	assert_int_equal(inq.qualifier, 0);
	assert_int_equal(inq.device_type, 0);
	assert_false(inq.removable);
	assert_int_equal(inq.version, 5);
	assert_string_equal(inq.vendor, "IET");
	assert_string_equal(inq.product, "VIRTUAL-DISK");
	assert_string_equal(inq.revision, "0001");
	assert_string_equal(lun_device_type_str(inq.device_type), "DIRECT_ACCESS");
}

static void test_inquiry_fields_and_sanitising(void **state)
{
	uint8_t b[36];
	struct lun_inquiry inq;

	tgtd_inquiry(b, sizeof(b));
	b[0] = 0x7f; /* qualifier 3, type 0x1f: no LU here */
	b[1] = 0x80;
	b[4] = 31;
	memcpy(b + 8, "AB\x1b[2J  ", 8); /* an escape sequence must not get through */
	assert_int_equal(lun_parse_inquiry(b, sizeof(b), &inq, NULL, 0), 0);
	assert_int_equal(inq.qualifier, 3);
	assert_int_equal(inq.device_type, 0x1f);
	assert_true(inq.removable);
	assert_string_equal(inq.vendor, "AB?[2J");
}

static void test_inquiry_truncated(void **state)
{
	uint8_t b[36];
	struct lun_inquiry inq;
	char err[128] = "";

	tgtd_inquiry(b, sizeof(b));
	assert_int_equal(lun_parse_inquiry(b, 35, &inq, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "35"));
	b[4] = 30;
	assert_int_equal(lun_parse_inquiry(b, 36, &inq, err, sizeof(err)), -1);
	assert_int_equal(lun_parse_inquiry(b, 0, &inq, NULL, 0), -1);
}

static void test_device_type_names(void **state)
{
	assert_string_equal(lun_device_type_str(0x01), "SEQUENTIAL_ACCESS");
	assert_string_equal(lun_device_type_str(0x05), "MMC");
	assert_string_equal(lun_device_type_str(0x08), "MEDIA_CHANGER");
	assert_string_equal(lun_device_type_str(0x0c), "STORAGE_ARRAY_CONTROLLER");
	assert_string_equal(lun_device_type_str(0x0d), "ENCLOSURE_SERVICES");
	assert_string_equal(lun_device_type_str(0x0e), "SIMPLIFIED_DIRECT_ACCESS");
	assert_string_equal(lun_device_type_str(0x1e), "WELL_KNOWN_LUN");
	assert_string_equal(lun_device_type_str(0x1f), "UNKNOWN");
	assert_string_equal(lun_device_type_str(0x0a), "UNKNOWN");
	assert_string_equal(lun_device_type_str(0xff), "UNKNOWN");
}

/* ---- VPD pages ---- */

static void test_vpd_supported(void **state)
{
	static const uint8_t b[] = { 0x00, 0x00, 0x00, 0x05, 0x00, 0x80, 0x83, 0xb0, 0xb2 };
	struct lun_vpd_pages p;

	assert_int_equal(lun_parse_vpd_supported(b, sizeof(b), &p, NULL, 0), 0);
	assert_int_equal(p.count, 5);
	assert_int_equal(p.pages[2], 0x83);
	assert_int_equal(p.pages[4], 0xb2);
	/* cut by the allocation length: the entries that arrived */
	assert_int_equal(lun_parse_vpd_supported(b, 6, &p, NULL, 0), 0);
	assert_int_equal(p.count, 2);
	assert_int_equal(lun_parse_vpd_supported(b, 3, &p, NULL, 0), -1);
	assert_int_equal(lun_parse_vpd_supported((const uint8_t *)"\0\x80\0\0", 4, &p, NULL, 0),
			 -1);
}

static void test_vpd_serial(void **state)
{
	static const uint8_t b[] = { 0x00, 0x80, 0x00, 0x0c, ' ', 'b', 'e', 'a', 'f',
				     '1', '1', ' ', ' ', ' ', ' ', ' ' };
	char s[64], err[128];

	assert_int_equal(lun_parse_vpd_serial(b, sizeof(b), s, sizeof(s), err, sizeof(err)), 0);
	assert_string_equal(s, "beaf11");
	assert_int_equal(lun_parse_vpd_serial(b, sizeof(b) - 1, s, sizeof(s), err, sizeof(err)),
			 -1);
	assert_string_equal(s, "");
	assert_int_equal(lun_parse_vpd_serial(b, sizeof(b), s, 4, err, sizeof(err)), -1);
	assert_int_equal(lun_parse_vpd_serial(b, sizeof(b), s, 7, err, sizeof(err)), 0);
	assert_string_equal(s, "beaf11");
}

/* tgtd's device identification page: T10 vendor id, NAA 3 and NAA 6. */
static const uint8_t tgtd_vpd83[] = {
	0x00, 0x83, 0x00, 0x34,
	0x02, 0x01, 0x00, 0x10, 'I', 'E', 'T', ' ', ' ', ' ', ' ', ' ',
	'0', '0', '0', '1', '0', '0', '0', '1',
	0x01, 0x03, 0x00, 0x08, 0x30, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01,
	0x01, 0x03, 0x00, 0x10, 0x60, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x0e, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01,
};

static void test_vpd_ids_tgtd(void **state)
{
	struct lun_vpd_ids ids;
	char id[2 * 255 + 1], s[600];

	assert_int_equal(sizeof(tgtd_vpd83), 56);
	assert_int_equal(lun_parse_vpd_ids(tgtd_vpd83, sizeof(tgtd_vpd83), &ids, NULL, 0), 0);
	assert_int_equal(ids.count, 3);
	assert_int_equal(ids.d[0].type, LUN_DESIG_T10);
	assert_int_equal(ids.d[0].code_set, 2);
	assert_int_equal(ids.d[0].len, 16);
	assert_int_equal(ids.d[1].type, LUN_DESIG_NAA);
	assert_int_equal(ids.d[1].len, 8);
	assert_int_equal(ids.d[2].association, 0);
	assert_false(ids.d[2].piv);
	assert_int_equal(lun_vpd_ids_identifier(&ids, id, sizeof(id)), LUN_DESIG_NAA);
	assert_string_equal(id, "60000000000000000E00000000010001");
	lun_designator_str(&ids.d[0], s, sizeof(s));
	assert_string_equal(s, "T10:IET     00010001");
	lun_designator_str(&ids.d[1], s, sizeof(s));
	assert_string_equal(s, "NAA:3000000100000001");
	lun_designator_str(&ids.d[2], s, 10); /* truncated, still terminated */
	assert_string_equal(s, "NAA:6000");
}

static void test_vpd_ids_header_bits(void **state)
{
	static const uint8_t b[] = {
		0x00, 0x83, 0x00, 0x10,
		0x51, 0x94, 0x00, 0x04, 0x00, 0x00, 0x00, 0x02, /* iSCSI, PIV, port, rel port 2 */
		0x01, 0x15, 0x00, 0x04, 0x00, 0x00, 0x00, 0x07, /* target port group 7 */
	};
	struct lun_vpd_ids ids;
	char s[64], id[16];

	assert_int_equal(lun_parse_vpd_ids(b, sizeof(b), &ids, NULL, 0), 0);
	assert_int_equal(ids.count, 2);
	assert_int_equal(ids.d[0].protocol_id, 5);
	assert_int_equal(ids.d[0].code_set, 1);
	assert_true(ids.d[0].piv);
	assert_int_equal(ids.d[0].association, 1);
	assert_int_equal(ids.d[0].type, LUN_DESIG_RELATIVE_PORT);
	lun_designator_str(&ids.d[0], s, sizeof(s));
	assert_string_equal(s, "RELPORT:2");
	lun_designator_str(&ids.d[1], s, sizeof(s));
	assert_string_equal(s, "TPG:7");
	/* Port designators are not LU identifiers. */
	assert_int_equal(lun_vpd_ids_identifier(&ids, id, sizeof(id)), -1);
	assert_string_equal(id, "");
}

static void test_vpd_ids_choice(void **state)
{
	struct lun_vpd_ids ids;
	char id[2 * 255 + 1];
	static const uint8_t naa5[8] = { 0x50, 0x01, 0x40, 0x50, 0x00, 0x00, 0x00, 0x01 };
	static const uint8_t naa2[8] = { 0x20, 0x00, 0x00, 0x0c, 0x29, 0x00, 0x00, 0x01 };
	static const uint8_t eui[8] = { 0x00, 0x14, 0x05, 0xab, 0xcd, 0xef, 0x01, 0x23 };

	memset(&ids, 0, sizeof(ids));
	ids.count = 3;
	ids.d[0] = (struct lun_designator){ .code_set = 1, .type = LUN_DESIG_EUI64, .len = 8 };
	memcpy(ids.d[0].value, eui, 8);
	ids.d[1] = (struct lun_designator){ .code_set = 1, .type = LUN_DESIG_NAA, .len = 8 };
	memcpy(ids.d[1].value, naa2, 8);
	ids.d[2] = (struct lun_designator){ .code_set = 1, .type = LUN_DESIG_NAA, .len = 8 };
	memcpy(ids.d[2].value, naa5, 8);
	assert_int_equal(lun_vpd_ids_identifier(&ids, id, sizeof(id)), LUN_DESIG_NAA);
	assert_string_equal(id, "5001405000000001");
	ids.count = 2; /* NAA 2 still beats EUI-64 */
	assert_int_equal(lun_vpd_ids_identifier(&ids, id, sizeof(id)), LUN_DESIG_NAA);
	assert_string_equal(id, "2000000C29000001");
	ids.count = 1;
	assert_int_equal(lun_vpd_ids_identifier(&ids, id, sizeof(id)), LUN_DESIG_EUI64);
	assert_string_equal(id, "001405ABCDEF0123");
	/* only the T10 designator of tgtd's page */
	assert_int_equal(lun_parse_vpd_ids(tgtd_vpd83, 24, &ids, NULL, 0), 0);
	assert_int_equal(ids.count, 1);
	assert_int_equal(lun_vpd_ids_identifier(&ids, id, sizeof(id)), LUN_DESIG_T10);
	assert_string_equal(id, "49455420202020203030303130303031");
}

static void test_vpd_ids_truncated(void **state)
{
	uint8_t b[sizeof(tgtd_vpd83)];
	struct lun_vpd_ids ids;
	char err[128] = "";

	/* cut by the allocation length inside the third designator */
	assert_int_equal(lun_parse_vpd_ids(tgtd_vpd83, 50, &ids, NULL, 0), 0);
	assert_int_equal(ids.count, 2);
	/* a designator length that runs past the page length is corrupt */
	memcpy(b, tgtd_vpd83, sizeof(b));
	b[39] = 0x11;
	assert_int_equal(lun_parse_vpd_ids(b, sizeof(b), &ids, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "offset 36"));
	/* a page length that ends inside a designator header, too */
	memcpy(b, tgtd_vpd83, sizeof(b));
	b[3] = 0x16;
	assert_int_equal(lun_parse_vpd_ids(b, sizeof(b), &ids, NULL, 0), -1);
	b[1] = 0x80;
	assert_int_equal(lun_parse_vpd_ids(b, sizeof(b), &ids, NULL, 0), -1);
}

static void test_vpd_block_limits(void **state)
{
	uint8_t b[64] = { 0x00, 0xb0, 0x00, 0x3c };
	struct lun_vpd_block_limits bl;

	b[7] = 0x08;			   /* optimal granularity 8 */
	b[10] = 0x04;			   /* max transfer 0x400 */
	b[14] = 0x02;			   /* optimal transfer 0x200 */
	b[20] = 0xff, b[21] = 0xff, b[22] = 0xff, b[23] = 0xff;
	b[27] = 0x01;			   /* one unmap descriptor */
	b[31] = 0x08;			   /* unmap granularity 8 */
	b[40] = 0x01;			   /* max write same 0x0000000001000000 */
	assert_int_equal(lun_parse_vpd_block_limits(b, sizeof(b), &bl, NULL, 0), 0);
	assert_int_equal(bl.opt_xfer_granularity, 8);
	assert_int_equal(bl.max_xfer_len, 0x400);
	assert_int_equal(bl.opt_xfer_len, 0x200);
	assert_int_equal(bl.max_unmap_lba_count, 0xffffffffu);
	assert_int_equal(bl.max_unmap_desc_count, 1);
	assert_int_equal(bl.unmap_granularity, 8);
	assert_true(bl.max_write_same_len == 0x01000000ull);
	/* SBC-2 page of 16 bytes: later fields read as "not reported" */
	b[3] = 0x0c;
	assert_int_equal(lun_parse_vpd_block_limits(b, sizeof(b), &bl, NULL, 0), 0);
	assert_int_equal(bl.max_xfer_len, 0x400);
	assert_int_equal(bl.opt_xfer_len, 0x200);
	assert_int_equal(bl.max_unmap_lba_count, 0);
	assert_true(bl.max_write_same_len == 0);
	assert_int_equal(lun_parse_vpd_block_limits(b, 2, &bl, NULL, 0), -1);
}

/* ---- READ CAPACITY ---- */

static void test_read_capacity(void **state)
{
	/* 64 MiB of 512-byte blocks, as tgtd reports a 64M backing file */
	static const uint8_t rc16[32] = { 0, 0, 0, 0, 0, 0x01, 0xff, 0xff, 0, 0, 0x02, 0x00,
					  0, 0, 0x80, 0 };
	static const uint8_t rc10[8] = { 0x00, 0x01, 0xff, 0xff, 0x00, 0x00, 0x10, 0x00 };
	struct lun_capacity c;
	char err[128];

	assert_int_equal(lun_parse_read_capacity16(rc16, sizeof(rc16), &c, err, sizeof(err)), 0);
	assert_true(c.last_lba == 131071);
	assert_true(c.blocks == 131072);
	assert_int_equal(c.block_size, 512);
	assert_true(c.thin);
	assert_int_equal(lun_parse_read_capacity16(rc16, 12, &c, NULL, 0), 0);
	assert_false(c.thin);
	assert_int_equal(lun_parse_read_capacity16(rc16, 11, &c, err, sizeof(err)), -1);
	assert_int_equal(lun_parse_read_capacity10(rc10, 8, &c, NULL, 0), 0);
	assert_true(c.last_lba == 0x1ffff);
	assert_int_equal(c.block_size, 4096);
	assert_false(c.thin);
	assert_int_equal(lun_parse_read_capacity10(rc10, 7, &c, NULL, 0), -1);
	assert_int_equal(lun_parse_read_capacity10((const uint8_t[8]){ 0 }, 8, &c, NULL, 0), -1);
}

/* ---- REPORT LUNS ---- */

static void test_report_luns(void **state)
{
	static const uint8_t b[] = {
		0x00, 0x00, 0x00, 0x30, 0, 0, 0, 0,
		0x00, 0x00, 0, 0, 0, 0, 0, 0, /* LUN 0 */
		0x00, 0x01, 0, 0, 0, 0, 0, 0, /* LUN 1 */
		0x00, 0x02, 0, 0, 0, 0, 0, 0, /* LUN 2 */
		0x41, 0x2c, 0, 0, 0, 0, 0, 0, /* flat LUN 300 */
		0x01, 0x05, 0, 0, 0, 0, 0, 0, /* peripheral, bus 1: skipped */
		0xc1, 0x00, 0, 0, 0, 0, 0, 0, /* extended/well-known: skipped */
	};
	uint16_t luns[8];
	size_t total;
	char err[128];

	assert_int_equal(lun_parse_report_luns(b, sizeof(b), luns, 8, &total, err, sizeof(err)),
			 4);
	assert_int_equal(total, 6);
	assert_int_equal(luns[0], 0);
	assert_int_equal(luns[1], 1);
	assert_int_equal(luns[2], 2);
	assert_int_equal(luns[3], 300);
	/* cap limits what is stored, not what the target said */
	assert_int_equal(lun_parse_report_luns(b, sizeof(b), luns, 2, &total, NULL, 0), 2);
	assert_int_equal(total, 6);
	/* buffer cut after two entries: caller learns it needs more */
	assert_int_equal(lun_parse_report_luns(b, 24, luns, 8, &total, NULL, 0), 2);
	assert_int_equal(total, 6);
	assert_int_equal(lun_parse_report_luns(b, 7, luns, 8, &total, NULL, 0), -1);
	assert_int_equal(lun_parse_report_luns((const uint8_t[8]){ 0, 0, 0, 9 }, 8, luns, 8,
					       &total, err, sizeof(err)),
			 -1);
}

static void test_lun_encode(void **state)
{
	assert_true(lun_scsi_lun_encode(0) == 0);
	assert_true(lun_scsi_lun_encode(1) == 0x0001000000000000ull);
	assert_true(lun_scsi_lun_encode(255) == 0x00ff000000000000ull);
	assert_true(lun_scsi_lun_encode(256) == 0x4100000000000000ull);
	assert_true(lun_scsi_lun_encode(300) == 0x412c000000000000ull);
	assert_true(lun_scsi_lun_encode(16383) == 0x7fff000000000000ull);
}

static void test_lun_roundtrip(void **state)
{
	uint8_t b[16] = { 0, 0, 0, 8 };
	uint16_t lun, out;
	size_t total;

	for (lun = 0; lun <= 16383; lun++) {
		uint64_t v = lun_scsi_lun_encode(lun);
		int i;

		for (i = 0; i < 8; i++)
			b[8 + i] = (uint8_t)(v >> (56 - 8 * i));
		assert_int_equal(lun_parse_report_luns(b, sizeof(b), &out, 1, &total, NULL, 0), 1);
		assert_int_equal(out, lun);
	}
}

/* ---- Sense ---- */

static void test_sense_fixed(void **state)
{
	/* tgtd's answer to a READ past the end */
	static const uint8_t b[18] = { 0xf0, 0, 0x05, 0x00, 0x02, 0x00, 0x00, 0x0a,
				       0,    0, 0,    0,    0x21, 0x00, 0,	  0, 0, 0 };
	struct lun_sense s;
	char txt[128];

	assert_int_equal(lun_parse_sense(b, sizeof(b), &s, NULL, 0), 0);
	assert_true(s.valid);
	assert_false(s.descriptor);
	assert_false(s.deferred);
	assert_int_equal(s.key, 5);
	assert_int_equal(s.asc, 0x21);
	assert_int_equal(s.ascq, 0x00);
	assert_true(s.info_valid);
	assert_true(s.info == 0x00020000);
	lun_sense_str(&s, txt, sizeof(txt));
	assert_string_equal(txt, "ILLEGAL REQUEST: LOGICAL BLOCK ADDRESS OUT OF RANGE (0x21/0x00)");
}

static void test_sense_fixed_short_and_deferred(void **state)
{
	uint8_t b[18] = { 0x71, 0, 0x06, 0, 0, 0, 0, 0x0a, 0, 0, 0, 0, 0x3f, 0x0e };
	struct lun_sense s;
	char txt[128], err[128];

	assert_int_equal(lun_parse_sense(b, sizeof(b), &s, NULL, 0), 0);
	assert_true(s.deferred);
	assert_false(s.info_valid);
	lun_sense_str(&s, txt, sizeof(txt));
	assert_string_equal(txt, "UNIT ATTENTION: REPORTED LUNS DATA HAS CHANGED (0x3f/0x0e)");
	/* cut before ASC: key only */
	assert_int_equal(lun_parse_sense(b, 12, &s, NULL, 0), 0);
	assert_int_equal(s.key, 6);
	assert_int_equal(s.asc, 0);
	/* additional length 0: ASC/ASCQ are not part of the data */
	b[7] = 0;
	assert_int_equal(lun_parse_sense(b, sizeof(b), &s, NULL, 0), 0);
	assert_int_equal(s.asc, 0);
	assert_int_equal(lun_parse_sense(b, 7, &s, err, sizeof(err)), -1);
	b[0] = 0x7f;
	assert_int_equal(lun_parse_sense(b, sizeof(b), &s, err, sizeof(err)), -1);
	assert_false(s.valid);
	assert_non_null(strstr(err, "0x7f"));
}

static void test_sense_descriptor(void **state)
{
	static const uint8_t b[20] = {
		0x72, 0x03, 0x11, 0x00, 0, 0, 0, 0x0c,
		0x00, 0x0a, 0x80, 0x00, 0, 0, 0, 0, 0, 0, 0x12, 0x34, /* information */
	};
	uint8_t bad[20];
	struct lun_sense s;
	char txt[128];

	assert_int_equal(lun_parse_sense(b, sizeof(b), &s, NULL, 0), 0);
	assert_true(s.descriptor);
	assert_int_equal(s.key, 3);
	assert_int_equal(s.asc, 0x11);
	assert_true(s.info_valid);
	assert_true(s.info == 0x1234);
	lun_sense_str(&s, txt, sizeof(txt));
	assert_string_equal(txt, "MEDIUM ERROR: UNRECOVERED READ ERROR (0x11/0x00)");
	/* cut by the allocation length inside the descriptor: header only */
	assert_int_equal(lun_parse_sense(b, 14, &s, NULL, 0), 0);
	assert_false(s.info_valid);
	assert_int_equal(s.asc, 0x11);
	/* descriptor claiming more than the additional length: corrupt */
	memcpy(bad, b, sizeof(bad));
	bad[9] = 0x20;
	assert_int_equal(lun_parse_sense(bad, sizeof(bad), &s, NULL, 0), -1);
}

static void test_sense_text(void **state)
{
	struct lun_sense s = { .valid = true, .key = 5, .asc = 0x99, .ascq = 0x01 };
	char txt[128];

	lun_sense_str(&s, txt, sizeof(txt));
	assert_string_equal(txt, "ILLEGAL REQUEST: ASC/ASCQ 0x99/0x01");
	s.key = 2, s.asc = 0x04, s.ascq = 0x02;
	lun_sense_str(&s, txt, sizeof(txt));
	assert_string_equal(txt,
			    "NOT READY: LOGICAL UNIT NOT READY, INITIALIZING COMMAND REQUIRED "
			    "(0x04/0x02)");
	lun_sense_str(&s, txt, 10);
	assert_string_equal(txt, "NOT READY");
	s.valid = false;
	lun_sense_str(&s, txt, sizeof(txt));
	assert_string_equal(txt, "no sense data");
	assert_string_equal(lun_sense_key_str(0), "NO SENSE");
	assert_string_equal(lun_sense_key_str(0x0b), "ABORTED COMMAND");
	assert_string_equal(lun_sense_key_str(0x0d), "VOLUME OVERFLOW");
	assert_string_equal(lun_sense_key_str(0x0f), "COMPLETED");
	assert_string_equal(lun_asc_str(0x24, 0x00), "INVALID FIELD IN CDB");
	assert_string_equal(lun_asc_str(0x29, 0x07), "I_T NEXUS LOSS OCCURRED");
	assert_string_equal(lun_asc_str(0x2a, 0x09), "CAPACITY DATA HAS CHANGED");
	assert_string_equal(lun_asc_str(0x55, 0x03), "INSUFFICIENT RESOURCES");
	assert_string_equal(lun_asc_str(0x00, 0x00), "NO ADDITIONAL SENSE INFORMATION");
	assert_string_equal(lun_asc_str(0x68, 0x00), "LOGICAL UNIT NOT CONFIGURED");
	assert_null(lun_asc_str(0x24, 0x01));
	assert_null(lun_asc_str(0xff, 0xff));
}

/* Every table entry must be found by the binary search (it checks the sort). */
static void test_asc_table_sorted(void **state)
{
	unsigned code, found = 0;

	for (code = 0; code <= 0xffff; code++)
		if (lun_asc_str((uint8_t)(code >> 8), (uint8_t)code))
			found++;
	/* 139 entries in lib/scsi.c: an unsorted one would go missing here. */
	assert_int_equal(found, 139);
	assert_non_null(lun_asc_str(0x47, 0x7f));
	assert_non_null(lun_asc_str(0x5d, 0xff));
	assert_non_null(lun_asc_str(0x00, 0x06));
}

static void test_status_str(void **state)
{
	assert_string_equal(lun_scsi_status_str(0x00), "GOOD");
	assert_string_equal(lun_scsi_status_str(0x02), "CHECK CONDITION");
	assert_string_equal(lun_scsi_status_str(0x18), "RESERVATION CONFLICT");
	assert_string_equal(lun_scsi_status_str(0x28), "TASK SET FULL");
	assert_string_equal(lun_scsi_status_str(0x40), "TASK ABORTED");
	assert_string_equal(lun_scsi_status_str(0x01), "unknown status");
}

static void test_iscsi_sense_split(void **state)
{
	static const uint8_t b[] = { 0x00, 0x03, 0x70, 0x00, 0x05, 0xaa };
	const uint8_t *sense;
	size_t n;
	char err[128];

	assert_int_equal(lun_iscsi_sense_split(b, sizeof(b), &sense, &n, NULL, 0), 0);
	assert_ptr_equal(sense, b + 2);
	assert_int_equal(n, 3);
	assert_int_equal(lun_iscsi_sense_split(b, 5, &sense, &n, NULL, 0), 0);
	assert_int_equal(lun_iscsi_sense_split(b, 4, &sense, &n, err, sizeof(err)), -1);
	assert_null(sense);
	assert_int_equal(n, 0);
	assert_int_equal(lun_iscsi_sense_split(b, 1, &sense, &n, NULL, 0), -1);
	assert_int_equal(lun_iscsi_sense_split((const uint8_t[2]){ 0, 0 }, 2, &sense, &n, NULL, 0),
			 0);
	assert_int_equal(n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cdb_tur_request_sense),
		cmocka_unit_test(test_cdb_inquiry),
		cmocka_unit_test(test_cdb_report_luns_rtpg),
		cmocka_unit_test(test_cdb_read_capacity),
		cmocka_unit_test(test_cdb_rw10),
		cmocka_unit_test(test_cdb_rw16),
		cmocka_unit_test(test_cdb_unmap_write_same),
		cmocka_unit_test(test_inquiry_tgtd),
		cmocka_unit_test(test_inquiry_fields_and_sanitising),
		cmocka_unit_test(test_inquiry_truncated),
		cmocka_unit_test(test_device_type_names),
		cmocka_unit_test(test_vpd_supported),
		cmocka_unit_test(test_vpd_serial),
		cmocka_unit_test(test_vpd_ids_tgtd),
		cmocka_unit_test(test_vpd_ids_header_bits),
		cmocka_unit_test(test_vpd_ids_choice),
		cmocka_unit_test(test_vpd_ids_truncated),
		cmocka_unit_test(test_vpd_block_limits),
		cmocka_unit_test(test_read_capacity),
		cmocka_unit_test(test_report_luns),
		cmocka_unit_test(test_lun_encode),
		cmocka_unit_test(test_lun_roundtrip),
		cmocka_unit_test(test_sense_fixed),
		cmocka_unit_test(test_sense_fixed_short_and_deferred),
		cmocka_unit_test(test_sense_descriptor),
		cmocka_unit_test(test_sense_text),
		cmocka_unit_test(test_asc_table_sorted),
		cmocka_unit_test(test_status_str),
		cmocka_unit_test(test_iscsi_sense_split),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
