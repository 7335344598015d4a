/*
 * store.h - floor 4: the persistent store of lunarisd (SQLite).
 *
 * One database file, <state-dir>/lunaris.db, mode 0600 (it holds CHAP
 * secrets), WAL journal, synchronous=FULL: a function that returns 0 has
 * committed its change durably, so lunarisd acknowledges a change to the
 * CLI only after it returned.  Every change is one transaction.  The schema
 * carries a version; lun_store_open() migrates older files forward.
 *
 * This layer knows rows, not sockets or sessions.  Errors are sentences in
 * the caller's buffer (never containing a secret).
 */
#ifndef LUNARIS_STORE_H
#define LUNARIS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct lun_store; /* opaque */

#define LUN_STORE_SCHEMA_VERSION 3

/* Open (creating the file with mode 0600 and the schema if needed) and
 * migrate.  Refuses a file newer than LUN_STORE_SCHEMA_VERSION.  Returns
 * NULL with err set. */
struct lun_store *lun_store_open(const char *path, char *err, size_t errlen);
/* The functions below may be called from several threads: each call is
 * serialized on the store.  Open a file only once per process (closing any
 * descriptor of a file drops the process's locks on it). */
void lun_store_close(struct lun_store *st);
int lun_store_schema_version(struct lun_store *st);

/* ---- discovery methods (bit set, persisted) */
enum lun_disc_method {
	LUN_DISC_STATIC = 1,
	LUN_DISC_SENDTARGETS = 2,
	LUN_DISC_ISNS = 4,
};
/* Default for a new store: LUN_DISC_STATIC | LUN_DISC_SENDTARGETS. */
int lun_store_get_methods(struct lun_store *st, unsigned *methods, char *err, size_t errlen);
int lun_store_set_methods(struct lun_store *st, unsigned methods, char *err, size_t errlen);

/* ---- portals: discovery addresses and iSNS servers */
struct lun_store_addr {
	char host[256];
	uint16_t port;
};

/* Add: an existing identical row is an error "already configured".
 * Remove: a missing row is an error "not configured"; removing takes the
 * discovered targets of that address (or server) along, in the same
 * transaction (lun_store_disc_*). */
int lun_store_add_discovery_address(struct lun_store *st, const char *host, uint16_t port,
				    char *err, size_t errlen);
int lun_store_remove_discovery_address(struct lun_store *st, const char *host, uint16_t port,
				       char *err, size_t errlen);
/* List into a malloc'ed array (caller frees; NULL when empty), in the order
 * of adding; returns count or -1.  Hosts compare case-insensitively. */
int lun_store_list_discovery_addresses(struct lun_store *st, struct lun_store_addr **out,
				       char *err, size_t errlen);

int lun_store_add_isns_server(struct lun_store *st, const char *host, uint16_t port, char *err,
			      size_t errlen);
int lun_store_remove_isns_server(struct lun_store *st, const char *host, uint16_t port,
				 char *err, size_t errlen);
int lun_store_list_isns_servers(struct lun_store *st, struct lun_store_addr **out, char *err,
				size_t errlen);

/* ---- static configurations: target name + portal (+ TPGT, -1 = any) */
struct lun_store_static {
	char target[224];
	char host[256];
	uint16_t port;
	int tpgt;
};
/* Identified by target + host + port; remove ignores tpgt. */
int lun_store_add_static(struct lun_store *st, const struct lun_store_static *s, char *err,
			 size_t errlen);
int lun_store_remove_static(struct lun_store *st, const struct lun_store_static *s, char *err,
			    size_t errlen);
int lun_store_list_static(struct lun_store *st, struct lun_store_static **out, char *err,
			  size_t errlen);

/* ---- key/value settings of the initiator node and per target
 *
 * Scope "" is the initiator node; any other scope is a target name.
 * Keys are short names such as "node-name", "alias", "header-digest",
 * "data-digest", "authentication", "chap-name", "chap-secret",
 * "bidir-auth", "configured-sessions", and tunables "noop-interval",
 * "replacement-timeout", ... (the daemon validates keys and values; the store
 * keeps strings).  Secrets are stored only here and never listed by
 * lun_store_list_settings() (their value reads as "********").
 */
int lun_store_set(struct lun_store *st, const char *scope, const char *key, const char *value,
		  char *err, size_t errlen);
/* Several keys in one transaction (all or nothing).  lun_store_set() with a
 * NULL value removes the key like a NULL value here. */
struct lun_store_kv {
	const char *key;
	const char *value; /* NULL removes the key */
};
int lun_store_set_many(struct lun_store *st, const char *scope, const struct lun_store_kv *kv,
		       size_t n, char *err, size_t errlen);
/* Value into buf; returns 1 found, 0 absent, -1 error. */
int lun_store_get(struct lun_store *st, const char *scope, const char *key, char *buf, size_t cap,
		  char *err, size_t errlen);
/* Returns 1 if the key was removed, 0 if it was not set, -1 on error. */
int lun_store_unset(struct lun_store *st, const char *scope, const char *key, char *err,
		    size_t errlen);
/* Remove every key of a scope (remove target-param); returns how many. */
int lun_store_unset_scope(struct lun_store *st, const char *scope, char *err, size_t errlen);
/* Scopes that have settings, other than "" (targets with target-param),
 * sorted, into a malloc'ed array (NULL when none; free with
 * lun_store_free_strings); returns count or -1. */
int lun_store_list_scopes(struct lun_store *st, char ***out, char *err, size_t errlen);
void lun_store_free_strings(char **v, int n);
/* Callback per key of a scope, in key order; secrets masked.  The callback
 * runs with the store unlocked (it may call the store); returns the count. */
int lun_store_list_settings(struct lun_store *st, const char *scope,
			    void (*cb)(const char *key, const char *value, void *arg), void *arg,
			    char *err, size_t errlen);

/* Whether a key holds a secret (masked in listings). */
bool lun_store_key_is_secret(const char *key);

/* ---- the device cache (schema version 2)
 *
 * Every logical unit ever configured, keyed by its device name
 * c0t<IDENTIFIER>d0, and every path it was ever seen on.  The cache never
 * forgets on its own: an upsert adds and refreshes, it does not drop paths
 * (or LUs) that were not mentioned; only lun_store_lu_remove() (`lunaris
 * cleanup`) deletes.  Times are unix seconds given by the caller (the
 * daemon passes time(NULL); tests pass fixed values), 0 meaning "never".
 * The store keeps the policy as text; the daemon validates it.
 */
#define LUN_STORE_LU_NAME_MAX 516 /* "c0t" + 2 * 255 hex digits + "d0" + NUL */
#define LUN_STORE_LU_IDENT_MAX 511
#define LUN_STORE_LU_POLICY_DEFAULT "round-robin"

struct lun_store_lu_path {
	char target[224];
	char host[256]; /* the portal */
	uint16_t port;
	int tpgt; /* -1: not known */
	uint64_t lun; /* the LUN number on that target, < 2^63 */
	int64_t first_seen, last_seen; /* set by the store on upsert */
};

struct lun_store_lu {
	char name[LUN_STORE_LU_NAME_MAX];
	char ident[LUN_STORE_LU_IDENT_MAX]; /* uppercase hex */
	char vendor[9], product[17], revision[5];
	uint64_t size; /* bytes, < 2^63 */
	uint32_t block_size;
	int64_t first_seen; /* set by the store on the first upsert */
	int64_t last_seen_online; /* 0: never */
	int64_t last_open; /* 0: never */
	char last_opener[256]; /* "nbd by pid 42 (qemu-img)"; "" when never */
	char policy[32]; /* LUN_STORE_LU_POLICY_DEFAULT for a new LU */
	uint32_t region_size; /* logical-block region in blocks; 0: the default */
	/* Paths, in the order they were first seen: malloc'ed by list/get (free
	 * with lun_store_lu_free); read by upsert. */
	struct lun_store_lu_path *paths;
	int npaths;
};

/*
 * Insert or refresh an LU and the paths it is seen on now, in one
 * transaction.  A new LU gets first_seen = now and the default policy; an
 * existing one keeps first_seen, last_open, last_opener, policy and region
 * size and takes identifier, vendor, product, revision, size and block size
 * from lu.  Each path of lu (identified by target, host, port and LUN; the
 * TPGT is an attribute) is added with first_seen = last_seen = now, or gets
 * last_seen = now and the given TPGT; cached paths not in lu are kept as
 * they were.  With `online`, last_seen_online = now as well (the same as
 * lun_store_lu_mark_online, without a second commit).  Only name, ident,
 * vendor, product, revision, size, block_size and paths are read from lu.
 */
int lun_store_lu_upsert(struct lun_store *st, const struct lun_store_lu *lu, bool online,
			int64_t now, char *err, size_t errlen);
/* last_seen_online = now.  An LU not in the cache is an error. */
int lun_store_lu_mark_online(struct lun_store *st, const char *name, int64_t now, char *err,
			     size_t errlen);
/* last_open = now, last_opener = who (text such as "nbd by pid 42
 * (qemu-img)", at most 255 bytes).  An LU not in the cache is an error. */
int lun_store_lu_record_open(struct lun_store *st, const char *name, const char *who,
			     int64_t now, char *err, size_t errlen);
/* The load-balance policy (non-empty text, at most 31 bytes) and, for
 * logical-block, the region size in blocks (0: the default).  An LU not in
 * the cache is an error. */
int lun_store_lu_set_policy(struct lun_store *st, const char *name, const char *policy,
			    uint32_t region_size, char *err, size_t errlen);
/* Every cached LU with its paths, in name order, into a malloc'ed array
 * (NULL when empty; free with lun_store_lu_free); returns count or -1. */
int lun_store_lu_list(struct lun_store *st, struct lun_store_lu **out, char *err,
		      size_t errlen);
/* One LU with its paths into the caller's *out (free the paths with
 * lun_store_lu_free_paths); returns 1 found, 0 absent (out->paths NULL),
 * -1 error. */
int lun_store_lu_get(struct lun_store *st, const char *name, struct lun_store_lu *out,
		     char *err, size_t errlen);
/* Remove an LU and its paths; returns 1 removed, 0 when it was not cached,
 * -1 on error. */
int lun_store_lu_remove(struct lun_store *st, const char *name, char *err, size_t errlen);
/* Free an array from lun_store_lu_list, paths included. */
void lun_store_lu_free(struct lun_store_lu *v, int n);
/* Free the paths of one LU filled by lun_store_lu_get (the struct itself is
 * the caller's); leaves paths NULL and npaths 0. */
void lun_store_lu_free_paths(struct lun_store_lu *lu);

/* ---- discovered targets (schema version 3)
 *
 * The last answer of each discovery source: a SendTargets discovery address
 * or an iSNS server, named by its portal as lun_store_disc_source() writes
 * it ("host:port", "[v6]:port"; compared case-insensitively).  lunarisd
 * loads them at start as remembered answers, so it can log in to the
 * targets before (or without) the source answering again.  An answer
 * replaces the previous answer of its source as a whole: a target that is
 * not in it any more is gone.  Removing the discovery address or iSNS
 * server removes its answer too.
 */
struct lun_store_disc {
	unsigned method; /* LUN_DISC_SENDTARGETS or LUN_DISC_ISNS */
	char source[300];
	char target[224];
	char host[256]; /* the target's portal */
	uint16_t port;
	int tpgt; /* -1: not known */
	int64_t last_seen; /* unix seconds: when this answer was saved */
};

/* The source name of a portal, as the functions below expect it. */
void lun_store_disc_source(char *buf, size_t cap, const char *host, uint16_t port);
/* Replace the stored answer of (method, source) with the n rows of v (only
 * target, host, port and tpgt are read; exact duplicates are kept once),
 * last_seen = now, in one transaction: durable when it returns 0.  n = 0
 * stores an empty answer (nothing remembered). */
int lun_store_disc_replace(struct lun_store *st, unsigned method, const char *source,
			   const struct lun_store_disc *v, int n, int64_t now, char *err,
			   size_t errlen);
/* The stored rows, of every source (method 0, source NULL), of one method
 * (source NULL) or of one source, ordered by method, source and then as
 * they were given to replace, into a malloc'ed array (NULL when empty;
 * caller frees); returns count or -1. */
int lun_store_disc_list(struct lun_store *st, unsigned method, const char *source,
			struct lun_store_disc **out, char *err, size_t errlen);
/* Remove the stored answer of (method, source); returns how many rows were
 * removed (0: nothing was stored) or -1. */
int lun_store_disc_remove_source(struct lun_store *st, unsigned method, const char *source,
				 char *err, size_t errlen);

#endif
