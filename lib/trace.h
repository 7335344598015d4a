/*
 * trace.h - floor 1: state-machine trace events.
 *
 * Every transition of a connection or session state machine goes through
 * lun_trace_emit(), which (1) fires a USDT probe (provider "lunaris",
 * probes conn__event and sess__event, see docs/probes.md), (2) stores the
 * event in the session's in-process ring, and (3) calls the user's
 * callback.  The strings passed in must live as long as the session (state
 * and event names are static; target, portal and cause are session fields).
 */
#ifndef LUNARIS_TRACE_H
#define LUNARIS_TRACE_H

#include <stddef.h>

#include "lunaris/lunaris.h"

#define LUN_TRACE_RING 64
#define LUN_CAUSE_MAX 384

/* A stored event owns copies of its strings: causes change over time. */
struct lun_trace_rec {
	struct lunaris_trace_event ev;
	char cause[LUN_CAUSE_MAX];
};

struct lun_trace {
	lunaris_trace_cb cb;
	void *arg;
	unsigned head; /* next slot */
	unsigned count; /* events ever emitted */
	struct lun_trace_rec ring[LUN_TRACE_RING];
};

void lun_trace_emit(struct lun_trace *t, const struct lunaris_trace_event *ev);

#endif
