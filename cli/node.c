/*
 * node.c - floor 6: `list|modify initiator-node`, the initiator's own name,
 * alias, login defaults, CHAP identity and timers; and `list|modify|remove
 * target-param`, the same login settings for one target, which override the
 * initiator node's.
 *
 * In `modify` -h is --headerdigest, as in iscsiadm, so help is --help only.
 * The CHAP secret is never an option value (argv is visible to every user):
 * -C only records that cmd_admin must prompt for it, and --CHAP-secret-file
 * names where to read it.  In target-param, -H and -C are the target's CHAP
 * name and secret (what it proves itself with in bi-directional CHAP), sent
 * as target-chap-name and target-chap-secret so that the daemon can never
 * take them for the initiator's own.
 */
#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "admin.h"
#include "names.h"
#include "util.h"

#define NODE_TEXT_MAX 255 /* iSCSI text values (RFC 7143 6.1) */
#define NODE_MAX_SESSIONS 4

/* Tunables of docs/control-protocol.md: the option key, the label of the
 * list output, the range the daemon accepts (0 turns off the timers that
 * may be off, as in the one-shot options), and whether the value is
 * seconds or on|off.  node_only: the tunable governs the daemon's discovery,
 * not a target's sessions, so a target-param cannot hold it. */
static const struct node_tunable {
	const char *key, *label;
	long min, max;
	bool onoff, node_only;
} node_tunables[] = {
	{ "login-timeout", "Session Login Response Time", 1, 3600, false, false },
	{ "conn-login-max", "Maximum Connection Retry Time", 0, 86400, false, false },
	{ "login-retry-interval", "Login Retry Time Interval", 1, 3600, false, false },
	{ "polling-interval", "Polling Interval", 1, 86400, false, false },
	{ "noop-interval", "NOP-Out Interval", 0, 3600, false, false },
	{ "noop-timeout", "NOP-Out Timeout", 1, 3600, false, false },
	{ "replacement-timeout", "Replacement Timeout", 0, 86400, false, false },
	{ "command-timeout", "Command Timeout", 0, 86400, false, false },
	{ "discovery-min-interval", "Discovery Minimum Interval", 0, 3600, false, true },
	{ "storm-protection", "Storm Protection", 0, 1, true, true },
	{ "open-timeout", "Open Timeout", 1, 3600, false, true },
	{ "no-path-timeout", "No Path Timeout", 1, 86400, false, true },
};

#define NODE_N_TUNABLES (sizeof(node_tunables) / sizeof(node_tunables[0]))

static const char usage_initiator_node[] =
	"usage: lunaris list initiator-node [--json]\n"
	"       lunaris modify initiator-node OPTIONS\n"
	"  -N, --node-name IQN                 the initiator's iSCSI name\n"
	"  -A, --alias TEXT                    the initiator alias (\"\" removes it)\n"
	"  -h, --headerdigest none|crc32c      default header digest\n"
	"  -d, --datadigest none|crc32c        default data digest\n"
	"  -a, --authentication chap|none      default authentication\n"
	"  -H, --CHAP-name NAME                CHAP name (default: the node name)\n"
	"  -C, --CHAP-secret                   ask for the CHAP secret (twice, not echoed)\n"
	"      --CHAP-secret-file F            read the CHAP secret from the first line of F\n"
	"  -c, --configured-sessions N         sessions per target, 1..4\n"
	"  -T, --tunable-param KEY=V[,KEY=V]   timers in whole seconds: login-timeout,\n"
	"                                      conn-login-max, login-retry-interval,\n"
	"                                      polling-interval, noop-interval, noop-timeout,\n"
	"                                      replacement-timeout, command-timeout,\n"
	"                                      discovery-min-interval, open-timeout,\n"
	"                                      no-path-timeout; storm-protection=on|off\n"
	"  -R, --run-dir DIR                   daemon run directory\n"
	"      --help                          this text\n";

static const char usage_target_param[] =
	"usage: lunaris list target-param [-v] [--json] [TARGET...]\n"
	"       lunaris modify target-param OPTIONS TARGET\n"
	"       lunaris remove target-param TARGET...\n"
	"  Login settings of one target; what is not set comes from the initiator node.\n"
	"  -a, --authentication chap|none      authentication with this target\n"
	"  -B, --bi-directional-authentication enable|disable\n"
	"                                      the target proves itself too (mutual CHAP)\n"
	"  -H, --CHAP-name NAME                the target's CHAP name (default: its name)\n"
	"  -C, --CHAP-secret                   ask for the target's CHAP secret (twice, not\n"
	"                                      echoed)\n"
	"      --CHAP-secret-file F            read the target's CHAP secret from line 1 of F\n"
	"  -h, --headerdigest none|crc32c      header digest\n"
	"  -d, --datadigest none|crc32c        data digest\n"
	"  -c, --configured-sessions N         sessions to this target, 1..4\n"
	"  -T, --tunable-param KEY=S[,KEY=S]   timers in whole seconds: login-timeout,\n"
	"                                      conn-login-max, login-retry-interval,\n"
	"                                      polling-interval, noop-interval, noop-timeout,\n"
	"                                      replacement-timeout, command-timeout\n"
	"  -v, --verbose                       list every setting as default/configured\n"
	"  -R, --run-dir DIR                   daemon run directory\n"
	"      --help                          this text\n"
	"  The initiator's own CHAP name and secret are set with modify initiator-node.\n";

enum { NODE_OPT_SECRET_FILE = 0x1100 };

static int node_digest(const char *opt, const char *v, const char *key, json_t *args, char *err,
		       size_t errlen)
{
	/* "crc32" is iscsiadm's spelling of the same digest. */
	if (!strcasecmp(v, "none")) {
		json_object_set_new(args, key, json_string("none"));
	} else if (!strcasecmp(v, "crc32c") || !strcasecmp(v, "crc32")) {
		json_object_set_new(args, key, json_string("crc32c"));
	} else {
		lun_seterr(err, errlen, "%s: expected none or crc32c, got '%s'", opt, v);
		return ADMIN_EXIT_USAGE;
	}
	return 0;
}

static const struct node_tunable *node_tunable_find(const char *key, size_t n)
{
	for (size_t i = 0; i < NODE_N_TUNABLES; i++)
		if (strlen(node_tunables[i].key) == n && !strncmp(node_tunables[i].key, key, n))
			return &node_tunables[i];
	return NULL;
}

/* The value of an on|off tunable. */
static int node_onoff(const char *what, const char *v, size_t n, json_t *t, const char *key,
		      char *err, size_t errlen)
{
	if (n == 2 && !strncasecmp(v, "on", 2)) {
		json_object_set_new(t, key, json_string("on"));
	} else if (n == 3 && !strncasecmp(v, "off", 3)) {
		json_object_set_new(t, key, json_string("off"));
	} else {
		lun_seterr(err, errlen, "%s: expected on or off, got '%.*s'", what,
			   (int)(n > 32 ? 32 : n), v);
		return ADMIN_EXIT_USAGE;
	}
	return 0;
}

/* "key=value[,key=value]" merged into the "tunables" member of args; a
 * target-param takes only the tunables of a target's sessions. */
static int node_tunable_param(const char *v, json_t *args, bool target, char *err, size_t errlen)
{
	json_t *t = json_object_get(args, "tunables");
	const char *p = v;

	if (!t) {
		t = json_object();
		json_object_set_new(args, "tunables", t);
	}
	do {
		size_t n = strcspn(p, ","), k = strcspn(p, "=");
		const struct node_tunable *tu;
		char num[32], what[64];
		long secs;

		if (k >= n) {
			lun_seterr(err, errlen, "--tunable-param: '%.*s' is not KEY=VALUE",
				   (int)n, p);
			return ADMIN_EXIT_USAGE;
		}
		tu = node_tunable_find(p, k);
		if (!tu) {
			lun_seterr(err, errlen,
				   "--tunable-param: unknown key '%.*s' (login-timeout, "
				   "conn-login-max, login-retry-interval, polling-interval, "
				   "noop-interval, noop-timeout, replacement-timeout, "
				   "command-timeout%s)", (int)(k > 64 ? 64 : k), p,
				   target ? "" : ", discovery-min-interval, storm-protection");
			return ADMIN_EXIT_USAGE;
		}
		if (target && tu->node_only) {
			lun_seterr(err, errlen, "--tunable-param: %s applies to the initiator node "
						"only (it governs discovery, which is not per target)",
				   tu->key);
			return ADMIN_EXIT_USAGE;
		}
		snprintf(what, sizeof(what), "--tunable-param %s", tu->key);
		if (tu->onoff) {
			if (node_onoff(what, p + k + 1, n - k - 1, t, tu->key, err, errlen))
				return ADMIN_EXIT_USAGE;
			p += n;
			continue;
		}
		snprintf(num, sizeof(num), "%.*s", (int)(n - k - 1), p + k + 1);
		if (n - k - 1 >= sizeof(num) ||
		    admin_number(num, tu->min, tu->max, what, &secs, err, errlen) < 0) {
			if (n - k - 1 >= sizeof(num))
				lun_seterr(err, errlen, "%s: value is too long", what);
			return ADMIN_EXIT_USAGE;
		}
		json_object_set_new(t, tu->key, json_integer(secs));
		p += n;
	} while (*p++ == ',');
	return 0;
}

/* Text options: alias (may be empty), CHAP name (may not). */
static int node_text(const char *opt, const char *key, const char *v, bool may_be_empty,
		     json_t *args, char *err, size_t errlen)
{
	if ((!may_be_empty && !v[0]) || !lun_text_value_valid(v, NODE_TEXT_MAX)) {
		lun_seterr(err, errlen, "%s: expected %s to %d bytes of text without control "
					"characters", opt, may_be_empty ? "0" : "1", NODE_TEXT_MAX);
		return ADMIN_EXIT_USAGE;
	}
	json_object_set_new(args, key, json_string(v));
	return 0;
}

/* One option of `modify initiator-node` (or of `modify target-param`, when
 * target) into args. */
static int node_modify_opt(int opt, bool target, json_t *args, struct admin_cmd *c, char *err,
			   size_t errlen)
{
	long n;

	if (target && (opt == 'N' || opt == 'A'))
		return -1;
	if (!target && opt == 'B')
		return -1;
	switch (opt) {
	case 'N':
		if (!lun_iscsi_name_valid(optarg, err, errlen))
			return ADMIN_EXIT_USAGE;
		json_object_set_new(args, "node-name", json_string(optarg));
		return 0;
	case 'A': return node_text("--alias", "alias", optarg, true, args, err, errlen);
	case 'H':
		return node_text("--CHAP-name", target ? "target-chap-name" : "chap-name", optarg,
				 false, args, err, errlen);
	case 'B':
		if (strcasecmp(optarg, "enable") && strcasecmp(optarg, "disable")) {
			lun_seterr(err, errlen, "--bi-directional-authentication: expected enable or "
						"disable, got '%s'", optarg);
			return ADMIN_EXIT_USAGE;
		}
		json_object_set_new(args, "bidir-auth",
				    json_boolean(!strcasecmp(optarg, "enable")));
		return 0;
	case 'h': return node_digest("--headerdigest", optarg, "header-digest", args, err, errlen);
	case 'd': return node_digest("--datadigest", optarg, "data-digest", args, err, errlen);
	case 'a':
		if (strcasecmp(optarg, "chap") && strcasecmp(optarg, "none")) {
			lun_seterr(err, errlen, "--authentication: expected chap or none, got '%s'",
				   optarg);
			return ADMIN_EXIT_USAGE;
		}
		json_object_set_new(args, "authentication",
				    json_string(strcasecmp(optarg, "chap") ? "none" : "chap"));
		return 0;
	case 'c':
		if (admin_number(optarg, 1, NODE_MAX_SESSIONS, "--configured-sessions", &n, err,
				 errlen) < 0)
			return ADMIN_EXIT_USAGE;
		json_object_set_new(args, "configured-sessions", json_integer(n));
		return 0;
	case 'T': return node_tunable_param(optarg, args, target, err, errlen);
	case 'C':
	case NODE_OPT_SECRET_FILE:
		if (c->secret_src != ADMIN_SECRET_NONE &&
		    c->secret_src != (opt == 'C' ? ADMIN_SECRET_PROMPT : ADMIN_SECRET_FILE)) {
			lun_seterr(err, errlen, "use either --CHAP-secret or --CHAP-secret-file");
			return ADMIN_EXIT_USAGE;
		}
		c->secret_src = opt == 'C' ? ADMIN_SECRET_PROMPT : ADMIN_SECRET_FILE;
		if (opt != 'C')
			c->secret_file = optarg;
		return 0;
	default: return -1;
	}
}

static const char *node_digest_label(const json_t *v)
{
	const char *s = json_string_value(v);

	if (!s)
		return "-";
	return !strcmp(s, "crc32c") ? "CRC32C" : !strcmp(s, "none") ? "NONE" : s;
}

/* A tunable's value: seconds, or on|off for storm-protection. */
static void print_tunable_value(const json_t *v, const char *end)
{
	if (json_is_integer(v))
		printf("%lld%s", (long long)json_integer_value(v), end);
	else if (json_is_string(v))
		printf("%s%s", json_string_value(v), end);
	else
		printf("-%s", end);
}

static void print_tunable(const char *label, const json_t *t)
{
	printf("\t\t%s: ", label);
	print_tunable_value(json_object_get(t, "default"), "/");
	print_tunable_value(json_object_get(t, "configured"), "\n");
}

/* Every tunable of a listing in table order, then those of a newer daemon
 * under their key. */
static void print_tunables(const json_t *tun)
{
	const json_t *v;
	const char *key;

	puts("\tTunable Parameters (Default/Configured):");
	for (size_t i = 0; i < NODE_N_TUNABLES; i++)
		if ((v = json_object_get(tun, node_tunables[i].key)) != NULL)
			print_tunable(node_tunables[i].label, v);
	json_object_foreach((json_t *)tun, key, v)
		if (!node_tunable_find(key, strlen(key)))
			print_tunable(key, v);
}

static void print_initiator_node(const json_t *r, const struct admin_cmd *c)
{
	const json_t *v;
	const char *auth = json_string_value(json_object_get(r, "authentication"));
	const char *alias = json_string_value(json_object_get(r, "alias"));

	printf("Initiator node name: %s\n",
	       json_string_value(json_object_get(r, "node-name")) ?: "-");
	printf("Initiator node alias: %s\n", alias && alias[0] ? alias : "-");
	puts("\tLogin Parameters (Default/Configured):");
	printf("\t\tHeader Digest: NONE/%s\n",
	       node_digest_label(json_object_get(r, "header-digest")));
	printf("\t\tData Digest: NONE/%s\n", node_digest_label(json_object_get(r, "data-digest")));
	printf("\tAuthentication Type: %s\n", auth && !strcmp(auth, "chap") ? "CHAP" : "NONE");
	printf("\tCHAP Name: %s\n", json_string_value(json_object_get(r, "chap-name")) ?: "-");
	printf("\tCHAP Secret: %s\n",
	       json_is_true(json_object_get(r, "chap-secret-set")) ? "set" : "not set");
	print_tunables(json_object_get(r, "tunables"));
	v = json_object_get(r, "configured-sessions");
	if (json_is_integer(v))
		printf("\tConfigured Sessions: %lld\n", (long long)json_integer_value(v));
	else
		printf("\tConfigured Sessions: 1\n");
}

int admin_initiator_node(const char *op, int argc, char **argv, struct admin_cmd *c, char *err,
			 size_t errlen)
{
	static const struct option longs[] = {
		{ "node-name", required_argument, NULL, 'N' },
		{ "alias", required_argument, NULL, 'A' },
		{ "node-alias", required_argument, NULL, 'A' },
		{ "headerdigest", required_argument, NULL, 'h' },
		{ "datadigest", required_argument, NULL, 'd' },
		{ "authentication", required_argument, NULL, 'a' },
		{ "CHAP-name", required_argument, NULL, 'H' },
		{ "CHAP-secret", no_argument, NULL, 'C' },
		{ "CHAP-secret-file", required_argument, NULL, NODE_OPT_SECRET_FILE },
		{ "configured-sessions", required_argument, NULL, 'c' },
		{ "tunable-param", required_argument, NULL, 'T' },
		ADMIN_COMMON_LONG_OPTS,
		{ NULL, 0, NULL, 0 },
	};
	/* `list` must not know --headerdigest: it would come back as 'h'. */
	static const struct option list_longs[] = { ADMIN_COMMON_LONG_OPTS, { NULL, 0, NULL, 0 } };
	bool modify = !strcmp(op, "modify");
	json_t *args = json_object();
	int opt, r = 0;

	c->usage = usage_initiator_node;
	while (!r && (opt = getopt_long(argc, argv, modify ? ":N:A:h:d:a:H:Cc:T:R:" : ":hR:",
					modify ? longs : list_longs, NULL)) != -1) {
		if ((r = admin_common_opt(opt, op, c, err, errlen)) != 0)
			r = r < 0 ? ADMIN_EXIT_USAGE : 0;
		else if (!modify && opt == 'h')
			c->help = true;
		else if (!modify || (r = node_modify_opt(opt, false, args, c, err, errlen)) < 0)
			r = admin_bad_opt(opt, op, argv, "initiator-node", err, errlen);
	}
	if (!r && !c->help && optind < argc) {
		lun_seterr(err, errlen, "%s initiator-node takes no operands ('%s')", op,
			   argv[optind]);
		r = ADMIN_EXIT_USAGE;
	}
	if (!r && !c->help && modify && !json_object_size(args) &&
	    c->secret_src == ADMIN_SECRET_NONE) {
		lun_seterr(err, errlen, "modify initiator-node needs at least one option (see "
					"lunaris modify initiator-node --help)");
		r = ADMIN_EXIT_USAGE;
	}
	if (r || c->help) {
		json_decref(args);
		return r;
	}
	if (modify) {
		admin_add_req(c, op, "initiator-node", args);
	} else {
		json_decref(args);
		admin_add_req(c, op, "initiator-node", NULL);
		c->print = print_initiator_node;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* target-param                                                        */

/* A setting of a target-param listing: {"default", "configured"}; the
 * effective value is the configured one, else the default. */
static const json_t *tp_effective(const json_t *r, const char *key)
{
	const json_t *o = json_object_get(r, key), *conf = json_object_get(o, "configured");

	return conf && !json_is_null(conf) ? conf : json_object_get(o, "default");
}

static void print_tp_digest(const char *label, const json_t *o)
{
	printf("\t\t%s: %s/", label, node_digest_label(json_object_get(o, "default")));
	printf("%s\n", node_digest_label(json_object_get(o, "configured")));
}

/* As iscsiadm: "Target: NAME" per target; -v adds every setting, the login
 * parameters and tunables as default/configured ("-" when not configured),
 * where the default is what the target gets from the initiator node. */
static void print_target_param(const json_t *result, const struct admin_cmd *c)
{
	const json_t *r, *v;
	size_t i;

	json_array_foreach(result, i, r) {
		const char *alias = json_string_value(json_object_get(r, "alias"));
		const char *auth = json_string_value(tp_effective(r, "authentication"));

		printf("Target: %s\n", json_string_value(json_object_get(r, "target")) ?: "-");
		if (!c->verbose)
			continue;
		printf("\tAlias: %s\n", alias && alias[0] ? alias : "-");
		printf("\tBi-directional Authentication: %s\n",
		       json_is_true(tp_effective(r, "bidir-auth")) ? "enabled" : "disabled");
		printf("\tAuthentication Type: %s\n",
		       auth && !strcmp(auth, "chap") ? "CHAP" : "NONE");
		printf("\tCHAP Name: %s\n",
		       json_string_value(tp_effective(r, "target-chap-name")) ?: "-");
		printf("\tCHAP Secret: %s\n",
		       json_is_true(json_object_get(r, "target-chap-secret-set")) ? "set"
										  : "not set");
		puts("\tLogin Parameters (Default/Configured):");
		print_tp_digest("Header Digest", json_object_get(r, "header-digest"));
		print_tp_digest("Data Digest", json_object_get(r, "data-digest"));
		print_tunables(json_object_get(r, "tunables"));
		v = tp_effective(r, "configured-sessions");
		printf("\tConfigured Sessions: %lld\n",
		       json_is_integer(v) ? (long long)json_integer_value(v) : 1LL);
	}
}

/* TARGET as the daemon keys it: a valid iSCSI name of ASCII characters,
 * folded to lower case (names compare case-insensitively, RFC 3722), so
 * that a `list` operand matches the daemon's listing however it is typed.
 * NULL with err. */
static json_t *tp_target(const char *operand, char *err, size_t errlen)
{
	char name[LUN_ISCSI_NAME_MAX + 1];
	size_t n;

	if (!lun_iscsi_name_valid(operand, err, errlen))
		return NULL;
	n = strlen(operand);
	for (size_t i = 0; i <= n; i++) {
		if ((unsigned char)operand[i] >= 0x80) {
			lun_seterr(err, errlen, "target name '%s' has non-ASCII characters; only "
						"ASCII iSCSI names can have target-param", operand);
			return NULL;
		}
		name[i] = (char)tolower((unsigned char)operand[i]);
	}
	return json_string(name);
}

int admin_target_param(const char *op, int argc, char **argv, struct admin_cmd *c, char *err,
		       size_t errlen)
{
	static const struct option longs[] = {
		{ "headerdigest", required_argument, NULL, 'h' },
		{ "datadigest", required_argument, NULL, 'd' },
		{ "authentication", required_argument, NULL, 'a' },
		{ "bi-directional-authentication", required_argument, NULL, 'B' },
		{ "CHAP-name", required_argument, NULL, 'H' },
		{ "CHAP-secret", no_argument, NULL, 'C' },
		{ "CHAP-secret-file", required_argument, NULL, NODE_OPT_SECRET_FILE },
		{ "configured-sessions", required_argument, NULL, 'c' },
		{ "tunable-param", required_argument, NULL, 'T' },
		ADMIN_COMMON_LONG_OPTS,
		{ NULL, 0, NULL, 0 },
	};
	static const struct option list_longs[] = {
		{ "verbose", no_argument, NULL, 'v' },
		ADMIN_COMMON_LONG_OPTS,
		{ NULL, 0, NULL, 0 },
	};
	static const struct option remove_longs[] = { ADMIN_COMMON_LONG_OPTS,
						      { NULL, 0, NULL, 0 } };
	bool modify = !strcmp(op, "modify"), list = !strcmp(op, "list");
	json_t *args = json_object(), *name;
	int opt, r = 0;

	c->usage = usage_target_param;
	while (!r && (opt = getopt_long(argc, argv,
					modify ? ":h:d:a:B:H:Cc:T:R:" : list ? ":vhR:" : ":hR:",
					modify ? longs : list ? list_longs : remove_longs,
					NULL)) != -1) {
		if ((r = admin_common_opt(opt, op, c, err, errlen)) != 0)
			r = r < 0 ? ADMIN_EXIT_USAGE : 0;
		else if (!modify && opt == 'h')
			c->help = true;
		else if (list && opt == 'v')
			c->verbose = true;
		else if (!modify || (r = node_modify_opt(opt, true, args, c, err, errlen)) < 0)
			r = admin_bad_opt(opt, op, argv, "target-param", err, errlen);
	}
	if (!r && !c->help) {
		if (modify && argc - optind != 1) {
			lun_seterr(err, errlen, "modify target-param needs exactly one TARGET (see "
						"lunaris modify target-param --help)");
			r = ADMIN_EXIT_USAGE;
		} else if (!list && optind >= argc) {
			lun_seterr(err, errlen, "%s target-param needs at least one TARGET", op);
			r = ADMIN_EXIT_USAGE;
		} else if (modify && !json_object_size(args) &&
			   c->secret_src == ADMIN_SECRET_NONE) {
			lun_seterr(err, errlen, "modify target-param needs at least one option (see "
						"lunaris modify target-param --help)");
			r = ADMIN_EXIT_USAGE;
		}
	}
	if (r || c->help) {
		json_decref(args);
		return r;
	}
	/* Every operand is checked before a request is built. */
	for (int i = optind; i < argc; i++) {
		if (!(name = tp_target(argv[i], err, errlen))) {
			json_decref(args);
			return ADMIN_EXIT_USAGE;
		}
		json_decref(name);
	}
	if (modify) {
		json_object_set_new(args, "target", tp_target(argv[optind], err, errlen));
		c->secret_key = "target-chap-secret";
		admin_add_req(c, op, "target-param", args);
		return 0;
	}
	json_decref(args);
	for (int i = optind; i < argc; i++) {
		name = tp_target(argv[i], err, errlen);
		if (list) {
			json_t *f = json_object();

			if (!c->filter)
				c->filter = json_array();
			json_object_set_new(f, "match", json_pack("{s:o}", "target", name));
			json_object_set_new(f, "operand", json_string(argv[i]));
			json_array_append_new(c->filter, f);
		} else {
			admin_add_req(c, op, "target-param", json_pack("{s:o}", "target", name));
		}
	}
	if (list) {
		admin_add_req(c, op, "target-param", NULL);
		c->print = print_target_param;
	}
	return 0;
}
