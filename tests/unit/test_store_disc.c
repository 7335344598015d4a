/*
 * test_store_disc.c - discovered targets in the store (schema version 3):
 * a replace takes the place of the whole previous answer of its source and
 * leaves other sources alone, listings per source, per method and in all,
 * removal of a source, removal of a discovery address or iSNS server takes
 * its answer along, bad input is refused without a change, everything
 * across a reopen; and a version 2 file (as shipped) opens, migrates and
 * keeps its configuration and device cache.  Each test gets its own
 * mkdtemp directory.
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
#define TGT1 "iqn.2024-01.test:t1"
#define TGT2 "iqn.2024-01.test:t2"
#define TGT3 "iqn.2024-01.test:t3"
#define SRC_A "127.0.0.1:3260"
#define SRC_B "10.0.0.9:3260"

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/lunstoredisc.XXXXXX");
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

static void raw_sql(const char *path, const char *sql)
{
	sqlite3 *db;
	char *msg = NULL;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("raw sql: %s", msg ? msg : "?");
	sqlite3_close(db);
}

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

static void row(struct lun_store_disc *d, const char *target, const char *host, uint16_t port,
		int tpgt)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->target, sizeof(d->target), "%s", target);
	snprintf(d->host, sizeof(d->host), "%s", host);
	d->port = port;
	d->tpgt = tpgt;
}

static void assert_row(const struct lun_store_disc *d, unsigned method, const char *source,
		       const char *target, const char *host, uint16_t port, int tpgt,
		       int64_t last_seen)
{
	assert_int_equal(d->method, method);
	assert_string_equal(d->source, source);
	assert_string_equal(d->target, target);
	assert_string_equal(d->host, host);
	assert_int_equal(d->port, port);
	assert_int_equal(d->tpgt, tpgt);
	assert_int_equal(d->last_seen, last_seen);
}

static void test_source_name(void **state)
{
	char buf[300];

	(void)state;
	lun_store_disc_source(buf, sizeof(buf), "127.0.0.1", 3260);
	assert_string_equal(buf, "127.0.0.1:3260");
	lun_store_disc_source(buf, sizeof(buf), "fe80::1", 3205);
	assert_string_equal(buf, "[fe80::1]:3205");
}

static void test_replace_and_list(void **state)
{
	struct fix *f = *state;
	struct lun_store *st = open_ok(f);
	struct lun_store_disc r[4], *v;

	/* an empty store lists nothing */
	assert_int_equal(lun_store_disc_list(st, 0, NULL, &v, f->err, sizeof(f->err)), 0);
	assert_null(v);

	/* two portals of t1, one of t2; and an exact duplicate kept once */
	row(&r[0], TGT1, "127.0.0.1", 3260, 1);
	row(&r[1], TGT1, "127.0.0.2", 3260, 2);
	row(&r[2], TGT2, "127.0.0.1", 3260, 1);
	row(&r[3], TGT1, "127.0.0.1", 3260, 1);
	assert_int_equal(lun_store_disc_replace(st, LUN_DISC_SENDTARGETS, SRC_A, r, 4, T0, f->err,
						sizeof(f->err)),
			 0);
	row(&r[0], TGT3, "10.0.0.9", 3261, -1);
	row(&r[1], TGT3, "10.0.0.9", 3261, -1); /* duplicate with an unknown TPGT */
	assert_int_equal(lun_store_disc_replace(st, LUN_DISC_ISNS, SRC_B, r, 2, T0 + 1, f->err,
						sizeof(f->err)),
			 0);

	/* per source, in the order given */
	assert_int_equal(lun_store_disc_list(st, LUN_DISC_SENDTARGETS, SRC_A, &v, f->err,
					     sizeof(f->err)),
			 3);
	assert_row(&v[0], LUN_DISC_SENDTARGETS, SRC_A, TGT1, "127.0.0.1", 3260, 1, T0);
	assert_row(&v[1], LUN_DISC_SENDTARGETS, SRC_A, TGT1, "127.0.0.2", 3260, 2, T0);
	assert_row(&v[2], LUN_DISC_SENDTARGETS, SRC_A, TGT2, "127.0.0.1", 3260, 1, T0);
	free(v);
	/* a source is one method's: the same name under the other is empty */
	assert_int_equal(lun_store_disc_list(st, LUN_DISC_ISNS, SRC_A, &v, f->err,
					     sizeof(f->err)),
			 0);
	/* source names compare case-insensitively, like the portals */
	assert_int_equal(lun_store_disc_replace(st, LUN_DISC_ISNS, "ISNS.example:3205", r, 1, T0,
						f->err, sizeof(f->err)),
			 0);
	assert_int_equal(lun_store_disc_list(st, LUN_DISC_ISNS, "isns.EXAMPLE:3205", &v, f->err,
					     sizeof(f->err)),
			 1);
	assert_row(&v[0], LUN_DISC_ISNS, "ISNS.example:3205", TGT3, "10.0.0.9", 3261, -1, T0);
	free(v);
	assert_int_equal(lun_store_disc_remove_source(st, LUN_DISC_ISNS, "isns.example:3205",
						      f->err, sizeof(f->err)),
			 1);

	/* per method, and all: method (isns before sendtargets), source, order */
	assert_int_equal(lun_store_disc_list(st, LUN_DISC_ISNS, NULL, &v, f->err, sizeof(f->err)),
			 1);
	assert_row(&v[0], LUN_DISC_ISNS, SRC_B, TGT3, "10.0.0.9", 3261, -1, T0 + 1);
	free(v);
	assert_int_equal(lun_store_disc_list(st, 0, NULL, &v, f->err, sizeof(f->err)), 4);
	assert_int_equal(v[0].method, LUN_DISC_ISNS);
	assert_string_equal(v[1].target, TGT1);
	assert_string_equal(v[3].target, TGT2);
	free(v);

	/* a new answer replaces the whole old one: t1 is gone, t2 moved */
	row(&r[0], TGT2, "127.0.0.3", 3262, 5);
	assert_int_equal(lun_store_disc_replace(st, LUN_DISC_SENDTARGETS, SRC_A, r, 1, T0 + 60,
						f->err, sizeof(f->err)),
			 0);
	assert_int_equal(lun_store_disc_list(st, LUN_DISC_SENDTARGETS, SRC_A, &v, f->err,
					     sizeof(f->err)),
			 1);
	assert_row(&v[0], LUN_DISC_SENDTARGETS, SRC_A, TGT2, "127.0.0.3", 3262, 5, T0 + 60);
	free(v);
	lun_store_close(st);

	/* durable: all there after a reopen, the other source untouched */
	st = open_ok(f);
	assert_int_equal(lun_store_disc_list(st, 0, NULL, &v, f->err, sizeof(f->err)), 2);
	assert_row(&v[0], LUN_DISC_ISNS, SRC_B, TGT3, "10.0.0.9", 3261, -1, T0 + 1);
	assert_row(&v[1], LUN_DISC_SENDTARGETS, SRC_A, TGT2, "127.0.0.3", 3262, 5, T0 + 60);
	free(v);

	/* an empty answer: nothing remembered for that source */
	assert_int_equal(lun_store_disc_replace(st, LUN_DISC_SENDTARGETS, SRC_A, NULL, 0, T0 + 70,
						f->err, sizeof(f->err)),
			 0);
	assert_int_equal(lun_store_disc_list(st, LUN_DISC_SENDTARGETS, NULL, &v, f->err,
					     sizeof(f->err)),
			 0);
	assert_int_equal(lun_store_disc_remove_source(st, LUN_DISC_ISNS, SRC_B, f->err,
						      sizeof(f->err)),
			 1);
	assert_int_equal(lun_store_disc_remove_source(st, LUN_DISC_ISNS, SRC_B, f->err,
						      sizeof(f->err)),
			 0);
	assert_int_equal(lun_store_disc_list(st, 0, NULL, &v, f->err, sizeof(f->err)), 0);
	lun_store_close(st);
}

/* Removing the discovery address (or iSNS server) removes its answer in
 * the same transaction, and only its own. */
static void test_remove_address_takes_answer(void **state)
{
	struct fix *f = *state;
	struct lun_store *st = open_ok(f);
	struct lun_store_disc r[1], *v;
	char src[300];

	assert_int_equal(lun_store_add_discovery_address(st, "127.0.0.1", 3260, f->err,
							 sizeof(f->err)),
			 0);
	assert_int_equal(lun_store_add_discovery_address(st, "::1", 3260, f->err, sizeof(f->err)),
			 0);
	assert_int_equal(lun_store_add_isns_server(st, "127.0.0.1", 3260, f->err, sizeof(f->err)),
			 0);
	row(&r[0], TGT1, "127.0.0.1", 3260, 1);
	assert_int_equal(lun_store_disc_replace(st, LUN_DISC_SENDTARGETS, SRC_A, r, 1, T0, f->err,
						sizeof(f->err)),
			 0);
	lun_store_disc_source(src, sizeof(src), "::1", 3260);
	assert_int_equal(lun_store_disc_replace(st, LUN_DISC_SENDTARGETS, src, r, 1, T0, f->err,
						sizeof(f->err)),
			 0);
	/* an iSNS server on the same portal: a source of its own */
	assert_int_equal(lun_store_disc_replace(st, LUN_DISC_ISNS, SRC_A, r, 1, T0, f->err,
						sizeof(f->err)),
			 0);

	assert_int_equal(lun_store_remove_discovery_address(st, "127.0.0.1", 3260, f->err,
							    sizeof(f->err)),
			 0);
	assert_int_equal(lun_store_disc_list(st, LUN_DISC_SENDTARGETS, NULL, &v, f->err,
					     sizeof(f->err)),
			 1);
	assert_string_equal(v[0].source, "[::1]:3260");
	free(v);
	assert_int_equal(lun_store_disc_list(st, LUN_DISC_ISNS, NULL, &v, f->err, sizeof(f->err)),
			 1);
	free(v);
	/* a failed remove (not configured) changes nothing */
	assert_int_equal(lun_store_remove_discovery_address(st, "127.0.0.1", 3260, f->err,
							    sizeof(f->err)),
			 -1);
	assert_non_null(strstr(f->err, "is not configured"));
	assert_int_equal(lun_store_remove_discovery_address(st, "::1", 3260, f->err,
							    sizeof(f->err)),
			 0);
	assert_int_equal(lun_store_remove_isns_server(st, "127.0.0.1", 3260, f->err,
						      sizeof(f->err)),
			 0);
	assert_int_equal(lun_store_disc_list(st, 0, NULL, &v, f->err, sizeof(f->err)), 0);
	lun_store_close(st);
}

static void test_errors(void **state)
{
	struct fix *f = *state;
	struct lun_store *st = open_ok(f);
	struct lun_store_disc r[2], *v;
	char longsrc[400];

	row(&r[0], TGT1, "127.0.0.1", 3260, 1);
	assert_int_equal(lun_store_disc_replace(st, LUN_DISC_SENDTARGETS, SRC_A, r, 1, T0, f->err,
						sizeof(f->err)),
			 0);

	assert_int_equal(lun_store_disc_replace(st, LUN_DISC_STATIC, SRC_A, r, 1, T0, f->err,
						sizeof(f->err)),
			 -1);
	assert_non_null(strstr(f->err, "is not SendTargets or iSNS"));
	assert_int_equal(lun_store_disc_replace(st, LUN_DISC_SENDTARGETS, "", r, 1, T0, f->err,
						sizeof(f->err)),
			 -1);
	assert_non_null(strstr(f->err, "source is empty"));
	memset(longsrc, 'a', sizeof(longsrc) - 1);
	longsrc[sizeof(longsrc) - 1] = '\0';
	assert_int_equal(lun_store_disc_replace(st, LUN_DISC_SENDTARGETS, longsrc, r, 1, T0,
						f->err, sizeof(f->err)),
			 -1);
	assert_int_equal(lun_store_disc_replace(st, LUN_DISC_SENDTARGETS, SRC_A, r, 1, 0, f->err,
						sizeof(f->err)),
			 -1);
	assert_non_null(strstr(f->err, "is not a unix time"));
	assert_int_equal(lun_store_disc_replace(st, LUN_DISC_SENDTARGETS, SRC_A, NULL, 2, T0,
						f->err, sizeof(f->err)),
			 -1);
	assert_int_equal(lun_store_disc_list(st, LUN_DISC_STATIC, NULL, &v, f->err,
					     sizeof(f->err)),
			 -1);
	assert_int_equal(lun_store_disc_remove_source(st, 7, SRC_A, f->err, sizeof(f->err)), -1);

	/* a bad row anywhere refuses the whole answer: the old one stays */
	row(&r[0], TGT2, "127.0.0.1", 3260, 1);
	row(&r[1], TGT2, "127.0.0.1", 0, 1);
	assert_int_equal(lun_store_disc_replace(st, LUN_DISC_SENDTARGETS, SRC_A, r, 2, T0 + 1,
						f->err, sizeof(f->err)),
			 -1);
	assert_non_null(strstr(f->err, "port 0 is invalid"));
	row(&r[1], TGT2, "127.0.0.1", 3260, 65536);
	assert_int_equal(lun_store_disc_replace(st, LUN_DISC_SENDTARGETS, SRC_A, r, 2, T0 + 1,
						f->err, sizeof(f->err)),
			 -1);
	assert_non_null(strstr(f->err, "row 2: TPGT 65536 is out of range"));
	row(&r[1], "", "127.0.0.1", 3260, 1);
	assert_int_equal(lun_store_disc_replace(st, LUN_DISC_SENDTARGETS, SRC_A, r, 2, T0 + 1,
						f->err, sizeof(f->err)),
			 -1);
	assert_non_null(strstr(f->err, "row 2: target name is empty"));
	row(&r[1], TGT2, "127.0.0.1", 3260, 1);
	memset(r[1].target, 'x', sizeof(r[1].target)); /* not terminated */
	assert_int_equal(lun_store_disc_replace(st, LUN_DISC_SENDTARGETS, SRC_A, r, 2, T0 + 1,
						f->err, sizeof(f->err)),
			 -1);
	assert_int_equal(lun_store_disc_list(st, 0, NULL, &v, f->err, sizeof(f->err)), 1);
	assert_row(&v[0], LUN_DISC_SENDTARGETS, SRC_A, TGT1, "127.0.0.1", 3260, 1, T0);
	free(v);
	lun_store_close(st);
}

/* A replace that fails inside its transaction (a trigger, added behind
 * the store's back, refuses the second row) rolls back the delete of the
 * old answer too: the old answer stays whole. */
static void test_replace_atomic(void **state)
{
	struct fix *f = *state;
	struct lun_store *st = open_ok(f);
	struct lun_store_disc r[2], *v;

	row(&r[0], TGT1, "127.0.0.1", 3260, 1);
	assert_int_equal(lun_store_disc_replace(st, LUN_DISC_SENDTARGETS, SRC_A, r, 1, T0, f->err,
						sizeof(f->err)),
			 0);
	lun_store_close(st);
	raw_sql(f->db, "CREATE TRIGGER no_t3 BEFORE INSERT ON discovered_target"
		       " WHEN NEW.target = '" TGT3 "'"
		       " BEGIN SELECT RAISE(ABORT, 'no t3 here'); END;");
	st = open_ok(f);
	row(&r[0], TGT2, "127.0.0.1", 3260, 1);
	row(&r[1], TGT3, "127.0.0.1", 3260, 1);
	assert_int_equal(lun_store_disc_replace(st, LUN_DISC_SENDTARGETS, SRC_A, r, 2, T0 + 1,
						f->err, sizeof(f->err)),
			 -1);
	assert_non_null(strstr(f->err, "no t3 here"));
	assert_int_equal(lun_store_disc_list(st, 0, NULL, &v, f->err, sizeof(f->err)), 1);
	assert_row(&v[0], LUN_DISC_SENDTARGETS, SRC_A, TGT1, "127.0.0.1", 3260, 1, T0);
	free(v);
	/* and the store is still usable */
	assert_int_equal(lun_store_disc_replace(st, LUN_DISC_SENDTARGETS, SRC_A, r, 1, T0 + 2,
						f->err, sizeof(f->err)),
			 0);
	lun_store_close(st);
}

/*
 * Schema version 2 exactly as it shipped (store.c's steps 0 -> 1 -> 2; a
 * shipped step is never edited), with rows of every kind, written by plain
 * SQLite: what an older lunarisd left on disk.
 */
static const char v2_file[] =
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
	"CREATE TABLE lu ("
	" name TEXT PRIMARY KEY,"
	" identifier TEXT NOT NULL,"
	" vendor TEXT NOT NULL,"
	" product TEXT NOT NULL,"
	" revision TEXT NOT NULL,"
	" size INTEGER NOT NULL CHECK (size >= 0),"
	" block_size INTEGER NOT NULL CHECK (block_size BETWEEN 0 AND 4294967295),"
	" first_seen INTEGER NOT NULL,"
	" last_seen_online INTEGER,"
	" last_open INTEGER,"
	" last_opener TEXT,"
	" policy TEXT NOT NULL DEFAULT 'round-robin',"
	" region_size INTEGER CHECK (region_size BETWEEN 1 AND 4294967295));"
	"CREATE TABLE lu_path ("
	" id INTEGER PRIMARY KEY,"
	" lu TEXT NOT NULL REFERENCES lu (name) ON DELETE CASCADE,"
	" target TEXT NOT NULL,"
	" host TEXT NOT NULL COLLATE NOCASE,"
	" port INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),"
	" tpgt INTEGER CHECK (tpgt BETWEEN 0 AND 65535),"
	" lun INTEGER NOT NULL CHECK (lun >= 0),"
	" first_seen INTEGER NOT NULL,"
	" last_seen INTEGER NOT NULL,"
	" UNIQUE (lu, target, host, port, lun));"
	"INSERT INTO meta (key, value) VALUES ('schema_version', '2');"
	"UPDATE methods SET isns = 1 WHERE id = 1;"
	"INSERT INTO discovery_address (host, port) VALUES ('127.0.0.1', 3260);"
	"INSERT INTO isns_server (host, port) VALUES ('isns.example', 3205);"
	"INSERT INTO static_config (target, host, port, tpgt)"
	" VALUES ('iqn.2024-01.test:a', '127.0.0.1', 3260, NULL);"
	"INSERT INTO setting (scope, key, value) VALUES ('', 'node-name', 'iqn.2024-01.test:init');"
	"INSERT INTO lu (name, identifier, vendor, product, revision, size, block_size,"
	" first_seen, last_seen_online, policy)"
	" VALUES ('c0t600140500000000000000000000000A1d0', '600140500000000000000000000000A1',"
	" 'LIO-ORG', 'disk1', '4.0', 16777216, 512, 1767225600, 1767225600, 'failover');"
	"INSERT INTO lu_path (lu, target, host, port, tpgt, lun, first_seen, last_seen)"
	" VALUES ('c0t600140500000000000000000000000A1d0', 'iqn.2024-01.test:a', '127.0.0.1',"
	" 3260, 1, 1, 1767225600, 1767225600);"
	"COMMIT;";

static void test_migrate_v2(void **state)
{
	struct fix *f = *state;
	struct lun_store *st;
	struct lun_store_addr *a;
	struct lun_store_static *s;
	struct lun_store_lu *lus;
	struct lun_store_disc r[1], *v;
	unsigned m;
	char buf[64];

	raw_sql(f->db, "PRAGMA journal_mode=WAL");
	raw_sql(f->db, v2_file);
	assert_int_equal(raw_int(f->db, "SELECT count(*) FROM sqlite_master"
					" WHERE name = 'discovered_target'"),
			 0);
	assert_int_equal(chmod(f->db, 0600), 0);

	st = open_ok(f);
	assert_int_equal(lun_store_schema_version(st), 3);
	/* the configuration and the device cache are kept */
	assert_int_equal(lun_store_get_methods(st, &m, f->err, sizeof(f->err)), 0);
	assert_int_equal(m, LUN_DISC_STATIC | LUN_DISC_SENDTARGETS | LUN_DISC_ISNS);
	assert_int_equal(lun_store_list_discovery_addresses(st, &a, f->err, sizeof(f->err)), 1);
	assert_string_equal(a[0].host, "127.0.0.1");
	free(a);
	assert_int_equal(lun_store_list_isns_servers(st, &a, f->err, sizeof(f->err)), 1);
	free(a);
	assert_int_equal(lun_store_list_static(st, &s, f->err, sizeof(f->err)), 1);
	assert_int_equal(s[0].tpgt, -1);
	free(s);
	assert_int_equal(lun_store_get(st, "", "node-name", buf, sizeof(buf), f->err,
				       sizeof(f->err)),
			 1);
	assert_string_equal(buf, "iqn.2024-01.test:init");
	assert_int_equal(lun_store_lu_list(st, &lus, f->err, sizeof(f->err)), 1);
	assert_string_equal(lus[0].policy, "failover");
	assert_int_equal(lus[0].npaths, 1);
	assert_int_equal(lus[0].paths[0].tpgt, 1);
	lun_store_lu_free(lus, 1);

	/* discovered targets: there, empty, and working */
	assert_int_equal(lun_store_disc_list(st, 0, NULL, &v, f->err, sizeof(f->err)), 0);
	row(&r[0], TGT1, "127.0.0.1", 3260, 1);
	assert_int_equal(lun_store_disc_replace(st, LUN_DISC_SENDTARGETS, SRC_A, r, 1, T0, f->err,
						sizeof(f->err)),
			 0);
	lun_store_close(st);

	assert_int_equal(raw_int(f->db, "SELECT value FROM meta WHERE key = 'schema_version'"),
			 3);
	/* a second open finds version 3 and changes nothing */
	st = open_ok(f);
	assert_int_equal(lun_store_schema_version(st), 3);
	assert_int_equal(lun_store_disc_list(st, 0, NULL, &v, f->err, sizeof(f->err)), 1);
	assert_row(&v[0], LUN_DISC_SENDTARGETS, SRC_A, TGT1, "127.0.0.1", 3260, 1, T0);
	free(v);
	lun_store_close(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_source_name),
		cmocka_unit_test_setup_teardown(test_replace_and_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remove_address_takes_answer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replace_atomic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrate_v2, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
