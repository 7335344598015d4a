/*
 * test_store_lu.c - the device cache in the store (schema version 2): an
 * upsert adds and refreshes but never forgets, the open record and policy
 * survive refreshes, listings come in name order with paths in the order
 * first seen, removal takes the paths along, one transaction per change,
 * everything across a reopen; and a version 1 file (as shipped) opens,
 * migrates and keeps its configuration.  Each test gets its own mkdtemp
 * directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store.h"

struct fix {
	char dir[64];
	char db[128];
	char err[256];
};

static const char *const side_files[] = { "", "-wal", "-shm", "-journal" };

#define T0 INT64_C(1767225600) /* 2026-01-01 00:00:00 UTC */
#define NAME_A "c0t600140500000000000000000000000A1d0"
#define NAME_B "c0t600140500000000000000000000000B2d0"
#define TGT1 "iqn.2024-01.test:t1"
#define TGT2 "iqn.2024-01.test:t2"

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/lunstorelu.XXXXXX");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	snprintf(f->db, sizeof(f->db), "%s/lunaris.db", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;
	char p[160];

	for (size_t i = 0; i < sizeof(side_files) / sizeof(side_files[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", f->db, side_files[i]);
		unlink(p);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

static struct lun_store *open_ok(struct fix *f)
{
	struct lun_store *st;

	f->err[0] = '\0';
	st = lun_store_open(f->db, f->err, sizeof(f->err));
	if (!st)
		fail_msg("open: %s", f->err);
	return st;
}

/* Run SQL on the file behind the store's back (the store is closed). */
static void raw_sql(const char *path, const char *sql)
{
	sqlite3 *db;
	char *msg = NULL;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("raw sql: %s", msg ? msg : "?");
	sqlite3_close(db);
}

/* One integer from a query on the file, behind the store's back. */
static long long raw_int(const char *path, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *stmt;
	long long v;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
	v = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	return v;
}

static void make_path(struct lun_store_lu_path *p, const char *target, const char *host,
		      uint16_t port, int tpgt, uint64_t lun)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->target, sizeof(p->target), "%s", target);
	snprintf(p->host, sizeof(p->host), "%s", host);
	p->port = port;
	p->tpgt = tpgt;
	p->lun = lun;
}

static void make_lu(struct lun_store_lu *lu, const char *name, struct lun_store_lu_path *paths,
		    int npaths)
{
	memset(lu, 0, sizeof(*lu));
	snprintf(lu->name, sizeof(lu->name), "%s", name);
	/* the identifier is the name without c0t and d0 */
	snprintf(lu->ident, sizeof(lu->ident), "%.*s", (int)strlen(name) - 5, name + 3);
	snprintf(lu->vendor, sizeof(lu->vendor), "LIO-ORG");
	snprintf(lu->product, sizeof(lu->product), "disk1");
	snprintf(lu->revision, sizeof(lu->revision), "4.0");
	lu->size = 16u << 20;
	lu->block_size = 512;
	lu->paths = paths;
	lu->npaths = npaths;
}

static void test_upsert_and_get(void **state)
{
	struct fix *f = *state;
	struct lun_store *st = open_ok(f);
	struct lun_store_lu_path p[2];
	struct lun_store_lu lu, got;

	make_path(&p[0], TGT1, "127.0.0.1", 3260, 1, 1);
	make_path(&p[1], TGT1, "::1", 3261, -1, 1);
	make_lu(&lu, NAME_A, p, 2);
	assert_int_equal(lun_store_lu_upsert(st, &lu, false, T0, f->err, sizeof(f->err)), 0);

	assert_int_equal(lun_store_lu_get(st, NAME_A, &got, f->err, sizeof(f->err)), 1);
	assert_string_equal(got.name, NAME_A);
	assert_string_equal(got.ident, "600140500000000000000000000000A1");
	assert_string_equal(got.vendor, "LIO-ORG");
	assert_string_equal(got.product, "disk1");
	assert_string_equal(got.revision, "4.0");
	assert_int_equal(got.size, 16u << 20);
	assert_int_equal(got.block_size, 512);
	assert_int_equal(got.first_seen, T0);
	assert_int_equal(got.last_seen_online, 0); /* not online yet: never */
	assert_int_equal(got.last_open, 0);
	assert_string_equal(got.last_opener, "");
	assert_string_equal(got.policy, LUN_STORE_LU_POLICY_DEFAULT);
	assert_int_equal(got.region_size, 0);
	assert_int_equal(got.npaths, 2);
	assert_string_equal(got.paths[0].target, TGT1);
	assert_string_equal(got.paths[0].host, "127.0.0.1");
	assert_int_equal(got.paths[0].port, 3260);
	assert_int_equal(got.paths[0].tpgt, 1);
	assert_int_equal(got.paths[0].lun, 1);
	assert_int_equal(got.paths[0].first_seen, T0);
	assert_int_equal(got.paths[0].last_seen, T0);
	assert_string_equal(got.paths[1].host, "::1");
	assert_int_equal(got.paths[1].port, 3261);
	assert_int_equal(got.paths[1].tpgt, -1);
	lun_store_lu_free_paths(&got);
	assert_null(got.paths);
	assert_int_equal(got.npaths, 0);

	assert_int_equal(lun_store_lu_get(st, NAME_B, &got, f->err, sizeof(f->err)), 0);
	assert_null(got.paths);
	lun_store_close(st);
}

/* The cache never forgets on its own: a refresh with fewer paths keeps the
 * others as they were, and keeps first_seen, the open record and the
 * policy. */
static void test_refresh_keeps(void **state)
{
	struct fix *f = *state;
	struct lun_store *st = open_ok(f);
	struct lun_store_lu_path p[3];
	struct lun_store_lu lu, got;

	make_path(&p[0], TGT1, "127.0.0.1", 3260, 1, 1);
	make_path(&p[1], TGT2, "127.0.0.2", 3260, 1, 2);
	make_lu(&lu, NAME_A, p, 2);
	assert_int_equal(lun_store_lu_upsert(st, &lu, true, T0, f->err, sizeof(f->err)), 0);
	assert_int_equal(lun_store_lu_record_open(st, NAME_A, "nbd by pid 42 (qemu-img)", T0 + 5,
						  f->err, sizeof(f->err)),
			 0);
	assert_int_equal(lun_store_lu_set_policy(st, NAME_A, "logical-block", 256, f->err,
						 sizeof(f->err)),
			 0);

	/* Later: only the second path is seen, with another TPGT; a third path
	 * appears (same portal, another LUN is another path); the LU has grown
	 * and is seen, not online. */
	make_path(&p[0], TGT2, "127.0.0.2", 3260, 7, 2);
	make_path(&p[1], TGT2, "127.0.0.2", 3260, 7, 3);
	make_lu(&lu, NAME_A, p, 2);
	lu.size = 32u << 20;
	snprintf(lu.revision, sizeof(lu.revision), "4.1");
	assert_int_equal(lun_store_lu_upsert(st, &lu, false, T0 + 100, f->err, sizeof(f->err)),
			 0);
	lun_store_close(st);

	st = open_ok(f);
	assert_int_equal(lun_store_lu_get(st, NAME_A, &got, f->err, sizeof(f->err)), 1);
	assert_int_equal(got.first_seen, T0);
	assert_int_equal(got.last_seen_online, T0); /* the refresh was not online */
	assert_int_equal(got.last_open, T0 + 5);
	assert_string_equal(got.last_opener, "nbd by pid 42 (qemu-img)");
	assert_string_equal(got.policy, "logical-block");
	assert_int_equal(got.region_size, 256);
	assert_int_equal(got.size, 32u << 20);
	assert_string_equal(got.revision, "4.1");
	assert_int_equal(got.npaths, 3);
	/* first seen order; the unmentioned path is untouched */
	assert_string_equal(got.paths[0].target, TGT1);
	assert_int_equal(got.paths[0].tpgt, 1);
	assert_int_equal(got.paths[0].first_seen, T0);
	assert_int_equal(got.paths[0].last_seen, T0);
	assert_string_equal(got.paths[1].target, TGT2);
	assert_int_equal(got.paths[1].lun, 2);
	assert_int_equal(got.paths[1].tpgt, 7);
	assert_int_equal(got.paths[1].first_seen, T0);
	assert_int_equal(got.paths[1].last_seen, T0 + 100);
	assert_int_equal(got.paths[2].lun, 3);
	assert_int_equal(got.paths[2].first_seen, T0 + 100);
	lun_store_lu_free_paths(&got);

	/* online again, by upsert and by mark_online */
	assert_int_equal(lun_store_lu_upsert(st, &lu, true, T0 + 200, f->err, sizeof(f->err)),
			 0);
	assert_int_equal(lun_store_lu_get(st, NAME_A, &got, f->err, sizeof(f->err)), 1);
	assert_int_equal(got.last_seen_online, T0 + 200);
	lun_store_lu_free_paths(&got);
	assert_int_equal(lun_store_lu_mark_online(st, NAME_A, T0 + 300, f->err, sizeof(f->err)),
			 0);
	assert_int_equal(lun_store_lu_get(st, NAME_A, &got, f->err, sizeof(f->err)), 1);
	assert_int_equal(got.last_seen_online, T0 + 300);
	assert_int_equal(got.npaths, 3);
	lun_store_lu_free_paths(&got);

	/* the default region size is stored as "none given" */
	assert_int_equal(lun_store_lu_set_policy(st, NAME_A, "least-queue", 0, f->err,
						 sizeof(f->err)),
			 0);
	assert_int_equal(lun_store_lu_get(st, NAME_A, &got, f->err, sizeof(f->err)), 1);
	assert_string_equal(got.policy, "least-queue");
	assert_int_equal(got.region_size, 0);
	lun_store_lu_free_paths(&got);
	lun_store_close(st);
}

static void test_list_and_remove(void **state)
{
	struct fix *f = *state;
	struct lun_store *st = open_ok(f);
	struct lun_store_lu_path pa[2], pb[1];
	struct lun_store_lu lu, *v = (void *)1;
	int n;

	assert_int_equal(lun_store_lu_list(st, &v, f->err, sizeof(f->err)), 0);
	assert_null(v);

	make_path(&pb[0], TGT2, "10.0.0.2", 3260, 2, 0);
	make_lu(&lu, NAME_B, pb, 1);
	assert_int_equal(lun_store_lu_upsert(st, &lu, true, T0, f->err, sizeof(f->err)), 0);
	make_path(&pa[0], TGT1, "10.0.0.1", 3260, 1, 0);
	make_path(&pa[1], TGT1, "10.0.0.1", 3261, 1, 0);
	make_lu(&lu, NAME_A, pa, 2);
	assert_int_equal(lun_store_lu_upsert(st, &lu, true, T0 + 1, f->err, sizeof(f->err)), 0);
	/* an LU without paths (none known yet) is fine */
	make_lu(&lu, "c0t0123456789ABCDEFd0", NULL, 0);
	assert_int_equal(lun_store_lu_upsert(st, &lu, false, T0 + 2, f->err, sizeof(f->err)), 0);

	n = lun_store_lu_list(st, &v, f->err, sizeof(f->err));
	assert_int_equal(n, 3);
	assert_string_equal(v[0].name, "c0t0123456789ABCDEFd0"); /* name order */
	assert_int_equal(v[0].npaths, 0);
	assert_null(v[0].paths);
	assert_string_equal(v[1].name, NAME_A);
	assert_int_equal(v[1].npaths, 2);
	assert_int_equal(v[1].paths[1].port, 3261);
	assert_string_equal(v[2].name, NAME_B);
	assert_int_equal(v[2].npaths, 1);
	assert_string_equal(v[2].paths[0].host, "10.0.0.2");
	lun_store_lu_free(v, n);

	assert_int_equal(lun_store_lu_remove(st, NAME_A, f->err, sizeof(f->err)), 1);
	assert_int_equal(lun_store_lu_remove(st, NAME_A, f->err, sizeof(f->err)), 0);
	lun_store_close(st);

	/* its paths went with it, the others stayed; and it stays gone */
	assert_int_equal(raw_int(f->db, "SELECT count(*) FROM lu_path"), 1);
	st = open_ok(f);
	n = lun_store_lu_list(st, &v, f->err, sizeof(f->err));
	assert_int_equal(n, 2);
	assert_string_equal(v[0].name, "c0t0123456789ABCDEFd0");
	assert_string_equal(v[1].name, NAME_B);
	assert_int_equal(v[1].npaths, 1);
	lun_store_lu_free(v, n);
	lun_store_close(st);
}

static void expect_err(struct fix *f, int rc, const char *want)
{
	assert_int_equal(rc, -1);
	assert_string_equal(f->err, want);
}

static void test_errors(void **state)
{
	struct fix *f = *state;
	struct lun_store *st = open_ok(f);
	struct lun_store_lu_path p[1];
	struct lun_store_lu lu;
	char *e = f->err, long_who[300];
	size_t el = sizeof(f->err);

	expect_err(f, lun_store_lu_mark_online(st, NAME_A, T0, e, el),
		   "logical unit " NAME_A " is not in the device cache");
	expect_err(f, lun_store_lu_record_open(st, NAME_A, "fuse by pid 1 (dd)", T0, e, el),
		   "logical unit " NAME_A " is not in the device cache");
	expect_err(f, lun_store_lu_set_policy(st, NAME_A, "none", 0, e, el),
		   "logical unit " NAME_A " is not in the device cache");
	expect_err(f, lun_store_lu_mark_online(st, "", T0, e, el), "logical unit name is empty");

	make_path(&p[0], TGT1, "127.0.0.1", 3260, 70000, 0);
	make_lu(&lu, NAME_A, p, 1);
	expect_err(f, lun_store_lu_upsert(st, &lu, true, T0, e, el),
		   "logical unit " NAME_A ": path 1: TPGT 70000 is out of range");
	make_path(&p[0], TGT1, "127.0.0.1", 0, 1, 0);
	expect_err(f, lun_store_lu_upsert(st, &lu, true, T0, e, el),
		   "portal 127.0.0.1: port 0 is invalid");
	make_path(&p[0], "", "127.0.0.1", 3260, 1, 0);
	expect_err(f, lun_store_lu_upsert(st, &lu, true, T0, e, el),
		   "logical unit " NAME_A ": path 1: target name is empty or too long");
	make_path(&p[0], TGT1, "127.0.0.1", 3260, 1, UINT64_MAX);
	expect_err(f, lun_store_lu_upsert(st, &lu, true, T0, e, el),
		   "logical unit " NAME_A ": path 1: LUN 18446744073709551615 is out of range");
	make_path(&p[0], TGT1, "127.0.0.1", 3260, 1, 0);
	expect_err(f, lun_store_lu_upsert(st, &lu, true, 0, e, el),
		   "store error: time 0 is not a unix time");
	lu.ident[0] = '\0';
	expect_err(f, lun_store_lu_upsert(st, &lu, true, T0, e, el),
		   "logical unit " NAME_A ": identifier is empty or too long");
	make_lu(&lu, NAME_A, p, 1);
	memset(lu.name, 'c', sizeof(lu.name)); /* no NUL at all */
	expect_err(f, lun_store_lu_upsert(st, &lu, true, T0, e, el),
		   "logical unit name is longer than 515 characters");
	make_lu(&lu, NAME_A, p, 1);
	lu.npaths = 2;
	lu.paths = NULL;
	expect_err(f, lun_store_lu_upsert(st, &lu, true, T0, e, el),
		   "logical unit " NAME_A ": paths are missing");

	/* nothing of the refused upserts was stored */
	assert_int_equal(lun_store_lu_get(st, NAME_A, &lu, e, el), 0);

	make_lu(&lu, NAME_A, p, 1);
	assert_int_equal(lun_store_lu_upsert(st, &lu, true, T0, e, el), 0);
	memset(long_who, 'x', sizeof(long_who) - 1);
	long_who[sizeof(long_who) - 1] = '\0';
	expect_err(f, lun_store_lu_record_open(st, NAME_A, long_who, T0, e, el),
		   "logical unit " NAME_A ": the opener is missing or longer than 255 characters");
	expect_err(f, lun_store_lu_set_policy(st, NAME_A, "", 0, e, el),
		   "logical unit " NAME_A ": the policy is empty or longer than 31 characters");
	lun_store_close(st);
}

/* One transaction per upsert: a path the database refuses halfway rolls
 * back the LU row and the paths before it. */
static void test_upsert_atomic(void **state)
{
	struct fix *f = *state;
	struct lun_store *st = open_ok(f);
	struct lun_store_lu_path p[3];
	struct lun_store_lu lu, got;

	make_path(&p[0], TGT1, "127.0.0.1", 3260, 1, 0);
	make_lu(&lu, NAME_B, p, 1);
	assert_int_equal(lun_store_lu_upsert(st, &lu, true, T0, f->err, sizeof(f->err)), 0);
	lun_store_close(st);
	raw_sql(f->db, "CREATE TRIGGER boom BEFORE INSERT ON lu_path WHEN NEW.host = 'boom'"
		       " BEGIN SELECT RAISE(ABORT, 'refused by the test'); END");

	st = open_ok(f);
	make_path(&p[0], TGT1, "127.0.0.1", 3260, 1, 0);
	make_path(&p[1], TGT1, "boom", 3260, 1, 0);
	make_path(&p[2], TGT1, "127.0.0.3", 3260, 1, 0);
	make_lu(&lu, NAME_A, p, 3);
	assert_int_equal(lun_store_lu_upsert(st, &lu, true, T0, f->err, sizeof(f->err)), -1);
	assert_non_null(strstr(f->err, "refused by the test"));
	assert_int_equal(lun_store_lu_get(st, NAME_A, &got, f->err, sizeof(f->err)), 0);

	/* a refresh of a cached LU that fails leaves it as it was */
	make_lu(&lu, NAME_B, p, 3);
	lu.size = 1;
	assert_int_equal(lun_store_lu_upsert(st, &lu, true, T0 + 9, f->err, sizeof(f->err)), -1);
	assert_int_equal(lun_store_lu_get(st, NAME_B, &got, f->err, sizeof(f->err)), 1);
	assert_int_equal(got.size, 16u << 20);
	assert_int_equal(got.last_seen_online, T0);
	assert_int_equal(got.npaths, 1);
	assert_int_equal(got.paths[0].last_seen, T0);
	lun_store_lu_free_paths(&got);

	/* and the store is still usable */
	assert_int_equal(lun_store_lu_mark_online(st, NAME_B, T0 + 10, f->err, sizeof(f->err)),
			 0);
	lun_store_close(st);
}

/*
 * Schema version 1 exactly as it shipped (store.c's step 0 -> 1; a shipped
 * step is never edited), with rows of every kind, written by plain SQLite:
 * what an older lunarisd left on disk.
 */
static const char v1_file[] =
	"BEGIN;"
	"CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);"
	"CREATE TABLE methods ("
	" id INTEGER PRIMARY KEY CHECK (id = 1),"
	" static INTEGER NOT NULL CHECK (static IN (0, 1)),"
	" sendtargets INTEGER NOT NULL CHECK (sendtargets IN (0, 1)),"
	" isns INTEGER NOT NULL CHECK (isns IN (0, 1)));"
	"INSERT INTO methods (id, static, sendtargets, isns) VALUES (1, 1, 1, 0);"
	"CREATE TABLE discovery_address ("
	" id INTEGER PRIMARY KEY,"
	" host TEXT NOT NULL COLLATE NOCASE,"
	" port INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),"
	" UNIQUE (host, port));"
	"CREATE TABLE isns_server ("
	" id INTEGER PRIMARY KEY,"
	" host TEXT NOT NULL COLLATE NOCASE,"
	" port INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),"
	" UNIQUE (host, port));"
	"CREATE TABLE static_config ("
	" id INTEGER PRIMARY KEY,"
	" target TEXT NOT NULL,"
	" host TEXT NOT NULL COLLATE NOCASE,"
	" port INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),"
	" tpgt INTEGER CHECK (tpgt BETWEEN 0 AND 65535),"
	" UNIQUE (target, host, port));"
	"CREATE TABLE setting ("
	" scope TEXT NOT NULL,"
	" key TEXT NOT NULL,"
	" value TEXT NOT NULL,"
	" PRIMARY KEY (scope, key)) WITHOUT ROWID;"
	"INSERT INTO meta (key, value) VALUES ('schema_version', '1');"
	"UPDATE methods SET isns = 1, sendtargets = 0 WHERE id = 1;"
	"INSERT INTO discovery_address (host, port) VALUES ('127.0.0.1', 3260), ('::1', 3262);"
	"INSERT INTO isns_server (host, port) VALUES ('isns.example', 3205);"
	"INSERT INTO static_config (target, host, port, tpgt)"
	" VALUES ('iqn.2024-01.test:a', '127.0.0.1', 3260, NULL),"
	" ('iqn.2024-01.test:b', '10.0.0.2', 3261, 7);"
	"INSERT INTO setting (scope, key, value) VALUES ('', 'node-name', 'iqn.2024-01.test:init'),"
	" ('iqn.2024-01.test:a', 'chap-secret', 't0p-secret-value');"
	"COMMIT;";

static void test_migrate_v1(void **state)
{
	struct fix *f = *state;
	struct lun_store *st;
	struct lun_store_addr *a;
	struct lun_store_static *s;
	struct lun_store_lu_path p[1];
	struct lun_store_lu lu, *v;
	unsigned m;
	char buf[64];

	raw_sql(f->db, "PRAGMA journal_mode=WAL");
	raw_sql(f->db, v1_file);
	assert_int_equal(raw_int(f->db, "SELECT count(*) FROM sqlite_master WHERE name = 'lu'"),
			 0);
	assert_int_equal(chmod(f->db, 0600), 0);

	st = open_ok(f);
	assert_int_equal(lun_store_schema_version(st), LUN_STORE_SCHEMA_VERSION);
	assert_int_equal(lun_store_get_methods(st, &m, f->err, sizeof(f->err)), 0);
	assert_int_equal(m, LUN_DISC_STATIC | LUN_DISC_ISNS);
	assert_int_equal(lun_store_list_discovery_addresses(st, &a, f->err, sizeof(f->err)), 2);
	assert_string_equal(a[0].host, "127.0.0.1");
	assert_string_equal(a[1].host, "::1");
	assert_int_equal(a[1].port, 3262);
	free(a);
	assert_int_equal(lun_store_list_isns_servers(st, &a, f->err, sizeof(f->err)), 1);
	assert_string_equal(a[0].host, "isns.example");
	free(a);
	assert_int_equal(lun_store_list_static(st, &s, f->err, sizeof(f->err)), 2);
	assert_string_equal(s[0].target, "iqn.2024-01.test:a");
	assert_int_equal(s[0].tpgt, -1);
	assert_string_equal(s[1].target, "iqn.2024-01.test:b");
	assert_int_equal(s[1].tpgt, 7);
	free(s);
	assert_int_equal(lun_store_get(st, "", "node-name", buf, sizeof(buf), f->err,
				       sizeof(f->err)),
			 1);
	assert_string_equal(buf, "iqn.2024-01.test:init");
	assert_int_equal(lun_store_get(st, "iqn.2024-01.test:a", "chap-secret", buf, sizeof(buf),
				       f->err, sizeof(f->err)),
			 1);
	assert_string_equal(buf, "t0p-secret-value");

	/* the device cache is there, empty, and works */
	assert_int_equal(lun_store_lu_list(st, &v, f->err, sizeof(f->err)), 0);
	make_path(&p[0], TGT1, "127.0.0.1", 3260, 1, 1);
	make_lu(&lu, NAME_A, p, 1);
	assert_int_equal(lun_store_lu_upsert(st, &lu, true, T0, f->err, sizeof(f->err)), 0);
	lun_store_close(st);

	/* migrated through every step up to the current version */
	assert_int_equal(raw_int(f->db, "SELECT value FROM meta WHERE key = 'schema_version'"),
			 LUN_STORE_SCHEMA_VERSION);
	/* a second open finds the current version and changes nothing */
	st = open_ok(f);
	assert_int_equal(lun_store_schema_version(st), LUN_STORE_SCHEMA_VERSION);
	assert_int_equal(lun_store_lu_list(st, &v, f->err, sizeof(f->err)), 1);
	assert_string_equal(v[0].name, NAME_A);
	assert_int_equal(v[0].npaths, 1);
	lun_store_lu_free(v, 1);
	lun_store_close(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_upsert_and_get, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refresh_keeps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_and_remove, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_upsert_atomic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrate_v1, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
