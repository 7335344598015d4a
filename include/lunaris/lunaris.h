/*
 * lunaris.h - public API of liblunaris, a userspace iSCSI initiator engine.
 *
 * Model: one lunaris_session is one iSCSI session over one TCP connection
 * (ErrorRecoveryLevel 0, MaxConnections 1).  The core is asynchronous and
 * runs in the caller's event loop:
 *
 *     fd = lunaris_get_fd(s);  ev = lunaris_which_events(s);
 *     poll({fd, ev}); lunaris_service(s, revents);
 *
 * Commands are submitted with lunaris_scsi_submit() and complete through a
 * callback called from lunaris_service(); many may be in flight.  Data moves
 * between the socket and the caller's iovecs without intermediate copies.
 * Blocking convenience wrappers (the *_sync functions) run that loop for
 * you.  Nothing is global: two sessions share no state, and a session must be
 * used from one thread at a time.
 *
 * Every connection and session state-machine step is reported as a trace
 * event (see lunaris_trace_event) with the state names of the Solaris
 * initiator: `free T1 -> in_login`, `in_login T5 -> logged_in`, ...
 *
 * Functions returning int return 0 on success and -1 on failure; the
 * reason, as a sentence, is then available from lunaris_get_error().
 */
#ifndef LUNARIS_LUNARIS_H
#define LUNARIS_LUNARIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* An iSCSI session (opaque). */
typedef struct lunaris_session lunaris_session;

/* ------------------------------------------------------------------ */
/* Creation and configuration (before lunaris_connect).                */

/*
 * Create a session object for initiator `initiator_name` (an iqn.
 * name; NULL chooses lunaris_default_initiator_name()).  Returns NULL only
 * when out of memory.
 */
lunaris_session *lunaris_session_new(const char *initiator_name);

/* Close the socket if open (without a Logout), fail outstanding commands
 * with LUNARIS_ERR_SHUTDOWN and free everything.  NULL is allowed. */
void lunaris_session_free(lunaris_session *s);

/*
 * A stable default initiator name, "iqn.2024-01.org.lunaris:<hostname>",
 * written to buf (at least 224 bytes).
 */
void lunaris_default_initiator_name(char *buf, size_t cap);

/* The portal to connect to; port 0 means 3260. */
int lunaris_set_portal(lunaris_session *s, const char *host, uint16_t port);

/* The target to log in to; NULL (the default) makes this a discovery
 * session (SessionType=Discovery). */
int lunaris_set_target(lunaris_session *s, const char *target_name);

/* One-way CHAP: our CHAP name and secret.  The secret is copied and wiped
 * on free; it never appears in traces or errors. */
int lunaris_set_chap(lunaris_session *s, const char *user, const void *secret, size_t len);

/* Mutual CHAP: the name and secret the target must prove. */
int lunaris_set_target_chap(lunaris_session *s, const char *user, const void *secret, size_t len);

/* CHAP_A values to offer, as names in preference order: "md5",
 * "sha1", "sha256", "sha3-256" (comma separated).  Default "md5". */
int lunaris_set_chap_algorithms(lunaris_session *s, const char *csv);

enum lunaris_digest {
	LUNARIS_DIGEST_NONE = 0,
	LUNARIS_DIGEST_CRC32C = 1, /* offer CRC32C, accept None */
	LUNARIS_DIGEST_CRC32C_ONLY = 2, /* require CRC32C */
};
int lunaris_set_digests(lunaris_session *s, enum lunaris_digest header, enum lunaris_digest data);

/* Why this session is being opened, recorded on every trace event of its
 * login (for example "lunaris read by pid 4242").  Copied. */
int lunaris_set_cause(lunaris_session *s, const char *cause);

/* Seconds to wait for connect + login (default 30), and for a command
 * before its recovery escalates (ABORT TASK, then LOGICAL UNIT RESET, then
 * dropping the connection; default 60, 0 = never). */
int lunaris_set_timeouts(lunaris_session *s, unsigned login_seconds, unsigned command_seconds);

/*
 * What the session does when its connection fails after a successful login
 * (socket error, protocol or digest error, NOP timeout, a target's logout
 * request or drop): the connection goes to `failed`, logs in again after
 * DefaultTime2Wait and then every login_retry_interval seconds, for
 * conn_login_max seconds; after that it goes to `polling` and tries every
 * polling_interval seconds.  Each re-login reinstates the session (same
 * ISID) and re-issues, in their original order, the commands that had not
 * completed.  Meanwhile new and pending commands wait, at most
 * replacement_timeout seconds from the failure; then they fail with
 * LUNARIS_ERR_CONNECTION and the error says "replacement timeout".
 * replacement_timeout 0 fails them at once.  NOP-Out pings are sent after
 * noop_interval idle seconds (0 = never); no answer within noop_timeout
 * fails the connection.
 */
struct lunaris_recovery {
	unsigned noop_interval; /* default 5 */
	unsigned noop_timeout; /* default 5 */
	unsigned login_retry_interval; /* default 5 */
	unsigned conn_login_max; /* default 180 */
	unsigned polling_interval; /* default 60 */
	unsigned replacement_timeout; /* default 120 */
};
void lunaris_recovery_defaults(struct lunaris_recovery *r);
int lunaris_set_recovery(lunaris_session *s, const struct lunaris_recovery *r);

/* Things the application may want to know that are not errors. */
enum lunaris_event_type {
	LUNARIS_EV_UNIT_ATTENTION = 1, /* a command saw UNIT ATTENTION; it was retried */
	LUNARIS_EV_ASYNC_SCSI = 2, /* Async Message with SCSI sense (asc/ascq set) */
	LUNARIS_EV_RECONNECTED = 3, /* the session was reinstated after a failure */
	LUNARIS_EV_SESSION_LOST = 4, /* replacement timeout: pending commands failed */
};

struct lunaris_event {
	enum lunaris_event_type type;
	uint16_t lun;
	uint8_t sense_key, asc, ascq;
	const char *text; /* a sentence */
};

typedef void (*lunaris_event_cb)(lunaris_session *s, const struct lunaris_event *ev, void *arg);
void lunaris_set_event_cb(lunaris_session *s, lunaris_event_cb cb, void *arg);

/* ------------------------------------------------------------------ */
/* Trace events.                                                       */

enum lunaris_fsm {
	LUNARIS_FSM_CONN = 0,
	LUNARIS_FSM_SESS = 1,
	LUNARIS_FSM_TASK = 2, /* command timeout escalation: ABORT_TASK, LU_RESET */
};

/* One state-machine step, as emitted by the transition function. */
struct lunaris_trace_event {
	uint64_t time_ns; /* CLOCK_MONOTONIC */
	enum lunaris_fsm machine;
	unsigned id; /* connection or session id, unique in the process */
	const char *target; /* target name, or "discovery" */
	const char *portal; /* "host:port" */
	const char *from; /* state before: "free", "in_login", ... */
	const char *event; /* "T1", "T5", ..., "N1", ... */
	const char *to; /* state after */
	const char *cause; /* why (never contains a secret) */
};

typedef void (*lunaris_trace_cb)(const struct lunaris_trace_event *ev, void *arg);

/* Called synchronously for every transition of this session. */
void lunaris_set_trace_cb(lunaris_session *s, lunaris_trace_cb cb, void *arg);

/* Format an event as one line:
 * "<id> <target>@<portal> <from> <event> -> <to> (<cause>)". */
void lunaris_trace_format(const struct lunaris_trace_event *ev, char *buf, size_t cap);

/* ------------------------------------------------------------------ */
/* Event loop.                                                         */

/* Start connecting and logging in (non-blocking).  Completion is seen as
 * lunaris_is_logged_in() or an error from lunaris_service(). */
int lunaris_connect(lunaris_session *s);

/* The socket, or -1 when not connected. */
int lunaris_get_fd(const lunaris_session *s);

/* POLLIN and/or POLLOUT, as the session needs now. */
short lunaris_which_events(const lunaris_session *s);

/* Do all the work `revents` allows (read, write, timers, callbacks).
 * Returns 0, or -1 when the connection failed (error set). */
int lunaris_service(lunaris_session *s, short revents);

/* Milliseconds until the session's next timer, or -1 for none. */
int lunaris_next_timeout_ms(const lunaris_session *s);

bool lunaris_is_logged_in(const lunaris_session *s);

/* The last error as a sentence ("login failed: authentication failure
 * (0x02/0x01): ..."). */
const char *lunaris_get_error(const lunaris_session *s);

/* Wait up to timeout_ms (-1: until something happens) for the socket or a
 * timer, then service the session once.  For callers without an event
 * loop of their own.  Returns lunaris_service()'s result. */
int lunaris_poll_once(lunaris_session *s, int timeout_ms);

/* Blocking: connect and log in, running the loop until done. */
int lunaris_connect_sync(lunaris_session *s);

/* Asynchronous logout (close session): done when lunaris_is_closed(). */
int lunaris_logout_start(lunaris_session *s);
bool lunaris_is_closed(const lunaris_session *s);

/* Blocking: Logout (close session) and close the socket. */
int lunaris_logout_sync(lunaris_session *s);

/* ------------------------------------------------------------------ */
/* SCSI commands.                                                      */

enum lunaris_dir {
	LUNARIS_DIR_NONE = 0,
	LUNARIS_DIR_READ = 1, /* data from the target into iov */
	LUNARIS_DIR_WRITE = 2, /* data from iov to the target */
};

/* Transport-level outcome of a command. */
enum lunaris_cmd_error {
	LUNARIS_OK = 0, /* a SCSI status was received (see status) */
	LUNARIS_ERR_CONNECTION = 1, /* the connection failed before a status */
	LUNARIS_ERR_TIMEOUT = 2, /* no status within the command timeout */
	LUNARIS_ERR_SHUTDOWN = 3, /* the session was freed or logged out */
	LUNARIS_ERR_PROTOCOL = 4, /* the target violated the protocol */
};

struct lunaris_scsi_result {
	enum lunaris_cmd_error error;
	uint8_t status; /* SCSI status, valid when error == LUNARIS_OK */
	uint8_t response; /* iSCSI response code (0 = completed at target) */
	bool underflow, overflow;
	uint32_t residual;
	uint8_t sense[252];
	size_t sense_len;
};

typedef void (*lunaris_scsi_cb)(lunaris_session *s, const struct lunaris_scsi_result *r,
				void *arg);

/* Maximum iovec count per command. */
#define LUNARIS_MAX_IOV 16

/*
 * Queue a SCSI command to LUN `lun`.  `iov` (at most LUNARIS_MAX_IOV
 * entries, copied) is the data buffer: the caller keeps the memory valid
 * until the callback.  `xfer_len` is the expected transfer length and must
 * not exceed the iovecs' total.  The callback runs from lunaris_service()
 * (or from the *_sync call) exactly once.  Returns -1 when the session is not
 * logged in, when arguments are invalid, or when all command slots are
 * busy (error says which).
 */
int lunaris_scsi_submit(lunaris_session *s, uint16_t lun, const uint8_t *cdb, size_t cdb_len,
			enum lunaris_dir dir, const struct iovec *iov, int iovcnt, uint32_t xfer_len,
			lunaris_scsi_cb cb, void *arg);

/* Blocking form; fills *r.  Returns 0 when a status was received (check
 * r->status), -1 otherwise. */
int lunaris_scsi_sync(lunaris_session *s, uint16_t lun, const uint8_t *cdb, size_t cdb_len,
		      enum lunaris_dir dir, void *buf, uint32_t xfer_len,
		      struct lunaris_scsi_result *r);

/*
 * Multipath: while the session is recovering (its connection failed and it
 * is not logged in again yet), complete every unfinished command now with
 * LUNARIS_ERR_CONNECTION instead of holding it for the reinstatement, so
 * that the caller can send it down another path.  The callbacks run inside
 * this call.  Returns how many commands were failed; does nothing (0) while
 * the session is logged in.
 */
int lunaris_fail_pending(lunaris_session *s);

/* Number of commands that can be in flight at once on this session. */
unsigned lunaris_queue_depth(const lunaris_session *s);

/* Describe a result as a sentence: "GOOD", "CHECK CONDITION: ILLEGAL
 * REQUEST: ... (0x24/0x00)", "connection failed: ...". */
void lunaris_result_str(const struct lunaris_scsi_result *r, char *buf, size_t cap);

/* ------------------------------------------------------------------ */
/* Discovery.                                                          */

struct lunaris_portal {
	char host[256];
	uint16_t port;
	uint16_t tpgt;
};

struct lunaris_target {
	char name[224];
	size_t nportals;
	struct lunaris_portal *portals;
};

struct lunaris_target_list {
	size_t count;
	struct lunaris_target *targets;
};

/* Asynchronous SendTargets on a logged-in discovery session: start sends
 * SendTargets=All; after each lunaris_service(), result returns 0 while the
 * answer is incomplete, 1 with *out filled (multi-PDU answers joined), or -1
 * when the request or the connection failed (error set). */
int lunaris_sendtargets_start(lunaris_session *s);
int lunaris_sendtargets_result(lunaris_session *s, struct lunaris_target_list *out);

/* Blocking: on a logged-in discovery session, send SendTargets=All and
 * collect the answer (multi-PDU responses included). */
int lunaris_sendtargets_sync(lunaris_session *s, struct lunaris_target_list *out);
void lunaris_target_list_free(struct lunaris_target_list *l);

/* ------------------------------------------------------------------ */
/* Negotiated parameters and counters.                                 */

struct lunaris_session_info {
	char target_alias[256];
	uint16_t tpgt;
	uint16_t tsih;
	uint8_t isid[6];
	bool header_digest, data_digest;
	uint32_t max_recv_dsl, max_send_dsl;
	uint32_t max_burst, first_burst, max_outstanding_r2t;
	bool initial_r2t, immediate_data;
	uint32_t default_time2wait, default_time2retain;
	bool data_pdu_in_order, data_seq_in_order;
	uint32_t erl, max_connections;
	char chap_algorithm[16]; /* "" when no CHAP */
};
int lunaris_get_session_info(const lunaris_session *s, struct lunaris_session_info *out);

#define LUNARIS_LAT_BUCKETS 24

/* Counters of a session (one connection per session, so they are also the
 * connection's). */
struct lunaris_stats {
	uint64_t logins, login_failures;
	/* login failures by reason */
	uint64_t login_fail_transport; /* connect, socket, timeout */
	uint64_t login_fail_auth; /* authentication / authorization */
	uint64_t login_fail_initiator; /* other initiator-class statuses (not found, ...) */
	uint64_t login_fail_target; /* target-class statuses (retried) */
	uint64_t login_fail_negotiation; /* keys the target answered wrongly */
	uint64_t reconnects; /* successful session reinstatements */
	uint64_t connection_failures;
	uint64_t nop_out_sent, nop_timeouts, nop_in_answered;
	uint64_t commands, bytes_in, bytes_out;
	uint64_t pdus_in, pdus_out;
	uint64_t reissued; /* commands sent again after a reinstatement */
	uint64_t retries; /* commands repeated after UNIT ATTENTION or BUSY */
	uint64_t aborts, lu_resets, command_timeouts;
	uint64_t stale_pdus; /* responses for aborted commands, discarded */
	uint64_t digest_errors, rejects, async_events;
	/* command latency, submit to completion: bucket i counts commands that
	 * took [2^i, 2^(i+1)) microseconds (bucket 0 also takes < 1 us, the
	 * last bucket everything longer) */
	uint64_t latency_us[LUNARIS_LAT_BUCKETS];
};
void lunaris_get_stats(const lunaris_session *s, struct lunaris_stats *out);

#ifdef __cplusplus
}
#endif
#endif
