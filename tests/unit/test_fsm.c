/*
 * test_fsm.c - the connection and session state tables against the
 * transitions of the Solaris initiator (study sections 1.3 and 2.3), and the
 * trace event a transition emits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sess.h"

struct row {
	enum lun_conn_state from;
	enum lun_conn_event ev;
	int to;
};

/* Every valid connection transition; everything else must be invalid.
 * RULE: the next state depends on recovery (free / failed / polling). */
#define RULE LUN_CONN_NSTATES
static const struct row conn_rows[] = {
	{ LUN_CONN_FREE, LUN_T1, LUN_CONN_IN_LOGIN },
	{ LUN_CONN_IN_LOGIN, LUN_T5, LUN_CONN_LOGGED_IN },
	{ LUN_CONN_IN_LOGIN, LUN_T7, RULE },
	{ LUN_CONN_IN_LOGIN, LUN_T14, RULE },
	{ LUN_CONN_IN_LOGIN, LUN_T15, RULE },
	{ LUN_CONN_IN_LOGIN, LUN_T30, LUN_CONN_FREE },
	{ LUN_CONN_LOGGED_IN, LUN_T8, LUN_CONN_FREE },
	{ LUN_CONN_LOGGED_IN, LUN_T9, LUN_CONN_IN_LOGOUT },
	{ LUN_CONN_LOGGED_IN, LUN_T11, LUN_CONN_IN_LOGOUT },
	{ LUN_CONN_LOGGED_IN, LUN_T14, LUN_CONN_FAILED },
	{ LUN_CONN_LOGGED_IN, LUN_T15, LUN_CONN_FAILED },
	{ LUN_CONN_IN_LOGOUT, LUN_T11, LUN_CONN_IN_LOGOUT },
	{ LUN_CONN_IN_LOGOUT, LUN_T14, RULE },
	{ LUN_CONN_IN_LOGOUT, LUN_T15, RULE },
	{ LUN_CONN_IN_LOGOUT, LUN_T17, RULE },
	{ LUN_CONN_FAILED, LUN_T1, LUN_CONN_IN_LOGIN },
	{ LUN_CONN_FAILED, LUN_T7, LUN_CONN_POLLING },
	{ LUN_CONN_FAILED, LUN_T30, LUN_CONN_FREE },
	{ LUN_CONN_POLLING, LUN_T1, LUN_CONN_IN_LOGIN },
	{ LUN_CONN_POLLING, LUN_T30, LUN_CONN_FREE },
};

static void test_conn_table(void **state)
{
	int valid = 0;

	for (int st = 0; st < LUN_CONN_NSTATES; st++) {
		for (int ev = 0; ev < LUN_CONN_NEVENTS; ev++) {
			int want = -1;

			for (size_t i = 0; i < sizeof(conn_rows) / sizeof(conn_rows[0]); i++)
				if (conn_rows[i].from == (enum lun_conn_state)st &&
				    conn_rows[i].ev == (enum lun_conn_event)ev)
					want = conn_rows[i].to;
			assert_int_equal(lun_conn_next_state(st, ev), want);
			valid += want >= 0;
		}
	}
	assert_int_equal(valid, (int)(sizeof(conn_rows) / sizeof(conn_rows[0])));
	assert_int_equal(lun_conn_next_state(LUN_CONN_NSTATES, LUN_T1), -1);
}

static void test_conn_names(void **state)
{
	static const char *states[] = { "free", "in_login", "logged_in", "in_logout", "failed",
					"polling" };
	static const char *events[] = { "T1", "T5", "T7", "T8", "T9", "T11", "T14", "T15", "T17",
					"T30" };

	for (int i = 0; i < LUN_CONN_NSTATES; i++)
		assert_string_equal(lun_conn_state_name(i), states[i]);
	for (int i = 0; i < LUN_CONN_NEVENTS; i++)
		assert_string_equal(lun_conn_event_name(i), events[i]);
	assert_string_equal(lun_conn_state_name(LUN_CONN_NSTATES), "?");
}

static void test_sess_table(void **state)
{
	/* study section 2.3; -1 = the study's ASSERT / "-" cells */
	static const int want[LUN_SESS_NSTATES][LUN_SESS_NEVENTS] = {
		[LUN_SESS_FREE] = { LUN_SESS_LOGGED_IN, -1, LUN_SESS_FREE, LUN_SESS_FREE,
				    LUN_SESS_FREE },
		[LUN_SESS_LOGGED_IN] = { LUN_SESS_LOGGED_IN, LUN_SESS_FREE, LUN_SESS_FAILED,
					 LUN_SESS_LOGGED_IN, LUN_SESS_IN_FLUSH },
		[LUN_SESS_FAILED] = { LUN_SESS_LOGGED_IN, -1, LUN_SESS_FAILED, LUN_SESS_FREE,
				      LUN_SESS_FAILED },
		[LUN_SESS_IN_FLUSH] = { LUN_SESS_IN_FLUSH, LUN_SESS_FREE, LUN_SESS_FLUSHED,
					LUN_SESS_IN_FLUSH, LUN_SESS_IN_FLUSH },
		[LUN_SESS_FLUSHED] = { LUN_SESS_LOGGED_IN, -1, -1, LUN_SESS_FREE,
				       LUN_SESS_FLUSHED },
	};

	for (int st = 0; st < LUN_SESS_NSTATES; st++)
		for (int ev = 0; ev < LUN_SESS_NEVENTS; ev++)
			assert_int_equal(lun_sess_next_state(st, ev), want[st][ev]);
	assert_string_equal(lun_sess_state_name(LUN_SESS_IN_FLUSH), "in_flush");
	assert_string_equal(lun_sess_event_name(LUN_N7), "N7");
}

struct seen {
	int n;
	char line[8][256];
};

static void record(const struct lunaris_trace_event *ev, void *arg)
{
	struct seen *s = arg;

	if (s->n < 8)
		lunaris_trace_format(ev, s->line[s->n], sizeof(s->line[0]));
	s->n++;
}

/* A failed connect is the T1 -> in_login step followed by T7 -> free,
 * each traced once with the cause; nothing needs a target for this. */
static void test_trace_connect_refused(void **state)
{
	lunaris_session *s = lunaris_session_new("iqn.2024-01.test:init");
	struct seen seen = { 0 };

	assert_non_null(s);
	lunaris_set_trace_cb(s, record, &seen);
	assert_int_equal(lunaris_set_portal(s, "127.0.0.1", 1), 0);
	lunaris_set_cause(s, "unit test");
	assert_int_equal(lunaris_connect_sync(s), -1);
	assert_true(seen.n >= 2);
	assert_non_null(strstr(seen.line[0], "discovery@127.0.0.1:1 free T1 -> in_login (unit test)"));
	assert_non_null(strstr(seen.line[1], "in_login T7 -> free (cannot connect to 127.0.0.1:1"));
	assert_non_null(strstr(lunaris_get_error(s), "cannot connect"));
	lunaris_session_free(s);
}

/* Events that are not valid in a state are traced as ignored and change
 * nothing. */
static void test_invalid_event_ignored(void **state)
{
	struct lun_sess *s = (struct lun_sess *)lunaris_session_new("iqn.2024-01.test:init");
	struct seen seen = { 0 };

	assert_non_null(s);
	lunaris_set_trace_cb((lunaris_session *)s, record, &seen);
	lun_conn_event(s, LUN_T17, "stray logout response");
	assert_int_equal(s->cstate, LUN_CONN_FREE);
	assert_int_equal(seen.n, 1);
	assert_non_null(strstr(seen.line[0], "free T17 -> free (ignored: not valid here; stray"));
	lunaris_session_free((lunaris_session *)s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conn_table),
		cmocka_unit_test(test_conn_names),
		cmocka_unit_test(test_sess_table),
		cmocka_unit_test(test_trace_connect_refused),
		cmocka_unit_test(test_invalid_event_ignored),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
