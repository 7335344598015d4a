/*
 * trace.c - emit one trace event: USDT probe, ring, callback.
 */
#include "trace.h"

#include <stdio.h>
#include <sys/sdt.h>

#include "util.h"

void lun_trace_emit(struct lun_trace *t, const struct lunaris_trace_event *ev)
{
	struct lun_trace_rec *r;

	/*
	 * The probe carries the same fields as the Solaris
	 * iscsi_conn_state_machine:event probe (object, state, event) plus
	 * where it goes and why, so one bpftrace line reproduces the 2006
	 * DTrace output.
	 */
	if (ev->machine == LUNARIS_FSM_CONN)
		STAP_PROBE7(lunaris, conn__event, ev->id, ev->target, ev->portal, ev->from,
			    ev->event, ev->to, ev->cause);
	else
		STAP_PROBE7(lunaris, sess__event, ev->id, ev->target, ev->portal, ev->from,
			    ev->event, ev->to, ev->cause);

	r = &t->ring[t->head];
	r->ev = *ev;
	lun_strlcpy(r->cause, ev->cause ? ev->cause : "", sizeof(r->cause));
	r->ev.cause = r->cause;
	t->head = (t->head + 1) % LUN_TRACE_RING;
	t->count++;
	if (t->cb)
		t->cb(ev, t->arg);
}

void lunaris_trace_format(const struct lunaris_trace_event *ev, char *buf, size_t cap)
{
	snprintf(buf, cap, "%u %s@%s %s %s -> %s (%s)", ev->id, ev->target, ev->portal, ev->from,
		 ev->event, ev->to, ev->cause ? ev->cause : "");
}
