/*
 * control.c - the control socket of lunarisd (docs/control-protocol.md).
 *
 * Frames are a 4-byte big-endian length and a JSON object.  Clients are
 * served from the daemon's single event loop: sockets are non-blocking,
 * each client has an input and an output buffer, and a request is handled
 * as soon as its frame is complete.  Handlers only touch the store (fast,
 * local); anything slow is started by them and answered later, so one
 * client can never stall the loop for the others.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include "daemon.h"
#include "lu.h"
#include "util.h"

#define CTL_MAX_CLIENTS 64
#define CTL_MAX_FRAME (1024 * 1024)

struct ctl_client {
	int fd;
	struct lund_peer peer;
	uint8_t *in;
	size_t in_len, in_cap;
	uint8_t *out;
	size_t out_len, out_off;
	unsigned long waiting; /* a deferred reply is owed (its id); input waits */
};

static struct ctl_client clients[CTL_MAX_CLIENTS]; /* one daemon per process */

int lund_control_open(struct lund *d)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, probe;

	if (snprintf(d->control_path, sizeof(d->control_path), "%s/control", d->run_dir) >=
	    (int)sizeof(d->control_path)) {
		lund_log(LOG_ERR, "run directory path too long for a socket: %s", d->run_dir);
		return -1;
	}
	memcpy(sa.sun_path, d->control_path, strlen(d->control_path) + 1);
	/* A socket file that answers belongs to a running daemon: do not
	 * steal it.  One that refuses is left over from a crash. */
	probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		close(probe);
		lund_log(LOG_ERR, "another lunarisd is running (it answers on %s)",
			 d->control_path);
		return -1;
	}
	if (probe >= 0)
		close(probe);
	unlink(d->control_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(d->control_path, 0660) < 0 || listen(fd, 16) < 0) {
		lund_log(LOG_ERR, "cannot listen on %s: %s", d->control_path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (d->control_gid != (gid_t)-1 && chown(d->control_path, 0, d->control_gid) < 0)
		lund_log(LOG_WARNING, "cannot give %s to group %u: %s", d->control_path,
			 (unsigned)d->control_gid, strerror(errno));
	d->listen_fd = fd;
	for (int i = 0; i < CTL_MAX_CLIENTS; i++)
		clients[i].fd = -1;
	return 0;
}

static void client_close(struct ctl_client *c)
{
	close(c->fd);
	free(c->in);
	free(c->out);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

void lund_control_close(struct lund *d)
{
	for (int i = 0; i < CTL_MAX_CLIENTS; i++)
		if (clients[i].fd >= 0)
			client_close(&clients[i]);
	if (d->listen_fd >= 0) {
		close(d->listen_fd);
		unlink(d->control_path);
	}
	d->listen_fd = -1;
}

static void client_accept(struct lund *d)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int fd = accept4(d->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		close(fd);
		return;
	}
	for (int i = 0; i < CTL_MAX_CLIENTS; i++) {
		struct ctl_client *c = &clients[i];

		if (c->fd >= 0)
			continue;
		c->fd = fd;
		c->peer.pid = cred.pid;
		c->peer.uid = cred.uid;
		c->peer.gid = cred.gid;
		/* Changing state is for root and the control group; the socket's
		 * mode keeps everyone else out, this is the second lock. */
		c->peer.may_change = cred.uid == 0 ||
				     (d->control_gid != (gid_t)-1 && cred.gid == d->control_gid);
		return;
	}
	lund_log(LOG_WARNING, "too many control clients; refusing pid %ld", (long)cred.pid);
	close(fd);
}

int lund_control_fill_pollfds(struct lund *d, struct pollfd *pfd, int max)
{
	int n = 0;

	if (max < 1)
		return 0;
	pfd[n++] = (struct pollfd){ .fd = d->listen_fd, .events = POLLIN };
	for (int i = 0; i < CTL_MAX_CLIENTS && n < max; i++) {
		if (clients[i].fd < 0)
			continue;
		/* A client waiting for a deferred reply is not read (one request
		 * at a time); a hang-up still shows as POLLHUP. */
		pfd[n++] = (struct pollfd){
			.fd = clients[i].fd,
			.events = (short)(clients[i].out_len ? POLLOUT
					  : clients[i].waiting ? 0 : POLLIN),
		};
	}
	return n;
}

static int client_queue_reply(struct ctl_client *c, const struct lund_reply *rep)
{
	json_t *j;
	char *txt;
	size_t len;

	if (rep->code == LUND_OK) {
		j = json_pack("{s:b,s:O?}", "ok", 1, "result", rep->result);
		if (j && rep->warning[0])
			json_object_set_new(j, "warning", json_string(rep->warning));
	} else {
		j = json_pack("{s:b,s:s,s:i}", "ok", 0, "error", rep->err, "code", rep->code);
	}
	txt = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!txt)
		return -1;
	len = strlen(txt);
	c->out = malloc(len + 4);
	if (!c->out) {
		free(txt);
		return -1;
	}
	lun_put_be32(c->out, (uint32_t)len);
	memcpy(c->out + 4, txt, len);
	free(txt);
	c->out_len = len + 4;
	c->out_off = 0;
	return 0;
}

/* Decode one complete frame and answer it. */
static int client_request(struct lund *d, struct ctl_client *c, const uint8_t *buf, size_t len)
{
	struct lund_reply rep = { .code = LUND_OK };
	json_error_t jerr;
	json_t *req = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &jerr);

	if (!req) {
		rep.code = LUND_EBADREQ;
		snprintf(rep.err, sizeof(rep.err), "malformed request: %s", jerr.text);
	} else {
		lund_handle_request(d, &c->peer, req, &rep);
		json_decref(req);
	}
	if (rep.deferred) {
		c->waiting = rep.deferred;
		return 0;
	}
	int rc = client_queue_reply(c, &rep);
	json_decref(rep.result);
	return rc;
}

static void client_read(struct lund *d, struct ctl_client *c)
{
	for (;;) {
		if (c->in_len == c->in_cap) {
			size_t cap = c->in_cap ? c->in_cap * 2 : 4096;
			uint8_t *nb;

			if (cap > CTL_MAX_FRAME + 4) {
				client_close(c);
				return;
			}
			nb = realloc(c->in, cap);
			if (!nb) {
				client_close(c);
				return;
			}
			c->in = nb;
			c->in_cap = cap;
		}
		ssize_t r = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len);
		if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
			client_close(c);
			return;
		}
		if (r < 0)
			break;
		c->in_len += (size_t)r;
	}
	if (c->in_len < 4)
		return;
	uint32_t flen = lun_get_be32(c->in);
	if (flen > CTL_MAX_FRAME) {
		lund_log(LOG_WARNING, "control client pid %ld sent a %u-byte frame; closing",
			 (long)c->peer.pid, flen);
		client_close(c);
		return;
	}
	if (c->in_len < 4 + (size_t)flen)
		return;
	if (client_request(d, c, c->in + 4, flen) < 0) {
		client_close(c);
		return;
	}
	/* keep any bytes of a next request */
	memmove(c->in, c->in + 4 + flen, c->in_len - 4 - flen);
	c->in_len -= 4 + flen;
}

unsigned long lund_control_defer_id(void)
{
	static unsigned long next;

	return ++next;
}

bool lund_control_finish(unsigned long id, const struct lund_reply *rep)
{
	for (int i = 0; i < CTL_MAX_CLIENTS; i++) {
		struct ctl_client *c = &clients[i];

		if (c->fd < 0 || c->waiting != id)
			continue;
		c->waiting = 0;
		if (client_queue_reply(c, rep) < 0)
			client_close(c);
		return true;
	}
	return false; /* the client went away meanwhile */
}

static void client_write(struct ctl_client *c)
{
	while (c->out_off < c->out_len) {
		ssize_t w = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);

		if (w < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			client_close(c);
			return;
		}
		c->out_off += (size_t)w;
	}
	free(c->out);
	c->out = NULL;
	c->out_len = c->out_off = 0;
}

void lund_control_service(struct lund *d, const struct pollfd *pfd, int n)
{
	for (int k = 0; k < n; k++) {
		if (!pfd[k].revents)
			continue;
		if (pfd[k].fd == d->listen_fd) {
			client_accept(d);
			continue;
		}
		for (int i = 0; i < CTL_MAX_CLIENTS; i++) {
			struct ctl_client *c = &clients[i];

			if (c->fd != pfd[k].fd)
				continue;
			if (pfd[k].revents & (POLLERR | POLLHUP | POLLNVAL) &&
			    !(pfd[k].revents & POLLIN)) {
				client_close(c);
			} else if (c->out_len) {
				client_write(c);
			} else {
				client_read(d, c);
				if (c->fd >= 0 && c->out_len)
					client_write(c);
			}
			break;
		}
	}
}

/*
 * Messages quote what the peer sent and are cut to fit their buffer, so a
 * cut can fall inside a UTF-8 sequence, and a quoted operand may not be
 * UTF-8 at all; JSON cannot carry either, and the reply would be lost.
 * Invalid or cut sequences become '?'.
 */
static void utf8_sanitize(char *s)
{
	unsigned char *p = (unsigned char *)s;

	while (*p) {
		size_t n = *p < 0x80 ? 1 : (*p & 0xe0) == 0xc0 ? 2 : (*p & 0xf0) == 0xe0 ? 3
					: (*p & 0xf8) == 0xf0 ? 4 : 0;
		size_t i;

		for (i = 1; n && i < n; i++)
			if ((p[i] & 0xc0) != 0x80)
				n = 0;
		if (n == 0) {
			*p++ = '?';
			continue;
		}
		/* overlong forms and surrogates: let jansson decide, by the byte */
		if (n > 1) {
			char tmp[5] = { 0 };

			memcpy(tmp, p, n);
			json_t *j = json_string(tmp);

			if (!j)
				memset(p, '?', n);
			json_decref(j);
		}
		p += n;
	}
}

static void handle_request(struct lund *d, const struct lund_peer *peer, const json_t *req,
			   struct lund_reply *rep);

void lund_handle_request(struct lund *d, const struct lund_peer *peer, const json_t *req,
			 struct lund_reply *rep)
{
	handle_request(d, peer, req, rep);
	utf8_sanitize(rep->err);
	utf8_sanitize(rep->warning);
}

static void handle_request(struct lund *d, const struct lund_peer *peer, const json_t *req,
			   struct lund_reply *rep)
{
	const char *op = NULL, *object = NULL;
	json_t *args = NULL;
	json_error_t jerr;

	rep->code = LUND_OK;
	rep->result = NULL;
	if (json_unpack_ex((json_t *)req, &jerr, JSON_STRICT, "{s:s,s?s,s?o}", "op", &op, "object",
			   &object, "args", &args) < 0) {
		rep->code = LUND_EBADREQ;
		snprintf(rep->err, sizeof(rep->err), "malformed request: %s", jerr.text);
		return;
	}
	if (args && !json_is_object(args)) {
		rep->code = LUND_EBADREQ;
		snprintf(rep->err, sizeof(rep->err), "malformed request: args must be an object");
		return;
	}
	if (!strcmp(op, "ping")) {
		rep->result = json_pack("{s:s,s:i}", "version", LUNARISD_VERSION, "pid",
					(int)getpid());
		return;
	}
	if (!object) {
		rep->code = LUND_EBADREQ;
		snprintf(rep->err, sizeof(rep->err), "'%s' needs an object", op);
		return;
	}
	if (!strcmp(object, "lu")) {
		lund_lu_handle(d, op, args, peer, rep);
		return;
	}
	if (lund_bus_owns(op, object)) {
		lund_bus_handle(d, op, object ? object : "target", args, peer, rep);
		return;
	}
	lund_config_handle(d, op, object, args, peer, rep);
	if (rep->code == LUND_OK)
		lund_bus_after_change(d, op, object, peer);
}
