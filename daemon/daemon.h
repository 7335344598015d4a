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
#define LUN_CAUSE_MAX_D 256 /* a cause chain */

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
};

/* A request handler's outcome: result (owned) on success, else code and a
 * sentence in err. */
struct lund_reply {
	int code;
	json_t *result;
	char err[512];
	char warning[256];
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
/* One request object in, one reply out (also the fuzz entry point). */
void lund_handle_request(struct lund *d, const struct lund_peer *peer, const json_t *req,
			 struct lund_reply *rep);

/* discovery.c */
void lund_discovery_request(struct lund *d, const char *host, uint16_t port, const char *cause,
			    bool new_address);
void lund_discovery_forget(const char *host, uint16_t port);
int lund_discovery_fill_pollfds(struct pollfd *pfd, int max, int *timeout_ms);
void lund_discovery_service(struct lund *d, const struct pollfd *pfd, int n);
json_t *lund_discovery_json(const char *host, uint16_t port);
void lund_discovery_shutdown(void);
/* Start discovery of every configured address (when SendTargets is on). */
void lund_discovery_all(struct lund *d, const char *cause);
void lund_history_add(const char *line);
json_t *lund_history_json(void);

/* "<op> <object> by pid N (comm)": the first link of a cause chain. */
void lund_peer_cause(const struct lund_peer *peer, const char *what, char *buf, size_t cap);

/* config.c: handlers; each returns through rep. */
void lund_config_handle(struct lund *d, const char *op, const char *object, const json_t *args,
			const struct lund_peer *peer, struct lund_reply *rep);

#endif
