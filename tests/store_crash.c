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
 *
 * The same for the device cache, where a change is an upsert of an LU with
 * its paths (several rows in two tables, one transaction):
 *
 *   store_crash --lu DB N   step i = 0..N-1 at the fake time T0 + i: an
 *                           even step adds LU k = i/2 with paths A and B, not
 *                           online; the odd step after it upserts LU k again
 *                           with only path C, online (A and B must stay);
 *                           "ack <i>" after each commit
 *   store_crash --check-lu DB  print the number of steps the store holds,
 *                           exit 0 if they are exactly steps 0..n-1, each
 *                           LU with the rows and times its steps gave it,
 *                           and PRAGMA integrity_check says ok
 */
#include <inttypes.h>
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

/* ---- the device cache */

#define CRASH_T0 INT64_C(1767225600)
#define CRASH_LU_FMT "c0t%016Xd0"

static void crash_path(struct lun_store_lu_path *p, int k, const char *host)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->target, sizeof(p->target), CRASH_TARGET_FMT, k);
	snprintf(p->host, sizeof(p->host), "%s", host);
	p->port = 3260;
	p->tpgt = 1;
	p->lun = (uint64_t)k;
}

static int crash_lu_fill(const char *db, const char *count)
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
		struct lun_store_lu_path p[2];
		struct lun_store_lu lu = { .size = 1u << 24, .block_size = 512 };
		int k = i / 2;

		snprintf(lu.name, sizeof(lu.name), CRASH_LU_FMT, (unsigned)k);
		snprintf(lu.ident, sizeof(lu.ident), "%016X", (unsigned)k);
		snprintf(lu.vendor, sizeof(lu.vendor), "LIO-ORG");
		if (i % 2 == 0) {
			crash_path(&p[0], k, "127.0.0.1");
			crash_path(&p[1], k, "127.0.0.2");
			lu.npaths = 2;
		} else {
			crash_path(&p[0], k, "127.0.0.3");
			lu.npaths = 1;
		}
		lu.paths = p;
		if (lun_store_lu_upsert(st, &lu, i % 2 == 1, CRASH_T0 + i, err, sizeof(err)) != 0) {
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

/* LU k as steps 2k (and 2k + 1 when `both`) leave it; 0 or a complaint. */
static int crash_lu_one(const struct lun_store_lu *lu, int k, bool both)
{
	static const char *const hosts[] = { "127.0.0.1", "127.0.0.2", "127.0.0.3" };
	int64_t t = CRASH_T0 + 2 * k;
	char want[64];

	snprintf(want, sizeof(want), CRASH_LU_FMT, (unsigned)k);
	if (strcmp(lu->name, want) != 0) {
		fprintf(stderr, "store_crash: LU %d is %s, expected %s\n", k, lu->name, want);
		return 1;
	}
	if (lu->npaths != (both ? 3 : 2) || lu->first_seen != t ||
	    lu->last_seen_online != (both ? t + 1 : 0)) {
		fprintf(stderr, "store_crash: LU %s has %d paths, first seen %" PRId64
				", online %" PRId64 "; steps %d..%d do not say so\n",
			lu->name, lu->npaths, lu->first_seen, lu->last_seen_online, 2 * k,
			2 * k + both);
		return 1;
	}
	for (int j = 0; j < lu->npaths; j++) {
		const struct lun_store_lu_path *p = &lu->paths[j];
		int64_t seen = j == 2 ? t + 1 : t;

		if (strcmp(p->host, hosts[j]) != 0 || p->lun != (uint64_t)k ||
		    p->first_seen != seen || p->last_seen != seen) {
			fprintf(stderr, "store_crash: LU %s path %d is %s LUN %" PRIu64
					" seen %" PRId64 "..%" PRId64 "\n",
				lu->name, j, p->host, p->lun, p->first_seen, p->last_seen);
			return 1;
		}
	}
	return 0;
}

static int crash_lu_check(const char *db)
{
	struct lun_store_lu *v;
	struct lun_store *st;
	char err[256];
	int n, steps = 0, bad = 0;

	st = lun_store_open(db, err, sizeof(err));
	if (!st) {
		fprintf(stderr, "store_crash: %s\n", err);
		return 1;
	}
	n = lun_store_lu_list(st, &v, err, sizeof(err));
	lun_store_close(st);
	if (n < 0) {
		fprintf(stderr, "store_crash: %s\n", err);
		return 1;
	}
	/* every LU but the last has had both steps; the last one or both */
	for (int k = 0; k < n && !bad; k++) {
		bool both = k < n - 1 || v[k].npaths == 3;

		bad = crash_lu_one(&v[k], k, both);
		steps += both ? 2 : 1;
	}
	lun_store_lu_free(v, n);
	printf("%d\n", steps);
	return bad || crash_integrity(db) ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--check") == 0)
		return crash_check(argv[2]);
	if (argc == 3 && strcmp(argv[1], "--check-lu") == 0)
		return crash_lu_check(argv[2]);
	if (argc == 4 && strcmp(argv[1], "--lu") == 0)
		return crash_lu_fill(argv[2], argv[3]);
	if (argc == 3 && argv[1][0] != '-')
		return crash_fill(argv[1], argv[2]);
	fprintf(stderr, "usage: store_crash DB N | store_crash --check DB\n"
			"       store_crash --lu DB N | store_crash --check-lu DB\n");
	return 2;
}
