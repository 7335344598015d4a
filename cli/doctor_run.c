/*
 * doctor_run.c - floor 6: `lunaris doctor [--json] [-R DIR]`, the I/O half:
 * fetch what the daemon reports over one control connection, hand it to
 * doctor_analyze (doctor.c) and print the findings.
 *
 * Only listings are asked for, so doctor works for anyone who may connect
 * (reading needs no privilege) and changes nothing; it takes as long as
 * eight small request/reply exchanges on a Unix socket.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "admin.h"
#include "cli.h"
#include "ctl.h"
#include "doctor.h"

static const char usage_doctor[] =
	"usage: lunaris doctor [--json] [-R DIR]\n"
	"  Read what lunarisd reports (its history, sessions, discovery, negative\n"
	"  cache, portal counters, device cache) and say what needs attention, each\n"
	"  finding with its evidence and the command that fixes it.\n"
	"  --json          {\"healthy\": bool, \"findings\": [...]}\n"
	"  -R, --run-dir   the daemon's run directory\n"
	"  Exit 0 healthy, 1 something needs attention, 2 lunarisd is not running.\n";

/* member of the replies object, request object, verbose */
static const struct {
	const char *member, *object;
	bool verbose;
} doctor_reqs[] = {
	{ "trace", "trace", false },
	{ "target", "target", true },
	{ "discovery-address", "discovery-address", true },
	{ "isns-server", "isns-server", true },
	{ "negative-cache", "negative-cache", false },
	{ "portal-stats", "portal-stats", false },
	{ "lu", "lu", true },
	{ "initiator-node", "initiator-node", false },
};

/* All the listings into one object; 0 or an admin exit code after saying
 * why. */
static int doctor_fetch(const char *run_dir, json_t *replies)
{
	struct ctl_conn cc;
	char err[512];
	int rc;

	rc = ctl_connect(&cc, ctl_run_dir(run_dir), err, sizeof(err));
	if (rc) {
		cli_err("%s", err);
		return rc;
	}
	for (size_t i = 0; i < sizeof(doctor_reqs) / sizeof(doctor_reqs[0]); i++) {
		json_t *req = json_pack("{s:s,s:s}", "op", "list", "object", doctor_reqs[i].object);
		json_t *reply = NULL;

		if (req && doctor_reqs[i].verbose)
			json_object_set_new(req, "args", json_pack("{s:b}", "verbose", 1));
		if (!req) {
			cli_err("out of memory");
			rc = ADMIN_EXIT_INTERNAL;
			break;
		}
		rc = ctl_call(&cc, req, &reply, err, sizeof(err));
		json_decref(req);
		if (rc) {
			cli_err("%s", err);
			break;
		}
		if (!json_is_true(json_object_get(reply, "ok"))) {
			/* an older daemon without this listing: analyse the rest */
			fprintf(stderr, "lunaris: warning: list %s: %s\n", doctor_reqs[i].object,
				json_string_value(json_object_get(reply, "error")) ?: "failed");
		} else {
			json_object_set(replies, doctor_reqs[i].member,
					json_object_get(reply, "result"));
		}
		json_decref(reply);
	}
	ctl_close(&cc);
	return rc;
}

int cmd_doctor(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "run-dir", required_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *run_dir = NULL;
	bool json = false;
	json_t *replies, *report;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "R:h", opts, NULL)) != -1) {
		switch (c) {
		case 'j': json = true; break;
		case 'R': run_dir = optarg; break;
		case 'h': fputs(usage_doctor, stdout); return EXIT_OK;
		default: fputs(usage_doctor, stderr); return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		cli_err("doctor takes no operands (got '%s')", argv[optind]);
		return EXIT_USAGE;
	}
	replies = json_object();
	if (!replies) {
		cli_err("out of memory");
		return ADMIN_EXIT_INTERNAL;
	}
	rc = doctor_fetch(run_dir, replies);
	if (rc) {
		json_decref(replies);
		return rc;
	}
	report = doctor_analyze(replies, (long long)time(NULL));
	json_decref(replies);
	if (!report) {
		cli_err("out of memory");
		return ADMIN_EXIT_INTERNAL;
	}
	if (json) {
		json_dumpf(report, stdout, JSON_INDENT(2));
		putchar('\n');
	} else {
		doctor_print(report, stdout);
	}
	fflush(stdout);
	rc = doctor_exit_code(report);
	json_decref(report);
	return rc;
}
