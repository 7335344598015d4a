/*
 * trace.c - `lunaris trace [-f] [--json] [-R DIR]`: the daemon's history of
 * state-machine steps and the causes behind them (discovery runs, logins),
 * oldest first; -f keeps printing new events as they happen.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "ctl.h"

/* Print the events newer than *last; returns 0 or an exit code. */
static int trace_fetch(struct ctl_conn *cc, bool json, json_int_t *last)
{
	json_t *req = json_pack("{s:s,s:s}", "op", "list", "object", "trace"), *rep = NULL;
	char err[512];
	const json_t *e;
	size_t i;

	if (ctl_call(cc, req, &rep, err, sizeof(err)) < 0) {
		json_decref(req);
		cli_err("%s", err);
		return EXIT_CONN;
	}
	json_decref(req);
	if (!json_is_true(json_object_get(rep, "ok"))) {
		cli_err("%s", json_string_value(json_object_get(rep, "error")) ?: "daemon error");
		json_decref(rep);
		return EXIT_CONN;
	}
	json_array_foreach(json_object_get(rep, "result"), i, e) {
		json_int_t seq = json_integer_value(json_object_get(e, "seq"));
		time_t when = (time_t)json_integer_value(json_object_get(e, "time"));
		char ts[32];

		if (seq <= *last)
			continue;
		*last = seq;
		if (json) {
			json_dumpf(e, stdout, JSON_COMPACT);
			putchar('\n');
			continue;
		}
		strftime(ts, sizeof(ts), "%H:%M:%S", localtime(&when));
		printf("%s %s\n", ts, json_string_value(json_object_get(e, "event")) ?: "");
	}
	fflush(stdout);
	json_decref(rep);
	return EXIT_OK;
}

int cmd_trace(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "follow", no_argument, NULL, 'f' },
		{ "json", no_argument, NULL, 'j' },
		{ "run-dir", required_argument, NULL, 'R' },
		{ NULL, 0, NULL, 0 },
	};
	const char *run_dir = NULL;
	bool follow = false, json = false;
	struct ctl_conn cc;
	json_int_t last = 0;
	char err[512];
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "fR:", opts, NULL)) != -1) {
		switch (c) {
		case 'f': follow = true; break;
		case 'j': json = true; break;
		case 'R': run_dir = optarg; break;
		default:
			cli_err("usage: lunaris trace [-f] [--json] [-R DIR]");
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		cli_err("usage: lunaris trace [-f] [--json] [-R DIR]");
		return EXIT_USAGE;
	}
	if (ctl_connect(&cc, ctl_run_dir(run_dir), err, sizeof(err)) < 0) {
		cli_err("%s", err);
		return EXIT_CONN;
	}
	do {
		rc = trace_fetch(&cc, json, &last);
		if (rc || !follow)
			break;
		sleep(1);
	} while (1);
	ctl_close(&cc);
	return rc;
}
