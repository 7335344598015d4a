/*
 * doctor.c - floor 6: the analysis of `lunaris doctor` (doctor.h).
 *
 * The 2006 login storm took three DTrace scripts to explain: a stale
 * device-cache entry was opened again and again, each open ran config_one,
 * each config_one a SendTargets discovery, each discovery a login at the
 * target.  lunarisd records every link of that chain in its history ("login
 * ... <- discovery sendtargets H:P <- config_one T <- nbd by pid N (comm)")
 * and its device cache keeps who opened a name last, so the chain can be
 * read back here without asking the daemon for anything new: discovery runs
 * are counted per portal from the history, their config_one causes are
 * joined to device names through the LU paths, and the names are judged
 * stale when no session, static config or discovery offers their target
 * any more.
 *
 * Everything below is a pure function of the replies and `now`: the reply
 * JSON comes from a daemon we trust but parse defensively (the fuzzer feeds
 * it anything), so every member is looked up with its type checked and a
 * missing one reads as empty.
 */
#include "doctor.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A portal with at least this many discovery runs in the history, or this
 * many caused by config_one, is reported as repeated discovery: a healthy
 * daemon discovers at start, on configuration changes and on iSNS changes,
 * a few times a day, not several times in the ~1000 lines the history
 * holds. */
#define DOC_STORM_RUNS 5
#define DOC_STORM_CONFIG_ONE 3
/* "recent" for rates: the last minute */
#define DOC_RECENT_S 60
/* with protection on, discovery of one address runs at most once per
 * discovery-min-interval (10 s): more than that in a minute is a storm
 * already getting through */
#define DOC_STORM_RECENT 6
/* a session dropped and logged in again this often in the window flaps */
#define DOC_FLAP_CYCLES 3
/* at most this many causes / lines quoted per finding */
#define DOC_MAX_QUOTED 4

/* ------------------------------------------------------------------ */
/* Reading the replies                                                 */

static const char *jstr(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static long long jint(const json_t *o, const char *k)
{
	return (long long)json_integer_value(json_object_get(o, k));
}

/* A member that must be an array; NULL (iterates as empty) otherwise. */
static const json_t *jarr(const json_t *o, const char *k)
{
	const json_t *a = json_object_get(o, k);

	return json_is_array(a) ? a : NULL;
}

/* "address:port", IPv6 addresses bracketed, as admin_print_portal prints. */
static void portal_str(char *buf, size_t cap, const json_t *e)
{
	const char *a = jstr(e, "address");

	if (!a)
		a = "?";
	snprintf(buf, cap, strchr(a, ':') ? "[%s]:%lld" : "%s:%lld", a, jint(e, "port"));
}

/* "01:00:17 (12 s ago)" for a unix time; "never" for none. */
static void when_str(char *buf, size_t cap, long long t, long long now)
{
	char hm[32];
	time_t tt = (time_t)t;
	struct tm tm;
	long long d = now - t;

	if (t <= 0) {
		snprintf(buf, cap, "never");
		return;
	}
	if (!localtime_r(&tt, &tm) || !strftime(hm, sizeof(hm),
						d >= 86400 || d < 0 ? "%Y-%m-%d %H:%M:%S"
								    : "%H:%M:%S", &tm))
		snprintf(hm, sizeof(hm), "%lld", t);
	if (d < 0)
		snprintf(buf, cap, "%s", hm);
	else if (d < 120)
		snprintf(buf, cap, "%s (%lld s ago)", hm, d);
	else if (d < 2 * 3600)
		snprintf(buf, cap, "%s (%lld min ago)", hm, d / 60);
	else if (d < 2 * 86400)
		snprintf(buf, cap, "%s (%lld h ago)", hm, d / 3600);
	else
		snprintf(buf, cap, "%s (%lld days ago)", hm, d / 86400);
}

/* "nbd by pid 42 (qemu-img)": how, pid and command of a cause's opener.
 * Returns false when `who` is not of that form. */
struct who {
	char how[32], comm[64];
	long long pid;
};

static bool who_parse(const char *who, struct who *w)
{
	const char *by = who ? strstr(who, " by pid ") : NULL, *open, *close;
	char *end;
	size_t n;

	memset(w, 0, sizeof(*w));
	if (!by)
		return false;
	n = (size_t)(by - who);
	if (n >= sizeof(w->how))
		n = sizeof(w->how) - 1;
	memcpy(w->how, who, n);
	w->pid = strtoll(by + 8, &end, 10);
	open = strchr(end, '(');
	close = open ? strrchr(open, ')') : NULL;
	if (end == by + 8 || !open || !close)
		return false;
	n = (size_t)(close - open - 1);
	if (n >= sizeof(w->comm))
		n = sizeof(w->comm) - 1;
	memcpy(w->comm, open + 1, n);
	return true;
}

/* An open of a device name (the NBD or FUSE export), as opposed to an
 * admin's config-one. */
static bool who_is_open(const struct who *w)
{
	return !strcmp(w->how, "nbd") || !strcmp(w->how, "fuse");
}

/* ------------------------------------------------------------------ */
/* Counters kept in JSON objects (a map of name -> object of counters) */

static json_t *map_get(json_t *map, const char *key)
{
	json_t *o = json_object_get(map, key);

	if (!o) {
		o = json_object();
		json_object_set_new(map, key, o);
	}
	return o;
}

static long long cnt(const json_t *o, const char *key)
{
	return jint(o, key);
}

static void cnt_add(json_t *o, const char *key, long long n)
{
	json_object_set_new(o, key, json_integer(cnt(o, key) + n));
}

static void set_str(json_t *o, const char *key, const char *v)
{
	json_object_set_new(o, key, json_string(v));
}

/* Copy [s, s+n) into buf (truncated). */
static void copy_n(char *buf, size_t cap, const char *s, size_t n)
{
	if (n >= cap)
		n = cap - 1;
	memcpy(buf, s, n);
	buf[n] = '\0';
}

/* ------------------------------------------------------------------ */
/* The history                                                         */

struct hist {
	json_t *portals; /* "H:P" -> {runs, recent, first, last, cfg, line, line_time} */
	json_t *port_cfg; /* "H:P" -> {target -> runs caused by config_one target} */
	json_t *port_other; /* "H:P" -> {cause -> runs} */
	json_t *targets; /* target -> {config_one, opens, neg, runs, last_who, last} */
	json_t *openers; /* target -> {"how by comm" -> {n, pid}} */
	json_t *sessions; /* "T@H:P" -> {dropped, cycles, ended, logins} */
	json_t *failed_logins; /* target -> count of "login to T at ... failed" lines */
	long long first, last; /* the window */
	size_t lines;
};

/* "discovery sendtargets H:P <- CAUSE" and "discovery isns LABEL <- CAUSE":
 * one run, one login at that portal. */
static void hist_discovery(struct hist *h, const char *rest, long long t, long long now,
			   const char *line)
{
	const char *arrow = strstr(rest, " <- ");
	char portal[300], target[256];
	json_t *p;

	if (!arrow || arrow == rest || strchr(rest, ' ') < arrow)
		return; /* "... failed: ..." and "isns X: N targets" are not runs */
	copy_n(portal, sizeof(portal), rest, (size_t)(arrow - rest));
	p = map_get(h->portals, portal);
	cnt_add(p, "runs", 1);
	if (t > now - DOC_RECENT_S)
		cnt_add(p, "recent", 1);
	if (!cnt(p, "first"))
		json_object_set_new(p, "first", json_integer(t));
	json_object_set_new(p, "last", json_integer(t));
	set_str(p, "line", line);
	const char *cause = arrow + 4;

	if (!strncmp(cause, "config_one ", 11)) {
		const char *tn = cause + 11, *sp = strchr(tn, ' ');

		copy_n(target, sizeof(target), tn, sp ? (size_t)(sp - tn) : strlen(tn));
		cnt_add(p, "cfg", 1);
		cnt_add(map_get(map_get(h->port_cfg, portal), target), "runs", 1);
		cnt_add(map_get(h->targets, target), "runs", 1);
	} else {
		char c[300];

		/* "add discovery-address by pid 7 (lunaris)" and the like: the
		 * pid says nothing across runs, the action does */
		const char *by = strstr(cause, " by pid ");

		copy_n(c, sizeof(c), cause, by ? (size_t)(by - cause) : strlen(cause));
		cnt_add(map_get(map_get(h->port_other, portal), c), "runs", 1);
	}
}

/* "config_one T <- WHO: what happened" */
static void hist_config_one(struct hist *h, const char *rest, long long t)
{
	const char *sp = strchr(rest, ' '), *who, *colon;
	char target[256], whos[200], key[128];
	struct who w;
	json_t *o;

	if (!sp || strncmp(sp, " <- ", 4))
		return;
	copy_n(target, sizeof(target), rest, (size_t)(sp - rest));
	who = sp + 4;
	colon = strstr(who, "): ");
	copy_n(whos, sizeof(whos), who, colon ? (size_t)(colon + 1 - who) : strlen(who));
	o = map_get(h->targets, target);
	cnt_add(o, "config_one", 1);
	if (strstr(rest, "answered from the negative cache"))
		cnt_add(o, "neg", 1);
	set_str(o, "last_who", whos);
	json_object_set_new(o, "last", json_integer(t));
	if (!who_parse(whos, &w))
		return;
	if (who_is_open(&w))
		cnt_add(o, "opens", 1);
	snprintf(key, sizeof(key), "%s by %s", w.how, w.comm);
	o = map_get(map_get(h->openers, target), key);
	cnt_add(o, "n", 1);
	json_object_set_new(o, "pid", json_integer(w.pid));
}

/* "N T@H:P FROM EV -> TO (why)": the state machines' steps. */
static void hist_fsm(struct hist *h, const char *line)
{
	char tok[6][300];
	const char *s = line;
	int n = 0;

	while (n < 6 && *s) {
		const char *sp = strchr(s, ' ');
		size_t len = sp ? (size_t)(sp - s) : strlen(s);

		copy_n(tok[n++], sizeof(tok[0]), s, len);
		s = sp ? sp + 1 : s + len;
	}
	if (n < 6 || strcmp(tok[4], "->") || !strchr(tok[1], '@') ||
	    !strncmp(tok[1], "discovery@", 10))
		return;
	/* connection steps only (T events): the session machine repeats them */
	if (tok[3][0] != 'T')
		return;
	json_t *o = map_get(h->sessions, tok[1]);

	if (!strcmp(tok[2], "logged_in") && !strcmp(tok[5], "failed"))
		json_object_set_new(o, "dropped", json_true());
	else if ((!strcmp(tok[2], "failed") || !strcmp(tok[2], "polling")) &&
		 !strcmp(tok[5], "in_login") && json_is_true(json_object_get(o, "dropped"))) {
		/* a drop, and the way back into a login: one flap */
		cnt_add(o, "cycles", 1);
		json_object_set_new(o, "dropped", json_false());
	}
}

static void hist_read(struct hist *h, const json_t *trace, long long now)
{
	const json_t *e;
	size_t i;

	json_array_foreach(trace, i, e) {
		const char *line = jstr(e, "event"), *at;
		long long t = jint(e, "time");

		if (!line)
			continue;
		h->lines++;
		if (t > 0 && (!h->first || t < h->first))
			h->first = t;
		if (t > h->last)
			h->last = t;
		if (!strncmp(line, "discovery sendtargets ", 22))
			hist_discovery(h, line + 22, t, now, line);
		else if (!strncmp(line, "discovery isns ", 15))
			hist_discovery(h, line + 15, t, now, line);
		else if (!strncmp(line, "config_one ", 11))
			hist_config_one(h, line + 11, t);
		else if (line[0] >= '0' && line[0] <= '9')
			hist_fsm(h, line);
		else if (!strncmp(line, "login to ", 9) && strstr(line, " failed")) {
			char target[256];
			const char *sp = strchr(line + 9, ' ');

			copy_n(target, sizeof(target), line + 9,
			       sp ? (size_t)(sp - line - 9) : strlen(line + 9));
			/* the "(N in a row); next try" summary, not the FSM's own */
			if (strstr(line, " in a row)"))
				cnt_add(map_get(h->failed_logins, target), "n", 1);
		} else if ((at = strstr(line, ": session ended: ")) != NULL) {
			char key[300];

			copy_n(key, sizeof(key), line, (size_t)(at - line));
			cnt_add(map_get(h->sessions, key), "ended", 1);
		}
	}
}

/* ------------------------------------------------------------------ */
/* Findings                                                            */

struct doc {
	json_t *findings;
	long long now;
	struct hist h;
	const json_t *lus, *targets, *node;
	json_t *known; /* target names the daemon has sessions or portals for */
	bool protection_off;
};

static json_t *finding(struct doc *d, const char *sev, const char *kind, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static json_t *finding(struct doc *d, const char *sev, const char *kind, const char *fmt, ...)
{
	char buf[2048];
	va_list ap;
	json_t *f;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	f = json_pack("{s:s,s:s,s:s,s:[],s:[]}", "severity", sev, "kind", kind, "summary", buf,
		      "evidence", "fix");
	json_array_append_new(d->findings, f);
	return f;
}

static void add_line(json_t *f, const char *member, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void add_line(json_t *f, const char *member, const char *fmt, ...)
{
	char buf[2048];
	va_list ap;
	json_t *a = json_object_get(f, member), *v;
	size_t i;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	json_array_foreach(a, i, v)
		if (!strcmp(json_string_value(v), buf))
			return; /* one fix per command, however many reasons */
	json_array_append_new(a, json_string(buf));
}

/* The LUs that have a path to `target` (array, caller decrefs). */
static json_t *lus_of_target(const struct doc *d, const char *target)
{
	json_t *out = json_array();
	const json_t *lu, *p;
	size_t i, j;

	json_array_foreach(d->lus, i, lu) {
		json_array_foreach(jarr(lu, "paths"), j, p) {
			const char *t = jstr(p, "target");

			if (t && !strcasecmp(t, target)) {
				json_array_append(out, (json_t *)lu);
				break;
			}
		}
	}
	return out;
}

/* Offline, and no path's target offered by anything the daemon has. */
static bool lu_is_stale(const struct doc *d, const json_t *lu)
{
	const json_t *p;
	size_t j;
	const char *st = jstr(lu, "state");

	if (!st || strcmp(st, "offline"))
		return false;
	json_array_foreach(jarr(lu, "paths"), j, p) {
		const char *t = jstr(p, "target");

		if (t && json_object_get(d->known, t))
			return false;
	}
	return true;
}

/* "c0t...d0 (stale: offline, not seen online since ..., last opened by pid
 * 4242 (dd) through nbd)" */
static void lu_describe(const struct doc *d, const json_t *lu, char *buf, size_t cap)
{
	char seen[64], op[200] = "never opened";
	const char *opener = jstr(lu, "last_opener");
	struct who w;

	when_str(seen, sizeof(seen), jint(lu, "last_seen_online"), d->now);
	if (opener && who_parse(opener, &w))
		snprintf(op, sizeof(op), "last opened by pid %lld (%s) through %s", w.pid, w.comm,
			 w.how);
	else if (opener)
		snprintf(op, sizeof(op), "last opened by %s", opener);
	snprintf(buf, cap, "%s (%s: offline, not seen online since %s, %s)",
		 jstr(lu, "name") ?: "?", lu_is_stale(d, lu) ? "stale" : "paths down", seen, op);
}

/* "10 opens through nbd by nbdinfo (last pid 4242), 2 config-one by lunaris" */
static void openers_str(const struct doc *d, const char *target, char *buf, size_t cap)
{
	const json_t *o = json_object_get(d->h.openers, target), *v;
	const char *k;
	size_t len = 0;
	int n = 0;

	buf[0] = '\0';
	json_object_foreach((json_t *)o, k, v) {
		if (n++ == DOC_MAX_QUOTED || len >= cap)
			break;
		len += (size_t)snprintf(buf + len, cap - len, "%s%lld %s (last pid %lld)",
					len ? ", " : "", cnt(v, "n"), k, cnt(v, "pid"));
	}
	if (!buf[0])
		snprintf(buf, cap, "%s", jstr(json_object_get(d->h.targets, target), "last_who") ?:
						   "unknown callers");
}

static void fix_storm_protection(const struct doc *d, json_t *f)
{
	if (d->protection_off)
		add_line(f, "fix", "lunaris modify initiator-node -T storm-protection=on");
}

/* Repeated discovery logins per portal, with the chain behind them. */
static void check_discovery_storms(struct doc *d)
{
	const char *portal, *tname, *cause;
	const json_t *p, *v;

	json_object_foreach(d->h.portals, portal, p) {
		long long runs = cnt(p, "runs"), cfg = cnt(p, "cfg"), recent = cnt(p, "recent");
		long long span = d->now - (d->h.first ? d->h.first : cnt(p, "first"));
		const json_t *bycfg = json_object_get(d->h.port_cfg, portal);
		const char *top = NULL;
		long long topn = 0;
		char chain[1024] = "", when[64], who[600];
		json_t *f;

		if (runs < DOC_STORM_RUNS && cfg < DOC_STORM_CONFIG_ONE)
			continue;
		if (span < 1)
			span = 1;
		json_object_foreach((json_t *)bycfg, tname, v) {
			if (cnt(v, "runs") > topn) {
				topn = cnt(v, "runs");
				top = tname;
			}
		}
		if (top) {
			json_t *lus = lus_of_target(d, top);
			const json_t *lu = json_array_get(lus, 0);
			char desc[600];
			long long opens = cnt(json_object_get(d->h.targets, top), "opens");

			if (lu) {
				lu_describe(d, lu, desc, sizeof(desc));
				snprintf(chain, sizeof(chain), "caused by %s of %s -> config_one %s "
							       "-> discovery",
					 opens ? "opens" : "requests", desc, top);
			} else {
				openers_str(d, top, who, sizeof(who));
				snprintf(chain, sizeof(chain), "caused by config_one %s (no device "
							       "name; asked by %s) -> discovery",
					 top, who);
			}
			json_decref(lus);
		} else {
			const json_t *other = json_object_get(d->h.port_other, portal);

			json_object_foreach((json_t *)other, cause, v) {
				if (cnt(v, "runs") > topn) {
					topn = cnt(v, "runs");
					top = cause;
				}
			}
			snprintf(chain, sizeof(chain), "mostly caused by %s", top ? top : "?");
		}
		f = finding(d, d->protection_off || recent >= DOC_STORM_RECENT ? "error" : "warning",
			    "discovery_storm",
			    "%s saw %lld discovery logins in the last %lld s (%.1f per minute, %lld "
			    "in the last %d s), %s",
			    portal, runs, span, (double)runs * 60.0 / (double)span, recent,
			    DOC_RECENT_S, chain);
		/* every config_one cause, with its chain back to the opener */
		json_object_foreach((json_t *)bycfg, tname, v) {
			json_t *lus = lus_of_target(d, tname);
			const json_t *lu;
			size_t i;

			openers_str(d, tname, who, sizeof(who));
			if (!json_array_size(lus))
				add_line(f, "evidence", "%lld run%s <- config_one %s <- %s",
					 cnt(v, "runs"), cnt(v, "runs") == 1 ? "" : "s", tname, who);
			json_array_foreach(lus, i, lu) {
				struct who w;

				add_line(f, "evidence", "%lld run%s <- config_one %s <- %s <- %s",
					 cnt(v, "runs"), cnt(v, "runs") == 1 ? "" : "s", tname,
					 jstr(lu, "name") ?: "?", who);
				if (who_parse(jstr(lu, "last_opener"), &w))
					add_line(f, "evidence", "chain: pid %lld (%s) opens %s -> "
								"config_one %s -> discovery -> %s",
						 w.pid, w.comm, jstr(lu, "name") ?: "?", tname,
						 portal);
				if (lu_is_stale(d, lu))
					add_line(f, "fix", "lunaris cleanup %s",
						 jstr(lu, "name") ?: "?");
			}
			json_decref(lus);
		}
		json_object_foreach(json_object_get(d->h.port_other, portal), cause, v)
			add_line(f, "evidence", "%lld run%s <- %s", cnt(v, "runs"),
				 cnt(v, "runs") == 1 ? "" : "s", cause);
		when_str(when, sizeof(when), cnt(p, "last"), d->now);
		add_line(f, "evidence", "last run %s: %s", when, jstr(p, "line") ?: "");
		if (d->protection_off)
			add_line(f, "evidence", "storm protection is off: nothing coalesces, rate "
						"limits or caches these runs");
		fix_storm_protection(d, f);
	}
}

/* Device-cache entries nothing can serve any more. */
static void check_stale_lus(struct doc *d)
{
	const json_t *lu, *p;
	size_t i, j;

	json_array_foreach(d->lus, i, lu) {
		const char *name = jstr(lu, "name") ?: "?";
		char desc[600], seen[64], who[600];
		long long c1 = 0, opens = 0, runs = 0;
		json_t *f, *targets = json_object();
		const char *t;
		const json_t *v;

		if (!lu_is_stale(d, lu)) {
			json_decref(targets);
			continue;
		}
		json_array_foreach(jarr(lu, "paths"), j, p)
			if ((t = jstr(p, "target")) != NULL)
				json_object_set_new(targets, t, json_true());
		json_object_foreach(targets, t, v) {
			const json_t *tc = json_object_get(d->h.targets, t);

			c1 += cnt(tc, "config_one");
			opens += cnt(tc, "opens");
			runs += cnt(tc, "runs");
		}
		lu_describe(d, lu, desc, sizeof(desc));
		f = finding(d, "warning", "stale_lu",
			    "%s is in the device cache, but no session, static config or discovery "
			    "offers its target any more%s",
			    name, c1 ? "; opening it asks for the target again" : "");
		add_line(f, "evidence", "%s", desc);
		when_str(seen, sizeof(seen), jint(lu, "last_seen_online"), d->now);
		add_line(f, "evidence", "last seen online %s", seen);
		if (jstr(lu, "last_opener")) {
			when_str(seen, sizeof(seen), jint(lu, "last_open"), d->now);
			add_line(f, "evidence", "last opened %s: %s", seen,
				 jstr(lu, "last_opener"));
		}
		json_object_foreach(targets, t, v) {
			openers_str(d, t, who, sizeof(who));
			add_line(f, "evidence", "path to %s: not offered by any discovery, static "
						"config or session", t);
			if (cnt(json_object_get(d->h.targets, t), "config_one"))
				add_line(f, "evidence", "config_one %s asked by: %s", t, who);
		}
		add_line(f, "evidence", "in the trace window: %lld config_one (%lld from opens), "
					"%lld discovery logins caused by them",
			 c1, opens, runs);
		if (jint(lu, "users") > 0)
			add_line(f, "evidence", "in use by %lld export(s): close them before the "
						"cleanup", jint(lu, "users"));
		add_line(f, "fix", "lunaris cleanup %s", name);
		json_decref(targets);
	}
}

/* Names discovery did not find, and who keeps asking for them. */
static void check_negative_cache(struct doc *d, const json_t *neg)
{
	const json_t *e;
	size_t i;

	json_array_foreach(neg, i, e) {
		const char *t = jstr(e, "target");
		const json_t *tc;
		char since[64], who[600];
		json_t *f, *lus;
		const json_t *lu;
		size_t j;

		if (!t)
			continue;
		tc = json_object_get(d->h.targets, t);
		when_str(since, sizeof(since), jint(e, "since"), d->now);
		openers_str(d, t, who, sizeof(who));
		f = finding(d, jint(e, "hits") > 0 || cnt(tc, "config_one") > 1 ? "warning" : "note",
			    "negative_cache",
			    "%s is asked for but discovery does not find it (negative cache since "
			    "%s, %lld request(s) answered from it)",
			    t, since, jint(e, "hits"));
		add_line(f, "evidence", "not looked for again for %lld s more (backoff %lld s)",
			 jint(e, "remaining"), jint(e, "backoff"));
		if (tc)
			add_line(f, "evidence", "%lld config_one in the trace window, asked by: %s",
				 cnt(tc, "config_one"), who);
		lus = lus_of_target(d, t);
		json_array_foreach(lus, j, lu) {
			add_line(f, "evidence", "device name %s has a path to it",
				 jstr(lu, "name") ?: "?");
			if (lu_is_stale(d, lu))
				add_line(f, "fix", "lunaris cleanup %s", jstr(lu, "name") ?: "?");
		}
		if (!json_array_size(lus)) {
			const json_t *o = json_object_get(d->h.openers, t), *v;
			const char *k;

			/* nothing of ours refers to it: whoever asks must stop */
			json_object_foreach((json_t *)o, k, v)
				add_line(f, "fix", "ps -o pid,args -p %lld   # %s asks for %s",
					 cnt(v, "pid"), k, t);
		}
		json_decref(lus);
	}
}

/* CHAP, or some other reason the target gave, or an unreachable portal. */
static void check_login_failures(struct doc *d, const json_t *portal_stats)
{
	const json_t *tg, *s, *ps;
	size_t i, j, k;

	json_array_foreach(d->targets, i, tg) {
		const char *t = jstr(tg, "target") ?: "?";

		json_array_foreach(jarr(tg, "sessions"), j, s) {
			const char *err = jstr(s, "last_error"), *st = jstr(s, "state");
			const char *kind, *sev = "error";
			char portal[300];
			json_t *f;
			long long nfail = cnt(json_object_get(d->h.failed_logins, t), "n");

			if (!err || !*err || (st && !strcmp(st, "up")))
				continue;
			portal_str(portal, sizeof(portal), s);
			if (strstr(err, "CHAP") || strstr(err, "authentication")) {
				kind = "chap_mismatch";
				f = finding(d, sev, kind, "%s at %s refuses our login: CHAP does not "
							  "match (%s)", t, portal, err);
			} else if (strstr(err, "cannot connect") || strstr(err, "timed out") ||
				   strstr(err, "did not answer")) {
				kind = "portal_unreachable";
				f = finding(d, sev, kind, "%s at %s cannot be reached: %s", t,
					    portal, err);
			} else {
				kind = "login_rejected";
				f = finding(d, sev, kind, "%s at %s rejects our login: %s", t,
					    portal, err);
			}
			add_line(f, "evidence", "session state %s, connection %s, %lld login(s), "
						"%lld failed",
				 st ?: "?", jstr(s, "connection") ?: "?", jint(s, "logins"),
				 jint(json_object_get(s, "stats"), "login_failures"));
			if (nfail)
				add_line(f, "evidence", "%lld failed logins to %s in the trace window",
					 nfail, t);
			json_array_foreach(portal_stats, k, ps) {
				char pp[300];

				portal_str(pp, sizeof(pp), ps);
				if (!strcmp(pp, portal))
					add_line(f, "evidence", "portal %s: %lld logins, %lld failed "
								"(all targets)",
						 pp, jint(ps, "logins"), jint(ps, "failures"));
			}
			if (!strcmp(kind, "chap_mismatch")) {
				if (strstr(err, "no CHAP credentials")) {
					add_line(f, "evidence", "the target requires CHAP and we "
								"offered none");
					add_line(f, "fix", "lunaris modify target-param -a chap %s",
						 t);
					if (!json_is_true(json_object_get(d->node, "chap-secret-set")))
						add_line(f, "fix", "lunaris modify initiator-node "
								   "--CHAP-name NAME --CHAP-secret-file "
								   "FILE");
				} else if (strstr(err, "target's CHAP_R") ||
					   strstr(err, "target did not send CHAP_R")) {
					add_line(f, "evidence", "the target failed to prove itself: "
								"its secret in target-param is wrong");
					add_line(f, "fix", "lunaris modify target-param "
							   "--CHAP-secret-file FILE %s", t);
				} else {
					add_line(f, "evidence", "the target does not accept our CHAP "
								"name %s or secret",
						 jstr(d->node, "chap-name") ?: "(none)");
					add_line(f, "fix", "lunaris modify initiator-node "
							   "--CHAP-secret-file FILE");
					add_line(f, "fix", "lunaris modify initiator-node --CHAP-name "
							   "NAME");
				}
			} else if (!strcmp(jstr(s, "source") ?: "", "static")) {
				add_line(f, "fix", "lunaris remove static-config %s,%s", t, portal);
			} else {
				add_line(f, "fix", "lunaris list target -v %s", t);
			}
		}
	}
}

/* Sessions that drop and come back again and again. */
static void check_flaps(struct doc *d)
{
	const char *key;
	const json_t *o;

	json_object_foreach(d->h.sessions, key, o) {
		long long cyc = cnt(o, "cycles"), ended = cnt(o, "ended");
		long long span = d->now - d->h.first;
		char target[256];
		const char *at = strchr(key, '@');
		json_t *f;

		if (cyc < DOC_FLAP_CYCLES && ended < DOC_FLAP_CYCLES)
			continue;
		copy_n(target, sizeof(target), key, at ? (size_t)(at - key) : strlen(key));
		f = finding(d, "warning", "session_flap",
			    "the session %s flaps: it dropped and logged in again %lld times in the "
			    "last %lld s",
			    key, cyc > ended ? cyc : ended, span > 0 ? span : 0);
		if (cyc)
			add_line(f, "evidence", "%lld logged_in -> failed -> in_login cycles", cyc);
		if (ended)
			add_line(f, "evidence", "%lld times the session ended and was started over",
				 ended);
		add_line(f, "fix", "lunaris list target -v %s", target);
	}
}

/* LUs with paths that cannot serve; an offline LU with a known target. */
static void check_paths(struct doc *d)
{
	const json_t *lu, *p;
	size_t i, j;

	json_array_foreach(d->lus, i, lu) {
		const char *name = jstr(lu, "name") ?: "?", *st = jstr(lu, "state");
		bool offline = st && !strcmp(st, "offline");
		json_t *f = NULL;
		long long down = 0, total = 0;

		if (lu_is_stale(d, lu))
			continue;
		json_array_foreach(jarr(lu, "paths"), j, p) {
			const char *ps = jstr(p, "state");

			total++;
			if (!ps || !strcmp(ps, "online") || !strcmp(ps, "standby"))
				continue;
			down++;
		}
		if (!down && !offline)
			continue;
		if (offline)
			f = finding(d, "error", "lu_offline",
				    "%s is offline: none of its %lld path(s) can serve", name, total);
		else
			f = finding(d, "warning", "path_down", "%s runs on fewer paths: %lld of %lld "
								"down",
				    name, down, total);
		json_array_foreach(jarr(lu, "paths"), j, p) {
			const char *ps = jstr(p, "state"), *t = jstr(p, "target") ?: "?";
			char portal[300];

			if (!ps || !strcmp(ps, "online") || !strcmp(ps, "standby"))
				continue;
			portal_str(portal, sizeof(portal), p);
			add_line(f, "evidence", "path %s @ %s LUN %lld: %s, %lld errors", t, portal,
				 jint(p, "lun"), ps, jint(p, "errors"));
			add_line(f, "fix", "lunaris list target -v %s", t);
		}
	}
}

static void check_discovery_failures(struct doc *d, const json_t *das, const json_t *isns)
{
	const json_t *e;
	size_t i;

	json_array_foreach(das, i, e) {
		const char *err = jstr(e, "last_error");
		char portal[300];
		json_t *f;

		if (!err || !*err)
			continue;
		portal_str(portal, sizeof(portal), e);
		f = finding(d, "warning", "discovery_failing",
			    "discovery at %s fails: %s", portal, err);
		add_line(f, "evidence", "%lld of %lld SendTargets runs failed", jint(e, "failures"),
			 jint(e, "runs"));
		add_line(f, "fix", "lunaris remove discovery-address %s", portal);
	}
	json_array_foreach(isns, i, e) {
		const char *err = jstr(e, "last_error");
		char portal[300];
		json_t *f;

		if (!err || !*err)
			continue;
		portal_str(portal, sizeof(portal), e);
		f = finding(d, "warning", "discovery_failing", "iSNS server %s fails: %s", portal,
			    err);
		add_line(f, "evidence", "%lld failures, %lld queries", jint(e, "failures"),
			 jint(e, "queries"));
		add_line(f, "fix", "lunaris remove isns-server %s", portal);
	}
}

static void check_storm_protection(struct doc *d)
{
	json_t *f;

	if (!d->protection_off)
		return;
	f = finding(d, "warning", "storm_protection_off",
		    "storm protection is off: each config_one of an unknown name runs a full "
		    "discovery, the 2006 login storm");
	add_line(f, "evidence", "initiator-node tunable storm-protection=off");
	add_line(f, "fix", "lunaris modify initiator-node -T storm-protection=on");
}

static bool storm_protection_off(const json_t *node)
{
	const json_t *sp = json_object_get(json_object_get(node, "tunables"), "storm-protection");
	const char *v = jstr(sp, "configured");

	if (!v)
		v = jstr(sp, "default");
	return v && !strcmp(v, "off");
}

json_t *doctor_analyze(const json_t *replies, long long now)
{
	struct doc d = { .now = now };
	const json_t *tg, *p, *sc;
	json_t *report;
	size_t i, j;
	bool healthy = true;

	d.findings = json_array();
	d.known = json_object();
	d.h.portals = json_object();
	d.h.port_cfg = json_object();
	d.h.port_other = json_object();
	d.h.targets = json_object();
	d.h.openers = json_object();
	d.h.sessions = json_object();
	d.h.failed_logins = json_object();
	if (!d.findings || !d.known || !d.h.portals || !d.h.port_cfg || !d.h.port_other ||
	    !d.h.targets || !d.h.openers || !d.h.sessions || !d.h.failed_logins) {
		report = NULL;
		goto out;
	}
	d.lus = jarr(replies, "lu");
	d.targets = jarr(replies, "target");
	d.node = json_object_get(replies, "initiator-node");
	d.protection_off = storm_protection_off(d.node);
	/* a target is "known" when the daemon has a portal or a session for
	 * it, or discovery (SendTargets, iSNS) last reported it */
	json_array_foreach(d.targets, i, tg)
		if (jstr(tg, "target"))
			json_object_set_new(d.known, jstr(tg, "target"), json_true());
	json_array_foreach(jarr(replies, "discovery-address"), i, p)
		json_array_foreach(jarr(p, "targets"), j, sc)
			if (jstr(sc, "target"))
				json_object_set_new(d.known, jstr(sc, "target"), json_true());
	json_array_foreach(jarr(replies, "isns-server"), i, p)
		json_array_foreach(jarr(p, "targets"), j, sc)
			if (jstr(sc, "target"))
				json_object_set_new(d.known, jstr(sc, "target"), json_true());
	hist_read(&d.h, jarr(replies, "trace"), now);
	if (d.h.last > d.now)
		d.now = d.h.last; /* a clock step: the window still ends at its last line */

	check_discovery_storms(&d);
	check_stale_lus(&d);
	check_negative_cache(&d, jarr(replies, "negative-cache"));
	check_login_failures(&d, jarr(replies, "portal-stats"));
	check_flaps(&d);
	check_paths(&d);
	check_discovery_failures(&d, jarr(replies, "discovery-address"),
				 jarr(replies, "isns-server"));
	check_storm_protection(&d);

	json_array_foreach(d.findings, i, p)
		if (strcmp(jstr(p, "severity") ?: "", "note"))
			healthy = false;
	report = json_pack("{s:b,s:O}", "healthy", healthy, "findings", d.findings);
out:
	json_decref(d.findings);
	json_decref(d.known);
	json_decref(d.h.portals);
	json_decref(d.h.port_cfg);
	json_decref(d.h.port_other);
	json_decref(d.h.targets);
	json_decref(d.h.openers);
	json_decref(d.h.sessions);
	json_decref(d.h.failed_logins);
	return report;
}

/* ------------------------------------------------------------------ */
/* Printing                                                            */

int doctor_exit_code(const json_t *report)
{
	return json_is_true(json_object_get(report, "healthy")) ? 0 : 1;
}

void doctor_print(const json_t *report, FILE *out)
{
	const json_t *findings = jarr(report, "findings"), *f, *v;
	size_t i, j, serious = 0, notes = 0;

	json_array_foreach(findings, i, f) {
		if (!strcmp(jstr(f, "severity") ?: "", "note"))
			notes++;
		else
			serious++;
	}
	if (json_is_true(json_object_get(report, "healthy")))
		fprintf(out, "lunaris doctor: healthy");
	else
		fprintf(out, "lunaris doctor: %zu finding%s need%s attention", serious,
			serious == 1 ? "" : "s", serious == 1 ? "s" : "");
	if (notes)
		fprintf(out, " (%zu note%s)", notes, notes == 1 ? "" : "s");
	fputc('\n', out);
	json_array_foreach(findings, i, f) {
		fprintf(out, "\n%zu. [%s] %s\n", i + 1, jstr(f, "severity") ?: "?",
			jstr(f, "summary") ?: "");
		json_array_foreach(jarr(f, "evidence"), j, v)
			fprintf(out, "     %s\n", json_string_value(v) ?: "");
		json_array_foreach(jarr(f, "fix"), j, v)
			fprintf(out, "   Fix: %s\n", json_string_value(v) ?: "");
	}
}
