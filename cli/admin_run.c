/*
 * admin_run.c - floor 6: cmd_admin, the I/O half of the admin commands:
 * read a CHAP secret when asked, send the requests built by admin.c to
 * lunarisd, print the replies.
 *
 * CHAP secrets: jansson is given an allocator that wipes every block it
 * frees, because a secret passes through a jansson string on its way to the
 * socket; our own buffers are wiped with explicit_bzero.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "admin.h"
#include "cli.h"
#include "ctl.h"
#include "util.h"

#define SECRET_MAX 255

/* ------------------------------------------------------------------ */
/* A jansson allocator that wipes what it frees                        */

#define WIPE_HDR (sizeof(max_align_t))

static void *wipe_malloc(size_t n)
{
	unsigned char *p = malloc(n + WIPE_HDR);

	if (!p)
		return NULL;
	memcpy(p, &n, sizeof(n));
	return p + WIPE_HDR;
}

static void wipe_free(void *q)
{
	unsigned char *p;
	size_t n;

	if (!q)
		return;
	p = (unsigned char *)q - WIPE_HDR;
	memcpy(&n, p, sizeof(n));
	explicit_bzero(p, n + WIPE_HDR);
	free(p);
}

/* ------------------------------------------------------------------ */
/* CHAP secret from the terminal or a file                             */

static int tty_fd = -1;
static struct termios tty_saved;

/* Echo must come back even when the user gives up with Ctrl-C. */
static void tty_restore_and_die(int sig)
{
	tcsetattr(tty_fd, TCSAFLUSH, &tty_saved);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* One line from the terminal without its newline; -1 on EOF or error, -2
 * when longer than SECRET_MAX. */
static int tty_line(const char *prompt, char *buf, size_t cap)
{
	size_t n = 0;
	char ch;
	ssize_t r;
	bool too_long = false;

	if (write(tty_fd, prompt, strlen(prompt)) < 0)
		return -1;
	while ((r = read(tty_fd, &ch, 1)) == 1 && ch != '\n') {
		if (n + 1 < cap)
			buf[n++] = ch;
		else
			too_long = true;
	}
	buf[n] = '\0';
	if (write(tty_fd, "\n", 1) < 0)
		return -1;
	if (r != 1)
		return -1;
	return too_long ? -2 : (int)n;
}

/* whose: "" for the initiator's secret, "target's " for a target's, so that
 * the prompt says which one is being set. */
static int secret_prompt(const char *whose, char *buf, size_t cap)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGQUIT, SIGHUP };
	char again[SECRET_MAX + 2], prompt[64];
	struct termios t;
	int n, m, rc = ADMIN_EXIT_USAGE;

	tty_fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
	if (tty_fd < 0 || tcgetattr(tty_fd, &tty_saved) < 0) {
		cli_err("--CHAP-secret asks on the terminal, and there is none (use "
			"--CHAP-secret-file)");
		if (tty_fd >= 0)
			close(tty_fd);
		return ADMIN_EXIT_USAGE;
	}
	t = tty_saved;
	t.c_lflag &= (tcflag_t)~(ECHO | ECHOE | ECHOK | ECHONL);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		signal(sigs[i], tty_restore_and_die);
	tcsetattr(tty_fd, TCSAFLUSH, &t);
	snprintf(prompt, sizeof(prompt), "%sCHAP secret: ", whose);
	n = tty_line(prompt, buf, cap);
	snprintf(prompt, sizeof(prompt), "Re-enter %sCHAP secret: ", whose);
	m = n >= 0 ? tty_line(prompt, again, sizeof(again)) : n;
	tcsetattr(tty_fd, TCSAFLUSH, &tty_saved);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		signal(sigs[i], SIG_DFL);
	close(tty_fd);
	tty_fd = -1;
	if (n == -2 || m == -2)
		cli_err("the CHAP secret is longer than %d bytes", SECRET_MAX);
	else if (n < 0 || m < 0)
		cli_err("no CHAP secret entered");
	else if (n == 0)
		cli_err("the CHAP secret is empty");
	else if (n != m || memcmp(buf, again, (size_t)n))
		cli_err("the two CHAP secrets differ; nothing was changed");
	else
		rc = 0;
	explicit_bzero(again, sizeof(again));
	return rc;
}

/* The first line of a file, as the one-shot --chap-secret-file reads it. */
static int secret_file(const char *path, char *buf, size_t cap, size_t *len)
{
	FILE *f = fopen(path, "re");
	struct stat st;
	size_t n;

	if (!f) {
		cli_err("cannot open secret file %s: %s", path, strerror(errno));
		return ADMIN_EXIT_USAGE;
	}
	if (fstat(fileno(f), &st) == 0 && (st.st_mode & 0077))
		fprintf(stderr, "lunaris: warning: secret file %s can be read by other users "
				"(mode %03o); chmod 600 it\n",
			path, (unsigned)(st.st_mode & 0777));
	n = fread(buf, 1, cap - 1, f);
	fclose(f);
	buf[n] = '\0';
	n = strcspn(buf, "\r\n");
	if (n == cap - 1) {
		cli_err("the secret in %s is longer than %d bytes", path, SECRET_MAX);
		return ADMIN_EXIT_USAGE;
	}
	buf[n] = '\0';
	if (memchr(buf, '\0', n) || n == 0) {
		cli_err("secret file %s is empty or holds a NUL byte", path);
		return ADMIN_EXIT_USAGE;
	}
	*len = n;
	return 0;
}

/* Put the secret into the (only) modify request, under c->secret_key. */
static int admin_add_secret(struct admin_cmd *c)
{
	char buf[SECRET_MAX + 2];
	size_t n = 0;
	json_t *args = json_object_get(json_array_get(c->reqs, 0), "args"), *s = NULL;
	const char *key = c->secret_key ? c->secret_key : "chap-secret";
	int rc;

	if (c->secret_src == ADMIN_SECRET_PROMPT) {
		rc = secret_prompt(c->secret_key ? "target's " : "", buf, sizeof(buf));
		n = strlen(buf);
	} else {
		rc = secret_file(c->secret_file, buf, sizeof(buf), &n);
	}
	if (rc == 0) {
		s = json_stringn(buf, n);
		if (!s) {
			cli_err("the CHAP secret must be UTF-8 text");
			rc = ADMIN_EXIT_USAGE;
		} else {
			json_object_set_new(args, key, s);
		}
	}
	explicit_bzero(buf, sizeof(buf));
	return rc;
}

/* ------------------------------------------------------------------ */
/* Replies                                                             */

static bool admin_matches(const json_t *entry, const json_t *match)
{
	const char *key;
	const json_t *v;

	json_object_foreach((json_t *)match, key, v)
		if (!json_equal(v, json_object_get(entry, key)))
			return false;
	return true;
}

/* `list` operands: keep the matching entries; an operand that matches none
 * is not configured (exit 4), as iscsiadm reports it. */
static json_t *admin_filter(const json_t *result, const struct admin_cmd *c, const char *object,
			    int *rc)
{
	json_t *out, *e, *f;
	size_t i, j;

	if (!c->filter || !json_is_array(result))
		return json_incref((json_t *)result);
	out = json_array();
	json_array_foreach(result, i, e) {
		json_array_foreach(c->filter, j, f) {
			if (admin_matches(e, json_object_get(f, "match"))) {
				json_array_append(out, e);
				break;
			}
		}
	}
	json_array_foreach(c->filter, j, f) {
		bool found = false;

		json_array_foreach(result, i, e)
			found = found || admin_matches(e, json_object_get(f, "match"));
		if (!found) {
			cli_err("%s %s is not configured", object,
				json_string_value(json_object_get(f, "operand")));
			*rc = ADMIN_EXIT_CONFLICT;
		}
	}
	return out;
}

static void admin_print(const json_t *result, const struct admin_cmd *c, const char *object,
			int *rc)
{
	json_t *shown = admin_filter(result, c, object, rc);

	if (c->json) {
		json_dumpf(shown, stdout, JSON_INDENT(2) | JSON_ENCODE_ANY);
		putchar('\n');
	} else {
		c->print(shown, c);
	}
	json_decref(shown);
	fflush(stdout);
}

/* One reply: print it; returns 0 or the exit code it carries. */
static int admin_reply(const json_t *reply, const struct admin_cmd *c, const char *object)
{
	const json_t *code = json_object_get(reply, "code");
	const char *warning = json_string_value(json_object_get(reply, "warning"));
	int rc = 0;

	if (warning)
		fprintf(stderr, "lunaris: warning: %s\n", warning);
	if (json_is_true(json_object_get(reply, "ok"))) {
		if (c->print)
			admin_print(json_object_get(reply, "result"), c, object, &rc);
		if (c->status && !rc)
			rc = c->status(json_object_get(reply, "result"), c);
		return rc;
	}
	cli_err("%s", json_string_value(json_object_get(reply, "error"))
			      ?: "lunarisd reported an error without a message");
	if (!json_is_integer(code) || json_integer_value(code) < ADMIN_EXIT_USAGE ||
	    json_integer_value(code) > ADMIN_EXIT_NOTFOUND)
		return ADMIN_EXIT_INTERNAL;
	return (int)json_integer_value(code);
}

/* Send every request on one connection.  A conflict on one operand does not
 * stop the others (as iscsiadm); any other failure does.  The exit code is
 * the first failure's. */
static int admin_send(const struct admin_cmd *c)
{
	struct ctl_conn cc;
	char err[512];
	json_t *req, *reply;
	size_t i;
	int rc, first = 0;

	rc = ctl_connect(&cc, ctl_run_dir(c->run_dir), err, sizeof(err));
	if (rc) {
		cli_err("%s", err);
		return rc;
	}
	if (c->reply_timeout_ms)
		cc.timeout_ms = c->reply_timeout_ms;
	json_array_foreach(c->reqs, i, req) {
		rc = ctl_call(&cc, req, &reply, err, sizeof(err));
		if (rc) {
			cli_err("%s", err);
			first = first ? first : rc;
			break;
		}
		rc = admin_reply(reply, c, json_string_value(json_object_get(req, "object")));
		json_decref(reply);
		first = first ? first : rc;
		if (rc && rc != ADMIN_EXIT_CONFLICT && rc != ADMIN_EXIT_NOTFOUND)
			break;
	}
	ctl_close(&cc);
	return first;
}

int cmd_admin(int argc, char **argv)
{
	struct admin_cmd c;
	char err[512];
	int rc;

	json_set_alloc_funcs(wipe_malloc, wipe_free);
	rc = admin_build_request(argc, argv, &c, err, sizeof(err));
	if (rc) {
		cli_err("%s", err);
		return rc;
	}
	if (c.help) {
		fputs(c.usage, stdout);
		admin_cmd_free(&c);
		return ADMIN_EXIT_OK;
	}
	if (c.secret_src != ADMIN_SECRET_NONE)
		rc = admin_add_secret(&c);
	if (rc == 0)
		rc = admin_send(&c);
	admin_cmd_free(&c);
	return rc;
}
