/*
 * store_crash.c - helper of tests/integration/t_store_crash.sh: the store's
 * promise that a change is durable once the call returned.
 *
 *   store_crash DB N        add static configs iqn.2024-01.test:t<i>,
 *                           i = 0..N-1, one transaction each, and print
 *                           "ack <i>" after each commit (stdout unbuffered:
 *                           the test kills us with SIGKILL at any moment)
 *   store_crash --check DB  open the store, print the number of static
 *                           configs, exit 0 if they are exactly t0..t<n-1>
 *                           in order (acks are a prefix) and
 *                           PRAGMA integrity_check says ok
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "store.h"

#define CRASH_TARGET_FMT "iqn.2024-01.test:t%d"

static int crash_fill(const char *db, const char *count)
{
	struct lun_store *st;
	char err[256], *end;
	long n = strtol(count, &end, 10);

	if (*end || n < 0 || n > 100000000) {
		fprintf(stderr, "store_crash: bad count %s\n", count);
		return 2;
	}
	setvbuf(stdout, NULL, _IONBF, 0);
	st = lun_store_open(db, err, sizeof(err));
	if (!st) {
		fprintf(stderr, "store_crash: %s\n", err);
		return 1;
	}
	for (int i = 0; i < (int)n; i++) {
		struct lun_store_static s = { .host = "127.0.0.1", .port = 3260, .tpgt = -1 };

		snprintf(s.target, sizeof(s.target), CRASH_TARGET_FMT, i);
		if (lun_store_add_static(st, &s, err, sizeof(err)) != 0) {
			fprintf(stderr, "store_crash: %s\n", err);
			lun_store_close(st);
			return 1;
		}
		printf("ack %d\n", i);
		fflush(stdout);
	}
	lun_store_close(st);
	return 0;
}

/* PRAGMA integrity_check on a connection of its own, outside the store API. */
static int crash_integrity(const char *db)
{
	sqlite3 *h = NULL;
	sqlite3_stmt *stmt = NULL;
	int ok = 0;

	if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(h, "PRAGMA integrity_check", -1, &stmt, NULL) == SQLITE_OK &&
	    sqlite3_step(stmt) == SQLITE_ROW) {
		const unsigned char *r = sqlite3_column_text(stmt, 0);

		ok = r && strcmp((const char *)r, "ok") == 0;
		if (!ok)
			fprintf(stderr, "store_crash: integrity_check: %s\n", r ? (const char *)r : "?");
	} else {
		fprintf(stderr, "store_crash: integrity_check: %s\n", h ? sqlite3_errmsg(h) : "?");
	}
	sqlite3_finalize(stmt);
	sqlite3_close(h);
	return ok ? 0 : 1;
}

static int crash_check(const char *db)
{
	struct lun_store_static *v;
	struct lun_store *st;
	char err[256], want[64];
	int n, bad = 0;

	st = lun_store_open(db, err, sizeof(err));
	if (!st) {
		fprintf(stderr, "store_crash: %s\n", err);
		return 1;
	}
	n = lun_store_list_static(st, &v, err, sizeof(err));
	lun_store_close(st);
	if (n < 0) {
		fprintf(stderr, "store_crash: %s\n", err);
		return 1;
	}
	for (int i = 0; i < n && !bad; i++) {
		snprintf(want, sizeof(want), CRASH_TARGET_FMT, i);
		if (strcmp(v[i].target, want) != 0) {
			fprintf(stderr, "store_crash: row %d is %s, expected %s\n", i, v[i].target,
				want);
			bad = 1;
		}
	}
	free(v);
	printf("%d\n", n);
	return bad || crash_integrity(db) ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--check") == 0)
		return crash_check(argv[2]);
	if (argc == 3 && argv[1][0] != '-')
		return crash_fill(argv[1], argv[2]);
	fprintf(stderr, "usage: store_crash DB N | store_crash --check DB\n");
	return 2;
}
