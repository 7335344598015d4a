/*
 * luadmin.c - `list lu`, `modify lu` and `cleanup` (devfsadm -C) for the
 * logical units of lu.c (docs/control-protocol.md, lunaris-lu(8)).
 *
 * cleanup removes names whose LU is not online now (and, with older_than,
 * was not seen online for that long); a name in use (an export has it
 * open) is never removed.  This is what cured the 2006 storm by hand: a
 * remembered name that nothing can serve stops turning opens into
 * config_one requests once it is gone.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "lu.h"

struct list_ctx {
	json_t *out;
	bool verbose;
};

static json_t *time_or_null(time_t t)
{
	return t ? json_integer((json_int_t)t) : json_null();
}

static void list_one(struct lund_lu *lu, void *arg)
{
	struct list_ctx *c = arg;
	struct lund_lu_info in;
	struct lund_lu_path_info p[8];
	int n = lund_lu_paths(lu, p, 8);
	json_t *paths = json_array(), *o;
	char pref[600];

	json_int_t cmds = 0, rd = 0, wr = 0, errs = 0; /* the LU's totals */

	lund_lu_get_info(lu, &in);
	for (int i = 0; i < n; i++) {
		cmds += (json_int_t)p[i].commands;
		rd += (json_int_t)p[i].bytes_read;
		wr += (json_int_t)p[i].bytes_written;
		errs += (json_int_t)p[i].errors;
		json_t *po = json_pack("{s:s,s:s,s:i,s:i,s:i,s:s,s:s,s:I,s:I,s:I,s:I,s:i,s:b}", "target",
				  p[i].target, "address", p[i].host, "port", p[i].port, "tpgt",
				  p[i].tpgt, "lun", p[i].lun, "state", p[i].state, "alua", p[i].alua,
				  "commands", (json_int_t)p[i].commands, "bytes_read",
				  (json_int_t)p[i].bytes_read, "bytes_written",
				  (json_int_t)p[i].bytes_written, "errors", (json_int_t)p[i].errors,
				  "outstanding", (int)p[i].outstanding, "preferred", p[i].preferred);

		json_object_set_new(po, "tpg", p[i].tpg >= 0 ? json_integer(p[i].tpg) : json_null());
		json_array_append_new(paths, po);
	}
	o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:I,s:i,s:s,s:s,s:i,s:i,s:i}", "name", in.name,
		      "identifier", in.ident, "vendor", in.vendor, "product", in.product,
		      "revision", in.revision, "size", (json_int_t)in.size, "block_size",
		      (int)in.block_size, "state", in.online ? "online" : "offline", "policy",
		      lund_lu_policy(lu), "users", (int)in.users, "paths_total", (int)in.npaths,
		      "paths_online", (int)in.paths_online);
	json_object_set_new(o, "last_seen_online", time_or_null(in.last_seen_online));
	json_object_set_new(o, "last_open", time_or_null(in.last_open));
	json_object_set_new(o, "last_opener",
			    in.last_opener[0] ? json_string(in.last_opener) : json_null());
	json_object_set_new(o, "failback", json_boolean(lund_lu_failback(lu)));
	lund_lu_preferred(lu, pref, sizeof(pref));
	json_object_set_new(o, "preferred_path", pref[0] ? json_string(pref) : json_null());
	json_object_set_new(o, "paths", paths);
	json_object_set_new(o, "stats", json_pack("{s:I,s:I,s:I,s:I}", "commands", cmds,
						  "bytes_read", rd, "bytes_written", wr,
						  "errors", errs));
	json_array_append_new(c->out, o);
}

/* modify lu: policy (and region_size), failback, preferred_path; at least
 * one of them.  Failback and the preferred path live in memory only. */
static void modify_lu(const json_t *args, struct lund_reply *rep)
{
	const char *name = NULL, *policy = NULL, *pref = NULL;
	json_int_t region = 0;
	json_t *failback = NULL;
	json_error_t jerr;
	struct lund_lu *lu;

	if (!args || json_unpack_ex((json_t *)args, &jerr, JSON_STRICT, "{s:s,s?s,s?I,s?o,s?s}",
				    "name", &name, "policy", &policy, "region_size", &region,
				    "failback", &failback, "preferred_path", &pref) < 0) {
		rep->code = LUND_EBADREQ;
		snprintf(rep->err, sizeof(rep->err), "modify lu: %s",
			 args ? jerr.text : "needs name and policy");
		return;
	}
	if ((!policy && !failback && !pref) || (region && !policy) ||
	    (failback && !json_is_boolean(failback))) {
		rep->code = LUND_EBADREQ;
		snprintf(rep->err, sizeof(rep->err),
			 "modify lu needs policy (with region_size), failback (true or false) or "
			 "preferred_path");
		return;
	}
	if (region < 0 || region > UINT32_MAX) {
		rep->code = LUND_EBADREQ;
		snprintf(rep->err, sizeof(rep->err), "region_size must be 1 to %u blocks",
			 UINT32_MAX);
		return;
	}
	lu = lund_lu_find(name);
	if (!lu) {
		rep->code = LUND_ECONFLICT;
		snprintf(rep->err, sizeof(rep->err), "logical unit %s is not known", name);
		return;
	}
	/* nothing changes when a part is wrong: the policy name first */
	if (policy && strcmp(policy, "none") && strcmp(policy, "round-robin") &&
	    strcmp(policy, "logical-block") && strcmp(policy, "least-queue")) {
		rep->code = LUND_EBADREQ;
		snprintf(rep->err, sizeof(rep->err),
			 "unknown policy '%s' (none, round-robin, logical-block, least-queue)",
			 policy);
		return;
	}
	if (pref && lund_lu_set_preferred(lu, pref, rep->err, sizeof(rep->err)) < 0) {
		rep->code = LUND_EBADREQ;
		return;
	}
	if (policy)
		lund_lu_set_policy(lu, policy, (uint32_t)region);
	if (failback)
		lund_lu_set_failback(lu, json_is_true(failback));
	rep->result = json_null();
}

struct clean_ctx {
	struct lund_lu *cand[64];
	int n;
};

static void collect(struct lund_lu *lu, void *arg)
{
	struct clean_ctx *c = arg;

	if (c->n < 64)
		c->cand[c->n++] = lu;
}

static bool named(const json_t *names, const char *name)
{
	const json_t *v;
	size_t i;

	if (!json_array_size(names))
		return true;
	json_array_foreach(names, i, v)
		if (json_is_string(v) && !strcmp(json_string_value(v), name))
			return true;
	return false;
}

static void cleanup(const json_t *args, const struct lund_peer *peer, struct lund_reply *rep)
{
	int dry = 0;
	json_int_t older = -1;
	json_t *names = NULL, *removed = json_array(), *kept = json_array();
	json_error_t jerr;
	struct clean_ctx c = { .n = 0 };
	time_t now = time(NULL);

	if (args && json_unpack_ex((json_t *)args, &jerr, JSON_STRICT, "{s?b,s?I,s?o}", "dry_run",
				   &dry, "older_than", &older, "names", &names) < 0) {
		rep->code = LUND_EBADREQ;
		snprintf(rep->err, sizeof(rep->err), "cleanup: %s", jerr.text);
		goto out;
	}
	if ((names && !json_is_array(names)) || older < -1) {
		rep->code = LUND_EBADREQ;
		snprintf(rep->err, sizeof(rep->err),
			 "cleanup: names must be a list and older_than whole seconds");
		goto out;
	}
	if (!dry && !peer->may_change) {
		rep->code = LUND_EPERM;
		snprintf(rep->err, sizeof(rep->err),
			 "permission denied: only root or the control group may clean up");
		goto out;
	}
	lund_lu_foreach(collect, &c);
	for (int i = 0; i < c.n; i++) {
		struct lund_lu_info in;
		const char *why = NULL;

		lund_lu_get_info(c.cand[i], &in);
		if (!named(names, in.name))
			continue;
		if (in.online)
			why = "online";
		else if (in.users)
			why = "in use";
		else if (older >= 0 && in.last_seen_online && now - in.last_seen_online < older)
			why = "seen online recently";
		if (why) {
			json_array_append_new(kept, json_pack("{s:s,s:s}", "name", in.name, "reason",
							      why));
			continue;
		}
		if (!dry && lund_lu_remove(c.cand[i]) < 0) {
			json_array_append_new(kept, json_pack("{s:s,s:s}", "name", in.name, "reason",
							      "busy"));
			continue;
		}
		json_array_append_new(removed, json_pack("{s:s,s:o}", "name", in.name,
							 "last_seen_online",
							 time_or_null(in.last_seen_online)));
	}
	rep->result = json_pack("{s:O,s:O,s:b}", "removed", removed, "kept", kept, "dry_run",
				dry);
out:
	json_decref(removed);
	json_decref(kept);
}

void lund_lu_handle(struct lund *d, const char *op, const json_t *args,
		    const struct lund_peer *peer, struct lund_reply *rep)
{
	if (!strcmp(op, "list")) {
		struct list_ctx c = { json_array(), false };
		json_error_t jerr;
		int verbose = 0;

		if (args && json_unpack_ex((json_t *)args, &jerr, JSON_STRICT, "{s?b}", "verbose",
					   &verbose) < 0) {
			json_decref(c.out);
			rep->code = LUND_EBADREQ;
			snprintf(rep->err, sizeof(rep->err), "list lu: %s", jerr.text);
			return;
		}
		lund_lu_foreach(list_one, &c);
		rep->result = c.out;
	} else if (!strcmp(op, "modify")) {
		if (!peer->may_change) {
			rep->code = LUND_EPERM;
			snprintf(rep->err, sizeof(rep->err),
				 "permission denied: only root or the control group may modify lu");
			return;
		}
		modify_lu(args, rep);
	} else if (!strcmp(op, "cleanup")) {
		cleanup(args, peer, rep);
	} else {
		rep->code = LUND_EBADREQ;
		snprintf(rep->err, sizeof(rep->err), "'%s lu' is not a known command", op);
	}
	(void)d;
}
