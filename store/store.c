/*
 * store.c - floor 4: the persistent store of lunarisd on SQLite.
 *
 * Design notes:
 *  - The file is created by us with open(O_CREAT|O_EXCL, 0600) before SQLite
 *    sees it, so it is never readable by others, not even for an instant.
 *    SQLite creates its -wal/-shm/-journal files with the mode of the
 *    database file; we also hold umask(077) while opening, when they are
 *    first created.
 *  - One connection per struct lun_store, guarded by a mutex: a transaction
 *    is a property of the connection, so two threads must not interleave
 *    their BEGIN ... COMMIT on it.  Callbacks run with the mutex released.
 *  - Every change is BEGIN IMMEDIATE ... COMMIT with WAL + synchronous=FULL:
 *    once a function returned 0 the change survives a crash or power loss.
 *  - SQL text is constant; user values only ever travel as bound parameters.
 *  - Error messages name keys, hosts and targets but never a setting value,
 *    so a secret cannot leak through an error.
 */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "util.h"

struct lun_store {
	sqlite3 *db;
	pthread_mutex_t lock;
	int version;
};

/* Internal result of a statement that hit a UNIQUE constraint. */
#define LUN_STORE_DUP (-2)

#define LUN_STORE_BUSY_MS 5000
#define LUN_STORE_MASK "********"

/* ---- schema and migrations
 *
 * Step i takes the schema from version i to i + 1 (version 0 is an empty
 * file).  Each step runs in one transaction together with the update of
 * meta.schema_version, so a crash leaves the file at one version or the
 * next, never in between.  Adding version 3 is one more entry here plus the
 * bump of LUN_STORE_SCHEMA_VERSION; a step that has shipped is never edited.
 */
static const char *const lun_store_migrations[] = {
	/* 0 -> 1 */
	"CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);"
	"CREATE TABLE methods ("
	" id INTEGER PRIMARY KEY CHECK (id = 1),"
	" static INTEGER NOT NULL CHECK (static IN (0, 1)),"
	" sendtargets INTEGER NOT NULL CHECK (sendtargets IN (0, 1)),"
	" isns INTEGER NOT NULL CHECK (isns IN (0, 1)));"
	"INSERT INTO methods (id, static, sendtargets, isns) VALUES (1, 1, 1, 0);"
	/* Host names and IPv6 literals are case-insensitive. */
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
	" tpgt INTEGER CHECK (tpgt BETWEEN 0 AND 65535)," /* NULL = any */
	" UNIQUE (target, host, port));"
	"CREATE TABLE setting ("
	" scope TEXT NOT NULL,"
	" key TEXT NOT NULL,"
	" value TEXT NOT NULL,"
	" PRIMARY KEY (scope, key)) WITHOUT ROWID;",
	/* 1 -> 2: the device cache.  Times are unix seconds, NULL for never;
	 * a path belongs to its LU and goes with it (foreign_keys is on in
	 * every connection).  The UNIQUE index, led by lu, also serves the
	 * cascade and the per-LU listing. */
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
	" region_size INTEGER CHECK (region_size BETWEEN 1 AND 4294967295));" /* NULL = default */
	"CREATE TABLE lu_path ("
	" id INTEGER PRIMARY KEY,"
	" lu TEXT NOT NULL REFERENCES lu (name) ON DELETE CASCADE,"
	" target TEXT NOT NULL,"
	" host TEXT NOT NULL COLLATE NOCASE,"
	" port INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),"
	" tpgt INTEGER CHECK (tpgt BETWEEN 0 AND 65535)," /* NULL = not known */
	" lun INTEGER NOT NULL CHECK (lun >= 0),"
	" first_seen INTEGER NOT NULL,"
	" last_seen INTEGER NOT NULL,"
	" UNIQUE (lu, target, host, port, lun));",
	/* 2 -> 3: discovered targets, the last answer of each discovery source
	 * (a discovery address or an iSNS server, by its portal name).  The
	 * UNIQUE index, led by method and source, also serves the replace and
	 * the per-source listing; id keeps the order of the answer. */
	"CREATE TABLE discovered_target ("
	" id INTEGER PRIMARY KEY,"
	" method TEXT NOT NULL CHECK (method IN ('sendtargets', 'isns')),"
	" source TEXT NOT NULL COLLATE NOCASE,"
	" target TEXT NOT NULL,"
	" host TEXT NOT NULL COLLATE NOCASE,"
	" port INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),"
	" tpgt INTEGER CHECK (tpgt BETWEEN 0 AND 65535)," /* NULL = not known */
	" last_seen INTEGER NOT NULL,"
	" UNIQUE (method, source, target, host, port, tpgt));",
};

_Static_assert(sizeof(lun_store_migrations) / sizeof(lun_store_migrations[0]) ==
		       LUN_STORE_SCHEMA_VERSION,
	       "one migration step per schema version");

/* ---- errors, statements, transactions */

static int lun_store_fail(struct lun_store *st, char *err, size_t errlen)
{
	lun_seterr(err, errlen, "store error: %s", sqlite3_errmsg(st->db));
	return -1;
}

static int lun_store_nomem(char *err, size_t errlen)
{
	lun_seterr(err, errlen, "store error: out of memory");
	return -1;
}

/*
 * Prepare sql and bind its parameters in order from the varargs, as told by
 * types: 't' a string (NULL binds NULL), 'i' an int, 'n' an int that binds
 * NULL when negative (a TPGT of -1 means "any"), 'I' an int64_t, 'T' an
 * int64_t time that binds NULL when 0 ("never").  Strings are bound
 * SQLITE_STATIC: they outlive the statement in every caller.
 */
static sqlite3_stmt *lun_store_prep(struct lun_store *st, const char *sql, const char *types,
				    char *err, size_t errlen, ...)
{
	sqlite3_stmt *stmt;
	va_list ap;
	int rc = SQLITE_OK;

	if (sqlite3_prepare_v2(st->db, sql, -1, &stmt, NULL) != SQLITE_OK) {
		lun_store_fail(st, err, errlen);
		return NULL;
	}
	va_start(ap, errlen);
	for (int i = 1; types[i - 1] && rc == SQLITE_OK; i++) {
		int64_t w;
		int v;

		switch (types[i - 1]) {
		case 't':
			rc = sqlite3_bind_text(stmt, i, va_arg(ap, const char *), -1,
					       SQLITE_STATIC);
			break;
		case 'n':
			v = va_arg(ap, int);
			rc = v < 0 ? sqlite3_bind_null(stmt, i) : sqlite3_bind_int(stmt, i, v);
			break;
		case 'I':
			rc = sqlite3_bind_int64(stmt, i, (sqlite3_int64)va_arg(ap, int64_t));
			break;
		case 'T':
			w = va_arg(ap, int64_t);
			rc = w == 0 ? sqlite3_bind_null(stmt, i)
				    : sqlite3_bind_int64(stmt, i, (sqlite3_int64)w);
			break;
		default:
			rc = sqlite3_bind_int(stmt, i, va_arg(ap, int));
			break;
		}
	}
	va_end(ap);
	if (rc != SQLITE_OK) {
		lun_store_fail(st, err, errlen);
		sqlite3_finalize(stmt);
		return NULL;
	}
	return stmt;
}

/*
 * Step a statement that returns no rows and finalize it.  Returns 0,
 * LUN_STORE_DUP on a UNIQUE violation (err holds the SQLite sentence, for
 * the caller to replace with a better one), or -1.
 */
static int lun_store_run(struct lun_store *st, sqlite3_stmt *stmt, char *err, size_t errlen)
{
	int rc;

	if (!stmt)
		return -1;
	if (sqlite3_step(stmt) == SQLITE_DONE) {
		sqlite3_finalize(stmt);
		return 0;
	}
	rc = sqlite3_extended_errcode(st->db) == SQLITE_CONSTRAINT_UNIQUE ? LUN_STORE_DUP : -1;
	lun_store_fail(st, err, errlen);
	sqlite3_finalize(stmt);
	return rc;
}

static int lun_store_exec(struct lun_store *st, const char *sql, char *err, size_t errlen)
{
	if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return lun_store_fail(st, err, errlen);
	return 0;
}

static void lun_store_rollback(struct lun_store *st)
{
	/* A failed COMMIT may or may not have ended the transaction. */
	if (!sqlite3_get_autocommit(st->db))
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
}

typedef int (*lun_store_tx_fn)(struct lun_store *st, const void *arg, char *err, size_t errlen);

/*
 * Run fn inside BEGIN IMMEDIATE ... COMMIT under the connection mutex.
 * IMMEDIATE takes the write lock up front, so a concurrent writer in another
 * process makes us wait (busy_timeout) at BEGIN instead of failing at the
 * first write.  fn returns >= 0 on success (passed through) or < 0, and any
 * failure rolls everything back.
 */
static int lun_store_in_tx(struct lun_store *st, lun_store_tx_fn fn, const void *arg, char *err,
			   size_t errlen)
{
	int rc;

	pthread_mutex_lock(&st->lock);
	rc = lun_store_exec(st, "BEGIN IMMEDIATE", err, errlen);
	if (rc == 0)
		rc = fn(st, arg, err, errlen);
	if (rc >= 0 && lun_store_exec(st, "COMMIT", err, errlen) != 0)
		rc = -1;
	if (rc < 0) {
		lun_store_rollback(st);
		rc = -1;
	}
	pthread_mutex_unlock(&st->lock);
	return rc;
}

/* Grow a malloc'ed array of n used elements to hold one more. */
static int lun_store_grow(void **arr, int n, int *cap, size_t elsize)
{
	void *p;
	int ncap;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 8;
	p = realloc(*arr, (size_t)ncap * elsize);
	if (!p)
		return -1;
	*arr = p;
	*cap = ncap;
	return 0;
}

static const char *lun_store_col(sqlite3_stmt *stmt, int i)
{
	const unsigned char *s = sqlite3_column_text(stmt, i);

	return s ? (const char *)s : "";
}

/* ---- opening: file modes */

/*
 * Bring an existing file (database or one of SQLite's side files) to mode
 * 0600 if its mode is looser; a missing file is fine.  The common case only
 * lstat()s: closing any descriptor of a file drops this process's POSIX
 * locks on it, which would silently break another SQLite connection to the
 * same file, so we open a descriptor only when there is a mode to fix.
 */
static int lun_store_restrict(const char *path, char *err, size_t errlen)
{
	struct stat sb;
	int fd;

	if (lstat(path, &sb) != 0) {
		if (errno == ENOENT)
			return 0;
		lun_seterr(err, errlen, "cannot open store %s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(sb.st_mode)) {
		lun_seterr(err, errlen, "cannot open store %s: not a regular file", path);
		return -1;
	}
	if (!(sb.st_mode & 07177))
		return 0;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fchmod(fd, 0600) != 0) {
		lun_seterr(err, errlen, "cannot open store %s: cannot restrict its mode: %s", path,
			   strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static int lun_store_restrict_side(const char *path, const char *suffix, char *err,
				   size_t errlen)
{
	size_t n = strlen(path) + strlen(suffix) + 1;
	char *p = malloc(n);
	int rc;

	if (!p)
		return lun_store_nomem(err, errlen);
	snprintf(p, n, "%s%s", path, suffix);
	rc = lun_store_restrict(p, err, errlen);
	free(p);
	return rc;
}

/* Create the database file 0600 if it does not exist, else tighten it and
 * any side files left by an earlier run. */
static int lun_store_prepare_files(const char *path, char *err, size_t errlen)
{
	static const char *const sides[] = { "-wal", "-shm", "-journal" };
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd >= 0) {
		close(fd);
	} else if (errno != EEXIST) {
		lun_seterr(err, errlen, "cannot create store %s: %s", path, strerror(errno));
		return -1;
	} else if (lun_store_restrict(path, err, errlen) != 0) {
		return -1;
	}
	for (size_t i = 0; i < sizeof(sides) / sizeof(sides[0]); i++) {
		if (lun_store_restrict_side(path, sides[i], err, errlen) != 0)
			return -1;
	}
	return 0;
}

/* ---- opening: connection and pragmas */

static int lun_store_wal(struct lun_store *st, const char *path, char *err, size_t errlen)
{
	sqlite3_stmt *stmt = lun_store_prep(st, "PRAGMA journal_mode=WAL", "", err, errlen);
	int rc = -1;

	if (!stmt)
		return -1;
	if (sqlite3_step(stmt) != SQLITE_ROW)
		lun_seterr(err, errlen, "cannot open store %s: %s", path, sqlite3_errmsg(st->db));
	else if (strcasecmp(lun_store_col(stmt, 0), "wal") != 0)
		lun_seterr(err, errlen, "cannot open store %s: WAL journal refused (mode %s)", path,
			   lun_store_col(stmt, 0));
	else
		rc = 0;
	sqlite3_finalize(stmt);
	return rc;
}

static int lun_store_connect(struct lun_store *st, const char *path, char *err, size_t errlen)
{
	const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_FULLMUTEX;

	if (sqlite3_open_v2(path, &st->db, flags, NULL) != SQLITE_OK) {
		lun_seterr(err, errlen, "cannot open store %s: %s", path,
			   st->db ? sqlite3_errmsg(st->db) : "out of memory");
		return -1;
	}
	sqlite3_extended_result_codes(st->db, 1);
	/* Refuse the few SQL features that can corrupt the file on purpose. */
	sqlite3_db_config(st->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	sqlite3_busy_timeout(st->db, LUN_STORE_BUSY_MS);
	if (lun_store_wal(st, path, err, errlen) != 0)
		return -1;
	/* synchronous and foreign_keys are per connection, not stored in the
	 * file; secure_delete zeroes freed pages, so an overwritten or removed
	 * CHAP secret does not linger in the database file. */
	return lun_store_exec(st,
			      "PRAGMA synchronous=FULL;"
			      "PRAGMA foreign_keys=ON;"
			      "PRAGMA secure_delete=ON;",
			      err, errlen);
}

/* ---- opening: schema version and migration */

/* Whether the file has a meta table (1), no table at all (0), or tables
 * but no meta (-1: not ours, err set). */
static int lun_store_has_meta(struct lun_store *st, const char *path, char *err, size_t errlen)
{
	sqlite3_stmt *stmt;
	int rc = -1;

	stmt = lun_store_prep(st,
			      "SELECT count(*), sum(type = 'table' AND name = 'meta')"
			      " FROM sqlite_master",
			      "", err, errlen);
	if (!stmt)
		return -1;
	if (sqlite3_step(stmt) != SQLITE_ROW)
		lun_store_fail(st, err, errlen);
	else if (sqlite3_column_int(stmt, 1) > 0)
		rc = 1;
	else if (sqlite3_column_int(stmt, 0) == 0)
		rc = 0;
	else
		lun_seterr(err, errlen, "store %s is not a lunaris database", path);
	sqlite3_finalize(stmt);
	return rc;
}

/* Version of the open file: 0 for an empty file; -1 with err set for a file
 * that is not a lunaris store or has a damaged meta table. */
static int lun_store_read_version(struct lun_store *st, const char *path, char *err,
				  size_t errlen)
{
	sqlite3_stmt *stmt;
	const char *v;
	char *end;
	long ver = -1;
	int has = lun_store_has_meta(st, path, err, errlen);

	if (has <= 0)
		return has;
	stmt = lun_store_prep(st, "SELECT value FROM meta WHERE key = 'schema_version'", "", err,
			      errlen);
	if (!stmt)
		return -1;
	v = sqlite3_step(stmt) == SQLITE_ROW ? lun_store_col(stmt, 0) : "";
	errno = 0;
	ver = strtol(v, &end, 10);
	if (errno || end == v || *end || ver < 1 || ver > 1000000) {
		lun_seterr(err, errlen, "store %s has no valid schema version", path);
		ver = -1;
	}
	sqlite3_finalize(stmt);
	return (int)ver;
}

static int lun_store_apply_step(struct lun_store *st, int from, char *err, size_t errlen)
{
	sqlite3_stmt *stmt;
	char ver[16];

	if (lun_store_exec(st, lun_store_migrations[from], err, errlen) != 0)
		return -1;
	snprintf(ver, sizeof(ver), "%d", from + 1);
	stmt = lun_store_prep(st, "INSERT OR REPLACE INTO meta (key, value)"
			      " VALUES ('schema_version', ?1)",
			      "t", err, errlen, ver);
	return lun_store_run(st, stmt, err, errlen) != 0 ? -1 : 0;
}

/*
 * Migrate step by step.  The version is read inside the write transaction,
 * so two processes opening a fresh file at once cannot both apply a step.
 */
static int lun_store_migrate(struct lun_store *st, const char *path, char *err, size_t errlen)
{
	for (;;) {
		int v;

		if (lun_store_exec(st, "BEGIN IMMEDIATE", err, errlen) != 0)
			return -1;
		v = lun_store_read_version(st, path, err, errlen);
		if (v < 0)
			break;
		if (v > LUN_STORE_SCHEMA_VERSION) {
			lun_seterr(err, errlen,
				   "store %s has schema version %d, newer than version %d that "
				   "this lunaris supports; use a newer lunaris",
				   path, v, LUN_STORE_SCHEMA_VERSION);
			break;
		}
		if (v == LUN_STORE_SCHEMA_VERSION) {
			st->version = v;
			return lun_store_exec(st, "COMMIT", err, errlen);
		}
		if (lun_store_apply_step(st, v, err, errlen) != 0 ||
		    lun_store_exec(st, "COMMIT", err, errlen) != 0)
			break;
	}
	lun_store_rollback(st);
	return -1;
}

struct lun_store *lun_store_open(const char *path, char *err, size_t errlen)
{
	struct lun_store *st;
	mode_t old;
	int rc;

	if (!path || !*path) {
		lun_seterr(err, errlen, "store path is empty");
		return NULL;
	}
	if (lun_store_prepare_files(path, err, errlen) != 0)
		return NULL;
	st = calloc(1, sizeof(*st));
	if (!st) {
		lun_store_nomem(err, errlen);
		return NULL;
	}
	pthread_mutex_init(&st->lock, NULL);
	/* SQLite creates -wal/-shm lazily, during the pragmas and the first
	 * transaction, so the umask covers all of opening.  (umask is process
	 * wide: lunarisd opens its store before it starts threads.) */
	old = umask(077);
	rc = lun_store_connect(st, path, err, errlen);
	if (rc == 0)
		rc = lun_store_migrate(st, path, err, errlen);
	umask(old);
	if (rc != 0) {
		lun_store_close(st);
		return NULL;
	}
	return st;
}

void lun_store_close(struct lun_store *st)
{
	if (!st)
		return;
	/* Every statement is finalized where it was prepared, so close cannot
	 * be refused as busy. */
	sqlite3_close(st->db);
	pthread_mutex_destroy(&st->lock);
	free(st);
}

int lun_store_schema_version(struct lun_store *st)
{
	return st->version;
}

/* ---- discovery methods */

int lun_store_get_methods(struct lun_store *st, unsigned *methods, char *err, size_t errlen)
{
	sqlite3_stmt *stmt;
	int rc = -1;

	pthread_mutex_lock(&st->lock);
	stmt = lun_store_prep(st, "SELECT static, sendtargets, isns FROM methods WHERE id = 1", "",
			      err, errlen);
	if (stmt) {
		int s = sqlite3_step(stmt);

		if (s == SQLITE_ROW) {
			*methods = (sqlite3_column_int(stmt, 0) ? LUN_DISC_STATIC : 0u) |
				   (sqlite3_column_int(stmt, 1) ? LUN_DISC_SENDTARGETS : 0u) |
				   (sqlite3_column_int(stmt, 2) ? LUN_DISC_ISNS : 0u);
			rc = 0;
		} else if (s == SQLITE_DONE) {
			lun_seterr(err, errlen, "store error: discovery methods are missing");
		} else {
			lun_store_fail(st, err, errlen);
		}
		sqlite3_finalize(stmt);
	}
	pthread_mutex_unlock(&st->lock);
	return rc;
}

static int lun_store_set_methods_tx(struct lun_store *st, const void *arg, char *err,
				    size_t errlen)
{
	unsigned m = *(const unsigned *)arg;

	if (lun_store_run(st,
			  lun_store_prep(st,
					 "UPDATE methods SET static = ?1, sendtargets = ?2, isns = ?3"
					 " WHERE id = 1",
					 "iii", err, errlen, !!(m & LUN_DISC_STATIC),
					 !!(m & LUN_DISC_SENDTARGETS), !!(m & LUN_DISC_ISNS)),
			  err, errlen) != 0)
		return -1;
	if (sqlite3_changes(st->db) != 1) {
		lun_seterr(err, errlen, "store error: discovery methods are missing");
		return -1;
	}
	return 0;
}

int lun_store_set_methods(struct lun_store *st, unsigned methods, char *err, size_t errlen)
{
	const unsigned known = LUN_DISC_STATIC | LUN_DISC_SENDTARGETS | LUN_DISC_ISNS;

	if (methods & ~known) {
		lun_seterr(err, errlen, "unknown discovery method bits 0x%x", methods & ~known);
		return -1;
	}
	return lun_store_in_tx(st, lun_store_set_methods_tx, &methods, err, errlen);
}

/* ---- portals: discovery addresses and iSNS servers */

struct lun_store_portal_kind {
	const char *what; /* for messages */
	const char *method; /* discovered_target.method of its answers */
	const char *insert_sql;
	const char *delete_sql;
	const char *list_sql;
};

static const struct lun_store_portal_kind lun_store_disc_kind = {
	"discovery address",
	"sendtargets",
	"INSERT INTO discovery_address (host, port) VALUES (?1, ?2)",
	"DELETE FROM discovery_address WHERE host = ?1 AND port = ?2",
	"SELECT host, port FROM discovery_address ORDER BY id",
};

static const struct lun_store_portal_kind lun_store_isns_kind = {
	"iSNS server",
	"isns",
	"INSERT INTO isns_server (host, port) VALUES (?1, ?2)",
	"DELETE FROM isns_server WHERE host = ?1 AND port = ?2",
	"SELECT host, port FROM isns_server ORDER BY id",
};

struct lun_store_portal_op {
	const struct lun_store_portal_kind *kind;
	const char *host;
	uint16_t port;
	char name[300]; /* "host:port", "[v6]:port" */
};

static int lun_store_check_portal(const char *host, uint16_t port, char *err, size_t errlen)
{
	if (!host || !*host) {
		lun_seterr(err, errlen, "portal host is empty");
		return -1;
	}
	if (strlen(host) >= sizeof(((struct lun_store_addr *)0)->host)) {
		lun_seterr(err, errlen, "portal host name is longer than 255 characters");
		return -1;
	}
	if (port == 0) {
		lun_seterr(err, errlen, "portal %s: port 0 is invalid", host);
		return -1;
	}
	return 0;
}

static void lun_store_portal_name(char *buf, size_t cap, const char *host, uint16_t port)
{
	if (strchr(host, ':'))
		snprintf(buf, cap, "[%s]:%u", host, (unsigned)port);
	else
		snprintf(buf, cap, "%s:%u", host, (unsigned)port);
}

static int lun_store_add_portal_tx(struct lun_store *st, const void *arg, char *err,
				   size_t errlen)
{
	const struct lun_store_portal_op *op = arg;
	int rc;

	rc = lun_store_run(st,
			   lun_store_prep(st, op->kind->insert_sql, "ti", err, errlen, op->host,
					  (int)op->port),
			   err, errlen);
	if (rc == LUN_STORE_DUP)
		lun_seterr(err, errlen, "%s %s is already configured", op->kind->what, op->name);
	return rc;
}

static int lun_store_remove_portal_tx(struct lun_store *st, const void *arg, char *err,
				      size_t errlen)
{
	const struct lun_store_portal_op *op = arg;

	if (lun_store_run(st,
			  lun_store_prep(st, op->kind->delete_sql, "ti", err, errlen, op->host,
					 (int)op->port),
			  err, errlen) != 0)
		return -1;
	if (sqlite3_changes(st->db) == 0) {
		lun_seterr(err, errlen, "%s %s is not configured", op->kind->what, op->name);
		return -1;
	}
	/* Its answer goes with it, in the same transaction: a crash in
	 * between must not leave targets that a later add of the same address
	 * would find remembered. */
	return lun_store_run(st,
			     lun_store_prep(st,
					    "DELETE FROM discovered_target"
					    " WHERE method = ?1 AND source = ?2",
					    "tt", err, errlen, op->kind->method, op->name),
			     err, errlen) != 0
		       ? -1
		       : 0;
}

static int lun_store_portal_change(struct lun_store *st, const struct lun_store_portal_kind *kind,
				   lun_store_tx_fn fn, const char *host, uint16_t port, char *err,
				   size_t errlen)
{
	struct lun_store_portal_op op = { .kind = kind, .host = host, .port = port };

	if (lun_store_check_portal(host, port, err, errlen) != 0)
		return -1;
	lun_store_portal_name(op.name, sizeof(op.name), host, port);
	return lun_store_in_tx(st, fn, &op, err, errlen);
}


/* The common end of a listing: on a failed step free the partial array and
 * say why; finalize, unlock, hand the array out.  Returns the count or -1. */
static int lun_store_list_end(struct lun_store *st, sqlite3_stmt *stmt, int rc, void *v, int n,
			      void **out, char *err, size_t errlen)
{
	if (!stmt || rc != SQLITE_DONE) {
		if (rc == SQLITE_NOMEM)
			lun_store_nomem(err, errlen);
		else if (stmt)
			lun_store_fail(st, err, errlen);
		free(v);
		v = NULL;
		n = -1;
	}
	sqlite3_finalize(stmt);
	pthread_mutex_unlock(&st->lock);
	*out = v;
	return n;
}

static int lun_store_list_portals(struct lun_store *st, const struct lun_store_portal_kind *kind,
				  struct lun_store_addr **out, char *err, size_t errlen)
{
	struct lun_store_addr *v = NULL;
	sqlite3_stmt *stmt;
	int n = 0, cap = 0, rc = SQLITE_DONE;

	*out = NULL;
	pthread_mutex_lock(&st->lock);
	stmt = lun_store_prep(st, kind->list_sql, "", err, errlen);
	while (stmt && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (lun_store_grow((void **)&v, n, &cap, sizeof(*v)) != 0) {
			rc = SQLITE_NOMEM;
			break;
		}
		lun_strlcpy(v[n].host, lun_store_col(stmt, 0), sizeof(v[n].host));
		v[n].port = (uint16_t)sqlite3_column_int(stmt, 1);
		n++;
	}
	return lun_store_list_end(st, stmt, rc, v, n, (void **)out, err, errlen);
}

int lun_store_add_discovery_address(struct lun_store *st, const char *host, uint16_t port,
				    char *err, size_t errlen)
{
	return lun_store_portal_change(st, &lun_store_disc_kind, lun_store_add_portal_tx, host,
				       port, err, errlen);
}

int lun_store_remove_discovery_address(struct lun_store *st, const char *host, uint16_t port,
				       char *err, size_t errlen)
{
	return lun_store_portal_change(st, &lun_store_disc_kind, lun_store_remove_portal_tx, host,
				       port, err, errlen);
}

int lun_store_list_discovery_addresses(struct lun_store *st, struct lun_store_addr **out,
				       char *err, size_t errlen)
{
	return lun_store_list_portals(st, &lun_store_disc_kind, out, err, errlen);
}

int lun_store_add_isns_server(struct lun_store *st, const char *host, uint16_t port, char *err,
			      size_t errlen)
{
	return lun_store_portal_change(st, &lun_store_isns_kind, lun_store_add_portal_tx, host,
				       port, err, errlen);
}

int lun_store_remove_isns_server(struct lun_store *st, const char *host, uint16_t port,
				 char *err, size_t errlen)
{
	return lun_store_portal_change(st, &lun_store_isns_kind, lun_store_remove_portal_tx, host,
				       port, err, errlen);
}

int lun_store_list_isns_servers(struct lun_store *st, struct lun_store_addr **out, char *err,
				size_t errlen)
{
	return lun_store_list_portals(st, &lun_store_isns_kind, out, err, errlen);
}

/* ---- static configurations
 *
 * A static config is identified by target and portal; the TPGT is an
 * attribute (NULL in the table for "any"), so remove ignores it.
 */

struct lun_store_static_op {
	const struct lun_store_static *s;
	char name[600]; /* "target,host:port" */
};

static int lun_store_check_static(const struct lun_store_static *s, char *err, size_t errlen)
{
	if (!s->target[0] || !memchr(s->target, '\0', sizeof(s->target))) {
		lun_seterr(err, errlen, "static config target name is empty or too long");
		return -1;
	}
	if (!memchr(s->host, '\0', sizeof(s->host))) {
		lun_seterr(err, errlen, "portal host name is longer than 255 characters");
		return -1;
	}
	if (s->tpgt < -1 || s->tpgt > 65535) {
		lun_seterr(err, errlen, "static config %s: TPGT %d is out of range", s->target,
			   s->tpgt);
		return -1;
	}
	return lun_store_check_portal(s->host, s->port, err, errlen);
}

static int lun_store_add_static_tx(struct lun_store *st, const void *arg, char *err,
				   size_t errlen)
{
	const struct lun_store_static_op *op = arg;
	int rc;

	rc = lun_store_run(st,
			   lun_store_prep(st,
					  "INSERT INTO static_config (target, host, port, tpgt)"
					  " VALUES (?1, ?2, ?3, ?4)",
					  "ttin", err, errlen, op->s->target, op->s->host,
					  (int)op->s->port, op->s->tpgt),
			   err, errlen);
	if (rc == LUN_STORE_DUP)
		lun_seterr(err, errlen, "static config %s is already configured", op->name);
	return rc;
}

static int lun_store_remove_static_tx(struct lun_store *st, const void *arg, char *err,
				      size_t errlen)
{
	const struct lun_store_static_op *op = arg;

	if (lun_store_run(st,
			  lun_store_prep(st,
					 "DELETE FROM static_config"
					 " WHERE target = ?1 AND host = ?2 AND port = ?3",
					 "tti", err, errlen, op->s->target, op->s->host,
					 (int)op->s->port),
			  err, errlen) != 0)
		return -1;
	if (sqlite3_changes(st->db) == 0) {
		lun_seterr(err, errlen, "static config %s is not configured", op->name);
		return -1;
	}
	return 0;
}

static int lun_store_static_change(struct lun_store *st, const struct lun_store_static *s,
				   lun_store_tx_fn fn, char *err, size_t errlen)
{
	struct lun_store_static_op op = { .s = s };
	char portal[300];

	if (lun_store_check_static(s, err, errlen) != 0)
		return -1;
	lun_store_portal_name(portal, sizeof(portal), s->host, s->port);
	snprintf(op.name, sizeof(op.name), "%s,%s", s->target, portal);
	return lun_store_in_tx(st, fn, &op, err, errlen);
}

int lun_store_add_static(struct lun_store *st, const struct lun_store_static *s, char *err,
			 size_t errlen)
{
	return lun_store_static_change(st, s, lun_store_add_static_tx, err, errlen);
}

int lun_store_remove_static(struct lun_store *st, const struct lun_store_static *s, char *err,
			    size_t errlen)
{
	return lun_store_static_change(st, s, lun_store_remove_static_tx, err, errlen);
}

int lun_store_list_static(struct lun_store *st, struct lun_store_static **out, char *err,
			  size_t errlen)
{
	struct lun_store_static *v = NULL;
	sqlite3_stmt *stmt;
	int n = 0, cap = 0, rc = SQLITE_DONE;

	*out = NULL;
	pthread_mutex_lock(&st->lock);
	stmt = lun_store_prep(st, "SELECT target, host, port, tpgt FROM static_config ORDER BY id",
			      "", err, errlen);
	while (stmt && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (lun_store_grow((void **)&v, n, &cap, sizeof(*v)) != 0) {
			rc = SQLITE_NOMEM;
			break;
		}
		lun_strlcpy(v[n].target, lun_store_col(stmt, 0), sizeof(v[n].target));
		lun_strlcpy(v[n].host, lun_store_col(stmt, 1), sizeof(v[n].host));
		v[n].port = (uint16_t)sqlite3_column_int(stmt, 2);
		v[n].tpgt = sqlite3_column_type(stmt, 3) == SQLITE_NULL
				    ? -1
				    : sqlite3_column_int(stmt, 3);
		n++;
	}
	return lun_store_list_end(st, stmt, rc, v, n, (void **)out, err, errlen);
}

/* ---- settings */

bool lun_store_key_is_secret(const char *key)
{
	static const char suffix[] = "-secret";
	size_t n, s = sizeof(suffix) - 1;

	if (!key)
		return false;
	n = strlen(key);
	/* Case-insensitive: masking too much is harmless, too little is not.
	 * The suffix covers the initiator's "chap-secret" and target-param's
	 * "target-chap-secret" (daemon/params.c); a new secret key must end
	 * in "-secret" too. */
	return n >= s && strcasecmp(key + n - s, suffix) == 0;
}

/* "the initiator node" or "target <name>", for messages. */
static void lun_store_scope_name(char *buf, size_t cap, const char *scope)
{
	if (!scope[0])
		lun_strlcpy(buf, "the initiator node", cap);
	else
		snprintf(buf, cap, "target %s", scope);
}

static int lun_store_check_scope(const char *scope, char *err, size_t errlen)
{
	if (!scope) {
		lun_seterr(err, errlen, "setting scope is missing");
		return -1;
	}
	return 0;
}

struct lun_store_set_op {
	const char *scope;
	const struct lun_store_kv *kv;
	size_t n;
};

static int lun_store_set_one(struct lun_store *st, const char *scope, const struct lun_store_kv *kv,
			     char *err, size_t errlen)
{
	sqlite3_stmt *stmt;

	if (!kv->value)
		stmt = lun_store_prep(st, "DELETE FROM setting WHERE scope = ?1 AND key = ?2", "tt",
				      err, errlen, scope, kv->key);
	else
		stmt = lun_store_prep(st,
				      "INSERT OR REPLACE INTO setting (scope, key, value)"
				      " VALUES (?1, ?2, ?3)",
				      "ttt", err, errlen, scope, kv->key, kv->value);
	return lun_store_run(st, stmt, err, errlen) != 0 ? -1 : 0;
}

/* Keys are checked as they are written: a bad entry in the middle of the
 * batch rolls back the entries before it (all or nothing). */
static int lun_store_set_many_tx(struct lun_store *st, const void *arg, char *err,
				 size_t errlen)
{
	const struct lun_store_set_op *op = arg;
	char where[300];

	for (size_t i = 0; i < op->n; i++) {
		if (!op->kv[i].key || !op->kv[i].key[0]) {
			lun_store_scope_name(where, sizeof(where), op->scope);
			lun_seterr(err, errlen,
				   "setting %zu of %zu for %s has no key; nothing was changed",
				   i + 1, op->n, where);
			return -1;
		}
		if (lun_store_set_one(st, op->scope, &op->kv[i], err, errlen) != 0)
			return -1;
	}
	return 0;
}

int lun_store_set_many(struct lun_store *st, const char *scope, const struct lun_store_kv *kv,
		       size_t n, char *err, size_t errlen)
{
	struct lun_store_set_op op = { .scope = scope, .kv = kv, .n = n };

	if (lun_store_check_scope(scope, err, errlen) != 0)
		return -1;
	if (n && !kv) {
		lun_seterr(err, errlen, "settings are missing");
		return -1;
	}
	return lun_store_in_tx(st, lun_store_set_many_tx, &op, err, errlen);
}

int lun_store_set(struct lun_store *st, const char *scope, const char *key, const char *value,
		  char *err, size_t errlen)
{
	const struct lun_store_kv kv = { .key = key, .value = value };

	return lun_store_set_many(st, scope, &kv, 1, err, errlen);
}

int lun_store_get(struct lun_store *st, const char *scope, const char *key, char *buf, size_t cap,
		  char *err, size_t errlen)
{
	sqlite3_stmt *stmt;
	char where[300];
	int rc = -1, s;

	if (lun_store_check_scope(scope, err, errlen) != 0)
		return -1;
	if (!key || !buf || !cap) {
		lun_seterr(err, errlen, "setting key or buffer is missing");
		return -1;
	}
	pthread_mutex_lock(&st->lock);
	stmt = lun_store_prep(st, "SELECT value FROM setting WHERE scope = ?1 AND key = ?2", "tt",
			      err, errlen, scope, key);
	if (stmt) {
		s = sqlite3_step(stmt);
		if (s == SQLITE_DONE) {
			rc = 0;
		} else if (s != SQLITE_ROW) {
			lun_store_fail(st, err, errlen);
		} else if (lun_strlcpy(buf, lun_store_col(stmt, 0), cap) >= cap) {
			/* Name the key and the size, never the (possibly secret) value. */
			lun_store_scope_name(where, sizeof(where), scope);
			lun_seterr(err, errlen, "setting %s of %s does not fit in %zu bytes", key,
				   where, cap);
		} else {
			rc = 1;
		}
		sqlite3_finalize(stmt);
	}
	pthread_mutex_unlock(&st->lock);
	return rc;
}

static int lun_store_delete_tx(struct lun_store *st, const void *arg, char *err, size_t errlen)
{
	const struct lun_store_kv *kv = arg; /* key NULL: the whole scope */
	sqlite3_stmt *stmt;

	if (kv->key)
		stmt = lun_store_prep(st, "DELETE FROM setting WHERE scope = ?1 AND key = ?2", "tt",
				      err, errlen, kv->value, kv->key);
	else
		stmt = lun_store_prep(st, "DELETE FROM setting WHERE scope = ?1", "t", err, errlen,
				      kv->value);
	if (lun_store_run(st, stmt, err, errlen) != 0)
		return -1;
	return sqlite3_changes(st->db);
}

int lun_store_unset(struct lun_store *st, const char *scope, const char *key, char *err,
		    size_t errlen)
{
	/* kv.value carries the scope here: the delete needs no value. */
	const struct lun_store_kv kv = { .key = key, .value = scope };

	if (lun_store_check_scope(scope, err, errlen) != 0)
		return -1;
	if (!key || !key[0]) {
		lun_seterr(err, errlen, "setting key is missing");
		return -1;
	}
	return lun_store_in_tx(st, lun_store_delete_tx, &kv, err, errlen);
}

int lun_store_unset_scope(struct lun_store *st, const char *scope, char *err, size_t errlen)
{
	const struct lun_store_kv kv = { .key = NULL, .value = scope };

	if (lun_store_check_scope(scope, err, errlen) != 0)
		return -1;
	return lun_store_in_tx(st, lun_store_delete_tx, &kv, err, errlen);
}

void lun_store_free_strings(char **v, int n)
{
	if (!v)
		return;
	for (int i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/*
 * Run a query whose rows are ncol text columns and collect them as
 * malloc'ed strings, row after row, into *out.  Returns the row count or -1.
 * When mask_col >= 0, that column reads LUN_STORE_MASK in rows whose column
 * 0 is a secret key: the secret is never even copied.
 */
static int lun_store_collect(struct lun_store *st, sqlite3_stmt *stmt, int ncol, int mask_col,
			     char ***out, char *err, size_t errlen)
{
	char **v = NULL;
	int n = 0, cap = 0, rc = SQLITE_DONE;

	*out = NULL;
	if (!stmt)
		return -1;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		bool mask = mask_col >= 0 && lun_store_key_is_secret(lun_store_col(stmt, 0));

		for (int c = 0; c < ncol && rc == SQLITE_ROW; c++) {
			const char *s = c == mask_col && mask ? LUN_STORE_MASK
							      : lun_store_col(stmt, c);

			if (lun_store_grow((void **)&v, n, &cap, sizeof(*v)) != 0 ||
			    !(v[n] = strdup(s)))
				rc = SQLITE_NOMEM;
			else
				n++;
		}
		if (rc != SQLITE_ROW)
			break;
	}
	if (rc != SQLITE_DONE) {
		if (rc == SQLITE_NOMEM)
			lun_store_nomem(err, errlen);
		else
			lun_store_fail(st, err, errlen);
		lun_store_free_strings(v, n);
		sqlite3_finalize(stmt);
		return -1;
	}
	sqlite3_finalize(stmt);
	*out = v;
	return n / ncol;
}

int lun_store_list_scopes(struct lun_store *st, char ***out, char *err, size_t errlen)
{
	int n;

	pthread_mutex_lock(&st->lock);
	n = lun_store_collect(st,
			      lun_store_prep(st,
					     "SELECT DISTINCT scope FROM setting WHERE scope <> ''"
					     " ORDER BY scope",
					     "", err, errlen),
			      1, -1, out, err, errlen);
	pthread_mutex_unlock(&st->lock);
	return n;
}

int lun_store_list_settings(struct lun_store *st, const char *scope,
			    void (*cb)(const char *key, const char *value, void *arg), void *arg,
			    char *err, size_t errlen)
{
	char **v;
	int n;

	if (lun_store_check_scope(scope, err, errlen) != 0)
		return -1;
	pthread_mutex_lock(&st->lock);
	n = lun_store_collect(st,
			      lun_store_prep(st,
					     "SELECT key, value FROM setting WHERE scope = ?1"
					     " ORDER BY key",
					     "t", err, errlen, scope),
			      2, 1, &v, err, errlen);
	pthread_mutex_unlock(&st->lock);
	/* The callback runs unlocked, so it may call back into the store. */
	for (int i = 0; i < n; i++)
		cb(v[2 * i], v[2 * i + 1], arg);
	lun_store_free_strings(v, n > 0 ? 2 * n : 0);
	return n;
}

/* ---- the device cache
 *
 * An LU row per name and a path row per (LU, target, portal, LUN).  The
 * cache never forgets on its own: upserts add and refresh, only
 * lun_store_lu_remove deletes.  Listings read the LU rows and their paths
 * inside one read transaction, so they see one committed state even while
 * another process writes.
 */

static const char lun_store_lu_cols[] =
	"SELECT name, identifier, vendor, product, revision, size, block_size, first_seen,"
	" last_seen_online, last_open, last_opener, policy, region_size FROM lu";

static bool lun_store_fits(const char *s, size_t cap)
{
	return s && strlen(s) < cap;
}

static int lun_store_check_lu_name(const char *name, char *err, size_t errlen)
{
	if (!name || !name[0]) {
		lun_seterr(err, errlen, "logical unit name is empty");
		return -1;
	}
	if (!lun_store_fits(name, LUN_STORE_LU_NAME_MAX)) {
		lun_seterr(err, errlen, "logical unit name is longer than %d characters",
			   LUN_STORE_LU_NAME_MAX - 1);
		return -1;
	}
	return 0;
}

static int lun_store_check_time(int64_t now, char *err, size_t errlen)
{
	if (now <= 0) {
		lun_seterr(err, errlen, "store error: time %lld is not a unix time",
			   (long long)now);
		return -1;
	}
	return 0;
}

static int lun_store_check_lu(const struct lun_store_lu *lu, char *err, size_t errlen)
{
	/* the caller's arrays may be full to the last byte: look before strlen */
	if (!memchr(lu->name, '\0', sizeof(lu->name))) {
		lun_seterr(err, errlen, "logical unit name is longer than %d characters",
			   LUN_STORE_LU_NAME_MAX - 1);
		return -1;
	}
	if (lun_store_check_lu_name(lu->name, err, errlen) != 0)
		return -1;
	if (!lu->ident[0] || !memchr(lu->ident, '\0', sizeof(lu->ident))) {
		lun_seterr(err, errlen, "logical unit %s: identifier is empty or too long",
			   lu->name);
		return -1;
	}
	if (!memchr(lu->vendor, '\0', sizeof(lu->vendor)) ||
	    !memchr(lu->product, '\0', sizeof(lu->product)) ||
	    !memchr(lu->revision, '\0', sizeof(lu->revision))) {
		lun_seterr(err, errlen, "logical unit %s: vendor, product or revision is not "
					"terminated", lu->name);
		return -1;
	}
	if (lu->size > INT64_MAX) {
		lun_seterr(err, errlen, "logical unit %s: size %llu is out of range", lu->name,
			   (unsigned long long)lu->size);
		return -1;
	}
	if (lu->npaths < 0 || (lu->npaths > 0 && !lu->paths)) {
		lun_seterr(err, errlen, "logical unit %s: paths are missing", lu->name);
		return -1;
	}
	for (int i = 0; i < lu->npaths; i++) {
		const struct lun_store_lu_path *p = &lu->paths[i];

		if (!p->target[0] || !memchr(p->target, '\0', sizeof(p->target))) {
			lun_seterr(err, errlen, "logical unit %s: path %d: target name is empty "
						"or too long", lu->name, i + 1);
			return -1;
		}
		if (!memchr(p->host, '\0', sizeof(p->host))) {
			lun_seterr(err, errlen, "portal host name is longer than 255 characters");
			return -1;
		}
		if (lun_store_check_portal(p->host, p->port, err, errlen) != 0)
			return -1;
		if (p->tpgt < -1 || p->tpgt > 65535) {
			lun_seterr(err, errlen, "logical unit %s: path %d: TPGT %d is out of range",
				   lu->name, i + 1, p->tpgt);
			return -1;
		}
		if (p->lun > INT64_MAX) {
			lun_seterr(err, errlen,
				   "logical unit %s: path %d: LUN %llu is out of range", lu->name,
				   i + 1, (unsigned long long)p->lun);
			return -1;
		}
	}
	return 0;
}

struct lun_store_lu_op {
	const struct lun_store_lu *lu;
	const char *name;
	const char *text; /* who (record_open), policy (set_policy) */
	uint32_t region_size;
	bool online;
	int64_t now;
};

static int lun_store_lu_upsert_tx(struct lun_store *st, const void *arg, char *err,
				  size_t errlen)
{
	const struct lun_store_lu_op *op = arg;
	const struct lun_store_lu *lu = op->lu;

	/* ?9 chooses whether last_seen_online moves; first_seen, the open
	 * record and the policy are never touched by a refresh. */
	if (lun_store_run(st,
			  lun_store_prep(st,
					 "INSERT INTO lu (name, identifier, vendor, product,"
					 " revision, size, block_size, first_seen,"
					 " last_seen_online)"
					 " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8,"
					 " CASE WHEN ?9 THEN ?8 END)"
					 " ON CONFLICT (name) DO UPDATE SET"
					 " identifier = excluded.identifier,"
					 " vendor = excluded.vendor, product = excluded.product,"
					 " revision = excluded.revision, size = excluded.size,"
					 " block_size = excluded.block_size,"
					 " last_seen_online = CASE WHEN ?9 THEN ?8"
					 " ELSE last_seen_online END",
					 "tttttIIIi", err, errlen, lu->name, lu->ident, lu->vendor,
					 lu->product, lu->revision, (int64_t)lu->size,
					 (int64_t)lu->block_size, op->now, (int)op->online),
			  err, errlen) != 0)
		return -1;
	for (int i = 0; i < lu->npaths; i++) {
		const struct lun_store_lu_path *p = &lu->paths[i];

		if (lun_store_run(st,
				  lun_store_prep(st,
						 "INSERT INTO lu_path (lu, target, host, port,"
						 " tpgt, lun, first_seen, last_seen)"
						 " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)"
						 " ON CONFLICT (lu, target, host, port, lun)"
						 " DO UPDATE SET tpgt = excluded.tpgt,"
						 " last_seen = excluded.last_seen",
						 "tttinII", err, errlen, lu->name, p->target,
						 p->host, (int)p->port, p->tpgt, (int64_t)p->lun,
						 op->now),
				  err, errlen) != 0)
			return -1;
	}
	return 0;
}

int lun_store_lu_upsert(struct lun_store *st, const struct lun_store_lu *lu, bool online,
			int64_t now, char *err, size_t errlen)
{
	struct lun_store_lu_op op = { .lu = lu, .online = online, .now = now };

	if (!lu) {
		lun_seterr(err, errlen, "logical unit is missing");
		return -1;
	}
	if (lun_store_check_lu(lu, err, errlen) != 0 ||
	    lun_store_check_time(now, err, errlen) != 0)
		return -1;
	return lun_store_in_tx(st, lun_store_lu_upsert_tx, &op, err, errlen);
}

/* One UPDATE of an LU row; a name not in the cache is an error. */
static int lun_store_lu_update(struct lun_store *st, sqlite3_stmt *stmt, const char *name,
			       char *err, size_t errlen)
{
	if (lun_store_run(st, stmt, err, errlen) != 0)
		return -1;
	if (sqlite3_changes(st->db) == 0) {
		lun_seterr(err, errlen, "logical unit %s is not in the device cache", name);
		return -1;
	}
	return 0;
}

static int lun_store_lu_online_tx(struct lun_store *st, const void *arg, char *err,
				  size_t errlen)
{
	const struct lun_store_lu_op *op = arg;

	return lun_store_lu_update(st,
				   lun_store_prep(st,
						  "UPDATE lu SET last_seen_online = ?2"
						  " WHERE name = ?1",
						  "tI", err, errlen, op->name, op->now),
				   op->name, err, errlen);
}

int lun_store_lu_mark_online(struct lun_store *st, const char *name, int64_t now, char *err,
			     size_t errlen)
{
	struct lun_store_lu_op op = { .name = name, .now = now };

	if (lun_store_check_lu_name(name, err, errlen) != 0 ||
	    lun_store_check_time(now, err, errlen) != 0)
		return -1;
	return lun_store_in_tx(st, lun_store_lu_online_tx, &op, err, errlen);
}

static int lun_store_lu_open_tx(struct lun_store *st, const void *arg, char *err,
				size_t errlen)
{
	const struct lun_store_lu_op *op = arg;

	return lun_store_lu_update(st,
				   lun_store_prep(st,
						  "UPDATE lu SET last_open = ?2, last_opener = ?3"
						  " WHERE name = ?1",
						  "tIt", err, errlen, op->name, op->now, op->text),
				   op->name, err, errlen);
}

int lun_store_lu_record_open(struct lun_store *st, const char *name, const char *who,
			     int64_t now, char *err, size_t errlen)
{
	struct lun_store_lu_op op = { .name = name, .text = who, .now = now };

	if (lun_store_check_lu_name(name, err, errlen) != 0 ||
	    lun_store_check_time(now, err, errlen) != 0)
		return -1;
	if (!who || !lun_store_fits(who, sizeof(((struct lun_store_lu *)0)->last_opener))) {
		lun_seterr(err, errlen, "logical unit %s: the opener is missing or longer than "
					"255 characters", name);
		return -1;
	}
	return lun_store_in_tx(st, lun_store_lu_open_tx, &op, err, errlen);
}

static int lun_store_lu_policy_tx(struct lun_store *st, const void *arg, char *err,
				  size_t errlen)
{
	const struct lun_store_lu_op *op = arg;

	/* region size 0 ("the default") is stored as NULL: 'T' binds 0 so */
	return lun_store_lu_update(st,
				   lun_store_prep(st,
						  "UPDATE lu SET policy = ?2, region_size = ?3"
						  " WHERE name = ?1",
						  "ttT", err, errlen, op->name, op->text,
						  (int64_t)op->region_size),
				   op->name, err, errlen);
}

int lun_store_lu_set_policy(struct lun_store *st, const char *name, const char *policy,
			    uint32_t region_size, char *err, size_t errlen)
{
	struct lun_store_lu_op op = { .name = name, .text = policy, .region_size = region_size };

	if (lun_store_check_lu_name(name, err, errlen) != 0)
		return -1;
	if (!policy || !policy[0] ||
	    !lun_store_fits(policy, sizeof(((struct lun_store_lu *)0)->policy))) {
		lun_seterr(err, errlen, "logical unit %s: the policy is empty or longer than 31 "
					"characters", name);
		return -1;
	}
	return lun_store_in_tx(st, lun_store_lu_policy_tx, &op, err, errlen);
}

static int lun_store_lu_remove_tx(struct lun_store *st, const void *arg, char *err,
				  size_t errlen)
{
	const struct lun_store_lu_op *op = arg;

	/* The cascade would do it; saying it keeps the paths gone even in a
	 * connection someone opened without foreign_keys. */
	if (lun_store_run(st,
			  lun_store_prep(st, "DELETE FROM lu_path WHERE lu = ?1", "t", err, errlen,
					 op->name),
			  err, errlen) != 0 ||
	    lun_store_run(st,
			  lun_store_prep(st, "DELETE FROM lu WHERE name = ?1", "t", err, errlen,
					 op->name),
			  err, errlen) != 0)
		return -1;
	return sqlite3_changes(st->db) ? 1 : 0;
}

int lun_store_lu_remove(struct lun_store *st, const char *name, char *err, size_t errlen)
{
	struct lun_store_lu_op op = { .name = name };

	if (lun_store_check_lu_name(name, err, errlen) != 0)
		return -1;
	return lun_store_in_tx(st, lun_store_lu_remove_tx, &op, err, errlen);
}

void lun_store_lu_free_paths(struct lun_store_lu *lu)
{
	if (!lu)
		return;
	free(lu->paths);
	lu->paths = NULL;
	lu->npaths = 0;
}

void lun_store_lu_free(struct lun_store_lu *v, int n)
{
	if (!v)
		return;
	for (int i = 0; i < n; i++)
		free(v[i].paths);
	free(v);
}

static int64_t lun_store_col_time(sqlite3_stmt *stmt, int i)
{
	return sqlite3_column_type(stmt, i) == SQLITE_NULL ? 0
							   : (int64_t)sqlite3_column_int64(stmt, i);
}

/* The LU row under stmt into lu (paths not read). */
static void lun_store_lu_row(sqlite3_stmt *stmt, struct lun_store_lu *lu)
{
	memset(lu, 0, sizeof(*lu));
	lun_strlcpy(lu->name, lun_store_col(stmt, 0), sizeof(lu->name));
	lun_strlcpy(lu->ident, lun_store_col(stmt, 1), sizeof(lu->ident));
	lun_strlcpy(lu->vendor, lun_store_col(stmt, 2), sizeof(lu->vendor));
	lun_strlcpy(lu->product, lun_store_col(stmt, 3), sizeof(lu->product));
	lun_strlcpy(lu->revision, lun_store_col(stmt, 4), sizeof(lu->revision));
	lu->size = (uint64_t)sqlite3_column_int64(stmt, 5);
	lu->block_size = (uint32_t)sqlite3_column_int64(stmt, 6);
	lu->first_seen = lun_store_col_time(stmt, 7);
	lu->last_seen_online = lun_store_col_time(stmt, 8);
	lu->last_open = lun_store_col_time(stmt, 9);
	lun_strlcpy(lu->last_opener, lun_store_col(stmt, 10), sizeof(lu->last_opener));
	lun_strlcpy(lu->policy, lun_store_col(stmt, 11), sizeof(lu->policy));
	lu->region_size = (uint32_t)lun_store_col_time(stmt, 12);
}

/* The paths of lu->name through the prepared (and reset here) statement;
 * returns SQLITE_DONE or the failing step's code. */
static int lun_store_lu_paths(sqlite3_stmt *stmt, struct lun_store_lu *lu)
{
	int rc, cap = 0;

	sqlite3_reset(stmt);
	if (sqlite3_bind_text(stmt, 1, lu->name, -1, SQLITE_TRANSIENT) != SQLITE_OK)
		return SQLITE_NOMEM;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct lun_store_lu_path *p;

		if (lun_store_grow((void **)&lu->paths, lu->npaths, &cap, sizeof(*p)) != 0)
			return SQLITE_NOMEM;
		p = &lu->paths[lu->npaths++];
		memset(p, 0, sizeof(*p));
		lun_strlcpy(p->target, lun_store_col(stmt, 0), sizeof(p->target));
		lun_strlcpy(p->host, lun_store_col(stmt, 1), sizeof(p->host));
		p->port = (uint16_t)sqlite3_column_int(stmt, 2);
		p->tpgt = sqlite3_column_type(stmt, 3) == SQLITE_NULL
				  ? -1
				  : sqlite3_column_int(stmt, 3);
		p->lun = (uint64_t)sqlite3_column_int64(stmt, 4);
		p->first_seen = lun_store_col_time(stmt, 5);
		p->last_seen = lun_store_col_time(stmt, 6);
	}
	return rc;
}

/*
 * Read LU rows (all, or the one named) with their paths into a malloc'ed
 * array, inside one read transaction under the connection mutex.  Returns
 * the count or -1.
 */
static int lun_store_lu_read(struct lun_store *st, const char *name, struct lun_store_lu **out,
			     char *err, size_t errlen)
{
	struct lun_store_lu *v = NULL;
	sqlite3_stmt *lus = NULL, *paths = NULL;
	char sql[sizeof(lun_store_lu_cols) + 64];
	int n = 0, cap = 0, rc = SQLITE_DONE;

	*out = NULL;
	snprintf(sql, sizeof(sql), "%s%s", lun_store_lu_cols,
		 name ? " WHERE name = ?1" : " ORDER BY name");
	pthread_mutex_lock(&st->lock);
	if (lun_store_exec(st, "BEGIN", err, errlen) != 0) {
		pthread_mutex_unlock(&st->lock);
		return -1;
	}
	if (name)
		lus = lun_store_prep(st, sql, "t", err, errlen, name);
	else
		lus = lun_store_prep(st, sql, "", err, errlen);
	if (lus)
		paths = lun_store_prep(st,
				       "SELECT target, host, port, tpgt, lun, first_seen, last_seen"
				       " FROM lu_path WHERE lu = ?1 ORDER BY id",
				       "", err, errlen);
	while (paths && (rc = sqlite3_step(lus)) == SQLITE_ROW) {
		if (lun_store_grow((void **)&v, n, &cap, sizeof(*v)) != 0) {
			rc = SQLITE_NOMEM;
			break;
		}
		lun_store_lu_row(lus, &v[n]);
		rc = lun_store_lu_paths(paths, &v[n]);
		n++; /* counted even when its paths failed: they are freed below */
		if (rc != SQLITE_DONE)
			break;
	}
	if (!lus || !paths || rc != SQLITE_DONE) {
		if (rc == SQLITE_NOMEM)
			lun_store_nomem(err, errlen);
		else if (lus && paths)
			lun_store_fail(st, err, errlen);
		lun_store_lu_free(v, n);
		v = NULL;
		n = -1;
	}
	sqlite3_finalize(lus);
	sqlite3_finalize(paths);
	/* A read transaction: ending it cannot lose anything. */
	lun_store_rollback(st);
	pthread_mutex_unlock(&st->lock);
	*out = v;
	return n;
}

int lun_store_lu_list(struct lun_store *st, struct lun_store_lu **out, char *err, size_t errlen)
{
	return lun_store_lu_read(st, NULL, out, err, errlen);
}

int lun_store_lu_get(struct lun_store *st, const char *name, struct lun_store_lu *out,
		     char *err, size_t errlen)
{
	struct lun_store_lu *v;
	int n;

	if (!out) {
		lun_seterr(err, errlen, "logical unit buffer is missing");
		return -1;
	}
	memset(out, 0, sizeof(*out));
	if (lun_store_check_lu_name(name, err, errlen) != 0)
		return -1;
	n = lun_store_lu_read(st, name, &v, err, errlen);
	if (n <= 0)
		return n;
	*out = v[0]; /* takes over v[0].paths */
	free(v);
	return 1;
}

/* ---- discovered targets
 *
 * One row per (target, portal) of the last answer of each discovery source.
 * A replace is a DELETE of the source's rows and an INSERT per row in one
 * transaction, so a crash leaves the old answer or the new one, whole.
 */

static const char *lun_store_method_name(unsigned method)
{
	switch (method) {
	case LUN_DISC_SENDTARGETS: return "sendtargets";
	case LUN_DISC_ISNS: return "isns";
	default: return NULL;
	}
}

void lun_store_disc_source(char *buf, size_t cap, const char *host, uint16_t port)
{
	lun_store_portal_name(buf, cap, host, port);
}

static int lun_store_check_disc_source(unsigned method, const char *source, char *err,
				       size_t errlen)
{
	if (!lun_store_method_name(method)) {
		lun_seterr(err, errlen, "discovered targets: method 0x%x is not SendTargets or "
					"iSNS", method);
		return -1;
	}
	if (!source || !source[0] ||
	    !lun_store_fits(source, sizeof(((struct lun_store_disc *)0)->source))) {
		lun_seterr(err, errlen, "discovered targets: the source is empty or longer than "
					"299 characters");
		return -1;
	}
	return 0;
}

static int lun_store_check_disc(const struct lun_store_disc *d, int i, const char *source,
				char *err, size_t errlen)
{
	/* the caller's arrays may be full to the last byte: look before strlen */
	if (!d->target[0] || !memchr(d->target, '\0', sizeof(d->target))) {
		lun_seterr(err, errlen, "discovered targets of %s: row %d: target name is empty "
					"or too long", source, i + 1);
		return -1;
	}
	if (!memchr(d->host, '\0', sizeof(d->host))) {
		lun_seterr(err, errlen, "portal host name is longer than 255 characters");
		return -1;
	}
	if (lun_store_check_portal(d->host, d->port, err, errlen) != 0)
		return -1;
	if (d->tpgt < -1 || d->tpgt > 65535) {
		lun_seterr(err, errlen, "discovered targets of %s: row %d: TPGT %d is out of range",
			   source, i + 1, d->tpgt);
		return -1;
	}
	return 0;
}

struct lun_store_disc_op {
	const char *method; /* the text in the table */
	const char *source;
	const struct lun_store_disc *v;
	int n;
	int64_t now;
};

static int lun_store_disc_delete(struct lun_store *st, const struct lun_store_disc_op *op,
				 char *err, size_t errlen)
{
	if (lun_store_run(st,
			  lun_store_prep(st,
					 "DELETE FROM discovered_target"
					 " WHERE method = ?1 AND source = ?2",
					 "tt", err, errlen, op->method, op->source),
			  err, errlen) != 0)
		return -1;
	return sqlite3_changes(st->db);
}

static int lun_store_disc_replace_tx(struct lun_store *st, const void *arg, char *err,
				     size_t errlen)
{
	const struct lun_store_disc_op *op = arg;

	if (lun_store_disc_delete(st, op, err, errlen) < 0)
		return -1;
	for (int i = 0; i < op->n; i++) {
		const struct lun_store_disc *d = &op->v[i];

		/* NOT EXISTS rather than OR IGNORE: a TPGT that is not known
		 * (NULL) never conflicts in a UNIQUE index, but a twice-given
		 * row is still one row; IS compares NULL with NULL. */
		if (lun_store_run(st,
				  lun_store_prep(st,
						 "INSERT INTO discovered_target (method, source,"
						 " target, host, port, tpgt, last_seen)"
						 " SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7"
						 " WHERE NOT EXISTS (SELECT 1 FROM discovered_target"
						 " WHERE method = ?1 AND source = ?2 AND target = ?3"
						 " AND host = ?4 AND port = ?5 AND tpgt IS ?6)",
						 "ttttinI", err, errlen, op->method, op->source,
						 d->target, d->host, (int)d->port, d->tpgt, op->now),
				  err, errlen) != 0)
			return -1;
	}
	return 0;
}

int lun_store_disc_replace(struct lun_store *st, unsigned method, const char *source,
			   const struct lun_store_disc *v, int n, int64_t now, char *err,
			   size_t errlen)
{
	struct lun_store_disc_op op = { .method = lun_store_method_name(method),
					.source = source,
					.v = v,
					.n = n,
					.now = now };

	if (lun_store_check_disc_source(method, source, err, errlen) != 0 ||
	    lun_store_check_time(now, err, errlen) != 0)
		return -1;
	if (n < 0 || (n > 0 && !v)) {
		lun_seterr(err, errlen, "discovered targets of %s are missing", source);
		return -1;
	}
	for (int i = 0; i < n; i++)
		if (lun_store_check_disc(&v[i], i, source, err, errlen) != 0)
			return -1;
	return lun_store_in_tx(st, lun_store_disc_replace_tx, &op, err, errlen);
}

static int lun_store_disc_remove_tx(struct lun_store *st, const void *arg, char *err,
				    size_t errlen)
{
	return lun_store_disc_delete(st, arg, err, errlen);
}

int lun_store_disc_remove_source(struct lun_store *st, unsigned method, const char *source,
				 char *err, size_t errlen)
{
	struct lun_store_disc_op op = { .method = lun_store_method_name(method), .source = source };

	if (lun_store_check_disc_source(method, source, err, errlen) != 0)
		return -1;
	return lun_store_in_tx(st, lun_store_disc_remove_tx, &op, err, errlen);
}

int lun_store_disc_list(struct lun_store *st, unsigned method, const char *source,
			struct lun_store_disc **out, char *err, size_t errlen)
{
	static const char cols[] = "SELECT method, source, target, host, port, tpgt, last_seen"
				   " FROM discovered_target";
	struct lun_store_disc *v = NULL;
	sqlite3_stmt *stmt;
	char sql[sizeof(cols) + 96];
	int n = 0, cap = 0, rc = SQLITE_DONE;

	*out = NULL;
	if (source && lun_store_check_disc_source(method, source, err, errlen) != 0)
		return -1;
	if (!source && method && !lun_store_method_name(method)) {
		lun_seterr(err, errlen, "discovered targets: method 0x%x is not SendTargets or "
					"iSNS", method);
		return -1;
	}
	snprintf(sql, sizeof(sql), "%s%s ORDER BY method, source, id", cols,
		 source ? " WHERE method = ?1 AND source = ?2" : method ? " WHERE method = ?1" : "");
	pthread_mutex_lock(&st->lock);
	/* unused parameters bind nothing: "t" stops at the types given */
	stmt = lun_store_prep(st, sql, source ? "tt" : method ? "t" : "", err, errlen,
			      lun_store_method_name(method), source);
	while (stmt && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct lun_store_disc *d;

		if (lun_store_grow((void **)&v, n, &cap, sizeof(*v)) != 0) {
			rc = SQLITE_NOMEM;
			break;
		}
		d = &v[n++];
		memset(d, 0, sizeof(*d));
		d->method = strcmp(lun_store_col(stmt, 0), "isns") ? LUN_DISC_SENDTARGETS
								    : LUN_DISC_ISNS;
		lun_strlcpy(d->source, lun_store_col(stmt, 1), sizeof(d->source));
		lun_strlcpy(d->target, lun_store_col(stmt, 2), sizeof(d->target));
		lun_strlcpy(d->host, lun_store_col(stmt, 3), sizeof(d->host));
		d->port = (uint16_t)sqlite3_column_int(stmt, 4);
		d->tpgt = sqlite3_column_type(stmt, 5) == SQLITE_NULL
				  ? -1
				  : sqlite3_column_int(stmt, 5);
		d->last_seen = lun_store_col_time(stmt, 6);
	}
	return lun_store_list_end(st, stmt, rc, v, n, (void **)out, err, errlen);
}
