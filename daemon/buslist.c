/*
 * buslist.c - `list target [-v] [-S]`, `list negative-cache` and
 * `list portal-stats`: what bus configuration knows, as JSON (the CLI
 * prints its iscsiadm layout from the same JSON).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "bus.h"
#include "scsi.h"
#include "util.h"

const char *const bus_state_names[] = { "waiting", "logging in", "scanning", "up",
					"logging out" };

static json_t *lun_json(const struct bus_lun *l)
{
	char name[128];

	if (l->ident[0])
		snprintf(name, sizeof(name), "c0t%sd0", l->ident);
	else
		name[0] = '\0';
	return json_pack("{s:i,s:s,s:s,s:s,s:s,s:I,s:I,s:i,s:s,s:s}", "lun", l->lun, "type",
			 lun_device_type_str(l->type), "vendor", l->vendor, "product", l->product,
			 "revision", l->revision, "size", (json_int_t)(l->blocks * l->block_size),
			 "blocks", (json_int_t)l->blocks, "block_size", (int)l->block_size,
			 "identifier", l->ident, "name", name);
}

static json_t *params_json(const lunaris_session *s)
{
	struct lunaris_session_info si;

	if (!s || lunaris_get_session_info(s, &si) < 0)
		return json_null();
	return json_pack("{s:b,s:b,s:b,s:b,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:s,s:s}",
			 "data_pdu_in_order", si.data_pdu_in_order, "data_sequence_in_order",
			 si.data_seq_in_order, "initial_r2t", si.initial_r2t, "immediate_data",
			 si.immediate_data, "default_time2retain", (int)si.default_time2retain,
			 "default_time2wait", (int)si.default_time2wait, "error_recovery_level",
			 (int)si.erl, "first_burst_length", (int)si.first_burst,
			 "max_burst_length", (int)si.max_burst, "max_connections",
			 (int)si.max_connections, "max_outstanding_r2t",
			 (int)si.max_outstanding_r2t, "max_recv_data_segment_length",
			 (int)si.max_recv_dsl, "max_xmit_data_segment_length",
			 (int)si.max_send_dsl, "header_digest", si.header_digest ? "CRC32C" : "NONE",
			 "data_digest", si.data_digest ? "CRC32C" : "NONE");
}

const char *bus_method_name(unsigned m)
{
	return m == LUN_DISC_STATIC ? "Static" : m == LUN_DISC_ISNS ? "iSNS" : "SendTargets";
}

static json_t *session_json(const struct bsess *b, bool verbose, bool luns)
{
	struct lunaris_session_info si;
	bool in = b->s && lunaris_is_logged_in(b->s);
	char isid[13] = "", local[300] = "";
	json_t *o;

	if (b->s && lunaris_get_session_info(b->s, &si) == 0)
		snprintf(isid, sizeof(isid), "%02x%02x%02x%02x%02x%02x", si.isid[0], si.isid[1],
			 si.isid[2], si.isid[3], si.isid[4], si.isid[5]);
	if (in) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		char h[INET6_ADDRSTRLEN] = "?";
		uint16_t port = 0;

		if (getsockname(lunaris_get_fd(b->s), (struct sockaddr *)&ss, &sl) == 0) {
			if (ss.ss_family == AF_INET) {
				struct sockaddr_in *a = (struct sockaddr_in *)&ss;

				inet_ntop(AF_INET, &a->sin_addr, h, sizeof(h));
				port = ntohs(a->sin_port);
			} else if (ss.ss_family == AF_INET6) {
				struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

				inet_ntop(AF_INET6, &a->sin6_addr, h, sizeof(h));
				port = ntohs(a->sin6_port);
			}
		}
		snprintf(local, sizeof(local), "%s:%u", h, port);
	}
	o = json_pack("{s:s,s:i,s:s,s:s,s:s,s:s,s:i,s:s,s:s,s:I,s:i,s:s?}", "address", b->host,
		      "port", b->port, "isid", isid, "state", bus_state_names[b->state], "connection",
		      b->conn_state, "discovery", bus_method_name(b->method), "tpgt",
		      in ? (int)si.tpgt : b->tpgt, "source", b->source, "cause", b->cause, "logins",
		      (json_int_t)b->logins, "connections", in ? 1 : 0, "last_error",
		      b->last_error[0] ? b->last_error : NULL);
	json_object_set_new(o, "alias", json_string(in ? si.target_alias : ""));
	if (verbose) {
		struct lunaris_stats st;

		json_object_set_new(o, "local_address", json_string(local));
		json_object_set_new(o, "params", in ? params_json(b->s) : json_null());
		if (b->s) {
			lunaris_get_stats(b->s, &st);
			json_object_set_new(
				o, "stats",
				json_pack("{s:I,s:I,s:I,s:I,s:I}", "logins", (json_int_t)st.logins,
					  "login_failures", (json_int_t)st.login_failures,
					  "reconnects", (json_int_t)st.reconnects,
					  "connection_failures", (json_int_t)st.connection_failures,
					  "commands", (json_int_t)st.commands));
		}
		json_object_set_new(o, "configured_index", json_integer(b->idx));
	}
	if (luns) {
		json_t *a = json_array();

		for (size_t i = 0; i < b->nluns; i++)
			json_array_append_new(a, lun_json(&b->luns[i]));
		json_object_set_new(o, "luns", a);
	}
	return o;
}

struct list_ctx {
	json_t *targets; /* name -> entry */
	const char *only;
};

static json_t *list_entry(struct list_ctx *c, const char *target)
{
	json_t *e = json_object_get(c->targets, target);

	if (!e) {
		e = json_pack("{s:s,s:[],s:[]}", "target", target, "portals", "sessions");
		json_object_set_new(c->targets, target, e);
	}
	return e;
}

static void list_cb(const struct bus_ref *r, void *arg)
{
	struct list_ctx *c = arg;
	json_t *e;

	if (c->only && strcmp(c->only, r->target))
		return;
	e = list_entry(c, r->target);
	json_array_append_new(json_object_get(e, "portals"),
			      json_pack("{s:s,s:i,s:i,s:s,s:s}", "address", r->host, "port",
					r->port, "tpgt", r->tpgt, "discovery",
					bus_method_name(r->method), "source", r->source));
}

void bus_list_target(struct lund *d, const json_t *args, struct lund_reply *rep)
{
	int verbose = 0, luns = 0;
	const char *only = NULL;
	json_error_t jerr;
	struct list_ctx c;
	const char *name;
	json_t *e, *out;

	if (args && json_unpack_ex((json_t *)args, &jerr, JSON_STRICT, "{s?b,s?b,s?s}",
				   "verbose", &verbose, "luns", &luns, "target", &only) < 0) {
		rep->code = LUND_EBADREQ;
		snprintf(rep->err, sizeof(rep->err), "list target: %s", jerr.text);
		return;
	}
	c.targets = json_object();
	c.only = only;
	bus_collect(d, list_cb, &c);
	for (int i = 0; i < LUND_BUS_MAX_SESS; i++) {
		const struct bsess *b = &bus_sess[i];

		if (!b->used || (only && strcmp(only, b->target)))
			continue;
		e = list_entry(&c, b->target);
		json_array_append_new(json_object_get(e, "sessions"),
				      session_json(b, verbose, luns));
	}
	if (only && !json_object_size(c.targets)) {
		json_decref(c.targets);
		rep->code = LUND_ENOTFOUND;
		snprintf(rep->err, sizeof(rep->err), "target %s is not known", only);
		return;
	}
	out = json_array();
	json_object_foreach(c.targets, name, e)
		json_array_append(out, e);
	json_decref(c.targets);
	rep->result = out;
}

void bus_list_negative(struct lund_reply *rep)
{
	json_t *a = json_array();
	uint64_t now = lun_now_ns();

	for (int i = 0; i < LUND_BUS_MAX_NEG; i++) {
		const struct bus_neg *n = &bus_negs[i];

		if (!n->used)
			continue;
		json_array_append_new(
			a, json_pack("{s:s,s:I,s:i,s:I,s:i}", "target", n->target, "since",
				     (json_int_t)n->since, "backoff", n->backoff_s, "remaining",
				     (json_int_t)(n->until_ns > now ? (n->until_ns - now) / NS + 1
								    : 0),
				     "hits", n->hits));
	}
	rep->result = a;
}

void bus_list_portals(struct lund_reply *rep)
{
	json_t *a = json_array();

	for (int i = 0; i < LUND_BUS_MAX_PORTALS; i++) {
		const struct bus_portal *p = &bus_portals[i];

		if (p->used)
			json_array_append_new(
				a, json_pack("{s:s,s:i,s:I,s:I,s:i,s:I}", "address", p->host, "port",
					     p->port, "logins", (json_int_t)p->logins, "failures",
					     (json_int_t)p->failures, "inflight", p->inflight,
					     "last_login", (json_int_t)p->last_login));
	}
	rep->result = a;
}
