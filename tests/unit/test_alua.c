/*
 * test_alua.c - REPORT TARGET PORT GROUPS parameter data: istgt's real
 * answer (captured with a lunaris session; tgtd 1.0.85 rejects the command
 * with ILLEGAL REQUEST, INVALID FIELD IN CDB), then built reports in both
 * header formats with every access state, cut and corrupt ones.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "alua.h"
#include "util.h"

/* istgt 0.4, LUN 0, asked in either format: length-only, one group 1,
 * active/optimized, preferred, supports ao and an, status "implicit
 * transition", relative target port 1. */
static const uint8_t istgt_rtpg[16] = {
	0x00, 0x00, 0x00, 0x0c, 0x80, 0x03, 0x00, 0x01,
	0x00, 0x02, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01,
};

static struct lun_alua_report rep; /* 2 KiB */

/* Append a descriptor to b at *off. */
static void put_group(uint8_t *b, size_t *off, uint8_t pref_state, uint8_t sup, uint16_t id,
		      uint8_t status, const uint16_t *ports, uint8_t nports)
{
	uint8_t i;

	b[*off] = pref_state;
	b[*off + 1] = sup;
	lun_put_be16(b + *off + 2, id);
	b[*off + 4] = 0;
	b[*off + 5] = status;
	b[*off + 6] = 0x5a;
	b[*off + 7] = nports;
	*off += 8;
	for (i = 0; i < nports; i++) {
		lun_put_be16(b + *off, 0);
		lun_put_be16(b + *off + 2, ports[i]);
		*off += 4;
	}
}

/* Two controllers, ALUA the usual way: group 1 (ports 1, 2) optimized and
 * preferred, group 2 (ports 3, 4) standby; extended header, 10 s. */
static size_t two_groups_ext(uint8_t *b)
{
	static const uint16_t p1[] = { 1, 2 }, p2[] = { 3, 4 };
	size_t off = 8;

	b[4] = 0x10;
	b[5] = 10;
	b[6] = b[7] = 0;
	put_group(b, &off, 0x80 | LUN_ALUA_ACTIVE_OPTIMIZED, 0x8f, 1, 0, p1, 2);
	put_group(b, &off, LUN_ALUA_STANDBY, 0x8f, 2, LUN_ALUA_STATUS_SET_TPG, p2, 2);
	lun_put_be32(b, (uint32_t)off - 4);
	return off;
}

static void test_istgt_real(void **state)
{
	char s[128];
	int ext;

	for (ext = 0; ext < 2; ext++) {
		assert_int_equal(lun_alua_parse(istgt_rtpg, sizeof(istgt_rtpg), ext, &rep, NULL, 0),
				 0);
		assert_false(rep.extended); /* istgt ignores the extended request */
		assert_false(rep.truncated);
		assert_int_equal(rep.needed, 16);
		assert_int_equal(rep.count, 1);
		assert_int_equal(rep.total, 1);
		assert_int_equal(rep.g[0].id, 1);
		assert_int_equal(rep.g[0].state, LUN_ALUA_ACTIVE_OPTIMIZED);
		assert_true(rep.g[0].preferred);
		assert_int_equal(rep.g[0].supported, LUN_ALUA_SUP_AO | LUN_ALUA_SUP_AN);
		assert_int_equal(rep.g[0].status, LUN_ALUA_STATUS_IMPLICIT);
		assert_int_equal(rep.g[0].port_count, 1);
		assert_int_equal(rep.g[0].nports, 1);
		assert_int_equal(rep.g[0].ports[0], 1);
	}
	lun_alua_group_str(&rep.g[0], s, sizeof(s));
	assert_string_equal(s, "TPG 1: active/optimized, preferred, supports ao,an, ports 1");
	assert_ptr_equal(lun_alua_find_port(&rep, 1), &rep.g[0]);
	assert_ptr_equal(lun_alua_find_group(&rep, 1), &rep.g[0]);
	assert_null(lun_alua_find_port(&rep, 2));
	assert_null(lun_alua_find_group(&rep, 2));
}

static void test_extended(void **state)
{
	uint8_t b[64];
	size_t n = two_groups_ext(b);
	char s[128];

	assert_int_equal(lun_alua_parse(b, n, true, &rep, NULL, 0), 0);
	assert_true(rep.extended);
	assert_int_equal(rep.transition_time, 10);
	assert_int_equal(rep.count, 2);
	assert_int_equal(rep.g[1].id, 2);
	assert_int_equal(rep.g[1].state, LUN_ALUA_STANDBY);
	assert_false(rep.g[1].preferred);
	assert_int_equal(rep.g[1].status, LUN_ALUA_STATUS_SET_TPG);
	assert_int_equal(rep.g[1].vendor, 0x5a);
	assert_ptr_equal(lun_alua_find_port(&rep, 4), &rep.g[1]);
	assert_ptr_equal(lun_alua_find_port(&rep, 2), &rep.g[0]);
	lun_alua_group_str(&rep.g[1], s, sizeof(s));
	assert_string_equal(s, "TPG 2: standby, supports ao,an,s,u,t, ports 3 4");
}

static void test_states_and_names(void **state)
{
	static const struct {
		uint8_t state;
		const char *name;
	} t[] = {
		{ LUN_ALUA_ACTIVE_OPTIMIZED, "active/optimized" },
		{ LUN_ALUA_ACTIVE_NONOPTIMIZED, "active/non-optimized" },
		{ LUN_ALUA_STANDBY, "standby" },
		{ LUN_ALUA_UNAVAILABLE, "unavailable" },
		{ LUN_ALUA_LBA_DEPENDENT, "logical block dependent" },
		{ LUN_ALUA_OFFLINE, "offline" },
		{ LUN_ALUA_TRANSITIONING, "transitioning" },
		{ 0x5, "reserved" },
		{ 0xd, "reserved" },
	};
	uint8_t b[8 + 9 * 12];
	size_t off = 4, i;
	char s[32];

	/* One report with every state (reserved ones are kept as received). */
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		uint16_t port = (uint16_t)(100 + i);

		put_group(b, &off, t[i].state, 0xdf, (uint16_t)(i + 1), 0, &port, 1);
	}
	lun_put_be32(b, (uint32_t)off - 4);
	assert_int_equal(lun_alua_parse(b, off, false, &rep, NULL, 0), 0);
	assert_int_equal(rep.count, sizeof(t) / sizeof(t[0]));
	for (i = 0; i < rep.count; i++) {
		assert_int_equal(rep.g[i].state, t[i].state);
		assert_string_equal(lun_alua_state_str(rep.g[i].state), t[i].name);
		assert_int_equal(rep.g[i].supported, 0xdf);
	}
	lun_alua_supported_str(0xff, s, sizeof(s)); /* reserved bit 5 is not a state */
	assert_string_equal(s, "ao,an,s,u,lbd,o,t");
	lun_alua_supported_str(0, s, sizeof(s));
	assert_string_equal(s, "none");
	lun_alua_supported_str(0xff, s, 6);
	assert_string_equal(s, "ao,an");
	assert_string_equal(lun_alua_status_str(0), "no status");
	assert_string_equal(lun_alua_status_str(1), "altered by SET TARGET PORT GROUPS");
	assert_string_equal(lun_alua_status_str(2), "altered by implicit transition");
	assert_string_equal(lun_alua_status_str(3), "reserved");
}

static void test_truncated(void **state)
{
	uint8_t b[64];
	size_t n = two_groups_ext(b);

	/* cut inside the second descriptor: the first stands */
	assert_int_equal(lun_alua_parse(b, n - 3, true, &rep, NULL, 0), 0);
	assert_true(rep.truncated);
	assert_int_equal(rep.needed, n);
	assert_int_equal(rep.count, 1);
	/* cut inside the extended header, or right after the length */
	assert_int_equal(lun_alua_parse(b, 6, true, &rep, NULL, 0), 0);
	assert_true(rep.truncated);
	assert_true(rep.extended);
	assert_int_equal(rep.count, 0);
	assert_int_equal(lun_alua_parse(b, 4, true, &rep, NULL, 0), 0);
	assert_int_equal(rep.needed, n);
	assert_int_equal(rep.count, 0);
	/* istgt's answer cut at 12 bytes: the descriptor is incomplete */
	assert_int_equal(lun_alua_parse(istgt_rtpg, 12, false, &rep, NULL, 0), 0);
	assert_true(rep.truncated);
	assert_int_equal(rep.count, 0);
	/* an empty list */
	memset(b, 0, 4);
	assert_int_equal(lun_alua_parse(b, 4, false, &rep, NULL, 0), 0);
	assert_false(rep.truncated);
	assert_int_equal(rep.count, 0);
}

static void test_errors(void **state)
{
	uint8_t b[64];
	size_t n;
	char err[160] = "";

	assert_int_equal(lun_alua_parse(istgt_rtpg, 3, false, &rep, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "shorter than its 4-byte header"));
	/* a return data length that ends inside the descriptor */
	memcpy(b, istgt_rtpg, sizeof(istgt_rtpg));
	b[3] = 10;
	assert_int_equal(lun_alua_parse(b, sizeof(istgt_rtpg), false, &rep, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "with 1 target ports needs 12 bytes"));
	b[3] = 6;
	assert_int_equal(lun_alua_parse(b, sizeof(istgt_rtpg), false, &rep, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "needs 8 bytes"));
	/* unknown format type */
	n = two_groups_ext(b);
	b[4] = 0x20;
	assert_int_equal(lun_alua_parse(b, n, true, &rep, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "format type 2"));
	/* an extended header claiming less than itself */
	n = two_groups_ext(b);
	lun_put_be32(b, 2);
	assert_int_equal(lun_alua_parse(b, n, true, &rep, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "less than its own 4"));
	/* the same group twice, the same port in two groups */
	n = two_groups_ext(b);
	b[8 + 16 + 3] = 1;
	assert_int_equal(lun_alua_parse(b, n, true, &rep, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "group 1 is listed twice"));
	n = two_groups_ext(b);
	b[8 + 16 + 8 + 3] = 2;
	assert_int_equal(lun_alua_parse(b, n, true, &rep, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "port 2 is listed in target port groups 1 and 2"));
}

static void test_limits(void **state)
{
	static uint8_t b[8 + 40 * 12 + 8 + 4 * 40];
	uint16_t ports[40];
	size_t off = 4, i;
	char s[64];

	for (i = 0; i < 40; i++)
		ports[i] = (uint16_t)(1000 + i);
	put_group(b, &off, LUN_ALUA_ACTIVE_NONOPTIMIZED, 0x03, 7, 0, ports, 40);
	for (i = 0; i < LUN_ALUA_MAX_GROUPS; i++) {
		uint16_t port = (uint16_t)i;

		put_group(b, &off, LUN_ALUA_UNAVAILABLE, 0x08, (uint16_t)(100 + i), 0, &port, 1);
	}
	lun_put_be32(b, (uint32_t)off - 4);
	assert_int_equal(lun_alua_parse(b, off, false, &rep, NULL, 0), 0);
	assert_int_equal(rep.total, LUN_ALUA_MAX_GROUPS + 1);
	assert_int_equal(rep.count, LUN_ALUA_MAX_GROUPS);
	assert_int_equal(rep.g[0].port_count, 40);
	assert_int_equal(rep.g[0].nports, LUN_ALUA_MAX_PORTS);
	assert_int_equal(rep.g[0].ports[LUN_ALUA_MAX_PORTS - 1], 1000 + LUN_ALUA_MAX_PORTS - 1);
	lun_alua_group_str(&rep.g[0], s, sizeof(s)); /* cut, terminated */
	assert_int_equal(strlen(s), sizeof(s) - 1);
	{
		char big[512];

		lun_alua_group_str(&rep.g[0], big, sizeof(big));
		assert_non_null(strstr(big, " 1031 (+8 more)"));
	}
}

static void test_cdb_and_tpgs(void **state)
{
	uint8_t cdb[16], inq[36] = { 0 };

	assert_int_equal(lun_alua_cdb_rtpg(cdb, 4096, false), 12);
	assert_int_equal(cdb[0], 0xa3);
	assert_int_equal(cdb[1], 0x0a);
	assert_int_equal(lun_get_be32(cdb + 6), 4096);
	assert_int_equal(lun_alua_cdb_rtpg(cdb, 4096, true), 12);
	assert_int_equal(cdb[1], 0x2a);
	/* tgtd and istgt: TPGS 0 */
	assert_int_equal(lun_alua_tpgs(inq, sizeof(inq)), LUN_TPGS_NONE);
	inq[5] = 0x10;
	assert_int_equal(lun_alua_tpgs(inq, sizeof(inq)), LUN_TPGS_IMPLICIT);
	inq[5] = 0x3f;
	assert_int_equal(lun_alua_tpgs(inq, sizeof(inq)), LUN_TPGS_BOTH);
	assert_string_equal(lun_alua_tpgs_str(LUN_TPGS_BOTH), "implicit+explicit");
	assert_string_equal(lun_alua_tpgs_str(LUN_TPGS_EXPLICIT), "explicit");
	assert_int_equal(lun_alua_tpgs(inq, 5), -1);
	assert_string_equal(lun_alua_tpgs_str(-1), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_istgt_real),
		cmocka_unit_test(test_extended),
		cmocka_unit_test(test_states_and_names),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_cdb_and_tpgs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
