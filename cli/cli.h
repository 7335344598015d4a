/*
 * cli.h - floor 6: shared pieces of the lunaris command line tool.
 */
#ifndef LUNARIS_CLI_H
#define LUNARIS_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "lunaris/lunaris.h"

/* Exit codes (lunaris(1)). */
enum {
	EXIT_OK = 0,
	EXIT_USAGE = 1,
	EXIT_CONN = 2, /* connection or login failure */
	EXIT_SCSI = 3, /* SCSI error */
};

struct cli_opts {
	const char *initiator_name;
	enum lunaris_digest header_digest, data_digest;
	bool trace, verbose, json, stats;
	const char *chap_user, *chap_secret_file, *target_user, *target_secret_file;
	const char *chap_algorithms;
	const char *output, *input;
	bool have_offset, have_length;
	uint64_t offset, length;
	const char *rw;
	uint32_t bs, qd, seconds;
	uint32_t login_timeout, command_timeout;
	struct lunaris_recovery rec;
	const char *cause;
};

/* Subcommands: argv[0] is the first operand after the subcommand name. */
int cmd_discover(const struct cli_opts *o, int argc, char **argv);
int cmd_luns(const struct cli_opts *o, int argc, char **argv);
int cmd_read(const struct cli_opts *o, int argc, char **argv);
int cmd_write(const struct cli_opts *o, int argc, char **argv);
int cmd_perf(const struct cli_opts *o, int argc, char **argv);
/* lunaris trace: argv[0] is "trace" */
int cmd_trace(int argc, char **argv);
/* lunaris doctor: argv[0] is "doctor" (doctor_run.c) */
int cmd_doctor(int argc, char **argv);

/* The admin commands (lunaris-admin(8)): argv[0] is add, remove, list or
 * modify; they talk to lunarisd and parse their own options. */
int cmd_admin(int argc, char **argv);

/* Print "lunaris: <msg>" to stderr. */
void cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Create a session for `url` (iscsi://...), apply options (digests, CHAP
 * from files, environment or URL), log in.  `need_lun` requires the URL to
 * name a LUN (stored in *lun).  Returns NULL after printing the error; *rc
 * gets the exit code.
 */
lunaris_session *cli_login_url(const struct cli_opts *o, const char *url, bool need_target,
			       bool need_lun, uint16_t *lun, int *rc);

/* Log in to a discovery session at host:port. */
lunaris_session *cli_login_discovery(const struct cli_opts *o, const char *portal, int *rc);

/* Session counters on stderr (--stats). */
void cli_print_stats(lunaris_session *s);

/* Logout + free; prints --stats first when asked. */
void cli_logout(const struct cli_opts *o, lunaris_session *s);

/* Run a synchronous command; on failure print a sentence and return the
 * exit code (EXIT_SCSI or EXIT_CONN); 0 on GOOD status. */
int cli_scsi(lunaris_session *s, uint16_t lun, const uint8_t *cdb, size_t cdb_len,
	     enum lunaris_dir dir, void *buf, uint32_t len, struct lunaris_scsi_result *r,
	     const char *what);

/* Block size and block count of a LUN (READ CAPACITY 16, falling back to 10). */
int cli_capacity(lunaris_session *s, uint16_t lun, uint32_t *block_size, uint64_t *blocks);

/* Parse "4096", "4k", "1M", "1G" into bytes; -1 on error. */
int cli_parse_size(const char *s, uint64_t *out);

#endif
