/*
 * test_text.c - key lists (parse/encode) and operational key negotiation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "text.h"

#define PARSE(l, lit, err) lun_kvlist_parse((l), (const uint8_t *)(lit), sizeof(lit) - 1, \
					    (err), sizeof(err))

/* ---- key lists ---- */

static void test_kvlist_build_encode(void **state)
{
	struct lun_kvlist l;
	uint8_t buf[64];
	static const char want[] = "A=1\0Key.x=Yes\0A=2\0";

	(void)state;
	lun_kvlist_init(&l);
	assert_int_equal(lun_kvlist_add(&l, "A", "1"), 0);
	assert_int_equal(lun_kvlist_add(&l, "Key.x", "Yes"), 0);
	assert_int_equal(lun_kvlist_addf(&l, "A", "%d", 2), 0);
	assert_int_equal(l.count, 3);
	assert_string_equal(lun_kvlist_get(&l, "A"), "1");
	assert_null(lun_kvlist_get(&l, "B"));
	assert_int_equal(lun_kvlist_encoded_len(&l), sizeof(want) - 1);
	assert_int_equal(lun_kvlist_encode(&l, buf, sizeof(buf)), sizeof(want) - 1);
	assert_memory_equal(buf, want, sizeof(want) - 1);
	assert_int_equal(lun_kvlist_encode(&l, buf, sizeof(want) - 2), 0);
	lun_kvlist_clear(&l);
	assert_int_equal(l.count, 0);
	assert_int_equal(lun_kvlist_encoded_len(&l), 0);
	assert_int_equal(lun_kvlist_add(&l, "B", ""), 0);
	assert_string_equal(lun_kvlist_get(&l, "B"), "");
	lun_kvlist_free(&l);
	assert_null(l.items);
	assert_int_equal(l.count, 0);
}

static void test_kvlist_parse_ok(void **state)
{
	struct lun_kvlist l;
	char err[128];

	(void)state;
	lun_kvlist_init(&l);
	assert_int_equal(PARSE(&l, "HeaderDigest=None\0TargetAlias=a=b\0X#ext=1\0\0\0\0", err),
			 0);
	assert_int_equal(l.count, 3);
	assert_string_equal(l.items[0].key, "HeaderDigest");
	assert_string_equal(l.items[0].value, "None");
	/* only the first '=' separates */
	assert_string_equal(lun_kvlist_get(&l, "TargetAlias"), "a=b");
	assert_string_equal(lun_kvlist_get(&l, "X#ext"), "1");
	/* appends; duplicates kept */
	assert_int_equal(PARSE(&l, "TargetName=x\0TargetName=y\0", err), 0);
	assert_int_equal(l.count, 5);
	assert_string_equal(l.items[4].value, "y");
	/* empty data and an empty value */
	assert_int_equal(lun_kvlist_parse(&l, NULL, 0, err, sizeof(err)), 0);
	assert_int_equal(PARSE(&l, "Empty=\0", err), 0);
	assert_string_equal(lun_kvlist_get(&l, "Empty"), "");
	lun_kvlist_free(&l);
}

static void test_kvlist_parse_limits(void **state)
{
	struct lun_kvlist l;
	uint8_t buf[700];
	char err[128];
	size_t n;

	(void)state;
	lun_kvlist_init(&l);
	/* 255-byte value accepted, 256 refused */
	memcpy(buf, "K=", 2);
	memset(buf + 2, 'v', 256);
	buf[2 + 255] = 0;
	assert_int_equal(lun_kvlist_parse(&l, buf, 2 + 256, err, sizeof(err)), 0);
	buf[2 + 255] = 'v';
	buf[2 + 256] = 0;
	assert_int_equal(lun_kvlist_parse(&l, buf, 2 + 257, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "256 bytes"));
	/* CHAP_C may be larger */
	memcpy(buf, "CHAP_C=0x", 9);
	memset(buf + 9, 'a', 600);
	buf[609] = 0;
	assert_int_equal(lun_kvlist_parse(&l, buf, 610, err, sizeof(err)), 0);
	/* 63-byte key ok, 64 refused */
	memset(buf, 'k', 64);
	memcpy(buf + 63, "=1", 3);
	assert_int_equal(lun_kvlist_parse(&l, buf, 66, err, sizeof(err)), 0);
	memset(buf, 'k', 64);
	memcpy(buf + 64, "=1", 3);
	assert_int_equal(lun_kvlist_parse(&l, buf, 67, err, sizeof(err)), -1);
	n = l.count;
	assert_int_equal(n, 3);
	lun_kvlist_free(&l);
}

static void test_kvlist_parse_errors(void **state)
{
	struct lun_kvlist l;
	char err[128];

	(void)state;
	lun_kvlist_init(&l);
	assert_int_equal(PARSE(&l, "A=1\0", err), 0);
	assert_int_equal(PARSE(&l, "B=2\0NoEquals\0", err), -1);
	assert_non_null(strstr(err, "NoEquals"));
	/* the failed parse left nothing behind */
	assert_int_equal(l.count, 1);
	assert_int_equal(PARSE(&l, "=1\0", err), -1);
	assert_int_equal(PARSE(&l, "Bad Key=1\0", err), -1);
	assert_non_null(strstr(err, "0x20"));
	assert_int_equal(PARSE(&l, "Bad/Key=1\0", err), -1);
	assert_int_equal(PARSE(&l, "A=1\0B=2", err), -1);
	assert_non_null(strstr(err, "NUL"));
	assert_int_equal(PARSE(&l, "A=1\0\0B=2\0", err), -1);
	assert_int_equal(PARSE(&l, "\0", err), 0);
	assert_int_equal(l.count, 1);
	lun_kvlist_free(&l);
}

/* ---- negotiation ---- */

static void want_defaults(struct lun_params *w)
{
	lun_params_defaults(w);
	w->max_recv_dsl = 262144;
	w->immediate_data = true;
	w->initial_r2t = false;
	w->max_burst = 1048576;
	w->first_burst = 262144;
}

static void test_defaults(void **state)
{
	struct lun_params p;

	(void)state;
	memset(&p, 0xa5, sizeof(p));
	lun_params_defaults(&p);
	assert_int_equal(p.max_recv_dsl, 8192);
	assert_int_equal(p.max_send_dsl, 8192);
	assert_int_equal(p.max_burst, 262144);
	assert_int_equal(p.first_burst, 65536);
	assert_true(p.initial_r2t);
	assert_true(p.immediate_data);
	assert_int_equal(p.default_time2wait, 2);
	assert_int_equal(p.default_time2retain, 20);
	assert_int_equal(p.max_outstanding_r2t, 1);
	assert_int_equal(p.erl, 0);
	assert_int_equal(p.max_connections, 1);
	assert_int_equal(p.header_digest, LUN_DIGEST_NONE);
	assert_false(p.tpgt_valid);
	assert_string_equal(p.target_alias, "");
}

static void test_offer_normal(void **state)
{
	struct lun_params w;
	struct lun_nego n;
	struct lun_kvlist out;
	uint8_t buf[1024];
	static const char want[] =
		"HeaderDigest=CRC32C,None\0DataDigest=CRC32C\0"
		"MaxRecvDataSegmentLength=262144\0MaxConnections=1\0InitialR2T=No\0"
		"ImmediateData=Yes\0MaxBurstLength=1048576\0FirstBurstLength=262144\0"
		"DefaultTime2Wait=2\0DefaultTime2Retain=20\0MaxOutstandingR2T=1\0"
		"DataPDUInOrder=Yes\0DataSequenceInOrder=Yes\0ErrorRecoveryLevel=0\0";

	(void)state;
	want_defaults(&w);
	lun_nego_init(&n, &w, LUN_DIGEST_PREF_CRC32C, LUN_DIGEST_PREF_CRC32C_ONLY, false);
	lun_kvlist_init(&out);
	assert_int_equal(lun_nego_offer(&n, &out), 0);
	assert_int_equal(lun_kvlist_encode(&out, buf, sizeof(buf)), sizeof(want) - 1);
	assert_memory_equal(buf, want, sizeof(want) - 1);
	assert_false(lun_nego_complete(&n));
	/* each key once per login */
	lun_kvlist_clear(&out);
	assert_int_equal(lun_nego_offer(&n, &out), 0);
	assert_int_equal(out.count, 0);
	lun_kvlist_free(&out);
}

static void test_offer_discovery_and_clamp(void **state)
{
	struct lun_params w;
	struct lun_nego n;
	struct lun_kvlist out;
	uint8_t buf[512];
	static const char want[] =
		"HeaderDigest=None\0DataDigest=None\0MaxRecvDataSegmentLength=16777215\0"
		"DefaultTime2Wait=3600\0DefaultTime2Retain=20\0ErrorRecoveryLevel=2\0";

	(void)state;
	want_defaults(&w);
	/* out of range wishes are clamped to what RFC 7143 allows */
	w.max_recv_dsl = 1u << 30;
	w.default_time2wait = 99999;
	w.erl = 7;
	lun_nego_init(&n, &w, LUN_DIGEST_PREF_NONE, LUN_DIGEST_PREF_NONE, true);
	lun_kvlist_init(&out);
	assert_int_equal(lun_nego_offer(&n, &out), 0);
	assert_int_equal(lun_kvlist_encode(&out, buf, sizeof(buf)), sizeof(want) - 1);
	assert_memory_equal(buf, want, sizeof(want) - 1);
	lun_kvlist_free(&out);
}

/* Sets up a normal-session negotiation with everything offered. */
static void nego_start(struct lun_nego *n, struct lun_params *res, struct lun_kvlist *reply,
		       uint8_t hpref)
{
	struct lun_params w;
	struct lun_kvlist out;

	want_defaults(&w);
	w.max_outstanding_r2t = 8;
	w.default_time2retain = 60;
	w.erl = 1;
	w.max_connections = 4;
	lun_nego_init(n, &w, hpref, LUN_DIGEST_PREF_CRC32C, false);
	lun_kvlist_init(&out);
	assert_int_equal(lun_nego_offer(n, &out), 0);
	lun_kvlist_free(&out);
	lun_params_defaults(res);
	lun_kvlist_init(reply);
}

static int recv_lit(struct lun_nego *n, const char *lit, size_t len, struct lun_params *res,
		    struct lun_kvlist *reply, char *err, size_t errlen)
{
	struct lun_kvlist in;
	int rc;

	lun_kvlist_init(&in);
	assert_int_equal(lun_kvlist_parse(&in, (const uint8_t *)lit, len, err, errlen), 0);
	rc = lun_nego_receive(n, &in, res, reply, err, errlen);
	lun_kvlist_free(&in);
	return rc;
}

#define RECV(n, lit, res, reply, err) recv_lit((n), (lit), sizeof(lit) - 1, (res), (reply), \
					       (err), sizeof(err))

static void test_receive_full_answer(void **state)
{
	struct lun_nego n;
	struct lun_params r;
	struct lun_kvlist reply;
	char err[160];

	(void)state;
	nego_start(&n, &r, &reply, LUN_DIGEST_PREF_CRC32C);
	assert_int_equal(RECV(&n, "HeaderDigest=CRC32C\0DataDigest=None\0"
			      "MaxRecvDataSegmentLength=65536\0MaxConnections=1\0"
			      "InitialR2T=Yes\0ImmediateData=Yes\0MaxBurstLength=262144\0"
			      "FirstBurstLength=65536\0DefaultTime2Wait=5\0"
			      "DefaultTime2Retain=0\0MaxOutstandingR2T=1\0DataPDUInOrder=Yes\0"
			      "DataSequenceInOrder=Yes\0ErrorRecoveryLevel=0\0"
			      "TargetPortalGroupTag=7\0TargetAlias=disk one\0",
			      &r, &reply, err), 0);
	assert_int_equal(reply.count, 0);
	assert_true(lun_nego_complete(&n));
	assert_int_equal(r.header_digest, LUN_DIGEST_CRC32C);
	assert_int_equal(r.data_digest, LUN_DIGEST_NONE);
	assert_int_equal(r.max_send_dsl, 65536);
	assert_int_equal(r.max_recv_dsl, 8192); /* untouched: our declaration is the caller's */
	assert_true(r.initial_r2t);
	assert_true(r.immediate_data);
	assert_int_equal(r.max_burst, 262144);
	assert_int_equal(r.first_burst, 65536);
	assert_int_equal(r.default_time2wait, 5);
	assert_int_equal(r.default_time2retain, 0);
	assert_int_equal(r.max_outstanding_r2t, 1);
	assert_int_equal(r.erl, 0);
	assert_int_equal(r.max_connections, 1);
	assert_true(r.tpgt_valid);
	assert_int_equal(r.tpgt, 7);
	assert_string_equal(r.target_alias, "disk one");
	lun_kvlist_free(&reply);
}

static void expect_fail(uint8_t hpref, const char *lit, size_t len, const char *needle)
{
	struct lun_nego n;
	struct lun_params r;
	struct lun_kvlist reply;
	char err[160];

	nego_start(&n, &r, &reply, hpref);
	assert_int_equal(recv_lit(&n, lit, len, &r, &reply, err, sizeof(err)), -1);
	assert_non_null(strstr(err, needle));
	lun_kvlist_free(&reply);
}

#define FAIL(pref, lit, needle) expect_fail((pref), (lit), sizeof(lit) - 1, (needle))

static void test_receive_rule_violations(void **state)
{
	(void)state;
	FAIL(0, "MaxBurstLength=2097152\0", "MaxBurstLength=2097152, above our offer of 1048576");
	FAIL(0, "DefaultTime2Wait=1\0", "DefaultTime2Wait=1, below our offer of 2");
	FAIL(0, "InitialR2T=No\0ImmediateData=No\0DataPDUInOrder=No\0",
	     "DataPDUInOrder=No to our offer of Yes");
	FAIL(0, "HeaderDigest=CRC32C\0", "HeaderDigest=CRC32C, not in our offer \"None\"");
	FAIL(LUN_DIGEST_PREF_CRC32C_ONLY, "HeaderDigest=None\0", "not in our offer \"CRC32C\"");
	FAIL(LUN_DIGEST_PREF_CRC32C_ONLY, "HeaderDigest=Reject\0", "CRC32C is required");
	FAIL(0, "HeaderDigest=CRC32C,None\0", "not in our offer");
	FAIL(0, "ErrorRecoveryLevel=3\0", "outside 0..2");
	FAIL(0, "MaxOutstandingR2T=0\0", "outside 1..65535");
	FAIL(0, "ImmediateData=maybe\0", "not Yes or No");
	FAIL(0, "MaxBurstLength=12ab\0", "MaxBurstLength=12ab");
	FAIL(0, "MaxRecvDataSegmentLength=511\0", "outside 512..16777215");
	FAIL(0, "MaxRecvDataSegmentLength=16777216\0", "MaxRecvDataSegmentLength");
	FAIL(0, "TargetPortalGroupTag=65536\0", "TargetPortalGroupTag");
	FAIL(0, "MaxConnections=1\0MaxConnections=1\0", "MaxConnections twice");
	FAIL(0, "InitiatorAlias=me\0", "only an initiator may send");
}

static void test_immediate_data_and(void **state)
{
	struct lun_params w, r;
	struct lun_nego n;
	struct lun_kvlist out, reply;
	char err[160];

	(void)state;
	want_defaults(&w);
	w.immediate_data = false;
	lun_nego_init(&n, &w, 0, 0, false);
	lun_kvlist_init(&out);
	lun_nego_offer(&n, &out);
	assert_string_equal(lun_kvlist_get(&out, "ImmediateData"), "No");
	lun_params_defaults(&r);
	lun_kvlist_init(&reply);
	assert_int_equal(RECV(&n, "ImmediateData=Yes\0", &r, &reply, err), -1);
	assert_non_null(strstr(err, "ImmediateData=Yes to our offer of No"));
	lun_kvlist_free(&out);
	lun_kvlist_free(&reply);
}

static void test_receive_refusals(void **state)
{
	struct lun_nego n;
	struct lun_params r;
	struct lun_kvlist reply;
	char err[160];

	(void)state;
	nego_start(&n, &r, &reply, LUN_DIGEST_PREF_CRC32C);
	assert_int_equal(RECV(&n, "HeaderDigest=Reject\0DataDigest=NotUnderstood\0"
			      "MaxBurstLength=Irrelevant\0ErrorRecoveryLevel=Reject\0"
			      "MaxRecvDataSegmentLength=Irrelevant\0",
			      &r, &reply, err), 0);
	assert_int_equal(r.header_digest, LUN_DIGEST_NONE);
	assert_int_equal(r.data_digest, LUN_DIGEST_NONE);
	assert_int_equal(r.max_burst, 262144);
	assert_int_equal(r.erl, 0);
	assert_int_equal(r.max_send_dsl, 8192);
	assert_int_equal(reply.count, 0);
	assert_false(lun_nego_complete(&n));
	/* settled keys may not come back in a later response */
	assert_int_equal(RECV(&n, "MaxBurstLength=4096\0", &r, &reply, err), -1);
	assert_non_null(strstr(err, "second time"));
	lun_kvlist_free(&reply);
}

static void test_target_proposals(void **state)
{
	struct lun_params w, r;
	struct lun_nego n;
	struct lun_kvlist reply;
	uint8_t buf[512];
	char err[160];
	static const char want[] =
		"MaxBurstLength=16384\0DefaultTime2Wait=10\0InitialR2T=Yes\0ImmediateData=No\0"
		"IFMarker=No\0OFMarker=No\0HeaderDigest=CRC32C\0DataDigest=Reject\0"
		"MaxOutstandingR2T=Reject\0X-com.example.foo=NotUnderstood\0"
		"X#bar=NotUnderstood\0FancyKey=NotUnderstood\0";

	(void)state;
	want_defaults(&w);
	/* nothing offered: every key below is the target's own proposal */
	lun_nego_init(&n, &w, LUN_DIGEST_PREF_CRC32C, LUN_DIGEST_PREF_CRC32C, false);
	lun_params_defaults(&r);
	lun_kvlist_init(&reply);
	assert_int_equal(RECV(&n, "MaxRecvDataSegmentLength=131072\0MaxBurstLength=16384\0"
			      "DefaultTime2Wait=10\0InitialR2T=Yes\0ImmediateData=No\0"
			      "IFMarker=Yes\0OFMarker=No\0HeaderDigest=CRC32C,None\0"
			      "DataDigest=MD5\0MaxOutstandingR2T=0\0X-com.example.foo=1\0"
			      "X#bar=2\0FancyKey=3\0FancyKey=3\0AuthMethod=CHAP\0CHAP_A=5\0"
			      "TargetName=iqn.x\0TargetAddress=1.2.3.4\0",
			      &r, &reply, err), 0);
	assert_int_equal(lun_kvlist_encode(&reply, buf, sizeof(buf)), sizeof(want) - 1);
	assert_memory_equal(buf, want, sizeof(want) - 1);
	assert_int_equal(r.max_send_dsl, 131072);
	assert_int_equal(r.max_burst, 16384);
	/* FirstBurstLength follows MaxBurstLength down */
	assert_int_equal(r.first_burst, 16384);
	assert_int_equal(r.default_time2wait, 10);
	assert_true(r.initial_r2t);
	assert_false(r.immediate_data);
	assert_int_equal(r.header_digest, LUN_DIGEST_CRC32C);
	assert_int_equal(r.data_digest, LUN_DIGEST_NONE);
	assert_int_equal(r.max_outstanding_r2t, 1);
	/* ours still due, the target's declaration does not replace it */
	lun_kvlist_clear(&reply);
	assert_int_equal(lun_nego_offer(&n, &reply), 0);
	assert_string_equal(lun_kvlist_get(&reply, "MaxRecvDataSegmentLength"), "262144");
	assert_null(lun_kvlist_get(&reply, "MaxBurstLength"));
	assert_non_null(lun_kvlist_get(&reply, "FirstBurstLength"));
	lun_kvlist_free(&reply);
}

static void test_discovery_irrelevant(void **state)
{
	struct lun_params w, r;
	struct lun_nego n;
	struct lun_kvlist out, reply;
	char err[160];

	(void)state;
	want_defaults(&w);
	lun_nego_init(&n, &w, 0, 0, true);
	lun_kvlist_init(&out);
	lun_nego_offer(&n, &out);
	lun_params_defaults(&r);
	lun_kvlist_init(&reply);
	assert_int_equal(RECV(&n, "HeaderDigest=None\0DataDigest=None\0DefaultTime2Wait=2\0"
			      "DefaultTime2Retain=0\0ErrorRecoveryLevel=0\0"
			      "MaxBurstLength=65536\0MaxRecvDataSegmentLength=32768\0",
			      &r, &reply, err), 0);
	assert_int_equal(reply.count, 1);
	assert_string_equal(lun_kvlist_get(&reply, "MaxBurstLength"), "Irrelevant");
	assert_int_equal(r.max_burst, 262144);
	assert_int_equal(r.max_send_dsl, 32768);
	assert_true(lun_nego_complete(&n));
	lun_kvlist_free(&out);
	lun_kvlist_free(&reply);
}

static void test_first_burst_clamp(void **state)
{
	struct lun_nego n;
	struct lun_params r;
	struct lun_kvlist reply;
	char err[160];

	(void)state;
	nego_start(&n, &r, &reply, 0);
	assert_int_equal(RECV(&n, "MaxBurstLength=16384\0FirstBurstLength=262144\0", &r, &reply,
			      err), 0);
	assert_int_equal(r.max_burst, 16384);
	assert_int_equal(r.first_burst, 16384);
	lun_kvlist_free(&reply);
	/* hex numbers are numbers too */
	nego_start(&n, &r, &reply, 0);
	assert_int_equal(RECV(&n, "MaxBurstLength=0x4000\0", &r, &reply, err), 0);
	assert_int_equal(r.max_burst, 16384);
	lun_kvlist_free(&reply);
}

/* ---- TargetAddress ---- */

static void addr_ok(const char *s, const char *host, uint16_t port, int tpgt)
{
	char h[64], err[128];
	uint16_t p, t;
	bool has;

	assert_int_equal(lun_parse_target_address(s, h, sizeof(h), &p, &t, &has, err, sizeof(err)),
			 0);
	assert_string_equal(h, host);
	assert_int_equal(p, port);
	assert_int_equal(has, tpgt >= 0);
	assert_int_equal(t, tpgt >= 0 ? tpgt : 0);
}

static void addr_bad(const char *s)
{
	char h[16], err[128];
	uint16_t p, t;
	bool has;

	assert_int_equal(lun_parse_target_address(s, h, sizeof(h), &p, &t, &has, err, sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "TargetAddress"));
}

static void test_target_address(void **state)
{
	(void)state;
	addr_ok("[fe80::1]:3260,1", "fe80::1", 3260, 1);
	addr_ok("[2001:db8::5]", "2001:db8::5", 3260, -1);
	addr_ok("[fe80::1%eth0]:3261,2", "fe80::1%eth0", 3261, 2);
	addr_ok("10.0.0.1,1", "10.0.0.1", 3260, 1);
	addr_ok("10.0.0.1", "10.0.0.1", 3260, -1);
	addr_ok("host.example:3261", "host.example", 3261, -1);
	addr_ok("127.0.0.1:13260,65535", "127.0.0.1", 13260, 65535);
	addr_bad("host:0");
	addr_bad("host:65536");
	addr_bad("host:");
	addr_bad("host:32a0");
	addr_bad("host:3260,");
	addr_bad("host,65536");
	addr_bad("host,-1");
	addr_bad("");
	addr_bad(":3260");
	addr_bad("[fe80::1");
	addr_bad("[fe80::1]x");
	addr_bad("[]:3260");
	addr_bad("fe80::1");
	addr_bad("bad host");
	addr_bad("a-very-long-host-name.example");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kvlist_build_encode),
		cmocka_unit_test(test_kvlist_parse_ok),
		cmocka_unit_test(test_kvlist_parse_limits),
		cmocka_unit_test(test_kvlist_parse_errors),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_offer_normal),
		cmocka_unit_test(test_offer_discovery_and_clamp),
		cmocka_unit_test(test_receive_full_answer),
		cmocka_unit_test(test_receive_rule_violations),
		cmocka_unit_test(test_immediate_data_and),
		cmocka_unit_test(test_receive_refusals),
		cmocka_unit_test(test_target_proposals),
		cmocka_unit_test(test_discovery_irrelevant),
		cmocka_unit_test(test_first_burst_clamp),
		cmocka_unit_test(test_target_address),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
