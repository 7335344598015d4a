/*
 * sess.h - floor 3: the session object and its one connection.
 *
 * lunaris sessions use ErrorRecoveryLevel 0 and MaxConnections 1, so a
 * session embeds exactly one connection.  The pieces are split by concern:
 *   conn.c   connection state machine (table), socket, PDU rx/tx engine
 *   sess.c   session state machine (table), CmdSN window, public API glue
 *   login.c  the login phase (stages, negotiation, CHAP, redirect)
 *   task.c   SCSI command lifecycle (Data-In, R2T, Data-Out, status)
 * This header is internal: only lib/ includes it.
 */
#ifndef LUNARIS_SESS_H
#define LUNARIS_SESS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "chap.h"
#include "lunaris/lunaris.h"
#include "pdu.h"
#include "text.h"
#include "trace.h"

/* ---- connection state machine (study section 1, RFC 7143 section 8.1) */
enum lun_conn_state {
	LUN_CONN_FREE,
	LUN_CONN_IN_LOGIN,
	LUN_CONN_LOGGED_IN,
	LUN_CONN_IN_LOGOUT,
	LUN_CONN_FAILED,
	LUN_CONN_POLLING,
	LUN_CONN_NSTATES
};

enum lun_conn_event {
	LUN_T1, /* transport connect requested */
	LUN_T5, /* final Login Response, Status-Class 0 */
	LUN_T7, /* login timed out / transport failed during login / retry window over */
	LUN_T8, /* session closed by a logout on another connection */
	LUN_T9, /* we decided to log out */
	LUN_T11, /* Async Message: target requests logout */
	LUN_T14, /* digest or protocol error (Solaris meaning) */
	LUN_T15, /* transport failure, or Async drop connection/all */
	LUN_T17, /* Logout Response received, logout failed or timed out */
	LUN_T30, /* final Login Response with a non-zero Status-Class: no retry */
	LUN_CONN_NEVENTS
};

/* ---- session state machine (study section 2) */
enum lun_sess_state {
	LUN_SESS_FREE,
	LUN_SESS_LOGGED_IN,
	LUN_SESS_FAILED,
	LUN_SESS_IN_FLUSH,
	LUN_SESS_FLUSHED,
	LUN_SESS_NSTATES
};

enum lun_sess_event {
	LUN_N1, /* a connection logged in */
	LUN_N3, /* a connection logged out */
	LUN_N5, /* a connection failed */
	LUN_N6, /* session timeout, or reinstatement cleared this instance */
	LUN_N7, /* login parameters changed: renegotiation required */
	LUN_SESS_NEVENTS
};

const char *lun_conn_state_name(enum lun_conn_state s);
const char *lun_conn_event_name(enum lun_conn_event e);
const char *lun_sess_state_name(enum lun_sess_state s);
const char *lun_sess_event_name(enum lun_sess_event e);

/* The tables, for tests and documentation: the next state, -1 when the
 * event is not valid in that state, and (connection table) LUN_CONN_NSTATES
 * for cells whose next state the recovery rule decides (free when not
 * recovering, else failed or polling). */
int lun_conn_next_state(enum lun_conn_state st, enum lun_conn_event ev);
int lun_sess_next_state(enum lun_sess_state st, enum lun_sess_event ev);

struct lun_sess;

/*
 * One PDU on its way out: header (BHS + optional header digest), data
 * slices pointing into caller or session memory, then pad + data digest.
 * `done` counts bytes already written, so partial writev()s resume.
 */
struct lun_txu {
	struct lun_txu *next;
	uint8_t hdr[LUN_BHS_LEN + LUN_DIGEST_LEN];
	uint32_t hdr_len;
	struct iovec iov[LUNARIS_MAX_IOV + 2]; /* [0] = hdr, data..., trailer */
	int iovcnt;
	uint8_t trailer[8]; /* pad (<= 3) + data digest */
	size_t total, done;
	bool queued;
	void (*sent)(struct lun_sess *s, struct lun_txu *u);
};

/* A pending R2T (RFC 7143 section 11.8). */
struct lun_r2t {
	uint32_t ttt, offset, length;
};

#define LUN_MAX_R2T 8

/* Where a timed-out command is in its escalation. */
enum lun_task_tmf {
	LUN_TMF_NONE = 0,
	LUN_TMF_ABORTING, /* ABORT TASK sent */
	LUN_TMF_RESETTING, /* LOGICAL UNIT RESET sent */
};

struct lun_task {
	struct lun_txu tx; /* SCSI Command, then its Data-Out PDUs one by one */
	uint32_t itt;
	uint16_t index;
	bool busy;
	bool cmd_sent; /* the SCSI Command PDU left the queue */
	bool waiting; /* in the wait queue (not sent yet, or to be sent again) */
	uint8_t dir; /* enum lunaris_dir */
	uint16_t lun;
	uint8_t cdb[16];
	uint32_t xfer_len;
	struct iovec iov[LUNARIS_MAX_IOV];
	int iovcnt;
	uint32_t cmdsn;
	uint32_t exp_datasn; /* next Data-In DataSN */
	uint32_t received; /* Data-In bytes */
	/* write side */
	uint32_t imm_len; /* immediate data carried by the command */
	uint32_t out_offset, out_end, out_ttt, out_datasn;
	bool out_active; /* a burst (unsolicited or R2T) is being sent */
	struct lun_r2t r2t[LUN_MAX_R2T];
	unsigned r2t_head, r2t_count;
	uint64_t deadline_ns; /* command timeout (0 = none) */
	uint64_t start_ns; /* submitted, for the latency histogram */
	uint64_t not_before_ns; /* BUSY back-off: do not send before */
	uint8_t retries; /* UNIT ATTENTION / BUSY repeats so far */
	uint8_t tmf_state; /* enum lun_task_tmf */
	uint32_t expect; /* response bytes this command will surely bring */
	struct lunaris_scsi_result result;
	lunaris_scsi_cb cb;
	void *arg;
	struct lun_task *next; /* free list, or the wait-for-window queue */
};

struct lun_sess {
	/* identity and configuration */
	unsigned id;
	char initiator[224];
	char target[224]; /* "" for discovery */
	const char *target_label; /* target or "discovery", for traces */
	char host[256];
	uint16_t port;
	char portal[280]; /* "host:port" for traces */
	char cause[LUN_CAUSE_MAX];
	uint8_t isid[6];
	uint16_t tsih;
	struct lun_chap_cfg chap_cfg;
	uint8_t chap_secret[256], chap_tsecret[256];
	char chap_user[256], chap_tuser[256];
	bool chap_enabled;
	uint8_t header_pref, data_pref;
	struct lun_params want;
	unsigned login_timeout_s, cmd_timeout_s;

	/* state machines */
	enum lun_conn_state cstate;
	enum lun_sess_state sstate;
	struct lun_trace trace;

	/* connection */
	bool offline; /* tests and fuzzers: never touch the network */
	int fd;
	bool connecting; /* non-blocking connect() in progress */
	uint64_t login_deadline_ns;
	char err[512];

	/* login */
	struct lun_nego nego;
	struct lun_chap chap;
	uint8_t login_stage; /* enum lun_login_stage we are in */
	bool login_sec_done;
	uint32_t login_itt;
	unsigned redirects;
	bool login_fail_counted; /* login.c counted this failure's reason */
	struct lun_kvlist login_out; /* keys to send next */
	uint8_t *login_accum; /* joined data of a multi-PDU (C bit) response */
	size_t login_accum_len;

	/* negotiated */
	struct lun_params params;
	bool hdigest, ddigest;

	/* sequence numbers */
	uint32_t cmdsn, exp_cmdsn, max_cmdsn, exp_statsn;
	uint32_t next_itt_gen, next_ctl_gen;

	/* tasks */
	struct lun_task *tasks;
	unsigned ntasks;
	struct lun_task *free_tasks;
	struct lun_task *wait_head, *wait_tail; /* waiting for the CmdSN window */

	/* control PDUs (login, text, logout; NOP-Out replies) */
	struct lun_txu ctl_tx, nop_tx;
	uint8_t *ctl_data; /* LUN_CTL_DATA_MAX */
	uint8_t *nop_data;
	uint32_t ctl_itt;
	bool ctl_busy; /* a control request waits for its response */

	/* text (SendTargets) */
	uint8_t *text_accum;
	size_t text_len, text_cap;
	bool text_done;

	/* logout */
	bool logout_done;

	/* recovery (lunaris_set_recovery) */
	struct lunaris_recovery rec;
	bool ever_logged_in; /* recovery only after a first successful login */
	bool recovering; /* failed/polling/in_login on the way back */
	bool polling; /* past conn_login_max: slow retries */
	bool async_logout; /* the target asked us to log out: come back after */
	bool replacement_expired; /* pending I/O was failed; new I/O fails too */
	unsigned attempt; /* re-login attempts since the failure */
	uint64_t fail_ns, next_login_ns, window_end_ns, replacement_ns;
	char down_cause[LUN_CAUSE_MAX]; /* why the connection failed */

	/* keepalive */
	uint64_t last_rx_ns; /* last PDU from the target */
	uint64_t ping_sent_ns;
	bool ping_out; /* a NOP-Out ping waits for its NOP-In */
	uint32_t ping_itt;
	struct lun_txu ping_tx;

	/* task management (command timeout escalation) */
	struct lun_txu tmf_tx;
	bool tmf_busy;
	uint8_t tmf_func;
	uint16_t tmf_lun;
	uint32_t tmf_itt, tmf_rtt;
	uint64_t tmf_deadline_ns;
	uint64_t task_tick_ns; /* no command deadline falls before this */
	uint64_t rx_expect; /* sum of the sent commands' expect */
	int rx_lowat; /* SO_RCVLOWAT in force on the socket */

	lunaris_event_cb ev_cb;
	void *ev_arg;

	/* transmit queue */
	struct lun_txu *txq_head, *txq_tail;

	/* receive engine */
	uint8_t rx_hdr[LUN_BHS_LEN + 1020 + LUN_DIGEST_LEN];
	uint32_t rx_hdr_need, rx_hdr_got;
	bool rx_in_data;
	struct lun_pdu rx_pdu;
	struct iovec rx_iov[LUNARIS_MAX_IOV + 2];
	int rx_iovcnt;
	size_t rx_data_need, rx_data_got;
	uint8_t rx_trailer[8];
	uint8_t *rxb; /* batch receive buffer, LUN_RXB_SIZE */
	uint32_t rxb_pos, rxb_len;
	uint8_t *rx_data; /* control data buffer, max_recv_dsl + 8 */
	uint32_t rx_data_cap;
	struct lun_task *rx_task; /* Data-In destination */

	struct lunaris_stats stats;
};

#define LUN_CTL_DATA_MAX (64 * 1024)
#define LUN_NTASKS 128
#define LUN_RXB_SIZE (32 * 1024)

/* conn.c */
void lun_conn_event(struct lun_sess *s, enum lun_conn_event ev, const char *cause);
int lun_conn_open(struct lun_sess *s);
void lun_conn_close(struct lun_sess *s);
void lun_conn_fail(struct lun_sess *s, enum lun_conn_event ev, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int lun_conn_service(struct lun_sess *s, short revents);
void lun_txu_queue(struct lun_sess *s, struct lun_txu *u);
/* Fill a txu with an encoded header and up to LUNARIS_MAX_IOV data slices. */
int lun_txu_build(struct lun_sess *s, struct lun_txu *u, const struct lun_pdu *p,
		  const struct iovec *data, int datacnt, uint32_t data_len);
/* Point iov at [off, off+len) of src; returns count or -1. */
int lun_iov_slice(const struct iovec *src, int srccnt, size_t off, size_t len,
		  struct iovec *dst, int dstcap);
/* Send a control PDU whose data is in s->ctl_data. */
int lun_send_ctl(struct lun_sess *s, struct lun_pdu *p, uint32_t data_len);

/* sess.c */
void lun_sess_event(struct lun_sess *s, enum lun_sess_event ev, const char *cause);
void lun_sess_update_sn(struct lun_sess *s, uint32_t expcmdsn, uint32_t maxcmdsn);
int lun_sess_check_statsn(struct lun_sess *s, uint32_t statsn, bool advances, const char *what);
void lun_sess_dispatch(struct lun_sess *s); /* start waiting commands */
void lun_sess_notify(struct lun_sess *s, enum lunaris_event_type type, uint16_t lun,
		     uint8_t key, uint8_t asc, uint8_t ascq, const char *text);
/* Control ITTs end in a byte no task slot uses; see task.c. */
uint32_t lun_sess_ctl_itt(struct lun_sess *s, uint8_t kind);
enum {
	LUN_ITT_TMF = 0xfa,
	LUN_ITT_PING = 0xfb,
	LUN_ITT_TEXT = 0xfc,
	LUN_ITT_LOGIN = 0xfd,
	LUN_ITT_LOGOUT = 0xfe,
};

/* login.c */
int lun_login_start(struct lun_sess *s);
int lun_login_rx(struct lun_sess *s, const struct lun_pdu *p, const uint8_t *data, size_t len);
const char *lun_login_status_str(uint8_t cls, uint8_t detail);

/* task.c */
void lun_tasks_init(struct lun_sess *s);
int lun_task_rx_data_in_begin(struct lun_sess *s, const struct lun_pdu *p);
int lun_task_rx_data_in_end(struct lun_sess *s, const struct lun_pdu *p);
int lun_task_rx_scsi_rsp(struct lun_sess *s, const struct lun_pdu *p, const uint8_t *data,
			 size_t len);
int lun_task_rx_r2t(struct lun_sess *s, const struct lun_pdu *p);
void lun_task_fail_all(struct lun_sess *s, enum lunaris_cmd_error e);
/* Connection lost, recovery pending: put every unfinished command back in
 * the wait queue in CmdSN order, to be sent again after the re-login. */
void lun_task_requeue_all(struct lun_sess *s);
int lun_task_rx_tmf_rsp(struct lun_sess *s, const struct lun_pdu *p);
void lun_task_timers(struct lun_sess *s, uint64_t now);
uint64_t lun_task_next_timer(const struct lun_sess *s);
int lun_task_send(struct lun_sess *s, struct lun_task *t);
struct lun_task *lun_task_by_itt(struct lun_sess *s, uint32_t itt);
void lun_task_complete(struct lun_sess *s, struct lun_task *t);

#endif
