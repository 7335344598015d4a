/*
 * conn.c - floor 3: the connection state machine, the socket, and the PDU
 * receive and transmit engines.
 *
 * State machine: the table below is the whole connection behaviour; it
 * follows the Solaris initiator (see the study, section 1.3) and maps to
 * RFC 7143 section 8.1.  lun_conn_event() is the only code that assigns
 * s->cstate, and it emits exactly one trace event per step.
 *
 * Transmit: PDUs wait in a singly linked queue of lun_txu; lun_conn_flush()
 * gathers as many as fit into one writev().  Data slices point into the
 * caller's buffers; digests are computed over those slices, never over a
 * copy.
 *
 * Receive: bytes come in batches into s->rxb; the header (BHS + AHS +
 * digest) is assembled in s->rx_hdr; the data segment of a Data-In PDU goes
 * to the caller's iovecs at the PDU's buffer offset (copied from the batch
 * buffer when small, read with readv() straight into them when large),
 * other data into s->rx_data.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "crc32c.h"
#include "scsi.h"
#include "sess.h"
#include "util.h"

static const char *const conn_state_names[LUN_CONN_NSTATES] = {
	"free", "in_login", "logged_in", "in_logout", "failed", "polling",
};

static const char *const conn_event_names[LUN_CONN_NEVENTS] = {
	"T1", "T5", "T7", "T8", "T9", "T11", "T14", "T15", "T17", "T30",
};

const char *lun_conn_state_name(enum lun_conn_state st)
{
	return st < LUN_CONN_NSTATES ? conn_state_names[st] : "?";
}

const char *lun_conn_event_name(enum lun_conn_event ev)
{
	return ev < LUN_CONN_NEVENTS ? conn_event_names[ev] : "?";
}

/* What a transition does besides changing the state. */
enum conn_action {
	CA_INVALID = 0, /* the event is not expected in this state: ignored, traced */
	CA_NONE,
	CA_LOGIN, /* connect and send the first Login Request */
	CA_ONLINE, /* login finished: session N1 */
	CA_LOGIN_FAILED, /* close; retry later if recovering (rule below) */
	CA_LOGOUT, /* send Logout Request (close session) */
	CA_FAIL, /* close; recover (re-login later) or fail commands; session N5 */
	CA_CLOSED, /* close after logout; come back if the target asked for it */
	CA_GIVE_UP, /* no more retries: fail commands, session N6 */
	CA_POLL, /* retry window over: slow retries from now on */
};

/* "to" value for cells whose next state depends on the recovery context;
 * conn_rule_state() computes it. */
#define LUN_CONN_BY_RULE LUN_CONN_NSTATES

struct conn_cell {
	uint8_t to; /* enum lun_conn_state, or LUN_CONN_BY_RULE */
	uint8_t action; /* enum conn_action */
};

#define C(st, act) { LUN_CONN_##st, CA_##act }

/*
 * Rows: current state; columns: event.  Empty cells are invalid events.
 * RFC 7143 8.1.3 names in the comments; T14 has the Solaris meaning.
 *
 * Recovery differs from the Solaris table in one way: a re-login attempt
 * from failed or polling is its own step (T1 -> in_login), so every
 * attempt is visible in the trace, and a failed attempt (T7) returns to the
 * state it came from.  In Solaris the attempts run inside `failed`.
 */
static const struct conn_cell conn_table[LUN_CONN_NSTATES][LUN_CONN_NEVENTS] = {
	[LUN_CONN_FREE] = {
		[LUN_T1] = C(IN_LOGIN, LOGIN), /* RFC S1 -T1-> S2, T4 -> S4 folded in */
	},
	[LUN_CONN_IN_LOGIN] = {
		[LUN_T5] = C(LOGGED_IN, ONLINE), /* RFC S4 -T5-> S5 */
		/* RFC S4 -T7-> S1 (transport, timeout); recovering: back to
		 * failed or polling for the next attempt */
		[LUN_T7] = C(BY_RULE, LOGIN_FAILED),
		/* socket, protocol or digest failure during login: RFC T7 too */
		[LUN_T14] = C(BY_RULE, LOGIN_FAILED),
		[LUN_T15] = C(BY_RULE, LOGIN_FAILED),
		[LUN_T30] = C(FREE, GIVE_UP), /* RFC 7143 T7(a): non-zero Status-Class */
	},
	[LUN_CONN_LOGGED_IN] = {
		[LUN_T8] = C(FREE, CLOSED), /* RFC S5 -T8-> S1 */
		[LUN_T9] = C(IN_LOGOUT, LOGOUT), /* RFC S5 -T9-> S6 */
		[LUN_T11] = C(IN_LOGOUT, LOGOUT), /* RFC S5 -T11-> S7, Logout sent at once (T10) */
		[LUN_T14] = C(FAILED, FAIL), /* digest/protocol error, as transport failure */
		[LUN_T15] = C(FAILED, FAIL), /* RFC S5 -T15-> S8 (cleanup wait = failed) */
	},
	[LUN_CONN_IN_LOGOUT] = {
		[LUN_T11] = C(IN_LOGOUT, NONE), /* a repeated request: already logging out */
		/* RFC S6 -T16-> S8 / -T13,T17-> S1; ERL 0: free, or failed when
		 * the target asked for the logout and we come back */
		[LUN_T14] = C(BY_RULE, CLOSED),
		[LUN_T15] = C(BY_RULE, CLOSED),
		[LUN_T17] = C(BY_RULE, CLOSED),
	},
	[LUN_CONN_FAILED] = {
		[LUN_T1] = C(IN_LOGIN, LOGIN), /* reinstatement attempt (RFC S8 -> S1 -T1-> S2) */
		[LUN_T7] = C(POLLING, POLL), /* retry window (conn_login_max) over */
		[LUN_T30] = C(FREE, GIVE_UP), /* stop: session closed by the application */
	},
	[LUN_CONN_POLLING] = {
		[LUN_T1] = C(IN_LOGIN, LOGIN), /* a poll attempt */
		[LUN_T30] = C(FREE, GIVE_UP),
	},
};

#undef C

int lun_conn_next_state(enum lun_conn_state st, enum lun_conn_event ev)
{
	if (st >= LUN_CONN_NSTATES || ev >= LUN_CONN_NEVENTS ||
	    conn_table[st][ev].action == CA_INVALID)
		return -1;
	return conn_table[st][ev].to;
}

static void conn_close_fd(struct lun_sess *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	s->connecting = false;
	s->txq_head = s->txq_tail = NULL;
	s->ctl_tx.queued = s->nop_tx.queued = s->ping_tx.queued = s->tmf_tx.queued = false;
	s->rx_hdr_got = 0;
	s->rx_hdr_need = LUN_BHS_LEN;
	s->rx_in_data = false;
	s->rxb_pos = s->rxb_len = 0;
	s->ctl_busy = false;
	s->ping_out = false;
	s->tmf_busy = false;
	s->rx_lowat = 1; /* a new socket starts at the default */
	for (unsigned i = 0; i < s->ntasks; i++)
		s->tasks[i].tx.queued = false;
}

/*
 * The recovery rule for BY_RULE cells: a connection that is not recovering
 * ends in free; one that is goes back to failed (still inside the retry
 * window) or polling.
 */
static enum lun_conn_state conn_rule_state(const struct lun_sess *s)
{
	if (!s->recovering)
		return LUN_CONN_FREE;
	return s->polling ? LUN_CONN_POLLING : LUN_CONN_FAILED;
}

static uint64_t sec_ns(unsigned sec)
{
	return (uint64_t)sec * 1000000000u;
}

/* Schedule the next re-login attempt. */
static void conn_schedule_retry(struct lun_sess *s, unsigned wait_s)
{
	s->next_login_ns = lun_now_ns() + sec_ns(wait_s);
}

/*
 * The connection of a logged-in session failed (or the target asked us to
 * log out): decide whether to come back.  Discovery sessions and sessions
 * of an application that is closing do not recover.
 */
static void conn_begin_recovery(struct lun_sess *s, const char *cause, unsigned wait_s)
{
	uint64_t now = lun_now_ns();

	lun_strlcpy(s->down_cause, cause ? cause : "", sizeof(s->down_cause));
	s->stats.connection_failures++;
	if (!s->target[0] || !s->ever_logged_in) {
		s->recovering = false;
		return;
	}
	if (!s->recovering) {
		s->recovering = true;
		s->polling = false;
		s->attempt = 0;
		s->fail_ns = now;
		s->window_end_ns = now + sec_ns(s->rec.conn_login_max);
		s->replacement_ns = now + sec_ns(s->rec.replacement_timeout);
	}
	conn_schedule_retry(s, wait_s);
}

void lun_conn_event(struct lun_sess *s, enum lun_conn_event ev, const char *cause)
{
	const struct conn_cell *c = s->cstate < LUN_CONN_NSTATES && ev < LUN_CONN_NEVENTS
					    ? &conn_table[s->cstate][ev]
					    : NULL;
	struct lunaris_trace_event te = {
		.time_ns = lun_now_ns(),
		.machine = LUNARIS_FSM_CONN,
		.id = s->id,
		.target = s->target_label,
		.portal = s->portal,
		.from = lun_conn_state_name(s->cstate),
		.event = lun_conn_event_name(ev),
		.cause = cause,
	};
	char why[LUN_CAUSE_MAX + 32];
	enum lun_conn_state from = s->cstate, to;

	if (!c || c->action == CA_INVALID) {
		snprintf(why, sizeof(why), "ignored: not valid here; %s", cause);
		te.to = te.from;
		te.cause = why;
		lun_trace_emit(&s->trace, &te);
		return;
	}
	/* Recovery starts before the rule is applied: the failure decides
	 * whether this connection comes back. */
	if (c->action == CA_FAIL)
		conn_begin_recovery(s, cause, s->params.default_time2wait);
	if (c->action == CA_CLOSED && s->async_logout)
		conn_begin_recovery(s, cause, s->params.default_time2wait);
	to = c->to == LUN_CONN_BY_RULE ? conn_rule_state(s) : (enum lun_conn_state)c->to;
	te.to = lun_conn_state_name(to);
	lun_trace_emit(&s->trace, &te);
	s->cstate = to;

	switch ((enum conn_action)c->action) {
	case CA_INVALID:
	case CA_NONE:
		break;
	case CA_LOGIN:
		s->stats.logins++;
		if (s->recovering)
			s->attempt++;
		if (lun_conn_open(s) < 0 || lun_login_start(s) < 0)
			lun_conn_event(s, LUN_T7, s->err);
		break;
	case CA_ONLINE: {
		bool back = s->recovering;

		s->ever_logged_in = true;
		s->recovering = s->polling = s->async_logout = false;
		s->replacement_expired = false;
		s->last_rx_ns = lun_now_ns();
		lun_sess_event(s, LUN_N1, back ? "session reinstated" : "connection logged in");
		if (back) {
			s->stats.reconnects++;
			lun_sess_notify(s, LUNARIS_EV_RECONNECTED, 0, 0, 0, 0, "session reinstated");
		}
		break;
	}
	case CA_LOGIN_FAILED:
		s->stats.login_failures++;
		if (!s->login_fail_counted)
			s->stats.login_fail_transport++;
		conn_close_fd(s);
		if (s->recovering)
			conn_schedule_retry(s, s->polling ? s->rec.polling_interval
							  : s->rec.login_retry_interval);
		break;
	case CA_LOGOUT: {
		struct lun_pdu p = { .opcode = LUN_OP_LOGOUT_REQ, .immediate = true };

		p.u.logout_req.reason = LUN_LOGOUT_CLOSE_SESSION;
		p.u.logout_req.itt = s->ctl_itt = lun_sess_ctl_itt(s, LUN_ITT_LOGOUT);
		p.u.logout_req.cmdsn = s->cmdsn;
		p.u.logout_req.expstatsn = s->exp_statsn;
		p.u.logout_req.cid = 0;
		if (lun_send_ctl(s, &p, 0) < 0)
			lun_conn_event(s, LUN_T15, "cannot send Logout Request");
		break;
	}
	case CA_FAIL:
		conn_close_fd(s);
		if (s->recovering)
			lun_task_requeue_all(s);
		else
			lun_task_fail_all(s, LUNARIS_ERR_CONNECTION);
		lun_sess_event(s, LUN_N5, cause);
		break;
	case CA_CLOSED:
		conn_close_fd(s);
		if (s->recovering) {
			lun_task_requeue_all(s);
			lun_sess_event(s, LUN_N5, cause);
		} else {
			lun_task_fail_all(s, LUNARIS_ERR_SHUTDOWN);
			lun_sess_event(s, LUN_N3, cause);
		}
		break;
	case CA_GIVE_UP:
		if (from == LUN_CONN_IN_LOGIN) {
			s->stats.login_failures++;
			if (!s->login_fail_counted)
				s->stats.login_fail_transport++;
		}
		conn_close_fd(s);
		s->recovering = s->polling = false;
		lun_task_fail_all(s, LUNARIS_ERR_CONNECTION);
		lun_sess_event(s, LUN_N6, cause);
		break;
	case CA_POLL:
		s->polling = true;
		conn_schedule_retry(s, s->rec.polling_interval);
		break;
	}
}

void lun_conn_fail(struct lun_sess *s, enum lun_conn_event ev, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->err, sizeof(s->err), fmt, ap);
	va_end(ap);
	lun_conn_event(s, ev, s->err);
}

/* ---- socket */

int lun_conn_open(struct lun_sess *s)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res = NULL, *ai;
	char port[8];
	int rc, one = 1;

	if (s->offline) {
		lun_seterr(s->err, sizeof(s->err), "offline session: no connection to %s",
			   s->portal);
		return -1;
	}
	snprintf(port, sizeof(port), "%u", s->port);
	rc = getaddrinfo(s->host, port, &hints, &res);
	if (rc != 0) {
		lun_seterr(s->err, sizeof(s->err), "cannot resolve %s: %s", s->host,
			   gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		s->fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
			       ai->ai_protocol);
		if (s->fd < 0)
			continue;
		setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (connect(s->fd, ai->ai_addr, ai->ai_addrlen) == 0 || errno == EINPROGRESS) {
			s->connecting = errno == EINPROGRESS;
			break;
		}
		lun_seterr(s->err, sizeof(s->err), "cannot connect to %s: %s", s->portal,
			   strerror(errno));
		close(s->fd);
		s->fd = -1;
	}
	freeaddrinfo(res);
	if (s->fd < 0) {
		if (!s->err[0])
			lun_seterr(s->err, sizeof(s->err), "cannot connect to %s", s->portal);
		return -1;
	}
	s->rx_hdr_got = 0;
	s->rx_hdr_need = LUN_BHS_LEN;
	s->rx_in_data = false;
	s->rxb_pos = s->rxb_len = 0;
	return 0;
}

void lun_conn_close(struct lun_sess *s)
{
	conn_close_fd(s);
}

/* ---- transmit */

int lun_iov_slice(const struct iovec *src, int srccnt, size_t off, size_t len,
		  struct iovec *dst, int dstcap)
{
	int n = 0;

	for (int i = 0; i < srccnt && len; i++) {
		size_t l = src[i].iov_len;

		if (off >= l) {
			off -= l;
			continue;
		}
		if (n == dstcap)
			return -1;
		size_t take = l - off < len ? l - off : len;
		dst[n].iov_base = (uint8_t *)src[i].iov_base + off;
		dst[n].iov_len = take;
		n++;
		len -= take;
		off = 0;
	}
	return len ? -1 : n;
}

int lun_txu_build(struct lun_sess *s, struct lun_txu *u, const struct lun_pdu *p,
		  const struct iovec *data, int datacnt, uint32_t data_len)
{
	uint32_t pad = lun_pad4(data_len) - data_len;
	char err[160];

	if (lun_pdu_encode(p, u->hdr, err, sizeof(err)) < 0) {
		lun_seterr(s->err, sizeof(s->err), "internal error encoding %s: %s",
			   lun_pdu_opcode_name(p->opcode), err);
		return -1;
	}
	u->hdr_len = LUN_BHS_LEN;
	if (s->hdigest) {
		lun_crc32c_put(u->hdr + LUN_BHS_LEN, lun_crc32c(0, u->hdr, LUN_BHS_LEN));
		u->hdr_len += LUN_DIGEST_LEN;
	}
	u->iov[0].iov_base = u->hdr;
	u->iov[0].iov_len = u->hdr_len;
	u->iovcnt = 1;
	u->total = u->hdr_len;
	if (data_len) {
		int n = lun_iov_slice(data, datacnt, 0, data_len, u->iov + 1, LUNARIS_MAX_IOV);
		uint32_t tl = pad;

		if (n < 0) {
			lun_seterr(s->err, sizeof(s->err), "too many data buffers for one PDU");
			return -1;
		}
		memset(u->trailer, 0, sizeof(u->trailer));
		if (s->ddigest) {
			/* The data digest covers the data and its padding. */
			uint32_t crc = lun_crc32c_iov(0, u->iov + 1, n);

			crc = lun_crc32c(crc, u->trailer, pad);
			lun_crc32c_put(u->trailer + pad, crc);
			tl += LUN_DIGEST_LEN;
		}
		u->iovcnt += n;
		if (tl) {
			u->iov[u->iovcnt].iov_base = u->trailer;
			u->iov[u->iovcnt].iov_len = tl;
			u->iovcnt++;
		}
		u->total += data_len + tl;
	}
	u->done = 0;
	return 0;
}

void lun_txu_queue(struct lun_sess *s, struct lun_txu *u)
{
	u->next = NULL;
	u->queued = true;
	if (s->txq_tail)
		s->txq_tail->next = u;
	else
		s->txq_head = u;
	s->txq_tail = u;
}

int lun_send_ctl(struct lun_sess *s, struct lun_pdu *p, uint32_t data_len)
{
	struct iovec d = { s->ctl_data, data_len };

	p->data_len = data_len;
	if (s->ctl_tx.queued) {
		lun_seterr(s->err, sizeof(s->err), "internal error: control PDU already queued");
		return -1;
	}
	if (lun_txu_build(s, &s->ctl_tx, p, &d, 1, data_len) < 0)
		return -1;
	s->ctl_tx.sent = NULL;
	lun_txu_queue(s, &s->ctl_tx);
	s->stats.pdus_out++;
	return 0;
}

/* Write as much of the queue as the socket takes, many PDUs per writev. */
static int conn_flush(struct lun_sess *s)
{
	enum { MAXV = 64 };
	struct iovec v[MAXV];

	while (s->txq_head) {
		int n = 0;

		for (struct lun_txu *u = s->txq_head; u && n < MAXV; u = u->next) {
			size_t skip = u->done;

			if (n + u->iovcnt > MAXV && n > 0)
				break;
			for (int i = 0; i < u->iovcnt && n < MAXV; i++) {
				if (skip >= u->iov[i].iov_len) {
					skip -= u->iov[i].iov_len;
					continue;
				}
				v[n].iov_base = (uint8_t *)u->iov[i].iov_base + skip;
				v[n].iov_len = u->iov[i].iov_len - skip;
				skip = 0;
				n++;
			}
		}
		ssize_t w = writev(s->fd, v, n);
		if (w < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return 0;
			lun_conn_fail(s, LUN_T15, "send to %s failed: %s", s->portal,
				      strerror(errno));
			return -1;
		}
		size_t left = (size_t)w;
		while (left && s->txq_head) {
			struct lun_txu *u = s->txq_head;
			size_t rest = u->total - u->done;

			if (left < rest) {
				u->done += left;
				break;
			}
			left -= rest;
			u->done = u->total;
			s->txq_head = u->next;
			if (!s->txq_head)
				s->txq_tail = NULL;
			u->queued = false;
			if (u->sent)
				u->sent(s, u);
		}
	}
	return 0;
}

/* ---- receive */

static int conn_dispatch(struct lun_sess *s);

/* Prepare to read the data segment of s->rx_pdu (header already checked). */
static int conn_rx_data_setup(struct lun_sess *s)
{
	struct lun_pdu *p = &s->rx_pdu;
	uint32_t dlen = p->data_len, pad = lun_pad4(dlen) - dlen;
	uint32_t tl = pad + (s->ddigest ? LUN_DIGEST_LEN : 0);
	int n;

	s->rx_task = NULL;
	s->rx_iovcnt = 0;
	if (p->opcode == LUN_OP_DATA_IN && dlen) {
		n = lun_task_rx_data_in_begin(s, p);
		if (n < 0)
			return -1;
		s->rx_iovcnt = n;
	} else if (dlen) {
		if (dlen > s->rx_data_cap) {
			lun_conn_fail(s, LUN_T14,
				      "%s carries %u bytes of data, more than the %u we declared",
				      lun_pdu_opcode_name(p->opcode), dlen, s->rx_data_cap);
			return -1;
		}
		s->rx_iov[0].iov_base = s->rx_data;
		s->rx_iov[0].iov_len = dlen;
		s->rx_iovcnt = 1;
	}
	if (dlen && tl) {
		s->rx_iov[s->rx_iovcnt].iov_base = s->rx_trailer;
		s->rx_iov[s->rx_iovcnt].iov_len = tl;
		s->rx_iovcnt++;
	}
	s->rx_data_need = dlen ? dlen + tl : 0;
	s->rx_data_got = 0;
	return 0;
}

static int conn_rx_header_done(struct lun_sess *s)
{
	char err[200];
	uint32_t hlen = LUN_BHS_LEN + s->rx_pdu.ahs_len;

	if (s->hdigest) {
		uint32_t want = lun_crc32c(0, s->rx_hdr, hlen);

		if (lun_crc32c_get(s->rx_hdr + hlen) != want) {
			s->stats.digest_errors++;
			lun_conn_fail(s, LUN_T14, "header digest error from %s", s->portal);
			return -1;
		}
	}
	if (s->rx_pdu.ahs_len) {
		struct lun_ahs ahs;

		if (lun_ahs_parse(s->rx_hdr + LUN_BHS_LEN, s->rx_pdu.ahs_len, &ahs, err,
				  sizeof(err)) < 0) {
			lun_conn_fail(s, LUN_T14, "protocol error from %s: %s", s->portal, err);
			return -1;
		}
	}
	return conn_rx_data_setup(s);
}

static int conn_rx_data_done(struct lun_sess *s)
{
	struct lun_pdu *p = &s->rx_pdu;
	uint32_t dlen = p->data_len, pad = lun_pad4(dlen) - dlen;

	if (dlen && s->ddigest) {
		int nd = s->rx_iovcnt - 1; /* data slices, without the trailer */
		uint32_t crc = lun_crc32c_iov(0, s->rx_iov, nd);

		crc = lun_crc32c(crc, s->rx_trailer, pad);
		if (lun_crc32c_get(s->rx_trailer + pad) != crc) {
			s->stats.digest_errors++;
			lun_conn_fail(s, LUN_T14, "data digest error in %s from %s",
				      lun_pdu_opcode_name(p->opcode), s->portal);
			return -1;
		}
	}
	s->stats.pdus_in++;
	s->last_rx_ns = lun_now_ns();
	return conn_dispatch(s);
}

/*
 * Receive strategy.  Small PDUs (headers, 4 KiB Data-In, responses) arrive
 * many per TCP segment; reading each with its own system call would cost
 * two calls per command.  So bytes are pulled in batches into s->rxb and
 * copied out, which for a 4 KiB payload is far cheaper than a syscall.  When
 * the rest of a data segment is large (LUN_RX_DIRECT or more), it is read
 * with readv() straight into the caller's buffers instead: big transfers
 * are never copied.
 */
#define LUN_RX_DIRECT 16384

/* Report a failed or closed socket; returns -1, or 0 for "try later". */
static int conn_rx_error(struct lun_sess *s, ssize_t r)
{
	if (r == 0) {
		lun_conn_fail(s, LUN_T15, "connection closed by %s", s->portal);
		return -1;
	}
	if (errno == EAGAIN || errno == EINTR)
		return 0;
	lun_conn_fail(s, LUN_T15, "receive from %s failed: %s", s->portal, strerror(errno));
	return -1;
}

/* Refill the batch buffer (only called when it is empty). */
static int conn_rx_fill(struct lun_sess *s)
{
	ssize_t r = recv(s->fd, s->rxb, LUN_RXB_SIZE, 0);

	if (r <= 0)
		return conn_rx_error(s, r) < 0 ? -1 : 1;
	s->rxb_pos = 0;
	s->rxb_len = (uint32_t)r;
	return 0;
}

/* Copy buffered bytes into [got, need) of the current data iovecs. */
static void conn_rx_copy_data(struct lun_sess *s)
{
	struct iovec v[LUNARIS_MAX_IOV + 2];
	size_t avail = s->rxb_len - s->rxb_pos, want = s->rx_data_need - s->rx_data_got;
	size_t take = avail < want ? avail : want;
	int n = lun_iov_slice(s->rx_iov, s->rx_iovcnt, s->rx_data_got, take, v,
			      LUNARIS_MAX_IOV + 2);

	for (int i = 0; i < n; i++) {
		memcpy(v[i].iov_base, s->rxb + s->rxb_pos, v[i].iov_len);
		s->rxb_pos += (uint32_t)v[i].iov_len;
	}
	s->rx_data_got += take;
}

/* Header bytes: copy from the batch buffer into rx_hdr. */
static void conn_rx_copy_hdr(struct lun_sess *s)
{
	uint32_t avail = s->rxb_len - s->rxb_pos, want = s->rx_hdr_need - s->rx_hdr_got;
	uint32_t take = avail < want ? avail : want;

	memcpy(s->rx_hdr + s->rx_hdr_got, s->rxb + s->rxb_pos, take);
	s->rxb_pos += take;
	s->rx_hdr_got += take;
}

/* Advance the header phase; 1 when the whole header is in, 0 for more. */
static int conn_rx_header(struct lun_sess *s)
{
	conn_rx_copy_hdr(s);
	if (s->rx_hdr_got < s->rx_hdr_need)
		return 0;
	if (s->rx_hdr_got == LUN_BHS_LEN) {
		char err[200];

		if (lun_pdu_decode(s->rx_hdr, LUN_FROM_TARGET, &s->rx_pdu, err, sizeof(err)) < 0) {
			lun_conn_fail(s, LUN_T14, "protocol error from %s: %s", s->portal, err);
			return -1;
		}
		s->rx_hdr_need = LUN_BHS_LEN + s->rx_pdu.ahs_len + (s->hdigest ? LUN_DIGEST_LEN : 0);
		conn_rx_copy_hdr(s);
		if (s->rx_hdr_got < s->rx_hdr_need)
			return 0;
	}
	if (conn_rx_header_done(s) < 0)
		return -1;
	s->rx_in_data = true;
	return 1;
}

static int conn_read(struct lun_sess *s)
{
	/* Bounded so that one busy connection cannot starve the caller's loop. */
	for (int round = 0; round < 256 && s->fd >= 0; round++) {
		if (!s->rx_in_data) {
			int rc = conn_rx_header(s);

			if (rc < 0)
				return -1;
			if (rc == 0) {
				rc = conn_rx_fill(s);
				if (rc)
					return rc < 0 ? -1 : 0;
				continue;
			}
		}
		if (s->rx_data_got < s->rx_data_need) {
			conn_rx_copy_data(s);
			if (s->rx_data_got < s->rx_data_need &&
			    s->rx_data_need - s->rx_data_got >= LUN_RX_DIRECT) {
				struct iovec v[LUNARIS_MAX_IOV + 2];
				int n = lun_iov_slice(s->rx_iov, s->rx_iovcnt, s->rx_data_got,
						      s->rx_data_need - s->rx_data_got, v,
						      LUNARIS_MAX_IOV + 2);
				ssize_t r = readv(s->fd, v, n);

				if (r <= 0)
					return conn_rx_error(s, r);
				s->rx_data_got += (size_t)r;
				continue;
			}
			if (s->rx_data_got < s->rx_data_need) {
				int rc = conn_rx_fill(s);

				if (rc)
					return rc < 0 ? -1 : 0;
				continue;
			}
		}
		s->rx_in_data = false;
		s->rx_hdr_got = 0;
		s->rx_hdr_need = LUN_BHS_LEN;
		if (conn_rx_data_done(s) < 0)
			return -1;
	}
	return 0;
}

/* ---- handling of each received PDU */

static int conn_rx_nop_in(struct lun_sess *s, const struct lun_pdu *p)
{
	const struct lun_pdu_nop_in *n = &p->u.nop_in;

	if (lun_sess_check_statsn(s, n->statsn, n->itt != LUN_RSVD_TAG, "NOP-In") < 0)
		return -1;
	lun_sess_update_sn(s, n->expcmdsn, n->maxcmdsn);
	if (n->itt != LUN_RSVD_TAG && n->itt == s->ping_itt)
		s->ping_out = false; /* our keepalive was answered */
	if (n->ttt == LUN_RSVD_TAG)
		return 0; /* an answer to our ping, or a plain update */
	/* The target pings us: echo its data and TTT (RFC 7143 11.18). */
	if (s->nop_tx.queued)
		return 0; /* the previous answer is still leaving; the target re-pings */
	struct lun_pdu o = { .opcode = LUN_OP_NOP_OUT, .immediate = true };
	struct iovec d = { s->nop_data, p->data_len };

	o.data_len = p->data_len;
	o.u.nop_out.lun = n->lun;
	o.u.nop_out.itt = LUN_RSVD_TAG;
	o.u.nop_out.ttt = n->ttt;
	o.u.nop_out.cmdsn = s->cmdsn;
	o.u.nop_out.expstatsn = s->exp_statsn;
	memcpy(s->nop_data, s->rx_data, p->data_len);
	if (lun_txu_build(s, &s->nop_tx, &o, &d, 1, p->data_len) < 0)
		return -1;
	s->nop_tx.sent = NULL;
	lun_txu_queue(s, &s->nop_tx);
	s->stats.nop_in_answered++;
	return 0;
}

static int conn_rx_text(struct lun_sess *s, const struct lun_pdu *p)
{
	const struct lun_pdu_text_rsp *t = &p->u.text_rsp;

	if (t->itt != s->ctl_itt) {
		lun_conn_fail(s, LUN_T14, "Text Response for unknown ITT 0x%08x", t->itt);
		return -1;
	}
	if (lun_sess_check_statsn(s, t->statsn, true, "Text Response") < 0)
		return -1;
	lun_sess_update_sn(s, t->expcmdsn, t->maxcmdsn);
	if (s->text_len + p->data_len > 1024 * 1024) {
		lun_conn_fail(s, LUN_T14, "Text Response larger than 1 MiB");
		return -1;
	}
	if (s->text_len + p->data_len > s->text_cap) {
		size_t cap = (s->text_len + p->data_len) * 2;
		uint8_t *nb = realloc(s->text_accum, cap);

		if (!nb) {
			lun_conn_fail(s, LUN_T14, "out of memory for Text Response");
			return -1;
		}
		s->text_accum = nb;
		s->text_cap = cap;
	}
	memcpy(s->text_accum + s->text_len, s->rx_data, p->data_len);
	s->text_len += p->data_len;
	if (t->final) {
		s->text_done = true;
		s->ctl_busy = false;
		return 0;
	}
	/* More to come (C bit, or F=0): ask for it with an empty Text Request
	 * that echoes the target's TTT (RFC 7143 11.10.4). */
	struct lun_pdu q = { .opcode = LUN_OP_TEXT_REQ, .immediate = false };

	q.u.text_req.final = true;
	q.u.text_req.itt = s->ctl_itt;
	q.u.text_req.ttt = t->ttt;
	q.u.text_req.lun = t->lun;
	q.u.text_req.cmdsn = s->cmdsn++;
	q.u.text_req.expstatsn = s->exp_statsn;
	return lun_send_ctl(s, &q, 0);
}

static int conn_rx_logout(struct lun_sess *s, const struct lun_pdu *p)
{
	const struct lun_pdu_logout_rsp *l = &p->u.logout_rsp;
	static const char *const why[] = {
		"logout successful",
		"logout failed: CID not found",
		"logout failed: connection recovery not supported",
		"logout failed: cleanup failed",
	};

	lun_sess_check_statsn(s, l->statsn, true, "Logout Response");
	s->logout_done = true;
	lun_conn_event(s, LUN_T17, l->response < 4 ? why[l->response] : "logout failed");
	return 0;
}

static int conn_rx_async(struct lun_sess *s, const struct lun_pdu *p)
{
	const struct lun_pdu_async *a = &p->u.async;

	s->stats.async_events++;
	if (lun_sess_check_statsn(s, a->statsn, true, "Async Message") < 0)
		return -1;
	lun_sess_update_sn(s, a->expcmdsn, a->maxcmdsn);
	switch (a->event) {
	case LUN_ASYNC_REQUEST_LOGOUT:
	case LUN_ASYNC_RENEGOTIATE:
		/* Log out now, log in again after the target's Time2Wait; a new
		 * login is also how ERL 0 renegotiates parameters. */
		s->async_logout = true;
		s->params.default_time2wait = a->param3 <= 3600 ? a->param3 : 3600;
		lun_conn_event(s, LUN_T11, a->event == LUN_ASYNC_REQUEST_LOGOUT
						   ? "target requested logout (Async Message)"
						   : "target requested renegotiation (Async Message)");
		break;
	case LUN_ASYNC_DROP_CONNECTION:
	case LUN_ASYNC_DROP_ALL:
		/* Parameter2 is the Time2Wait before we may reconnect. */
		s->params.default_time2wait = a->param2 <= 3600 ? a->param2 : 3600;
		lun_conn_fail(s, LUN_T15, "target dropped the %s (Async Message %u)",
			      a->event == LUN_ASYNC_DROP_ALL ? "session" : "connection", a->event);
		return -1;
	case LUN_ASYNC_SCSI: {
		const uint8_t *sense;
		size_t slen;
		struct lun_sense sn = { 0 };

		if (p->data_len &&
		    lun_iscsi_sense_split(s->rx_data, p->data_len, &sense, &slen, NULL, 0) == 0)
			lun_parse_sense(sense, slen, &sn, NULL, 0);
		lun_sess_notify(s, LUNARIS_EV_ASYNC_SCSI, 0, sn.key, sn.asc, sn.ascq,
				"asynchronous SCSI event from the target");
		break;
	}
	default:
		/* vendor-specific events need no action */
		break;
	}
	return 0;
}

static int conn_rx_reject(struct lun_sess *s, const struct lun_pdu *p)
{
	const struct lun_pdu_reject *r = &p->u.reject;
	uint32_t itt = LUN_RSVD_TAG;

	s->stats.rejects++;
	lun_sess_check_statsn(s, r->statsn, true, "Reject");
	lun_sess_update_sn(s, r->expcmdsn, r->maxcmdsn);
	if (p->data_len >= LUN_BHS_LEN)
		itt = lun_get_be32(s->rx_data + 16);
	struct lun_task *t = lun_task_by_itt(s, itt);
	if (t) {
		t->result.error = LUNARIS_ERR_PROTOCOL;
		lun_task_complete(s, t);
		return 0;
	}
	if (itt == s->ctl_itt && s->ctl_busy) {
		lun_conn_fail(s, LUN_T14, "target rejected our request (reason 0x%02x)", r->reason);
		return -1;
	}
	return 0;
}

static int conn_dispatch(struct lun_sess *s)
{
	const struct lun_pdu *p = &s->rx_pdu;

	if (s->cstate == LUN_CONN_IN_LOGIN) {
		if (p->opcode != LUN_OP_LOGIN_RSP) {
			lun_conn_fail(s, LUN_T7, "%s received during login",
				      lun_pdu_opcode_name(p->opcode));
			return -1;
		}
		return lun_login_rx(s, p, s->rx_data, p->data_len);
	}
	switch (p->opcode) {
	case LUN_OP_DATA_IN:
		return lun_task_rx_data_in_end(s, p);
	case LUN_OP_SCSI_RSP:
		return lun_task_rx_scsi_rsp(s, p, s->rx_data, p->data_len);
	case LUN_OP_R2T:
		return lun_task_rx_r2t(s, p);
	case LUN_OP_NOP_IN:
		return conn_rx_nop_in(s, p);
	case LUN_OP_TEXT_RSP:
		return conn_rx_text(s, p);
	case LUN_OP_LOGOUT_RSP:
		return conn_rx_logout(s, p);
	case LUN_OP_ASYNC:
		return conn_rx_async(s, p);
	case LUN_OP_REJECT:
		return conn_rx_reject(s, p);
	case LUN_OP_TMF_RSP:
		return lun_task_rx_tmf_rsp(s, p);
	default:
		lun_conn_fail(s, LUN_T14, "unexpected %s after login",
			      lun_pdu_opcode_name(p->opcode));
		return -1;
	}
}

static int conn_check_connect(struct lun_sess *s)
{
	int soerr = 0;
	socklen_t l = sizeof(soerr);

	if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &soerr, &l) < 0)
		soerr = errno;
	if (soerr) {
		lun_conn_fail(s, LUN_T7, "cannot connect to %s: %s", s->portal,
			      strerror(soerr));
		return -1;
	}
	s->connecting = false;
	return 0;
}

int lun_conn_service(struct lun_sess *s, short revents)
{
	if (s->fd < 0)
		return 0;
	if (s->connecting) {
		if (!(revents & (POLLOUT | POLLERR | POLLHUP)))
			return 0;
		if (conn_check_connect(s) < 0)
			return -1;
	}
	if (revents & (POLLIN | POLLERR | POLLHUP)) {
		if (conn_read(s) < 0)
			return -1;
	}
	if (s->fd >= 0 && s->txq_head && conn_flush(s) < 0)
		return -1;
	return 0;
}
