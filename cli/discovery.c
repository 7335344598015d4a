/*
 * discovery.c - floor 6: the discovery objects of the admin grammar:
 * discovery-address, isns-server, static-config and discovery (the
 * enable/disable switches), with their iscsiadm-style output.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admin.h"
#include "names.h"
#include "util.h"

#define DISCOVERY_PORT 3260
#define ISNS_PORT 3205

/* discovery-address and isns-server differ only in names and port. */
struct portal_object {
	const char *name;
	const char *what; /* for messages */
	const char *label; /* list output */
	unsigned defport;
	const char *usage;
};

static const char usage_discovery_address[] =
	"usage: lunaris add|remove discovery-address ADDR[:PORT]...\n"
	"       lunaris list discovery-address [-v] [--json] [ADDR[:PORT]...]\n"
	"  SendTargets discovery addresses (port 3260 by default; IPv6 as [addr]:port).\n"
	"  -v, --verbose     also show the targets each address reported\n"
	"  -R, --run-dir DIR daemon run directory\n";

static const char usage_isns_server[] =
	"usage: lunaris add|remove isns-server ADDR[:PORT]...\n"
	"       lunaris list isns-server [-v] [--json] [ADDR[:PORT]...]\n"
	"  iSNS servers (port 3205 by default; IPv6 as [addr]:port).\n"
	"  -v, --verbose     also show the targets each server reported\n"
	"  -R, --run-dir DIR daemon run directory\n";

static const char usage_static_config[] =
	"usage: lunaris add|remove static-config TARGET,ADDR[:PORT][,TPGT]...\n"
	"       lunaris list static-config [--json] [TARGET,ADDR[:PORT][,TPGT]...]\n"
	"  Targets configured by hand (port 3260 by default; TPGT 0..65535).\n"
	"  -R, --run-dir DIR daemon run directory\n";

static const char usage_discovery[] =
	"usage: lunaris modify discovery [-s|--static enable|disable]\n"
	"                                [-t|--sendtargets enable|disable]\n"
	"                                [-i|--iSNS enable|disable]\n"
	"       lunaris list discovery [--json]\n"
	"  -R, --run-dir DIR daemon run directory\n";

static const struct portal_object po_discovery_address = {
	"discovery-address", "discovery address", "Discovery Address", DISCOVERY_PORT,
	usage_discovery_address,
};

static const struct portal_object po_isns_server = {
	"isns-server", "iSNS server", "iSNS Server IP", ISNS_PORT, usage_isns_server,
};

/* For `list` with operands: remember what to show. */
static void add_filter(struct admin_cmd *c, json_t *match, const char *operand)
{
	json_t *f = json_object();

	if (!c->filter)
		c->filter = json_array();
	json_object_set_new(f, "match", match);
	json_object_set_new(f, "operand", json_string(operand));
	json_array_append_new(c->filter, f);
}

/* The targets a discovery address or iSNS server reported (-v). */
static void print_targets(const json_t *entry)
{
	const json_t *targets = json_object_get(entry, "targets");
	const json_t *t;
	size_t i;

	/* targets from the store: the source has not answered this lunarisd
	 * yet, and may be gone; say so, and since when they are known */
	if (json_is_true(json_object_get(entry, "remembered"))) {
		time_t at = (time_t)json_integer_value(json_object_get(entry, "remembered_at"));
		char when[64] = "an earlier run";
		struct tm tm;

		if (at > 0 && localtime_r(&at, &tm))
			strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
		printf("\tRemembered: yes (answer saved %s; no answer since lunarisd started)\n",
		       when);
	}
	json_array_foreach(targets, i, t) {
		const json_t *tpgt = json_object_get(t, "tpgt");

		printf("\tTarget name: %s\n\t\tTarget address: ",
		       json_string_value(json_object_get(t, "target")) ?: "-");
		admin_print_portal(t);
		if (json_is_integer(tpgt))
			printf(", %lld", (long long)json_integer_value(tpgt));
		putchar('\n');
	}
}

static void print_portal_list(const json_t *result, const struct admin_cmd *c, const char *label)
{
	const json_t *e;
	size_t i;

	json_array_foreach(result, i, e) {
		printf("%s: ", label);
		admin_print_portal(e);
		putchar('\n');
		if (c->verbose)
			print_targets(e);
	}
}

static void print_discovery_address(const json_t *result, const struct admin_cmd *c)
{
	print_portal_list(result, c, po_discovery_address.label);
}

/* An iSNS server's -v listing also says what went wrong with it last:
 * unlike a discovery address, a server that refuses us leaves no other
 * trace in the listing. */
static void print_isns_server(const json_t *result, const struct admin_cmd *c)
{
	const json_t *e;
	size_t i;

	json_array_foreach(result, i, e) {
		const char *le = json_string_value(json_object_get(e, "last_error"));

		printf("%s: ", po_isns_server.label);
		admin_print_portal(e);
		putchar('\n');
		if (!c->verbose)
			continue;
		if (le)
			printf("\tLast error: %s\n", le);
		print_targets(e);
	}
}

static int portal_object(const struct portal_object *po, const char *op, int argc, char **argv,
			 struct admin_cmd *c, char *err, size_t errlen)
{
	static const struct option longs[] = {
		{ "verbose", no_argument, NULL, 'v' },
		ADMIN_COMMON_LONG_OPTS,
		{ NULL, 0, NULL, 0 },
	};
	bool list = !strcmp(op, "list");
	int opt, r, i;

	c->usage = po->usage;
	while ((opt = getopt_long(argc, argv, ":vhR:", longs, NULL)) != -1) {
		if ((r = admin_common_opt(opt, op, c, err, errlen)) != 0) {
			if (r < 0)
				return ADMIN_EXIT_USAGE;
		} else if (opt == 'h') {
			c->help = true;
		} else if (opt == 'v' && list) {
			c->verbose = true;
		} else if (opt == 'v') {
			lun_seterr(err, errlen, "-v applies to list %s only", po->name);
			return ADMIN_EXIT_USAGE;
		} else {
			return admin_bad_opt(opt, op, argv, po->name, err, errlen);
		}
	}
	if (c->help)
		return 0;
	if (!list && optind >= argc) {
		lun_seterr(err, errlen, "%s %s needs at least one ADDR[:PORT]", op, po->name);
		return ADMIN_EXIT_USAGE;
	}
	for (i = optind; i < argc; i++) {
		json_t *p = admin_portal(argv[i], po->defport, po->what, err, errlen);

		if (!p)
			return ADMIN_EXIT_USAGE;
		if (list)
			add_filter(c, p, argv[i]);
		else
			admin_add_req(c, op, po->name, p);
	}
	if (list) {
		json_t *args = json_object();

		/* -v asks the daemon for the targets behind each address. */
		if (c->verbose)
			json_object_set_new(args, "verbose", json_true());
		admin_add_req(c, op, po->name, args);
		c->print = po == &po_isns_server ? print_isns_server : print_discovery_address;
	}
	return 0;
}

int admin_discovery_address(const char *op, int argc, char **argv, struct admin_cmd *c,
			    char *err, size_t errlen)
{
	return portal_object(&po_discovery_address, op, argc, argv, c, err, errlen);
}

int admin_isns_server(const char *op, int argc, char **argv, struct admin_cmd *c, char *err,
		      size_t errlen)
{
	return portal_object(&po_isns_server, op, argc, argv, c, err, errlen);
}

/* ------------------------------------------------------------------ */
/* static-config                                                       */

/* "TARGET,ADDR[:PORT][,TPGT]" into {"target", "address", "port"[, "tpgt"]}.
 * Neither a target name nor an address can hold a comma, so the commas
 * split the operand unambiguously. */
static json_t *static_operand(const char *operand, char *err, size_t errlen)
{
	const char *c1 = strchr(operand, ','), *c2;
	char name[LUN_ISCSI_NAME_MAX + 2], portal[300];
	json_t *o;
	long tpgt;

	if (!c1) {
		lun_seterr(err, errlen, "static-config '%s': expected TARGET,ADDR[:PORT][,TPGT]",
			   operand);
		return NULL;
	}
	c2 = strchr(c1 + 1, ',');
	if (c2 && strchr(c2 + 1, ',')) {
		lun_seterr(err, errlen, "static-config '%s': too many commas (expected "
					"TARGET,ADDR[:PORT][,TPGT])", operand);
		return NULL;
	}
	snprintf(name, sizeof(name), "%.*s", (int)(c1 - operand), operand);
	if ((size_t)(c1 - operand) > LUN_ISCSI_NAME_MAX) {
		lun_seterr(err, errlen, "static-config: the target name is %zu bytes long, more "
					"than %d", (size_t)(c1 - operand), LUN_ISCSI_NAME_MAX);
		return NULL;
	}
	if (!lun_iscsi_name_valid(name, err, errlen))
		return NULL;
	snprintf(portal, sizeof(portal), "%.*s",
		 (int)(c2 ? (size_t)(c2 - c1 - 1) : strlen(c1 + 1)), c1 + 1);
	o = admin_portal(portal, DISCOVERY_PORT, "static-config target address", err, errlen);
	if (!o)
		return NULL;
	if (c2) {
		if (admin_number(c2 + 1, 0, 65535, "static-config TPGT", &tpgt, err, errlen) < 0) {
			json_decref(o);
			return NULL;
		}
		json_object_set_new(o, "tpgt", json_integer(tpgt));
	}
	json_object_set_new(o, "target", json_string(name));
	return o;
}

static void print_static_config(const json_t *result, const struct admin_cmd *c)
{
	const json_t *e, *tpgt;
	size_t i;

	json_array_foreach(result, i, e) {
		printf("Static Configuration Target: %s,",
		       json_string_value(json_object_get(e, "target")) ?: "-");
		admin_print_portal(e);
		tpgt = json_object_get(e, "tpgt");
		if (json_is_integer(tpgt))
			printf(",%lld", (long long)json_integer_value(tpgt));
		putchar('\n');
	}
}

int admin_static_config(const char *op, int argc, char **argv, struct admin_cmd *c, char *err,
			size_t errlen)
{
	static const struct option longs[] = { ADMIN_COMMON_LONG_OPTS, { NULL, 0, NULL, 0 } };
	bool list = !strcmp(op, "list");
	int opt, r, i;

	c->usage = usage_static_config;
	while ((opt = getopt_long(argc, argv, ":hR:", longs, NULL)) != -1) {
		if ((r = admin_common_opt(opt, op, c, err, errlen)) != 0) {
			if (r < 0)
				return ADMIN_EXIT_USAGE;
		} else if (opt == 'h') {
			c->help = true;
		} else {
			return admin_bad_opt(opt, op, argv, "static-config", err, errlen);
		}
	}
	if (c->help)
		return 0;
	if (!list && optind >= argc) {
		lun_seterr(err, errlen, "%s static-config needs at least one "
					"TARGET,ADDR[:PORT][,TPGT]", op);
		return ADMIN_EXIT_USAGE;
	}
	for (i = optind; i < argc; i++) {
		json_t *o = static_operand(argv[i], err, errlen);

		if (!o)
			return ADMIN_EXIT_USAGE;
		if (list) {
			add_filter(c, o, argv[i]);
		} else {
			/* The daemon identifies a static target by name and portal. */
			if (!strcmp(op, "remove"))
				json_object_del(o, "tpgt");
			admin_add_req(c, op, "static-config", o);
		}
	}
	if (list) {
		admin_add_req(c, op, "static-config", NULL);
		c->print = print_static_config;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* discovery (the method switches)                                     */

static void print_discovery(const json_t *result, const struct admin_cmd *c)
{
	static const struct {
		const char *key, *label;
	} methods[] = { { "static", "Static" },
			{ "sendtargets", "Send Targets" },
			{ "isns", "iSNS" } };

	puts("Discovery:");
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		printf("\t%s: %s\n", methods[i].label,
		       json_is_true(json_object_get(result, methods[i].key)) ? "enabled"
									 : "disabled");
}

static int discovery_switch(const char *key, const char *v, json_t *args, char *err,
			    size_t errlen)
{
	if (!strcmp(v, "enable")) {
		json_object_set_new(args, key, json_true());
	} else if (!strcmp(v, "disable")) {
		json_object_set_new(args, key, json_false());
	} else {
		lun_seterr(err, errlen, "--%s: expected enable or disable, got '%s'",
			   !strcmp(key, "isns") ? "iSNS" : key, v);
		return ADMIN_EXIT_USAGE;
	}
	return 0;
}

int admin_discovery(const char *op, int argc, char **argv, struct admin_cmd *c, char *err,
		    size_t errlen)
{
	static const struct option longs[] = {
		{ "static", required_argument, NULL, 's' },
		{ "sendtargets", required_argument, NULL, 't' },
		{ "iSNS", required_argument, NULL, 'i' },
		{ "isns", required_argument, NULL, 'i' },
		ADMIN_COMMON_LONG_OPTS,
		{ NULL, 0, NULL, 0 },
	};
	bool modify = !strcmp(op, "modify");
	json_t *args = json_object();
	int opt, r = 0;

	c->usage = usage_discovery;
	while (!r && (opt = getopt_long(argc, argv, modify ? ":s:t:i:hR:" : ":hR:", longs,
					NULL)) != -1) {
		if ((r = admin_common_opt(opt, op, c, err, errlen)) != 0)
			r = r < 0 ? ADMIN_EXIT_USAGE : 0;
		else if (opt == 'h')
			c->help = true;
		else if (modify && (opt == 's' || opt == 't' || opt == 'i'))
			r = discovery_switch(opt == 's'	  ? "static"
					     : opt == 't' ? "sendtargets"
							  : "isns",
					     optarg, args, err, errlen);
		else
			r = admin_bad_opt(opt, op, argv, "discovery", err, errlen);
	}
	if (!r && !c->help && optind < argc) {
		lun_seterr(err, errlen, "%s discovery takes no operands ('%s')", op, argv[optind]);
		r = ADMIN_EXIT_USAGE;
	}
	if (!r && !c->help && modify && json_object_size(args) == 0) {
		lun_seterr(err, errlen, "modify discovery needs --static, --sendtargets or --iSNS");
		r = ADMIN_EXIT_USAGE;
	}
	if (r || c->help) {
		json_decref(args);
		return r;
	}
	admin_add_req(c, op, "discovery", modify ? args : (json_decref(args), NULL));
	if (!modify)
		c->print = print_discovery;
	return 0;
}
