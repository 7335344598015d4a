/*
 * common.c - session setup shared by the one-shot tools: URL, CHAP secrets
 * (files and environment, never argv unless the user insists), digests,
 * tracing, and turning failures into exit codes.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "scsi.h"
#include "url.h"
#include "util.h"

void cli_err(const char *fmt, ...)
{
	va_list ap;

	fputs("lunaris: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int cli_parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || !isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno)
		return -1;
	switch (*end) {
	case '\0': break;
	case 'k': case 'K': v <<= 10; end++; break;
	case 'm': case 'M': v <<= 20; end++; break;
	case 'g': case 'G': v <<= 30; end++; break;
	default: return -1;
	}
	if (*end)
		return -1;
	*out = v;
	return 0;
}

static void trace_to_stderr(const struct lunaris_trace_event *ev, void *arg)
{
	char line[768];

	lunaris_trace_format(ev, line, sizeof(line));
	fprintf(stderr, "trace: %s\n", line);
}

/* Unit attentions and reconnects are worth a line with -v; a lost session
 * is always reported (by the failing command). */
static void print_event(lunaris_session *s, const struct lunaris_event *ev, void *arg)
{
	const struct cli_opts *o = arg;

	if (o->verbose)
		fprintf(stderr, "lunaris: event: %s%s\n", ev->text,
			ev->type == LUNARIS_EV_UNIT_ATTENTION ? " (command repeated)" : "");
}

/* Read a secret: first line of a file (must not be readable by others). */
static int read_secret_file(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "r");
	struct stat st;
	size_t n;

	if (!f) {
		cli_err("cannot open secret file %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fileno(f), &st) == 0 && (st.st_mode & 0077))
		fprintf(stderr, "lunaris: warning: secret file %s can be read by other users "
				"(mode %03o); chmod 600 it\n",
			path, st.st_mode & 0777);
	n = fread(buf, 1, cap - 1, f);
	fclose(f);
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	if (!buf[0]) {
		cli_err("secret file %s is empty", path);
		return -1;
	}
	return 0;
}

static int setup_chap(const struct cli_opts *o, lunaris_session *s, const struct lun_url *u,
		      const char *target)
{
	char secret[256] = "", tsecret[256] = "";
	const char *user = o->chap_user ? o->chap_user : (u && u->user[0] ? u->user : NULL);
	const char *env;
	int rc = -1;

	if (o->chap_secret_file) {
		if (read_secret_file(o->chap_secret_file, secret, sizeof(secret)) < 0)
			goto out;
	} else if ((env = getenv("LUNARIS_CHAP_SECRET")) && *env) {
		lun_strlcpy(secret, env, sizeof(secret));
	} else if (u && u->has_secret) {
		fprintf(stderr, "lunaris: warning: the CHAP secret in the URL is visible to other "
				"users in the process list; use --chap-secret-file or "
				"LUNARIS_CHAP_SECRET\n");
		lun_strlcpy(secret, u->secret, sizeof(secret));
	}
	if (o->target_secret_file) {
		if (read_secret_file(o->target_secret_file, tsecret, sizeof(tsecret)) < 0)
			goto out;
	} else if ((env = getenv("LUNARIS_TARGET_SECRET")) && *env) {
		lun_strlcpy(tsecret, env, sizeof(tsecret));
	}
	if (secret[0] && !user)
		user = o->initiator_name; /* CHAP name defaults to the node name */
	if (secret[0] && lunaris_set_chap(s, user ? user : "", secret, strlen(secret)) < 0) {
		cli_err("%s", lunaris_get_error(s));
		goto out;
	}
	if (tsecret[0]) {
		const char *tu = o->target_user ? o->target_user : getenv("LUNARIS_TARGET_USER");

		if (!secret[0]) {
			cli_err("mutual CHAP needs our own secret too (--chap-secret-file)");
			goto out;
		}
		if (lunaris_set_target_chap(s, tu && *tu ? tu : target, tsecret,
					    strlen(tsecret)) < 0) {
			cli_err("%s", lunaris_get_error(s));
			goto out;
		}
	}
	if (o->chap_algorithms && lunaris_set_chap_algorithms(s, o->chap_algorithms) < 0) {
		cli_err("--chap-algorithms: %s", lunaris_get_error(s));
		goto out;
	}
	rc = 0;
out:
	explicit_bzero(secret, sizeof(secret));
	explicit_bzero(tsecret, sizeof(tsecret));
	return rc;
}

static lunaris_session *session_for(const struct cli_opts *o, const char *host, uint16_t port,
				    const char *target, const struct lun_url *u, int *rc)
{
	lunaris_session *s = lunaris_session_new(o->initiator_name);
	char cause[160];

	*rc = EXIT_USAGE;
	if (!s) {
		cli_err("out of memory");
		return NULL;
	}
	if (o->trace)
		lunaris_set_trace_cb(s, trace_to_stderr, NULL);
	snprintf(cause, sizeof(cause), "%s by pid %ld", o->cause ? o->cause : "lunaris",
		 (long)getpid());
	lunaris_set_cause(s, cause);
	lunaris_set_timeouts(s, o->login_timeout, o->command_timeout);
	lunaris_set_event_cb(s, print_event, (void *)o);
	if (lunaris_set_recovery(s, &o->rec) < 0) {
		cli_err("%s", lunaris_get_error(s));
		lunaris_session_free(s);
		return NULL;
	}
	if (lunaris_set_portal(s, host, port) < 0 || lunaris_set_target(s, target) < 0 ||
	    lunaris_set_digests(s, o->header_digest, o->data_digest) < 0) {
		cli_err("%s", lunaris_get_error(s));
		lunaris_session_free(s);
		return NULL;
	}
	if (setup_chap(o, s, u, target ? target : "") < 0) {
		lunaris_session_free(s);
		return NULL;
	}
	if (lunaris_connect_sync(s) < 0) {
		cli_err("%s", lunaris_get_error(s));
		lunaris_session_free(s);
		*rc = EXIT_CONN;
		return NULL;
	}
	*rc = EXIT_OK;
	return s;
}

lunaris_session *cli_login_url(const struct cli_opts *o, const char *url, bool need_target,
			       bool need_lun, uint16_t *lun, int *rc)
{
	struct lun_url u;
	char err[256];
	lunaris_session *s;

	*rc = EXIT_USAGE;
	if (!url) {
		cli_err("missing URL (iscsi://host[:port]/target-iqn/lun)");
		return NULL;
	}
	if (lun_url_parse(url, &u, err, sizeof(err)) < 0) {
		cli_err("%s", err);
		return NULL;
	}
	if (need_target && !u.target[0]) {
		cli_err("the URL must name a target: iscsi://%s:%u/<target-iqn>%s", u.host, u.port,
			need_lun ? "/<lun>" : "");
		lun_url_wipe(&u);
		return NULL;
	}
	if (need_lun && u.lun < 0) {
		cli_err("the URL must name a LUN: iscsi://%s:%u/%s/<lun>", u.host, u.port,
			u.target);
		lun_url_wipe(&u);
		return NULL;
	}
	if (lun)
		*lun = (uint16_t)(u.lun < 0 ? 0 : u.lun);
	s = session_for(o, u.host, u.port, u.target[0] ? u.target : NULL, &u, rc);
	lun_url_wipe(&u);
	return s;
}

lunaris_session *cli_login_discovery(const struct cli_opts *o, const char *portal, int *rc)
{
	char host[256], err[256];
	uint16_t port;

	*rc = EXIT_USAGE;
	if (!portal) {
		cli_err("missing portal (HOST[:PORT])");
		return NULL;
	}
	if (!strncmp(portal, "iscsi://", 8)) {
		struct lun_url u;

		if (lun_url_parse(portal, &u, err, sizeof(err)) < 0) {
			cli_err("%s", err);
			return NULL;
		}
		lunaris_session *s = session_for(o, u.host, u.port, NULL, &u, rc);
		lun_url_wipe(&u);
		return s;
	}
	if (lun_portal_parse(portal, host, sizeof(host), &port, 3260, err, sizeof(err)) < 0) {
		cli_err("%s", err);
		return NULL;
	}
	return session_for(o, host, port, NULL, NULL, rc);
}

/* Percentile from the log2 latency histogram: the upper edge of the bucket
 * that holds it, in microseconds. */
static uint64_t lat_percentile(const struct lunaris_stats *st, double pct)
{
	uint64_t total = 0, seen = 0;

	for (int i = 0; i < LUNARIS_LAT_BUCKETS; i++)
		total += st->latency_us[i];
	if (!total)
		return 0;
	for (int i = 0; i < LUNARIS_LAT_BUCKETS; i++) {
		seen += st->latency_us[i];
		if ((double)seen >= pct / 100.0 * (double)total)
			return (uint64_t)2 << i;
	}
	return (uint64_t)1 << LUNARIS_LAT_BUCKETS;
}

void cli_print_stats(lunaris_session *s)
{
	struct lunaris_stats st;

	lunaris_get_stats(s, &st);
#define U(x) (unsigned long long)(x)
	fprintf(stderr,
		"stats: logins %llu login-failures %llu (transport %llu auth %llu initiator %llu "
		"target %llu negotiation %llu) reconnects %llu connection-failures %llu\n"
		"stats: nop-out %llu nop-timeouts %llu nop-in-answered %llu commands %llu "
		"reissued %llu retries %llu aborts %llu lu-resets %llu command-timeouts %llu "
		"stale-pdus %llu\n"
		"stats: bytes-in %llu bytes-out %llu pdus-in %llu pdus-out %llu digest-errors %llu "
		"rejects %llu async %llu latency-us p50<=%llu p99<=%llu\n",
		U(st.logins), U(st.login_failures), U(st.login_fail_transport),
		U(st.login_fail_auth), U(st.login_fail_initiator), U(st.login_fail_target),
		U(st.login_fail_negotiation), U(st.reconnects), U(st.connection_failures),
		U(st.nop_out_sent), U(st.nop_timeouts), U(st.nop_in_answered), U(st.commands),
		U(st.reissued), U(st.retries), U(st.aborts), U(st.lu_resets),
		U(st.command_timeouts), U(st.stale_pdus), U(st.bytes_in), U(st.bytes_out),
		U(st.pdus_in), U(st.pdus_out), U(st.digest_errors), U(st.rejects),
		U(st.async_events), U(lat_percentile(&st, 50)), U(lat_percentile(&st, 99)));
#undef U
}

void cli_logout(const struct cli_opts *o, lunaris_session *s)
{
	if (!s)
		return;
	if (o->stats)
		cli_print_stats(s);
	lunaris_logout_sync(s);
	lunaris_session_free(s);
}

int cli_scsi(lunaris_session *s, uint16_t lun, const uint8_t *cdb, size_t cdb_len,
	     enum lunaris_dir dir, void *buf, uint32_t len, struct lunaris_scsi_result *r,
	     const char *what)
{
	char msg[300];

	if (lunaris_scsi_sync(s, lun, cdb, cdb_len, dir, buf, len, r) < 0) {
		if (r->error == LUNARIS_OK) {
			cli_err("%s: %s", what, lunaris_get_error(s));
			return EXIT_CONN;
		}
		lunaris_result_str(r, msg, sizeof(msg));
		cli_err("%s: %s: %s", what, msg, lunaris_get_error(s));
		return EXIT_CONN;
	}
	if (r->status != LUN_SCSI_GOOD || r->response) {
		lunaris_result_str(r, msg, sizeof(msg));
		cli_err("%s on LUN %u: %s", what, lun, msg);
		return EXIT_SCSI;
	}
	return EXIT_OK;
}

int cli_capacity(lunaris_session *s, uint16_t lun, uint32_t *block_size, uint64_t *blocks)
{
	uint8_t cdb[16], buf[32];
	struct lunaris_scsi_result r;
	struct lun_capacity cap;
	size_t n;
	int rc;

	n = lun_cdb_read_capacity16(cdb, sizeof(buf));
	rc = lunaris_scsi_sync(s, lun, cdb, n, LUNARIS_DIR_READ, buf, sizeof(buf), &r);
	if (rc == 0 && r.status == LUN_SCSI_GOOD &&
	    lun_parse_read_capacity16(buf, sizeof(buf) - r.residual, &cap, NULL, 0) == 0)
		goto done;
	/* Only a device that does not know READ CAPACITY(16) (invalid opcode
	 * or field) gets the 10-byte form; other errors are reported as they
	 * are, once. */
	struct lun_sense sense;
	if (rc < 0 || r.status != LUN_SCSI_CHECK_CONDITION ||
	    lun_parse_sense(r.sense, r.sense_len, &sense, NULL, 0) < 0 || sense.key != 0x05 ||
	    (sense.asc != 0x20 && sense.asc != 0x24))
		return cli_scsi(s, lun, cdb, n, LUNARIS_DIR_READ, buf, sizeof(buf), &r,
				"READ CAPACITY(16)");
	n = lun_cdb_read_capacity10(cdb);
	rc = cli_scsi(s, lun, cdb, n, LUNARIS_DIR_READ, buf, 8, &r, "READ CAPACITY(10)");
	if (rc)
		return rc;
	if (lun_parse_read_capacity10(buf, 8, &cap, NULL, 0) < 0) {
		cli_err("LUN %u returned unusable capacity data", lun);
		return EXIT_SCSI;
	}
done:
	if (!cap.block_size) {
		cli_err("LUN %u reports a block size of 0", lun);
		return EXIT_SCSI;
	}
	*block_size = cap.block_size;
	*blocks = cap.blocks;
	return EXIT_OK;
}
