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

#define LUN_STORE_SCHEMA_VERSION 1

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
 * Remove: a missing row is an error "not configured". */
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

#endif
