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

void lun_task_complete(struct lun_sess *s, struct lun_task *t)
{
	struct lunaris_scsi_result r = t->result;
	lunaris_scsi_cb cb = t->cb;
	void *arg = t->arg;

	if (t->tx.queued) {
		if (t->tx.done) {
			/* Half of this task's PDU is on the wire and the caller's
			 * buffer is about to be returned: the only safe way out is
			 * to drop the connection (ERL 0). */
			t->tx.queued = false;
			lun_conn_fail(s, LUN_T14, "target completed a command before taking "
						  "all of its data");
		} else {
			txq_remove(s, &t->tx);
		}
	}
	t->busy = false;
	t->cb = NULL;
	t->next = s->free_tasks;
	s->free_tasks = t;
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
		t->tx.queued = false; /* the queue died with the socket */
		lun_task_complete(s, t);
	}
	s->wait_head = s->wait_tail = NULL;
}

/* ---- Data-Out */

static void task_data_sent(struct lun_sess *s, struct lun_txu *u);

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
	s->stats.commands++;
	s->stats.pdus_out++;
	s->stats.bytes_out += t->imm_len;
	return 0;
}

/* ---- responses */

static struct lun_task *task_find(struct lun_sess *s, uint32_t itt, const char *what)
{
	struct lun_task *t = lun_task_by_itt(s, itt);

	if (!t)
		lun_conn_fail(s, LUN_T14, "%s for unknown task 0x%08x", what, itt);
	return t;
}

int lun_task_rx_r2t(struct lun_sess *s, const struct lun_pdu *p)
{
	const struct lun_pdu_r2t *r = &p->u.r2t;
	struct lun_task *t = task_find(s, r->itt, "R2T");
	unsigned slot;

	if (!t)
		return -1;
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
	struct lun_task *t = task_find(s, d->itt, "Data-In");
	int n;

	if (!t)
		return -1;
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

	if (!p->data_len) {
		t = task_find(s, d->itt, "Data-In");
		if (!t)
			return -1;
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
	lun_task_complete(s, t);
	return 0;
}

int lun_task_rx_scsi_rsp(struct lun_sess *s, const struct lun_pdu *p, const uint8_t *data,
			 size_t len)
{
	const struct lun_pdu_scsi_rsp *r = &p->u.scsi_rsp;
	struct lun_task *t = task_find(s, r->itt, "SCSI Response");
	const uint8_t *sense;
	size_t slen;
	char err[160];

	if (!t)
		return -1;
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
	lun_task_complete(s, t);
	return 0;
}

void lun_task_check_timeouts(struct lun_sess *s, uint64_t now)
{
	for (unsigned i = 0; i < s->ntasks; i++) {
		struct lun_task *t = &s->tasks[i];

		if (t->busy && t->deadline_ns && now > t->deadline_ns) {
			/* ERL 0 without task management yet: the connection is
			 * the unit of recovery. */
			lun_conn_fail(s, LUN_T15, "command 0x%02x (ITT 0x%08x) timed out", t->cdb[0],
				      t->itt);
			return;
		}
	}
}
