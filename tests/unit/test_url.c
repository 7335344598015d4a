/*
 * test_url.c - iscsi:// URLs and portals: the accepted forms, the rejected
 * ones, and that no error message ever carries the secret.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "url.h"

#define TGT "iqn.2001-04.com.example:storage.disk1"

static void test_url_full(void **state)
{
	struct lun_url u;
	char err[256];

	assert_int_equal(lun_url_parse("iscsi://bob%s3cr3t@10.0.0.5:3261/" TGT "/3", &u, err,
				       sizeof(err)),
			 0);
	assert_string_equal(u.host, "10.0.0.5");
	assert_int_equal(u.port, 3261);
	assert_string_equal(u.target, TGT);
	assert_int_equal(u.lun, 3);
	assert_string_equal(u.user, "bob");
	assert_string_equal(u.secret, "s3cr3t");
	assert_true(u.has_secret);
	lun_url_wipe(&u);
	assert_false(u.has_secret);
	assert_memory_equal(u.secret, (char[sizeof(u.secret)]){ 0 }, sizeof(u.secret));
	assert_string_equal(u.user, "bob"); /* only the secret goes */
}

static void test_url_defaults(void **state)
{
	struct lun_url u;

	assert_int_equal(lun_url_parse("iscsi://storage.example.com", &u, NULL, 0), 0);
	assert_string_equal(u.host, "storage.example.com");
	assert_int_equal(u.port, 3260);
	assert_string_equal(u.target, "");
	assert_int_equal(u.lun, -1);
	assert_string_equal(u.user, "");
	assert_false(u.has_secret);
	assert_int_equal(lun_url_parse("iscsi://h/", &u, NULL, 0), 0);
	assert_string_equal(u.target, "");
	assert_int_equal(lun_url_parse("iscsi://h/" TGT, &u, NULL, 0), 0);
	assert_string_equal(u.target, TGT);
	assert_int_equal(u.lun, -1);
	assert_int_equal(lun_url_parse("iscsi://h/" TGT "/", &u, NULL, 0), 0);
	assert_int_equal(u.lun, -1);
	assert_int_equal(lun_url_parse("iscsi://h/" TGT "/0/", &u, NULL, 0), 0);
	assert_int_equal(u.lun, 0);
	assert_int_equal(lun_url_parse("ISCSI://h/" TGT "/16383", &u, NULL, 0), 0);
	assert_int_equal(u.lun, 16383);
}

static void test_url_ipv6(void **state)
{
	struct lun_url u;
	char err[256];

	assert_int_equal(lun_url_parse("iscsi://[::1]:3260/" TGT "/0", &u, err, sizeof(err)), 0);
	assert_string_equal(u.host, "::1");
	assert_int_equal(u.port, 3260);
	assert_int_equal(u.lun, 0);
	assert_int_equal(lun_url_parse("iscsi://[2001:db8::7]/" TGT, &u, NULL, 0), 0);
	assert_string_equal(u.host, "2001:db8::7");
	assert_int_equal(u.port, 3260);
	assert_int_equal(lun_url_parse("iscsi://[fe80::1%25eth0]:860", &u, NULL, 0), 0);
	assert_string_equal(u.host, "fe80::1%eth0");
	assert_int_equal(u.port, 860);
	assert_int_equal(lun_url_parse("iscsi://[::1/" TGT, &u, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "']'"));
	assert_int_equal(lun_url_parse("iscsi://[1.2.3.4]/", &u, NULL, 0), -1);
	assert_int_equal(lun_url_parse("iscsi://[::1]x/", &u, NULL, 0), -1);
	assert_int_equal(lun_url_parse("iscsi://[]/", &u, NULL, 0), -1);
	/* without brackets the second colon makes a bad port */
	assert_int_equal(lun_url_parse("iscsi://::1/", &u, NULL, 0), -1);
}

static void test_url_target_forms(void **state)
{
	struct lun_url u;

	assert_int_equal(lun_url_parse("iscsi://h/eui.02004567A425678D/1", &u, NULL, 0), 0);
	assert_string_equal(u.target, "eui.02004567A425678D");
	assert_int_equal(lun_url_parse("iscsi://h/naa.52004567BA64678D", &u, NULL, 0), 0);
	assert_int_equal(lun_url_parse("iscsi://h/naa.6001405ab7d2b6e8c3a4f1d2e5b6c7d8", &u,
				       NULL, 0),
			 0);
	/* mixed case as Synology names its targets */
	assert_int_equal(lun_url_parse("iscsi://h/iqn.2000-01.com.synology:DS.Target-1.ab", &u,
				       NULL, 0),
			 0);
	/* %XX in the target is decoded, as libiscsi does */
	assert_int_equal(lun_url_parse("iscsi://h/iqn.2000-01.com.example%3Afoo", &u, NULL, 0), 0);
	assert_string_equal(u.target, "iqn.2000-01.com.example:foo");
}

static void test_url_target_rejects(void **state)
{
	struct lun_url u;
	char err[256], name[300];

	assert_int_equal(lun_url_parse("iscsi://h/target1", &u, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "'target1'"));
	assert_string_equal(u.target, "");
	assert_int_equal(lun_url_parse("iscsi://h/iqn.2001-04.com.x:a b/0", &u, err, sizeof(err)),
			 -1);
	assert_int_equal(lun_url_parse("iscsi://h/iqn.2001-04.com.x:a%20b", &u, NULL, 0), -1);
	assert_int_equal(lun_url_parse("iscsi://h/iqn.2001-04.com.x:a_b", &u, NULL, 0), -1);
	assert_int_equal(lun_url_parse("iscsi://h/iqn.", &u, NULL, 0), -1);
	assert_int_equal(lun_url_parse("iscsi://h/eui.02004567A425678", &u, NULL, 0), -1);
	assert_int_equal(lun_url_parse("iscsi://h/eui.02004567A425678G", &u, NULL, 0), -1);
	assert_int_equal(lun_url_parse("iscsi://h/naa.5200456", &u, NULL, 0), -1);
	assert_int_equal(lun_url_parse("iscsi://h/iqn.2000-01.com.x%4", &u, NULL, 0), -1);
	assert_int_equal(lun_url_parse("iscsi://h//0", &u, NULL, 0), -1);
	/* 223 characters fit, 224 do not */
	memset(name, 'a', sizeof(name));
	memcpy(name, "iscsi://h/iqn.", 14);
	name[10 + 223] = '\0';
	assert_int_equal(lun_url_parse(name, &u, NULL, 0), 0);
	assert_int_equal(strlen(u.target), 223);
	name[10 + 223] = 'a';
	name[10 + 224] = '\0';
	assert_int_equal(lun_url_parse(name, &u, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "223"));
}

static void test_url_port_and_lun_rejects(void **state)
{
	struct lun_url u;
	char err[256];

	assert_int_equal(lun_url_parse("iscsi://h:0/", &u, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "port '0'"));
	assert_int_equal(lun_url_parse("iscsi://h:65536/", &u, err, sizeof(err)), -1);
	assert_int_equal(lun_url_parse("iscsi://h:65535/", &u, NULL, 0), 0);
	assert_int_equal(u.port, 65535);
	assert_int_equal(lun_url_parse("iscsi://h:/", &u, NULL, 0), -1);
	assert_int_equal(lun_url_parse("iscsi://h:+80/", &u, NULL, 0), -1);
	assert_int_equal(lun_url_parse("iscsi://h:3260x", &u, NULL, 0), -1);
	assert_int_equal(lun_url_parse("iscsi://h/" TGT "/16384", &u, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "LUN '16384'"));
	assert_int_equal(lun_url_parse("iscsi://h/" TGT "/-1", &u, NULL, 0), -1);
	assert_int_equal(lun_url_parse("iscsi://h/" TGT "/1x", &u, NULL, 0), -1);
	assert_int_equal(lun_url_parse("iscsi://h/" TGT "/", &u, NULL, 0), 0);
	assert_int_equal(lun_url_parse("iscsi://h/" TGT "/1/2", &u, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/2"));
	assert_int_equal(u.lun, -1); /* nothing half-filled on failure */
	assert_string_equal(u.target, "");
}

static void test_url_host_rejects(void **state)
{
	struct lun_url u;
	char err[256];

	assert_int_equal(lun_url_parse("http://h/", &u, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "iscsi://"));
	assert_int_equal(lun_url_parse("iscsi://", &u, NULL, 0), -1);
	assert_int_equal(lun_url_parse("iscsi:///" TGT, &u, NULL, 0), -1);
	assert_int_equal(lun_url_parse("iscsi://bad host/", &u, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "'bad host'"));
	assert_int_equal(lun_url_parse("iscsi://-h/", &u, NULL, 0), -1);
	assert_int_equal(lun_url_parse("iscsi://h/" TGT "?header_digest=crc32c", &u, NULL, 0), -1);
	assert_int_equal(lun_url_parse(NULL, &u, NULL, 0), -1);
}

static void test_url_users(void **state)
{
	struct lun_url u;
	char err[256];

	assert_int_equal(lun_url_parse("iscsi://alice@h/" TGT "/1", &u, NULL, 0), 0);
	assert_string_equal(u.user, "alice");
	assert_false(u.has_secret);
	/* The secret may hold '%', '@', '/' and ':'; the last '@' ends it. */
	assert_int_equal(lun_url_parse("iscsi://bob%p%a@s/s:w@h:3260/" TGT, &u, NULL, 0), 0);
	assert_string_equal(u.user, "bob");
	assert_string_equal(u.secret, "p%a@s/s:w");
	assert_string_equal(u.host, "h");
	/* libiscsi's fallback separator */
	assert_int_equal(lun_url_parse("iscsi://bob:pw@h/", &u, NULL, 0), 0);
	assert_string_equal(u.user, "bob");
	assert_string_equal(u.secret, "pw");
	/* an IQN-shaped user with a '%' secret keeps its colons */
	assert_int_equal(lun_url_parse("iscsi://iqn.1994-05.com.redhat:ab%pw@h/", &u, NULL, 0), 0);
	assert_string_equal(u.user, "iqn.1994-05.com.redhat:ab");
	assert_int_equal(lun_url_parse("iscsi://@h/", &u, err, sizeof(err)), -1);
	assert_int_equal(lun_url_parse("iscsi://%pw@h/", &u, err, sizeof(err)), -1);
	assert_int_equal(lun_url_parse("iscsi://bob%@h/", &u, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "'bob'"));
}

/* The point of the exercise: whatever goes wrong, the secret stays out of
 * the message and out of the struct. */
static void test_url_errors_hide_secret(void **state)
{
	static const char *const bad[] = {
		"iscsi://bob%Sup3rS3cret@h:99999/" TGT "/0",
		"iscsi://bob%Sup3rS3cret@bad host/" TGT,
		"iscsi://bob%Sup3rS3cret@h/notaname",
		"iscsi://bob%Sup3rS3cret@h/" TGT "/77777",
		"iscsi://bob%Sup3rS3cret@h/" TGT "/1/extra",
		"iscsi://bob%Sup3rS3cret@[::zz]/",
		"iscsi://bob%Sup3rS3cret@h/" TGT "?x=1",
		"iscsi://bob%Sup3rS3cret@/",
		"iscsi:/bob%Sup3rS3cret@h/",
		"iscsi://bo/b%Sup3rS3cret@h/",
		"iscsi://bob:Sup3rS3cret@h:x/",
	};
	struct lun_url u;
	char err[512];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(err, 0, sizeof(err));
		assert_int_equal(lun_url_parse(bad[i], &u, err, sizeof(err)), -1);
		assert_true(strlen(err) > 10);
		assert_null(strstr(err, "Sup3rS3cret"));
		assert_null(strstr(u.secret, "Sup3rS3cret"));
		assert_false(u.has_secret);
	}
}

static void test_portal(void **state)
{
	char host[256];
	uint16_t port;

	assert_int_equal(lun_portal_parse("10.1.2.3", host, sizeof(host), &port, 3260, NULL, 0),
			 0);
	assert_string_equal(host, "10.1.2.3");
	assert_int_equal(port, 3260);
	assert_int_equal(lun_portal_parse("san.local:3261", host, sizeof(host), &port, 3260, NULL,
					  0),
			 0);
	assert_string_equal(host, "san.local");
	assert_int_equal(port, 3261);
	assert_int_equal(lun_portal_parse("[::1]:3260", host, sizeof(host), &port, 860, NULL, 0),
			 0);
	assert_string_equal(host, "::1");
	assert_int_equal(port, 3260);
	assert_int_equal(lun_portal_parse("[fd00::2]", host, sizeof(host), &port, 860, NULL, 0), 0);
	assert_string_equal(host, "fd00::2");
	assert_int_equal(port, 860);
	/* a bare IPv6 address cannot carry a port, so it takes the default */
	assert_int_equal(lun_portal_parse("fd00::2", host, sizeof(host), &port, 3260, NULL, 0), 0);
	assert_string_equal(host, "fd00::2");
	assert_int_equal(port, 3260);
}

static void test_portal_rejects(void **state)
{
	char host[16], err[256];
	uint16_t port;

	assert_int_equal(lun_portal_parse("", host, sizeof(host), &port, 3260, err, sizeof(err)),
			 -1);
	assert_int_equal(lun_portal_parse("h:0", host, sizeof(host), &port, 3260, err, sizeof(err)),
			 -1);
	assert_int_equal(port, 3260);
	assert_string_equal(host, "");
	assert_int_equal(lun_portal_parse(":3260", host, sizeof(host), &port, 3260, NULL, 0), -1);
	assert_int_equal(lun_portal_parse("[::1]3260", host, sizeof(host), &port, 3260, NULL, 0),
			 -1);
	assert_int_equal(lun_portal_parse("a::b::c", host, sizeof(host), &port, 3260, err,
					  sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "[addr]:port"));
	/* does not fit the 16-byte host buffer */
	assert_int_equal(lun_portal_parse("very-long-host-name.example", host, sizeof(host), &port,
					  3260, err, sizeof(err)),
			 -1);
	assert_int_equal(lun_portal_parse("[2001:db8:1:2:3:4:5:6]", host, sizeof(host), &port,
					  3260, NULL, 0),
			 -1);
	assert_int_equal(lun_portal_parse("h:3260,1", host, sizeof(host), &port, 3260, NULL, 0),
			 -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_url_full),
		cmocka_unit_test(test_url_defaults),
		cmocka_unit_test(test_url_ipv6),
		cmocka_unit_test(test_url_target_forms),
		cmocka_unit_test(test_url_target_rejects),
		cmocka_unit_test(test_url_port_and_lun_rejects),
		cmocka_unit_test(test_url_host_rejects),
		cmocka_unit_test(test_url_users),
		cmocka_unit_test(test_url_errors_hide_secret),
		cmocka_unit_test(test_portal),
		cmocka_unit_test(test_portal_rejects),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
