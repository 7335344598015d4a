/*
 * lu.c - floor 6: the logical units of lunarisd and its device cache
 * (lunaris-lu(8)):
 *
 *   lunaris list lu [-v] [--json] [NAME...]      like mpathadm list/show lu
 *   lunaris show lu [--json] NAME...             = list lu -v NAME...
 *   lunaris modify lu [--policy P [--region-size BLOCKS]]
 *                     [--failback enable|disable]
 *                     [--preferred-path TARGET,HOST:PORT|none] NAME...
 *   lunaris cleanup [-n] [--older-than DURATION] [--json] [NAME...]
 *                                                like devfsadm -C
 *
 * As everywhere in the admin grammar, parsing is pure (the fuzzer drives
 * it): names are checked here, before anything is sent, and the daemon's
 * answers are printed from the same JSON --json shows.  iscsiadm has no
 * `show`; mpathadm does, so `show lu` is accepted as its own subcommand.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admin.h"
#include "util.h"

static const char usage_lu[] =
	"usage: lunaris list lu [-v] [--json] [NAME...]\n"
	"       lunaris show lu [--json] NAME...\n"
	"       lunaris modify lu [--policy none|round-robin|logical-block|least-queue\n"
	"                         [--region-size BLOCKS]] [--failback enable|disable]\n"
	"                         [--preferred-path TARGET,HOST:PORT|none] NAME...\n"
	"  NAME is a device name, c0t<IDENTIFIER>d0 (upper-case hex).\n"
	"  -v, --verbose      each path: target, portal, state, ALUA state, counters\n"
	"                     (show lu is list lu -v)\n"
	"  --policy P         how I/O is spread over the paths: none (failover only),\n"
	"                     round-robin, logical-block (one region per path),\n"
	"                     least-queue (fewest outstanding commands)\n"
	"  --region-size N    logical-block: blocks per region (default 262144)\n"
	"  --failback enable|disable\n"
	"                     policy none: go back to the preferred path when it can\n"
	"                     serve again (default enable; not kept across restarts)\n"
	"  --preferred-path TARGET,HOST:PORT|none\n"
	"                     the path to prefer (as list lu -v shows it) instead of\n"
	"                     the target's ALUA preference (not kept across restarts)\n";

static const char usage_cleanup[] =
	"usage: lunaris cleanup [-n] [--older-than DURATION] [--json] [NAME...]\n"
	"  Remove from the device cache, and unpublish, the logical units that are\n"
	"  not online (all of them, or the NAMEs given); names in use are kept.\n"
	"  -n, --dry-run           print what would be removed, remove nothing\n"
	"  --older-than DURATION   only those not seen online for DURATION: a whole\n"
	"                          number and a unit, s, m, h or d (30s, 10m, 2h, 7d)\n"
	"  Exit 4 when a NAME given could not be removed.\n";

static const char *const lu_policies[] = { "none", "round-robin", "logical-block",
					   "least-queue" };

/* Longest --older-than: ten years, far beyond any cache's memory. */
#define LU_MAX_AGE (3650L * 86400)

/* ---- names */

static bool lu_is_hex_upper(char ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'A' && ch <= 'F');
}

/* c0t + an even number (2..510) of upper-case hex digits + d0, as
 * mpx/lu_id.c makes them (the CLI does not link mpx/, so the rule is
 * repeated here; fuzz_cliargs checks that both agree). */
static bool lu_name_ok(const char *s)
{
	size_t n = strlen(s), hex;

	if (n < 3 + 2 + 2 || strncmp(s, "c0t", 3) || strcmp(s + n - 2, "d0"))
		return false;
	hex = n - 5;
	if (hex % 2 || hex > 510)
		return false;
	for (size_t i = 3; i < n - 2; i++)
		if (!lu_is_hex_upper(s[i]))
			return false;
	return true;
}

static int lu_check_name(const char *s, char *err, size_t errlen)
{
	char up[600];
	size_t n = strlen(s);

	if (lu_name_ok(s))
		return 0;
	/* A name typed in lower case is the commonest slip: say so. */
	if (n > 5 && n < sizeof(up)) {
		for (size_t i = 0; i <= n; i++)
			up[i] = i >= 3 && i < n - 2 && s[i] >= 'a' && s[i] <= 'f'
					? (char)(s[i] - 'a' + 'A')
					: s[i];
		if (lu_name_ok(up)) {
			lun_seterr(err, errlen, "'%s' is not a device name: the identifier is "
						"upper case (%s)", s, up);
			return -1;
		}
	}
	lun_seterr(err, errlen, "'%s' is not a device name (c0t<IDENTIFIER>d0, an even number "
				"of upper-case hex digits)", s);
	return -1;
}

/* ---- printing */

static const char *str(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s && *s ? s : "-";
}

static long long num(const json_t *o, const char *k)
{
	return (long long)json_integer_value(json_object_get(o, k));
}

static void lu_print_size(long long bytes)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	double v = (double)bytes;
	int u = 0;

	while (v >= 1024 && u < 6) {
		v /= 1024;
		u++;
	}
	printf("%.1f %s (%lld bytes)", v, unit[u], bytes);
}

/* "3 min ago", for how long ago a unix time was. */
static void lu_age(char *buf, size_t cap, long long when, long long now)
{
	long long d = now - when;

	if (d < 0)
		snprintf(buf, cap, "in the future");
	else if (d < 120)
		snprintf(buf, cap, "%lld s ago", d);
	else if (d < 2 * 3600)
		snprintf(buf, cap, "%lld min ago", d / 60);
	else if (d < 2 * 86400)
		snprintf(buf, cap, "%lld h ago", d / 3600);
	else
		snprintf(buf, cap, "%lld days ago", d / 86400);
}

/* A unix time from the reply as local time and age, "2026-01-01 10:00:00
 * (3 min ago)", or with `comma` "..., 3 min ago" (inside parentheses);
 * "never" for null or 0. */
static void lu_time(char *buf, size_t cap, const json_t *v, bool comma)
{
	char when[64], age[32];
	time_t t;
	struct tm tm;

	if (!json_is_integer(v) || json_integer_value(v) <= 0) {
		snprintf(buf, cap, "never");
		return;
	}
	t = (time_t)json_integer_value(v);
	if (!localtime_r(&t, &tm) || !strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm))
		snprintf(when, sizeof(when), "%lld", (long long)t);
	lu_age(age, sizeof(age), (long long)t, (long long)time(NULL));
	snprintf(buf, cap, comma ? "%s, %s" : "%s (%s)", when, age);
}

static bool lu_path_operational(const json_t *p)
{
	const char *s = json_string_value(json_object_get(p, "state"));

	/* standby paths can serve (policy class 2); offline and failed not */
	return s && (!strcmp(s, "online") || !strcmp(s, "standby"));
}

static void lu_print_path(const json_t *p)
{
	printf("\tPath: %s @ ", str(p, "target"));
	admin_print_portal(p);
	printf(", TPGT %lld, LUN %lld\n", num(p, "tpgt"), num(p, "lun"));
	printf("\t\tState: %s\n", str(p, "state"));
	if (json_is_integer(json_object_get(p, "tpg")))
		printf("\t\tALUA State: %s (target port group %lld)\n", str(p, "alua"),
		       num(p, "tpg"));
	else
		printf("\t\tALUA State: %s\n", str(p, "alua"));
	if (json_is_true(json_object_get(p, "preferred")))
		printf("\t\tPreferred: yes\n");
	printf("\t\tCommands: %lld, Bytes: %lld read/%lld written, Errors: %lld, "
	       "Outstanding: %lld\n",
	       num(p, "commands"), num(p, "bytes_read"), num(p, "bytes_written"),
	       num(p, "errors"), num(p, "outstanding"));
}

static void lu_print(const json_t *result, const struct admin_cmd *c)
{
	const json_t *lu, *p;
	size_t i, j;
	char t[128];

	json_array_foreach(result, i, lu) {
		const json_t *paths = json_object_get(lu, "paths");
		long long total = (long long)json_array_size(paths), up = 0;

		json_array_foreach(paths, j, p)
			up += lu_path_operational(p);
		/* the daemon's own counts when it gives them: it may list fewer
		 * paths than the LU has */
		if (json_is_integer(json_object_get(lu, "paths_total")))
			total = num(lu, "paths_total");
		if (json_is_integer(json_object_get(lu, "paths_online")))
			up = num(lu, "paths_online");
		printf("Logical Unit: %s\n", str(lu, "name"));
		printf("\tIdentifier: %s\n", str(lu, "identifier"));
		printf("\tVendor: %s\n", str(lu, "vendor"));
		printf("\tProduct: %s\n", str(lu, "product"));
		printf("\tRevision: %s\n", str(lu, "revision"));
		printf("\tSize: ");
		if (num(lu, "size") > 0) /* 0: never read (READ CAPACITY failed) */
			lu_print_size(num(lu, "size"));
		else
			printf("unknown");
		if (num(lu, "block_size"))
			printf(", blocks of %lld bytes", num(lu, "block_size"));
		printf("\n\tState: %s\n", str(lu, "state"));
		printf("\tPolicy: %s\n", str(lu, "policy"));
		if (json_is_boolean(json_object_get(lu, "failback")))
			printf("\tFailback: %s\n",
			       json_is_true(json_object_get(lu, "failback")) ? "enabled" : "disabled");
		if (json_string_length(json_object_get(lu, "preferred_path")))
			printf("\tPreferred Path: %s\n", str(lu, "preferred_path"));
		printf("\tTotal Path Count: %lld\n", total);
		printf("\tOperational Path Count: %lld\n", up);
		if (c->verbose) {
			const json_t *st = json_object_get(lu, "stats");

			printf("\tUsers: %lld\n", num(lu, "users"));
			if (json_is_object(st))
				printf("\tCommands: %lld, Bytes: %lld read/%lld written, Errors: %lld\n",
				       num(st, "commands"), num(st, "bytes_read"),
				       num(st, "bytes_written"), num(st, "errors"));
		}
		lu_time(t, sizeof(t), json_object_get(lu, "last_seen_online"), false);
		printf("\tLast Seen Online: %s\n", t);
		lu_time(t, sizeof(t), json_object_get(lu, "last_open"), false);
		if (json_string_length(json_object_get(lu, "last_opener")))
			printf("\tLast Opened: %s by %s\n", t, str(lu, "last_opener"));
		else
			printf("\tLast Opened: %s\n", t);
		if (c->verbose)
			json_array_foreach(paths, j, p)
				lu_print_path(p);
	}
}

/* ---- list lu, show lu, modify lu */

static int lu_policy(const char *s, char *err, size_t errlen)
{
	for (size_t i = 0; i < sizeof(lu_policies) / sizeof(lu_policies[0]); i++)
		if (!strcmp(s, lu_policies[i]))
			return 0;
	lun_seterr(err, errlen, "--policy: '%s' is not a policy (none, round-robin, "
				"logical-block, least-queue)", s);
	return -1;
}

enum { LU_OPT_POLICY = 0x1101, LU_OPT_REGION, LU_OPT_OLDER, LU_OPT_FAILBACK, LU_OPT_PREF };

/* TARGET,HOST:PORT (HOST may be [v6]) or none; the daemon checks that it
 * names a path of the LU. */
static int lu_pref_ok(const char *s, char *err, size_t errlen)
{
	const char *comma = strchr(s, ','), *colon = strrchr(s, ':');
	long port;

	if (!strcmp(s, "none"))
		return 0;
	if (!comma || comma == s || !colon || colon < comma + 2 ||
	    admin_number(colon + 1, 1, 65535, "--preferred-path port", &port, err, errlen) < 0) {
		if (!err[0] || (comma && colon && colon > comma + 1))
			lun_seterr(err, errlen,
				   "--preferred-path: '%s' is not TARGET,HOST:PORT or none", s);
		return -1;
	}
	return 0;
}

int admin_lu(const char *op, int argc, char **argv, struct admin_cmd *c, char *err,
	     size_t errlen)
{
	static const struct option longs[] = {
		{ "verbose", no_argument, NULL, 'v' },
		{ "policy", required_argument, NULL, LU_OPT_POLICY },
		{ "region-size", required_argument, NULL, LU_OPT_REGION },
		{ "failback", required_argument, NULL, LU_OPT_FAILBACK },
		{ "preferred-path", required_argument, NULL, LU_OPT_PREF },
		ADMIN_COMMON_LONG_OPTS,
		{ NULL, 0, NULL, 0 },
	};
	bool list = !strcmp(op, "list"), show = !strcmp(op, "show");
	const char *policy = NULL, *pref = NULL;
	long region = 0;
	int opt, r, failback = -1;

	c->usage = usage_lu;
	while ((opt = getopt_long(argc, argv, ":vhR:", longs, NULL)) != -1) {
		if (opt == ADMIN_OPT_JSON && show) {
			c->json = true; /* show is a listing too */
		} else if ((r = admin_common_opt(opt, op, c, err, errlen)) != 0) {
			if (r < 0)
				return ADMIN_EXIT_USAGE;
		} else if (opt == 'h') {
			c->help = true;
		} else if (opt == 'v' && (list || show)) {
			c->verbose = true;
		} else if (opt == LU_OPT_POLICY && !list && !show) {
			if (lu_policy(optarg, err, errlen) < 0)
				return ADMIN_EXIT_USAGE;
			policy = optarg;
		} else if (opt == LU_OPT_REGION && !list && !show) {
			if (admin_number(optarg, 1, 4294967295L, "--region-size", &region, err,
					 errlen) < 0)
				return ADMIN_EXIT_USAGE;
		} else if (opt == LU_OPT_FAILBACK && !list && !show) {
			if (strcmp(optarg, "enable") && strcmp(optarg, "disable")) {
				lun_seterr(err, errlen,
					   "--failback: expected enable or disable, got '%s'", optarg);
				return ADMIN_EXIT_USAGE;
			}
			failback = !strcmp(optarg, "enable");
		} else if (opt == LU_OPT_PREF && !list && !show) {
			err[0] = '\0';
			if (lu_pref_ok(optarg, err, errlen) < 0)
				return ADMIN_EXIT_USAGE;
			pref = optarg;
		} else {
			return admin_bad_opt(opt, op, argv, "lu", err, errlen);
		}
	}
	if (c->help)
		return 0;
	for (int i = optind; i < argc; i++)
		if (lu_check_name(argv[i], err, errlen) < 0)
			return ADMIN_EXIT_USAGE;
	if (!list && optind == argc) {
		lun_seterr(err, errlen, "%s lu needs at least one NAME", op);
		return ADMIN_EXIT_USAGE;
	}
	if (!list && !show) {
		if (!policy && failback < 0 && !pref) {
			lun_seterr(err, errlen,
				   "modify lu needs --policy, --failback or --preferred-path");
			return ADMIN_EXIT_USAGE;
		}
		if (region && (!policy || strcmp(policy, "logical-block"))) {
			lun_seterr(err, errlen, "--region-size applies to --policy logical-block "
						"only");
			return ADMIN_EXIT_USAGE;
		}
		for (int i = optind; i < argc; i++) {
			json_t *args = json_pack("{s:s}", "name", argv[i]);

			if (policy)
				json_object_set_new(args, "policy", json_string(policy));
			if (failback >= 0)
				json_object_set_new(args, "failback", json_boolean(failback));
			if (pref)
				json_object_set_new(args, "preferred_path", json_string(pref));
			if (region)
				json_object_set_new(args, "region_size", json_integer(region));
			admin_add_req(c, "modify", "lu", args);
		}
		return 0;
	}
	if (show)
		c->verbose = true;
	for (int i = optind; i < argc; i++) {
		/* operands filter the one listing, as for the other objects */
		if (!c->filter)
			c->filter = json_array();
		json_array_append_new(c->filter, json_pack("{s:{s:s},s:s}", "match", "name",
							   argv[i], "operand", argv[i]));
	}
	admin_add_req(c, "list", "lu", json_pack("{s:b}", "verbose", c->verbose));
	c->print = lu_print;
	return 0;
}

/* ---- cleanup */

/* "30s", "10m", "2h", "7d" into seconds; -1 with err naming the problem. */
static int lu_duration(const char *s, long *out, char *err, size_t errlen)
{
	static const struct {
		char unit;
		long secs;
	} units[] = { { 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 } };
	size_t n = strlen(s), digits = strspn(s, "0123456789");
	long v = 0;

	if (n == 0 || digits == 0) {
		lun_seterr(err, errlen, "--older-than: '%s' is not a duration (a whole number "
					"and a unit: 30s, 10m, 2h, 7d)", s);
		return -1;
	}
	if (digits == n) {
		lun_seterr(err, errlen, "--older-than: '%s' needs a unit: s, m, h or d (as in "
					"30s, 10m, 2h, 7d)", s);
		return -1;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (digits + 1 != n || s[digits] != units[i].unit)
			continue;
		/* digit by digit, so that no overflow can happen before the check */
		for (size_t j = 0; j < digits; j++) {
			v = v * 10 + (s[j] - '0');
			if (v > LU_MAX_AGE / units[i].secs) {
				lun_seterr(err, errlen, "--older-than: '%s' is longer than 3650 "
							"days", s);
				return -1;
			}
		}
		*out = v * units[i].secs;
		return 0;
	}
	lun_seterr(err, errlen, "--older-than: '%s' has an unknown unit (s, m, h or d: 30s, "
				"10m, 2h, 7d)", s);
	return -1;
}

static bool lu_dry_run(const struct admin_cmd *c)
{
	const json_t *args = json_object_get(json_array_get(c->reqs, 0), "args");

	return json_is_true(json_object_get(args, "dry_run"));
}

/* Whether cleanup was given NAME operands. */
static bool lu_named(const struct admin_cmd *c)
{
	const json_t *args = json_object_get(json_array_get(c->reqs, 0), "args");

	return json_array_size(json_object_get(args, "names")) > 0;
}

static void lu_print_cleanup(const json_t *result, const struct admin_cmd *c)
{
	bool dry = lu_dry_run(c);
	const json_t *e;
	size_t i;
	char t[128];

	json_array_foreach(json_object_get(result, "removed"), i, e) {
		const json_t *seen = json_object_get(e, "last_seen_online");

		if (json_is_integer(seen) && json_integer_value(seen) > 0) {
			lu_time(t, sizeof(t), seen, true);
			printf("%s %s (offline since %s)\n", dry ? "would remove" : "removed",
			       str(e, "name"), t);
		} else {
			printf("%s %s (never seen online)\n", dry ? "would remove" : "removed",
			       str(e, "name"));
		}
	}
	json_array_foreach(json_object_get(result, "kept"), i, e) {
		/* Without names, like devfsadm -C, say nothing about live
		 * devices: only what was kept although offline (--json shows
		 * all). */
		if (!lu_named(c) && !strcmp(str(e, "reason"), "online"))
			continue;
		printf("%s %s (%s)\n", dry ? "would keep" : "kept", str(e, "name"),
		       str(e, "reason"));
	}
}

static bool lu_listed(const json_t *list, const char *name)
{
	const json_t *e;
	size_t i;

	json_array_foreach(list, i, e) {
		const char *s = json_string_value(json_object_get(e, "name"));

		if (s && !strcmp(s, name))
			return true;
	}
	return false;
}

/* Exit 4 when a NAME given was not (or, with -n, would not be) removed: a
 * script that asked for a name learns that it is still there. */
static int lu_cleanup_status(const json_t *result, const struct admin_cmd *c)
{
	const json_t *args = json_object_get(json_array_get(c->reqs, 0), "args");
	const json_t *v, *removed = json_object_get(result, "removed");
	size_t i;
	int rc = ADMIN_EXIT_OK;

	json_array_foreach(json_object_get(args, "names"), i, v) {
		const char *name = json_string_value(v);

		if (!name || lu_listed(removed, name))
			continue;
		if (!lu_listed(json_object_get(result, "kept"), name))
			fprintf(stderr, "lunaris: %s is not in the device cache\n", name);
		rc = ADMIN_EXIT_CONFLICT;
	}
	return rc;
}

/* admin_bad_opt's message for a command without an object word. */
static int lu_cleanup_bad_opt(int opt, char **argv, char *err, size_t errlen)
{
	const char *word = optind > 0 ? argv[optind - 1] : "?";
	char name[64];

	if (opt == ':')
		return admin_bad_opt(opt, "cleanup", argv, "", err, errlen);
	if (!strncmp(word, "--", 2) || !optopt || optopt >= 0x100)
		snprintf(name, sizeof(name), "%.*s", (int)strcspn(word, "="), word);
	else
		snprintf(name, sizeof(name), "-%c", optopt);
	lun_seterr(err, errlen, "'cleanup' does not take option '%s' (see lunaris cleanup "
				"--help)", name);
	return ADMIN_EXIT_USAGE;
}

int admin_cleanup(const char *op, int argc, char **argv, struct admin_cmd *c, char *err,
		  size_t errlen)
{
	static const struct option longs[] = {
		{ "dry-run", no_argument, NULL, 'n' },
		{ "older-than", required_argument, NULL, LU_OPT_OLDER },
		ADMIN_COMMON_LONG_OPTS,
		{ NULL, 0, NULL, 0 },
	};
	bool dry = false;
	long older = -1;
	int opt, r;
	json_t *names, *args;

	c->usage = usage_cleanup;
	while ((opt = getopt_long(argc, argv, ":nhR:", longs, NULL)) != -1) {
		if (opt == ADMIN_OPT_JSON) {
			c->json = true; /* the answer is a result to print */
		} else if ((r = admin_common_opt(opt, op, c, err, errlen)) != 0) {
			if (r < 0)
				return ADMIN_EXIT_USAGE;
		} else if (opt == 'h') {
			c->help = true;
		} else if (opt == 'n') {
			dry = true;
		} else if (opt == LU_OPT_OLDER) {
			if (lu_duration(optarg, &older, err, errlen) < 0)
				return ADMIN_EXIT_USAGE;
		} else {
			return lu_cleanup_bad_opt(opt, argv, err, errlen);
		}
	}
	if (c->help)
		return 0;
	for (int i = optind; i < argc; i++)
		if (lu_check_name(argv[i], err, errlen) < 0)
			return ADMIN_EXIT_USAGE;
	names = json_array();
	for (int i = optind; i < argc; i++)
		json_array_append_new(names, json_string(argv[i]));
	args = json_pack("{s:b,s:o}", "dry_run", dry, "names", names);
	if (older >= 0)
		json_object_set_new(args, "older_than", json_integer(older));
	admin_add_req(c, "cleanup", "lu", args);
	c->print = lu_print_cleanup;
	c->status = lu_cleanup_status;
	return 0;
}
