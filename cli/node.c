/*
 * node.c - floor 6: `list|modify initiator-node`, the initiator's own name,
 * alias, login defaults, CHAP identity and timers.
 *
 * In this object -h is --headerdigest, as in iscsiadm, so help is --help
 * only.  The CHAP secret is never an option value (argv is visible to every
 * user): -C only records that cmd_admin must prompt for it, and
 * --CHAP-secret-file names where to read it.
 */
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
#define NODE_MAX_SECONDS 86400

/* Tunables of docs/control-protocol.md: the option key, the label of the
 * list output, and the smallest value that makes sense (0 turns off the
 * timers that may be off, as in the one-shot options). */
static const struct node_tunable {
	const char *key, *label;
	long min;
} node_tunables[] = {
	{ "login-timeout", "Session Login Response Time", 1 },
	{ "conn-login-max", "Maximum Connection Retry Time", 0 },
	{ "login-retry-interval", "Login Retry Time Interval", 1 },
	{ "polling-interval", "Polling Interval", 1 },
	{ "noop-interval", "NOP-Out Interval", 0 },
	{ "noop-timeout", "NOP-Out Timeout", 1 },
	{ "replacement-timeout", "Replacement Timeout", 0 },
	{ "command-timeout", "Command Timeout", 0 },
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
	"  -T, --tunable-param KEY=S[,KEY=S]   timers in whole seconds: login-timeout,\n"
	"                                      conn-login-max, login-retry-interval,\n"
	"                                      polling-interval, noop-interval, noop-timeout,\n"
	"                                      replacement-timeout, command-timeout\n"
	"  -R, --run-dir DIR                   daemon run directory\n"
	"      --help                          this text\n";

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

/* "key=value[,key=value]" merged into the "tunables" member of args. */
static int node_tunable_param(const char *v, json_t *args, char *err, size_t errlen)
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
			lun_seterr(err, errlen, "--tunable-param: '%.*s' is not KEY=SECONDS",
				   (int)n, p);
			return ADMIN_EXIT_USAGE;
		}
		tu = node_tunable_find(p, k);
		if (!tu) {
			lun_seterr(err, errlen,
				   "--tunable-param: unknown key '%.*s' (login-timeout, "
				   "conn-login-max, login-retry-interval, polling-interval, "
				   "noop-interval, noop-timeout, replacement-timeout, "
				   "command-timeout)", (int)k, p);
			return ADMIN_EXIT_USAGE;
		}
		snprintf(num, sizeof(num), "%.*s", (int)(n - k - 1), p + k + 1);
		snprintf(what, sizeof(what), "--tunable-param %s", tu->key);
		if (n - k - 1 >= sizeof(num) ||
		    admin_number(num, tu->min, NODE_MAX_SECONDS, what, &secs, err, errlen) < 0) {
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

/* One option of `modify initiator-node` into args. */
static int node_modify_opt(int opt, json_t *args, struct admin_cmd *c, char *err, size_t errlen)
{
	long n;

	switch (opt) {
	case 'N':
		if (!lun_iscsi_name_valid(optarg, err, errlen))
			return ADMIN_EXIT_USAGE;
		json_object_set_new(args, "node-name", json_string(optarg));
		return 0;
	case 'A': return node_text("--alias", "alias", optarg, true, args, err, errlen);
	case 'H': return node_text("--CHAP-name", "chap-name", optarg, false, args, err, errlen);
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
	case 'T': return node_tunable_param(optarg, args, err, errlen);
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

static void print_tunable(const char *label, const json_t *t)
{
	const json_t *def = json_object_get(t, "default"), *conf = json_object_get(t, "configured");

	printf("\t\t%s: ", label);
	if (json_is_integer(def))
		printf("%lld/", (long long)json_integer_value(def));
	else
		printf("-/");
	if (json_is_integer(conf))
		printf("%lld\n", (long long)json_integer_value(conf));
	else
		printf("-\n");
}

static void print_initiator_node(const json_t *r, const struct admin_cmd *c)
{
	const json_t *tun = json_object_get(r, "tunables"), *v;
	const char *auth = json_string_value(json_object_get(r, "authentication"));
	const char *alias = json_string_value(json_object_get(r, "alias"));
	const char *key;

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
	puts("\tTunable Parameters (Default/Configured):");
	for (size_t i = 0; i < NODE_N_TUNABLES; i++)
		if ((v = json_object_get(tun, node_tunables[i].key)) != NULL)
			print_tunable(node_tunables[i].label, v);
	/* Tunables of a newer daemon, under their key. */
	json_object_foreach((json_t *)tun, key, v)
		if (!node_tunable_find(key, strlen(key)))
			print_tunable(key, v);
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
		else if (!modify || (r = node_modify_opt(opt, args, c, err, errlen)) < 0)
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
