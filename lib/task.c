/*
 * task.c - floor 3: the life of one SCSI command (RFC 7143 sections 4.2,
 * 11.3-11.8).
 *
 *   submit -> wait for the CmdSN window -> SCSI Command PDU (+ immediate
 *   data) -> unsolicited Data-Out up to FirstBurstLength (if InitialR2T=No)
 *   -> Data-Out bursts answering R2Ts -> Data-In PDUs straight into the
 *   caller's iovecs -> status (SCSI Response, or Data-In with S bit).
 *
 * Tasks live in a pool allocated with the session: nothing here calls
 * malloc.  An ITT is (generation << 8 | slot), so a late PDU for a slot that
 * has been reused is recognised as stale instead of corrupting a new command.
 */
#include <stdio.h>
#include <string.h>

#include "scsi.h"
#include "sess.h"
#include "util.h"

void lun_tasks_init(struct lun_sess *s)
{
	s->free_tasks = NULL;
	for (unsigned i = s->ntasks; i-- > 0;) {
		struct lun_task *t = &s->tasks[i];

		memset(t, 0, sizeof(*t));
		t->index = (uint16_t)i;
		t->next = s->free_tasks;
		s->free_tasks = t;
	}
}

struct lun_task *lun_task_by_itt(struct lun_sess *s, uint32_t itt)
{
	uint32_t i = itt & 0xff;

	if (itt == LUN_RSVD_TAG || i >= s->ntasks)
		return NULL;
	if (!s->tasks[i].busy || s->tasks[i].itt != itt)
		return NULL;
	return &s->tasks[i];
}

static void txq_remove(struct lun_sess *s, struct lun_txu *u)
{
	struct lun_txu **pp = &s->txq_head, *prev = NULL;

	while (*pp && *pp != u) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	if (!*pp)
		return;
	*pp = u->next;
	if (s->txq_tail == u)
		s->txq_tail = prev;
	u->queued = false;
}

static void task_latency(struct lun_sess *s, const struct lun_task *t)
{
	uint64_t us = (lun_now_ns() - t->start_ns) / 1000u;
	unsigned b = 0;

	while (us > 1 && b < LUNARIS_LAT_BUCKETS - 1) {
		us >>= 1;
		b++;
	}
	s->stats.latency_us[b]++;
}

static void wait_remove(struct lun_sess *s, struct lun_task *t)
{
	struct lun_task **pp = &s->wait_head, *prev = NULL;

	while (*pp && *pp != t) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	if (!*pp)
		return;
	*pp = t->next;
	if (s->wait_tail == t)
		s->wait_tail = prev;
	t->next = NULL;
	t->waiting = false;
}

static void task_forget_expect(struct lun_sess *s, struct lun_task *t)
{
	s->rx_expect -= t->expect;
	t->expect = 0;
}

void lun_task_complete(struct lun_sess *s, struct lun_task *t)
{
	struct lunaris_scsi_result r = t->result;
	lunaris_scsi_cb cb = t->cb;
	void *arg = t->arg;
	bool torn = false;

	if (t->waiting)
		wait_remove(s, t);
	task_forget_expect(s, t);
	task_latency(s, t);
	if (t->tx.queued) {
		/* Half of this task's PDU may be on the wire while the caller's
		 * buffer is about to be returned: the only safe way out is to
		 * drop the connection (ERL 0), after this task is released so
		 * that recovery does not send it again. */
		torn = t->tx.done != 0;
		if (torn)
			t->tx.queued = false;
		else
			txq_remove(s, &t->tx);
	}
	t->busy = false;
	t->cb = NULL;
	t->next = s->free_tasks;
	s->free_tasks = t;
	if (torn)
		lun_conn_fail(s, LUN_T14, "target completed a command before taking all of its "
					  "data");
	if (cb)
		cb((lunaris_session *)s, &r, arg);
}

void lun_task_fail_all(struct lun_sess *s, enum lunaris_cmd_error e)
{
	for (unsigned i = 0; i < s->ntasks; i++) {
		struct lun_task *t = &s->tasks[i];

		if (!t->busy)
			continue;
		t->result.error = e;
		if (s->fd < 0)
			t->tx.queued = false; /* the queue died with the socket */
		lun_task_complete(s, t);
	}
	s->wait_head = s->wait_tail = NULL;
}

/* Forget everything about the last attempt to send t. */
static void task_reset_transfer(struct lun_task *t)
{
	t->cmd_sent = false;
	t->out_active = false;
	t->r2t_head = t->r2t_count = 0;
	t->exp_datasn = 0;
	t->received = 0;
	t->tmf_state = LUN_TMF_NONE;
	t->tx.queued = false;
	memset(&t->result, 0, sizeof(t->result));
}

static void wait_push_front(struct lun_sess *s, struct lun_task *t)
{
	t->next = s->wait_head;
	s->wait_head = t;
	if (!s->wait_tail)
		s->wait_tail = t;
	t->waiting = true;
}

void lun_task_requeue_all(struct lun_sess *s)
{
	struct lun_task *sent[LUN_NTASKS];
	unsigned n = 0;

	for (unsigned i = 0; i < s->ntasks; i++) {
		struct lun_task *t = &s->tasks[i];

		if (t->busy && !t->waiting)
			sent[n++] = t;
	}
	/* Re-issue in the order of the original CmdSNs (insertion sort: at
	 * most one pool's worth, and this runs once per failure). */
	for (unsigned i = 1; i < n; i++) {
		struct lun_task *t = sent[i];
		unsigned j = i;

		while (j > 0 && lun_sn_lt(t->cmdsn, sent[j - 1]->cmdsn)) {
			sent[j] = sent[j - 1];
			j--;
		}
		sent[j] = t;
	}
	for (unsigned i = n; i-- > 0;) {
		task_forget_expect(s, sent[i]);
		task_reset_transfer(sent[i]);
		wait_push_front(s, sent[i]);
		s->stats.reissued++;
	}
}

/* ---- Data-Out */

static void task_data_sent(struct lun_sess *s, struct lun_txu *u);
static void task_finish(struct lun_sess *s, struct lun_task *t);

static int task_queue_data_out(struct lun_sess *s, struct lun_task *t)
{
	uint32_t len = t->out_end - t->out_offset;
	struct lun_pdu p = { .opcode = LUN_OP_DATA_OUT };
	struct iovec slice[LUNARIS_MAX_IOV];
	int n;

	if (len > s->params.max_send_dsl)
		len = s->params.max_send_dsl;
	n = lun_iov_slice(t->iov, t->iovcnt, t->out_offset, len, slice, LUNARIS_MAX_IOV);
	if (n < 0) {
		lun_conn_fail(s, LUN_T14, "write buffer shorter than the data the target asked for");
		return -1;
	}
	p.data_len = len;
	p.u.data_out.final = t->out_offset + len == t->out_end;
	p.u.data_out.lun = lun_scsi_lun_encode(t->lun);
	p.u.data_out.itt = t->itt;
	p.u.data_out.ttt = t->out_ttt;
	p.u.data_out.expstatsn = s->exp_statsn;
	p.u.data_out.datasn = t->out_datasn++;
	p.u.data_out.buffer_offset = t->out_offset;
	if (lun_txu_build(s, &t->tx, &p, slice, n, len) < 0) {
		lun_conn_event(s, LUN_T14, s->err);
		return -1;
	}
	t->out_offset += len;
	t->tx.sent = task_data_sent;
	lun_txu_queue(s, &t->tx);
	s->stats.pdus_out++;
	s->stats.bytes_out += len;
	return 0;
}

/* Start the next R2T burst, if one is waiting. */
static int task_next_burst(struct lun_sess *s, struct lun_task *t)
{
	struct lun_r2t *r;

	if (t->out_active || !t->r2t_count)
		return 0;
	r = &t->r2t[t->r2t_head];
	t->r2t_head = (t->r2t_head + 1) % LUN_MAX_R2T;
	t->r2t_count--;
	t->out_offset = r->offset;
	t->out_end = r->offset + r->length;
	t->out_ttt = r->ttt;
	t->out_datasn = 0; /* DataSN restarts for every R2T (RFC 7143 11.7.5) */
	t->out_active = true;
	return task_queue_data_out(s, t);
}

static void task_data_sent(struct lun_sess *s, struct lun_txu *u)
{
	struct lun_task *t = (struct lun_task *)u; /* tx is the first member */

	if (!t->busy)
		return;
	if (t->out_offset < t->out_end) {
		task_queue_data_out(s, t);
		return;
	}
	t->out_active = false;
	task_next_burst(s, t);
}

static void task_cmd_sent(struct lun_sess *s, struct lun_txu *u)
{
	struct lun_task *t = (struct lun_task *)u;

	if (!t->busy)
		return;
	t->cmd_sent = true;
	if (t->out_active)
		task_queue_data_out(s, t); /* unsolicited Data-Out */
	else
		task_next_burst(s, t); /* an R2T may have come before we finished */
}

int lun_task_send(struct lun_sess *s, struct lun_task *t)
{
	struct lun_pdu p = { .opcode = LUN_OP_SCSI_CMD };
	uint32_t unsol_end = 0;

	t->imm_len = 0;
	t->out_active = false;
	if (t->dir == LUNARIS_DIR_WRITE) {
		uint32_t fb = s->params.first_burst < t->xfer_len ? s->params.first_burst
								  : t->xfer_len;

		if (s->params.immediate_data)
			t->imm_len = fb < s->params.max_send_dsl ? fb : s->params.max_send_dsl;
		if (!s->params.initial_r2t)
			unsol_end = fb;
	}
	p.data_len = t->imm_len;
	p.u.scsi_cmd.final = unsol_end <= t->imm_len;
	p.u.scsi_cmd.read = t->dir == LUNARIS_DIR_READ;
	p.u.scsi_cmd.write = t->dir == LUNARIS_DIR_WRITE;
	p.u.scsi_cmd.attr = LUN_ATTR_SIMPLE;
	p.u.scsi_cmd.lun = lun_scsi_lun_encode(t->lun);
	p.u.scsi_cmd.itt = t->itt;
	p.u.scsi_cmd.edtl = t->xfer_len;
	p.u.scsi_cmd.cmdsn = t->cmdsn = s->cmdsn++;
	p.u.scsi_cmd.expstatsn = s->exp_statsn;
	memcpy(p.u.scsi_cmd.cdb, t->cdb, 16);
	if (lun_txu_build(s, &t->tx, &p, t->iov, t->iovcnt, t->imm_len) < 0)
		return -1;
	if (unsol_end > t->imm_len) {
		t->out_offset = t->imm_len;
		t->out_end = unsol_end;
		t->out_ttt = LUN_RSVD_TAG;
		t->out_datasn = 0;
		t->out_active = true;
	}
	t->tx.sent = task_cmd_sent;
	lun_txu_queue(s, &t->tx);
	t->deadline_ns = s->cmd_timeout_s ? lun_now_ns() + (uint64_t)s->cmd_timeout_s * 1000000000u
					  : 0;
	if (t->deadline_ns && t->deadline_ns < s->task_tick_ns)
		s->task_tick_ns = t->deadline_ns;
	/* At least the BHS of the status, plus the data of a read. */
	t->expect = LUN_BHS_LEN + (t->dir == LUNARIS_DIR_READ ? t->xfer_len : 0);
	s->rx_expect += t->expect;
	s->stats.commands++;
	s->stats.pdus_out++;
	s->stats.bytes_out += t->imm_len;
	return 0;
}

/* ---- status handling: what is repeated, what is reported */

#define TASK_MAX_RETRIES 8

/*
 * A status arrived.  UNIT ATTENTION means the command was not executed and
 * something changed (reset, capacity, LUN inventory): tell the application
 * and run the command again.  BUSY and TASK SET FULL mean "not now": run it
 * again after a back-off that doubles from 10 ms up to 1 s.  Everything else
 * (including every other CHECK CONDITION) goes to the caller unchanged: a
 * medium error or an illegal request must not be repeated blindly.
 */
static void task_finish(struct lun_sess *s, struct lun_task *t)
{
	uint8_t st = t->result.status;
	struct lun_sense sn;

	/* A command whose PDU is half written cannot be sent again now. */
	if (t->result.response == 0 && t->retries < TASK_MAX_RETRIES &&
	    !(t->tx.queued && t->tx.done)) {
		if (st == LUN_SCSI_CHECK_CONDITION && t->result.sense_len &&
		    lun_parse_sense(t->result.sense, t->result.sense_len, &sn, NULL, 0) == 0 &&
		    sn.key == 0x06) {
			char text[200];

			lun_sense_str(&sn, text, sizeof(text));
			lun_sess_notify(s, LUNARIS_EV_UNIT_ATTENTION, t->lun, sn.key, sn.asc, sn.ascq,
					text);
			t->not_before_ns = 0;
			goto again;
		}
		if (st == LUN_SCSI_BUSY || st == LUN_SCSI_TASK_SET_FULL) {
			uint64_t ms = 10u << (t->retries < 7 ? t->retries : 7);

			t->not_before_ns = lun_now_ns() + (ms > 1000 ? 1000 : ms) * 1000000u;
			goto again;
		}
	}
	lun_task_complete(s, t);
	return;
again:
	t->retries++;
	s->stats.retries++;
	if (t->tx.queued)
		txq_remove(s, &t->tx);
	task_forget_expect(s, t);
	task_reset_transfer(t);
	wait_push_front(s, t);
}

/* ---- responses */

/*
 * Find the task of a response.  A response whose ITT has a task's shape but
 * no live task is stale (the command was aborted and its slot may be in use
 * again): *stale is set and the PDU is dropped.  Any other unknown ITT is a
 * protocol error.
 */
static struct lun_task *task_find(struct lun_sess *s, uint32_t itt, const char *what,
				  bool *stale)
{
	struct lun_task *t = lun_task_by_itt(s, itt);

	*stale = false;
	if (t)
		return t;
	if (itt != LUN_RSVD_TAG && (itt & 0xff) < s->ntasks) {
		*stale = true;
		s->stats.stale_pdus++;
		return NULL;
	}
	lun_conn_fail(s, LUN_T14, "%s for unknown task 0x%08x", what, itt);
	return NULL;
}

int lun_task_rx_r2t(struct lun_sess *s, const struct lun_pdu *p)
{
	const struct lun_pdu_r2t *r = &p->u.r2t;
	bool stale;
	struct lun_task *t = task_find(s, r->itt, "R2T", &stale);
	unsigned slot;

	if (!t)
		return stale ? 0 : -1;
	lun_sess_update_sn(s, r->expcmdsn, r->maxcmdsn);
	if (t->dir != LUNARIS_DIR_WRITE || r->buffer_offset > t->xfer_len ||
	    r->desired_length > t->xfer_len - r->buffer_offset) {
		lun_conn_fail(s, LUN_T14,
			      "R2T asks for bytes %u..%u of a %u-byte %s command", r->buffer_offset,
			      r->buffer_offset + r->desired_length, t->xfer_len,
			      t->dir == LUNARIS_DIR_WRITE ? "write" : "non-write");
		return -1;
	}
	if (r->desired_length > s->params.max_burst) {
		lun_conn_fail(s, LUN_T14, "R2T asks for %u bytes, more than MaxBurstLength %u",
			      r->desired_length, s->params.max_burst);
		return -1;
	}
	if (t->r2t_count == LUN_MAX_R2T) {
		lun_conn_fail(s, LUN_T14, "more outstanding R2Ts than MaxOutstandingR2T");
		return -1;
	}
	slot = (t->r2t_head + t->r2t_count) % LUN_MAX_R2T;
	t->r2t[slot] = (struct lun_r2t){ r->ttt, r->buffer_offset, r->desired_length };
	t->r2t_count++;
	/* If the command PDU (or an unsolicited burst) is still leaving, the
	 * burst starts from its sent callback. */
	if (t->cmd_sent && !t->out_active)
		return task_next_burst(s, t);
	return 0;
}

int lun_task_rx_data_in_begin(struct lun_sess *s, const struct lun_pdu *p)
{
	const struct lun_pdu_data_in *d = &p->u.data_in;
	bool stale;
	struct lun_task *t = task_find(s, d->itt, "Data-In", &stale);
	int n;

	if (!t) {
		if (!stale)
			return -1;
		if (p->data_len > s->params.max_recv_dsl) {
			lun_conn_fail(s, LUN_T14, "Data-In of %u bytes exceeds our "
						  "MaxRecvDataSegmentLength", p->data_len);
			return -1;
		}
		/* read the data of an aborted command into scratch space */
		s->rx_iov[0].iov_base = s->rx_data;
		s->rx_iov[0].iov_len = p->data_len;
		return 1;
	}
	if (t->dir != LUNARIS_DIR_READ) {
		lun_conn_fail(s, LUN_T14, "Data-In for a command that reads nothing");
		return -1;
	}
	if (d->datasn != t->exp_datasn) {
		lun_conn_fail(s, LUN_T14, "Data-In DataSN %u, expected %u (lost PDU)", d->datasn,
			      t->exp_datasn);
		return -1;
	}
	if (d->buffer_offset > t->xfer_len || p->data_len > t->xfer_len - d->buffer_offset) {
		lun_conn_fail(s, LUN_T14, "Data-In bytes %u..%u overrun the %u-byte buffer",
			      d->buffer_offset, d->buffer_offset + p->data_len, t->xfer_len);
		return -1;
	}
	if (p->data_len > s->params.max_recv_dsl) {
		lun_conn_fail(s, LUN_T14, "Data-In of %u bytes exceeds our MaxRecvDataSegmentLength",
			      p->data_len);
		return -1;
	}
	n = lun_iov_slice(t->iov, t->iovcnt, d->buffer_offset, p->data_len, s->rx_iov,
			  LUNARIS_MAX_IOV);
	if (n < 0) {
		lun_conn_fail(s, LUN_T14, "Data-In does not fit the read buffer");
		return -1;
	}
	s->rx_task = t;
	return n;
}

static void task_set_residual(struct lun_task *t, bool under, bool over, uint32_t residual)
{
	t->result.underflow = under;
	t->result.overflow = over;
	t->result.residual = under || over ? residual : 0;
}

int lun_task_rx_data_in_end(struct lun_sess *s, const struct lun_pdu *p)
{
	const struct lun_pdu_data_in *d = &p->u.data_in;
	struct lun_task *t = s->rx_task;
	bool stale = false;

	if (!t) {
		t = task_find(s, d->itt, "Data-In", &stale);
		if (!t) {
			if (!stale)
				return -1;
			lun_sess_update_sn(s, d->expcmdsn, d->maxcmdsn);
			return d->has_status ? lun_sess_check_statsn(s, d->statsn, true, "Data-In")
					     : 0;
		}
		if (d->datasn != t->exp_datasn) {
			lun_conn_fail(s, LUN_T14, "Data-In DataSN %u, expected %u", d->datasn,
				      t->exp_datasn);
			return -1;
		}
	}
	s->rx_task = NULL;
	t->exp_datasn++;
	t->received += p->data_len;
	s->stats.bytes_in += p->data_len;
	lun_sess_update_sn(s, d->expcmdsn, d->maxcmdsn);
	if (!d->has_status)
		return 0;
	if (lun_sess_check_statsn(s, d->statsn, true, "Data-In") < 0)
		return -1;
	t->result.error = LUNARIS_OK;
	t->result.response = 0;
	t->result.status = d->status;
	task_set_residual(t, d->underflow, d->overflow, d->residual);
	t->result.sense_len = 0;
	task_finish(s, t);
	return 0;
}

int lun_task_rx_scsi_rsp(struct lun_sess *s, const struct lun_pdu *p, const uint8_t *data,
			 size_t len)
{
	const struct lun_pdu_scsi_rsp *r = &p->u.scsi_rsp;
	bool stale;
	struct lun_task *t = task_find(s, r->itt, "SCSI Response", &stale);
	const uint8_t *sense;
	size_t slen;
	char err[160];

	if (!t) {
		if (!stale)
			return -1;
		lun_sess_update_sn(s, r->expcmdsn, r->maxcmdsn);
		return lun_sess_check_statsn(s, r->statsn, true, "SCSI Response");
	}
	if (lun_sess_check_statsn(s, r->statsn, true, "SCSI Response") < 0)
		return -1;
	lun_sess_update_sn(s, r->expcmdsn, r->maxcmdsn);
	if (r->expdatasn != 0 && t->dir == LUNARIS_DIR_READ && r->expdatasn != t->exp_datasn) {
		lun_conn_fail(s, LUN_T14, "SCSI Response says %u Data-In PDUs, we got %u",
			      r->expdatasn, t->exp_datasn);
		return -1;
	}
	t->result.error = LUNARIS_OK;
	t->result.response = r->response;
	t->result.status = r->status;
	task_set_residual(t, r->underflow, r->overflow, r->residual);
	t->result.sense_len = 0;
	if (len) {
		if (lun_iscsi_sense_split(data, len, &sense, &slen, err, sizeof(err)) < 0) {
			lun_conn_fail(s, LUN_T14, "SCSI Response: %s", err);
			return -1;
		}
		if (slen > sizeof(t->result.sense))
			slen = sizeof(t->result.sense);
		memcpy(t->result.sense, sense, slen);
		t->result.sense_len = slen;
	}
	task_finish(s, t);
	return 0;
}

/* ---- command timeouts: ABORT TASK -> LOGICAL UNIT RESET -> drop */

/* How long a task management request may take: the command timeout, at
 * most 10 s (a target that cannot abort in 10 s will not do it later). */
static unsigned tmf_timeout_s(const struct lun_sess *s)
{
	unsigned t = s->cmd_timeout_s < 10 ? s->cmd_timeout_s : 10;

	return t ? t : 1;
}

static void task_trace(struct lun_sess *s, const char *from, const char *ev, const char *to,
		       const char *cause)
{
	struct lunaris_trace_event te = {
		.time_ns = lun_now_ns(),
		.machine = LUNARIS_FSM_TASK,
		.id = s->id,
		.target = s->target_label,
		.portal = s->portal,
		.from = from,
		.event = ev,
		.to = to,
		.cause = cause,
	};

	lun_trace_emit(&s->trace, &te);
}

static int task_send_tmf(struct lun_sess *s, uint8_t func, struct lun_task *t)
{
	struct lun_pdu p = { .opcode = LUN_OP_TMF_REQ, .immediate = true };

	p.u.tmf_req.function = func;
	p.u.tmf_req.lun = lun_scsi_lun_encode(t->lun);
	p.u.tmf_req.itt = s->tmf_itt = lun_sess_ctl_itt(s, LUN_ITT_TMF);
	p.u.tmf_req.rtt = func == LUN_TMF_ABORT_TASK ? t->itt : LUN_RSVD_TAG;
	p.u.tmf_req.cmdsn = s->cmdsn;
	p.u.tmf_req.expstatsn = s->exp_statsn;
	p.u.tmf_req.refcmdsn = func == LUN_TMF_ABORT_TASK ? t->cmdsn : 0;
	p.u.tmf_req.expdatasn = func == LUN_TMF_ABORT_TASK && t->dir == LUNARIS_DIR_READ
					? t->exp_datasn
					: 0;
	if (lun_txu_build(s, &s->tmf_tx, &p, NULL, 0, 0) < 0)
		return -1;
	s->tmf_tx.sent = NULL;
	lun_txu_queue(s, &s->tmf_tx);
	s->tmf_busy = true;
	s->tmf_func = func;
	s->tmf_lun = t->lun;
	s->tmf_rtt = t->itt;
	s->tmf_deadline_ns = lun_now_ns() + (uint64_t)tmf_timeout_s(s) * 1000000000u;
	if (s->tmf_deadline_ns < s->task_tick_ns)
		s->task_tick_ns = s->tmf_deadline_ns;
	s->stats.pdus_out++;
	return 0;
}

static void task_lu_reset(struct lun_sess *s, struct lun_task *t, const char *why)
{
	task_trace(s, "aborting", "LU_RESET", "resetting", why);
	for (unsigned i = 0; i < s->ntasks; i++)
		if (s->tasks[i].busy && s->tasks[i].lun == t->lun &&
		    s->tasks[i].tmf_state == LUN_TMF_ABORTING)
			s->tasks[i].tmf_state = LUN_TMF_RESETTING;
	s->stats.lu_resets++;
	if (task_send_tmf(s, LUN_TMF_LOGICAL_UNIT_RESET, t) < 0)
		lun_conn_event(s, LUN_T15, s->err);
}

/* Complete a timed-out command for good. */
static void task_timed_out(struct lun_sess *s, struct lun_task *t, const char *how)
{
	char why[LUN_CAUSE_MAX];

	snprintf(why, sizeof(why), "command 0x%02x (ITT 0x%08x) %s", t->cdb[0], t->itt, how);
	task_trace(s, t->tmf_state == LUN_TMF_RESETTING ? "resetting" : "aborting", "TMF_DONE",
		   "timed_out", why);
	s->stats.command_timeouts++;
	t->result.error = LUNARIS_ERR_TIMEOUT;
	lun_task_complete(s, t);
}

int lun_task_rx_tmf_rsp(struct lun_sess *s, const struct lun_pdu *p)
{
	const struct lun_pdu_tmf_rsp *r = &p->u.tmf_rsp;
	struct lun_task *t;

	if (lun_sess_check_statsn(s, r->statsn, true, "Task Management Response") < 0)
		return -1;
	lun_sess_update_sn(s, r->expcmdsn, r->maxcmdsn);
	if (!s->tmf_busy || r->itt != s->tmf_itt)
		return 0; /* an answer we stopped waiting for */
	s->tmf_busy = false;
	t = lun_task_by_itt(s, s->tmf_rtt);
	if (s->tmf_func == LUN_TMF_ABORT_TASK) {
		if (!t)
			return 0; /* completed meanwhile */
		/* 0 function complete, 1 task does not exist (it finished and
		 * its status raced the abort): either way it is over. */
		if (r->response <= 1) {
			task_timed_out(s, t, "aborted after its timeout");
			return 0;
		}
		char why[LUN_CAUSE_MAX];

		snprintf(why, sizeof(why), "ABORT TASK refused (response %u)", r->response);
		task_lu_reset(s, t, why);
		return 0;
	}
	/* LOGICAL UNIT RESET */
	if (r->response != 0) {
		lun_conn_fail(s, LUN_T15, "LOGICAL UNIT RESET of LUN %u refused (response %u)",
			      s->tmf_lun, r->response);
		return -1;
	}
	/* The reset ended every command of that LU at the target: the timed
	 * out ones fail, the others are sent again. */
	for (unsigned i = 0; i < s->ntasks; i++) {
		struct lun_task *x = &s->tasks[i];

		if (!x->busy || x->lun != s->tmf_lun || x->waiting)
			continue;
		if (x->tmf_state != LUN_TMF_NONE) {
			task_timed_out(s, x, "ended by LOGICAL UNIT RESET after its timeout");
		} else if (!x->tx.queued || !x->tx.done) {
			if (x->tx.queued)
				txq_remove(s, &x->tx);
			task_forget_expect(s, x);
			task_reset_transfer(x);
			wait_push_front(s, x);
			s->stats.reissued++;
		}
	}
	return 0;
}

/* The earliest command or task management deadline (a full scan: only
 * done when a deadline has passed, never per I/O). */
static uint64_t task_scan_deadlines(const struct lun_sess *s)
{
	uint64_t next = UINT64_MAX;

	if (s->tmf_busy)
		next = s->tmf_deadline_ns;
	for (unsigned i = 0; i < s->ntasks; i++) {
		const struct lun_task *t = &s->tasks[i];

		if (t->busy && !t->waiting && t->deadline_ns && t->tmf_state == LUN_TMF_NONE &&
		    t->deadline_ns < next)
			next = t->deadline_ns;
	}
	return next;
}

static void task_timers_scan(struct lun_sess *s, uint64_t now);

void lun_task_timers(struct lun_sess *s, uint64_t now)
{
	/* s->task_tick_ns is never later than the earliest deadline: sending
	 * a command or a TMF pulls it in, so most calls return here. */
	if (now < s->task_tick_ns)
		return;
	task_timers_scan(s, now);
	s->task_tick_ns = task_scan_deadlines(s);
}

static void task_timers_scan(struct lun_sess *s, uint64_t now)
{
	if (s->tmf_busy && now > s->tmf_deadline_ns) {
		struct lun_task *t = lun_task_by_itt(s, s->tmf_rtt);

		s->tmf_busy = false;
		if (s->tmf_func == LUN_TMF_ABORT_TASK && t) {
			task_lu_reset(s, t, "no answer to ABORT TASK");
			return;
		}
		lun_conn_fail(s, LUN_T15, "command timeout: no answer to %s of LUN %u",
			      s->tmf_func == LUN_TMF_ABORT_TASK ? "ABORT TASK"
								 : "LOGICAL UNIT RESET",
			      s->tmf_lun);
		return;
	}
	if (s->tmf_busy)
		return; /* one task management request at a time */
	for (unsigned i = 0; i < s->ntasks; i++) {
		struct lun_task *t = &s->tasks[i];
		char why[LUN_CAUSE_MAX];

		if (!t->busy || t->waiting || !t->deadline_ns || now <= t->deadline_ns ||
		    t->tmf_state != LUN_TMF_NONE)
			continue;
		snprintf(why, sizeof(why), "command 0x%02x (ITT 0x%08x) timed out after %u s",
			 t->cdb[0], t->itt, s->cmd_timeout_s);
		task_trace(s, "running", "ABORT_TASK", "aborting", why);
		t->tmf_state = LUN_TMF_ABORTING;
		s->stats.aborts++;
		if (task_send_tmf(s, LUN_TMF_ABORT_TASK, t) < 0)
			lun_conn_event(s, LUN_T15, s->err);
		return;
	}
}

uint64_t lun_task_next_timer(const struct lun_sess *s)
{
	uint64_t next = s->task_tick_ns;

	if (s->wait_head && s->wait_head->not_before_ns && s->wait_head->not_before_ns < next)
		next = s->wait_head->not_before_ns;
	return next;
}
