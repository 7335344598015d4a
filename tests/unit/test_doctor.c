/*
 * test_doctor.c - the analysis of `lunaris doctor` (cli/doctor.c) on
 * replies shaped like lunarisd's: healthy, the 2006 storm (a stale name
 * opened again and again with storm protection off), a CHAP mismatch, a
 * failing discovery address, and input that is not what it should be.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../cli/doctor.h"

#define NOW 1700000100LL
#define NAME "c0t60000000000000000E00000000010001d0"
#define T1 "iqn.2024-01.test:t1"
#define T2 "iqn.2024-01.test:t2"

static json_t *load(const char *s)
{
	json_error_t e;
	json_t *j = json_loads(s, 0, &e);

	assert_non_null(j);
	return j;
}

/* The finding of `kind`, or NULL. */
static const json_t *find(const json_t *rep, const char *kind)
{
	const json_t *f;
	size_t i;

	json_array_foreach(json_object_get(rep, "findings"), i, f)
		if (!strcmp(json_string_value(json_object_get(f, "kind")), kind))
			return f;
	return NULL;
}

static bool has_fix(const json_t *f, const char *cmd)
{
	const json_t *v;
	size_t i;

	json_array_foreach(json_object_get(f, "fix"), i, v)
		if (!strcmp(json_string_value(v), cmd))
			return true;
	return false;
}

static const char *summary(const json_t *f)
{
	return json_string_value(json_object_get(f, "summary"));
}

static void test_healthy(void **state)
{
	json_t *in = load("{\"trace\":[{\"seq\":1,\"time\":1700000000,\"event\":"
			  "\"discovery sendtargets 127.0.0.1:3260 <- lunarisd start\"}],"
			  "\"target\":[{\"target\":\"" T2 "\",\"sessions\":[{\"address\":"
			  "\"127.0.0.1\",\"port\":3260,\"state\":\"up\",\"last_error\":null}]}],"
			  "\"lu\":[],\"initiator-node\":{\"tunables\":{\"storm-protection\":"
			  "{\"default\":\"on\",\"configured\":null}}}}");
	json_t *rep = doctor_analyze(in, NOW);

	assert_true(json_is_true(json_object_get(rep, "healthy")));
	assert_int_equal(json_array_size(json_object_get(rep, "findings")), 0);
	assert_int_equal(doctor_exit_code(rep), 0);
	json_decref(rep);
	json_decref(in);
}

/* Ten opens of a stale name, each a config_one and a discovery run. */
static json_t *storm_input(void)
{
	json_t *in = load("{\"target\":[{\"target\":\"" T2 "\",\"sessions\":[]}],"
			  "\"lu\":[{\"name\":\"" NAME "\",\"state\":\"offline\",\"users\":0,"
			  "\"last_seen_online\":1700000000,\"last_open\":1700000090,"
			  "\"last_opener\":\"nbd by pid 4242 (dd)\",\"paths\":[{\"target\":\"" T1
			  "\",\"address\":\"127.0.0.1\",\"port\":3260,\"state\":\"offline\"}]}],"
			  "\"initiator-node\":{\"tunables\":{\"storm-protection\":"
			  "{\"default\":\"on\",\"configured\":\"off\"}}}}");
	json_t *tr = json_array();
	char line[512];

	for (int i = 0; i < 10; i++) {
		snprintf(line, sizeof(line), "config_one " T1 " <- nbd by pid %d (dd): target "
					     "unknown, asking discovery", 4233 + i);
		json_array_append_new(tr, json_pack("{s:i,s:I,s:s}", "seq", 3 * i, "time",
						    (json_int_t)(NOW - 50 + i), "event", line));
		snprintf(line, sizeof(line), "discovery sendtargets 127.0.0.1:3260 <- config_one "
					     T1 " <- nbd by pid %d (dd)", 4233 + i);
		json_array_append_new(tr, json_pack("{s:i,s:I,s:s}", "seq", 3 * i + 1, "time",
						    (json_int_t)(NOW - 50 + i), "event", line));
		json_array_append_new(tr, json_pack("{s:i,s:I,s:s}", "seq", 3 * i + 2, "time",
						    (json_int_t)(NOW - 50 + i), "event",
						    "5 discovery@127.0.0.1:3260 free T1 -> in_login (x)"));
	}
	json_object_set_new(in, "trace", tr);
	return in;
}

static void test_storm(void **state)
{
	json_t *in = storm_input(), *rep = doctor_analyze(in, NOW);
	const json_t *f;

	assert_false(json_is_true(json_object_get(rep, "healthy")));
	assert_int_equal(doctor_exit_code(rep), 1);
	f = find(rep, "discovery_storm");
	assert_non_null(f);
	assert_string_equal(json_string_value(json_object_get(f, "severity")), "error");
	assert_non_null(strstr(summary(f), "127.0.0.1:3260 saw 10 discovery logins"));
	assert_non_null(strstr(summary(f), "caused by opens of " NAME " (stale: offline"));
	assert_non_null(strstr(summary(f), "last opened by pid 4242 (dd)"));
	assert_true(has_fix(f, "lunaris cleanup " NAME));
	assert_true(has_fix(f, "lunaris modify initiator-node -T storm-protection=on"));
	f = find(rep, "stale_lu");
	assert_non_null(f);
	assert_true(has_fix(f, "lunaris cleanup " NAME));
	assert_non_null(find(rep, "storm_protection_off"));
	/* the plain words come from the same JSON */
	char *buf = NULL;
	size_t n = 0;
	FILE *m = open_memstream(&buf, &n);

	doctor_print(rep, m);
	fclose(m);
	assert_non_null(strstr(buf, "lunaris doctor: 3 findings need attention\n"));
	assert_non_null(strstr(buf, "Fix: lunaris cleanup " NAME "\n"));
	free(buf);
	json_decref(rep);
	json_decref(in);
}

/* The target discovery offers again is no longer stale. */
static void test_not_stale_when_offered(void **state)
{
	json_t *in = storm_input(), *rep;

	json_object_set_new(in, "discovery-address",
			    load("[{\"address\":\"127.0.0.1\",\"port\":3260,\"targets\":"
				 "[{\"target\":\"" T1 "\"}],\"last_error\":null}]"));
	rep = doctor_analyze(in, NOW);
	assert_null(find(rep, "stale_lu"));
	assert_non_null(find(rep, "lu_offline"));
	json_decref(rep);
	json_decref(in);
}

static void test_chap_and_discovery_failure(void **state)
{
	json_t *in = load("{\"target\":[{\"target\":\"" T2 "\",\"sessions\":[{\"address\":"
			  "\"127.0.0.1\",\"port\":3260,\"state\":\"waiting\",\"source\":\"static\","
			  "\"last_error\":\"login to " T2 " at 127.0.0.1:3260 failed during CHAP: "
			  "authentication failure: the CHAP name or secret was not accepted\"}]}],"
			  "\"discovery-address\":[{\"address\":\"10.0.0.9\",\"port\":3260,"
			  "\"runs\":3,\"failures\":3,\"last_error\":\"cannot connect\"}],"
			  "\"initiator-node\":{\"chap-name\":\"iuser\",\"chap-secret-set\":true}}");
	json_t *rep = doctor_analyze(in, NOW);
	const json_t *f = find(rep, "chap_mismatch");

	assert_non_null(f);
	assert_non_null(strstr(summary(f), "not accepted"));
	assert_true(has_fix(f, "lunaris modify initiator-node --CHAP-secret-file FILE"));
	f = find(rep, "discovery_failing");
	assert_non_null(f);
	assert_true(has_fix(f, "lunaris remove discovery-address 10.0.0.9:3260"));
	json_decref(rep);
	json_decref(in);
}

/* Wrong types and odd lines are read as nothing, not as a crash. */
static void test_garbage(void **state)
{
	const char *inputs[] = {
		"null", "[]", "{\"trace\":7}", "{\"trace\":[{\"event\":\"discovery sendtargets \"}]}",
		"{\"trace\":[{\"event\":\"config_one x <- \"},{\"event\":\"1 a@b c T1 ->\"}]}",
		"{\"lu\":[{\"state\":\"offline\",\"paths\":[{}]}],\"negative-cache\":[{}]}",
	};

	for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		json_t *in = json_loads(inputs[i], JSON_DECODE_ANY, NULL);
		json_t *rep = doctor_analyze(in, NOW);

		assert_non_null(rep);
		assert_true(json_is_array(json_object_get(rep, "findings")));
		json_decref(rep);
		json_decref(in);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_healthy),
		cmocka_unit_test(test_storm),
		cmocka_unit_test(test_not_stale_when_offered),
		cmocka_unit_test(test_chap_and_discovery_failure),
		cmocka_unit_test(test_garbage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
