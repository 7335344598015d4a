/*
 * test_names.c - iSCSI names (RFC 3720 3.2.6): the accepted forms, the
 * rejected ones, and that each rejection says what is wrong.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "names.h"

static void accept(const char *s)
{
	char err[256] = "";

	if (!lun_iscsi_name_valid(s, err, sizeof(err)))
		fail_msg("rejected '%s': %s", s, err);
}

/* Rejected, and the message contains `want`. */
static void reject(const char *s, const char *want)
{
	char err[256] = "";

	if (lun_iscsi_name_valid(s, err, sizeof(err)))
		fail_msg("accepted '%s'", s);
	if (!strstr(err, want))
		fail_msg("'%s': message '%s' lacks '%s'", s, err, want);
}

static void test_iqn_valid(void **state)
{
	accept("iqn.2001-04.com.example:storage.disk1");
	accept("iqn.2001-04.com.example");
	accept("iqn.1991-05.com.microsoft:host-1.corp.example.com");
	accept("iqn.2003-01.org.linux-iscsi.host.x8664:sn.abcdef012345");
	accept("iqn.2000-01.com.synology:DS.Target-1.ab"); /* case is folded, not refused */
	accept("iqn.2001-04.com.example:a:b:c");
	accept("iqn.2001-04.com.example:");
	accept("iqn.2001-04.com.example:st\xc3\xb6rage"); /* non-ASCII is allowed */
	accept("IQN.2001-04.com.example:x");
	accept("iqn.2001-12.x");
}

static void test_iqn_invalid(void **state)
{
	reject("", "empty");
	reject(NULL, "empty");
	reject("iqn.x:y", "date");
	reject("iqn.2001-4.com.example:x", "date");
	reject("iqn.200104.com.example:x", "date");
	reject("iqn.2001-04com.example:x", "date");
	reject("iqn.2001-13.com.example:x", "month 13");
	reject("iqn.2001-00.com.example:x", "month 00");
	reject("iqn.2001-04.:x", "reversed domain");
	reject("iqn.2001-04.", "reversed domain");
	reject("iqn.2001-04.com..example:x", "empty label");
	reject("iqn.2001-04.com.example.:x", "empty label");
	reject("iqn.2001-04.com.-example:x", "'-'");
	reject("iqn.2001-04.com.example-:x", "'-'");
	reject("iqn.2001-04.com.ex\xc3\xa4mple:x", "only letters");
	reject("iqn.2001-04.com.example:disk_1", "'_' is not allowed");
	reject("iqn.2001-04.com.example:disk,1", "',' is not allowed");
	reject("iqn.2001-04.com.example:disk 1", "space");
	reject("iqn.2001-04.com.example:disk\t1", "control");
	reject("iqn.2001-04.com.example:x\xc2\x85", "control"); /* C1 NEL */
	reject("iqn.2001-04.com.example:\xc3", "UTF-8");
	reject("iqn.2001-04.com.example:\xc0\xaf", "UTF-8"); /* overlong '/' */
	reject("iqn.2001-04.com.example:\xed\xa0\x80", "UTF-8"); /* surrogate */
	reject("iqn.2001-04.com.example:\xf4\x90\x80\x80", "UTF-8"); /* > U+10FFFF */
	reject("target1", "must start with iqn., eui. or naa.");
	reject("iqn:2001-04.com.example", "must start with");
}

static void test_length(void **state)
{
	char s[300];
	size_t base = strlen("iqn.2001-04.com.example:");

	memcpy(s, "iqn.2001-04.com.example:", base);
	memset(s + base, 'a', LUN_ISCSI_NAME_MAX - base);
	s[LUN_ISCSI_NAME_MAX] = '\0';
	accept(s);
	s[LUN_ISCSI_NAME_MAX] = 'a';
	s[LUN_ISCSI_NAME_MAX + 1] = '\0';
	reject(s, "224 bytes");
}

static void test_eui_naa(void **state)
{
	accept("eui.02004567A425678D");
	accept("eui.02004567a425678d");
	accept("naa.52004567BA64678D");
	accept("naa.6001405ab7d2b6e8c3a4f1d2e5b6c7d8");
	reject("eui.02004567A425678", "exactly 16");
	reject("eui.02004567A425678DA", "exactly 16");
	reject("eui.02004567A425678G", "hex digits only");
	reject("eui.", "exactly 16");
	reject("naa.52004567BA64678", "16 or 32");
	reject("naa.52004567BA64678D52004567BA64678", "16 or 32");
	reject("naa.52004567BA64678D:x", "hex digits only");
}

static void test_err_optional(void **state)
{
	assert_true(lun_iscsi_name_valid("eui.02004567A425678D", NULL, 0));
	assert_false(lun_iscsi_name_valid("bogus", NULL, 0));
}

static void test_text_value(void **state)
{
	assert_true(lun_text_value_valid("", 255));
	assert_true(lun_text_value_valid("rack 4 host \xc3\xa9", 255));
	assert_false(lun_text_value_valid("a\nb", 255));
	assert_false(lun_text_value_valid("a\x7f", 255));
	assert_false(lun_text_value_valid("\xff", 255));
	assert_true(lun_text_value_valid("abc", 3));
	assert_false(lun_text_value_valid("abcd", 3));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_iqn_valid),   cmocka_unit_test(test_iqn_invalid),
		cmocka_unit_test(test_length),	    cmocka_unit_test(test_eui_naa),
		cmocka_unit_test(test_err_optional), cmocka_unit_test(test_text_value),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
