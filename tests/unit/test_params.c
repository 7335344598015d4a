/*
 * test_params.c - daemon/params.c: the lookup order of lund_param (target,
 * then initiator node, then default), which keys may come from which scope,
 * case-insensitive target names, the tunables (numbers and on|off, the
 * daemon-wide ones), and target-param requests: validation, one transaction,
 * listing, removal, and the RFC 7143 12.1.3 secret rules.
 *
 * params.c is compiled into this test (its helpers are static); lund_log is
 * stubbed and records the last line, so that the test can say that no log
 * line holds a secret.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../daemon/params.c"

static char last_log[1024];
static unsigned n_logs;

void lund_log(int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_log, sizeof(last_log), fmt, ap);
	va_end(ap);
	n_logs++;
	(void)prio;
}

#define T1 "iqn.2024-01.test.params:t1"
#define SECRET_T "target-secret-0123"
#define SECRET_I "initiator-secret-4567"

struct fix {
	char dir[64], db[128];
	struct lund d;
};

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));
	char err[256];

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/lunparams.XXXXXX");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	snprintf(f->db, sizeof(f->db), "%s/lunaris.db", f->dir);
	f->d.store = lun_store_open(f->db, err, sizeof(err));
	if (!f->d.store) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;
	char cmd[128];

	lun_store_close(f->d.store);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", f->dir);
	free(f);
	return 0;
}

static void set(struct fix *f, const char *scope, const char *key, const char *value)
{
	char err[256];

	assert_int_equal(lun_store_set(f->d.store, scope, key, value, err, sizeof(err)), 0);
}

/* One request to the target-param handler; returns the reply code. */
static int request(struct fix *f, const char *op, const char *args_json, struct lund_reply *rep)
{
	/* JSON_ALLOW_NUL: the control socket refuses "\u0000", params.c must
	 * not rely on that. */
	json_t *args = args_json ? json_loads(args_json, JSON_ALLOW_NUL, NULL) : NULL;

	memset(rep, 0, sizeof(*rep));
	if (args_json)
		assert_non_null(args);
	lund_target_param(&f->d, op, args, rep);
	json_decref(args);
	if (rep->code != LUND_OK)
		assert_true(rep->err[0] != '\0');
	return rep->code;
}

static void expect_param(struct fix *f, const char *target, const char *key, const char *want)
{
	char buf[256];
	const char *got = lund_param(&f->d, target, key, buf, sizeof(buf));

	if (!want)
		assert_null(got);
	else if (!got)
		fail_msg("lund_param(%s, %s) is NULL, expected %s", target ? target : "NULL", key,
			 want);
	else
		assert_string_equal(got, want);
}

static void test_defaults(void **state)
{
	struct fix *f = *state;
	char node[224];

	lunaris_default_initiator_name(node, sizeof(node));
	expect_param(f, T1, "header-digest", "none");
	expect_param(f, T1, "data-digest", "none");
	expect_param(f, T1, "authentication", "none");
	expect_param(f, T1, "bidir-auth", "disabled");
	expect_param(f, T1, "configured-sessions", "1");
	expect_param(f, T1, "chap-name", node);
	expect_param(f, T1, "chap-secret", NULL);
	expect_param(f, T1, "target-chap-name", T1);
	expect_param(f, NULL, "target-chap-name", NULL);
	expect_param(f, T1, "target-chap-secret", NULL);
	expect_param(f, T1, "tunable.noop-interval", "5");
	expect_param(f, T1, "tunable.discovery-min-interval", "10");
	expect_param(f, NULL, "tunable.storm-protection", "on");
	expect_param(f, T1, "no-such-key", NULL);
	expect_param(f, T1, "tunable.no-such", NULL);
	assert_int_equal(lund_tunable(&f->d, NULL, "replacement-timeout"), 120);
	assert_int_equal(lund_tunable(&f->d, T1, "discovery-min-interval"), 10);
	assert_true(lund_storm_protection(&f->d));
	assert_int_equal(lund_tunable(&f->d, T1, "no-such"), 0);
	assert_non_null(strstr(last_log, "no tunable 'no-such'"));
}

static void test_lookup_order(void **state)
{
	struct fix *f = *state;
	char small[3];

	set(f, "", "authentication", "chap");
	set(f, "", "header-digest", "crc32c");
	set(f, "", "node-name", "iqn.2024-01.test.params:me");
	set(f, "", "tunable.noop-interval", "7");
	set(f, "", "chap-secret", SECRET_I);
	/* the target inherits what it does not set */
	expect_param(f, T1, "authentication", "chap");
	expect_param(f, T1, "chap-name", "iqn.2024-01.test.params:me");
	expect_param(f, T1, "chap-secret", SECRET_I);
	assert_int_equal(lund_tunable(&f->d, T1, "noop-interval"), 7);

	set(f, T1, "authentication", "none");
	set(f, T1, "tunable.noop-interval", "9");
	set(f, T1, "target-chap-secret", SECRET_T);
	expect_param(f, T1, "authentication", "none");
	expect_param(f, T1, "header-digest", "crc32c");
	assert_int_equal(lund_tunable(&f->d, T1, "noop-interval"), 9);
	assert_int_equal(lund_tunable(&f->d, NULL, "noop-interval"), 7);
	/* names compare case-insensitively */
	expect_param(f, "IQN.2024-01.Test.Params:T1", "authentication", "none");
	expect_param(f, "IQN.2024-01.Test.Params:T1", "target-chap-secret", SECRET_T);

	/* The initiator's secret never comes from a target scope, a target's
	 * never from the node's, and the daemon-wide tunables ignore a target
	 * scope even when the store holds one there (edited by hand). */
	set(f, T1, "chap-secret", "planted-in-target");
	set(f, T1, "chap-name", "planted-name");
	set(f, "", "target-chap-secret", "planted-in-node");
	set(f, T1, "tunable.storm-protection", "off");
	expect_param(f, T1, "chap-secret", SECRET_I);
	expect_param(f, T1, "chap-name", "iqn.2024-01.test.params:me");
	expect_param(f, "iqn.2024-01.test.params:other", "target-chap-secret", NULL);
	assert_true(lund_storm_protection(&f->d));
	expect_param(f, T1, "tunable.storm-protection", "on");
	set(f, "", "tunable.storm-protection", "off");
	assert_false(lund_storm_protection(&f->d));

	/* a stored value that is no value of the tunable is skipped */
	set(f, T1, "tunable.noop-interval", "99999");
	assert_int_equal(lund_tunable(&f->d, T1, "noop-interval"), 7);
	set(f, "", "tunable.noop-interval", "x");
	assert_int_equal(lund_tunable(&f->d, T1, "noop-interval"), 5);

	/* too small a buffer is NULL, not a cut value */
	assert_null(lund_param(&f->d, T1, "authentication", small, sizeof(small)));
	assert_null(lund_param(&f->d, T1, "target-chap-secret", small, sizeof(small)));
	assert_null(strstr(last_log, SECRET_T));
}

static void test_modify_list_remove(void **state)
{
	struct fix *f = *state;
	struct lund_reply rep;
	const json_t *e, *t;
	char *txt;

	assert_int_equal(request(f, "modify",
				 "{\"target\": \"IQN.2024-01.Test.Params:T1\", \"header-digest\": "
				 "\"crc32c\", \"authentication\": \"chap\", \"bidir-auth\": true, "
				 "\"target-chap-name\": \"tname\", \"target-chap-secret\": \"" SECRET_T
				 "\", \"configured-sessions\": 2, \"tunables\": {\"login-timeout\": 9}}",
				 &rep),
			 LUND_OK);
	assert_string_equal(rep.warning, "");
	assert_null(strstr(last_log, SECRET_T));
	expect_param(f, T1, "bidir-auth", "enabled");
	expect_param(f, T1, "target-chap-name", "tname");
	expect_param(f, T1, "target-chap-secret", SECRET_T);
	expect_param(f, T1, "configured-sessions", "2");
	assert_int_equal(lund_tunable(&f->d, T1, "login-timeout"), 9);

	assert_int_equal(request(f, "list", NULL, &rep), LUND_OK);
	assert_int_equal(json_array_size(rep.result), 1);
	e = json_array_get(rep.result, 0);
	assert_string_equal(json_string_value(json_object_get(e, "target")), T1);
	assert_true(json_is_null(json_object_get(e, "alias")));
	t = json_object_get(e, "authentication");
	assert_string_equal(json_string_value(json_object_get(t, "default")), "none");
	assert_string_equal(json_string_value(json_object_get(t, "configured")), "chap");
	assert_true(json_is_true(json_object_get(json_object_get(e, "bidir-auth"), "configured")));
	assert_true(json_is_true(json_object_get(e, "target-chap-secret-set")));
	assert_true(json_is_null(
		json_object_get(json_object_get(e, "data-digest"), "configured")));
	t = json_object_get(json_object_get(e, "tunables"), "login-timeout");
	assert_int_equal(json_integer_value(json_object_get(t, "default")), 30);
	assert_int_equal(json_integer_value(json_object_get(t, "configured")), 9);
	/* the daemon-wide tunables are not a target's */
	assert_null(json_object_get(json_object_get(e, "tunables"), "storm-protection"));
	assert_int_equal(json_integer_value(json_object_get(
				 json_object_get(e, "configured-sessions"), "configured")),
			 2);
	txt = json_dumps(rep.result, 0);
	assert_null(strstr(txt, SECRET_T));
	free(txt);
	json_decref(rep.result);

	/* defaults in a listing are what the target inherits */
	set(f, "", "data-digest", "crc32c");
	set(f, "", "tunable.login-timeout", "40");
	assert_int_equal(request(f, "list", NULL, &rep), LUND_OK);
	e = json_array_get(rep.result, 0);
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(e, "data-digest"), "default")),
			    "crc32c");
	t = json_object_get(json_object_get(e, "tunables"), "login-timeout");
	assert_int_equal(json_integer_value(json_object_get(t, "default")), 40);
	json_decref(rep.result);

	/* bidir without CHAP or without the target's secret: warned, done */
	assert_int_equal(request(f, "modify",
				 "{\"target\": \"eui.0123456789ABCDEF\", \"bidir-auth\": true}", &rep),
			 LUND_OK);
	assert_non_null(strstr(rep.warning, "needs CHAP authentication"));
	assert_non_null(strstr(rep.warning, "needs the target's CHAP secret"));
	expect_param(f, "eui.0123456789abcdef", "bidir-auth", "enabled");

	assert_int_equal(request(f, "remove", "{\"target\": \"" T1 "\"}", &rep), LUND_OK);
	expect_param(f, T1, "target-chap-secret", NULL);
	expect_param(f, T1, "authentication", "none");
	assert_int_equal(request(f, "remove", "{\"target\": \"" T1 "\"}", &rep), LUND_ECONFLICT);
	assert_string_equal(rep.err, "target-param " T1 " is not configured");
	assert_int_equal(request(f, "list", NULL, &rep), LUND_OK);
	assert_int_equal(json_array_size(rep.result), 1);
	json_decref(rep.result);
}

static void test_bad_requests(void **state)
{
	struct fix *f = *state;
	struct lund_reply rep;
	static const struct {
		const char *op, *args, *err;
	} bad[] = {
		{ "add", "{\"target\": \"" T1 "\"}", "'add target-param' is not a known command" },
		{ "modify", NULL, "modify target-param needs {\"target\": iSCSI name}" },
		{ "modify", "{\"target\": 5}", "needs {\"target\"" },
		{ "modify", "{\"target\": \"iqn.2024-01.x\\u0000:y\", \"data-digest\": \"none\"}",
		  "needs {\"target\"" },
		{ "modify", "{\"target\": \"not-a-name\", \"data-digest\": \"none\"}",
		  "must start with iqn., eui. or naa." },
		{ "modify", "{\"target\": \"iqn.2024-13.x:y\", \"data-digest\": \"none\"}", "month" },
		{ "modify", "{\"target\": \"iqn.2024-01.x:\\u00e9\", \"data-digest\": \"none\"}",
		  "non-ASCII" },
		{ "modify", "{\"target\": \"" T1 "\"}", "needs at least one setting" },
		{ "modify", "{\"target\": \"" T1 "\", \"tunables\": {}}", "needs at least one" },
		{ "modify", "{\"target\": \"" T1 "\", \"header-digest\": \"crc32\"}",
		  "header-digest must be none or crc32c" },
		{ "modify", "{\"target\": \"" T1 "\", \"authentication\": \"CHAP\"}",
		  "authentication must be chap or none" },
		{ "modify", "{\"target\": \"" T1 "\", \"bidir-auth\": \"yes\"}",
		  "bidir-auth must be true or false" },
		{ "modify", "{\"target\": \"" T1 "\", \"configured-sessions\": 5}",
		  "configured-sessions must be 1 to 4" },
		{ "modify", "{\"target\": \"" T1 "\", \"target-chap-name\": \"a\\u0007b\"}",
		  "target-chap-name must be 1 to 255 bytes" },
		{ "modify", "{\"target\": \"" T1 "\", \"target-chap-secret\": \"\"}",
		  "target-chap-secret must be a string of 1 to 255" },
		{ "modify", "{\"target\": \"" T1 "\", \"target-chap-secret\": \"ab\\u0000cdefghijklm\"}",
		  "without NUL bytes" },
		{ "modify", "{\"target\": \"" T1 "\", \"chap-secret\": \"x\"}",
		  "chap-secret is the initiator's own CHAP identity" },
		{ "modify", "{\"target\": \"" T1 "\", \"chap-name\": \"x\"}",
		  "chap-name is the initiator's own CHAP identity" },
		{ "modify", "{\"target\": \"" T1 "\", \"alias\": \"x\"}",
		  "unknown target-param setting 'alias'" },
		{ "modify", "{\"target\": \"" T1 "\", \"tunables\": {\"storm-protection\": \"off\"}}",
		  "applies to the initiator node only" },
		{ "modify",
		  "{\"target\": \"" T1 "\", \"tunables\": {\"discovery-min-interval\": 5}}",
		  "applies to the initiator node only" },
		{ "modify", "{\"target\": \"" T1 "\", \"tunables\": {\"noop-interval\": 3601}}",
		  "tunable 'noop-interval' must be whole seconds from 0 to 3600" },
		{ "modify", "{\"target\": \"" T1 "\", \"tunables\": {\"bogus\": 1}}",
		  "unknown tunable 'bogus'" },
		{ "modify", "{\"target\": \"" T1 "\", \"tunables\": 3}", "tunables must be an object" },
		{ "remove", "{\"target\": \"" T1 "\", \"x\": 1}", "takes only {target}" },
	};
	char **scopes;
	json_t *s;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (request(f, bad[i].op, bad[i].args, &rep) != LUND_EBADREQ)
			fail_msg("%s %s: code %d (%s)", bad[i].op, bad[i].args ? bad[i].args : "",
				 rep.code, rep.err);
		if (!strstr(rep.err, bad[i].err))
			fail_msg("%s %s: error '%s', expected '%s'", bad[i].op,
				 bad[i].args ? bad[i].args : "", rep.err, bad[i].err);
		s = json_string(rep.err); /* the reply is JSON: the error must be UTF-8 */
		assert_non_null(s);
		json_decref(s);
	}
	/* nothing reached the store: a bad setting after good ones changes nothing */
	assert_int_equal(request(f, "modify",
				 "{\"target\": \"" T1 "\", \"data-digest\": \"crc32c\", "
				 "\"configured-sessions\": 9}",
				 &rep),
			 LUND_EBADREQ);
	assert_int_equal(lun_store_list_scopes(f->d.store, &scopes, rep.err, sizeof(rep.err)), 0);
}

/* A long multi-byte key is quoted cut at a character boundary (the reply is
 * JSON; a cut character would make it unencodable). */
static void test_quote_utf8(void **state)
{
	struct fix *f = *state;
	struct lund_reply rep;
	char args[512] = "{\"target\": \"" T1 "\", \"a";
	json_t *s;

	for (int i = 0; i < 40; i++)
		strcat(args, "\xc3\xa9");
	strcat(args, "x\": 1}");
	assert_int_equal(request(f, "modify", args, &rep), LUND_EBADREQ);
	assert_non_null(strstr(rep.err, "...'"));
	s = json_string(rep.err);
	assert_non_null(s);
	json_decref(s);
}

static void test_secret_rules(void **state)
{
	struct fix *f = *state;
	struct lund_reply rep;

	set(f, "", "chap-secret", SECRET_I);
	/* RFC 7143 12.1.3: not the initiator's own secret, both ways */
	assert_int_equal(request(f, "modify",
				 "{\"target\": \"" T1 "\", \"target-chap-secret\": \"" SECRET_I "\"}",
				 &rep),
			 LUND_EBADREQ);
	assert_non_null(strstr(rep.err, "must differ from the initiator's"));
	assert_null(strstr(rep.err, SECRET_I));
	expect_param(f, T1, "target-chap-secret", NULL);
	assert_int_equal(request(f, "modify",
				 "{\"target\": \"" T1 "\", \"target-chap-secret\": \"" SECRET_T "\"}",
				 &rep),
			 LUND_OK);
	assert_int_equal(lund_check_initiator_secret(&f->d, SECRET_T, &rep), -1);
	assert_non_null(strstr(rep.err, "target CHAP secret of " T1));
	assert_null(strstr(rep.err, SECRET_T));
	memset(&rep, 0, sizeof(rep));
	assert_int_equal(lund_check_initiator_secret(&f->d, "another-secret-99", &rep), 0);
	assert_int_equal(lund_check_initiator_secret(&f->d, NULL, &rep), 0);

	/* short: accepted with a warning, as the initiator's */
	assert_int_equal(request(f, "modify", "{\"target\": \"" T1 "\", \"target-chap-secret\": "
					      "\"short\"}",
				 &rep),
			 LUND_OK);
	assert_non_null(strstr(rep.warning, "shorter than 12 bytes"));

	/* the store masks the target's secret like the initiator's */
	assert_true(lun_store_key_is_secret("target-chap-secret"));
	assert_null(strstr(last_log, "short"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lookup_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_modify_list_remove, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_requests, setup, teardown),
		cmocka_unit_test_setup_teardown(test_quote_utf8, setup, teardown),
		cmocka_unit_test_setup_teardown(test_secret_rules, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
