/*
 * target.c - floor 6: `lunaris list target [-v] [-S] [TARGET...]`, and bus
 * configuration by hand: `lunaris config-one [-t SECONDS] TARGET...` and
 * `lunaris config-all` (lunaris-admin(8)).
 *
 * The listing follows iscsiadm's layout: one "Target:" block per session
 * (or one for a known target without a session), `-v` adds the connection,
 * discovery method, negotiated parameters and the cause of the login, `-S`
 * the LUNs.  The plain text is printed from the same JSON `--json` shows.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "admin.h"
#include "names.h"
#include "util.h"

static const char usage_target[] =
	"usage: lunaris list target [-v] [-S] [--json] [TARGET...]\n"
	"  -v, --verbose   connection, discovery method, negotiated parameters, cause\n"
	"  -S, --scsi      the LUNs: vendor, product, size, identifier, device name\n";

static const char usage_config[] =
	"usage: lunaris config-one [-t SECONDS] TARGET...\n"
	"       lunaris config-all\n"
	"  config-one logs in to TARGET if a discovery method knows it (asking\n"
	"  discovery, within the storm guards, if none does) and waits up to\n"
	"  SECONDS (default 5) for its LUNs; config-all logs in to every known\n"
	"  target.\n";

static const char *str(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s && *s ? s : "-";
}

static long long num(const json_t *o, const char *k)
{
	return (long long)json_integer_value(json_object_get(o, k));
}

static const char *yesno(const json_t *o, const char *k)
{
	return json_is_true(json_object_get(o, k)) ? "yes" : "no";
}

static void print_params(const json_t *p)
{
	if (!json_is_object(p))
		return;
	printf("\t\t  Login Parameters (Negotiated):\n");
	printf("\t\t\tData Sequence In Order: %s\n", yesno(p, "data_sequence_in_order"));
	printf("\t\t\tData PDU In Order: %s\n", yesno(p, "data_pdu_in_order"));
	printf("\t\t\tDefault Time To Retain: %lld\n", num(p, "default_time2retain"));
	printf("\t\t\tDefault Time To Wait: %lld\n", num(p, "default_time2wait"));
	printf("\t\t\tError Recovery Level: %lld\n", num(p, "error_recovery_level"));
	printf("\t\t\tFirst Burst Length: %lld\n", num(p, "first_burst_length"));
	printf("\t\t\tImmediate Data: %s\n", yesno(p, "immediate_data"));
	printf("\t\t\tInitial Ready To Transfer (R2T): %s\n", yesno(p, "initial_r2t"));
	printf("\t\t\tMax Burst Length: %lld\n", num(p, "max_burst_length"));
	printf("\t\t\tMax Outstanding R2T: %lld\n", num(p, "max_outstanding_r2t"));
	printf("\t\t\tMax Receive Data Segment Length: %lld\n",
	       num(p, "max_recv_data_segment_length"));
	printf("\t\t\tMax Transmit Data Segment Length: %lld\n",
	       num(p, "max_xmit_data_segment_length"));
	printf("\t\t\tMax Connections: %lld\n", num(p, "max_connections"));
	printf("\t\t\tHeader Digest: %s\n", str(p, "header_digest"));
	printf("\t\t\tData Digest: %s\n", str(p, "data_digest"));
}

static void print_size(long long bytes)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double v = (double)bytes;
	int u = 0;

	while (v >= 1024 && u < 5) {
		v /= 1024;
		u++;
	}
	printf("%.1f %s (%lld bytes)", v, unit[u], bytes);
}

static void print_luns(const json_t *luns)
{
	const json_t *l;
	size_t i;

	json_array_foreach(luns, i, l) {
		printf("\tLUN: %lld\n", num(l, "lun"));
		printf("\t     Type: %s\n", str(l, "type"));
		printf("\t     Vendor:  %s\n", str(l, "vendor"));
		printf("\t     Product: %s\n", str(l, "product"));
		printf("\t     Revision: %s\n", str(l, "revision"));
		if (num(l, "blocks")) {
			printf("\t     Size: ");
			print_size(num(l, "size"));
			printf(", %lld blocks of %lld bytes\n", num(l, "blocks"),
			       num(l, "block_size"));
		}
		printf("\t     Identifier: %s\n", str(l, "identifier"));
		printf("\t     Device Name: %s\n", str(l, "name"));
	}
}

static void print_session(const json_t *t, const json_t *s, const struct admin_cmd *c,
			  bool scsi)
{
	printf("Target: %s\n", str(t, "target"));
	printf("\tAlias: %s\n", str(s, "alias"));
	printf("\tTPGT: %lld\n", num(s, "tpgt"));
	printf("\tISID: %s\n", str(s, "isid"));
	printf("\tConnections: %lld\n", num(s, "connections"));
	if (c->verbose) {
		printf("\t\tCID: 0\n");
		printf("\t\t  IP address (Local): %s\n", str(s, "local_address"));
		printf("\t\t  IP address (Peer): ");
		admin_print_portal(s);
		printf("\n\t\t  Discovery Method: %s\n", str(s, "discovery"));
		print_params(json_object_get(s, "params"));
		printf("\tSession State: %s (connection %s)\n", str(s, "state"),
		       str(s, "connection"));
		printf("\tLogins: %lld\n", num(s, "logins"));
		printf("\tLogin Cause: %s\n", str(s, "cause"));
		if (json_is_string(json_object_get(s, "last_error")))
			printf("\tLast Error: %s\n", str(s, "last_error"));
	} else if (json_is_string(json_object_get(s, "last_error")) &&
		   strcmp(str(s, "state"), "up")) {
		printf("\tLast Error: %s\n", str(s, "last_error"));
	}
	if (scsi)
		print_luns(json_object_get(s, "luns"));
}

static bool want_scsi; /* -S of the command being printed */

static void print_target(const json_t *result, const struct admin_cmd *c)
{
	const json_t *t, *s, *p;
	size_t i, j;

	json_array_foreach(result, i, t) {
		const json_t *sessions = json_object_get(t, "sessions");

		if (json_array_size(sessions)) {
			json_array_foreach(sessions, j, s)
				print_session(t, s, c, want_scsi);
			continue;
		}
		/* known to discovery, no session (yet) */
		printf("Target: %s\n", str(t, "target"));
		p = json_array_get(json_object_get(t, "portals"), 0);
		printf("\tAlias: -\n\tTPGT: %lld\n\tISID: -\n\tConnections: 0\n", num(p, "tpgt"));
		if (c->verbose)
			json_array_foreach(json_object_get(t, "portals"), j, p) {
				printf("\t\tPortal: ");
				admin_print_portal(p);
				printf(", %lld (%s)\n", num(p, "tpgt"), str(p, "source"));
			}
	}
}

int admin_target(const char *op, int argc, char **argv, struct admin_cmd *c, char *err,
		 size_t errlen)
{
	static const struct option longs[] = {
		{ "verbose", no_argument, NULL, 'v' },
		{ "scsi", no_argument, NULL, 'S' },
		ADMIN_COMMON_LONG_OPTS,
		{ NULL, 0, NULL, 0 },
	};
	int opt, r;
	bool scsi = false;

	c->usage = usage_target;
	while ((opt = getopt_long(argc, argv, ":vShR:", longs, NULL)) != -1) {
		if ((r = admin_common_opt(opt, op, c, err, errlen)) != 0) {
			if (r < 0)
				return ADMIN_EXIT_USAGE;
		} else if (opt == 'h') {
			c->help = true;
		} else if (opt == 'v') {
			c->verbose = true;
		} else if (opt == 'S') {
			scsi = true;
		} else {
			return admin_bad_opt(opt, op, argv, "target", err, errlen);
		}
	}
	if (c->help)
		return 0;
	for (int i = optind; i < argc; i++) {
		json_t *f;

		if (!lun_iscsi_name_valid(argv[i], err, errlen))
			return ADMIN_EXIT_USAGE;
		/* operands filter the one listing, as for the other objects */
		if (!c->filter)
			c->filter = json_array();
		f = json_pack("{s:{s:s},s:s}", "match", "target", argv[i], "operand", argv[i]);
		json_array_append_new(c->filter, f);
	}
	admin_add_req(c, op, "target",
		      json_pack("{s:b,s:b}", "verbose", c->verbose, "luns", scsi));
	want_scsi = scsi;
	c->print = print_target;
	return 0;
}

static void print_config(const json_t *result, const struct admin_cmd *c)
{
	if (!json_is_object(result))
		return;
	printf("%s: configured, %lld session(s), %lld LUN(s)\n", str(result, "target"),
	       num(result, "sessions"), num(result, "luns"));
}

int admin_config(const char *op, int argc, char **argv, struct admin_cmd *c, char *err,
		 size_t errlen)
{
	static const struct option longs[] = {
		{ "timeout", required_argument, NULL, 't' },
		ADMIN_COMMON_LONG_OPTS,
		{ NULL, 0, NULL, 0 },
	};
	bool one = !strcmp(op, "config-one");
	long timeout = 5;
	int opt, r;

	c->usage = usage_config;
	while ((opt = getopt_long(argc, argv, ":t:hR:", longs, NULL)) != -1) {
		if (opt == ADMIN_OPT_JSON) {
			c->json = true; /* the answer of config-one is a result too */
		} else if ((r = admin_common_opt(opt, op, c, err, errlen)) != 0) {
			if (r < 0)
				return ADMIN_EXIT_USAGE;
		} else if (opt == 'h') {
			c->help = true;
		} else if (opt == 't' && one) {
			if (admin_number(optarg, 0, 3600, "--timeout", &timeout, err, errlen) < 0)
				return ADMIN_EXIT_USAGE;
		} else {
			return admin_bad_opt(opt, op, argv, "target", err, errlen);
		}
	}
	if (c->help)
		return 0;
	if (one && optind == argc) {
		lun_seterr(err, errlen, "config-one needs at least one TARGET");
		return ADMIN_EXIT_USAGE;
	}
	if (!one && optind != argc) {
		lun_seterr(err, errlen, "config-all takes no operands");
		return ADMIN_EXIT_USAGE;
	}
	if (!one) {
		admin_add_req(c, "config_all", "target", NULL);
		return 0;
	}
	for (int i = optind; i < argc; i++) {
		if (!lun_iscsi_name_valid(argv[i], err, errlen))
			return ADMIN_EXIT_USAGE;
		admin_add_req(c, "config_one", "target",
			      json_pack("{s:s,s:i}", "target", argv[i], "timeout", (int)timeout));
	}
	/* the daemon answers within the timeout; allow for the round trip */
	c->reply_timeout_ms = (int)(timeout + 10) * 1000;
	c->print = print_config;
	return 0;
}

/* ---- list negative-cache: names discovery did not find, and for how long
 * asking for them is answered without discovery */

static const char usage_negative_cache[] = "usage: lunaris list negative-cache [--json]\n";

static void print_negative_cache(const json_t *result, const struct admin_cmd *c)
{
	const json_t *e;
	size_t i;

	json_array_foreach(result, i, e) {
		printf("Target: %s\n", str(e, "target"));
		printf("\tNot found by discovery: %lld s ago\n",
		       (long long)time(NULL) - num(e, "since"));
		printf("\tNext discovery for it: in %lld s at the earliest (backoff %lld s)\n",
		       num(e, "remaining"), num(e, "backoff"));
		printf("\tRequests answered without discovery: %lld\n", num(e, "hits"));
	}
}

/* A listing without options or operands: request, usage and printer. */
static int listing_only(const char *op, int argc, char **argv, struct admin_cmd *c,
			const char *object, const char *usage, admin_print_fn print, char *err,
			size_t errlen)
{
	static const struct option longs[] = {
		ADMIN_COMMON_LONG_OPTS,
		{ NULL, 0, NULL, 0 },
	};
	int opt, r;

	c->usage = usage;
	while ((opt = getopt_long(argc, argv, ":hR:", longs, NULL)) != -1) {
		if ((r = admin_common_opt(opt, op, c, err, errlen)) != 0) {
			if (r < 0)
				return ADMIN_EXIT_USAGE;
		} else if (opt == 'h') {
			c->help = true;
		} else {
			return admin_bad_opt(opt, op, argv, object, err, errlen);
		}
	}
	if (c->help)
		return 0;
	if (optind != argc) {
		lun_seterr(err, errlen, "list %s takes no operands", object);
		return ADMIN_EXIT_USAGE;
	}
	admin_add_req(c, op, object, NULL);
	c->print = print;
	return 0;
}

int admin_negative_cache(const char *op, int argc, char **argv, struct admin_cmd *c, char *err,
			 size_t errlen)
{
	return listing_only(op, argc, argv, c, "negative-cache", usage_negative_cache,
			    print_negative_cache, err, errlen);
}

/* ---- list portal-stats: logins per portal, the counters behind the
 * per-portal login limit */

static const char usage_portal_stats[] = "usage: lunaris list portal-stats [--json]\n";

static void print_portal_stats(const json_t *result, const struct admin_cmd *c)
{
	const json_t *e;
	size_t i;

	json_array_foreach(result, i, e) {
		printf("Portal: ");
		admin_print_portal(e);
		printf("\n\tLogins: %lld\n\tLogin Failures: %lld\n\tLogins In Progress: %lld\n",
		       num(e, "logins"), num(e, "failures"), num(e, "inflight"));
		if (num(e, "last_login"))
			printf("\tLast Login: %lld s ago\n",
			       (long long)time(NULL) - num(e, "last_login"));
	}
}

int admin_portal_stats(const char *op, int argc, char **argv, struct admin_cmd *c, char *err,
		       size_t errlen)
{
	return listing_only(op, argc, argv, c, "portal-stats", usage_portal_stats,
			    print_portal_stats, err, errlen);
}
