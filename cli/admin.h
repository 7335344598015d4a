/*
 * admin.h - floor 6: the admin commands of lunaris(8), which talk to lunarisd.
 *
 * The work is split so that everything from argv to the request JSON is a
 * pure function (admin_build_request: no I/O, no terminal, no socket), which
 * the fuzzer drives; cmd_admin (admin_run.c) then reads a CHAP secret if one
 * was asked for, sends the requests (ctl.c) and prints the replies.
 */
#ifndef LUNARIS_ADMIN_H
#define LUNARIS_ADMIN_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/* Exit codes of the admin commands (lunaris-admin(8)); equal to the daemon's
 * reply codes where the daemon reports the failure. */
enum {
	ADMIN_EXIT_OK = 0,
	ADMIN_EXIT_USAGE = 1,
	ADMIN_EXIT_CONN = 2, /* daemon not running, connection lost, no reply */
	ADMIN_EXIT_PERM = 3,
	ADMIN_EXIT_CONFLICT = 4, /* already / not configured, in use */
	ADMIN_EXIT_INTERNAL = 5,
	ADMIN_EXIT_NOTFOUND = 6, /* config-one: not found, login failed, timeout */
};

enum admin_secret_src {
	ADMIN_SECRET_NONE,
	ADMIN_SECRET_PROMPT, /* -C / --CHAP-secret: ask twice on /dev/tty */
	ADMIN_SECRET_FILE, /* --CHAP-secret-file F: first line of F */
};

struct admin_cmd;

/* Prints a successful `list` result in the iscsiadm format. */
typedef void (*admin_print_fn)(const json_t *result, const struct admin_cmd *c);
/* The exit code a successful reply's result means (0 when all is well). */
typedef int (*admin_status_fn)(const json_t *result, const struct admin_cmd *c);

struct admin_cmd {
	json_t *reqs; /* array of requests, sent in order on one connection */
	bool help; /* --help: print `usage` to stdout, send nothing */
	const char *usage; /* usage lines of the object (or of the grammar) */
	bool json; /* --json: print list results as JSON */
	bool verbose; /* -v */
	const char *run_dir; /* -R / --run-dir, NULL when not given */
	enum admin_secret_src secret_src;
	const char *secret_file;
	/* The args member the secret goes into: NULL is "chap-secret" (the
	 * initiator's); target-param's is "target-chap-secret". */
	const char *secret_key;
	/* `list` with operands: array of {"match": {...}, "operand": "text"}; the
	 * result shows only entries that match one, and an operand that matches
	 * none is reported as not configured. */
	json_t *filter;
	admin_print_fn print; /* NULL for add/remove/modify */
	/* NULL, or for a reply that is "ok" and can still be a failure for the
	 * caller: cleanup keeping a NAME it was given (exit 4). */
	admin_status_fn status;
	int reply_timeout_ms; /* 0: the default (CTL_TIMEOUT_MS) */
};

/*
 * Parse `<subcommand> <object> [options] [operands]` (argv[0] is the
 * subcommand) and build the requests.  Every operand is validated before
 * anything is built, so a typo in the third address sends nothing.  Returns
 * 0, or ADMIN_EXIT_USAGE with a sentence in err that names the bad operand
 * or option.  On success the caller frees with admin_cmd_free.  Uses getopt
 * (global state, reset here) and permutes argv.
 */
int admin_build_request(int argc, char **argv, struct admin_cmd *c, char *err, size_t errlen);
void admin_cmd_free(struct admin_cmd *c);

/* True when `word` is an admin subcommand (add, remove, list, modify, show,
 * config-one, config-all, cleanup). */
bool admin_is_subcommand(const char *word);

/* Grammar usage text (all objects). */
extern const char admin_usage_text[];

/* ------------------------------------------------------------------ */
/* Helpers shared by the object parsers (admin.c).                     */

/* One request {"op": op, "object": object, "args": args} appended to c->reqs
 * (steals args). */
void admin_add_req(struct admin_cmd *c, const char *op, const char *object, json_t *args);

/* ADDR[:PORT] into {"address": s, "port": n}; NULL with err naming it. */
json_t *admin_portal(const char *operand, unsigned defport, const char *what, char *err,
		     size_t errlen);

/* Decimal whole number in [min, max]; -1 with err naming `what`. */
int admin_number(const char *s, long min, long max, const char *what, long *out, char *err,
		 size_t errlen);

/* Print "address:port", bracketing IPv6 addresses. */
void admin_print_portal(const json_t *entry);

/* The object parsers: argv[0] is the object name, getopt already reset.
 * `op` is the subcommand.  Return 0 or ADMIN_EXIT_USAGE with err. */
int admin_discovery_address(const char *op, int argc, char **argv, struct admin_cmd *c,
			    char *err, size_t errlen);
int admin_isns_server(const char *op, int argc, char **argv, struct admin_cmd *c, char *err,
		      size_t errlen);
int admin_static_config(const char *op, int argc, char **argv, struct admin_cmd *c, char *err,
			size_t errlen);
int admin_discovery(const char *op, int argc, char **argv, struct admin_cmd *c, char *err,
		    size_t errlen);
int admin_initiator_node(const char *op, int argc, char **argv, struct admin_cmd *c, char *err,
			 size_t errlen);
int admin_target_param(const char *op, int argc, char **argv, struct admin_cmd *c, char *err,
		       size_t errlen);

int admin_target(const char *op, int argc, char **argv, struct admin_cmd *c, char *err,
		 size_t errlen);
int admin_negative_cache(const char *op, int argc, char **argv, struct admin_cmd *c, char *err,
			 size_t errlen);
int admin_portal_stats(const char *op, int argc, char **argv, struct admin_cmd *c, char *err,
		       size_t errlen);
/* config-one / config-all (no object word: argv[0] is the subcommand). */
int admin_config(const char *op, int argc, char **argv, struct admin_cmd *c, char *err,
		 size_t errlen);
/* list / show / modify lu, and cleanup (no object word) (lu.c). */
int admin_lu(const char *op, int argc, char **argv, struct admin_cmd *c, char *err,
	     size_t errlen);
int admin_cleanup(const char *op, int argc, char **argv, struct admin_cmd *c, char *err,
		  size_t errlen);

/* Options every object knows: -R/--run-dir, --json (list only), --help.
 * Returns 1 when `opt` was one of them (handled), 0 when not, or -1 with
 * err (bad use, e.g. --json on add). */
int admin_common_opt(int opt, const char *op, struct admin_cmd *c, char *err, size_t errlen);

/* Turn getopt's '?' / ':' into a message naming the option. */
int admin_bad_opt(int opt, const char *op, char **argv, const char *object, char *err,
		  size_t errlen);

#define ADMIN_OPT_RUN_DIR 'R'
#define ADMIN_OPT_JSON 0x1001
#define ADMIN_OPT_HELP 0x1002
#define ADMIN_COMMON_LONG_OPTS                                                \
	{ "run-dir", required_argument, NULL, ADMIN_OPT_RUN_DIR },            \
		{ "json", no_argument, NULL, ADMIN_OPT_JSON }, { "help", no_argument, NULL, ADMIN_OPT_HELP }

#endif
