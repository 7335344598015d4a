/*
 * busscan.c - the LUN scan of a daemon session, in the event loop.
 *
 * After login, and again after a unit attention that says the LUN inventory
 * or a capacity changed (or a reinstatement), a session learns its LUNs:
 * REPORT LUNS, then per LUN a standard INQUIRY, VPD page 0x83 (the
 * identifier that names the device, c0t<ID>d0, and the path's relative
 * target port and target port group), REPORT TARGET PORT GROUPS (the ALUA
 * state of each group; see below) and READ CAPACITY (16, then 10).  One
 * command at a time: a scan is rare and small, and this keeps the
 * session's command slots for the I/O path.  When up and idle, a TEST UNIT
 * READY every LUND_BUS_TUR_S seconds is what brings a pending unit attention
 * to light (tgtd reports a new LUN only as a unit attention on the next
 * command).
 *
 * ALUA: REPORT TARGET PORT GROUPS is asked (extended header) when INQUIRY's
 * TPGS field is not 0, and then again in the length-only format if the
 * target rejects the extended one.  It is asked once with TPGS 0 too:
 * istgt 0.4 reports TPGS 0 yet answers it (one group, active/optimized,
 * preferred), and tgtd rejects it with ILLEGAL REQUEST, which simply means
 * "no ALUA": every path counts as active/optimized, as before.  An
 * asymmetric access state change (unit attention 2A/06, or a command that
 * failed with 04/0A-0C, see lu.c) sets alua_rescan; the session then asks
 * only REPORT TARGET PORT GROUPS again, LUN by LUN, while it stays up
 * (bus_alua_start), and lu.c takes the new states (lund_lu_alua_done).
 */
#include <string.h>

#include "alua.h"
#include "bus.h"
#include "lu_id.h"
#include "scsi.h"
#include "util.h"

static void scan_cb(lunaris_session *s, const struct lunaris_scsi_result *r, void *arg)
{
	struct bsess *b = arg;

	b->res = *r;
	b->cmd_busy = false;
	b->cmd_done = true;
}

static int scan_submit(struct bsess *b, uint16_t lun, const uint8_t *cdb, size_t n,
		       uint32_t len, enum lunaris_dir dir)
{
	struct iovec iov = { b->buf, len };

	memset(b->buf, 0, sizeof(b->buf));
	b->cmd_done = false;
	if (lunaris_scsi_submit(b->s, lun, cdb, n, dir, &iov, dir == LUNARIS_DIR_NONE ? 0 : 1,
				dir == LUNARIS_DIR_NONE ? 0 : len, scan_cb, b) < 0)
		return -1;
	b->cmd_busy = true;
	return 0;
}

/* Bytes the last command brought. */
static size_t scan_got(const struct bsess *b, size_t asked)
{
	return b->res.underflow && b->res.residual < asked ? asked - b->res.residual : asked;
}

static bool scan_ok(const struct bsess *b)
{
	return b->res.error == LUNARIS_OK && b->res.status == 0;
}

void bus_scan_issue(struct bsess *b)
{
	uint8_t cdb[16];
	size_t n;
	uint16_t lun = b->scan_i < b->nlunlist ? b->lunlist[b->scan_i] : 0;

	if (b->alua_refresh)
		lun = b->scan_i < b->nluns ? b->luns[b->scan_i].lun : 0;

	switch (b->step) {
	case SC_REPORT_LUNS:
		n = lun_cdb_report_luns(cdb, sizeof(b->buf));
		scan_submit(b, 0, cdb, n, sizeof(b->buf), LUNARIS_DIR_READ);
		break;
	case SC_INQUIRY:
		n = lun_cdb_inquiry(cdb, false, 0, 96);
		scan_submit(b, lun, cdb, n, 96, LUNARIS_DIR_READ);
		break;
	case SC_VPD83:
		n = lun_cdb_inquiry(cdb, true, 0x83, 1024);
		scan_submit(b, lun, cdb, n, 1024, LUNARIS_DIR_READ);
		break;
	case SC_RTPG:
	case SC_RTPG_PLAIN:
		n = lun_alua_cdb_rtpg(cdb, sizeof(b->buf), b->step == SC_RTPG);
		scan_submit(b, lun, cdb, n, sizeof(b->buf), LUNARIS_DIR_READ);
		break;
	case SC_CAP16:
		n = lun_cdb_read_capacity16(cdb, 32);
		scan_submit(b, lun, cdb, n, 32, LUNARIS_DIR_READ);
		break;
	case SC_CAP10:
		n = lun_cdb_read_capacity10(cdb);
		scan_submit(b, lun, cdb, n, 8, LUNARIS_DIR_READ);
		break;
	case SC_TUR:
		n = lun_cdb_test_unit_ready(cdb);
		scan_submit(b, b->nluns ? b->luns[0].lun : 0, cdb, n, 0, LUNARIS_DIR_NONE);
		break;
	case SC_NONE:
		break;
	}
}

static const struct bus_lun *lun_in(const struct bus_lun *v, size_t n, uint16_t lun)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].lun == lun)
			return &v[i];
	return NULL;
}

/* What the last REPORT TARGET PORT GROUPS said, into l: the groups, and
 * the state of this path's group (by the target port group of VPD 0x83,
 * else by the relative target port, else the only group there is).
 * Returns false when the answer was no report (rejected, malformed). */
static bool alua_take(struct bsess *b, struct bus_lun *l, bool asked_extended)
{
	static struct lun_alua_report rep; /* 2.5 KiB; the loop is one thread */
	const struct lun_alua_group *g = NULL;
	char err[256];
	/* the state known before, to tell a change */
	const struct bus_lun *old = b->alua_refresh ? l : lun_in(b->luns, b->nluns, l->lun);
	bool was_known = old && old->alua_known;
	uint8_t was = old ? old->alua_state : 0;

	if (!scan_ok(b) ||
	    lun_alua_parse(b->buf, scan_got(b, sizeof(b->buf)), asked_extended, &rep, err,
			   sizeof(err)) < 0)
		return false;
	l->ngroups = 0;
	for (size_t i = 0; i < rep.count && l->ngroups < LUND_BUS_MAX_TPGS; i++) {
		struct bus_tpg *t = &l->groups[l->ngroups++];

		t->id = rep.g[i].id;
		t->state = rep.g[i].state;
		t->pref = rep.g[i].preferred;
	}
	if (l->has_tpg)
		g = lun_alua_find_group(&rep, l->tpg);
	else if (l->has_rel_port)
		g = lun_alua_find_port(&rep, l->rel_port);
	else if (rep.count == 1)
		g = &rep.g[0];
	l->alua_known = g != NULL;
	if (g) {
		l->alua_state = g->state;
		l->alua_pref = g->preferred;
		if (!l->has_tpg) {
			l->has_tpg = true;
			l->tpg = g->id;
		}
	}
	if (g && (!was_known || was != g->state) && (was_known || b->scanned))
		bus_history("%s@%s:%u: LUN %u: target port group %u %s%s%s", b->target, b->host,
			    b->port, l->lun, g->id, was_known ? lun_alua_state_str(was) : "",
			    was_known ? " -> " : "", lun_alua_state_str(g->state));
	return true;
}

/* The scan is complete: compare with what we knew and keep it. */
static void scan_finish(struct lund *d, struct bsess *b)
{
	for (size_t i = 0; i < b->nlunlist; i++)
		if (b->scanned && !lun_in(b->luns, b->nluns, b->scan[i].lun))
			bus_history("%s@%s:%u: LUN %u appeared (%s %s)", b->target, b->host,
				    b->port, b->scan[i].lun, b->scan[i].vendor, b->scan[i].product);
	for (size_t i = 0; i < b->nluns; i++)
		if (!lun_in(b->scan, b->nlunlist, b->luns[i].lun))
			bus_history("%s@%s:%u: LUN %u is gone", b->target, b->host, b->port,
				    b->luns[i].lun);
	memcpy(b->luns, b->scan, sizeof(b->luns));
	b->nluns = b->nlunlist;
	if (!b->scanned)
		bus_history("%s@%s:%u: session up, %zu LUN(s)", b->target, b->host, b->port,
			    b->nluns);
	b->scanned = true;
	b->step = SC_NONE;
	b->state = BS_UP;
	lund_lu_scan_done(b);
	b->next_ns = lun_now_ns() + LUND_BUS_TUR_S * NS;
	(void)d;
}

/* Advance the scan after a command completed. */
void bus_scan_next(struct lund *d, struct bsess *b)
{
	char err[256];
	struct bus_lun *l = &b->scan[b->scan_i < LUND_BUS_MAX_LUNS ? b->scan_i : 0];

	switch (b->step) {
	case SC_REPORT_LUNS: {
		size_t total = 0;
		int n = scan_ok(b) ? lun_parse_report_luns(b->buf, scan_got(b, sizeof(b->buf)),
							    b->lunlist, LUND_BUS_MAX_LUNS, &total,
							    err, sizeof(err))
				   : -1;

		if (n < 0) {
			/* Without REPORT LUNS there is still LUN 0. */
			b->lunlist[0] = 0;
			n = 1;
		}
		b->nlunlist = (size_t)n;
		memset(b->scan, 0, sizeof(b->scan));
		for (size_t i = 0; i < b->nlunlist; i++) {
			b->scan[i].lun = b->lunlist[i];
			b->scan[i].tpgs = -1;
		}
		b->scan_i = 0;
		b->step = b->nlunlist ? SC_INQUIRY : SC_NONE;
		break;
	}
	case SC_INQUIRY: {
		struct lun_inquiry inq;

		if (scan_ok(b) &&
		    lun_parse_inquiry(b->buf, scan_got(b, 96), &inq, err, sizeof(err)) == 0) {
			l->type = inq.device_type;
			memcpy(l->vendor, inq.vendor, sizeof(l->vendor));
			memcpy(l->product, inq.product, sizeof(l->product));
			memcpy(l->revision, inq.revision, sizeof(l->revision));
			l->tpgs = (int8_t)lun_alua_tpgs(b->buf, scan_got(b, 96));
		}
		b->step = SC_VPD83;
		break;
	}
	case SC_VPD83: {
		struct lun_vpd_ids ids;
		struct lun_luid_port port;
		char id[2 * 255 + 1];

		if (scan_ok(b) &&
		    lun_parse_vpd_ids(b->buf, scan_got(b, 1024), &ids, err, sizeof(err)) == 0) {
			if (lun_vpd_ids_identifier(&ids, id, sizeof(id)) >= 0)
				lun_strlcpy(l->ident, id, sizeof(l->ident));
			lun_luid_port(&ids, &port);
			l->has_tpg = port.has_tpg;
			l->tpg = port.tpg;
			l->has_rel_port = port.has_rel_port;
			l->rel_port = port.rel_port;
		}
		/* ALUA states of a LUN that answered INQUIRY (see the top) */
		b->step = l->tpgs >= 0 ? SC_RTPG : l->type == 0x00 ? SC_CAP16 : SC_NONE;
		break;
	}
	case SC_RTPG:
	case SC_RTPG_PLAIN: {
		bool refresh = b->alua_refresh;

		if (refresh)
			l = &b->luns[b->scan_i < b->nluns ? b->scan_i : 0];
		if (!alua_take(b, l, b->step == SC_RTPG)) {
			/* An ALUA target that does not know the extended
			 * header: ask in the length-only format. */
			if (b->step == SC_RTPG && l->tpgs > 0 && b->res.error == LUNARIS_OK &&
			    b->res.status == 2) {
				b->step = SC_RTPG_PLAIN;
				if (refresh)
					bus_scan_issue(b);
				return;
			}
			if (!refresh)
				l->alua_known = false;
		}
		if (refresh) {
			/* the next LUN that took part in ALUA, or done */
			while (++b->scan_i < b->nluns && b->luns[b->scan_i].tpgs < 0)
				;
			if (b->scan_i < b->nluns) {
				b->step = SC_RTPG;
				bus_scan_issue(b);
				return;
			}
			b->alua_refresh = false;
			b->step = SC_NONE;
			lund_lu_alua_done(b);
			return;
		}
		b->step = l->type == 0x00 ? SC_CAP16 : SC_NONE;
		break;
	}
	case SC_CAP16:
	case SC_CAP10: {
		struct lun_capacity cap;
		bool ok = scan_ok(b) &&
			  (b->step == SC_CAP16
				   ? lun_parse_read_capacity16(b->buf, scan_got(b, 32), &cap, err,
							       sizeof(err))
				   : lun_parse_read_capacity10(b->buf, scan_got(b, 8), &cap, err,
							       sizeof(err))) == 0;

		if (ok) {
			l->blocks = cap.blocks;
			l->block_size = cap.block_size;
		} else if (b->step == SC_CAP16) {
			b->step = SC_CAP10;
			return;
		}
		b->step = SC_NONE;
		break;
	}
	case SC_TUR:
		b->step = SC_NONE;
		b->state = BS_UP;
		b->next_ns = lun_now_ns() + LUND_BUS_TUR_S * NS;
		return;
	case SC_NONE:
		break;
	}
	if (b->step == SC_NONE && b->state == BS_SCAN) {
		if (++b->scan_i < b->nlunlist)
			b->step = SC_INQUIRY;
		else
			scan_finish(d, b);
	}
}

void bus_alua_start(struct bsess *b)
{
	size_t i = 0;

	b->alua_rescan = false;
	while (i < b->nluns && b->luns[i].tpgs < 0)
		i++;
	if (i >= b->nluns)
		return;
	bus_history("%s@%s:%u: asymmetric access state change; asking REPORT TARGET PORT GROUPS",
		    b->target, b->host, b->port);
	b->alua_refresh = true;
	b->scan_i = i;
	b->step = SC_RTPG;
	bus_scan_issue(b);
}

void bus_scan_start(struct bsess *b)
{
	b->state = BS_SCAN;
	b->rescan = false;
	b->alua_rescan = false; /* the scan asks for the states anyway */
	b->alua_refresh = false;
	b->step = SC_REPORT_LUNS;
	bus_scan_issue(b);
}
