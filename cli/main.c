/*
 * main.c - lunaris(1): option parsing and subcommand dispatch.
 *
 * Options may stand before or after the subcommand: GNU getopt_long
 * permutes argv, so `lunaris --trace read URL` and `lunaris read URL
 * --trace` parse the same.  Every option is known to every subcommand;
 * each subcommand checks that it got what it needs.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "cli.h"

static const char usage_text[] =
	"usage: lunaris [options] <command> [operands]\n"
	"\n"
	"One-shot tools (talk to the target directly):\n"
	"  discover [--json] HOST[:PORT]             SendTargets discovery\n"
	"  luns [--json] iscsi://HOST[:PORT]/IQN     list LUNs with size and identity\n"
	"  read URL --offset N --length N [-o FILE]  read bytes (block aligned)\n"
	"  write URL --offset N [-i FILE]            write bytes (block aligned)\n"
	"  perf URL [--rw randread|randwrite|read|write] [--bs N] [--qd N] [--seconds N]\n"
	"\n"
	"Admin commands (talk to lunarisd; lunaris list --help, lunaris-admin(8)):\n"
	"  add|remove|list|modify|show OBJECT [options] [operands]\n"
	"  trace [-f] [--json]                       the daemon's history of steps and causes\n"
	"  cleanup [-n] [--older-than DURATION] [NAME...]\n"
	"                                            forget logical units that are gone\n"
	"  doctor [--json]                           what needs attention, and the fix\n"
	"\n"
	"URL: iscsi://[user@]host[:port]/target-iqn/lun\n"
	"\n"
	"Options:\n"
	"  --initiator-name IQN      our iSCSI name (default: a stable generated iqn)\n"
	"  --header-digest none|crc32c   --data-digest none|crc32c\n"
	"  --chap-user NAME          CHAP name (default: from the URL, else the initiator name)\n"
	"  --chap-secret-file F      CHAP secret (or LUNARIS_CHAP_SECRET)\n"
	"  --target-user NAME        the target's CHAP name for mutual CHAP\n"
	"  --target-secret-file F    mutual CHAP secret (or LUNARIS_TARGET_SECRET)\n"
	"  --chap-algorithms LIST    md5,sha1,sha256,sha3-256 in preference order (default md5)\n"
	"  --login-timeout SECONDS   give up connect + login after this long (default 15)\n"
	"\n"
	"Recovery after a connection failure (seconds):\n"
	"  --replacement-timeout S   how long I/O waits for the session to come back (120;\n"
	"                            0 = fail at once)\n"
	"  --noop-interval S         NOP-Out keepalive after S idle seconds (5; 0 = off)\n"
	"  --noop-timeout S          no NOP-In within S fails the connection (5)\n"
	"  --login-retry-interval S  re-login every S seconds (5) ...\n"
	"  --conn-login-max S        ... for S seconds (180), then ...\n"
	"  --polling-interval S      ... every S seconds (60)\n"
	"  --command-timeout S       then ABORT TASK, LU RESET, reconnect (60; 0 = off)\n"
	"\n"
	"  --trace                   print every state-machine transition to stderr\n"
	"  --stats                   print session counters to stderr at the end\n"
	"  --json                    machine-readable output\n"
	"  -v, --verbose             more output\n"
	"  -h, --help                this text\n"
	"\n"
	"Exit codes: 0 ok, 1 usage, 2 connection or login failure, 3 SCSI error.\n";

enum {
	OPT_INITIATOR = 256,
	OPT_HDIGEST,
	OPT_DDIGEST,
	OPT_TRACE,
	OPT_JSON,
	OPT_STATS,
	OPT_CHAP_USER,
	OPT_CHAP_SECRET_FILE,
	OPT_TARGET_USER,
	OPT_TARGET_SECRET_FILE,
	OPT_CHAP_ALGS,
	OPT_OFFSET,
	OPT_LENGTH,
	OPT_RW,
	OPT_BS,
	OPT_QD,
	OPT_SECONDS,
	OPT_LOGIN_TIMEOUT,
	OPT_COMMAND_TIMEOUT,
	OPT_REPLACEMENT_TIMEOUT,
	OPT_NOOP_INTERVAL,
	OPT_NOOP_TIMEOUT,
	OPT_LOGIN_RETRY_INTERVAL,
	OPT_CONN_LOGIN_MAX,
	OPT_POLLING_INTERVAL,
};

static const struct option long_opts[] = {
	{ "initiator-name", required_argument, NULL, OPT_INITIATOR },
	{ "header-digest", required_argument, NULL, OPT_HDIGEST },
	{ "data-digest", required_argument, NULL, OPT_DDIGEST },
	{ "trace", no_argument, NULL, OPT_TRACE },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "stats", no_argument, NULL, OPT_STATS },
	{ "chap-user", required_argument, NULL, OPT_CHAP_USER },
	{ "chap-secret-file", required_argument, NULL, OPT_CHAP_SECRET_FILE },
	{ "target-user", required_argument, NULL, OPT_TARGET_USER },
	{ "target-secret-file", required_argument, NULL, OPT_TARGET_SECRET_FILE },
	{ "chap-algorithms", required_argument, NULL, OPT_CHAP_ALGS },
	{ "offset", required_argument, NULL, OPT_OFFSET },
	{ "length", required_argument, NULL, OPT_LENGTH },
	{ "output", required_argument, NULL, 'o' },
	{ "input", required_argument, NULL, 'i' },
	{ "rw", required_argument, NULL, OPT_RW },
	{ "bs", required_argument, NULL, OPT_BS },
	{ "qd", required_argument, NULL, OPT_QD },
	{ "seconds", required_argument, NULL, OPT_SECONDS },
	{ "login-timeout", required_argument, NULL, OPT_LOGIN_TIMEOUT },
	{ "command-timeout", required_argument, NULL, OPT_COMMAND_TIMEOUT },
	{ "replacement-timeout", required_argument, NULL, OPT_REPLACEMENT_TIMEOUT },
	{ "noop-interval", required_argument, NULL, OPT_NOOP_INTERVAL },
	{ "noop-timeout", required_argument, NULL, OPT_NOOP_TIMEOUT },
	{ "login-retry-interval", required_argument, NULL, OPT_LOGIN_RETRY_INTERVAL },
	{ "conn-login-max", required_argument, NULL, OPT_CONN_LOGIN_MAX },
	{ "polling-interval", required_argument, NULL, OPT_POLLING_INTERVAL },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static int parse_digest(const char *v, enum lunaris_digest *out)
{
	if (!strcmp(v, "none"))
		*out = LUNARIS_DIGEST_NONE;
	else if (!strcmp(v, "crc32c"))
		*out = LUNARIS_DIGEST_CRC32C_ONLY;
	else if (!strcmp(v, "crc32c,none"))
		*out = LUNARIS_DIGEST_CRC32C;
	else
		return -1;
	return 0;
}

static int parse_u32(const char *opt, const char *v, uint32_t *out, uint32_t min)
{
	uint64_t x;

	if (cli_parse_size(v, &x) < 0 || x < min || x > UINT32_MAX) {
		cli_err("%s: invalid value '%s'", opt, v);
		return -1;
	}
	*out = (uint32_t)x;
	return 0;
}

/* Whole seconds, 0..86400. */
static int parse_secs(const char *opt, const char *v, unsigned *out, unsigned min)
{
	char *end;
	unsigned long x;

	errno = 0;
	x = strtoul(v, &end, 10);
	if (errno || !*v || *end || x < min || x > 86400) {
		cli_err("%s: expected whole seconds (%u..86400), got '%s'", opt, min, v);
		return -1;
	}
	*out = (unsigned)x;
	return 0;
}

int main(int argc, char **argv)
{
	struct cli_opts o = {
		.rw = "randread",
		.bs = 4096,
		.qd = 32,
		.seconds = 10,
		.login_timeout = 15,
		.command_timeout = 60,
	};
	char iname[224];
	int c;

	/* The admin grammar has its own option tables (-h means --headerdigest
	 * there), so it must see argv before this getopt loop does. */
	if (argc > 1 && admin_is_subcommand(argv[1]))
		return cmd_admin(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "trace"))
		return cmd_trace(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "doctor"))
		return cmd_doctor(argc - 1, argv + 1);
	/* `lunaris -R DIR list ...`: the run directory before the subcommand
	 * means the same as after it. */
	if (argc > 3 && (!strcmp(argv[1], "-R") || !strcmp(argv[1], "--run-dir")) &&
	    admin_is_subcommand(argv[3])) {
		setenv("LUNARIS_RUN_DIR", argv[2], 1);
		return cmd_admin(argc - 3, argv + 3);
	}
	lunaris_recovery_defaults(&o.rec);
	lunaris_default_initiator_name(iname, sizeof(iname));
	o.initiator_name = iname;
	while ((c = getopt_long(argc, argv, "o:i:vh", long_opts, NULL)) != -1) {
		switch (c) {
		case OPT_INITIATOR: o.initiator_name = optarg; break;
		case OPT_HDIGEST:
		case OPT_DDIGEST:
			if (parse_digest(optarg, c == OPT_HDIGEST ? &o.header_digest
								  : &o.data_digest) < 0) {
				cli_err("--%s-digest: expected none or crc32c, got '%s'",
					c == OPT_HDIGEST ? "header" : "data", optarg);
				return EXIT_USAGE;
			}
			break;
		case OPT_TRACE: o.trace = true; break;
		case OPT_JSON: o.json = true; break;
		case OPT_STATS: o.stats = true; break;
		case OPT_CHAP_USER: o.chap_user = optarg; break;
		case OPT_CHAP_SECRET_FILE: o.chap_secret_file = optarg; break;
		case OPT_TARGET_USER: o.target_user = optarg; break;
		case OPT_TARGET_SECRET_FILE: o.target_secret_file = optarg; break;
		case OPT_CHAP_ALGS: o.chap_algorithms = optarg; break;
		case OPT_OFFSET:
		case OPT_LENGTH: {
			uint64_t v;

			if (cli_parse_size(optarg, &v) < 0) {
				cli_err("--%s: invalid size '%s'",
					c == OPT_OFFSET ? "offset" : "length", optarg);
				return EXIT_USAGE;
			}
			if (c == OPT_OFFSET) {
				o.offset = v;
				o.have_offset = true;
			} else {
				o.length = v;
				o.have_length = true;
			}
			break;
		}
		case 'o': o.output = optarg; break;
		case 'i': o.input = optarg; break;
		case OPT_RW: o.rw = optarg; break;
		case OPT_BS:
			if (parse_u32("--bs", optarg, &o.bs, 512) < 0)
				return EXIT_USAGE;
			break;
		case OPT_QD:
			if (parse_u32("--qd", optarg, &o.qd, 1) < 0)
				return EXIT_USAGE;
			break;
		case OPT_SECONDS:
			if (parse_u32("--seconds", optarg, &o.seconds, 1) < 0)
				return EXIT_USAGE;
			break;
		case OPT_LOGIN_TIMEOUT:
			if (parse_u32("--login-timeout", optarg, &o.login_timeout, 1) < 0)
				return EXIT_USAGE;
			break;
		case OPT_COMMAND_TIMEOUT:
			if (parse_u32("--command-timeout", optarg, &o.command_timeout, 0) < 0)
				return EXIT_USAGE;
			break;
		case OPT_REPLACEMENT_TIMEOUT:
			if (parse_secs("--replacement-timeout", optarg, &o.rec.replacement_timeout, 0))
				return EXIT_USAGE;
			break;
		case OPT_NOOP_INTERVAL:
			if (parse_secs("--noop-interval", optarg, &o.rec.noop_interval, 0))
				return EXIT_USAGE;
			break;
		case OPT_NOOP_TIMEOUT:
			if (parse_secs("--noop-timeout", optarg, &o.rec.noop_timeout, 1))
				return EXIT_USAGE;
			break;
		case OPT_LOGIN_RETRY_INTERVAL:
			if (parse_secs("--login-retry-interval", optarg, &o.rec.login_retry_interval,
				       1))
				return EXIT_USAGE;
			break;
		case OPT_CONN_LOGIN_MAX:
			if (parse_secs("--conn-login-max", optarg, &o.rec.conn_login_max, 0))
				return EXIT_USAGE;
			break;
		case OPT_POLLING_INTERVAL:
			if (parse_secs("--polling-interval", optarg, &o.rec.polling_interval, 1))
				return EXIT_USAGE;
			break;
		case 'v': o.verbose = true; break;
		case 'h': fputs(usage_text, stdout); return EXIT_OK;
		default: fputs(usage_text, stderr); return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		fputs(usage_text, stderr);
		return EXIT_USAGE;
	}
	const char *cmd = argv[optind];
	int nargs = argc - optind - 1;
	char **args = argv + optind + 1;
	static const struct {
		const char *name;
		int (*fn)(const struct cli_opts *, int, char **);
	} cmds[] = {
		{ "discover", cmd_discover }, { "luns", cmd_luns }, { "read", cmd_read },
		{ "write", cmd_write },	      { "perf", cmd_perf },
	};
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (!strcmp(cmd, cmds[i].name)) {
			char cause[64];

			snprintf(cause, sizeof(cause), "lunaris %s", cmd);
			o.cause = cause;
			return cmds[i].fn(&o, nargs, args);
		}
	}
	cli_err("unknown command '%s' (try lunaris --help)", cmd);
	return EXIT_USAGE;
}
