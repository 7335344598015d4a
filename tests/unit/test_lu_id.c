/*
 * test_lu_id.c - LU identity and device names from real VPD 0x83 pages,
 * captured with a lunaris session (INQUIRY EVPD 0x83) from tgtd 1.0.85
 * (testbed.md section 1) and istgt 0.4 (section 6), then from built pages
 * for the choices real targets did not show.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lu_id.h"
#include "scsi.h"

/* tgtd, tid 1, LUN 1, default identity: T10 "IET     00010001" padded with
 * NULs to 36 bytes, NAA 3 3000000100000001, NAA 6 derived from tid/LUN. */
static const uint8_t tgtd_lun1_vpd83[76] = {
	0x00, 0x83, 0x00, 0x48, 0x02, 0x01, 0x00, 0x24, 0x49, 0x45, 0x54, 0x20,
	0x20, 0x20, 0x20, 0x20, 0x30, 0x30, 0x30, 0x31, 0x30, 0x30, 0x30, 0x31,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x00, 0x08,
	0x30, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x01, 0x03, 0x00, 0x10,
	0x60, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0e, 0x00, 0x00, 0x00,
	0x00, 0x01, 0x00, 0x01,
};

/* tgtd, tid 1, LUN 2 after `--op update --params scsi_id=LUNARIS-ID-0002`:
 * the T10 text and the NAA 6 value change, NAA 3 still follows tid/LUN. */
static const uint8_t tgtd_lun2_scsi_id_vpd83[76] = {
	0x00, 0x83, 0x00, 0x48, 0x02, 0x01, 0x00, 0x24, 0x4c, 0x55, 0x4e, 0x41,
	0x52, 0x49, 0x53, 0x2d, 0x49, 0x44, 0x2d, 0x30, 0x30, 0x30, 0x32, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x00, 0x08,
	0x30, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x01, 0x03, 0x00, 0x10,
	0x60, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xa0, 0x00,
	0x00, 0xd0, 0x00, 0x02,
};

/* tgtd, tid 1, LUN 0: the controller LU (peripheral type 0x0c). */
static const uint8_t tgtd_lun0_vpd83[76] = {
	0x0c, 0x83, 0x00, 0x48, 0x02, 0x01, 0x00, 0x24, 0x49, 0x45, 0x54, 0x20,
	0x20, 0x20, 0x20, 0x20, 0x30, 0x30, 0x30, 0x31, 0x30, 0x30, 0x30, 0x30,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x00, 0x08,
	0x30, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x00, 0x10,
	0x60, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0e, 0x00, 0x00, 0x00,
	0x00, 0x01, 0x00, 0x00,
};

/* istgt, LUN 0: NAA 3, T10 (code set 3), SCSI names of the target device
 * and the port, relative target port 1, target port group 1, LU group 1. */
static const uint8_t istgt_vpd83[173] = {
	0x00, 0x83, 0x00, 0xa9, 0x01, 0x03, 0x00, 0x08, 0x30, 0x00, 0x00, 0x00,
	0x5b, 0x0e, 0x41, 0x02, 0x03, 0x01, 0x00, 0x38, 0x46, 0x72, 0x65, 0x65,
	0x42, 0x53, 0x44, 0x20, 0x69, 0x53, 0x43, 0x53, 0x49, 0x20, 0x44, 0x49,
	0x53, 0x4b, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x31, 0x30, 0x30, 0x30,
	0x30, 0x30, 0x30, 0x31, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
	0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
	0x20, 0x20, 0x20, 0x20, 0x53, 0xa8, 0x00, 0x1c, 0x69, 0x71, 0x6e, 0x2e,
	0x32, 0x30, 0x32, 0x34, 0x2d, 0x30, 0x31, 0x2e, 0x74, 0x65, 0x73, 0x74,
	0x2e, 0x69, 0x73, 0x74, 0x67, 0x74, 0x3a, 0x64, 0x69, 0x73, 0x6b, 0x31,
	0x53, 0x98, 0x00, 0x25, 0x69, 0x71, 0x6e, 0x2e, 0x32, 0x30, 0x32, 0x34,
	0x2d, 0x30, 0x31, 0x2e, 0x74, 0x65, 0x73, 0x74, 0x2e, 0x69, 0x73, 0x74,
	0x67, 0x74, 0x3a, 0x64, 0x69, 0x73, 0x6b, 0x31, 0x2c, 0x74, 0x2c, 0x30,
	0x78, 0x30, 0x30, 0x30, 0x31, 0x51, 0x94, 0x00, 0x04, 0x00, 0x00, 0x00,
	0x01, 0x51, 0x95, 0x00, 0x04, 0x00, 0x00, 0x00, 0x01, 0x51, 0x96, 0x00,
	0x04, 0x00, 0x00, 0x00, 0x01,
};

/* A page of the designators given, each as {header byte 0, byte 1, len, value}. */
struct desig {
	uint8_t b0, b1, len;
	const char *value;
};

static size_t mkpage(uint8_t *p, const struct desig *d, size_t n)
{
	size_t off = 4, i;

	p[0] = 0x00;
	p[1] = 0x83;
	for (i = 0; i < n; i++) {
		p[off] = d[i].b0;
		p[off + 1] = d[i].b1;
		p[off + 2] = 0;
		p[off + 3] = d[i].len;
		memcpy(p + off + 4, d[i].value, d[i].len);
		off += 4 + d[i].len;
	}
	p[2] = (uint8_t)((off - 4) >> 8);
	p[3] = (uint8_t)(off - 4);
	return off;
}

static struct lun_luid a, b; /* 1 KiB each */

static void test_tgtd_naa6(void **state)
{
	struct lun_vpd_ids ids;
	char shown[2 * 255 + 1];

	assert_int_equal(lun_luid_from_vpd83(tgtd_lun1_vpd83, sizeof(tgtd_lun1_vpd83), &a, NULL,
					     0),
			 0);
	assert_int_equal(a.type, LUN_DESIG_NAA);
	assert_int_equal(a.len, 16);
	assert_string_equal(a.hex, "60000000000000000E00000000010001");
	assert_string_equal(a.name, "c0t60000000000000000E00000000010001d0");
	assert_string_equal(lun_luid_type_str(a.type), "NAA");
	assert_true(lun_luid_name_valid(a.name));
	/* the same identifier `lunaris luns` prints for this LU */
	assert_int_equal(lun_parse_vpd_ids(tgtd_lun1_vpd83, sizeof(tgtd_lun1_vpd83), &ids, NULL, 0),
			 0);
	assert_int_equal(lun_vpd_ids_identifier(&ids, shown, sizeof(shown)), LUN_DESIG_NAA);
	assert_string_equal(shown, a.hex);
	assert_int_equal(lun_luid_from_ids(&ids, &b), 0);
	assert_true(lun_luid_same(&a, &b));
}

/* Two portals of one tgtd return the same page byte for byte
 * (testbed.md section 2): one LU, two paths.  Other LUNs differ. */
static void test_same_lu(void **state)
{
	static struct lun_luid c;
	uint8_t second_portal[sizeof(tgtd_lun1_vpd83)];

	memcpy(second_portal, tgtd_lun1_vpd83, sizeof(second_portal));
	assert_int_equal(lun_luid_from_vpd83(tgtd_lun1_vpd83, sizeof(tgtd_lun1_vpd83), &a, NULL,
					     0),
			 0);
	assert_int_equal(lun_luid_from_vpd83(second_portal, sizeof(second_portal), &b, NULL, 0), 0);
	assert_true(lun_luid_same(&a, &b));
	assert_string_equal(a.name, b.name);
	assert_int_equal(lun_luid_from_vpd83(tgtd_lun2_scsi_id_vpd83,
					     sizeof(tgtd_lun2_scsi_id_vpd83), &b, NULL, 0),
			 0);
	assert_string_equal(b.name, "c0t60000000000000000000A00000D00002d0");
	assert_false(lun_luid_same(&a, &b));
	assert_int_equal(lun_luid_from_vpd83(tgtd_lun0_vpd83, sizeof(tgtd_lun0_vpd83), &c, NULL, 0),
			 0);
	assert_string_equal(c.name, "c0t60000000000000000E00000000010000d0");
	assert_false(lun_luid_same(&a, &c));
	/* the same bytes under another designator type are another LU */
	b = a;
	b.type = LUN_DESIG_EUI64;
	assert_false(lun_luid_same(&a, &b));
	b = a;
	b.len = 8;
	assert_false(lun_luid_same(&a, &b));
}

static void test_istgt_naa3_and_port(void **state)
{
	struct lun_vpd_ids ids;
	struct lun_luid_port port;

	assert_int_equal(lun_luid_from_vpd83(istgt_vpd83, sizeof(istgt_vpd83), &a, NULL, 0), 0);
	assert_int_equal(a.type, LUN_DESIG_NAA);
	assert_string_equal(a.name, "c0t300000005B0E4102d0");
	assert_int_equal(lun_parse_vpd_ids(istgt_vpd83, sizeof(istgt_vpd83), &ids, NULL, 0), 0);
	lun_luid_port(&ids, &port);
	assert_true(port.has_rel_port);
	assert_int_equal(port.rel_port, 1);
	assert_true(port.has_tpg);
	assert_int_equal(port.tpg, 1);
	/* tgtd reports no port designators */
	assert_int_equal(lun_parse_vpd_ids(tgtd_lun1_vpd83, sizeof(tgtd_lun1_vpd83), &ids, NULL, 0),
			 0);
	lun_luid_port(&ids, &port);
	assert_false(port.has_rel_port);
	assert_false(port.has_tpg);
}

/* tgtd's page cut to its T10 designator: all 36 bytes, padding included. */
static void test_t10_only(void **state)
{
	assert_int_equal(lun_luid_from_vpd83(tgtd_lun1_vpd83, 44, &a, NULL, 0), 0);
	assert_int_equal(a.type, LUN_DESIG_T10);
	assert_int_equal(a.len, 36);
	assert_string_equal(a.hex, "49455420202020203030303130303031" /* IET     00010001 */
				   "0000000000000000000000000000000000000000"); /* 20 NULs */
	assert_int_equal(strlen(a.name), 3 + 72 + 2);
	assert_true(lun_luid_name_valid(a.name));
	assert_string_equal(lun_luid_type_str(a.type), "T10");
}

static void test_choice(void **state)
{
	static const struct desig naa3 = { 0x01, 0x03, 8, "\x30\x00\x00\x01\x00\x00\x00\x09" },
				  naa5 = { 0x01, 0x03, 8, "\x50\x01\x40\x50\x00\x00\x00\x01" },
				  naa2 = { 0x01, 0x03, 8, "\x20\x00\x00\x0c\x29\x00\x00\x01" },
				  /* NAA 6 needs 16 bytes: this one is short */
				  naa6_short = { 0x01, 0x03, 8, "\x60\x01\x40\x50\0\0\0\x02" },
				  /* reserved NAA format 1 */
				  naa1 = { 0x01, 0x03, 8, "\x10\x00\x00\x00\x00\x00\x00\x03" },
				  /* NAA in ASCII, and NAA of the target device */
				  naa_ascii = { 0x02, 0x03, 8, "\x60\x01\x40\x50\x00\x00\x00\x04" },
				  naa_target = { 0x01, 0x23, 8, "\x50\x01\x40\x50\0\0\0\x05" },
				  eui = { 0x01, 0x02, 8, "\x00\x14\x05\xab\xcd\xef\x01\x23" },
				  eui12 = { 0x01, 0x02, 12,
					    "\x00\x14\x05\xab\xcd\xef\x01\x23\0\0\0\x01" },
				  eui9 = { 0x01, 0x02, 9, "\x00\x14\x05\xab\xcd\xef\x01\x23\x00" },
				  t10 = { 0x02, 0x01, 12, "LUNARIS 0007" },
				  t10_short = { 0x02, 0x01, 4, "LUNA" },
				  relport = { 0x61, 0x94, 4, "\x00\x00\x00\x02" };
	uint8_t p[512];
	size_t n;

	/* 5 beats 2 beats 3, whatever the order */
	n = mkpage(p, (const struct desig[]){ naa3, naa2, naa5, eui, t10 }, 5);
	assert_int_equal(lun_luid_from_vpd83(p, n, &a, NULL, 0), 0);
	assert_string_equal(a.name, "c0t5001405000000001d0");
	n = mkpage(p, (const struct desig[]){ naa3, naa2, eui }, 3);
	lun_luid_from_vpd83(p, n, &a, NULL, 0);
	assert_string_equal(a.hex, "2000000C29000001");
	/* unusable NAA designators fall through to EUI-64 */
	n = mkpage(p, (const struct desig[]){ naa6_short, naa1, naa_ascii, naa_target, eui12, eui },
		   6);
	assert_int_equal(lun_luid_from_vpd83(p, n, &a, NULL, 0), 0);
	assert_int_equal(a.type, LUN_DESIG_EUI64);
	assert_string_equal(a.hex, "001405ABCDEF012300000001"); /* the first, 12 bytes */
	/* an EUI-64 of odd length is skipped; T10 remains */
	n = mkpage(p, (const struct desig[]){ eui9, t10_short, t10 }, 3);
	assert_int_equal(lun_luid_from_vpd83(p, n, &a, NULL, 0), 0);
	assert_int_equal(a.type, LUN_DESIG_T10);
	assert_string_equal(a.name, "c0t4C554E415249532030303037d0");
	/* nothing usable: no name, and not the same as another nameless LU */
	n = mkpage(p, (const struct desig[]){ relport, t10_short, naa1 }, 3);
	{
		char err[160] = "";

		assert_int_equal(lun_luid_from_vpd83(p, n, &a, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "(3 designators)"));
		assert_int_equal(a.type, -1);
		assert_string_equal(a.name, "");
		assert_string_equal(lun_luid_type_str(a.type), "none");
		b = a;
		assert_false(lun_luid_same(&a, &b));
	}
}

static void test_malformed_page(void **state)
{
	uint8_t p[sizeof(tgtd_lun1_vpd83)];
	char err[160] = "";

	memcpy(p, tgtd_lun1_vpd83, sizeof(p));
	p[1] = 0x80;
	assert_int_equal(lun_luid_from_vpd83(p, sizeof(p), &a, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "0x83"));
	assert_string_equal(a.name, "");
	/* a designator running past the page length */
	memcpy(p, tgtd_lun1_vpd83, sizeof(p));
	p[59] = 0x11;
	assert_int_equal(lun_luid_from_vpd83(p, sizeof(p), &a, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "overruns"));
	/* cut by the allocation length inside NAA 6: NAA 3 is what is left */
	assert_int_equal(lun_luid_from_vpd83(tgtd_lun1_vpd83, 70, &a, NULL, 0), 0);
	assert_string_equal(a.name, "c0t3000000100000001d0");
}

static void test_name_valid(void **state)
{
	char longest[LUN_LUID_NAME_MAX + 2];

	assert_true(lun_luid_name_valid("c0t60000000000000000E00000000010001d0"));
	assert_true(lun_luid_name_valid("c0tABd0"));
	assert_false(lun_luid_name_valid("c0td0"));
	assert_false(lun_luid_name_valid("c0tAd0")); /* odd */
	assert_false(lun_luid_name_valid("c0tabd0")); /* lowercase */
	assert_false(lun_luid_name_valid("c1tABd0"));
	assert_false(lun_luid_name_valid("c0tABd1"));
	assert_false(lun_luid_name_valid("c0tAGd0"));
	assert_false(lun_luid_name_valid(""));
	assert_false(lun_luid_name_valid("../c0tABd0"));
	memcpy(longest, "c0t", 3);
	memset(longest + 3, 'A', 510);
	memcpy(longest + 513, "d0", 3);
	assert_true(lun_luid_name_valid(longest));
	memcpy(longest + 513, "AAd0", 5);
	assert_false(lun_luid_name_valid(longest));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tgtd_naa6),
		cmocka_unit_test(test_same_lu),
		cmocka_unit_test(test_istgt_naa3_and_port),
		cmocka_unit_test(test_t10_only),
		cmocka_unit_test(test_choice),
		cmocka_unit_test(test_malformed_page),
		cmocka_unit_test(test_name_valid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
