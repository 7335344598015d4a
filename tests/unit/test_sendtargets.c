/*
 * test_sendtargets.c - SendTargets=All response parsing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sendtargets.h"

#define ST(lit, out, err) lun_sendtargets_parse((const uint8_t *)(lit), sizeof(lit) - 1, (out), \
						(err), sizeof(err))

static void check_portal(const struct lun_st_portal *p, const char *host, uint16_t port,
			 uint16_t tpgt)
{
	assert_string_equal(p->host, host);
	assert_int_equal(p->port, port);
	assert_int_equal(p->tpgt, tpgt);
}

/* The exact bytes tgtd sends for one target on a test port. */
static void test_tgtd_single(void **state)
{
	struct lun_st_list l;
	char err[160];

	(void)state;
	assert_int_equal(ST("TargetName=iqn.2024-01.test.lunaris:t1\0"
			    "TargetAddress=127.0.0.1:13260,1\0", &l, err), 0);
	assert_int_equal(l.count, 1);
	assert_string_equal(l.targets[0].name, "iqn.2024-01.test.lunaris:t1");
	assert_int_equal(l.targets[0].nportals, 1);
	check_portal(&l.targets[0].portals[0], "127.0.0.1", 13260, 1);
	lun_st_list_free(&l);
	assert_int_equal(l.count, 0);
	assert_null(l.targets);
}

static void test_multi_target(void **state)
{
	struct lun_st_list l;
	char err[160];

	(void)state;
	assert_int_equal(ST("TargetName=iqn.2003-01.org.linux-iscsi.host:sn.1234\0"
			    "TargetAddress=192.168.1.10:3260,1\0"
			    "TargetAddress=[2001:db8::10]:3260,1\0"
			    "TargetAddress=10.0.0.10:3261,2\0"
			    "TargetName=eui.02004567A425678D\0"
			    "TargetName=iqn.2024-01.example:backup\0"
			    "TargetAddress=[fe80::1%eth0],3\0"
			    "TargetAddress=san.example.com,4\0"
			    "\0\0", /* padding to the 4-byte boundary */
			    &l, err), 0);
	assert_int_equal(l.count, 3);
	assert_string_equal(l.targets[0].name, "iqn.2003-01.org.linux-iscsi.host:sn.1234");
	assert_int_equal(l.targets[0].nportals, 3);
	check_portal(&l.targets[0].portals[0], "192.168.1.10", 3260, 1);
	check_portal(&l.targets[0].portals[1], "2001:db8::10", 3260, 1);
	check_portal(&l.targets[0].portals[2], "10.0.0.10", 3261, 2);
	/* served by the discovery portal itself */
	assert_string_equal(l.targets[1].name, "eui.02004567A425678D");
	assert_int_equal(l.targets[1].nportals, 0);
	assert_null(l.targets[1].portals);
	assert_int_equal(l.targets[2].nportals, 2);
	check_portal(&l.targets[2].portals[0], "fe80::1%eth0", 3260, 3);
	check_portal(&l.targets[2].portals[1], "san.example.com", 3260, 4);
	lun_st_list_free(&l);
}

static void test_empty_and_repeated(void **state)
{
	struct lun_st_list l;
	char err[160];

	(void)state;
	assert_int_equal(lun_sendtargets_parse(NULL, 0, &l, err, sizeof(err)), 0);
	assert_int_equal(l.count, 0);
	lun_st_list_free(&l);
	/* a name listed twice is one target with the portals of both */
	assert_int_equal(ST("TargetName=iqn.a:x\0TargetAddress=1.1.1.1,1\0"
			    "TargetName=iqn.b:y\0"
			    "TargetName=iqn.a:x\0TargetAddress=2.2.2.2,2\0", &l, err), 0);
	assert_int_equal(l.count, 2);
	assert_int_equal(l.targets[0].nportals, 2);
	check_portal(&l.targets[0].portals[1], "2.2.2.2", 3260, 2);
	lun_st_list_free(&l);
}

static void expect_error(const char *data, size_t len, const char *needle)
{
	struct lun_st_list l = { 5, (struct lun_st_target *)&l };
	char err[160];

	assert_int_equal(lun_sendtargets_parse((const uint8_t *)data, len, &l, err, sizeof(err)),
			 -1);
	assert_int_equal(l.count, 0);
	assert_null(l.targets);
	assert_non_null(strstr(err, needle));
}

#define BAD(lit, needle) expect_error((lit), sizeof(lit) - 1, (needle))

static void test_errors(void **state)
{
	char big[300];
	int n;

	(void)state;
	BAD("TargetAddress=1.2.3.4:3260,1\0TargetName=iqn.a:x\0", "before any TargetName");
	BAD("TargetName=iqn.a:x\0TargetAddress=1.2.3.4:3260\0", "no portal group tag");
	BAD("TargetName=iqn.a:x\0TargetAddress=1.2.3.4:99999,1\0", "TargetAddress");
	BAD("TargetName=iqn.a:x\0TargetAddress=[::1:3260,1\0", "TargetAddress");
	BAD("TargetName=\0", "TargetName of 0 bytes");
	BAD("TargetName=iqn.a:x\0TargetAlias=disk\0", "unexpected key TargetAlias=disk");
	BAD("SendTargets=Reject\0", "SendTargets=Reject");
	BAD("TargetName=iqn.a:x\0TargetAddress=1.2.3.4,1", "NUL");
	BAD("TargetName=iqn.a:x\0garbage\0", "no '='");
	/* the first target was complete; the error still leaves the list empty */
	BAD("TargetName=iqn.a:x\0TargetAddress=1.1.1.1,1\0TargetName=iqn.b:y\0"
	    "TargetAddress=host name,1\0", "TargetAddress");
	/* 224-byte name: one over the iSCSI limit */
	n = snprintf(big, sizeof(big), "TargetName=iqn.2024-01.x:%0210d", 0);
	assert_int_equal(n, 11 + 224);
	expect_error(big, (size_t)n + 1, "TargetName of 224 bytes (must be 1..223)");
}

static void test_longest_name(void **state)
{
	struct lun_st_list l;
	char big[300], err[160];
	int n;

	(void)state;
	n = snprintf(big, sizeof(big), "TargetName=iqn.2024-01.x:%0209d", 7);
	assert_int_equal(lun_sendtargets_parse((const uint8_t *)big, (size_t)n + 1, &l, err,
					       sizeof(err)), 0);
	assert_int_equal(strlen(l.targets[0].name), 223);
	assert_string_equal(l.targets[0].name, big + 11);
	lun_st_list_free(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tgtd_single),
		cmocka_unit_test(test_multi_target),
		cmocka_unit_test(test_empty_and_repeated),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_longest_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
