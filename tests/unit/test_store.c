/*
 * test_store.c - the SQLite store: persistence of every object across a
 * reopen, the documented errors, atomic batches, file modes, schema
 * versions and migration, secret masking.  Each test gets its own mkdtemp
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
#include <fcntl.h>
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

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/lunstore.XXXXXX");
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

/* Run one SQL statement on the file behind the store's back. */
static void raw_sql(const char *path, const char *sql)
{
	sqlite3 *db;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static mode_t file_mode(const char *path)
{
	struct stat sb;

	assert_int_equal(stat(path, &sb), 0);
	return sb.st_mode & 07777;
}

static void add_everything(struct fix *f, struct lun_store *st)
{
	struct lun_store_static s1 = { "iqn.2024-01.test:a", "127.0.0.1", 3260, -1 };
	struct lun_store_static s2 = { "iqn.2024-01.test:b", "::1", 3261, 7 };
	const struct lun_store_kv kv[] = {
		{ "header-digest", "CRC32C" },
		{ "chap-secret", "t0p-secret-value" },
	};

	assert_int_equal(lun_store_set_methods(st, LUN_DISC_STATIC | LUN_DISC_ISNS, f->err,
					       sizeof(f->err)),
			 0);
	assert_int_equal(lun_store_add_discovery_address(st, "127.0.0.1", 3260, f->err,
							 sizeof(f->err)),
			 0);
	assert_int_equal(lun_store_add_discovery_address(st, "10.0.0.2", 3262, f->err,
							 sizeof(f->err)),
			 0);
	assert_int_equal(lun_store_add_isns_server(st, "isns.example", 3205, f->err,
						   sizeof(f->err)),
			 0);
	assert_int_equal(lun_store_add_static(st, &s1, f->err, sizeof(f->err)), 0);
	assert_int_equal(lun_store_add_static(st, &s2, f->err, sizeof(f->err)), 0);
	assert_int_equal(lun_store_set(st, "", "node-name", "iqn.2024-01.test:init", f->err,
				       sizeof(f->err)),
			 0);
	assert_int_equal(lun_store_set_many(st, "iqn.2024-01.test:a", kv, 2, f->err,
					    sizeof(f->err)),
			 0);
}

static void check_everything(struct fix *f, struct lun_store *st)
{
	struct lun_store_addr *a;
	struct lun_store_static *s;
	unsigned m;
	char buf[64];

	assert_int_equal(lun_store_get_methods(st, &m, f->err, sizeof(f->err)), 0);
	assert_int_equal(m, LUN_DISC_STATIC | LUN_DISC_ISNS);

	assert_int_equal(lun_store_list_discovery_addresses(st, &a, f->err, sizeof(f->err)), 2);
	assert_string_equal(a[0].host, "127.0.0.1");
	assert_int_equal(a[0].port, 3260);
	assert_string_equal(a[1].host, "10.0.0.2");
	assert_int_equal(a[1].port, 3262);
	free(a);

	assert_int_equal(lun_store_list_isns_servers(st, &a, f->err, sizeof(f->err)), 1);
	assert_string_equal(a[0].host, "isns.example");
	assert_int_equal(a[0].port, 3205);
	free(a);

	assert_int_equal(lun_store_list_static(st, &s, f->err, sizeof(f->err)), 2);
	assert_string_equal(s[0].target, "iqn.2024-01.test:a");
	assert_string_equal(s[0].host, "127.0.0.1");
	assert_int_equal(s[0].port, 3260);
	assert_int_equal(s[0].tpgt, -1);
	assert_string_equal(s[1].target, "iqn.2024-01.test:b");
	assert_string_equal(s[1].host, "::1");
	assert_int_equal(s[1].port, 3261);
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
	assert_int_equal(lun_store_get(st, "iqn.2024-01.test:a", "header-digest", buf,
				       sizeof(buf), f->err, sizeof(f->err)),
			 1);
	assert_string_equal(buf, "CRC32C");
	assert_int_equal(lun_store_get(st, "", "alias", buf, sizeof(buf), f->err,
				       sizeof(f->err)),
			 0);
}

static void test_new_store_defaults(void **state)
{
	struct fix *f = *state;
	struct lun_store *st = open_ok(f);
	struct lun_store_addr *a = (void *)1;
	struct lun_store_static *s = (void *)1;
	char **v = (void *)1;
	unsigned m = 0;

	assert_int_equal(lun_store_schema_version(st), LUN_STORE_SCHEMA_VERSION);
	assert_int_equal(lun_store_get_methods(st, &m, f->err, sizeof(f->err)), 0);
	assert_int_equal(m, LUN_DISC_STATIC | LUN_DISC_SENDTARGETS);
	assert_int_equal(lun_store_list_discovery_addresses(st, &a, f->err, sizeof(f->err)), 0);
	assert_null(a);
	assert_int_equal(lun_store_list_static(st, &s, f->err, sizeof(f->err)), 0);
	assert_null(s);
	assert_int_equal(lun_store_list_scopes(st, &v, f->err, sizeof(f->err)), 0);
	assert_null(v);
	assert_int_equal(lun_store_set_methods(st, 8, f->err, sizeof(f->err)), -1);
	assert_string_equal(f->err, "unknown discovery method bits 0x8");
	lun_store_close(st);
}

static void test_persistence(void **state)
{
	struct fix *f = *state;
	struct lun_store *st = open_ok(f);

	add_everything(f, st);
	check_everything(f, st);
	lun_store_close(st);

	st = open_ok(f);
	assert_int_equal(lun_store_schema_version(st), LUN_STORE_SCHEMA_VERSION);
	check_everything(f, st);
	lun_store_close(st);
}

static void expect_err(struct fix *f, int rc, const char *want)
{
	assert_int_equal(rc, -1);
	assert_string_equal(f->err, want);
}

static void test_duplicates_and_missing(void **state)
{
	struct fix *f = *state;
	struct lun_store *st = open_ok(f);
	struct lun_store_static s = { "iqn.2024-01.test:t", "127.0.0.1", 3260, 1 };
	struct lun_store_static s_any = { "iqn.2024-01.test:t", "127.0.0.1", 3260, -1 };
	char *e = f->err;
	size_t el = sizeof(f->err);

	assert_int_equal(lun_store_add_discovery_address(st, "127.0.0.1", 3260, e, el), 0);
	expect_err(f, lun_store_add_discovery_address(st, "127.0.0.1", 3260, e, el),
		   "discovery address 127.0.0.1:3260 is already configured");
	/* Same host on another port is another portal. */
	assert_int_equal(lun_store_add_discovery_address(st, "127.0.0.1", 3261, e, el), 0);
	/* Host names compare case-insensitively; IPv6 literals get brackets. */
	assert_int_equal(lun_store_add_discovery_address(st, "fe80::1", 3260, e, el), 0);
	expect_err(f, lun_store_add_discovery_address(st, "FE80::1", 3260, e, el),
		   "discovery address [FE80::1]:3260 is already configured");
	expect_err(f, lun_store_remove_discovery_address(st, "127.0.0.2", 3260, e, el),
		   "discovery address 127.0.0.2:3260 is not configured");
	assert_int_equal(lun_store_remove_discovery_address(st, "127.0.0.1", 3260, e, el), 0);
	expect_err(f, lun_store_remove_discovery_address(st, "127.0.0.1", 3260, e, el),
		   "discovery address 127.0.0.1:3260 is not configured");

	assert_int_equal(lun_store_add_isns_server(st, "10.1.1.1", 3205, e, el), 0);
	expect_err(f, lun_store_add_isns_server(st, "10.1.1.1", 3205, e, el),
		   "iSNS server 10.1.1.1:3205 is already configured");
	expect_err(f, lun_store_remove_isns_server(st, "10.1.1.1", 3206, e, el),
		   "iSNS server 10.1.1.1:3206 is not configured");

	assert_int_equal(lun_store_add_static(st, &s, e, el), 0);
	/* The TPGT is not part of the identity. */
	expect_err(f, lun_store_add_static(st, &s_any, e, el),
		   "static config iqn.2024-01.test:t,127.0.0.1:3260 is already configured");
	assert_int_equal(lun_store_remove_static(st, &s_any, e, el), 0);
	expect_err(f, lun_store_remove_static(st, &s, e, el),
		   "static config iqn.2024-01.test:t,127.0.0.1:3260 is not configured");

	expect_err(f, lun_store_add_discovery_address(st, "", 3260, e, el),
		   "portal host is empty");
	expect_err(f, lun_store_add_discovery_address(st, "h", 0, e, el),
		   "portal h: port 0 is invalid");
	s.tpgt = 70000;
	expect_err(f, lun_store_add_static(st, &s, e, el),
		   "static config iqn.2024-01.test:t: TPGT 70000 is out of range");

	assert_int_equal(lun_store_unset(st, "", "alias", e, el), 0);
	assert_int_equal(lun_store_set(st, "", "alias", "box", e, el), 0);
	assert_int_equal(lun_store_unset(st, "", "alias", e, el), 1);
	lun_store_close(st);
}

static void test_set_many_atomic(void **state)
{
	struct fix *f = *state;
	struct lun_store *st = open_ok(f);
	const char *t = "iqn.2024-01.test:x";
	const struct lun_store_kv bad[] = {
		{ "alias", "changed" },
		{ "chap-secret", "never-stored-secret" },
		{ NULL, "v" },
		{ "data-digest", "CRC32C" },
	};
	const struct lun_store_kv good[] = {
		{ "alias", "changed" },
		{ "header-digest", NULL }, /* removes */
		{ "data-digest", "CRC32C" },
	};
	char buf[32];

	assert_int_equal(lun_store_set(st, t, "alias", "orig", f->err, sizeof(f->err)), 0);
	assert_int_equal(lun_store_set(st, t, "header-digest", "None", f->err, sizeof(f->err)),
			 0);

	assert_int_equal(lun_store_set_many(st, t, bad, 4, f->err, sizeof(f->err)), -1);
	assert_string_equal(f->err, "setting 3 of 4 for target iqn.2024-01.test:x has no key; "
				    "nothing was changed");
	assert_null(strstr(f->err, "never-stored-secret"));
	assert_int_equal(lun_store_get(st, t, "alias", buf, sizeof(buf), f->err, sizeof(f->err)),
			 1);
	assert_string_equal(buf, "orig");
	assert_int_equal(lun_store_get(st, t, "chap-secret", buf, sizeof(buf), f->err,
				       sizeof(f->err)),
			 0);
	assert_int_equal(lun_store_get(st, t, "data-digest", buf, sizeof(buf), f->err,
				       sizeof(f->err)),
			 0);

	/* The store is still usable after the rollback, and a good batch
	 * applies all of its entries. */
	assert_int_equal(lun_store_set_many(st, t, good, 3, f->err, sizeof(f->err)), 0);
	assert_int_equal(lun_store_get(st, t, "alias", buf, sizeof(buf), f->err, sizeof(f->err)),
			 1);
	assert_string_equal(buf, "changed");
	assert_int_equal(lun_store_get(st, t, "header-digest", buf, sizeof(buf), f->err,
				       sizeof(f->err)),
			 0);
	assert_int_equal(lun_store_get(st, t, "data-digest", buf, sizeof(buf), f->err,
				       sizeof(f->err)),
			 1);
	lun_store_close(st);

	/* And the rollback held across a reopen. */
	st = open_ok(f);
	assert_int_equal(lun_store_get(st, t, "chap-secret", buf, sizeof(buf), f->err,
				       sizeof(f->err)),
			 0);
	lun_store_close(st);
}

static void test_file_modes(void **state)
{
	struct fix *f = *state;
	struct lun_store *st;
	char p[160];
	mode_t old = umask(0); /* the store must not rely on the caller's umask */

	st = open_ok(f);
	assert_int_equal(umask(old), 0); /* restored by lun_store_open */
	assert_int_equal(lun_store_set(st, "", "alias", "x", f->err, sizeof(f->err)), 0);
	assert_int_equal(file_mode(f->db), 0600);
	for (size_t i = 1; i < 3; i++) { /* -wal, -shm exist while open */
		snprintf(p, sizeof(p), "%s%s", f->db, side_files[i]);
		assert_int_equal(file_mode(p) & 077, 0);
	}
	lun_store_close(st);

	/* A file made readable by others is quietly brought back to 0600. */
	assert_int_equal(chmod(f->db, 0644), 0);
	st = open_ok(f);
	assert_int_equal(file_mode(f->db), 0600);
	lun_store_close(st);
}

static void test_symlink_refused(void **state)
{
	struct fix *f = *state;
	char target[160];

	snprintf(target, sizeof(target), "%s/real.db", f->dir);
	assert_int_equal(symlink(target, f->db), 0);
	assert_null(lun_store_open(f->db, f->err, sizeof(f->err)));
	assert_non_null(strstr(f->err, "not a regular file"));
	unlink(target);
}

static void test_newer_version_refused(void **state)
{
	struct fix *f = *state;
	struct lun_store *st = open_ok(f);
	char want[256];

	lun_store_close(st);
	raw_sql(f->db, "UPDATE meta SET value = '99' WHERE key = 'schema_version'");
	assert_null(lun_store_open(f->db, f->err, sizeof(f->err)));
	snprintf(want, sizeof(want),
		 "store %s has schema version 99, newer than version %d that this lunaris "
		 "supports; use a newer lunaris",
		 f->db, LUN_STORE_SCHEMA_VERSION);
	assert_string_equal(f->err, want);
	/* Refusing did not touch the file. */
	assert_null(lun_store_open(f->db, f->err, sizeof(f->err)));
	assert_non_null(strstr(f->err, "schema version 99"));

	raw_sql(f->db, "UPDATE meta SET value = 'x1' WHERE key = 'schema_version'");
	assert_null(lun_store_open(f->db, f->err, sizeof(f->err)));
	assert_non_null(strstr(f->err, "has no valid schema version"));
}

static void test_migrate_empty_file(void **state)
{
	struct fix *f = *state;
	struct lun_store *st;
	unsigned m;
	int fd = open(f->db, O_WRONLY | O_CREAT | O_EXCL, 0600);

	assert_true(fd >= 0);
	close(fd);
	st = open_ok(f);
	assert_int_equal(lun_store_schema_version(st), LUN_STORE_SCHEMA_VERSION);
	assert_int_equal(lun_store_get_methods(st, &m, f->err, sizeof(f->err)), 0);
	assert_int_equal(m, LUN_DISC_STATIC | LUN_DISC_SENDTARGETS);
	lun_store_close(st);
}

static void test_foreign_database_refused(void **state)
{
	struct fix *f = *state;
	char want[256];

	raw_sql(f->db, "CREATE TABLE other (x)");
	assert_null(lun_store_open(f->db, f->err, sizeof(f->err)));
	snprintf(want, sizeof(want), "store %s is not a lunaris database", f->db);
	assert_string_equal(f->err, want);
}

static void test_garbage_file_refused(void **state)
{
	struct fix *f = *state;
	int fd = open(f->db, O_WRONLY | O_CREAT | O_EXCL, 0600);
	static const char junk[] = "this is not an SQLite database, just some text ......";

	assert_true(fd >= 0);
	for (int i = 0; i < 100; i++)
		assert_int_equal(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
	close(fd);
	assert_null(lun_store_open(f->db, f->err, sizeof(f->err)));
	assert_non_null(strstr(f->err, "not a database"));
}

struct listing {
	int n;
	char text[512];
};

static void collect_cb(const char *key, const char *value, void *arg)
{
	struct listing *l = arg;
	size_t len = strlen(l->text);

	snprintf(l->text + len, sizeof(l->text) - len, "%s=%s;", key, value);
	l->n++;
}

static void test_secrets_masked(void **state)
{
	struct fix *f = *state;
	struct lun_store *st = open_ok(f);
	const char *t = "iqn.2024-01.test:s";
	const struct lun_store_kv kv[] = {
		{ "chap-name", "user1" },
		{ "chap-secret", "secret-one-1234" },
		{ "bidir-chap-secret", "secret-two-5678" },
		{ "future-secret", "secret-three-90" },
	};
	struct listing l = { 0 };
	char small[4];

	assert_int_equal(lun_store_set_many(st, t, kv, 4, f->err, sizeof(f->err)), 0);
	assert_int_equal(lun_store_list_settings(st, t, collect_cb, &l, f->err, sizeof(f->err)),
			 4);
	assert_int_equal(l.n, 4);
	assert_string_equal(l.text, "bidir-chap-secret=********;chap-name=user1;"
				    "chap-secret=********;future-secret=********;");

	/* An error about a secret names the key, never the value. */
	assert_int_equal(lun_store_get(st, t, "chap-secret", small, sizeof(small), f->err,
				       sizeof(f->err)),
			 -1);
	assert_string_equal(f->err,
			    "setting chap-secret of target iqn.2024-01.test:s does not fit in 4 bytes");

	assert_true(lun_store_key_is_secret("chap-secret"));
	assert_true(lun_store_key_is_secret("bidir-chap-secret"));
	assert_true(lun_store_key_is_secret("target-chap-secret")); /* target-param's */
	assert_true(lun_store_key_is_secret("x-SECRET"));
	assert_false(lun_store_key_is_secret("chap-name"));
	assert_false(lun_store_key_is_secret("secret"));
	assert_false(lun_store_key_is_secret("secretive"));
	assert_false(lun_store_key_is_secret(NULL));
	lun_store_close(st);
}

static void test_scopes(void **state)
{
	struct fix *f = *state;
	struct lun_store *st = open_ok(f);
	char **v;
	struct listing l = { 0 };

	assert_int_equal(lun_store_set(st, "", "node-name", "iqn.x", f->err, sizeof(f->err)), 0);
	assert_int_equal(lun_store_set(st, "iqn.b", "alias", "1", f->err, sizeof(f->err)), 0);
	assert_int_equal(lun_store_set(st, "iqn.a", "alias", "2", f->err, sizeof(f->err)), 0);
	assert_int_equal(lun_store_set(st, "iqn.a", "data-digest", "None", f->err,
				       sizeof(f->err)),
			 0);

	assert_int_equal(lun_store_list_scopes(st, &v, f->err, sizeof(f->err)), 2);
	assert_string_equal(v[0], "iqn.a");
	assert_string_equal(v[1], "iqn.b");
	lun_store_free_strings(v, 2);

	assert_int_equal(lun_store_unset_scope(st, "iqn.a", f->err, sizeof(f->err)), 2);
	assert_int_equal(lun_store_unset_scope(st, "iqn.a", f->err, sizeof(f->err)), 0);
	assert_int_equal(lun_store_list_scopes(st, &v, f->err, sizeof(f->err)), 1);
	assert_string_equal(v[0], "iqn.b");
	lun_store_free_strings(v, 1);

	assert_int_equal(lun_store_list_settings(st, "", collect_cb, &l, f->err, sizeof(f->err)),
			 1);
	assert_string_equal(l.text, "node-name=iqn.x;");
	lun_store_close(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_new_store_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_persistence, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicates_and_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_many_atomic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_modes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_symlink_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_newer_version_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrate_empty_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_foreign_database_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_garbage_file_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_secrets_masked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scopes, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
