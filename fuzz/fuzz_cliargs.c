/*
 * fuzz_cliargs.c - the admin grammar (admin_build_request) over arbitrary
 * argument vectors: the input split at NUL bytes is argv, argv[0] being the
 * subcommand.
 *
 * Beyond "no crash": a parse either fails with a message or yields requests
 * that the daemon's rules accept in shape: op and object strings, an args
 * object, ports in 1..65535, TPGTs in 0..65535, iSCSI names that pass the
 * validator again, tunables in their ranges (on|off for storm-protection),
 * and nothing that could hold a CHAP secret (secrets never come from argv).
 * target-param: modify names exactly one target, lower case, with a change;
 * remove only the target; list filters on lower-case names; never a
 * daemon-wide tunable; a secret to read goes to target-chap-secret, never to
 * the initiator's chap-secret.  config-one names valid targets and a
 * timeout in range; list target, negative-cache and portal-stats are
 * listings only.
 * Logical units (list/show/modify lu, cleanup): every device name sent or
 * filtered on is one mpx/lu_id.c could have made (lun_luid_name_valid, the
 * daemon's rule), policies are the four known ones, a region size goes
 * only with logical-block, cleanup's age is a whole number of seconds
 * within ten years and its exit status hook is set.
 * Needs cli/admin.c cli/discovery.c cli/node.c cli/target.c cli/lu.c and
 * mpx/lu_id.c, not main.c nor any I/O.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "lu_id.h"
#include "names.h"

#define FZ_MAX_ARGS 64

static void fz_check(int cond)
{
	if (!cond)
		abort();
}

static void fz_check_range(const json_t *args, const char *key, json_int_t lo, json_int_t hi)
{
	const json_t *v = json_object_get(args, key);

	if (v)
		fz_check(json_is_integer(v) && json_integer_value(v) >= lo &&
			 json_integer_value(v) <= hi);
}

/* A target-param name: valid, and folded as the daemon keys it. */
static void fz_check_tp_name(const json_t *v)
{
	const char *name = json_string_value(v);

	fz_check(name && lun_iscsi_name_valid(name, NULL, 0));
	for (const char *p = name; *p; p++)
		fz_check((unsigned char)*p < 0x80 && !isupper((unsigned char)*p));
}

static void fz_check_tunables(const json_t *t, bool target)
{
	const char *key;
	const json_t *v;

	json_object_foreach((json_t *)t, key, v) {
		bool daemon_wide = !strcmp(key, "storm-protection") ||
				   !strcmp(key, "discovery-min-interval") ||
				   !strcmp(key, "open-timeout") || !strcmp(key, "no-path-timeout");

		fz_check(!target || !daemon_wide);
		if (!strcmp(key, "storm-protection"))
			fz_check(json_is_string(v) && (!strcmp(json_string_value(v), "on") ||
						       !strcmp(json_string_value(v), "off")));
		else
			fz_check(json_is_integer(v) && json_integer_value(v) >= 0 &&
				 json_integer_value(v) <= 86400);
	}
}

static void fz_check_target_param(const struct admin_cmd *c, const char *op, const json_t *args)
{
	const json_t *f;
	size_t i;

	if (!strcmp(op, "list")) {
		fz_check(json_object_size(args) == 0 && c->print != NULL);
		json_array_foreach(c->filter, i, f)
			fz_check_tp_name(json_object_get(json_object_get(f, "match"), "target"));
		return;
	}
	fz_check_tp_name(json_object_get(args, "target"));
	if (!strcmp(op, "remove")) {
		fz_check(json_object_size(args) == 1);
		return;
	}
	fz_check(!strcmp(op, "modify"));
	fz_check(json_object_size(args) >= 2 || c->secret_src != ADMIN_SECRET_NONE);
	fz_check(c->secret_key && !strcmp(c->secret_key, "target-chap-secret"));
	fz_check(!json_object_get(args, "chap-name") && !json_object_get(args, "node-name"));
	if (json_object_get(args, "bidir-auth"))
		fz_check(json_is_boolean(json_object_get(args, "bidir-auth")));
}

static void fz_check_lu_name(const json_t *v)
{
	fz_check(json_is_string(v) && lun_luid_name_valid(json_string_value(v)));
}

/* list lu (also what show lu sends), modify lu, cleanup. */
static void fz_check_lu(const struct admin_cmd *c, const char *op, const json_t *args)
{
	static const char *const policies[] = { "none", "round-robin", "logical-block",
						"least-queue" };
	const char *policy;
	const json_t *v;
	bool known = false;
	size_t i;

	fz_check(c->secret_src == ADMIN_SECRET_NONE);
	if (!strcmp(op, "cleanup")) {
		fz_check(c->print != NULL && c->status != NULL);
		fz_check(json_is_boolean(json_object_get(args, "dry_run")));
		fz_check(json_is_array(json_object_get(args, "names")));
		json_array_foreach(json_object_get(args, "names"), i, v)
			fz_check_lu_name(v);
		fz_check_range(args, "older_than", 0, 3650L * 86400);
		fz_check(json_object_size(args) == 2 + !!json_object_get(args, "older_than"));
		fz_check(c->filter == NULL);
		return;
	}
	fz_check(c->status == NULL);
	if (!strcmp(op, "list")) {
		fz_check(c->print != NULL && json_object_size(args) == 1);
		fz_check(json_is_boolean(json_object_get(args, "verbose")));
		json_array_foreach(c->filter, i, v)
			fz_check_lu_name(json_object_get(json_object_get(v, "match"), "name"));
		return;
	}
	fz_check(!strcmp(op, "modify") && c->print == NULL && c->filter == NULL);
	fz_check_lu_name(json_object_get(args, "name"));
	/* at least one of policy, failback, preferred_path */
	policy = json_string_value(json_object_get(args, "policy"));
	fz_check(policy || json_object_get(args, "failback") ||
		 json_object_get(args, "preferred_path"));
	if (json_object_get(args, "policy")) {
		fz_check(policy != NULL);
		for (i = 0; i < sizeof(policies) / sizeof(policies[0]); i++)
			known = known || !strcmp(policy, policies[i]);
		fz_check(known);
	}
	if (json_object_get(args, "region_size"))
		fz_check(policy && !strcmp(policy, "logical-block"));
	fz_check_range(args, "region_size", 1, 4294967295LL);
	if (json_object_get(args, "failback"))
		fz_check(json_is_boolean(json_object_get(args, "failback")));
	v = json_object_get(args, "preferred_path");
	if (v) {
		/* none, or TARGET,HOST:PORT: a comma before a colon */
		const char *pp = json_string_value(v);

		fz_check(pp != NULL);
		fz_check(!strcmp(pp, "none") ||
			 (strchr(pp, ',') && strrchr(pp, ':') > strchr(pp, ',')));
	}
	fz_check(json_object_size(args) == 1 + !!policy + !!json_object_get(args, "region_size") +
						 !!json_object_get(args, "failback") + !!v);
}

static void fz_check_req(const struct admin_cmd *c, const json_t *req)
{
	const json_t *args = json_object_get(req, "args");
	const char *name, *op = json_string_value(json_object_get(req, "op"));
	const char *object = json_string_value(json_object_get(req, "object"));

	fz_check(object != NULL);
	fz_check(json_is_object(args));
	/* bus configuration: config-one names valid targets and a timeout */
	if (op && (!strcmp(op, "config_one") || !strcmp(op, "config_all"))) {
		fz_check(!strcmp(object, "target"));
		fz_check(!strcmp(op, "config_all") ? json_object_size(args) == 0
						    : json_object_size(args) == 2);
		fz_check_range(args, "timeout", 0, 3600);
		if (!strcmp(op, "config_one"))
			fz_check(lun_iscsi_name_valid(
				json_string_value(json_object_get(args, "target")), NULL, 0));
		return;
	}
	fz_check(admin_is_subcommand(op));
	/* show is the CLI's word: the daemon is asked to list */
	fz_check(strcmp(op, "show") != 0);
	/* cleanup is about logical units only, and they take only these ops */
	if (!strcmp(op, "cleanup"))
		fz_check(!strcmp(object, "lu"));
	if (!strcmp(object, "lu")) {
		fz_check(!strcmp(op, "cleanup") || !strcmp(op, "list") || !strcmp(op, "modify"));
		fz_check_lu(c, op, args);
		return;
	}
	fz_check(c->status == NULL);
	if (!strcmp(object, "target") || !strcmp(object, "negative-cache") ||
	    !strcmp(object, "portal-stats")) {
		/* listings only; operands filter, they are not sent */
		fz_check(!strcmp(op, "list") && c->print != NULL);
		fz_check(!json_object_get(args, "target"));
	}
	fz_check(!json_object_get(args, "chap-secret"));
	fz_check(!json_object_get(args, "target-chap-secret"));
	if (json_object_get(args, "tunables"))
		fz_check_tunables(json_object_get(args, "tunables"),
				  !strcmp(object, "target-param"));
	if (!strcmp(object, "target-param"))
		fz_check_target_param(c, op, args);
	else
		fz_check(c->secret_key == NULL);
	fz_check_range(args, "port", 1, 65535);
	fz_check_range(args, "tpgt", 0, 65535);
	fz_check_range(args, "configured-sessions", 1, 4);
	if ((name = json_string_value(json_object_get(args, "target"))) != NULL)
		fz_check(lun_iscsi_name_valid(name, NULL, 0));
	if ((name = json_string_value(json_object_get(args, "node-name"))) != NULL)
		fz_check(lun_iscsi_name_valid(name, NULL, 0));
	if (json_object_get(args, "address"))
		fz_check(json_string_length(json_object_get(args, "address")) > 0);
}

/* The other direction of the name rule: every word the daemon would take
 * as a device name is a name `list lu` accepts. */
static void fz_check_lu_names_accepted(int argc, char **argv)
{
	for (int i = 0; i < argc; i++) {
		char list[] = "list", lu[] = "lu", *v[] = { list, lu, argv[i], NULL };
		struct admin_cmd c;
		char err[512];

		if (!lun_luid_name_valid(argv[i]))
			continue;
		fz_check(admin_build_request(3, v, &c, err, sizeof(err)) == 0);
		fz_check(json_array_size(c.filter) == 1);
		admin_cmd_free(&c);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1), *argv[FZ_MAX_ARGS + 1];
	struct admin_cmd c;
	char err[512];
	int argc = 0;
	size_t i, start = 0;
	json_t *req;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	for (i = 0; i <= size && argc < FZ_MAX_ARGS; i++) {
		if (buf[i] == '\0') {
			argv[argc++] = buf + start;
			start = i + 1;
		}
	}
	argv[argc] = NULL;
	fz_check_lu_names_accepted(argc, argv);
	err[0] = '\0';
	if (admin_build_request(argc, argv, &c, err, sizeof(err)) == 0) {
		fz_check(c.usage != NULL);
		if (!c.help) {
			fz_check(json_array_size(c.reqs) >= 1);
			json_array_foreach(c.reqs, i, req)
				fz_check_req(&c, req);
			fz_check(c.secret_src == ADMIN_SECRET_NONE ||
				 json_array_size(c.reqs) == 1);
		}
		admin_cmd_free(&c);
	} else {
		fz_check(strlen(err) > 0);
		fz_check(c.reqs == NULL && c.filter == NULL);
	}
	free(buf);
	return 0;
}
