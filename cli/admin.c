/*
 * admin.c - floor 6: the grammar of the admin commands, after Solaris
 * iscsiadm: `lunaris <subcommand> <object> [options] [operands]`.
 *
 * Each object has its own option table, because the same letter means
 * different things per object (-h is --headerdigest for `modify
 * initiator-node`, as in iscsiadm, and help elsewhere).  This file only
 * finds the object and holds the helpers; discovery.c and node.c parse the
 * objects.  Nothing here does I/O: the result is a list of requests.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "url.h"
#include "util.h"

const char admin_usage_text[] =
	"usage: lunaris <add|remove|list|modify|show> <object> [options] [operands]\n"
	"\n"
	"Admin commands (talk to lunarisd through <run-dir>/control):\n"
	"  add|remove|list discovery-address [-v] ADDR[:PORT]...\n"
	"  add|remove|list static-config TARGET,ADDR[:PORT][,TPGT]...\n"
	"  add|remove|list isns-server [-v] ADDR[:PORT]...\n"
	"  modify discovery -s|-t|-i enable|disable      list discovery\n"
	"  list initiator-node                            modify initiator-node OPTIONS\n"
	"  list target-param [-v] [TARGET...]             modify target-param OPTIONS TARGET\n"
	"  remove target-param TARGET...\n"
	"  list target [-v] [-S] [TARGET...]              list negative-cache\n"
	"  list portal-stats\n"
	"  config-one [-t SECONDS] TARGET...              config-all\n"
	"  list lu [-v] [NAME...]                         show lu NAME...\n"
	"  modify lu --policy P [--region-size N] NAME...\n"
	"  cleanup [-n] [--older-than DURATION] [NAME...]  forget LUs that are gone\n"
	"\n"
	"  -R, --run-dir DIR   daemon run directory (default $LUNARIS_RUN_DIR, else /run/lunaris)\n"
	"  --json              print list results as JSON\n"
	"  --help              usage of one object: lunaris modify initiator-node --help\n"
	"\n"
	"Exit codes: 0 ok, 1 usage, 2 lunarisd not running or connection failure,\n"
	"3 permission denied, 4 conflict (already or not configured, in use, a NAME that\n"
	"cleanup kept), 5 internal error,\n"
	"6 config-one: target not found, login failed or not configured in time.\n";

typedef int (*admin_parse_fn)(const char *op, int argc, char **argv, struct admin_cmd *c,
			      char *err, size_t errlen);

static const struct admin_object {
	const char *name;
	const char *ops; /* the subcommands it takes, space separated */
	admin_parse_fn parse;
} admin_objects[] = {
	{ "discovery-address", "add remove list", admin_discovery_address },
	{ "static-config", "add remove list", admin_static_config },
	{ "isns-server", "add remove list", admin_isns_server },
	{ "discovery", "list modify", admin_discovery },
	{ "initiator-node", "list modify", admin_initiator_node },
	{ "target-param", "list modify remove", admin_target_param },
	{ "target", "list", admin_target },
	{ "negative-cache", "list", admin_negative_cache },
	{ "portal-stats", "list", admin_portal_stats },
	{ "lu", "list show modify", admin_lu },
};

#define ADMIN_N_OBJECTS (sizeof(admin_objects) / sizeof(admin_objects[0]))

bool admin_is_subcommand(const char *word)
{
	return word && (!strcmp(word, "add") || !strcmp(word, "remove") ||
			!strcmp(word, "list") || !strcmp(word, "modify") || !strcmp(word, "show") ||
			!strcmp(word, "config-one") || !strcmp(word, "config-all") ||
			!strcmp(word, "cleanup"));
}

/* Whole word `op` in the space separated list `ops`. */
static bool admin_op_allowed(const char *ops, const char *op)
{
	size_t n = strlen(op);

	for (const char *p = ops; (p = strstr(p, op)) != NULL; p += n) {
		if ((p == ops || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
			return true;
	}
	return false;
}

static bool admin_is_help(const char *s)
{
	return !strcmp(s, "--help") || !strcmp(s, "-h") || !strcmp(s, "-?");
}

void admin_cmd_free(struct admin_cmd *c)
{
	json_decref(c->reqs);
	json_decref(c->filter);
	memset(c, 0, sizeof(*c));
}

int admin_build_request(int argc, char **argv, struct admin_cmd *c, char *err, size_t errlen)
{
	const struct admin_object *obj = NULL;
	const char *op = argc > 0 ? argv[0] : NULL;
	int rc;

	memset(c, 0, sizeof(*c));
	c->usage = admin_usage_text;
	/* the subcommands without an object word */
	if (op && (!strcmp(op, "config-one") || !strcmp(op, "config-all") ||
		   !strcmp(op, "cleanup"))) {
		c->reqs = json_array();
		optind = 0;
		opterr = 0;
		rc = !strcmp(op, "cleanup") ? admin_cleanup(op, argc, argv, c, err, errlen)
					    : admin_config(op, argc, argv, c, err, errlen);
		if (rc)
			admin_cmd_free(c);
		return rc;
	}
	if (!admin_is_subcommand(op)) {
		lun_seterr(err, errlen, "expected add, remove, list, modify or show");
		return ADMIN_EXIT_USAGE;
	}
	if (argc < 2 || admin_is_help(argv[1])) {
		if (argc >= 2) {
			c->help = true;
			return 0;
		}
		lun_seterr(err, errlen, "'%s' needs an object: discovery-address, static-config, "
					"isns-server, discovery, initiator-node, target-param, "
					"target or lu",
			   op);
		return ADMIN_EXIT_USAGE;
	}
	for (size_t i = 0; i < ADMIN_N_OBJECTS; i++)
		if (!strcmp(argv[1], admin_objects[i].name))
			obj = &admin_objects[i];
	if (!obj) {
		lun_seterr(err, errlen, "unknown object '%s' (discovery-address, static-config, "
					"isns-server, discovery, initiator-node, target-param, "
					"target, negative-cache, portal-stats, lu)",
			   argv[1]);
		return ADMIN_EXIT_USAGE;
	}
	if (!admin_op_allowed(obj->ops, op)) {
		lun_seterr(err, errlen, "'%s %s' is not a command (%s takes: %s)", op, obj->name,
			   obj->name, obj->ops);
		return ADMIN_EXIT_USAGE;
	}
	c->reqs = json_array();
	/* optind 0 makes GNU getopt forget the previous argv completely (the
	 * fuzzer parses many); errors are reported by us, into err. */
	optind = 0;
	opterr = 0;
	rc = obj->parse(op, argc - 1, argv + 1, c, err, errlen);
	if (rc)
		admin_cmd_free(c);
	return rc;
}

void admin_add_req(struct admin_cmd *c, const char *op, const char *object, json_t *args)
{
	json_t *req = json_object();

	json_object_set_new(req, "op", json_string(op));
	json_object_set_new(req, "object", json_string(object));
	json_object_set_new(req, "args", args ? args : json_object());
	json_array_append_new(c->reqs, req);
}

json_t *admin_portal(const char *operand, unsigned defport, const char *what, char *err,
		     size_t errlen)
{
	char host[256], why[256];
	uint16_t port;
	json_t *o;
	size_t n;

	if (lun_portal_parse(operand, host, sizeof(host), &port, (uint16_t)defport, why,
			     sizeof(why)) < 0) {
		n = strlen(why);
		if (n && why[n - 1] == '.')
			why[n - 1] = '\0';
		lun_seterr(err, errlen, "%s '%s': %s", what, operand, why);
		return NULL;
	}
	o = json_object();
	/* A host name that is not UTF-8 cannot be put in JSON; lun_portal_parse
	 * already limits hosts to DNS characters and addresses, so this is only
	 * a guard. */
	if (json_object_set_new(o, "address", json_string(host)) < 0) {
		json_decref(o);
		lun_seterr(err, errlen, "%s '%s' is not valid text", what, operand);
		return NULL;
	}
	json_object_set_new(o, "port", json_integer(port));
	return o;
}

int admin_number(const char *s, long min, long max, const char *what, long *out, char *err,
		 size_t errlen)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || s[0] == '+' || s[0] == ' ' || v < min ||
	    v > max) {
		lun_seterr(err, errlen, "%s: '%s' is not a whole number from %ld to %ld", what, s,
			   min, max);
		return -1;
	}
	*out = v;
	return 0;
}

void admin_print_portal(const json_t *entry)
{
	const char *a = json_string_value(json_object_get(entry, "address"));
	json_int_t port = json_integer_value(json_object_get(entry, "port"));

	if (!a)
		a = "?";
	if (strchr(a, ':'))
		printf("[%s]:%lld", a, (long long)port);
	else
		printf("%s:%lld", a, (long long)port);
}

int admin_common_opt(int opt, const char *op, struct admin_cmd *c, char *err, size_t errlen)
{
	switch (opt) {
	case ADMIN_OPT_RUN_DIR:
		if (!optarg[0]) {
			lun_seterr(err, errlen, "--run-dir: the directory is empty");
			return -1;
		}
		c->run_dir = optarg;
		return 1;
	case ADMIN_OPT_JSON:
		if (strcmp(op, "list")) {
			lun_seterr(err, errlen, "--json applies to list only");
			return -1;
		}
		c->json = true;
		return 1;
	case ADMIN_OPT_HELP:
		c->help = true;
		return 1;
	default:
		return 0;
	}
}

int admin_bad_opt(int opt, const char *op, char **argv, const char *object, char *err,
		  size_t errlen)
{
	/* getopt has moved optind past the offending word, except inside a
	 * cluster such as "-vx"; optopt names a short option in both cases. */
	const char *word = optind > 0 ? argv[optind - 1] : "?";
	char name[64];

	if (!strncmp(word, "--", 2) || !optopt || optopt >= 0x100)
		snprintf(name, sizeof(name), "%.*s", (int)strcspn(word, "="), word);
	else
		snprintf(name, sizeof(name), "-%c", optopt);
	if (opt == ':')
		lun_seterr(err, errlen, "option '%s' needs a value", name);
	else
		lun_seterr(err, errlen, "'%s %s' does not take option '%s' (see lunaris %s %s "
					"--help)", op, object, name, op, object);
	return ADMIN_EXIT_USAGE;
}
