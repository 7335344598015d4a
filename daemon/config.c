/*
 * config.c - the configuration objects of lunarisd: validate a request's
 * arguments completely, then make the change in one store transaction; the
 * reply goes out only after the commit (docs/control-protocol.md).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "daemon.h"
#include "lunaris/lunaris.h"
#include "util.h"

#define FAIL(rep, c, ...)                                                \
	do {                                                             \
		(rep)->code = (c);                                       \
		snprintf((rep)->err, sizeof((rep)->err), __VA_ARGS__);   \
	} while (0)

/* ---- argument checks */

/* Host names and addresses: letters, digits, '.', '-', ':' (IPv6), '_'. */
static bool host_ok(const char *h)
{
	size_t n = strlen(h);

	if (n == 0 || n > 255)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)h[i]) && !strchr(".-:_", h[i]))
			return false;
	return true;
}

/* iSCSI names (RFC 3720 3.2.6): iqn.yyyy-mm.<reversed domain>[:...], eui.<16 hex>,
 * naa.<16 or 32 hex>; at most 223 bytes. */
static bool iscsi_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 223)
		return false;
	if (!strncmp(s, "iqn.", 4)) {
		if (n < 12 || !isdigit((unsigned char)s[4]) || !isdigit((unsigned char)s[5]) ||
		    !isdigit((unsigned char)s[6]) || !isdigit((unsigned char)s[7]) || s[8] != '-' ||
		    !isdigit((unsigned char)s[9]) || !isdigit((unsigned char)s[10]) || s[11] != '.')
			return false;
		for (size_t i = 12; i < n; i++)
			if (!isalnum((unsigned char)s[i]) && !strchr(".-:", s[i]))
				return false;
		return n > 12;
	}
	if (!strncmp(s, "eui.", 4) || !strncmp(s, "naa.", 4)) {
		size_t h = n - 4;

		if (!(h == 16 || (s[0] == 'n' && h == 32)))
			return false;
		for (size_t i = 4; i < n; i++)
			if (!isxdigit((unsigned char)s[i]))
				return false;
		return true;
	}
	return false;
}

struct portal_args {
	const char *address;
	int port;
};

static int unpack_portal(const json_t *args, uint16_t defport, struct portal_args *p,
			 struct lund_reply *rep)
{
	json_error_t jerr;

	p->address = NULL;
	p->port = defport;
	if (!args || json_unpack_ex((json_t *)args, &jerr, JSON_STRICT, "{s:s,s?i}", "address",
				    &p->address, "port", &p->port) < 0) {
		FAIL(rep, LUND_EBADREQ, "expected {address, port}: %s",
		     args ? jerr.text : "no arguments");
		return -1;
	}
	if (!host_ok(p->address)) {
		FAIL(rep, LUND_EBADREQ, "'%s' is not a host name or address", p->address);
		return -1;
	}
	if (p->port < 1 || p->port > 65535) {
		FAIL(rep, LUND_EBADREQ, "port %d is out of range (1..65535)", p->port);
		return -1;
	}
	return 0;
}

/* Map a store error to a reply: "already"/"not configured" are conflicts. */
static void store_fail(struct lund_reply *rep, const char *err)
{
	int code = strstr(err, "already") || strstr(err, "not configured") ? LUND_ECONFLICT
									      : LUND_EINTERNAL;

	FAIL(rep, code, "%s", err);
}

/* ---- discovery-address and isns-server */

static void handle_portals(struct lund *d, const char *op, bool isns, const json_t *args,
			   struct lund_reply *rep)
{
	struct portal_args p;
	char err[256];
	int rc;

	if (!strcmp(op, "list")) {
		struct lun_store_addr *v = NULL;
		int n = isns ? lun_store_list_isns_servers(d->store, &v, err, sizeof(err))
			     : lun_store_list_discovery_addresses(d->store, &v, err, sizeof(err));

		if (n < 0) {
			store_fail(rep, err);
			return;
		}
		rep->result = json_array();
		for (int i = 0; i < n; i++)
			json_array_append_new(rep->result, json_pack("{s:s,s:i}", "address",
								     v[i].host, "port", v[i].port));
		free(v);
		return;
	}
	if (unpack_portal(args, isns ? 3205 : 3260, &p, rep) < 0)
		return;
	if (!strcmp(op, "add"))
		rc = isns ? lun_store_add_isns_server(d->store, p.address, (uint16_t)p.port, err,
						      sizeof(err))
			  : lun_store_add_discovery_address(d->store, p.address, (uint16_t)p.port,
							    err, sizeof(err));
	else
		rc = isns ? lun_store_remove_isns_server(d->store, p.address, (uint16_t)p.port, err,
							 sizeof(err))
			  : lun_store_remove_discovery_address(d->store, p.address,
							       (uint16_t)p.port, err, sizeof(err));
	if (rc < 0) {
		store_fail(rep, err);
		return;
	}
	lund_log(LOG_INFO, "%s %s %s:%d", op, isns ? "isns-server" : "discovery-address",
		 p.address, p.port);
}

/* ---- static-config */

static void handle_static(struct lund *d, const char *op, const json_t *args,
			  struct lund_reply *rep)
{
	struct lun_store_static sc = { .tpgt = -1 };
	const char *target = NULL, *address = NULL;
	int port = 3260, tpgt = -1;
	json_error_t jerr;
	char err[256];
	int rc;

	if (!strcmp(op, "list")) {
		struct lun_store_static *v = NULL;
		int n = lun_store_list_static(d->store, &v, err, sizeof(err));

		if (n < 0) {
			store_fail(rep, err);
			return;
		}
		rep->result = json_array();
		for (int i = 0; i < n; i++) {
			json_t *o = json_pack("{s:s,s:s,s:i}", "target", v[i].target, "address",
					      v[i].host, "port", v[i].port);

			json_object_set_new(o, "tpgt", v[i].tpgt < 0 ? json_null()
								    : json_integer(v[i].tpgt));
			json_array_append_new(rep->result, o);
		}
		free(v);
		return;
	}
	if (!args || json_unpack_ex((json_t *)args, &jerr, JSON_STRICT, "{s:s,s:s,s?i,s?i}",
				    "target", &target, "address", &address, "port", &port, "tpgt",
				    &tpgt) < 0) {
		FAIL(rep, LUND_EBADREQ, "expected {target, address, port, tpgt}: %s",
		     args ? jerr.text : "no arguments");
		return;
	}
	if (!iscsi_name_ok(target)) {
		FAIL(rep, LUND_EBADREQ, "'%s' is not a valid iSCSI name (iqn., eui. or naa.)",
		     target);
		return;
	}
	if (!host_ok(address) || port < 1 || port > 65535 || tpgt < -1 || tpgt > 65535) {
		FAIL(rep, LUND_EBADREQ, "bad portal %s:%d (tpgt %d)", address, port, tpgt);
		return;
	}
	lun_strlcpy(sc.target, target, sizeof(sc.target));
	lun_strlcpy(sc.host, address, sizeof(sc.host));
	sc.port = (uint16_t)port;
	sc.tpgt = tpgt;
	rc = !strcmp(op, "add") ? lun_store_add_static(d->store, &sc, err, sizeof(err))
				: lun_store_remove_static(d->store, &sc, err, sizeof(err));
	if (rc < 0) {
		store_fail(rep, err);
		return;
	}
	lund_log(LOG_INFO, "%s static-config %s,%s:%d", op, target, address, port);
}

/* ---- discovery methods */

static void handle_discovery(struct lund *d, const char *op, const json_t *args,
			     const struct lund_peer *peer, struct lund_reply *rep)
{
	static const struct {
		const char *name;
		unsigned bit;
	} m[] = {
		{ "static", LUN_DISC_STATIC },
		{ "sendtargets", LUN_DISC_SENDTARGETS },
		{ "isns", LUN_DISC_ISNS },
	};
	unsigned methods;
	char err[256];
	const char *key;
	json_t *val;

	if (lun_store_get_methods(d->store, &methods, err, sizeof(err)) < 0) {
		store_fail(rep, err);
		return;
	}
	if (!strcmp(op, "list")) {
		rep->result = json_object();
		for (size_t i = 0; i < 3; i++)
			json_object_set_new(rep->result, m[i].name,
					    json_boolean(methods & m[i].bit));
		return;
	}
	if (!args || !json_object_size(args)) {
		FAIL(rep, LUND_EBADREQ, "modify discovery needs static, sendtargets or isns");
		return;
	}
	json_object_foreach((json_t *)args, key, val) {
		size_t i;

		for (i = 0; i < 3 && strcmp(key, m[i].name); i++)
			;
		if (i == 3 || !json_is_boolean(val)) {
			FAIL(rep, LUND_EBADREQ, "unknown discovery method or value: %s", key);
			return;
		}
		methods = json_is_true(val) ? methods | m[i].bit : methods & ~m[i].bit;
	}
	if (lun_store_set_methods(d->store, methods, err, sizeof(err)) < 0) {
		store_fail(rep, err);
		return;
	}
	if (methods & LUN_DISC_SENDTARGETS) {
		char cause[LUN_CAUSE_MAX_D];

		lund_peer_cause(peer, "modify discovery", cause, sizeof(cause));
		lund_discovery_all(d, cause);
	}
	if (json_object_get(args, "isns")) { /* enable registers and queries, disable leaves */
		char cause[LUN_CAUSE_MAX_D];

		lund_peer_cause(peer, "modify discovery", cause, sizeof(cause));
		lund_isns_all(d, cause);
	}
	lund_log(LOG_INFO, "discovery methods now static=%d sendtargets=%d isns=%d",
		 !!(methods & LUN_DISC_STATIC), !!(methods & LUN_DISC_SENDTARGETS),
		 !!(methods & LUN_DISC_ISNS));
}

/* ---- initiator node (its tunables are in params.c, shared with target-param) */

static const char *setting(struct lund *d, const char *key, char *buf, size_t cap)
{
	char err[256];

	return lun_store_get(d->store, "", key, buf, cap, err, sizeof(err)) == 1 ? buf : NULL;
}

static void list_node(struct lund *d, struct lund_reply *rep)
{
	char name[224], v[256], dflt[224];
	json_t *o = json_object(), *tun = lund_tunables_json(d, rep);

	if (!tun) {
		json_decref(o);
		return;
	}

	lunaris_default_initiator_name(dflt, sizeof(dflt));
	json_object_set_new(o, "node-name",
			    json_string(setting(d, "node-name", name, sizeof(name)) ? name : dflt));
	json_object_set_new(o, "alias", json_string(setting(d, "alias", v, sizeof(v)) ? v : ""));
	json_object_set_new(o, "header-digest",
			    json_string(setting(d, "header-digest", v, sizeof(v)) ? v : "none"));
	json_object_set_new(o, "data-digest",
			    json_string(setting(d, "data-digest", v, sizeof(v)) ? v : "none"));
	json_object_set_new(o, "authentication",
			    json_string(setting(d, "authentication", v, sizeof(v)) ? v : "none"));
	json_object_set_new(o, "chap-name",
			    json_string(setting(d, "chap-name", v, sizeof(v)) ? v
							: json_string_value(json_object_get(
								  o, "node-name"))));
	json_object_set_new(o, "chap-secret-set",
			    json_boolean(setting(d, "chap-secret", v, sizeof(v)) != NULL));
	explicit_bzero(v, sizeof(v));
	json_object_set_new(o, "configured-sessions",
			    json_integer(setting(d, "configured-sessions", v, sizeof(v))
						 ? atoi(v)
						 : 1));
	json_object_set_new(o, "tunables", tun);
	rep->result = o;
}

/* Collect one validated change; returns -1 with rep set on bad input. */
static int node_change(const char *key, json_t *val, struct lun_store_kv *kv, size_t *n,
		       char bufs[][32], struct lund_reply *rep)
{
	const char *s = json_string_value(val);

	if (!strcmp(key, "node-name") || !strcmp(key, "alias") || !strcmp(key, "chap-name") ||
	    !strcmp(key, "chap-secret")) {
		size_t max = !strcmp(key, "node-name") ? 223 : 255;

		if (!s || !*s || strlen(s) > max) {
			FAIL(rep, LUND_EBADREQ, "%s must be a string of 1 to %zu bytes", key, max);
			return -1;
		}
		if (!strcmp(key, "node-name") && !iscsi_name_ok(s)) {
			FAIL(rep, LUND_EBADREQ, "'%s' is not a valid iSCSI name", s);
			return -1;
		}
	} else if (!strcmp(key, "header-digest") || !strcmp(key, "data-digest")) {
		if (!s || (strcmp(s, "none") && strcmp(s, "crc32c"))) {
			FAIL(rep, LUND_EBADREQ, "%s must be none or crc32c", key);
			return -1;
		}
	} else if (!strcmp(key, "authentication")) {
		if (!s || (strcmp(s, "none") && strcmp(s, "chap"))) {
			FAIL(rep, LUND_EBADREQ, "authentication must be chap or none");
			return -1;
		}
	} else if (!strcmp(key, "configured-sessions")) {
		if (!json_is_integer(val) || json_integer_value(val) < 1 ||
		    json_integer_value(val) > 4) {
			FAIL(rep, LUND_EBADREQ, "configured-sessions must be 1 to 4");
			return -1;
		}
		snprintf(bufs[*n], 32, "%d", (int)json_integer_value(val));
		s = bufs[*n];
	} else {
		FAIL(rep, LUND_EBADREQ, "unknown initiator-node setting '%s'", key);
		return -1;
	}
	kv[*n].key = key;
	kv[*n].value = s;
	(*n)++;
	return 0;
}

static void modify_node(struct lund *d, const json_t *args, struct lund_reply *rep)
{
	struct lun_store_kv kv[32];
	char bufs[32][32], keys[32][64], err[256];
	size_t n = 0;
	const char *key;
	json_t *val;

	if (!args || !json_object_size(args)) {
		FAIL(rep, LUND_EBADREQ, "modify initiator-node needs at least one setting");
		return;
	}
	json_object_foreach((json_t *)args, key, val) {
		if (n >= 32) {
			FAIL(rep, LUND_EBADREQ, "too many settings in one request");
			return;
		}
		if (strcmp(key, "tunables")) {
			if (node_change(key, val, kv, &n, bufs, rep) < 0)
				return;
			continue;
		}
		const char *tk;
		json_t *tv;

		if (!json_is_object(val)) {
			FAIL(rep, LUND_EBADREQ, "tunables must be an object");
			return;
		}
		json_object_foreach(val, tk, tv) {
			if (n >= 32) {
				FAIL(rep, LUND_EBADREQ, "too many settings in one request");
				return;
			}
			if (lund_tunable_change(tk, tv, false, keys[n], sizeof(keys[n]), bufs[n],
						sizeof(bufs[n]), rep) < 0)
				return;
			kv[n].key = keys[n];
			kv[n].value = bufs[n];
			n++;
		}
	}
	/* RFC 7143 12.1.3: not a secret some target proves itself with. */
	if (lund_check_initiator_secret(d, json_string_value(json_object_get(args, "chap-secret")),
					rep) < 0)
		return;
	if (lun_store_set_many(d->store, "", kv, n, err, sizeof(err)) < 0) {
		store_fail(rep, err);
		return;
	}
	for (size_t i = 0; i < n; i++)
		lund_log(LOG_INFO, "initiator-node %s changed", kv[i].key);
	const char *sec = json_string_value(json_object_get(args, "chap-secret"));
	if (sec && strlen(sec) < 12)
		snprintf(rep->warning, sizeof(rep->warning),
			 "the CHAP secret is shorter than 12 bytes (RFC 7143 12.1.3)");
}

/* Discovery follows the configuration: a new address is discovered at once
 * (when SendTargets is enabled), a removed one forgotten, and `list -v`
 * shows what each address reported. */
static void after_discovery_address(struct lund *d, const char *op, const json_t *args,
				    const struct lund_peer *peer, bool verbose,
				    struct lund_reply *rep)
{
	const char *host = NULL;
	int port = 3260;
	char cause[LUN_CAUSE_MAX_D];
	unsigned methods = 0;
	char err[256];

	if (!strcmp(op, "list")) {
		json_t *e;
		size_t i;

		if (!verbose)
			return;
		json_array_foreach(rep->result, i, e) {
			json_t *more = lund_discovery_json(
				json_string_value(json_object_get(e, "address")),
				(uint16_t)json_integer_value(json_object_get(e, "port")));

			json_object_update(e, more);
			json_decref(more);
		}
		return;
	}
	json_unpack((json_t *)args, "{s:s,s?i}", "address", &host, "port", &port);
	if (!strcmp(op, "remove")) {
		lund_discovery_forget(host, (uint16_t)port);
		return;
	}
	if (lun_store_get_methods(d->store, &methods, err, sizeof(err)) < 0 ||
	    !(methods & LUN_DISC_SENDTARGETS))
		return;
	lund_peer_cause(peer, "add discovery-address", cause, sizeof(cause));
	lund_discovery_request(d, host, (uint16_t)port, cause, LUND_DISC_NEW);
}

/* iSNS the same way: an added server is registered with and queried at once
 * (when iSNS is enabled), a removed one deregistered, and `list -v` shows
 * what each server reported. */
static void after_isns_server(struct lund *d, const char *op, const json_t *args,
			      const struct lund_peer *peer, bool verbose, struct lund_reply *rep)
{
	const char *host = NULL;
	int port = 3205;
	char cause[LUN_CAUSE_MAX_D];

	if (!strcmp(op, "list")) {
		json_t *e;
		size_t i;

		if (!verbose)
			return;
		json_array_foreach(rep->result, i, e) {
			json_t *more = lund_isns_json(
				json_string_value(json_object_get(e, "address")),
				(uint16_t)json_integer_value(json_object_get(e, "port")));

			json_object_update(e, more);
			json_decref(more);
		}
		return;
	}
	json_unpack((json_t *)args, "{s:s,s?i}", "address", &host, "port", &port);
	if (!strcmp(op, "remove")) {
		lund_isns_forget(host, (uint16_t)port);
		return;
	}
	lund_peer_cause(peer, "add isns-server", cause, sizeof(cause));
	lund_isns_request(d, host, (uint16_t)port, cause, true);
}

/* ---- dispatch */

void lund_config_handle(struct lund *d, const char *op, const char *object, const json_t *args,
			const struct lund_peer *peer, struct lund_reply *rep)
{
	bool change = strcmp(op, "list") != 0;

	if (strcmp(op, "add") && strcmp(op, "remove") && strcmp(op, "list") &&
	    strcmp(op, "modify")) {
		FAIL(rep, LUND_EBADREQ, "unknown operation '%s'", op);
		return;
	}
	if (change && !peer->may_change) {
		FAIL(rep, LUND_EPERM, "permission denied: only root or the control group may %s %s",
		     op, object);
		return;
	}
	bool verbose = false;

	if (!change && args &&
	    (!strcmp(object, "discovery-address") || !strcmp(object, "isns-server")) &&
	    json_is_true(json_object_get(args, "verbose")) && json_object_size(args) == 1)
		verbose = true;
	else if (!change && args && json_object_size(args)) {
		FAIL(rep, LUND_EBADREQ, "list %s takes no arguments", object);
		return;
	}
	bool addrm = !strcmp(op, "add") || !strcmp(op, "remove");

	if (!strcmp(object, "discovery-address") && (addrm || !change)) {
		handle_portals(d, op, false, verbose ? NULL : args, rep);
		if (rep->code == LUND_OK)
			after_discovery_address(d, op, args, peer, verbose, rep);
	} else if (!strcmp(object, "trace") && !change) {
		rep->result = lund_history_json();
	}
	else if (!strcmp(object, "isns-server") && (addrm || !change)) {
		handle_portals(d, op, true, verbose ? NULL : args, rep);
		if (rep->code == LUND_OK)
			after_isns_server(d, op, args, peer, verbose, rep);
	}
	else if (!strcmp(object, "static-config") && (addrm || !change))
		handle_static(d, op, args, rep);
	else if (!strcmp(object, "discovery") && (!strcmp(op, "modify") || !change))
		handle_discovery(d, op, args, peer, rep);
	else if (!strcmp(object, "initiator-node") && !strcmp(op, "modify"))
		modify_node(d, args, rep);
	else if (!strcmp(object, "initiator-node") && !change)
		list_node(d, rep);
	else if (!strcmp(object, "target-param") && strcmp(op, "add"))
		lund_target_param(d, op, args, rep);
	else
		FAIL(rep, LUND_EBADREQ, "'%s %s' is not a known command", op, object);
}
