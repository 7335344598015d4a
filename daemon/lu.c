/*
 * lu.c - logical units and their paths (MPxIO in userspace): lu.h.
 *
 * A path is a daemon session (bus.h's struct bsess) and a LUN number on it.
 * After each LUN scan, busscan.c hands the session's LUNs here; every LUN
 * with a VPD 0x83 identifier joins the logical unit of that identifier
 * (created on first sight), so two sessions to two portals of one target
 * give one LU with two paths.  A LUN without an identifier cannot be told
 * apart from another one, so it gets an LU of its own on that path only
 * (named after the target and LUN) and a warning.
 *
 * I/O: lund_lu_submit() picks a path with the LU's policy (mpx/policy.h)
 * and sends the command on that session.  Completion is judged here:
 *   - a status: GOOD is success; a CHECK CONDITION becomes an errno with
 *     the sense text (liblunaris already retried UNIT ATTENTION and BUSY);
 *   - a transport failure (connection, timeout, shutdown): the path was the
 *     problem, not the command, so it is sent again on another path that can
 *     serve, and a write is reported complete only once some path completed
 *     it.  With no path online the request waits, at most no-path-timeout
 *     (default 30 s), then fails with EIO; nothing hangs.
 *   - ALUA: a CHECK CONDITION saying the path's target port group is in
 *     transition, standby or unavailable (NOT READY 04/0A, 04/0B, 04/0C)
 *     is a path problem too: the path takes that state, its session asks
 *     REPORT TARGET PORT GROUPS again, and the command goes to another
 *     path (or, with none better, the same one again) until
 *     no-path-timeout.
 * Each path's ALUA state and PREF bit come from the session's scan
 * (busscan.c); the administrator's preferred path, when set, replaces the
 * PREF bits.  Failback (policy none: back to the preferred path when it can
 * serve again) is on by default.  Both settings live in memory only: the
 * device cache keeps the policy and region size, not these (lunaris-lu(8)).
 * A session whose connection failed holds its commands for reinstatement
 * (replacement-timeout); when the LU has another online path, the service
 * step takes them back at once (lunaris_fail_pending) so failover does not
 * wait for that timeout.
 *
 * Completions are never delivered inside lund_lu_submit(): they go through
 * a list that lund_lu_service() drains, so exports never re-enter
 * themselves.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>

#include "bus.h"
#include "crc32c.h"
#include "lu.h"
#include "policy.h"
#include "probes.h"
#include "scsi.h"
#include "util.h"

#define LU_MAX 64
#define LU_MAX_PATHS 8
#define LU_MAX_XFER (4u << 20) /* bytes per command, for every export */
#define LU_NO_PATH_TIMEOUT_S 30

struct lu_path {
	bool used;
	struct bsess *b; /* NULL: remembered (cache), no session now */
	uint16_t lun;
	char target[224];
	char host[256];
	uint16_t port;
	int tpgt;
	unsigned idx; /* which of the target's configured sessions */
	uint64_t down_ns; /* when it stopped being usable; 0 while usable */
	struct lun_mpx_path mp; /* state, ALUA, outstanding, counters */
	uint64_t bytes_read, bytes_written;
	bool alua_pref; /* PREF bit of its target port group */
	int tpg; /* target port group, -1 when unknown */
};

struct lund_lu {
	bool used;
	struct lund_lu_info info;
	struct lu_path paths[LU_MAX_PATHS];
	struct lun_mpx_sel sel;
	bool failback; /* kept across policy changes (sel is reset then) */
	/* the administrator's preferred path (TARGET,HOST:PORT); in memory */
	bool has_pref;
	char pref_target[224], pref_host[256];
	uint16_t pref_port;
	struct lund_io *wait_head, *wait_tail; /* no path online: waiting */
	struct lund_io *retry_head, *retry_tail; /* transport failure: send again */
};

static struct lund_lu lus[LU_MAX];
static struct lund *lu_d; /* for the tunables; set by lund_lu_service() */
static struct lund_io *done_head, *done_tail; /* completions to deliver */
static const uint8_t lu_zero_block[65536];

/* ------------------------------------------------------------------ */
/* Lists                                                              */

static void q_push(struct lund_io **head, struct lund_io **tail, struct lund_io *io)
{
	io->q_next = NULL;
	if (*tail)
		(*tail)->q_next = io;
	else
		*head = io;
	*tail = io;
}

static struct lund_io *q_pop(struct lund_io **head, struct lund_io **tail)
{
	struct lund_io *io = *head;

	if (io) {
		*head = io->q_next;
		if (!*head)
			*tail = NULL;
		io->q_next = NULL;
	}
	return io;
}

/* Finish a request: delivered by lund_lu_service(). */
static void io_finish(struct lund_io *io, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void io_finish(struct lund_io *io, int err, const char *fmt, ...)
{
	va_list ap;

	io->errmsg[0] = '\0';
	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(io->errmsg, sizeof(io->errmsg), fmt, ap);
		va_end(ap);
	}
	io->tries = (unsigned)err; /* carried to the delivery */
	q_push(&done_head, &done_tail, io);
}

/* ------------------------------------------------------------------ */
/* Paths                                                              */

/* A path can take commands: its session is logged in and scanned. */
static bool path_usable(const struct lu_path *p)
{
	return p->used && p->b && p->b->used && p->b->s && p->b->state == BS_UP &&
	       lunaris_is_logged_in(p->b->s);
}

static void lu_refresh(struct lund_lu *lu)
{
	unsigned n = 0, on = 0;

	for (int i = 0; i < LU_MAX_PATHS; i++) {
		struct lu_path *p = &lu->paths[i];

		if (!p->used)
			continue;
		n++;
		if (path_usable(p)) {
			p->mp.state = LUN_PATH_ONLINE;
			p->down_ns = 0;
			on++;
		} else {
			if (!p->down_ns)
				p->down_ns = lun_now_ns();
			p->mp.state = p->b && p->b->used && p->b->s ? LUN_PATH_FAILED
								     : LUN_PATH_OFFLINE;
		}
	}
	lu->info.npaths = n;
	lu->info.paths_online = on;
	lu->info.online = on > 0;
}

static struct lund_lu *lu_by_ident(const char *ident)
{
	for (int i = 0; i < LU_MAX; i++)
		if (lus[i].used && !strcmp(lus[i].info.ident, ident))
			return &lus[i];
	return NULL;
}

struct lund_lu *lund_lu_find(const char *name)
{
	for (int i = 0; i < LU_MAX; i++)
		if (lus[i].used && !strcmp(lus[i].info.name, name))
			return &lus[i];
	return NULL;
}

static struct lund_lu *lu_new(const char *name, const char *ident)
{
	for (int i = 0; i < LU_MAX; i++) {
		struct lund_lu *lu = &lus[i];

		if (lu->used)
			continue;
		memset(lu, 0, sizeof(*lu));
		lu->used = true;
		lun_strlcpy(lu->info.name, name, sizeof(lu->info.name));
		lun_strlcpy(lu->info.ident, ident, sizeof(lu->info.ident));
		lu->info.max_xfer = LU_MAX_XFER;
		lun_mpx_sel_init(&lu->sel, LUN_MPX_ROUND_ROBIN);
		lu->failback = lu->sel.failback;
		return lu;
	}
	return NULL;
}

static struct lu_path *path_find(struct lund_lu *lu, const struct bsess *b, uint16_t lun)
{
	for (int i = 0; i < LU_MAX_PATHS; i++) {
		struct lu_path *p = &lu->paths[i];

		/* a remembered path matches the session that serves it again */
		if (p->used && p->lun == lun && p->port == b->port && p->idx == b->idx &&
		    !strcmp(p->target, b->target) && !strcasecmp(p->host, b->host))
			return p;
	}
	return NULL;
}

/* mp.preferred: the administrator's choice when there is one, else the
 * PREF bit of the path's target port group. */
static void lu_prefs(struct lund_lu *lu)
{
	for (int i = 0; i < LU_MAX_PATHS; i++) {
		struct lu_path *p = &lu->paths[i];

		if (!p->used)
			continue;
		if (lu->has_pref)
			p->mp.preferred = p->port == lu->pref_port &&
					  !strcmp(p->target, lu->pref_target) &&
					  !strcasecmp(p->host, lu->pref_host);
		else
			p->mp.preferred = p->alua_pref;
	}
}

/* The ALUA state of the path's target port group, as the scan last saw
 * it; without ALUA (no report) every path is active/optimized. */
static void path_alua(struct lu_path *p, const struct bus_lun *l)
{
	bool known = l && l->alua_known;

	p->mp.alua = known ? l->alua_state : LUN_ALUA_ACTIVE_OPTIMIZED;
	p->alua_pref = known && l->alua_pref;
	p->tpg = l && l->has_tpg ? l->tpg : -1;
}

static struct lu_path *path_add(struct lund_lu *lu, struct bsess *b, const struct bus_lun *l)
{
	uint16_t lun = l->lun;
	struct lu_path *p = path_find(lu, b, lun);

	for (int i = 0; !p && i < LU_MAX_PATHS; i++)
		if (!lu->paths[i].used)
			p = &lu->paths[i];
	if (!p)
		return NULL;
	if (!p->used) {
		memset(p, 0, sizeof(*p));
		p->used = true;
		p->lun = lun;
		lun_strlcpy(p->target, b->target, sizeof(p->target));
		lun_strlcpy(p->host, b->host, sizeof(p->host));
		p->port = b->port;
		p->idx = b->idx;
		bus_history("%s: path %s@%s:%u LUN %u (session %u) added", lu->info.name,
			    b->target, b->host, b->port, lun, b->idx);
	}
	p->b = b;
	p->tpgt = b->tpgt;
	/* a static config may not name the TPGT (-1): the login told it */
	{
		struct lunaris_session_info si;

		if (b->s && lunaris_is_logged_in(b->s) && lunaris_get_session_info(b->s, &si) == 0)
			p->tpgt = si.tpgt;
	}
	path_alua(p, l);
	lu_prefs(lu);
	return p;
}

/* ------------------------------------------------------------------ */
/* The device cache (store): names survive restarts                   */

/* Write the LU and its paths to the cache (one transaction, durable).  The
 * cache keeps paths it is not told about: it forgets only by cleanup. */
static void lu_cache_save(struct lund_lu *lu)
{
	struct lun_store_lu s;
	struct lun_store_lu_path paths[LU_MAX_PATHS];
	char err[256];
	int n = 0;

	if (!lu_d || !lu_d->store)
		return;
	memset(&s, 0, sizeof(s));
	lun_strlcpy(s.name, lu->info.name, sizeof(s.name));
	lun_strlcpy(s.ident, lu->info.ident, sizeof(s.ident));
	memcpy(s.vendor, lu->info.vendor, sizeof(s.vendor));
	memcpy(s.product, lu->info.product, sizeof(s.product));
	memcpy(s.revision, lu->info.revision, sizeof(s.revision));
	s.size = lu->info.size;
	s.block_size = lu->info.block_size;
	lun_strlcpy(s.policy, lun_mpx_policy_str(lu->sel.policy), sizeof(s.policy));
	s.region_size = lu->sel.region_blocks;
	for (int i = 0; i < LU_MAX_PATHS; i++) {
		const struct lu_path *p = &lu->paths[i];

		if (!p->used || !p->b || p->idx)
			continue; /* a portal once: extra sessions share its row */
		memset(&paths[n], 0, sizeof(paths[n]));
		lun_strlcpy(paths[n].target, p->target, sizeof(paths[n].target));
		lun_strlcpy(paths[n].host, p->host, sizeof(paths[n].host));
		paths[n].port = p->port;
		paths[n].tpgt = p->tpgt;
		paths[n].lun = p->lun;
		n++;
	}
	s.paths = paths;
	s.npaths = n;
	if (lun_store_lu_upsert(lu_d->store, &s, lu->info.online, (int64_t)time(NULL), err,
				sizeof(err)) < 0)
		lund_log(LOG_WARNING, "device cache: %s not saved: %s", lu->info.name, err);
}

void lund_lu_load_cache(struct lund *d)
{
	struct lun_store_lu *v = NULL;
	char err[256];
	int n;

	lu_d = d;
	n = lun_store_lu_list(d->store, &v, err, sizeof(err));
	if (n < 0) {
		lund_log(LOG_WARNING, "device cache not read: %s", err);
		return;
	}
	for (int i = 0; i < n; i++) {
		struct lund_lu *lu = lu_new(v[i].name, v[i].ident);
		int k = 0;

		if (!lu) {
			lund_log(LOG_WARNING, "too many cached logical units; %s not published",
				 v[i].name);
			continue;
		}
		memcpy(lu->info.vendor, v[i].vendor, sizeof(lu->info.vendor));
		memcpy(lu->info.product, v[i].product, sizeof(lu->info.product));
		memcpy(lu->info.revision, v[i].revision, sizeof(lu->info.revision));
		lu->info.size = v[i].size;
		lu->info.block_size = v[i].block_size;
		lu->info.last_seen_online = (time_t)v[i].last_seen_online;
		lu->info.last_open = (time_t)v[i].last_open;
		lun_strlcpy(lu->info.last_opener, v[i].last_opener, sizeof(lu->info.last_opener));
		if (lund_lu_set_policy(lu, v[i].policy, v[i].region_size) < 0)
			lund_lu_set_policy(lu, LUN_STORE_LU_POLICY_DEFAULT, 0);
		for (int j = 0; j < v[i].npaths && k < LU_MAX_PATHS; j++) {
			struct lu_path *p = &lu->paths[k++];

			p->used = true;
			lun_strlcpy(p->target, v[i].paths[j].target, sizeof(p->target));
			lun_strlcpy(p->host, v[i].paths[j].host, sizeof(p->host));
			p->port = v[i].paths[j].port;
			p->tpgt = v[i].paths[j].tpgt;
			p->lun = (uint16_t)v[i].paths[j].lun;
			path_alua(p, NULL);
		}
		lu_refresh(lu);
		bus_history("device cache: %s published (offline until a path is back)",
			    lu->info.name);
	}
	lun_store_lu_free(v, n);
}

/* At stop: remember when each online LU was last seen online. */
void lund_lu_shutdown(void)
{
	char err[256];

	for (int i = 0; i < LU_MAX; i++)
		if (lus[i].used && lus[i].info.online && lu_d)
			lun_store_lu_mark_online(lu_d->store, lus[i].info.name, (int64_t)time(NULL),
						 err, sizeof(err));
}

void lund_lu_scan_done(struct bsess *b)
{
	/* Paths of this session whose LUN is gone lose their session. */
	for (int i = 0; i < LU_MAX; i++) {
		for (int j = 0; lus[i].used && j < LU_MAX_PATHS; j++) {
			struct lu_path *p = &lus[i].paths[j];
			bool still = false;

			if (!p->used || p->b != b)
				continue;
			for (size_t k = 0; k < b->nluns; k++)
				still |= b->luns[k].lun == p->lun;
			if (!still)
				p->b = NULL;
		}
	}
	for (size_t k = 0; k < b->nluns; k++) {
		const struct bus_lun *l = &b->luns[k];
		char name[80], ident[72];
		struct lund_lu *lu;

		if (l->type != 0x00 || !l->blocks)
			continue; /* only block devices are exported */
		if (l->ident[0]) {
			lun_strlcpy(ident, l->ident, sizeof(ident));
			snprintf(name, sizeof(name), "c0t%sd0", ident);
		} else {
			/* No identity: this path is the LU.  Named after it so the
			 * name stays stable while the target keeps its name. */
			snprintf(ident, sizeof(ident), "%08X%04X",
				 (unsigned)lun_crc32c(0, b->target, strlen(b->target)), l->lun);
			snprintf(name, sizeof(name), "c0t%sd0", ident);
		}
		lu = lu_by_ident(ident);
		if (!lu) {
			lu = lu_new(name, ident);
			if (!lu) {
				lund_log(LOG_WARNING, "too many logical units; %s not exported", name);
				continue;
			}
			if (!l->ident[0])
				lund_log(LOG_WARNING,
					 "%s LUN %u has no identifier (VPD 0x83): exported as %s on "
					 "this path only",
					 b->target, l->lun, name);
		}
		memcpy(lu->info.vendor, l->vendor, sizeof(lu->info.vendor));
		memcpy(lu->info.product, l->product, sizeof(lu->info.product));
		memcpy(lu->info.revision, l->revision, sizeof(lu->info.revision));
		lu->info.block_size = l->block_size;
		lu->info.size = l->blocks * l->block_size;
		if (l->ident[0] || !path_find(lu, b, l->lun))
			path_add(lu, b, l);
		lu_refresh(lu);
		lu_cache_save(lu);
	}
}

void lund_lu_alua_done(struct bsess *b)
{
	for (int i = 0; i < LU_MAX; i++) {
		struct lund_lu *lu = &lus[i];

		for (int j = 0; lu->used && j < LU_MAX_PATHS; j++) {
			struct lu_path *p = &lu->paths[j];

			if (!p->used || p->b != b)
				continue;
			for (size_t k = 0; k < b->nluns; k++)
				if (b->luns[k].lun == p->lun) {
					path_alua(p, &b->luns[k]);
					break;
				}
		}
		if (lu->used)
			lu_prefs(lu);
	}
}

void lund_lu_session_gone(const struct bsess *b)
{
	for (int i = 0; i < LU_MAX; i++) {
		for (int j = 0; lus[i].used && j < LU_MAX_PATHS; j++)
			if (lus[i].paths[j].b == b)
				lus[i].paths[j].b = NULL;
		if (lus[i].used)
			lu_refresh(&lus[i]);
	}
}

/* ------------------------------------------------------------------ */
/* I/O                                                                */

static void io_send(struct lund_lu *lu, struct lund_io *io);

static unsigned lu_no_path_timeout(void)
{
	return lu_d ? lund_tunable(lu_d, NULL, "no-path-timeout") : LU_NO_PATH_TIMEOUT_S;
}

/* errno and sentence for a completed command that did not succeed. */
static int io_scsi_error(struct lund_io *io, const struct lunaris_scsi_result *r)
{
	struct lun_sense s;
	char text[160], err[64];

	lunaris_result_str(r, text, sizeof(text));
	snprintf(io->errmsg, sizeof(io->errmsg), "%s", text);
	if (r->sense_len && lun_parse_sense(r->sense, r->sense_len, &s, err, sizeof(err)) == 0) {
		if (s.key == 0x05 && s.asc == 0x21)
			return ENOSPC; /* LBA out of range */
		if (s.key == 0x05)
			return EINVAL; /* invalid opcode / field: not supported here */
		if (s.key == 0x07)
			return EROFS; /* DATA PROTECT: write protected */
		if (s.key == 0x03 || s.key == 0x04)
			return EIO; /* medium or hardware error */
	}
	return EIO;
}

/* NOT READY, LOGICAL UNIT NOT ACCESSIBLE: ASYMMETRIC ACCESS STATE
 * TRANSITION (04/0A), TARGET PORT IN STANDBY STATE (04/0B), TARGET PORT IN
 * UNAVAILABLE STATE (04/0C): the ALUA state that says, or -1 for any other
 * result. */
static int io_alua_sense(const struct lunaris_scsi_result *r)
{
	struct lun_sense s;

	if (r->status != 2 || !r->sense_len ||
	    lun_parse_sense(r->sense, r->sense_len, &s, NULL, 0) < 0 || s.key != 0x02 ||
	    s.asc != 0x04)
		return -1;
	switch (s.ascq) {
	case 0x0a:
		return LUN_ALUA_TRANSITIONING;
	case 0x0b:
		return LUN_ALUA_STANDBY;
	case 0x0c:
		return LUN_ALUA_UNAVAILABLE;
	default:
		return -1;
	}
}

static void io_cb(lunaris_session *s, const struct lunaris_scsi_result *r, void *arg)
{
	struct lund_io *io = arg;
	struct lund_lu *lu = io->lu;
	struct lu_path *p = io->path >= 0 ? &lu->paths[io->path] : NULL;

	if (p && p->mp.outstanding)
		p->mp.outstanding--;
	if (r->error == LUNARIS_OK && r->status == 0 && r->response == 0) {
		if (p) {
			p->mp.ios++;
			if (io->op == LUND_IO_READ)
				p->bytes_read += io->length;
			else if (io->op == LUND_IO_WRITE)
				p->bytes_written += io->length;
		}
		io_finish(io, 0, NULL);
		return;
	}
	if (p)
		p->mp.errors++;
	int alua = r->error == LUNARIS_OK ? io_alua_sense(r) : -1;

	if (alua >= 0 && p) {
		/* The port, not the LU: take the state the target gave, ask
		 * for the group states again, and go elsewhere. */
		if (p->mp.alua != alua)
			bus_history("%s: path %s@%s:%u is %s; commands go to another path",
				    lu->info.name, p->target, p->host, p->port,
				    lun_alua_state_str((uint8_t)alua));
		p->mp.alua = (uint8_t)alua;
		if (p->b)
			p->b->alua_rescan = true;
	}
	if (r->error != LUNARIS_OK || (alua >= 0 && (!io->deadline_ns ||
						     lun_now_ns() < io->deadline_ns))) {
		/* The path failed this command, not the LU: try another path
		 * (from the service step, not from inside liblunaris). */
		char text[160];

		lunaris_result_str(r, text, sizeof(text));
		snprintf(io->errmsg, sizeof(io->errmsg), "%s", text);
		/* no-path-timeout counts from when its path went down */
		if (!io->deadline_ns)
			io->deadline_ns = (p && p->down_ns ? p->down_ns : lun_now_ns()) +
					  (uint64_t)lu_no_path_timeout() * 1000000000u;
		q_push(&lu->retry_head, &lu->retry_tail, io);
		return;
	}
	int e = io_scsi_error(io, r);
	char msg[sizeof(io->errmsg)];

	memcpy(msg, io->errmsg, sizeof(msg));
	io_finish(io, e, "%s", msg);
}

/* Build the command for io and send it on path i.  Returns -1 when that
 * session did not take it. */
static int io_issue(struct lund_lu *lu, struct lund_io *io, int i)
{
	struct lu_path *p = &lu->paths[i];
	uint32_t bs = lu->info.block_size;
	uint64_t lba = io->offset / bs;
	uint32_t blocks = (uint32_t)(io->length / bs);
	uint8_t cdb[16];
	size_t n;
	enum lunaris_dir dir = LUNARIS_DIR_NONE;
	const struct iovec *iov = io->iov;
	int iovcnt = io->iovcnt;
	uint32_t xfer = 0;
	struct iovec one;

	switch (io->op) {
	case LUND_IO_READ:
		n = lun_cdb_read16(cdb, lba, blocks);
		dir = LUNARIS_DIR_READ;
		xfer = (uint32_t)io->length;
		break;
	case LUND_IO_WRITE:
		n = lun_cdb_write16(cdb, lba, blocks);
		if (io->fua)
			cdb[1] |= 0x08;
		dir = LUNARIS_DIR_WRITE;
		xfer = (uint32_t)io->length;
		break;
	case LUND_IO_FLUSH:
		n = lun_cdb_synchronize_cache10(cdb, 0, 0);
		iov = NULL;
		iovcnt = 0;
		break;
	case LUND_IO_TRIM:
		n = lun_cdb_unmap(cdb, 24);
		lun_unmap_param_build(io->param, lba, blocks);
		one = (struct iovec){ io->param, 24 };
		iov = &one;
		iovcnt = 1;
		dir = LUNARIS_DIR_WRITE;
		xfer = 24;
		break;
	case LUND_IO_ZERO:
		n = lun_cdb_write_same16(cdb, lba, blocks, io->may_trim);
		one = (struct iovec){ (void *)lu_zero_block, bs };
		iov = &one;
		iovcnt = 1;
		dir = LUNARIS_DIR_WRITE;
		xfer = bs;
		break;
	default:
		return -1;
	}
	io->path = i;
	if (lunaris_scsi_submit(p->b->s, p->lun, cdb, n, dir, iov, iovcnt, xfer, io_cb, io) < 0)
		return -1;
	p->mp.outstanding++;
	return 0;
}

static void io_send(struct lund_lu *lu, struct lund_io *io)
{
	struct lun_mpx_path mp[LU_MAX_PATHS];
	uint64_t lba = io->op == LUND_IO_FLUSH ? LUN_MPX_NO_LBA
					      : io->offset / (lu->info.block_size ?: 512);

	lu_refresh(lu);
	for (int i = 0; i < LU_MAX_PATHS; i++) {
		mp[i] = lu->paths[i].mp;
		if (!lu->paths[i].used)
			mp[i].state = LUN_PATH_OFFLINE;
	}
	for (int tries = 0; tries < LU_MAX_PATHS; tries++) {
		int i = lun_mpx_select(&lu->sel, mp, LU_MAX_PATHS, lba);

		if (i < 0)
			break;
		if (io_issue(lu, io, i) == 0)
			return;
		mp[i].state = LUN_PATH_FAILED; /* this one refused it: next */
	}
	/* No path can take it now: wait for one, not forever. */
	if (!io->deadline_ns)
		io->deadline_ns = lun_now_ns() + (uint64_t)lu_no_path_timeout() * 1000000000u;
	io->path = -1;
	q_push(&lu->wait_head, &lu->wait_tail, io);
}

void lund_lu_submit(struct lund_lu *lu, struct lund_io *io)
{
	uint32_t bs = lu->info.block_size;

	io->lu = lu;
	io->path = -1;
	io->tries = 0;
	io->deadline_ns = 0;
	io->errmsg[0] = '\0';
	if (!bs || io->offset % bs || io->length % bs ||
	    ((io->op == LUND_IO_READ || io->op == LUND_IO_WRITE || io->op == LUND_IO_TRIM ||
	      io->op == LUND_IO_ZERO) && !io->length)) {
		io_finish(io, EINVAL, "%s: offset and length must be multiples of %u bytes",
			  lu->info.name, bs);
		return;
	}
	if (io->op != LUND_IO_FLUSH && (io->offset > lu->info.size ||
					io->length > lu->info.size - io->offset)) {
		io_finish(io, ENOSPC, "%s: %llu bytes at %llu go past the end (%llu bytes)",
			  lu->info.name, (unsigned long long)io->length,
			  (unsigned long long)io->offset, (unsigned long long)lu->info.size);
		return;
	}
	if ((io->op == LUND_IO_READ || io->op == LUND_IO_WRITE) &&
	    (io->length > lu->info.max_xfer || io->iovcnt < 1 || io->iovcnt > LUNARIS_MAX_IOV)) {
		io_finish(io, EINVAL, "%s: at most %u bytes in at most %d buffers per request",
			  lu->info.name, lu->info.max_xfer, LUNARIS_MAX_IOV);
		return;
	}
	if (io->op == LUND_IO_ZERO && bs > sizeof(lu_zero_block)) {
		io_finish(io, EINVAL, "%s: blocks of %u bytes are too large to zero", lu->info.name,
			  bs);
		return;
	}
	io_send(lu, io);
}

/* ------------------------------------------------------------------ */
/* Info, listing, open                                                */

void lund_lu_get_info(const struct lund_lu *lu, struct lund_lu_info *out)
{
	*out = lu->info;
}

void lund_lu_foreach(void (*cb)(struct lund_lu *lu, void *arg), void *arg)
{
	const struct lund_lu *order[LU_MAX];
	int n = 0;

	for (int i = 0; i < LU_MAX; i++)
		if (lus[i].used)
			order[n++] = &lus[i];
	/* name order: insertion sort of at most LU_MAX */
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && strcmp(order[j - 1]->info.name, order[j]->info.name) > 0;
		     j--) {
			const struct lund_lu *t = order[j];

			order[j] = order[j - 1];
			order[j - 1] = t;
		}
	for (int i = 0; i < n; i++)
		cb((struct lund_lu *)order[i], arg);
}

struct lu_opener {
	bool used;
	struct lund_lu *lu;
	lund_open_done done;
	void *arg;
	uint64_t deadline_ns;
	bool asked;
	/* config_one verdicts still to come, one per target of the LU; at
	 * zero with the LU still offline, the open fails at once */
	unsigned pending;
	bool failed;
	char why[192];
};

#define LU_MAX_OPENERS 64
static struct lu_opener openers[LU_MAX_OPENERS];

void lund_lu_open(struct lund *d, const char *name, pid_t pid, const char *what,
		  lund_open_done done, void *arg)
{
	struct lund_lu *lu = lund_lu_find(name);
	struct lu_opener *o = NULL;
	char who[160];

	lu_d = d;
	for (int i = 0; i < LU_MAX_OPENERS && !o; i++)
		if (!openers[i].used)
			o = &openers[i];
	if (!o) {
		/* cannot even queue the answer: answer "busy" at once is not
		 * allowed (never inside the call), so the oldest opener gives
		 * way; this needs 64 opens waiting at the same moment */
		o = &openers[0];
		o->done(o->arg, NULL, EAGAIN, "too many opens waiting");
	}
	memset(o, 0, sizeof(*o));
	o->used = true;
	o->lu = lu;
	o->done = done;
	o->arg = arg;
	o->deadline_ns = lun_now_ns() + (uint64_t)lund_tunable(d, NULL, "open-timeout") *
						1000000000u;
	struct lund_peer peer = { .pid = pid };

	lund_peer_cause(&peer, what, who, sizeof(who));
	LUND_PROBE_DEVCACHE_OPEN(name, !lu ? "unknown" : lu->info.online ? "online" : "offline",
				 who);
	if (!lu)
		return; /* the service step answers: unknown */
	lu->info.last_open = time(NULL);
	lun_strlcpy(lu->info.last_opener, who, sizeof(lu->info.last_opener));
	{
		char err[256];

		if (lun_store_lu_record_open(d->store, lu->info.name, who, (int64_t)lu->info.last_open,
					     err, sizeof(err)) < 0)
			lund_log(LOG_WARNING, "device cache: open of %s not recorded: %s",
				 lu->info.name, err);
	}
	if (lu->info.online)
		return; /* ready: answered by the service step */
	/* Offline: ask bus configuration for each target that served it
	 * (each target once).  A "no" that is known already (negative cache,
	 * a refused login) fails the open at the next turn instead of making
	 * the opener wait out the open timeout. */
	for (int i = 0; i < LU_MAX_PATHS; i++) {
		bool seen = false;

		if (!lu->paths[i].used)
			continue;
		for (int j = 0; j < i; j++)
			seen |= lu->paths[j].used && !strcmp(lu->paths[j].target, lu->paths[i].target);
		if (seen)
			continue;
		if (lund_bus_config_one(d, lu->paths[i].target, who, o->why, sizeof(o->why)) == 0)
			o->pending++;
	}
	o->asked = true;
	o->failed = o->pending == 0;
}

void lund_lu_config_verdict(const char *target, bool found, const char *why)
{
	for (int i = 0; i < LU_MAX_OPENERS; i++) {
		struct lu_opener *o = &openers[i];
		bool mine = false;

		if (!o->used || !o->asked || !o->lu || !o->pending)
			continue;
		for (int k = 0; k < LU_MAX_PATHS; k++)
			mine |= o->lu->paths[k].used && !strcmp(o->lu->paths[k].target, target);
		if (!mine)
			continue;
		o->pending--;
		if (!found)
			snprintf(o->why, sizeof(o->why), "%s", why);
		/* found: the target is up; its scan brings the LU online, and the
		 * service step answers then (or at the deadline) */
		if (!o->pending && !found)
			o->failed = true;
	}
}

void lund_lu_close(struct lund_lu *lu)
{
	if (lu && lu->info.users)
		lu->info.users--;
}

int lund_lu_paths(const struct lund_lu *lu, struct lund_lu_path_info *out, int max)
{
	int n = 0;

	for (int i = 0; i < LU_MAX_PATHS && n < max; i++) {
		const struct lu_path *p = &lu->paths[i];
		struct lund_lu_path_info *o = &out[n];

		if (!p->used)
			continue;
		lun_strlcpy(o->target, p->target, sizeof(o->target));
		lun_strlcpy(o->host, p->host, sizeof(o->host));
		o->port = p->port;
		o->tpgt = p->tpgt;
		o->lun = p->lun;
		o->state = lun_path_state_str(p->mp.state);
		o->alua = lun_alua_state_str(p->mp.alua);
		o->tpg = p->tpg;
		o->preferred = p->mp.preferred;
		o->commands = p->mp.ios;
		o->bytes_read = p->bytes_read;
		o->bytes_written = p->bytes_written;
		o->errors = p->mp.errors;
		o->outstanding = p->mp.outstanding;
		n++;
	}
	return n;
}

const char *lund_lu_policy(const struct lund_lu *lu)
{
	return lun_mpx_policy_str(lu->sel.policy);
}

int lund_lu_set_policy(struct lund_lu *lu, const char *policy, uint32_t region_blocks)
{
	int p = lun_mpx_policy_parse(policy);

	if (p < 0)
		return -1;
	lun_mpx_sel_init(&lu->sel, p);
	lu->sel.failback = lu->failback;
	if (region_blocks)
		lu->sel.region_blocks = region_blocks;
	if (lu_d && lu->info.npaths) {
		char err[256];

		if (lun_store_lu_set_policy(lu_d->store, lu->info.name, policy, region_blocks, err,
					    sizeof(err)) < 0 &&
		    lu->info.last_seen_online)
			lund_log(LOG_WARNING, "device cache: policy of %s not saved: %s",
				 lu->info.name, err);
	}
	return 0;
}

bool lund_lu_failback(const struct lund_lu *lu)
{
	return lu->failback;
}

void lund_lu_set_failback(struct lund_lu *lu, bool on)
{
	lu->failback = on;
	lu->sel.failback = on;
}

void lund_lu_preferred(const struct lund_lu *lu, char *out, size_t cap)
{
	if (!lu->has_pref)
		lun_strlcpy(out, "", cap);
	else if (strchr(lu->pref_host, ':'))
		snprintf(out, cap, "%s,[%s]:%u", lu->pref_target, lu->pref_host, lu->pref_port);
	else
		snprintf(out, cap, "%s,%s:%u", lu->pref_target, lu->pref_host, lu->pref_port);
}

int lund_lu_set_preferred(struct lund_lu *lu, const char *spec, char *err, size_t errlen)
{
	char target[224], host[256];
	const char *comma = strchr(spec, ','), *h, *colon;
	unsigned long port;
	char *end;
	size_t hl;

	if (!strcmp(spec, "none") || !spec[0]) {
		lu->has_pref = false;
		lu_prefs(lu);
		return 0;
	}
	colon = strrchr(spec, ':');
	if (!comma || comma == spec || (size_t)(comma - spec) >= sizeof(target) || !colon ||
	    colon < comma) {
		snprintf(err, errlen, "preferred path '%s' is not TARGET,HOST:PORT (or none)", spec);
		return -1;
	}
	memcpy(target, spec, (size_t)(comma - spec));
	target[comma - spec] = '\0';
	h = comma + 1;
	hl = (size_t)(colon - h);
	if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
		h++;
		hl -= 2;
	}
	port = strtoul(colon + 1, &end, 10);
	if (!hl || hl >= sizeof(host) || *end || colon[1] == '\0' || !port || port > 65535) {
		snprintf(err, errlen, "preferred path '%s' is not TARGET,HOST:PORT (or none)", spec);
		return -1;
	}
	memcpy(host, h, hl);
	host[hl] = '\0';
	for (int i = 0; i < LU_MAX_PATHS; i++) {
		const struct lu_path *p = &lu->paths[i];

		if (p->used && p->port == port && !strcmp(p->target, target) &&
		    !strcasecmp(p->host, host)) {
			lu->has_pref = true;
			lun_strlcpy(lu->pref_target, target, sizeof(lu->pref_target));
			lun_strlcpy(lu->pref_host, host, sizeof(lu->pref_host));
			lu->pref_port = (uint16_t)port;
			lu_prefs(lu);
			return 0;
		}
	}
	snprintf(err, errlen, "%s has no path %s,%s:%lu (see lunaris list lu -v)", lu->info.name,
		 target, host, port);
	return -1;
}

int lund_lu_remove(struct lund_lu *lu)
{
	lu_refresh(lu);
	if (lu->info.online || lu->info.users || lu->wait_head || lu->retry_head)
		return -1;
	for (int i = 0; i < LU_MAX_PATHS; i++)
		if (lu->paths[i].used && lu->paths[i].mp.outstanding)
			return -1;
	for (int i = 0; i < LU_MAX_OPENERS; i++)
		if (openers[i].used && openers[i].lu == lu)
			return -1;
	if (lu_d) {
		char err[256];

		if (lun_store_lu_remove(lu_d->store, lu->info.name, err, sizeof(err)) < 0) {
			lund_log(LOG_WARNING, "device cache: %s not removed: %s", lu->info.name,
				 err);
			return -1;
		}
	}
	bus_history("cleanup: %s removed from the device cache", lu->info.name);
	memset(lu, 0, sizeof(*lu));
	return 0;
}

/* ------------------------------------------------------------------ */
/* Event loop                                                         */

int lund_lu_timeout_ms(void)
{
	uint64_t now = lun_now_ns(), next = UINT64_MAX;

	if (done_head)
		return 0;
	for (int i = 0; i < LU_MAX; i++) {
		if (!lus[i].used)
			continue;
		if (lus[i].retry_head)
			return 0;
		for (struct lund_io *io = lus[i].wait_head; io; io = io->q_next)
			if (io->deadline_ns < next)
				next = io->deadline_ns;
		/* a waiting request or a failover in progress: look again soon */
		if (lus[i].wait_head && now + 100000000u < next)
			next = now + 100000000u;
	}
	for (int i = 0; i < LU_MAX_OPENERS; i++)
		if (openers[i].used) {
			if (openers[i].deadline_ns < next)
				next = openers[i].deadline_ns;
			if (now + 100000000u < next)
				next = now + 100000000u;
		}
	if (next == UINT64_MAX)
		return -1;
	return next <= now ? 0 : (int)((next - now) / 1000000u + 1);
}

/*
 * Failover without waiting for the replacement timeout: a path whose
 * session is down gives its commands back when another path can serve; and
 * when none can, once the path has been down for no-path-timeout, so that
 * they fail in time instead of waiting for the session's reinstatement.
 */
static void lu_take_back(struct lund_lu *lu)
{
	uint64_t limit = (uint64_t)lu_no_path_timeout() * 1000000000u, now = lun_now_ns();

	for (int i = 0; i < LU_MAX_PATHS; i++) {
		struct lu_path *p = &lu->paths[i];
		bool give_up = p->down_ns && now - p->down_ns >= limit;

		if (!p->used || !p->mp.outstanding || path_usable(p) || !p->b || !p->b->s ||
		    (!lu->info.online && !give_up))
			continue;
		if (lunaris_fail_pending(p->b->s) > 0)
			bus_history("%s: path %s@%s:%u failed; its commands go %s", lu->info.name,
				    p->target, p->host, p->port,
				    lu->info.online ? "to another path"
						    : "back: no path within no-path-timeout");
	}
}

void lund_lu_service(struct lund *d)
{
	uint64_t now = lun_now_ns();
	struct lund_io *io;

	lu_d = d;
	for (int i = 0; i < LU_MAX; i++) {
		struct lund_lu *lu = &lus[i];
		struct lund_io *keep_h = NULL, *keep_t = NULL;

		if (!lu->used)
			continue;
		lu_refresh(lu);
		/* stamped once per turn of the loop, not per I/O (io_send refreshes too) */
		if (lu->info.online)
			lu->info.last_seen_online = time(NULL);
		lu_take_back(lu);
		/* transport failures: another path, or wait for one */
		while ((io = q_pop(&lu->retry_head, &lu->retry_tail)) != NULL) {
			io->tries++;
			io_send(lu, io);
		}
		/* waiting for a path: send when one is back, fail at the deadline */
		while ((io = q_pop(&lu->wait_head, &lu->wait_tail)) != NULL) {
			if (lu->info.online && io->tries < 64) {
				io_send(lu, io);
			} else if (now >= io->deadline_ns) {
				io_finish(io, EIO,
					  "%s: no path could serve the request within %u s (last "
					  "error: %s)",
					  lu->info.name, lu_no_path_timeout(),
					  io->errmsg[0] ? io->errmsg : "no path online");
			} else {
				q_push(&keep_h, &keep_t, io);
			}
		}
		lu->wait_head = keep_h;
		lu->wait_tail = keep_t;
	}
	for (int i = 0; i < LU_MAX_OPENERS; i++) {
		struct lu_opener *o = &openers[i];

		if (!o->used)
			continue;
		if (o->lu && o->lu->info.online) {
			o->used = false;
			o->lu->info.users++;
			o->done(o->arg, o->lu, 0, NULL);
		} else if (!o->lu) {
			o->used = false;
			o->done(o->arg, NULL, ENOENT, "no such logical unit");
		} else if (o->failed) {
			char msg[300];

			o->used = false;
			snprintf(msg, sizeof(msg), "%s is offline: %s", o->lu->info.name,
				 o->why[0] ? o->why : "no path came back");
			o->done(o->arg, NULL, ENXIO, msg);
		} else if (now >= o->deadline_ns) {
			char msg[160];

			o->used = false;
			snprintf(msg, sizeof(msg),
				 "%s is offline: no path came back within the open timeout",
				 o->lu->info.name);
			o->done(o->arg, NULL, ENXIO, msg);
		}
	}
	/* deliver completions last: a callback may submit again */
	struct lund_io *h = done_head;

	done_head = done_tail = NULL;
	while ((io = h) != NULL) {
		h = io->q_next;
		io->q_next = NULL;
		int err = (int)io->tries;

		io->tries = 0;
		io->done(io, err);
	}
}
