/*
 * daemon.h - floor 5: lunarisd's shared pieces.
 *
 *   main.c     arguments, directories, pid file, signals, the event loop
 *   control.c  the control socket: framing, peer credentials, dispatch
 *   config.c   the configuration objects (discovery addresses, static
 *              configs, iSNS servers, discovery methods, initiator node):
 *              validation, then one store transaction per change
 *   log.c      logging to stderr (-f) or syslog
 *   discovery.c SendTargets discovery runs in the event loop, with storm guards,
 *              and the daemon's history of state-machine steps and causes
 *   isns.c     iSNS discovery (RFC 4171): registration, SCNs, queries, in the
 *              event loop, with the same storm guards
 *   params.c   target-param (per-target login settings), the tunables, and
 *              the effective-value lookups of the session code
 *   fuse.c     the FUSE export: <run-dir>/dsk/<LU name>, served in the loop
 *   nbd.c      the NBD export: <run-dir>/nbd.sock, export names = LU names
 */
#ifndef LUNARIS_DAEMON_H
#define LUNARIS_DAEMON_H

#include <jansson.h>
#include <poll.h>
#include <stdbool.h>
#include <sys/types.h>

#include "lunaris/lunaris.h"
#include "store.h"

#define LUNARISD_VERSION "0.1"
#define LUN_CAUSE_MAX_D 512 /* a cause chain */

struct lund {
	struct lun_store *store;
	const char *state_dir, *run_dir;
	char control_path[108];
	gid_t control_gid; /* members may change state; (gid_t)-1: root only */
	int listen_fd;
	char initiator_name[224]; /* "" = the library default */
	bool offline; /* fuzzing: never open a connection */
	volatile int stop;
};

/* Reply codes (docs/control-protocol.md). */
enum {
	LUND_OK = 0,
	LUND_EBADREQ = 1,
	LUND_EPERM = 3,
	LUND_ECONFLICT = 4,
	LUND_EINTERNAL = 5,
	LUND_ENOTFOUND = 6, /* config_one: not found, cannot log in, timed out */
};

/* A request handler's outcome: result (owned) on success, else code and a
 * sentence in err. */
struct lund_reply {
	int code;
	json_t *result;
	char err[512];
	char warning[256];
	/* Nonzero: the handler answers later with lund_control_finish(deferred,
	 * ...); the client's connection waits (lund_control_defer_id()). */
	unsigned long deferred;
};

/* Who is asking, from SO_PEERCRED. */
struct lund_peer {
	pid_t pid;
	uid_t uid;
	gid_t gid;
	bool may_change;
};

/* log.c */
void lund_log_init(bool foreground);
/* Drop messages less important than max_prio (LOG_ERR, LOG_INFO, ...). */
void lund_log_set_level(int max_prio);
void lund_log(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* control.c */
int lund_control_open(struct lund *d);
void lund_control_close(struct lund *d);
/* Poll set management for the event loop in main.c. */
int lund_control_fill_pollfds(struct lund *d, struct pollfd *pfd, int max);
void lund_control_service(struct lund *d, const struct pollfd *pfd, int n);
/* Deferred replies: a handler that starts something slow sets
 * rep->deferred = lund_control_defer_id() and later calls
 * lund_control_finish() with that id; false when the client is gone. */
unsigned long lund_control_defer_id(void);
bool lund_control_finish(unsigned long id, const struct lund_reply *rep);
/* One request object in, one reply out (also the fuzz entry point). */
void lund_handle_request(struct lund *d, const struct lund_peer *peer, const json_t *req,
			 struct lund_reply *rep);

/* discovery.c */
enum {
	LUND_DISC_NEW = 1, /* a newly added address: run at once */
	LUND_DISC_FORCE = 2, /* storm protection off: a run per request */
};
void lund_discovery_request(struct lund *d, const char *host, uint16_t port, const char *cause,
			    unsigned how);
void lund_discovery_forget(const char *host, uint16_t port);
int lund_discovery_fill_pollfds(struct pollfd *pfd, int max, int *timeout_ms);
void lund_discovery_service(struct lund *d, const struct pollfd *pfd, int n);
json_t *lund_discovery_json(const char *host, uint16_t port);
void lund_discovery_shutdown(void);
/* Start discovery of every configured address (when SendTargets is on). */
void lund_discovery_all(struct lund *d, const char *cause);
void lund_discovery_all_ex(struct lund *d, const char *cause, bool force);
/* Each target of each address's last SendTargets answer ("host:port"). */
void lund_discovery_foreach_target(void (*cb)(const char *server,
					      const struct lunaris_target *t, void *arg),
				   void *arg);
/* The stored answers of discovery sources (SendTargets and iSNS), named as
 * lun_store_disc_source() names them.  `valid`: the store holds exactly
 * the record's current targets, saved at `at`. */
struct lund_disc_saved {
	bool valid;
	time_t at;
};
/* Load the stored answer of a source into *out (empty when none); returns
 * its target count, or -1 (logged) with *out empty. */
int lund_disc_load(struct lund *d, unsigned method, const char *source,
		   struct lunaris_target_list *out, struct lund_disc_saved *saved);
/* A run answered l where the record had prev: store l unless the store
 * already holds the same targets, saved less than an hour ago.  A failure
 * is logged and put in the history; the answer is used all the same. */
void lund_disc_save(struct lund *d, unsigned method, const char *source,
		    const struct lunaris_target_list *prev, const struct lunaris_target_list *l,
		    struct lund_disc_saved *saved);
/* A run is going on, deferred or owed. */
bool lund_discovery_busy(void);
/* Runs finished since the daemon started. */
uint64_t lund_discovery_completed(void);
void lund_history_add(const char *line);
json_t *lund_history_json(void);

/* isns.c: one client per configured iSNS server while the iSNS method is
 * enabled: DevAttrReg of the initiator, SCNReg, then a query of every
 * target and its portals; an SCN makes it query again (coalesced and rate
 * limited like SendTargets).  Requests do nothing while iSNS discovery is
 * disabled. */
void lund_isns_request(struct lund *d, const char *host, uint16_t port, const char *cause,
		       bool new_server);
void lund_isns_forget(const char *host, uint16_t port); /* deregister, close */
/* Every configured server, if enabled; if disabled, leave them all. */
void lund_isns_all(struct lund *d, const char *cause);
int lund_isns_fill_pollfds(struct pollfd *pfd, int max, int *timeout_ms);
void lund_isns_service(struct lund *d, const struct pollfd *pfd, int n);
/* {"targets":[{"target","address","port","tpgt"}], "registered", "queries",
 * "scn_received", "last_error", ...} */
json_t *lund_isns_json(const char *host, uint16_t port);
/* Each target of each server's last query ("host:port"). */
void lund_isns_foreach_target(void (*cb)(const char *server, const struct lunaris_target *t,
					 void *arg),
			      void *arg);
/* Deregister from every server (bounded wait) and close. */
void lund_isns_shutdown(void);

/* "<op> <object> by pid N (comm)": the first link of a cause chain. */
void lund_peer_cause(const struct lund_peer *peer, const char *what, char *buf, size_t cap);

/* busconfig.c: sessions to targets, config_one / config_all, list target */
/* Discovery (any method) finished a run: log in to what is new. */
void lund_bus_targets_changed(struct lund *d, const char *cause);
void lund_bus_config_all(struct lund *d, const char *cause);
/* The admin changed the configuration: forget the negative cache. */
void lund_bus_config_changed(const char *why);
/* config_one for an open through an export: log in to a known target, or
 * ask discovery (storm guards apply); `who` is "open by pid N (comm)".
 * Returns -1 with the reason when the answer is "no" already (negative
 * cache, login refused), 0 when the target is up or being configured: the
 * verdict then comes later through lund_lu_config_verdict(). */
int lund_bus_config_one(struct lund *d, const char *target, const char *who, char *why,
			size_t whylen);
/* lu.c: a config_one started by an open settled (found: the target is up). */
void lund_lu_config_verdict(const char *target, bool found, const char *why);
/* lu.c: logical units (lu.h has the export API) */
void lund_lu_service(struct lund *d);
int lund_lu_timeout_ms(void);
/* At start: publish every cached LU (offline until a path is back). */
void lund_lu_load_cache(struct lund *d);
void lund_lu_shutdown(void);
/* Requests that busconfig.c answers (op + object). */
bool lund_bus_owns(const char *op, const char *object);
/* After a successful configuration change (add/remove/modify). */
void lund_bus_after_change(struct lund *d, const char *op, const char *object,
			   const struct lund_peer *peer);
/* Log out of sessions that no enabled method knows any more. */
void lund_bus_prune(struct lund *d, const char *why);
/* config_one, config_all, list target, list negative-cache, list portal-stats */
void lund_bus_handle(struct lund *d, const char *op, const char *object, const json_t *args,
		     const struct lund_peer *peer, struct lund_reply *rep);
int lund_bus_fill_pollfds(struct pollfd *pfd, int max, int *timeout_ms);
void lund_bus_service(struct lund *d, const struct pollfd *pfd, int n);
/* Log out of everything (bounded wait) and fail waiting requests. */
void lund_bus_shutdown(struct lund *d);

/* config.c: handlers; each returns through rep. */
void lund_config_handle(struct lund *d, const char *op, const char *object, const json_t *args,
			const struct lund_peer *peer, struct lund_reply *rep);

/* params.c: lookups for the session code.  Each is one store read per level
 * and may be called from any thread. */

/* Effective value of a setting for a target: target-param, else
 * initiator-node, else the default; returns buf or NULL when there is no
 * value and no default.  Keys: "header-digest", "data-digest" ("none" or
 * "crc32c"), "authentication" ("none" or "chap"), "bidir-auth" ("enabled" or
 * "disabled"), "chap-name", "chap-secret" (initiator's, always from
 * initiator-node; the name defaults to the node name), "target-chap-name"
 * (defaults to the target's name), "target-chap-secret" (target-param
 * only), "configured-sessions" ("1".."4"), "tunable.<name>" (decimal seconds,
 * or "on"/"off" for storm-protection; the daemon-wide tunables come from
 * initiator-node whatever the target).  target may be NULL or "" (the
 * initiator node's view).  NULL also for an unknown key, a store error or a
 * value longer than cap (logged, without the value).  The caller wipes a
 * secret with explicit_bzero when done with it. */
const char *lund_param(struct lund *d, const char *target, const char *key, char *buf, size_t cap);
/* A numeric tunable (whole seconds) by name ("noop-interval", ...,
 * "discovery-min-interval"), with the same lookup order; target may be NULL.
 * An unknown name is a bug of the caller: logged, and 0 returned. */
unsigned lund_tunable(struct lund *d, const char *target, const char *name);
/* The initiator node's storm-protection tunable (on by default). */
bool lund_storm_protection(struct lund *d);

/* params.c: for config.c. */
void lund_target_param(struct lund *d, const char *op, const json_t *args,
		       struct lund_reply *rep);
/* The "tunables" member of `list initiator-node`; NULL with rep set on a
 * store error. */
json_t *lund_tunables_json(struct lund *d, struct lund_reply *rep);
/* Validate one tunable of a request (target: for a target-param, which may
 * not hold the daemon-wide ones); on success the store key and the value's
 * text are in key and text.  Returns -1 with rep set. */
int lund_tunable_change(const char *name, const json_t *val, bool target, char *key,
			size_t keycap, char *text, size_t textcap, struct lund_reply *rep);
/* RFC 7143 12.1.3 for modify initiator-node: -1 with rep set when `secret`
 * (may be NULL) is the CHAP secret of some target-param. */
int lund_check_initiator_secret(struct lund *d, const char *secret, struct lund_reply *rep);

/* nbd.c: the NBD export on <run-dir>/nbd.sock (mode 0660 like the control
 * socket; root and the control group).  Export names are the LU names
 * (lu.h); fixed newstyle, structured replies, many requests in flight per
 * client, answered as they complete. */
int lund_nbd_open(struct lund *d);
/* Close the socket and every client; clients with I/O still in lu.c stay
 * until it completes (lu.c's shutdown completes it). */
void lund_nbd_close(void);
int lund_nbd_fill_pollfds(struct pollfd *pfd, int max, int *timeout_ms);
void lund_nbd_service(struct lund *d, const struct pollfd *pfd, int n);

/* fuse.c: the FUSE export, <run-dir>/dsk/<name> (libfuse3 low-level API,
 * served from the event loop, no FUSE threads): one regular file per LU
 * name (online or cached), read/write/fsync/fallocate mapped to lu.h I/O.
 * Start: 0 when mounted; -1 when not (no /dev/fuse, mount refused: logged,
 * the daemon runs on without it).  A dead mount left by a killed daemon is
 * detached first.  Stop answers pending requests with EIO and unmounts;
 * slots with I/O still in lu.c stay until it completes. */
int lund_fuse_start(struct lund *d);
void lund_fuse_stop(void);
int lund_fuse_fill_pollfds(struct pollfd *pfd, int max, int *timeout_ms);
void lund_fuse_service(struct lund *d, const struct pollfd *pfd, int n);

#endif
