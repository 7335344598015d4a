/*
 * discovery.c - SendTargets discovery inside lunarisd's event loop.
 *
 * Each discovery address has one record.  A run is a discovery session
 * driven asynchronously by the daemon's poll loop: login -> SendTargets=All
 * -> logout, exactly the blog's `free T1`, `in_login T5`, `logged_in T9`,
 * `in_logout T17`.  Every state-machine step goes into the daemon's history
 * with its cause chain ("discovery sendtargets 127.0.0.1:3260 <- add
 * discovery-address by pid 4242 (lunaris)"), which `lunaris trace` shows.
 *
 * Storm guards (the reason this file exists): requests for an address that
 * is being discovered join the running discovery (coalesced); a run starts
 * at most once per LUND_DISC_MIN_INTERVAL per address, later requests are
 * deferred to the end of that interval and merged into one (rate limited).
 * A newly added address is discovered at once.
 *
 * Each answer is also kept in the store (lun_store_disc_*), and a record
 * starts with the stored answer as a remembered result: after a restart,
 * bus configuration logs in to the targets at once, even while the
 * discovery address does not answer.  An answer is written only when it
 * differs from the stored one (or that is older than LUND_DISC_RESAVE_S),
 * so that the same answer every few seconds does not cost an fsync each.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "daemon.h"
#include "probes.h"
#include "util.h"

#define LUND_DISC_MAX 64
#define LUND_HIST 1024
#define NS_PER_S 1000000000ull
/* An identical answer is saved again (for its last_seen) after this long. */
#define LUND_DISC_RESAVE_S 3600

enum disc_state { DJ_IDLE, DJ_LOGIN, DJ_TEXT, DJ_LOGOUT };

struct disc {
	bool used;
	char host[256];
	uint16_t port;
	enum disc_state state;
	lunaris_session *s;
	char cause[LUN_CAUSE_MAX_D];
	uint64_t last_start_ns, deferred_ns; /* deferred_ns: a run waits for the interval */
	char deferred_cause[LUN_CAUSE_MAX_D];
	unsigned runs, coalesced, limited, failures;
	unsigned forced; /* storm protection off: runs owed, one per request */
	char last_error[256];
	time_t last_end;
	bool have_result;
	bool loaded; /* the stored answer was looked for */
	bool from_store; /* targets are the stored answer: no live run answered yet */
	struct lund_disc_saved saved;
	struct lunaris_target_list targets;
};

static struct disc discs[LUND_DISC_MAX];
static uint64_t disc_completed; /* runs finished, ever (config_one waits on it) */

struct hist {
	uint64_t seq; /* 1, 2, ...: `lunaris trace -f` asks for what is newer */
	time_t when;
	char line[640];
};
static struct hist history[LUND_HIST];
static unsigned hist_head, hist_count;
static uint64_t hist_seq;

void lund_history_add(const char *line)
{
	struct hist *h = &history[hist_head];

	h->seq = ++hist_seq;
	h->when = time(NULL);
	lun_strlcpy(h->line, line, sizeof(h->line));
	hist_head = (hist_head + 1) % LUND_HIST;
	if (hist_count < LUND_HIST)
		hist_count++;
}

json_t *lund_history_json(void)
{
	json_t *a = json_array();

	for (unsigned i = 0; i < hist_count; i++) {
		const struct hist *h = &history[(hist_head + LUND_HIST - hist_count + i) % LUND_HIST];

		json_array_append_new(a, json_pack("{s:I,s:I,s:s}", "seq", (json_int_t)h->seq,
						   "time", (json_int_t)h->when, "event", h->line));
	}
	return a;
}

static void disc_trace(const struct lunaris_trace_event *ev, void *arg)
{
	char line[640];

	lunaris_trace_format(ev, line, sizeof(line));
	lund_history_add(line);
}

static struct disc *disc_find(const char *host, uint16_t port, bool create)
{
	struct disc *free_slot = NULL;

	for (int i = 0; i < LUND_DISC_MAX; i++) {
		if (discs[i].used && discs[i].port == port && !strcasecmp(discs[i].host, host))
			return &discs[i];
		if (!discs[i].used && !free_slot)
			free_slot = &discs[i];
	}
	if (!create || !free_slot)
		return NULL;
	memset(free_slot, 0, sizeof(*free_slot));
	free_slot->used = true;
	lun_strlcpy(free_slot->host, host, sizeof(free_slot->host));
	free_slot->port = port;
	return free_slot;
}

/* ---- the stored answers, for this file and isns.c */

/* Whether every (target, portal) of a is in b. */
static bool targets_within(const struct lunaris_target_list *a,
			   const struct lunaris_target_list *b)
{
	for (size_t i = 0; i < a->count; i++)
		for (size_t j = 0; j < a->targets[i].nportals; j++) {
			const struct lunaris_portal *p = &a->targets[i].portals[j];
			bool found = false;

			for (size_t k = 0; k < b->count && !found; k++) {
				if (strcmp(b->targets[k].name, a->targets[i].name))
					continue;
				for (size_t m = 0; m < b->targets[k].nportals && !found; m++) {
					const struct lunaris_portal *q = &b->targets[k].portals[m];

					found = q->port == p->port && q->tpgt == p->tpgt &&
						!strcasecmp(q->host, p->host);
				}
			}
			if (!found)
				return false;
		}
	return true;
}

/* The same (target, portal) pairs, in any order: what the store keeps. */
static bool targets_same(const struct lunaris_target_list *a,
			 const struct lunaris_target_list *b)
{
	return targets_within(a, b) && targets_within(b, a);
}

int lund_disc_load(struct lund *d, unsigned method, const char *source,
		   struct lunaris_target_list *out, struct lund_disc_saved *saved)
{
	struct lun_store_disc *v = NULL;
	char err[256];
	int n = lun_store_disc_list(d->store, method, source, &v, err, sizeof(err));

	*out = (struct lunaris_target_list){ 0 };
	*saved = (struct lund_disc_saved){ 0 };
	if (n < 0) {
		lund_log(LOG_WARNING, "cannot load the remembered targets of %s: %s", source, err);
		return -1;
	}
	/* rows of one target become one target with its portals, in the
	 * order the answer gave them */
	for (int i = 0; i < n; i++) {
		struct lunaris_target *t = NULL;
		struct lunaris_portal *p;

		for (size_t k = 0; k < out->count && !t; k++)
			if (!strcmp(out->targets[k].name, v[i].target))
				t = &out->targets[k];
		if (!t) {
			t = realloc(out->targets, (out->count + 1) * sizeof(*t));
			if (!t)
				goto nomem;
			out->targets = t;
			t = &out->targets[out->count++];
			memset(t, 0, sizeof(*t));
			lun_strlcpy(t->name, v[i].target, sizeof(t->name));
		}
		p = realloc(t->portals, (t->nportals + 1) * sizeof(*p));
		if (!p)
			goto nomem;
		t->portals = p;
		p = &t->portals[t->nportals++];
		memset(p, 0, sizeof(*p));
		lun_strlcpy(p->host, v[i].host, sizeof(p->host));
		p->port = v[i].port;
		p->tpgt = (uint16_t)(v[i].tpgt < 0 ? 0 : v[i].tpgt); /* lunarisd stores it always */
		if (v[i].last_seen > saved->at)
			saved->at = (time_t)v[i].last_seen;
	}
	free(v);
	saved->valid = true;
	return (int)out->count;
nomem:
	free(v);
	lunaris_target_list_free(out);
	lund_log(LOG_WARNING, "cannot load the remembered targets of %s: out of memory", source);
	return -1;
}

void lund_disc_save(struct lund *d, unsigned method, const char *source,
		    const struct lunaris_target_list *prev, const struct lunaris_target_list *l,
		    struct lund_disc_saved *saved)
{
	struct lun_store_disc *v = NULL;
	size_t n = 0, k = 0;
	time_t now = time(NULL);
	char err[256], line[640];

	if (saved->valid && targets_same(prev, l) && now >= saved->at &&
	    now - saved->at < LUND_DISC_RESAVE_S)
		return;
	for (size_t i = 0; i < l->count; i++)
		n += l->targets[i].nportals;
	if (n > (size_t)INT32_MAX || (n && !(v = calloc(n, sizeof(*v))))) {
		lun_strlcpy(err, "out of memory", sizeof(err));
		goto fail;
	}
	for (size_t i = 0; i < l->count; i++)
		for (size_t j = 0; j < l->targets[i].nportals; j++, k++) {
			lun_strlcpy(v[k].target, l->targets[i].name, sizeof(v[k].target));
			lun_strlcpy(v[k].host, l->targets[i].portals[j].host, sizeof(v[k].host));
			v[k].port = l->targets[i].portals[j].port;
			v[k].tpgt = l->targets[i].portals[j].tpgt;
		}
	if (lun_store_disc_replace(d->store, method, source, v, (int)n, (int64_t)now, err,
				   sizeof(err)) < 0)
		goto fail;
	free(v);
	saved->valid = true;
	saved->at = now;
	return;
fail:
	/* The answer is used all the same; only a restart will not remember
	 * it, and the next answer tries again. */
	free(v);
	saved->valid = false;
	snprintf(line, sizeof(line), "discovery %s %s: the answer was not saved: %s",
		 method == LUN_DISC_ISNS ? "isns" : "sendtargets", source, err);
	lund_history_add(line);
	lund_log(LOG_WARNING, "%s", line);
}

/* The record's first use: start from the stored answer, if any. */
static void disc_load(struct lund *d, struct disc *x)
{
	char source[300];

	x->loaded = true;
	lun_store_disc_source(source, sizeof(source), x->host, x->port);
	if (lund_disc_load(d, LUN_DISC_SENDTARGETS, source, &x->targets, &x->saved) > 0)
		x->have_result = x->from_store = true;
}

static void disc_start(struct lund *d, struct disc *x, const char *cause);

static void disc_finish(struct lund *d, struct disc *x, const char *error)
{
	char line[512], chain[LUN_CAUSE_MAX_D + 300];

	if (error) {
		x->failures++;
		lun_strlcpy(x->last_error, error, sizeof(x->last_error));
		snprintf(line, sizeof(line), "discovery sendtargets %s:%u failed: %s", x->host,
			 x->port, error);
		lund_history_add(line);
		lund_log(LOG_WARNING, "%s", line);
	} else {
		x->last_error[0] = '\0';
	}
	lunaris_session_free(x->s);
	x->s = NULL;
	x->state = DJ_IDLE;
	x->last_end = time(NULL);
	disc_completed++;
	/* what this run found may be new: bus configuration logs in to it,
	 * and config_one requests waiting for this run get their answer */
	snprintf(chain, sizeof(chain), "discovery sendtargets %s:%u <- %s", x->host, x->port,
		 x->cause);
	lund_bus_targets_changed(d, chain);
	if (x->forced && x->state == DJ_IDLE) {
		x->forced--;
		disc_start(d, x, x->deferred_cause);
	}
}

static void disc_start(struct lund *d, struct disc *x, const char *cause)
{
	char why[LUN_CAUSE_MAX_D + 300];

	if (d->offline)
		return;
	x->s = lunaris_session_new(d->initiator_name[0] ? d->initiator_name : NULL);
	if (!x->s)
		return;
	x->runs++;
	x->last_start_ns = lun_now_ns();
	lun_strlcpy(x->cause, cause, sizeof(x->cause));
	snprintf(why, sizeof(why), "discovery sendtargets %s:%u <- %s", x->host, x->port, cause);
	lund_history_add(why);
	{
		char source[300];

		snprintf(source, sizeof(source), "%s:%u", x->host, x->port);
		LUND_PROBE_DISCOVERY("sendtargets", source, cause);
	}
	lunaris_set_trace_cb(x->s, disc_trace, NULL);
	lunaris_set_cause(x->s, why);
	lunaris_set_timeouts(x->s, 15, 30);
	if (lunaris_set_portal(x->s, x->host, x->port) < 0 || lunaris_connect(x->s) < 0) {
		disc_finish(d, x, lunaris_get_error(x->s));
		return;
	}
	x->state = DJ_LOGIN;
}

void lund_discovery_request(struct lund *d, const char *host, uint16_t port, const char *cause,
			    unsigned how)
{
	struct disc *x = disc_find(host, port, true);
	uint64_t now = lun_now_ns();
	uint64_t interval = (uint64_t)lund_tunable(d, NULL, "discovery-min-interval") * NS_PER_S;

	if (!x) {
		lund_log(LOG_WARNING, "too many discovery addresses; %s:%u not discovered", host,
			 port);
		return;
	}
	if (!x->loaded)
		disc_load(d, x);
	if (how & LUND_DISC_FORCE) {
		/* The 2006 behaviour: every request is a run of its own. */
		if (x->state != DJ_IDLE) {
			x->forced++;
			lun_strlcpy(x->deferred_cause, cause, sizeof(x->deferred_cause));
		} else {
			disc_start(d, x, cause);
		}
		return;
	}
	if (x->state != DJ_IDLE) {
		x->coalesced++; /* the running discovery answers this request too */
		return;
	}
	if (!(how & LUND_DISC_NEW) && x->last_start_ns && now - x->last_start_ns < interval) {
		x->limited++;
		if (!x->deferred_ns) {
			x->deferred_ns = x->last_start_ns + interval;
			lun_strlcpy(x->deferred_cause, cause, sizeof(x->deferred_cause));
		}
		return;
	}
	x->deferred_ns = 0;
	disc_start(d, x, cause);
}

void lund_discovery_forget(const char *host, uint16_t port)
{
	struct disc *x = disc_find(host, port, false);

	if (!x)
		return;
	lunaris_session_free(x->s);
	lunaris_target_list_free(&x->targets);
	memset(x, 0, sizeof(*x));
}

int lund_discovery_fill_pollfds(struct pollfd *pfd, int max, int *timeout_ms)
{
	int n = 0;
	uint64_t now = lun_now_ns();

	for (int i = 0; i < LUND_DISC_MAX && n < max; i++) {
		struct disc *x = &discs[i];

		if (x->used && x->deferred_ns && x->state == DJ_IDLE) {
			int ms = x->deferred_ns <= now ? 0 : (int)((x->deferred_ns - now) / 1000000u + 1);

			if (ms < *timeout_ms)
				*timeout_ms = ms;
		}
		if (!x->used || !x->s)
			continue;
		int to = lunaris_next_timeout_ms(x->s);

		if (to >= 0 && to < *timeout_ms)
			*timeout_ms = to;
		pfd[n++] = (struct pollfd){ .fd = lunaris_get_fd(x->s),
					    .events = lunaris_which_events(x->s) };
	}
	return n;
}

/* One step of a run's own little state machine. */
static void disc_step(struct lund *d, struct disc *x, short revents)
{
	int rc = lunaris_service(x->s, revents);

	switch (x->state) {
	case DJ_LOGIN:
		if (lunaris_is_logged_in(x->s)) {
			if (lunaris_sendtargets_start(x->s) < 0)
				disc_finish(d, x, lunaris_get_error(x->s));
			else
				x->state = DJ_TEXT;
		} else if (rc < 0 || lunaris_is_closed(x->s)) {
			disc_finish(d, x, lunaris_get_error(x->s));
		}
		break;
	case DJ_TEXT: {
		struct lunaris_target_list l;
		int r = lunaris_sendtargets_result(x->s, &l);

		if (r < 0) {
			disc_finish(d, x, lunaris_get_error(x->s));
		} else if (r == 1) {
			char source[300];

			lun_store_disc_source(source, sizeof(source), x->host, x->port);
			lund_disc_save(d, LUN_DISC_SENDTARGETS, source, &x->targets, &l, &x->saved);
			lunaris_target_list_free(&x->targets);
			x->targets = l;
			x->have_result = true;
			x->from_store = false;
			if (lunaris_logout_start(x->s) < 0)
				disc_finish(d, x, NULL);
			else
				x->state = DJ_LOGOUT;
		}
		break;
	}
	case DJ_LOGOUT:
		if (lunaris_is_closed(x->s) || rc < 0)
			disc_finish(d, x, NULL);
		break;
	case DJ_IDLE:
		break;
	}
}

void lund_discovery_service(struct lund *d, const struct pollfd *pfd, int n)
{
	uint64_t now = lun_now_ns();

	for (int i = 0; i < LUND_DISC_MAX; i++) {
		struct disc *x = &discs[i];

		if (!x->used)
			continue;
		if (x->s) {
			short rev = 0;

			for (int k = 0; k < n; k++)
				if (pfd[k].fd == lunaris_get_fd(x->s))
					rev = pfd[k].revents;
			disc_step(d, x, rev);
		} else if (x->deferred_ns && now >= x->deferred_ns) {
			char cause[LUN_CAUSE_MAX_D];

			lun_strlcpy(cause, x->deferred_cause, sizeof(cause));
			x->deferred_ns = 0;
			disc_start(d, x, cause);
		}
	}
}

json_t *lund_discovery_json(const char *host, uint16_t port)
{
	struct disc *x = disc_find(host, port, false);
	json_t *o = json_object(), *t = json_array();

	if (!x) {
		json_object_set_new(o, "targets", t);
		return o;
	}
	for (size_t i = 0; i < x->targets.count; i++) {
		const struct lunaris_target *tg = &x->targets.targets[i];

		for (size_t j = 0; j < tg->nportals; j++)
			json_array_append_new(t, json_pack("{s:s,s:s,s:i,s:i}", "target", tg->name,
							   "address", tg->portals[j].host, "port",
							   tg->portals[j].port, "tpgt",
							   tg->portals[j].tpgt));
	}
	json_object_set_new(o, "targets", t);
	json_object_set_new(o, "discovered", json_boolean(x->have_result));
	/* the targets are the stored answer of an earlier run: no run of this
	 * daemon has answered yet */
	json_object_set_new(o, "remembered", json_boolean(x->from_store));
	if (x->from_store)
		json_object_set_new(o, "remembered_at", json_integer((json_int_t)x->saved.at));
	json_object_set_new(o, "running", json_boolean(x->state != DJ_IDLE));
	json_object_set_new(o, "runs", json_integer(x->runs));
	json_object_set_new(o, "coalesced", json_integer(x->coalesced));
	json_object_set_new(o, "rate_limited", json_integer(x->limited));
	json_object_set_new(o, "failures", json_integer(x->failures));
	json_object_set_new(o, "last_error", x->last_error[0] ? json_string(x->last_error)
							     : json_null());
	return o;
}

void lund_discovery_all_ex(struct lund *d, const char *cause, bool force)
{
	struct lun_store_addr *v = NULL;
	unsigned methods = 0;
	char err[256];
	int n;

	if (lun_store_get_methods(d->store, &methods, err, sizeof(err)) < 0 ||
	    !(methods & LUN_DISC_SENDTARGETS))
		return;
	n = lun_store_list_discovery_addresses(d->store, &v, err, sizeof(err));
	for (int i = 0; i < n; i++)
		lund_discovery_request(d, v[i].host, v[i].port, cause, force ? LUND_DISC_FORCE : 0);
	free(v);
}

void lund_discovery_all(struct lund *d, const char *cause)
{
	lund_discovery_all_ex(d, cause, false);
}

void lund_discovery_foreach_target(void (*cb)(const char *server,
					      const struct lunaris_target *t, void *arg),
				   void *arg)
{
	char server[300];

	for (int i = 0; i < LUND_DISC_MAX; i++) {
		const struct disc *x = &discs[i];

		if (!x->used || !x->have_result)
			continue;
		snprintf(server, sizeof(server), "%s:%u", x->host, x->port);
		for (size_t j = 0; j < x->targets.count; j++)
			cb(server, &x->targets.targets[j], arg);
	}
}

bool lund_discovery_busy(void)
{
	for (int i = 0; i < LUND_DISC_MAX; i++)
		if (discs[i].used &&
		    (discs[i].state != DJ_IDLE || discs[i].deferred_ns || discs[i].forced))
			return true;
	return false;
}

uint64_t lund_discovery_completed(void)
{
	return disc_completed;
}

void lund_peer_cause(const struct lund_peer *peer, const char *what, char *buf, size_t cap)
{
	char path[64], comm[32] = "?";
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/comm", (long)peer->pid);
	f = fopen(path, "r");
	if (f) {
		if (fgets(comm, sizeof(comm), f))
			comm[strcspn(comm, "\n")] = '\0';
		fclose(f);
	}
	snprintf(buf, cap, "%s by pid %ld (%s)", what, (long)peer->pid, comm);
}

void lund_discovery_shutdown(void)
{
	for (int i = 0; i < LUND_DISC_MAX; i++)
		if (discs[i].used)
			lund_discovery_forget(discs[i].host, discs[i].port);
}
