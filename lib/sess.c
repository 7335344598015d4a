/*
 * sess.c - floor 3: the session state machine, the CmdSN window, and the
 * public API of liblunaris (lunaris.h) on top of conn.c, login.c, task.c.
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "chap.h"
#include "scsi.h"
#include "sendtargets.h"
#include "sess.h"
#include "util.h"

/* ---- session state machine (study section 2.3) */

static const char *const sess_state_names[LUN_SESS_NSTATES] = {
	"free", "logged_in", "failed", "in_flush", "flushed",
};

static const char *const sess_event_names[LUN_SESS_NEVENTS] = {
	"N1", "N3", "N5", "N6", "N7",
};

const char *lun_sess_state_name(enum lun_sess_state st)
{
	return st < LUN_SESS_NSTATES ? sess_state_names[st] : "?";
}

const char *lun_sess_event_name(enum lun_sess_event ev)
{
	return ev < LUN_SESS_NEVENTS ? sess_event_names[ev] : "?";
}

/* Next state per (state, event); -1 marks an event that cannot happen in
 * that state (traced and ignored).  Same-state cells are the study's
 * "noop" entries. */
static const int8_t sess_table[LUN_SESS_NSTATES][LUN_SESS_NEVENTS] = {
	/*                     N1                  N3              N5                N6              N7 */
	[LUN_SESS_FREE] = { LUN_SESS_LOGGED_IN, -1, LUN_SESS_FREE, LUN_SESS_FREE, LUN_SESS_FREE },
	[LUN_SESS_LOGGED_IN] = { LUN_SESS_LOGGED_IN, LUN_SESS_FREE, LUN_SESS_FAILED,
				 LUN_SESS_LOGGED_IN, LUN_SESS_IN_FLUSH },
	[LUN_SESS_FAILED] = { LUN_SESS_LOGGED_IN, -1, LUN_SESS_FAILED, LUN_SESS_FREE,
			      LUN_SESS_FAILED },
	[LUN_SESS_IN_FLUSH] = { LUN_SESS_IN_FLUSH, LUN_SESS_FREE, LUN_SESS_FLUSHED,
				LUN_SESS_IN_FLUSH, LUN_SESS_IN_FLUSH },
	[LUN_SESS_FLUSHED] = { LUN_SESS_LOGGED_IN, -1, -1, LUN_SESS_FREE, LUN_SESS_FLUSHED },
};
/* RFC 7143 section 8.3 (initiator session states): free = Q1, logged_in =
 * Q3, failed = Q4; in_flush/flushed are the Solaris renegotiation states. */

int lun_sess_next_state(enum lun_sess_state st, enum lun_sess_event ev)
{
	if (st >= LUN_SESS_NSTATES || ev >= LUN_SESS_NEVENTS)
		return -1;
	return sess_table[st][ev];
}

void lun_sess_event(struct lun_sess *s, enum lun_sess_event ev, const char *cause)
{
	int to = sess_table[s->sstate][ev];
	struct lunaris_trace_event te = {
		.time_ns = lun_now_ns(),
		.machine = LUNARIS_FSM_SESS,
		.id = s->id,
		.target = s->target_label,
		.portal = s->portal,
		.from = lun_sess_state_name(s->sstate),
		.event = lun_sess_event_name(ev),
		.to = to < 0 ? lun_sess_state_name(s->sstate)
			     : lun_sess_state_name((enum lun_sess_state)to),
		.cause = cause,
	};

	lun_trace_emit(&s->trace, &te);
	if (to >= 0)
		s->sstate = (enum lun_sess_state)to;
}

/* ---- sequence numbers (RFC 7143 section 4.2.2) */

void lun_sess_update_sn(struct lun_sess *s, uint32_t expcmdsn, uint32_t maxcmdsn)
{
	/* A window with MaxCmdSN < ExpCmdSN - 1 is invalid and ignored
	 * (RFC 7143 4.2.2.1); older values than ours are stale. */
	if (lun_sn_lt(maxcmdsn, expcmdsn - 1))
		return;
	if (lun_sn_lt(s->exp_cmdsn, expcmdsn))
		s->exp_cmdsn = expcmdsn;
	if (lun_sn_lt(s->max_cmdsn, maxcmdsn))
		s->max_cmdsn = maxcmdsn;
}

int lun_sess_check_statsn(struct lun_sess *s, uint32_t statsn, bool advances, const char *what)
{
	if (statsn != s->exp_statsn) {
		lun_conn_fail(s, LUN_T14, "%s carries StatSN %u, expected %u", what, statsn,
			      s->exp_statsn);
		return -1;
	}
	if (advances)
		s->exp_statsn++;
	return 0;
}

static bool sess_window_open(const struct lun_sess *s)
{
	return lun_sn_le(s->cmdsn, s->max_cmdsn);
}

void lun_sess_dispatch(struct lun_sess *s)
{
	while (s->wait_head && s->cstate == LUN_CONN_LOGGED_IN && sess_window_open(s)) {
		struct lun_task *t = s->wait_head;

		/* a BUSY back-off holds the queue: order is kept */
		if (t->not_before_ns && lun_now_ns() < t->not_before_ns)
			break;
		t->not_before_ns = 0;
		s->wait_head = t->next;
		if (!s->wait_head)
			s->wait_tail = NULL;
		t->next = NULL;
		t->waiting = false;
		if (lun_task_send(s, t) < 0) {
			t->result.error = LUNARIS_ERR_PROTOCOL;
			lun_task_complete(s, t);
		}
	}
}

void lun_sess_notify(struct lun_sess *s, enum lunaris_event_type type, uint16_t lun,
		     uint8_t key, uint8_t asc, uint8_t ascq, const char *text)
{
	struct lunaris_event ev = { type, lun, key, asc, ascq, text };

	if (s->ev_cb)
		s->ev_cb((lunaris_session *)s, &ev, s->ev_arg);
}

uint32_t lun_sess_ctl_itt(struct lun_sess *s, uint8_t kind)
{
	/* Control ITTs end in 0xfa..0xfe, task ITTs in their slot (< 0x80):
	 * they can never be confused, and never equal the reserved tag. */
	s->next_ctl_gen = (s->next_ctl_gen + 1) & 0xffffff;
	return s->next_ctl_gen << 8 | kind;
}

/* ---- timers: re-login, retry window, replacement timeout, keepalive */

static uint64_t sec_ns(unsigned sec)
{
	return (uint64_t)sec * 1000000000u;
}

static void sess_replacement_expired(struct lun_sess *s)
{
	char why[LUN_CAUSE_MAX + 64];

	snprintf(why, sizeof(why), "replacement timeout (%u s): %s", s->rec.replacement_timeout,
		 s->down_cause);
	lun_seterr(s->err, sizeof(s->err),
		   "session to %s at %s lost and not restored within the replacement timeout "
		   "(%u s); last failure: %s",
		   s->target_label, s->portal, s->rec.replacement_timeout, s->down_cause);
	s->replacement_expired = true;
	lun_task_fail_all(s, LUNARIS_ERR_CONNECTION);
	lun_sess_event(s, LUN_N6, why);
	lun_sess_notify(s, LUNARIS_EV_SESSION_LOST, 0, 0, 0, 0, s->err);
}

static void sess_send_ping(struct lun_sess *s, uint64_t now)
{
	struct lun_pdu p = { .opcode = LUN_OP_NOP_OUT, .immediate = true };

	if (s->ping_tx.queued)
		return;
	p.u.nop_out.itt = s->ping_itt = lun_sess_ctl_itt(s, LUN_ITT_PING);
	p.u.nop_out.ttt = LUN_RSVD_TAG;
	p.u.nop_out.cmdsn = s->cmdsn;
	p.u.nop_out.expstatsn = s->exp_statsn;
	if (lun_txu_build(s, &s->ping_tx, &p, NULL, 0, 0) < 0)
		return;
	s->ping_tx.sent = NULL;
	lun_txu_queue(s, &s->ping_tx);
	s->ping_out = true;
	s->ping_sent_ns = now;
	s->stats.nop_out_sent++;
	s->stats.pdus_out++;
}

static void sess_timers(struct lun_sess *s, uint64_t now)
{
	if (s->recovering && !s->replacement_expired && now >= s->replacement_ns &&
	    s->cstate != LUN_CONN_LOGGED_IN)
		sess_replacement_expired(s);
	switch (s->cstate) {
	case LUN_CONN_IN_LOGIN:
		if (now > s->login_deadline_ns)
			lun_conn_fail(s, LUN_T7, "login to %s at %s timed out after %u s",
				      s->target_label, s->portal, s->login_timeout_s);
		break;
	case LUN_CONN_FAILED:
		if (now >= s->window_end_ns) {
			char why[96];

			snprintf(why, sizeof(why), "no login within conn-login-max (%u s); polling "
						   "every %u s",
				 s->rec.conn_login_max, s->rec.polling_interval);
			lun_conn_event(s, LUN_T7, why);
			break;
		}
		/* fall through */
	case LUN_CONN_POLLING:
		if (s->recovering && now >= s->next_login_ns) {
			char why[LUN_CAUSE_MAX + 48];

			snprintf(why, sizeof(why), "reconnect attempt %u after: %s", s->attempt + 1,
				 s->down_cause);
			lun_conn_event(s, LUN_T1, why);
		}
		break;
	case LUN_CONN_LOGGED_IN:
		if (s->rec.noop_interval && s->ping_out &&
		    now - s->ping_sent_ns >= sec_ns(s->rec.noop_timeout)) {
			s->stats.nop_timeouts++;
			lun_conn_fail(s, LUN_T15, "nop timeout: no NOP-In within %u s",
				      s->rec.noop_timeout);
			break;
		}
		if (s->rec.noop_interval && !s->ping_out &&
		    now - s->last_rx_ns >= sec_ns(s->rec.noop_interval))
			sess_send_ping(s, now);
		lun_task_timers(s, now);
		break;
	default:
		break;
	}
}

static uint64_t sess_next_timer(const struct lun_sess *s)
{
	uint64_t next = UINT64_MAX;

#define EARLIER(t)                  \
	do {                        \
		if ((t) < next)     \
			next = (t); \
	} while (0)
	if (s->recovering && !s->replacement_expired)
		EARLIER(s->replacement_ns);
	switch (s->cstate) {
	case LUN_CONN_IN_LOGIN:
		EARLIER(s->login_deadline_ns);
		break;
	case LUN_CONN_FAILED:
		EARLIER(s->window_end_ns);
		/* fall through */
	case LUN_CONN_POLLING:
		if (s->recovering)
			EARLIER(s->next_login_ns);
		break;
	case LUN_CONN_LOGGED_IN:
		if (s->rec.noop_interval) {
			if (s->ping_out)
				EARLIER(s->ping_sent_ns + sec_ns(s->rec.noop_timeout));
			else
				EARLIER(s->last_rx_ns + sec_ns(s->rec.noop_interval));
		}
		EARLIER(lun_task_next_timer(s));
		break;
	default:
		break;
	}
#undef EARLIER
	return next;
}

/* The session can do nothing more by itself: not connected and not
 * coming back. */
static bool sess_dead(const struct lun_sess *s)
{
	switch (s->cstate) {
	case LUN_CONN_FREE:
		return !s->logout_done;
	case LUN_CONN_FAILED:
	case LUN_CONN_POLLING:
		return !s->recovering;
	default:
		return false;
	}
}

/* ---- creation and configuration */

static unsigned next_session_id(void)
{
	static unsigned counter; /* ids only need to be unique per process */

	return __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED);
}

void lunaris_default_initiator_name(char *buf, size_t cap)
{
	char host[200] = "localhost";

	gethostname(host, sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	for (char *p = host; *p; p++) {
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
		else if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' ||
			   *p == '.'))
			*p = '-';
	}
	snprintf(buf, cap, "iqn.2024-01.org.lunaris:%s", host);
}

lunaris_session *lunaris_session_new(const char *initiator_name)
{
	struct lun_sess *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->id = next_session_id();
	s->fd = -1;
	s->target_label = "discovery";
	s->port = 3260;
	lun_strlcpy(s->host, "127.0.0.1", sizeof(s->host));
	snprintf(s->portal, sizeof(s->portal), "%s:%u", s->host, s->port);
	if (initiator_name)
		lun_strlcpy(s->initiator, initiator_name, sizeof(s->initiator));
	else
		lunaris_default_initiator_name(s->initiator, sizeof(s->initiator));
	lun_params_defaults(&s->want);
	/* What we offer: large bursts, data with the command, many R2Ts; the
	 * target's answer decides (min/AND/OR rules). */
	s->want.max_recv_dsl = 262144;
	s->want.max_burst = 16776192;
	s->want.first_burst = 262144;
	s->want.initial_r2t = false;
	s->want.immediate_data = true;
	s->want.max_outstanding_r2t = LUN_MAX_R2T;
	lunaris_recovery_defaults(&s->rec);
	s->task_tick_ns = UINT64_MAX;
	s->chap_cfg.algs[0] = LUN_CHAP_MD5;
	s->chap_cfg.nalgs = 1;
	s->login_timeout_s = 30;
	s->cmd_timeout_s = 60;
	s->ntasks = LUN_NTASKS;
	s->tasks = calloc(s->ntasks, sizeof(*s->tasks));
	s->ctl_data = malloc(LUN_CTL_DATA_MAX);
	s->nop_data = malloc(s->want.max_recv_dsl);
	s->rx_data = malloc(s->want.max_recv_dsl + 8);
	s->rxb = malloc(LUN_RXB_SIZE);
	if (!s->tasks || !s->ctl_data || !s->nop_data || !s->rx_data || !s->rxb ||
	    RAND_bytes(s->isid + 1, 3) != 1) {
		lunaris_session_free((lunaris_session *)s);
		return NULL;
	}
	/* ISID type "Random" (RFC 7143 10.12.5): T=10b, 22 random bits in
	 * B and C, qualifier D = 0 for normal and 0xff for discovery sessions
	 * (the Solaris convention).  It stays fixed for the session's life so
	 * that a re-login reinstates the same session. */
	s->isid[0] = 0x80;
	s->isid[4] = 0;
	s->isid[5] = 0xff;
	lun_tasks_init(s);
	lun_kvlist_init(&s->login_out);
	return (lunaris_session *)s;
}

void lunaris_session_free(lunaris_session *ls)
{
	struct lun_sess *s = (struct lun_sess *)ls;

	if (!s)
		return;
	if (s->tasks)
		lun_task_fail_all(s, LUNARIS_ERR_SHUTDOWN);
	lun_conn_close(s);
	OPENSSL_cleanse(s->chap_secret, sizeof(s->chap_secret));
	OPENSSL_cleanse(s->chap_tsecret, sizeof(s->chap_tsecret));
	lun_kvlist_free(&s->login_out);
	free(s->login_accum);
	free(s->text_accum);
	free(s->tasks);
	free(s->ctl_data);
	free(s->nop_data);
	free(s->rx_data);
	free(s->rxb);
	free(s);
}

#define SESS(ls) ((struct lun_sess *)(ls))
#define CSESS(ls) ((const struct lun_sess *)(ls))

int lunaris_set_portal(lunaris_session *ls, const char *host, uint16_t port)
{
	struct lun_sess *s = SESS(ls);

	if (!host || !*host || strlen(host) >= sizeof(s->host)) {
		lun_seterr(s->err, sizeof(s->err), "invalid portal host");
		return -1;
	}
	lun_strlcpy(s->host, host, sizeof(s->host));
	s->port = port ? port : 3260;
	snprintf(s->portal, sizeof(s->portal), strchr(host, ':') ? "[%s]:%u" : "%s:%u", host,
		 s->port);
	return 0;
}

int lunaris_set_target(lunaris_session *ls, const char *target_name)
{
	struct lun_sess *s = SESS(ls);

	if (target_name && (!*target_name || strlen(target_name) > 223)) {
		lun_seterr(s->err, sizeof(s->err), "invalid target name");
		return -1;
	}
	lun_strlcpy(s->target, target_name ? target_name : "", sizeof(s->target));
	s->target_label = s->target[0] ? s->target : "discovery";
	s->isid[5] = s->target[0] ? 0 : 0xff;
	return 0;
}

static int set_secret(struct lun_sess *s, char *userbuf, uint8_t *secbuf, const char *user,
		      const void *secret, size_t len)
{
	if (!user || !*user || strlen(user) >= 256 || !secret || !len || len > 255) {
		lun_seterr(s->err, sizeof(s->err),
			   "CHAP needs a name and a secret of 1 to 255 bytes");
		return -1;
	}
	lun_strlcpy(userbuf, user, 256);
	memcpy(secbuf, secret, len);
	return 0;
}

int lunaris_set_chap(lunaris_session *ls, const char *user, const void *secret, size_t len)
{
	struct lun_sess *s = SESS(ls);

	if (set_secret(s, s->chap_user, s->chap_secret, user, secret, len) < 0)
		return -1;
	s->chap_cfg.user = s->chap_user;
	s->chap_cfg.secret = s->chap_secret;
	s->chap_cfg.secret_len = len;
	s->chap_enabled = true;
	return 0;
}

int lunaris_set_target_chap(lunaris_session *ls, const char *user, const void *secret, size_t len)
{
	struct lun_sess *s = SESS(ls);

	if (set_secret(s, s->chap_tuser, s->chap_tsecret, user, secret, len) < 0)
		return -1;
	s->chap_cfg.target_user = s->chap_tuser;
	s->chap_cfg.target_secret = s->chap_tsecret;
	s->chap_cfg.target_secret_len = len;
	s->chap_cfg.mutual = true;
	return 0;
}

int lunaris_set_chap_algorithms(lunaris_session *ls, const char *csv)
{
	struct lun_sess *s = SESS(ls);
	int n = lun_chap_parse_alg_list(csv, s->chap_cfg.algs, s->err, sizeof(s->err));

	if (n < 0)
		return -1;
	s->chap_cfg.nalgs = n;
	return 0;
}

int lunaris_set_digests(lunaris_session *ls, enum lunaris_digest header, enum lunaris_digest data)
{
	struct lun_sess *s = SESS(ls);

	if (header > LUNARIS_DIGEST_CRC32C_ONLY || data > LUNARIS_DIGEST_CRC32C_ONLY) {
		lun_seterr(s->err, sizeof(s->err), "invalid digest setting");
		return -1;
	}
	s->header_pref = (uint8_t)header;
	s->data_pref = (uint8_t)data;
	return 0;
}

int lunaris_set_cause(lunaris_session *ls, const char *cause)
{
	lun_strlcpy(SESS(ls)->cause, cause ? cause : "", sizeof(SESS(ls)->cause));
	return 0;
}

int lunaris_set_timeouts(lunaris_session *ls, unsigned login_seconds, unsigned command_seconds)
{
	SESS(ls)->login_timeout_s = login_seconds ? login_seconds : 30;
	SESS(ls)->cmd_timeout_s = command_seconds;
	return 0;
}

void lunaris_recovery_defaults(struct lunaris_recovery *r)
{
	r->noop_interval = 5;
	r->noop_timeout = 5;
	r->login_retry_interval = 5;
	r->conn_login_max = 180;
	r->polling_interval = 60;
	r->replacement_timeout = 120;
}

int lunaris_set_recovery(lunaris_session *ls, const struct lunaris_recovery *r)
{
	struct lun_sess *s = SESS(ls);

	if (r->noop_interval > 3600 || r->noop_timeout == 0 || r->noop_timeout > 3600 ||
	    r->login_retry_interval == 0 || r->login_retry_interval > 3600 ||
	    r->conn_login_max > 86400 || r->polling_interval == 0 ||
	    r->polling_interval > 86400 || r->replacement_timeout > 86400) {
		lun_seterr(s->err, sizeof(s->err),
			   "recovery settings out of range (intervals 1..3600 s, "
			   "conn-login-max and replacement-timeout up to 86400 s)");
		return -1;
	}
	s->rec = *r;
	return 0;
}

void lunaris_set_event_cb(lunaris_session *ls, lunaris_event_cb cb, void *arg)
{
	SESS(ls)->ev_cb = cb;
	SESS(ls)->ev_arg = arg;
}

void lunaris_set_trace_cb(lunaris_session *ls, lunaris_trace_cb cb, void *arg)
{
	SESS(ls)->trace.cb = cb;
	SESS(ls)->trace.arg = arg;
}

/* ---- event loop */

int lunaris_fail_pending(lunaris_session *ls)
{
	struct lun_sess *s = SESS(ls);
	int n = 0;

	if (s->cstate == LUN_CONN_LOGGED_IN)
		return 0;
	for (unsigned i = 0; i < s->ntasks; i++)
		n += s->tasks[i].busy;
	if (n)
		lun_task_fail_all(s, LUNARIS_ERR_CONNECTION);
	return n;
}

int lunaris_connect(lunaris_session *ls)
{
	struct lun_sess *s = SESS(ls);
	char why[LUN_CAUSE_MAX];

	if (s->cstate != LUN_CONN_FREE) {
		lun_seterr(s->err, sizeof(s->err), "session is already %s",
			   lun_conn_state_name(s->cstate));
		return -1;
	}
	s->err[0] = '\0';
	s->redirects = 0;
	s->logout_done = false;
	snprintf(why, sizeof(why), "%s", s->cause[0] ? s->cause : "connect requested");
	lun_conn_event(s, LUN_T1, why);
	return s->cstate == LUN_CONN_IN_LOGIN ? 0 : -1;
}

int lunaris_get_fd(const lunaris_session *ls)
{
	return CSESS(ls)->fd;
}

short lunaris_which_events(const lunaris_session *ls)
{
	const struct lun_sess *s = CSESS(ls);

	if (s->fd < 0)
		return 0;
	if (s->connecting)
		return POLLOUT;
	return (short)(POLLIN | (s->txq_head ? POLLOUT : 0));
}

/*
 * Wake-up batching.  With many commands in flight, responses trickle in a
 * few kilobytes at a time and an eager reader wakes up, and pays a context
 * switch, for every one or two of them.  SO_RCVLOWAT makes poll() wait
 * until a quarter of the bytes that the commands in flight will certainly
 * bring has arrived (rounded down to a power of two, at most 64 KiB), so
 * one wake-up serves several responses.  It can never wait for bytes that
 * will not come: the threshold is below the sure minimum (a status header
 * per command, plus a read's data), and a command that ends early (CHECK
 * CONDITION without data) is caught by the short poll timeout the session
 * asks for while the threshold is above one byte.
 */
#define LUN_LOWAT_MAX (512 * 1024)

static void sess_update_lowat(struct lun_sess *s)
{
	uint64_t want = s->cstate == LUN_CONN_LOGGED_IN ? s->rx_expect / 4 : 0;
	int lowat = 1;

	while ((uint64_t)lowat * 2 <= want && lowat < LUN_LOWAT_MAX)
		lowat *= 2;
	if (lowat < 8192)
		lowat = 1; /* not worth a system call */
	if (lowat == s->rx_lowat || s->fd < 0)
		return;
	if (setsockopt(s->fd, SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof(lowat)) == 0)
		s->rx_lowat = lowat;
}

int lunaris_service(lunaris_session *ls, short revents)
{
	struct lun_sess *s = SESS(ls);

	/* Below a raised SO_RCVLOWAT poll() stays quiet: after its short
	 * timeout, read whatever did arrive (a NOP-In, a short response). */
	if (s->rx_lowat > 1 && !(revents & POLLIN))
		revents |= POLLIN;
	lun_conn_service(s, revents);
	sess_timers(s, lun_now_ns());
	lun_sess_dispatch(s);
	/* Flush what the callbacks and the dispatcher queued, without waiting
	 * for the next poll round. */
	if (s->fd >= 0 && s->txq_head && !s->connecting)
		lun_conn_service(s, 0);
	sess_update_lowat(s);
	return sess_dead(s) ? -1 : 0;
}

int lunaris_next_timeout_ms(const lunaris_session *ls)
{
	uint64_t now = lun_now_ns(), next = sess_next_timer(CSESS(ls));

	/* a raised receive threshold is checked again after 1 ms */
	if (CSESS(ls)->rx_lowat > 1 && next > now + 1000000u)
		next = now + 1000000u;

	if (next == UINT64_MAX)
		return -1;
	return next <= now ? 0 : (int)((next - now) / 1000000u + 1);
}

bool lunaris_is_logged_in(const lunaris_session *ls)
{
	return CSESS(ls)->cstate == LUN_CONN_LOGGED_IN;
}

const char *lunaris_get_error(const lunaris_session *ls)
{
	return CSESS(ls)->err[0] ? CSESS(ls)->err : "no error";
}

int lunaris_poll_once(lunaris_session *ls, int timeout_ms)
{
	struct lun_sess *s = SESS(ls);
	struct pollfd pfd = { .fd = s->fd, .events = lunaris_which_events(ls) };
	int to = lunaris_next_timeout_ms(ls), n;

	if (sess_dead(s)) {
		if (!s->err[0])
			lun_seterr(s->err, sizeof(s->err), "not connected");
		return -1;
	}
	if (to < 0 || (timeout_ms >= 0 && timeout_ms < to))
		to = timeout_ms;
	n = poll(&pfd, 1, to);
	if (n < 0 && errno != EINTR) {
		lun_seterr(s->err, sizeof(s->err), "poll: %s", strerror(errno));
		return -1;
	}
	return lunaris_service(ls, n > 0 ? pfd.revents : 0);
}

/* Run the loop until done(s) is true or the connection dies. */
static int sess_run(struct lun_sess *s, bool (*done)(struct lun_sess *, void *), void *arg,
		    int64_t limit_ms)
{
	uint64_t end = limit_ms > 0 ? lun_now_ns() + (uint64_t)limit_ms * 1000000u : 0;

	while (!done(s, arg)) {
		struct pollfd pfd = { .fd = s->fd, .events = lunaris_which_events((lunaris_session *)s) };
		int to = lunaris_next_timeout_ms((lunaris_session *)s);

		if (sess_dead(s))
			return -1;
		if (end) {
			uint64_t now = lun_now_ns();
			int left = now >= end ? 0 : (int)((end - now) / 1000000u + 1);

			if (!left) {
				lun_seterr(s->err, sizeof(s->err), "timed out waiting for %s",
					   s->portal);
				return -1;
			}
			if (to < 0 || to > left)
				to = left;
		}
		int n = poll(&pfd, 1, to);
		if (n < 0 && errno != EINTR) {
			lun_seterr(s->err, sizeof(s->err), "poll: %s", strerror(errno));
			return -1;
		}
		if (lunaris_service((lunaris_session *)s, n > 0 ? pfd.revents : 0) < 0 && !done(s, arg))
			return -1;
	}
	return 0;
}

static bool done_login(struct lun_sess *s, void *arg)
{
	return s->cstate != LUN_CONN_IN_LOGIN;
}

int lunaris_connect_sync(lunaris_session *ls)
{
	struct lun_sess *s = SESS(ls);

	if (lunaris_connect(ls) < 0)
		return -1;
	sess_run(s, done_login, NULL, 0);
	return s->cstate == LUN_CONN_LOGGED_IN ? 0 : -1;
}

static bool done_logout(struct lun_sess *s, void *arg)
{
	return s->cstate != LUN_CONN_IN_LOGOUT;
}

int lunaris_logout_start(lunaris_session *ls)
{
	struct lun_sess *s = SESS(ls);

	if (s->cstate != LUN_CONN_LOGGED_IN) {
		lun_seterr(s->err, sizeof(s->err), "not logged in");
		return -1;
	}
	lun_conn_event(s, LUN_T9, "logout requested by the application");
	return 0;
}

bool lunaris_is_closed(const lunaris_session *ls)
{
	return CSESS(ls)->cstate == LUN_CONN_FREE;
}

int lunaris_logout_sync(lunaris_session *ls)
{
	struct lun_sess *s = SESS(ls);

	if (s->cstate == LUN_CONN_FAILED || s->cstate == LUN_CONN_POLLING) {
		lun_conn_event(s, LUN_T30, "session closed by the application");
		return 0;
	}
	if (s->cstate != LUN_CONN_LOGGED_IN) {
		lun_conn_close(s);
		return 0;
	}
	lun_conn_event(s, LUN_T9, "logout requested by the application");
	if (sess_run(s, done_logout, NULL, 10000) < 0 && s->cstate == LUN_CONN_IN_LOGOUT)
		lun_conn_event(s, LUN_T17, "no Logout Response within 10 s");
	return s->logout_done ? 0 : -1;
}

/* ---- commands */

int lunaris_scsi_submit(lunaris_session *ls, uint16_t lun, const uint8_t *cdb, size_t cdb_len,
			enum lunaris_dir dir, const struct iovec *iov, int iovcnt, uint32_t xfer_len,
			lunaris_scsi_cb cb, void *arg)
{
	struct lun_sess *s = SESS(ls);
	struct lun_task *t;
	size_t total = 0;

	if (!s->target[0] || (s->cstate != LUN_CONN_LOGGED_IN && !s->recovering)) {
		lun_seterr(s->err, sizeof(s->err), "not logged in to a target");
		return -1;
	}
	if (s->replacement_expired) {
		/* s->err still says why the session was lost */
		return -1;
	}
	if (!cdb || cdb_len == 0 || cdb_len > 16 || iovcnt < 0 || iovcnt > LUNARIS_MAX_IOV ||
	    dir > LUNARIS_DIR_WRITE || (dir == LUNARIS_DIR_NONE && xfer_len)) {
		lun_seterr(s->err, sizeof(s->err), "invalid command arguments");
		return -1;
	}
	for (int i = 0; i < iovcnt; i++)
		total += iov[i].iov_len;
	if (total < xfer_len) {
		lun_seterr(s->err, sizeof(s->err), "buffer of %zu bytes for a %u-byte transfer",
			   total, xfer_len);
		return -1;
	}
	t = s->free_tasks;
	if (!t) {
		lun_seterr(s->err, sizeof(s->err), "all %u command slots are busy", s->ntasks);
		return -1;
	}
	s->free_tasks = t->next;
	t->next = NULL;
	t->busy = true;
	t->cmd_sent = false;
	t->waiting = true;
	t->retries = 0;
	t->tmf_state = LUN_TMF_NONE;
	t->not_before_ns = 0;
	t->start_ns = lun_now_ns();
	s->next_itt_gen = (s->next_itt_gen + 1) & 0xffffff;
	t->itt = s->next_itt_gen << 8 | t->index;
	if (t->itt == LUN_RSVD_TAG)
		t->itt = 1u << 8 | t->index;
	t->dir = (uint8_t)dir;
	t->lun = lun;
	memset(t->cdb, 0, sizeof(t->cdb));
	memcpy(t->cdb, cdb, cdb_len);
	t->xfer_len = xfer_len;
	/* a command without data may come with iov NULL: memcpy must not see it */
	if (iovcnt > 0)
		memcpy(t->iov, iov, sizeof(*iov) * (size_t)iovcnt);
	t->iovcnt = iovcnt;
	t->exp_datasn = 0;
	t->received = 0;
	t->r2t_head = t->r2t_count = 0;
	t->out_active = false;
	memset(&t->result, 0, sizeof(t->result));
	t->cb = cb;
	t->arg = arg;
	t->deadline_ns = 0; /* armed when the command is sent */
	if (s->wait_tail)
		s->wait_tail->next = t;
	else
		s->wait_head = t;
	s->wait_tail = t;
	lun_sess_dispatch(s);
	return 0;
}

struct sync_wait {
	bool done;
	struct lunaris_scsi_result *r;
};

static void sync_cb(lunaris_session *ls, const struct lunaris_scsi_result *r, void *arg)
{
	struct sync_wait *w = arg;

	*w->r = *r;
	w->done = true;
}

static bool done_cmd(struct lun_sess *s, void *arg)
{
	return ((struct sync_wait *)arg)->done;
}

int lunaris_scsi_sync(lunaris_session *ls, uint16_t lun, const uint8_t *cdb, size_t cdb_len,
		      enum lunaris_dir dir, void *buf, uint32_t xfer_len,
		      struct lunaris_scsi_result *r)
{
	struct lun_sess *s = SESS(ls);
	struct iovec v = { buf, xfer_len };
	struct sync_wait w = { false, r };
	int rc;

	memset(r, 0, sizeof(*r));
	if (lunaris_scsi_submit(ls, lun, cdb, cdb_len, dir, &v, xfer_len ? 1 : 0, xfer_len,
				sync_cb, &w) < 0)
		return -1;
	rc = sess_run(s, done_cmd, &w, 0);
	if (!w.done)
		r->error = LUNARIS_ERR_CONNECTION;
	return rc == 0 && w.done && r->error == LUNARIS_OK ? 0 : -1;
}

unsigned lunaris_queue_depth(const lunaris_session *ls)
{
	return CSESS(ls)->ntasks;
}

void lunaris_result_str(const struct lunaris_scsi_result *r, char *buf, size_t cap)
{
	static const char *const errs[] = {
		[LUNARIS_ERR_CONNECTION] = "connection failed before the command completed",
		[LUNARIS_ERR_TIMEOUT] = "command timed out",
		[LUNARIS_ERR_SHUTDOWN] = "session closed before the command completed",
		[LUNARIS_ERR_PROTOCOL] = "the target rejected the command (protocol error)",
	};
	struct lun_sense sense;

	if (r->error != LUNARIS_OK) {
		snprintf(buf, cap, "%s", r->error <= LUNARIS_ERR_PROTOCOL ? errs[r->error]
									  : "unknown error");
		return;
	}
	if (r->response != 0) {
		snprintf(buf, cap, "target failure (iSCSI response 0x%02x)", r->response);
		return;
	}
	if (r->status == LUN_SCSI_CHECK_CONDITION && r->sense_len &&
	    lun_parse_sense(r->sense, r->sense_len, &sense, NULL, 0) == 0) {
		char st[200];

		lun_sense_str(&sense, st, sizeof(st));
		snprintf(buf, cap, "CHECK CONDITION: %s", st);
		return;
	}
	snprintf(buf, cap, "%s", lun_scsi_status_str(r->status));
}

/* ---- discovery */

static bool done_text(struct lun_sess *s, void *arg)
{
	return s->text_done;
}

int lunaris_sendtargets_start(lunaris_session *ls)
{
	struct lun_sess *s = SESS(ls);
	static const char key[] = "SendTargets=All";
	struct lun_pdu p = { .opcode = LUN_OP_TEXT_REQ };

	if (s->cstate != LUN_CONN_LOGGED_IN || s->target[0]) {
		lun_seterr(s->err, sizeof(s->err), "not logged in to a discovery session");
		return -1;
	}
	if (s->ctl_busy) {
		lun_seterr(s->err, sizeof(s->err), "a request is already in progress");
		return -1;
	}
	memcpy(s->ctl_data, key, sizeof(key)); /* includes the NUL terminator */
	s->text_len = 0;
	s->text_done = false;
	s->ctl_itt = lun_sess_ctl_itt(s, LUN_ITT_TEXT);
	p.u.text_req.final = true;
	p.u.text_req.itt = s->ctl_itt;
	p.u.text_req.ttt = LUN_RSVD_TAG;
	p.u.text_req.cmdsn = s->cmdsn++;
	p.u.text_req.expstatsn = s->exp_statsn;
	s->ctl_busy = true;
	return lun_send_ctl(s, &p, sizeof(key));
}

int lunaris_sendtargets_result(lunaris_session *ls, struct lunaris_target_list *out)
{
	struct lun_sess *s = SESS(ls);
	struct lun_st_list st;

	memset(out, 0, sizeof(*out));
	if (!s->text_done)
		return sess_dead(s) || s->cstate != LUN_CONN_LOGGED_IN ? -1 : 0;
	s->text_done = false;
	if (lun_sendtargets_parse(s->text_accum, s->text_len, &st, s->err, sizeof(s->err)) < 0)
		return -1;
	/* The public list has the same shape; copy so that the internal type
	 * can change without breaking the ABI. */
	out->targets = calloc(st.count ? st.count : 1, sizeof(*out->targets));
	if (!out->targets) {
		lun_st_list_free(&st);
		return -1;
	}
	out->count = st.count;
	for (size_t i = 0; i < st.count; i++) {
		struct lunaris_target *t = &out->targets[i];

		lun_strlcpy(t->name, st.targets[i].name, sizeof(t->name));
		t->nportals = st.targets[i].nportals;
		t->portals = calloc(t->nportals ? t->nportals : 1, sizeof(*t->portals));
		if (!t->portals) {
			t->nportals = 0;
			continue;
		}
		for (size_t j = 0; j < t->nportals; j++) {
			lun_strlcpy(t->portals[j].host, st.targets[i].portals[j].host,
				    sizeof(t->portals[j].host));
			t->portals[j].port = st.targets[i].portals[j].port;
			t->portals[j].tpgt = st.targets[i].portals[j].tpgt;
		}
	}
	lun_st_list_free(&st);
	return 1;
}

int lunaris_sendtargets_sync(lunaris_session *ls, struct lunaris_target_list *out)
{
	struct lun_sess *s = SESS(ls);

	memset(out, 0, sizeof(*out));
	if (lunaris_sendtargets_start(ls) < 0)
		return -1;
	if (sess_run(s, done_text, NULL, 30000) < 0)
		return -1;
	return lunaris_sendtargets_result(ls, out) == 1 ? 0 : -1;
}

void lunaris_target_list_free(struct lunaris_target_list *l)
{
	for (size_t i = 0; i < l->count; i++)
		free(l->targets[i].portals);
	free(l->targets);
	l->targets = NULL;
	l->count = 0;
}

/* ---- information */

int lunaris_get_session_info(const lunaris_session *ls, struct lunaris_session_info *o)
{
	const struct lun_sess *s = CSESS(ls);
	const struct lun_params *p = &s->params;

	memset(o, 0, sizeof(*o));
	lun_strlcpy(o->target_alias, p->target_alias, sizeof(o->target_alias));
	o->tpgt = p->tpgt;
	o->tsih = s->tsih;
	memcpy(o->isid, s->isid, 6);
	o->header_digest = s->hdigest;
	o->data_digest = s->ddigest;
	o->max_recv_dsl = p->max_recv_dsl;
	o->max_send_dsl = p->max_send_dsl;
	o->max_burst = p->max_burst;
	o->first_burst = p->first_burst;
	o->max_outstanding_r2t = p->max_outstanding_r2t;
	o->initial_r2t = p->initial_r2t;
	o->immediate_data = p->immediate_data;
	o->default_time2wait = p->default_time2wait;
	o->default_time2retain = p->default_time2retain;
	o->data_pdu_in_order = p->data_pdu_in_order;
	o->data_seq_in_order = p->data_seq_in_order;
	o->erl = p->erl;
	o->max_connections = p->max_connections;
	if (s->chap.alg)
		lun_strlcpy(o->chap_algorithm, lun_chap_alg_name(s->chap.alg),
			    sizeof(o->chap_algorithm));
	return 0;
}

void lunaris_get_stats(const lunaris_session *ls, struct lunaris_stats *out)
{
	*out = CSESS(ls)->stats;
}
