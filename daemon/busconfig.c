/*
 * busconfig.c - bus configuration: the daemon's normal sessions.
 *
 * Solaris configures iSCSI devices two ways (study 3.7): config_all logs in
 * to every target that an enabled discovery method knows, and config_one
 * logs in to one named target when a consumer asks for a device that is not
 * there.  This file does both, in the daemon's event loop:
 *
 *   - the known targets are collected on demand from the enabled methods:
 *     static configs (store), SendTargets results (discovery.c) and iSNS
 *     results (isns.c);
 *   - each (target, portal, index < configured-sessions) gets one session
 *     object that logs in, scans its LUNs (REPORT LUNS, INQUIRY, VPD 0x83,
 *     READ CAPACITY) and then stays up with liblunaris's recovery; a unit
 *     attention "reported LUNs data has changed" (seen by a TEST UNIT READY
 *     every LUND_BUS_TUR_S seconds when idle) or a reinstatement rescans;
 *   - config_one for a name that no method knows asks discovery again.
 *
 * That last step is where the blog's storm came from: every open of a stale
 * device name re-ran discovery on every address, forever.  Here it cannot:
 *
 *   1. discovery runs per address are coalesced and rate limited
 *      (discovery.c, `discovery-min-interval`);
 *   2. a name that discovery did not find goes into a negative cache for
 *      10 s, doubling on each further miss up to 15 min, so repeated asks are
 *      answered at once without touching the network; the entry is dropped
 *      when discovery finds the name or the admin changes the configuration;
 *   3. logins per portal are limited (LUND_BUS_PORTAL_INFLIGHT at once) and a
 *      session whose login fails backs off from login-retry-interval
 *      doubling to polling-interval.
 *
 * `storm-protection off` turns 2 and 3's backoff off and makes every
 * config_one force a discovery run on every address, which is the 2006
 * behaviour, kept for demonstrations and tests.
 *
 * The LUN scan is in busscan.c, the listings in buslist.c; bus.h holds the
 * session table they share.
 *
 * Every login records why it happened as a cause chain: "login
 * 127.0.0.1:3260 iqn... <- config_one iqn... <- config-one by pid 4242
 * (dd)" or "... <- discovery sendtargets 127.0.0.1:3260 <- lunarisd start".
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <syslog.h>
#include <time.h>

#include "bus.h"
#include "names.h"
#include "probes.h"
#include "util.h"

/* A config_one request waiting for its answer. */
struct bus_wait {
	bool used;
	unsigned long reply_id;
	char target[224];
	uint64_t deadline_ns;
	uint64_t disc_done_at_start; /* discovery completions when it began */
	bool discovery_asked;
};

struct bsess bus_sess[LUND_BUS_MAX_SESS];
static struct bus_wait waits[LUND_BUS_MAX_WAIT];
struct bus_neg bus_negs[LUND_BUS_MAX_NEG];
struct bus_portal bus_portals[LUND_BUS_MAX_PORTALS];

void bus_history(const char *fmt, ...)
{
	char line[640];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	lund_history_add(line);
}

/* ------------------------------------------------------------------ */
/* Known targets                                                      */

struct collect_ctx {
	bus_ref_cb cb;
	void *arg;
	unsigned method;
};

static void collect_target(const char *server, const struct lunaris_target *t, void *arg)
{
	struct collect_ctx *c = arg;
	char source[300];

	snprintf(source, sizeof(source), "%s %s",
		 c->method == LUN_DISC_ISNS ? "isns" : "sendtargets", server);
	for (size_t i = 0; i < t->nportals; i++) {
		struct bus_ref r = { t->name, t->portals[i].host, t->portals[i].port,
				     t->portals[i].tpgt, c->method, source };

		c->cb(&r, c->arg);
	}
}

/* Every (target, portal) that an enabled discovery method knows. */
void bus_collect(struct lund *d, bus_ref_cb cb, void *arg)
{
	unsigned methods = 0;
	char err[256];

	if (lun_store_get_methods(d->store, &methods, err, sizeof(err)) < 0)
		return;
	if (methods & LUN_DISC_STATIC) {
		struct lun_store_static *v = NULL;
		int n = lun_store_list_static(d->store, &v, err, sizeof(err));

		for (int i = 0; i < n; i++) {
			struct bus_ref r = { v[i].target, v[i].host, v[i].port, v[i].tpgt,
					     LUN_DISC_STATIC, "static" };

			cb(&r, arg);
		}
		free(v);
	}
	if (methods & LUN_DISC_SENDTARGETS) {
		struct collect_ctx c = { cb, arg, LUN_DISC_SENDTARGETS };

		lund_discovery_foreach_target(collect_target, &c);
	}
	if (methods & LUN_DISC_ISNS) {
		struct collect_ctx c = { cb, arg, LUN_DISC_ISNS };

		lund_isns_foreach_target(collect_target, &c);
	}
}

struct find_ctx {
	const char *target;
	bool found;
};

static void find_cb(const struct bus_ref *r, void *arg)
{
	struct find_ctx *f = arg;

	if (!strcmp(r->target, f->target))
		f->found = true;
}

static bool bus_known(struct lund *d, const char *target)
{
	struct find_ctx f = { target, false };

	bus_collect(d, find_cb, &f);
	return f.found;
}

/* ------------------------------------------------------------------ */
/* Negative cache                                                     */

static struct bus_neg *neg_find(const char *target)
{
	for (int i = 0; i < LUND_BUS_MAX_NEG; i++)
		if (bus_negs[i].used && !strcmp(bus_negs[i].target, target))
			return &bus_negs[i];
	return NULL;
}

static void neg_drop(struct bus_neg *n, const char *why)
{
	if (n->hits)
		bus_history("negative cache: %s dropped (%s); %u request(s) were answered from it "
			    "without discovery",
			    n->target, why, n->hits);
	memset(n, 0, sizeof(*n));
}

static void neg_add(const char *target)
{
	struct bus_neg *n = neg_find(target), *oldest = NULL;
	uint64_t now = lun_now_ns();

	if (!n) {
		for (int i = 0; i < LUND_BUS_MAX_NEG && !n; i++) {
			if (!bus_negs[i].used)
				n = &bus_negs[i];
			else if (!oldest || bus_negs[i].until_ns < oldest->until_ns)
				oldest = &bus_negs[i];
		}
		if (!n) {
			n = oldest; /* full: the entry that expires first goes */
			memset(n, 0, sizeof(*n));
		}
		n->used = true;
		lun_strlcpy(n->target, target, sizeof(n->target));
		n->backoff_s = LUND_BUS_NEG_FIRST_S;
		n->since = time(NULL);
	} else if (now < n->until_ns) {
		/* Several requests waited for the same discovery run and each
		 * learns the same miss: one miss, one step of the backoff. */
		return;
	} else {
		/* missed again after the entry expired: wait twice as long */
		n->backoff_s = n->backoff_s * 2 > LUND_BUS_NEG_MAX_S ? LUND_BUS_NEG_MAX_S
								     : n->backoff_s * 2;
	}
	n->until_ns = now + n->backoff_s * NS;
	bus_history("negative cache: %s not found by discovery; asks for it are answered "
		    "without discovery for %u s",
		    target, n->backoff_s);
}

void lund_bus_config_changed(const char *why)
{
	for (int i = 0; i < LUND_BUS_MAX_NEG; i++)
		if (bus_negs[i].used)
			neg_drop(&bus_negs[i], why);
}

/* ------------------------------------------------------------------ */
/* Portals                                                            */

static struct bus_portal *portal_get(const char *host, uint16_t port)
{
	struct bus_portal *free_slot = NULL;

	for (int i = 0; i < LUND_BUS_MAX_PORTALS; i++) {
		if (bus_portals[i].used && bus_portals[i].port == port && !strcasecmp(bus_portals[i].host, host))
			return &bus_portals[i];
		if (!bus_portals[i].used && !free_slot)
			free_slot = &bus_portals[i];
	}
	if (!free_slot)
		return NULL;
	free_slot->used = true;
	lun_strlcpy(free_slot->host, host, sizeof(free_slot->host));
	free_slot->port = port;
	return free_slot;
}

/* ------------------------------------------------------------------ */
/* Sessions                                                           */

static struct bsess *bs_find(const char *target, const char *host, uint16_t port, unsigned idx)
{
	for (int i = 0; i < LUND_BUS_MAX_SESS; i++)
		if (bus_sess[i].used && bus_sess[i].port == port && bus_sess[i].idx == idx &&
		    !strcmp(bus_sess[i].target, target) && !strcasecmp(bus_sess[i].host, host))
			return &bus_sess[i];
	return NULL;
}

static void bs_trace(const struct lunaris_trace_event *ev, void *arg)
{
	struct bsess *b = arg;
	char line[640];

	if (ev->machine == LUNARIS_FSM_CONN)
		lun_strlcpy(b->conn_state, ev->to, sizeof(b->conn_state));
	lunaris_trace_format(ev, line, sizeof(line));
	lund_history_add(line);
}

static void bs_event(lunaris_session *s, const struct lunaris_event *ev, void *arg)
{
	struct bsess *b = arg;

	switch (ev->type) {
	case LUNARIS_EV_UNIT_ATTENTION:
	case LUNARIS_EV_ASYNC_SCSI:
		/* REPORTED LUNS DATA HAS CHANGED, CAPACITY DATA HAS CHANGED,
		 * INQUIRY DATA HAS CHANGED: the LUN list needs a new look */
		if ((ev->asc == 0x3f && (ev->ascq == 0x0e || ev->ascq == 0x03)) ||
		    (ev->asc == 0x2a && ev->ascq == 0x09)) {
			bus_history("%s@%s:%u: %s; rescanning LUNs", b->target, b->host, b->port,
				    ev->text ? ev->text : "unit attention");
			b->rescan = true;
		}
		/* ASYMMETRIC ACCESS STATE CHANGED, IMPLICIT ASYMMETRIC ACCESS
		 * STATE TRANSITION FAILED: ask for the ALUA states again */
		if (ev->asc == 0x2a && (ev->ascq == 0x06 || ev->ascq == 0x07)) {
			bus_history("%s@%s:%u: %s", b->target, b->host, b->port,
				    ev->text ? ev->text : "asymmetric access state changed");
			b->alua_rescan = true;
		}
		break;
	case LUNARIS_EV_RECONNECTED:
		b->rescan = true;
		break;
	case LUNARIS_EV_SESSION_LOST:
		bus_history("%s@%s:%u: %s", b->target, b->host, b->port,
			    ev->text ? ev->text : "session lost");
		break;
	}
}

/* Seconds from the tunables, per target. */
static unsigned tun(struct lund *d, const char *target, const char *name)
{
	return lund_tunable(d, target, name);
}

static enum lunaris_digest digest_of(struct lund *d, const char *target, const char *key)
{
	char v[32];

	if (lund_param(d, target, key, v, sizeof(v)) && !strcasecmp(v, "crc32c"))
		return LUNARIS_DIGEST_CRC32C_ONLY;
	return LUNARIS_DIGEST_NONE;
}

/* Credentials from target-param / initiator-node; secrets are wiped here and
 * inside liblunaris, and never leave those two places. */
static int bs_set_auth(struct lund *d, struct bsess *b)
{
	char v[32], name[256], secret[256];
	int rc = 0;

	if (!lund_param(d, b->target, "authentication", v, sizeof(v)) || strcasecmp(v, "chap"))
		return 0;
	if (!lund_param(d, b->target, "chap-name", name, sizeof(name)))
		lun_strlcpy(name, d->initiator_name[0] ? d->initiator_name : "", sizeof(name));
	if (!name[0])
		lunaris_default_initiator_name(name, sizeof(name));
	if (lund_param(d, b->target, "chap-secret", secret, sizeof(secret)))
		rc = lunaris_set_chap(b->s, name, secret, strlen(secret));
	else
		snprintf(b->last_error, sizeof(b->last_error),
			 "CHAP is on for %s but the initiator node has no CHAP secret", b->target);
	explicit_bzero(secret, sizeof(secret));
	if (rc == 0 && lund_param(d, b->target, "bidir-auth", v, sizeof(v)) &&
	    (!strcasecmp(v, "enabled") || !strcasecmp(v, "enable") || !strcasecmp(v, "on"))) {
		if (!lund_param(d, b->target, "target-chap-name", name, sizeof(name)))
			lun_strlcpy(name, b->target, sizeof(name));
		if (lund_param(d, b->target, "target-chap-secret", secret, sizeof(secret)))
			rc = lunaris_set_target_chap(b->s, name, secret, strlen(secret));
		else
			snprintf(b->last_error, sizeof(b->last_error),
				 "bi-directional authentication is on for %s but its target-param "
				 "has no CHAP secret",
				 b->target);
		explicit_bzero(secret, sizeof(secret));
	}
	return rc;
}

static void bs_configure(struct lund *d, struct bsess *b)
{
	struct lunaris_recovery r;

	lunaris_set_portal(b->s, b->host, b->port);
	lunaris_set_target(b->s, b->target);
	lunaris_set_digests(b->s, digest_of(d, b->target, "header-digest"),
			    digest_of(d, b->target, "data-digest"));
	lunaris_recovery_defaults(&r);
	r.noop_interval = tun(d, b->target, "noop-interval");
	r.noop_timeout = tun(d, b->target, "noop-timeout");
	r.login_retry_interval = tun(d, b->target, "login-retry-interval");
	r.conn_login_max = tun(d, b->target, "conn-login-max");
	r.polling_interval = tun(d, b->target, "polling-interval");
	r.replacement_timeout = tun(d, b->target, "replacement-timeout");
	lunaris_set_recovery(b->s, &r);
	lunaris_set_timeouts(b->s, tun(d, b->target, "login-timeout"),
			     tun(d, b->target, "command-timeout"));
	lunaris_set_trace_cb(b->s, bs_trace, b);
	lunaris_set_event_cb(b->s, bs_event, b);
}

static void bs_login(struct lund *d, struct bsess *b, struct bus_portal *p)
{
	char why[LUN_CAUSE_MAX_D + 600];

	if (!b->s) {
		b->s = lunaris_session_new(d->initiator_name[0] ? d->initiator_name : NULL);
		if (!b->s) {
			b->next_ns = lun_now_ns() + NS;
			return;
		}
		bs_configure(d, b);
	}
	b->last_error[0] = '\0';
	if (bs_set_auth(d, b) < 0 || b->last_error[0]) {
		if (!b->last_error[0])
			lun_strlcpy(b->last_error, lunaris_get_error(b->s), sizeof(b->last_error));
		b->failures++;
		b->next_ns = lun_now_ns() + (uint64_t)tun(d, b->target, "polling-interval") * NS;
		return;
	}
	snprintf(why, sizeof(why), "login %s:%u %s <- %s", b->host, b->port, b->target, b->cause);
	lunaris_set_cause(b->s, why);
	lund_history_add(why);
	{
		char portal[300];

		snprintf(portal, sizeof(portal), "%s:%u", b->host, b->port);
		LUND_PROBE_LOGIN(b->target, portal, b->cause);
	}
	b->logins++;
	if (p) {
		p->inflight++;
		p->logins++;
		p->last_login = time(NULL);
	}
	if (lunaris_connect(b->s) < 0) {
		lun_strlcpy(b->last_error, lunaris_get_error(b->s), sizeof(b->last_error));
		if (p)
			p->inflight--;
		b->failures++;
		b->next_ns = lun_now_ns() + (uint64_t)tun(d, b->target, "login-retry-interval") * NS;
		return;
	}
	b->state = BS_LOGIN;
}

/* After a failed login: login-retry-interval doubling up to polling-interval
 * (storm protection), or login-retry-interval flat without it. */
static void bs_login_failed(struct lund *d, struct bsess *b)
{
	unsigned retry = tun(d, b->target, "login-retry-interval");
	unsigned cap = tun(d, b->target, "polling-interval");
	uint64_t wait = retry;

	lun_strlcpy(b->last_error, lunaris_get_error(b->s), sizeof(b->last_error));
	b->failures++;
	if (lund_storm_protection(d)) {
		for (unsigned i = 1; i < b->failures && wait < cap; i++)
			wait *= 2;
		if (wait > cap)
			wait = cap;
	}
	b->state = BS_WAIT;
	b->next_ns = lun_now_ns() + wait * NS;
	bus_history("%s (%u in a row); next try in %llu s", b->last_error, b->failures,
		    (unsigned long long)wait);
	lund_log(LOG_WARNING, "%s", b->last_error);
}

static struct bsess *bs_new(struct lund *d, const struct bus_ref *r, unsigned idx,
			    const char *cause)
{
	for (int i = 0; i < LUND_BUS_MAX_SESS; i++) {
		struct bsess *b = &bus_sess[i];

		if (b->used)
			continue;
		memset(b, 0, sizeof(*b));
		b->used = true;
		lun_strlcpy(b->target, r->target, sizeof(b->target));
		lun_strlcpy(b->host, r->host, sizeof(b->host));
		b->port = r->port;
		b->tpgt = r->tpgt;
		b->idx = idx;
		b->method = r->method;
		lun_strlcpy(b->source, r->source, sizeof(b->source));
		lun_strlcpy(b->cause, cause, sizeof(b->cause));
		lun_strlcpy(b->conn_state, "free", sizeof(b->conn_state));
		b->state = BS_WAIT;
		b->next_ns = lun_now_ns();
		return b;
	}
	lund_log(LOG_WARNING, "too many sessions; %s at %s:%u not configured", r->target,
		 r->host, r->port);
	return NULL;
}

static void bs_free(struct bsess *b)
{
	lund_lu_session_gone(b);
	lunaris_session_free(b->s);
	memset(b, 0, sizeof(*b));
}

static void bs_logout(struct bsess *b, const char *why)
{
	bus_history("logout %s:%u %s <- %s", b->host, b->port, b->target, why);
	if (b->s && lunaris_is_logged_in(b->s) && lunaris_logout_start(b->s) == 0) {
		b->state = BS_LOGOUT;
		return;
	}
	bs_free(b);
}

struct ensure_ctx {
	struct lund *d;
	const char *only; /* one target, or NULL for all */
	const char *cause;
	unsigned added;
};

/* Make sure a (target, portal) has its configured sessions. */
static void ensure_cb(const struct bus_ref *r, void *arg)
{
	struct ensure_ctx *c = arg;
	char v[16];
	unsigned n = lund_param(c->d, r->target, "configured-sessions", v, sizeof(v))
			     ? (unsigned)atoi(v)
			     : 1;

	if (c->only && strcmp(c->only, r->target))
		return;
	if (n < 1)
		n = 1;
	for (unsigned idx = 0; idx < n; idx++) {
		struct bsess *b = bs_find(r->target, r->host, r->port, idx);

		if (b) {
			/* known through one more method: keep the first source */
			continue;
		}
		if (bs_new(c->d, r, idx, c->cause))
			c->added++;
	}
}

/* ------------------------------------------------------------------ */
/* config_one waiters                                                 */

static bool bus_target_up(const char *target, unsigned *nsess, unsigned *nluns)
{
	bool up = false;

	*nsess = *nluns = 0;
	for (int i = 0; i < LUND_BUS_MAX_SESS; i++) {
		if (!bus_sess[i].used || strcmp(bus_sess[i].target, target) || bus_sess[i].state != BS_UP)
			continue;
		up = true;
		(*nsess)++;
		if (bus_sess[i].nluns > *nluns)
			*nluns = (unsigned)bus_sess[i].nluns;
	}
	return up;
}

/* The reason the target's sessions failed to log in, if every one failed. */
static const char *bus_target_failed(const char *target)
{
	const char *why = NULL;

	for (int i = 0; i < LUND_BUS_MAX_SESS; i++) {
		if (!bus_sess[i].used || strcmp(bus_sess[i].target, target))
			continue;
		if (bus_sess[i].state != BS_WAIT || !bus_sess[i].failures)
			return NULL;
		why = bus_sess[i].last_error;
	}
	return why;
}

/* Whether a waiting config_one has its answer now; fills rep when so. */
static bool wait_verdict(struct lund *d, const struct bus_wait *w, struct lund_reply *rep)
{
	unsigned ns, nl;
	const char *why;

	if (bus_target_up(w->target, &ns, &nl)) {
		rep->code = LUND_OK;
		rep->result = json_pack("{s:s,s:s,s:i,s:i}", "target", w->target, "state",
					"configured", "sessions", ns, "luns", nl);
		return true;
	}
	rep->code = LUND_ENOTFOUND;
	if ((why = bus_target_failed(w->target)) != NULL) {
		/* the library's sentence names target, portal and reason */
		snprintf(rep->err, sizeof(rep->err), "%s", why);
		return true;
	}
	/* the store read in bus_known() last: it runs only when discovery is done */
	if (w->discovery_asked && !lund_discovery_busy() &&
	    lund_discovery_completed() > w->disc_done_at_start && !bus_known(d, w->target)) {
		if (lund_storm_protection(d))
			neg_add(w->target);
		snprintf(rep->err, sizeof(rep->err),
			 "target %s was not found by any enabled discovery method", w->target);
		return true;
	}
	if (lun_now_ns() >= w->deadline_ns) {
		snprintf(rep->err, sizeof(rep->err),
			 "target %s was not configured within the open timeout%s", w->target,
			 lund_discovery_busy() ? " (discovery is still running or waits for its "
						 "rate limit)"
					       : "");
		return true;
	}
	rep->code = LUND_OK;
	return false;
}

static void waits_check(struct lund *d)
{
	for (int i = 0; i < LUND_BUS_MAX_WAIT; i++) {
		struct bus_wait *w = &waits[i];
		struct lund_reply rep = { .code = LUND_OK };

		if (!w->used || !wait_verdict(d, w, &rep))
			continue;
		/* reply_id 0: an open through an export asked; it watches the LU
		 * itself and only the verdict's side effect (negative cache)
		 * matters here */
		if (w->reply_id)
			lund_control_finish(w->reply_id, &rep);
		else
			lund_lu_config_verdict(w->target, rep.code == LUND_OK, rep.err);
		json_decref(rep.result);
		memset(w, 0, sizeof(*w));
	}
}

/* ------------------------------------------------------------------ */
/* Requests                                                           */

static void bus_ensure(struct lund *d, const char *only, const char *cause)
{
	struct ensure_ctx c = { d, only, cause, 0 };

	bus_collect(d, ensure_cb, &c);
}

void lund_bus_targets_changed(struct lund *d, const char *cause)
{
	/* a name that discovery now finds leaves the negative cache */
	for (int i = 0; i < LUND_BUS_MAX_NEG; i++)
		if (bus_negs[i].used && bus_known(d, bus_negs[i].target))
			neg_drop(&bus_negs[i], "discovery found it");
	bus_ensure(d, NULL, cause);
	waits_check(d);
}

void lund_bus_config_all(struct lund *d, const char *cause)
{
	bus_ensure(d, NULL, cause);
}

/*
 * The core of config_one, for the control request and for opens through an
 * export.  Answers in rep when the answer is known now (configured, in the
 * negative cache, a failed login); otherwise leaves a waiter (returned) that
 * waits_check() settles.
 */
static struct bus_wait *config_one_start(struct lund *d, const char *target, const char *who,
					 unsigned timeout_s, struct lund_reply *rep)
{
	char cause[LUN_CAUSE_MAX_D];
	struct bus_wait *w = NULL;
	struct bus_neg *n;
	unsigned ns, nl;

	snprintf(cause, sizeof(cause), "config_one %s <- %s", target, who);
	LUND_PROBE_CONFIG_ONE(target, who);
	if (bus_target_up(target, &ns, &nl)) {
		rep->result = json_pack("{s:s,s:s,s:i,s:i}", "target", target, "state",
					"configured", "sessions", ns, "luns", nl);
		return NULL;
	}
	if (d->offline) {
		rep->code = LUND_ENOTFOUND;
		snprintf(rep->err, sizeof(rep->err), "the daemon does not connect (offline)");
		return NULL;
	}
	bool known = bus_known(d, target);
	bool protect = lund_storm_protection(d);

	if (!known && protect && (n = neg_find(target)) != NULL) {
		uint64_t now = lun_now_ns();

		if (now < n->until_ns) {
			if (!n->hits++)
				bus_history("%s: answered from the negative cache (no discovery for "
					    "%llu s more)",
					    cause,
					    (unsigned long long)((n->until_ns - now) / NS + 1));
			rep->code = LUND_ENOTFOUND;
			snprintf(rep->err, sizeof(rep->err),
				 "target %s was not found by discovery %ld s ago; it is not "
				 "looked for again for %llu s more (negative cache). If the name "
				 "is stale, remove what refers to it",
				 target, (long)(time(NULL) - n->since),
				 (unsigned long long)((n->until_ns - now) / NS + 1));
			return NULL;
		}
	}
	for (int i = 0; i < LUND_BUS_MAX_WAIT && !w; i++)
		if (!waits[i].used)
			w = &waits[i];
	if (!w) {
		rep->code = LUND_EINTERNAL;
		snprintf(rep->err, sizeof(rep->err), "too many config_one requests are waiting");
		return NULL;
	}
	w->used = true;
	lun_strlcpy(w->target, target, sizeof(w->target));
	w->deadline_ns = lun_now_ns() + (uint64_t)timeout_s * NS;
	if (known) {
		bus_history("%s: target known, configuring", cause);
		bus_ensure(d, target, cause);
		/* a session that waits for its backoff may try now: someone asks */
		for (int i = 0; i < LUND_BUS_MAX_SESS; i++)
			if (bus_sess[i].used && !strcmp(bus_sess[i].target, target) &&
			    bus_sess[i].state == BS_WAIT && (!protect || !bus_sess[i].failures))
				bus_sess[i].next_ns = lun_now_ns();
	} else {
		/* The one place that asks discovery for a name: guarded. */
		w->discovery_asked = true;
		w->disc_done_at_start = lund_discovery_completed();
		bus_history("%s: target unknown, asking discovery%s", cause,
			    protect ? "" : " (storm protection off: a full discovery each time)");
		lund_discovery_all_ex(d, cause, !protect);
		lund_isns_all(d, cause);
	}
	/* Answer now if the answer is known (a failed login, a discovery that
	 * finished at once); else the event loop settles it.  A control reply
	 * must not go out before it is marked deferred, hence the verdict here. */
	if (wait_verdict(d, w, rep)) {
		memset(w, 0, sizeof(*w));
		return NULL;
	}
	return w;
}

static void config_one(struct lund *d, const json_t *args, const struct lund_peer *peer,
		       struct lund_reply *rep)
{
	const char *target = NULL;
	int timeout = 5;
	json_error_t jerr;
	char who[160];
	struct bus_wait *w;

	if (!args || json_unpack_ex((json_t *)args, &jerr, JSON_STRICT, "{s:s,s?i}", "target",
				    &target, "timeout", &timeout) < 0) {
		rep->code = LUND_EBADREQ;
		snprintf(rep->err, sizeof(rep->err), "config_one needs a target name: %s",
			 args ? jerr.text : "no arguments");
		return;
	}
	if (!lun_iscsi_name_valid(target, NULL, 0) || timeout < 0 || timeout > 3600) {
		rep->code = LUND_EBADREQ;
		snprintf(rep->err, sizeof(rep->err),
			 timeout < 0 || timeout > 3600 ? "timeout must be 0 to 3600 seconds"
						       : "'%s' is not a valid iSCSI name",
			 target);
		return;
	}
	lund_peer_cause(peer, "config-one", who, sizeof(who));
	w = config_one_start(d, target, who, (unsigned)timeout, rep);
	if (w) {
		w->reply_id = lund_control_defer_id();
		rep->deferred = w->reply_id;
	}
}

int lund_bus_config_one(struct lund *d, const char *target, const char *who, char *why,
			size_t whylen)
{
	struct lund_reply rep = { .code = LUND_OK };

	/* The opener watches its LU and has its own timeout; a waiter left
	 * here (no reply id) reports its verdict to lu.c when it settles. */
	config_one_start(d, target, who, lund_tunable(d, NULL, "open-timeout"), &rep);
	json_decref(rep.result);
	if (rep.code == LUND_OK)
		return 0;
	snprintf(why, whylen, "%s", rep.err);
	return -1;
}

void lund_bus_handle(struct lund *d, const char *op, const char *object, const json_t *args,
		     const struct lund_peer *peer, struct lund_reply *rep)
{
	if (!strcmp(op, "config_one")) {
		if (!peer->may_change) {
			rep->code = LUND_EPERM;
			snprintf(rep->err, sizeof(rep->err),
				 "permission denied: only root or the control group may configure "
				 "targets");
			return;
		}
		config_one(d, args, peer, rep);
	} else if (!strcmp(op, "config_all")) {
		char who[LUN_CAUSE_MAX_D];

		if (!peer->may_change) {
			rep->code = LUND_EPERM;
			snprintf(rep->err, sizeof(rep->err),
				 "permission denied: only root or the control group may configure "
				 "targets");
			return;
		}
		if (args && json_object_size(args)) {
			rep->code = LUND_EBADREQ;
			snprintf(rep->err, sizeof(rep->err), "config_all takes no arguments");
			return;
		}
		lund_peer_cause(peer, "config-all", who, sizeof(who));
		lund_discovery_all(d, who);
		lund_isns_all(d, who);
		bus_ensure(d, NULL, who);
		rep->result = json_null();
	} else if (!strcmp(object, "target")) {
		bus_list_target(d, args, rep);
	} else if (!strcmp(object, "negative-cache")) {
		bus_list_negative(rep);
	} else {
		bus_list_portals(rep);
	}
}

bool lund_bus_owns(const char *op, const char *object)
{
	if (!strcmp(op, "config_one") || !strcmp(op, "config_all"))
		return true;
	return !strcmp(op, "list") && object &&
	       (!strcmp(object, "target") || !strcmp(object, "negative-cache") ||
		!strcmp(object, "portal-stats"));
}

void lund_bus_after_change(struct lund *d, const char *op, const char *object,
			   const struct lund_peer *peer)
{
	char what[128], who[LUN_CAUSE_MAX_D];

	if (!strcmp(op, "list"))
		return;
	snprintf(what, sizeof(what), "%s %s", op, object);
	lund_peer_cause(peer, what, who, sizeof(who));
	/* Any change may make a missing name findable: ask again. */
	lund_bus_config_changed(who);
	/* Sessions waiting out a login backoff try again now: the change may
	 * be what they were missing (a CHAP secret, a digest setting). */
	for (int i = 0; i < LUND_BUS_MAX_SESS; i++)
		if (bus_sess[i].used && bus_sess[i].state == BS_WAIT)
			bus_sess[i].next_ns = lun_now_ns();
	/* Removed addresses, static configs, disabled methods: their sessions
	 * go; added static configs and enabled methods: log in. */
	lund_bus_prune(d, who);
	bus_ensure(d, NULL, who);
}

/* A source went away (address removed, method disabled): its sessions log
 * out, unless another enabled method still knows their target there. */
struct still_ctx {
	const struct bsess *b;
	bool found;
};

static void still_cb(const struct bus_ref *r, void *arg)
{
	struct still_ctx *c = arg;

	if (!strcmp(r->target, c->b->target) && r->port == c->b->port &&
	    !strcasecmp(r->host, c->b->host))
		c->found = true;
}

void lund_bus_prune(struct lund *d, const char *why)
{
	for (int i = 0; i < LUND_BUS_MAX_SESS; i++) {
		struct bsess *b = &bus_sess[i];
		struct still_ctx c = { b, false };

		if (!b->used || b->state == BS_LOGOUT)
			continue;
		bus_collect(d, still_cb, &c);
		if (!c.found)
			bs_logout(b, why);
	}
}

/* ------------------------------------------------------------------ */
/* Event loop                                                         */

int lund_bus_fill_pollfds(struct pollfd *pfd, int max, int *timeout_ms)
{
	uint64_t now = lun_now_ns();
	int n = 0;

	for (int i = 0; i < LUND_BUS_MAX_SESS; i++) {
		struct bsess *b = &bus_sess[i];
		int to;

		if (!b->used)
			continue;
		if (b->state == BS_WAIT || (b->state == BS_UP && !b->cmd_busy)) {
			to = b->next_ns <= now ? 0 : (int)((b->next_ns - now) / 1000000u + 1);
			if (to < *timeout_ms)
				*timeout_ms = to;
		}
		if (!b->s || lunaris_get_fd(b->s) < 0) {
			if (b->s && b->state != BS_WAIT) {
				/* reconnecting: the library's timers */
				to = lunaris_next_timeout_ms(b->s);
				if (to >= 0 && to < *timeout_ms)
					*timeout_ms = to;
			}
			continue;
		}
		to = lunaris_next_timeout_ms(b->s);
		if (to >= 0 && to < *timeout_ms)
			*timeout_ms = to;
		if (n < max)
			pfd[n++] = (struct pollfd){ .fd = lunaris_get_fd(b->s),
						    .events = lunaris_which_events(b->s) };
	}
	for (int i = 0; i < LUND_BUS_MAX_WAIT; i++)
		if (waits[i].used) {
			int to = waits[i].deadline_ns <= now
					 ? 0
					 : (int)((waits[i].deadline_ns - now) / 1000000u + 1);

			if (to < *timeout_ms)
				*timeout_ms = to;
		}
	return n;
}

static void bs_step(struct lund *d, struct bsess *b, short rev)
{
	uint64_t now = lun_now_ns();
	struct bus_portal *p;
	int rc;

	if (b->state == BS_WAIT) {
		if (now < b->next_ns)
			return;
		p = portal_get(b->host, b->port);
		/* A portal takes a few logins at a time; the rest wait a moment. */
		if (p && p->inflight >= LUND_BUS_PORTAL_INFLIGHT) {
			b->next_ns = now + NS / 4;
			return;
		}
		bs_login(d, b, p);
		return;
	}
	rc = lunaris_service(b->s, rev);
	switch (b->state) {
	case BS_LOGIN:
		p = portal_get(b->host, b->port);
		if (lunaris_is_logged_in(b->s)) {
			if (p && p->inflight)
				p->inflight--;
			b->failures = 0;
			b->up_since = time(NULL);
			bus_scan_start(b);
		} else if (rc < 0 || lunaris_is_closed(b->s)) {
			if (p) {
				if (p->inflight)
					p->inflight--;
				p->failures++;
			}
			bs_login_failed(d, b);
		}
		break;
	case BS_SCAN:
	case BS_UP:
		if (rc < 0) {
			/* the library gave up on this session (its recovery
			 * ended): start over with a fresh login later */
			bus_history("%s@%s:%u: session ended: %s", b->target, b->host, b->port,
				    lunaris_get_error(b->s));
			b->cmd_busy = false;
			b->step = SC_NONE;
			lunaris_session_free(b->s);
			b->s = NULL;
			b->failures++;
			b->state = BS_WAIT;
			b->next_ns = now + (uint64_t)tun(d, b->target, "login-retry-interval") * NS;
			break;
		}
		if (b->cmd_done) {
			b->cmd_done = false;
			bus_scan_next(d, b);
		}
		if (b->cmd_busy || !lunaris_is_logged_in(b->s))
			break;
		if (b->state == BS_SCAN && b->step != SC_NONE) {
			bus_scan_issue(b);
		} else if (b->state == BS_UP && b->rescan) {
			bus_scan_start(b);
		} else if (b->state == BS_UP && b->alua_rescan) {
			bus_alua_start(b);
		} else if (b->state == BS_UP && now >= b->next_ns) {
			b->step = SC_TUR;
			bus_scan_issue(b);
		}
		break;
	case BS_LOGOUT:
		if (rc < 0 || lunaris_is_closed(b->s))
			bs_free(b);
		break;
	case BS_WAIT:
		break;
	}
}

void lund_bus_service(struct lund *d, const struct pollfd *pfd, int n)
{
	for (int i = 0; i < LUND_BUS_MAX_SESS; i++) {
		struct bsess *b = &bus_sess[i];
		short rev = 0;

		if (!b->used)
			continue;
		if (b->s && lunaris_get_fd(b->s) >= 0)
			for (int k = 0; k < n; k++)
				if (pfd[k].fd == lunaris_get_fd(b->s))
					rev = pfd[k].revents;
		bs_step(d, b, rev);
	}
	waits_check(d);
}

void lund_bus_shutdown(struct lund *d)
{
	uint64_t end = lun_now_ns() + 3 * NS;
	bool busy = true;

	for (int i = 0; i < LUND_BUS_MAX_SESS; i++)
		if (bus_sess[i].used && bus_sess[i].state != BS_LOGOUT)
			bs_logout(&bus_sess[i], "lunarisd stopping");
	/* Logouts finish in a few round trips; do not wait for a dead target. */
	while (busy && lun_now_ns() < end) {
		struct pollfd pfd[LUND_BUS_MAX_SESS];
		int timeout = 100;
		int n = lund_bus_fill_pollfds(pfd, LUND_BUS_MAX_SESS, &timeout);

		if (poll(pfd, (nfds_t)n, timeout < 100 ? timeout : 100) < 0)
			break;
		lund_bus_service(d, pfd, n);
		busy = false;
		for (int i = 0; i < LUND_BUS_MAX_SESS; i++)
			busy |= bus_sess[i].used;
	}
	for (int i = 0; i < LUND_BUS_MAX_SESS; i++)
		if (bus_sess[i].used)
			bs_free(&bus_sess[i]);
	for (int i = 0; i < LUND_BUS_MAX_WAIT; i++) {
		struct lund_reply rep = { .code = LUND_ENOTFOUND };

		if (!waits[i].used)
			continue;
		snprintf(rep.err, sizeof(rep.err), "lunarisd is stopping");
		lund_control_finish(waits[i].reply_id, &rep);
		memset(&waits[i], 0, sizeof(waits[i]));
	}
}
